//! A kernel walker of one address's page table under `mmap_lock` read, after a VMA lookup:
//! the shape of the callers race 003's follow-up audit switched from `find_vma` to
//! `vma_lookup` (s390's `pci_mmio`, binder), citing dd2283f2605e. `find_vma(addr)` returns the
//! first VMA *ending* above `addr`, which may start above it too: a caller that does not
//! check `vm_start <= addr` walks the tables of an address no VMA covers, which a munmap
//! working under its downgraded lock may be freeing. `vma_lookup` (v6.12,
//! include/linux/mm.h) returns only a VMA that covers the address.
//!
//! The walk is `follow_pte`'s: the pmd, then `pte_offset_map_lock`, the pte, unlock.

use crate::entry::PmdOps;

use super::super::Tid;
use super::super::mm::Machine;
use super::super::program::{Limits, Program, ProgramError, Step, Wait};
use super::finish;
use super::v6_12::pte_offset_map;

/// How the walker finds its VMA.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lookup {
    /// `find_vma`, with no `vm_start` check.
    FindVma,
    /// `vma_lookup` (v6.12).
    VmaLookup,
}

/// A walk of (region, slot) of the thread's own mm.
#[derive(Clone, Copy, Debug)]
pub struct VmaWalk {
    /// The region (pmd index).
    pub region: u8,
    /// The pte slot within it.
    pub slot: u8,
    /// How it finds the VMA.
    pub lookup: Lookup,
}

const LOCK: u8 = 0;
const FIND: u8 = 1;
const PMD: u8 = 2;
const PTL: u8 = 3;
const PTE: u8 = 4;
const UNLOCK_PTL: u8 = 5;
const UNLOCK: u8 = 6;
/// Registers: the table found (+ 1); the pmd it was read from.
const TABLE: usize = 0;
const PMDVAL: usize = 1;

impl<A: PmdOps> Program<A> for VmaWalk {
    fn name(&self) -> &'static str {
        match self.lookup {
            Lookup::FindVma => "page-table walker after find_vma",
            Lookup::VmaLookup => "page-table walker after vma_lookup (v6.12)",
        }
    }

    fn check(&self, limits: &Limits) -> Result<(), ProgramError> {
        limits.region_slot(self.region, self.slot)
    }

    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let r = self.region;
        let table = (m.th(t).regs[TABLE] as u8).wrapping_sub(1);
        match m.th(t).pc {
            LOCK => {
                if !m.mmap_read(t) {
                    return Step::Blocked(Wait::MmapRead);
                }
                m.goto(t, FIND);
                Step::Ran("mmap_read_lock")
            }
            FIND => {
                let mm = m.mm_of_thread(t);
                let found = match self.lookup {
                    Lookup::FindVma => m.find_vma(mm, r),
                    Lookup::VmaLookup => m.vma_lookup(mm, r),
                };
                if found.is_none() {
                    m.goto(t, UNLOCK);
                    return Step::Ran("no VMA: -EINVAL");
                }
                m.goto(t, PMD);
                Step::Ran(match self.lookup {
                    Lookup::FindVma => "find_vma: a VMA (not checked to cover the address)",
                    Lookup::VmaLookup => "vma_lookup: the VMA covering the address",
                })
            }
            PMD => {
                let pmd = m.pmd_get(r);
                let Some(found) = pte_offset_map(m, pmd) else {
                    m.goto(t, UNLOCK);
                    return Step::Ran("follow_pte: no table: -EINVAL");
                };
                m.th_mut(t).regs[TABLE] = u64::from(found) + 1;
                m.th_mut(t).regs[PMDVAL] = pmd.raw_u64();
                m.goto(t, PTL);
                Step::Ran("follow_pte: pte_offset_map_lock: a table")
            }
            PTL => {
                if !m.ptl_lock(table, t) {
                    return Step::Blocked(Wait::Ptl(table));
                }
                m.goto(t, PTE);
                Step::Ran("pte_offset_map_lock: spin_lock(ptl)")
            }
            PTE => {
                if m.pmd_get(r).raw_u64() != m.th(t).regs[PMDVAL] {
                    m.ptl_unlock(table, t);
                    m.goto(t, PMD);
                    return Step::Ran("pte_offset_map_lock: !pmd_same, unlock and again");
                }
                m.pte_get(table, usize::from(self.slot));
                m.goto(t, UNLOCK_PTL);
                Step::Ran("pte_offset_map_lock: pmd_same; follow_pte: ptep_get")
            }
            UNLOCK_PTL => {
                m.ptl_unlock(table, t);
                m.goto(t, UNLOCK);
                Step::Ran("pte_unmap_unlock")
            }
            _ => {
                m.mmap_read_unlock(t);
                finish(m, t);
                Step::Ran("mmap_read_unlock")
            }
        }
    }
}
