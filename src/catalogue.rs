//! The catalogue of problem codes: every code zhenxing stores, prints or
//! shows a county is one variant of [`Code`], declared once below with its
//! level, its short reason in Chinese and English, and the meaning the
//! definitions page gives. A code cannot be added without all four: the
//! table is the only place they are written.
//!
//! [`Expected`] is what a cell should have been when its value could not
//! be typed; each kind carries its own code and its wording in both
//! languages. The long messages, with a problem's values filled in, are
//! written beside the problems themselves (`validate::issue`).

use serde::{Deserialize, Serialize};

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Severity {
    /// The file could not be used at all.
    FileError,
    /// The row was rejected.
    Reject,
    /// Reported, nothing rejected.
    Warning,
}

impl Severity {
    /// The level as the definitions page names it.
    pub fn level(self) -> &'static str {
        match self {
            Severity::FileError => "file",
            Severity::Reject => "row",
            Severity::Warning => "warning",
        }
    }

    /// What the level means for the county, as the annotated copy says it.
    pub fn text(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Severity::FileError, Lang::Zh) => "文件错误",
            (Severity::FileError, Lang::En) => "file error: the file was not used",
            (Severity::Reject, Lang::Zh) => "错误（该行退回）",
            (Severity::Reject, Lang::En) => "error (the row was returned)",
            (Severity::Warning, Lang::Zh) => "警告（已接收，请核实）",
            (Severity::Warning, Lang::En) => "warning (kept, please check)",
        }
    }
}

/// The language a message is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Chinese, for the county officer.
    Zh,
    /// English, for the operator and the analyst.
    En,
}

macro_rules! codes {
    ($($variant:ident = $code:literal, $severity:ident, $zh:literal, $en:literal, $meaning:literal;)*) => {
        /// A problem's stable code, as stored in `rejects.code`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum Code {
            $(
                #[doc = $meaning]
                #[serde(rename = $code)]
                $variant,
            )*
        }

        impl Code {
            /// Every code, in the order of the catalogue.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The code as stored: `E_RANGE`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $code,)*
                }
            }

            /// Whether the file, the row or nothing is refused.
            pub fn severity(self) -> Severity {
                match self {
                    $(Code::$variant => Severity::$severity,)*
                }
            }

            /// The reason in a few words (the scorecard's reason column,
            /// a county's summary).
            pub fn reason(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $((Code::$variant, Lang::Zh) => $zh, (Code::$variant, Lang::En) => $en,)*
                }
            }

            /// What the code means, for the definitions page.
            pub(crate) fn meaning(self) -> &'static str {
                match self {
                    $(Code::$variant => $meaning,)*
                }
            }
        }
    };
}

