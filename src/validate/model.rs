//! The record model: what one file's ingest gives back (counts, sheet
//! summaries, accepted records with lineage, problems).

use super::*;
use std::collections::BTreeMap;

/// Row counts of a file or sheet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Counts {
    /// Non-blank rows of the data sheets that were read.
    pub read: usize,
    /// Rows accepted into the lake.
    pub accepted: usize,
    /// Rows rejected (each listed in `rejects`).
    pub rejected: usize,
    /// Title, unit, header, sign-off, note and totals rows.
    pub non_data: usize,
    /// Output records (a row with 帮扶村1/2/3 gives three).
    pub records: usize,
}

impl Counts {
    pub(super) fn add(&mut self, o: &Counts) {
        self.read += o.read;
        self.accepted += o.accepted;
        self.rejected += o.rejected;
        self.non_data += o.non_data;
        self.records += o.records;
    }
}

/// What became of one sheet of a file.
#[derive(Debug, Clone, Serialize)]
pub struct SheetSummary {
    /// The sheet's name.
    pub name: String,
    /// read, hidden, instructions, no_header, form_marker (a generated form's identity)
    pub status: &'static str,
    /// One-based header rows, e.g. "3-4".
    pub header_rows: Option<String>,
    /// Its rows.
    pub counts: Counts,
}

/// A column header as the county wrote it and the field it was matched
/// to; `official` when it is the template's own header, not a variant.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
pub struct HeaderUse {
    /// The field.
    pub field: String,
    /// The header as the county wrote it.
    pub label: String,
    /// It is the template's own header, not a variant.
    pub official: bool,
}

/// The headers of a file's data sheets: each field's spelling and every
/// unknown column (`status --headers` compares them between submissions).
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct HeaderRecord {
    /// Each field's header as written.
    pub matched: Vec<HeaderUse>,
    /// Columns no field reads, as headed.
    pub unknown: Vec<String>,
    /// Sheet → field → its zero-based column (the cells of warnings made
    /// after the file was read, across periods).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub columns: BTreeMap<String, BTreeMap<String, usize>>,
    /// The definition version of the form `zhenxing template` made, when
    /// the file is one (none: a hand-made workbook).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<String>,
}

impl HeaderRecord {
    /// Nothing recorded (a file that was not read).
    pub fn is_empty(&self) -> bool {
        self.matched.is_empty() && self.unknown.is_empty() && self.form.is_none()
    }

    /// Adds another sheet's headers (each spelling once).
    pub fn merge(&mut self, o: HeaderRecord) {
        self.matched.extend(o.matched);
        self.matched.sort();
        self.matched.dedup();
        self.unknown.extend(o.unknown);
        self.unknown.sort();
        self.unknown.dedup();
        self.columns.extend(o.columns);
        self.form = self.form.take().or(o.form);
    }
}

/// One accepted output record with its lineage.
#[derive(Debug, Clone)]
pub struct Record {
    /// Its values, one per field of the template.
    pub values: Vec<Value>,
    /// The sheet it came from.
    pub sheet: Arc<str>,
    /// One-based row number in the sheet.
    pub row: usize,
}

/// One file checked: what it is, what became of its rows, and its problems.
#[derive(Debug, Clone)]
pub struct FileResult {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its name as shown (its path in the inbox).
    pub name: String,
    /// The SHA-256 of its bytes, in hex.
    pub sha256: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// The format it was read as (`xlsx`, `xls`, `ods`, `csv`).
    pub format: Option<String>,
    /// A CSV's text encoding.
    pub encoding: Option<String>,
    /// The template it was read as.
    pub template: Option<String>,
    /// The dataset its rows go to.
    pub dataset: Option<String>,
    /// The county it reports for.
    pub county: Option<String>,
    /// The period it reports.
    pub period: Option<String>,
    /// Each sheet and what became of it.
    pub sheets: Vec<SheetSummary>,
    /// Rows read, accepted, rejected and non-data.
    pub counts: Counts,
    /// Its problems (row problems beyond the spill folder's are in `spilled`).
    pub issues: Vec<Issue>,
    /// Row problems on disk, found before those in `issues` of the same
    /// sheet (only with a spill folder, see [`super::spill`]).
    pub spilled: super::spill::Spilled,
    /// The accepted records.
    pub records: Vec<Record>,
    /// The headers of the sheets that were read.
    pub headers: HeaderRecord,
    /// Milliseconds spent reading.
    pub read_ms: u64,
    /// Milliseconds in all.
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
            spilled: Default::default(),
            records: Vec::new(),
            headers: HeaderRecord::default(),
            read_ms: 0,
            total_ms: 0,
        }
    }

    /// An empty result for the file at `path`, named by its file name
    /// (kept losslessly: two names that are not UTF-8 stay apart).
    pub(crate) fn of_path(path: &Path) -> FileResult {
        FileResult {
            path: path.to_path_buf(),
            name: path
                .file_name()
                .map(|n| crate::fsio::path_text(Path::new(n)))
                .unwrap_or_default(),
            ..FileResult::empty()
        }
    }

    /// The file could not be used.
    pub fn failed(&self) -> bool {
        self.issues
            .iter()
            .any(|i| i.severity() == Severity::FileError)
    }

    /// How many problems of `sev` the file has (those on disk too).
    pub fn count(&self, sev: Severity) -> usize {
        self.issues.iter().filter(|i| i.severity() == sev).count() + self.spilled.count(sev)
    }
}
