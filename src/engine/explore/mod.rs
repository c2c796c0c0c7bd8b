//! The checker: visits every interleaving of a scenario's threads within its bounds.
//!
//! - Stateful: visited states are kept as 64-bit fingerprints (hash compaction, as SPIN's
//!   `-DHC`), with the sleep set each was explored under.
//! - Partial-order reduction with sleep sets over step footprints: a step independent of one
//!   already explored from the same state is not re-explored after it. Sleep sets prune
//!   transitions, never states, so every reachable state is still checked.
//! - Optional preemption bound; breadth-first mode for a shortest counterexample. Both
//!   searches run on as many cores as [`Options::jobs`] gives them, with the same states and
//!   verdict on any number (depth-first: workers sharing one visited set).
//! - Deterministic: threads are tried in order and the hash has no random seed, so the same
//!   scenario gives the same counts and the same first trace.
//! - Deadlock: a state where threads remain and none can run, reported with its wait-for
//!   cycle.

mod bfs;
mod parallel;
mod visited;

use std::time::{Duration, Instant};
use std::vec::Vec;

use crate::entry::PmdOps;

use super::invariant::{self, InvariantId, InvariantSet};
use super::locks::LockName;
use super::mm::{Footprint, MAX_THREADS, Machine};
use super::program::{Step, Wait};
use super::{Scenario, Tid};
use visited::{Slot, Visited};

/// The hasher of the search's own small maps.
type Fx = core::hash::BuildHasherDefault<rustc_hash::FxHasher>;

/// Depth-first (fast, POR) or breadth-first (shortest counterexample).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Search {
    /// Depth-first with sleep sets.
    DepthFirst,
    /// Breadth-first: the first violation found has the fewest steps.
    BreadthFirst,
}

/// How to explore.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Options {
    /// Depth- or breadth-first.
    pub search: Search,
    /// Partial-order reduction (sleep sets); depth-first only.
    pub por: bool,
    /// At most this many preemptions (switching away from a thread that could go on).
    pub preemption_bound: Option<u8>,
    /// Stop with [`Verdict::Incomplete`] rather than store more than this many states (0:
    /// the initial state alone is judged, nothing stored).
    pub max_states: u64,
    /// Stop with [`Verdict::Incomplete`] rather than let the search's stored states (the
    /// visited set, breadth-first's queue of machines, depth-first's path of machines and
    /// frames) grow past this many bytes;
    /// `None`: no bound. A table that would double past it counts as past it; what a search
    /// needed is [`Stats::peak_bytes`]. A bound with no room for the initial state (below an
    /// empty visited table, 8 KiB) stores nothing: the initial state alone is judged.
    pub max_memory: Option<u64>,
    /// Stop at the first violation (the default). When `false` the search goes on through
    /// every reachable state and [`Outcome::violated`] lists every invariant broken.
    pub stop_at_first: bool,
    /// Run the footprint auditor after every step: compare the state before and after with
    /// the step's footprint and report an undeclared write as `INV-FOOTPRINT`. On by default
    /// in debug builds (tests); it costs a state comparison per step.
    pub audit_footprints: bool,
    /// Worker threads (1: the caller's thread alone; 0: one per core; depth-first starts all
    /// but the caller's after [`helpers_after`](Self::helpers_after) states). Breadth-first: every
    /// count gives the same states, transitions, verdict and counterexample. Depth-first:
    /// the workers share one visited set; every count gives the same states and verdict,
    /// and a violation is reported with one worker's counterexample and counts (found again
    /// on one worker), while a search that holds counts its workers' transitions, which vary
    /// from run to run with what each sleep set pruned.
    pub jobs: usize,
    /// Depth-first on several workers: worker 0 runs on the caller's thread, and the others
    /// start once it has stored this many states (0: at once), so that a search too small to
    /// gain from them never pays for starting them. Breadth-first ignores it.
    pub helpers_after: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            search: Search::DepthFirst,
            por: true,
            preemption_bound: None,
            max_states: 5_000_000,
            max_memory: None,
            stop_at_first: true,
            audit_footprints: cfg!(debug_assertions),
            jobs: 1,
            helpers_after: HELPERS_AFTER,
        }
    }
}

