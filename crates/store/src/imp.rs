//! The one implementation of [`Store`](portcullis_core::store::Store), written once and
//! instantiated per backend by [`store_impl!`].
//!
//! All SQL here is portable between SQLite and PostgreSQL: `$n` placeholders (both accept them),
//! `RETURNING`, `ON CONFLICT`, `NULLS FIRST/LAST`, `TRUE/FALSE`. The few differences live in
//! each backend module, which must define, before invoking the macro:
//!
//! * `type Ts` with `fn enc(Timestamp) -> Ts` and `fn dec(Ts) -> StoreResult<Timestamp>`: the
//!   column type of timestamps;
//! * `async fn begin_write(&Pool) -> StoreResult<Transaction>`: a transaction that will write;
//! * `async fn begin_snapshot(&Pool) -> StoreResult<Transaction>`: a consistent read snapshot;
//! * `async fn lock(&mut Connection, Lock) -> StoreResult<()>`: explicit locks where a
//!   read-then-write must be atomic (no-ops where writers are already serialised).
//!
//! Column lists are macros so that statements stay `&'static str` (built with `concat!`);
//! rows are decoded by position from those lists.

/// Explicit locks a backend may need to take inside a write transaction.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Lock {
    /// The user's row, for read-then-write sequences on the user's credentials.
    User(portcullis_core::model::UserId),
    /// The whole users table, so that "no users yet" stays true until commit.
    Bootstrap,
    /// The revocation feed: events must commit in sequence order. Always taken last.
    RevocationFeed,
    /// The org's row, for read-then-write sequences on per-org tables (team settings).
    Org(portcullis_core::model::OrgId),
}

macro_rules! user_cols {
    ($p:literal) => {
        concat!(
            $p,
            "id, ",
            $p,
            "email, ",
            $p,
            "display_name, ",
            $p,
            "avatar_url, ",
            $p,
            "password_hash, ",
            $p,
            "validated_at, ",
            $p,
            "super_admin, ",
            $p,
            "deactivated, ",
            $p,
            "password_reset_required, ",
            $p,
            "created_at, ",
            $p,
            "updated_at"
        )
    };
}
pub(crate) const USER_NCOLS: usize = 11;

macro_rules! membership_cols {
    ($p:literal) => {
        concat!(
            $p,
            "user_id, ",
            $p,
            "org_id, ",
            $p,
            "roles, ",
            $p,
            "kind, ",
            $p,
            "deactivated, ",
            $p,
            "last_login_at, ",
            $p,
            "created_at, ",
            $p,
            "updated_at, ",
            $p,
            "removed_at"
        )
    };
}

macro_rules! invitation_cols {
    () => {
        "org_id, user_id, roles, kind, invited_by, created_at, expires_at, accepted_at, revoked_at"
    };
}

macro_rules! org_cols {
    () => {
        "id, name, display_name, region_id, disabled, default_workspace, created_at, updated_at"
    };
}

macro_rules! region_cols {
    () => {
        "id, api_host, sig_host, static_host"
    };
}

macro_rules! workspace_cols {
    () => {
        "id, org_id, slug, display_name, symbol, settings, created_at, updated_at"
    };
}

macro_rules! identity_cols {
    () => {
        "issuer, subject, user_id, provider_alias, created_at"
    };
}

macro_rules! session_cols {
    () => {
        "id, user_id, org_id, kind, amr, actor_id, created_at, expires_at, idle_timeout_secs, \
         last_seen_at, revoked_at, ip, user_agent"
    };
}

macro_rules! credential_cols {
    ($p:literal) => {
        concat!(
            $p,
            "id, ",
            $p,
            "kind, ",
            $p,
            "user_id, ",
            $p,
            "org_id, ",
            $p,
            "creator_id, ",
            $p,
            "name, ",
            $p,
            "secret_hash, ",
            $p,
            "created_at, ",
            $p,
            "expires_at, ",
            $p,
            "revoked_at, ",
            $p,
            "revoked_by"
        )
    };
}

macro_rules! key_cols {
    () => {
        "kid, purpose, algorithm, sealed_private, public, created_at, retired_at, revoked_at"
    };
}

macro_rules! audit_cols {
    () => {
        "id, at, actor, action, target, outcome, ip, request_id, detail"
    };
}

