//! Problems found in input, as values.
//!
//! An [`Issue`] carries where it happened (file, sheet, cell, field) and
//! what happened (a [`Problem`] with a stable code) as data, so the same
//! issue can be printed for a terminal, stored as a reject row, and shown in
//! Chinese to a county officer or in English to an analyst.

use serde::{Deserialize, Serialize};

pub use crate::catalogue::{Code, Expected, Lang, Severity};

/// Why an entry of the inbox is not read (each its own code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryFault {
    /// The file cannot be opened (permissions, an I/O error).
    Unreadable,
    /// A folder under the inbox cannot be listed.
    FolderUnreadable,
    /// A symbolic link whose target lies outside the inbox.
    LinkOutside,
    /// A link that leads back to a folder already read, or a link loop.
    LinkLoop,
    /// A link whose target does not exist.
    LinkDangling,
    /// A FIFO, socket or device.
    NotAFile,
}

impl EntryFault {
    /// The fault's code in the catalogue.
    pub fn code(self) -> Code {
        match self {
            EntryFault::Unreadable => Code::Unreadable,
            EntryFault::FolderUnreadable => Code::FolderUnreadable,
            EntryFault::LinkOutside => Code::LinkOutside,
            EntryFault::LinkLoop => Code::LinkLoop,
            EntryFault::LinkDangling => Code::LinkDangling,
            EntryFault::NotAFile => Code::NotAFile,
        }
    }

    fn zh(self) -> &'static str {
        match self {
            EntryFault::Unreadable => "文件无法打开（权限或读写错误），请检查文件权限",
            EntryFault::FolderUnreadable => {
                "文件夹无法读取（权限或读写错误），其中的文件均未读取，请检查文件夹权限"
            }
            EntryFault::LinkOutside => "这是指向收件箱以外的链接，不予读取；请把文件本身放入收件箱",
            EntryFault::LinkLoop => "这是指向已读取文件夹的链接或循环链接，不再重复读取",
            EntryFault::LinkDangling => "这是指向不存在文件的链接，请把文件本身放入收件箱",
            EntryFault::NotAFile => "这不是普通文件（管道、套接字或设备），不予读取",
        }
    }

    fn en(self) -> &'static str {
        match self {
            EntryFault::Unreadable => "the file cannot be opened (permissions or an I/O error); check its permissions",
            EntryFault::FolderUnreadable => "the folder cannot be listed (permissions or an I/O error), so none of its files were read; check its permissions",
            EntryFault::LinkOutside => "a link that leads outside the inbox is not followed; put the file itself in the inbox",
            EntryFault::LinkLoop => "a link back to a folder that is read already (or a loop) is not followed again",
            EntryFault::LinkDangling => "a link to a file that does not exist; put the file itself in the inbox",
            EntryFault::NotAFile => "not a regular file (a FIFO, socket or device), so it is not read",
        }
    }
}

