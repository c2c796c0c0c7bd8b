//! Breadth-first search, level by level, on [`Options::jobs`] worker threads.
//!
//! A level (every state at one depth) is expanded in three phases:
//! 1. **expand**, in parallel over chunks of the level: every step of every state, the
//!    step's invariants and the successor's fingerprint. A successor stored at an earlier
//!    depth is dropped here, so only possibly-new machines are kept.
//! 2. **store**, in parallel over the [`SHARDS`] shards of the state store (a fingerprint's
//!    shard is fixed by its bits): each shard takes the level's candidates it owns in
//!    frontier order and stores the first of each new fingerprint with its parent.
//! 3. **commit**, sequentially over counts only: walks the steps in frontier order as a FIFO
//!    queue would meet them, for the counts, the bounds and the violations.
//!
//! Nothing depends on the number of workers: the shards, the order of a shard's inserts and
//! the commit order are fixed by the scenario, so every core count gives the same states,
//! transitions, verdict and first (shortest) counterexample as one core.
//!
//! A stored state costs 13 bytes (fingerprint, parent, thread) plus a 4-byte index and a
//! control byte in its shard's table: what the counterexample's schedule is rebuilt from.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::vec::Vec;

use std::collections::HashSet;

use hashbrown::HashTable;
use rayon::prelude::*;

use crate::entry::PmdOps;

use super::{
    Bound, Broken, Counterexample, Found, Fx, Options, Stats, deadlock_cx, initial_violation,
    step_into,
};
use crate::engine::Scenario;
use crate::engine::invariant::InvariantId;
use crate::engine::mm::Machine;

/// Shard count: fixed, so the store's layout (and its byte count) is the same whatever the
/// number of workers.
const SHARD_BITS: u32 = 6;
const SHARDS: usize = 1 << SHARD_BITS;
/// A state's id: its shard in the top bits, its index in the shard below.
const LOCAL_BITS: u32 = 32 - SHARD_BITS;
/// Expand tasks per level: a fixed number, so a level's tasks, their candidates and the bytes
/// they hold are the same whatever the core count; the bounds keep a task big enough to
/// amortise it and small enough to keep its candidates in cache.
const TASKS: usize = 8;
const CHUNK_MIN: usize = 32;
const CHUNK_MAX: usize = 2048;
/// The parent of the initial state.
const ROOT: u8 = u8::MAX;
/// A candidate no shard stored (its fingerprint was seen first elsewhere).
const NOT_NEW: u32 = u32::MAX;

fn shard_of(fp: u64) -> usize {
    // Not the top bits: hashbrown takes its control byte from those.
    (fp >> 32) as usize & (SHARDS - 1)
}

/// One shard of the visited states: fingerprints, parents and the thread that stepped, in
/// insertion order, indexed by a table that holds only the index.
#[derive(Default)]
struct Shard {
    fp: Vec<u64>,
    parent: Vec<u32>,
    tid: Vec<u8>,
    table: HashTable<u32>,
}

impl Shard {
    fn contains(&self, fp: u64) -> bool {
        self.table
            .find(fp, |&i| self.fp[i as usize] == fp)
            .is_some()
    }

    /// Stores `fp` if it is new; returns its local index, or `None` when it was there (or the
    /// shard is full, which `Bfs::store` reports as a state bound).
    fn insert(&mut self, fp: u64, parent: u32, tid: u8) -> Option<Result<u32, ()>> {
        if self.contains(fp) {
            return None;
        }
        let i = self.fp.len();
        if i >= 1 << LOCAL_BITS {
            return Some(Err(()));
        }
        self.fp.push(fp);
        self.parent.push(parent);
        self.tid.push(tid);
        let fps = &self.fp;
        self.table.insert_unique(fp, i as u32, |&j| fps[j as usize]);
        Some(Ok(i as u32))
    }

    fn bytes(&self) -> u64 {
        let cap = self.table.capacity();
        let buckets = if cap == 0 {
            0
        } else if cap < 8 {
            cap + 1
        } else {
            (cap * 8 / 7).next_power_of_two()
        };
        (buckets * (core::mem::size_of::<u32>() + 1)
            + self.fp.capacity() * 8
            + self.parent.capacity() * 4
            + self.tid.capacity()) as u64
    }
}

