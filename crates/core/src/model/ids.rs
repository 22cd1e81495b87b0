//! Ids and the timestamp type every record uses.

use super::*;

pub type Timestamp = DateTime<Utc>;

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.as_hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// A user's uuid: the Parsable `User.id` and the locator of the Nominal user RID.
    UserId
);
id_type!(
    /// An org's uuid: the Parsable `teamId` and the locator of the Nominal org RID.
    OrgId
);

impl OrgId {
    /// No org: the org of a team-less Parsable session (PARSABLE.md §8, a team-select login of
    /// a user on no team). No org row has it; sessions store it as NULL, and every lookup by
    /// it finds nothing, so such a session can act in no org.
    pub const NONE: OrgId = OrgId(Uuid::nil());

    pub fn is_none(self) -> bool {
        self == OrgId::NONE
    }
}
id_type!(
    /// A workspace's uuid: the locator of its RID.
    WorkspaceId
);
id_type!(
    /// A long-lived credential (API key or persistent token).
    CredentialId
);
id_type!(
    /// A second factor of a user (a TOTP secret, a passkey).
    FactorId
);

/// A session id: 128 random bits, base64url without padding.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(pub String);

impl SessionId {
    pub fn generate() -> Self {
        Self(crate::crypto::random_token(16))
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
