//! The Conjure IR as the generator reads it: types, fields and references, checked on load.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::naming::{RESERVED_TYPE_NAMES, collect_refs, prim_rust};
use crate::{Options, Res};

#[derive(Clone, Debug)]
pub(crate) enum Ty {
    Prim(String),
    Ref(String),
    Optional(Box<Ty>),
    List(Box<Ty>),
    Set(Box<Ty>),
    Map(Box<Ty>, Box<Ty>),
}

pub(crate) struct Field {
    pub(crate) wire: String,
    pub(crate) ty: Ty,
    pub(crate) docs: Option<String>,
    pub(crate) deprecated: Option<String>,
}

pub(crate) enum Def {
    Object(Vec<Field>),
    Alias(Ty),
    Enum(Vec<(String, Option<String>)>),
    Union(Vec<Field>),
}

pub(crate) struct TypeDef {
    pub(crate) name: String,
    pub(crate) package: String,
    pub(crate) docs: Option<String>,
    pub(crate) def: Def,
}

pub(crate) struct Model {
    pub(crate) types: BTreeMap<String, TypeDef>,
    pub(crate) opts: Options,
}

pub(crate) fn str_of<'a>(v: &'a Value, key: &str) -> Res<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("missing string `{key}` in {v}").into())
}

fn docs_of(v: &Value) -> Option<String> {
    v.get("docs").and_then(Value::as_str).map(str::to_owned)
}

pub(crate) fn parse_ty(v: &Value) -> Res<Ty> {
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

/// Every endpoint of the IR with its service's name, in IR order.
pub(crate) fn endpoints(ir: &Value) -> Res<Vec<(&str, &Value)>> {
    let mut out = Vec::new();
    for svc in ir
        .get("services")
        .and_then(Value::as_array)
        .ok_or("IR without services")?
    {
        let name = str_of(
            svc.get("serviceName").ok_or("service without name")?,
            "name",
        )?;
        for e in svc
            .get("endpoints")
            .and_then(Value::as_array)
            .ok_or("service without endpoints")?
        {
            out.push((name, e));
        }
    }
    Ok(out)
}

impl Model {
    pub(crate) fn load(ir: &Value, opts: Options) -> Res<Model> {
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
        let model = Model { types, opts };
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
    pub(crate) fn lenient_set(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut stack: Vec<String> = self.opts.lenient_roots.clone();
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
}
