//! What every server-rendered page of the browser-facing surfaces (sign-in, the OpenID
//! provider's, account) shares: escaped output, no script, no inline style, a strict CSP, never
//! cached, never framed, never sending a Referer; and the cookies those pages use. The layout
//! itself is in [`crate::page_layout`], the stylesheets in [`crate::assets`].

use http::{HeaderMap, HeaderValue, header};

/// The browser's Portcullis sign-in (its session token), set by the sign-in page when a
/// sign-in continues an OpenID authorization, and read by the provider.
pub const SESSION_COOKIE: &str = "portcullis-session";
/// Where the sign-in page sends the browser back to continue an OpenID authorization request
/// (`?r=` the pending request, as the provider sealed it).
pub const OIDC_RESUME_PATH: &str = "/oauth2/authorize/resume";
/// The longest pending request the sign-in page carries along (the provider's seals are far
/// smaller).
pub const MAX_PENDING_REQUEST: usize = 8 * 1024;

/// No script or frame of any origin; stylesheets and images from Portcullis only (a brand's
/// logo origin is added by the layout); forms post only to Portcullis.
pub const CSP: &str = "default-src 'none'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'; style-src 'self'; img-src 'self'";

/// The CSP of `h` (set by [`secure_headers`]) with `directive`'s `'self'` source extended by
/// `source`.
fn extend_csp(h: &mut HeaderMap, directive: &str, source: &str) {
    let current = h
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .unwrap_or(CSP)
        .to_owned();
    let from = format!("{directive} 'self'");
    let csp = current.replacen(&from, &format!("{from} {source}"), 1);
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
}

/// Lets a page run the same-origin passkey script (`/assets/webauthn.js`) and nothing else:
/// `script-src 'self'` (no inline script, no other origin), plus `connect-src 'self'` when
/// `fetches` (the script asks this server for a ceremony's options, as on the sign-in page).
/// WebAuthn itself needs no CSP source; every other page keeps [`CSP`] without script.
pub fn allow_webauthn_script(h: &mut HeaderMap, fetches: bool) {
    let current = h
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .unwrap_or(CSP)
        .to_owned();
    let connect = if fetches { "; connect-src 'self'" } else { "" };
    if let Ok(v) = HeaderValue::from_str(&format!("{current}; script-src 'self'{connect}")) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
}

/// Lets a page show images from `origin` (a brand's logo host, checked at configuration load).
pub fn allow_images_from(h: &mut HeaderMap, origin: &str) {
    if let Some(source) = csp_source(origin) {
        extend_csp(h, "img-src", &source);
    }
}

/// Lets a page's forms end in a redirect to `target`'s origin besides Portcullis: Chromium
/// checks `form-action` against every redirect that follows a form submission, so a sign-in,
/// consent or sign-out form whose answer redirects to the application is blocked unless the
/// page names the application's origin. `target` must be a redirect URI the server already
/// matched against the client's registration; one that yields no CSP source changes nothing.
pub fn allow_form_redirect_to(h: &mut HeaderMap, target: &str) {
    if let Some(source) = csp_source(target) {
        extend_csp(h, "form-action", &source);
    }
}

/// The CSP source expression for a redirect target: `scheme://host[:port]` for http(s), the
/// scheme-source `scheme:` for a native app's private-use scheme. Only characters that cannot
/// end or add a directive pass.
fn csp_source(target: &str) -> Option<String> {
    let (scheme, rest) = target.split_once(':')?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return None;
    }
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Some(format!("{scheme}:"));
    }
    let authority = rest.strip_prefix("//")?;
    let authority = &authority[..authority.find(['/', '?', '#']).unwrap_or(authority.len())];
    let authority_ok = !authority.is_empty()
        && authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    authority_ok.then(|| format!("{scheme}://{authority}"))
}

/// HTML-escapes text for element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Headers every page and redirect of this surface carries.
pub fn secure_headers(h: &mut HeaderMap) {
    let set = |h: &mut HeaderMap, k: header::HeaderName, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(h, header::CONTENT_SECURITY_POLICY, CSP);
    set(h, header::CACHE_CONTROL, "no-store");
    set(h, header::PRAGMA, "no-cache");
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::REFERRER_POLICY, "same-origin");
}

/// Cookie names: `__Host-` (Secure, Path=/, no Domain) when Portcullis is served over HTTPS.
pub fn cookie_name(base: &str, secure: bool) -> String {
    if secure {
        format!("__Host-{base}")
    } else {
        base.to_owned()
    }
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure over HTTPS.
pub fn set_cookie(name: &str, value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let v = format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}");
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// The value of a request cookie. Several cookies of that name (cookie tossing): none.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut found = None;
    for v in headers.get_all(header::COOKIE) {
        let Ok(v) = v.to_str() else { continue };
        for pair in v.split(';') {
            if let Some((k, val)) = pair.trim().split_once('=')
                && k == name
            {
                if found.is_some() {
                    return None;
                }
                found = Some(val.trim().to_owned());
            }
        }
    }
    found
}

