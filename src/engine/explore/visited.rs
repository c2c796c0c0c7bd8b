//! The depth-first search's visited set: 64-bit fingerprints in one open-addressing table
//! (linear probing over buckets, at most 7/8 full), each with the sleep set it was explored
//! under.
//!
//! Hand-written instead of a `HashMap<u64, u8>` because a fingerprint is already a hash: a
//! lookup is one multiply and, nearly always, one cache line. A bucket is one 64-byte line
//! holding seven fingerprints and their seven sleep sets, so a state found again costs one
//! memory access for its key and its sleep set together (a general map pads each entry to 16
//! bytes and reads a control byte first: two lines, ~38 bytes per state). 64 bytes per seven
//! slots: 9.1 bytes a slot.

use std::vec::Vec;

/// Marks an empty slot; a fingerprint of 0 is stored as [`ZERO`] (the two then count as
/// one state: a collision like any other, with the same 2^-64 odds).
pub(super) const EMPTY: u64 = 0;
const ZERO: u64 = 0x9e37_79b9_7f4a_7c15;

/// `log2` of a new table's buckets.
const INITIAL_BITS: u32 = 7;

/// Slots per bucket: seven keys and their sleep sets fill one cache line.
pub(super) const WAYS: usize = 7;

/// One cache line: seven fingerprints, then their sleep sets (the eighth byte unused).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Bucket {
    keys: [u64; WAYS],
    sleep: [u8; WAYS + 1],
}

const _: () = assert!(core::mem::size_of::<Bucket>() == 64);

const EMPTY_BUCKET: Bucket = Bucket {
    keys: [EMPTY; WAYS],
    sleep: [0; WAYS + 1],
};

/// A bucket's index in a table of `1 << bits` buckets: the top bits of a multiplicative
/// mix, so that a fingerprint whose low bits vary little still spreads.
#[inline]
pub(super) fn home(key: u64, shift: u32) -> usize {
    (key.wrapping_mul(0xff51_afd7_ed55_8ccd) >> shift) as usize
}

pub(crate) struct Visited {
    buckets: Vec<Bucket>,
    len: usize,
    /// `64 - log2(buckets)`.
    shift: u32,
    /// What a depth-first search's path holds beside the table (it only grows), and what it
    /// held when the table last doubled: the peak counts both.
    path: u64,
    path_at_grow: u64,
    /// The most the table and the path held while the path's vectors moved.
    moving_peak: u64,
}

/// A slot's number: `bucket * STRIDE + way`.
const STRIDE: usize = WAYS + 1;

/// Where a fingerprint is, or where it would go: a bucket and a way within it, as
/// `bucket * STRIDE + way`.
pub(crate) enum Slot {
    Found(usize),
    Vacant(usize),
}

impl Visited {
    /// What an empty set holds: 128 buckets of 64 bytes.
    pub(crate) const EMPTY_BYTES: u64 = (core::mem::size_of::<Bucket>() << INITIAL_BITS) as u64;

    /// An empty set with 128 buckets (896 slots).
    pub(crate) fn new() -> Self {
        Self {
            buckets: std::vec![EMPTY_BUCKET; 1 << INITIAL_BITS],
            len: 0,
            shift: 64 - INITIAL_BITS,
            path: 0,
            path_at_grow: 0,
            moving_peak: 0,
        }
    }

    #[inline]
    pub(super) fn key(fp: u64) -> u64 {
        if fp == EMPTY { ZERO } else { fp }
    }

    /// Loads the cache line `fp`'s search starts at, so that several lookups' memory
    /// accesses overlap instead of queueing behind one another.
    #[inline]
    pub(crate) fn touch(&self, fp: u64) {
        let b = home(Self::key(fp), self.shift);
        prefetch(&self.buckets[b], |b| b.keys[0]);
    }

    /// Finds `fp`, or the slot it would be inserted in.
    #[inline]
    pub(crate) fn find(&self, fp: u64) -> Slot {
        let key = Self::key(fp);
        let mask = self.buckets.len() - 1;
        let mut b = home(key, self.shift);
        loop {
            let bucket = &self.buckets[b];
            for (w, &k) in bucket.keys.iter().enumerate() {
                if k == key {
                    return Slot::Found(b * STRIDE + w);
                }
                if k == EMPTY {
                    return Slot::Vacant(b * STRIDE + w);
                }
            }
            b = (b + 1) & mask;
        }
    }

    /// The sleep set stored with the fingerprint at `slot` (from [`find`](Self::find)).
    #[inline]
    pub(crate) fn sleep_mut(&mut self, slot: usize) -> &mut u8 {
        &mut self.buckets[slot / STRIDE].sleep[slot % STRIDE]
    }

    /// Stores `fp` with `sleep` in the vacant `slot` [`find`](Self::find) gave (nothing
    /// else inserted since), growing the table when it passes 7/8 full (seven ways a bucket
    /// keep probe runs short at that load: a search rarely reads a second line).
    #[inline]
    pub(crate) fn insert_at(&mut self, slot: usize, fp: u64, sleep: u8) {
        self.put(slot, Self::key(fp), sleep);
        self.len += 1;
        if self.full(self.len) {
            self.grow();
        }
    }

