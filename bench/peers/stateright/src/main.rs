//! `m1-stateright [--model m1|m2|m3] --threads T --pmds N --variant fixed|buggy --workers W`
//!
//! Runs `M.checker().threads(W).finish_when(HasDiscoveries::Any).spawn_bfs().join()` and
//! prints one JSON line on stdout (the counterexample, if any, goes to stderr), where `M` is
//! [`M1`] (the default), [`M2`] (`--model m2`, printed as `"model":"M2"`) or [`M3`]
//! (`--model m3`, printed as `"model":"M3"`):
//!
//! - `states`: `unique_state_count()`;
//! - `transitions`: `state_count()`, i.e. states *generated*, repeats included (the initial
//!   state plus one per transition taken), which for a complete run is transitions + 1;
//! - `cx_len`: the counterexample's README steps: stateright's discovery path ends in the
//!   state where the violating lockless read is enabled (the property is a state predicate),
//!   so this is that path's actions + 1 for the read itself (see the crate docs);
//! - `property`: the violated property's name (`nevernone`; M3 also `table-life`), or null;
//! - `seconds`: wall time from spawning the checker to `join()` returning.
//!
//! With W > 1 stateright's BFS is not strictly breadth-first, so a counterexample may be
//! longer than the shortest one; a stopped (violated) run's counts are partial.

use std::process::ExitCode;

use m1_stateright::{M1, M2, M3, Variant, check};

fn usage() -> ExitCode {
    eprintln!(
        "usage: m1-stateright [--model m1|m2|m3] --threads T --pmds N --variant fixed|buggy \
         --workers W"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut model = "m1";
    let mut threads: Option<u8> = None;
    let mut pmds: Option<u8> = None;
    let mut variant: Option<Variant> = None;
    let mut workers: usize = 1;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let Some(value) = args.next() else {
            return usage();
        };
        match flag.as_str() {
            "--model" => {
                model = match value.as_str() {
                    "m1" => "m1",
                    "m2" => "m2",
                    "m3" => "m3",
                    _ => return usage(),
                }
            }
            "--threads" => threads = value.parse().ok(),
            "--pmds" => pmds = value.parse().ok(),
            "--variant" => {
                variant = match value.as_str() {
                    "fixed" => Some(Variant::Fixed),
                    "buggy" => Some(Variant::Buggy),
                    _ => return usage(),
                }
            }
            "--workers" => match value.parse() {
                Ok(w) if w >= 1 => workers = w,
                _ => return usage(),
            },
            _ => return usage(),
        }
    }
    let (Some(threads), Some(pmds), Some(variant)) = (threads, pmds, variant) else {
        return usage();
    };
    if !(1..=4).contains(&threads) || !(1..=16).contains(&pmds) {
        eprintln!("threads must be 1..=4, pmds 1..=16");
        return usage();
    }

    let (model, o) = match model {
        "m2" => ("M2", check(M2::new(threads, pmds, variant), workers)),
        "m3" => ("M3", check(M3::new(threads, pmds, variant), workers)),
        _ => ("M1", check(M1::new(threads, pmds, variant), workers)),
    };
    for (k, step) in o.cx.iter().enumerate() {
        eprintln!("cx {}: {step}", k + 1);
    }
    let cx_len = o.cx_len.map_or("null".to_string(), |n| n.to_string());
    let property = o
        .property
        .map_or("null".to_string(), |p| format!("\"{p}\""));
    println!(
        "{{\"tool\":\"stateright\",\"mode\":\"bfs\",\"workers\":{workers},\"model\":\"{model}\",\
         \"threads\":{threads},\"pmds\":{pmds},\"variant\":\"{}\",\"verdict\":\"{}\",\
         \"states\":{},\"transitions\":{},\"cx_len\":{cx_len},\"property\":{property},\
         \"seconds\":{:.6}}}",
        variant.name(),
        if o.violated { "violated" } else { "holds" },
        o.states,
        o.generated,
        o.seconds,
    );
    ExitCode::SUCCESS
}
