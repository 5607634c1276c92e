//! The `weft` binary: the host and its client commands.

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// A host allocates and frees many small buffers per workflow step from
/// every worker thread; glibc's allocator spent a tenth of the host's CPU on
/// that under load (bench/README.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = weft::cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("WEFT_LOG")
                .unwrap_or_else(|_| EnvFilter::new(cli.default_log())),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    if cli.is_client() {
        quiet_on_closed_pipe();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = match runtime.block_on(weft::cli::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    };
    // Do not wait for background tasks (instances parked in `wait`): every
    // committed step is already durable.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    std::process::exit(code);
}

/// `weft list | head` ends the client when `head` closes the pipe, quietly
/// (Rust ignores SIGPIPE, so each print would fail and panic instead). The
/// host itself keeps ignoring it; sockets never raise it here (they write
/// with MSG_NOSIGNAL).
fn quiet_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any other
    // thread runs; no handler is installed.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
