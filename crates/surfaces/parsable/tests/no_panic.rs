//! The decoders never panic, on arbitrary bytes or on mutated valid messages, and bound
//! their work and allocations.

use portcullis_parsable::wire::*;
use portcullis_thrift::sample::{Gen, Sample};
use portcullis_thrift::{DecodeError, Encoding, decode_struct, encode_struct};
use proptest::prelude::*;

const ENCODINGS: [Encoding; 3] = [Encoding::Compact, Encoding::TJson, Encoding::ParsableJson];

/// Runs every decoder on `bytes`; any outcome but a panic is fine.
fn decode_everything(bytes: &[u8]) {
    let _ = select_encoding([b"application/x-thrift".as_slice()], bytes);
    for enc in ENCODINGS {
        match decode_call(enc, bytes) {
            Ok((h, _)) => {
                let _ = encode_reply(enc, &h, Outcome::Void);
            }
            Err(r) => assert!(!r.body.is_empty()),
        }
        let _ = decode_struct::<LoginResult>(enc, bytes);
        let _ = decode_struct::<TeamSelectResult>(enc, bytes);
        let _ = decode_struct::<FetchPersistentAuthTokensMetaReply>(enc, bytes);
    }
}

/// A valid request in `enc` built from a random `<fn>_args`.
fn valid_request(enc: Encoding, seed: u64) -> Vec<u8> {
    let mut g = Gen::new(seed);
    let (name, args) = match seed % 4 {
        0 => ("login", encode_struct(enc, &LoginArgs::sample(&mut g))),
        1 => (
            "loginWithSSO",
            encode_struct(enc, &LoginWithSsoArgs::sample(&mut g)),
        ),
        2 => (
            "fetchPersistentAuthTokensMeta",
            encode_struct(enc, &FetchPersistentAuthTokensMetaArgs::sample(&mut g)),
        ),
        // A reply-shaped struct as arguments: unknown field 0 exercises skipping.
        _ => ("logout", encode_struct(enc, &LoginReply::sample(&mut g))),
    };
    match enc {
        Encoding::Compact => {
            let mut out = vec![0x82, 0x21, 0x00, name.len() as u8];
            out.extend_from_slice(name.as_bytes());
            out.extend(args);
            out
        }
        Encoding::TJson => {
            format!("[1,\"{name}\",1,0,{}]", String::from_utf8_lossy(&args)).into_bytes()
        }
        Encoding::ParsableJson => format!(
            "{{\"method\":\"{name}\",\"arguments\":{}}}",
            String::from_utf8_lossy(&args)
        )
        .into_bytes(),
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    let n = bytes.len();
    match *m {
        Mutation::Flip(i, b) => bytes[i % n] ^= b,
        Mutation::Insert(i, b) => bytes.insert(i % (n + 1), b),
        Mutation::Delete(i) => {
            bytes.remove(i % n);
        }
        Mutation::Truncate(i) => bytes.truncate(i % n),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        decode_everything(&bytes);
        // Also with each encoding's first byte in front.
        for lead in [0x82u8, b'[', b'{'] {
            let mut b = vec![lead];
            b.extend_from_slice(&bytes);
            decode_everything(&b);
        }
    }

    #[test]
    fn mutated_valid_messages_never_panic(
        seed in any::<u64>(),
        muts in proptest::collection::vec(mutation(), 1..6),
    ) {
        for enc in ENCODINGS {
            let mut bytes = valid_request(enc, seed);
            // Unmutated, the request is accepted (unknown fields skipped).
            prop_assert!(decode_call(enc, &bytes).is_ok(), "{enc:?} {:?}", String::from_utf8_lossy(&bytes));
            for m in &muts {
                apply(&mut bytes, m);
            }
            decode_everything(&bytes);
        }
    }
}

#[test]
fn huge_declared_list_is_an_error_not_an_allocation() {
    // fetchPersistentAuthTokensMeta, field 2 userIds: list<string> declaring 2^32-1 items.
    let mut b = vec![0x82, 0x21, 0x00, 29];
    b.extend_from_slice(b"fetchPersistentAuthTokensMeta");
    b.extend([0x29, 0xf8, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    let rej = decode_call(Encoding::Compact, &b).expect_err("too large");
    assert_eq!(rej.kind, TaeType::PROTOCOL_ERROR);
    let err = decode_struct::<FetchPersistentAuthTokensMetaArgs>(Encoding::Compact, &b[33..])
        .expect_err("too large");
    assert!(
        matches!(err.root(), DecodeError::SizeTooLarge(_)),
        "{err:?}"
    );
    // Same for a map and a string.
    let err = decode_struct::<TeamInfo>(
        Encoding::Compact,
        &[0x1b, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x81],
    )
    .expect_err("map too large");
    assert!(
        matches!(err.root(), DecodeError::SizeTooLarge(_)),
        "{err:?}"
    );
    let err = decode_struct::<User>(Encoding::Compact, &[0x18, 0xff, 0xff, 0xff, 0xff, 0x0f])
        .expect_err("string too large");
    assert!(
        matches!(err.root(), DecodeError::SizeTooLarge(_)),
        "{err:?}"
    );
    // A size that fits the input but whose items are missing: truncated, still an error.
    let err = decode_struct::<AbacAttribute>(Encoding::Compact, &[0x39, 0xfc, 0x05, 0, 0])
        .expect_err("truncated");
    assert!(matches!(
        err.root(),
        DecodeError::SizeTooLarge(_) | DecodeError::UnexpectedEof
    ));
}

#[test]
fn deep_nesting_is_rejected_without_stack_overflow() {
    // Unknown field 9 of login_args: list<list<list<…>>> nested 100 000 deep.
    let mut b = vec![0x82, 0x21, 0x00, 5];
    b.extend_from_slice(b"login");
    b.push(0x99); // field 9, list
    b.extend(std::iter::repeat_n(0x19u8, 100_000)); // 1 element of type list, repeatedly
    let rej = decode_call(Encoding::Compact, &b).expect_err("too deep");
    assert_eq!(rej.kind, TaeType::PROTOCOL_ERROR);
    assert!(rej.message.contains("nesting"), "{}", rej.message);
    // Same through structs.
    let mut b = vec![0x82, 0x21, 0x00, 5];
    b.extend_from_slice(b"login");
    b.extend(std::iter::repeat_n(0x9cu8, 100_000)); // field +9, struct
    assert!(decode_call(Encoding::Compact, &b).is_err());
    // JSON: serde_json's recursion limit, then ours.
    let deep = format!(
        "[1,\"login\",1,0,{{\"9\":{{\"lst\":{}}}}}]",
        "[\"lst\",1,".repeat(100) + &"]".repeat(100)
    );
    assert!(decode_call(Encoding::TJson, deep.as_bytes()).is_err());
    let deep = format!(
        "{{\"method\":\"login\",\"arguments\":{}}}",
        "[".repeat(100_000)
    );
    assert!(decode_call(Encoding::ParsableJson, deep.as_bytes()).is_err());
}

#[test]
fn varint_overflow_is_an_error() {
    let err = decode_struct::<User>(
        Encoding::Compact,
        &[
            0x46, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0,
        ],
    )
    .expect_err("overflow");
    assert_eq!(err.root(), &DecodeError::VarintOverflow);
    // i32 field (errorCode) given a 6-byte varint.
    let err = decode_struct::<SystemException>(
        Encoding::Compact,
        &[0x15, 0xff, 0xff, 0xff, 0xff, 0x7f, 0],
    )
    .expect_err("overflow");
    assert_eq!(err.root(), &DecodeError::VarintOverflow);
}
