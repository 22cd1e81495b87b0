//! Parsable JSON envelope helpers (structs keyed by field name, lenient numbers).

use crate::error::{DResult, DecodeError};
use crate::tjson::mismatch;
use serde_json::Value;

/// Reads an integer in `[min, max]`: a JSON integer, or a string of decimal digits
/// (optionally preceded by `-`).
pub fn read_int(v: &Value, min: i64, max: i64, what: &'static str) -> DResult<i64> {
    let i = match v {
        Value::Number(n) => n.as_i64().ok_or(DecodeError::IntOutOfRange(what))?,
        Value::String(s) => {
            parse_decimal(s).ok_or(DecodeError::Malformed("not a decimal integer"))?
        }
        _ => return Err(mismatch(what, v)),
    };
    if i < min || i > max {
        return Err(DecodeError::IntOutOfRange(what));
    }
    Ok(i)
}

/// Parses `-?[0-9]+` into an i64 (no `+`, no spaces, no exponent).
pub fn parse_decimal(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

/// Reads a bool: `true`/`false` only.
pub fn read_bool(v: &Value) -> DResult<bool> {
    v.as_bool().ok_or_else(|| mismatch("bool", v))
}

/// The object of a struct value.
pub fn as_struct(v: &Value) -> DResult<&serde_json::Map<String, Value>> {
    v.as_object().ok_or_else(|| mismatch("object", v))
}

/// Writes `,"<name>":` (the comma only after the first field).
pub fn write_field_prefix(out: &mut String, first: &mut bool, name: &str) {
    if !*first {
        out.push(',');
    }
    *first = false;
    crate::tjson::write_json_string(out, name);
    out.push(':');
}
