//! Counterexamples as people read them: replayed from the scenario alone, each step with its
//! thread, the kernel function it models, and every entry it touched, raw and decoded.

use core::fmt;
use std::string::String;
use std::vec::Vec;

use crate::decode::{Decoded, decode_pmd, decode_pte};
use crate::entry::{Pmd, PmdOps, Pte};

use super::invariant::{self, InvariantId};
use super::locks::LockEvent;
use super::mm::{Touch, TouchLoc};
use super::program::Step;
use super::state::page_cache::XaEntry;
use super::state::vma::{Vma, VmaId};
use super::{Scenario, Tid};

/// One touched entry, decoded before and after.
#[derive(Clone, Copy, Debug)]
pub struct TouchedEntry {
    /// Where it lives.
    pub loc: TouchLoc,
    /// Before the step.
    pub before: Decoded,
    /// After the step (equal to `before` for a read).
    pub after: Decoded,
}

impl TouchedEntry {
    /// Returns whether the step wrote the entry.
    pub fn written(&self) -> bool {
        self.before.raw != self.after.raw
    }
    /// Returns `pmd[r]` or `pte[t][s]`.
    pub fn place(&self) -> String {
        match self.loc {
            TouchLoc::Pmd(r) => std::format!("pmd[{r}]"),
            TouchLoc::Pte(t, s) => std::format!("table{t}.pte[{s}]"),
            TouchLoc::Vma(id) => std::format!("vma{id}"),
            TouchLoc::PageCache(i) => std::format!("xa[{i}]"),
        }
    }
}

/// One VMA a step changed (inserted, detached, grown, flagged).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmaChange {
    /// The VMA's id.
    pub id: VmaId,
    /// Before the step (an empty, detached VMA for one the step inserted).
    pub before: Vma,
    /// After the step.
    pub after: Vma,
}

impl VmaChange {
    /// Returns `vma<id>`.
    pub fn place(&self) -> String {
        std::format!("vma{}", self.id.0)
    }
}

/// One page-cache slot a step stored to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheChange {
    /// The file index.
    pub index: u8,
    /// The entry before the step, packed (see [`CacheChange::before_text`]).
    pub before: u64,
    /// The entry after the step, packed.
    pub after: u64,
}

impl CacheChange {
    /// Returns `xa[index]`.
    pub fn place(&self) -> String {
        std::format!("xa[{}]", self.index)
    }
    /// The entry before: `NULL`, `page 3`, `huge page 3` or `XA_RETRY_ENTRY`.
    pub fn before_text(&self) -> String {
        XaEntry::describe(self.before)
    }
    /// The entry after, in the same form.
    pub fn after_text(&self) -> String {
        XaEntry::describe(self.after)
    }
}

/// One step of a trace.
#[derive(Clone, Debug)]
pub struct TraceStep {
    /// The thread index.
    pub thread: u8,
    /// The thread's name.
    pub thread_name: &'static str,
    /// The kernel function and what it did.
    pub label: &'static str,
    /// The entries the step touched.
    pub touched: Vec<TouchedEntry>,
    /// The VMAs the step changed.
    pub vmas: Vec<VmaChange>,
    /// The page-cache slots the step stored to.
    pub cache: Vec<CacheChange>,
    /// The locks the step took, released or downgraded, in order, as the machine's lock
    /// accessors recorded them.
    pub locks: Vec<LockEvent>,
    /// The invariant this step broke, if it is the violating step.
    pub violated: Option<(InvariantId, &'static str)>,
}

/// A replayed counterexample.
#[derive(Clone, Debug)]
pub struct Trace {
    /// The scenario's name.
    pub scenario: String,
    /// The backend.
    pub arch: crate::ArchId,
    /// The thread names, in index order (the lanes of a sequence diagram).
    pub threads: Vec<&'static str>,
    /// The steps.
    pub steps: Vec<TraceStep>,
}

/// Why a schedule could not be replayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayError {
    /// Step `index` names a thread that is done, missing or blocked there.
    Diverged {
        /// The step.
        index: usize,
        /// The thread asked for.
        thread: u8,
    },
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayError::Diverged { index, thread } => write!(
                f,
                "the trace does not reproduce: at step {} thread {thread} cannot run (finished, blocked or absent)",
                index + 1
            ),
        }
    }
}

impl std::error::Error for ReplayError {}

