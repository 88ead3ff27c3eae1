//! `zhenxing run [--pipeline FILE] [--inbox DIR] [--out DIR]`
//!
//! The nightly job. Loads the registry, reads every file of the inbox in
//! parallel (each in an isolated worker), normalises and validates it, and
//! prints one line per file and a closing summary. Exit 0 when everything
//! was clean, 1 when rows or files were rejected, 2 on a usage or
//! configuration error, 3 when the run failed.

use std::path::{Path, PathBuf};

use crate::cmd::exit::{self, CommandError, Done, Outcome};
use crate::fsio::At;
use crate::lake::nightly::{Manifest, ManifestFile, Options};
use crate::validate::issue::{Lang, Severity};
use crate::validate::FileResult;

use crate::cmd::args::{LangArg, LogFormat, PipelineArg};

/// The flags of `zhenxing run`, as clap reads them.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The pipeline definition.
    #[command(flatten)]
    pub p: PipelineArg,
    /// Inbox folder (default: from the pipeline file).
    #[arg(long)]
    pub inbox: Option<PathBuf>,
    /// Village registry file (default: from the pipeline file).
    #[arg(long)]
    pub registry: Option<PathBuf>,
    /// Output folder (default: from the pipeline file), or
    /// `s3://bucket/prefix` for Delta tables on S3-compatible storage.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// With `--out s3://bucket/prefix`: the local working folder (versions,
    /// segments, run manifests; default: the pipeline's `out`).
    #[arg(long)]
    pub work: Option<PathBuf>,
    /// Ingest every file again and rebuild the lake (same result as incremental runs).
    #[arg(long)]
    pub full_refresh: bool,
    /// Seconds to wait for another run to finish (default: the pipeline's lock_wait_s).
    #[arg(long)]
    pub wait: Option<u64>,
    /// `json`: one JSON object per file and per run on stderr, for log collectors.
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Print only the final summary.
    #[arg(long, short)]
    pub quiet: bool,
    /// Read files in this process instead of isolated workers (faster, not safe for hostile files).
    #[arg(long)]
    pub no_isolation: bool,
    /// Parallel files (default: number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Language of the messages.
    #[arg(long, value_enum, default_value = "en")]
    pub lang: LangArg,
    /// Publish the lake only; indicators and reports wait for `zhenxing indicators --report`.
    #[arg(long)]
    pub no_indicators: bool,
    /// Also write an annotated copy of every current file with returned
    /// rows (or that failed) to OUT/feedback/<county>/, for the city
    /// office to send back.
    #[arg(long)]
    pub feedback: bool,
}

/// `OK   T01 org_structure 如皋市 2024-06  read 270 = accepted 262 + rejected 2 + non-data 6`
pub(crate) fn summary_line(res: &FileResult, lang: Lang) -> String {
    let c = &res.counts;
    let status = if res.failed() {
        "FAIL"
    } else if c.rejected > 0 {
        "REJ "
    } else {
        "OK  "
    };
    if res.failed() {
        // the file's error is the issue line above: named, not repeated
        let code = res
            .issues
            .iter()
            .find(|i| i.severity() == Severity::FileError)
            .map(|i| i.code().as_str())
            .unwrap_or_default();
        return match lang {
            Lang::Zh => format!("{status} {code}  文件未使用（原因见上）"),
            Lang::En => format!("{status} {code}  file not used (the reason is above)"),
        };
    }
    let w = res.count(Severity::Warning);
    let head = format!(
        "{status} {} {} {} {}",
        res.template.as_deref().unwrap_or("?"),
        res.dataset.as_deref().unwrap_or("?"),
        res.county.as_deref().unwrap_or("-"),
        res.period.as_deref().unwrap_or("-"),
    );
    let (read, acc, rej, non, rec, warn) =
        (c.read, c.accepted, c.rejected, c.non_data, c.records, w);
    match lang {
        Lang::Zh => format!(
            "{head}  读取 {read} 行 = 接收 {acc} + 退回 {rej} + 非数据 {non}（记录 {rec}，提示 {warn}）"
        ),
        Lang::En => format!(
            "{head}  read {read} = accepted {acc} + rejected {rej} + non-data {non} (records {rec}, warnings {warn})"
        ),
    }
}

