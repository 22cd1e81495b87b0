//! The pages' stylesheets and their one script, served by the binary itself (no external asset;
//! the CSP allows `style-src 'self'` only): `/assets/portcullis.css`, the one stylesheet compiled
//! in, and per brand a few custom properties (`/assets/brand.css` for the default brand,
//! `/assets/brand/{org}.css` for an org's), since the CSP forbids inline styles; and
//! `/assets/webauthn.js`, the passkey ceremonies of the few pages that offer one (their CSP adds
//! `script-src 'self'`, see `page_layout::PageScript`).
//!
//! Page links carry `?v=<hash of the content>`: a matching request is cacheable for a year
//! (`immutable`), any other is revalidated through its `ETag`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use portcullis_core::branding::{Brand, BrandingConfig, DEFAULT_ACCENT, Rgb};

pub const STYLESHEET_PATH: &str = "/assets/portcullis.css";
const DEFAULT_BRAND_PATH: &str = "/assets/brand.css";
const ORG_BRAND_PREFIX: &str = "/assets/brand/";
/// The pages' one stylesheet.
pub const STYLESHEET: &str = include_str!("../assets/portcullis.css");
pub const WEBAUTHN_SCRIPT_PATH: &str = "/assets/webauthn.js";
/// The passkey pages' script (docs/design/mfa.md, "Passkeys in the browser").
pub const WEBAUTHN_SCRIPT: &str = include_str!("../assets/webauthn.js");

/// The page backgrounds the brand's link colour must be readable on (light, dark).
const LIGHT_BACKGROUNDS: [Rgb; 2] = [Rgb(0xff, 0xff, 0xff), Rgb(0xf3, 0xf4, 0xf7)];
const DARK_BACKGROUNDS: [Rgb; 2] = [Rgb(0x1c, 0x1f, 0x27), Rgb(0x12, 0x14, 0x19)];
const WCAG_AA_TEXT: f64 = 4.5;

/// 64-bit FNV-1a: a cache-busting version, not a security measure.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

fn version(content: &str) -> String {
    format!("{:016x}", fnv1a(content.as_bytes()))
}

const STYLESHEET_VERSION: u64 = fnv1a(STYLESHEET.as_bytes());
const WEBAUTHN_SCRIPT_VERSION: u64 = fnv1a(WEBAUTHN_SCRIPT.as_bytes());

/// The stylesheet's URL, versioned.
pub fn stylesheet_url() -> String {
    format!("{STYLESHEET_PATH}?v={STYLESHEET_VERSION:016x}")
}

/// The passkey script's URL, versioned.
pub fn webauthn_script_url() -> String {
    format!("{WEBAUTHN_SCRIPT_PATH}?v={WEBAUTHN_SCRIPT_VERSION:016x}")
}

fn brand_path(brand: &Brand) -> String {
    match &brand.org {
        None => DEFAULT_BRAND_PATH.to_owned(),
        Some(org) => format!("{ORG_BRAND_PREFIX}{org}.css"),
    }
}

/// The brand stylesheet's URL, versioned.
pub fn brand_stylesheet_url(brand: &Brand) -> String {
    format!(
        "{}?v={}",
        brand_path(brand),
        version(&brand_stylesheet(brand))
    )
}

/// The text colour with the better contrast on `bg`: black or white.
fn text_on(bg: Rgb) -> Rgb {
    let (white, black) = (Rgb(0xff, 0xff, 0xff), Rgb(0, 0, 0));
    if bg.contrast(white) >= bg.contrast(black) {
        white
    } else {
        black
    }
}

/// The accent as a link colour on `backgrounds` when readable there (WCAG AA), else `fallback`.
fn link_colour(accent: Rgb, backgrounds: &[Rgb], fallback: &str) -> String {
    if backgrounds
        .iter()
        .all(|b| accent.contrast(*b) >= WCAG_AA_TEXT)
    {
        accent.hex()
    } else {
        fallback.to_owned()
    }
}

/// A brand's custom properties: the accent, the text on it (black or white, whichever reads
/// better) and the link colour (the accent when it reads well on the page, else the default).
/// The default accent adds nothing: the stylesheet has tuned light and dark values for it.
pub fn brand_stylesheet(brand: &Brand) -> String {
    let a = brand.accent;
    if a.hex() == DEFAULT_ACCENT {
        return "/* default accent */\n".to_owned();
    }
    format!(
        ":root{{--accent:{accent};--accent-fg:{fg};--link:{light};}}\n\
         @media (prefers-color-scheme: dark){{:root{{--accent:{accent};--accent-fg:{fg};--link:{dark};}}}}\n",
        accent = a.hex(),
        fg = text_on(a).hex(),
        light = link_colour(a, &LIGHT_BACKGROUNDS, DEFAULT_ACCENT),
        dark = link_colour(a, &DARK_BACKGROUNDS, "#9fb5ff"),
    )
}

const CSS: &str = "text/css; charset=utf-8";
const JAVASCRIPT: &str = "text/javascript; charset=utf-8";

struct Sheet {
    body: String,
    version: String,
    content_type: &'static str,
}

type Sheets = Arc<HashMap<String, Sheet>>;

