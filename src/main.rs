//! The `zhenxing` binary: parse arguments, call the library, map the
//! outcome to an exit code (0 clean, 1 rows or files rejected, 2 usage or
//! configuration error, 3 failed).

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // `zhenxing status | head` ends quietly, like other Unix tools
    // SAFETY: restoring the default disposition of one signal at start-up.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let code = zhenxing::cmd::cli::main();
    std::process::exit(code);
}
