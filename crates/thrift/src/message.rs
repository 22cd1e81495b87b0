//! Message layer: encoding selection (PARSABLE.md §1), request envelopes, replies and
//! TApplicationException.

use serde_json::Value;
use thiserror::Error;

use crate::compact::{CompactReader, CompactWriter};
use crate::error::{DResult, DecodeError};
use crate::tjson::write_json_string;
use crate::value::ThriftType;

/// Content type of Parsable's compact clients.
pub const CT_MOTHERSHIP_COMPACT: &str = "application/vnd.mothership.v1+x-thrift-compact";
/// Content type of Apache's TJSON clients.
pub const CT_TJSON: &str = "application/vnd.apache.thrift.json";
/// Generic Thrift content type (encoding decided by sniffing).
pub const CT_THRIFT: &str = "application/x-thrift";
/// Generic JSON content type (encoding decided by sniffing).
pub const CT_JSON: &str = "application/json";
/// Response content type of Parsable JSON replies.
pub const CT_JSON_UTF8: &str = "application/json; charset=utf-8";

/// The three supported encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Apache Thrift compact protocol (PARSABLE.md §4).
    Compact,
    /// Apache TJSONProtocol (§5).
    TJson,
    /// Parsable JSON envelope (§3).
    ParsableJson,
}

/// The encoding of a request and the Content-Type its reply must carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodingChoice {
    pub encoding: Encoding,
    pub response_content_type: &'static str,
}

/// Why no encoding could be chosen. Both are answered with HTTP 415.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ContentTypeError {
    #[error("unsupported Content-Type")]
    UnsupportedMediaType,
    #[error("unsupported body encoding")]
    UnrecognizedBody,
}

/// Picks the encoding of a request (PARSABLE.md §1).
///
/// `content_types` are all `Content-Type` header values (the header may repeat; values may
/// be comma-joined; parameters are dropped; comparison is case-insensitive).
pub fn select_encoding<I, S>(
    content_types: I,
    body: &[u8],
) -> Result<EncodingChoice, ContentTypeError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<[u8]>,
{
    let mut types: Vec<String> = Vec::new();
    for v in content_types {
        let v = String::from_utf8_lossy(v.as_ref()).into_owned();
        for part in v.split(',') {
            let media = part
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if !media.is_empty() {
                types.push(media);
            }
        }
    }
    let has = |t: &str| types.iter().any(|x| x == t);
    if has(CT_MOTHERSHIP_COMPACT) {
        return Ok(EncodingChoice {
            encoding: Encoding::Compact,
            response_content_type: CT_MOTHERSHIP_COMPACT,
        });
    }
    if has(CT_TJSON) {
        return Ok(EncodingChoice {
            encoding: Encoding::TJson,
            response_content_type: CT_TJSON,
        });
    }
    if !(types.is_empty() || has(CT_THRIFT) || has(CT_JSON)) {
        return Err(ContentTypeError::UnsupportedMediaType);
    }
    match body.iter().copied().find(|b| !is_ws(*b)) {
        Some(0x82) => Ok(EncodingChoice {
            encoding: Encoding::Compact,
            response_content_type: CT_THRIFT,
        }),
        Some(b'[') => Ok(EncodingChoice {
            encoding: Encoding::TJson,
            response_content_type: CT_THRIFT,
        }),
        Some(b'{') => Ok(EncodingChoice {
            encoding: Encoding::ParsableJson,
            response_content_type: CT_JSON_UTF8,
        }),
        _ => Err(ContentTypeError::UnrecognizedBody),
    }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Thrift message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum MessageType {
    Call = 1,
    Reply = 2,
    Exception = 3,
    Oneway = 4,
}

crate::thrift_enum! {
    /// TApplicationException types (Apache Thrift).
    pub enum TaeType {
        UNKNOWN = 0,
        UNKNOWN_METHOD = 1,
        INVALID_MESSAGE_TYPE = 2,
        WRONG_METHOD_NAME = 3,
        BAD_SEQUENCE_ID = 4,
        MISSING_RESULT = 5,
        INTERNAL_ERROR = 6,
        PROTOCOL_ERROR = 7,
        INVALID_TRANSFORM = 8,
        INVALID_PROTOCOL = 9,
        UNSUPPORTED_CLIENT_TYPE = 10,
    }
}

crate::thrift_struct! {
    /// Body of an EXCEPTION message (Parsable JSON: the `exception` object).
    pub struct TApplicationException {
        1: message "message": String,
        2: kind "type": TaeType,
    }
}

/// Name, sequence id and type of a message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageHeader {
    /// Function name (Parsable JSON: `method`). `""` when unknown.
    pub name: String,
    /// Sequence id, echoed in the reply (always 0 in Parsable JSON).
    pub seqid: i32,
    /// Raw message type (1 CALL, 2 REPLY, 3 EXCEPTION, 4 ONEWAY; Parsable JSON: always 1).
    pub message_type: u8,
}

impl MessageHeader {
    /// Whether the message is a CALL.
    pub fn is_call(&self) -> bool {
        self.message_type == MessageType::Call as u8
    }
}

