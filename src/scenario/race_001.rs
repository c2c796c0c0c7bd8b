//! Race 001-B: `write()` whose source buffer is an mmap of the same file (2006-2007), on the
//! open machine: declared invariants, the page cache set up through
//! [`Setup`](crate::engine::setup::Setup).
//!
//! One file VMA over region 0, no table yet; page-cache pages 0 and 1 back its slots 0 and 1.
//!
//! - `race-001-self`: one writer writes page 0 from slot 0, i.e. from page 0 itself.
//! - `race-001-abba`: writer `w0` writes page 0 from slot 1 (page 1), `w1` page 1 from slot
//!   0 (page 0), while MADV_DONTNEED zaps the buffer's region (short copies in v6.12).
//!
//! Variant `2006`: the copy faults with the destination page locked: the self write waits on
//! its own page lock, the two writers on each other's. `v6.12`: holds, with
//! INV-001-LOCKORDER (no fault with a page lock held) and INV-001-PROGRESS (a short copy
//! retries a bounded number of times) declared; the historical variant is audited for the
//! deadlock, and `tests/race_001.rs` shows it breaks INV-001-LOCKORDER too.

use crate::engine::invariant::{Invariant, InvariantId};
use crate::engine::mm::Machine;
use crate::engine::ops::file_fault::{FileReadFault, TableAlloc};
use crate::engine::ops::invalidate::InvalidatePage;
use crate::engine::ops::mlock::{MlockPopulate, MlockShape};
use crate::engine::ops::nopage::DoNoPage;
use crate::engine::ops::perform_write::{PerformWrite, WriteShape};
use crate::engine::ops::truncate::{Truncate, TruncateShape};
use crate::engine::ops::v6_12;
use crate::engine::ops::v6_12::pte_offset_map;
use crate::engine::state::page_cache::CACHE_SLOTS;
use crate::engine::{Scenario, ScenarioBuilder};
use crate::entry::PmdOps;

use super::{BuildError, Knobs, set};

/// Lock order: `mmap_lock`, then page locks.
pub static LOCKORDER: Invariant = Invariant::new(
    "INV-001-LOCKORDER",
    "No thread starts a page fault (which takes mmap_lock, then a page lock) while it holds a page lock.",
);
/// The write makes progress.
pub static PROGRESS: Invariant = Invariant::new(
    "INV-001-PROGRESS",
    "A write whose copy came back short faults the buffer in and retries, and gives up only after a bounded number of retries that copied nothing.",
);

/// The page in a present pte of the file region is in the page cache at its index.
pub static NOORPHAN: Invariant = Invariant::new(
    "INV-001-NOORPHAN",
    "Every present pte of the file mapping maps, whenever its page is unlocked, the page the page cache holds at that pte's file index.",
);

/// The fault before d00806b18315 (2.6.23): `do_no_page` with `find_get_page` and
/// `truncate_count`.
pub const V2_6_22: &str = "2.6.22";
/// The fault-vs-invalidate variants.
pub const INVALIDATE_VARIANTS: &[&str] = &[V2_6_22, super::V6_12];
/// What `race-001-invalidate` checks.
pub const INVALIDATE_INVARIANTS: &[InvariantId] = &[
    NOORPHAN.id(),
    InvariantId::TABLE_LIFE,
    InvariantId::DEADLOCK,
    InvariantId::LOCK_BALANCE,
];
/// What `2.6.22` must break.
pub const FOUND_ORPHAN: &[InvariantId] = &[NOORPHAN.id()];

fn noorphan<A: PmdOps>(m: &Machine<A>) -> Option<&'static str> {
    let pmd = m.peek_pmd(0);
    let table = pte_offset_map(m, pmd)?;
    for slot in 0..CACHE_SLOTS {
        let pte = m.table(table).ptes[slot];
        if !A::pte_present(pte) {
            continue;
        }
        let Some(page) = m.page_of_pfn(A::pte_pfn(pte)) else {
            continue;
        };
        if m.page(page).lock.holder().is_none() && m.cache_get(slot) != Some(page) {
            return Some("a pte maps a page the page cache no longer holds at its index");
        }
    }
    None
}

