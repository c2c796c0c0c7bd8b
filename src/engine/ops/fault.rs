//! Anonymous page fault (mm/memory.c `__handle_mm_fault` → `do_huge_pmd_anonymous_page` or
//! `handle_pte_fault` → `do_anonymous_page`), under `mmap_lock` read.
//!
//! The huge path preallocates a pte table and deposits it under the new huge pmd (the table a
//! later split withdraws); a pmd that is no longer none under the pmd lock makes it back off.
//! Architectures without THP take `__pte_alloc` → `pmd_install` instead.
//!
//! Kernel: the v4.5-era shape of these functions (the race-002 "v4.5" column; v4.5 itself is
//! not in this project's source index, so no v4.5 line numbers are given). Their v6.12
//! counterparts, modelled step by step in [`super::v6_12::fault`], are mm/memory.c:5849
//! (`__handle_mm_fault`), mm/huge_memory.c:1324 (`do_huge_pmd_anonymous_page`) and
//! mm/memory.c:4745 (`do_anonymous_page`).

use crate::entry::PmdOps;

use super::super::Tid;
use super::super::invariant::InvariantId;
use super::super::mm::{Machine, NO_PAGE};
use super::super::program::{Limits, Program, ProgramError, Step, Wait};
use super::{finish, is_swap_pmd, mk_pte};

/// A user access that faults at (region, slot).
#[derive(Clone, Copy, Debug)]
pub struct AnonFault {
    /// The region (pmd index).
    pub region: u8,
    /// The pte slot within it.
    pub slot: u8,
    /// Whether the VMA allows a huge page here (THP enabled, aligned, large enough).
    pub huge: bool,
    /// Mutation for tests: `pte_free` the preallocated table after depositing it, so the
    /// deposit list holds a freed table (ownership given away twice).
    pub free_instead_of_deposit: bool,
}

impl AnonFault {
    /// A fault at (region, slot) that may take the huge path.
    pub const fn new(region: u8, slot: u8) -> Self {
        Self {
            region,
            slot,
            huge: true,
            free_instead_of_deposit: false,
        }
    }
}

const ORIG: usize = 0;
const TABLE: usize = 1;
const PAGE: usize = 2;
const RETRIES: usize = 3;

const LOCK_MMAP: u8 = 0;
const READ_PMD: u8 = 1;
const HUGE_ALLOC: u8 = 2;
const HUGE_LOCK: u8 = 3;
const HUGE_SET: u8 = 4;
const PTE_ALLOC: u8 = 5;
const PTE_INSTALL_LOCK: u8 = 6;
const PTE_INSTALL: u8 = 7;
const READ_PTE: u8 = 8;
const PAGE_ALLOC: u8 = 9;
const PTL_LOCK: u8 = 10;
const SET_PTE: u8 = 11;
const MIGRATION_WAIT: u8 = 12;
const MIGRATION_UNLOCK: u8 = 13;
const RETURN: u8 = 14;

/// How many times a fault retries after waiting for a split before giving up (bounds the
/// state space; the kernel retries until the access succeeds).
const MAX_RETRIES: u64 = 1;

