//! A user page fault as an architecture's fault handler takes it (`do_user_addr_fault` on
//! x86, `do_page_fault` elsewhere): `mmap_lock` for read, the VMA looked up, a stack grown to
//! cover the address, then `handle_mm_fault`. The lookup and growth are the versions' own:
//!
//! - v4.20 to v6.4: `find_vma`; a VMA above the address that is `VM_GROWSDOWN` is grown by
//!   `expand_stack` under the *read* lock (what 246c320a8cfe's munmap fix had to work around
//!   and StackRot, CVE-2023-3269, exploited);
//! - the three-phase munmap proposal (2018) adds a `VM_DEAD` check: a dying VMA faults
//!   `VM_FAULT_SIGSEGV`;
//! - v6.12 `lock_mm_and_find_vma` (mm/memory.c:6211): growth needs the write lock, so the
//!   fault drops the read lock, takes the write lock, looks the VMA up again, grows it
//!   (`expand_stack_locked` → `expand_downwards`, mm/mmap.c:1153) and downgrades.
//!
//! `handle_mm_fault` itself is v6.12's anonymous fault ([`super::v6_12::fault::AnonFault`],
//! small pages) in every shape: the race turns on the VMA tree, not on the pte path.

use crate::entry::PmdOps;

use super::super::Tid;
use super::super::invariant::{Invariant, InvariantId};
use super::super::mm::Machine;
use super::super::program::{Limits, Program, ProgramError, Step, Wait};
use super::super::state::vma::{VmFlags, VmaId};
use super::finish;
use super::v6_12::fault::{AnonFault, FaultFlags, SET_PTE};

const RETURN: u8 = AnonFault::RETURN;

/// Which kernel's VMA lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LookupShape {
    /// `find_vma` + `expand_stack` under the read lock (v4.20 to v6.4).
    ReadLockGrowth,
    /// As [`ReadLockGrowth`](Self::ReadLockGrowth), and a `VM_DEAD` VMA faults SIGSEGV (the
    /// 2018 three-phase munmap proposal).
    VmDeadCheck,
    /// v6.12 `lock_mm_and_find_vma`: growth under the write lock.
    V6_12,
}

/// A user write to (region, slot) of the thread's own mm.
#[derive(Clone, Copy, Debug)]
pub struct UserFault {
    /// The region (pmd index).
    pub region: u8,
    /// The pte slot within it.
    pub slot: u8,
    /// Which kernel's lookup.
    pub shape: LookupShape,
    /// Test-only mutation of [`LookupShape::VmDeadCheck`]: the fault path forgets the
    /// `VM_DEAD` check.
    pub ignore_vm_dead: bool,
    /// Flagged when the fault maps a page at an address no live VMA of the tree covers (one
    /// that is detached or `VM_DEAD`): memory munmap already took away.
    pub map_outside_vma: Option<&'static Invariant>,
}

impl UserFault {
    /// A write fault at (region, slot) with `shape`'s lookup, unwatched.
    pub const fn new(region: u8, slot: u8, shape: LookupShape) -> Self {
        Self {
            region,
            slot,
            shape,
            ignore_vm_dead: false,
            map_outside_vma: None,
        }
    }
    fn inner(&self) -> AnonFault {
        AnonFault {
            huge: false,
            ..AnonFault::new(self.region, self.slot)
        }
    }
}

/// `mmap_read_lock`: the fault's first step (the anonymous fault's own `LOCK_MMAP` is
/// skipped: the lookup enters it with [`AnonFault::enter`]).
const LOCK_MMAP: u8 = 0;
// The lookup's own steps, past the anonymous fault's.
const FIND: u8 = RETURN + 10;
const EXPAND: u8 = FIND + 1;
const UPGRADE_UNLOCK: u8 = FIND + 2;
const UPGRADE_LOCK: u8 = FIND + 3;
const REFIND: u8 = FIND + 4;
const DOWNGRADE: u8 = FIND + 5;
const FAIL_WRITE: u8 = FIND + 6;
const SIGSEGV: u8 = FIND + 7;
/// Register the VMA found is kept in (+ 1) until `handle_mm_fault` takes the registers.
const VMA: usize = 0;

impl UserFault {
    fn found(m: &Machine<impl PmdOps>, t: Tid) -> VmaId {
        VmaId((m.th(t).regs[VMA] as u8).wrapping_sub(1))
    }
    /// `expand_downwards` of `id` to the faulting region: refused when a VMA below already
    /// reaches it (`stack_guard_gap` is far below a pmd, so only an overlap matters here).
    fn expand<A: PmdOps>(&self, m: &mut Machine<A>, mm: u8, id: VmaId) -> bool {
        let r = self.region;
        if m.vma_prev(mm, r + 1).is_some_and(|p| m.vma(p).end > r) {
            return false;
        }
        m.vma_set_start(id, r);
        true
    }
}

