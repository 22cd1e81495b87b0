//! Apache TJSONProtocol helpers. Input is parsed with `serde_json` (recursion-limited), then
//! walked against the schema; output is written directly, without whitespace.

use crate::error::{DResult, DecodeError, enter};
use crate::ttype::TType;
use serde_json::Value;

/// Appends `s` as a JSON string literal (escaping `"`, `\` and control characters).
pub fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends a double as JSON: a number when finite, else `"NaN"`, `"Infinity"`, `"-Infinity"`.
pub fn write_double(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("\"NaN\"");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 {
            "\"Infinity\""
        } else {
            "\"-Infinity\""
        });
    } else {
        out.push_str(&format!("{v:?}"));
    }
}

/// Reads a double: a JSON number, or a string holding a number / NaN / Infinity / -Infinity.
pub fn read_double(v: &Value) -> DResult<f64> {
    match v {
        Value::Number(n) => n.as_f64().ok_or(DecodeError::Malformed("bad double")),
        Value::String(s) => match s.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            other => other
                .parse::<f64>()
                .map_err(|_| DecodeError::Malformed("bad double")),
        },
        _ => Err(mismatch("double", v)),
    }
}

/// JSON kind of a value, for error messages.
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "JSON boolean",
        Value::Number(_) => "JSON number",
        Value::String(_) => "JSON string",
        Value::Array(_) => "JSON array",
        Value::Object(_) => "JSON object",
    }
}

pub(crate) fn mismatch(expected: &'static str, v: &Value) -> DecodeError {
    DecodeError::TypeMismatch {
        expected,
        found: json_kind(v),
    }
}

/// Reads a JSON integer (unquoted) within `[min, max]`.
pub fn read_int(v: &Value, min: i64, max: i64, what: &'static str) -> DResult<i64> {
    match v {
        Value::Number(n) => {
            let i = n.as_i64().ok_or(DecodeError::IntOutOfRange(what))?;
            if i < min || i > max {
                return Err(DecodeError::IntOutOfRange(what));
            }
            Ok(i)
        }
        _ => Err(mismatch(what, v)),
    }
}

/// Reads a bool: `1`, `0`, `true` or `false`.
pub fn read_bool(v: &Value) -> DResult<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) => match n.as_i64() {
            Some(1) => Ok(true),
            Some(0) => Ok(false),
            _ => Err(DecodeError::Malformed("bool must be 0 or 1")),
        },
        _ => Err(mismatch("bool", v)),
    }
}

/// Parses a struct member `{"<tag>": value}`.
pub fn field_value(v: &Value) -> DResult<(TType, &Value)> {
    let obj = v.as_object().ok_or_else(|| mismatch("TJSON field", v))?;
    let mut it = obj.iter();
    match (it.next(), it.next()) {
        (Some((tag, inner)), None) => Ok((TType::from_tjson_tag(tag)?, inner)),
        _ => Err(DecodeError::Malformed(
            "TJSON field must have exactly one type tag",
        )),
    }
}

/// Parses a field-id key.
pub fn field_id(k: &str) -> DResult<i16> {
    if k.is_empty()
        || !k
            .bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_digit() || (i == 0 && b == b'-'))
    {
        return Err(DecodeError::Malformed("TJSON field id"));
    }
    k.parse::<i16>()
        .map_err(|_| DecodeError::Malformed("TJSON field id"))
}

/// Parses a list/set body `["<elemtag>", count, e1, …]`, returning the element type and
/// elements. The count must match the number of elements.
pub fn list_parts(v: &Value) -> DResult<(TType, &[Value])> {
    let arr = v.as_array().ok_or_else(|| mismatch("TJSON list", v))?;
    let (Some(tag), Some(count)) = (arr.first(), arr.get(1)) else {
        return Err(DecodeError::Malformed("TJSON list header"));
    };
    let tag = tag
        .as_str()
        .ok_or(DecodeError::Malformed("TJSON list element tag"))?;
    let et = TType::from_tjson_tag(tag)?;
    let elems = arr.get(2..).unwrap_or(&[]);
    let n = read_int(count, 0, i64::from(i32::MAX), "list size")?;
    if n as usize != elems.len() {
        return Err(DecodeError::Malformed(
            "TJSON list count does not match its items",
        ));
    }
    Ok((et, elems))
}

