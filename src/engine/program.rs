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
use super::locks::LockName;
use super::mm::Machine;
use super::state::locks::{MutexId, RcuId, RwsemId, SpinlockId};

/// What a thread waits for when blocked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Wait {
    /// A pmd's split lock.
    PmdLock(u8),
    /// A table's pte lock.
    Ptl(u8),
    /// The thread's own mm's `mmap_lock`, for read.
    MmapRead,
    /// The thread's own mm's `mmap_lock`, for write.
    MmapWrite,
    /// A page lock.
    PageLock(u8),
    /// A declared spinlock.
    Spinlock(SpinlockId),
    /// A declared mutex.
    Mutex(MutexId),
    /// A declared rwsem, for read.
    RwsemRead(RwsemId),
    /// A declared rwsem, for write.
    RwsemWrite(RwsemId),
    /// The end of a grace period of a declared RCU domain (`synchronize_rcu`).
    GracePeriod(RcuId),
}

impl Wait {
    /// Returns the threads that hold what `t` waits for, as a bitmask.
    pub fn holders<A: PmdOps>(self, m: &Machine<A>, t: Tid) -> u8 {
        m.wait_holders(self, t)
    }
    /// Returns the lock thread `t` waits for, by name: what a deadlock's wait-for cycle
    /// cites (`mmap_lock` is `t`'s own mm's).
    pub fn lock<A: PmdOps>(self, m: &Machine<A>, t: Tid) -> LockName {
        match self {
            Wait::PmdLock(r) => LockName::PmdLock(r),
            Wait::Ptl(t) => LockName::Ptl(t),
            Wait::MmapRead | Wait::MmapWrite => LockName::MmapLock(m.mm_of_thread(t)),
            Wait::PageLock(p) => LockName::PageLock(p),
            Wait::Spinlock(l) => l.lock_name(),
            Wait::Mutex(l) => l.lock_name(),
            Wait::RwsemRead(l) | Wait::RwsemWrite(l) => l.lock_name(),
            Wait::GracePeriod(l) => l.lock_name(),
        }
    }
}

/// The bounds a scenario's programs must stay within: what [`Program::check`] is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Regions (pmds) in the scenario: valid region indices are `0..regions`.
    pub regions: u8,
    /// Modelled pte slots per table: valid slots are `0..slots`.
    pub slots: u8,
    /// Threads in the scenario.
    pub threads: u8,
}

/// Why a program does not fit its scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgramError {
    /// A region index outside the scenario.
    Region {
        /// The region asked for.
        region: u64,
        /// Regions in the scenario.
        regions: u8,
    },
    /// A pte slot outside the modelled ones.
    Slot {
        /// The slot asked for.
        slot: u64,
        /// Modelled slots.
        slots: u8,
    },
    /// A range of regions that is empty.
    EmptyRange,
    /// A user ghost cell past the machine's.
    GhostCell {
        /// The cell asked for.
        cell: usize,
        /// Ghost cells in the machine.
        cells: usize,
    },
}

impl core::fmt::Display for ProgramError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ProgramError::Region { region, regions } => write!(
                f,
                "region {region} is outside the scenario's {regions} regions (0..{regions})"
            ),
            ProgramError::Slot { slot, slots } => write!(
                f,
                "pte slot {slot} is outside the {slots} modelled slots (0..{slots})"
            ),
            ProgramError::EmptyRange => f.write_str("the range covers no region"),
            ProgramError::GhostCell { cell, cells } => write!(
                f,
                "ghost cell {cell} is outside the machine's {cells} cells (0..{cells})"
            ),
        }
    }
}

impl std::error::Error for ProgramError {}

