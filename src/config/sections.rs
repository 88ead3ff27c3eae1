//! The sections of a pipeline file that the checked model keeps as they
//! are: limits, lake, privacy, vocabulary, sheets, totals, with defaults.

use serde::Deserialize;

use super::*;

/// Yes/no vocabulary, configurable per pipeline.
#[derive(Debug, Clone)]
pub struct YesNo {
    /// Words that mean yes.
    pub yes: Vec<String>,
    /// Words that mean no.
    pub no: Vec<String>,
}

impl Default for YesNo {
    fn default() -> Self {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect();
        YesNo {
            yes: v(&[
                "是", "√", "✓", "✔", "达标", "有", "1", "y", "yes", "true", "对", "已",
            ]),
            no: v(&[
                "否",
                "×",
                "✗",
                "✘",
                "不达标",
                "未达标",
                "没有",
                "0",
                "n",
                "no",
                "false",
                "未",
            ]),
        }
    }
}

/// `[limits]`: what one file may make the reader do, and how readers are isolated.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSection {
    /// Read each file in a separate worker process.
    pub isolate: bool,
    /// A reader process's memory limit, in MiB.
    pub worker_memory_mb: u64,
    /// A reader process's time limit per file, in seconds.
    pub worker_timeout_s: u64,
    /// Files one reader process reads before a fresh one replaces it.
    pub worker_files: usize,
    /// The largest file read, in MiB.
    pub max_file_mb: u64,
    /// The most a workbook may unzip to, in MiB.
    pub max_unzipped_mb: u64,
    /// The most cells a sheet may declare.
    pub max_declared_cells: u64,
    /// The most cells kept over all sheets of a file.
    pub max_cells: u64,
    /// Rows and columns a sheet may have (Excel's own limits by default).
    pub max_rows: usize,
    /// Columns a row may have.
    pub max_columns: usize,
    /// Merged regions in a sheet's header area.
    pub max_merges: usize,
    /// One frame from the reader process to the parent.
    pub max_frame_mb: usize,
    /// Village names longer than this get no "did you mean" search.
    pub max_match_name_chars: usize,
}

impl Default for LimitsSection {
    fn default() -> Self {
        LimitsSection {
            isolate: true,
            worker_memory_mb: 2048,
            worker_timeout_s: 120,
            worker_files: 500,
            max_file_mb: 256,
            max_unzipped_mb: 1024,
            max_declared_cells: 100_000_000,
            max_cells: 40_000_000,
            max_rows: EXCEL_ROWS,
            max_columns: EXCEL_COLS,
            max_merges: 10_000,
            max_frame_mb: 64,
            max_match_name_chars: 40,
        }
    }
}

/// How the lake is kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LakeSection {
    /// Published versions kept for `zhenxing rollback` (at least 1).
    pub keep_versions: usize,
    /// Rows per Parquet row group.
    pub row_group_rows: usize,
    /// How long a run waits for another run's lock before giving up.
    pub lock_wait_s: u64,
    /// `status`: a period's report is due this many days after the period ends.
    pub due_days: i64,
    /// Input files per segment batch (one Parquet file per dataset each).
    pub batch_files: usize,
    /// `folder` (the default: a folder of Parquet switched by a symlink) or
    /// `delta` (the folder, and every table committed to a Delta table).
    pub format: LakeFormat,
    /// Where the Delta tables go (a folder or a URL); `OUT/delta` when unset.
    pub delta_root: Option<String>,
}

/// How the lake is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LakeFormat {
    /// Parquet folders, one per dataset.
    #[default]
    Folder,
    /// Delta tables as well, under the Delta root.
    Delta,
}

impl Default for LakeSection {
    fn default() -> Self {
        LakeSection {
            keep_versions: 5,
            row_group_rows: 65_536,
            lock_wait_s: 0,
            due_days: 15,
            batch_files: 200,
            format: LakeFormat::Folder,
            delta_root: None,
        }
    }
}

/// Where the pseudonym key for personal data comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacySection {
    /// Environment variable with the key (64 hex digits); checked first.
    pub key_env: String,
    /// Key file, outside the output folder; `~` is the home folder.
    pub key_file: String,
}

impl Default for PrivacySection {
    fn default() -> Self {
        PrivacySection {
            key_env: "ZHENXING_KEY".into(),
            key_file: "~/.config/zhenxing/pseudonym.key".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct VocabularySection {
    pub yes: Vec<String>,
    pub no: Vec<String>,
}

impl Default for VocabularySection {
    fn default() -> Self {
        let yn = YesNo::default();
        VocabularySection {
            yes: yn.yes,
            no: yn.no,
        }
    }
}

/// `[sheets]`: which sheets and rows are not data.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SheetsSection {
    /// A sheet whose name contains one of these is an instruction sheet.
    pub instructions: Vec<String>,
    /// Header texts that are never data and never reported as unknown.
    pub ignore_headers: Vec<String>,
    /// Rows whose first text starts with one of these are sign-off rows.
    pub signoff: Vec<String>,
    /// Rows whose first text starts with one of these are notes.
    pub notes: Vec<String>,
}

impl Default for SheetsSection {
    fn default() -> Self {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect();
        SheetsSection {
            instructions: v(&["说明", "填表", "填报要求", "instructions", "readme"]),
            ignore_headers: v(&["序号", "备注", "说明"]),
            signoff: v(&[
                "填报人",
                "填表人",
                "审核人",
                "负责人",
                "制表人",
                "填报日期",
                "填表日期",
                "联系电话",
                "单位负责人",
                "统计人",
            ]),
            notes: v(&["注:", "注：", "说明:", "说明：", "备注:", "备注："]),
        }
    }
}

/// `[totals]`: how far a totals row may be from the sum of its detail rows.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TotalsSection {
    /// Row labels that mark a totals row (after whitespace is removed).
    pub labels: Vec<String>,
    /// Labels that mark a per-township subtotal.
    pub subtotal_labels: Vec<String>,
    /// A total matches when |stated − computed| ≤ absolute + relative × |stated|.
    pub absolute: f64,
    /// Relative tolerance, as a share of the stated total.
    pub relative: f64,
}

impl Default for TotalsSection {
    fn default() -> Self {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect();
        TotalsSection {
            labels: v(&[
                "合计",
                "总计",
                "全市合计",
                "全县合计",
                "全区合计",
                "全镇合计",
                "汇总",
                "总合计",
            ]),
            subtotal_labels: v(&["小计"]),
            absolute: 0.5,
            relative: 0.0,
        }
    }
}

/// Where OpenLineage run events go, so that Airflow, Dagster or Marquez see
/// what a night did; none by default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LineageSection {
    /// A file the events are appended to, one JSON object per line,
    /// relative to the working directory.
    pub file: Option<String>,
    /// An OpenLineage HTTP endpoint each event is POSTed to (Marquez:
    /// `http://host:5000/api/v1/lineage`); `OPENLINEAGE_API_KEY`, when set,
    /// is sent as a bearer token.
    pub url: Option<String>,
    /// The jobs' namespace; default: the pipeline's name.
    pub namespace: Option<String>,
}
