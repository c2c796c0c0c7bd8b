//! munmap of a range of regions, in the shapes race 003 (`shared/reference/races.md`) turns
//! on: the three-phase `VM_DEAD` design proposed in 2018, v4.20's `__do_munmap` that detaches
//! the VMAs and zaps under `downgrade_write` (dd2283f2605e), v5.8's refusal to downgrade next
//! to a stack (246c320a8cfe), and v6.12's `do_vmi_align_munmap` (mm/vma.c:1352), which reads
//! the page-table ceiling under the write lock and downgrades unconditionally (stacks grow
//! only under the write lock since v6.5, 8d7071af8907).
//!
//! Every step is one lock operation, one VMA-tree update, one read of a neighbour's bound, one
//! pmd or pte-table access, or the final flush. Pages are zapped as the MADV_DONTNEED model
//! does (`zap_pte_range` under the pte lock, mapcounts only). `free_pgd_range` frees the table
//! of each region of the range within `[floor, ceiling)`, `pmd_clear` first and the table
//! itself at `tlb_finish_mmu` (`pte_free_tlb` batches it behind the flush).

use crate::entry::PmdOps;

use super::super::Tid;
use super::super::invariant::{Invariant, InvariantId};
use super::super::mm::Machine;
use super::super::program::{Limits, Program, ProgramError, Step, Wait};
use super::super::state::vma::{VmFlags, VmaId};
use super::v6_12::pte_offset_map;
use super::{check_range, finish, vma_ids, vmas_in_range, zap_table_ptes};

/// Which munmap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MunmapShape {
    /// The 2018 proposal (Peter Zijlstra, in the review of "mm: mmap: zap pages with read
    /// mmap_sem for large mapping"): mark the VMAs `VM_DEAD` under the write lock, zap under
    /// the read lock, then retake the write lock to detach whatever VMAs are in the range and
    /// free the page tables.
    ThreePhase,
    /// v4.20 `__do_munmap(downgrade = true)`: detach, `downgrade_write`, `unmap_region`
    /// (zap, then `free_pgtables` bounded by `next->vm_start` as it reads then).
    V4_20,
    /// v5.8: as v4.20, but keep the write lock when the next VMA is `VM_GROWSDOWN` (or the
    /// previous `VM_GROWSUP`, which no modelled architecture has).
    V5_8,
    /// v6.12 `do_vmi_align_munmap`: `vms_gather_munmap_vmas` reads `unmap_start`/`unmap_end`
    /// under the write lock (mm/vma.c:1235, :1300), `vma_iter_clear_gfp` detaches (:1368),
    /// `vms_complete_munmap_vmas` downgrades (:1159) and `vms_clear_ptes` zaps and frees
    /// (:1099).
    V6_12,
}

/// Monitor hooks: ghost cells and declared invariants a scenario watches munmap with. They
/// observe; the kernel path does not read them.
#[derive(Clone, Copy, Debug, Default)]
pub struct MunmapMonitor {
    /// Set to 1 at munmap's linearization point (the detach; the `VM_DEAD` marking in the
    /// three-phase shape) and to 2 when it returns.
    pub lin_cell: Option<usize>,
    /// Set to 1 while munmap holds the lock it downgraded to, 0 after.
    pub downgraded_cell: Option<usize>,
    /// Flagged when `free_pgd_range` frees the table of a region an attached VMA overlaps.
    pub free_under_vma: Option<&'static Invariant>,
}

/// `munmap(start, end)` of regions `[start, end)`, by the thread's own mm.
#[derive(Clone, Copy, Debug)]
pub struct Munmap {
    /// First region.
    pub start: u8,
    /// One past the last region.
    pub end: u8,
    /// Which kernel's munmap.
    pub shape: MunmapShape,
    /// Test-only mutation: "downgrade" by `mmap_write_unlock` then `mmap_read_lock`, which
    /// lets a writer in between.
    pub downgrade_by_unlock: bool,
    /// What the scenario watches.
    pub monitor: MunmapMonitor,
}

impl Munmap {
    /// munmap of `[start, end)` in `shape`, unwatched.
    pub const fn new(start: u8, end: u8, shape: MunmapShape) -> Self {
        Self {
            start,
            end,
            shape,
            downgrade_by_unlock: false,
            monitor: MunmapMonitor {
                lin_cell: None,
                downgraded_cell: None,
                free_under_vma: None,
            },
        }
    }
}

