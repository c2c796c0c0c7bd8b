//! Benchmark model M3 (`bench/peers/README.md`): M2 with page-table lifetime and a GUP-fast
//! walker.
//!
//! Threads, in order: `split`, `zap`, `walker`, `collapse` (T of them, 1 to 4). `split` is
//! exactly M1's; `zap` is M2's with a page table's lifetime added (steps 0-10: it frees a huge
//! pmd's deposit in the step that clears it, and a table pmd's table after it unlocks, with a
//! grace period first in the fixed variant); `walker` is GUP-fast (one read-side section
//! around a walk of every pmd, positions `0 ..= 2 + 2N`); `collapse` is M2's (steps 0-8), with
//! a grace period (step 9, `tlb_remove_table_sync_one`) between its flush's unlock (4) and its
//! relock (5) in the fixed variant. As in M1 and M2, every step of the README's tables is one
//! stateright action, the action is the index of the thread that takes it, and a thread is
//! offered as an action only when its next step is enabled (blocking, never a spin loop).
//!
//! # State
//!
//! The whole state is one packed `u128` ([`M3State`]):
//!
//! - bits `2i..2i+2`: `pmd[i]` (`NONE` 0, `HUGE` 1, `INVALID` 2, `TABLE` 3), `i < 16`;
//! - bits `32+9t..32+9t+9`: thread `t`'s position. Split, zap and collapse: `(i, step)` as
//!   `i << 4 | step` (`i` ≤ 16 needs 5 bits, `step` ≤ 10 needs 4); a finished thread is
//!   `(N, 0)`. The walker (`t` = 2): its position `p` itself (`p` ≤ `2 + 2N` ≤ 34); finished
//!   is `2 + 2N`. Unused thread slots stay 0;
//! - bit 68: `mmap_lock.queued`;
//! - bit 69: `gp` (a grace period has begun and waits for the walker to leave);
//! - bits `70+i`: `freed[i]` (pmd `i`'s page table has been freed).
//!
//! (86 bits.) As in M2, `readers`, `writer` and `lock[i]` are not stored: they are functions
//! of the thread positions, so storing them would add bits but no states, and the
//! reachable-state count equals the abstract model's (the README's tuples):
//!
//! - `readers` is 1 while zap is at `(i, 1..=10)`, `i < N` (from `down_read` at step 0 to
//!   `up_read` at step 10), else 0 (zap is the only reader);
//! - `writer` is held exactly while collapse is at `(i, 1..=9)`, `i < N` (step 9, the
//!   grace period, lies between steps 4 and 5);
//! - `lock[i]`'s owner: split holds it at `(i, 1..=4)`, zap at `(i, 3..=7)` (it unlocks at
//!   step 6 or 7), collapse at `(i, 2..=4)` and `(i, 6..=7)`.
//!
//! `queued`, `gp` and `freed` are not functions of the positions, so they are stored.
//!
//! # Grace periods
//!
//! The walker is inside its read-side section at positions `1 ..= 1 + 2N`. A grace-period
//! step (zap's 8, collapse's 9): with `gp` false and the walker not inside, it goes on; with
//! `gp` false and the walker inside, it sets `gp` and stays (a step of its own); with `gp`
//! true and the walker gone (it never enters twice), it clears `gp` and goes on; with `gp`
//! true and the walker still inside it is not enabled. Zap's and collapse's grace periods
//! never overlap (`mmap_lock` read vs write), so one `gp` bit serves both.
//!
//! # Properties
//!
//! Both are stated, as M1's and M2's are (see the crate docs), over the state in which the
//! violating read is enabled (it takes no lock and changes nothing but the reader's
//! position); [`crate::Outcome::cx_len`] adds that read to the discovery path. stateright
//! checks them as one property, `nevernone+table-life` (see [`crate::Peer`] for why), and
//! [`crate::Outcome::property`] says which one failed:
//!
//! - `nevernone` (`INV-M2-NEVERNONE`, zap's lockless read only): zap is at `(i, 1)` with
//!   `i < N`, `pmd[i] == NONE`, and split is at `(i, 3)` or collapse at `(i, 4)`, `(i, 5)`,
//!   `(i, 6)` or `(i, 9)`.
//! - `table-life` (`INV-TABLE-LIFE`): the walker is at `2 + 2i` (its pte read of pmd `i`'s
//!   table) with `i < N` and `freed[i]`.
//!
//! The buggy variant (`INVALID` is `NONE`, no grace period) fails as M2 does, in 5 steps from
//! T=2. The tests also run the fixed encoding without grace periods (`INV-TABLE-LIFE` in 15
//! steps from T=3) and without the collapse's alone (v6.1's 2ba99c5e0881: 22 steps at T=4,
//! N=1), with a test-only knob.

