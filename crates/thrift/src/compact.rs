//! Apache Thrift compact protocol: a bounded reader and a writer over in-memory buffers.

use crate::error::{DResult, DecodeError, enter};
use crate::ttype::TType;

/// Compact-protocol reader over a byte slice. Never panics; every length is checked
/// against the bytes that remain.
#[derive(Debug)]
pub struct CompactReader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Value of a bool field, carried in the field header's type nibble.
    pending_bool: Option<bool>,
}

impl<'a> CompactReader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        CompactReader {
            buf,
            pos: 0,
            pending_bool: None,
        }
    }

    /// Bytes not consumed yet.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Current offset.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Fails with [`DecodeError::TrailingBytes`] unless all input was consumed.
    pub fn finish(&self) -> DResult<()> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes)
        }
    }

    pub fn read_u8(&mut self) -> DResult<u8> {
        let b = *self.buf.get(self.pos).ok_or(DecodeError::UnexpectedEof)?;
        self.pos += 1;
        Ok(b)
    }

    pub fn read_bytes(&mut self, n: usize) -> DResult<&'a [u8]> {
        if n > self.remaining() {
            return Err(DecodeError::UnexpectedEof);
        }
        let s = self
            .buf
            .get(self.pos..self.pos + n)
            .ok_or(DecodeError::UnexpectedEof)?;
        self.pos += n;
        Ok(s)
    }

    /// Unsigned LEB128 varint of at most 10 bytes.
    pub fn read_varint_u64(&mut self) -> DResult<u64> {
        let mut result: u64 = 0;
        for i in 0..10u32 {
            let b = self.read_u8()?;
            if i == 9 && b > 1 {
                return Err(DecodeError::VarintOverflow);
            }
            result |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(result);
            }
        }
        Err(DecodeError::VarintOverflow)
    }

    pub fn read_varint_u32(&mut self) -> DResult<u32> {
        u32::try_from(self.read_varint_u64()?).map_err(|_| DecodeError::VarintOverflow)
    }

    pub fn read_i8(&mut self) -> DResult<i8> {
        Ok(i8::from_le_bytes([self.read_u8()?]))
    }

    pub fn read_i16(&mut self) -> DResult<i16> {
        i16::try_from(self.read_i32()?).map_err(|_| DecodeError::IntOutOfRange("i16"))
    }

    pub fn read_i32(&mut self) -> DResult<i32> {
        let n = self.read_varint_u32()?;
        Ok(((n >> 1) as i32) ^ -((n & 1) as i32))
    }

    pub fn read_i64(&mut self) -> DResult<i64> {
        let n = self.read_varint_u64()?;
        Ok(((n >> 1) as i64) ^ -((n & 1) as i64))
    }

    pub fn read_double(&mut self) -> DResult<f64> {
        let b = self.read_bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_le_bytes(a))
    }

    /// Reads a bool: from the pending field header if any, else one byte (1 = true).
    pub fn read_bool(&mut self) -> DResult<bool> {
        if let Some(b) = self.pending_bool.take() {
            return Ok(b);
        }
        match self.read_u8()? {
            1 => Ok(true),
            0 | 2 => Ok(false),
            _ => Err(DecodeError::Malformed("invalid compact bool")),
        }
    }

    pub fn read_binary(&mut self) -> DResult<&'a [u8]> {
        let len = self.read_varint_u32()? as usize;
        if len > self.remaining() {
            return Err(DecodeError::SizeTooLarge(len as u64));
        }
        self.read_bytes(len)
    }

    pub fn read_string(&mut self) -> DResult<String> {
        let b = self.read_binary()?;
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| DecodeError::InvalidUtf8)
    }

    /// Reads a field header. `None` at the struct's stop byte.
    pub fn read_field_header(&mut self, last_id: &mut i16) -> DResult<Option<(i16, TType)>> {
        self.pending_bool = None;
        let b = self.read_u8()?;
        if b == 0 {
            return Ok(None);
        }
        let nibble = b & 0x0f;
        let ttype = TType::from_compact(nibble)?;
        let delta = b >> 4;
        let id = if delta == 0 {
            self.read_i16()?
        } else {
            i16::try_from(i32::from(*last_id) + i32::from(delta))
                .map_err(|_| DecodeError::IntOutOfRange("field id"))?
        };
        *last_id = id;
        if ttype == TType::Bool {
            self.pending_bool = Some(nibble == 1);
        }
        Ok(Some((id, ttype)))
    }

    /// Reads a list/set header: element type and size. The size is checked against the
    /// remaining input (every element takes at least one byte).
    pub fn read_list_header(&mut self) -> DResult<(Option<TType>, usize)> {
        let b = self.read_u8()?;
        let short = b >> 4;
        let size = if short == 15 {
            self.read_varint_u32()? as usize
        } else {
            usize::from(short)
        };
        if size > self.remaining() {
            return Err(DecodeError::SizeTooLarge(size as u64));
        }
        if size == 0 {
            return Ok((None, 0));
        }
        Ok((Some(TType::from_compact(b & 0x0f)?), size))
    }

    /// Reads a map header: key/value types (absent for an empty map) and size, checked
    /// against the remaining input (every entry takes at least two bytes).
    pub fn read_map_header(&mut self) -> DResult<(Option<(TType, TType)>, usize)> {
        let size = self.read_varint_u32()? as usize;
        if size == 0 {
            return Ok((None, 0));
        }
        let kv = self.read_u8()?;
        if size.saturating_mul(2) > self.remaining() {
            return Err(DecodeError::SizeTooLarge(size as u64));
        }
        let k = TType::from_compact(kv >> 4)?;
        let v = TType::from_compact(kv & 0x0f)?;
        Ok((Some((k, v)), size))
    }

    /// Skips one value of type `ttype`, validating it, within the depth limit.
    pub fn skip(&mut self, ttype: TType, depth: u32) -> DResult<()> {
        let depth = enter(depth)?;
        match ttype {
            TType::Bool => {
                self.read_bool()?;
            }
            TType::I8 => {
                self.read_u8()?;
            }
            TType::I16 => {
                self.read_i16()?;
            }
            TType::I32 => {
                self.read_i32()?;
            }
            TType::I64 => {
                self.read_i64()?;
            }
            TType::Double => {
                self.read_bytes(8)?;
            }
            TType::String => {
                self.read_binary()?;
            }
            TType::Struct => {
                let mut last = 0i16;
                while let Some((_, t)) = self.read_field_header(&mut last)? {
                    self.skip(t, depth)?;
                }
            }
            TType::List | TType::Set => {
                let (et, n) = self.read_list_header()?;
                if let Some(et) = et {
                    for _ in 0..n {
                        self.skip(et, depth)?;
                    }
                }
            }
            TType::Map => {
                let (kv, n) = self.read_map_header()?;
                if let Some((k, v)) = kv {
                    for _ in 0..n {
                        self.skip(k, depth)?;
                        self.skip(v, depth)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Compact-protocol writer into a `Vec<u8>`.
#[derive(Debug, Default)]
pub struct CompactWriter {
    buf: Vec<u8>,
}

impl CompactWriter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    pub fn write_u8(&mut self, b: u8) {
        self.buf.push(b);
    }

    pub fn write_bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    pub fn write_varint(&mut self, mut n: u64) {
        while n >= 0x80 {
            self.buf.push((n as u8) | 0x80);
            n >>= 7;
        }
        self.buf.push(n as u8);
    }

    pub fn write_i8(&mut self, v: i8) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn write_i16(&mut self, v: i16) {
        self.write_i32(i32::from(v));
    }

    pub fn write_i32(&mut self, v: i32) {
        self.write_varint(u64::from(((v << 1) ^ (v >> 31)) as u32));
    }

    pub fn write_i64(&mut self, v: i64) {
        self.write_varint(((v << 1) ^ (v >> 63)) as u64);
    }

    pub fn write_double(&mut self, v: f64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn write_binary(&mut self, b: &[u8]) {
        self.write_varint(b.len() as u64);
        self.buf.extend_from_slice(b);
    }

    /// Writes a field header: short form when the id grows by 1..=15, else long form.
    pub fn write_field_header(&mut self, last_id: &mut i16, id: i16, nibble: u8) {
        let delta = i32::from(id) - i32::from(*last_id);
        if (1..=15).contains(&delta) {
            self.buf.push(((delta as u8) << 4) | nibble);
        } else {
            self.buf.push(nibble);
            self.write_i16(id);
        }
        *last_id = id;
    }

    pub fn write_list_header(&mut self, elem: TType, size: usize) {
        if size < 15 {
            self.buf.push(((size as u8) << 4) | elem.compact_nibble());
        } else {
            self.buf.push(0xf0 | elem.compact_nibble());
            self.write_varint(size as u64);
        }
    }

    pub fn write_map_header(&mut self, k: TType, v: TType, size: usize) {
        self.write_varint(size as u64);
        if size > 0 {
            self.buf
                .push((k.compact_nibble() << 4) | v.compact_nibble());
        }
    }

    /// Writes one struct field (header and value), bool folded into the header.
    pub fn write_field<T: crate::ThriftType>(&mut self, last_id: &mut i16, id: i16, v: &T) {
        self.write_field_header(last_id, id, v.compact_field_nibble());
        v.write_compact_field_value(self);
    }

    /// Writes the stop byte that ends a struct.
    pub fn write_stop(&mut self) {
        self.buf.push(0);
    }
}
