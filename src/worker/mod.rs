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
pub enum WorkerError {
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
    pub memory_mb: u64,
    pub timeout: Duration,
}

impl Isolation {
    pub fn in_process() -> Isolation {
        Isolation {
            exe: None,
            memory_mb: 0,
            timeout: Duration::from_secs(0),
        }
    }
}

/// Reads `path`, in a worker when `iso.exe` is set.
/// Reads `path` and hands its frames to `on_frame` as they arrive (from a
/// worker when `iso.exe` is set). An error after some frames means the
/// frames already given must be discarded.
pub fn stream_isolated(
    path: &Path,
    limits: &Limits,
    iso: &Isolation,
    on_frame: &mut dyn FnMut(Frame),
) -> Result<(), WorkerError> {
    let Some(exe) = &iso.exe else {
        return crate::read::stream_file(path, limits, on_frame).map_err(WorkerError::Read);
    };
    let mut cmd = Command::new(exe);
    cmd.arg("__read")
        .arg(path)
        .arg("--memory-mb")
        .arg(iso.memory_mb.to_string())
        .arg("--cpu-s")
        .arg(iso.timeout.as_secs().max(1).to_string())
        .arg("--limits")
        .arg(serde_json::to_string(limits).unwrap_or_default())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| WorkerError::Died(format!("cannot start reader process: {e}")))?;
    // from here on the child is killed and reaped whatever happens,
    // also when validating its rows panics in this thread
    let mut guard = ChildGuard(Some(child.id() as libc::pid_t));
    // stderr is drained while stdout is read: a chatty worker cannot fill
    // its pipe and stall; the first 64 KiB are kept for the report
    let stderr = child.stderr.take();
    let err_thread = std::thread::spawn(move || {
        let mut kept = Vec::new();
        if let Some(mut s) = stderr {
            let mut buf = [0u8; 8192];
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let room = (64 * 1024usize).saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
        kept
    });
    // the time the worker spends waiting for this process to take its rows
    // (validation) does not count against its wall-clock limit
    let parent_ns = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let pid = child.id() as libc::pid_t;
    let (done, deadline) = std::sync::mpsc::channel::<()>();
    let timeout = iso.timeout;
    let waited = parent_ns.clone();
    // a watchdog kills the worker at the deadline; the child cannot be
    // reaped (and its pid reused) before the watchdog has finished
    let watchdog = std::thread::spawn(move || {
        let t0 = std::time::Instant::now();
        loop {
            let spent = t0.elapsed().saturating_sub(Duration::from_nanos(
                waited.load(std::sync::atomic::Ordering::Relaxed),
            ));
            let Some(left) = timeout.checked_sub(spent).filter(|d| !d.is_zero()) else {
                // SAFETY: kill only sends a signal to our own unreaped child
                unsafe { libc::kill(pid, libc::SIGKILL) };
                return true;
            };
            match deadline.recv_timeout(left) {
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
                _ => return false,
            }
        }
    });
    // a reader thread drains the pipe and decodes frames, so the worker
    // keeps reading while this thread validates the rows already in
    let (tx, rx) = std::sync::mpsc::sync_channel::<Frame>(4);
    let stdout = child.stdout.take();
    let max_frame = limits.max_frame_bytes;
    // the watchdog stops once the worker has said all it has to say
    let finished = done.clone();
    let reader = std::thread::spawn(move || -> (Option<Option<ReadError>>, Option<String>) {
        let Some(s) = stdout else {
            return (None, None);
        };
        let mut s = std::io::BufReader::with_capacity(1 << 16, s);
        let mut buf = Vec::new();
        let mut result = (None, None);
        loop {
            let mut len = [0u8; 4];
            if s.read_exact(&mut len).is_err() {
                break;
            }
            // the length is checked before anything is allocated for it
            let len = u32::from_le_bytes(len) as usize;
            if len > max_frame {
                result.1 = Some(format!(
                    "a frame of {len} bytes, more than the limit of {max_frame}"
                ));
                break;
            }
            buf.resize(len, 0);
            if s.read_exact(&mut buf).is_err() {
                break;
            }
            match postcard::from_bytes::<Frame>(&buf) {
                Ok(Frame::End(e)) => {
                    result.0 = Some(e);
                    break;
                }
                Ok(frame) => {
                    let t = std::time::Instant::now();
                    if tx.send(frame).is_err() {
                        break;
                    }
                    parent_ns.fetch_add(
                        t.elapsed().as_nanos() as u64,
                        std::sync::atomic::Ordering::Relaxed,
                    );
                }
                Err(e) => {
                    result.1 = Some(e.to_string());
                    break;
                }
            }
        }
        drop(tx);
        let _ = finished.send(());
        if result.1.is_some() {
            // SAFETY: our own unreaped child; it is not worth reading further
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        // drain whatever follows so the worker can exit
        let _ = std::io::copy(&mut s, &mut std::io::sink());
        result
    });
    for frame in rx {
        on_frame(frame);
    }
    let (ended, garbled) = reader
        .join()
        .unwrap_or((None, Some("reader thread failed".into())));
    let _ = done.send(());
    let timed_out = watchdog.join().unwrap_or(false);
    guard.0 = None;
    let status = wait_measured(&mut child).map_err(|e| WorkerError::Died(e.to_string()))?;
    let err = err_thread.join().unwrap_or_default();
    if timed_out {
        return Err(WorkerError::Timeout(iso.timeout.as_secs()));
    }
    match (ended, garbled) {
        (Some(None), _) if status.success() => Ok(()),
        (Some(Some(e)), _) => Err(WorkerError::Read(e)),
        (_, Some(e)) => Err(WorkerError::Died(format!(
            "unreadable answer from the reader process: {e}"
        ))),
        _ => Err(WorkerError::Died(describe_exit(
            &status,
            &err,
            iso.memory_mb,
        ))),
    }
}

/// Kills and reaps the reader process when the parent leaves early (a
/// panic while validating its rows); disarmed on the normal path.
struct ChildGuard(Option<libc::pid_t>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            // SAFETY: our own child, not yet reaped: the signal and the
            // wait cannot reach another process
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                let mut status = 0;
                libc::waitpid(pid, &mut status, 0);
            }
        }
    }
}

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

