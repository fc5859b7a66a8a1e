//! Token issuing and checking. Tokens are `ik_<kind>_<id>_<secret>`; the store keeps only the
//! SHA-256 of the secret, looked up by the public id and compared in constant time.
//!
//! Verified tokens are cached in memory so the gateway's hot path does no database query.
//! Revocation goes through [`Auth::revoke`], which evicts the cache entry, so it takes effect
//! on the very next request. A store shared with other Managers ([`Store::shared`]) can be
//! revoked through any of them, so there an entry is trusted for [`SHARED_CACHE_AGE`] only.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use inferencekey_core::token::{parse_token, redact, TokenKind};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::api::errors::ApiError;
use crate::store::{Project, Store, StoreResult, TokenRecord, Worker};
use crate::util::{now_rfc3339, random_alnum};

/// Length of the public id part of a token.
const ID_LEN: usize = 12;
/// Length of the secret part: 32 alphanumerics ≈ 190 bits.
const SECRET_LEN: usize = 32;

/// Who a request is, after its token checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub token_id: String,
    pub kind: TokenKind,
    pub project_id: Option<String>,
    pub project_slug: Option<String>,
    /// For live keys: a workload slug or `*`.
    pub scope: Option<String>,
    /// For worker tokens: the registered worker the agent acts for.
    pub worker_id: Option<String>,
}

/// A freshly issued token: the only moment the whole secret exists outside its owner.
#[derive(Clone)]
pub struct IssuedToken {
    pub record: TokenRecord,
    pub token: String,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("record", &self.record)
            .field("token", &redact(&self.token))
            .finish()
    }
}

/// How long a verified token is trusted without a look at a shared store: a revocation
/// through another Manager takes effect here within this.
pub const SHARED_CACHE_AGE: std::time::Duration = std::time::Duration::from_secs(2);

struct Cached {
    hash: [u8; 32],
    identity: Arc<Identity>,
    loaded: std::time::Instant,
}

pub struct Auth {
    store: Arc<dyn Store>,
    /// foldhash rather than SipHash (every data-plane call looks its key up here); still
    /// seeded per map, and only ids of stored tokens are ever inserted.
    cache: RwLock<HashMap<String, Arc<Cached>, foldhash::fast::RandomState>>,
    /// `Some` when the store is shared with other Managers.
    max_age: Option<std::time::Duration>,
}

pub fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn plane_name(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::Sdk => "a control-plane token (ik_sdk_)",
        TokenKind::Live => "a data-plane key (ik_live_)",
        TokenKind::Admin => "the Manager's admin token (ik_admin_)",
        TokenKind::Worker => "a worker agent's token (ik_worker_)",
    }
}

fn wanted(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::Sdk => "the control plane (/api) needs the project's ik_sdk_ token",
        TokenKind::Live => "the data plane (/endpoint) needs the workload's ik_live_ key",
        TokenKind::Admin => {
            "the admin API (/admin) needs the ik_admin_ token from the Manager's data dir"
        }
        TokenKind::Worker => {
            "the agent API (/agent) needs an ik_worker_ token, issued for a registered worker \
             by POST /admin/workers/{worker}/tokens"
        }
    }
}