use std::fmt;

use stateright::{Model, Property};

use crate::{HUGE, INVALID, MAX_PMDS, MAX_THREADS, NONE, Peer, TABLE, Variant};

/// What an M3 thread runs; thread `t` runs `M3_KINDS[t]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum M3Kind {
    Split,
    Zap,
    Walker,
    Collapse,
}

pub const M3_KINDS: [M3Kind; 4] = [M3Kind::Split, M3Kind::Zap, M3Kind::Walker, M3Kind::Collapse];

/// The zap thread's index (present when T ≥ 2).
const ZAP: u8 = 1;
/// The walker's index (present when T ≥ 3).
const WALKER: u8 = 2;
/// The collapse thread's index (present when T ≥ 4).
const COLLAPSE: u8 = 3;
/// Bit of `mmap_lock.queued`.
const QUEUED_BIT: u32 = 32 + 9 * MAX_THREADS as u32;
/// Bit of `gp`.
const GP_BIT: u32 = QUEUED_BIT + 1;
/// Bit of `freed[0]`.
const FREED_BIT: u32 = GP_BIT + 1;

/// The packed state (see the module docs).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct M3State(pub u128);

impl M3State {
    #[inline]
    pub fn pmd(self, i: u8) -> u8 {
        ((self.0 >> (2 * i as u32)) & 3) as u8
    }
    #[inline]
    fn set_pmd(&mut self, i: u8, v: u8) {
        let sh = 2 * i as u32;
        self.0 = (self.0 & !(3 << sh)) | ((v as u128) << sh);
    }
    /// Thread `t`'s raw 9-bit slot.
    #[inline]
    fn slot(self, t: u8) -> u16 {
        ((self.0 >> (32 + 9 * t as u32)) & 0x1ff) as u16
    }
    #[inline]
    fn set_slot(&mut self, t: u8, v: u16) {
        let sh = 32 + 9 * t as u32;
        self.0 = (self.0 & !(0x1ff << sh)) | ((v as u128) << sh);
    }
    /// Thread `t`'s `(i, step)` (split, zap, collapse; not the walker: see [`Self::walker`]).
    #[inline]
    pub fn thread(self, t: u8) -> (u8, u8) {
        let b = self.slot(t);
        ((b >> 4) as u8, (b & 0xf) as u8)
    }
    #[inline]
    fn set_thread(&mut self, t: u8, i: u8, step: u8) {
        self.set_slot(t, ((i as u16) << 4) | step as u16);
    }
    /// The walker's position `p`.
    #[inline]
    pub fn walker(self) -> u8 {
        self.slot(WALKER) as u8
    }
    #[inline]
    fn set_walker(&mut self, p: u8) {
        self.set_slot(WALKER, p as u16);
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
    /// `gp`: a grace period has begun and waits for the walker.
    #[inline]
    pub fn gp(self) -> bool {
        (self.0 >> GP_BIT) & 1 != 0
    }
    #[inline]
    fn set_gp(&mut self, g: bool) {
        self.0 = (self.0 & !(1 << GP_BIT)) | ((g as u128) << GP_BIT);
    }
    /// `freed[i]`: pmd `i`'s page table has been freed.
    #[inline]
    pub fn freed(self, i: u8) -> bool {
        (self.0 >> (FREED_BIT + i as u32)) & 1 != 0
    }
    #[inline]
    fn set_freed(&mut self, i: u8) {
        self.0 |= 1 << (FREED_BIT + i as u32);
    }
}

fn pmd_name(v: u8) -> &'static str {
    ["NONE", "HUGE", "INVALID", "TABLE"][v as usize]
}

