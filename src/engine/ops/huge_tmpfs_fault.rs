//! A read fault on a huge tmpfs (shmem) page whose page cache holds a PMD-sized folio, under
//! `mmap_lock` read: race 000-A, where the page table comes from and when a huge pmd may
//! replace it.
//!
//! - [`TmpfsShape::HugeTmpfs2016`]: v4.7's `__handle_mm_fault` allocates and installs the pte
//!   table (`__pte_alloc` → `pmd_install`) *before* `->fault`, as every fault did then; the
//!   huge tmpfs series Hugh Dickins posted in April 2016 then mapped a huge page returned by
//!   `shmem_fault` by replacing the table it had just exposed with a huge pmd and freeing
//!   it, while another fault or a walker may already have read the table. ("huge tmpfs:
//!   avoid premature exposure of new pagetable" is the fix Hugh proposed; Kirill Shutemov's
//!   v4.8 design, 7267ec008b5c and `do_set_pmd`, is what merged.)
//! - [`TmpfsShape::V6_12`]: `handle_pte_fault` leaves an empty pmd empty (`vmf->pte = NULL`,
//!   mm/memory.c:5773), `__do_fault` preallocates a table before `->fault` locks the folio
//!   (:4886), and `finish_fault` (:5106) maps a PMD-sized folio with `do_set_pmd` (:4935:
//!   `pmd_lock`, `pmd_none` rechecked, the preallocated table deposited where the
//!   architecture needs it, `set_pmd_at`) if the pmd is still empty, else installs the table
//!   (`pmd_install`) or falls back to the pte of the fault's page. The pte path takes the pte
//!   lock with `pte_offset_map_lock` (a pmd that became huge: `VM_FAULT_NOPAGE`) and checks
//!   `vmf_pte_changed`. A table is never replaced under `mmap_lock` read.
//!
//! Faults that find the pmd huge already are done (`huge_pmd_set_accessed`). The folio is
//! the page cache's at the fault's index, locked by `->fault` (`shmem_get_folio_gfp`, which
//! the model reduces to the page lock here; race 004 has its lookup in full).

use crate::entry::PmdOps;

use super::super::Tid;
use super::super::invariant::{Invariant, InvariantId};
use super::super::mm::Machine;
use super::super::program::{Limits, Program, ProgramError, Step, Wait};
use super::v6_12::{pmd_install_locked, pte_offset_map};
use super::{finish, mk_pte};

/// Which fault path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TmpfsShape {
    /// v4.7's table-first fault with the 2016 huge tmpfs series' table replacement.
    HugeTmpfs2016,
    /// v6.12 (the v4.8 design): no table until the folio is known; `do_set_pmd`.
    V6_12,
}

/// A read fault at (region, slot) of a huge tmpfs VMA; the file index is the slot.
#[derive(Clone, Copy, Debug)]
pub struct HugeTmpfsFault {
    /// The region (pmd index).
    pub region: u8,
    /// The pte slot, and the file index.
    pub slot: u8,
    /// Which fault path.
    pub shape: TmpfsShape,
    /// Flagged when the fault stores a huge pmd over a pmd that points to a page table
    /// (INV-NONTERMINAL: only terminal entries change under `mmap_lock` read).
    pub nonterminal: Option<&'static Invariant>,
    /// Test-only mutation of v6.12: `do_set_pmd` does not recheck `pmd_none` under the pmd
    /// lock.
    pub skip_pmd_none_recheck: bool,
    /// Test-only mutation of v6.12: `deposit_prealloc_pte` leaves `vmf->prealloc_pte` set, so
    /// the fault's end frees the table it deposited.
    pub keep_deposited_prealloc: bool,
}

impl HugeTmpfsFault {
    /// A `shape` fault at (region, slot), no monitor.
    pub const fn new(region: u8, slot: u8, shape: TmpfsShape) -> Self {
        Self {
            region,
            slot,
            shape,
            nonterminal: None,
            skip_pmd_none_recheck: false,
            keep_deposited_prealloc: false,
        }
    }
}