/// What the night runs with, once the flags and the definitions are
/// checked.
struct Prepared {
    p: crate::config::Pipeline,
    defs: crate::analysis::indicators::Definitions,
    out: PathBuf,
    inbox: PathBuf,
    nopts: Options,
}

/// The nightly job, stage by stage: prepare, publish the lake, say what
/// became of each file, then the indicator stage, lineage, the feedback
/// copies and the closing paragraph. The exit code is the worst a stage
/// met.
impl RunArgs {
    /// One JSON object per event on stderr (`--log-format json`).
    fn log_json(&self) -> bool {
        self.log_format == LogFormat::Json
    }

    fn lang(&self) -> Lang {
        self.lang.into()
    }
}

/// `zhenxing run` with its flags: the night's stages, then the closing
/// paragraph; the outcome is the run's exit code.
pub fn run(opts: RunArgs) -> Outcome {
    let prep = prepare(&opts)?;
    let start = std::time::Instant::now();
    if opts.log_json() {
        // one JSON object per line on stderr; a second init (tests) is harmless
        let _ = tracing_subscriber::fmt()
            .json()
            .with_writer(std::io::stderr)
            .with_current_span(false)
            .try_init();
    }
    // OpenLineage events, when the pipeline names a file for them
    let lineage = crate::lake::lineage::Lineage::of(&prep.p);
    if let Some(l) = &lineage {
        said(l.start());
    }
    let m = publish(&prep, &opts, lineage.as_ref())?;
    file_lines(&m, &opts);
    let ingest_secs = start.elapsed().as_secs_f64();
    // the ingest's own peak, before the indicator stage adds its frames
    let (own, readers) = crate::worker::peak_rss_mib();
    let mut exit_code = m.exit_code;
    let stage_line = indicator_stage(&prep, &opts, &mut exit_code);
    if let Some(l) = &lineage {
        said(l.complete(&m, &prep.inbox, &prep.out, exit_code));
    }
    let feedback_line = opts
        .feedback
        .then(|| feedback_stage(&prep, &m, opts.lang(), &mut exit_code));
    let secs = start.elapsed().as_secs_f64();
    let mut para = summary_paragraph(&m, &prep.out, (ingest_secs, own, readers), opts.lang());
    if let Some(line) = feedback_line {
        para = format!("{para}\n{line}");
    }
    if let Some(line) = stage_line {
        let (whole, _) = crate::worker::peak_rss_mib();
        para = match opts.lang() {
            Lang::Zh => format!(
                "{para}\n{line}。合计 {secs:.1} 秒，内存峰值 {whole} MiB。退出码 {exit_code}。"
            ),
            Lang::En => format!(
                "{para}\n{line}. Total {secs:.1} s, peak memory {whole} MiB. Exit {exit_code}."
            ),
        };
    }
    if opts.log_json() {
        tracing::info!(
            event = "run", run_id = %m.run_id, outcome = %m.outcome,
            version = m.version.as_deref().unwrap_or(""), exit_code = m.exit_code,
            files = m.files.len(), files_read_this_run = m.files_read_this_run,
            rows_read = m.totals.read, rows_accepted = m.totals.accepted,
            rows_rejected = m.totals.rejected, rows_non_data = m.totals.non_data,
            seconds = secs, peak_rss_mib = own,
            reader_processes = crate::worker::readers_started(), "{para}"
        );
    }
    println!("{para}");
    Ok(Done::of_code(exit_code))
}

/// A lineage event that cannot be written is said, and the run goes on.
fn said(r: Result<(), crate::lake::lineage::LineageError>) {
    if let Err(e) = r {
        eprintln!("zhenxing run: {e}");
    }
}

