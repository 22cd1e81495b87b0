//! The OpenAPI 3.1 description of a surface's JSON routes, built by the same table that mounts
//! them (docs/design/openapi.md): [`ApiRoutes::mount`] takes an [`Op`] and its handler, mounts
//! the handler for exactly the op's method and path, and records the op. So a route of such a
//! table cannot exist undocumented, nor a documented one be missing.
//!
//! Schemas come from the wire types (`schemars`, JSON Schema 2020-12 as OpenAPI 3.1 uses) or,
//! for answers a surface builds as JSON values, from a schema beside the route. The binary
//! assembles the surfaces' [`ApiDoc`]s into one document with [`document`].

use std::collections::BTreeMap;

use axum::Router;
use axum::handler::Handler;
use axum::middleware::from_fn;
use axum::routing::{MethodFilter, MethodRouter, on};
use http::Method;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value, json};

use crate::problem::PROBLEM_CONTENT_TYPE;

/// Where OpenAPI 3.1 keeps named schemas; `$ref`s point here.
const COMPONENTS: &str = "/components/schemas";
/// The named schema of an RFC 9457 problem document.
pub const PROBLEM_SCHEMA: &str = "Problem";
/// The security scheme of `Authorization: Bearer <token>` (`Token <token>` is accepted too).
pub const BEARER: &str = "bearer";

/// One documented operation: its method, its path template (`{name}` parameters, as axum and
/// OpenAPI write them) and its OpenAPI Operation Object (with `operationId`).
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub method: Method,
    pub path: String,
    pub doc: Value,
}

/// A surface's documented operations and the named schemas they refer to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiDoc {
    pub operations: Vec<Operation>,
    pub schemas: BTreeMap<String, Value>,
}

/// A schema: from a Rust type, or given as JSON.
#[derive(Clone)]
pub enum SchemaSource {
    Type(fn(&mut SchemaGenerator) -> Schema),
    Json(Value),
}

fn subschema<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// The schema of `T` (named types land in the components).
pub fn schema_of<T: JsonSchema>() -> SchemaSource {
    SchemaSource::Type(subschema::<T>)
}

/// A schema given as JSON.
pub fn schema(v: Value) -> SchemaSource {
    SchemaSource::Json(v)
}

/// A reference to a named schema of the components.
pub fn schema_ref(name: &str) -> SchemaSource {
    SchemaSource::Json(json!({ "$ref": format!("#{COMPONENTS}/{name}") }))
}

/// A reference to a named schema, as JSON.
pub fn ref_json(name: &str) -> Value {
    json!({ "$ref": format!("#{COMPONENTS}/{name}") })
}

