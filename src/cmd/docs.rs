//! `zhenxing docs`: the data dictionary, generated from the pipeline and
//! indicator definitions, as Markdown and as an Excel workbook.

use std::fmt::Write as _;
use std::path::Path;

use rust_xlsxwriter::{Format, Workbook, XlsxError};

use crate::analysis::indicators::Definitions;
use crate::cmd::exit;
use crate::config::{FieldType, Pipeline, Source};
use crate::lake::column_name;
use crate::report::xlsx::header_row;

/// One documented column.
pub struct ColumnDoc {
    pub table: String,
    pub column: String,
    pub ty: &'static str,
    pub unit: String,
    pub header: String,
    pub variants: String,
    pub rule: String,
    pub description: String,
}

fn parquet_type(t: FieldType) -> &'static str {
    match t {
        FieldType::Int | FieldType::Level | FieldType::Year => "Int64",
        FieldType::Number | FieldType::Money | FieldType::Percent => "Float64",
        FieldType::Bool => "Boolean",
        FieldType::Date | FieldType::Month => "Date",
        _ => "String",
    }
}

fn source_columns(src: &Source) -> Vec<ColumnDoc> {
    let mut out = Vec::new();
    for f in &src.fields {
        let mut rule = Vec::new();
        if f.required {
            rule.push("required".to_string());
        }
        if let Some(m) = f.min {
            rule.push(format!("≥ {m}"));
        }
        if let Some(m) = f.max {
            rule.push(format!("≤ {m}"));
        }
        if !f.values.is_empty() {
            rule.push(format!("one of {}", f.values.join("/")));
        }
        let (ty, description) = if f.pii.is_some() {
            (
                "String",
                format!(
                    "personal data: HMAC-SHA256 pseudonym (32 hex digits) of the {}; the clear value is never stored",
                    f.name
                ),
            )
        } else {
            (
                parquet_type(f.ty),
                f.description.clone().unwrap_or_default(),
            )
        };
        let unit = match f.ty {
            FieldType::Money => "元 (input 元/万元 converted)".to_string(),
            FieldType::Percent => "% (0–100)".to_string(),
            FieldType::Month => "first day of the month".to_string(),
            _ => String::new(),
        };
        out.push(ColumnDoc {
            table: src.dataset.clone(),
            column: column_name(f),
            ty,
            unit,
            header: f.header.clone(),
            variants: f.variants.join("、"),
            rule: rule.join("; "),
            description,
        });
    }
    let fixed: [(&str, &str, &str); 5] = [
        (
            "source_file_sha256",
            "String",
            "SHA-256 of the input file the row came from",
        ),
        ("source_file", "String", "input file, relative to the inbox"),
        ("source_sheet", "String", "sheet of the input file"),
        (
            "source_row",
            "Int64",
            "row number in the sheet (1-based, as Excel shows it)",
        ),
        (
            "county_code",
            "Int64 (partition)",
            "6-digit county division code: the partition folder county_code=…",
        ),
    ];
    let added = |c: &str, t: &'static str, d: &str| ColumnDoc {
        table: src.dataset.clone(),
        column: c.into(),
        ty: t,
        unit: String::new(),
        header: String::new(),
        variants: String::new(),
        rule: String::new(),
        description: d.into(),
    };
    for (c, t, d) in fixed {
        out.push(added(c, t, d));
    }
    if crate::lake::has_year(src) && !out.iter().any(|c| c.column == "year") {
        out.push(added(
            "year",
            "Int64 (partition)",
            "report year: the partition folder year=…",
        ));
    }
    out
}

/// Columns of the indicator tables.
pub const INDICATOR_COLUMNS: [(&str, &str, &str); 19] = [
    (
        "indicator_id",
        "String",
        "indicator id in pipelines/indicators.toml",
    ),
    (
        "family",
        "String",
        "indicator family (organisation, standardisation, …)",
    ),
    ("name_zh", "String", "Chinese name"),
    ("name_en", "String", "English name"),
    (
        "category",
        "String",
        "breakdown (band, star level, aspect, …); null when none",
    ),
    ("period", "String", "YYYY, YYYY-MM or current (rosters)"),
    ("level", "String", "city, county, township or village"),
    (
        "geo_code",
        "String",
        "division code: city/county 6 digits, township 9, village 12",
    ),
    (
        "geo_name",
        "String",
        "name of the city, county, township or village",
    ),
    (
        "value",
        "Float64",
        "the figure, in `unit`; null when the denominator is 0",
    ),
    ("numerator", "Float64", "Σ num of the units (before scale)"),
    (
        "denominator",
        "Float64",
        "Σ den (ratio) or number of units with a value (mean, median)",
    ),
    ("unit", "String", "unit of value"),
    (
        "villages_reporting",
        "UInt64",
        "villages in scope that reported for the period",
    ),
    (
        "villages_registry",
        "UInt64",
        "active registry villages in the area",
    ),
    (
        "units",
        "UInt64",
        "units counted (villages, stations, secretaries, …)",
    ),
    (
        "rank",
        "UInt64",
        "rank within the county (village rows of ranked indicators)",
    ),
    (
        "run_id",
        "String",
        "lake version the figure was computed from",
    ),
    (
        "definition_hash",
        "String",
        "hash of the definition and parameters that made it",
    ),
];

