//! Thrift-over-HTTP codec runtime for Portcullis.
//!
//! Three encodings, all derived from ONE description of each struct
//! ([`thrift_struct!`], [`thrift_enum!`]):
//!
//! * Apache Thrift **compact** protocol ([`compact`]);
//! * Apache **TJSONProtocol** ([`tjson`]);
//! * the **Parsable JSON envelope** ([`pjson`]).
//!
//! [`message`] adds the message layer (envelopes, TApplicationException replies) and the
//! Content-Type / sniffing rules that pick the encoding of a request.
//!
//! Guarantees: decoders never panic on arbitrary input, never allocate more than a small
//! multiple of the input size, bound nesting depth, and reject trailing bytes.
#![forbid(unsafe_code)]

pub mod compact;
pub mod error;
mod macros;
pub mod message;
pub mod pjson;
pub mod sample;
pub mod tjson;
pub mod ttype;
pub mod value;

pub use error::DecodeError;
pub use message::{
    ContentTypeError, Encoding, EncodingChoice, IncomingMessage, MessageError, MessageHeader,
    MessageType, TApplicationException, TaeType, decode_message, decode_struct, encode_call,
    encode_exception, encode_reply, encode_struct, select_encoding,
};
pub use ttype::TType;
pub use value::{Binary, MapKey, ThriftEnum, ThriftStruct, ThriftType};

/// Maximum nesting of structs and containers accepted by every decoder (and by skipping).
pub const MAX_DEPTH: u32 = 64;

/// Re-exports used by the macros; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use serde_json::Value;
}
