//! Depth-first search on several cores. Each worker runs the whole depth-first search from
//! the initial state, and all of them claim states in one shared visited set: a state one
//! worker has stored, the others skip (the shared-table multi-core DFS of Laarman et al.,
//! "Boosting multi-core reachability performance with shared hash tables", FMCAD 2010).
//!
//! - Complete: a worker stores a state just before it explores it and explores every state
//!   it stores, so once every worker's first pass has ended, every reachable state has been
//!   explored by the one that stored it.
//! - Balanced: the states on one worker's stack cut the others off from what lies only
//!   beyond them, so a worker whose pass has ended starts again from the initial state,
//!   entering states still in progress (not those finished; each once a pass, since one may
//!   lie on a cycle back to itself), until every first pass has ended. Without this, one
//!   worker ran the last third of M1 3/8 alone.
//! - Sleep sets stay sound: a state's stored sleep set is the meet of every sleep set it was
//!   explored under, each met by an atomic `fetch_and` (where it clears a bit; bits are only
//!   ever cleared, so a load that finds none to clear is the same meet), and a worker that
//!   shrinks it explores the state again, as one worker does. An entry being stored holds
//!   every thread (the meet's identity), so a worker meeting it then explores the state itself.
//! - Same answer on any number of workers: the reachable states are one set whoever stores
//!   them, so `states` and the verdict do not depend on the count. `transitions` and
//!   `max_depth` do (which worker stores a state first decides what the sleep sets prune),
//!   and so would the first counterexample: a violated search is run again on one worker,
//!   whose counterexample and counts are the deterministic ones.
//! - Started when they can pay: worker 0 runs on the caller's thread and starts the others
//!   once it has stored [`Options::helpers_after`] states, so a search of a few thousand
//!   states costs what one worker's does instead of two thread starts and the wait for a
//!   second core (M1 2/1: 0.06 against 0.5 to 2.9 ms). The others then find the states near
//!   the initial one stored, and work their way in through the states still in progress.
//! - Bounds are exact: a state is stored only with a unit of the `max_states` quota, which
//!   workers take in batches and give back when a pass ends; the bound is reached only when
//!   the quota is spent and every live worker waits for more.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError, RwLock, RwLockReadGuard};
use std::vec::Vec;

use crate::entry::PmdOps;

use super::super::Scenario;
use super::super::mm::{Footprint, MAX_THREADS};
use super::visited::{EMPTY, Slot, Visited, WAYS, home, prefetch};
use super::{
    Bound, Broken, Claim, Dfs, Found, Options, Stats, VisitedSet, initial_violation, state_key,
};

/// A sleep byte's bits: the threads asleep (bits 0-5), and "being explored" (bit 6). An empty
/// slot's byte is all ones: every thread asleep, which a meet only clears.
const ASLEEP: u8 = 0x3f;
const IN_PROGRESS: u8 = 0x40;
const UNSET: u8 = 0xff;
const _: () = assert!(MAX_THREADS <= 6, "a sleep byte holds six threads");

/// Inserts a worker makes before it adds them to the table's shared count.
const FLUSH: u64 = 16;

/// Units of the `max_states` quota a worker takes at once.
const QUOTA_BATCH: u64 = 256;

/// [`super::visited`]'s bucket with atomic slots: seven keys and their sleep bytes, one line.
#[repr(C, align(64))]
struct Bucket {
    keys: [AtomicU64; WAYS],
    sleep: [AtomicU8; WAYS + 1],
}

const _: () = assert!(core::mem::size_of::<Bucket>() == 64);

impl Bucket {
    fn empty() -> Self {
        Self {
            keys: [const { AtomicU64::new(EMPTY) }; WAYS],
            sleep: [const { AtomicU8::new(UNSET) }; WAYS + 1],
        }
    }
}

/// A value on a cache line of its own, so that writes to its neighbours do not evict it.
#[repr(align(64))]
struct Line<T>(T);

