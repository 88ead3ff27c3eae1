//! Reading untrusted files in a worker process.
//!
//! A spreadsheet library can panic or, worse, abort the process on an
//! allocation failure, and `catch_unwind` cannot stop an abort. So the
//! binary re-invokes itself as `zhenxing __read FILE`, the child caps its own
//! address space (RLIMIT_AS) and CPU time, reads the file and writes the
//! result as one postcard frame to stdout. The parent enforces a wall-clock
//! timeout and turns a dead, killed or silent worker into a file-level
//! problem; the other files go on.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::read::{Frame, Limits, ReadError};

/// How reading a file ended badly.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum WorkerError {
    /// The reader refused the file (its own, stable error).
    Read(ReadError),
    /// The reader process died, or its answer could not be read.
    Died(String),
    /// The reader took longer than its limit (seconds) and was killed.
    Timeout(u64),
}

/// How reading is isolated.
#[derive(Debug, Clone)]
pub struct Isolation {
    /// The binary to re-invoke; `None` reads in this process.
    pub exe: Option<std::path::PathBuf>,
    /// A reader's memory limit, in MiB.
    pub memory_mb: u64,
    /// A reader's time limit per file.
    pub timeout: Duration,
    /// Files a reader process reads before it is replaced by a fresh one.
    pub files_per_worker: usize,
    /// The reader processes waiting for their next file.
    pub pool: std::sync::Arc<Pool>,
}

impl Isolation {
    /// Reading in this process, without isolation.
    pub fn in_process() -> Isolation {
        Isolation {
            exe: None,
            memory_mb: 0,
            timeout: Duration::from_secs(0),
            files_per_worker: 1,
            pool: Default::default(),
        }
    }
}

/// Reads `path` and hands its frames to `on_frame` as they arrive (from a
/// reader process when `iso.exe` is set). An error after some frames means
/// the frames already given must be discarded.
pub(crate) fn stream_isolated(
    path: &Path,
    limits: &Limits,
    iso: &Isolation,
    on_frame: &mut dyn FnMut(Frame),
) -> Result<(), WorkerError> {
    let Some(exe) = &iso.exe else {
        return crate::read::stream_file(path, limits, on_frame).map_err(WorkerError::Read);
    };
    let mut worker = match iso.pool.take() {
        Some(w) => w,
        None => Worker::spawn(exe, iso)?,
    };
    // a reader that died while it waited (killed from outside) is
    // replaced once before the file counts as unreadable
    if worker.ask(path, limits).is_err() {
        worker.retire();
        worker = Worker::spawn(exe, iso)?;
        worker.ask(path, limits).map_err(|e| {
            WorkerError::Died(format!("cannot hand the file to the reader process: {e}"))
        })?;
    }
    match worker.answer(limits.max_frame_bytes, iso.timeout, on_frame) {
        Answer::Ended(result) => {
            worker.files += 1;
            if worker.files >= iso.files_per_worker.max(1) {
                worker.retire();
            } else {
                iso.pool.put(worker);
            }
            result.map_err(WorkerError::Read)
        }
        Answer::TimedOut => {
            worker.retire();
            Err(WorkerError::Timeout(iso.timeout.as_secs()))
        }
        Answer::Garbled(e) => {
            worker.retire();
            Err(WorkerError::Died(format!(
                "unreadable answer from the reader process: {e}"
            )))
        }
        Answer::Gone => {
            let status = worker.retire();
            let err = worker.stderr_now();
            Err(WorkerError::Died(match status {
                Some(status) => describe_exit(&status, &err, iso.memory_mb),
                None => "the reader process vanished".to_string(),
            }))
        }
    }
}

/// The reader processes between files. Dropping the pool ends them.
#[derive(Default)]
pub struct Pool {
    idle: std::sync::Mutex<Vec<Worker>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.idle.lock().map(|v| v.len()).unwrap_or(0);
        write!(f, "Pool({n} idle)")
    }
}

