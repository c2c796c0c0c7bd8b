//! `fork(2)`'s copy of one pte of a private anonymous mapping, as v6.12 does it:
//! `dup_mmap` (kernel/fork.c:650) takes the parent's `mmap_lock` for write, and
//! `copy_page_range` (mm/memory.c:1380) brackets the copy of a COW mapping with
//! `raw_write_seqcount_begin/end(&src_mm->write_protect_seq)` (:1401, :1419), which
//! `pin_user_pages_fast` samples and rechecks ([`super::gup`]). In between:
//!
//! - `copy_pmd_range` reads the parent's pmd: none is nothing to copy, a huge or swap pmd
//!   goes to `copy_huge_pmd` (not modelled: INV-MODEL);
//! - `copy_pte_range` (:1082): `pte_alloc_map_lock` of the child's pmd (`__pte_alloc`'s
//!   `pmd_install` of a fresh table, then the child's pte lock), `pte_offset_map_nolock` of
//!   the parent's pmd and `spin_lock_nested` of its pte lock, then `ptep_get`;
//! - `copy_present_ptes` (:983) of a small folio: `folio_get`, then for an anonymous one
//!   `folio_try_dup_anon_rmap_pte` (include/linux/rmap.h:388): a `PageAnonExclusive` page
//!   that `folio_needs_cow_for_dma` (include/linux/mm.h:1958: `folio_maybe_dma_pinned`) is
//!   `-EBUSY` — `folio_put`, and `copy_present_page` (:912) needs a preallocated page: the
//!   first time `-EAGAIN` drops both pte locks, `folio_prealloc` allocates one and the walk
//!   starts again; with it, the child gets its own copy, exclusive and writable, and the
//!   parent's pte and pin stay as they were —; otherwise `ClearPageAnonExclusive` and the
//!   mapcount raised; a page-cache folio's rmap is duplicated as is;
//! - `__copy_present_ptes` (:956): a writable pte of a COW mapping is write-protected in the
//!   parent (`wrprotect_ptes`) and copied write-protected and old (clean too for a shared
//!   mapping) into the child (`set_ptes`); a preallocated page left over is put back;
//! - the pte locks dropped, the seqcount ended, `dup_mmap` flushes the parent's TLB
//!   (`flush_tlb_mm`, kernel/fork.c:800) and drops its `mmap_lock`.
//!
//! The child's `mmap_lock` (`mmap_write_lock_nested`), per-VMA locks, the mmu notifier,
//! `anon_vma_fork` and rss counters are no steps: nothing else can reach the child's mm
//! before fork returns, and no modelled thread takes a VMA lock. `MMF_HAS_PINNED` is taken as
//! set, so `folio_needs_cow_for_dma` is `folio_maybe_dma_pinned` (a page pinned through this
//! mm sets it first). Swap and migration entries (`copy_nonpresent_pte`) and large folios are
//! INV-MODEL.

use crate::entry::PmdOps;

use super::super::super::Tid;
use super::super::super::invariant::InvariantId;
use super::super::super::mm::Machine;
use super::super::super::program::{
    Limits, Locals, ProgramError, Step, TypedProgram, Wait, Word, program_through_typed,
};
use super::super::finish;
use super::{mk_pte_private, pmd_install_locked, pte_offset_map, table_kept};

/// `fork(2)` of the thread's mm, copying the pte at (`region`, `slot`) into (`child`,
/// `slot`), a region of the child's mm that has no table yet (see the module's comment).
#[derive(Clone, Copy, Debug)]
pub struct Fork {
    /// The parent's region (pmd index), in the forking thread's mm.
    pub region: u8,
    /// The child's region: where the child maps the same address.
    pub child: u8,
    /// The pte slot copied.
    pub slot: u8,
    /// Test mutation: `folio_try_dup_anon_rmap_pte` without `folio_needs_cow_for_dma`, as
    /// before `PageAnonExclusive` and the early COW of pinned pages: fork shares a pinned
    /// page.
    pub ignore_pins: bool,
}

