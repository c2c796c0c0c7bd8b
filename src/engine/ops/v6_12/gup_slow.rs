//! GUP's slow path as v6.12 does it (mm/gup.c), beside GUP-fast ([`super::gup`]):
//! `get_user_pages_unlocked` of one page takes `mmap_lock` for read
//! (`__get_user_pages_locked`, :1738), and `__get_user_pages` (:1427) loops
//! `follow_page_mask` (:1495) → `faultin_page` (:1157) → retry (:1500) until the walk finds
//! the page, then drops the lock (:1848).
//!
//! `follow_pmd_mask` (:953) reads the pmd locklessly (`pmdp_get_lockless`, :964): none or not
//! present is `no_page_table`, a table goes to `follow_page_pte`, a leaf takes the pmd lock
//! and reads the pmd again (:983-984) before `follow_huge_pmd` (:718) grabs the folio
//! (`try_grab_folio`, :748) under that lock; a pmd that stopped being a leaf meanwhile goes
//! to `follow_page_pte` after all. `follow_page_pte` (:839) maps the table with
//! `pte_offset_map_lock` (:855: the pmd read, the pte lock, the `pmd_same` recheck) and
//! reads the pte under the lock (:858): not present is `no_page`; the zero page is followed
//! (`is_zero_pfn`, :894); a `FOLL_WRITE` walk needs `pte_write` (`can_follow_write_pte`,
//! :871; no `FOLL_FORCE`) and otherwise returns NULL for a write fault. Whatever is grabbed
//! is the page mapped at the address (INV-002-DECODE, judged at the grab, under the lock).
//!
//! `faultin_page` calls `handle_mm_fault` (:1196), here v6.12's anonymous fault
//! ([`super::fault::AnonFault`]: do_anonymous_page, the huge fault, do_wp_page), and returns
//! 0 whatever it did: the loop walks again, still under `mmap_lock`. The walk is `FOLL_GET`
//! (`get_user_pages`), or with [`GupSlow::pin`] a read `FOLL_PIN`
//! (`pin_user_pages_unlocked`): then `gup_must_unshare` (mm/internal.h:1373) sends an
//! anonymous page that is not `PageAnonExclusive` back as `-EMLINK` (:904, :742), and
//! `faultin_page` takes a `FAULT_FLAG_UNSHARE` fault (:1191) that makes it exclusive; the
//! pin is a reference that `folio_maybe_dma_pinned` sees ([`Machine::page_pin`]). No
//! `FOLL_HONOR_NUMA_FAULT`, so `gup_can_follow_protnone` follows PROT_NONE entries; no
//! `FOLL_SPLIT_PMD`, `FOLL_DUMP` or `FOLL_NOFAULT`. The scenario's VMA covers the address
//! (`gup_vma_lookup` is no step: VMA-tree races are [`super::super::user_fault`]'s);
//! `check_vma_flags` (:1270) refuses a write to a VMA without `VM_WRITE` with `-EFAULT`.

use crate::entry::{PmdOps, Pte};

use super::super::super::Tid;
use super::super::super::invariant::InvariantId;
use super::super::super::mm::Machine;
use super::super::super::program::{Limits, Program, ProgramError, Step, Wait};
use super::super::finish;
use super::fault::{AnonFault, FaultFlags};
use super::{InRegs, PteOffsetMapLock, gup_must_unshare, in_huge_zero_folio};

const RETURN: u8 = AnonFault::RETURN;

/// `get_user_pages_unlocked` of the one page at (region, slot), v6.12.
#[derive(Clone, Copy, Debug)]
pub struct GupSlow {
    /// The region (pmd index).
    pub region: u8,
    /// The pte slot within it.
    pub slot: u8,
    /// `FOLL_WRITE`.
    pub write: bool,
    /// Whether `thp_vma_allowable_order` lets the fault it takes map a THP here.
    pub huge: bool,
    /// `FOLL_PIN` (`pin_user_pages_unlocked`) instead of `FOLL_GET`: a read pin of an
    /// anonymous page that is not `PageAnonExclusive` must unshare it first
    /// (`gup_must_unshare`, mm/internal.h:1373): the walk returns `-EMLINK` and
    /// `faultin_page` takes a `FAULT_FLAG_UNSHARE` fault.
    pub pin: bool,
    /// Test-only mutation: `follow_pmd_mask` takes the pmd lock but keeps the value it read
    /// before it (no `pmdval = *pmd`, :984), so `follow_huge_pmd` may grab the folio of a
    /// huge pmd a zap cleared in between.
    pub no_recheck_under_lock: bool,
}

