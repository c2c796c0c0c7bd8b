//! Race 000-B (a page-table allocation under a page lock vs writeback) on every backend: the
//! v4.8 and v5.12 faults deadlock with the writeback, the cycle naming the page lock and A's
//! writeback; v5.0 and v6.12 hold; every search agrees; INV-000-NOALLOC is not vacuous.

mod common;

use std::collections::BTreeSet;

use common::{broken, is_historical};

use pgtable::PmdOps;
use pgtable::arch::{ArchVisitor, visit_all};
use pgtable::engine::explore::{Options, Outcome, Search, Verdict, explore};
use pgtable::engine::invariant::InvariantId;
use pgtable::engine::locks::LockName;
use pgtable::engine::trace::replay;
use pgtable::scenario::race_000::{self, NOALLOC};
use pgtable::scenario::{Expectation, Knobs, build, entry};

fn exhaust<A: PmdOps>(variant: &str, knobs: Knobs, search: Search, por: bool) -> Outcome {
    common::exhaust(
        &race_000::build::<A>(variant, knobs, true).expect("race 000-B builds"),
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
        for &variant in race_000::VARIANTS {
            let runs = [
                exhaust::<A>(variant, Knobs::default(), Search::DepthFirst, false),
                exhaust::<A>(variant, Knobs::default(), Search::DepthFirst, true),
                exhaust::<A>(variant, Knobs::default(), Search::BreadthFirst, false),
            ];
            let truth = broken(&runs[0]);
            for out in &runs {
                assert_eq!(
                    broken(out),
                    truth,
                    "{} {variant}: the searches disagree",
                    A::ID
                );
            }
            assert_eq!(runs[0].stats.states, runs[2].stats.states);
            let expected: BTreeSet<&str> = match variant {
                race_000::V4_8 | race_000::V5_12 => [InvariantId::DEADLOCK.id(), NOALLOC.id].into(),
                _ => BTreeSet::new(),
            };
            assert_eq!(truth, expected, "{} {variant}", A::ID);
        }
    }
}

#[test]
fn the_historical_faults_deadlock_and_allocate_under_the_lock_on_every_backend() {
    visit_all(&mut EveryBackend);
}

struct Catalogue;

impl ArchVisitor for Catalogue {
    fn visit<A: PmdOps>(&mut self) {
        let b = pgtable::arch::lookup(A::ID.name()).unwrap();
        let e = entry("race-000-alloc").unwrap();
        for &v in race_000::VARIANTS {
            let exp = (e.expect)(b, v);
            if is_historical(A::ID) {
                assert!(matches!(exp, Expectation::NotApplicable(_)));
                continue;
            }
            let sc = build::<A>("race-000-alloc", v, Knobs::default()).unwrap();
            let out = explore(&sc, Options::default());
            match (exp, &out.verdict) {
                (Expectation::Holds, Verdict::Holds) => {}
                (Expectation::Violation(_), Verdict::Violated(cx)) => {
                    // The catalogue's historical cells show the deadlock, with its cycle.
                    assert_eq!(cx.invariant, InvariantId::DEADLOCK, "{} {v}", A::ID);
                    assert_eq!(cx.wait_cycle.len(), 2);
                    let waits: Vec<String> = cx.wait_for.iter().map(|l| l.to_string()).collect();
                    assert!(cx.wait_for.contains(&LockName::PageLock(1)), "{waits:?}");
                    assert!(
                        waits.iter().any(|w| w.contains("PG_writeback(A)")),
                        "{waits:?}"
                    );
                    replay(&sc, &cx.schedule).unwrap();
                }
                (exp, got) => panic!("{} {v}: expected {exp:?}, got {got:?}", A::ID),
            }
        }
    }
}

#[test]
fn the_catalogue_cells_show_the_deadlock_cycle_by_lock_name() {
    visit_all(&mut Catalogue);
}

type A = pgtable::arch::X86_64;

#[test]
fn allocating_under_the_page_lock_in_todays_fault_breaks_noalloc_and_deadlocks() {
    let knobs = Knobs {
        fault_allocates_under_page_lock: true,
        ..Knobs::default()
    };
    let out = exhaust::<A>(pgtable::scenario::V6_12, knobs, Search::DepthFirst, true);
    assert!(broken(&out).contains(NOALLOC.id), "{:?}", broken(&out));
    assert!(broken(&out).contains(InvariantId::DEADLOCK.id()));
    // The catalogue's v6.12 cell, mutated, fails on INV-000-NOALLOC first (shortest).
    let sc = build::<A>("race-000-alloc", pgtable::scenario::V6_12, knobs).unwrap();
    let Verdict::Violated(cx) = explore(&sc, Options::default()).verdict else {
        panic!("the mutation holds");
    };
    assert_eq!(cx.invariant, NOALLOC.id());
}

#[test]
fn the_historical_variants_have_no_noalloc_in_the_catalogue_but_break_it_when_asked() {
    let sc = build::<A>("race-000-alloc", race_000::V4_8, Knobs::default()).unwrap();
    assert!(
        sc.declared.is_empty(),
        "the catalogue audits v4.8 for the deadlock"
    );
    let with = race_000::build::<A>(race_000::V4_8, Knobs::default(), true).unwrap();
    let Verdict::Violated(cx) = explore(&with, Options::default()).verdict else {
        panic!("v4.8 holds");
    };
    assert_eq!(cx.invariant, NOALLOC.id());
}

/// The OOM form of race 000-B on every backend: the fault holding P waits for the victim's
/// exit while the victim's munlock waits for P; the cycle names both; v5.0 holds, and
/// allocating under the page lock there breaks INV-000-NOALLOC.
struct Oom;

impl ArchVisitor for Oom {
    fn visit<A: PmdOps>(&mut self) {
        let b = pgtable::arch::lookup(A::ID.name()).unwrap();
        for &v in race_000::OOM_VARIANTS {
            let exp = (entry("race-000-oom").unwrap().expect)(b, v);
            if is_historical(A::ID) {
                assert!(matches!(exp, Expectation::NotApplicable(_)));
                continue;
            }
            let sc = build::<A>("race-000-oom", v, Knobs::default()).unwrap();
            let truth = common::broken_under_every_search(&sc);
            match exp {
                Expectation::Holds => assert!(truth.is_empty(), "{} {v}: {truth:?}", A::ID),
                Expectation::Violation(_) => {
                    assert_eq!(truth, [InvariantId::DEADLOCK.id()].into(), "{} {v}", A::ID);
                    let Verdict::Violated(cx) = explore(&sc, Options::default()).verdict else {
                        panic!("{v} holds");
                    };
                    let names: BTreeSet<String> =
                        cx.wait_for.iter().map(ToString::to_string).collect();
                    assert!(
                        names.iter().any(|n| n.contains("OOM victim exiting")),
                        "{names:?}"
                    );
                    assert!(names.iter().any(|n| n.contains("page lock")), "{names:?}");
                    replay(&sc, &cx.schedule).unwrap();
                }
                Expectation::NotApplicable(why) => panic!("{why}"),
            }
        }
        let k = Knobs {
            fault_allocates_under_page_lock: true,
            ..Knobs::default()
        };
        if !is_historical(A::ID) {
            let sc = build::<A>("race-000-oom", race_000::V5_0, k).unwrap();
            assert!(broken(&common::exhaust(&sc, Search::DepthFirst, true)).contains(NOALLOC.id));
        }
    }
}

#[test]
fn the_oom_victims_munlock_closes_the_cycle_on_every_backend() {
    visit_all(&mut Oom);
}
