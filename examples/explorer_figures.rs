//! Prints the explorer's figures for race 002 as markdown tables: per THP backend, the
//! catalogue run (buggy where the backend's historical encoding is, fixed elsewhere) with and
//! without partial-order reduction, then how the state space grows with pmds and threads.
//!
//! ```text
//! cargo run --release --example explorer_figures
//! cargo run --release --example explorer_figures -- --max-states 2000000 --repeat 5
//! ```
//!
//! Searches: DFS+POR (depth-first with sleep sets, the default), DFS (no partial-order
//! reduction: the baseline of the ratio columns) and BFS (shortest counterexample).
//! Counts (states, transitions, bytes) are deterministic; times are the best of `--repeat`
//! runs (default 10). Ratios are against a baseline measured in the same run: POR against no
//! POR, and growth against 1 pmd / 2 threads.

use std::process::ExitCode;
use std::time::Duration;

use pgtable::arch::{ArchVisitor, visit_all};
use pgtable::engine::explore::{Options, Outcome, Search, Stats, Verdict, explore};
use pgtable::engine::mm::Machine;
use pgtable::scenario::{Expectation, Knobs, build, entry};
use pgtable::{ArchId, PmdOps};

/// Command-line settings.
#[derive(Clone, Copy)]
struct Settings {
    max_states: u64,
    repeat: u32,
}

fn parse_args() -> Result<Settings, String> {
    let mut s = Settings {
        max_states: Options::default().max_states,
        repeat: 10,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| format!("{name} needs a number"))
        };
        match a.as_str() {
            "--max-states" => s.max_states = value("--max-states")?,
            "--repeat" => s.repeat = u32::try_from(value("--repeat")?.clamp(1, 100)).unwrap_or(3),
            "-h" | "--help" => {
                return Err("usage: explorer_figures [--max-states N] [--repeat N]".into());
            }
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    Ok(s)
}

/// Runs `knobs` on `A` `repeat` times; returns the outcome with the shortest elapsed time.
fn best_of<A: PmdOps>(knobs: Knobs, opts: Options, repeat: u32) -> Option<Outcome> {
    let sc = build::<A>("race-002", "v4.5", knobs).ok()?;
    let mut best: Option<Outcome> = None;
    for _ in 0..repeat {
        let out = explore(&sc, opts);
        if best
            .as_ref()
            .is_none_or(|b| out.stats.elapsed < b.stats.elapsed)
        {
            best = Some(out);
        }
    }
    best
}

fn verdict(v: &Verdict) -> String {
    match v {
        Verdict::Holds => "holds".into(),
        Verdict::Incomplete => "INCOMPLETE".into(),
        Verdict::Violated(cx) => format!("{} @{}", cx.invariant, cx.schedule.len()),
    }
}

