//! One file in, typed rows and a full account of every row out.
//!
//! For each file: read it (in a worker), recognise its template, and for
//! every visible data sheet find the header band, classify each non-blank
//! row (title, unit, header, sign-off, note, totals, data), turn data cells
//! into typed values, match the village to the registry, and validate
//! ranges, cross-field rules and key uniqueness. The result keeps the
//! conservation equation: rows read = accepted + rejected + non-data.

pub mod issue;
pub mod pii;
pub mod registry;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use chrono::{Datelike, NaiveDate};
use rayon::prelude::*;
use regex::Regex;
use serde::Serialize;

use crate::config::{Check, Context, Field, FieldType, Pipeline, Source};
use crate::fsio::sha256_file;
use crate::normalise::header::{detect, HeaderBand, HeaderGrid, HEAD_ROWS};
use crate::normalise::value::{
    cell_date, cell_number, cell_year, parse_chinese_level, raw_text, Value,
};
use crate::read::{Format, Frame, Limits, RawCell, SheetMeta};
use crate::text::{clean_name, format_number, is_placeholder, Unit};
use crate::validate::issue::{Issue, Problem, Severity};
use crate::validate::pii::mask_pii;
use crate::validate::registry::{MatchKind, Registry};
use crate::worker::{stream_isolated, Isolation, WorkerError};

/// Row counts of a file or sheet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Counts {
    /// Non-blank rows of the data sheets that were read.
    pub read: usize,
    pub accepted: usize,
    pub rejected: usize,
    /// Title, unit, header, sign-off, note and totals rows.
    pub non_data: usize,
    /// Output records (a row with 帮扶村1/2/3 gives three).
    pub records: usize,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.read += o.read;
        self.accepted += o.accepted;
        self.rejected += o.rejected;
        self.non_data += o.non_data;
        self.records += o.records;
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SheetSummary {
    pub name: String,
    /// read, hidden, instructions, no_header
    pub status: &'static str,
    /// One-based header rows, e.g. "3-4".
    pub header_rows: Option<String>,
    pub counts: Counts,
}

/// One accepted output record with its lineage.
#[derive(Debug, Clone)]
pub struct Record {
    pub values: Vec<Value>,
    pub sheet: Arc<str>,
    /// One-based row number in the sheet.
    pub row: usize,
}

#[derive(Debug, Clone)]
pub struct FileResult {
    pub path: PathBuf,
    pub name: String,
    pub sha256: String,
    pub bytes: u64,
    pub format: Option<String>,
    pub encoding: Option<String>,
    pub template: Option<String>,
    pub dataset: Option<String>,
    pub county: Option<String>,
    pub period: Option<String>,
    pub sheets: Vec<SheetSummary>,
    pub counts: Counts,
    pub issues: Vec<Issue>,
    pub records: Vec<Record>,
    pub read_ms: u64,
    pub total_ms: u64,
}

impl FileResult {
    /// A result with nothing in it (the shape of an empty rejects table).
    pub fn empty() -> FileResult {
        FileResult {
            path: PathBuf::new(),
            name: String::new(),
            sha256: String::new(),
            bytes: 0,
            format: None,
            encoding: None,
            template: None,
            dataset: None,
            county: None,
            period: None,
            sheets: Vec::new(),
            counts: Counts::default(),
            issues: Vec::new(),
            records: Vec::new(),
            read_ms: 0,
            total_ms: 0,
        }
    }

    pub fn failed(&self) -> bool {
        self.issues
            .iter()
            .any(|i| i.severity() == Severity::FileError)
    }

    pub fn count(&self, sev: Severity) -> usize {
        self.issues.iter().filter(|i| i.severity() == sev).count()
    }
}

/// What the ingest engine needs besides the pipeline.
pub struct Engine<'a> {
    pub pipeline: &'a Pipeline,
    pub registry: Option<&'a Registry>,
    pub isolation: Isolation,
    pub limits: Limits,
}

fn year_month_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        // a constant pattern: it compiles or no test passes
        Regex::new(
            r"(20\d{2}|19\d{2})\s*(?:年度|年)?\s*[_\-.]?\s*(?:(\d{1,2})(?:月|[_\-.]|$|[^\d]))?",
        )
        .expect("period pattern")
    })
}

/// Year and month named in a file name or title.
pub fn find_period(text: &str) -> (Option<i32>, Option<u32>) {
    let t = crate::text::to_half_width(text);
    for cap in year_month_re().captures_iter(&t) {
        let y = cap.get(1).and_then(|m| m.as_str().parse::<i32>().ok());
        let m = cap
            .get(2)
            .and_then(|m| m.as_str().parse::<u32>().ok())
            .filter(|m| (1..=12).contains(m));
        if y.is_some() {
            return (y, m);
        }
    }
    (None, None)
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
    if let Ok(f) = std::env::var("ZHENXING_FAULT") {
        for part in f.split(',') {
            let (what, name) = part.split_once(':').unwrap_or((part, ""));
            if name.is_empty() || !file.contains(name) {
                continue;
            }
            match what {
                "ingest-panic" => panic!("injected fault for {name}"),
                "ingest-slow" => std::thread::sleep(std::time::Duration::from_secs(2)),
                _ => {}
            }
        }
    }
}

/// Facts about a file that rows without their own column inherit.
#[derive(Debug, Clone, Default)]
struct FileContext {
    county: Option<String>,
    year: Option<i32>,
    month: Option<u32>,
}

