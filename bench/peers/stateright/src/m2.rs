//! Benchmark model M2 (`bench/peers/README.md`): M1 with `mmap_lock` and a khugepaged
//! collapse.
//!
//! Threads, in order: `split`, `zap`, `collapse`, `fault` (T of them, 1 to 4). `split` is
//! exactly M1's; `zap` and `fault` are M1's with `down_read(mmap_lock)` before and
//! `up_read` after each pmd (steps 0-6); `collapse` takes `mmap_lock` for write and, when it
//! finds a `TABLE`, flushes it to `NONE`, drops and retakes the pmd lock, and writes `HUGE`
//! (steps 0-8). As in M1, every step of the README's tables is one stateright action, the
//! action is the index of the thread that takes it, and a thread is offered as an action only
//! when its next step is enabled (blocking, never a spin loop).
//!
//! # State
//!
//! The whole state is one packed `u128` ([`M2State`]):
//!
//! - bits `2i..2i+2`: `pmd[i]` (`NONE` 0, `HUGE` 1, `INVALID` 2, `TABLE` 3), `i < 16`;
//! - bits `32+9t..32+9t+9`: thread `t`'s `(i, step)` as `i << 4 | step` (`i` ≤ 16 needs 5
//!   bits, `step` ≤ 8 needs 4); a finished thread is `(N, 0)`; unused thread slots stay 0;
//! - bit 68: `mmap_lock.queued`.
//!
//! (69 bits: four 9-bit threads and 16 pmds do not fit M1's `u64`.)
//!
//! Only `queued` is stored of the README's `mmap_lock`, and `lock[i]` is not stored at all:
//! the rest is a function of the thread positions, so storing it would add bits but no
//! states, and the reachable-state count equals the abstract model's (the README's
//! `(pmd, lock, mmap_lock, threads)` tuples):
//!
//! - `readers` is the number of zap/fault threads at `(i, 1..=6)`, `i < N` (they hold
//!   `mmap_lock` for read from their `down_read` at step 0 to their `up_read` at step 6);
//! - `writer` is held exactly while collapse is at `(i, 1..=8)`, `i < N` (from `down_write`
//!   at step 0 to `up_write` at step 8). Collapse is the only writer, so `writer` is always
//!   free when collapse is at step 0 and its `down_write` only looks at `readers`;
//! - `lock[i]`'s owner: split holds it exactly at `(i, 1..=4)`, zap and fault at
//!   `(i, 3..=5)`, collapse at `(i, 2..=4)` and `(i, 6..=7)` (it drops it at step 4 and
//!   retakes it at step 5).
//!
//! `queued` is not a function of the positions: collapse at `(i, 0)` may or may not have
//! queued (it is only ever true while collapse is at step 0: it is set by a contended
//! `down_write`, which stays at 0, and cleared by the `down_write` that succeeds).
//!
//! # Property
//!
//! `nevernone` (`INV-M2-NEVERNONE`), stated as M1's is (see the crate docs): "some zap/fault
//! thread is at `(i, 1)` with `i < N`, `pmd[i] == NONE`, and split is at `(i, 3)` or
//! collapse is at `(i, 4)`, `(i, 5)` or `(i, 6)`". The lockless read (step 1) takes no lock
//! (the reader already holds `mmap_lock` for read), so it is always enabled at `(i, 1)`, and
//! it changes nothing but the reader's position: the predicate holds in exactly the states in
//! which a violating read is enabled. [`crate::Outcome::cx_len`] adds that read to the
//! discovery path, so it counts the README's steps (5 for the buggy model: split's lock,
//! read and invalidate, zap's `down_read`, zap's lockless read).
//!
//! `mmap_lock` is what keeps the collapse half from firing: a reader between `down_read` and
//! `up_read` and collapse between `down_write` and `up_write` exclude each other. The tests
//! show that it can fire without it, with a test-only knob that makes zap's and fault's
//! `down_read` always enabled and not counted in `readers`.

use std::fmt;

use stateright::{Model, Property};

use crate::{HUGE, INVALID, MAX_PMDS, MAX_THREADS, NONE, Peer, TABLE, Variant};

/// What an M2 thread runs; thread `t` runs `M2_KINDS[t]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum M2Kind {
    Split,
    Zap,
    Collapse,
    Fault,
}

