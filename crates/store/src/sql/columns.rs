//! Column lists, as macros so that statements stay `&'static str` (built with `concat!`). Rows
//! are decoded by position in these orders; the prefixed lists (`"u."`) are for joins.

macro_rules! user_cols {
    ($p:literal) => {
        concat!(
            $p,
            "id, ",
            $p,
            "email, ",
            $p,
            "display_name, ",
            $p,
            "avatar_url, ",
            $p,
            "password_hash, ",
            $p,
            "validated_at, ",
            $p,
            "super_admin, ",
            $p,
            "deactivated, ",
            $p,
            "password_reset_required, ",
            $p,
            "created_at, ",
            $p,
            "updated_at"
        )
    };
}

macro_rules! membership_cols {
    ($p:literal) => {
        concat!(
            $p,
            "user_id, ",
            $p,
            "org_id, ",
            $p,
            "roles, ",
            $p,
            "kind, ",
            $p,
            "deactivated, ",
            $p,
            "last_login_at, ",
            $p,
            "created_at, ",
            $p,
            "updated_at, ",
            $p,
            "removed_at"
        )
    };
}

macro_rules! invitation_cols {
    () => {
        "org_id, user_id, roles, kind, invited_by, created_at, expires_at, accepted_at, revoked_at"
    };
}

macro_rules! org_cols {
    () => {
        "id, name, display_name, region_id, disabled, default_workspace, created_at, updated_at"
    };
}

macro_rules! region_cols {
    () => {
        "id, api_host, sig_host, static_host"
    };
}

macro_rules! workspace_cols {
    () => {
        "id, org_id, slug, display_name, symbol, settings, created_at, updated_at"
    };
}

macro_rules! identity_cols {
    () => {
        "issuer, subject, user_id, provider_alias, created_at"
    };
}

macro_rules! session_cols {
    () => {
        "id, user_id, org_id, kind, amr, actor_id, created_at, expires_at, idle_timeout_secs, \
         last_seen_at, revoked_at, ip, user_agent, grant_client_id, grant_parent_id, \
         grant_offline"
    };
}

macro_rules! credential_cols {
    ($p:literal) => {
        concat!(
            $p,
            "id, ",
            $p,
            "kind, ",
            $p,
            "user_id, ",
            $p,
            "org_id, ",
            $p,
            "creator_id, ",
            $p,
            "name, ",
            $p,
            "secret_hash, ",
            $p,
            "created_at, ",
            $p,
            "expires_at, ",
            $p,
            "revoked_at, ",
            $p,
            "revoked_by"
        )
    };
}

macro_rules! key_cols {
    () => {
        "kid, purpose, algorithm, sealed_private, public, created_at, retired_at, revoked_at"
    };
}

macro_rules! audit_cols {
    () => {
        "id, at, actor, action, target, outcome, ip, request_id, detail"
    };
}

macro_rules! oauth_client_cols {
    ($p:literal) => {
        concat!(
            $p,
            "client_id, ",
            $p,
            "org_id, ",
            $p,
            "settings, ",
            $p,
            "backchannel_logout_uri, ",
            $p,
            "declarative, ",
            $p,
            "disabled_at, ",
            $p,
            "created_at, ",
            $p,
            "updated_at"
        )
    };
}

macro_rules! oauth_code_cols {
    () => {
        "code_hash, client_id, browser_session, user_id, org_id, redirect_uri, scopes, nonce, \
         code_challenge, auth_time, amr, acr, created_at, expires_at, consumed_at, grant_session"
    };
}

macro_rules! refresh_token_cols {
    () => {
        "token_hash, grant_session, client_id, user_id, org_id, scopes, auth_time, amr, acr, \
         issued_at, expires_at, rotated_at, revoked_at"
    };
}

macro_rules! logout_notice_cols {
    () => {
        "id, client_id, uri, user_id, sid, created_at, attempts, next_attempt_at, delivered_at, \
         last_error"
    };
}