fn decode_touch<A: PmdOps>(t: &Touch) -> TouchedEntry {
    let (before, after) = match t.loc {
        TouchLoc::Pmd(_) => (
            decode_pmd::<A>(Pmd::try_from_u64(t.before).unwrap_or(A::pmd_empty())),
            decode_pmd::<A>(Pmd::try_from_u64(t.after).unwrap_or(A::pmd_empty())),
        ),
        TouchLoc::Pte(..) | TouchLoc::Vma(_) | TouchLoc::PageCache(_) => (
            decode_pte::<A>(Pte::try_from_u64(t.before).unwrap_or(A::pte_empty(0)), None),
            decode_pte::<A>(Pte::try_from_u64(t.after).unwrap_or(A::pte_empty(0)), None),
        ),
    };
    TouchedEntry {
        loc: t.loc,
        before,
        after,
    }
}

/// Replays `schedule` from the scenario's initial state, recording every step.
pub fn replay<A: PmdOps>(sc: &Scenario<A>, schedule: &[u8]) -> Result<Trace, ReplayError> {
    let mut m = sc.initial.clone();
    let mut steps = Vec::with_capacity(schedule.len());
    for (index, &thread) in schedule.iter().enumerate() {
        let diverged = ReplayError::Diverged { index, thread };
        let th = sc.threads.get(usize::from(thread)).ok_or(diverged)?;
        if m.done(thread) {
            return Err(diverged);
        }
        let before = m.clone();
        m.begin_step(true);
        let label = match th.program.step(&mut m, Tid(thread)) {
            Step::Ran(label) => label,
            Step::Blocked(_) => return Err(diverged),
        };
        let mut fx = m.end_step();
        m.audit_step(&before, &mut fx);
        // Keep reads only where they are not followed by a write of the same place.
        let mut touched: Vec<TouchedEntry> = Vec::new();
        let mut vmas: Vec<VmaChange> = Vec::new();
        let mut cache: Vec<CacheChange> = Vec::new();
        for t in &fx.touched {
            if let TouchLoc::PageCache(index) = t.loc {
                match cache.iter_mut().find(|c| c.index == index) {
                    Some(c) => c.after = t.after,
                    None => cache.push(CacheChange {
                        index,
                        before: t.before,
                        after: t.after,
                    }),
                }
                continue;
            }
            if let TouchLoc::Vma(id) = t.loc {
                let after = Vma::unpack(t.after);
                match vmas.iter_mut().find(|v| v.id.0 == id) {
                    Some(v) => v.after = after,
                    None => vmas.push(VmaChange {
                        id: VmaId(id),
                        before: Vma::unpack(t.before),
                        after,
                    }),
                }
                continue;
            }
            let e = decode_touch::<A>(t);
            if let Some(prev) = touched.iter_mut().find(|p| p.loc == e.loc) {
                prev.after = e.after;
            } else {
                touched.push(e);
            }
        }
        let violated = invariant::check_step_with(&m, &fx.raised, sc.invariants, &sc.declared);
        m.end_step();
        steps.push(TraceStep {
            thread,
            thread_name: th.name,
            label,
            touched,
            vmas,
            cache,
            locks: fx.locks,
            violated,
        });
        if violated.is_some() {
            break;
        }
    }
    Ok(Trace {
        scenario: sc.name.clone(),
        arch: A::ID,
        threads: sc.threads.iter().map(|t| t.name).collect(),
        steps,
    })
}

impl Trace {
    /// Returns the violated invariant, if the trace ends in one.
    pub fn violation(&self) -> Option<(InvariantId, &'static str)> {
        self.steps.last().and_then(|s| s.violated)
    }
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} on {}: {} steps",
            self.scenario,
            self.arch,
            self.steps.len()
        )?;
        for (i, s) in self.steps.iter().enumerate() {
            writeln!(f, "{:>3}. {:<6} {}", i + 1, s.thread_name, s.label)?;
            for e in &s.touched {
                if e.written() {
                    writeln!(
                        f,
                        "{:>13}{:<14} {}  ->  {}",
                        "",
                        e.place(),
                        e.before,
                        e.after
                    )?;
                } else {
                    writeln!(f, "{:>13}{:<14} {}  (read)", "", e.place(), e.before)?;
                }
            }
            for v in &s.vmas {
                writeln!(
                    f,
                    "{:>13}{:<14} {}  ->  {}",
                    "",
                    v.place(),
                    v.before,
                    v.after
                )?;
            }
            for c in &s.cache {
                writeln!(
                    f,
                    "{:>13}{:<14} {}  ->  {}",
                    "",
                    c.place(),
                    c.before_text(),
                    c.after_text()
                )?;
            }
            if !s.locks.is_empty() {
                write!(f, "{:>13}locks", "")?;
                for (i, l) in s.locks.iter().enumerate() {
                    write!(f, "{} {l}", if i == 0 { ":" } else { "," })?;
                }
                writeln!(f)?;
            }
            if let Some((id, what)) = s.violated {
                writeln!(f, "{:>13}VIOLATED {id}: {what}", "")?;
            }
        }
        Ok(())
    }
}
