//! `m1-shuttle [--model m1|m2|m3] --threads T --pmds N --variant fixed|buggy --scheduler
//! dfs|pct|random [--seeds 20] [--iterations K] [--outcomes FILE]`: check M1 (the default), M2
//! or M3 with shuttle and print one JSON line.
//!
//! `dfs` exhausts once. `pct` (depth 3) and `random` run `--seeds` runs of `--iterations`
//! executions each, seeds 1..=S; `seconds` is the median, over the seeds that found the violation,
//! of the wall time to the first failure (with no seed finding it: the median wall time of a whole
//! run), `executions` the median number of executions up to and including the failing one (or of a
//! whole run), and `found_seeds` how many seeds found it.

use m1_shuttle::{Model, Sched, Variant, run_model};
use std::process::exit;

fn usage() -> ! {
    eprintln!(
        "usage: m1-shuttle [--model m1|m2|m3] --threads T --pmds N --variant fixed|buggy --scheduler dfs|pct|random [--seeds 20] [--iterations 10000] [--outcomes FILE]"
    );
    exit(2)
}

/// Points fd 2 at /dev/null while it lives, and back at the original on drop: shuttle writes the
/// failing task's name to stderr at each failure.
struct QuietStderr(i32);

unsafe extern "C" {
    fn dup(fd: i32) -> i32;
    fn dup2(old: i32, new: i32) -> i32;
    fn close(fd: i32) -> i32;
}

impl QuietStderr {
    fn new() -> Option<Self> {
        use std::os::fd::AsRawFd;
        let null = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .ok()?;
        // SAFETY: plain fd calls on descriptors this process owns.
        unsafe {
            let saved = dup(2);
            if saved < 0 {
                return None;
            }
            if dup2(null.as_raw_fd(), 2) < 0 {
                close(saved);
                return None;
            }
            Some(QuietStderr(saved))
        }
    }
}

impl Drop for QuietStderr {
    fn drop(&mut self) {
        // SAFETY: see `new`.
        unsafe {
            dup2(self.0, 2);
            close(self.0);
        }
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn main() {
    let mut model = Model::M1;
    let mut threads = None;
    let mut pmds = None;
    let mut variant = None;
    let mut sched = None;
    let mut seeds = 20u64;
    let mut iterations = 10_000usize;
    let mut outcomes: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--model" => {
                model = match val().as_str() {
                    "m1" => Model::M1,
                    "m2" => Model::M2,
                    "m3" => Model::M3,
                    _ => usage(),
                }
            }
            "--threads" => threads = val().parse::<usize>().ok(),
            "--pmds" => pmds = val().parse::<usize>().ok(),
            "--variant" => {
                variant = match val().as_str() {
                    "fixed" => Some(Variant::Fixed),
                    "buggy" => Some(Variant::Buggy),
                    _ => usage(),
                }
            }
            "--scheduler" => {
                sched = match val().as_str() {
                    "dfs" => Some(Sched::Dfs),
                    "pct" => Some(Sched::Pct),
                    "random" => Some(Sched::Random),
                    _ => usage(),
                }
            }
            "--seeds" => seeds = val().parse().unwrap_or_else(|_| usage()),
            "--iterations" => iterations = val().parse().unwrap_or_else(|_| usage()),
            "--outcomes" => outcomes = Some(val()),
            _ => usage(),
        }
    }
    let (Some(threads), Some(pmds), Some(variant), Some(sched)) = (threads, pmds, variant, sched)
    else {
        usage()
    };
    if !(1..=4).contains(&threads) || pmds == 0 || seeds == 0 || iterations == 0 {
        usage();
    }

    if outcomes.is_some() {
        m1_shuttle::RECORD.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    std::panic::set_hook(Box::new(|_| {}));
    let quiet = QuietStderr::new();
    let (mode, verdict, executions, seconds, found_seeds) = if sched == Sched::Dfs {
        let out = run_model(model, threads, pmds, variant, sched, 0, 0);
        let verdict = if out.violated { "violated" } else { "holds" };
        (
            "dfs",
            verdict,
            Some(out.executions as f64),
            Some(out.seconds),
            None,
        )
    } else {
        let outs: Vec<_> = (1..=seeds)
            .map(|seed| run_model(model, threads, pmds, variant, sched, iterations, seed))
            .collect();
        let found: Vec<_> = outs.iter().filter(|o| o.violated).collect();
        let pick = if found.is_empty() {
            outs.iter().collect()
        } else {
            found.clone()
        };
        let mode = if sched == Sched::Pct { "pct" } else { "random" };
        let verdict = if found.is_empty() {
            "not found"
        } else {
            "violated"
        };
        (
            mode,
            verdict,
            median(pick.iter().map(|o| o.executions as f64).collect()),
            median(pick.iter().map(|o| o.seconds).collect()),
            Some(found.len()),
        )
    };
    drop(quiet);
    if let Some(path) = outcomes {
        let set = m1_shuttle::OUTCOMES.lock().unwrap();
        let text: String = set.iter().map(|o| format!("{o}\n")).collect();
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("m1-shuttle: cannot write {path}: {e}");
            exit(1);
        }
    }

    let num = |x: Option<f64>, prec: usize| x.map_or("null".to_string(), |x| format!("{x:.prec$}"));
    println!(
        "{{\"tool\":\"shuttle\",\"mode\":\"{mode}\",\"model\":\"{}\",\"threads\":{threads},\"pmds\":{pmds},\"variant\":\"{}\",\"verdict\":\"{verdict}\",\"states\":null,\"transitions\":null,\"executions\":{},\"cx_len\":null,\"seconds\":{},\"found_seeds\":{}}}",
        model.name(),
        match variant {
            Variant::Fixed => "fixed",
            Variant::Buggy => "buggy",
        },
        num(executions.map(f64::round), 0),
        num(seconds, 6),
        found_seeds.map_or("null".to_string(), |k| k.to_string()),
    );
}
