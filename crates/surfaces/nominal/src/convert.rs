//! Conversions between the core model and the Conjure wire types.

use portcullis_core::engine::{Engine, IssuedToken};
use portcullis_core::model::{
    Credential, CredentialId, OrgId, Timestamp, User, UserId, Workspace as CoreWorkspace,
    WorkspaceId as CoreWorkspaceId,
};
use portcullis_core::rid::{Rid as CoreRid, Rids};

use crate::auth::internal;
use crate::wire::{self, ConjureDateTime, ConjureError, ConjureUuid, Rid, SafeLong};

/// A RID minted by the core, as a wire RID.
pub fn wire_rid(s: String) -> Result<Rid, ConjureError> {
    Rid::parse(&s).map_err(|e| internal(format!("minted an invalid RID: {e}")))
}

fn core_rid(r: &Rid) -> Option<CoreRid> {
    CoreRid::parse(r.as_str()).ok()
}

/// Well-formed RIDs of another kind or instance read as `None` (treated as unknown).
pub fn user_id(rids: &Rids, r: &Rid) -> Option<UserId> {
    core_rid(r).and_then(|r| rids.parse_user(&r))
}
pub fn org_id(rids: &Rids, r: &Rid) -> Option<OrgId> {
    core_rid(r).and_then(|r| rids.parse_org(&r))
}
pub fn workspace_id(rids: &Rids, r: &Rid) -> Option<CoreWorkspaceId> {
    core_rid(r).and_then(|r| rids.parse_workspace(&r))
}
pub fn api_key_id(rids: &Rids, r: &Rid) -> Option<CredentialId> {
    core_rid(r).and_then(|r| rids.parse_api_key(&r))
}

pub fn datetime(t: Timestamp) -> ConjureDateTime {
    ConjureDateTime(t)
}

pub fn safelong(v: i64) -> Result<SafeLong, ConjureError> {
    SafeLong::new(v).map_err(|_| internal("value out of safelong range"))
}

pub fn user_v2(engine: &Engine, user: &User, org: OrgId) -> Result<wire::UserV2, ConjureError> {
    let rids = engine.rids();
    Ok(wire::UserV2 {
        rid: wire::UserRid(wire_rid(rids.user(user.id))?),
        org_rid: wire::OrgRid(wire_rid(rids.org(org))?),
        email: user.email.clone(),
        display_name: if user.display_name.trim().is_empty() {
            portcullis_core::directory::default_display_name(&user.email)
        } else {
            user.display_name.clone()
        },
        avatar_url: user.avatar_url.clone().unwrap_or_default(),
        created_at: Some(datetime(user.created_at)),
    })
}

pub fn workspace(engine: &Engine, ws: &CoreWorkspace) -> Result<wire::Workspace, ConjureError> {
    let rids = engine.rids();
    let symbol = match &ws.symbol {
        Some(v) => match serde_json::from_value::<wire::WorkspaceSymbol>(v.clone()) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(workspace = %ws.id, error = %e, "stored workspace symbol is not a WorkspaceSymbol");
                None
            }
        },
        None => None,
    };
    let settings = if ws.settings.is_null() {
        wire::WorkspaceSettings::default()
    } else {
        match serde_json::from_value::<wire::WorkspaceSettings>(ws.settings.clone()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(workspace = %ws.id, error = %e, "stored workspace settings are not WorkspaceSettings");
                wire::WorkspaceSettings::default()
            }
        }
    };
    Ok(wire::Workspace {
        id: wire::WorkspaceId(ws.slug.clone()),
        rid: wire::WorkspaceRid(wire_rid(rids.workspace(ws.id))?),
        org: wire::OrgRid(wire_rid(rids.org(ws.org_id))?),
        display_name: ws.display_name.clone(),
        symbol,
        settings,
    })
}

pub fn api_key(engine: &Engine, c: &Credential) -> Result<wire::ApiKey, ConjureError> {
    let rids = engine.rids();
    Ok(wire::ApiKey {
        rid: wire::ApiKeyRid(wire_rid(rids.api_key(c.id))?),
        api_key_name: c.name.clone(),
        created_by: wire_rid(rids.user(c.creator_id))?,
        created_at: datetime(c.created_at),
        expires_at: c.expires_at.map(datetime),
        is_deleted: c.revoked_at.is_some(),
    })
}

pub fn access_token_response(
    t: &IssuedToken,
) -> Result<wire::GetAccessTokenResponse, ConjureError> {
    Ok(wire::GetAccessTokenResponse {
        access_token: t.token.clone(),
        expires_at_seconds: safelong(t.expires_at.timestamp())?,
        user_uuid: ConjureUuid(t.user.0),
        org_uuid: ConjureUuid(t.org.0),
        is_guest: Some(t.guest),
    })
}

/// A stored Conjure JSON document decoded as `T`, or `T::default()` when absent or unreadable.
pub fn stored_doc<T: serde::de::DeserializeOwned + Default>(doc: Option<serde_json::Value>) -> T {
    match doc {
        None => T::default(),
        Some(v) => serde_json::from_value(v).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "stored settings do not decode; answering defaults");
            T::default()
        }),
    }
}

pub fn to_doc<T: serde::Serialize>(v: &T) -> Result<serde_json::Value, ConjureError> {
    serde_json::to_value(v).map_err(internal)
}
