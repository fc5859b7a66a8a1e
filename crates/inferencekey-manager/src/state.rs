//! What every handler shares.

use std::sync::Arc;

use crate::auth::{Auth, AuthSource};
use crate::config::ManagerConfig;
use crate::jobs::Jobs;
use crate::runtime::Runtime;
use crate::store::Store;

pub struct AppState {
    pub config: ManagerConfig,
    /// The URL the Manager listens on.
    pub url: String,
    pub store: Arc<dyn Store>,
    /// The same store, watched for a full or failing disk (shown by `inferencekey status`).
    pub storage: Arc<crate::store::Watched>,
    pub auth: Auth,
    pub runtime: Arc<Runtime>,
    pub jobs: Arc<Jobs>,
    /// The webhook outbox's worker (and `POST …/webhook/test`).
    pub webhooks: Arc<crate::webhooks::Webhooks>,
    /// Pooled client for the Manager's own calls to engines (jobs, health checks).
    pub http: reqwest::Client,
    /// Pooled client the gateway forwards through.
    pub engine: crate::engine_client::EngineClient,
    /// The dashboard's login codes and sessions.
    pub dashboard: crate::dashboard::sessions::Sessions,
}

pub type App = Arc<AppState>;

/// Lets handlers take [`crate::auth::SdkAuth`], [`crate::auth::LiveAuth`] and
/// [`crate::auth::AdminAuth`] as extractors.
impl AuthSource for App {
    fn auth(&self) -> &Auth {
        &self.auth
    }
}
