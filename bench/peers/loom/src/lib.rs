//! M1 (bench/peers/README.md) as concurrent Rust code, checked by loom.
//!
//! Every README step is one loom operation: a lock (`loom::sync::Mutex::lock`), an unlock (the
//! guard's drop), a pmd load or a pmd store (`loom::sync::atomic::AtomicU8`, `SeqCst`). Loom takes
//! its scheduling decision *before* each of these operations (its `branch`), so code that runs
//! between two of them without touching a loom object belongs to the step before it. The split's
//! position, which the property reads, is a plain `std` atomic that loom does not see: the split
//! sets it right after its invalidate store and clears it right after its populate store, and
//! the lockless reads test it right after their load, so publishing and testing it add no
//! scheduling point.
//!
//! Differences from the README's steps, all loom's own:
//! - an unlock is no scheduling point in loom (`MutexGuard::drop` releases without a `branch`),
//!   so it is executed together with the step before it. The next step's decision comes before
//!   that next step as usual, and a lock blocked on the mutex becomes runnable at the release.
//!   No other thread can observe the difference except by locking, and a lock attempt between
//!   the two would only block.
//! - `thread::spawn`, the end of a thread and `JoinHandle::join` are loom operations too.
//! - the pmds are initialised with a `SeqCst` store by the main thread before any spawn (one
//!   scheduling point per pmd with a single runnable thread, so no alternative): loom records
//!   `AtomicU8::new`'s value as a non-`SeqCst` store, and a `SeqCst` load may return it even after
//!   a newer `SeqCst` store of another thread, which would not be the README's sequentially
//!   consistent steps.
//!
//! Coverage: loom 0.7.3's partial-order reduction does not reach every outcome of this code. With
//! `--outcomes` (see [`RECORD`]) and `outcomes.py`, the fixed model's distinct outcomes (final
//! pmds and every thread's read values) that loom's exhaustive check reaches are 4 of 4 (T=2,N=1),
//! 14 of 16 (T=2,N=2), 48 of 64 (T=2,N=3), 12 of 12 (T=3,N=1), 72 of 144 (T=3,N=2) and 46 of 46
//! (T=4,N=1); shuttle's DFS reaches all of them wherever it finishes. Running the split on a spawned
//! thread instead of the main thread makes loom reach fewer (6 of 16 for T=2,N=2), so loom's
//! "holds" here is the verdict of a partial exploration, and its execution counts and times are
//! those of that exploration.

use loom::sync::Mutex;
use loom::sync::atomic::AtomicU8;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};

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
    /// `i + 1` while the split is at `(i, 3)`, else 0. Not a loom object: no scheduling point.
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
    for p in &state.pmd {
        p.store(HUGE, Ordering::SeqCst);
    }
    let handles: Vec<_> = (1..threads)
        .map(|t| {
            let state = Arc::clone(&state);
            loom::thread::spawn(move || match t {
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

/// Outcome of one loom check.
#[derive(Debug)]
pub struct Outcome {
    pub violated: bool,
    pub executions: usize,
    pub seconds: f64,
}

/// Exhaust M1 with loom (bounded by `preemptions` when given; `LOOM_MAX_PREEMPTIONS` also works
/// when it is not). A panic of the model is the violation: the check stops at the first one.
/// Leaves the panic hook as it was.
pub fn check(threads: usize, pmds: usize, variant: Variant, preemptions: Option<usize>) -> Outcome {
    let mut builder = loom::model::Builder::new();
    if preemptions.is_some() {
        builder.preemption_bound = preemptions;
    }
    EXECUTIONS.store(0, Ordering::Relaxed);
    let start = std::time::Instant::now();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        builder.check(move || m1(threads, pmds, variant))
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

    // One test function: loom's checks share the process-wide execution counter.
    #[test]
    fn t2_n1() {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let fixed = check(2, 1, Variant::Fixed, None);
        let buggy = check(2, 1, Variant::Buggy, None);
        std::panic::set_hook(prev);
        assert!(!fixed.violated, "fixed T=2 N=1 must hold: {fixed:?}");
        assert!(fixed.executions > 1);
        assert!(buggy.violated, "buggy T=2 N=1 must be violated: {buggy:?}");
    }
}