/// A message whose header could not be decoded, or whose envelope is broken.
/// Answer with TAE 7 (PROTOCOL_ERROR) echoing `header` (name `""`, seqid 0 when unknown).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{error}")]
pub struct MessageError {
    pub header: MessageHeader,
    pub error: DecodeError,
}

#[derive(Debug, Clone)]
enum Body<'a> {
    Compact(&'a [u8]),
    Json(Value),
}

/// A decoded message header plus the still-encoded body struct.
#[derive(Debug, Clone)]
pub struct IncomingMessage<'a> {
    pub encoding: Encoding,
    pub header: MessageHeader,
    body: Body<'a>,
}

impl IncomingMessage<'_> {
    /// Decodes the body struct (`<fn>_args` for a CALL). In compact, bytes after the struct
    /// are an error.
    pub fn decode_body<T: ThriftType>(&self) -> DResult<T> {
        match &self.body {
            Body::Compact(bytes) => {
                let mut r = CompactReader::new(bytes);
                let v = T::read_compact(&mut r, 0)?;
                r.finish()?;
                Ok(v)
            }
            Body::Json(v) => match self.encoding {
                Encoding::ParsableJson if v.is_null() => {
                    T::read_pjson(&Value::Object(serde_json::Map::new()), 0)
                }
                Encoding::ParsableJson => T::read_pjson(v, 0),
                _ => T::read_tjson(v, 0),
            },
        }
    }
}

/// Decodes a message envelope (header now, body struct later via
/// [`IncomingMessage::decode_body`]).
pub fn decode_message(
    encoding: Encoding,
    body: &[u8],
) -> Result<IncomingMessage<'_>, MessageError> {
    match encoding {
        Encoding::Compact => decode_compact(body),
        Encoding::TJson => decode_tjson(body),
        Encoding::ParsableJson => decode_pjson(body),
    }
}

fn fail(header: MessageHeader, error: DecodeError) -> MessageError {
    MessageError { header, error }
}

fn decode_compact(body: &[u8]) -> Result<IncomingMessage<'_>, MessageError> {
    // Whitespace can never start a compact message; tolerate it like the JSON encodings do.
    let start = body.iter().position(|b| !is_ws(*b)).unwrap_or(body.len());
    let mut r = CompactReader::new(body.get(start..).unwrap_or(&[]));
    let mut header = MessageHeader::default();
    let res = (|| -> DResult<()> {
        if r.read_u8()? != 0x82 {
            return Err(DecodeError::BadHeader("not a compact message"));
        }
        let b = r.read_u8()?;
        if b & 0x1f != 1 {
            return Err(DecodeError::BadHeader("unsupported compact version"));
        }
        let message_type = b >> 5;
        let seqid = r.read_varint_u32()? as i32;
        let name = r.read_string()?;
        header = MessageHeader {
            name,
            seqid,
            message_type,
        };
        Ok(())
    })();
    match res {
        Ok(()) => {
            let rest = body.get(start + r.position()..).unwrap_or(&[]);
            Ok(IncomingMessage {
                encoding: Encoding::Compact,
                header,
                body: Body::Compact(rest),
            })
        }
        Err(e) => Err(fail(MessageHeader::default(), e)),
    }
}

fn parse_json(body: &[u8]) -> DResult<Value> {
    serde_json::from_slice(body).map_err(|e| DecodeError::Json(e.to_string()))
}

fn decode_tjson(body: &[u8]) -> Result<IncomingMessage<'_>, MessageError> {
    let v = parse_json(body).map_err(|e| fail(MessageHeader::default(), e))?;
    let Value::Array(items) = v else {
        return Err(fail(
            MessageHeader::default(),
            DecodeError::BadHeader("TJSON message must be an array"),
        ));
    };
    let mut it = items.into_iter();
    let version = it.next();
    if version.as_ref().and_then(Value::as_i64) != Some(1) {
        return Err(fail(
            MessageHeader::default(),
            DecodeError::BadHeader("TJSON version must be 1"),
        ));
    }
    let Some(Value::String(name)) = it.next() else {
        return Err(fail(
            MessageHeader::default(),
            DecodeError::BadHeader("TJSON message name"),
        ));
    };
    let mut header = MessageHeader {
        name,
        seqid: 0,
        message_type: 0,
    };
    let mtype = it
        .next()
        .and_then(|v| v.as_u64())
        .and_then(|t| u8::try_from(t).ok());
    let seqid = it
        .next()
        .and_then(|v| v.as_i64())
        .and_then(|s| i32::try_from(s).ok());
    let (Some(mtype), Some(seqid)) = (mtype, seqid) else {
        return Err(fail(
            header,
            DecodeError::BadHeader("TJSON message type or seqid"),
        ));
    };
    header.message_type = mtype;
    header.seqid = seqid;
    let (Some(st), None) = (it.next(), it.next()) else {
        return Err(fail(
            header,
            DecodeError::BadHeader("TJSON message must have 5 items"),
        ));
    };
    Ok(IncomingMessage {
        encoding: Encoding::TJson,
        header,
        body: Body::Json(st),
    })
}

