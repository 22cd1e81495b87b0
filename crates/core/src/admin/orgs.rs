//! Orgs and the regions they live in.

use super::*;
use crate::use_cases;

impl Admin {
    // ---- orgs -------------------------------------------------------------------------------

    pub async fn create_org(
        &self,
        name: &str,
        display_name: Option<String>,
        region: Option<String>,
    ) -> AdminResult<Org> {
        let name = clean(name);
        check_name("org name", &name)?;
        if Uuid::parse_str(&name).is_ok() || name.contains('/') {
            return Err(AdminError::Invalid(format!(
                "org name {name:?} must not be a uuid or contain '/'"
            )));
        }
        let display_name = display_name.map(|d| clean(&d));
        if let Some(d) = &display_name {
            check_name("display name", d)?;
        }
        let region = region
            .map(|r| clean(&r))
            .unwrap_or_else(|| self.default_region.id.clone());
        if self.store.get_org_by_name(&name).await?.is_some() {
            return Err(AdminError::Conflict(format!(
                "an org named {name:?} already exists"
            )));
        }
        self.require_region(&region).await?;
        self.audited(
            AuditAction::OrgCreate,
            None,
            json!({ "name": name, "region": region }),
            self.store.create_org(NewOrg {
                name: name.clone(),
                display_name,
                region_id: region.clone(),
            }),
        )
        .await
    }

    pub async fn list_orgs(&self) -> AdminResult<Vec<Org>> {
        Ok(self.store.list_orgs().await?)
    }

    pub async fn show_org(&self, reference: &str) -> AdminResult<OrgDetail> {
        let org = self.find_org(reference).await?;
        let members = self.store.list_org_memberships(org.id, false).await?;
        let members = self.member_views(members).await?;
        let workspaces = self.store.list_org_workspaces(org.id).await?;
        Ok(OrgDetail {
            org,
            members,
            workspaces,
        })
    }

    pub async fn update_org(&self, reference: &str, patch: OrgPatchSpec) -> AdminResult<Org> {
        let org = self.find_org(reference).await?;
        let display_name = match patch.display_name {
            Some(Some(d)) => {
                let d = clean(&d);
                check_name("display name", &d)?;
                Some(Some(d))
            }
            other => other,
        };
        if let Some(r) = &patch.region {
            self.require_region(r.trim()).await?;
        }
        let default_workspace = match patch.default_workspace {
            Some(Some(w)) => {
                let ws = self.find_workspace(&w).await?;
                if ws.org_id != org.id {
                    return Err(AdminError::Invalid(format!(
                        "workspace {w:?} belongs to another org"
                    )));
                }
                Some(Some(ws.id))
            }
            Some(None) => Some(None),
            None => None,
        };
        let update = OrgUpdate {
            display_name,
            region_id: patch.region.map(|r| clean(&r)),
            default_workspace,
        };
        if update == OrgUpdate::default() {
            return Err(AdminError::Invalid("nothing to update".into()));
        }
        let detail = json!({
            "display_name": update.display_name,
            "region": update.region_id,
            "default_workspace": update.default_workspace.map(|w| w.map(|w| w.to_string())),
        });
        self.audited(
            AuditAction::OrgUpdate,
            Some(org.id.to_string()),
            detail,
            self.store.update_org(org.id, update),
        )
        .await
    }

    pub async fn set_org_disabled(&self, reference: &str, disabled: bool) -> AdminResult<Org> {
        let org = self.find_org(reference).await?;
        let detail = json!({ "name": org.name });
        Ok(use_cases::set_org_disabled(&self.use_case(), org.id, disabled, detail).await?)
    }

    // ---- regions ----------------------------------------------------------------------------

    pub async fn upsert_region(&self, region: Region) -> AdminResult<Region> {
        let region = Region {
            id: clean(&region.id),
            api_host: clean(&region.api_host),
            sig_host: clean(&region.sig_host),
            static_host: clean(&region.static_host),
        };
        if region.id.is_empty()
            || !region
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        {
            return Err(AdminError::Invalid(format!(
                "region id {:?} must be non-empty letters, digits, '-', '_' or '.'",
                region.id
            )));
        }
        for (what, host) in [
            ("api host", &region.api_host),
            ("sig host", &region.sig_host),
            ("static host", &region.static_host),
        ] {
            if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(AdminError::Invalid(format!(
                    "region {what} {host:?} must be a host name without spaces"
                )));
            }
        }
        let detail = serde_json::to_value(&region).unwrap_or(Value::Null);
        self.audited(
            AuditAction::RegionUpsert,
            Some(region.id.clone()),
            json!({ "region": detail }),
            self.store.upsert_region(region.clone()),
        )
        .await
    }

    pub async fn list_regions(&self) -> AdminResult<Vec<Region>> {
        Ok(self.store.list_regions().await?)
    }
}