/// [`Options::helpers_after`]'s default: about a millisecond of one worker's search here, more
/// than starting a thread and waking a core costs.
pub const HELPERS_AFTER: u64 = 4096;

/// Counts from one exploration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Distinct states visited.
    pub states: u64,
    /// Steps executed.
    pub transitions: u64,
    /// Longest schedule explored.
    pub max_depth: u32,
    /// Wall time.
    pub elapsed: Duration,
    /// Bytes the visited set holds (table capacity times entry size plus control bytes).
    pub visited_bytes: u64,
    /// The most bytes the search held at once, as [`Options::max_memory`] counts them: the
    /// visited set (depth-first: while it doubles, the old and the new table) and, for
    /// depth-first, its path (per depth, a machine per thread and a frame; the path's
    /// vectors with their spare room, and their old block while one moves) and, on several
    /// workers, each worker's set of re-entered states; for breadth-first also the queued
    /// machines of a level and the next and room for the store's tables to grow. A run with
    /// `max_memory` of at least this completes; one below it ends with [`Bound::Memory`]
    /// (depth-first on several workers: the peak depends on their timing).
    /// `tests/memory_bound.rs` checks it against the heap the search really took.
    pub peak_bytes: u64,
}

impl Stats {
    /// Returns nanoseconds per transition.
    pub fn ns_per_transition(&self) -> f64 {
        self.elapsed.as_nanos() as f64 / self.transitions.max(1) as f64
    }
    /// Returns bytes of visited set per stored state.
    pub fn bytes_per_state(&self) -> f64 {
        self.visited_bytes as f64 / self.states.max(1) as f64
    }
}

/// A counterexample: which invariant broke, and the schedule (thread per step) that breaks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counterexample {
    /// The invariant.
    pub invariant: InvariantId,
    /// What broke, in one phrase.
    pub what: &'static str,
    /// Thread index per step, from the scenario's initial state.
    pub schedule: Vec<u8>,
    /// For a deadlock: the threads of the wait-for cycle, in order.
    pub wait_cycle: Vec<u8>,
    /// For a deadlock: per thread of [`wait_cycle`](Self::wait_cycle), the lock it waits for
    /// (held by the next thread of the cycle).
    pub wait_for: Vec<LockName>,
}

/// The checker's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every reachable state (within the bounds) satisfies every invariant.
    Holds,
    /// A reachable state breaks an invariant.
    Violated(Counterexample),
    /// `max_states` was reached first.
    Incomplete,
}

/// A bound that can end a search before it is complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bound {
    /// [`Options::max_states`].
    States,
    /// [`Options::max_memory`].
    Memory,
}

impl core::fmt::Display for Bound {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Bound::States => "the state bound (max_states) was reached",
            Bound::Memory => "the memory bound (max_memory) was reached",
        })
    }
}

/// Verdict and counts.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The verdict: the first violation found, if any.
    pub verdict: Verdict,
    /// Every built-in invariant found broken (only the first one when
    /// [`Options::stop_at_first`]).
    pub violated: InvariantSet,
    /// Every declared (non-built-in) invariant found broken, in the order found.
    pub violated_declared: Vec<InvariantId>,
    /// Whether every reachable state (within the preemption bound) was explored.
    pub complete: bool,
    /// The bound that ended an incomplete search.
    pub bound: Option<Bound>,
    /// The counts.
    pub stats: Stats,
}

/// Returns the 64-bit fingerprint of a state.
pub fn fingerprint<A: PmdOps>(m: &Machine<A>) -> u64 {
    m.fingerprint()
}

/// Every invariant broken: the built-in ones as a set, the declared ones (rare) listed.
#[derive(Clone, Debug, Default)]
struct Broken {
    set: InvariantSet,
    declared: Vec<InvariantId>,
}

