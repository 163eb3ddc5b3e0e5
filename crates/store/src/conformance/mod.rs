//! One conformance suite per port, run against every adapter: the contract of a port is
//! what these functions check, and an adapter is only done when it passes them.
//!
//! Each suite is a set of `pub async fn`s taking a factory for a fresh, empty instance;
//! `kv_conformance!` and `stream_conformance!` expand them into one `#[tokio::test]` per
//! case for a given adapter (see `tests/`).

pub mod account_stores;
pub mod kv;
pub mod records;
pub mod stores;
pub mod strategy_modules;
pub mod stream;

/// Expands the key-value suite into tests for one adapter: `kv_conformance!(factory)`
/// where `factory: fn(Clock) -> impl Future<Output = Arc<dyn KvTable>>`.
#[macro_export]
macro_rules! kv_conformance {
    ($factory:path) => {
        $crate::kv_conformance!(@cases $factory,
            put_get_and_versions,
            conditional_create_race_has_exactly_one_winner,
            optimistic_update_race_has_exactly_one_winner,
            idempotent_replay_returns_the_original,
            ttl_attribute_is_written_and_expired_items_are_gone,
            conditional_delete,
            query_by_prefix_in_order,
            transactions_are_all_or_nothing,
            malformed_transactions_are_refused,
        );
        $crate::kv_conformance!(@stores $factory,
            users_have_unique_emails_even_when_registering_at_once,
            api_keys_are_listed_found_and_revoked,
            refresh_tokens_rotate_and_reuse_revokes_the_family,
            racing_rotations_of_one_token_are_a_reuse,
            failed_logins_lock_the_email_and_rate_limits_refill,
            leases_are_exclusive_renewable_and_expire,
        );
        $crate::kv_conformance!(@accounts $factory,
            risk_limits_halts_and_day_baselines,
            broker_connections_are_listed_and_removed,
            last_prices_only_move_forward,
            tapes_keep_the_newest_trades_and_open_candles,
            events_apply_exactly_once_even_when_racing,
            dead_letters_are_kept_per_consumer,
            the_core_status_only_moves_forward,
        );
        $crate::kv_conformance!(@modules $factory,
            strategy_modules_are_stored_whole_and_read_by_their_owner,
            strategy_modules_are_capped_per_user_even_when_uploading_at_once,
        );
    };
    (@modules $factory:path, $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::conformance::strategy_modules::$case(|clock| $factory(clock)).await;
            }
        )*
    };
    (@accounts $factory:path, $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::conformance::account_stores::$case(|clock| $factory(clock)).await;
            }
        )*
    };
    (@stores $factory:path, $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::conformance::stores::$case(|clock| $factory(clock)).await;
            }
        )*
    };
    (@cases $factory:path, $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::conformance::kv::$case(|clock| $factory(clock)).await;
            }
        )*
    };
}

/// Expands the stream suite into tests for one adapter: `stream_conformance!(factory)`
/// where `factory: fn() -> impl Future<Output = Arc<dyn StreamLog>>`.
#[macro_export]
macro_rules! stream_conformance {
    ($factory:path) => {
        $crate::stream_conformance!(@cases $factory,
            per_partition_order_over_ten_thousand_records,
            resume_from_a_checkpoint_without_gaps_or_repeats,
            duplicate_delivery_is_tolerated_by_idempotent_consumers,
            reads_at_and_after_a_sequence_number,
            bad_publishes_and_unknown_shards_are_refused,
        );
    };
    (@cases $factory:path, $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::conformance::stream::$case(|| $factory()).await;
            }
        )*
    };
}

/// Expands the system-of-record suites into tests for one adapter, a module per port:
/// `records_conformance!(factory)` where
/// `factory: fn() -> impl Future<Output = Arc<dyn RecordStore>>`.
#[macro_export]
macro_rules! records_conformance {
    ($factory:path) => {
        async fn records_under_test() -> std::sync::Arc<dyn $crate::records::RecordStore> {
            $factory().await
        }
        $crate::records_conformance!(@port account_ledger, ledger,
            accounts_are_scoped_to_their_user,
            ledger_posts_are_idempotent_and_refuse_overdrafts,
            concurrent_withdrawals_never_overdraw,
            withdrawals_keep_what_working_buys_reserve,
        );
        $crate::records_conformance!(@port order_records, orders,
            orders_are_unique_per_client_id_and_scoped_to_their_user,
            order_pages_follow_the_cursor_and_the_filters,
            exposure_follows_working_orders,
            orders_reserve_cash_and_shares_in_the_insert,
            racing_orders_never_reserve_more_than_the_account_has,
            amend_holds_last_until_the_core_applies_the_amend,
            a_deployments_fills_are_those_of_the_orders_it_placed,
        );
        $crate::records_conformance!(@port order_withdrawals, withdrawals,
            an_order_never_sent_is_withdrawn_with_all_it_reserved,
            an_order_the_core_has_taken_is_not_withdrawn,
            only_the_accounts_own_orders_are_withdrawn,
            withdrawals_racing_inserts_never_let_both_stand_nor_leak,
        );
        $crate::records_conformance!(@port strategy_records, strategies,
            deployments_are_kept_and_scoped_to_their_user,
        );
        $crate::records_conformance!(@port market_history, history,
            committed_candles_are_the_history,
            saved_candles_page_from_the_newest_and_load_idempotently,
        );
        $crate::records_conformance!(@port report_records, reports,
            report_rows_are_kept_per_account_and_day,
        );
        $crate::records_conformance!(@port core_commit, commit,
            commits_are_all_or_nothing_and_idempotent,
            applied_commands_are_remembered_newest_last,
            commits_carry_orders_fills_and_positions_together,
        );
        $crate::records_conformance!(@port outbox_queue, outbox,
            the_outbox_relays_in_order,
        );
        $crate::records_conformance!(@port research_jobs, research,
            jobs_are_scoped_to_their_user_and_listed_newest_first,
            workers_claim_each_job_once_and_finish_it,
            jobs_of_a_stopped_process_are_failed_not_left_running,
            active_jobs_of_every_user_are_listed_oldest_first,
        );
        $crate::records_conformance!(@port platform_activity, activity,
            activity_counts_orders_and_fills_per_minute_and_account,
        );
    };
    (@port $port:ident, $suite:ident, $($case:ident),* $(,)?) => {
        mod $port {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    $crate::conformance::records::$suite::$case(super::records_under_test).await;
                }
            )*
        }
    };
}