/// The shared open-addressing table: keys claimed by compare-and-swap, sleep sets met by
/// `fetch_and`. It grows with every worker out of it (each holds a read guard while it
/// searches and gives it up when asked).
struct Table {
    buckets: Vec<Bucket>,
    /// `64 - log2(buckets)`.
    shift: u32,
    /// Stored keys the workers have reported (each holds back fewer than [`FLUSH`]).
    filled: AtomicU64,
    /// Past this many reported keys the table grows: 7/8 of its slots less what the workers
    /// may hold back, so that no probe ever meets a full table.
    limit: u64,
}

impl Table {
    fn new(bits: u32, jobs: usize) -> Self {
        let slots = (WAYS as u64) << bits;
        Self {
            buckets: core::iter::repeat_with(Bucket::empty)
                .take(1 << bits)
                .collect(),
            shift: 64 - bits,
            filled: AtomicU64::new(0),
            limit: (slots * 7 / 8).saturating_sub(jobs as u64 * FLUSH),
        }
    }

    fn bytes(&self) -> u64 {
        (self.buckets.len() * core::mem::size_of::<Bucket>()) as u64
    }

    #[inline]
    fn home(&self, key: u64) -> usize {
        home(key, self.shift)
    }

    /// The slot holding `key`, or the empty one it is stored in now: `(bucket, way, new)`.
    #[inline]
    fn claim(&self, key: u64) -> (usize, usize, bool) {
        let mask = self.buckets.len() - 1;
        let mut b = self.home(key);
        loop {
            let bucket = &self.buckets[b];
            for (w, slot) in bucket.keys.iter().enumerate() {
                let mut k = slot.load(Ordering::Relaxed);
                if k == EMPTY {
                    match slot.compare_exchange(EMPTY, key, Ordering::Relaxed, Ordering::Relaxed) {
                        Ok(_) => return (b, w, true),
                        Err(now) => k = now,
                    }
                }
                if k == key {
                    return (b, w, false);
                }
            }
            b = (b + 1) & mask;
        }
    }

    /// The slot holding `key`, if it is stored.
    fn get(&self, key: u64) -> Option<(usize, usize)> {
        let mask = self.buckets.len() - 1;
        let mut b = self.home(key);
        loop {
            for (w, slot) in self.buckets[b].keys.iter().enumerate() {
                match slot.load(Ordering::Relaxed) {
                    k if k == key => return Some((b, w)),
                    EMPTY => return None,
                    _ => {}
                }
            }
            b = (b + 1) & mask;
        }
    }

    /// The table twice the size with every key and sleep byte moved in (no worker is in it).
    fn doubled(&mut self, jobs: usize) -> Table {
        let bits = 64 - self.shift + 1;
        let mut next = Table::new(bits, jobs);
        let mut n = 0;
        for bucket in &mut self.buckets {
            for w in 0..WAYS {
                let k = *bucket.keys[w].get_mut();
                if k != EMPTY {
                    let (b, v, _) = next.claim(k);
                    *next.buckets[b].sleep[v].get_mut() = *bucket.sleep[w].get_mut();
                    n += 1;
                }
            }
        }
        *next.filled.get_mut() = n;
        next
    }
}

/// The `max_states` quota not yet handed out, and the workers waiting for some.
struct Quota {
    left: u64,
    waiting: usize,
    live: usize,
}

/// What the workers share.
struct Shared {
    table: RwLock<Table>,
    /// Set by a worker whose insert passed the table's limit; read at every claim.
    grow: Line<AtomicBool>,
    stop: Line<AtomicBool>,
    quota: Mutex<Quota>,
    more_quota: Condvar,
    /// Workers whose first pass has not ended (worker 0 alone until the others start).
    first_passes: AtomicUsize,
    /// What the workers' paths hold together (see [`VisitedSet::hold_path`]).
    paths: AtomicU64,
    /// The most bytes the table and the paths held at once (while the table doubled, the
    /// old and the new).
    peak: AtomicU64,
    max_memory: Option<u64>,
    jobs: usize,
}

