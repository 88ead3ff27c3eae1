//! The forms the city sends out (`zhenxing template`): generated from the
//! pipeline, filled by a second writer (openpyxl, as a county's Excel
//! saves them) and read back by `validate`.

use std::io::Read;
use std::path::{Path, PathBuf};

use calamine::{Data, Reader, Xlsx};
use serde_json::{json, Value};

use super::util::*;
use zhenxing::config::{FieldType, PiiKind, Source};
use zhenxing::report::form::{FIRST_DATA_ROW, MARKER_SHEET};

const COUNTY: &str = "如皋市";

/// `zhenxing template WHICH… --county 如皋市 --period PERIOD --out DIR`:
/// the forms written.
fn make_forms(which: &[&str], period: &str, dir: &Path) -> Vec<PathBuf> {
    let mut args = vec!["template"];
    args.extend_from_slice(which);
    let reg = registry();
    let out = dir.to_str().unwrap();
    args.extend_from_slice(&["--county", COUNTY, "--period", period, "--registry", &reg]);
    args.extend_from_slice(&["--out", out]);
    let o = zx(&args);
    assert_eq!(o.code, 0, "{}", o.stderr);
    o.stdout.lines().map(PathBuf::from).collect()
}

/// Every form of 如皋市 for June 2025 (years: 2025).
fn forms(dir: &Path) -> Vec<PathBuf> {
    let paths = make_forms(&["--all"], "2025-06", dir);
    assert_eq!(paths.len(), 12, "{paths:?}");
    paths
}

/// A sheet's cells as calamine reads them: (row, col) → value.
fn grid(path: &Path, sheet: &str) -> Vec<Vec<Data>> {
    let mut wb: Xlsx<_> = calamine::open_workbook(path).unwrap();
    let r = wb.worksheet_range(sheet).unwrap();
    let (r0, c0) = r.start().unwrap_or((0, 0));
    assert_eq!((r0, c0), (0, 0), "{}", path.display());
    r.rows().map(|row| row.to_vec()).collect()
}

/// The template a form is for, from its file name.
fn source_of<'p>(p: &'p zhenxing::config::Pipeline, path: &Path) -> &'p Source {
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    p.sources
        .iter()
        .find(|s| s.dataset != "villages" && name.contains(&s.title))
        .unwrap()
}

/// A valid value for a field in row `r` of a form for 2025 (or June 2025).
fn valid(src: &Source, k: usize, r: usize, village: &[String; 4]) -> Value {
    let f = &src.fields[k];
    let in_range = |x: f64| {
        let x = f.min.map_or(x, |m| x.max(m));
        f.max.map_or(x, |m| x.min(m))
    };
    match f.ty {
        FieldType::Bool => json!("是"),
        FieldType::Enum => json!(f.values[0]),
        FieldType::Int | FieldType::Level => json!(in_range(1.0) as i64),
        FieldType::Money if f.plausible.0.is_some() => {
            // twice the least plausible amount, in the template's unit
            let per = f.unit.map_or(1.0, |u| u.to_yuan());
            json!(f.plausible.0.unwrap_or(0.0) * 2.0 / per)
        }
        FieldType::Number | FieldType::Money | FieldType::Percent => json!(in_range(2.0)),
        FieldType::Date => json!({"date": "2025-01-10"}),
        FieldType::Year => json!(2025),
        FieldType::Month => json!("2025年6月"),
        FieldType::Code => json!(village[3]),
        _ => match (f.name.as_str(), f.pii) {
            ("county", _) => json!(village[0]),
            ("township", _) => json!(village[1]),
            ("village", _) => json!(village[2]),
            (_, Some(PiiKind::IdNumber)) => json!("11010519491231002X"),
            (_, Some(PiiKind::Name)) => json!("张三"),
            _ if src.keys.contains(&k) => json!(format!("K{:03}", r + 1)),
            _ => json!("测试"),
        },
    }
}

