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
//!
//! A write fault ([`FileReadFault::write`]) is `do_fault`'s other two branches (v6.12
//! mm/memory.c:5461): in a private mapping `do_cow_fault` (:5342) allocates the copy first
//! (`folio_prealloc`), lets `->fault` return the page-cache page locked, copies it and maps
//! the copy as an exclusive anonymous page (`set_pte_range`, :5045: `maybe_mkwrite(
//! pte_mkdirty())`, `folio_add_new_anon_rmap(RMAP_EXCLUSIVE)`), then `unlock_page` and
//! `put_page` of the cache page and, when `finish_fault` gave up (`VM_FAULT_NOPAGE`), a
//! `folio_put` of the copy; in a `VM_SHARED` one `do_shared_fault` (:5384) maps the cache
//! page itself writable and dirty (`folio_add_file_rmap_ptes`) and
//! `fault_dirty_shared_page` (:3192) marks it dirty and unlocks it. shmem has no
//! `->page_mkwrite`, so the page stays locked from `->fault` to that unlock (a file system
//! with one unlocks it around `do_page_mkwrite`: not modelled). The mapping is shared when
//! the mm's VMA tree has a `VM_SHARED` VMA at the region (as `do_wp_page` asks).

use crate::entry::PmdOps;

use super::super::Tid;
use super::super::invariant::{Invariant, InvariantId};
use super::super::mm::Machine;
use super::super::program::{Limits, Program, ProgramError, Step, Wait};
use super::super::state::locks::MutexId;
use super::finish;
use super::pfn_pte;
use super::v6_12::{anon_pte, mk_pte_private, pmd_install_locked, pte_offset_map};

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
    /// `FAULT_FLAG_WRITE`: `do_cow_fault` in a private mapping, `do_shared_fault` in a
    /// shared one (v6.12), instead of `do_read_fault`.
    pub write: bool,
}

