//! Core types → wire types. No logic beyond field mapping.

use std::collections::BTreeMap;

use portcullis_core::model as core;
use portcullis_core::org_views::{LoginData, OrgOption, OrgView};
use portcullis_core::store::CredentialWithPeople;

use crate::wire;

fn secs(t: Option<core::Timestamp>) -> i64 {
    t.map_or(0, |t| t.timestamp())
}

pub fn user(u: &core::User) -> wire::User {
    wire::User {
        id: u.id.to_string(),
        email: u.email.clone(),
        name: u.display_name.clone(),
        validated_at: secs(u.validated_at),
    }
}

pub fn role(r: core::Role) -> wire::TeamRole {
    wire::TeamRole(r.number())
}

pub fn region(r: &core::Region) -> wire::Region {
    wire::Region {
        id: r.id.clone(),
        api_host: r.api_host.clone(),
        sig_host: r.sig_host.clone(),
        static_host: r.static_host.clone(),
    }
}

pub fn job_permissions(p: &core::JobPermissions) -> wire::JobPermissions {
    wire::JobPermissions {
        edit_title: p.edit_title,
        edit_metadata: p.edit_metadata,
        complete: p.complete,
        uncomplete: p.uncomplete,
        step: wire::StepPermissions {
            add_and_duplicate_steps: p.add_and_duplicate_steps,
            add_and_duplicate_step_groups: p.add_and_duplicate_step_groups,
            mark_steps_na: p.mark_steps_na,
            send_field_input: p.send_field_input,
            complete_steps: p.complete_steps,
        },
        user: wire::UserPermissions {
            invite_users: p.invite_users,
            remove_users: p.remove_users,
        },
        template: wire::TemplatePermissions {
            add_templates: p.add_templates,
            add_sets: p.add_sets,
        },
        doc: wire::DocumentPermissions {
            add: p.add_documents,
            remove: p.remove_documents,
        },
        issue: Some(wire::IssuePermissions {
            create: p.issue_create,
            resolve: p.issue_resolve,
            invite_users: p.issue_invite_users,
            remove_users: p.issue_remove_users,
        }),
    }
}

/// `TeamInfo`: the team's settings by kind; `priorities` only when the team configured a list.
pub fn team_info(
    settings: &core::SettingsMap,
    priorities: Option<&[core::PriorityLevel]>,
) -> wire::TeamInfo {
    let mut info = wire::TeamInfo {
        priorities: priorities.map(|ps| {
            ps.iter()
                .map(|p| wire::PriorityLevel {
                    priority: p.priority,
                    title: p.title.clone(),
                    id: p.id.clone(),
                    archived_at: p.archived_at,
                })
                .collect()
        }),
        ..wire::TeamInfo::default()
    };
    for (k, v) in settings {
        match v {
            core::SettingValue::Bool(b) => {
                info.bool_settings.insert(k.clone(), *b);
            }
            core::SettingValue::Text(s) => {
                info.text_settings.insert(k.clone(), s.clone());
            }
            core::SettingValue::Option(s) => {
                info.option_settings.insert(k.clone(), s.clone());
            }
            core::SettingValue::StringList(l) => {
                info.string_list_settings.insert(k.clone(), l.clone());
            }
            core::SettingValue::ReferenceList(l) => {
                let refs = l
                    .iter()
                    .map(|r| wire::Reference {
                        id: r.id.clone(),
                        kind: r.kind.clone(),
                        label: r.label.clone(),
                    })
                    .collect();
                info.reference_list_settings.insert(k.clone(), refs);
            }
        }
    }
    info
}

fn membership(t: &OrgView) -> wire::TeamMembership {
    wire::TeamMembership {
        added_at: t.membership.created_at.timestamp(),
        updated_at: t.membership.updated_at.timestamp(),
        removed_at: secs(t.membership.removed_at),
        roles: t.roles.iter().copied().map(role).collect(),
    }
}

/// A `LoginResult` (without certificates; the handler adds those).
pub fn login_result(d: &LoginData) -> wire::LoginResult {
    let current = user(&d.user);
    let mut roles = BTreeMap::new();
    let mut region_ids = BTreeMap::new();
    let mut perms = BTreeMap::new();
    let mut infos = BTreeMap::new();
    let mut memberships = BTreeMap::new();
    for t in &d.orgs {
        let id = t.org.id.to_string();
        roles.insert(id.clone(), t.roles.iter().copied().map(role).collect());
        region_ids.insert(id.clone(), t.org.region_id.clone());
        perms.insert(id.clone(), job_permissions(&t.job_permissions));
        infos.insert(id.clone(), team_info(&t.settings, t.priorities.as_deref()));
        memberships.insert(id, membership(t));
    }
    wire::LoginResult {
        auth_token: d.token.clone(),
        current_user: current.clone(),
        team_id_to_team_role: roles,
        team_id_to_region_id: region_ids,
        region_id_to_region: d
            .regions
            .iter()
            .map(|(k, r)| (k.clone(), region(r)))
            .collect(),
        preferred_region_id: d.preferred_region_id.clone(),
        periods: wire::AuthPeriods {
            warning: d.periods.warning,
            lockout: d.periods.lockout,
            dump: d.periods.dump,
            expiry: d.periods.expiry,
        },
        team_id_to_job_permissions: perms,
        team_id_to_info: infos,
        mothership_certificate: d.ca_certificate.clone(),
        user_certificate: d.user_certificate.clone(),
        session_id: d.session_id.clone(),
        proxy_user_email: d.proxy_admin_email.clone(),
        current_user_modular: wire::UserModular {
            id: current.id,
            email: current.email,
            name: current.name,
            validated_at: current.validated_at,
            team_id_to_membership: Some(memberships),
            team_id_to_stats: None,
            team_id_to_attributes: None,
        },
        user_pin_hash: None,
    }
}

pub fn team_choices(choices: &[OrgOption]) -> Vec<wire::LoginTeamInfo> {
    choices
        .iter()
        .map(|c| wire::LoginTeamInfo {
            name: c.name.clone(),
            team_id: c.org.to_string(),
        })
        .collect()
}

/// Token metadata; `token` is never set.
pub fn token_meta(c: &CredentialWithPeople) -> wire::AuthTokenMetaResult {
    let cred = &c.credential;
    wire::AuthTokenMetaResult {
        user_id: cred.user_id.to_string(),
        creator_id: cred.creator_id.to_string(),
        created_at: cred.created_at.timestamp(),
        user_email: c.user.as_ref().map(|u| u.email.clone()),
        creator_email: c.creator.as_ref().map(|u| u.email.clone()),
        revoked_at: cred.revoked_at.map(|t| t.timestamp()),
        revoked_by_id: cred.revoked_by.map(|u| u.to_string()),
        revoked_by_email: c.revoker.as_ref().map(|u| u.email.clone()),
        token: None,
        user_name: c.user.as_ref().map(|u| u.display_name.clone()),
        creator_name: c.creator.as_ref().map(|u| u.display_name.clone()),
        revoked_by_name: c.revoker.as_ref().map(|u| u.display_name.clone()),
    }
}
