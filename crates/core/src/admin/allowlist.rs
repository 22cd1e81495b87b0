//! The email allow-list, and the audit log listing.

use super::*;

impl Admin {
    // ---- allow-list -------------------------------------------------------------------------

    pub(super) fn allowlist_value(kind: AllowlistKind, value: &str) -> AdminResult<String> {
        let v = normalize_email(value);
        let ok = match kind {
            AllowlistKind::Address => is_valid_email(&v),
            AllowlistKind::Domain => {
                let d = v.strip_prefix('@').unwrap_or(&v);
                is_valid_email(&format!("x@{d}"))
            }
        };
        if !ok {
            let what = match kind {
                AllowlistKind::Address => "an email address",
                AllowlistKind::Domain => "a domain name",
            };
            return Err(AdminError::Invalid(format!("{value:?} is not {what}")));
        }
        Ok(match kind {
            AllowlistKind::Domain => v.trim_start_matches('@').to_owned(),
            AllowlistKind::Address => v,
        })
    }

    /// Adds a domain or address to the deployment's (no org) or an org's allow-list.
    pub async fn allowlist_add(
        &self,
        org: Option<&str>,
        kind: AllowlistKind,
        value: &str,
    ) -> AdminResult<AllowlistEntry> {
        let value = Self::allowlist_value(kind, value)?;
        let org_id = match org {
            Some(o) => Some(self.find_org(o).await?.id),
            None => None,
        };
        let entry = AllowlistEntry {
            org_id,
            kind,
            value: value.clone(),
            created_at: now(),
        };
        self.audited(
            AuditAction::AllowlistAdd,
            org_id.map(|o| o.to_string()),
            json!({ "kind": serde_json::to_value(kind).unwrap_or(Value::Null), "value": value }),
            self.store.add_allowlist(entry.clone()),
        )
        .await?;
        Ok(entry)
    }

    pub async fn allowlist_remove(
        &self,
        org: Option<&str>,
        kind: AllowlistKind,
        value: &str,
    ) -> AdminResult<()> {
        let value = Self::allowlist_value(kind, value)?;
        let org_id = match org {
            Some(o) => Some(self.find_org(o).await?.id),
            None => None,
        };
        let present = self
            .store
            .list_allowlist()
            .await?
            .iter()
            .any(|e| e.org_id == org_id && e.kind == kind && e.value == value);
        if !present {
            return Err(AdminError::NotFound(format!(
                "{value:?} is not on that allow-list"
            )));
        }
        self.audited(
            AuditAction::AllowlistRemove,
            org_id.map(|o| o.to_string()),
            json!({ "kind": serde_json::to_value(kind).unwrap_or(Value::Null), "value": value }),
            self.store.remove_allowlist(org_id, kind, &value),
        )
        .await?;
        Ok(())
    }

    /// Entries of the deployment (`None`) and every org, or only of one org.
    pub async fn allowlist_list(&self, org: Option<&str>) -> AdminResult<Vec<AllowlistEntry>> {
        let all = self.store.list_allowlist().await?;
        match org {
            Some(o) => {
                let id = self.find_org(o).await?.id;
                Ok(all.into_iter().filter(|e| e.org_id == Some(id)).collect())
            }
            None => Ok(all),
        }
    }

    // ---- audit ------------------------------------------------------------------------------

    pub async fn list_audit(&self, filter: &AuditFilter) -> AdminResult<Vec<AuditEvent>> {
        Ok(self.store.list_audit(filter).await?)
    }
}
