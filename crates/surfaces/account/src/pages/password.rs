//! `/account/password`: changing the password (current one, new one twice), through the same
//! engine call, policy, throttle and lockout as `POST /account/v1/password`. Each error is
//! shown next to its field.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, RawQuery, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use portcullis_core::CoreError;
use portcullis_edge::Origin;
use portcullis_edge::page_layout::{AlertKind, Field, alert, csrf_input};
use serde::Deserialize;

use super::{Checked, Ctx, Visitor, done_message, refusal, retry_after, see_other, sentence};

pub(crate) const PATH: &str = "/account/password";
/// Longer inputs are refused before any work (as the sign-in page does).
const MAX_PASSWORD: usize = 4096;

/// Where the form's errors go.
#[derive(Default)]
struct Errors {
    form: Option<String>,
    current: Option<String>,
    new: Option<String>,
    confirm: Option<String>,
}

fn render(
    pages: &super::AccountPages,
    visitor: &Visitor,
    status: StatusCode,
    errors: &Errors,
    done: Option<&str>,
    end_others: bool,
) -> Response {
    let min = pages.engine().config().passwords.policy.min_chars;
    let hint = format!(
        "At least {min} characters; not a common password or your email address. A passphrase \
         of a few words is easy to remember."
    );
    let mut current = Field::new("current_password", "Current password", "password");
    current.autocomplete = "current-password";
    current.error = errors.current.as_deref();
    let mut new = Field::new("new_password", "New password", "password");
    new.autocomplete = "new-password";
    new.hint = Some(&hint);
    new.error = errors.new.as_deref();
    let mut confirm = Field::new("confirm_password", "New password again", "password");
    confirm.autocomplete = "new-password";
    confirm.error = errors.confirm.as_deref();
    let body = format!(
        "{form_error}{done}<section class=\"card\" aria-labelledby=\"password-h\">\n\
         <h2 id=\"password-h\">Change your password</h2>\n\
         <form method=\"post\" action=\"{PATH}\" novalidate>\n{csrf}{current}{new}{confirm}\
         <div class=\"check\"><input id=\"end_others\" name=\"end_others\" type=\"checkbox\" value=\"yes\"{checked}>\
         <label for=\"end_others\">Sign out of my other sessions</label></div>\n\
         <div class=\"actions\"><button id=\"change-password\" type=\"submit\">Change password</button></div>\n\
         </form></section>",
        form_error = errors
            .form
            .as_deref()
            .map(|m| alert(AlertKind::Error, "error", m))
            .unwrap_or_default(),
        done = done
            .map(|m| alert(AlertKind::Ok, "done", m))
            .unwrap_or_default(),
        csrf = csrf_input(&visitor.csrf),
        current = current.html(),
        new = new.html(),
        confirm = confirm.html(),
        checked = if end_others { " checked" } else { "" },
    );
    pages.page(status, visitor, PATH, "Password", &body)
}

pub(crate) async fn page(State(pages): Ctx, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    match pages.visitor(&headers, PATH).await {
        Ok(v) => render(
            &pages,
            &v,
            StatusCode::OK,
            &Errors::default(),
            done_message(q.as_deref()),
            true,
        ),
        Err(r) => r,
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct ChangeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    end_others: Option<String>,
}

/// The form's own checks, before the engine: each empty or mismatched field named.
fn check(f: &ChangeForm) -> Option<Errors> {
    let mut e = Errors::default();
    if f.current_password.is_empty() {
        e.current = Some("Enter your current password.".into());
    }
    if f.new_password.is_empty() {
        e.new = Some("Enter a new password.".into());
    } else if f.new_password != f.confirm_password {
        e.confirm = Some("The two new passwords are not the same.".into());
    }
    if [&f.current_password, &f.new_password, &f.confirm_password]
        .iter()
        .any(|p| p.len() > MAX_PASSWORD)
    {
        e.form = Some(format!("Passwords are at most {MAX_PASSWORD} bytes here."));
    }
    (e.current.is_some() || e.new.is_some() || e.confirm.is_some() || e.form.is_some()).then_some(e)
}

pub(crate) async fn change(
    State(pages): Ctx,
    origin: Origin,
    headers: HeaderMap,
    form: Result<Form<ChangeForm>, FormRejection>,
) -> Response {
    let f = form.map(|Form(f)| f).unwrap_or_default();
    let visitor = match pages.form_visitor(&headers, &f.csrf, PATH).await {
        Checked::Visitor(v) => v,
        Checked::Answer(r) => return r,
    };
    let end_others = f.end_others.is_some();
    if let Some(errors) = check(&f) {
        return render(
            &pages,
            &visitor,
            StatusCode::BAD_REQUEST,
            &errors,
            None,
            end_others,
        );
    }
    let engine = pages.engine();
    let result = match engine.check_ip_rate(origin.ip) {
        Ok(()) => {
            engine
                .change_password(
                    &visitor.principal,
                    &f.current_password,
                    &f.new_password,
                    end_others,
                    false,
                    &origin.audit,
                )
                .await
        }
        Err(e) => Err(e),
    };
    let e = match result {
        Ok(()) => return see_other(&format!("{PATH}?done=password-changed")),
        Err(e) => e,
    };
    let mut errors = Errors::default();
    let status = match &e {
        // The visitor is signed in; only the current password can be wrong.
        CoreError::InvalidCredentials => {
            errors.current = Some("The current password is not correct.".into());
            StatusCode::UNAUTHORIZED
        }
        CoreError::InvalidArgument(m) => {
            errors.new = Some(sentence(m));
            StatusCode::BAD_REQUEST
        }
        other => {
            let (status, m) = refusal(other);
            errors.form = Some(m);
            status
        }
    };
    let mut r = render(&pages, &visitor, status, &errors, None, end_others);
    retry_after(&mut r, &e);
    r
}
