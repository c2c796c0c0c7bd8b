//! The benchmark models of `bench/peers/` in pgtable's engine: the same model, step for step,
//! that SPIN, stateright, loom and shuttle run there (`bench/peers/README.md`).
//!
//! **M1** (`m1`): the lockless-peek / lock / recheck protocol of race 002 on `pmds` huge pmds,
//! with `threads` threads acting on every pmd in turn:
//!
//! | thread | per pmd, one step each |
//! |---|---|
//! | 0 split (`__split_huge_pmd`) | lock; read (not huge: unlock); write `pmdp_invalidate(pmd)`; write the table pmd; unlock |
//! | 1, 3 zap (`zap_pmd_range`) | lockless read (none: next pmd); lock; read (not huge: unlock); write none; unlock |
//! | 2 fault (`__handle_mm_fault`) | lockless read (not none: next pmd); lock; read (not none: unlock); write the huge pmd; unlock |
//!
//! A lock step blocks while another thread holds the pmd's lock. The property,
//! [`M1_NEVERNONE`]: no lockless read sees `pmd_none` while the split is between its
//! invalidate and its populate. The encoding decides the verdict: `pmdp_invalidate` empties
//! the pmd on `arm-lpae-v4.5` (the bug), and leaves a non-none entry on every fixed backend.
//!
//! Written only with the public API, as another crate would write it. Its state is the pmds,
//! their locks and each thread's step and pmd: the same state the peers keep, so the
//! reachable-state counts compare (a fault maps the pmd's page again, so a huge pmd has one
//! value).

use std::vec::Vec;

use crate::engine::invariant::{CustomInvariant, InvariantId, InvariantSet};
use crate::engine::mm::{MAX_PMDS, Machine};
use crate::engine::program::{Program, Step, Wait};
use crate::engine::{Scenario, ScenarioBuilder, ScenarioError, Tid};
use crate::entry::{Pmd, PmdOps};

/// M1's property.
pub static M1_NEVERNONE: CustomInvariant = CustomInvariant {
    id: "INV-M1-NEVERNONE",
    statement: "No lockless read sees an empty pmd while a split is between pmdp_invalidate and pmd_populate.",
};

/// The most threads M1 runs (split, zap, fault, zap).
pub const M1_MAX_THREADS: u8 = 4;

/// Steps per pmd of every M1 thread; a thread's program counter is `pmd * STEPS + step`.
const STEPS: u8 = 5;

// Split's steps.
const S_LOCK: u8 = 0;
const S_READ: u8 = 1;
const S_INVALIDATE: u8 = 2;
const S_POPULATE: u8 = 3;
const S_UNLOCK: u8 = 4;
// Zap's and fault's steps.
const PEEK: u8 = 0;
const LOCK: u8 = 1;
const READ: u8 = 2;
const WRITE: u8 = 3;
const UNLOCK: u8 = 4;

/// The split thread's id: its step counter says whether a pmd is mid-split.
const SPLIT: Tid = Tid(0);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Split,
    Zap,
    Fault,
}

/// One M1 thread.
struct M1Thread<A: PmdOps> {
    role: Role,
    /// Per pmd: the huge pmd, what `pmdp_invalidate` makes of it, the table pmd.
    huge: Vec<Pmd<A>>,
    invalid: Vec<Pmd<A>>,
    table: Vec<Pmd<A>>,
}

impl<A: PmdOps> M1Thread<A> {
    fn pmds(&self) -> u8 {
        self.huge.len() as u8
    }

    /// Moves to `step` of pmd `r`, or past the last pmd: done, at one program counter
    /// however the last pmd ended (the peers keep a finished thread as one state too).
    fn go(&self, m: &mut Machine<A>, t: Tid, r: u8, step: u8) {
        if r >= self.pmds() {
            m.goto(t, self.pmds() * STEPS);
            m.th_mut(t).done = true;
        } else {
            m.goto(t, r * STEPS + step);
        }
    }

    /// A lockless read of pmd `r`: flags M1_NEVERNONE when it sees none mid-split.
    fn peek(&self, m: &mut Machine<A>, r: u8) -> Pmd<A> {
        let v = m.pmd_get(r);
        if A::pmd_none(v) && m.th(SPLIT).pc == r * STEPS + S_POPULATE && !m.th(SPLIT).done {
            m.flag(
                InvariantId::Custom(&M1_NEVERNONE),
                "a lockless read saw pmd_none in the middle of a split",
            );
        }
        v
    }
}