/// Prepare: the pipeline with `--registry`, the output folder, an inbox
/// and registry that exist, and the indicator definitions, all checked
/// before any file is read (a problem is a usage error, exit 2).
fn prepare(opts: &RunArgs) -> Result<Prepared, CommandError> {
    let mut p = super::load_pipeline(&opts.p.pipeline)?;
    if let Some(r) = &opts.registry {
        p.registry = r.clone();
    }
    let out = super::resolve_out(&mut p, opts.out.as_deref(), opts.work.as_deref())?;
    let inbox = opts.inbox.clone().unwrap_or_else(|| p.inbox.clone());
    if !inbox.is_dir() {
        let e = format!("inbox {} is not a folder", inbox.display());
        return Err(CommandError::usage(e));
    }
    if !p.registry.is_file() {
        let e = format!("registry file {} does not exist", p.registry.display());
        return Err(CommandError::usage(e));
    }
    let defs = super::load_definitions(&p)?;
    // bars on a terminal, never with --quiet or JSON logs (nor in cron)
    let show_progress = !opts.quiet && !opts.log_json();
    crate::progress::enable(show_progress);
    let nopts = Options {
        inbox: inbox.clone(),
        out: out.clone(),
        isolation: super::isolation(&p, !opts.no_isolation),
        jobs: opts.jobs,
        full_refresh: opts.full_refresh,
        lock_wait: std::time::Duration::from_secs(opts.wait.unwrap_or(p.lake.lock_wait_s)),
        progress: show_progress,
        exit_codes: crate::lake::nightly::ExitCodes {
            clean: exit::CLEAN,
            rejects: exit::REJECTS,
            failed: exit::FAILED,
        },
    };
    Ok(Prepared {
        p,
        defs,
        out,
        inbox,
        nopts,
    })
}

/// Publish: the nightly run proper (list, ingest, build, publish,
/// manifest). A refusal is a usage error, a failure a failed run; either
/// goes to lineage, and with JSON logs it is said as a JSON event.
fn publish(
    prep: &Prepared,
    opts: &RunArgs,
    lineage: Option<&crate::lake::lineage::Lineage>,
) -> Result<Manifest, CommandError> {
    crate::lake::nightly::run(&prep.p, &prep.nopts).map_err(|e| {
        let refused = e.is_refusal();
        let outcome = if refused { "refused" } else { "failed" };
        let text = format!("zhenxing run: {}", exit::chain(&e));
        if let Some(l) = lineage {
            said(l.fail(&text));
        }
        let e = match refused {
            true => CommandError::usage(e),
            false => CommandError::failed(e),
        };
        if opts.log_json() {
            let exit_code = e.exit_code();
            tracing::error!(event = "run", outcome, exit_code, "{text}");
            return e.said();
        }
        e
    })
}

/// One line per file read this run (not with `--quiet`), or one JSON
/// event per file.
fn file_lines(m: &Manifest, opts: &RunArgs) {
    if opts.log_json() {
        for f in &m.files {
            file_event(m, f);
        }
    } else if !opts.quiet {
        // the files this run read: a night with nothing new lists none
        for f in m.files.iter().filter(|f| f.read_this_run) {
            println!("{}", file_line(f, opts.lang()));
        }
    }
}

