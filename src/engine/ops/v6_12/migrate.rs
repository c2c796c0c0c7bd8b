//! `move_pages(2)` of one address to another node, as v6.12 does it (mm/migrate.c), the way
//! a small anonymous folio mapped by one pte goes:
//!
//! - `add_folio_for_migration` (:2243) under `mmap_lock` read: `folio_walk_start`
//!   (mm/memory.c) reads the pmd locklessly, then `pte_offset_map_lock` and the pte under the
//!   pte lock; a zero page is `-EFAULT`, a folio mapped more than once `-EACCES` (no
//!   `MPOL_MF_MOVE_ALL`), else `folio_isolate_lru` takes a reference; `folio_walk_end`
//!   unlocks, then `mmap_read_unlock`;
//! - `migrate_pages(MIGRATE_SYNC)` → `migrate_pages_batch` → `migrate_folio_unmap` (:1183): a
//!   folio whose only reference is the isolation's was freed meanwhile (`folio_ref_count ==
//!   1`, :1196); else `get_new_folio`, `folio_lock(src)`, `folio_trylock(dst)`, and for a
//!   mapped folio `try_to_migrate` → `try_to_migrate_one` (mm/rmap.c:2034): the walk's pte
//!   lock, `ptep_clear_flush` (:2198) — the pte is empty until the next step —, then (after
//!   `folio_try_share_anon_rmap_pte` for an exclusive anonymous page, :2298) `set_pte_at` of
//!   the migration entry (:2332: writable for a writable pte, readable-exclusive for an
//!   exclusive page, else readable), `folio_remove_rmap_pte` and `folio_put`, then unlock.
//!   `folio_try_share_anon_rmap_pte` (include/linux/rmap.h:523) is the (A1)-(A4) side of
//!   the GUP-fast protocol of rmap.h:541-571: with the pte cleared (A1), a folio
//!   `folio_maybe_dma_pinned` (A2) is `-EBUSY`: the pte is restored as it was and
//!   `try_to_migrate_one` stops (:2297-2302), leaving the folio mapped; else
//!   `PageAnonExclusive` is cleared (A3) before the entry is set (A4);
//! - `migrate_folio_move` (:1344): `move_to_new_folio` → `__migrate_folio` (:786), whose
//!   reference check (`folio_ref_count(src) != folio_expected_ref_count(src) + 1`) sends an
//!   extra reference (a GUP pin, a fault holding the folio) back with `-EAGAIN`, retried on
//!   each of the `NR_MAX_MIGRATE_SYNC_RETRY` (7) passes; then `remove_migration_ptes` →
//!   `remove_migration_pte` (:288): under the pte lock, a migration entry for the folio
//!   becomes `mk_pte(dst, vm_page_prot)`, old (the entry has no young bit), writable from a
//!   writable entry, with `folio_get` and `folio_add_anon_rmap_pte` (exclusive unless the
//!   entry was readable) before `set_pte_at`; then `folio_unlock(dst)`, `folio_put(dst)`,
//!   `folio_unlock(src)` and `migrate_folio_done`'s `folio_put(src)`;
//! - a move that runs out of passes, or a folio still mapped after the unmap, is undone
//!   (`migrate_folio_undo_src`: `remove_migration_ptes(src, src)`, `folio_unlock(src)`;
//!   `migrate_folio_undo_dst`: `folio_unlock(dst)`, `folio_put(dst)`) and put back
//!   (`putback_movable_pages`: `folio_put`).
//!
//! A fault that meets the migration entry sleeps on the source folio's lock
//! ([`super::fault`], `migration_entry_wait`).
//!
//! Not modelled: the retry of a failed *unmap* pass (the model undoes at once), the memory
//! barriers of the pin protocol (`smp_mb` in `__folio_try_share_anon_rmap` and
//! `try_grab_folio_fast`: the machine is sequentially consistent, so a missing barrier is
//! out of its reach), the entry's young and dirty bits (as on an architecture
//! without `swap_migration_ad_supported`), the LRU flag (so one migrator per folio), large
//! folios, whether a huge pmd or a pte maps them (INV-MODEL).

