//! MADV_DONTNEED as v6.12 does it: `madvise_dontneed_single_vma` → `zap_page_range_single`
//! → `unmap_page_range` → `zap_pmd_range` (mm/memory.c:1703), under `mmap_lock` read
//! (`madvise_need_mmap_write` is false for MADV_DONTNEED, mm/madvise.c:55).
//!
//! Per pmd, as v6.12 orders it:
//! - one lockless read: `is_swap_pmd || pmd_trans_huge` → `zap_huge_pmd` (mm/huge_memory.c:2095):
//!   `__pmd_trans_huge_lock` (:2584) takes the pmd lock and rechecks; then
//!   `pmdp_huge_get_and_clear_full`, the folio from a *present* pmd only — a non-present huge
//!   pmd without THP migration reaches `WARN_ONCE("Non present huge pmd without pmd migration
//!   enabled!")` (:2142) with a NULL folio that `folio_test_anon` dereferences (:2144):
//!   INV-ZAP-FOLIO —, the deposited table freed, the lock dropped;
//! - a second lockless read: `pmd_none` → next pmd; else `zap_pte_range` (:1582), whose
//!   `pte_offset_map_lock` (mm/pgtable-generic.c:364) returns NULL for a none, migration,
//!   huge or bad pmd — then `zap_pmd_range` retries **the same pmd** (`if (addr != next)
//!   pmd--`) — and rechecks `pmd_same` after taking the pte lock, retrying if it changed;
//! - the TLB flush is the mmu_gather's, once, in `tlb_finish_mmu` (mm/mmu_gather.c:464),
//!   not per pmd.

use crate::entry::PmdOps;

use super::super::super::Tid;
use super::super::super::invariant::InvariantId;
use super::super::super::mm::{Machine, SLOTS};
use super::super::super::program::{
    Limits, Locals, ProgramError, Step, TypedProgram, Wait, program_through_typed,
};
use super::super::{finish, is_swap_pmd};
use super::{MapLockSaved, PteOffsetMapLock, is_huge_zero_pmd, table_kept, zap_deposited_table};

/// `madvise(MADV_DONTNEED)` of whole regions `first..first + count`, v6.12.
#[derive(Clone, Copy, Debug)]
pub struct MadvDontneed {
    /// The first region (pmd index).
    pub first: u8,
    /// How many regions.
    pub count: u8,
}

impl MadvDontneed {
    /// MADV_DONTNEED of one region.
    pub const fn new(region: u8) -> Self {
        Self {
            first: region,
            count: 1,
        }
    }
    /// MADV_DONTNEED of `count` regions from `first`.
    pub const fn range(first: u8, count: u8) -> Self {
        Self { first, count }
    }
}

/// What the zap keeps between its steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ZapLocals {
    /// What `pte_offset_map_lock` mapped: the pmd value (rechecked with `pmd_same` under the
    /// lock) and its table. Kept, as the kernel's stack frame keeps it, past the pmd it was
    /// for.
    pub map: MapLockSaved,
    /// Which region of the range the zap is at (from `first`).
    pub cur: u8,
}

impl Locals for ZapLocals {
    fn to_regs(self) -> [u64; 4] {
        let [pmdval, table, ..] = self.map.to_regs();
        [pmdval, table, u64::from(self.cur), 0]
    }
    fn from_regs(regs: [u64; 4]) -> Self {
        Self {
            map: MapLockSaved::from_regs([regs[0], regs[1], 0, 0]),
            cur: regs[2] as u8,
        }
    }
}

const LOCK_MMAP: u8 = 0;
const HUGE_CHECK: u8 = 1;
const HUGE_LOCK: u8 = 2;
const HUGE_RECHECK: u8 = 3;
const HUGE_CLEAR: u8 = 4;
const HUGE_UNLOCK: u8 = 5;
const NONE_CHECK: u8 = 6;
const PTE_MAP: u8 = 7;
const PTE_LOCK: u8 = 8;
const PTE_RECHECK: u8 = 9;
const PTE_RETRY_UNLOCK: u8 = 10;
const PTE_CLEAR: u8 = 11; // one step per slot
const PTE_UNLOCK: u8 = PTE_CLEAR + SLOTS as u8;
const FINISH_MMU: u8 = PTE_UNLOCK + 1;
const RETURN: u8 = FINISH_MMU + 1;

/// `zap_pte_range`'s `pte_offset_map_lock` (mm/memory.c:1599): NULL makes `zap_pmd_range`
/// retry the same pmd (`if (addr != next) pmd--`).
const ZAP_PTE_MAP_LOCK: PteOffsetMapLock = PteOffsetMapLock {
    map: PTE_MAP,
    ptl: PTE_LOCK,
    recheck: PTE_RECHECK,
    retry: PTE_RETRY_UNLOCK,
    locked: PTE_CLEAR,
    none: HUGE_CHECK,
};

program_through_typed!(MadvDontneed);

impl<A: PmdOps> TypedProgram<A> for MadvDontneed {
    type Locals = ZapLocals;

