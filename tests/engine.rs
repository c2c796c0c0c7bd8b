//! The engine's machinery on its own: each step program run sequentially against what the
//! kernel function does, the checker's modes, determinism, deadlock detection, and a
//! scenario written by a user of the crate through the public builder.

use pgtable::arch::X86_64;
use pgtable::engine::Tid;
use pgtable::engine::explore::{Options, Search, Verdict, explore};
use pgtable::engine::invariant::{InvariantId, InvariantSet};
use pgtable::engine::mm::{Machine, TableState};
use pgtable::engine::ops::{
    fault::AnonFault, split::SplitHugePmd, walk::MmuWalk, zap::MadvDontneed,
};
use pgtable::engine::program::{Program, Step, Wait};
use pgtable::engine::trace::replay;
use pgtable::engine::{Scenario, ScenarioBuilder, ScenarioError};
use pgtable::scenario::{Knobs, build};
use pgtable::{PmdOps, PteOps};

mod common;
use common::Counter;

type A = X86_64;

/// Runs thread 0 of `sc` alone to completion and returns the final machine.
#[track_caller]
fn run_alone(sc: &Scenario<A>) -> Machine<A> {
    common::run_alone(sc).0
}

fn all() -> InvariantSet {
    InvariantSet::all()
}

// __split_huge_pmd_locked: the pmd ends as a table whose ptes map each subpage; the huge
// page's mapcount moves from the compound map to one per pte.
#[test]
fn split_leaves_a_table_of_subpage_ptes() {
    let sc = ScenarioBuilder::<A>::new("split", 1)
        .huge(0)
        .unwrap()
        .thread("split", SplitHugePmd::new(0))
        .build()
        .unwrap();
    let huge_pfn = A::pmd_pfn(sc.initial.peek_pmd(0));
    let m = run_alone(&sc);
    let pmd = m.peek_pmd(0);
    assert!(!A::pmd_none(pmd) && !A::pmd_trans_huge(pmd) && !A::pmd_bad(pmd));
    let t = m.table_of(pmd).unwrap();
    for slot in 0..2 {
        let pte = m.table(t).ptes[slot];
        assert!(A::pte_present(pte));
        assert_eq!(A::pte_pfn(pte), huge_pfn + slot as u64);
    }
    assert_eq!(m.page(0).mapcount, 2);
    assert_eq!(m.deposited(0), None, "the deposited table was withdrawn");
    assert_eq!(m.pmd_lock_holder(0), None);
    assert_eq!(m.mmap_sem().readers, 0);
}

// zap_huge_pmd: the pmd is emptied with the backend's empty value, the deposited table is
// freed, and MADV_DONTNEED's return is recorded.
#[test]
fn dontneed_of_a_huge_pmd_clears_it_and_frees_the_deposit() {
    let sc = ScenarioBuilder::<A>::new("zap", 1)
        .huge(0)
        .unwrap()
        .thread("zap", MadvDontneed::new(0))
        .build()
        .unwrap();
    let deposited = sc.initial.deposited(0).unwrap();
    let m = run_alone(&sc);
    assert_eq!(m.peek_pmd(0), A::pmd_empty());
    assert_eq!(m.table(deposited).state, TableState::Freed);
    assert_eq!(m.page(0).mapcount, 0);
    assert_eq!(m.dontneed_done(), 1);
}

// zap_pte_range: every present pte is cleared to pte_clear's value for its address.
#[test]
fn dontneed_of_a_table_clears_each_pte() {
    let sc = ScenarioBuilder::<A>::new("zap", 1)
        .table(0)
        .unwrap()
        .thread("zap", MadvDontneed::new(0))
        .build()
        .unwrap();
    let m = run_alone(&sc);
    let t = m.table_of(m.peek_pmd(0)).unwrap();
    for slot in 0..2 {
        assert!(A::pte_none(m.table(t).ptes[slot]));
    }
    assert!(m.allocated_pages().all(|(_, p)| p.mapcount == 0));
}

