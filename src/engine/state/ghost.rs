//! Ghost state: what trace monitors remember and no kernel structure holds. The crate's own
//! (which regions a MADV_DONTNEED has returned for, and the pages mapped there when it
//! began, for INV-002-DONTNEED) and a scenario's ghost cells (counters, "this event
//! happened" bits of its own monitors).
//!
//! One footprint location for all of it (`Loc::Ghost`), recorded by the machine's accessors
//! ([`crate::engine::mm::Machine::ghost_get`], `ghost_set`, `dontneed_done`, ...).

use core::hash::Hasher;

use crate::engine::mm::MAX_PMDS;

/// Most user ghost cells ([`crate::engine::mm::Machine::ghost_get`]): words of monitor
/// state a scenario keeps beside the machine (counters, "this event happened" bits).
pub const GHOST_CELLS: usize = 4;

/// The ghost component.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Ghost {
    dontneed_done: u8,
    dontneed_pages: u16,
    cells: [u64; GHOST_CELLS],
}

impl Ghost {
    /// The regions a MADV_DONTNEED has returned for, as a bitmask.
    #[inline]
    pub(crate) fn dontneed_done(&self) -> u8 {
        self.dontneed_done
    }
    /// The pages mapped in a MADV_DONTNEED's range when it began (bitmask over the arena).
    #[inline]
    pub(crate) fn dontneed_pages(&self) -> u16 {
        self.dontneed_pages
    }
    /// MADV_DONTNEED returned for region `r`.
    #[inline]
    pub(crate) fn mark_dontneed_done(&mut self, r: u8) {
        self.dontneed_done |= 1 << (r % MAX_PMDS as u8);
    }
    /// Adds pages MADV_DONTNEED must unmap.
    #[inline]
    pub(crate) fn add_dontneed_pages(&mut self, pages: u16) {
        self.dontneed_pages |= pages;
    }
    /// User cell `i`.
    #[inline]
    pub(crate) fn cell(&self, i: usize) -> u64 {
        self.cells[i]
    }
    /// Sets user cell `i`.
    #[inline]
    pub(crate) fn set_cell(&mut self, i: usize, v: u64) {
        self.cells[i] = v;
    }
    /// Feeds the user cells (the MADV_DONTNEED words ride in a word the machine packs).
    #[inline]
    pub(crate) fn fingerprint_cells(&self, h: &mut impl Hasher) {
        for &g in &self.cells {
            h.write_u64(g);
        }
    }
}
