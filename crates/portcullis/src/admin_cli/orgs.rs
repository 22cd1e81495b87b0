//! `admin org` and `admin region`.

use clap::Subcommand;

use portcullis_core::MfaMode;

use super::*;

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an org.
    Create {
        /// Unique, stable name.
        name: String,
        #[arg(long)]
        display_name: Option<String>,
        /// Region id [default: the configured core.region.id]; must exist.
        #[arg(long)]
        region: Option<String>,
    },
    /// List orgs.
    List,
    /// Show an org with its members and workspaces.
    Show { org: String },
    /// Change an org.
    Update {
        org: String,
        #[arg(long, conflicts_with = "clear_display_name")]
        display_name: Option<String>,
        #[arg(long)]
        clear_display_name: bool,
        #[arg(long)]
        region: Option<String>,
        /// WORKSPACE (id or ORG/SLUG) of this org.
        #[arg(long, conflicts_with = "clear_default_workspace")]
        default_workspace: Option<String>,
        #[arg(long)]
        clear_default_workspace: bool,
        /// Second-factor policy: off, optional (members may enrol; enrolled members are asked)
        /// or required (members without a factor enrol at their next browser sign-in).
        #[arg(long, value_name = "MODE")]
        mfa: Option<MfaMode>,
        /// true: refuse TOTP (passkeys only, for phishing resistance); false: allow it.
        #[arg(long, value_name = "BOOL")]
        passkeys_only: Option<bool>,
    },
    /// Disable an org.
    Disable { org: String },
    /// Re-enable a disabled org.
    Enable { org: String },
}

#[derive(Debug, Subcommand)]
pub enum RegionCommand {
    /// Create or replace a region.
    Upsert {
        id: String,
        /// API host (Parsable `apiHost`).
        #[arg(long)]
        api_host: String,
        /// Signature host [default: the API host].
        #[arg(long)]
        sig_host: Option<String>,
        /// Static host [default: the API host].
        #[arg(long)]
        static_host: Option<String>,
    },
    /// List regions.
    List,
}

pub(super) fn org_line(o: &Org) -> String {
    format!(
        "{}  {}  region={}{}",
        o.id,
        o.name,
        o.region_id,
        if o.disabled { "  disabled" } else { "" }
    )
}

pub(super) async fn org(admin: &Admin, json: bool, cmd: &OrgCommand) -> anyhow::Result<()> {
    match cmd {
        OrgCommand::Create {
            name,
            display_name,
            region,
        } => {
            let o = admin
                .create_org(name, display_name.clone(), region.clone())
                .await?;
            emit(json, &o, || format!("created org {}", org_line(&o)))
        }
        OrgCommand::List => {
            let orgs = admin.list_orgs().await?;
            emit(json, &orgs, || {
                orgs.iter().map(|o| org_line(o) + "\n").collect()
            })
        }
        OrgCommand::Show { org } => {
            let d = admin.show_org(org).await?;
            emit(json, &d, || {
                let mut s = org_line(&d.org) + "\n";
                for m in &d.members {
                    s += &format!("  {}\n", member_line(m));
                }
                for w in &d.workspaces {
                    s += &format!("  workspace {} {}\n", w.id, w.slug);
                }
                s
            })
        }
        OrgCommand::Update {
            org,
            display_name,
            clear_display_name,
            region,
            default_workspace,
            clear_default_workspace,
            mfa,
            passkeys_only,
        } => {
            let profile = display_name.is_some()
                || *clear_display_name
                || region.is_some()
                || default_workspace.is_some()
                || *clear_default_workspace;
            if !profile && (mfa.is_some() || passkeys_only.is_some()) {
                return org_mfa(admin, json, org, *mfa, *passkeys_only).await;
            }
            if mfa.is_some() || passkeys_only.is_some() {
                // Both: the policy first, then the profile (whose result is printed).
                admin.set_org_mfa_policy(org, *mfa, *passkeys_only).await?;
            }
            let patch = OrgPatchSpec {
                display_name: if *clear_display_name {
                    Some(None)
                } else {
                    display_name.clone().map(Some)
                },
                region: region.clone(),
                default_workspace: if *clear_default_workspace {
                    Some(None)
                } else {
                    default_workspace.clone().map(Some)
                },
            };
            let o = admin.update_org(org, patch).await?;
            emit(json, &o, || format!("updated org {}", org_line(&o)))
        }
        OrgCommand::Disable { org } => {
            let o = admin.set_org_disabled(org, true).await?;
            emit(json, &o, || format!("disabled org {}", org_line(&o)))
        }
        OrgCommand::Enable { org } => {
            let o = admin.set_org_disabled(org, false).await?;
            emit(json, &o, || format!("enabled org {}", org_line(&o)))
        }
    }
}

pub(super) async fn region(admin: &Admin, json: bool, cmd: &RegionCommand) -> anyhow::Result<()> {
    match cmd {
        RegionCommand::Upsert {
            id,
            api_host,
            sig_host,
            static_host,
        } => {
            let r = admin
                .upsert_region(Region {
                    id: id.clone(),
                    api_host: api_host.clone(),
                    sig_host: sig_host.clone().unwrap_or_else(|| api_host.clone()),
                    static_host: static_host.clone().unwrap_or_else(|| api_host.clone()),
                })
                .await?;
            emit(json, &r, || format!("region {} saved", r.id))
        }
        RegionCommand::List => {
            let rs = admin.list_regions().await?;
            emit(json, &rs, || {
                rs.iter()
                    .map(|r| {
                        format!(
                            "{}  api={} sig={} static={}\n",
                            r.id, r.api_host, r.sig_host, r.static_host
                        )
                    })
                    .collect()
            })
        }
    }
}