/// A file's JSON event: an error when it failed, a warning when rows
/// were returned.
fn file_event(m: &Manifest, f: &ManifestFile) {
    let msg = format!("{} {}", f.status, f.path);
    let (t, c, per) = (
        f.template.as_deref().unwrap_or(""),
        f.county.as_deref().unwrap_or(""),
        f.period.as_deref().unwrap_or(""),
    );
    let by = f.superseded_by.as_deref().unwrap_or("");
    let err = f.error.as_deref().unwrap_or("");
    macro_rules! file_event {
        ($level:ident) => {
            tracing::$level!(
                event = "file", run_id = %m.run_id, path = %f.path, sha256 = %f.sha256,
                template = t, county = c, period = per, status = %f.status,
                change = %f.change, read_this_run = f.read_this_run,
                rows_read = f.rows_read, rows_accepted = f.rows_accepted,
                rows_rejected = f.rows_rejected, rows_non_data = f.rows_non_data,
                superseded_by = by, error = err, "{msg}"
            )
        };
    }
    if f.status == crate::lake::FileStatus::Failed {
        file_event!(error);
    } else if f.rows_rejected > 0 {
        file_event!(warn);
    } else {
        file_event!(info);
    }
}

/// Indicators and reports from the published lake (not with
/// `--no-indicators`): the stage's line; a failure makes the exit 3.
fn indicator_stage(prep: &Prepared, opts: &RunArgs, exit_code: &mut i32) -> Option<String> {
    if opts.no_indicators {
        return None;
    }
    // a quiet night stays one line: indicators that were current are not said
    let current = super::indicators::up_to_date(&prep.p, &prep.defs, &prep.out) == Some(true);
    let lock_wait = prep.nopts.lock_wait;
    match super::indicators::stage_locked(&prep.p, &prep.defs, &prep.out, lock_wait, opts.lang()) {
        Ok(_) if current => None,
        Ok(line) => line,
        Err(e) => {
            *exit_code = exit::FAILED;
            let e = exit::chain(&e);
            Some(match opts.lang() {
                Lang::Zh => format!("指标计算失败（湖已发布）：{e}"),
                Lang::En => format!("indicators FAILED (the lake is published): {e}"),
            })
        }
    }
}

/// Feedback (`--feedback`): the annotated copies, and the line that says
/// where; a copy that cannot be written makes the exit at least 1, a
/// failed stage 3.
fn feedback_stage(prep: &Prepared, m: &Manifest, lang: Lang, exit_code: &mut i32) -> String {
    let (p, out, nopts) = (&prep.p, &prep.out, &prep.nopts);
    match feedback(p, m, &prep.inbox, out, &nopts.isolation, nopts.lock_wait) {
        Ok(None) => match lang {
            Lang::Zh => "批注副本：另一次运行已发布新版本，批注副本以该次为准".to_string(),
            Lang::En => {
                "Annotated copies: another run has published since this one; its copies stand"
                    .to_string()
            }
        },
        Ok(Some((n, failed))) => {
            let mut line = match lang {
                Lang::Zh => format!(
                    "批注副本：{n} 个文件（有退回行或无法读取）写入 {}",
                    out.join("feedback").display()
                ),
                Lang::En => format!(
                    "Annotated copies: {n} file(s) with returned rows or that failed, in {}",
                    out.join("feedback").display()
                ),
            };
            if !failed.is_empty() {
                *exit_code = (*exit_code).max(exit::REJECTS);
                line.push_str(&match lang {
                    Lang::Zh => format!("；{} 个副本无法写入：", failed.len()),
                    Lang::En => format!("; {} copies could not be written: ", failed.len()),
                });
                line.push_str(&failed.join("; "));
            }
            line
        }
        Err(e) => {
            *exit_code = exit::FAILED;
            let e = exit::chain(&e);
            format!("feedback FAILED (the lake is published): {e}")
        }
    }
}

