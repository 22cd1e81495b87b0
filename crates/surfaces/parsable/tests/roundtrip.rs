//! Every IDL struct, exception, `<fn>_args` and `<fn>_result` round-trips through all
//! three encodings (values from the `Sample` generator that `thrift_struct!` derives).

use portcullis_parsable::wire::*;
use portcullis_thrift::sample::{Gen, Sample};
use portcullis_thrift::{Encoding, ThriftStruct, decode_struct, encode_struct};
use proptest::prelude::*;

const ENCODINGS: [Encoding; 3] = [Encoding::Compact, Encoding::TJson, Encoding::ParsableJson];

fn roundtrip<T: ThriftStruct + Sample>(seed: u64) -> Result<(), TestCaseError> {
    let mut g = Gen::new(seed);
    let v = T::sample(&mut g);
    for enc in ENCODINGS {
        let bytes = encode_struct(enc, &v);
        if enc != Encoding::Compact {
            // The JSON encodings emit valid JSON without whitespace outside strings.
            let parsed: serde_json::Value = serde_json::from_slice(&bytes)
                .map_err(|e| TestCaseError::fail(format!("{}: invalid JSON: {e}", T::NAME)))?;
            prop_assert!(parsed.is_object());
        }
        let back: T = decode_struct(enc, &bytes)
            .map_err(|e| TestCaseError::fail(format!("{} via {enc:?}: {e}\n{v:?}", T::NAME)))?;
        prop_assert_eq!(&back, &v, "{} via {:?}", T::NAME, enc);
        // Encoding is deterministic.
        prop_assert_eq!(encode_struct(enc, &back), bytes);
    }
    Ok(())
}

macro_rules! all_types {
    ($seed:expr; $($t:ty),* $(,)?) => {{
        $( roundtrip::<$t>($seed)?; )*
    }};
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn idl_types_roundtrip(seed in any::<u64>()) {
        all_types!(seed;
            SystemException, User, TeamMembership, UserStats, UserModular, AbacAttribute,
            AbacAttributeValue, Region, PriorityLevel, Reference, StepPermissions,
            UserPermissions, TemplatePermissions, DocumentPermissions, IssuePermissions,
            JobPermissions, AuthPeriods, PasswordAuth, WebSSOAuth, IdpAuth, ValidAuthTypes,
            LoginOptions, TeamInfo, LoginResult, LoginTeamInfo, TeamSelectResult, SSORequest,
            AuthTokenMetaResult,
        );
    }

    #[test]
    fn service_structs_roundtrip(seed in any::<u64>()) {
        all_types!(seed;
            LoginArgs, LoginReply, LoginWithSsoArgs, LoginWithSsoReply,
            LoginWithTeamSelectArgs, LoginWithTeamSelectReply, LoginWithIdpArgs,
            LoginWithIdpReply, LoginWithIdpAndTeamArgs, LoginWithIdpAndTeamReply,
            LoginWithIdpAndTeamSelectArgs, LoginWithIdpAndTeamSelectReply, LogoutArgs,
            LogoutReply, CreateTeamTokenArgs, CreateTeamTokenReply, LoginWithTokenArgs,
            LoginWithTokenReply, StartLoginArgs, StartLoginReply, RefreshArgs, RefreshReply,
            GetCurrentUserArgs, GetCurrentUserReply, CreatePersistentAuthArgs,
            CreatePersistentAuthReply, RevokePersistentAuthArgs, RevokePersistentAuthReply,
            FetchPersistentAuthTokensMetaArgs, FetchPersistentAuthTokensMetaReply,
        );
    }

    /// Whole calls: encode `<fn>_args` in a CALL envelope, decode with `decode_call`.
    #[test]
    fn calls_roundtrip(seed in any::<u64>(), seqid in any::<i32>()) {
        let mut g = Gen::new(seed);
        for method in Method::ALL {
            let call = sample_call(method, &mut g);
            for enc in ENCODINGS {
                let body = encode_call(enc, method, seqid, &call);
                let (h, back) = decode_call(enc, &body)
                    .map_err(|r| TestCaseError::fail(format!("{method:?} {enc:?}: {}", r.message)))?;
                prop_assert_eq!(h.method, method);
                prop_assert_eq!(h.seqid, if enc == Encoding::ParsableJson { 0 } else { seqid });
                prop_assert_eq!(&back, &call);
            }
        }
    }
}

