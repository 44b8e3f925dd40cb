//! A fast hasher for the monitor's integer keys (template ids, minutes,
//! prompt hashes): one multiply-rotate per word, as rustc's FxHash. Not for
//! keys an outsider chooses to collide; every key here is a hash or a
//! timestamp the monitor computed.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// The hasher.
#[derive(Default, Clone, Copy)]
pub struct Fx(u64);

const K: u64 = 0xf135_7aea_2e62_a9c5;

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(26) ^ n).wrapping_mul(K);
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_i64(&mut self, n: i64) {
        self.write_u64(n as u64);
    }
    fn write_i32(&mut self, n: i32) {
        self.write_u64(u64::from(n as u32));
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn finish(&self) -> u64 {
        self.0.rotate_left(20)
    }
}

/// A map with [`Fx`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<Fx>>;
/// A set with [`Fx`].
pub type FastSet<K> = HashSet<K, BuildHasherDefault<Fx>>;
