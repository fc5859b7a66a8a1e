//! Engine processes on the local worker: which command a workload runs (allowlist, defaults,
//! the `--dev` fallback to the reference engine), launching it without a shell, and stopping
//! it so nothing outlives the Manager.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use inferencekey_core::enums::Backend;
use inferencekey_core::error::FieldError;
use inferencekey_core::token::scrub;
use tokio::process::{Child, Command};

use super::RuntimeSpec;

/// Environment variable set on every engine; its value (the data dir) lets a restarted
/// Manager recognise leftover engines that are its own before killing them.
const ENGINE_TAG_VAR: &str = "INFERENCEKEY_MANAGER_ENGINE";

/// The field path the allowlist reports, as the SDK names it on the wire.
const COMMAND_FIELD: &str = "config.command";

/// The path the engines (and the reference engine) answer health probes on.
pub const ENGINE_HEALTH: &str = "/health";

/// Launch settings fixed for the Manager's lifetime.
#[derive(Debug, Clone)]
pub struct LaunchSettings {
    pub dev: bool,
    pub allow_any_command: bool,
    pub self_command: Vec<String>,
    pub data_dir: PathBuf,
    /// Environment variables engines get beyond the default list (`--engine-env`).
    pub engine_env: Vec<String>,
    /// Whether engine commands may carry `--trust-remote-code` (`--allow-trust-remote-code`).
    pub allow_trust_remote_code: bool,
}

impl LaunchSettings {
    pub fn logs_dir(&self) -> PathBuf {
        self.data_dir.join("logs")
    }

    pub fn run_dir(&self) -> PathBuf {
        self.data_dir.join("run")
    }
}

/// What a replica runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Launch {
    /// A child process; `argv` may hold `{host}` / `{port}` placeholders. `env` is added to
    /// the engine's environment, and `health` is the path its health probe asks (`/health`
    /// for the engines, `/healthz` for a custom backend's runtime).
    Process {
        argv: Vec<String>,
        env: Vec<(String, String)>,
        health: &'static str,
    },
    /// A model served by an Ollama daemon that is already running.
    Ollama { base_url: String, model: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct LaunchPlan {
    pub launch: Launch,
    /// Said in every readiness message: a dev fallback, a private worker, a default command.
    pub note: Option<String>,
}

/// The engine programs a backend may launch (by file name).
fn programs(backend: &Backend) -> &'static [&'static str] {
    match backend {
        Backend::Vllm => &["vllm"],
        Backend::VllmOmni => &["vllm-omni", "vllm"],
        Backend::Sglang => &["sglang"],
        Backend::Llamacpp => &["llama-server"],
        // Only the server: `sd` is also Debian's find-and-replace tool.
        Backend::Stablediffusioncpp => &["sd-server"],
        Backend::Ollama | Backend::Custom(_) => &[],
    }
}

/// An engine a backend may launch as `python -m <module>`, and the package that must be
/// importable for it to run.
struct PythonEngine {
    module: &'static str,
    package: &'static str,
}

/// The `python -m` engines of a backend.
fn python_engines(backend: &Backend) -> &'static [PythonEngine] {
    match backend {
        Backend::Vllm | Backend::VllmOmni => &[PythonEngine {
            module: "vllm.entrypoints.openai.api_server",
            package: "vllm",
        }],
        Backend::Sglang => &[PythonEngine {
            module: "sglang.launch_server",
            package: "sglang",
        }],
        // The Manager's own launcher of llama.cpp's server from the xllamacpp wheel, which
        // runtime::llamacpp puts in place of a missing `llama-server`.
        Backend::Llamacpp => &[PythonEngine {
            module: "inferencekey.llamacpp",
            package: "xllamacpp",
        }],
        Backend::Stablediffusioncpp | Backend::Ollama | Backend::Custom(_) => &[],
    }
}

/// The engines a backend may launch, as messages name them.
fn allowed_programs(backend: &Backend) -> Vec<String> {
    let mut out: Vec<String> = programs(backend).iter().map(|p| p.to_string()).collect();
    out.extend(
        python_engines(backend)
            .iter()
            .map(|e| format!("python -m {}", e.module)),
    );
    out
}

fn program_name(argv0: &str) -> &str {
    Path::new(argv0)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(argv0)
}