/// `/assets/portcullis.css`, `/assets/brand.css`, one `/assets/brand/{org}.css` per branded org
/// and `/assets/webauthn.js`. The server mounts it beside the surfaces.
pub fn router(branding: &BrandingConfig) -> Router {
    Router::new()
        .route(STYLESHEET_PATH, get(main_sheet))
        .route(WEBAUTHN_SCRIPT_PATH, get(webauthn_script))
        .route(DEFAULT_BRAND_PATH, get(default_brand_sheet))
        .route("/assets/brand/{file}", get(org_brand_sheet))
        .with_state(sheets(branding))
}

/// Every asset by its path.
fn sheets(branding: &BrandingConfig) -> Sheets {
    let mut sheets = HashMap::new();
    sheets.insert(
        STYLESHEET_PATH.to_owned(),
        Sheet {
            body: STYLESHEET.to_owned(),
            version: format!("{STYLESHEET_VERSION:016x}"),
            content_type: CSS,
        },
    );
    sheets.insert(
        WEBAUTHN_SCRIPT_PATH.to_owned(),
        Sheet {
            body: WEBAUTHN_SCRIPT.to_owned(),
            version: format!("{WEBAUTHN_SCRIPT_VERSION:016x}"),
            content_type: JAVASCRIPT,
        },
    );
    for brand in branding.all() {
        let css = brand_stylesheet(&brand);
        sheets.insert(
            brand_path(&brand),
            Sheet {
                version: version(&css),
                body: css,
                content_type: CSS,
            },
        );
    }
    Arc::new(sheets)
}

async fn main_sheet(State(s): State<Sheets>, q: RawQuery, h: HeaderMap) -> Response {
    serve(&s, STYLESHEET_PATH, q, &h)
}

async fn webauthn_script(State(s): State<Sheets>, q: RawQuery, h: HeaderMap) -> Response {
    serve(&s, WEBAUTHN_SCRIPT_PATH, q, &h)
}

async fn default_brand_sheet(State(s): State<Sheets>, q: RawQuery, h: HeaderMap) -> Response {
    serve(&s, DEFAULT_BRAND_PATH, q, &h)
}

async fn org_brand_sheet(
    State(s): State<Sheets>,
    Path(file): Path<String>,
    q: RawQuery,
    h: HeaderMap,
) -> Response {
    serve(&s, &format!("{ORG_BRAND_PREFIX}{file}"), q, &h)
}

fn serve(sheets: &Sheets, path: &str, RawQuery(q): RawQuery, h: &HeaderMap) -> Response {
    let Some(sheet) = sheets.get(path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"{}\"", sheet.version);
    let versioned = q
        .as_deref()
        .and_then(|q| q.strip_prefix("v="))
        .is_some_and(|v| v == sheet.version);
    let cache = if versioned {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let fresh = h
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut r = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, sheet.body.clone()).into_response()
    };
    let hs = r.headers_mut();
    hs.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(sheet.content_type),
    );
    hs.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    hs.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        hs.insert(header::ETAG, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_core::branding::OrgBrandConfig;

    #[test]
    fn the_passkey_script_is_served_as_javascript_and_cached_when_versioned() {
        let sheets = sheets(&BrandingConfig::default());
        let url = webauthn_script_url();
        let v = url.split_once('?').map(|(_, q)| q.to_owned());
        let r = serve(
            &sheets,
            WEBAUTHN_SCRIPT_PATH,
            RawQuery(v),
            &HeaderMap::new(),
        );
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            r.headers()[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(r.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let r = serve(
            &sheets,
            WEBAUTHN_SCRIPT_PATH,
            RawQuery(None),
            &HeaderMap::new(),
        );
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-cache");
        // The file needs nothing from outside: no import, no other origin.
        assert!(!WEBAUTHN_SCRIPT.contains("import "));
        assert!(!WEBAUTHN_SCRIPT.contains("https://"));
    }

    #[test]
    fn brand_colours_stay_readable() {
        let mut c = BrandingConfig::default();
        c.orgs.insert(
            "sun".into(),
            OrgBrandConfig {
                accent: Some("#ffcc00".into()),
                ..Default::default()
            },
        );
        c.orgs.insert(
            "navy".into(),
            OrgBrandConfig {
                accent: Some("#0b2a5b".into()),
                ..Default::default()
            },
        );
        // Yellow: black text on buttons; too light for links on white, fine on dark.
        let sun = brand_stylesheet(&c.brand(Some("sun")));
        assert!(
            sun.starts_with(":root{--accent:#ffcc00;--accent-fg:#000000;--link:#2f54c7;}"),
            "{sun}"
        );
        assert!(sun.contains("--link:#ffcc00;}}"), "{sun}");
        // Navy: white text; a link on white, not on dark.
        let navy = brand_stylesheet(&c.brand(Some("navy")));
        assert!(
            navy.starts_with(":root{--accent:#0b2a5b;--accent-fg:#ffffff;--link:#0b2a5b;}"),
            "{navy}"
        );
        assert!(navy.contains("--link:#9fb5ff;}}"), "{navy}");
        assert_eq!(
            brand_stylesheet_url(&c.brand(None)).split('?').next(),
            Some("/assets/brand.css")
        );
        assert!(
            brand_stylesheet_url(&c.brand(Some("sun"))).starts_with("/assets/brand/sun.css?v=")
        );
    }
}
