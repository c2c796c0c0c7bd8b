//! Benchmark models M1, M2 and M3 (`bench/peers/README.md`) for the stateright model checker.
//!
//! This page documents M1 ([`M1`]); M2 (M1 with `mmap_lock` and a khugepaged collapse) is
//! [`M2`], documented in [`m2`]; M3 (M2 with page-table lifetime and a GUP-fast walker) is
//! [`M3`], documented in [`m3`]. [`check`] runs any of them.
//!
//! Split vs zap vs fault on N pmds, race 002's protocol. Every step of the README's table is
//! one stateright action; the action is the index of the thread that takes it, and a thread
//! is offered as an action only when its next step is enabled (a lock step while the lock is
//! held is *not* enabled: blocking, never a spin loop).
//!
//! # State
//!
//! The whole state is one packed `u64` ([`M1State`]):
//!
//! - bits `2i..2i+2`: `pmd[i]` (`NONE` 0, `HUGE` 1, `INVALID` 2, `TABLE` 3), `i < 16`;
//! - bits `32+8t..32+8t+8`: thread `t`'s `(i, step)` as `i << 3 | step` (`i` ≤ 16 needs 5
//!   bits, `step` ≤ 4 needs 3); a finished thread is `(N, 0)`; unused thread slots stay 0.
//!
//! `lock[i]` is not stored: the README's lock owner is a function of the thread positions
//! (split holds `lock[i]` exactly at `(i, 1..=4)`, zap and fault exactly at `(i, 2..=4)`),
//! so storing it would add bits but no states. The reachable-state count therefore equals
//! the abstract model's (the README's `(pmd, lock, threads)` tuples).
//!
//! # Property
//!
//! `nevernone` (`INV-M1-NEVERNONE`): the README checks *at* the lockless read (zap or fault,
//! step 0) that it does not see `NONE` while split is at `(i, 3)`. stateright properties are
//! predicates over states, so the property is stated over the state *before* that read:
//! "some zap/fault thread is at `(i, 0)` with `i < N`, `pmd[i] == NONE`, and split is at
//! `(i, 3)`". A lockless read needs no lock, so it is always enabled for a thread at
//! `(i, 0)`, `i < N`, and the read changes nothing but the reader's position: the predicate
//! holds in exactly the states in which the violating read is enabled. This was chosen over
//! recording a `violated` flag in the state because it keeps every variant's reachable
//! state space exactly the abstract model's (a flag would add the post-read states to the
//! buggy variant). The price: the discovery path stops *before* the violating read, so it
//! has one action fewer than the README's counterexample; [`Outcome::cx_len`] adds that
//! read back so it counts the README's steps (4 for the buggy model).

use std::fmt;
use std::time::Instant;

use stateright::{Checker, HasDiscoveries, Model, Property};

pub mod m2;
pub mod m3;
pub use m2::{M2, M2State};
pub use m3::{M3, M3State};

/// `pmd[i]` values.
pub const NONE: u8 = 0;
pub const HUGE: u8 = 1;
pub const INVALID: u8 = 2;
pub const TABLE: u8 = 3;

/// The most pmds the packed state holds.
pub const MAX_PMDS: u8 = 16;
/// The most threads (the README's `split, zap, fault, zap`).
pub const MAX_THREADS: u8 = 4;

/// What a thread runs; thread `t` runs `KINDS[t]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Split,
    Zap,
    Fault,
}

pub const KINDS: [Kind; 4] = [Kind::Split, Kind::Zap, Kind::Fault, Kind::Zap];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// `INVALID` is its own (non-none) value.
    Fixed,
    /// `INVALID` is written as `NONE`.
    Buggy,
}

impl Variant {
    pub fn name(self) -> &'static str {
        match self {
            Variant::Fixed => "fixed",
            Variant::Buggy => "buggy",
        }
    }
}

/// The packed state (see the crate docs).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct M1State(pub u64);

