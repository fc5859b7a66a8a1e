//! Running a custom backend's replica (docs/contract.md §7): the tenant's published package is
//! unpacked into `<data dir>/backends/<sha>/pkg`, given its own virtual environment
//! (`<data dir>/backends/<sha>/venv`, made once per package; `requires_python` is checked
//! against the interpreter first, and `pip install -r requirements.txt` runs only when the
//! file lists something), and served by the SDK's runtime
//! (`python -m inferencekey.custom_backend serve`) with the package root on `PYTHONPATH`. The
//! replica is then an engine like any other, health-checked on `/healthz`.
//!
//! The SDK reaches the venv through a `.pth` file naming a directory that holds only a link to
//! the Manager's own `inferencekey` package: the runtime needs the SDK, and the package's
//! requirements stay the only other thing installed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use inferencekey_core::custom_backend::{python_satisfies, LOCAL_TENANT};
use tokio::process::Command;

use super::process::{Launch, LaunchPlan};
use super::{RuntimeSpec, Shared};
use crate::custom_backends;

/// The path the runtime answers health probes on.
const RUNTIME_HEALTH: &str = "/healthz";
/// Marks a complete venv: one without it (a crash mid-install) is made again.
const READY_MARKER: &str = ".inferencekey-ready";
/// How long `pip install` may take before the launch is given up.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// One venv is prepared at a time: two workloads of one package must not both build it.
static PREPARING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The interpreter custom backends run on: the Manager's own Python when it was started from
/// it (`python -m inferencekey serve`), else `python3` on `PATH`.
fn interpreter(self_command: &[String]) -> String {
    match self_command.first() {
        Some(p)
            if Path::new(p)
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("python")) =>
        {
            p.clone()
        }
        _ => "python3".into(),
    }
}

/// Runs `program args` and returns its trimmed stdout, or why it failed (with its stderr).
async fn output(program: &Path, args: &[&str], limit: Duration) -> Result<String, String> {
    output_in(program, args, limit, None).await
}