fn sample_call(m: Method, g: &mut Gen) -> Call {
    match m {
        Method::Login => Call::Login(Sample::sample(g)),
        Method::LoginWithSso => Call::LoginWithSso(Sample::sample(g)),
        Method::LoginWithTeamSelect => Call::LoginWithTeamSelect(Sample::sample(g)),
        Method::LoginWithIdp => Call::LoginWithIdp(Sample::sample(g)),
        Method::LoginWithIdpAndTeam => Call::LoginWithIdpAndTeam(Sample::sample(g)),
        Method::LoginWithIdpAndTeamSelect => Call::LoginWithIdpAndTeamSelect(Sample::sample(g)),
        Method::Logout => Call::Logout,
        Method::CreateTeamToken => Call::CreateTeamToken(Sample::sample(g)),
        Method::LoginWithToken => Call::LoginWithToken(Sample::sample(g)),
        Method::StartLogin => Call::StartLogin(Sample::sample(g)),
        Method::Refresh => Call::Refresh,
        Method::GetCurrentUser => Call::GetCurrentUser,
        Method::CreatePersistentAuth => Call::CreatePersistentAuth(Sample::sample(g)),
        Method::RevokePersistentAuth => Call::RevokePersistentAuth(Sample::sample(g)),
        Method::FetchPersistentAuthTokensMeta => {
            Call::FetchPersistentAuthTokensMeta(Sample::sample(g))
        }
    }
}

/// Client-side encoding of a call (what a compact/TJSON/Parsable client would send).
fn encode_call(enc: Encoding, m: Method, seqid: i32, call: &Call) -> Vec<u8> {
    fn body<T: ThriftStruct>(enc: Encoding, name: &str, seqid: i32, a: &T) -> Vec<u8> {
        let args = encode_struct(enc, a);
        match enc {
            Encoding::Compact => {
                let mut out = vec![0x82, 0x21];
                let mut s = seqid as u32;
                while s >= 0x80 {
                    out.push((s as u8) | 0x80);
                    s >>= 7;
                }
                out.push(s as u8);
                out.push(name.len() as u8);
                out.extend_from_slice(name.as_bytes());
                out.extend(args);
                out
            }
            Encoding::TJson => format!(
                "[1,\"{name}\",1,{seqid},{}]",
                String::from_utf8_lossy(&args)
            )
            .into_bytes(),
            Encoding::ParsableJson => format!(
                "{{\"method\":\"{name}\",\"arguments\":{}}}",
                String::from_utf8_lossy(&args)
            )
            .into_bytes(),
        }
    }
    let n = m.name();
    match call {
        Call::Login(a) => body(enc, n, seqid, a),
        Call::LoginWithSso(a) => body(enc, n, seqid, a),
        Call::LoginWithTeamSelect(a) => body(enc, n, seqid, a),
        Call::LoginWithIdp(a) => body(enc, n, seqid, a),
        Call::LoginWithIdpAndTeam(a) => body(enc, n, seqid, a),
        Call::LoginWithIdpAndTeamSelect(a) => body(enc, n, seqid, a),
        Call::Logout => body(enc, n, seqid, &LogoutArgs::default()),
        Call::CreateTeamToken(a) => body(enc, n, seqid, a),
        Call::LoginWithToken(a) => body(enc, n, seqid, a),
        Call::StartLogin(a) => body(enc, n, seqid, a),
        Call::Refresh => body(enc, n, seqid, &RefreshArgs::default()),
        Call::GetCurrentUser => body(enc, n, seqid, &GetCurrentUserArgs::default()),
        Call::CreatePersistentAuth(a) => body(enc, n, seqid, a),
        Call::RevokePersistentAuth(a) => body(enc, n, seqid, a),
        Call::FetchPersistentAuthTokensMeta(a) => body(enc, n, seqid, a),
    }
}

#[test]
fn every_outcome_encodes_for_its_function() {
    use portcullis_thrift::decode_message;
    let mut g = Gen::new(7);
    let cases: Vec<(Method, Outcome)> = vec![
        (Method::Login, Outcome::LoginResult(Sample::sample(&mut g))),
        (
            Method::LoginWithTeamSelect,
            Outcome::TeamSelectResult(Sample::sample(&mut g)),
        ),
        (
            Method::GetCurrentUser,
            Outcome::User(Sample::sample(&mut g)),
        ),
        (
            Method::StartLogin,
            Outcome::ValidAuthTypes(Sample::sample(&mut g)),
        ),
        (
            Method::FetchPersistentAuthTokensMeta,
            Outcome::AuthTokenMetaList(Sample::sample(&mut g)),
        ),
        (Method::RevokePersistentAuth, Outcome::Void),
        (Method::Refresh, Outcome::Err(Sample::sample(&mut g))),
    ];
    for (method, outcome) in cases {
        for enc in [Encoding::Compact, Encoding::TJson] {
            let h = CallHeader { method, seqid: 5 };
            let out = encode_reply(enc, &h, outcome.clone());
            let msg = decode_message(enc, &out).expect("reply decodes");
            assert_eq!(msg.header.name, method.name());
            assert_eq!(msg.header.seqid, 5);
            assert_eq!(msg.header.message_type, 2, "{method:?} {outcome:?}");
        }
    }
    // Mismatched outcome: TAE 6.
    let h = CallHeader {
        method: Method::Logout,
        seqid: 0,
    };
    let out = encode_reply(Encoding::ParsableJson, &h, Outcome::User(User::default()));
    let v: serde_json::Value = serde_json::from_slice(&out).expect("json");
    assert_eq!(v["exception"]["type"], 6);
}
