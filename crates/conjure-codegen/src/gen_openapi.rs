//! The OpenAPI 3.1 description of the IR: a JSON Schema (2020-12) per IR type, and an OpenAPI
//! Operation Object per endpoint, following the wire rules of NOMINAL.md §2 that the generated
//! Rust types enforce (docs/design/conjure-wire.md, docs/design/openapi.md):
//!
//! - objects refuse unknown fields (the lenient ones, the Okta hooks' bodies, ignore them);
//!   optional and collection fields may be absent, the others are required; an optional may be
//!   `null`;
//! - enums are their upper-case values; a union is `{"type": v, v: value}` and nothing else;
//! - `safelong` is an integer within ±(2^53 − 1), `integer` an `i32`, `rid` the §3 grammar;
//! - a void endpoint answers 204, an optional return 200 or 204;
//! - every error is the Conjure error body, with the statuses the surface sends.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::Res;
use crate::ir::{Def, Field, Model, Ty, endpoints, parse_ty, str_of};

/// Where the schemas go in the document.
const COMPONENTS: &str = "#/components/schemas/";
/// The named schema of a Conjure error body.
pub const CONJURE_ERROR: &str = "ConjureError";
/// Every endpoint may answer these with a Conjure error: a bad request (400), a refused
/// credential or access (403), something unknown (404), a conflict (409), a body too large
/// (413), a rate limit (429, with `Retry-After`), an internal fault (500), a store that cannot
/// serve (503, `Default:Unavailable`).
pub const ERROR_STATUSES: &[u16] = &[400, 403, 404, 409, 413, 429, 500, 503];
/// The RID grammar of NOMINAL.md §3 (`crates/surfaces/nominal/src/wire/primitives.rs`).
pub const RID_PATTERN: &str =
    r"^ri\.[a-z][a-z0-9-]*\.([a-z0-9][a-z0-9-]*)?\.[a-z][a-z0-9-]*\.[A-Za-z0-9_.-]+$";
const SAFE_MAX: i64 = (1 << 53) - 1;

fn prim_schema(p: &str) -> Res<Value> {
    Ok(match p {
        "STRING" => json!({ "type": "string" }),
        "INTEGER" => json!({ "type": "integer", "minimum": i32::MIN, "maximum": i32::MAX }),
        "BOOLEAN" => json!({ "type": "boolean" }),
        "SAFELONG" => json!({ "type": "integer", "minimum": -SAFE_MAX, "maximum": SAFE_MAX }),
        "DATETIME" => json!({ "type": "string", "format": "date-time" }),
        "UUID" => json!({ "type": "string", "format": "uuid" }),
        "RID" => json!({ "type": "string", "pattern": RID_PATTERN }),
        other => return Err(format!("unsupported primitive `{other}`").into()),
    })
}

fn ty_schema(t: &Ty) -> Res<Value> {
    Ok(match t {
        Ty::Prim(p) => prim_schema(p)?,
        Ty::Ref(r) => json!({ "$ref": format!("{COMPONENTS}{r}") }),
        Ty::Optional(i) => json!({ "anyOf": [ty_schema(i)?, { "type": "null" }] }),
        Ty::List(i) | Ty::Set(i) => json!({ "type": "array", "items": ty_schema(i)? }),
        Ty::Map(k, v) => json!({
            "type": "object",
            "propertyNames": ty_schema(k)?,
            "additionalProperties": ty_schema(v)?,
        }),
    })
}

/// Absent is allowed: an optional (absent = `None`) or a collection (absent = empty).
fn may_be_absent(t: &Ty) -> bool {
    matches!(
        t,
        Ty::Optional(_) | Ty::List(_) | Ty::Set(_) | Ty::Map(_, _)
    )
}

fn with_docs(mut schema: Value, docs: Option<&str>, deprecated: bool) -> Value {
    // A `$ref` with siblings is fine in 2020-12; keep the text as a description.
    if let Some(obj) = schema.as_object_mut() {
        if let Some(d) = docs {
            obj.insert("description".into(), json!(d.trim()));
        }
        if deprecated {
            obj.insert("deprecated".into(), json!(true));
        }
    }
    schema
}

