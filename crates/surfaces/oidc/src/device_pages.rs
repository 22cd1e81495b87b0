//! The device flow's pages (RFC 8628 §3.3): the code entry, the confirmation (which application,
//! which code, what it may do, Allow or Deny) and the end. Same layout, stylesheet, strict CSP
//! and CSRF cookie as the provider's other pages; every value is escaped.

use axum::response::Response;
use http::StatusCode;
use portcullis_core::branding::Brand;
use portcullis_core::oidc::DeviceConfirmation;
use portcullis_edge::html::esc;
use portcullis_edge::page_layout::{AlertKind, Field, Layout, alert, render};

use super::pages::scope_items;
use super::{DEVICE_CONFIRM_PATH, DEVICE_PATH, Oidc};

/// A problem with the code form: under the field, or for the whole form (a banner).
#[derive(Debug, Clone, Copy)]
pub(crate) enum EntryError<'a> {
    Field(&'a str),
    Form(&'a str),
}

impl Oidc {
    /// The code entry page; `typed` fills the field (a checked code from the link the device
    /// showed, or what the person typed).
    pub(crate) fn device_entry_page(
        &self,
        status: StatusCode,
        typed: &str,
        error: Option<EntryError<'_>>,
    ) -> Response {
        let brand = self.brand();
        let mut field = Field::new("user_code", "Code", "text");
        field.value = typed;
        field.hint = Some("The 8 letters your device shows, for example BCDF-GHJK.");
        field.error_id = Some("error");
        let banner = match error {
            Some(EntryError::Field(m)) => {
                field.error = Some(m);
                String::new()
            }
            Some(EntryError::Form(m)) => alert(AlertKind::Error, "error", m),
            None => String::new(),
        };
        let mut r = self.form_page(&brand, "Connect a device", None, |csrf| {
            format!(
                "{banner}<p>Enter the code shown on the device you want to sign in on.</p>\n\
                 <form method=\"post\" action=\"{DEVICE_PATH}\">\n{csrf}{field}\
                 <div class=\"actions stack\"><button id=\"continue\" type=\"submit\">Continue</button></div>\n\
                 </form>",
                field = field.html(),
            )
        });
        *r.status_mut() = status;
        r
    }

    /// The confirmation: the application, the code to compare with the device, what it may
    /// do, who is signed in, and Allow (per org when there are several) or Deny.
    pub(crate) async fn device_confirm_page(
        &self,
        ticket: &str,
        view: &DeviceConfirmation,
        error: Option<&str>,
    ) -> Response {
        let brand = self.brand_of_client(Some(&view.client_id)).await;
        let items = scope_items(&view.scopes);
        let banner = error
            .map(|m| alert(AlertKind::Error, "error", m))
            .unwrap_or_default();
        let who = view
            .signed_in_as
            .as_deref()
            .map(|e| {
                format!(
                    "<p class=\"muted\">Signed in as <span id=\"who\">{}</span>.</p>\n",
                    esc(e)
                )
            })
            .unwrap_or_default();
        let deny = "<button id=\"deny\" class=\"secondary\" name=\"decision\" value=\"deny\" \
                    type=\"submit\">Deny</button>";
        let buttons = if view.orgs.is_empty() {
            format!(
                "<div class=\"actions\"><button id=\"allow\" name=\"decision\" value=\"allow\" \
                 type=\"submit\">Allow</button>\n{deny}</div>\n"
            )
        } else {
            let orgs: String = view
                .orgs
                .iter()
                .map(|o| {
                    format!(
                        "<button class=\"secondary\" name=\"org\" value=\"{id}\" id=\"org-{name}\" \
                         type=\"submit\">Allow for {label}</button>\n",
                        id = o.id.0,
                        name = esc(&o.name),
                        label = esc(o.display_name.as_deref().unwrap_or(&o.name)),
                    )
                })
                .collect();
            format!(
                "<p>Which org should the device use?</p>\n<div class=\"org-choice\">\n{orgs}</div>\n\
                 <div class=\"actions\">{deny}</div>\n"
            )
        };
        self.form_page(&brand, "Allow this device?", None, |csrf| {
            format!(
                "{banner}<p><strong id=\"client\">{client}</strong> wants to sign in as you on a device.</p>\n\
                 <p>Continue only if you started this yourself and your device shows this code:</p>\n\
                 <p class=\"user-code\" id=\"user-code\">{code}</p>\n\
                 <p>It will be able to:</p>\n<ul class=\"scopes\">\n{items}</ul>\n{who}\
                 <form method=\"post\" action=\"{DEVICE_CONFIRM_PATH}\">\n{csrf}\
                 <input type=\"hidden\" name=\"t\" value=\"{ticket}\">\n{buttons}</form>",
                client = esc(&view.client_name),
                code = esc(&view.user_code),
                ticket = esc(ticket),
            )
        })
    }
}

/// The end: the device gets its tokens (or its refusal) at its next poll.
pub(crate) fn done(brand: &Brand, approved: bool) -> Response {
    let (title, text) = if approved {
        (
            "Device connected",
            "Your device is connected. Go back to it: it finishes signing in by itself.",
        )
    } else {
        (
            "Request denied",
            "You denied the request. The device does not get access.",
        )
    };
    render(
        StatusCode::OK,
        &Layout::card(brand, title),
        &format!(
            "<p id=\"done\" role=\"status\">{text}</p>\n\
             <p><a href=\"{DEVICE_PATH}\">Connect another device</a></p>"
        ),
    )
}

/// A request that cannot go on (expired, used, decided, refused), with the way to start over.
pub(crate) fn refused(brand: &Brand, status: StatusCode, title: &str, message: &str) -> Response {
    render(
        status,
        &Layout::card(brand, title),
        &format!(
            "{}<p><a href=\"{DEVICE_PATH}\">Enter a code</a></p>",
            alert(AlertKind::Error, "error", message)
        ),
    )
}
