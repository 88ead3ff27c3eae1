//! One file in, typed rows and a full account of every row out.
//!
//! For each file: read it (in a worker), recognise its template, and for
//! every visible data sheet find the header band, classify each non-blank
//! row (title, unit, header, sign-off, note, totals, data), turn data cells
//! into typed values, match the village to the registry, and validate
//! ranges, cross-field rules and key uniqueness. The result keeps the
//! conservation equation: rows read = accepted + rejected + non-data.

mod cells;
mod file;
pub mod issue;
mod model;
mod period;
pub mod pii;
pub mod plausible;
pub mod registry;
mod row;
mod sheet;
pub mod spill;

use file::*;
/// The very hidden sheet of a form `zhenxing template` wrote: what the
/// form is (template, definition version, county, period), not data.
pub const MARKER_SHEET: &str = "_zhenxing";

pub use model::{Counts, FileResult, HeaderRecord, HeaderUse, Record, SheetSummary};
use period::*;
pub use period::{find_period, period_end};
use sheet::*;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use chrono::{Datelike, NaiveDate};
use rayon::prelude::*;
use regex::Regex;
use serde::Serialize;

use crate::config::{Check, Context, Field, Pipeline, Source};
use crate::fsio::sha256_file;
use crate::normalise::header::{detect, HeaderBand, HeaderGrid, HEAD_ROWS};
use crate::normalise::value::{raw_text, Value};
use crate::read::{Format, Frame, Limits, RawCell, SheetMeta};
use crate::text::{clean_name, format_number, is_placeholder, Unit};
use crate::validate::issue::{Issue, Problem, Severity};
use crate::validate::pii::mask_pii;
use crate::validate::registry::{MatchKind, Registry};
use crate::worker::{stream_isolated, Isolation, WorkerError};

/// What the ingest engine needs besides the pipeline.
pub struct Engine<'a> {
    /// The pipeline.
    pub pipeline: &'a Pipeline,
    /// The registry villages are matched against (none: the registry itself is read).
    pub registry: Option<&'a Registry>,
    /// How files are read.
    pub isolation: Isolation,
    /// What one file may make the reader do.
    pub limits: Limits,
    /// A file that is a village registry is refused (`run`: the inbox has
    /// one registry, the configured one); `validate` reads it.
    pub refuse_registry: bool,
    /// Where a long file's row problems go while it is read (see
    /// [`spill`]); `None` keeps them all in memory.
    pub spill: Option<PathBuf>,
}

thread_local! {
    /// What this thread's file ingest is doing, for an `F_INTERNAL` report.
    static STAGE: std::cell::Cell<&'static str> = const { std::cell::Cell::new("starting") };
}

fn set_stage(stage: &'static str) {
    STAGE.with(|s| s.set(stage));
}

/// Fault injection for tests: `ZHENXING_FAULT=ingest-panic:NAME` panics
/// while validating the rows of a file whose name contains NAME;
/// `ingest-slow:NAME` makes that validation take two seconds longer.
fn inject_fault(file: &str) {
    for (what, name) in crate::worker::injected_faults(file) {
        match what.as_str() {
            _ if name.is_empty() => {}
            "ingest-panic" => panic!("injected fault for {name}"),
            "ingest-slow" => std::thread::sleep(std::time::Duration::from_secs(2)),
            _ => {}
        }
    }
}

impl<'a> Engine<'a> {
    /// An engine over the pipeline, the registry and the reading isolation.
    pub fn new(
        pipeline: &'a Pipeline,
        registry: Option<&'a Registry>,
        isolation: Isolation,
    ) -> Self {
        Engine {
            pipeline,
            registry,
            isolation,
            limits: Limits::from(&pipeline.limits),
            refuse_registry: false,
            spill: None,
        }
    }

