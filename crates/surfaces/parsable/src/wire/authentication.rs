//! IDL module `authentication`: enums and structs (authentication.thrift).

use std::collections::BTreeMap;

use portcullis_thrift::{thrift_enum, thrift_struct};

use super::team::{JobPermissions, PriorityLevel, Reference, Region};
use super::user::{TeamRole, User, UserModular};

thrift_enum! {
    /// Third-party single sign-on providers accepted by `loginWithSSO`.
    pub enum SSOProvider {
        OKTA = 1,
    }
}

thrift_struct! {
    /// Session lifetime milestones (durations in seconds, see PARSABLE.md §7).
    pub struct AuthPeriods {
        1: warning "warning": i64,
        2: lockout "lockout": i64,
        3: dump "dump": i64,
        4: expiry "expiry": i64,
    }
}

thrift_struct! {
    /// Sentinel: password login is allowed.
    pub struct PasswordAuth {}
}

thrift_struct! {
    /// Browser-based SSO entry point.
    pub struct WebSSOAuth {
        1: url "url": String,
    }
}

thrift_struct! {
    /// How to reach the OIDC identity provider that fronts this user's team.
    pub struct IdpAuth {
        1: optional idp_alias "idpAlias": String,
        2: optional issuer "issuer": String,
        3: optional authorization_endpoint "authorizationEndpoint": String,
        4: optional token_endpoint "tokenEndpoint": String,
        5: optional is_multi_team "isMultiTeam": bool,
        6: optional end_session_endpoint "endSessionEndpoint": String,
    }
}

thrift_struct! {
    /// Answer of `startLogin`.
    pub struct ValidAuthTypes {
        1: optional password_auth "passwordAuth": PasswordAuth,
        2: optional web_sso "webSSO": WebSSOAuth,
        3: optional is_automatically_provisioned "isAutomaticallyProvisioned": bool,
        4: optional is_sso "isSSO": bool,
        5: optional idp_auth "idpAuth": IdpAuth,
        6: optional is_idp_auth "isIdpAuth": bool,
    }
}

thrift_struct! {
    /// Optional extras for the login calls.
    pub struct LoginOptions {
        1: optional certificate_signing_request "certificateSigningRequest": String,
        2: optional proxied_user_email "proxiedUserEmail": String,
        /// Accepted and ignored: never stored, logged or echoed.
        100: optional user_private_key "userPrivateKey": String,
    }
}

thrift_struct! {
    /// Per-team settings and lists sent with a login.
    pub struct TeamInfo {
        1: bool_settings "boolSettings": BTreeMap<String, bool>,
        2: text_settings "textSettings": BTreeMap<String, String>,
        3: option_settings "optionSettings": BTreeMap<String, String>,
        4: reference_list_settings "referenceListSettings": BTreeMap<String, Vec<Reference>>,
        5: string_list_settings "stringListSettings": BTreeMap<String, Vec<String>>,
        20: optional priorities "priorities": Vec<PriorityLevel>,
    }
}

thrift_struct! {
    /// Result of a successful sign-in (or refresh / token exchange).
    pub struct LoginResult {
        1: auth_token "authToken": String,
        2: current_user "currentUser": User,
        3: team_id_to_team_role "teamIdToTeamRole": BTreeMap<String, Vec<TeamRole>>,
        4: team_id_to_region_id "teamIdToRegionId": BTreeMap<String, String>,
        5: region_id_to_region "regionIdToRegion": BTreeMap<String, Region>,
        6: preferred_region_id "preferredRegionId": String,
        7: periods "periods": AuthPeriods,
        8: team_id_to_job_permissions "teamIdToJobPermissions": BTreeMap<String, JobPermissions>,
        9: team_id_to_info "teamIdToInfo": BTreeMap<String, TeamInfo>,
        10: optional mothership_certificate "mothershipCertificate": String,
        11: optional user_certificate "userCertificate": String,
        12: session_id "sessionId": String,
        13: optional proxy_user_email "proxyUserEmail": String,
        14: current_user_modular "currentUserModular": UserModular,
        15: optional user_pin_hash "userPinHash": String,
    }
}

thrift_struct! {
    /// One team offered to a user who must choose.
    pub struct LoginTeamInfo {
        1: name "name": String,
        2: team_id "teamId": String,
    }
}

thrift_struct! {
    /// Either a finished login (one team) or the teams to choose from.
    pub struct TeamSelectResult {
        1: optional login_result "loginResult": LoginResult,
        2: optional team_info "teamInfo": Vec<LoginTeamInfo>,
    }
}

thrift_struct! {
    /// Argument of `loginWithSSO`.
    pub struct SSORequest {
        1: required provider "provider": SSOProvider,
        2: optional token "token": String,
        3: optional parameter "parameter": String,
    }
}

thrift_struct! {
    /// Metadata of one persistent auth token.
    pub struct AuthTokenMetaResult {
        1: user_id "userId": String,
        2: creator_id "creatorId": String,
        3: created_at "createdAt": i64,
        4: optional user_email "userEmail": String,
        5: optional creator_email "creatorEmail": String,
        6: optional revoked_at "revokedAt": i64,
        7: optional revoked_by_id "revokedById": String,
        8: optional revoked_by_email "revokedByEmail": String,
        9: optional token "token": String,
        10: optional user_name "userName": String,
        11: optional creator_name "creatorName": String,
        12: optional revoked_by_name "revokedByName": String,
    }
}
