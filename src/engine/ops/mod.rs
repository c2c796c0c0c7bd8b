//! One file per kernel path, each a [`Program`](super::program::Program) whose steps read like
//! the kernel function they model; historical (buggy) behaviour and test-only mutations are
//! fields of the program, so one scenario runs every variant.

pub mod collapse_file;
pub mod fault;
pub mod file_fault;
pub mod find_get_entries;
pub mod gup;
pub mod huge_tmpfs_fault;
pub mod invalidate;
pub mod mlock;
pub mod mmap;
pub mod munmap;
pub mod nopage;
pub mod oom_victim;
pub mod perform_write;
pub mod shmem_fault;
pub mod split;
pub mod truncate;
pub mod user_fault;
pub mod userfaultfd;
pub mod v6_12;
pub mod vma_walk;
pub mod walk;
pub mod writeback;
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
            m.flag(InvariantId::MODEL, "pfn_pte refused a modelled pfn");
            A::pte_empty(0)
        }
    }
}

/// `is_swap_pmd`: neither none nor present (migration entries, and ARM LPAE's invalidated THP).
pub(crate) fn is_swap_pmd<A: PmdOps>(pmd: crate::Pmd<A>) -> bool {
    !A::pmd_none(pmd) && !A::pmd_present(pmd)
}

/// `zap_pte_range`'s work on one table, under its pte lock or the write lock: every modelled
/// slot emptied, each present page's mapcount dropped.
pub(crate) fn zap_table_ptes<A: PmdOps>(m: &mut Machine<A>, r: u8, table: u8) {
    for slot in 0..super::mm::SLOTS {
        let pte = m.pte_get(table, slot);
        if A::pte_none(pte) {
            continue;
        }
        m.pte_set(table, slot, A::pte_empty(Machine::<A>::slot_addr(r, slot)));
        if A::pte_present(pte) {
            if let Some(page) = m.page_of_pfn(A::pte_pfn(pte)) {
                m.page_map(page, r, -1);
            }
        }
    }
}

/// The attached VMAs of `mm` overlapping regions `[start, end)`, a bit per id (a recorded
/// read of the VMA trees).
pub(crate) fn vmas_in_range<A: PmdOps>(m: &Machine<A>, mm: u8, start: u8, end: u8) -> u64 {
    m.vmas()
        .filter(|(_, v)| v.attached && v.mm == mm && v.start < end && start < v.end)
        .fold(0, |acc, (id, _)| acc | 1 << id.0)
}

/// Checks that regions `[start, end)` are a non-empty range of the scenario's.
pub(crate) fn check_range(
    limits: &super::program::Limits,
    start: u8,
    end: u8,
) -> Result<(), super::program::ProgramError> {
    if end <= start {
        return Err(super::program::ProgramError::EmptyRange);
    }
    limits.regions_range(u64::from(start), u64::from(end - start))
}

/// The VMA ids of a [`vmas_in_range`] bitmask.
pub(crate) fn vma_ids(mask: u64) -> impl Iterator<Item = super::state::vma::VmaId> {
    (0..64u8)
        .filter(move |id| mask & 1 << id != 0)
        .map(super::state::vma::VmaId)
}
