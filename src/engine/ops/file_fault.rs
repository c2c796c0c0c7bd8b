//! A read fault on a file page already in the page cache, where the pmd has no table yet:
//! `do_read_fault` → `__do_fault` → `->fault` (`filemap_fault`, which returns the page
//! locked) → `finish_fault`, then `folio_unlock` (v6.12 mm/memory.c:5310). Where the page
//! table comes from is what the versions differ in:
//!
//! - v4.8 to v4.20 (7267ec008b5c "postpone page table allocation until we have page to
//!   map"): `finish_fault` → `alloc_set_pte` → `pte_alloc_one_map` → `pte_alloc`, with the
//!   page locked;
//! - v5.0 on (63f3655f9501 "mm, memcg: fix reclaim deadlock with writeback"), v6.12 included:
//!   `__do_fault` preallocates `vmf->prealloc_pte` before `->fault` when the pmd is none
//!   (mm/memory.c:4886), and `finish_fault` installs it with `pmd_install` (:5139).
//!
//! A blocking allocation may enter reclaim, which may wait for something another thread
//! holds (memcg reclaim's `wait_on_page_writeback`, or an OOM victim's exit): the scenario
//! names it as a declared mutex the allocation takes and releases. Fault-around is left out
//! (`fault_around_bytes` = `PAGE_SIZE`, so `should_fault_around` is false): it only trylocks
//! pages and preallocates before any page lock.

use crate::entry::PmdOps;

use super::super::Tid;
use super::super::invariant::{Invariant, InvariantId};
use super::super::mm::Machine;
use super::super::program::{Limits, Program, ProgramError, Step, Wait};
use super::super::state::locks::MutexId;
use super::finish;
use super::v6_12::{mk_pte_private, pmd_install_locked, pte_offset_map};

/// Where the fault allocates its page table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TableAlloc {
    /// In `finish_fault`, with the page locked (v4.8 to v4.20).
    UnderPageLock,
    /// In `__do_fault`, before `->fault` locks the page (v5.0 on, v6.12).
    Prealloc,
}

/// A read fault at (region, slot) of a file VMA whose page-cache page is `page`.
#[derive(Clone, Copy, Debug)]
pub struct FileReadFault {
    /// The region (pmd index).
    pub region: u8,
    /// The pte slot within it.
    pub slot: u8,
    /// The page `->fault` finds in the page cache.
    pub page: u8,
    /// Where the table is allocated.
    pub alloc: TableAlloc,
    /// What a blocking allocation's reclaim waits for, if anything.
    pub reclaim_waits_on: Option<MutexId>,
    /// Flagged when a blocking allocation starts while the thread holds a page lock.
    pub alloc_under_page_lock: Option<&'static Invariant>,
    /// Flagged when the fault starts (asks for `mmap_lock`, then a page lock) while its
    /// thread holds a page lock: the lock order is `mmap_lock`, then page locks.
    pub fault_under_page_lock: Option<&'static Invariant>,
    /// The fault's first step number: a program that takes this fault inside its own path
    /// (a `copy_from_user`, a `fault_in_readable`) runs it at steps `base..base + STEPS`.
    pub base: u8,
    /// Where the thread goes once the fault returns; `None`: the thread finishes.
    pub then: Option<u8>,
    /// Look the page up in the page cache at index `slot` (`filemap_get_folio`) and, once it
    /// is locked, recheck that it is still there and inside `i_size` (d00806b18315); else
    /// `page` is the page `->fault` returns.
    pub from_cache: bool,
    /// Test-only mutation of `from_cache`: no recheck under the page lock.
    pub skip_recheck: bool,
}

/// The steps a [`FileReadFault`] uses from its [`base`](FileReadFault::base).
pub const FILE_FAULT_STEPS: u8 = 18;

impl FileReadFault {
    /// A read fault at (region, slot) on `page`, with `alloc`'s table allocation.
    pub const fn new(region: u8, slot: u8, page: u8, alloc: TableAlloc) -> Self {
        Self {
            region,
            slot,
            page,
            alloc,
            reclaim_waits_on: None,
            alloc_under_page_lock: None,
            fault_under_page_lock: None,
            base: 0,
            then: None,
            from_cache: false,
            skip_recheck: false,
        }
    }
}