impl Pool {
    fn take(&self) -> Option<Worker> {
        self.idle.lock().ok()?.pop()
    }

    fn put(&self, w: Worker) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(w);
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        if let Ok(idle) = self.idle.get_mut() {
            for mut w in idle.drain(..) {
                w.retire();
            }
        }
    }
}

/// How one file's answer ended.
enum Answer {
    /// The reader said it was done: the file was read, or refused.
    Ended(Result<(), ReadError>),
    TimedOut,
    /// A frame that could not be decoded or is over the limit.
    Garbled(String),
    /// The reader process stopped answering (it died).
    Gone,
}

/// One long-lived reader process: `zhenxing __read --serve`.
struct Worker {
    child: std::process::Child,
    pid: libc::pid_t,
    stdin: Option<std::process::ChildStdin>,
    stdout: std::io::BufReader<std::process::ChildStdout>,
    /// The first 64 KiB the reader wrote on stderr since its current file began.
    stderr: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    drain: Option<std::thread::JoinHandle<()>>,
    files: usize,
    /// Reaped: its pid may belong to another process now.
    reaped: bool,
}

impl Worker {
    fn spawn(exe: &Path, iso: &Isolation) -> Result<Worker, WorkerError> {
        let mut cmd = Command::new(exe);
        cmd.arg("__read")
            .arg("--serve")
            .arg("--memory-mb")
            .arg(iso.memory_mb.to_string())
            .arg("--cpu-s")
            .arg(iso.timeout.as_secs().max(1).to_string())
            .arg("--files")
            .arg(iso.files_per_worker.max(1).to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| WorkerError::Died(format!("cannot start reader process: {e}")))?;
        let pid = child.id() as libc::pid_t;
        let (Some(stdin), Some(stdout), stderr) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            // SAFETY: our own child, not yet reaped
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let _ = child.wait();
            return Err(WorkerError::Died("reader process without pipes".into()));
        };
        // stderr is drained all the time: a chatty reader cannot fill its
        // pipe and stall; what it says during a file is kept for the report
        let kept = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = kept.clone();
        let drain = std::thread::spawn(move || {
            let Some(mut s) = stderr else { return };
            let mut buf = [0u8; 8192];
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut k) = sink.lock() {
                    let room = (64 * 1024usize).saturating_sub(k.len());
                    k.extend_from_slice(&buf[..n.min(room)]);
                }
            }
        });
        LIVE.lock().map(|mut l| l.insert(pid)).ok();
        STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Worker {
            child,
            pid,
            stdin: Some(stdin),
            stdout: std::io::BufReader::with_capacity(1 << 16, stdout),
            stderr: kept,
            drain: Some(drain),
            files: 0,
            reaped: false,
        })
    }

    /// Sends the next file: a length, then the request as JSON.
    fn ask(&mut self, path: &Path, limits: &Limits) -> std::io::Result<()> {
        if let Ok(mut k) = self.stderr.lock() {
            k.clear();
        }
        let req = Request {
            path: path.as_os_str().as_encoded_bytes().to_vec(),
            limits: *limits,
        };
        let body = serde_json::to_vec(&req).map_err(std::io::Error::other)?;
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| std::io::Error::other("reader closed"))?;
        stdin.write_all(&(body.len() as u32).to_le_bytes())?;
        stdin.write_all(&body)?;
        stdin.flush()
    }

    fn stderr_now(&self) -> Vec<u8> {
        self.stderr.lock().map(|k| k.clone()).unwrap_or_default()
    }

    /// Reads one file's frames. A reader thread decodes them while this
    /// thread validates the rows already in; a watchdog kills the reader
    /// at the deadline. The time the reader waits for this process to take
    /// its rows does not count against its limit.
    fn answer(
        &mut self,
        max_frame: usize,
        timeout: Duration,
        on_frame: &mut dyn FnMut(Frame),
    ) -> Answer {
        let pid = self.pid;
        let stdout = &mut self.stdout;
        let parent_ns = std::sync::atomic::AtomicU64::new(0);
        let (done, deadline) = std::sync::mpsc::channel::<()>();
        std::thread::scope(|scope| {
            let parent_ns = &parent_ns;
            let watchdog = scope.spawn(move || {
                let t0 = std::time::Instant::now();
                loop {
                    let spent = t0.elapsed().saturating_sub(Duration::from_nanos(
                        parent_ns.load(std::sync::atomic::Ordering::Relaxed),
                    ));
                    let Some(left) = timeout.checked_sub(spent).filter(|d| !d.is_zero()) else {
                        // SAFETY: our own child; it is reaped only after
                        // this scope has ended
                        unsafe { libc::kill(pid, libc::SIGKILL) };
                        return true;
                    };
                    match deadline.recv_timeout(left) {
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
                        _ => return false,
                    }
                }
            });
            let (tx, rx) = std::sync::mpsc::sync_channel::<Frame>(4);
            let reader = scope.spawn(move || -> Answer {
                let answer = read_frames(stdout, max_frame, &tx, parent_ns);
                drop(tx);
                let _ = done.send(());
                if !matches!(answer, Answer::Ended(_)) {
                    // SAFETY: as above; a reader that stopped making sense
                    // (or whose rows nobody takes) is not worth waiting for
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
                answer
            });
            for frame in rx {
                on_frame(frame);
            }
            let answer = reader
                .join()
                .unwrap_or_else(|_| Answer::Garbled("reader thread failed".into()));
            let timed_out = watchdog.join().unwrap_or(false);
            match answer {
                Answer::Ended(r) if !timed_out => Answer::Ended(r),
                _ if timed_out => Answer::TimedOut,
                other => other,
            }
        })
    }

    /// Ends the process (a healthy one has nothing left to do), reaps it
    /// and records its peak memory; the exit status when it was reaped here.
    fn retire(&mut self) -> Option<std::process::ExitStatus> {
        if self.reaped {
            return None;
        }
        self.stdin = None;
        // SAFETY: our own child, not yet reaped
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
        let status = wait_measured(&mut self.child).ok();
        self.reaped = true;
        LIVE.lock().map(|mut l| l.remove(&self.pid)).ok();
        if let Some(d) = self.drain.take() {
            let _ = d.join();
        }
        status
    }
}