fn decode_pjson(body: &[u8]) -> Result<IncomingMessage<'_>, MessageError> {
    let v = parse_json(body).map_err(|e| fail(MessageHeader::default(), e))?;
    let Value::Object(mut obj) = v else {
        return Err(fail(
            MessageHeader::default(),
            DecodeError::BadHeader("body must be a JSON object"),
        ));
    };
    let Some(Value::String(name)) = obj.remove("method") else {
        return Err(fail(
            MessageHeader::default(),
            DecodeError::BadHeader("`method` must be a string"),
        ));
    };
    let args = obj.remove("arguments").unwrap_or(Value::Null);
    Ok(IncomingMessage {
        encoding: Encoding::ParsableJson,
        header: MessageHeader {
            name,
            seqid: 0,
            message_type: MessageType::Call as u8,
        },
        body: Body::Json(args),
    })
}

fn compact_header(w: &mut CompactWriter, header: &MessageHeader, t: MessageType) {
    w.write_u8(0x82);
    w.write_u8(((t as u8) << 5) | 1);
    w.write_varint(u64::from(header.seqid as u32));
    w.write_binary(header.name.as_bytes());
}

fn tjson_message<T: ThriftType>(header: &MessageHeader, t: MessageType, body: &T) -> Vec<u8> {
    let mut out = String::from("[1,");
    write_json_string(&mut out, &header.name);
    out.push(',');
    out.push_str(&(t as u8).to_string());
    out.push(',');
    out.push_str(&header.seqid.to_string());
    out.push(',');
    body.write_tjson(&mut out);
    out.push(']');
    out.into_bytes()
}

fn pjson_message<T: ThriftType>(header: &MessageHeader, key: &str, body: &T) -> Vec<u8> {
    let mut out = String::from("{\"method\":");
    write_json_string(&mut out, &header.name);
    out.push_str(",\"");
    out.push_str(key);
    out.push_str("\":");
    body.write_pjson(&mut out);
    out.push('}');
    out.into_bytes()
}

fn encode_message<T: ThriftType>(
    encoding: Encoding,
    header: &MessageHeader,
    t: MessageType,
    pjson_key: &str,
    body: &T,
) -> Vec<u8> {
    match encoding {
        Encoding::Compact => {
            let mut w = CompactWriter::new();
            compact_header(&mut w, header, t);
            body.write_compact(&mut w);
            w.into_bytes()
        }
        Encoding::TJson => tjson_message(header, t, body),
        Encoding::ParsableJson => pjson_message(header, pjson_key, body),
    }
}

/// Encodes a CALL carrying `args` (a `<fn>_args` struct), as a client sends it: the reverse of
/// [`decode_message`] + [`IncomingMessage::decode_body`] (Parsable JSON: `arguments`, no seqid).
pub fn encode_call<A: ThriftType>(encoding: Encoding, header: &MessageHeader, args: &A) -> Vec<u8> {
    encode_message(encoding, header, MessageType::Call, "arguments", args)
}

/// Encodes a REPLY carrying `result` (a `<fn>_result` struct: field 0 `success`, or field
/// 1 `err`, or nothing for a void success). Echoes the header's name and seqid.
pub fn encode_reply<R: ThriftType>(
    encoding: Encoding,
    header: &MessageHeader,
    result: &R,
) -> Vec<u8> {
    encode_message(encoding, header, MessageType::Reply, "result", result)
}

/// Encodes a TApplicationException reply (EXCEPTION message; Parsable JSON `exception`).
pub fn encode_exception(
    encoding: Encoding,
    header: &MessageHeader,
    kind: TaeType,
    message: &str,
) -> Vec<u8> {
    let tae = TApplicationException {
        message: message.to_owned(),
        kind,
    };
    encode_message(encoding, header, MessageType::Exception, "exception", &tae)
}

/// Encodes a bare struct (no envelope).
pub fn encode_struct<T: ThriftType>(encoding: Encoding, v: &T) -> Vec<u8> {
    match encoding {
        Encoding::Compact => {
            let mut w = CompactWriter::new();
            v.write_compact(&mut w);
            w.into_bytes()
        }
        Encoding::TJson => {
            let mut s = String::new();
            v.write_tjson(&mut s);
            s.into_bytes()
        }
        Encoding::ParsableJson => {
            let mut s = String::new();
            v.write_pjson(&mut s);
            s.into_bytes()
        }
    }
}

/// Decodes a bare struct (no envelope); trailing input is an error.
pub fn decode_struct<T: ThriftType>(encoding: Encoding, bytes: &[u8]) -> DResult<T> {
    match encoding {
        Encoding::Compact => {
            let mut r = CompactReader::new(bytes);
            let v = T::read_compact(&mut r, 0)?;
            r.finish()?;
            Ok(v)
        }
        Encoding::TJson => T::read_tjson(&parse_json(bytes)?, 0),
        Encoding::ParsableJson => T::read_pjson(&parse_json(bytes)?, 0),
    }
}