/// `lenient`: unknown fields are ignored (the Okta hooks' bodies), not refused.
fn object_schema(fields: &[Field], lenient: bool) -> Res<Value> {
    let mut props = Map::new();
    let mut required = Vec::new();
    for f in fields {
        props.insert(
            f.wire.clone(),
            with_docs(ty_schema(&f.ty)?, f.docs.as_deref(), f.deprecated.is_some()),
        );
        if !may_be_absent(&f.ty) {
            required.push(json!(f.wire));
        }
    }
    let mut schema = json!({ "type": "object", "properties": props, "required": required });
    if !lenient {
        schema["additionalProperties"] = json!(false);
    }
    Ok(schema)
}

fn union_schema(fields: &[Field]) -> Res<Value> {
    let variants = fields
        .iter()
        .map(|f| {
            Ok(json!({
                "type": "object",
                "properties": {
                    "type": { "const": f.wire },
                    (f.wire.clone()): with_docs(ty_schema(&f.ty)?, f.docs.as_deref(), false),
                },
                "required": ["type", f.wire],
                "additionalProperties": false,
            }))
        })
        .collect::<Res<Vec<_>>>()?;
    Ok(json!({ "oneOf": variants }))
}

/// The Conjure error body (NOMINAL.md §10).
pub fn conjure_error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["errorCode", "errorName", "errorInstanceId", "parameters"],
        "properties": {
            "errorCode": { "type": "string" },
            "errorName": { "type": "string" },
            "errorInstanceId": { "type": "string", "format": "uuid" },
            "parameters": { "type": "object", "additionalProperties": { "type": "string" } },
        },
        "additionalProperties": false,
    })
}

/// Path templates that differ only in their parameters' names are one path in OpenAPI (and
/// in the router): every endpoint uses the names of the first endpoint of that shape.
fn canonical_paths(endpoints: &[&Value]) -> Res<BTreeMap<String, String>> {
    let shape = |p: &str| {
        p.split('/')
            .map(|s| if s.starts_with('{') { "{}" } else { s })
            .collect::<Vec<_>>()
            .join("/")
    };
    let mut first: BTreeMap<String, String> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for e in endpoints {
        let path = str_of(e, "httpPath")?;
        let canonical = first.entry(shape(path)).or_insert_with(|| path.to_owned());
        out.insert(path.to_owned(), canonical.clone());
    }
    Ok(out)
}

fn rename_params(path: &str, canonical: &str) -> BTreeMap<String, String> {
    path.split('/')
        .zip(canonical.split('/'))
        .filter(|(a, _)| a.starts_with('{'))
        .map(|(a, b)| {
            (
                a.trim_matches(['{', '}']).to_owned(),
                b.trim_matches(['{', '}']).to_owned(),
            )
        })
        .collect()
}

impl Model {
    /// `{"schemas": {name: schema}, "operations": [{"name", "method", "path", "operation"}],
    /// "errorSchema", "errorStatuses"}`, paths under `prefix` (the surface serves the IR's
    /// paths under `/api`).
    pub(crate) fn gen_openapi(&self, ir: &Value, prefix: &str) -> Res<Value> {
        let mut schemas = Map::new();
        let lenient = self.lenient_set();
        for td in self.types.values() {
            let s = match &td.def {
                Def::Object(fields) => object_schema(fields, lenient.contains(&td.name))?,
                Def::Union(fields) => union_schema(fields)?,
                Def::Alias(t) => ty_schema(t)?,
                Def::Enum(values) => json!({
                    "type": "string",
                    "enum": values.iter().map(|(v, _)| v).collect::<Vec<_>>(),
                }),
            };
            schemas.insert(td.name.clone(), with_docs(s, td.docs.as_deref(), false));
        }
        schemas.insert(CONJURE_ERROR.into(), conjure_error_schema());

        let endpoints = endpoints(ir)?;
        let canonical = canonical_paths(&endpoints.iter().map(|(_, e)| *e).collect::<Vec<_>>())?;
        let mut operations = Vec::new();
        for (service, e) in endpoints {
            let path = str_of(e, "httpPath")?;
            let canonical_path = &canonical[path];
            let renames = rename_params(path, canonical_path);
            let op = self.operation(service, e, &renames)?;
            operations.push(json!({
                "name": str_of(e, "endpointName")?,
                "method": str_of(e, "httpMethod")?,
                "path": format!("{prefix}{canonical_path}"),
                "operation": op,
            }));
        }
        Ok(json!({
            "schemas": schemas,
            "operations": operations,
            "errorSchema": CONJURE_ERROR,
            "errorStatuses": ERROR_STATUSES,
        }))
    }