fn is_python(name: &str) -> bool {
    name == "python"
        || name
            .strip_prefix("python3")
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// The module of a `python -m <module> …` command.
fn python_module(argv: &[String]) -> Option<&str> {
    let python = argv.first().is_some_and(|a| is_python(program_name(a)));
    if python && argv.get(1).map(String::as_str) == Some("-m") {
        argv.get(2).map(String::as_str)
    } else {
        None
    }
}

/// The package a `python -m <module>` command needs: the known engine's (the Manager's
/// llama.cpp launcher needs `xllamacpp`), else the module's top-level package.
fn package_for(module: &str) -> &str {
    Backend::KNOWN
        .iter()
        .flat_map(python_engines)
        .find(|e| e.module == module)
        .map_or_else(|| module.split('.').next().unwrap_or(module), |e| e.package)
}

fn runs_engine_of(backend: &Backend, argv: &[String]) -> bool {
    programs(backend).contains(&program_name(&argv[0]))
        || python_module(argv)
            .is_some_and(|m| python_engines(backend).iter().any(|e| e.module == m))
}

/// The backend a command's engine belongs to (`vllm serve m` → vllm, `python -m
/// sglang.launch_server` → sglang); `None` when it names no known engine. `vllm`, which the
/// vllm-omni backend also runs, is vllm.
pub fn backend_of_command(command: &str) -> Option<Backend> {
    let argv = shell_words::split(command).ok()?;
    if argv.is_empty() {
        return None;
    }
    Backend::KNOWN
        .iter()
        .find(|b| runs_engine_of(b, &argv))
        .cloned()
}

/// What the operator allows engine commands to do.
#[derive(Debug, Clone, Copy, Default)]
pub struct CommandPolicy {
    /// `--allow-any-command`: any program, any arguments.
    pub allow_any: bool,
    /// `--allow-trust-remote-code`: engines may run code shipped with a model repo.
    pub allow_trust_remote_code: bool,
}

impl CommandPolicy {
    pub fn of(settings: &LaunchSettings) -> Self {
        CommandPolicy {
            allow_any: settings.allow_any_command,
            allow_trust_remote_code: settings.allow_trust_remote_code,
        }
    }
}

/// Arguments an allowed engine may not take from a tenant: the listen address is the
/// Manager's (it appends `--host 127.0.0.1 --port P`; a placeholder or a tenant's own
/// `--host` would let the engine listen elsewhere), and `--trust-remote-code` runs code
/// from the model repository unless the operator allowed it.
fn check_arguments(argv: &[String], policy: CommandPolicy) -> Result<(), FieldError> {
    for arg in &argv[1..] {
        let flag = arg.split_once('=').map_or(arg.as_str(), |(f, _)| f);
        let why = if arg.contains("{host}") || arg.contains("{port}") {
            Some(
                "`{host}`/`{port}` placeholders are only for commands the Manager runs with \
                 --allow-any-command; the Manager appends --host and --port itself"
                    .to_string(),
            )
        } else if matches!(flag, "--host" | "--port" | "--bind" | "--listen") {
            Some(format!(
                "`{flag}` is set by the Manager (engines listen on 127.0.0.1 at a port it \
                 picks); remove it"
            ))
        } else if flag == "--trust-remote-code" && !policy.allow_trust_remote_code {
            Some(
                "`--trust-remote-code` runs Python code from the model repository; it is \
                 refused unless the Manager runs with --allow-trust-remote-code"
                    .to_string(),
            )
        } else {
            None
        };
        if let Some(why) = why {
            return Err(FieldError::new(COMMAND_FIELD, why));
        }
    }
    Ok(())
}

/// Resolves the program the way `execvp` would, then through every symlink, and checks the
/// *real* file against the backend's allowlist: a symlink named `vllm` pointing at a shell
/// is a shell. Returns argv with the PATH-resolved program (an absolute path to the file that
/// was checked): it is run through its own path rather than the symlink's target, because a
/// virtualenv's `python` is a symlink that only finds its environment when run as itself.
pub fn resolve_checked(
    backend: Option<&Backend>,
    argv: &[String],
    policy: CommandPolicy,
) -> Result<Vec<String>, String> {
    let Some(found) = find_program(&argv[0]) else {
        return Err(format!(
            "{} is not installed on this machine (`{}` is not on PATH)",
            program_name(&argv[0]),
            scrub(&argv[0])
        ));
    };
    let real = std::fs::canonicalize(&found).unwrap_or_else(|_| found.clone());
    let mut out = argv.to_vec();
    out[0] = found.to_string_lossy().into_owned();
    if policy.allow_any {
        return Ok(out);
    }
    let mut checked = argv.to_vec();
    checked[0] = real.to_string_lossy().into_owned();
    let ok = match backend {
        Some(b) => runs_engine_of(b, &checked),
        None => Backend::KNOWN.iter().any(|b| runs_engine_of(b, &checked)),
    };
    if ok {
        Ok(out)
    } else {
        Err(format!(
            "config.command: `{}` resolves to {}, which is not an allowed engine; install the \
             engine itself, or start the Manager with --allow-any-command to run any command",
            scrub(&argv[0]),
            real.display()
        ))
    }
}

/// Splits an engine command (never through a shell) and checks it against the backend's
/// allowlist unless `allow_any`. `backend` absent accepts any known engine.
pub fn check_command(
    backend: Option<&Backend>,
    command: &str,
    policy: CommandPolicy,
) -> Result<Vec<String>, FieldError> {
    let allow_any = policy.allow_any;
    let argv = shell_words::split(command).map_err(|e| {
        FieldError::new(
            COMMAND_FIELD,
            format!("could not be split into arguments ({e}); check the quoting"),
        )
    })?;
    if argv.is_empty() {
        return Err(FieldError::new(
            COMMAND_FIELD,
            "is empty; give the engine's launch command, e.g. \"vllm serve <model>\"",
        ));
    }
    if backend == Some(&Backend::Ollama) {
        return Err(FieldError::new(
            COMMAND_FIELD,
            "the ollama backend takes no command: the Manager serves ollama workloads from the \
             local Ollama daemon; remove config.command",
        ));
    }
    if allow_any {
        return Ok(argv);
    }
    let ok = match backend {
        Some(b) => runs_engine_of(b, &argv),
        None => Backend::KNOWN.iter().any(|b| runs_engine_of(b, &argv)),
    };
    if ok {
        check_arguments(&argv, policy)?;
        return Ok(argv);
    }
    let expected = match backend {
        Some(Backend::Custom(name)) => format!(
            "the custom backend {name:?} has no known engine, so its command only runs when the \
             Manager allows any command"
        ),
        Some(b) => format!(
            "the {b} backend runs {}",
            allowed_programs(b)
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(" or ")
        ),
        None => "without a backend the command must start a known engine (vllm, vllm-omni, \
                 sglang, llama-server, sd-server)"
            .to_string(),
    };
    Err(FieldError::new(
        COMMAND_FIELD,
        format!(
            "`{}` is not an allowed engine: {expected}; set the matching backend, or start the \
             Manager with --allow-any-command to run any command",
            scrub(program_name(&argv[0]))
        ),
    ))
}

/// Looks a program up the way `execvp` would. Hand-written because it is a dozen lines and a
/// crate for it would add more than it saves.
pub fn find_program(program: &str) -> Option<PathBuf> {
    let is_exec = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return is_exec(&p).then_some(p);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| is_exec(p))
    })
}

