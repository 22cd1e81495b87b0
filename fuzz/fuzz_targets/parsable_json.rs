//! A Parsable `POST /api/auth` body in the ParsableJson encoding: `decode_call` and its round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_parsable::wire::Encoding;

fuzz_target!(|data: &[u8]| {
    portcullis_fuzz::thrift::check_call(Encoding::ParsableJson, data);
});
