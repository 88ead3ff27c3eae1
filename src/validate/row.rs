//! One data row: its cells parsed, required fields, ranges and
//! cross-field rules checked, the village matched to the registry, and its
//! keys checked against the rows before it.

use super::*;

/// Distinct unknown village names a sheet searches suggestions for.
const SUGGESTIONS_KEPT: usize = 4096;

/// A row's cells as they are parsed and checked.
struct RowCells {
    /// Each field's value, or the problem its cell had.
    parsed: Vec<Parsed>,
    /// The column each field was read from.
    col_of: Vec<Option<usize>>,
    /// A spread field and its values by column.
    spread: Option<(usize, Vec<(usize, Value)>)>,
    /// What returns the row.
    problems: Vec<Issue>,
    /// Warnings about single values, kept with the row.
    unusual: Vec<Issue>,
    /// Money fields read in the template's unit (nothing stated one).
    unit_defaulted: Vec<usize>,
}

impl<'p, 'a> SheetPass<'p, 'a> {
    /// Parses and validates one data row on its own (rows are evaluated in
    /// parallel); what depends on other rows happens in [`Self::finish_row`].
    pub(super) fn evaluate(&self, r: usize, row: &[RawCell], field_cols: &[Vec<usize>]) -> RowEval {
        let mut cells = self.parse_fields(r, row, field_cols);
        self.check_values(r, row, &mut cells);
        self.check_rules(r, row, field_cols, &mut cells);
        let records = self.records(r, &mut cells);
        let numbers = cells
            .parsed
            .iter()
            .map(|p| match p {
                Parsed::Ok(v) => v.as_f64(),
                Parsed::Err(_) => None,
            })
            .collect();
        RowEval {
            problems: cells.problems,
            warnings: cells.unusual,
            records,
            numbers,
            unit_defaulted: cells.unit_defaulted,
        }
    }

    /// Every field's value from its column (or the file's context), the
    /// spread field's values from each of its columns; cell problems and
    /// warnings about single values collected.
    fn parse_fields(&self, r: usize, row: &[RawCell], field_cols: &[Vec<usize>]) -> RowCells {
        let fields = &self.source.fields;
        let mut cells = RowCells {
            parsed: Vec::with_capacity(fields.len()),
            col_of: vec![None; fields.len()],
            spread: None,
            problems: Vec::new(),
            unusual: Vec::new(),
            unit_defaulted: Vec::new(),
        };
        for (f, field) in fields.iter().enumerate() {
            let cols = &field_cols[f];
            if field.spread && cols.len() > 1 {
                self.parse_spread(r, row, f, cols, &mut cells);
                continue;
            }
            // first non-empty matching column wins
            let col = cols
                .iter()
                .copied()
                .find(|&c| row.get(c).map(|x| !x.is_empty()).unwrap_or(false))
                .or(cols.first().copied());
            cells.col_of[f] = col;
            let mut unit_assumed = false;
            let p = match col {
                Some(c) => match self.type_cell(f, c, row.get(c).unwrap_or(&EMPTY)) {
                    Ok(t) if t.value.is_null() && field.context.is_some() => {
                        Parsed::Ok(self.context_value(field))
                    }
                    Ok(t) => {
                        unit_assumed = t.unit_assumed;
                        Parsed::Ok(t.value)
                    }
                    Err(e) => Parsed::Err(self.cell_problem(f, e)),
                },
                None => Parsed::Ok(self.context_value(field)),
            };
            let p = self.mask_personal(p, f, col, r, &mut cells.unusual);
            if let Parsed::Err(pr) = &p {
                let raw = col.and_then(|c| row.get(c)).map(raw_text);
                cells
                    .problems
                    .push(self.issue(pr.clone(), r, col, Some(f), raw));
            }
            // money read in the template's unit: nothing stated another
            if unit_assumed && matches!(&p, Parsed::Ok(v) if !v.is_null()) {
                cells.unit_defaulted.push(f);
            }
            cells.parsed.push(p);
        }
        cells
    }

