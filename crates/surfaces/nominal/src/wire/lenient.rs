//! Lenient variants of the Okta registration hook request types (NOMINAL.md
//! §2, §9): same fields and the same type checks as the strict types in
//! [`crate::wire::types`], but unknown fields are ignored at every level.
//! Each converts into its strict counterpart with `From`.

#[allow(
    clippy::all,
    clippy::pedantic,
    missing_docs,
    rustdoc::bare_urls,
    rustdoc::broken_intra_doc_links,
    rustdoc::invalid_html_tags
)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/conjure_lenient.rs"));
}

pub use generated::*;
