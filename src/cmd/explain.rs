//! `zhenxing explain INDICATOR --geo G --period P`: the definition, the
//! numerator and denominator, and every lake row behind one figure with
//! the file, sheet and row it came from.

use std::collections::BTreeMap;
use std::path::PathBuf;

use polars::prelude::*;

use crate::analysis::indicators::{aggregate, city_of, run_queries, Level, Tables, UnitRow, Units};
use crate::cmd::exit::{CommandError, Done, Outcome};

use crate::cmd::args::Where;

/// The flags of `zhenxing explain`, as clap reads them.
#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// Indicator id, e.g. org_four_in_one (see `zhenxing docs`).
    pub indicator: String,
    /// The place: its name (如皋市, 白蒲镇, a village's name) or its code: the city's, a county's 6 digits, a township's 9 or a village's 12.
    #[arg(long)]
    pub geo: String,
    /// Period as in the indicator table, e.g. 2024 or 2024-06.
    #[arg(long)]
    pub period: String,
    /// Category, for indicators with a breakdown (e.g. 5星 or 10-30万元).
    #[arg(long)]
    pub category: Option<String>,
    /// The pipeline definition and output folder.
    #[command(flatten)]
    pub at: Where,
    /// Print the rows as CSV instead of a table.
    #[arg(long)]
    pub csv: bool,
}

/// Lake rows of a dataset by the value of one column: (period, file, sheet, row).
type Lineage = BTreeMap<String, Vec<(String, String, String, i64)>>;

fn lineage(df: &DataFrame, column: &str) -> PolarsResult<Lineage> {
    let s = |n: &str| -> PolarsResult<Vec<Option<String>>> {
        Ok(df
            .column(n)?
            .cast(&DataType::String)?
            .str()?
            .iter()
            .map(|v| v.map(str::to_string))
            .collect())
    };
    let key = s(column)?;
    let period = s("period")?;
    let file = s("source_file")?;
    let sheet = s("source_sheet")?;
    let row: Vec<Option<i64>> = df
        .column("source_row")?
        .cast(&DataType::Int64)?
        .i64()?
        .iter()
        .collect();
    let mut out: Lineage = BTreeMap::new();
    for i in 0..df.height() {
        if let Some(k) = &key[i] {
            out.entry(k.clone()).or_default().push((
                period[i].clone().unwrap_or_default(),
                file[i].clone().unwrap_or_default(),
                sheet[i].clone().unwrap_or_default(),
                row[i].unwrap_or(0),
            ));
        }
    }
    Ok(out)
}

fn in_geo(r: &UnitRow, geo: &str, city: &str) -> bool {
    if geo == city {
        return true;
    }
    match geo.len() {
        6 => r.county_code == geo,
        9 | 12 => r
            .village_code
            .as_deref()
            .is_some_and(|v| v.starts_with(geo)),
        _ => false,
    }
}

/// `zhenxing explain` with its flags.
pub fn run(o: ExplainArgs) -> Outcome {
    let (p, defs) = super::load_with_definitions(&o.at.p.pipeline)?;
    explain(&o, &p, &defs)?;
    Ok(Done::Clean)
}