impl GupSlow {
    /// A read (`FOLL_GET`) of the page at (region, slot) whose fault may map a THP.
    pub const fn read(region: u8, slot: u8) -> Self {
        Self {
            region,
            slot,
            write: false,
            huge: true,
            pin: false,
            no_recheck_under_lock: false,
        }
    }
    /// A read pin (`FOLL_PIN`) of the page at (region, slot).
    pub const fn pin(region: u8, slot: u8) -> Self {
        Self {
            pin: true,
            ..Self::read(region, slot)
        }
    }
    /// A `FOLL_WRITE | FOLL_GET` walk of the page at (region, slot).
    pub const fn write(region: u8, slot: u8) -> Self {
        Self {
            write: true,
            ..Self::read(region, slot)
        }
    }
    fn fault(&self) -> AnonFault {
        AnonFault {
            huge: self.huge,
            write: self.write,
            ..AnonFault::new(self.region, self.slot)
        }
    }
}

// Registers while walking; `faultin_page` hands all four to the fault zeroed.
/// The pmd value the walk read (`pmdval`).
const PMD: usize = 0;
/// The table `pte_offset_map_lock` mapped.
const TABLE: usize = 1;
/// The step the unlock goes to.
const NEXT: usize = 2;
/// Whether a page was grabbed (1) or the walk failed (2).
const RESULT: usize = 3;
const GOT_PAGE: u64 = 1;
const EFAULT: u64 = 2;

// Step 0 is the walk's own `mmap_read_lock`; the fault's steps run at 1..=RETURN, RETURN
// itself being the walk's retry (the fault's `mmap_read_unlock` is not GUP's).
const LOCK_MMAP: u8 = 0;
const FOLLOW_PMD: u8 = RETURN + 1;
const PMD_LOCK: u8 = RETURN + 2;
const PMD_REREAD: u8 = RETURN + 3;
const PMD_UNLOCK: u8 = RETURN + 4;
const PTE_MAP: u8 = RETURN + 5;
const PTE_PTL: u8 = RETURN + 6;
const PTE_RECHECK: u8 = RETURN + 7;
const PTE_RETRY: u8 = RETURN + 8;
const PTE_READ: u8 = RETURN + 9;
const PTE_UNLOCK: u8 = RETURN + 10;
const FAULTIN: u8 = RETURN + 11;
const OUT: u8 = RETURN + 12;
/// `faultin_page(unshare = true)` after `-EMLINK`.
const FAULTIN_UNSHARE: u8 = RETURN + 13;

/// `follow_page_pte`'s `pte_offset_map_lock` (:855): NULL is `no_page_table`.
const FOLLOW_PTE_MAP_LOCK: PteOffsetMapLock = PteOffsetMapLock {
    map: PTE_MAP,
    ptl: PTE_PTL,
    recheck: PTE_RECHECK,
    retry: PTE_RETRY,
    locked: PTE_READ,
    none: FAULTIN,
};

/// Returns whether (region `r`, `slot`) maps `pfn` now, in its page tables (a huge leaf or a
/// present pte; PROT_NONE included, which GUP follows), and `pfn` is one of the zero pages
/// or a machine page with a mapping. A judgement, not a step: it peeks.
fn mapped_at<A: PmdOps>(m: &Machine<A>, r: u8, slot: usize, pfn: u64) -> bool {
    let pmd = m.peek_pmd(r);
    let here = if A::pmd_none(pmd) || !A::pmd_present(pmd) {
        None
    } else if A::pmd_leaf(pmd) {
        Some(A::pmd_pfn(pmd) + slot as u64)
    } else {
        m.table_of(pmd)
            .map(|t| m.table(t).ptes[slot])
            .filter(|&pte| A::pte_present(pte))
            .map(A::pte_pfn)
    };
    let live = pfn == Machine::<A>::zero_pfn()
        || in_huge_zero_folio::<A>(pfn)
        || m.page_of_pfn(pfn).is_some_and(|p| m.page(p).mapcount > 0);
    here == Some(pfn) && live
}

