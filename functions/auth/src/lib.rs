//! The auth function: registration, login, token refresh and logout, the caller's
//! profile, API keys for bots, and role changes by admins.
//!
//! | route | what |
//! |---|---|
//! | `POST /auth/register` | `{email, password}` → 202, the same for a new and a taken email |
//! | `POST /auth/login` | `{email, password}` → access token (15 min) + refresh token |
//! | `POST /auth/refresh` | `{refresh_token}` → a new pair; the old refresh token is spent |
//! | `POST /auth/logout` | `{refresh_token}` → 204; the login's every token is revoked |
//! | `GET /auth/me` | the caller |
//! | `POST/GET /auth/api-keys`, `DELETE /auth/api-keys/{key_id}` | API keys (shown once) |
//! | `PUT /auth/users/{user_id}/role` | admins change a user's role |
//!
//! Passwords are hashed with argon2id at OWASP's minimum cost (19 MiB, 2 passes, 1 lane)
//! on the blocking pool. A failed login counts against the email whether or not it is
//! registered, and the unknown-email path verifies against a dummy hash, so neither the
//! answer, the lockout nor the timing tells whether an email exists. Logins are also
//! limited per client IP (429).

mod api_keys;
mod password;
mod sessions;
mod users;

use api::Routes;
use app::AppState;
use axum::http::Method;

pub use password::{PASSWORD_MAX, PASSWORD_MIN, hash_password, verify_password};

/// The function's routes (see the module docs).
pub fn routes() -> Routes {
    Routes::new()
        .add(Method::POST, "/auth/register", users::register)
        .add(Method::POST, "/auth/login", sessions::login)
        .add(Method::POST, "/auth/refresh", sessions::refresh)
        .add(Method::POST, "/auth/logout", sessions::logout)
        .add(Method::GET, "/auth/me", users::me)
        .add(Method::POST, "/auth/api-keys", api_keys::create)
        .add(Method::GET, "/auth/api-keys", api_keys::list)
        .add(Method::DELETE, "/auth/api-keys/{key_id}", api_keys::revoke)
        .add(Method::PUT, "/auth/users/{user_id}/role", users::set_role)
}

/// The function's part of the OpenAPI document.
#[derive(Debug, utoipa::OpenApi)]
#[openapi(paths(
    users::register,
    sessions::login,
    sessions::refresh,
    sessions::logout,
    users::me,
    api_keys::create,
    api_keys::list,
    api_keys::revoke,
    users::set_role,
))]
pub struct Api;

/// The function's router with the shared middleware.
pub fn router(state: AppState) -> axum::Router {
    routes().into_router(state)
}
