//! Hand-written wire cases for NOMINAL.md §2/§3/§9.

use std::collections::{BTreeMap, BTreeSet};

use portcullis_nominal::wire::{
    self, ConjureDateTime, ConjureUuid, OktaRegistrationRequest, Rid, RidError, SafeLong,
    decode_lenient, decode_strict,
};
use serde_json::{Value, json};

fn strict<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, String> {
    decode_strict::<T>(v.to_string().as_bytes()).map_err(|e| format!("{e:?}"))
}

fn enc<T: serde::Serialize>(t: &T) -> Value {
    serde_json::to_value(t).unwrap()
}

const USER: &str = "ri.authn.local.user.0b6a3c2e-8d1f-4f7e-9a55-3c1d2e4f5a6b";
const ORG: &str = "ri.authn.local.organization.7c9e6679-7425-40de-944b-e07fc1f90ae7";
const WS: &str = "ri.security.local.workspace.1f0e2d3c-4b5a-4968-8776-a5b4c3d2e1f0";

// ------------------------------------------------------------ objects

#[test]
fn python_client_nulls_are_absent_optionals() {
    let req: wire::GetAccessTokenRequest = strict(json!({
        "idToken": "eyJ.a.b", "accessToken": null, "orgRid": null, "workspaceRid": null
    }))
    .unwrap();
    assert_eq!(req.id_token, "eyJ.a.b");
    assert!(req.access_token.is_none() && req.org_rid.is_none() && req.workspace_rid.is_none());
    // Absent optionals are omitted on output, never written as null.
    assert_eq!(enc(&req), json!({"idToken": "eyJ.a.b"}));

    let missing: wire::GetAccessTokenRequest = strict(json!({"idToken": "x"})).unwrap();
    assert_eq!(
        missing,
        wire::GetAccessTokenRequest {
            id_token: "x".into(),
            ..req.clone()
        }
    );
}

#[test]
fn round_trip_full_object() {
    let v = json!({
        "idToken": "t", "accessToken": "a", "orgRid": ORG, "workspaceRid": WS
    });
    let req: wire::GetAccessTokenRequest = strict(v.clone()).unwrap();
    assert_eq!(
        req.org_rid.as_ref().unwrap().resource_type(),
        "organization"
    );
    assert_eq!(enc(&req), v);
}

#[test]
fn required_fields_missing_or_null_rejected() {
    assert!(strict::<wire::GetAccessTokenRequest>(json!({})).is_err());
    assert!(strict::<wire::GetAccessTokenRequest>(json!({"idToken": null})).is_err());
    assert!(strict::<wire::SetUserOrgRequest>(json!({"orgRid": null})).is_err());
    assert!(strict::<wire::SortBy>(json!({"isDescending": true})).is_err());
}

#[test]
fn no_type_coercion() {
    assert!(strict::<wire::IsEmailAllowedResponse>(json!({"allowed": "true"})).is_err());
    assert!(strict::<wire::IsEmailAllowedResponse>(json!({"allowed": 1})).is_err());
    assert!(strict::<wire::ListApiKeyRequest>(json!({"pageSize": "5"})).is_err());
    assert!(strict::<wire::ListApiKeyRequest>(json!({"pageSize": 5.5})).is_err());
    assert!(strict::<wire::ListApiKeyRequest>(json!({"pageSize": 2147483648i64})).is_err());
    assert!(strict::<wire::IsEmailAllowedRequest>(json!({"email": 5})).is_err());
    // Objects must be JSON objects, not arrays (serde's derive would accept these).
    assert!(strict::<wire::IsEmailAllowedRequest>(json!(["a@b.c"])).is_err());
    assert!(strict::<wire::RemoveType>(json!([])).is_err());
}

