//! Pages: the `struct page` / folio fields the races need, an arena of [`MAX_PAGES`], and the
//! threads queued on each page's `PG_locked`.
//!
//! Allocation takes the first unused page, so the allocated pages are a prefix of the arena:
//! the fingerprint feeds only that prefix, and the waiters' word only when a thread waits.
//! The machine's accessors ([`crate::engine::mm::Machine::page`], `page_map`, `page_pin` ...)
//! record each page they touch at its footprint location (`Loc::Page`) and raise INV-MODEL
//! where an operation here reports a misuse.

use core::hash::Hasher;

use crate::engine::Tid;
use crate::engine::locks::Owner;
use crate::engine::mm::{MAX_PMDS, MAX_THREADS, SLOTS};

/// Most pages (huge or small) in one run.
pub const MAX_PAGES: usize = 12;

/// A page's state: `struct page` / folio fields the races need.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Page {
    /// Whether allocated.
    pub allocated: bool,
    /// A pmd-sized (THP) page.
    pub huge: bool,
    /// References.
    pub refcount: u8,
    /// Mappings (the compound map counts one; each pte map counts one).
    pub mapcount: i8,
    /// `PG_locked` (sleeping).
    pub lock: Owner,
    /// The region it was last mapped into.
    pub region: u8,
    /// How many of its mappings each region holds, two bits a region (region `r` at bits
    /// `2r..2r + 2`; [`Page::maps_in`]): a page fork leaves in two regions is mapped in both,
    /// which `region` alone cannot say.
    pub region_maps: u16,
    /// A page-cache (file or shmem) page: `!folio_test_anon`.
    pub file: bool,
    /// `PageAnonExclusive`: an anonymous page only this mapping maps (set by the anonymous
    /// fault's `RMAP_EXCLUSIVE` and by `do_wp_page`; a write fault reuses such a page as is).
    pub anon_exclusive: bool,
    /// `FOLL_PIN` references among `refcount` (a small folio's `GUP_PIN_COUNTING_BIAS`
    /// share, a large one's `_pincount`): what `folio_maybe_dma_pinned` reads. GUP-fast takes
    /// one before its rechecks and drops it when they fail.
    pub pincount: u8,
    /// Ghost: pins GUP has handed to its caller (a driver's DMA), which INV-PIN-EXCLUSIVE
    /// judges. Part of `pincount`; a pin GUP-fast may still drop is not.
    pub pins_kept: u8,
}

impl Page {
    /// Returns how many of its mappings region `r` holds (a huge mapping counts one, each
    /// pte one).
    #[inline]
    pub const fn maps_in(&self, r: u8) -> u8 {
        if r as usize >= MAX_PMDS {
            return 0;
        }
        ((self.region_maps >> (2 * r)) & 3) as u8
    }
}

// Two bits a region: at most a huge mapping and a full table of ptes of one page at once
// (the v4.5 split fills the table before it clears the huge pmd).
const _: () = assert!(2 * MAX_PMDS <= 16 && SLOTS < 3);
// Each page's waiters are a thread bitmask of WAITER_BITS in one word.
const WAITER_BITS: usize = 4;
const WAITERS_MASK: u64 = (1 << WAITER_BITS) - 1;
const _: () = assert!(MAX_THREADS <= WAITER_BITS && MAX_PAGES * WAITER_BITS <= 64);

/// The pages component.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pages {
    pages: [Page; MAX_PAGES],
    /// Per page, [`WAITER_BITS`] bits: the threads queued on its `PG_locked` without taking
    /// it, as `migration_entry_wait_on_locked` queues; the next unlock wakes them all. One
    /// word for every page, so a scenario that never waits pays for one zero word.
    waiters: u64,
}

impl Default for Pages {
    #[inline]
    fn default() -> Self {
        Self {
            pages: [Page::default(); MAX_PAGES],
            waiters: 0,
        }
    }
}

