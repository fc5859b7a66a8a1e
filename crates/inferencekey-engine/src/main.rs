//! `inferencekey-engine --host H --port P --model M …`: the reference engine as its own
//! program, for benchmarks and for running it by hand. The Manager reaches the same code
//! through its `engine` subcommand.

fn main() {
    // Lossy, not `env::args()`, so a non-UTF-8 argument is a usage error rather than a panic.
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    std::process::exit(inferencekey_engine::run_cli(&args));
}
