//! The OpenID provider's records: clients and secrets, codes, refresh tokens and grant
//! sessions, consents, and the back-channel logout outbox with every revocation path that
//! fills it.

mod clients;
mod device;
mod grants;
mod logout;
mod registrations;
mod service_accounts;

pub use clients::*;
pub use device::*;
pub use grants::*;
pub use logout::*;
pub use registrations::*;
pub use service_accounts::*;

use portcullis_core::model::*;
use portcullis_core::store::Store;

use crate::common::*;

/// An org, a user with a browser session `b`, and the client `app`.
pub(super) async fn signed_in(s: &dyn Store) -> (OrgId, User) {
    let o = org(s, "acme").await;
    let u = member(s, "u@x.io", o, &[]).await;
    s.create_oauth_client(oauth_client("app", None, None))
        .await
        .unwrap();
    s.create_session(session("b", u.id, o, t(3600)))
        .await
        .unwrap();
    (o, u)
}
