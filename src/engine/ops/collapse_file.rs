//! khugepaged's `collapse_file` on a shmem file (mm/khugepaged.c), over the page cache's
//! modelled indices as one huge page's range: holes are counted (or filled), small pages
//! locked, isolated and replaced by a new huge folio `H`, kept locked and not uptodate until
//! the collapse commits or rolls back. It holds no `mmap_lock` of any mm.
//!
//! - [`CollapseShape::V6_2`] (v6.2, before ac492b9c70ca): a hole gets `H` at once
//!   (`shmem_charge`, `xas_store(hpage)`), and every present page's turn drops `xa_lock`
//!   (`folio_trylock`, `xas_unlock_irq`, isolate, `xas_lock_irq`, the refcount check) while
//!   `H` sits in the hole where lookups, `UFFDIO_COPY` and faults see it. No VMA is asked
//!   about userfaultfd; a failure puts the holes back (`xas_store(NULL)`).
//! - [`CollapseShape::V6_12`] (ac492b9c70ca, v6.4 on; v6.12 mm/khugepaged.c:1807): holes are
//!   only counted while the pages are locked and isolated; after the copy it takes
//!   `i_mmap_lock_read`, then `xa_lock`, parks `XA_RETRY_ENTRY` in every hole, gives up if a
//!   hole was filled meanwhile (`SCAN_PAGE_FILLED`) or if a VMA mapping the range is
//!   registered for userfaultfd MODE_MISSING (`SCAN_EXCEED_NONE_PTE`), and either stores `H`
//!   as one multi-index entry or puts `NULL` back, all before `xa_unlock`.
//!
//! What the model leaves out: `retract_page_tables` after the commit (it changes no
//! page-cache slot, and race 004 is about the page cache); swapped-out and not-uptodate
//! pages (`shmem_get_folio(SGP_NOALLOC)`), which no scenario sets up; the LRU (isolation's
//! reference is not kept, so the refcount check expects the cache's reference and the
//! collapse's own: the kernel's `2 + folio_nr_pages` counts the isolation's too).
//! `try_to_unmap` of a mapped small folio clears its pte at the index in each region whose
//! table maps it, under that table's lock, and flushes (the batched flush done at once).
//!
//! The collapse announces its life to the observers through a [`CollapseGhost`] cell, and
//! judges INV-004-UFFD at its commit and INV-004-NOTRANSIENT at its rollback.

use crate::entry::PmdOps;

use super::super::Tid;
use super::super::invariant::{Invariant, InvariantId};
use super::super::mm::Machine;
use super::super::program::{Limits, Program, ProgramError, Step, Wait};
use super::super::state::locks::{RwsemId, SpinlockId};
use super::super::state::page_cache::{CACHE_SLOTS, XaEntry};
use super::super::state::vma::VmFlags;
use super::finish;
use super::v6_12::pte_offset_map;

/// Which kernel's `collapse_file`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CollapseShape {
    /// v6.2: holes filled with the new folio during the scan, `xa_lock` dropped per page.
    V6_2,
    /// v6.12: retry entries in the holes under `i_mmap` and `xa_lock`, the userfaultfd check.
    V6_12,
}

/// The race-004 monitor state, in one user ghost cell: what the collapse has in flight and
/// what the others saw of it.
///
/// Bits 0-7: the uncommitted new folio + 1; 8-15: per index, an observer returned that folio
/// before the commit; 16-23: per index, the hole was filled while a VMA mapping it was
/// registered for MODE_MISSING; 24-31: per index, `UFFDIO_COPY` returned `-EEXIST`; 32-39:
/// per index, a fault delivered `UFFD_EVENT_PAGEFAULT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CollapseGhost(pub usize);

const SEEN: u32 = 8;
const FILLED: u32 = 16;
const EEXIST: u32 = 24;
const EVENT: u32 = 32;

