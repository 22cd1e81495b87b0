//! Generates the Nominal Conjure wire types from the IR at build time.
//!
//! Input: `conjure/nominal-auth.conjure.json` (a copy of the normative IR).
//! Output (in `$OUT_DIR`):
//! - `conjure_types.rs`: every IR type (objects, aliases, enums, unions) with
//!   hand-rolled, strict `serde` impls following NOMINAL.md §2;
//! - `conjure_lenient.rs`: lenient copies of the Okta hook request types;
//! - `conjure_endpoints.rs`: the endpoint table and a body-decoder dispatcher.
//!
//! Any IR construct this generator does not understand fails the build, so
//! the Rust types cannot silently drift from the IR.

use std::collections::{BTreeMap, BTreeSet};
use std::error::Error;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::Value;

type Res<T> = Result<T, Box<dyn Error>>;

const IR_PATH: &str = "conjure/nominal-auth.conjure.json";

/// Request types whose bodies are parsed leniently (NOMINAL.md §2, §9).
const LENIENT_ROOTS: &[&str] = &["OktaRegistrationRequest"];
/// Endpoints whose body is parsed with the lenient types.
const LENIENT_ENDPOINTS: &[&str] = &["isEmailAllowedOkta", "isEmailAllowedFreemiumOkta"];
/// Fields whose values are credentials; their `Debug` output is redacted.
const SECRET_FIELDS: &[(&str, &str)] = &[
    ("GetAccessTokenRequest", "idToken"),
    ("GetAccessTokenRequest", "accessToken"),
    ("GetAccessTokenResponse", "accessToken"),
    ("RefreshAccessTokenRequest", "accessToken"),
    ("RefreshAccessTokenResponse", "accessToken"),
    ("GetUserOrgsRequest", "idToken"),
    ("GetUserOrgsRequest", "accessToken"),
    ("GetIdpEndSessionEndpointRequest", "idToken"),
    ("CreateApiKeyResponse", "apiKeyValue"),
    ("GetAccessTokenFromApiKeyRequest", "apiKeyValue"),
    ("IssueSandboxTokenResponse", "accessToken"),
    ("GenerateMediaMtxTokenResponse", "token"),
];

const RUST_KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];
const RESERVED_TYPE_NAMES: &[&str] = &[
    "Option", "Result", "Vec", "String", "Box", "Some", "None", "Ok", "Err", "Default", "Clone",
];

fn main() {
    if let Err(e) = run() {
        eprintln!("conjure codegen failed: {e}");
        std::process::exit(1);
    }
}

fn run() -> Res<()> {
    println!("cargo::rerun-if-changed={IR_PATH}");
    println!("cargo::rerun-if-changed=build.rs");
    let text = std::fs::read_to_string(IR_PATH)?;
    let ir: Value = serde_json::from_str(&text)?;
    if ir.get("version").and_then(Value::as_i64) != Some(1) {
        return Err("unsupported Conjure IR version".into());
    }
    let model = Model::load(&ir)?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("conjure_types.rs"), model.gen_types()?)?;
    std::fs::write(out.join("conjure_lenient.rs"), model.gen_lenient()?)?;
    std::fs::write(out.join("conjure_endpoints.rs"), model.gen_endpoints(&ir)?)?;
    Ok(())
}

// ---------------------------------------------------------------- IR model

#[derive(Clone, Debug)]
enum Ty {
    Prim(String),
    Ref(String),
    Optional(Box<Ty>),
    List(Box<Ty>),
    Set(Box<Ty>),
    Map(Box<Ty>, Box<Ty>),
}

struct Field {
    wire: String,
    ty: Ty,
    docs: Option<String>,
    deprecated: Option<String>,
}

enum Def {
    Object(Vec<Field>),
    Alias(Ty),
    Enum(Vec<(String, Option<String>)>),
    Union(Vec<Field>),
}

struct TypeDef {
    name: String,
    package: String,
    docs: Option<String>,
    def: Def,
}

struct Model {
    types: BTreeMap<String, TypeDef>,
}

fn str_of<'a>(v: &'a Value, key: &str) -> Res<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("missing string `{key}` in {v}").into())
}

fn docs_of(v: &Value) -> Option<String> {
    v.get("docs").and_then(Value::as_str).map(str::to_owned)
}

