//! The indicator stage over a lake of more than one province (a nation):
//! a province's tables at a time, so that memory follows the largest
//! province and not the nation.
//!
//! Each province's tables get the nation's `<dataset>_periods`; county,
//! township and village rows come from that province's unit rows alone
//! (an area lies in one province); the city row of every indicator is
//! added up over the provinces ([`CityRows`]): the same sums, in the same
//! order, and the same distinct villages and units as one pass over the
//! nation. What a query computes across rows of two provinces (a person
//! who moved province, a station id used in two provinces) it computes
//! within each province. Rows are written to `indicators.parquet` as each
//! province is done; the city rows stay in memory, and the report reads
//! the county rows of its period back from the table.

use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::aggregate::{CityRows, NationIds};
use super::*;
use crate::analysis::tables::{global_periods, Part, YearEnds};
use crate::lake::Layout;

/// `indicators.parquet` written a batch of rows at a time under a name of
/// its own, renamed into place by [`write_tables`] (or removed, with the
/// [`Computed`] that holds it, when nothing writes the tables).
pub struct Streamed {
    pub(super) tmp: PathBuf,
    /// where [`write_tables`] puts it
    pub(super) target: PathBuf,
    pub(super) rows: usize,
}

impl Streamed {
    /// The rows of the given level whose (indicator, period) is one of
    /// `chosen`, read back from the table (under its temporary name, or
    /// in place once written).
    pub fn rows_at(
        &self,
        defs: &Definitions,
        level: Level,
        chosen: &BTreeMap<usize, String>,
    ) -> Result<Vec<IndicatorRow>, IndicatorError> {
        let path = if self.tmp.exists() {
            &self.tmp
        } else {
            &self.target
        };
        let pqe = |e: PolarsError| IndicatorError::Lake(crate::lake::pq(path, e));
        // only the chosen (indicator, period) pairs leave the file
        let wanted = chosen
            .iter()
            .filter_map(|(&i, period)| {
                let id = &defs.indicators.get(i)?.def.id;
                Some(
                    col("indicator_id")
                        .eq(lit(id.as_str()))
                        .and(col("period").eq(lit(period.as_str()))),
                )
            })
            .reduce(|a, b| a.or(b))
            .unwrap_or(lit(false));
        let df = LazyFrame::scan_parquet(
            PlRefPath::new(path.display().to_string()),
            Default::default(),
        )
        .and_then(|lf| {
            lf.filter(col("level").eq(lit(level.as_str())).and(wanted))
                .collect()
        })
        .map_err(pqe)?;
        frame_rows(&df, defs, level).map_err(pqe)
    }
}

/// The rows of an indicator table's frame at one level (a row of an
/// indicator the definitions no longer have is left out).
fn frame_rows(df: &DataFrame, defs: &Definitions, level: Level) -> PolarsResult<Vec<IndicatorRow>> {
    let index: HashMap<&str, usize> = defs
        .indicators
        .iter()
        .enumerate()
        .map(|(i, d)| (d.def.id.as_str(), i))
        .collect();
    let text = |n: &str| -> PolarsResult<Vec<Option<String>>> {
        Ok(df
            .column(n)?
            .str()?
            .iter()
            .map(|v| v.map(str::to_string))
            .collect())
    };
    let float =
        |n: &str| -> PolarsResult<Vec<Option<f64>>> { Ok(df.column(n)?.f64()?.iter().collect()) };
    let count =
        |n: &str| -> PolarsResult<Vec<Option<u64>>> { Ok(df.column(n)?.u64()?.iter().collect()) };
    let (ids, category, period, period_used) = (
        text("indicator_id")?,
        text("category")?,
        text("period")?,
        text("period_used")?,
    );
    let (geo_code, geo_name, note) = (text("geo_code")?, text("geo_name")?, text("note")?);
    let (value, numerator, denominator) =
        (float("value")?, float("numerator")?, float("denominator")?);
    let (reporting, registry, units, rank) = (
        count("villages_reporting")?,
        count("villages_registry")?,
        count("units")?,
        count("rank")?,
    );
    let mut out = Vec::new();
    for r in 0..df.height() {
        let Some(&indicator) = ids[r].as_deref().and_then(|id| index.get(id)) else {
            continue;
        };
        out.push(IndicatorRow {
            indicator,
            category: category[r].clone(),
            period: period[r].clone().unwrap_or_default(),
            period_used: period_used[r].clone().unwrap_or_default(),
            level,
            geo_code: geo_code[r].clone().unwrap_or_default(),
            geo_name: geo_name[r].clone().unwrap_or_default(),
            value: value[r],
            numerator: numerator[r],
            denominator: denominator[r],
            villages_reporting: reporting[r].unwrap_or(0),
            villages_registry: registry[r].unwrap_or(0),
            units: units[r].unwrap_or(0),
            rank: rank[r],
            note: note[r].clone(),
        });
    }
    Ok(out)
}