/// What went wrong. Each variant has a stable code (see [`Problem::code`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Problem {
    // ---- file level
    /// The reader could not read the file (`code` says why).
    Unreadable {
        /// The reader's code for why (`F_CORRUPT`, `F_PASSWORD`, …).
        code: Code,
        /// What the system or the reader said.
        detail: String,
    },
    /// The reader process died on the file.
    WorkerDied {
        /// What the system or the reader said.
        detail: String,
    },
    /// A web page or XML spreadsheet saved with an Excel name.
    WebPage {
        /// What the file is: a web page (an HTML table) or an XML spreadsheet.
        kind: String,
    },
    /// An inbox entry that is not read: its own fault, the night goes on.
    Entry {
        /// Why the entry is not read.
        fault: EntryFault,
        /// What the system or the reader said.
        detail: String,
    },
    /// The reader took longer than its time limit.
    WorkerTimeout {
        /// The reader's time limit, in seconds.
        seconds: u64,
    },
    /// No template's headers were found.
    NoTemplate {
        /// The headers found in the file.
        headers: Vec<String>,
    },
    /// A village registry (T00) among the county files: there is one
    /// registry, the configured one, so this file is not read.
    RegistryInInbox {
        /// The configured registry file.
        registry: String,
    },
    /// Required columns of the template are missing.
    MissingFields {
        /// The required fields not found.
        fields: Vec<String>,
        /// The headers found in the file.
        headers: Vec<String>,
    },
    /// No sheet holds data.
    NoDataSheet,
    /// The file's ingest hit a bug in zhenxing (a panic); the file is
    /// retried by the next run.
    Internal {
        /// What zhenxing was doing (reading, finding the header band, validating rows, …).
        stage: String,
        /// What the system or the reader said.
        detail: String,
    },
    // ---- row level
    /// A required field is empty.
    Required,
    /// The cell is not of the field's type.
    BadValue {
        /// What the cell should have been.
        expected: Expected,
    },
    /// A value outside the field's `min`/`max`.
    OutOfRange {
        /// The value as read from the cell.
        value: String,
        /// The lower bound, if any.
        min: Option<f64>,
        /// The upper bound, if any.
        max: Option<f64>,
    },
    /// Not one of the field's values.
    NotInList {
        /// The field's values.
        allowed: Vec<String>,
    },
    /// A village the registry does not have.
    UnknownVillage {
        /// The village as typed.
        name: String,
        /// The county the row is in.
        county: String,
        /// The township the row is in.
        township: String,
        /// The closest registry names.
        suggestions: Vec<String>,
    },
    /// The registry is not available, so villages cannot be matched.
    NoRegistry,
    /// The template's key repeats within the file.
    DuplicateKey {
        /// The key's values.
        key: String,
        /// Where the first row with that key is.
        first: String,
    },
    /// A `le` rule failed: the left field is greater than the right.
    NotGreater {
        /// The field that must not be greater.
        left: String,
        /// Its value.
        left_value: String,
        /// The field it is compared with.
        right: String,
        /// Its value.
        right_value: String,
    },
    /// Empty although the rule's yes/no field is yes.
    RequiredIf {
        /// The yes/no field that, when yes, requires this one.
        when: String,
    },
    /// A non-zero amount outside the plausible range (a unit mistake).
    Implausible {
        /// The value as read from the cell.
        value: String,
        /// The plausible lower bound in yuan, if any.
        min: Option<f64>,
        /// The plausible upper bound in yuan, if any.
        max: Option<f64>,
    },
    // ---- warnings
    /// A column no field reads (ignored).
    UnknownColumn {
        /// The column's header.
        header: String,
    },
    /// A hidden sheet (skipped).
    HiddenSheet {
        /// Rows on the sheet.
        rows: usize,
    },
    /// A sheet of filling instructions (skipped).
    InstructionSheet {
        /// Rows on the sheet.
        rows: usize,
    },
    /// A sheet without a header band (skipped).
    NoHeaderSheet {
        /// Rows on the sheet.
        rows: usize,
    },
    /// A totals row that differs from the sum of its detail rows.
    TotalsMismatch {
        /// The totals row's label (合计, 小计).
        label: String,
        /// The total the row states.
        stated: String,
        /// The sum of the detail rows.
        computed: String,
    },
    /// A village matched by a former name.
    VillageByAlias {
        /// The name as typed.
        given: String,
        /// The registry's name it matched.
        official: String,
    },
    /// A merged village, counted under its successor.
    VillageMerged {
        /// The name as typed.
        given: String,
        /// The village it was merged into.
        successor: String,
    },
    /// A value outside the usual range, kept.
    Unusual {
        /// The value as read from the cell.
        value: String,
        /// The usual lower bound, if any.
        min: Option<f64>,
        /// The usual upper bound, if any.
        max: Option<f64>,
    },
    /// Money columns without a stated unit, read in the template's unit.
    NoUnit {
        /// The money fields read in the template's unit, as the county headed them.
        fields: Vec<String>,
        /// The template's unit the amounts were read in.
        unit: String,
    },
    /// A rule names a column the file does not have, so it is not checked.
    MissingColumn {
        /// The column the rule names.
        column: String,
        /// The rule as written.
        rule: String,
    },
    /// A form made from an older definition of its template whose headers
    /// the current definition no longer reads: refused.
    FormVersion {
        /// The template id.
        template: String,
        /// The definition version the form was made from.
        form_version: String,
        /// The current definition's version.
        current_version: String,
        /// The form's headers the current definition no longer reads.
        headers: Vec<String>,
    },
    /// A form's custom property (`zhenxing.template`, `.county`,
    /// `.period`) names what the pipeline or the registry does not know:
    /// the file is refused, the value is never used as a name or path.
    FormProperty {
        /// The property: `zhenxing.template`, `.county` or `.period`.
        property: String,
        /// Its value as the file holds it.
        value: String,
    },
    /// A form's property disagrees with the folder or file name it came
    /// in under (`place`, which names `named`): refused.
    FormMismatch {
        /// The property: `zhenxing.template`, `.county` or `.period`.
        property: String,
        /// Its value as the file holds it.
        value: String,
        /// The folder or file name the file came in under.
        place: String,
        /// What that place names.
        named: String,
    },
    /// A form made from an older definition whose headers are all still
    /// read: read with the current definition.
    FormOlder {
        /// The template id.
        template: String,
        /// The definition version the form was made from.
        form_version: String,
        /// The current definition's version.
        current_version: String,
    },
    /// Against the same unit's previous period: a change beyond the
    /// field's limits (kept).
    Change {
        /// This period's value.
        value: String,
        /// The previous period's value.
        previous: String,
        /// That period.
        previous_period: String,
        /// Where it was: file and cell.
        previous_at: String,
        /// This value over the previous one.
        ratio: f64,
        /// The smallest ratio allowed, if any.
        min: Option<f64>,
        /// The largest ratio allowed, if any.
        max: Option<f64>,
    },
    /// A value that can only grow fell (kept).
    Decreased {
        /// This period's value.
        value: String,
        /// The previous period's value.
        previous: String,
        /// That period.
        previous_period: String,
        /// Where it was: file and cell.
        previous_at: String,
    },
    /// A value that cannot move moved (kept).
    Moved {
        /// This period's value.
        value: String,
        /// The previous period's value.
        previous: String,
        /// That period.
        previous_period: String,
        /// Where it was: file and cell.
        previous_at: String,
    },
    /// Formulas that refer to other workbooks: their values are the ones
    /// cached when the file was last saved (kept, to be checked).
    ExternalLinks {
        /// The workbooks the formulas name.
        links: Vec<String>,
    },
    /// Personal data (an ID, mobile or phone number) typed into a field
    /// not marked `pii`: masked before it was stored (kept).
    PiiInText {
        /// What was found: `id_number`, `mobile`, `landline`.
        found: Vec<String>,
    },
}

