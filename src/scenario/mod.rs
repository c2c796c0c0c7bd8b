//! The catalogue: each founding race of `shared/reference/races.md` as a scenario, with the
//! backends and variants it applies to and what the audit expects of each.
//!
//! A scenario is built per backend type by [`build`]; [`CATALOGUE`] describes every entry for
//! run-time use (the audit, `pgtable scenarios`).

use std::string::String;

pub mod models;
pub mod race_000;
pub mod race_001;
pub mod race_003;
pub mod race_004;

use crate::ArchId;
use crate::arch::DynBackend;
use crate::engine::invariant::{InvariantId, InvariantSet};
use crate::engine::mm::MAX_PMDS;
use crate::engine::ops::file_fault::TableAlloc;
use crate::engine::ops::{
    fault::AnonFault, gup::GupFast, split::SplitHugePmd, v6_12, walk::MmuWalk, zap::MadvDontneed,
};
use crate::engine::{Scenario, ScenarioBuilder, ScenarioError};
use crate::entry::{PmdOps, Protection};

/// What the audit expects of one (scenario, backend, variant) cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Expectation {
    /// The historical bug must be found: one of these invariants violated.
    Violation(&'static [InvariantId]),
    /// Every reachable state must satisfy every invariant.
    Holds,
    /// The scenario does not apply (no THP, say).
    NotApplicable(&'static str),
}

/// One catalogue entry.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    /// Stable id (`race-002`).
    pub id: &'static str,
    /// One-line title.
    pub title: &'static str,
    /// The variants (kernel versions of the code path) it runs.
    pub variants: &'static [&'static str],
    /// The invariants checked.
    pub invariants: &'static [InvariantId],
    /// Expectation per backend and variant.
    pub expect: fn(&dyn DynBackend, &str) -> Expectation,
}

/// Knobs for tests and benchmarks: test-only mutations of the fixed code, and size. A report
/// records them with each trace (a knob missing from an older report takes its default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "cli",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct Knobs {
    /// Split without the TLB flush after `pmdp_invalidate`.
    pub split_skips_tlb_flush: bool,
    /// `zap_huge_pmd` without the pmd lock.
    pub zap_huge_unlocked: bool,
    /// The huge fault frees its preallocated table instead of depositing it.
    pub fault_frees_deposit: bool,
    /// Extra huge-mapped regions the zap also covers (benchmarks: 0, 1, 3, 7).
    pub extra_regions: u8,
    /// Leave out the fault thread and the MMU (benchmarks: 2 threads).
    pub threads: Option<u8>,
    /// The v6.12 split clears an anonymous THP's pmd (`pmdp_huge_clear_flush`, as its
    /// zero-page branch does) instead of invalidating it.
    pub split_clears_pmd: bool,
    /// Race 003: munmap "downgrades" by `mmap_write_unlock` then `mmap_read_lock`.
    pub munmap_downgrade_by_unlock: bool,
    /// Race 003 `vm-dead`: the fault path forgets the `VM_DEAD` check.
    pub fault_ignores_vm_dead: bool,
    /// Race 000-B: the file fault allocates its table in `finish_fault`, under the page
    /// lock, whatever the variant.
    pub fault_allocates_under_page_lock: bool,
    /// Race 001-B `v6.12`: the write never faults the buffer in (`fault_in_iov_iter_readable`).
    pub write_skips_fault_in: bool,
    /// Race 001-A `v6.12`: `filemap_fault` skips the mapping and `i_size` recheck under the
    /// page lock.
    pub fault_skips_mapping_recheck: bool,
    /// Race 001-B `v6.12`: the copy runs with page faults enabled, under the folio lock.
    pub write_copy_faults: bool,
    /// Race 001-B `v6.12`: `write_end` commits the whole length after a short copy.
    pub write_commits_short_copy: bool,
    /// Race 001-A `2.6.22` (tests only): `do_no_page` skips its `truncate_count` recheck.
    pub nopage_skips_truncate_count: bool,
    /// Race 000-A `v6.12`: `do_set_pmd` does not recheck `pmd_none` under the pmd lock.
    pub do_set_pmd_skips_recheck: bool,
    /// Race 004 `v6.12`: `collapse_file` skips the `userfaultfd_missing` check.
    pub collapse_skips_uffd_check: bool,
    /// Race 004 `v6.12`: `collapse_file`'s rollback leaves its retry entries in the holes.
    pub collapse_rollback_keeps_retry: bool,
    /// `pin-migrate` `v6.12`: `try_to_migrate_one` shares the page before `ptep_clear_flush`.
    pub migrate_shares_before_clear: bool,
    /// `fork-pin` `v6.12`: `pin_user_pages_fast` skips its `write_protect_seq` sample and
    /// recheck.
    pub gup_fast_skips_write_protect_seq: bool,
    /// `fork-pin` `v6.12`: fork's `folio_try_dup_anon_rmap_pte` ignores pins.
    pub fork_ignores_pins: bool,
}

impl Knobs {
    /// Returns the regions the race-002 scenarios map: one plus `extra_regions`.
    ///
    /// # Errors
    /// More regions than the machine models (a hand-edited report may ask for 255 extra).
    pub fn regions(&self) -> Result<u8, ScenarioError> {
        let asked = 1 + usize::from(self.extra_regions);
        if asked > MAX_PMDS {
            return Err(ScenarioError::TooManyRegions {
                asked,
                max: MAX_PMDS,
            });
        }
        Ok(asked as u8)
    }
}