/// Builds race 001-A in `variant`: a read fault on file index 0 against an invalidation of
/// index 0 (one file region with its table, page 0 cached at index 0).
///
/// # Errors
/// An unknown variant, or a backend that cannot hold the initial state.
pub fn build_invalidate<A: PmdOps>(variant: &str, k: Knobs) -> Result<Scenario<A>, BuildError> {
    let b = ScenarioBuilder::<A>::new("race-001-invalidate", 1)
        .file_backed()
        .setup(|s| {
            s.table(0)?;
            let p = s.page(false)?;
            s.cache_page(0, p)
        });
    let b = match variant {
        V2_6_22 => b.thread(
            "fault",
            DoNoPage {
                region: 0,
                slot: 0,
                skip_sequence_check: false,
            },
        ),
        super::V6_12 => b.thread(
            "fault",
            FileReadFault {
                from_cache: true,
                skip_recheck: k.fault_skips_mapping_recheck,
                ..FileReadFault::new(0, 0, 0, TableAlloc::Prealloc)
            },
        ),
        v => return Err(BuildError::UnknownVariant(v.into())),
    };
    let b = b
        .thread(
            "invalidate",
            InvalidatePage {
                region: 0,
                index: 0,
            },
        )
        .state_invariant(&NOORPHAN, noorphan::<A>);
    Ok(b.invariants(set(INVALIDATE_INVARIANTS)).build()?)
}

/// The write path of 2006 under a fault path that locks the page.
pub const V2006: &str = "2006";
/// The variants, oldest first.
pub const VARIANTS: &[&str] = &[V2006, super::V6_12];
/// What the catalogue checks (the historical variant leaves the custom ones out: its
/// shortest counterexample is then the deadlock, with its cycle).
pub const INVARIANTS: &[InvariantId] = &[
    InvariantId::DEADLOCK,
    LOCKORDER.id(),
    PROGRESS.id(),
    InvariantId::TABLE_LIFE,
    InvariantId::LOCK_BALANCE,
];
/// What the historical variant must break.
pub const FOUND: &[InvariantId] = &[InvariantId::DEADLOCK];

fn shape(variant: &str) -> Result<WriteShape, BuildError> {
    match variant {
        V2006 => Ok(WriteShape::CopyUnderPageLock),
        super::V6_12 => Ok(WriteShape::AtomicCopy),
        v => Err(BuildError::UnknownVariant(v.into())),
    }
}

/// Builds `race-001-mmap` in `variant`: a writer of page 0 from a buffer mapping page 1,
/// and an `mlock` of the mapping whose population faults page 0 in; `watch` declares
/// INV-001-LOCKORDER and INV-001-PROGRESS (the catalogue does on `v6.12`). In 2006 the
/// writer holds page 0 and its fault waits for `mmap_sem`, which `mlock` holds for write
/// while its own fault waits for page 0.
///
/// # Errors
/// An unknown variant, or a backend that cannot hold the initial state.
pub fn build_mmap<A: PmdOps>(
    variant: &str,
    k: Knobs,
    watch: bool,
) -> Result<Scenario<A>, BuildError> {
    let shape = shape(variant)?;
    let mlock = if shape == WriteShape::CopyUnderPageLock {
        MlockShape::V2_6_18
    } else {
        MlockShape::V6_12
    };
    let writer = PerformWrite {
        skip_fault_in: k.write_skips_fault_in,
        copy_faults: k.write_copy_faults,
        fault_under_page_lock: Some(&LOCKORDER),
        no_progress: Some(&PROGRESS),
        ..PerformWrite::new(0, 0, 1, 1, shape)
    };
    let mut b = ScenarioBuilder::<A>::new("race-001-mmap", 1)
        .file_backed()
        .setup(|s| {
            for _ in 0..2 {
                let p = s.page(false)?;
                s.page_file(p, true)?;
                s.get_page(p)?;
            }
            Ok(())
        })
        .thread("write", writer)
        .thread(
            "mlock",
            MlockPopulate {
                page: 0,
                shape: mlock,
            },
        );
    if watch {
        b = b.invariant(&LOCKORDER).invariant(&PROGRESS);
    }
    Ok(b.invariants(set(INVARIANTS)).build()?)
}