fn parse_ty(v: &Value) -> Res<Ty> {
    let kind = str_of(v, "type")?;
    let inner = |k: &str| -> Res<&Value> {
        v.get(kind)
            .and_then(|x| x.get(k))
            .ok_or_else(|| format!("malformed `{kind}` type: {v}").into())
    };
    Ok(match kind {
        "primitive" => Ty::Prim(str_of(v, "primitive")?.to_owned()),
        "reference" => {
            Ty::Ref(str_of(v.get("reference").ok_or("bad reference")?, "name")?.to_owned())
        }
        "optional" => Ty::Optional(Box::new(parse_ty(inner("itemType")?)?)),
        "list" => Ty::List(Box::new(parse_ty(inner("itemType")?)?)),
        "set" => Ty::Set(Box::new(parse_ty(inner("itemType")?)?)),
        "map" => Ty::Map(
            Box::new(parse_ty(inner("keyType")?)?),
            Box::new(parse_ty(inner("valueType")?)?),
        ),
        other => return Err(format!("unsupported IR type kind `{other}`").into()),
    })
}

fn parse_fields(arr: Option<&Value>) -> Res<Vec<Field>> {
    let arr = arr
        .and_then(Value::as_array)
        .ok_or("expected field array")?;
    arr.iter()
        .map(|f| {
            Ok(Field {
                wire: str_of(f, "fieldName")?.to_owned(),
                ty: parse_ty(f.get("type").ok_or("field without type")?)?,
                docs: docs_of(f),
                deprecated: f
                    .get("deprecated")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            })
        })
        .collect()
}

impl Model {
    fn load(ir: &Value) -> Res<Model> {
        let mut types = BTreeMap::new();
        for t in ir
            .get("types")
            .and_then(Value::as_array)
            .ok_or("IR without types")?
        {
            let kind = str_of(t, "type")?;
            let body = t.get(kind).ok_or("malformed type definition")?;
            let tn = body.get("typeName").ok_or("type without typeName")?;
            let name = str_of(tn, "name")?.to_owned();
            let package = str_of(tn, "package")?.to_owned();
            if RESERVED_TYPE_NAMES.contains(&name.as_str()) {
                return Err(format!("IR type name `{name}` clashes with the Rust prelude").into());
            }
            let def = match kind {
                "object" => Def::Object(parse_fields(body.get("fields"))?),
                "union" => Def::Union(parse_fields(body.get("union"))?),
                "alias" => Def::Alias(parse_ty(body.get("alias").ok_or("alias without type")?)?),
                "enum" => Def::Enum(
                    body.get("values")
                        .and_then(Value::as_array)
                        .ok_or("enum without values")?
                        .iter()
                        .map(|v| Ok((str_of(v, "value")?.to_owned(), docs_of(v))))
                        .collect::<Res<Vec<_>>>()?,
                ),
                other => return Err(format!("unsupported type definition `{other}`").into()),
            };
            let td = TypeDef {
                name: name.clone(),
                package,
                docs: docs_of(body),
                def,
            };
            if types.insert(name.clone(), td).is_some() {
                return Err(format!("duplicate type name `{name}` across packages").into());
            }
        }
        let model = Model { types };
        // Every reference must resolve and every primitive must be supported.
        for td in model.types.values() {
            let tys: Vec<&Ty> = match &td.def {
                Def::Object(f) | Def::Union(f) => f.iter().map(|f| &f.ty).collect(),
                Def::Alias(t) => vec![t],
                Def::Enum(_) => vec![],
            };
            for t in tys {
                model.check_ty(t)?;
            }
        }
        Ok(model)
    }

    fn check_ty(&self, t: &Ty) -> Res<()> {
        match t {
            Ty::Prim(p) => prim_rust(p).map(|_| ()),
            Ty::Ref(r) => {
                if self.types.contains_key(r) {
                    Ok(())
                } else {
                    Err(format!("unresolved reference `{r}`").into())
                }
            }
            Ty::Optional(i) | Ty::List(i) | Ty::Set(i) => self.check_ty(i),
            Ty::Map(k, v) => {
                match &**k {
                    Ty::Prim(p) if matches!(p.as_str(), "STRING" | "UUID" | "RID") => {}
                    Ty::Ref(r)
                        if matches!(
                            self.types.get(r).map(|t| &t.def),
                            Some(Def::Alias(Ty::Prim(_))) | Some(Def::Enum(_))
                        ) => {}
                    other => return Err(format!("unsupported map key type {other:?}").into()),
                }
                self.check_ty(k)?;
                self.check_ty(v)
            }
        }
    }