/// Fills every open cell of the first `rows` data rows (all pre-filled
/// village rows) through openpyxl; `bad` replaces single cells. Returns
/// the filled file and the number of data rows.
fn fill(
    py: &str,
    form: &Path,
    src: &Source,
    village: &[String; 4],
    bad: &[(u32, u16, Value)],
    out: &Path,
) -> usize {
    let g = grid(form, COUNTY);
    // the village rows: from the first data row to the first blank one
    let prefilled = (FIRST_DATA_ROW as usize..g.len())
        .take_while(|&r| !matches!(g[r][0], Data::Empty))
        .count();
    let rows = if prefilled > 0 { prefilled } else { 3 };
    let mut cells = Vec::new();
    for r in 0..rows {
        let row = FIRST_DATA_ROW as usize + r;
        for k in 0..src.fields.len() {
            let empty = g
                .get(row)
                .and_then(|x| x.get(k))
                .is_none_or(|c| matches!(c, Data::Empty));
            if empty {
                cells.push(json!([row, k, valid(src, k, r, village)]));
            }
        }
    }
    for (r, c, v) in bad {
        cells.push(json!([r, c, v]));
    }
    // the plan beside the folder, not in it (the folder is an inbox later)
    let plans = out.parent().unwrap().with_extension("plans");
    std::fs::create_dir_all(&plans).unwrap();
    let plan = plans.join(out.file_name().unwrap()).with_extension("json");
    std::fs::write(&plan, json!({"sheet": COUNTY, "cells": cells}).to_string()).unwrap();
    let o = std::process::Command::new(py)
        .arg(repo().join("tests/fill_form.py"))
        .args([form, out, &plan])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    rows
}

fn openpyxl() -> Option<String> {
    match super::readers::python_in("ZHENXING_PYTHON", "openpyxl") {
        Ok(p) => Some(p),
        Err(why) => {
            eprintln!("skipped: {why}");
            None
        }
    }
}

#[test]
fn every_form_has_the_official_headers_validation_protection_and_its_identity() {
    let d = tempfile::tempdir().unwrap();
    let p = zhenxing::config::load(&repo().join("pipelines/nantong.toml")).unwrap();
    for path in forms(d.path()) {
        let src = source_of(&p, &path);
        let wb: Xlsx<_> = calamine::open_workbook(&path).unwrap();
        let sheets: Vec<(String, calamine::SheetVisible)> = wb
            .sheets_metadata()
            .iter()
            .map(|s| (s.name.clone(), s.visible))
            .collect();
        assert_eq!(
            sheets,
            [
                (COUNTY.to_string(), calamine::SheetVisible::Visible),
                (MARKER_SHEET.to_string(), calamine::SheetVisible::VeryHidden)
            ]
        );
        let g = grid(&path, COUNTY);
        let heads: Vec<String> = g[2].iter().map(|c| c.to_string()).collect();
        let want: Vec<String> = src
            .fields
            .iter()
            .map(zhenxing::report::form::header_text)
            .collect();
        assert_eq!(heads, want, "{}", path.display());
        let marker = grid(&path, MARKER_SHEET);
        let m: Vec<(String, String)> = marker
            .iter()
            .map(|r| (r[0].to_string(), r[1].to_string()))
            .collect();
        assert_eq!(m[0], ("template".into(), src.id.clone()));
        assert_eq!(m[2], ("county".into(), COUNTY.into()));
        let sheet = zip_part(&path, "xl/worksheets/sheet1.xml").unwrap();
        assert!(sheet.contains("<sheetProtection"), "{}", path.display());
        assert!(sheet.contains("<dataValidations"), "{}", path.display());
        // every column the county types has a rule and an input message
        // (the pre-filled village and period columns are locked instead)
        let by_village = zhenxing::report::form::keyed_by_village(src);
        let typed = src
            .fields
            .iter()
            .filter(|f| {
                let pre = by_village
                    && ["county", "township", "village", "village_code"].contains(&f.name.as_str());
                let period = matches!(
                    f.context,
                    Some(zhenxing::config::Context::Period) | Some(zhenxing::config::Context::Year)
                ) || (matches!(f.ty, FieldType::Year | FieldType::Month)
                    && f.context.is_some());
                !pre && !period && f.name != "county"
            })
            .count();
        assert_eq!(
            sheet.matches("<dataValidation ").count(),
            typed,
            "{}",
            src.id
        );
        assert_eq!(sheet.matches("promptTitle=").count(), typed, "{}", src.id);
        // a rule across columns is said where the county types
        if src.id == "T07" {
            assert!(
                sheet.contains("prompt=\"必填，不得大于“集体总收入”。"),
                "{sheet}"
            );
        }
        let props = zip_part(&path, "docProps/custom.xml").unwrap();
        assert!(
            props.contains(&format!("<vt:lpwstr>{}</vt:lpwstr>", src.id)),
            "{props}"
        );
        // a form keyed by village: the registry's villages as of the
        // period, in its order; those merged by then in the note below
        if zhenxing::report::form::keyed_by_village(src) {
            let mut q = p.clone();
            q.registry = registry().into();
            let iso = zhenxing::worker::Isolation::in_process();
            let (reg, _) = zhenxing::validate::load_registry(&q, iso).unwrap();
            let per = zhenxing::report::form::period_for(src, "2025-06");
            let end = zhenxing::report::form::period_days(&per).map(|x| x.1);
            let (here, gone) = zhenxing::report::form::villages_as_of(&reg, COUNTY, end);
            let code = src.field_index("village_code").unwrap();
            let rows: Vec<String> = g[FIRST_DATA_ROW as usize..]
                .iter()
                .take_while(|r| !matches!(r[code], Data::Empty))
                .map(|r| r[code].to_string())
                .collect();
            let codes: Vec<String> = here.iter().map(|v| v.code.to_string()).collect();
            assert_eq!(rows, codes, "{}", src.id);
            let note = g
                .iter()
                .map(|r| r[0].to_string())
                .find(|t| t.starts_with("注：以下村（社区）已撤并"));
            match gone.is_empty() {
                true => assert!(note.is_none()),
                false => {
                    let note = note.unwrap();
                    assert!(gone.iter().all(|v| note.contains(&*v.name)), "{note}");
                }
            }
        }
    }
}

