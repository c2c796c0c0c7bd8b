//! The generic mm paths as Linux v6.12 has them (Debian's `linux-source-6.12`, 6.12.118),
//! beside the historical shapes in the parent module.
//!
//! Each program cites the v6.12 function and line it follows and keeps its order of loads,
//! stores, locks, rechecks and TLB flushes. Where v6.12 relies on a barrier (`smp_wmb` before
//! `pmd_populate`), the program says so; the model is sequentially consistent, so a barrier
//! is a comment, not a step.
//!
//! The model never creates pmd migration entries (no thread migrates a THP), so
//! `is_pmd_migration_entry` is false for every pmd the machine holds; a non-present,
//! non-none huge pmd is therefore only ever what an architecture stores for a PROT_NONE or
//! invalidated THP.

pub mod fault;
pub mod fork;
pub mod gup;
pub mod gup_slow;
pub mod migrate;
pub mod split;
pub mod zap;

use crate::entry::{Pmd, PmdOps, Protection, Pte};

// `pmd_same` / `pte_same` compare raw words: the programs keep the raw value they read.

use super::super::Tid;
use super::super::mm::Machine;
use super::super::program::{Locals, Step, Wait};
use super::super::setup::MigrationKind;

/// `__pte_offset_map` (mm/pgtable-generic.c:282): the table a pmd value points to, or `None`
/// ("nomap") for a none, migration, huge or bad pmd.
pub(crate) fn pte_offset_map<A: PmdOps>(m: &Machine<A>, pmdval: Pmd<A>) -> Option<u8> {
    if A::pmd_none(pmdval) || A::pmd_trans_huge(pmdval) || A::pmd_bad(pmdval) {
        return None;
    }
    if !A::pmd_present(pmdval) {
        return None;
    }
    m.table_of(pmdval)
}

/// What `__pte_offset_map` made of a pmd.
pub(crate) enum Mapped<A: PmdOps> {
    /// The pmd value read and the table it points to.
    Table(Pmd<A>, u8),
    /// NULL: a none, huge or migration pmd (or one the model cannot map).
    Null,
    /// NULL after `pmd_clear_bad` emptied a bad pmd.
    ClearedBad,
}

/// `__pte_offset_map` (mm/pgtable-generic.c:282) on region `r`'s pmd itself, as
/// `pte_offset_map_lock` and `pte_offset_map_nolock` call it: one lockless read, and a bad
/// pmd (neither none nor huge) cleared by `pmd_clear_bad` (GUP-fast maps a local copy, so
/// its [`pte_offset_map`] clears nothing).
pub(crate) fn pte_offset_map_at<A: PmdOps>(m: &mut Machine<A>, r: u8) -> Mapped<A> {
    let pmd = m.pmd_get(r);
    if A::pmd_bad(pmd) && !A::pmd_none(pmd) && !A::pmd_trans_huge(pmd) {
        m.pmd_set(r, A::pmd_empty());
        return Mapped::ClearedBad;
    }
    match pte_offset_map(m, pmd) {
        Some(table) => Mapped::Table(pmd, table),
        None => Mapped::Null,
    }
}

/// `pte_offset_map_lock` (mm/pgtable-generic.c:364) as four steps of a caller's program,
/// each at the program counter the caller gives it:
/// - `map`: `__pte_offset_map` (:282), a lockless read of the pmd: a table goes to `ptl`;
///   a none, huge or migration pmd is NULL (`none`), and so is a bad one, which
///   `pmd_clear_bad` clears first;
/// - `ptl`: the table's pte lock;
/// - `recheck`: `pmd_same` with what `map` read: the same goes to `locked` (the caller's
///   step, the lock held), a change to `retry`;
/// - `retry`: `pte_unmap_unlock`, then `map` again.
///
/// What `map` read and found is kept where the caller's [`MapLockRegs`] says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PteOffsetMapLock {
    /// The lockless read.
    pub map: u8,
    /// `spin_lock(ptl)`.
    pub ptl: u8,
    /// `pmd_same` under the lock.
    pub recheck: u8,
    /// Unlock and map again.
    pub retry: u8,
    /// The caller's step with the table locked and the pmd unchanged.
    pub locked: u8,
    /// The caller's step when `pte_offset_map_lock` returns NULL.
    pub none: u8,
}