/// A successor that may be new.
struct Cand<A: PmdOps> {
    /// Its parent's index in the task's states.
    state: u32,
    tid: u8,
    fp: u64,
    next: Machine<A>,
    /// Its id once a shard stored it; [`NOT_NEW`] otherwise.
    id: AtomicU32,
}

/// Something the commit phase must meet in order.
struct Event {
    /// The state's index in the task's states.
    state: u32,
    /// The step's thread; for a deadlock, the thread count (after every step).
    tid: u8,
    invariant: InvariantId,
    what: &'static str,
    all: Broken,
    /// A deadlock's cycle: threads and the locks they wait for.
    cycle: Option<Counterexample>,
}

/// The memory a level may still take ([`Options::max_memory`]): what its tasks' candidate
/// arrays hold, counted as they grow, beside what the search held before the level.
struct Budget {
    /// The store (with room for its tables to grow while storing) and the frontier.
    held: u64,
    max: Option<u64>,
    used: AtomicU64,
    over: AtomicBool,
}

impl Budget {
    /// Counts `bytes` more before they are taken; returns `false`, counting nothing, when
    /// they would pass the bound (every task then stops: whether a level passes depends only
    /// on its total, not on the order its tasks ran in).
    fn charge(&self, bytes: u64) -> bool {
        let used = self.used.fetch_add(bytes, Ordering::Relaxed) + bytes;
        match self.max {
            Some(max) if self.held + used > max => {
                self.used.fetch_sub(bytes, Ordering::Relaxed);
                self.over.store(true, Ordering::Relaxed);
                false
            }
            _ => true,
        }
    }
}

/// One task's share of a level.
struct Expanded<A: PmdOps> {
    cands: Vec<Cand<A>>,
    /// Per shard, the indices of `cands` it owns, in order.
    buckets: Vec<Vec<u32>>,
    /// Per state, the threads whose step ran.
    enabled: Vec<u8>,
    events: Vec<Event>,
}

/// A level's states: the previous level's candidates in frontier order, in place (moving a
/// machine costs as much as a step); those no shard stored are skipped.
type Frontier<A> = Vec<Vec<Cand<A>>>;
/// An expand task: its states and what their steps gave.
type Task<'a, A> = (&'a [Cand<A>], Expanded<A>);

struct Bfs<'a, A: PmdOps> {
    sc: &'a Scenario<A>,
    opts: Options,
    shards: Vec<Shard>,
}

