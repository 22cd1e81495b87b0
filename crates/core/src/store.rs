//! The storage port. The core calls it; `portcullis-store` implements it for SQLite and PostgreSQL.
//!
//! Every method is one transaction: a multi-row change either happens whole or not at all.
//! Methods that revoke or reactivate also append a [`RevocationEvent`] in the same transaction,
//! so that every process sharing the store can refresh its in-memory view. Several writes that
//! must happen together go through one [`WriteTx`] ([`Store::begin_write`]): what a removal or
//! deactivation revokes is decided by the core's use cases, which compose the plain data writes
//! with the revocations in one unit.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use uuid::Uuid;

use crate::model::*;

mod values;
mod write_tx;

pub use values::*;
pub use write_tx::WriteTx;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which backend this is ("sqlite" or "postgres"), for logs and metrics.
    fn backend(&self) -> &'static str;
    /// Answers when the database answers a trivial query.
    async fn ping(&self) -> StoreResult<()>;
    /// Waits for in-flight work and closes the connections.
    async fn close(&self);
    /// Starts a unit of work. It holds a connection (and, on SQLite, the database's write lock)
    /// until committed or dropped: keep it short and do no slow work inside.
    async fn begin_write(&self) -> StoreResult<Box<dyn WriteTx>>;

    // ---- OpenID provider clients ----------------------------------------------------------
    /// Inserts the client with its secrets. `Conflict` when the client id is taken.
    async fn create_oauth_client(&self, client: OAuthClient) -> StoreResult<OAuthClient>;
    /// With every stored secret (the core checks `ClientSecret::is_live`).
    async fn get_oauth_client(&self, client_id: &str) -> StoreResult<Option<OAuthClient>>;
    /// Every client, or those of one org with `Some(org)`, by client id.
    async fn list_oauth_clients(&self, org: Option<OrgId>) -> StoreResult<Vec<OAuthClient>>;
    /// Replaces every setting of the client but its id, secrets, `created_at` and
    /// `disabled_at`. `NotFound` for an unknown client.
    async fn update_oauth_client(&self, client: OAuthClient) -> StoreResult<OAuthClient>;
    /// Adds a secret and makes every other secret expire no later than `others_expire_at`
    /// (rotation with a grace period), in one transaction. `NotFound` for an unknown client.
    async fn rotate_client_secret(
        &self,
        client_id: &str,
        secret: ClientSecret,
        others_expire_at: Timestamp,
    ) -> StoreResult<()>;
    /// Sets or clears `disabled_at`. `NotFound` for an unknown client.
    async fn set_oauth_client_disabled(
        &self,
        client_id: &str,
        disabled_at: Option<Timestamp>,
    ) -> StoreResult<OAuthClient>;
    /// Deletes the client, its secrets, codes, refresh tokens and consents, revokes its live
    /// grant sessions and retires its service account (with events), in one transaction;
    /// `false` when unknown.
    async fn delete_oauth_client(&self, client_id: &str, at: Timestamp) -> StoreResult<bool>;
    /// Revokes every live grant session of the client (disable: its tokens stop on every node).
    async fn revoke_client_sessions(&self, client_id: &str, at: Timestamp) -> StoreResult<u64>;

    // ---- service accounts (client credentials) --------------------------------------------
    /// The client's live service account.
    async fn get_service_account(&self, client_id: &str) -> StoreResult<Option<ServiceAccount>>;
    /// A service account by id, live or retired.
    async fn get_service_account_by_id(&self, id: UserId) -> StoreResult<Option<ServiceAccount>>;
    /// The live service accounts, of one org or every one, by client id.
    async fn list_service_accounts(&self, org: Option<OrgId>) -> StoreResult<Vec<ServiceAccount>>;
    /// Inserts `account` unless its client has a live one already (a race between nodes
    /// leaves one); returns the live one.
    async fn ensure_service_account(&self, account: ServiceAccount) -> StoreResult<ServiceAccount>;
    /// Replaces the roles of the client's live account. `NotFound` when it has none.
    async fn set_service_account_roles(
        &self,
        client_id: &str,
        roles: BTreeSet<Role>,
        at: Timestamp,
    ) -> StoreResult<ServiceAccount>;
    /// Announces the client's live account on the revocation feed (every view re-reads it:
    /// its client was disabled or enabled), first moving its token cut-off to `cut_off` when
    /// given. `None` when the client has no account.
    async fn announce_service_account(
        &self,
        client_id: &str,
        cut_off: Option<Timestamp>,
    ) -> StoreResult<Option<ServiceAccount>>;
    // ---- self-registered OpenID clients (RFC 7591/7592, metadata documents) --------------
    /// Inserts the client with its secrets and its registration, in one transaction. With
    /// `initial_token` (a token hash and now), first spends one use of that initial access
    /// token: `NotFound("initial access token")` when it is not usable (revoked, expired or
    /// used up), and nothing is written. `Conflict` when the client id is taken.
    async fn create_registered_client(
        &self,
        client: OAuthClient,
        registration: ClientRegistration,
        initial_token: Option<(&str, Timestamp)>,
    ) -> StoreResult<OAuthClient>;
    async fn get_client_registration(
        &self,
        client_id: &str,
    ) -> StoreResult<Option<ClientRegistration>>;
    /// Replaces the client's settings (as [`Store::update_oauth_client`]), adds `new_secret`
    /// when given (every older secret then ends at once), and replaces its registration, in one
    /// transaction. `NotFound` when the client has no registration.
    async fn update_registered_client(
        &self,
        client: OAuthClient,
        registration: ClientRegistration,
        new_secret: Option<ClientSecret>,
    ) -> StoreResult<OAuthClient>;
    /// Disables the client (a first `disabled_at` is kept), forgets its registration access
    /// token and revokes its live grant sessions (with events), in one transaction; returns how
    /// many sessions ended. `NotFound` when the client has no registration.
    async fn retire_registered_client(&self, client_id: &str, at: Timestamp) -> StoreResult<u64>;
    /// `Conflict` when the id or the hash is taken.
    async fn create_initial_access_token(&self, token: InitialAccessToken) -> StoreResult<()>;
    async fn get_initial_access_token(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<InitialAccessToken>>;
    /// Every initial access token, newest first.
    async fn list_initial_access_tokens(&self) -> StoreResult<Vec<InitialAccessToken>>;
    /// Sets `revoked_at` (a first one is kept); `false` for an unknown id.
    async fn revoke_initial_access_token(&self, id: Uuid, at: Timestamp) -> StoreResult<bool>;

    // ---- OpenID provider grants -----------------------------------------------------------
    /// `Conflict` when the hash is taken.
    async fn insert_authorization_code(&self, code: AuthorizationCode) -> StoreResult<()>;
    async fn get_refresh_token(&self, token_hash: &str) -> StoreResult<Option<RefreshToken>>;
    /// Live (unrevoked, unexpired at `now`) grant sessions parented by the browser session,
    /// with their client ids.
    async fn grant_sessions_of(
        &self,
        browser_session: &SessionId,
        now: Timestamp,
    ) -> StoreResult<Vec<Session>>;
    async fn get_consent(&self, user: UserId, client_id: &str) -> StoreResult<Option<Consent>>;
    async fn list_user_consents(&self, user: UserId) -> StoreResult<Vec<Consent>>;
    /// `false` when there was none.
    async fn delete_consent(&self, user: UserId, client_id: &str) -> StoreResult<bool>;
    /// Deletes codes, refresh tokens, device codes and device guess counters expired by `now`; returns how many rows.
    async fn purge_oauth_grants(&self, now: Timestamp) -> StoreResult<u64>;

    // ---- OpenID provider device grant (RFC 8628) ------------------------------------------
    /// `Conflict` when either hash is taken ("device user code already in use" for the user
    /// code: the caller draws another); `NotFound` for an unknown client.
    async fn insert_device_code(&self, code: DeviceCode) -> StoreResult<()>;
    async fn get_device_code(&self, device_code_hash: &str) -> StoreResult<Option<DeviceCode>>;
    async fn get_device_code_by_user_code(
        &self,
        user_code_hash: &str,
    ) -> StoreResult<Option<DeviceCode>>;
    /// Records a poll at `now` with the interval the client must keep from now on, only when
    /// no other poll was recorded since the caller read `seen_polls` (compare-and-set, so two
    /// nodes answering the same client at once cannot both miss a too-fast poll). `false` when
    /// another poll won or the code is unknown.
    async fn record_device_poll(
        &self,
        device_code_hash: &str,
        seen_polls: i64,
        now: Timestamp,
        interval_secs: i64,
    ) -> StoreResult<bool>;
    /// Records the decision when the code is undecided and unexpired at `now`; `false`
    /// otherwise (decided once, across nodes).
    async fn decide_device_code(
        &self,
        user_code_hash: &str,
        decision: DeviceDecision,
        now: Timestamp,
    ) -> StoreResult<bool>;
    /// Counts one user-code attempt against `key` and returns the count in its window with the
    /// window's end: a new window (count 1, ending at `window_ends`) when there is none or it
    /// ended by `now`. One statement, so concurrent attempts are each counted.
    async fn count_device_guess(
        &self,
        key: &str,
        now: Timestamp,
        window_ends: Timestamp,
    ) -> StoreResult<(i64, Timestamp)>;
    /// Takes one attempt back (a right code is not a guess).
    async fn refund_device_guess(&self, key: &str) -> StoreResult<()>;

    // ---- back-channel logout outbox -------------------------------------------------------
    /// Notices due at `now` and not delivered, oldest first; each is leased for `lease_secs`
    /// (its `next_attempt_at` moves on), so two nodes do not deliver the same one at once.
    async fn claim_logout_notices(
        &self,
        now: Timestamp,
        lease_secs: i64,
        limit: u32,
    ) -> StoreResult<Vec<LogoutNotice>>;
    /// Records a delivery (`delivered_at`) or a failure (`attempts` + 1, `last_error`, and the
    /// next attempt, or `None` to give up).
    async fn finish_logout_notice(
        &self,
        id: Uuid,
        outcome: NoticeOutcome,
        at: Timestamp,
    ) -> StoreResult<()>;
    /// Notices of a client, newest first (for `admin client show` and tests).
    async fn list_logout_notices(
        &self,
        client_id: &str,
        limit: u32,
    ) -> StoreResult<Vec<LogoutNotice>>;

    // ---- users ----------------------------------------------------------------------------
    /// Fails with `Conflict` when the email is taken in any letter case.
    async fn create_user(&self, user: NewUser) -> StoreResult<User>;
    async fn get_user(&self, id: UserId) -> StoreResult<Option<User>>;
    async fn get_users(&self, ids: &[UserId]) -> StoreResult<Vec<User>>;
    /// Matches the normalised email.
    async fn get_user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    async fn update_user(&self, id: UserId, update: UserUpdate) -> StoreResult<User>;
    /// All users ordered by email, for the admin CLI.
    async fn list_users(&self, offset: u64, limit: u32) -> StoreResult<Vec<User>>;
    /// Members and guests (not removed) of `org` matching `query`, sorted, then by user id.
    async fn search_org_users(
        &self,
        org: OrgId,
        query: &UserQuery,
        sort: UserSort,
        offset: u64,
        limit: u32,
    ) -> StoreResult<Vec<(User, Membership)>>;
    /// Creates users for the emails not yet taken (case-insensitively) and makes them members
    /// of `org` on `terms`; an account that exists but is not in `org` (never, or removed) gets
    /// a pending invitation on `terms` instead (renewing any earlier one), and never a
    /// membership here. One outcome per entry of `users`, in order. One transaction; `NotFound`
    /// for an unknown org.
    async fn preregister_users(
        &self,
        org: OrgId,
        users: Vec<NewUser>,
        terms: &PreregisterTerms,
    ) -> StoreResult<Vec<Preregistered>>;
    async fn get_invitation(&self, org: OrgId, user: UserId) -> StoreResult<Option<Invitation>>;
    /// Accepts, in one transaction, the user's invitations pending at `at`: each becomes a
    /// membership (one that exists and is not removed is kept as it is) and is marked accepted;
    /// a `User` event is appended when any membership changed. Returns the accepted ones; with
    /// none pending it only reads.
    async fn accept_invitations(&self, user: UserId, at: Timestamp)
    -> StoreResult<Vec<Invitation>>;

    // ---- regions and orgs -------------------------------------------------------------------
    async fn upsert_region(&self, region: Region) -> StoreResult<Region>;
    async fn get_region(&self, id: &str) -> StoreResult<Option<Region>>;
    async fn list_regions(&self) -> StoreResult<Vec<Region>>;
    /// Fails with `Conflict` on a taken name, `NotFound` on an unknown region.
    async fn create_org(&self, org: NewOrg) -> StoreResult<Org>;
    async fn get_org(&self, id: OrgId) -> StoreResult<Option<Org>>;
    /// The org and the user's membership row in it (`None`: no row), in one round trip where
    /// the backend can; `None` for an unknown org.
    async fn get_org_membership(
        &self,
        user: UserId,
        org: OrgId,
    ) -> StoreResult<Option<(Org, Option<Membership>)>> {
        let Some(o) = self.get_org(org).await? else {
            return Ok(None);
        };
        Ok(Some((o, self.get_membership(user, org).await?)))
    }
    async fn get_org_by_name(&self, name: &str) -> StoreResult<Option<Org>>;
    async fn list_orgs(&self) -> StoreResult<Vec<Org>>;
    /// Changes the org's profile and appends an `org` event (read caches keep the org).
    /// Disabling or enabling is `use_cases::set_org_disabled`.
    async fn update_org(&self, id: OrgId, update: OrgUpdate) -> StoreResult<Org>;

    // ---- memberships ------------------------------------------------------------------------
    /// Adds or updates a membership (clearing `removed_at`). `NotFound` names the unknown user
    /// or org.
    async fn upsert_membership(
        &self,
        user: UserId,
        org: OrgId,
        roles: BTreeSet<Role>,
        kind: MembershipKind,
    ) -> StoreResult<Membership>;
    async fn get_membership(&self, user: UserId, org: OrgId) -> StoreResult<Option<Membership>>;
    /// Memberships of a user, removed ones included only when asked.
    async fn list_user_memberships(
        &self,
        user: UserId,
        include_removed: bool,
    ) -> StoreResult<Vec<Membership>>;
    async fn list_org_memberships(
        &self,
        org: OrgId,
        include_removed: bool,
    ) -> StoreResult<Vec<Membership>>;
    async fn touch_last_login(&self, user: UserId, org: OrgId, at: Timestamp) -> StoreResult<()>;
    /// Stores coalesced last-login times (`last_login.rs`), in one transaction where the backend
    /// can; a value only moves forward (an older one is ignored), a missing membership is
    /// skipped.
    async fn record_last_logins(&self, logins: &[(UserId, OrgId, Timestamp)]) -> StoreResult<()> {
        for (user, org, at) in logins {
            match self.touch_last_login(*user, *org, *at).await {
                Ok(()) | Err(StoreError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
    /// Members of the given orgs by `last_login_at` (never-logged-in last when descending,
    /// first when ascending), ties by user id.
    async fn org_login_activity(
        &self,
        orgs: &[OrgId],
        descending: bool,
        offset: u64,
        limit: u32,
    ) -> StoreResult<Vec<Membership>>;

    // ---- reactivation (deactivating revokes: see `use_cases`) ----------------------------------
    async fn reactivate_user(&self, user: UserId) -> StoreResult<()>;
    async fn reactivate_membership(&self, user: UserId, org: OrgId) -> StoreResult<()>;

    // ---- settings ---------------------------------------------------------------------------
    async fn get_settings(
        &self,
        scope: SettingsScope,
        ns: SettingsNamespace,
    ) -> StoreResult<Option<serde_json::Value>>;
    async fn put_settings(
        &self,
        scope: SettingsScope,
        ns: SettingsNamespace,
        doc: serde_json::Value,
    ) -> StoreResult<()>;
    async fn get_job_permissions(&self, org: OrgId) -> StoreResult<BTreeMap<Role, JobPermissions>>;
    async fn set_job_permissions(
        &self,
        org: OrgId,
        role: Role,
        perms: Option<JobPermissions>,
    ) -> StoreResult<()>;
    /// The org's Parsable team settings, key → stored `SettingValue` JSON (parsed by the core,
    /// which skips a malformed value rather than failing every login of the team).
    async fn get_org_settings(
        &self,
        org: OrgId,
    ) -> StoreResult<BTreeMap<String, serde_json::Value>>;
    /// Sets (`Some`) or removes (`None`) each key, all in one transaction. `NotFound` for an
    /// unknown org; `Conflict` (nothing written) when the org would end up with more than
    /// `max_keys` settings.
    async fn update_org_settings(
        &self,
        org: OrgId,
        changes: &[(String, Option<serde_json::Value>)],
        max_keys: usize,
    ) -> StoreResult<()>;
    /// `None`: no priority list configured.
    async fn get_org_priorities(&self, org: OrgId) -> StoreResult<Option<Vec<PriorityLevel>>>;
    /// Replaces the list (`None` removes it). `NotFound` for an unknown org.
    async fn set_org_priorities(
        &self,
        org: OrgId,
        priorities: Option<&[PriorityLevel]>,
    ) -> StoreResult<()>;

    // ---- email allow-list ---------------------------------------------------------------------
    /// Idempotent; `NotFound` for an unknown org.
    async fn add_allowlist(&self, entry: AllowlistEntry) -> StoreResult<()>;
    /// Returns whether an entry was removed.
    async fn remove_allowlist(
        &self,
        org: Option<OrgId>,
        kind: AllowlistKind,
        value: &str,
    ) -> StoreResult<bool>;
    async fn list_allowlist(&self) -> StoreResult<Vec<AllowlistEntry>>;

    // ---- workspaces and resources ---------------------------------------------------------------
    /// `Conflict` when the slug is taken in the org; `NotFound` for an unknown org.
    async fn create_workspace(
        &self,
        org: OrgId,
        slug: &str,
        display_name: Option<String>,
    ) -> StoreResult<Workspace>;
    async fn get_workspace(&self, id: WorkspaceId) -> StoreResult<Option<Workspace>>;
    async fn list_org_workspaces(&self, org: OrgId) -> StoreResult<Vec<Workspace>>;
    async fn update_workspace(
        &self,
        id: WorkspaceId,
        patch: WorkspacePatch,
    ) -> StoreResult<Workspace>;
    async fn grant_workspace(&self, grant: WorkspaceGrant) -> StoreResult<()>;
    async fn revoke_workspace_grant(
        &self,
        workspace: WorkspaceId,
        user: UserId,
    ) -> StoreResult<bool>;
    async fn list_user_workspace_grants(&self, user: UserId) -> StoreResult<Vec<WorkspaceGrant>>;
    /// All or nothing: fails with `ResourceConflict` (the lowest such RID) if any RID is in
    /// another workspace; RIDs already in this workspace are no-ops.
    async fn register_resources(&self, workspace: WorkspaceId, rids: &[String]) -> StoreResult<()>;
    async fn resource_workspaces(
        &self,
        rids: &[String],
    ) -> StoreResult<BTreeMap<String, WorkspaceId>>;

    // ---- external identities ------------------------------------------------------------------
    async fn find_external_identity(
        &self,
        issuer: &str,
        subject: &str,
    ) -> StoreResult<Option<ExternalIdentity>>;
    /// `Conflict` if (issuer, subject) is already linked.
    async fn link_external_identity(&self, identity: ExternalIdentity) -> StoreResult<()>;
    /// Just-in-time provisioning: the user, the link and the memberships in one transaction.
    async fn provision_federated_user(
        &self,
        user: NewUser,
        identity: ExternalIdentity,
        memberships: Vec<(OrgId, BTreeSet<Role>, MembershipKind)>,
    ) -> StoreResult<User>;
    async fn list_user_identities(&self, user: UserId) -> StoreResult<Vec<ExternalIdentity>>;

    // ---- sessions ---------------------------------------------------------------------------
    async fn create_session(&self, session: Session) -> StoreResult<()>;
    async fn get_session(&self, id: &SessionId) -> StoreResult<Option<Session>>;
    async fn list_user_sessions(
        &self,
        user: UserId,
        include_ended: bool,
        now: Timestamp,
    ) -> StoreResult<Vec<Session>>;
    /// Returns whether the session was live and is now revoked. Revoking a browser session also
    /// revokes the live grant sessions it parents that are not `offline` (one event each).
    ///
    /// Every revocation of a grant session whose client has a `backchannel_logout_uri` (here,
    /// by `revoke_user_sessions`, `revoke_user_access`, `revoke_client_sessions`, or a unit of
    /// work) enqueues one [`LogoutNotice`] for it in the same transaction, with the browser
    /// session (its parent, or itself when it has none) as `sid`, due at once.
    async fn revoke_session(&self, id: &SessionId, at: Timestamp) -> StoreResult<bool>;
    /// Revokes every live session of the user except `keep`; returns how many.
    async fn revoke_user_sessions(
        &self,
        user: UserId,
        keep: Option<&SessionId>,
        at: Timestamp,
    ) -> StoreResult<u64>;
    async fn touch_session(&self, id: &SessionId, at: Timestamp) -> StoreResult<()>;

    // ---- credentials --------------------------------------------------------------------------
    /// Inserts a credential. With `replace_persistent`, first revokes the user's active
    /// persistent credentials (recording that revoker), in the same transaction.
    async fn create_credential(
        &self,
        credential: Credential,
        replace_persistent: Option<UserId>,
    ) -> StoreResult<()>;
    /// Inserts an API key unless its user already holds `max_live` live ones (unrevoked and
    /// unexpired at its `created_at`), counted under the user's lock in the same transaction so
    /// concurrent creations on any node cannot overshoot. `false` (nothing written) when full.
    async fn create_api_key_capped(
        &self,
        credential: Credential,
        max_live: u32,
    ) -> StoreResult<bool>;
    /// O(1) through the unique index on the secret's hash.
    async fn find_credential_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<Credential>>;
    /// The credential with that hash and its user's membership (any state) in its org, in one
    /// read: what a key exchange needs.
    async fn find_credential_with_membership(
        &self,
        hash: &[u8; 32],
    ) -> StoreResult<Option<(Credential, Option<Membership>)>>;
    async fn get_credential(&self, id: CredentialId) -> StoreResult<Option<Credential>>;
    /// Ordered by `created_at` descending, then id.
    async fn list_credentials(
        &self,
        filter: &CredentialFilter,
        offset: u64,
        limit: u32,
    ) -> StoreResult<Vec<Credential>>;
    /// Returns whether the credential was active and is now revoked.
    async fn revoke_credential(
        &self,
        id: CredentialId,
        by: Option<UserId>,
        at: Timestamp,
    ) -> StoreResult<bool>;
    /// Persistent credentials issued in `org` to `users` who are or were its members, newest
    /// first.
    async fn persistent_credentials_for(
        &self,
        org: OrgId,
        users: &[UserId],
    ) -> StoreResult<Vec<CredentialWithPeople>>;
    /// Revokes every active credential (API keys and persistent tokens) of the user, in every
    /// org, appending a `User` event. Returns how many.
    async fn revoke_user_credentials(
        &self,
        user: UserId,
        by: Option<UserId>,
        at: Timestamp,
    ) -> StoreResult<u64>;

    // ---- keys -------------------------------------------------------------------------------
    async fn insert_key(&self, key: KeyRecord) -> StoreResult<()>;
    /// Oldest first.
    async fn list_keys(&self, purpose: KeyPurpose) -> StoreResult<Vec<KeyRecord>>;
    async fn retire_key(&self, kid: &str, at: Timestamp) -> StoreResult<()>;
    /// Emergency revocation: marks the key revoked (and retired) and appends a `Key` event, in
    /// one transaction. Returns whether it was not revoked before; `NotFound` for an unknown kid.
    async fn revoke_key(&self, kid: &str, at: Timestamp) -> StoreResult<bool>;

    // ---- password resets ----------------------------------------------------------------------
    /// An admin-forced reset, in one transaction: flags the user `password_reset_required`,
    /// revokes every live session (and every active credential when `revoke_credentials`),
    /// replaces any earlier reset code with `code_hash` (the SHA-256 of the one-time code)
    /// valid until `expires_at`, and appends a `User` event. `NotFound` for an unknown user.
    async fn require_password_reset(
        &self,
        user: UserId,
        code_hash: &[u8; 32],
        expires_at: Timestamp,
        revoke_credentials: bool,
        at: Timestamp,
    ) -> StoreResult<Deactivation>;
    /// Redeems a reset code, in one transaction: when `user` is active and holds an unexpired
    /// code with this hash, deletes the code, stores `password_hash`, clears
    /// `password_reset_required`, revokes every live session and appends a `User` event, and
    /// returns how many sessions ended. Otherwise changes nothing and returns `None`.
    async fn redeem_password_reset(
        &self,
        user: UserId,
        code_hash: &[u8; 32],
        password_hash: &str,
        at: Timestamp,
    ) -> StoreResult<Option<u64>>;

    // ---- brute-force throttle -------------------------------------------------------------------
    /// Atomically claims the right to verify one password for `key`. Granted only when no other
    /// attempt holds the key and the delay has passed; the claim holds the key until `hold_until`.
    async fn throttle_claim(
        &self,
        key: &str,
        now: Timestamp,
        hold_until: Timestamp,
    ) -> StoreResult<ThrottleClaim>;
    /// Records a failed attempt and sets the next window. Returns the new failure count.
    async fn throttle_fail(
        &self,
        key: &str,
        next_attempt_at: Timestamp,
        locked_until: Option<Option<Timestamp>>,
    ) -> StoreResult<i32>;
    /// Clears the state after a success or an admin unlock.
    async fn throttle_reset(&self, key: &str) -> StoreResult<()>;
    /// Ends a granted claim's hold at `now` but keeps the failure count: a right password whose
    /// sign-in still needs a second factor must not wipe the failures a wrong code adds to.
    async fn throttle_release(&self, key: &str, now: Timestamp) -> StoreResult<()>;
    async fn throttle_get(&self, key: &str) -> StoreResult<Option<ThrottleState>>;

    // ---- revocation view feed ----------------------------------------------------------------
    async fn revocation_snapshot(&self, now: Timestamp) -> StoreResult<RevocationSnapshot>;
    /// Events with a sequence number greater than `after`, oldest first, at most `limit`.
    async fn revocation_events_since(
        &self,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<(i64, RevocationEvent)>>;
    async fn user_revocation_state(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> StoreResult<UserRevocationState>;
    /// An unknown org reads as disabled.
    async fn org_revocation_state(&self, org: OrgId) -> StoreResult<OrgRevocationState>;

    // ---- audit ------------------------------------------------------------------------------
    async fn append_audit(&self, events: &[AuditEvent]) -> StoreResult<()>;
    /// Newest first.
    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEvent>>;

    // ---- browser SSO flow state (docs/design/browser-sso.md) --------------------------------
    /// Stores a start token or callback record; a taken `key_hash` is a `Conflict`.
    async fn insert_sso_flow(&self, flow: SsoFlowRecord) -> StoreResult<()>;
    /// Deletes the record of that kind and key and returns it when it had not expired by `now`.
    /// One atomic delete: of concurrent takes exactly one gets the record.
    async fn take_sso_flow(
        &self,
        kind: SsoFlowKind,
        key_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<SsoFlowRecord>>;
    /// Deletes every record expired by `now`; returns how many.
    async fn purge_sso_flows(&self, now: Timestamp) -> StoreResult<u64>;

    // ---- second factors (docs/design/mfa.md) --------------------------------------------------
    /// The user's factors (confirmed and pending, oldest first), the MFA policies of the enabled
    /// orgs they are an active member of (the default for an org without one), and how many
    /// recovery codes are unused, read on one connection.
    async fn mfa_state(&self, user: UserId) -> StoreResult<MfaState>;
    /// Stores a pending (unconfirmed) factor, deleting the user's other pending factors of its
    /// kind in the same transaction (one enrolment at a time). `NotFound` for an unknown user;
    /// `Conflict` for a taken WebAuthn credential id.
    async fn insert_pending_factor(&self, factor: Factor) -> StoreResult<()>;
    /// Confirms the user's pending factor and records `counter` (the confirming TOTP step, so
    /// that code cannot sign in again); with `recovery_codes`, replaces the user's recovery
    /// codes by these hashes, in the same transaction. `false` (nothing written) when there is
    /// no such pending factor of that user created after `created_after`.
    async fn confirm_factor(
        &self,
        user: UserId,
        id: FactorId,
        counter: i64,
        created_after: Timestamp,
        recovery_codes: Option<&[[u8; 32]]>,
        at: Timestamp,
    ) -> StoreResult<bool>;
    /// Accepts a counter value once: sets the confirmed factor's `counter` and `last_used_at`
    /// only when the stored counter is lower. One conditional update, so of concurrent uses of
    /// the same TOTP code on any node exactly one gets `true`.
    async fn advance_factor_counter(
        &self,
        id: FactorId,
        counter: i64,
        at: Timestamp,
    ) -> StoreResult<bool>;
    /// Records a passkey's use: sets `counter`, the updated `credential` JSON and
    /// `last_used_at` only when the stored counter is lower, or both are 0 (an authenticator
    /// without a counter). One conditional update: a repeated or lower counter gets `false`.
    async fn record_passkey_use(
        &self,
        id: FactorId,
        counter: i64,
        credential: &str,
        at: Timestamp,
    ) -> StoreResult<bool>;
    /// Stores a WebAuthn ceremony in progress. `Conflict` when the key is taken.
    async fn insert_webauthn_ceremony(&self, ceremony: WebauthnCeremonyRecord) -> StoreResult<()>;
    /// Deletes the ceremony and returns it when it had not expired by `now`: of concurrent
    /// takes exactly one gets it. Expired ones go with [`Store::purge_mfa_pending`].
    async fn take_webauthn_ceremony(
        &self,
        key_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<WebauthnCeremonyRecord>>;
    /// Deletes one factor of the user; when no confirmed factor is left, the recovery codes go
    /// too, in the same transaction. `false` when the user has no such factor.
    async fn delete_factor(&self, user: UserId, id: FactorId) -> StoreResult<bool>;
    /// Replaces every recovery code of the user by these hashes in one transaction (the old
    /// ones stop working at commit).
    async fn replace_recovery_codes(
        &self,
        user: UserId,
        hashes: &[[u8; 32]],
        at: Timestamp,
    ) -> StoreResult<()>;
    /// Spends an unused recovery code of the user. One conditional update: of concurrent uses
    /// exactly one gets `true`.
    async fn use_recovery_code(
        &self,
        user: UserId,
        hash: &[u8; 32],
        at: Timestamp,
    ) -> StoreResult<bool>;
    /// The org's policy (the default when none is stored).
    async fn get_org_mfa_policy(&self, org: OrgId) -> StoreResult<MfaPolicy>;
    /// `NotFound` for an unknown org.
    async fn set_org_mfa_policy(
        &self,
        org: OrgId,
        policy: MfaPolicy,
        at: Timestamp,
    ) -> StoreResult<()>;
    /// `Conflict` when the key is taken.
    async fn insert_mfa_challenge(&self, challenge: MfaChallengeRecord) -> StoreResult<()>;
    /// The challenge when it has not expired by `now` (it stays).
    async fn get_mfa_challenge(
        &self,
        key_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<MfaChallengeRecord>>;
    /// Deletes the challenge and returns it when it had not expired by `now`: of concurrent
    /// takes exactly one gets it.
    async fn take_mfa_challenge(
        &self,
        key_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<MfaChallengeRecord>>;
    /// Deletes every challenge and WebAuthn ceremony expired by `now`, and pending factors
    /// created before `pending_before`; returns how many rows went.
    async fn purge_mfa_pending(
        &self,
        now: Timestamp,
        pending_before: Timestamp,
    ) -> StoreResult<u64>;
    /// Records a re-authentication on the session (replacing the previous one).
    async fn record_session_reauth(
        &self,
        session: &SessionId,
        at: Timestamp,
        methods: &[String],
    ) -> StoreResult<()>;
    /// The last re-authentication on the session: when, and the methods it verified.
    async fn get_session_reauth(
        &self,
        session: &SessionId,
    ) -> StoreResult<Option<(Timestamp, Vec<String>)>>;

    // ---- bootstrap ----------------------------------------------------------------------------
    /// On an empty store only (no users): creates the region (if missing), the org, the user
    /// and an ADMIN membership in one transaction. Returns `None` when users already exist.
    async fn bootstrap(
        &self,
        region: Region,
        org: NewOrg,
        admin: NewUser,
    ) -> StoreResult<Option<(Org, User)>>;
}
