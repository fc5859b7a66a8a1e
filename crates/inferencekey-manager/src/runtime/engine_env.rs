//! The environment an engine gets: an explicit list, never the Manager's whole environment.
//!
//! The Manager's environment holds secrets a tenant's engine must not read (the operator's
//! `INFERENCEKEY_SDK_TOKEN`, `INFERENCEKEY_API_KEY`, `HF_TOKEN`, `OPENAI_API_KEY`, cloud
//! credentials). An engine gets:
//!
//! * the names in [`PASS`] and the prefixes in [`PASS_PREFIXES`] (locale, paths, GPU runtime
//!   and engine tuning variables), unless the name looks like a secret ([`SECRET_WORDS`]);
//! * every name the operator passes with `inferencekey serve --engine-env NAME` (e.g.
//!   `--engine-env HF_TOKEN` for gated models), secret-looking or not: that is their call;
//! * `HOST`, `PORT` and the Manager's tag (set by the launcher).

use std::ffi::OsString;

/// Variables passed through by name.
pub const PASS: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TMPDIR",
    "TERM",
    "NO_COLOR",
    "LD_LIBRARY_PATH",
    "PYTHONPATH",
    "PYTHONHOME",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "XDG_CACHE_HOME",
    "HF_HOME",
    "HF_HUB_CACHE",
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_CACHE",
    "TRANSFORMERS_OFFLINE",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
];

/// Variables passed through by prefix: locale, GPU runtimes, engine tuning.
pub const PASS_PREFIXES: &[&str] = &[
    "LC_", "CUDA_", "NVIDIA_", "ROCR_", "HIP_", "HSA_", "VLLM_", "SGLANG_", "LLAMA_", "GGML_",
];

/// A name holding one of these words is never passed by the lists above.
pub const SECRET_WORDS: &[&str] = &[
    "TOKEN",
    "KEY",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "CREDENTIAL",
    "AUTH",
];

fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_WORDS.iter().any(|w| upper.contains(w))
}

/// Whether `name` is passed to engines without the operator asking for it.
pub fn passes_by_default(name: &str) -> bool {
    !looks_secret(name)
        && (PASS.contains(&name) || PASS_PREFIXES.iter().any(|p| name.starts_with(p)))
}

/// The engine environment drawn from `vars` (the Manager's), plus `extra` names the operator
/// allowed explicitly.
pub fn engine_env(
    vars: impl IntoIterator<Item = (OsString, OsString)>,
    extra: &[String],
) -> Vec<(OsString, OsString)> {
    vars.into_iter()
        .filter(|(k, _)| {
            k.to_str()
                .is_some_and(|k| passes_by_default(k) || extra.iter().any(|e| e == k))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(vars: &[(&str, &str)], extra: &[&str]) -> Vec<String> {
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        engine_env(
            vars.iter()
                .map(|(k, v)| (OsString::from(k), OsString::from(v))),
            &extra,
        )
        .into_iter()
        .map(|(k, _)| k.into_string().unwrap())
        .collect()
    }

    #[test]
    fn secrets_stay_out_unless_named() {
        let vars = [
            ("PATH", "/usr/bin"),
            ("HOME", "/root"),
            ("LC_ALL", "C"),
            ("CUDA_VISIBLE_DEVICES", "0"),
            ("VLLM_LOGGING_LEVEL", "INFO"),
            ("VLLM_API_KEY", "x"),
            ("INFERENCEKEY_SDK_TOKEN", "ik_sdk_x_y"),
            ("INFERENCEKEY_API_KEY", "ik_live_x_y"),
            ("HF_TOKEN", "hf_x"),
            ("OPENAI_API_KEY", "sk-x"),
            ("AWS_SECRET_ACCESS_KEY", "x"),
            ("RANDOM_THING", "x"),
        ];
        assert_eq!(
            names(&vars, &[]),
            [
                "PATH",
                "HOME",
                "LC_ALL",
                "CUDA_VISIBLE_DEVICES",
                "VLLM_LOGGING_LEVEL"
            ]
        );
        assert!(names(&vars, &["HF_TOKEN"]).contains(&"HF_TOKEN".to_string()));
    }
}
