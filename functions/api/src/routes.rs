//! [`Routes`]: a function's route table. Registering a route here both adds it to the
//! axum router and records `(method, path)`, so a test can hold the table against the
//! OpenAPI document: a route missing from either side fails it.

use axum::Router;
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter, on};

use app::state::AppState;

/// See the module docs.
#[derive(Debug)]
pub struct Routes {
    router: Router<AppState>,
    table: Vec<(Method, &'static str)>,
}

impl Default for Routes {
    fn default() -> Self {
        Routes {
            router: Router::new(),
            table: Vec::new(),
        }
    }
}

fn filter(method: &Method) -> MethodFilter {
    match *method {
        Method::GET => MethodFilter::GET,
        Method::POST => MethodFilter::POST,
        Method::PUT => MethodFilter::PUT,
        Method::PATCH => MethodFilter::PATCH,
        Method::DELETE => MethodFilter::DELETE,
        _ => MethodFilter::OPTIONS,
    }
}

impl Routes {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `method path` served by `handler` (any axum handler).
    pub fn add<H, T>(mut self, method: Method, path: &'static str, handler: H) -> Self
    where
        H: axum::handler::Handler<T, AppState>,
        T: 'static,
    {
        let route: MethodRouter<AppState> = on(filter(&method), handler);
        self.router = self.router.route(path, route);
        self.table.push((method, path));
        self
    }

    /// Adds `method path` with its own body limit (above the settings' one: an upload).
    pub fn add_with_body_limit<H, T>(
        self,
        method: Method,
        path: &'static str,
        handler: H,
        limit: usize,
    ) -> Self
    where
        H: axum::handler::Handler<T, AppState>,
        T: 'static,
    {
        // The innermost limit wins over the one `http::finish` sets for every route.
        let limited = axum::handler::Handler::layer(
            handler,
            tower::ServiceBuilder::new()
                .layer(axum::extract::DefaultBodyLimit::max(limit))
                .layer(axum::Extension(crate::http::BodyLimit(limit))),
        );
        self.add(method, path, limited)
    }

    /// Adds every route of `other`.
    pub fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        self.table.extend(other.table);
        self
    }

    /// `(method, path)` of every route, in registration order.
    pub fn table(&self) -> &[(Method, &'static str)] {
        &self.table
    }

    /// The router, bound to `state`, with the shared middleware.
    pub fn into_router(self, state: AppState) -> Router {
        self.into_router_with(state, Router::new())
    }

    /// The router with `extra` routes (already bound to their state) behind the same
    /// middleware: `stratus up` adds the core's `/health` and `/ws`.
    pub fn into_router_with(self, state: AppState, extra: Router) -> Router {
        let settings = state.settings.clone();
        let router = self
            .router
            .route("/openapi.json", axum::routing::get(crate::openapi::serve))
            .with_state(state)
            .merge(extra);
        crate::http::finish(router, &settings)
    }
}
