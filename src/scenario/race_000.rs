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

use crate::engine::invariant::{CustomInvariant, InvariantId};
use crate::engine::ops::file_fault::{FileReadFault, TableAlloc};
use crate::engine::ops::writeback::WritebackPair;
use crate::engine::state::locks::MutexId;
use crate::engine::{Scenario, ScenarioBuilder};
use crate::entry::PmdOps;

use super::{BuildError, Knobs, set};

/// No blocking allocation under a page lock.
pub static NOALLOC: CustomInvariant = CustomInvariant {
    id: "INV-000-NOALLOC",
    statement: "No blocking allocation (one that may enter reclaim) starts while its thread holds a page lock.",
};

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
    InvariantId::Deadlock,
    InvariantId::Custom(&NOALLOC),
    InvariantId::TableLife,
    InvariantId::LockBalance,
];
/// What the historical variants must break.
pub const FOUND: &[InvariantId] = &[InvariantId::Deadlock];

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

/// Builds race 000-B in `variant` for backend `A`; `noalloc` declares INV-000-NOALLOC (the
/// catalogue does on the fixed variants).
///
/// # Errors
/// An unknown variant, or a backend that cannot hold the initial state.
pub fn build<A: PmdOps>(variant: &str, k: Knobs, noalloc: bool) -> Result<Scenario<A>, BuildError> {
    let alloc = if k.fault_allocates_under_page_lock {
        TableAlloc::UnderPageLock
    } else {
        table_alloc(variant)?
    };
    // Page 0 is A, page 1 is B: two clean page-cache pages, referenced by the cache.
    let fault = FileReadFault {
        reclaim_waits_on: Some(WRITEBACK_A),
        alloc_under_page_lock: Some(&NOALLOC),
        ..FileReadFault::new(0, 0, 1, alloc)
    };
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
