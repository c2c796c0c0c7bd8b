//! Race 001-B (`write()` from an mmap of the same file) on every backend: the 2006 write path
//! deadlocks on its own page lock and ABBA with a second writer, each cycle naming the page
//! locks; v6.12's `generic_perform_write` holds; INV-001-LOCKORDER and INV-001-PROGRESS are
//! not vacuous.

mod common;

use std::collections::{BTreeSet, HashSet};

use common::{broken, is_historical};
use pgtable::PmdOps;
use pgtable::arch::{ArchVisitor, visit_all};
use pgtable::engine::explore::{Options, Search, Verdict, explore};
use pgtable::engine::invariant::InvariantId;
use pgtable::engine::locks::LockName;
use pgtable::engine::trace::replay;
use pgtable::scenario::race_001::{self, LOCKORDER, NOORPHAN, PROGRESS};
use pgtable::scenario::{Expectation, Knobs, V6_12, build, entry};

fn watched<A: PmdOps>(abba: bool, variant: &str, knobs: Knobs) -> pgtable::engine::Scenario<A> {
    race_001::build::<A>(abba, variant, knobs, true).expect("race 001-B builds")
}

/// Under emulation (the cross matrix) the two-writer scenario (~10^5 states a variant) runs
/// on the first backend only; on the host, on every one.
struct EveryBackend {
    abba_runs: usize,
}

impl ArchVisitor for EveryBackend {
    fn visit<A: PmdOps>(&mut self) {
        if is_historical(A::ID) {
            return;
        }
        let emulated = std::env::var_os("PGTABLE_EMULATED").is_some();
        let abbas: &[bool] = if emulated && self.abba_runs > 0 {
            &[false]
        } else {
            &[false, true]
        };
        self.abba_runs += usize::from(abbas.len() == 2);
        // Every search on the small one; the two-writer one with sleep sets, and with every
        // search on two backends below.
        for &abba in abbas {
            for &variant in race_001::VARIANTS {
                let sc = watched::<A>(abba, variant, Knobs::default());
                let out = common::exhaust(&sc, Search::DepthFirst, true);
                let expected: BTreeSet<&str> = if variant == race_001::V2006 {
                    [InvariantId::DEADLOCK.id(), LOCKORDER.id].into()
                } else {
                    BTreeSet::new()
                };
                assert_eq!(broken(&out), expected, "{} abba={abba} {variant}", A::ID);
                if !abba {
                    for search in [Search::DepthFirst, Search::BreadthFirst] {
                        let other = common::exhaust(&sc, search, false);
                        assert_eq!(broken(&other), expected);
                    }
                }
            }
        }
    }
}

#[test]
fn the_2006_write_deadlocks_and_v6_12_holds_on_every_backend() {
    let mut v = EveryBackend { abba_runs: 0 };
    visit_all(&mut v);
    assert!(v.abba_runs > 0);
}

fn searches_agree<A: PmdOps>() {
    for &variant in race_001::VARIANTS {
        let sc = watched::<A>(true, variant, Knobs::default());
        let runs = [
            common::exhaust(&sc, Search::DepthFirst, false),
            common::exhaust(&sc, Search::DepthFirst, true),
            common::exhaust(&sc, Search::BreadthFirst, false),
        ];
        for out in &runs {
            assert_eq!(broken(out), broken(&runs[0]), "{variant}");
        }
        assert_eq!(runs[0].stats.states, runs[2].stats.states, "{variant}");
    }
}

#[test]
fn every_search_agrees_on_the_two_writers() {
    searches_agree::<pgtable::arch::X86_64>();
    searches_agree::<pgtable::arch::S390>();
}

struct Catalogue;

