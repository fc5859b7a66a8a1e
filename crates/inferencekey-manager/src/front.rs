//! The service every connection is served by: data-plane calls (`/endpoint/{project}/
//! {workload}/v1/…` and `…/forecast`, see [`gateway::front_route`]) go straight to
//! [`gateway::front`], everything else to the router with its middleware.
//!
//! Why: a proxied call's own CPU in the Manager was mostly axum's — the route lookup, the
//! path and auth extractors, and the request-context, body-deadline and close-after-error
//! middleware futures stacked around the handler — not the forwarding. `gateway::front` does
//! what those layers did for the route, by calling the same functions
//! (`request_context::{request_id, finish}`, `body_timeout::with_deadline`, the gateway's
//! checks), and `tests/reliability` holds both paths to the same answers.

use std::convert::Infallible;

use axum::response::Response;
use axum::routing::RouterIntoService;
use axum::Router;
use futures_util::future::{BoxFuture, Either};
use hyper::body::Incoming;
use hyper::http::Request;
use hyper_util::service::{TowerToHyperService, TowerToHyperServiceFuture};

use crate::gateway;
use crate::state::App;

#[derive(Clone)]
pub struct Front {
    app: App,
    router: TowerToHyperService<RouterIntoService<Incoming>>,
}

impl Front {
    pub fn new(app: App, router: Router) -> Self {
        Front {
            app,
            router: TowerToHyperService::new(router.into_service()),
        }
    }
}

type RouterFuture = TowerToHyperServiceFuture<RouterIntoService<Incoming>, Request<Incoming>>;

impl hyper::service::Service<Request<Incoming>> for Front {
    type Response = Response;
    type Error = Infallible;
    type Future = Either<BoxFuture<'static, Result<Response, Infallible>>, RouterFuture>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        if gateway::front_route(req.uri().path()).is_some() {
            let app = self.app.clone();
            Either::Left(Box::pin(async move { Ok(gateway::front(app, req).await) }))
        } else {
            Either::Right(self.router.call(req))
        }
    }
}