impl<A: PmdOps> Bfs<'_, A> {
    fn parent(&self, id: u32) -> (u32, u8) {
        let s = &self.shards[(id >> LOCAL_BITS) as usize];
        let i = (id & ((1 << LOCAL_BITS) - 1)) as usize;
        (s.parent[i], s.tid[i])
    }

    fn schedule_to(&self, mut id: u32) -> Vec<u8> {
        let mut sched = Vec::new();
        loop {
            let (p, t) = self.parent(id);
            if t == ROOT {
                break;
            }
            sched.push(t);
            id = p;
        }
        sched.reverse();
        sched
    }

    fn seen(&self, fp: u64) -> bool {
        self.shards[shard_of(fp)].contains(fp)
    }

    fn bytes(&self) -> u64 {
        self.shards.iter().map(Shard::bytes).sum()
    }

    /// Phase 1 on `states`.
    fn expand(&self, states: &[Cand<A>], budget: &Budget) -> Expanded<A> {
        let n = self.sc.threads.len() as u8;
        let mut out = Expanded {
            cands: Vec::new(),
            buckets: (0..SHARDS).map(|_| Vec::new()).collect(),
            enabled: Vec::with_capacity(states.len()),
            events: Vec::new(),
        };
        let mut local: HashSet<u64, Fx> = HashSet::default();
        // Each step runs in one scratch machine; only a possibly-new successor is copied out.
        let mut scratch: Option<Machine<A>> = None;
        for (k, c) in states.iter().enumerate() {
            if budget.over.load(Ordering::Relaxed) {
                break;
            }
            if c.id.load(Ordering::Relaxed) == NOT_NEW {
                out.enabled.push(0);
                continue;
            }
            let s = &c.next;
            let mut alive = false;
            let mut enabled = 0u8;
            for t in 0..n {
                if s.done(t) {
                    continue;
                }
                alive = true;
                let next = scratch.get_or_insert_with(|| s.clone());
                // Copied whole: the tasks of a level share no record of what was written.
                let mut whole = u64::MAX;
                let Ok(st) = step_into(self.sc, &self.opts, s, next, t, &mut whole) else {
                    continue;
                };
                enabled |= 1 << t;
                if let Some((invariant, what)) = st.broke {
                    out.events.push(Event {
                        state: k as u32,
                        tid: t,
                        invariant,
                        what,
                        all: st.all,
                        cycle: None,
                    });
                }
                let fp = next.fingerprint();
                // Seen at an earlier depth, or earlier in this task: the first copy is the
                // one a shard could store, so later copies need not keep their machine.
                if self.seen(fp) || !local.insert(fp) {
                    continue;
                }
                if out.cands.len() == out.cands.capacity() {
                    // Grown here rather than by push, so the bytes it takes are counted.
                    let more = out.cands.capacity().max(4);
                    if !budget.charge((more * core::mem::size_of::<Cand<A>>()) as u64) {
                        break;
                    }
                    out.cands.reserve_exact(more);
                }
                out.buckets[shard_of(fp)].push(out.cands.len() as u32);
                out.cands.push(Cand {
                    state: k as u32,
                    tid: t,
                    fp,
                    next: next.clone(),
                    id: AtomicU32::new(NOT_NEW),
                });
            }
            out.enabled.push(enabled);
            if alive && enabled == 0 {
                out.events.push(Event {
                    state: k as u32,
                    tid: n,
                    invariant: InvariantId::DEADLOCK,
                    what: "every remaining thread is blocked",
                    all: Broken::of(InvariantId::DEADLOCK),
                    cycle: Some(deadlock_cx(self.sc, s, Vec::new())),
                });
            }
        }
        out
    }

    /// Phase 2 for shard `si`: stores the level's new fingerprints it owns, first come first
    /// stored. Returns whether the shard overflowed its index space.
    fn store(si: usize, shard: &mut Shard, tasks: &[Task<'_, A>]) -> bool {
        for (states, ex) in tasks {
            for &c in &ex.buckets[si] {
                let c = &ex.cands[c as usize];
                let parent = states[c.state as usize].id.load(Ordering::Relaxed);
                match shard.insert(c.fp, parent, c.tid) {
                    None => {}
                    Some(Ok(local)) => {
                        c.id.store((si as u32) << LOCAL_BITS | local, Ordering::Relaxed)
                    }
                    Some(Err(())) => return true,
                }
            }
        }
        false
    }
}

/// Runs `f` over `items` on the pool, or on this thread when there is none.
fn map<T: Sync, R: Send>(
    pool: Option<&rayon::ThreadPool>,
    items: &[T],
    f: impl Fn(&T) -> R + Sync + Send,
) -> Vec<R> {
    match pool {
        Some(p) => p.install(|| items.par_iter().map(&f).collect()),
        None => items.iter().map(f).collect(),
    }
}