#[derive(Clone)]
struct Response {
    status: u16,
    description: String,
    content: Option<(&'static str, SchemaSource)>,
    /// Headers the answer always has: (name, schema).
    headers: Vec<(&'static str, Value)>,
}

/// An operation being described, before its schemas are resolved.
#[derive(Clone)]
pub struct Op {
    method: Method,
    path: String,
    id: String,
    summary: String,
    tag: &'static str,
    security: Vec<Value>,
    params: Vec<Value>,
    body: Option<(&'static str, SchemaSource, bool)>,
    responses: Vec<Response>,
    no_store: bool,
    /// A finished Operation Object (generated elsewhere, e.g. from a Conjure IR).
    finished: Option<Value>,
}

impl Op {
    pub fn new(method: Method, path: impl Into<String>, id: impl Into<String>) -> Op {
        Op {
            method,
            path: path.into(),
            id: id.into(),
            summary: String::new(),
            tag: "",
            security: Vec::new(),
            params: Vec::new(),
            body: None,
            responses: Vec::new(),
            no_store: false,
            finished: None,
        }
    }

    /// An operation whose Operation Object is already written (it must have `operationId`).
    pub fn documented(method: Method, path: impl Into<String>, doc: Value) -> Op {
        let id = doc["operationId"].as_str().unwrap_or_default().to_owned();
        Op {
            finished: Some(doc),
            ..Op::new(method, path, id)
        }
    }

    pub fn get(path: &str, id: &str) -> Op {
        Op::new(Method::GET, path, id)
    }

    pub fn post(path: &str, id: &str) -> Op {
        Op::new(Method::POST, path, id)
    }

    pub fn put(path: &str, id: &str) -> Op {
        Op::new(Method::PUT, path, id)
    }

    pub fn patch(path: &str, id: &str) -> Op {
        Op::new(Method::PATCH, path, id)
    }

    pub fn delete(path: &str, id: &str) -> Op {
        Op::new(Method::DELETE, path, id)
    }

    pub fn summary(mut self, s: &str) -> Op {
        self.summary = s.to_owned();
        self
    }

    pub fn tag(mut self, t: &'static str) -> Op {
        self.tag = t;
        self
    }

    /// Requires `Authorization: Bearer <token>`.
    pub fn bearer(self) -> Op {
        self.security(BEARER)
    }

    /// Requires the named security scheme (alternatives: call again).
    pub fn security(mut self, scheme: &str) -> Op {
        self.security.push(json!({ scheme: [] }));
        self
    }

    /// The operation may also be called without any of the security schemes above.
    pub fn security_none(mut self) -> Op {
        self.security.push(json!({}));
        self
    }

    /// A parameter (`in`: `query`, `header` or `path`).
    pub fn param(mut self, location: &str, name: &str, required: bool, schema: Value) -> Op {
        self.params.push(json!({
            "name": name, "in": location, "required": required, "schema": schema,
        }));
        self
    }

    /// A required body of `content_type`.
    pub fn body(mut self, content_type: &'static str, s: SchemaSource) -> Op {
        self.body = Some((content_type, s, true));
        self
    }

    /// An optional body of `content_type`.
    pub fn optional_body(mut self, content_type: &'static str, s: SchemaSource) -> Op {
        self.body = Some((content_type, s, false));
        self
    }

    /// A required JSON body.
    pub fn json_body(self, s: SchemaSource) -> Op {
        self.body("application/json", s)
    }

    /// An answer with a body of `content_type`.
    pub fn answer(mut self, status: u16, content_type: &'static str, s: SchemaSource) -> Op {
        self.responses.push(Response {
            status,
            description: reason(status),
            content: Some((content_type, s)),
            headers: Vec::new(),
        });
        self
    }

    /// A JSON answer.
    pub fn json(self, status: u16, s: SchemaSource) -> Op {
        self.answer(status, "application/json", s)
    }

    /// An answer without a body (204).
    pub fn empty(mut self, status: u16) -> Op {
        self.responses.push(Response {
            status,
            description: reason(status),
            content: None,
            headers: Vec::new(),
        });
        self
    }

    /// RFC 9457 problem answers for these statuses, with the headers each always has: a 401
    /// its `WWW-Authenticate` challenge, a 429 or 503 its `Retry-After`.
    pub fn problems(mut self, statuses: &[u16]) -> Op {
        for &status in statuses {
            // A status listed twice (a route's own list on top of a shared one) is one answer.
            if self.responses.iter().any(|r| r.status == status) {
                continue;
            }
            self = self.answer(status, PROBLEM_CONTENT_TYPE, schema_ref(PROBLEM_SCHEMA));
            if let Some(r) = self.responses.last_mut() {
                r.headers = problem_headers(status);
            }
        }
        self
    }

    /// Every answer is marked `Cache-Control: no-store` (it carries a token or a secret).
    pub fn no_store(mut self) -> Op {
        self.no_store = true;
        self
    }

    pub fn method(&self) -> &Method {
        &self.method
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    fn resolve(self, g: &mut SchemaGenerator) -> Operation {
        if let Some(doc) = self.finished {
            return Operation {
                method: self.method,
                path: self.path,
                doc,
            };
        }
        let mut resolve = |s: SchemaSource| match s {
            SchemaSource::Type(f) => f(g).to_value(),
            SchemaSource::Json(v) => v,
        };
        let mut doc = Map::new();
        doc.insert("operationId".into(), json!(self.id));
        if !self.summary.is_empty() {
            doc.insert("summary".into(), json!(self.summary));
        }
        if !self.tag.is_empty() {
            doc.insert("tags".into(), json!([self.tag]));
        }
        doc.insert("security".into(), Value::Array(self.security));
        if !self.params.is_empty() {
            doc.insert("parameters".into(), Value::Array(self.params));
        }
        if let Some((ct, s, required)) = self.body {
            doc.insert(
                "requestBody".into(),
                json!({ "required": required, "content": { ct: { "schema": resolve(s) } } }),
            );
        }
        let mut responses = Map::new();
        for r in self.responses {
            let mut entry = Map::new();
            entry.insert("description".into(), json!(r.description));
            if let Some((ct, s)) = r.content {
                entry.insert("content".into(), json!({ ct: { "schema": resolve(s) } }));
            }
            if !r.headers.is_empty() {
                let headers: Map<String, Value> = r
                    .headers
                    .into_iter()
                    .map(|(name, schema)| {
                        (
                            name.to_owned(),
                            json!({ "required": true, "schema": schema }),
                        )
                    })
                    .collect();
                entry.insert("headers".into(), Value::Object(headers));
            }
            responses.insert(r.status.to_string(), Value::Object(entry));
        }
        doc.insert("responses".into(), Value::Object(responses));
        Operation {
            method: self.method,
            path: self.path,
            doc: Value::Object(doc),
        }
    }
}

/// The headers a problem answer of `status` always has (`crate::problem`).
pub fn problem_headers(status: u16) -> Vec<(&'static str, Value)> {
    match status {
        401 => vec![(
            "WWW-Authenticate",
            json!({ "type": "string", "pattern": "^Bearer " }),
        )],
        429 | 503 => vec![(
            "Retry-After",
            json!({ "type": "string", "pattern": "^[0-9]+$" }),
        )],
        _ => Vec::new(),
    }
}

fn reason(status: u16) -> String {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Answer")
        .to_owned()
}

/// The schema generator every table uses: JSON Schema 2020-12, named types under
/// `#/components/schemas`.
pub fn generator() -> SchemaGenerator {
    SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = COMPONENTS.into())
        .into_generator()
}

fn method_filter(m: &Method) -> MethodFilter {
    match *m {
        Method::GET => MethodFilter::GET,
        Method::POST => MethodFilter::POST,
        Method::PUT => MethodFilter::PUT,
        Method::PATCH => MethodFilter::PATCH,
        Method::DELETE => MethodFilter::DELETE,
        Method::HEAD => MethodFilter::HEAD,
        Method::OPTIONS => MethodFilter::OPTIONS,
        // A table is written in this code base; another method is a programming error.
        _ => panic!("no route for method {m}"),
    }
}

/// A router and its description, built together.
pub struct ApiRoutes<S> {
    router: Router<S>,
    doc: ApiDoc,
    generator: SchemaGenerator,
}

impl<S: Clone + Send + Sync + 'static> Default for ApiRoutes<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Clone + Send + Sync + 'static> ApiRoutes<S> {
    pub fn new() -> Self {
        ApiRoutes {
            router: Router::new(),
            doc: ApiDoc::default(),
            generator: generator(),
        }
    }

    /// Mounts `handler` for exactly `op`'s method and path, and documents it.
    pub fn mount<H, T>(self, op: Op, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        let mr = on(method_filter(&op.method), handler);
        self.mount_method(op, mr)
    }

    /// Mounts a method router built for `op` (its one method), and documents it; for
    /// tables whose handlers are chosen at run time (the Nominal surface's, by endpoint).
    pub fn mount_method(mut self, op: Op, mut mr: MethodRouter<S>) -> Self {
        if op.no_store {
            mr = mr.layer(from_fn(crate::no_store));
        }
        self.router = self.router.route(&op.path, mr);
        let operation = op.resolve(&mut self.generator);
        self.doc.operations.push(operation);
        self
    }

    /// Adds a named schema to the components (a shared error format).
    pub fn named_schema(mut self, name: &str, schema: Value) -> Self {
        self.doc.schemas.insert(name.to_owned(), schema);
        self
    }

    /// The router and the description.
    pub fn into_parts(mut self) -> (Router<S>, ApiDoc) {
        for (name, schema) in self.generator.take_definitions(true) {
            self.doc.schemas.insert(name, schema);
        }
        (self.router, self.doc)
    }
}

/// The problem document every problem answer has (RFC 9457, docs/design/account-surface.md).
pub fn problem_schema() -> Value {
    json!({
        "type": "object",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            "type": { "type": "string" },
            "title": { "type": "string" },
            "status": { "type": "integer", "minimum": 400, "maximum": 599 },
            "detail": { "type": "string" },
            "code": { "type": "string" },
            "requestId": { "type": "string" },
        },
    })
}

/// Why two surfaces' descriptions cannot be put together.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DocumentError {
    #[error("{method} {path} is documented twice")]
    DuplicateOperation { method: Method, path: String },
    #[error("operationId {0} is used twice")]
    DuplicateOperationId(String),
    #[error("the schema {0} is defined twice, differently")]
    SchemaClash(String),
}

/// Path parameters of a template, in order.
pub fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .collect()
}

