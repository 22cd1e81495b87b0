//! What the server-rendered pages show of an organisation (docs/design/pages.md): the name in
//! the header, a logo and an accent colour. `[core.branding]` is the default brand;
//! `[core.branding.orgs.<org name>]` overrides it for one org's pages.
//!
//! Values reach HTML attributes, CSS and the `Content-Security-Policy` header, so they are
//! checked strictly when the configuration loads: colours `#rrggbb`, logos an `https://` URL or
//! a same-origin path made of URL characters only, org keys `[a-z0-9][a-z0-9._-]*`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The product name pages show when no org brand applies.
pub const DEFAULT_PRODUCT_NAME: &str = "Portcullis";
/// The default accent (white text on it is 6.5:1).
pub const DEFAULT_ACCENT: &str = "#2f54c7";
const MAX_NAME_CHARS: usize = 80;
const MAX_LOGO_URL: usize = 512;
const MAX_ORG_KEY: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrandingConfig {
    /// The name in every page's header and title.
    pub product_name: String,
    /// An `https://` URL or a same-origin path (`/…`); none shows the built-in mark.
    pub logo_url: Option<String>,
    /// `#rrggbb`: buttons, the current navigation item, focus and links when readable.
    pub accent: String,
    /// Per org, keyed by the org's name.
    pub orgs: BTreeMap<String, OrgBrandConfig>,
}

impl Default for BrandingConfig {
    fn default() -> Self {
        BrandingConfig {
            product_name: DEFAULT_PRODUCT_NAME.into(),
            logo_url: None,
            accent: DEFAULT_ACCENT.into(),
            orgs: BTreeMap::new(),
        }
    }
}

/// One org's brand; what it leaves out comes from the default brand.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrgBrandConfig {
    pub display_name: Option<String>,
    pub logo_url: Option<String>,
    pub accent: Option<String>,
}

/// A brand as a page uses it: checked values only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brand {
    /// The org name it belongs to; `None` for the default brand.
    pub org: Option<String>,
    pub name: String,
    pub logo_url: Option<String>,
    pub accent: Rgb,
}

/// A colour, from `#rrggbb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    pub fn parse(s: &str) -> Option<Rgb> {
        let hex = s.strip_prefix('#')?;
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
        Some(Rgb(byte(0)?, byte(2)?, byte(4)?))
    }

    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    /// WCAG 2 relative luminance.
    pub fn luminance(self) -> f64 {
        let lin = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(self.0) + 0.7152 * lin(self.1) + 0.0722 * lin(self.2)
    }

    /// WCAG 2 contrast ratio (1 to 21).
    pub fn contrast(self, other: Rgb) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }
}

impl BrandingConfig {
    /// Refuses any value that could not be shown safely, naming the key.
    pub fn validate(&self) -> Result<(), String> {
        check_name("core.branding.product_name", &self.product_name)?;
        check_logo("core.branding.logo_url", self.logo_url.as_deref())?;
        check_accent("core.branding.accent", &self.accent)?;
        for (org, b) in &self.orgs {
            let valid_key = !org.is_empty()
                && org.len() <= MAX_ORG_KEY
                && org.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && org.chars().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
                });
            if !valid_key {
                return Err(format!(
                    "core.branding.orgs: {org:?} is not a brandable org name \
                     ([a-z0-9][a-z0-9._-]*, at most {MAX_ORG_KEY} characters)"
                ));
            }
            let key = |k: &str| format!("core.branding.orgs.{org}.{k}");
            if let Some(n) = &b.display_name {
                check_name(&key("display_name"), n)?;
            }
            check_logo(&key("logo_url"), b.logo_url.as_deref())?;
            if let Some(a) = &b.accent {
                check_accent(&key("accent"), a)?;
            }
        }
        Ok(())
    }

    /// The brand of `org` (its name), or the default brand when it has none. Values are assumed
    /// validated; an invalid accent falls back to the default one.
    pub fn brand(&self, org: Option<&str>) -> Brand {
        let default_accent = Rgb::parse(&self.accent)
            .or_else(|| Rgb::parse(DEFAULT_ACCENT))
            .unwrap_or(Rgb(0x2f, 0x54, 0xc7));
        let entry = org.and_then(|o| self.orgs.get_key_value(o));
        match entry {
            None => Brand {
                org: None,
                name: self.product_name.clone(),
                logo_url: self.logo_url.clone(),
                accent: default_accent,
            },
            Some((org, b)) => Brand {
                org: Some(org.clone()),
                name: b
                    .display_name
                    .clone()
                    .unwrap_or_else(|| self.product_name.clone()),
                logo_url: b.logo_url.clone().or_else(|| self.logo_url.clone()),
                accent: b
                    .accent
                    .as_deref()
                    .and_then(Rgb::parse)
                    .unwrap_or(default_accent),
            },
        }
    }

    /// Every brand: the default one, then one per configured org.
    pub fn all(&self) -> Vec<Brand> {
        std::iter::once(self.brand(None))
            .chain(self.orgs.keys().map(|o| self.brand(Some(o))))
            .collect()
    }
}

fn check_name(key: &str, name: &str) -> Result<(), String> {
    if name.trim().is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "{key} must be 1 to {MAX_NAME_CHARS} characters, not blank"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(format!("{key} must not contain control characters"));
    }
    Ok(())
}

