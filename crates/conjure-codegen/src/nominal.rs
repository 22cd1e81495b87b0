//! The Nominal surface's generator profile: which types are lenient and which fields are secret.

use std::path::Path;

use crate::{CodegenError, Options, generate, openapi};

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

/// The Nominal surface's build step: reads the IR at `ir_path`, generates with
/// [`nominal_options`], and writes `conjure_types.rs`, `conjure_lenient.rs`,
/// `conjure_endpoints.rs` and `conjure_openapi.json` (paths under `/api`) into `out_dir`.
pub fn write_nominal(ir_path: &str, out_dir: &Path) -> Result<(), CodegenError> {
    let io = |what: &str, e: std::io::Error| CodegenError::from(format!("{what}: {e}"));
    let text = std::fs::read_to_string(ir_path).map_err(|e| io(ir_path, e))?;
    let ir = serde_json::from_str(&text).map_err(|e| format!("{ir_path}: {e}"))?;
    let opts = nominal_options(ir_path);
    let g = generate(&ir, &opts)?;
    let doc = openapi(&ir, "/api", &opts)?;
    for (file, text) in [
        ("conjure_openapi.json", doc.to_string()),
        ("conjure_types.rs", g.types),
        ("conjure_lenient.rs", g.lenient),
        ("conjure_endpoints.rs", g.endpoints),
    ] {
        std::fs::write(out_dir.join(file), text).map_err(|e| io(file, e))?;
    }
    Ok(())
}
