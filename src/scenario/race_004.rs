//! Race 004: khugepaged's `collapse_file` on shmem vs userfaultfd MODE_MISSING (2023), on the
//! open machine: `xa_lock` and `i_mmap_rwsem` as declared locks, the monitors in a ghost
//! cell, four declared invariants, the initial state set up through
//! [`Setup`](crate::engine::setup::Setup).
//!
//! One shmem VMA over region 0 maps file indices 0 and 1 (one huge page's range, as the
//! model has it): index 0 is a hole, index 1 holds a small page.
//!
//! - `race-004-uffd`: the collapse, `UFFDIO_REGISTER` MODE_MISSING of the VMA, a read fault
//!   at the hole and the monitor's `UFFDIO_COPY` there. `v6.2` fills the hole with the new
//!   folio without asking about userfaultfd: registered first, the collapse commits a
//!   zero-filled page where the monitor expected to supply one (INV-004-UFFD): the fault
//!   maps zeros with no event, the copy gets `-EEXIST`. `v6.12` (ac492b9c70ca) checks the VMAs
//!   under `i_mmap` after parking retry entries in the holes, and holds.
//! - `race-004-rollback`: the VMA registered from the start; the collapse, `UFFDIO_COPY` at
//!   the hole, and `find_get_entries`, whose speculative reference on the small page fails
//!   the collapse's refcount check. `v6.2`'s folio in the hole is seen (the copy's `-EEXIST`,
//!   the lookup's folio), then rolled back to a hole (INV-004-NOTRANSIENT, INV-004-EEXIST).
//!   `v6.12` never shows a hole's folio before the commit, and holds.
//!
//! INV-004-XA (retry entries only under `xa_lock`; a multi-index entry whole; `nrpages`
//! counting the occupied indices) holds everywhere; a rollback that leaves its retry entries
//! (`--mutate collapse-rollback-keeps-retry`) breaks it, one without the userfaultfd check
//! (`--mutate collapse-skips-uffd-check`) breaks INV-004-UFFD.

use crate::engine::invariant::{Invariant, InvariantId};
use crate::engine::mm::Machine;
use crate::engine::ops::collapse_file::{CollapseFile, CollapseGhost, CollapseShape};
use crate::engine::ops::find_get_entries::FindGetEntries;
use crate::engine::ops::shmem_fault::ShmemFault;
use crate::engine::ops::userfaultfd::{UffdCopy, UffdRegister};
use crate::engine::state::locks::{RwsemId, SpinlockId};
use crate::engine::state::page_cache::{CACHE_SLOTS, XaEntry};
use crate::engine::state::vma::VmFlags;
use crate::engine::{Scenario, ScenarioBuilder};
use crate::entry::PmdOps;

use super::{BuildError, Knobs, set};

/// No suppressed userfaultfd event.
pub static UFFD: Invariant = Invariant::new(
    "INV-004-UFFD",
    "While a VMA mapping a file index is registered for userfaultfd MODE_MISSING, only UFFDIO_COPY fills that index's hole: a collapse never commits a page into a hole it filled while the registration stood.",
);
/// No observable rolled-back state.
pub static NOTRANSIENT: Invariant = Invariant::new(
    "INV-004-NOTRANSIENT",
    "Every lookup of a page-cache index (a fault, UFFDIO_COPY, a lockless reader) returns the value before the collapse or the one it commits, never a folio the collapse later rolls back.",
);
/// `-EEXIST` means populated.
pub static EEXIST: Invariant = Invariant::new(
    "INV-004-EEXIST",
    "Once UFFDIO_COPY has returned -EEXIST for an index, the index is never a hole again.",
);
/// The xarray stays well-formed.
pub static XA: Invariant = Invariant::new(
    "INV-004-XA",
    "A retry entry is visible only while xa_lock is held; with no collapse in flight and xa_lock free, a huge folio's multi-index entry covers its whole range and nrpages counts the occupied indices.",
);

/// The mapping's `xa_lock`.
pub const XA_LOCK: SpinlockId = SpinlockId::new(0, "xa_lock");
/// The mapping's `i_mmap_rwsem`.
pub const I_MMAP: RwsemId = RwsemId::new(1, "i_mmap_rwsem");
/// The monitor cell.
pub const GHOST: CollapseGhost = CollapseGhost(0);

/// `collapse_file` before ac492b9c70ca.
pub const V6_2: &str = "v6.2";
/// The variants, oldest first.
pub const VARIANTS: &[&str] = &[V6_2, super::V6_12];

/// What `race-004-uffd` checks.
pub const UFFD_INVARIANTS: &[InvariantId] = &[
    UFFD.id(),
    NOTRANSIENT.id(),
    EEXIST.id(),
    XA.id(),
    InvariantId::DEADLOCK,
    InvariantId::LOCK_BALANCE,
];
/// What `race-004-rollback` checks (the registration is its initial state, so INV-004-UFFD
/// is `race-004-uffd`'s subject).
pub const ROLLBACK_INVARIANTS: &[InvariantId] = &[
    NOTRANSIENT.id(),
    EEXIST.id(),
    XA.id(),
    InvariantId::DEADLOCK,
    InvariantId::LOCK_BALANCE,
];
/// What `v6.2` must break in `race-004-uffd`.
pub const FOUND_UFFD: &[InvariantId] = &[UFFD.id()];
/// What `v6.2` must break in `race-004-rollback`.
pub const FOUND_ROLLBACK: &[InvariantId] = &[NOTRANSIENT.id(), EEXIST.id()];

