//! Locks as plain state: spinlocks and sleeping locks with an owner, and `mmap_lock` as a
//! reader/writer semaphore with `downgrade_write` and writer preference.
//!
//! Blocking is a state, never a spin: an acquire that cannot proceed leaves the machine
//! unchanged and reports what it waits for, so the explorer can build the wait-for graph.

use super::Tid;

/// A lock's owner: free, or held by one thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Owner(u8);

impl Owner {
    /// The free lock.
    pub const FREE: Owner = Owner(0);

    /// Returns the raw encoding: 0 when free, else the holder's index plus one.
    pub const fn raw(self) -> u8 {
        self.0
    }
    /// Returns the holder, if any.
    pub const fn holder(self) -> Option<Tid> {
        if self.0 == 0 {
            None
        } else {
            Some(Tid(self.0 - 1))
        }
    }
    /// Returns whether `t` holds it.
    pub const fn held_by(self, t: Tid) -> bool {
        self.0 == t.0 + 1
    }
    /// Takes the lock for `t` if free; returns whether it did.
    pub fn try_lock(&mut self, t: Tid) -> bool {
        if self.0 == 0 {
            self.0 = t.0 + 1;
            true
        } else {
            false
        }
    }
    /// Releases the lock; returns `false` (and leaves it) if `t` does not hold it.
    pub fn unlock(&mut self, t: Tid) -> bool {
        if self.held_by(t) {
            self.0 = 0;
            true
        } else {
            false
        }
    }
}

/// `mmap_lock`: readers count, one writer, queued writers block new readers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RwSem {
    /// Bitmask of threads holding it for read.
    pub readers: u8,
    /// The writer, if any.
    pub writer: Owner,
    /// Bitmask of threads queued for write.
    pub queued_writers: u8,
}

impl RwSem {
    /// Packs the lock into the low 24 bits of a fingerprint word.
    pub(crate) fn pack(&self) -> u64 {
        // Destructured: a field added here fails to compile until the fingerprint has it.
        let RwSem {
            readers,
            writer,
            queued_writers,
        } = *self;
        u64::from(readers) | u64::from(writer.raw()) << 8 | u64::from(queued_writers) << 16
    }
    /// `down_read`: fails while a writer holds or waits (writer preference).
    pub fn try_read(&mut self, t: Tid) -> bool {
        if self.writer != Owner::FREE || self.queued_writers & !t.bit() != 0 {
            return false;
        }
        self.readers |= t.bit();
        true
    }
    /// Releases `t`'s read hold; returns whether `t` held it for read (`up_read`).
    pub fn up_read(&mut self, t: Tid) -> bool {
        let held = self.readers & t.bit() != 0;
        self.readers &= !t.bit();
        held
    }
    /// `down_write`: queues `t` (a visible state change), then succeeds once no one holds it.
    /// Returns `Some(true)` on acquisition, `Some(false)` when it only queued, `None` when
    /// already queued and still blocked.
    pub fn try_write(&mut self, t: Tid) -> Option<bool> {
        if self.readers == 0 && self.writer == Owner::FREE {
            self.queued_writers &= !t.bit();
            self.writer.try_lock(t);
            Some(true)
        } else if self.queued_writers & t.bit() == 0 {
            self.queued_writers |= t.bit();
            Some(false)
        } else {
            None
        }
    }
    /// Releases `t`'s write hold; returns whether `t` was the writer (`up_write`).
    pub fn up_write(&mut self, t: Tid) -> bool {
        self.writer.unlock(t)
    }
    /// `downgrade_write`: atomically from writer to reader; no writer can get in between.
    pub fn downgrade(&mut self, t: Tid) -> bool {
        if !self.writer.unlock(t) {
            return false;
        }
        self.readers |= t.bit();
        true
    }
    /// Returns the threads `t` waits for if it asked for read now.
    pub fn read_blockers(&self, t: Tid) -> u8 {
        let w = self.writer.holder().map_or(0, |w| w.bit());
        w | (self.queued_writers & !t.bit())
    }
    /// Returns the threads `t` waits for if it asked for write now.
    pub fn write_blockers(&self, t: Tid) -> u8 {
        let w = self.writer.holder().map_or(0, |w| w.bit());
        (w | self.readers) & !t.bit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Tid = Tid(0);
    const T1: Tid = Tid(1);
    const T2: Tid = Tid(2);

    // A queued writer blocks new readers (writer preference) and gets the lock once the
    // readers leave.
    #[test]
    fn a_queued_writer_blocks_new_readers() {
        let mut sem = RwSem::default();
        assert!(sem.try_read(T0));
        assert_eq!(sem.try_write(T1), Some(false), "queues");
        assert_eq!(sem.try_write(T1), None, "still blocked");
        assert!(!sem.try_read(T2), "writer preference");
        assert_eq!(sem.read_blockers(T2), T1.bit());
        assert_eq!(sem.write_blockers(T1), T0.bit());
        assert!(sem.up_read(T0));
        assert_eq!(sem.try_write(T1), Some(true));
        assert_eq!(sem.queued_writers, 0);
        assert_eq!(sem.read_blockers(T2), T1.bit());
    }

    // downgrade_write: writer to reader in one step, so other readers may enter but no writer
    // gets in between.
    #[test]
    fn downgrade_turns_the_writer_into_a_reader() {
        let mut sem = RwSem::default();
        assert_eq!(sem.try_write(T0), Some(true));
        assert!(!sem.try_read(T1));
        assert!(sem.downgrade(T0));
        assert!(sem.try_read(T1));
        assert_eq!(sem.try_write(T2), Some(false));
        assert!(!sem.downgrade(T1), "only the writer can downgrade");
        assert!(sem.up_read(T0) && sem.up_read(T1));
        assert_eq!(sem.try_write(T2), Some(true));
        assert!(sem.up_write(T2));
    }

    #[test]
    fn an_owner_unlocks_only_its_own_lock() {
        let mut lock = Owner::FREE;
        assert!(lock.try_lock(T1) && !lock.try_lock(T0));
        assert_eq!(lock.holder(), Some(T1));
        assert!(!lock.unlock(T0) && lock.unlock(T1));
        assert_eq!(lock, Owner::FREE);
    }
}

/// A lock the machine models, by name: what a trace step and a deadlock's wait-for cycle
/// cite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockName {
    /// mm `i`'s `mmap_lock` (an rwsem).
    MmapLock(u8),
    /// The split pmd lock of `pmd[r]`.
    PmdLock(u8),
    /// The pte lock (`ptl`) of pte table `t`.
    Ptl(u8),
    /// The lock of page `p` (`folio_lock`).
    PageLock(u8),
    /// A lock the scenario declared ([`crate::engine::state::locks`]): cited by its name.
    Declared {
        /// Its index among the scenario's declared locks.
        index: u8,
        /// Its kind.
        kind: crate::engine::state::locks::LockKind,
        /// Its name.
        name: &'static str,
    },
}

