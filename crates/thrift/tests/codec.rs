//! Runtime tests over a struct that uses every supported Thrift type.

use std::collections::{BTreeMap, BTreeSet};

use portcullis_thrift::sample::{Gen, Sample};
use portcullis_thrift::{
    Binary, DecodeError, Encoding, MessageHeader, TaeType, decode_message, decode_struct,
    encode_exception, encode_reply, encode_struct, thrift_enum, thrift_struct,
};
use proptest::prelude::*;

thrift_enum! {
    pub enum Color { RED = 1, GREEN = 2, BLUE = -3 }
}

thrift_struct! {
    pub struct Inner {
        1: flag "flag": bool,
        2: optional note "note": String,
    }
}

thrift_struct! {
    /// Every type, every requiredness, field ids that force long-form headers.
    pub struct Everything {
        1: b "b": bool,
        2: i_8 "i8": i8,
        3: i_16 "i16": i16,
        4: i_32 "i32": i32,
        5: i_64 "i64": i64,
        6: d "d": f64,
        7: s "s": String,
        8: bin "bin": Binary,
        9: list "list": Vec<i64>,
        10: set "set": BTreeSet<String>,
        11: by_int "byInt": BTreeMap<i32, Inner>,
        12: by_enum "byEnum": BTreeMap<Color, Vec<bool>>,
        40: optional inner "inner": Inner,
        41: optional flag "flag": bool,
        -1: optional neg "neg": i16,
        0: required color "color": Color,
        300: nested "nested": Vec<BTreeMap<String, Vec<Inner>>>,
        301: bools "bools": Vec<bool>,
    }
}

const ENCODINGS: [Encoding; 3] = [Encoding::Compact, Encoding::TJson, Encoding::ParsableJson];

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn everything_roundtrips(seed in any::<u64>()) {
        let v = Everything::sample(&mut Gen::new(seed));
        for enc in ENCODINGS {
            let bytes = encode_struct(enc, &v);
            let back: Everything = decode_struct(enc, &bytes)
                .map_err(|e| TestCaseError::fail(format!("{enc:?}: {e}")))?;
            prop_assert_eq!(&back, &v);
        }
    }

    #[test]
    fn scalars_roundtrip(b in any::<bool>(), a in any::<i8>(), c in any::<i16>(), d in any::<i32>(),
                         e in any::<i64>(), f in any::<f64>().prop_filter("not NaN", |x| !x.is_nan()),
                         s in ".*", bin in proptest::collection::vec(any::<u8>(), 0..40)) {
        let v = Everything { b, i_8: a, i_16: c, i_32: d, i_64: e, d: f, s, bin: Binary(bin), ..Default::default() };
        for enc in ENCODINGS {
            let back: Everything = decode_struct(enc, &encode_struct(enc, &v))
                .map_err(|e| TestCaseError::fail(format!("{enc:?}: {e}")))?;
            prop_assert_eq!(&back, &v);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        for enc in ENCODINGS {
            let _ = decode_struct::<Everything>(enc, &bytes);
            if let Ok(m) = decode_message(enc, &bytes) {
                let _ = m.decode_body::<Everything>();
            }
        }
    }
}

#[test]
fn compact_layout_details() {
    let v = Everything {
        b: true,
        flag: Some(false),
        list: (0..20).collect(),
        ..Default::default()
    };
    let bytes = encode_struct(Encoding::Compact, &v);
    // Fields are written in description order. Field 1, bool true: short header 0x11 and
    // no value byte.
    assert_eq!(&bytes[..1], &[0x11]);
    // 20-element list: header 0xf6 followed by varint 20.
    let pos = bytes
        .windows(2)
        .position(|w| w == [0xf6, 20])
        .expect("long list header");
    assert!(pos > 0);
    // field 41 bool false after field 40 absent: delta 41-12=29 → long form 0x02 + zigzag(41)=82.
    assert!(bytes.windows(2).any(|w| w == [0x02, 82]));
    // field -1 (absent) and field 0 (required, long form 0x05 0x00).
    assert!(bytes.windows(3).any(|w| w == [0x05, 0x00, 0x00]));
}

#[test]
fn field_order_on_the_wire_is_free() {
    // Field 0 color = 3 (zigzag 6); field 2 i8 = 4 (short, delta 2); field 1 bool true
    // (id goes down: long form 0x01, zigzag id 0x02).
    let v: Everything = decode_struct(
        Encoding::Compact,
        &[0x05, 0x00, 0x06, 0x03, 0x04, 0x04, 0x01, 0x02, 0x00],
    )
    .expect("decodes");
    assert_eq!(v.color, Color(3));
    assert_eq!(v.i_8, 4);
    assert!(v.b);
    // A known field id with the wrong wire type is an error (field 6 is a double).
    let e = decode_struct::<Everything>(
        Encoding::Compact,
        &[0x05, 0x00, 0x06, 0x04, 0x0c, 0x01, 0x00],
    )
    .expect_err("type mismatch");
    assert!(
        matches!(e.root(), DecodeError::TypeMismatch { .. }),
        "{e:?}"
    );
}