use crate::entry::{PmdOps, SwpEntry};

use super::super::super::Tid;
use super::super::super::invariant::InvariantId;
use super::super::super::mm::Machine;
use super::super::super::program::{Limits, Locals, ProgramError, Step, TypedProgram, Wait, Word};
use super::super::super::setup::MigrationKind;
use super::super::finish;
use super::{MapLockSaved, PteOffsetMapLock, migration_entry, mk_pte_private};

/// `move_pages(2)` of the page at (region, slot) of the thread's mm, v6.12 (see the
/// module's comment). Run it as [`Typed`](super::super::super::program::Typed)`(MovePages)`.
#[derive(Clone, Copy, Debug)]
pub struct MovePages {
    /// The region (pmd index).
    pub region: u8,
    /// The pte slot within it.
    pub slot: u8,
    /// A user ghost cell the program keeps the page holding the folio's data in (page
    /// index + 1; 0 before the isolation): the source when it is isolated, the
    /// destination once `folio_mc_copy` has copied it. For a monitor of the scenario's own.
    pub data_cell: Option<usize>,
    /// Test-only mutation: `try_to_migrate_one` clears the pte and installs no migration
    /// entry, so the address reads as empty while the folio moves (no kernel does this).
    pub leave_pte_none: bool,
    /// Test-only mutation: `folio_try_share_anon_rmap_pte` without its
    /// `folio_maybe_dma_pinned` check (A2), so a pinned page loses `PageAnonExclusive`.
    pub ignore_pins: bool,
    /// Test-only mutation: `folio_try_share_anon_rmap_pte` (A2, A3) before
    /// `ptep_clear_flush` (A1), against rmap.h's order: GUP-fast's recheck of a writable
    /// pte then sees no change while the page stops being exclusive.
    pub share_before_clear: bool,
}

impl MovePages {
    /// `move_pages` of (region, slot), unwatched.
    pub const fn new(region: u8, slot: u8) -> Self {
        Self {
            region,
            slot,
            data_cell: None,
            leave_pte_none: false,
            ignore_pins: false,
            share_before_clear: false,
        }
    }
}

/// `NR_MAX_MIGRATE_SYNC_RETRY` (mm/migrate.c:1599): `migrate_pages_batch`'s move passes
/// under `MIGRATE_SYNC`.
pub const NR_MAX_MIGRATE_SYNC_RETRY: u8 = 10 - 3;

/// What the migration keeps between its steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MigrateLocals {
    /// `pte_offset_map_lock`'s pmd value and table (the walks').
    pub map: MapLockSaved,
    /// The source folio, once isolated.
    pub src: Option<u8>,
    /// The destination folio, once allocated.
    pub dst: Option<u8>,
    /// `PAGE_WAS_MAPPED`: `try_to_migrate` ran.
    pub was_mapped: bool,
    /// `try_to_migrate_one`'s `anon_exclusive`.
    pub anon_exclusive: bool,
    /// The migration is being undone: the entries go back to the source.
    pub undo: bool,
    /// `folio_try_share_anon_rmap_pte` ran already (the `share_before_clear` mutation).
    pub shared: bool,
    /// Move passes that met an extra reference.
    pub passes: u8,
    /// The pte `ptep_clear_flush` took, then the pte `remove_migration_pte` builds.
    pub pte: u64,
}

