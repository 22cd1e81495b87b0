//! Sessions and tokens minted from an upstream identity. Every federated path (Parsable
//! `loginWithIdp*` and `loginWithSSO`, browser SSO, Nominal getAccessToken and
//! refreshAccessToken) starts them here, so the upstream cap is applied in one place and none
//! outlives the upstream token by more than the provider's `max_session_beyond_upstream_secs`.

use chrono::Utc;
use portcullis_core::Timestamp;
use portcullis_core::audit::AuditContext;
use portcullis_core::engine::{
    IssuedToken, LoginCredential, LoginGrant, LoginOutcome, LoginRequest, OrgChoice,
    OrgSelectOutcome,
};
use portcullis_core::model::{OrgId, User};
use portcullis_core::org_views::OrgOption;

use crate::{Federation, FederationError, UpstreamIdentity};

/// The `amr` of sessions and tokens minted from an upstream identity.
pub const AMR_FEDERATED: &str = "fed";

/// Upper bound of `max_session_beyond_upstream_secs` (one year; also checked by `validate`).
const MAX_CAP_SECS: i64 = 366 * 24 * 3600;

impl Federation {
    /// Starts a session for `user` (Parsable `loginWithIdp*`, `loginWithSSO`, browser SSO;
    /// proxy logins included: the super-admin check is the engine's), ending no later than
    /// [`Federation::session_not_after`]. Engine failures come back as `Core`.
    pub async fn start_session(
        &self,
        id: &UpstreamIdentity,
        user: User,
        choice: OrgChoice,
        proxied_email: Option<&str>,
        ctx: &AuditContext,
    ) -> Result<LoginGrant, FederationError> {
        let not_after = self.session_not_after(id)?;
        Ok(self
            .engine
            .finish_login_until(
                user,
                self.session_amr(id)?,
                choice,
                proxied_email,
                Some(not_after),
                ctx,
            )
            .await?)
    }

    /// A whole federated login (Parsable loginWithIdp, loginWithSSO): the session acts in the
    /// provider's org for the user, or the engine's default for a proxy login (the target's
    /// teams are not the provider's business); it ends no later than
    /// [`Federation::session_not_after`]; the result is the engine's (`Engine::login`).
    pub async fn login(
        &self,
        id: &UpstreamIdentity,
        user: User,
        request: &LoginRequest,
        ctx: &AuditContext,
    ) -> Result<LoginOutcome, FederationError> {
        let choice = match request.proxied_email() {
            Some(_) => OrgChoice::Default,
            None => self.parsable_choice(id, &user, None).await?,
        };
        self.login_in(id, user, choice, request, ctx).await
    }

    /// A federated login whose result is a team token for `team` (Parsable
    /// loginWithIdpAndTeam); a team outside the provider's allowed orgs is refused.
    pub async fn login_with_org(
        &self,
        id: &UpstreamIdentity,
        user: User,
        team: OrgId,
        request: &LoginRequest,
        ctx: &AuditContext,
    ) -> Result<LoginOutcome, FederationError> {
        let choice = match request.proxied_email() {
            Some(_) => OrgChoice::Specific(team),
            None => self.parsable_choice(id, &user, Some(team)).await?,
        };
        let request = request.clone().with_org_token(team);
        self.login_in(id, user, choice, &request, ctx).await
    }

    /// A federated team-select login (Parsable loginWithIdpAndTeamSelect): with two teams or
    /// more (the provider's, or the proxied user's), the teams; else a login as
    /// [`Federation::login`]. A user on no team at all gets a team-less session; one whose
    /// teams the provider may not log into is still refused by the provider's rule.
    pub async fn login_with_org_select(
        &self,
        id: &UpstreamIdentity,
        user: User,
        request: &LoginRequest,
        ctx: &AuditContext,
    ) -> Result<OrgSelectOutcome, FederationError> {
        let engine = &self.engine;
        let (choices, subject) = match request.proxied_email() {
            Some(target) => {
                let target = engine.impersonation_target(&user, target, ctx).await?;
                (engine.org_options(target.id).await?, target.id)
            }
            None => (self.org_options(id, &user).await?, user.id),
        };
        if choices.len() >= 2 {
            return Ok(OrgSelectOutcome::Choose(choices));
        }
        let on_no_org = choices.is_empty() && engine.org_options(subject).await?.is_empty();
        let outcome = if on_no_org {
            self.login_in(id, user, OrgChoice::DefaultOrNone, request, ctx)
                .await?
        } else {
            self.login(id, user, request, ctx).await?
        };
        Ok(OrgSelectOutcome::LoggedIn(Box::new(outcome)))
    }

    /// The teams an upstream identity may log into, sorted by name (then id).
    async fn org_options(
        &self,
        id: &UpstreamIdentity,
        user: &User,
    ) -> Result<Vec<OrgOption>, FederationError> {
        let mut choices: Vec<OrgOption> = self
            .login_orgs(id, user)
            .await?
            .into_iter()
            .map(|o| OrgOption {
                name: o.org.display_name.clone().unwrap_or(o.org.name),
                org: o.org.id,
            })
            .collect();
        choices.sort_by(|a, b| a.name.cmp(&b.name).then(a.org.cmp(&b.org)));
        Ok(choices)
    }