impl Problem {
    /// The problem's code in the catalogue.
    pub fn code(&self) -> Code {
        match self {
            Problem::Unreadable { code, .. } => *code,
            Problem::WorkerDied { .. } => Code::ReaderDied,
            Problem::Entry { fault, .. } => fault.code(),
            Problem::WebPage { .. } => Code::WebPage,
            Problem::WorkerTimeout { .. } => Code::Timeout,
            Problem::NoTemplate { .. } => Code::NoTemplate,
            Problem::RegistryInInbox { .. } => Code::RegistryInInbox,
            Problem::MissingFields { .. } => Code::MissingField,
            Problem::NoDataSheet => Code::NoDataSheet,
            Problem::Internal { .. } => Code::Internal,
            Problem::Required => Code::Required,
            Problem::BadValue { expected } => expected.code(),
            Problem::OutOfRange { .. } => Code::Range,
            Problem::NotInList { .. } => Code::NotInList,
            Problem::UnknownVillage { .. } => Code::UnknownVillage,
            Problem::NoRegistry => Code::NoRegistry,
            Problem::DuplicateKey { .. } => Code::DuplicateKey,
            Problem::NotGreater { .. } => Code::CrossField,
            Problem::RequiredIf { .. } => Code::RequiredIf,
            Problem::UnknownColumn { .. } => Code::UnknownColumn,
            Problem::HiddenSheet { .. } => Code::HiddenSheet,
            Problem::InstructionSheet { .. } => Code::InstructionSheet,
            Problem::NoHeaderSheet { .. } => Code::NoHeaderSheet,
            Problem::TotalsMismatch { .. } => Code::TotalsMismatch,
            Problem::VillageByAlias { .. } => Code::VillageAlias,
            Problem::VillageMerged { .. } => Code::VillageMerged,
            Problem::MissingColumn { .. } => Code::MissingColumn,
            Problem::Implausible { .. } => Code::Implausible,
            Problem::Unusual { .. } => Code::Unusual,
            Problem::NoUnit { .. } => Code::NoUnit,
            Problem::FormVersion { .. } => Code::FormVersion,
            Problem::FormProperty { .. } => Code::FormProperty,
            Problem::FormMismatch { .. } => Code::FormMismatch,
            Problem::FormOlder { .. } => Code::FormOlder,
            Problem::Change { .. } => Code::Change,
            Problem::Decreased { .. } => Code::Decrease,
            Problem::Moved { .. } => Code::Moved,
            Problem::PiiInText { .. } => Code::PiiInText,
            Problem::ExternalLinks { .. } => Code::ExternalLink,
        }
    }

    /// Whether the file, the row or nothing is refused: the code's level.
    pub fn severity(&self) -> Severity {
        self.code().severity()
    }

    /// The message without location, in the given language: the
    /// problem's text with its values filled in.
    pub fn message(&self, lang: Lang, field: &str) -> String {
        let (zh, en) = self.texts();
        let template = if lang == Lang::Zh { zh } else { en };
        let mut vars = self.vars(lang);
        vars.push(("field", field.to_string()));
        // personal data a county typed anywhere is never echoed in clear
        crate::validate::pii::masked(&crate::text::fill(template, &vars)).into_owned()
    }

    /// The values a message template names, as that language writes them
    /// (lists joined with 、 or a comma), by the problem's level.
    fn vars(&self, lang: Lang) -> Vec<(&'static str, String)> {
        match self.severity() {
            Severity::FileError => self.file_vars(lang),
            Severity::Reject => self.row_vars(lang),
            Severity::Warning => self.warning_vars(lang),
        }
    }

