//! An in-memory store of signing and CA keys only; every other call fails.

use super::*;

#[derive(Default)]
pub(crate) struct KeyStore {
    pub(crate) keys: Mutex<Vec<KeyRecord>>,
}

fn fake() -> StoreError {
    StoreError::Unavailable("fake".into())
}

#[async_trait]
impl Store for KeyStore {
    async fn insert_key(&self, key: KeyRecord) -> StoreResult<()> {
        let mut keys = self.keys.lock().map_err(|_| fake())?;
        if keys.iter().any(|k| k.kid == key.kid) {
            return Err(StoreError::Conflict("kid".into()));
        }
        keys.push(key);
        Ok(())
    }
    async fn list_keys(&self, purpose: KeyPurpose) -> StoreResult<Vec<KeyRecord>> {
        let keys = self.keys.lock().map_err(|_| fake())?;
        Ok(keys
            .iter()
            .filter(|k| k.purpose == purpose)
            .cloned()
            .collect())
    }
    async fn retire_key(&self, kid: &str, at: Timestamp) -> StoreResult<()> {
        let mut keys = self.keys.lock().map_err(|_| fake())?;
        let k = keys
            .iter_mut()
            .find(|k| k.kid == kid)
            .ok_or_else(|| StoreError::NotFound("key".into()))?;
        k.retired_at.get_or_insert(at);
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "fake"
    }
    async fn close(&self) {}
    async fn begin_write(&self) -> StoreResult<Box<dyn WriteTx>> {
        Err(fake())
    }
    async fn find_credential_by_hash(&self, _hash: &[u8; 32]) -> StoreResult<Option<Credential>> {
        Err(fake())
    }
    async fn find_credential_with_membership(
        &self,
        _hash: &[u8; 32],
    ) -> StoreResult<Option<(Credential, Option<Membership>)>> {
        Err(fake())
    }
    async fn ping(&self) -> StoreResult<()> {
        Err(fake())
    }
    async fn create_user(&self, _user: NewUser) -> StoreResult<User> {
        Err(fake())
    }
    async fn get_user(&self, _id: UserId) -> StoreResult<Option<User>> {
        Err(fake())
    }
    async fn get_users(&self, _ids: &[UserId]) -> StoreResult<Vec<User>> {
        Err(fake())
    }
    async fn get_user_by_email(&self, _email: &str) -> StoreResult<Option<User>> {
        Err(fake())
    }
    async fn update_user(&self, _id: UserId, _update: UserUpdate) -> StoreResult<User> {
        Err(fake())
    }
    async fn list_users(&self, _offset: u64, _limit: u32) -> StoreResult<Vec<User>> {
        Err(fake())
    }
    async fn search_org_users(
        &self,
        _org: OrgId,
        _query: &UserQuery,
        _sort: UserSort,
        _offset: u64,
        _limit: u32,
    ) -> StoreResult<Vec<(User, Membership)>> {
        Err(fake())
    }
    async fn preregister_users(
        &self,
        _org: OrgId,
        _users: Vec<NewUser>,
        _terms: &PreregisterTerms,
    ) -> StoreResult<Vec<Preregistered>> {
        Err(fake())
    }
    async fn get_invitation(&self, _org: OrgId, _user: UserId) -> StoreResult<Option<Invitation>> {
        Err(fake())
    }
    async fn accept_invitations(
        &self,
        _user: UserId,
        _at: Timestamp,
    ) -> StoreResult<Vec<Invitation>> {
        Err(fake())
    }
    async fn upsert_region(&self, _region: Region) -> StoreResult<Region> {
        Err(fake())
    }
    async fn get_region(&self, _id: &str) -> StoreResult<Option<Region>> {
        Err(fake())
    }
    async fn list_regions(&self) -> StoreResult<Vec<Region>> {
        Err(fake())
    }
    async fn create_org(&self, _org: NewOrg) -> StoreResult<Org> {
        Err(fake())
    }
    async fn get_org(&self, _id: OrgId) -> StoreResult<Option<Org>> {
        Err(fake())
    }
    async fn get_org_by_name(&self, _name: &str) -> StoreResult<Option<Org>> {
        Err(fake())
    }
    async fn list_orgs(&self) -> StoreResult<Vec<Org>> {
        Err(fake())
    }
    async fn update_org(&self, _id: OrgId, _update: OrgUpdate) -> StoreResult<Org> {
        Err(fake())
    }
    async fn upsert_membership(
        &self,
        _user: UserId,
        _org: OrgId,
        _roles: BTreeSet<Role>,
        _kind: MembershipKind,
    ) -> StoreResult<Membership> {
        Err(fake())
    }
    async fn get_membership(&self, _user: UserId, _org: OrgId) -> StoreResult<Option<Membership>> {
        Err(fake())
    }
    async fn list_user_memberships(
        &self,
        _user: UserId,
        _include_removed: bool,
    ) -> StoreResult<Vec<Membership>> {
        Err(fake())
    }
    async fn list_org_memberships(
        &self,
        _org: OrgId,
        _include_removed: bool,
    ) -> StoreResult<Vec<Membership>> {
        Err(fake())
    }
    async fn touch_last_login(
        &self,
        _user: UserId,
        _org: OrgId,
        _at: Timestamp,
    ) -> StoreResult<()> {
        Err(fake())
    }
    async fn org_login_activity(
        &self,
        _orgs: &[OrgId],
        _descending: bool,
        _offset: u64,
        _limit: u32,
    ) -> StoreResult<Vec<Membership>> {
        Err(fake())
    }
    async fn reactivate_user(&self, _user: UserId) -> StoreResult<()> {
        Err(fake())
    }
    async fn reactivate_membership(&self, _user: UserId, _org: OrgId) -> StoreResult<()> {
        Err(fake())
    }
    async fn get_settings(
        &self,
        _scope: SettingsScope,
        _ns: SettingsNamespace,
    ) -> StoreResult<Option<serde_json::Value>> {
        Err(fake())
    }
    async fn put_settings(
        &self,
        _scope: SettingsScope,
        _ns: SettingsNamespace,
        _doc: serde_json::Value,
    ) -> StoreResult<()> {
        Err(fake())
    }
    async fn get_job_permissions(
        &self,
        _org: OrgId,
    ) -> StoreResult<BTreeMap<Role, JobPermissions>> {
        Err(fake())
    }
    async fn set_job_permissions(
        &self,
        _org: OrgId,
        _role: Role,
        _perms: Option<JobPermissions>,
    ) -> StoreResult<()> {
        Err(fake())
    }
    async fn get_org_settings(
        &self,
        _org: OrgId,
    ) -> StoreResult<BTreeMap<String, serde_json::Value>> {
        Err(fake())
    }
    async fn update_org_settings(
        &self,
        _org: OrgId,
        _changes: &[(String, Option<serde_json::Value>)],
        _max_keys: usize,
    ) -> StoreResult<()> {
        Err(fake())
    }
    async fn get_org_priorities(&self, _org: OrgId) -> StoreResult<Option<Vec<PriorityLevel>>> {
        Err(fake())
    }
    async fn set_org_priorities(
        &self,
        _org: OrgId,
        _priorities: Option<&[PriorityLevel]>,
    ) -> StoreResult<()> {
        Err(fake())
    }
    async fn add_allowlist(&self, _entry: AllowlistEntry) -> StoreResult<()> {
        Err(fake())
    }
    async fn remove_allowlist(
        &self,
        _org: Option<OrgId>,
        _kind: AllowlistKind,
        _value: &str,
    ) -> StoreResult<bool> {
        Err(fake())
    }
    async fn list_allowlist(&self) -> StoreResult<Vec<AllowlistEntry>> {
        Err(fake())
    }
    async fn create_workspace(
        &self,
        _org: OrgId,
        _slug: &str,
        _display_name: Option<String>,
    ) -> StoreResult<Workspace> {
        Err(fake())
    }
    async fn get_workspace(&self, _id: WorkspaceId) -> StoreResult<Option<Workspace>> {
        Err(fake())
    }
    async fn list_org_workspaces(&self, _org: OrgId) -> StoreResult<Vec<Workspace>> {
        Err(fake())
    }
    async fn update_workspace(
        &self,
        _id: WorkspaceId,
        _patch: WorkspacePatch,
    ) -> StoreResult<Workspace> {
        Err(fake())
    }
    async fn grant_workspace(&self, _grant: WorkspaceGrant) -> StoreResult<()> {
        Err(fake())
    }
    async fn revoke_workspace_grant(
        &self,
        _workspace: WorkspaceId,
        _user: UserId,
    ) -> StoreResult<bool> {
        Err(fake())
    }
    async fn list_user_workspace_grants(&self, _user: UserId) -> StoreResult<Vec<WorkspaceGrant>> {
        Err(fake())
    }
    async fn register_resources(
        &self,
        _workspace: WorkspaceId,
        _rids: &[String],
    ) -> StoreResult<()> {
        Err(fake())
    }
    async fn resource_workspaces(
        &self,
        _rids: &[String],
    ) -> StoreResult<BTreeMap<String, WorkspaceId>> {
        Err(fake())
    }
    async fn find_external_identity(
        &self,
        _issuer: &str,
        _subject: &str,
    ) -> StoreResult<Option<ExternalIdentity>> {
        Err(fake())
    }
    async fn link_external_identity(&self, _identity: ExternalIdentity) -> StoreResult<()> {
        Err(fake())
    }
    async fn provision_federated_user(
        &self,
        _user: NewUser,
        _identity: ExternalIdentity,
        _memberships: Vec<(OrgId, BTreeSet<Role>, MembershipKind)>,
    ) -> StoreResult<User> {
        Err(fake())
    }
    async fn list_user_identities(&self, _user: UserId) -> StoreResult<Vec<ExternalIdentity>> {
        Err(fake())
    }
    async fn create_session(&self, _session: Session) -> StoreResult<()> {
        Err(fake())
    }
    async fn get_session(&self, _id: &SessionId) -> StoreResult<Option<Session>> {
        Err(fake())
    }
    async fn list_user_sessions(
        &self,
        _user: UserId,
        _include_ended: bool,
        _now: Timestamp,
    ) -> StoreResult<Vec<Session>> {
        Err(fake())
    }
    async fn revoke_session(&self, _id: &SessionId, _at: Timestamp) -> StoreResult<bool> {
        Err(fake())
    }
    async fn revoke_user_sessions(
        &self,
        _user: UserId,
        _keep: Option<&SessionId>,
        _at: Timestamp,
    ) -> StoreResult<u64> {
        Err(fake())
    }
    async fn touch_session(&self, _id: &SessionId, _at: Timestamp) -> StoreResult<()> {
        Err(fake())
    }
    async fn create_credential(
        &self,
        _credential: Credential,
        _replace_persistent: Option<UserId>,
    ) -> StoreResult<()> {
        Err(fake())
    }
    async fn create_api_key_capped(
        &self,
        _credential: Credential,
        _max_live: u32,
    ) -> StoreResult<bool> {
        Err(fake())
    }
    async fn get_credential(&self, _id: CredentialId) -> StoreResult<Option<Credential>> {
        Err(fake())
    }
    async fn list_credentials(
        &self,
        _filter: &CredentialFilter,
        _offset: u64,
        _limit: u32,
    ) -> StoreResult<Vec<Credential>> {
        Err(fake())
    }
    async fn revoke_credential(
        &self,
        _id: CredentialId,
        _by: Option<UserId>,
        _at: Timestamp,
    ) -> StoreResult<bool> {
        Err(fake())
    }
    async fn persistent_credentials_for(
        &self,
        _org: OrgId,
        _users: &[UserId],
    ) -> StoreResult<Vec<CredentialWithPeople>> {
        Err(fake())
    }
    async fn revoke_user_credentials(
        &self,
        _user: UserId,
        _by: Option<UserId>,
        _at: Timestamp,
    ) -> StoreResult<u64> {
        Err(fake())
    }
    async fn revoke_key(&self, _kid: &str, _at: Timestamp) -> StoreResult<bool> {
        Err(fake())
    }
    async fn require_password_reset(
        &self,
        _user: UserId,
        _code_hash: &[u8; 32],
        _expires_at: Timestamp,
        _revoke_credentials: bool,
        _at: Timestamp,
    ) -> StoreResult<Deactivation> {
        Err(fake())
    }
    async fn redeem_password_reset(
        &self,
        _user: UserId,
        _code_hash: &[u8; 32],
        _password_hash: &str,
        _at: Timestamp,
    ) -> StoreResult<Option<u64>> {
        Err(fake())
    }
    async fn throttle_claim(
        &self,
        _key: &str,
        _now: Timestamp,
        _hold_until: Timestamp,
    ) -> StoreResult<ThrottleClaim> {
        Err(fake())
    }
    async fn throttle_fail(
        &self,
        _key: &str,
        _next_attempt_at: Timestamp,
        _locked_until: Option<Option<Timestamp>>,
    ) -> StoreResult<i32> {
        Err(fake())
    }
    async fn throttle_reset(&self, _key: &str) -> StoreResult<()> {
        Err(fake())
    }
    async fn throttle_get(&self, _key: &str) -> StoreResult<Option<ThrottleState>> {
        Err(fake())
    }
    async fn revocation_snapshot(&self, _now: Timestamp) -> StoreResult<RevocationSnapshot> {
        Err(fake())
    }
    async fn revocation_events_since(
        &self,
        _after: i64,
        _limit: u32,
    ) -> StoreResult<Vec<(i64, RevocationEvent)>> {
        Err(fake())
    }
    async fn user_revocation_state(
        &self,
        _user: UserId,
        _now: Timestamp,
    ) -> StoreResult<UserRevocationState> {
        Err(fake())
    }
    async fn org_revocation_state(&self, _org: OrgId) -> StoreResult<OrgRevocationState> {
        Err(fake())
    }
    async fn append_audit(&self, _events: &[AuditEvent]) -> StoreResult<()> {
        Err(fake())
    }
    async fn list_audit(&self, _filter: &AuditFilter) -> StoreResult<Vec<AuditEvent>> {
        Err(fake())
    }
    async fn bootstrap(
        &self,
        _region: Region,
        _org: NewOrg,
        _admin: NewUser,
    ) -> StoreResult<Option<(Org, User)>> {
        Err(fake())
    }
    async fn insert_sso_flow(&self, _: portcullis_core::websso::SsoFlowRecord) -> StoreResult<()> {
        Err(fake())
    }
    async fn take_sso_flow(
        &self,
        _: portcullis_core::websso::SsoFlowKind,
        _: &str,
        _: Timestamp,
    ) -> StoreResult<Option<portcullis_core::websso::SsoFlowRecord>> {
        Err(fake())
    }
    async fn purge_sso_flows(&self, _: Timestamp) -> StoreResult<u64> {
        Err(fake())
    }
    async fn create_registered_client(
        &self,
        _: OAuthClient,
        _: ClientRegistration,
        _: Option<(&str, Timestamp)>,
    ) -> StoreResult<OAuthClient> {
        Err(fake())
    }
    async fn get_client_registration(&self, _: &str) -> StoreResult<Option<ClientRegistration>> {
        Err(fake())
    }
    async fn update_registered_client(
        &self,
        _: OAuthClient,
        _: ClientRegistration,
        _: Option<ClientSecret>,
    ) -> StoreResult<OAuthClient> {
        Err(fake())
    }
    async fn retire_registered_client(&self, _: &str, _: Timestamp) -> StoreResult<u64> {
        Err(fake())
    }
    async fn create_initial_access_token(&self, _: InitialAccessToken) -> StoreResult<()> {
        Err(fake())
    }
    async fn get_initial_access_token(&self, _: &str) -> StoreResult<Option<InitialAccessToken>> {
        Err(fake())
    }
    async fn list_initial_access_tokens(&self) -> StoreResult<Vec<InitialAccessToken>> {
        Err(fake())
    }
    async fn revoke_initial_access_token(&self, _: uuid::Uuid, _: Timestamp) -> StoreResult<bool> {
        Err(fake())
    }
    async fn create_oauth_client(&self, _: OAuthClient) -> StoreResult<OAuthClient> {
        Err(fake())
    }
    async fn get_oauth_client(&self, _: &str) -> StoreResult<Option<OAuthClient>> {
        Err(fake())
    }
    async fn list_oauth_clients(&self, _: Option<OrgId>) -> StoreResult<Vec<OAuthClient>> {
        Err(fake())
    }
    async fn update_oauth_client(&self, _: OAuthClient) -> StoreResult<OAuthClient> {
        Err(fake())
    }
    async fn rotate_client_secret(
        &self,
        _: &str,
        _: ClientSecret,
        _: Timestamp,
    ) -> StoreResult<()> {
        Err(fake())
    }
    async fn set_oauth_client_disabled(
        &self,
        _: &str,
        _: Option<Timestamp>,
    ) -> StoreResult<OAuthClient> {
        Err(fake())
    }
    async fn delete_oauth_client(&self, _: &str, _: Timestamp) -> StoreResult<bool> {
        Err(fake())
    }
    async fn revoke_client_sessions(&self, _: &str, _: Timestamp) -> StoreResult<u64> {
        Err(fake())
    }
    async fn get_service_account(&self, _: &str) -> StoreResult<Option<ServiceAccount>> {
        Err(fake())
    }
    async fn get_service_account_by_id(&self, _: UserId) -> StoreResult<Option<ServiceAccount>> {
        Err(fake())
    }
    async fn list_service_accounts(&self, _: Option<OrgId>) -> StoreResult<Vec<ServiceAccount>> {
        Err(fake())
    }
    async fn ensure_service_account(&self, _: ServiceAccount) -> StoreResult<ServiceAccount> {
        Err(fake())
    }
    async fn set_service_account_roles(
        &self,
        _: &str,
        _: BTreeSet<Role>,
        _: Timestamp,
    ) -> StoreResult<ServiceAccount> {
        Err(fake())
    }
    async fn announce_service_account(
        &self,
        _: &str,
        _: Option<Timestamp>,
    ) -> StoreResult<Option<ServiceAccount>> {
        Err(fake())
    }
    async fn insert_authorization_code(&self, _: AuthorizationCode) -> StoreResult<()> {
        Err(fake())
    }
    async fn get_refresh_token(&self, _: &str) -> StoreResult<Option<RefreshToken>> {
        Err(fake())
    }
    async fn grant_sessions_of(&self, _: &SessionId, _: Timestamp) -> StoreResult<Vec<Session>> {
        Err(fake())
    }
    async fn get_consent(&self, _: UserId, _: &str) -> StoreResult<Option<Consent>> {
        Err(fake())
    }
    async fn list_user_consents(&self, _: UserId) -> StoreResult<Vec<Consent>> {
        Err(fake())
    }
    async fn delete_consent(&self, _: UserId, _: &str) -> StoreResult<bool> {
        Err(fake())
    }
    async fn purge_oauth_grants(&self, _: Timestamp) -> StoreResult<u64> {
        Err(fake())
    }
    async fn insert_device_code(&self, _: DeviceCode) -> StoreResult<()> {
        Err(fake())
    }
    async fn get_device_code(&self, _: &str) -> StoreResult<Option<DeviceCode>> {
        Err(fake())
    }
    async fn get_device_code_by_user_code(&self, _: &str) -> StoreResult<Option<DeviceCode>> {
        Err(fake())
    }
    async fn record_device_poll(&self, _: &str, _: i64, _: Timestamp, _: i64) -> StoreResult<bool> {
        Err(fake())
    }
    async fn decide_device_code(
        &self,
        _: &str,
        _: DeviceDecision,
        _: Timestamp,
    ) -> StoreResult<bool> {
        Err(fake())
    }
    async fn count_device_guess(
        &self,
        _: &str,
        _: Timestamp,
        _: Timestamp,
    ) -> StoreResult<(i64, Timestamp)> {
        Err(fake())
    }
    async fn refund_device_guess(&self, _: &str) -> StoreResult<()> {
        Err(fake())
    }
    async fn claim_logout_notices(
        &self,
        _: Timestamp,
        _: i64,
        _: u32,
    ) -> StoreResult<Vec<LogoutNotice>> {
        Err(fake())
    }
    async fn finish_logout_notice(
        &self,
        _: uuid::Uuid,
        _: NoticeOutcome,
        _: Timestamp,
    ) -> StoreResult<()> {
        Err(fake())
    }
    async fn list_logout_notices(&self, _: &str, _: u32) -> StoreResult<Vec<LogoutNotice>> {
        Err(fake())
    }
    async fn throttle_release(&self, _: &str, _: Timestamp) -> StoreResult<()> {
        Err(fake())
    }
    async fn mfa_state(&self, _: UserId) -> StoreResult<MfaState> {
        Err(fake())
    }
    async fn insert_pending_factor(&self, _: Factor) -> StoreResult<()> {
        Err(fake())
    }
    async fn confirm_factor(
        &self,
        _: UserId,
        _: FactorId,
        _: i64,
        _: Timestamp,
        _: Option<&[[u8; 32]]>,
        _: Timestamp,
    ) -> StoreResult<bool> {
        Err(fake())
    }
    async fn advance_factor_counter(&self, _: FactorId, _: i64, _: Timestamp) -> StoreResult<bool> {
        Err(fake())
    }
    async fn record_passkey_use(
        &self,
        _: FactorId,
        _: i64,
        _: &str,
        _: Timestamp,
    ) -> StoreResult<bool> {
        Err(fake())
    }
    async fn insert_webauthn_ceremony(&self, _: WebauthnCeremonyRecord) -> StoreResult<()> {
        Err(fake())
    }
    async fn take_webauthn_ceremony(
        &self,
        _: &str,
        _: Timestamp,
    ) -> StoreResult<Option<WebauthnCeremonyRecord>> {
        Err(fake())
    }
    async fn delete_factor(&self, _: UserId, _: FactorId) -> StoreResult<bool> {
        Err(fake())
    }
    async fn replace_recovery_codes(
        &self,
        _: UserId,
        _: &[[u8; 32]],
        _: Timestamp,
    ) -> StoreResult<()> {
        Err(fake())
    }
    async fn use_recovery_code(&self, _: UserId, _: &[u8; 32], _: Timestamp) -> StoreResult<bool> {
        Err(fake())
    }
    async fn get_org_mfa_policy(&self, _: OrgId) -> StoreResult<MfaPolicy> {
        Err(fake())
    }
    async fn set_org_mfa_policy(&self, _: OrgId, _: MfaPolicy, _: Timestamp) -> StoreResult<()> {
        Err(fake())
    }
    async fn insert_mfa_challenge(&self, _: MfaChallengeRecord) -> StoreResult<()> {
        Err(fake())
    }
    async fn get_mfa_challenge(
        &self,
        _: &str,
        _: Timestamp,
    ) -> StoreResult<Option<MfaChallengeRecord>> {
        Err(fake())
    }
    async fn take_mfa_challenge(
        &self,
        _: &str,
        _: Timestamp,
    ) -> StoreResult<Option<MfaChallengeRecord>> {
        Err(fake())
    }
    async fn purge_mfa_pending(&self, _: Timestamp, _: Timestamp) -> StoreResult<u64> {
        Err(fake())
    }
    async fn record_session_reauth(
        &self,
        _: &SessionId,
        _: Timestamp,
        _: &[String],
    ) -> StoreResult<()> {
        Err(fake())
    }
    async fn get_session_reauth(
        &self,
        _: &SessionId,
    ) -> StoreResult<Option<(Timestamp, Vec<String>)>> {
        Err(fake())
    }
}