    /// A spread field (one value per column, e.g. one per month): each
    /// column's value is kept for its own record.
    fn parse_spread(
        &self,
        r: usize,
        row: &[RawCell],
        f: usize,
        cols: &[usize],
        cells: &mut RowCells,
    ) {
        let mut vals = Vec::new();
        for &c in cols {
            let cell = row.get(c).unwrap_or(&EMPTY);
            let parsed = self.parse_cell(f, c, cell);
            match self.mask_personal(parsed, f, Some(c), r, &mut cells.unusual) {
                Parsed::Ok(Value::Null) => {}
                Parsed::Ok(v) => vals.push((c, v)),
                Parsed::Err(p) => {
                    let raw = Some(raw_text(cell));
                    cells.problems.push(self.issue(p, r, Some(c), Some(f), raw))
                }
            }
        }
        cells.col_of[f] = cols.first().copied();
        cells.parsed.push(Parsed::Ok(
            vals.first().map(|x| x.1.clone()).unwrap_or(Value::Null),
        ));
        cells.spread = Some((f, vals));
    }

    /// Required fields and each value's range: outside `min`/`max`
    /// returns the row, outside the plausible range too (a non-zero
    /// amount), outside the `warn` range is a warning.
    fn check_values(&self, r: usize, row: &[RawCell], cells: &mut RowCells) {
        let fields = &self.source.fields;
        // a row that gives the village's code may leave the names to the registry
        let code_given = self.source.match_village
            && self
                .source
                .field_index("village_code")
                .map(|i| matches!(&cells.parsed[i], Parsed::Ok(v) if !v.is_null()))
                .unwrap_or(false);
        for (f, field) in fields.iter().enumerate() {
            let Parsed::Ok(v) = &cells.parsed[f] else {
                continue;
            };
            let col = cells.col_of[f];
            let raw = || col.and_then(|c| row.get(c)).map(raw_text);
            if v.is_null() {
                let spread_has =
                    matches!(&cells.spread, Some((sf, vals)) if *sf == f && !vals.is_empty());
                let from_registry =
                    code_given && matches!(field.name.as_str(), "county" | "township" | "village");
                if field.required && !spread_has && !from_registry {
                    let i = self.issue(Problem::Required, r, col, Some(f), raw());
                    cells.problems.push(i);
                }
                continue;
            }
            let Some(x) = v.as_f64() else { continue };
            let outside = |(lo, hi): (Option<f64>, Option<f64>)| {
                lo.is_some_and(|m| x < m) || hi.is_some_and(|m| x > m)
            };
            let value = format_number(x);
            if outside((field.min, field.max)) {
                let p = Problem::OutOfRange {
                    value,
                    min: field.min,
                    max: field.max,
                };
                cells.problems.push(self.issue(p, r, col, Some(f), raw()));
            } else if x != 0.0 && outside(field.plausible) {
                let p = Problem::Implausible {
                    value,
                    min: field.plausible.0,
                    max: field.plausible.1,
                };
                cells.problems.push(self.issue(p, r, col, Some(f), raw()));
            } else if outside(field.warn) {
                let p = Problem::Unusual {
                    value,
                    min: field.warn.0,
                    max: field.warn.1,
                };
                cells.unusual.push(self.issue(p, r, col, Some(f), raw()));
            }
        }
    }