impl Auth {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Auth {
            max_age: store.shared().then_some(SHARED_CACHE_AGE),
            store,
            cache: RwLock::new(HashMap::default()),
        }
    }

    /// Issues a new token and stores its hash. `project` is required for sdk and live
    /// tokens; `scope` is a workload slug or `*` for live keys. Worker tokens are issued by
    /// [`Auth::issue_worker`], which names their worker.
    pub async fn issue(
        &self,
        kind: TokenKind,
        project: Option<&Project>,
        scope: Option<&str>,
    ) -> StoreResult<IssuedToken> {
        self.issue_record(kind, project, scope, None).await
    }

    /// Issues an `ik_worker_` token for a registered worker: what its agent authenticates
    /// with on `/agent`.
    pub async fn issue_worker(&self, worker: &Worker) -> StoreResult<IssuedToken> {
        self.issue_record(TokenKind::Worker, None, None, Some(&worker.id))
            .await
    }

    async fn issue_record(
        &self,
        kind: TokenKind,
        project: Option<&Project>,
        scope: Option<&str>,
        worker_id: Option<&str>,
    ) -> StoreResult<IssuedToken> {
        let id = random_alnum(ID_LEN);
        let secret = random_alnum(SECRET_LEN);
        let record = TokenRecord {
            id: id.clone(),
            kind,
            project_id: project.map(|p| p.id.clone()),
            project_slug: project.map(|p| p.slug.clone()),
            scope: scope.map(str::to_string),
            secret_hash: hash_secret(&secret),
            created_at: now_rfc3339(),
            revoked_at: None,
            worker_id: worker_id.map(str::to_string),
        };
        self.store.insert_token(&record).await?;
        Ok(IssuedToken {
            token: format!("{}{id}_{secret}", kind.prefix()),
            record,
        })
    }

    /// Makes sure an admin token read from the data dir is known to the store (a data dir
    /// whose database was removed keeps working with its token file).
    pub async fn register_admin_token(&self, token: &str) -> StoreResult<bool> {
        let Some(parsed) = parse_token(token).filter(|t| t.kind == TokenKind::Admin) else {
            return Ok(false);
        };
        if self.store.token(parsed.id).await?.is_some() {
            return Ok(true);
        }
        self.store
            .insert_token(&TokenRecord {
                id: parsed.id.to_string(),
                kind: TokenKind::Admin,
                project_id: None,
                project_slug: None,
                scope: None,
                secret_hash: hash_secret(parsed.secret),
                created_at: now_rfc3339(),
                revoked_at: None,
                worker_id: None,
            })
            .await?;
        Ok(true)
    }

    /// Revokes a token by id and evicts it from the cache.
    pub async fn revoke(&self, id: &str) -> StoreResult<Option<TokenRecord>> {
        let record = self.store.revoke_token(id).await?;
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        Ok(record)
    }

    /// Checks the bearer token of a request for the plane `want`.
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        want: TokenKind,
    ) -> Result<Arc<Identity>, ApiError> {
        let raw = bearer(headers)?;
        let parsed = match parse_token(raw) {
            Some(p) => p,
            None => {
                // A token with another plane's prefix is answered by its plane even when the
                // rest is garbled: the prefix alone shows it cannot be used here.
                if let Some(kind) = TokenKind::of(raw).filter(|k| *k != want) {
                    return Err(wrong_plane(kind, want));
                }
                return Err(ApiError::unauthenticated(format!(
                    "malformed token {}: expected ik_<kind>_<id>_<secret>",
                    redact(raw)
                )));
            }
        };
        if parsed.kind != want {
            return Err(wrong_plane(parsed.kind, want));
        }
        let cached = self
            .cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(parsed.id)
            .cloned()
            .filter(|c| self.max_age.is_none_or(|age| c.loaded.elapsed() < age));
        let cached = match cached {
            Some(c) => c,
            None => self.load(parsed.id, parsed.kind, raw).await?,
        };
        let presented = hash_secret(parsed.secret);
        // The cache is keyed by id alone: a token whose prefix was rewritten to another kind
        // (`ik_sdk_<id>_<secret>` presented as `ik_live_<id>_<secret>`) finds the real one's
        // entry, and is no token of the kind it claims.
        if cached.identity.kind != parsed.kind || !bool::from(presented.ct_eq(&cached.hash)) {
            return Err(unknown(raw));
        }
        Ok(cached.identity.clone())
    }

    async fn load(&self, id: &str, kind: TokenKind, raw: &str) -> Result<Arc<Cached>, ApiError> {
        let record = self.store.token(id).await?.ok_or_else(|| unknown(raw))?;
        if record.kind != kind {
            return Err(unknown(raw));
        }
        if let Some(at) = &record.revoked_at {
            return Err(ApiError::unauthenticated(format!(
                "token {} was revoked at {at}; issue a new one",
                redact(raw)
            )));
        }
        let cached = Arc::new(Cached {
            hash: record.secret_hash,
            identity: Arc::new(Identity {
                token_id: record.id.clone(),
                kind: record.kind,
                project_id: record.project_id,
                project_slug: record.project_slug,
                scope: record.scope,
                worker_id: record.worker_id,
            }),
            loaded: std::time::Instant::now(),
        });
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(record.id, cached.clone());
        Ok(cached)
    }
}

