//! The [`ThriftType`] trait: one implementation per Rust type drives all three codecs.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

use base64::Engine as _;
use serde_json::Value;

use crate::compact::{CompactReader, CompactWriter};
use crate::error::{DResult, DecodeError, enter};
use crate::tjson::{mismatch, write_json_string};
use crate::ttype::TType;
use crate::{pjson, tjson};

/// A type that can travel in a Thrift field, list, set or map, in every encoding.
///
/// Implemented for `bool`, `i8`, `i16`, `i32`, `i64`, `f64`, `String`, [`Binary`],
/// `Vec<T>` (list), `BTreeSet<T>` (set), `BTreeMap<K, V>` (map), and for every type
/// described with [`thrift_struct!`](crate::thrift_struct) or [`thrift_enum!`](crate::thrift_enum).
pub trait ThriftType: Sized {
    /// Wire type.
    const TTYPE: TType;

    /// Compact type nibble written in a field header (bool folds its value in).
    fn compact_field_nibble(&self) -> u8 {
        Self::TTYPE.compact_nibble()
    }
    /// Writes the value after its field header (nothing for bool).
    fn write_compact_field_value(&self, w: &mut CompactWriter) {
        self.write_compact(w);
    }
    /// Writes the value in compact (collection-element form).
    fn write_compact(&self, w: &mut CompactWriter);
    /// Reads the value in compact.
    fn read_compact(r: &mut CompactReader<'_>, depth: u32) -> DResult<Self>;

    /// Writes the bare TJSON value (no type tag).
    fn write_tjson(&self, out: &mut String);
    /// Reads a bare TJSON value.
    fn read_tjson(v: &Value, depth: u32) -> DResult<Self>;

    /// Writes the Parsable JSON value.
    fn write_pjson(&self, out: &mut String);
    /// Reads a Parsable JSON value (never `null`: callers treat `null` as unset).
    fn read_pjson(v: &Value, depth: u32) -> DResult<Self>;
}

/// A struct, exception or `<fn>_args` / `<fn>_result` described with
/// [`thrift_struct!`](crate::thrift_struct).
pub trait ThriftStruct: ThriftType + Default + Clone + PartialEq + Debug {
    /// Rust name of the struct.
    const NAME: &'static str;
}

/// An enum described with [`thrift_enum!`](crate::thrift_enum). Unknown numbers are kept.
pub trait ThriftEnum: Copy + Ord + Debug {
    fn from_i32(v: i32) -> Self;
    fn to_i32(self) -> i32;
    fn from_name(name: &str) -> Option<Self>;
    fn name(self) -> Option<&'static str>;
}

/// A type usable as a map key. JSON encodings write keys as strings.
pub trait MapKey: ThriftType + Ord {
    /// Writes the key as a JSON string literal (numbers as decimal strings).
    fn write_json_key(&self, out: &mut String);
    fn read_tjson_key(k: &str) -> DResult<Self>;
    fn read_pjson_key(k: &str) -> DResult<Self>;
}

/// Thrift `binary` (base64 in both JSON encodings).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Binary(pub Vec<u8>);

impl Debug for Binary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Binary({} bytes)", self.0.len())
    }
}

/// Reads a compact field value of type `T` after checking the header's wire type.
pub fn read_compact_field<T: ThriftType>(
    r: &mut CompactReader<'_>,
    found: TType,
    depth: u32,
) -> DResult<T> {
    T::TTYPE.check(found)?;
    T::read_compact(r, depth)
}

/// Reads a TJSON field value of type `T` after checking its tag.
pub fn read_tjson_field<T: ThriftType>(found: TType, v: &Value, depth: u32) -> DResult<T> {
    T::TTYPE.check(found)?;
    T::read_tjson(v, depth)
}

// ---------------------------------------------------------------------------------------
// Scalars

impl ThriftType for bool {
    const TTYPE: TType = TType::Bool;
    fn compact_field_nibble(&self) -> u8 {
        if *self { 1 } else { 2 }
    }
    fn write_compact_field_value(&self, _w: &mut CompactWriter) {}
    fn write_compact(&self, w: &mut CompactWriter) {
        w.write_u8(if *self { 1 } else { 2 });
    }
    fn read_compact(r: &mut CompactReader<'_>, _depth: u32) -> DResult<Self> {
        r.read_bool()
    }
    fn write_tjson(&self, out: &mut String) {
        out.push(if *self { '1' } else { '0' });
    }
    fn read_tjson(v: &Value, _depth: u32) -> DResult<Self> {
        tjson::read_bool(v)
    }
    fn write_pjson(&self, out: &mut String) {
        out.push_str(if *self { "true" } else { "false" });
    }
    fn read_pjson(v: &Value, _depth: u32) -> DResult<Self> {
        pjson::read_bool(v)
    }
}

