//! `zhenxing docs`: the data dictionary, generated from the pipeline and
//! indicator definitions, as Markdown and as an Excel workbook.

use std::fmt::Write as _;
use std::path::Path;

use rust_xlsxwriter::{Format, Workbook, XlsxError};

use crate::analysis::indicators::Definitions;
use crate::cmd::exit::{CommandError, Done, Outcome};
use crate::config::{FieldType, Frequency, Pipeline, Source};
use crate::fsio::At;
use crate::lake::column_name;
use crate::report::xlsx::header_row;

use crate::cmd::args::PipelineArg;
use std::path::PathBuf;

/// The flags of `zhenxing docs`, as clap reads them.
#[derive(Debug, clap::Args)]
pub struct DocsArgs {
    /// The pipeline definition.
    #[command(flatten)]
    pub p: PipelineArg,
    /// Output folder whose lake the SQL views read (default: from the pipeline file).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Folder to write to (default: OUT/docs).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Also write a PySpark job that computes indicators.parquet from the
    /// lake (job.py, views.sql, indicators.json) to this folder.
    #[arg(long)]
    pub spark: Option<PathBuf>,
    /// Write only the command reference: one Markdown page per command,
    /// made from this help (the repository keeps them in docs/commands).
    #[arg(long, value_name = "DIR")]
    pub commands: Option<PathBuf>,
}

/// Writes the command reference pages (name, text) into `dir`, replacing
/// pages of commands that are gone.
pub(crate) fn write_command_pages(dir: &Path, pages: &[(String, String)]) -> Outcome {
    let written = std::fs::create_dir_all(dir).and_then(|()| {
        for e in std::fs::read_dir(dir)?.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.ends_with(".md") && !pages.iter().any(|(n, _)| *n == name) {
                std::fs::remove_file(e.path())?;
            }
        }
        for (name, text) in pages {
            crate::fsio::write_durable(&dir.join(name), text.as_bytes())?;
        }
        Ok(())
    });
    written.at(dir).map_err(CommandError::failed)?;
    println!("{} command pages in {}", pages.len(), dir.display());
    Ok(Done::Clean)
}

