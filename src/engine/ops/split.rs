//! THP split: `__split_huge_pmd` → `__split_huge_pmd_locked` (mm/huge_memory.c), in the v4.5
//! shape the 2016 race was found in.
//!
//! Under the pmd lock: withdraw the deposited table and fill it with ptes for every subpage
//! (private, not yet visible), `pmdp_invalidate` (the value is the backend's own) with its TLB
//! flush, then `pmd_populate` to publish the table. Between the invalidate and the populate
//! the pmd holds whatever the architecture's invalidate left: on ARM LPAE before the fix,
//! zero.

use crate::entry::PmdOps;

use super::super::Tid;
use super::super::invariant::InvariantId;
use super::super::mm::{Machine, NO_PAGE, SLOTS};
use super::super::program::{Limits, Program, ProgramError, Step, Wait};
use super::{finish, mk_pte};

/// `__split_huge_pmd` of one region.
#[derive(Clone, Copy, Debug)]
pub struct SplitHugePmd {
    /// The region (pmd index).
    pub region: u8,
    /// Whether the caller holds `mmap_lock` for read (MADV_DONTNEED of a sub-range does;
    /// rmap-driven splits do not).
    pub mmap_read: bool,
    /// Mutation for tests: skip `flush_pmd_tlb_range` after the invalidate.
    pub skip_tlb_flush: bool,
}

impl SplitHugePmd {
    /// The split as Linux does it, under `mmap_lock` read.
    pub const fn new(region: u8) -> Self {
        Self {
            region,
            mmap_read: true,
            skip_tlb_flush: false,
        }
    }
}

const ORIG: usize = 0;
const TABLE: usize = 1;
const PAGE: usize = 2;

const LOCK_MMAP: u8 = 0;
const PMD_LOCK: u8 = 1;
const CHECK_HUGE: u8 = 2;
const WITHDRAW_FILL: u8 = 3;
const INVALIDATE: u8 = 4;
const FLUSH: u8 = 5;
const POPULATE: u8 = 6;
const UNLOCK: u8 = 7;
const UNLOCK_MMAP: u8 = 8;

impl<A: PmdOps> Program<A> for SplitHugePmd {
    fn name(&self) -> &'static str {
        "__split_huge_pmd"
    }

    fn check(&self, limits: &Limits) -> Result<(), ProgramError> {
        limits.region(self.region)
    }

    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let r = self.region;
        match m.th(t).pc {
            LOCK_MMAP => {
                if self.mmap_read && !m.mmap_read(t) {
                    return Step::Blocked(Wait::MmapRead);
                }
                m.goto(t, PMD_LOCK);
                Step::Ran("__split_huge_pmd: mmap_read_lock")
            }
            PMD_LOCK => {
                if !m.pmd_lock(r, t) {
                    return Step::Blocked(Wait::PmdLock(r));
                }
                m.goto(t, CHECK_HUGE);
                Step::Ran("__split_huge_pmd: pmd_lock")
            }
            CHECK_HUGE => {
                let pmd = m.pmd_get(r);
                if !A::pmd_trans_huge(pmd) {
                    m.goto(t, UNLOCK);
                    return Step::Ran("__split_huge_pmd: !pmd_trans_huge, nothing to split");
                }
                m.th_mut(t).regs[ORIG] = pmd.raw_u64();
                m.goto(t, WITHDRAW_FILL);
                Step::Ran("__split_huge_pmd_locked: pmd_trans_huge(*pmd)")
            }
            WITHDRAW_FILL => {
                let Some(table) = m.withdraw(r) else {
                    m.flag(
                        InvariantId::DEPOSIT,
                        "the split withdrew from an empty deposit list",
                    );
                    m.goto(t, UNLOCK);
                    return Step::Ran("pgtable_trans_huge_withdraw: nothing deposited");
                };
                let orig =
                    crate::Pmd::<A>::try_from_u64(m.th(t).regs[ORIG]).unwrap_or(A::pmd_empty());
                let pfn = A::pmd_pfn(orig);
                for slot in 0..SLOTS {
                    let pte = mk_pte(m, pfn + slot as u64);
                    m.pte_set(table, slot, pte);
                }
                let page = m.page_of_pfn(pfn).map_or(NO_PAGE, u64::from);
                if page != NO_PAGE {
                    m.page_map(page as u8, r, SLOTS as i8);
                }
                let th = m.th_mut(t);
                th.regs[TABLE] = u64::from(table);
                th.regs[PAGE] = page;
                m.goto(t, INVALIDATE);
                Step::Ran("__split_huge_pmd_locked: withdraw the deposited table, fill its ptes")
            }
            INVALIDATE => {
                let pmd = m.pmd_get(r);
                match A::pmdp_invalidate(pmd) {
                    Ok(inv) => m.pmd_set(r, inv),
                    Err(_) => m.flag(InvariantId::MODEL, "pmdp_invalidate refused a huge pmd"),
                }
                m.goto(t, if self.skip_tlb_flush { POPULATE } else { FLUSH });
                Step::Ran("pmdp_invalidate")
            }
            FLUSH => {
                m.tlb_flush_region(r);
                m.goto(t, POPULATE);
                Step::Ran("pmdp_invalidate: flush_pmd_tlb_range")
            }
            POPULATE => {
                let table = m.th(t).regs[TABLE] as u8;
                match A::pmd_populate(Machine::<A>::table_pfn(table)) {
                    Ok(pmd) => m.pmd_set(r, pmd),
                    Err(_) => m.flag(InvariantId::MODEL, "pmd_populate refused a modelled table"),
                }
                let page = m.th(t).regs[PAGE];
                if page != NO_PAGE {
                    m.page_map(page as u8, r, -1);
                }
                m.goto(t, UNLOCK);
                Step::Ran("pmd_populate: publish the pte table")
            }
            UNLOCK => {
                m.pmd_unlock(r, t);
                m.goto(t, UNLOCK_MMAP);
                Step::Ran("__split_huge_pmd: spin_unlock(pmd_lock)")
            }
            _ => {
                if self.mmap_read {
                    m.mmap_read_unlock(t);
                }
                finish(m, t);
                Step::Ran("__split_huge_pmd: mmap_read_unlock")
            }
        }
    }
}
