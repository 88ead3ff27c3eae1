//! The zip guard: a container's central directory is checked (declared
//! sizes, compression ratios, what kind of workbook it holds) before
//! anything is decompressed.

use super::*;

pub(super) enum ZipKind {
    Xlsx,
    Ods,
}

/// Looks at the zip directory before anything is decompressed.
pub(super) fn inspect_zip(bytes: &[u8], limits: &Limits) -> Result<ZipKind, ReadError> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| ReadError::Corrupt(format!("zip container: {e}")))?;
    if archive.len() > 100_000 {
        return Err(ReadError::ZipBomb(format!(
            "{} entries in the zip",
            archive.len()
        )));
    }
    let mut total: u64 = 0;
    let mut has_workbook = false;
    let mut has_ods = false;
    for i in 0..archive.len() {
        let f = archive
            .by_index_raw(i)
            .map_err(|e| ReadError::Corrupt(format!("zip entry {i}: {e}")))?;
        let name = f.name().map(|n| n.to_string()).unwrap_or_default();
        total = total.saturating_add(f.size());
        let compressed = f.compressed_size().max(1);
        if f.size() > 50 << 20 && f.size() / compressed > 1000 {
            return Err(ReadError::ZipBomb(format!(
                "entry {name} expands {} bytes to {}",
                f.compressed_size(),
                f.size()
            )));
        }
        if name == "xl/workbook.xml" || name == "xl/workbook.bin" {
            has_workbook = true;
        }
        if name == "content.xml" {
            has_ods = true;
        }
    }
    if total > limits.max_unzipped_bytes {
        return Err(ReadError::ZipBomb(format!(
            "declared uncompressed size {total} bytes exceeds {}",
            limits.max_unzipped_bytes
        )));
    }
    if has_workbook {
        Ok(ZipKind::Xlsx)
    } else if has_ods {
        Ok(ZipKind::Ods)
    } else {
        Err(ReadError::NotSpreadsheet(
            "a zip file without a workbook inside".into(),
        ))
    }
}
