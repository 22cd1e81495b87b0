//! Byte-exact reproduction of the worked examples of PARSABLE.md §3, §4 and §5.

use std::collections::BTreeMap;

use portcullis_parsable::wire::*;
use serde_json::{Value, json};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

const LOGIN_REQ: &str = "822100056c6f67696e180f616e6e406578616d706c652e636f6d180270771c0000";
const LOGIN_OK: &str = "824100056c6f67696e0c001804746f6b311c18027531180f616e6e406578616d706c652e636f6d\
    1803416e6e1680c0f0f50b001b01890274312502081b01880274310275731b018c02757318027573180f617069\
    2e6578616d706c652e6e6574180f7369672e6578616d706c652e6e657418127374617469632e6578616d706c65\
    2e6e657400180275731c1680e29c021680b4bc0216001680b4bc02001b001b00380273312c18027531180f616e\
    6e406578616d706c652e636f6d1803416e6e1680c0f0f50b000000";
const LOGIN_ERR: &str = "824100056c6f67696e1c15a2061819496e76616c696420656d61696c206f722070617373\
    776f72641819496e76616c696420656d61696c206f722070617373776f72641813696e76616c69642d63726564\
    656e7469616c73180272310000";
const UNKNOWN: &str =
    "826100096c6f67696e55736572181a556e6b6e6f776e2066756e6374696f6e206c6f67696e55736572150200";

/// The placeholder LoginResult of the examples (fields 8/9 empty, field 14 = fields 1-4).
fn example_login_result() -> LoginResult {
    let user = User {
        id: "u1".into(),
        email: "ann@example.com".into(),
        name: "Ann".into(),
        validated_at: 1_600_000_000,
    };
    LoginResult {
        auth_token: "tok1".into(),
        current_user: user.clone(),
        team_id_to_team_role: BTreeMap::from([(
            "t1".to_owned(),
            vec![TeamRole::ADMIN, TeamRole::EXECUTOR],
        )]),
        team_id_to_region_id: BTreeMap::from([("t1".to_owned(), "us".to_owned())]),
        region_id_to_region: BTreeMap::from([(
            "us".to_owned(),
            Region {
                id: "us".into(),
                api_host: "api.example.net".into(),
                sig_host: "sig.example.net".into(),
                static_host: "static.example.net".into(),
            },
        )]),
        preferred_region_id: "us".into(),
        periods: AuthPeriods {
            warning: 2_332_800,
            lockout: 2_592_000,
            dump: 0,
            expiry: 2_592_000,
        },
        team_id_to_job_permissions: BTreeMap::new(),
        team_id_to_info: BTreeMap::new(),
        mothership_certificate: None,
        user_certificate: None,
        session_id: "s1".into(),
        proxy_user_email: None,
        current_user_modular: UserModular {
            id: user.id,
            email: user.email,
            name: user.name,
            validated_at: user.validated_at,
            ..Default::default()
        },
        user_pin_hash: None,
    }
}

fn wrong_password() -> SystemException {
    SystemException {
        error_code: ErrorCode::UNAUTHORIZED,
        message: "Invalid email or password".into(),
        localized_message: "Invalid email or password".into(),
        slug: "invalid-credentials".into(),
        rq_id: "r1".into(),
        error_key: None,
    }
}

fn expected_login_args() -> LoginArgs {
    LoginArgs {
        email: "ann@example.com".into(),
        password: "pw".into(),
        options: LoginOptions::default(),
    }
}

fn decode_ok(enc: Encoding, body: &[u8]) -> (CallHeader, Call) {
    match decode_call(enc, body) {
        Ok(x) => x,
        Err(r) => panic!("rejected: {r:?}"),
    }
}

fn login_header() -> CallHeader {
    CallHeader {
        method: Method::Login,
        seqid: 0,
    }
}

fn json_bytes(b: &[u8]) -> Value {
    serde_json::from_slice(b).expect("valid JSON")
}

// ---- §4 compact ------------------------------------------------------------------------

#[test]
fn compact_login_request_decodes() {
    let body = hex(LOGIN_REQ);
    assert_eq!(body.len(), 33);
    let (h, call) = decode_ok(Encoding::Compact, &body);
    assert_eq!(h, login_header());
    assert_eq!(call, Call::Login(expected_login_args()));
}