pub const EFFECT_COLUMNS: [(&str, &str, &str); 21] = [
    ("scope_level", "String", "city or county"),
    ("scope_code", "String", "division code of the scope"),
    ("scope_name", "String", "name of the scope"),
    ("outcome", "String", "income (元) or log_income (100·ln income: log points)"),
    ("unit", "String", "unit of estimate"),
    ("estimator", "String", "before_after_mean/_median/_share_rose, twfe_did, event_study, cs_att_gt, cs_simple, cs_group, cs_group_overall, cs_event, cs_calendar, cs_calendar_overall"),
    ("cohort", "Int64", "joining year g (cs_att_gt, cs_group)"),
    ("year", "Int64", "calendar year t (cs_att_gt, cs_calendar)"),
    ("event_time", "Int64", "years since joining (event_study, cs_event, cs_att_gt)"),
    ("estimate", "Float64", "the estimate; null when not estimable"),
    ("se", "Float64", "standard error, clustered at `cluster`"),
    ("ci_low", "Float64", "95% confidence interval, lower bound"),
    ("ci_high", "Float64", "95% confidence interval, upper bound"),
    ("n_obs", "UInt64", "household-years used"),
    ("n_households", "UInt64", "households used"),
    ("n_treated", "UInt64", "member households used"),
    ("n_clusters", "UInt64", "clusters"),
    ("control", "String", "comparison households of Callaway & Sant'Anna"),
    ("cluster", "String", "cluster level of the standard errors"),
    ("note", "String", "why a row is not estimable"),
    ("run_id", "String", "lake version the estimates were computed from"),
];

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn markdown(p: &Pipeline, defs: &Definitions) -> String {
    let mut m = String::new();
    let _ = writeln!(m, "# zhenxing data dictionary — {} ({})\n", p.city, p.name);
    let _ = writeln!(
        m,
        "Generated by `zhenxing docs` from `{}` and `{}`; do not edit by hand.\n",
        p.path.display(),
        defs.path.display()
    );
    m.push_str("## Lake datasets (`OUT/lake/<dataset>/county_code=…[/year=…]/part-0.parquet`)\n\n");
    for src in &p.sources {
        let _ = writeln!(
            m,
            "### {} — {} {} ({})\n\nOne row per {}; reported {:?}.\n",
            src.dataset, src.id, src.title, src.title_en, src.grain, src.frequency
        );
        m.push_str("| column | type | unit | official header | accepted variants | rules | description |\n|---|---|---|---|---|---|---|\n");
        for c in source_columns(src) {
            let _ = writeln!(
                m,
                "| `{}` | {} | {} | {} | {} | {} | {} |",
                c.column,
                c.ty,
                cell(&c.unit),
                cell(&c.header),
                cell(&c.variants),
                cell(&c.rule),
                cell(&c.description)
            );
        }
        m.push('\n');
    }
    for (title, cols) in [
        (
            "`OUT/indicators/indicators.parquet`",
            &INDICATOR_COLUMNS[..],
        ),
        (
            "`OUT/indicators/income_effects.parquet`",
            &EFFECT_COLUMNS[..],
        ),
    ] {
        let _ = writeln!(
            m,
            "## {title}\n\n| column | type | description |\n|---|---|---|"
        );
        for (c, t, d) in cols {
            let _ = writeln!(m, "| `{c}` | {t} | {} |", cell(d));
        }
        m.push('\n');
    }
    m.push_str("## Parameters\n\n| name | value |\n|---|---|\n");
    for (k, v) in &defs.params {
        let _ = writeln!(m, "| `{k}` | {} |", cell(v));
    }
    let _ = writeln!(
        m,
        "\nIncome effects: control = {}, cluster = {}, min_treated = {}.\n",
        defs.effects.control.as_str(),
        defs.effects.cluster.as_str(),
        defs.effects.min_treated
    );
    m.push_str("## Indicators\n\n");
    for fam in defs.families() {
        let _ = writeln!(m, "### {} ({fam})\n", defs.family_name(fam));
        for ind in defs.indicators.iter().filter(|i| i.def.family == fam) {
            let _ = writeln!(
                m,
                "#### `{}` {} — {}\n\n{}\n\n- unit: {}; aggregate: {} ({}), scale {}; from dataset `{}`; definition hash `{}`\n",
                ind.def.id,
                ind.def.name_zh,
                ind.def.name_en,
                ind.description,
                ind.def.unit,
                format!("{:?}", ind.def.aggregate).to_lowercase(),
                ind.def.aggregate.describe(),
                ind.def.scale,
                ind.def.dataset,
                ind.hash
            );
            if let Some((label, sql)) = ind.queries.first() {
                if ind.queries.len() > 1 {
                    let labels: Vec<&str> =
                        ind.queries.iter().filter_map(|q| q.0.as_deref()).collect();
                    let _ = writeln!(
                        m,
                        "- one query per category ({}); the first, for {}:\n",
                        labels.join("、"),
                        label.as_deref().unwrap_or("")
                    );
                }
                let _ = writeln!(m, "```sql\n{}\n```\n", sql.trim());
            }
        }
    }
    m
}

