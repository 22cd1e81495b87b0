//! Decode errors shared by the three codecs.

use thiserror::Error;

/// Why a message or value could not be decoded. Every variant maps to
/// TApplicationException type 7 (PROTOCOL_ERROR) at the message layer.
///
/// Messages never echo input data (only schema names), so they are safe to send back.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("unexpected end of input")]
    UnexpectedEof,
    #[error("varint too long")]
    VarintOverflow,
    #[error("integer out of range for {0}")]
    IntOutOfRange(&'static str),
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    #[error("unknown wire type {0}")]
    UnknownType(u8),
    #[error("wrong type: expected {expected}, found {found}")]
    TypeMismatch {
        expected: &'static str,
        found: &'static str,
    },
    #[error("declared size {0} exceeds the remaining input")]
    SizeTooLarge(u64),
    #[error("nesting deeper than {} levels", crate::MAX_DEPTH)]
    TooDeep,
    #[error("required field `{0}` is missing")]
    MissingRequired(&'static str),
    #[error("trailing bytes after the message")]
    TrailingBytes,
    #[error("bad message header: {0}")]
    BadHeader(&'static str),
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error("malformed value: {0}")]
    Malformed(&'static str),
    #[error("unknown enum name")]
    UnknownEnumName,
    #[error("set contains a repeated item")]
    DuplicateSetItem,
    #[error("invalid base64")]
    InvalidBase64,
    #[error("field `{path}`: {source}")]
    InField {
        path: String,
        #[source]
        source: Box<DecodeError>,
    },
}

impl DecodeError {
    /// Wraps the error with the (wire) name of the field it occurred in.
    pub fn in_field(self, name: &str) -> Self {
        match self {
            DecodeError::InField { path, source } => DecodeError::InField {
                path: format!("{name}.{path}"),
                source,
            },
            other => DecodeError::InField {
                path: name.to_owned(),
                source: Box::new(other),
            },
        }
    }

    /// The innermost error, without field context.
    pub fn root(&self) -> &DecodeError {
        match self {
            DecodeError::InField { source, .. } => source.root(),
            other => other,
        }
    }
}

/// Result alias used throughout the crate.
pub type DResult<T> = Result<T, DecodeError>;

/// Increments the nesting depth, failing beyond [`crate::MAX_DEPTH`].
#[inline]
pub fn enter(depth: u32) -> DResult<u32> {
    let d = depth.saturating_add(1);
    if d > crate::MAX_DEPTH {
        Err(DecodeError::TooDeep)
    } else {
        Ok(d)
    }
}
