//! The one layout every server-rendered page goes through (docs/design/pages.md): the document
//! head (charset, viewport, title, the stylesheets), a header with the brand's name and logo
//! (and, on account pages, their navigation), the main card, a footer; and the pieces forms
//! are made of (a labelled field with its error next to it, alerts, the CSRF input).
//!
//! Everything here escapes what it is given except `body`/`nav`, which are already HTML.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use portcullis_core::branding::{Brand, logo_origin};

use crate::assets;
use crate::html::{allow_images_from, allow_webauthn_script, esc, secure_headers};

/// How a page is laid out.
#[derive(Debug, Clone, Copy)]
pub struct Layout<'a> {
    pub brand: &'a Brand,
    pub title: &'a str,
    /// Already-rendered navigation shown in the header (see [`nav`]); empty for none.
    pub nav: &'a str,
    /// A wide page of several cards (`<section class="card">` in the body), the title above
    /// them; otherwise one narrow card holding the title and the body.
    pub sections: bool,
    /// The script the page runs: none on almost every page.
    pub script: PageScript,
}

/// Whether a page loads the passkey script (`/assets/webauthn.js`): only pages with a passkey
/// form do, and only they get `script-src 'self'` in their CSP (docs/design/pages.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageScript {
    None,
    /// The ceremony's options are in the page (`data-options`).
    WebAuthn,
    /// The script fetches the options from this server (`connect-src 'self'` too).
    WebAuthnFetching,
}

impl<'a> Layout<'a> {
    /// A narrow one-card page (sign-in, consent, errors).
    pub fn card(brand: &'a Brand, title: &'a str) -> Layout<'a> {
        Layout {
            brand,
            title,
            nav: "",
            sections: false,
            script: PageScript::None,
        }
    }

    /// This layout, loading the passkey script.
    pub fn with_script(self, script: PageScript) -> Layout<'a> {
        Layout { script, ..self }
    }
}

/// The product's mark, drawn inline (no request, no `img-src`), hidden from assistive
/// technology because the brand name follows it as text.
const MARK: &str = "<svg viewBox=\"0 0 24 24\" aria-hidden=\"true\" focusable=\"false\">\
<path fill=\"currentColor\" d=\"M4 3h16v2h-1v14h1v2h-6v-5a2 2 0 0 0-4 0v5H4v-2h1V5H4V3zm3 \
2v2h2V5H7zm4 0v2h2V5h-2zm4 0v2h2V5h-2zM7 9v2h2V9H7zm8 0v2h2V9h-2zm-4 0v2h2V9h-2z\"/></svg>";

/// A whole page: the layout around `body` (already-escaped HTML), with the strict headers of
/// [`secure_headers`]; a logo from another origin is allowed in `img-src`, nothing else.
pub fn render(status: StatusCode, layout: &Layout<'_>, body: &str) -> Response {
    let brand = layout.brand;
    let logo = match &brand.logo_url {
        Some(url) => format!("<img src=\"{}\" alt=\"\">", esc(url)),
        None => MARK.to_owned(),
    };
    let title = esc(layout.title);
    let main = if layout.sections {
        format!("<main id=\"main\" class=\"wide\">\n<h1>{title}</h1>\n{body}\n</main>")
    } else {
        format!("<main id=\"main\"><div class=\"card\">\n<h1>{title}</h1>\n{body}\n</div></main>")
    };
    let script = match layout.script {
        PageScript::None => String::new(),
        PageScript::WebAuthn | PageScript::WebAuthnFetching => format!(
            "<script src=\"{}\" defer></script>\n",
            assets::webauthn_script_url()
        ),
    };
    let doc = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"referrer\" content=\"same-origin\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\">\
         <title>{title} · {name}</title>\n\
         <link rel=\"stylesheet\" href=\"{css}\">\n<link rel=\"stylesheet\" href=\"{brand_css}\">\n\
         {script}</head>\n<body>\n<a class=\"skip\" href=\"#main\">Skip to content</a>\n\
         <header class=\"site-header\"><div class=\"brand\">{logo}<span>{name}</span></div>{nav}</header>\n\
         {main}\n<footer class=\"site-footer\"><p>Secured by Portcullis</p></footer>\n</body></html>\n",
        name = esc(&brand.name),
        css = assets::stylesheet_url(),
        brand_css = esc(&assets::brand_stylesheet_url(brand)),
        nav = layout.nav,
    );
    let mut r = (status, doc).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure_headers(r.headers_mut());
    if let Some(origin) = brand.logo_url.as_deref().and_then(logo_origin) {
        allow_images_from(r.headers_mut(), &origin);
    }
    match layout.script {
        PageScript::None => {}
        PageScript::WebAuthn => allow_webauthn_script(r.headers_mut(), false),
        PageScript::WebAuthnFetching => allow_webauthn_script(r.headers_mut(), true),
    }
    r
}

