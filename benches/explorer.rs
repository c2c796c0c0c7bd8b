//! The explorer on race 002: time to verdict per THP backend (buggy and fixed), with and
//! without partial-order reduction, and how the state space grows with pmds and threads.
//!
//! ```text
//! cargo bench --bench explorer
//! cargo bench --bench explorer -- growth      # one group
//! ```
//!
//! Criterion's time is the time to verdict (one whole `explore`); its throughput line is in
//! transitions (verdict groups) or states (growth group), so `1e9 / throughput` is the
//! ns per transition (or per state). The deterministic counts of each configuration (states,
//! transitions, bytes per stored state, verdict) are printed once before it is measured; the
//! example `explorer_figures` prints them all as a table with states/s and ratios.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pgtable::arch::{ArchVisitor, get, visit_all};
use pgtable::engine::explore::{Options, Outcome, Search, Verdict, explore};
use pgtable::scenario::{Expectation, Knobs, build, entry};
use pgtable::{ArchId, PmdOps};

/// Large configurations stop here and say `Incomplete` rather than run for minutes.
const MAX_STATES: u64 = 2_000_000;

/// What race 002 is for this backend in the catalogue: `buggy` (its historical encoding
/// empties the pmd) or `fixed`; `None` where it does not apply (no THP).
fn kind(id: ArchId) -> Option<&'static str> {
    let (e, b) = entry("race-002").zip(get(id))?;
    match (e.expect)(b, "v4.5") {
        Expectation::Violation(_) => Some("buggy"),
        Expectation::Holds => Some("fixed"),
        Expectation::NotApplicable(_) => None,
    }
}

fn describe(label: &str, out: &Outcome) {
    let v = match &out.verdict {
        Verdict::Holds => "holds".to_string(),
        Verdict::Incomplete => "INCOMPLETE".to_string(),
        Verdict::Violated(cx) => format!(
            "violated {} after {} steps",
            cx.invariant,
            cx.schedule.len()
        ),
    };
    let s = &out.stats;
    eprintln!(
        "{label}: {v}; {} states, {} transitions, {:.1} bytes/state",
        s.states,
        s.transitions,
        s.bytes_per_state()
    );
}

/// Benches one configuration: time to verdict, throughput in `elements(outcome)`.
fn bench_one<A: PmdOps>(
    c: &mut Criterion,
    group: &str,
    name: &str,
    param: &str,
    knobs: Knobs,
    opts: Options,
    elements: fn(&Outcome) -> u64,
) {
    let Ok(sc) = build::<A>("race-002", "v4.5", knobs) else {
        return;
    };
    let first = explore(&sc, opts);
    describe(&format!("{group}/{name}/{param}"), &first);
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(elements(&first)));
    g.bench_function(BenchmarkId::new(name, param), |b| {
        b.iter(|| explore(black_box(&sc), opts).stats.states)
    });
    g.finish();
}

struct Verdicts<'a>(&'a mut Criterion);

impl ArchVisitor for Verdicts<'_> {
    fn visit<A: PmdOps>(&mut self) {
        let Some(kind) = kind(A::ID) else { return };
        // The catalogue run (the real encoding), then a seeded bug that every backend must
        // catch (zap_huge_pmd without the pmd lock): a time to a violation on fixed backends.
        let cases = [
            (kind, Knobs::default()),
            (
                "seeded-bug",
                Knobs {
                    zap_huge_unlocked: true,
                    ..Knobs::default()
                },
            ),
        ];
        for (what, knobs) in cases {
            for (por_name, por, search) in [
                ("por", true, Search::DepthFirst),
                ("no-por", false, Search::DepthFirst),
                ("bfs", false, Search::BreadthFirst),
            ] {
                let opts = Options {
                    search,
                    por,
                    max_states: MAX_STATES,
                    ..Options::default()
                };
                let name = format!("{}/{what}", A::ID);
                bench_one::<A>(self.0, "race002", &name, por_name, knobs, opts, |o| {
                    o.stats.transitions
                });
            }
        }
    }
}

fn verdicts(c: &mut Criterion) {
    visit_all(&mut Verdicts(c));
}

/// Growth is measured on the first backend whose race 002 holds: the whole state space.
struct Growth<'a> {
    c: &'a mut Criterion,
    done: bool,
}

impl ArchVisitor for Growth<'_> {
    fn visit<A: PmdOps>(&mut self) {
        if self.done || kind(A::ID) != Some("fixed") {
            return;
        }
        self.done = true;
        let opts = Options {
            max_states: MAX_STATES,
            ..Options::default()
        };
        let configs: &[(u8, u8)] = &[
            (1, 2),
            (2, 2),
            (4, 2),
            (8, 2),
            (1, 3),
            (1, 4),
            (2, 4),
            (4, 4),
            (8, 4),
        ];
        for &(pmds, threads) in configs {
            let knobs = Knobs {
                extra_regions: pmds - 1,
                threads: Some(threads),
                ..Knobs::default()
            };
            let name = format!("{}/threads={threads}", A::ID);
            let param = format!("pmds={pmds}");
            bench_one::<A>(self.c, "growth", &name, &param, knobs, opts, |o| {
                o.stats.states
            });
        }
    }
}

fn growth(c: &mut Criterion) {
    visit_all(&mut Growth { c, done: false });
}

/// Small samples: the machine is shared, and every configuration is deterministic.
fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(800))
}

criterion_group! {
    name = benches;
    config = config();
    targets = verdicts, growth
}
criterion_main!(benches);
