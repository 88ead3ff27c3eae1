//! One file as its frames arrive from the reader: sheets kept until their
//! header band can be found, the template chosen, each sheet's rows handed
//! to its pass, and the result assembled.

use super::*;

/// The header labels a message lists: the first 40, then how many more.
pub(super) fn shown_headers(labels: &[String]) -> Vec<String> {
    let all: Vec<&String> = labels.iter().filter(|l| !l.is_empty()).collect();
    let mut shown: Vec<String> = all.iter().take(40).map(|l| l.to_string()).collect();
    if all.len() > 40 {
        shown.push(format!("… (+{})", all.len() - 40));
    }
    shown
}

pub(super) fn first_rows_text(rows: &[Vec<RawCell>]) -> Vec<String> {
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
pub(super) const GAP_FILL: usize = 64;

pub(super) fn nonblank(row: &[RawCell]) -> bool {
    row.iter().any(|c| !c.is_empty())
}

pub(super) fn count_nonblank(rows: &[Vec<RawCell>]) -> usize {
    rows.iter().filter(|r| nonblank(r)).count()
}

/// A sheet of the file being read.
pub(super) enum Slot<'p, 'a> {
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

/// Whether a waiting sheet has enough rows to find its header band: all
/// of the file is read, the sheet is done, it has `HEAD_ROWS` rows, or
/// rows came after a gap.
fn ready(slot: &Slot, all_done: bool) -> bool {
    match slot {
        Slot::Waiting { rows, later, done } => {
            all_done || *done || rows.len() >= HEAD_ROWS || !later.is_empty()
        }
        _ => true,
    }
}

/// One file being ingested as its frames arrive from the reader.
pub(super) struct FileRun<'p, 'a> {
    pub(super) engine: &'p Engine<'a>,
    pub(super) file: Arc<str>,
    pub(super) force: Option<&'a Source>,
    pub(super) format: Option<Format>,
    pub(super) encoding: Option<String>,
    pub(super) is_1904: bool,
    pub(super) metas: Vec<SheetMeta>,
    pub(super) slots: Vec<Slot<'p, 'a>>,
    pub(super) source: Option<&'a Source>,
    pub(super) ctx: FileContext,
    pub(super) no_template: Option<Issue>,
    pub(super) failed: bool,
    pub(super) keys: HashMap<String, (Arc<str>, usize)>,
    /// A frame broke a limit: the file's error; later frames are ignored.
    pub(super) limit: Option<Issue>,
    /// What the file is, when `zhenxing template` made it.
    pub(super) form: Option<FormIdentity>,
    /// The form's older definition version was said (once per file).
    pub(super) form_said: bool,
    /// Warnings about the workbook as a whole (formulas that refer to
    /// other workbooks), added to the result at the end.
    pub(super) book_warnings: Vec<Issue>,
    /// The name of the folder the file came in under (its county's, in
    /// an inbox): a form's identity must agree with it.
    pub(super) folder: Option<String>,
    /// Where the sheets' row problems go as they pile up (a spill folder).
    pub(super) spiller: Option<super::spill::Spiller>,
}

/// A generated form's identity, from the workbook's custom properties.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct FormIdentity {
    pub(super) template: String,
    pub(super) version: String,
    pub(super) county: String,
    pub(super) period: String,
}

impl FormIdentity {
    fn from_properties(p: &[(String, String)]) -> Option<FormIdentity> {
        let get = |k: &str| {
            p.iter()
                .find(|(n, _)| n == &format!("zhenxing.{k}"))
                .map(|(_, v)| v.clone())
        };
        Some(FormIdentity {
            template: get("template")?,
            version: get("version").unwrap_or_default(),
            county: get("county").unwrap_or_default(),
            period: get("period").unwrap_or_default(),
        })
    }
}

impl<'p, 'a> FileRun<'p, 'a> {
    pub(super) fn new(engine: &'p Engine<'a>, file: Arc<str>, force: Option<&'a Source>) -> Self {
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
            form: None,
            form_said: false,
            book_warnings: Vec::new(),
            folder: None,
            spiller: engine.spill.as_deref().map(super::spill::Spiller::new),
        }
    }

    pub(super) fn on_frame(&mut self, frame: Frame) {
        if self.limit.is_some() {
            return;
        }
        if let Some(detail) = self.over_limits(&frame) {
            let p = Problem::Unreadable {
                code: crate::catalogue::Code::TooLarge,
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
                properties,
            } => {
                self.format = Some(format);
                self.is_1904 = is_1904;
                self.encoding = encoding;
                self.on_book(sheets, &properties);
            }
            Frame::Rows { sheet, first, rows } => {
                self.on_rows(sheet, first, rows);
                self.advance(false);
                self.spill();
            }
            Frame::End(_) => {}
        }
    }

    /// The workbook's sheets and properties: a form's identity, formulas
    /// into other workbooks, and a slot per sheet (hidden, instruction and
    /// marker sheets skipped).
    fn on_book(&mut self, sheets: Vec<SheetMeta>, properties: &[(String, String)]) {
        self.form = FormIdentity::from_properties(properties);
        let links: Vec<String> = properties
            .iter()
            .filter(|(k, _)| k == crate::read::parts::EXTERNAL_LINK)
            .map(|(_, v)| v.clone())
            .collect();
        if !links.is_empty() {
            self.book_warnings
                .push(Issue::file(Problem::ExternalLinks { links }, &self.file));
        }
        let skipped = |status| Slot::Skipped { status, rows: 0 };
        self.slots = sheets
            .iter()
            .map(|m| {
                if m.hidden && m.name == MARKER_SHEET {
                    // a generated form's identity, not data
                    skipped("form_marker")
                } else if m.hidden {
                    skipped("hidden")
                } else if self.engine.is_instruction_sheet(&m.name) {
                    skipped("instructions")
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

    /// A batch of a sheet's rows: counted for a sheet that is not read,
    /// kept while the sheet waits for its header, else validated.
    fn on_rows(&mut self, sheet: usize, first: usize, rows: Vec<Vec<RawCell>>) {
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
    }

    /// Hands each sheet's row problems to the spiller once they pile up.
    fn spill(&mut self) {
        let Some(spiller) = self.spiller.as_mut() else {
            return;
        };
        for slot in &mut self.slots {
            if let Slot::Active(pass) = slot {
                spiller.offer(&mut pass.issues);
            }
        }
    }

    /// Whether a frame breaks the limits the reader should have kept (the
    /// parent does not trust it): a description of the breach.
    pub(super) fn over_limits(&self, frame: &Frame) -> Option<String> {
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
                // a CSV's rows are lines: its reader counts the filled ones
                let csv = self.format == Some(Format::Csv);
                if !csv && first.saturating_add(rows.len()) > l.max_rows {
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
    pub(super) fn advance(&mut self, all_done: bool) {
        set_stage("finding the template and header band");
        if self.source.is_none() && !self.choose_template(all_done) {
            return;
        }
        let Some(source) = self.source else { return };
        for i in 0..self.slots.len() {
            if matches!(self.slots[i], Slot::Waiting { .. }) && ready(&self.slots[i], all_done) {
                self.start_sheet(i, source);
            }
        }
    }

    /// Decides what the file is once every data sheet has its first rows:
    /// a form's checked identity, else the best-matching template; a
    /// registry among county files is refused. Sets the file's context
    /// (county and period from the name, the title or the form). False
    /// while it cannot be decided yet or when the file has no template.
    fn choose_template(&mut self, all_done: bool) -> bool {
        if self.no_template.is_some() {
            return false;
        }
        let data: Vec<usize> = (0..self.slots.len())
            .filter(|&i| matches!(self.slots[i], Slot::Waiting { .. }))
            .collect();
        if data.is_empty() || !data.iter().all(|&i| ready(&self.slots[i], all_done)) {
            return false;
        }
        // a form's properties are data: checked against the pipeline,
        // the registry and the folder and name it came in under
        if let Some(p) = self.form.as_ref().and_then(|f| {
            self.engine
                .form_problem(f, &self.file, self.folder.as_deref())
        }) {
            self.no_template = Some(Issue::file(p, &self.file));
            return false;
        }
        let grids: Vec<HeaderGrid> = data.iter().map(|&i| self.grid(i)).collect();
        // a generated form says what it is: no guessing
        let by_form = self
            .form
            .as_ref()
            .and_then(|f| self.engine.pipeline.source(&f.template));
        let chosen = match self.force.or(by_form) {
            Some(s) => Some(s),
            None => self.engine.choose_source(&self.file, &grids),
        };
        let Some(source) = chosen else {
            let headers = match &self.slots[data[0]] {
                Slot::Waiting { rows, .. } => first_rows_text(rows),
                _ => Vec::new(),
            };
            self.no_template = Some(Issue::file(Problem::NoTemplate { headers }, &self.file));
            return false;
        };
        if let Some(p) = self.registry_refused(source) {
            self.no_template = Some(Issue::file(p, &self.file));
            return false;
        }
        self.ctx = self.context(source, &grids[0], data[0]);
        self.source = Some(source);
        true
    }

    /// One registry per run: a T00 file among the county files is refused.
    fn registry_refused(&self, source: &Source) -> Option<Problem> {
        let engine = self.engine;
        let is_registry =
            engine.pipeline.registry_source().map(|r| r.id.as_str()) == Some(source.id.as_str());
        (self.force.is_none() && engine.refuse_registry && is_registry).then(|| {
            Problem::RegistryInInbox {
                registry: engine.pipeline.registry.display().to_string(),
            }
        })
    }

    /// The file's context: county and period from its name and the title
    /// above the first data sheet's header band, or a form's own.
    fn context(&self, source: &Source, grid: &HeaderGrid, first: usize) -> FileContext {
        let ignore = &self.engine.pipeline.sheets.ignore_headers;
        // the title is what stands above the first data sheet's header band
        let title_rows = detect(grid, source, ignore).map(|b| b.start).unwrap_or(0);
        let title = match &self.slots[first] {
            Slot::Waiting { rows, .. } => rows
                .iter()
                .take(title_rows)
                .flat_map(|r| r.iter())
                .filter_map(|c| c.text())
                .collect::<Vec<_>>()
                .join(" "),
            _ => String::new(),
        };
        let mut ctx = self.engine.file_context(&self.file, &title);
        if let Some(f) = self.form.as_ref().filter(|f| f.template == source.id) {
            // the form's county and period, not the file name's
            if !f.county.is_empty() {
                ctx.county = Some(f.county.clone());
            }
            let (y, m) = find_period(&f.period);
            if y.is_some() {
                ctx.year = y;
                ctx.month = m;
            }
        }
        ctx
    }

    /// Starts sheet `i` of the chosen template: finds its header band,
    /// refuses it (the file fails) for an older form that lost headers or
    /// missing required columns, else hands its rows kept so far to a new
    /// pass.
    fn start_sheet(&mut self, i: usize, source: &'a Source) {
        let ignore = &self.engine.pipeline.sheets.ignore_headers;
        let grid = self.grid(i);
        let Slot::Waiting { rows, later, .. } =
            std::mem::replace(&mut self.slots[i], Slot::NoHeader { rows: 0 })
        else {
            return;
        };
        let later_rows: usize = later.iter().map(|(_, b)| count_nonblank(b)).sum();
        let n = count_nonblank(&rows) + later_rows;
        let name = self.metas[i].name.clone();
        let Some(band) = detect(&grid, source, ignore) else {
            self.slots[i] = Slot::NoHeader { rows: n };
            return;
        };
        // a form from an older definition: read when every header is
        // still read, else refused naming both versions
        let older = match self.form_version(source, &band) {
            Err(p) => return self.block(i, *p, name, band.start, n),
            Ok(older) => older,
        };
        let township = self
            .engine
            .sheet_township(&name, self.ctx.county.as_deref());
        if let Some(p) = self.missing_fields(source, &band, township.as_deref()) {
            return self.block(i, p, name, band.start, n);
        }
        if self.failed {
            self.slots[i] = Slot::Blocked {
                rows: n,
                issue: None,
            };
            return;
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
        if let Some(i) = older {
            pass.issues.push(i);
        }
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

    /// A form written from an older definition of `source`: refused when
    /// a header of the sheet is no longer read (`Err`), else the file's
    /// one warning that the form is older (the first time only).
    fn form_version(
        &mut self,
        source: &Source,
        band: &HeaderBand,
    ) -> Result<Option<Issue>, Box<Problem>> {
        let Some(f) = self.form.as_ref().filter(|f| f.template == source.id) else {
            return Ok(None);
        };
        let now = source.definition_version();
        if f.version.is_empty() || f.version == now {
            return Ok(None);
        }
        let lost: Vec<String> = band
            .columns
            .iter()
            .zip(&band.labels)
            .filter(|(m, l)| m.is_none() && !l.is_empty())
            .map(|(_, l)| l.clone())
            .collect();
        if !lost.is_empty() {
            return Err(Box::new(Problem::FormVersion {
                template: source.id.clone(),
                form_version: f.version.clone(),
                current_version: now,
                headers: lost,
            }));
        }
        if self.form_said {
            return Ok(None);
        }
        self.form_said = true;
        let p = Problem::FormOlder {
            template: source.id.clone(),
            form_version: f.version.clone(),
            current_version: now,
        };
        Ok(Some(Issue::file(p, &self.file)))
    }

    /// The required fields of `source` the band lacks and the file's
    /// context cannot give, as the file's problem.
    fn missing_fields(
        &self,
        source: &Source,
        band: &HeaderBand,
        township: Option<&str>,
    ) -> Option<Problem> {
        let missing: Vec<&Field> = source
            .fields
            .iter()
            .enumerate()
            .filter(|(f, field)| {
                field.required
                    && !band.columns.iter().flatten().any(|m| m.field == *f)
                    && !context_available(field.context, &self.ctx, township)
            })
            .map(|(_, f)| f)
            .collect();
        (!missing.is_empty()).then(|| Problem::MissingFields {
            fields: missing.iter().map(|f| f.header.clone()).collect(),
            headers: shown_headers(&band.labels),
        })
    }

    /// The file fails on sheet `i` (its header row `row`): the sheet's
    /// `rows` are only counted, and the problem is the file's.
    fn block(&mut self, i: usize, p: Problem, sheet: String, row: usize, rows: usize) {
        let mut issue = Issue::file(p, &self.file);
        issue.sheet = Some(sheet);
        issue.row = Some(row);
        self.failed = true;
        self.slots[i] = Slot::Blocked {
            rows,
            issue: Some(Box::new(issue)),
        };
    }

    pub(super) fn grid(&self, i: usize) -> HeaderGrid {
        match &self.slots[i] {
            Slot::Waiting { rows, .. } => {
                HeaderGrid::from_rows(rows, &self.metas[i].merges, self.metas[i].has_merge_info)
            }
            _ => HeaderGrid::from_rows(&[], &[], true),
        }
    }

    /// Everything is read: assemble the result.
    pub(super) fn finish(mut self, res: &mut FileResult) {
        if let Some(s) = self.spiller.take() {
            res.spilled = s.done();
        }
        if let Some(i) = self.limit.take() {
            res.issues.push(i);
            return;
        }
        self.advance(true);
        res.issues.append(&mut self.book_warnings);
        // an official form says so in the file's header record
        res.headers.form = self
            .form
            .as_ref()
            .filter(|f| self.source.is_some_and(|s| s.id == f.template))
            .map(|f| f.version.clone());
        res.format = self.format.map(|f| f.label().to_string());
        res.encoding = self.encoding.clone();
        self.skipped_sheets(res);
        if !self
            .slots
            .iter()
            .any(|s| !matches!(s, Slot::Skipped { .. }))
        {
            res.issues
                .push(Issue::file(Problem::NoDataSheet, &self.file));
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
        let (file, failed, ctx) = (self.file.clone(), self.failed, self.ctx.clone());
        let passes = self.sheet_outcomes(res);
        if failed {
            return;
        }
        if passes.is_empty() {
            res.issues.push(Issue::file(Problem::NoDataSheet, &file));
            return;
        }
        add_passes(res, passes);
        res.period = file_period(source, &ctx, &res.records);
    }

    /// Hidden and instruction sheets are reported with their size (a
    /// form's marker sheet only listed).
    fn skipped_sheets(&self, res: &mut FileResult) {
        for (slot, meta) in self.slots.iter().zip(&self.metas) {
            let Slot::Skipped { status, rows } = slot else {
                continue;
            };
            res.sheets.push(sheet_summary(&meta.name, status));
            if *status == "form_marker" {
                continue;
            }
            let rows = *rows;
            let p = if *status == "hidden" {
                Problem::HiddenSheet { rows }
            } else {
                Problem::InstructionSheet { rows }
            };
            res.issues.push(sheet_issue(p, &self.file, &meta.name));
        }
    }

    /// The data sheets' outcomes: a sheet without a header band, a
    /// sheet's file problem, and the passes of the sheets that were read.
    fn sheet_outcomes(self, res: &mut FileResult) -> Vec<SheetPass<'p, 'a>> {
        let mut passes = Vec::new();
        for (slot, meta) in self.slots.into_iter().zip(&self.metas) {
            match slot {
                Slot::NoHeader { rows } => {
                    let p = Problem::NoHeaderSheet { rows };
                    res.issues.push(sheet_issue(p, &self.file, &meta.name));
                    res.sheets.push(sheet_summary(&meta.name, "no_header"));
                }
                Slot::Blocked { issue: Some(i), .. } => res.issues.push(*i),
                Slot::Active(pass) => passes.push(*pass),
                _ => {}
            }
        }
        passes
    }
}

/// A problem of a whole sheet.
fn sheet_issue(p: Problem, file: &str, sheet: &str) -> Issue {
    let mut i = Issue::file(p, file);
    i.sheet = Some(sheet.to_string());
    i
}

/// A sheet that was not read, in the file's list of sheets.
fn sheet_summary(name: &str, status: &'static str) -> SheetSummary {
    SheetSummary {
        name: name.to_string(),
        status,
        header_rows: None,
        counts: Counts::default(),
    }
}

/// The read sheets' counts, header records, summaries, problems and
/// records into the file's result; the unit warning once per file, and a
/// rule's missing column said once per file, not per sheet.
fn add_passes(res: &mut FileResult, passes: Vec<SheetPass>) {
    // money read in the template's unit: one warning per file
    if let Some(i) = passes.iter().find_map(|p| p.unit_warning()) {
        res.issues.push(i);
    }
    for pass in passes {
        let band = &pass.band;
        let header_rows = Some(if band.height == 1 {
            format!("{}", band.start + 1)
        } else {
            format!("{}-{}", band.start + 1, band.end())
        });
        res.counts.add(&pass.counts);
        res.headers.merge(pass.header_record());
        res.sheets.push(SheetSummary {
            name: pass.sheet_name.to_string(),
            status: "read",
            header_rows,
            counts: pass.counts,
        });
        res.issues.extend(pass.issues);
        res.records.extend(pass.records);
    }
    let mut said = std::collections::HashSet::new();
    res.issues.retain(|i| match &i.problem {
        Problem::MissingColumn { column, .. } => said.insert(column.clone()),
        _ => true,
    });
}