/// What [`PteOffsetMapLock`]'s `map` step read (the pmd value) and found (the table),
/// kept by the caller until its `recheck` and `retry` steps: in a typed program's locals
/// (it is [`Locals`] itself, two registers) or through [`MapLockRegs`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MapLockSaved {
    /// The pmd value read (raw).
    pub pmdval: u64,
    /// The table it points to.
    pub table: Option<u8>,
}

impl Locals for MapLockSaved {
    fn to_regs(self) -> [u64; 4] {
        (self.pmdval, self.table).to_regs()
    }
    fn from_regs(regs: [u64; 4]) -> Self {
        let (pmdval, table) = Locals::from_regs(regs);
        Self { pmdval, table }
    }
}

/// Where a program keeps [`MapLockSaved`] in its registers, for
/// [`PteOffsetMapLock::step`].
pub trait MapLockRegs {
    /// Keeps the pmd value read and the table it points to.
    fn save<A: PmdOps>(m: &mut Machine<A>, t: Tid, pmdval: u64, table: u8);
    /// The pmd value `map` read.
    fn pmdval<A: PmdOps>(m: &Machine<A>, t: Tid) -> u64;
    /// The table `map` found, if it found one.
    fn table<A: PmdOps>(m: &Machine<A>, t: Tid) -> Option<u8>;
}

/// [`MapLockRegs`] in two of the thread's registers: the pmd value in `PMDVAL`, the table
/// in `TABLE` (as is: only read after `map` found one).
#[derive(Clone, Copy, Debug)]
pub struct InRegs<const PMDVAL: usize, const TABLE: usize>;

impl<const PMDVAL: usize, const TABLE: usize> MapLockRegs for InRegs<PMDVAL, TABLE> {
    fn save<A: PmdOps>(m: &mut Machine<A>, t: Tid, pmdval: u64, table: u8) {
        let th = m.th_mut(t);
        th.regs[PMDVAL] = pmdval;
        th.regs[TABLE] = u64::from(table);
    }
    fn pmdval<A: PmdOps>(m: &Machine<A>, t: Tid) -> u64 {
        m.th(t).regs[PMDVAL]
    }
    fn table<A: PmdOps>(m: &Machine<A>, t: Tid) -> Option<u8> {
        Some(m.th(t).regs[TABLE] as u8)
    }
}

impl PteOffsetMapLock {
    /// Runs the step thread `t` is at (one of the four) on region `r`'s pmd, keeping what
    /// `map` read where `R` says.
    pub fn step<A: PmdOps, R: MapLockRegs>(&self, m: &mut Machine<A>, t: Tid, r: u8) -> Step {
        let map = m.th(t).pc == self.map;
        let mut saved = if map {
            MapLockSaved::default()
        } else {
            MapLockSaved {
                pmdval: R::pmdval(m, t),
                table: R::table(m, t),
            }
        };
        let step = self.step_with(m, t, r, &mut saved);
        if let (true, Some(table)) = (map, saved.table) {
            R::save(m, t, saved.pmdval, table);
        }
        step
    }

