//! `admin user`: create, list, show, update, deactivate, reactivate, password resets, sessions,
//! unlock, second factors (`mfa.rs`).

use clap::Subcommand;

use super::*;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. Without --password-stdin the account has no password (SSO only) until
    /// the user sets one.
    Create {
        /// Email address; unique in any letter case.
        #[arg(long)]
        email: String,
        /// Display name [default: the email's local part].
        #[arg(long)]
        name: Option<String>,
        /// Make the user a super-admin.
        #[arg(long)]
        super_admin: bool,
        /// Mark the email as verified.
        #[arg(long)]
        validated: bool,
        /// Read an initial password from the first line of stdin (checked against the policy).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users, ordered by email.
    List {
        #[arg(long, default_value_t = 0)]
        offset: u64,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Show a user with memberships, workspace grants, linked identities and lockout state.
    Show { user: String },
    /// Change a user's profile or flags.
    Update {
        user: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, conflicts_with = "clear_avatar_url")]
        avatar_url: Option<String>,
        #[arg(long)]
        clear_avatar_url: bool,
        /// true or false.
        #[arg(long, value_name = "BOOL")]
        super_admin: Option<bool>,
        /// true (verified now) or false.
        #[arg(long, value_name = "BOOL")]
        validated: Option<bool>,
    },
    /// Deactivate everywhere, revoking every session and credential.
    Deactivate { user: String },
    /// Undo a deactivation (revoked sessions and credentials stay revoked).
    Reactivate { user: String },
    /// Block password login, end every session and print a one-time reset code (shown once,
    /// valid for core.passwords.reset_code_secs) that the user redeems with a new password at
    /// POST /account/v1/password/reset-required.
    ForcePasswordReset {
        user: String,
        /// Also revoke every API key and persistent token of the user.
        #[arg(long)]
        revoke_credentials: bool,
    },
    /// End every session of the user (tokens of those sessions stop working at once).
    EndSessions { user: String },
    /// List the user's live sessions.
    Sessions { user: String },
    /// Clear failed-login throttling and any lockout for a user or login email.
    Unlock { user: String },
    /// Second factors: list, or reset (removes them all and ends every session).
    #[command(subcommand)]
    Mfa(MfaCommand),
}

pub(super) fn user_line(u: &UserView) -> String {
    let mut flags = Vec::new();
    if u.super_admin {
        flags.push("super-admin");
    }
    if u.deactivated {
        flags.push("deactivated");
    }
    if u.password_reset_required {
        flags.push("password-reset-required");
    }
    if !u.has_password {
        flags.push("no-password");
    }
    format!(
        "{}  {}  {:?}  {}",
        u.id,
        u.email,
        u.display_name,
        flags.join(",")
    )
}

pub(super) async fn user(
    admin: &Admin,
    json: bool,
    cmd: &UserCommand,
    password: Option<Zeroizing<String>>,
) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Create {
            email,
            name,
            super_admin,
            validated,
            password_stdin: _,
        } => {
            let u = admin
                .create_user(NewUserSpec {
                    email: email.clone(),
                    display_name: name.clone(),
                    super_admin: *super_admin,
                    validated: *validated,
                    password,
                })
                .await?;
            let v = UserView::from(&u);
            emit(json, &v, || format!("created user {}", user_line(&v)))
        }
        UserCommand::List { offset, limit } => {
            let users: Vec<UserView> = admin
                .list_users(*offset, *limit)
                .await?
                .iter()
                .map(UserView::from)
                .collect();
            emit(json, &users, || {
                users.iter().map(|u| user_line(u) + "\n").collect()
            })
        }
        UserCommand::Show { user } => {
            let d = admin.show_user(user).await?;
            emit(json, &d, || {
                let mut s = user_line(&d.user) + "\n";
                for m in &d.memberships {
                    s += &format!("  member of {}\n", member_line(m));
                }
                for g in &d.workspace_grants {
                    s += &format!("  workspace {} ({:?})\n", g.workspace_id, g.access);
                }
                for i in &d.identities {
                    s += &format!(
                        "  identity {} {} via {}\n",
                        i.issuer, i.subject, i.provider_alias
                    );
                }
                if d.failed_logins > 0 || d.locked_until.is_some() {
                    s += &format!(
                        "  failed logins: {}{}\n",
                        d.failed_logins,
                        d.locked_until
                            .map(|t| format!(", locked until {t}"))
                            .unwrap_or_default()
                    );
                }
                s
            })
        }
        UserCommand::Update {
            user,
            name,
            avatar_url,
            clear_avatar_url,
            super_admin,
            validated,
        } => {
            let avatar = if *clear_avatar_url {
                Some(None)
            } else {
                avatar_url.clone().map(Some)
            };
            let u = admin
                .update_user(
                    user,
                    UserPatchSpec {
                        display_name: name.clone(),
                        avatar_url: avatar,
                        super_admin: *super_admin,
                        validated: *validated,
                    },
                )
                .await?;
            let v = UserView::from(&u);
            emit(json, &v, || format!("updated user {}", user_line(&v)))
        }
        UserCommand::Deactivate { user } => {
            let r = admin.deactivate_user(user).await?;
            emit(json, &r, || {
                format!(
                    "deactivated {}: {} sessions and {} credentials revoked",
                    r.user_id, r.sessions_revoked, r.credentials_revoked
                )
            })
        }
        UserCommand::Reactivate { user } => {
            let v = UserView::from(&admin.reactivate_user(user).await?);
            emit(json, &v, || format!("reactivated {}", user_line(&v)))
        }
        UserCommand::ForcePasswordReset {
            user,
            revoke_credentials,
        } => {
            let r = admin
                .require_password_reset(user, *revoke_credentials)
                .await?;
            #[derive(Serialize)]
            struct Reset<'a> {
                #[serde(flatten)]
                user: UserView,
                reset_code: &'a str,
                reset_code_expires_at: DateTime<Utc>,
                sessions_revoked: u64,
                credentials_revoked: u64,
            }
            let v = Reset {
                user: UserView::from(&r.user),
                reset_code: r.code.as_str(),
                reset_code_expires_at: r.expires_at,
                sessions_revoked: r.sessions_revoked,
                credentials_revoked: r.credentials_revoked,
            };
            emit(json, &v, || {
                format!(
                    "password reset required for {}\n{} session(s) and {} credential(s) revoked\n\
                     one-time reset code (shown only now, valid until {}): {}",
                    user_line(&v.user),
                    v.sessions_revoked,
                    v.credentials_revoked,
                    v.reset_code_expires_at,
                    v.reset_code
                )
            })
        }
        UserCommand::Mfa(cmd) => user_mfa(admin, json, cmd).await,
        UserCommand::EndSessions { user } => {
            let (id, n) = admin.end_sessions(user).await?;
            #[derive(Serialize)]
            struct Ended {
                user_id: String,
                sessions_ended: u64,
            }
            let r = Ended {
                user_id: id.to_string(),
                sessions_ended: n,
            };
            emit(json, &r, || {
                format!("ended {} session(s) of {}", r.sessions_ended, r.user_id)
            })
        }
        UserCommand::Sessions { user } => {
            let sessions = admin.list_sessions(user).await?;
            emit(json, &sessions, || {
                sessions
                    .iter()
                    .map(|s| {
                        format!(
                            "{}  org {}  {}  expires {}",
                            s.id,
                            s.org_id,
                            s.kind.as_str(),
                            s.expires_at
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        UserCommand::Unlock { user } => {
            let key = admin.unlock(user).await?;
            emit(json, &serde_json::json!({ "unlocked": key }), || {
                format!("unlocked {key}")
            })
        }
    }
}
