//! The endpoint table and the request-body decoder dispatcher.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::Value;

use crate::Res;
use crate::ir::{Model, Ty, endpoints, parse_ty, str_of};
use crate::naming::{conjure_name, opt_str};

impl Model {
    pub(crate) fn gen_endpoints(&self, ir: &Value) -> Res<String> {
        let empty = BTreeSet::new();
        let mut s = String::new();
        s.push_str(&self.header());
        s.push_str("/// Every endpoint of the IR (paths are IR paths; serve them under `/api`).\npub const ENDPOINTS: &[EndpointSpec] = &[\n");
        let mut decoders = String::new();
        let mut reencoders = String::new();
        let mut names = BTreeSet::new();
        for (svc_name, e) in endpoints(ir)? {
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
            let lenient = self.opts.lenient_endpoints.iter().any(|e| e == ep);
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
                // The lenient bodies re-encode as their strict type (the handler's view).
                let strict = self.rust_ty(b, &empty)?;
                let decode = if lenient {
                    "decode_lenient"
                } else {
                    "decode_strict"
                };
                writeln!(
                    reencoders,
                    "        {ep:?} => crate::wire::extract::{decode}::<{strict}>(bytes).map(|v| ::serde_json::to_vec(&v)),"
                )?;
            }
        }
        s.push_str("];\n\n");
        s.push_str("/// Decodes `bytes` as the body type of endpoint `endpoint` (lenient for the Okta hooks),\n/// discarding the value. `None` when the endpoint has no body.\n#[doc(hidden)]\npub fn __decode_request_body(endpoint: &str, bytes: &[u8]) -> Option<Result<(), crate::wire::ConjureError>> {\n    Some(match endpoint {\n");
        s.push_str(&decoders);
        s.push_str("        _ => return None,\n    })\n}\n\n");
        s.push_str("/// Decodes `bytes` as the body type of endpoint `endpoint` as its handler would, then\n/// serialises the value again (for round-trip fuzzing). `None` when the endpoint has no body.\n#[doc(hidden)]\npub fn __reencode_request_body(endpoint: &str, bytes: &[u8]) -> Option<Result<::serde_json::Result<Vec<u8>>, crate::wire::ConjureError>> {\n    Some(match endpoint {\n");
        s.push_str(&reencoders);
        s.push_str("        _ => return None,\n    })\n}\n");
        Ok(s)
    }
}