impl Limits {
    /// Checks that `region` is one of the scenario's regions and `slot` a modelled slot.
    ///
    /// # Errors
    /// [`ProgramError::Region`] or [`ProgramError::Slot`].
    pub fn region_slot(&self, region: u8, slot: u8) -> Result<(), ProgramError> {
        self.region(region)?;
        self.slot(slot)
    }
    /// Checks that `region` is one of the scenario's regions.
    ///
    /// # Errors
    /// [`ProgramError::Region`] when it is not.
    pub fn region(&self, region: u8) -> Result<(), ProgramError> {
        self.regions_range(u64::from(region), 1)
    }
    /// Checks that regions `first..first + count` are the scenario's and not empty.
    ///
    /// # Errors
    /// [`ProgramError::EmptyRange`] or [`ProgramError::Region`] naming the last region.
    pub fn regions_range(&self, first: u64, count: u64) -> Result<(), ProgramError> {
        if count == 0 {
            return Err(ProgramError::EmptyRange);
        }
        let last = first.saturating_add(count - 1);
        if last >= u64::from(self.regions) {
            return Err(ProgramError::Region {
                region: last,
                regions: self.regions,
            });
        }
        Ok(())
    }
    /// Checks that `cell` is one of the machine's user ghost cells.
    ///
    /// # Errors
    /// [`ProgramError::GhostCell`] when it is not.
    pub fn ghost_cell(&self, cell: usize) -> Result<(), ProgramError> {
        let cells = super::mm::GHOST_CELLS;
        if cell >= cells {
            return Err(ProgramError::GhostCell { cell, cells });
        }
        Ok(())
    }
    /// Checks that `slot` is a modelled pte slot.
    ///
    /// # Errors
    /// [`ProgramError::Slot`] when it is not.
    pub fn slot(&self, slot: u8) -> Result<(), ProgramError> {
        if slot >= self.slots {
            return Err(ProgramError::Slot {
                slot: u64::from(slot),
                slots: self.slots,
            });
        }
        Ok(())
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
    /// Checks that the program's parameters (regions, slots) fit the scenario; called by
    /// [`ScenarioBuilder::build`](super::ScenarioBuilder::build), so a step never indexes
    /// outside the machine. The default accepts everything: override it when the program
    /// takes a region or a slot.
    ///
    /// # Errors
    /// The first parameter outside `limits`.
    fn check(&self, limits: &Limits) -> Result<(), ProgramError> {
        let _ = limits;
        Ok(())
    }
}

/// One thread of a scenario: a name and its program. Thread `i` runs on CPU `i` (its TLB).
pub struct Thread<A: PmdOps> {
    /// Short name shown in traces (`split`, `zap`, `fault`, `mmu`).
    pub name: &'static str,
    /// The program.
    pub program: Box<dyn Program<A>>,
}

impl<A: PmdOps> core::fmt::Debug for Thread<A> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Thread")
            .field("name", &self.name)
            .field("program", &self.program.name())
            .finish()
    }
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

/// One value a program keeps between its steps, stored as a `u64` in one of the thread's
/// four registers (and so part of the state's fingerprint).
///
/// `from_word(to_word(x)) == x` must hold, and `from_word(0)` is the value at the thread's
/// start: a lossy encoding would merge states that differ and could make a search answer
/// "holds" wrongly, so [`Typed`] checks the round trip after every step (INV-MODEL).
pub trait Word: Copy + Eq + core::hash::Hash + core::fmt::Debug {
    /// The register's contents for `self`.
    fn to_word(self) -> u64;
    /// The value `to_word` stored (0: the thread's start).
    fn from_word(word: u64) -> Self;
}

macro_rules! word_uint {
    ($($t:ty),*) => {$(
        impl Word for $t {
            fn to_word(self) -> u64 {
                u64::from(self)
            }
            fn from_word(word: u64) -> Self {
                // Only ever what to_word stored: the round trip is checked.
                word as $t
            }
        }
    )*};
}
word_uint!(u8, u16, u32, u64);

impl Word for bool {
    fn to_word(self) -> u64 {
        u64::from(self)
    }
    fn from_word(word: u64) -> Self {
        word != 0
    }
}

/// `None` is 0, `Some(x)` is `x + 1`: a table, page or region index that may be unset.
impl Word for Option<u8> {
    fn to_word(self) -> u64 {
        self.map_or(0, |x| u64::from(x) + 1)
    }
    fn from_word(word: u64) -> Self {
        word.checked_sub(1).map(|x| x as u8)
    }
}

/// A program's typed locals: up to four [`Word`]s, one a register. A tuple of words is
/// one; a struct of its own implements the two conversions (through a tuple).
pub trait Locals: Copy + Eq + core::hash::Hash + core::fmt::Debug {
    /// The four registers holding `self`.
    fn to_regs(self) -> [u64; 4];
    /// The locals the registers hold (all zero: the thread's start).
    fn from_regs(regs: [u64; 4]) -> Self;
}

impl Locals for () {
    fn to_regs(self) -> [u64; 4] {
        [0; 4]
    }
    fn from_regs(_: [u64; 4]) -> Self {}
}

impl Locals for [u64; 4] {
    fn to_regs(self) -> [u64; 4] {
        self
    }
    fn from_regs(regs: [u64; 4]) -> Self {
        regs
    }
}

impl<W0: Word> Locals for (W0,) {
    fn to_regs(self) -> [u64; 4] {
        [self.0.to_word(), 0, 0, 0]
    }
    fn from_regs(r: [u64; 4]) -> Self {
        (W0::from_word(r[0]),)
    }
}

impl<W0: Word, W1: Word> Locals for (W0, W1) {
    fn to_regs(self) -> [u64; 4] {
        [self.0.to_word(), self.1.to_word(), 0, 0]
    }
    fn from_regs(r: [u64; 4]) -> Self {
        (W0::from_word(r[0]), W1::from_word(r[1]))
    }
}

