//! One sheet's pass: the header band's columns, each non-blank row
//! classified (title, sign-off, note, totals, repeated header, data), totals
//! checked, and problems located at their cell.

use super::*;

/// What kind of non-blank row this is.
#[derive(Debug, PartialEq)]
pub(super) enum RowKind {
    Data,
    SignOff,
    Note,
    Total { label: String, subtotal: bool },
    RepeatedHeader,
    NoFieldData,
}

pub(super) struct SheetPass<'p, 'a> {
    pub(super) engine: &'p Engine<'a>,
    pub(super) source: &'p Source,
    pub(super) band: HeaderBand,
    pub(super) ctx: FileContext,
    pub(super) township: Option<String>,
    pub(super) file: Arc<str>,
    pub(super) counts: Counts,
    pub(super) issues: Vec<Issue>,
    pub(super) records: Vec<Record>,
    /// Registry names closest to each unknown village, computed once.
    pub(super) suggestions: HashMap<String, Vec<String>>,
    pub(super) sheet_name: Arc<str>,
    pub(super) sheet_unit: Option<Unit>,
    pub(super) is_1904: bool,
    /// The lowest header text of each column, as written (for repeated headers).
    pub(super) header_text: Vec<String>,
    /// The columns of each field.
    pub(super) field_cols: Vec<Vec<usize>>,
    /// Fields checked against totals rows, and their running sums.
    pub(super) total_fields: Vec<usize>,
    pub(super) sheet_sum: Vec<f64>,
    pub(super) sub_sum: Vec<f64>,
    /// Money fields with a value read in the template's unit because
    /// neither the cell, its column nor the sheet stated one.
    pub(super) unit_defaulted: std::collections::BTreeSet<usize>,
}

/// One data row evaluated on its own.
pub(super) struct RowEval {
    pub(super) problems: Vec<Issue>,
    pub(super) warnings: Vec<Issue>,
    pub(super) records: Vec<Vec<Value>>,
    /// Each field's number, when it parsed as one (for totals rows).
    pub(super) numbers: Vec<Option<f64>>,
    /// Money fields read in the template's unit (nothing stated one).
    pub(super) unit_defaulted: Vec<usize>,
}

/// A value with the problem it had, per field.
pub(super) enum Parsed {
    Ok(Value),
    Err(Problem),
}

impl<'p, 'a> SheetPass<'p, 'a> {
    pub(super) fn issue(
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
            // personal data typed into any other cell is masked too
            (_, r) => r.map(|r| crate::validate::pii::masked(&r).into_owned()),
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
    pub(super) fn new(
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
            unit_defaulted: Default::default(),
        }
    }

    /// A text value of a field not marked `pii` that holds personal data:
    /// masked, with a warning that names the cell (the row is kept).
    pub(super) fn mask_personal(
        &self,
        p: Parsed,
        f: usize,
        col: Option<usize>,
        r: usize,
        warnings: &mut Vec<Issue>,
    ) -> Parsed {
        match p {
            Parsed::Ok(Value::Text(t)) if self.source.fields[f].pii.is_none() => {
                match crate::validate::pii::mask_text(&t) {
                    Some((m, found)) => {
                        let mut keys: Vec<String> =
                            found.iter().map(|k| k.key().to_string()).collect();
                        keys.dedup();
                        let w = Problem::PiiInText { found: keys };
                        warnings.push(self.issue(w, r, col, Some(f), Some(m.clone())));
                        Parsed::Ok(Value::Text(m))
                    }
                    None => Parsed::Ok(Value::Text(t)),
                }
            }
            other => other,
        }
    }

    /// The sheet's headers: each matched column's label as written (its
    /// rows joined by `/`) with its field, and the unknown columns.
    pub(super) fn header_record(&self) -> HeaderRecord {
        let mut r = HeaderRecord::default();
        for (c, m) in self.band.columns.iter().enumerate() {
            let label = crate::validate::pii::masked(self.band.labels[c].trim()).into_owned();
            match m {
                Some(m) => {
                    let f = &self.source.fields[m.field];
                    let official_norm = crate::text::normalise_header(&f.header).0;
                    let official = label
                        .split('/')
                        .chain(std::iter::once(label.as_str()))
                        .any(|part| crate::text::normalise_header(part).0 == official_norm);
                    r.matched.push(HeaderUse {
                        field: f.name.clone(),
                        label,
                        official,
                    });
                    // the first column of a field (a spread field has several)
                    r.columns
                        .entry(self.sheet_name.to_string())
                        .or_default()
                        .entry(f.name.clone())
                        .or_insert(c);
                }
                None if !label.is_empty() => r.unknown.push(label),
                None => {}
            }
        }
        r.merge(HeaderRecord::default());
        r
    }

    /// Rows above and in the header band (title, unit notes, header): all
    /// non-data. `head` holds at least the rows up to the band's end.
    pub(super) fn begin(&mut self, head: &[Vec<RawCell>]) {
        for row in head.iter().take(self.band.end()) {
            if !nonblank(row) {
                continue;
            }
            self.counts.read += 1;
            self.counts.non_data += 1;
            for c in row.iter().filter_map(|c| c.text()) {
                if let Some(u) = crate::normalise::header::unit_note(c) {
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
    pub(super) fn feed(
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
                    self.unit_defaulted
                        .extend(ev.unit_defaulted.iter().copied());
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

    pub(super) fn classify(&self, row: &[RawCell], field_cols: &[Vec<usize>]) -> RowKind {
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

    pub(super) fn check_total(&mut self, r: usize, row: &[RawCell], label: &str, sums: &[f64]) {
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

    pub(super) fn column_unit(&self, c: usize) -> Option<Unit> {
        self.band
            .columns
            .get(c)
            .copied()
            .flatten()
            .and_then(|m| m.unit)
    }

    /// One warning naming the money fields read in the template's unit
    /// (see [`Self::unit_defaulted`]), on the sheet's header row.
    pub(super) fn unit_warning(&self) -> Option<Issue> {
        let first = *self.unit_defaulted.first()?;
        let fields = self
            .unit_defaulted
            .iter()
            .map(|&f| self.label_of(f, self.field_cols[f].first().copied()))
            .collect();
        let unit = self.source.fields[first].unit.unwrap_or(Unit::Yuan);
        let p = Problem::NoUnit {
            fields,
            unit: unit.label().to_string(),
        };
        Some(self.issue(p, self.band.start, None, None, None))
    }

    pub(super) fn label_of(&self, f: usize, col: Option<usize>) -> String {
        col.and_then(|c| self.band.labels.get(c))
            .filter(|l| !l.is_empty())
            .map(|l| l.rsplit('/').next().unwrap_or(l).to_string())
            .unwrap_or_else(|| self.source.fields[f].header.clone())
    }
}

pub(super) static EMPTY: RawCell = RawCell::Empty;

pub(super) fn is_placeholder_cell(c: &RawCell) -> bool {
    match c {
        RawCell::Text(t) => is_placeholder(t),
        RawCell::Empty => true,
        _ => false,
    }
}