/// Peak resident memory in MiB of this process and of the largest child
/// process that has finished (the reader workers).
pub fn peak_rss_mib() -> (u64, u64) {
    // Linux's VmHWM is this program's own high-water mark; getrusage's
    // ru_maxrss also keeps the peak of the process that spawned us (the
    // memory a vfork-and-exec shared is counted before exec replaced it)
    let hwm = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        });
    let own = match hwm {
        Some(kb) => kb / 1024,
        // SAFETY: getrusage fills the struct we own; on failure it stays zeroed
        None => unsafe {
            let mut u: libc::rusage = std::mem::zeroed();
            libc::getrusage(libc::RUSAGE_SELF, &mut u);
            (u.ru_maxrss.max(0) as u64) / 1024
        },
    };
    (
        own,
        WORKER_PEAK_KB.load(std::sync::atomic::Ordering::Relaxed) / 1024,
    )
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
pub fn worker_main(path: &Path, memory_mb: u64, cpu_s: u64, limits: &Limits) -> i32 {
    if let Err(e) = set_limits(memory_mb, cpu_s) {
        eprintln!("{e}");
        return 71;
    }
    inject_fault(path);
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
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
        if !broken && !send(&frame, &mut out) {
            broken = true;
        }
    });
    if broken {
        return 74;
    }
    if !send(&Frame::End(result.err()), &mut out) || out.flush().is_err() {
        return 74;
    }
    0
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
pub fn injected_faults(target: &str) -> Vec<(String, String)> {
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
fn set_limits(memory_mb: u64, cpu_s: u64) -> Result<(), String> {
    let set = |what: &str, res: libc::__rlimit_resource_t, cur: u64, max: u64| {
        let lim = libc::rlimit {
            rlim_cur: cur as libc::rlim_t,
            rlim_max: max as libc::rlim_t,
        };
        // SAFETY: setrlimit only reads the struct we pass
        if unsafe { libc::setrlimit(res, &lim) } != 0 {
            Err(format!(
                "cannot set the reader's {what} limit: {}",
                std::io::Error::last_os_error()
            ))
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