pub const M2_KINDS: [M2Kind; 4] = [M2Kind::Split, M2Kind::Zap, M2Kind::Collapse, M2Kind::Fault];

/// The collapse thread's index (present when T ≥ 3).
const COLLAPSE: u8 = 2;
/// Bit of `mmap_lock.queued`.
const QUEUED_BIT: u32 = 32 + 9 * MAX_THREADS as u32;

/// The packed state (see the module docs).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct M2State(pub u128);

impl M2State {
    #[inline]
    pub fn pmd(self, i: u8) -> u8 {
        ((self.0 >> (2 * i as u32)) & 3) as u8
    }
    #[inline]
    fn set_pmd(&mut self, i: u8, v: u8) {
        let sh = 2 * i as u32;
        self.0 = (self.0 & !(3 << sh)) | ((v as u128) << sh);
    }
    /// Thread `t`'s `(i, step)`.
    #[inline]
    pub fn thread(self, t: u8) -> (u8, u8) {
        let b = ((self.0 >> (32 + 9 * t as u32)) & 0x1ff) as u16;
        ((b >> 4) as u8, (b & 0xf) as u8)
    }
    #[inline]
    fn set_thread(&mut self, t: u8, i: u8, step: u8) {
        let sh = 32 + 9 * t as u32;
        let v = ((i as u128) << 4) | step as u128;
        self.0 = (self.0 & !(0x1ff << sh)) | (v << sh);
    }
    /// `mmap_lock.queued`: collapse has queued for write.
    #[inline]
    pub fn queued(self) -> bool {
        (self.0 >> QUEUED_BIT) & 1 != 0
    }
    #[inline]
    fn set_queued(&mut self, q: bool) {
        self.0 = (self.0 & !(1 << QUEUED_BIT)) | ((q as u128) << QUEUED_BIT);
    }
}

fn pmd_name(v: u8) -> &'static str {
    ["NONE", "HUGE", "INVALID", "TABLE"][v as usize]
}

impl fmt::Debug for M2State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Without the model the sizes are unknown: print every slot.
        write!(f, "pmd=[")?;
        for i in 0..MAX_PMDS {
            if i > 0 {
                write!(f, " ")?;
            }
            write!(f, "{}", pmd_name(self.pmd(i)))?;
        }
        write!(f, "] threads=[")?;
        for t in 0..MAX_THREADS {
            let (i, s) = self.thread(t);
            if t > 0 {
                write!(f, " ")?;
            }
            write!(f, "({i},{s})")?;
        }
        write!(f, "] queued={}", self.queued())
    }
}

/// The model: `threads` threads (1 to 4) on `pmds` pmds (1 to 16).
#[derive(Clone, Debug)]
pub struct M2 {
    pub threads: u8,
    pub pmds: u8,
    pub variant: Variant,
    /// Do zap and fault take `mmap_lock` for read? Always, except in the test-only variant
    /// that shows the collapse half of the property can fire (`without_read_lock`): there
    /// `down_read` is always enabled and not counted in `readers` (the steps stay, as no-ops).
    read_lock: bool,
}

impl M2 {
    pub fn new(threads: u8, pmds: u8, variant: Variant) -> Self {
        assert!(
            (1..=MAX_THREADS).contains(&threads),
            "threads must be 1..=4"
        );
        assert!((1..=MAX_PMDS).contains(&pmds), "pmds must be 1..=16");
        M2 {
            threads,
            pmds,
            variant,
            read_lock: true,
        }
    }

    /// The test-only variant: zap and fault skip `mmap_lock`.
    #[cfg(test)]
    fn without_read_lock(mut self) -> Self {
        self.read_lock = false;
        self
    }

    /// Does thread `t` hold `lock[i]`?
    #[inline]
    fn holds(&self, s: M2State, t: u8, i: u8) -> bool {
        let (ti, step) = s.thread(t);
        ti == i
            && match M2_KINDS[t as usize] {
                M2Kind::Split => (1..=4).contains(&step),
                M2Kind::Zap | M2Kind::Fault => (3..=5).contains(&step),
                M2Kind::Collapse => (2..=4).contains(&step) || (6..=7).contains(&step),
            }
    }

    #[inline]
    fn lock_free(&self, s: M2State, i: u8) -> bool {
        (0..self.threads).all(|t| !self.holds(s, t, i))
    }