impl CollapseGhost {
    fn word<A: PmdOps>(self, m: &Machine<A>) -> u64 {
        m.ghost_get(self.0)
    }
    fn update<A: PmdOps>(self, m: &mut Machine<A>, f: impl FnOnce(u64) -> u64) {
        let w = m.ghost_get(self.0);
        m.ghost_set(self.0, f(w));
    }
    fn mask<A: PmdOps>(self, m: &Machine<A>, shift: u32) -> u8 {
        (self.word(m) >> shift) as u8
    }
    fn set_bit<A: PmdOps>(self, m: &mut Machine<A>, shift: u32, index: usize) {
        self.update(m, |w| w | 1 << (shift + index as u32));
    }
    /// The collapse's new folio while it is neither committed nor rolled back.
    pub fn uncommitted<A: PmdOps>(self, m: &Machine<A>) -> Option<u8> {
        (self.word(m) as u8).checked_sub(1)
    }
    /// An observer returns `page` as the entry at `index`: remembered if it is the
    /// uncommitted folio.
    pub fn observe<A: PmdOps>(self, m: &mut Machine<A>, index: usize, page: u8) {
        if self.uncommitted(m) == Some(page) {
            self.set_bit(m, SEEN, index);
        }
    }
    /// `UFFDIO_COPY` returned `-EEXIST` at `index`.
    pub fn eexist<A: PmdOps>(self, m: &mut Machine<A>, index: usize) {
        self.set_bit(m, EEXIST, index);
    }
    /// The indices where `UFFDIO_COPY` returned `-EEXIST`.
    pub fn eexist_mask<A: PmdOps>(self, m: &Machine<A>) -> u8 {
        self.mask(m, EEXIST)
    }
    /// A fault delivered `UFFD_EVENT_PAGEFAULT` for `index`.
    pub fn event<A: PmdOps>(self, m: &mut Machine<A>, index: usize) {
        self.set_bit(m, EVENT, index);
    }
    /// The indices a fault delivered `UFFD_EVENT_PAGEFAULT` for.
    pub fn event_mask<A: PmdOps>(self, m: &Machine<A>) -> u8 {
        self.mask(m, EVENT)
    }
    fn begin<A: PmdOps>(self, m: &mut Machine<A>, folio: u8) {
        self.update(m, |w| (w & !0xff) | (u64::from(folio) + 1));
    }
    fn fill<A: PmdOps>(self, m: &mut Machine<A>, index: usize) {
        if uffd_missing_registered(m) {
            self.set_bit(m, FILLED, index);
        }
    }
    /// Ends the collapse: the folio is no longer in flight; returns the filled-under-uffd
    /// and the seen masks it had.
    fn end<A: PmdOps>(self, m: &mut Machine<A>) -> (u8, u8) {
        let (filled, seen) = (self.mask(m, FILLED), self.mask(m, SEEN));
        self.update(m, |w| w & !(0xff | 0xff << SEEN | 0xff << FILLED));
        (filled, seen)
    }
}

/// `userfaultfd_missing(vma)` for some VMA mapping the range: every attached VMA of the
/// scenario maps the file from index 0 (a recorded read of the VMA trees).
pub fn uffd_missing_registered<A: PmdOps>(m: &Machine<A>) -> bool {
    m.vmas()
        .any(|(_, v)| v.attached && v.flags.contains(VmFlags::UFFD_MISSING))
}

/// `collapse_file` of the modelled range into one new huge folio.
#[derive(Clone, Copy, Debug)]
pub struct CollapseFile {
    /// Which kernel's.
    pub shape: CollapseShape,
    /// The mapping's `xa_lock` (a declared spinlock).
    pub xa_lock: SpinlockId,
    /// The mapping's `i_mmap_rwsem` (a declared rwsem; v6.12 takes it for read).
    pub i_mmap: RwsemId,
    /// The monitor cell.
    pub ghost: CollapseGhost,
    /// Flagged when the collapse commits a hole it filled while a VMA mapping it was
    /// registered for MODE_MISSING (INV-004-UFFD).
    pub uffd: Option<&'static Invariant>,
    /// Flagged when the collapse rolls back a folio an observer returned (INV-004-NOTRANSIENT).
    pub transient: Option<&'static Invariant>,
    /// Test-only mutation of v6.12: no userfaultfd check.
    pub skip_uffd_check: bool,
    /// Test-only mutation of v6.12: the rollback leaves the retry entries in place.
    pub rollback_keeps_retry: bool,
}