#[test]
fn compact_login_request_reencodes_byte_exact() {
    let body = portcullis_thrift::encode_struct(Encoding::Compact, &expected_login_args());
    // The request minus its 9-byte envelope is the login_args struct.
    assert_eq!(body, hex(LOGIN_REQ)[9..].to_vec());
}

#[test]
fn compact_login_success_reply_byte_exact() {
    let out = encode_reply(
        Encoding::Compact,
        &login_header(),
        Outcome::LoginResult(example_login_result()),
    );
    assert_eq!(out.len(), 201);
    assert_eq!(out, hex(LOGIN_OK));
}

#[test]
fn compact_login_error_reply_byte_exact() {
    let out = encode_reply(
        Encoding::Compact,
        &login_header(),
        Outcome::Err(wrong_password()),
    );
    assert_eq!(out.len(), 94);
    assert_eq!(out, hex(LOGIN_ERR));
}

#[test]
fn compact_logout_request_and_reply() {
    let (h, call) = decode_ok(Encoding::Compact, &hex("822100066c6f676f757400"));
    assert_eq!(
        h,
        CallHeader {
            method: Method::Logout,
            seqid: 0
        }
    );
    assert_eq!(call, Call::Logout);
    assert_eq!(
        encode_reply(Encoding::Compact, &h, Outcome::Void),
        hex("824100066c6f676f757400")
    );
}

#[test]
fn compact_unknown_method_exception_byte_exact() {
    let req = hex("822100096c6f67696e5573657200");
    let rej = decode_call(Encoding::Compact, &req).expect_err("unknown method");
    assert_eq!(rej.kind, TaeType::UNKNOWN_METHOD);
    assert_eq!(rej.message, "Unknown function loginUser");
    assert_eq!(rej.body, hex(UNKNOWN));
}

#[test]
fn compact_reply_echoes_seqid() {
    // Java clients count seqids up.
    let mut req = hex(LOGIN_REQ);
    req[2] = 0x2a;
    let (h, _) = decode_ok(Encoding::Compact, &req);
    assert_eq!(h.seqid, 42);
    let out = encode_reply(Encoding::Compact, &h, Outcome::Err(wrong_password()));
    assert_eq!(&out[..3], &[0x82, 0x41, 0x2a]);
}

// ---- §5 TJSON --------------------------------------------------------------------------

const TJSON_OK: &str = r#"[1,"login",2,0,{"0":{"rec":{"1":{"str":"tok1"},"2":{"rec":{"1":{"str":"u1"},"2":{"str":"ann@example.com"},"3":{"str":"Ann"},"4":{"i64":1600000000}}},"3":{"map":["str","lst",1,{"t1":["i32",2,1,4]}]},"4":{"map":["str","str",1,{"t1":"us"}]},"5":{"map":["str","rec",1,{"us":{"1":{"str":"us"},"2":{"str":"api.example.net"},"3":{"str":"sig.example.net"},"4":{"str":"static.example.net"}}}]},"6":{"str":"us"},"7":{"rec":{"1":{"i64":2332800},"2":{"i64":2592000},"3":{"i64":0},"4":{"i64":2592000}}},"8":{"map":["str","rec",0,{}]},"9":{"map":["str","rec",0,{}]},"12":{"str":"s1"},"14":{"rec":{"1":{"str":"u1"},"2":{"str":"ann@example.com"},"3":{"str":"Ann"},"4":{"i64":1600000000}}}}}}]"#;
const TJSON_ERR: &str = r#"[1,"login",2,0,{"1":{"rec":{"1":{"i32":401},"2":{"str":"Invalid email or password"},"3":{"str":"Invalid email or password"},"4":{"str":"invalid-credentials"},"5":{"str":"r1"}}}}]"#;

#[test]
fn tjson_login_request_decodes() {
    let req = r#"[1,"login",1,0,{"1":{"str":"ann@example.com"},"2":{"str":"pw"},"3":{"rec":{}}}]"#;
    let (h, call) = decode_ok(Encoding::TJson, req.as_bytes());
    assert_eq!(h, login_header());
    assert_eq!(call, Call::Login(expected_login_args()));
    // and tolerates whitespace
    let spaced = " [ 1 , \"login\" ,1,0, {\"1\" : {\"str\":\"ann@example.com\"},\"2\":{\"str\":\"pw\"},\"3\":{\"rec\":{}}} ]\n";
    assert_eq!(
        decode_ok(Encoding::TJson, spaced.as_bytes()).1,
        Call::Login(expected_login_args())
    );
}