impl Shared {
    /// What `jobs` workers share, with a table of `2^bits` buckets.
    fn new(opts: &Options, jobs: usize, bits: u32) -> Self {
        let table = Table::new(bits, jobs);
        let bytes = table.bytes();
        Self {
            table: RwLock::new(table),
            grow: Line(AtomicBool::new(false)),
            stop: Line(AtomicBool::new(false)),
            quota: Mutex::new(Quota {
                left: opts.max_states,
                waiting: 0,
                live: 1,
            }),
            more_quota: Condvar::new(),
            first_passes: AtomicUsize::new(1),
            paths: AtomicU64::new(0),
            peak: AtomicU64::new(bytes),
            max_memory: opts.max_memory,
            jobs,
        }
    }

    /// Counts `helpers` more workers in, before they start: live, and in their first pass.
    fn enlist(&self, helpers: usize) {
        self.first_passes.fetch_add(helpers, Ordering::Relaxed);
        let mut q = self.quota.lock().unwrap_or_else(PoisonError::into_inner);
        q.live += helpers;
    }

    /// Whether a worker waits for quota and none is left.
    fn starved(&self) -> bool {
        let q = self.quota.lock().unwrap_or_else(PoisonError::into_inner);
        q.left == 0 && q.waiting > 0
    }

    fn halt(&self) {
        self.stop.0.store(true, Ordering::Relaxed);
        let _q = self.quota.lock().unwrap_or_else(PoisonError::into_inner);
        self.more_quota.notify_all();
    }