impl ArchVisitor for Catalogue {
    fn visit<A: PmdOps>(&mut self) {
        let b = pgtable::arch::lookup(A::ID.name()).unwrap();
        for id in ["race-001-self", "race-001-abba"] {
            let e = entry(id).unwrap();
            for &v in race_001::VARIANTS {
                let exp = (e.expect)(b, v);
                if is_historical(A::ID) {
                    assert!(matches!(exp, Expectation::NotApplicable(_)));
                    continue;
                }
                let sc = build::<A>(id, v, Knobs::default()).unwrap();
                match (exp, explore(&sc, Options::default()).verdict) {
                    (Expectation::Holds, Verdict::Holds) => {}
                    (Expectation::Violation(_), Verdict::Violated(cx)) => {
                        assert_eq!(cx.invariant, InvariantId::DEADLOCK, "{} {id}", A::ID);
                        let cycle: HashSet<LockName> = cx.wait_for.iter().copied().collect();
                        let expected: HashSet<LockName> = if id == "race-001-self" {
                            // The writer waits for the page lock it holds.
                            [LockName::PageLock(0)].into()
                        } else {
                            [LockName::PageLock(0), LockName::PageLock(1)].into()
                        };
                        assert_eq!(cycle, expected, "{} {id}", A::ID);
                        replay(&sc, &cx.schedule).unwrap();
                    }
                    (exp, got) => panic!("{} {id} {v}: expected {exp:?}, got {got:?}", A::ID),
                }
            }
        }
    }
}

#[test]
fn the_catalogue_cells_show_each_cycle_by_page_lock() {
    visit_all(&mut Catalogue);
}

type A = pgtable::arch::X86_64;

#[test]
fn a_short_copy_retried_without_fault_in_breaks_progress() {
    let knobs = Knobs {
        write_skips_fault_in: true,
        ..Knobs::default()
    };
    let sc = watched::<A>(true, V6_12, knobs);
    let out = common::exhaust(&sc, Search::DepthFirst, true);
    assert!(broken(&out).contains(PROGRESS.id), "{:?}", broken(&out));
    // The zap is what makes the copy short: the retries do happen in the fixed code.
    let fixed = watched::<A>(true, V6_12, Knobs::default());
    let Verdict::Holds = explore(&fixed, Options::default()).verdict else {
        panic!("v6.12 breaks something");
    };
}

#[test]
fn the_2006_write_faults_with_its_page_locked() {
    let sc = watched::<A>(false, race_001::V2006, Knobs::default());
    let Verdict::Violated(cx) = explore(&sc, Options::default()).verdict else {
        panic!("2006 holds");
    };
    assert_eq!(cx.invariant, LOCKORDER.id());
    let trace = replay(&sc, &cx.schedule).unwrap();
    assert!(
        trace
            .steps
            .iter()
            .any(|s| s.label.contains("copy_from_user")),
        "{trace}"
    );
}

struct Invalidate;

impl ArchVisitor for Invalidate {
    fn visit<A: PmdOps>(&mut self) {
        if is_historical(A::ID) {
            return;
        }
        for &variant in race_001::INVALIDATE_VARIANTS {
            let sc = race_001::build_invalidate::<A>(variant, Knobs::default()).unwrap();
            let expected: BTreeSet<&str> = if variant == race_001::V2_6_22 {
                [NOORPHAN.id].into()
            } else {
                BTreeSet::new()
            };
            assert_eq!(
                common::broken_under_every_search(&sc),
                expected,
                "{} {variant}",
                A::ID
            );
        }
    }
}

#[test]
fn the_2_6_22_fault_maps_a_page_the_invalidation_dropped_and_v6_12_does_not() {
    visit_all(&mut Invalidate);
}

#[test]
fn the_orphan_comes_from_an_unmoved_truncate_count() {
    let sc = build::<A>("race-001-invalidate", race_001::V2_6_22, Knobs::default()).unwrap();
    let Verdict::Violated(cx) = explore(&sc, Options::default()).verdict else {
        panic!("2.6.22 holds");
    };
    assert_eq!(cx.invariant, NOORPHAN.id());
    let trace = replay(&sc, &cx.schedule).unwrap();
    let labels: Vec<&str> = trace.steps.iter().map(|s| s.label).collect();
    let unmoved = labels
        .iter()
        .position(|l| l.contains("truncate_count unchanged"))
        .expect("the fault installs");
    let unmapped_check = labels
        .iter()
        .position(|l| *l == "page_mapped: no")
        .expect("the invalidation finds it unmapped");
    assert!(unmapped_check < unmoved, "{labels:?}");
}

