//! Conjure primitives with NOMINAL.md §2/§3 validation: `rid`, `safelong`,
//! `datetime` and `uuid`. (`string`, `integer` and `boolean` map to `String`,
//! `i32` and `bool`; serde_json already refuses coercions for those.)

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

// ------------------------------------------------------------------ RID

/// Why a string is not a valid resource identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RidError {
    /// Does not start with `ri.`.
    #[error("resource identifier must start with `ri.`")]
    MissingPrefix,
    /// Fewer than the five dot-separated parts.
    #[error("resource identifier must have the form ri.<service>.<instance>.<type>.<locator>")]
    MissingPart,
    /// A part breaks its grammar.
    #[error("invalid {part} in resource identifier")]
    InvalidPart {
        /// `service`, `instance`, `type` or `locator`.
        part: &'static str,
    },
}

/// A Conjure resource identifier `ri.<service>.<instance>.<type>.<locator>`
/// (NOMINAL.md §3):
///
/// - service: `[a-z][a-z0-9-]*`
/// - instance: `([a-z0-9][a-z0-9-]*)?`
/// - type: `[a-z][a-z0-9-]*`
/// - locator: `[a-zA-Z0-9_.-]+`
///
/// Only valid RIDs can be constructed. Equality, ordering and hashing are
/// those of the string form.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rid {
    value: String,
    // Byte offsets of the dots ending service, instance and type.
    dots: [usize; 3],
}

fn is_service_or_type(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_lowercase())
        && b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

fn is_instance(s: &str) -> bool {
    let mut b = s.bytes();
    match b.next() {
        None => true,
        Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit() => {
            b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        }
        Some(_) => false,
    }
}

fn is_locator(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

impl Rid {
    /// Parses and validates a RID.
    pub fn parse(s: &str) -> Result<Rid, RidError> {
        let rest = s.strip_prefix("ri.").ok_or(RidError::MissingPrefix)?;
        let mut dots = [0usize; 3];
        let mut start = 3;
        let mut cursor = rest;
        for (i, dot) in dots.iter_mut().enumerate() {
            let pos = cursor.find('.').ok_or(RidError::MissingPart)?;
            let part = &cursor[..pos];
            let ok = if i == 1 {
                is_instance(part)
            } else {
                is_service_or_type(part)
            };
            if !ok {
                return Err(RidError::InvalidPart {
                    part: ["service", "instance", "type"][i],
                });
            }
            *dot = start + pos;
            start += pos + 1;
            cursor = &cursor[pos + 1..];
        }
        if !is_locator(cursor) {
            return Err(RidError::InvalidPart { part: "locator" });
        }
        Ok(Rid {
            value: s.to_owned(),
            dots,
        })
    }

    /// Builds a RID from its parts, validating each.
    pub fn new(
        service: &str,
        instance: &str,
        resource_type: &str,
        locator: &str,
    ) -> Result<Rid, RidError> {
        Rid::parse(&format!(
            "ri.{service}.{instance}.{resource_type}.{locator}"
        ))
    }

    /// The full string form.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The `<service>` part, e.g. `authn`.
    pub fn service(&self) -> &str {
        &self.value[3..self.dots[0]]
    }

    /// The `<instance>` part (may be empty), e.g. `local`.
    pub fn instance(&self) -> &str {
        &self.value[self.dots[0] + 1..self.dots[1]]
    }

    /// The `<type>` part, e.g. `user`.
    pub fn resource_type(&self) -> &str {
        &self.value[self.dots[1] + 1..self.dots[2]]
    }

    /// The `<locator>` part, e.g. a uuid.
    pub fn locator(&self) -> &str {
        &self.value[self.dots[2] + 1..]
    }

    /// Consumes the RID, returning its string form.
    pub fn into_string(self) -> String {
        self.value
    }
}

impl fmt::Debug for Rid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rid({:?})", self.value)
    }
}

impl fmt::Display for Rid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

impl FromStr for Rid {
    type Err = RidError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Rid::parse(s)
    }
}

impl TryFrom<String> for Rid {
    type Error = RidError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Rid::parse(&s)
    }
}

impl AsRef<str> for Rid {
    fn as_ref(&self) -> &str {
        &self.value
    }
}

impl Serialize for Rid {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.value)
    }
}

impl<'de> Deserialize<'de> for Rid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Rid;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a resource identifier string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Rid, E> {
                Rid::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

// ------------------------------------------------------------------ safelong

/// A `safelong` out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("safelong {0} is outside ±(2^53-1)")]
pub struct SafeLongError(pub i128);

/// A Conjure `safelong`: an integer with |x| ≤ 2^53−1. On the wire a JSON
/// integer; fractions (including `1.0`), exponents and strings are rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SafeLong(i64);

impl SafeLong {
    /// 2^53 − 1.
    pub const MAX: SafeLong = SafeLong((1i64 << 53) - 1);
    /// −(2^53 − 1).
    pub const MIN: SafeLong = SafeLong(-((1i64 << 53) - 1));

    /// Range-checks `v`.
    pub fn new(v: i64) -> Result<SafeLong, SafeLongError> {
        if (Self::MIN.0..=Self::MAX.0).contains(&v) {
            Ok(SafeLong(v))
        } else {
            Err(SafeLongError(i128::from(v)))
        }
    }