impl CollapseFile {
    /// A `shape` collapse under these locks and this monitor cell, no invariants declared.
    pub const fn new(
        shape: CollapseShape,
        xa_lock: SpinlockId,
        i_mmap: RwsemId,
        ghost: CollapseGhost,
    ) -> Self {
        Self {
            shape,
            xa_lock,
            i_mmap,
            ghost,
            uffd: None,
            transient: None,
            skip_uffd_check: false,
            rollback_keeps_retry: false,
        }
    }
}

const ALLOC: u8 = 0;
const XA_LOCK: u8 = 1;
const SCAN: u8 = 2;
const ISOLATE: u8 = 3;
const RELOCK: u8 = 4;
const COUNT: u8 = 5;
const OUT_UNLOCK: u8 = 6;
const XA_UNLOCK_FAIL: u8 = 7;
const LOOP_DONE: u8 = 8;
const V62_XA_UNLOCK: u8 = 9;
const V62_COPY: u8 = 10;
const V62_UPTODATE: u8 = 11;
const CHARGE: u8 = 12;
const IMMAP: u8 = 13;
const RETRY_LOCK: u8 = 14;
const RETRY: u8 = 15;
const UFFD_CHECK: u8 = 16;
const IMMAP_UNLOCK_FAIL: u8 = 17;
const RETRY_CLEAR: u8 = 18;
const RETRY_UNLOCK: u8 = 19;
const IMMAP_UNLOCK_OK: u8 = 20;
const COMMIT_LOCK: u8 = 21;
const COMMIT: u8 = 22;
const COMMIT_UNLOCK: u8 = 23;
const UNLOCK_NEW: u8 = 24;
const RELEASE_OLD: u8 = 25;
const ROLLBACK: u8 = 26;
const ROLLBACK_STORE: u8 = 27;
const ROLLBACK_UNLOCK: u8 = 28;
const ROLLBACK_RELEASE: u8 = 29;
const UNMAP_FIND: u8 = 30;
const UNMAP_PTL: u8 = 31;
const UNMAP: u8 = 32;
const UNMAP_UNLOCK: u8 = 33;

/// Register 0, by byte: the new folio + 1; the scan's index; `nr_none`; the pages on the
/// pagelist (a bit per index); pages charged to `nrpages` (`shmem_charge`); the page being
/// scanned + 1; the region `try_to_unmap` is at; its table. Register 1, a byte per index: what the scan found there (`XaEntry` raw:
/// page + 1, 0 for a hole).
const R: usize = 0;
const ORIG: usize = 1;
const NEW: u32 = 0;
const INDEX: u32 = 1;
const NR_NONE: u32 = 2;
const LIST: u32 = 3;
const CHARGED: u32 = 4;
const CUR: u32 = 5;
const REGION: u32 = 6;
const TABLE: u32 = 7;

fn get<A: PmdOps>(m: &Machine<A>, t: Tid, byte: u32) -> u8 {
    (m.th(t).regs[R] >> (8 * byte)) as u8
}

fn put<A: PmdOps>(m: &mut Machine<A>, t: Tid, byte: u32, v: u8) {
    let r = &mut m.th_mut(t).regs[R];
    *r = (*r & !(0xff << (8 * byte))) | u64::from(v) << (8 * byte);
}

fn orig<A: PmdOps>(m: &Machine<A>, t: Tid, index: usize) -> Option<u8> {
    ((m.th(t).regs[ORIG] >> (8 * index)) as u8).checked_sub(1)
}

fn set_orig<A: PmdOps>(m: &mut Machine<A>, t: Tid, index: usize, page: u8) {
    m.th_mut(t).regs[ORIG] |= (u64::from(page) + 1) << (8 * index);
}