    /// The values of a file problem's message.
    fn file_vars(&self, lang: Lang) -> Vec<(&'static str, String)> {
        let zh = lang == Lang::Zh;
        let list = |v: &[String]| v.join(if zh { "、" } else { ", " });
        let s = |v: &str| v.to_string();
        match self {
            Problem::Unreadable { detail, .. } | Problem::WorkerDied { detail } => {
                vec![("detail", s(detail))]
            }
            Problem::WebPage { kind } => vec![(
                "kind",
                s(match (zh, kind.contains("XML")) {
                    (true, true) => "Excel 2003 XML 表格",
                    (true, false) => "网页（HTML 表格）",
                    (false, _) => kind,
                }),
            )],
            Problem::Entry { fault, detail } => vec![
                ("what", s(if zh { fault.zh() } else { fault.en() })),
                ("detail", s(detail)),
            ],
            Problem::Internal { stage, detail } => vec![("stage", s(stage)), ("detail", s(detail))],
            Problem::WorkerTimeout { seconds } => vec![("seconds", seconds.to_string())],
            Problem::NoTemplate { headers } => vec![("headers", list(headers))],
            Problem::RegistryInInbox { registry } => vec![("registry", s(registry))],
            Problem::MissingFields { fields, headers } => {
                vec![("fields", list(fields)), ("headers", list(headers))]
            }
            Problem::FormVersion {
                template,
                form_version,
                current_version,
                headers,
            } => vec![
                ("template", s(template)),
                ("form_version", s(form_version)),
                ("current_version", s(current_version)),
                ("headers", list(headers)),
            ],
            Problem::FormProperty { property, value } => {
                let expected = match (property.as_str(), zh) {
                    ("zhenxing.template", true) => "流程定义中的模板编号（如 T07）",
                    ("zhenxing.template", false) => "a template of the pipeline (such as T07)",
                    ("zhenxing.period", true) => "期别（如 2025、2025-06、2025-Q2）",
                    ("zhenxing.period", false) => "a period such as 2025, 2025-06 or 2025-Q2",
                    (_, true) => "名录中的县（市、区）名称",
                    (_, false) => "a county of the registry",
                };
                vec![
                    ("property", s(property)),
                    ("value", format!("{value:?}")),
                    ("expected", s(expected)),
                ]
            }
            Problem::FormMismatch {
                property,
                value,
                place,
                named,
            } => vec![
                ("property", s(property)),
                ("value", format!("{value:?}")),
                ("place", s(place)),
                ("named", s(named)),
            ],
            _ => Vec::new(),
        }
    }

    /// The values of a rejected row's message.
    fn row_vars(&self, lang: Lang) -> Vec<(&'static str, String)> {
        let zh = lang == Lang::Zh;
        let list = |v: &[String]| v.join(if zh { "、" } else { ", " });
        let s = |v: &str| v.to_string();
        match self {
            Problem::OutOfRange { value, min, max } | Problem::Implausible { value, min, max } => {
                range_vars(value, min, max)
            }
            Problem::BadValue { expected } => vec![("expected", s(expected.text(lang)))],
            Problem::NotInList { allowed } => vec![("allowed", list(allowed))],
            Problem::UnknownVillage {
                name,
                county,
                township,
                suggestions,
            } => {
                let did_you_mean = match (suggestions.is_empty(), zh) {
                    (true, _) => String::new(),
                    (false, true) => format!("；是否为：{}", list(suggestions)),
                    (false, false) => format!("; did you mean: {}", list(suggestions)),
                };
                vec![
                    ("name", s(name)),
                    ("place", format!("{county}{township}")),
                    ("did_you_mean", did_you_mean),
                ]
            }
            Problem::DuplicateKey { key, first } => vec![("key", s(key)), ("first", s(first))],
            Problem::NotGreater {
                left,
                left_value,
                right,
                right_value,
            } => vec![
                ("left", s(left)),
                ("left_value", s(left_value)),
                ("right", s(right)),
                ("right_value", s(right_value)),
            ],
            Problem::RequiredIf { when } => vec![("when", s(when))],
            _ => Vec::new(),
        }
    }

    /// The values of a warning against the previous period.
    fn period_vars(&self) -> Vec<(&'static str, String)> {
        let s = |v: &str| v.to_string();
        match self {
            Problem::Change {
                value,
                previous,
                previous_period,
                previous_at,
                ratio,
                min,
                max,
            } => {
                let f = |v: &f64| crate::text::format_number(*v);
                let limits = match (min, max) {
                    (Some(a), Some(b)) => format!("×{}–×{}", f(a), f(b)),
                    (Some(a), None) => format!("≥ ×{}", f(a)),
                    (None, Some(b)) => format!("≤ ×{}", f(b)),
                    (None, None) => String::new(),
                };
                vec![
                    ("value", s(value)),
                    ("previous", s(previous)),
                    ("previous_period", s(previous_period)),
                    ("previous_at", s(previous_at)),
                    ("ratio", f(ratio)),
                    ("limits", limits),
                ]
            }
            Problem::Decreased {
                value,
                previous,
                previous_period,
                previous_at,
            }
            | Problem::Moved {
                value,
                previous,
                previous_period,
                previous_at,
            } => vec![
                ("value", s(value)),
                ("previous", s(previous)),
                ("previous_period", s(previous_period)),
                ("previous_at", s(previous_at)),
            ],
            _ => Vec::new(),
        }
    }

