//! The shared store test suite: every case runs against SQLite and against PostgreSQL
//! (the latter when `PORTCULLIS_TEST_POSTGRES_URL` is set).

mod common;

store_tests!(
    users_email_unique_in_any_case,
    users_update_and_list,
    orgs_regions_and_memberships,
    preregister_invites_existing_accounts,
    invitations_accepted_once_at_sign_in,
    deactivation_is_atomic_with_events,
    sessions_lifecycle,
    credentials_by_hash_and_listing,
    replace_persistent_revokes_previous,
    persistent_credentials_listed_in_their_org_only,
    api_keys_capped_per_user_under_concurrency,
    register_resources_all_or_nothing,
    workspaces_and_grants,
    search_org_users_queries,
    search_org_users_sort_and_paging,
    login_activity_order,
    throttle_claim_is_atomic,
    throttle_lock_semantics,
    revocation_snapshot_and_events,
    audit_append_and_filters,
    audit_large_batches_keep_every_event_in_order,
    keys_lifecycle,
    key_revocation_is_atomic_with_event,
    password_reset_codes_are_single_use,
    revoke_user_credentials_everywhere,
    settings_and_job_permissions,
    team_settings_batches_are_atomic,
    team_settings_concurrent_limit,
    team_priorities_replace_and_clear,
    team_less_sessions,
    allowlist_entries,
    external_identities_and_provisioning,
    bootstrap_only_once,
    bootstrap_concurrent_single_winner,
    replace_persistent_concurrent,
    register_resources_concurrent,
    migrate_twice_is_noop,
    removal_and_org_disable_cut_off_tokens,
    sso_flows_single_use_and_expiry,
    unit_of_work_commit_persists_every_write,
    unit_of_work_dropped_persists_nothing,
);

/// The cases, one file per area.
#[path = "store_suite/cases/mod.rs"]
mod cases;
