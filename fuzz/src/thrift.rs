//! The invariants of `decode_call` in one encoding, shared by the three Thrift targets.

use portcullis_parsable::wire::{Encoding, TaeType, decode_call, encode_call};
use portcullis_thrift::{TApplicationException, decode_message};

/// Decodes `data` as a request body in `encoding` and checks:
/// * decoding is deterministic (a refused body is refused again with the same reply);
/// * an accepted call re-encodes (as a client would send it) to bytes that decode to the
///   same call, and that encoding is a fixed point;
/// * a refusal carries TAE 1, 2 or 7 and its reply body decodes in the same encoding to that
///   TApplicationException, echoing the header.
pub fn check_call(encoding: Encoding, data: &[u8]) {
    let first = decode_call(encoding, data);
    assert_eq!(
        first,
        decode_call(encoding, data),
        "decoding is not deterministic"
    );
    match first {
        Ok((header, call)) => {
            let bytes = encode_call(encoding, &header, &call);
            let (h2, c2) = match decode_call(encoding, &bytes) {
                Ok(v) => v,
                Err(r) => panic!("re-encoded call refused: {}", r.message),
            };
            assert_eq!(h2, header);
            assert_eq!(c2, call);
            assert_eq!(
                encode_call(encoding, &h2, &c2),
                bytes,
                "encoding is not canonical"
            );
        }
        Err(rejection) => {
            assert!(
                [
                    TaeType::UNKNOWN_METHOD,
                    TaeType::INVALID_MESSAGE_TYPE,
                    TaeType::PROTOCOL_ERROR
                ]
                .contains(&rejection.kind),
                "unexpected TAE type {:?}",
                rejection.kind
            );
            if encoding == Encoding::ParsableJson {
                let v: serde_json::Value =
                    serde_json::from_slice(&rejection.body).expect("the refusal is JSON");
                assert_eq!(v["exception"]["message"], rejection.message.as_str());
                assert_eq!(v["method"], rejection.header.name.as_str());
                return;
            }
            let msg = decode_message(encoding, &rejection.body).expect("the refusal decodes");
            assert_eq!(msg.header.message_type, 3, "the refusal is an EXCEPTION");
            assert_eq!(msg.header.name, rejection.header.name);
            assert_eq!(msg.header.seqid, rejection.header.seqid);
            let tae: TApplicationException = msg.decode_body().expect("the TAE decodes");
            assert_eq!(tae.message, rejection.message);
            assert_eq!(tae.kind, rejection.kind);
        }
    }
}