/// Writes `OUT/feedback/<county>/<file>_校验.xlsx` for every current file
/// with returned rows and every failed file: each is checked again (in a
/// reader process, as the run reads) and annotated. Under the run lock:
/// the folder is built beside under this run's name and swapped in whole,
/// so it always matches one published version; when another run has
/// published since, that run's feedback is left as it is. A copy that
/// cannot be written is that file's problem (said in the returned list),
/// never the folder's. Returns the number of copies and the files whose
/// copy failed, with why.
fn feedback(
    p: &crate::config::Pipeline,
    m: &Manifest,
    inbox: &std::path::Path,
    out: &std::path::Path,
    iso: &crate::worker::Isolation,
    wait: std::time::Duration,
) -> Result<Option<(usize, Vec<String>)>, FeedbackError> {
    use crate::lake::FileStatus;
    let layout = crate::lake::Layout::new(out);
    let _lock = crate::lake::lock::RunLock::acquire(&layout.lock(), wait)?;
    if layout.current() != m.version {
        return Ok(None);
    }
    let todo: Vec<&ManifestFile> = m
        .files
        .iter()
        .filter(|f| {
            f.status == FileStatus::Failed
                || (f.status == FileStatus::Current && f.rows_rejected > 0)
        })
        // an entry that was not read (a link out of the inbox, a FIFO) is
        // not opened now either
        .filter(|f| !crate::lake::nightly::is_fault_id(&f.sha256))
        .collect();
    // staging folders of earlier runs that were stopped are removed
    if let Ok(rd) = std::fs::read_dir(out) {
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().to_string();
            if n.starts_with("feedback.new") || n.starts_with("feedback.old") {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let fresh = out.join(format!("feedback.new-{}", m.run_id));
    let done = write_copies(p, &todo, inbox, out, iso, &fresh)
        .and_then(|r| swap_in(&fresh, out, &m.run_id).map(|_| Some(r)));
    if done.is_err() {
        let _ = std::fs::remove_dir_all(&fresh);
    }
    done
}

/// Annotated copies of `todo` into `fresh/<county>/`: the number written
/// and, for each copy that could not be written, the file and why.
fn write_copies(
    p: &crate::config::Pipeline,
    todo: &[&ManifestFile],
    inbox: &std::path::Path,
    out: &std::path::Path,
    iso: &crate::worker::Isolation,
    fresh: &std::path::Path,
) -> Result<(usize, Vec<String>), FeedbackError> {
    use std::collections::{HashMap, HashSet};
    std::fs::create_dir_all(fresh).at(fresh)?;
    let (registry, _) = crate::validate::load_registry(p, iso.clone())?;
    let engine = crate::validate::Engine::new(p, Some(&registry), iso.clone());
    let mut previous = super::PreviousValues::new(p, out);
    let mut taken: HashMap<std::path::PathBuf, HashSet<String>> = HashMap::new();
    let mut failed = Vec::new();
    let mut n = 0;
    for f in todo {
        let path = inbox.join(crate::fsio::path_from_text(&f.path));
        let mut res = engine.ingest(&path, None);
        previous.check(&mut res);
        // the county folder is a checked name (the registry's, or a form's
        // after its check), else the registry county whose folder the file
        // came in under; made safe as one path component
        let county = res
            .county
            .clone()
            .or_else(|| f.county.clone())
            .or_else(|| {
                let top = f.path.split('/').next()?;
                (f.path.contains('/') && !registry.townships(top).is_empty())
                    .then(|| top.to_string())
            })
            .unwrap_or_default();
        let cdir = crate::fsio::join_inside(fresh, &county, "未识别");
        let names = taken.entry(cdir.clone()).or_default();
        match crate::report::annotate::write(&res, &path, p, &cdir, names) {
            Ok(_) => n += 1,
            Err(e) => failed.push(format!("{}: {e}", crate::fsio::printable(&f.path))),
        }
    }
    Ok((n, failed))
}

/// Why the feedback folder could not be made (the lake is published).
#[derive(Debug, thiserror::Error)]
enum FeedbackError {
    #[error(transparent)]
    Lock(#[from] crate::lake::lock::LockError),
    #[error(transparent)]
    Folder(#[from] crate::fsio::PathError),
    #[error(transparent)]
    Registry(#[from] crate::validate::RegistryError),
}

/// Puts `fresh` in place of `OUT/feedback`: the last folder is moved
/// aside, the new one renamed in, the old one removed.
fn swap_in(
    fresh: &std::path::Path,
    out: &std::path::Path,
    run_id: &str,
) -> Result<(), FeedbackError> {
    let dir = out.join("feedback");
    let old = out.join(format!("feedback.old-{run_id}"));
    if dir.exists() {
        std::fs::rename(&dir, &old).at(&dir)?;
    }
    let moved = std::fs::rename(fresh, &dir).at(&dir);
    if moved.is_err() {
        let _ = std::fs::rename(&old, &dir);
    }
    moved?;
    let _ = std::fs::remove_dir_all(&old);
    let _ = crate::fsio::sync_dir(out);
    Ok(())
}

/// `OK   T01 如皋市 2024-06  read 270 = accepted 262 + rejected 2 + non-data 6  path`
fn file_line(f: &ManifestFile, lang: Lang) -> String {
    use crate::lake::FileStatus;
    let status = match f.status {
        FileStatus::Failed => "FAIL",
        FileStatus::Superseded => "OLD ",
        _ if f.rows_rejected > 0 => "REJ ",
        _ => "OK  ",
    };
    let shown = crate::fsio::printable(&f.path);
    if let Some(e) = &f.error {
        return format!("{status} {}  {shown}", crate::fsio::printable(e));
    }
    let head = format!(
        "{status} {} {} {} {}",
        f.template.as_deref().unwrap_or("?"),
        f.dataset.as_deref().unwrap_or("?"),
        f.county.as_deref().unwrap_or("-"),
        f.period.as_deref().unwrap_or("-"),
    );
    let (read, acc, rej, non) = (
        f.rows_read,
        f.rows_accepted,
        f.rows_rejected,
        f.rows_non_data,
    );
    let mut line = match lang {
        Lang::Zh => format!("{head}  读取 {read} 行 = 接收 {acc} + 退回 {rej} + 非数据 {non}"),
        Lang::En => {
            format!("{head}  read {read} = accepted {acc} + rejected {rej} + non-data {non}")
        }
    };
    if let Some(by) = &f.superseded_by {
        line.push_str(&format!(" (superseded by {by})"));
    }
    format!("{line}  {shown}")
}

/// The closing paragraph a cron mail shows.
/// Files of the run with a status.
fn files_with(m: &Manifest, status: crate::lake::FileStatus) -> usize {
    m.files.iter().filter(|f| f.status == status).count()
}

/// `dataset rows` for every dataset with rows in the lake.
fn lake_rows(m: &Manifest) -> Vec<String> {
    m.lake_rows
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(d, n)| format!("{d} {n}"))
        .collect()
}

/// The closing paragraph a cron mail shows, in one language: the figures
/// are gathered once, and each sentence is written beside its
/// translation.
fn summary_paragraph(m: &Manifest, out: &Path, figures: (f64, u64, u64), lang: Lang) -> String {
    let t = |zh: &'static str, en: &'static str| if lang == Lang::Zh { zh } else { en };
    let st = &m.superseded_totals;
    let mut vars = paragraph_figures(m, out, figures, lang);
    let what = match m.outcome {
        crate::lake::manifest::Outcome::Unchanged => t(
            "收件箱没有新内容：未读取任何文件，数据湖（{version}）未变",
            "nothing new in the inbox: no file was read and the lake ({version}) is unchanged",
        ),
        _ => t(
            "已发布数据湖版本 {version}（{lake}）",
            "published lake version {version} at {lake}",
        ),
    };
    let superseded_rows = match st.read {
        0 => "",
        _ => t(
            "（被更正文件替代、不在数据湖中的：读取 {st_read} 行，退回 {st_rejected}）",
            " (superseded files, not in the lake: rows read {st_read}, rejected {st_rejected})",
        ),
    };
    let delta = match m.delta.is_empty() {
        true => "",
        false => t("Delta 表版本：{delta}。", " Delta table versions: {delta}."),
    };
    let found = match m.new_files_failed + m.new_files_with_rejects {
        0 => t("本次没有新的退回", "this run found nothing new to reject"),
        _ => t(
            "本次发现 {new_failed} 个文件无法使用、{new_rejects} 个文件有退回行",
            "this run found {new_failed} failed file(s) and {new_rejects} file(s) with rejected rows",
        ),
    };
    let parts = [
        ("what", what),
        ("superseded_rows", superseded_rows),
        ("delta_line", delta),
        ("found", found),
    ]
    .map(|(k, v)| (k, crate::text::fill(v, &vars)));
    vars.extend(parts);
    // what the run found and its exit first: a night with nothing new is
    // this one line
    let headline = t(
        "zhenxing run {run}：{what}。{found}：退出码 {exit}。",
        "zhenxing run {run}: {what}; {found}: exit {exit}.",
    );
    let mut lines = vec![crate::text::fill(headline, &vars)];
    if m.outcome == crate::lake::manifest::Outcome::Unchanged
        && m.new_files_failed + m.new_files_with_rejects == 0
    {
        return lines.join("\n");
    }
    lines.extend(needs_a_look(m, out, lang));
    let counts = t(
        "输入文件 {files} 个（本次读取 {read_now}；现行 {current}，被更正替代 {superseded}，\
         无法使用 {failed}，有退回行 {with_rejects}）；读取 {read} 行 = 接收 {accepted} + 退回 {rejected} + 非数据 {non_data}\
         {superseded_rows}；提示 {warnings} 条。数据湖行数：{rows}。{delta_line}已从收件箱移除 {removed} 个。\
         用时 {secs} 秒，内存峰值 {own} MiB（最大读取进程 {readers} MiB）。",
        "{files} input files ({read_now} read this run; {current} current, \
         {superseded} superseded, {failed} failed, {with_rejects} with rejected rows); rows read {read} = \
         accepted {accepted} + rejected {rejected} + non-data {non_data}{superseded_rows}; {warnings} warnings. \
         Lake rows: {rows}.{delta_line} Removed from the inbox: {removed}. {secs} s, peak memory {own} MiB \
         (largest reader {readers} MiB).",
    );
    lines.push(crate::text::fill(counts, &vars));
    // the annotated copies are named when a run with --feedback made them
    let feedback = out.join("feedback");
    let look = match (feedback.is_dir(), lang) {
        (true, Lang::Zh) => "查看：zhenxing status（缺报、逾期与报送评分）；批注副本 {feedback}；运行记录 {manifest}。",
        (false, Lang::Zh) => "查看：zhenxing status（缺报、逾期与报送评分）；运行记录 {manifest}。",
        (true, Lang::En) => "Where to look: zhenxing status (what is missing or overdue, the scorecard); the annotated copies in {feedback}; Manifest: {manifest}.",
        (false, Lang::En) => "Where to look: zhenxing status (what is missing or overdue, the scorecard); Manifest: {manifest}.",
    };
    vars.push(("feedback", feedback.display().to_string()));
    lines.push(crate::text::fill(look, &vars));
    lines.join("\n")
}

/// What needs a look after this run, a short line each: the files it could
/// not use (the first five), and by county the rows it returned, with
/// their most frequent reasons. Nothing when the run found nothing.
fn needs_a_look(m: &Manifest, out: &Path, lang: Lang) -> Vec<String> {
    use crate::lake::FileStatus;
    let zh = lang == Lang::Zh;
    let read: Vec<&ManifestFile> = m.files.iter().filter(|f| f.read_this_run).collect();
    let failed: Vec<&&ManifestFile> = read
        .iter()
        .filter(|f| f.status == FileStatus::Failed)
        .collect();
    let returned: std::collections::BTreeSet<&str> = read
        .iter()
        .filter(|f| f.status == FileStatus::Current && f.rows_rejected > 0)
        .map(|f| f.path.as_str())
        .collect();
    if failed.is_empty() && returned.is_empty() {
        return Vec::new();
    }
    let mut lines = vec![if zh {
        "需要处理："
    } else {
        "Needs a look:"
    }
    .to_string()];
    for f in failed.iter().take(5) {
        let why = crate::fsio::printable(f.error.as_deref().unwrap_or(""));
        let path = crate::fsio::printable(&f.path);
        lines.push(match zh {
            true => format!("  无法使用 {path}：{why}"),
            false => format!("  not used: {path}: {why}"),
        });
    }
    if failed.len() > 5 {
        let more = failed.len() - 5;
        lines.push(match zh {
            true => format!("  …另有 {more} 个文件无法使用"),
            false => format!("  … and {more} more files not used"),
        });
    }
    let layout = crate::lake::Layout::new(out);
    let mut by = crate::lake::quality::returned_by_county(&layout, &returned, 3)
        .unwrap_or_default()
        .into_iter()
        .collect::<Vec<_>>();
    by.sort_by(|a, b| b.1.rows.cmp(&a.1.rows).then(a.0.cmp(&b.0)));
    for (county, crate::lake::quality::Returns { rows, files, top }) in by {
        let lang_of = if zh { Lang::Zh } else { Lang::En };
        let why: Vec<String> = top
            .iter()
            .map(|r| {
                format!(
                    "{} {}",
                    crate::catalogue::Code::reason_of(&r.code, lang_of),
                    r.rows
                )
            })
            .collect();
        lines.push(match zh {
            true => format!(
                "  {county}：退回 {rows} 行，{files} 个文件（{}）",
                why.join("，")
            ),
            false => format!(
                "  {county}: {rows} rejected row(s) in {files} file(s) ({})",
                why.join(", ")
            ),
        });
    }
    lines
}

/// The figures the closing paragraph names, by name, as `lang` writes
/// them (lists joined with ， or a comma).
fn paragraph_figures(
    m: &Manifest,
    out: &Path,
    (secs, own, readers): (f64, u64, u64),
    lang: Lang,
) -> Vec<(&'static str, String)> {
    use crate::lake::FileStatus;
    let t = |zh: &'static str, en: &'static str| if lang == Lang::Zh { zh } else { en };
    let list = |v: Vec<String>| v.join(t("，", ", "));
    let rows = lake_rows(m);
    let st = &m.superseded_totals;
    vec![
        ("run", m.run_id.clone()),
        ("version", m.version.as_deref().unwrap_or("-").to_string()),
        ("lake", out.join("lake").display().to_string()),
        ("files", m.files.len().to_string()),
        ("read_now", m.files_read_this_run.to_string()),
        ("current", files_with(m, FileStatus::Current).to_string()),
        (
            "superseded",
            files_with(m, FileStatus::Superseded).to_string(),
        ),
        ("failed", m.files_failed.to_string()),
        ("with_rejects", m.files_with_rejects.to_string()),
        ("read", m.totals.read.to_string()),
        ("accepted", m.totals.accepted.to_string()),
        ("rejected", m.totals.rejected.to_string()),
        ("non_data", m.totals.non_data.to_string()),
        ("st_read", st.read.to_string()),
        ("st_rejected", st.rejected.to_string()),
        ("warnings", m.warnings.to_string()),
        (
            "rows",
            if rows.is_empty() {
                t("无", "none").to_string()
            } else {
                list(rows)
            },
        ),
        (
            "delta",
            list(m.delta.iter().map(|(t, v)| format!("{t} v{v}")).collect()),
        ),
        ("removed", m.removed.len().to_string()),
        ("secs", format!("{secs:.1}")),
        ("own", own.to_string()),
        ("readers", readers.to_string()),
        (
            "manifest",
            out.join("runs")
                .join(format!("{}.json", m.run_id))
                .display()
                .to_string(),
        ),
        ("new_failed", m.new_files_failed.to_string()),
        ("new_rejects", m.new_files_with_rejects.to_string()),
        ("exit", m.exit_code.to_string()),
    ]
}