impl fmt::Debug for M3State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Without the model the sizes are unknown: print every slot.
        write!(f, "pmd=[")?;
        for i in 0..MAX_PMDS {
            if i > 0 {
                write!(f, " ")?;
            }
            write!(f, "{}", pmd_name(self.pmd(i)))?;
        }
        write!(f, "] freed=[")?;
        for i in 0..MAX_PMDS {
            write!(f, "{}", self.freed(i) as u8)?;
        }
        write!(f, "] threads=[")?;
        for t in 0..MAX_THREADS {
            if t > 0 {
                write!(f, " ")?;
            }
            if t == WALKER {
                write!(f, "p={}", self.walker())?;
            } else {
                let (i, s) = self.thread(t);
                write!(f, "({i},{s})")?;
            }
        }
        write!(f, "] queued={} gp={}", self.queued(), self.gp())
    }
}

/// The model: `threads` threads (1 to 4) on `pmds` pmds (1 to 16).
#[derive(Clone, Debug)]
pub struct M3 {
    pub threads: u8,
    pub pmds: u8,
    pub variant: Variant,
    /// Does zap wait for a grace period (step 8) before it frees a table (step 9)? The fixed
    /// variant does, the buggy one does not; the tests set it apart from the encoding.
    zap_gp: bool,
    /// Does collapse wait for a grace period (step 9) between its flush's unlock (4) and its
    /// relock (5)? As `zap_gp`.
    collapse_gp: bool,
}

impl M3 {
    pub fn new(threads: u8, pmds: u8, variant: Variant) -> Self {
        assert!(
            (1..=MAX_THREADS).contains(&threads),
            "threads must be 1..=4"
        );
        assert!((1..=MAX_PMDS).contains(&pmds), "pmds must be 1..=16");
        let sync = variant == Variant::Fixed;
        M3 {
            threads,
            pmds,
            variant,
            zap_gp: sync,
            collapse_gp: sync,
        }
    }

    /// The test-only variants: the grace periods apart from the encoding.
    #[cfg(test)]
    fn with_grace_periods(mut self, zap: bool, collapse: bool) -> Self {
        self.zap_gp = zap;
        self.collapse_gp = collapse;
        self
    }

    /// Thread `t`'s `(i, step)`, or `None` for the walker.
    #[inline]
    fn pos(&self, s: M3State, t: u8) -> Option<(u8, u8)> {
        (M3_KINDS[t as usize] != M3Kind::Walker).then(|| s.thread(t))
    }

    /// Does thread `t` hold `lock[i]`?
    #[inline]
    fn holds(&self, s: M3State, t: u8, i: u8) -> bool {
        let Some((ti, step)) = self.pos(s, t) else {
            return false; // the walker takes no lock
        };
        ti == i
            && match M3_KINDS[t as usize] {
                M3Kind::Split => (1..=4).contains(&step),
                M3Kind::Zap => (3..=7).contains(&step),
                M3Kind::Collapse => (2..=4).contains(&step) || (6..=7).contains(&step),
                M3Kind::Walker => false,
            }
    }

    #[inline]
    fn lock_free(&self, s: M3State, i: u8) -> bool {
        (0..self.threads).all(|t| !self.holds(s, t, i))
    }

    /// Is the next step of a thread of `kind` at `step` a pmd-lock acquire?
    #[inline]
    fn is_lock_step(kind: M3Kind, step: u8) -> bool {
        match kind {
            M3Kind::Split => step == 0,
            M3Kind::Zap => step == 2,
            M3Kind::Collapse => step == 1 || step == 5,
            M3Kind::Walker => false,
        }
    }

    /// Is a step of a thread of `kind` at `step` a grace period?
    #[inline]
    fn is_gp_step(kind: M3Kind, step: u8) -> bool {
        matches!((kind, step), (M3Kind::Zap, 8) | (M3Kind::Collapse, 9))
    }

    /// `mmap_lock.readers`: 1 while zap is between `down_read` and `up_read`.
    #[inline]
    pub fn readers(&self, s: M3State) -> u8 {
        if self.threads <= ZAP {
            return 0;
        }
        let (i, step) = s.thread(ZAP);
        (i < self.pmds && (1..=10).contains(&step)) as u8
    }

    /// `mmap_lock.writer` is held: collapse between `down_write` and `up_write`.
    #[inline]
    pub fn writer(&self, s: M3State) -> bool {
        if self.threads <= COLLAPSE {
            return false;
        }
        let (i, step) = s.thread(COLLAPSE);
        i < self.pmds && (1..=9).contains(&step)
    }

    /// Is the walker inside its read-side section (positions `1 ..= 1 + 2N`)?
    #[inline]
    pub fn walker_inside(&self, s: M3State) -> bool {
        self.threads > WALKER && (1..=1 + 2 * self.pmds).contains(&s.walker())
    }