    /// Ingests one file; `force` names the template when it is known.
    /// Rows are validated while the reader is still reading.
    ///
    /// Nothing in a file can end the caller: a panic anywhere in this
    /// file's ingest (also on rayon's threads, which hand it back here)
    /// becomes the file's `F_INTERNAL` error, naming the stage it was in.
    pub fn ingest(&self, path: &Path, force: Option<&'a Source>) -> FileResult {
        let t0 = std::time::Instant::now();
        set_stage("hashing the file");
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.ingest_inner(path, force)
        })) {
            Ok(res) => res,
            Err(payload) => {
                let detail = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".to_string());
                let mut res = FileResult::of_path(path);
                if let Ok((h, n)) = sha256_file(path) {
                    res.sha256 = h;
                    res.bytes = n;
                }
                res.issues.push(Issue::file(
                    Problem::Internal {
                        stage: STAGE.with(|s| s.get()).to_string(),
                        detail: detail.chars().take(300).collect(),
                    },
                    &res.name,
                ));
                res.total_ms = t0.elapsed().as_millis() as u64;
                res
            }
        }
    }

    fn ingest_inner(&self, path: &Path, force: Option<&'a Source>) -> FileResult {
        let t0 = std::time::Instant::now();
        let mut res = FileResult::of_path(path);
        match sha256_file(path) {
            Ok((h, n)) => {
                res.sha256 = h;
                res.bytes = n;
            }
            Err(e) => {
                res.issues.push(Issue::file(
                    Problem::Unreadable {
                        code: crate::catalogue::Code::Io,
                        detail: e.to_string(),
                    },
                    &res.name,
                ));
                return res;
            }
        }
        let mut run = FileRun::new(self, Arc::from(res.name.as_str()), force);
        run.folder = path
            .parent()
            .and_then(|d| d.file_name())
            .map(|d| d.to_string_lossy().into_owned());
        set_stage("reading the file");
        let read = stream_isolated(path, &self.limits, &self.isolation, &mut |f| {
            run.on_frame(f)
        });
        res.read_ms = t0.elapsed().as_millis() as u64;
        match read {
            Ok(()) => {
                set_stage("assembling the result");
                run.finish(&mut res)
            }
            Err(e) => {
                // whatever was read before the reader failed is not used
                let p = match e {
                    WorkerError::Read(e) => read_problem(e),
                    WorkerError::Died(detail) => Problem::WorkerDied { detail },
                    WorkerError::Timeout(seconds) => Problem::WorkerTimeout { seconds },
                };
                res.issues.push(Issue::file(p, &res.name));
            }
        }
        res.total_ms = t0.elapsed().as_millis() as u64;
        res
    }

    fn is_instruction_sheet(&self, name: &str) -> bool {
        let n = clean_name(name).to_lowercase();
        self.pipeline
            .sheets
            .instructions
            .iter()
            .any(|i| n.contains(&i.to_lowercase()))
    }

    /// The template a file is: among those whose file-name pattern matches
    /// (or all, when none does), the one whose fields match the most columns.
    fn choose_source(&self, name: &str, grids: &[HeaderGrid]) -> Option<&'a Source> {
        let sources: &'a [Source] = &self.pipeline.sources;
        let by_name: Vec<&'a Source> = sources
            .iter()
            .filter(|s| s.filename.iter().any(|r| r.is_match(name)))
            .collect();
        let candidates = if by_name.is_empty() {
            sources.iter().collect()
        } else {
            by_name
        };
        let mut best: Option<(&'a Source, usize)> = None;
        for src in candidates {
            let score = grids
                .iter()
                .filter_map(|g| detect(g, src, &self.pipeline.sheets.ignore_headers))
                .map(|b| b.matched_fields().len())
                .max()
                .unwrap_or(0);
            if score >= 2 && best.map(|(_, b)| score > b).unwrap_or(true) {
                best = Some((src, score));
            }
        }
        best.map(|(s, _)| s)
    }

    /// The context rows inherit, from the file name and the title above
    /// the first data sheet's header.
    fn file_context(&self, file: &str, title: &str) -> FileContext {
        let mut ctx = FileContext::default();
        if let Some(reg) = self.registry {
            ctx.county = reg
                .find_county_in(file)
                .or_else(|| reg.find_county_in(title));
        }
        let (y, m) = find_period(file);
        let (ty, tm) = find_period(title);
        ctx.year = y.or(ty);
        ctx.month = if y.is_some() {
            m.or(if y == ty { tm } else { None })
        } else {
            tm
        };
        ctx
    }

    /// What is wrong with a generated form's identity, if anything: a
    /// template the pipeline lacks, a county the registry lacks, a period
    /// that is none, or a property that disagrees with the folder or the
    /// file name the form came in under.
    fn form_problem(&self, f: &FormIdentity, name: &str, folder: Option<&str>) -> Option<Problem> {
        let unknown = |property: &str, value: &str| {
            Some(Problem::FormProperty {
                property: format!("zhenxing.{property}"),
                value: value.chars().take(100).collect(),
            })
        };
        let sources = &self.pipeline.sources;
        let Some(src) = self.pipeline.source(&f.template) else {
            return unknown("template", &f.template);
        };
        if !f.period.is_empty() && period_end(&f.period).is_none() {
            return unknown("period", &f.period);
        }
        let reg = self.registry;
        if !f.county.is_empty() {
            let known = match reg {
                Some(reg) => !reg.townships(&f.county).is_empty(),
                // without a registry a county is at least one plain name
                None => {
                    crate::fsio::safe_component(&f.county).as_deref() == Some(f.county.as_str())
                }
            };
            if !known {
                return unknown("county", &f.county);
            }
        }
        let mismatch = |property: &str, value: &str, place: &str, named: String| {
            Some(Problem::FormMismatch {
                property: format!("zhenxing.{property}"),
                value: value.to_string(),
                place: place.to_string(),
                named,
            })
        };
        if let (Some(reg), false) = (reg, f.county.is_empty()) {
            for place in [folder, Some(name)].into_iter().flatten() {
                if let Some(c) = reg.find_county_in(place).filter(|c| *c != f.county) {
                    return mismatch("county", &f.county, place, c);
                }
            }
        }
        let (fy, fm) = find_period(&f.period);
        let (ny, nm) = find_period(name);
        if let (Some(a), Some(b)) = (fy, ny) {
            let months_differ = matches!((fm, nm), (Some(x), Some(y)) if x != y);
            if a != b || months_differ {
                let named = match nm {
                    Some(m) => format!("{b}-{m:02}"),
                    None => b.to_string(),
                };
                return mismatch("period", &f.period, name, named);
            }
        }
        let by_name: Vec<&str> = sources
            .iter()
            .filter(|s| s.filename.iter().any(|r| r.is_match(name)))
            .map(|s| s.id.as_str())
            .collect();
        if !by_name.is_empty() && !by_name.contains(&src.id.as_str()) {
            return mismatch("template", &f.template, name, by_name.join(", "));
        }
        None
    }

    fn sheet_township(&self, sheet: &str, county: Option<&str>) -> Option<String> {
        let reg = self.registry?;
        let name = clean_name(sheet);
        let counties: Vec<String> = match county {
            Some(c) => vec![c.to_string()],
            None => reg.counties(),
        };
        for c in counties {
            for t in reg.townships(&c) {
                if *name == **t || (name.contains(&**t) && !t.is_empty()) {
                    return Some(t.to_string());
                }
            }
        }
        None
    }
}

