//! One file per kernel path, each a [`Program`](super::program::Program) whose steps read like
//! the kernel function they model; historical (buggy) behaviour and test-only mutations are
//! fields of the program, so one scenario runs every variant.

pub mod fault;
pub mod gup;
pub mod split;
pub mod v6_12;
pub mod walk;
pub mod zap;

use crate::entry::{PmdOps, Protection, Pte};

use super::Tid;
use super::invariant::InvariantId;
use super::mm::Machine;

/// Finishes a thread: marks it done.
pub(crate) fn finish<A: PmdOps>(m: &mut Machine<A>, t: Tid) {
    m.th_mut(t).done = true;
}

/// `mk_pte(page + i, vma->vm_page_prot)`, or a flagged model error (pfn out of range).
pub(crate) fn mk_pte<A: PmdOps>(m: &mut Machine<A>, pfn: u64) -> Pte<A> {
    let prot = m.prot();
    pfn_pte(m, pfn, prot)
}

/// `pfn_pte(pfn, prot)`, or a flagged model error (pfn out of range).
pub(crate) fn pfn_pte<A: PmdOps>(m: &mut Machine<A>, pfn: u64, prot: Protection) -> Pte<A> {
    match A::pfn_pte(pfn, A::pte_pgprot(prot)) {
        Ok(pte) => pte,
        Err(_) => {
            m.flag(InvariantId::Model, "pfn_pte refused a modelled pfn");
            A::pte_empty(0)
        }
    }
}

/// `is_swap_pmd`: neither none nor present (migration entries, and ARM LPAE's invalidated THP).
pub(crate) fn is_swap_pmd<A: PmdOps>(pmd: crate::Pmd<A>) -> bool {
    !A::pmd_none(pmd) && !A::pmd_present(pmd)
}