    fn operation(
        &self,
        service: &str,
        e: &Value,
        renames: &BTreeMap<String, String>,
    ) -> Res<Value> {
        let name = str_of(e, "endpointName")?;
        let mut op = Map::new();
        op.insert("operationId".into(), json!(name));
        op.insert("tags".into(), json!([service]));
        if let Some(docs) = e.get("docs").and_then(Value::as_str) {
            let first = docs.trim().lines().next().unwrap_or_default();
            op.insert("summary".into(), json!(first));
            op.insert("description".into(), json!(docs.trim()));
        }
        let bearer = match e
            .get("auth")
            .and_then(|a| a.get("type"))
            .and_then(Value::as_str)
        {
            None => false,
            Some("header") => true,
            Some(other) => return Err(format!("unsupported auth `{other}`").into()),
        };
        op.insert(
            "security".into(),
            if bearer {
                json!([{ "bearer": [] }])
            } else {
                json!([])
            },
        );
        let mut params = Vec::new();
        for a in e
            .get("args")
            .and_then(Value::as_array)
            .ok_or("endpoint without args")?
        {
            let pt = a.get("paramType").ok_or("arg without paramType")?;
            let kind = str_of(pt, "type")?;
            let ty = parse_ty(a.get("type").ok_or("arg without type")?)?;
            let arg = str_of(a, "argName")?;
            // The wire name: `paramId` for query and header parameters, the arg for paths.
            let wire = pt
                .get(kind)
                .and_then(|k| k.get("paramId"))
                .and_then(Value::as_str)
                .unwrap_or(arg);
            let (inner, optional) = match &ty {
                Ty::Optional(i) => ((**i).clone(), true),
                other => (other.clone(), false),
            };
            match kind {
                "body" => {
                    op.insert(
                        "requestBody".into(),
                        json!({
                            "required": !optional,
                            "content": { "application/json": { "schema": ty_schema(&inner)? } },
                        }),
                    );
                }
                "path" => params.push(json!({
                    "name": renames.get(arg).map_or(arg, String::as_str),
                    "in": "path", "required": true, "schema": ty_schema(&inner)?,
                })),
                "query" | "header" => params.push(json!({
                    "name": wire, "in": kind, "required": !optional, "schema": ty_schema(&inner)?,
                })),
                other => return Err(format!("unsupported parameter kind `{other}`").into()),
            }
        }
        if !params.is_empty() {
            op.insert("parameters".into(), Value::Array(params));
        }
        let mut responses = Map::new();
        let json_answer = |t: &Ty| -> Res<Value> {
            Ok(json!({
                "description": "OK",
                "content": { "application/json": { "schema": ty_schema(t)? } },
            }))
        };
        match e.get("returns") {
            Some(r) if !r.is_null() => match parse_ty(r)? {
                Ty::Optional(i) => {
                    responses.insert("200".into(), json_answer(&i)?);
                    responses.insert("204".into(), json!({ "description": "Absent" }));
                }
                t => {
                    responses.insert("200".into(), json_answer(&t)?);
                }
            },
            _ => {
                responses.insert("204".into(), json!({ "description": "No Content" }));
            }
        }
        for status in ERROR_STATUSES {
            let mut answer = json!({
                "description": "A Conjure error",
                "content": { "application/json": {
                    "schema": { "$ref": format!("{COMPONENTS}{CONJURE_ERROR}") },
                } },
            });
            // A rate limit and an outage say when to retry (crates/surfaces/nominal/src/auth.rs).
            if matches!(status, 429 | 503) {
                answer["headers"] = json!({ "Retry-After": {
                    "required": true, "schema": { "type": "string", "pattern": "^[0-9]+$" },
                } });
            }
            responses.insert(status.to_string(), answer);
        }
        op.insert("responses".into(), Value::Object(responses));
        Ok(Value::Object(op))
    }
}
