//! Property tests: arbitrary text, numbers, widths and sheet shapes thrown
//! at every typed parser, the header detector, the registry matcher and
//! the ingest of whole generated sheets. None may panic; what they return
//! must keep the invariants the lake relies on.

use proptest::prelude::*;

use zhenxing::config::Pipeline;
use zhenxing::normalise::header::{detect, HeaderGrid};
use zhenxing::normalise::value::*;
use zhenxing::read::{excel_serial_to_date, Merge, RawCell};
use zhenxing::text::*;

use super::util::*;

/// Text made of the pieces county cells are made of, and of anything else.
fn text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("2024".to_string()),
        Just("年".to_string()),
        Just("月".to_string()),
        Just("日".to_string()),
        Just("万元".to_string()),
        Just("%".to_string()),
        Just("，".to_string()),
        Just(",".to_string()),
        Just(".".to_string()),
        Just("-".to_string()),
        Just("１２".to_string()),
        Just("待定".to_string()),
        Just("是".to_string()),
        Just("级".to_string()),
        Just("十".to_string()),
        Just("(".to_string()),
        Just("）".to_string()),
        Just("单位:".to_string()),
        Just("\u{3000}".to_string()),
        Just("\u{202E}".to_string()),
        Just("e400".to_string()),
        (0u32..10).prop_map(|d| d.to_string()),
        any::<char>().prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

fn cell() -> impl Strategy<Value = RawCell> {
    prop_oneof![
        Just(RawCell::Empty),
        text().prop_map(RawCell::Text),
        any::<i64>().prop_map(RawCell::Int),
        any::<f64>().prop_map(RawCell::Float),
        any::<bool>().prop_map(RawCell::Bool),
        (any::<f64>(), any::<bool>())
            .prop_map(|(serial, is_1904)| RawCell::Date { serial, is_1904 }),
        text().prop_map(RawCell::Error),
    ]
}

fn pipeline() -> Pipeline {
    zhenxing::config::load(&repo().join("pipelines/nantong.toml")).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn typed_parsers_take_any_cell(c in cell(), is_1904 in any::<bool>()) {
        if let Ok(Some(n)) = cell_number(&c) {
            prop_assert!(n.value.is_finite());
        }
        if let Ok(Some(d)) = cell_date(&c, is_1904) {
            prop_assert!((1900..=9999).contains(&chrono::Datelike::year(&d)));
        }
        if let Ok(Some(y)) = cell_year(&c, is_1904) {
            prop_assert!((1900..=9999).contains(&y));
        }
        let _ = yes_no(&zhenxing::config::YesNo::default(), &c);
        let _ = raw_text(&c);
    }

    #[test]
    fn text_functions_take_any_text(s in text()) {
        if let Some(n) = parse_number_text(&s) {
            prop_assert!(n.value.is_finite());
        }
        if let Some(d) = parse_date_text(&s) {
            prop_assert!((1900..=2100).contains(&chrono::Datelike::year(&d)));
        }
        let _ = parse_chinese_level(&s);
        let _ = is_placeholder(&s);
        let cleaned = clean_name(&s);
        // cleaning is idempotent
        prop_assert_eq!(clean_name(&cleaned).into_owned(), cleaned.clone().into_owned());
        let _ = to_half_width(&s);
        let _ = normalise_header(&s);
        let _ = Unit::parse(&s);
    }

    #[test]
    fn numbers_print_without_panic(f in any::<f64>(), serial in any::<f64>(), col in 0usize..100_000) {
        let _ = format_number(f);
        let _ = excel_serial_to_date(serial, false);
        let _ = excel_serial_to_date(serial, true);
        let letters = column_letters(col);
        prop_assert!(letters.bytes().all(|b| b.is_ascii_uppercase()));
    }
}

fn grid_rows() -> impl Strategy<Value = Vec<Vec<RawCell>>> {
    prop::collection::vec(prop::collection::vec(cell(), 0..24), 0..36)
}