    /// The values of a warning's message.
    fn warning_vars(&self, lang: Lang) -> Vec<(&'static str, String)> {
        let zh = lang == Lang::Zh;
        let list = |v: &[String]| v.join(if zh { "、" } else { ", " });
        let s = |v: &str| v.to_string();
        match self {
            Problem::Unusual { value, min, max } => range_vars(value, min, max),
            Problem::NoUnit { fields, unit } => vec![("fields", list(fields)), ("unit", s(unit))],
            Problem::UnknownColumn { header } => {
                vec![
                    ("header", s(header)),
                    ("header_quoted", format!("{header:?}")),
                ]
            }
            Problem::HiddenSheet { rows }
            | Problem::InstructionSheet { rows }
            | Problem::NoHeaderSheet { rows } => vec![("rows", rows.to_string())],
            Problem::TotalsMismatch {
                label,
                stated,
                computed,
            } => vec![
                ("label", s(label)),
                ("stated", s(stated)),
                ("computed", s(computed)),
            ],
            Problem::VillageByAlias { given, official } => {
                vec![("given", s(given)), ("official", s(official))]
            }
            Problem::VillageMerged { given, successor } => {
                vec![("given", s(given)), ("successor", s(successor))]
            }
            Problem::MissingColumn { column, rule } => {
                vec![
                    ("column", s(column)),
                    ("rule_quoted", format!("{rule:?}")),
                    ("rule", s(rule)),
                ]
            }
            Problem::FormOlder {
                template,
                form_version,
                current_version,
            } => vec![
                ("template", s(template)),
                ("form_version", s(form_version)),
                ("current_version", s(current_version)),
            ],
            Problem::Change { .. } | Problem::Decreased { .. } | Problem::Moved { .. } => {
                self.period_vars()
            }
            Problem::ExternalLinks { links } => vec![("links", list(links))],
            Problem::PiiInText { found } => {
                let names: Vec<String> = found
                    .iter()
                    .map(|f| {
                        let k = crate::validate::pii::Found::from_key(f);
                        s(if zh { k.zh() } else { k.en() })
                    })
                    .collect();
                vec![("found", list(&names))]
            }
            _ => Vec::new(),
        }
    }
}

/// `value` and its allowed `range` (`0–100`, `≥ 0`, `≤ 5`).
fn range_vars(value: &str, min: &Option<f64>, max: &Option<f64>) -> Vec<(&'static str, String)> {
    let f = |v: &f64| crate::text::format_number(*v);
    let range = match (min, max) {
        (Some(a), Some(b)) => format!("{}–{}", f(a), f(b)),
        (Some(a), None) => format!("≥ {}", f(a)),
        (None, Some(b)) => format!("≤ {}", f(b)),
        (None, None) => String::new(),
    };
    vec![("value", value.to_string()), ("range", range)]
}

/// Writes [`Problem::texts`] from a table: each problem's message in
/// Chinese and in English, written once beside its name. The match it
/// makes is exhaustive, so a problem without its two texts does not
/// compile.
macro_rules! problem_texts {
    ($($variant:ident: $zh:literal, $en:literal;)*) => {
        impl Problem {
            /// The message in Chinese and in English: `{name}` is filled
            /// with the problem's value of that name, `{field}` with the
            /// column as the county wrote it (Chinese) or the field's name
            /// (English).
            fn texts(&self) -> (&'static str, &'static str) {
                match self {
                    $(Problem::$variant { .. } => ($zh, $en),)*
                }
            }
        }
    };
}