    /// The walker's finished position, `2 + 2N`.
    #[inline]
    fn walker_done(&self) -> u8 {
        2 + 2 * self.pmds
    }

    /// The predicate behind `nevernone`: zap's violating lockless read is enabled in `s`.
    pub fn nevernone_violated(&self, s: M3State) -> bool {
        if self.threads <= ZAP {
            return false;
        }
        let (i, step) = s.thread(ZAP);
        if step != 1 || i >= self.pmds || s.pmd(i) != NONE {
            return false;
        }
        let split = s.thread(0) == (i, 3);
        let collapse = self.threads > COLLAPSE && {
            let (ci, cstep) = s.thread(COLLAPSE);
            ci == i && matches!(cstep, 4..=6 | 9)
        };
        split || collapse
    }

    /// The predicate behind `table-life`: the walker's pte read of a freed table is enabled
    /// in `s`.
    pub fn table_life_violated(&self, s: M3State) -> bool {
        if self.threads <= WALKER {
            return false;
        }
        let p = s.walker();
        p >= 2 && p.is_multiple_of(2) && {
            let i = (p - 2) / 2;
            i < self.pmds && s.freed(i)
        }
    }

    /// The thread whose violating read is enabled in `s`, if any.
    pub fn violating_reader(&self, s: M3State) -> Option<u8> {
        if self.nevernone_violated(s) {
            Some(ZAP)
        } else if self.table_life_violated(s) {
            Some(WALKER)
        } else {
            None
        }
    }

    /// The README name of a grace-period step from `s`.
    fn gp_name(&self, s: M3State) -> &'static str {
        match (s.gp(), self.walker_inside(s)) {
            (false, false) => "grace period",
            (false, true) => "grace period (begin, wait for the walker)",
            (true, _) => "grace period (end)",
        }
    }

    /// The README name of the step thread `t` takes from `s`.
    pub fn describe(&self, s: M3State, t: u8) -> String {
        let kind = M3_KINDS[t as usize];
        if kind == M3Kind::Walker {
            let p = s.walker();
            let n = self.pmds;
            return if p == 0 {
                format!("t{t} walker: enter section")
            } else if p == 1 + 2 * n {
                format!("t{t} walker: leave section")
            } else if p % 2 == 1 {
                format!("t{t} walker pmd {}: read (lockless)", (p - 1) / 2)
            } else if p < 1 + 2 * n {
                format!("t{t} walker pmd {}: read pte", (p - 2) / 2)
            } else {
                format!("t{t} walker: ?")
            };
        }
        let (i, step) = s.thread(t);
        let what = match (kind, step) {
            (M3Kind::Split, 0) => "lock",
            (M3Kind::Split, 1) => "read",
            (M3Kind::Split, 2) => "invalidate",
            (M3Kind::Split, 3) => "populate",
            (M3Kind::Split, 4) => "unlock",
            (M3Kind::Zap, 0) => "down_read",
            (M3Kind::Zap, 1) => "read (lockless)",
            (M3Kind::Zap, 2) => "lock",
            (M3Kind::Zap, 3) => "read",
            (M3Kind::Zap, 4) => "write NONE, free the deposit",
            (M3Kind::Zap, 5) => "write NONE",
            (M3Kind::Zap, 6 | 7) => "unlock",
            (M3Kind::Zap, 8) => self.gp_name(s),
            (M3Kind::Zap, 9) => "pte_free",
            (M3Kind::Zap, 10) => "up_read",
            (M3Kind::Collapse, 0) if self.readers(s) == 0 => "down_write",
            (M3Kind::Collapse, 0) => "down_write (queue)",
            (M3Kind::Collapse, 1 | 5) => "lock",
            (M3Kind::Collapse, 2) => "read",
            (M3Kind::Collapse, 3) => "flush (write NONE)",
            (M3Kind::Collapse, 4 | 7) => "unlock",
            (M3Kind::Collapse, 6) => "set_pmd_at (write HUGE)",
            (M3Kind::Collapse, 8) => "up_write",
            (M3Kind::Collapse, 9) => self.gp_name(s),
            _ => "?",
        };
        let name = match kind {
            M3Kind::Split => "split",
            M3Kind::Zap => "zap",
            M3Kind::Walker => "walker",
            M3Kind::Collapse => "collapse",
        };
        format!("t{t} {name} pmd {i}: {what}")
    }

    /// A grace-period step from `s` (into `n`): where the thread goes, `stay` or `go`.
    #[inline]
    fn grace_period(&self, s: M3State, n: &mut M3State, stay: (u8, u8), go: (u8, u8)) -> (u8, u8) {
        let inside = self.walker_inside(s);
        if !s.gp() {
            if inside {
                n.set_gp(true);
                stay
            } else {
                go
            }
        } else {
            debug_assert!(!inside, "a waiting grace period is not enabled");
            n.set_gp(false);
            go
        }
    }
}