/// The command a backend runs when the spec gives none (outside `--dev`).
fn default_command(backend: Option<&Backend>, model: &str) -> Option<Vec<String>> {
    // A model name is never a flag (validation refuses it too).
    if model.starts_with('-') {
        return None;
    }
    let m = model.to_string();
    Some(match backend? {
        Backend::Vllm => vec!["vllm".into(), "serve".into(), m],
        Backend::VllmOmni => vec!["vllm-omni".into(), "serve".into(), m],
        Backend::Sglang => vec![
            "python3".into(),
            "-m".into(),
            "sglang.launch_server".into(),
            "--model-path".into(),
            m,
        ],
        Backend::Llamacpp if model.ends_with(".gguf") => {
            vec!["llama-server".into(), "-m".into(), m]
        }
        Backend::Llamacpp => vec!["llama-server".into(), "-hf".into(), m],
        _ => return None,
    })
}

/// The Ollama daemon's base URL from `$OLLAMA_HOST` (`host`, `host:port` or a URL), else the
/// default `127.0.0.1:11434`.
pub fn ollama_base_url() -> String {
    let raw = std::env::var("OLLAMA_HOST").unwrap_or_default();
    let raw = raw.trim().trim_end_matches('/');
    if raw.is_empty() {
        return "http://127.0.0.1:11434".into();
    }
    let (scheme, rest) = match raw.split_once("://") {
        Some((s, r)) => (s, r),
        None => ("http", raw),
    };
    // A daemon listening on every interface is reached through loopback.
    let rest = rest.replace("0.0.0.0", "127.0.0.1");
    if rest
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        format!("{scheme}://{rest}")
    } else {
        format!("{scheme}://{rest}:11434")
    }
}

fn reference_engine(
    settings: &LaunchSettings,
    spec: &RuntimeSpec,
    why: String,
) -> Result<LaunchPlan, String> {
    if settings.self_command.is_empty() {
        return Err(format!(
            "{why}, but this Manager does not know how to run itself, so it cannot start the \
             reference engine"
        ));
    }
    let mut argv = settings.self_command.clone();
    argv.extend(
        [
            "engine",
            "--host",
            "{host}",
            "--port",
            "{port}",
            "--model",
            &spec.model,
            "--task-type",
            spec.task_type.as_str(),
        ]
        .map(String::from),
    );
    Ok(LaunchPlan {
        launch: Launch::Process {
            argv,
            env: Vec::new(),
            health: ENGINE_HEALTH,
        },
        note: Some(format!(
            "{why}; serving with the reference engine (no model loaded) because --dev is set"
        )),
    })
}

