//! `max_memory` bounds the heap a search really takes, not just what it counts: this binary
//! counts every allocation (a global allocator wrapping the system's) and checks that a
//! search under a bound never held more than the bound plus a small fixed allowance, and
//! that an unbounded search's [`Stats::peak_bytes`] is what it held.
//!
//! One test function: the allocator counts the whole process, so nothing may run beside it.
#![cfg(feature = "engine")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use pgtable::arch::X86_64;
use pgtable::engine::explore::{Bound, Options, Outcome, Search, Verdict, explore};
use pgtable::engine::{Scenario, ScenarioBuilder};
use pgtable::scenario::{Knobs, build};

mod common;
use common::Counter;

type A = X86_64;

/// The system allocator, counting the bytes live and the most live at once.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let now = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is passed to `System` unchanged, with the caller's own guarantees;
// the counters only watch. A `GlobalAlloc` is an unsafe trait: there is no safe way to see
// every allocation of the search.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as the caller promised `GlobalAlloc::alloc`.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as the caller promised `GlobalAlloc::alloc_zeroed`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as the caller promised `GlobalAlloc::dealloc`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as the caller promised `GlobalAlloc::realloc`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // Both blocks are live while the old one is copied.
            grew(new_size);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// Runs `explore` and returns its outcome with the most heap it took above what was live
/// before it started.
fn measured(sc: &Scenario<A>, opts: Options) -> (Outcome, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = explore(sc, opts);
    (out, PEAK.load(Ordering::Relaxed) - base)
}

/// What a search may take beside what it counts: its outcome, a counterexample's schedule,
/// worker threads' and the thread pool's bookkeeping.
const ALLOWANCE: usize = 256 << 10;

#[test]
fn a_search_never_takes_more_heap_than_its_memory_bound_allows() {
    let line = ScenarioBuilder::<A>::new("a line of 20,000 states", 1)
        .thread("counter", Counter { to: 20_000 })
        .build()
        .unwrap();
    let knobs = Knobs {
        extra_regions: 3,
        ..Knobs::default()
    };
    let race = build::<A>("race-002", "v6.12", knobs).unwrap();
    let dfs = Options {
        search: Search::DepthFirst,
        por: false,
        audit_footprints: false,
        ..Options::default()
    };
    let searches = [
        ("dfs", dfs),
        ("dfs+por", Options { por: true, ..dfs }),
        (
            "dfs on 2 workers",
            Options {
                jobs: 2,
                helpers_after: 0,
                ..dfs
            },
        ),
        (
            "bfs",
            Options {
                search: Search::BreadthFirst,
                ..dfs
            },
        ),
        (
            "bfs on 2 workers",
            Options {
                search: Search::BreadthFirst,
                jobs: 2,
                ..dfs
            },
        ),
    ];
    for (what, sc) in [("line", &line), ("race 002 + 3 regions", &race)] {
        for (name, opts) in searches {
            let (full, took) = measured(sc, opts);
            assert_eq!(full.verdict, Verdict::Holds, "{what}, {name}");
            let peak = full.stats.peak_bytes as usize;
            // What it counted is what it held, to the allowance.
            assert!(
                took <= peak + ALLOWANCE,
                "{what}, {name}: took {took} bytes, counted a peak of {peak}"
            );
            for bound in [peak / 8, peak / 2, peak - 1] {
                let (out, took) = measured(
                    sc,
                    Options {
                        max_memory: Some(bound as u64),
                        ..opts
                    },
                );
                // Depth-first workers' peak depends on their timing: a bound one byte
                // below one run's may let another complete.
                if opts.jobs == 1 || opts.search == Search::BreadthFirst {
                    assert_eq!(out.bound, Some(Bound::Memory), "{what}, {name}, {bound}");
                }
                assert!(
                    took <= bound + ALLOWANCE,
                    "{what}, {name}: took {took} bytes under a bound of {bound} \
                     (counted {})",
                    out.stats.peak_bytes
                );
            }
        }
    }
}