impl Drop for Streamed {
    fn drop(&mut self) {
        // gone already once renamed
        let _ = std::fs::remove_file(&self.tmp);
    }
}

struct RowsWriter {
    file: File,
    tmp: PathBuf,
    w: polars::io::parquet::write::BatchedWriter<File>,
    rows: usize,
}

impl RowsWriter {
    fn create(
        p: &crate::config::Pipeline,
        defs: &Definitions,
        out: &Path,
        lake_version: &str,
    ) -> Result<RowsWriter, IndicatorError> {
        let dir = dir(out);
        let tmp = dir.join(format!("indicators.parquet.{}.partial", std::process::id()));
        let io = |e: std::io::Error| IndicatorError::Lake(crate::lake::io(&tmp, e));
        std::fs::create_dir_all(&dir).map_err(io)?;
        let file = File::create(&tmp).map_err(io)?;
        let pqe = |e: PolarsError| IndicatorError::Lake(crate::lake::pq(&tmp, e));
        let schema = indicators_frame(defs, &[], lake_version)
            .map_err(pqe)?
            .schema()
            .as_ref()
            .clone();
        let w = ParquetWriter::new(file.try_clone().map_err(io)?)
            .with_compression(ParquetCompression::Zstd(None))
            .with_statistics(StatisticsOptions::full())
            .with_row_group_size(Some(65536))
            .with_key_value_metadata(Some(KeyValueMetadata::from_static(table_meta(
                p,
                defs,
                lake_version,
            ))))
            .batched(&schema)
            .map_err(pqe)?;
        Ok(RowsWriter {
            file,
            tmp,
            w,
            rows: 0,
        })
    }

    fn write(
        &mut self,
        defs: &Definitions,
        rows: &[IndicatorRow],
        lake_version: &str,
    ) -> Result<(), IndicatorError> {
        if rows.is_empty() {
            return Ok(());
        }
        let pqe = |e: PolarsError| IndicatorError::Lake(crate::lake::pq(&self.tmp, e));
        let df = indicators_frame(defs, rows, lake_version).map_err(pqe)?;
        self.w.write_batch(&df).map_err(pqe)?;
        self.rows += rows.len();
        Ok(())
    }

    fn finish(self) -> Result<Streamed, IndicatorError> {
        let streamed = Streamed {
            target: self.tmp.with_file_name("indicators.parquet"),
            tmp: self.tmp,
            rows: self.rows,
        };
        let pqe = |e: PolarsError| IndicatorError::Lake(crate::lake::pq(&streamed.tmp, e));
        self.w.finish().map_err(pqe)?;
        self.file
            .sync_all()
            .map_err(|e| IndicatorError::Lake(crate::lake::io(&streamed.tmp, e)))?;
        Ok(streamed)
    }
}

