//! Processes: which mm each thread and each region belongs to, and each mm's `mmap_lock`.
//!
//! A thread's `mmap_*` operations take its own mm's lock (`current->mm`), so two processes'
//! faults, munmaps and forks never serialize on one lock. The thread-to-mm and region-to-mm
//! maps are fixed for a scenario's life (never fingerprinted); the locks of mms beyond the
//! first are fingerprinted only when the scenario has them. The VMA's protection and kind are
//! shared by every mm, as right after `fork`.

use crate::engine::Tid;
use crate::engine::locks::RwSem;
use crate::engine::mm::{MAX_PMDS, MAX_THREADS};

/// Most mms (processes) in one scenario.
pub const MAX_MMS: usize = 2;

/// The processes component.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Processes {
    thread_mm: [u8; MAX_THREADS],
    region_mm: [u8; MAX_PMDS],
    /// mms in use: 1 + the highest mm a thread or region was given.
    used: u8,
    mmap: [RwSem; MAX_MMS],
}

impl Processes {
    /// Returns thread `t`'s mm.
    pub(crate) fn of_thread(&self, t: Tid) -> u8 {
        self.thread_mm[usize::from(t.0)]
    }
    /// Returns region `r`'s mm.
    pub(crate) fn of_region(&self, r: u8) -> u8 {
        self.region_mm[usize::from(r)]
    }
    /// Puts thread `t` in `mm` (< [`MAX_MMS`], checked by the builder).
    pub(crate) fn set_thread(&mut self, t: Tid, mm: u8) {
        self.thread_mm[usize::from(t.0)] = mm;
        self.used = self.used.max(mm + 1);
    }
    /// Puts region `r` in `mm` (< [`MAX_MMS`], checked by the builder).
    pub(crate) fn set_region(&mut self, r: u8, mm: u8) {
        self.region_mm[usize::from(r)] = mm;
        self.used = self.used.max(mm + 1);
    }
    /// Returns the number of mms in use (at least 1).
    pub(crate) fn count(&self) -> u8 {
        self.used.max(1)
    }
    /// Returns whether `other` puts every thread and region in the same mm (the footprint
    /// auditor: no step may change it).
    pub(crate) fn same_layout(&self, other: &Self) -> bool {
        self.thread_mm == other.thread_mm
            && self.region_mm == other.region_mm
            && self.used == other.used
    }
    /// Returns `mm`'s `mmap_lock`.
    pub(crate) fn mmap(&self, mm: u8) -> &RwSem {
        &self.mmap[usize::from(mm)]
    }
    /// Returns `mm`'s `mmap_lock`, mutably.
    pub(crate) fn mmap_mut(&mut self, mm: u8) -> &mut RwSem {
        &mut self.mmap[usize::from(mm)]
    }
}
