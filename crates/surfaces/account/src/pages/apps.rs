//! `/account/apps`: the applications the visitor let act for them (OpenID consents), and
//! taking that back (the application's sessions for the visitor end too).

use super::list::{self, ListPage};
use super::{AccountPages, Ctx, Fields, Visitor, when};
use axum::extract::State;
use axum::response::Response;
use http::HeaderMap;
use portcullis_core::CoreError;
use portcullis_core::consents::ConsentView;
use portcullis_edge::Origin;
use portcullis_edge::html::esc;
use portcullis_edge::page_layout::csrf_input;

pub(crate) const PATH: &str = "/account/apps";
pub(crate) const REVOKE_PATH: &str = "/account/apps/revoke";
/// Longer than any client id; refused without a look-up.
const MAX_CLIENT_ID: usize = 64;

/// What a scope lets an application see, in words.
fn scope_text(scope: &str) -> &'static str {
    match scope {
        "openid" => "who you are",
        "profile" => "your name and picture",
        "email" => "your email address",
        "orgs" => "your orgs and roles",
        "offline_access" => "access while you are away",
        _ => "other access",
    }
}

fn app_item(c: &ConsentView, csrf: &str) -> String {
    let scopes: Vec<&str> = c.scopes.iter().map(|s| scope_text(s)).collect();
    format!(
        "<li id=\"app-{id}\"><div class=\"item-main\"><strong>{name}</strong>\
         <span class=\"muted\">Can see {scopes} · allowed {granted}</span></div>\
         <form method=\"post\" action=\"{REVOKE_PATH}\">{csrf}\
         <input type=\"hidden\" name=\"client\" value=\"{id}\">\
         <button class=\"secondary\" type=\"submit\" aria-label=\"Remove access of {name}\">Remove access</button>\
         </form></li>\n",
        id = esc(&c.client_id),
        name = esc(&c.client_name),
        scopes = esc(&scopes.join(", ")),
        granted = when(&c.granted_at),
        csrf = csrf_input(csrf),
    )
}

pub(crate) struct Apps;

impl ListPage for Apps {
    const PATH: &'static str = PATH;
    const TITLE: &'static str = "Connected apps";

    async fn sections(pages: &AccountPages, visitor: &Visitor) -> Result<String, CoreError> {
        let list = pages.engine().list_my_consents(&visitor.principal).await?;
        let content = if list.is_empty() {
            "<p class=\"empty\" id=\"no-apps\">No application has access to your account.</p>"
                .to_owned()
        } else {
            let items: String = list.iter().map(|c| app_item(c, &visitor.csrf)).collect();
            format!("<ul class=\"items\" id=\"apps\">\n{items}</ul>")
        };
        Ok(format!(
            "<section class=\"card\" aria-labelledby=\"apps-h\">\n\
             <h2 id=\"apps-h\">Applications you allowed</h2>\n\
             <p class=\"muted\">Removing access signs the application out; it asks again next \
             time you use it.</p>\n{content}\n</section>"
        ))
    }
}

pub(crate) async fn revoke(
    State(pages): Ctx,
    origin: Origin,
    headers: HeaderMap,
    form: Fields,
) -> Response {
    let client_field = ("client", MAX_CLIENT_ID);
    let (visitor, client) = match list::posted::<Apps>(
        &pages,
        &headers,
        form,
        client_field,
        "Choose an application.",
    )
    .await
    {
        Ok(v) => v,
        Err(r) => return r,
    };
    let revoked = pages
        .engine()
        .revoke_my_consent(&visitor.principal, &client, &origin.audit)
        .await
        .map(|_| ());
    list::after::<Apps>(&pages, &visitor, revoked, "app-revoked").await
}
