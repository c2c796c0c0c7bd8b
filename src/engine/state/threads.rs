//! Thread states: each thread's program counter, whether it finished, and its registers (where
//! a [`crate::engine::program::TypedProgram`] keeps its typed locals).
//!
//! The machine's accessors ([`crate::engine::mm::Machine::th`], `th_mut`, `goto`) record the
//! thread's footprint location (`Loc::Thread`); the fingerprint feeds each thread's counter
//! and flag, and its registers only where it has any (most programs keep none), one
//! share of the fingerprint per thread.

use core::hash::Hasher;

use crate::engine::Tid;

/// Most threads in one scenario.
pub const MAX_THREADS: usize = 4;

/// A thread's program state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ThreadState {
    /// Program counter: which step runs next.
    pub pc: u8,
    /// Finished.
    pub done: bool,
    /// Registers: values read earlier (orig_pte, the table found, an allocated page ...).
    pub regs: [u64; 4],
}

/// The threads component.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Threads {
    states: [ThreadState; MAX_THREADS],
}

impl Threads {
    /// Thread `t`'s state.
    #[inline]
    pub(crate) fn get(&self, t: Tid) -> &ThreadState {
        &self.states[usize::from(t.0)]
    }
    /// Thread `t`'s state, mutably.
    #[inline]
    pub(crate) fn get_mut(&mut self, t: Tid) -> &mut ThreadState {
        &mut self.states[usize::from(t.0)]
    }
    /// Every thread's state, in thread order.
    #[inline]
    pub(crate) fn all(&self) -> &[ThreadState; MAX_THREADS] {
        &self.states
    }
    /// Returns whether thread `t`'s state differs from `before`'s (the footprint auditor).
    #[inline]
    pub(crate) fn changed(&self, before: &Self, t: u8) -> bool {
        self.states[usize::from(t)] != before.states[usize::from(t)]
    }
    /// Feeds thread `t`'s counter and flag with its index, and its registers where it has
    /// any (the machine hashes each thread as a share of its own).
    #[inline]
    pub(crate) fn fingerprint_thread(&self, t: u8, h: &mut impl Hasher) {
        let ThreadState { pc, done, regs } = self.states[usize::from(t)];
        h.write_u64(u64::from(pc) | u64::from(done) << 8 | u64::from(t) << 16);
        if regs != [0; 4] {
            for r in regs {
                h.write_u64(r);
            }
        }
    }
}
