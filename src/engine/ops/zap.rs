//! MADV_DONTNEED over one region under `mmap_lock` read: `zap_pmd_range` (mm/memory.c) with
//! its lockless pmd checks, then `zap_huge_pmd` under the pmd lock or `zap_pte_range` under the
//! pte lock, then the TLB flush of `tlb_finish_mmu`.
//!
//! Kernel: the v4.5-era shape, with a flush per pmd (v4.5 itself is not in this project's
//! source index, so no v4.5 line numbers are given). The v6.12 counterparts, modelled in
//! [`super::v6_12::zap`] with the deferred mmu_gather flush, are mm/memory.c:1703
//! (`zap_pmd_range`), mm/huge_memory.c:2095 (`zap_huge_pmd`), mm/memory.c:1582
//! (`zap_pte_range`) and mm/mmu_gather.c:464 (`tlb_finish_mmu`).

use crate::entry::PmdOps;

use super::super::Tid;
use super::super::invariant::InvariantId;
use super::super::mm::{Machine, SLOTS};
use super::super::program::{Limits, Program, ProgramError, Step, Wait};
use super::{finish, is_swap_pmd};

/// `madvise(MADV_DONTNEED)` of whole regions `first..first + count`.
#[derive(Clone, Copy, Debug)]
pub struct MadvDontneed {
    /// The first region (pmd index).
    pub first: u8,
    /// How many regions.
    pub count: u8,
    /// Mutation for tests: `zap_huge_pmd` without taking the pmd lock.
    pub zap_huge_unlocked: bool,
}

impl MadvDontneed {
    /// MADV_DONTNEED of one region, as Linux does it.
    pub const fn new(region: u8) -> Self {
        Self {
            first: region,
            count: 1,
            zap_huge_unlocked: false,
        }
    }
    /// MADV_DONTNEED of `count` regions from `first`.
    pub const fn range(first: u8, count: u8) -> Self {
        Self {
            first,
            count,
            zap_huge_unlocked: false,
        }
    }
}

const TABLE: usize = 1;
/// Which region of the range the zap is at.
const CUR: usize = 2;

// Program counters.
const LOCK_MMAP: u8 = 0;
const CLASSIFY: u8 = 1;
const HUGE_LOCK: u8 = 2;
const HUGE_ZAP: u8 = 3;
const RECHECK: u8 = 4;
const PTE_MAP: u8 = 5;
const PTE_LOCK: u8 = 6;
const PTE_CLEAR: u8 = 7; // one step per slot
const PTE_UNLOCK: u8 = PTE_CLEAR + SLOTS as u8;
const FLUSH: u8 = PTE_UNLOCK + 1;
const RETURN: u8 = FLUSH + 1;