/// Builds `race-001-self` (`abba` false) or `race-001-abba` in `variant`; `watch` declares
/// INV-001-LOCKORDER and INV-001-PROGRESS (the catalogue does on `v6.12`).
///
/// # Errors
/// An unknown variant, or a backend that cannot hold the initial state.
pub fn build<A: PmdOps>(
    abba: bool,
    variant: &str,
    k: Knobs,
    watch: bool,
) -> Result<Scenario<A>, BuildError> {
    let shape = shape(variant)?;
    let writer = |dst: u8, src: u8| PerformWrite {
        skip_fault_in: k.write_skips_fault_in,
        copy_faults: k.write_copy_faults,
        fault_under_page_lock: Some(&LOCKORDER),
        no_progress: Some(&PROGRESS),
        ..PerformWrite::new(dst, 0, src, src, shape)
    };
    let name = if abba {
        "race-001-abba"
    } else {
        "race-001-self"
    };
    let mut b = ScenarioBuilder::<A>::new(name, 1).file_backed().setup(|s| {
        for _ in 0..2 {
            let p = s.page(false)?;
            s.page_file(p, true)?;
            s.get_page(p)?;
        }
        Ok(())
    });
    b = if abba {
        b.thread("w0", writer(0, 1))
            .thread("w1", writer(1, 0))
            .thread("zap", v6_12::zap::MadvDontneed::new(0))
    } else {
        b.thread("write", writer(0, 0))
    };
    if watch {
        b = b.invariant(&LOCKORDER).invariant(&PROGRESS);
    }
    Ok(b.invariants(set(INVARIANTS)).build()?)
}

/// Nothing maps a truncated page once truncate has returned.
pub static TRUNC: Invariant = Invariant::new(
    "INV-001-TRUNC",
    "Once truncate(new size) has returned, no pte of the file mapping maps a page at an index at or past the new size.",
);

/// The ghost cell the truncation sets when it returns.
const TRUNCATE_RETURNED: usize = 0;

/// What `race-001-truncate` checks.
pub const TRUNCATE_INVARIANTS: &[InvariantId] = &[
    TRUNC.id(),
    NOORPHAN.id(),
    InvariantId::TABLE_LIFE,
    InvariantId::DEADLOCK,
    InvariantId::LOCK_BALANCE,
];

fn trunc<A: PmdOps>(m: &Machine<A>) -> Option<&'static str> {
    if m.ghost_get(TRUNCATE_RETURNED) == 0 {
        return None;
    }
    let table = pte_offset_map(m, m.peek_pmd(0))?;
    let size = usize::from(m.i_size());
    (size..CACHE_SLOTS)
        .any(|i| A::pte_present(m.table(table).ptes[i]))
        .then_some("a pte maps a page past the new size after truncate returned")
}