impl<A: PmdOps> Program<A> for M1Thread<A> {
    fn name(&self) -> &'static str {
        match self.role {
            Role::Split => "M1 split (__split_huge_pmd, v4.5 order)",
            Role::Zap => "M1 zap (zap_pmd_range)",
            Role::Fault => "M1 fault (__handle_mm_fault)",
        }
    }

    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let pc = m.th(t).pc;
        let (r, step) = (pc / STEPS, pc % STEPS);
        let lock = |m: &mut Machine<A>, next: u8| {
            if m.pmd_lock(r, t) {
                self.go(m, t, r, next);
                Step::Ran("pmd_lock")
            } else {
                Step::Blocked(Wait::PmdLock(r))
            }
        };
        match (self.role, step) {
            (Role::Split, S_LOCK) => lock(m, S_READ),
            (Role::Split, S_READ) => {
                let huge = m.pmd_get(r) == self.huge[usize::from(r)];
                self.go(m, t, r, if huge { S_INVALIDATE } else { S_UNLOCK });
                Step::Ran("read pmd")
            }
            (Role::Split, S_INVALIDATE) => {
                m.pmd_set(r, self.invalid[usize::from(r)]);
                self.go(m, t, r, S_POPULATE);
                Step::Ran("pmdp_invalidate")
            }
            (Role::Split, S_POPULATE) => {
                m.pmd_set(r, self.table[usize::from(r)]);
                self.go(m, t, r, S_UNLOCK);
                Step::Ran("pmd_populate")
            }
            (Role::Zap, PEEK) => {
                let v = self.peek(m, r);
                if A::pmd_none(v) {
                    self.go(m, t, r + 1, PEEK);
                } else {
                    self.go(m, t, r, LOCK);
                }
                Step::Ran("lockless read")
            }
            (Role::Fault, PEEK) => {
                let v = self.peek(m, r);
                if A::pmd_none(v) {
                    self.go(m, t, r, LOCK);
                } else {
                    self.go(m, t, r + 1, PEEK);
                }
                Step::Ran("lockless read")
            }
            (_, LOCK) => lock(m, READ),
            (Role::Zap, READ) => {
                let huge = m.pmd_get(r) == self.huge[usize::from(r)];
                self.go(m, t, r, if huge { WRITE } else { UNLOCK });
                Step::Ran("read pmd")
            }
            (Role::Fault, READ) => {
                let none = A::pmd_none(m.pmd_get(r));
                self.go(m, t, r, if none { WRITE } else { UNLOCK });
                Step::Ran("read pmd")
            }
            (Role::Zap, WRITE) => {
                m.pmd_set(r, A::pmd_empty());
                self.go(m, t, r, UNLOCK);
                Step::Ran("pmd_clear")
            }
            (Role::Fault, WRITE) => {
                m.pmd_set(r, self.huge[usize::from(r)]);
                self.go(m, t, r, UNLOCK);
                Step::Ran("set_pmd_at")
            }
            _ => {
                m.pmd_unlock(r, t);
                let next = if self.role == Role::Split {
                    S_LOCK
                } else {
                    PEEK
                };
                self.go(m, t, r + 1, next);
                Step::Ran("pmd_unlock")
            }
        }
    }
}

/// A thread with nothing to do.
struct Idle;

impl<A: PmdOps> Program<A> for Idle {
    fn name(&self) -> &'static str {
        "idle"
    }
    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        m.th_mut(t).done = true;
        Step::Ran("done")
    }
}

/// Builds M1 with `threads` threads (the first of split, zap, fault, zap) on `pmds` huge pmds.
///
/// # Errors
/// Thread or pmd counts outside the model ([`ScenarioError::TooManyThreads`],
/// [`ScenarioError::NoThreads`], [`ScenarioError::TooManyRegions`]), or a backend without
/// THP.
pub fn m1<A: PmdOps>(threads: u8, pmds: u8) -> Result<Scenario<A>, ScenarioError> {
    if threads > M1_MAX_THREADS {
        return Err(ScenarioError::TooManyThreads {
            max: usize::from(M1_MAX_THREADS),
        });
    }
    if usize::from(pmds) > MAX_PMDS {
        return Err(ScenarioError::TooManyRegions {
            asked: usize::from(pmds),
            max: MAX_PMDS,
        });
    }
    let mut b = ScenarioBuilder::<A>::new("M1", usize::from(pmds));
    for r in 0..pmds {
        b = b.huge(r)?;
    }
    // Every pmd's three values, read from the initial state (a scenario needs a thread).
    let sc = b.thread("read values", Idle).build()?;
    let init = &sc.initial;
    let mut huge = Vec::new();
    let mut invalid = Vec::new();
    let mut table = Vec::new();
    for r in 0..pmds {
        let h = init.peek_pmd(r);
        let t = init.deposited(r).ok_or(ScenarioError::ArenaFull)?;
        huge.push(h);
        invalid.push(A::pmdp_invalidate(h).map_err(ScenarioError::Encoding)?);
        table.push(A::pmd_populate(Machine::<A>::table_pfn(t)).map_err(ScenarioError::Encoding)?);
    }
    let mut b = ScenarioBuilder::<A>::new("M1", usize::from(pmds));
    for r in 0..pmds {
        b = b.huge(r)?;
    }
    let roles = [Role::Split, Role::Zap, Role::Fault, Role::Zap];
    let names = ["split", "zap", "fault", "zap2"];
    for (&role, &name) in roles.iter().zip(&names).take(usize::from(threads)) {
        b = b.thread(
            name,
            M1Thread {
                role,
                huge: huge.clone(),
                invalid: invalid.clone(),
                table: table.clone(),
            },
        );
    }
    b.invariants(InvariantSet::default())
        .invariant(&M1_NEVERNONE)
        .build()
}
