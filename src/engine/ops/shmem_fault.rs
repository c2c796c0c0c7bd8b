//! A read fault on a shmem file page, as v6.12 has it: `shmem_fault` →
//! `shmem_get_folio_gfp(SGP_CACHE)` (mm/shmem.c) → `finish_fault`, under the VMA's lock
//! (the model takes `mmap_lock` for read: what `lock_vma_under_rcu` falls back to, and what
//! `UFFDIO_REGISTER`'s write lock excludes all the same).
//!
//! The lookup is `filemap_get_entry`: a lockless load that starts again on a retry entry
//! (modelled as waiting for `xa_lock`, whose holder is the only thread that leaves retry
//! entries behind); a folio found is locked and rechecked (`folio->mapping`, its index);
//! a hole in a VMA registered for MODE_MISSING goes to `handle_userfault`, which delivers
//! `UFFD_EVENT_PAGEFAULT`, drops the lock and sleeps until the monitor resolves the fault
//! (the thread ends there); any other hole gets a new folio, added with
//! `shmem_add_to_page_cache` under `xa_lock` (`-EEXIST` starts the lookup again). The page
//! is mapped at (region, index) of the table the scenario gave the region.

use crate::entry::PmdOps;

use super::super::Tid;
use super::super::invariant::InvariantId;
use super::super::mm::Machine;
use super::super::program::{Limits, Program, ProgramError, Step, Wait};
use super::super::state::locks::SpinlockId;
use super::super::state::page_cache::XaEntry;
use super::super::state::vma::VmFlags;
use super::collapse_file::CollapseGhost;
use super::v6_12::pte_offset_map;
use super::{finish, mk_pte};

/// A read fault at (region, index) of a shmem VMA.
#[derive(Clone, Copy, Debug)]
pub struct ShmemFault {
    /// The region (its VMA maps the file from index 0).
    pub region: u8,
    /// The file index (and pte slot).
    pub index: u8,
    /// The mapping's `xa_lock`.
    pub xa_lock: SpinlockId,
    /// The race-004 monitor cell: what the fault returned, and the events it delivered.
    pub ghost: CollapseGhost,
}

const LOCK: u8 = 0;
const LOOKUP: u8 = 1;
const LOCK_FOLIO: u8 = 2;
const RECHECK: u8 = 3;
const MISSING: u8 = 4;
const ALLOC: u8 = 5;
const ADD_LOCK: u8 = 6;
const ADD: u8 = 7;
const ADD_UNLOCK: u8 = 8;
const ADD_FAIL: u8 = 9;
const MAP_PTL: u8 = 10;
const SET_PTE: u8 = 11;
const PTE_UNLOCK: u8 = 12;
const UNLOCK: u8 = 13;

/// Registers: the folio + 1; the table.
const FOLIO: usize = 0;
const TABLE: usize = 1;

/// `shmem_alloc_folio` and `__folio_set_locked`: a new page-cache folio, locked by `t`
/// (nobody else can hold a new folio's lock); `None`, flagged as a model error, when the
/// page arena is full.
pub(crate) fn alloc_locked_folio<A: PmdOps>(m: &mut Machine<A>, t: Tid) -> Option<u8> {
    let Some(p) = m.page_alloc(false) else {
        m.flag(InvariantId::MODEL, "a new folio: the page arena is full");
        finish(m, t);
        return None;
    };
    m.page_set_file(p, true);
    let _ = m.page_lock(p, t);
    Some(p)
}

/// `shmem_add_to_page_cache(expected NULL)`'s store under `xa_lock`: `folio` at `index`,
/// `nrpages++` and the cache's reference; `Err` with what holds the slot (`-EEXIST`).
pub(crate) fn shmem_add_to_page_cache<A: PmdOps>(
    m: &mut Machine<A>,
    index: usize,
    folio: u8,
) -> Result<(), XaEntry> {
    match m.xa_load(index) {
        XaEntry::Empty => {
            m.xa_store(index, XaEntry::Page(folio));
            m.add_nrpages(1);
            m.page_get(folio);
            Ok(())
        }
        found => Err(found),
    }
}