impl<'a> Engine<'a> {
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
        }
    }

    fn base_result(&self, path: &Path) -> FileResult {
        FileResult {
            path: path.to_path_buf(),
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default(),
            ..FileResult::empty()
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
                let mut res = self.base_result(path);
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
        let mut res = self.base_result(path);
        match sha256_file(path) {
            Ok((h, n)) => {
                res.sha256 = h;
                res.bytes = n;
            }
            Err(e) => {
                res.issues.push(Issue::file(
                    Problem::Unreadable {
                        code: "F_IO".into(),
                        detail: e.to_string(),
                    },
                    &res.name,
                ));
                return res;
            }
        }
        let mut run = FileRun::new(self, Arc::from(res.name.as_str()), force);
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
                    WorkerError::Read(e) => Problem::Unreadable {
                        code: e.code().to_string(),
                        detail: e.to_string(),
                    },
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

    fn sheet_township(&self, sheet: &str, county: Option<&str>) -> Option<String> {
        let reg = self.registry?;
        let name = clean_name(sheet);
        let counties: Vec<String> = match county {
            Some(c) => vec![c.to_string()],
            None => reg.counties(),
        };
        for c in counties {
            for t in reg.townships(&c) {
                if name == *t || (name.contains(t.as_str()) && !t.is_empty()) {
                    return Some(t.clone());
                }
            }
        }
        None
    }
}

fn context_available(ctx: Option<Context>, fc: &FileContext, township: Option<&str>) -> bool {
    match ctx {
        None => false,
        Some(Context::County) => fc.county.is_some(),
        Some(Context::Township) => township.is_some(),
        Some(Context::Year) => fc.year.is_some(),
        Some(Context::Period) => fc.year.is_some() && fc.month.is_some(),
    }
}

fn file_period(source: &Source, ctx: &FileContext, records: &[Record]) -> Option<String> {
    // the most common period among the records, else the file's context
    let idx = source
        .fields
        .iter()
        .position(|f| f.context == Some(Context::Period))
        .or_else(|| {
            source
                .fields
                .iter()
                .position(|f| f.context == Some(Context::Year))
        });
    if let Some(i) = idx {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for r in records {
            let v = match &r.values[i] {
                Value::Date(d) => format!("{:04}-{:02}", d.year(), d.month()),
                Value::Null => continue,
                other => other.render(),
            };
            *counts.entry(v).or_default() += 1;
        }
        if let Some((p, _)) = counts
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        {
            return Some(p);
        }
    }
    match (ctx.year, ctx.month) {
        (Some(y), Some(m)) => Some(format!("{y:04}-{m:02}")),
        (Some(y), None) => Some(format!("{y:04}")),
        _ => None,
    }
}

/// The header labels a message lists: the first 40, then how many more.
fn shown_headers(labels: &[String]) -> Vec<String> {
    let all: Vec<&String> = labels.iter().filter(|l| !l.is_empty()).collect();
    let mut shown: Vec<String> = all.iter().take(40).map(|l| l.to_string()).collect();
    if all.len() > 40 {
        shown.push(format!("… (+{})", all.len() - 40));
    }
    shown
}

fn first_rows_text(rows: &[Vec<RawCell>]) -> Vec<String> {
    rows.iter()
        .take(6)
        .flat_map(|r| r.iter())
        .filter(|c| !c.is_empty())
        .map(raw_text)
        .take(20)
        .collect()
}

/// Blank rows between two batches that are filled in while a sheet's
/// first rows are kept; a longer gap keeps the batches apart.
const GAP_FILL: usize = 64;

fn nonblank(row: &[RawCell]) -> bool {
    row.iter().any(|c| !c.is_empty())
}

fn count_nonblank(rows: &[Vec<RawCell>]) -> usize {
    rows.iter().filter(|r| nonblank(r)).count()
}

/// A sheet of the file being read.
enum Slot<'p, 'a> {
    /// A hidden or instruction sheet: its rows are only counted.
    Skipped { status: &'static str, rows: usize },
    /// A data sheet whose header is not found yet: its rows are kept,
    /// the first ones by position, batches after a gap as they came.
    Waiting {
        rows: Vec<Vec<RawCell>>,
        later: Vec<(usize, Vec<Vec<RawCell>>)>,
        done: bool,
    },
    /// A data sheet without a header band: its rows are only counted.
    NoHeader { rows: usize },
    /// Rows go straight to validation.
    Active(Box<SheetPass<'p, 'a>>),
    /// The file failed (a missing column here or elsewhere); rows are only counted.
    Blocked {
        rows: usize,
        issue: Option<Box<Issue>>,
    },
}

/// One file being ingested as its frames arrive from the reader.
struct FileRun<'p, 'a> {
    engine: &'p Engine<'a>,
    file: Arc<str>,
    force: Option<&'a Source>,
    format: Option<Format>,
    encoding: Option<String>,
    is_1904: bool,
    metas: Vec<SheetMeta>,
    slots: Vec<Slot<'p, 'a>>,
    source: Option<&'a Source>,
    ctx: FileContext,
    no_template: Option<Issue>,
    failed: bool,
    keys: HashMap<String, (Arc<str>, usize)>,
    /// A frame broke a limit: the file's error; later frames are ignored.
    limit: Option<Issue>,
}

impl<'p, 'a> FileRun<'p, 'a> {
    fn new(engine: &'p Engine<'a>, file: Arc<str>, force: Option<&'a Source>) -> Self {
        FileRun {
            engine,
            file,
            force,
            format: None,
            encoding: None,
            is_1904: false,
            metas: Vec::new(),
            slots: Vec::new(),
            source: None,
            ctx: FileContext::default(),
            no_template: None,
            failed: false,
            keys: HashMap::new(),
            limit: None,
        }
    }

    fn on_frame(&mut self, frame: Frame) {
        if self.limit.is_some() {
            return;
        }
        if let Some(detail) = self.over_limits(&frame) {
            let p = Problem::Unreadable {
                code: "F_TOO_LARGE".into(),
                detail,
            };
            self.limit = Some(Issue::file(p, &self.file));
            self.slots.clear();
            return;
        }
        match frame {
            Frame::Book {
                format,
                is_1904,
                encoding,
                sheets,
            } => {
                self.format = Some(format);
                self.is_1904 = is_1904;
                self.encoding = encoding;
                self.slots = sheets
                    .iter()
                    .map(|m| {
                        if m.hidden {
                            Slot::Skipped {
                                status: "hidden",
                                rows: 0,
                            }
                        } else if self.engine.is_instruction_sheet(&m.name) {
                            Slot::Skipped {
                                status: "instructions",
                                rows: 0,
                            }
                        } else {
                            Slot::Waiting {
                                rows: Vec::new(),
                                later: Vec::new(),
                                done: false,
                            }
                        }
                    })
                    .collect();
                self.metas = sheets;
            }
            Frame::Rows { sheet, first, rows } => {
                // sheets come in order: the ones before have all their rows
                for slot in self.slots.iter_mut().take(sheet) {
                    if let Slot::Waiting { done, .. } = slot {
                        *done = true;
                    }
                }
                let keys = &mut self.keys;
                match self.slots.get_mut(sheet) {
                    Some(Slot::Skipped { rows: n, .. })
                    | Some(Slot::NoHeader { rows: n })
                    | Some(Slot::Blocked { rows: n, .. }) => *n += count_nonblank(&rows),
                    Some(Slot::Waiting {
                        rows: kept, later, ..
                    }) => {
                        // a gap is a gap: only a short one is filled, and
                        // only among the first rows
                        if later.is_empty() && first <= kept.len() + GAP_FILL {
                            kept.resize_with(first, Vec::new);
                            kept.extend(rows);
                        } else {
                            later.push((first, rows));
                        }
                    }
                    Some(Slot::Active(pass)) => pass.feed(keys, first, &rows),
                    None => {}
                }
                self.advance(false);
            }
            Frame::End(_) => {}
        }
    }

    /// Whether a frame breaks the limits the reader should have kept (the
    /// parent does not trust it): a description of the breach.
    fn over_limits(&self, frame: &Frame) -> Option<String> {
        let l = &self.engine.limits;
        match frame {
            Frame::Book { sheets, .. } => sheets
                .iter()
                .find(|m| m.merges.len() > l.max_merges)
                .map(|m| {
                    format!(
                        "sheet {} has {} merged regions, limit {}",
                        m.name,
                        m.merges.len(),
                        l.max_merges
                    )
                }),
            Frame::Rows { sheet, first, rows } => {
                let name = self
                    .metas
                    .get(*sheet)
                    .map(|m| m.name.as_str())
                    .unwrap_or("?");
                if first.saturating_add(rows.len()) > l.max_rows {
                    return Some(format!(
                        "sheet {name} has rows beyond row {}; a sheet has at most {} rows",
                        l.max_rows, l.max_rows
                    ));
                }
                rows.iter().position(|r| r.len() > l.max_cols).map(|i| {
                    format!(
                        "sheet {name} row {} has {} columns; a sheet has at most {}",
                        first + i + 1,
                        rows[i].len(),
                        l.max_cols
                    )
                })
            }
            Frame::End(_) => None,
        }
    }

    /// Chooses the template once the data sheets' first rows are in, and
    /// starts each sheet's validation once its header can be found.
    fn advance(&mut self, all_done: bool) {
        set_stage("finding the template and header band");
        let ready = |slot: &Slot| match slot {
            Slot::Waiting { rows, later, done } => {
                all_done || *done || rows.len() >= HEAD_ROWS || !later.is_empty()
            }
            _ => true,
        };
        let ignore = &self.engine.pipeline.sheets.ignore_headers;
        if self.source.is_none() {
            if self.no_template.is_some() {
                return;
            }
            let data: Vec<usize> = (0..self.slots.len())
                .filter(|&i| matches!(self.slots[i], Slot::Waiting { .. }))
                .collect();
            if data.is_empty() || !data.iter().all(|&i| ready(&self.slots[i])) {
                return;
            }
            let grids: Vec<HeaderGrid> = data.iter().map(|&i| self.grid(i)).collect();
            let chosen = match self.force {
                Some(s) => Some(s),
                None => self.engine.choose_source(&self.file, &grids),
            };
            let Some(source) = chosen else {
                let headers = match &self.slots[data[0]] {
                    Slot::Waiting { rows, .. } => first_rows_text(rows),
                    _ => Vec::new(),
                };
                self.no_template = Some(Issue::file(Problem::NoTemplate { headers }, &self.file));
                return;
            };
            // the title is what stands above the first data sheet's header band
            let title_rows = detect(&grids[0], source, ignore)
                .map(|b| b.start)
                .unwrap_or(0);
            let title = match &self.slots[data[0]] {
                Slot::Waiting { rows, .. } => rows
                    .iter()
                    .take(title_rows)
                    .flat_map(|r| r.iter())
                    .filter_map(|c| c.text())
                    .collect::<Vec<_>>()
                    .join(" "),
                _ => String::new(),
            };
            self.ctx = self.engine.file_context(&self.file, &title);
            self.source = Some(source);
        }
        let Some(source) = self.source else { return };
        for i in 0..self.slots.len() {
            if !matches!(self.slots[i], Slot::Waiting { .. }) || !ready(&self.slots[i]) {
                continue;
            }
            let grid = self.grid(i);
            let Slot::Waiting { rows, later, .. } =
                std::mem::replace(&mut self.slots[i], Slot::NoHeader { rows: 0 })
            else {
                continue;
            };
            let later_rows: usize = later.iter().map(|(_, b)| count_nonblank(b)).sum();
            let name = self.metas[i].name.clone();
            let Some(band) = detect(&grid, source, ignore) else {
                self.slots[i] = Slot::NoHeader {
                    rows: count_nonblank(&rows) + later_rows,
                };
                continue;
            };
            let township = self
                .engine
                .sheet_township(&name, self.ctx.county.as_deref());
            let missing: Vec<&Field> = source
                .fields
                .iter()
                .enumerate()
                .filter(|(f, field)| {
                    field.required
                        && !band.columns.iter().flatten().any(|m| m.field == *f)
                        && !context_available(field.context, &self.ctx, township.as_deref())
                })
                .map(|(_, f)| f)
                .collect();
            if !missing.is_empty() {
                let mut issue = Issue::file(
                    Problem::MissingFields {
                        fields: missing.iter().map(|f| f.header.clone()).collect(),
                        headers: shown_headers(&band.labels),
                    },
                    &self.file,
                );
                issue.sheet = Some(name);
                issue.row = Some(band.start);
                self.failed = true;
                self.slots[i] = Slot::Blocked {
                    rows: count_nonblank(&rows) + later_rows,
                    issue: Some(Box::new(issue)),
                };
                continue;
            }
            if self.failed {
                self.slots[i] = Slot::Blocked {
                    rows: count_nonblank(&rows) + later_rows,
                    issue: None,
                };
                continue;
            }
            let end = band.end();
            let mut pass = SheetPass::new(
                self.engine,
                source,
                band,
                self.ctx.clone(),
                township,
                self.file.clone(),
                &name,
                self.is_1904,
            );
            pass.begin(&rows);
            if rows.len() > end {
                pass.feed(&mut self.keys, end, &rows[end..]);
            }
            for (first, batch) in later {
                // a batch that starts inside the band (cannot happen after a
                // gap, but the rows are never counted twice)
                let skip = end.saturating_sub(first).min(batch.len());
                pass.feed(&mut self.keys, first + skip, &batch[skip..]);
            }
            self.slots[i] = Slot::Active(Box::new(pass));
        }
    }

    fn grid(&self, i: usize) -> HeaderGrid {
        match &self.slots[i] {
            Slot::Waiting { rows, .. } => {
                HeaderGrid::from_rows(rows, &self.metas[i].merges, self.metas[i].has_merge_info)
            }
            _ => HeaderGrid::from_rows(&[], &[], true),
        }
    }

    /// Everything is read: assemble the result.
    fn finish(mut self, res: &mut FileResult) {
        if let Some(i) = self.limit.take() {
            res.issues.push(i);
            return;
        }
        self.advance(true);
        res.format = self.format.map(|f| f.label().to_string());
        res.encoding = self.encoding.clone();
        let file = self.file.clone();
        let sheet_issue = |p: Problem, name: &str| {
            let mut i = Issue::file(p, &file);
            i.sheet = Some(name.to_string());
            i
        };
        let summary = |name: &str, status: &'static str| SheetSummary {
            name: name.to_string(),
            status,
            header_rows: None,
            counts: Counts::default(),
        };
        // skipped sheets are reported with their size
        for (slot, meta) in self.slots.iter().zip(&self.metas) {
            if let Slot::Skipped { status, rows } = slot {
                let rows = *rows;
                let p = if *status == "hidden" {
                    Problem::HiddenSheet { rows }
                } else {
                    Problem::InstructionSheet { rows }
                };
                res.issues.push(sheet_issue(p, &meta.name));
                res.sheets.push(summary(&meta.name, status));
            }
        }
        let has_data = self
            .slots
            .iter()
            .any(|s| !matches!(s, Slot::Skipped { .. }));
        if !has_data {
            res.issues.push(Issue::file(Problem::NoDataSheet, &file));
            return;
        }
        if let Some(i) = self.no_template.take() {
            res.issues.push(i);
            return;
        }
        let Some(source) = self.source else { return };
        res.template = Some(source.id.clone());
        res.dataset = Some(source.dataset.clone());
        res.county = self.ctx.county.clone();
        let mut passes = Vec::new();
        for (slot, meta) in self.slots.into_iter().zip(&self.metas) {
            match slot {
                Slot::NoHeader { rows } => {
                    res.issues
                        .push(sheet_issue(Problem::NoHeaderSheet { rows }, &meta.name));
                    res.sheets.push(summary(&meta.name, "no_header"));
                }
                Slot::Blocked { issue: Some(i), .. } => res.issues.push(*i),
                Slot::Active(pass) => passes.push(pass),
                _ => {}
            }
        }
        if self.failed {
            return;
        }
        if passes.is_empty() {
            res.issues.push(Issue::file(Problem::NoDataSheet, &file));
            return;
        }
        for pass in passes {
            let band = &pass.band;
            let header_rows = Some(if band.height == 1 {
                format!("{}", band.start + 1)
            } else {
                format!("{}-{}", band.start + 1, band.end())
            });
            res.counts.add(&pass.counts);
            res.sheets.push(SheetSummary {
                name: pass.sheet_name.to_string(),
                status: "read",
                header_rows,
                counts: pass.counts,
            });
            res.issues.extend(pass.issues);
            res.records.extend(pass.records);
        }
        // a missing column of a rule is said once per file, not per sheet
        let mut said = std::collections::HashSet::new();
        res.issues.retain(|i| match &i.problem {
            Problem::MissingColumn { column, .. } => said.insert(column.clone()),
            _ => true,
        });
        res.period = file_period(source, &self.ctx, &res.records);
    }
}

/// What kind of non-blank row this is.
#[derive(Debug, PartialEq)]
enum RowKind {
    Data,
    SignOff,
    Note,
    Total { label: String, subtotal: bool },
    RepeatedHeader,
    NoFieldData,
}

struct SheetPass<'p, 'a> {
    engine: &'p Engine<'a>,
    source: &'p Source,
    band: HeaderBand,
    ctx: FileContext,
    township: Option<String>,
    file: Arc<str>,
    counts: Counts,
    issues: Vec<Issue>,
    records: Vec<Record>,
    /// Registry names closest to each unknown village, computed once.
    suggestions: HashMap<String, Vec<String>>,
    sheet_name: Arc<str>,
    sheet_unit: Option<Unit>,
    is_1904: bool,
    /// The lowest header text of each column, as written (for repeated headers).
    header_text: Vec<String>,
    /// The columns of each field.
    field_cols: Vec<Vec<usize>>,
    /// Fields checked against totals rows, and their running sums.
    total_fields: Vec<usize>,
    sheet_sum: Vec<f64>,
    sub_sum: Vec<f64>,
}

/// One data row evaluated on its own.
struct RowEval {
    problems: Vec<Issue>,
    warnings: Vec<Issue>,
    records: Vec<Vec<Value>>,
    /// Each field's number, when it parsed as one (for totals rows).
    numbers: Vec<Option<f64>>,
}

/// A value with the problem it had, per field.
enum Parsed {
    Ok(Value),
    Err(Problem),
}

impl<'p, 'a> SheetPass<'p, 'a> {
    fn issue(
        &self,
        p: Problem,
        row: usize,
        col: Option<usize>,
        field: Option<usize>,
        raw: Option<String>,
    ) -> Issue {
        let f = field.map(|i| &self.source.fields[i]);
        let label = match (col, f) {
            (Some(c), Some(_)) => self
                .band
                .labels
                .get(c)
                .filter(|l| !l.is_empty())
                .map(|l| l.rsplit('/').next().unwrap_or(l).to_string()),
            _ => None,
        }
        .or_else(|| f.map(|f| f.header.clone()));
        let raw = match (f.and_then(|f| f.pii), raw) {
            (Some(kind), Some(r)) => Some(mask_pii(kind, &r)),
            (_, r) => r,
        };
        Issue {
            problem: p,
            file: self.file.to_string(),
            sheet: Some(self.sheet_name.to_string()),
            row: Some(row),
            col,
            field: f.map(|f| f.name.clone()),
            field_label: label,
            raw,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn new(
        engine: &'p Engine<'a>,
        source: &'p Source,
        band: HeaderBand,
        ctx: FileContext,
        township: Option<String>,
        file: Arc<str>,
        sheet_name: &str,
        is_1904: bool,
    ) -> Self {
        let n = source.fields.len();
        let mut field_cols: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (c, m) in band.columns.iter().enumerate() {
            if let Some(m) = m {
                field_cols[m.field].push(c);
            }
        }
        let total_fields = (0..n)
            .filter(|&i| source.fields[i].total && !field_cols[i].is_empty())
            .collect();
        let header_text = band
            .labels
            .iter()
            .map(|l| l.rsplit('/').next().unwrap_or("").trim().to_string())
            .collect();
        SheetPass {
            engine,
            source,
            band,
            ctx,
            township,
            file,
            counts: Counts::default(),
            issues: Vec::new(),
            records: Vec::new(),
            suggestions: HashMap::new(),
            sheet_name: Arc::from(sheet_name),
            sheet_unit: None,
            is_1904,
            header_text,
            field_cols,
            total_fields,
            sheet_sum: vec![0.0; n],
            sub_sum: vec![0.0; n],
        }
    }

    /// Rows above and in the header band (title, unit notes, header): all
    /// non-data. `head` holds at least the rows up to the band's end.
    fn begin(&mut self, head: &[Vec<RawCell>]) {
        for row in head.iter().take(self.band.end()) {
            if !nonblank(row) {
                continue;
            }
            self.counts.read += 1;
            self.counts.non_data += 1;
            for c in row.iter().filter_map(|c| c.text()) {
                if let Some(u) = unit_note(c) {
                    self.sheet_unit = Some(u);
                }
            }
        }
        // a cross-field rule needs its columns; without one it is not
        // checked (one warning per file, see `finish`)
        for ck in &self.source.checks {
            let (cols, rule) = match *ck {
                Check::Le { left, right } => {
                    let f = &self.source.fields;
                    (
                        vec![left, right],
                        format!("{} ≤ {}", f[left].header, f[right].header),
                    )
                }
                Check::RequiredIf { field, when } => {
                    let f = &self.source.fields;
                    (
                        vec![field, when],
                        format!("{} ⇐ {}", f[field].header, f[when].header),
                    )
                }
            };
            for f in cols {
                if self.field_cols[f].is_empty() && self.source.fields[f].context.is_none() {
                    let p = Problem::MissingColumn {
                        column: self.source.fields[f].header.clone(),
                        rule: rule.clone(),
                    };
                    let mut i = Issue::file(p, &self.file);
                    i.field = Some(self.source.fields[f].name.clone());
                    self.issues.push(i);
                }
            }
        }
        // unknown columns are reported once per sheet
        for c in 0..self.band.columns.len() {
            let label = &self.band.labels[c];
            if self.band.columns[c].is_none() && !label.is_empty() {
                let p = Problem::UnknownColumn {
                    header: label.clone(),
                };
                let i = self.issue(p, self.band.start, Some(c), None, None);
                self.issues.push(i);
            }
        }
    }

    /// Data rows `first..first + rows.len()` (all below the header band).
    /// They are classified and evaluated in parallel, then finished in order.
    fn feed(
        &mut self,
        keys: &mut HashMap<String, (Arc<str>, usize)>,
        first: usize,
        rows: &[Vec<RawCell>],
    ) {
        set_stage("validating rows");
        inject_fault(&self.file);
        let evaluated: Vec<(usize, RowKind, Option<RowEval>)> = {
            let this = &*self;
            let todo: Vec<usize> = (0..rows.len()).filter(|&i| nonblank(&rows[i])).collect();
            todo.par_iter()
                .with_min_len(256)
                .map(|&i| {
                    let row = &rows[i];
                    let kind = this.classify(row, &this.field_cols);
                    let ev = (kind == RowKind::Data)
                        .then(|| this.evaluate(first + i, row, &this.field_cols));
                    (i, kind, ev)
                })
                .collect()
        };
        for (i, kind, ev) in evaluated {
            let r = first + i;
            self.counts.read += 1;
            match (kind, ev) {
                (RowKind::Data, Some(ev)) => {
                    for &f in &self.total_fields {
                        if let Some(x) = ev.numbers[f] {
                            self.sheet_sum[f] += x;
                            self.sub_sum[f] += x;
                        }
                    }
                    if self.finish_row(keys, r, ev) {
                        self.counts.accepted += 1;
                    } else {
                        self.counts.rejected += 1;
                    }
                }
                (RowKind::Total { label, subtotal }, _) => {
                    self.counts.non_data += 1;
                    let sums = if subtotal {
                        self.sub_sum.clone()
                    } else {
                        self.sheet_sum.clone()
                    };
                    self.check_total(r, &rows[i], &label, &sums);
                    if subtotal {
                        self.sub_sum.iter_mut().for_each(|x| *x = 0.0);
                    }
                }
                _ => self.counts.non_data += 1,
            }
        }
    }

    fn classify(&self, row: &[RawCell], field_cols: &[Vec<usize>]) -> RowKind {
        let sheets = &self.engine.pipeline.sheets;
        // sign-off and note rows start with a label
        if let Some(RawCell::Text(first)) = row.iter().find(|c| !c.is_empty()) {
            let first = clean_name(first);
            if sheets.signoff.iter().any(|s| first.starts_with(s.as_str())) {
                return RowKind::SignOff;
            }
            if sheets.notes.iter().any(|s| first.starts_with(s.as_str())) {
                return RowKind::Note;
            }
        }
        let totals = &self.engine.pipeline.totals;
        for c in row.iter().filter_map(|c| c.text()) {
            if c.len() > 64 {
                continue;
            }
            let t = clean_name(c);
            if t.is_empty() {
                continue;
            }
            if totals
                .subtotal_labels
                .iter()
                .any(|l| t.ends_with(l.as_str()))
            {
                return RowKind::Total {
                    label: t.into_owned(),
                    subtotal: true,
                };
            }
            if totals.labels.iter().any(|l| t.ends_with(l.as_str())) {
                return RowKind::Total {
                    label: t.into_owned(),
                    subtotal: false,
                };
            }
        }
        // a header repeated inside the data (page breaks copied from print view)
        let mut same = 0;
        let mut mapped = 0;
        for (c, m) in self.band.columns.iter().enumerate() {
            if m.is_some() {
                mapped += 1;
                if let Some(RawCell::Text(t)) = row.get(c) {
                    if !self.header_text[c].is_empty() && t.trim() == self.header_text[c] {
                        same += 1;
                    }
                }
            }
        }
        if mapped > 0 && same * 2 > mapped {
            return RowKind::RepeatedHeader;
        }
        let has_field_data = field_cols.iter().flatten().any(|&c| {
            row.get(c)
                .map(|x| !x.is_empty() && !is_placeholder_cell(x))
                .unwrap_or(false)
        });
        if !has_field_data {
            return RowKind::NoFieldData;
        }
        RowKind::Data
    }

    fn check_total(&mut self, r: usize, row: &[RawCell], label: &str, sums: &[f64]) {
        let tol = &self.engine.pipeline.totals;
        let mut found = Vec::new();
        for &f in &self.total_fields {
            let Some(&c) = self.field_cols[f].first() else {
                continue;
            };
            let cell = row.get(c).unwrap_or(&EMPTY);
            let Parsed::Ok(v) = self.parse_cell(f, c, cell) else {
                continue;
            };
            let Some(stated) = v.as_f64() else { continue };
            let computed = sums[f];
            if (stated - computed).abs() > tol.absolute + tol.relative * stated.abs() {
                let p = Problem::TotalsMismatch {
                    label: label.to_string(),
                    stated: format_number(stated),
                    computed: format_number((computed * 100.0).round() / 100.0),
                };
                found.push(self.issue(p, r, Some(c), Some(f), Some(raw_text(cell))));
            }
        }
        self.issues.extend(found);
    }

    fn column_unit(&self, c: usize) -> Option<Unit> {
        self.band
            .columns
            .get(c)
            .copied()
            .flatten()
            .and_then(|m| m.unit)
    }

    fn parse_cell(&self, f: usize, c: usize, cell: &RawCell) -> Parsed {
        let field = &self.source.fields[f];
        let bad = |code: &str, expected: &str| {
            Parsed::Err(Problem::BadValue {
                code: code.to_string(),
                expected: expected.to_string(),
            })
        };
        let is_1904 = self.is_1904;
        match field.ty {
            FieldType::Text | FieldType::List => {
                let t = cell_text(cell);
                let t = t.trim();
                if t.is_empty() || is_placeholder(t) {
                    return Parsed::Ok(Value::Null);
                }
                if field.ty == FieldType::List {
                    let parts: Vec<String> = t
                        .split([';', '；', ',', '，', '、'])
                        .map(|p| clean_name(p).into_owned())
                        .filter(|s| !s.is_empty())
                        .collect();
                    return Parsed::Ok(Value::Text(parts.join(";")));
                }
                let t = crate::text::to_half_width(t).trim().to_string();
                if field.pii == Some(crate::config::PiiKind::IdNumber) && !pii::id_number_valid(&t)
                {
                    return bad(
                        "E_ID_NUMBER",
                        "an 18-character resident ID number with a valid check digit",
                    );
                }
                Parsed::Ok(Value::Text(t))
            }
            FieldType::Name => {
                let raw = cell_text(cell);
                let t = clean_name(&raw);
                if is_placeholder(&t) {
                    Parsed::Ok(Value::Null)
                } else {
                    Parsed::Ok(Value::Text(t.into_owned()))
                }
            }
            FieldType::Enum => {
                let raw = cell_text(cell);
                let t = clean_name(&raw);
                let listed = field.values.iter().any(|v| clean_name(v) == t);
                if t.is_empty() || (is_placeholder(&t) && !listed) {
                    return Parsed::Ok(Value::Null);
                }
                if listed {
                    Parsed::Ok(Value::Text(t.into_owned()))
                } else {
                    Parsed::Err(Problem::NotInList {
                        allowed: field.values.clone(),
                    })
                }
            }
            FieldType::Int | FieldType::Number | FieldType::Money | FieldType::Percent => {
                let n = match cell_number(cell) {
                    Ok(Some(n)) => n,
                    Ok(None) => return Parsed::Ok(Value::Null),
                    Err(_) => {
                        return if field.ty == FieldType::Int {
                            bad("E_NOT_INTEGER", "a whole number")
                        } else {
                            bad("E_NOT_NUMBER", "a number")
                        }
                    }
                };
                match field.ty {
                    FieldType::Int => {
                        // beyond 2^53 a float no longer holds every whole number
                        if n.unit.is_some_and(|u| u != Unit::Yuan)
                            || (n.value - n.value.round()).abs() > 1e-9
                            || n.value.abs() > MAX_EXACT_INT
                        {
                            bad("E_NOT_INTEGER", "a whole number")
                        } else {
                            Parsed::Ok(Value::Int(n.value.round() as i64))
                        }
                    }
                    FieldType::Number => Parsed::Ok(Value::Float(n.value)),
                    FieldType::Money => {
                        let unit = n
                            .unit
                            .filter(|u| *u != Unit::Percent)
                            .or(self.column_unit(c).filter(|u| *u != Unit::Percent))
                            .or(self.sheet_unit)
                            .or(field.unit)
                            .unwrap_or(Unit::Yuan);
                        let yuan = (n.value * unit.to_yuan() * 100.0).round() / 100.0;
                        if !yuan.is_finite() || yuan.abs() > MAX_EXACT_INT {
                            return bad("E_NOT_NUMBER", "a number");
                        }
                        Parsed::Ok(Value::Float(yuan))
                    }
                    _ => {
                        let pct = if n.unit == Some(Unit::Percent) || n.value.abs() > 1.0 {
                            n.value
                        } else {
                            n.value * 100.0
                        };
                        let pct = (pct * 1e6).round() / 1e6;
                        if !pct.is_finite() {
                            return bad("E_NOT_NUMBER", "a number");
                        }
                        Parsed::Ok(Value::Float(pct))
                    }
                }
            }
            FieldType::Level => match cell {
                RawCell::Empty => Parsed::Ok(Value::Null),
                RawCell::Int(i) => Parsed::Ok(Value::Int(*i)),
                RawCell::Float(f) if f.fract() == 0.0 && f.abs() <= MAX_EXACT_INT => {
                    Parsed::Ok(Value::Int(*f as i64))
                }
                RawCell::Text(t) if is_placeholder(t) => Parsed::Ok(Value::Null),
                RawCell::Text(t) => match parse_chinese_level(t) {
                    Some(n) => Parsed::Ok(Value::Int(n)),
                    None => bad("E_NOT_LEVEL", "a level"),
                },
                _ => bad("E_NOT_LEVEL", "a level"),
            },
            FieldType::Bool => {
                match crate::normalise::value::yes_no(&self.engine.pipeline.yes_no, cell) {
                    Ok(Some(b)) => Parsed::Ok(Value::Bool(b)),
                    Ok(None) => Parsed::Ok(Value::Null),
                    Err(_) => bad("E_NOT_YESNO", "yes or no"),
                }
            }
            FieldType::Date | FieldType::Month => match cell_date(cell, is_1904) {
                Ok(Some(d)) => {
                    let d = if field.ty == FieldType::Month {
                        NaiveDate::from_ymd_opt(d.year(), d.month(), 1).unwrap_or(d)
                    } else {
                        d
                    };
                    Parsed::Ok(Value::Date(d))
                }
                Ok(None) => Parsed::Ok(Value::Null),
                Err(_) => bad("E_NOT_DATE", "a date"),
            },
            FieldType::Year => match cell_year(cell, is_1904) {
                Ok(Some(y)) => Parsed::Ok(Value::Int(y)),
                Ok(None) => Parsed::Ok(Value::Null),
                Err(_) => bad("E_NOT_YEAR", "a year"),
            },
            FieldType::Code => {
                let t = match cell {
                    RawCell::Empty => return Parsed::Ok(Value::Null),
                    RawCell::Int(i) => i.to_string(),
                    RawCell::Float(f) if f.fract() == 0.0 && *f >= 0.0 => format!("{}", *f as u64),
                    other => clean_name(&cell_text(other)).into_owned(),
                };
                if is_placeholder(&t) {
                    return Parsed::Ok(Value::Null);
                }
                if t.len() == 12 && t.chars().all(|c| c.is_ascii_digit()) {
                    Parsed::Ok(Value::Text(t))
                } else {
                    bad("E_BAD_CODE", "a 12-digit division code")
                }
            }
        }
    }

    fn context_value(&self, f: &Field) -> Value {
        match f.context {
            Some(Context::County) => self
                .ctx
                .county
                .clone()
                .map(Value::Text)
                .unwrap_or(Value::Null),
            Some(Context::Township) => self
                .township
                .clone()
                .map(Value::Text)
                .unwrap_or(Value::Null),
            Some(Context::Year) => self
                .ctx
                .year
                .map(|y| Value::Int(y as i64))
                .unwrap_or(Value::Null),
            Some(Context::Period) => match (self.ctx.year, self.ctx.month) {
                (Some(y), Some(m)) => NaiveDate::from_ymd_opt(y, m, 1)
                    .map(Value::Date)
                    .unwrap_or(Value::Null),
                _ => Value::Null,
            },
            None => Value::Null,
        }
    }

    /// Parses and validates one data row on its own (rows are evaluated in
    /// parallel); what depends on other rows happens in [`Self::finish_row`].
    fn evaluate(&self, r: usize, row: &[RawCell], field_cols: &[Vec<usize>]) -> RowEval {
        let fields = &self.source.fields;
        let mut problems: Vec<Issue> = Vec::new();
        let mut parsed: Vec<Parsed> = Vec::with_capacity(fields.len());
        let mut col_of: Vec<Option<usize>> = vec![None; fields.len()];
        let mut spread: Option<(usize, Vec<(usize, Value)>)> = None;
        for (f, field) in fields.iter().enumerate() {
            let cols = &field_cols[f];
            if field.spread && cols.len() > 1 {
                let mut vals = Vec::new();
                for &c in cols {
                    let cell = row.get(c).unwrap_or(&EMPTY);
                    match self.parse_cell(f, c, cell) {
                        Parsed::Ok(Value::Null) => {}
                        Parsed::Ok(v) => vals.push((c, v)),
                        Parsed::Err(p) => {
                            problems.push(self.issue(p, r, Some(c), Some(f), Some(raw_text(cell))))
                        }
                    }
                }
                col_of[f] = cols.first().copied();
                parsed.push(Parsed::Ok(
                    vals.first().map(|x| x.1.clone()).unwrap_or(Value::Null),
                ));
                spread = Some((f, vals));
                continue;
            }
            // first non-empty matching column wins
            let col = cols
                .iter()
                .copied()
                .find(|&c| row.get(c).map(|x| !x.is_empty()).unwrap_or(false))
                .or(cols.first().copied());
            col_of[f] = col;
            let p = match col {
                Some(c) => {
                    let cell = row.get(c).unwrap_or(&EMPTY);
                    let p = self.parse_cell(f, c, cell);
                    match p {
                        Parsed::Ok(Value::Null) if field.context.is_some() => {
                            Parsed::Ok(self.context_value(field))
                        }
                        other => other,
                    }
                }
                None => Parsed::Ok(self.context_value(field)),
            };
            if let Parsed::Err(pr) = &p {
                let raw = col.and_then(|c| row.get(c)).map(raw_text);
                problems.push(self.issue(pr.clone(), r, col, Some(f), raw));
            }
            parsed.push(p);
        }
        // a row that gives the village's code may leave the names to the registry
        let code_given = self.source.match_village
            && self
                .source
                .field_index("village_code")
                .map(|i| matches!(&parsed[i], Parsed::Ok(v) if !v.is_null()))
                .unwrap_or(false);
        // required and ranges
        for (f, field) in fields.iter().enumerate() {
            let Parsed::Ok(v) = &parsed[f] else { continue };
            let raw = || col_of[f].and_then(|c| row.get(c)).map(raw_text);
            if v.is_null() {
                let spread_has =
                    matches!(&spread, Some((sf, vals)) if *sf == f && !vals.is_empty());
                let from_registry =
                    code_given && matches!(field.name.as_str(), "county" | "township" | "village");
                if field.required && !spread_has && !from_registry {
                    problems.push(self.issue(Problem::Required, r, col_of[f], Some(f), raw()));
                }
                continue;
            }
            if let Some(x) = v.as_f64() {
                let lo = field.min.map(|m| x < m).unwrap_or(false);
                let hi = field.max.map(|m| x > m).unwrap_or(false);
                if lo || hi {
                    let p = Problem::OutOfRange {
                        value: format_number(x),
                        min: field.min,
                        max: field.max,
                    };
                    problems.push(self.issue(p, r, col_of[f], Some(f), raw()));
                }
            }
        }
        // cross-field rules
        for ck in &self.source.checks {
            match *ck {
                Check::Le { left, right } => {
                    if let (Parsed::Ok(a), Parsed::Ok(b)) = (&parsed[left], &parsed[right]) {
                        if let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) {
                            if x > y {
                                let p = Problem::NotGreater {
                                    left: self.label_of(left, col_of[left]),
                                    left_value: format_number(x),
                                    right: self.label_of(right, col_of[right]),
                                    right_value: format_number(y),
                                };
                                let raw = col_of[left].and_then(|c| row.get(c)).map(raw_text);
                                problems.push(self.issue(p, r, col_of[left], Some(left), raw));
                            }
                        }
                    }
                }
                Check::RequiredIf { field, when } => {
                    // a rule whose column the file lacks is not checked
                    if field_cols[field].is_empty() {
                        continue;
                    }
                    if let (Parsed::Ok(v), Parsed::Ok(Value::Bool(true))) =
                        (&parsed[field], &parsed[when])
                    {
                        if v.is_null() {
                            let p = Problem::RequiredIf {
                                when: self.label_of(when, col_of[when]),
                            };
                            problems.push(self.issue(p, r, col_of[field], Some(field), None));
                        }
                    }
                }
            }
        }
        // one record per spread value (or just one)
        let mut base: Vec<Value> = parsed
            .iter()
            .map(|p| match p {
                Parsed::Ok(v) => v.clone(),
                Parsed::Err(_) => Value::Null,
            })
            .collect();
        let mut out: Vec<Vec<Value>> = Vec::new();
        let mut warnings: Vec<Issue> = Vec::new();
        match &spread {
            Some((sf, vals)) if vals.len() > 1 => {
                for (c, v) in vals {
                    let mut rec = base.clone();
                    rec[*sf] = v.clone();
                    if self.source.match_village {
                        self.match_village(
                            r,
                            &mut rec,
                            &col_of,
                            Some(*c),
                            &mut problems,
                            &mut warnings,
                        );
                    }
                    out.push(rec);
                }
            }
            _ => {
                if self.source.match_village && problems.is_empty() {
                    self.match_village(r, &mut base, &col_of, None, &mut problems, &mut warnings);
                }
                out.push(base);
            }
        }
        let numbers = parsed
            .iter()
            .map(|p| match p {
                Parsed::Ok(v) => v.as_f64(),
                Parsed::Err(_) => None,
            })
            .collect();
        RowEval {
            problems,
            warnings,
            records: out,
            numbers,
        }
    }

    /// Checks a row's keys against the rows before it and records the
    /// outcome. Returns whether the row was accepted.
    fn finish_row(
        &mut self,
        keys: &mut HashMap<String, (Arc<str>, usize)>,
        r: usize,
        ev: RowEval,
    ) -> bool {
        let fields = &self.source.fields;
        let RowEval {
            mut problems,
            warnings,
            records: out,
            ..
        } = ev;
        for p in problems.iter_mut() {
            if let Problem::UnknownVillage {
                name,
                county,
                township,
                suggestions,
            } = &mut p.problem
            {
                // the edit-distance search costs length × length per village:
                // a long "name" (a pasted paragraph) gets no suggestions
                let max = self.engine.pipeline.limits.max_match_name_chars;
                if name.chars().count() > max {
                    continue;
                }
                if let Some(reg) = self.engine.registry {
                    let key = format!("{county}\u{1F}{township}\u{1F}{name}");
                    *suggestions = self
                        .suggestions
                        .entry(key)
                        .or_insert_with(|| reg.suggest(county, township, name))
                        .clone();
                }
            }
        }
        // keys are unique within a file (and period, when the period is a key)
        if problems.is_empty() && !self.source.keys.is_empty() {
            for rec in &out {
                if self.source.keys.iter().any(|&k| rec[k].is_null()) {
                    continue;
                }
                let mut key = String::new();
                for (n, &k) in self.source.keys.iter().enumerate() {
                    if n > 0 {
                        key.push('|');
                    }
                    match &rec[k] {
                        Value::Text(t) => key.push_str(t),
                        other => key.push_str(&other.render()),
                    }
                }
                if let Some((sheet, row)) = keys.get(&key) {
                    let first = format!("{sheet}!{row}");
                    let names: Vec<String> = self
                        .source
                        .keys
                        .iter()
                        .map(|&k| fields[k].name.clone())
                        .collect();
                    let p = Problem::DuplicateKey {
                        key: format!("{} = {}", names.join("+"), key),
                        first: first.clone(),
                    };
                    let mut i = self.issue(p, r, None, None, None);
                    i.field = Some(names.join("+"));
                    problems.push(i);
                } else {
                    keys.insert(key, (self.sheet_name.clone(), r + 1));
                }
            }
        }
        let ok = problems.is_empty();
        if ok {
            self.issues.extend(warnings);
            self.counts.records += out.len();
            for values in out {
                self.records.push(Record {
                    values,
                    sheet: self.sheet_name.clone(),
                    row: r + 1,
                });
            }
        } else {
            self.issues.extend(problems);
        }
        ok
    }

    fn label_of(&self, f: usize, col: Option<usize>) -> String {
        col.and_then(|c| self.band.labels.get(c))
            .filter(|l| !l.is_empty())
            .map(|l| l.rsplit('/').next().unwrap_or(l).to_string())
            .unwrap_or_else(|| self.source.fields[f].header.clone())
    }

    fn match_village(
        &self,
        r: usize,
        rec: &mut [Value],
        col_of: &[Option<usize>],
        village_col: Option<usize>,
        problems: &mut Vec<Issue>,
        warnings: &mut Vec<Issue>,
    ) {
        let src = self.source;
        let idx = |n: &str| src.field_index(n);
        let (Some(fc), Some(fv), Some(fcode)) =
            (idx("county"), idx("village"), idx("village_code"))
        else {
            return;
        };
        let ft = idx("township");
        let text = |v: &Value| v.as_str().unwrap_or("").to_string();
        let vcol = village_col.or(col_of[fv]);
        let Some(reg) = self.engine.registry.filter(|r| !r.is_empty()) else {
            let name = text(&rec[fv]);
            problems.push(self.issue(Problem::NoRegistry, r, vcol, Some(fv), Some(name)));
            return;
        };
        let found = {
            fn s(v: &Value) -> &str {
                v.as_str().unwrap_or("")
            }
            let (county, name, code) = (s(&rec[fc]), s(&rec[fv]), s(&rec[fcode]));
            let township = ft.map(|t| s(&rec[t])).unwrap_or("");
            if name.is_empty() && code.is_empty() {
                return;
            }
            reg.resolve((!code.is_empty()).then_some(code), county, township, name)
        };
        let name = text(&rec[fv]);
        match found {
            Some(m) => {
                if m.how == MatchKind::Former || m.how == MatchKind::Stem {
                    let p = Problem::VillageByAlias {
                        given: name.clone(),
                        official: m.village.name.clone(),
                    };
                    warnings.push(self.issue(p, r, vcol, Some(fv), Some(name.clone())));
                }
                if let Some(old) = m.merged_from {
                    let p = Problem::VillageMerged {
                        given: old.name.clone(),
                        successor: m.village.name.clone(),
                    };
                    warnings.push(self.issue(p, r, vcol, Some(fv), Some(name.clone())));
                }
                rec[fcode] = Value::Text(m.village.code.clone());
                rec[fv] = Value::Text(m.village.name.clone());
                rec[fc] = Value::Text(m.village.county.clone());
                if let Some(t) = ft {
                    rec[t] = Value::Text(m.village.township.clone());
                }
            }
            None => {
                let county = text(&rec[fc]);
                let township = ft.map(|t| text(&rec[t])).unwrap_or_default();
                // suggestions are filled in once per name by finish_row
                let p = Problem::UnknownVillage {
                    name: name.clone(),
                    county,
                    township,
                    suggestions: Vec::new(),
                };
                problems.push(self.issue(p, r, vcol, Some(fv), Some(name)));
            }
        }
    }
}

/// The money unit of a note such as `单位：万元` or `填报单位：某镇　单位：元`.
fn unit_note(text: &str) -> Option<Unit> {
    let t = clean_name(text);
    t.match_indices("单位").find_map(|(pos, _)| {
        let rest = t[pos + "单位".len()..].trim_start_matches([':', '：']);
        let unit: String = rest
            .chars()
            .take_while(|ch| {
                !matches!(ch, ',' | '，' | ';' | '；' | ')' | '）' | '、' | '(' | '（')
            })
            .collect();
        Unit::parse(&unit).filter(|u| *u != Unit::Percent)
    })
}

static EMPTY: RawCell = RawCell::Empty;

/// 2^53: the largest magnitude below which every whole number is exact.
const MAX_EXACT_INT: f64 = 9_007_199_254_740_992.0;

/// A cell's text without copying when it is text already.
fn cell_text(c: &RawCell) -> std::borrow::Cow<'_, str> {
    match c {
        RawCell::Text(s) => std::borrow::Cow::Borrowed(s.as_str()),
        other => std::borrow::Cow::Owned(raw_text(other)),
    }
}

fn is_placeholder_cell(c: &RawCell) -> bool {
    match c {
        RawCell::Text(t) => is_placeholder(t),
        RawCell::Empty => true,
        _ => false,
    }
}

/// Loads the registry file through the ingest engine.
pub fn load_registry(
    pipeline: &Pipeline,
    isolation: Isolation,
) -> Result<(Registry, FileResult), String> {
    let src = pipeline
        .registry_source()
        .ok_or_else(|| "no registry source (dataset villages) in the pipeline".to_string())?;
    if !pipeline.registry.is_file() {
        return Err(format!(
            "registry file {} does not exist",
            pipeline.registry.display()
        ));
    }
    let engine = Engine::new(pipeline, None, isolation);
    let res = engine.ingest(&pipeline.registry, Some(src));
    if res.failed() {
        let msgs: Vec<String> = res
            .issues
            .iter()
            .filter(|i| i.severity() == Severity::FileError)
            .map(|i| i.render(crate::validate::issue::Lang::En))
            .collect();
        return Err(format!(
            "registry {} cannot be used: {}",
            pipeline.registry.display(),
            msgs.join("; ")
        ));
    }
    let names: Vec<String> = src.fields.iter().map(|f| f.name.clone()).collect();
    let rows: Vec<Vec<Value>> = res.records.iter().map(|r| r.values.clone()).collect();
    Ok((Registry::from_rows(&names, &rows), res))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_notes() {
        assert_eq!(unit_note("单位：万元"), Some(Unit::WanYuan));
        assert_eq!(unit_note("填报单位：白蒲镇　　单位：元"), Some(Unit::Yuan));
        assert_eq!(unit_note("单位：户、个"), None);
        assert_eq!(unit_note("如皋市2024年统计表"), None);
    }

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
