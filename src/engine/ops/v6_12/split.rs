//! THP split as v6.12 does it: `__split_huge_pmd` (mm/huge_memory.c:2964) →
//! `split_huge_pmd_locked` (:2938) → `__split_huge_pmd_locked` (:2716), anonymous branch.
//!
//! Unlike v4.5, the pmd is invalidated and the TLB flushed *first* (:2813, "we first mark the
//! current pmd notpresent ... then we flush the SMP TLB and finally we write the non-huge
//! version of the pmd entry with pmd_populate"); only then is the deposited table withdrawn
//! ("Withdraw the table only after we mark the pmd entry invalid. This's critical for some
//! architectures (Power)", :2866), filled while still private, and published after
//! `smp_wmb()` (:2934) with `pmd_populate`. The ptes carry the old pmd's write, young and
//! dirty (:2909-2918).
//!
//! The huge zero page takes `__split_huge_zero_page_pmd` (:2675) instead: `pmdp_huge_clear_flush`
//! first — the pmd reads as none until the table of special zero ptes is populated ("Leave
//! pmd empty until pte is filled", :2686) — which is why v6.12 promises never-none only for a
//! pmd that maps an anonymous page (INV-002-NEVERNONE as stated). A file or shmem VMA takes
//! the non-anonymous branch (:2738): `pmdp_huge_clear_flush`, `zap_deposited_table` where
//! the architecture deposits for file THPs, `folio_remove_rmap_pmd`, `folio_put` — the pmd
//! stays none for good, and the next access refaults from the page cache.

use crate::entry::PmdOps;

use super::super::super::Tid;
use super::super::super::invariant::InvariantId;
use super::super::super::mm::{Machine, NO_PAGE, NO_TABLE, SLOTS};
use super::super::super::program::{Limits, Program, ProgramError, Step, Wait};
use super::super::finish;
use super::{in_huge_zero_folio, is_huge_zero_pmd, split_pte, zap_deposited_table, zero_pte};

/// `__split_huge_pmd` of one region, v6.12.
#[derive(Clone, Copy, Debug)]
pub struct SplitHugePmd {
    /// The region (pmd index).
    pub region: u8,
    /// Whether the caller holds `mmap_lock` for read (MADV_DONTNEED of a sub-range does;
    /// rmap-driven splits do not).
    pub mmap_read: bool,
    /// Mutation for tests: skip `flush_pmd_tlb_range` after the invalidate.
    pub skip_tlb_flush: bool,
    /// Mutation for tests: the anonymous branch clears the pmd (`pmdp_huge_clear_flush`, as
    /// the zero-page branch may) instead of invalidating it.
    pub clear_instead_of_invalidate: bool,
}

impl SplitHugePmd {
    /// The split as v6.12 does it, under `mmap_lock` read.
    pub const fn new(region: u8) -> Self {
        Self {
            region,
            mmap_read: true,
            skip_tlb_flush: false,
            clear_instead_of_invalidate: false,
        }
    }
}

const ORIG: usize = 0;
const TABLE: usize = 1;
const PAGE: usize = 2;

const LOCK_MMAP: u8 = 0;
const RETURN: u8 = 14;

/// The split's own steps after `mmap_lock`: `pmd_lock` to `spin_unlock`, pcs 1 to 13.
const STEPS: SplitLocked = SplitLocked {
    pmd_lock: 1,
    check: 2,
    invalidate: 3,
    flush: 4,
    withdraw_fill: 5,
    populate: 6,
    unlock: 7,
    zero_clear: 8,
    zero_flush: 9,
    zero_fill: 10,
    file_clear: 11,
    file_flush: 12,
    file_zap: 13,
    done: RETURN,
};

/// The stand-alone split keeps its state in the registers.
struct SplitRegs;