problem_texts! {
    Unreadable:
        "文件无法读取：{detail}",
        "file cannot be read: {detail}";
    WorkerDied:
        "读取文件时读取进程异常退出（{detail}），文件可能已损坏或过大",
        "the reader process died on this file ({detail}); it is damaged or too large";
    Entry:
        "{what}（{detail}）；其他文件照常处理",
        "{what} ({detail}); the other files went on";
    WebPage:
        "此文件是以 Excel 文件名保存的{kind}，不是真正的 Excel 工作簿，无法读取；请用 Excel 打开后“另存为”Excel 工作簿（.xlsx）再报送",
        "the file is {kind} saved with an Excel name, not an Excel workbook, so it cannot be read: open it in Excel and save it as an Excel workbook (.xlsx), then send that";
    WorkerTimeout:
        "读取超过 {seconds} 秒仍未完成，已停止",
        "reading took longer than {seconds} s and was stopped";
    NoTemplate:
        "无法识别报表模板；找到的表头：{headers}",
        "cannot tell which template this is; headers found: {headers}";
    RegistryInInbox:
        "这是村（社区）名录（T00），收件箱中的名录不读入：各县报表只按一份名录（{registry}）核对。更新名录请替换 {registry}，或运行 zhenxing run --registry <本文件>",
        "this is a village registry (T00); a registry in the inbox is not read: every county file is matched against the one registry, {registry}. To change the registry, replace {registry} or run zhenxing run --registry <this file>";
    MissingFields:
        "缺少必填列：{fields}；找到的表头：{headers}",
        "required column(s) missing: {fields}; headers found: {headers}";
    NoDataSheet:
        "文件中没有可读取的数据工作表",
        "the file has no data sheet";
    Internal:
        "处理文件时程序内部出错（{stage}：{detail}），其他文件不受影响，下次运行将重试；请将此文件报告给市级管理员",
        "internal error in zhenxing while {stage} ({detail}); the other files went on and the next run retries this one; please report this file";
    Required:
        "必填项“{field}”为空",
        "required field {field} is empty";
    BadValue:
        "“{field}”应为{expected}",
        "{field} should be {expected}";
    OutOfRange:
        "“{field}”的值 {value} 超出范围（{range}）",
        "{field} = {value} is out of range ({range})";
    NotInList:
        "“{field}”应为以下之一：{allowed}",
        "{field} must be one of: {allowed}";
    UnknownVillage:
        "名录中没有“{place}{name}”{did_you_mean}",
        "village {name} ({place}) is not in the registry{did_you_mean}";
    NoRegistry:
        "村（社区）名录不可用，无法核对村名",
        "the village registry is not available, so villages cannot be checked";
    DuplicateKey:
        "与 {first} 重复（{key}）",
        "duplicate of {first} ({key})";
    NotGreater:
        "“{left}”（{left_value}）不应大于“{right}”（{right_value}）",
        "{left} ({left_value}) must not exceed {right} ({right_value})";
    RequiredIf:
        "“{when}”为是时，“{field}”必须填写",
        "{field} is required when {when} is yes";
    UnknownColumn:
        "未知列“{header}”，已忽略",
        "unknown column {header_quoted} ignored";
    HiddenSheet:
        "隐藏工作表已跳过（{rows} 行）",
        "hidden sheet skipped ({rows} rows)";
    InstructionSheet:
        "填表说明工作表已跳过（{rows} 行）",
        "instruction sheet skipped ({rows} rows)";
    NoHeaderSheet:
        "工作表中未找到表头，已跳过（{rows} 行）",
        "no header found in this sheet; skipped ({rows} rows)";
    TotalsMismatch:
        "{label}行“{field}”为 {stated}，明细合计为 {computed}",
        "{label} row states {field} = {stated}, detail rows sum to {computed}";
    VillageByAlias:
        "“{given}”按曾用名匹配为“{official}”",
        "{given} matched by former name to {official}";
    VillageMerged:
        "“{given}”已撤并，计入“{successor}”",
        "{given} was merged; counted under {successor}";
    MissingColumn:
        "文件中没有“{column}”列，规则“{rule}”未检查，数据行照常接收",
        "the file has no column {column}, so the rule {rule_quoted} was not checked; rows are kept";
    Implausible:
        "“{field}”的值 {value} 元不合理（应为 0 或 {range} 元），请检查金额单位（元/万元）",
        "{field} = {value} yuan is implausible (expected 0 or {range} yuan); check the money unit (元 or 万元)";
    Unusual:
        "“{field}”的值 {value} 不常见（通常为 {range}），已保留，请核实",
        "{field} = {value} is unusual (usually {range}); kept, please check it";
    NoUnit:
        "未注明金额单位：{fields} 按模板单位“{unit}”读取；请在表头或单位行注明“单位：元”或“单位：万元”",
        "no money unit stated: {fields} read in the template's unit, {unit}; state 单位：元 or 单位：万元 in the header or a unit row";
    FormVersion:
        "此报表由旧版模板生成（{template} 版本 {form_version}，当前版本 {current_version}），以下表头已不再使用：{headers}；请用新下发的报表重新填报",
        "this form was made from an older definition of {template} (version {form_version}; now {current_version}) and its headers {headers} are no longer read; fill in the new form";
    FormProperty:
        "报表属性 {property} 的值 {value} 无效（应为{expected}），文件未使用；请用市里下发的报表填报",
        "the form's property {property} is {value}, which is not {expected}; the file was not used: fill in the form the city sent";
    FormMismatch:
        "报表属性 {property} 为 {value}，但文件所在的“{place}”表明是 {named}，两者不一致，文件未使用；请确认报送单位和期别后重新报送",
        "the form's property {property} says {value} but it came in under {place}, which names {named}; the file was not used: check the county and period and send it again";
    FormOlder:
        "此报表由旧版模板生成（{template} 版本 {form_version}，当前版本 {current_version}），表头均可识别，已按当前定义读取",
        "form made from an older definition of {template} (version {form_version}; now {current_version}); its headers are all still read, so it was read with the current definition";
    Change:
        "“{field}”为 {value}，是上期（{previous_period}，{previous_at}）{previous} 的 {ratio} 倍，超出 {limits}，已保留，请核实",
        "{field} = {value} is {ratio} times the previous period's {previous} ({previous_period}, {previous_at}), beyond {limits}; kept, please check it";
    Decreased:
        "“{field}”只增不减，本期 {value} 小于上期（{previous_period}，{previous_at}）的 {previous}，已保留，请核实",
        "{field} can only grow: {value} is less than the previous period's {previous} ({previous_period}, {previous_at}); kept, please check it";
    Moved:
        "“{field}”不应改变，本期为 {value}，上期（{previous_period}，{previous_at}）为 {previous}，已保留，请核实",
        "{field} cannot change: {value}, the previous period had {previous} ({previous_period}, {previous_at}); kept, please check it";
    PiiInText:
        "“{field}”中含有个人信息（{found}），已遮盖后保存；此列不应填写身份证号或电话",
        "{field} holds personal data ({found}); it was masked before it was stored: this column is not for ID or phone numbers";
    ExternalLinks:
        "此工作簿的公式引用了其他工作簿（{links}），读取的是上次保存时的缓存值，可能已过时；请将公式改为数值后报送",
        "formulas in this workbook refer to other workbooks ({links}); the values read are those cached when it was last saved and may be out of date: paste them as values before sending";
}