    /// The reference closure of the lenient roots (objects only).
    fn lenient_set(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut stack: Vec<String> = LENIENT_ROOTS.iter().map(|s| (*s).to_owned()).collect();
        while let Some(n) = stack.pop() {
            let Some(td) = self.types.get(&n) else {
                continue;
            };
            if let Def::Object(fields) = &td.def
                && out.insert(n.clone())
            {
                for f in fields {
                    collect_refs(&f.ty, &mut stack);
                }
            }
        }
        out
    }

    // ------------------------------------------------------------ types

    fn gen_types(&self) -> Res<String> {
        let mut s = String::new();
        s.push_str(
            "// @generated by build.rs from conjure/nominal-auth.conjure.json. Do not edit.\n\n",
        );
        let empty = BTreeSet::new();
        for td in self.types.values() {
            match &td.def {
                Def::Object(fields) => self.gen_object(&mut s, td, fields, false, &empty)?,
                Def::Alias(t) => self.gen_alias(&mut s, td, t)?,
                Def::Enum(values) => gen_enum(&mut s, td, values)?,
                Def::Union(fields) => self.gen_union(&mut s, td, fields)?,
            }
        }
        // Registry used by the IR agreement test.
        s.push_str("/// Every IR type name that has a generated Rust type.\n#[doc(hidden)]\npub const __TYPE_NAMES: &[&str] = &[\n");
        for n in self.types.keys() {
            writeln!(s, "    {n:?},")?;
        }
        s.push_str("];\n\n");
        s.push_str("/// Decodes `value` strictly as IR type `type_name` and re-encodes it.\n/// `None` when the name is not a generated type.\n#[doc(hidden)]\npub fn __roundtrip(type_name: &str, value: ::serde_json::Value) -> Option<Result<::serde_json::Value, String>> {\n    fn rt<T: ::serde::de::DeserializeOwned + ::serde::Serialize>(v: ::serde_json::Value) -> Result<::serde_json::Value, String> {\n        let t: T = ::serde_json::from_value(v).map_err(|e| e.to_string())?;\n        ::serde_json::to_value(&t).map_err(|e| e.to_string())\n    }\n    Some(match type_name {\n");
        for n in self.types.keys() {
            writeln!(s, "        {n:?} => rt::<{n}>(value),")?;
        }
        s.push_str("        _ => return None,\n    })\n}\n");
        Ok(s)
    }

    fn gen_lenient(&self) -> Res<String> {
        let set = self.lenient_set();
        let mut s = String::new();
        s.push_str(
            "// @generated by build.rs from conjure/nominal-auth.conjure.json. Do not edit.\n\n",
        );
        for n in &set {
            let td = self.types.get(n).ok_or("lenient type vanished")?;
            if let Def::Object(fields) = &td.def {
                self.gen_object(&mut s, td, fields, true, &set)?;
                // Conversion into the strict type.
                writeln!(s, "impl From<{n}> for crate::wire::types::{n} {{")?;
                writeln!(s, "    fn from(v: {n}) -> Self {{")?;
                writeln!(s, "        Self {{")?;
                for f in fields {
                    let id = snake_ident(&f.wire);
                    writeln!(
                        s,
                        "            {id}: {},",
                        conv_expr(&format!("v.{id}"), &f.ty, &set)
                    )?;
                }
                s.push_str("        }\n    }\n}\n\n");
            }
        }
        s.push_str("/// Names of the IR types that have a lenient variant.\n#[doc(hidden)]\npub const __LENIENT_TYPE_NAMES: &[&str] = &[\n");
        for n in &set {
            writeln!(s, "    {n:?},")?;
        }
        s.push_str("];\n");
        Ok(s)
    }

    fn rust_ty(&self, t: &Ty, lenient: &BTreeSet<String>) -> Res<String> {
        Ok(match t {
            Ty::Prim(p) => prim_rust(p)?.to_owned(),
            Ty::Ref(r) => {
                if lenient.contains(r) {
                    format!("crate::wire::lenient::{r}")
                } else {
                    format!("crate::wire::types::{r}")
                }
            }
            Ty::Optional(i) => format!("Option<{}>", self.rust_ty(i, lenient)?),
            Ty::List(i) => format!("Vec<{}>", self.rust_ty(i, lenient)?),
            Ty::Set(i) => format!(
                "::std::collections::BTreeSet<{}>",
                self.rust_ty(i, lenient)?
            ),
            Ty::Map(k, v) => format!(
                "::std::collections::BTreeMap<{}, {}>",
                self.rust_ty(k, lenient)?,
                self.rust_ty(v, lenient)?
            ),
        })
    }

