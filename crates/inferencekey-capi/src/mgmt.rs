//! The control-plane client over the ABI: `ik_mgmt_*`.

use std::ffi::c_char;
use std::sync::Arc;
use std::time::Duration;

use inferencekey_core::config::ManagementSettings;
use inferencekey_core::domain::request::{CallSettings, EnsureSettings};
use inferencekey_core::management::ManagementConfig;
use inferencekey_core::{CallOptions, ManagementClient, WorkloadSpec};

use crate::ffi::{
    c_string, call, free_handle, guard, guard_void, handle, ik_status, into_handle, opt_str_arg,
    out_arg, str_arg,
};
use crate::options::{settings, to_json};
use crate::stream::{ik_stream, Stream};

/// A control-plane client (`ik_sdk_` token). Thread-safe: one handle may serve many threads
/// at once. Free with `ik_mgmt_client_free`.
pub struct ik_mgmt_client {
    inner: Arc<ManagementClient>,
}

/// How long `ik_mgmt_wait_until_ready` waits when the options give no `timeout`.
const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(600);

/// Creates a control-plane client.
///
/// `options_json` (NULL = `{}`) is an object with any of: `base_url`, `project`, `sdk_token`,
/// `timeout` (whole-call deadline, seconds), `connect_timeout`, `read_timeout` (idle, seconds),
/// `max_retries`, `language` (for User-Agent). Missing values fall back to
/// `INFERENCEKEY_BASE_URL`, `INFERENCEKEY_PROJECT` and `INFERENCEKEY_SDK_TOKEN`. A missing token
/// or an `ik_live_` token fails here, before any request.
///
/// # Safety
/// `options_json` is NULL or a NUL-terminated string; `out` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn ik_mgmt_client_new(
    options_json: *const c_char,
    out: *mut *mut ik_mgmt_client,
) -> ik_status {
    guard(|| {
        let out = out_arg(out, "out")?;
        let s: ManagementSettings = settings(opt_str_arg(options_json, "options_json")?)?;
        let client = ManagementClient::new(ManagementConfig {
            options: s.options("c")?,
            project: s.project,
            base_url: s.base_url,
            sdk_token: s.sdk_token,
        })?;
        *out = into_handle(ik_mgmt_client {
            inner: Arc::new(client),
        });
        Ok(())
    })
}

/// Frees a client. NULL is a no-op. Streams opened from it stay usable.
///
/// # Safety
/// `client` is NULL or a live client not used by any other thread during or after this call.
#[no_mangle]
pub unsafe extern "C" fn ik_mgmt_client_free(client: *mut ik_mgmt_client) {
    guard_void(|| free_handle(client))
}

/// Makes the platform match the spec (create, patch or nothing, per `on_drift`).
///
/// `spec_json` is an object with the WorkloadSpec fields (`name`, `slug`, `model`, `backend`,
/// `project`, `description`, `command`, `vllm_version`, `task_type`, `config`,
/// `execution_policy`, `execution_policy_config`, `worker_id`, `gpu_resource_id`).
/// `options_json` (NULL = `{}`): `on_drift` (`reconcile` default, `fail`, `dry_run`, `warn`,
/// `ignore`), `project`, `timeout`. On success `*out_json` is the EndpointRef:
/// `{"project_slug", "workload_slug", "workload_id", "action", "plan": [{"field", "live",
/// "desired"}], "workload"}` with `action` one of `created`, `updated`, `unchanged`,
/// `drifted`, `would_create`, `would_update`. Drift under `fail` is `IK_ERR_DRIFT` and the
/// error JSON carries the `plan`.
///
/// # Safety
/// Pointers are NULL or valid as documented in the header's preamble.
#[no_mangle]
pub unsafe extern "C" fn ik_mgmt_ensure(
    client: *const ik_mgmt_client,
    spec_json: *const c_char,
    options_json: *const c_char,
    out_json: *mut *mut c_char,
) -> ik_status {
    guard(|| {
        let out = out_arg(out_json, "out_json")?;
        let c = handle(client, "client")?;
        let spec = WorkloadSpec::from_json(str_arg(spec_json, "spec_json")?)?;
        let s: EnsureSettings = settings(opt_str_arg(options_json, "options_json")?)?;
        let mode = s.on_drift.unwrap_or_default();
        let opts = CallOptions::of(&s);
        let inner = Arc::clone(&c.inner);
        let result =
            call(async move { inner.ensure(&spec, mode, s.project.as_deref(), &opts).await })?;
        *out = c_string(to_json(&result)?)?;
        Ok(())
    })
}