fn merges() -> impl Strategy<Value = Vec<Merge>> {
    let n = prop_oneof![0usize..40, Just(usize::MAX / 2), Just(16_383usize)];
    prop::collection::vec(
        (n.clone(), n.clone(), n.clone(), n).prop_map(|(r0, c0, r1, c1)| Merge { r0, c0, r1, c1 }),
        0..12,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn header_detection_takes_any_sheet_top(
        rows in grid_rows(),
        m in merges(),
        has_merge_info in any::<bool>(),
        official in prop::collection::vec(0usize..40, 0..10),
    ) {
        let p = pipeline();
        // some rows carry real header labels of a template, at random places
        let src = &p.sources[official.len() % p.sources.len()];
        let mut rows = rows;
        if let Some(r) = rows.get_mut(official.first().copied().unwrap_or(0) % 36) {
            for (k, &f) in official.iter().enumerate() {
                if let Some(field) = src.fields.get(f) {
                    let c = k * 2;
                    if r.len() <= c {
                        r.resize(c + 1, RawCell::Empty);
                    }
                    r[c] = RawCell::Text(field.header.clone());
                }
            }
        }
        let grid = HeaderGrid::from_rows(&rows, &m, has_merge_info);
        for s in &p.sources {
            if let Some(band) = detect(&grid, s, &p.sheets.ignore_headers) {
                prop_assert!(band.height >= 1 && band.height <= 3);
                prop_assert!(band.matched_fields().len() >= 2);
                prop_assert_eq!(band.labels.len(), band.columns.len());
            }
        }
    }

    #[test]
    fn the_registry_matcher_takes_any_name(
        county in text(), township in text(), name in text(), code in text()
    ) {
        let (reg, _) = registry_once();
        let _ = reg.resolve(Some(&code), &county, &township, &name);
        let _ = reg.resolve(None, "如皋市", &township, &name);
        let s = reg.suggest("如皋市", &township, &name);
        prop_assert!(s.len() <= 3);
    }
}

/// The sample registry, loaded once for the whole test process.
fn registry_once() -> &'static (zhenxing::validate::registry::Registry, ()) {
    static R: std::sync::OnceLock<(zhenxing::validate::registry::Registry, ())> =
        std::sync::OnceLock::new();
    R.get_or_init(|| {
        let p = Pipeline {
            registry: repo().join("sample_data/registry/南通市村社区名录.xlsx"),
            ..pipeline()
        };
        let (reg, _) =
            zhenxing::validate::load_registry(&p, zhenxing::worker::Isolation::in_process())
                .unwrap();
        (reg, ())
    })
}

/// A whole sheet: a title, the official header of a template (some columns
/// left out, some unknown ones added), then rows of arbitrary cells and of
/// real village names.
fn sheet() -> impl Strategy<Value = (usize, Vec<usize>, Vec<Vec<String>>)> {
    (
        0usize..12,
        prop::collection::vec(0usize..30, 1..20),
        prop::collection::vec(prop::collection::vec(text(), 0..24), 0..60),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn whole_sheets_are_accounted_for((t, keep, body) in sheet()) {
        let p = Pipeline {
            registry: repo().join("sample_data/registry/南通市村社区名录.xlsx"),
            ..pipeline()
        };
        let (reg, _) = registry_once();
        let engine = zhenxing::validate::Engine::new(
            &p,
            Some(reg),
            zhenxing::worker::Isolation::in_process(),
        );
        let srcs: Vec<&zhenxing::config::Source> =
            p.sources.iter().filter(|s| s.dataset != "villages").collect();
        let src = srcs[t % srcs.len()];
        let mut header: Vec<String> = keep
            .iter()
            .filter_map(|&f| src.fields.get(f).map(|x| x.header.clone()))
            .collect();
        header.push("备注".into());
        let mut w = csv::WriterBuilder::new().flexible(true).from_writer(Vec::new());
        w.write_record([format!("如皋市{}", src.title)]).unwrap();
        w.write_record(&header).unwrap();
        for (i, row) in body.iter().enumerate() {
            let mut row = row.clone();
            if i % 3 == 0 && !row.is_empty() {
                row[0] = "如皋市".into();
            }
            w.write_record(&row).unwrap();
        }
        let bytes = w.into_inner().unwrap();
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join(format!("如皋市_{}_2024.csv", src.title));
        std::fs::write(&path, bytes).unwrap();
        let res = engine.ingest(&path, None);
        prop_assert!(!res.issues.iter().any(|i| i.code() == zhenxing::catalogue::Code::Internal), "{:?}", res.issues);
        let c = res.counts;
        prop_assert_eq!(c.read, c.accepted + c.rejected + c.non_data);
        // every reject names its row, and its column when it names a field's cell
        for i in &res.issues {
            if i.severity() == zhenxing::validate::issue::Severity::Reject {
                prop_assert!(i.row.is_some());
            }
        }
    }
}