    fn gen_object(
        &self,
        s: &mut String,
        td: &TypeDef,
        fields: &[Field],
        lenient: bool,
        lenient_set: &BTreeSet<String>,
    ) -> Res<()> {
        let name = &td.name;
        write_docs(s, "", td.docs.as_deref());
        writeln!(s, "/// Conjure object `{}.{}`.", td.package, name)?;
        if lenient {
            s.push_str("/// Lenient variant: unknown fields are ignored at this level.\n");
        }
        let all_defaultable = fields.iter().all(|f| {
            matches!(
                f.ty,
                Ty::Optional(_) | Ty::List(_) | Ty::Set(_) | Ty::Map(..)
            )
        });
        let secret: Vec<&str> = SECRET_FIELDS
            .iter()
            .filter(|(t, _)| t == name)
            .map(|(_, f)| *f)
            .collect();
        let mut derives = vec!["Clone", "PartialEq", "Eq", "PartialOrd", "Ord", "Hash"];
        if secret.is_empty() {
            derives.push("Debug");
        }
        if all_defaultable {
            derives.push("Default");
        }
        if !lenient {
            derives.push("::serde::Serialize");
        }
        writeln!(s, "#[derive({})]", derives.join(", "))?;
        writeln!(s, "pub struct {name} {{")?;
        for f in fields {
            write_docs(s, "    ", f.docs.as_deref());
            if let Some(d) = &f.deprecated {
                write_docs(s, "    ", Some(&format!("Deprecated: {d}")));
            }
            writeln!(s, "    /// Wire name `{}`.", f.wire)?;
            if !lenient {
                if matches!(f.ty, Ty::Optional(_)) {
                    writeln!(
                        s,
                        "    #[serde(rename = {:?}, skip_serializing_if = \"Option::is_none\")]",
                        f.wire
                    )?;
                } else {
                    writeln!(s, "    #[serde(rename = {:?})]", f.wire)?;
                }
            }
            writeln!(
                s,
                "    pub {}: {},",
                snake_ident(&f.wire),
                self.rust_ty(&f.ty, lenient_set)?
            )?;
        }
        s.push_str("}\n\n");

        if !secret.is_empty() {
            writeln!(s, "impl ::std::fmt::Debug for {name} {{")?;
            s.push_str(
                "    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {\n",
            );
            writeln!(s, "        f.debug_struct({name:?})")?;
            for fl in fields {
                let id = snake_ident(&fl.wire);
                if secret.contains(&fl.wire.as_str()) {
                    writeln!(s, "            .field({id:?}, &\"<redacted>\")")?;
                } else {
                    writeln!(s, "            .field({id:?}, &self.{id})")?;
                }
            }
            s.push_str("            .finish()\n    }\n}\n\n");
        }

        // Deserialize.
        writeln!(s, "impl<'de> ::serde::Deserialize<'de> for {name} {{")?;
        s.push_str(
            "    fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {\n",
        );
        s.push_str("        const FIELDS: &[&str] = &[");
        for f in fields {
            write!(s, "{:?}, ", f.wire)?;
        }
        s.push_str("];\n");
        s.push_str("        struct V;\n");
        s.push_str("        impl<'de> ::serde::de::Visitor<'de> for V {\n");
        writeln!(s, "            type Value = {name};")?;
        s.push_str("            fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {\n");
        writeln!(
            s,
            "                f.write_str(\"a JSON object of Conjure type {name}\")"
        )?;
        s.push_str("            }\n");
        writeln!(
            s,
            "            fn visit_map<A: ::serde::de::MapAccess<'de>>(self, mut map: A) -> Result<{name}, A::Error> {{"
        )?;
        for f in fields {
            let rt = self.rust_ty(&f.ty, lenient_set)?;
            let slot = match f.ty {
                Ty::Optional(_) => rt,
                Ty::List(_) | Ty::Set(_) | Ty::Map(..) => format!("Option<{rt}>"),
                _ => rt,
            };
            writeln!(
                s,
                "                let mut f_{}: Option<{slot}> = None;",
                snake_plain(&f.wire)
            )?;
        }
        if fields.is_empty() && !lenient {
            s.push_str("                if let Some(key) = map.next_key::<String>()? {\n");
            s.push_str("                    return Err(<A::Error as ::serde::de::Error>::unknown_field(&key, FIELDS));\n");
            s.push_str("                }\n");
        } else {
            s.push_str("                while let Some(key) = map.next_key::<String>()? {\n");
            s.push_str("                    match key.as_str() {\n");
            for f in fields {
                let v = format!("f_{}", snake_plain(&f.wire));
                writeln!(s, "                        {:?} => {{", f.wire)?;
                writeln!(
                    s,
                    "                            if {v}.is_some() {{ return Err(<A::Error as ::serde::de::Error>::duplicate_field({:?})); }}",
                    f.wire
                )?;
                writeln!(
                    s,
                    "                            {v} = Some(map.next_value()?);"
                )?;
                s.push_str("                        }\n");
            }
            if lenient {
                s.push_str("                        _ => { map.next_value::<::serde::de::IgnoredAny>()?; }\n");
            } else {
                s.push_str("                        other => return Err(<A::Error as ::serde::de::Error>::unknown_field(other, FIELDS)),\n");
            }
            s.push_str("                    }\n                }\n");
        }
        writeln!(s, "                Ok({name} {{")?;
        for f in fields {
            let v = format!("f_{}", snake_plain(&f.wire));
            let id = snake_ident(&f.wire);
            match f.ty {
                Ty::Optional(_) => writeln!(s, "                    {id}: {v}.flatten(),")?,
                Ty::List(_) | Ty::Set(_) | Ty::Map(..) => writeln!(
                    s,
                    "                    {id}: {v}.flatten().unwrap_or_default(),"
                )?,
                _ => writeln!(
                    s,
                    "                    {id}: {v}.ok_or_else(|| <A::Error as ::serde::de::Error>::missing_field({:?}))?,",
                    f.wire
                )?,
            }
        }
        s.push_str("                })\n            }\n        }\n");
        s.push_str("        let _ = FIELDS;\n");
        s.push_str("        d.deserialize_map(V)\n    }\n}\n\n");
        Ok(())
    }