impl Broken {
    fn add(&mut self, id: InvariantId) {
        if !id.is_builtin() {
            if !self.declared.contains(&id) {
                self.declared.push(id);
            }
        } else {
            self.set = self.set.with(id);
        }
    }
    /// Just `id`.
    fn of(id: InvariantId) -> Self {
        let mut b = Self::default();
        b.add(id);
        b
    }
    fn merge(&mut self, other: &Broken) {
        self.set = InvariantSet(self.set.0 | other.set.0);
        for &id in &other.declared {
            self.add(id);
        }
    }
}

/// What one step did, beside the machine it ran on.
struct Stepped {
    fp: Footprint,
    /// The first invariant the step broke, and every one it broke.
    broke: Option<(InvariantId, &'static str)>,
    all: Broken,
}

/// Runs thread `t`'s next step on `next`, made a copy of `s` first, and checks it; `Err`
/// with what it waits for if blocked (`next` is then any state).
fn step_into<A: PmdOps>(
    sc: &Scenario<A>,
    opts: &Options,
    s: &Machine<A>,
    next: &mut Machine<A>,
    t: u8,
    written: &mut u64,
) -> Result<Stepped, Wait> {
    next.copy_from_written(s, *written);
    next.begin_step(false);
    let step = sc.threads[usize::from(t)].program.step(next, Tid(t));
    *written |= next.step_writes();
    match step {
        Step::Ran(_) => {
            let mut fx = next.end_step();
            next.refresh_fingerprint(fx.footprint.writes);
            if opts.audit_footprints {
                next.audit_step(s, &mut fx);
            }
            let mut all = Broken::default();
            let mut broke = None;
            if opts.stop_at_first {
                broke = invariant::check_step_cached(
                    next,
                    &fx.raised,
                    sc.invariants,
                    &sc.declared,
                    fx.footprint.writes,
                    opts.audit_footprints,
                );
                if let Some((id, _)) = broke {
                    all.add(id);
                }
            } else {
                // Judged afresh: the verdicts cached from `s` do not cover this step's writes.
                next.held_forget_from(0);
                invariant::each_violation_with(
                    next,
                    &fx.raised,
                    sc.invariants,
                    &sc.declared,
                    |id, what| {
                        broke.get_or_insert((id, what));
                        all.add(id);
                    },
                );
            }
            next.end_step();
            Ok(Stepped {
                fp: fx.footprint,
                broke,
                all,
            })
        }
        Step::Blocked(w) => Err(w),
    }
}

/// Finds a wait-for cycle among blocked threads: the threads, and the lock each waits for.
fn wait_cycle<A: PmdOps>(sc: &Scenario<A>, s: &Machine<A>) -> (Vec<u8>, Vec<LockName>) {
    let n = sc.threads.len() as u8;
    let mut waits_on = [0u8; MAX_THREADS];
    let mut waits_for = [None; MAX_THREADS];
    let opts = Options {
        audit_footprints: false,
        ..Options::default()
    };
    // One scratch machine, copied over whole before each thread's step.
    let mut scratch = s.clone();
    for t in 0..n {
        if s.done(t) {
            continue;
        }
        let mut whole = u64::MAX;
        if let Err(w) = step_into(sc, &opts, s, &mut scratch, t, &mut whole) {
            waits_on[usize::from(t)] = w.holders(s, Tid(t));
            waits_for[usize::from(t)] = Some(w.lock(s, Tid(t)));
        }
    }
    for start in 0..n {
        let mut path = std::vec![start];
        let mut cur = start;
        for _ in 0..n {
            let Some(next) = (0..n).find(|&u| waits_on[usize::from(cur)] & (1 << u) != 0) else {
                break;
            };
            if next == start {
                let locks = path
                    .iter()
                    .filter_map(|&t| waits_for[usize::from(t)])
                    .collect();
                return (path, locks);
            }
            if path.contains(&next) {
                break;
            }
            path.push(next);
            cur = next;
        }
    }
    (Vec::new(), Vec::new())
}

/// What a search has found so far.
#[derive(Default)]
struct Found {
    first: Option<Counterexample>,
    all: Broken,
}

impl Found {
    /// Records a violation; returns whether the search stops.
    fn record(
        &mut self,
        opts: &Options,
        cx: impl FnOnce() -> Counterexample,
        all: &Broken,
    ) -> bool {
        if self.first.is_none() {
            self.first = Some(cx());
        }
        self.all.merge(all);
        opts.stop_at_first
    }
}

/// The counterexample for a state where threads remain and none can run.
fn deadlock_cx<A: PmdOps>(sc: &Scenario<A>, s: &Machine<A>, schedule: Vec<u8>) -> Counterexample {
    let (wait_cycle, wait_for) = wait_cycle(sc, s);
    Counterexample {
        invariant: InvariantId::DEADLOCK,
        what: "every remaining thread is blocked",
        schedule,
        wait_cycle,
        wait_for,
    }
}

/// What a depth-first search does with a successor's fingerprint.
enum Claim {
    /// Stored now: explore it.
    New,
    /// Stored before with a sleep set holding threads the new one lacks: explore it again.
    Again,
    /// Stored before and explored under at most this sleep set: skip it.
    Seen,
    /// Storing it would pass a bound.
    Bound(Bound),
}

/// A depth-first search's visited set: one worker's own table, or the table its workers share
/// ([`parallel`]). Each is a type parameter of [`Dfs`], so the one-worker search pays for no
/// lock.
trait VisitedSet {
    /// Loads the cache line `key`'s lookup will read (see [`Visited::touch`]).
    fn touch(&self, key: u64);
    /// Stores `key` with `sleep`, or meets the sleep set stored with it (see [`Claim`]).
    fn claim(&mut self, key: u64, sleep: u8, opts: &Options) -> Claim;
    /// Whether another worker has ended the search.
    fn stopped(&self) -> bool;
    /// Ends the search for every worker.
    fn stop(&self);
    /// The search's path now holds `bytes` (machines and frames; it only grows), and held
    /// `moving` more on the way there (a vector's old block while it moves to a bigger one),
    /// unless that passes [`Options::max_memory`].
    fn hold_path(&mut self, bytes: u64, moving: u64, opts: &Options) -> Result<(), Bound>;
    /// The vectors [`hold_path`](Self::hold_path) said were moving have moved.
    #[inline]
    fn moved(&mut self, _moving: u64) {}
    /// `key`'s exploration has ended.
    #[inline]
    fn finished(&mut self, _key: u64) {}
}

impl VisitedSet for Visited {
    #[inline]
    fn touch(&self, key: u64) {
        Visited::touch(self, key);
    }