impl SplitState for SplitRegs {
    fn save_orig<A: PmdOps>(m: &mut Machine<A>, t: Tid, pmd: u64) {
        m.th_mut(t).regs[ORIG] = pmd;
    }
    fn orig<A: PmdOps>(m: &Machine<A>, t: Tid) -> u64 {
        m.th(t).regs[ORIG]
    }
    fn save_filled<A: PmdOps>(m: &mut Machine<A>, t: Tid, table: u8, page: Option<u8>) {
        let th = m.th_mut(t);
        th.regs[TABLE] = u64::from(table);
        th.regs[PAGE] = page.map_or(NO_PAGE, u64::from);
    }
    fn filled<A: PmdOps>(m: &Machine<A>, t: Tid) -> (u8, Option<u8>) {
        let th = m.th(t);
        let page = th.regs[PAGE];
        (
            th.regs[TABLE] as u8,
            (page != NO_PAGE).then_some(page as u8),
        )
    }
}

/// Where a caller of [`SplitLocked`] keeps the split's state: the huge pmd it found
/// (`old_pmd`), and the table it filled with the page it maps.
pub(crate) trait SplitState {
    fn save_orig<A: PmdOps>(m: &mut Machine<A>, t: Tid, pmd: u64);
    fn orig<A: PmdOps>(m: &Machine<A>, t: Tid) -> u64;
    fn save_filled<A: PmdOps>(m: &mut Machine<A>, t: Tid, table: u8, page: Option<u8>);
    fn filled<A: PmdOps>(m: &Machine<A>, t: Tid) -> (u8, Option<u8>);
}

/// The mutations a [`SplitHugePmd`] may carry into [`SplitLocked`].
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SplitKnobs {
    pub(crate) skip_tlb_flush: bool,
    pub(crate) clear_instead_of_invalidate: bool,
}

/// `__split_huge_pmd`'s body from `pmd_lock` to `spin_unlock` (mm/huge_memory.c:2964-2990),
/// at program counters the caller chooses: the stand-alone [`SplitHugePmd`] and the fault's
/// `wp_huge_pmd` fallback ([`super::fault`]) run the same steps. After the unlock the thread
/// goes to `done`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SplitLocked {
    pub(crate) pmd_lock: u8,
    pub(crate) check: u8,
    pub(crate) invalidate: u8,
    pub(crate) flush: u8,
    pub(crate) withdraw_fill: u8,
    pub(crate) populate: u8,
    pub(crate) unlock: u8,
    pub(crate) zero_clear: u8,
    pub(crate) zero_flush: u8,
    pub(crate) zero_fill: u8,
    pub(crate) file_clear: u8,
    pub(crate) file_flush: u8,
    pub(crate) file_zap: u8,
    pub(crate) done: u8,
}

impl SplitLocked {
    /// Whether `pc` is one of these steps.
    pub(crate) const fn contains(&self, pc: u8) -> bool {
        pc == self.pmd_lock
            || pc == self.check
            || pc == self.invalidate
            || pc == self.flush
            || pc == self.withdraw_fill
            || pc == self.populate
            || pc == self.unlock
            || pc == self.zero_clear
            || pc == self.zero_flush
            || pc == self.zero_fill
            || pc == self.file_clear
            || pc == self.file_flush
            || pc == self.file_zap
    }