macro_rules! int_impl {
    ($t:ty, $tt:expr, $name:literal, $w:ident, $r:ident) => {
        impl ThriftType for $t {
            const TTYPE: TType = $tt;
            fn write_compact(&self, w: &mut CompactWriter) {
                w.$w(*self);
            }
            fn read_compact(r: &mut CompactReader<'_>, _depth: u32) -> DResult<Self> {
                r.$r()
            }
            fn write_tjson(&self, out: &mut String) {
                out.push_str(&self.to_string());
            }
            fn read_tjson(v: &Value, _depth: u32) -> DResult<Self> {
                let i = tjson::read_int(v, <$t>::MIN.into(), <$t>::MAX.into(), $name)?;
                <$t>::try_from(i).map_err(|_| DecodeError::IntOutOfRange($name))
            }
            fn write_pjson(&self, out: &mut String) {
                out.push_str(&self.to_string());
            }
            fn read_pjson(v: &Value, _depth: u32) -> DResult<Self> {
                let i = pjson::read_int(v, <$t>::MIN.into(), <$t>::MAX.into(), $name)?;
                <$t>::try_from(i).map_err(|_| DecodeError::IntOutOfRange($name))
            }
        }

        impl MapKey for $t {
            fn write_json_key(&self, out: &mut String) {
                out.push('"');
                out.push_str(&self.to_string());
                out.push('"');
            }
            fn read_tjson_key(k: &str) -> DResult<Self> {
                pjson::parse_decimal(k)
                    .and_then(|i| <$t>::try_from(i).ok())
                    .ok_or(DecodeError::Malformed("map key is not a decimal integer"))
            }
            fn read_pjson_key(k: &str) -> DResult<Self> {
                Self::read_tjson_key(k)
            }
        }
    };
}

int_impl!(i8, TType::I8, "i8", write_i8, read_i8);
int_impl!(i16, TType::I16, "i16", write_i16, read_i16);
int_impl!(i32, TType::I32, "i32", write_i32, read_i32);
int_impl!(i64, TType::I64, "i64", write_i64, read_i64);

impl ThriftType for f64 {
    const TTYPE: TType = TType::Double;
    fn write_compact(&self, w: &mut CompactWriter) {
        w.write_double(*self);
    }
    fn read_compact(r: &mut CompactReader<'_>, _depth: u32) -> DResult<Self> {
        r.read_double()
    }
    fn write_tjson(&self, out: &mut String) {
        tjson::write_double(out, *self);
    }
    fn read_tjson(v: &Value, _depth: u32) -> DResult<Self> {
        tjson::read_double(v)
    }
    fn write_pjson(&self, out: &mut String) {
        tjson::write_double(out, *self);
    }
    fn read_pjson(v: &Value, _depth: u32) -> DResult<Self> {
        tjson::read_double(v)
    }
}

impl ThriftType for String {
    const TTYPE: TType = TType::String;
    fn write_compact(&self, w: &mut CompactWriter) {
        w.write_binary(self.as_bytes());
    }
    fn read_compact(r: &mut CompactReader<'_>, _depth: u32) -> DResult<Self> {
        r.read_string()
    }
    fn write_tjson(&self, out: &mut String) {
        write_json_string(out, self);
    }
    fn read_tjson(v: &Value, _depth: u32) -> DResult<Self> {
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| mismatch("string", v))
    }
    fn write_pjson(&self, out: &mut String) {
        write_json_string(out, self);
    }
    fn read_pjson(v: &Value, depth: u32) -> DResult<Self> {
        Self::read_tjson(v, depth)
    }
}

impl MapKey for String {
    fn write_json_key(&self, out: &mut String) {
        write_json_string(out, self);
    }
    fn read_tjson_key(k: &str) -> DResult<Self> {
        Ok(k.to_owned())
    }
    fn read_pjson_key(k: &str) -> DResult<Self> {
        Ok(k.to_owned())
    }
}

fn b64_decode(s: &str) -> DResult<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const ENGINE: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    ENGINE.decode(s).map_err(|_| DecodeError::InvalidBase64)
}