/// Every word of every indicator's SQL: a column no query names is not
/// read (names, ID pseudonyms and phone numbers are most of a roster).
fn sql_words(defs: &Definitions) -> std::collections::HashSet<String> {
    defs.indicators
        .iter()
        .flat_map(|i| i.queries.iter())
        .flat_map(|(_, sql)| {
            sql.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .filter(|w| !w.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// How an indicator's queries are run: all at once (`None`), or one `each`
/// variant at a time when every variant is a category of its own and the
/// figures of one category do not depend on another's (not a share): the
/// 24 per-standard pass rates of a province are 6 million unit rows at
/// once, a quarter of a million each. Keys, sums and ranks are per
/// category, so the rows are the same.
fn variants(ind: &Indicator) -> Vec<Option<usize>> {
    let each = ind.queries.len() > 1
        && ind.def.aggregate != Aggregate::Share
        && ind.queries.iter().all(|(label, _)| label.is_some());
    if each {
        (0..ind.queries.len()).map(Some).collect()
    } else {
        vec![None]
    }
}

/// [`compute`] over a lake of several areas (provinces by default).
pub(super) fn compute_by_area(
    p: &crate::config::Pipeline,
    defs: &Definitions,
    out: &Path,
    areas: &[String],
) -> Result<Option<Computed>, IndicatorError> {
    let t0 = std::time::Instant::now();
    let layout = Layout::new(out);
    let Some(version) = layout.current() else {
        return Ok(None);
    };
    let meta = layout.version_meta(&version)?;
    let NationRegistry {
        geo,
        files,
        periods,
    } = nation_registry(p, defs, out, &version, &meta)?;
    if timings() {
        eprintln!(
            "timing: periods and registry of the nation {:.3} s, peak so far {} MiB",
            t0.elapsed().as_secs_f64(),
            crate::worker::peak_rss_mib().0
        );
    }
    let city_of_geo = city_of(&geo, &p.city);
    let mut pass = NationPass {
        p,
        defs,
        out,
        version: &version,
        meta: &meta,
        periods: &periods,
        geo: &geo,
        city_of: (&city_of_geo.0, &city_of_geo.1),
        named: sql_words(defs),
        city: (0..defs.indicators.len())
            .map(|_| CityRows::default())
            .collect(),
        ids: NationIds::with_villages(geo.village.keys()),
        repeats: vec![0usize; defs.indicators.len()],
        year_ends: BTreeMap::new(),
        writer: RowsWriter::create(p, defs, out, &version)?,
    };
    let bar = crate::progress::bar((areas.len() * defs.indicators.len()) as u64, "indicators");
    for area in areas {
        pass.area(area, bar.as_ref())?;
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let (city_rows, row_count, streamed, mut warnings) = pass.finish()?;
    let effects = nation_effects(p, defs, out, (&version, &meta), geo, &mut warnings)?;
    Ok(Some(Computed {
        rows: city_rows,
        row_count,
        streamed: Some(streamed),
        warnings,
        effects,
        lake_version: version.clone(),
        created: meta.created.clone(),
        files,
        seconds: t0.elapsed().as_secs_f64(),
    }))
}

/// Whether `ZHENXING_TIMINGS` asks for the stage's timings on stderr.
fn timings() -> bool {
    std::env::var_os("ZHENXING_TIMINGS").is_some()
}

/// What the whole nation's stage starts from, read without any
/// province's rows: its areas and villages of the definitions' scope, the
/// lake's files and every dataset's periods.
struct NationRegistry {
    geo: Geo,
    files: Vec<crate::lake::FileEntry>,
    periods: BTreeMap<String, DataFrame>,
}

fn nation_registry(
    p: &crate::config::Pipeline,
    defs: &Definitions,
    out: &Path,
    version: &str,
    meta: &crate::lake::VersionMeta,
) -> Result<NationRegistry, IndicatorError> {
    let kinds = &defs.scope.kinds;
    let only_registry = Part {
        counties: None,
        only: Some(&[]),
        columns: None,
    };
    let mut registry = Tables::load_part(p, out, false, &only_registry, version.to_string(), meta)?;
    let excluded = registry.out_of_scope(kinds).map_err(scope_err)?;
    let periods = global_periods(p, out, &excluded, meta)?;
    drop(excluded);
    registry.keep_kinds(kinds).map_err(scope_err)?;
    Ok(NationRegistry {
        geo: std::mem::take(&mut registry.geo),
        files: std::mem::take(&mut registry.files),
        periods,
    })
}

/// What the scope and the years of the lake cannot be read for.
fn scope_err(e: PolarsError) -> IndicatorError {
    IndicatorError::Scope(e)
}

/// The income effects of the nation: its household panel alone.
fn nation_effects(
    p: &crate::config::Pipeline,
    defs: &Definitions,
    out: &Path,
    (version, meta): (&str, &crate::lake::VersionMeta),
    geo: Geo,
    warnings: &mut Vec<String>,
) -> Result<Vec<crate::analysis::effects::EffectRow>, IndicatorError> {
    let columns: std::collections::HashSet<String> = crate::analysis::effects::PANEL_COLUMNS
        .iter()
        .map(|c| c.to_string())
        .collect();
    let panel = Part {
        counties: None,
        only: Some(&["household_income"]),
        columns: Some(&columns),
    };
    let mut t = Tables::load_part(p, out, false, &panel, version.to_string(), meta)?;
    t.as_indicators_see(p, &defs.scope.kinds)
        .map_err(scope_err)?;
    t.geo = geo;
    super::income_effects(p, defs, &t, warnings)
}

/// The indicator stage going area by area: what every area adds to the
/// city rows, the rows written so far, and what repeats.
struct NationPass<'a> {
    p: &'a crate::config::Pipeline,
    defs: &'a Definitions,
    out: &'a Path,
    version: &'a str,
    meta: &'a crate::lake::VersionMeta,
    periods: &'a BTreeMap<String, DataFrame>,
    geo: &'a Geo,
    city_of: (&'a str, &'a str),
    /// The columns the indicator SQL names (the only ones read).
    named: std::collections::HashSet<String>,
    /// The city row of each indicator, added up over the areas.
    city: Vec<CityRows>,
    ids: NationIds,
    /// Units repeated within a period, by indicator.
    repeats: Vec<usize>,
    year_ends: BTreeMap<String, YearEnds>,
    writer: RowsWriter,
}

impl NationPass<'_> {
    /// One area: its tables read, every indicator's county, township and
    /// village rows written, its parts of the city rows kept.
    fn area(
        &mut self,
        area: &str,
        bar: Option<&indicatif::ProgressBar>,
    ) -> Result<(), IndicatorError> {
        let t1 = std::time::Instant::now();
        let part = Part {
            counties: Some(area),
            only: None,
            columns: Some(&self.named),
        };
        let mut t = Tables::load_part(
            self.p,
            self.out,
            false,
            &part,
            self.version.to_string(),
            self.meta,
        )?;
        t.as_indicators_see(self.p, &self.defs.scope.kinds)
            .map_err(scope_err)?;
        t.set_periods(self.periods);
        for (ds, ends) in std::mem::take(&mut t.year_ends) {
            self.year_ends.entry(ds).or_default().extend(ends);
        }
        let loaded = t1.elapsed();
        for (i, ind) in self.defs.indicators.iter().enumerate() {
            if let Some(b) = bar {
                b.set_message(format!("area {area}: {}", ind.def.id));
                b.inc(1);
            }
            self.indicator(area, &mut t, i, ind)?;
        }
        if timings() {
            eprintln!(
                "timing: area {area}: load {:.3} s, indicators {:.3} s, peak so far {} MiB",
                loaded.as_secs_f64(),
                (t1.elapsed() - loaded).as_secs_f64(),
                crate::worker::peak_rss_mib().0
            );
        }
        Ok(())
    }

    /// One indicator of one area: its unit rows, added up to the area's
    /// rows (written) and to the city's parts (kept).
    fn indicator(
        &mut self,
        area: &str,
        t: &mut Tables,
        i: usize,
        ind: &Indicator,
    ) -> Result<(), IndicatorError> {
        let t2 = std::time::Instant::now();
        let (mut queried, mut unit_rows) = (std::time::Duration::ZERO, 0);
        let mut rows = Vec::new();
        for part in variants(ind) {
            let t3 = std::time::Instant::now();
            let units = match part {
                None => run_queries(&mut t.context(), ind)?,
                Some(k) => run_variant(&mut t.context(), ind, k)?,
            };
            queried += t3.elapsed();
            unit_rows += units.rows.len();
            self.repeats[i] += repeated_units(&units);
            self.city[i].add(ind, &units, &mut self.ids);
            rows.extend(aggregate(i, ind, &units, self.geo, self.city_of));
        }
        rows.retain(|r| r.level != Level::City);
        for r in &mut rows {
            r.period_used = crate::analysis::tables::period_used_in(
                &self.year_ends,
                &ind.def.dataset,
                &r.period,
                Some(&r.geo_code),
            );
        }
        self.writer.write(self.defs, &rows, self.version)?;
        if timings() {
            eprintln!(
                "timing: {area} {:<34} {unit_rows:>8} unit rows  query {:>7.3} s  aggregate {:>7.3} s  peak {} MiB",
                ind.def.id,
                queried.as_secs_f64(),
                (t2.elapsed() - queried).as_secs_f64(),
                crate::worker::peak_rss_mib().0
            );
        }
        Ok(())
    }

    /// The city rows of every indicator (written too), the table's row
    /// count, the table as written, and the warnings about repeated units.
    fn finish(
        mut self,
    ) -> Result<(Vec<IndicatorRow>, usize, Streamed, Vec<String>), IndicatorError> {
        drop(std::mem::replace(
            &mut self.ids,
            NationIds::with_villages(std::iter::empty()),
        ));
        let mut warnings = Vec::new();
        let mut city_rows = Vec::new();
        let city = std::mem::take(&mut self.city);
        for (i, (ind, c)) in self.defs.indicators.iter().zip(city).enumerate() {
            let rows = c.finish(i, ind, self.geo, self.city_of, &self.year_ends);
            self.writer.write(self.defs, &rows, self.version)?;
            city_rows.extend(rows);
            if let Some(w) = repeat_warning(ind, self.repeats[i]) {
                warnings.push(w);
            }
        }
        let streamed = self.writer.finish()?;
        if timings() {
            eprintln!(
                "timing: city rows, peak so far {} MiB",
                crate::worker::peak_rss_mib().0
            );
        }
        sort_rows(&mut city_rows);
        Ok((city_rows, streamed.rows, streamed, warnings))
    }
}