impl M1State {
    #[inline]
    pub fn pmd(self, i: u8) -> u8 {
        ((self.0 >> (2 * i as u32)) & 3) as u8
    }
    #[inline]
    fn set_pmd(&mut self, i: u8, v: u8) {
        let sh = 2 * i as u32;
        self.0 = (self.0 & !(3 << sh)) | ((v as u64) << sh);
    }
    /// Thread `t`'s `(i, step)`.
    #[inline]
    pub fn thread(self, t: u8) -> (u8, u8) {
        let b = (self.0 >> (32 + 8 * t as u32)) as u8;
        (b >> 3, b & 7)
    }
    #[inline]
    fn set_thread(&mut self, t: u8, i: u8, step: u8) {
        let sh = 32 + 8 * t as u32;
        self.0 = (self.0 & !(0xff << sh)) | ((((i << 3) | step) as u64) << sh);
    }
}

fn pmd_name(v: u8) -> &'static str {
    ["NONE", "HUGE", "INVALID", "TABLE"][v as usize]
}

impl fmt::Debug for M1State {
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
        write!(f, "]")
    }
}

/// The model: `threads` threads (1 to 4) on `pmds` pmds (1 to 16).
#[derive(Clone, Debug)]
pub struct M1 {
    pub threads: u8,
    pub pmds: u8,
    pub variant: Variant,
}

impl M1 {
    pub fn new(threads: u8, pmds: u8, variant: Variant) -> Self {
        assert!(
            (1..=MAX_THREADS).contains(&threads),
            "threads must be 1..=4"
        );
        assert!((1..=MAX_PMDS).contains(&pmds), "pmds must be 1..=16");
        M1 {
            threads,
            pmds,
            variant,
        }
    }

    /// Does thread `t` hold `lock[i]`?
    #[inline]
    fn holds(&self, s: M1State, t: u8, i: u8) -> bool {
        let (ti, step) = s.thread(t);
        ti == i
            && match KINDS[t as usize] {
                Kind::Split => (1..=4).contains(&step),
                Kind::Zap | Kind::Fault => (2..=4).contains(&step),
            }
    }

    #[inline]
    fn lock_free(&self, s: M1State, i: u8) -> bool {
        (0..self.threads).all(|t| !self.holds(s, t, i))
    }

    /// Is the next step of a thread of `kind` at `step` a lock acquire?
    #[inline]
    fn is_lock_step(kind: Kind, step: u8) -> bool {
        match kind {
            Kind::Split => step == 0,
            Kind::Zap | Kind::Fault => step == 1,
        }
    }

    /// The predicate behind `nevernone`: is a violating lockless read enabled in `s`?
    pub fn violation_enabled(&self, s: M1State) -> bool {
        let (si, sstep) = s.thread(0);
        if sstep != 3 || si >= self.pmds || s.pmd(si) != NONE {
            return false;
        }
        (1..self.threads).any(|t| s.thread(t) == (si, 0))
    }

    /// The README name of the step thread `t` takes from `s`.
    pub fn describe(&self, s: M1State, t: u8) -> String {
        let kind = KINDS[t as usize];
        let (i, step) = s.thread(t);
        let what = match (kind, step) {
            (Kind::Split, 0) | (Kind::Zap | Kind::Fault, 1) => "lock",
            (_, 4) => "unlock",
            (Kind::Split, 1) | (Kind::Zap | Kind::Fault, 2) => "read",
            (Kind::Zap | Kind::Fault, 0) => "read (lockless)",
            (Kind::Split, 2) => "invalidate",
            (Kind::Split, 3) => "populate",
            (Kind::Zap, 3) => "write NONE",
            (Kind::Fault, 3) => "write HUGE",
            _ => "?",
        };
        let name = match kind {
            Kind::Split => "split",
            Kind::Zap => "zap",
            Kind::Fault => "fault",
        };
        format!("t{t} {name} pmd {i}: {what}")
    }
}

impl Model for M1 {
    type State = M1State;
    /// The thread that takes the step.
    type Action = u8;

