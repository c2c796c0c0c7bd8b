//! The benchmark models (`pgtable::scenario::models`), as `bench/peers/` runs them beside
//! SPIN and stateright: the historical encoding breaks M1 with a 4-step counterexample (M2
//! and M3 with 5), a table freed without a grace period breaks M3 (15 steps), every fixed one
//! holds, every search agrees, and the reachable-state counts are the ones the peers count
//! (`bench/peers/expected-states.txt`).

use pgtable::arch::{ArmLpaeV4_5, X86_64};
use pgtable::engine::explore::{Options, Search, Verdict, explore};
use pgtable::engine::invariant::InvariantId;
use pgtable::engine::trace::replay;
use pgtable::engine::{Scenario, ScenarioError};
use pgtable::scenario::models::{M1_NEVERNONE, M2_NEVERNONE, m1, m2, m3};

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

type Build<A> = fn(u8, u8) -> Result<Scenario<A>, ScenarioError>;

/// Every cell holds under every search with `cells`' state counts.
fn holds_with_states(build: Build<X86_64>, cells: &[(u8, u8, u64)]) {
    for &(threads, pmds, states) in cells {
        let sc = build(threads, pmds).expect("builds");
        for opts in searches() {
            let out = explore(&sc, opts);
            assert_eq!(out.verdict, Verdict::Holds, "T{threads}/N{pmds} {opts:?}");
            assert_eq!(out.stats.states, states, "T{threads}/N{pmds} {opts:?}");
        }
    }
}

/// Every search breaks `id`, the trace replays to it, and breadth-first's is `shortest`.
fn breaks_with(build: Build<ArmLpaeV4_5>, id: InvariantId, shortest: &[u8]) {
    for (threads, pmds) in [(2, 1), (3, 2), (4, 2)] {
        let sc = build(threads, pmds).expect("builds");
        for opts in searches() {
            let Verdict::Violated(cx) = explore(&sc, opts).verdict else {
                panic!("T{threads}/N{pmds} {opts:?}: no violation");
            };
            assert_eq!(cx.invariant, id);
            let trace = replay(&sc, &cx.schedule).expect("replays");
            assert_eq!(trace.violation().map(|v| v.0), Some(id), "{trace}");
            if opts.search == Search::BreadthFirst {
                assert_eq!(cx.schedule, shortest, "T{threads}/N{pmds}");
            }
        }
    }
}

#[test]
fn m1_holds_on_a_fixed_encoding_with_the_same_states_under_every_search() {
    holds_with_states(m1::<X86_64>, FIXED_STATES);
}

#[test]
fn m1_breaks_on_the_v4_5_lpae_encoding_with_a_four_step_trace() {
    // split: lock, read, invalidate; zap: the lockless read.
    breaks_with(m1::<ArmLpaeV4_5>, M1_NEVERNONE.id(), &[0, 0, 0, 1]);
}

/// M2's fixed counts, as `expected-states.txt` lists them.
const M2_FIXED_STATES: &[(u8, u8, u64)] = &[
    (2, 1, 33),
    (2, 2, 153),
    (2, 4, 1097),
    (3, 1, 141),
    (3, 2, 1395),
    (4, 1, 649),
    (4, 2, 12563),
];

#[test]
fn m2_holds_on_a_fixed_encoding_with_the_same_states_under_every_search() {
    holds_with_states(m2::<X86_64>, M2_FIXED_STATES);
}

#[test]
fn m2_breaks_on_the_v4_5_lpae_encoding_with_a_five_step_trace() {
    // split: lock, read, invalidate; zap: mmap_read_lock, the lockless read.
    breaks_with(m2::<ArmLpaeV4_5>, M2_NEVERNONE.id(), &[0, 0, 0, 1, 1]);
}

/// M3's fixed counts, as `expected-states.txt` lists them.
const M3_FIXED_STATES: &[(u8, u8, u64)] = &[(2, 2, 133), (3, 1, 150), (3, 2, 766), (4, 1, 596)];

fn m3_fixed(threads: u8, pmds: u8) -> Result<Scenario<X86_64>, ScenarioError> {
    m3(threads, pmds, true)
}

#[test]
fn m3_holds_with_both_grace_periods_with_the_same_states_under_every_search() {
    holds_with_states(m3_fixed, M3_FIXED_STATES);
}

