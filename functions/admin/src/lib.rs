//! The admin function: the operations dashboard's API, for administrators only (a
//! trader's token is a 403, no token a 401). It reads what any function can read — the
//! system of record, the key-value read models — so it runs as a Lambda in the cloud,
//! where the core is a container it cannot reach: the core publishes its status to
//! `store::core_status` about once a second.
//!
//! | route | what |
//! |---|---|
//! | `GET /admin/overview` | the core's status, users, accounts, orders and fills per minute, strategies running, research jobs |
//! | `GET /admin/traders?limit&offset` | one row per user: accounts, equity, cash, P&L, orders, fills, strategies |
//! | `GET /admin/strategies?limit&offset` | running and paused deployments of every user, with their owner and performance |
//! | `GET /admin/jobs?limit` | queued and running research jobs of every user |

mod jobs;
mod overview;
mod strategies;
mod traders;

use api::Routes;
use app::AppState;
use axum::http::Method;

pub fn routes() -> Routes {
    Routes::new()
        .add(Method::GET, "/admin/overview", overview::overview)
        .add(Method::GET, "/admin/traders", traders::traders)
        .add(Method::GET, "/admin/strategies", strategies::strategies)
        .add(Method::GET, "/admin/jobs", jobs::jobs)
}

/// The function's part of the OpenAPI document.
#[derive(Debug, utoipa::OpenApi)]
#[openapi(paths(
    overview::overview,
    traders::traders,
    strategies::strategies,
    jobs::jobs
))]
pub struct Api;

pub fn router(state: AppState) -> axum::Router {
    routes().into_router(state)
}

/// The e-mail of each user among `users`, looked up once each.
async fn emails(
    state: &AppState,
    users: Vec<domain::UserId>,
) -> api::ApiResult<std::collections::BTreeMap<domain::UserId, String>> {
    let mut out = std::collections::BTreeMap::new();
    for user in users {
        if let std::collections::btree_map::Entry::Vacant(e) = out.entry(user) {
            if let Some(record) = state.users.by_id(user).await? {
                e.insert(record.email);
            }
        }
    }
    Ok(out)
}

/// A page of a list: `limit` rows (default 50, at most 200) after skipping `offset`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Rows to return (default 50).
    #[serde(default)]
    #[param(minimum = 1, maximum = 200)]
    limit: Option<usize>,
    /// Rows to skip (default 0).
    #[serde(default)]
    #[param(minimum = 0, maximum = 100000)]
    offset: Option<usize>,
}

impl PageQuery {
    /// `(offset, limit)`, or a 400 naming the parameter out of range.
    fn bounds(&self) -> api::ApiResult<(usize, usize)> {
        let limit = self.limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(api::ApiError::bad_query("limit", "must be 1 to 200"));
        }
        let offset = self.offset.unwrap_or(0);
        if offset > 100_000 {
            return Err(api::ApiError::bad_query("offset", "must be 0 to 100000"));
        }
        Ok((offset, limit))
    }
}

/// Where the next page starts, if there may be one.
fn next_offset(offset: usize, limit: usize, returned: usize) -> Option<usize> {
    (returned == limit).then_some(offset + limit)
}