/// [`output`], run in `cwd` when given.
async fn output_in(
    program: &Path,
    args: &[&str],
    limit: Duration,
    cwd: Option<&Path>,
) -> Result<String, String> {
    let shown = format!("{} {}", program.display(), args.join(" "));
    let mut command = Command::new(program);
    if let Some(dir) = cwd {
        command.current_dir(dir);
    }
    let run = command
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(limit, run)
        .await
        .map_err(|_| format!("`{shown}` did not finish within {}s", limit.as_secs()))?
        .map_err(|e| format!("could not run `{shown}`: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(8).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!(
            "`{shown}` failed ({}): {}",
            out.status,
            inferencekey_core::token::scrub(&tail.join("\n"))
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn requirements_listed(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .any(|l| !l.is_empty() && !l.starts_with('#'))
}

/// Makes `<dir>/venv` for the package in `<dir>/pkg` unless it is already complete; returns
/// the venv's interpreter.
async fn prepare_venv(dir: &Path, python: &str, requirements: &str) -> Result<PathBuf, String> {
    let venv = dir.join("venv");
    let venv_python = venv.join("bin").join("python");
    if venv.join(READY_MARKER).is_file() {
        return Ok(venv_python);
    }
    let _ = tokio::fs::remove_dir_all(&venv).await;
    let python = Path::new(python);
    let sdk = output(
        python,
        &[
            "-c",
            "import inferencekey, os; print(os.path.dirname(os.path.abspath(inferencekey.__file__)))",
        ],
        Duration::from_secs(60),
    )
    .await
    .map_err(|e| format!("the Manager's Python cannot import the SDK ({e})"))?;
    let install = requirements_listed(requirements);
    let venv_s = venv.to_string_lossy().to_string();
    let mut args = vec!["-m", "venv"];
    if !install {
        // Nothing to install: no pip, which makes the venv in a fraction of the time.
        args.push("--without-pip");
    }
    args.push(&venv_s);
    output(python, &args, Duration::from_secs(300)).await?;
    let purelib = output(
        &venv_python,
        &[
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        Duration::from_secs(60),
    )
    .await?;
    let sdk_dir = dir.join("sdk");
    let _ = tokio::fs::remove_dir_all(&sdk_dir).await;
    tokio::fs::create_dir_all(&sdk_dir)
        .await
        .map_err(|e| format!("could not create {}: {e}", sdk_dir.display()))?;
    tokio::fs::symlink(&sdk, sdk_dir.join("inferencekey"))
        .await
        .map_err(|e| format!("could not link the SDK into {}: {e}", sdk_dir.display()))?;
    let pth = Path::new(&purelib).join("inferencekey-sdk.pth");
    tokio::fs::write(&pth, format!("{}\n", sdk_dir.display()))
        .await
        .map_err(|e| format!("could not write {}: {e}", pth.display()))?;
    if install {
        let reqs = dir.join("pkg").join("requirements.txt");
        let reqs = reqs.to_string_lossy().to_string();
        // From the package root, so a requirement may name a file the package ships
        // (`./vendor/dep-1.0-py3-none-any.whl`).
        output_in(
            &venv_python,
            &[
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "-r",
                &reqs,
            ],
            INSTALL_TIMEOUT,
            Some(&dir.join("pkg")),
        )
        .await
        .map_err(|e| format!("installing the package's requirements failed: {e}"))?;
    }
    tokio::fs::write(venv.join(READY_MARKER), b"")
        .await
        .map_err(|e| format!("could not mark the venv complete: {e}"))?;
    Ok(venv_python)
}

/// What a custom-backend workload's replicas run. An `Err` becomes the workload's `error`.
pub async fn plan(slug: &str, spec: &RuntimeSpec, shared: &Shared) -> Result<LaunchPlan, String> {
    let record = shared
        .store
        .custom_backend(LOCAL_TENANT, slug)
        .await
        .map_err(|e| format!("could not read the custom backend {slug:?}: {e}"))?
        .ok_or_else(|| {
            format!(
                "no custom backend {slug:?} is published; publish it with `inferencekey backend \
                 publish FILE`, then update the workload"
            )
        })?;
    if record.task_type != spec.task_type.as_str() {
        return Err(format!(
            "the custom backend {slug:?} serves task_type {:?}, not {:?}; update the workload's \
             task_type",
            record.task_type,
            spec.task_type.as_str()
        ));
    }
    let data_dir = shared.settings.data_dir.clone();
    let sha = record.sha256.clone();
    let pkg = tokio::task::spawn_blocking(move || custom_backends::unpack(&data_dir, &sha))
        .await
        .map_err(|e| format!("unpacking the package failed: {e}"))??;
    let manifest = &record.manifest;
    let field = |k: &str| manifest.get(k).and_then(|v| v.as_str()).unwrap_or_default();
    let python = interpreter(&shared.settings.self_command);
    let version = output(
        Path::new(&python),
        &["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
        Duration::from_secs(60),
    )
    .await?;
    let have: Vec<u64> = version.split('.').filter_map(|p| p.parse().ok()).collect();
    let requires = field("requires_python");
    if !python_satisfies(requires, &have)? {
        return Err(format!(
            "the custom backend {slug:?} needs Python {requires}, and this Manager runs Python \
             {version} ({python}); publish a version whose requires_python allows {version}, or \
             run the Manager on a Python that satisfies it"
        ));
    }
    let requirements = tokio::fs::read_to_string(pkg.join("requirements.txt"))
        .await
        .map_err(|e| format!("could not read the package's requirements.txt: {e}"))?;
    let dir = custom_backends::unpacked_dir(&shared.settings.data_dir, &record.sha256);
    let venv_python = {
        let _guard = PREPARING.lock().await;
        prepare_venv(&dir, &python, &requirements).await?
    };
    let argv = vec![
        venv_python.to_string_lossy().to_string(),
        "-m".into(),
        "inferencekey.custom_backend".into(),
        "serve".into(),
        "--entrypoint".into(),
        field("entrypoint").to_string(),
        "--manifest".into(),
        pkg.join("manifest.json").to_string_lossy().to_string(),
        "--host".into(),
        "{host}".into(),
        "--port".into(),
        "{port}".into(),
    ];
    Ok(LaunchPlan {
        launch: Launch::Process {
            argv,
            env: vec![("PYTHONPATH".into(), pkg.to_string_lossy().to_string())],
            health: RUNTIME_HEALTH,
        },
        note: Some(format!(
            "running the custom backend {slug} {} ({})",
            record.version,
            &record.sha256[..12.min(record.sha256.len())]
        )),
    })
}