/// What stops `explain`: a question the lake cannot answer as asked
/// (exit 2, with what it can answer), or a failure to read it (exit 3).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExplainError {
    #[error("no indicator {id}; indicators: {known}")]
    NoIndicator { id: String, known: String },
    #[error("{0} has no published lake")]
    NoLake(PathBuf),
    #[error("{id} has a breakdown; name one with --category ({categories})")]
    NeedsCategory { id: String, categories: String },
    #[error("{id} has no rows for geo {geo} and period {period}; periods: {periods}")]
    NoRows {
        id: String,
        geo: String,
        period: String,
        periods: String,
    },
    #[error("geo {0} is not a city, county, township or village code here")]
    NoGeo(String),
    #[error("{given} is not the name or code of the city, a county, a township or a village here{}", suggested(.suggestions))]
    UnknownGeo {
        given: String,
        suggestions: Vec<String>,
    },
    #[error("{given} names more than one place; give its code: {}", .places.join(", "))]
    AmbiguousGeo { given: String, places: Vec<String> },
    #[error("reading {dataset}: {source}")]
    Lineage {
        dataset: String,
        source: PolarsError,
    },
    #[error(transparent)]
    Lake(#[from] crate::lake::LakeError),
    #[error(transparent)]
    Query(#[from] crate::analysis::indicators::IndicatorError),
    #[error("cannot write the CSV")]
    Csv(#[from] csv::Error),
    #[error("{0}")]
    Frame(#[from] PolarsError),
}

impl From<ExplainError> for CommandError {
    /// A question the lake cannot answer as asked is a usage error, a
    /// lake that cannot be read a failure.
    fn from(e: ExplainError) -> CommandError {
        match e {
            ExplainError::NoIndicator { .. }
            | ExplainError::NoLake(_)
            | ExplainError::NeedsCategory { .. }
            | ExplainError::NoRows { .. }
            | ExplainError::NoGeo(_)
            | ExplainError::UnknownGeo { .. }
            | ExplainError::AmbiguousGeo { .. } => CommandError::usage(e),
            _ => CommandError::failed(e),
        }
    }
}

/// The figure asked for, the rows it is made of and where it was found.
struct Figure<'d> {
    defs: &'d crate::analysis::indicators::Definitions,
    idx: usize,
    tables: Tables,
    rows: Vec<UnitRow>,
    level: Level,
    fig: crate::analysis::indicators::IndicatorRow,
}

/// Prints the figure (definition, SQL, arithmetic) and the rows behind it.
fn explain(
    o: &ExplainArgs,
    p: &crate::config::Pipeline,
    defs: &crate::analysis::indicators::Definitions,
) -> Result<(), ExplainError> {
    let fig = figure(o, p, defs)?;
    // with --csv, stdout is the CSV alone (`explain --csv > f.csv`); the
    // definition and the figure go to stderr
    let say = |text: String| {
        if o.csv {
            eprintln!("{text}")
        } else {
            println!("{text}")
        }
    };
    say(header(o, &fig));
    let (df, units) = rows_frame(&fig)?;
    let n = df.height();
    say(format!(
        "\nrows behind the figure ({units} units, {n} lake rows):"
    ));
    if o.csv {
        let stdout = std::io::stdout();
        super::query::write_csv(&df, &mut stdout.lock())?;
    } else {
        super::query::print_table(&df, n.max(1));
    }
    Ok(())
}

/// Finds the indicator, computes its unit rows on the lake as the
/// indicator stage sees it, and adds up the ones of the geography, period
/// and category asked for.
fn figure<'d>(
    o: &ExplainArgs,
    p: &crate::config::Pipeline,
    defs: &'d crate::analysis::indicators::Definitions,
) -> Result<Figure<'d>, ExplainError> {
    let Some(idx) = defs.indicators.iter().position(|i| i.def.id == o.indicator) else {
        let ids: Vec<&str> = defs.indicators.iter().map(|i| i.def.id.as_str()).collect();
        return Err(ExplainError::NoIndicator {
            id: o.indicator.clone(),
            known: ids.join(", "),
        });
    };
    let ind = &defs.indicators[idx];
    let out = super::out_dir(p, o.at.out.as_deref());
    let mut t = Tables::load(p, &out, true)?.ok_or_else(|| ExplainError::NoLake(out.clone()))?;
    t.as_indicators_see(p, &defs.scope.kinds)?;
    let (city_code, city_name) = city_of(&t.geo, &p.city);
    let geo = resolve_geo(&t.geo, (&city_code, &city_name), &o.geo)?;
    let all = run_queries(&mut t.context(), ind)?.unit_rows();
    let periods: std::collections::BTreeSet<&str> = all.iter().map(|r| r.period.as_str()).collect();
    let cats: std::collections::BTreeSet<&str> =
        all.iter().filter_map(|r| r.category.as_deref()).collect();
    if !cats.is_empty() && o.category.is_none() {
        return Err(ExplainError::NeedsCategory {
            id: ind.def.id.clone(),
            categories: cats.into_iter().collect::<Vec<_>>().join(", "),
        });
    }
    let rows: Vec<UnitRow> = all
        .iter()
        .filter(|r| r.period == o.period && r.category == o.category && in_geo(r, &geo, &city_code))
        .cloned()
        .collect();
    if rows.is_empty() {
        return Err(ExplainError::NoRows {
            id: ind.def.id.clone(),
            geo: geo.clone(),
            period: o.period.clone(),
            periods: periods.into_iter().collect::<Vec<_>>().join(", "),
        });
    }
    let level = if geo == city_code {
        Level::City
    } else {
        match geo.len() {
            6 => Level::County,
            9 => Level::Township,
            _ => Level::Village,
        }
    };
    let mut def = ind.clone();
    def.def.village_rows = true;
    let units = Units::from_rows(&rows);
    let agg = aggregate(idx, &def, &units, &t.geo, (&city_code, &city_name));
    let fig = agg
        .into_iter()
        .find(|r| r.level == level && r.geo_code == geo)
        .ok_or_else(|| ExplainError::NoGeo(geo.clone()))?;
    Ok(Figure {
        defs,
        idx,
        tables: t,
        rows,
        level,
        fig,
    })
}