impl Locals for MigrateLocals {
    fn to_regs(self) -> [u64; 4] {
        let packed = self.src.to_word()
            | self.dst.to_word() << 8
            | u64::from(self.was_mapped) << 16
            | u64::from(self.anon_exclusive) << 17
            | u64::from(self.undo) << 18
            | u64::from(self.shared) << 19
            | u64::from(self.passes) << 24;
        [self.map.pmdval, self.map.table.to_word(), packed, self.pte]
    }
    fn from_regs(regs: [u64; 4]) -> Self {
        let packed = regs[2];
        Self {
            map: MapLockSaved {
                pmdval: regs[0],
                table: Word::from_word(regs[1]),
            },
            src: Word::from_word(packed & 0xff),
            dst: Word::from_word(packed >> 8 & 0xff),
            was_mapped: packed >> 16 & 1 != 0,
            anon_exclusive: packed >> 17 & 1 != 0,
            undo: packed >> 18 & 1 != 0,
            shared: packed >> 19 & 1 != 0,
            passes: (packed >> 24) as u8,
            pte: regs[3],
        }
    }
}

const LOCK_MMAP: u8 = 0;
const FW_PMD: u8 = 1;
const FW_MAP: u8 = 2;
const FW_PTL: u8 = 3;
const FW_RECHECK: u8 = 4;
const FW_RETRY: u8 = 5;
const FW_PTE: u8 = 6;
const FW_END: u8 = 7;
const MMAP_UNLOCK: u8 = 8;
const REF_ONE: u8 = 9;
const ALLOC: u8 = 10;
const LOCK_SRC: u8 = 11;
const LOCK_DST: u8 = 12;
const MAPPED: u8 = 13;
const RM_MAP: u8 = 14;
const RM_PTL: u8 = 15;
const RM_RECHECK: u8 = 16;
const RM_RETRY: u8 = 17;
const RM_CLEAR: u8 = 18;
const RM_SET: u8 = 19;
const RM_RMAP: u8 = 20;
const RM_DONE: u8 = 21;
const UNMAPPED_CHECK: u8 = 22;
const MOVE: u8 = 23;
const RS_MAP: u8 = 24;
const RS_PTL: u8 = 25;
const RS_RECHECK: u8 = 26;
const RS_RETRY: u8 = 27;
const RS_GET: u8 = 28;
const RS_SET: u8 = 29;
const RS_DONE: u8 = 30;
const UNLOCK_DST: u8 = 31;
const PUT_DST: u8 = 32;
const UNLOCK_SRC: u8 = 33;
const DONE_SRC: u8 = 34;
const UNDO_UNLOCK_SRC: u8 = 35;
const UNDO_DST: u8 = 36;
const PUTBACK: u8 = 37;

/// `folio_walk_start`'s `pte_offset_map_lock` (NULL: nothing there, `-ENOENT`).
const FOLIO_WALK: PteOffsetMapLock = PteOffsetMapLock {
    map: FW_MAP,
    ptl: FW_PTL,
    recheck: FW_RECHECK,
    retry: FW_RETRY,
    locked: FW_PTE,
    none: MMAP_UNLOCK,
};
/// `try_to_migrate_one`'s `page_vma_mapped_walk` (`map_pte`, the pte lock).
const UNMAP_WALK: PteOffsetMapLock = PteOffsetMapLock {
    map: RM_MAP,
    ptl: RM_PTL,
    recheck: RM_RECHECK,
    retry: RM_RETRY,
    locked: RM_CLEAR,
    none: UNMAPPED_CHECK,
};
/// `remove_migration_pte`'s `page_vma_mapped_walk` (`PVMW_MIGRATION`).
const RESTORE_WALK: PteOffsetMapLock = PteOffsetMapLock {
    map: RS_MAP,
    ptl: RS_PTL,
    recheck: RS_RECHECK,
    retry: RS_RETRY,
    locked: RS_GET,
    none: RS_DONE,
};

fn need<A: PmdOps>(m: &mut Machine<A>, page: Option<u8>) -> u8 {
    page.unwrap_or_else(|| {
        m.flag(InvariantId::MODEL, "the migration lost track of a folio");
        0
    })
}

impl MovePages {
    fn set_data<A: PmdOps>(&self, m: &mut Machine<A>, page: u8) {
        if let Some(cell) = self.data_cell {
            m.ghost_set(cell, u64::from(page) + 1);
        }
    }