    /// Is the next step of a thread of `kind` at `step` a pmd-lock acquire?
    #[inline]
    fn is_lock_step(kind: M2Kind, step: u8) -> bool {
        match kind {
            M2Kind::Split => step == 0,
            M2Kind::Zap | M2Kind::Fault => step == 2,
            M2Kind::Collapse => step == 1 || step == 5,
        }
    }

    /// `mmap_lock.readers`: zap/fault threads between `down_read` and `up_read`.
    #[inline]
    pub fn readers(&self, s: M2State) -> u8 {
        if !self.read_lock {
            return 0;
        }
        (0..self.threads)
            .filter(|&t| {
                let (i, step) = s.thread(t);
                matches!(M2_KINDS[t as usize], M2Kind::Zap | M2Kind::Fault)
                    && i < self.pmds
                    && (1..=6).contains(&step)
            })
            .count() as u8
    }

    /// `mmap_lock.writer` is held: collapse between `down_write` and `up_write`.
    #[inline]
    pub fn writer(&self, s: M2State) -> bool {
        if self.threads <= COLLAPSE {
            return false;
        }
        let (i, step) = s.thread(COLLAPSE);
        i < self.pmds && (1..=8).contains(&step)
    }

    /// The predicate behind `nevernone`: the reader whose violating lockless read is enabled
    /// in `s`, if any.
    pub fn violating_reader(&self, s: M2State) -> Option<u8> {
        (1..self.threads).find(|&t| {
            if !matches!(M2_KINDS[t as usize], M2Kind::Zap | M2Kind::Fault) {
                return false;
            }
            let (i, step) = s.thread(t);
            if step != 1 || i >= self.pmds || s.pmd(i) != NONE {
                return false;
            }
            let split = s.thread(0) == (i, 3);
            let collapse = self.threads > COLLAPSE && {
                let (ci, cstep) = s.thread(COLLAPSE);
                ci == i && (4..=6).contains(&cstep)
            };
            split || collapse
        })
    }

    /// The README name of the step thread `t` takes from `s`.
    pub fn describe(&self, s: M2State, t: u8) -> String {
        let kind = M2_KINDS[t as usize];
        let (i, step) = s.thread(t);
        let what = match (kind, step) {
            (M2Kind::Split, 0) => "lock",
            (M2Kind::Split, 1) => "read",
            (M2Kind::Split, 2) => "invalidate",
            (M2Kind::Split, 3) => "populate",
            (M2Kind::Split, 4) => "unlock",
            (M2Kind::Zap | M2Kind::Fault, 0) => "down_read",
            (M2Kind::Zap | M2Kind::Fault, 1) => "read (lockless)",
            (M2Kind::Zap | M2Kind::Fault, 2) => "lock",
            (M2Kind::Zap | M2Kind::Fault, 3) => "read",
            (M2Kind::Zap, 4) => "write NONE",
            (M2Kind::Fault, 4) => "write HUGE",
            (M2Kind::Zap | M2Kind::Fault, 5) => "unlock",
            (M2Kind::Zap | M2Kind::Fault, 6) => "up_read",
            (M2Kind::Collapse, 0) if self.readers(s) == 0 => "down_write",
            (M2Kind::Collapse, 0) => "down_write (queue)",
            (M2Kind::Collapse, 1 | 5) => "lock",
            (M2Kind::Collapse, 2) => "read",
            (M2Kind::Collapse, 3) => "flush (write NONE)",
            (M2Kind::Collapse, 4 | 7) => "unlock",
            (M2Kind::Collapse, 6) => "set_pmd_at (write HUGE)",
            (M2Kind::Collapse, 8) => "up_write",
            _ => "?",
        };
        let name = match kind {
            M2Kind::Split => "split",
            M2Kind::Zap => "zap",
            M2Kind::Collapse => "collapse",
            M2Kind::Fault => "fault",
        };
        format!("t{t} {name} pmd {i}: {what}")
    }
}

impl Model for M2 {
    type State = M2State;
    /// The thread that takes the step.
    type Action = u8;

    fn init_states(&self) -> Vec<M2State> {
        let mut s = M2State(0);
        for i in 0..self.pmds {
            s.set_pmd(i, HUGE);
        }
        vec![s]
    }