    fn name(&self) -> &'static str {
        "madvise(MADV_DONTNEED) (v6.12)"
    }

    fn check(&self, limits: &Limits) -> Result<(), ProgramError> {
        limits.regions_range(u64::from(self.first), u64::from(self.count))
    }

    fn step(&self, m: &mut Machine<A>, t: Tid, l: &mut ZapLocals) -> Step {
        let r = self.first + l.cur;
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
                m.goto(t, HUGE_CHECK);
                Step::Ran("madvise: mmap_read_lock, tlb_gather_mmu")
            }
            HUGE_CHECK => {
                let pmd = m.pmd_get(r);
                if is_swap_pmd(pmd) || A::pmd_trans_huge(pmd) {
                    m.goto(t, HUGE_LOCK);
                    return Step::Ran("zap_pmd_range: is_swap_pmd || pmd_trans_huge, zap_huge_pmd");
                }
                m.goto(t, NONE_CHECK);
                Step::Ran("zap_pmd_range: not huge")
            }
            HUGE_LOCK => {
                if !m.pmd_lock(r, t) {
                    return Step::Blocked(Wait::PmdLock(r));
                }
                m.goto(t, HUGE_RECHECK);
                Step::Ran("__pmd_trans_huge_lock: pmd_lock")
            }
            HUGE_RECHECK => {
                let pmd = m.pmd_get(r);
                if is_swap_pmd(pmd) || A::pmd_trans_huge(pmd) {
                    m.goto(t, HUGE_CLEAR);
                    return Step::Ran("__pmd_trans_huge_lock: still huge under the lock");
                }
                m.pmd_unlock(r, t);
                m.goto(t, NONE_CHECK);
                Step::Ran("__pmd_trans_huge_lock: no longer huge, spin_unlock, fall through")
            }
            HUGE_CLEAR => {
                let orig = m.pmd_get(r);
                m.pmd_set(r, A::pmd_empty());
                let zero = is_huge_zero_pmd(orig);
                // A page-cache folio keeps a deposit only where the architecture needs one
                // (:2148); anonymous THPs and the huge zero page always have one.
                let mut deposited = true;
                if zero {
                    // :2120: the huge zero folio has no rmap to drop.
                } else if A::pmd_present(orig) {
                    if let Some(page) = m.page_of_pfn(A::pmd_pfn(orig)) {
                        m.page_map(page, r, -1);
                        deposited = !m.page(page).file || A::arch_needs_pgtable_deposit();
                    }
                } else {
                    // No pmd migration entries exist in the model: this is the WARN_ONCE
                    // branch, and folio_test_anon(NULL) follows.
                    m.flag(
                        InvariantId::ZAP_FOLIO,
                        "zap_huge_pmd cleared a non-present huge pmd: no folio (NULL dereference)",
                    );
                }
                if deposited {
                    zap_deposited_table(m, r);
                }
                m.goto(t, HUGE_UNLOCK);
                if zero {
                    return Step::Ran(
                        "zap_huge_pmd: pmdp_huge_get_and_clear_full, is_huge_zero_pmd, zap_deposited_table",
                    );
                }
                Step::Ran(
                    "zap_huge_pmd: pmdp_huge_get_and_clear_full, folio_remove_rmap_pmd, zap_deposited_table",
                )
            }
            HUGE_UNLOCK => {
                m.pmd_unlock(r, t);
                self.next_pmd(m, t, l, "zap_huge_pmd: spin_unlock, next pmd")
            }
            NONE_CHECK => {
                let pmd = m.pmd_get(r);
                if A::pmd_none(pmd) {
                    return self.next_pmd(m, t, l, "zap_pmd_range: pmd_none, skip the range");
                }
                m.goto(t, PTE_MAP);
                Step::Ran("zap_pmd_range: !pmd_none, zap_pte_range")
            }
            PTE_MAP..=PTE_RETRY_UNLOCK => ZAP_PTE_MAP_LOCK.step_with(m, t, r, &mut l.map),
            pc if pc < PTE_UNLOCK => {
                let slot = usize::from(pc - PTE_CLEAR);
                let Some(table) = self.table(m, t, l) else {
                    return Step::Ran("zap_pte_range: no table kept");
                };
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
                Step::Ran("zap_pte_range: ptep_get, zap_present_ptes / clear_not_present_full_ptes")
            }
            PTE_UNLOCK => {
                let Some(table) = self.table(m, t, l) else {
                    return Step::Ran("zap_pte_range: no table kept");
                };
                m.ptl_unlock(table, t);
                self.next_pmd(m, t, l, "zap_pte_range: pte_unmap_unlock, next pmd")
            }
            FINISH_MMU => {
                for i in 0..self.count {
                    m.tlb_flush_region(self.first + i);
                }
                m.goto(t, RETURN);
                Step::Ran("tlb_finish_mmu: flush the gathered range")
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
    /// `addr = next`: on to the next pmd of the range, or to the gather's flush.
    fn next_pmd<A: PmdOps>(
        &self,
        m: &mut Machine<A>,
        t: Tid,
        l: &mut ZapLocals,
        label: &'static str,
    ) -> Step {
        if l.cur + 1 < self.count {
            l.cur += 1;
            m.goto(t, HUGE_CHECK);
        } else {
            m.goto(t, FINISH_MMU);
        }
        Step::Ran(label)
    }

    /// The table `pte_offset_map_lock` mapped and locked, or INV-MODEL if it was lost.
    fn table<A: PmdOps>(&self, m: &mut Machine<A>, t: Tid, l: &ZapLocals) -> Option<u8> {
        table_kept(m, t, l.map.table, "zap_pte_range lost the table it locked")
    }
}
