//! Declared locks: the locks a scenario names beyond the machine's own (`mmap_lock`, the pmd
//! and pte locks, page locks), each a spinlock, a mutex, a reader/writer semaphore or an RCU
//! domain.
//!
//! A lock is declared by a typed handle ([`SpinlockId`], [`MutexId`], [`RwsemId`],
//! [`RcuId`]): a `const` the user's programs share with the scenario, carrying the lock's index
//! in this component and its name, so a step's lock events and a deadlock's wait-for cycle name
//! it and an operation of the wrong kind does not compile. The component holds only what
//! changes (owner, readers, queued writers, grace periods): a scenario that declares no lock
//! pays one branch per fingerprint and nothing else.

use crate::engine::Tid;
use crate::engine::locks::{LockName, RwSem};
use crate::engine::mm::MAX_THREADS;

/// Most declared locks in one scenario.
pub const MAX_LOCKS: usize = 4;

/// What kind of lock a declared lock is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockKind {
    /// `spinlock_t`: exclusive, never sleeps.
    Spinlock,
    /// `struct mutex`: exclusive, sleeps.
    Mutex,
    /// `struct rw_semaphore`: shared readers or one writer, writer preference,
    /// `downgrade_write`.
    Rwsem,
    /// An RCU domain: read-side sections and grace periods (`synchronize_rcu`).
    Rcu,
}

impl LockKind {
    /// Returns the kernel's name for the kind: `spinlock`, `mutex`, `rwsem` or `rcu`.
    #[inline]
    pub const fn name(self) -> &'static str {
        match self {
            LockKind::Spinlock => "spinlock",
            LockKind::Mutex => "mutex",
            LockKind::Rwsem => "rwsem",
            LockKind::Rcu => "rcu",
        }
    }
}

/// A declared lock: its index in the component, its kind and its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeclaredLock {
    index: u8,
    kind: LockKind,
    name: &'static str,
}

impl DeclaredLock {
    /// Returns the lock's index among the scenario's declared locks.
    #[inline]
    pub const fn index(self) -> u8 {
        self.index
    }
    /// Returns the lock's kind.
    #[inline]
    pub const fn kind(self) -> LockKind {
        self.kind
    }
    /// Returns the lock's name, as traces print it.
    #[inline]
    pub const fn name(self) -> &'static str {
        self.name
    }
    /// Returns the name traces and wait-for cycles cite.
    #[inline]
    pub const fn lock_name(self) -> LockName {
        LockName::Declared {
            index: self.index,
            kind: self.kind,
            name: self.name,
        }
    }
}

macro_rules! handle {
    ($(#[$doc:meta])* $id:ident, $kind:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $id(DeclaredLock);

        impl $id {
            /// The handle of declared lock `index` (below [`MAX_LOCKS`]), named `name` in
            /// traces. Declare it on the scenario before a program uses it.
            #[inline]
            pub const fn new(index: u8, name: &'static str) -> Self {
                Self(DeclaredLock { index, kind: $kind, name })
            }
            /// Returns the lock's index, kind and name.
            #[inline]
            pub const fn lock(self) -> DeclaredLock {
                self.0
            }
            /// Returns the name traces and wait-for cycles cite.
            #[inline]
            pub const fn lock_name(self) -> LockName {
                self.0.lock_name()
            }
        }
    };
}

handle!(
    /// A declared `spinlock_t`: [`Machine::spin_lock`](crate::engine::mm::Machine::spin_lock).
    SpinlockId,
    LockKind::Spinlock
);
handle!(
    /// A declared `struct mutex`: [`Machine::mutex_lock`](crate::engine::mm::Machine::mutex_lock).
    MutexId,
    LockKind::Mutex
);
handle!(
    /// A declared `struct rw_semaphore`: [`Machine::down_read`](crate::engine::mm::Machine::down_read),
    /// [`Machine::down_write`](crate::engine::mm::Machine::down_write) and
    /// [`Machine::downgrade_write`](crate::engine::mm::Machine::downgrade_write).
    RwsemId,
    LockKind::Rwsem
);
handle!(
    /// A declared RCU domain: [`Machine::rcu_read_lock`](crate::engine::mm::Machine::rcu_read_lock)
    /// and [`Machine::synchronize_rcu`](crate::engine::mm::Machine::synchronize_rcu).
    RcuId,
    LockKind::Rcu
);

/// One declared lock's changing state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LockState {
    /// Owner, readers and queued writers: a spinlock and a mutex use only the writer; an RCU
    /// domain keeps its read-side sections in `readers`.
    pub sem: RwSem,
    /// RCU: threads inside `synchronize_rcu`.
    pub gp_pending: u8,
    /// RCU: per thread in `synchronize_rcu`, the readers it still waits for (those inside a
    /// read-side section when its grace period began, until each leaves it).
    pub gp_wait: [u8; MAX_THREADS],
}

impl LockState {
    /// Packs the state into one word for the fingerprint.
    #[inline]
    pub(crate) fn pack(&self) -> u64 {
        // Destructured: a field added here fails to compile until the fingerprint has it.
        let LockState {
            sem,
            gp_pending,
            gp_wait,
        } = self;
        let mut w = sem.pack() | u64::from(*gp_pending) << 24;
        for (i, &g) in gp_wait.iter().enumerate() {
            w |= u64::from(g) << (32 + 8 * i);
        }
        w
    }

