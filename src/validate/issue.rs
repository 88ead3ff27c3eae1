//! Problems found in input, as values.
//!
//! An [`Issue`] carries where it happened (file, sheet, cell, field) and
//! what happened (a [`Problem`] with a stable code) as data, so the same
//! issue can be printed for a terminal, stored as a reject row, and shown in
//! Chinese to a county officer or in English to an analyst.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Severity {
    /// The file could not be used at all.
    FileError,
    /// The row was rejected.
    Reject,
    /// Reported, nothing rejected.
    Warning,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

/// What went wrong. Each variant has a stable code (see [`Problem::code`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Problem {
    // ---- file level
    Unreadable {
        code: String,
        detail: String,
    },
    WorkerDied {
        detail: String,
    },
    WorkerTimeout {
        seconds: u64,
    },
    NoTemplate {
        headers: Vec<String>,
    },
    MissingFields {
        fields: Vec<String>,
        headers: Vec<String>,
    },
    NoDataSheet,
    /// The file's ingest hit a bug in zhenxing (a panic); the file is
    /// retried by the next run.
    Internal {
        stage: String,
        detail: String,
    },
    // ---- row level
    Required,
    BadValue {
        code: String,
        expected: String,
    },
    OutOfRange {
        value: String,
        min: Option<f64>,
        max: Option<f64>,
    },
    NotInList {
        allowed: Vec<String>,
    },
    UnknownVillage {
        name: String,
        county: String,
        township: String,
        suggestions: Vec<String>,
    },
    NoRegistry,
    DuplicateKey {
        key: String,
        first: String,
    },
    NotGreater {
        left: String,
        left_value: String,
        right: String,
        right_value: String,
    },
    RequiredIf {
        when: String,
    },
    // ---- warnings
    UnknownColumn {
        header: String,
    },
    HiddenSheet {
        rows: usize,
    },
    InstructionSheet {
        rows: usize,
    },
    NoHeaderSheet {
        rows: usize,
    },
    TotalsMismatch {
        label: String,
        stated: String,
        computed: String,
    },
    VillageByAlias {
        given: String,
        official: String,
    },
    VillageMerged {
        given: String,
        successor: String,
    },
    /// A rule names a column the file does not have, so it is not checked.
    MissingColumn {
        column: String,
        rule: String,
    },
}

impl Problem {
    pub fn code(&self) -> String {
        match self {
            Problem::Unreadable { code, .. } => code.clone(),
            Problem::WorkerDied { .. } => "F_READER_DIED".into(),
            Problem::WorkerTimeout { .. } => "F_TIMEOUT".into(),
            Problem::NoTemplate { .. } => "F_NO_TEMPLATE".into(),
            Problem::MissingFields { .. } => "F_MISSING_FIELD".into(),
            Problem::NoDataSheet => "F_NO_DATA_SHEET".into(),
            Problem::Internal { .. } => "F_INTERNAL".into(),
            Problem::Required => "E_REQUIRED".into(),
            Problem::BadValue { code, .. } => code.clone(),
            Problem::OutOfRange { .. } => "E_RANGE".into(),
            Problem::NotInList { .. } => "E_NOT_IN_LIST".into(),
            Problem::UnknownVillage { .. } => "E_UNKNOWN_VILLAGE".into(),
            Problem::NoRegistry => "E_NO_REGISTRY".into(),
            Problem::DuplicateKey { .. } => "E_DUPLICATE_KEY".into(),
            Problem::NotGreater { .. } => "E_CROSS_FIELD".into(),
            Problem::RequiredIf { .. } => "E_REQUIRED_IF".into(),
            Problem::UnknownColumn { .. } => "W_UNKNOWN_COLUMN".into(),
            Problem::HiddenSheet { .. } => "W_HIDDEN_SHEET".into(),
            Problem::InstructionSheet { .. } => "W_INSTRUCTION_SHEET".into(),
            Problem::NoHeaderSheet { .. } => "W_NO_HEADER_SHEET".into(),
            Problem::TotalsMismatch { .. } => "W_TOTALS_MISMATCH".into(),
            Problem::VillageByAlias { .. } => "W_VILLAGE_ALIAS".into(),
            Problem::VillageMerged { .. } => "W_VILLAGE_MERGED".into(),
            Problem::MissingColumn { .. } => "W_MISSING_COLUMN".into(),
        }
    }