    fn actions(&self, s: &M2State, actions: &mut Vec<u8>) {
        for t in 0..self.threads {
            let kind = M2_KINDS[t as usize];
            let (i, step) = s.thread(t);
            if i == self.pmds {
                continue; // finished
            }
            if Self::is_lock_step(kind, step) && !self.lock_free(*s, i) {
                continue; // blocked on the pmd lock
            }
            match (kind, step) {
                // down_read: writer preference.
                (M2Kind::Zap | M2Kind::Fault, 0)
                    if self.read_lock && (self.writer(*s) || s.queued()) =>
                {
                    continue;
                }
                // down_write: blocked once queued, until the readers are gone.
                (M2Kind::Collapse, 0) if s.queued() && self.readers(*s) > 0 => continue,
                _ => {}
            }
            actions.push(t);
        }
    }

    fn next_state(&self, s: &M2State, t: u8) -> Option<M2State> {
        let mut n = *s;
        let (i, step) = s.thread(t);
        let p = s.pmd(i);
        let next_pmd = (i + 1, 0);
        let (ni, nstep) = match (M2_KINDS[t as usize], step) {
            // split: M1's
            (M2Kind::Split, 0) => (i, 1),
            (M2Kind::Split, 1) => (i, if p == HUGE { 2 } else { 4 }),
            (M2Kind::Split, 2) => {
                let inv = match self.variant {
                    Variant::Fixed => INVALID,
                    Variant::Buggy => NONE,
                };
                n.set_pmd(i, inv);
                (i, 3)
            }
            (M2Kind::Split, 3) => {
                n.set_pmd(i, TABLE);
                (i, 4)
            }
            (M2Kind::Split, 4) => next_pmd,
            // zap and fault: down_read, M1's steps 0-4 as 1-5, up_read
            (M2Kind::Zap | M2Kind::Fault, 0) => (i, 1),
            (M2Kind::Zap, 1) => (i, if p == NONE { 6 } else { 2 }),
            (M2Kind::Fault, 1) => (i, if p == NONE { 2 } else { 6 }),
            (M2Kind::Zap | M2Kind::Fault, 2) => (i, 3),
            (M2Kind::Zap, 3) => (i, if p == HUGE { 4 } else { 5 }),
            (M2Kind::Fault, 3) => (i, if p == NONE { 4 } else { 5 }),
            (M2Kind::Zap, 4) => {
                n.set_pmd(i, NONE);
                (i, 5)
            }
            (M2Kind::Fault, 4) => {
                n.set_pmd(i, HUGE);
                (i, 5)
            }
            (M2Kind::Zap | M2Kind::Fault, 5) => (i, 6),
            (M2Kind::Zap | M2Kind::Fault, 6) => next_pmd,
            // collapse
            (M2Kind::Collapse, 0) => {
                // `writer` is free here (collapse is the only writer).
                if self.readers(*s) == 0 {
                    n.set_queued(false);
                    (i, 1)
                } else {
                    debug_assert!(!s.queued(), "a queued down_write is not enabled");
                    n.set_queued(true);
                    (i, 0)
                }
            }
            (M2Kind::Collapse, 1) => (i, 2),
            (M2Kind::Collapse, 2) => (i, if p == TABLE { 3 } else { 7 }),
            (M2Kind::Collapse, 3) => {
                n.set_pmd(i, NONE);
                (i, 4)
            }
            (M2Kind::Collapse, 4) => (i, 5),
            (M2Kind::Collapse, 5) => (i, 6),
            (M2Kind::Collapse, 6) => {
                n.set_pmd(i, HUGE);
                (i, 7)
            }
            (M2Kind::Collapse, 7) => (i, 8),
            (M2Kind::Collapse, 8) => next_pmd,
            (kind, _) => unreachable!("{kind:?} step {step}"),
        };
        n.set_thread(t, ni, nstep);
        Some(n)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![Property::always("nevernone", |m: &M2, s: &M2State| {
            m.violating_reader(*s).is_none()
        })]
    }
}

