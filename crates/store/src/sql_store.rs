//! [`SqlStore`]: the one implementation of the [`Store`] port, generic over the [`Backend`].
//! Each method picks its connection (pooled, a write transaction, or a read snapshot) and calls
//! the aggregate's function in `sql/`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use portcullis_core::model::*;
use portcullis_core::store::*;
use portcullis_core::websso::{SsoFlowKind, SsoFlowRecord};

use crate::backend::{Backend, q};
use crate::common::{micros, now};
use crate::health::Health;
use crate::sql::*;
use crate::write::Write;

/// The store on one backend; see [`SqliteStore`](crate::SqliteStore) and
/// [`PgStore`](crate::PgStore).
pub struct SqlStore<B: Backend> {
    pool: B::Pool,
    health: Arc<Health>,
}

impl<B: Backend> Clone for SqlStore<B> {
    fn clone(&self) -> Self {
        SqlStore {
            pool: self.pool.clone(),
            health: self.health.clone(),
        }
    }
}

impl<B: Backend> std::fmt::Debug for SqlStore<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &B::NAME)
            .field("pool", &self.pool)
            .finish()
    }
}

impl<B: Backend> SqlStore<B> {
    pub(crate) fn new(pool: B::Pool) -> Self {
        SqlStore {
            pool,
            health: Arc::default(),
        }
    }

    /// True while the database is known to be unreachable (`health.rs`): every acquire then
    /// fails at once with `Unavailable`, but for one probe per interval.
    pub fn is_unreachable(&self) -> bool {
        self.health.is_down()
    }

    pub(crate) fn pool(&self) -> &B::Pool {
        &self.pool
    }

    async fn conn(&self) -> StoreResult<B::Pooled> {
        self.health
            .gate(B::acquire(&self.pool), || B::probe(&self.pool))
            .await
    }

    async fn write(&self) -> StoreResult<Write<B>> {
        self.health
            .gate(Write::begin(&self.pool), || B::probe(&self.pool))
            .await
    }

    async fn snapshot(&self) -> StoreResult<B::Tx> {
        self.health
            .gate(B::begin_snapshot(&self.pool), || B::probe(&self.pool))
            .await
    }
}

