//! The generic mm paths as Linux v6.12 has them (Debian's `linux-source-6.12`, 6.12.117),
//! beside the historical shapes in the parent module.
//!
//! Each program cites the v6.12 function and line it follows and keeps its order of loads,
//! stores, locks, rechecks and TLB flushes. Where v6.12 relies on a barrier (`smp_wmb` before
//! `pmd_populate`), the program says so; the model is sequentially consistent, so a barrier
//! is a comment, not a step.
//!
//! The model never creates pmd migration entries (no thread migrates a THP), so
//! `is_pmd_migration_entry` is false for every pmd the machine holds; a non-present,
//! non-none huge pmd is therefore only ever what an architecture stores for a PROT_NONE or
//! invalidated THP.

pub mod fault;
pub mod gup;
pub mod split;
pub mod zap;

use crate::entry::{Pmd, PmdOps, Protection, Pte};

// `pmd_same` / `pte_same` compare raw words: the programs keep the raw value they read.

use super::super::mm::Machine;

/// `__pte_offset_map` (mm/pgtable-generic.c:282): the table a pmd value points to, or `None`
/// ("nomap") for a none, migration, huge or bad pmd.
pub(crate) fn pte_offset_map<A: PmdOps>(m: &Machine<A>, pmdval: Pmd<A>) -> Option<u8> {
    if A::pmd_none(pmdval) || A::pmd_trans_huge(pmdval) || A::pmd_bad(pmdval) {
        return None;
    }
    if !A::pmd_present(pmdval) {
        return None;
    }
    m.table_of(pmdval)
}

/// The pte `do_anonymous_page` and the split build for a page of a VMA with `prot`:
/// `mk_pte(page, vm_page_prot)`, young, and, in a writable VMA, `pte_mkwrite(pte_mkdirty())`.
pub(crate) fn anon_pte<A: PmdOps>(m: &mut Machine<A>, pfn: u64, prot: Protection) -> Pte<A> {
    let pte = A::pte_mkyoung(super::mk_pte(m, pfn));
    if prot.writable() {
        A::pte_mkwrite(A::pte_mkdirty(pte))
    } else {
        pte
    }
}
