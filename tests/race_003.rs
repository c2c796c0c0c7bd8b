//! Race 003 (munmap zapping under `mmap_lock` read, 2018-2020) on every backend it applies
//! to: the three-phase `VM_DEAD` proposal loses a concurrent mmap, v4.20 frees a page table
//! a stack grew into, v5.8 and v6.12 hold; every search agrees; mutations of the fixed code
//! are caught by the invariant they break; the traces show the VMAs a step changed.

mod common;

use std::collections::BTreeSet;

use common::{broken, is_historical};

use pgtable::PmdOps;
use pgtable::arch::{ArchVisitor, visit_all};
use pgtable::engine::explore::{Options, Outcome, Search, Verdict, explore};
use pgtable::engine::invariant::InvariantId;
use pgtable::engine::trace::replay;
use pgtable::scenario::race_003::{self, FREEPGT, INVISIBLE, LIN, RWSEM};
use pgtable::scenario::{Expectation, Knobs, build, entry};

fn exhaust<A: PmdOps>(variant: &str, knobs: Knobs, search: Search, por: bool) -> Outcome {
    common::exhaust(
        &build::<A>("race-003", variant, knobs).expect("race-003 builds"),
        search,
        por,
    )
}

struct EveryBackend;

impl ArchVisitor for EveryBackend {
    fn visit<A: PmdOps>(&mut self) {
        if is_historical(A::ID) {
            return;
        }
        for &variant in race_003::VARIANTS {
            let sc = build::<A>("race-003", variant, Knobs::default()).unwrap();
            let truth = common::broken_under_every_search(&sc);
            let expected: BTreeSet<&str> = match variant {
                race_003::VM_DEAD => [LIN.id].into(),
                race_003::V4_20 => [FREEPGT.id, InvariantId::TABLE_LIFE.id()].into(),
                _ => BTreeSet::new(),
            };
            assert_eq!(truth, expected, "{} {variant}", A::ID);
        }
    }
}

#[test]
fn each_variant_breaks_exactly_its_invariants_on_every_backend_under_every_search() {
    visit_all(&mut EveryBackend);
}

struct Expectations;

impl ArchVisitor for Expectations {
    fn visit<A: PmdOps>(&mut self) {
        let b = pgtable::arch::lookup(A::ID.name()).unwrap();
        let e = entry("race-003").unwrap();
        for &v in race_003::VARIANTS {
            let exp = (e.expect)(b, v);
            if is_historical(A::ID) {
                assert!(matches!(exp, Expectation::NotApplicable(_)), "{}", A::ID);
                continue;
            }
            let sc = build::<A>("race-003", v, Knobs::default()).unwrap();
            let out = explore(&sc, Options::default());
            match (exp, &out.verdict) {
                (Expectation::Holds, Verdict::Holds) => {}
                (Expectation::Violation(ids), Verdict::Violated(cx)) => {
                    assert!(
                        ids.contains(&cx.invariant),
                        "{} {v}: {}",
                        A::ID,
                        cx.invariant
                    );
                    let trace = replay(&sc, &cx.schedule).unwrap();
                    assert_eq!(trace.violation().map(|x| x.0), Some(cx.invariant));
                }
                (exp, got) => panic!("{} {v}: expected {exp:?}, got {got:?}", A::ID),
            }
        }
    }
}

#[test]
fn the_catalogue_expectations_hold_and_every_counterexample_replays() {
    visit_all(&mut Expectations);
}

type A = pgtable::arch::X86_64;

#[test]
fn the_v4_20_trace_shows_the_stack_growing_into_the_range_being_freed() {
    let sc = build::<A>("race-003", race_003::V4_20, Knobs::default()).unwrap();
    let Verdict::Violated(cx) = explore(&sc, Options::default()).verdict else {
        panic!("v4.20 holds");
    };
    assert_eq!(cx.invariant, FREEPGT.id());
    let trace = replay(&sc, &cx.schedule).unwrap();
    let grew = trace
        .steps
        .iter()
        .flat_map(|s| s.vmas.iter().map(move |v| (s.thread_name, v)))
        .find(|(_, v)| v.after.start < v.before.start)
        .expect("a step grows a VMA down");
    assert_eq!(grew.0, "fault");
    assert_eq!((grew.1.before.start, grew.1.after.start), (1, 0));
    let detached = trace
        .steps
        .iter()
        .flat_map(|s| s.vmas.iter())
        .any(|v| v.before.attached && !v.after.attached);
    assert!(detached, "the munmap's detach is shown");
    let text = trace.to_string();
    assert!(text.contains("vma1"), "{text}");
    assert!(text.contains("GROWSDOWN"), "{text}");
}

#[test]
fn munmap_that_drops_the_write_lock_instead_of_downgrading_breaks_rwsem() {
    // One line of the fixed v6.12 munmap: mmap_write_unlock + mmap_read_lock for
    // mmap_write_downgrade. The mmap gets in between.
    let knobs = Knobs {
        munmap_downgrade_by_unlock: true,
        ..Knobs::default()
    };
    let out = exhaust::<A>(pgtable::scenario::V6_12, knobs, Search::DepthFirst, true);
    assert!(broken(&out).contains(RWSEM.id), "{:?}", broken(&out));
    let clean = exhaust::<A>(
        pgtable::scenario::V6_12,
        Knobs::default(),
        Search::DepthFirst,
        true,
    );
    assert!(broken(&clean).is_empty());
}

#[test]
fn a_fault_that_forgets_vm_dead_maps_into_the_dying_range() {
    let knobs = Knobs {
        fault_ignores_vm_dead: true,
        ..Knobs::default()
    };
    let out = exhaust::<A>(race_003::VM_DEAD, knobs, Search::DepthFirst, true);
    assert!(broken(&out).contains(INVISIBLE.id), "{:?}", broken(&out));
    let with_check = exhaust::<A>(
        race_003::VM_DEAD,
        Knobs::default(),
        Search::DepthFirst,
        true,
    );
    assert!(!broken(&with_check).contains(INVISIBLE.id));
}

#[test]
fn a_munmap_range_that_is_empty_is_refused() {
    use pgtable::engine::ScenarioBuilder;
    use pgtable::engine::ops::munmap::{Munmap, MunmapShape};
    let err = ScenarioBuilder::<A>::new("bad", 2)
        .thread("munmap", Munmap::new(1, 1, MunmapShape::V6_12))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("covers no region"), "{err}");
}

struct Walker;

impl ArchVisitor for Walker {
    fn visit<A: PmdOps>(&mut self) {
        if is_historical(A::ID) {
            return;
        }
        for &variant in race_003::WALKER_VARIANTS {
            let sc = race_003::build_walker::<A>(variant).unwrap();
            let expected: BTreeSet<&str> = if variant == race_003::FIND_VMA {
                [InvariantId::TABLE_LIFE.id()].into()
            } else {
                BTreeSet::new()
            };
            assert_eq!(
                common::broken_under_every_search(&sc),
                expected,
                "{} {variant}",
                A::ID
            );
            let catalogue = build::<A>("race-003-walker", variant, Knobs::default()).unwrap();
            if let Verdict::Violated(cx) = explore(&catalogue, Options::default()).verdict {
                let trace = replay(&catalogue, &cx.schedule).unwrap();
                assert!(
                    trace.steps.iter().any(|s| s.label.starts_with("find_vma")),
                    "{trace}"
                );
            }
        }
    }
}

#[test]
fn a_walker_that_trusts_find_vma_walks_a_table_munmap_frees() {
    visit_all(&mut Walker);
}