const LOCK_MMAP: u8 = 0;
const PMD_CHECK: u8 = 1;
const PREALLOC: u8 = 2;
const RECLAIM_WAIT: u8 = 3;
const RECLAIM_DONE: u8 = 4;
const LOCK_PAGE: u8 = 5;
const FINISH: u8 = 6;
const INSTALL_LOCK: u8 = 7;
const INSTALL: u8 = 8;
const INSTALL_UNLOCK: u8 = 9;
const MAP_LOCK: u8 = 10;
const MAP_PTL: u8 = 11;
const SET_PTE: u8 = 12;
const PTE_UNLOCK: u8 = 13;
const UNLOCK_PAGE: u8 = 14;
const RETURN: u8 = 15;
const FIND: u8 = 16;
const RECHECK: u8 = 17;

/// Registers: the table allocated (+ 1) and the table mapped (+ 1, byte 1); where the
/// allocation returns to (byte 2).
const OBJS: usize = 0;

fn get(m: &Machine<impl PmdOps>, t: Tid, byte: u32) -> Option<u8> {
    ((m.th(t).regs[OBJS] >> (8 * byte)) as u8).checked_sub(1)
}

fn set(m: &mut Machine<impl PmdOps>, t: Tid, byte: u32, v: Option<u8>) {
    let r = &mut m.th_mut(t).regs[OBJS];
    *r = (*r & !(0xff << (8 * byte))) | v.map_or(0, |v| u64::from(v) + 1) << (8 * byte);
}

const SPARE: u32 = 0;
const TABLE: u32 = 1;
const AFTER_ALLOC: u32 = 2;
/// The page found in the page cache.
const FOUND: u32 = 3;
/// Set when the fault ends in `VM_FAULT_SIGBUS` (cleared when a fault starts).
const FAILED: u32 = 4;

/// Returns whether thread `t`'s last [`FileReadFault`] ended in `VM_FAULT_SIGBUS`: the
/// index was past `i_size` (what a `copy_from_user` or `fault_in_iov_iter_readable` around
/// it sees as a fault it cannot resolve).
pub fn fault_failed<A: PmdOps>(m: &Machine<A>, t: Tid) -> bool {
    get(m, t, FAILED).is_some()
}

impl FileReadFault {
    /// Allocates the table and goes where the allocation was asked from.
    fn allocate<A: PmdOps>(&self, m: &mut Machine<A>, t: Tid, label: &'static str) -> Step {
        let Some(table) = m.table_alloc(self.region) else {
            m.flag(InvariantId::MODEL, "table arena full");
            self.goto(m, t, RETURN);
            return Step::Ran("pte_alloc_one: allocation failed");
        };
        set(m, t, SPARE, Some(table));
        let next = get(m, t, AFTER_ALLOC).unwrap_or(RETURN);
        set(m, t, AFTER_ALLOC, None);
        self.goto(m, t, next);
        Step::Ran(label)
    }
    /// The page the fault maps: the one found in the cache, or the one `->fault` returns.
    fn page<A: PmdOps>(&self, m: &Machine<A>, t: Tid) -> u8 {
        if self.from_cache {
            get(m, t, FOUND).unwrap_or(self.page)
        } else {
            self.page
        }
    }
    /// Where `->fault` starts: the page-cache lookup, or the lock of the known page.
    fn fault_entry(&self) -> u8 {
        if self.from_cache { FIND } else { LOCK_PAGE }
    }
    /// Moves the thread to the fault's own step `pc`.
    fn goto<A: PmdOps>(&self, m: &mut Machine<A>, t: Tid, pc: u8) {
        m.goto(t, self.base + pc);
    }
}