pub(super) fn bfs<A: PmdOps>(sc: &Scenario<A>, opts: Options) -> (Found, Option<Bound>, Stats) {
    let mut stats = Stats::default();
    let mut found = Found::default();
    let jobs = super::jobs(&opts);
    // A pool that cannot be built (no threads left) leaves the search on this thread.
    let pool = (jobs > 1)
        .then(|| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(jobs)
                .build()
                .ok()
        })
        .flatten();
    let pool = pool.as_ref();
    let mut b = Bfs {
        sc,
        opts,
        shards: (0..SHARDS).map(|_| Shard::default()).collect(),
    };
    let init_fp = sc.initial.fingerprint();
    // Its first level holds the initial state's shard (room to grow included) and machine.
    let first_level = {
        let mut shard = Shard::default();
        shard.insert(init_fp, 0, ROOT);
        shard.bytes() * 3 / 2 + core::mem::size_of::<Cand<A>>() as u64
    };
    if let Some(bound) = super::no_room(&opts, first_level) {
        return super::initial_only(sc, &opts, bound);
    }
    let init_shard = shard_of(init_fp);
    let Some(Ok(local)) = b.shards[init_shard].insert(init_fp, 0, ROOT) else {
        unreachable!("an empty store takes the initial state")
    };
    let init_id = (init_shard as u32) << LOCAL_BITS | local;
    stats.states = 1;
    if let Some((cx, all)) = initial_violation(sc) {
        if found.record(&opts, || cx, &all) {
            stats.visited_bytes = b.bytes();
            return (found, None, stats);
        }
    }
    let n = sc.threads.len() as u8;
    let cand_bytes = core::mem::size_of::<Cand<A>>() as u64;
    let mut frontier: Frontier<A> = std::vec![std::vec![Cand {
        state: 0,
        tid: ROOT,
        fp: init_fp,
        next: sc.initial.clone(),
        id: AtomicU32::new(init_id),
    }]];
    let mut live = 1u64;
    let mut incomplete = None;
    let mut depth = 0u32;
    'search: while live > 0 {
        stats.max_depth = depth;
        let len: usize = frontier.iter().map(Vec::len).sum();
        let chunk = (len / TASKS).clamp(CHUNK_MIN, CHUNK_MAX);
        let slices: Vec<&[Cand<A>]> = frontier.iter().flat_map(|v| v.chunks(chunk)).collect();
        // Stored tables grow while storing: up to a quarter of the shards doubling at once.
        let store = b.bytes();
        let queued: u64 = frontier.iter().map(|v| v.capacity() as u64).sum();
        let budget = Budget {
            held: store + store / 2 + queued * cand_bytes,
            max: opts.max_memory,
            used: AtomicU64::new(0),
            over: AtomicBool::new(false),
        };
        if budget.max.is_some_and(|max| budget.held > max) {
            incomplete = Some(Bound::Memory);
            break;
        }
        let expanded = map(pool, &slices, |s| b.expand(s, &budget));
        stats.peak_bytes = stats
            .peak_bytes
            .max(budget.held + budget.used.load(Ordering::Relaxed));
        if budget.over.load(Ordering::Relaxed) {
            incomplete = Some(Bound::Memory);
            break;
        }
        let tasks: Vec<Task<'_, A>> = slices.into_iter().zip(expanded).collect();
        let overflow = {
            let tasks = &tasks;
            let run = |(si, shard): (usize, &mut Shard)| Bfs::<A>::store(si, shard, tasks);
            match pool {
                Some(p) => p.install(|| b.shards.par_iter_mut().enumerate().map(run).any(|o| o)),
                None => b.shards.iter_mut().enumerate().any(run),
            }
        };
        // Commit: the FIFO order, step by step.
        live = 0;
        for (states, ex) in &tasks {
            let mut cands = ex.cands.iter().peekable();
            let mut events = ex.events.iter().peekable();
            for (k, &enabled) in ex.enabled.iter().enumerate() {
                let k = k as u32;
                for t in 0..=n {
                    if t < n && enabled & (1 << t) != 0 {
                        stats.transitions += 1;
                    }
                    if let Some(e) = events.next_if(|e| e.state == k && e.tid == t) {
                        let cx = || {
                            let id = states[k as usize].id.load(Ordering::Relaxed);
                            let mut schedule = b.schedule_to(id);
                            match &e.cycle {
                                Some(c) => Counterexample {
                                    schedule,
                                    ..c.clone()
                                },
                                None => {
                                    schedule.push(t);
                                    Counterexample {
                                        invariant: e.invariant,
                                        what: e.what,
                                        schedule,
                                        wait_cycle: Vec::new(),
                                        wait_for: Vec::new(),
                                    }
                                }
                            }
                        };
                        if found.record(&opts, cx, &e.all) {
                            break 'search;
                        }
                    }
                    if let Some(c) = cands.next_if(|c| c.state == k && c.tid == t) {
                        if c.id.load(Ordering::Relaxed) == NOT_NEW {
                            continue;
                        }
                        if stats.states >= opts.max_states || overflow {
                            incomplete = Some(Bound::States);
                            break 'search;
                        }
                        stats.states += 1;
                        live += 1;
                    }
                }
            }
        }
        frontier = tasks.into_iter().map(|(_, ex)| ex.cands).collect();
        depth += 1;
    }
    stats.visited_bytes = b.bytes();
    (found, incomplete, stats)
}
