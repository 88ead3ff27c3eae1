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
//! province is done; the city and county rows stay in memory for the
//! report.

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
    pub(super) rows: usize,
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
        let io = |e: std::io::Error| IndicatorError::Other(format!("{}: {e}", tmp.display()));
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
            tmp: self.tmp,
            rows: self.rows,
        };
        let pqe = |e: PolarsError| IndicatorError::Lake(crate::lake::pq(&streamed.tmp, e));
        self.w.finish().map_err(pqe)?;
        self.file
            .sync_all()
            .map_err(|e| IndicatorError::Other(format!("{}: {e}", streamed.tmp.display())))?;
        Ok(streamed)
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
    let kinds = &defs.scope.kinds;
    let scope_err =
        |e: PolarsError| IndicatorError::Other(format!("scope and years of the lake: {e}"));
    let periods = global_periods(p, out, kinds, &meta)?;
    // the nation's registry: names and village counts of every area
    let mut registry = Tables::load_part(
        p,
        out,
        false,
        &Part {
            counties: None,
            only: Some(&[]),
        },
        version.clone(),
        &meta,
    )?;
    registry.keep_kinds(kinds).map_err(scope_err)?;
    let geo = std::mem::take(&mut registry.geo);
    let files = std::mem::take(&mut registry.files);
    drop(registry);
    let (code, name) = city_of(&geo, &p.city);
    let timings = std::env::var_os("ZHENXING_TIMINGS").is_some();
    if timings {
        eprintln!(
            "timing: periods and registry of the nation {:.3} s, peak so far {} MiB",
            t0.elapsed().as_secs_f64(),
            crate::worker::peak_rss_mib().0
        );
    }

    let n = defs.indicators.len();
    let mut city: Vec<CityRows> = (0..n).map(|_| CityRows::default()).collect();
    let mut ids = NationIds::default();
    let mut repeats = vec![0usize; n];
    let mut year_ends: BTreeMap<String, YearEnds> = BTreeMap::new();
    let mut kept: Vec<IndicatorRow> = Vec::new();
    let mut writer = RowsWriter::create(p, defs, out, &version)?;
    let bar = crate::progress::bar((areas.len() * n) as u64, "indicators");
    for pv in areas {
        let t1 = std::time::Instant::now();
        let mut t = Tables::load_part(
            p,
            out,
            false,
            &Part {
                counties: Some(pv),
                only: None,
            },
            version.clone(),
            &meta,
        )?;
        t.as_indicators_see(p, kinds).map_err(scope_err)?;
        t.set_periods(&periods);
        for (ds, ends) in std::mem::take(&mut t.year_ends) {
            year_ends.entry(ds).or_default().extend(ends);
        }
        let loaded = t1.elapsed();
        for (i, ind) in defs.indicators.iter().enumerate() {
            if let Some(b) = &bar {
                b.set_message(format!("area {pv}: {}", ind.def.id));
                b.inc(1);
            }
            let units = run_queries(&mut t.context(), ind)?;
            repeats[i] += repeated_units(&units);
            city[i].add(ind, &units, &mut ids);
            let mut rows = aggregate(i, ind, &units, &geo, (&code, &name));
            drop(units);
            rows.retain(|r| r.level != Level::City);
            for r in &mut rows {
                r.period_used = crate::analysis::tables::period_used_in(
                    &year_ends,
                    &ind.def.dataset,
                    &r.period,
                    Some(&r.geo_code),
                );
            }
            writer.write(defs, &rows, &version)?;
            kept.extend(rows.into_iter().filter(|r| r.level == Level::County));
        }
        if timings {
            eprintln!(
                "timing: area {pv}: load {:.3} s, indicators {:.3} s, peak so far {} MiB",
                loaded.as_secs_f64(),
                (t1.elapsed() - loaded).as_secs_f64(),
                crate::worker::peak_rss_mib().0
            );
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    drop(ids);
    let mut warnings = Vec::new();
    for (i, (ind, c)) in defs.indicators.iter().zip(city).enumerate() {
        let rows = c.finish(i, ind, &geo, (&code, &name), &year_ends);
        writer.write(defs, &rows, &version)?;
        kept.extend(rows);
        if let Some(w) = repeat_warning(ind, repeats[i]) {
            warnings.push(w);
        }
    }
    let streamed = writer.finish()?;
    if timings {
        eprintln!(
            "timing: city rows, peak so far {} MiB",
            crate::worker::peak_rss_mib().0
        );
    }
    kept.sort_by(|a, b| {
        (a.indicator, &a.period, &a.category, a.level, &a.geo_code).cmp(&(
            b.indicator,
            &b.period,
            &b.category,
            b.level,
            &b.geo_code,
        ))
    });

    // income effects: the household panel of the nation, and nothing else
    let mut t = Tables::load_part(
        p,
        out,
        false,
        &Part {
            counties: None,
            only: Some(&["household_income"]),
        },
        version.clone(),
        &meta,
    )?;
    t.as_indicators_see(p, kinds).map_err(scope_err)?;
    t.geo = geo;
    let effects = super::income_effects(p, defs, &t, &mut warnings)?;
    Ok(Some(Computed {
        rows: kept,
        row_count: streamed.rows,
        streamed: Some(streamed),
        warnings,
        effects,
        lake_version: version,
        created: meta.created.clone(),
        files,
        seconds: t0.elapsed().as_secs_f64(),
    }))
}