fn unknown(raw: &str) -> ApiError {
    ApiError::unauthenticated(format!("unknown token {}", redact(raw)))
}

fn wrong_plane(got: TokenKind, want: TokenKind) -> ApiError {
    ApiError::wrong_credential_type(format!(
        "{} cannot be used here: {}",
        plane_name(got),
        wanted(want)
    ))
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers.get(header::AUTHORIZATION).ok_or_else(|| {
        ApiError::unauthenticated("missing `Authorization: Bearer <token>` header")
    })?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthenticated("the Authorization header is not valid text"))?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(|| {
        ApiError::unauthenticated("the Authorization header must be `Bearer <token>`")
    })?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::unauthenticated(
            "the Authorization header must use the Bearer scheme",
        ));
    }
    Ok(token.trim())
}

/// The router state the auth extractors read the token checker from. A trait, so this module
/// needs nothing from `state` (which holds an [`Auth`]) and the two never import each other.
pub trait AuthSource {
    fn auth(&self) -> &Auth;
}

macro_rules! plane_extractor {
    ($(#[$doc:meta])* $name:ident, $kind:expr) => {
        $(#[$doc])*
        ///
        /// Its rejection is the [`ApiError`] [`Auth::authenticate`] answers (401
        /// `unauthenticated`, 403 `wrong_credential_type`), so a handler that takes it answers
        /// exactly as one that checked by hand. Put it before the extractors whose errors must
        /// come after the token's (the path, the body).
        #[derive(Debug, Clone)]
        pub struct $name(pub Arc<Identity>);

        impl<S: AuthSource + Send + Sync> FromRequestParts<S> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
                state.auth().authenticate(&parts.headers, $kind).await.map($name)
            }
        }
    };
}