/// The header navigation: `items` are (path, label); the one equal to `current` is marked.
pub fn nav(label: &str, items: &[(&str, &str)], current: &str) -> String {
    let links: String = items
        .iter()
        .map(|(href, text)| {
            let here = if *href == current {
                " aria-current=\"page\""
            } else {
                ""
            };
            format!("<li><a href=\"{}\"{here}>{}</a></li>", esc(href), esc(text))
        })
        .collect();
    format!(
        "<nav class=\"account-nav\" aria-label=\"{}\"><ul>{links}</ul></nav>",
        esc(label)
    )
}

/// A message about the whole form or page. `id` lets tests and scripts find it.
pub fn alert(kind: AlertKind, id: &str, message: &str) -> String {
    let (class, role) = match kind {
        AlertKind::Error => ("error", "alert"),
        AlertKind::Ok => ("ok", "status"),
    };
    format!(
        "<p class=\"alert {class}\" id=\"{}\" role=\"{role}\">{}</p>\n",
        esc(id),
        esc(message)
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    Error,
    Ok,
}

/// The hidden CSRF input of a form (the double-submit token, also set as a cookie).
pub fn csrf_input(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">\n",
        esc(token)
    )
}

/// A browser's credential JSON is about 1 KiB; anything far larger is refused unread.
const MAX_PASSKEY_CREDENTIAL: usize = 64 * 1024;
/// Ceremony handles are 32 random bytes in base64url.
const MAX_PASSKEY_CEREMONY: usize = 128;

/// A passkey form's hidden fields (docs/design/mfa.md, "Passkeys in the browser"): the ceremony
/// it answers and the browser's answer, which `/assets/webauthn.js` fills in before posting.
pub fn passkey_answer_fields(ceremony: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"ceremony\" value=\"{}\">\n\
         <input type=\"hidden\" name=\"credential\" value=\"\">\n",
        esc(ceremony)
    )
}

/// Where a passkey refusal shows, next to the button: the server's message, or an empty, hidden
/// element the script fills when the browser refuses.
pub fn passkey_error(message: Option<&str>) -> String {
    match message {
        Some(m) => format!(
            "<p id=\"passkey-error\" class=\"field-error\" role=\"alert\">{}</p>\n",
            esc(m)
        ),
        None => "<p id=\"passkey-error\" class=\"field-error\" role=\"alert\" hidden></p>\n".into(),
    }
}

/// A posted passkey answer: the credential JSON object, or `None` when either field is empty,
/// too large or not JSON (refused before any work).
pub fn passkey_answer(ceremony: &str, credential: &str) -> Option<serde_json::Value> {
    if ceremony.is_empty()
        || ceremony.len() > MAX_PASSKEY_CEREMONY
        || credential.len() > MAX_PASSKEY_CREDENTIAL
    {
        return None;
    }
    serde_json::from_str::<serde_json::Value>(credential)
        .ok()
        .filter(serde_json::Value::is_object)
}

/// A labelled input with its hint and its error next to it: the input names both in
/// `aria-describedby` and is `aria-invalid` while it has an error.
#[derive(Debug, Clone, Copy)]
pub struct Field<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub label: &'a str,
    /// The input `type`: `email`, `password`, `text`.
    pub kind: &'a str,
    pub value: &'a str,
    pub autocomplete: &'a str,
    pub required: bool,
    pub hint: Option<&'a str>,
    pub error: Option<&'a str>,
    /// The error element's id; `{id}-error` when `None`.
    pub error_id: Option<&'a str>,
}