    /// The `share_before_clear` mutation: `folio_try_share_anon_rmap_pte` with the pte still
    /// mapped.
    fn share_early<A: PmdOps>(
        &self,
        m: &mut Machine<A>,
        t: Tid,
        l: &mut MigrateLocals,
        src: u8,
    ) -> Step {
        let page = *m.page(src);
        l.shared = true;
        l.anon_exclusive = !page.file && page.anon_exclusive;
        if !l.anon_exclusive {
            return Step::Ran("try_to_migrate_one (mutation): not exclusive, nothing to share");
        }
        if !self.ignore_pins && m.page_maybe_dma_pinned(src) {
            m.goto(t, RM_DONE);
            return Step::Ran(
                "try_to_migrate_one (mutation): folio_try_share_anon_rmap_pte before ptep_clear_flush: pinned, -EBUSY",
            );
        }
        m.page_set_anon_exclusive(src, false);
        Step::Ran(
            "try_to_migrate_one (mutation): folio_try_share_anon_rmap_pte before ptep_clear_flush",
        )
    }

    /// Where the migration goes after the entries are back (or were never taken).
    fn after_restore(l: &MigrateLocals) -> u8 {
        if l.undo { UNDO_UNLOCK_SRC } else { UNLOCK_DST }
    }
}

impl<A: PmdOps> TypedProgram<A> for MovePages {
    type Locals = MigrateLocals;