fn states_per_sec(s: &Stats) -> f64 {
    s.states as f64 / s.elapsed.as_secs_f64().max(1e-9)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The per-backend table: catalogue run, POR and no POR.
struct PerBackend {
    settings: Settings,
    rows: Vec<String>,
    sizes: Vec<String>,
}

impl ArchVisitor for PerBackend {
    fn visit<A: PmdOps>(&mut self) {
        let Some(e) = entry("race-002") else { return };
        let backend = pgtable::arch::get(A::ID);
        let kind = match backend.map(|b| (e.expect)(b, "v4.5")) {
            Some(Expectation::Violation(_)) => "buggy",
            Some(Expectation::Holds) => "fixed",
            _ => return,
        };
        self.sizes.push(format!(
            "{}: a state is {} bytes in memory (cloned per step), stored as an 8-byte fingerprint and a sleep-set byte",
            A::ID,
            std::mem::size_of::<Machine<A>>()
        ));
        // The catalogue run, then a seeded bug every backend must catch (zap_huge_pmd without
        // the pmd lock): a time to a violation on the fixed backends too.
        let seeded = Knobs {
            zap_huge_unlocked: true,
            ..Knobs::default()
        };
        for (kind, knobs) in [(kind, Knobs::default()), ("seeded-bug", seeded)] {
            let mut runs = Vec::new();
            for (mode, por, search) in [
                ("DFS+POR", true, Search::DepthFirst),
                ("DFS", false, Search::DepthFirst),
                ("BFS", false, Search::BreadthFirst),
            ] {
                let opts = Options {
                    search,
                    por,
                    max_states: self.settings.max_states,
                    ..Options::default()
                };
                let Some(out) = best_of::<A>(knobs, opts, self.settings.repeat) else {
                    return;
                };
                runs.push((mode, out));
            }
            let base = runs[1].1.stats;
            for (mode, out) in &runs {
                let s = &out.stats;
                self.rows.push(format!(
                    "| {} | {kind} | {mode} | {} | {} | {} | {:.3} | {:.0} | {:.0} | {:.1} | {:.2} | {:.2} |",
                    A::ID,
                    verdict(&out.verdict),
                    s.states,
                    s.transitions,
                    ms(s.elapsed),
                    states_per_sec(s),
                    s.ns_per_transition(),
                    s.bytes_per_state(),
                    s.transitions as f64 / base.transitions.max(1) as f64,
                    s.elapsed.as_secs_f64() / base.elapsed.as_secs_f64().max(1e-9),
                ));
            }
        }
    }
}

/// The growth table on the first backend whose race-002 holds (the full state space).
struct Growth {
    settings: Settings,
    done: Option<ArchId>,
    rows: Vec<String>,
}

impl ArchVisitor for Growth {
    fn visit<A: PmdOps>(&mut self) {
        if self.done.is_some() || !A::GEOMETRY.has_thp {
            return;
        }
        let holds = entry("race-002")
            .zip(pgtable::arch::get(A::ID))
            .is_some_and(|(e, b)| (e.expect)(b, "v4.5") == Expectation::Holds);
        if !holds {
            return;
        }
        self.done = Some(A::ID);
        let opts = Options {
            max_states: self.settings.max_states,
            ..Options::default()
        };
        let mut sweep = |axis: &str, configs: &[(u8, u8)]| {
            let mut base: Option<Stats> = None;
            for &(pmds, threads) in configs {
                let knobs = Knobs {
                    extra_regions: pmds - 1,
                    threads: Some(threads),
                    ..Knobs::default()
                };
                let Some(out) = best_of::<A>(knobs, opts, self.settings.repeat) else {
                    continue;
                };
                let s = out.stats;
                let b = *base.get_or_insert(s);
                self.rows.push(format!(
                    "| {axis} | {pmds} | {threads} | {} | {} | {} | {:.3} | {:.0} | {:.1} | {:.2} | {:.2} |",
                    verdict(&out.verdict),
                    s.states,
                    s.transitions,
                    ms(s.elapsed),
                    s.ns_per_transition(),
                    s.bytes_per_state(),
                    s.states as f64 / b.states.max(1) as f64,
                    s.elapsed.as_secs_f64() / b.elapsed.as_secs_f64().max(1e-9),
                ));
            }
        };
        sweep("pmds", &[(1, 2), (2, 2), (4, 2), (8, 2)]);
        sweep("pmds", &[(1, 4), (2, 4), (4, 4), (8, 4)]);
        sweep("threads", &[(1, 2), (1, 3), (1, 4)]);
    }
}

fn main() -> ExitCode {
    let settings = match parse_args() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "race-002 v4.5, max_states {}, best of {} runs\n",
        settings.max_states, settings.repeat
    );
    let mut per = PerBackend {
        settings,
        rows: Vec::new(),
        sizes: Vec::new(),
    };
    visit_all(&mut per);
    println!(
        "| backend | kind | search | verdict | states | transitions | ms | states/s | ns/transition | bytes/state | transitions vs DFS | time vs DFS |"
    );
    println!("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &per.rows {
        println!("{r}");
    }
    println!();
    for r in &per.sizes {
        println!("{r}");
    }
    let mut growth = Growth {
        settings,
        done: None,
        rows: Vec::new(),
    };
    visit_all(&mut growth);
    if let Some(id) = growth.done {
        println!("\nGrowth on {id} (POR on; ratios against the first row of each sweep)\n");
        println!(
            "| sweep | pmds | threads | verdict | states | transitions | ms | ns/transition | bytes/state | states vs base | time vs base |"
        );
        println!("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|");
        for r in &growth.rows {
            println!("{r}");
        }
    }
    ExitCode::SUCCESS
}
