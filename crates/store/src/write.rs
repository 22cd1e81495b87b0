//! A write transaction: what every writing `Store` method runs in, and the unit of work
//! ([`WriteTx`]) the core can compose several writes in.
//!
//! Revocation events are collected and appended when the transaction commits, so the feed's
//! lock (PostgreSQL) is always the last lock taken, however many writes came before.

use std::collections::BTreeSet;

use async_trait::async_trait;
use portcullis_core::model::*;
use portcullis_core::store::{Deactivation, StoreResult, WriteTx};

use crate::backend::Backend;
use crate::sql::{
    audit, identities, invitations, memberships, oauth_grants, orgs, revocation_feed, sessions,
    users,
};

pub(crate) struct Write<B: Backend> {
    tx: B::Tx,
    events: Vec<RevocationEvent>,
}

impl<B: Backend> Write<B> {
    pub(crate) async fn begin(pool: &B::Pool) -> StoreResult<Self> {
        Ok(Write {
            tx: B::begin_write(pool).await?,
            events: Vec::new(),
        })
    }

    pub(crate) fn conn(&mut self) -> &mut B::Conn {
        &mut self.tx
    }

    /// Queues a revocation event, appended at commit.
    pub(crate) fn announce(&mut self, event: RevocationEvent) {
        self.events.push(event);
    }

    /// Appends the queued events, then commits.
    pub(crate) async fn commit(mut self) -> StoreResult<()> {
        revocation_feed::append::<B>(&mut self.tx, &self.events).await?;
        B::commit(self.tx).await
    }
}

#[async_trait]
impl<B: Backend> WriteTx for Write<B> {
    async fn upsert_membership(
        &mut self,
        user: UserId,
        org: OrgId,
        roles: BTreeSet<Role>,
        kind: MembershipKind,
    ) -> StoreResult<Membership> {
        memberships::upsert(self, user, org, &roles, kind).await
    }

    async fn mark_membership_removed(
        &mut self,
        user: UserId,
        org: OrgId,
        at: Timestamp,
    ) -> StoreResult<()> {
        memberships::mark_removed::<B>(self.conn(), user, org, at).await
    }

    async fn mark_membership_deactivated(
        &mut self,
        user: UserId,
        org: OrgId,
        by: Option<UserId>,
        at: Timestamp,
    ) -> StoreResult<()> {
        memberships::mark_deactivated::<B>(self.conn(), user, org, by, at).await
    }

    async fn set_membership_tokens_not_before(
        &mut self,
        user: UserId,
        org: OrgId,
        at: Timestamp,
    ) -> StoreResult<()> {
        memberships::set_tokens_not_before::<B>(self.conn(), user, org, at).await
    }

    async fn revoke_pending_invitation(
        &mut self,
        user: UserId,
        org: OrgId,
        at: Timestamp,
    ) -> StoreResult<u64> {
        invitations::revoke_pending::<B>(self.conn(), user, org, at).await
    }

    async fn mark_user_deactivated(&mut self, user: UserId) -> StoreResult<()> {
        users::mark_deactivated::<B>(self.conn(), user).await
    }

    async fn lock_org(&mut self, org: OrgId) -> StoreResult<Org> {
        orgs::get_locked::<B>(self.conn(), org).await
    }

    async fn set_org_disabled(
        &mut self,
        org: OrgId,
        disabled: bool,
        at: Timestamp,
    ) -> StoreResult<Org> {
        orgs::set_disabled::<B>(self.conn(), org, disabled, at).await
    }

    async fn set_org_tokens_not_before(&mut self, org: OrgId, at: Timestamp) -> StoreResult<()> {
        orgs::set_tokens_not_before::<B>(self.conn(), org, at).await
    }

    async fn revoke_user_access(
        &mut self,
        user: UserId,
        org: Option<OrgId>,
        by: Option<UserId>,
        at: Timestamp,
    ) -> StoreResult<Deactivation> {
        revocation_feed::revoke_access(self, user, org, by, at).await
    }