plane_extractor!(
    /// A request with a valid `ik_sdk_` token: the control plane (`/api`).
    SdkAuth,
    TokenKind::Sdk
);
plane_extractor!(
    /// A request with a valid `ik_live_` key: the data plane (`/endpoint`). The key's project
    /// and scope are checked against the path by the gateway, which knows the path.
    LiveAuth,
    TokenKind::Live
);
plane_extractor!(
    /// A request with the Manager's `ik_admin_` token: the admin API (`/admin`).
    AdminAuth,
    TokenKind::Admin
);
plane_extractor!(
    /// A request with an `ik_worker_` token: a worker agent's routes (`/agent`). The identity
    /// names the worker (`worker_id`) the agent acts for, and only that one.
    WorkerAuth,
    TokenKind::Worker
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;
    use axum::http::HeaderValue;

    fn headers(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        h
    }

    #[tokio::test]
    async fn issue_check_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db")).unwrap());
        let (project, _) = store.ensure_project("acme").await.unwrap();
        let auth = Auth::new(store.clone());
        let live = auth
            .issue(TokenKind::Live, Some(&project), Some("bot"))
            .await
            .unwrap();
        assert!(!format!("{live:?}").contains(&live.token[20..]));

        let who = auth
            .authenticate(&headers(&live.token), TokenKind::Live)
            .await
            .unwrap();
        assert_eq!(who.scope.as_deref(), Some("bot"));
        assert_eq!(who.project_slug.as_deref(), Some("acme"));

        let err = auth
            .authenticate(&headers(&live.token), TokenKind::Sdk)
            .await
            .unwrap_err();
        assert_eq!(err.code, "wrong_credential_type");

        let forged = format!("ik_live_{}_{}", live.record.id, "x".repeat(32));
        assert_eq!(
            auth.authenticate(&headers(&forged), TokenKind::Live)
                .await
                .unwrap_err()
                .code,
            "unauthenticated"
        );
        // The live key (cached now) relabelled as a control token, its real secret kept.
        let relabelled = format!("ik_sdk_{}", &live.token["ik_live_".len()..]);
        assert_eq!(
            auth.authenticate(&headers(&relabelled), TokenKind::Sdk)
                .await
                .unwrap_err()
                .code,
            "unauthenticated"
        );

        auth.revoke(&live.record.id).await.unwrap();
        let err = auth
            .authenticate(&headers(&live.token), TokenKind::Live)
            .await
            .unwrap_err();
        assert_eq!(err.code, "unauthenticated");
        assert!(err.message.contains("revoked"));
        assert!(!err.message.contains(&live.token));

        assert_eq!(
            auth.authenticate(&HeaderMap::new(), TokenKind::Live)
                .await
                .unwrap_err()
                .code,
            "unauthenticated"
        );
        assert_eq!(
            auth.authenticate(&headers("ik_sdk_garbled"), TokenKind::Live)
                .await
                .unwrap_err()
                .code,
            "wrong_credential_type"
        );
    }

    /// A worker token authenticates as its worker on the agent routes only; every plane and
    /// the admin API refuse it as the wrong kind (and it opens nothing as another kind's id),
    /// every other kind is refused on the agent routes, and revoking it takes effect at once.
    #[tokio::test]
    async fn worker_tokens_open_the_agent_routes_only() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db")).unwrap());
        let (project, _) = store.ensure_project("acme").await.unwrap();
        let worker = Worker {
            id: crate::util::new_id("wrk"),
            name: "box".into(),
            created_at: now_rfc3339(),
        };
        store.insert_worker(&worker).await.unwrap();
        let auth = Auth::new(store.clone());
        let issued = auth.issue_worker(&worker).await.unwrap();
        assert!(issued.token.starts_with("ik_worker_"));
        let secret = issued.token.rsplit('_').next().unwrap().to_string();
        assert!(!format!("{issued:?}").contains(&secret));
        assert_eq!(issued.record.worker_id.as_deref(), Some(worker.id.as_str()));
        assert_eq!(issued.record.project_id, None);

        let who = auth
            .authenticate(&headers(&issued.token), TokenKind::Worker)
            .await
            .unwrap();
        assert_eq!(who.kind, TokenKind::Worker);
        assert_eq!(who.worker_id.as_deref(), Some(worker.id.as_str()));
        assert_eq!((who.project_id.as_ref(), who.scope.as_ref()), (None, None));

        for (want, plane) in [
            (TokenKind::Sdk, "/api"),
            (TokenKind::Live, "/endpoint"),
            (TokenKind::Admin, "/admin"),
        ] {
            let err = auth
                .authenticate(&headers(&issued.token), want)
                .await
                .unwrap_err();
            assert_eq!(
                (err.status.as_u16(), err.code),
                (403, "wrong_credential_type")
            );
            assert!(err.message.contains("ik_worker_"), "{}", err.message);
            assert!(err.message.contains(plane), "{}", err.message);
            assert!(!err.message.contains(&secret), "{}", err.message);
        }
        // The worker token's id under another kind's prefix is no token of that kind, with
        // the real one in the cache (it was just used) and without.
        let relabelled = format!("ik_sdk_{}_{secret}", issued.record.id);
        let err = auth
            .authenticate(&headers(&relabelled), TokenKind::Sdk)
            .await
            .unwrap_err();
        assert_eq!(err.code, "unauthenticated");
        let cold = Auth::new(store.clone());
        let err = cold
            .authenticate(&headers(&relabelled), TokenKind::Sdk)
            .await
            .unwrap_err();
        assert_eq!(err.code, "unauthenticated");
        // A garbled worker token is still refused as the wrong kind elsewhere.
        let err = auth
            .authenticate(&headers("ik_worker_garbled"), TokenKind::Live)
            .await
            .unwrap_err();
        assert_eq!(err.code, "wrong_credential_type");

        let sdk = auth
            .issue(TokenKind::Sdk, Some(&project), None)
            .await
            .unwrap();
        let live = auth
            .issue(TokenKind::Live, Some(&project), Some("*"))
            .await
            .unwrap();
        for other in [&sdk.token, &live.token] {
            let err = auth
                .authenticate(&headers(other), TokenKind::Worker)
                .await
                .unwrap_err();
            assert_eq!(err.code, "wrong_credential_type");
            assert!(err.message.contains("/agent"), "{}", err.message);
        }

        auth.revoke(&issued.record.id).await.unwrap();
        let err = auth
            .authenticate(&headers(&issued.token), TokenKind::Worker)
            .await
            .unwrap_err();
        assert_eq!(err.code, "unauthenticated");
        assert!(err.message.contains("revoked"));
    }
}