    fn gen_alias(&self, s: &mut String, td: &TypeDef, t: &Ty) -> Res<()> {
        let name = &td.name;
        let Ty::Prim(p) = t else {
            return Err(format!("alias `{name}` of a non-primitive is not supported").into());
        };
        let inner = prim_rust(p)?;
        write_docs(s, "", td.docs.as_deref());
        writeln!(
            s,
            "/// Conjure alias `{}.{}` of `{}`; encoded exactly as the underlying type.",
            td.package,
            name,
            p.to_lowercase()
        )?;
        let mut derives = "Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, ::serde::Serialize, ::serde::Deserialize".to_owned();
        if p == "STRING" {
            derives.push_str(", Default");
        }
        writeln!(
            s,
            "#[derive({derives})]\n#[serde(transparent)]\npub struct {name}(pub {inner});\n"
        )?;
        writeln!(
            s,
            "impl From<{inner}> for {name} {{ fn from(v: {inner}) -> Self {{ Self(v) }} }}"
        )?;
        writeln!(
            s,
            "impl From<{name}> for {inner} {{ fn from(v: {name}) -> Self {{ v.0 }} }}"
        )?;
        writeln!(
            s,
            "impl ::std::ops::Deref for {name} {{ type Target = {inner}; fn deref(&self) -> &{inner} {{ &self.0 }} }}"
        )?;
        writeln!(
            s,
            "impl ::std::fmt::Display for {name} {{ fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {{ ::std::fmt::Display::fmt(&self.0, f) }} }}"
        )?;
        if p == "RID" {
            writeln!(
                s,
                "impl ::std::str::FromStr for {name} {{ type Err = crate::wire::RidError; fn from_str(s: &str) -> Result<Self, Self::Err> {{ s.parse().map(Self) }} }}"
            )?;
        }
        s.push('\n');
        Ok(())
    }