/// One documented column.
pub(crate) struct ColumnDoc {
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

/// The columns every dataset has besides its fields: lineage and the
/// county partition.
const LINEAGE_DOCS: [(&str, &str, &str); 5] = [
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
    for (c, t, d) in LINEAGE_DOCS {
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

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub(crate) fn markdown(p: &Pipeline, defs: &Definitions) -> String {
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
            &crate::analysis::indicators::INDICATOR_COLUMNS[..],
        ),
        (
            "`OUT/indicators/income_effects.parquet`",
            &crate::analysis::effects::EFFECT_COLUMNS[..],
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
    m.push_str("## Problem codes (`rejects.code`, `warnings.code`)\n\n");
    m.push_str(&crate::catalogue::Code::markdown_table());
    m.push('\n');
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
    m.push_str("## Indicators at a glance\n\n");
    m.push_str(&indicator_table(p, defs));
    m.push_str("\n## Indicators\n\n");
    for fam in defs.families() {
        let _ = writeln!(m, "### {} ({fam})\n", defs.family_name(fam));
        for ind in defs.indicators.iter().filter(|i| i.def.family == fam) {
            indicator_section(&mut m, ind);
        }
    }
    m
}

/// One indicator's section: names, definition, how it adds up, and its
/// (first) SQL.
fn indicator_section(m: &mut String, ind: &crate::analysis::indicators::Indicator) {
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
            let labels: Vec<&str> = ind.queries.iter().filter_map(|q| q.0.as_deref()).collect();
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

/// What stands for a year in an indicator's figures.
fn year_is(p: &Pipeline, ind: &crate::analysis::indicators::Indicator) -> String {
    if let Some(y) = &ind.def.year_is {
        return y.clone();
    }
    let freq = p
        .sources
        .iter()
        .find(|s| s.dataset == ind.def.dataset)
        .map(|s| s.frequency);
    match freq {
        Some(crate::config::Frequency::Monthly) | Some(crate::config::Frequency::Quarterly) => {
            "each county's last reported month of the year (`period_used`)".into()
        }
        Some(crate::config::Frequency::Roster) => "the year's roster (its file's period)".into(),
        _ => "the year's report (年度)".into(),
    }
}

/// The table of docs/indicators.md, "The indicators": one row per indicator with its
/// unit, aggregate, denominator and scope (the definition) and what stands
/// for a year. That page holds exactly this text (tested).
pub fn indicator_table(p: &Pipeline, defs: &Definitions) -> String {
    let mut m = String::from(
        "| family | id | indicator | unit | aggregate | denominator / scope | a year is |\n|---|---|---|---|---|---|---|\n",
    );
    for fam in defs.families() {
        for ind in defs.indicators.iter().filter(|i| i.def.family == fam) {
            let cats = if ind.queries.len() > 1 {
                let labels: Vec<&str> = ind.queries.iter().filter_map(|q| q.0.as_deref()).collect();
                let shown = labels.iter().take(6).copied().collect::<Vec<_>>().join("/");
                format!(
                    " (one row per {shown}{})",
                    if labels.len() > 6 { "…" } else { "" }
                )
            } else {
                String::new()
            };
            let _ = writeln!(
                m,
                "| {} | `{}` | {} — {}{cats} | {} | {} | {} | {} |",
                defs.family_name(fam),
                ind.def.id,
                cell(&ind.def.name_zh),
                cell(&ind.def.name_en),
                cell(&ind.def.unit),
                format!("{:?}", ind.def.aggregate).to_lowercase(),
                cell(&ind.description),
                cell(&year_is(p, ind)),
            );
        }
    }
    m
}

fn workbook(p: &Pipeline, defs: &Definitions) -> Result<Workbook, XlsxError> {
    let mut wb = Workbook::new();
    let f = Formats::new();
    field_sheet(&mut wb, p, &f)?;
    indicator_sheet(&mut wb, defs, &f)?;
    let ws = wb.add_worksheet();
    ws.set_name("输出表字段")?;
    header_row(ws, 0, &["表", "字段", "类型", "说明"], &f.bold)?;
    ws.set_freeze_panes(1, 0)?;
    widths(ws, &[16.0, 24.0, 12.0, 70.0])?;
    let mut row = 1;
    for (table, cols) in [
        (
            "indicators",
            &crate::analysis::indicators::INDICATOR_COLUMNS[..],
        ),
        (
            "income_effects",
            &crate::analysis::effects::EFFECT_COLUMNS[..],
        ),
    ] {
        for (c, t, d) in cols {
            for (i, v) in [table, c, t, d].iter().enumerate() {
                ws.write_string_with_format(row, i as u16, *v, f.text(v))?;
            }
            row += 1;
        }
    }
    let ws = wb.add_worksheet();
    ws.set_name("参数")?;
    ws.write_string_with_format(0, 0, "参数", &f.bold)?;
    ws.write_string_with_format(0, 1, "取值", &f.bold)?;
    widths(ws, &[34.0, 40.0])?;
    for (k, (name, v)) in defs.params.iter().enumerate() {
        ws.write_string(k as u32 + 1, 0, name)?;
        ws.write_string_with_format(k as u32 + 1, 1, v, f.text(v))?;
    }
    Ok(wb)
}

/// The dictionary workbook's formats.
struct Formats {
    bold: Format,
    quoted: Format,
    plain: Format,
    wrap: Format,
}

impl Formats {
    fn new() -> Formats {
        Formats {
            bold: Format::new().set_bold().set_background_color(0xDDEBF7),
            quoted: Format::new().set_quote_prefix(),
            plain: Format::new(),
            wrap: Format::new()
                .set_text_wrap()
                .set_align(rust_xlsxwriter::FormatAlign::Top),
        }
    }

    /// Text that Excel would take for a formula is written quoted.
    fn text(&self, s: &str) -> &Format {
        if crate::report::xlsx::looks_like_formula(s) {
            &self.quoted
        } else {
            &self.plain
        }
    }
}

fn widths(ws: &mut rust_xlsxwriter::Worksheet, w: &[f64]) -> Result<(), XlsxError> {
    for (c, w) in w.iter().enumerate() {
        ws.set_column_width(c as u16, *w)?;
    }
    Ok(())
}

/// 数据集字段: every dataset column with its type, unit, headers and rule.
fn field_sheet(wb: &mut Workbook, p: &Pipeline, f: &Formats) -> Result<(), XlsxError> {
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
    header_row(ws, 0, &h, &f.bold)?;
    ws.set_freeze_panes(1, 0)?;
    widths(ws, &[18.0, 24.0, 10.0, 8.0, 20.0, 36.0, 28.0, 50.0])?;
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
                ws.write_string_with_format(row, i as u16, *v, f.text(v))?;
            }
            row += 1;
        }
    }
    Ok(())
}

/// 指标: every indicator with its definition in both languages and its SQL.
fn indicator_sheet(wb: &mut Workbook, defs: &Definitions, f: &Formats) -> Result<(), XlsxError> {
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
        "Definition",
        "数据集",
        "SQL",
        "定义哈希",
    ];
    header_row(ws, 0, &h, &f.bold)?;
    ws.set_freeze_panes(1, 0)?;
    widths(
        ws,
        &[
            30.0, 14.0, 30.0, 30.0, 8.0, 22.0, 50.0, 50.0, 18.0, 70.0, 18.0,
        ],
    )?;
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
            &ind.description_zh,
            &ind.description,
            &ind.def.dataset,
            sql,
            &ind.hash,
        ]
        .iter()
        .enumerate()
        {
            // the definition and the SQL wrap in their wide columns
            let fmt = if matches!(i, 6 | 7 | 9) {
                &f.wrap
            } else {
                f.text(v)
            };
            ws.write_string_with_format(row, i as u16, *v, fmt)?;
        }
    }
    Ok(())
}

