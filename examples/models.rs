//! Runs one benchmark model (`pgtable::scenario::models`: M1, M2 or M3) and prints one JSON line: the
//! verdict, the counterexample's length, the counts and the time. `ci/bench-peers` runs it
//! beside the peers of `bench/peers/`.
//!
//! ```text
//! cargo run --release --example models -- --model m1 --threads 4 --pmds 8 \
//!     --backend x86_64 --search bfs --jobs 2
//! cargo run --release --example models -- --model m3 --threads 3 --pmds 2 --sync false
//! ```
//!
//! `--sync false` builds M3's buggy variant (a table freed without a grace period); M1 and M2
//! have no such choice (their bug is the backend's: `--backend arm-lpae-v4.5`).
//! `--helpers-after N`: with `--jobs` above 1, depth-first search starts its other workers
//! once it has stored N states (`Options::helpers_after`; 0: at once).

use std::process::ExitCode;

use pgtable::arch::{ArchVisitor, visit_one};
use pgtable::engine::explore::{Options, Outcome, Search, Verdict, explore};
use pgtable::scenario::models;
use pgtable::{ArchId, PmdOps};

struct Args {
    model: String,
    sync: bool,
    threads: u8,
    pmds: u8,
    backend: ArchId,
    search: Search,
    por: bool,
    jobs: usize,
    helpers_after: u64,
    max_states: u64,
    max_memory: u64,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        model: "m1".into(),
        sync: true,
        threads: 2,
        pmds: 1,
        backend: ArchId::X86_64,
        search: Search::BreadthFirst,
        por: false,
        jobs: 1,
        helpers_after: pgtable::engine::explore::HELPERS_AFTER,
        max_states: 200_000_000,
        // A bound, not an out-of-memory kill, on this 24 GiB machine.
        max_memory: 12 << 30,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().ok_or_else(|| format!("{k} needs a value"))?;
        let num = |v: &str| v.parse::<u64>().map_err(|e| format!("{k} {v}: {e}"));
        match k.as_str() {
            "--model" => {
                if !["m1", "m2", "m3"].contains(&v.as_str()) {
                    return Err(format!("unknown model '{v}' (m1, m2, m3)"));
                }
                a.model = v;
            }
            "--sync" => {
                a.sync = v
                    .parse()
                    .map_err(|_| format!("--sync {v}: true or false"))?;
            }
            "--threads" => a.threads = u8::try_from(num(&v)?).map_err(|e| e.to_string())?,
            "--pmds" => a.pmds = u8::try_from(num(&v)?).map_err(|e| e.to_string())?,
            "--backend" => {
                a.backend = *ArchId::ALL
                    .iter()
                    .find(|id| id.name() == v)
                    .ok_or_else(|| format!("unknown backend '{v}'"))?;
            }
            "--search" => {
                (a.search, a.por) = match v.as_str() {
                    "bfs" => (Search::BreadthFirst, false),
                    "dfs" => (Search::DepthFirst, false),
                    "dfs-por" => (Search::DepthFirst, true),
                    _ => return Err(format!("unknown search '{v}' (bfs, dfs, dfs-por)")),
                }
            }
            "--jobs" => a.jobs = usize::try_from(num(&v)?).map_err(|e| e.to_string())?,
            "--helpers-after" => a.helpers_after = num(&v)?,
            "--max-states" => a.max_states = num(&v)?,
            "--max-memory-mib" => a.max_memory = num(&v)? << 20,
            _ => return Err(format!("unknown argument '{k}'")),
        }
    }
    Ok(a)
}

struct Run<'a> {
    args: &'a Args,
    out: Option<Result<Outcome, String>>,
}

impl ArchVisitor for Run<'_> {
    fn visit<A: PmdOps>(&mut self) {
        let a = self.args;
        self.out = Some(
            match a.model.as_str() {
                "m3" => models::m3::<A>(a.threads, a.pmds, a.sync),
                "m2" => models::m2::<A>(a.threads, a.pmds),
                _ => models::m1::<A>(a.threads, a.pmds),
            }
            .map(|sc| {
                explore(
                    &sc,
                    Options {
                        search: a.search,
                        por: a.por,
                        jobs: a.jobs,
                        helpers_after: a.helpers_after,
                        max_states: a.max_states,
                        max_memory: Some(a.max_memory),
                        audit_footprints: false,
                        ..Options::default()
                    },
                )
            })
            .map_err(|e| e.to_string()),
        );
    }
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) if !a.sync && a.model != "m3" => {
            eprintln!("models: --sync applies to m3 only");
            return ExitCode::FAILURE;
        }
        Ok(a) => a,
        Err(e) => {
            eprintln!("models: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut run = Run {
        args: &args,
        out: None,
    };
    if !visit_one(args.backend, &mut run) {
        eprintln!("models: backend {} is not built in", args.backend);
        return ExitCode::FAILURE;
    }
    let out = match run.out {
        Some(Ok(o)) => o,
        Some(Err(e)) => {
            eprintln!("models: {e}");
            return ExitCode::FAILURE;
        }
        None => return ExitCode::FAILURE,
    };
    let (verdict, invariant, cx_len) = match &out.verdict {
        Verdict::Holds => ("holds", None, None),
        Verdict::Incomplete => ("incomplete", None, None),
        Verdict::Violated(cx) => ("violated", Some(cx.invariant.id()), Some(cx.schedule.len())),
    };
    let s = out.stats;
    let line = serde_json::json!({
        "tool": "pgtable",
        "model": args.model.to_uppercase(),
        "sync": args.sync,
        "threads": args.threads,
        "pmds": args.pmds,
        "backend": args.backend.to_string(),
        "search": match (args.search, args.por) {
            (Search::BreadthFirst, _) => "bfs",
            (Search::DepthFirst, false) => "dfs",
            (Search::DepthFirst, true) => "dfs-por",
        },
        "jobs": args.jobs,
        "verdict": verdict,
        "invariant": invariant,
        "cx_len": cx_len,
        "states": s.states,
        "transitions": s.transitions,
        "seconds": s.elapsed.as_secs_f64(),
        "ns_per_transition": s.ns_per_transition(),
        "bytes_per_state": s.bytes_per_state(),
        "peak_bytes": s.peak_bytes,
    });
    println!("{line}");
    ExitCode::SUCCESS
}