    // Always inlined: one search's only lookup, called once per transition.
    #[inline(always)]
    fn claim(&mut self, key: u64, sleep: u8, opts: &Options) -> Claim {
        match self.find(key) {
            Slot::Vacant(slot) => {
                if let Some(b) = dfs_bound_reached(opts, self.len() as u64, self) {
                    return Claim::Bound(b);
                }
                self.insert_at(slot, key, sleep);
                Claim::New
            }
            Slot::Found(slot) => meet_sleep(self.sleep_mut(slot), sleep),
        }
    }

    fn hold_path(&mut self, bytes: u64, moving: u64, opts: &Options) -> Result<(), Bound> {
        if opts
            .max_memory
            .is_some_and(|max| self.bytes() + bytes + moving > max)
        {
            return Err(Bound::Memory);
        }
        self.set_path(bytes, moving);
        Ok(())
    }

    #[inline]
    fn stopped(&self) -> bool {
        false
    }

    #[inline]
    fn stop(&self) {}
}

/// A state reached again: its stored sleep set becomes what both explorations slept on, and
/// it is explored again when the new sleep set lacks a thread the stored one had.
#[inline(always)]
fn meet_sleep(stored: &mut u8, sleep: u8) -> Claim {
    let again = *stored & !sleep != 0;
    *stored &= sleep;
    if again { Claim::Again } else { Claim::Seen }
}

/// A state's key in the visited set: its fingerprint, with the last thread and the
/// preemptions so far when a preemption bound makes them part of the state.
fn state_key<A: PmdOps>(opts: &Options, m: &Machine<A>, last: u8, preempt: u8) -> u64 {
    let h = fingerprint(m);
    match opts.preemption_bound {
        Some(_) => {
            h ^ (u64::from(last) << 56 | u64::from(preempt) << 48)
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        }
        None => h,
    }
}

/// One state on the depth-first path: its successors, and how far the loop over them has
/// got. The path is a stack of these rather than of calls, so its depth is bounded by memory
/// and not by the caller's thread stack.
struct Frame {
    succs: [Option<Stepped>; MAX_THREADS],
    keys: [u64; MAX_THREADS],
    /// The footprints of the steps the successors' sleep sets are judged against.
    fps: [Footprint; MAX_THREADS],
    sleep: u8,
    last: u8,
    last_enabled: bool,
    preempt: u8,
    /// The threads whose successors are fully explored.
    done_here: u8,
    /// The next thread to consider.
    next: u8,
    /// The thread whose successor is being explored above this frame, and its footprint.
    below: u8,
    below_fp: Footprint,
}

impl Frame {
    fn new(sleep: u8, sleep_fps: &[Footprint; MAX_THREADS], last: u8, preempt: u8) -> Self {
        Self {
            succs: [None, None, None, None],
            keys: [0; MAX_THREADS],
            fps: *sleep_fps,
            sleep,
            last,
            last_enabled: false,
            preempt,
            done_here: 0,
            next: 0,
            below: 0,
            below_fp: Footprint::default(),
        }
    }
}

struct Dfs<'a, A: PmdOps, V: VisitedSet> {
    sc: &'a Scenario<A>,
    opts: Options,
    /// Per depth, the machines its successors are built in (reused: a copy in place costs
    /// less than a clone moved into place).
    pool: Vec<Vec<Machine<A>>>,
    /// The path's frames, `frames[d]` for the state at depth `d` (kept between searches for
    /// its allocation).
    frames: Vec<Frame>,
    /// Every location a step of this search has written, blocked steps' included: the
    /// groups of state outside it are the initial state's in every machine of the search, so
    /// a copy into a pool machine skips them ([`Machine::copy_from_written`]).
    written: u64,
    visited: V,
    path: Vec<u8>,
    stats: Stats,
    found: Found,
    incomplete: Option<Bound>,
}