    /// Runs the step thread `t` is at (one of the four) on region `r`'s pmd, with what
    /// `map` read in `saved` (a typed program's locals).
    pub fn step_with<A: PmdOps>(
        &self,
        m: &mut Machine<A>,
        t: Tid,
        r: u8,
        saved: &mut MapLockSaved,
    ) -> Step {
        let pc = m.th(t).pc;
        if pc == self.map {
            return match pte_offset_map_at(m, r) {
                Mapped::Table(pmd, table) => {
                    *saved = MapLockSaved {
                        pmdval: pmd.raw_u64(),
                        table: Some(table),
                    };
                    m.goto(t, self.ptl);
                    Step::Ran("pte_offset_map_lock: __pte_offset_map finds a table")
                }
                Mapped::Null => {
                    m.goto(t, self.none);
                    Step::Ran("pte_offset_map_lock: NULL (none, huge or migration)")
                }
                Mapped::ClearedBad => {
                    m.goto(t, self.none);
                    Step::Ran("pte_offset_map_lock: __pte_offset_map: pmd_bad, pmd_clear_bad, NULL")
                }
            };
        }
        let Some(table) = saved.table else {
            m.flag(
                super::super::invariant::InvariantId::MODEL,
                "pte_offset_map_lock lost the table it mapped",
            );
            return Step::Ran("pte_offset_map_lock: no table kept");
        };
        if pc == self.ptl {
            if !m.ptl_lock(table, t) {
                return Step::Blocked(Wait::Ptl(table));
            }
            m.goto(t, self.recheck);
            return Step::Ran("pte_offset_map_lock: spin_lock(ptl)");
        }
        if pc == self.recheck {
            if m.pmd_get(r).raw_u64() == saved.pmdval {
                m.goto(t, self.locked);
                return Step::Ran("pte_offset_map_lock: pmd_same after the lock");
            }
            m.goto(t, self.retry);
            return Step::Ran("pte_offset_map_lock: the pmd changed under us");
        }
        m.ptl_unlock(table, t);
        m.goto(t, self.map);
        Step::Ran("pte_offset_map_lock: pte_unmap_unlock, again")
    }
}

/// The table a program kept between its steps; `None` (the model lost it) is INV-MODEL,
/// flagged with `what`, and ends the thread.
pub(crate) fn table_kept<A: PmdOps>(
    m: &mut Machine<A>,
    t: Tid,
    table: Option<u8>,
    what: &'static str,
) -> Option<u8> {
    if table.is_none() {
        m.flag(super::super::invariant::InvariantId::MODEL, what);
        super::finish(m, t);
    }
    table
}

/// The migration entry a pte holds (`is_swap_pte`, `is_migration_entry`): its kind and
/// the pfn it names (`swp_offset_pfn`); `None` for any other pte.
pub(crate) fn migration_entry<A: PmdOps>(pte: Pte<A>) -> Option<(MigrationKind, u64)> {
    if A::pte_none(pte) || A::pte_present(pte) {
        return None;
    }
    let entry = A::pte_to_swp_entry(pte);
    Some((MigrationKind::of_swap_type(entry.ty())?, entry.offset()))
}

/// `pmd_install`'s body under the pmd lock (mm/memory.c:417): populates `pmd[r]` with
/// `table` if it is still none (`smp_wmb` first: a comment in a sequentially consistent
/// model); returns whether it did, i.e. whether the caller's table is used up.
pub(crate) fn pmd_install_locked<A: PmdOps>(m: &mut Machine<A>, r: u8, table: u8) -> bool {
    if !A::pmd_none(m.pmd_get(r)) {
        return false;
    }
    match A::pmd_populate(Machine::<A>::table_pfn(table)) {
        Ok(pmd) => m.pmd_set(r, pmd),
        Err(_) => m.flag(
            super::super::invariant::InvariantId::MODEL,
            "pmd_populate refused a modelled table",
        ),
    }
    true
}

/// `is_huge_zero_pmd` (include/linux/huge_mm.h:457): `pmd_present` and the huge zero
/// folio's pfn. A non-present (PROT_NONE on 32-bit ARM LPAE, or invalidated) huge zero pmd
/// is not one.
pub(crate) fn is_huge_zero_pmd<A: PmdOps>(pmd: Pmd<A>) -> bool {
    A::pmd_present(pmd) && A::pmd_pfn(pmd) == Machine::<A>::huge_zero_pfn()
}

/// `gup_must_unshare` (mm/internal.h:1373) for a read `FOLL_PIN` without `FOLL_LONGTERM`:
/// the page at `pfn` is anonymous and not `PageAnonExclusive` (a page-cache or zero page:
/// no). A recorded read of the page.
pub(crate) fn gup_must_unshare<A: PmdOps>(m: &Machine<A>, pfn: u64) -> bool {
    m.page_of_pfn(pfn).is_some_and(|p| {
        let page = m.page(p);
        !page.file && !page.anon_exclusive
    })
}

