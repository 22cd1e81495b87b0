//! Resource identifiers: `ri.<service>.<instance>.<type>.<locator>` (NOMINAL.md §3).

use std::fmt;

use uuid::Uuid;

use crate::model::{CredentialId, OrgId, UserId, WorkspaceId};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rid {
    pub service: String,
    pub instance: String,
    pub kind: String,
    pub locator: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed resource identifier: {0:?}")]
pub struct RidError(pub String);

fn is_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_lowercase())
        && b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

/// The instance grammar: `([a-z0-9][a-z0-9-]*)?`.
pub fn is_valid_instance(s: &str) -> bool {
    let mut b = s.bytes();
    match b.next() {
        None => true,
        Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit() => {
            b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        }
        _ => false,
    }
}

impl Rid {
    pub fn parse(s: &str) -> Result<Rid, RidError> {
        let err = || RidError(s.to_string());
        let rest = s.strip_prefix("ri.").ok_or_else(err)?;
        let mut parts = rest.splitn(4, '.');
        let service = parts.next().ok_or_else(err)?;
        let instance = parts.next().ok_or_else(err)?;
        let kind = parts.next().ok_or_else(err)?;
        let locator = parts.next().ok_or_else(err)?;
        let locator_ok = !locator.is_empty()
            && locator
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
        if !is_name(service) || !is_valid_instance(instance) || !is_name(kind) || !locator_ok {
            return Err(err());
        }
        Ok(Rid {
            service: service.into(),
            instance: instance.into(),
            kind: kind.into(),
            locator: locator.into(),
        })
    }

    fn uuid_of(&self, service: &str, kind: &str, instance: &str) -> Option<Uuid> {
        if self.service == service && self.kind == kind && self.instance == instance {
            Uuid::parse_str(&self.locator).ok()
        } else {
            None
        }
    }
}

impl fmt::Display for Rid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ri.{}.{}.{}.{}",
            self.service, self.instance, self.kind, self.locator
        )
    }
}

/// Mints and reads the RIDs of one deployment instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rids {
    instance: String,
}

impl Rids {
    /// `instance` must match the instance grammar and be non-empty.
    pub fn new(instance: &str) -> Result<Rids, RidError> {
        if instance.is_empty() || !is_valid_instance(instance) {
            return Err(RidError(instance.to_string()));
        }
        Ok(Rids {
            instance: instance.to_string(),
        })
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    pub fn user(&self, id: UserId) -> String {
        format!("ri.authn.{}.user.{}", self.instance, id)
    }
    pub fn org(&self, id: OrgId) -> String {
        format!("ri.authn.{}.organization.{}", self.instance, id)
    }
    pub fn workspace(&self, id: WorkspaceId) -> String {
        format!("ri.security.{}.workspace.{}", self.instance, id)
    }
    pub fn api_key(&self, id: CredentialId) -> String {
        format!("ri.authn.{}.api-key.{}", self.instance, id)
    }

    /// A well-formed RID of another kind or instance reads as `None` (treated as unknown).
    pub fn parse_user(&self, rid: &Rid) -> Option<UserId> {
        rid.uuid_of("authn", "user", &self.instance).map(UserId)
    }
    pub fn parse_org(&self, rid: &Rid) -> Option<OrgId> {
        rid.uuid_of("authn", "organization", &self.instance)
            .map(OrgId)
    }
    pub fn parse_workspace(&self, rid: &Rid) -> Option<WorkspaceId> {
        rid.uuid_of("security", "workspace", &self.instance)
            .map(WorkspaceId)
    }
    pub fn parse_api_key(&self, rid: &Rid) -> Option<CredentialId> {
        rid.uuid_of("authn", "api-key", &self.instance)
            .map(CredentialId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        assert!(Rid::parse("ri.authn.local.user.0b7c1a2e-1111-4222-8333-444455556666").is_ok());
        assert!(Rid::parse("ri.authn..user.abc").is_ok());
        assert!(Rid::parse("ri.Authn.local.user.abc").is_err());
        assert!(Rid::parse("ri.authn.local.user.").is_err());
        assert!(Rid::parse("ri.authn.local.user.a/b").is_err());
        assert!(Rid::parse("rx.authn.local.user.a").is_err());
        assert!(Rid::parse("ri.authn.-x.user.a").is_err());
        // The locator may contain dots.
        assert_eq!(Rid::parse("ri.a.b.c.d.e").unwrap().locator, "d.e");
    }

    #[test]
    fn kinds_do_not_mix() {
        let rids = Rids::new("local").unwrap();
        let u = UserId::new();
        let rid = Rid::parse(&rids.user(u)).unwrap();
        assert_eq!(rids.parse_user(&rid), Some(u));
        assert_eq!(rids.parse_org(&rid), None);
        let other = Rids::new("other").unwrap();
        assert_eq!(other.parse_user(&rid), None);
        assert!(Rids::new("").is_err());
        assert!(Rids::new("Bad").is_err());
    }
}
