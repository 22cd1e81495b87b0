//! Rust types for the IR's objects, aliases, enums and unions, with strict (and, for the
//! lenient roots, lenient) hand-rolled `serde` impls.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::Res;
use crate::ir::{Def, Field, Model, Ty, TypeDef};
use crate::naming::*;

impl Model {
    pub(crate) fn gen_types(&self) -> Res<String> {
        let mut s = String::new();
        s.push_str(&self.header());
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

    pub(crate) fn gen_lenient(&self) -> Res<String> {
        let set = self.lenient_set();
        let mut s = String::new();
        s.push_str(&self.header());
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

    pub(crate) fn rust_ty(&self, t: &Ty, lenient: &BTreeSet<String>) -> Res<String> {
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
        let secret: Vec<&str> = self
            .opts
            .secret_fields
            .iter()
            .filter(|(t, _)| t == name)
            .map(|(_, f)| f.as_str())
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
        let keys: Vec<&str> = fields.iter().map(|f| f.wire.as_str()).collect();
        open_map_deserialize(s, name, "FIELDS", &keys, "type")?;
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

        let keys: Vec<&str> = std::iter::once("type")
            .chain(fields.iter().map(|f| f.wire.as_str()))
            .collect();
        open_map_deserialize(s, name, "KEYS", &keys, "union")?;
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
}

/// Opens the `Deserialize` impl of `name` from a JSON object, up to the `visit_map` signature:
/// the `const {keys_const}` of its keys, the visitor, and `expecting` ("a JSON object of Conjure
/// {what} {name}").
fn open_map_deserialize(
    s: &mut String,
    name: &str,
    keys_const: &str,
    keys: &[&str],
    what: &str,
) -> Res<()> {
    writeln!(s, "impl<'de> ::serde::Deserialize<'de> for {name} {{")?;
    s.push_str(
        "    fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {\n",
    );
    write!(s, "        const {keys_const}: &[&str] = &[")?;
    for k in keys {
        write!(s, "{k:?}, ")?;
    }
    s.push_str("];\n");
    s.push_str("        struct V;\n");
    s.push_str("        impl<'de> ::serde::de::Visitor<'de> for V {\n");
    writeln!(s, "            type Value = {name};")?;
    s.push_str("            fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {\n");
    writeln!(
        s,
        "                f.write_str(\"a JSON object of Conjure {what} {name}\")"
    )?;
    s.push_str("            }\n");
    writeln!(
        s,
        "            fn visit_map<A: ::serde::de::MapAccess<'de>>(self, mut map: A) -> Result<{name}, A::Error> {{"
    )?;
    Ok(())
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
