//! `zhenxing query "SQL"`: SQL over the published lake and the indicator
//! tables, printed as a table, as CSV, or written to Parquet.

use std::io::Write;
use std::path::Path;

use polars::prelude::*;

use crate::analysis::indicators::Tables;
use crate::cmd::exit::{CommandError, Done, Outcome};

use crate::cmd::args::Where;
use std::path::PathBuf;

/// The flags of `zhenxing query`, as clap reads them.
#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    /// The query, e.g. "SELECT county, COUNT(*) FROM org_structure GROUP BY county".
    pub sql: String,
    /// The pipeline definition and output folder.
    #[command(flatten)]
    pub at: Where,
    /// Print CSV instead of a table.
    #[arg(long)]
    pub csv: bool,
    /// Write the result to this Parquet file instead of printing it.
    #[arg(long)]
    pub parquet: Option<PathBuf>,
    /// Rows printed as a table (CSV and Parquet get every row).
    #[arg(long, default_value_t = 50)]
    pub max_rows: usize,
    /// The tables as the indicator SQL sees them: the years of monthly
    /// datasets (each county's last reported month) and the definitions' [scope].
    #[arg(long)]
    pub as_indicators: bool,
}

/// Registers the indicator tables next to the lake's.
pub(crate) fn with_indicator_tables(
    t: &mut Tables,
    out: &Path,
) -> Result<(), crate::lake::LakeError> {
    let dir = crate::analysis::indicators::dir(out);
    for name in ["indicators", "income_effects"] {
        let path = dir.join(format!("{name}.parquet"));
        if path.is_file() {
            let df = crate::lake::read_parquet(&path)?;
            t.frames.insert(name.to_string(), df);
        }
    }
    Ok(())
}

/// A cell as text: strings without quotes, nulls empty, numbers with every
/// digit (1553980400.0, never polars' `1.5540e9`).
pub(crate) fn cell_text(v: &AnyValue<'_>) -> String {
    match v {
        AnyValue::Null => String::new(),
        AnyValue::String(s) => (*s).to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        AnyValue::Float64(x) => float_text(*x),
        AnyValue::Float32(x) => float_text(f64::from(*x)),
        other => other.to_string(),
    }
}

/// The shortest text that reads back as the same number, without an
/// exponent; a whole number keeps one decimal (`3.0`).
fn float_text(x: f64) -> String {
    if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e17 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}

/// A text cell as CSV holds it: text that a spreadsheet would run as a
/// formula (`=…`, `+…`, `-…`, `@…`, also full-width, tab, CR) gets a
/// leading apostrophe, as the report workbook's quote prefix does. Numbers
/// are not text and are written as they are.
pub(crate) fn csv_text(v: &AnyValue<'_>) -> String {
    let t = cell_text(v);
    let is_text = matches!(v, AnyValue::String(_) | AnyValue::StringOwned(_));
    if is_text && crate::report::xlsx::looks_like_formula(&t) {
        format!("'{t}")
    } else {
        t
    }
}

/// Writes a frame as CSV (RFC 4180 quoting, formula-like text escaped).
pub fn write_csv(df: &DataFrame, w: &mut dyn Write) -> Result<(), csv::Error> {
    let mut c = csv::Writer::from_writer(w);
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    c.write_record(&names)?;
    let cols = df.columns();
    for i in 0..df.height() {
        let rec: Vec<String> = cols
            .iter()
            .map(|col| col.get(i).map(|v| csv_text(&v)).unwrap_or_default())
            .collect();
        c.write_record(&rec)?;
    }
    Ok(c.flush()?)
}

/// Prints a frame as an aligned table (polars' formatting).
pub(crate) fn print_table(df: &DataFrame, max_rows: usize) {
    // polars reads its display limits from the environment
    std::env::set_var("POLARS_FMT_MAX_ROWS", max_rows.to_string());
    std::env::set_var("POLARS_FMT_MAX_COLS", "40");
    std::env::set_var("POLARS_FMT_STR_LEN", "100");
    std::env::set_var("POLARS_FMT_TABLE_HIDE_DATAFRAME_SHAPE_INFORMATION", "1");
    std::env::set_var("POLARS_FMT_TABLE_HIDE_COLUMN_DATA_TYPES", "1");
    // a Markdown table that is never wrapped: it can be pasted as it is
    std::env::set_var("POLARS_FMT_TABLE_FORMATTING", "ASCII_MARKDOWN");
    std::env::set_var("POLARS_TABLE_WIDTH", "10000");
    // every digit of a float, as CSV and Parquet have them
    polars_core::fmt::set_float_fmt(polars_core::fmt::FloatFmt::Full);
    println!("{df}");
    println!("{} rows", df.height());
}

