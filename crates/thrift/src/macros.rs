//! `thrift_struct!` and `thrift_enum!`: the one description from which a Rust type and all
//! three codecs are generated.

/// Describes a Thrift struct (or exception, or `<fn>_args` / `<fn>_result`) once; generates
/// the Rust struct and its compact, TJSON and Parsable JSON codecs.
///
/// ```
/// use portcullis_thrift::thrift_struct;
/// thrift_struct! {
///     /// A region.
///     pub struct Region {
///         1: id "id": String,
///         2: api_host "apiHost": String,
///         3: optional note "note": String,
///         4: required kind "kind": i32,
///     }
/// }
/// let r = Region { id: "us".into(), ..Default::default() };
/// assert_eq!(r.note, None);
/// ```
///
/// Each field is `ID: [optional|required] rust_name "wireName": Type`.
/// * default requiredness: Rust type `T`, always written; missing on input → `T::default()`;
/// * `optional`: Rust type `Option<T>`, written only when `Some`;
/// * `required`: Rust type `T`, always written; missing on input → decode error.
#[macro_export]
macro_rules! thrift_struct {
    ($(#[$m:meta])* $vis:vis struct $name:ident { $($body:tt)* }) => {
        $crate::thrift_struct!(@munch [$(#[$m])*] [$vis] $name [] $($body)*);
    };
    // All fields normalised: generate.
    (@munch [$($a:tt)*] [$vis:vis] $name:ident
        [$({[$($fa:tt)*] $id:literal, $kind:ident, $f:ident, $w:literal, $t:ty})*]) => {
        $crate::__thrift_struct_impl!([$($a)*] [$vis] $name
            [$({[$($fa)*] $id, $kind, $f, $w, $t})*]);
    };
    (@munch $a:tt $v:tt $name:ident [$($acc:tt)*]
        $(#[$fm:meta])* $id:literal : optional $f:ident $w:literal : $t:ty $(, $($rest:tt)*)?) => {
        $crate::thrift_struct!(@munch $a $v $name
            [$($acc)* {[$(#[$fm])*] $id, optional, $f, $w, $t}] $($($rest)*)?);
    };
    (@munch $a:tt $v:tt $name:ident [$($acc:tt)*]
        $(#[$fm:meta])* $id:literal : required $f:ident $w:literal : $t:ty $(, $($rest:tt)*)?) => {
        $crate::thrift_struct!(@munch $a $v $name
            [$($acc)* {[$(#[$fm])*] $id, required, $f, $w, $t}] $($($rest)*)?);
    };
    (@munch $a:tt $v:tt $name:ident [$($acc:tt)*]
        $(#[$fm:meta])* $id:literal : $f:ident $w:literal : $t:ty $(, $($rest:tt)*)?) => {
        $crate::thrift_struct!(@munch $a $v $name
            [$($acc)* {[$(#[$fm])*] $id, default, $f, $w, $t}] $($($rest)*)?);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __thrift_field_ty {
    (optional $t:ty) => { ::core::option::Option<$t> };
    (required $t:ty) => { $t };
    (default $t:ty) => { $t };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __thrift_field_ref {
    (optional $e:expr) => {
        ($e).as_ref()
    };
    (required $e:expr) => {
        ::core::option::Option::Some(&$e)
    };
    (default $e:expr) => {
        ::core::option::Option::Some(&$e)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __thrift_finish {
    (optional $v:ident $w:literal) => {
        $v
    };
    (required $v:ident $w:literal) => {
        match $v {
            ::core::option::Option::Some(x) => x,
            ::core::option::Option::None => {
                return ::core::result::Result::Err($crate::DecodeError::MissingRequired($w))
            }
        }
    };
    (default $v:ident $w:literal) => {
        $v.unwrap_or_default()
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __thrift_struct_impl {
    ([$($a:tt)*] [$vis:vis] $name:ident
        [$({[$($fa:tt)*] $id:literal, $kind:ident, $f:ident, $w:literal, $t:ty})*]) => {
        $($a)*
        #[derive(Debug, Clone, PartialEq, Default)]
        $vis struct $name {
            $( $($fa)* pub $f: $crate::__thrift_field_ty!($kind $t), )*
        }

        impl $crate::ThriftStruct for $name {
            const NAME: &'static str = stringify!($name);
        }

        #[allow(unused_mut, unused_variables, clippy::match_single_binding)]
        impl $crate::ThriftType for $name {
            const TTYPE: $crate::TType = $crate::TType::Struct;

            fn write_compact(&self, w: &mut $crate::compact::CompactWriter) {
                let mut last: i16 = 0;
                $(
                    if let ::core::option::Option::Some(v) = $crate::__thrift_field_ref!($kind self.$f) {
                        w.write_field(&mut last, $id, v);
                    }
                )*
                w.write_stop();
            }

            fn read_compact(
                r: &mut $crate::compact::CompactReader<'_>,
                depth: u32,
            ) -> ::core::result::Result<Self, $crate::DecodeError> {
                let depth = $crate::error::enter(depth)?;
                $( let mut $f: ::core::option::Option<$t> = ::core::option::Option::None; )*
                let mut last: i16 = 0;
                while let ::core::option::Option::Some((id, tt)) = r.read_field_header(&mut last)? {
                    match id {
                        $(
                            $id => {
                                $f = ::core::option::Option::Some(
                                    $crate::value::read_compact_field::<$t>(r, tt, depth)
                                        .map_err(|e| e.in_field($w))?,
                                );
                            }
                        )*
                        _ => r.skip(tt, depth)?,
                    }
                }
                ::core::result::Result::Ok($name {
                    $( $f: $crate::__thrift_finish!($kind $f $w), )*
                })
            }

            fn write_tjson(&self, out: &mut ::std::string::String) {
                out.push('{');
                let mut first = true;
                $(
                    if let ::core::option::Option::Some(v) = $crate::__thrift_field_ref!($kind self.$f) {
                        $crate::tjson::write_field_prefix(
                            out,
                            &mut first,
                            $id,
                            <$t as $crate::ThriftType>::TTYPE,
                        );
                        $crate::ThriftType::write_tjson(v, out);
                        out.push('}');
                    }
                )*
                out.push('}');
            }

            fn read_tjson(
                v: &$crate::__private::Value,
                depth: u32,
            ) -> ::core::result::Result<Self, $crate::DecodeError> {
                let depth = $crate::error::enter(depth)?;
                let obj = $crate::tjson::as_struct(v)?;
                $( let mut $f: ::core::option::Option<$t> = ::core::option::Option::None; )*
                for (k, fv) in obj {
                    let id = $crate::tjson::field_id(k)?;
                    let (tt, inner) = $crate::tjson::field_value(fv)?;
                    match id {
                        $(
                            $id => {
                                $f = ::core::option::Option::Some(
                                    $crate::value::read_tjson_field::<$t>(tt, inner, depth)
                                        .map_err(|e| e.in_field($w))?,
                                );
                            }
                        )*
                        _ => $crate::tjson::skip(tt, inner, depth)?,
                    }
                }
                ::core::result::Result::Ok($name {
                    $( $f: $crate::__thrift_finish!($kind $f $w), )*
                })
            }

            fn write_pjson(&self, out: &mut ::std::string::String) {
                out.push('{');
                let mut first = true;
                $(
                    if let ::core::option::Option::Some(v) = $crate::__thrift_field_ref!($kind self.$f) {
                        $crate::pjson::write_field_prefix(out, &mut first, $w);
                        $crate::ThriftType::write_pjson(v, out);
                    }
                )*
                out.push('}');
            }

            fn read_pjson(
                v: &$crate::__private::Value,
                depth: u32,
            ) -> ::core::result::Result<Self, $crate::DecodeError> {
                let depth = $crate::error::enter(depth)?;
                let obj = $crate::pjson::as_struct(v)?;
                $( let mut $f: ::core::option::Option<$t> = ::core::option::Option::None; )*
                for (k, fv) in obj {
                    if fv.is_null() {
                        continue;
                    }
                    match k.as_str() {
                        $(
                            $w => {
                                $f = ::core::option::Option::Some(
                                    <$t as $crate::ThriftType>::read_pjson(fv, depth)
                                        .map_err(|e| e.in_field($w))?,
                                );
                            }
                        )*
                        _ => {}
                    }
                }
                ::core::result::Result::Ok($name {
                    $( $f: $crate::__thrift_finish!($kind $f $w), )*
                })
            }
        }

        impl $crate::sample::Sample for $name {
            fn sample(g: &mut $crate::sample::Gen) -> Self {
                $name {
                    $( $f: <$crate::__thrift_field_ty!($kind $t) as $crate::sample::Sample>::sample(g), )*
                }
            }
        }
    };
}

/// Describes a Thrift enum once. Generates a newtype over `i32` with one associated
/// constant per variant; numbers outside the IDL are kept (see `is_known`), so a handler
/// can reject them with its own error instead of a protocol error.
///
/// ```
/// use portcullis_thrift::thrift_enum;
/// thrift_enum! {
///     pub enum TeamRole { ADMIN = 1, AUTHOR = 2 }
/// }
/// assert_eq!(TeamRole::from_name("ADMIN"), Some(TeamRole::ADMIN));
/// assert!(!TeamRole(9).is_known());
/// ```
#[macro_export]
macro_rules! thrift_enum {
    ($(#[$m:meta])* $vis:vis enum $name:ident {
        $($(#[$vm:meta])* $var:ident = $val:literal),* $(,)?
    }) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        $vis struct $name(pub i32);

        impl $name {
            $( $(#[$vm])* pub const $var: $name = $name($val); )*

            /// Every declared variant with its IDL name.
            pub const VARIANTS: &'static [(&'static str, $name)] =
                &[$((stringify!($var), $name($val))),*];

            /// The IDL name, or `None` for a number outside the IDL.
            pub fn name(self) -> ::core::option::Option<&'static str> {
                Self::VARIANTS.iter().find(|(_, v)| *v == self).map(|(n, _)| *n)
            }

            /// Looks a variant up by its IDL name.
            pub fn from_name(s: &str) -> ::core::option::Option<Self> {
                Self::VARIANTS.iter().find(|(n, _)| *n == s).map(|(_, v)| *v)
            }

            /// Whether the number is one the IDL declares.
            pub fn is_known(self) -> bool {
                self.name().is_some()
            }
        }

        impl ::core::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                match self.name() {
                    ::core::option::Option::Some(n) => f.write_str(n),
                    ::core::option::Option::None => {
                        write!(f, "{}({})", stringify!($name), self.0)
                    }
                }
            }
        }

        impl $crate::ThriftEnum for $name {
            fn from_i32(v: i32) -> Self {
                $name(v)
            }
            fn to_i32(self) -> i32 {
                self.0
            }
            fn from_name(name: &str) -> ::core::option::Option<Self> {
                $name::from_name(name)
            }
            fn name(self) -> ::core::option::Option<&'static str> {
                $name::name(self)
            }
        }

        impl $crate::ThriftType for $name {
            const TTYPE: $crate::TType = $crate::TType::I32;
            fn write_compact(&self, w: &mut $crate::compact::CompactWriter) {
                w.write_i32(self.0);
            }
            fn read_compact(
                r: &mut $crate::compact::CompactReader<'_>,
                _depth: u32,
            ) -> ::core::result::Result<Self, $crate::DecodeError> {
                r.read_i32().map($name)
            }
            fn write_tjson(&self, out: &mut ::std::string::String) {
                $crate::ThriftType::write_tjson(&self.0, out);
            }
            fn read_tjson(
                v: &$crate::__private::Value,
                depth: u32,
            ) -> ::core::result::Result<Self, $crate::DecodeError> {
                <i32 as $crate::ThriftType>::read_tjson(v, depth).map($name)
            }
            fn write_pjson(&self, out: &mut ::std::string::String) {
                $crate::ThriftType::write_pjson(&self.0, out);
            }
            fn read_pjson(
                v: &$crate::__private::Value,
                _depth: u32,
            ) -> ::core::result::Result<Self, $crate::DecodeError> {
                $crate::value::enum_read_pjson(v)
            }
        }

        impl $crate::MapKey for $name {
            fn write_json_key(&self, out: &mut ::std::string::String) {
                $crate::MapKey::write_json_key(&self.0, out);
            }
            fn read_tjson_key(k: &str) -> ::core::result::Result<Self, $crate::DecodeError> {
                $crate::value::enum_read_tjson_key(k)
            }
            fn read_pjson_key(k: &str) -> ::core::result::Result<Self, $crate::DecodeError> {
                $crate::value::enum_read_pjson_key(k)
            }
        }

        impl $crate::sample::Sample for $name {
            fn sample(g: &mut $crate::sample::Gen) -> Self {
                let vs = Self::VARIANTS;
                if vs.is_empty() || g.chance(5) {
                    $name(<i32 as $crate::sample::Sample>::sample(g))
                } else {
                    vs[g.below(vs.len() as u64) as usize].1
                }
            }
        }
    };
}