    /// The value.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl TryFrom<i64> for SafeLong {
    type Error = SafeLongError;
    fn try_from(v: i64) -> Result<Self, Self::Error> {
        SafeLong::new(v)
    }
}

impl From<i32> for SafeLong {
    fn from(v: i32) -> Self {
        SafeLong(i64::from(v))
    }
}

impl From<u32> for SafeLong {
    fn from(v: u32) -> Self {
        SafeLong(i64::from(v))
    }
}

impl From<SafeLong> for i64 {
    fn from(v: SafeLong) -> i64 {
        v.0
    }
}

impl fmt::Display for SafeLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl Serialize for SafeLong {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.0)
    }
}

impl<'de> Deserialize<'de> for SafeLong {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SafeLong;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer with |x| <= 2^53-1")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SafeLong, E> {
                SafeLong::new(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SafeLong, E> {
                i64::try_from(v)
                    .map_err(|_| E::custom(SafeLongError(i128::from(v))))
                    .and_then(|v| SafeLong::new(v).map_err(E::custom))
            }
        }
        d.deserialize_i64(V)
    }
}

// ------------------------------------------------------------------ datetime

/// A `datetime` string that is not RFC 3339 with an offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("datetime must be RFC 3339 with an offset (e.g. 2025-06-01T10:00:00.000Z)")]
pub struct DateTimeError;

/// A Conjure `datetime`: RFC 3339 with a `Z` or `±hh:mm` offset on input,
/// always written as UTC `YYYY-MM-DDTHH:MM:SS.sssZ` (millisecond precision;
/// finer precision is truncated on output).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConjureDateTime(pub DateTime<Utc>);

impl ConjureDateTime {
    /// The current time.
    pub fn now() -> Self {
        ConjureDateTime(Utc::now())
    }

    /// Parses RFC 3339 with an offset (`T` separator, `Z`/`±hh:mm`).
    pub fn parse(s: &str) -> Result<Self, DateTimeError> {
        // chrono also accepts a space separator; the Conjure format does not.
        if !matches!(s.as_bytes().get(10), Some(b'T' | b't')) {
            return Err(DateTimeError);
        }
        DateTime::parse_from_rfc3339(s)
            .map(|d| ConjureDateTime(d.with_timezone(&Utc)))
            .map_err(|_| DateTimeError)
    }

    /// The UTC instant.
    pub fn as_utc(&self) -> DateTime<Utc> {
        self.0
    }

    /// The wire form, `YYYY-MM-DDTHH:MM:SS.sssZ`.
    pub fn to_wire_string(&self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::Millis, true)
    }
}

impl From<DateTime<Utc>> for ConjureDateTime {
    fn from(d: DateTime<Utc>) -> Self {
        ConjureDateTime(d)
    }
}

impl From<ConjureDateTime> for DateTime<Utc> {
    fn from(d: ConjureDateTime) -> Self {
        d.0
    }
}

impl fmt::Display for ConjureDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_wire_string())
    }
}

impl FromStr for ConjureDateTime {
    type Err = DateTimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ConjureDateTime::parse(s)
    }
}

impl Serialize for ConjureDateTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_wire_string())
    }
}

impl<'de> Deserialize<'de> for ConjureDateTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ConjureDateTime;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 datetime string with offset")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ConjureDateTime, E> {
                ConjureDateTime::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

// ------------------------------------------------------------------ uuid

/// A `uuid` string not in 8-4-4-4-12 hex form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("uuid must be 8-4-4-4-12 hexadecimal")]
pub struct UuidError;

/// A Conjure `uuid`: accepted as 8-4-4-4-12 hex in any letter case (no
/// braces, URN or hyphen-less forms), written lowercase hyphenated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ConjureUuid(pub uuid::Uuid);

impl ConjureUuid {
    /// A fresh random (v4) uuid.
    pub fn new_v4() -> Self {
        ConjureUuid(uuid::Uuid::new_v4())
    }

    /// Parses the hyphenated form, any case.
    pub fn parse(s: &str) -> Result<Self, UuidError> {
        let b = s.as_bytes();
        let shape_ok = b.len() == 36
            && b.iter().enumerate().all(|(i, c)| {
                if matches!(i, 8 | 13 | 18 | 23) {
                    *c == b'-'
                } else {
                    c.is_ascii_hexdigit()
                }
            });
        if !shape_ok {
            return Err(UuidError);
        }
        uuid::Uuid::try_parse(s)
            .map(ConjureUuid)
            .map_err(|_| UuidError)
    }

    /// The inner uuid.
    pub fn into_inner(self) -> uuid::Uuid {
        self.0
    }
}

impl From<uuid::Uuid> for ConjureUuid {
    fn from(u: uuid::Uuid) -> Self {
        ConjureUuid(u)
    }
}

impl From<ConjureUuid> for uuid::Uuid {
    fn from(u: ConjureUuid) -> Self {
        u.0
    }
}

impl std::ops::Deref for ConjureUuid {
    type Target = uuid::Uuid;
    fn deref(&self) -> &uuid::Uuid {
        &self.0
    }
}

impl fmt::Display for ConjureUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl FromStr for ConjureUuid {
    type Err = UuidError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ConjureUuid::parse(s)
    }
}

impl Serialize for ConjureUuid {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0.hyphenated())
    }
}

impl<'de> Deserialize<'de> for ConjureUuid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ConjureUuid;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a uuid string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ConjureUuid, E> {
                ConjureUuid::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

// ------------------------------------------------------------------ enums

/// A string that is not a value of a Conjure enum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a value of enum {enum_name}")]
pub struct UnknownEnumValue {
    /// The IR enum name.
    pub enum_name: &'static str,
    /// The rejected value.
    pub value: String,
}
