//! Checks the generated Rust wire types against the Conjure IR, field by
//! field, by probing serde with values derived from the IR alone: every IR
//! type must exist, accept a full IR-shaped sample and re-encode it exactly,
//! treat each field's optionality as the IR says (required / optional /
//! collection), reject wrong JSON types, unknown fields and unknown
//! enum/union values. Endpoints and errors are checked against the IR too.

use std::collections::{BTreeMap, BTreeSet};

use portcullis_nominal::wire::{
    self, ConjureError, ENDPOINTS, EndpointAuth,
    endpoints::__decode_request_body,
    lenient::__LENIENT_TYPE_NAMES,
    types::{__TYPE_NAMES, __roundtrip},
};
use serde_json::{Map, Value, json};

const IR_IN_REPO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/conjure/nominal-auth.conjure.json"
);

fn load_ir() -> Value {
    serde_json::from_str(&std::fs::read_to_string(IR_IN_REPO).unwrap()).unwrap()
}

struct Ir {
    types: BTreeMap<String, Value>,
}

impl Ir {
    fn new(ir: &Value) -> Ir {
        let mut types = BTreeMap::new();
        for t in ir["types"].as_array().unwrap() {
            let kind = t["type"].as_str().unwrap();
            let name = t[kind]["typeName"]["name"].as_str().unwrap().to_owned();
            types.insert(name, t.clone());
        }
        Ir { types }
    }

    fn def(&self, name: &str) -> (&str, &Value) {
        let t = &self.types[name];
        let kind = t["type"].as_str().unwrap();
        (kind, &t[kind])
    }

    fn sample(&self, ty: &Value, depth: usize) -> Value {
        match ty["type"].as_str().unwrap() {
            "primitive" => match ty["primitive"].as_str().unwrap() {
                "STRING" => json!("s"),
                "INTEGER" => json!(7),
                "SAFELONG" => json!(9007199254740991i64),
                "BOOLEAN" => json!(true),
                "DATETIME" => json!("2025-06-01T10:00:00.123Z"),
                "UUID" => json!("0b6a3c2e-8d1f-4f7e-9a55-3c1d2e4f5a6b"),
                "RID" => json!("ri.authn.local.user.0b6a3c2e"),
                other => panic!("unexpected primitive {other}"),
            },
            "optional" => self.sample(&ty["optional"]["itemType"], depth),
            k @ ("list" | "set") => {
                if depth > 3 {
                    json!([])
                } else {
                    json!([self.sample(&ty[k]["itemType"], depth + 1)])
                }
            }
            "map" => {
                let key = match self.sample(&ty["map"]["keyType"], depth) {
                    Value::String(s) => s,
                    other => panic!("non-string map key sample {other}"),
                };
                let mut m = Map::new();
                m.insert(key, self.sample(&ty["map"]["valueType"], depth + 1));
                Value::Object(m)
            }
            "reference" => self.sample_named(ty["reference"]["name"].as_str().unwrap(), depth),
            other => panic!("unexpected type kind {other}"),
        }
    }

    fn sample_named(&self, name: &str, depth: usize) -> Value {
        let (kind, d) = self.def(name);
        match kind {
            "alias" => self.sample(&d["alias"], depth),
            "enum" => d["values"][0]["value"].clone(),
            "object" => {
                let mut m = Map::new();
                for f in d["fields"].as_array().unwrap() {
                    m.insert(
                        f["fieldName"].as_str().unwrap().to_owned(),
                        self.sample(&f["type"], depth + 1),
                    );
                }
                Value::Object(m)
            }
            "union" => {
                // Prefer a non-recursive variant when deep.
                let variants = d["union"].as_array().unwrap();
                let v = if depth > 3 {
                    variants.last().unwrap()
                } else {
                    &variants[0]
                };
                let vn = v["fieldName"].as_str().unwrap();
                json!({"type": vn, vn: self.sample(&v["type"], depth + 1)})
            }
            other => panic!("unexpected definition {other}"),
        }
    }