/// A problem with its location.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    /// What happened.
    pub problem: Problem,
    /// The file, as its path in the inbox.
    pub file: String,
    /// The sheet, when the problem is on one.
    pub sheet: Option<String>,
    /// Zero-based row and column in the sheet.
    pub row: Option<usize>,
    /// The zero-based column, when the problem is in one cell.
    pub col: Option<usize>,
    /// Canonical field name.
    pub field: Option<String>,
    /// The header text of that field as the county wrote it (or the official one).
    pub field_label: Option<String>,
    /// The raw cell value (masked for personal data).
    pub raw: Option<String>,
}

impl Issue {
    /// An issue of the whole file.
    pub fn file(problem: Problem, file: &str) -> Issue {
        Issue {
            problem,
            file: file.to_string(),
            sheet: None,
            row: None,
            col: None,
            field: None,
            field_label: None,
            raw: None,
        }
    }

    /// The problem's code.
    pub fn code(&self) -> Code {
        self.problem.code()
    }

    /// The problem's level.
    pub fn severity(&self) -> Severity {
        self.problem.severity()
    }

    /// `如皋市!D17`, `如皋市!17` (row only), `如皋市`, or empty.
    pub fn cell_ref(&self) -> String {
        match (&self.sheet, self.row, self.col) {
            (Some(s), Some(r), Some(c)) => crate::normalise::value::cell_ref(s, r, c),
            (Some(s), Some(r), None) => format!("{}!{}", s, r + 1),
            (Some(s), None, _) => s.clone(),
            _ => String::new(),
        }
    }

    /// The message without location: the field as the county headed it (Chinese) or by its name (English).
    pub fn message(&self, lang: Lang) -> String {
        let label = match lang {
            Lang::Zh => self
                .field_label
                .clone()
                .or_else(|| self.field.clone())
                .unwrap_or_default(),
            Lang::En => self.field.clone().unwrap_or_default(),
        };
        self.problem.message(lang, &label)
    }