/// The whole OpenAPI 3.1 document of the given surfaces' descriptions. A path parameter an
/// operation does not declare is declared as a string; every operation without a `security`
/// requirement is public (`security: []`).
pub fn document(title: &str, version: &str, parts: &[ApiDoc]) -> Result<Value, DocumentError> {
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let mut schemas: BTreeMap<String, Value> = BTreeMap::new();
    let mut ids = std::collections::BTreeSet::new();
    for part in parts {
        for (name, s) in &part.schemas {
            match schemas.get(name) {
                Some(existing) if existing != s => {
                    return Err(DocumentError::SchemaClash(name.clone()));
                }
                _ => {
                    schemas.insert(name.clone(), s.clone());
                }
            }
        }
        for op in &part.operations {
            let id = op.doc["operationId"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if !ids.insert(id.clone()) {
                return Err(DocumentError::DuplicateOperationId(id));
            }
            let mut doc = op.doc.clone();
            declare_path_params(&op.path, &mut doc);
            let item = paths.entry(op.path.clone()).or_default();
            let key = op.method.as_str().to_ascii_lowercase();
            if item.insert(key, doc).is_some() {
                return Err(DocumentError::DuplicateOperation {
                    method: op.method.clone(),
                    path: op.path.clone(),
                });
            }
        }
    }
    Ok(json!({
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "Generated from the Conjure IR of the Nominal API and the route tables \
                            of the account, org-admin, OpenID provider and well-known surfaces.",
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                BEARER: {
                    "type": "http", "scheme": "bearer",
                    "description": "An access token of either API (`Token <token>` is accepted too)",
                },
                "clientBasic": {
                    "type": "http", "scheme": "basic",
                    "description": "An OpenID client's id and secret (client_secret_basic)",
                },
            },
        },
    }))
}

