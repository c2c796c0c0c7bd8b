//! M1 (bench/peers/README.md) as concurrent Rust code, checked by shuttle.
//!
//! Every README step is one shuttle operation: a lock (`shuttle::sync::Mutex::lock`), an unlock
//! (the guard's drop, which releases the mutex's semaphore after a scheduling point), a pmd load
//! or a pmd store (`shuttle::sync::atomic::AtomicU8`, `SeqCst`). Shuttle takes its scheduling
//! decision *before* each of these operations (`thread::switch`), so code that runs between two
//! of them without touching a shuttle object belongs to the step before it. The split's
//! position, which the property reads, is a plain `std` atomic that shuttle does not see: the
//! split sets it right after its invalidate store and clears it right after its populate store,
//! and the lockless reads test it right after their load, so publishing and testing it add no
//! scheduling point.
//!
//! Differences from the README's steps, all shuttle's own: `thread::spawn`, the end of each
//! thread and `JoinHandle::join` are scheduling points too.

use shuttle::scheduler::{DfsScheduler, PctScheduler, RandomScheduler};
use shuttle::sync::Mutex;
use shuttle::sync::atomic::AtomicU8;
use shuttle::{Config, Runner};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::time::Instant;

pub const NONE: u8 = 0;
pub const HUGE: u8 = 1;
pub const INVALID: u8 = 2;
pub const TABLE: u8 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Fixed,
    Buggy,
}

impl Variant {
    /// The value the split's invalidate writes.
    pub fn invalid(self) -> u8 {
        match self {
            Variant::Fixed => INVALID,
            Variant::Buggy => NONE,
        }
    }
}

/// When set, each execution that runs to its end adds its outcome to [`OUTCOMES`]: the final pmds
/// and, per thread (split first), the values of all its pmd reads. The set of outcomes is a
/// tool-independent measure of how much of the model an exhaustive check has covered (the
/// `outcomes.py` next to the loom crate enumerates the README model's).
pub static RECORD: AtomicBool = AtomicBool::new(false);

/// The outcomes recorded while [`RECORD`] is set, as `"[pmd..] [[reads of thread 0..], ..]"`.
pub static OUTCOMES: std::sync::Mutex<BTreeSet<String>> = std::sync::Mutex::new(BTreeSet::new());

/// Executions started so far (the model closure bumps it once per execution).
pub static EXECUTIONS: AtomicUsize = AtomicUsize::new(0);

struct State {
    pmd: Vec<AtomicU8>,
    lock: Vec<Mutex<()>>,
    /// `i + 1` while the split is at `(i, 3)`, else 0. Not a shuttle object: no scheduling point.
    split_at: AtomicU16,
}

impl State {
    /// The property, at a lockless read of `pmd[i]` that returned `v`.
    fn check(&self, i: usize, v: u8) {
        let split_at_populate_of_i = self.split_at.load(Ordering::SeqCst) as usize == i + 1;
        assert!(
            !(v == NONE && split_at_populate_of_i),
            "INV-M1-NEVERNONE violated: lockless read of pmd[{i}] saw NONE while the split is at ({i}, 3)"
        );
    }

    fn split(&self, invalid: u8) -> Vec<u8> {
        let mut r = Vec::new();
        for i in 0..self.pmd.len() {
            let guard = self.lock[i].lock().unwrap(); // step 0: lock i
            let v = self.pmd[i].load(Ordering::SeqCst); // step 1: read
            r.push(v);
            if v == HUGE {
                self.pmd[i].store(invalid, Ordering::SeqCst); // step 2: invalidate
                self.split_at.store(i as u16 + 1, Ordering::SeqCst); // (same step) now at (i, 3)
                self.pmd[i].store(TABLE, Ordering::SeqCst); // step 3: populate
                self.split_at.store(0, Ordering::SeqCst); // (same step) left (i, 3)
            }
            drop(guard); // step 4: unlock i, next pmd
        }
        r
    }

    fn zap(&self) -> Vec<u8> {
        let mut r = Vec::new();
        for i in 0..self.pmd.len() {
            let v = self.pmd[i].load(Ordering::SeqCst); // step 0: lockless read
            r.push(v);
            self.check(i, v);
            if v == NONE {
                continue; // next pmd
            }
            let guard = self.lock[i].lock().unwrap(); // step 1: lock i
            let w = self.pmd[i].load(Ordering::SeqCst); // step 2: read
            r.push(w);
            if w == HUGE {
                self.pmd[i].store(NONE, Ordering::SeqCst); // step 3: clear
            }
            drop(guard); // step 4: unlock i, next pmd
        }
        r
    }

    fn fault(&self) -> Vec<u8> {
        let mut r = Vec::new();
        for i in 0..self.pmd.len() {
            let v = self.pmd[i].load(Ordering::SeqCst); // step 0: lockless read
            r.push(v);
            self.check(i, v);
            if v != NONE {
                continue; // next pmd
            }
            let guard = self.lock[i].lock().unwrap(); // step 1: lock i
            let w = self.pmd[i].load(Ordering::SeqCst); // step 2: read
            r.push(w);
            if w == NONE {
                self.pmd[i].store(HUGE, Ordering::SeqCst); // step 3: refault
            }
            drop(guard); // step 4: unlock i, next pmd
        }
        r
    }
}