impl Pages {
    /// Returns page `p`.
    #[inline]
    pub(crate) fn get(&self, p: u8) -> &Page {
        &self.pages[usize::from(p)]
    }
    /// Returns page `p`, mutably.
    #[inline]
    pub(crate) fn get_mut(&mut self, p: u8) -> &mut Page {
        &mut self.pages[usize::from(p)]
    }
    /// Makes unused page `p` a fresh page with one reference.
    #[inline]
    pub(crate) fn init(&mut self, p: u8, huge: bool) {
        self.pages[usize::from(p)] = Page {
            allocated: true,
            huge,
            refcount: 1,
            ..Page::default()
        };
    }
    /// Changes page `p`'s mapcount by `delta` in region `r`; `Err` says how the model broke.
    pub(crate) fn map(&mut self, p: u8, r: u8, delta: i8) -> Result<(), &'static str> {
        let page = &mut self.pages[usize::from(p)];
        page.mapcount = page.mapcount.saturating_add(delta);
        page.region = r;
        if usize::from(r) >= MAX_PMDS {
            return Err("a page mapped in no modelled region");
        }
        let shift = 2 * u32::from(r);
        let now = i16::from(page.maps_in(r)) + i16::from(delta);
        let count = now.clamp(0, 3) as u16;
        page.region_maps = (page.region_maps & !(3 << shift)) | count << shift;
        if now > 3 {
            return Err("a page mapped more than three times in one region");
        }
        Ok(())
    }
    /// Adds a reference, and with `pin` a `FOLL_PIN` one.
    #[inline]
    pub(crate) fn get_ref(&mut self, p: u8, pin: bool) {
        let page = &mut self.pages[usize::from(p)];
        page.refcount = page.refcount.saturating_add(1);
        if pin {
            page.pincount = page.pincount.saturating_add(1);
        }
    }
    /// Drops a reference.
    #[inline]
    pub(crate) fn put(&mut self, p: u8) {
        let page = &mut self.pages[usize::from(p)];
        page.refcount = page.refcount.saturating_sub(1);
    }
    /// Drops a pin (one handed over if `kept`); `Err` when the page holds no such pin.
    #[inline]
    pub(crate) fn unpin(&mut self, p: u8, kept: bool) -> Result<(), &'static str> {
        let page = &mut self.pages[usize::from(p)];
        let short = page.pincount == 0 || (kept && page.pins_kept == 0);
        page.refcount = page.refcount.saturating_sub(1);
        page.pincount = page.pincount.saturating_sub(1);
        if kept {
            page.pins_kept = page.pins_kept.saturating_sub(1);
        }
        if short {
            return Err("unpinned a page that holds no such pin");
        }
        Ok(())
    }
    /// Hands a pin over to GUP's caller; `Err` when there is none to hand over.
    #[inline]
    pub(crate) fn keep_pin(&mut self, p: u8) -> Result<(), &'static str> {
        let page = &mut self.pages[usize::from(p)];
        if page.pins_kept >= page.pincount {
            return Err("kept a pin GUP did not take");
        }
        page.pins_kept += 1;
        Ok(())
    }
    /// Returns the threads queued on page `p`'s `PG_locked` (bit `t`).
    #[inline]
    pub(crate) fn waiters(&self, p: u8) -> u8 {
        (self.waiters >> (WAITER_BITS * usize::from(p)) & WAITERS_MASK) as u8
    }
    /// Queues thread `t` on page `p`.
    #[inline]
    pub(crate) fn enqueue(&mut self, p: u8, t: Tid) {
        self.waiters |= 1 << (WAITER_BITS * usize::from(p) + usize::from(t.0));
    }
    /// Wakes every thread queued on page `p` (`folio_wake_bit`).
    #[inline]
    pub(crate) fn wake_all(&mut self, p: u8) {
        self.waiters &= !(WAITERS_MASK << (WAITER_BITS * usize::from(p)));
    }
    /// Returns whether page `p` or its waiters differ from `before`'s (the footprint auditor).
    #[inline]
    pub(crate) fn changed(&self, before: &Self, p: u8) -> bool {
        let waiters = WAITERS_MASK << (WAITER_BITS * usize::from(p));
        self.pages[usize::from(p)] != before.pages[usize::from(p)]
            || (self.waiters ^ before.waiters) & waiters != 0
    }
    /// Feeds the allocated prefix of the arena, a word a page, and the waiters when any.
    pub(crate) fn fingerprint(&self, h: &mut impl Hasher) {
        for p in self.pages.iter().take_while(|p| p.allocated) {
            // Destructured, so that a field added to `Page` fails to compile here until the
            // fingerprint covers it.
            let Page {
                allocated: _,
                huge,
                refcount,
                mapcount,
                lock,
                region,
                region_maps,
                file,
                anon_exclusive,
                pincount,
                pins_kept,
            } = *p;
            h.write_u64(
                u64::from(huge)
                    | u64::from(refcount) << 8
                    | u64::from(mapcount as u8) << 16
                    | u64::from(lock.raw()) << 24
                    | u64::from(region) << 32
                    | u64::from(file) << 40
                    | u64::from(anon_exclusive) << 41
                    | u64::from(region_maps) << 42
                    | u64::from(pincount) << 48
                    | u64::from(pins_kept) << 56,
            );
        }
        if self.waiters != 0 {
            h.write_u64(self.waiters);
        }
    }
}
