//! Step programs: a thread is a state machine whose every step is one load or store of an
//! entry, one lock operation, one TLB flush, one allocation or one user-visible event.
//!
//! A program's [`Program::step`] runs the step at the thread's program counter against the
//! machine. A step that would block returns [`Step::Blocked`] and leaves the machine exactly as
//! it was; every other step returns a label naming the kernel function it models. Users of
//! the crate write their own programs by implementing this trait.

use std::boxed::Box;

use crate::entry::PmdOps;

use super::Tid;
use super::mm::Machine;

/// What a thread waits for when blocked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Wait {
    /// A pmd's split lock.
    PmdLock(u8),
    /// A table's pte lock.
    Ptl(u8),
    /// `mmap_lock` for read.
    MmapRead,
    /// `mmap_lock` for write.
    MmapWrite,
    /// A page lock.
    PageLock(u8),
}

impl Wait {
    /// Returns the threads that hold what `t` waits for, as a bitmask.
    pub fn holders<A: PmdOps>(self, m: &Machine<A>, t: Tid) -> u8 {
        let bit = |o: super::locks::Owner| o.holder().map_or(0, |h| h.bit());
        match self {
            Wait::PmdLock(r) => bit(m.pmd_lock[usize::from(r)]),
            Wait::Ptl(tab) => bit(m.tables[usize::from(tab)].ptl),
            Wait::MmapRead => m.mmap.read_blockers(t),
            Wait::MmapWrite => m.mmap.write_blockers(t),
            Wait::PageLock(p) => bit(m.pages[usize::from(p)].lock),
        }
    }
}

/// The result of trying one step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The step ran; the label names the kernel function and what it did.
    Ran(&'static str),
    /// The thread cannot run now; the machine is unchanged.
    Blocked(Wait),
}

/// A thread's code: the kernel path it models, as a state machine over [`Machine`].
pub trait Program<A: PmdOps>: Send + Sync {
    /// Returns the kernel path's name, e.g. `__split_huge_pmd (v4.5)`.
    fn name(&self) -> &'static str;
    /// Runs the step at the thread's program counter. Set `done` on the thread's state
    /// after the last step.
    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step;
}

/// One thread of a scenario: a name and its program. Thread `i` runs on CPU `i` (its TLB).
pub struct Thread<A: PmdOps> {
    /// Short name shown in traces (`split`, `zap`, `fault`, `mmu`).
    pub name: &'static str,
    /// The program.
    pub program: Box<dyn Program<A>>,
}

impl<A: PmdOps> Thread<A> {
    /// A thread running `program`.
    pub fn new(name: &'static str, program: impl Program<A> + 'static) -> Self {
        Self {
            name,
            program: Box::new(program),
        }
    }
}