/// `try_grab_folio` of `pfn`'s folio (nothing for the zero pages), with INV-002-DECODE
/// judged: the walk holds the lock the entry was read under, so the page must be mapped. A
/// `FOLL_PIN` walk's pin is handed to its caller at once (INV-PIN-EXCLUSIVE judges it).
fn grab<A: PmdOps>(m: &mut Machine<A>, t: Tid, walk: (u8, usize, bool), pfn: u64, next: u8) {
    let (r, slot, pin) = walk;
    if !mapped_at(m, r, slot, pfn) {
        m.flag(
            InvariantId::DECODE,
            "slow GUP grabbed a page that is not mapped at that address",
        );
    }
    if let Some(p) = m.page_of_pfn(pfn) {
        if pin {
            m.page_pin(p);
            m.page_keep_pin(p);
        } else {
            m.page_get(p);
        }
    }
    let th = m.th_mut(t);
    th.regs[RESULT] = GOT_PAGE;
    th.regs[NEXT] = u64::from(next);
}

impl<A: PmdOps> Program<A> for GupSlow {
    fn name(&self) -> &'static str {
        if self.pin {
            "pin_user_pages_unlocked (v6.12)"
        } else {
            "get_user_pages_unlocked (v6.12)"
        }
    }

    fn check(&self, limits: &Limits) -> Result<(), ProgramError> {
        limits.region_slot(self.region, self.slot)
    }

    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let r = self.region;
        let slot = usize::from(self.slot);
        match m.th(t).pc {
            LOCK_MMAP => {
                if !m.mmap_read(t) {
                    return Step::Blocked(Wait::MmapRead);
                }
                if self.write && !m.prot().writable() {
                    m.th_mut(t).regs[RESULT] = EFAULT;
                    m.goto(t, OUT);
                    return Step::Ran(
                        "__get_user_pages_locked: mmap_read_lock; check_vma_flags: FOLL_WRITE \
                         without VM_WRITE, -EFAULT",
                    );
                }
                m.goto(t, FOLLOW_PMD);
                Step::Ran("__get_user_pages_locked: mmap_read_lock")
            }
            RETURN => {
                m.th_mut(t).regs = [0; 4];
                m.goto(t, FOLLOW_PMD);
                Step::Ran("faultin_page: handle_mm_fault returned, retry")
            }
            pc if pc < RETURN => self.fault().step(m, t),
            FOLLOW_PMD => {
                let pmd = m.pmd_get(r);
                m.th_mut(t).regs[PMD] = pmd.raw_u64();
                if A::pmd_none(pmd) || !A::pmd_present(pmd) {
                    m.goto(t, FAULTIN);
                    return Step::Ran(
                        "follow_pmd_mask: pmdp_get_lockless: none or !pmd_present, no_page_table",
                    );
                }
                if !A::pmd_leaf(pmd) {
                    m.goto(t, PTE_MAP);
                    return Step::Ran(
                        "follow_pmd_mask: pmdp_get_lockless: a table, follow_page_pte",
                    );
                }
                m.goto(t, PMD_LOCK);
                Step::Ran("follow_pmd_mask: pmdp_get_lockless: pmd_leaf")
            }
            PMD_LOCK => {
                if !m.pmd_lock(r, t) {
                    return Step::Blocked(Wait::PmdLock(r));
                }
                m.goto(t, PMD_REREAD);
                Step::Ran("follow_pmd_mask: pmd_lock")
            }
            PMD_REREAD => self.follow_huge_pmd(m, t),
            PMD_UNLOCK => {
                m.pmd_unlock(r, t);
                let next = m.th(t).regs[NEXT] as u8;
                m.goto(t, next);
                Step::Ran("follow_pmd_mask: spin_unlock(ptl)")
            }
            PTE_MAP..=PTE_RETRY => FOLLOW_PTE_MAP_LOCK.step::<A, InRegs<PMD, TABLE>>(m, t, r),
            PTE_READ => self.follow_page_pte(m, t, slot),
            PTE_UNLOCK => {
                let table = m.th(t).regs[TABLE] as u8;
                m.ptl_unlock(table, t);
                let next = m.th(t).regs[NEXT] as u8;
                m.goto(t, next);
                Step::Ran("follow_page_pte: pte_unmap_unlock")
            }
            FAULTIN_UNSHARE => {
                AnonFault::enter(m, t, FaultFlags { unshare: true });
                Step::Ran("faultin_page: -EMLINK: handle_mm_fault(FAULT_FLAG_UNSHARE)")
            }
            FAULTIN => {
                AnonFault::enter(m, t, FaultFlags::default());
                Step::Ran(if self.write {
                    "faultin_page: handle_mm_fault(FAULT_FLAG_WRITE)"
                } else {
                    "faultin_page: handle_mm_fault"
                })
            }
            _ => {
                let got = m.th(t).regs[RESULT] == GOT_PAGE;
                m.mmap_read_unlock(t);
                finish(m, t);
                Step::Ran(if got {
                    "__get_user_pages_locked: mmap_read_unlock, one page"
                } else {
                    "__get_user_pages_locked: mmap_read_unlock, -EFAULT"
                })
            }
        }
    }
}