impl<'a, A: PmdOps, V: VisitedSet> Dfs<'a, A, V> {
    /// A search of `sc` that has stored nothing in `visited` yet.
    fn new(sc: &'a Scenario<A>, opts: Options, visited: V) -> Self {
        Self {
            sc,
            opts,
            pool: Vec::new(),
            frames: Vec::new(),
            written: 0,
            visited,
            path: Vec::new(),
            stats: Stats::default(),
            found: Found::default(),
            incomplete: None,
        }
    }

    fn key(&self, m: &Machine<A>, last: u8, preempt: u8) -> u64 {
        state_key(&self.opts, m, last, preempt)
    }

    /// Gives `pool` a level for depth `depth` the first time the search gets there, unless
    /// the path it makes passes [`Options::max_memory`]; returns `true` to stop (bound hit).
    /// The path's bytes are its levels' machines (one per thread) and its vectors of
    /// levels, frames and schedule at the capacity they grow to here, spare room included:
    /// they grow only here, by doubling, one after another, so while one moves the most
    /// held beside them is that one's old block.
    fn reach_depth(
        &mut self,
        pool: &mut Vec<Vec<Machine<A>>>,
        frames: &mut Vec<Frame>,
        depth: usize,
    ) -> bool {
        if pool.len() > depth {
            return false;
        }
        let grown = |cap: usize| {
            if depth < cap {
                cap
            } else {
                (2 * cap).max(depth + 1).max(4)
            }
        };
        let (levels, frames_cap, path_cap) = (
            grown(pool.capacity()),
            grown(frames.capacity()),
            grown(self.path.capacity()),
        );
        let bytes = (depth + 1) * self.sc.threads.len() * core::mem::size_of::<Machine<A>>()
            + levels * core::mem::size_of::<Vec<Machine<A>>>()
            + frames_cap * core::mem::size_of::<Frame>()
            + path_cap;
        let old = |cap: usize, new: usize, size: usize| if new > cap { cap * size } else { 0 };
        let moving = old(
            pool.capacity(),
            levels,
            core::mem::size_of::<Vec<Machine<A>>>(),
        )
        .max(old(
            frames.capacity(),
            frames_cap,
            core::mem::size_of::<Frame>(),
        ))
        .max(old(self.path.capacity(), path_cap, 1));
        if let Err(b) = self
            .visited
            .hold_path(bytes as u64, moving as u64, &self.opts)
        {
            self.incomplete = Some(b);
            return self.halt();
        }
        pool.reserve_exact(levels - pool.len());
        frames.reserve_exact(frames_cap - frames.len());
        self.path.reserve_exact(path_cap - self.path.len());
        self.visited.moved(moving as u64);
        pool.push(Vec::with_capacity(self.sc.threads.len()));
        false
    }

