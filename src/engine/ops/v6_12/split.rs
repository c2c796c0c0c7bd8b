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
    base: 1,
    done: RETURN,
};
const _: () = assert!(STEPS.last() < RETURN);

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
/// as [`SplitLocked::LEN`] consecutive program counters from `base`: the stand-alone
/// [`SplitHugePmd`] and the fault's `wp_huge_pmd` fallback ([`super::fault`]) run the same
/// steps. After the unlock the thread goes to `done`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SplitLocked {
    /// The program counter of `pmd_lock`, the first step.
    pub(crate) base: u8,
    /// Where the thread goes after `spin_unlock`.
    pub(crate) done: u8,
}

// Each step's offset from `base`.
const PMD_LOCK: u8 = 0;
const CHECK: u8 = 1;
const INVALIDATE: u8 = 2;
const FLUSH: u8 = 3;
const WITHDRAW_FILL: u8 = 4;
const POPULATE: u8 = 5;
const UNLOCK: u8 = 6;
const ZERO_CLEAR: u8 = 7;
const ZERO_FLUSH: u8 = 8;
const ZERO_FILL: u8 = 9;
const FILE_CLEAR: u8 = 10;
const FILE_FLUSH: u8 = 11;
const FILE_ZAP: u8 = 12;

impl SplitLocked {
    /// How many program counters the steps take.
    pub(crate) const LEN: u8 = 13;
    /// The last step's program counter.
    pub(crate) const fn last(&self) -> u8 {
        self.base + Self::LEN - 1
    }
    /// Whether `pc` is one of these steps.
    pub(crate) const fn contains(&self, pc: u8) -> bool {
        pc >= self.base && pc <= self.last()
    }
    /// The program counter of the step at `offset`.
    const fn pc(&self, offset: u8) -> u8 {
        self.base + offset
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
        let at = m.th(t).pc.wrapping_sub(self.base);
        match at {
            PMD_LOCK => {
                if !m.pmd_lock(r, t) {
                    return Step::Blocked(Wait::PmdLock(r));
                }
                m.goto(t, self.pc(CHECK));
                Step::Ran("__split_huge_pmd: pmd_lock")
            }
            CHECK => {
                // split_huge_pmd_locked (:2953): pmd_trans_huge || pmd_devmap || migration.
                let pmd = m.pmd_get(r);
                if !A::pmd_trans_huge(pmd) {
                    m.goto(t, self.pc(UNLOCK));
                    return Step::Ran("split_huge_pmd_locked: !pmd_trans_huge, nothing to split");
                }
                S::save_orig(m, t, pmd.raw_u64());
                if !m.vma_is_anonymous() {
                    m.goto(t, self.pc(FILE_CLEAR));
                    return Step::Ran("__split_huge_pmd_locked: !vma_is_anonymous");
                }
                if is_huge_zero_pmd(pmd) {
                    m.goto(t, self.pc(ZERO_CLEAR));
                    return Step::Ran(
                        "__split_huge_pmd_locked: is_huge_zero_pmd, __split_huge_zero_page_pmd",
                    );
                }
                m.goto(t, self.pc(INVALIDATE));
                Step::Ran("split_huge_pmd_locked: pmd_trans_huge(*pmd)")
            }
            INVALIDATE => {
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
                        self.pc(WITHDRAW_FILL)
                    } else {
                        self.pc(FLUSH)
                    },
                );
                Step::Ran("__split_huge_pmd_locked: pmdp_invalidate")
            }
            FLUSH | ZERO_FLUSH | FILE_FLUSH => {
                m.tlb_flush_region(r);
                m.goto(
                    t,
                    if at == FLUSH {
                        self.pc(WITHDRAW_FILL)
                    } else if at == ZERO_FLUSH {
                        self.pc(ZERO_FILL)
                    } else {
                        self.pc(FILE_ZAP)
                    },
                );
                Step::Ran(if at == FLUSH {
                    "pmdp_invalidate: flush_pmd_tlb_range"
                } else {
                    "pmdp_huge_clear_flush: flush_pmd_tlb_range"
                })
            }
            WITHDRAW_FILL => {
                let Some(table) = m.withdraw(r) else {
                    m.flag(
                        InvariantId::DEPOSIT,
                        "the split withdrew from an empty deposit list",
                    );
                    S::save_filled(m, t, NO_TABLE, None);
                    m.goto(t, self.pc(UNLOCK));
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
                m.goto(t, self.pc(POPULATE));
                Step::Ran(
                    "__split_huge_pmd_locked: pgtable_trans_huge_withdraw, folio_ref_add, set_ptes into the private table",
                )
            }
            POPULATE => {
                let (table, page) = S::filled(m, t);
                if let Some(page) = page {
                    m.page_map(page, r, -1);
                }
                match A::pmd_populate(Machine::<A>::table_pfn(table)) {
                    Ok(pmd) => m.pmd_set(r, pmd),
                    Err(_) => m.flag(InvariantId::MODEL, "pmd_populate refused a modelled table"),
                }
                m.goto(t, self.pc(UNLOCK));
                if is_huge_zero_pmd(orig(m)) {
                    return Step::Ran("__split_huge_zero_page_pmd: smp_wmb, pmd_populate");
                }
                Step::Ran("__split_huge_pmd_locked: folio_remove_rmap_pmd, smp_wmb, pmd_populate")
            }
            ZERO_CLEAR | FILE_CLEAR => {
                // pmdp_huge_clear_flush (mm/pgtable-generic.c:137): get_and_clear, then flush.
                m.pmd_set(r, A::pmd_empty());
                let zero = at == ZERO_CLEAR;
                let (flush, next) = if zero {
                    (self.pc(ZERO_FLUSH), self.pc(ZERO_FILL))
                } else {
                    (self.pc(FILE_FLUSH), self.pc(FILE_ZAP))
                };
                m.goto(t, if knobs.skip_tlb_flush { next } else { flush });
                Step::Ran(if zero {
                    "__split_huge_zero_page_pmd: pmdp_huge_clear_flush: pmdp_huge_get_and_clear"
                } else {
                    "__split_huge_pmd_locked: pmdp_huge_clear_flush: pmdp_huge_get_and_clear"
                })
            }
            FILE_ZAP => {
                if A::arch_needs_pgtable_deposit() {
                    zap_deposited_table(m, r);
                }
                if let Some(page) = m.page_of_pfn(A::pmd_pfn(orig(m))) {
                    m.page_map(page, r, -1);
                    m.page_put(page);
                }
                m.goto(t, self.pc(UNLOCK));
                Step::Ran(
                    "__split_huge_pmd_locked: zap_deposited_table if arch_needs_pgtable_deposit, folio_remove_rmap_pmd, folio_put",
                )
            }
            ZERO_FILL => {
                let Some(table) = m.withdraw(r) else {
                    m.flag(
                        InvariantId::DEPOSIT,
                        "the split withdrew from an empty deposit list",
                    );
                    m.goto(t, self.pc(UNLOCK));
                    return Step::Ran("pgtable_trans_huge_withdraw: nothing deposited");
                };
                for slot in 0..SLOTS {
                    let pte = zero_pte(m);
                    m.pte_set(table, slot, pte);
                }
                S::save_filled(m, t, table, None);
                m.goto(t, self.pc(POPULATE));
                Step::Ran(
                    "__split_huge_zero_page_pmd: pgtable_trans_huge_withdraw, set_pte_at of special zero ptes",
                )
            }
            // UNLOCK
            _ => {
                m.pmd_unlock(r, t);
                m.goto(t, self.done);
                Step::Ran("__split_huge_pmd: spin_unlock(ptl)")
            }
        }
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
                m.goto(t, STEPS.base);
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