/// The PySpark job: the driver, the views over the lake (its path as
/// `__LAKE__`, which the driver fills in from `--lake`), and every
/// indicator with its SQL and how it adds up.
fn spark_job(
    p: &Pipeline,
    defs: &Definitions,
    lake: &Path,
    dir: &Path,
) -> Result<(), crate::report::ReportError> {
    use crate::analysis::indicators::{Aggregate, NOT_RANKED_NO_SCORE, NOT_RANKED_UNREPORTED};
    use crate::analysis::views::{views, Dialect};
    let werr = |path: &Path, e: std::io::Error| crate::report::ReportError::Write {
        path: path.to_path_buf(),
        source: e.into(),
    };
    std::fs::create_dir_all(dir).map_err(|e| werr(dir, e))?;
    // the job runs from anywhere: the lake's full path
    let lake = &std::fs::canonicalize(lake).unwrap_or_else(|_| lake.to_path_buf());
    let lake_s = lake.display().to_string().replace('\'', "''");
    let sql = views(p, defs, lake, Dialect::Spark).replace(&lake_s, "__LAKE__");
    crate::report::write_atomic(&dir.join("views.sql"), sql.as_bytes())?;
    let indicators: Vec<serde_json::Value> = defs
        .indicators
        .iter()
        .map(|ind| {
            let d = &ind.def;
            serde_json::json!({
                "id": d.id, "family": d.family, "name_zh": d.name_zh, "name_en": d.name_en,
                "unit": d.unit, "hash": ind.hash, "dataset": d.dataset,
                "aggregate": match d.aggregate {
                    Aggregate::Ratio => "ratio",
                    Aggregate::Share => "share",
                    Aggregate::Sum => "sum",
                    Aggregate::Mean => "mean",
                    Aggregate::Median => "median",
                },
                "scale": d.scale,
                "once_per_unit": d.once_per_unit,
                "village_rows": d.village_rows,
                "rank": d.rank.map(|r| match r {
                    crate::analysis::indicators::defs::RankOrder::Desc => "desc",
                    crate::analysis::indicators::defs::RankOrder::Asc => "asc",
                }),
                "queries": ind.queries,
            })
        })
        .collect();
    let year_end_datasets: Vec<&str> = p
        .sources
        .iter()
        .filter(|s| matches!(s.frequency, Frequency::Monthly | Frequency::Quarterly))
        .map(|s| s.dataset.as_str())
        .collect();
    let meta = serde_json::json!({
        "city": p.city,
        "lake": lake.display().to_string(),
        "year_end_datasets": year_end_datasets,
        "notes": {"not_reported": NOT_RANKED_UNREPORTED, "no_score": NOT_RANKED_NO_SCORE},
        "indicators": indicators,
    });
    let text =
        serde_json::to_string_pretty(&meta).map_err(|e| werr(dir, std::io::Error::other(e)))?;
    crate::report::write_atomic(&dir.join("indicators.json"), text.as_bytes())?;
    crate::report::write_atomic(&dir.join("job.py"), SPARK_JOB.as_bytes())
}