fn declare_path_params(path: &str, doc: &mut Value) {
    let declared: Vec<String> = doc["parameters"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let missing: Vec<Value> = path_params(path)
        .into_iter()
        .filter(|name| !declared.iter().any(|d| d == name))
        .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
        .collect();
    if missing.is_empty() {
        return;
    }
    if let Some(obj) = doc.as_object_mut() {
        let params = obj.entry("parameters").or_insert_with(|| json!([]));
        if let Some(arr) = params.as_array_mut() {
            arr.extend(missing);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, JsonSchema)]
    struct Thing {
        name: String,
        size: Option<u32>,
    }

    async fn ok() -> &'static str {
        "ok"
    }

    #[test]
    fn a_table_documents_what_it_mounts_with_named_schemas() {
        let (_router, doc) = ApiRoutes::<()>::new()
            .mount(
                Op::get("/things/{id}", "getThing")
                    .bearer()
                    .json(200, schema_of::<Thing>())
                    .problems(&[401, 404]),
                ok,
            )
            .mount(Op::delete("/things/{id}", "deleteThing").empty(204), ok)
            .named_schema(PROBLEM_SCHEMA, problem_schema())
            .into_parts();
        assert_eq!(doc.operations.len(), 2);
        let get = &doc.operations[0].doc;
        assert_eq!(
            get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Thing"
        );
        assert_eq!(
            get["responses"]["404"]["content"][PROBLEM_CONTENT_TYPE]["schema"]["$ref"],
            "#/components/schemas/Problem"
        );
        assert_eq!(doc.schemas["Thing"]["required"], json!(["name"]));
        assert_eq!(
            get["responses"]["401"]["headers"]["WWW-Authenticate"]["required"],
            true
        );
        let full = document("t", "1", &[doc]).expect("assembles");
        assert_eq!(full["openapi"], "3.1.0");
        let params = &full["paths"]["/things/{id}"]["delete"]["parameters"];
        assert_eq!(params[0]["name"], "id");
        assert_eq!(params[0]["in"], "path");
    }

    #[test]
    fn clashes_are_refused() {
        let one = |schema: Value| ApiDoc {
            operations: vec![Operation {
                method: Method::GET,
                path: "/a".into(),
                doc: json!({"operationId": "a", "responses": {}}),
            }],
            schemas: BTreeMap::from([("S".to_owned(), schema)]),
        };
        let a = one(json!({"type": "string"}));
        let b = one(json!({"type": "integer"}));
        assert_eq!(
            document("t", "1", &[a.clone(), b]),
            Err(DocumentError::SchemaClash("S".into()))
        );
        assert_eq!(
            document("t", "1", &[a.clone(), a]),
            Err(DocumentError::DuplicateOperationId("a".into()))
        );
    }
}