impl Fork {
    /// Fork copying (`region`, `slot`) into (`child`, `slot`).
    pub const fn new(region: u8, child: u8, slot: u8) -> Self {
        Self {
            region,
            child,
            slot,
            ignore_pins: false,
        }
    }
}

/// What fork keeps between its steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ForkLocals {
    /// The parent's pte it read (`ptent`), raw.
    pub pte: u64,
    /// The folio that pte maps (`vm_normal_page`), if a page of the machine.
    pub page: Option<u8>,
    /// The page `folio_prealloc` allocated for an early COW.
    pub prealloc: Option<u8>,
    /// The parent's table (`pte_offset_map_nolock`).
    pub src: Option<u8>,
    /// The child's table (`pte_alloc_map_lock`).
    pub dst: Option<u8>,
    /// `copy_present_page` asked for a preallocated page (`-EAGAIN`): walk again.
    pub again: bool,
}

impl Locals for ForkLocals {
    fn to_regs(self) -> [u64; 4] {
        [
            self.pte,
            self.page.to_word() | self.prealloc.to_word() << 16 | u64::from(self.again) << 32,
            self.src.to_word() | self.dst.to_word() << 16,
            0,
        ]
    }
    fn from_regs(regs: [u64; 4]) -> Self {
        let half = |w: u64, at: u32| Word::from_word(w >> at & 0xffff);
        Self {
            pte: regs[0],
            page: half(regs[1], 0),
            prealloc: half(regs[1], 16),
            again: regs[1] >> 32 != 0,
            src: half(regs[2], 0),
            dst: half(regs[2], 16),
        }
    }
}

const LOCK_MMAP: u8 = 0;
const SEQ_BEGIN: u8 = 1;
const SRC_PMD: u8 = 2;
const DST_ALLOC: u8 = 3;
const DST_LOCK: u8 = 4;
const SRC_MAP: u8 = 5;
const SRC_LOCK: u8 = 6;
const READ_PTE: u8 = 7;
const GET: u8 = 8;
const DUP: u8 = 9;
const PUT_BUSY: u8 = 10;
const COPY_PAGE: u8 = 11;
const WRPROTECT: u8 = 12;
const SET_DST: u8 = 13;
const UNLOCK_SRC: u8 = 14;
const UNLOCK_DST: u8 = 15;
const PREALLOC: u8 = 16;
const SEQ_END: u8 = 17;
const FLUSH: u8 = 18;
const UNLOCK_MMAP: u8 = 19;

// Run as is (a `Program`), through its typed locals.
program_through_typed!(Fork);

/// A table fork mapped, or INV-MODEL if it lost it.
fn lost<A: PmdOps>(m: &mut Machine<A>, t: Tid, table: Option<u8>) -> Option<u8> {
    table_kept(m, t, table, "fork lost a table it mapped")
}

impl<A: PmdOps> TypedProgram<A> for Fork {
    type Locals = ForkLocals;