impl Model for M3 {
    type State = M3State;
    /// The thread that takes the step.
    type Action = u8;

    fn init_states(&self) -> Vec<M3State> {
        let mut s = M3State(0);
        for i in 0..self.pmds {
            s.set_pmd(i, HUGE);
        }
        vec![s]
    }

    fn actions(&self, s: &M3State, actions: &mut Vec<u8>) {
        for t in 0..self.threads {
            let kind = M3_KINDS[t as usize];
            if kind == M3Kind::Walker {
                if s.walker() != self.walker_done() {
                    actions.push(t); // the walker never blocks
                }
                continue;
            }
            let (i, step) = s.thread(t);
            if i == self.pmds {
                continue; // finished
            }
            if Self::is_lock_step(kind, step) && !self.lock_free(*s, i) {
                continue; // blocked on the pmd lock
            }
            if Self::is_gp_step(kind, step) && s.gp() && self.walker_inside(*s) {
                continue; // the grace period waits for the walker to leave
            }
            match (kind, step) {
                // down_read: writer preference.
                (M3Kind::Zap, 0) if self.writer(*s) || s.queued() => continue,
                // down_write: blocked once queued, until the reader is gone.
                (M3Kind::Collapse, 0) if s.queued() && self.readers(*s) > 0 => continue,
                _ => {}
            }
            actions.push(t);
        }
    }