/// Returns whether `pfn` lies in the huge zero folio.
pub(crate) fn in_huge_zero_folio<A: PmdOps>(pfn: u64) -> bool {
    let first = Machine::<A>::huge_zero_pfn();
    (first..first + A::GEOMETRY.pages_per_pmd()).contains(&pfn)
}

/// The zero pte `do_anonymous_page` (mm/memory.c:4768) and `__split_huge_zero_page_pmd`
/// (mm/huge_memory.c:2703) build: `pte_mkspecial(pfn_pte(my_zero_pfn(addr), vm_page_prot))`.
pub(crate) fn zero_pte<A: PmdOps>(m: &mut Machine<A>) -> Pte<A> {
    let pte = mk_pte_private(m, Machine::<A>::zero_pfn(), m.prot());
    A::pte_mkspecial(pte).unwrap_or_else(|_| {
        m.flag(
            super::super::invariant::InvariantId::MODEL,
            "pte_mkspecial: the backend has no special pte bit",
        );
        pte
    })
}

/// `mk_pte(page, vma->vm_page_prot)` for a private mapping of `prot`: the read-only
/// `vm_page_prot` (`PAGE_COPY`), whose write access comes from `pte_mkwrite`.
pub(crate) fn mk_pte_private<A: PmdOps>(m: &mut Machine<A>, pfn: u64, prot: Protection) -> Pte<A> {
    super::pfn_pte(m, pfn, prot.read_only())
}

/// `zap_deposited_table` (mm/huge_memory.c:2086): withdraw the pmd's deposited table and
/// free it; an empty deposit list breaks INV-DEPOSIT.
pub(crate) fn zap_deposited_table<A: PmdOps>(m: &mut Machine<A>, r: u8) {
    match m.withdraw(r) {
        Some(table) => m.table_free(table),
        None => m.flag(
            super::super::invariant::InvariantId::DEPOSIT,
            "zap_deposited_table withdrew from an empty deposit list",
        ),
    }
}

/// The pte `do_anonymous_page` (mm/memory.c:4810) builds for a page of a VMA with `prot`:
/// `mk_pte(page, vm_page_prot)`, `pte_sw_mkyoung` (the identity except on MIPS and
/// LoongArch: young comes from `vm_page_prot` where the architecture puts it there, and
/// s390's stays invalid until the access that refaults marks it young), and, in a writable
/// VMA, `pte_mkwrite(pte_mkdirty())`.
pub(crate) fn anon_pte<A: PmdOps>(m: &mut Machine<A>, pfn: u64, prot: Protection) -> Pte<A> {
    let pte = mk_pte_private(m, pfn, prot);
    if prot.writable() {
        A::pte_mkwrite(A::pte_mkdirty(pte))
    } else {
        pte
    }
}

/// The pte `__split_huge_pmd_locked` (mm/huge_memory.c:2909) builds for each subpage of the
/// huge pmd `old`: `mk_pte(page, vm_page_prot)`, then `old`'s write, young and dirty carried
/// over (`pte_mkwrite` if `pmd_write`, `pte_mkold` if `!pmd_young`, `pte_mkdirty` if
/// `pmd_dirty`). Soft-dirty follows dirty here: every model `pmd_mkdirty` and `pte_mkdirty`
/// that sets one sets the other, and nothing in the model clears soft-dirty or sets uffd-wp.
pub(crate) fn split_pte<A: PmdOps>(m: &mut Machine<A>, pfn: u64, old: Pmd<A>) -> Pte<A> {
    let prot = m.prot();
    let mut pte = mk_pte_private(m, pfn, prot);
    if A::pmd_write(old) {
        pte = A::pte_mkwrite(pte);
    }
    if !A::pmd_young(old) {
        pte = A::pte_mkold(pte);
    }
    if A::pmd_dirty(old) {
        pte = A::pte_mkdirty(pte);
    }
    pte
}