impl GupSlow {
    /// `gup_must_unshare` (mm/internal.h:1373) for a walk without `FOLL_LONGTERM`: a read pin
    /// of an anonymous page that is not `PageAnonExclusive` (a page cache or zero page: no).
    fn must_unshare<A: PmdOps>(&self, m: &Machine<A>, pfn: u64) -> bool {
        self.pin && !self.write && gup_must_unshare(m, pfn)
    }

    /// `pmdval = *pmd` under the pmd lock (:984), then `follow_huge_pmd` (:718).
    fn follow_huge_pmd<A: PmdOps>(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let r = self.region;
        let pmd = if self.no_recheck_under_lock {
            crate::entry::Pmd::<A>::try_from_u64(m.th(t).regs[PMD]).unwrap_or_else(|_| m.pmd_get(r))
        } else {
            m.pmd_get(r)
        };
        m.th_mut(t).regs[PMD] = pmd.raw_u64();
        let next = |m: &mut Machine<A>, pc: u8| m.th_mut(t).regs[NEXT] = u64::from(pc);
        if !A::pmd_present(pmd) {
            next(m, FAULTIN);
            m.goto(t, PMD_UNLOCK);
            return Step::Ran("follow_pmd_mask: *pmd under the lock: !pmd_present, no_page_table");
        }
        if !A::pmd_leaf(pmd) {
            next(m, PTE_MAP);
            m.goto(t, PMD_UNLOCK);
            return Step::Ran("follow_pmd_mask: *pmd under the lock: no leaf now, follow_page_pte");
        }
        if self.write && !A::pmd_write(pmd) {
            next(m, FAULTIN);
            m.goto(t, PMD_UNLOCK);
            return Step::Ran("follow_huge_pmd: FOLL_WRITE, !can_follow_write_pmd: NULL");
        }
        let pfn = A::pmd_pfn(pmd) + u64::from(self.slot);
        if !A::pmd_write(pmd) && self.must_unshare(m, pfn) {
            next(m, FAULTIN_UNSHARE);
            m.goto(t, PMD_UNLOCK);
            return Step::Ran("follow_huge_pmd: !pmd_write, gup_must_unshare: -EMLINK");
        }
        grab(m, t, (r, usize::from(self.slot), self.pin), pfn, OUT);
        m.goto(t, PMD_UNLOCK);
        Step::Ran("follow_huge_pmd: try_grab_folio")
    }

    /// `ptep_get` under the pte lock (:858) and what `follow_page_pte` makes of it.
    fn follow_page_pte<A: PmdOps>(&self, m: &mut Machine<A>, t: Tid, slot: usize) -> Step {
        let table = m.th(t).regs[TABLE] as u8;
        let pte: Pte<A> = m.pte_get(table, slot);
        let next = |m: &mut Machine<A>, pc: u8| m.th_mut(t).regs[NEXT] = u64::from(pc);
        m.goto(t, PTE_UNLOCK);
        if !A::pte_present(pte) {
            next(m, FAULTIN);
            return Step::Ran("follow_page_pte: ptep_get: !pte_present, no_page");
        }
        if self.write && !A::pte_write(pte) {
            next(m, FAULTIN);
            return Step::Ran("follow_page_pte: FOLL_WRITE, !can_follow_write_pte: NULL");
        }
        if !A::pte_write(pte) && self.must_unshare(m, A::pte_pfn(pte)) {
            next(m, FAULTIN_UNSHARE);
            return Step::Ran("follow_page_pte: !pte_write, gup_must_unshare: -EMLINK");
        }
        grab(m, t, (self.region, slot, self.pin), A::pte_pfn(pte), OUT);
        Step::Ran(if A::pte_pfn(pte) == Machine::<A>::zero_pfn() {
            "follow_page_pte: is_zero_pfn, try_grab_folio"
        } else {
            "follow_page_pte: vm_normal_page, try_grab_folio"
        })
    }
}