codes! {
    // ---- a file that is not used; the run goes on
    Io = "F_IO", FileError, "文件读取出错", "read error",
        "the file could not be read (an I/O error)";
    NotSpreadsheet = "F_NOT_SPREADSHEET", FileError, "不是表格文件", "not a spreadsheet",
        "the bytes are not a spreadsheet or CSV of a known format";
    Password = "F_PASSWORD", FileError, "文件设有密码", "password-protected",
        "the workbook is password-protected";
    Corrupt = "F_CORRUPT", FileError, "文件已损坏", "damaged file",
        "the workbook is damaged and cannot be read";
    TooLarge = "F_TOO_LARGE", FileError, "文件过大", "too large",
        "the file, a sheet or a row is beyond the reading limits";
    ZipBomb = "F_ZIP_BOMB", FileError, "文件压缩异常", "abnormal compression",
        "a part of the workbook expands more than the limit allows";
    Encoding = "F_ENCODING", FileError, "文字编码无法识别", "unknown text encoding",
        "a CSV that is neither UTF-8 nor GB18030";
    WebPage = "F_WEB_PAGE", FileError, "不是真正的 Excel 文件", "a web page saved as Excel",
        "a web page (an HTML table) or an Excel 2003 XML spreadsheet saved with an Excel name, as many systems export `.xls`; the message says to open it in Excel and save it as .xlsx";
    ReaderDied = "F_READER_DIED", FileError, "读取进程异常退出", "reader died",
        "the reader process died on the file (damaged or too large)";
    Timeout = "F_TIMEOUT", FileError, "读取超时", "reading timed out",
        "reading took longer than the time limit";
    NoTemplate = "F_NO_TEMPLATE", FileError, "无法识别报表模板", "template not recognised",
        "no template's headers were found; the message lists the headers seen";
    RegistryInInbox = "F_REGISTRY_IN_INBOX", FileError, "收件箱中的名录未读入", "registry in the inbox",
        "a village registry (T00, e.g. `村（社区）名录.xlsx`) placed among the county files: see \"One registry\" below";
    MissingField = "F_MISSING_FIELD", FileError, "缺少必填列", "required column missing",
        "a required column of the template is missing";
    NoDataSheet = "F_NO_DATA_SHEET", FileError, "没有数据工作表", "no data sheet",
        "the file has no sheet with data";
    Internal = "F_INTERNAL", FileError, "程序内部错误", "internal error",
        "zhenxing itself failed on this file (a bug: please report the file); the message names the stage (reading, finding the header band, validating rows, …). The other files go on, and the next run reads this file again";
    FormVersion = "F_FORM_VERSION", FileError, "旧版报表，表头已不再使用", "form of an older definition",
        "a form `zhenxing template` made from an older definition whose headers the current definition no longer reads; names both versions and the headers";
    FormProperty = "F_FORM_PROPERTY", FileError, "报表属性无效", "invalid form property",
        "a form's custom property (`zhenxing.template`, `.county`, `.period`) names a template the pipeline lacks, a county the registry lacks, or no period; names the property and its value";
    FormMismatch = "F_FORM_MISMATCH", FileError, "报表属性与所在位置不符", "form property disagrees with its place",
        "a form's property disagrees with the folder or the file name it came in under (a 如皋市 form in 启东市's folder, a 2024 form named `…_2023.xlsx`, a T07 form named `…组织架构…`); names both";
    Unreadable = "F_UNREADABLE", FileError, "文件无法打开", "file cannot be opened",
        "an inbox file that cannot be opened (permissions, an I/O error); see [Security and faults](security.md#security-and-faults)";
    FolderUnreadable = "F_FOLDER_UNREADABLE", FileError, "文件夹无法读取", "folder cannot be listed",
        "a folder under the inbox that cannot be listed: none of its files are read";
    LinkOutside = "F_LINK_OUTSIDE", FileError, "链接指向收件箱以外", "link outside the inbox",
        "a symbolic link whose target lies outside the inbox is not followed";
    LinkLoop = "F_LINK_LOOP", FileError, "循环链接", "link loop",
        "a link back to a folder read already, or a loop, is not followed again";
    LinkDangling = "F_LINK_DANGLING", FileError, "链接目标不存在", "dangling link",
        "a link whose target does not exist";
    NotAFile = "F_NOT_A_FILE", FileError, "不是普通文件", "not a regular file",
        "a FIFO, socket or device in the inbox is not read";
    // ---- a rejected row
    Required = "E_REQUIRED", Reject, "必填项为空", "required field empty",
        "a required field is empty";
    NotNumber = "E_NOT_NUMBER", Reject, "应为数字", "not a number",
        "the cell is not a number";
    NotInteger = "E_NOT_INTEGER", Reject, "应为整数", "not a whole number",
        "the cell is not a whole number";
    NotYesNo = "E_NOT_YESNO", Reject, "应为是/否", "not yes or no",
        "the cell is not one of the pipeline's words for yes or no";
    NotDate = "E_NOT_DATE", Reject, "日期无法识别", "date not recognised",
        "the cell is not a date";
    NotYear = "E_NOT_YEAR", Reject, "年份无法识别", "year not recognised",
        "the cell is not a year";
    NotLevel = "E_NOT_LEVEL", Reject, "等级无法识别", "level not recognised",
        "the cell is not a level (一级, 3档, 3)";
    BadCode = "E_BAD_CODE", Reject, "区划代码有误", "bad division code",
        "the cell is not a 12-digit division code";
    IdNumber = "E_ID_NUMBER", Reject, "身份证号有误", "bad ID number",
        "a `pii = \"id_number\"` field that is not an 18-character resident ID number with a valid check digit";
    NotInList = "E_NOT_IN_LIST", Reject, "不在可选值内", "not an allowed value",
        "not one of the allowed values";
    Range = "E_RANGE", Reject, "数值超出范围", "out of range",
        "outside `min`/`max` (counts ≥ 0, percentages 0–100, level 1–5, grade 1–18, stars 1–5)";
    Implausible = "E_IMPLAUSIBLE", Reject, "金额不合理（单位）", "implausible amount (unit)",
        "a non-zero amount outside `plausible_min`/`plausible_max` in yuan (a unit mistake; the message says to check 元/万元)";
    CrossField = "E_CROSS_FIELD", Reject, "前后数据矛盾", "values contradict",
        "a `le` check failed (e.g. 网格党支部 > 网格数)";
    RequiredIf = "E_REQUIRED_IF", Reject, "条件必填项为空", "conditional field empty",
        "a `required_if` check failed (转化时间 missing when 是否转化 = 是)";
    DuplicateKey = "E_DUPLICATE_KEY", Reject, "重复填报", "duplicate row",
        "the template's key repeats within the file; the later row is rejected and names the first";
    UnknownVillage = "E_UNKNOWN_VILLAGE", Reject, "名录中没有该村", "village not in the registry",
        "not in the registry, after aliases";
    NoRegistry = "E_NO_REGISTRY", Reject, "名录不可用", "registry unavailable",
        "the village registry is not available, so villages cannot be checked";
    // ---- reported, nothing rejected
    UnknownColumn = "W_UNKNOWN_COLUMN", Warning, "未知列已忽略", "unknown column",
        "a column no template field reads: ignored";
    HiddenSheet = "W_HIDDEN_SHEET", Warning, "隐藏工作表已跳过", "hidden sheet skipped",
        "a hidden sheet: skipped, its rows counted as non-data";
    InstructionSheet = "W_INSTRUCTION_SHEET", Warning, "填表说明已跳过", "instruction sheet skipped",
        "a sheet of filling instructions: skipped";
    NoHeaderSheet = "W_NO_HEADER_SHEET", Warning, "无表头工作表已跳过", "sheet without headers skipped",
        "a sheet where no header band was found: skipped";
    TotalsMismatch = "W_TOTALS_MISMATCH", Warning, "合计与明细不符", "totals disagree",
        "a totals row (合计, 小计) that differs from the sum of its detail rows";
    VillageAlias = "W_VILLAGE_ALIAS", Warning, "按曾用名匹配", "village by former name",
        "a village matched by a former name of the registry";
    VillageMerged = "W_VILLAGE_MERGED", Warning, "已撤并村计入新村", "merged village",
        "a village that was merged: counted under its successor";
    MissingColumn = "W_MISSING_COLUMN", Warning, "规则所需列缺失", "rule's column missing",
        "(once per file) a cross-field rule (`required_if`, `le`) names a column the file does not have: the rule is not checked and the rows are kept";
    Unusual = "W_UNUSUAL", Warning, "数值不常见", "unusual value",
        "outside `warn_min`/`warn_max`: kept (a negative household income)";
    NoUnit = "W_NO_UNIT", Warning, "未注明金额单位", "no money unit",
        "(once per file, on the header row) money read in the template's unit because neither the cell (`35万元`), its header (`（元）`) nor a unit row (`单位：元`) states one; names the fields and the unit used";
    FormOlder = "W_FORM_VERSION", Warning, "旧版报表（已读取）", "older form, read",
        "(once per file) a form from an older definition whose headers are all still read: read with the current one";
    Change = "W_CHANGE", Warning, "与上期相比变化过大", "large change from the previous period",
        "against the same unit's previous period: a change beyond `change_min`/`change_max`; the message names both values and both cells; kept";
    Decrease = "W_DECREASE", Warning, "只增不减的值减少", "a growing value fell",
        "a `monotone = \"grows\"` value below the previous period's; kept";
    Moved = "W_MOVED", Warning, "不应改变的值改变", "a fixed value moved",
        "a `monotone = \"fixed\"` value that differs from the previous period's; kept";
    PiiInText = "W_PII_IN_TEXT", Warning, "含个人信息（已遮盖）", "personal data masked",
        "an ID, mobile or fixed-line number typed into a column not marked `pii`: masked before it was stored, the cell named";
    ExternalLink = "W_EXTERNAL_LINK", Warning, "引用其他工作簿", "links to other workbooks",
        "(once per file) formulas refer to other workbooks: the values read are the ones cached at the last save; names the workbooks";
}