macro_rules! store_impl {
    ($Store:ident, $DB:ty, $backend:literal) => {
        mod generated {
        use super::*;
        use std::collections::{BTreeMap, BTreeSet};

        use async_trait::async_trait;
        use portcullis_core::model::*;
        use portcullis_core::store::*;
        use sqlx::{QueryBuilder, Row as _};
        use uuid::Uuid;

        use crate::common::*;
        use crate::imp::{Lock, USER_NCOLS};

        type Conn = <$DB as sqlx::Database>::Connection;
        type DbRow = <$DB as sqlx::Database>::Row;

        // ---- row decoding (by position, matching the column-list macros) -------------------

        fn col<'r, T>(r: &'r DbRow, i: usize) -> StoreResult<T>
        where
            T: sqlx::Decode<'r, $DB> + sqlx::Type<$DB>,
        {
            r.try_get(i).map_err(db_err)
        }

        fn ts_at(r: &DbRow, i: usize) -> StoreResult<Timestamp> {
            dec(col::<Ts>(r, i)?)
        }

        fn opt_ts_at(r: &DbRow, i: usize) -> StoreResult<Option<Timestamp>> {
            col::<Option<Ts>>(r, i)?.map(dec).transpose()
        }

        fn user_at(r: &DbRow, b: usize) -> StoreResult<User> {
            Ok(User {
                id: UserId(col(r, b)?),
                email: col(r, b + 1)?,
                display_name: col(r, b + 2)?,
                avatar_url: col(r, b + 3)?,
                password_hash: col(r, b + 4)?,
                validated_at: opt_ts_at(r, b + 5)?,
                super_admin: col(r, b + 6)?,
                deactivated: col(r, b + 7)?,
                password_reset_required: col(r, b + 8)?,
                created_at: ts_at(r, b + 9)?,
                updated_at: ts_at(r, b + 10)?,
            })
        }

        fn user_row(r: &DbRow) -> StoreResult<User> {
            user_at(r, 0)
        }

        fn membership_at(r: &DbRow, b: usize) -> StoreResult<Membership> {
            Ok(Membership {
                user_id: UserId(col(r, b)?),
                org_id: OrgId(col(r, b + 1)?),
                roles: roles_from_text(&col::<String>(r, b + 2)?)?,
                kind: parse(&col::<String>(r, b + 3)?)?,
                deactivated: col(r, b + 4)?,
                last_login_at: opt_ts_at(r, b + 5)?,
                created_at: ts_at(r, b + 6)?,
                updated_at: ts_at(r, b + 7)?,
                removed_at: opt_ts_at(r, b + 8)?,
            })
        }

        fn membership_row(r: &DbRow) -> StoreResult<Membership> {
            membership_at(r, 0)
        }

        fn invitation_row(r: &DbRow) -> StoreResult<Invitation> {
            Ok(Invitation {
                org_id: OrgId(col(r, 0)?),
                user_id: UserId(col(r, 1)?),
                roles: roles_from_text(&col::<String>(r, 2)?)?,
                kind: parse(&col::<String>(r, 3)?)?,
                invited_by: col::<Option<Uuid>>(r, 4)?.map(UserId),
                created_at: ts_at(r, 5)?,
                expires_at: ts_at(r, 6)?,
                accepted_at: opt_ts_at(r, 7)?,
                revoked_at: opt_ts_at(r, 8)?,
            })
        }

        fn org_row(r: &DbRow) -> StoreResult<Org> {
            Ok(Org {
                id: OrgId(col(r, 0)?),
                name: col(r, 1)?,
                display_name: col(r, 2)?,
                region_id: col(r, 3)?,
                disabled: col(r, 4)?,
                default_workspace: col::<Option<Uuid>>(r, 5)?.map(WorkspaceId),
                created_at: ts_at(r, 6)?,
                updated_at: ts_at(r, 7)?,
            })
        }

        fn region_row(r: &DbRow) -> StoreResult<Region> {
            Ok(Region {
                id: col(r, 0)?,
                api_host: col(r, 1)?,
                sig_host: col(r, 2)?,
                static_host: col(r, 3)?,
            })
        }

        fn workspace_row(r: &DbRow) -> StoreResult<Workspace> {
            Ok(Workspace {
                id: WorkspaceId(col(r, 0)?),
                org_id: OrgId(col(r, 1)?),
                slug: col(r, 2)?,
                display_name: col(r, 3)?,
                symbol: col::<Option<String>>(r, 4)?
                    .map(|s| json_parse(&s))
                    .transpose()?,
                settings: json_parse(&col::<String>(r, 5)?)?,
                created_at: ts_at(r, 6)?,
                updated_at: ts_at(r, 7)?,
            })
        }

        fn identity_row(r: &DbRow) -> StoreResult<ExternalIdentity> {
            Ok(ExternalIdentity {
                issuer: col(r, 0)?,
                subject: col(r, 1)?,
                user_id: UserId(col(r, 2)?),
                provider_alias: col(r, 3)?,
                created_at: ts_at(r, 4)?,
            })
        }

        fn session_row(r: &DbRow) -> StoreResult<Session> {
            Ok(Session {
                id: SessionId(col(r, 0)?),
                user_id: UserId(col(r, 1)?),
                org_id: col::<Option<Uuid>>(r, 2)?.map_or(OrgId::NONE, OrgId),
                kind: session_kind_from(&col::<String>(r, 3)?)?,
                amr: json_parse(&col::<String>(r, 4)?)?,
                actor_id: col::<Option<Uuid>>(r, 5)?.map(UserId),
                created_at: ts_at(r, 6)?,
                expires_at: ts_at(r, 7)?,
                idle_timeout_secs: col(r, 8)?,
                last_seen_at: ts_at(r, 9)?,
                revoked_at: opt_ts_at(r, 10)?,
                ip: col(r, 11)?,
                user_agent: col(r, 12)?,
            })
        }

        fn credential_row(r: &DbRow) -> StoreResult<Credential> {
            let hash: Vec<u8> = col(r, 6)?;
            Ok(Credential {
                id: CredentialId(col(r, 0)?),
                kind: parse(&col::<String>(r, 1)?)?,
                user_id: UserId(col(r, 2)?),
                org_id: OrgId(col(r, 3)?),
                creator_id: UserId(col(r, 4)?),
                name: col(r, 5)?,
                secret_hash: hash
                    .try_into()
                    .map_err(|_| corrupt("credential secret hash is not 32 bytes"))?,
                created_at: ts_at(r, 7)?,
                expires_at: opt_ts_at(r, 8)?,
                revoked_at: opt_ts_at(r, 9)?,
                revoked_by: col::<Option<Uuid>>(r, 10)?.map(UserId),
            })
        }

        fn key_row(r: &DbRow) -> StoreResult<KeyRecord> {
            Ok(KeyRecord {
                kid: col(r, 0)?,
                purpose: parse(&col::<String>(r, 1)?)?,
                algorithm: col(r, 2)?,
                sealed_private: col(r, 3)?,
                public: col(r, 4)?,
                created_at: ts_at(r, 5)?,
                retired_at: opt_ts_at(r, 6)?,
                revoked_at: opt_ts_at(r, 7)?,
            })
        }

        fn audit_row(r: &DbRow) -> StoreResult<AuditEvent> {
            Ok(AuditEvent {
                id: col(r, 0)?,
                at: ts_at(r, 1)?,
                actor: col::<Option<Uuid>>(r, 2)?.map(UserId),
                action: col(r, 3)?,
                target: col(r, 4)?,
                outcome: parse(&col::<String>(r, 5)?)?,
                ip: col(r, 6)?,
                request_id: col(r, 7)?,
                detail: json_parse(&col::<String>(r, 8)?)?,
            })
        }

        fn rows<T>(rs: Vec<DbRow>, f: fn(&DbRow) -> StoreResult<T>) -> StoreResult<Vec<T>> {
            rs.iter().map(f).collect()
        }

        // ---- shared statements -------------------------------------------------------------

        async fn exists(conn: &mut Conn, sql: &'static str, id: Uuid) -> StoreResult<bool> {
            let row = sqlx::query(sql)
                .bind(id)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?;
            Ok(row.is_some())
        }

        async fn ensure_user(conn: &mut Conn, id: UserId) -> StoreResult<()> {
            if exists(conn, "SELECT 1 FROM users WHERE id = $1", id.0).await? {
                Ok(())
            } else {
                Err(not_found("unknown user"))
            }
        }

        async fn ensure_org(conn: &mut Conn, id: OrgId) -> StoreResult<()> {
            if exists(conn, "SELECT 1 FROM orgs WHERE id = $1", id.0).await? {
                Ok(())
            } else {
                Err(not_found("unknown org"))
            }
        }

        async fn ensure_workspace(conn: &mut Conn, id: WorkspaceId) -> StoreResult<()> {
            if exists(conn, "SELECT 1 FROM workspaces WHERE id = $1", id.0).await? {
                Ok(())
            } else {
                Err(not_found("unknown workspace"))
            }
        }

        async fn ensure_region(conn: &mut Conn, id: &str) -> StoreResult<()> {
            let row = sqlx::query("SELECT 1 FROM regions WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?;
            row.map(|_| ()).ok_or_else(|| not_found("unknown region"))
        }

        async fn insert_user(conn: &mut Conn, u: &NewUser, at: Timestamp) -> StoreResult<User> {
            let row = sqlx::query(concat!(
                "INSERT INTO users (id, email, email_norm, display_name, name_norm, avatar_url, \
                 password_hash, validated_at, super_admin, deactivated, password_reset_required, \
                 created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, FALSE, FALSE, $10, $10) RETURNING ",
                user_cols!("")
            ))
            .bind(UserId::new().0)
            .bind(u.email.trim().to_string())
            .bind(normalize_email(&u.email))
            .bind(u.display_name.clone())
            .bind(name_key(&u.display_name))
            .bind(u.avatar_url.clone())
            .bind(u.password_hash.clone())
            .bind(u.validated_at.map(enc))
            .bind(u.super_admin)
            .bind(enc(at))
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
            user_row(&row)
        }

        /// Inserts or revives a membership; the user and org must exist.
        async fn put_membership(
            conn: &mut Conn,
            user: UserId,
            org: OrgId,
            roles: &BTreeSet<Role>,
            kind: MembershipKind,
            at: Timestamp,
        ) -> StoreResult<Membership> {
            let row = sqlx::query(concat!(
                "INSERT INTO memberships (user_id, org_id, roles, kind, deactivated, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, FALSE, $5, $5) \
                 ON CONFLICT (user_id, org_id) DO UPDATE SET roles = excluded.roles, \
                 kind = excluded.kind, removed_at = NULL, updated_at = excluded.updated_at \
                 RETURNING ",
                membership_cols!("")
            ))
            .bind(user.0)
            .bind(org.0)
            .bind(roles_to_text(roles))
            .bind(kind.as_str())
            .bind(enc(at))
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
            membership_row(&row)
        }

        /// Revokes the user's live sessions and active credentials (in one org, or all).
        async fn revoke_all(
            conn: &mut Conn,
            user: UserId,
            org: Option<OrgId>,
            by: Option<UserId>,
            at: Timestamp,
        ) -> StoreResult<Deactivation> {
            let org = org.map(|o| o.0);
            let sessions = sqlx::query(
                "UPDATE sessions SET revoked_at = $3 WHERE user_id = $1 \
                 AND ($2 IS NULL OR org_id = $2) AND revoked_at IS NULL AND expires_at > $3",
            )
            .bind(user.0)
            .bind(org)
            .bind(enc(at))
            .execute(&mut *conn)
            .await
            .map_err(db_err)?
            .rows_affected();
            let credentials = revoke_credentials_of(conn, user, org, by, at).await?;
            Ok(Deactivation {
                sessions_revoked: sessions,
                credentials_revoked: credentials,
            })
        }

        /// Revokes every live API key and persistent token of the user, in `org` or in all orgs.
        async fn revoke_credentials_of(
            conn: &mut Conn,
            user: UserId,
            org: Option<uuid::Uuid>,
            by: Option<UserId>,
            at: Timestamp,
        ) -> StoreResult<u64> {
            Ok(sqlx::query(
                "UPDATE credentials SET revoked_at = $3, revoked_by = $4 WHERE user_id = $1 \
                 AND ($2 IS NULL OR org_id = $2) AND revoked_at IS NULL \
                 AND (expires_at IS NULL OR expires_at > $3)",
            )
            .bind(user.0)
            .bind(org)
            .bind(enc(at))
            .bind(by.map(|b| b.0))
            .execute(&mut *conn)
            .await
            .map_err(db_err)?
            .rows_affected())
        }

        /// Revokes every live session of the user.
        async fn revoke_sessions_of(conn: &mut Conn, user: UserId, at: Timestamp) -> StoreResult<u64> {
            Ok(sqlx::query(
                "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL \
                 AND expires_at > $2",
            )
            .bind(user.0)
            .bind(enc(at))
            .execute(&mut *conn)
            .await
            .map_err(db_err)?
            .rows_affected())
        }

        /// Appends revocation events. Call last in the transaction (it takes the feed lock).
        async fn emit(conn: &mut Conn, events: &[RevocationEvent]) -> StoreResult<()> {
            if events.is_empty() {
                return Ok(());
            }
            lock(conn, Lock::RevocationFeed).await?;
            let at = enc(now());
            for ev in events {
                let (kind, subject) = event_columns(ev);
                sqlx::query(
                    "INSERT INTO revocation_events (kind, subject, created_at) VALUES ($1, $2, $3)",
                )
                .bind(kind)
                .bind(subject)
                .bind(at)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            }
            Ok(())
        }

        async fn set_membership_flag(
            conn: &mut Conn,
            user: UserId,
            org: OrgId,
            deactivated: bool,
            by: Option<UserId>,
            at: Timestamp,
        ) -> StoreResult<()> {
            let n = sqlx::query(
                "UPDATE memberships SET deactivated = $3, deactivated_by = $4, \
                 deactivated_at = $5, updated_at = $6 WHERE user_id = $1 AND org_id = $2",
            )
            .bind(user.0)
            .bind(org.0)
            .bind(deactivated)
            .bind(by.map(|b| b.0))
            .bind(deactivated.then(|| enc(at)))
            .bind(enc(at))
            .execute(&mut *conn)
            .await
            .map_err(db_err)?
            .rows_affected();
            if n == 0 {
                return Err(not_found("unknown membership"));
            }
            Ok(())
        }

        async fn set_user_flag(conn: &mut Conn, user: UserId, deactivated: bool) -> StoreResult<()> {
            let n = sqlx::query("UPDATE users SET deactivated = $2, updated_at = $3 WHERE id = $1")
                .bind(user.0)
                .bind(deactivated)
                .bind(enc(now()))
                .execute(&mut *conn)
                .await
                .map_err(db_err)?
                .rows_affected();
            if n == 0 {
                return Err(not_found("unknown user"));
            }
            Ok(())
        }

        /// Fetches users by id in `IN` lists of bounded length.
        async fn users_by_ids(conn: &mut Conn, ids: &[UserId]) -> StoreResult<Vec<User>> {
            let ids: BTreeSet<UserId> = ids.iter().copied().collect();
            let ids: Vec<UserId> = ids.into_iter().collect();
            let mut out = Vec::with_capacity(ids.len());
            for chunk in ids.chunks(IN_CHUNK) {
                let mut qb =
                    QueryBuilder::<$DB>::new(concat!("SELECT ", user_cols!(""), " FROM users WHERE id IN ("));
                let mut sep = qb.separated(", ");
                for id in chunk {
                    sep.push_bind(id.0);
                }
                qb.push(") ORDER BY id");
                let rs = qb.build().fetch_all(&mut *conn).await.map_err(db_err)?;
                out.extend(rows(rs, user_row)?);
            }
            Ok(out)
        }

        fn push_user_query(qb: &mut QueryBuilder<$DB>, q: &UserQuery) {
            match q {
                UserQuery::And(items) | UserQuery::Or(items) if items.is_empty() => {
                    qb.push(if matches!(q, UserQuery::And(_)) { "1 = 1" } else { "1 = 0" });
                }
                UserQuery::And(items) | UserQuery::Or(items) => {
                    let op = if matches!(q, UserQuery::And(_)) { " AND " } else { " OR " };
                    qb.push("(");
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            qb.push(op);
                        }
                        push_user_query(qb, item);
                    }
                    qb.push(")");
                }
                UserQuery::ExactEmail(e) => {
                    qb.push("u.email_norm = ").push_bind(normalize_email(e));
                }
                UserQuery::Text(t) => {
                    let pattern = like_substring(t);
                    qb.push("(u.email_norm LIKE ")
                        .push_bind(pattern.clone())
                        .push(" ESCAPE '\\' OR u.name_norm LIKE ")
                        .push_bind(pattern)
                        .push(" ESCAPE '\\')");
                }
            }
        }

        async fn revocation_state(
            conn: &mut Conn,
            user: UserId,
            now: Timestamp,
        ) -> StoreResult<UserRevocationState> {
            let Some(urow) = sqlx::query("SELECT deactivated FROM users WHERE id = $1")
                .bind(user.0)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?
            else {
                return Ok(UserRevocationState::default());
            };
            let orgs = sqlx::query(
                "SELECT org_id FROM memberships WHERE user_id = $1 \
                 AND (deactivated = TRUE OR removed_at IS NOT NULL)",
            )
            .bind(user.0)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
            let cutoffs = sqlx::query(
                "SELECT org_id, tokens_not_before FROM memberships WHERE user_id = $1 \
                 AND tokens_not_before IS NOT NULL",
            )
            .bind(user.0)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
            let sessions = sqlx::query(
                "SELECT id, expires_at FROM sessions WHERE user_id = $1 \
                 AND revoked_at IS NOT NULL AND expires_at > $2 ORDER BY id",
            )
            .bind(user.0)
            .bind(enc(now))
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
            let creds = sqlx::query(
                "SELECT id FROM credentials WHERE user_id = $1 AND revoked_at IS NOT NULL \
                 AND (expires_at IS NULL OR expires_at > $2) ORDER BY id",
            )
            .bind(user.0)
            .bind(enc(now))
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
            Ok(UserRevocationState {
                exists: true,
                deactivated: col(&urow, 0)?,
                deactivated_orgs: orgs
                    .iter()
                    .map(|r| Ok(OrgId(col(r, 0)?)))
                    .collect::<StoreResult<_>>()?,
                org_cutoffs: cutoffs
                    .iter()
                    .map(|r| Ok((OrgId(col(r, 0)?), ts_at(r, 1)?)))
                    .collect::<StoreResult<_>>()?,
                revoked_sessions: sessions
                    .iter()
                    .map(|r| Ok((SessionId(col(r, 0)?), ts_at(r, 1)?)))
                    .collect::<StoreResult<_>>()?,
                revoked_credentials: creds
                    .iter()
                    .map(|r| Ok(CredentialId(col(r, 0)?)))
                    .collect::<StoreResult<_>>()?,
            })
        }

        async fn commit(tx: sqlx::Transaction<'static, $DB>) -> StoreResult<()> {
            tx.commit().await.map_err(db_err)
        }

        #[async_trait]
        impl Store for $Store {
            fn backend(&self) -> &'static str {
                $backend
            }

            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1")
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?;
                Ok(())
            }

            async fn close(&self) {
                self.pool.close().await;
            }

            // ---- users ------------------------------------------------------------------

            async fn create_user(&self, user: NewUser) -> StoreResult<User> {
                let mut conn = self.pool.acquire().await.map_err(db_err)?;
                insert_user(&mut conn, &user, now()).await
            }

            async fn get_user(&self, id: UserId) -> StoreResult<Option<User>> {
                sqlx::query(concat!("SELECT ", user_cols!(""), " FROM users WHERE id = $1"))
                    .bind(id.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .as_ref()
                    .map(user_row)
                    .transpose()
            }

            async fn get_users(&self, ids: &[UserId]) -> StoreResult<Vec<User>> {
                let mut conn = self.pool.acquire().await.map_err(db_err)?;
                users_by_ids(&mut conn, ids).await
            }

            async fn get_user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
                sqlx::query(concat!("SELECT ", user_cols!(""), " FROM users WHERE email_norm = $1"))
                    .bind(normalize_email(email))
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .as_ref()
                    .map(user_row)
                    .transpose()
            }

            async fn update_user(&self, id: UserId, u: UserUpdate) -> StoreResult<User> {
                let mut tx = begin_write(&self.pool).await?;
                let row = sqlx::query(concat!(
                    "UPDATE users SET \
                     display_name = CASE WHEN $2 THEN $3 ELSE display_name END, \
                     name_norm = CASE WHEN $2 THEN $4 ELSE name_norm END, \
                     avatar_url = CASE WHEN $5 THEN $6 ELSE avatar_url END, \
                     password_hash = CASE WHEN $7 THEN $8 ELSE password_hash END, \
                     validated_at = CASE WHEN $9 THEN $10 ELSE validated_at END, \
                     super_admin = CASE WHEN $11 THEN $12 ELSE super_admin END, \
                     deactivated = CASE WHEN $13 THEN $14 ELSE deactivated END, \
                     password_reset_required = CASE WHEN $15 THEN $16 ELSE password_reset_required END, \
                     updated_at = $17 WHERE id = $1 RETURNING ",
                    user_cols!("")
                ))
                .bind(id.0)
                .bind(u.display_name.is_some())
                .bind(u.display_name.clone().unwrap_or_default())
                .bind(name_key(u.display_name.as_deref().unwrap_or_default()))
                .bind(u.avatar_url.is_some())
                .bind(u.avatar_url.clone().flatten())
                .bind(u.password_hash.is_some())
                .bind(u.password_hash.clone().flatten())
                .bind(u.validated_at.is_some())
                .bind(u.validated_at.flatten().map(enc))
                .bind(u.super_admin.is_some())
                .bind(u.super_admin.unwrap_or_default())
                .bind(u.deactivated.is_some())
                .bind(u.deactivated.unwrap_or_default())
                .bind(u.password_reset_required.is_some())
                .bind(u.password_reset_required.unwrap_or_default())
                .bind(enc(now()))
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?
                .ok_or_else(|| not_found("unknown user"))?;
                let user = user_row(&row)?;
                // Every change but a password rehash is announced: other processes drop cached
                // copies of the user, and a deactivation ends their tokens.
                let profile_changed = u.display_name.is_some()
                    || u.avatar_url.is_some()
                    || u.validated_at.is_some()
                    || u.super_admin.is_some()
                    || u.deactivated.is_some()
                    || u.password_reset_required.is_some();
                if profile_changed {
                    emit(&mut tx, &[RevocationEvent::User(id)]).await?;
                }
                commit(tx).await?;
                Ok(user)
            }

            async fn list_users(&self, offset: u64, limit: u32) -> StoreResult<Vec<User>> {
                let rs = sqlx::query(concat!(
                    "SELECT ", user_cols!(""), " FROM users ORDER BY email_norm, id LIMIT $1 OFFSET $2"
                ))
                .bind(i64::from(limit))
                .bind(to_i64(offset))
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                rows(rs, user_row)
            }

            async fn search_org_users(
                &self,
                org: OrgId,
                query: &UserQuery,
                sort: UserSort,
                offset: u64,
                limit: u32,
            ) -> StoreResult<Vec<(User, Membership)>> {
                let mut qb = QueryBuilder::<$DB>::new(concat!(
                    "SELECT ", user_cols!("u."), ", ", membership_cols!("m."),
                    " FROM users u JOIN memberships m ON m.user_id = u.id WHERE m.org_id = "
                ));
                qb.push_bind(org.0);
                qb.push(" AND m.removed_at IS NULL AND ");
                push_user_query(&mut qb, query);
                qb.push(match sort.field {
                    UserSortField::Name => " ORDER BY u.name_norm",
                    UserSortField::Email => " ORDER BY u.email_norm",
                    UserSortField::CreatedAt => " ORDER BY u.created_at",
                    UserSortField::UpdatedAt => " ORDER BY u.updated_at",
                });
                qb.push(if sort.descending { " DESC" } else { " ASC" });
                qb.push(", u.id ASC LIMIT ").push_bind(i64::from(limit));
                qb.push(" OFFSET ").push_bind(to_i64(offset));
                let rs = qb.build().fetch_all(&self.pool).await.map_err(db_err)?;
                rs.iter()
                    .map(|r| Ok((user_at(r, 0)?, membership_at(r, USER_NCOLS)?)))
                    .collect()
            }

            async fn preregister_users(
                &self,
                org: OrgId,
                users: Vec<NewUser>,
                terms: &PreregisterTerms,
            ) -> StoreResult<Vec<Preregistered>> {
                let at = now();
                let mut tx = begin_write(&self.pool).await?;
                ensure_org(&mut tx, org).await?;
                let mut out = Vec::with_capacity(users.len());
                for u in &users {
                    // Both paths cost an insert attempt, one look-up and one write, so the time
                    // taken says little about which emails had accounts.
                    let row = sqlx::query(concat!(
                        "INSERT INTO users (id, email, email_norm, display_name, name_norm, \
                         avatar_url, password_hash, validated_at, super_admin, deactivated, \
                         password_reset_required, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, FALSE, FALSE, $10, $10) \
                         ON CONFLICT (email_norm) DO NOTHING RETURNING ",
                        user_cols!("")
                    ))
                    .bind(UserId::new().0)
                    .bind(u.email.trim().to_string())
                    .bind(normalize_email(&u.email))
                    .bind(u.display_name.clone())
                    .bind(name_key(&u.display_name))
                    .bind(u.avatar_url.clone())
                    .bind(u.password_hash.clone())
                    .bind(u.validated_at.map(enc))
                    .bind(u.super_admin)
                    .bind(enc(at))
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    if let Some(row) = row {
                        let user = user_row(&row)?;
                        put_membership(&mut tx, user.id, org, &terms.roles, terms.kind, at).await?;
                        out.push(Preregistered::Created(user));
                        continue;
                    }
                    // The email is taken: the account is invited unless already in the org.
                    // It never joins here; its owner accepts by signing in.
                    let existing = sqlx::query(
                        "SELECT u.id, m.removed_at IS NULL AND m.user_id IS NOT NULL \
                         FROM users u LEFT JOIN memberships m ON m.user_id = u.id AND m.org_id = $2 \
                         WHERE u.email_norm = $1",
                    )
                    .bind(normalize_email(&u.email))
                    .bind(org.0)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    let user = UserId(col(&existing, 0)?);
                    if col::<bool>(&existing, 1)? {
                        out.push(Preregistered::AlreadyInOrg);
                        continue;
                    }
                    let row = sqlx::query(concat!(
                        "INSERT INTO invitations (org_id, user_id, roles, kind, invited_by, \
                         created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                         ON CONFLICT (org_id, user_id) DO UPDATE SET roles = excluded.roles, \
                         kind = excluded.kind, invited_by = excluded.invited_by, \
                         created_at = excluded.created_at, expires_at = excluded.expires_at, \
                         accepted_at = NULL, revoked_at = NULL RETURNING ",
                        invitation_cols!()
                    ))
                    .bind(org.0)
                    .bind(user.0)
                    .bind(roles_to_text(&terms.roles))
                    .bind(terms.kind.as_str())
                    .bind(terms.invited_by.map(|i| i.0))
                    .bind(enc(at))
                    .bind(enc(micros(terms.expires_at)))
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    out.push(Preregistered::Invited(invitation_row(&row)?));
                }
                commit(tx).await?;
                Ok(out)
            }

            async fn get_invitation(
                &self,
                org: OrgId,
                user: UserId,
            ) -> StoreResult<Option<Invitation>> {
                sqlx::query(concat!(
                    "SELECT ", invitation_cols!(), " FROM invitations WHERE org_id = $1 AND user_id = $2"
                ))
                .bind(org.0)
                .bind(user.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?
                .as_ref()
                .map(invitation_row)
                .transpose()
            }

            async fn accept_invitations(
                &self,
                user: UserId,
                at: Timestamp,
            ) -> StoreResult<Vec<Invitation>> {
                let at = micros(at);
                // Every sign-in comes here: read first, so that the common case takes no write
                // lock.
                let any = sqlx::query(
                    "SELECT 1 FROM invitations WHERE user_id = $1 AND accepted_at IS NULL \
                     AND revoked_at IS NULL AND expires_at > $2 LIMIT 1",
                )
                .bind(user.0)
                .bind(enc(at))
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
                if any.is_none() {
                    return Ok(Vec::new());
                }
                let mut tx = begin_write(&self.pool).await?;
                // The update claims the rows: of concurrent sign-ins one accepts each invitation.
                let rs = sqlx::query(concat!(
                    "UPDATE invitations SET accepted_at = $2 WHERE user_id = $1 \
                     AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $2 \
                     RETURNING ",
                    invitation_cols!()
                ))
                .bind(user.0)
                .bind(enc(at))
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?;
                let accepted = rows(rs, invitation_row)?;
                let mut joined = false;
                for inv in &accepted {
                    let present = sqlx::query(
                        "SELECT 1 FROM memberships WHERE user_id = $1 AND org_id = $2 \
                         AND removed_at IS NULL",
                    )
                    .bind(user.0)
                    .bind(inv.org_id.0)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    if present.is_none() {
                        put_membership(&mut tx, user, inv.org_id, &inv.roles, inv.kind, at).await?;
                        joined = true;
                    }
                }
                if joined {
                    emit(&mut tx, &[RevocationEvent::User(user)]).await?;
                }
                commit(tx).await?;
                Ok(accepted)
            }

            // ---- regions and orgs -------------------------------------------------------

            async fn upsert_region(&self, region: Region) -> StoreResult<Region> {
                let row = sqlx::query(concat!(
                    "INSERT INTO regions (id, api_host, sig_host, static_host) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (id) DO UPDATE SET api_host = excluded.api_host, \
                     sig_host = excluded.sig_host, static_host = excluded.static_host RETURNING ",
                    region_cols!()
                ))
                .bind(region.id)
                .bind(region.api_host)
                .bind(region.sig_host)
                .bind(region.static_host)
                .fetch_one(&self.pool)
                .await
                .map_err(db_err)?;
                region_row(&row)
            }

            async fn get_region(&self, id: &str) -> StoreResult<Option<Region>> {
                sqlx::query(concat!("SELECT ", region_cols!(), " FROM regions WHERE id = $1"))
                    .bind(id.to_string())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .as_ref()
                    .map(region_row)
                    .transpose()
            }

            async fn list_regions(&self) -> StoreResult<Vec<Region>> {
                let rs = sqlx::query(concat!("SELECT ", region_cols!(), " FROM regions ORDER BY id"))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                rows(rs, region_row)
            }

            async fn create_org(&self, org: NewOrg) -> StoreResult<Org> {
                let mut tx = begin_write(&self.pool).await?;
                let created = insert_org(&mut tx, &org, now()).await?;
                commit(tx).await?;
                Ok(created)
            }

            async fn get_org(&self, id: OrgId) -> StoreResult<Option<Org>> {
                sqlx::query(concat!("SELECT ", org_cols!(), " FROM orgs WHERE id = $1"))
                    .bind(id.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .as_ref()
                    .map(org_row)
                    .transpose()
            }

            async fn get_org_by_name(&self, name: &str) -> StoreResult<Option<Org>> {
                sqlx::query(concat!("SELECT ", org_cols!(), " FROM orgs WHERE name = $1"))
                    .bind(name.to_string())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .as_ref()
                    .map(org_row)
                    .transpose()
            }

            async fn list_orgs(&self) -> StoreResult<Vec<Org>> {
                let rs = sqlx::query(concat!("SELECT ", org_cols!(), " FROM orgs ORDER BY name, id"))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                rows(rs, org_row)
            }

            async fn update_org(&self, id: OrgId, u: OrgUpdate) -> StoreResult<Org> {
                let mut tx = begin_write(&self.pool).await?;
                ensure_org(&mut tx, id).await?;
                if let Some(region) = &u.region_id {
                    ensure_region(&mut tx, region).await?;
                }
                if let Some(Some(ws)) = u.default_workspace {
                    let found = sqlx::query("SELECT 1 FROM workspaces WHERE id = $1 AND org_id = $2")
                        .bind(ws.0)
                        .bind(id.0)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    if found.is_none() {
                        return Err(not_found("unknown workspace"));
                    }
                }
                let row = sqlx::query(concat!(
                    "UPDATE orgs SET \
                     display_name = CASE WHEN $2 THEN $3 ELSE display_name END, \
                     region_id = CASE WHEN $4 THEN $5 ELSE region_id END, \
                     disabled = CASE WHEN $6 THEN $7 ELSE disabled END, \
                     tokens_not_before = CASE WHEN $6 AND $7 AND NOT disabled THEN $10 \
                     ELSE tokens_not_before END, \
                     default_workspace = CASE WHEN $8 THEN $9 ELSE default_workspace END, \
                     updated_at = $10 WHERE id = $1 RETURNING ",
                    org_cols!()
                ))
                .bind(id.0)
                .bind(u.display_name.is_some())
                .bind(u.display_name.clone().flatten())
                .bind(u.region_id.is_some())
                .bind(u.region_id.clone().unwrap_or_default())
                .bind(u.disabled.is_some())
                .bind(u.disabled.unwrap_or_default())
                .bind(u.default_workspace.is_some())
                .bind(u.default_workspace.flatten().map(|w| w.0))
                .bind(enc(now()))
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
                let org = org_row(&row)?;
                if u.disabled.is_some() {
                    emit(&mut tx, &[RevocationEvent::Org(id)]).await?;
                }
                commit(tx).await?;
                Ok(org)
            }

            // ---- memberships ------------------------------------------------------------

            async fn upsert_membership(
                &self,
                user: UserId,
                org: OrgId,
                roles: BTreeSet<Role>,
                kind: MembershipKind,
            ) -> StoreResult<Membership> {
                let mut tx = begin_write(&self.pool).await?;
                ensure_user(&mut tx, user).await?;
                ensure_org(&mut tx, org).await?;
                let m = put_membership(&mut tx, user, org, &roles, kind, now()).await?;
                emit(&mut tx, &[RevocationEvent::User(user)]).await?;
                commit(tx).await?;
                Ok(m)
            }

            async fn get_membership(&self, user: UserId, org: OrgId) -> StoreResult<Option<Membership>> {
                sqlx::query(concat!(
                    "SELECT ", membership_cols!(""), " FROM memberships WHERE user_id = $1 AND org_id = $2"
                ))
                .bind(user.0)
                .bind(org.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?
                .as_ref()
                .map(membership_row)
                .transpose()
            }

            async fn list_user_memberships(
                &self,
                user: UserId,
                include_removed: bool,
            ) -> StoreResult<Vec<Membership>> {
                let rs = sqlx::query(concat!(
                    "SELECT ", membership_cols!(""), " FROM memberships WHERE user_id = $1 \
                     AND ($2 OR removed_at IS NULL) ORDER BY created_at, org_id"
                ))
                .bind(user.0)
                .bind(include_removed)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                rows(rs, membership_row)
            }

            async fn list_org_memberships(
                &self,
                org: OrgId,
                include_removed: bool,
            ) -> StoreResult<Vec<Membership>> {
                let rs = sqlx::query(concat!(
                    "SELECT ", membership_cols!(""), " FROM memberships WHERE org_id = $1 \
                     AND ($2 OR removed_at IS NULL) ORDER BY created_at, user_id"
                ))
                .bind(org.0)
                .bind(include_removed)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                rows(rs, membership_row)
            }

            async fn remove_membership(
                &self,
                user: UserId,
                org: OrgId,
                at: Timestamp,
            ) -> StoreResult<Deactivation> {
                let mut tx = begin_write(&self.pool).await?;
                let n = sqlx::query(
                    "UPDATE memberships SET removed_at = COALESCE(removed_at, $3), updated_at = $3, \
                     tokens_not_before = $3 WHERE user_id = $1 AND org_id = $2",
                )
                .bind(user.0)
                .bind(org.0)
                .bind(enc(at))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?
                .rows_affected();
                if n == 0 {
                    return Err(not_found("unknown membership"));
                }
                sqlx::query(
                    "UPDATE invitations SET revoked_at = $3 WHERE user_id = $1 AND org_id = $2 \
                     AND accepted_at IS NULL AND revoked_at IS NULL",
                )
                .bind(user.0)
                .bind(org.0)
                .bind(enc(at))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                let d = revoke_all(&mut tx, user, Some(org), None, at).await?;
                emit(&mut tx, &[RevocationEvent::User(user)]).await?;
                commit(tx).await?;
                Ok(d)
            }

            async fn touch_last_login(&self, user: UserId, org: OrgId, at: Timestamp) -> StoreResult<()> {
                let n = sqlx::query(
                    "UPDATE memberships SET last_login_at = $3 WHERE user_id = $1 AND org_id = $2",
                )
                .bind(user.0)
                .bind(org.0)
                .bind(enc(at))
                .execute(&self.pool)
                .await
                .map_err(db_err)?
                .rows_affected();
                if n == 0 {
                    return Err(not_found("unknown membership"));
                }
                Ok(())
            }

            async fn org_login_activity(
                &self,
                orgs: &[OrgId],
                descending: bool,
                offset: u64,
                limit: u32,
            ) -> StoreResult<Vec<Membership>> {
                if orgs.is_empty() {
                    return Ok(Vec::new());
                }
                let mut qb = QueryBuilder::<$DB>::new(concat!(
                    "SELECT ", membership_cols!(""), " FROM memberships WHERE removed_at IS NULL AND org_id IN ("
                ));
                let mut sep = qb.separated(", ");
                for o in orgs.iter().take(IN_CHUNK) {
                    sep.push_bind(o.0);
                }
                qb.push(if descending {
                    ") ORDER BY last_login_at DESC NULLS LAST"
                } else {
                    ") ORDER BY last_login_at ASC NULLS FIRST"
                });
                qb.push(", user_id ASC, org_id ASC LIMIT ").push_bind(i64::from(limit));
                qb.push(" OFFSET ").push_bind(to_i64(offset));
                let rs = qb.build().fetch_all(&self.pool).await.map_err(db_err)?;
                rows(rs, membership_row)
            }

            // ---- deactivation -----------------------------------------------------------

            async fn deactivate_user(&self, user: UserId, at: Timestamp) -> StoreResult<Deactivation> {
                let mut tx = begin_write(&self.pool).await?;
                set_user_flag(&mut tx, user, true).await?;
                let d = revoke_all(&mut tx, user, None, None, at).await?;
                emit(&mut tx, &[RevocationEvent::User(user)]).await?;
                commit(tx).await?;
                Ok(d)
            }

            async fn reactivate_user(&self, user: UserId) -> StoreResult<()> {
                let mut tx = begin_write(&self.pool).await?;
                set_user_flag(&mut tx, user, false).await?;
                emit(&mut tx, &[RevocationEvent::User(user)]).await?;
                commit(tx).await
            }

            async fn deactivate_membership(
                &self,
                user: UserId,
                org: OrgId,
                by: Option<UserId>,
                at: Timestamp,
            ) -> StoreResult<Deactivation> {
                let mut tx = begin_write(&self.pool).await?;
                set_membership_flag(&mut tx, user, org, true, by, at).await?;
                // Tokens issued before stay refused after a reactivation.
                sqlx::query(
                    "UPDATE memberships SET tokens_not_before = $3 WHERE user_id = $1 AND org_id = $2",
                )
                .bind(user.0)
                .bind(org.0)
                .bind(enc(at))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                let d = revoke_all(&mut tx, user, Some(org), by, at).await?;
                emit(&mut tx, &[RevocationEvent::User(user)]).await?;
                commit(tx).await?;
                Ok(d)
            }

            async fn reactivate_membership(&self, user: UserId, org: OrgId) -> StoreResult<()> {
                let mut tx = begin_write(&self.pool).await?;
                set_membership_flag(&mut tx, user, org, false, None, now()).await?;
                emit(&mut tx, &[RevocationEvent::User(user)]).await?;
                commit(tx).await
            }

            // ---- settings ---------------------------------------------------------------

            async fn get_settings(
                &self,
                scope: SettingsScope,
                ns: SettingsNamespace,
            ) -> StoreResult<Option<serde_json::Value>> {
                let (kind, id) = settings_scope(scope);
                let row = sqlx::query(
                    "SELECT doc FROM settings WHERE scope_kind = $1 AND scope_id = $2 AND namespace = $3",
                )
                .bind(kind)
                .bind(id)
                .bind(ns.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
                row.map(|r| json_parse(&col::<String>(&r, 0)?)).transpose()
            }

            async fn put_settings(
                &self,
                scope: SettingsScope,
                ns: SettingsNamespace,
                doc: serde_json::Value,
            ) -> StoreResult<()> {
                let (kind, id) = settings_scope(scope);
                let mut tx = begin_write(&self.pool).await?;
                match scope {
                    SettingsScope::Org(o) => ensure_org(&mut tx, o).await?,
                    SettingsScope::User(u) => ensure_user(&mut tx, u).await?,
                }
                sqlx::query(
                    "INSERT INTO settings (scope_kind, scope_id, namespace, doc, updated_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (scope_kind, scope_id, namespace) \
                     DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at",
                )
                .bind(kind)
                .bind(id)
                .bind(ns.as_str())
                .bind(json_text(&doc)?)
                .bind(enc(now()))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                commit(tx).await
            }

            async fn get_job_permissions(&self, org: OrgId) -> StoreResult<BTreeMap<Role, JobPermissions>> {
                let rs = sqlx::query("SELECT role, perms FROM job_permissions WHERE org_id = $1")
                    .bind(org.0)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                rs.iter()
                    .map(|r| {
                        Ok((
                            parse::<Role>(&col::<String>(r, 0)?)?,
                            json_parse(&col::<String>(r, 1)?)?,
                        ))
                    })
                    .collect()
            }

            async fn set_job_permissions(
                &self,
                org: OrgId,
                role: Role,
                perms: Option<JobPermissions>,
            ) -> StoreResult<()> {
                let mut tx = begin_write(&self.pool).await?;
                ensure_org(&mut tx, org).await?;
                match perms {
                    Some(p) => sqlx::query(
                        "INSERT INTO job_permissions (org_id, role, perms) VALUES ($1, $2, $3) \
                         ON CONFLICT (org_id, role) DO UPDATE SET perms = excluded.perms",
                    )
                    .bind(org.0)
                    .bind(role.as_str())
                    .bind(json_text(&p)?),
                    None => sqlx::query("DELETE FROM job_permissions WHERE org_id = $1 AND role = $2")
                        .bind(org.0)
                        .bind(role.as_str()),
                }
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                commit(tx).await
            }

            // ---- Parsable team settings and priorities ------------------------------------

            async fn get_team_settings(
                &self,
                org: OrgId,
            ) -> StoreResult<BTreeMap<String, serde_json::Value>> {
                let rs = sqlx::query("SELECT key, value FROM team_settings WHERE org_id = $1")
                    .bind(org.0)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                rs.iter()
                    .map(|r| Ok((col::<String>(r, 0)?, json_parse(&col::<String>(r, 1)?)?)))
                    .collect()
            }

            async fn update_team_settings(
                &self,
                org: OrgId,
                changes: &[(String, Option<serde_json::Value>)],
                max_keys: usize,
            ) -> StoreResult<()> {
                let mut tx = begin_write(&self.pool).await?;
                ensure_org(&mut tx, org).await?;
                // Concurrent batches of one org queue up, so the key limit holds at commit.
                lock(&mut tx, Lock::Org(org)).await?;
                let at = enc(now());
                for (key, value) in changes {
                    match value {
                        Some(v) => sqlx::query(
                            "INSERT INTO team_settings (org_id, key, value, updated_at) \
                             VALUES ($1, $2, $3, $4) ON CONFLICT (org_id, key) \
                             DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                        )
                        .bind(org.0)
                        .bind(key)
                        .bind(json_text(v)?)
                        .bind(at),
                        None => sqlx::query("DELETE FROM team_settings WHERE org_id = $1 AND key = $2")
                            .bind(org.0)
                            .bind(key),
                    }
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                }
                let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM team_settings WHERE org_id = $1")
                    .bind(org.0)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
                if usize::try_from(count).unwrap_or(usize::MAX) > max_keys {
                    // Dropping the transaction rolls every change back.
                    return Err(StoreError::Conflict(format!(
                        "a team may hold at most {max_keys} settings"
                    )));
                }
                commit(tx).await
            }

            async fn get_team_priorities(&self, org: OrgId) -> StoreResult<Option<Vec<PriorityLevel>>> {
                let row = sqlx::query("SELECT doc FROM team_priorities WHERE org_id = $1")
                    .bind(org.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?;
                row.map(|r| json_parse(&col::<String>(&r, 0)?)).transpose()
            }

            async fn set_team_priorities(
                &self,
                org: OrgId,
                priorities: Option<&[PriorityLevel]>,
            ) -> StoreResult<()> {
                let mut tx = begin_write(&self.pool).await?;
                ensure_org(&mut tx, org).await?;
                match priorities {
                    Some(p) => sqlx::query(
                        "INSERT INTO team_priorities (org_id, doc, updated_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (org_id) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at",
                    )
                    .bind(org.0)
                    .bind(json_text(&p)?)
                    .bind(enc(now())),
                    None => sqlx::query("DELETE FROM team_priorities WHERE org_id = $1").bind(org.0),
                }
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                commit(tx).await
            }

            // ---- allow-list -------------------------------------------------------------

            async fn add_allowlist(&self, entry: AllowlistEntry) -> StoreResult<()> {
                let mut tx = begin_write(&self.pool).await?;
                if let Some(org) = entry.org_id {
                    ensure_org(&mut tx, org).await?;
                }
                sqlx::query(
                    "INSERT INTO allowlist (org_scope, kind, value, created_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (org_scope, kind, value) DO NOTHING",
                )
                .bind(allowlist_scope(entry.org_id))
                .bind(allowlist_kind_to_text(entry.kind))
                .bind(entry.value.trim().to_lowercase())
                .bind(enc(entry.created_at))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                commit(tx).await
            }

            async fn remove_allowlist(
                &self,
                org: Option<OrgId>,
                kind: AllowlistKind,
                value: &str,
            ) -> StoreResult<bool> {
                let n = sqlx::query(
                    "DELETE FROM allowlist WHERE org_scope = $1 AND kind = $2 AND value = $3",
                )
                .bind(allowlist_scope(org))
                .bind(allowlist_kind_to_text(kind))
                .bind(value.trim().to_lowercase())
                .execute(&self.pool)
                .await
                .map_err(db_err)?
                .rows_affected();
                Ok(n > 0)
            }

            async fn list_allowlist(&self) -> StoreResult<Vec<AllowlistEntry>> {
                let rs = sqlx::query(
                    "SELECT org_scope, kind, value, created_at FROM allowlist \
                     ORDER BY org_scope, kind, value",
                )
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                rs.iter()
                    .map(|r| {
                        Ok(AllowlistEntry {
                            org_id: allowlist_org(col(r, 0)?),
                            kind: parse(&col::<String>(r, 1)?)?,
                            value: col(r, 2)?,
                            created_at: ts_at(r, 3)?,
                        })
                    })
                    .collect()
            }

            // ---- workspaces and resources -----------------------------------------------

            async fn create_workspace(
                &self,
                org: OrgId,
                slug: &str,
                display_name: Option<String>,
            ) -> StoreResult<Workspace> {
                let at = enc(now());
                let mut tx = begin_write(&self.pool).await?;
                ensure_org(&mut tx, org).await?;
                let row = sqlx::query(concat!(
                    "INSERT INTO workspaces (id, org_id, slug, display_name, symbol, settings, \
                     created_at, updated_at) VALUES ($1, $2, $3, $4, NULL, '{}', $5, $5) RETURNING ",
                    workspace_cols!()
                ))
                .bind(WorkspaceId::new().0)
                .bind(org.0)
                .bind(slug.to_string())
                .bind(display_name)
                .bind(at)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
                let ws = workspace_row(&row)?;
                commit(tx).await?;
                Ok(ws)
            }

            async fn get_workspace(&self, id: WorkspaceId) -> StoreResult<Option<Workspace>> {
                sqlx::query(concat!("SELECT ", workspace_cols!(), " FROM workspaces WHERE id = $1"))
                    .bind(id.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .as_ref()
                    .map(workspace_row)
                    .transpose()
            }

            async fn list_org_workspaces(&self, org: OrgId) -> StoreResult<Vec<Workspace>> {
                let rs = sqlx::query(concat!(
                    "SELECT ", workspace_cols!(), " FROM workspaces WHERE org_id = $1 ORDER BY slug"
                ))
                .bind(org.0)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                rows(rs, workspace_row)
            }

            async fn update_workspace(
                &self,
                id: WorkspaceId,
                patch: WorkspacePatch,
            ) -> StoreResult<Workspace> {
                let symbol = match &patch.symbol {
                    Some(Some(v)) => Some(json_text(v)?),
                    _ => None,
                };
                let settings = patch.settings.as_ref().map(json_text).transpose()?;
                let row = sqlx::query(concat!(
                    "UPDATE workspaces SET \
                     display_name = CASE WHEN $2 THEN $3 ELSE display_name END, \
                     symbol = CASE WHEN $4 THEN $5 ELSE symbol END, \
                     settings = CASE WHEN $6 THEN $7 ELSE settings END, \
                     updated_at = $8 WHERE id = $1 RETURNING ",
                    workspace_cols!()
                ))
                .bind(id.0)
                .bind(patch.display_name.is_some())
                .bind(patch.display_name.clone().flatten())
                .bind(patch.symbol.is_some())
                .bind(symbol)
                .bind(settings.is_some())
                .bind(settings.unwrap_or_default())
                .bind(enc(now()))
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?
                .ok_or_else(|| not_found("unknown workspace"))?;
                workspace_row(&row)
            }

            async fn grant_workspace(&self, grant: WorkspaceGrant) -> StoreResult<()> {
                let mut tx = begin_write(&self.pool).await?;
                ensure_workspace(&mut tx, grant.workspace_id).await?;
                ensure_user(&mut tx, grant.user_id).await?;
                sqlx::query(
                    "INSERT INTO workspace_grants (workspace_id, user_id, access) VALUES ($1, $2, $3) \
                     ON CONFLICT (workspace_id, user_id) DO UPDATE SET access = excluded.access",
                )
                .bind(grant.workspace_id.0)
                .bind(grant.user_id.0)
                .bind(access_to_text(grant.access))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                commit(tx).await
            }

            async fn revoke_workspace_grant(&self, workspace: WorkspaceId, user: UserId) -> StoreResult<bool> {
                let n = sqlx::query("DELETE FROM workspace_grants WHERE workspace_id = $1 AND user_id = $2")
                    .bind(workspace.0)
                    .bind(user.0)
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?
                    .rows_affected();
                Ok(n > 0)
            }

            async fn list_user_workspace_grants(&self, user: UserId) -> StoreResult<Vec<WorkspaceGrant>> {
                let rs = sqlx::query(
                    "SELECT workspace_id, user_id, access FROM workspace_grants WHERE user_id = $1 \
                     ORDER BY workspace_id",
                )
                .bind(user.0)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                rs.iter()
                    .map(|r| {
                        Ok(WorkspaceGrant {
                            workspace_id: WorkspaceId(col(r, 0)?),
                            user_id: UserId(col(r, 1)?),
                            access: parse(&col::<String>(r, 2)?)?,
                        })
                    })
                    .collect()
            }

            async fn register_resources(&self, workspace: WorkspaceId, rids: &[String]) -> StoreResult<()> {
                // Sorted, so that concurrent registrations take row locks in one order.
                let rids: BTreeSet<&String> = rids.iter().collect();
                let at = enc(now());
                let mut tx = begin_write(&self.pool).await?;
                ensure_workspace(&mut tx, workspace).await?;
                for rid in &rids {
                    sqlx::query(
                        "INSERT INTO resources (rid, workspace_id, created_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (rid) DO NOTHING",
                    )
                    .bind((*rid).clone())
                    .bind(workspace.0)
                    .bind(at)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                }
                // Every RID now has a committed or own row; any in another workspace is a
                // conflict, and dropping the transaction undoes this call's inserts.
                let all: Vec<&String> = rids.into_iter().collect();
                for chunk in all.chunks(IN_CHUNK) {
                    let mut qb = QueryBuilder::<$DB>::new(
                        "SELECT rid, workspace_id FROM resources WHERE workspace_id <> ",
                    );
                    qb.push_bind(workspace.0).push(" AND rid IN (");
                    let mut sep = qb.separated(", ");
                    for rid in chunk {
                        sep.push_bind((*rid).clone());
                    }
                    qb.push(")");
                    let rs = qb.build().fetch_all(&mut *tx).await.map_err(db_err)?;
                    let mut conflicts = rs
                        .iter()
                        .map(|r| Ok((col::<String>(r, 0)?, WorkspaceId(col(r, 1)?))))
                        .collect::<StoreResult<Vec<_>>>()?;
                    conflicts.sort();
                    if let Some((resource, existing)) = conflicts.into_iter().next() {
                        return Err(StoreError::ResourceConflict { resource, existing });
                    }
                }
                commit(tx).await
            }

            async fn resource_workspaces(&self, rids: &[String]) -> StoreResult<BTreeMap<String, WorkspaceId>> {
                let mut out = BTreeMap::new();
                for chunk in rids.chunks(IN_CHUNK) {
                    let mut qb =
                        QueryBuilder::<$DB>::new("SELECT rid, workspace_id FROM resources WHERE rid IN (");
                    let mut sep = qb.separated(", ");
                    for rid in chunk {
                        sep.push_bind(rid.clone());
                    }
                    qb.push(")");
                    let rs = qb.build().fetch_all(&self.pool).await.map_err(db_err)?;
                    for r in &rs {
                        out.insert(col::<String>(r, 0)?, WorkspaceId(col(r, 1)?));
                    }
                }
                Ok(out)
            }

            // ---- external identities ----------------------------------------------------

            async fn find_external_identity(
                &self,
                issuer: &str,
                subject: &str,
            ) -> StoreResult<Option<ExternalIdentity>> {
                sqlx::query(concat!(
                    "SELECT ", identity_cols!(), " FROM external_identities WHERE issuer = $1 AND subject = $2"
                ))
                .bind(issuer.to_string())
                .bind(subject.to_string())
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?
                .as_ref()
                .map(identity_row)
                .transpose()
            }

            async fn link_external_identity(&self, identity: ExternalIdentity) -> StoreResult<()> {
                let mut tx = begin_write(&self.pool).await?;
                ensure_user(&mut tx, identity.user_id).await?;
                insert_identity(&mut tx, &identity, identity.user_id).await?;
                commit(tx).await
            }

            async fn provision_federated_user(
                &self,
                user: NewUser,
                identity: ExternalIdentity,
                memberships: Vec<(OrgId, BTreeSet<Role>, MembershipKind)>,
            ) -> StoreResult<User> {
                let at = now();
                let mut tx = begin_write(&self.pool).await?;
                let created = insert_user(&mut tx, &user, at).await?;
                insert_identity(&mut tx, &identity, created.id).await?;
                for (org, roles, kind) in &memberships {
                    ensure_org(&mut tx, *org).await?;
                    put_membership(&mut tx, created.id, *org, roles, *kind, at).await?;
                }
                commit(tx).await?;
                Ok(created)
            }

            async fn list_user_identities(&self, user: UserId) -> StoreResult<Vec<ExternalIdentity>> {
                let rs = sqlx::query(concat!(
                    "SELECT ", identity_cols!(), " FROM external_identities WHERE user_id = $1 \
                     ORDER BY created_at, issuer, subject"
                ))
                .bind(user.0)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                rows(rs, identity_row)
            }

            // ---- sessions ---------------------------------------------------------------

            async fn create_session(&self, s: Session) -> StoreResult<()> {
                let mut tx = begin_write(&self.pool).await?;
                ensure_user(&mut tx, s.user_id).await?;
                // A team-less session has no org (stored as NULL).
                if !s.org_id.is_none() {
                    ensure_org(&mut tx, s.org_id).await?;
                }
                if let Some(actor) = s.actor_id {
                    ensure_user(&mut tx, actor).await?;
                }
                sqlx::query(concat!(
                    "INSERT INTO sessions (", session_cols!(), ") \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                ))
                .bind(s.id.0.clone())
                .bind(s.user_id.0)
                .bind((!s.org_id.is_none()).then_some(s.org_id.0))
                .bind(s.kind.as_str())
                .bind(json_text(&s.amr)?)
                .bind(s.actor_id.map(|a| a.0))
                .bind(enc(s.created_at))
                .bind(enc(s.expires_at))
                .bind(s.idle_timeout_secs)
                .bind(enc(s.last_seen_at))
                .bind(s.revoked_at.map(enc))
                .bind(s.ip.clone())
                .bind(s.user_agent.clone())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                commit(tx).await
            }

            async fn get_session(&self, id: &SessionId) -> StoreResult<Option<Session>> {
                sqlx::query(concat!("SELECT ", session_cols!(), " FROM sessions WHERE id = $1"))
                    .bind(id.0.clone())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .as_ref()
                    .map(session_row)
                    .transpose()
            }

            async fn list_user_sessions(
                &self,
                user: UserId,
                include_ended: bool,
                now: Timestamp,
            ) -> StoreResult<Vec<Session>> {
                let rs = sqlx::query(concat!(
                    "SELECT ", session_cols!(), " FROM sessions WHERE user_id = $1 \
                     AND ($2 OR (revoked_at IS NULL AND expires_at > $3)) \
                     ORDER BY created_at DESC, id"
                ))
                .bind(user.0)
                .bind(include_ended)
                .bind(enc(now))
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                rows(rs, session_row)
            }

            async fn revoke_session(&self, id: &SessionId, at: Timestamp) -> StoreResult<bool> {
                let mut tx = begin_write(&self.pool).await?;
                let n = sqlx::query(
                    "UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL \
                     AND expires_at > $2",
                )
                .bind(id.0.clone())
                .bind(enc(at))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?
                .rows_affected();
                if n > 0 {
                    emit(&mut tx, &[RevocationEvent::Session(id.clone())]).await?;
                }
                commit(tx).await?;
                Ok(n > 0)
            }

            async fn revoke_user_sessions(
                &self,
                user: UserId,
                keep: Option<&SessionId>,
                at: Timestamp,
            ) -> StoreResult<u64> {
                let mut tx = begin_write(&self.pool).await?;
                let n = sqlx::query(
                    "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL \
                     AND expires_at > $2 AND ($3 IS NULL OR id <> $3)",
                )
                .bind(user.0)
                .bind(enc(at))
                .bind(keep.map(|k| k.0.clone()))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?
                .rows_affected();
                if n > 0 {
                    emit(&mut tx, &[RevocationEvent::User(user)]).await?;
                }
                commit(tx).await?;
                Ok(n)
            }

            async fn touch_session(&self, id: &SessionId, at: Timestamp) -> StoreResult<()> {
                sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2")
                    .bind(id.0.clone())
                    .bind(enc(at))
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?;
                Ok(())
            }

            // ---- credentials ------------------------------------------------------------

            async fn create_api_key_capped(&self, c: Credential, max_live: u32) -> StoreResult<bool> {
                let mut tx = begin_write(&self.pool).await?;
                ensure_user(&mut tx, c.user_id).await?;
                ensure_user(&mut tx, c.creator_id).await?;
                ensure_org(&mut tx, c.org_id).await?;
                lock(&mut tx, Lock::User(c.user_id)).await?;
                let row = sqlx::query(
                    "SELECT COUNT(*) FROM credentials WHERE user_id = $1 AND kind = 'api_key' \
                     AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)",
                )
                .bind(c.user_id.0)
                .bind(enc(c.created_at))
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
                let live: i64 = col(&row, 0)?;
                if live >= i64::from(max_live) {
                    return Ok(false);
                }
                sqlx::query(concat!(
                    "INSERT INTO credentials (", credential_cols!(""), ") \
                     VALUES ($1, 'api_key', $2, $3, $4, $5, $6, $7, $8, NULL, NULL)"
                ))
                .bind(c.id.0)
                .bind(c.user_id.0)
                .bind(c.org_id.0)
                .bind(c.creator_id.0)
                .bind(c.name.clone())
                .bind(c.secret_hash.to_vec())
                .bind(enc(c.created_at))
                .bind(c.expires_at.map(enc))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                commit(tx).await?;
                Ok(true)
            }

            async fn create_credential(
                &self,
                c: Credential,
                replace_persistent: Option<UserId>,
            ) -> StoreResult<()> {
                let mut tx = begin_write(&self.pool).await?;
                ensure_user(&mut tx, c.user_id).await?;
                ensure_user(&mut tx, c.creator_id).await?;
                ensure_org(&mut tx, c.org_id).await?;
                let mut events = Vec::new();
                if let Some(revoker) = replace_persistent {
                    lock(&mut tx, Lock::User(c.user_id)).await?;
                    let rs = sqlx::query(
                        "UPDATE credentials SET revoked_at = $2, revoked_by = $3 WHERE user_id = $1 \
                         AND kind = 'persistent' AND revoked_at IS NULL \
                         AND (expires_at IS NULL OR expires_at > $2) RETURNING id",
                    )
                    .bind(c.user_id.0)
                    .bind(enc(c.created_at))
                    .bind(revoker.0)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    for r in &rs {
                        events.push(RevocationEvent::Credential(CredentialId(col(r, 0)?)));
                    }
                }
                sqlx::query(concat!(
                    "INSERT INTO credentials (", credential_cols!(""), ") \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                ))
                .bind(c.id.0)
                .bind(c.kind.as_str())
                .bind(c.user_id.0)
                .bind(c.org_id.0)
                .bind(c.creator_id.0)
                .bind(c.name.clone())
                .bind(c.secret_hash.to_vec())
                .bind(enc(c.created_at))
                .bind(c.expires_at.map(enc))
                .bind(c.revoked_at.map(enc))
                .bind(c.revoked_by.map(|b| b.0))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                emit(&mut tx, &events).await?;
                commit(tx).await
            }

            async fn find_credential_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<Credential>> {
                sqlx::query(concat!(
                    "SELECT ", credential_cols!(""), " FROM credentials WHERE secret_hash = $1"
                ))
                .bind(hash.to_vec())
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?
                .as_ref()
                .map(credential_row)
                .transpose()
            }

            async fn find_credential_with_membership(
                &self,
                hash: &[u8; 32],
            ) -> StoreResult<Option<(Credential, Option<Membership>)>> {
                const M: usize = 11; // the first membership column
                sqlx::query(concat!(
                    "SELECT ", credential_cols!("c."), ", ", membership_cols!("m."),
                    " FROM credentials c LEFT JOIN memberships m \
                     ON m.user_id = c.user_id AND m.org_id = c.org_id \
                     WHERE c.secret_hash = $1"
                ))
                .bind(hash.to_vec())
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?
                .as_ref()
                .map(|r| {
                    let m = match col::<Option<Uuid>>(r, M)? {
                        Some(_) => Some(membership_at(r, M)?),
                        None => None,
                    };
                    Ok((credential_row(r)?, m))
                })
                .transpose()
            }

            async fn get_credential(&self, id: CredentialId) -> StoreResult<Option<Credential>> {
                sqlx::query(concat!("SELECT ", credential_cols!(""), " FROM credentials WHERE id = $1"))
                    .bind(id.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .as_ref()
                    .map(credential_row)
                    .transpose()
            }

            async fn list_credentials(
                &self,
                f: &CredentialFilter,
                offset: u64,
                limit: u32,
            ) -> StoreResult<Vec<Credential>> {
                let mut qb = QueryBuilder::<$DB>::new(concat!(
                    "SELECT ", credential_cols!(""), " FROM credentials WHERE 1 = 1"
                ));
                if let Some(u) = f.user_id {
                    qb.push(" AND user_id = ").push_bind(u.0);
                }
                if let Some(o) = f.org_id {
                    qb.push(" AND org_id = ").push_bind(o.0);
                }
                if let Some(k) = f.kind {
                    qb.push(" AND kind = ").push_bind(k.as_str());
                }
                if !f.include_revoked {
                    qb.push(" AND revoked_at IS NULL");
                }
                if let Some(t) = f.exclude_expired_at {
                    qb.push(" AND (expires_at IS NULL OR expires_at > ").push_bind(enc(t)).push(")");
                }
                qb.push(" ORDER BY created_at DESC, id ASC LIMIT ").push_bind(i64::from(limit));
                qb.push(" OFFSET ").push_bind(to_i64(offset));
                let rs = qb.build().fetch_all(&self.pool).await.map_err(db_err)?;
                rows(rs, credential_row)
            }

            async fn revoke_credential(
                &self,
                id: CredentialId,
                by: Option<UserId>,
                at: Timestamp,
            ) -> StoreResult<bool> {
                let mut tx = begin_write(&self.pool).await?;
                let n = sqlx::query(
                    "UPDATE credentials SET revoked_at = $2, revoked_by = $3 \
                     WHERE id = $1 AND revoked_at IS NULL",
                )
                .bind(id.0)
                .bind(enc(at))
                .bind(by.map(|b| b.0))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?
                .rows_affected();
                if n > 0 {
                    emit(&mut tx, &[RevocationEvent::Credential(id)]).await?;
                }
                commit(tx).await?;
                Ok(n > 0)
            }

            async fn persistent_credentials_for(
                &self,
                org: OrgId,
                users: &[UserId],
            ) -> StoreResult<Vec<CredentialWithPeople>> {
                let users: BTreeSet<UserId> = users.iter().copied().collect();
                let users: Vec<UserId> = users.into_iter().collect();
                let mut tx = begin_snapshot(&self.pool).await?;
                let mut creds = Vec::new();
                for chunk in users.chunks(IN_CHUNK) {
                    let mut qb = QueryBuilder::<$DB>::new(concat!(
                        "SELECT ", credential_cols!("c."), " FROM credentials c \
                         WHERE c.kind = 'persistent' AND c.org_id = "
                    ));
                    // Only the org's own credentials; of users who are or were its members.
                    qb.push_bind(org.0).push(
                        " AND EXISTS (SELECT 1 FROM memberships m \
                         WHERE m.user_id = c.user_id AND m.org_id = c.org_id) AND c.user_id IN (",
                    );
                    let mut sep = qb.separated(", ");
                    for u in chunk {
                        sep.push_bind(u.0);
                    }
                    qb.push(")");
                    let rs = qb.build().fetch_all(&mut *tx).await.map_err(db_err)?;
                    creds.extend(rows(rs, credential_row)?);
                }
                creds.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
                let mut people: Vec<UserId> = Vec::new();
                for c in &creds {
                    people.push(c.user_id);
                    people.push(c.creator_id);
                    people.extend(c.revoked_by);
                }
                let people: BTreeMap<UserId, User> = users_by_ids(&mut tx, &people)
                    .await?
                    .into_iter()
                    .map(|u| (u.id, u))
                    .collect();
                commit(tx).await?;
                Ok(creds
                    .into_iter()
                    .map(|credential| CredentialWithPeople {
                        user: people.get(&credential.user_id).cloned(),
                        creator: people.get(&credential.creator_id).cloned(),
                        revoker: credential.revoked_by.and_then(|r| people.get(&r).cloned()),
                        credential,
                    })
                    .collect())
            }

            async fn revoke_user_credentials(
                &self,
                user: UserId,
                by: Option<UserId>,
                at: Timestamp,
            ) -> StoreResult<u64> {
                let mut tx = begin_write(&self.pool).await?;
                let n = revoke_credentials_of(&mut tx, user, None, by, at).await?;
                if n > 0 {
                    emit(&mut tx, &[RevocationEvent::User(user)]).await?;
                }
                commit(tx).await?;
                Ok(n)
            }

            // ---- keys -------------------------------------------------------------------

            async fn insert_key(&self, k: KeyRecord) -> StoreResult<()> {
                sqlx::query(concat!(
                    "INSERT INTO keys (", key_cols!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                ))
                .bind(k.kid)
                .bind(k.purpose.as_str())
                .bind(k.algorithm)
                .bind(k.sealed_private)
                .bind(k.public)
                .bind(enc(k.created_at))
                .bind(k.retired_at.map(enc))
                .bind(k.revoked_at.map(enc))
                .execute(&self.pool)
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn list_keys(&self, purpose: KeyPurpose) -> StoreResult<Vec<KeyRecord>> {
                let rs = sqlx::query(concat!(
                    "SELECT ", key_cols!(), " FROM keys WHERE purpose = $1 ORDER BY created_at, kid"
                ))
                .bind(purpose.as_str())
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                rows(rs, key_row)
            }

            async fn retire_key(&self, kid: &str, at: Timestamp) -> StoreResult<()> {
                let n = sqlx::query("UPDATE keys SET retired_at = COALESCE(retired_at, $2) WHERE kid = $1")
                    .bind(kid.to_string())
                    .bind(enc(at))
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?
                    .rows_affected();
                if n == 0 {
                    return Err(not_found("unknown key"));
                }
                Ok(())
            }

            async fn revoke_key(&self, kid: &str, at: Timestamp) -> StoreResult<bool> {
                let mut tx = begin_write(&self.pool).await?;
                let known = sqlx::query("SELECT revoked_at FROM keys WHERE kid = $1")
                    .bind(kid.to_string())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?
                    .ok_or_else(|| not_found("unknown key"))?;
                if opt_ts_at(&known, 0)?.is_some() {
                    commit(tx).await?;
                    return Ok(false);
                }
                let n = sqlx::query(
                    "UPDATE keys SET revoked_at = $2, retired_at = COALESCE(retired_at, $2) \
                     WHERE kid = $1 AND revoked_at IS NULL",
                )
                .bind(kid.to_string())
                .bind(enc(at))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?
                .rows_affected();
                if n > 0 {
                    emit(&mut tx, &[RevocationEvent::Key(kid.to_string())]).await?;
                }
                commit(tx).await?;
                Ok(n > 0)
            }

            // ---- password resets ----------------------------------------------------------

            async fn require_password_reset(
                &self,
                user: UserId,
                code_hash: &[u8; 32],
                expires_at: Timestamp,
                revoke_credentials: bool,
                at: Timestamp,
            ) -> StoreResult<Deactivation> {
                let mut tx = begin_write(&self.pool).await?;
                let n = sqlx::query(
                    "UPDATE users SET password_reset_required = TRUE, updated_at = $2 WHERE id = $1",
                )
                .bind(user.0)
                .bind(enc(at))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?
                .rows_affected();
                if n == 0 {
                    return Err(not_found("unknown user"));
                }
                let d = if revoke_credentials {
                    revoke_all(&mut tx, user, None, None, at).await?
                } else {
                    Deactivation {
                        sessions_revoked: revoke_sessions_of(&mut tx, user, at).await?,
                        credentials_revoked: 0,
                    }
                };
                sqlx::query(
                    "INSERT INTO password_reset_codes (user_id, code_hash, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO UPDATE SET \
                     code_hash = excluded.code_hash, created_at = excluded.created_at, \
                     expires_at = excluded.expires_at",
                )
                .bind(user.0)
                .bind(code_hash.to_vec())
                .bind(enc(at))
                .bind(enc(expires_at))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                emit(&mut tx, &[RevocationEvent::User(user)]).await?;
                commit(tx).await?;
                Ok(d)
            }

            async fn redeem_password_reset(
                &self,
                user: UserId,
                code_hash: &[u8; 32],
                password_hash: &str,
                at: Timestamp,
            ) -> StoreResult<Option<u64>> {
                let mut tx = begin_write(&self.pool).await?;
                // The delete is the single-use guarantee: of two concurrent redeemers, one
                // deletes the row and the other finds nothing.
                let redeemed = sqlx::query(
                    "DELETE FROM password_reset_codes WHERE user_id = $1 AND code_hash = $2 \
                     AND expires_at > $3 \
                     AND user_id IN (SELECT id FROM users WHERE deactivated = FALSE) \
                     RETURNING user_id",
                )
                .bind(user.0)
                .bind(code_hash.to_vec())
                .bind(enc(at))
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
                if redeemed.is_none() {
                    commit(tx).await?;
                    return Ok(None);
                }
                sqlx::query(
                    "UPDATE users SET password_hash = $2, password_reset_required = FALSE, \
                     updated_at = $3 WHERE id = $1",
                )
                .bind(user.0)
                .bind(password_hash.to_string())
                .bind(enc(at))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                let n = revoke_sessions_of(&mut tx, user, at).await?;
                emit(&mut tx, &[RevocationEvent::User(user)]).await?;
                commit(tx).await?;
                Ok(Some(n))
            }

            // ---- throttle ---------------------------------------------------------------

            async fn throttle_claim(
                &self,
                key: &str,
                now: Timestamp,
                hold_until: Timestamp,
            ) -> StoreResult<ThrottleClaim> {
                // Each statement is atomic on its own; the UPDATE's condition is re-checked
                // against the latest row version, so of concurrent claims exactly one matches.
                for _ in 0..3 {
                    sqlx::query(
                        "INSERT INTO throttle (key, failures, next_attempt_at, locked_until, \
                         locked_indefinitely) VALUES ($1, 0, $2, NULL, FALSE) \
                         ON CONFLICT (key) DO NOTHING",
                    )
                    .bind(key.to_string())
                    .bind(enc(now))
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?;
                    let granted = sqlx::query(
                        "UPDATE throttle SET next_attempt_at = $3 WHERE key = $1 \
                         AND locked_indefinitely = FALSE \
                         AND (locked_until IS NULL OR locked_until <= $2) \
                         AND next_attempt_at <= $2 RETURNING failures",
                    )
                    .bind(key.to_string())
                    .bind(enc(now))
                    .bind(enc(hold_until))
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?;
                    if let Some(r) = granted {
                        return Ok(ThrottleClaim::Granted { failures: col(&r, 0)? });
                    }
                    let Some(state) = throttle_row(&self.pool, key).await? else {
                        continue; // reset in between: try again
                    };
                    let (_failures, next, until, indefinite) = state;
                    if indefinite {
                        return Ok(ThrottleClaim::Locked { until: None });
                    }
                    if let Some(until) = until.filter(|u| *u > now) {
                        return Ok(ThrottleClaim::Locked { until: Some(until) });
                    }
                    return Ok(ThrottleClaim::Wait { until: next });
                }
                Ok(ThrottleClaim::Wait { until: hold_until })
            }

            async fn throttle_fail(
                &self,
                key: &str,
                next_attempt_at: Timestamp,
                locked_until: Option<Option<Timestamp>>,
            ) -> StoreResult<i32> {
                let row = sqlx::query(
                    "INSERT INTO throttle (key, failures, next_attempt_at, locked_until, \
                     locked_indefinitely) VALUES ($1, 1, $2, $3, $4) \
                     ON CONFLICT (key) DO UPDATE SET failures = throttle.failures + 1, \
                     next_attempt_at = excluded.next_attempt_at, \
                     locked_until = CASE WHEN $5 THEN excluded.locked_until ELSE throttle.locked_until END, \
                     locked_indefinitely = CASE WHEN $5 THEN excluded.locked_indefinitely \
                     ELSE throttle.locked_indefinitely END \
                     RETURNING failures",
                )
                .bind(key.to_string())
                .bind(enc(next_attempt_at))
                .bind(locked_until.flatten().map(enc))
                .bind(matches!(locked_until, Some(None)))
                .bind(locked_until.is_some())
                .fetch_one(&self.pool)
                .await
                .map_err(db_err)?;
                col(&row, 0)
            }

            async fn throttle_reset(&self, key: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM throttle WHERE key = $1")
                    .bind(key.to_string())
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?;
                Ok(())
            }

            async fn throttle_get(&self, key: &str) -> StoreResult<Option<ThrottleState>> {
                Ok(throttle_row(&self.pool, key).await?.map(
                    |(failures, next_attempt_at, until, indefinite)| ThrottleState {
                        failures,
                        next_attempt_at,
                        locked_until: if indefinite {
                            Some(crate::INDEFINITE_LOCK)
                        } else {
                            until
                        },
                    },
                ))
            }

            // ---- revocation feed ----------------------------------------------------------

            async fn revocation_snapshot(&self, now: Timestamp) -> StoreResult<RevocationSnapshot> {
                let mut tx = begin_snapshot(&self.pool).await?;
                let seq_row = sqlx::query("SELECT COALESCE(MAX(seq), 0) FROM revocation_events")
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
                let users = sqlx::query("SELECT id FROM users WHERE deactivated = TRUE ORDER BY id")
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db_err)?;
                let memberships = sqlx::query(
                    "SELECT user_id, org_id FROM memberships WHERE deactivated = TRUE \
                     OR removed_at IS NOT NULL ORDER BY user_id, org_id",
                )
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?;
                let m_cutoffs = sqlx::query(
                    "SELECT user_id, org_id, tokens_not_before FROM memberships \
                     WHERE tokens_not_before IS NOT NULL ORDER BY user_id, org_id",
                )
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?;
                let orgs = sqlx::query(
                    "SELECT id, disabled, tokens_not_before FROM orgs \
                     WHERE disabled = TRUE OR tokens_not_before IS NOT NULL ORDER BY id",
                )
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?;
                let sessions = sqlx::query(
                    "SELECT id, expires_at FROM sessions WHERE revoked_at IS NOT NULL \
                     AND expires_at > $1 ORDER BY id",
                )
                .bind(enc(now))
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?;
                let creds = sqlx::query(
                    "SELECT id FROM credentials WHERE revoked_at IS NOT NULL \
                     AND (expires_at IS NULL OR expires_at > $1) ORDER BY id",
                )
                .bind(enc(now))
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?;
                let keys = sqlx::query("SELECT kid FROM keys WHERE revoked_at IS NOT NULL ORDER BY kid")
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db_err)?;
                commit(tx).await?;
                let (mut disabled_orgs, mut org_cutoffs) = (Vec::new(), Vec::new());
                for r in &orgs {
                    let id = OrgId(col(r, 0)?);
                    if col::<bool>(r, 1)? {
                        disabled_orgs.push(id);
                    }
                    if let Some(at) = opt_ts_at(r, 2)? {
                        org_cutoffs.push((id, at));
                    }
                }
                Ok(RevocationSnapshot {
                    seq: col(&seq_row, 0)?,
                    deactivated_users: users
                        .iter()
                        .map(|r| Ok(UserId(col(r, 0)?)))
                        .collect::<StoreResult<_>>()?,
                    deactivated_memberships: memberships
                        .iter()
                        .map(|r| Ok((UserId(col(r, 0)?), OrgId(col(r, 1)?))))
                        .collect::<StoreResult<_>>()?,
                    membership_cutoffs: m_cutoffs
                        .iter()
                        .map(|r| Ok((UserId(col(r, 0)?), OrgId(col(r, 1)?), ts_at(r, 2)?)))
                        .collect::<StoreResult<_>>()?,
                    disabled_orgs,
                    org_cutoffs,
                    revoked_sessions: sessions
                        .iter()
                        .map(|r| Ok((SessionId(col(r, 0)?), ts_at(r, 1)?)))
                        .collect::<StoreResult<_>>()?,
                    revoked_credentials: creds
                        .iter()
                        .map(|r| Ok(CredentialId(col(r, 0)?)))
                        .collect::<StoreResult<_>>()?,
                    revoked_keys: keys
                        .iter()
                        .map(|r| col::<String>(r, 0))
                        .collect::<StoreResult<_>>()?,
                })
            }

            async fn revocation_events_since(
                &self,
                after: i64,
                limit: u32,
            ) -> StoreResult<Vec<(i64, RevocationEvent)>> {
                let rs = sqlx::query(
                    "SELECT seq, kind, subject FROM revocation_events WHERE seq > $1 \
                     ORDER BY seq LIMIT $2",
                )
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                rs.iter()
                    .map(|r| {
                        Ok((
                            col::<i64>(r, 0)?,
                            event_from_columns(&col::<String>(r, 1)?, col(r, 2)?)?,
                        ))
                    })
                    .collect()
            }

            async fn user_revocation_state(
                &self,
                user: UserId,
                now: Timestamp,
            ) -> StoreResult<UserRevocationState> {
                let mut tx = begin_snapshot(&self.pool).await?;
                let state = revocation_state(&mut tx, user, now).await?;
                commit(tx).await?;
                Ok(state)
            }

            async fn org_revocation_state(&self, org: OrgId) -> StoreResult<OrgRevocationState> {
                let row = sqlx::query("SELECT disabled, tokens_not_before FROM orgs WHERE id = $1")
                    .bind(org.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?;
                match row {
                    Some(r) => Ok(OrgRevocationState {
                        disabled: col(&r, 0)?,
                        tokens_not_before: opt_ts_at(&r, 1)?,
                    }),
                    None => Ok(OrgRevocationState {
                        disabled: true,
                        tokens_not_before: None,
                    }),
                }
            }

            // ---- audit ------------------------------------------------------------------

            async fn append_audit(&self, events: &[AuditEvent]) -> StoreResult<()> {
                if events.is_empty() {
                    return Ok(());
                }
                let details = events
                    .iter()
                    .map(|e| json_text(&e.detail))
                    .collect::<StoreResult<Vec<_>>>()?;
                let mut tx = begin_write(&self.pool).await?;
                // Multi-row INSERTs: one statement per 100 events (900 binds, under every
                // backend's limit) instead of one round-trip to the driver per event.
                for (chunk, details) in events.chunks(100).zip(details.chunks(100)) {
                    let mut qb = QueryBuilder::<$DB>::new(concat!(
                        "INSERT INTO audit_events (", audit_cols!(), ") "
                    ));
                    qb.push_values(chunk.iter().zip(details), |mut row, (e, detail)| {
                        row.push_bind(e.id)
                            .push_bind(enc(e.at))
                            .push_bind(e.actor.map(|a| a.0))
                            .push_bind(e.action.clone())
                            .push_bind(e.target.clone())
                            .push_bind(e.outcome.as_str())
                            .push_bind(e.ip.clone())
                            .push_bind(e.request_id.clone())
                            .push_bind(detail.clone());
                    });
                    qb.build().execute(&mut *tx).await.map_err(db_err)?;
                }
                commit(tx).await
            }

            async fn list_audit(&self, f: &AuditFilter) -> StoreResult<Vec<AuditEvent>> {
                let mut qb = QueryBuilder::<$DB>::new(concat!(
                    "SELECT ", audit_cols!(), " FROM audit_events WHERE 1 = 1"
                ));
                if let Some(a) = f.actor {
                    qb.push(" AND actor = ").push_bind(a.0);
                }
                if let Some(a) = &f.action {
                    qb.push(" AND action = ").push_bind(a.clone());
                }
                if let Some(t) = &f.target {
                    qb.push(" AND target = ").push_bind(t.clone());
                }
                if let Some(o) = f.outcome {
                    qb.push(" AND outcome = ").push_bind(o.as_str());
                }
                if let Some(s) = f.since {
                    qb.push(" AND at >= ").push_bind(enc(s));
                }
                if let Some(u) = f.until {
                    qb.push(" AND at < ").push_bind(enc(u));
                }
                let limit = if f.limit == 0 { DEFAULT_AUDIT_LIMIT } else { f.limit };
                qb.push(" ORDER BY at DESC, seq DESC LIMIT ").push_bind(i64::from(limit));
                let rs = qb.build().fetch_all(&self.pool).await.map_err(db_err)?;
                rows(rs, audit_row)
            }

            // ---- browser SSO flow state ---------------------------------------------------

            async fn insert_sso_flow(
                &self,
                flow: portcullis_core::websso::SsoFlowRecord,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO sso_flows (key_hash, kind, provider, login_hint, nonce, \
                     pkce_verifier, binding_hash, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(flow.key_hash)
                .bind(flow.kind.as_str())
                .bind(flow.provider)
                .bind(flow.login_hint)
                .bind(flow.nonce)
                .bind(flow.pkce_verifier)
                .bind(flow.binding_hash)
                .bind(enc(flow.created_at))
                .bind(enc(flow.expires_at))
                .execute(&self.pool)
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn take_sso_flow(
                &self,
                kind: portcullis_core::websso::SsoFlowKind,
                key_hash: &str,
                now: Timestamp,
            ) -> StoreResult<Option<portcullis_core::websso::SsoFlowRecord>> {
                // DELETE … RETURNING is atomic: a replay, or a racing node, finds nothing.
                let row = sqlx::query(
                    "DELETE FROM sso_flows WHERE key_hash = $1 AND kind = $2 RETURNING \
                     key_hash, kind, provider, login_hint, nonce, pkce_verifier, binding_hash, \
                     created_at, expires_at",
                )
                .bind(key_hash.to_string())
                .bind(kind.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
                let Some(r) = row else { return Ok(None) };
                let stored: String = col(&r, 1)?;
                let rec = portcullis_core::websso::SsoFlowRecord {
                    key_hash: col(&r, 0)?,
                    kind: portcullis_core::websso::SsoFlowKind::parse(&stored)
                        .ok_or_else(|| corrupt(format!("sso flow kind {stored:?}")))?,
                    provider: col(&r, 2)?,
                    login_hint: col(&r, 3)?,
                    nonce: col(&r, 4)?,
                    pkce_verifier: col(&r, 5)?,
                    binding_hash: col(&r, 6)?,
                    created_at: ts_at(&r, 7)?,
                    expires_at: ts_at(&r, 8)?,
                };
                Ok((rec.expires_at > now).then_some(rec))
            }

            async fn purge_sso_flows(&self, now: Timestamp) -> StoreResult<u64> {
                let done = sqlx::query("DELETE FROM sso_flows WHERE expires_at <= $1")
                    .bind(enc(now))
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?;
                Ok(done.rows_affected())
            }

            // ---- bootstrap --------------------------------------------------------------

            async fn bootstrap(
                &self,
                region: Region,
                org: NewOrg,
                admin: NewUser,
            ) -> StoreResult<Option<(Org, User)>> {
                let at = now();
                let mut tx = begin_write(&self.pool).await?;
                lock(&mut tx, Lock::Bootstrap).await?;
                let any = sqlx::query("SELECT 1 FROM users LIMIT 1")
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
                if any.is_some() {
                    return Ok(None);
                }
                sqlx::query(
                    "INSERT INTO regions (id, api_host, sig_host, static_host) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(region.id)
                .bind(region.api_host)
                .bind(region.sig_host)
                .bind(region.static_host)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                let org = insert_org(&mut tx, &org, at).await?;
                let user = insert_user(&mut tx, &admin, at).await?;
                let admin_role: BTreeSet<Role> = [Role::Admin].into_iter().collect();
                put_membership(&mut tx, user.id, org.id, &admin_role, MembershipKind::Member, at).await?;
                commit(tx).await?;
                tracing::info!(org = %org.name, user = %user.id, "bootstrapped an empty store");
                Ok(Some((org, user)))
            }
        }

        async fn insert_org(conn: &mut Conn, org: &NewOrg, at: Timestamp) -> StoreResult<Org> {
            ensure_region(conn, &org.region_id).await?;
            let row = sqlx::query(concat!(
                "INSERT INTO orgs (id, name, display_name, region_id, disabled, default_workspace, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, FALSE, NULL, $5, $5) RETURNING ",
                org_cols!()
            ))
            .bind(OrgId::new().0)
            .bind(org.name.clone())
            .bind(org.display_name.clone())
            .bind(org.region_id.clone())
            .bind(enc(at))
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
            org_row(&row)
        }

        async fn insert_identity(
            conn: &mut Conn,
            identity: &ExternalIdentity,
            user: UserId,
        ) -> StoreResult<()> {
            sqlx::query(concat!(
                "INSERT INTO external_identities (", identity_cols!(), ") VALUES ($1, $2, $3, $4, $5)"
            ))
            .bind(identity.issuer.clone())
            .bind(identity.subject.clone())
            .bind(user.0)
            .bind(identity.provider_alias.clone())
            .bind(enc(identity.created_at))
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            Ok(())
        }

        /// (failures, next_attempt_at, locked_until, locked_indefinitely)
        async fn throttle_row(
            pool: &sqlx::Pool<$DB>,
            key: &str,
        ) -> StoreResult<Option<(i32, Timestamp, Option<Timestamp>, bool)>> {
            let row = sqlx::query(
                "SELECT failures, next_attempt_at, locked_until, locked_indefinitely \
                 FROM throttle WHERE key = $1",
            )
            .bind(key.to_string())
            .fetch_optional(pool)
            .await
            .map_err(db_err)?;
            row.map(|r| Ok((col(&r, 0)?, ts_at(&r, 1)?, opt_ts_at(&r, 2)?, col(&r, 3)?)))
                .transpose()
        }
        }
    };
}