    fn next_state(&self, s: &M3State, t: u8) -> Option<M3State> {
        let mut n = *s;
        let kind = M3_KINDS[t as usize];
        if kind == M3Kind::Walker {
            let p = s.walker();
            let end = 1 + 2 * self.pmds;
            let np = if p == 0 {
                1 // enter the section
            } else if p == end {
                end + 1 // leave the section: finished
            } else if p % 2 == 1 {
                // read pmd[i] (lockless, no check)
                let i = (p - 1) / 2;
                match s.pmd(i) {
                    TABLE => p + 1,
                    HUGE => p + 2,
                    _ => end, // the walk ends
                }
            } else {
                // read a pte of pmd i's table (check2 is the `table-life` property)
                p + 1
            };
            n.set_walker(np);
            return Some(n);
        }
        let (i, step) = s.thread(t);
        let p = s.pmd(i);
        let next_pmd = (i + 1, 0);
        let (ni, nstep) = match (kind, step) {
            // split: M1's
            (M3Kind::Split, 0) => (i, 1),
            (M3Kind::Split, 1) => (i, if p == HUGE { 2 } else { 4 }),
            (M3Kind::Split, 2) => {
                let inv = match self.variant {
                    Variant::Fixed => INVALID,
                    Variant::Buggy => NONE,
                };
                n.set_pmd(i, inv);
                (i, 3)
            }
            (M3Kind::Split, 3) => {
                n.set_pmd(i, TABLE);
                (i, 4)
            }
            (M3Kind::Split, 4) => next_pmd,
            // zap
            (M3Kind::Zap, 0) => (i, 1),
            (M3Kind::Zap, 1) => (i, if p == NONE { 10 } else { 2 }),
            (M3Kind::Zap, 2) => (i, 3),
            (M3Kind::Zap, 3) => match p {
                HUGE => (i, 4),
                TABLE => (i, 5),
                _ => (i, 6),
            },
            (M3Kind::Zap, 4) => {
                n.set_pmd(i, NONE);
                n.set_freed(i);
                (i, 6)
            }
            (M3Kind::Zap, 5) => {
                n.set_pmd(i, NONE);
                (i, 7)
            }
            (M3Kind::Zap, 6) => (i, 10),
            (M3Kind::Zap, 7) => (i, if self.zap_gp { 8 } else { 9 }),
            (M3Kind::Zap, 8) => self.grace_period(*s, &mut n, (i, 8), (i, 9)),
            (M3Kind::Zap, 9) => {
                n.set_freed(i);
                (i, 10)
            }
            (M3Kind::Zap, 10) => next_pmd,
            // collapse: M2's, and the grace period 9 between 4 and 5
            (M3Kind::Collapse, 0) => {
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
            (M3Kind::Collapse, 1) => (i, 2),
            (M3Kind::Collapse, 2) => (i, if p == TABLE { 3 } else { 7 }),
            (M3Kind::Collapse, 3) => {
                n.set_pmd(i, NONE);
                (i, 4)
            }
            (M3Kind::Collapse, 4) => (i, if self.collapse_gp { 9 } else { 5 }),
            (M3Kind::Collapse, 9) => self.grace_period(*s, &mut n, (i, 9), (i, 5)),
            (M3Kind::Collapse, 5) => (i, 6),
            (M3Kind::Collapse, 6) => {
                n.set_pmd(i, HUGE);
                (i, 7)
            }
            (M3Kind::Collapse, 7) => (i, 8),
            (M3Kind::Collapse, 8) => next_pmd,
            (kind, _) => unreachable!("{kind:?} step {step}"),
        };
        n.set_thread(t, ni, nstep);
        Some(n)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![Property::always(Self::PROPERTY, |m: &M3, s: &M3State| {
            m.violating_reader(*s).is_none()
        })]
    }
}

impl Peer for M3 {
    const PROPERTY: &'static str = "nevernone+table-life";
    fn step_name(&self, s: M3State, t: u8) -> String {
        self.describe(s, t)
    }
    fn violating_reader(&self, s: M3State) -> Option<u8> {
        M3::violating_reader(self, s)
    }
    fn violation_note(&self, _s: M3State, t: u8) -> &'static str {
        if t == WALKER {
            "reads a freed table: violation"
        } else {
            "sees NONE: violation"
        }
    }
    fn violated_property(&self, s: M3State) -> &'static str {
        if self.nevernone_violated(s) {
            "nevernone"
        } else {
            "table-life"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check;

    /// pgtable's reachable states for the fixed model (`expected-states.txt`),
    /// `(T, N, states)`.
    const EXPECTED: &[(u8, u8, usize)] = &[
        (1, 1, 6),
        (1, 2, 11),
        (1, 4, 21),
        (1, 8, 41),
        (2, 1, 34),
        (2, 2, 133),
        (2, 4, 529),
        (2, 8, 2113),
        (3, 1, 150),
        (3, 2, 766),
        (3, 4, 4377),
        (3, 8, 27919),
        (4, 1, 596),
        (4, 2, 5756),
        (4, 4, 80586),
    ];

    #[test]
    fn fixed_counts_match_pgtable() {
        for &(t, n, states) in EXPECTED {
            for workers in [1, 2] {
                let o = check(M3::new(t, n, Variant::Fixed), workers);
                assert!(!o.violated, "T={t} N={n} W={workers}: {:?}", o.cx);
                assert_eq!(o.states, states, "T={t} N={n} W={workers}");
            }
        }
    }

    #[test]
    fn buggy_violates_in_five_steps() {
        for (t, n) in [(2, 1), (2, 2), (3, 1), (3, 2), (4, 1), (4, 2)] {
            let o = check(M3::new(t, n, Variant::Buggy), 1);
            assert!(o.violated, "T={t} N={n}");
            assert_eq!(o.property, Some("nevernone"), "T={t} N={n}");
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
        // One thread: nobody reads.
        let o = check(M3::new(1, 2, Variant::Buggy), 1);
        assert!(!o.violated);
        assert_eq!(o.states, 11);
    }

    /// The fixed encoding without either grace period: zap frees the table the walker is
    /// about to read (15 README steps from T=3, pgtable's BFS).
    #[test]
    fn no_grace_periods_frees_the_walkers_table() {
        for (t, n) in [(3, 1), (3, 2), (4, 1), (4, 2)] {
            let o = check(
                M3::new(t, n, Variant::Fixed).with_grace_periods(false, false),
                1,
            );
            assert!(o.violated, "T={t} N={n}");
            assert_eq!(o.property, Some("table-life"), "T={t} N={n}: {:?}", o.cx);
            assert_eq!(o.cx_len, Some(15), "T={t} N={n}: {:?}", o.cx);
            assert_eq!(
                o.cx.last().map(String::as_str),
                Some("t2 walker pmd 0: read pte -> reads a freed table: violation")
            );
            assert!(
                o.cx.iter().any(|c| c == "t1 zap pmd 0: pte_free"),
                "{:?}",
                o.cx
            );
        }
        // Two threads: no walker, nothing to free too early.
        let o = check(
            M3::new(2, 2, Variant::Fixed).with_grace_periods(false, false),
            1,
        );
        assert!(!o.violated);
        // The zap's grace period alone suffices at T=3 (no collapse).
        let o = check(
            M3::new(3, 2, Variant::Fixed).with_grace_periods(true, false),
            1,
        );
        assert!(!o.violated);
        assert_eq!(o.states, 766);
    }

    /// v6.1's 2ba99c5e0881 alone: with zap's grace period but not the collapse's, the walker
    /// reads the table the collapse flushed and deposited again, which a zap of the new huge
    /// pmd freed at once (22 README steps at T=4, N=1, pgtable's BFS).
    #[test]
    fn collapse_without_grace_period_frees_the_walkers_table() {
        let o = check(
            M3::new(4, 1, Variant::Fixed).with_grace_periods(true, false),
            1,
        );
        assert!(o.violated);
        assert_eq!(o.property, Some("table-life"), "{:?}", o.cx);
        assert_eq!(o.cx_len, Some(22), "{:?}", o.cx);
        for step in [
            "t3 collapse pmd 0: flush (write NONE)",
            "t3 collapse pmd 0: set_pmd_at (write HUGE)",
            "t1 zap pmd 0: write NONE, free the deposit",
            "t2 walker pmd 0: read pte -> reads a freed table: violation",
        ] {
            assert!(
                o.cx.iter().any(|c| c == step),
                "{step} missing from {:?}",
                o.cx
            );
        }
        assert!(
            !o.cx.iter().any(|c| c.contains("grace period")),
            "{:?}",
            o.cx
        );
        // Three threads (no collapse) hold.
        let o = check(
            M3::new(3, 2, Variant::Fixed).with_grace_periods(true, false),
            1,
        );
        assert!(!o.violated);
    }

    /// The grace period's steps, directly: with the walker inside, the first sets `gp` and
    /// stays; the next is blocked until the walker leaves, and then clears `gp` and goes on.
    #[test]
    fn grace_period_waits_for_the_walker() {
        let m = M3::new(3, 1, Variant::Fixed);
        let mut s = m.init_states()[0];
        let step = |s: &mut M3State, t: u8| *s = m.next_state(s, t).unwrap();
        // split makes pmd 0 a table.
        for _ in 0..5 {
            step(&mut s, 0);
        }
        assert_eq!(s.pmd(0), TABLE);
        // The walker enters and reads the table pmd.
        step(&mut s, WALKER);
        step(&mut s, WALKER);
        assert_eq!(s.walker(), 2);
        assert!(m.walker_inside(s));
        // zap: down_read, read, lock, read, write NONE, unlock: at its grace period.
        for _ in 0..6 {
            step(&mut s, ZAP);
        }
        assert_eq!(s.thread(ZAP), (0, 8));
        assert_eq!(
            m.describe(s, ZAP),
            "t1 zap pmd 0: grace period (begin, wait for the walker)"
        );
        step(&mut s, ZAP);
        assert!(s.gp());
        assert_eq!(s.thread(ZAP), (0, 8));
        let mut acts = Vec::new();
        m.actions(&s, &mut acts);
        assert_eq!(acts, [WALKER], "zap waits, split is done");
        // The walker reads its pte (not freed yet) and leaves.
        assert!(!m.table_life_violated(s));
        step(&mut s, WALKER);
        step(&mut s, WALKER);
        assert_eq!(s.walker(), 4);
        assert!(!m.walker_inside(s));
        acts.clear();
        m.actions(&s, &mut acts);
        assert_eq!(acts, [ZAP]);
        assert_eq!(m.describe(s, ZAP), "t1 zap pmd 0: grace period (end)");
        step(&mut s, ZAP);
        assert!(!s.gp());
        assert_eq!(s.thread(ZAP), (0, 9));
        step(&mut s, ZAP);
        assert!(s.freed(0));
        step(&mut s, ZAP);
        assert_eq!(s.thread(ZAP), (1, 0));
        acts.clear();
        m.actions(&s, &mut acts);
        assert!(acts.is_empty(), "everyone is finished: {acts:?}");
    }
}