    fn name(&self) -> &'static str {
        "move_pages (v6.12)"
    }

    fn check(&self, limits: &Limits) -> Result<(), ProgramError> {
        limits.region_slot(self.region, self.slot)?;
        self.data_cell.map_or(Ok(()), |c| limits.ghost_cell(c))
    }

    fn step(&self, m: &mut Machine<A>, t: Tid, l: &mut MigrateLocals) -> Step {
        let r = self.region;
        let slot = usize::from(self.slot);
        match m.th(t).pc {
            LOCK_MMAP => {
                if !m.mmap_read(t) {
                    return Step::Blocked(Wait::MmapRead);
                }
                m.goto(t, FW_PMD);
                Step::Ran("add_folio_for_migration: mmap_read_lock, vma_lookup")
            }
            FW_PMD => {
                let pmd = m.pmd_get(r);
                if A::pmd_none(pmd) {
                    m.goto(t, MMAP_UNLOCK);
                    return Step::Ran("folio_walk_start: pmd_none, NULL: -ENOENT");
                }
                if !A::pmd_present(pmd) || A::pmd_trans_huge(pmd) {
                    m.flag(
                        InvariantId::MODEL,
                        "move_pages of a huge or non-present pmd is not modelled",
                    );
                    m.goto(t, MMAP_UNLOCK);
                    return Step::Ran("folio_walk_start: a pmd leaf");
                }
                m.goto(t, FW_MAP);
                Step::Ran("folio_walk_start: pmdp_get_lockless: a table")
            }
            FW_MAP..=FW_RETRY => FOLIO_WALK.step_with(m, t, r, &mut l.map),
            FW_PTE => {
                let table = need(m, l.map.table);
                let pte = m.pte_get(table, slot);
                m.goto(t, FW_END);
                if !A::pte_present(pte) {
                    return Step::Ran("folio_walk_start: !pte_present, NULL: -ENOENT");
                }
                let Some(p) = m.page_of_pfn(A::pte_pfn(pte)) else {
                    return Step::Ran("folio_walk_start: the zero page: -EFAULT");
                };
                if m.page(p).huge {
                    m.flag(
                        InvariantId::MODEL,
                        "move_pages of a pte-mapped large folio is not modelled",
                    );
                    return Step::Ran("folio_walk_start: a pte of a large folio");
                }
                if m.page(p).mapcount > 1 {
                    return Step::Ran(
                        "__add_folio_for_migration: folio_likely_mapped_shared: -EACCES",
                    );
                }
                m.page_get(p);
                l.src = Some(p);
                self.set_data(m, p);
                Step::Ran("__add_folio_for_migration: folio_isolate_lru (a reference)")
            }
            FW_END => {
                let table = need(m, l.map.table);
                m.ptl_unlock(table, t);
                m.goto(t, MMAP_UNLOCK);
                Step::Ran("folio_walk_end: pte_unmap_unlock")
            }
            MMAP_UNLOCK => {
                m.mmap_read_unlock(t);
                if l.src.is_none() {
                    finish(m, t);
                    return Step::Ran("add_folio_for_migration: mmap_read_unlock, nothing to move");
                }
                m.goto(t, REF_ONE);
                Step::Ran("add_folio_for_migration: mmap_read_unlock; migrate_pages(MIGRATE_SYNC)")
            }
            REF_ONE => {
                let src = need(m, l.src);
                if m.page(src).refcount == 1 {
                    m.page_put(src);
                    finish(m, t);
                    return Step::Ran(
                        "migrate_folio_unmap: folio_ref_count == 1, freed under us: migrate_folio_done, folio_put",
                    );
                }
                m.goto(t, ALLOC);
                Step::Ran("migrate_folio_unmap: folio_ref_count > 1")
            }
            ALLOC => {
                let Some(dst) = m.page_alloc(false) else {
                    m.flag(InvariantId::MODEL, "page arena full");
                    m.goto(t, PUTBACK);
                    return Step::Ran("migrate_folio_unmap: get_new_folio failed: -ENOMEM");
                };
                l.dst = Some(dst);
                m.goto(t, LOCK_SRC);
                Step::Ran("migrate_folio_unmap: get_new_folio (alloc_migration_target)")
            }
            LOCK_SRC => {
                let src = need(m, l.src);
                if !m.page_lock(src, t) {
                    return Step::Blocked(Wait::PageLock(src));
                }
                m.goto(t, LOCK_DST);
                Step::Ran("migrate_folio_unmap: folio_trylock(src) or folio_lock(src)")
            }
            LOCK_DST => {
                let dst = need(m, l.dst);
                if !m.page_lock(dst, t) {
                    l.undo = true;
                    m.goto(t, UNDO_UNLOCK_SRC);
                    return Step::Ran("migrate_folio_unmap: !folio_trylock(dst): undo");
                }
                m.goto(t, MAPPED);
                Step::Ran("migrate_folio_unmap: folio_trylock(dst)")
            }
            MAPPED => {
                let src = need(m, l.src);
                if m.page(src).mapcount > 0 {
                    l.was_mapped = true;
                    m.goto(t, RM_MAP);
                    return Step::Ran(
                        "migrate_folio_unmap: folio_mapped, try_to_migrate: rmap_walk, try_to_migrate_one",
                    );
                }
                m.goto(t, UNMAPPED_CHECK);
                Step::Ran("migrate_folio_unmap: !folio_mapped")
            }
            RM_MAP..=RM_RETRY => UNMAP_WALK.step_with(m, t, r, &mut l.map),
            RM_CLEAR => {
                let src = need(m, l.src);
                let table = need(m, l.map.table);
                let pte = m.pte_get(table, slot);
                if !A::pte_present(pte) || m.page_of_pfn(A::pte_pfn(pte)) != Some(src) {
                    m.goto(t, RM_DONE);
                    return Step::Ran("page_vma_mapped_walk: check_pte: not this folio");
                }
                if self.share_before_clear && !l.shared {
                    return self.share_early(m, t, l, src);
                }
                if !l.shared {
                    let page = *m.page(src);
                    l.anon_exclusive = !page.file && page.anon_exclusive;
                }
                l.pte = pte.raw_u64();
                m.pte_set(table, slot, A::pte_empty(Machine::<A>::slot_addr(r, slot)));
                m.tlb_flush_region(r);
                m.goto(t, RM_SET);
                Step::Ran("try_to_migrate_one: ptep_clear_flush")
            }
            RM_SET => {
                let src = need(m, l.src);
                let table = need(m, l.map.table);
                let Ok(pteval) = crate::Pte::<A>::try_from_u64(l.pte) else {
                    m.flag(InvariantId::MODEL, "the migration lost its pte");
                    m.goto(t, RM_RMAP);
                    return Step::Ran("try_to_migrate_one: no pte kept");
                };
                if l.anon_exclusive && !l.shared {
                    if !self.ignore_pins && m.page_maybe_dma_pinned(src) {
                        m.pte_set(table, slot, pteval);
                        m.goto(t, RM_DONE);
                        return Step::Ran(
                            "try_to_migrate_one: folio_try_share_anon_rmap_pte: folio_maybe_dma_pinned, -EBUSY: set_pte_at(pteval), ret = false",
                        );
                    }
                    m.page_set_anon_exclusive(src, false);
                }
                m.goto(t, RM_RMAP);
                if self.leave_pte_none {
                    return Step::Ran("try_to_migrate_one (mutation): no migration entry set");
                }
                let kind = if A::pte_write(pteval) {
                    MigrationKind::Write
                } else if l.anon_exclusive {
                    MigrationKind::ReadExclusive
                } else {
                    MigrationKind::Read
                };
                let pfn = Machine::<A>::page_pfn(src);
                match SwpEntry::new::<A>(kind.swap_type(), pfn) {
                    Ok(entry) => m.pte_set(table, slot, A::swp_entry_to_pte(entry)),
                    Err(_) => m.flag(
                        InvariantId::MODEL,
                        "the backend's swap entry cannot hold a migration entry",
                    ),
                }
                Step::Ran(match kind {
                    MigrationKind::Write => {
                        "try_to_migrate_one: set_pte_at(make_writable_migration_entry)"
                    }
                    MigrationKind::ReadExclusive => {
                        "try_to_migrate_one: folio_try_share_anon_rmap_pte, set_pte_at(make_readable_exclusive_migration_entry)"
                    }
                    MigrationKind::Read => {
                        "try_to_migrate_one: set_pte_at(make_readable_migration_entry)"
                    }
                })
            }
            RM_RMAP => {
                let src = need(m, l.src);
                m.page_map(src, r, -1);
                m.page_put(src);
                m.goto(t, RM_DONE);
                Step::Ran("try_to_migrate_one: folio_remove_rmap_pte, folio_put")
            }
            RM_DONE => {
                let table = need(m, l.map.table);
                m.ptl_unlock(table, t);
                m.goto(t, UNMAPPED_CHECK);
                Step::Ran("page_vma_mapped_walk_done: pte_unmap_unlock")
            }
            UNMAPPED_CHECK => {
                let src = need(m, l.src);
                if m.page(src).mapcount > 0 {
                    l.undo = true;
                    m.goto(t, RS_MAP);
                    return Step::Ran(
                        "migrate_folio_unmap: still folio_mapped: migrate_folio_undo_src: remove_migration_ptes(src, src)",
                    );
                }
                m.goto(t, MOVE);
                Step::Ran("migrate_folio_unmap: !folio_mapped: MIGRATEPAGE_UNMAP")
            }
            MOVE => {
                let src = need(m, l.src);
                let dst = need(m, l.dst);
                let page = *m.page(src);
                let expected = i16::from(page.mapcount.max(0)) + 1;
                if i16::from(page.refcount) != expected {
                    l.passes += 1;
                    if l.passes < NR_MAX_MIGRATE_SYNC_RETRY {
                        return Step::Ran(
                            "__migrate_folio: folio_ref_count != expected: -EAGAIN, next pass",
                        );
                    }
                    l.undo = true;
                    if l.was_mapped {
                        m.goto(t, RS_MAP);
                        return Step::Ran(
                            "__migrate_folio: -EAGAIN on the last pass: migrate_folio_undo_src: remove_migration_ptes(src, src)",
                        );
                    }
                    m.goto(t, UNDO_UNLOCK_SRC);
                    return Step::Ran("__migrate_folio: -EAGAIN on the last pass: undo");
                }
                // folio_mc_copy, then __folio_migrate_mapping: "no turning back".
                m.page_set_file(dst, page.file);
                self.set_data(m, dst);
                if l.was_mapped {
                    m.goto(t, RS_MAP);
                    return Step::Ran(
                        "move_to_new_folio: folio_mc_copy, folio_migrate_mapping; remove_migration_ptes(src, dst)",
                    );
                }
                m.goto(t, UNLOCK_DST);
                Step::Ran("move_to_new_folio: folio_mc_copy, folio_migrate_mapping")
            }
            RS_MAP..=RS_RETRY => RESTORE_WALK.step_with(m, t, r, &mut l.map),
            RS_GET => {
                let src = need(m, l.src);
                let table = need(m, l.map.table);
                let old = m.pte_get(table, slot);
                let entry =
                    migration_entry(old).filter(|&(_, pfn)| pfn == Machine::<A>::page_pfn(src));
                let Some((kind, _)) = entry else {
                    m.goto(t, RS_DONE);
                    return Step::Ran(
                        "page_vma_mapped_walk: check_pte: no migration entry for the folio",
                    );
                };
                let new = if l.undo { src } else { need(m, l.dst) };
                m.page_get(new);
                let prot = m.prot();
                let mut pte = A::pte_mkold(mk_pte_private(m, Machine::<A>::page_pfn(new), prot));
                if kind == MigrationKind::Write {
                    pte = A::pte_mkwrite(pte);
                }
                m.page_map(new, r, 1);
                if kind != MigrationKind::Read && !m.page(new).file {
                    m.page_set_anon_exclusive(new, true);
                }
                l.pte = pte.raw_u64();
                m.goto(t, RS_SET);
                Step::Ran("remove_migration_pte: folio_get, mk_pte, folio_add_anon_rmap_pte")
            }
            RS_SET => {
                let table = need(m, l.map.table);
                match crate::Pte::<A>::try_from_u64(l.pte) {
                    Ok(pte) => m.pte_set(table, slot, pte),
                    Err(_) => m.flag(InvariantId::MODEL, "the migration lost its pte"),
                }
                m.goto(t, RS_DONE);
                Step::Ran("remove_migration_pte: set_pte_at")
            }
            RS_DONE => {
                let table = need(m, l.map.table);
                m.ptl_unlock(table, t);
                m.goto(t, Self::after_restore(l));
                Step::Ran("page_vma_mapped_walk_done: pte_unmap_unlock")
            }
            UNLOCK_DST => {
                let dst = need(m, l.dst);
                m.page_unlock(dst, t);
                m.goto(t, PUT_DST);
                Step::Ran("migrate_folio_move: folio_unlock(dst)")
            }
            PUT_DST => {
                let dst = need(m, l.dst);
                m.page_put(dst);
                m.goto(t, UNLOCK_SRC);
                Step::Ran("migrate_folio_move: folio_put(dst)")
            }
            UNLOCK_SRC => {
                let src = need(m, l.src);
                m.page_unlock(src, t);
                m.goto(t, DONE_SRC);
                Step::Ran("migrate_folio_move: folio_unlock(src)")
            }
            DONE_SRC => {
                let src = need(m, l.src);
                m.page_put(src);
                finish(m, t);
                Step::Ran("migrate_folio_done: folio_put(src)")
            }
            UNDO_UNLOCK_SRC => {
                let src = need(m, l.src);
                m.page_unlock(src, t);
                m.goto(t, UNDO_DST);
                Step::Ran("migrate_folio_undo_src: folio_unlock(src)")
            }
            UNDO_DST => {
                let dst = need(m, l.dst);
                if m.page(dst).lock.held_by(t) {
                    m.page_unlock(dst, t);
                }
                m.page_put(dst);
                m.goto(t, PUTBACK);
                Step::Ran("migrate_folio_undo_dst: folio_unlock(dst), folio_put(dst)")
            }
            _ => {
                let src = need(m, l.src);
                m.page_put(src);
                finish(m, t);
                Step::Ran("putback_movable_pages: folio_putback_lru, folio_put")
            }
        }
    }
}
