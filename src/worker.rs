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

use crate::issue::Problem;
use crate::read::{Frame, Limits, ReadError};

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
) -> Result<(), Problem> {
    let Some(exe) = &iso.exe else {
        return crate::read::stream_file(path, limits, on_frame).map_err(read_problem);
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
    let mut child = cmd.spawn().map_err(|e| Problem::WorkerDied {
        detail: format!("cannot start reader process: {e}"),
    })?;
    // a watchdog kills the worker at the deadline; the child cannot be
    // reaped (and its pid reused) before the watchdog has finished
    let pid = child.id() as libc::pid_t;
    let (done, deadline) = std::sync::mpsc::channel::<()>();
    let timeout = iso.timeout;
    let watchdog = std::thread::spawn(move || match deadline.recv_timeout(timeout) {
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            // SAFETY: kill only sends a signal to our own unreaped child
            unsafe { libc::kill(pid, libc::SIGKILL) };
            true
        }
        _ => false,
    });
    // a reader thread drains the pipe and decodes frames, so the worker
    // keeps reading while this thread validates the rows already in
    let (tx, rx) = std::sync::mpsc::sync_channel::<Frame>(4);
    let stdout = child.stdout.take();
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
            buf.resize(u32::from_le_bytes(len) as usize, 0);
            if s.read_exact(&mut buf).is_err() {
                break;
            }
            match postcard::from_bytes::<Frame>(&buf) {
                Ok(Frame::End(e)) => {
                    result.0 = Some(e);
                    break;
                }
                Ok(frame) => {
                    if tx.send(frame).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    result.1 = Some(e.to_string());
                    break;
                }
            }
        }
        drop(tx);
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
    let mut err = Vec::new();
    if let Some(s) = child.stderr.take() {
        let _ = s.take(64 * 1024).read_to_end(&mut err);
    }
    let _ = done.send(());
    let timed_out = watchdog.join().unwrap_or(false);
    let status = wait_measured(&mut child).map_err(|e| Problem::WorkerDied {
        detail: e.to_string(),
    })?;
    if timed_out {
        return Err(Problem::WorkerTimeout {
            seconds: iso.timeout.as_secs(),
        });
    }
    match (ended, garbled) {
        (Some(None), _) if status.success() => Ok(()),
        (Some(Some(e)), _) => Err(read_problem(e)),
        (_, Some(e)) => Err(Problem::WorkerDied {
            detail: format!("unreadable answer from the reader process: {e}"),
        }),
        _ => Err(Problem::WorkerDied {
            detail: describe_exit(&status, &err, iso.memory_mb),
        }),
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
    // SAFETY: getrusage fills the struct we own; on failure it stays zeroed
    let own = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        (u.ru_maxrss.max(0) as u64) / 1024
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

fn read_problem(e: ReadError) -> Problem {
    Problem::Unreadable {
        code: e.code().to_string(),
        detail: e.to_string(),
    }
}

/// The worker side: cap resources, read, answer on stdout. Never returns
/// an error to the caller: everything goes into the frame.
pub fn worker_main(path: &Path, memory_mb: u64, cpu_s: u64, limits: &Limits) -> i32 {
    set_limits(memory_mb, cpu_s);
    inject_fault(path);
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut broken = false;
    let send = |frame: &Frame, out: &mut dyn Write| -> bool {
        match postcard::to_stdvec(frame) {
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
/// hang, when the file path contains NAME.
fn inject_fault(path: &Path) {
    let Ok(fault) = std::env::var("ZHENXING_FAULT") else {
        return;
    };
    let shown = path.display().to_string();
    for f in fault.split(',') {
        let (what, name) = f.split_once(':').unwrap_or((f, ""));
        if !shown.contains(name) {
            continue;
        }
        match what {
            "worker-abort" => std::process::abort(),
            "worker-hang" => loop {
                std::thread::sleep(std::time::Duration::from_secs(1));
            },
            _ => {}
        }
    }
}

fn set_limits(memory_mb: u64, cpu_s: u64) {
    // SAFETY: setrlimit only reads the struct we pass; failure leaves the
    // default limits, which the parent's timeout still backs up.
    unsafe {
        if memory_mb > 0 {
            let bytes = (memory_mb as libc::rlim_t) << 20;
            let lim = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            libc::setrlimit(libc::RLIMIT_AS, &lim);
        }
        if cpu_s > 0 {
            let lim = libc::rlimit {
                rlim_cur: cpu_s as libc::rlim_t,
                rlim_max: cpu_s as libc::rlim_t + 5,
            };
            libc::setrlimit(libc::RLIMIT_CPU, &lim);
        }
    }
}
