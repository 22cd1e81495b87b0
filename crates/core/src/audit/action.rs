//! The audit action vocabulary: one variant per event, one stable dotted name each. The same
//! event has the same name whoever records it; the path (CLI, org-admin API, self-service) is
//! in the actor and in the detail's `"via"`, never in the name. The list with when each is
//! recorded is in docs/design/audit.md.

/// One kind of audited event. Stored as [`AuditAction::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    // ---- sign-in and tokens
    Login,
    LoginPassword,
    Logout,
    ImpersonationStart,
    TokenIssue,
    TokenOrg,
    TokenSwitchOrg,
    SsoBrowser,
    CertificateSign,
    // ---- sessions
    SessionEnd,
    SessionEndAll,
    SessionIdleTimeout,
    // ---- second factors (docs/design/mfa.md)
    FactorEnrol,
    FactorRemove,
    FactorVerify,
    FactorReset,
    RecoveryCodesRegenerate,
    SessionReauth,
    OrgMfaPolicy,
    // ---- passwords and lockout
    PasswordChange,
    AccountLock,
    AccountUnlock,
    // ---- credentials
    CredentialCreate,
    CredentialRevoke,
    CredentialRevokeAll,
    CredentialExchange,
    // ---- users
    UserCreate,
    UserUpdate,
    UserDeactivate,
    UserReactivate,
    UserRequirePasswordReset,
    ProfileUpdate,
    UsersPreregister,
    Bootstrap,
    // ---- orgs and memberships
    OrgCreate,
    OrgUpdate,
    OrgEnable,
    OrgDisable,
    OrgSettingsUpdate,
    OrgInvitationCreate,
    OrgInvitationAccept,
    TeamSettingsUpdate,
    TeamPrioritiesSet,
    JobPermissionsSet,
    RegionUpsert,
    MembershipAdd,
    MembershipUpdate,
    MembershipRemove,
    MembershipDeactivate,
    MembershipReactivate,
    AllowlistAdd,
    AllowlistRemove,
    // ---- workspaces
    WorkspaceCreate,
    WorkspaceUpdate,
    WorkspaceGrant,
    WorkspaceRevoke,
    WorkspaceRegisterResources,
    // ---- signing keys
    KeysRotate,
    KeysRevoke,
    // ---- federation
    FederationLogin,
    FederationLink,
    FederationProvision,
    FederationSync,
    // ---- OpenID provider
    OidcAuthorize,
    OidcToken,
    OidcCodeReplay,
    OidcRefreshReuse,
    OidcClientAuth,
    OidcRevoke,
    OidcConsent,
    OidcBackchannelLogout,
    OidcTokenExchange,
    OidcImpersonation,
    OidcDeviceAuthorization,
    OidcDeviceDecision,
    // ---- OpenID provider clients and consents
    ClientCreate,
    ClientUpdate,
    ClientRotateSecret,
    ClientDisable,
    ClientEnable,
    ClientDelete,
    ClientRoles,
    ConsentRevoke,
    // ---- self-registered clients (RFC 7591/7592, metadata documents)
    ClientRegister,
    ClientRegistrationUpdate,
    ClientRegistrationDelete,
    ClientMetadataDocument,
    InitialTokenCreate,
    InitialTokenRevoke,
}

