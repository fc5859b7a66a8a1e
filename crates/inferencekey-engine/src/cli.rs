//! The `engine` command line: parse flags, bind, serve until SIGTERM or SIGINT.

use std::time::Duration;

use clap::builder::NonEmptyStringValueParser;
use clap::Parser;
use tokio::net::TcpListener;

use crate::{serve, EngineConfig};

/// How long open requests (long streams) may finish after a stop signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Exit code for a usage error, as clap and most Unix tools use.
const USAGE_ERROR: i32 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "engine",
    about = "The InferenceKey reference engine: an OpenAI-compatible server that runs no model",
    disable_version_flag = true,
    // So `--port -1` is reported as a bad port, not as an unknown flag `-1`.
    allow_negative_numbers = true
)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0 picks a free one; the startup line says which).
    #[arg(long)]
    port: u16,
    /// Model name to report in answers.
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    model: String,
    /// The workload's task type, e.g. text2text or embedding.
    #[arg(long, default_value = "text2text", value_parser = NonEmptyStringValueParser::new())]
    task_type: String,
    /// Embedding length when a request does not ask for `dimensions`.
    #[arg(long, default_value_t = 384, value_parser = clap::value_parser!(u64).range(1..=16384))]
    embedding_dim: u64,
    /// Answer 503 on /health for this many milliseconds, like a model loading.
    #[arg(long, default_value_t = 0)]
    startup_delay_ms: u64,
}

/// `engine --host H --port P --model M [--task-type T] [--embedding-dim N]
/// [--startup-delay-ms MS]`; `args` exclude the program name and the word `engine`.
///
/// Blocks until SIGTERM or SIGINT and returns the process exit code: 0 after a clean stop,
/// 1 when the address cannot be bound, 2 for a usage error (printed to stderr, naming the
/// flag). Runs its own single-threaded Tokio runtime; called from inside a runtime it refuses
/// with exit code 1 instead of panicking.
pub fn run_cli(args: &[String]) -> i32 {
    let argv = std::iter::once("engine").chain(args.iter().map(String::as_str));
    let args = match Args::try_parse_from(argv) {
        Ok(a) => a,
        Err(e) => {
            // `--help` is not an error: clap prints it to stdout.
            let _ = e.print();
            return if e.use_stderr() { USAGE_ERROR } else { 0 };
        }
    };
    if tokio::runtime::Handle::try_current().is_ok() {
        eprintln!(
            "reference engine: run_cli starts its own runtime and cannot run inside another; \
             call serve() from async code instead"
        );
        return 1;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("reference engine: cannot start the async runtime: {e}");
            return 1;
        }
    };
    runtime.block_on(run(args))
}

async fn run(args: Args) -> i32 {
    let listener = match TcpListener::bind((args.host.as_str(), args.port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "reference engine: cannot listen on {}:{}: {e}",
                args.host, args.port
            );
            return 1;
        }
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("reference engine: cannot read the bound address: {e}");
            return 1;
        }
    };
    let stop = match stop_signal() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("reference engine: cannot install signal handlers: {e}");
            return 1;
        }
    };
    let cfg = EngineConfig {
        model: args.model,
        task_type: args.task_type,
        embedding_dim: args.embedding_dim as usize,
        startup_delay: Duration::from_millis(args.startup_delay_ms),
    };
    eprintln!(
        "reference engine (no model loaded) serving {} [{}] on http://{addr}",
        cfg.model, cfg.task_type
    );
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = serve(listener, cfg, async move {
        let _ = rx.await;
    });
    let mut server = std::pin::pin!(server);
    tokio::select! {
        done = &mut server => return exit_code(done),
        () = stop => {}
    }
    let _ = tx.send(());
    match tokio::time::timeout(SHUTDOWN_GRACE, server).await {
        Ok(done) => exit_code(done),
        // Streams still open after the grace period are cut; stopping was still asked for.
        Err(_) => 0,
    }
}

fn exit_code(done: std::io::Result<()>) -> i32 {
    match done {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("reference engine: server failed: {e}");
            1
        }
    }
}

/// Resolves on the first SIGTERM or SIGINT. Handlers are installed before the startup line is
/// printed, so a supervisor that signals right after seeing it is never missed.
#[cfg(unix)]
fn stop_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

#[cfg(not(unix))]
fn stop_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn usage_errors_return_2() {
        for bad in [
            "--host 127.0.0.1",
            "--port 1 --model",
            "--port x --model m",
            "--port 1 --model m --embedding-dim 0",
            "--port 1 --model m --bogus 3",
            "--port 1 --model m extra",
        ] {
            assert_eq!(run_cli(&args(bad)), USAGE_ERROR, "{bad}");
        }
    }

    #[test]
    fn help_is_not_an_error() {
        assert_eq!(run_cli(&args("--help")), 0);
    }

    #[test]
    fn parses_every_flag() {
        let a = Args::try_parse_from(args(
            "engine --host ::1 --port 9 --model m --task-type embedding --embedding-dim 8 --startup-delay-ms 5",
        ))
        .unwrap();
        assert_eq!((a.host.as_str(), a.port, a.model.as_str()), ("::1", 9, "m"));
        assert_eq!(
            (a.task_type.as_str(), a.embedding_dim, a.startup_delay_ms),
            ("embedding", 8, 5)
        );
    }
}