/// The buggy M3 has both bugs: breadth-first finds M2's 5-step trace; a depth-first search
/// may reach the freed table first.
#[test]
fn m3_breaks_on_the_v4_5_lpae_encoding_as_m2_does() {
    let nevernone = M2_NEVERNONE.id();
    for (threads, pmds) in [(2, 1), (3, 2), (4, 2)] {
        let sc = m3::<ArmLpaeV4_5>(threads, pmds, false).expect("builds");
        for opts in searches() {
            let Verdict::Violated(cx) = explore(&sc, opts).verdict else {
                panic!("T{threads}/N{pmds} {opts:?}: no violation");
            };
            assert!([nevernone, InvariantId::TABLE_LIFE].contains(&cx.invariant));
            let trace = replay(&sc, &cx.schedule).expect("replays");
            assert_eq!(
                trace.violation().map(|v| v.0),
                Some(cx.invariant),
                "{trace}"
            );
            if opts.search == Search::BreadthFirst {
                // split: lock, read, invalidate; zap: mmap_read_lock, the lockless read.
                assert_eq!(cx.invariant, nevernone);
                assert_eq!(cx.schedule, [0, 0, 0, 1, 1], "T{threads}/N{pmds}");
            }
        }
    }
}

/// A fixed encoding with no grace period: the walker reads a table the zap freed.
#[test]
fn m3_without_a_grace_period_frees_a_table_the_walker_reads() {
    for (threads, pmds) in [(3, 1), (3, 2), (4, 1)] {
        let sc = m3::<X86_64>(threads, pmds, false).expect("builds");
        for opts in searches() {
            let Verdict::Violated(cx) = explore(&sc, opts).verdict else {
                panic!("T{threads}/N{pmds} {opts:?}: no violation");
            };
            assert_eq!(cx.invariant, InvariantId::TABLE_LIFE);
            let trace = replay(&sc, &cx.schedule).expect("replays");
            assert_eq!(
                trace.violation().map(|v| v.0),
                Some(InvariantId::TABLE_LIFE)
            );
            if opts.search == Search::BreadthFirst {
                assert_eq!(cx.schedule.len(), 15, "T{threads}/N{pmds}\n{trace}");
                let text = trace.to_string();
                assert!(text.contains("pte_free"), "{text}");
                assert!(!text.contains("grace period"), "{text}");
            }
        }
    }
    // With them, the same cells hold.
    assert_eq!(
        explore(&m3::<X86_64>(3, 2, true).unwrap(), Options::default()).verdict,
        Verdict::Holds
    );
}

#[test]
fn m1_refuses_sizes_it_has_no_roles_or_pmds_for() {
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

#[test]
fn m3_refuses_sizes_it_has_no_roles_or_pmds_for() {
    assert_eq!(
        m3::<X86_64>(5, 1, true).err(),
        Some(ScenarioError::TooManyThreads { max: 4 })
    );
    assert!(matches!(
        m3::<X86_64>(2, 9, true).err(),
        Some(ScenarioError::TooManyRegions { .. })
    ));
}

#[test]
fn m2_refuses_sizes_it_has_no_roles_or_pmds_for() {
    assert_eq!(
        m2::<X86_64>(5, 1).err(),
        Some(ScenarioError::TooManyThreads { max: 4 })
    );
    assert!(matches!(
        m2::<X86_64>(2, 9).err(),
        Some(ScenarioError::TooManyRegions { .. })
    ));
}

/// `bench/peers/expected-states.txt`, the counts the peers are checked against, is what the
/// engine counts (every cell small enough for a test).
#[test]
fn the_peers_expected_state_counts_are_the_engines() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/bench/peers/expected-states.txt"
    );
    let text = std::fs::read_to_string(path).expect("bench/peers/expected-states.txt");
    let mut checked = 0;
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.is_empty() {
            continue;
        }
        let [model, t, n, states] = f[..] else {
            panic!("malformed line: {line}");
        };
        let (t, n, states): (u8, u8, u64) = (
            t.parse().unwrap(),
            n.parse().unwrap(),
            states.parse().unwrap(),
        );
        if states > 50_000 {
            continue;
        }
        let sc = match model {
            "m1" => m1::<X86_64>(t, n),
            "m2" => m2::<X86_64>(t, n),
            "m3" => m3::<X86_64>(t, n, true),
            _ => panic!("unknown model {model}"),
        }
        .expect("builds");
        let out = explore(
            &sc,
            Options {
                por: true,
                ..Options::default()
            },
        );
        assert_eq!(out.verdict, Verdict::Holds, "{model} T{t}/N{n}");
        assert_eq!(out.stats.states, states, "{model} T{t}/N{n}");
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} cells checked");
}
