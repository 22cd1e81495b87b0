//! Parsable team settings, job priorities and per-org job-permission overrides (PARSABLE.md §8,
//! LoginResult fields 8 and 9): strict validation, the operations shared by the admin CLI and
//! the HTTP admin surface, and who may use the latter (an org ADMIN or a super-admin).
//!
//! Everything is validated before the store is touched; a batch of setting changes is written
//! in one store transaction, so a request either applies fully or not at all.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::admin::{Admin, AdminError, AdminResult};
use crate::audit::AuditAction;
use crate::engine::Engine;
use crate::error::{CoreError, CoreResult};
use crate::model::*;
use crate::tokens::Principal;

/// At most this many settings per team (checked by the store at commit).
pub const MAX_SETTINGS_PER_ORG: usize = 256;
pub const MAX_KEY_LEN: usize = 128;
pub const MAX_TEXT_LEN: usize = 4096;
pub const MAX_OPTION_LEN: usize = 256;
/// Items of one string or reference list.
pub const MAX_LIST_ITEMS: usize = 256;
pub const MAX_ITEM_LEN: usize = 1024;
pub const MAX_PRIORITIES: usize = 100;
pub const MAX_TITLE_LEN: usize = 200;

/// A team's settings as the admin interfaces show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgSettingsView {
    pub org_id: OrgId,
    pub settings: SettingsMap,
    /// `None`: no list configured (LoginResult leaves `priorities` unset).
    pub priorities: Option<Vec<PriorityLevel>>,
}

/// A team's job-permission overrides by role name; roles without one use the configured table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobPermissionsView {
    pub org_id: OrgId,
    pub overrides: BTreeMap<String, JobPermissions>,
}

fn invalid(m: impl Into<String>) -> AdminError {
    AdminError::Invalid(m.into())
}

/// Keys: 1–128 of `A-Z a-z 0-9 _ . -`.
pub fn validate_key(key: &str) -> AdminResult<()> {
    let ok = !key.is_empty()
        && key.len() <= MAX_KEY_LEN
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "setting key {key:?}: 1-{MAX_KEY_LEN} characters of A-Z a-z 0-9 _ . -"
        )))
    }
}

/// Text without control characters (free text may hold line breaks and tabs).
fn check_text(what: &str, s: &str, max: usize, multiline: bool) -> AdminResult<()> {
    if s.len() > max {
        return Err(invalid(format!("{what}: at most {max} bytes")));
    }
    if s.chars()
        .any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\t')))
    {
        return Err(invalid(format!("{what}: no control characters")));
    }
    Ok(())
}

