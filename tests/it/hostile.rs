//! Hostile files: each gives a clear file-level error, quickly, in bounded
//! memory, and the other files of the run go on.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::util::*;

/// A small valid workbook to damage.
fn good_xlsx(path: &Path) {
    let sheet = zhenxing::synth::write::SheetOut {
        name: "Sheet1".into(),
        rows: vec![
            vec![
                zhenxing::synth::write::Out::S("县(市、区)".into()),
                zhenxing::synth::write::Out::S("村(社区)".into()),
            ],
            vec![
                zhenxing::synth::write::Out::S("如皋市".into()),
                zhenxing::synth::write::Out::S("平祥村".into()),
            ],
        ],
        ..Default::default()
    };
    zhenxing::synth::write::write_book(path, zhenxing::synth::write::FileKind::Xlsx, &[sheet])
        .unwrap();
}

/// Rewrites one entry of a zip.
pub fn patch_zip(src: &Path, dst: &Path, entry: &str, f: impl Fn(String) -> String) {
    copy_zip(src, dst, entry, f, None);
}

/// A copy of a zip with one more entry.
pub fn add_to_zip(src: &Path, dst: &Path, entry: &str, data: &str) {
    copy_zip(src, dst, "", |x| x, Some((entry, data)));
}

fn copy_zip(
    src: &Path,
    dst: &Path,
    entry: &str,
    f: impl Fn(String) -> String,
    extra: Option<(&str, &str)>,
) {
    use std::io::Read;
    let mut zin = zip::ZipArchive::new(std::fs::File::open(src).unwrap()).unwrap();
    let mut out = zip::ZipWriter::new(std::fs::File::create(dst).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    for i in 0..zin.len() {
        let mut e = zin.by_index(i).unwrap();
        let name = e.name().unwrap().to_string();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        if name == entry {
            data = f(String::from_utf8(data).unwrap()).into_bytes();
        }
        out.start_file(name, opts).unwrap();
        out.write_all(&data).unwrap();
    }
    if let Some((name, data)) = extra {
        out.start_file(name, opts).unwrap();
        out.write_all(data.as_bytes()).unwrap();
    }
    out.finish().unwrap();
}

/// A pipeline file like the bundled one with other limits.
pub fn pipeline_with(dir: &Path, limits: &str) -> PathBuf {
    pipeline_edited(dir, |mut text| {
        let start = text.find("[limits]").unwrap();
        let end = text[start..].find("\n\n").unwrap() + start;
        text.replace_range(start..end, &format!("[limits]\n{limits}"));
        text
    })
}

struct Case {
    name: &'static str,
    code: &'static str,
}

#[test]
fn hostile_files_fail_alone_and_fast() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let good = dir.join("good.xlsx");
    good_xlsx(&good);
    let bytes = std::fs::read(&good).unwrap();
    // corrupt: a zip header and garbage
    let mut corrupt = b"PK\x03\x04".to_vec();
    corrupt.extend(std::iter::repeat_n(0xA5u8, 4000));
    std::fs::write(dir.join("corrupt.xlsx"), &corrupt).unwrap();
    // truncated: the first half of a real workbook
    std::fs::write(dir.join("truncated.xlsx"), &bytes[..bytes.len() / 2]).unwrap();
    // not a spreadsheet at all
    std::fs::write(dir.join("photo.xlsx"), b"\x89PNG\r\n\x1a\n....").unwrap();
    std::fs::write(dir.join("empty.xlsx"), b"").unwrap();
    std::fs::write(dir.join("blank.csv"), b"\r\n\r\n").unwrap();
    // a sheet that declares every row and column Excel has
    patch_zip(
        &good,
        &dir.join("huge_dimension.xlsx"),
        "xl/worksheets/sheet1.xml",
        |x| {
            let start = x.find("<dimension ref=\"").unwrap() + 16;
            let end = x[start..].find('"').unwrap() + start;
            format!("{}A1:XFD1048576{}", &x[..start], &x[end..])
        },
    );
    // an entity-expansion ("billion laughs") document as shared strings
    patch_zip(
        &good,
        &dir.join("xml_bomb.xlsx"),
        "xl/sharedStrings.xml",
        |x| {
            let mut doc =
                String::from("<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">");
            doc.push_str("<!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">");
            for i in 2..10 {
                doc.push_str(&format!(
                    "<!ENTITY lol{i} \"{}\">",
                    format!("&lol{};", i - 1).repeat(10)
                ));
            }
            doc.push_str("]>");
            let body = x.split_once("?>").map(|(_, b)| b.to_string()).unwrap_or(x);
            doc.push_str(&body.replacen("<t>", "<t>&lol9;", 1));
            doc
        },
    );
    // a zip bomb: the directory declares 4 GiB for one part
    let mut bomb = std::fs::read(&good).unwrap();
    let cd = bomb.windows(4).rposition(|w| w == b"PK\x01\x02").unwrap();
    bomb[cd + 24..cd + 28].copy_from_slice(&0xFFFF_FF00u32.to_le_bytes());
    std::fs::write(dir.join("zip_bomb.xlsx"), &bomb).unwrap();
    // a password-protected (encrypted) workbook: an OLE file with an EncryptedPackage stream
    {
        let mut comp = cfb::create(dir.join("password.xlsx")).unwrap();
        comp.create_stream("EncryptionInfo")
            .unwrap()
            .write_all(&[4, 0, 4, 0, 0x40, 0, 0, 0])
            .unwrap();
        comp.create_stream("EncryptedPackage")
            .unwrap()
            .write_all(&[0u8; 512])
            .unwrap();
        comp.flush().unwrap();
    }
    let cases = [
        Case {
            name: "corrupt.xlsx",
            code: "F_CORRUPT",
        },
        Case {
            name: "truncated.xlsx",
            code: "F_CORRUPT",
        },
        Case {
            name: "photo.xlsx",
            code: "F_NOT_SPREADSHEET",
        },
        Case {
            name: "empty.xlsx",
            code: "F_NOT_SPREADSHEET",
        },
        Case {
            name: "blank.csv",
            code: "F_NOT_SPREADSHEET",
        },
        Case {
            name: "huge_dimension.xlsx",
            code: "F_TOO_LARGE",
        },
        Case {
            name: "xml_bomb.xlsx",
            code: "F_CORRUPT",
        },
        Case {
            name: "zip_bomb.xlsx",
            code: "F_ZIP_BOMB",
        },
        Case {
            name: "password.xlsx",
            code: "F_PASSWORD",
        },
    ];
    let mut files: Vec<PathBuf> = cases.iter().map(|c| dir.join(c.name)).collect();
    let ok = write_csv(
        dir,
        "如皋市_党员培训与双带统计表_2024.csv",
        "县(市、区),镇(街道),村(社区),培训人次\n如皋市,义德街道,平祥村,5\n",
    );
    files.push(ok);
    let t = Instant::now();
    let (code, v) = validate_json(&files);
    assert!(t.elapsed().as_secs() < 60, "took {:?}", t.elapsed());
    assert_eq!(code, 1);
    for (i, c) in cases.iter().enumerate() {
        assert_eq!(v[i]["failed"], true, "{}", c.name);
        assert_eq!(
            v[i]["issues"][0]["code"], c.code,
            "{}: {}",
            c.name, v[i]["issues"][0]
        );
    }
    // the good file after them is read as usual
    assert_eq!(counts(&v[cases.len()]), [2, 1, 0, 1, 1]);
}

/// An ODS whose one row repeats 90,000 times, a thousand cells wide: under
/// calamine's own cell limit, but the reader would need gigabytes.
fn repeated_rows_ods(path: &Path) {
    let content = r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet><table:table table:name="S"><table:table-row table:number-rows-repeated="90000"><table:table-cell table:number-columns-repeated="1000" office:value-type="string"><text:p>x</text:p></table:table-cell></table:table-row></table:table></office:spreadsheet></office:body></office:document-content>"#;
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    z.start_file("mimetype", opts).unwrap();
    z.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
        .unwrap();
    z.start_file("META-INF/manifest.xml", opts).unwrap();
    z.write_all(br#"<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/></manifest:manifest>"#).unwrap();
    z.start_file("content.xml", opts).unwrap();
    z.write_all(content.as_bytes()).unwrap();
    z.finish().unwrap();
}

#[test]
fn a_reader_that_runs_out_of_memory_or_time_takes_only_its_file_down() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    repeated_rows_ods(&dir.join("repeat.ods"));
    let ok = write_csv(
        dir,
        "如皋市_党员培训与双带统计表_2024.csv",
        "县(市、区),镇(街道),村(社区),培训人次\n如皋市,义德街道,平祥村,5\n",
    );
    for (limits, fault, code, says) in [
        (
            "worker_memory_mb = 256\nworker_timeout_s = 60",
            "",
            "F_READER_DIED",
            "256 MiB memory limit",
        ),
        (
            "worker_memory_mb = 2048\nworker_timeout_s = 2",
            "worker-hang:repeat",
            "F_TIMEOUT",
            "longer than 2 s",
        ),
        (
            "worker_memory_mb = 2048\nworker_timeout_s = 60",
            "worker-abort:repeat",
            "F_READER_DIED",
            "signal 6",
        ),
    ] {
        let pipe = pipeline_with(dir, limits);
        let t = Instant::now();
        let out = zx_env(
            &[
                "validate",
                "--json",
                "--pipeline",
                pipe.to_str().unwrap(),
                "--registry",
                &registry(),
                dir.join("repeat.ods").to_str().unwrap(),
                ok.to_str().unwrap(),
            ],
            &[("ZHENXING_FAULT", fault)],
        );
        assert!(t.elapsed().as_secs() < 60, "{code}: took {:?}", t.elapsed());
        let v: serde_json::Value =
            serde_json::from_str(&out.stdout).unwrap_or_else(|_| panic!("{}", out.stderr));
        assert_eq!(out.code, 1);
        assert_eq!(v[0]["issues"][0]["code"], code, "{}", v[0]);
        let msg = v[0]["issues"][0]["message_en"].as_str().unwrap();
        assert!(msg.contains(says), "{msg}");
        assert_eq!(counts(&v[1]), [2, 1, 0, 1, 1]);
    }
}