const RACE_002_INVARIANTS: &[InvariantId] = &[
    InvariantId::NEVER_NONE,
    InvariantId::DONTNEED,
    InvariantId::TABLE_LIFE,
    InvariantId::DEPOSIT,
    InvariantId::TLB_SMALL_HUGE,
    InvariantId::DEADLOCK,
    InvariantId::LOCK_BALANCE,
];

const RACE_002_GUP_INVARIANTS: &[InvariantId] = &[
    InvariantId::DECODE,
    InvariantId::NEVER_NONE,
    InvariantId::TABLE_LIFE,
    InvariantId::DEPOSIT,
    InvariantId::DEADLOCK,
    InvariantId::LOCK_BALANCE,
];

/// Every catalogue entry.
pub const CATALOGUE: &[Entry] = &[
    Entry {
        id: "race-002",
        title: "THP split vs MADV_DONTNEED zap: pmdp_invalidate must not empty the pmd (2016)",
        variants: &["v4.5", "v6.12"],
        invariants: RACE_002_INVARIANTS,
        expect: |b, v| {
            if !b.geometry().has_thp {
                Expectation::NotApplicable("no transparent huge pages")
            } else if v == V6_12 && historical(b.id()) {
                Expectation::NotApplicable(HISTORICAL_UNDER_V6_12)
            } else if b.id() == ArchId::ArmLpaeV4_5 {
                Expectation::Violation(&[InvariantId::NEVER_NONE, InvariantId::DONTNEED])
            } else {
                Expectation::Holds
            }
        },
    },
    Entry {
        id: "race-002-gup",
        title: "THP split vs GUP-fast: a lockless reader must not take an invalidated pmd's pfn",
        variants: &["v4.5", "v6.12"],
        invariants: RACE_002_GUP_INVARIANTS,
        expect: |b, v| {
            if !b.geometry().has_thp {
                Expectation::NotApplicable("no transparent huge pages")
            } else if v == V6_12 && historical(b.id()) {
                Expectation::NotApplicable(HISTORICAL_UNDER_V6_12)
            } else if b.id() == ArchId::ArmLpaeV4_5Stored {
                Expectation::Violation(&[InvariantId::DECODE])
            } else if b.id() == ArchId::ArmLpaeV4_5 {
                // The helper's zero: GUP-fast sees pmd_none and falls back, but the split
                // still empties the pmd.
                Expectation::Violation(&[InvariantId::NEVER_NONE])
            } else {
                Expectation::Holds
            }
        },
    },
    Entry {
        id: "prot-none-thp-zap",
        title: "MADV_DONTNEED of a PROT_NONE THP: zap_huge_pmd must find the folio (32-bit ARM LPAE, today)",
        variants: &[V6_12],
        invariants: PROT_NONE_THP_ZAP_INVARIANTS,
        expect: |b, _| {
            today_on_thp(b).unwrap_or(if b.id() == ArchId::ArmLpae {
                // set_pmd_at clears L_PMD_SECT_VALID for PROT_NONE: !pmd_present, and no THP
                // migration on 32-bit ARM, so zap_huge_pmd gets a NULL folio.
                Expectation::Violation(&[InvariantId::ZAP_FOLIO])
            } else {
                Expectation::Holds
            })
        },
    },
    Entry {
        id: "prot-none-zero-split",
        title: "Splitting a PROT_NONE huge zero page: the split must not take the huge zero folio for an anonymous THP (32-bit ARM LPAE, today)",
        variants: &[V6_12],
        invariants: PROT_NONE_ZERO_SPLIT_INVARIANTS,
        expect: |b, _| {
            today_on_thp(b).unwrap_or(if b.id() == ArchId::ArmLpae {
                // The PROT_NONE huge zero pmd is !pmd_present, so is_huge_zero_pmd is false
                // and __split_huge_pmd_locked runs its anonymous branch on the zero folio.
                Expectation::Violation(&[InvariantId::ZERO_FOLIO])
            } else {
                Expectation::Holds
            })
        },
    },
    Entry {
        id: "huge-zero-split",
        title: "Splitting the huge zero page (v6.12 clears its pmd first) vs MADV_DONTNEED, GUP-fast and a read fault",
        variants: &[V6_12],
        invariants: SPLIT_ZAP_GUP_INVARIANTS,
        expect: |b, _| today_on_thp(b).unwrap_or(Expectation::Holds),
    },
    Entry {
        id: "file-thp-split",
        title: "Splitting a shmem THP (v6.12 clears its pmd for good) vs MADV_DONTNEED and GUP-fast",
        variants: &[V6_12],
        invariants: SPLIT_ZAP_GUP_INVARIANTS,
        expect: |b, _| today_on_thp(b).unwrap_or(Expectation::Holds),
    },
    Entry {
        id: "fault-empty-pte",
        title: "Two anonymous faults on one address of an empty pmd: vmf_pte_changed must ask pte_none, not compare with zero (race 000's non-zero empty ptes)",
        variants: &[V6_12, STATIC_ZERO],
        invariants: FAULT_EMPTY_PTE_INVARIANTS,
        expect: |b, v| {
            if historical(b.id()) {
                Expectation::NotApplicable(HISTORICAL_UNDER_V6_12)
            } else if v == STATIC_ZERO && b.empty_pte(fault_empty_pte_addr(b)) != 0 {
                // The slot is empty but not zero: the static comparison says "changed".
                Expectation::Violation(&[InvariantId::VALIDATE])
            } else {
                Expectation::Holds
            }
        },
    },
    Entry {
        id: "race-000-tmpfs",
        title: "Huge tmpfs faults vs a page-table walker: a table exposed, then replaced by a huge pmd (race 000-A, 2016)",
        variants: race_000::TMPFS_VARIANTS,
        invariants: race_000::TMPFS_INVARIANTS,
        expect: |b, v| {
            today_on_thp(b).unwrap_or(if v == race_000::HUGE_TMPFS_2016 {
                Expectation::Violation(race_000::FOUND_TMPFS)
            } else {
                Expectation::Holds
            })
        },
    },
    Entry {
        id: "race-000-tmpfs-uffd",
        title: "A huge tmpfs fault vs UFFDIO_COPY's page-table allocation: do_set_pmd must recheck pmd_none (race 000-A, today)",
        variants: &[V6_12],
        invariants: race_000::TMPFS_INVARIANTS,
        expect: |b, _| today_on_thp(b).unwrap_or(Expectation::Holds),
    },
    Entry {
        id: "race-000-alloc",
        title: "A page-table allocation under a page lock vs writeback: the memcg reclaim deadlock (race 000-B, 2016-2021)",
        variants: race_000::VARIANTS,
        invariants: race_000::INVARIANTS,
        // The fault holds B and waits in reclaim for A's writeback, which waits for B.
        expect: |b, v| any_era(b, v, &[race_000::V4_8, race_000::V5_12], race_000::FOUND),
    },
    Entry {
        id: "race-000-oom",
        title: "A page-table allocation under a page lock vs an exiting OOM victim that munlocks the page (race 000-B, 2016-2021)",
        variants: race_000::OOM_VARIANTS,
        invariants: race_000::INVARIANTS,
        // The fault holds P and waits for the victim's exit, which waits for P.
        expect: |b, v| any_era(b, v, &[race_000::V4_8, race_000::V5_12], race_000::FOUND),
    },
    Entry {
        id: "race-001-invalidate",
        title: "A file fault vs invalidate_inode_pages2: the fault must not map a page the page cache dropped (race 001-A, 2006-2007)",
        variants: race_001::INVALIDATE_VARIANTS,
        invariants: race_001::INVALIDATE_INVARIANTS,
        // find_get_page without the lock; the invalidation never unmapped, so
        // truncate_count did not move.
        expect: |b, v| any_era(b, v, &[race_001::V2_6_22], race_001::FOUND_ORPHAN),
    },
    Entry {
        id: "race-001-truncate",
        title: "A file fault vs truncate: no pte may map a page past the new size once truncate returns (race 001-A, 2006-2007)",
        variants: race_001::INVALIDATE_VARIANTS,
        invariants: race_001::TRUNCATE_INVARIANTS,
        // 2.6.22's truncate_count covers truncation; v6.12 rechecks i_size.
        expect: |b, v| any_era(b, v, &[], &[]),
    },
    Entry {
        id: "race-001-self",
        title: "write() from an mmap of the page it writes: the fault in the copy waits on its own page lock (race 001-B, 2006)",
        variants: race_001::VARIANTS,
        invariants: race_001::INVARIANTS,
        expect: race_001_expect,
    },
    Entry {
        id: "race-001-abba",
        title: "Two write()s, each from an mmap of the other's page, with MADV_DONTNEED: ABBA on two page locks (race 001-B, 2006)",
        variants: race_001::VARIANTS,
        invariants: race_001::INVARIANTS,
        expect: race_001_expect,
    },
    Entry {
        id: "race-001-mmap",
        title: "write() from an mmap while mlock populates the mapping: the page lock and mmap_lock in opposite orders (race 001-B, 2006)",
        variants: race_001::VARIANTS,
        invariants: race_001::INVARIANTS,
        expect: race_001_expect,
    },
    Entry {
        id: "race-001-torn",
        title: "write() whose copy comes back short as truncate takes the buffer's page: no zero-filled bytes committed (race 001-B, 2006)",
        variants: race_001::VARIANTS,
        invariants: race_001::TORN_INVARIANTS,
        expect: |b, v| any_era(b, v, &[race_001::V2006], race_001::FOUND_TORN),
    },
    Entry {
        id: "race-003",
        title: "munmap zapping under mmap_lock read vs mmap(MAP_FIXED) and stack growth (2018-2020)",
        variants: race_003::VARIANTS,
        invariants: race_003::INVARIANTS,
        expect: |b, v| {
            if historical(b.id()) {
                Expectation::NotApplicable(HISTORICAL_UNDER_LATER)
            } else if v == race_003::VM_DEAD {
                // The mmap lands between the zap and the detach; phase 3 removes it.
                Expectation::Violation(race_003::FOUND_VM_DEAD)
            } else if v == race_003::V4_20 {
                // The stack grows under the read lock into the range being freed.
                Expectation::Violation(race_003::FOUND_V4_20)
            } else {
                Expectation::Holds
            }
        },
    },
    Entry {
        id: "race-003-walker",
        title: "A page-table walker that looks its VMA up with find_vma vs munmap freeing the tables under its downgraded lock (race 003, variant C)",
        variants: race_003::WALKER_VARIANTS,
        invariants: race_003::WALKER_INVARIANTS,
        expect: |b, v| any_era(b, v, &[race_003::FIND_VMA], race_003::FOUND_WALKER),
    },
    Entry {
        id: "race-004-uffd",
        title: "khugepaged's collapse_file vs userfaultfd MODE_MISSING: a collapse must not fill a registered hole (race 004, 2023)",
        variants: race_004::VARIANTS,
        invariants: race_004::UFFD_INVARIANTS,
        expect: |b, v| race_004_expect(b, v, race_004::FOUND_UFFD),
    },
    Entry {
        id: "race-004-rollback",
        title: "collapse_file's rollback vs UFFDIO_COPY and a page-cache lookup: nobody may see a folio the collapse takes back (race 004, 2023)",
        variants: race_004::VARIANTS,
        invariants: race_004::ROLLBACK_INVARIANTS,
        expect: |b, v| race_004_expect(b, v, race_004::FOUND_ROLLBACK),
    },
    Entry {
        id: "dontneed-fault-tlb",
        title: "MADV_DONTNEED's deferred TLB flush vs a fault: a CPU may cache a huge and a small translation at once (model finding, today)",
        variants: &[V6_12],
        invariants: DONTNEED_FAULT_TLB_INVARIANTS,
        expect: |b, _| {
            // A finding about v6.12's generic code, the same on every architecture: only
            // the split path orders invalidate, flush, populate.
            today_on_thp(b).unwrap_or(Expectation::Violation(&[InvariantId::TLB_SMALL_HUGE]))
        },
    },
    Entry {
        id: "pin-migrate",
        title: "move_pages vs pin_user_pages_fast and a write fault: a pinned anonymous page stays PageAnonExclusive (the pin protocol of include/linux/rmap.h, today)",
        variants: &[V6_12],
        invariants: PIN_MIGRATE_INVARIANTS,
        expect: |b, v| any_era(b, v, &[], &[]),
    },
    Entry {
        id: "fork-pin",
        title: "fork vs pin_user_pages_fast and a write fault: fork copies a pinned page for the child, and a pin taken during fork's write-protect section lets go (write_protect_seq, today)",
        variants: &[V6_12],
        invariants: FORK_PIN_INVARIANTS,
        expect: |b, v| any_era(b, v, &[], &[]),
    },
];