// do_huge_pmd_anonymous_page: a none pmd becomes a huge pmd with a deposited table.
#[test]
fn fault_on_an_empty_pmd_maps_a_thp_and_deposits_a_table() {
    let sc = ScenarioBuilder::<A>::new("fault", 1)
        .thread("fault", AnonFault::new(0, 1))
        .build()
        .unwrap();
    let m = run_alone(&sc);
    assert!(A::pmd_trans_huge(m.peek_pmd(0)) && A::pmd_present(m.peek_pmd(0)));
    assert_ne!(m.deposited(0), None);
    assert_eq!(m.page(0).mapcount, 1);
}

// __pte_alloc + do_anonymous_page: without a huge page, a table is installed and one pte set.
#[test]
fn fault_without_thp_installs_a_table_and_one_pte() {
    let fault = AnonFault {
        huge: false,
        ..AnonFault::new(0, 1)
    };
    let sc = ScenarioBuilder::<A>::new("fault", 1)
        .thread("fault", fault)
        .build()
        .unwrap();
    let m = run_alone(&sc);
    let t = m.table_of(m.peek_pmd(0)).unwrap();
    assert!(A::pte_none(m.table(t).ptes[0]));
    let pte = m.table(t).ptes[1];
    assert!(A::pte_present(pte) && A::pte_write(pte) && A::pte_dirty(pte));
}

// An MMU walk over a valid huge pmd caches a huge translation.
#[test]
fn mmu_walk_fills_the_tlb_from_a_huge_pmd() {
    let walk = MmuWalk {
        region: 0,
        slots: [0, 1],
        walks: 1,
    };
    let sc = ScenarioBuilder::<A>::new("walk", 1)
        .huge(0)
        .unwrap()
        .thread("mmu", walk)
        .build()
        .unwrap();
    let m = run_alone(&sc);
    assert_eq!(
        m.tlb_entry(0, 0, None),
        Some(A::pmd_pfn(sc.initial.peek_pmd(0)))
    );
}

#[test]
fn exploration_is_deterministic() {
    let sc = build::<A>("race-002", "v4.5", Knobs::default()).unwrap();
    let a = explore(&sc, Options::default());
    let b = explore(&sc, Options::default());
    assert_eq!(
        (a.stats.states, a.stats.transitions),
        (b.stats.states, b.stats.transitions)
    );
    assert_eq!(a.verdict, b.verdict);
}

#[test]
fn partial_order_reduction_keeps_every_state_and_saves_transitions() {
    let sc = build::<A>("race-002", "v4.5", Knobs::default()).unwrap();
    let por = explore(&sc, Options::default());
    let full = explore(
        &sc,
        Options {
            por: false,
            ..Options::default()
        },
    );
    let bfs = explore(
        &sc,
        Options {
            search: Search::BreadthFirst,
            ..Options::default()
        },
    );
    println!(
        "por {:?} / full {:?} / bfs {:?}",
        por.stats, full.stats, bfs.stats
    );
    assert_eq!(
        por.stats.states, full.stats.states,
        "sleep sets prune transitions, not states"
    );
    assert_eq!(bfs.stats.states, full.stats.states);
    assert!(por.stats.transitions < full.stats.transitions);
}

#[test]
fn a_preemption_bound_explores_fewer_states() {
    let sc = build::<A>("race-002", "v4.5", Knobs::default()).unwrap();
    let full = explore(
        &sc,
        Options {
            por: false,
            ..Options::default()
        },
    );
    let bounded = explore(
        &sc,
        Options {
            por: false,
            preemption_bound: Some(1),
            ..Options::default()
        },
    );
    assert_eq!(bounded.verdict, Verdict::Holds);
    assert!(bounded.stats.transitions < full.stats.transitions);
}

#[test]
fn max_states_makes_the_verdict_incomplete() {
    let sc = build::<A>("race-002", "v4.5", Knobs::default()).unwrap();
    let out = explore(
        &sc,
        Options {
            max_states: 10,
            ..Options::default()
        },
    );
    assert_eq!(out.verdict, Verdict::Incomplete);
}

/// A user-written program: takes pmd lock `first`, then pmd lock `second`, then releases both.
struct TwoLocks {
    first: u8,
    second: u8,
}

