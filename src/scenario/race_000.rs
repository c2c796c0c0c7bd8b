//! Race 000-B: a page-table allocation under a page lock deadlocks with writeback (memcg
//! reclaim waits for a page under writeback; the writeback waits for the page the fault
//! holds), written on the open machine: a declared mutex for A's `PG_writeback`, a custom
//! invariant, the page cache set up through [`Setup`](crate::engine::setup::Setup).
//!
//! One file VMA, one region with no table. Thread `fault` read-faults page B; thread
//! `writeback` writes back A then B, as the comment over v6.12's `__do_fault` draws it
//! (mm/memory.c:4871). Reclaim under memory pressure waits for A's writeback.
//!
//! - `v4.8` (7267ec008b5c: the table is allocated in `finish_fault`, with B locked) and
//!   `v5.12` (f9ce0be71d1f moved it back there): the fault holds B and waits for A's
//!   writeback, the writeback holds A's writeback and waits for B: INV-NO-DEADLOCK, its
//!   cycle naming both.
//! - `v5.0` (63f3655f9501) and `v6.12` (e4dc3489143f's prealloc in `__do_fault`): the table is
//!   allocated before `->fault` locks the page; INV-000-NOALLOC (no blocking allocation with
//!   a page lock held) holds, and so does everything else. The historical variants are
//!   audited for the deadlock, the bug users saw; `tests/race_000.rs` shows they break
//!   INV-000-NOALLOC too.

use crate::engine::invariant::{Invariant, InvariantId};
use crate::engine::ops::file_fault::{FileReadFault, TableAlloc};
use crate::engine::ops::huge_tmpfs_fault::{HugeTmpfsFault, TmpfsShape};
use crate::engine::ops::oom_victim::OomVictimExit;
use crate::engine::ops::vma_walk::{Lookup, VmaWalk};
use crate::engine::ops::writeback::WritebackPair;
use crate::engine::state::locks::MutexId;
use crate::engine::state::page_cache::CACHE_SLOTS;
use crate::engine::state::vma::VmFlags;
use crate::engine::{Scenario, ScenarioBuilder};
use crate::entry::PmdOps;

use super::{BuildError, Knobs, set};

/// No blocking allocation under a page lock.
pub static NOALLOC: Invariant = Invariant::new(
    "INV-000-NOALLOC",
    "No blocking allocation (one that may enter reclaim) starts while its thread holds a page lock.",
);

/// Page A's `PG_writeback`: what memcg reclaim's `wait_on_page_writeback(A)` waits for.
pub const WRITEBACK_A: MutexId = MutexId::new(0, "PG_writeback(A)");

/// The table allocated in `finish_fault`, under the page lock (7267ec008b5c).
pub const V4_8: &str = "v4.8";
/// 63f3655f9501: preallocated in `__do_fault`.
pub const V5_0: &str = "v5.0";
/// f9ce0be71d1f: back under the page lock, until e4dc3489143f (v5.14).
pub const V5_12: &str = "v5.12";
/// The variants, oldest first.
pub const VARIANTS: &[&str] = &[V4_8, V5_0, V5_12, super::V6_12];

/// What the catalogue checks (the historical variants leave INV-000-NOALLOC out, so their
/// shortest counterexample is the deadlock, with its cycle).
pub const INVARIANTS: &[InvariantId] = &[
    InvariantId::DEADLOCK,
    NOALLOC.id(),
    InvariantId::TABLE_LIFE,
    InvariantId::LOCK_BALANCE,
];
/// What the historical variants must break.
pub const FOUND: &[InvariantId] = &[InvariantId::DEADLOCK];

/// "The OOM victim has not exited": what an allocation in the OOM path waits for.
pub const VICTIM_EXITING: MutexId = MutexId::new(0, "OOM victim exiting");
/// The variants of `race-000-oom`: the kernels whose OOM victim locks the page it munlocks
/// on exit (v4.8 to v5.17).
pub const OOM_VARIANTS: &[&str] = &[V4_8, V5_0, V5_12];

/// Builds `race-000-oom` in `variant`: a read fault on page-cache page P while an OOM victim
/// that has P mlocked exits; `noalloc` declares INV-000-NOALLOC (the catalogue does on
/// `v5.0`).
///
/// # Errors
/// An unknown variant, or a backend that cannot hold the initial state.
pub fn build_oom<A: PmdOps>(
    variant: &str,
    k: Knobs,
    noalloc: bool,
) -> Result<Scenario<A>, BuildError> {
    if !OOM_VARIANTS.contains(&variant) {
        return Err(BuildError::UnknownVariant(variant.into()));
    }
    let fault = alloc_fault(variant, k, 0, VICTIM_EXITING)?;
    let mut b = ScenarioBuilder::<A>::new("race-000-oom", 1)
        .file_backed()
        .mutex(VICTIM_EXITING)
        .setup(|s| {
            let p = s.page(false)?;
            s.page_file(p, true)?;
            s.get_page(p)
        })
        .thread("fault", fault)
        .thread(
            "victim",
            OomVictimExit {
                page: 0,
                exiting: VICTIM_EXITING,
            },
        );
    if noalloc {
        b = b.invariant(&NOALLOC);
    }
    Ok(b.invariants(set(INVARIANTS)).build()?)
}