/// A setting value from admin JSON, `{"type": "bool"|"text"|"option"|"stringList"|
/// "referenceList", "value": ...}`, with sizes checked (references are checked by
/// [`Admin::check_references`]).
pub fn parse_setting(key: &str, v: &Value) -> AdminResult<SettingValue> {
    validate_key(key)?;
    let obj = v
        .as_object()
        .ok_or_else(|| invalid(format!("setting {key:?}: expected {{\"type\", \"value\"}}")))?;
    if let Some(extra) = obj.keys().find(|k| *k != "type" && *k != "value") {
        return Err(invalid(format!("setting {key:?}: unknown field {extra:?}")));
    }
    if !obj.contains_key("value") {
        return Err(invalid(format!("setting {key:?}: missing \"value\"")));
    }
    let value: SettingValue =
        serde_json::from_value(v.clone()).map_err(|e| invalid(format!("setting {key:?}: {e}")))?;
    let what = format!("setting {key:?}");
    match &value {
        SettingValue::Bool(_) => {}
        SettingValue::Text(s) => check_text(&what, s, MAX_TEXT_LEN, true)?,
        SettingValue::Option(s) => {
            if s.trim().is_empty() {
                return Err(invalid(format!("{what}: an option must not be blank")));
            }
            check_text(&what, s, MAX_OPTION_LEN, false)?
        }
        SettingValue::StringList(l) => {
            if l.len() > MAX_LIST_ITEMS {
                return Err(invalid(format!("{what}: at most {MAX_LIST_ITEMS} items")));
            }
            for s in l {
                check_text(&what, s, MAX_ITEM_LEN, false)?;
            }
        }
        SettingValue::ReferenceList(l) => {
            if l.len() > MAX_LIST_ITEMS {
                return Err(invalid(format!("{what}: at most {MAX_LIST_ITEMS} items")));
            }
            let mut seen = BTreeSet::new();
            for r in l {
                if r.id.trim().is_empty() {
                    return Err(invalid(format!("{what}: a reference needs an id")));
                }
                check_text(&what, &r.id, 256, false)?;
                if let Some(k) = &r.kind {
                    let ok = !k.is_empty()
                        && k.len() <= 64
                        && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
                    if !ok {
                        return Err(invalid(format!(
                            "{what}: reference kind {k:?} must be 1-64 of a-z and _"
                        )));
                    }
                }
                if let Some(l) = &r.label {
                    check_text(&what, l, MAX_TITLE_LEN, false)?;
                }
                if !seen.insert((r.kind.clone(), r.id.clone())) {
                    return Err(invalid(format!("{what}: reference {:?} repeated", r.id)));
                }
            }
        }
    }
    Ok(value)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PriorityInput {
    id: Option<String>,
    priority: i32,
    title: String,
    #[serde(default)]
    archived_at: i64,
}

/// A priority list from admin JSON: an array of `{id?, priority, title, archivedAt?}`. A missing
/// id gets a fresh UUID; ids must be UUIDs and unique, titles non-blank.
pub fn parse_priorities(v: &Value) -> AdminResult<Vec<PriorityLevel>> {
    let items: Vec<PriorityInput> =
        serde_json::from_value(v.clone()).map_err(|e| invalid(format!("priorities: {e}")))?;
    if items.len() > MAX_PRIORITIES {
        return Err(invalid(format!("priorities: at most {MAX_PRIORITIES}")));
    }
    let mut ids = BTreeSet::new();
    let mut out = Vec::with_capacity(items.len());
    for p in items {
        let id = match p.id {
            None => Uuid::new_v4(),
            Some(s) => Uuid::parse_str(s.trim())
                .map_err(|_| invalid(format!("priorities: id {s:?} is not a UUID")))?,
        };
        if !ids.insert(id) {
            return Err(invalid(format!("priorities: id {id} repeated")));
        }
        let title = p.title.trim();
        if title.is_empty() {
            return Err(invalid("priorities: a title must not be blank"));
        }
        check_text("priorities: title", title, MAX_TITLE_LEN, false)?;
        if p.archived_at < 0 {
            return Err(invalid("priorities: archivedAt must be 0 or epoch seconds"));
        }
        out.push(PriorityLevel {
            id: id.to_string(),
            priority: p.priority,
            title: title.to_owned(),
            archived_at: p.archived_at,
        });
    }
    Ok(out)
}

/// The flag names of [`JobPermissions`] as JSON shows them (`editTitle`, …).
pub fn job_permission_flags() -> Vec<String> {
    match serde_json::to_value(JobPermissions::default()) {
        Ok(Value::Object(m)) => m.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// Job permissions from admin JSON: an object of known flags to booleans; a flag left out is
/// false, so the stored override is exactly what was given.
pub fn parse_job_permissions(v: &Value) -> AdminResult<JobPermissions> {
    let given = v
        .as_object()
        .ok_or_else(|| invalid("job permissions: expected an object of flag: bool"))?;
    let Ok(Value::Object(mut all)) = serde_json::to_value(JobPermissions::default()) else {
        return Err(AdminError::Internal(
            "job permissions do not serialise".into(),
        ));
    };
    for (k, b) in given {
        if !all.contains_key(k) {
            return Err(invalid(format!(
                "job permissions: unknown flag {k:?} (known: {})",
                job_permission_flags().join(", ")
            )));
        }
        if !b.is_boolean() {
            return Err(invalid(format!(
                "job permissions: {k:?} must be true or false"
            )));
        }
        all.insert(k.clone(), b.clone());
    }
    serde_json::from_value(Value::Object(all))
        .map_err(|e| AdminError::Internal(format!("job permissions: {e}")))
}

/// Job permissions with exactly the named flags set (the CLI's `--allow a,b`).
pub fn job_permissions_from_flags(flags: &str) -> AdminResult<JobPermissions> {
    let obj: serde_json::Map<String, Value> = flags
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(|f| (f.to_owned(), Value::Bool(true)))
        .collect();
    parse_job_permissions(&Value::Object(obj))
}

impl Admin {
    /// The team's settings and priority list.
    pub async fn org_settings(&self, org: &str) -> AdminResult<OrgSettingsView> {
        let org = self.find_org(org).await?;
        let raw = self.store().get_org_settings(org.id).await?;
        Ok(OrgSettingsView {
            org_id: org.id,
            settings: parse_stored_settings(raw, org.id),
            priorities: self.store().get_org_priorities(org.id).await?,
        })
    }

    /// One setting; `NotFound` when the team has none under `key`.
    pub async fn org_setting(&self, org: &str, key: &str) -> AdminResult<SettingValue> {
        validate_key(key)?;
        self.org_settings(org)
            .await?
            .settings
            .remove(key)
            .ok_or_else(|| AdminError::NotFound(format!("no setting {key:?}")))
    }

    /// Sets (`Some`) or clears (`None`) settings, all or nothing. Returns the team's settings.
    pub async fn update_org_settings(
        &self,
        org: &str,
        changes: &[(String, Option<Value>)],
    ) -> AdminResult<OrgSettingsView> {
        let org_row = self.find_org(org).await?;
        if changes.is_empty() {
            return Err(invalid("no settings given"));
        }
        if changes.len() > MAX_SETTINGS_PER_ORG {
            return Err(invalid(format!(
                "at most {MAX_SETTINGS_PER_ORG} settings per request"
            )));
        }
        let mut keys = BTreeSet::new();
        let mut checked = Vec::with_capacity(changes.len());
        for (key, value) in changes {
            validate_key(key)?;
            if !keys.insert(key.as_str()) {
                return Err(invalid(format!("setting {key:?} given twice")));
            }
            let stored = match value {
                None => None,
                Some(v) => {
                    let parsed = parse_setting(key, v)?;
                    self.check_references(org_row.id, key, &parsed).await?;
                    Some(
                        serde_json::to_value(&parsed)
                            .map_err(|e| AdminError::Internal(e.to_string()))?,
                    )
                }
            };
            checked.push((key.clone(), stored));
        }
        let set: Vec<&str> = checked
            .iter()
            .filter(|(_, v)| v.is_some())
            .map(|(k, _)| k.as_str())
            .collect();
        let cleared: Vec<&str> = checked
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.as_str())
            .collect();
        // Values are not audited: they are customer data, only the keys say what changed.
        self.audited(
            AuditAction::TeamSettingsUpdate,
            Some(org_row.id.to_string()),
            json!({"set": set, "cleared": cleared}),
            self.store()
                .update_org_settings(org_row.id, &checked, MAX_SETTINGS_PER_ORG),
        )
        .await?;
        self.org_changed(org_row.id);
        self.org_settings(&org_row.id.to_string()).await
    }

    /// References whose kind names something this server knows must point at it: `user` → a
    /// member (past or present) of the team, `team`/`org` → an existing org, `workspace` → a
    /// workspace of the team. Other kinds are the client's business.
    async fn check_references(&self, org: OrgId, key: &str, v: &SettingValue) -> AdminResult<()> {
        let SettingValue::ReferenceList(refs) = v else {
            return Ok(());
        };
        for r in refs {
            let missing = || {
                invalid(format!(
                    "setting {key:?}: reference {:?} of kind {:?} does not exist",
                    r.id,
                    r.kind.as_deref().unwrap_or_default()
                ))
            };
            match r.kind.as_deref() {
                Some("user") => {
                    let id = UserId::from_str(r.id.trim()).map_err(|_| missing())?;
                    if self.store().get_membership(id, org).await?.is_none() {
                        return Err(missing());
                    }
                }
                Some("team") | Some("org") => {
                    let id = OrgId::from_str(r.id.trim()).map_err(|_| missing())?;
                    if self.store().get_org(id).await?.is_none() {
                        return Err(missing());
                    }
                }
                Some("workspace") => {
                    let id = WorkspaceId::from_str(r.id.trim()).map_err(|_| missing())?;
                    if self
                        .store()
                        .get_workspace(id)
                        .await?
                        .is_none_or(|w| w.org_id != org)
                    {
                        return Err(missing());
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Replaces (`Some`, a JSON array) or removes (`None`) the team's priority list.
    pub async fn set_org_priorities(
        &self,
        org: &str,
        priorities: Option<&Value>,
    ) -> AdminResult<OrgSettingsView> {
        let org_row = self.find_org(org).await?;
        let parsed = priorities.map(parse_priorities).transpose()?;
        self.audited(
            AuditAction::TeamPrioritiesSet,
            Some(org_row.id.to_string()),
            json!({"count": parsed.as_ref().map(Vec::len)}),
            self.store()
                .set_org_priorities(org_row.id, parsed.as_deref()),
        )
        .await?;
        self.org_changed(org_row.id);
        self.org_settings(&org_row.id.to_string()).await
    }

    /// The team's job-permission overrides.
    pub async fn org_job_permissions(&self, org: &str) -> AdminResult<JobPermissionsView> {
        let org = self.find_org(org).await?;
        let table = self.store().get_job_permissions(org.id).await?;
        Ok(JobPermissionsView {
            org_id: org.id,
            overrides: table
                .into_iter()
                .map(|(r, p)| (r.as_str().to_owned(), p))
                .collect(),
        })
    }

    /// Sets (`Some`) or clears (`None`) the team's override for one role.
    pub async fn set_org_job_permissions(
        &self,
        org: &str,
        role: &str,
        perms: Option<JobPermissions>,
    ) -> AdminResult<JobPermissionsView> {
        let org_row = self.find_org(org).await?;
        let role = Role::from_str(role).map_err(AdminError::Invalid)?;
        self.audited(
            AuditAction::JobPermissionsSet,
            Some(org_row.id.to_string()),
            json!({"role": role.as_str(), "perms": perms}),
            self.store().set_job_permissions(org_row.id, role, perms),
        )
        .await?;
        self.org_changed(org_row.id);
        self.org_job_permissions(&org_row.id.to_string()).await
    }
}

/// Stored team settings; a value that no longer parses is skipped (and logged) rather than
/// blocking every login of the team.
pub fn parse_stored_settings(raw: BTreeMap<String, Value>, org: OrgId) -> SettingsMap {
    raw.into_iter()
        .filter_map(|(k, v)| match serde_json::from_value(v) {
            Ok(sv) => Some((k, sv)),
            Err(e) => {
                tracing::warn!(%org, key = %k, error = %e, "ignoring a malformed team setting");
                None
            }
        })
        .collect()
}

impl Engine {
    /// An admin handle for `org` on behalf of `p`, for the HTTP admin surface: the caller must
    /// act as a super-admin or be an active ADMIN of that org, by the org-binding rule
    /// (`authz.rs`): a credential or a team token reaches only its own org, with its
    /// membership's rights. An unknown org is refused like a foreign one, so the route does not
    /// reveal which org ids exist, except to super-admins.
    pub async fn org_admin(&self, p: &Principal, org: OrgId) -> CoreResult<Admin> {
        let caller = self.active_caller(p).await?;
        let admin = Admin::new(self.store().clone(), self.config(), "http")
            .with_actor(Some(p.user))
            .with_view(self.revocations().clone());
        if p.acts_as_super_admin(&caller) {
            return Ok(admin);
        }
        let is_admin = self
            .acting_membership(p, org)
            .await?
            .is_some_and(|m| m.is_admin());
        if !is_admin {
            return Err(CoreError::PermissionDenied(
                "an admin of the org or a super-admin is required",
            ));
        }
        Ok(admin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_strictly() {
        let ok = |v: Value| parse_setting("k", &v);
        assert_eq!(
            ok(json!({"type": "bool", "value": true})).unwrap(),
            SettingValue::Bool(true)
        );
        assert_eq!(
            ok(json!({"type": "referenceList", "value": [{"id": "x", "kind": "data_sheet"}]}))
                .unwrap(),
            SettingValue::ReferenceList(vec![SettingReference {
                id: "x".into(),
                kind: Some("data_sheet".into()),
                label: None
            }])
        );
        for bad in [
            json!({"type": "bool", "value": "yes"}),
            json!({"type": "text", "value": 3}),
            json!({"type": "colour", "value": "x"}),
            json!({"type": "bool"}),
            json!({"type": "bool", "value": true, "extra": 1}),
            json!(true),
            json!({"type": "option", "value": " "}),
            json!({"type": "text", "value": "a\u{0}b"}),
            json!({"type": "text", "value": "x".repeat(MAX_TEXT_LEN + 1)}),
            json!({"type": "stringList", "value": vec!["a"; MAX_LIST_ITEMS + 1]}),
            json!({"type": "stringList", "value": [1]}),
            json!({"type": "referenceList", "value": [{"id": ""}]}),
            json!({"type": "referenceList", "value": [{"id": "a", "kind": "Bad Kind"}]}),
            json!({"type": "referenceList", "value": [{"id": "a", "other": 1}]}),
            json!({"type": "referenceList", "value": [{"id": "a"}, {"id": "a"}]}),
        ] {
            assert!(
                matches!(ok(bad.clone()), Err(AdminError::Invalid(_))),
                "{bad}"
            );
        }
        assert!(
            ok(json!({"type": "text", "value": "line\nnext\ttab"})).is_ok(),
            "text may hold line breaks"
        );
        for key in ["", "a b", "ä", &"k".repeat(MAX_KEY_LEN + 1)] {
            assert!(validate_key(key).is_err(), "{key:?}");
        }
        assert!(validate_key("ui.theme-v2_x").is_ok());
    }

    #[test]
    fn priorities_parse_strictly() {
        let id = Uuid::new_v4().to_string();
        let got = parse_priorities(&json!([
            {"id": id, "priority": 1, "title": " High "},
            {"priority": 5, "title": "Low", "archivedAt": 1_700_000_000}
        ]))
        .unwrap();
        assert_eq!(got[0].id, id);
        assert_eq!(got[0].title, "High");
        assert!(Uuid::parse_str(&got[1].id).is_ok());
        assert_eq!(got[1].archived_at, 1_700_000_000);
        for bad in [
            json!({"priority": 1}),
            json!([{"priority": 1}]),
            json!([{"priority": 1, "title": ""}]),
            json!([{"id": "x", "priority": 1, "title": "a"}]),
            json!([{"id": id, "priority": 1, "title": "a"}, {"id": id, "priority": 2, "title": "b"}]),
            json!([{"priority": 1, "title": "a", "archivedAt": -1}]),
            json!([{"priority": 1, "title": "a", "colour": "red"}]),
            json!([{"priority": 1.5, "title": "a"}]),
        ] {
            assert!(parse_priorities(&bad).is_err(), "{bad}");
        }
        assert!(
            parse_priorities(&json!(vec![
                json!({"priority": 1, "title": "a"});
                MAX_PRIORITIES + 1
            ]))
            .is_err()
        );
    }

    #[test]
    fn job_permissions_parse_strictly() {
        let p = parse_job_permissions(&json!({"editTitle": true, "issueCreate": true})).unwrap();
        assert_eq!(
            p,
            JobPermissions {
                edit_title: true,
                issue_create: true,
                ..JobPermissions::default()
            }
        );
        assert_eq!(
            parse_job_permissions(&serde_json::to_value(JobPermissions::all()).unwrap()).unwrap(),
            JobPermissions::all()
        );
        assert!(parse_job_permissions(&json!({"editTitel": true})).is_err());
        assert!(parse_job_permissions(&json!({"editTitle": 1})).is_err());
        assert!(parse_job_permissions(&json!([])).is_err());
        assert_eq!(
            job_permissions_from_flags("complete, markStepsNa").unwrap(),
            JobPermissions {
                complete: true,
                mark_steps_na: true,
                ..JobPermissions::default()
            }
        );
        assert!(job_permissions_from_flags("fly").is_err());
        assert_eq!(job_permission_flags().len(), 19);
    }
}