// Registers.
/// The VMAs gathered (bit per id), then (three-phase) marked.
const VMAS: usize = 0;
/// `next` + 1 (0: none), and, once read, floor (byte 1) and ceiling (byte 2) + 1.
const BOUNDS: usize = 1;
/// The region being zapped or freed (byte 0), the table being zapped (byte 1).
const CUR: usize = 2;
/// Tables whose pmd was cleared, freed at `tlb_finish_mmu` (bit per table); bit 63: the
/// write lock is still held (no downgrade).
const PENDING: usize = 3;
const WRITE_HELD: u64 = 1 << 63;

const LOCK_WRITE: u8 = 0;
const GATHER: u8 = 1;
const DETACH: u8 = 2;
const DOWNGRADE: u8 = 3;
const RELOCK_READ: u8 = 4;
const ZAP_PMD: u8 = 5;
const ZAP_LOCK: u8 = 6;
const ZAP_CLEAR: u8 = 7;
const ZAP_UNLOCK: u8 = 8;
const CEILING: u8 = 9;
const FREE_PMD: u8 = 10;
const FINISH_MMU: u8 = 11;
const UNLOCK: u8 = 12;
// The three-phase shape's own steps.
const MARK_DEAD: u8 = 13;
const PHASE1_UNLOCK: u8 = 14;
const PHASE2_LOCK: u8 = 15;
const PHASE2_UNLOCK: u8 = 16;
const PHASE3_LOCK: u8 = 17;
const PHASE3_GATHER: u8 = 18;

impl Munmap {
    fn lin(&self, m: &mut Machine<impl PmdOps>, v: u64) {
        if let Some(c) = self.monitor.lin_cell {
            m.ghost_set(c, v);
        }
    }
    fn downgraded(&self, m: &mut Machine<impl PmdOps>, v: u64) {
        if let Some(c) = self.monitor.downgraded_cell {
            m.ghost_set(c, v);
        }
    }
    /// `prev ? prev->vm_end : FIRST_USER_ADDRESS` and `next ? next->vm_start :
    /// USER_PGTABLES_CEILING`, packed as `BOUNDS` keeps them.
    fn bounds<A: PmdOps>(&self, m: &Machine<A>, mm: u8, next: Option<VmaId>) -> u64 {
        let floor = m.vma_prev(mm, self.start).map_or(0, |p| m.vma(p).end);
        let ceiling = next.map_or(m.npmds(), |n| m.vma(n).start);
        next_byte(next) | u64::from(floor) << 8 | (u64::from(ceiling) + 1) << 16
    }
    /// On to the next region of the zap, or to `free_pgtables`.
    fn next_zap<A: PmdOps>(&self, m: &mut Machine<A>, t: Tid, label: &'static str) -> Step {
        let r = m.th(t).regs[CUR] as u8 + 1;
        if r < self.end {
            m.th_mut(t).regs[CUR] = u64::from(r);
            m.goto(t, ZAP_PMD);
            return Step::Ran(label);
        }
        m.th_mut(t).regs[CUR] = u64::from(self.start);
        match self.shape {
            MunmapShape::ThreePhase => m.goto(t, PHASE2_UNLOCK),
            MunmapShape::V4_20 | MunmapShape::V5_8 => m.goto(t, CEILING),
            MunmapShape::V6_12 => m.goto(t, FREE_PMD),
        }
        Step::Ran(label)
    }
}

/// `next` + 1 as `BOUNDS`' low byte keeps it (0: no next VMA).
fn next_byte(next: Option<VmaId>) -> u64 {
    next.map_or(0, |n| u64::from(n.0) + 1)
}