const LOCK_MMAP: u8 = 0;
const PMD_READ: u8 = 1;
const ALLOC: u8 = 2;
const INSTALL_LOCK: u8 = 3;
const INSTALL: u8 = 4;
const INSTALL_UNLOCK: u8 = 5;
const ORIG_PTE: u8 = 6;
const PREALLOC: u8 = 7;
const LOCK_FOLIO: u8 = 8;
const FINISH: u8 = 9;
const HUGE_LOCK: u8 = 10;
const HUGE_SET: u8 = 11;
const HUGE_UNLOCK: u8 = 12;
const PMD_INSTALL_LOCK: u8 = 13;
const PMD_INSTALL: u8 = 14;
const PMD_INSTALL_UNLOCK: u8 = 15;
const MAP_LOCK: u8 = 16;
const SET_PTE: u8 = 17;
const PTE_UNLOCK: u8 = 18;
const RETURN: u8 = 19;

/// Register 0, by byte: the folio + 1; the table in use + 1; the spare (preallocated or
/// `__pte_alloc`'s) table + 1; 1 when this fault installed the table itself. Register 1:
/// `vmf->orig_pte`; register 2: 1 when `FAULT_FLAG_ORIG_PTE_VALID`.
const R: usize = 0;
const ORIG: usize = 1;
const ORIG_VALID: usize = 2;
const FOLIO: u32 = 0;
const TABLE: u32 = 1;
const SPARE: u32 = 2;
const INSTALLED: u32 = 3;

fn get<A: PmdOps>(m: &Machine<A>, t: Tid, byte: u32) -> Option<u8> {
    ((m.th(t).regs[R] >> (8 * byte)) as u8).checked_sub(1)
}

fn put<A: PmdOps>(m: &mut Machine<A>, t: Tid, byte: u32, v: Option<u8>) {
    let r = &mut m.th_mut(t).regs[R];
    *r = (*r & !(0xff << (8 * byte))) | v.map_or(0, |v| u64::from(v) + 1) << (8 * byte);
}