impl<A: PmdOps> Program<A> for CollapseFile {
    fn name(&self) -> &'static str {
        match self.shape {
            CollapseShape::V6_2 => "collapse_file (v6.2)",
            CollapseShape::V6_12 => "collapse_file (v6.12)",
        }
    }

    fn check(&self, limits: &Limits) -> Result<(), ProgramError> {
        limits.ghost_cell(self.ghost.0)
    }

    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let new = get(m, t, NEW).wrapping_sub(1);
        let index = usize::from(get(m, t, INDEX));
        let cur = get(m, t, CUR).wrapping_sub(1);
        let v6_2 = self.shape == CollapseShape::V6_2;
        match m.th(t).pc {
            ALLOC => {
                let Some(h) = m.page_alloc(true) else {
                    m.flag(InvariantId::MODEL, "collapse_file: the page arena is full");
                    finish(m, t);
                    return Step::Ran("alloc_charge_folio: no page");
                };
                m.page_set_file(h, true);
                // A new folio: nobody else can hold its lock (__folio_set_locked).
                let _ = m.page_lock(h, t);
                self.ghost.begin(m, h);
                put(m, t, NEW, h + 1);
                m.goto(t, XA_LOCK);
                Step::Ran("alloc_charge_folio; __folio_set_locked(new folio), not uptodate")
            }
            XA_LOCK => self.xa_lock_then(m, t, SCAN, "xas_lock_irq; xas_create_range"),
            SCAN => {
                if index >= CACHE_SLOTS {
                    m.goto(t, LOOP_DONE);
                    return Step::Ran("the scan reached the end of the range");
                }
                match m.xa_load(index) {
                    XaEntry::Empty => {
                        if index == 0 && (1..CACHE_SLOTS).all(|i| m.xa_load(i) == XaEntry::Empty) {
                            m.goto(t, XA_UNLOCK_FAIL);
                            return Step::Ran("xas_next_entry: the range is empty: SCAN_TRUNCATED");
                        }
                        put(m, t, NR_NONE, get(m, t, NR_NONE) + 1);
                        put(m, t, INDEX, index as u8 + 1);
                        if v6_2 {
                            m.add_nrpages(1);
                            m.xa_store(index, XaEntry::Page(new));
                            put(m, t, CHARGED, get(m, t, CHARGED) + 1);
                            self.ghost.fill(m, index);
                            return Step::Ran(
                                "hole: shmem_charge(1); xas_store(new folio): the hole now holds the locked, not-uptodate folio",
                            );
                        }
                        Step::Ran("hole: nr_none++ (left empty until the commit)")
                    }
                    XaEntry::Retry => {
                        m.goto(t, XA_UNLOCK_FAIL);
                        Step::Ran("a retry entry: another collapse is in flight: SCAN_FAIL")
                    }
                    XaEntry::Page(p) if m.page(p).huge => {
                        m.goto(t, XA_UNLOCK_FAIL);
                        Step::Ran("already a huge folio: SCAN_PTE_MAPPED_HUGEPAGE")
                    }
                    XaEntry::Page(p) => {
                        if !m.page_lock(p, t) {
                            m.goto(t, XA_UNLOCK_FAIL);
                            return Step::Ran("folio_trylock failed: SCAN_PAGE_LOCK");
                        }
                        m.page_get(p);
                        m.spin_unlock(self.xa_lock, t);
                        put(m, t, CUR, p + 1);
                        m.goto(t, ISOLATE);
                        Step::Ran("folio_trylock; folio_get; xas_unlock_irq")
                    }
                }
            }
            ISOLATE => {
                if m.cache_get(index) != Some(cur) {
                    m.goto(t, OUT_UNLOCK);
                    return Step::Ran("folio_mapping(folio) != mapping: SCAN_TRUNCATED");
                }
                if m.page(cur).mapcount > 0 {
                    put(m, t, REGION, 0);
                    m.goto(t, UNMAP_FIND);
                    return Step::Ran("folio_isolate_lru; folio_mapped: try_to_unmap");
                }
                m.goto(t, RELOCK);
                Step::Ran("folio_isolate_lru; the folio is not mapped")
            }
            UNMAP_FIND => {
                let from = get(m, t, REGION);
                let found = (from..m.npmds()).find_map(|r| {
                    let tab = pte_offset_map(m, m.peek_pmd(r))?;
                    let pte = m.table(tab).ptes[index];
                    (A::pte_present(pte) && m.page_of_pfn(A::pte_pfn(pte)) == Some(cur))
                        .then_some((r, tab))
                });
                let Some((r, tab)) = found else {
                    m.goto(t, RELOCK);
                    return Step::Ran("try_to_unmap: rmap walk done; try_to_unmap_flush");
                };
                put(m, t, REGION, r);
                put(m, t, TABLE, tab);
                m.goto(t, UNMAP_PTL);
                Step::Ran("try_to_unmap: rmap walk: a pte maps the folio")
            }
            UNMAP_PTL => {
                let tab = get(m, t, TABLE);
                if !m.ptl_lock(tab, t) {
                    return Step::Blocked(Wait::Ptl(tab));
                }
                m.goto(t, UNMAP);
                Step::Ran("page_vma_mapped_walk: spin_lock(ptl)")
            }
            UNMAP => {
                let (r, tab) = (get(m, t, REGION), get(m, t, TABLE));
                let pte = m.pte_get(tab, index);
                if A::pte_present(pte) && m.page_of_pfn(A::pte_pfn(pte)) == Some(cur) {
                    m.pte_set(tab, index, A::pte_empty(Machine::<A>::slot_addr(r, index)));
                    m.page_map(cur, r, -1);
                    m.tlb_flush_region(r);
                }
                m.goto(t, UNMAP_UNLOCK);
                Step::Ran("try_to_unmap_one: ptep_clear_flush; folio_remove_rmap_pte")
            }
            UNMAP_UNLOCK => {
                let (r, tab) = (get(m, t, REGION), get(m, t, TABLE));
                m.ptl_unlock(tab, t);
                put(m, t, REGION, r + 1);
                m.goto(t, UNMAP_FIND);
                Step::Ran("page_vma_mapped_walk_done: spin_unlock(ptl)")
            }
            RELOCK => self.xa_lock_then(m, t, COUNT, "xas_lock_irq"),
            COUNT => {
                // The cache's reference and ours; anyone else's (a speculative lookup, a pin)
                // fails the collapse.
                if m.page(cur).refcount != 2 {
                    m.spin_unlock(self.xa_lock, t);
                    m.goto(t, OUT_UNLOCK);
                    return Step::Ran(
                        "folio_ref_count != expected: SCAN_PAGE_COUNT; xas_unlock_irq",
                    );
                }
                put(m, t, LIST, get(m, t, LIST) | 1 << index);
                set_orig(m, t, index, cur);
                put(m, t, INDEX, index as u8 + 1);
                m.goto(t, SCAN);
                if v6_2 {
                    m.xa_store(index, XaEntry::Page(new));
                    return Step::Ran(
                        "page_ref_freeze; list_add_tail(pagelist); xas_store(new folio)",
                    );
                }
                Step::Ran("list_add_tail(pagelist): the small folio stays in the cache")
            }
            OUT_UNLOCK => {
                m.page_unlock(cur, t);
                m.page_put(cur);
                m.goto(t, ROLLBACK);
                Step::Ran("out_unlock: folio_unlock; folio_put")
            }
            XA_UNLOCK_FAIL => self.xa_unlock_then(
                m,
                t,
                ROLLBACK,
                "xa_locked: xas_unlock_irq; the collapse failed",
            ),
            LOOP_DONE if v6_2 => {
                for i in 0..CACHE_SLOTS {
                    m.xa_store(i, XaEntry::Page(new));
                }
                self.commit(m);
                m.goto(t, V62_XA_UNLOCK);
                Step::Ran("xas_set_order; xas_store(new folio): one multi-index entry")
            }
            LOOP_DONE => self.xa_unlock_then(m, t, CHARGE, "xa_locked: xas_unlock_irq"),
            V62_XA_UNLOCK => self.xa_unlock_then(m, t, V62_COPY, "xas_unlock_irq"),
            V62_COPY => {
                self.release_old(m, t);
                m.goto(t, V62_UPTODATE);
                Step::Ran(
                    "copy_highpage, clear_highpage; each old folio: mapping = NULL, unlock_page, put_page",
                )
            }
            V62_UPTODATE => {
                m.page_unlock(new, t);
                finish(m, t);
                Step::Ran("SetPageUptodate(new folio); retract_page_tables; unlock_page(new folio)")
            }
            CHARGE => {
                let nr_none = get(m, t, NR_NONE);
                if nr_none == 0 {
                    m.goto(t, COMMIT_LOCK);
                    return Step::Ran("no hole: copy_mc_highpage of every folio");
                }
                m.add_nrpages(nr_none as i8);
                put(m, t, CHARGED, nr_none);
                m.goto(t, IMMAP);
                Step::Ran("shmem_charge(nr_none); copy_mc_highpage, clear_highpage for the holes")
            }
            IMMAP => {
                if !m.down_read(self.i_mmap, t) {
                    return Step::Blocked(Wait::RwsemRead(self.i_mmap));
                }
                m.goto(t, RETRY_LOCK);
                Step::Ran("i_mmap_lock_read")
            }
            RETRY_LOCK => self.xa_lock_then(m, t, RETRY, "xas_lock_irq"),
            RETRY => {
                let mut check = 0;
                for i in 0..CACHE_SLOTS {
                    if m.xa_load(i) == XaEntry::Empty {
                        m.xa_store(i, XaEntry::Retry);
                        self.ghost.fill(m, i);
                        check += 1;
                    }
                }
                if check != get(m, t, NR_NONE) {
                    m.goto(t, IMMAP_UNLOCK_FAIL);
                    return Step::Ran(
                        "xas_store(XA_RETRY_ENTRY) in every hole; nr_none != nr_none_check: SCAN_PAGE_FILLED",
                    );
                }
                m.goto(t, UFFD_CHECK);
                Step::Ran("xas_store(XA_RETRY_ENTRY) in every hole; nr_none_check == nr_none")
            }
            UFFD_CHECK => {
                if !self.skip_uffd_check && uffd_missing_registered(m) {
                    m.goto(t, IMMAP_UNLOCK_FAIL);
                    return Step::Ran(
                        "vma_interval_tree_foreach: userfaultfd_missing(vma): SCAN_EXCEED_NONE_PTE",
                    );
                }
                m.goto(t, IMMAP_UNLOCK_OK);
                Step::Ran("vma_interval_tree_foreach: no VMA registered for missing pages")
            }
            IMMAP_UNLOCK_FAIL => {
                m.up_read(self.i_mmap, t);
                m.goto(t, RETRY_CLEAR);
                Step::Ran("immap_locked: i_mmap_unlock_read")
            }
            RETRY_CLEAR => {
                if !self.rollback_keeps_retry {
                    for i in 0..CACHE_SLOTS {
                        if m.xa_load(i) == XaEntry::Retry {
                            m.xa_store(i, XaEntry::Empty);
                        }
                    }
                }
                m.goto(t, RETRY_UNLOCK);
                Step::Ran("every XA_RETRY_ENTRY back to NULL")
            }
            RETRY_UNLOCK => self.xa_unlock_then(m, t, ROLLBACK, "xas_unlock_irq; goto rollback"),
            IMMAP_UNLOCK_OK => {
                m.up_read(self.i_mmap, t);
                m.goto(t, COMMIT);
                Step::Ran("immap_locked: i_mmap_unlock_read")
            }
            COMMIT_LOCK => self.xa_lock_then(m, t, COMMIT, "xas_lock_irq"),
            COMMIT => {
                for i in 0..CACHE_SLOTS {
                    m.xa_store(i, XaEntry::Page(new));
                }
                self.commit(m);
                m.goto(t, COMMIT_UNLOCK);
                Step::Ran(
                    "folio_mark_uptodate; xas_set_order; xas_store(new folio): one multi-index entry",
                )
            }
            COMMIT_UNLOCK => self.xa_unlock_then(m, t, UNLOCK_NEW, "xas_unlock_irq"),
            UNLOCK_NEW => {
                m.page_unlock(new, t);
                m.goto(t, RELEASE_OLD);
                Step::Ran("retract_page_tables; folio_unlock(new folio)")
            }
            RELEASE_OLD => {
                self.release_old(m, t);
                finish(m, t);
                Step::Ran("each old folio: mapping = NULL, folio_unlock, folio_put_refs")
            }
            ROLLBACK => {
                if get(m, t, CHARGED) == 0 {
                    m.goto(t, ROLLBACK_RELEASE);
                    return Step::Ran("rollback: nothing charged");
                }
                if !m.spin_lock(self.xa_lock, t) {
                    return Step::Blocked(Wait::Spinlock(self.xa_lock));
                }
                m.goto(t, ROLLBACK_STORE);
                Step::Ran("rollback: xas_lock_irq")
            }
            ROLLBACK_STORE => {
                m.add_nrpages(-(get(m, t, CHARGED) as i8));
                put(m, t, CHARGED, 0);
                if v6_2 {
                    // Put the holes back and the small folios where they were.
                    for i in 0..CACHE_SLOTS {
                        if m.xa_load(i) == XaEntry::Page(new) {
                            let back = orig(m, t, i).map_or(XaEntry::Empty, XaEntry::Page);
                            m.xa_store(i, back);
                        }
                    }
                    m.goto(t, ROLLBACK_UNLOCK);
                    return Step::Ran(
                        "mapping->nrpages -= nr_none; shmem_uncharge; xas_store(NULL) back in each hole",
                    );
                }
                m.goto(t, ROLLBACK_UNLOCK);
                Step::Ran("mapping->nrpages -= nr_none")
            }
            ROLLBACK_UNLOCK => self.xa_unlock_then(m, t, ROLLBACK_RELEASE, "xas_unlock_irq"),
            ROLLBACK_RELEASE => {
                // folio_putback_lru gives the isolation's reference back: only ours goes.
                self.unlock_listed(m, t, 1);
                m.page_unlock(new, t);
                m.page_put(new);
                let (_, seen) = self.ghost.end(m);
                if seen != 0 {
                    if let Some(inv) = self.transient {
                        m.flag(
                            inv.id(),
                            "the collapse rolled back a folio another thread had already found in the page cache",
                        );
                    }
                }
                finish(m, t);
                Step::Ran(
                    "rollback: each old folio: folio_unlock, folio_putback_lru, folio_put; new folio: mapping = NULL, folio_unlock, folio_put",
                )
            }
            _ => {
                finish(m, t);
                Step::Ran("collapse_file: no such step")
            }
        }
    }
}