    /// Doubles the table if it is still past its limit, unless that passes `max_memory`.
    fn grow_table(&self) -> Result<(), Bound> {
        let mut t = self.table.write().unwrap_or_else(PoisonError::into_inner);
        if self.grow.0.load(Ordering::Relaxed) {
            if *t.filled.get_mut() > t.limit {
                let old = t.bytes();
                let paths = self.paths.load(Ordering::Relaxed);
                if self.max_memory.is_some_and(|max| old * 3 + paths > max) {
                    return Err(Bound::Memory);
                }
                *t = t.doubled(self.jobs);
                self.peak
                    .fetch_max(old + t.bytes() + paths, Ordering::Relaxed);
            }
            self.grow.0.store(false, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// One worker's view of the shared set: its read guard on the table, its quota, and the
/// inserts it has not reported yet.
struct Worker<'a> {
    shared: &'a Shared,
    table: Option<RwLockReadGuard<'a, Table>>,
    /// Past the first pass: enter states another worker is still exploring.
    reenter: bool,
    /// The states this pass entered for that reason: each once, since a state still in
    /// progress may lie on a cycle back to itself. A table like the visited set's, so that
    /// its bytes are known before it grows ([`Worker::enter`]); made at the first entry.
    entered: Option<Visited>,
    quota: u64,
    unreported: u64,
    /// Worker 0's, until it calls it: starts the other workers, once it has stored
    /// `spawn_after` states (`stored` counts them meanwhile).
    spawn: Option<&'a (dyn Fn() + Sync)>,
    spawn_after: u64,
    stored: u64,
    /// What this worker's path and its `entered` set hold (its share of
    /// [`Shared::paths`]).
    path: u64,
    entered_bytes: u64,
}

fn read(shared: &Shared) -> RwLockReadGuard<'_, Table> {
    shared.table.read().unwrap_or_else(PoisonError::into_inner)
}

impl<'a> Worker<'a> {
    fn new(shared: &'a Shared) -> Self {
        Self {
            shared,
            table: None,
            reenter: false,
            entered: None,
            quota: 0,
            unreported: 0,
            spawn: None,
            spawn_after: 0,
            stored: 0,
            path: 0,
            entered_bytes: 0,
        }
    }

    /// This worker now holds `path` bytes of path and `entered` of its `entered` set, and
    /// holds `moving` more until it calls [`moved`](VisitedSet::moved) (a vector's old block
    /// while it moves to a bigger one), unless that passes [`Options::max_memory`]. The
    /// moving bytes join [`Shared::paths`] meanwhile, so two workers' moves at once add up.
    fn hold(&mut self, path: u64, entered: u64, moving: u64) -> Result<(), Bound> {
        self.hold_table()?;
        let more = path + entered - (self.path + self.entered_bytes) + moving;
        let paths = self.shared.paths.fetch_add(more, Ordering::Relaxed) + more;
        let table = self.table.as_ref().map_or(0, |t| t.bytes());
        if self
            .shared
            .max_memory
            .is_some_and(|max| table + paths > max)
        {
            self.shared.paths.fetch_sub(more, Ordering::Relaxed);
            return Err(Bound::Memory);
        }
        (self.path, self.entered_bytes) = (path, entered);
        self.shared.peak.fetch_max(table + paths, Ordering::Relaxed);
        Ok(())
    }

    /// Records that this pass entered `key`; returns whether it had not before, or the bound
    /// that growing the set would pass.
    fn enter(&mut self, key: u64) -> Result<bool, Bound> {
        if self.entered.is_none() {
            self.hold(self.path, Visited::EMPTY_BYTES, 0)?;
        }
        let set = self.entered.get_or_insert_with(Visited::new);
        let Slot::Vacant(slot) = set.find(key) else {
            return Ok(false);
        };
        let (now, during) = (set.bytes(), set.bytes_with_one_more());
        if during > now {
            // This insert doubles it: the old table beside the new one while it moves.
            self.hold(self.path, 2 * now, now)?;
        }
        let Some(set) = self.entered.as_mut() else {
            unreachable!("made above")
        };
        set.insert_at(slot, key, 0);
        if during > now {
            self.moved(now);
        }
        Ok(true)
    }

    /// Ends a pass: reports its inserts, gives its guard and its quota back.
    fn end_pass(&mut self) {
        if let Some(t) = self.table.take() {
            t.filled.fetch_add(self.unreported, Ordering::Relaxed);
        }
        self.unreported = 0;
        if let Some(set) = &mut self.entered {
            set.clear();
        }
        let mut q = self
            .shared
            .quota
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        q.left += core::mem::take(&mut self.quota);
        self.shared.more_quota.notify_all();
    }

    /// Takes more of the `max_states` quota, waiting while other workers may give some back;
    /// `false` when none is left and every live worker waits.
    fn take_quota(&mut self) -> bool {
        // Waiting with the guard would keep a growing table waiting on this worker.
        if let Some(t) = self.table.take() {
            t.filled
                .fetch_add(core::mem::take(&mut self.unreported), Ordering::Relaxed);
        }
        let shared = self.shared;
        let mut q = shared.quota.lock().unwrap_or_else(PoisonError::into_inner);
        q.waiting += 1;
        let got = loop {
            if q.left > 0 {
                let take = q.left.min(QUOTA_BATCH);
                q.left -= take;
                self.quota = take;
                break true;
            }
            if q.waiting == q.live || shared.stop.0.load(Ordering::Relaxed) {
                shared.more_quota.notify_all();
                break false;
            }
            q = shared
                .more_quota
                .wait(q)
                .unwrap_or_else(PoisonError::into_inner);
        };
        q.waiting -= 1;
        got
    }

    /// Holds the table, after helping it grow if a worker asked for that.
    fn hold_table(&mut self) -> Result<(), Bound> {
        if self.shared.grow.0.load(Ordering::Relaxed) {
            if let Some(t) = self.table.take() {
                t.filled
                    .fetch_add(core::mem::take(&mut self.unreported), Ordering::Relaxed);
            }
            self.shared.grow_table()?;
        }
        if self.table.is_none() {
            self.table = Some(read(self.shared));
        }
        Ok(())
    }
}

impl VisitedSet for Worker<'_> {
    #[inline]
    fn touch(&self, key: u64) {
        if let Some(t) = &self.table {
            let key = Visited::key(key);
            prefetch(&t.buckets[t.home(key)], |b| {
                b.keys[0].load(Ordering::Relaxed)
            });
        }
    }

    fn claim(&mut self, key: u64, sleep: u8, _opts: &Options) -> Claim {
        let key = Visited::key(key);
        if let Err(b) = self.hold_table() {
            return Claim::Bound(b);
        }
        if self.quota == 0 {
            let stored = self.table.as_ref().and_then(|t| t.get(key));
            if stored.is_none() && !self.take_quota() {
                if self.stopped() {
                    // Another worker's stop ended the wait; its verdict stands.
                    return Claim::Seen;
                }
                // Every other worker waits or has ended, so nothing is stored any more: the
                // bound is reached unless another worker stored this state meanwhile.
                if let Err(b) = self.hold_table() {
                    return Claim::Bound(b);
                }
                if self.table.as_ref().and_then(|t| t.get(key)).is_none() {
                    return Claim::Bound(Bound::States);
                }
            }
            if let Err(b) = self.hold_table() {
                return Claim::Bound(b);
            }
        }
        let reenter = self.reenter;
        let Some(t) = self.table.as_ref() else {
            unreachable!("held above")
        };
        let (b, w, new) = t.claim(key);
        // A meet writes only if it clears a bit: a state met again usually clears none, and a
        // load keeps its line shared where a `fetch_and` would pull it from the other cores.
        // Bits are only ever cleared, so a load that finds none to clear stays true.
        let byte = &t.buckets[b].sleep[w];
        let mut old = byte.load(Ordering::Relaxed);
        if old & !sleep & ASLEEP != 0 {
            old = byte.fetch_and(sleep | !ASLEEP, Ordering::Relaxed);
        }
        if new {
            debug_assert!(self.quota > 0, "a state stored without quota");
            self.quota -= 1;
            if let Some(spawn) = self.spawn {
                self.stored += 1;
                if self.stored >= self.spawn_after {
                    self.spawn = None;
                    spawn();
                }
            }
            self.unreported += 1;
            if self.unreported == FLUSH {
                self.unreported = 0;
                if t.filled.fetch_add(FLUSH, Ordering::Relaxed) + FLUSH > t.limit {
                    self.shared.grow.0.store(true, Ordering::Relaxed);
                }
            }
            return Claim::New;
        }
        if old & !sleep & ASLEEP != 0 {
            Claim::Again
        } else if reenter && old & IN_PROGRESS != 0 {
            match self.enter(key) {
                Ok(true) => Claim::Again,
                Ok(false) => Claim::Seen,
                Err(b) => Claim::Bound(b),
            }
        } else {
            Claim::Seen
        }
    }

    #[inline]
    fn stopped(&self) -> bool {
        self.shared.stop.0.load(Ordering::Relaxed)
    }

    fn stop(&self) {
        self.shared.halt();
    }

    fn hold_path(&mut self, bytes: u64, moving: u64, _opts: &Options) -> Result<(), Bound> {
        self.hold(bytes, self.entered_bytes, moving)
    }

    fn moved(&mut self, moving: u64) {
        self.shared.paths.fetch_sub(moving, Ordering::Relaxed);
    }

    fn finished(&mut self, key: u64) {
        let key = Visited::key(key);
        if self.hold_table().is_err() {
            return;
        }
        if let Some(t) = &self.table {
            if let Some((b, w)) = t.get(key) {
                t.buckets[b].sleep[w].fetch_and(!IN_PROGRESS, Ordering::Relaxed);
            }
        }
    }
}

/// Explores `sc` depth-first on `jobs` workers sharing one visited set.
pub(super) fn dfs<A: PmdOps>(
    sc: &Scenario<A>,
    opts: Options,
    jobs: usize,
) -> (Found, Option<Bound>, Stats) {
    if initial_violation(sc).is_some() || opts.max_states == 0 {
        return super::dfs(sc, opts);
    }
    // Big enough that what the workers hold back is at most a sixteenth of its slots.
    let bits = (7..)
        .find(|b| (WAYS as u64) << b >= jobs as u64 * FLUSH * 16)
        .unwrap_or(7);
    let shared = Shared::new(&opts, jobs, bits);
    let bytes = shared.peak.load(Ordering::Relaxed);
    if opts.max_memory.is_some_and(|max| bytes > max) {
        // Not even the workers' empty table fits: one worker's search gives the answer (the
        // initial state, stored before any bound is checked, and the bound).
        return super::dfs(sc, opts);
    }
    let init = &sc.initial;
    let mut root = Worker::new(&shared);
    let key = state_key(&opts, init, u8::MAX, 0);
    let _ = root.claim(key, 0, &opts);
    root.end_pass();
    drop(root);
    let workers: Vec<(Found, Option<Bound>, Stats)> = std::thread::scope(|scope| {
        let shared = &shared;
        let helpers = Mutex::new(Vec::new());
        // Worker 0 calls it once, on the caller's thread: every other worker is counted in
        // before any of them starts.
        let spawn = || {
            shared.enlist(jobs - 1);
            let mut hs = helpers.lock().unwrap_or_else(PoisonError::into_inner);
            for _ in 1..jobs {
                hs.push(scope.spawn(move || run_worker(sc, opts, shared, None)));
            }
        };
        let first = run_worker(sc, opts, shared, Some(&spawn));
        let hs = helpers.into_inner().unwrap_or_else(PoisonError::into_inner);
        core::iter::once(first)
            .chain(
                hs.into_iter()
                    .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))),
            )
            .collect()
    });
    if workers.iter().any(|(f, _, _)| f.first.is_some()) {
        // Which violation a worker meets first depends on timing: one worker's search gives
        // the deterministic counterexample. A search through every state keeps its own
        // counts and the invariants its workers found (the same set, whoever found them).
        let (mut one, bound, one_stats) = super::dfs(sc, opts);
        if opts.stop_at_first || bound.is_some() {
            return (one, bound, one_stats);
        }
        one.all = Broken::default();
        for (f, _, _) in &workers {
            one.all.merge(&f.all);
        }
        let (_, bound, stats) = counts(shared, &workers);
        return (one, bound, stats);
    }
    let (found, incomplete, stats) = counts(shared, &workers);
    (found, incomplete, stats)
}

