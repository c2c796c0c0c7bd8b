//! Race 003: munmap zapping pages with `mmap_lock` held for read (2018), written on the open
//! machine as a user crate would write it: its invariants are [`Invariant`]s, its
//! monitors ghost cells, its initial state a [`Setup`](crate::engine::setup::Setup) of VMAs
//! and ptes.
//!
//! One mm, two regions: VMA A over region 0 (one page mapped at slot 0), a stack S over
//! region 1 (`VM_GROWSDOWN`). Thread `munmap` unmaps region 0; thread `fault` writes to
//! region 0, slot 1 (after the detach, an address just below the stack: the fault grows it);
//! thread `mmap` maps a fresh VMA over region 0 with `MAP_FIXED`.
//!
//! - `vm-dead` (the three-phase design proposed in the review): the fault path checks
//!   `VM_DEAD`, but the mmap lands between the zap and the detach, and phase 3 removes the
//!   new mapping: INV-003-LIN.
//! - `v4.20` (dd2283f2605e): the stack grows under the read lock between munmap's read of
//!   `next->vm_start` and its `free_pgd_range`, which frees the table the grown stack now
//!   covers: INV-003-FREEPGT (CVE-2020-29369).
//! - `v5.8` (246c320a8cfe: no downgrade next to a `VM_GROWSDOWN` VMA) and `v6.12` (stack
//!   growth under the write lock, 8d7071af8907; bounds read under the write lock) hold.

use crate::engine::invariant::{Invariant, InvariantId};
use crate::engine::mm::Machine;
use crate::engine::ops::mmap::{MmapFixed, MmapMonitor};
use crate::engine::ops::munmap::{Munmap, MunmapMonitor, MunmapShape};
use crate::engine::ops::user_fault::{LookupShape, UserFault};
use crate::engine::ops::vma_walk::{Lookup, VmaWalk};
use crate::engine::setup::PteInit;
use crate::engine::state::vma::{VmFlags, VmaId};
use crate::engine::{Scenario, ScenarioBuilder};
use crate::entry::PmdOps;

use super::{BuildError, Knobs, set};

/// munmap is linearizable.
pub static LIN: Invariant = Invariant::new(
    "INV-003-LIN",
    "munmap(s,e) removes exactly the mappings that existed at its detach point; a VMA another thread maps into [s,e) after that point is still in the tree when munmap returns.",
);
/// Nothing maps into an unmapped range.
pub static INVISIBLE: Invariant = Invariant::new(
    "INV-003-INVISIBLE",
    "A fault maps a page only where a live VMA (in the tree, not VM_DEAD) covers the address.",
);
/// Page tables are freed only where no VMA is.
pub static FREEPGT: Invariant = Invariant::new(
    "INV-003-FREEPGT",
    "free_pgtables frees the page table of a region only if no VMA in the tree (one that just grew included) overlaps the region.",
);
/// The downgraded lock excludes writers.
pub static RWSEM: Invariant = Invariant::new(
    "INV-003-RWSEM",
    "Between munmap's downgrade_write and its release, no writer holds mmap_lock.",
);

/// Ghost cell: 1 once munmap passed its linearization point, 2 once it returned.
pub const LIN_CELL: usize = 0;
/// Ghost cell: a bit per VMA mapped after munmap's linearization point.
pub const BORN_AFTER_CELL: usize = 1;
/// Ghost cell: 1 while munmap holds the read lock it downgraded to.
pub const DOWNGRADED_CELL: usize = 2;

/// The variants, oldest first.
pub const VARIANTS: &[&str] = &[VM_DEAD, V4_20, V5_8, super::V6_12];
/// The three-phase `VM_DEAD` design proposed in the 2018 review.
pub const VM_DEAD: &str = "vm-dead";
/// dd2283f2605e as merged.
pub const V4_20: &str = "v4.20";
/// 246c320a8cfe.
pub const V5_8: &str = "v5.8";

/// What the catalogue checks.
pub const INVARIANTS: &[InvariantId] = &[
    LIN.id(),
    INVISIBLE.id(),
    FREEPGT.id(),
    RWSEM.id(),
    InvariantId::TABLE_LIFE,
    InvariantId::DEADLOCK,
    InvariantId::LOCK_BALANCE,
];

/// What `vm-dead` must break.
pub const FOUND_VM_DEAD: &[InvariantId] = &[LIN.id()];
/// What `v4.20` must break.
pub const FOUND_V4_20: &[InvariantId] = &[FREEPGT.id(), InvariantId::TABLE_LIFE];

fn lin<A: PmdOps>(m: &Machine<A>) -> Option<&'static str> {
    if m.ghost_get(LIN_CELL) != 2 {
        return None;
    }
    let born = m.ghost_get(BORN_AFTER_CELL);
    let lost = m.vmas().any(|(id, v)| born & 1 << id.0 != 0 && !v.attached);
    lost.then_some("munmap returned having removed a VMA mapped after its linearization point")
}