    /// Explores `root` (already claimed) and every state reachable from it; returns `true`
    /// to stop (violation found or bound hit).
    fn visit(
        &mut self,
        root: &Machine<A>,
        sleep: u8,
        sleep_fps: &[Footprint; MAX_THREADS],
        last: u8,
        preempt: u8,
    ) -> bool {
        let mut pool = core::mem::take(&mut self.pool);
        let mut frames = core::mem::take(&mut self.frames);
        frames.clear();
        let n = self.sc.threads.len() as u8;
        if self.reach_depth(&mut pool, &mut frames, 0) {
            self.frames = frames;
            return true;
        }
        frames.push(Frame::new(sleep, sleep_fps, last, preempt));
        let stop = self.expand(root, buffers(&mut pool[0], root, n), &mut frames[0])
            || self.descend(&mut pool, &mut frames);
        self.pool = pool;
        self.frames = frames;
        stop
    }

    /// Runs the search from the frames on the path until they are all explored.
    fn descend(&mut self, pool: &mut Vec<Vec<Machine<A>>>, frames: &mut Vec<Frame>) -> bool {
        let n = self.sc.threads.len() as u8;
        loop {
            let depth = frames.len() - 1;
            let f = &mut frames[depth];
            let mut child = None;
            while f.next < n {
                let tid = f.next;
                f.next += 1;
                let Some(Stepped { fp, broke, all }) = f.succs[usize::from(tid)].take() else {
                    continue;
                };
                let cost = u8::from(f.last_enabled && tid != f.last);
                if let Some(bound) = self.opts.preemption_bound {
                    if f.preempt + cost > bound {
                        continue;
                    }
                }
                self.stats.transitions += 1;
                self.path.push(tid);
                self.stats.max_depth = self.stats.max_depth.max(self.path.len() as u32);
                if let Some((invariant, what)) = broke {
                    let path = &self.path;
                    let cx = || Counterexample {
                        invariant,
                        what,
                        schedule: path.clone(),
                        wait_cycle: Vec::new(),
                        wait_for: Vec::new(),
                    };
                    if self.found.record(&self.opts, cx, &all) {
                        return self.halt();
                    }
                }
                let mut child_sleep = 0u8;
                if self.opts.por {
                    for u in 0..n {
                        if (f.sleep | f.done_here) & (1 << u) != 0
                            && f.fps[usize::from(u)].independent(&fp)
                        {
                            child_sleep |= 1 << u;
                        }
                    }
                }
                let explore =
                    match self
                        .visited
                        .claim(f.keys[usize::from(tid)], child_sleep, &self.opts)
                    {
                        Claim::New => {
                            self.stats.states += 1;
                            true
                        }
                        Claim::Again => true,
                        Claim::Seen => false,
                        Claim::Bound(b) => {
                            self.incomplete = Some(b);
                            return self.halt();
                        }
                    };
                if explore {
                    f.below = tid;
                    f.below_fp = fp;
                    child = Some(Frame::new(child_sleep, &f.fps, tid, f.preempt + cost));
                    break;
                }
                self.path.pop();
                f.done_here |= 1 << tid;
                f.fps[usize::from(tid)] = fp;
            }
            let Some(child) = child else {
                frames.pop();
                let Some(parent) = frames.last_mut() else {
                    return false;
                };
                // The state above `parent` is fully explored.
                self.visited
                    .finished(parent.keys[usize::from(parent.below)]);
                self.path.pop();
                parent.done_here |= 1 << parent.below;
                parent.fps[usize::from(parent.below)] = parent.below_fp;
                continue;
            };
            let tid = usize::from(f.below);
            if self.reach_depth(pool, frames, depth + 1) {
                return true;
            }
            frames.push(child);
            let (states, above) = pool.split_at_mut(depth + 1);
            let s = &states[depth][tid];
            let bufs = buffers(&mut above[0], s, n);
            if self.expand(s, bufs, &mut frames[depth + 1]) {
                return true;
            }
        }
    }