    fn gen_union(&self, s: &mut String, td: &TypeDef, fields: &[Field]) -> Res<()> {
        let name = &td.name;
        let empty = BTreeSet::new();
        write_docs(s, "", td.docs.as_deref());
        writeln!(
            s,
            "/// Conjure union `{}.{}`; wire form `{{\"type\":\"<variant>\",\"<variant>\":<value>}}`.",
            td.package, name
        )?;
        s.push_str("#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]\n");
        writeln!(s, "pub enum {name} {{")?;
        for f in fields {
            write_docs(s, "    ", f.docs.as_deref());
            writeln!(s, "    /// Variant `{}`.", f.wire)?;
            writeln!(
                s,
                "    {}({}),",
                upper_camel(&f.wire),
                self.rust_ty(&f.ty, &empty)?
            )?;
        }
        s.push_str("}\n\n");
        writeln!(s, "impl {name} {{")?;
        s.push_str("    /// The wire names of the variants.\n    pub const VARIANTS: &'static [&'static str] = &[");
        for f in fields {
            write!(s, "{:?}, ", f.wire)?;
        }
        s.push_str("];\n    /// The wire name of this value's variant.\n    pub fn variant_name(&self) -> &'static str {\n        match self {\n");
        for f in fields {
            writeln!(
                s,
                "            Self::{}(_) => {:?},",
                upper_camel(&f.wire),
                f.wire
            )?;
        }
        s.push_str("        }\n    }\n}\n\n");

        writeln!(s, "impl ::serde::Serialize for {name} {{")?;
        s.push_str(
            "    fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {\n",
        );
        s.push_str("        use ::serde::ser::SerializeMap as _;\n        let mut m = s.serialize_map(Some(2))?;\n        match self {\n");
        for f in fields {
            writeln!(
                s,
                "            Self::{}(v) => {{ m.serialize_entry(\"type\", {:?})?; m.serialize_entry({:?}, v)?; }}",
                upper_camel(&f.wire),
                f.wire,
                f.wire
            )?;
        }
        s.push_str("        }\n        m.end()\n    }\n}\n\n");

        writeln!(s, "impl<'de> ::serde::Deserialize<'de> for {name} {{")?;
        s.push_str(
            "    fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {\n",
        );
        s.push_str("        const KEYS: &[&str] = &[\"type\", ");
        for f in fields {
            write!(s, "{:?}, ", f.wire)?;
        }
        s.push_str("];\n        struct V;\n        impl<'de> ::serde::de::Visitor<'de> for V {\n");
        writeln!(s, "            type Value = {name};")?;
        s.push_str("            fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {\n");
        writeln!(
            s,
            "                f.write_str(\"a JSON object of Conjure union {name}\")"
        )?;
        s.push_str("            }\n");
        writeln!(
            s,
            "            fn visit_map<A: ::serde::de::MapAccess<'de>>(self, mut map: A) -> Result<{name}, A::Error> {{"
        )?;
        s.push_str("                use ::serde::de::Error as _;\n");
        s.push_str("                let mut ty: Option<String> = None;\n");
        writeln!(
            s,
            "                let mut value: Option<(&'static str, {name})> = None;"
        )?;
        s.push_str("                while let Some(key) = map.next_key::<String>()? {\n                    match key.as_str() {\n");
        s.push_str("                        \"type\" => {\n                            if ty.is_some() { return Err(A::Error::duplicate_field(\"type\")); }\n                            ty = Some(map.next_value()?);\n                        }\n");
        for f in fields {
            writeln!(s, "                        {:?} => {{", f.wire)?;
            s.push_str("                            if value.is_some() { return Err(A::Error::custom(\"more than one union variant value\")); }\n");
            let rt = self.rust_ty(&f.ty, &empty)?;
            let expr = match f.ty {
                Ty::List(_) | Ty::Set(_) | Ty::Map(..) => {
                    format!("map.next_value::<Option<{rt}>>()?.unwrap_or_default()")
                }
                _ => format!("map.next_value::<{rt}>()?"),
            };
            writeln!(
                s,
                "                            value = Some(({:?}, {name}::{}({expr})));",
                f.wire,
                upper_camel(&f.wire)
            )?;
            s.push_str("                        }\n");
        }
        s.push_str("                        other => return Err(A::Error::unknown_field(other, KEYS)),\n                    }\n                }\n");
        s.push_str(
            "                let ty = ty.ok_or_else(|| A::Error::missing_field(\"type\"))?;\n",
        );
        writeln!(
            s,
            "                if !{name}::VARIANTS.contains(&ty.as_str()) {{ return Err(A::Error::unknown_variant(&ty, {name}::VARIANTS)); }}"
        )?;
        s.push_str("                let (key, v) = value.ok_or_else(|| A::Error::custom(format_args!(\"missing value for union variant `{ty}`\")))?;\n");
        s.push_str("                if key != ty { return Err(A::Error::custom(format_args!(\"union type `{ty}` does not match value key `{key}`\"))); }\n");
        s.push_str("                Ok(v)\n            }\n        }\n        d.deserialize_map(V)\n    }\n}\n\n");
        Ok(())
    }

