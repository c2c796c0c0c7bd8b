//! `mmap(MAP_FIXED)` of an anonymous mapping over regions that may be mapped already:
//! `vm_mmap_pgoff` takes `mmap_lock` for write, `mmap_region` unmaps what was there
//! (`do_vmi_munmap` with the lock kept, v6.12 mm/mmap.c:1417; `do_munmap` in v4.20) and links
//! the new VMA (`vma_link`), then the lock is released. Same order in every version the
//! catalogue runs.
//!
//! The unmap of the old mapping is one step: it runs under the write lock, so only a lockless
//! walker could see its parts, and the scenarios that use this program have none.

use crate::entry::PmdOps;

use super::super::Tid;
use super::super::invariant::InvariantId;
use super::super::mm::Machine;
use super::super::program::{Limits, Program, ProgramError, Step, Wait};
use super::super::state::vma::VmFlags;
use super::v6_12::pte_offset_map;
use super::{check_range, finish, vma_ids, vmas_in_range, zap_table_ptes};

/// Monitor hook: ghost cells a scenario watches the new mapping with.
#[derive(Clone, Copy, Debug, Default)]
pub struct MmapMonitor {
    /// When this cell reads 1 (a concurrent munmap is past its linearization point) as the
    /// VMA is linked, the VMA's bit is set in `born_after_cell`.
    pub lin_cell: Option<usize>,
    /// Bit per VMA id linked after that point.
    pub born_after_cell: Option<usize>,
}

/// `mmap(addr, len, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS)` over
/// regions `[start, end)`, by the thread's own mm.
#[derive(Clone, Copy, Debug)]
pub struct MmapFixed {
    /// First region.
    pub start: u8,
    /// One past the last region.
    pub end: u8,
    /// What the scenario watches.
    pub monitor: MmapMonitor,
}

impl MmapFixed {
    /// `mmap(MAP_FIXED)` over `[start, end)`, unwatched.
    pub const fn new(start: u8, end: u8) -> Self {
        Self {
            start,
            end,
            monitor: MmapMonitor {
                lin_cell: None,
                born_after_cell: None,
            },
        }
    }
}

const LOCK: u8 = 0;
const UNMAP_OLD: u8 = 1;
const LINK: u8 = 2;
const UNLOCK: u8 = 3;

impl<A: PmdOps> Program<A> for MmapFixed {
    fn name(&self) -> &'static str {
        "mmap(MAP_FIXED): vm_mmap_pgoff, mmap_region"
    }

    fn check(&self, limits: &Limits) -> Result<(), ProgramError> {
        check_range(limits, self.start, self.end)
    }

    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let mm = m.mm_of_thread(t);
        match m.th(t).pc {
            LOCK => match m.mmap_write(t) {
                Some(true) => {
                    m.goto(t, UNMAP_OLD);
                    Step::Ran("vm_mmap_pgoff: mmap_write_lock_killable")
                }
                Some(false) => Step::Ran("vm_mmap_pgoff: mmap_write_lock_killable: queued"),
                None => Step::Blocked(Wait::MmapWrite),
            },
            UNMAP_OLD => {
                let old = vmas_in_range(m, mm, self.start, self.end);
                if old == 0 {
                    m.goto(t, LINK);
                    return Step::Ran("mmap_region: nothing mapped in the range");
                }
                let floor = m.vma_prev(mm, self.start).map_or(0, |p| m.vma(p).end);
                let ceiling = m
                    .find_vma(mm, self.end)
                    .map_or(m.npmds(), |n| m.vma(n).start);
                for id in vma_ids(old) {
                    m.vma_detach(id);
                }
                for r in self.start..self.end {
                    unmap_and_free(m, r, floor <= r && r < ceiling);
                    m.tlb_flush_region(r);
                }
                m.goto(t, LINK);
                Step::Ran(
                    "mmap_region: do_vmi_munmap under the write lock: detach, unmap_vmas, free_pgtables, tlb_finish_mmu",
                )
            }
            LINK => {
                let flags = VmFlags::READ | VmFlags::WRITE;
                match m.vma_insert(mm, self.start, self.end, flags) {
                    Some(id) => {
                        if let (Some(lin), Some(born)) =
                            (self.monitor.lin_cell, self.monitor.born_after_cell)
                        {
                            if m.ghost_get(lin) == 1 {
                                let b = m.ghost_get(born);
                                m.ghost_set(born, b | 1 << id.0);
                            }
                        }
                    }
                    None => m.flag(InvariantId::MODEL, "no VMA slot left for mmap"),
                }
                m.goto(t, UNLOCK);
                Step::Ran("mmap_region: vma_link")
            }
            _ => {
                m.mmap_write_unlock(t);
                finish(m, t);
                Step::Ran("vm_mmap_pgoff: mmap_write_unlock, mmap returns")
            }
        }
    }
}

/// Zaps region `r`'s ptes and, when `free`, clears its pmd and frees its table: the write
/// lock's whole munmap of one region in one step.
fn unmap_and_free<A: PmdOps>(m: &mut Machine<A>, r: u8, free: bool) {
    let pmd = m.pmd_get(r);
    let Some(table) = pte_offset_map(m, pmd) else {
        return;
    };
    zap_table_ptes(m, r, table);
    if free {
        m.pmd_set(r, A::pmd_empty());
        m.table_free(table);
    }
}