impl<B: PmdOps> Program<B> for TwoLocks {
    fn name(&self) -> &'static str {
        "two pmd locks"
    }
    fn step(&self, m: &mut Machine<B>, t: Tid) -> Step {
        match m.th(t).pc {
            0 | 1 => {
                let r = if m.th(t).pc == 0 {
                    self.first
                } else {
                    self.second
                };
                if !m.pmd_lock(r, t) {
                    return Step::Blocked(Wait::PmdLock(r));
                }
                let pc = m.th(t).pc + 1;
                m.goto(t, pc);
                Step::Ran("spin_lock(pmd_lock)")
            }
            _ => {
                m.pmd_unlock(self.second, t);
                m.pmd_unlock(self.first, t);
                m.th_mut(t).done = true;
                Step::Ran("spin_unlock both")
            }
        }
    }
}

#[test]
fn an_abba_deadlock_is_reported_with_its_wait_for_cycle() {
    let sc = ScenarioBuilder::<A>::new("abba", 2)
        .thread(
            "t0",
            TwoLocks {
                first: 0,
                second: 1,
            },
        )
        .thread(
            "t1",
            TwoLocks {
                first: 1,
                second: 0,
            },
        )
        .invariants(all())
        .build()
        .unwrap();
    for search in [Search::DepthFirst, Search::BreadthFirst] {
        let Verdict::Violated(cx) = explore(
            &sc,
            Options {
                search,
                ..Options::default()
            },
        )
        .verdict
        else {
            panic!("deadlock not found")
        };
        assert_eq!(cx.invariant, InvariantId::DEADLOCK);
        let mut cycle = cx.wait_cycle.clone();
        cycle.sort();
        assert_eq!(cycle, [0, 1]);
        let trace = replay(&sc, &cx.schedule).unwrap();
        assert_eq!(trace.steps.len(), 2);
    }
}

#[test]
fn bad_scenarios_are_typed_errors() {
    assert!(matches!(
        ScenarioBuilder::<A>::new("x", 9)
            .thread("t", SplitHugePmd::new(0))
            .build(),
        Err(ScenarioError::TooManyRegions { asked: 9, .. })
    ));
    assert!(matches!(
        ScenarioBuilder::<A>::new("x", 1).build(),
        Err(ScenarioError::NoThreads)
    ));
    assert!(matches!(
        ScenarioBuilder::<A>::new("x", 1).huge(3),
        Err(ScenarioError::NoSuchRegion(3))
    ));
    assert!(matches!(
        ScenarioBuilder::<A>::new("x", 1)
            .huge(0)
            .and_then(|b| b.huge(0)),
        Err(ScenarioError::RegionInUse(0))
    ));
    let err = build::<A>("race-999", "v4.5", Knobs::default())
        .err()
        .unwrap();
    assert!(err.to_string().contains("race-002"), "{err}");
}

#[test]
fn a_replay_of_a_wrong_schedule_says_where_it_diverged() {
    let sc = build::<A>("race-002", "v4.5", Knobs::default()).unwrap();
    let err = replay(&sc, &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).unwrap_err();
    assert!(err.to_string().contains("does not reproduce"), "{err}");
}

#[test]
fn empty_ptes_come_from_the_backend() {
    // A fresh table holds what the backend's allocator leaves, tested only with pte_none.
    let sc = ScenarioBuilder::<A>::new("fault", 1)
        .thread(
            "f",
            AnonFault {
                huge: false,
                ..AnonFault::new(0, 0)
            },
        )
        .build()
        .unwrap();
    let m = run_alone(&sc);
    let t = m.table_of(m.peek_pmd(0)).unwrap();
    assert_eq!(
        m.table(t).ptes[1],
        <A as PteOps>::pte_fresh(Machine::<A>::slot_addr(0, 1))
    );
}