/// Builds `race-001-truncate` in `variant`: a read fault on file index 1 against a
/// truncation to one page (one file region with its table, pages cached at indices 0 and
/// 1). 2.6.22's `truncate_count` covers truncation (the sequence `vmtruncate`'s unmap bumps),
/// and v6.12's locked lookup rechecks `i_size`: both hold.
///
/// # Errors
/// An unknown variant, or a backend that cannot hold the initial state.
pub fn build_truncate<A: PmdOps>(variant: &str, k: Knobs) -> Result<Scenario<A>, BuildError> {
    let b = ScenarioBuilder::<A>::new("race-001-truncate", 1)
        .file_backed()
        .setup(|s| {
            s.table(0)?;
            for i in 0..CACHE_SLOTS {
                let p = s.page(false)?;
                s.cache_page(i, p)?;
            }
            Ok(())
        });
    let (b, shape) = match variant {
        V2_6_22 => (
            b.thread(
                "fault",
                DoNoPage {
                    region: 0,
                    slot: 1,
                    skip_sequence_check: k.nopage_skips_truncate_count,
                },
            ),
            TruncateShape::V2_6_22,
        ),
        super::V6_12 => (
            b.thread(
                "fault",
                FileReadFault {
                    from_cache: true,
                    skip_recheck: k.fault_skips_mapping_recheck,
                    ..FileReadFault::new(0, 1, 1, TableAlloc::Prealloc)
                },
            ),
            TruncateShape::V6_12,
        ),
        v => return Err(BuildError::UnknownVariant(v.into())),
    };
    let b = b
        .thread(
            "truncate",
            Truncate {
                region: 0,
                new_size: 1,
                shape,
                returned: TRUNCATE_RETURNED,
            },
        )
        .state_invariant(&TRUNC, trunc::<A>)
        .state_invariant(&NOORPHAN, noorphan::<A>);
    Ok(b.invariants(set(TRUNCATE_INVARIANTS)).build()?)
}

/// Readers never see bytes a write did not copy.
pub static NOTORN: Invariant = Invariant::new(
    "INV-001-NOTORN",
    "A write commits to the page cache only bytes it copied: a reader sees, for each byte, the old data or the new, never zeros a short copy left.",
);

/// What `race-001-torn` checks.
pub const TORN_INVARIANTS: &[InvariantId] = &[
    NOTORN.id(),
    LOCKORDER.id(),
    PROGRESS.id(),
    InvariantId::DEADLOCK,
    InvariantId::TABLE_LIFE,
    InvariantId::LOCK_BALANCE,
];
/// What the 2006 write path must break in `race-001-torn`.
pub const FOUND_TORN: &[InvariantId] = &[NOTORN.id()];

/// Builds `race-001-torn` in `variant`: a write of page 0 from a buffer mapping file index 1
/// while a truncation to one page takes index 1 away, so the buffer's fault fails
/// (`VM_FAULT_SIGBUS`) and the copy comes back short. The 2006 path's `copy_from_user`
/// zero-fills what it could not copy and `commit_write` commits the whole length; v6.12's
/// `write_end` commits only what was copied and the retry's fault-in returns `-EFAULT`.
/// `watch` declares INV-001-LOCKORDER and INV-001-PROGRESS (the catalogue does on `v6.12`).
///
/// # Errors
/// An unknown variant, or a backend that cannot hold the initial state.
pub fn build_torn<A: PmdOps>(
    variant: &str,
    k: Knobs,
    watch: bool,
) -> Result<Scenario<A>, BuildError> {
    let shape = shape(variant)?;
    let truncate = if shape == WriteShape::CopyUnderPageLock {
        TruncateShape::V2_6_22
    } else {
        TruncateShape::V6_12
    };
    let writer = PerformWrite {
        skip_fault_in: k.write_skips_fault_in,
        copy_faults: k.write_copy_faults,
        fault_under_page_lock: Some(&LOCKORDER),
        no_progress: Some(&PROGRESS),
        buffer_from_cache: true,
        torn: Some(&NOTORN),
        commit_short_copy: k.write_commits_short_copy,
        ..PerformWrite::new(0, 0, 1, 1, shape)
    };
    let mut b = ScenarioBuilder::<A>::new("race-001-torn", 1)
        .file_backed()
        .setup(|s| {
            for i in 0..CACHE_SLOTS {
                let p = s.page(false)?;
                s.cache_page(i, p)?;
            }
            Ok(())
        })
        .thread("write", writer)
        .thread(
            "truncate",
            Truncate {
                region: 0,
                new_size: 1,
                shape: truncate,
                returned: TRUNCATE_RETURNED,
            },
        )
        .invariant(&NOTORN);
    if watch {
        b = b.invariant(&LOCKORDER).invariant(&PROGRESS);
    }
    Ok(b.invariants(set(TORN_INVARIANTS)).build()?)
}