    /// Empties the set, keeping its buckets.
    pub(crate) fn clear(&mut self) {
        if self.len > 0 {
            self.buckets.fill(EMPTY_BUCKET);
            self.len = 0;
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

    /// Writes a stored key and its sleep set into the empty `slot`.
    fn put(&mut self, slot: usize, key: u64, sleep: u8) {
        let bucket = &mut self.buckets[slot / STRIDE];
        debug_assert_eq!(bucket.keys[slot % STRIDE], EMPTY);
        bucket.keys[slot % STRIDE] = key;
        bucket.sleep[slot % STRIDE] = sleep;
    }

    fn slots(&self) -> usize {
        self.buckets.len() * WAYS
    }

    /// Whether `len` fingerprints pass the table's load limit.
    fn full(&self, len: usize) -> bool {
        len * 8 > self.slots() * 7
    }

    fn grow(&mut self) {
        let cap = self.buckets.len() * 2;
        self.path_at_grow = self.path;
        let old = core::mem::replace(&mut self.buckets, std::vec![EMPTY_BUCKET; cap]);
        self.shift -= 1;
        for bucket in old {
            for (&k, &s) in bucket.keys.iter().zip(&bucket.sleep) {
                if k != EMPTY {
                    let Slot::Vacant(slot) = self.find(k) else {
                        unreachable!("a fingerprint is stored once")
                    };
                    self.put(slot, k, s);
                }
            }
        }
    }

    /// Stored fingerprints.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The heap the table holds now.
    pub(crate) fn bytes(&self) -> u64 {
        (self.buckets.len() * core::mem::size_of::<Bucket>()) as u64
    }

    /// The most heap the table and the path held at once: while the table last doubled, the
    /// old and the new table beside the path then; while the path's vectors last moved; or
    /// the table now beside the path now (both only grow between doublings).
    pub(crate) fn peak_bytes(&self) -> u64 {
        let now = (self.bytes() + self.path).max(self.moving_peak);
        if self.shift < 64 - INITIAL_BITS {
            now.max(self.bytes() / 2 * 3 + self.path_at_grow)
        } else {
            now
        }
    }

    /// What the depth-first path holds beside the table.
    pub(crate) fn path(&self) -> u64 {
        self.path
    }

    /// The depth-first path now holds `bytes`, and held `moving` more on the way there.
    pub(crate) fn set_path(&mut self, bytes: u64, moving: u64) {
        self.path = bytes;
        if moving > 0 {
            self.moving_peak = self.moving_peak.max(self.bytes() + bytes + moving);
        }
    }

    /// The most heap the table holds while inserting one more fingerprint: the old and the
    /// doubled table side by side when that insert makes it grow.
    pub(crate) fn bytes_with_one_more(&self) -> u64 {
        if self.full(self.len + 1) {
            self.bytes() * 3
        } else {
            self.bytes()
        }
    }
}

/// Asks the cache for the line `at` lies on, without waiting for it: a load would hold up
/// every later instruction's retirement until it arrived (M1 4/6: 23% of one worker's time).
/// Where no prefetch is written, `load` reads a word of it instead.
#[inline(always)]
#[cfg_attr(target_arch = "x86_64", allow(unused_variables))]
pub(crate) fn prefetch<T>(at: &T, load: impl FnOnce(&T) -> u64) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht0` reads nothing into the program and cannot fault, whatever the
    // address (Intel SDM, PREFETCHh); this one is a live reference besides. SSE is part of
    // every x86_64 target.
    #[allow(unsafe_code)]
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
            core::ptr::from_ref(at).cast(),
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    core::hint::black_box(load(at));
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
            v.touch(fp);
            let Slot::Found(i) = v.find(fp) else {
                panic!("{fp:#x} lost");
            };
            assert_eq!(*v.sleep_mut(i), (n % 16) as u8);
        }
        assert!(matches!(v.find(12345), Slot::Vacant(_)));
        assert!(!v.full(v.len()));
        assert_eq!(v.bytes(), v.buckets.len() as u64 * 64);
    }

    #[test]
    fn a_zero_fingerprint_is_a_state_like_any_other() {
        let mut v = Visited::new();
        assert!(v.insert(0, 3));
        assert!(!v.insert(0, 0));
        let Slot::Found(i) = v.find(0) else {
            panic!("0 lost");
        };
        assert_eq!(*v.sleep_mut(i), 3);
    }

    #[test]
    fn a_full_bucket_spills_into_the_next() {
        // Keys that share a home bucket: more than WAYS of them still all fit and are found.
        let mut v = Visited::new();
        let shift = v.shift;
        let same: Vec<u64> = (1..u64::MAX)
            .map(|i| i.wrapping_mul(0x9e37_79b9))
            .filter(|&k| home(k, shift) == 5)
            .take(WAYS * 2 + 1)
            .collect();
        for &k in &same {
            assert!(v.insert(k, 1));
        }
        for &k in &same {
            assert!(matches!(v.find(k), Slot::Found(s) if (5..=7).contains(&(s / STRIDE))));
        }
    }

    #[test]
    fn low_bit_patterns_spread() {
        // Fingerprints that differ only in their low bits still land apart.
        let mut v = Visited::new();
        for i in 1..700u64 {
            v.insert(i, 0);
        }
        let longest = v
            .buckets
            .split(|b| b.keys.contains(&EMPTY))
            .map(<[Bucket]>::len)
            .max()
            .unwrap_or(0);
        assert!(longest < 8, "a run of {longest} full buckets");
    }
}