/// Decides what the replicas of `spec` run. An `Err` is a problem only a spec change or a
/// Manager restart with other flags can fix; it becomes the workload's `error` phase.
pub async fn plan(
    spec: &RuntimeSpec,
    settings: &LaunchSettings,
    http: &reqwest::Client,
) -> Result<LaunchPlan, String> {
    if spec.backend == Some(Backend::Ollama) {
        let base_url = ollama_base_url();
        let up = http
            .get(format!("{base_url}/api/version"))
            .timeout(Duration::from_secs(1))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if up {
            return Ok(LaunchPlan {
                launch: Launch::Ollama {
                    base_url,
                    model: spec.model.clone(),
                },
                note: None,
            });
        }
        let why = format!("no Ollama daemon answers at {base_url}");
        if settings.dev {
            return reference_engine(settings, spec, why);
        }
        return Err(format!(
            "{why}; start one with `ollama serve` (or set OLLAMA_HOST), or start the Manager \
             with --dev to serve with the reference engine"
        ));
    }

    let (argv, defaulted) = match &spec.command {
        Some(command) => {
            let argv = check_command(spec.backend.as_ref(), command, CommandPolicy::of(settings))
                .map_err(|e| format!("{}: {}", e.field, e.message))?;
            (argv, false)
        }
        None if settings.dev => {
            return reference_engine(settings, spec, "no engine command was given".into())
        }
        None => match default_command(spec.backend.as_ref(), &spec.model) {
            Some(argv) => (argv, true),
            None => {
                return Err(match &spec.backend {
                    Some(b) => format!(
                        "the {b} backend has no default launch command; set config.command, or \
                         start the Manager with --dev to serve with the reference engine"
                    ),
                    None => "no backend and no config.command: nothing to run; set both, or \
                             start the Manager with --dev to serve with the reference engine"
                        .into(),
                })
            }
        },
    };

    let mut policy = CommandPolicy::of(settings);
    let (argv, swapped) = match super::llamacpp::fallback(&argv, &settings.self_command) {
        Some((launcher, note)) => {
            // The Manager's own launcher stands in for `llama-server`: the command is checked
            // as the spec gave it, and the launcher (a `python -c` that names no engine) is
            // then run as resolved.
            let allowed = match spec.backend.as_ref() {
                Some(b) => runs_engine_of(b, &argv),
                None => Backend::KNOWN.iter().any(|b| runs_engine_of(b, &argv)),
            };
            policy.allow_any |= allowed;
            (launcher, Some(note))
        }
        None => (argv, None),
    };
    if let Some(missing) = missing_engine(&argv, settings).await {
        if settings.dev {
            return reference_engine(settings, spec, missing.why);
        }
        return Err(format!(
            "{} ({}); install it, or start the Manager with --dev to serve with the reference \
             engine",
            missing.why, missing.detail
        ));
    }
    let argv = resolve_checked(spec.backend.as_ref(), &argv, policy)?;
    let note = defaulted.then(|| format!("running the default command `{}`", argv.join(" ")));
    let note = match (note, swapped) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    };
    Ok(LaunchPlan {
        launch: Launch::Process {
            argv,
            env: Vec::new(),
            health: ENGINE_HEALTH,
        },
        note,
    })
}

/// Why a command's engine cannot run here: `why` for the readiness message, `detail` for
/// the operator.
struct Missing {
    why: String,
    detail: String,
}

/// What `python -c` runs to tell whether a package is importable: exit 0 yes, 1 no. The
/// package is found, not imported, so probing an engine costs no model-server start-up.
const IMPORT_PROBE: &str =
    "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec(sys.argv[1]) else 1)";
/// A probe that takes longer than this is treated as inconclusive.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// The engine `argv` would run, when it is not installed: its program is not on PATH, or it
/// is `python -m <module>` and the interpreter cannot import the module's package (the
/// interpreter itself is always there, so looking at the program alone would crash-loop).
async fn missing_engine(argv: &[String], settings: &LaunchSettings) -> Option<Missing> {
    let program = program_name(&argv[0]);
    let Some(found) = find_program(&argv[0]) else {
        return Some(Missing {
            why: format!("{program} is not installed on this machine"),
            detail: format!("`{}` is not on PATH", scrub(&argv[0])),
        });
    };
    let module = python_module(argv)?;
    let package = package_for(module);
    match python_can_import(&found, package, settings).await {
        Some(false) => Some(Missing {
            why: format!(
                "{package} is not installed on this machine (`{program} -m {}` needs it)",
                scrub(module)
            ),
            detail: format!(
                "{} cannot import the Python package {package}",
                found.display()
            ),
        }),
        _ => None,
    }
}

