//! Names and small helpers: IR primitives to Rust, identifiers, docs.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::Res;
use crate::ir::Ty;

pub(crate) const RUST_KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];
pub(crate) const RESERVED_TYPE_NAMES: &[&str] = &[
    "Option", "Result", "Vec", "String", "Box", "Some", "None", "Ok", "Err", "Default", "Clone",
];

pub(crate) fn prim_rust(p: &str) -> Res<&'static str> {
    Ok(match p {
        "STRING" => "String",
        "INTEGER" => "i32",
        "BOOLEAN" => "bool",
        "SAFELONG" => "crate::wire::SafeLong",
        "DATETIME" => "crate::wire::ConjureDateTime",
        "UUID" => "crate::wire::ConjureUuid",
        "RID" => "crate::wire::Rid",
        other => return Err(format!("unsupported primitive `{other}`").into()),
    })
}

pub(crate) fn conjure_name(t: &Ty) -> String {
    match t {
        Ty::Prim(p) => p.to_lowercase(),
        Ty::Ref(r) => r.clone(),
        Ty::Optional(i) => format!("optional<{}>", conjure_name(i)),
        Ty::List(i) => format!("list<{}>", conjure_name(i)),
        Ty::Set(i) => format!("set<{}>", conjure_name(i)),
        Ty::Map(k, v) => format!("map<{}, {}>", conjure_name(k), conjure_name(v)),
    }
}

pub(crate) fn opt_str(s: Option<String>) -> String {
    match s {
        Some(s) => format!("Some({s:?})"),
        None => "None".to_owned(),
    }
}

pub(crate) fn collect_refs(t: &Ty, out: &mut Vec<String>) {
    match t {
        Ty::Prim(_) => {}
        Ty::Ref(r) => out.push(r.clone()),
        Ty::Optional(i) | Ty::List(i) | Ty::Set(i) => collect_refs(i, out),
        Ty::Map(k, v) => {
            collect_refs(k, out);
            collect_refs(v, out);
        }
    }
}

pub(crate) fn mentions(t: &Ty, set: &BTreeSet<String>) -> bool {
    let mut v = Vec::new();
    collect_refs(t, &mut v);
    v.iter().any(|r| set.contains(r))
}

pub(crate) fn conv_expr(expr: &str, t: &Ty, set: &BTreeSet<String>) -> String {
    if !mentions(t, set) {
        return expr.to_owned();
    }
    match t {
        Ty::Ref(_) => format!("{expr}.into()"),
        Ty::Optional(i) => format!("{expr}.map(|x| {})", conv_expr("x", i, set)),
        Ty::List(i) | Ty::Set(i) => {
            format!(
                "{expr}.into_iter().map(|x| {}).collect()",
                conv_expr("x", i, set)
            )
        }
        Ty::Map(k, v) => format!(
            "{expr}.into_iter().map(|(k, v)| ({}, {})).collect()",
            conv_expr("k", k, set),
            conv_expr("v", v, set)
        ),
        Ty::Prim(_) => expr.to_owned(),
    }
}

pub(crate) fn snake_plain(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

pub(crate) fn snake_ident(camel: &str) -> String {
    let s = snake_plain(camel);
    if RUST_KEYWORDS.contains(&s.as_str()) {
        format!("{s}_")
    } else {
        s
    }
}

pub(crate) fn upper_camel(camel: &str) -> String {
    let mut c = camel.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

pub(crate) fn enum_variant(upper: &str) -> String {
    upper
        .split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let lower = p.to_ascii_lowercase();
            upper_camel(&lower)
        })
        .collect()
}

pub(crate) fn write_docs(s: &mut String, indent: &str, docs: Option<&str>) {
    if let Some(d) = docs {
        for line in d.trim_end().lines() {
            // IR docs are prose: never let a code fence become a doctest.
            let line = if line.trim_start().starts_with("```") {
                "```text"
            } else {
                line
            };
            let _ = writeln!(s, "{indent}#[doc = {:?}]", format!(" {line}"));
        }
        let _ = writeln!(s, "{indent}///");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert_eq!(snake_ident("apiKeyName"), "api_key_name");
        assert_eq!(snake_ident("type"), "type_");
        assert_eq!(snake_ident("self"), "self_");
        assert_eq!(upper_camel("userV2"), "UserV2");
        assert_eq!(upper_camel(""), "");
        assert_eq!(enum_variant("SUPER_ADMIN"), "SuperAdmin");
        assert_eq!(enum_variant("__A__B"), "AB");
    }

    #[test]
    fn docs_never_become_doctests() {
        let mut s = String::new();
        write_docs(&mut s, "    ", Some("Example:\n```\nlet x = 1;\n```\n"));
        assert!(s.contains("```text"));
        assert!(!s.contains("#[doc = \" ```\"]"));
        assert!(s.ends_with("    ///\n"));
    }

    #[test]
    fn map_conversions_follow_lenient_references() {
        let set: BTreeSet<String> = ["L".to_owned()].into();
        let t = Ty::Map(
            Box::new(Ty::Prim("STRING".into())),
            Box::new(Ty::Ref("L".into())),
        );
        assert_eq!(
            conv_expr("v.m", &t, &set),
            "v.m.into_iter().map(|(k, v)| (k, v.into())).collect()"
        );
        assert_eq!(conv_expr("v.s", &Ty::Prim("STRING".into()), &set), "v.s");
    }
}