    fn init_states(&self) -> Vec<M1State> {
        let mut s = M1State(0);
        for i in 0..self.pmds {
            s.set_pmd(i, HUGE);
        }
        vec![s]
    }

    fn actions(&self, s: &M1State, actions: &mut Vec<u8>) {
        for t in 0..self.threads {
            let (i, step) = s.thread(t);
            if i == self.pmds {
                continue; // finished
            }
            if Self::is_lock_step(KINDS[t as usize], step) && !self.lock_free(*s, i) {
                continue; // blocked on the lock
            }
            actions.push(t);
        }
    }

    fn next_state(&self, s: &M1State, t: u8) -> Option<M1State> {
        let mut n = *s;
        let (i, step) = s.thread(t);
        let p = s.pmd(i);
        let next_pmd = (i + 1, 0);
        let (ni, nstep) = match (KINDS[t as usize], step) {
            // split
            (Kind::Split, 0) => (i, 1),
            (Kind::Split, 1) => (i, if p == HUGE { 2 } else { 4 }),
            (Kind::Split, 2) => {
                let inv = match self.variant {
                    Variant::Fixed => INVALID,
                    Variant::Buggy => NONE,
                };
                n.set_pmd(i, inv);
                (i, 3)
            }
            (Kind::Split, 3) => {
                n.set_pmd(i, TABLE);
                (i, 4)
            }
            // zap
            (Kind::Zap, 0) => {
                if p == NONE {
                    next_pmd
                } else {
                    (i, 1)
                }
            }
            (Kind::Zap, 1) => (i, 2),
            (Kind::Zap, 2) => (i, if p == HUGE { 3 } else { 4 }),
            (Kind::Zap, 3) => {
                n.set_pmd(i, NONE);
                (i, 4)
            }
            // fault
            (Kind::Fault, 0) => {
                if p == NONE {
                    (i, 1)
                } else {
                    next_pmd
                }
            }
            (Kind::Fault, 1) => (i, 2),
            (Kind::Fault, 2) => (i, if p == NONE { 3 } else { 4 }),
            (Kind::Fault, 3) => {
                n.set_pmd(i, HUGE);
                (i, 4)
            }
            // unlock
            (_, 4) => next_pmd,
            _ => unreachable!("step {step}"),
        };
        n.set_thread(t, ni, nstep);
        Some(n)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![Property::always("nevernone", |m: &M1, s: &M1State| {
            !m.violation_enabled(*s)
        })]
    }
}

/// What [`check`] needs from a benchmark model besides [`Model`]: the action is the index of
/// the thread that takes the step, and the model has exactly one stateright property,
/// [`Peer::PROPERTY`], a state predicate "a violating lockless read is enabled" (see the
/// crate docs).
///
/// One, not one per README property: with `HasDiscoveries::Any`, stateright 0.31's BFS stops
/// a block of states early only once *every* property has a discovery, and until then each
/// violating state it visits *replaces* its property's discovery, so with two properties the
/// reported path is not the shortest. M3 therefore checks its two README properties as one
/// stateright property and says which one failed with [`Peer::violated_property`].
pub trait Peer: Model<Action = u8> + Clone + Send + Sync + 'static {
    /// The stateright property's name (M1 and M2: `nevernone`).
    const PROPERTY: &'static str = "nevernone";
    /// The README name of the step thread `t` takes from `s`.
    fn step_name(&self, s: Self::State, t: u8) -> String;
    /// The thread whose lockless read in `s` would violate a property, if one is enabled.
    fn violating_reader(&self, s: Self::State) -> Option<u8>;
    /// What that read does, appended to its step's name in the counterexample.
    fn violation_note(&self, _s: Self::State, _t: u8) -> &'static str {
        "sees NONE: violation"
    }
    /// The README property that read violates (M1 and M2: `nevernone` only).
    fn violated_property(&self, _s: Self::State) -> &'static str {
        "nevernone"
    }
}