    /// A JSON value of the wrong shape for `ty`.
    fn wrong(&self, ty: &Value) -> Value {
        match ty["type"].as_str().unwrap() {
            "primitive" => match ty["primitive"].as_str().unwrap() {
                "STRING" => json!(12345),
                "INTEGER" => json!("7"),
                "SAFELONG" => json!(1.5),
                "BOOLEAN" => json!("true"),
                "DATETIME" => json!("2025-06-01"),
                "UUID" => json!("not-a-uuid"),
                "RID" => json!("ri.bad"),
                other => panic!("unexpected primitive {other}"),
            },
            "optional" => self.wrong(&ty["optional"]["itemType"]),
            "list" | "set" => json!("not a list"),
            "map" => json!([]),
            "reference" => {
                let name = ty["reference"]["name"].as_str().unwrap();
                let (kind, d) = self.def(name);
                match kind {
                    "alias" => self.wrong(&d["alias"]),
                    "enum" => json!("zz_not_a_value"),
                    "object" => json!([]),
                    "union" => json!({"type": "zzUnknownVariant", "zzUnknownVariant": 1}),
                    other => panic!("unexpected definition {other}"),
                }
            }
            other => panic!("unexpected type kind {other}"),
        }
    }
}

fn is_collection(ty: &Value) -> bool {
    matches!(ty["type"].as_str(), Some("list" | "set" | "map"))
}

fn is_optional(ty: &Value) -> bool {
    ty["type"].as_str() == Some("optional")
}

fn rt(name: &str, v: Value) -> Result<Value, String> {
    __roundtrip(name, v).unwrap_or_else(|| panic!("no generated type for IR type {name}"))
}

#[test]
fn ir_copy_matches_shared_spec_when_present() {
    let shared = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../../shared/spec/nominal/nominal-auth.conjure.json"
    );
    if let Ok(s) = std::fs::read_to_string(shared) {
        let a: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(
            a,
            load_ir(),
            "conjure/nominal-auth.conjure.json is stale; copy the shared IR"
        );
    }
}

#[test]
fn every_ir_type_is_generated() {
    let ir = Ir::new(&load_ir());
    let ir_names: BTreeSet<&str> = ir.types.keys().map(String::as_str).collect();
    let rust_names: BTreeSet<&str> = __TYPE_NAMES.iter().copied().collect();
    assert_eq!(ir_names, rust_names);
    assert!(__roundtrip("NoSuchType", json!({})).is_none());
}

#[test]
fn objects_agree_with_ir_field_by_field() {
    let ir = Ir::new(&load_ir());
    let mut checked = 0;
    for name in ir.types.keys() {
        let (kind, d) = ir.def(name);
        if kind != "object" {
            continue;
        }
        let full = ir.sample_named(name, 0);
        assert_eq!(
            rt(name, full.clone()).as_ref(),
            Ok(&full),
            "{name}: full sample round trip"
        );
        assert!(
            rt(name, json!([])).is_err(),
            "{name}: array accepted as object"
        );
        assert!(
            rt(name, json!(null)).is_err(),
            "{name}: null accepted as object"
        );

        let mut unknown = full.as_object().unwrap().clone();
        unknown.insert("zzUnknownField".into(), json!(1));
        assert!(
            rt(name, Value::Object(unknown)).is_err(),
            "{name}: unknown field accepted"
        );

        for f in d["fields"].as_array().unwrap() {
            let fname = f["fieldName"].as_str().unwrap();
            let fty = &f["type"];
            for absent in [None, Some(json!(null))] {
                let mut m = full.as_object().unwrap().clone();
                match &absent {
                    None => {
                        m.remove(fname);
                    }
                    Some(n) => {
                        m.insert(fname.into(), n.clone());
                    }
                }
                let res = rt(name, Value::Object(m));
                let how = if absent.is_none() { "missing" } else { "null" };
                if is_optional(fty) {
                    let out = res.unwrap_or_else(|e| panic!("{name}.{fname} {how}: {e}"));
                    assert!(
                        out.get(fname).is_none(),
                        "{name}.{fname}: absent optional written"
                    );
                } else if is_collection(fty) {
                    let out = res.unwrap_or_else(|e| panic!("{name}.{fname} {how}: {e}"));
                    let empty = if fty["type"] == "map" {
                        json!({})
                    } else {
                        json!([])
                    };
                    assert_eq!(
                        out.get(fname),
                        Some(&empty),
                        "{name}.{fname}: empty collection not written"
                    );
                } else {
                    assert!(
                        res.is_err(),
                        "{name}.{fname}: required field {how} accepted"
                    );
                }
            }
            let mut m = full.as_object().unwrap().clone();
            m.insert(fname.into(), ir.wrong(fty));
            assert!(
                rt(name, Value::Object(m)).is_err(),
                "{name}.{fname}: wrong type accepted"
            );
        }
        checked += 1;
    }
    assert!(checked > 50, "only {checked} objects checked");
}