impl<A: PmdOps> Program<A> for HugeTmpfsFault {
    fn name(&self) -> &'static str {
        match self.shape {
            TmpfsShape::HugeTmpfs2016 => "shmem fault (v4.7 + 2016 huge tmpfs)",
            TmpfsShape::V6_12 => "shmem fault (v6.12)",
        }
    }

    fn check(&self, limits: &Limits) -> Result<(), ProgramError> {
        limits.region_slot(self.region, self.slot)
    }

    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let (r, slot) = (self.region, usize::from(self.slot));
        let folio = get(m, t, FOLIO).unwrap_or(0);
        let old = self.shape == TmpfsShape::HugeTmpfs2016;
        match m.th(t).pc {
            LOCK_MMAP => {
                if !m.mmap_read(t) {
                    return Step::Blocked(Wait::MmapRead);
                }
                m.goto(t, PMD_READ);
                Step::Ran("mmap_read_lock")
            }
            PMD_READ => {
                let pmd = m.pmd_get(r);
                if A::pmd_trans_huge(pmd) {
                    m.goto(t, RETURN);
                    return Step::Ran("__handle_mm_fault: the pmd is huge: huge_pmd_set_accessed");
                }
                if A::pmd_none(pmd) {
                    if old {
                        m.goto(t, ALLOC);
                        return Step::Ran("__handle_mm_fault: pmd_none: __pte_alloc first");
                    }
                    m.goto(t, PREALLOC);
                    return Step::Ran(
                        "handle_pte_fault: pmd_none: vmf->pte = NULL, no table until the folio is known",
                    );
                }
                m.goto(t, ORIG_PTE);
                Step::Ran("__handle_mm_fault: the pmd points to a table")
            }
            ALLOC => {
                let Some(tab) = m.table_alloc(r) else {
                    m.flag(
                        InvariantId::MODEL,
                        "huge tmpfs fault: the table arena is full",
                    );
                    m.goto(t, RETURN);
                    return Step::Ran("__pte_alloc: no table");
                };
                put(m, t, SPARE, Some(tab));
                m.goto(t, INSTALL_LOCK);
                Step::Ran("__pte_alloc: pte_alloc_one")
            }
            INSTALL_LOCK | PMD_INSTALL_LOCK | HUGE_LOCK => {
                if !m.pmd_lock(r, t) {
                    return Step::Blocked(Wait::PmdLock(r));
                }
                let pc = m.th(t).pc;
                m.goto(t, pc + 1);
                Step::Ran("pmd_lock")
            }
            INSTALL | PMD_INSTALL => {
                let spare = get(m, t, SPARE).unwrap_or(0);
                let used = pmd_install_locked(m, r, spare);
                if used {
                    put(m, t, SPARE, None);
                    if old {
                        put(m, t, INSTALLED, Some(0));
                    }
                }
                let pc = m.th(t).pc;
                m.goto(t, pc + 1);
                if used {
                    Step::Ran("pmd_install: pmd_populate: the new table is now reachable")
                } else {
                    Step::Ran("pmd_install: the pmd is no longer none: the spare stays spare")
                }
            }
            INSTALL_UNLOCK => {
                m.pmd_unlock(r, t);
                m.goto(t, ORIG_PTE);
                Step::Ran("pmd_install: spin_unlock(pmd_lock)")
            }
            ORIG_PTE => {
                let pmd = m.pmd_get(r);
                let Some(tab) = pte_offset_map(m, pmd) else {
                    // The pmd changed under us: a later fault retries the access.
                    m.goto(t, RETURN);
                    return Step::Ran("pte_offset_map failed: the pmd changed; retry the access");
                };
                let pte = m.pte_get(tab, slot);
                put(m, t, TABLE, Some(tab));
                m.th_mut(t).regs[ORIG] = pte.raw_u64();
                m.th_mut(t).regs[ORIG_VALID] = 1;
                m.goto(t, if old { LOCK_FOLIO } else { PREALLOC });
                Step::Ran("pte_offset_map: vmf->orig_pte = ptep_get_lockless (no lock)")
            }
            PREALLOC => {
                // __do_fault: a table only while the pmd is none, before any page lock.
                if A::pmd_none(m.pmd_get(r)) && get(m, t, SPARE).is_none() {
                    let Some(tab) = m.table_alloc(r) else {
                        m.flag(
                            InvariantId::MODEL,
                            "huge tmpfs fault: the table arena is full",
                        );
                        m.goto(t, RETURN);
                        return Step::Ran("__do_fault: no table");
                    };
                    put(m, t, SPARE, Some(tab));
                    m.goto(t, LOCK_FOLIO);
                    return Step::Ran("__do_fault: pmd_none: vmf->prealloc_pte = pte_alloc_one");
                }
                m.goto(t, LOCK_FOLIO);
                Step::Ran("__do_fault: no preallocation")
            }
            LOCK_FOLIO => {
                let Some(p) = m.cache_get(slot) else {
                    m.flag(
                        InvariantId::MODEL,
                        "huge tmpfs fault: the scenario caches no folio at the index",
                    );
                    m.goto(t, RETURN);
                    return Step::Ran("shmem_fault: no folio");
                };
                if !m.page_lock(p, t) {
                    return Step::Blocked(Wait::PageLock(p));
                }
                put(m, t, FOLIO, Some(p));
                m.goto(t, FINISH);
                Step::Ran("shmem_fault: shmem_get_folio_gfp returns the folio locked")
            }
            FINISH => {
                let huge = m.page(folio).huge;
                let pmd = m.pmd_get(r);
                if old {
                    let mine = get(m, t, INSTALLED).is_some();
                    m.goto(t, if huge && mine { HUGE_LOCK } else { MAP_LOCK });
                    return Step::Ran(if huge && mine {
                        "the folio is huge and this fault made the table: map it by the pmd"
                    } else {
                        "map the page by its pte"
                    });
                }
                if !A::pmd_none(pmd) {
                    m.goto(t, MAP_LOCK);
                    return Step::Ran("finish_fault: the pmd is not none: map the pte");
                }
                m.goto(t, if huge { HUGE_LOCK } else { PMD_INSTALL_LOCK });
                Step::Ran(if huge {
                    "finish_fault: pmd_none, folio_test_pmd_mappable: do_set_pmd"
                } else {
                    "finish_fault: pmd_none: pmd_install(prealloc_pte)"
                })
            }
            HUGE_SET => self.huge_set(m, t, folio),
            HUGE_UNLOCK => {
                m.pmd_unlock(r, t);
                let pmd = m.pmd_get(r);
                let mapped_huge =
                    A::pmd_trans_huge(pmd) && m.page_of_pfn(A::pmd_pfn(pmd)) == Some(folio);
                m.goto(t, if mapped_huge { RETURN } else { MAP_LOCK });
                Step::Ran("spin_unlock(pmd_lock)")
            }
            PMD_INSTALL_UNLOCK => {
                m.pmd_unlock(r, t);
                m.goto(t, MAP_LOCK);
                Step::Ran("pmd_install: spin_unlock(pmd_lock)")
            }
            MAP_LOCK => {
                let tab = if old {
                    get(m, t, TABLE)
                } else {
                    let pmd = m.pmd_get(r);
                    pte_offset_map(m, pmd)
                };
                let Some(tab) = tab else {
                    m.goto(t, RETURN);
                    return Step::Ran(
                        "pte_offset_map_lock: the pmd is no table (huge now): VM_FAULT_NOPAGE",
                    );
                };
                if !m.ptl_lock(tab, t) {
                    return Step::Blocked(Wait::Ptl(tab));
                }
                put(m, t, TABLE, Some(tab));
                m.goto(t, SET_PTE);
                Step::Ran("pte_offset_map_lock")
            }
            SET_PTE => {
                let tab = get(m, t, TABLE).unwrap_or(0);
                let cur = m.pte_get(tab, slot);
                let changed = if m.th(t).regs[ORIG_VALID] != 0 {
                    cur.raw_u64() != m.th(t).regs[ORIG]
                } else {
                    !A::pte_none(cur)
                };
                m.goto(t, PTE_UNLOCK);
                if changed {
                    return Step::Ran("vmf_pte_changed: someone mapped it: VM_FAULT_NOPAGE");
                }
                let offset = if m.page(folio).huge { slot as u64 } else { 0 };
                let pte = mk_pte(m, Machine::<A>::page_pfn(folio) + offset);
                m.pte_set(tab, slot, pte);
                m.page_map(folio, r, 1);
                Step::Ran("set_pte_range: the folio's page mapped by its pte")
            }
            PTE_UNLOCK => {
                let tab = get(m, t, TABLE).unwrap_or(0);
                m.ptl_unlock(tab, t);
                m.goto(t, RETURN);
                Step::Ran("pte_unmap_unlock")
            }
            RETURN => {
                if let Some(p) = get(m, t, FOLIO) {
                    m.page_unlock(p, t);
                }
                if let Some(spare) = get(m, t, SPARE) {
                    m.table_free(spare);
                }
                m.mmap_read_unlock(t);
                finish(m, t);
                Step::Ran("folio_unlock; an unused prealloc_pte freed; mmap_read_unlock")
            }
            _ => {
                finish(m, t);
                Step::Ran("huge tmpfs fault: no such step")
            }
        }
    }
}