    /// Runs every thread's next step from `s` into `bufs` and fills `f` with the
    /// successors; returns `true` to stop (a deadlock ended the search, or another worker
    /// did).
    fn expand(&mut self, s: &Machine<A>, bufs: &mut [Machine<A>], f: &mut Frame) -> bool {
        let n = self.sc.threads.len() as u8;
        if self.visited.stopped() {
            return true;
        }
        let mut alive = false;
        let mut enabled = 0u8;
        for t in 0..n {
            if s.done(t) {
                continue;
            }
            alive = true;
            if f.sleep & (1 << t) != 0 {
                enabled |= 1 << t;
                continue;
            }
            let next = &mut bufs[usize::from(t)];
            if let Ok(st) = step_into(self.sc, &self.opts, s, next, t, &mut self.written) {
                enabled |= 1 << t;
                f.succs[usize::from(t)] = Some(st);
            }
        }
        if alive && enabled == 0 {
            let deadlock = Broken::of(InvariantId::DEADLOCK);
            let (sc, path) = (self.sc, &self.path);
            return self
                .found
                .record(&self.opts, || deadlock_cx(sc, s, path.clone()), &deadlock)
                && self.halt();
        }
        f.last_enabled = f.last < n && enabled & (1 << f.last) != 0;
        // Every successor's key first, its bucket loaded: the lookups' cache misses overlap
        // instead of each waiting behind the previous successor's whole subtree.
        for tid in 0..n {
            if f.succs[usize::from(tid)].is_some() {
                let cost = u8::from(f.last_enabled && tid != f.last);
                let key = self.key(&bufs[usize::from(tid)], tid, f.preempt + cost);
                self.visited.touch(key);
                f.keys[usize::from(tid)] = key;
            }
        }
        false
    }

    /// Ends the search for every worker; returns `true` (stop).
    fn halt(&self) -> bool {
        self.visited.stop();
        true
    }
}

/// `bufs` with a machine per thread to build successors in (cloned from `s` the first time
/// the search gets this deep).
fn buffers<'p, A: PmdOps>(
    bufs: &'p mut Vec<Machine<A>>,
    s: &Machine<A>,
    threads: u8,
) -> &'p mut [Machine<A>] {
    while bufs.len() < usize::from(threads) {
        bufs.push(s.clone());
    }
    bufs
}

/// Explores `sc` and returns the verdict with its counts.
pub fn explore<A: PmdOps>(sc: &Scenario<A>, opts: Options) -> Outcome {
    let start = Instant::now();
    let (found, incomplete, mut stats) = match opts.search {
        Search::DepthFirst => match jobs(&opts) {
            1 => dfs(sc, opts),
            j => parallel::dfs(sc, opts, j),
        },
        Search::BreadthFirst => bfs::bfs(sc, opts),
    };
    stats.elapsed = start.elapsed();
    let verdict = match (found.first, incomplete) {
        (Some(cx), _) => Verdict::Violated(cx),
        (None, Some(_)) => Verdict::Incomplete,
        (None, None) => Verdict::Holds,
    };
    Outcome {
        verdict,
        violated: found.all.set,
        violated_declared: found.all.declared,
        complete: incomplete.is_none(),
        bound: incomplete,
        stats,
    }
}

/// The depth-first search's bounds: `max_states`, and `max_memory` counting the visited set
/// at its peak during the next insert beside the path.
fn dfs_bound_reached(opts: &Options, states: u64, visited: &Visited) -> Option<Bound> {
    if states >= opts.max_states {
        return Some(Bound::States);
    }
    let max = opts.max_memory?;
    (visited.bytes_with_one_more() + visited.path() > max).then_some(Bound::Memory)
}