impl Drop for Worker {
    /// Also on a panic while its rows are validated: no reader outlives
    /// the parent's interest in it.
    fn drop(&mut self) {
        self.retire();
    }
}

/// One file for a serving reader.
#[derive(serde::Serialize, serde::Deserialize)]
struct Request {
    path: Vec<u8>,
    limits: Limits,
}

/// Decodes frames until the reader's `End`; sends the others on.
fn read_frames(
    s: &mut impl Read,
    max_frame: usize,
    tx: &std::sync::mpsc::SyncSender<Frame>,
    parent_ns: &std::sync::atomic::AtomicU64,
) -> Answer {
    let mut buf = Vec::new();
    loop {
        let mut len = [0u8; 4];
        if s.read_exact(&mut len).is_err() {
            return Answer::Gone;
        }
        // the length is checked before anything is allocated for it
        let len = u32::from_le_bytes(len) as usize;
        if len > max_frame {
            return Answer::Garbled(format!(
                "a frame of {len} bytes, more than the limit of {max_frame}"
            ));
        }
        buf.resize(len, 0);
        if s.read_exact(&mut buf).is_err() {
            return Answer::Gone;
        }
        match postcard::from_bytes::<Frame>(&buf) {
            Ok(Frame::End(e)) => return Answer::Ended(e.map_or(Ok(()), Err)),
            Ok(frame) => {
                let t = std::time::Instant::now();
                if tx.send(frame).is_err() {
                    return Answer::Garbled("the parent stopped taking rows".into());
                }
                parent_ns.fetch_add(
                    t.elapsed().as_nanos() as u64,
                    std::sync::atomic::Ordering::Relaxed,
                );
            }
            Err(e) => return Answer::Garbled(e.to_string()),
        }
    }
}