    fn name(&self) -> &'static str {
        "fork: copy_page_range (v6.12)"
    }

    fn check(&self, limits: &Limits) -> Result<(), ProgramError> {
        limits.region_slot(self.region, self.slot)?;
        limits.region(self.child)
    }

    fn step(&self, m: &mut Machine<A>, t: Tid, l: &mut ForkLocals) -> Step {
        let (r, c) = (self.region, self.child);
        let slot = usize::from(self.slot);
        match m.th(t).pc {
            LOCK_MMAP => {
                if m.mm_of_region(c) == m.mm_of_region(r) || m.mm_of_region(r) != m.mm_of_thread(t)
                {
                    m.flag(
                        InvariantId::MODEL,
                        "fork copies a region of the thread's mm into another mm's",
                    );
                    finish(m, t);
                    return Step::Ran("dup_mmap: no child mm");
                }
                match m.mmap_write(t) {
                    Some(true) => {}
                    Some(false) => return Step::Ran("dup_mmap: mmap_write_lock_killable: queued"),
                    None => return Step::Blocked(Wait::MmapWrite),
                }
                m.goto(t, SEQ_BEGIN);
                Step::Ran("dup_mmap: mmap_write_lock_killable(oldmm)")
            }
            SEQ_BEGIN => {
                // is_cow_mapping: a private mapping that may be written.
                m.goto(t, SRC_PMD);
                if m.vma_shared(r) {
                    return Step::Ran("copy_page_range: a shared mapping, no write_protect_seq");
                }
                m.write_protect_seq_begin(t);
                Step::Ran(
                    "copy_page_range: is_cow_mapping, raw_write_seqcount_begin(write_protect_seq)",
                )
            }
            SRC_PMD => {
                let pmd = m.pmd_get(r);
                if A::pmd_none(pmd) {
                    m.goto(t, SEQ_END);
                    return Step::Ran("copy_pmd_range: pmd_none_or_clear_bad, nothing to copy");
                }
                if !A::pmd_present(pmd) || A::pmd_leaf(pmd) {
                    m.flag(
                        InvariantId::MODEL,
                        "fork of a huge or swap pmd (copy_huge_pmd)",
                    );
                    m.goto(t, SEQ_END);
                    return Step::Ran("copy_pmd_range: copy_huge_pmd");
                }
                m.goto(t, DST_ALLOC);
                Step::Ran("copy_pmd_range: a table, copy_pte_range")
            }
            DST_ALLOC => {
                let pmd = m.pmd_get(c);
                if A::pmd_none(pmd) {
                    // The child is nobody else's yet: the allocation and pmd_install's
                    // locked populate are one step.
                    if !m.pmd_lock(c, t) {
                        return Step::Blocked(Wait::PmdLock(c));
                    }
                    let Some(table) = m.table_alloc(c) else {
                        m.pmd_unlock(c, t);
                        m.flag(InvariantId::MODEL, "out of page-table pages");
                        finish(m, t);
                        return Step::Ran("__pte_alloc: -ENOMEM");
                    };
                    pmd_install_locked(m, c, table);
                    m.pmd_unlock(c, t);
                    l.dst = Some(table);
                    m.goto(t, DST_LOCK);
                    return Step::Ran("pte_alloc_map_lock: __pte_alloc, pmd_install in the child");
                }
                let Some(table) = pte_offset_map(m, pmd) else {
                    m.flag(InvariantId::MODEL, "the child's pmd is no table");
                    m.goto(t, SEQ_END);
                    return Step::Ran("pte_alloc_map_lock: NULL");
                };
                l.dst = Some(table);
                m.goto(t, DST_LOCK);
                Step::Ran("pte_alloc_map_lock: the child's table")
            }
            DST_LOCK => {
                let Some(dst) = lost(m, t, l.dst) else {
                    return Step::Ran("copy_pte_range: no child table");
                };
                if !m.ptl_lock(dst, t) {
                    return Step::Blocked(Wait::Ptl(dst));
                }
                m.goto(t, SRC_MAP);
                Step::Ran("pte_alloc_map_lock: the child's pte lock")
            }
            SRC_MAP => {
                let pmd = m.pmd_get(r);
                match pte_offset_map(m, pmd) {
                    Some(table) => {
                        l.src = Some(table);
                        m.goto(t, SRC_LOCK);
                        Step::Ran("copy_pte_range: pte_offset_map_nolock(src_pmd)")
                    }
                    None => {
                        l.again = false;
                        m.goto(t, UNLOCK_DST);
                        Step::Ran("copy_pte_range: pte_offset_map_nolock NULL, out")
                    }
                }
            }
            SRC_LOCK => {
                let Some(src) = lost(m, t, l.src) else {
                    return Step::Ran("copy_pte_range: no parent table");
                };
                if !m.ptl_lock(src, t) {
                    return Step::Blocked(Wait::Ptl(src));
                }
                m.goto(t, READ_PTE);
                Step::Ran("copy_pte_range: spin_lock_nested(src_ptl)")
            }
            READ_PTE => {
                let Some(src) = lost(m, t, l.src) else {
                    return Step::Ran("copy_pte_range: no parent table");
                };
                let pte = m.pte_get(src, slot);
                l.pte = pte.raw_u64();
                l.again = false;
                if A::pte_none(pte) {
                    m.goto(t, UNLOCK_SRC);
                    return Step::Ran("copy_pte_range: pte_none, nothing to copy");
                }
                if !A::pte_present(pte) {
                    m.flag(
                        InvariantId::MODEL,
                        "fork of a swap or migration entry (copy_nonpresent_pte)",
                    );
                    m.goto(t, UNLOCK_SRC);
                    return Step::Ran("copy_pte_range: copy_nonpresent_pte");
                }
                l.page = m.page_of_pfn(A::pte_pfn(pte));
                if l.page.is_some_and(|p| m.page(p).huge) {
                    m.flag(InvariantId::MODEL, "fork of a pte of a large folio");
                    m.goto(t, UNLOCK_SRC);
                    return Step::Ran("copy_present_ptes: a large folio");
                }
                m.goto(t, if l.page.is_some() { GET } else { WRPROTECT });
                Step::Ran(if l.page.is_some() {
                    "copy_present_ptes: ptep_get, vm_normal_page"
                } else {
                    "copy_present_ptes: ptep_get, no normal page: copy the pte"
                })
            }
            GET => {
                let Some(page) = l.page else {
                    return lost_page(m, t);
                };
                m.page_get(page);
                m.goto(t, DUP);
                Step::Ran("copy_present_ptes: folio_get")
            }
            DUP => {
                let Some(page) = l.page else {
                    return lost_page(m, t);
                };
                let state = *m.page(page);
                if state.file {
                    m.page_map(page, c, 1);
                    m.goto(t, WRPROTECT);
                    return Step::Ran("copy_present_ptes: folio_dup_file_rmap_pte");
                }
                let pinned = !self.ignore_pins && m.page_maybe_dma_pinned(page);
                if state.anon_exclusive && pinned {
                    m.goto(t, PUT_BUSY);
                    return Step::Ran(
                        "folio_try_dup_anon_rmap_pte: PageAnonExclusive and folio_maybe_dma_pinned: -EBUSY",
                    );
                }
                if state.anon_exclusive {
                    m.page_set_anon_exclusive(page, false);
                }
                m.page_map(page, c, 1);
                m.goto(t, WRPROTECT);
                Step::Ran(if self.ignore_pins {
                    "folio_try_dup_anon_rmap_pte (mutation: pins ignored): ClearPageAnonExclusive, mapcount"
                } else {
                    "folio_try_dup_anon_rmap_pte: not pinned: ClearPageAnonExclusive, mapcount"
                })
            }
            PUT_BUSY => {
                let Some(page) = l.page else {
                    return lost_page(m, t);
                };
                m.page_put(page);
                if l.prealloc.is_some() {
                    m.goto(t, COPY_PAGE);
                    return Step::Ran("copy_present_ptes: folio_put; copy_present_page");
                }
                l.again = true;
                m.goto(t, UNLOCK_SRC);
                Step::Ran("copy_present_ptes: folio_put; copy_present_page: no prealloc, -EAGAIN")
            }
            COPY_PAGE => {
                let (Some(new), Some(dst)) = (l.prealloc.take(), l.dst) else {
                    return lost_page(m, t);
                };
                // The copy is the child's alone until fork returns: rmap and pte in one step.
                m.page_map(new, c, 1);
                m.page_set_anon_exclusive(new, true);
                let prot = m.prot();
                let pte = A::pte_mkdirty(mk_pte_private(m, Machine::<A>::page_pfn(new), prot));
                let pte = if prot.writable() {
                    A::pte_mkwrite(pte)
                } else {
                    pte
                };
                m.pte_set(dst, slot, pte);
                m.goto(t, UNLOCK_SRC);
                Step::Ran(
                    "copy_present_page: copy, folio_add_new_anon_rmap(RMAP_EXCLUSIVE), set_pte_at in the child",
                )
            }
            WRPROTECT => {
                let Some(src) = lost(m, t, l.src) else {
                    return Step::Ran("__copy_present_ptes: no parent table");
                };
                m.goto(t, SET_DST);
                let Ok(pte) = crate::Pte::<A>::try_from_u64(l.pte) else {
                    m.flag(InvariantId::MODEL, "fork kept a pte the backend refuses");
                    return Step::Ran("__copy_present_ptes: a bad pte");
                };
                if m.vma_shared(r) || !A::pte_write(pte) {
                    return Step::Ran("__copy_present_ptes: not a writable COW pte");
                }
                let now = m.pte_get(src, slot);
                m.pte_set(src, slot, A::pte_wrprotect(now));
                Step::Ran("__copy_present_ptes: is_cow_mapping, wrprotect_ptes in the parent")
            }
            SET_DST => {
                let Some(dst) = lost(m, t, l.dst) else {
                    return Step::Ran("__copy_present_ptes: no child table");
                };
                let Ok(mut pte) = crate::Pte::<A>::try_from_u64(l.pte) else {
                    m.flag(InvariantId::MODEL, "fork kept a pte the backend refuses");
                    m.goto(t, UNLOCK_SRC);
                    return Step::Ran("__copy_present_ptes: a bad pte");
                };
                if m.vma_shared(r) {
                    pte = A::pte_mkclean(pte);
                } else {
                    pte = A::pte_wrprotect(pte);
                }
                m.pte_set(dst, slot, A::pte_mkold(pte));
                if let Some(p) = l.prealloc.take() {
                    m.page_put(p);
                }
                m.goto(t, UNLOCK_SRC);
                Step::Ran("__copy_present_ptes: set_ptes in the child, write-protected and old")
            }
            UNLOCK_SRC => {
                let Some(src) = lost(m, t, l.src) else {
                    return Step::Ran("copy_pte_range: no parent table");
                };
                m.ptl_unlock(src, t);
                m.goto(t, UNLOCK_DST);
                Step::Ran("copy_pte_range: pte_unmap_unlock(src_ptl)")
            }
            UNLOCK_DST => {
                let Some(dst) = lost(m, t, l.dst) else {
                    return Step::Ran("copy_pte_range: no child table");
                };
                m.ptl_unlock(dst, t);
                m.goto(t, if l.again { PREALLOC } else { SEQ_END });
                Step::Ran("copy_pte_range: pte_unmap_unlock(dst_ptl)")
            }
            PREALLOC => {
                let Some(page) = m.page_alloc(false) else {
                    m.flag(InvariantId::MODEL, "out of pages");
                    m.goto(t, SEQ_END);
                    return Step::Ran("folio_prealloc: -ENOMEM");
                };
                l.prealloc = Some(page);
                l.again = false;
                m.goto(t, DST_ALLOC);
                Step::Ran("copy_pte_range: -EAGAIN, folio_prealloc, again")
            }
            SEQ_END => {
                if l.prealloc.is_some() {
                    m.flag(InvariantId::MODEL, "fork leaked its preallocated page");
                }
                m.goto(t, FLUSH);
                if m.vma_shared(r) {
                    return Step::Ran("copy_page_range: a shared mapping, no write_protect_seq");
                }
                m.write_protect_seq_end(t);
                Step::Ran("copy_page_range: raw_write_seqcount_end(write_protect_seq)")
            }
            FLUSH => {
                // flush_tlb_mm(oldmm): every region of the parent's mm.
                for region in 0..m.npmds() {
                    if m.mm_of_region(region) == m.mm_of_thread(t) {
                        m.tlb_flush_region(region);
                    }
                }
                m.goto(t, UNLOCK_MMAP);
                Step::Ran("dup_mmap: flush_tlb_mm(oldmm)")
            }
            _ => {
                m.mmap_write_unlock(t);
                finish(m, t);
                Step::Ran("dup_mmap: mmap_write_unlock(oldmm)")
            }
        }
    }
}

/// A step that needs the folio fork read but has none: the model lost it.
fn lost_page<A: PmdOps>(m: &mut Machine<A>, t: Tid) -> Step {
    m.flag(InvariantId::MODEL, "fork lost the folio it copies");
    finish(m, t);
    Step::Ran("copy_present_ptes: no folio")
}