#[test]
fn a_filemap_fault_without_its_recheck_maps_an_orphan() {
    let knobs = Knobs {
        fault_skips_mapping_recheck: true,
        ..Knobs::default()
    };
    let sc = race_001::build_invalidate::<A>(V6_12, knobs).unwrap();
    let out = common::exhaust(&sc, Search::DepthFirst, true);
    assert!(broken(&out).contains(NOORPHAN.id), "{:?}", broken(&out));
}

/// Race 001-A against truncate: 2.6.22's `truncate_count` and v6.12's `i_size` recheck both
/// hold on every backend under every search; each protection removed breaks INV-001-TRUNC.
struct Truncation;

impl ArchVisitor for Truncation {
    fn visit<A: PmdOps>(&mut self) {
        let b = pgtable::arch::lookup(A::ID.name()).unwrap();
        for &v in race_001::INVALIDATE_VARIANTS {
            let exp = (entry("race-001-truncate").unwrap().expect)(b, v);
            if is_historical(A::ID) {
                assert!(matches!(exp, Expectation::NotApplicable(_)));
                continue;
            }
            assert_eq!(exp, Expectation::Holds);
            let sc = build::<A>("race-001-truncate", v, Knobs::default()).unwrap();
            assert!(
                common::broken_under_every_search(&sc).is_empty(),
                "{} {v}",
                A::ID
            );
        }
    }
}

#[test]
fn fault_vs_truncate_holds_in_2_6_22_and_v6_12_on_every_backend() {
    visit_all(&mut Truncation);
}

#[test]
fn each_truncation_protection_removed_breaks_trunc() {
    type A = pgtable::arch::Nios2;
    let no_sequence = Knobs {
        nopage_skips_truncate_count: true,
        ..Knobs::default()
    };
    let no_recheck = Knobs {
        fault_skips_mapping_recheck: true,
        ..Knobs::default()
    };
    for (v, k) in [(race_001::V2_6_22, no_sequence), (V6_12, no_recheck)] {
        let sc = build::<A>("race-001-truncate", v, k).unwrap();
        let found = common::broken_under_every_search(&sc);
        assert!(found.contains(race_001::TRUNC.id), "{v}: {found:?}");
    }
}

/// The `mmap_lock` form of race 001-B: the 2006 writer holds its page and its fault waits
/// for `mmap_sem`, which 2.6.18's `mlock` holds for write while its population waits for
/// the page; v6.12 holds on every backend; the 2006 copy under v6.12's `mlock` still breaks
/// INV-001-LOCKORDER.
struct MmapCycle;

impl ArchVisitor for MmapCycle {
    fn visit<A: PmdOps>(&mut self) {
        if is_historical(A::ID) {
            return;
        }
        for &v in race_001::VARIANTS {
            let sc = race_001::build_mmap::<A>(v, Knobs::default(), true).unwrap();
            let truth = common::broken_under_every_search(&sc);
            let expected: BTreeSet<&str> = if v == race_001::V2006 {
                [InvariantId::DEADLOCK.id(), LOCKORDER.id].into()
            } else {
                BTreeSet::new()
            };
            assert_eq!(truth, expected, "{} {v}", A::ID);
        }
        let sc = build::<A>("race-001-mmap", race_001::V2006, Knobs::default()).unwrap();
        let Verdict::Violated(cx) = explore(&sc, Options::default()).verdict else {
            panic!("2006 holds");
        };
        assert_eq!(cx.invariant, InvariantId::DEADLOCK);
        let cycle: HashSet<LockName> = cx.wait_for.iter().copied().collect();
        assert_eq!(
            cycle,
            [LockName::MmapLock(0), LockName::PageLock(0)].into(),
            "{}",
            A::ID
        );
        replay(&sc, &cx.schedule).unwrap();
    }
}

