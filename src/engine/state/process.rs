//! Processes: which mm each thread and each region belongs to, and each mm's `mmap_lock` and
//! `write_protect_seq`.
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
    /// `mm->write_protect_seq`: the seqcount `copy_page_range` holds odd while fork
    /// write-protects the parent's ptes, which `pin_user_pages_fast` samples before its walk
    /// and rechecks after it. The kernel's `unsigned`, wrapping as it does.
    write_protect_seq: [u32; MAX_MMS],
}

impl Processes {
    /// Returns thread `t`'s mm.
    #[inline]
    pub(crate) fn of_thread(&self, t: Tid) -> u8 {
        self.thread_mm[usize::from(t.0)]
    }
    /// Returns region `r`'s mm.
    #[inline]
    pub(crate) fn of_region(&self, r: u8) -> u8 {
        self.region_mm[usize::from(r)]
    }
    /// Puts thread `t` in `mm` (< [`MAX_MMS`], checked by the builder).
    #[inline]
    pub(crate) fn set_thread(&mut self, t: Tid, mm: u8) {
        self.thread_mm[usize::from(t.0)] = mm;
        self.used = self.used.max(mm + 1);
    }
    /// Puts region `r` in `mm` (< [`MAX_MMS`], checked by the builder).
    #[inline]
    pub(crate) fn set_region(&mut self, r: u8, mm: u8) {
        self.region_mm[usize::from(r)] = mm;
        self.used = self.used.max(mm + 1);
    }
    /// Returns the number of mms in use (at least 1).
    #[inline]
    pub(crate) fn count(&self) -> u8 {
        self.used.max(1)
    }
    /// Returns whether `other` puts every thread and region in the same mm (the footprint
    /// auditor: no step may change it).
    #[inline]
    pub(crate) fn same_layout(&self, other: &Self) -> bool {
        self.thread_mm == other.thread_mm
            && self.region_mm == other.region_mm
            && self.used == other.used
    }
    /// Returns `mm`'s `mmap_lock`.
    #[inline]
    pub(crate) fn mmap(&self, mm: u8) -> &RwSem {
        &self.mmap[usize::from(mm)]
    }
    /// Returns `mm`'s `write_protect_seq`.
    #[inline]
    pub(crate) fn write_protect_seq(&self, mm: u8) -> u32 {
        self.write_protect_seq[usize::from(mm)]
    }
    /// Advances `mm`'s `write_protect_seq` by one (`raw_write_seqcount_begin` or `_end`).
    #[inline]
    pub(crate) fn bump_write_protect_seq(&mut self, mm: u8) {
        let seq = &mut self.write_protect_seq[usize::from(mm)];
        *seq = seq.wrapping_add(1);
    }
    /// Returns whether any mm's `write_protect_seq` moved from zero (the fingerprint feeds
    /// them only then: a scenario without fork pays one comparison).
    #[inline]
    pub(crate) fn any_write_protect_seq(&self) -> bool {
        self.write_protect_seq != [0; MAX_MMS]
    }
    /// Returns `mm`'s `write_protect_seq` values, every mm.
    #[inline]
    pub(crate) fn write_protect_seqs(&self) -> [u32; MAX_MMS] {
        self.write_protect_seq
    }
    /// Returns whether `mm`'s lock or seqcount differs from `other`'s (the footprint auditor).
    #[inline]
    pub(crate) fn mm_changed(&self, other: &Self, mm: u8) -> bool {
        let i = usize::from(mm);
        self.mmap[i] != other.mmap[i] || self.write_protect_seq[i] != other.write_protect_seq[i]
    }
    /// Returns `mm`'s `mmap_lock`, mutably.
    #[inline]
    pub(crate) fn mmap_mut(&mut self, mm: u8) -> &mut RwSem {
        &mut self.mmap[usize::from(mm)]
    }
}