/// The driver of the PySpark job (`docs --spark`).
const SPARK_JOB: &str = include_str!("../analysis/spark_job.py");

/// `zhenxing docs` with its flags.
pub fn run(a: DocsArgs) -> Outcome {
    docs(
        &a.p.pipeline,
        a.out.as_deref(),
        a.dir.as_deref(),
        a.spark.as_deref(),
    )
}

fn docs(pipeline: &Path, out: Option<&Path>, dir: Option<&Path>, spark: Option<&Path>) -> Outcome {
    let (p, defs) = super::load_with_definitions(pipeline)?;
    let out = super::out_dir(&p, out);
    let dir = dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| out.join("docs"));
    std::fs::create_dir_all(&dir)
        .at(&dir)
        .map_err(CommandError::failed)?;
    let md = dir.join("data_dictionary.md");
    let xlsx = dir.join("data_dictionary.xlsx");
    let res = crate::report::write_atomic(&md, markdown(&p, &defs).as_bytes()).and_then(|_| {
        let bytes = workbook(&p, &defs)
            .and_then(|mut wb| wb.save_to_buffer())
            .map_err(|e| crate::report::ReportError::Write {
                path: xlsx.clone(),
                source: e.into(),
            })?;
        crate::report::write_atomic(&xlsx, &bytes)
    });
    // the indicator SQL and the views it needs, over OUT/lake as it lies
    let lake = std::path::absolute(out.join("lake")).unwrap_or_else(|_| out.join("lake"));
    use crate::analysis::views::{queries, views, Dialect};
    let res = res.and_then(|()| {
        crate::report::write_atomic(
            &dir.join("views_duckdb.sql"),
            views(&p, &defs, &lake, Dialect::DuckDb).as_bytes(),
        )?;
        crate::report::write_atomic(
            &dir.join("views_spark.sql"),
            views(&p, &defs, &lake, Dialect::Spark).as_bytes(),
        )?;
        crate::report::write_atomic(&dir.join("indicators.sql"), queries(&defs).as_bytes())?;
        match spark {
            Some(s) => spark_job(&p, &defs, &lake, s),
            None => Ok(()),
        }
    });
    res.map_err(CommandError::failed)?;
    println!(
        "data dictionary written to {} and {}; SQL views over {} in views_duckdb.sql and views_spark.sql, the indicator queries in indicators.sql",
        md.display(),
        xlsx.display(),
        lake.display()
    );
    if let Some(s) = spark {
        println!(
            "the indicators as a PySpark job in {}: spark-submit {}/job.py --out PATH/indicators.parquet [--lake URI]",
            s.display(),
            s.display()
        );
    }
    Ok(Done::Clean)
}