/// One worker's search: a first pass from the initial state, then (while another worker's
/// first pass goes on) passes that enter states still in progress. Worker 0 gets `spawn`,
/// which starts the others: at once when [`Options::helpers_after`] is 0, else once it has
/// stored that many states (never, if the search ends first).
fn run_worker<A: PmdOps>(
    sc: &Scenario<A>,
    opts: Options,
    shared: &Shared,
    spawn: Option<&(dyn Fn() + Sync)>,
) -> (Found, Option<Bound>, Stats) {
    let init = &sc.initial;
    let mut worker = Worker::new(shared);
    match spawn {
        Some(spawn) if opts.helpers_after == 0 => spawn(),
        _ => {
            worker.spawn = spawn;
            worker.spawn_after = opts.helpers_after;
        }
    }
    let mut d = Dfs::new(sc, opts, worker);
    let roots = [Footprint::default(); MAX_THREADS];
    let stopped = d.visit(init, 0, &roots, u8::MAX, 0);
    d.visited.end_pass();
    shared.first_passes.fetch_sub(1, Ordering::Relaxed);
    if !stopped {
        d.visited.reenter = true;
        while shared.first_passes.load(Ordering::Relaxed) > 0 {
            let before = d.stats.states;
            let stopped = d.visit(init, 0, &roots, u8::MAX, 0);
            d.visited.end_pass();
            if stopped || shared.starved() {
                // A worker waiting for quota there is none of waits for this one to wait or
                // end: it ends.
                break;
            }
            if d.stats.states == before {
                std::thread::yield_now();
            }
        }
    }
    let mut q = shared.quota.lock().unwrap_or_else(PoisonError::into_inner);
    q.live -= 1;
    shared.more_quota.notify_all();
    drop(q);
    (d.found, d.incomplete, d.stats)
}