#[test]
fn every_form_filled_with_valid_values_validates_clean_and_invalid_cells_are_named() {
    let Some(py) = openpyxl() else { return };
    let d = tempfile::tempdir().unwrap();
    let p = zhenxing::config::load(&repo().join("pipelines/nantong.toml")).unwrap();
    let paths = forms(&d.path().join("forms"));
    // the first village of the county's form of T01: for the forms without villages
    let t01 = paths.iter().find(|x| source_of(&p, x).id == "T01").unwrap();
    let g = grid(t01, COUNTY);
    let first = &g[FIRST_DATA_ROW as usize];
    let village = [0, 1, 2, 3].map(|c| first[c].to_string());
    let filled = d.path().join("filled");
    std::fs::create_dir_all(&filled).unwrap();
    for path in &paths {
        let src = source_of(&p, path);
        let out = filled.join(path.file_name().unwrap());
        let rows = fill(&py, path, src, &village, &[], &out);
        let (code, v) = validate_json(std::slice::from_ref(&out));
        let f = &v[0];
        assert_eq!(f["template"], src.id.as_str(), "{v}");
        assert_eq!(f["county"], COUNTY, "{v}");
        let problems: Vec<&Value> = f["issues"].as_array().unwrap().iter().collect();
        assert!(problems.is_empty(), "{}: {problems:#?}", src.id);
        assert_eq!(code, 0);
        let [_, accepted, rejected, _, _] = counts(f);
        assert_eq!((accepted, rejected), (rows as u64, 0), "{}", src.id);
    }

    // the filled forms as a county's inbox: the values arrive exactly
    let out = d.path().join("out");
    let o = run_in_with(
        &filled,
        &out,
        &d.path().join("key"),
        &["--quiet", "--no-indicators", "--registry", &registry()],
        &[],
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let q = zx(&[
        "query",
        "--out",
        out.to_str().unwrap(),
        "--csv",
        "SELECT count(*) AS n, min(operating_income) AS lo, max(operating_income) AS hi, min(year) AS y FROM collective_economy",
    ]);
    let villages = grid(t01, COUNTY)[FIRST_DATA_ROW as usize..]
        .iter()
        .take_while(|r| !matches!(r[0], Data::Empty))
        .count();
    // twice the least plausible ¥100, typed as 0.02 万元
    assert_eq!(
        q.stdout,
        format!("n,lo,hi,y\n{villages},200.0,200.0,2025\n"),
        "{}",
        q.stderr
    );

    // T01 with every kind the form's validation blocks, typed past it
    let t01_src = p.source("T01").unwrap();
    let col = |name: &str| t01_src.field_index(name).unwrap() as u16;
    let r = FIRST_DATA_ROW;
    let bad = [
        (r, col("org_type"), json!("Y")),
        (r + 1, col("households"), json!("十二")),
        (r + 2, col("party_members"), json!(-5)),
        (r + 3, col("grids"), json!("待定")),
    ];
    let out = filled.join("bad.xlsx");
    fill(&py, t01, t01_src, &village, &bad, &out);
    let (code, v) = validate_json(std::slice::from_ref(&out));
    assert_eq!(code, 1, "{v}");
    let got: Vec<(String, String)> = issues(&v[0], "reject");
    let cell =
        |row: u32, c: u16| zhenxing::normalise::value::cell_ref(COUNTY, row as usize, c as usize);
    assert_eq!(
        got,
        // (sorted by code)
        vec![
            ("E_NOT_INTEGER".to_string(), cell(r + 1, col("households"))),
            ("E_NOT_INTEGER".to_string(), cell(r + 3, col("grids"))),
            ("E_NOT_IN_LIST".to_string(), cell(r, col("org_type"))),
            ("E_RANGE".to_string(), cell(r + 2, col("party_members"))),
        ]
    );
    // a date as 待定 (T03); 元 typed into a 万元 form (T07: implausible, and
    // now above the total income)
    for (id, field, value, want) in [
        ("T03", "transformed_on", json!("待定"), &["E_NOT_DATE"][..]),
        (
            "T07",
            "operating_income",
            json!(5_000_000),
            &["E_CROSS_FIELD", "E_IMPLAUSIBLE"][..],
        ),
    ] {
        let src = p.source(id).unwrap();
        let form = paths.iter().find(|x| source_of(&p, x).id == id).unwrap();
        let c = src.field_index(field).unwrap() as u16;
        let bad_file = filled.join(format!("bad_{id}.xlsx"));
        fill(&py, form, src, &village, &[(r, c, value)], &bad_file);
        let (code, w) = validate_json(std::slice::from_ref(&bad_file));
        assert_eq!(code, 1, "{w}");
        let named: Vec<(String, String)> =
            want.iter().map(|w| (w.to_string(), cell(r, c))).collect();
        assert_eq!(issues(&w[0], "reject"), named, "{id}");
    }
}

/// `validate --json` of files with a pipeline file.
fn validate_with(pipeline: &Path, files: &[&Path]) -> (i32, Value) {
    let mut args = vec![
        "validate".to_string(),
        "--json".into(),
        "--pipeline".into(),
        pipeline.display().to_string(),
        "--registry".into(),
        registry(),
    ];
    args.extend(files.iter().map(|f| f.display().to_string()));
    let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let o = zx(&refs);
    (o.code, serde_json::from_str(&o.stdout).unwrap())
}

#[test]
fn a_form_is_read_as_what_it_says_and_an_older_definition_is_read_or_refused() {
    let Some(py) = openpyxl() else { return };
    let d = tempfile::tempdir().unwrap();
    let form = make_forms(&["T10"], "2025", &d.path().join("forms"))
        .pop()
        .unwrap();
    let p = zhenxing::config::load(&repo().join("pipelines/nantong.toml")).unwrap();
    let src = p.source("T10").unwrap();
    let village = ["如皋市", "义德街道", "平祥村", "320682001001"].map(String::from);
    // a name that says nothing: the form's own identity decides
    let filled = d.path().join("filled");
    std::fs::create_dir_all(&filled).unwrap();
    let any = filled.join("报表.xlsx");
    let rows = fill(&py, &form, src, &village, &[], &any);
    let (code, v) = validate_json(std::slice::from_ref(&any));
    assert_eq!(code, 0, "{v}");
    assert_eq!(
        (&v[0]["template"], &v[0]["county"], &v[0]["period"]),
        (&json!("T10"), &json!(COUNTY), &json!("2025"))
    );
    assert_eq!(v[0]["issues"], json!([]));
    assert_eq!(counts(&v[0])[1], rows as u64);

    // in the lake beside last year's hand-made file: status --headers tells them apart
    write_csv(
        &filled,
        "如皋市_党员培训与双带统计表_2024.csv",
        "县(市、区),镇(街道),村(社区),培训人次\n如皋市,义德街道,平祥村,5\n",
    );
    let out = d.path().join("out");
    let args = ["--quiet", "--no-indicators", "--registry", &registry()];
    let o = run_in_with(&filled, &out, &d.path().join("key"), &args, &[]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let o = zx(&["status", "--headers", "--out", out.to_str().unwrap()]);
    assert!(
        o.stdout.contains(&format!(
            "如皋市 T10 党员培训与双带统计表: 2025 (报表.xlsx, official form v{}) against 2024 (如皋市_党员培训与双带统计表_2024.csv, hand-made)",
            src.definition_version()
        )),
        "{}",
        o.stdout
    );

    // the definition renames 培训人次, keeping it as a variant: read, said
    let t10 = std::fs::read_to_string(repo().join("pipelines/sources/t10_training.toml")).unwrap();
    let renamed = t10.replace(
        "header = \"培训人次\"\nvariants = [\"培训人次数\", \"培训人数\"]",
        "header = \"参训人次\"\nvariants = [\"培训人次\", \"培训人次数\", \"培训人数\"]",
    );
    assert_ne!(renamed, t10);
    let with = |text: &str, name: &str| {
        let dir = d.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let t = dir.join("t10.toml");
        std::fs::write(&t, text).unwrap();
        pipeline_edited(&dir, |s| {
            s.replace(
                "\"sources/t10_training.toml\"",
                &format!("\"{}\"", t.display()),
            )
        })
    };
    let old_version = src.definition_version();
    let (code, v) = validate_with(&with(&renamed, "kept"), &[&any]);
    assert_eq!(code, 0, "{v}");
    let new_version = {
        let dir = d.path().join("kept");
        zhenxing::config::load(&dir.join("pipeline.toml"))
            .unwrap()
            .source("T10")
            .unwrap()
            .definition_version()
    };
    assert_ne!(old_version, new_version);
    let issues: Vec<(&str, &str)> = v[0]["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["code"].as_str().unwrap(),
                i["message_zh"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        issues,
        [(
            "W_FORM_VERSION",
            format!("此报表由旧版模板生成（T10 版本 {old_version}，当前版本 {new_version}），表头均可识别，已按当前定义读取").as_str()
        )]
    );
    assert_eq!(counts(&v[0])[1], rows as u64);

    // … and without the old header: refused, naming both versions
    let dropped = t10.replace(
        "header = \"培训人次\"\nvariants = [\"培训人次数\", \"培训人数\"]",
        "header = \"参训人次\"\nvariants = [\"参训人数\"]",
    );
    let (code, v) = validate_with(&with(&dropped, "dropped"), &[&any]);
    assert_eq!(code, 1, "{v}");
    let f = &v[0]["issues"][0];
    assert_eq!(f["code"], "F_FORM_VERSION", "{v}");
    assert_eq!(f["severity"], "file_error");
    let msg = f["message_en"].as_str().unwrap();
    assert!(
        msg.contains(&format!("version {old_version}; now ")),
        "{msg}"
    );
    assert!(msg.contains("培训人次"), "{msg}");
    assert_eq!(counts(&v[0])[1], 0, "nothing accepted");
}

#[test]
fn a_county_pack_has_its_forms_and_an_instruction_sheet_with_deadlines() {
    let d = tempfile::tempdir().unwrap();
    let o = zx(&[
        "template",
        "--all",
        "--county",
        COUNTY,
        "--period",
        "2025-06",
        "--registry",
        &registry(),
        "--zip",
        "--contact",
        "市委组织部 0513-12345678",
        "--out",
        d.path().to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let zip_path = d.path().join("如皋市_报表.zip");
    assert!(
        o.stdout.contains(zip_path.to_str().unwrap()),
        "{}",
        o.stdout
    );
    let mut z = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    let mut names: Vec<String> = z.file_names().map(|n| n.unwrap().to_string()).collect();
    names.sort();
    assert_eq!(names.len(), 13, "{names:?}");
    assert!(names.contains(&"如皋市/填报说明.xlsx".to_string()));
    assert!(names.contains(&"如皋市/如皋市_村级组织架构统计表_2025_06.xlsx".to_string()));
    assert!(names.contains(&"如皋市/如皋市_村级集体经济收入统计表_2025.xlsx".to_string()));
    // each form in the pack is the one written beside it
    let mut packed = Vec::new();
    z.by_name("如皋市/如皋市_村级集体经济收入统计表_2025.xlsx")
        .unwrap()
        .read_to_end(&mut packed)
        .unwrap();
    assert_eq!(
        packed,
        std::fs::read(
            d.path()
                .join("如皋市/如皋市_村级集体经济收入统计表_2025.xlsx")
        )
        .unwrap()
    );
    let mut guide = Vec::new();
    z.by_name("如皋市/填报说明.xlsx")
        .unwrap()
        .read_to_end(&mut guide)
        .unwrap();
    let g = d.path().join("guide.xlsx");
    std::fs::write(&g, guide).unwrap();
    let rows = grid(&g, "填报说明");
    let text: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(text[0][0], "如皋市报表填报说明");
    assert!(text
        .iter()
        .any(|r| r[0].contains("市委组织部 0513-12345678")));
    let row_of = |id: &str| {
        text.iter()
            .find(|r| r.get(1).map(String::as_str) == Some(id))
            .unwrap()
    };
    // a period is due `due_days` (15) after it ends
    assert_eq!(
        row_of("T01")[2..4],
        ["2025年6月".to_string(), "2025-07-15".into()]
    );
    assert_eq!(
        row_of("T07")[2..4],
        ["2025年".to_string(), "2026-01-15".into()]
    );
    assert_eq!(row_of("T07")[5], "如皋市_村级集体经济收入统计表_2025.xlsx");
    assert_eq!(
        row_of("T07")[6],
        "必填：集体经营性收入；“集体经营性收入”不得大于“集体总收入”"
    );
    assert_eq!(
        text.iter()
            .filter(|r| r.get(1).is_some_and(|c| c.starts_with('T')))
            .count(),
        12
    );
}

#[test]
fn a_form_prints_on_the_pages_it_states() {
    use super::print::{pdf_pages, to_pdf, which};
    let (Some(soffice), Some(pdfinfo)) = (which(&["soffice"]), which(&["pdfinfo"])) else {
        eprintln!(
            "skipped: LibreOffice or pdfinfo not installed (.ci/run installs them with apt-get)"
        );
        return;
    };
    let d = tempfile::tempdir().unwrap();
    for form in make_forms(&["T10", "T05"], "2025", &d.path().join("forms")) {
        let stated: usize = grid(&form, MARKER_SHEET)
            .iter()
            .find(|r| r[0] == Data::String("pages".into()))
            .map(|r| r[1].to_string().parse().unwrap())
            .unwrap();
        let pages = pdf_pages(&pdfinfo, &to_pdf(&soffice, d.path(), &form));
        assert_eq!(pages, stated, "{}", form.display());
    }
}