impl Code {
    /// The code of a stored string (`rejects.code`); `None` for a code
    /// this version does not know (a lake written by another version).
    pub fn parse(s: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str() == s)
    }

    /// The short reason of a stored code string; a code this version does
    /// not know is "其他问题" / "other problem".
    pub(crate) fn reason_of(s: &str, lang: Lang) -> &'static str {
        match (Code::parse(s), lang) {
            (Some(c), _) => c.reason(lang),
            (None, Lang::Zh) => "其他问题",
            (None, Lang::En) => "other problem",
        }
    }

    /// The table of every code for the definitions page (code, level,
    /// Chinese reason, meaning), one row per code.
    pub(crate) fn markdown_table() -> String {
        let mut s = String::from("| code | level | 简述 | meaning |\n|---|---|---|---|\n");
        for c in Code::ALL {
            s.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                c.as_str(),
                c.severity().level(),
                c.reason(Lang::Zh),
                c.meaning()
            ));
        }
        s
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a cell should have held when it could not be typed: the kind
/// names its code and its wording in both languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Expected {
    /// A number (`E_NOT_NUMBER`).
    Number,
    /// A whole number (`E_NOT_INTEGER`).
    WholeNumber,
    /// Yes or no (`E_NOT_YESNO`).
    YesNo,
    /// A date (`E_NOT_DATE`).
    Date,
    /// A year (`E_NOT_YEAR`).
    Year,
    /// A 12-digit division code (`E_BAD_CODE`).
    DivisionCode,
    /// A level such as 一级 or 3档 (`E_NOT_LEVEL`).
    Level,
    /// A resident ID number with a valid check digit (`E_ID_NUMBER`).
    IdNumber,
}

