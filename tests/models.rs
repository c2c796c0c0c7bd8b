//! The benchmark models (`pgtable::scenario::models`), as `bench/peers/` runs them beside
//! SPIN and stateright: the historical encoding breaks M1 with a 4-step counterexample, every
//! fixed one holds, every search agrees, and the reachable-state counts are the ones the
//! peers count (`bench/peers/expected-states.txt`).

use pgtable::arch::{ArmLpaeV4_5, X86_64};
use pgtable::engine::explore::{Options, Search, Verdict, explore};
use pgtable::engine::invariant::InvariantId;
use pgtable::engine::trace::replay;
use pgtable::scenario::models::{M1_NEVERNONE, m1};

fn searches() -> [Options; 4] {
    let base = Options {
        audit_footprints: true,
        ..Options::default()
    };
    [
        Options {
            search: Search::DepthFirst,
            por: false,
            ..base
        },
        Options {
            search: Search::DepthFirst,
            por: true,
            ..base
        },
        Options {
            search: Search::BreadthFirst,
            ..base
        },
        Options {
            search: Search::BreadthFirst,
            jobs: 2,
            ..base
        },
    ]
}

/// (threads, pmds, reachable states of the fixed model), as `bench/peers/expected-states.txt`
/// lists them.
const FIXED_STATES: &[(u8, u8, u64)] = &[
    (2, 1, 22),
    (2, 2, 99),
    (2, 4, 701),
    (3, 1, 61),
    (3, 2, 625),
    (4, 1, 262),
    (4, 2, 5749),
];

#[test]
fn m1_holds_on_a_fixed_encoding_with_the_same_states_under_every_search() {
    for &(threads, pmds, states) in FIXED_STATES {
        let sc = m1::<X86_64>(threads, pmds).expect("builds");
        for opts in searches() {
            let out = explore(&sc, opts);
            assert_eq!(out.verdict, Verdict::Holds, "T{threads}/N{pmds} {opts:?}");
            assert_eq!(out.stats.states, states, "T{threads}/N{pmds} {opts:?}");
        }
    }
}

#[test]
fn m1_breaks_on_the_v4_5_lpae_encoding_with_a_four_step_trace() {
    let id = InvariantId::Custom(&M1_NEVERNONE);
    for (threads, pmds) in [(2, 1), (3, 2), (4, 2)] {
        let sc = m1::<ArmLpaeV4_5>(threads, pmds).expect("builds");
        for opts in searches() {
            let Verdict::Violated(cx) = explore(&sc, opts).verdict else {
                panic!("T{threads}/N{pmds} {opts:?}: no violation");
            };
            assert_eq!(cx.invariant, id);
            let trace = replay(&sc, &cx.schedule).expect("replays");
            assert_eq!(trace.violation().map(|v| v.0), Some(id), "{trace}");
            if opts.search == Search::BreadthFirst {
                // split: lock, read, invalidate; zap: the lockless read.
                assert_eq!(cx.schedule, [0, 0, 0, 1], "T{threads}/N{pmds}");
            }
        }
    }
}

#[test]
fn m1_refuses_sizes_it_has_no_roles_or_pmds_for() {
    use pgtable::engine::ScenarioError;
    assert_eq!(m1::<X86_64>(0, 1).err(), Some(ScenarioError::NoThreads));
    assert_eq!(
        m1::<X86_64>(5, 1).err(),
        Some(ScenarioError::TooManyThreads { max: 4 })
    );
    assert!(matches!(
        m1::<X86_64>(2, 9).err(),
        Some(ScenarioError::TooManyRegions { .. })
    ));
}