/// The generic-code version of today's kernel.
pub const V6_12: &str = "v6.12";

/// v6.12's fault with the static all-zero `orig_pte` the 2016 huge-tmpfs review warned
/// against (race 000): the variant that must fail exactly where the empty pte is not zero.
pub const STATIC_ZERO: &str = "static-zero";

/// Why a historical backend is not run under v6.12 generic code.
const HISTORICAL_UNDER_V6_12: &str =
    "historical helpers under v6.12 generic code: no kernel ever ran that pair";

/// Race 001-B on every backend: the 2006 write path deadlocks, v6.12's holds.
fn race_001_expect(b: &dyn DynBackend, v: &str) -> Expectation {
    any_era(b, v, &[race_001::V2006], race_001::FOUND)
}

/// A race that applies to every backend but the historical ones: the `buggy` variants
/// break `found`, the others hold.
fn any_era(
    b: &dyn DynBackend,
    v: &str,
    buggy: &[&str],
    found: &'static [InvariantId],
) -> Expectation {
    if historical(b.id()) {
        Expectation::NotApplicable(HISTORICAL_UNDER_LATER)
    } else if buggy.contains(&v) {
        Expectation::Violation(found)
    } else {
        Expectation::Holds
    }
}

/// Race 004 on every THP backend: `v6.2` breaks `found`, v6.12 holds.
fn race_004_expect(b: &dyn DynBackend, v: &str, found: &'static [InvariantId]) -> Expectation {
    if !b.geometry().has_thp {
        Expectation::NotApplicable("no transparent huge pages: khugepaged never collapses")
    } else if historical(b.id()) {
        Expectation::NotApplicable(HISTORICAL_UNDER_LATER)
    } else if v == race_004::V6_2 {
        Expectation::Violation(found)
    } else {
        Expectation::Holds
    }
}