impl<A: PmdOps> Program<A> for ShmemFault {
    fn name(&self) -> &'static str {
        "shmem_fault (v6.12)"
    }

    fn check(&self, limits: &Limits) -> Result<(), ProgramError> {
        limits.region_slot(self.region, self.index)?;
        limits.ghost_cell(self.ghost.0)
    }

    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let index = usize::from(self.index);
        let folio = (m.th(t).regs[FOLIO] as u8).wrapping_sub(1);
        let table = m.th(t).regs[TABLE] as u8;
        match m.th(t).pc {
            LOCK => {
                if !m.mmap_read(t) {
                    return Step::Blocked(Wait::MmapRead);
                }
                m.goto(t, LOOKUP);
                Step::Ran("lock_vma_under_rcu (mmap_read_lock)")
            }
            LOOKUP => match m.xa_load(index) {
                XaEntry::Retry => Step::Blocked(Wait::Spinlock(self.xa_lock)),
                XaEntry::Empty => {
                    m.goto(t, MISSING);
                    Step::Ran("shmem_get_folio_gfp: filemap_get_entry: a hole")
                }
                XaEntry::Page(p) => {
                    m.th_mut(t).regs[FOLIO] = u64::from(p) + 1;
                    m.goto(t, LOCK_FOLIO);
                    Step::Ran("shmem_get_folio_gfp: filemap_get_entry: a folio")
                }
            },
            LOCK_FOLIO => {
                if !m.page_lock(folio, t) {
                    return Step::Blocked(Wait::PageLock(folio));
                }
                m.goto(t, RECHECK);
                Step::Ran("folio_lock")
            }
            RECHECK => {
                if m.xa_load(index) != XaEntry::Page(folio) {
                    m.page_unlock(folio, t);
                    m.goto(t, LOOKUP);
                    return Step::Ran("folio->mapping != mapping: folio_unlock; repeat");
                }
                self.ghost.observe(m, index, folio);
                m.goto(t, MAP_PTL);
                Step::Ran("the folio is still the mapping's at the index: use it")
            }
            MISSING => {
                let registered = m
                    .vma_lookup(m.mm_of_thread(t), self.region)
                    .is_some_and(|v| m.vma(v).flags.contains(VmFlags::UFFD_MISSING));
                if registered {
                    self.ghost.event(m, index);
                    m.mmap_read_unlock(t);
                    finish(m, t);
                    return Step::Ran(
                        "userfaultfd_missing: handle_userfault: UFFD_EVENT_PAGEFAULT delivered; VM_FAULT_RETRY, sleeps until UFFDIO_COPY",
                    );
                }
                m.goto(t, ALLOC);
                Step::Ran("userfaultfd_missing: no")
            }
            ALLOC => {
                let Some(p) = alloc_locked_folio(m, t) else {
                    return Step::Ran("shmem_alloc_folio: no page");
                };
                m.th_mut(t).regs[FOLIO] = u64::from(p) + 1;
                m.goto(t, ADD_LOCK);
                Step::Ran("shmem_alloc_and_add_folio: shmem_alloc_folio, __folio_set_locked")
            }
            ADD_LOCK => {
                if !m.spin_lock(self.xa_lock, t) {
                    return Step::Blocked(Wait::Spinlock(self.xa_lock));
                }
                m.goto(t, ADD);
                Step::Ran("shmem_add_to_page_cache: xas_lock_irq")
            }
            ADD => {
                if shmem_add_to_page_cache(m, index, folio).is_err() {
                    m.goto(t, ADD_FAIL);
                    return Step::Ran("xas_find_conflict: the slot is taken: -EEXIST");
                }
                m.goto(t, ADD_UNLOCK);
                Step::Ran("xas_store(folio); mapping->nrpages++")
            }
            ADD_UNLOCK => {
                m.spin_unlock(self.xa_lock, t);
                m.goto(t, MAP_PTL);
                Step::Ran("xas_unlock_irq")
            }
            ADD_FAIL => {
                m.spin_unlock(self.xa_lock, t);
                m.page_unlock(folio, t);
                m.page_put(folio);
                m.goto(t, LOOKUP);
                Step::Ran("xas_unlock_irq; folio_unlock, folio_put; -EEXIST: repeat the lookup")
            }
            MAP_PTL => {
                let pmd = m.pmd_get(self.region);
                let Some(tab) = pte_offset_map(m, pmd) else {
                    m.flag(
                        InvariantId::MODEL,
                        "shmem fault: the model maps only into a table the scenario set up",
                    );
                    finish(m, t);
                    return Step::Ran("finish_fault: no table");
                };
                if !m.ptl_lock(tab, t) {
                    return Step::Blocked(Wait::Ptl(tab));
                }
                m.th_mut(t).regs[TABLE] = u64::from(tab);
                m.goto(t, SET_PTE);
                Step::Ran("finish_fault: pte_offset_map_lock")
            }
            SET_PTE => {
                let pte = m.pte_get(table, index);
                if !A::pte_none(pte) {
                    m.goto(t, PTE_UNLOCK);
                    return Step::Ran("finish_fault: vmf_pte_changed: mapped already");
                }
                // A huge folio's subpage at the index, or the small folio.
                let offset = if m.page(folio).huge { index as u64 } else { 0 };
                let v = mk_pte(m, Machine::<A>::page_pfn(folio) + offset);
                m.pte_set(table, index, v);
                m.page_map(folio, self.region, 1);
                m.goto(t, PTE_UNLOCK);
                Step::Ran("finish_fault: set_pte_range: the folio mapped")
            }
            PTE_UNLOCK => {
                m.ptl_unlock(table, t);
                m.goto(t, UNLOCK);
                Step::Ran("pte_unmap_unlock")
            }
            UNLOCK => {
                m.page_unlock(folio, t);
                m.mmap_read_unlock(t);
                finish(m, t);
                Step::Ran("folio_unlock; vma_end_read")
            }
            _ => {
                finish(m, t);
                Step::Ran("shmem_fault: no such step")
            }
        }
    }
}
