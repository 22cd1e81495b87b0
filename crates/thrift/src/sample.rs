//! Deterministic pseudo-random values of every Thrift type, for property tests.
//!
//! [`thrift_struct!`](crate::thrift_struct) and [`thrift_enum!`](crate::thrift_enum) implement
//! [`Sample`] for every described type, so round-trip tests can cover all structs from a
//! single seed without hand-written strategies.

use std::collections::{BTreeMap, BTreeSet};

use crate::value::{Binary, MapKey};

/// SplitMix64 generator.
#[derive(Debug, Clone)]
pub struct Gen {
    state: u64,
}

impl Gen {
    pub fn new(seed: u64) -> Self {
        Gen { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`; returns 0 for `n == 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    pub fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }

    /// A small collection length.
    pub fn small_len(&mut self) -> usize {
        self.below(4) as usize
    }

    /// An integer biased towards edge cases.
    pub fn edgy_i64(&mut self) -> i64 {
        match self.below(6) {
            0 => 0,
            1 => -1,
            2 => i64::MAX,
            3 => i64::MIN,
            4 => self.below(300) as i64 - 150,
            _ => self.next_u64() as i64,
        }
    }
}

/// A type that can produce pseudo-random values of itself.
pub trait Sample: Sized {
    fn sample(g: &mut Gen) -> Self;
}

impl Sample for bool {
    fn sample(g: &mut Gen) -> Self {
        g.chance(2)
    }
}

macro_rules! sample_int {
    ($($t:ty),*) => {$(
        impl Sample for $t {
            fn sample(g: &mut Gen) -> Self {
                g.edgy_i64() as $t
            }
        }
    )*};
}
sample_int!(i8, i16, i32, i64);

impl Sample for f64 {
    fn sample(g: &mut Gen) -> Self {
        match g.below(5) {
            0 => 0.0,
            1 => f64::INFINITY,
            2 => -1.5e300,
            3 => 0.1,
            _ => {
                let v = f64::from_bits(g.next_u64());
                if v.is_nan() { 1.0 } else { v }
            }
        }
    }
}

const PIECES: &[&str] = &[
    "a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u{1}", "\u{7f}", "é", "ß", "€", "😀", "tok",
    "us", "ADMIN", "{", "]", ",",
];

impl Sample for String {
    fn sample(g: &mut Gen) -> Self {
        let n = g.below(8);
        (0..n)
            .map(|_| PIECES[g.below(PIECES.len() as u64) as usize])
            .collect()
    }
}

impl Sample for Binary {
    fn sample(g: &mut Gen) -> Self {
        let n = g.below(9);
        Binary((0..n).map(|_| g.next_u64() as u8).collect())
    }
}

impl<T: Sample> Sample for Option<T> {
    fn sample(g: &mut Gen) -> Self {
        if g.chance(2) {
            Some(T::sample(g))
        } else {
            None
        }
    }
}

impl<T: Sample> Sample for Vec<T> {
    fn sample(g: &mut Gen) -> Self {
        let n = g.small_len();
        (0..n).map(|_| T::sample(g)).collect()
    }
}

impl<T: Sample + Ord> Sample for BTreeSet<T> {
    fn sample(g: &mut Gen) -> Self {
        let n = g.small_len();
        (0..n).map(|_| T::sample(g)).collect()
    }
}

impl<K: Sample + MapKey, V: Sample> Sample for BTreeMap<K, V> {
    fn sample(g: &mut Gen) -> Self {
        let n = g.small_len();
        (0..n).map(|_| (K::sample(g), V::sample(g))).collect()
    }
}
