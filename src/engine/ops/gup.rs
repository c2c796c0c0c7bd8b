//! GUP-fast (mm/gup.c `gup_fast_pmd_range` / `gup_fast_pte_range`): a lockless walker with
//! interrupts off that takes a reference on the page an entry maps, then re-reads the entry
//! and keeps the reference only if the entry did not change. Whatever it keeps is handed to
//! the caller (O_DIRECT, RDMA, vhost...) as the page mapped at that address.
//!
//! Kernel: v4.5's mm/gup.c `gup_pmd_range` routing (read from the v4.5-era source through
//! the project's index, which holds no v4.5 tree, so no line numbers): `pmd_none` → slow
//! path; `pmd_trans_huge || pmd_huge` → `pmd_protnone` → slow path, else `gup_huge_pmd`
//! takes the pfn; anything else → `gup_pte_range`. v4.5 (which removed
//! `pmd_trans_splitting`) has **no `pmd_present` test** there: that came later, by v4.14
//! with THP migration. So on `arm-lpae-v4.5-stored` the 0x880 a split left (not none, a
//! present huge pmd of pfn 0 to v4.5's helpers) goes to `gup_huge_pmd`, which hands out pfn
//! 0's page: INV-002-DECODE. On `arm-lpae-v4.5` the zero is `pmd_none`: slow path. The v6.12
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
        limits.region_slot(self.region, self.slot)
    }

    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let r = self.region;
        let slot = usize::from(self.slot);
        match m.th(t).pc {
            READ => {
                let pmd = m.pmd_get(r);
                m.th_mut(t).regs[ORIG] = pmd.raw_u64();
                m.th_mut(t).regs[TABLE] = u64::from(NO_TABLE);
                if A::pmd_none(pmd) {
                    finish(m, t);
                    return Step::Ran("gup_pmd_range: pmd_none, slow path");
                }
                if A::pmd_trans_huge(pmd) || A::pmd_leaf(pmd) {
                    if A::pmd_protnone(pmd) {
                        finish(m, t);
                        return Step::Ran("gup_pmd_range: pmd_protnone, slow path");
                    }
                    m.th_mut(t).regs[PFN] = A::pmd_pfn(pmd) + slot as u64;
                    m.goto(t, GRAB);
                    return Step::Ran("gup_huge_pmd: the pfn of a huge pmd");
                }
                let Some(table) = m.table_of(pmd) else {
                    finish(m, t);
                    return Step::Ran("gup_pmd_range: no table, slow path");
                };
                let pte = m.pte_get(table, slot);
                if !A::pte_present(pte) || A::pte_protnone(pte) {
                    finish(m, t);
                    return Step::Ran("gup_pte_range: pte not present, slow path");
                }
                let th = m.th_mut(t);
                th.regs[ORIG] = pte.raw_u64();
                th.regs[TABLE] = u64::from(table);
                th.regs[PFN] = A::pte_pfn(pte);
                m.goto(t, GRAB);
                Step::Ran("gup_pte_range: the pte, present")
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
                    page.is_some_and(|p| m.page(p).mapcount > 0 && m.page(p).maps_in(r) > 0);
                if !mapped_here {
                    m.flag(
                        InvariantId::DECODE,
                        "GUP-fast returned a pfn that is no page mapped at that address",
                    );
                }
                finish(m, t);
                Step::Ran("gup_fast: the entry is unchanged, keep the page")
            }
        }
    }
}
