//! Publishing custom backends (docs/contract.md §7): `POST /api/tenants/{tenant}/custom-backends`
//! (an `ik_sdk_` token, `multipart/form-data`: text parts `name`, `slug`, `version`,
//! `task_type`, `entrypoint` and the package as the file part `file`) and `GET` of the same
//! path to list them. The archive is checked member by member before anything is stored
//! ([`crate::custom_backends::check`]), then kept under the data dir by its SHA-256.

use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use inferencekey_core::custom_backend::{PublishedBackend, LOCAL_TENANT};
use inferencekey_core::Backend;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::errors::ApiError;
use crate::auth::SdkAuth;
use crate::custom_backends::{self as packages, ArchiveError, MAX_ARCHIVE_BYTES};
use crate::openapi::{BackendListErrors, CustomBackendUpload, PublishErrors, TenantPath};
use crate::state::App;
use crate::store::{CustomBackendRecord, StoreError};
use crate::util::{new_id, now_rfc3339};

/// The text parts a publish carries, each checked against the package's manifest.
const TEXT_PARTS: [&str; 5] = ["name", "slug", "version", "task_type", "entrypoint"];

/// The custom-backend routes, registered with their OpenAPI operations (crate::openapi).
pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(
        routes!(list, publish)
            // The package is the body: its own bound, above the JSON routes' 1 MiB (the
            // multipart framing and text parts fit in the 64 KiB over).
            .layer(DefaultBodyLimit::max(MAX_ARCHIVE_BYTES + 64 * 1024)),
    )
}

/// The tenant in the path, checked against the token: locally every project belongs to the
/// one tenant `tnt_local`. The token itself is checked by the handler's [`SdkAuth`], before
/// the path.
fn tenant(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(tenant) = path?;
    if tenant != LOCAL_TENANT {
        return Err(ApiError::project_scope_mismatch(format!(
            "this token's project belongs to tenant {LOCAL_TENANT:?}, not {tenant:?}"
        )));
    }
    Ok(tenant)
}

fn answer(r: &CustomBackendRecord) -> PublishedBackend {
    PublishedBackend {
        id: r.id.clone(),
        slug: r.slug.clone(),
        sha256: r.sha256.clone(),
        size_bytes: r.size_bytes,
        version: r.version.clone(),
        task_type: r.task_type.clone(),
        created_at: r.created_at.clone(),
    }
}

#[utoipa::path(
    get,
    path = "/api/tenants/{tenant}/custom-backends",
    operation_id = "listCustomBackends",
    tag = "custom-backends",
    security(("sdkToken" = [])),
    params(TenantPath),
    responses(
        (status = 200, description = "Every published version, newest first",
         body = Vec<PublishedBackend>),
        BackendListErrors,
    ),
)]
async fn list(
    State(app): State<App>,
    _sdk: SdkAuth,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Vec<PublishedBackend>>, ApiError> {
    let tenant = tenant(path)?;
    let rows = app.store.list_custom_backends(&tenant).await?;
    Ok(Json(rows.iter().map(answer).collect()))
}

fn multipart_error(e: impl std::fmt::Display, status: StatusCode) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::payload_too_large(MAX_ARCHIVE_BYTES);
    }
    ApiError::bad_request(format!(
        "the body is not a readable multipart/form-data upload: {e}"
    ))
}

