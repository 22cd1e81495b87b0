//! Authentication context classes (OIDC Core §2 `acr`, §3.1.2.1 `acr_values`): what the sign-in
//! behind a grant proved, and whether a request's `acr_values` asks for a second factor.
//! Values and rules in docs/design/mfa.md ("Browser sign-in").

use crate::model::amr_has_second_factor;

/// One factor (a password or an upstream sign-in without `mfa`), Keycloak's level 1.
pub const ACR_SINGLE_FACTOR: &str = "1";
/// Portcullis's own name for a sign-in with a second factor (`amr` has `mfa`).
pub const ACR_MFA: &str = "urn:portcullis:acr:mfa";
/// The PAPE multi-factor policy URI, which many relying parties send for "MFA".
pub const ACR_PAPE_MFA: &str = "http://schemas.openid.net/pape/policies/2007/06/multi-factor";
/// `acr_values_supported` in discovery.
pub const ACR_VALUES_SUPPORTED: [&str; 3] = [ACR_SINGLE_FACTOR, ACR_MFA, ACR_PAPE_MFA];

fn is_mfa(value: &str) -> bool {
    value == ACR_MFA || value == ACR_PAPE_MFA
}

fn known(values: &[String]) -> impl Iterator<Item = &str> {
    values
        .iter()
        .map(String::as_str)
        .filter(|v| ACR_VALUES_SUPPORTED.contains(v))
}

/// `acr_values` is a list of acceptable classes in order of preference; unknown ones are
/// ignored. A second factor is needed when every known value asks for one.
pub fn requires_mfa(acr_values: &[String]) -> bool {
    let mut any = false;
    for v in known(acr_values) {
        if !is_mfa(v) {
            return false;
        }
        any = true;
    }
    any
}

/// The `acr` of a sign-in with this `amr`: the first requested value it satisfies, else the
/// class it proves (`urn:portcullis:acr:mfa` or `1`).
pub fn acr_for(acr_values: &[String], amr: &[String]) -> String {
    let mfa = amr_has_second_factor(amr);
    known(acr_values)
        .find(|v| mfa || !is_mfa(v))
        .unwrap_or(if mfa { ACR_MFA } else { ACR_SINGLE_FACTOR })
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn mfa_is_required_only_when_every_known_value_asks_for_it() {
        assert!(!requires_mfa(&[]));
        assert!(!requires_mfa(&v(&["urn:other"])));
        assert!(requires_mfa(&v(&[ACR_MFA])));
        assert!(requires_mfa(&v(&["urn:other", ACR_PAPE_MFA])));
        assert!(!requires_mfa(&v(&[ACR_MFA, ACR_SINGLE_FACTOR])));
    }

    #[test]
    fn acr_names_the_satisfied_value() {
        let pwd = v(&["pwd"]);
        let mfa = v(&["pwd", "otp", "mfa"]);
        assert_eq!(acr_for(&[], &pwd), ACR_SINGLE_FACTOR);
        assert_eq!(acr_for(&[], &mfa), ACR_MFA);
        assert_eq!(acr_for(&v(&[ACR_PAPE_MFA]), &mfa), ACR_PAPE_MFA);
        assert_eq!(acr_for(&v(&[ACR_PAPE_MFA, "1"]), &pwd), ACR_SINGLE_FACTOR);
        assert_eq!(acr_for(&v(&["urn:x", ACR_MFA]), &mfa), ACR_MFA);
        assert_eq!(acr_for(&v(&[ACR_MFA]), &pwd), ACR_SINGLE_FACTOR);
    }
}
