//! What the fuzz targets share: the Thrift call round trip, an access-token ring with a fixed
//! key, and small input splitters. Each target lives in `fuzz_targets/` (docs/fuzzing.md).
#![forbid(unsafe_code)]

pub mod ring;
pub mod thrift;

/// Splits `data` at the first `sep`: (before, after); no `sep` gives (`data`, `[]`).
pub fn split_once(data: &[u8], sep: u8) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == sep) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// The first byte as a selector and the rest; `None` for empty input.
pub fn selector(data: &[u8]) -> Option<(u8, &[u8])> {
    data.split_first().map(|(b, rest)| (*b, rest))
}