/// The steps a [`FileReadFault`] uses from its [`base`](FileReadFault::base).
pub const FILE_FAULT_STEPS: u8 = 19;

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
            write: false,
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
const COW_ALLOC: u8 = 18;

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
/// `do_cow_fault`'s copy until it is mapped (or put back).
const COW: u32 = 5;
/// `do_shared_fault`: 0 while the page is not mapped yet, 1 once `finish_fault` mapped it.
const SHARED_WRITE: u32 = 6;

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
        match (self.write, self.alloc) {
            (false, TableAlloc::UnderPageLock) => {
                "do_read_fault (table allocated in finish_fault, v4.8)"
            }
            (false, TableAlloc::Prealloc) => {
                "do_read_fault (table preallocated in __do_fault, v5.0, v6.12)"
            }
            (true, TableAlloc::UnderPageLock) => {
                "do_cow_fault / do_shared_fault (table allocated in finish_fault, v4.8)"
            }
            (true, TableAlloc::Prealloc) => "do_cow_fault / do_shared_fault (v6.12)",
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
                set(m, t, SHARED_WRITE, None);
                if let Some(inv) = self.fault_under_page_lock {
                    if m.holds_page_lock(t) {
                        m.flag(
                            inv.id(),
                            "a page fault starts while its thread holds a page lock",
                        );
                    }
                }
                if !self.write {
                    self.goto(m, t, PMD_CHECK);
                    return Step::Ran("lock_mm_and_find_vma: mmap_read_lock");
                }
                let shared = m.vma_shared(r);
                if shared {
                    set(m, t, SHARED_WRITE, Some(0));
                    self.goto(m, t, PMD_CHECK);
                    return Step::Ran(
                        "lock_mm_and_find_vma: mmap_read_lock; VM_SHARED: do_shared_fault",
                    );
                }
                self.goto(m, t, COW_ALLOC);
                Step::Ran("lock_mm_and_find_vma: mmap_read_lock; private: do_cow_fault")
            }
            COW_ALLOC => {
                let Some(copy) = m.page_alloc(false) else {
                    m.flag(InvariantId::MODEL, "page arena full");
                    self.goto(m, t, RETURN);
                    return Step::Ran("do_cow_fault: folio_prealloc failed, VM_FAULT_OOM");
                };
                set(m, t, COW, Some(copy));
                self.goto(m, t, PMD_CHECK);
                Step::Ran("do_cow_fault: vmf_anon_prepare, folio_prealloc")
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
                    self.goto(m, t, UNLOCK_PAGE);
                    if get(m, t, COW).is_some() {
                        return Step::Ran("pte_offset_map_lock: NULL, VM_FAULT_NOPAGE");
                    }
                    m.page_put(self.page(m, t));
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
                let copy = get(m, t, COW);
                if !A::pte_none(m.pte_get(table, slot)) {
                    if copy.is_some() {
                        return Step::Ran("finish_fault: vmf_pte_changed, VM_FAULT_NOPAGE");
                    }
                    m.page_put(self.page(m, t));
                    return Step::Ran("finish_fault: vmf_pte_changed, VM_FAULT_NOPAGE: folio_put");
                }
                let prot = m.prot();
                if let Some(copy) = copy {
                    let pte = anon_pte(m, Machine::<A>::page_pfn(copy), prot);
                    m.pte_set(table, slot, pte);
                    m.page_map(copy, r, 1);
                    m.page_set_anon_exclusive(copy, true);
                    set(m, t, COW, None);
                    return Step::Ran(
                        "set_pte_range: copy-on-write page: maybe_mkwrite(pte_mkdirty), \
                         folio_add_new_anon_rmap(RMAP_EXCLUSIVE), set_ptes",
                    );
                }
                let page = self.page(m, t);
                let pfn = Machine::<A>::page_pfn(page);
                if get(m, t, SHARED_WRITE).is_some() {
                    let mut pte = A::pte_mkdirty(pfn_pte(m, pfn, prot));
                    if prot.writable() {
                        pte = A::pte_mkwrite(pte);
                    }
                    m.pte_set(table, slot, pte);
                    m.page_map(page, r, 1);
                    set(m, t, SHARED_WRITE, Some(1));
                    return Step::Ran(
                        "set_pte_range: maybe_mkwrite(pte_mkdirty), folio_add_file_rmap_ptes, set_ptes",
                    );
                }
                let pte = mk_pte_private(m, pfn, prot);
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
                let page = self.page(m, t);
                m.page_unlock(page, t);
                self.goto(m, t, RETURN);
                if self.write && get(m, t, SHARED_WRITE).is_none() {
                    m.page_put(page);
                    return Step::Ran("do_cow_fault: unlock_page, put_page(vmf->page)");
                }
                match get(m, t, SHARED_WRITE) {
                    Some(1) => Step::Ran("fault_dirty_shared_page: folio_mark_dirty, folio_unlock"),
                    Some(_) => Step::Ran("do_shared_fault: VM_FAULT_NOPAGE: folio_unlock"),
                    None => Step::Ran("do_read_fault: folio_unlock"),
                }
            }
            _ => {
                let copy = get(m, t, COW);
                if let Some(copy) = copy {
                    set(m, t, COW, None);
                    m.page_put(copy);
                }
                if let Some(spare) = get(m, t, SPARE) {
                    set(m, t, SPARE, None);
                    m.table_free(spare);
                }
                m.mmap_read_unlock(t);
                match self.then {
                    Some(pc) => m.goto(t, pc),
                    None => finish(m, t),
                }
                Step::Ran(if copy.is_some() {
                    "do_cow_fault: uncharge_out: folio_put(copy); do_fault: pte_free(prealloc_pte) \
                     if unused; mmap_read_unlock"
                } else {
                    "do_fault: pte_free(prealloc_pte) if unused; mmap_read_unlock"
                })
            }
        }
    }
}