#[test]
fn aliases_enums_unions_agree_with_ir() {
    let ir = Ir::new(&load_ir());
    for name in ir.types.keys() {
        let (kind, d) = ir.def(name);
        match kind {
            "alias" => {
                let s = ir.sample(&d["alias"], 0);
                assert_eq!(rt(name, s.clone()), Ok(s), "{name}");
                assert!(
                    rt(name, ir.wrong(&d["alias"])).is_err(),
                    "{name}: wrong type"
                );
                assert!(rt(name, json!(null)).is_err(), "{name}: null");
            }
            "enum" => {
                for v in d["values"].as_array().unwrap() {
                    assert_eq!(
                        rt(name, v["value"].clone()).as_ref(),
                        Ok(&v["value"]),
                        "{name}"
                    );
                    let lower = v["value"].as_str().unwrap().to_lowercase();
                    assert!(
                        rt(name, json!(lower)).is_err(),
                        "{name}: lower case accepted"
                    );
                }
                assert!(
                    rt(name, json!("ZZ_UNKNOWN")).is_err(),
                    "{name}: unknown accepted"
                );
                assert!(rt(name, json!(0)).is_err(), "{name}: number accepted");
            }
            "union" => {
                let variants = d["union"].as_array().unwrap();
                for v in variants {
                    let vn = v["fieldName"].as_str().unwrap();
                    let sample = json!({"type": vn, vn: ir.sample(&v["type"], 1)});
                    assert_eq!(
                        rt(name, sample.clone()).as_ref(),
                        Ok(&sample),
                        "{name}.{vn}"
                    );
                    let mut extra = sample.as_object().unwrap().clone();
                    extra.insert("zzUnknownField".into(), json!(1));
                    assert!(
                        rt(name, Value::Object(extra)).is_err(),
                        "{name}.{vn}: extra key"
                    );
                    assert!(
                        rt(name, json!({"type": vn})).is_err(),
                        "{name}.{vn}: no value"
                    );
                    assert!(
                        rt(name, json!({"type": vn, vn: ir.wrong(&v["type"])})).is_err(),
                        "{name}.{vn}: wrong value type"
                    );
                }
                assert!(
                    rt(name, json!({"type": "zzUnknown", "zzUnknown": 1})).is_err(),
                    "{name}"
                );
                assert!(rt(name, json!([])).is_err(), "{name}: array");
            }
            _ => {}
        }
    }
}

/// Inserts an unknown field into every object of `v`.
fn pollute(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for x in m.values_mut() {
                pollute(x);
            }
            m.insert("zzOktaExtra".into(), json!({"nested": [1, {"a": null}]}));
        }
        Value::Array(a) => a.iter_mut().for_each(pollute),
        _ => {}
    }
}

