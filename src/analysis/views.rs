//! The tables the indicator SQL sees ([`super::tables`]), written as SQL
//! views over `OUT/lake` for DuckDB and Spark SQL, so that every published
//! query runs on the lake as it lies: text periods, a year of a monthly
//! dataset from each county's last reported month, `<dataset>_periods`,
//! `<dataset>_county_periods`, the registry as of each period and the
//! `[scope]` of the definitions. `zhenxing docs` writes them.

use std::fmt::Write as _;
use std::path::Path;

use polars::prelude::DataType;

use crate::analysis::indicators::Definitions;
use crate::config::{Frequency, Pipeline, Source};

/// Which SQL engine the views are written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// DuckDB.
    DuckDb,
    /// Spark SQL.
    Spark,
}

impl Dialect {
    fn text(self) -> &'static str {
        match self {
            Dialect::DuckDb => "VARCHAR",
            Dialect::Spark => "STRING",
        }
    }

    /// Reads every Parquet file of a dataset folder, hive partitions too.
    fn scan(self, dir: &str) -> String {
        match self {
            Dialect::DuckDb => format!(
                "read_parquet('{dir}/**/*.parquet', hive_partitioning = true, union_by_name = true)"
            ),
            Dialect::Spark => format!("parquet.`{dir}`"),
        }
    }

    fn file(self, path: &str) -> String {
        match self {
            Dialect::DuckDb => format!("read_parquet('{path}')"),
            Dialect::Spark => format!("parquet.`{path}`"),
        }
    }

    fn view(self) -> &'static str {
        match self {
            Dialect::DuckDb => "CREATE OR REPLACE VIEW",
            Dialect::Spark => "CREATE OR REPLACE TEMPORARY VIEW",
        }
    }

    /// `x` is four digits.
    fn is4(self, x: &str) -> String {
        match self {
            Dialect::DuckDb => format!("regexp_full_match({x}, '[0-9]{{4}}')"),
            Dialect::Spark => format!("({x} RLIKE '^[0-9]{{4}}$')"),
        }
    }

    /// A date as `YYYY-MM`, `YYYY` or `YYYY-Qn`.
    fn month_text(self, d: &str) -> String {
        match self {
            Dialect::DuckDb => format!("strftime({d}, '%Y-%m')"),
            Dialect::Spark => format!("date_format({d}, 'yyyy-MM')"),
        }
    }

    fn year_text(self, d: &str) -> String {
        match self {
            Dialect::DuckDb => format!("strftime({d}, '%Y')"),
            Dialect::Spark => format!("date_format({d}, 'yyyy')"),
        }
    }

    fn quarter_text(self, d: &str) -> String {
        format!(
            "{} || '-Q' || CAST(quarter({d}) AS {})",
            self.year_text(d),
            self.text()
        )
    }

    fn sql_type(self, dt: &DataType) -> &'static str {
        match dt {
            DataType::Int64 | DataType::Int32 | DataType::UInt64 | DataType::UInt32 => "BIGINT",
            DataType::Float64 | DataType::Float32 => "DOUBLE",
            DataType::Boolean => "BOOLEAN",
            DataType::Date => "DATE",
            _ => self.text(),
        }
    }
}

/// `x` is a year (four digits).
fn is_year(d: Dialect, x: &str) -> String {
    format!("(length({x}) = 4 AND {})", d.is4(x))
}

/// `2024` → `2023`, `2024-06` → `2023-06`; NULL for `current`.
fn year_before(d: Dialect, x: &str) -> String {
    let t = d.text();
    format!(
        "CASE WHEN {} THEN lpad(CAST(CAST(substr({x}, 1, 4) AS INT) - 1 AS {t}), 4, '0') || substr({x}, 5) END",
        d.is4(&format!("substr({x}, 1, 4)"))
    )
}

/// The last day of a text period (NULL for `current`).
fn period_end(d: Dialect, x: &str) -> String {
    let y = format!("CAST(substr({x}, 1, 4) AS INT)");
    format!(
        "CASE WHEN {year} THEN make_date({y}, 12, 31) \
         WHEN {y4} AND length({x}) = 7 AND substr({x}, 5, 2) = '-Q' \
         THEN last_day(make_date({y}, CAST(substr({x}, 7, 1) AS INT) * 3, 1)) \
         WHEN {y4} AND length({x}) = 7 AND substr({x}, 5, 1) = '-' \
         THEN last_day(make_date({y}, CAST(substr({x}, 6, 2) AS INT), 1)) END",
        year = is_year(d, x),
        y4 = d.is4(&format!("substr({x}, 1, 4)")),
    )
}