    /// Runs the step at the thread's program counter, one of these steps, on region `r`.
    pub(crate) fn step<A: PmdOps, S: SplitState>(
        &self,
        m: &mut Machine<A>,
        t: Tid,
        r: u8,
        knobs: SplitKnobs,
    ) -> Step {
        let orig =
            |m: &Machine<A>| crate::Pmd::<A>::try_from_u64(S::orig(m, t)).unwrap_or(A::pmd_empty());
        let pc = m.th(t).pc;
        if pc == self.pmd_lock {
            if !m.pmd_lock(r, t) {
                return Step::Blocked(Wait::PmdLock(r));
            }
            m.goto(t, self.check);
            return Step::Ran("__split_huge_pmd: pmd_lock");
        }
        if pc == self.check {
            // split_huge_pmd_locked (:2953): pmd_trans_huge || pmd_devmap || migration.
            let pmd = m.pmd_get(r);
            if !A::pmd_trans_huge(pmd) {
                m.goto(t, self.unlock);
                return Step::Ran("split_huge_pmd_locked: !pmd_trans_huge, nothing to split");
            }
            S::save_orig(m, t, pmd.raw_u64());
            if !m.vma_is_anonymous() {
                m.goto(t, self.file_clear);
                return Step::Ran("__split_huge_pmd_locked: !vma_is_anonymous");
            }
            if is_huge_zero_pmd(pmd) {
                m.goto(t, self.zero_clear);
                return Step::Ran(
                    "__split_huge_pmd_locked: is_huge_zero_pmd, __split_huge_zero_page_pmd",
                );
            }
            m.goto(t, self.invalidate);
            return Step::Ran("split_huge_pmd_locked: pmd_trans_huge(*pmd)");
        }
        if pc == self.invalidate {
            // pmdp_invalidate (mm/pgtable-generic.c:198): pmdp_establish(pmd_mkinvalid).
            let pmd = m.pmd_get(r);
            if knobs.clear_instead_of_invalidate {
                m.pmd_set(r, A::pmd_empty());
            } else {
                match A::pmdp_invalidate(pmd) {
                    Ok(inv) => m.pmd_set(r, inv),
                    Err(_) => m.flag(InvariantId::MODEL, "pmdp_invalidate refused a huge pmd"),
                }
            }
            m.goto(
                t,
                if knobs.skip_tlb_flush {
                    self.withdraw_fill
                } else {
                    self.flush
                },
            );
            return Step::Ran("__split_huge_pmd_locked: pmdp_invalidate");
        }
        if pc == self.flush || pc == self.zero_flush || pc == self.file_flush {
            m.tlb_flush_region(r);
            m.goto(
                t,
                if pc == self.flush {
                    self.withdraw_fill
                } else if pc == self.zero_flush {
                    self.zero_fill
                } else {
                    self.file_zap
                },
            );
            return Step::Ran(if pc == self.flush {
                "pmdp_invalidate: flush_pmd_tlb_range"
            } else {
                "pmdp_huge_clear_flush: flush_pmd_tlb_range"
            });
        }
        if pc == self.withdraw_fill {
            let Some(table) = m.withdraw(r) else {
                m.flag(
                    InvariantId::DEPOSIT,
                    "the split withdrew from an empty deposit list",
                );
                S::save_filled(m, t, NO_TABLE, None);
                m.goto(t, self.unlock);
                return Step::Ran("pgtable_trans_huge_withdraw: nothing deposited");
            };
            let orig = orig(m);
            let pfn = A::pmd_pfn(orig);
            if in_huge_zero_folio::<A>(pfn) {
                // is_huge_zero_pmd said no (the pmd is not present), so the anonymous
                // branch runs on the huge zero folio: folio_ref_add(HPAGE_PMD_NR - 1),
                // folio_add_anon_rmap_ptes, and ptes that are not special.
                m.flag(
                    InvariantId::ZERO_FOLIO,
                    "the anonymous split takes the huge zero folio for an anonymous THP",
                );
            }
            for slot in 0..SLOTS {
                let pte = split_pte(m, pfn + slot as u64, orig);
                m.pte_set(table, slot, pte);
            }
            // folio_ref_add(HPAGE_PMD_NR - 1) (:2857) and folio_add_anon_rmap_ptes before
            // the ptes are visible: a reference and a mapping per modelled pte.
            let page = m.page_of_pfn(pfn);
            if let Some(page) = page {
                m.page_map(page, r, SLOTS as i8);
                for _ in 1..SLOTS {
                    m.page_get(page);
                }
            }
            S::save_filled(m, t, table, page);
            m.goto(t, self.populate);
            return Step::Ran(
                "__split_huge_pmd_locked: pgtable_trans_huge_withdraw, folio_ref_add, set_ptes into the private table",
            );
        }
        if pc == self.populate {
            let (table, page) = S::filled(m, t);
            if let Some(page) = page {
                m.page_map(page, r, -1);
            }
            match A::pmd_populate(Machine::<A>::table_pfn(table)) {
                Ok(pmd) => m.pmd_set(r, pmd),
                Err(_) => m.flag(InvariantId::MODEL, "pmd_populate refused a modelled table"),
            }
            m.goto(t, self.unlock);
            if is_huge_zero_pmd(orig(m)) {
                return Step::Ran("__split_huge_zero_page_pmd: smp_wmb, pmd_populate");
            }
            return Step::Ran(
                "__split_huge_pmd_locked: folio_remove_rmap_pmd, smp_wmb, pmd_populate",
            );
        }
        if pc == self.zero_clear || pc == self.file_clear {
            // pmdp_huge_clear_flush (mm/pgtable-generic.c:137): get_and_clear, then flush.
            m.pmd_set(r, A::pmd_empty());
            let zero = pc == self.zero_clear;
            let (flush, next) = if zero {
                (self.zero_flush, self.zero_fill)
            } else {
                (self.file_flush, self.file_zap)
            };
            m.goto(t, if knobs.skip_tlb_flush { next } else { flush });
            return Step::Ran(if zero {
                "__split_huge_zero_page_pmd: pmdp_huge_clear_flush: pmdp_huge_get_and_clear"
            } else {
                "__split_huge_pmd_locked: pmdp_huge_clear_flush: pmdp_huge_get_and_clear"
            });
        }
        if pc == self.file_zap {
            if A::arch_needs_pgtable_deposit() {
                zap_deposited_table(m, r);
            }
            if let Some(page) = m.page_of_pfn(A::pmd_pfn(orig(m))) {
                m.page_map(page, r, -1);
                m.page_put(page);
            }
            m.goto(t, self.unlock);
            return Step::Ran(
                "__split_huge_pmd_locked: zap_deposited_table if arch_needs_pgtable_deposit, folio_remove_rmap_pmd, folio_put",
            );
        }
        if pc == self.zero_fill {
            let Some(table) = m.withdraw(r) else {
                m.flag(
                    InvariantId::DEPOSIT,
                    "the split withdrew from an empty deposit list",
                );
                m.goto(t, self.unlock);
                return Step::Ran("pgtable_trans_huge_withdraw: nothing deposited");
            };
            for slot in 0..SLOTS {
                let pte = zero_pte(m);
                m.pte_set(table, slot, pte);
            }
            S::save_filled(m, t, table, None);
            m.goto(t, self.populate);
            return Step::Ran(
                "__split_huge_zero_page_pmd: pgtable_trans_huge_withdraw, set_pte_at of special zero ptes",
            );
        }
        // self.unlock
        m.pmd_unlock(r, t);
        m.goto(t, self.done);
        Step::Ran("__split_huge_pmd: spin_unlock(ptl)")
    }
}

impl<A: PmdOps> Program<A> for SplitHugePmd {
    fn name(&self) -> &'static str {
        "__split_huge_pmd (v6.12)"
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
                m.goto(t, STEPS.pmd_lock);
                Step::Ran("__split_huge_pmd: mmap_read_lock held by the caller")
            }
            RETURN => {
                if self.mmap_read {
                    m.mmap_read_unlock(t);
                }
                finish(m, t);
                Step::Ran("__split_huge_pmd: return to the caller, mmap_read_unlock")
            }
            _ => STEPS.step::<A, SplitRegs>(
                m,
                t,
                r,
                SplitKnobs {
                    skip_tlb_flush: self.skip_tlb_flush,
                    clear_instead_of_invalidate: self.clear_instead_of_invalidate,
                },
            ),
        }
    }
}
