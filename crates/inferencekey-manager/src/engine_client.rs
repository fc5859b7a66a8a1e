//! The pooled client the gateway forwards through. Its own module so the shared state (which
//! holds one) and the gateway (which uses it) do not import each other.

use std::time::Duration;

use axum::body::Body;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// The gateway's client: hyper's pooled HTTP/1 client. It takes axum's request body and
/// returns hyper's response body as they are, so frames pass through with no adaptation
/// layer (reqwest, used elsewhere, re-wraps both ends as streams on every request).
pub type EngineClient = Client<HttpConnector, Body>;

pub fn engine_client() -> EngineClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(Duration::from_secs(5)));
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(256)
        .build(connector)
}
