//! The store suite's cases, one file per area; `store_tests!` names them as `cases::<name>`.

mod accounts;
mod lifecycle;
mod mfa;
mod oauth;
mod passkeys;
mod security;
mod sessions_credentials;
mod settings_onboarding;
mod team_token_reads;
mod unit_of_work;
mod workspaces_search;

pub use accounts::*;
pub use lifecycle::*;
pub use mfa::*;
pub use oauth::*;
pub use passkeys::*;
pub use security::*;
pub use sessions_credentials::*;
pub use settings_onboarding::*;
pub use team_token_reads::*;
pub use unit_of_work::*;
pub use workspaces_search::*;
