//! `m1-loom [--model m1|m2|m3] --threads T --pmds N --variant fixed|buggy [--preemptions K]
//! [--outcomes FILE]`: exhaust M1 (the default), M2 or M3 with loom and print one JSON line.

use m1_loom::{Model, Variant, check_model};
use std::process::exit;

fn usage() -> ! {
    eprintln!(
        "usage: m1-loom [--model m1|m2|m3] --threads T --pmds N --variant fixed|buggy [--preemptions K] [--outcomes FILE]"
    );
    exit(2)
}

/// Points fd 2 at /dev/null while it lives, and back at the original on drop, so that nothing loom
/// or the buggy model's panic writes there gets between the caller and the one JSON line.
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

fn main() {
    let mut model = Model::M1;
    let mut threads = None;
    let mut pmds = None;
    let mut variant = None;
    let mut preemptions = None;
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
            "--preemptions" => {
                preemptions = Some(val().parse::<usize>().unwrap_or_else(|_| usage()))
            }
            "--outcomes" => outcomes = Some(val()),
            _ => usage(),
        }
    }
    let (Some(threads), Some(pmds), Some(variant)) = (threads, pmds, variant) else {
        usage()
    };
    if !(1..=4).contains(&threads) || pmds == 0 {
        usage();
    }
    let bound = preemptions.or_else(|| std::env::var("LOOM_MAX_PREEMPTIONS").ok()?.parse().ok());

    if outcomes.is_some() {
        m1_loom::RECORD.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    std::panic::set_hook(Box::new(|_| {}));
    let quiet = QuietStderr::new();
    let out = check_model(model, threads, pmds, variant, preemptions);
    drop(quiet);
    if let Some(path) = outcomes {
        let set = m1_loom::OUTCOMES.lock().unwrap();
        let text: String = set.iter().map(|o| format!("{o}\n")).collect();
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("m1-loom: cannot write {path}: {e}");
            exit(1);
        }
    }

    let mode = match bound {
        Some(k) => format!("model, {k} preemption{}", if k == 1 { "" } else { "s" }),
        None => "model".to_string(),
    };
    println!(
        "{{\"tool\":\"loom\",\"mode\":\"{mode}\",\"model\":\"{}\",\"threads\":{threads},\"pmds\":{pmds},\"variant\":\"{}\",\"verdict\":\"{}\",\"states\":null,\"transitions\":null,\"executions\":{},\"cx_len\":null,\"seconds\":{:.6}}}",
        model.name(),
        match variant {
            Variant::Fixed => "fixed",
            Variant::Buggy => "buggy",
        },
        if out.violated { "violated" } else { "holds" },
        out.executions,
        out.seconds
    );
}