impl<A: PmdOps> Program<A> for FileReadFault {
    fn name(&self) -> &'static str {
        match self.alloc {
            TableAlloc::UnderPageLock => "do_read_fault (table allocated in finish_fault, v4.8)",
            TableAlloc::Prealloc => "do_read_fault (table preallocated in __do_fault, v5.0, v6.12)",
        }
    }

    fn check(&self, limits: &Limits) -> Result<(), ProgramError> {
        limits.region_slot(self.region, self.slot)
    }

    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let r = self.region;
        match m.th(t).pc.wrapping_sub(self.base) {
            LOCK_MMAP => {
                if !m.mmap_read(t) {
                    return Step::Blocked(Wait::MmapRead);
                }
                set(m, t, FAILED, None);
                if let Some(inv) = self.fault_under_page_lock {
                    if m.holds_page_lock(t) {
                        m.flag(
                            inv.id(),
                            "a page fault starts while its thread holds a page lock",
                        );
                    }
                }
                self.goto(m, t, PMD_CHECK);
                Step::Ran("lock_mm_and_find_vma: mmap_read_lock")
            }
            PMD_CHECK => {
                let none = A::pmd_none(m.pmd_get(r));
                if none && self.alloc == TableAlloc::Prealloc {
                    set(m, t, AFTER_ALLOC, Some(self.fault_entry()));
                    self.goto(m, t, PREALLOC);
                    return Step::Ran(
                        "handle_pte_fault: pmd_none, do_read_fault; __do_fault: pmd_none && !prealloc_pte",
                    );
                }
                self.goto(m, t, self.fault_entry());
                Step::Ran("handle_pte_fault: do_read_fault, __do_fault")
            }
            PREALLOC => {
                if let Some(inv) = self.alloc_under_page_lock {
                    if m.holds_page_lock(t) {
                        m.flag(
                            inv.id(),
                            "a blocking page-table allocation starts with a page locked",
                        );
                    }
                }
                if self.reclaim_waits_on.is_none() {
                    return self.allocate(m, t, "pte_alloc_one");
                }
                self.goto(m, t, RECLAIM_WAIT);
                Step::Ran("pte_alloc_one: GFP_KERNEL, under memory pressure: direct reclaim")
            }
            RECLAIM_WAIT => {
                if let Some(l) = self.reclaim_waits_on {
                    if !m.mutex_lock(l, t) {
                        return Step::Blocked(Wait::Mutex(l));
                    }
                }
                self.goto(m, t, RECLAIM_DONE);
                Step::Ran("shrink_folio_list: waits for what reclaim needs")
            }
            RECLAIM_DONE => {
                if let Some(l) = self.reclaim_waits_on {
                    m.mutex_unlock(l, t);
                }
                self.allocate(m, t, "pte_alloc_one: reclaim done, the table allocated")
            }
            FIND => {
                if usize::from(self.slot) >= usize::from(m.i_size()) {
                    set(m, t, FAILED, Some(0));
                    self.goto(m, t, RETURN);
                    return Step::Ran("filemap_fault: index >= i_size: VM_FAULT_SIGBUS");
                }
                let Some(p) = m.cache_get(usize::from(self.slot)) else {
                    self.goto(m, t, RETURN);
                    return Step::Ran(
                        "filemap_fault: not cached; the read-in is not modelled: VM_FAULT_RETRY",
                    );
                };
                m.page_get(p);
                set(m, t, FOUND, Some(p));
                self.goto(m, t, LOCK_PAGE);
                Step::Ran("filemap_fault: filemap_get_folio: a folio, a reference")
            }
            LOCK_PAGE => {
                let page = self.page(m, t);
                if !m.page_lock(page, t) {
                    return Step::Blocked(Wait::PageLock(page));
                }
                if self.from_cache {
                    self.goto(m, t, if self.skip_recheck { FINISH } else { RECHECK });
                    return Step::Ran("filemap_fault: lock_folio_maybe_drop_mmap");
                }
                m.page_get(page);
                self.goto(m, t, FINISH);
                Step::Ran("filemap_fault: filemap_get_folio, folio_lock: VM_FAULT_LOCKED")
            }
            RECHECK => {
                let page = self.page(m, t);
                let index = usize::from(self.slot);
                if m.cache_get(index) != Some(page) {
                    m.page_unlock(page, t);
                    m.page_put(page);
                    self.goto(m, t, FIND);
                    return Step::Ran(
                        "filemap_fault: folio->mapping != mapping (truncated): unlock, put, retry_find",
                    );
                }
                if index >= usize::from(m.i_size()) {
                    set(m, t, FAILED, Some(0));
                    m.page_unlock(page, t);
                    m.page_put(page);
                    self.goto(m, t, RETURN);
                    return Step::Ran("filemap_fault: index >= i_size: VM_FAULT_SIGBUS");
                }
                self.goto(m, t, FINISH);
                Step::Ran(
                    "filemap_fault: mapping and i_size rechecked under the lock: VM_FAULT_LOCKED",
                )
            }
            FINISH => {
                let none = A::pmd_none(m.pmd_get(r));
                if !none {
                    self.goto(m, t, MAP_LOCK);
                    return Step::Ran("finish_fault: a table is there");
                }
                if get(m, t, SPARE).is_some() {
                    self.goto(m, t, INSTALL_LOCK);
                    return Step::Ran("finish_fault: pmd_none, pmd_install(prealloc_pte)");
                }
                set(m, t, AFTER_ALLOC, Some(INSTALL_LOCK));
                self.goto(m, t, PREALLOC);
                Step::Ran("finish_fault: pmd_none, no prealloc_pte: pte_alloc")
            }
            INSTALL_LOCK => {
                if !m.pmd_lock(r, t) {
                    return Step::Blocked(Wait::PmdLock(r));
                }
                self.goto(m, t, INSTALL);
                Step::Ran("pmd_install: pmd_lock")
            }
            INSTALL => {
                self.goto(m, t, INSTALL_UNLOCK);
                let Some(table) = get(m, t, SPARE) else {
                    m.flag(InvariantId::MODEL, "pmd_install without a table");
                    return Step::Ran("pmd_install: no table");
                };
                if pmd_install_locked(m, r, table) {
                    set(m, t, SPARE, None);
                    return Step::Ran("pmd_install: pmd_none, smp_wmb, pmd_populate");
                }
                Step::Ran("pmd_install: someone else populated the pmd")
            }
            INSTALL_UNLOCK => {
                m.pmd_unlock(r, t);
                if let Some(spare) = get(m, t, SPARE) {
                    set(m, t, SPARE, None);
                    m.table_free(spare);
                }
                self.goto(m, t, MAP_LOCK);
                Step::Ran("pmd_install: spin_unlock")
            }
            MAP_LOCK => {
                let pmd = m.pmd_get(r);
                let Some(table) = pte_offset_map(m, pmd) else {
                    m.page_put(self.page(m, t));
                    self.goto(m, t, UNLOCK_PAGE);
                    return Step::Ran("pte_offset_map_lock: NULL, VM_FAULT_NOPAGE: folio_put");
                };
                set(m, t, TABLE, Some(table));
                self.goto(m, t, MAP_PTL);
                Step::Ran("finish_fault: pte_offset_map_lock: a table")
            }
            MAP_PTL => {
                let table = get(m, t, TABLE).unwrap_or(0);
                if !m.ptl_lock(table, t) {
                    return Step::Blocked(Wait::Ptl(table));
                }
                self.goto(m, t, SET_PTE);
                Step::Ran("pte_offset_map_lock: spin_lock(ptl)")
            }
            SET_PTE => {
                let table = get(m, t, TABLE).unwrap_or(0);
                let slot = usize::from(self.slot);
                self.goto(m, t, PTE_UNLOCK);
                if !A::pte_none(m.pte_get(table, slot)) {
                    m.page_put(self.page(m, t));
                    return Step::Ran("finish_fault: vmf_pte_changed, VM_FAULT_NOPAGE: folio_put");
                }
                let prot = m.prot();
                let page = self.page(m, t);
                let pte = mk_pte_private(m, Machine::<A>::page_pfn(page), prot);
                m.pte_set(table, slot, pte);
                m.page_map(page, r, 1);
                Step::Ran("set_pte_range: folio_add_file_rmap_ptes, set_ptes")
            }
            PTE_UNLOCK => {
                let table = get(m, t, TABLE).unwrap_or(0);
                m.ptl_unlock(table, t);
                self.goto(m, t, UNLOCK_PAGE);
                Step::Ran("finish_fault: pte_unmap_unlock")
            }
            UNLOCK_PAGE => {
                m.page_unlock(self.page(m, t), t);
                self.goto(m, t, RETURN);
                Step::Ran("do_read_fault: folio_unlock")
            }
            _ => {
                if let Some(spare) = get(m, t, SPARE) {
                    set(m, t, SPARE, None);
                    m.table_free(spare);
                }
                m.mmap_read_unlock(t);
                match self.then {
                    Some(pc) => m.goto(t, pc),
                    None => finish(m, t),
                }
                Step::Ran("do_fault: pte_free(prealloc_pte) if unused; mmap_read_unlock")
            }
        }
    }
}