impl Peer for M2 {
    fn step_name(&self, s: M2State, t: u8) -> String {
        self.describe(s, t)
    }
    fn violating_reader(&self, s: M2State) -> Option<u8> {
        M2::violating_reader(self, s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check;

    /// pgtable's reachable states and transitions for the fixed model,
    /// `(T, N, states, transitions)`.
    const EXPECTED: &[(u8, u8, usize, usize)] = &[
        (1, 1, 6, 5),
        (1, 2, 11, 10),
        (1, 4, 21, 20),
        (1, 8, 41, 40),
        (2, 1, 33, 45),
        (2, 2, 153, 247),
        (2, 4, 1097, 1907),
        (3, 1, 141, 219),
        (3, 2, 1395, 2605),
        (3, 4, 29899, 60267),
        (4, 1, 649, 1373),
        (4, 2, 12563, 32006),
    ];

    #[test]
    fn fixed_counts_match_pgtable() {
        for &(t, n, states, transitions) in EXPECTED {
            for workers in [1, 2] {
                let o = check(M2::new(t, n, Variant::Fixed), workers);
                assert!(!o.violated, "T={t} N={n} W={workers}: {:?}", o.cx);
                assert_eq!(o.states, states, "T={t} N={n} W={workers}");
                // `state_count()` is the initial state plus one per transition.
                assert_eq!(o.generated - 1, transitions, "T={t} N={n} W={workers}");
            }
        }
    }

    #[test]
    fn buggy_violates_in_five_steps() {
        for (t, n) in [(2, 1), (2, 2), (3, 1), (3, 2), (4, 2)] {
            let o = check(M2::new(t, n, Variant::Buggy), 1);
            assert!(o.violated, "T={t} N={n}");
            assert_eq!(o.cx_len, Some(5), "T={t} N={n}: {:?}", o.cx);
            assert_eq!(
                o.cx,
                [
                    "t0 split pmd 0: lock",
                    "t0 split pmd 0: read",
                    "t0 split pmd 0: invalidate",
                    "t1 zap pmd 0: down_read",
                    "t1 zap pmd 0: read (lockless) -> sees NONE: violation",
                ],
                "T={t} N={n}"
            );
        }
        // One thread: nobody reads locklessly.
        let o = check(M2::new(1, 2, Variant::Buggy), 1);
        assert!(!o.violated);
        assert_eq!(o.states, 11);
    }

    /// Without `mmap_lock` around the readers, the fixed encoding fails through the
    /// collapse: split makes a `TABLE`, collapse flushes it to `NONE`, and zap reads that
    /// `NONE` before `set_pmd_at` (11 README steps at T=3).
    #[test]
    fn collapse_half_fires_without_read_lock() {
        for workers in [1, 2] {
            let o = check(M2::new(3, 1, Variant::Fixed).without_read_lock(), workers);
            assert!(o.violated, "W={workers}");
            if workers == 1 {
                assert_eq!(o.cx_len, Some(11));
                assert_eq!(
                    o.cx,
                    [
                        "t0 split pmd 0: lock",
                        "t0 split pmd 0: read",
                        "t0 split pmd 0: invalidate",
                        "t0 split pmd 0: populate",
                        "t0 split pmd 0: unlock",
                        // With the read lock, this would make collapse's down_write queue.
                        "t1 zap pmd 0: down_read",
                        "t2 collapse pmd 0: down_write",
                        "t2 collapse pmd 0: lock",
                        "t2 collapse pmd 0: read",
                        "t2 collapse pmd 0: flush (write NONE)",
                        "t1 zap pmd 0: read (lockless) -> sees NONE: violation",
                    ]
                );
            }
            // The collapse half, not split's: split is past pmd 0 by then.
            assert!(o.cx.iter().any(|c| c.contains("flush")), "{:?}", o.cx);
        }
        // With the read lock the same cell holds (it is in EXPECTED); check N=2 as well.
        let o = check(M2::new(3, 2, Variant::Fixed).without_read_lock(), 1);
        assert!(o.violated);
    }

    /// The writer-preference rules, directly: a queued collapse blocks new readers, and a
    /// contended `down_write` first queues as a step of its own.
    #[test]
    fn rwsem_writer_preference() {
        let m = M2::new(4, 1, Variant::Fixed);
        let mut s = m.init_states()[0];
        // zap takes mmap_lock for read.
        s = m.next_state(&s, 1).unwrap();
        assert_eq!(m.readers(s), 1);
        // collapse's down_write is contended: it queues and stays at step 0.
        assert_eq!(m.describe(s, 2), "t2 collapse pmd 0: down_write (queue)");
        s = m.next_state(&s, 2).unwrap();
        assert!(s.queued());
        assert_eq!(s.thread(2), (0, 0));
        let mut acts = Vec::new();
        m.actions(&s, &mut acts);
        // collapse blocked (queued, a reader), fault's down_read blocked (queued).
        assert_eq!(acts, [0, 1]);
    }
}