impl Peer for M1 {
    fn step_name(&self, s: M1State, t: u8) -> String {
        self.describe(s, t)
    }
    fn violating_reader(&self, s: M1State) -> Option<u8> {
        if !self.violation_enabled(s) {
            return None;
        }
        let (si, _) = s.thread(0);
        (1..self.threads).find(|&t| s.thread(t) == (si, 0))
    }
}

/// One check's result.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub violated: bool,
    /// The violated property (`nevernone`; M3 also `table-life`), if any.
    pub property: Option<&'static str>,
    /// `unique_state_count()`.
    pub states: usize,
    /// `state_count()`: states generated, repeats included (the initial state plus one per
    /// transition taken).
    pub generated: usize,
    /// README steps of the counterexample: stateright's discovery path (which ends in the
    /// state where the violating read is enabled) plus that read.
    pub cx_len: Option<usize>,
    /// The counterexample's steps, described.
    pub cx: Vec<String>,
    pub seconds: f64,
}

/// Runs `checker().threads(workers).spawn_bfs().join()`, stopping at the first discovery.
pub fn check<M: Peer>(model: M, workers: usize) -> Outcome
where
    M::State: Copy + fmt::Debug + std::hash::Hash + Send + Sync + PartialEq + 'static,
{
    let start = Instant::now();
    let checker = model
        .clone()
        .checker()
        .threads(workers)
        .finish_when(HasDiscoveries::Any)
        .spawn_bfs()
        .join();
    let seconds = start.elapsed().as_secs_f64();
    let states = checker.unique_state_count();
    let generated = checker.state_count();
    let mut property = None;
    let (cx_len, cx) = match checker.discovery(M::PROPERTY) {
        None => (None, Vec::new()),
        Some(path) => {
            let mut cx = Vec::new();
            for (s, a) in path.clone().into_vec() {
                if let Some(t) = a {
                    cx.push(model.step_name(s, t));
                }
            }
            let last = *path.last_state();
            let reader = model
                .violating_reader(last)
                .expect("the discovery ends where a violating read is enabled");
            property = Some(model.violated_property(last));
            cx.push(format!(
                "{} -> {}",
                model.step_name(last, reader),
                model.violation_note(last, reader)
            ));
            (Some(cx.len()), cx)
        }
    };
    Outcome {
        violated: cx_len.is_some(),
        property,
        states,
        generated,
        cx_len,
        cx,
        seconds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// pgtable's reachable-state counts for the fixed model, `(T, N, states)`.
    const EXPECTED: &[(u8, u8, usize)] = &[
        (1, 1, 6),
        (1, 2, 11),
        (1, 4, 21),
        (1, 8, 41),
        (2, 1, 22),
        (2, 2, 99),
        (2, 4, 701),
        (3, 1, 61),
        (3, 2, 625),
        (3, 4, 14537),
        (4, 1, 262),
    ];

    #[test]
    fn fixed_counts_match_pgtable() {
        for &(t, n, want) in EXPECTED {
            for workers in [1, 2] {
                let o = check(M1::new(t, n, Variant::Fixed), workers);
                assert!(!o.violated, "T={t} N={n} W={workers}: {:?}", o.cx);
                assert_eq!(o.states, want, "T={t} N={n} W={workers}");
            }
        }
    }

    #[test]
    fn buggy_violates_in_four_steps() {
        for (t, n) in [(2, 1), (2, 2), (3, 2), (4, 2)] {
            let o = check(M1::new(t, n, Variant::Buggy), 1);
            assert!(o.violated, "T={t} N={n}");
            assert_eq!(o.cx_len, Some(4), "T={t} N={n}: {:?}", o.cx);
            assert_eq!(
                o.cx,
                [
                    "t0 split pmd 0: lock",
                    "t0 split pmd 0: read",
                    "t0 split pmd 0: invalidate",
                    "t1 zap pmd 0: read (lockless) -> sees NONE: violation",
                ]
            );
        }
        // One thread: nobody reads locklessly.
        let o = check(M1::new(1, 2, Variant::Buggy), 1);
        assert!(!o.violated);
        assert_eq!(o.states, 11);
    }
}