#[test]
fn unknown_and_duplicate_fields_rejected_at_every_level() {
    assert!(strict::<wire::GetAccessTokenRequest>(json!({"idToken": "x", "extra": 1})).is_err());
    // Nested object.
    assert!(
        strict::<wire::SearchUsersRequest>(json!({
            "query": {"type": "exactMatch", "exactMatch": "a@b.c"},
            "sortBy": {"isDescending": true, "field": "NAME", "x": 0}
        }))
        .is_err()
    );
    // Nested in union inside object.
    assert!(
        strict::<wire::UpdateWorkspaceRequest>(json!({
            "displayName": {"type": "removeType", "removeType": {"x": 1}}
        }))
        .is_err()
    );
    // Duplicate keys.
    assert!(decode_strict::<wire::IsEmailAllowedRequest>(br#"{"email":"a","email":"b"}"#).is_err());
    // Wrong case is an unknown field.
    assert!(strict::<wire::IsEmailAllowedRequest>(json!({"Email": "a"})).is_err());
}

#[test]
fn collections_missing_or_null_are_empty_and_always_written() {
    let a: wire::AuthorizationRequest = strict(json!({})).unwrap();
    assert!(a.rids.is_empty());
    let b: wire::AuthorizationRequest = strict(json!({"rids": null})).unwrap();
    assert!(b.rids.is_empty());
    assert_eq!(enc(&b), json!({"rids": []}));

    let orgs: wire::GetUserOrgsResponse = strict(json!({"orgs": null})).unwrap();
    assert_eq!(enc(&orgs), json!({"orgs": {}, "orgDisplayNames": {}}));

    let resp = wire::ListApiKeyResponse {
        api_keys: BTreeSet::new(),
        next_page_token: None,
    };
    assert_eq!(enc(&resp), json!({"apiKeys": []}));
}

#[test]
fn sets_tolerate_duplicates_and_never_write_them() {
    let a: wire::AuthorizationRequest = strict(json!({"rids": [USER, ORG, USER]})).unwrap();
    assert_eq!(a.rids.len(), 2);
    let out = enc(&a);
    assert_eq!(out["rids"].as_array().unwrap().len(), 2);
    // Bare set body (batchGetWorkspaceForResource) and map return.
    let body: BTreeSet<Rid> = decode_strict(format!(r#"["{USER}","{USER}"]"#).as_bytes()).unwrap();
    assert_eq!(body.len(), 1);
    let mut m: BTreeMap<Rid, wire::WorkspaceRid> = BTreeMap::new();
    m.insert(USER.parse().unwrap(), WS.parse().unwrap());
    assert_eq!(enc(&m), json!({ USER: WS }));
    let empty: BTreeMap<Rid, wire::WorkspaceRid> = BTreeMap::new();
    assert_eq!(serde_json::to_string(&empty).unwrap(), "{}");
}

#[test]
fn uuid_map_keys() {
    let v =
        json!({"orgs": {"7C9E6679-7425-40DE-944B-E07FC1F90AE7": "Acme"}, "orgDisplayNames": {}});
    let r: wire::GetUserOrgsResponse = strict(v).unwrap();
    assert_eq!(
        enc(&r)["orgs"],
        json!({"7c9e6679-7425-40de-944b-e07fc1f90ae7": "Acme"})
    );
    assert!(strict::<wire::GetUserOrgsResponse>(json!({"orgs": {"not-a-uuid": "x"}})).is_err());
}

#[test]
fn workspace_settings_always_present_and_secret_debug_redacted() {
    let ws: wire::Workspace = strict(json!({
        "id": "main", "rid": WS, "org": ORG, "settings": {}
    }))
    .unwrap();
    assert_eq!(
        enc(&ws),
        json!({"id": "main", "rid": WS, "org": ORG, "settings": {}})
    );
    assert!(strict::<wire::Workspace>(json!({"id": "main", "rid": WS, "org": ORG})).is_err());

    let key = wire::GetAccessTokenFromApiKeyRequest {
        api_key_value: "nominal_api_key_SECRET".into(),
    };
    assert!(!format!("{key:?}").contains("SECRET"));
}

// ------------------------------------------------------------ enums & unions

#[test]
fn enums_are_upper_case_and_strict() {
    let s: wire::SortBy = strict(json!({"isDescending": false, "field": "UPDATED_AT"})).unwrap();
    assert_eq!(s.field, wire::SortByField::UpdatedAt);
    assert_eq!(
        enc(&s),
        json!({"isDescending": false, "field": "UPDATED_AT"})
    );
    for bad in [
        json!("updated_at"),
        json!("UNKNOWN"),
        json!(1),
        json!({"NAME": null}),
    ] {
        assert!(
            strict::<wire::SortBy>(json!({"isDescending": false, "field": bad})).is_err(),
            "{bad}"
        );
    }
    assert_eq!(
        "PRIMARY".parse::<wire::SandboxWorkspace>().unwrap(),
        wire::SandboxWorkspace::Primary
    );
}

#[test]
fn unions() {
    let v = json!({"type": "removeType", "removeType": {}});
    let u: wire::UpdateOrRemoveWorkspaceSymbol = strict(v.clone()).unwrap();
    assert!(matches!(
        u,
        wire::UpdateOrRemoveWorkspaceSymbol::RemoveType(_)
    ));
    assert_eq!(enc(&u), v);

    // Key order does not matter.
    let d: wire::UpdateOrRemoveWorkspaceDisplayName =
        decode_strict(br#"{"displayName":"Main","type":"displayName"}"#).unwrap();
    assert_eq!(
        d,
        wire::UpdateOrRemoveWorkspaceDisplayName::DisplayName("Main".into())
    );

    // Nested union.
    let q = json!({"type": "and", "and": [
        {"type": "exactMatch", "exactMatch": "a@b.c"},
        {"type": "or", "or": [{"type": "searchText", "searchText": "ada"}]}
    ]});
    let parsed: wire::SearchUsersQuery = strict(q.clone()).unwrap();
    assert_eq!(enc(&parsed), q);

    for bad in [
        json!({"type": "nope", "nope": 1}),
        json!({"type": "displayName"}),
        json!({"displayName": "x"}),
        json!({"type": "displayName", "displayName": "x", "extra": 1}),
        json!({"type": "displayName", "removeType": {}}),
        json!({"type": "displayName", "displayName": "x", "removeType": {}}),
        json!({"type": "displayName", "displayName": null}),
        json!({"type": "DisplayName", "DisplayName": "x"}),
        json!("displayName"),
    ] {
        assert!(
            strict::<wire::UpdateOrRemoveWorkspaceDisplayName>(bad.clone()).is_err(),
            "{bad}"
        );
    }
}

// ------------------------------------------------------------ Okta

const OKTA_EXAMPLE: &str = r#"{"eventId":"3o9jBzq1SmOGmmsDsqyyeQ","eventTime":"2025-06-01T10:00:00.000Z","eventType":"com.okta.user.pre-registration",
 "eventTypeVersion":"1.0","contentType":"application/json","cloudEventVersion":"0.1","source":"https://acme.okta.com/api/v1/inlineHooks/cal0ab12",
 "requestType":"self.service.registration",
 "data":{"context":{"request":{"id":"reqXyz","method":"POST","url":{"value":"/idp/idx/enroll/new"},"ipAddress":"203.0.113.7"}},
         "userProfile":{"firstName":"Ada","lastName":"Byron","login":"ada@example.com","email":"ada@example.com"},
         "action":"ALLOW"}}"#;

#[test]
fn okta_example_lenient_but_strict_rejects() {
    let req: OktaRegistrationRequest = decode_lenient(OKTA_EXAMPLE.as_bytes()).unwrap();
    assert_eq!(req.request_type, "self.service.registration");
    assert_eq!(req.data.user_profile.email, "ada@example.com");
    // The same payload is rejected by the strict decoder.
    let strict_err = decode_strict::<OktaRegistrationRequest>(OKTA_EXAMPLE.as_bytes()).unwrap_err();
    assert_eq!(strict_err.name(), "Default:InvalidArgument");
    // Lenient still requires the Conjure-required fields and their types.
    for bad in [
        r#"{"requestType":"x","data":{"userProfile":{"login":"a"}}}"#,
        r#"{"requestType":"x","data":{"userProfile":{"email":null}}}"#,
        r#"{"requestType":"x","data":{"userProfile":{"email":5}}}"#,
        r#"{"data":{"userProfile":{"email":"a@b.c"}}}"#,
        r#"{"requestType":"x","data":{}}"#,
        r#"{"requestType":"x","data":[]}"#,
        r#"["x"]"#,
    ] {
        let e = decode_lenient::<OktaRegistrationRequest>(bad.as_bytes()).unwrap_err();
        assert_eq!(e.name(), "Default:InvalidArgument", "{bad}");
    }
}

#[test]
fn okta_responses_match_spec_examples() {
    let allow = wire::OktaRegistrationResponse {
        commands: vec![wire::OktaUpdateActionCommand {
            type_: "com.okta.action.update".into(),
            value: wire::OktaUpdateActionValue {
                registration: wire::OktaRegistrationStatus::Allow,
            },
        }],
        error: None,
    };
    assert_eq!(
        serde_json::to_string(&allow).unwrap(),
        r#"{"commands":[{"type":"com.okta.action.update","value":{"registration":"ALLOW"}}]}"#
    );
    let deny = wire::OktaRegistrationResponse {
        commands: vec![wire::OktaUpdateActionCommand {
            type_: "com.okta.action.update".into(),
            value: wire::OktaUpdateActionValue {
                registration: wire::OktaRegistrationStatus::Deny,
            },
        }],
        error: Some(wire::OktaRegistrationError {
            error_summary: "Registration is not open for this address.".into(),
            error_causes: Some(vec![wire::OktaRegistrationErrorCause {
                error_summary: "Sign-up is limited to approved email domains.".into(),
                reason: Some("EMAIL_NOT_ALLOWED".into()),
                location_type: Some("body".into()),
                location: Some("data.userProfile.email".into()),
                domain: Some("end-user".into()),
            }]),
        }),
    };
    let expected: Value = serde_json::from_str(
        r#"{"commands":[{"type":"com.okta.action.update","value":{"registration":"DENY"}}],
          "error":{"errorSummary":"Registration is not open for this address.",
          "errorCauses":[{"errorSummary":"Sign-up is limited to approved email domains.","reason":"EMAIL_NOT_ALLOWED",
                          "locationType":"body","location":"data.userProfile.email","domain":"end-user"}]}}"#,
    )
    .unwrap();
    assert_eq!(enc(&deny), expected);
}

// ------------------------------------------------------------ primitives

#[test]
fn safelong_range_and_integrality() {
    let max = (1i64 << 53) - 1;
    for ok in [json!(0), json!(max), json!(-max), json!(-0)] {
        let r: wire::CreateApiKeyRequest =
            strict(json!({"apiKeyName": "k", "expiresAfterDays": ok})).unwrap();
        assert!(r.expires_after_days.is_some());
    }
    for bad in [
        json!(max + 1),
        json!(-max - 1),
        json!(u64::MAX),
        json!(1.5),
        json!(1.0),
        json!(1e3),
        json!("5"),
        json!(true),
    ] {
        assert!(
            strict::<wire::CreateApiKeyRequest>(
                json!({"apiKeyName": "k", "expiresAfterDays": bad})
            )
            .is_err(),
            "{bad}"
        );
    }
    // Raw text forms serde_json would otherwise parse as numbers.
    for raw in [
        "1e2",
        "1.0",
        "9007199254740992",
        "18446744073709551616",
        "-9007199254740992",
    ] {
        let body = format!(r#"{{"apiKeyName":"k","expiresAfterDays":{raw}}}"#);
        assert!(
            decode_strict::<wire::CreateApiKeyRequest>(body.as_bytes()).is_err(),
            "{raw}"
        );
    }
    assert!(SafeLong::new(max + 1).is_err());
    assert_eq!(SafeLong::MAX.get(), max);
    assert_eq!(enc(&SafeLong::new(-5).unwrap()), json!(-5));
}

#[test]
fn datetime_parse_and_format() {
    let cases = [
        ("2025-06-01T10:00:00Z", "2025-06-01T10:00:00.000Z"),
        ("2025-06-01T10:00:00.123456789Z", "2025-06-01T10:00:00.123Z"),
        ("2025-06-01T12:30:00.5+02:30", "2025-06-01T10:00:00.500Z"),
        ("2025-06-01T00:00:00-05:00", "2025-06-01T05:00:00.000Z"),
        ("2024-12-31T23:59:59.999-00:00", "2024-12-31T23:59:59.999Z"),
        ("2025-06-01t10:00:00z", "2025-06-01T10:00:00.000Z"),
    ];
    for (input, out) in cases {
        let d: ConjureDateTime = serde_json::from_value(json!(input)).unwrap();
        assert_eq!(enc(&d), json!(out), "{input}");
    }
    for bad in [
        "2025-06-01T10:00:00",
        "2025-06-01 10:00:00Z",
        "2025-06-01",
        "2025-13-01T10:00:00Z",
        "2025-06-01T25:00:00Z",
        "2025-06-01T10:00:00+0200",
        "2025-06-01T10:00:00+02",
        "1717236000",
        "",
    ] {
        assert!(
            serde_json::from_value::<ConjureDateTime>(json!(bad)).is_err(),
            "{bad}"
        );
    }
    assert!(serde_json::from_value::<ConjureDateTime>(json!(1717236000)).is_err());
}

#[test]
fn uuid_any_case_in_lowercase_out() {
    let u: ConjureUuid =
        serde_json::from_value(json!("0B6A3C2E-8D1F-4F7E-9A55-3C1D2E4F5A6B")).unwrap();
    assert_eq!(enc(&u), json!("0b6a3c2e-8d1f-4f7e-9a55-3c1d2e4f5a6b"));
    for bad in [
        "0b6a3c2e8d1f4f7e9a553c1d2e4f5a6b",
        "{0b6a3c2e-8d1f-4f7e-9a55-3c1d2e4f5a6b}",
        "urn:uuid:0b6a3c2e-8d1f-4f7e-9a55-3c1d2e4f5a6b",
        "0b6a3c2e-8d1f-4f7e-9a55-3c1d2e4f5a6",
        "0b6a3c2e-8d1f-4f7e-9a55-3c1d2e4f5a6g",
        "0b6a3c2e+8d1f-4f7e-9a55-3c1d2e4f5a6b",
    ] {
        assert!(
            serde_json::from_value::<ConjureUuid>(json!(bad)).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn rid_grammar() {
    let r = Rid::parse("ri.authn.local.user.0b6a3c2e-8d1f-4f7e-9a55-3c1d2e4f5a6b").unwrap();
    assert_eq!(r.service(), "authn");
    assert_eq!(r.instance(), "local");
    assert_eq!(r.resource_type(), "user");
    assert_eq!(r.locator(), "0b6a3c2e-8d1f-4f7e-9a55-3c1d2e4f5a6b");

    let empty_instance = Rid::parse("ri.scout..notebook.a.b.c_D-9").unwrap();
    assert_eq!(empty_instance.instance(), "");
    assert_eq!(empty_instance.resource_type(), "notebook");
    assert_eq!(empty_instance.locator(), "a.b.c_D-9");

    for good in ["ri.a.b.c.d", "ri.a-1.0x.t-2.X", "ri.s.1.t...."] {
        assert!(Rid::parse(good).is_ok(), "{good}");
    }
    let bad: [(&str, RidError); 10] = [
        ("", RidError::MissingPrefix),
        ("rid.a.b.c.d", RidError::MissingPrefix),
        ("RI.a.b.c.d", RidError::MissingPrefix),
        ("ri.a.b.c", RidError::MissingPart),
        ("ri.a.b.c.", RidError::InvalidPart { part: "locator" }),
        ("ri.A.b.c.d", RidError::InvalidPart { part: "service" }),
        ("ri.1a.b.c.d", RidError::InvalidPart { part: "service" }),
        ("ri.a.-b.c.d", RidError::InvalidPart { part: "instance" }),
        ("ri.a.b.C.d", RidError::InvalidPart { part: "type" }),
        ("ri.a.b.c.d/e", RidError::InvalidPart { part: "locator" }),
    ];
    for (s, e) in bad {
        assert_eq!(Rid::parse(s).unwrap_err(), e, "{s}");
    }
    for s in [
        "ri.a.b.c.d e",
        "ri..b.c.d",
        "ri.a.b..d",
        "ri.a.b.c.dé",
        "ri.a_b.c.d.e",
    ] {
        assert!(Rid::parse(s).is_err(), "{s}");
    }
    assert_eq!(
        Rid::new("authn", "local", "api-key", "x").unwrap().as_str(),
        "ri.authn.local.api-key.x"
    );
    // In a body, a malformed RID is a 400.
    let e =
        decode_strict::<wire::SetUserOrgRequest>(br#"{"orgRid":"ri.authn.local.organization"}"#)
            .unwrap_err();
    assert_eq!(e.status().as_u16(), 400);
}

#[test]
fn malformed_json_is_invalid_argument() {
    for raw in [
        &b""[..],
        b"{",
        b"{}}",
        b"nul",
        b"{\"email\":\"a\"} x",
        b"\xff\xfe",
        b"{\"email\":\"\\ud800\"}",
    ] {
        let e = decode_strict::<wire::IsEmailAllowedRequest>(raw).unwrap_err();
        assert_eq!(e.name(), "Default:InvalidArgument");
        assert_eq!(e.status().as_u16(), 400);
    }
}