impl AuditAction {
    /// Every action, for documentation checks and tests.
    pub const ALL: &'static [AuditAction] = &[
        AuditAction::Login,
        AuditAction::LoginPassword,
        AuditAction::Logout,
        AuditAction::ImpersonationStart,
        AuditAction::TokenIssue,
        AuditAction::TokenOrg,
        AuditAction::TokenSwitchOrg,
        AuditAction::SsoBrowser,
        AuditAction::CertificateSign,
        AuditAction::SessionEnd,
        AuditAction::SessionEndAll,
        AuditAction::SessionIdleTimeout,
        AuditAction::FactorEnrol,
        AuditAction::FactorRemove,
        AuditAction::FactorVerify,
        AuditAction::FactorReset,
        AuditAction::RecoveryCodesRegenerate,
        AuditAction::SessionReauth,
        AuditAction::OrgMfaPolicy,
        AuditAction::PasswordChange,
        AuditAction::AccountLock,
        AuditAction::AccountUnlock,
        AuditAction::CredentialCreate,
        AuditAction::CredentialRevoke,
        AuditAction::CredentialRevokeAll,
        AuditAction::CredentialExchange,
        AuditAction::UserCreate,
        AuditAction::UserUpdate,
        AuditAction::UserDeactivate,
        AuditAction::UserReactivate,
        AuditAction::UserRequirePasswordReset,
        AuditAction::ProfileUpdate,
        AuditAction::UsersPreregister,
        AuditAction::Bootstrap,
        AuditAction::OrgCreate,
        AuditAction::OrgUpdate,
        AuditAction::OrgEnable,
        AuditAction::OrgDisable,
        AuditAction::OrgSettingsUpdate,
        AuditAction::OrgInvitationCreate,
        AuditAction::OrgInvitationAccept,
        AuditAction::TeamSettingsUpdate,
        AuditAction::TeamPrioritiesSet,
        AuditAction::JobPermissionsSet,
        AuditAction::RegionUpsert,
        AuditAction::MembershipAdd,
        AuditAction::MembershipUpdate,
        AuditAction::MembershipRemove,
        AuditAction::MembershipDeactivate,
        AuditAction::MembershipReactivate,
        AuditAction::AllowlistAdd,
        AuditAction::AllowlistRemove,
        AuditAction::WorkspaceCreate,
        AuditAction::WorkspaceUpdate,
        AuditAction::WorkspaceGrant,
        AuditAction::WorkspaceRevoke,
        AuditAction::WorkspaceRegisterResources,
        AuditAction::KeysRotate,
        AuditAction::KeysRevoke,
        AuditAction::FederationLogin,
        AuditAction::FederationLink,
        AuditAction::FederationProvision,
        AuditAction::FederationSync,
        AuditAction::OidcAuthorize,
        AuditAction::OidcToken,
        AuditAction::OidcCodeReplay,
        AuditAction::OidcRefreshReuse,
        AuditAction::OidcClientAuth,
        AuditAction::OidcRevoke,
        AuditAction::OidcConsent,
        AuditAction::OidcBackchannelLogout,
        AuditAction::OidcTokenExchange,
        AuditAction::OidcImpersonation,
        AuditAction::OidcDeviceAuthorization,
        AuditAction::OidcDeviceDecision,
        AuditAction::ClientCreate,
        AuditAction::ClientUpdate,
        AuditAction::ClientRotateSecret,
        AuditAction::ClientDisable,
        AuditAction::ClientEnable,
        AuditAction::ClientDelete,
        AuditAction::ClientRoles,
        AuditAction::ConsentRevoke,
        AuditAction::ClientRegister,
        AuditAction::ClientRegistrationUpdate,
        AuditAction::ClientRegistrationDelete,
        AuditAction::ClientMetadataDocument,
        AuditAction::InitialTokenCreate,
        AuditAction::InitialTokenRevoke,
    ];

    /// The stored name. Never change one: operators filter on it.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Login => "login",
            AuditAction::LoginPassword => "login.password",
            AuditAction::Logout => "logout",
            AuditAction::ImpersonationStart => "impersonation.start",
            AuditAction::TokenIssue => "token.issue",
            AuditAction::TokenOrg => "token.team",
            AuditAction::TokenSwitchOrg => "token.switch_org",
            AuditAction::SsoBrowser => "sso.browser",
            AuditAction::CertificateSign => "certificate.sign",
            AuditAction::SessionEnd => "session.end",
            AuditAction::SessionEndAll => "session.end_all",
            AuditAction::SessionIdleTimeout => "session.idle_timeout",
            AuditAction::FactorEnrol => "factor.enrol",
            AuditAction::FactorRemove => "factor.remove",
            AuditAction::FactorVerify => "factor.verify",
            AuditAction::FactorReset => "factor.reset",
            AuditAction::RecoveryCodesRegenerate => "recovery_codes.regenerate",
            AuditAction::SessionReauth => "session.reauth",
            AuditAction::OrgMfaPolicy => "org.mfa_policy",
            AuditAction::PasswordChange => "password.change",
            AuditAction::AccountLock => "account.lock",
            AuditAction::AccountUnlock => "account.unlock",
            AuditAction::CredentialCreate => "credential.create",
            AuditAction::CredentialRevoke => "credential.revoke",
            AuditAction::CredentialRevokeAll => "credential.revoke_all",
            AuditAction::CredentialExchange => "credential.exchange",
            AuditAction::UserCreate => "user.create",
            AuditAction::UserUpdate => "user.update",
            AuditAction::UserDeactivate => "user.deactivate",
            AuditAction::UserReactivate => "user.reactivate",
            AuditAction::UserRequirePasswordReset => "user.require_password_reset",
            AuditAction::ProfileUpdate => "profile.update",
            AuditAction::UsersPreregister => "users.preregister",
            AuditAction::Bootstrap => "system.bootstrap",
            AuditAction::OrgCreate => "org.create",
            AuditAction::OrgUpdate => "org.update",
            AuditAction::OrgEnable => "org.enable",
            AuditAction::OrgDisable => "org.disable",
            AuditAction::OrgSettingsUpdate => "org.settings.update",
            AuditAction::OrgInvitationCreate => "org.invitation.create",
            AuditAction::OrgInvitationAccept => "org.invitation.accept",
            AuditAction::TeamSettingsUpdate => "team_settings.update",
            AuditAction::TeamPrioritiesSet => "team_priorities.set",
            AuditAction::JobPermissionsSet => "job_permissions.set",
            AuditAction::RegionUpsert => "region.upsert",
            AuditAction::MembershipAdd => "membership.add",
            AuditAction::MembershipUpdate => "membership.update",
            AuditAction::MembershipRemove => "membership.remove",
            AuditAction::MembershipDeactivate => "membership.deactivate",
            AuditAction::MembershipReactivate => "membership.reactivate",
            AuditAction::AllowlistAdd => "allowlist.add",
            AuditAction::AllowlistRemove => "allowlist.remove",
            AuditAction::WorkspaceCreate => "workspace.create",
            AuditAction::WorkspaceUpdate => "workspace.update",
            AuditAction::WorkspaceGrant => "workspace.grant",
            AuditAction::WorkspaceRevoke => "workspace.revoke",
            AuditAction::WorkspaceRegisterResources => "workspace.register_resources",
            AuditAction::KeysRotate => "keys.rotate",
            AuditAction::KeysRevoke => "keys.revoke",
            AuditAction::FederationLogin => "federation.login",
            AuditAction::FederationLink => "federation.link",
            AuditAction::FederationProvision => "federation.provision",
            AuditAction::FederationSync => "federation.sync",
            AuditAction::OidcAuthorize => "oidc.authorize",
            AuditAction::OidcToken => "oidc.token",
            AuditAction::OidcCodeReplay => "oidc.code_replay",
            AuditAction::OidcRefreshReuse => "oidc.refresh_reuse",
            AuditAction::OidcClientAuth => "oidc.client_auth",
            AuditAction::OidcRevoke => "oidc.revoke",
            AuditAction::OidcConsent => "oidc.consent",
            AuditAction::OidcBackchannelLogout => "oidc.backchannel_logout",
            AuditAction::OidcTokenExchange => "oidc.token_exchange",
            AuditAction::OidcImpersonation => "oidc.impersonation",
            AuditAction::OidcDeviceAuthorization => "oidc.device_authorization",
            AuditAction::OidcDeviceDecision => "oidc.device_decision",
            AuditAction::ClientCreate => "client.create",
            AuditAction::ClientUpdate => "client.update",
            AuditAction::ClientRotateSecret => "client.rotate_secret",
            AuditAction::ClientDisable => "client.disable",
            AuditAction::ClientEnable => "client.enable",
            AuditAction::ClientDelete => "client.delete",
            AuditAction::ClientRoles => "client.roles",
            AuditAction::ConsentRevoke => "consent.revoke",
            AuditAction::ClientRegister => "client.register",
            AuditAction::ClientRegistrationUpdate => "client.registration_update",
            AuditAction::ClientRegistrationDelete => "client.registration_delete",
            AuditAction::ClientMetadataDocument => "client.metadata_document",
            AuditAction::InitialTokenCreate => "client.initial_token_create",
            AuditAction::InitialTokenRevoke => "client.initial_token_revoke",
        }
    }
}

impl std::fmt::Display for AuditAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_lowercase() {
        let mut seen = std::collections::HashSet::new();
        for a in AuditAction::ALL {
            let s = a.as_str();
            assert!(seen.insert(s), "{s} is used twice");
            assert!(
                s.chars()
                    .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_'),
                "{s}"
            );
        }
    }

    #[test]
    fn the_design_note_lists_every_action() {
        let note = include_str!("../../../../docs/design/audit.md");
        for a in AuditAction::ALL {
            assert!(note.contains(&format!("`{}`", a.as_str())), "{a} missing");
        }
    }
}