/// One execution of M1: thread 0 (the split) runs on the main thread, threads 1.. (zap, fault,
/// zap) are spawned before it starts, and the main thread joins them once the split is done.
pub fn m1(threads: usize, pmds: usize, variant: Variant) {
    assert!((1..=4).contains(&threads), "T is 1 to 4");
    assert!(
        (1..=u16::MAX as usize - 1).contains(&pmds),
        "N is at least 1"
    );
    EXECUTIONS.fetch_add(1, Ordering::Relaxed);
    let state = Arc::new(State {
        pmd: (0..pmds).map(|_| AtomicU8::new(HUGE)).collect(),
        lock: (0..pmds).map(|_| Mutex::new(())).collect(),
        split_at: AtomicU16::new(0),
    });
    let handles: Vec<_> = (1..threads)
        .map(|t| {
            let state = Arc::clone(&state);
            shuttle::thread::spawn(move || match t {
                1 | 3 => state.zap(),
                2 => state.fault(),
                _ => unreachable!(),
            })
        })
        .collect();
    let mut reads = vec![state.split(variant.invalid())];
    for h in handles {
        reads.push(h.join().unwrap());
    }
    if RECORD.load(Ordering::Relaxed) {
        // After the joins only the main thread is left: these loads have no alternative.
        let fin: Vec<u8> = state.pmd.iter().map(|p| p.load(Ordering::SeqCst)).collect();
        OUTCOMES
            .lock()
            .unwrap()
            .insert(format!("{fin:?} {reads:?}"));
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sched {
    Dfs,
    Pct,
    Random,
}

/// Outcome of one shuttle run (one scheduler, one seed).
#[derive(Debug)]
pub struct Outcome {
    pub violated: bool,
    /// Executions run, the failing one included.
    pub executions: usize,
    /// Wall time to exhaustion, to the end of the budget, or to the first failure.
    pub seconds: f64,
}

fn config() -> Config {
    let mut config = Config::new();
    // Nobody replays the failure: neither print nor store its schedule.
    config.failure_persistence = shuttle::FailurePersistence::None;
    config
}

/// Run M1 under one shuttle scheduler: `Dfs` exhausts (`iterations` ignored), `Pct` (depth 3)
/// and `Random` run `iterations` executions from `seed`. A panic of the model is the violation:
/// shuttle stops at the first one. Leaves the panic hook as shuttle leaves it.
pub fn run(
    threads: usize,
    pmds: usize,
    variant: Variant,
    sched: Sched,
    iterations: usize,
    seed: u64,
) -> Outcome {
    EXECUTIONS.store(0, Ordering::Relaxed);
    let f = move || m1(threads, pmds, variant);
    let start = Instant::now();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match sched {
        Sched::Dfs => Runner::new(DfsScheduler::new(None, false), config()).run(f),
        Sched::Pct => {
            Runner::new(PctScheduler::new_from_seed(seed, 3, iterations), config()).run(f)
        }
        Sched::Random => {
            Runner::new(RandomScheduler::new_from_seed(seed, iterations), config()).run(f)
        }
    }));
    let seconds = start.elapsed().as_secs_f64();
    Outcome {
        violated: result.is_err(),
        executions: EXECUTIONS.load(Ordering::Relaxed),
        seconds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test function: the runs share the process-wide execution counter and panic hook.
    #[test]
    fn t2_n1() {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let fixed = run(2, 1, Variant::Fixed, Sched::Dfs, 0, 0);
        let dfs = run(2, 1, Variant::Buggy, Sched::Dfs, 0, 0);
        let pct = run(2, 1, Variant::Buggy, Sched::Pct, 10_000, 1);
        let random = run(2, 1, Variant::Buggy, Sched::Random, 10_000, 1);
        RECORD.store(true, Ordering::Relaxed);
        let fixed22 = run(2, 2, Variant::Fixed, Sched::Dfs, 0, 0);
        RECORD.store(false, Ordering::Relaxed);
        std::panic::set_hook(prev);
        // outcomes.py 2 2: the README model has 16 distinct outcomes, and DFS must reach them all.
        assert!(!fixed22.violated, "fixed T=2 N=2 must hold: {fixed22:?}");
        assert_eq!(
            OUTCOMES.lock().unwrap().len(),
            16,
            "shuttle DFS must reach every outcome of T=2 N=2"
        );
        assert!(!fixed.violated, "fixed T=2 N=1 must hold: {fixed:?}");
        assert!(fixed.executions > 1);
        assert!(dfs.violated, "buggy T=2 N=1 must be found by dfs: {dfs:?}");
        assert!(pct.violated, "buggy T=2 N=1 must be found by pct: {pct:?}");
        assert!(
            random.violated,
            "buggy T=2 N=1 must be found by random: {random:?}"
        );
    }
}
