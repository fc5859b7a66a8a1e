//! The `inferencekey-manager` binary: the Manager's CLI (`serve`, `init`, `key`, `worker`,
//! `status`, `engine`).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Engines are launched as `<this binary> engine …`.
    let self_command = std::env::current_exe()
        .map(|p| vec![p.to_string_lossy().into_owned()])
        .unwrap_or_default();
    std::process::exit(inferencekey_manager::cli_main(args, self_command));
}