impl LockName {
    /// Returns the kind of lock, as the audit's lock column prints it: `mmap_lock`,
    /// `pmd_lock`, `ptl` or `page lock`, and a declared lock's own name.
    pub const fn class(self) -> &'static str {
        match self {
            LockName::MmapLock(_) => "mmap_lock",
            LockName::PmdLock(_) => "pmd_lock",
            LockName::Ptl(_) => "ptl",
            LockName::PageLock(_) => "page lock",
            LockName::Declared { name, .. } => name,
        }
    }
}

impl core::fmt::Display for LockName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            LockName::MmapLock(0) => f.write_str("mmap_lock"),
            LockName::MmapLock(mm) => write!(f, "mmap_lock(mm{mm})"),
            LockName::PmdLock(r) => write!(f, "pmd_lock(pmd[{r}])"),
            LockName::Ptl(t) => write!(f, "ptl(table{t})"),
            LockName::PageLock(p) => write!(f, "page lock(page{p})"),
            LockName::Declared { kind, name, .. } => write!(f, "{name} ({})", kind.name()),
        }
    }
}

/// What a step did to a lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockOp {
    /// Took it (a spinlock or page lock; `mmap_lock` for write).
    Acquire,
    /// Took `mmap_lock` for read.
    AcquireRead,
    /// Released it (either mode).
    Release,
    /// `mmap_write_downgrade` / `downgrade_write`: write to read.
    Downgrade,
    /// `synchronize_rcu` returned: a grace period of the domain ended.
    Synchronize,
}

/// One lock operation of a step: recorded by the machine's lock accessors as data, so that
/// traces and reports never read locks off step labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LockEvent {
    /// The lock.
    pub lock: LockName,
    /// What the step did to it.
    pub op: LockOp,
}

impl core::fmt::Display for LockEvent {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let rcu = matches!(
            self.lock,
            LockName::Declared {
                kind: crate::engine::state::locks::LockKind::Rcu,
                ..
            }
        );
        let op = match self.op {
            LockOp::AcquireRead if rcu => "enters a read-side section of",
            LockOp::Release if rcu => "leaves its read-side section of",
            LockOp::Acquire => "takes",
            LockOp::AcquireRead => "takes for read",
            LockOp::Release => "releases",
            LockOp::Downgrade => "downgrades to read",
            LockOp::Synchronize => "waited out a grace period of",
        };
        write!(f, "{op} {}", self.lock)
    }
}