/// Reader processes started by this process so far.
static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many reader processes this process has started.
pub(crate) fn readers_started() -> usize {
    STARTED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Pids of the reader processes alive now (for their peak memory).
static LIVE: std::sync::Mutex<std::collections::BTreeSet<libc::pid_t>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

fn describe_exit(status: &std::process::ExitStatus, stderr: &[u8], memory_mb: u64) -> String {
    use std::os::unix::process::ExitStatusExt;
    let first_line = String::from_utf8_lossy(stderr)
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .chars()
        .take(300)
        .collect::<String>();
    let mem = first_line.contains("memory allocation") || first_line.contains("capacity overflow");
    match status.signal() {
        Some(libc::SIGABRT) | Some(libc::SIGSEGV) if mem || first_line.is_empty() => {
            format!(
                "killed by signal {}; likely exceeded the {memory_mb} MiB memory limit",
                status.signal().unwrap_or(0)
            )
        }
        Some(libc::SIGXCPU) => "CPU time limit exceeded".to_string(),
        Some(sig) => format!(
            "killed by signal {sig}{}",
            if first_line.is_empty() {
                String::new()
            } else {
                format!(": {first_line}")
            }
        ),
        None if mem => format!("exceeded the {memory_mb} MiB memory limit"),
        None => format!(
            "exit status {}{}",
            status.code().unwrap_or(-1),
            if first_line.is_empty() {
                String::new()
            } else {
                format!(": {first_line}")
            }
        ),
    }
}

/// Peak resident memory in MiB of this process and of the largest reader
/// process (finished or waiting in the pool).
pub(crate) fn peak_rss_mib() -> (u64, u64) {
    // Linux's VmHWM is this program's own high-water mark; getrusage's
    // ru_maxrss also keeps the peak of the process that spawned us (the
    // memory a vfork-and-exec shared is counted before exec replaced it)
    let own = match vm_hwm_kb("/proc/self/status") {
        Some(kb) => kb / 1024,
        // SAFETY: getrusage fills the struct we own; on failure it stays zeroed
        None => unsafe {
            let mut u: libc::rusage = std::mem::zeroed();
            libc::getrusage(libc::RUSAGE_SELF, &mut u);
            (u.ru_maxrss.max(0) as u64) / 1024
        },
    };
    // readers still alive (waiting in the pool) report their own mark
    let live = LIVE
        .lock()
        .map(|l| l.iter().copied().collect::<Vec<_>>())
        .unwrap_or_default();
    let live_kb = live
        .iter()
        .filter_map(|pid| vm_hwm_kb(&format!("/proc/{pid}/status")))
        .max()
        .unwrap_or(0);
    (
        own,
        WORKER_PEAK_KB
            .load(std::sync::atomic::Ordering::Relaxed)
            .max(live_kb)
            / 1024,
    )
}

/// A process's peak resident size in KiB, from the `VmHWM:` line of its
/// `/proc/<pid>/status`.
fn vm_hwm_kb(status: &str) -> Option<u64> {
    status_kb(&std::fs::read_to_string(status).ok()?, "VmHWM:")
}

/// A `key:  123 kB` line of a `/proc/<pid>/status` text, in KiB.
fn status_kb(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
}

/// The largest resident size any reader process reached, in KiB. (Not
/// RUSAGE_CHILDREN: after `cargo run` execs us, that also counts rustc.)
static WORKER_PEAK_KB: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Waits for the worker and records its peak memory.
fn wait_measured(child: &mut std::process::Child) -> std::io::Result<std::process::ExitStatus> {
    use std::os::unix::process::ExitStatusExt;
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: wait4 reaps our own child and fills the status and usage we own
    let (got, usage) = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        let got = libc::wait4(pid, &mut status, 0, &mut u);
        (got, u)
    };
    if got != pid {
        return child.wait();
    }
    WORKER_PEAK_KB.fetch_max(
        usage.ru_maxrss.max(0) as u64,
        std::sync::atomic::Ordering::Relaxed,
    );
    Ok(std::process::ExitStatus::from_raw(status))
}

