//! The userfaultfd calls race 004 needs, as v6.12 has them (fs/userfaultfd.c,
//! mm/userfaultfd.c, mm/shmem.c):
//!
//! - [`UffdRegister`]: `UFFDIO_REGISTER` with `UFFDIO_REGISTER_MODE_MISSING` on the VMA over
//!   a region: `mmap_write_lock`, `vma_start_write`, `userfaultfd_set_vm_flags(VM_UFFD_MISSING)`,
//!   `mmap_write_unlock`.
//! - [`UffdCopy`]: the monitor's `UFFDIO_COPY` of one page: `mfill_atomic` (mm/userfaultfd.c:700)
//!   takes the VMA's lock for read (the model: `mmap_lock`), refuses a VMA not registered
//!   (`-ENOENT`), installs a page table under an empty pmd (`__pte_alloc`: `pmd_lock`,
//!   `pmd_install`) and rereads the pmd (`-EEXIST` if it is huge or not present), then
//!   `shmem_mfill_atomic_pte` allocates and fills a folio and adds it with
//!   `shmem_add_to_page_cache(expected NULL)` under `xa_lock`: `-EEXIST` when the slot holds
//!   anything. The pte install after a successful insertion (`mfill_atomic_install_pte`) is
//!   left out: it touches no page-cache slot, and nothing in race 004 reads that pte.

use crate::entry::PmdOps;

use super::super::Tid;
use super::super::invariant::InvariantId;
use super::super::mm::Machine;
use super::super::program::{Limits, Program, ProgramError, Step, Wait};
use super::super::state::locks::SpinlockId;
use super::super::state::page_cache::XaEntry;
use super::super::state::vma::VmFlags;
use super::collapse_file::CollapseGhost;
use super::finish;
use super::shmem_fault::{alloc_locked_folio, shmem_add_to_page_cache};
use super::v6_12::pmd_install_locked;

/// `UFFDIO_REGISTER` MODE_MISSING of the VMA over `region`.
#[derive(Clone, Copy, Debug)]
pub struct UffdRegister {
    /// A region of the VMA.
    pub region: u8,
}

const R_LOCK: u8 = 0;
const R_SET: u8 = 1;
const R_UNLOCK: u8 = 2;

impl<A: PmdOps> Program<A> for UffdRegister {
    fn name(&self) -> &'static str {
        "userfaultfd_register (v6.12)"
    }

    fn check(&self, limits: &Limits) -> Result<(), ProgramError> {
        limits.region(self.region)
    }

    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        match m.th(t).pc {
            R_LOCK => match m.mmap_write(t) {
                Some(true) => {
                    m.goto(t, R_SET);
                    Step::Ran("userfaultfd_register: mmap_write_lock")
                }
                Some(false) => Step::Ran("userfaultfd_register: mmap_write_lock: queued"),
                None => Step::Blocked(Wait::MmapWrite),
            },
            R_SET => {
                m.goto(t, R_UNLOCK);
                let Some(v) = m.vma_lookup(m.mm_of_thread(t), self.region) else {
                    return Step::Ran("userfaultfd_register: no VMA: -EINVAL");
                };
                let flags = m.vma(v).flags | VmFlags::UFFD_MISSING;
                m.vma_set_flags(v, flags);
                Step::Ran("vma_start_write; userfaultfd_set_vm_flags(VM_UFFD_MISSING)")
            }
            R_UNLOCK => {
                m.mmap_write_unlock(t);
                finish(m, t);
                Step::Ran("mmap_write_unlock")
            }
            _ => {
                finish(m, t);
                Step::Ran("userfaultfd_register: no such step")
            }
        }
    }
}

/// `UFFDIO_COPY` of one page at (region, index) of a shmem VMA.
#[derive(Clone, Copy, Debug)]
pub struct UffdCopy {
    /// The region (its VMA maps the file from index 0).
    pub region: u8,
    /// The file index.
    pub index: u8,
    /// The mapping's `xa_lock`.
    pub xa_lock: SpinlockId,
    /// The race-004 monitor cell: what the copy saw, and its `-EEXIST`.
    pub ghost: CollapseGhost,
}

const C_LOCK: u8 = 0;
const C_VMA: u8 = 1;
const C_ALLOC: u8 = 2;
const C_XA_LOCK: u8 = 3;
const C_ADD: u8 = 4;
const C_ADDED: u8 = 5;
const C_EEXIST: u8 = 6;
const C_DONE: u8 = 7;
const C_PMD: u8 = 8;
const C_PTE_ALLOC: u8 = 9;
const C_PMD_LOCK: u8 = 10;
const C_PMD_INSTALL: u8 = 11;
const C_PMD_UNLOCK: u8 = 12;
const C_PMD_AGAIN: u8 = 13;

/// Registers: the folio + 1; the table `__pte_alloc` allocated + 1.
const FOLIO: usize = 0;
const TABLE: usize = 1;