impl Expected {
    /// The code a cell that is not of this kind is rejected with.
    pub fn code(self) -> Code {
        match self {
            Expected::Number => Code::NotNumber,
            Expected::WholeNumber => Code::NotInteger,
            Expected::YesNo => Code::NotYesNo,
            Expected::Date => Code::NotDate,
            Expected::Year => Code::NotYear,
            Expected::DivisionCode => Code::BadCode,
            Expected::Level => Code::NotLevel,
            Expected::IdNumber => Code::IdNumber,
        }
    }

    /// What the cell should be, as a message says it.
    pub fn text(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Expected::Number, Lang::Zh) => "数字",
            (Expected::Number, Lang::En) => "a number",
            (Expected::WholeNumber, Lang::Zh) => "整数",
            (Expected::WholeNumber, Lang::En) => "a whole number",
            (Expected::YesNo, Lang::Zh) => "是/否",
            (Expected::YesNo, Lang::En) => "yes or no",
            (Expected::Date, Lang::Zh) => "日期",
            (Expected::Date, Lang::En) => "a date",
            (Expected::Year, Lang::Zh) => "年份",
            (Expected::Year, Lang::En) => "a year",
            (Expected::DivisionCode, Lang::Zh) => "12位区划代码",
            (Expected::DivisionCode, Lang::En) => "a 12-digit division code",
            (Expected::Level, Lang::Zh) => "等级（如 一级、3档）",
            (Expected::Level, Lang::En) => "a level",
            (Expected::IdNumber, Lang::Zh) => "18位且校验码正确的居民身份证号",
            (Expected::IdNumber, Lang::En) => {
                "an 18-character resident ID number with a valid check digit"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_one_string_and_reads_back() {
        let mut seen = std::collections::BTreeSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "{} twice", c.as_str());
            assert_eq!(Code::parse(c.as_str()), Some(*c));
            let prefix = match c.severity() {
                Severity::FileError => "F_",
                Severity::Reject => "E_",
                Severity::Warning => "W_",
            };
            assert!(c.as_str().starts_with(prefix), "{}", c.as_str());
            assert_eq!(serde_json::to_string(c).unwrap(), format!("\"{}\"", c));
        }
        assert_eq!(Code::ALL.len(), 57);
        assert_eq!(Code::reason_of("E_RANGE", Lang::Zh), "数值超出范围");
        assert_eq!(Code::reason_of("X_GONE", Lang::Zh), "其他问题");
    }

    #[test]
    fn the_definitions_page_lists_the_catalogue_as_it_is() {
        let page = include_str!("../docs/definitions.md");
        let begin =
            "<!-- code table: from the catalogue (src/catalogue.rs); a test checks this copy -->\n";
        let from = page.find(begin).map(|i| i + begin.len());
        let to = page.find("<!-- end of code table -->");
        let (Some(from), Some(to)) = (from, to) else {
            panic!("docs/definitions.md lacks the code table's markers");
        };
        assert_eq!(
            page[from..to],
            Code::markdown_table(),
            "docs/definitions.md's code table is stale: paste Code::markdown_table()"
        );
    }
}