fn shape(variant: &str) -> Result<CollapseShape, BuildError> {
    match variant {
        V6_2 => Ok(CollapseShape::V6_2),
        super::V6_12 => Ok(CollapseShape::V6_12),
        v => Err(BuildError::UnknownVariant(v.into())),
    }
}

fn xa_lock_held<A: PmdOps>(m: &Machine<A>) -> bool {
    m.lock_state(XA_LOCK.lock())
        .is_some_and(|s| s.sem.writer.holder().is_some())
}

fn eexist<A: PmdOps>(m: &Machine<A>) -> Option<&'static str> {
    let mask = GHOST.eexist_mask(m);
    (0..CACHE_SLOTS)
        .any(|i| mask & 1 << i != 0 && m.xa_load(i) == XaEntry::Empty)
        .then_some("an index UFFDIO_COPY found populated (-EEXIST) is a hole again")
}

fn xa<A: PmdOps>(m: &Machine<A>) -> Option<&'static str> {
    let entries: [XaEntry; CACHE_SLOTS] = core::array::from_fn(|i| m.xa_load(i));
    let locked = xa_lock_held(m);
    if !locked && entries.contains(&XaEntry::Retry) {
        return Some("a retry entry is left in the page cache with xa_lock free");
    }
    if locked || GHOST.uncommitted(m).is_some() {
        return None;
    }
    let huge = |e: &XaEntry| matches!(*e, XaEntry::Page(p) if m.page(p).huge);
    if let Some(h) = entries.iter().find(|e| huge(e)) {
        if entries.iter().any(|e| e != h) {
            return Some("a huge folio's entry covers part of its range");
        }
    }
    let occupied = entries.iter().filter(|e| **e != XaEntry::Empty).count();
    (usize::from(m.nrpages()) != occupied)
        .then_some("mapping->nrpages does not count the occupied indices")
}

/// The VMA over region 0, the hole at index 0 and the small page at index 1.
fn base<A: PmdOps>(name: &str, flags: VmFlags, table: bool) -> ScenarioBuilder<A> {
    ScenarioBuilder::<A>::new(name, 1)
        .file_backed()
        .spinlock(XA_LOCK)
        .rwsem(I_MMAP)
        .setup(move |s| {
            s.vma(0, 0, 1, flags)?;
            if table {
                s.table(0)?;
            }
            let p = s.page(false)?;
            s.cache_page(1, p)
        })
}

fn collapse(variant: &str, k: Knobs, uffd: bool) -> Result<CollapseFile, BuildError> {
    Ok(CollapseFile {
        uffd: uffd.then_some(&UFFD),
        transient: Some(&NOTRANSIENT),
        skip_uffd_check: k.collapse_skips_uffd_check,
        rollback_keeps_retry: k.collapse_rollback_keeps_retry,
        ..CollapseFile::new(shape(variant)?, XA_LOCK, I_MMAP, GHOST)
    })
}

fn declare<A: PmdOps>(b: ScenarioBuilder<A>, uffd: bool) -> ScenarioBuilder<A> {
    let b = if uffd { b.invariant(&UFFD) } else { b };
    b.invariant(&NOTRANSIENT)
        .state_invariant(&EEXIST, eexist::<A>)
        .state_invariant(&XA, xa::<A>)
}

/// Builds `race-004-uffd` in `variant`.
///
/// # Errors
/// An unknown variant, or a backend that cannot hold the initial state.
pub fn build_uffd<A: PmdOps>(variant: &str, k: Knobs) -> Result<Scenario<A>, BuildError> {
    let b = base::<A>("race-004-uffd", VmFlags::READ | VmFlags::SHARED, true)
        .thread("collapse", collapse(variant, k, true)?)
        .thread("register", UffdRegister { region: 0 })
        .thread(
            "fault",
            ShmemFault {
                region: 0,
                index: 0,
                xa_lock: XA_LOCK,
                ghost: GHOST,
            },
        )
        .thread(
            "copy",
            UffdCopy {
                region: 0,
                index: 0,
                xa_lock: XA_LOCK,
                ghost: GHOST,
            },
        );
    Ok(declare(b, true).invariants(set(UFFD_INVARIANTS)).build()?)
}

/// Builds `race-004-rollback` in `variant`.
///
/// # Errors
/// An unknown variant, or a backend that cannot hold the initial state.
pub fn build_rollback<A: PmdOps>(variant: &str, k: Knobs) -> Result<Scenario<A>, BuildError> {
    let flags = VmFlags::READ | VmFlags::SHARED | VmFlags::UFFD_MISSING;
    let b = base::<A>("race-004-rollback", flags, false)
        .thread("collapse", collapse(variant, k, false)?)
        .thread(
            "copy",
            UffdCopy {
                region: 0,
                index: 0,
                xa_lock: XA_LOCK,
                ghost: GHOST,
            },
        )
        .thread(
            "lookup",
            FindGetEntries {
                xa_lock: XA_LOCK,
                ghost: GHOST,
            },
        );
    Ok(declare(b, false)
        .invariants(set(ROLLBACK_INVARIANTS))
        .build()?)
}