    async fn revoke_user_sessions(
        &mut self,
        user: UserId,
        keep: Option<&SessionId>,
        at: Timestamp,
    ) -> StoreResult<u64> {
        sessions::revoke_of_user(self, user, keep, at).await
    }

    async fn revoke_user_credentials(
        &mut self,
        user: UserId,
        by: Option<UserId>,
        at: Timestamp,
    ) -> StoreResult<u64> {
        crate::sql::credentials::revoke_of_user(self, user, by, at).await
    }

    async fn append_revocation_events(&mut self, events: &[RevocationEvent]) -> StoreResult<()> {
        self.events.extend_from_slice(events);
        Ok(())
    }

    async fn create_session(&mut self, session: Session) -> StoreResult<()> {
        sessions::create::<B>(self.conn(), &session).await
    }

    async fn touch_last_login(
        &mut self,
        user: UserId,
        org: OrgId,
        at: Timestamp,
    ) -> StoreResult<()> {
        memberships::touch_last_login::<B>(self.conn(), user, org, at).await
    }

    async fn link_external_identity(&mut self, identity: ExternalIdentity) -> StoreResult<()> {
        identities::link::<B>(self.conn(), &identity).await
    }

    async fn append_audit(&mut self, events: &[AuditEvent]) -> StoreResult<()> {
        audit::append::<B>(self.conn(), events).await
    }

    async fn revoke_session(&mut self, id: &SessionId, at: Timestamp) -> StoreResult<bool> {
        sessions::revoke(self, id, at).await
    }

    async fn get_session(&mut self, id: &SessionId) -> StoreResult<Option<Session>> {
        sessions::get::<B>(self.conn(), id).await
    }

    async fn redeem_authorization_code(
        &mut self,
        code_hash: &str,
        now: Timestamp,
    ) -> StoreResult<CodeRedemption> {
        oauth_grants::redeem_code::<B>(self.conn(), code_hash, now).await
    }

    async fn set_code_grant_session(
        &mut self,
        code_hash: &str,
        session: &SessionId,
    ) -> StoreResult<()> {
        oauth_grants::set_code_grant_session::<B>(self.conn(), code_hash, session).await
    }

    async fn insert_refresh_token(&mut self, token: RefreshToken) -> StoreResult<()> {
        oauth_grants::insert_refresh::<B>(self.conn(), &token).await
    }

    async fn rotate_refresh_token(
        &mut self,
        token_hash: &str,
        now: Timestamp,
    ) -> StoreResult<RefreshRedemption> {
        oauth_grants::rotate_refresh::<B>(self.conn(), token_hash, now).await
    }

    async fn revoke_refresh_family(
        &mut self,
        grant_session: &SessionId,
        at: Timestamp,
    ) -> StoreResult<u64> {
        oauth_grants::revoke_family::<B>(self.conn(), grant_session, at).await
    }

    async fn upsert_consent(&mut self, consent: Consent) -> StoreResult<()> {
        oauth_grants::upsert_consent::<B>(self.conn(), &consent).await
    }

    async fn redeem_device_code(
        &mut self,
        device_code_hash: &str,
        now: Timestamp,
    ) -> StoreResult<DeviceRedemption> {
        crate::sql::device_codes::redeem::<B>(self.conn(), device_code_hash, now).await
    }

    async fn set_device_grant_session(
        &mut self,
        device_code_hash: &str,
        session: &SessionId,
    ) -> StoreResult<()> {
        crate::sql::device_codes::set_grant_session::<B>(self.conn(), device_code_hash, session)
            .await
    }

    async fn delete_user_factors(&mut self, user: UserId) -> StoreResult<u64> {
        crate::sql::factors::delete_all::<B>(self.conn(), user).await
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        (*self).commit().await
    }
}