/// The worker side: cap resources, read, answer on stdout. Never returns
/// an error to the caller: everything goes into the frame.
pub(crate) fn worker_main(path: &Path, memory_mb: u64, cpu_s: u64, limits: &Limits) -> i32 {
    if let Err(e) = set_limits(memory_mb, cpu_s) {
        eprintln!("{e}");
        return 71;
    }
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    if read_one(path, limits, &mut out) {
        0
    } else {
        74
    }
}

/// A serving reader: reads the files the parent sends on stdin, one after
/// another, each answered by its frames and an `End`, until stdin closes.
/// Each file gets `cpu_s` seconds of CPU time of its own.
pub(crate) fn serve_main(memory_mb: u64, cpu_s: u64, files: usize) -> i32 {
    let hard = cpu_s.saturating_mul(files.max(1) as u64 + 1);
    if let Err(e) = set_limits(memory_mb, hard) {
        eprintln!("{e}");
        return 71;
    }
    let mut input = std::io::stdin().lock();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    loop {
        let mut len = [0u8; 4];
        if input.read_exact(&mut len).is_err() {
            return 0;
        }
        let mut body = vec![0u8; u32::from_le_bytes(len).min(1 << 20) as usize];
        if input.read_exact(&mut body).is_err() {
            return 0;
        }
        let req: Request = match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("zhenxing __read --serve: not a request: {e}");
                return 2;
            }
        };
        // SAFETY: the bytes came from the parent's OsStr on this platform
        let path = unsafe { std::ffi::OsStr::from_encoded_bytes_unchecked(&req.path) };
        if let Err(e) = cpu_for_one_more(cpu_s, hard) {
            eprintln!("{e}");
            return 71;
        }
        if !read_one(Path::new(path), &req.limits, &mut out) {
            return 74;
        }
    }
}

