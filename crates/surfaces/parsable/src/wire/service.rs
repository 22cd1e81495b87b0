//! `AuthenticationService` (authentication.thrift): the `<fn>_args` and `<fn>_result`
//! structs of every function, described once each with `thrift_struct!`.
//!
//! Rust names: `<Fn>Args` for `<fn>_args`, `<Fn>Reply` for `<fn>_result` (whose field 0
//! `success` is absent for void functions; field 1 is the declared `err`).
//! Keep this file in step with the `service AuthenticationService` block of the IDL.

use portcullis_thrift::thrift_struct;

use super::authentication::{
    AuthTokenMetaResult, LoginOptions, LoginResult, SSORequest, TeamSelectResult, ValidAuthTypes,
};
use super::common::SystemException;
use super::user::User;

thrift_struct! {
    /// `login_args`.
    pub struct LoginArgs {
        1: email "email": String,
        2: password "password": String,
        3: options "options": LoginOptions,
    }
}

thrift_struct! {
    /// `login_result`.
    pub struct LoginReply {
        0: optional success "success": LoginResult,
        1: optional err "err": SystemException,
    }
}

thrift_struct! {
    /// `loginWithSSO_args`.
    pub struct LoginWithSsoArgs {
        1: request "request": SSORequest,
    }
}

thrift_struct! {
    /// `loginWithSSO_result`.
    pub struct LoginWithSsoReply {
        0: optional success "success": LoginResult,
        1: optional err "err": SystemException,
    }
}

thrift_struct! {
    /// `loginWithTeamSelect_args`.
    pub struct LoginWithTeamSelectArgs {
        1: email "email": String,
        2: password "password": String,
        3: options "options": LoginOptions,
    }
}

thrift_struct! {
    /// `loginWithTeamSelect_result`.
    pub struct LoginWithTeamSelectReply {
        0: optional success "success": TeamSelectResult,
        1: optional err "err": SystemException,
    }
}

thrift_struct! {
    /// `loginWithIdp_args`.
    pub struct LoginWithIdpArgs {
        1: options "options": LoginOptions,
    }
}

thrift_struct! {
    /// `loginWithIdp_result`.
    pub struct LoginWithIdpReply {
        0: optional success "success": LoginResult,
        1: optional err "err": SystemException,
    }
}

thrift_struct! {
    /// `loginWithIdpAndTeam_args`.
    pub struct LoginWithIdpAndTeamArgs {
        1: team_id "teamId": String,
        2: options "options": LoginOptions,
    }
}

thrift_struct! {
    /// `loginWithIdpAndTeam_result`.
    pub struct LoginWithIdpAndTeamReply {
        0: optional success "success": LoginResult,
        1: optional err "err": SystemException,
    }
}

thrift_struct! {
    /// `loginWithIdpAndTeamSelect_args`.
    pub struct LoginWithIdpAndTeamSelectArgs {
        1: options "options": LoginOptions,
    }
}

thrift_struct! {
    /// `loginWithIdpAndTeamSelect_result`.
    pub struct LoginWithIdpAndTeamSelectReply {
        0: optional success "success": TeamSelectResult,
        1: optional err "err": SystemException,
    }
}

thrift_struct! {
    /// `logout_args`.
    pub struct LogoutArgs {
    }
}

thrift_struct! {
    /// `logout_result`.
    pub struct LogoutReply {
        1: optional err "err": SystemException,
    }
}

thrift_struct! {
    /// `createTeamToken_args`.
    pub struct CreateTeamTokenArgs {
        1: team_id "teamId": String,
    }
}

thrift_struct! {
    /// `createTeamToken_result`.
    pub struct CreateTeamTokenReply {
        0: optional success "success": LoginResult,
        1: optional err "err": SystemException,
    }
}

thrift_struct! {
    /// `loginWithToken_args`.
    pub struct LoginWithTokenArgs {
        1: auth_token "authToken": String,
    }
}

thrift_struct! {
    /// `loginWithToken_result`.
    pub struct LoginWithTokenReply {
        0: optional success "success": LoginResult,
        1: optional err "err": SystemException,
    }
}

thrift_struct! {
    /// `startLogin_args`.
    pub struct StartLoginArgs {
        1: email "email": String,
    }
}

thrift_struct! {
    /// `startLogin_result`.
    pub struct StartLoginReply {
        0: optional success "success": ValidAuthTypes,
        1: optional err "err": SystemException,
    }
}

thrift_struct! {
    /// `refresh_args`.
    pub struct RefreshArgs {
    }
}

thrift_struct! {
    /// `refresh_result`.
    pub struct RefreshReply {
        0: optional success "success": LoginResult,
        1: optional err "err": SystemException,
    }
}

thrift_struct! {
    /// `getCurrentUser_args`.
    pub struct GetCurrentUserArgs {
    }
}

thrift_struct! {
    /// `getCurrentUser_result`.
    pub struct GetCurrentUserReply {
        0: optional success "success": User,
        1: optional err "err": SystemException,
    }
}

thrift_struct! {
    /// `createPersistentAuth_args`.
    pub struct CreatePersistentAuthArgs {
        1: user_id "userId": String,
    }
}

thrift_struct! {
    /// `createPersistentAuth_result`.
    pub struct CreatePersistentAuthReply {
        0: optional success "success": LoginResult,
        1: optional err "err": SystemException,
    }
}

thrift_struct! {
    /// `revokePersistentAuth_args`.
    pub struct RevokePersistentAuthArgs {
        1: user_id "userId": String,
    }
}

thrift_struct! {
    /// `revokePersistentAuth_result`.
    pub struct RevokePersistentAuthReply {
        1: optional err "err": SystemException,
    }
}

thrift_struct! {
    /// `fetchPersistentAuthTokensMeta_args`.
    pub struct FetchPersistentAuthTokensMetaArgs {
        1: team_id "teamId": String,
        2: user_ids "userIds": Vec<String>,
    }
}

thrift_struct! {
    /// `fetchPersistentAuthTokensMeta_result`.
    pub struct FetchPersistentAuthTokensMetaReply {
        0: optional success "success": Vec<AuthTokenMetaResult>,
        1: optional err "err": SystemException,
    }
}