    /// The template's cross-field rules (`a ≤ b`, `a required when b`);
    /// a rule whose column the file lacks is not checked.
    fn check_rules(
        &self,
        r: usize,
        row: &[RawCell],
        field_cols: &[Vec<usize>],
        cells: &mut RowCells,
    ) {
        let (parsed, col_of) = (&cells.parsed, &cells.col_of);
        for ck in &self.source.checks {
            match *ck {
                Check::Le { left, right } => {
                    let (Parsed::Ok(a), Parsed::Ok(b)) = (&parsed[left], &parsed[right]) else {
                        continue;
                    };
                    let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) else {
                        continue;
                    };
                    if x > y {
                        let p = Problem::NotGreater {
                            left: self.label_of(left, col_of[left]),
                            left_value: format_number(x),
                            right: self.label_of(right, col_of[right]),
                            right_value: format_number(y),
                        };
                        let raw = col_of[left].and_then(|c| row.get(c)).map(raw_text);
                        cells
                            .problems
                            .push(self.issue(p, r, col_of[left], Some(left), raw));
                    }
                }
                Check::RequiredIf { field, when } => {
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
                            cells
                                .problems
                                .push(self.issue(p, r, col_of[field], Some(field), None));
                        }
                    }
                }
            }
        }
    }

    /// The row's records: one per value of a spread field (or just one),
    /// each with its village matched to the registry (a row with a
    /// problem already is not matched).
    fn records(&self, r: usize, cells: &mut RowCells) -> Vec<Vec<Value>> {
        let mut base: Vec<Value> = cells
            .parsed
            .iter()
            .map(|p| match p {
                Parsed::Ok(v) => v.clone(),
                Parsed::Err(_) => Value::Null,
            })
            .collect();
        let mut out: Vec<Vec<Value>> = Vec::new();
        let matching = self.source.match_village;
        let (col_of, problems, warnings) = (&cells.col_of, &mut cells.problems, &mut cells.unusual);
        match &cells.spread {
            Some((sf, vals)) if vals.len() > 1 => {
                for (c, v) in vals {
                    let mut rec = base.clone();
                    rec[*sf] = v.clone();
                    if matching {
                        self.match_village(r, &mut rec, col_of, Some(*c), problems, warnings);
                    }
                    out.push(rec);
                }
            }
            _ => {
                if matching && problems.is_empty() {
                    self.match_village(r, &mut base, col_of, None, problems, warnings);
                }
                out.push(base);
            }
        }
        out
    }

    /// Checks a row's keys against the rows before it and records the
    /// outcome. Returns whether the row was accepted.
    pub(super) fn finish_row(
        &mut self,
        keys: &mut HashMap<String, (Arc<str>, usize)>,
        r: usize,
        ev: RowEval,
    ) -> bool {
        let RowEval {
            mut problems,
            warnings,
            records: out,
            ..
        } = ev;
        self.suggest_villages(&mut problems);
        // keys are unique within a file (and period, when the period is a key)
        if problems.is_empty() && !self.source.keys.is_empty() {
            for rec in &out {
                if let Some(p) = self.duplicate(keys, r, rec) {
                    problems.push(p);
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

    /// The "did you mean" names of each unknown village among `problems`.
    fn suggest_villages(&mut self, problems: &mut [Issue]) {
        let Some(reg) = self.engine.registry else {
            return;
        };
        for p in problems.iter_mut() {
            let Problem::UnknownVillage {
                name,
                county,
                township,
                suggestions,
            } = &mut p.problem
            else {
                continue;
            };
            // the edit-distance search costs length × length per village:
            // a long "name" (a pasted paragraph) gets no suggestions
            let max = self.engine.pipeline.limits.max_match_name_chars;
            if name.chars().count() > max {
                continue;
            }
            let key = format!("{county}\u{1F}{township}\u{1F}{name}");
            // names repeat (one village misspelt on every row); a sheet
            // with thousands of distinct unknown names is another
            // county's or a wrong registry's: past the first ones it gets
            // no "did you mean" search (time, memory)
            *suggestions = match self.suggestions.get(&key) {
                Some(s) => s.clone(),
                None if self.suggestions.len() < SUGGESTIONS_KEPT => {
                    let s = reg.suggest(county, township, name);
                    self.suggestions.insert(key, s.clone());
                    s
                }
                None => Vec::new(),
            };
        }
    }

    /// A record whose key a row before it had already: the problem,
    /// naming the first row's cell. A new key is remembered.
    fn duplicate(
        &self,
        keys: &mut HashMap<String, (Arc<str>, usize)>,
        r: usize,
        rec: &[Value],
    ) -> Option<Issue> {
        let source = self.source;
        if source.keys.iter().any(|&k| rec[k].is_null()) {
            return None;
        }
        let mut key = String::new();
        for (n, &k) in source.keys.iter().enumerate() {
            if n > 0 {
                key.push('|');
            }
            match &rec[k] {
                Value::Text(t) => key.push_str(t),
                other => key.push_str(&other.render()),
            }
        }
        // the cell named: the first key column the sheet has (the
        // village's name when its code is not a column)
        let col = source
            .keys
            .iter()
            .find_map(|&k| self.field_cols[k].first().copied())
            .or_else(|| {
                source
                    .field_index("village")
                    .and_then(|v| self.field_cols[v].first().copied())
            });
        let Some((sheet, row)) = keys.get(&key) else {
            keys.insert(key, (self.sheet_name.clone(), r + 1));
            return None;
        };
        let first = match col {
            Some(c) => crate::normalise::value::cell_ref(sheet, row - 1, c),
            None => format!("{sheet}!{row}"),
        };
        let names: Vec<String> = source
            .keys
            .iter()
            .map(|&k| source.fields[k].name.clone())
            .collect();
        let p = Problem::DuplicateKey {
            key: format!("{} = {}", names.join("+"), key),
            first,
        };
        let mut i = self.issue(p, r, col, None, None);
        i.field = Some(names.join("+"));
        Some(i)
    }

    /// The last day of the row's period (its `period` month or quarter,
    /// else its `year`, else the file's year): the registry is applied as
    /// of that day.
    fn period_end(&self, rec: &[Value]) -> Option<chrono::NaiveDate> {
        use chrono::Datelike;
        let src = self.source;
        let first_after = |y: i32, m: u32| {
            let (y, m) = if m > 12 { (y + 1, m - 12) } else { (y, m) };
            chrono::NaiveDate::from_ymd_opt(y, m, 1)
        };
        if let Some(Value::Date(d)) = src.field_index("period").and_then(|i| rec.get(i)) {
            let months = if src.frequency == crate::config::Frequency::Quarterly {
                3
            } else {
                1
            };
            return first_after(d.year(), d.month() + months).and_then(|n| n.pred_opt());
        }
        let year = match src.field_index("year").and_then(|i| rec.get(i)) {
            Some(Value::Int(y)) => i32::try_from(*y).ok(),
            _ => self.ctx.year,
        };
        year.and_then(|y| chrono::NaiveDate::from_ymd_opt(y, 12, 31))
    }

    pub(super) fn match_village(
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
            reg.resolve_as_of(
                (!code.is_empty()).then_some(code),
                county,
                township,
                name,
                self.period_end(rec),
            )
        };
        let name = text(&rec[fv]);
        match found {
            Some(m) => {
                if m.how == MatchKind::Former || m.how == MatchKind::Stem {
                    let p = Problem::VillageByAlias {
                        given: name.clone(),
                        official: m.village.name.to_string(),
                    };
                    warnings.push(self.issue(p, r, vcol, Some(fv), Some(name.clone())));
                }
                if let Some(old) = m.merged_from {
                    let p = Problem::VillageMerged {
                        given: old.name.to_string(),
                        successor: m.village.name.to_string(),
                    };
                    warnings.push(self.issue(p, r, vcol, Some(fv), Some(name.clone())));
                }
                rec[fcode] = Value::Text(m.village.code.to_string());
                rec[fv] = Value::Text(m.village.name.to_string());
                rec[fc] = Value::Text(m.village.county.to_string());
                if let Some(t) = ft {
                    rec[t] = Value::Text(m.village.township.to_string());
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
