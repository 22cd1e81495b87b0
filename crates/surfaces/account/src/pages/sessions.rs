//! `/account`: the visitor's sessions, ending one, and signing out everywhere else.

use super::list::{self, ListPage};
use super::{AccountPages, Checked, Ctx, Fields, Visitor, when};
use axum::extract::{Form, State};
use axum::response::Response;
use http::HeaderMap;
use portcullis_core::CoreError;
use portcullis_core::engine::OwnSession;
use portcullis_core::model::SessionId;
use portcullis_edge::Origin;
use portcullis_edge::html::esc;
use portcullis_edge::page_layout::csrf_input;

pub(crate) const PATH: &str = "/account";
pub(crate) const END_PATH: &str = "/account/sessions/end";
pub(crate) const END_OTHERS_PATH: &str = "/account/sessions/end-others";
/// Longer than any id the engine makes; refused without a look-up.
const MAX_SESSION_ID: usize = 128;

/// How a session signed in, in words (RFC 8176 `amr`).
fn method(amr: &[String]) -> &'static str {
    let has = |name: &str| amr.iter().any(|m| m == name);
    let passkey = has("swk") || has("hwk");
    if has("proxy") {
        "An administrator acting as you"
    } else if has("fed") {
        "Your organisation's sign-in"
    } else if has("pwd") && passkey {
        "Password and passkey"
    } else if has("pwd") && has("mfa") {
        "Password and a second factor"
    } else if has("pwd") {
        "Password"
    } else if passkey {
        "Passkey"
    } else {
        "Sign-in"
    }
}

fn session_item(s: &OwnSession, csrf: &str) -> String {
    let what = match &s.session.grant {
        Some(g) => format!(
            "Application <span class=\"client\">{}</span>{}",
            esc(&g.client_id),
            if g.offline { " (offline access)" } else { "" }
        ),
        None => "Browser sign-in".to_owned(),
    };
    let current = if s.current {
        "<span class=\"badge\">This browser</span>"
    } else {
        ""
    };
    let details = format!(
        "{how} · signed in {created}{ip} · last used {seen} · ends {ends}",
        how = method(&s.session.amr),
        created = when(&s.session.created_at),
        ip = s
            .session
            .ip
            .as_deref()
            .map(|ip| format!(" from {}", esc(ip)))
            .unwrap_or_default(),
        seen = when(&s.last_seen),
        ends = when(
            &s.idle_expires_at
                .map_or(s.session.expires_at, |i| i.min(s.session.expires_at))
        ),
    );
    // The current sign-in ends with "Sign out", which also signs its applications out.
    let action = if s.current {
        String::new()
    } else {
        format!(
            "<form method=\"post\" action=\"{END_PATH}\">{csrf}\
             <input type=\"hidden\" name=\"session\" value=\"{id}\">\
             <button class=\"secondary\" type=\"submit\" aria-label=\"End session signed in {created}\">End</button></form>",
            csrf = csrf_input(csrf),
            id = esc(&s.session.id.0),
            created = when(&s.session.created_at),
        )
    };
    format!(
        "<li id=\"session-{id}\"><div class=\"item-main\"><strong>{what}{current}</strong>\
         <span class=\"muted\">{details}</span></div>{action}</li>\n",
        id = esc(&s.session.id.0),
    )
}

pub(crate) struct Sessions;

impl ListPage for Sessions {
    const PATH: &'static str = PATH;
    const TITLE: &'static str = "Your sessions";

    async fn sections(pages: &AccountPages, visitor: &Visitor) -> Result<String, CoreError> {
        let engine = pages.engine();
        let email = engine.my_user(&visitor.principal).await?.email;
        let list = engine.list_my_sessions(&visitor.principal).await?;
        let others = list.iter().filter(|s| !s.current).count();
        let items: String = list
            .iter()
            .map(|s| session_item(s, &visitor.csrf))
            .collect();
        let end_others = if others > 0 {
            format!(
                "<form method=\"post\" action=\"{END_OTHERS_PATH}\">{}\
                 <div class=\"actions\"><button id=\"end-others\" class=\"danger\" type=\"submit\">\
                 Sign out of all other sessions</button></div></form>",
                csrf_input(&visitor.csrf)
            )
        } else {
            "<p class=\"empty\">This browser is your only session.</p>".to_owned()
        };
        Ok(format!(
            "<section class=\"card\" aria-labelledby=\"sessions-h\">\n\
             <h2 id=\"sessions-h\">Where you are signed in</h2>\n\
             <p class=\"muted\">Signed in as <strong id=\"user\">{email}</strong>. End any session \
             you do not recognise, then change your password.</p>\n\
             <ul class=\"items\" id=\"sessions\">\n{items}</ul>\n{end_others}</section>",
            email = esc(&email),
        ))
    }
}

pub(crate) async fn end(
    State(pages): Ctx,
    origin: Origin,
    headers: HeaderMap,
    form: Fields,
) -> Response {
    let session_field = ("session", MAX_SESSION_ID);
    let (visitor, id) = match list::posted::<Sessions>(
        &pages,
        &headers,
        form,
        session_field,
        "Choose a session to end.",
    )
    .await
    {
        Ok(v) => v,
        Err(r) => return r,
    };
    let ended = pages
        .engine()
        .end_my_session(&visitor.principal, &SessionId(id), &origin.audit)
        .await;
    list::after::<Sessions>(&pages, &visitor, ended, "session-ended").await
}

pub(crate) async fn end_others(
    State(pages): Ctx,
    origin: Origin,
    headers: HeaderMap,
    form: Fields,
) -> Response {
    let csrf = form
        .ok()
        .and_then(|Form(mut f)| f.remove("csrf"))
        .unwrap_or_default();
    let visitor = match pages.form_visitor(&headers, &csrf, PATH).await {
        Checked::Visitor(v) => v,
        Checked::Answer(r) => return r,
    };
    let ended = pages
        .engine()
        .end_my_other_sessions(&visitor.principal, &origin.audit)
        .await
        .map(|_| ());
    list::after::<Sessions>(&pages, &visitor, ended, "others-ended").await
}
