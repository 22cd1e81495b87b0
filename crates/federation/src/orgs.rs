//! Org selection for federated logins, shared by both APIs (NOMINAL §6 "Org selection"),
//! restricted to the orgs the provider may log users into.

use portcullis_core::engine::OrgChoice;
use portcullis_core::rid::Rid;
use portcullis_core::{Membership, MembershipKind, Org, OrgId, User, WorkspaceAccess};

use crate::error::FederationError;
use crate::{Federation, UpstreamIdentity};

/// The Nominal `workspaceRid` / `orgRid` of getAccessToken and refreshAccessToken.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NominalOrgRequest<'a> {
    pub workspace_rid: Option<&'a str>,
    pub org_rid: Option<&'a str>,
}

/// An org the user may log into through this provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserOrg {
    pub org: Org,
    pub membership: Membership,
}

impl UserOrg {
    pub fn is_guest(&self) -> bool {
        self.membership.kind == MembershipKind::Guest
    }
}

impl Federation {
    /// Active memberships (members and guests) in enabled orgs the identity's provider may log
    /// into, oldest first: Nominal getUserOrgs, Parsable team-select lists, `isMultiTeam`.
    pub async fn login_orgs(
        &self,
        id: &UpstreamIdentity,
        user: &User,
    ) -> Result<Vec<UserOrg>, FederationError> {
        let cfg = &self.by_alias(&id.provider)?.cfg;
        let engine = &self.engine;
        let mut ms = engine.user_memberships(user.id).await?;
        ms.sort_by_key(|m| (m.created_at, m.org_id));
        let mut out = Vec::new();
        for m in ms.into_iter().filter(Membership::is_active) {
            if let Some(org) = engine.org(m.org_id).await?
                && !org.disabled
                && Self::org_allowed(cfg, &org)
            {
                out.push(UserOrg { org, membership: m });
            }
        }
        Ok(out)
    }

    /// The choice for a Parsable federated login (`team` from loginWithIdpAndTeam). Without a
    /// team: the engine's default, or the oldest allowed membership when the provider restricts
    /// orgs. A team outside the provider's allowed orgs is refused.
    pub async fn parsable_choice(
        &self,
        id: &UpstreamIdentity,
        user: &User,
        team: Option<OrgId>,
    ) -> Result<OrgChoice, FederationError> {
        let cfg = &self.by_alias(&id.provider)?.cfg;
        if let Some(t) = team {
            if !cfg.allowed_orgs.is_empty() {
                let org = self
                    .engine
                    .org(t)
                    .await?
                    .ok_or(portcullis_core::CoreError::NotFound("org"))?;
                if !Self::org_allowed(cfg, &org) {
                    return Err(FederationError::NotAuthorized(
                        "this provider may not log into the team",
                    ));
                }
            }
            return Ok(OrgChoice::Specific(t));
        }
        if cfg.allowed_orgs.is_empty() {
            return Ok(OrgChoice::Default);
        }
        let orgs = self.login_orgs(id, user).await?;
        orgs.first()
            .map(|o| OrgChoice::Specific(o.org.id))
            .ok_or(FederationError::NoMembership)
    }

    /// NOMINAL §6 org selection for getAccessToken / refreshAccessToken:
    /// 1. `workspaceRid`: the workspace must exist (`WorkspaceNotFound`) and the user must have
    ///    access (grant, or admin of its org; else `NoMembership`); its org is chosen; a
    ///    differing `orgRid` is `InvalidArgument` (400).
    /// 2. `orgRid`: the user must be a member or guest there, else `NoMembership`.
    /// 3. Neither: exactly one member org, else `NoMembership` (several, none, guests only).
    ///
    /// A user deactivated in the chosen org, or a disabled org, gives `NotAuthorized`.
    pub async fn nominal_choice(
        &self,
        id: &UpstreamIdentity,
        user: &User,
        req: NominalOrgRequest<'_>,
    ) -> Result<OrgChoice, FederationError> {
        let cfg = &self.by_alias(&id.provider)?.cfg;
        let engine = &self.engine;
        let rids = engine.rids();
        let org_from_rid = |s: &str| {
            Rid::parse(s.trim())
                .ok()
                .and_then(|r| rids.parse_org(&r))
                .ok_or_else(|| FederationError::InvalidArgument("orgRid is not an org RID".into()))
        };
        let requested_org = req.org_rid.map(org_from_rid).transpose()?;
        let org_id = if let Some(ws_rid) = req.workspace_rid {
            let ws_id = Rid::parse(ws_rid.trim())
                .ok()
                .and_then(|r| rids.parse_workspace(&r))
                .ok_or_else(|| FederationError::WorkspaceNotFound(ws_rid.to_owned()))?;
            let ws = engine
                .workspace(ws_id)
                .await?
                .ok_or_else(|| FederationError::WorkspaceNotFound(ws_rid.to_owned()))?;
            if requested_org.is_some_and(|o| o != ws.org_id) {
                return Err(FederationError::InvalidArgument(
                    "orgRid differs from the workspace's org".into(),
                ));
            }
            let membership = engine.stored_membership(user.id, ws.org_id).await?;
            let admin = membership.as_ref().is_some_and(Membership::is_admin);
            let granted = engine.workspace_grants(user.id).await?.iter().any(|g| {
                g.workspace_id == ws.id
                    && matches!(g.access, WorkspaceAccess::Full | WorkspaceAccess::Guest)
            });
            if !(admin || granted) {
                return Err(FederationError::NoMembership);
            }
            ws.org_id
        } else if let Some(o) = requested_org {
            o
        } else {
            let store_ms = engine.user_memberships(user.id).await?;
            let mut members = Vec::new();
            for m in store_ms {
                if m.removed_at.is_none()
                    && m.kind == MembershipKind::Member
                    && let Some(org) = engine.org(m.org_id).await?
                    && Self::org_allowed(cfg, &org)
                {
                    members.push(m.org_id);
                }
            }
            match members.as_slice() {
                [only] => *only,
                _ => return Err(FederationError::NoMembership),
            }
        };
        let org = engine
            .org(org_id)
            .await?
            .ok_or(FederationError::NoMembership)?;
        if !Self::org_allowed(cfg, &org) {
            return Err(FederationError::NoMembership);
        }
        let m = engine
            .stored_membership(user.id, org_id)
            .await?
            .filter(|m| m.removed_at.is_none())
            .ok_or(FederationError::NoMembership)?;
        if m.deactivated {
            return Err(FederationError::NotAuthorized(
                "the user is deactivated in the org",
            ));
        }
        if org.disabled {
            return Err(FederationError::NotAuthorized("the org is disabled"));
        }
        Ok(OrgChoice::Specific(org_id))
    }
}
