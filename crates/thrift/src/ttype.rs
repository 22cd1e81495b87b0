//! Thrift wire types and their compact nibbles / TJSON tags.

use crate::error::{DResult, DecodeError};

/// A Thrift value type (as far as the wire is concerned: string and binary share one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TType {
    Bool,
    I8,
    I16,
    I32,
    I64,
    Double,
    String,
    List,
    Set,
    Map,
    Struct,
}

impl TType {
    /// Compact-protocol type nibble (bool as 1 = TRUE, used for collection element types).
    pub const fn compact_nibble(self) -> u8 {
        match self {
            TType::Bool => 1,
            TType::I8 => 3,
            TType::I16 => 4,
            TType::I32 => 5,
            TType::I64 => 6,
            TType::Double => 7,
            TType::String => 8,
            TType::List => 9,
            TType::Set => 10,
            TType::Map => 11,
            TType::Struct => 12,
        }
    }

    /// Parses a compact type nibble (1 and 2 are both bool).
    pub fn from_compact(n: u8) -> DResult<TType> {
        Ok(match n {
            1 | 2 => TType::Bool,
            3 => TType::I8,
            4 => TType::I16,
            5 => TType::I32,
            6 => TType::I64,
            7 => TType::Double,
            8 => TType::String,
            9 => TType::List,
            10 => TType::Set,
            11 => TType::Map,
            12 => TType::Struct,
            other => return Err(DecodeError::UnknownType(other)),
        })
    }

    /// TJSONProtocol type tag.
    pub const fn tjson_tag(self) -> &'static str {
        match self {
            TType::Bool => "tf",
            TType::I8 => "i8",
            TType::I16 => "i16",
            TType::I32 => "i32",
            TType::I64 => "i64",
            TType::Double => "dbl",
            TType::String => "str",
            TType::List => "lst",
            TType::Set => "set",
            TType::Map => "map",
            TType::Struct => "rec",
        }
    }

    /// Parses a TJSONProtocol type tag.
    pub fn from_tjson_tag(tag: &str) -> DResult<TType> {
        Ok(match tag {
            "tf" => TType::Bool,
            "i8" => TType::I8,
            "i16" => TType::I16,
            "i32" => TType::I32,
            "i64" => TType::I64,
            "dbl" => TType::Double,
            "str" => TType::String,
            "lst" => TType::List,
            "set" => TType::Set,
            "map" => TType::Map,
            "rec" => TType::Struct,
            _ => return Err(DecodeError::Malformed("unknown TJSON type tag")),
        })
    }

    /// Human-readable name for error messages.
    pub const fn name(self) -> &'static str {
        match self {
            TType::Bool => "bool",
            TType::I8 => "i8",
            TType::I16 => "i16",
            TType::I32 => "i32",
            TType::I64 => "i64",
            TType::Double => "double",
            TType::String => "string",
            TType::List => "list",
            TType::Set => "set",
            TType::Map => "map",
            TType::Struct => "struct",
        }
    }

    /// Fails unless `found` is `self`.
    pub fn check(self, found: TType) -> DResult<()> {
        if self == found {
            Ok(())
        } else {
            Err(DecodeError::TypeMismatch {
                expected: self.name(),
                found: found.name(),
            })
        }
    }
}