fn rwsem<A: PmdOps>(m: &Machine<A>) -> Option<&'static str> {
    let writer = m.mmap_sem().writer != crate::engine::locks::Owner::FREE;
    (m.ghost_get(DOWNGRADED_CELL) == 1 && writer)
        .then_some("a writer holds mmap_lock while munmap works under its downgraded lock")
}

/// The walker's lookups (variant C): `find_vma` without a `vm_start` check, and v6.12's
/// `vma_lookup`.
pub const WALKER_VARIANTS: &[&str] = &[FIND_VMA, super::V6_12];
/// The walker before the switch to `vma_lookup`.
pub const FIND_VMA: &str = "find_vma";
/// What the walker scenario checks.
pub const WALKER_INVARIANTS: &[InvariantId] = &[
    InvariantId::TABLE_LIFE,
    InvariantId::DEADLOCK,
    InvariantId::LOCK_BALANCE,
];
/// What the `find_vma` walker must break.
pub const FOUND_WALKER: &[InvariantId] = &[InvariantId::TABLE_LIFE];

/// Builds race 003's variant C in `variant`: v6.12's munmap of region 0 against a walker of
/// region 0 that looks its VMA up with `find_vma` (finding the stack above once munmap has
/// detached region 0's VMA) or `vma_lookup`.
///
/// # Errors
/// An unknown variant, or a backend that cannot encode the initial page.
pub fn build_walker<A: PmdOps>(variant: &str) -> Result<Scenario<A>, BuildError> {
    let lookup = match variant {
        FIND_VMA => Lookup::FindVma,
        super::V6_12 => Lookup::VmaLookup,
        v => return Err(BuildError::UnknownVariant(v.into())),
    };
    let b = initial::<A>("race-003-walker")
        .thread("munmap", Munmap::new(0, 1, MunmapShape::V6_12))
        .thread(
            "walker",
            VmaWalk {
                region: 0,
                slot: 0,
                lookup,
            },
        );
    Ok(b.invariants(set(WALKER_INVARIANTS)).build()?)
}

/// One mm, VMA A over region 0 with a page at slot 0, a stack over region 1.
fn initial<A: PmdOps>(name: &str) -> ScenarioBuilder<A> {
    let rw = VmFlags::READ | VmFlags::WRITE;
    ScenarioBuilder::<A>::new(name, 2).setup(|s| {
        let a = s.vma(0, 0, 1, rw)?;
        s.vma(0, 1, 2, rw | VmFlags::GROWSDOWN)?;
        debug_assert_eq!(a, VmaId(0));
        let page = s.page(false)?;
        s.map_pte(0, 0, page, PteInit::WRITTEN)
    })
}

/// The variant's munmap, fault lookup.
fn shapes(variant: &str) -> Result<(MunmapShape, LookupShape), BuildError> {
    Ok(match variant {
        VM_DEAD => (MunmapShape::ThreePhase, LookupShape::VmDeadCheck),
        V4_20 => (MunmapShape::V4_20, LookupShape::ReadLockGrowth),
        V5_8 => (MunmapShape::V5_8, LookupShape::ReadLockGrowth),
        super::V6_12 => (MunmapShape::V6_12, LookupShape::V6_12),
        v => return Err(BuildError::UnknownVariant(v.into())),
    })
}

/// Builds race 003 in `variant` for backend `A`.
///
/// # Errors
/// An unknown variant, or a backend that cannot encode the initial page.
pub fn build<A: PmdOps>(variant: &str, k: Knobs) -> Result<Scenario<A>, BuildError> {
    let (munmap_shape, lookup) = shapes(variant)?;
    let munmap = Munmap {
        downgrade_by_unlock: k.munmap_downgrade_by_unlock,
        monitor: MunmapMonitor {
            lin_cell: Some(LIN_CELL),
            downgraded_cell: Some(DOWNGRADED_CELL),
            free_under_vma: Some(&FREEPGT),
        },
        ..Munmap::new(0, 1, munmap_shape)
    };
    let fault = UserFault {
        ignore_vm_dead: k.fault_ignores_vm_dead,
        map_outside_vma: Some(&INVISIBLE),
        ..UserFault::new(0, 1, lookup)
    };
    let mmap = MmapFixed {
        monitor: MmapMonitor {
            lin_cell: Some(LIN_CELL),
            born_after_cell: Some(BORN_AFTER_CELL),
        },
        ..MmapFixed::new(0, 1)
    };
    let b = initial::<A>("race-003")
        .thread("munmap", munmap)
        .thread("fault", fault)
        .thread("mmap", mmap)
        .state_invariant(&LIN, lin::<A>)
        .state_invariant(&RWSEM, rwsem::<A>)
        .invariant(&INVISIBLE)
        .invariant(&FREEPGT);
    Ok(b.invariants(set(INVARIANTS)).build()?)
}
