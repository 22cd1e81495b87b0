//! Parsable JSON reading rules (PARSABLE.md §3) and encoding selection (§1).

use std::collections::BTreeMap;

use portcullis_parsable::wire::*;
use portcullis_thrift::{decode_struct, encode_struct};
use serde_json::{Value, json};

fn call(body: Value) -> Result<Call, Rejection> {
    decode_call(Encoding::ParsableJson, body.to_string().as_bytes()).map(|(_, c)| c)
}

fn rejected(body: Value) -> Rejection {
    match call(body.clone()) {
        Ok(c) => panic!("accepted {body}: {c:?}"),
        Err(r) => r,
    }
}

fn membership(v: Value) -> Result<TeamMembership, portcullis_thrift::DecodeError> {
    decode_struct(Encoding::ParsableJson, v.to_string().as_bytes())
}

#[test]
fn enums_by_number_numeric_string_or_name() {
    for provider in [json!(1), json!("1"), json!("OKTA")] {
        let c = call(
            json!({"method":"loginWithSSO","arguments":{"request":{"provider":provider,"token":"t"}}}),
        );
        assert_eq!(
            c.expect("accepted"),
            Call::LoginWithSso(LoginWithSsoArgs {
                request: SSORequest {
                    provider: SSOProvider::OKTA,
                    token: Some("t".into()),
                    parameter: None
                }
            })
        );
    }
    let m = membership(json!({"roles":[1,"4","PARSABLE_ADMIN"]})).expect("roles");
    assert_eq!(
        m.roles,
        vec![
            TeamRole::ADMIN,
            TeamRole::EXECUTOR,
            TeamRole::PARSABLE_ADMIN
        ]
    );
}

#[test]
fn unknown_enum_number_decodes_unknown_name_fails() {
    let c = call(json!({"method":"loginWithSSO","arguments":{"request":{"provider":7}}}))
        .expect("unknown number is kept");
    let Call::LoginWithSso(a) = c else {
        panic!("wrong call")
    };
    assert_eq!(a.request.provider, SSOProvider(7));
    assert!(!a.request.provider.is_known());
    // Same in compact and TJSON.
    let tj = br#"[1,"loginWithSSO",1,0,{"1":{"rec":{"1":{"i32":99}}}}]"#;
    let (_, c) = decode_call(Encoding::TJson, tj).expect("tjson");
    assert_eq!(
        c,
        Call::LoginWithSso(LoginWithSsoArgs {
            request: SSORequest {
                provider: SSOProvider(99),
                ..Default::default()
            }
        })
    );
    for bad in [
        json!("GOOGLE"),
        json!("okta"),
        json!(1.5),
        json!(true),
        json!("1e0"),
    ] {
        let r = rejected(json!({"method":"loginWithSSO","arguments":{"request":{"provider":bad}}}));
        assert_eq!(r.kind, TaeType::PROTOCOL_ERROR);
        let v: Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(v["method"], "loginWithSSO");
        assert_eq!(v["exception"]["type"], 7);
    }
}

#[test]
fn enum_map_keys_number_string_or_name_only() {
    #[allow(clippy::type_complexity)]
    let ok: Result<BTreeMap<TeamRole, String>, _> =
        <BTreeMap<TeamRole, String> as portcullis_thrift::ThriftType>::read_pjson(
            &json!({"1":"a","AUTHOR":"b"}),
            0,
        );
    let ok = ok.expect("keys");
    assert_eq!(ok.get(&TeamRole::ADMIN).map(String::as_str), Some("a"));
    assert_eq!(ok.get(&TeamRole::AUTHOR).map(String::as_str), Some("b"));
    assert!(
        <BTreeMap<TeamRole, String> as portcullis_thrift::ThriftType>::read_pjson(
            &json!({"x":"a"}),
            0
        )
        .is_err()
    );
}