    /// `rcu_read_unlock` by `t`: it leaves the read side, and no grace period waits for it
    /// any longer. Returns whether `t` was inside a read-side section.
    #[inline]
    pub(crate) fn rcu_leave(&mut self, t: Tid) -> bool {
        let held = self.sem.readers & t.bit() != 0;
        self.sem.readers &= !t.bit();
        for w in &mut self.gp_wait {
            *w &= !t.bit();
        }
        held
    }

    /// `synchronize_rcu` by `t`: `Some(true)` when its grace period has ended (the readers it
    /// waits for have all left; at once when there were none), `Some(false)` when it only
    /// began (a state change: run the step again), `None` while readers remain (no change).
    pub(crate) fn rcu_synchronize(&mut self, t: Tid) -> Option<bool> {
        let i = usize::from(t.0);
        if self.gp_pending & t.bit() == 0 {
            if self.sem.readers == 0 {
                return Some(true);
            }
            self.gp_pending |= t.bit();
            self.gp_wait[i] = self.sem.readers;
            return Some(false);
        }
        if self.gp_wait[i] != 0 {
            return None;
        }
        self.gp_pending &= !t.bit();
        Some(true)
    }
}

/// The declared-locks component: which indices are declared (constant for a scenario's life,
/// so never fingerprinted) and their states.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Locks {
    declared: [Option<LockKind>; MAX_LOCKS],
    /// One past the highest declared index: the prefix the fingerprint covers.
    used: u8,
    states: [LockState; MAX_LOCKS],
}

/// Why a lock cannot be declared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockDeclError {
    /// The index is [`MAX_LOCKS`] or more.
    Index,
    /// Another lock has the index.
    Taken,
}

impl Locks {
    /// Declares `lock`.
    #[inline]
    pub(crate) fn declare(&mut self, lock: DeclaredLock) -> Result<(), LockDeclError> {
        let i = usize::from(lock.index);
        let slot = self.declared.get_mut(i).ok_or(LockDeclError::Index)?;
        if slot.is_some() {
            return Err(LockDeclError::Taken);
        }
        *slot = Some(lock.kind);
        self.used = self.used.max(lock.index + 1);
        Ok(())
    }
    /// Returns whether `lock` is declared, with its kind.
    #[inline]
    pub(crate) fn is_declared(&self, lock: DeclaredLock) -> bool {
        self.declared.get(usize::from(lock.index)) == Some(&Some(lock.kind))
    }
    /// Returns lock `i`'s state (`i` < [`MAX_LOCKS`]).
    #[inline]
    pub(crate) fn state(&self, i: u8) -> &LockState {
        &self.states[usize::from(i)]
    }
    /// Returns lock `i`'s state, mutably.
    #[inline]
    pub(crate) fn state_mut(&mut self, i: u8) -> &mut LockState {
        &mut self.states[usize::from(i)]
    }
    /// Returns the declared prefix's states, for the fingerprint: empty when none is declared.
    #[inline]
    pub(crate) fn in_use(&self) -> &[LockState] {
        &self.states[..usize::from(self.used)]
    }
    /// Returns the first lock whose state differs from `before`'s (the footprint auditor).
    #[inline]
    pub(crate) fn first_changed(&self, before: &Self) -> Option<u8> {
        (0..MAX_LOCKS as u8)
            .find(|&i| self.state(i) != before.state(i))
            .or_else(|| (self.declared != before.declared).then_some(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Tid = Tid(0);
    const T1: Tid = Tid(1);
    const T2: Tid = Tid(2);

    // A grace period waits for the readers inside when it began, and only for them: one that
    // enters later does not hold it back, and one that leaves releases it at once.
    #[test]
    #[inline]
    fn a_grace_period_waits_for_the_readers_it_began_with() {
        let mut s = LockState::default();
        assert_eq!(s.rcu_synchronize(T2), Some(true), "no reader: at once");
        s.sem.readers = T0.bit();
        assert_eq!(s.rcu_synchronize(T2), Some(false), "begins");
        s.sem.readers |= T1.bit();
        assert_eq!(s.rcu_synchronize(T2), None, "T0 still inside");
        assert!(s.rcu_leave(T0));
        assert_eq!(s.rcu_synchronize(T2), Some(true), "T1 came later");
        assert_eq!(s.gp_pending, 0);
        assert!(!s.rcu_leave(T0), "T0 is outside");
    }

    #[test]
    fn declaring_checks_the_index() {
        let mut locks = Locks::default();
        let a = RwsemId::new(1, "a").lock();
        assert_eq!(locks.declare(a), Ok(()));
        assert_eq!(
            locks.declare(MutexId::new(1, "b").lock()),
            Err(LockDeclError::Taken)
        );
        assert_eq!(
            locks.declare(RcuId::new(MAX_LOCKS as u8, "c").lock()),
            Err(LockDeclError::Index)
        );
        assert!(locks.is_declared(a));
        assert!(
            !locks.is_declared(MutexId::new(1, "a").lock()),
            "kind differs"
        );
        assert_eq!(locks.in_use().len(), 2);
    }
}