#[test]
fn endpoints_agree_with_ir() {
    let raw = load_ir();
    let ir = Ir::new(&raw);
    let mut seen = BTreeSet::new();
    for svc in raw["services"].as_array().unwrap() {
        let sname = svc["serviceName"]["name"].as_str().unwrap();
        for e in svc["endpoints"].as_array().unwrap() {
            let ename = e["endpointName"].as_str().unwrap();
            seen.insert(ename);
            let spec = wire::endpoints::endpoint(ename).unwrap_or_else(|| panic!("{ename}"));
            assert_eq!(spec.service, sname);
            assert_eq!(spec.method, e["httpMethod"].as_str().unwrap());
            assert_eq!(spec.path, e["httpPath"].as_str().unwrap());
            let bearer = e["auth"]["type"].as_str() == Some("header");
            assert_eq!(spec.auth == EndpointAuth::Bearer, bearer, "{ename} auth");
            assert_eq!(
                spec.returns.is_some(),
                e.get("returns").is_some_and(|r| !r.is_null())
            );
            let body = e["args"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["paramType"]["type"] == "body");
            assert_eq!(spec.body.is_some(), body.is_some(), "{ename} body");
            let okta = matches!(ename, "isEmailAllowedOkta" | "isEmailAllowedFreemiumOkta");
            assert_eq!(spec.lenient_body, okta, "{ename} leniency");
            match body {
                None => assert!(__decode_request_body(ename, b"{}").is_none()),
                Some(b) => {
                    let sample = ir.sample(&b["type"], 0);
                    let ok = __decode_request_body(ename, sample.to_string().as_bytes()).unwrap();
                    assert!(ok.is_ok(), "{ename}: sample body rejected: {ok:?}");
                    let mut polluted = sample.clone();
                    pollute(&mut polluted);
                    let res =
                        __decode_request_body(ename, polluted.to_string().as_bytes()).unwrap();
                    if polluted != sample {
                        assert_eq!(res.is_ok(), okta, "{ename}: unknown fields handling");
                    }
                }
            }
        }
    }
    assert_eq!(seen.len(), ENDPOINTS.len());
    // The sandbox secret header name used by the extractor is the IR's.
    let sandbox = raw["services"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["endpoints"].as_array().unwrap())
        .find(|e| e["endpointName"] == "issueSandboxToken")
        .unwrap();
    let header = sandbox["args"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["paramType"]["type"] == "header")
        .unwrap();
    assert_eq!(
        header["paramType"]["header"]["paramId"].as_str().unwrap(),
        wire::extract::SANDBOX_SECRET_HEADER
    );
    // The lenient closure is exactly the Okta request types.
    let lenient: BTreeSet<&str> = __LENIENT_TYPE_NAMES.iter().copied().collect();
    assert_eq!(
        lenient,
        BTreeSet::from([
            "OktaRegistrationEventData",
            "OktaRegistrationRequest",
            "OktaRegistrationUserProfile"
        ])
    );
}

#[test]
fn error_constructors_agree_with_ir() {
    let raw = load_ir();
    let rid = "ri.authn.local.organization.x";
    let made: Vec<ConjureError> = vec![
        ConjureError::authentication_multiple_users_for_same_email(),
        ConjureError::authentication_not_authorized(),
        ConjureError::authentication_not_authorized_admin(rid),
        ConjureError::authentication_org_login_activity_limit_exceeded(1001, 1000),
        ConjureError::authentication_org_not_found(),
        ConjureError::authentication_search_users_limit_exceeded(1001, 1000),
        ConjureError::authentication_user_not_found(),
        ConjureError::authorization_api_key_not_found(),
        ConjureError::authorization_invalid_jwt_audience("aud"),
        ConjureError::authorization_invalid_jwt_expired(),
        ConjureError::authorization_invalid_jwt_format(),
        ConjureError::authorization_invalid_jwt_issuer("iss"),
        ConjureError::authorization_missing_claims(["email"]),
        ConjureError::authorization_no_membership(),
        ConjureError::authorization_not_authorized(),
        ConjureError::authorization_not_authorized_admin(rid),
        ConjureError::authorization_register_resource_conflict(rid, rid),
        ConjureError::authorization_sandbox_token_unavailable(),
        ConjureError::authorization_workspace_not_found(rid),
        ConjureError::security_forbidden_cross_workspace_operation([rid]),
        ConjureError::security_workspace_not_found(rid),
        ConjureError::security_workspace_not_specified(),
    ];
    let by_name: BTreeMap<&str, &ConjureError> = made.iter().map(|e| (e.name(), e)).collect();
    let ir_errors = raw["errors"].as_array().unwrap();
    assert_eq!(ir_errors.len(), made.len());
    for e in ir_errors {
        let name = format!(
            "{}:{}",
            e["namespace"].as_str().unwrap(),
            e["errorName"]["name"].as_str().unwrap()
        );
        let ours = by_name
            .get(name.as_str())
            .unwrap_or_else(|| panic!("no constructor for {name}"));
        assert_eq!(ours.code().as_str(), e["code"].as_str().unwrap(), "{name}");
        let safe: BTreeSet<&str> = e["safeArgs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["fieldName"].as_str().unwrap())
            .collect();
        let params: BTreeSet<&str> = ours.params().keys().map(String::as_str).collect();
        assert_eq!(
            params, safe,
            "{name}: parameters must be exactly the safe args"
        );
    }
}