/// The workload with this slug as JSON (the server's Workload object); `IK_ERR_NOT_FOUND`
/// when there is none. `options_json`: `project`, `timeout`.
///
/// # Safety
/// Pointers are NULL or valid as documented in the header's preamble.
#[no_mangle]
pub unsafe extern "C" fn ik_mgmt_get(
    client: *const ik_mgmt_client,
    slug: *const c_char,
    options_json: *const c_char,
    out_json: *mut *mut c_char,
) -> ik_status {
    guard(|| {
        let out = out_arg(out_json, "out_json")?;
        let c = handle(client, "client")?;
        let slug = str_arg(slug, "slug")?.to_string();
        let s: CallSettings = settings(opt_str_arg(options_json, "options_json")?)?;
        let opts = CallOptions::of(&s);
        let project = s.project;
        let inner = Arc::clone(&c.inner);
        let w = call(async move { inner.get(&slug, project.as_deref(), &opts).await })?;
        *out = c_string(to_json(&w)?)?;
        Ok(())
    })
}

/// Every workload of the project as a JSON array. `options_json`: `project`, `timeout`.
///
/// # Safety
/// Pointers are NULL or valid as documented in the header's preamble.
#[no_mangle]
pub unsafe extern "C" fn ik_mgmt_list(
    client: *const ik_mgmt_client,
    options_json: *const c_char,
    out_json: *mut *mut c_char,
) -> ik_status {
    guard(|| {
        let out = out_arg(out_json, "out_json")?;
        let c = handle(client, "client")?;
        let s: CallSettings = settings(opt_str_arg(options_json, "options_json")?)?;
        let opts = CallOptions::of(&s);
        let project = s.project;
        let inner = Arc::clone(&c.inner);
        let ws = call(async move { inner.list(project.as_deref(), &opts).await })?;
        *out = c_string(to_json(&ws)?)?;
        Ok(())
    })
}

/// Deletes the workload; `IK_ERR_NOT_FOUND` when it does not exist. `options_json`:
/// `project`, `timeout`.
///
/// # Safety
/// Pointers are NULL or valid as documented in the header's preamble.
#[no_mangle]
pub unsafe extern "C" fn ik_mgmt_delete(
    client: *const ik_mgmt_client,
    slug: *const c_char,
    options_json: *const c_char,
) -> ik_status {
    guard(|| {
        let c = handle(client, "client")?;
        let slug = str_arg(slug, "slug")?.to_string();
        let s: CallSettings = settings(opt_str_arg(options_json, "options_json")?)?;
        let opts = CallOptions::of(&s);
        let project = s.project;
        let inner = Arc::clone(&c.inner);
        call(async move { inner.delete(&slug, project.as_deref(), &opts).await })
    })
}

/// Blocks until the workload is ready, following its readiness stream and reconnecting when
/// it drops. `options_json`: `project`, `timeout` (seconds, default 600). On success
/// `*out_json` is the `ready` event `{"phase", "message", "elapsed_ms", "step"?}`; a workload
/// that failed to start is `IK_ERR_SERVER` (code `workload_error`); the deadline is
/// `IK_ERR_TIMEOUT`.
///
/// # Safety
/// Pointers are NULL or valid as documented in the header's preamble.
#[no_mangle]
pub unsafe extern "C" fn ik_mgmt_wait_until_ready(
    client: *const ik_mgmt_client,
    slug: *const c_char,
    options_json: *const c_char,
    out_json: *mut *mut c_char,
) -> ik_status {
    guard(|| {
        let out = out_arg(out_json, "out_json")?;
        let c = handle(client, "client")?;
        let slug = str_arg(slug, "slug")?.to_string();
        let s: CallSettings = settings(opt_str_arg(options_json, "options_json")?)?;
        let project = s.project;
        let timeout = s.timeout.map_or(DEFAULT_READY_TIMEOUT, |t| t.0);
        let inner = Arc::clone(&c.inner);
        let ev = call(async move {
            inner
                .wait_until_ready(&slug, project.as_deref(), timeout, |_| {})
                .await
        })?;
        *out = c_string(to_json(&ev)?)?;
        Ok(())
    })
}

/// Opens the workload's readiness stream: `ik_stream_next` yields events
/// `{"phase", "message", "elapsed_ms", "step"?}` and ends after `ready` or `error`.
/// `options_json`: `project`, `timeout` (for opening the stream).
///
/// # Safety
/// Pointers are NULL or valid as documented in the header's preamble.
#[no_mangle]
pub unsafe extern "C" fn ik_mgmt_readiness_events(
    client: *const ik_mgmt_client,
    slug: *const c_char,
    options_json: *const c_char,
    out: *mut *mut ik_stream,
) -> ik_status {
    guard(|| {
        let out = out_arg(out, "out")?;
        let c = handle(client, "client")?;
        let slug = str_arg(slug, "slug")?.to_string();
        let s: CallSettings = settings(opt_str_arg(options_json, "options_json")?)?;
        let opts = CallOptions::of(&s);
        let project = s.project;
        let inner = Arc::clone(&c.inner);
        let stream = call(async move {
            inner
                .readiness_events(&slug, project.as_deref(), &opts)
                .await
        })?;
        *out = into_handle(ik_stream::new(Stream::Readiness(stream)));
        Ok(())
    })
}