/// `; did you mean: …` when there are suggestions.
fn suggested(s: &[String]) -> String {
    match s.is_empty() {
        true => String::new(),
        false => format!("; did you mean: {}", s.join(", ")),
    }
}

/// The code of the place `given` names: a code of the city, a county, a
/// township or a village, or one of their names (a name several places
/// share is refused with their codes; an unknown one with the names that
/// contain it, or that it contains).
fn resolve_geo(
    geo: &crate::analysis::indicators::Geo,
    (city_code, city_name): (&str, &str),
    given: &str,
) -> Result<String, ExplainError> {
    let given = crate::text::clean_name(given).into_owned();
    let places = std::iter::once((city_code, city_name))
        .chain(geo.county.iter().map(|(c, n)| (c.as_str(), n.as_str())))
        .chain(geo.township.iter().map(|(c, n)| (c.as_str(), n.as_str())))
        .chain(geo.village.iter().map(|(c, n)| (c.as_str(), n.as_str())));
    let mut named = Vec::new();
    let mut near = Vec::new();
    for (code, name) in places {
        if code == given {
            return Ok(code.to_string());
        }
        if name == given {
            named.push(format!("{code} {name}"));
        } else if !given.is_empty() && (name.contains(given.as_str()) || given.contains(name)) {
            near.push(format!("{name} ({code})"));
        }
    }
    match named.len() {
        1 => Ok(named[0].split(' ').next().unwrap_or_default().to_string()),
        0 => Err(ExplainError::UnknownGeo {
            given,
            suggestions: near.into_iter().take(5).collect(),
        }),
        _ => Err(ExplainError::AmbiguousGeo {
            given,
            places: named,
        }),
    }
}