    /// One line for a terminal: `file  sheet!D17  E_RANGE  message [raw]`.
    pub fn render(&self, lang: Lang) -> String {
        let mut s = String::new();
        let at = self.cell_ref();
        if !at.is_empty() {
            s.push_str(&at);
            s.push_str("  ");
        }
        s.push_str(self.code().as_str());
        s.push_str("  ");
        s.push_str(&self.message(lang));
        if let Some(raw) = &self.raw {
            if !raw.is_empty() {
                match lang {
                    Lang::Zh => s.push_str(&format!("（原值：{raw}）")),
                    Lang::En => s.push_str(&format!(" (value: {raw})")),
                }
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_renders_cell_reference_in_both_languages() {
        let mut i = Issue::file(
            Problem::OutOfRange {
                value: "-3".into(),
                min: Some(0.0),
                max: None,
            },
            "a.xlsx",
        );
        i.sheet = Some("如皋市".into());
        i.row = Some(16);
        i.col = Some(3);
        i.field = Some("grids".into());
        i.field_label = Some("网格数".into());
        i.raw = Some("-3".into());
        assert_eq!(
            i.render(Lang::Zh),
            "如皋市!D17  E_RANGE  “网格数”的值 -3 超出范围（≥ 0）（原值：-3）"
        );
        assert_eq!(
            i.render(Lang::En),
            "如皋市!D17  E_RANGE  grids = -3 is out of range (≥ 0) (value: -3)"
        );
    }
    /// One problem of each file-level variant.
    fn file_problems() -> Vec<Problem> {
        let t = |x: &str| x.to_string();
        vec![
            Problem::Unreadable {
                code: Code::Io,
                detail: t("d"),
            },
            Problem::WorkerDied { detail: t("d") },
            Problem::WebPage {
                kind: t("a web page (an HTML table)"),
            },
            Problem::Entry {
                fault: EntryFault::LinkOutside,
                detail: t("/etc"),
            },
            Problem::WorkerTimeout { seconds: 3 },
            Problem::NoTemplate {
                headers: vec![t("a"), t("b")],
            },
            Problem::RegistryInInbox {
                registry: t("r.xlsx"),
            },
            Problem::MissingFields {
                fields: vec![t("a")],
                headers: vec![t("b")],
            },
            Problem::NoDataSheet,
            Problem::Internal {
                stage: t("s"),
                detail: t("d"),
            },
            Problem::FormVersion {
                template: t("T10"),
                form_version: t("aaaaaaaaaaaa"),
                current_version: t("bbbbbbbbbbbb"),
                headers: vec![t("培训人次")],
            },
            Problem::FormProperty {
                property: t("zhenxing.county"),
                value: t("../x"),
            },
            Problem::FormMismatch {
                property: t("zhenxing.county"),
                value: t("如皋市"),
                place: t("启东市"),
                named: t("启东市"),
            },
        ]
    }

    /// One problem of each row-level variant.
    fn row_problems() -> Vec<Problem> {
        let t = |x: &str| x.to_string();
        vec![
            Problem::Required,
            Problem::BadValue {
                expected: Expected::Date,
            },
            Problem::OutOfRange {
                value: t("1"),
                min: Some(0.0),
                max: None,
            },
            Problem::NotInList {
                allowed: vec![t("男"), t("女")],
            },
            Problem::UnknownVillage {
                name: t("n"),
                county: t("c"),
                township: t("t"),
                suggestions: vec![t("x")],
            },
            Problem::NoRegistry,
            Problem::DuplicateKey {
                key: t("k"),
                first: t("f"),
            },
            Problem::NotGreater {
                left: t("l"),
                left_value: t("1"),
                right: t("r"),
                right_value: t("0"),
            },
            Problem::RequiredIf { when: t("w") },
            Problem::Implausible {
                value: t("50"),
                min: Some(100.0),
                max: Some(1e8),
            },
        ]
    }

    /// One problem of each warning variant.
    fn warning_problems() -> Vec<Problem> {
        let t = |x: &str| x.to_string();
        vec![
            Problem::UnknownColumn { header: t("h") },
            Problem::HiddenSheet { rows: 1 },
            Problem::InstructionSheet { rows: 1 },
            Problem::NoHeaderSheet { rows: 1 },
            Problem::TotalsMismatch {
                label: t("合计"),
                stated: t("1"),
                computed: t("2"),
            },
            Problem::VillageByAlias {
                given: t("g"),
                official: t("o"),
            },
            Problem::VillageMerged {
                given: t("g"),
                successor: t("s"),
            },
            Problem::MissingColumn {
                column: t("c"),
                rule: t("r"),
            },
            Problem::Unusual {
                value: t("-3000"),
                min: Some(0.0),
                max: None,
            },
            Problem::NoUnit {
                fields: vec![t("集体经营性收入")],
                unit: t("万元"),
            },
            Problem::FormOlder {
                template: t("T10"),
                form_version: t("aaaaaaaaaaaa"),
                current_version: t("bbbbbbbbbbbb"),
            },
            Problem::Change {
                value: t("500"),
                previous: t("50"),
                previous_period: t("2023"),
                previous_at: t("a.csv a!E2"),
                ratio: 10.0,
                min: Some(0.2),
                max: Some(5.0),
            },
            Problem::Decreased {
                value: t("80"),
                previous: t("100"),
                previous_period: t("2023"),
                previous_at: t("a.csv a!D2"),
            },
            Problem::Moved {
                value: t("2021-05-02"),
                previous: t("2021-05-01"),
                previous_period: t("2023-12"),
                previous_at: t("a.csv a!F2"),
            },
            Problem::PiiInText {
                found: vec![t("id_number"), t("mobile")],
            },
            Problem::ExternalLinks {
                links: vec![t("file:///C:/汇总.xlsx")],
            },
        ]
    }

    #[test]
    fn every_problem_has_its_own_code_and_every_name_is_filled() {
        let t = |x: &str| x.to_string();
        let all: Vec<Problem> = [file_problems(), row_problems(), warning_problems()].concat();
        // one problem per variant, each its own code
        let mut codes: Vec<Code> = all.iter().map(|p| p.code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
        // with the reader's, the typing and the entry codes, every code
        // of the catalogue has a problem that says it
        let mut more = all.clone();
        for code in [
            Code::NotSpreadsheet,
            Code::Password,
            Code::Corrupt,
            Code::TooLarge,
            Code::ZipBomb,
            Code::Encoding,
        ] {
            more.push(Problem::Unreadable {
                code,
                detail: t("d"),
            });
        }
        for expected in [
            Expected::Number,
            Expected::WholeNumber,
            Expected::YesNo,
            Expected::Year,
            Expected::DivisionCode,
            Expected::Level,
            Expected::IdNumber,
        ] {
            more.push(Problem::BadValue { expected });
        }
        for fault in [
            EntryFault::Unreadable,
            EntryFault::FolderUnreadable,
            EntryFault::LinkLoop,
            EntryFault::LinkDangling,
            EntryFault::NotAFile,
        ] {
            more.push(Problem::Entry {
                fault,
                detail: t("d"),
            });
        }
        let mut said: Vec<Code> = more.iter().map(|p| p.code()).collect();
        said.sort();
        said.dedup();
        let mut catalogue = Code::ALL.to_vec();
        catalogue.sort();
        assert_eq!(said, catalogue);
        for p in &more {
            for lang in [Lang::Zh, Lang::En] {
                let m = p.message(lang, "字段");
                assert!(!m.contains('{') && !m.contains('}'), "{m}");
            }
        }
        // a county's text with braces is kept as it is
        let p = Problem::UnknownColumn {
            header: t("{field}"),
        };
        assert_eq!(p.message(Lang::Zh, "x"), "未知列“{field}”，已忽略");
    }
}