impl<A: PmdOps> Program<A> for MadvDontneed {
    fn name(&self) -> &'static str {
        "madvise(MADV_DONTNEED)"
    }

    fn check(&self, limits: &Limits) -> Result<(), ProgramError> {
        limits.regions_range(u64::from(self.first), u64::from(self.count))
    }

    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let r = self.first + m.th(t).regs[CUR] as u8;
        let pc = m.th(t).pc;
        match pc {
            LOCK_MMAP => {
                if !m.mmap_read(t) {
                    return Step::Blocked(Wait::MmapRead);
                }
                // The pages mapped when the call begins: none may stay reachable after it.
                m.ghost();
                let mut mapped = 0u16;
                let range = self.first..self.first + self.count;
                for (i, p) in m.allocated_pages() {
                    if p.mapcount > 0 && range.clone().any(|r| p.maps_in(r) > 0) {
                        mapped |= 1 << i;
                    }
                }
                m.dontneed_add_pages(mapped);
                m.goto(t, CLASSIFY);
                Step::Ran("madvise: mmap_read_lock")
            }
            CLASSIFY => {
                let pmd = m.pmd_get(r);
                if is_swap_pmd(pmd) || A::pmd_trans_huge(pmd) {
                    let next = if self.zap_huge_unlocked {
                        HUGE_ZAP
                    } else {
                        HUGE_LOCK
                    };
                    m.goto(t, next);
                    return Step::Ran(
                        "zap_pmd_range: is_swap_pmd || pmd_trans_huge, go zap_huge_pmd",
                    );
                }
                self.pte_or_skip(m, t, pmd)
            }
            HUGE_LOCK => {
                if !m.pmd_lock(r, t) {
                    return Step::Blocked(Wait::PmdLock(r));
                }
                m.goto(t, HUGE_ZAP);
                Step::Ran("zap_huge_pmd: __pmd_trans_huge_lock")
            }
            HUGE_ZAP => {
                let pmd = m.pmd_get(r);
                let locked = !self.zap_huge_unlocked;
                if !(A::pmd_trans_huge(pmd) || is_swap_pmd(pmd)) {
                    if locked {
                        m.pmd_unlock(r, t);
                    }
                    m.goto(t, RECHECK);
                    return Step::Ran("zap_huge_pmd: no longer huge under the lock, fall through");
                }
                m.pmd_set(r, A::pmd_empty());
                match m.withdraw(r) {
                    Some(table) => m.table_free(table),
                    None => m.flag(
                        InvariantId::DEPOSIT,
                        "zap_huge_pmd withdrew from an empty deposit list",
                    ),
                }
                if let Some(page) = m.page_of_pfn(A::pmd_pfn(pmd)) {
                    m.page_map(page, r, -1);
                }
                if locked {
                    m.pmd_unlock(r, t);
                }
                m.goto(t, FLUSH);
                Step::Ran("zap_huge_pmd: pmdp_huge_get_and_clear, free the deposited table")
            }
            RECHECK => {
                let pmd = m.pmd_get(r);
                self.pte_or_skip(m, t, pmd)
            }
            PTE_MAP => {
                // pte_offset_map_lock: read the pmd again to find the table and its lock.
                let pmd = m.pmd_get(r);
                match m
                    .table_of(pmd)
                    .filter(|_| !A::pmd_none(pmd) && !A::pmd_trans_huge(pmd))
                {
                    Some(table) => {
                        m.th_mut(t).regs[TABLE] = u64::from(table);
                        m.goto(t, PTE_LOCK);
                        Step::Ran("zap_pte_range: pte_offset_map_lock reads the pmd")
                    }
                    None => {
                        m.goto(t, FLUSH);
                        Step::Ran("zap_pte_range: pmd changed, no table to map")
                    }
                }
            }
            PTE_LOCK => {
                let table = m.th(t).regs[TABLE] as u8;
                if !m.ptl_lock(table, t) {
                    return Step::Blocked(Wait::Ptl(table));
                }
                m.goto(t, PTE_CLEAR);
                Step::Ran("zap_pte_range: spin_lock(ptl)")
            }
            pc if pc < PTE_UNLOCK => {
                let slot = usize::from(pc - PTE_CLEAR);
                let table = m.th(t).regs[TABLE] as u8;
                let pte = m.pte_get(table, slot);
                if !A::pte_none(pte) {
                    m.pte_set(table, slot, A::pte_empty(Machine::<A>::slot_addr(r, slot)));
                    if A::pte_present(pte) {
                        if let Some(page) = m.page_of_pfn(A::pte_pfn(pte)) {
                            m.page_map(page, r, -1);
                        }
                    }
                }
                m.goto(t, pc + 1);
                Step::Ran("zap_pte_range: ptep_get_and_clear_full")
            }
            PTE_UNLOCK => {
                let table = m.th(t).regs[TABLE] as u8;
                m.ptl_unlock(table, t);
                m.goto(t, FLUSH);
                Step::Ran("zap_pte_range: pte_unmap_unlock")
            }
            FLUSH => {
                m.tlb_flush_region(r);
                let cur = m.th(t).regs[CUR] + 1;
                if cur < u64::from(self.count) {
                    m.th_mut(t).regs[CUR] = cur;
                    m.goto(t, CLASSIFY);
                    return Step::Ran("zap_pmd_range: flush this pmd's range, next pmd");
                }
                m.goto(t, RETURN);
                Step::Ran("tlb_finish_mmu: flush the range")
            }
            _ => {
                m.mmap_read_unlock(t);
                m.ghost();
                for i in 0..self.count {
                    m.dontneed_mark_done(self.first + i);
                }
                finish(m, t);
                Step::Ran("madvise: mmap_read_unlock, MADV_DONTNEED returns")
            }
        }
    }
}

impl MadvDontneed {
    /// `pmd_none_or_trans_huge_or_clear_bad`: skip an empty (or bad) pmd, else zap its ptes.
    fn pte_or_skip<A: PmdOps>(&self, m: &mut Machine<A>, t: Tid, pmd: crate::Pmd<A>) -> Step {
        if A::pmd_none(pmd) {
            m.goto(t, FLUSH);
            Step::Ran("zap_pmd_range: pmd_none, skip the range")
        } else if A::pmd_bad(pmd) || A::pmd_trans_huge(pmd) {
            m.goto(t, FLUSH);
            Step::Ran("zap_pmd_range: pmd_none_or_trans_huge_or_clear_bad, skip")
        } else {
            m.goto(t, PTE_MAP);
            Step::Ran("zap_pmd_range: a table, go zap_pte_range")
        }
    }
}