#[async_trait]
impl<B: Backend> Store for SqlStore<B> {
    fn backend(&self) -> &'static str {
        B::NAME
    }

    async fn ping(&self) -> StoreResult<()> {
        q::<B>("SELECT 1").execute(&mut *self.conn().await?).await?;
        Ok(())
    }

    async fn close(&self) {
        B::close(&self.pool).await;
    }

    async fn begin_write(&self) -> StoreResult<Box<dyn WriteTx>> {
        Ok(Box::new(self.write().await?))
    }

    // ---- OpenID provider clients ----------------------------------------------------------

    async fn create_oauth_client(&self, client: OAuthClient) -> StoreResult<OAuthClient> {
        let mut w = self.write().await?;
        let created = oauth_clients::create::<B>(w.conn(), &client).await?;
        w.commit().await?;
        Ok(created)
    }

    async fn get_oauth_client(&self, client_id: &str) -> StoreResult<Option<OAuthClient>> {
        oauth_clients::get::<B>(&mut *self.conn().await?, client_id).await
    }

    async fn list_oauth_clients(&self, org: Option<OrgId>) -> StoreResult<Vec<OAuthClient>> {
        oauth_clients::list::<B>(&mut *self.conn().await?, org).await
    }

    async fn update_oauth_client(&self, client: OAuthClient) -> StoreResult<OAuthClient> {
        let mut w = self.write().await?;
        let updated = oauth_clients::update::<B>(w.conn(), &client).await?;
        w.announce(RevocationEvent::Client(client.client_id.clone()));
        w.commit().await?;
        Ok(updated)
    }

    async fn rotate_client_secret(
        &self,
        client_id: &str,
        secret: ClientSecret,
        others_expire_at: Timestamp,
    ) -> StoreResult<()> {
        let mut w = self.write().await?;
        oauth_clients::rotate_secret::<B>(w.conn(), client_id, &secret, others_expire_at).await?;
        w.announce(RevocationEvent::Client(client_id.to_string()));
        w.commit().await
    }

    async fn set_oauth_client_disabled(
        &self,
        client_id: &str,
        disabled_at: Option<Timestamp>,
    ) -> StoreResult<OAuthClient> {
        let mut w = self.write().await?;
        let client = oauth_clients::set_disabled::<B>(w.conn(), client_id, disabled_at).await?;
        w.announce(RevocationEvent::Client(client_id.to_string()));
        w.commit().await?;
        Ok(client)
    }

    async fn delete_oauth_client(&self, client_id: &str, at: Timestamp) -> StoreResult<bool> {
        let mut w = self.write().await?;
        let deleted = oauth_clients::delete(&mut w, client_id, at).await?;
        if deleted {
            w.announce(RevocationEvent::Client(client_id.to_string()));
        }
        w.commit().await?;
        Ok(deleted)
    }

    async fn revoke_client_sessions(&self, client_id: &str, at: Timestamp) -> StoreResult<u64> {
        let mut w = self.write().await?;
        let n = sessions::revoke_of_client(&mut w, client_id, at).await?;
        w.commit().await?;
        Ok(n)
    }

    // ---- service accounts (client credentials) --------------------------------------------

    async fn get_service_account(&self, client_id: &str) -> StoreResult<Option<ServiceAccount>> {
        service_accounts::live::<B>(&mut *self.conn().await?, client_id).await
    }

    async fn get_service_account_by_id(&self, id: UserId) -> StoreResult<Option<ServiceAccount>> {
        service_accounts::by_id::<B>(&mut *self.conn().await?, id).await
    }

    async fn list_service_accounts(&self, org: Option<OrgId>) -> StoreResult<Vec<ServiceAccount>> {
        service_accounts::list::<B>(&mut *self.conn().await?, org).await
    }

    async fn ensure_service_account(&self, account: ServiceAccount) -> StoreResult<ServiceAccount> {
        let mut w = self.write().await?;
        let live = service_accounts::ensure::<B>(w.conn(), &account).await?;
        w.commit().await?;
        Ok(live)
    }

    async fn set_service_account_roles(
        &self,
        client_id: &str,
        roles: BTreeSet<Role>,
        at: Timestamp,
    ) -> StoreResult<ServiceAccount> {
        let mut w = self.write().await?;
        let a = service_accounts::set_roles::<B>(w.conn(), client_id, &roles, at).await?;
        w.commit().await?;
        Ok(a)
    }

    async fn announce_service_account(
        &self,
        client_id: &str,
        cut_off: Option<Timestamp>,
    ) -> StoreResult<Option<ServiceAccount>> {
        let mut w = self.write().await?;
        let a = service_accounts::announce(&mut w, client_id, cut_off, None).await?;
        w.commit().await?;
        Ok(a)
    }

    // ---- self-registered OpenID clients ----------------------------------------------------

    async fn create_registered_client(
        &self,
        client: OAuthClient,
        registration: ClientRegistration,
        initial_token: Option<(&str, Timestamp)>,
    ) -> StoreResult<OAuthClient> {
        let mut w = self.write().await?;
        let created =
            client_registrations::create::<B>(w.conn(), &client, &registration, initial_token)
                .await?;
        w.commit().await?;
        Ok(created)
    }

    async fn get_client_registration(
        &self,
        client_id: &str,
    ) -> StoreResult<Option<ClientRegistration>> {
        client_registrations::get::<B>(&mut *self.conn().await?, client_id).await
    }

    async fn update_registered_client(
        &self,
        client: OAuthClient,
        registration: ClientRegistration,
        new_secret: Option<ClientSecret>,
    ) -> StoreResult<OAuthClient> {
        let mut w = self.write().await?;
        let updated = client_registrations::update::<B>(
            w.conn(),
            &client,
            &registration,
            new_secret.as_ref(),
        )
        .await?;
        w.announce(RevocationEvent::Client(client.client_id.clone()));
        w.commit().await?;
        Ok(updated)
    }

    async fn retire_registered_client(&self, client_id: &str, at: Timestamp) -> StoreResult<u64> {
        let mut w = self.write().await?;
        let ended = client_registrations::retire(&mut w, client_id, at).await?;
        w.announce(RevocationEvent::Client(client_id.to_string()));
        w.commit().await?;
        Ok(ended)
    }

    async fn create_initial_access_token(&self, token: InitialAccessToken) -> StoreResult<()> {
        client_registrations::create_token::<B>(&mut *self.conn().await?, &token).await
    }

    async fn get_initial_access_token(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<InitialAccessToken>> {
        client_registrations::get_token::<B>(&mut *self.conn().await?, token_hash).await
    }

    async fn list_initial_access_tokens(&self) -> StoreResult<Vec<InitialAccessToken>> {
        client_registrations::list_tokens::<B>(&mut *self.conn().await?).await
    }

    async fn revoke_initial_access_token(
        &self,
        id: uuid::Uuid,
        at: Timestamp,
    ) -> StoreResult<bool> {
        client_registrations::revoke_token::<B>(&mut *self.conn().await?, id, at).await
    }

    // ---- OpenID provider grants -------------------------------------------------------------

    async fn insert_authorization_code(&self, code: AuthorizationCode) -> StoreResult<()> {
        let mut w = self.write().await?;
        oauth_grants::insert_code::<B>(w.conn(), &code).await?;
        w.commit().await
    }

    async fn get_refresh_token(&self, token_hash: &str) -> StoreResult<Option<RefreshToken>> {
        oauth_grants::get_refresh::<B>(&mut *self.conn().await?, token_hash).await
    }

    async fn grant_sessions_of(
        &self,
        browser_session: &SessionId,
        now: Timestamp,
    ) -> StoreResult<Vec<Session>> {
        sessions::grants_of::<B>(&mut *self.conn().await?, browser_session, now).await
    }

    async fn get_consent(&self, user: UserId, client_id: &str) -> StoreResult<Option<Consent>> {
        oauth_grants::get_consent::<B>(&mut *self.conn().await?, user, client_id).await
    }

    async fn list_user_consents(&self, user: UserId) -> StoreResult<Vec<Consent>> {
        oauth_grants::consents_of_user::<B>(&mut *self.conn().await?, user).await
    }

    async fn delete_consent(&self, user: UserId, client_id: &str) -> StoreResult<bool> {
        oauth_grants::delete_consent::<B>(&mut *self.conn().await?, user, client_id).await
    }

    async fn purge_oauth_grants(&self, now: Timestamp) -> StoreResult<u64> {
        let mut conn = self.conn().await?;
        let grants = oauth_grants::purge::<B>(&mut *conn, now).await?;
        Ok(grants + device_codes::purge::<B>(&mut *conn, now).await?)
    }

    // ---- OpenID provider device grant ---------------------------------------------------------

    async fn insert_device_code(&self, code: DeviceCode) -> StoreResult<()> {
        let mut w = self.write().await?;
        device_codes::insert::<B>(w.conn(), &code).await?;
        w.commit().await
    }

    async fn get_device_code(&self, device_code_hash: &str) -> StoreResult<Option<DeviceCode>> {
        device_codes::get::<B>(&mut *self.conn().await?, device_code_hash).await
    }

    async fn get_device_code_by_user_code(
        &self,
        user_code_hash: &str,
    ) -> StoreResult<Option<DeviceCode>> {
        device_codes::get_by_user_code::<B>(&mut *self.conn().await?, user_code_hash).await
    }

    async fn record_device_poll(
        &self,
        device_code_hash: &str,
        seen_polls: i64,
        now: Timestamp,
        interval_secs: i64,
    ) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        device_codes::record_poll::<B>(&mut *conn, device_code_hash, seen_polls, now, interval_secs)
            .await
    }

    async fn decide_device_code(
        &self,
        user_code_hash: &str,
        decision: DeviceDecision,
        now: Timestamp,
    ) -> StoreResult<bool> {
        device_codes::decide::<B>(&mut *self.conn().await?, user_code_hash, &decision, now).await
    }

    async fn count_device_guess(
        &self,
        key: &str,
        now: Timestamp,
        window_ends: Timestamp,
    ) -> StoreResult<(i64, Timestamp)> {
        device_codes::count_guess::<B>(&mut *self.conn().await?, key, now, window_ends).await
    }

    async fn refund_device_guess(&self, key: &str) -> StoreResult<()> {
        device_codes::refund_guess::<B>(&mut *self.conn().await?, key).await
    }

    // ---- back-channel logout outbox -----------------------------------------------------------

    async fn claim_logout_notices(
        &self,
        now: Timestamp,
        lease_secs: i64,
        limit: u32,
    ) -> StoreResult<Vec<LogoutNotice>> {
        let mut conn = self.conn().await?;
        logout_notices::claim::<B>(&mut conn, now, lease_secs, limit).await
    }

    async fn finish_logout_notice(
        &self,
        id: uuid::Uuid,
        outcome: NoticeOutcome,
        at: Timestamp,
    ) -> StoreResult<()> {
        logout_notices::finish::<B>(&mut *self.conn().await?, id, outcome, at).await
    }

    async fn list_logout_notices(
        &self,
        client_id: &str,
        limit: u32,
    ) -> StoreResult<Vec<LogoutNotice>> {
        logout_notices::list_of_client::<B>(&mut *self.conn().await?, client_id, limit).await
    }

    // ---- users ----------------------------------------------------------------------------

    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        users::insert::<B>(&mut *self.conn().await?, &user, now()).await
    }

    async fn get_user(&self, id: UserId) -> StoreResult<Option<User>> {
        users::get::<B>(&mut *self.conn().await?, id).await
    }

    async fn get_users(&self, ids: &[UserId]) -> StoreResult<Vec<User>> {
        users::get_many::<B>(&mut *self.conn().await?, ids).await
    }

    async fn get_user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        users::get_by_email::<B>(&mut *self.conn().await?, email).await
    }

    async fn update_user(&self, id: UserId, update: UserUpdate) -> StoreResult<User> {
        let mut w = self.write().await?;
        let user = users::update(&mut w, id, update).await?;
        w.commit().await?;
        Ok(user)
    }

    async fn list_users(&self, offset: u64, limit: u32) -> StoreResult<Vec<User>> {
        users::list::<B>(&mut *self.conn().await?, offset, limit).await
    }

    async fn search_org_users(
        &self,
        org: OrgId,
        query: &UserQuery,
        sort: UserSort,
        offset: u64,
        limit: u32,
    ) -> StoreResult<Vec<(User, Membership)>> {
        let mut conn = self.conn().await?;
        users::search_in_org::<B>(&mut conn, org, query, sort, offset, limit).await
    }

    async fn preregister_users(
        &self,
        org: OrgId,
        users: Vec<NewUser>,
        terms: &PreregisterTerms,
    ) -> StoreResult<Vec<Preregistered>> {
        let mut w = self.write().await?;
        let out = invitations::preregister::<B>(w.conn(), org, &users, terms).await?;
        w.commit().await?;
        Ok(out)
    }

    async fn get_invitation(&self, org: OrgId, user: UserId) -> StoreResult<Option<Invitation>> {
        invitations::get::<B>(&mut *self.conn().await?, org, user).await
    }

    async fn accept_invitations(
        &self,
        user: UserId,
        at: Timestamp,
    ) -> StoreResult<Vec<Invitation>> {
        let at = micros(at);
        // Every sign-in comes here: read first, so that the common case takes no write lock.
        if !invitations::any_pending::<B>(&mut *self.conn().await?, user, at).await? {
            return Ok(Vec::new());
        }
        let mut w = self.write().await?;
        let accepted = invitations::accept(&mut w, user, at).await?;
        w.commit().await?;
        Ok(accepted)
    }

    // ---- regions and orgs -------------------------------------------------------------------

    async fn upsert_region(&self, region: Region) -> StoreResult<Region> {
        let mut w = self.write().await?;
        let region = orgs::upsert_region::<B>(w.conn(), region).await?;
        // Other processes re-read the orgs of the region (the read cache keeps it with them).
        let rows = q::<B>("SELECT id FROM orgs WHERE region_id = $1")
            .bind(region.id.clone())
            .fetch_all(w.conn())
            .await?;
        for r in &rows {
            w.announce(RevocationEvent::Org(OrgId(B::col(r, 0)?)));
        }
        w.commit().await?;
        Ok(region)
    }

    async fn get_region(&self, id: &str) -> StoreResult<Option<Region>> {
        orgs::get_region::<B>(&mut *self.conn().await?, id).await
    }

    async fn list_regions(&self) -> StoreResult<Vec<Region>> {
        orgs::list_regions::<B>(&mut *self.conn().await?).await
    }

    async fn create_org(&self, org: NewOrg) -> StoreResult<Org> {
        let mut w = self.write().await?;
        let created = orgs::insert::<B>(w.conn(), &org, now()).await?;
        w.commit().await?;
        Ok(created)
    }

    async fn get_org(&self, id: OrgId) -> StoreResult<Option<Org>> {
        orgs::get::<B>(&mut *self.conn().await?, id).await
    }

    async fn get_org_membership(
        &self,
        user: UserId,
        org: OrgId,
    ) -> StoreResult<Option<(Org, Option<Membership>)>> {
        orgs::get_with_membership::<B>(&mut *self.conn().await?, user, org).await
    }

    async fn get_org_by_name(&self, name: &str) -> StoreResult<Option<Org>> {
        orgs::get_by_name::<B>(&mut *self.conn().await?, name).await
    }

    async fn list_orgs(&self) -> StoreResult<Vec<Org>> {
        orgs::list::<B>(&mut *self.conn().await?).await
    }

    async fn update_org(&self, id: OrgId, update: OrgUpdate) -> StoreResult<Org> {
        let mut w = self.write().await?;
        let org = orgs::update(&mut w, id, update).await?;
        w.announce(RevocationEvent::Org(id));
        w.commit().await?;
        Ok(org)
    }

    // ---- memberships ------------------------------------------------------------------------

    async fn upsert_membership(
        &self,
        user: UserId,
        org: OrgId,
        roles: BTreeSet<Role>,
        kind: MembershipKind,
    ) -> StoreResult<Membership> {
        let mut w = self.write().await?;
        let m = memberships::upsert(&mut w, user, org, &roles, kind).await?;
        w.commit().await?;
        Ok(m)
    }

    async fn get_membership(&self, user: UserId, org: OrgId) -> StoreResult<Option<Membership>> {
        memberships::get::<B>(&mut *self.conn().await?, user, org).await
    }

    async fn list_user_memberships(
        &self,
        user: UserId,
        include_removed: bool,
    ) -> StoreResult<Vec<Membership>> {
        memberships::list_of_user::<B>(&mut *self.conn().await?, user, include_removed).await
    }

    async fn list_org_memberships(
        &self,
        org: OrgId,
        include_removed: bool,
    ) -> StoreResult<Vec<Membership>> {
        memberships::list_of_org::<B>(&mut *self.conn().await?, org, include_removed).await
    }

    async fn touch_last_login(&self, user: UserId, org: OrgId, at: Timestamp) -> StoreResult<()> {
        memberships::touch_last_login::<B>(&mut *self.conn().await?, user, org, at).await
    }

    async fn record_last_logins(&self, logins: &[(UserId, OrgId, Timestamp)]) -> StoreResult<()> {
        let mut w = self.write().await?;
        for (user, org, at) in logins {
            memberships::advance_last_login::<B>(w.conn(), *user, *org, *at).await?;
        }
        w.commit().await
    }

    async fn org_login_activity(
        &self,
        orgs: &[OrgId],
        descending: bool,
        offset: u64,
        limit: u32,
    ) -> StoreResult<Vec<Membership>> {
        let mut conn = self.conn().await?;
        memberships::login_activity::<B>(&mut conn, orgs, descending, offset, limit).await
    }

    // ---- deactivation -------------------------------------------------------------------------

    async fn reactivate_user(&self, user: UserId) -> StoreResult<()> {
        let mut w = self.write().await?;
        users::reactivate(&mut w, user).await?;
        w.commit().await
    }

    async fn reactivate_membership(&self, user: UserId, org: OrgId) -> StoreResult<()> {
        let mut w = self.write().await?;
        memberships::reactivate(&mut w, user, org).await?;
        w.commit().await
    }

    // ---- settings ---------------------------------------------------------------------------

    async fn get_settings(
        &self,
        scope: SettingsScope,
        ns: SettingsNamespace,
    ) -> StoreResult<Option<serde_json::Value>> {
        settings::get::<B>(&mut *self.conn().await?, scope, ns).await
    }

    async fn put_settings(
        &self,
        scope: SettingsScope,
        ns: SettingsNamespace,
        doc: serde_json::Value,
    ) -> StoreResult<()> {
        let mut w = self.write().await?;
        settings::put::<B>(w.conn(), scope, ns, &doc).await?;
        // Cached with the user or org (the read cache): other processes re-read them.
        w.announce(match scope {
            SettingsScope::User(u) => RevocationEvent::User(u),
            SettingsScope::Org(o) => RevocationEvent::Org(o),
        });
        w.commit().await
    }

    async fn get_job_permissions(&self, org: OrgId) -> StoreResult<BTreeMap<Role, JobPermissions>> {
        settings::job_permissions::<B>(&mut *self.conn().await?, org).await
    }

    async fn set_job_permissions(
        &self,
        org: OrgId,
        role: Role,
        perms: Option<JobPermissions>,
    ) -> StoreResult<()> {
        let mut w = self.write().await?;
        settings::set_job_permissions::<B>(w.conn(), org, role, perms.as_ref()).await?;
        w.announce(RevocationEvent::Org(org));
        w.commit().await
    }

    async fn get_org_settings(
        &self,
        org: OrgId,
    ) -> StoreResult<BTreeMap<String, serde_json::Value>> {
        team_settings::get::<B>(&mut *self.conn().await?, org).await
    }

    async fn update_org_settings(
        &self,
        org: OrgId,
        changes: &[(String, Option<serde_json::Value>)],
        max_keys: usize,
    ) -> StoreResult<()> {
        let mut w = self.write().await?;
        team_settings::update::<B>(w.conn(), org, changes, max_keys).await?;
        w.announce(RevocationEvent::Org(org));
        w.commit().await
    }

    async fn get_org_priorities(&self, org: OrgId) -> StoreResult<Option<Vec<PriorityLevel>>> {
        team_settings::priorities::<B>(&mut *self.conn().await?, org).await
    }

    async fn set_org_priorities(
        &self,
        org: OrgId,
        priorities: Option<&[PriorityLevel]>,
    ) -> StoreResult<()> {
        let mut w = self.write().await?;
        team_settings::set_priorities::<B>(w.conn(), org, priorities).await?;
        w.announce(RevocationEvent::Org(org));
        w.commit().await
    }

    // ---- email allow-list ---------------------------------------------------------------------

    async fn add_allowlist(&self, entry: AllowlistEntry) -> StoreResult<()> {
        let mut w = self.write().await?;
        allowlist::add::<B>(w.conn(), &entry).await?;
        w.commit().await
    }

    async fn remove_allowlist(
        &self,
        org: Option<OrgId>,
        kind: AllowlistKind,
        value: &str,
    ) -> StoreResult<bool> {
        allowlist::remove::<B>(&mut *self.conn().await?, org, kind, value).await
    }

    async fn list_allowlist(&self) -> StoreResult<Vec<AllowlistEntry>> {
        allowlist::list::<B>(&mut *self.conn().await?).await
    }

    // ---- workspaces and resources ---------------------------------------------------------------

    async fn create_workspace(
        &self,
        org: OrgId,
        slug: &str,
        display_name: Option<String>,
    ) -> StoreResult<Workspace> {
        let mut w = self.write().await?;
        let ws = workspaces::create::<B>(w.conn(), org, slug, display_name).await?;
        w.commit().await?;
        Ok(ws)
    }

    async fn get_workspace(&self, id: WorkspaceId) -> StoreResult<Option<Workspace>> {
        workspaces::get::<B>(&mut *self.conn().await?, id).await
    }

    async fn list_org_workspaces(&self, org: OrgId) -> StoreResult<Vec<Workspace>> {
        workspaces::list_of_org::<B>(&mut *self.conn().await?, org).await
    }

    async fn update_workspace(
        &self,
        id: WorkspaceId,
        patch: WorkspacePatch,
    ) -> StoreResult<Workspace> {
        workspaces::update::<B>(&mut *self.conn().await?, id, patch).await
    }

    async fn grant_workspace(&self, grant: WorkspaceGrant) -> StoreResult<()> {
        let mut w = self.write().await?;
        workspaces::grant::<B>(w.conn(), &grant).await?;
        w.commit().await
    }

    async fn revoke_workspace_grant(
        &self,
        workspace: WorkspaceId,
        user: UserId,
    ) -> StoreResult<bool> {
        workspaces::revoke_grant::<B>(&mut *self.conn().await?, workspace, user).await
    }

    async fn list_user_workspace_grants(&self, user: UserId) -> StoreResult<Vec<WorkspaceGrant>> {
        workspaces::grants_of_user::<B>(&mut *self.conn().await?, user).await
    }

    async fn register_resources(&self, workspace: WorkspaceId, rids: &[String]) -> StoreResult<()> {
        let mut w = self.write().await?;
        workspaces::register_resources::<B>(w.conn(), workspace, rids).await?;
        w.commit().await
    }

    async fn resource_workspaces(
        &self,
        rids: &[String],
    ) -> StoreResult<BTreeMap<String, WorkspaceId>> {
        workspaces::resource_workspaces::<B>(&mut *self.conn().await?, rids).await
    }

    // ---- external identities ------------------------------------------------------------------

    async fn find_external_identity(
        &self,
        issuer: &str,
        subject: &str,
    ) -> StoreResult<Option<ExternalIdentity>> {
        identities::find::<B>(&mut *self.conn().await?, issuer, subject).await
    }

    async fn link_external_identity(&self, identity: ExternalIdentity) -> StoreResult<()> {
        let mut w = self.write().await?;
        identities::link::<B>(w.conn(), &identity).await?;
        w.commit().await
    }

    async fn provision_federated_user(
        &self,
        user: NewUser,
        identity: ExternalIdentity,
        memberships: Vec<(OrgId, BTreeSet<Role>, MembershipKind)>,
    ) -> StoreResult<User> {
        let mut w = self.write().await?;
        let created = identities::provision::<B>(w.conn(), &user, &identity, &memberships).await?;
        w.commit().await?;
        Ok(created)
    }

    async fn list_user_identities(&self, user: UserId) -> StoreResult<Vec<ExternalIdentity>> {
        identities::list_of_user::<B>(&mut *self.conn().await?, user).await
    }

    // ---- sessions ---------------------------------------------------------------------------

    async fn create_session(&self, session: Session) -> StoreResult<()> {
        let mut w = self.write().await?;
        sessions::create::<B>(w.conn(), &session).await?;
        w.commit().await
    }

    async fn get_session(&self, id: &SessionId) -> StoreResult<Option<Session>> {
        sessions::get::<B>(&mut *self.conn().await?, id).await
    }

    async fn list_user_sessions(
        &self,
        user: UserId,
        include_ended: bool,
        now: Timestamp,
    ) -> StoreResult<Vec<Session>> {
        sessions::list_of_user::<B>(&mut *self.conn().await?, user, include_ended, now).await
    }

    async fn revoke_session(&self, id: &SessionId, at: Timestamp) -> StoreResult<bool> {
        let mut w = self.write().await?;
        let revoked = sessions::revoke(&mut w, id, at).await?;
        w.commit().await?;
        Ok(revoked)
    }

    async fn revoke_user_sessions(
        &self,
        user: UserId,
        keep: Option<&SessionId>,
        at: Timestamp,
    ) -> StoreResult<u64> {
        let mut w = self.write().await?;
        let n = sessions::revoke_of_user(&mut w, user, keep, at).await?;
        w.commit().await?;
        Ok(n)
    }

    async fn touch_session(&self, id: &SessionId, at: Timestamp) -> StoreResult<()> {
        sessions::touch::<B>(&mut *self.conn().await?, id, at).await
    }

    // ---- credentials --------------------------------------------------------------------------

    async fn create_credential(
        &self,
        credential: Credential,
        replace_persistent: Option<UserId>,
    ) -> StoreResult<()> {
        let mut w = self.write().await?;
        credentials::create(&mut w, &credential, replace_persistent).await?;
        w.commit().await
    }

    async fn create_api_key_capped(
        &self,
        credential: Credential,
        max_live: u32,
    ) -> StoreResult<bool> {
        let mut w = self.write().await?;
        let created =
            credentials::create_api_key_capped::<B>(w.conn(), &credential, max_live).await?;
        w.commit().await?;
        Ok(created)
    }

    async fn find_credential_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<Credential>> {
        credentials::find_by_hash::<B>(&mut *self.conn().await?, hash).await
    }

    async fn find_credential_with_membership(
        &self,
        hash: &[u8; 32],
    ) -> StoreResult<Option<(Credential, Option<Membership>)>> {
        credentials::find_with_membership::<B>(&mut *self.conn().await?, hash).await
    }

    async fn get_credential(&self, id: CredentialId) -> StoreResult<Option<Credential>> {
        credentials::get::<B>(&mut *self.conn().await?, id).await
    }

    async fn list_credentials(
        &self,
        filter: &CredentialFilter,
        offset: u64,
        limit: u32,
    ) -> StoreResult<Vec<Credential>> {
        credentials::list::<B>(&mut *self.conn().await?, filter, offset, limit).await
    }

    async fn revoke_credential(
        &self,
        id: CredentialId,
        by: Option<UserId>,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let mut w = self.write().await?;
        let revoked = credentials::revoke(&mut w, id, by, at).await?;
        w.commit().await?;
        Ok(revoked)
    }

    async fn persistent_credentials_for(
        &self,
        org: OrgId,
        users: &[UserId],
    ) -> StoreResult<Vec<CredentialWithPeople>> {
        let mut tx = self.snapshot().await?;
        let found = credentials::persistent_for::<B>(&mut tx, org, users).await?;
        B::commit(tx).await?;
        Ok(found)
    }

    async fn revoke_user_credentials(
        &self,
        user: UserId,
        by: Option<UserId>,
        at: Timestamp,
    ) -> StoreResult<u64> {
        let mut w = self.write().await?;
        let n = credentials::revoke_of_user(&mut w, user, by, at).await?;
        w.commit().await?;
        Ok(n)
    }

    // ---- keys -------------------------------------------------------------------------------

    async fn insert_key(&self, key: KeyRecord) -> StoreResult<()> {
        keys::insert::<B>(&mut *self.conn().await?, key).await
    }

    async fn list_keys(&self, purpose: KeyPurpose) -> StoreResult<Vec<KeyRecord>> {
        keys::list::<B>(&mut *self.conn().await?, purpose).await
    }

    async fn retire_key(&self, kid: &str, at: Timestamp) -> StoreResult<()> {
        keys::retire::<B>(&mut *self.conn().await?, kid, at).await
    }

    async fn revoke_key(&self, kid: &str, at: Timestamp) -> StoreResult<bool> {
        let mut w = self.write().await?;
        let revoked = keys::revoke(&mut w, kid, at).await?;
        w.commit().await?;
        Ok(revoked)
    }

    // ---- password resets ----------------------------------------------------------------------

    async fn require_password_reset(
        &self,
        user: UserId,
        code_hash: &[u8; 32],
        expires_at: Timestamp,
        revoke_credentials: bool,
        at: Timestamp,
    ) -> StoreResult<Deactivation> {
        let mut w = self.write().await?;
        let d =
            password_resets::require(&mut w, user, code_hash, expires_at, revoke_credentials, at)
                .await?;
        w.commit().await?;
        Ok(d)
    }

    async fn redeem_password_reset(
        &self,
        user: UserId,
        code_hash: &[u8; 32],
        password_hash: &str,
        at: Timestamp,
    ) -> StoreResult<Option<u64>> {
        let mut w = self.write().await?;
        let ended = password_resets::redeem(&mut w, user, code_hash, password_hash, at).await?;
        w.commit().await?;
        Ok(ended)
    }

    // ---- brute-force throttle -------------------------------------------------------------------

    async fn throttle_claim(
        &self,
        key: &str,
        now: Timestamp,
        hold_until: Timestamp,
    ) -> StoreResult<ThrottleClaim> {
        throttle::claim::<B>(&mut *self.conn().await?, key, now, hold_until).await
    }

    async fn throttle_fail(
        &self,
        key: &str,
        next_attempt_at: Timestamp,
        locked_until: Option<Option<Timestamp>>,
    ) -> StoreResult<i32> {
        let mut conn = self.conn().await?;
        throttle::fail::<B>(&mut conn, key, next_attempt_at, locked_until).await
    }

    async fn throttle_reset(&self, key: &str) -> StoreResult<()> {
        throttle::reset::<B>(&mut *self.conn().await?, key).await
    }

    async fn throttle_release(&self, key: &str, now: Timestamp) -> StoreResult<()> {
        throttle::release::<B>(&mut *self.conn().await?, key, now).await
    }

    async fn throttle_get(&self, key: &str) -> StoreResult<Option<ThrottleState>> {
        throttle::get::<B>(&mut *self.conn().await?, key).await
    }

    // ---- revocation view feed ----------------------------------------------------------------

    async fn revocation_snapshot(&self, now: Timestamp) -> StoreResult<RevocationSnapshot> {
        let mut tx = self.snapshot().await?;
        let snapshot = revocation_feed::snapshot::<B>(&mut tx, now).await?;
        B::commit(tx).await?;
        Ok(snapshot)
    }

    async fn revocation_events_since(
        &self,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<(i64, RevocationEvent)>> {
        revocation_feed::events_since::<B>(&mut *self.conn().await?, after, limit).await
    }

    async fn user_revocation_state(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> StoreResult<UserRevocationState> {
        let mut tx = self.snapshot().await?;
        let state = revocation_feed::user_state::<B>(&mut tx, user, now).await?;
        B::commit(tx).await?;
        Ok(state)
    }

    async fn org_revocation_state(&self, org: OrgId) -> StoreResult<OrgRevocationState> {
        revocation_feed::org_state::<B>(&mut *self.conn().await?, org).await
    }

    // ---- audit ------------------------------------------------------------------------------

    async fn append_audit(&self, events: &[AuditEvent]) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut w = self.write().await?;
        audit::append::<B>(w.conn(), events).await?;
        w.commit().await
    }

    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEvent>> {
        audit::list::<B>(&mut *self.conn().await?, filter).await
    }

    // ---- browser SSO flow state ---------------------------------------------------------------

    async fn insert_sso_flow(&self, flow: SsoFlowRecord) -> StoreResult<()> {
        sso_flows::insert::<B>(&mut *self.conn().await?, flow).await
    }

    async fn take_sso_flow(
        &self,
        kind: SsoFlowKind,
        key_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<SsoFlowRecord>> {
        sso_flows::take::<B>(&mut *self.conn().await?, kind, key_hash, now).await
    }

    async fn purge_sso_flows(&self, now: Timestamp) -> StoreResult<u64> {
        sso_flows::purge::<B>(&mut *self.conn().await?, now).await
    }

    // ---- second factors -----------------------------------------------------------------------

    async fn mfa_state(&self, user: UserId) -> StoreResult<MfaState> {
        factors::state::<B>(&mut *self.conn().await?, user).await
    }

    async fn insert_pending_factor(&self, factor: Factor) -> StoreResult<()> {
        let mut w = self.write().await?;
        factors::insert_pending(&mut w, factor).await?;
        w.commit().await
    }

    async fn confirm_factor(
        &self,
        user: UserId,
        id: FactorId,
        counter: i64,
        created_after: Timestamp,
        recovery_codes: Option<&[[u8; 32]]>,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let mut w = self.write().await?;
        let done =
            factors::confirm(&mut w, user, id, counter, created_after, recovery_codes, at).await?;
        w.commit().await?;
        Ok(done)
    }

    async fn advance_factor_counter(
        &self,
        id: FactorId,
        counter: i64,
        at: Timestamp,
    ) -> StoreResult<bool> {
        factors::advance::<B>(&mut *self.conn().await?, id, counter, at).await
    }

    async fn record_passkey_use(
        &self,
        id: FactorId,
        counter: i64,
        credential: &str,
        at: Timestamp,
    ) -> StoreResult<bool> {
        factors::record_passkey_use::<B>(&mut *self.conn().await?, id, counter, credential, at)
            .await
    }

    async fn insert_webauthn_ceremony(&self, c: WebauthnCeremonyRecord) -> StoreResult<()> {
        factors::insert_ceremony::<B>(&mut *self.conn().await?, c).await
    }

    async fn take_webauthn_ceremony(
        &self,
        key_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<WebauthnCeremonyRecord>> {
        factors::take_ceremony::<B>(&mut *self.conn().await?, key_hash, now).await
    }

    async fn delete_factor(&self, user: UserId, id: FactorId) -> StoreResult<bool> {
        let mut w = self.write().await?;
        let done = factors::delete(&mut w, user, id).await?;
        w.commit().await?;
        Ok(done)
    }

    async fn replace_recovery_codes(
        &self,
        user: UserId,
        hashes: &[[u8; 32]],
        at: Timestamp,
    ) -> StoreResult<()> {
        let mut w = self.write().await?;
        factors::replace_codes::<B>(w.conn(), user, hashes, at).await?;
        w.commit().await
    }

    async fn use_recovery_code(
        &self,
        user: UserId,
        hash: &[u8; 32],
        at: Timestamp,
    ) -> StoreResult<bool> {
        factors::use_code::<B>(&mut *self.conn().await?, user, hash, at).await
    }

    async fn get_org_mfa_policy(&self, org: OrgId) -> StoreResult<MfaPolicy> {
        factors::get_policy::<B>(&mut *self.conn().await?, org).await
    }

    async fn set_org_mfa_policy(
        &self,
        org: OrgId,
        policy: MfaPolicy,
        at: Timestamp,
    ) -> StoreResult<()> {
        let mut w = self.write().await?;
        factors::set_policy::<B>(w.conn(), org, policy, at).await?;
        w.commit().await
    }

    async fn insert_mfa_challenge(&self, challenge: MfaChallengeRecord) -> StoreResult<()> {
        factors::insert_challenge::<B>(&mut *self.conn().await?, challenge).await
    }

    async fn get_mfa_challenge(
        &self,
        key_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<MfaChallengeRecord>> {
        factors::challenge::<B>(&mut *self.conn().await?, key_hash, now, false).await
    }

    async fn take_mfa_challenge(
        &self,
        key_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<MfaChallengeRecord>> {
        factors::challenge::<B>(&mut *self.conn().await?, key_hash, now, true).await
    }

    async fn purge_mfa_pending(
        &self,
        now: Timestamp,
        pending_before: Timestamp,
    ) -> StoreResult<u64> {
        factors::purge::<B>(&mut *self.conn().await?, now, pending_before).await
    }

    async fn record_session_reauth(
        &self,
        session: &SessionId,
        at: Timestamp,
        methods: &[String],
    ) -> StoreResult<()> {
        factors::record_reauth::<B>(&mut *self.conn().await?, session, at, methods).await
    }

    async fn get_session_reauth(
        &self,
        session: &SessionId,
    ) -> StoreResult<Option<(Timestamp, Vec<String>)>> {
        factors::get_reauth::<B>(&mut *self.conn().await?, session).await
    }

    // ---- bootstrap ----------------------------------------------------------------------------

    async fn bootstrap(
        &self,
        region: Region,
        org: NewOrg,
        admin: NewUser,
    ) -> StoreResult<Option<(Org, User)>> {
        let mut w = self.write().await?;
        let created = bootstrap::bootstrap::<B>(w.conn(), region, &org, &admin).await?;
        w.commit().await?;
        if let Some((org, user)) = &created {
            tracing::info!(org = %org.name, user = %user.id, "bootstrapped an empty store");
        }
        Ok(created)
    }
}
