//! The depth-first search's visited set: 64-bit fingerprints in one open-addressing table
//! (linear probing, at most 3/4 full), each with the sleep set it was explored under.
//!
//! Hand-written instead of a `HashMap<u64, u8>` because a fingerprint is already a hash: a
//! lookup is one multiply and, nearly always, one cache line of keys (a general map pads
//! each entry to 16 bytes and reads a control byte first: two lines, ~38 bytes per state).
//! Keys and sleep sets live in separate arrays, 9 bytes a slot.

use std::vec::Vec;

/// Marks an empty slot; a fingerprint of 0 is stored as [`ZERO`] (the two then count as
/// one state: a collision like any other, with the same 2^-64 odds).
const EMPTY: u64 = 0;
const ZERO: u64 = 0x9e37_79b9_7f4a_7c15;

/// A slot's index in a table of `1 << bits`: the top bits of a multiplicative mix, so that
/// a fingerprint whose low bits vary little still spreads.
#[inline]
fn home(key: u64, shift: u32) -> usize {
    (key.wrapping_mul(0xff51_afd7_ed55_8ccd) >> shift) as usize
}

pub(crate) struct Visited {
    keys: Vec<u64>,
    sleep: Vec<u8>,
    len: usize,
    /// `64 - log2(capacity)`.
    shift: u32,
}

/// Where a fingerprint is, or where it would go.
pub(crate) enum Slot {
    Found(usize),
    Vacant(usize),
}

impl Visited {
    /// An empty set with 1024 slots.
    pub(crate) fn new() -> Self {
        const BITS: u32 = 10;
        Self {
            keys: std::vec![EMPTY; 1 << BITS],
            sleep: std::vec![0; 1 << BITS],
            len: 0,
            shift: 64 - BITS,
        }
    }

    #[inline]
    fn key(fp: u64) -> u64 {
        if fp == EMPTY { ZERO } else { fp }
    }

    /// Finds `fp`, or the slot it would be inserted in.
    #[inline]
    pub(crate) fn find(&self, fp: u64) -> Slot {
        let key = Self::key(fp);
        let mask = self.keys.len() - 1;
        let mut i = home(key, self.shift);
        loop {
            match self.keys[i] {
                k if k == key => return Slot::Found(i),
                EMPTY => return Slot::Vacant(i),
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// The sleep set stored with the fingerprint at `slot` (from [`find`](Self::find)).
    #[inline]
    pub(crate) fn sleep_mut(&mut self, slot: usize) -> &mut u8 {
        &mut self.sleep[slot]
    }

    /// Stores `fp` with `sleep` in the vacant `slot` [`find`](Self::find) gave (nothing
    /// else inserted since), growing the table when it passes 3/4 full.
    #[inline]
    pub(crate) fn insert_at(&mut self, slot: usize, fp: u64, sleep: u8) {
        debug_assert_eq!(self.keys[slot], EMPTY);
        self.keys[slot] = Self::key(fp);
        self.sleep[slot] = sleep;
        self.len += 1;
        if self.len * 4 > self.keys.len() * 3 {
            self.grow();
        }
    }

    /// Inserts `fp` if absent; returns whether it was.
    pub(crate) fn insert(&mut self, fp: u64, sleep: u8) -> bool {
        match self.find(fp) {
            Slot::Found(_) => false,
            Slot::Vacant(i) => {
                self.insert_at(i, fp, sleep);
                true
            }
        }
    }

    fn grow(&mut self) {
        let cap = self.keys.len() * 2;
        let keys = core::mem::replace(&mut self.keys, std::vec![EMPTY; cap]);
        let sleep = core::mem::replace(&mut self.sleep, std::vec![0; cap]);
        self.shift -= 1;
        let mask = cap - 1;
        for (k, s) in keys.into_iter().zip(sleep) {
            if k != EMPTY {
                let mut i = home(k, self.shift);
                while self.keys[i] != EMPTY {
                    i = (i + 1) & mask;
                }
                self.keys[i] = k;
                self.sleep[i] = s;
            }
        }
    }

    /// Stored fingerprints.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The heap the table holds now.
    pub(crate) fn bytes(&self) -> u64 {
        (self.keys.len() * (core::mem::size_of::<u64>() + 1)) as u64
    }

    /// The most heap the table holds while inserting one more fingerprint: the old and the
    /// doubled table side by side when that insert makes it grow.
    pub(crate) fn bytes_with_one_more(&self) -> u64 {
        if (self.len + 1) * 4 > self.keys.len() * 3 {
            self.bytes() * 3
        } else {
            self.bytes()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_it_stored_across_growth_and_counts_each_once() {
        let mut v = Visited::new();
        let fps: Vec<u64> = (1..10_000u64)
            .map(|i| i.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ (i << 7))
            .chain([0, ZERO ^ 1, u64::MAX])
            .collect();
        for (n, &fp) in fps.iter().enumerate() {
            assert!(v.insert(fp, (n % 16) as u8), "{fp:#x} new");
            assert!(!v.insert(fp, 0), "{fp:#x} again");
        }
        assert_eq!(v.len(), fps.len());
        for (n, &fp) in fps.iter().enumerate() {
            let Slot::Found(i) = v.find(fp) else {
                panic!("{fp:#x} lost");
            };
            assert_eq!(*v.sleep_mut(i), (n % 16) as u8);
        }
        assert!(matches!(v.find(12345), Slot::Vacant(_)));
        assert!(v.len() * 4 <= v.keys.len() * 3);
        assert_eq!(v.bytes(), v.keys.len() as u64 * 9);
    }

    #[test]
    fn low_bit_patterns_spread() {
        // Fingerprints that differ only in their low bits still land apart.
        let mut v = Visited::new();
        for i in 1..700u64 {
            v.insert(i, 0);
        }
        let longest = v
            .keys
            .split(|&k| k == EMPTY)
            .map(<[u64]>::len)
            .max()
            .unwrap_or(0);
        assert!(longest < 64, "a run of {longest} occupied slots");
    }
}
