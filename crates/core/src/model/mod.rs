//! The identity model shared by both APIs: users, orgs (Parsable "teams"), memberships, regions,
//! workspaces, external identities, sessions, credentials and audit events.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

mod audit;
mod client_registration;
mod credentials;
mod device;
mod factors;
mod ids;
mod oauth;
mod orgs;
mod principal;
mod service_accounts;
mod sessions;
mod settings;
mod sso_flows;
mod users;
mod workspaces;

pub use audit::*;
pub use client_registration::*;
pub use credentials::*;
pub use device::*;
pub use factors::*;
pub use ids::*;
pub use oauth::*;
pub use orgs::*;
pub use principal::*;
pub use service_accounts::*;
pub use sessions::*;
pub use settings::*;
pub use sso_flows::*;
pub use users::*;
pub use workspaces::*;

/// Which page of a listing to return: rows strictly after the cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_more: bool,
}