/// Why a historical backend is not run under another era's generic code (races 000, 001,
/// 003, 004: 2006 to today; LPAE had the v4.5 helpers only in v4.5).
const HISTORICAL_UNDER_LATER: &str =
    "v4.5's LPAE helpers under another kernel's generic code: no kernel ever ran that pair";

/// The n/a of a v6.12-only scenario about THPs: a backend without THP, or a historical one;
/// `None` where it applies.
fn today_on_thp(b: &dyn DynBackend) -> Option<Expectation> {
    if !b.geometry().has_thp {
        Some(Expectation::NotApplicable("no transparent huge pages"))
    } else if historical(b.id()) {
        Some(Expectation::NotApplicable(HISTORICAL_UNDER_V6_12))
    } else {
        None
    }
}

/// Returns whether a backend models a historical kernel's helpers (before the 2016 fix).
fn historical(id: ArchId) -> bool {
    matches!(id, ArchId::ArmLpaeV4_5 | ArchId::ArmLpaeV4_5Stored)
}

const PROT_NONE_THP_ZAP_INVARIANTS: &[InvariantId] = &[
    InvariantId::ZAP_FOLIO,
    InvariantId::DONTNEED,
    InvariantId::TABLE_LIFE,
    InvariantId::DEPOSIT,
    InvariantId::DEADLOCK,
    InvariantId::LOCK_BALANCE,
];

/// Returns the catalogue entry with this id.
pub fn entry(id: &str) -> Option<&'static Entry> {
    CATALOGUE.iter().find(|e| e.id == id)
}

/// Why a catalogue scenario could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// No entry has this id.
    UnknownScenario(String),
    /// The entry has no such variant.
    UnknownVariant(String),
    /// The builder refused.
    Scenario(ScenarioError),
}