/// `previous` as [`super::tables`] computes it: within the partition (the
/// period's length, and the county for `_county_periods`), a year's is the
/// year before when present, another period's is the one before it.
fn previous(d: Dialect, partition: &str) -> String {
    let lag = format!("LAG(period) OVER (PARTITION BY {partition} ORDER BY period)");
    format!(
        "CASE WHEN {} THEN CASE WHEN {lag} = {yb} THEN {lag} END ELSE {lag} END",
        is_year(d, "period"),
        yb = year_before(d, "period"),
    )
}

/// The lake's columns of a dataset and their types, in order, without
/// `county_code` (a partition folder, read separately).
fn lake_columns(src: &Source) -> Vec<(String, DataType)> {
    match crate::lake::empty_frame(src) {
        Ok(df) => df
            .columns()
            .iter()
            .filter(|c| c.name().as_str() != "county_code")
            .map(|c| (c.name().to_string(), c.dtype().clone()))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The views of every table the indicator SQL names, for one dialect,
/// reading the lake at `lake` (an absolute path).
pub fn views(p: &Pipeline, defs: &Definitions, lake: &Path, d: Dialect) -> String {
    let lake_s = lake.display().to_string().replace('\'', "''");
    let t = d.text();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "-- zhenxing: the tables the indicator SQL of {} reads, as {} views over\n\
         -- the lake {lake_s}. Run this file, then any query of `zhenxing docs`\n\
         -- (indicators_{}.sql) or of pipelines/indicators.toml with its parameters filled in.",
        defs.path.display(),
        match d {
            Dialect::DuckDb => "DuckDB",
            Dialect::Spark => "Spark SQL",
        },
        match d {
            Dialect::DuckDb => "duckdb",
            Dialect::Spark => "spark",
        }
    );
    if d == Dialect::Spark {
        // partition folders (county_code=320612) stay text, as zhenxing reads them
        s.push_str("SET spark.sql.sources.partitionColumnTypeInference.enabled = false;\n");
    }
    let all_kinds =
        defs.scope.kinds.iter().any(|k| k == "村") && defs.scope.kinds.iter().any(|k| k == "社区");
    let kinds = defs
        .scope
        .kinds
        .iter()
        .map(|k| format!("'{}'", k.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ");
    lake_views(&mut s, p, lake, &lake_s, d);
    // the registry as the lake holds it; the queries keep a merged village
    // for the periods before its merge date
    if let Some(reg) = p.registry_source() {
        let cols: Vec<String> = lake_columns(reg)
            .into_iter()
            .map(|(c, _)| c)
            .filter(|c| !crate::lake::LINEAGE.contains(&c.as_str()))
            .collect();
        let scope = if all_kinds {
            String::new()
        } else {
            format!(" WHERE kind IS NULL OR kind IN ({kinds})")
        };
        let _ = writeln!(
            s,
            "{} villages AS SELECT {}, CAST(county_code AS {t}) AS county_code FROM {}__lake{scope};",
            d.view(),
            cols.join(", "),
            reg.dataset
        );
    }
    let registry = p.registry_source().map(|r| r.dataset.clone());
    for src in &p.sources {
        if Some(&src.dataset) == registry.as_ref() {
            continue;
        }
        // the scope: villages of the kinds the definitions count
        let scope = match (&registry, all_kinds) {
            (Some(r), false) if lake_columns(src).iter().any(|(c, _)| c == "village_code") => {
                format!(
                    " WHERE t.village_code IS NULL OR t.village_code NOT IN \
                     (SELECT village_code FROM {r}__lake WHERE kind IS NOT NULL AND kind NOT IN ({kinds}))"
                )
            }
            _ => String::new(),
        };
        dataset_views(&mut s, src, d, &scope);
    }
    s
}

/// A `<dataset>__lake` view per dataset over its Parquet files (an empty
/// table of the right columns when the lake has none yet), and the files
/// table.
fn lake_views(s: &mut String, p: &Pipeline, lake: &Path, lake_s: &str, d: Dialect) {
    let t = d.text();
    for src in &p.sources {
        let dir = format!("{lake_s}/{}", src.dataset);
        let from = if super::tables::walk_has_parquet(&lake.join(&src.dataset)) || !lake.exists() {
            d.scan(&dir)
        } else {
            // no file yet: an empty table of the right columns
            let cols: Vec<String> = lake_columns(src)
                .iter()
                .map(|(c, dt)| format!("CAST(NULL AS {}) AS {c}", d.sql_type(dt)))
                .chain([format!("CAST(NULL AS {t}) AS county_code")])
                .collect();
            format!("(SELECT {} WHERE 1 = 0)", cols.join(", "))
        };
        let _ = writeln!(
            s,
            "{} {}__lake AS SELECT * FROM {from};",
            d.view(),
            src.dataset
        );
    }
    let _ = writeln!(
        s,
        "{} zhenxing_files AS SELECT sha256, period FROM {};",
        d.view(),
        d.file(&format!("{lake_s}/_zhenxing/files.parquet"))
    );
}

/// A dataset's view as the indicator SQL reads it (the text period; a
/// monthly or quarterly dataset also as each county's last period of a
/// year), and its `_periods` and `_county_periods` views.
fn dataset_views(s: &mut String, src: &crate::config::Source, d: Dialect, scope: &str) {
    let t = d.text();
    let ds = &src.dataset;
    let cols: Vec<String> = lake_columns(src)
        .into_iter()
        .map(|(c, _)| c)
        .filter(|c| c != "period")
        .collect();
    let list = |alias: &str| {
        cols.iter()
            .map(|c| format!("{alias}.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let dated = matches!(src.frequency, Frequency::Monthly | Frequency::Quarterly)
        && src.field_index("period").is_some();
    let text_period = if dated {
        if src.frequency == Frequency::Quarterly {
            d.quarter_text("t.period")
        } else {
            d.month_text("t.period")
        }
    } else if crate::lake::has_year(src) {
        format!("lpad(CAST(t.year AS {t}), 4, '0')")
    } else {
        "COALESCE(f.period, 'current')".to_string()
    };
    let files_join = if dated || crate::lake::has_year(src) {
        String::new()
    } else {
        " LEFT JOIN zhenxing_files f ON f.sha256 = t.source_file_sha256".to_string()
    };
    let _ = write!(
        s,
        "{} {ds} AS SELECT {}, CAST(t.county_code AS {t}) AS county_code, {text_period} AS period \
         FROM {ds}__lake t{files_join}{scope}",
        d.view(),
        list("t"),
    );
    if dated {
        // the year: each county's last reported period of the year
        let year = d.year_text("x.period");
        let _ = write!(
            s,
            " UNION ALL SELECT {}, CAST(x.county_code AS {t}) AS county_code, {year} AS period \
             FROM (SELECT t.*, MAX(t.period) OVER (PARTITION BY t.county_code, {}) AS last_in_year \
             FROM {ds}__lake t{scope}) x WHERE x.period = x.last_in_year",
            list("x"),
            d.year_text("t.period"),
        );
    }
    s.push_str(";\n");
    let _ = writeln!(
        s,
        "{} {ds}_periods AS SELECT period, {prev} AS previous, {yb} AS previous_year, \
         {end} AS period_end FROM (SELECT DISTINCT period FROM {ds} WHERE period IS NOT NULL) ps;",
        d.view(),
        prev = previous(d, "length(period)"),
        yb = year_before(d, "period"),
        end = period_end(d, "period"),
    );
    let _ = writeln!(
        s,
        "{} {ds}_county_periods AS SELECT county_code, period, {prev} AS previous \
         FROM (SELECT DISTINCT county_code, period FROM {ds} WHERE period IS NOT NULL) ps;",
        d.view(),
        prev = previous(d, "county_code, length(period)"),
    );
}

/// Every indicator query with its parameters filled in, one statement
/// each, for running after [`views`].
pub fn queries(defs: &Definitions) -> String {
    let mut s = String::new();
    for ind in &defs.indicators {
        for (label, sql) in &ind.queries {
            let _ = writeln!(
                s,
                "-- {}{}: {} ({})\n{};\n",
                ind.def.id,
                label
                    .as_ref()
                    .map(|l| format!(" [{l}]"))
                    .unwrap_or_default(),
                ind.def.name_zh,
                ind.def.name_en,
                sql.trim_end()
            );
        }
    }
    s
}