// Op structs with a region, slot or range outside the scenario are refused by `build`, naming
// the thread and the value (they used to index out of bounds, overflow a shift or an add).
#[test]
fn ops_outside_the_scenario_are_refused_by_build() {
    use pgtable::engine::ops::gup::GupFast;
    use pgtable::engine::ops::v6_12;
    use pgtable::engine::program::ProgramError;
    let bad = |sc: Result<Scenario<A>, ScenarioError>| match sc {
        Err(ScenarioError::BadThread { thread, error, .. }) => (thread, error),
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(_) => panic!("accepted"),
    };
    let region = |region| ProgramError::Region { region, regions: 1 };
    let slot = |slot| ProgramError::Slot { slot, slots: 2 };
    let one = || ScenarioBuilder::<A>::new("bad", 1).thread("ok", MadvDontneed::new(0));
    assert_eq!(
        bad(one().thread("gup", GupFast { region: 9, slot: 0 }).build()),
        (1, region(9))
    );
    assert_eq!(
        bad(one().thread("gup", v6_12::gup::GupFast::new(0, 2)).build()),
        (1, slot(2))
    );
    assert_eq!(
        bad(one().thread("zap", MadvDontneed::range(250, 10)).build()),
        (1, region(259))
    );
    assert_eq!(
        bad(one().thread("zap", MadvDontneed::range(0, 0)).build()),
        (1, ProgramError::EmptyRange)
    );
    assert_eq!(
        bad(one()
            .thread("zap", v6_12::zap::MadvDontneed::range(0, 2))
            .build()),
        (1, region(1))
    );
    assert_eq!(
        bad(one().thread("fault", AnonFault::new(0, 7)).build()),
        (1, slot(7))
    );
    assert_eq!(
        bad(one()
            .thread("fault", v6_12::fault::AnonFault::new(64, 0))
            .build()),
        (1, region(64))
    );
    assert_eq!(
        bad(one().thread("split", SplitHugePmd::new(200)).build()),
        (1, region(200))
    );
    assert_eq!(
        bad(one()
            .thread("split", v6_12::split::SplitHugePmd::new(1))
            .build()),
        (1, region(1))
    );
    let walk = MmuWalk {
        region: 0,
        slots: [0, 3],
        walks: 1,
    };
    assert_eq!(bad(one().thread("mmu", walk).build()), (1, slot(3)));
}

// A report's knobs asking for more regions than the machine has are refused, not wrapped.
#[test]
fn knobs_asking_for_too_many_regions_are_refused() {
    for extra in [8u8, 200, 255] {
        let knobs = Knobs {
            extra_regions: extra,
            ..Knobs::default()
        };
        for variant in ["v4.5", "v6.12"] {
            let err = build::<A>("race-002", variant, knobs).err().unwrap();
            assert_eq!(
                err.to_string(),
                format!(
                    "the scenario asks for {} regions; the machine models at most 8",
                    usize::from(extra) + 1
                )
            );
        }
    }
    let knobs = Knobs {
        extra_regions: 7,
        ..Knobs::default()
    };
    assert!(build::<A>("race-002", "v4.5", knobs).is_ok());
}

// `max_states` is the most states stored: exactly the reachable count completes, one fewer
// does not, under both searches and on several workers (whose quota is handed out in
// batches, so a worker may wait for another's leftover; run a few times for the timings).
#[test]
fn max_states_equal_to_the_reachable_count_completes() {
    let sc = build::<A>("race-002", "v4.5", Knobs::default()).unwrap();
    let runs = [
        (Search::DepthFirst, 1),
        (Search::BreadthFirst, 1),
        (Search::DepthFirst, 2),
        (Search::DepthFirst, 3),
    ];
    for (search, jobs) in runs.into_iter().chain([(Search::DepthFirst, 2); 8]) {
        let opts = Options {
            search,
            jobs,
            // Every worker from the start: the search is smaller than the default wait.
            helpers_after: 0,
            ..Options::default()
        };
        let full = explore(&sc, opts);
        assert_eq!(full.verdict, Verdict::Holds);
        let n = full.stats.states;
        let exact = explore(
            &sc,
            Options {
                max_states: n,
                ..opts
            },
        );
        assert_eq!((exact.verdict, exact.complete), (Verdict::Holds, true));
        let short = explore(
            &sc,
            Options {
                max_states: n - 1,
                ..opts
            },
        );
        assert_eq!(
            (short.verdict, short.complete),
            (Verdict::Incomplete, false)
        );
        assert_eq!(short.stats.states, n - 1);
    }
}

// A scenario prints its name, threads (with their programs) and invariants, for a user's
// own assertions and logs.
#[test]
fn a_scenario_is_debug() {
    let sc = build::<A>("race-002", "v4.5", Knobs::default()).unwrap();
    let text = format!("{sc:?}");
    for needle in ["race-002", "split", "__split_huge_pmd", "zap", "invariants"] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }
}