/// Publishes a custom backend package (CONTRACT.md §7): a .tar.gz with manifest.json and
/// requirements.txt at its root. Text parts, when sent, must match the manifest.
#[utoipa::path(
    post,
    path = "/api/tenants/{tenant}/custom-backends",
    operation_id = "publishCustomBackend",
    tag = "custom-backends",
    security(("sdkToken" = [])),
    params(TenantPath),
    request_body(content = CustomBackendUpload, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The same package was already published: the first answer",
         body = PublishedBackend),
        (status = 201, description = "Published", body = PublishedBackend),
        PublishErrors,
    ),
)]
async fn publish(
    State(app): State<App>,
    _sdk: SdkAuth,
    path: Result<Path<String>, PathRejection>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let tenant = tenant(path)?;
    let mut multipart = multipart.map_err(|r| {
        ApiError::bad_request(format!(
            "{}; send multipart/form-data with the text parts {} and the package as the file part `file`",
            r.body_text(),
            TEXT_PARTS.join(", ")
        ))
    })?;
    let mut texts: Vec<(String, String)> = Vec::new();
    let mut file: Option<Vec<u8>> = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error(&e, e.status()))?
    {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            let bytes = field
                .bytes()
                .await
                .map_err(|e| multipart_error(&e, e.status()))?;
            if bytes.len() > MAX_ARCHIVE_BYTES {
                return Err(ApiError::payload_too_large(MAX_ARCHIVE_BYTES));
            }
            file = Some(bytes.to_vec());
        } else if TEXT_PARTS.contains(&name.as_str()) {
            let text = field
                .text()
                .await
                .map_err(|e| multipart_error(&e, e.status()))?;
            texts.push((name, text));
        } else {
            return Err(ApiError::validation(
                name,
                format!(
                    "unknown part; the parts are {} and file",
                    TEXT_PARTS.join(", ")
                ),
            ));
        }
    }
    let archive = file.ok_or_else(|| {
        ApiError::validation(
            "file",
            "is required: the package (.tar.gz) as the multipart file part `file`",
        )
    })?;
    let checked = packages::check(&archive).map_err(|e| match e {
        ArchiveError::Invalid(why) => ApiError::validation("file", why),
        ArchiveError::Manifest(err) => {
            let mut api = ApiError::validation(
                err.field.clone().unwrap_or_else(|| "manifest.json".into()),
                format!("manifest.json: {}", err.message),
            );
            // A manifest key is reported under `manifest.`; a manifest that is not JSON at
            // all is `manifest.json` already.
            api.field = err.field.clone().map(|f| {
                if f == "manifest.json" {
                    f
                } else {
                    format!("manifest.{f}")
                }
            });
            api
        }
    })?;
    let m = &checked.manifest;
    // Each text part, when sent, must say what the manifest says: the two disagreeing would
    // leave it unclear which one a workload runs.
    for (name, value) in &texts {
        let want = match name.as_str() {
            "name" => m.name.as_str(),
            "slug" => m.slug.as_str(),
            "version" => m.version.as_str(),
            "task_type" => m.task_type.as_str(),
            _ => m.entrypoint.as_str(),
        };
        if value != want {
            return Err(ApiError::validation(
                name.as_str(),
                format!(
                    "is {value:?} but the package's manifest.json says {want:?}; make them agree"
                ),
            ));
        }
    }
    if Backend::from_wire(&m.slug).is_known() {
        return Err(ApiError::validation(
            "slug",
            format!("{:?} is a built-in backend; choose another slug", m.slug),
        ));
    }
    let sha = packages::sha256_hex(&archive);
    if let Some(existing) = app
        .store
        .custom_backend_version(&tenant, &m.slug, &m.version)
        .await?
    {
        if existing.sha256 == sha {
            // The same package again (a retried publish): the first answer, unchanged.
            return Ok((StatusCode::OK, Json(answer(&existing))).into_response());
        }
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "slug_conflict",
            format!(
                "{} {} is already published with other contents; bump `version` in manifest.json",
                m.slug, m.version
            ),
        )
        .with_field("version"));
    }
    let stored = packages::archive_path(&app.config.data_dir, &sha);
    if !stored.is_file() {
        packages::write_atomic(&stored, &archive).map_err(|e| {
            tracing::error!(error = %e, "could not store a custom backend package");
            ApiError::internal("the Manager could not store the package; see the Manager log")
        })?;
    }
    let record = CustomBackendRecord {
        id: new_id("cb"),
        tenant_id: tenant,
        slug: m.slug.clone(),
        version: m.version.clone(),
        task_type: m.task_type.as_str().to_string(),
        manifest: checked.manifest_json.clone(),
        sha256: sha,
        size_bytes: archive.len() as u64,
        created_at: now_rfc3339(),
    };
    match app.store.insert_custom_backend(&record).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "slug_conflict",
                format!(
                    "{} {} was published by another request just now; bump `version` or retry",
                    m.slug, m.version
                ),
            )
            .with_field("version"))
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(slug = %record.slug, version = %record.version, sha256 = %record.sha256, "custom backend published");
    Ok((StatusCode::CREATED, Json(answer(&record))).into_response())
}