fn workbook(p: &Pipeline, defs: &Definitions) -> Result<Workbook, XlsxError> {
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold().set_background_color(0xDDEBF7);
    let quoted = Format::new().set_quote_prefix();
    let plain = Format::new();
    let text = |s: &str| {
        if crate::report::xlsx::looks_like_formula(s) {
            &quoted
        } else {
            &plain
        }
    };
    let ws = wb.add_worksheet();
    ws.set_name("数据集字段")?;
    let h = [
        "数据集",
        "字段",
        "类型",
        "单位",
        "官方表头",
        "可接受的表头写法",
        "规则",
        "说明",
    ];
    header_row(ws, 0, &h, &bold)?;
    ws.set_freeze_panes(1, 0)?;
    let mut row = 1;
    for src in &p.sources {
        for c in source_columns(src) {
            for (i, v) in [
                &c.table,
                &c.column,
                c.ty,
                &c.unit,
                &c.header,
                &c.variants,
                &c.rule,
                &c.description,
            ]
            .iter()
            .enumerate()
            {
                ws.write_string_with_format(row, i as u16, *v, text(v))?;
            }
            row += 1;
        }
    }
    let ws = wb.add_worksheet();
    ws.set_name("指标")?;
    let h = [
        "指标编号",
        "类别",
        "指标名称",
        "英文名称",
        "单位",
        "计算方式",
        "口径说明",
        "数据集",
        "SQL",
        "定义哈希",
    ];
    header_row(ws, 0, &h, &bold)?;
    ws.set_freeze_panes(1, 0)?;
    for (k, ind) in defs.indicators.iter().enumerate() {
        let row = k as u32 + 1;
        let sql = ind.queries.first().map_or("", |q| q.1.trim());
        for (i, v) in [
            ind.def.id.as_str(),
            defs.family_name(&ind.def.family),
            &ind.def.name_zh,
            &ind.def.name_en,
            &ind.def.unit,
            ind.def.aggregate.describe(),
            &ind.description,
            &ind.def.dataset,
            sql,
            &ind.hash,
        ]
        .iter()
        .enumerate()
        {
            ws.write_string_with_format(row, i as u16, *v, text(v))?;
        }
    }
    let ws = wb.add_worksheet();
    ws.set_name("输出表字段")?;
    header_row(ws, 0, &["表", "字段", "类型", "说明"], &bold)?;
    ws.set_freeze_panes(1, 0)?;
    let mut row = 1;
    for (table, cols) in [
        ("indicators", &INDICATOR_COLUMNS[..]),
        ("income_effects", &EFFECT_COLUMNS[..]),
    ] {
        for (c, t, d) in cols {
            for (i, v) in [table, c, t, d].iter().enumerate() {
                ws.write_string_with_format(row, i as u16, *v, text(v))?;
            }
            row += 1;
        }
    }
    let ws = wb.add_worksheet();
    ws.set_name("参数")?;
    ws.write_string_with_format(0, 0, "参数", &bold)?;
    ws.write_string_with_format(0, 1, "取值", &bold)?;
    for (k, (name, v)) in defs.params.iter().enumerate() {
        ws.write_string(k as u32 + 1, 0, name)?;
        ws.write_string_with_format(k as u32 + 1, 1, v, text(v))?;
    }
    Ok(wb)
}

pub fn run(pipeline: &Path, dir: Option<&Path>) -> i32 {
    let (p, defs) = match super::load_with_definitions(pipeline) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let dir = dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| p.out.join("docs"));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("zhenxing docs: {}: {e}", dir.display());
        return exit::FAILED;
    }
    let md = dir.join("data_dictionary.md");
    let xlsx = dir.join("data_dictionary.xlsx");
    let res = crate::report::write_atomic(&md, markdown(&p, &defs).as_bytes()).and_then(|_| {
        let bytes = workbook(&p, &defs)
            .and_then(|mut wb| wb.save_to_buffer())
            .map_err(|e| crate::report::ReportError::Write {
                path: xlsx.clone(),
                message: e.to_string(),
            })?;
        crate::report::write_atomic(&xlsx, &bytes)
    });
    match res {
        Ok(()) => {
            println!(
                "data dictionary written to {} and {}",
                md.display(),
                xlsx.display()
            );
            exit::CLEAN
        }
        Err(e) => {
            eprintln!("zhenxing docs: {e}");
            exit::FAILED
        }
    }
}
