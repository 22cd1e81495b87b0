//! Which brand a page shows (docs/design/pages.md): the org of the signed-in session, or the
//! org of the application a pending sign-in is for, else the default brand. (Not in
//! `branding`: this names the engine, which the settings may not lead back to.)

use crate::branding::Brand;
use crate::engine::Engine;
use crate::model::OrgId;

impl Engine {
    /// The default brand (`[core.branding]`).
    pub fn default_brand(&self) -> Brand {
        self.config().branding.brand(None)
    }

    /// The brand of an org; the default one when the org has none or cannot be read.
    pub async fn brand_of_org(&self, org: OrgId) -> Brand {
        let branding = &self.config().branding;
        if branding.orgs.is_empty() {
            return branding.brand(None);
        }
        match self.store().get_org(org).await {
            Ok(Some(o)) => branding.brand(Some(&o.name)),
            _ => branding.brand(None),
        }
    }

    /// The brand of an OpenID client's org; the default one for a global or unknown client.
    pub async fn brand_of_client(&self, client_id: &str) -> Brand {
        if self.config().branding.orgs.is_empty() {
            return self.default_brand();
        }
        match self.store().get_oauth_client(client_id).await {
            Ok(Some(c)) => match c.org_id {
                Some(org) => self.brand_of_org(org).await,
                None => self.default_brand(),
            },
            _ => self.default_brand(),
        }
    }
}