#[test]
fn the_2006_write_and_mlock_deadlock_on_mmap_lock_and_v6_12_holds() {
    visit_all(&mut MmapCycle);
}

#[test]
fn a_copy_under_the_page_lock_beside_todays_mlock_breaks_lockorder() {
    use pgtable::engine::ScenarioBuilder;
    use pgtable::engine::ops::mlock::{MlockPopulate, MlockShape};
    use pgtable::engine::ops::perform_write::{PerformWrite, WriteShape};
    type A = pgtable::arch::Um;
    let writer = PerformWrite {
        fault_under_page_lock: Some(&LOCKORDER),
        ..PerformWrite::new(0, 0, 1, 1, WriteShape::CopyUnderPageLock)
    };
    let sc = ScenarioBuilder::<A>::new("copy-under-lock", 1)
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
                shape: MlockShape::V6_12,
            },
        )
        .invariant(&LOCKORDER)
        .build()
        .unwrap();
    let found = common::broken_under_every_search(&sc);
    assert!(found.contains(LOCKORDER.id), "{found:?}");
}

/// Race 001-B's torn write: 2006's `copy_from_user` zero-fills what a failed fault could not
/// copy and `commit_write` commits it; v6.12 commits only what was copied and returns
/// `-EFAULT`; on every backend, under every search; committing a short copy whole breaks
/// INV-001-NOTORN in v6.12.
struct Torn;

impl ArchVisitor for Torn {
    fn visit<A: PmdOps>(&mut self) {
        if is_historical(A::ID) {
            return;
        }
        for &v in race_001::VARIANTS {
            let sc = race_001::build_torn::<A>(v, Knobs::default(), v == V6_12).unwrap();
            let truth = common::broken_under_every_search(&sc);
            let expected: BTreeSet<&str> = if v == race_001::V2006 {
                [race_001::NOTORN.id].into()
            } else {
                BTreeSet::new()
            };
            assert_eq!(truth, expected, "{} {v}", A::ID);
        }
    }
}

#[test]
fn the_2006_short_copy_commits_zeros_and_v6_12_does_not_on_every_backend() {
    visit_all(&mut Torn);
}

#[test]
fn committing_a_short_copy_whole_in_v6_12_breaks_notorn() {
    type A = pgtable::arch::Xtensa;
    let k = Knobs {
        write_commits_short_copy: true,
        ..Knobs::default()
    };
    let sc = build::<A>("race-001-torn", V6_12, k).unwrap();
    assert!(common::broken_under_every_search(&sc).contains(race_001::NOTORN.id));
}

/// Every race 001-B scenario has a one-line mutation of v6.12 its invariants catch: no
/// fault-in (INV-001-PROGRESS) everywhere, and a copy with page faults enabled under the
/// folio lock (INV-001-LOCKORDER) wherever the buffer can be unmapped under the write.
#[test]
fn each_write_scenario_catches_todays_write_path_mutated() {
    type A = pgtable::arch::Scrambled;
    let no_fault_in = Knobs {
        write_skips_fault_in: true,
        ..Knobs::default()
    };
    let copy_faults = Knobs {
        write_copy_faults: true,
        ..Knobs::default()
    };
    for id in [
        "race-001-self",
        "race-001-abba",
        "race-001-mmap",
        "race-001-torn",
    ] {
        let sc = build::<A>(id, V6_12, no_fault_in).unwrap();
        let out = common::exhaust(&sc, Search::DepthFirst, true);
        assert!(
            broken(&out).contains(PROGRESS.id),
            "{id}: {:?}",
            broken(&out)
        );
    }
    for id in ["race-001-abba", "race-001-torn"] {
        let sc = build::<A>(id, V6_12, copy_faults).unwrap();
        let out = common::exhaust(&sc, Search::DepthFirst, true);
        assert!(
            broken(&out).contains(LOCKORDER.id),
            "{id}: {:?}",
            broken(&out)
        );
    }
}
