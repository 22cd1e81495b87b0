//! The Nominal surface's generator profile: which types are lenient and which fields are secret.

use crate::Options;

/// Request types whose bodies are parsed leniently (NOMINAL.md §2, §9).
const LENIENT_ROOTS: &[&str] = &["OktaRegistrationRequest"];
/// Endpoints whose body is parsed with the lenient types.
const LENIENT_ENDPOINTS: &[&str] = &["isEmailAllowedOkta", "isEmailAllowedFreemiumOkta"];
/// Fields whose values are credentials; their `Debug` output is redacted.
const SECRET_FIELDS: &[(&str, &str)] = &[
    ("GetAccessTokenRequest", "idToken"),
    ("GetAccessTokenRequest", "accessToken"),
    ("GetAccessTokenResponse", "accessToken"),
    ("RefreshAccessTokenRequest", "accessToken"),
    ("RefreshAccessTokenResponse", "accessToken"),
    ("GetUserOrgsRequest", "idToken"),
    ("GetUserOrgsRequest", "accessToken"),
    ("GetIdpEndSessionEndpointRequest", "idToken"),
    ("CreateApiKeyResponse", "apiKeyValue"),
    ("GetAccessTokenFromApiKeyRequest", "apiKeyValue"),
    ("IssueSandboxTokenResponse", "accessToken"),
    ("GenerateMediaMtxTokenResponse", "token"),
];

/// The options the Nominal surface generates its wire types with; `source_name` is the IR path.
pub fn nominal_options(source_name: &str) -> Options {
    Options {
        source_name: source_name.to_owned(),
        lenient_roots: LENIENT_ROOTS.iter().map(|s| (*s).to_owned()).collect(),
        lenient_endpoints: LENIENT_ENDPOINTS.iter().map(|s| (*s).to_owned()).collect(),
        secret_fields: SECRET_FIELDS
            .iter()
            .map(|(t, f)| ((*t).to_owned(), (*f).to_owned()))
            .collect(),
    }
}