impl CollapseFile {
    /// The commit: the new folio is the range's entry for good; holes filled while a
    /// MODE_MISSING registration stood break INV-004-UFFD.
    fn commit<A: PmdOps>(&self, m: &mut Machine<A>) {
        let new = self.ghost.uncommitted(m);
        if let Some(h) = new {
            // The cache's references: one per index (folio_ref_add(HPAGE_PMD_NR - 1)).
            for _ in 1..CACHE_SLOTS {
                m.page_get(h);
            }
        }
        let (filled, _) = self.ghost.end(m);
        if filled != 0 {
            if let Some(inv) = self.uffd {
                m.flag(
                    inv.id(),
                    "the collapse committed a zero-filled hole of a range registered for userfaultfd MODE_MISSING: no UFFD_EVENT_PAGEFAULT, and UFFDIO_COPY gets -EEXIST",
                );
            }
        }
    }

    /// Frees the replaced small folios: out of the cache, unlocked, the cache's reference and
    /// the collapse's dropped.
    fn release_old<A: PmdOps>(&self, m: &mut Machine<A>, t: Tid) {
        self.unlock_listed(m, t, 2);
    }

    /// Unlocks every small folio on the pagelist and drops `refs` references on each.
    fn unlock_listed<A: PmdOps>(&self, m: &mut Machine<A>, t: Tid, refs: u8) {
        let list = get(m, t, LIST);
        for i in (0..CACHE_SLOTS).filter(|i| list & 1 << i != 0) {
            if let Some(p) = orig(m, t, i) {
                m.page_unlock(p, t);
                for _ in 0..refs {
                    m.page_put(p);
                }
            }
        }
    }

    /// `xas_lock_irq`, then on to `next`.
    fn xa_lock_then<A: PmdOps>(
        &self,
        m: &mut Machine<A>,
        t: Tid,
        next: u8,
        label: &'static str,
    ) -> Step {
        if !m.spin_lock(self.xa_lock, t) {
            return Step::Blocked(Wait::Spinlock(self.xa_lock));
        }
        m.goto(t, next);
        Step::Ran(label)
    }

    /// `xas_unlock_irq`, then on to `next`.
    fn xa_unlock_then<A: PmdOps>(
        &self,
        m: &mut Machine<A>,
        t: Tid,
        next: u8,
        label: &'static str,
    ) -> Step {
        m.spin_unlock(self.xa_lock, t);
        m.goto(t, next);
        Step::Ran(label)
    }
}