    // ------------------------------------------------------------ endpoints

    fn gen_endpoints(&self, ir: &Value) -> Res<String> {
        let empty = BTreeSet::new();
        let mut s = String::new();
        s.push_str(
            "// @generated by build.rs from conjure/nominal-auth.conjure.json. Do not edit.\n\n",
        );
        s.push_str("/// Every endpoint of the IR (paths are IR paths; serve them under `/api`).\npub const ENDPOINTS: &[EndpointSpec] = &[\n");
        let mut decoders = String::new();
        let mut names = BTreeSet::new();
        for svc in ir
            .get("services")
            .and_then(Value::as_array)
            .ok_or("IR without services")?
        {
            let svc_name = str_of(
                svc.get("serviceName").ok_or("service without name")?,
                "name",
            )?;
            for e in svc
                .get("endpoints")
                .and_then(Value::as_array)
                .ok_or("service without endpoints")?
            {
                let ep = str_of(e, "endpointName")?;
                if !names.insert(ep.to_owned()) {
                    return Err(format!("duplicate endpoint name `{ep}`").into());
                }
                let method = str_of(e, "httpMethod")?;
                let path = str_of(e, "httpPath")?;
                let auth = match e
                    .get("auth")
                    .and_then(|a| a.get("type"))
                    .and_then(Value::as_str)
                {
                    None => "EndpointAuth::None",
                    Some("header") => "EndpointAuth::Bearer",
                    Some(other) => return Err(format!("unsupported auth `{other}`").into()),
                };
                let mut body: Option<Ty> = None;
                for a in e
                    .get("args")
                    .and_then(Value::as_array)
                    .ok_or("endpoint without args")?
                {
                    let pt = a.get("paramType").ok_or("arg without paramType")?;
                    if str_of(pt, "type")? == "body" {
                        body = Some(parse_ty(a.get("type").ok_or("arg without type")?)?);
                    }
                }
                let returns = match e.get("returns") {
                    Some(r) if !r.is_null() => Some(parse_ty(r)?),
                    _ => None,
                };
                let lenient = LENIENT_ENDPOINTS.contains(&ep);
                writeln!(
                    s,
                    "    EndpointSpec {{ service: {svc_name:?}, name: {ep:?}, method: {method:?}, path: {path:?}, auth: {auth}, body: {}, returns: {}, lenient_body: {lenient} }},",
                    opt_str(body.as_ref().map(conjure_name)),
                    opt_str(returns.as_ref().map(conjure_name)),
                )?;
                if let Some(b) = &body {
                    let rt = if lenient {
                        self.rust_ty(b, &self.lenient_set())?
                    } else {
                        self.rust_ty(b, &empty)?
                    };
                    writeln!(
                        decoders,
                        "        {ep:?} => crate::wire::extract::decode_strict::<{rt}>(bytes).map(|_| ()),"
                    )?;
                }
            }
        }
        s.push_str("];\n\n");
        s.push_str("/// Decodes `bytes` as the body type of endpoint `endpoint` (lenient for the Okta hooks),\n/// discarding the value. `None` when the endpoint has no body.\n#[doc(hidden)]\npub fn __decode_request_body(endpoint: &str, bytes: &[u8]) -> Option<Result<(), crate::wire::ConjureError>> {\n    Some(match endpoint {\n");
        s.push_str(&decoders);
        s.push_str("        _ => return None,\n    })\n}\n");
        Ok(s)
    }
}