/// Moves the soft CPU limit to `cpu_s` seconds past what was used so far.
fn cpu_for_one_more(cpu_s: u64, hard: u64) -> Result<(), LimitError> {
    // SAFETY: getrusage fills the struct we own
    let used = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        (u.ru_utime.tv_sec + u.ru_stime.tv_sec).max(0) as u64 + 1
    };
    let soft = used.saturating_add(cpu_s).min(hard);
    let lim = libc::rlimit {
        rlim_cur: soft as libc::rlim_t,
        rlim_max: hard.saturating_add(5) as libc::rlim_t,
    };
    // SAFETY: setrlimit only reads the struct we pass
    if unsafe { libc::setrlimit(libc::RLIMIT_CPU, &lim) } != 0 {
        return Err(LimitError {
            what: "CPU time",
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

/// A limit the reader process cannot set on itself: it reads nothing.
#[derive(Debug, thiserror::Error)]
#[error("cannot set the reader's {what} limit: {source}")]
struct LimitError {
    /// `memory` or `CPU time`.
    what: &'static str,
    /// What the system said.
    #[source]
    source: std::io::Error,
}

/// Reads one file and writes its frames, then its `End`; false when the
/// answer could not be written (the parent is gone or a frame too large).
fn read_one(path: &Path, limits: &Limits, out: &mut impl Write) -> bool {
    inject_fault(path);
    let mut broken = false;
    let max_frame = limits.max_frame_bytes;
    let send = |frame: &Frame, out: &mut dyn Write| -> bool {
        match postcard::to_stdvec(frame) {
            Ok(b) if b.len() > max_frame => {
                eprintln!(
                    "a batch of rows is {} MiB, more than the {} MiB a frame may hold",
                    b.len() >> 20,
                    max_frame >> 20
                );
                false
            }
            Ok(b) => out
                .write_all(&(b.len() as u32).to_le_bytes())
                .and_then(|_| out.write_all(&b))
                .is_ok(),
            Err(e) => {
                eprintln!("cannot encode a frame: {e}");
                false
            }
        }
    };
    // a panic prints its message on stderr, which the parent reports
    let result = crate::read::stream_file(path, limits, &mut |frame| {
        if !broken && !send(&frame, &mut *out) {
            broken = true;
        }
    });
    !broken && send(&Frame::End(result.err()), &mut *out) && out.flush().is_ok()
}

/// Fault injection for tests: `ZHENXING_FAULT=worker-abort:NAME` makes the
/// worker abort (as an allocation failure does), `worker-hang:NAME` makes it
/// hang, `worker-chatty:NAME` floods its stderr, `worker-bigframe:NAME`
/// announces a 4 GiB frame, when the file path contains NAME.
fn inject_fault(path: &Path) {
    for (what, _) in injected_faults(&path.display().to_string()) {
        match what.as_str() {
            "worker-abort" => std::process::abort(),
            "worker-hang" => loop {
                std::thread::sleep(std::time::Duration::from_secs(1));
            },
            // 1 MiB on stderr before reading: more than a pipe holds
            "worker-chatty" => {
                let line = "x".repeat(1023);
                let mut err = std::io::stderr().lock();
                for _ in 0..1024 {
                    let _ = writeln!(err, "{line}");
                }
            }
            // a frame that claims to be 4 GiB long
            "worker-bigframe" => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(&u32::MAX.to_le_bytes());
                let _ = out.write_all(&[0u8; 1024]);
                let _ = out.flush();
                std::process::exit(0);
            }
            _ => {}
        }
    }
}

/// The faults `ZHENXING_FAULT` (`KIND:NAME,KIND:NAME…`, for tests) asks
/// for on `target`: (kind, name) of each whose NAME `target` contains.
pub(crate) fn injected_faults(target: &str) -> Vec<(String, String)> {
    let Ok(fault) = std::env::var("ZHENXING_FAULT") else {
        return Vec::new();
    };
    fault
        .split(',')
        .map(|f| f.split_once(':').unwrap_or((f, "")))
        .filter(|(_, name)| target.contains(name))
        .map(|(what, name)| (what.to_string(), name.to_string()))
        .collect()
}

/// Caps the worker's address space and CPU time. A cap that cannot be set
/// is an error: the file is not read without its limits.
fn set_limits(memory_mb: u64, cpu_s: u64) -> Result<(), LimitError> {
    let set = |what: &'static str, res: libc::__rlimit_resource_t, cur: u64, max: u64| {
        let lim = libc::rlimit {
            rlim_cur: cur as libc::rlim_t,
            rlim_max: max as libc::rlim_t,
        };
        // SAFETY: setrlimit only reads the struct we pass
        if unsafe { libc::setrlimit(res, &lim) } != 0 {
            Err(LimitError {
                what,
                source: std::io::Error::last_os_error(),
            })
        } else {
            Ok(())
        }
    };
    if memory_mb > 0 {
        let bytes = memory_mb.saturating_mul(1 << 20);
        set("memory", libc::RLIMIT_AS, bytes, bytes)?;
    }
    if cpu_s > 0 {
        set("CPU time", libc::RLIMIT_CPU, cpu_s, cpu_s.saturating_add(5))?;
    }
    Ok(())
}

/// With `ZHENXING_TIMINGS` set: one line on stderr with a run stage's
/// seconds since the first such line, its resident memory now and its
/// peak so far, to see which stage a peak belongs to.
pub(crate) fn stage_trace(label: &str) {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let t0 = *START.get_or_init(std::time::Instant::now);
    if std::env::var_os("ZHENXING_TIMINGS").is_none() {
        return;
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |k: &str| status_kb(&status, k).unwrap_or(0);
    eprintln!(
        "timing: {label} at {:.2} s, resident {} MiB, peak {} MiB",
        t0.elapsed().as_secs_f64(),
        kb("VmRSS:") / 1024,
        kb("VmHWM:") / 1024
    );
}