impl<A: PmdOps> Program<A> for UffdCopy {
    fn name(&self) -> &'static str {
        "mfill_atomic_copy (v6.12)"
    }

    fn check(&self, limits: &Limits) -> Result<(), ProgramError> {
        limits.region_slot(self.region, self.index)?;
        limits.ghost_cell(self.ghost.0)
    }

    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let index = usize::from(self.index);
        let folio = (m.th(t).regs[FOLIO] as u8).wrapping_sub(1);
        match m.th(t).pc {
            C_LOCK => {
                if !m.mmap_read(t) {
                    return Step::Blocked(Wait::MmapRead);
                }
                m.goto(t, C_VMA);
                Step::Ran("mfill_atomic: uffd_mfill_lock (mmap_read_lock)")
            }
            C_VMA => {
                let registered = m
                    .vma_lookup(m.mm_of_thread(t), self.region)
                    .is_some_and(|v| m.vma(v).flags.contains(VmFlags::UFFD_MISSING));
                if !registered {
                    m.mmap_read_unlock(t);
                    finish(m, t);
                    return Step::Ran("the VMA is not registered: -ENOENT; mmap_read_unlock");
                }
                m.goto(t, C_PMD);
                Step::Ran("the VMA is registered for missing pages")
            }
            C_PMD => {
                if A::pmd_none(m.pmd_get(self.region)) {
                    m.goto(t, C_PTE_ALLOC);
                    return Step::Ran("pmdp_get_lockless: pmd_none: __pte_alloc");
                }
                m.goto(t, C_PMD_AGAIN);
                Step::Ran("pmdp_get_lockless: not none")
            }
            C_PTE_ALLOC => {
                let Some(tab) = m.table_alloc(self.region) else {
                    m.flag(InvariantId::MODEL, "UFFDIO_COPY: the table arena is full");
                    m.goto(t, C_DONE);
                    return Step::Ran("__pte_alloc: -ENOMEM");
                };
                m.th_mut(t).regs[TABLE] = u64::from(tab) + 1;
                m.goto(t, C_PMD_LOCK);
                Step::Ran("__pte_alloc: pte_alloc_one")
            }
            C_PMD_LOCK => {
                if !m.pmd_lock(self.region, t) {
                    return Step::Blocked(Wait::PmdLock(self.region));
                }
                m.goto(t, C_PMD_INSTALL);
                Step::Ran("pmd_install: pmd_lock")
            }
            C_PMD_INSTALL => {
                let tab = (m.th(t).regs[TABLE] as u8).wrapping_sub(1);
                m.goto(t, C_PMD_UNLOCK);
                if pmd_install_locked(m, self.region, tab) {
                    m.th_mut(t).regs[TABLE] = 0;
                    return Step::Ran("pmd_install: pmd_populate");
                }
                Step::Ran("pmd_install: the pmd is no longer none")
            }
            C_PMD_UNLOCK => {
                m.pmd_unlock(self.region, t);
                if let Some(tab) = (m.th(t).regs[TABLE] as u8).checked_sub(1) {
                    m.table_free(tab);
                    m.th_mut(t).regs[TABLE] = 0;
                }
                m.goto(t, C_PMD_AGAIN);
                Step::Ran("pmd_install: spin_unlock; an unused table freed")
            }
            C_PMD_AGAIN => {
                let pmd = m.pmd_get(self.region);
                if !A::pmd_present(pmd) || A::pmd_trans_huge(pmd) {
                    m.goto(t, C_DONE);
                    return Step::Ran(
                        "pmdp_get_lockless: the pmd is huge (or not present): -EEXIST",
                    );
                }
                m.goto(t, C_ALLOC);
                Step::Ran("pmdp_get_lockless: a table")
            }
            C_ALLOC => {
                let Some(p) = alloc_locked_folio(m, t) else {
                    return Step::Ran("shmem_alloc_folio: no page");
                };
                m.th_mut(t).regs[FOLIO] = u64::from(p) + 1;
                m.goto(t, C_XA_LOCK);
                Step::Ran(
                    "shmem_mfill_atomic_pte: shmem_alloc_folio, copy_from_user, __folio_set_locked",
                )
            }
            C_XA_LOCK => {
                if !m.spin_lock(self.xa_lock, t) {
                    return Step::Blocked(Wait::Spinlock(self.xa_lock));
                }
                m.goto(t, C_ADD);
                Step::Ran("shmem_add_to_page_cache: xas_lock_irq")
            }
            C_ADD => match shmem_add_to_page_cache(m, index, folio) {
                Ok(()) => {
                    m.goto(t, C_ADDED);
                    Step::Ran("xas_store(folio); mapping->nrpages++")
                }
                Err(found) => {
                    if let XaEntry::Page(p) = found {
                        self.ghost.observe(m, index, p);
                    }
                    self.ghost.eexist(m, index);
                    m.goto(t, C_EEXIST);
                    Step::Ran("xas_find_conflict: the slot is taken: -EEXIST")
                }
            },
            C_ADDED => {
                m.spin_unlock(self.xa_lock, t);
                m.goto(t, C_DONE);
                Step::Ran("xas_unlock_irq")
            }
            C_EEXIST => {
                m.spin_unlock(self.xa_lock, t);
                m.page_unlock(folio, t);
                m.page_put(folio);
                m.goto(t, C_DONE);
                Step::Ran("xas_unlock_irq; folio_unlock, folio_put: UFFDIO_COPY returns -EEXIST")
            }
            C_DONE => {
                if folio != u8::MAX && m.page(folio).lock.held_by(t) {
                    m.page_unlock(folio, t);
                }
                m.mmap_read_unlock(t);
                finish(m, t);
                Step::Ran("folio_unlock; mmap_read_unlock")
            }
            _ => {
                finish(m, t);
                Step::Ran("mfill_atomic_copy: no such step")
            }
        }
    }
}