/// The search's counts from its workers', and the first bound one of them met.
fn counts(
    shared: Shared,
    workers: &[(Found, Option<Bound>, Stats)],
) -> (Found, Option<Bound>, Stats) {
    let table = shared
        .table
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    let mut stats = Stats {
        states: 1,
        visited_bytes: table.bytes(),
        peak_bytes: shared.peak.load(Ordering::Relaxed),
        ..Stats::default()
    };
    let mut incomplete = None;
    for (_, bound, s) in workers {
        stats.states += s.states;
        stats.transitions += s.transitions;
        stats.max_depth = stats.max_depth.max(s.max_depth);
        incomplete = incomplete.or(*bound);
    }
    (Found::default(), incomplete, stats)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{SLEEPS, claims};
    use super::*;

    #[test]
    fn a_worker_explores_again_when_its_sleep_set_lacks_a_stored_thread() {
        let opts = Options::default();
        let shared = Shared::new(&opts, 1, 7);
        let mut w = Worker::new(&shared);
        assert_eq!(claims(&mut w, 7, &SLEEPS), super::super::tests::EXPECTED);
    }

    #[test]
    fn worker_zero_starts_the_others_once_when_it_has_stored_enough_states() {
        let opts = Options::default();
        let shared = Shared::new(&opts, 2, 7);
        let calls = AtomicUsize::new(0);
        let spawn = || {
            calls.fetch_add(1, Ordering::Relaxed);
        };
        let mut w = Worker::new(&shared);
        w.spawn = Some(&spawn);
        w.spawn_after = 3;
        assert_eq!(claims(&mut w, 1, &[0, 0]), ["new", "seen"]);
        assert_eq!(claims(&mut w, 2, &[0]), ["new"]);
        assert_eq!(calls.load(Ordering::Relaxed), 0, "two states stored");
        assert_eq!(claims(&mut w, 3, &[0]), ["new"]);
        assert_eq!(calls.load(Ordering::Relaxed), 1, "the third starts them");
        assert_eq!(claims(&mut w, 4, &[0]), ["new"]);
        assert_eq!(calls.load(Ordering::Relaxed), 1, "once");
        // The workers it starts are counted in before they run: in their first pass, live.
        shared.enlist(1);
        assert_eq!(shared.first_passes.load(Ordering::Relaxed), 2);
        assert_eq!(shared.quota.lock().unwrap().live, 2);
    }

    #[test]
    fn a_later_pass_enters_a_state_only_while_it_is_in_progress() {
        let opts = Options::default();
        let shared = Shared::new(&opts, 1, 7);
        let mut w = Worker::new(&shared);
        assert_eq!(claims(&mut w, 9, &[0b11]), ["new"]);
        assert_eq!(claims(&mut w, 9, &[0b11]), ["seen"]);
        w.reenter = true;
        // Once a pass: a state in progress may lie on a cycle back to itself.
        assert_eq!(claims(&mut w, 9, &[0b11, 0b11]), ["again", "seen"]);
        w.end_pass();
        assert_eq!(claims(&mut w, 9, &[0b11]), ["again"]);
        w.finished(9);
        assert_eq!(claims(&mut w, 9, &[0b11]), ["seen"]);
        assert_eq!(claims(&mut w, 9, &[0b01]), ["again"]);
    }
}