/// Race 002 (v6.12) over four regions: big enough for the memory bounds to bite.
fn race_002_with_three_extra_regions() -> Scenario<A> {
    let knobs = Knobs {
        extra_regions: 3,
        ..Knobs::default()
    };
    build::<A>("race-002", "v6.12", knobs).unwrap()
}

/// `max_memory` ends a search larger than the bound with an incomplete verdict that names
/// the bound, before the stored states pass it, under both searches; a bound above what
/// the search needs changes nothing.
#[test]
fn max_memory_ends_a_search_larger_than_the_bound() {
    use pgtable::engine::explore::Bound;
    let sc = race_002_with_three_extra_regions();
    for (search, jobs) in [
        (Search::DepthFirst, 1),
        (Search::BreadthFirst, 1),
        (Search::DepthFirst, 2),
    ] {
        let opts = Options {
            search,
            jobs,
            helpers_after: 0,
            ..Options::default()
        };
        let full = explore(&sc, opts);
        assert_eq!(full.verdict, Verdict::Holds);
        assert_eq!(full.bound, None);
        let max = 64 << 10;
        let small = explore(
            &sc,
            Options {
                max_memory: Some(max),
                ..opts
            },
        );
        assert_eq!(
            (small.verdict.clone(), small.complete, small.bound),
            (Verdict::Incomplete, false, Some(Bound::Memory)),
            "{search:?}"
        );
        assert!(small.stats.states < full.stats.states);
        assert!(
            small.stats.visited_bytes <= max,
            "{}",
            small.stats.visited_bytes
        );
        let roomy = explore(
            &sc,
            Options {
                max_memory: Some(1 << 30),
                ..opts
            },
        );
        assert_eq!(roomy.verdict, Verdict::Holds);
        assert_eq!(roomy.stats.states, full.stats.states);
        let counted = explore(
            &sc,
            Options {
                max_states: 10,
                ..opts
            },
        );
        assert_eq!(counted.bound, Some(Bound::States));
    }
}

/// A bound with no room for the initial state (`max_states` 0, or `max_memory` below what
/// storing it takes: an empty visited table, or breadth-first's first level) stops every
/// search before it stores anything: no state counted, no byte held, on any number of
/// workers. The initial state is still judged (that needs no storage): a violation there is
/// the answer.
#[test]
fn a_bound_with_no_room_for_the_initial_state_stores_nothing_under_every_search() {
    use pgtable::engine::explore::Bound;
    let sc = race_002_with_three_extra_regions();
    let broken = ScenarioBuilder::<A>::new("broken from the start", 1)
        .state_invariant(&ALWAYS_BROKEN, |_| Some("always"))
        .thread("counter", Counter { to: 3 })
        .build()
        .unwrap();
    let mut searches = common::every_search(3).to_vec();
    searches.push(Options {
        jobs: 2,
        helpers_after: 0,
        ..searches[0]
    });
    for opts in searches {
        for (bounded, bound) in [
            (
                Options {
                    max_memory: Some(1024),
                    ..opts
                },
                Bound::Memory,
            ),
            (
                Options {
                    max_memory: Some(0),
                    ..opts
                },
                Bound::Memory,
            ),
            (
                Options {
                    max_states: 0,
                    ..opts
                },
                Bound::States,
            ),
        ] {
            let out = explore(&sc, bounded);
            assert_eq!(
                (
                    out.verdict,
                    out.bound,
                    out.stats.states,
                    out.stats.peak_bytes
                ),
                (Verdict::Incomplete, Some(bound), 0, 0),
                "{bounded:?}"
            );
            let out = explore(&broken, bounded);
            let Verdict::Violated(cx) = out.verdict else {
                panic!("{bounded:?}: {:?}", out.verdict);
            };
            assert_eq!(
                (cx.invariant, cx.schedule.len(), out.stats.states),
                (ALWAYS_BROKEN.id(), 0, 0),
                "{bounded:?}"
            );
        }
    }
}

static ALWAYS_BROKEN: pgtable::engine::invariant::Invariant =
    pgtable::engine::invariant::Invariant::new(
        "INV-USER-ALWAYS-BROKEN",
        "Broken in every state, the initial one included.",
    );