/// Why the village registry cannot be used: nothing can be matched.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The pipeline has no source of dataset `villages`.
    #[error("no registry source (dataset villages) in the pipeline")]
    NoSource,
    /// The registry file is not there.
    #[error("registry file {} does not exist", .0.display())]
    Missing(std::path::PathBuf),
    /// The registry file was read and refused, with its file problems.
    #[error("registry {} cannot be used: {}", path.display(), problems.join("; "))]
    Unusable {
        /// The registry file.
        path: std::path::PathBuf,
        /// Its file problems.
        problems: Vec<String>,
    },
}

/// Loads the registry file through the ingest engine.
pub fn load_registry(
    pipeline: &Pipeline,
    isolation: Isolation,
) -> Result<(Registry, FileResult), RegistryError> {
    let src = pipeline.registry_source().ok_or(RegistryError::NoSource)?;
    if !pipeline.registry.is_file() {
        return Err(RegistryError::Missing(pipeline.registry.clone()));
    }
    let engine = Engine::new(pipeline, None, isolation);
    let res = engine.ingest(&pipeline.registry, Some(src));
    if res.failed() {
        return Err(RegistryError::Unusable {
            path: pipeline.registry.clone(),
            problems: res
                .issues
                .iter()
                .filter(|i| i.severity() == Severity::FileError)
                .map(|i| i.render(crate::validate::issue::Lang::En))
                .collect(),
        });
    }
    crate::worker::stage_trace("registry read");
    let names: Vec<String> = src.fields.iter().map(|f| f.name.clone()).collect();
    let registry = Registry::from_rows(&names, res.records.iter().map(|r| r.values.as_slice()));
    Ok((registry, res))
}

/// The problem a reader's error is for the county: a web page saved as
/// Excel has its own advice, the others are the file that cannot be read,
/// each with its code.
fn read_problem(e: crate::read::ReadError) -> Problem {
    use crate::catalogue::Code;
    use crate::read::ReadError;
    let code = match &e {
        ReadError::WebPage(kind) => return Problem::WebPage { kind: kind.clone() },
        ReadError::Io(_) => Code::Io,
        ReadError::NotSpreadsheet(_) => Code::NotSpreadsheet,
        ReadError::Password => Code::Password,
        ReadError::Corrupt(_) => Code::Corrupt,
        ReadError::TooLarge(_) => Code::TooLarge,
        ReadError::ZipBomb(_) => Code::ZipBomb,
        ReadError::Encoding(_) => Code::Encoding,
    };
    Problem::Unreadable {
        code,
        detail: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_from_names_and_titles() {
        assert_eq!(
            find_period("如皋市_村级组织架构统计表_2024_06.xlsx"),
            (Some(2024), Some(6))
        );
        assert_eq!(
            find_period("如皋市2024年3月村级组织架构统计表"),
            (Some(2024), Some(3))
        );
        assert_eq!(
            find_period("海安市2023年度考核评价汇总表"),
            (Some(2023), None)
        );
        assert_eq!(find_period("启东市_集体经济_2022.csv"), (Some(2022), None));
        assert_eq!(find_period("２０２４年１２月"), (Some(2024), Some(12)));
        assert_eq!(find_period("名录"), (None, None));
    }
}
