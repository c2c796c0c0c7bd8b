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
    /// `down_read`: fails while a writer holds or waits (writer preference).
    pub fn try_read(&mut self, t: Tid) -> bool {
        if self.writer != Owner::FREE || self.queued_writers & !t.bit() != 0 {
            return false;
        }
        self.readers |= t.bit();
        true
    }
    /// `up_read`.
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
    /// `up_write`.
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