/// [`Stats::peak_bytes`] is what a search needed under `max_memory`: a bound of exactly that
/// completes with the same counts, one byte less ends with the memory bound without holding
/// more than it allows, and breadth-first counts the same bytes on any number of workers.
#[test]
fn a_memory_bound_equal_to_the_peak_completes_and_one_byte_less_stops() {
    use pgtable::engine::explore::Bound;
    let sc = race_002_with_three_extra_regions();
    let mut bfs_peak = None;
    for (search, jobs) in [
        (Search::DepthFirst, 1),
        (Search::BreadthFirst, 1),
        (Search::BreadthFirst, 2),
    ] {
        let opts = Options {
            search,
            jobs,
            ..Options::default()
        };
        let full = explore(&sc, opts);
        assert_eq!(full.verdict, Verdict::Holds);
        let peak = full.stats.peak_bytes;
        assert!(peak >= full.stats.visited_bytes, "{search:?}: {peak}");
        if search == Search::BreadthFirst {
            // A level's machines are counted: far more than the fingerprints.
            assert!(peak > full.stats.visited_bytes * 4, "{peak}");
            assert_eq!(*bfs_peak.get_or_insert(peak), peak, "jobs {jobs}");
        }
        let exact = explore(
            &sc,
            Options {
                max_memory: Some(peak),
                ..opts
            },
        );
        assert_eq!(
            (
                exact.verdict,
                exact.bound,
                exact.stats.states,
                exact.stats.peak_bytes
            ),
            (Verdict::Holds, None, full.stats.states, peak),
            "{search:?} jobs {jobs}"
        );
        let less = explore(
            &sc,
            Options {
                max_memory: Some(peak - 1),
                ..opts
            },
        );
        assert_eq!(
            (less.verdict, less.bound),
            (Verdict::Incomplete, Some(Bound::Memory)),
            "{search:?} jobs {jobs}"
        );
        assert!(less.stats.peak_bytes < peak, "{search:?} jobs {jobs}");
        assert!(less.stats.states < full.stats.states);
    }
}

/// Either search on several workers answers as on one, for every catalogue scenario and
/// variant (the historical ones break, today's hold): the same verdict, counterexample (to the
/// step) and states. Breadth-first is the same search, to the transition; depth-first workers
/// share one visited set, so only a violation (found again on one worker) keeps one worker's
/// transitions and depth.
#[test]
fn every_search_answers_the_same_on_any_number_of_workers() {
    use pgtable::scenario::CATALOGUE;
    for (search, jobs) in [(Search::BreadthFirst, [2, 4]), (Search::DepthFirst, [2, 3])] {
        let mut cells = 0;
        for e in CATALOGUE {
            for &variant in e.variants {
                let Ok(sc) = build::<X86_64>(e.id, variant, Knobs::default()) else {
                    continue;
                };
                let run = |jobs| {
                    explore(
                        &sc,
                        Options {
                            search,
                            jobs,
                            // Two workers from the start; three, the others once the
                            // first has stored 100 states (most scenarios here are smaller
                            // than the default wait).
                            helpers_after: if jobs == 3 { 100 } else { 0 },
                            ..Options::default()
                        },
                    )
                };
                let one = run(1);
                for jobs in jobs {
                    let many = run(jobs);
                    let at = format!("{} {variant}, {search:?} on {jobs} workers", e.id);
                    assert_eq!(one.verdict, many.verdict, "{at}");
                    assert_eq!(one.stats.states, many.stats.states, "{at}");
                    assert_eq!(one.violated, many.violated, "{at}");
                    let same_search = search == Search::BreadthFirst
                        || matches!(one.verdict, Verdict::Violated(_));
                    if same_search {
                        assert_eq!(one.stats.transitions, many.stats.transitions, "{at}");
                        assert_eq!(one.stats.max_depth, many.stats.max_depth, "{at}");
                    }
                }
                cells += 1;
            }
        }
        assert!(cells >= 20, "only {cells} cells built");
    }
}

// --- A search deeper than any thread stack holds. ---