impl<A: PmdOps> Program<A> for AnonFault {
    fn name(&self) -> &'static str {
        "handle_mm_fault (anonymous)"
    }

    fn check(&self, limits: &Limits) -> Result<(), ProgramError> {
        limits.region_slot(self.region, self.slot)
    }

    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let r = self.region;
        let slot = usize::from(self.slot);
        match m.th(t).pc {
            LOCK_MMAP => {
                if !m.mmap_read(t) {
                    return Step::Blocked(Wait::MmapRead);
                }
                m.goto(t, READ_PMD);
                Step::Ran("lock_mm_and_find_vma: mmap_read_lock")
            }
            READ_PMD => {
                let pmd = m.pmd_get(r);
                m.th_mut(t).regs[ORIG] = pmd.raw_u64();
                if A::pmd_none(pmd) {
                    if self.huge && A::GEOMETRY.has_thp {
                        m.goto(t, HUGE_ALLOC);
                        return Step::Ran(
                            "__handle_mm_fault: pmd_none, do_huge_pmd_anonymous_page",
                        );
                    }
                    m.goto(t, PTE_ALLOC);
                    return Step::Ran("__handle_mm_fault: pmd_none, __pte_alloc");
                }
                if is_swap_pmd(pmd) {
                    m.goto(t, MIGRATION_WAIT);
                    return Step::Ran("__handle_mm_fault: is_swap_pmd, pmd_migration_entry_wait");
                }
                if A::pmd_trans_huge(pmd) {
                    m.goto(t, RETURN);
                    return Step::Ran("__handle_mm_fault: pmd_trans_huge, huge_pmd_set_accessed");
                }
                match m.table_of(pmd) {
                    Some(table) => {
                        m.th_mut(t).regs[TABLE] = u64::from(table);
                        m.goto(t, READ_PTE);
                        Step::Ran("__handle_mm_fault: a table, handle_pte_fault")
                    }
                    None => {
                        m.goto(t, RETURN);
                        Step::Ran("__handle_mm_fault: pmd_bad, VM_FAULT_SIGBUS")
                    }
                }
            }
            HUGE_ALLOC => {
                let (Some(page), Some(table)) = (m.page_alloc(true), m.table_alloc(r)) else {
                    m.flag(InvariantId::MODEL, "page or table arena full");
                    m.goto(t, RETURN);
                    return Step::Ran("do_huge_pmd_anonymous_page: allocation failed");
                };
                let th = m.th_mut(t);
                th.regs[PAGE] = u64::from(page);
                th.regs[TABLE] = u64::from(table);
                m.goto(t, HUGE_LOCK);
                Step::Ran("do_huge_pmd_anonymous_page: alloc the THP and pte_alloc_one")
            }
            HUGE_LOCK => {
                if !m.pmd_lock(r, t) {
                    return Step::Blocked(Wait::PmdLock(r));
                }
                m.goto(t, HUGE_SET);
                Step::Ran("__do_huge_pmd_anonymous_page: pmd_lock")
            }
            HUGE_SET => {
                let page = m.th(t).regs[PAGE] as u8;
                let table = m.th(t).regs[TABLE] as u8;
                let cur = m.pmd_get(r);
                if !A::pmd_none(cur) {
                    m.page_put(page);
                    m.table_free(table);
                    m.pmd_unlock(r, t);
                    m.goto(t, RETURN);
                    return Step::Ran(
                        "__do_huge_pmd_anonymous_page: !pmd_none under the lock, back off",
                    );
                }
                match A::mk_huge_pmd_anon(Machine::<A>::page_pfn(page), m.prot()) {
                    Ok(huge) => m.pmd_set(r, huge),
                    Err(_) => m.flag(InvariantId::MODEL, "mk_huge_pmd refused a modelled page"),
                }
                m.deposit(r, table);
                if self.free_instead_of_deposit {
                    m.table_free(table);
                }
                m.page_map(page, r, 1);
                m.pmd_unlock(r, t);
                m.goto(t, RETURN);
                Step::Ran("__do_huge_pmd_anonymous_page: set_pmd_at, pgtable_trans_huge_deposit")
            }
            PTE_ALLOC => {
                let Some(table) = m.table_alloc(r) else {
                    m.flag(InvariantId::MODEL, "table arena full");
                    m.goto(t, RETURN);
                    return Step::Ran("__pte_alloc: allocation failed");
                };
                m.th_mut(t).regs[TABLE] = u64::from(table);
                m.goto(t, PTE_INSTALL_LOCK);
                Step::Ran("__pte_alloc: pte_alloc_one")
            }
            PTE_INSTALL_LOCK => {
                if !m.pmd_lock(r, t) {
                    return Step::Blocked(Wait::PmdLock(r));
                }
                m.goto(t, PTE_INSTALL);
                Step::Ran("pmd_install: pmd_lock")
            }
            PTE_INSTALL => {
                let table = m.th(t).regs[TABLE] as u8;
                let cur = m.pmd_get(r);
                if A::pmd_none(cur) {
                    match A::pmd_populate(Machine::<A>::table_pfn(table)) {
                        Ok(pmd) => m.pmd_set(r, pmd),
                        Err(_) => {
                            m.flag(InvariantId::MODEL, "pmd_populate refused a modelled table")
                        }
                    }
                    m.pmd_unlock(r, t);
                    m.goto(t, READ_PTE);
                    return Step::Ran("pmd_install: pmd_populate");
                }
                m.table_free(table);
                m.pmd_unlock(r, t);
                match m.table_of(cur).filter(|_| !A::pmd_trans_huge(cur)) {
                    Some(other) => {
                        m.th_mut(t).regs[TABLE] = u64::from(other);
                        m.goto(t, READ_PTE);
                    }
                    None => m.goto(t, RETURN),
                }
                Step::Ran("pmd_install: someone else populated the pmd, pte_free")
            }
            READ_PTE => {
                let table = m.th(t).regs[TABLE] as u8;
                let pte = m.pte_get(table, slot);
                m.th_mut(t).regs[ORIG] = pte.raw_u64();
                if A::pte_none(pte) {
                    m.goto(t, PAGE_ALLOC);
                    return Step::Ran("handle_pte_fault: orig_pte = ptep_get_lockless, pte_none");
                }
                m.goto(t, RETURN);
                Step::Ran("handle_pte_fault: pte present, nothing to do")
            }
            PAGE_ALLOC => {
                let Some(page) = m.page_alloc(false) else {
                    m.flag(InvariantId::MODEL, "page arena full");
                    m.goto(t, RETURN);
                    return Step::Ran("do_anonymous_page: allocation failed");
                };
                m.th_mut(t).regs[PAGE] = u64::from(page);
                m.goto(t, PTL_LOCK);
                Step::Ran("do_anonymous_page: alloc_anon_folio")
            }
            PTL_LOCK => {
                let table = m.th(t).regs[TABLE] as u8;
                if !m.ptl_lock(table, t) {
                    return Step::Blocked(Wait::Ptl(table));
                }
                m.goto(t, SET_PTE);
                Step::Ran("do_anonymous_page: pte_offset_map_lock")
            }
            SET_PTE => {
                let table = m.th(t).regs[TABLE] as u8;
                let page = m.th(t).regs[PAGE] as u8;
                let cur = m.pte_get(table, slot);
                if A::pte_none(cur) {
                    let pte = mk_pte(m, Machine::<A>::page_pfn(page));
                    let pte = A::pte_mkyoung(A::pte_mkdirty(A::pte_mkwrite(pte)));
                    m.pte_set(table, slot, pte);
                    m.page_map(page, r, 1);
                } else {
                    m.page_put(page);
                }
                m.ptl_unlock(table, t);
                m.goto(t, RETURN);
                Step::Ran("do_anonymous_page: vmf_pte_changed? else set_pte_at, pte_unmap_unlock")
            }
            MIGRATION_WAIT => {
                if !m.pmd_lock(r, t) {
                    return Step::Blocked(Wait::PmdLock(r));
                }
                m.goto(t, MIGRATION_UNLOCK);
                Step::Ran("pmd_migration_entry_wait: pmd_lock")
            }
            MIGRATION_UNLOCK => {
                m.pmd_unlock(r, t);
                let retries = m.th(t).regs[RETRIES];
                if retries < MAX_RETRIES {
                    m.th_mut(t).regs[RETRIES] = retries + 1;
                    m.goto(t, READ_PMD);
                    return Step::Ran(
                        "pmd_migration_entry_wait: not a migration entry, retry the fault",
                    );
                }
                m.goto(t, RETURN);
                Step::Ran("pmd_migration_entry_wait: unlock, return to retry")
            }
            _ => {
                m.mmap_read_unlock(t);
                finish(m, t);
                let _ = NO_PAGE;
                Step::Ran("handle_mm_fault: mmap_read_unlock")
            }
        }
    }
}