fn check_accent(key: &str, accent: &str) -> Result<(), String> {
    Rgb::parse(accent)
        .map(|_| ())
        .ok_or_else(|| format!("{key} {accent:?} must be a colour written #rrggbb"))
}

/// An `https://host[:port]/…` URL or a path on this server (`/…`, not `//…`), of characters
/// that can end neither an HTML attribute nor a CSP source list.
fn check_logo(key: &str, url: Option<&str>) -> Result<(), String> {
    let Some(url) = url else { return Ok(()) };
    let url_chars = url.chars().all(|c| {
        c.is_ascii_alphanumeric()
            || matches!(
                c,
                '/' | ':' | '.' | '-' | '_' | '~' | '%' | '?' | '=' | '&' | '+' | '@' | '[' | ']'
            )
    });
    if url.is_empty() || url.len() > MAX_LOGO_URL || !url_chars {
        return Err(format!(
            "{key} {url:?} must be an https:// URL or a path on this server, \
             at most {MAX_LOGO_URL} URL characters"
        ));
    }
    if url.starts_with('/') && !url.starts_with("//") {
        return Ok(());
    }
    match url::Url::parse(url) {
        Ok(u)
            if u.scheme() == "https"
                && u.host_str().is_some()
                && u.username().is_empty()
                && u.password().is_none() =>
        {
            Ok(())
        }
        _ => Err(format!(
            "{key} {url:?} must be an https:// URL (no user information) or a path on this \
             server starting with a single /"
        )),
    }
}

/// The `scheme://host[:port]` a logo is loaded from, for the page's `img-src`; `None` for a
/// same-origin path.
pub fn logo_origin(url: &str) -> Option<String> {
    if url.starts_with('/') && !url.starts_with("//") {
        return None;
    }
    let u = url::Url::parse(url).ok()?;
    (u.scheme() == "https").then(|| u.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(f: impl FnOnce(&mut BrandingConfig)) -> Result<(), String> {
        let mut c = BrandingConfig::default();
        f(&mut c);
        c.validate()
    }

    #[test]
    fn defaults_are_valid() {
        BrandingConfig::default().validate().unwrap();
        let b = BrandingConfig::default().brand(Some("acme"));
        assert_eq!(b.name, "Portcullis");
        assert_eq!(b.org, None);
        assert_eq!(b.accent.hex(), DEFAULT_ACCENT);
    }

    #[test]
    fn bad_values_are_refused_by_key() {
        let e = with(|c| c.accent = "red".into()).unwrap_err();
        assert!(
            e.contains("core.branding.accent") && e.contains("#rrggbb"),
            "{e}"
        );
        for bad in ["#12345", "#1234567", "#gg0000", "123456"] {
            assert!(with(|c| c.accent = bad.into()).is_err(), "{bad}");
        }
        for bad in [
            "http://logo.example/x.png",
            "javascript:alert(1)",
            "//evil.example/x.png",
            "https://a.example/x.png\" onerror=",
            "https://user@a.example/x.png",
            "https://a.example/x y.png",
            "data:image/png;base64,AAAA",
        ] {
            let e = with(|c| c.logo_url = Some(bad.into())).unwrap_err();
            assert!(e.contains("core.branding.logo_url"), "{bad}: {e}");
        }
        with(|c| c.logo_url = Some("https://cdn.example.com:8443/logo.svg".into())).unwrap();
        with(|c| c.logo_url = Some("/static/logo.png".into())).unwrap();
        assert!(with(|c| c.product_name = " ".into()).is_err());
        assert!(with(|c| c.product_name = "a\nb".into()).is_err());
        let e = with(|c| {
            c.orgs.insert(
                "acme".into(),
                OrgBrandConfig {
                    accent: Some("#zzzzzz".into()),
                    ..Default::default()
                },
            );
        })
        .unwrap_err();
        assert!(e.contains("core.branding.orgs.acme.accent"), "{e}");
        let e = with(|c| {
            c.orgs.insert("Acme Corp".into(), OrgBrandConfig::default());
        })
        .unwrap_err();
        assert!(e.contains("brandable org name"), "{e}");
    }

    #[test]
    fn org_brands_inherit_the_default() {
        let mut c = BrandingConfig {
            logo_url: Some("https://cdn.example.com/p.svg".into()),
            ..Default::default()
        };
        c.orgs.insert(
            "acme".into(),
            OrgBrandConfig {
                display_name: Some("Acme".into()),
                accent: Some("#FFAA00".into()),
                ..Default::default()
            },
        );
        c.validate().unwrap();
        let b = c.brand(Some("acme"));
        assert_eq!(b.org.as_deref(), Some("acme"));
        assert_eq!(b.name, "Acme");
        assert_eq!(b.accent, Rgb(0xff, 0xaa, 0x00));
        assert_eq!(b.logo_url.as_deref(), Some("https://cdn.example.com/p.svg"));
        assert_eq!(c.all().len(), 2);
        assert_eq!(
            logo_origin("https://cdn.example.com:8443/a/b.svg").as_deref(),
            Some("https://cdn.example.com:8443")
        );
        assert_eq!(logo_origin("/logo.png"), None);
    }

    #[test]
    fn contrast_follows_wcag() {
        let white = Rgb(255, 255, 255);
        let black = Rgb(0, 0, 0);
        assert!((white.contrast(black) - 21.0).abs() < 1e-9);
        assert!(Rgb::parse(DEFAULT_ACCENT).unwrap().contrast(white) > 4.5);
    }
}