    pub fn severity(&self) -> Severity {
        match self {
            Problem::Unreadable { .. }
            | Problem::WorkerDied { .. }
            | Problem::WorkerTimeout { .. }
            | Problem::NoTemplate { .. }
            | Problem::MissingFields { .. }
            | Problem::NoDataSheet
            | Problem::Internal { .. } => Severity::FileError,
            Problem::Required
            | Problem::BadValue { .. }
            | Problem::OutOfRange { .. }
            | Problem::NotInList { .. }
            | Problem::UnknownVillage { .. }
            | Problem::NoRegistry
            | Problem::DuplicateKey { .. }
            | Problem::NotGreater { .. }
            | Problem::RequiredIf { .. } => Severity::Reject,
            _ => Severity::Warning,
        }
    }

    /// The message without location, in the given language.
    pub fn message(&self, lang: Lang, field: &str) -> String {
        let zh = lang == Lang::Zh;
        let range = |min: &Option<f64>, max: &Option<f64>| -> String {
            let f = |v: &f64| crate::text::format_number(*v);
            match (min, max) {
                (Some(a), Some(b)) => format!("{}–{}", f(a), f(b)),
                (Some(a), None) => format!("≥ {}", f(a)),
                (None, Some(b)) => format!("≤ {}", f(b)),
                (None, None) => String::new(),
            }
        };
        match self {
            Problem::Unreadable { detail, .. } => {
                if zh {
                    format!("文件无法读取：{detail}")
                } else {
                    format!("file cannot be read: {detail}")
                }
            }
            Problem::WorkerDied { detail } => {
                if zh {
                    format!("读取文件时读取进程异常退出（{detail}），文件可能已损坏或过大")
                } else {
                    format!("the reader process died on this file ({detail}); it is damaged or too large")
                }
            }
            Problem::WorkerTimeout { seconds } => {
                if zh {
                    format!("读取超过 {seconds} 秒仍未完成，已停止")
                } else {
                    format!("reading took longer than {seconds} s and was stopped")
                }
            }
            Problem::NoTemplate { headers } => {
                if zh {
                    format!("无法识别报表模板；找到的表头：{}", headers.join("、"))
                } else {
                    format!(
                        "cannot tell which template this is; headers found: {}",
                        headers.join(", ")
                    )
                }
            }
            Problem::MissingFields { fields, headers } => {
                if zh {
                    format!(
                        "缺少必填列：{}；找到的表头：{}",
                        fields.join("、"),
                        headers.join("、")
                    )
                } else {
                    format!(
                        "required column(s) missing: {}; headers found: {}",
                        fields.join(", "),
                        headers.join(", ")
                    )
                }
            }
            Problem::NoDataSheet => {
                if zh {
                    "文件中没有可读取的数据工作表".into()
                } else {
                    "the file has no data sheet".into()
                }
            }
            Problem::Internal { stage, detail } => {
                if zh {
                    format!("处理文件时程序内部出错（{stage}：{detail}），其他文件不受影响，下次运行将重试；请将此文件报告给市级管理员")
                } else {
                    format!("internal error in zhenxing while {stage} ({detail}); the other files went on and the next run retries this one; please report this file")
                }
            }
            Problem::Required => {
                if zh {
                    format!("必填项“{field}”为空")
                } else {
                    format!("required field {field} is empty")
                }
            }
            Problem::BadValue { expected, .. } => {
                if zh {
                    format!("“{field}”应为{}", expected_zh(expected))
                } else {
                    format!("{field} should be {expected}")
                }
            }
            Problem::OutOfRange { value, min, max } => {
                if zh {
                    format!("“{field}”的值 {value} 超出范围（{}）", range(min, max))
                } else {
                    format!("{field} = {value} is out of range ({})", range(min, max))
                }
            }
            Problem::NotInList { allowed } => {
                if zh {
                    format!("“{field}”应为以下之一：{}", allowed.join("、"))
                } else {
                    format!("{field} must be one of: {}", allowed.join(", "))
                }
            }
            Problem::UnknownVillage {
                name,
                county,
                township,
                suggestions,
            } => {
                let place = format!("{county}{township}");
                if zh {
                    let s = if suggestions.is_empty() {
                        String::new()
                    } else {
                        format!("；是否为：{}", suggestions.join("、"))
                    };
                    format!("名录中没有“{place}{name}”{s}")
                } else {
                    let s = if suggestions.is_empty() {
                        String::new()
                    } else {
                        format!("; did you mean: {}", suggestions.join(", "))
                    };
                    format!("village {name} ({place}) is not in the registry{s}")
                }
            }
            Problem::NoRegistry => {
                if zh {
                    "村（社区）名录不可用，无法核对村名".into()
                } else {
                    "the village registry is not available, so villages cannot be checked".into()
                }
            }
            Problem::DuplicateKey { key, first } => {
                if zh {
                    format!("与 {first} 重复（{key}）")
                } else {
                    format!("duplicate of {first} ({key})")
                }
            }
            Problem::NotGreater {
                left,
                left_value,
                right,
                right_value,
            } => {
                if zh {
                    format!("“{left}”（{left_value}）不应大于“{right}”（{right_value}）")
                } else {
                    format!("{left} ({left_value}) must not exceed {right} ({right_value})")
                }
            }
            Problem::RequiredIf { when } => {
                if zh {
                    format!("“{when}”为是时，“{field}”必须填写")
                } else {
                    format!("{field} is required when {when} is yes")
                }
            }
            Problem::UnknownColumn { header } => {
                if zh {
                    format!("未知列“{header}”，已忽略")
                } else {
                    format!("unknown column {header:?} ignored")
                }
            }
            Problem::HiddenSheet { rows } => {
                if zh {
                    format!("隐藏工作表已跳过（{rows} 行）")
                } else {
                    format!("hidden sheet skipped ({rows} rows)")
                }
            }
            Problem::InstructionSheet { rows } => {
                if zh {
                    format!("填表说明工作表已跳过（{rows} 行）")
                } else {
                    format!("instruction sheet skipped ({rows} rows)")
                }
            }
            Problem::NoHeaderSheet { rows } => {
                if zh {
                    format!("工作表中未找到表头，已跳过（{rows} 行）")
                } else {
                    format!("no header found in this sheet; skipped ({rows} rows)")
                }
            }
            Problem::TotalsMismatch {
                label,
                stated,
                computed,
            } => {
                if zh {
                    format!("{label}行“{field}”为 {stated}，明细合计为 {computed}")
                } else {
                    format!("{label} row states {field} = {stated}, detail rows sum to {computed}")
                }
            }
            Problem::VillageByAlias { given, official } => {
                if zh {
                    format!("“{given}”按曾用名匹配为“{official}”")
                } else {
                    format!("{given} matched by former name to {official}")
                }
            }
            Problem::VillageMerged { given, successor } => {
                if zh {
                    format!("“{given}”已撤并，计入“{successor}”")
                } else {
                    format!("{given} was merged; counted under {successor}")
                }
            }
            Problem::MissingColumn { column, rule } => {
                if zh {
                    format!("文件中没有“{column}”列，规则“{rule}”未检查，数据行照常接收")
                } else {
                    format!("the file has no column {column}, so the rule {rule:?} was not checked; rows are kept")
                }
            }
        }
    }
}

fn expected_zh(e: &str) -> &str {
    match e {
        "a number" => "数字",
        "a whole number" => "整数",
        "yes or no" => "是/否",
        "a date" => "日期",
        "a year" => "年份",
        "a 12-digit division code" => "12位区划代码",
        "a level" => "等级（如 一级、3档）",
        "an 18-character resident ID number with a valid check digit" => {
            "18位且校验码正确的居民身份证号"
        }
        other => other,
    }
}

/// A problem with its location.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    pub problem: Problem,
    pub file: String,
    pub sheet: Option<String>,
    /// Zero-based row and column in the sheet.
    pub row: Option<usize>,
    pub col: Option<usize>,
    /// Canonical field name.
    pub field: Option<String>,
    /// The header text of that field as the county wrote it (or the official one).
    pub field_label: Option<String>,
    /// The raw cell value (masked for personal data).
    pub raw: Option<String>,
}

impl Issue {
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

    pub fn code(&self) -> String {
        self.problem.code()
    }

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
        s.push_str(&self.code());
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
}