impl HugeTmpfsFault {
    /// Under the pmd lock: map the folio by a huge pmd. v6.12's `do_set_pmd` rechecks
    /// `pmd_none` and deposits the preallocated table where the architecture needs one; the
    /// 2016 shape replaces the table it installed (if the pmd still points to it) and frees it.
    fn huge_set<A: PmdOps>(&self, m: &mut Machine<A>, t: Tid, folio: u8) -> Step {
        let r = self.region;
        let pmd = m.pmd_get(r);
        m.goto(t, HUGE_UNLOCK);
        let old = self.shape == TmpfsShape::HugeTmpfs2016;
        let table = m.table_of(pmd).filter(|_| pte_offset_map(m, pmd).is_some());
        if old {
            if table != get(m, t, TABLE) || table.is_none() {
                return Step::Ran("the pmd is not our table any more: map by pte");
            }
        } else if !A::pmd_none(pmd) && !self.skip_pmd_none_recheck {
            return Step::Ran("do_set_pmd: !pmd_none: VM_FAULT_FALLBACK");
        }
        if table.is_some() {
            if let Some(inv) = self.nonterminal {
                m.flag(
                    inv.id(),
                    "a huge pmd replaced a pmd that points to a page table, under mmap_lock read",
                );
            }
        }
        let entry = match A::mk_huge_pmd_anon(Machine::<A>::page_pfn(folio), m.prot()) {
            Ok(e) => e,
            Err(_) => {
                m.flag(InvariantId::MODEL, "mk_huge_pmd refused a modelled folio");
                return Step::Ran("mk_huge_pmd failed");
            }
        };
        if !old && A::arch_needs_pgtable_deposit() {
            if let Some(spare) = get(m, t, SPARE) {
                m.deposit(r, spare);
                if !self.keep_deposited_prealloc {
                    put(m, t, SPARE, None);
                }
            }
        }
        m.pmd_set(r, entry);
        m.page_map(folio, r, 1);
        if old {
            if let Some(tab) = table {
                m.table_free(tab);
            }
            return Step::Ran(
                "set_pmd_at(huge pmd) over the table this fault installed; pte_free(the table)",
            );
        }
        Step::Ran("do_set_pmd: folio_add_file_rmap_pmd; deposit_prealloc_pte; set_pmd_at")
    }
}