    async fn login_in(
        &self,
        id: &UpstreamIdentity,
        user: User,
        choice: OrgChoice,
        request: &LoginRequest,
        ctx: &AuditContext,
    ) -> Result<LoginOutcome, FederationError> {
        let credential = LoginCredential::Verified {
            user,
            amr: self.session_amr(id)?,
            not_after: Some(self.session_not_after(id)?),
        };
        Ok(self.engine.login(credential, choice, request, ctx).await?)
    }

    /// Issues an access token for `user` (Nominal getAccessToken, refreshAccessToken), ending no
    /// later than [`Federation::token_not_after`]. Engine failures come back as `Core`.
    pub async fn issue_token(
        &self,
        id: &UpstreamIdentity,
        user: &User,
        choice: OrgChoice,
        ctx: &AuditContext,
    ) -> Result<IssuedToken, FederationError> {
        let not_after = self.token_not_after(id)?;
        let amr = self.session_amr(id)?;
        // A token is a sign-in too: the MFA policy applies as for a session.
        self.engine.require_mfa_satisfied(user, &amr, ctx).await?;
        Ok(self
            .engine
            .issue_access_token(user, choice, amr, Some(not_after), ctx)
            .await?)
    }

    /// The `amr` of a session or token from this identity: `fed`, and `mfa` when the provider
    /// is trusted for it (`trust_upstream_mfa`) and its sign-in says so (docs/design/mfa.md).
    pub fn session_amr(&self, id: &UpstreamIdentity) -> Result<Vec<String>, FederationError> {
        let cfg = &self.by_alias(&id.provider)?.cfg;
        let mut amr = vec![AMR_FEDERATED.to_owned()];
        if upstream_mfa(cfg, id) {
            amr.push(portcullis_core::model::amr::MFA.to_owned());
        }
        Ok(amr)
    }

    /// The latest end of a session started from this identity: the upstream token's `exp`
    /// (now, when unknown) plus the provider's `max_session_beyond_upstream_secs`. `Expired`
    /// when that is not in the future.
    pub fn session_not_after(&self, id: &UpstreamIdentity) -> Result<Timestamp, FederationError> {
        let cfg = &self.by_alias(&id.provider)?.cfg;
        let now = Utc::now();
        let cap = i64::try_from(cfg.max_session_beyond_upstream_secs).unwrap_or(i64::MAX);
        let end = id.expires_at.unwrap_or(now) + chrono::Duration::seconds(cap.min(MAX_CAP_SECS));
        if end <= now {
            return Err(FederationError::Expired);
        }
        Ok(end)
    }

    /// The latest expiry of a Nominal access token minted from this identity: the upstream
    /// token's `exp` (getAccessToken: the ID token's; refreshAccessToken: the access token's),
    /// or, when the upstream expiry is unknown (userinfo-checked opaque tokens),
    /// [`Federation::session_not_after`]. `Expired` when it has passed (within the leeway).
    pub fn token_not_after(&self, id: &UpstreamIdentity) -> Result<Timestamp, FederationError> {
        match id.expires_at {
            Some(exp) if exp <= Utc::now() => Err(FederationError::Expired),
            Some(exp) => Ok(exp),
            None => self.session_not_after(id),
        }
    }
}

/// Whether the upstream sign-in counts as multi-factor here: only for a trusted provider, on
/// its `amr` holding `mfa` or an `acr` the provider lists.
fn upstream_mfa(cfg: &crate::ProviderConfig, id: &UpstreamIdentity) -> bool {
    cfg.trust_upstream_mfa
        && (id.amr.iter().any(|m| m == "mfa")
            || id
                .acr
                .as_ref()
                .is_some_and(|a| cfg.mfa_acr_values.contains(a)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(amr: &[&str], acr: Option<&str>) -> UpstreamIdentity {
        UpstreamIdentity {
            provider: "corp".into(),
            issuer: "https://idp.example".into(),
            subject: "s".into(),
            email: None,
            email_verified: false,
            name: None,
            picture: None,
            groups: None,
            orgs: Vec::new(),
            roles: Vec::new(),
            expires_at: None,
            amr: amr.iter().map(|s| s.to_string()).collect(),
            acr: acr.map(str::to_owned),
        }
    }

    #[test]
    fn upstream_mfa_counts_only_for_a_trusted_provider() {
        let mut cfg = crate::ProviderConfig::new("corp", "https://idp.example", vec!["c".into()]);
        let mfa = identity(&["pwd", "mfa"], None);
        let gold = identity(&["pwd"], Some("gold"));
        assert!(!upstream_mfa(&cfg, &mfa), "untrusted by default");
        cfg.trust_upstream_mfa = true;
        assert!(upstream_mfa(&cfg, &mfa));
        assert!(!upstream_mfa(&cfg, &identity(&["pwd", "otp"], None)));
        assert!(!upstream_mfa(&cfg, &gold));
        cfg.mfa_acr_values = vec!["gold".into()];
        assert!(upstream_mfa(&cfg, &gold));
    }
}
