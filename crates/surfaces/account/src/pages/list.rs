//! What the pages that list things and change one of them (sessions, connected apps) share:
//! the GET, the re-render with a refusal, the one-item form and the answer after a change.

use std::future::Future;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use portcullis_core::CoreError;
use portcullis_edge::page_layout::{AlertKind, alert};

use super::{AccountPages, Ctx, Fields, Posted, Visitor, done_message, refusal, see_other};

pub(crate) trait ListPage {
    const PATH: &'static str;
    const TITLE: &'static str;
    /// The page's sections (`<section class="card">`…), or why they cannot be read.
    fn sections(
        pages: &AccountPages,
        visitor: &Visitor,
    ) -> impl Future<Output = Result<String, CoreError>> + Send;
}

/// The page, with an error (`message`) or a confirmation (`done`) above it.
pub(crate) async fn show<P: ListPage>(
    pages: &AccountPages,
    visitor: &Visitor,
    status: StatusCode,
    message: Option<&str>,
    done: Option<&str>,
) -> Response {
    let (status, body) = match P::sections(pages, visitor).await {
        Ok(sections) => {
            let msg = message
                .map(|m| alert(AlertKind::Error, "error", m))
                .unwrap_or_default();
            let done = done
                .map(|m| alert(AlertKind::Ok, "done", m))
                .unwrap_or_default();
            (status, format!("{msg}{done}{sections}"))
        }
        Err(e) => {
            let (status, m) = refusal(&e);
            (status, alert(AlertKind::Error, "error", &m))
        }
    };
    pages.page(status, visitor, P::PATH, P::TITLE, &body)
}

/// `GET`: the page, or the sign-in that comes back to it.
pub(crate) async fn get<P: ListPage>(
    State(pages): Ctx,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    match pages.visitor(&headers, P::PATH).await {
        Ok(v) => show::<P>(&pages, &v, StatusCode::OK, None, done_message(q.as_deref())).await,
        Err(r) => r,
    }
}

/// A form naming one thing in `field`: the visitor and the value, or the answer to give
/// (sign-in, expired form, the page saying `missing`).
pub(crate) async fn posted<P: ListPage>(
    pages: &AccountPages,
    headers: &HeaderMap,
    form: Fields,
    (field, max): (&str, usize),
    missing: &str,
) -> Result<(Visitor, String), Response> {
    match pages.posted_item(headers, form, field, max, P::PATH).await {
        Posted::Item(v, value) => Ok((v, value)),
        Posted::Missing(v) => {
            Err(show::<P>(pages, &v, StatusCode::BAD_REQUEST, Some(missing), None).await)
        }
        Posted::Answer(r) => Err(r),
    }
}

/// After a change: back to the page with the `done` confirmation, or the page with the refusal.
pub(crate) async fn after<P: ListPage>(
    pages: &AccountPages,
    visitor: &Visitor,
    result: Result<(), CoreError>,
    done: &str,
) -> Response {
    match result {
        Ok(()) => see_other(&format!("{}?done={done}", P::PATH)),
        Err(e) => {
            let (status, m) = refusal(&e);
            show::<P>(pages, visitor, status, Some(&m), None).await
        }
    }
}