/// What an analyst writes that polars' SQL reads otherwise: the one
/// unnamed `count(*)` of a select list is named `count`, as DuckDB names
/// it, so that `ORDER BY count` and `ORDER BY count(*)` both order by it.
/// Text inside quotes is never touched.
pub(crate) fn analyst_sql(sql: &str) -> String {
    let lower = sql.to_ascii_lowercase();
    // byte offsets outside '…' and "…"
    let mut quoted = vec![false; sql.len()];
    let mut quote: Option<u8> = None;
    for (i, b) in sql.bytes().enumerate() {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => quoted[i] = true,
            None if b == b'\'' || b == b'"' => quote = Some(b),
            None => {}
        }
    }
    let find_all = |pat: &str| -> Vec<usize> {
        lower
            .match_indices(pat)
            .map(|(i, _)| i)
            .filter(|&i| !quoted[i])
            .collect()
    };
    let from = find_all(" from ").first().copied().unwrap_or(sql.len());
    let counts: Vec<usize> = find_all("count(*)")
        .into_iter()
        .filter(|&i| i < from)
        .collect();
    let [at] = counts[..] else {
        return sql.to_string();
    };
    let end = at + "count(*)".len();
    if lower[end..].trim_start().starts_with("as ") {
        return sql.to_string();
    }
    let mut out = format!("{} AS count{}", &sql[..end], &sql[end..]);
    // ORDER BY count(*) orders by the name now
    let shift = " AS count".len();
    if let Some(order) = find_all("order by").first().map(|i| i + shift) {
        let head = out[..order].to_string();
        let tail = out[order..]
            .replace("count(*)", "count")
            .replace("COUNT(*)", "count");
        out = head + &tail;
    }
    out
}

/// One line for an SQL error: polars' message without the query plan it
/// appends, and what to write instead where polars' SQL is narrower than
/// DuckDB's.
pub(crate) fn sql_error(sql: &str, message: &str) -> String {
    let first = message.lines().next().unwrap_or("").trim();
    let join = sql.to_uppercase().contains(" JOIN ");
    let hint = if join && first.contains("unable to find column") {
        " — zhenxing's SQL (polars) takes only column = column conditions in a JOIN's ON: \
         put a condition such as `c.year = 2024` in WHERE, or join a subquery: \
         LEFT JOIN (SELECT * FROM collective_economy WHERE year = 2024) c ON c.village_code = v.village_code"
    } else if first.contains("percentile_") || first.to_uppercase().contains("WITHIN GROUP") {
        " — write quantile_cont(x, 0.9) (or median(x)) instead of percentile_cont(0.9) WITHIN GROUP (ORDER BY x)"
    } else {
        ""
    };
    format!("{first}{hint}")
}

/// `zhenxing query` with its flags.
pub fn run(a: QueryArgs) -> Outcome {
    query(
        &a.at.p.pipeline,
        a.at.out.as_deref(),
        &a.sql,
        a.csv,
        a.parquet.as_deref(),
        a.max_rows,
        a.as_indicators,
    )
}

/// The lake's tables and the indicator tables, as the indicator SQL
/// sees them with `--as-indicators`. No lake is a usage error.
fn tables(
    p: &crate::config::Pipeline,
    out: &Path,
    as_indicators: bool,
) -> Result<Tables, CommandError> {
    let mut t = Tables::load(p, out, true)
        .map_err(CommandError::failed)?
        .ok_or_else(|| super::no_lake(out))?;
    if as_indicators {
        let defs = super::load_definitions(p)?;
        t.as_indicators_see(p, &defs.scope.kinds)
            .map_err(CommandError::failed)?;
    }
    with_indicator_tables(&mut t, out).map_err(CommandError::failed)?;
    Ok(t)
}

fn query(
    pipeline: &Path,
    out: Option<&Path>,
    sql: &str,
    csv: bool,
    parquet: Option<&Path>,
    max_rows: usize,
    as_indicators: bool,
) -> Outcome {
    let p = super::load_pipeline(pipeline)?;
    let out = super::out_dir(&p, out);
    let t = tables(&p, &out, as_indicators)?;
    let mut ctx = t.context();
    let sql = &analyst_sql(sql);
    let mut df = ctx.execute(sql).and_then(|lf| lf.collect()).map_err(|e| {
        let mut said = sql_error(sql, &e.to_string());
        if e.to_string().contains("was not found") {
            let names: Vec<String> = t.frames.keys().cloned().collect();
            said.push_str(&format!("\ntables: {}", names.join(", ")));
        }
        CommandError::usage(said)
    })?;
    // polars names COUNT(*) `len`; SQL users expect `count`
    let upper = sql.to_uppercase().split_whitespace().collect::<String>();
    if upper.contains("COUNT(*)") && !upper.contains("ASLEN") && df.column("count").is_err() {
        let _ = df.rename("len", "count".into());
    }
    match (parquet, csv) {
        (Some(path), _) => {
            let meta = vec![("zhenxing.lake_version".to_string(), t.lake_version.clone())];
            crate::lake::write_parquet(path, &mut df, meta, 65536).map_err(CommandError::failed)?;
            println!("{} rows written to {}", df.height(), path.display());
        }
        (None, true) => {
            write_csv(&df, &mut std::io::stdout().lock()).map_err(CommandError::failed)?
        }
        (None, false) => print_table(&df, max_rows),
    }
    Ok(Done::Clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unnamed_count_is_named_count_and_ordered_by() {
        assert_eq!(
            analyst_sql("SELECT code, count(*) FROM rejects GROUP BY code ORDER BY count DESC"),
            "SELECT code, count(*) AS count FROM rejects GROUP BY code ORDER BY count DESC"
        );
        assert_eq!(
            analyst_sql("select code, COUNT(*) from rejects group by code order by COUNT(*) desc"),
            "select code, COUNT(*) AS count from rejects group by code order by count desc"
        );
        // named already, two of them, or inside quotes: left as written
        for sql in [
            "SELECT code, count(*) AS n FROM rejects GROUP BY code ORDER BY n",
            "SELECT count(*), count(*) FROM rejects",
            "SELECT 'count(*)' FROM rejects",
        ] {
            assert_eq!(analyst_sql(sql), sql);
        }
    }
}