impl<A: PmdOps> Program<A> for Munmap {
    fn name(&self) -> &'static str {
        match self.shape {
            MunmapShape::ThreePhase => "munmap (three phases with VM_DEAD, 2018 proposal)",
            MunmapShape::V4_20 => "__do_munmap (downgrade_write, v4.20)",
            MunmapShape::V5_8 => "__do_munmap (no downgrade next to a stack, v5.8)",
            MunmapShape::V6_12 => "do_vmi_align_munmap (v6.12)",
        }
    }

    fn check(&self, limits: &Limits) -> Result<(), ProgramError> {
        check_range(limits, self.start, self.end)
    }

    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let mm = m.mm_of_thread(t);
        match m.th(t).pc {
            LOCK_WRITE | PHASE3_LOCK => {
                let pc = m.th(t).pc;
                match m.mmap_write(t) {
                    Some(true) => {}
                    Some(false) => return Step::Ran("mmap_write_lock_killable: queued"),
                    None => return Step::Blocked(Wait::MmapWrite),
                }
                let next = match (pc, self.shape) {
                    (LOCK_WRITE, MunmapShape::ThreePhase) => MARK_DEAD,
                    (LOCK_WRITE, _) => GATHER,
                    _ => PHASE3_GATHER,
                };
                m.goto(t, next);
                Step::Ran("mmap_write_lock_killable")
            }
            GATHER | PHASE3_GATHER => {
                let vmas = vmas_in_range(m, mm, self.start, self.end);
                let next = m.find_vma(mm, self.end);
                m.th_mut(t).regs[VMAS] = vmas;
                let v6 = self.shape == MunmapShape::V6_12 || m.th(t).pc == PHASE3_GATHER;
                let bounds = if v6 {
                    // Under the write lock: floor and ceiling are read now and stay true.
                    self.bounds(m, mm, next)
                } else {
                    next_byte(next)
                };
                m.th_mut(t).regs[BOUNDS] = bounds;
                m.goto(t, DETACH);
                Step::Ran(if v6 {
                    "vms_gather_munmap_vmas: the VMAs in the range; unmap_start = prev->vm_end, unmap_end = next->vm_start"
                } else {
                    "__do_munmap: find_vma, split; prev and next"
                })
            }
            DETACH => {
                let vmas = m.th(t).regs[VMAS];
                for id in vma_ids(vmas) {
                    m.vma_detach(id);
                }
                if self.shape != MunmapShape::ThreePhase {
                    self.lin(m, 1);
                }
                // Phase 3 frees the tables under the same write lock, without a second zap:
                // phase 2 zapped.
                let three = self.shape == MunmapShape::ThreePhase;
                m.th_mut(t).regs[CUR] = u64::from(self.start);
                m.goto(t, if three { FREE_PMD } else { DOWNGRADE });
                Step::Ran(match self.shape {
                    MunmapShape::V6_12 => "vma_iter_clear_gfp: the VMAs leave the tree",
                    MunmapShape::ThreePhase => "phase 3: detach the VMAs in the range",
                    _ => "detach_vmas_to_be_unmapped",
                })
            }
            DOWNGRADE => {
                let keep = self.shape == MunmapShape::V5_8 && {
                    let next = m.th(t).regs[BOUNDS] & 0xff;
                    next != 0
                        && m.vma(VmaId(next as u8 - 1))
                            .flags
                            .contains(VmFlags::GROWSDOWN)
                };
                m.th_mut(t).regs[CUR] = u64::from(self.start);
                if keep {
                    m.th_mut(t).regs[PENDING] |= WRITE_HELD;
                    m.goto(t, ZAP_PMD);
                    return Step::Ran("__do_munmap: next is VM_GROWSDOWN, downgrade = false");
                }
                self.downgraded(m, 1);
                if self.downgrade_by_unlock {
                    m.mmap_write_unlock(t);
                    m.goto(t, RELOCK_READ);
                    return Step::Ran("mutation: mmap_write_unlock (instead of downgrade)");
                }
                m.mmap_downgrade(t);
                m.goto(t, ZAP_PMD);
                Step::Ran("mmap_write_downgrade")
            }
            RELOCK_READ | PHASE2_LOCK => {
                if !m.mmap_read(t) {
                    return Step::Blocked(Wait::MmapRead);
                }
                let phase2 = m.th(t).pc == PHASE2_LOCK;
                m.th_mut(t).regs[CUR] = u64::from(self.start);
                m.goto(t, ZAP_PMD);
                Step::Ran(if phase2 {
                    "phase 2: mmap_read_lock"
                } else {
                    "mutation: mmap_read_lock"
                })
            }
            ZAP_PMD => {
                let r = m.th(t).regs[CUR] as u8;
                let pmd = m.pmd_get(r);
                match pte_offset_map(m, pmd) {
                    Some(table) => {
                        m.th_mut(t).regs[CUR] = u64::from(r) | u64::from(table) << 8;
                        m.goto(t, ZAP_LOCK);
                        Step::Ran("unmap_vmas: zap_pmd_range: a table, pte_offset_map_lock")
                    }
                    None => self.next_zap(m, t, "unmap_vmas: zap_pmd_range: pmd_none, skip"),
                }
            }
            ZAP_LOCK => {
                let table = (m.th(t).regs[CUR] >> 8) as u8;
                if !m.ptl_lock(table, t) {
                    return Step::Blocked(Wait::Ptl(table));
                }
                m.goto(t, ZAP_CLEAR);
                Step::Ran("zap_pte_range: spin_lock(ptl)")
            }
            ZAP_CLEAR => {
                // Every slot under the one pte lock: nothing in the scenario reads a table
                // without it, so one step per slot would add only equivalent orders.
                let cur = m.th(t).regs[CUR];
                zap_table_ptes(m, cur as u8, (cur >> 8) as u8);
                m.goto(t, ZAP_UNLOCK);
                Step::Ran("zap_pte_range: ptep_get_and_clear_full, folio_remove_rmap_ptes")
            }
            ZAP_UNLOCK => {
                let table = (m.th(t).regs[CUR] >> 8) as u8;
                m.ptl_unlock(table, t);
                m.th_mut(t).regs[CUR] &= 0xff;
                self.next_zap(m, t, "zap_pte_range: pte_unmap_unlock")
            }
            CEILING => {
                let next = m.th(t).regs[BOUNDS] & 0xff;
                let next = (next != 0).then(|| VmaId(next as u8 - 1));
                let bounds = self.bounds(m, mm, next);
                m.th_mut(t).regs[BOUNDS] = bounds;
                m.goto(t, FREE_PMD);
                Step::Ran(
                    "unmap_region: free_pgtables(prev ? prev->vm_end : FIRST_USER_ADDRESS, next ? next->vm_start : USER_PGTABLES_CEILING)",
                )
            }
            FREE_PMD => {
                let r = m.th(t).regs[CUR] as u8;
                let bounds = m.th(t).regs[BOUNDS];
                let floor = (bounds >> 8) as u8;
                let ceiling = ((bounds >> 16) as u8).wrapping_sub(1);
                let mut label = "free_pgd_range: outside [floor, ceiling), kept";
                if floor <= r && r < ceiling {
                    let pmd = m.pmd_get(r);
                    if let Some(table) = pte_offset_map(m, pmd) {
                        if let Some(inv) = self.monitor.free_under_vma {
                            if m.vma_overlaps(mm, r, r + 1) {
                                m.flag(
                                    inv.id(),
                                    "free_pgd_range frees the page table of a region a VMA in the tree covers",
                                );
                            }
                        }
                        m.pmd_set(r, A::pmd_empty());
                        m.th_mut(t).regs[PENDING] |= 1 << table;
                        label = "free_pte_range: pmd_clear, pte_free_tlb";
                    } else {
                        label = "free_pgd_range: pmd_none_or_clear_bad, nothing to free";
                    }
                }
                if r + 1 < self.end {
                    m.th_mut(t).regs[CUR] = u64::from(r + 1);
                } else {
                    m.goto(t, FINISH_MMU);
                }
                Step::Ran(label)
            }
            FINISH_MMU => {
                for r in self.start..self.end {
                    m.tlb_flush_region(r);
                }
                let pending = m.th(t).regs[PENDING];
                for table in 0..63u8 {
                    if pending & 1 << table != 0 {
                        m.table_free(table);
                    }
                }
                m.th_mut(t).regs[PENDING] = pending & WRITE_HELD;
                m.goto(t, UNLOCK);
                Step::Ran("tlb_finish_mmu: flush the range, free the gathered tables")
            }
            UNLOCK => {
                let write = self.shape == MunmapShape::ThreePhase
                    || m.th(t).regs[PENDING] & WRITE_HELD != 0;
                if write {
                    m.mmap_write_unlock(t);
                } else {
                    m.mmap_read_unlock(t);
                    self.downgraded(m, 0);
                }
                self.lin(m, 2);
                finish(m, t);
                Step::Ran(if write {
                    "mmap_write_unlock, munmap returns"
                } else {
                    "mmap_read_unlock, munmap returns"
                })
            }
            MARK_DEAD => {
                let vmas = vmas_in_range(m, mm, self.start, self.end);
                for id in vma_ids(vmas) {
                    let f = m.vma(id).flags;
                    m.vma_set_flags(id, f | VmFlags::DEAD);
                }
                self.lin(m, 1);
                m.goto(t, PHASE1_UNLOCK);
                Step::Ran("phase 1: split the VMAs at the ends, set VM_DEAD")
            }
            PHASE1_UNLOCK => {
                m.mmap_write_unlock(t);
                m.goto(t, PHASE2_LOCK);
                Step::Ran("phase 1: mmap_write_unlock")
            }
            PHASE2_UNLOCK => {
                m.mmap_read_unlock(t);
                m.goto(t, PHASE3_LOCK);
                Step::Ran("phase 2: mmap_read_unlock")
            }
            _ => {
                m.flag(InvariantId::MODEL, "munmap ran past its last step");
                finish(m, t);
                Step::Ran("munmap: no such step")
            }
        }
    }
}
