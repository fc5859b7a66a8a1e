//! The `llamacpp` backend without a `llama-server` binary: the Python package ships a
//! launcher (`inferencekey.llamacpp`, extra `inferencekey[llamacpp]`) that runs llama.cpp's own
//! server from the `xllamacpp` wheel and takes `llama-server`'s flags, so the command the spec
//! gives runs unchanged with only its program swapped.

use super::process::find_program;

/// The console script the extra installs.
pub const LAUNCHER_SCRIPT: &str = "inferencekey-llama-server";

/// `python -c` code that runs the file named by its first argument as `__main__`, with
/// `sys.argv` as if it had been run as `python FILE …` but without putting the file's
/// directory (the package's) first on `sys.path`.
pub const RUN_FILE: &str = "import sys\n\
p=sys.argv[1];del sys.argv[0]\n\
exec(compile(open(p,'rb').read(),p,'exec'),{'__name__':'__main__','__file__':p})";

/// `argv` with `llama-server` replaced by the packaged launcher, when `llama-server` is not
/// installed and a launcher is. `self_command` is how this Manager re-runs itself; when that
/// is `python -m inferencekey` the launcher runs from the same installation.
pub fn fallback(argv: &[String], self_command: &[String]) -> Option<(Vec<String>, String)> {
    let program = std::path::Path::new(argv.first()?).file_name()?.to_str()?;
    if program != "llama-server" || find_program(&argv[0]).is_some() {
        return None;
    }
    let launcher: Vec<String> = match self_command {
        [python, m, package] if m == "-m" && package == "inferencekey" => {
            match super::procgroup::python_package_dir()
                .map(|dir| dir.join("llamacpp.py"))
                .filter(|file| file.is_file())
            {
                // The launcher needs only the standard library and xllamacpp: run from its
                // file, it skips the package import (tens of ms of every cold start).
                Some(file) => vec![
                    python.clone(),
                    "-c".into(),
                    RUN_FILE.into(),
                    file.to_string_lossy().into_owned(),
                ],
                None => vec![python.clone(), "-m".into(), "inferencekey.llamacpp".into()],
            }
        }
        _ => vec![find_program(LAUNCHER_SCRIPT)?
            .to_string_lossy()
            .into_owned()],
    };
    let mut out = launcher;
    out.extend(argv[1..].iter().cloned());
    let note = "llama-server is not on PATH: running llama.cpp's server from the xllamacpp wheel \
                (inferencekey[llamacpp]) with the same flags"
        .to_string();
    Some((out, note))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn swaps_only_a_missing_llama_server() {
        let py = v(&["/venv/bin/python", "-m", "inferencekey"]);
        let (argv, note) = fallback(&v(&["llama-server", "-m", "x.gguf", "-c", "512"]), &py)
            .expect("llama-server is not installed here");
        assert_eq!(
            argv,
            v(&[
                "/venv/bin/python",
                "-m",
                "inferencekey.llamacpp",
                "-m",
                "x.gguf",
                "-c",
                "512"
            ])
        );
        assert!(note.contains("xllamacpp"), "{note}");
        assert!(fallback(&v(&["vllm", "serve", "m"]), &py).is_none());
        // A binary path that exists is run as given.
        assert!(fallback(&v(&["/bin/sh"]), &py).is_none());
    }
}