impl<A: PmdOps> Program<A> for UserFault {
    fn name(&self) -> &'static str {
        match self.shape {
            LookupShape::ReadLockGrowth => "page fault: find_vma, expand_stack (v4.20)",
            LookupShape::VmDeadCheck => "page fault: find_vma, VM_DEAD check (2018 proposal)",
            LookupShape::V6_12 => "page fault: lock_mm_and_find_vma (v6.12)",
        }
    }

    fn check(&self, limits: &Limits) -> Result<(), ProgramError> {
        limits.region_slot(self.region, self.slot)
    }

    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let mm = m.mm_of_thread(t);
        let r = self.region;
        match m.th(t).pc {
            LOCK_MMAP => {
                if !m.mmap_read(t) {
                    return Step::Blocked(Wait::MmapRead);
                }
                m.goto(t, FIND);
                Step::Ran("mmap_read_lock")
            }
            FIND => {
                let Some(id) = m.find_vma(mm, r) else {
                    m.goto(t, SIGSEGV);
                    return Step::Ran("find_vma: no VMA above, bad_area");
                };
                let vma = m.vma(id);
                m.th_mut(t).regs[VMA] = u64::from(id.0) + 1;
                if vma.start <= r {
                    let dead = self.shape == LookupShape::VmDeadCheck
                        && !self.ignore_vm_dead
                        && vma.flags.contains(VmFlags::DEAD);
                    if dead {
                        m.goto(t, SIGSEGV);
                        return Step::Ran("find_vma: VM_DEAD, VM_FAULT_SIGSEGV");
                    }
                    AnonFault::enter(m, t, FaultFlags::default());
                    return Step::Ran("find_vma: vma->vm_start <= address, handle_mm_fault");
                }
                if !vma.flags.contains(VmFlags::GROWSDOWN) {
                    m.goto(t, SIGSEGV);
                    return Step::Ran("find_vma: a VMA above, not VM_GROWSDOWN: bad_area");
                }
                if self.shape == LookupShape::V6_12 {
                    m.goto(t, UPGRADE_UNLOCK);
                    return Step::Ran(
                        "lock_mm_and_find_vma: VM_GROWSDOWN, mmap_upgrade_trylock fails (it always does)",
                    );
                }
                m.goto(t, EXPAND);
                Step::Ran("find_vma: VM_GROWSDOWN above, expand_stack")
            }
            EXPAND => {
                let id = Self::found(m, t);
                if !self.expand(m, mm, id) {
                    m.goto(t, SIGSEGV);
                    return Step::Ran("expand_downwards: -ENOMEM, bad_area");
                }
                AnonFault::enter(m, t, FaultFlags::default());
                Step::Ran("expand_downwards under mmap_lock read: vma->vm_start = address")
            }
            UPGRADE_UNLOCK => {
                m.mmap_read_unlock(t);
                m.goto(t, UPGRADE_LOCK);
                Step::Ran("upgrade_mmap_lock_carefully: mmap_read_unlock")
            }
            UPGRADE_LOCK => match m.mmap_write(t) {
                Some(true) => {
                    m.goto(t, REFIND);
                    Step::Ran("upgrade_mmap_lock_carefully: mmap_write_lock_killable")
                }
                Some(false) => Step::Ran("upgrade_mmap_lock_carefully: queued for write"),
                None => Step::Blocked(Wait::MmapWrite),
            },
            REFIND => {
                let Some(id) = m.find_vma(mm, r) else {
                    m.goto(t, FAIL_WRITE);
                    return Step::Ran("lock_mm_and_find_vma: find_vma again: none, fail");
                };
                let vma = m.vma(id);
                m.goto(t, DOWNGRADE);
                if vma.start <= r {
                    return Step::Ran("lock_mm_and_find_vma: find_vma again: it covers, success");
                }
                if !vma.flags.contains(VmFlags::GROWSDOWN) || !self.expand(m, mm, id) {
                    m.goto(t, FAIL_WRITE);
                    return Step::Ran("lock_mm_and_find_vma: cannot grow, fail");
                }
                Step::Ran("expand_stack_locked: expand_downwards: vma->vm_start = address")
            }
            DOWNGRADE => {
                m.mmap_downgrade(t);
                AnonFault::enter(m, t, FaultFlags::default());
                Step::Ran("lock_mm_and_find_vma: mmap_write_downgrade, handle_mm_fault")
            }
            FAIL_WRITE => {
                m.mmap_write_unlock(t);
                finish(m, t);
                Step::Ran("lock_mm_and_find_vma: mmap_write_unlock, SIGSEGV")
            }
            SIGSEGV => {
                m.mmap_read_unlock(t);
                finish(m, t);
                Step::Ran("bad_area: mmap_read_unlock, SIGSEGV")
            }
            pc if pc <= RETURN => {
                let slot = usize::from(self.slot);
                let before = (pc == SET_PTE).then(|| m.translate(r, slot));
                let step = self.inner().step(m, t);
                if before == Some(None) && m.translate(r, slot).is_some() {
                    if let Some(inv) = self.map_outside_vma {
                        let live = m
                            .vma_lookup(mm, r)
                            .is_some_and(|id| !m.vma(id).flags.contains(VmFlags::DEAD));
                        if !live {
                            m.flag(inv.id(), "the fault mapped a page where no live VMA is");
                        }
                    }
                }
                step
            }
            _ => {
                m.flag(InvariantId::MODEL, "the fault ran past its last step");
                finish(m, t);
                Step::Ran("page fault: no such step")
            }
        }
    }
}