impl<'a> Field<'a> {
    pub fn new(id: &'a str, label: &'a str, kind: &'a str) -> Field<'a> {
        Field {
            id,
            name: id,
            label,
            kind,
            value: "",
            autocomplete: "off",
            required: true,
            hint: None,
            error: None,
            error_id: None,
        }
    }

    pub fn html(&self) -> String {
        let id = esc(self.id);
        let error_id = self.error_id.map_or_else(|| format!("{id}-error"), esc);
        let hint_id = format!("{id}-hint");
        let mut described = Vec::new();
        if self.error.is_some() {
            described.push(error_id.as_str());
        }
        if self.hint.is_some() {
            described.push(hint_id.as_str());
        }
        let described = if described.is_empty() {
            String::new()
        } else {
            format!(" aria-describedby=\"{}\"", described.join(" "))
        };
        let value = if self.value.is_empty() {
            String::new()
        } else {
            format!(" value=\"{}\"", esc(self.value))
        };
        format!(
            "<div class=\"field\">\n<label for=\"{id}\">{label}</label>\n\
             <input id=\"{id}\" name=\"{name}\" type=\"{kind}\" autocomplete=\"{ac}\"{req}{invalid}{described}{value}>\n\
             {hint}{error}</div>\n",
            label = esc(self.label),
            name = esc(self.name),
            kind = esc(self.kind),
            ac = esc(self.autocomplete),
            req = if self.required { " required" } else { "" },
            invalid = if self.error.is_some() {
                " aria-invalid=\"true\""
            } else {
                ""
            },
            hint = self
                .hint
                .map(|h| format!("<p class=\"hint\" id=\"{hint_id}\">{}</p>\n", esc(h)))
                .unwrap_or_default(),
            error = self
                .error
                .map(|e| format!(
                    "<p class=\"field-error\" id=\"{error_id}\">{}</p>\n",
                    esc(e)
                ))
                .unwrap_or_default(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_core::branding::BrandingConfig;

    #[test]
    fn a_field_names_its_error_and_hint() {
        let mut f = Field::new("new_password", "New password", "password");
        f.hint = Some("At least 12 characters.");
        assert!(!f.html().contains("aria-invalid"));
        f.error = Some("Too <short>");
        let h = f.html();
        assert!(
            h.contains("<label for=\"new_password\">New password</label>"),
            "{h}"
        );
        assert!(h.contains("aria-invalid=\"true\""), "{h}");
        assert!(
            h.contains("aria-describedby=\"new_password-error new_password-hint\""),
            "{h}"
        );
        assert!(
            h.contains("id=\"new_password-error\">Too &lt;short&gt;</p>"),
            "{h}"
        );
    }

    #[test]
    fn pages_link_the_stylesheets_and_allow_only_the_logo_origin() {
        let mut brand = BrandingConfig::default().brand(None);
        let r = render(
            StatusCode::OK,
            &Layout::card(&brand, "Hi <there>"),
            "<p>x</p>",
        );
        let csp = r.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(csp.contains("style-src 'self'; img-src 'self'"), "{csp}");
        brand.logo_url = Some("https://cdn.example.com/l.svg".into());
        let r = render(StatusCode::OK, &Layout::card(&brand, "x"), "");
        let csp = r.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(
            csp.contains("img-src 'self' https://cdn.example.com"),
            "{csp}"
        );
        assert!(!csp.contains("script-src"), "{csp}");
    }

    #[tokio::test]
    async fn only_a_passkey_page_loads_the_script() {
        let brand = BrandingConfig::default().brand(None);
        let body = |r: Response| async move {
            let b = axum::body::to_bytes(r.into_body(), usize::MAX)
                .await
                .unwrap();
            String::from_utf8(b.to_vec()).unwrap()
        };
        let plain = render(StatusCode::OK, &Layout::card(&brand, "x"), "");
        assert!(!body(plain).await.contains("<script"));
        let layout = Layout::card(&brand, "x").with_script(PageScript::WebAuthn);
        let r = render(StatusCode::OK, &layout, "");
        let csp = r.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.ends_with("; script-src 'self'"), "{csp}");
        let html = body(r).await;
        assert!(
            html.contains(&format!(
                "<script src=\"{}\" defer></script>",
                assets::webauthn_script_url()
            )),
            "{html}"
        );
    }
}