#[test]
fn required_missing_is_an_error_everywhere() {
    assert_eq!(
        decode_struct::<Everything>(Encoding::Compact, &[0x00])
            .expect_err("missing")
            .root(),
        &DecodeError::MissingRequired("color")
    );
    assert!(decode_struct::<Everything>(Encoding::TJson, b"{}").is_err());
    assert!(decode_struct::<Everything>(Encoding::ParsableJson, b"{}").is_err());
    assert!(decode_struct::<Everything>(Encoding::ParsableJson, br#"{"color":"BLUE"}"#).is_ok());
}

#[test]
fn tjson_shapes() {
    let v = Everything {
        b: true,
        d: f64::NEG_INFINITY,
        bin: Binary(b"hi!?".to_vec()),
        set: ["x".to_owned()].into(),
        by_int: [(-2, Inner::default())].into(),
        by_enum: [(Color::BLUE, vec![false])].into(),
        ..Default::default()
    };
    let s = String::from_utf8(encode_struct(Encoding::TJson, &v)).expect("utf8");
    assert!(s.starts_with(r#"{"1":{"tf":1},"2":{"i8":0},"3":{"i16":0},"4":{"i32":0},"5":{"i64":0},"6":{"dbl":"-Infinity"},"7":{"str":""},"8":{"str":"aGkhPw=="},"9":{"lst":["i64",0]},"10":{"set":["str",1,"x"]},"11":{"map":["i32","rec",1,{"-2":{"1":{"tf":0}}}]},"12":{"map":["i32","lst",1,{"-3":["tf",1,0]}]},"#), "{s}");
    // Bools read as 1/0/true/false; binary without padding accepted.
    let back: Everything = decode_struct(
        Encoding::TJson,
        br#"{"0":{"i32":1},"1":{"tf":true},"8":{"str":"aGkhPw"},"6":{"dbl":"NaN"},"301":{"lst":["tf",3,1,0,false]}}"#,
    )
    .expect("lenient tjson");
    assert!(back.b);
    assert_eq!(back.bin, Binary(b"hi!?".to_vec()));
    assert!(back.d.is_nan());
    assert_eq!(back.bools, vec![true, false, false]);
    for bad in [
        &br#"{"0":{"i32":1},"1":{"tf":2}}"#[..],
        br#"{"0":{"i32":1},"9":{"lst":["i64",2,1]}}"#,
        br#"{"0":{"i32":1},"9":{"lst":["i32",1,1]}}"#,
        br#"{"0":{"i32":1},"2":{"i8":128}}"#,
        br#"{"0":{"i32":1},"2":{"i8":1,"i16":1}}"#,
        br#"{"0":{"i32":1},"x":{"i8":1}}"#,
        br#"{"0":{"i32":1},"99":{"zz":1}}"#,
        br#"{"0":{"i32":1},"99":{"map":["str","i32",1,{"a":"b"}]}}"#,
        br#"{"0":{"i32":"1"}}"#,
    ] {
        assert!(
            decode_struct::<Everything>(Encoding::TJson, bad).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn compact_bool_list_and_skip() {
    let v = Everything {
        bools: vec![true, false],
        ..Default::default()
    };
    let b = encode_struct(Encoding::Compact, &v);
    assert!(b.windows(3).any(|w| w == [0x21, 0x01, 0x02]));
}

#[test]
fn messages_roundtrip_and_echo() {
    let h = MessageHeader {
        name: "fn".into(),
        seqid: -5,
        message_type: 1,
    };
    let v = Inner {
        flag: true,
        note: Some("n".into()),
    };
    for enc in [Encoding::Compact, Encoding::TJson] {
        let out = encode_reply(enc, &h, &v);
        let m = decode_message(enc, &out).expect("decodes");
        assert_eq!(m.header.name, "fn");
        assert_eq!(m.header.seqid, -5);
        assert_eq!(m.header.message_type, 2);
        assert_eq!(m.decode_body::<Inner>().expect("body"), v);
        let ex = encode_exception(enc, &h, TaeType::PROTOCOL_ERROR, "bad");
        let m = decode_message(enc, &ex).expect("decodes");
        assert_eq!(m.header.message_type, 3);
        let tae = m
            .decode_body::<portcullis_thrift::TApplicationException>()
            .expect("tae");
        assert_eq!(tae.kind, TaeType::PROTOCOL_ERROR);
        assert_eq!(tae.message, "bad");
    }
    assert_eq!(
        encode_exception(Encoding::ParsableJson, &h, TaeType::UNKNOWN_METHOD, "x"),
        br#"{"method":"fn","exception":{"message":"x","type":1}}"#.to_vec()
    );
    assert_eq!(TaeType::INVALID_MESSAGE_TYPE.0, 2);
    assert_eq!(TaeType::PROTOCOL_ERROR.0, 7);
}

#[test]
fn compact_header_errors() {
    for bad in [
        &[0x80u8, 0x01][..],
        &[0x82, 0x22, 0, 0],
        &[0x82],
        &[],
        &[0x82, 0x21, 0, 0x05, b'a'],
    ] {
        let e = decode_message(Encoding::Compact, bad).expect_err("bad header");
        assert_eq!(e.header, MessageHeader::default());
    }
    // Invalid UTF-8 name.
    assert!(decode_message(Encoding::Compact, &[0x82, 0x21, 0, 1, 0xff, 0]).is_err());
}

#[test]
fn enum_debug_and_lookup() {
    assert_eq!(format!("{:?}", Color::BLUE), "BLUE");
    assert_eq!(format!("{:?}", Color(9)), "Color(9)");
    assert_eq!(Color::from_name("GREEN"), Some(Color::GREEN));
    assert_eq!(Color::BLUE.name(), Some("BLUE"));
    assert!(!Color(0).is_known());
}