/// Returns where `variant` allocates the table.
///
/// # Errors
/// An unknown variant.
pub fn table_alloc(variant: &str) -> Result<TableAlloc, BuildError> {
    Ok(match variant {
        V4_8 | V5_12 => TableAlloc::UnderPageLock,
        V5_0 | super::V6_12 => TableAlloc::Prealloc,
        v => return Err(BuildError::UnknownVariant(v.into())),
    })
}

/// The read fault of race 000-B on `page`, its table allocated where `variant` (or the
/// mutation) does, its reclaim waiting on `waits_on`.
fn alloc_fault(
    variant: &str,
    k: Knobs,
    page: u8,
    waits_on: MutexId,
) -> Result<FileReadFault, BuildError> {
    let alloc = if k.fault_allocates_under_page_lock {
        TableAlloc::UnderPageLock
    } else {
        table_alloc(variant)?
    };
    Ok(FileReadFault {
        reclaim_waits_on: Some(waits_on),
        alloc_under_page_lock: Some(&NOALLOC),
        ..FileReadFault::new(0, 0, page, alloc)
    })
}

/// Builds race 000-B in `variant` for backend `A`; `noalloc` declares INV-000-NOALLOC (the
/// catalogue does on the fixed variants).
///
/// # Errors
/// An unknown variant, or a backend that cannot hold the initial state.
pub fn build<A: PmdOps>(variant: &str, k: Knobs, noalloc: bool) -> Result<Scenario<A>, BuildError> {
    // Page 0 is A, page 1 is B: two clean page-cache pages, referenced by the cache.
    let fault = alloc_fault(variant, k, 1, WRITEBACK_A)?;
    let writeback = WritebackPair {
        first: 0,
        second: 1,
        first_writeback: WRITEBACK_A,
    };
    let mut b = ScenarioBuilder::<A>::new("race-000-alloc", 1)
        .file_backed()
        .mutex(WRITEBACK_A)
        .setup(|s| {
            for _ in 0..2 {
                let p = s.page(false)?;
                s.page_file(p, true)?;
                s.get_page(p)?;
            }
            Ok(())
        })
        .thread("fault", fault)
        .thread("writeback", writeback);
    if noalloc {
        b = b.invariant(&NOALLOC);
    }
    Ok(b.invariants(set(INVARIANTS)).build()?)
}

/// Only terminal entries change under `mmap_lock` read.
pub static NONTERMINAL: Invariant = Invariant::new(
    "INV-NONTERMINAL",
    "Under mmap_lock read alone, a pmd that points to a page table is never overwritten: only terminal entries change there.",
);

/// v4.7's table-first fault with the 2016 huge tmpfs series' table replacement.
pub const HUGE_TMPFS_2016: &str = "huge-tmpfs-2016";
/// The variants of `race-000-tmpfs`.
pub const TMPFS_VARIANTS: &[&str] = &[HUGE_TMPFS_2016, super::V6_12];
/// What `race-000-tmpfs` and `race-000-tmpfs-uffd` check.
pub const TMPFS_INVARIANTS: &[InvariantId] = &[
    InvariantId::TABLE_LIFE,
    NONTERMINAL.id(),
    InvariantId::VALIDATE,
    InvariantId::DEPOSIT,
    InvariantId::DEADLOCK,
    InvariantId::LOCK_BALANCE,
];
/// What the 2016 shape must break.
pub const FOUND_TMPFS: &[InvariantId] = &[InvariantId::TABLE_LIFE];

fn tmpfs_shape(variant: &str) -> Result<TmpfsShape, BuildError> {
    match variant {
        HUGE_TMPFS_2016 => Ok(TmpfsShape::HugeTmpfs2016),
        super::V6_12 => Ok(TmpfsShape::V6_12),
        v => Err(BuildError::UnknownVariant(v.into())),
    }
}

fn tmpfs_fault(slot: u8, shape: TmpfsShape, k: Knobs, watch: bool) -> HugeTmpfsFault {
    HugeTmpfsFault {
        nonterminal: watch.then_some(&NONTERMINAL),
        skip_pmd_none_recheck: k.do_set_pmd_skips_recheck,
        ..HugeTmpfsFault::new(0, slot, shape)
    }
}