impl ThriftType for Binary {
    const TTYPE: TType = TType::String;
    fn write_compact(&self, w: &mut CompactWriter) {
        w.write_binary(&self.0);
    }
    fn read_compact(r: &mut CompactReader<'_>, _depth: u32) -> DResult<Self> {
        Ok(Binary(r.read_binary()?.to_vec()))
    }
    fn write_tjson(&self, out: &mut String) {
        out.push('"');
        out.push_str(&base64::engine::general_purpose::STANDARD.encode(&self.0));
        out.push('"');
    }
    fn read_tjson(v: &Value, _depth: u32) -> DResult<Self> {
        let s = v
            .as_str()
            .ok_or_else(|| mismatch("binary (base64 string)", v))?;
        Ok(Binary(b64_decode(s)?))
    }
    fn write_pjson(&self, out: &mut String) {
        self.write_tjson(out);
    }
    fn read_pjson(v: &Value, depth: u32) -> DResult<Self> {
        Self::read_tjson(v, depth)
    }
}

// ---------------------------------------------------------------------------------------
// Containers

/// A list or set in compact form (both share the list header).
fn write_compact_list<'a, T: ThriftType + 'a>(
    w: &mut CompactWriter,
    len: usize,
    items: impl Iterator<Item = &'a T>,
) {
    w.write_list_header(T::TTYPE, len);
    for it in items {
        it.write_compact(w);
    }
}

fn write_tjson_list<'a, T: ThriftType + 'a>(
    out: &mut String,
    len: usize,
    items: impl Iterator<Item = &'a T>,
) {
    out.push_str("[\"");
    out.push_str(T::TTYPE.tjson_tag());
    out.push_str("\",");
    out.push_str(&len.to_string());
    for it in items {
        out.push(',');
        it.write_tjson(out);
    }
    out.push(']');
}

fn write_pjson_list<'a, T: ThriftType + 'a>(out: &mut String, items: impl Iterator<Item = &'a T>) {
    out.push('[');
    for (i, it) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        it.write_pjson(out);
    }
    out.push(']');
}

/// Reads compact list/set elements into a new collection (a set keeps a repeated item once).
fn read_compact_elems<T: ThriftType, C: Default + Extend<T>>(
    r: &mut CompactReader<'_>,
    depth: u32,
) -> DResult<C> {
    let depth = enter(depth)?;
    let (et, n) = r.read_list_header()?;
    let mut out = C::default();
    if let Some(et) = et {
        T::TTYPE.check(et)?;
        for _ in 0..n {
            out.extend(Some(T::read_compact(r, depth)?));
        }
    }
    Ok(out)
}

/// Reads TJSON list/set elements into a new collection (a set keeps a repeated item once).
fn read_tjson_elems<T: ThriftType, C: Default + Extend<T>>(v: &Value, depth: u32) -> DResult<C> {
    let depth = enter(depth)?;
    let (et, elems) = tjson::list_parts(v)?;
    if !elems.is_empty() {
        T::TTYPE.check(et)?;
    }
    let mut out = C::default();
    for e in elems {
        out.extend(Some(T::read_tjson(e, depth)?));
    }
    Ok(out)
}

/// The methods a list and a set share: every encoding but Parsable JSON's reading (where a set
/// refuses a repeated item). Compact and TJSON follow Apache, where a set keeps a repeated item
/// once. Nothing is reserved from a declared size: a collection grows only as elements are
/// actually decoded, so allocation stays proportional to the input.
macro_rules! list_like_methods {
    () => {
        fn write_compact(&self, w: &mut CompactWriter) {
            write_compact_list(w, self.len(), self.iter());
        }
        fn read_compact(r: &mut CompactReader<'_>, depth: u32) -> DResult<Self> {
            read_compact_elems(r, depth)
        }
        fn write_tjson(&self, out: &mut String) {
            write_tjson_list(out, self.len(), self.iter());
        }
        fn read_tjson(v: &Value, depth: u32) -> DResult<Self> {
            read_tjson_elems(v, depth)
        }
        fn write_pjson(&self, out: &mut String) {
            write_pjson_list(out, self.iter());
        }
    };
}

impl<T: ThriftType> ThriftType for Vec<T> {
    const TTYPE: TType = TType::List;
    list_like_methods!();
    fn read_pjson(v: &Value, depth: u32) -> DResult<Self> {
        let depth = enter(depth)?;
        let arr = v.as_array().ok_or_else(|| mismatch("array", v))?;
        arr.iter().map(|e| T::read_pjson(e, depth)).collect()
    }
}

