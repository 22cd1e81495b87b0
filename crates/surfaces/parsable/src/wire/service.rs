//! `AuthenticationService` (authentication.thrift): the `<fn>_args` and `<fn>_result`
//! structs of every function, described once each with `thrift_struct!`.
//!
//! Rust names: `<Fn>Args` for `<fn>_args`, `<Fn>Reply` for `<fn>_result` (whose field 0
//! `success` is absent for void functions; field 1 is the declared `err`). A struct's name is
//! not on the wire, so functions with the same arguments, or the same return type, share one
//! struct and name it with a type alias each.
//! Keep this file in step with the `service AuthenticationService` block of the IDL.

use portcullis_thrift::thrift_struct;

use super::authentication::{
    AuthTokenMetaResult, LoginOptions, LoginResult, SSORequest, TeamSelectResult, ValidAuthTypes,
};
use super::common::SystemException;
use super::user::User;

// ------------------------------------------------------------------ arguments

thrift_struct! {
    /// `login_args` and `loginWithTeamSelect_args`.
    pub struct LoginArgs {
        1: email "email": String,
        2: password "password": String,
        3: options "options": LoginOptions,
    }
}

/// `loginWithTeamSelect_args`.
pub type LoginWithTeamSelectArgs = LoginArgs;

thrift_struct! {
    /// `loginWithSSO_args`.
    pub struct LoginWithSsoArgs {
        1: request "request": SSORequest,
    }
}

thrift_struct! {
    /// `loginWithIdp_args` and `loginWithIdpAndTeamSelect_args`.
    pub struct LoginWithIdpArgs {
        1: options "options": LoginOptions,
    }
}

/// `loginWithIdpAndTeamSelect_args`.
pub type LoginWithIdpAndTeamSelectArgs = LoginWithIdpArgs;

thrift_struct! {
    /// `loginWithIdpAndTeam_args`.
    pub struct LoginWithIdpAndTeamArgs {
        1: team_id "teamId": String,
        2: options "options": LoginOptions,
    }
}

thrift_struct! {
    /// The arguments of a function without parameters.
    pub struct NoArgs {
    }
}

/// `logout_args`.
pub type LogoutArgs = NoArgs;
/// `refresh_args`.
pub type RefreshArgs = NoArgs;
/// `getCurrentUser_args`.
pub type GetCurrentUserArgs = NoArgs;

thrift_struct! {
    /// `createTeamToken_args`.
    pub struct CreateTeamTokenArgs {
        1: team_id "teamId": String,
    }
}

thrift_struct! {
    /// `loginWithToken_args`.
    pub struct LoginWithTokenArgs {
        1: auth_token "authToken": String,
    }
}

thrift_struct! {
    /// `startLogin_args`.
    pub struct StartLoginArgs {
        1: email "email": String,
    }
}

thrift_struct! {
    /// `createPersistentAuth_args` and `revokePersistentAuth_args`.
    pub struct CreatePersistentAuthArgs {
        1: user_id "userId": String,
    }
}

/// `revokePersistentAuth_args`.
pub type RevokePersistentAuthArgs = CreatePersistentAuthArgs;

thrift_struct! {
    /// `fetchPersistentAuthTokensMeta_args`.
    pub struct FetchPersistentAuthTokensMetaArgs {
        1: team_id "teamId": String,
        2: user_ids "userIds": Vec<String>,
    }
}

// ------------------------------------------------------------------ results

/// The `<fn>_result` of the functions returning `$t`.
macro_rules! result_struct {
    ($(#[$m:meta])* $name:ident: $t:ty) => {
        thrift_struct! {
            $(#[$m])*
            pub struct $name {
                0: optional success "success": $t,
                1: optional err "err": SystemException,
            }
        }

        impl $name {
            /// The successful result.
            pub fn ok(v: $t) -> $name {
                $name {
                    success: Some(v),
                    err: None,
                }
            }
        }
    };
}

result_struct!(
    /// The result of the functions returning `LoginResult`.
    LoginResultReply: LoginResult
);
result_struct!(
    /// The result of the functions returning `TeamSelectResult`.
    TeamSelectReply: TeamSelectResult
);
result_struct!(
    /// `startLogin_result`.
    ValidAuthTypesReply: ValidAuthTypes
);
result_struct!(
    /// `getCurrentUser_result`.
    UserReply: User
);
result_struct!(
    /// `fetchPersistentAuthTokensMeta_result`.
    AuthTokenMetaListReply: Vec<AuthTokenMetaResult>
);

thrift_struct! {
    /// The result of a void function; with `err` set, also the err result of any function
    /// (an absent `success` is not written).
    pub struct VoidReply {
        1: optional err "err": SystemException,
    }
}

/// `login_result`.
pub type LoginReply = LoginResultReply;
/// `loginWithSSO_result`.
pub type LoginWithSsoReply = LoginResultReply;
/// `loginWithTeamSelect_result`.
pub type LoginWithTeamSelectReply = TeamSelectReply;
/// `loginWithIdp_result`.
pub type LoginWithIdpReply = LoginResultReply;
/// `loginWithIdpAndTeam_result`.
pub type LoginWithIdpAndTeamReply = LoginResultReply;
/// `loginWithIdpAndTeamSelect_result`.
pub type LoginWithIdpAndTeamSelectReply = TeamSelectReply;
/// `logout_result`.
pub type LogoutReply = VoidReply;
/// `createTeamToken_result`.
pub type CreateTeamTokenReply = LoginResultReply;
/// `loginWithToken_result`.
pub type LoginWithTokenReply = LoginResultReply;
/// `startLogin_result`.
pub type StartLoginReply = ValidAuthTypesReply;
/// `refresh_result`.
pub type RefreshReply = LoginResultReply;
/// `getCurrentUser_result`.
pub type GetCurrentUserReply = UserReply;
/// `createPersistentAuth_result`.
pub type CreatePersistentAuthReply = LoginResultReply;
/// `revokePersistentAuth_result`.
pub type RevokePersistentAuthReply = VoidReply;
/// `fetchPersistentAuthTokensMeta_result`.
pub type FetchPersistentAuthTokensMetaReply = AuthTokenMetaListReply;