#[test]
fn i64_and_i32_accept_digit_strings() {
    let m =
        membership(json!({"addedAt":"10000000000","updatedAt":-5,"removedAt":"-7"})).expect("ok");
    assert_eq!(
        (m.added_at, m.updated_at, m.removed_at),
        (10_000_000_000, -5, -7)
    );
    let s: UserStats = decode_struct(
        Encoding::ParsableJson,
        br#"{"completedJobs":"12","activeJobs":3}"#,
    )
    .expect("ok");
    assert_eq!((s.completed_jobs, s.active_jobs), (12, 3));
    for bad in [
        json!("12a"),
        json!(" 12"),
        json!("+1"),
        json!(""),
        json!(1.5),
        json!("1.0"),
        json!(true),
    ] {
        assert!(membership(json!({ "addedAt": bad })).is_err(), "{bad}");
    }
    // Out of range.
    assert!(
        decode_struct::<UserStats>(Encoding::ParsableJson, br#"{"activeJobs":2147483648}"#)
            .is_err()
    );
    assert!(
        decode_struct::<UserStats>(Encoding::ParsableJson, br#"{"activeJobs":"-2147483649"}"#)
            .is_err()
    );
    assert!(membership(json!({"addedAt":"9223372036854775808"})).is_err());
}

#[test]
fn null_means_unset_and_missing_arguments_are_unset() {
    let c =
        call(json!({"method":"login","arguments":{"email":"a","password":null,"options":null}}));
    assert_eq!(
        c.expect("ok"),
        Call::Login(LoginArgs {
            email: "a".into(),
            ..Default::default()
        })
    );
    for body in [
        json!({"method":"loginWithIdp"}),
        json!({"method":"loginWithIdp","arguments":null}),
        json!({"method":"loginWithIdp","arguments":{}}),
    ] {
        assert_eq!(
            call(body).expect("ok"),
            Call::LoginWithIdp(LoginWithIdpArgs::default())
        );
    }
    let o: LoginOptions = decode_struct(
        Encoding::ParsableJson,
        br#"{"proxiedUserEmail":null,"certificateSigningRequest":"csr"}"#,
    )
    .expect("ok");
    assert_eq!(o.proxied_user_email, None);
    assert_eq!(o.certificate_signing_request.as_deref(), Some("csr"));
}

#[test]
fn unknown_keys_are_ignored() {
    let c = call(json!({"method":"startLogin","id":3,"jsonrpc":"2.0",
        "arguments":{"email":"a@b","extra":{"deep":[1,2,{"x":null}]}, "Email":"ignored"}}));
    assert_eq!(
        c.expect("ok"),
        Call::StartLogin(StartLoginArgs {
            email: "a@b".into()
        })
    );
}

#[test]
fn missing_required_provider_is_an_error() {
    for req in [json!({}), json!({"token":"t"}), json!({"provider":null})] {
        let r = rejected(json!({"method":"loginWithSSO","arguments":{"request":req}}));
        assert_eq!(r.kind, TaeType::PROTOCOL_ERROR);
        assert!(r.message.contains("provider"), "{}", r.message);
    }
    // Compact and TJSON too.
    let r = decode_call(
        Encoding::TJson,
        br#"[1,"loginWithSSO",1,0,{"1":{"rec":{"2":{"str":"t"}}}}]"#,
    )
    .expect_err("missing");
    assert_eq!(r.kind, TaeType::PROTOCOL_ERROR);
    let mut b = vec![0x82, 0x21, 0x00, 12];
    b.extend_from_slice(b"loginWithSSO");
    b.extend([0x1c, 0x28, 0x01, b't', 0x00, 0x00]);
    let r = decode_call(Encoding::Compact, &b).expect_err("missing");
    assert_eq!(r.kind, TaeType::PROTOCOL_ERROR);
    b.truncate(b.len() - 6);
    b.extend([0x1c, 0x15, 0x02, 0x00, 0x00]);
    assert!(decode_call(Encoding::Compact, &b).is_ok());
}

#[test]
fn wrong_json_types_are_errors() {
    for args in [
        json!({"email": 5}),
        json!({"email": ["a"]}),
        json!({"password": true}),
        json!({"options": "x"}),
        json!({"options": {"proxiedUserEmail": 1}}),
        json!("not an object"),
        json!([1]),
    ] {
        let r = rejected(json!({"method":"login","arguments":args}));
        assert_eq!(r.kind, TaeType::PROTOCOL_ERROR, "{args}");
        assert_eq!(r.header.name, "login");
    }
    for args in [
        json!({"userIds": "u1"}),
        json!({"userIds": [1]}),
        json!({"teamId": {}}),
    ] {
        let r = rejected(json!({"method":"fetchPersistentAuthTokensMeta","arguments":args}));
        assert_eq!(r.kind, TaeType::PROTOCOL_ERROR, "{args}");
    }
    // bool: true/false only
    assert!(
        decode_struct::<UserPermissions>(Encoding::ParsableJson, br#"{"inviteUsers":1}"#).is_err()
    );
    assert!(
        decode_struct::<UserPermissions>(Encoding::ParsableJson, br#"{"inviteUsers":"true"}"#)
            .is_err()
    );
}

#[test]
fn sets_must_not_repeat_in_pjson() {
    use std::collections::BTreeSet;
    type S = BTreeSet<String>;
    let ok = <S as portcullis_thrift::ThriftType>::read_pjson(&json!(["a", "b"]), 0).expect("ok");
    assert_eq!(ok.len(), 2);
    assert!(<S as portcullis_thrift::ThriftType>::read_pjson(&json!(["a", "a"]), 0).is_err());
}

#[test]
fn server_writes_defaults_and_omits_unset_optionals() {
    let out = encode_struct(Encoding::ParsableJson, &LoginResult::default());
    let v: Value = serde_json::from_slice(&out).expect("json");
    let keys: Vec<&str> = v
        .as_object()
        .expect("obj")
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = vec![
        "authToken",
        "currentUser",
        "teamIdToTeamRole",
        "teamIdToRegionId",
        "regionIdToRegion",
        "preferredRegionId",
        "periods",
        "teamIdToJobPermissions",
        "teamIdToInfo",
        "sessionId",
        "currentUserModular",
    ];
    expected.sort_unstable();
    let mut keys = keys;
    keys.sort_unstable();
    assert_eq!(keys, expected);
    assert_eq!(
        v["currentUser"],
        json!({"id":"","email":"","name":"","validatedAt":0})
    );
    assert_eq!(
        v["periods"],
        json!({"warning":0,"lockout":0,"dump":0,"expiry":0})
    );
    // No whitespace.
    assert!(!String::from_utf8(out).expect("utf8").contains(' '));
    // Unset optional struct in a TeamSelectResult is omitted.
    let out = encode_struct(
        Encoding::ParsableJson,
        &TeamSelectResult {
            login_result: None,
            team_info: Some(vec![LoginTeamInfo {
                name: "A".into(),
                team_id: "t".into(),
            }]),
        },
    );
    assert_eq!(out, br#"{"teamInfo":[{"name":"A","teamId":"t"}]}"#.to_vec());
}

#[test]
fn strings_escape_and_unicode_roundtrip() {
    let u = User {
        id: "\"\\\n\u{1}é😀</".into(),
        ..Default::default()
    };
    for enc in [Encoding::TJson, Encoding::ParsableJson, Encoding::Compact] {
        let b = encode_struct(enc, &u);
        assert_eq!(decode_struct::<User>(enc, &b).expect("roundtrip"), u);
    }
    assert_eq!(
        encode_struct(Encoding::ParsableJson, &u),
        "{\"id\":\"\\\"\\\\\\n\\u0001é😀</\",\"email\":\"\",\"name\":\"\",\"validatedAt\":0}"
            .as_bytes()
    );
}

// ---- §1 encoding selection -------------------------------------------------------------

fn select(cts: &[&str], body: &[u8]) -> Result<(Encoding, &'static str), ContentTypeError> {
    select_encoding(cts.iter().copied(), body).map(|c| (c.encoding, c.response_content_type))
}

#[test]
fn encoding_selection_rules() {
    let compact_ct = "application/vnd.mothership.v1+x-thrift-compact";
    // Explicit types win over sniffing.
    assert_eq!(
        select(&[compact_ct], b"{"),
        Ok((Encoding::Compact, compact_ct))
    );
    assert_eq!(
        select(
            &[
                "application/x-thrift",
                "Application/Vnd.Mothership.V1+X-Thrift-Compact; charset=x"
            ],
            b"\x82"
        ),
        Ok((Encoding::Compact, compact_ct))
    );
    assert_eq!(
        select(
            &["application/x-thrift, application/vnd.apache.thrift.json"],
            b"["
        ),
        Ok((Encoding::TJson, "application/vnd.apache.thrift.json"))
    );
    assert_eq!(
        select(&["application/vnd.apache.thrift.json", compact_ct], b"["),
        Ok((Encoding::Compact, compact_ct))
    );
    // Sniffing for x-thrift, json or none.
    assert_eq!(
        select(&["application/x-thrift"], b"\x82\x21"),
        Ok((Encoding::Compact, "application/x-thrift"))
    );
    assert_eq!(
        select(&["application/x-thrift"], b"[1,"),
        Ok((Encoding::TJson, "application/x-thrift"))
    );
    assert_eq!(
        select(&["application/json; charset=utf-8"], b" \n\t{\"method\""),
        Ok((Encoding::ParsableJson, "application/json; charset=utf-8"))
    );
    assert_eq!(
        select(&[], b"{}"),
        Ok((Encoding::ParsableJson, "application/json; charset=utf-8"))
    );
    assert_eq!(
        select(&[""], b"[1]"),
        Ok((Encoding::TJson, "application/x-thrift"))
    );
    assert_eq!(
        select(&["APPLICATION/JSON"], b"\r\n[1]"),
        Ok((Encoding::TJson, "application/x-thrift"))
    );
    // Unsupported.
    assert_eq!(
        select(&["text/plain"], b"{}"),
        Err(ContentTypeError::UnsupportedMediaType)
    );
    assert_eq!(
        select(&["application/x-thrift"], b"\x80\x01\x00\x01"),
        Err(ContentTypeError::UnrecognizedBody)
    );
    assert_eq!(select(&[], b""), Err(ContentTypeError::UnrecognizedBody));
    assert_eq!(
        select(&["application/json"], b"   "),
        Err(ContentTypeError::UnrecognizedBody)
    );
    // Non-UTF-8 header value counts as an unknown type.
    assert_eq!(
        select_encoding([&b"\xff\xfe"[..]], b"{}").map(|c| c.encoding),
        Err(ContentTypeError::UnsupportedMediaType)
    );
}

#[test]
fn sniffed_compact_body_with_leading_whitespace_decodes() {
    let body = b"\n \x82\x21\x00\x06logout\x00";
    let choice = select_encoding(["application/x-thrift"], body).expect("compact");
    assert_eq!(choice.encoding, Encoding::Compact);
    let (_, c) = decode_call(choice.encoding, body).expect("decodes");
    assert_eq!(c, Call::Logout);
}