/// `scheme://authority` of a URL (the part before the first `/` after the scheme).
pub fn origin_of(url: &str) -> &str {
    match url.split_once("://") {
        Some((scheme, rest)) => &url[..scheme.len() + 3 + rest.find('/').unwrap_or(rest.len())],
        None => url,
    }
}

/// Defence in depth beside the double-submit cookie: a browser names the page that sent a form
/// in `Origin`, so a cross-site post names the attacker's site. Same-origin is our public URL or
/// the address the browser used (`Host`). Without the header (older browsers, scripts) the
/// cookie check alone decides.
pub fn same_origin(headers: &HeaderMap, public_origin: &str) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if origin.eq_ignore_ascii_case(public_origin) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    match (origin.split_once("://"), host) {
        (Some((_, authority)), Some(host)) => authority.eq_ignore_ascii_case(host),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<a href='x'>\"&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&quot;&amp;&quot;&lt;/a&gt;"
        );
    }

    #[test]
    fn cookies_are_read_once() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; b=2"));
        assert_eq!(cookie(&h, "b").as_deref(), Some("2"));
        assert_eq!(cookie(&h, "c"), None);
        h.append(header::COOKIE, HeaderValue::from_static("b=3"));
        assert_eq!(cookie(&h, "b"), None);
    }

    fn form_action(target: &str) -> String {
        let mut h = HeaderMap::new();
        secure_headers(&mut h);
        allow_form_redirect_to(&mut h, target);
        let csp = h[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.starts_with("default-src 'none'; form-action 'self'"),
            "{csp}"
        );
        assert!(
            csp.ends_with(
                "; frame-ancestors 'none'; base-uri 'none'; style-src 'self'; img-src 'self'"
            ),
            "{csp}"
        );
        csp.split("; ").nth(1).unwrap().to_owned()
    }

    #[test]
    fn a_form_may_end_at_the_applications_origin_only() {
        assert_eq!(
            form_action("http://127.0.0.1:43117/callback?x=1"),
            "form-action 'self' http://127.0.0.1:43117"
        );
        assert_eq!(
            form_action("HTTPS://app.example.com/cb"),
            "form-action 'self' https://app.example.com"
        );
        assert_eq!(
            form_action("http://[::1]:8000/cb"),
            "form-action 'self' http://[::1]:8000"
        );
        assert_eq!(
            form_action("com.example.app:/oauth"),
            "form-action 'self' com.example.app:"
        );
        // Nothing that could end the directive, add a source or carry user information.
        for bad in [
            "",
            "/relative",
            "https://a.example; script-src *",
            "https://a.example *",
            "https://user@a.example/",
            "https:///x",
            "1http://a",
            "ht tp://a",
        ] {
            assert_eq!(form_action(bad), "form-action 'self'", "{bad}");
        }
    }
}

#[cfg(test)]
mod script_tests {
    use super::*;

    #[test]
    fn the_passkey_pages_allow_only_the_same_origin_script() {
        let mut h = HeaderMap::new();
        secure_headers(&mut h);
        allow_webauthn_script(&mut h, false);
        assert_eq!(
            h[header::CONTENT_SECURITY_POLICY],
            format!("{CSP}; script-src 'self'").as_str()
        );
        let mut h = HeaderMap::new();
        secure_headers(&mut h);
        allow_images_from(&mut h, "https://cdn.example.com");
        allow_webauthn_script(&mut h, true);
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.starts_with("default-src 'none'; "), "{csp}");
        assert!(
            csp.ends_with(
                "img-src 'self' https://cdn.example.com; script-src 'self'; connect-src 'self'"
            ),
            "{csp}"
        );
    }
}

#[cfg(test)]
mod origin_tests {
    use super::*;

    fn headers(origin: Option<&str>, host: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(o) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_str(o).unwrap());
        }
        if let Some(x) = host {
            h.insert(header::HOST, HeaderValue::from_str(x).unwrap());
        }
        h
    }

    #[test]
    fn origin_of_keeps_scheme_and_authority() {
        assert_eq!(
            origin_of("https://id.example.com/base"),
            "https://id.example.com"
        );
        assert_eq!(origin_of("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    }

    #[test]
    fn cross_site_posts_are_refused() {
        let public = "https://id.example.com";
        assert!(same_origin(&headers(None, None), public));
        assert!(same_origin(
            &headers(Some("https://id.example.com"), None),
            public
        ));
        assert!(same_origin(
            &headers(Some("http://127.0.0.1:4000"), Some("127.0.0.1:4000")),
            public
        ));
        assert!(!same_origin(
            &headers(Some("https://evil.example"), Some("id.example.com")),
            public
        ));
        assert!(!same_origin(
            &headers(Some("null"), Some("id.example.com")),
            public
        ));
    }
}