/// Checks the initial state's predicates (no step has run, so nothing was raised).
fn initial_violation<A: PmdOps>(sc: &Scenario<A>) -> Option<(Counterexample, Broken)> {
    let mut first = None;
    let mut all = Broken::default();
    invariant::each_violation_with(
        &sc.initial,
        &[],
        sc.invariants,
        &sc.declared,
        |invariant, what| {
            first.get_or_insert(Counterexample {
                invariant,
                what,
                schedule: Vec::new(),
                wait_cycle: Vec::new(),
                wait_for: Vec::new(),
            });
            all.add(invariant);
        },
    );
    first.map(|cx| (cx, all))
}

/// The worker threads `opts` asks for (0: one per core).
fn jobs(opts: &Options) -> usize {
    match opts.jobs {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        j => j,
    }
}

/// The bound that leaves no room for the initial state: `max_states` of 0, or `max_memory`
/// below `bytes`, what storing it takes.
fn no_room(opts: &Options, bytes: u64) -> Option<Bound> {
    if opts.max_states == 0 {
        Some(Bound::States)
    } else {
        opts.max_memory
            .is_some_and(|max| bytes > max)
            .then_some(Bound::Memory)
    }
}

/// A search that stops at `bound` before storing anything: it judges the initial state
/// alone (that needs no storage) and counts no state.
fn initial_only<A: PmdOps>(
    sc: &Scenario<A>,
    opts: &Options,
    bound: Bound,
) -> (Found, Option<Bound>, Stats) {
    let mut found = Found::default();
    if let Some((cx, all)) = initial_violation(sc) {
        if found.record(opts, || cx, &all) {
            return (found, None, Stats::default());
        }
    }
    (found, Some(bound), Stats::default())
}

fn dfs<A: PmdOps>(sc: &Scenario<A>, opts: Options) -> (Found, Option<Bound>, Stats) {
    if let Some(bound) = no_room(&opts, Visited::EMPTY_BYTES) {
        return initial_only(sc, &opts, bound);
    }
    let mut d = Dfs::new(sc, opts, Visited::new());
    let init = &sc.initial;
    if let Some((cx, all)) = initial_violation(sc) {
        if d.found.record(&opts, || cx, &all) {
            return (d.found, None, d.stats);
        }
    }
    let key = d.key(init, u8::MAX, 0);
    d.visited.insert(key, 0);
    d.stats.states = 1;
    d.visit(init, 0, &[Footprint::default(); MAX_THREADS], u8::MAX, 0);
    d.stats.visited_bytes = d.visited.bytes();
    d.stats.peak_bytes = d.visited.peak_bytes();
    (d.found, d.incomplete, d.stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sleep sets one state is met under, in order, and what each meeting must answer: a
    /// set lacking a thread the stored one holds explores the state again (state caching
    /// with sleep sets: Godefroid, "Partial-Order Methods for the Verification of Concurrent
    /// Systems", 1996), and the stored set becomes the meet.
    pub(super) const SLEEPS: [u8; 7] = [0b011, 0b111, 0b011, 0b001, 0b101, 0b000, 0b000];
    pub(super) const EXPECTED: [&str; 7] =
        ["new", "seen", "seen", "again", "seen", "again", "seen"];

    /// What `v` answers for `key` under each of `sleeps`.
    pub(super) fn claims(v: &mut impl VisitedSet, key: u64, sleeps: &[u8]) -> Vec<&'static str> {
        let opts = Options::default();
        sleeps
            .iter()
            .map(|&sleep| match v.claim(key, sleep, &opts) {
                Claim::New => "new",
                Claim::Again => "again",
                Claim::Seen => "seen",
                Claim::Bound(_) => "bound",
            })
            .collect()
    }

    #[test]
    fn a_state_is_explored_again_when_its_sleep_set_lacks_a_stored_thread() {
        assert_eq!(claims(&mut Visited::new(), 7, &SLEEPS), EXPECTED);
    }
}