/// Whether `python` imports `package` in the environment an engine gets; `None` when it
/// could not be asked (the command then runs as given and reports its own failure).
pub async fn python_can_import(
    python: &Path,
    package: &str,
    settings: &LaunchSettings,
) -> Option<bool> {
    let mut cmd = Command::new(python);
    cmd.args(["-c", IMPORT_PROBE, package])
        .env_clear()
        .envs(super::engine_env::engine_env(
            std::env::vars_os(),
            &settings.engine_env,
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let status = tokio::time::timeout(PROBE_TIMEOUT, cmd.status())
        .await
        .ok()?
        .ok()?;
    match status.code() {
        Some(0) => Some(true),
        Some(1) => Some(false),
        _ => None,
    }
}

/// Substitutes `{host}` / `{port}`, or appends `--host H --port P` when the command has
/// neither placeholder.
pub fn final_argv(argv: &[String], host: &str, port: u16) -> Vec<String> {
    let has_placeholder = argv
        .iter()
        .any(|a| a.contains("{port}") || a.contains("{host}"));
    let port_s = port.to_string();
    let mut out: Vec<String> = argv
        .iter()
        .map(|a| a.replace("{host}", host).replace("{port}", &port_s))
        .collect();
    if !has_placeholder {
        out.extend(["--host".into(), host.into(), "--port".into(), port_s]);
    }
    out
}

/// A free loopback port. Another process could take it before the engine binds; the engine
/// then fails to start and the replica is retried on a new port.
pub fn free_port() -> io::Result<u16> {
    free_port_on("127.0.0.1")
}

/// A free port on `host` (a worker agent's engines bind its own address), with the same
/// race as [`free_port`].
pub fn free_port_on(host: &str) -> io::Result<u16> {
    Ok(std::net::TcpListener::bind((host, 0))?.local_addr()?.port())
}

/// A running engine (under its keeper, see [`super::procgroup`]) and the pid file that lets
/// a restarted Manager clean it up.
pub struct EngineProcess {
    child: Child,
    /// The keeper's pid (or the engine's, when no keeper could be used); its process group.
    pid: i32,
    pid_file: PathBuf,
}

/// How long a keeper lets its tree exit after SIGTERM before it SIGKILLs it.
const KEEPER_GRACE: Duration = Duration::from_secs(5);

/// Launches an engine under a keeper with its output appended to `log_path` and an explicit
/// environment (see [`super::engine_env`]). A `spare` keeper, when given and still alive, is
/// handed the engine instead of booting a new one.
#[allow(clippy::too_many_arguments)]
pub fn spawn(
    argv: &[String],
    extra_env: &[(String, String)],
    host: &str,
    port: u16,
    log_path: &Path,
    pid_file: &Path,
    settings: &LaunchSettings,
    spare: Option<SpareKeeper>,
) -> io::Result<EngineProcess> {
    if let Some(dir) = log_path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let log = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(log_path)?
    };
    {
        use std::io::Write;
        // Best effort: a full disk must not stop an engine from starting.
        let _ = writeln!(
            &log,
            "--- {} starting: {}",
            crate::util::now_rfc3339(),
            scrub(&argv.join(" "))
        );
    }
    let mut env = super::engine_env::engine_env(std::env::vars_os(), &settings.engine_env);
    env.extend(extra_env.iter().map(|(k, v)| (k.into(), v.into())));
    env.push(("HOST".into(), host.into()));
    env.push(("PORT".into(), port.to_string().into()));
    env.push((ENGINE_TAG_VAR.into(), settings.data_dir.clone().into()));
    let handed = spare.and_then(|s| s.hand(argv, &env, log_path));
    let (child, pid) = match handed {
        Some(started) => started,
        None => {
            let full: Vec<String> = if keepers_usable(settings) {
                let mut v = keeper_prefix(settings);
                v.push("--".into());
                v.extend(argv.iter().cloned());
                v
            } else {
                argv.to_vec()
            };
            let mut cmd = Command::new(&full[0]);
            cmd.args(&full[1..])
                .env_clear()
                .envs(env)
                .stdin(Stdio::null())
                .stdout(Stdio::from(log.try_clone()?))
                .stderr(Stdio::from(log));
            start_group(cmd)?
        }
    };
    if let Some(dir) = pid_file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // The durable record a restarted Manager reaps from (best effort on a full disk: the
    // environment tag finds the tree anyway).
    let _ = {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(pid_file)
            .and_then(|mut f| f.write_all(pid.to_string().as_bytes()))
    };
    Ok(EngineProcess {
        child,
        pid,
        pid_file: pid_file.to_path_buf(),
    })
}

/// Whether engines run under a keeper here (a Manager that can re-run itself, on Linux).
fn keepers_usable(settings: &LaunchSettings) -> bool {
    !settings.self_command.is_empty() && super::procgroup::supported()
}

/// `<keeper> <grace_ms>`: what both forms of a keeper's command line start with (followed by
/// `-- <argv…>`, or `--spare`).
fn keeper_prefix(settings: &LaunchSettings) -> Vec<String> {
    let mut v = super::procgroup::keeper_command(&settings.self_command);
    v.push(KEEPER_GRACE.as_millis().to_string());
    v
}

/// Spawns `cmd` (a keeper, or a keeper-less engine) as the leader of its own process group,
/// so a backstop SIGKILL reaches the keeper and the engine, and told when the Manager dies.
/// Returns the child and its pid.
fn start_group(mut cmd: Command) -> io::Result<(Child, i32)> {
    cmd.kill_on_drop(true).process_group(0);
    // SAFETY: the closure only calls async-signal-safe functions (prctl, getppid, _exit).
    #[cfg(target_os = "linux")]
    unsafe {
        let parent = libc::getpid();
        cmd.pre_exec(move || {
            // Told when the Manager dies, even by SIGKILL: the keeper then stops its whole
            // tree. The signal follows the spawning thread, and engines are spawned from the
            // runtime's worker threads, which live as long as the Manager.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    let pid = child
        .id()
        .and_then(|p| i32::try_from(p).ok())
        .ok_or_else(|| io::Error::other("the engine exited before its pid was read"))?;
    Ok((child, pid))
}

/// How long after a spare keeper failed to boot the next attempt waits.
const SPARE_RETRY: Duration = Duration::from_secs(10);

/// The one spare keeper of a Manager, kept while any workload waits at zero replicas
/// ([`AtZero`]) and taken by whichever replica starts next (a worker agent's pool stays
/// empty: its workloads are scaled by the Manager). One, not one per
/// workload: each is an idle interpreter (4 MB of its own, 14 MB resident), and one start
/// from zero at a time is what it speeds up; a burst's other replicas boot their own.
#[derive(Default)]
pub struct SparePool {
    spare: std::sync::Mutex<Option<SpareKeeper>>,
    waiting: std::sync::atomic::AtomicUsize,
    failed_at: std::sync::Mutex<Option<std::time::Instant>>,
}

impl SparePool {
    /// The spare, if one is booted.
    pub fn take(&self) -> Option<SpareKeeper> {
        self.spare.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Boots a spare if none is kept and a workload waits at zero (one attempt per
    /// [`SPARE_RETRY`] after a failure).
    pub fn refill(&self, settings: &LaunchSettings) {
        use std::sync::atomic::Ordering;
        // Called on every tick of every workload at zero, so no syscall here: a spare that
        // died meanwhile is found when a start hands it its engine, which then boots its own.
        let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        if spare.is_some() || self.waiting.load(Ordering::SeqCst) == 0 {
            return;
        }
        let mut failed_at = self.failed_at.lock().unwrap_or_else(|e| e.into_inner());
        if failed_at.is_some_and(|t| t.elapsed() < SPARE_RETRY) {
            return;
        }
        match SpareKeeper::start(settings) {
            Ok(s) => *spare = s,
            Err(e) => {
                *failed_at = Some(std::time::Instant::now());
                tracing::debug!(error = %e, "no spare keeper; the next engine start boots its own");
            }
        }
    }
}

/// A workload waiting at zero replicas, held by its supervisor: while any is held the
/// Manager keeps a spare keeper; when the last goes (its workload started, or was deleted)
/// the spare is killed.
pub struct AtZero(std::sync::Arc<SparePool>);

impl AtZero {
    pub fn new(pool: std::sync::Arc<SparePool>) -> Self {
        pool.waiting
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        AtZero(pool)
    }
}

impl Drop for AtZero {
    fn drop(&mut self) {
        let pool = &self.0;
        if pool
            .waiting
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst)
            == 1
        {
            drop(pool.take());
        }
    }
}

/// A keeper booted before its engine is known (`__replica-keeper <grace> --spare`, see
/// [`super::procgroup::SpareOrder`]), waiting on a pipe for it. Dropped unused, it is killed.
pub struct SpareKeeper {
    child: Child,
    pid: i32,
    /// The write end of its stdin, blocking; closing it after the order is the keeper's EOF.
    order: std::fs::File,
}

impl SpareKeeper {
    /// Boots a spare keeper; `None` where engines run without one. It carries the engine tag,
    /// so a Manager restarted after `kill -9` sweeps it with the engines; otherwise it exits
    /// when its stdin closes, which the Manager's exit does.
    pub fn start(settings: &LaunchSettings) -> io::Result<Option<SpareKeeper>> {
        if !keepers_usable(settings) {
            return Ok(None);
        }
        let mut full = keeper_prefix(settings);
        full.push(super::procgroup::SPARE_ARG.into());
        let mut cmd = Command::new(&full[0]);
        cmd.args(&full[1..])
            .env_clear()
            .env(ENGINE_TAG_VAR, &settings.data_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let (mut child, pid) = start_group(cmd)?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| io::Error::other("the spare keeper has no stdin"))?;
        let fd = stdin.into_owned_fd()?;
        // Tokio made the pipe non-blocking; the order is written with one blocking write.
        // SAFETY: fcntl on a descriptor this function owns.
        unsafe {
            use std::os::fd::AsRawFd;
            let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
            if flags < 0
                || libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK) < 0
            {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(Some(SpareKeeper {
            child,
            pid,
            order: std::fs::File::from(fd),
        }))
    }

    /// Hands it its engine; `None` (and the spare killed) when it has exited or the order
    /// cannot be written, or the environment is not UTF-8, so the caller boots a keeper.
    fn hand(
        mut self,
        argv: &[String],
        env: &[(std::ffi::OsString, std::ffi::OsString)],
        log: &Path,
    ) -> Option<(Child, i32)> {
        use std::io::Write;
        if !matches!(self.child.try_wait(), Ok(None)) {
            return None;
        }
        let env = env
            .iter()
            .map(|(k, v)| Some((k.to_str()?.to_owned(), v.to_str()?.to_owned())))
            .collect::<Option<Vec<_>>>()?;
        let order = super::procgroup::SpareOrder {
            argv: argv.to_vec(),
            env,
            log: log.to_path_buf(),
        };
        let raw = serde_json::to_vec(&order).ok()?;
        self.order.write_all(&raw).ok()?;
        let SpareKeeper { child, pid, order } = self;
        drop(order);
        Some((child, pid))
    }
}

impl EngineProcess {
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Waits for the engine to exit. Cancel-safe.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        self.child.wait().await
    }

    /// Whether the listener on `port` belongs to this engine's process tree, so a health
    /// answer there comes from the engine the Manager started.
    pub fn owns_listener(&self, port: u16) -> bool {
        let mut pids = vec![self.pid];
        pids.extend(super::procgroup::descendants(self.pid));
        super::procgroup::listener_owned_by(port, &pids)
    }

    /// SIGTERM to the keeper (which passes it to the whole tree and SIGKILLs it after its
    /// grace), SIGKILL to the group after `grace`.
    pub async fn terminate(mut self, grace: Duration) {
        if matches!(self.child.try_wait(), Ok(None)) {
            signal_group(self.pid, libc::SIGTERM);
            let wait = grace + KEEPER_GRACE + Duration::from_secs(1);
            if tokio::time::timeout(wait, self.child.wait()).await.is_err() {
                signal_group(self.pid, libc::SIGKILL);
                let _ = self.child.wait().await;
            }
        }
        self.cleanup();
    }

    /// Cleans up after an engine that already exited.
    pub fn reap(self) {
        self.cleanup();
    }

    fn cleanup(&self) {
        // The keeper killed its tree; what escaped a keeper-less launch goes with its group
        // and its tag.
        for pid in super::procgroup::descendants(self.pid) {
            // SAFETY: kill(2) touches no memory.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        signal_group(self.pid, libc::SIGKILL);
        let _ = std::fs::remove_file(&self.pid_file);
    }
}

fn signal_group(pid: i32, signal: libc::c_int) {
    // SAFETY: kill(2) with a negative pid signals that process group; no memory is touched.
    unsafe {
        libc::kill(-pid, signal);
    }
}

/// Kills every engine process a previous run of this Manager left behind: all processes
/// carrying its tag in their environment (so `setsid` children and workers whose keeper was
/// killed too are found, and a reused pid is never killed), and clears the pid files.
/// Returns how many processes were killed.
pub fn kill_leftovers(run_dir: &Path, tag: &Path) -> usize {
    let killed = super::procgroup::sweep_tagged(ENGINE_TAG_VAR, &tag.to_string_lossy());
    if let Ok(entries) = std::fs::read_dir(run_dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) == Some("pid") {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    killed
}

/// The last `lines` lines of a log, scrubbed of tokens, for error messages.
pub fn log_tail(path: &Path, lines: usize) -> String {
    const MAX_BYTES: u64 = 8192;
    let mut buf = Vec::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f.seek(SeekFrom::Start(len.saturating_sub(MAX_BYTES)));
        let _ = f.take(MAX_BYTES).read_to_end(&mut buf);
    }
    let text = String::from_utf8_lossy(&buf);
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    scrub(&all[all.len().saturating_sub(lines)..].join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn allowlist() {
        let strict = CommandPolicy::default();
        let any = CommandPolicy {
            allow_any: true,
            ..Default::default()
        };
        let ok = |b: Backend, c: &str| check_command(Some(&b), c, strict).is_ok();
        assert!(ok(Backend::Vllm, "vllm serve m --max-model-len 8192"));
        assert!(ok(Backend::Vllm, "/opt/venv/bin/vllm serve m"));
        assert!(!ok(Backend::Vllm, "bash -c 'rm -rf /'"));
        assert!(ok(Backend::VllmOmni, "vllm-omni serve m"));
        assert!(ok(
            Backend::Sglang,
            "python3 -m sglang.launch_server --model-path m"
        ));
        assert!(ok(Backend::Sglang, "python3.11 -m sglang.launch_server"));
        assert!(!ok(Backend::Sglang, "python3 -m http.server"));
        assert!(ok(Backend::Llamacpp, "llama-server -m x.gguf"));
        assert!(ok(Backend::Stablediffusioncpp, "sd-server -m x"));
        assert!(!ok(Backend::Custom("mine".into()), "mine-server"));
        assert!(check_command(Some(&Backend::Custom("mine".into())), "mine-server", any).is_ok());
        let e = check_command(Some(&Backend::Ollama), "ollama serve", any).unwrap_err();
        assert_eq!(e.field, "config.command");
        let e = check_command(Some(&Backend::Vllm), "python app.py", strict).unwrap_err();
        assert!(e.message.contains("--allow-any-command"), "{}", e.message);
        assert!(check_command(None, "llama-server -m x", strict).is_ok());
        assert!(check_command(Some(&Backend::Vllm), "vllm 'unclosed", strict).is_err());
        assert!(check_command(Some(&Backend::Vllm), "   ", strict).is_err());
        // `sd` is not stable-diffusion.cpp's server.
        assert!(!ok(Backend::Stablediffusioncpp, "sd 'x' 'y' /etc/passwd"));
        // The listen address is the Manager's; remote code needs the operator's consent.
        for c in [
            "vllm serve m --port {port}",
            "vllm serve m --host 0.0.0.0",
            "vllm serve m --host=0.0.0.0",
            "llama-server -m x.gguf --port 1",
            "vllm serve m --trust-remote-code",
        ] {
            let e = check_command(Some(&Backend::Vllm), c, strict)
                .or_else(|_| check_command(Some(&Backend::Llamacpp), c, strict));
            assert!(e.is_err(), "{c}");
        }
        let trusting = CommandPolicy {
            allow_trust_remote_code: true,
            ..Default::default()
        };
        assert!(check_command(
            Some(&Backend::Vllm),
            "vllm serve m --trust-remote-code",
            trusting
        )
        .is_ok());
        assert!(check_command(Some(&Backend::Vllm), "vllm serve m --port {port}", any).is_ok());
    }

    #[test]
    fn placeholders_or_appended_flags() {
        assert_eq!(
            final_argv(
                &v(&["e", "--port={port}", "--bind", "{host}"]),
                "127.0.0.1",
                9
            ),
            v(&["e", "--port=9", "--bind", "127.0.0.1"])
        );
        assert_eq!(
            final_argv(&v(&["vllm", "serve", "m"]), "127.0.0.1", 9),
            v(&["vllm", "serve", "m", "--host", "127.0.0.1", "--port", "9"])
        );
    }

    #[test]
    fn defaults() {
        assert_eq!(
            default_command(Some(&Backend::Vllm), "m").unwrap(),
            v(&["vllm", "serve", "m"])
        );
        assert_eq!(
            default_command(Some(&Backend::Llamacpp), "x.gguf").unwrap(),
            v(&["llama-server", "-m", "x.gguf"])
        );
        assert!(default_command(Some(&Backend::Custom("c".into())), "m").is_none());
        assert!(default_command(None, "m").is_none());
    }

    #[test]
    fn symlinks_are_checked_by_their_target() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("vllm");
        std::os::unix::fs::symlink("/bin/sh", &fake).unwrap();
        let argv = v(&[fake.to_str().unwrap(), "-c", "id"]);
        let strict = CommandPolicy::default();
        let e = resolve_checked(Some(&Backend::Vllm), &argv, strict).unwrap_err();
        assert!(e.contains("not an allowed engine"), "{e}");
        // A real engine behind a symlink of another name is that engine.
        let real = dir.path().join("real").join("vllm");
        std::fs::create_dir_all(real.parent().unwrap()).unwrap();
        std::fs::write(&real, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o755)).unwrap();
        let link = dir.path().join("vllm-latest");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let argv = v(&[link.to_str().unwrap(), "serve", "m"]);
        let out = resolve_checked(Some(&Backend::Vllm), &argv, strict).unwrap();
        // Run through its own path (venv pythons need that); the target is what was checked.
        assert_eq!(out[0], link.to_str().unwrap());
    }

    #[test]
    fn python_engines_are_recognised() {
        let strict = CommandPolicy::default();
        let ok = |b: Backend, c: &str| check_command(Some(&b), c, strict).is_ok();
        assert!(ok(
            Backend::Vllm,
            "python -m vllm.entrypoints.openai.api_server --model m"
        ));
        assert!(ok(
            Backend::VllmOmni,
            "python3 -m vllm.entrypoints.openai.api_server --model m"
        ));
        assert!(!ok(Backend::Vllm, "python -m sglang.launch_server"));
        assert!(ok(
            Backend::Llamacpp,
            "python3 -m inferencekey.llamacpp -m x.gguf"
        ));
        let e = check_command(Some(&Backend::Sglang), "python -m http.server", strict).unwrap_err();
        assert!(
            e.message.contains("`python -m sglang.launch_server`"),
            "{}",
            e.message
        );
        assert_eq!(
            python_module(&v(&["/usr/bin/python3.11", "-m", "sglang.launch_server"])),
            Some("sglang.launch_server")
        );
        assert_eq!(python_module(&v(&["python", "app.py"])), None);
        assert_eq!(python_module(&v(&["vllm", "-m", "x"])), None);
        assert_eq!(package_for("sglang.launch_server"), "sglang");
        assert_eq!(package_for("inferencekey.llamacpp"), "xllamacpp");
        assert_eq!(package_for("my_engine.serve"), "my_engine");
    }

    #[test]
    fn backends_of_commands() {
        for (command, backend) in [
            ("vllm serve m", Some(Backend::Vllm)),
            ("/opt/venv/bin/vllm-omni serve m", Some(Backend::VllmOmni)),
            (
                "python3 -m sglang.launch_server --model-path m",
                Some(Backend::Sglang),
            ),
            ("llama-server -m x.gguf", Some(Backend::Llamacpp)),
            ("sd-server -m x", Some(Backend::Stablediffusioncpp)),
            ("my-server --port {port}", None),
            ("python app.py", None),
            ("", None),
            ("vllm 'unclosed", None),
        ] {
            assert_eq!(backend_of_command(command), backend, "{command}");
        }
    }

    fn settings() -> LaunchSettings {
        LaunchSettings {
            dev: true,
            allow_any_command: false,
            self_command: vec!["/bin/true".into()],
            data_dir: std::env::temp_dir(),
            engine_env: Vec::new(),
            allow_trust_remote_code: false,
        }
    }

    /// A real interpreter answers the probe: its standard library is there, a made-up
    /// package is not.
    #[tokio::test]
    async fn the_import_probe_asks_a_real_python() {
        let Some(python) = find_program("python3") else {
            return;
        };
        let s = settings();
        assert_eq!(python_can_import(&python, "json", &s).await, Some(true));
        assert_eq!(
            python_can_import(&python, "surely_no_such_engine_pkg", &s).await,
            Some(false)
        );
        let argv = v(&["python3", "-m", "surely_no_such_engine_pkg.launch_server"]);
        let missing = missing_engine(&argv, &s).await.expect("not installed");
        assert!(
            missing
                .why
                .contains("surely_no_such_engine_pkg is not installed"),
            "{}",
            missing.why
        );
        assert!(missing_engine(&v(&["python3", "-m", "json.tool"]), &s)
            .await
            .is_none());
        assert!(missing_engine(&v(&["no-such-engine-xyz"]), &s)
            .await
            .is_some());
    }

    #[test]
    fn program_lookup() {
        assert!(find_program("sh").is_some());
        assert!(find_program("definitely-not-an-engine-xyz").is_none());
        assert!(find_program("/bin/sh").is_some());
    }

    #[test]
    fn tail_is_scrubbed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.log");
        std::fs::write(&p, "a\nb\nkey ik_live_abcdefghij_SECRET\n\nc\n").unwrap();
        let tail = log_tail(&p, 2);
        assert_eq!(tail, "key ik_live_abcdefgh…\nc");
        assert_eq!(log_tail(&dir.path().join("missing"), 3), "");
    }
}