impl<W0: Word, W1: Word, W2: Word> Locals for (W0, W1, W2) {
    fn to_regs(self) -> [u64; 4] {
        [self.0.to_word(), self.1.to_word(), self.2.to_word(), 0]
    }
    fn from_regs(r: [u64; 4]) -> Self {
        (
            W0::from_word(r[0]),
            W1::from_word(r[1]),
            W2::from_word(r[2]),
        )
    }
}

impl<W0: Word, W1: Word, W2: Word, W3: Word> Locals for (W0, W1, W2, W3) {
    fn to_regs(self) -> [u64; 4] {
        [
            self.0.to_word(),
            self.1.to_word(),
            self.2.to_word(),
            self.3.to_word(),
        ]
    }
    fn from_regs(r: [u64; 4]) -> Self {
        (
            W0::from_word(r[0]),
            W1::from_word(r[1]),
            W2::from_word(r[2]),
            W3::from_word(r[3]),
        )
    }
}

/// A [`Program`] whose state between steps is typed [`Locals`] instead of raw registers:
/// run it as a thread through [`Typed`].
pub trait TypedProgram<A: PmdOps>: Send + Sync {
    /// What the program keeps between its steps.
    type Locals: Locals;
    /// Returns the kernel path's name, e.g. `__split_huge_pmd (v4.5)`.
    fn name(&self) -> &'static str;
    /// Runs the step at the thread's program counter, with its locals (written back after
    /// a step that ran; a blocked step's changes to them are dropped). Set `done` on the
    /// thread's state after the last step.
    fn step(&self, m: &mut Machine<A>, t: Tid, locals: &mut Self::Locals) -> Step;
    /// As [`Program::check`].
    ///
    /// # Errors
    /// The first parameter outside `limits`.
    fn check(&self, limits: &Limits) -> Result<(), ProgramError> {
        let _ = limits;
        Ok(())
    }
}

/// Runs a [`TypedProgram`] as a [`Program`]: its locals live in the thread's registers,
/// fingerprinted with the thread. A step that changes the locals has them written back
/// (all four registers); a step that leaves them alone leaves the registers as it found
/// or left them, so a typed program may hand steps to a register-keeping path (the v6.12
/// fault through [`AnonFault::enter`](super::ops::v6_12::fault::AnonFault::enter)) and set
/// its locals afresh when the path returns. A step that changes both is INV-MODEL.
#[derive(Clone, Copy, Debug)]
pub struct Typed<P>(pub P);

/// `impl Program<A> for $ty` through [`Typed`], for a `Copy` [`TypedProgram`] that also runs
/// where a plain [`Program`] is asked for (the catalogue's threads, a user's scenario).
macro_rules! program_through_typed {
    ($ty:ty) => {
        impl<A: $crate::entry::PmdOps> $crate::engine::program::Program<A> for $ty {
            fn name(&self) -> &'static str {
                $crate::engine::program::TypedProgram::<A>::name(self)
            }
            fn check(
                &self,
                limits: &$crate::engine::program::Limits,
            ) -> Result<(), $crate::engine::program::ProgramError> {
                $crate::engine::program::TypedProgram::<A>::check(self, limits)
            }
            fn step(
                &self,
                m: &mut $crate::engine::mm::Machine<A>,
                t: $crate::engine::Tid,
            ) -> $crate::engine::program::Step {
                $crate::engine::program::Program::step(&$crate::engine::program::Typed(*self), m, t)
            }
        }
    };
}
pub(crate) use program_through_typed;

impl<A: PmdOps, P: TypedProgram<A>> Program<A> for Typed<P> {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let before = m.th(t).regs;
        let start = P::Locals::from_regs(before);
        let mut locals = start;
        let step = self.0.step(m, t, &mut locals);
        // Locals left alone leave the registers as the step left them: a step handed to a
        // register-keeping path (the v6.12 fault, `InRegs`) keeps what that path wrote.
        if locals == start {
            return step;
        }
        if m.th(t).regs != before {
            m.flag(
                super::invariant::InvariantId::MODEL,
                "a typed program wrote its locals and its registers in one step",
            );
        }
        if let Step::Ran(_) = step {
            let regs = locals.to_regs();
            if P::Locals::from_regs(regs) != locals {
                m.flag(
                    super::invariant::InvariantId::MODEL,
                    "a program's locals do not survive their registers (a lossy Word or Locals)",
                );
            }
            m.th_mut(t).regs = regs;
        }
        step
    }
    fn check(&self, limits: &Limits) -> Result<(), ProgramError> {
        self.0.check(limits)
    }
}
