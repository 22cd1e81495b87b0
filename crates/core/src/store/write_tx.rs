//! The unit of work of the store port.

use std::collections::BTreeSet;

use async_trait::async_trait;

use super::*;

/// A unit of work: several writes in one transaction, for a use case that must change several
/// things together. Each method does what the [`Store`] method of the same name does (checks,
/// errors, revocation events), inside this transaction; the events are appended at commit.
/// Nothing is visible to others before [`WriteTx::commit`]; dropping it without committing
/// rolls every write back. After a method fails, drop the transaction (PostgreSQL refuses
/// further statements in a transaction where one failed).
#[async_trait]
pub trait WriteTx: Send {
    async fn upsert_membership(
        &mut self,
        user: UserId,
        org: OrgId,
        roles: BTreeSet<Role>,
        kind: MembershipKind,
    ) -> StoreResult<Membership>;
    /// Marks the membership removed (the first removal's instant is kept). A plain data write:
    /// what else a removal ends is `use_cases::remove_membership`'s to decide. `NotFound` for
    /// an unknown membership; appends no event.
    async fn mark_membership_removed(
        &mut self,
        user: UserId,
        org: OrgId,
        at: Timestamp,
    ) -> StoreResult<()>;
    /// Sets the membership's deactivated flag with who and when. A plain data write, like
    /// [`WriteTx::mark_membership_removed`].
    async fn mark_membership_deactivated(
        &mut self,
        user: UserId,
        org: OrgId,
        by: Option<UserId>,
        at: Timestamp,
    ) -> StoreResult<()>;
    /// Refuses the member's tokens for the org issued before `at` (kept when the membership
    /// comes back). `NotFound` for an unknown membership; appends no event.
    async fn set_membership_tokens_not_before(
        &mut self,
        user: UserId,
        org: OrgId,
        at: Timestamp,
    ) -> StoreResult<()>;
    /// Revokes the user's unanswered invitation to the org; returns how many (0 or 1).
    async fn revoke_pending_invitation(
        &mut self,
        user: UserId,
        org: OrgId,
        at: Timestamp,
    ) -> StoreResult<u64>;
    /// Sets the user's deactivated flag. A plain data write (`use_cases::deactivate_user`
    /// revokes). `NotFound` for an unknown user; appends no event.
    async fn mark_user_deactivated(&mut self, user: UserId) -> StoreResult<()>;
    /// Reads the org and keeps it locked until the unit ends, so a decision on what was read
    /// still holds at commit. `NotFound` for an unknown org.
    async fn lock_org(&mut self, org: OrgId) -> StoreResult<Org>;
    /// Sets the org's disabled flag; returns the org. A plain data write
    /// (`use_cases::set_org_disabled` adds the cut-off and the event).
    async fn set_org_disabled(
        &mut self,
        org: OrgId,
        disabled: bool,
        at: Timestamp,
    ) -> StoreResult<Org>;
    /// Refuses the org's tokens issued before `at`. `NotFound` for an unknown org.
    async fn set_org_tokens_not_before(&mut self, org: OrgId, at: Timestamp) -> StoreResult<()>;
    /// Revokes the user's live sessions and active credentials in `org`, or in every org with
    /// `None` (recording `by` as the credentials' revoker), and appends a `User` event.
    async fn revoke_user_access(
        &mut self,
        user: UserId,
        org: Option<OrgId>,
        by: Option<UserId>,
        at: Timestamp,
    ) -> StoreResult<Deactivation>;
    async fn revoke_user_sessions(
        &mut self,
        user: UserId,
        keep: Option<&SessionId>,
        at: Timestamp,
    ) -> StoreResult<u64>;
    async fn revoke_user_credentials(
        &mut self,
        user: UserId,
        by: Option<UserId>,
        at: Timestamp,
    ) -> StoreResult<u64>;
    /// Appends events of the caller's own choosing (at commit, after the others).
    async fn append_revocation_events(&mut self, events: &[RevocationEvent]) -> StoreResult<()>;
    async fn create_session(&mut self, session: Session) -> StoreResult<()>;
    async fn touch_last_login(
        &mut self,
        user: UserId,
        org: OrgId,
        at: Timestamp,
    ) -> StoreResult<()>;
    async fn link_external_identity(&mut self, identity: ExternalIdentity) -> StoreResult<()>;
    async fn append_audit(&mut self, events: &[AuditEvent]) -> StoreResult<()>;
    /// Revokes one session (and, as [`Store::revoke_session`] does, the grant sessions it
    /// parents); `false` when it was unknown or already revoked.
    async fn revoke_session(&mut self, id: &SessionId, at: Timestamp) -> StoreResult<bool>;
    /// [`Store::get_session`] on this unit's own connection. A unit must read through it, not
    /// the store: with every pooled connection held by a unit (SQLite writers queue for the
    /// write lock holding theirs), a second connection for the lock holder never comes.
    async fn get_session(&mut self, id: &SessionId) -> StoreResult<Option<Session>>;

    // ---- OpenID provider (docs/design/oidc-provider.md) ---------------------------------
    /// Marks the code consumed at `now` when it was not yet; reports what it found. Expiry is
    /// the caller's to check. Atomic across nodes: of two racing redemptions one sees
    /// `AlreadyUsed`.
    async fn redeem_authorization_code(
        &mut self,
        code_hash: &str,
        now: Timestamp,
    ) -> StoreResult<CodeRedemption>;
    /// Records the session a redeemed code started (so a replay can end it).
    async fn set_code_grant_session(
        &mut self,
        code_hash: &str,
        session: &SessionId,
    ) -> StoreResult<()>;
    /// `Conflict` when the hash is taken.
    async fn insert_refresh_token(&mut self, token: RefreshToken) -> StoreResult<()>;
    /// Marks a current (neither rotated nor revoked) token rotated at `now`; reports what it
    /// found. Expiry is the caller's to check. Atomic across nodes like code redemption.
    async fn rotate_refresh_token(
        &mut self,
        token_hash: &str,
        now: Timestamp,
    ) -> StoreResult<RefreshRedemption>;
    /// Revokes every unrevoked refresh token of the grant session; returns how many.
    async fn revoke_refresh_family(
        &mut self,
        grant_session: &SessionId,
        at: Timestamp,
    ) -> StoreResult<u64>;
    async fn upsert_consent(&mut self, consent: Consent) -> StoreResult<()>;
    /// Marks an approved, unconsumed device code consumed at `now`; reports what it found.
    /// Expiry is the caller's to check. Atomic across nodes like code redemption.
    async fn redeem_device_code(
        &mut self,
        device_code_hash: &str,
        now: Timestamp,
    ) -> StoreResult<DeviceRedemption>;
    /// Records the session a redeemed device code started (so a replay can end it).
    async fn set_device_grant_session(
        &mut self,
        device_code_hash: &str,
        session: &SessionId,
    ) -> StoreResult<()>;
    /// Deletes every factor, recovery code and pending sign-in challenge of the user; returns
    /// how many factors went (an admin's MFA reset).
    async fn delete_user_factors(&mut self, user: UserId) -> StoreResult<u64>;
    /// Makes every write visible at once.
    async fn commit(self: Box<Self>) -> StoreResult<()>;
}