impl core::fmt::Display for BuildError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BuildError::UnknownScenario(s) => {
                write!(f, "unknown scenario '{s}'; known: ")?;
                for (i, e) in CATALOGUE.iter().enumerate() {
                    write!(f, "{}{}", if i > 0 { ", " } else { "" }, e.id)?;
                }
                Ok(())
            }
            BuildError::UnknownVariant(v) => write!(f, "unknown variant '{v}'"),
            BuildError::Scenario(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for BuildError {}

impl From<ScenarioError> for BuildError {
    fn from(e: ScenarioError) -> Self {
        BuildError::Scenario(e)
    }
}

fn set(ids: &[InvariantId]) -> InvariantSet {
    ids.iter().fold(InvariantSet::default(), |s, &i| s.with(i))
}

/// Builds catalogue scenario `id` in `variant` for backend `A`.
///
/// # Errors
/// Unknown id or variant, or a backend that cannot express the initial state.
pub fn build<A: PmdOps>(id: &str, variant: &str, knobs: Knobs) -> Result<Scenario<A>, BuildError> {
    let e = entry(id).ok_or_else(|| BuildError::UnknownScenario(id.into()))?;
    if !e.variants.contains(&variant) {
        return Err(BuildError::UnknownVariant(variant.into()));
    }
    let v6_12 = variant == V6_12;
    match id {
        "race-002" if v6_12 => race_002_v6_12::<A>(knobs),
        "race-002" => race_002::<A>(knobs),
        "race-002-gup" if v6_12 => race_002_gup_v6_12::<A>(knobs),
        "race-002-gup" => race_002_gup::<A>(knobs),
        "prot-none-thp-zap" => prot_none_thp_zap::<A>(),
        "huge-zero-split" => huge_zero_split::<A>(),
        "file-thp-split" => file_thp_split::<A>(),
        "fault-empty-pte" => fault_empty_pte::<A>(variant == STATIC_ZERO),
        "prot-none-zero-split" => prot_none_zero_split::<A>(),
        "dontneed-fault-tlb" => dontneed_fault_tlb::<A>(),
        "pin-migrate" => pin_migrate::<A>(knobs),
        "fork-pin" => fork_pin::<A>(knobs),
        "race-003" => race_003::build::<A>(variant, knobs),
        "race-003-walker" => race_003::build_walker::<A>(variant),
        "race-001-invalidate" => race_001::build_invalidate::<A>(variant, knobs),
        "race-000-oom" => {
            let fixed = race_000::table_alloc(variant)? == TableAlloc::Prealloc;
            race_000::build_oom::<A>(variant, knobs, fixed)
        }
        "race-001-truncate" => race_001::build_truncate::<A>(variant, knobs),
        "race-004-uffd" => race_004::build_uffd::<A>(variant, knobs),
        "race-004-rollback" => race_004::build_rollback::<A>(variant, knobs),
        "race-001-self" => race_001::build::<A>(false, variant, knobs, variant == V6_12),
        "race-001-abba" => race_001::build::<A>(true, variant, knobs, variant == V6_12),
        "race-001-torn" => race_001::build_torn::<A>(variant, knobs, variant == V6_12),
        "race-001-mmap" => race_001::build_mmap::<A>(variant, knobs, variant == V6_12),
        "race-000-tmpfs" => race_000::build_tmpfs::<A>(variant, knobs, variant == V6_12),
        "race-000-tmpfs-uffd" => race_000::build_tmpfs_uffd::<A>(knobs),
        "race-000-alloc" => {
            let fixed = race_000::table_alloc(variant)? == TableAlloc::Prealloc;
            race_000::build::<A>(variant, knobs, fixed)
        }
        _ => Err(BuildError::UnknownScenario(id.into())),
    }
}

/// Race 002: a THP mapped by one pmd; a split (`__split_huge_pmd`, v4.5 shape), a
/// MADV_DONTNEED of the region (`zap_pmd_range` with its lockless checks), an anonymous fault,
/// and a CPU whose MMU walks the region twice. The split's `pmdp_invalidate` stores whatever
/// the backend's helpers give: on `arm-lpae-v4.5`, zero.
fn race_002<A: PmdOps>(k: Knobs) -> Result<Scenario<A>, BuildError> {
    let regions = k.regions()?;
    let mut b = ScenarioBuilder::<A>::new("race-002", usize::from(regions));
    for r in 0..regions {
        b = b.huge(r)?;
    }
    let split = SplitHugePmd {
        skip_tlb_flush: k.split_skips_tlb_flush,
        ..SplitHugePmd::new(0)
    };
    let zap = MadvDontneed {
        zap_huge_unlocked: k.zap_huge_unlocked,
        ..MadvDontneed::range(0, regions)
    };
    let fault = AnonFault {
        free_instead_of_deposit: k.fault_frees_deposit,
        ..AnonFault::new(0, 1)
    };
    let threads = k.threads.unwrap_or(4);
    b = b.thread("split", split).thread("zap", zap);
    if threads >= 3 {
        b = b.thread(
            "mmu",
            MmuWalk {
                region: 0,
                slots: [0, 1],
                walks: 2,
            },
        );
    }
    if threads >= 4 {
        b = b.thread("fault", fault);
    }
    Ok(b.invariants(set(RACE_002_INVARIANTS)).build()?)
}

/// Race 002 seen by GUP-fast: a THP split while two GUP-fast walkers take the pages at two
/// addresses of the region. A backend whose invalidated pmd still reads as a present huge pmd
/// must keep its pfn, or GUP-fast hands the caller some other page (`arm-lpae-v4.5-stored`:
/// 0x880, pfn 0).
fn race_002_gup<A: PmdOps>(k: Knobs) -> Result<Scenario<A>, BuildError> {
    let split = SplitHugePmd {
        skip_tlb_flush: k.split_skips_tlb_flush,
        ..SplitHugePmd::new(0)
    };
    let b = ScenarioBuilder::<A>::new("race-002-gup", 1)
        .huge(0)?
        .thread("split", split)
        .thread("gup0", GupFast { region: 0, slot: 0 })
        .thread("gup1", GupFast { region: 0, slot: 1 });
    Ok(b.invariants(set(RACE_002_GUP_INVARIANTS)).build()?)
}

/// Race 002 under v6.12 generic code: `__split_huge_pmd_locked` invalidates and flushes before
/// it withdraws and fills the table, `zap_pmd_range` retries a pmd that `pte_offset_map_lock`
/// could not map and flushes once at `tlb_finish_mmu`, and the fault reads the pmd as v6.12
/// does. Same threads and invariants as the v4.5 shape.
fn race_002_v6_12<A: PmdOps>(k: Knobs) -> Result<Scenario<A>, BuildError> {
    let regions = k.regions()?;
    let mut b = ScenarioBuilder::<A>::new("race-002", usize::from(regions));
    for r in 0..regions {
        b = b.huge(r)?;
    }
    let split = v6_12::split::SplitHugePmd {
        skip_tlb_flush: k.split_skips_tlb_flush,
        clear_instead_of_invalidate: k.split_clears_pmd,
        ..v6_12::split::SplitHugePmd::new(0)
    };
    let threads = k.threads.unwrap_or(4);
    b = b
        .thread("split", split)
        .thread("zap", v6_12::zap::MadvDontneed::range(0, regions));
    if threads >= 3 {
        b = b.thread(
            "mmu",
            MmuWalk {
                region: 0,
                slots: [0, 1],
                walks: 2,
            },
        );
    }
    if threads >= 4 {
        b = b.thread("fault", v6_12::fault::AnonFault::new(0, 1));
    }
    Ok(b.invariants(set(RACE_002_V6_12_INVARIANTS)).build()?)
}

/// Race 002's invariants under v6.12 code, without INV-TLB-SMALL-HUGE: v6.12 keeps that
/// one only across a split, and `dontneed-fault-tlb` shows where MADV_DONTNEED does not.
const RACE_002_V6_12_INVARIANTS: &[InvariantId] = &[
    InvariantId::NEVER_NONE,
    InvariantId::DONTNEED,
    InvariantId::TABLE_LIFE,
    InvariantId::DEPOSIT,
    InvariantId::DEADLOCK,
    InvariantId::LOCK_BALANCE,
];

/// MADV_DONTNEED of a THP (v6.12) while a write fault repopulates the range and a CPU's MMU
/// walks it twice. `zap_huge_pmd` clears the pmd but the mmu_gather flushes only at
/// `tlb_finish_mmu`, under `mmap_lock` read; a fault in between installs a table and a small
/// pte, and the CPU that cached the huge translation caches a small one too.
fn dontneed_fault_tlb<A: PmdOps>() -> Result<Scenario<A>, BuildError> {
    let b = ScenarioBuilder::<A>::new("dontneed-fault-tlb", 1)
        .huge(0)?
        .thread("zap", v6_12::zap::MadvDontneed::new(0))
        .thread(
            "mmu",
            MmuWalk {
                region: 0,
                slots: [0, 1],
                walks: 2,
            },
        )
        .thread("fault", v6_12::fault::AnonFault::new(0, 1));
    Ok(b.invariants(set(DONTNEED_FAULT_TLB_INVARIANTS)).build()?)
}

/// `move_pages(2)` (v6.12) of an exclusive anonymous page mapped writable, while
/// `pin_user_pages_fast` pins it and a write fault touches it. `try_to_migrate_one` clears
/// the pte before `folio_try_share_anon_rmap_pte` asks `folio_maybe_dma_pinned`, and GUP-fast
/// pins before it rechecks the pte: either the move sees the pin and puts the pte back, or
/// GUP-fast sees the pte change and lets go. `migrate_shares_before_clear` swaps the move's
/// order: GUP-fast rechecks the still-mapped writable pte, never asks for
/// `PageAnonExclusive`, and keeps a pin on a page the move shared (INV-PIN-EXCLUSIVE).
fn pin_migrate<A: PmdOps>(k: Knobs) -> Result<Scenario<A>, BuildError> {
    use crate::engine::program::Typed;
    use crate::engine::setup::PteInit;
    let mover = v6_12::migrate::MovePages {
        share_before_clear: k.migrate_shares_before_clear,
        ..v6_12::migrate::MovePages::new(0, 0)
    };
    let b = ScenarioBuilder::<A>::new("pin-migrate", 1)
        .setup(|s| {
            let p = s.page(false)?;
            s.map_pte(0, 0, p, PteInit::WRITTEN)?;
            s.page_anon_exclusive(p, true)
        })
        .thread("move_pages", Typed(mover))
        .thread("pin", v6_12::gup::GupFast::pin(0, 0))
        .thread("write", v6_12::fault::AnonFault::new(0, 0));
    Ok(b.invariants(set(PIN_MIGRATE_INVARIANTS)).build()?)
}

/// `fork(2)` (v6.12) of a process whose exclusive anonymous page is mapped writable, while
/// `pin_user_pages_fast` pins it and a write fault in the parent touches it. Fork holds
/// `write_protect_seq` odd from before it asks `folio_maybe_dma_pinned` until after it has
/// write-protected the parent's pte; GUP-fast samples the count before its walk and rechecks
/// it after: either the pin is taken before fork asks (fork copies the page for the child),
/// or GUP-fast sees the fork and lets go. Without the recheck
/// (`gup_fast_skips_write_protect_seq`), GUP-fast pins between fork's question and its
/// write-protect, finds the pte unchanged and writable, and keeps a pin on a page the child
/// shares (INV-PIN-EXCLUSIVE); so does a fork that ignores pins (`fork_ignores_pins`).
fn fork_pin<A: PmdOps>(k: Knobs) -> Result<Scenario<A>, BuildError> {
    use crate::engine::setup::PteInit;
    let fork = v6_12::fork::Fork {
        ignore_pins: k.fork_ignores_pins,
        ..v6_12::fork::Fork::new(0, 1, 0)
    };
    let pin = v6_12::gup::GupFast {
        skip_write_protect_seq: k.gup_fast_skips_write_protect_seq,
        ..v6_12::gup::GupFast::pin(0, 0)
    };
    let b = ScenarioBuilder::<A>::new("fork-pin", 2)
        .region_in(1, 1)
        .setup(|s| {
            let p = s.page(false)?;
            s.map_pte(0, 0, p, PteInit::WRITTEN)?;
            s.page_anon_exclusive(p, true)
        })
        .thread("fork", fork)
        .thread("pin", pin)
        .thread("write", v6_12::fault::AnonFault::new(0, 0));
    Ok(b.invariants(set(FORK_PIN_INVARIANTS)).build()?)
}

const FORK_PIN_INVARIANTS: &[InvariantId] = &[
    InvariantId::PIN_EXCLUSIVE,
    InvariantId::DECODE,
    InvariantId::VALIDATE,
    InvariantId::TABLE_LIFE,
    InvariantId::DEADLOCK,
    InvariantId::LOCK_BALANCE,
];

const PIN_MIGRATE_INVARIANTS: &[InvariantId] = &[
    InvariantId::PIN_EXCLUSIVE,
    InvariantId::DECODE,
    InvariantId::VALIDATE,
    InvariantId::TABLE_LIFE,
    InvariantId::DEADLOCK,
    InvariantId::LOCK_BALANCE,
];

const DONTNEED_FAULT_TLB_INVARIANTS: &[InvariantId] = &[
    InvariantId::TLB_SMALL_HUGE,
    InvariantId::DONTNEED,
    InvariantId::TABLE_LIFE,
    InvariantId::DEPOSIT,
    InvariantId::DEADLOCK,
    InvariantId::LOCK_BALANCE,
];

/// Race 002 seen by v6.12's GUP-fast (routing on `pmd_present` and `pmd_leaf`, the pmd and
/// the pte rechecked separately) against the v6.12 split.
fn race_002_gup_v6_12<A: PmdOps>(k: Knobs) -> Result<Scenario<A>, BuildError> {
    let split = v6_12::split::SplitHugePmd {
        skip_tlb_flush: k.split_skips_tlb_flush,
        ..v6_12::split::SplitHugePmd::new(0)
    };
    let b = ScenarioBuilder::<A>::new("race-002-gup", 1)
        .huge(0)?
        .thread("split", split)
        .thread("gup0", v6_12::gup::GupFast::new(0, 0))
        .thread("gup1", v6_12::gup::GupFast::new(0, 1));
    Ok(b.invariants(set(RACE_002_GUP_INVARIANTS)).build()?)
}

/// A THP that `mprotect(PROT_NONE)` has made inaccessible, then MADV_DONTNEED of it (v6.12
/// `zap_pmd_range` → `zap_huge_pmd`), while a second thread splits it (`__split_huge_pmd`,
/// as an rmap walk or a partial munmap would). On 32-bit ARM LPAE the PROT_NONE huge pmd is
/// `!pmd_present` (set_pmd_at clears L_PMD_SECT_VALID) and `pmd_trans_huge`, so the zap takes
/// the "Non present huge pmd without pmd migration enabled!" branch and dereferences a NULL
/// folio: the crash reproduced on real kernels by `ci/kernel-test`.
fn prot_none_thp_zap<A: PmdOps>() -> Result<Scenario<A>, BuildError> {
    let b = ScenarioBuilder::<A>::new("prot-none-thp-zap", 1)
        .protection(Protection::None)
        .huge(0)?
        .thread("zap", v6_12::zap::MadvDontneed::new(0));
    Ok(b.invariants(set(PROT_NONE_THP_ZAP_INVARIANTS)).build()?)
}

/// The huge zero page a read fault mapped, split by `__split_huge_pmd` (v6.12's
/// `__split_huge_zero_page_pmd`: `pmdp_huge_clear_flush` first, the table of special zero
/// ptes populated after) while MADV_DONTNEED zaps the region, GUP-fast reads one address and
/// a read fault touches another. The pmd reads as none mid-split, by design: nothing
/// anonymous is mapped, a zap that skips the none pmd leaves only zero pages behind, and
/// every reader that finds it none refaults or falls back. INV-002-NEVERNONE as v6.12 states
/// it holds; a stronger "never none while split" would not (tests/v6_12.rs shows both).
fn huge_zero_split<A: PmdOps>() -> Result<Scenario<A>, BuildError> {
    let b = ScenarioBuilder::<A>::new("huge-zero-split", 1)
        .huge_zero(0)?
        .thread("split", v6_12::split::SplitHugePmd::new(0))
        .thread("zap", v6_12::zap::MadvDontneed::new(0))
        .thread("gup", v6_12::gup::GupFast::new(0, 0))
        .thread("read", v6_12::fault::AnonFault::read(0, 1));
    Ok(b.invariants(set(SPLIT_ZAP_GUP_INVARIANTS)).build()?)
}

/// The invariants of a v6.12 split raced by MADV_DONTNEED and GUP-fast (`huge-zero-split`,
/// `file-thp-split`).
const SPLIT_ZAP_GUP_INVARIANTS: &[InvariantId] = &[
    InvariantId::NEVER_NONE,
    InvariantId::DONTNEED,
    InvariantId::DECODE,
    InvariantId::TABLE_LIFE,
    InvariantId::DEPOSIT,
    InvariantId::DEADLOCK,
    InvariantId::LOCK_BALANCE,
];

/// A read fault's huge zero page made PROT_NONE by `mprotect` (`change_huge_pmd` rewrites the
/// zero pmd like any other), then split by a MADV_DONTNEED or munmap of part of it
/// (`zap_pmd_range` → `__split_huge_pmd`). On 32-bit ARM LPAE the PROT_NONE pmd is
/// `!pmd_present`, so `is_huge_zero_pmd` (which asks `pmd_present`) is false and the split
/// runs its anonymous branch on the huge zero folio: `folio_ref_add(HPAGE_PMD_NR - 1)`,
/// `folio_add_anon_rmap_ptes`, ptes that are not special. Zapping those ptes later puts
/// HPAGE_PMD_NR references: one more than the split added, the huge zero folio's own.
fn prot_none_zero_split<A: PmdOps>() -> Result<Scenario<A>, BuildError> {
    let b = ScenarioBuilder::<A>::new("prot-none-zero-split", 1)
        .protection(Protection::None)
        .huge_zero(0)?
        .thread("split", v6_12::split::SplitHugePmd::new(0));
    Ok(b.invariants(set(PROT_NONE_ZERO_SPLIT_INVARIANTS)).build()?)
}

const PROT_NONE_ZERO_SPLIT_INVARIANTS: &[InvariantId] = &[
    InvariantId::ZERO_FOLIO,
    InvariantId::NEVER_NONE,
    InvariantId::TABLE_LIFE,
    InvariantId::DEPOSIT,
    InvariantId::DEADLOCK,
    InvariantId::LOCK_BALANCE,
];

/// A shmem THP mapped by `do_set_pmd` (a deposited table only where the architecture needs
/// one: powerpc's hash MMU), split by `__split_huge_pmd` (v6.12's non-anonymous branch:
/// `pmdp_huge_clear_flush`, `zap_deposited_table` there, `folio_remove_rmap_pmd`, `folio_put`;
/// the pmd stays none and the page cache refaults it) while MADV_DONTNEED zaps the region and
/// GUP-fast reads two addresses.
fn file_thp_split<A: PmdOps>() -> Result<Scenario<A>, BuildError> {
    let b = ScenarioBuilder::<A>::new("file-thp-split", 1)
        .file_backed()
        .huge_file(0)?
        .thread("split", v6_12::split::SplitHugePmd::new(0))
        .thread("zap", v6_12::zap::MadvDontneed::new(0))
        .thread("gup0", v6_12::gup::GupFast::new(0, 0))
        .thread("gup1", v6_12::gup::GupFast::new(0, 1));
    Ok(b.invariants(set(SPLIT_ZAP_GUP_INVARIANTS)).build()?)
}

/// The address the `fault-empty-pte` faults touch: page 1 of region 0 (nios2's empty pte
/// depends on the address, and is zero at page 0).
fn fault_empty_pte_addr(b: &dyn DynBackend) -> u64 {
    let g = b.geometry();
    g.pmd_size() + g.page_size()
}

/// Two anonymous write faults at one address (page 1) of a region whose pmd is empty (no THP,
/// so every backend runs it) while MADV_DONTNEED zaps the region: both faults take the "no
/// table at entry" path (`vmf->pte = NULL`, `FAULT_FLAG_ORIG_PTE_VALID` clear), one installs
/// the table, the zap may empty the slot again (`pte_clear`), and each fault must decide under
/// the pte lock whether the slot is still empty — `pte_none`, which is not a zero word on
/// s390, xtensa and `scrambled` (fresh tables too), or on nios2 and um once a zap has cleared
/// the slot (their fresh tables are zeroed pages). `static_zero` compares with zero instead.
fn fault_empty_pte<A: PmdOps>(static_zero: bool) -> Result<Scenario<A>, BuildError> {
    let fault = v6_12::fault::AnonFault {
        huge: false,
        orig_pte_static_zero: static_zero,
        ..v6_12::fault::AnonFault::new(0, 1)
    };
    let b = ScenarioBuilder::<A>::new("fault-empty-pte", 1)
        .thread("fault0", fault)
        .thread("fault1", fault)
        .thread("zap", v6_12::zap::MadvDontneed::new(0));
    Ok(b.invariants(set(FAULT_EMPTY_PTE_INVARIANTS)).build()?)
}

const FAULT_EMPTY_PTE_INVARIANTS: &[InvariantId] = &[
    InvariantId::VALIDATE,
    InvariantId::TABLE_LIFE,
    InvariantId::DEADLOCK,
    InvariantId::LOCK_BALANCE,
];