/// The definition, its SQL, and the figure with its arithmetic.
fn header(o: &ExplainArgs, f: &Figure) -> String {
    let ind = &f.defs.indicators[f.idx];
    let (fig, t) = (&f.fig, &f.tables);
    let mut out = Vec::new();
    out.push(format!(
        "{} {} ({})",
        ind.def.id, ind.def.name_zh, ind.def.name_en
    ));
    out.push(format!("definition: {}", ind.description));
    out.push(format!(
        "unit: {}   aggregate: {} = {}, scale {}   definition hash: {}",
        ind.def.unit,
        format!("{:?}", ind.def.aggregate).to_lowercase(),
        ind.def.aggregate.describe(),
        ind.def.scale,
        ind.hash
    ));
    out.push(format!(
        "defined in {} (line {})",
        f.defs.path.display(),
        ind.line
    ));
    let sql = ind
        .queries
        .iter()
        .find(|q| q.0 == o.category || q.0.is_none())
        .map_or("", |q| q.1.as_str());
    out.push(format!("SQL (parameters filled in):\n{}", sql.trim_end()));
    let area = (f.level != Level::City).then_some(fig.geo_code.as_str());
    let used = t.period_used(&ind.def.dataset, &fig.period, area);
    let used = if used == fig.period {
        String::new()
    } else {
        format!(" (from {used})")
    };
    out.push(format!(
        "\n{} {} · period {}{used}{} · lake version {}",
        fig.geo_code,
        fig.geo_name,
        fig.period,
        o.category
            .as_ref()
            .map(|c| format!(" · category {c}"))
            .unwrap_or_default(),
        t.lake_version
    ));
    let v = |v: Option<f64>| v.map_or("—".to_string(), |x| format!("{x}"));
    use crate::analysis::indicators::Aggregate;
    let (scale, num, den) = (ind.def.scale, v(fig.numerator), v(fig.denominator));
    let how = match ind.def.aggregate {
        Aggregate::Ratio | Aggregate::Share => format!(" = {scale} × {num} / {den}"),
        Aggregate::Sum => format!(" = {scale} × {num}"),
        Aggregate::Mean => format!(" = {scale} × {num} / {den} units"),
        Aggregate::Median => String::new(),
    };
    out.push(format!(
        "value {} {}{how}   numerator {num}   denominator {den}   villages reporting {} of {} in the registry   units {}",
        v(fig.value),
        ind.def.unit,
        fig.villages_reporting,
        fig.villages_registry,
        fig.units
    ));
    out.join("\n")
}

/// The rows behind the figure: each unit with its numerator and
/// denominator and every lake row it came from (file, sheet, row); the
/// unit column only when it says more than the village code, the
/// category only when there is one. Also the number of units.
fn rows_frame(f: &Figure) -> Result<(DataFrame, usize), ExplainError> {
    let ind = &f.defs.indicators[f.idx];
    let t = &f.tables;
    let lin = match t.frames.get(&ind.def.dataset) {
        Some(df) => lineage(df, &ind.def.unit_column).map_err(|source| ExplainError::Lineage {
            dataset: ind.def.dataset.clone(),
            source,
        })?,
        None => Lineage::new(),
    };
    let mut cols: [Vec<Option<String>>; 10] = Default::default();
    for r in &f.rows {
        let src = lin.get(&r.unit).cloned().unwrap_or_default();
        // rows of the same period when the dataset has it, else all of the unit's rows
        let same: Vec<_> = src.iter().filter(|s| s.0 == r.period).cloned().collect();
        let src = if same.is_empty() { src } else { same };
        let lines: Vec<Option<(String, String, String, i64)>> = if src.is_empty() || !r.reported {
            vec![None]
        } else {
            src.into_iter().map(Some).collect()
        };
        for l in lines {
            cols[0].push(Some(r.unit.clone()));
            cols[1].push(r.village_code.clone());
            cols[2].push(
                r.village_code
                    .as_ref()
                    .and_then(|v| t.geo.village.get(v).cloned()),
            );
            cols[3].push(r.num.map(|x| x.to_string()));
            cols[4].push(r.den.map(|x| x.to_string()));
            let reported = if r.reported {
                "yes"
            } else {
                "no (not reported)"
            };
            cols[5].push(Some(reported.to_string()));
            let (file, sheet, row) = match l {
                Some((_, file, sheet, row)) => (Some(file), Some(sheet), Some(row.to_string())),
                None => (None, None, None),
            };
            cols[6].push(file);
            cols[7].push(sheet);
            cols[8].push(row);
            cols[9].push(r.category.clone());
        }
    }
    let same_unit = cols[0] == cols[1];
    let no_category = cols[9].iter().all(Option::is_none);
    let names = [
        "unit",
        "village_code",
        "village",
        "num",
        "den",
        "reported",
        "source_file",
        "source_sheet",
        "source_row",
        "category",
    ];
    let n = cols[0].len();
    let columns: Vec<Column> = names
        .iter()
        .zip(cols)
        .filter(|(name, _)| {
            !((**name == "unit" && same_unit) || (**name == "category" && no_category))
        })
        .map(|(name, v)| Column::new((*name).into(), v))
        .collect();
    Ok((DataFrame::new(n, columns)?, f.rows.len()))
}
