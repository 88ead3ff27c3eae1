//! `zhenxing explain INDICATOR --geo G --period P`: the definition, the
//! numerator and denominator, and every lake row behind one figure with
//! the file, sheet and row it came from.

use std::collections::BTreeMap;
use std::path::PathBuf;

use polars::prelude::*;

use crate::analysis::indicators::{aggregate, city_of, run_queries, Level, Tables, UnitRow, Units};
use crate::cmd::exit;

pub struct ExplainOptions {
    pub indicator: String,
    pub geo: String,
    pub period: String,
    pub category: Option<String>,
    pub pipeline: PathBuf,
    pub out: Option<PathBuf>,
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

pub fn run(o: ExplainOptions) -> i32 {
    let (p, defs) = match super::load_with_definitions(&o.pipeline) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let Some(idx) = defs.indicators.iter().position(|i| i.def.id == o.indicator) else {
        let ids: Vec<&str> = defs.indicators.iter().map(|i| i.def.id.as_str()).collect();
        eprintln!(
            "zhenxing explain: no indicator {}; indicators: {}",
            o.indicator,
            ids.join(", ")
        );
        return exit::USAGE;
    };
    let ind = &defs.indicators[idx];
    let out = super::out_dir(&p, o.out.as_deref());
    let mut t = match Tables::load(&p, &out, true) {
        Ok(Some(t)) => t,
        Ok(None) => {
            eprintln!("zhenxing explain: {} has no published lake", out.display());
            return exit::USAGE;
        }
        Err(e) => {
            eprintln!("zhenxing explain: {e}");
            return exit::FAILED;
        }
    };
    if let Err(e) = t.as_indicators_see(&p, &defs.scope.kinds) {
        eprintln!("zhenxing explain: {e}");
        return exit::FAILED;
    }
    let (city_code, city_name) = city_of(&t.geo, &p.city);
    let all = match run_queries(&mut t.context(), ind) {
        Ok(u) => u.unit_rows(),
        Err(e) => {
            eprintln!("zhenxing explain: {e}");
            return exit::FAILED;
        }
    };
    let periods: std::collections::BTreeSet<&str> = all.iter().map(|r| r.period.as_str()).collect();
    let cats: std::collections::BTreeSet<&str> =
        all.iter().filter_map(|r| r.category.as_deref()).collect();
    if !cats.is_empty() && o.category.is_none() {
        eprintln!(
            "zhenxing explain: {} has a breakdown; name one with --category ({})",
            ind.def.id,
            cats.into_iter().collect::<Vec<_>>().join(", ")
        );
        return exit::USAGE;
    }
    let rows: Vec<UnitRow> = all
        .iter()
        .filter(|r| {
            r.period == o.period && r.category == o.category && in_geo(r, &o.geo, &city_code)
        })
        .cloned()
        .collect();
    if rows.is_empty() {
        eprintln!(
            "zhenxing explain: {} has no rows for geo {} and period {}; periods: {}",
            ind.def.id,
            o.geo,
            o.period,
            periods.into_iter().collect::<Vec<_>>().join(", ")
        );
        return exit::USAGE;
    }
    let level = if o.geo == city_code {
        Level::City
    } else {
        match o.geo.len() {
            6 => Level::County,
            9 => Level::Township,
            _ => Level::Village,
        }
    };
    let mut def = ind.clone();
    def.def.village_rows = true;
    let agg = aggregate(
        idx,
        &def,
        &Units::from_rows(&rows),
        &t.geo,
        (&city_code, &city_name),
    );
    let Some(fig) = agg.iter().find(|r| r.level == level && r.geo_code == o.geo) else {
        eprintln!(
            "zhenxing explain: geo {} is not a city, county, township or village code here",
            o.geo
        );
        return exit::USAGE;
    };
    // with --csv, stdout is the CSV alone (`explain --csv > f.csv`); the
    // definition and the figure go to stderr
    let csv = o.csv;
    macro_rules! say {
        ($($t:tt)*) => {
            if csv {
                eprintln!($($t)*)
            } else {
                println!($($t)*)
            }
        };
    }
    say!("{} {} ({})", ind.def.id, ind.def.name_zh, ind.def.name_en);
    say!("definition: {}", ind.description);
    say!(
        "unit: {}   aggregate: {} = {}, scale {}   definition hash: {}",
        ind.def.unit,
        format!("{:?}", ind.def.aggregate).to_lowercase(),
        ind.def.aggregate.describe(),
        ind.def.scale,
        ind.hash
    );
    say!("defined in {} (line {})", defs.path.display(), ind.line);
    let sql = ind
        .queries
        .iter()
        .find(|q| q.0 == o.category || q.0.is_none())
        .map_or("", |q| q.1.as_str());
    say!("SQL (parameters filled in):\n{}", sql.trim_end());
    let area = (level != Level::City).then_some(fig.geo_code.as_str());
    let used = t.period_used(&ind.def.dataset, &fig.period, area);
    let used = if used == fig.period {
        String::new()
    } else {
        format!(" (from {used})")
    };
    say!(
        "\n{} {} · period {}{used}{} · lake version {}",
        fig.geo_code,
        fig.geo_name,
        fig.period,
        o.category
            .as_ref()
            .map(|c| format!(" · category {c}"))
            .unwrap_or_default(),
        t.lake_version
    );
    let f = |v: Option<f64>| v.map_or("—".to_string(), |x| format!("{x}"));
    let how = match ind.def.aggregate {
        crate::analysis::indicators::Aggregate::Ratio
        | crate::analysis::indicators::Aggregate::Share => format!(
            " = {} × {} / {}",
            ind.def.scale,
            f(fig.numerator),
            f(fig.denominator)
        ),
        crate::analysis::indicators::Aggregate::Sum => {
            format!(" = {} × {}", ind.def.scale, f(fig.numerator))
        }
        crate::analysis::indicators::Aggregate::Mean => format!(
            " = {} × {} / {} units",
            ind.def.scale,
            f(fig.numerator),
            f(fig.denominator)
        ),
        crate::analysis::indicators::Aggregate::Median => String::new(),
    };
    say!(
        "value {} {}{how}   numerator {}   denominator {}   villages reporting {} of {} in the registry   units {}",
        f(fig.value),
        ind.def.unit,
        f(fig.numerator),
        f(fig.denominator),
        fig.villages_reporting,
        fig.villages_registry,
        fig.units
    );
    // the rows behind it
    let lin = match t
        .frames
        .get(&ind.def.dataset)
        .map(|df| lineage(df, &ind.def.unit_column))
    {
        Some(Ok(l)) => l,
        Some(Err(e)) => {
            eprintln!("zhenxing explain: reading {}: {e}", ind.def.dataset);
            return exit::FAILED;
        }
        None => Lineage::new(),
    };
    let mut cols: [Vec<Option<String>>; 10] = Default::default();
    for r in &rows {
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
            cols[5].push(Some(
                if r.reported {
                    "yes"
                } else {
                    "no (not reported)"
                }
                .to_string(),
            ));
            match l {
                Some((_, file, sheet, row)) => {
                    cols[6].push(Some(file));
                    cols[7].push(Some(sheet));
                    cols[8].push(Some(row.to_string()));
                }
                None => {
                    cols[6].push(None);
                    cols[7].push(None);
                    cols[8].push(None);
                }
            }
            cols[9].push(r.category.clone());
        }
    }
    // the unit column only when it says more than the village code
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
    let df = match DataFrame::new(n, columns) {
        Ok(df) => df,
        Err(e) => {
            eprintln!("zhenxing explain: {e}");
            return exit::FAILED;
        }
    };
    say!(
        "\nrows behind the figure ({} units, {} lake rows):",
        rows.len(),
        n
    );
    if o.csv {
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        if let Err(e) = super::query::write_csv(&df, &mut lock) {
            eprintln!("zhenxing explain: {e}");
            return exit::FAILED;
        }
    } else {
        super::query::print_table(&df, n.max(1));
    }
    exit::CLEAN
}
