//! Settings documents of users and orgs.

use super::*;

/// One value of a Parsable-style settings map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", content = "value", rename_all = "camelCase")]
pub enum SettingValue {
    Bool(bool),
    Text(String),
    Option(String),
    StringList(Vec<String>),
    ReferenceList(Vec<SettingReference>),
}

/// Parsable `setting.Reference`: one object a reference-list setting selects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingReference {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

pub type SettingsMap = BTreeMap<String, SettingValue>;

/// Parsable `job.PriorityLevel`: one entry of a team's job priority list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PriorityLevel {
    /// A UUID.
    pub id: String,
    /// Lower = more urgent.
    pub priority: i32,
    pub title: String,
    /// Epoch seconds; 0 = not archived.
    #[serde(default)]
    pub archived_at: i64,
}

/// Whose settings a document belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SettingsScope {
    Org(OrgId),
    User(UserId),
}

/// Settings documents are kept per scope and namespace: `parsable` holds a [`SettingsMap`],
/// `nominal` holds the Conjure `UserSettings`/`OrgSettings` object as given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SettingsNamespace {
    Parsable,
    Nominal,
}

impl SettingsNamespace {
    pub fn as_str(self) -> &'static str {
        match self {
            SettingsNamespace::Parsable => "parsable",
            SettingsNamespace::Nominal => "nominal",
        }
    }
}

/// Merge org settings with a user's overrides (the user's value wins).
pub fn merge_settings(org: &SettingsMap, user: &SettingsMap) -> SettingsMap {
    let mut merged = org.clone();
    for (k, v) in user {
        merged.insert(k.clone(), v.clone());
    }
    merged
}