fn gen_enum(s: &mut String, td: &TypeDef, values: &[(String, Option<String>)]) -> Res<()> {
    let name = &td.name;
    write_docs(s, "", td.docs.as_deref());
    writeln!(
        s,
        "/// Conjure enum `{}.{}`; upper-case strings on the wire, unknown values rejected.",
        td.package, name
    )?;
    s.push_str("#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]\n");
    writeln!(s, "pub enum {name} {{")?;
    for (v, d) in values {
        if v.is_empty()
            || !v
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(format!("enum value `{v}` of `{name}` is not upper-case").into());
        }
        write_docs(s, "    ", d.as_deref());
        writeln!(s, "    /// `{v}`\n    {},", enum_variant(v))?;
    }
    s.push_str("}\n\n");
    writeln!(s, "impl {name} {{")?;
    s.push_str(
        "    /// The wire values, in IR order.\n    pub const VALUES: &'static [&'static str] = &[",
    );
    for (v, _) in values {
        write!(s, "{v:?}, ")?;
    }
    s.push_str("];\n    /// The wire value.\n    pub fn as_str(&self) -> &'static str {\n        match self {\n");
    for (v, _) in values {
        writeln!(s, "            Self::{} => {v:?},", enum_variant(v))?;
    }
    s.push_str("        }\n    }\n}\n\n");
    writeln!(s, "impl ::std::str::FromStr for {name} {{")?;
    s.push_str("    type Err = crate::wire::UnknownEnumValue;\n    fn from_str(s: &str) -> Result<Self, Self::Err> {\n        match s {\n");
    for (v, _) in values {
        writeln!(s, "            {v:?} => Ok(Self::{}),", enum_variant(v))?;
    }
    writeln!(
        s,
        "            other => Err(crate::wire::UnknownEnumValue {{ enum_name: {name:?}, value: other.to_owned() }}),"
    )?;
    s.push_str("        }\n    }\n}\n\n");
    writeln!(
        s,
        "impl ::std::fmt::Display for {name} {{ fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {{ f.write_str(self.as_str()) }} }}"
    )?;
    writeln!(
        s,
        "impl ::serde::Serialize for {name} {{ fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {{ s.serialize_str(self.as_str()) }} }}"
    )?;
    writeln!(s, "impl<'de> ::serde::Deserialize<'de> for {name} {{")?;
    s.push_str("    fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {\n        struct V;\n        impl ::serde::de::Visitor<'_> for V {\n");
    writeln!(s, "            type Value = {name};")?;
    writeln!(
        s,
        "            fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {{ f.write_str(\"a {name} enum string\") }}"
    )?;
    writeln!(
        s,
        "            fn visit_str<E: ::serde::de::Error>(self, v: &str) -> Result<{name}, E> {{ v.parse().map_err(|_| E::unknown_variant(v, {name}::VALUES)) }}"
    )?;
    s.push_str("        }\n        d.deserialize_str(V)\n    }\n}\n\n");
    Ok(())
}

// ---------------------------------------------------------------- helpers

fn prim_rust(p: &str) -> Res<&'static str> {
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

fn conjure_name(t: &Ty) -> String {
    match t {
        Ty::Prim(p) => p.to_lowercase(),
        Ty::Ref(r) => r.clone(),
        Ty::Optional(i) => format!("optional<{}>", conjure_name(i)),
        Ty::List(i) => format!("list<{}>", conjure_name(i)),
        Ty::Set(i) => format!("set<{}>", conjure_name(i)),
        Ty::Map(k, v) => format!("map<{}, {}>", conjure_name(k), conjure_name(v)),
    }
}

fn opt_str(s: Option<String>) -> String {
    match s {
        Some(s) => format!("Some({s:?})"),
        None => "None".to_owned(),
    }
}

fn collect_refs(t: &Ty, out: &mut Vec<String>) {
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

fn mentions(t: &Ty, set: &BTreeSet<String>) -> bool {
    let mut v = Vec::new();
    collect_refs(t, &mut v);
    v.iter().any(|r| set.contains(r))
}

fn conv_expr(expr: &str, t: &Ty, set: &BTreeSet<String>) -> String {
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

fn snake_plain(camel: &str) -> String {
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

fn snake_ident(camel: &str) -> String {
    let s = snake_plain(camel);
    if RUST_KEYWORDS.contains(&s.as_str()) {
        format!("{s}_")
    } else {
        s
    }
}

fn upper_camel(camel: &str) -> String {
    let mut c = camel.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

fn enum_variant(upper: &str) -> String {
    upper
        .split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let lower = p.to_ascii_lowercase();
            upper_camel(&lower)
        })
        .collect()
}

fn write_docs(s: &mut String, indent: &str, docs: Option<&str>) {
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