static BELOW_LIMIT: pgtable::engine::invariant::Invariant =
    pgtable::engine::invariant::Invariant::new(
        "INV-USER-BELOW-LIMIT",
        "The counter stays below the limit in ghost cell 1 (0: no limit).",
    );

fn below_limit(m: &Machine<A>) -> Option<&'static str> {
    let limit = m.ghost_get(1);
    (limit != 0 && m.ghost_get(0) >= limit).then_some("the counter reached its limit")
}

fn deep_counter(steps: u64, limit: u64) -> Scenario<A> {
    ScenarioBuilder::<A>::new("deep counter", 1)
        .ghost(1, limit)
        .state_invariant(&BELOW_LIMIT, below_limit)
        .thread("counter", Counter { to: steps })
        .build()
        .unwrap()
}

/// A path of `DEEP` states, searched on a thread whose stack holds a few hundred bytes a
/// level at most: every search keeps its path off the call stack, and a counterexample at
/// the bottom comes back whole.
#[test]
fn a_path_deeper_than_the_thread_stack_is_searched_by_every_search() {
    const DEEP: u64 = 5_000;
    let run = || {
        let sc = |limit| deep_counter(DEEP, limit);
        let mut searches = common::every_search(2).to_vec();
        searches.push(Options {
            jobs: 2,
            helpers_after: 0,
            ..searches[0]
        });
        for opts in searches {
            let out = explore(&sc(0), opts);
            assert_eq!(out.verdict, Verdict::Holds, "{opts:?}");
            assert_eq!(out.stats.states, DEEP + 1, "{opts:?}");
            if opts.search == Search::DepthFirst {
                assert_eq!(u64::from(out.stats.max_depth), DEEP, "{opts:?}");
            }
            let Verdict::Violated(cx) = explore(&sc(DEEP), opts).verdict else {
                panic!("{opts:?}: the limit is reached at the bottom");
            };
            assert_eq!(cx.invariant, BELOW_LIMIT.id(), "{opts:?}");
            assert_eq!(cx.schedule.len() as u64, DEEP, "{opts:?}");
        }
    };
    std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(run)
        .unwrap()
        .join()
        .unwrap();
}

/// `max_memory` counts the depth-first path: 5,000 states in a line need a small visited set
/// but a machine and a frame per depth, so a 1 MiB bound ends the search on one worker or
/// two, where breadth-first, which holds one level, completes. On one worker the path's
/// bytes are in [`Stats::peak_bytes`]: a bound of exactly that completes, one byte less
/// stops.
#[test]
fn a_memory_bound_stops_a_path_deeper_than_it_allows() {
    use pgtable::engine::explore::Bound;
    let sc = deep_counter(5_000, 0);
    let bounded = |search, jobs| Options {
        search,
        jobs,
        helpers_after: 0,
        max_memory: Some(1 << 20),
        ..Options::default()
    };
    for jobs in [1, 2] {
        let out = explore(&sc, bounded(Search::DepthFirst, jobs));
        assert_eq!(
            (out.verdict, out.bound),
            (Verdict::Incomplete, Some(Bound::Memory)),
            "{jobs} workers"
        );
        assert!(out.stats.peak_bytes <= 1 << 20, "{}", out.stats.peak_bytes);
        assert!(out.stats.max_depth < 1_000, "{}", out.stats.max_depth);
    }
    let bfs = explore(&sc, bounded(Search::BreadthFirst, 1));
    assert_eq!((bfs.verdict, bfs.stats.states), (Verdict::Holds, 5_001));

    let full = explore(&sc, Options::default());
    let peak = full.stats.peak_bytes;
    let path = 5_000 * std::mem::size_of::<Machine<A>>() as u64;
    assert!(
        peak > path,
        "{peak} holds the path's {path} bytes of machines"
    );
    let exact = explore(
        &sc,
        Options {
            max_memory: Some(peak),
            ..Options::default()
        },
    );
    assert_eq!(
        (exact.verdict, exact.stats.peak_bytes),
        (Verdict::Holds, peak)
    );
    let less = explore(
        &sc,
        Options {
            max_memory: Some(peak - 1),
            ..Options::default()
        },
    );
    assert_eq!(less.bound, Some(Bound::Memory));
    assert!(less.stats.peak_bytes < peak);
}