/// Builds race 000-A (`race-000-tmpfs`) in `variant`: one huge tmpfs VMA over region 0, no
/// table, a PMD-sized folio in the page cache at indices 0 and 1; read faults at both, and a
/// walker of index 1 under `mmap_lock` read (`vma_lookup`, then `pte_offset_map_lock`).
/// `watch` declares INV-NONTERMINAL (the catalogue does on `v6.12`; the 2016 shape is
/// audited for the use-after-free, and `tests/race_000.rs` shows it breaks INV-NONTERMINAL
/// too).
///
/// # Errors
/// An unknown variant, or a backend that cannot hold the initial state.
pub fn build_tmpfs<A: PmdOps>(
    variant: &str,
    k: Knobs,
    watch: bool,
) -> Result<Scenario<A>, BuildError> {
    let shape = tmpfs_shape(variant)?;
    let mut b = ScenarioBuilder::<A>::new("race-000-tmpfs", 1)
        .file_backed()
        .setup(|s| {
            s.vma(0, 0, 1, VmFlags::READ | VmFlags::SHARED)?;
            let h = s.page(true)?;
            for i in 0..CACHE_SLOTS {
                s.cache_page(i, h)?;
            }
            Ok(())
        })
        .thread("fault0", tmpfs_fault(0, shape, k, watch))
        .thread("fault1", tmpfs_fault(1, shape, k, watch))
        .thread(
            "walker",
            VmaWalk {
                region: 0,
                slot: 1,
                lookup: Lookup::VmaLookup,
            },
        );
    if watch {
        b = b.invariant(&NONTERMINAL);
    }
    Ok(b.invariants(set(TMPFS_INVARIANTS)).build()?)
}

/// Builds a v6.12 huge tmpfs VMA with two small folios in the page cache while khugepaged's
/// `collapse_file` (v6.12) replaces them with a PMD-sized folio, and read faults at both
/// indices. A fault that found a small folio installs a table and maps it by its pte, with
/// that folio locked; the collapse needs every small folio's lock to commit, so a fault that
/// finds the new folio always sees that table: `do_set_pmd`'s recheck is not what keeps the
/// table here (`tests/race_000.rs` checks it without the recheck), unlike in
/// `race-000-tmpfs-uffd`.
///
/// # Errors
/// A backend that cannot hold the initial state.
pub fn build_tmpfs_collapse<A: PmdOps>(k: Knobs) -> Result<Scenario<A>, BuildError> {
    use super::race_004::{GHOST, I_MMAP, XA_LOCK};
    use crate::engine::ops::collapse_file::{CollapseFile, CollapseShape};
    let shape = TmpfsShape::V6_12;
    let b = ScenarioBuilder::<A>::new("tmpfs-collapse", 1)
        .file_backed()
        .spinlock(XA_LOCK)
        .rwsem(I_MMAP)
        .setup(|s| {
            s.vma(0, 0, 1, VmFlags::READ | VmFlags::SHARED)?;
            for i in 0..CACHE_SLOTS {
                let p = s.page(false)?;
                s.cache_page(i, p)?;
            }
            Ok(())
        })
        .thread(
            "collapse",
            CollapseFile::new(CollapseShape::V6_12, XA_LOCK, I_MMAP, GHOST),
        )
        .thread("fault0", tmpfs_fault(0, shape, k, true))
        .thread("fault1", tmpfs_fault(1, shape, k, true))
        .invariant(&NONTERMINAL);
    Ok(b.invariants(set(TMPFS_INVARIANTS)).build()?)
}

/// Builds `race-000-tmpfs-uffd` (v6.12 only): the huge tmpfs VMA of `race-000-tmpfs`,
/// registered for userfaultfd MODE_MISSING, a read fault at index 0 (`do_set_pmd` for the
/// cached PMD-sized folio), the monitor's `UFFDIO_COPY` at index 1 (whose `mfill_atomic`
/// installs a page table under the empty pmd before `shmem_mfill_atomic_pte` finds the slot
/// taken) and a walker of index 1. The copy holds no lock the fault holds: only
/// `do_set_pmd`'s `pmd_none` recheck under the pmd lock keeps the fault from replacing the
/// copy's table.
///
/// # Errors
/// A backend that cannot hold the initial state.
pub fn build_tmpfs_uffd<A: PmdOps>(k: Knobs) -> Result<Scenario<A>, BuildError> {
    use super::race_004::{GHOST, XA_LOCK};
    use crate::engine::ops::userfaultfd::UffdCopy;
    let flags = VmFlags::READ | VmFlags::SHARED | VmFlags::UFFD_MISSING;
    let b = ScenarioBuilder::<A>::new("race-000-tmpfs-uffd", 1)
        .file_backed()
        .spinlock(XA_LOCK)
        .setup(move |s| {
            s.vma(0, 0, 1, flags)?;
            let h = s.page(true)?;
            for i in 0..CACHE_SLOTS {
                s.cache_page(i, h)?;
            }
            Ok(())
        })
        .thread("fault", tmpfs_fault(0, TmpfsShape::V6_12, k, true))
        .thread(
            "copy",
            UffdCopy {
                region: 0,
                index: 1,
                xa_lock: XA_LOCK,
                ghost: GHOST,
            },
        )
        .thread(
            "walker",
            VmaWalk {
                region: 0,
                slot: 1,
                lookup: Lookup::VmaLookup,
            },
        )
        .invariant(&NONTERMINAL);
    Ok(b.invariants(set(TMPFS_INVARIANTS)).build()?)
}
