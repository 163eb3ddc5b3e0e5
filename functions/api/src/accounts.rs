//! Resolving a path's account id to the caller's account: an unknown id, a malformed
//! one and another user's all answer the same 404, so ids cannot be probed.

use domain::{Account, AccountId};

use crate::error::{ApiError, ApiResult};
use crate::principal::Principal;
use app::state::AppState;

/// The caller's account `id`, or 404.
pub async fn owned(state: &AppState, principal: &Principal, id: &str) -> ApiResult<Account> {
    let not_found = || ApiError::not_found(format!("no account {id:?}"));
    let id = AccountId::parse(id).map_err(|_| not_found())?;
    state
        .accounts
        .account(principal.user_id, id)
        .await?
        .ok_or_else(not_found)
}