#[test]
fn tjson_login_success_reply_exact() {
    let out = encode_reply(
        Encoding::TJson,
        &login_header(),
        Outcome::LoginResult(example_login_result()),
    );
    assert_eq!(String::from_utf8(out).expect("utf8"), TJSON_OK);
}

#[test]
fn tjson_login_error_reply_exact() {
    let out = encode_reply(
        Encoding::TJson,
        &login_header(),
        Outcome::Err(wrong_password()),
    );
    assert_eq!(String::from_utf8(out).expect("utf8"), TJSON_ERR);
}

#[test]
fn tjson_logout_and_unknown() {
    let (h, call) = decode_ok(Encoding::TJson, br#"[1,"logout",1,0,{}]"#);
    assert_eq!(call, Call::Logout);
    assert_eq!(
        encode_reply(Encoding::TJson, &h, Outcome::Void),
        br#"[1,"logout",2,0,{}]"#.to_vec()
    );
    let rej = decode_call(Encoding::TJson, br#"[1,"loginUser",1,0,{}]"#).expect_err("unknown");
    assert_eq!(
        String::from_utf8(rej.body).expect("utf8"),
        r#"[1,"loginUser",3,0,{"1":{"str":"Unknown function loginUser"},"2":{"i32":1}}]"#
    );
}

// ---- §3 Parsable JSON ------------------------------------------------------------------

#[test]
fn pjson_login_request_decodes() {
    let req = br#"{"method":"login","arguments":{"email":"ann@example.com","password":"pw"}}"#;
    let (h, call) = decode_ok(Encoding::ParsableJson, req);
    assert_eq!(h, login_header());
    assert_eq!(call, Call::Login(expected_login_args()));
}

#[test]
fn pjson_login_success_reply_exact() {
    let expected = r#"{"method":"login","result":{"success":{"authToken":"tok1","currentUser":{"id":"u1","email":"ann@example.com","name":"Ann","validatedAt":1600000000},"teamIdToTeamRole":{"t1":[1,4]},"teamIdToRegionId":{"t1":"us"},"regionIdToRegion":{"us":{"id":"us","apiHost":"api.example.net","sigHost":"sig.example.net","staticHost":"static.example.net"}},"preferredRegionId":"us","periods":{"warning":2332800,"lockout":2592000,"dump":0,"expiry":2592000},"teamIdToJobPermissions":{},"teamIdToInfo":{},"sessionId":"s1","currentUserModular":{"id":"u1","email":"ann@example.com","name":"Ann","validatedAt":1600000000}}}}"#;
    let out = encode_reply(
        Encoding::ParsableJson,
        &login_header(),
        Outcome::LoginResult(example_login_result()),
    );
    assert_eq!(json_bytes(&out), json_bytes(expected.as_bytes()));
    assert_eq!(String::from_utf8(out).expect("utf8"), expected);
}

#[test]
fn pjson_login_error_reply_exact() {
    let out = encode_reply(
        Encoding::ParsableJson,
        &login_header(),
        Outcome::Err(wrong_password()),
    );
    assert_eq!(
        json_bytes(&out),
        json!({"method":"login","result":{"err":{"errorCode":401,"message":"Invalid email or password",
            "localizedMessage":"Invalid email or password","slug":"invalid-credentials","rqId":"r1"}}})
    );
}

#[test]
fn pjson_void_and_unknown() {
    let (h, call) = decode_ok(Encoding::ParsableJson, br#"{"method":"logout"}"#);
    assert_eq!(call, Call::Logout);
    assert_eq!(
        encode_reply(Encoding::ParsableJson, &h, Outcome::Void),
        br#"{"method":"logout","result":{}}"#.to_vec()
    );
    let rej = decode_call(
        Encoding::ParsableJson,
        br#"{"method":"loginUser","arguments":{}}"#,
    )
    .expect_err("unknown");
    assert_eq!(
        String::from_utf8(rej.body).expect("utf8"),
        r#"{"method":"loginUser","exception":{"message":"Unknown function loginUser","type":1}}"#
    );
}

#[test]
fn pjson_not_an_object_is_type_7_with_empty_method() {
    for body in [
        &b"{"[..],
        b"{\"method\":1}",
        b"{}",
        b"[1]",
        b"{\"method\":\"login\"} x",
    ] {
        let rej = decode_call(Encoding::ParsableJson, body).expect_err("bad");
        assert_eq!(rej.kind, TaeType::PROTOCOL_ERROR);
        let v = json_bytes(&rej.body);
        assert_eq!(v["method"], "");
        assert_eq!(v["exception"]["type"], 7);
    }
}

// ---- §6 message-level errors -----------------------------------------------------------

#[test]
fn non_call_message_type_is_tae_2() {
    let mut req = hex(LOGIN_REQ);
    req[1] = 0x41; // REPLY
    let rej = decode_call(Encoding::Compact, &req).expect_err("reply is not a call");
    assert_eq!(rej.kind, TaeType::INVALID_MESSAGE_TYPE);
    assert_eq!(rej.header.name, "login");
    req[1] = 0x81; // ONEWAY
    assert_eq!(
        decode_call(Encoding::Compact, &req)
            .expect_err("oneway")
            .kind,
        TaeType::INVALID_MESSAGE_TYPE
    );
    let rej = decode_call(Encoding::TJson, br#"[1,"logout",4,7,{}]"#).expect_err("oneway");
    assert_eq!(rej.kind, TaeType::INVALID_MESSAGE_TYPE);
    assert_eq!(
        String::from_utf8(rej.body).expect("utf8"),
        r#"[1,"logout",3,7,{"1":{"str":"Invalid message type 4"},"2":{"i32":2}}]"#
    );
}

#[test]
fn trailing_and_truncated_compact_is_tae_7_echoing_name() {
    let mut req = hex(LOGIN_REQ);
    req.push(0);
    let rej = decode_call(Encoding::Compact, &req).expect_err("trailing");
    assert_eq!(rej.kind, TaeType::PROTOCOL_ERROR);
    assert_eq!(rej.header.name, "login");
    let req = hex(LOGIN_REQ);
    let rej = decode_call(Encoding::Compact, &req[..req.len() - 1]).expect_err("truncated");
    assert_eq!(rej.kind, TaeType::PROTOCOL_ERROR);
    assert_eq!(rej.header.name, "login");
    // Header itself truncated: name "" and seqid 0.
    let rej = decode_call(Encoding::Compact, &req[..5]).expect_err("truncated header");
    assert_eq!(rej.header.name, "");
    assert_eq!(rej.header.seqid, 0);
    assert_eq!(&rej.body[..4], &[0x82, 0x61, 0x00, 0x00]);
}

#[test]
fn wrong_type_in_compact_or_tjson_is_tae_7() {
    // field 1 (email) sent as i32
    let rej = decode_call(Encoding::Compact, &hex("822100056c6f67696e150200")).expect_err("type");
    assert_eq!(rej.kind, TaeType::PROTOCOL_ERROR);
    let rej =
        decode_call(Encoding::TJson, br#"[1,"login",1,0,{"1":{"i32":1}}]"#).expect_err("type");
    assert_eq!(rej.kind, TaeType::PROTOCOL_ERROR);
    let rej = decode_call(Encoding::TJson, br#"[1,"login",1,0,{"1":{"str":"a"}}] "x""#)
        .expect_err("trailing");
    assert_eq!(rej.header.name, "");
}

#[test]
fn unknown_fields_are_skipped() {
    // login_args with an extra field 9: map<string, list<struct{bool}>> and a bool field 10.
    let mut w = hex("822100056c6f67696e");
    w.extend(hex("180161")); // 1: "a"
    // field 9 (delta 8): map, 1 entry, str->list, "k", list of 1 struct { 1: true }
    w.extend(hex("8b 01 89 01 6b 1c 11 00"));
    w.extend(hex("11")); // field 10 (delta 1) bool true
    w.push(0);
    let (_, call) = decode_ok(Encoding::Compact, &w);
    assert_eq!(
        call,
        Call::Login(LoginArgs {
            email: "a".into(),
            ..Default::default()
        })
    );
    let tj = br#"[1,"login",1,0,{"1":{"str":"a"},"9":{"map":["str","lst",1,{"k":["rec",1,{"1":{"tf":1}}]}]},"10":{"tf":true},"11":{"dbl":"NaN"}}]"#;
    let (_, call2) = decode_ok(Encoding::TJson, tj);
    assert_eq!(call2, call);
}

#[test]
fn version_constants() {
    assert_eq!((MAJOR_VERSION, MINOR_VERSION, PATCH_VERSION), (1, 22, 13));
}
