//! Every type of the Conjure IR, generated at build time by `build.rs` from
//! `conjure/nominal-auth.conjure.json` (NOMINAL.md §2 rules):
//!
//! - objects: camelCase keys; unknown keys, duplicate keys, missing/`null`
//!   required fields and non-object JSON are rejected; optionals accept a
//!   missing key or `null` and are omitted on output when absent; collections
//!   accept a missing key or `null` as empty and are always written;
//! - aliases: newtypes encoded exactly as the underlying type;
//! - enums: upper-case strings, unknown values rejected;
//! - unions: `{"type":"x","x":…}`, unknown variants and extra keys rejected.
//!
//! `set<T>` is a `BTreeSet` (duplicates tolerated on input, never written) and
//! `map<K,V>` a `BTreeMap`.

#[allow(
    clippy::all,
    clippy::pedantic,
    missing_docs,
    rustdoc::bare_urls,
    rustdoc::broken_intra_doc_links,
    rustdoc::invalid_html_tags
)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/conjure_types.rs"));
}

pub use generated::*;