/// Parses a map body `["<ktag>","<vtag>",count,{k:v,…}]`.
pub fn map_parts(v: &Value) -> DResult<(TType, TType, &serde_json::Map<String, Value>)> {
    let arr = v.as_array().ok_or_else(|| mismatch("TJSON map", v))?;
    let [kt, vt, count, obj] = arr.as_slice() else {
        return Err(DecodeError::Malformed("TJSON map must have 4 items"));
    };
    let kt = TType::from_tjson_tag(
        kt.as_str()
            .ok_or(DecodeError::Malformed("TJSON map key tag"))?,
    )?;
    let vt = TType::from_tjson_tag(
        vt.as_str()
            .ok_or(DecodeError::Malformed("TJSON map value tag"))?,
    )?;
    let obj = obj
        .as_object()
        .ok_or_else(|| mismatch("TJSON map entries", obj))?;
    let n = read_int(count, 0, i64::from(i32::MAX), "map size")?;
    if n as usize != obj.len() {
        return Err(DecodeError::Malformed(
            "TJSON map count does not match its entries",
        ));
    }
    Ok((kt, vt, obj))
}

/// Validates and skips a value of type `t` (for unknown fields), within the depth limit.
pub fn skip(t: TType, v: &Value, depth: u32) -> DResult<()> {
    let depth = enter(depth)?;
    match t {
        TType::Bool => read_bool(v).map(drop),
        TType::I8 => read_int(v, i8::MIN.into(), i8::MAX.into(), "i8").map(drop),
        TType::I16 => read_int(v, i16::MIN.into(), i16::MAX.into(), "i16").map(drop),
        TType::I32 => read_int(v, i32::MIN.into(), i32::MAX.into(), "i32").map(drop),
        TType::I64 => read_int(v, i64::MIN, i64::MAX, "i64").map(drop),
        TType::Double => read_double(v).map(drop),
        TType::String => {
            if v.is_string() {
                Ok(())
            } else {
                Err(mismatch("string", v))
            }
        }
        TType::Struct => {
            let obj = v.as_object().ok_or_else(|| mismatch("struct", v))?;
            for (k, fv) in obj {
                field_id(k)?;
                let (ft, inner) = field_value(fv)?;
                skip(ft, inner, depth)?;
            }
            Ok(())
        }
        TType::List | TType::Set => {
            let (et, elems) = list_parts(v)?;
            elems.iter().try_for_each(|e| skip(et, e, depth))
        }
        TType::Map => {
            let (kt, vt, obj) = map_parts(v)?;
            for (k, mv) in obj {
                skip_key(kt, k)?;
                skip(vt, mv, depth)?;
            }
            Ok(())
        }
    }
}

fn skip_key(t: TType, k: &str) -> DResult<()> {
    match t {
        TType::String => Ok(()),
        TType::Bool | TType::I8 | TType::I16 | TType::I32 | TType::I64 => k
            .parse::<i64>()
            .map(drop)
            .map_err(|_| DecodeError::Malformed("TJSON map key")),
        TType::Double => read_double(&Value::String(k.to_owned())).map(drop),
        // Containers as map keys are written as embedded JSON text; accept any key.
        TType::List | TType::Set | TType::Map | TType::Struct => Ok(()),
    }
}

/// The object of a struct value.
pub fn as_struct(v: &Value) -> DResult<&serde_json::Map<String, Value>> {
    v.as_object().ok_or_else(|| mismatch("struct", v))
}

/// Writes `,"<id>":{"<tag>":` (the comma only after the first field).
pub fn write_field_prefix(out: &mut String, first: &mut bool, id: i16, t: TType) {
    if !*first {
        out.push(',');
    }
    *first = false;
    out.push('"');
    out.push_str(&id.to_string());
    out.push_str("\":{\"");
    out.push_str(t.tjson_tag());
    out.push_str("\":");
}