impl<T: ThriftType + Ord> ThriftType for BTreeSet<T> {
    const TTYPE: TType = TType::Set;
    list_like_methods!();
    /// Parsable JSON: a set must not repeat items.
    fn read_pjson(v: &Value, depth: u32) -> DResult<Self> {
        let depth = enter(depth)?;
        let arr = v.as_array().ok_or_else(|| mismatch("array", v))?;
        let mut out = BTreeSet::new();
        for e in arr {
            if !out.insert(T::read_pjson(e, depth)?) {
                return Err(DecodeError::DuplicateSetItem);
            }
        }
        Ok(out)
    }
}

/// A map as a JSON object (both JSON encodings), each value written by `write_value`.
fn write_json_object<K: MapKey, V>(
    map: &BTreeMap<K, V>,
    out: &mut String,
    write_value: impl Fn(&V, &mut String),
) {
    out.push('{');
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        k.write_json_key(out);
        out.push(':');
        write_value(v, out);
    }
    out.push('}');
}

impl<K: MapKey, V: ThriftType> ThriftType for BTreeMap<K, V> {
    const TTYPE: TType = TType::Map;
    fn write_compact(&self, w: &mut CompactWriter) {
        w.write_map_header(K::TTYPE, V::TTYPE, self.len());
        for (k, v) in self {
            k.write_compact(w);
            v.write_compact(w);
        }
    }
    fn read_compact(r: &mut CompactReader<'_>, depth: u32) -> DResult<Self> {
        let depth = enter(depth)?;
        let (kv, n) = r.read_map_header()?;
        let mut out = BTreeMap::new();
        if let Some((kt, vt)) = kv {
            K::TTYPE.check(kt)?;
            V::TTYPE.check(vt)?;
            for _ in 0..n {
                let k = K::read_compact(r, depth)?;
                let v = V::read_compact(r, depth)?;
                out.insert(k, v);
            }
        }
        Ok(out)
    }
    fn write_tjson(&self, out: &mut String) {
        out.push_str("[\"");
        out.push_str(K::TTYPE.tjson_tag());
        out.push_str("\",\"");
        out.push_str(V::TTYPE.tjson_tag());
        out.push_str("\",");
        out.push_str(&self.len().to_string());
        out.push(',');
        write_json_object(self, out, V::write_tjson);
        out.push(']');
    }
    fn read_tjson(v: &Value, depth: u32) -> DResult<Self> {
        let depth = enter(depth)?;
        let (kt, vt, obj) = tjson::map_parts(v)?;
        if !obj.is_empty() {
            K::TTYPE.check(kt)?;
            V::TTYPE.check(vt)?;
        }
        let mut out = BTreeMap::new();
        for (k, mv) in obj {
            out.insert(K::read_tjson_key(k)?, V::read_tjson(mv, depth)?);
        }
        Ok(out)
    }
    fn write_pjson(&self, out: &mut String) {
        write_json_object(self, out, V::write_pjson);
    }
    fn read_pjson(v: &Value, depth: u32) -> DResult<Self> {
        let depth = enter(depth)?;
        let obj = v.as_object().ok_or_else(|| mismatch("object", v))?;
        let mut out = BTreeMap::new();
        for (k, mv) in obj {
            out.insert(K::read_pjson_key(k)?, V::read_pjson(mv, depth)?);
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------
// Enum helpers (used by `thrift_enum!`)

#[doc(hidden)]
pub fn enum_read_pjson<E: ThriftEnum>(v: &Value) -> DResult<E> {
    match v {
        Value::Number(_) => {
            let i = pjson::read_int(v, i32::MIN.into(), i32::MAX.into(), "enum")?;
            Ok(E::from_i32(i as i32))
        }
        Value::String(s) => enum_read_pjson_key(s),
        _ => Err(mismatch("enum", v)),
    }
}

#[doc(hidden)]
pub fn enum_read_pjson_key<E: ThriftEnum>(s: &str) -> DResult<E> {
    if let Some(i) = pjson::parse_decimal(s) {
        let i = i32::try_from(i).map_err(|_| DecodeError::IntOutOfRange("enum"))?;
        return Ok(E::from_i32(i));
    }
    E::from_name(s).ok_or(DecodeError::UnknownEnumName)
}

#[doc(hidden)]
pub fn enum_read_tjson_key<E: ThriftEnum>(s: &str) -> DResult<E> {
    pjson::parse_decimal(s)
        .and_then(|i| i32::try_from(i).ok())
        .map(E::from_i32)
        .ok_or(DecodeError::Malformed("map key is not a decimal integer"))
}
