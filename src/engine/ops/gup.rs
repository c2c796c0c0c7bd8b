//! GUP-fast (mm/gup.c `gup_fast_pmd_range` / `gup_fast_pte_range`): a lockless walker with
//! interrupts off that takes a reference on the page an entry maps, then re-reads the entry
//! and keeps the reference only if the entry did not change. Whatever it keeps is handed to
//! the caller (O_DIRECT, RDMA, vhost...) as the page mapped at that address.
//!
//! Kernel: the v4.5-era shape (`gup_pte_range` / `gup_huge_pmd` of that time; v4.5 itself is
//! not in this project's source index, so no v4.5 line numbers are given). The v6.12
//! counterparts, modelled in [`super::v6_12::gup`], are mm/gup.c:3269 (`gup_fast_pmd_range`),
//! mm/gup.c:3134 (`gup_fast_pmd_leaf`) and mm/gup.c:2935 (`gup_fast_pte_range`).

use crate::entry::PmdOps;

use super::super::Tid;
use super::super::invariant::InvariantId;
use super::super::mm::{Machine, NO_TABLE};
use super::super::program::{Limits, Program, ProgramError, Step};
use super::finish;

/// `get_user_pages_fast` of one page at (region, slot).
#[derive(Clone, Copy, Debug)]
pub struct GupFast {
    /// The region (pmd index).
    pub region: u8,
    /// The pte slot within it.
    pub slot: u8,
}

const ORIG: usize = 0;
const PFN: usize = 1;
const TABLE: usize = 2;

const READ: u8 = 0;
const GRAB: u8 = 1;
const RECHECK: u8 = 2;

impl<A: PmdOps> Program<A> for GupFast {
    fn name(&self) -> &'static str {
        "get_user_pages_fast"
    }

    fn check(&self, limits: &Limits) -> Result<(), ProgramError> {
        limits.region(self.region)?;
        limits.slot(self.slot)
    }

    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let r = self.region;
        let slot = usize::from(self.slot);
        match m.th(t).pc {
            READ => {
                let pmd = m.pmd_get(r);
                m.th_mut(t).regs[ORIG] = pmd.raw_u64();
                m.th_mut(t).regs[TABLE] = u64::from(NO_TABLE);
                if A::pmd_none(pmd) || !A::pmd_present(pmd) {
                    finish(m, t);
                    return Step::Ran("gup_fast_pmd_range: pmd_none or !pmd_present, slow path");
                }
                if A::pmd_trans_huge(pmd) || A::pmd_leaf(pmd) {
                    m.th_mut(t).regs[PFN] = A::pmd_pfn(pmd) + slot as u64;
                    m.goto(t, GRAB);
                    return Step::Ran("gup_fast_pmd_leaf: the pfn of a present huge pmd");
                }
                let Some(table) = m.table_of(pmd) else {
                    finish(m, t);
                    return Step::Ran("gup_fast_pmd_range: no table, slow path");
                };
                let pte = m.pte_get(table, slot);
                if !A::pte_present(pte) || A::pte_protnone(pte) {
                    finish(m, t);
                    return Step::Ran("gup_fast_pte_range: pte not present, slow path");
                }
                let th = m.th_mut(t);
                th.regs[ORIG] = pte.raw_u64();
                th.regs[TABLE] = u64::from(table);
                th.regs[PFN] = A::pte_pfn(pte);
                m.goto(t, GRAB);
                Step::Ran("gup_fast_pte_range: ptep_get_lockless, pte present")
            }
            GRAB => {
                let pfn = m.th(t).regs[PFN];
                if let Some(page) = m.page_of_pfn(pfn) {
                    m.page_get(page);
                }
                m.goto(t, RECHECK);
                Step::Ran("try_grab_folio: take a reference on the page")
            }
            _ => {
                let table = m.th(t).regs[TABLE] as u8;
                let now = if table == NO_TABLE {
                    m.pmd_get(r).raw_u64()
                } else {
                    m.pte_get(table, slot).raw_u64()
                };
                let pfn = m.th(t).regs[PFN];
                let page = m.page_of_pfn(pfn);
                if now != m.th(t).regs[ORIG] {
                    if let Some(page) = page {
                        m.page_put(page);
                    }
                    finish(m, t);
                    return Step::Ran("gup_fast: the entry changed, drop the reference, slow path");
                }
                // Kept: the caller now uses this pfn as the page mapped here.
                let mapped_here =
                    page.is_some_and(|p| m.page(p).mapcount > 0 && m.page(p).region == r);
                if !mapped_here {
                    m.flag(
                        InvariantId::Decode,
                        "GUP-fast returned a pfn that is no page mapped at that address",
                    );
                }
                finish(m, t);
                Step::Ran("gup_fast: the entry is unchanged, keep the page")
            }
        }
    }
}
