//! The report on paper: the workbook printed by LibreOffice and the HTML
//! page printed by Chromium, both headless (Debian's packages, which
//! `.ci/run` installs when they are absent, with a CJK font and poppler's
//! PDF tools). Without them the test says what is missing and does not run.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::util::{repo, run_in};

/// The first of `names` on PATH.
pub(crate) fn which(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|n| {
        std::env::split_paths(&path)
            .map(|d| d.join(n))
            .find(|p| p.is_file())
    })
}

fn ok(c: &mut Command) -> std::process::Output {
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "{c:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// The text of PDF pages `first..=last` (all when `None`).
fn pdf_text(pdftotext: &Path, pdf: &Path, pages: Option<(usize, usize)>) -> String {
    let mut c = Command::new(pdftotext);
    if let Some((a, b)) = pages {
        c.args(["-f", &a.to_string(), "-l", &b.to_string()]);
    }
    let o = ok(c.arg(pdf).arg("-"));
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// A workbook printed to PDF by LibreOffice, with a profile of its own
/// under `tmp`; the PDF's path.
pub(crate) fn to_pdf(soffice: &Path, tmp: &Path, xlsx: &Path) -> PathBuf {
    let pdf_dir = tmp.join("pdf");
    ok(Command::new(soffice)
        .arg(format!(
            "-env:UserInstallation=file://{}",
            tmp.join("lo-profile").display()
        ))
        .args(["--headless", "--convert-to", "pdf", "--outdir"])
        .arg(&pdf_dir)
        .arg(xlsx));
    pdf_dir.join(xlsx.with_extension("pdf").file_name().unwrap())
}

pub(crate) fn pdf_pages(pdfinfo: &Path, pdf: &Path) -> usize {
    let o = ok(Command::new(pdfinfo).arg(pdf));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn the_report_prints_with_its_headline_on_one_or_two_pages() {
    let tools = [
        ("LibreOffice", which(&["soffice", "libreoffice"])),
        ("Chromium", which(&["chromium", "chromium-browser"])),
        ("pdftotext", which(&["pdftotext"])),
        ("pdfinfo", which(&["pdfinfo"])),
        ("pdftoppm", which(&["pdftoppm"])),
    ];
    let missing: Vec<&str> = tools
        .iter()
        .filter(|(_, p)| p.is_none())
        .map(|(n, _)| *n)
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "skipped: {} not installed (.ci/run installs them with apt-get)",
            missing.join(", ")
        );
        return;
    }
    let [soffice, chromium, pdftotext, pdfinfo, pdftoppm] = tools.map(|(_, p)| p.unwrap());

    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let key = d.path().join("key");
    let r = run_in(&repo().join("sample_data/inbox"), &out, &key, &[]);
    assert!(r.code <= 1, "{}", r.stderr);
    let version = std::fs::read_link(out.join("lake"))
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    let report = out.join("reports/2024");
    let xlsx = std::fs::read_dir(&report)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "xlsx"))
        .unwrap();

    // the workbook through LibreOffice, with a profile of its own
    let pdf = to_pdf(&soffice, d.path(), &xlsx);
    let pages = pdf_pages(&pdfinfo, &pdf);
    // the headline sheet ends where the first figure sheet (whose header
    // has 名录村数) begins
    let headline_pages = (1..=pages)
        .take_while(|&p| !pdf_text(&pdftotext, &pdf, Some((p, p))).contains("名录村数"))
        .count();
    assert!(
        (1..=2).contains(&headline_pages),
        "the headline sheet prints on {headline_pages} pages"
    );
    let first = pdf_text(&pdftotext, &pdf, Some((1, 1)));
    for h in [
        "乡村振兴主要指标",
        "指标",
        "单位",
        "统计期",
        "全市",
        "如皋市",
    ] {
        assert!(first.contains(h), "{h} not on page 1:\n{first}");
    }
    // the footer names the lake version; numbers carry thousands separators
    assert!(first.contains(&format!("数据版本 {version}")), "{first}");
    assert!(has_grouped_number(&first), "{first}");
    // every sheet is printed landscape and one page wide: no page of the
    // workbook holds only the columns that did not fit
    let all = pdf_text(&pdftotext, &pdf, None);
    for h in [
        "估计方法",
        "指标报表 · 说明",
        "口径说明",
        "Definition",
        "双重差分（双向固定效应）",
    ] {
        assert!(all.contains(h), "{h} not in the printed workbook");
    }

    // the HTML page through Chromium
    let html_pdf = d.path().join("html.pdf");
    ok(Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-pdf-header-footer",
        ])
        .arg(format!(
            "--user-data-dir={}",
            d.path().join("chromium").display()
        ))
        .arg(format!("--print-to-pdf={}", html_pdf.display()))
        .arg(format!("file://{}", report.join("index.html").display())));
    let text = pdf_text(&pdftotext, &html_pdf, None);
    for h in [
        "主要指标（全市）",
        "分县(市、区)主要指标",
        "党群致富共同体收入效应（全市）",
        "双重差分（双向固定效应）",
        "距加入共同体年数",
    ] {
        assert!(text.contains(h), "{h} not in the printed page:\n{text}");
    }
    assert!(!text.contains("twfe_did"), "method ids are not shown");
    assert!(has_grouped_number(&text), "{text}");

    // the picture docs/reports.md shows: the workbook's first printed page
    let png_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    ok(Command::new(&pdftoppm)
        .args(["-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile"])
        .arg(&pdf)
        .arg(png_dir.join("report_page1")));
    assert!(png_dir.join("report_page1.png").is_file());
}

/// Whether the text has a number with a thousands separator (`143,161`).
fn has_grouped_number(text: &str) -> bool {
    let b = text.as_bytes();
    (1..b.len().saturating_sub(3)).any(|i| {
        b[i] == b','
            && b[i - 1].is_ascii_digit()
            && b[i + 1..i + 4].iter().all(u8::is_ascii_digit)
            && b.get(i + 4).is_none_or(|c| !c.is_ascii_digit())
    })
}
