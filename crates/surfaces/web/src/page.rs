//! Tiny server-rendered pages: escaped output, no script, no style, a strict CSP, never cached,
//! never framed, never sending a Referer. And the cookies the pages use.

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};

/// No script, style, image or frame of any origin; forms post only to Portcullis.
pub const CSP: &str =
    "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

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

/// A whole page; `body` is already-escaped HTML.
pub fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let doc = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"referrer\" content=\"same-origin\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t} · Portcullis</title></head>\n<body>\n<h1>{t}</h1>\n{body}\n</body></html>\n",
        t = esc(title),
    );
    let mut r = (status, doc).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure_headers(r.headers_mut());
    r
}

/// The password form. `error` and `email` are escaped here.
pub fn login_form(status: StatusCode, csrf: &str, email: &str, error: Option<&str>) -> Response {
    let error = error
        .map(|e| format!("<p id=\"error\" role=\"alert\">{}</p>\n", esc(e)))
        .unwrap_or_default();
    let body = format!(
        "{error}<form method=\"post\" action=\"/login\">\n\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
         <p><label>Email <input id=\"email\" name=\"email\" type=\"email\" \
         autocomplete=\"username\" required value=\"{email}\"></label></p>\n\
         <p><label>Password <input id=\"password\" name=\"password\" type=\"password\" \
         autocomplete=\"current-password\" required></label></p>\n\
         <p><button id=\"submit\" type=\"submit\">Sign in</button></p>\n</form>",
        csrf = esc(csrf),
        email = esc(email),
    );
    html(status, "Sign in", &body)
}

/// The landing page: the new session's token for the native client to take. It lives only in
/// this (uncached) page; nothing is put into cookies or script-readable storage.
pub fn landing(email: &str, token: &str, expires_at: &str) -> Response {
    let body = format!(
        "<p>Signed in as <strong id=\"user\">{email}</strong>.</p>\n\
         <p>Copy this session token into the application that sent you here. It is shown once, \
         is not stored in this browser, and expires at <time id=\"expires\">{exp}</time>.</p>\n\
         <p><textarea id=\"session-token\" readonly rows=\"6\" cols=\"80\" \
         aria-label=\"Session token\">{token}</textarea></p>\n\
         <p>You can close this window.</p>",
        email = esc(email),
        token = esc(token),
        exp = esc(expires_at),
    );
    html(StatusCode::OK, "Signed in", &body)
}

/// A failure page with a way back.
pub fn failure(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<p id=\"error\" role=\"alert\">{}</p>\n<p>Start again from your application, or \
         <a href=\"/login\">sign in with a password</a>.</p>",
        esc(message)
    );
    html(status, "Sign-in failed", &body)
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
}
