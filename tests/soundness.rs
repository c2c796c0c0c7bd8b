//! The checker never answers "holds" when a violation is reachable.
//!
//! Written as an outside crate would: step programs and scenarios through the public engine
//! API only. First the three shapes that once made a search say "holds" wrongly, then the
//! oracle: random small step programs on which every search (depth-first with and without
//! partial-order reduction, breadth-first, preemption-bounded with a bound no schedule
//! reaches) must give the same verdict, the same set of broken invariants and, complete, the
//! same number of reachable states as a reference search over whole machines written here
//! from public pieces, and where every counterexample replays to the invariant it names.
#![cfg(feature = "engine")]

use pgtable::arch::X86_64;
use pgtable::engine::explore::{Bound, Options, Outcome, Search, Verdict, explore};
use std::collections::{HashSet, VecDeque};

use pgtable::engine::invariant::{self, ALWAYS, Invariant, InvariantId, InvariantSet};
use pgtable::engine::mm::{GHOST_CELLS, Machine};
use pgtable::engine::program::{Limits, Program, ProgramError, Step, Typed, TypedProgram, Wait};
use pgtable::engine::state::locks::{MutexId, RcuId, RwsemId, SpinlockId};
use pgtable::engine::state::page_cache::XaEntry;
use pgtable::engine::state::vma::{VmFlags, VmaId};
use pgtable::engine::trace::replay;
use pgtable::engine::{Scenario, ScenarioBuilder, ScenarioError, Tid};
use pgtable::{PmdOps, PteOps};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};

type A = X86_64;

/// Every search the checker offers, named.
fn searches() -> [(&'static str, Options); 8] {
    let base = Options {
        stop_at_first: true,
        audit_footprints: true,
        ..Options::default()
    };
    [
        (
            "dfs",
            Options {
                search: Search::DepthFirst,
                por: false,
                ..base
            },
        ),
        (
            "dfs+por",
            Options {
                search: Search::DepthFirst,
                por: true,
                ..base
            },
        ),
        (
            // Workers sharing one visited set: the same states and verdict as one worker.
            "dfs+por on 2 workers",
            Options {
                search: Search::DepthFirst,
                por: true,
                jobs: 2,
                helpers_after: 0,
                ..base
            },
        ),
        (
            // The other two start once the first has stored two states.
            "dfs on 3 workers, started late",
            Options {
                search: Search::DepthFirst,
                por: false,
                jobs: 3,
                helpers_after: 2,
                ..base
            },
        ),
        (
            "bfs",
            Options {
                search: Search::BreadthFirst,
                por: false,
                ..base
            },
        ),
        (
            "bfs on 3 workers",
            Options {
                search: Search::BreadthFirst,
                por: false,
                jobs: 3,
                ..base
            },
        ),
        (
            // Without the footprint auditor, which judges every state invariant afresh: the
            // path a user's search takes, skipping a built-in invariant whose reads the step
            // left alone.
            "dfs+por, unaudited",
            Options {
                search: Search::DepthFirst,
                por: true,
                audit_footprints: false,
                ..base
            },
        ),
        (
            "dfs+por, preemption bound 64",
            Options {
                search: Search::DepthFirst,
                por: true,
                preemption_bound: Some(64),
                ..base
            },
        ),
    ]
}

/// The invariant every search reports first (each must report one).
#[track_caller]
fn every_search_finds(sc: &Scenario<A>) -> Vec<InvariantId> {
    searches()
        .iter()
        .map(|(name, opts)| match explore(sc, *opts).verdict {
            Verdict::Violated(cx) => {
                let trace = replay(sc, &cx.schedule).expect("the counterexample replays");
                if cx.invariant != InvariantId::DEADLOCK {
                    assert_eq!(
                        trace.violation().map(|v| v.0),
                        Some(cx.invariant),
                        "{name}: the replay ends in the reported violation"
                    );
                }
                cx.invariant
            }
            other => panic!("{name} answered {other:?} on a reachable violation"),
        })
        .collect()
}

// Hole 1: a step that raises a violation on its way into an already-visited state. Thread x
// flags INV-MODEL if thread y has finished; y only finishes. Breadth-first search used to
// check a state only when it was new, and (x after y) reaches the state (y after x) reached.
struct FlagIfOtherDone;
impl Program<A> for FlagIfOtherDone {
    fn name(&self) -> &'static str {
        "flag if y finished"
    }
    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        if m.th(Tid(1)).done {
            m.flag(InvariantId::MODEL, "y finished before x ran");
        }
        m.th_mut(t).done = true;
        Step::Ran("x")
    }
}

struct Finish;
impl Program<A> for Finish {
    fn name(&self) -> &'static str {
        "finish"
    }
    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        m.th_mut(t).done = true;
        Step::Ran("y")
    }
}

#[test]
fn a_violation_on_the_way_into_a_visited_state_is_reported() {
    let sc = ScenarioBuilder::<A>::new("flag-into-visited", 1)
        .thread("x", FlagIfOtherDone)
        .thread("y", Finish)
        .build()
        .unwrap();
    assert!(
        every_search_finds(&sc)
            .iter()
            .all(|&i| i == InvariantId::MODEL)
    );
}

// Hole 2: a flag for an invariant the scenario does not check used to mask every later flag
// on the path (the first flag won and stayed in the state).
struct TwoFlags;
impl Program<A> for TwoFlags {
    fn name(&self) -> &'static str {
        "two flags"
    }
    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        if m.th(t).pc == 0 {
            m.flag(InvariantId::DECODE, "not checked by this scenario");
            m.goto(t, 1);
        } else {
            m.flag(InvariantId::MODEL, "the second step breaks the model");
            m.th_mut(t).done = true;
        }
        Step::Ran("flag")
    }
}

#[test]
fn an_unchecked_flag_never_masks_a_later_one() {
    let sc = ScenarioBuilder::<A>::new("unchecked-flag", 1)
        .thread("f", TwoFlags)
        .invariants(InvariantSet::default().with(InvariantId::TABLE_LIFE))
        .build()
        .unwrap();
    for found in every_search_finds(&sc) {
        assert_eq!(found, InvariantId::MODEL);
    }
    // The step that raised only the unchecked flag breaks nothing.
    let trace = replay(&sc, &[0, 0]).unwrap();
    assert_eq!(trace.steps[0].violated, None);
    assert_eq!(
        trace.steps[1].violated.map(|v| v.0),
        Some(InvariantId::MODEL)
    );
    // Nor within one step: the unchecked flag raised first, the checked one second.
    assert_eq!(INVS[1], InvariantId::DECODE);
    let one_step = scenario_with(
        &[vec![Op::FlagTwo(1, 0)]],
        InvariantSet::default().with(InvariantId::TABLE_LIFE),
        0,
    );
    for found in every_search_finds(&one_step) {
        assert_eq!(found, InvariantId::MODEL);
    }
}

// Hole 3: partial-order reduction trusted footprints that a page lock did not record. One
// thread takes lock A then B, the other B then A; each kind of lock a program can take.
#[derive(Clone, Copy)]
enum Lock {
    Pmd,
    Page,
    MmapWrite,
}

/// Tries to take `lock`: `Ok(true)` taken, `Ok(false)` the step only queued (run it again),
/// `Err` blocked on what it names.
fn take(m: &mut Machine<A>, t: Tid, lock: Lock) -> Result<bool, Wait> {
    match lock {
        Lock::Pmd => m.pmd_lock(0, t).then_some(true).ok_or(Wait::PmdLock(0)),
        Lock::Page => m.page_lock(0, t).then_some(true).ok_or(Wait::PageLock(0)),
        Lock::MmapWrite => m.mmap_write(t).ok_or(Wait::MmapWrite),
    }
}

fn release(m: &mut Machine<A>, t: Tid, lock: Lock) {
    match lock {
        Lock::Pmd => m.pmd_unlock(0, t),
        Lock::Page => m.page_unlock(0, t),
        Lock::MmapWrite => m.mmap_write_unlock(t),
    }
}

/// Takes `first` then `second`, releases `first` then `second`.
struct TwoLocks {
    first: Lock,
    second: Lock,
}
impl Program<A> for TwoLocks {
    fn name(&self) -> &'static str {
        "two locks"
    }
    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let pc = m.th(t).pc;
        match pc {
            0 | 1 => {
                let lock = if pc == 0 { self.first } else { self.second };
                match take(m, t, lock) {
                    Ok(true) => m.goto(t, pc + 1),
                    Ok(false) => {}
                    Err(w) => return Step::Blocked(w),
                }
            }
            2 => {
                release(m, t, self.first);
                m.goto(t, 3);
            }
            _ => {
                release(m, t, self.second);
                m.th_mut(t).done = true;
            }
        }
        Step::Ran("lock")
    }
}

fn abba(a: Lock, b: Lock) -> Scenario<A> {
    ScenarioBuilder::<A>::new("abba", 1)
        .huge(0)
        .unwrap()
        .thread(
            "a-then-b",
            TwoLocks {
                first: a,
                second: b,
            },
        )
        .thread(
            "b-then-a",
            TwoLocks {
                first: b,
                second: a,
            },
        )
        .build()
        .unwrap()
}

#[test]
fn an_abba_over_a_page_lock_and_a_pmd_lock_deadlocks_under_every_search() {
    let sc = abba(Lock::Pmd, Lock::Page);
    for found in every_search_finds(&sc) {
        assert_eq!(found, InvariantId::DEADLOCK);
    }
    let Verdict::Violated(cx) = explore(&sc, Options::default()).verdict else {
        panic!("the default options miss the deadlock");
    };
    assert_eq!(cx.wait_cycle.len(), 2, "both threads are on the cycle");
}

#[test]
fn an_abba_over_mmap_lock_and_a_page_lock_deadlocks_under_every_search() {
    for found in every_search_finds(&abba(Lock::MmapWrite, Lock::Page)) {
        assert_eq!(found, InvariantId::DEADLOCK);
    }
}

// Bad input: a program outside its scenario is refused by `build`, naming the thread.
struct OutOfRange;
impl Program<A> for OutOfRange {
    fn name(&self) -> &'static str {
        "out of range"
    }
    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        m.th_mut(t).done = true;
        Step::Ran("nothing")
    }
    fn check(&self, limits: &Limits) -> Result<(), ProgramError> {
        limits.region(3)
    }
}

#[test]
fn a_program_outside_its_scenario_is_refused_with_its_thread() {
    let err = ScenarioBuilder::<A>::new("bad", 2)
        .thread("ok", Finish)
        .thread("bad", OutOfRange)
        .build()
        .err()
        .unwrap();
    assert_eq!(
        err,
        ScenarioError::BadThread {
            thread: 1,
            name: "bad",
            error: ProgramError::Region {
                region: 3,
                regions: 2
            }
        }
    );
    assert_eq!(
        err.to_string(),
        "thread 1 (bad): region 3 is outside the scenario's 2 regions (0..2)"
    );
}

// ---------------------------------------------------------------------------------------
// The oracle.

/// One step of a random program.
#[derive(Clone, Copy, Debug)]
enum Op {
    LockPmd(u8),
    UnlockPmd(u8),
    LockPage(u8),
    UnlockPage(u8),
    MmapRead,
    MmapReadUnlock,
    MmapWrite,
    MmapWriteUnlock,
    MmapDowngrade,
    /// Reads `pmd[r]` into register 0.
    ReadPmd(u8),
    /// Writes `pmd[r]`: the huge pmd of page 0, or the empty pmd.
    WritePmd(u8, bool),
    /// Writes `pmd[r]`: the huge zero pmd (a pfn that is no page of the machine).
    WriteZeroPmd(u8),
    /// Reads `table1.pte[s]` into register 0.
    ReadPte(u8),
    /// Writes `table1.pte[s]`: a pte of page 1, or the empty pte.
    WritePte(u8, bool),
    /// Frees table 1 (twice is a violation).
    FreeTable,
    PageGet(u8),
    PagePut(u8),
    /// Reads page `p`'s refcount and mapcount into register 0.
    ReadPage(u8),
    /// Reads ghost cell `i` into register 0.
    GhostRead(u8),
    /// Adds one to ghost cell `i`.
    GhostInc(u8),
    /// Raises the declared invariant [`ORACLE_RAISED`].
    FlagUser,
    /// Reads another thread's program counter into register 0.
    ReadThread(u8),
    /// Caches a huge (`None`) or small translation of region 1 on this CPU.
    TlbFill(Option<u8>),
    TlbFlush,
    /// Raises `INVS[i]` if register 0 hashes to `k` (mod 3).
    FlagIf(u8, u8),
    /// Raises `INVS[i]`, then `INVS[j]`, in one step.
    FlagTwo(u8, u8),
    /// `mprotect`: read-only (`true`) or read-write.
    SetProt(bool),
    /// Makes the VMA a file mapping (`true`) or anonymous.
    SetVmaFile(bool),
    /// Marks page `p` a page-cache page (`true`) or anonymous (counted by INV-002-NEVERNONE).
    SetPageFile(u8, bool),
    /// Sets or clears `PageAnonExclusive` of page `p` (what `do_wp_page` reads).
    SetPageAnonExclusive(u8, bool),
    /// Reads page `p`'s `PageAnonExclusive` into register 0.
    ReadPageAnonExclusive(u8),
    /// `try_grab_folio(FOLL_PIN)` of page `p`; with `true`, handed to the caller in the same
    /// step (slow GUP's grab under the lock).
    PagePin(u8, bool),
    /// Drops a pin of page `p`: one handed to the caller (`true`) or one GUP still holds.
    PageUnpin(u8, bool),
    /// Hands a pin of page `p` to the caller (INV-PIN-EXCLUSIVE then judges the page).
    PageKeepPin(u8),
    /// Reads `folio_maybe_dma_pinned` of page `p` into register 0.
    ReadPageMaybePinned(u8),
    /// `raw_write_seqcount_begin` (`true`) or `_end` of the thread's mm's `write_protect_seq`.
    WriteProtectSeq(bool),
    /// Reads the thread's mm's `write_protect_seq` into register 0.
    ReadWriteProtectSeq,
    /// Maps (`true`) or unmaps page `p` once in region `r` (its per-region counts).
    PageMap(u8, u8, bool),
    /// Reads how many mappings of page `p` region `r` holds into register 0.
    ReadPageMaps(u8, u8),
    /// Reads `vma_is_anonymous` into register 0.
    ReadVmaFile,
    /// MADV_DONTNEED's monitor: region 1's pages must be gone, and the call returned.
    DontneedDone,
    /// The declared spinlock (undeclared when [`NO_SPIN_BIT`] is set: INV-MODEL).
    SpinLock,
    SpinUnlock,
    MutexLock,
    MutexUnlock,
    /// The declared rwsem.
    DownRead,
    UpRead,
    DownWrite,
    UpWrite,
    DowngradeWrite,
    /// The declared RCU domain.
    RcuLock,
    RcuUnlock,
    SynchronizeRcu,
    /// Reads declared lock `i`'s state into register 0.
    ReadLock(u8),
    /// Queues on page `p`'s `PG_locked` without taking it (`migration_entry_wait_on_locked`);
    /// whether it queued goes to register 0.
    PageWaitEnqueue(u8),
    /// Sleeps until an unlock of page `p` wakes the queued thread.
    PageSleep(u8),
    /// `find_vma` of region `r` in the thread's mm into register 0.
    FindVma(u8),
    /// Detaches VMA `i` (0: region 0's, 1: region 1's).
    VmaDetach(u8),
    /// Grows VMA 1 down over region 0.
    VmaGrow,
    /// Sets `VM_DEAD` on VMA `i`.
    VmaDead(u8),
    /// Maps a new VMA over region 0 in the thread's mm (INV-MODEL over an attached one).
    VmaInsert,
    /// Reads the page cache at index `i` and `truncate_count` into register 0.
    CacheGet(u8),
    /// Puts page `p` in the page cache at index `i`, or (`None`) empties it.
    CacheSet(u8, Option<u8>),
    /// `truncate_count++`.
    TruncateBump,
    /// `xas_load` of index `i` and `nrpages` into register 0; a retry entry blocks on the
    /// declared spinlock (a lockless reader waiting for the collapse that holds it).
    XaLoad(u8),
    /// Parks `XA_RETRY_ENTRY` at index `i`.
    XaRetry(u8),
    /// `nrpages` plus or minus one.
    NrPages(bool),
    /// While another thread holds pmd 1's lock: takes a reference on page 0 (0), changes
    /// `table1.pte[0]` (1) or caches a huge translation of region 1 (2), then blocks on that
    /// lock, which drops the write; with the lock free, runs, writes nothing and reads what
    /// it would have written into register 0. A search must not let a blocked step's write
    /// reach a machine it builds later: the read in the same machine would see it.
    WriteThenWait(u8),
    /// Back to the first op if `pmd[r]` is none: a retry loop, which makes the state graph
    /// cyclic (only in [`looping_program_set`], whose ops set values rather than add to them).
    Retry(u8),
}

const SPIN: SpinlockId = SpinlockId::new(0, "oracle spinlock");
const MUTEX: MutexId = MutexId::new(1, "oracle mutex");
const RWSEM: RwsemId = RwsemId::new(2, "oracle rwsem");
const RCU: RcuId = RcuId::new(3, "oracle rcu");

/// The invariants a random program may raise, and that a scenario may check.
const INVS: [InvariantId; 7] = [
    InvariantId::MODEL,
    InvariantId::DECODE,
    InvariantId::TABLE_LIFE,
    InvariantId::LOCK_BALANCE,
    InvariantId::DEPOSIT,
    InvariantId::VALIDATE,
    InvariantId::ZERO_FOLIO,
];

#[derive(Clone, Debug)]
struct Scripted(Vec<Op>);

/// The same random program run as a [`TypedProgram`]: its register is its typed local.
#[derive(Clone, Debug)]
struct TypedScripted(Scripted);

impl Program<A> for Scripted {
    fn name(&self) -> &'static str {
        "scripted"
    }
    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let mut reg = m.th(t).regs[0];
        let step = self.run(m, t, &mut reg);
        if let Step::Ran(_) = step {
            m.th_mut(t).regs[0] = reg;
        }
        step
    }
}

impl TypedProgram<A> for TypedScripted {
    type Locals = (u64,);
    fn name(&self) -> &'static str {
        "scripted (typed)"
    }
    fn step(&self, m: &mut Machine<A>, t: Tid, l: &mut (u64,)) -> Step {
        self.0.run(m, t, &mut l.0)
    }
}

impl Scripted {
    /// Runs the op at the thread's program counter; `reg` is its one register.
    fn run(&self, m: &mut Machine<A>, t: Tid, reg: &mut u64) -> Step {
        let pc = m.th(t).pc;
        let Some(&op) = self.0.get(usize::from(pc)) else {
            m.th_mut(t).done = true;
            return Step::Ran("end");
        };
        match op {
            Op::LockPmd(r) => {
                if !m.pmd_lock(r, t) {
                    return Step::Blocked(Wait::PmdLock(r));
                }
            }
            Op::UnlockPmd(r) => m.pmd_unlock(r, t),
            Op::LockPage(p) => {
                if !m.page_lock(p, t) {
                    return Step::Blocked(Wait::PageLock(p));
                }
            }
            Op::UnlockPage(p) => m.page_unlock(p, t),
            Op::MmapRead => {
                if !m.mmap_read(t) {
                    return Step::Blocked(Wait::MmapRead);
                }
            }
            Op::MmapReadUnlock => m.mmap_read_unlock(t),
            Op::MmapWrite => match m.mmap_write(t) {
                Some(true) => {}
                Some(false) => return Step::Ran("mmap_write_lock: queued"),
                None => return Step::Blocked(Wait::MmapWrite),
            },
            Op::MmapWriteUnlock => m.mmap_write_unlock(t),
            Op::MmapDowngrade => m.mmap_downgrade(t),
            Op::Retry(r) => {
                if A::pmd_none(m.pmd_get(r)) {
                    m.goto(t, 0);
                    return Step::Ran("retry");
                }
            }
            Op::ReadPmd(r) => {
                let v = m.pmd_get(r).raw_u64();
                *reg = v;
            }
            Op::WritePmd(r, huge) => {
                let v = if huge {
                    A::mk_huge_pmd(Machine::<A>::page_pfn(0), m.prot()).unwrap()
                } else {
                    A::pmd_empty()
                };
                m.pmd_set(r, v);
            }
            Op::WriteZeroPmd(r) => {
                let v = A::mk_huge_pmd(Machine::<A>::huge_zero_pfn(), m.prot().read_only());
                m.pmd_set(r, v.unwrap());
            }
            Op::ReadPte(s) => {
                let v = m.pte_get(1, usize::from(s)).raw_u64();
                *reg = v;
            }
            Op::WritePte(s, present) => {
                let v = if present {
                    A::pfn_pte(Machine::<A>::page_pfn(1), A::pte_pgprot(m.prot())).unwrap()
                } else {
                    A::pte_empty(Machine::<A>::slot_addr(1, usize::from(s)))
                };
                m.pte_set(1, usize::from(s), v);
            }
            Op::FreeTable => m.table_free(1),
            Op::PageGet(p) => m.page_get(p),
            Op::PagePut(p) => m.page_put(p),
            Op::ReadPage(p) => {
                let waiters = m.page_waiters(p);
                let page = m.page(p);
                let v = u64::from(waiters) << 24
                    | u64::from(page.file) << 16
                    | u64::from(page.refcount) << 8
                    | u64::from(page.mapcount as u8);
                *reg = v;
            }
            Op::GhostRead(i) => {
                let v = m.ghost_get(usize::from(i));
                *reg = v;
            }
            Op::GhostInc(i) => {
                let v = m.ghost_get(usize::from(i));
                m.ghost_set(usize::from(i), v + 1);
            }
            Op::FlagUser => m.flag(ORACLE_RAISED.id(), "a program raised it"),
            Op::ReadThread(u) => {
                let v = u64::from(m.th(Tid(u)).pc) | u64::from(m.th(Tid(u)).done) << 8;
                *reg = v;
            }
            Op::TlbFill(slot) => {
                let pfn = Machine::<A>::page_pfn(1);
                m.tlb_fill(t.0, 1, slot.map(usize::from), pfn);
            }
            Op::TlbFlush => m.tlb_flush_region(1),
            Op::WriteThenWait(kind) => {
                if m.pmd_lock_holder(1).is_some_and(|h| h != t) {
                    match kind {
                        0 => m.page_get(0),
                        1 => {
                            // The other value than the one there: a write that changes it.
                            let pfn = Machine::<A>::page_pfn(1);
                            let mapped = A::pfn_pte(pfn, A::pte_pgprot(m.prot())).unwrap();
                            let empty = A::pte_empty(Machine::<A>::slot_addr(1, 0));
                            let v = m.pte_get(1, 0);
                            m.pte_set(1, 0, if v == mapped { empty } else { mapped });
                        }
                        _ => m.tlb_fill(t.0, 1, None, Machine::<A>::page_pfn(1)),
                    }
                    return Step::Blocked(Wait::PmdLock(1));
                }
                *reg = match kind {
                    0 => u64::from(m.page(0).refcount),
                    1 => m.pte_get(1, 0).raw_u64(),
                    _ => m.tlb_entry(t.0, 1, None).map_or(0, |pfn| pfn + 1),
                };
            }
            Op::FlagIf(i, k) => {
                let r = *reg;
                if (r ^ r >> 12 ^ r >> 40) % 3 == u64::from(k) {
                    m.flag(INVS[usize::from(i)], "a scripted condition held");
                }
            }
            Op::SetVmaFile(file) => m.set_vma_file(file),
            Op::SetPageFile(p, file) => m.page_set_file(p, file),
            Op::SetPageAnonExclusive(p, on) => m.page_set_anon_exclusive(p, on),
            Op::ReadPageAnonExclusive(p) => {
                let on = m.page(p).anon_exclusive;
                *reg = u64::from(on);
            }
            Op::PagePin(p, keep) => {
                m.page_pin(p);
                if keep {
                    m.page_keep_pin(p);
                }
            }
            Op::PageUnpin(p, kept) => m.page_unpin(p, kept),
            Op::PageKeepPin(p) => m.page_keep_pin(p),
            Op::ReadPageMaybePinned(p) => {
                let pinned = m.page_maybe_dma_pinned(p);
                *reg = u64::from(pinned);
            }
            Op::WriteProtectSeq(begin) => {
                if begin {
                    m.write_protect_seq_begin(t);
                } else {
                    m.write_protect_seq_end(t);
                }
            }
            Op::ReadWriteProtectSeq => {
                let seq = m.write_protect_seq(t);
                *reg = u64::from(seq);
            }
            Op::PageMap(p, r, up) => m.page_map(p, r, if up { 1 } else { -1 }),
            Op::ReadPageMaps(p, r) => {
                let n = m.page(p).maps_in(r);
                *reg = u64::from(n);
            }
            Op::ReadVmaFile => {
                let anon = m.vma_is_anonymous();
                *reg = u64::from(anon);
            }
            Op::SetProt(read_only) => m.set_prot(if read_only {
                pgtable::Protection::Read
            } else {
                pgtable::Protection::ReadWrite
            }),
            Op::DontneedDone => {
                let mut pages = 0u16;
                for (i, p) in m.allocated_pages() {
                    if p.mapcount > 0 && p.region == 1 {
                        pages |= 1 << i;
                    }
                }
                m.dontneed_add_pages(pages);
                m.dontneed_mark_done(1);
            }
            Op::FlagTwo(i, j) => {
                m.flag(INVS[usize::from(i)], "the first of two flags");
                m.flag(INVS[usize::from(j)], "the second of two flags");
            }
            Op::SpinLock => {
                if !m.spin_lock(SPIN, t) {
                    return Step::Blocked(Wait::Spinlock(SPIN));
                }
            }
            Op::SpinUnlock => m.spin_unlock(SPIN, t),
            Op::MutexLock => {
                if !m.mutex_lock(MUTEX, t) {
                    return Step::Blocked(Wait::Mutex(MUTEX));
                }
            }
            Op::MutexUnlock => m.mutex_unlock(MUTEX, t),
            Op::DownRead => {
                if !m.down_read(RWSEM, t) {
                    return Step::Blocked(Wait::RwsemRead(RWSEM));
                }
            }
            Op::UpRead => m.up_read(RWSEM, t),
            Op::DownWrite => match m.down_write(RWSEM, t) {
                Some(true) => {}
                Some(false) => return Step::Ran("down_write: queued"),
                None => return Step::Blocked(Wait::RwsemWrite(RWSEM)),
            },
            Op::UpWrite => m.up_write(RWSEM, t),
            Op::DowngradeWrite => m.downgrade_write(RWSEM, t),
            Op::RcuLock => m.rcu_read_lock(RCU, t),
            Op::RcuUnlock => m.rcu_read_unlock(RCU, t),
            Op::SynchronizeRcu => match m.synchronize_rcu(RCU, t) {
                Some(true) => {}
                Some(false) => return Step::Ran("synchronize_rcu: begins"),
                None => return Step::Blocked(Wait::GracePeriod(RCU)),
            },
            Op::FindVma(r) => {
                let mm = m.mm_of_thread(t);
                let v = m.find_vma(mm, r).map_or(0, |id| u64::from(id.0) + 1);
                *reg = v;
            }
            Op::VmaDetach(i) => m.vma_detach(VmaId(i)),
            Op::VmaGrow => m.vma_set_start(VmaId(1), 0),
            Op::VmaDead(i) => {
                let f = m.vma(VmaId(i)).flags;
                m.vma_set_flags(VmaId(i), f | VmFlags::DEAD);
            }
            Op::VmaInsert => {
                let mm = m.mm_of_thread(t);
                if m.vma_insert(mm, 0, 1, VmFlags::READ).is_none() {
                    m.flag(InvariantId::MODEL, "no VMA slot left");
                }
            }
            Op::CacheGet(i) => {
                let v = m.cache_get(usize::from(i)).map_or(0, |p| u64::from(p) + 1)
                    | u64::from(m.truncate_count()) << 8;
                *reg = v;
            }
            Op::CacheSet(i, p) => m.cache_set(usize::from(i), p),
            Op::TruncateBump => m.bump_truncate_count(),
            Op::XaLoad(i) => {
                let v = match m.xa_load(usize::from(i)) {
                    XaEntry::Retry => return Step::Blocked(Wait::Spinlock(SPIN)),
                    XaEntry::Empty => 0,
                    XaEntry::Page(p) => u64::from(p) + 1,
                } | u64::from(m.nrpages()) << 8;
                *reg = v;
            }
            Op::XaRetry(i) => m.xa_store(usize::from(i), XaEntry::Retry),
            Op::NrPages(up) => m.add_nrpages(if up { 1 } else { -1 }),
            Op::PageWaitEnqueue(p) => *reg = u64::from(m.page_wait_enqueue(p, t)),
            Op::PageSleep(p) => {
                if m.page_waiting(p, t) {
                    return Step::Blocked(Wait::PageLock(p));
                }
            }
            Op::ReadLock(i) => {
                let lock = [SPIN.lock(), MUTEX.lock(), RWSEM.lock(), RCU.lock()][usize::from(i)];
                let v = m.lock_state(lock).map_or(u64::MAX, |l| {
                    u64::from(l.sem.readers)
                        | u64::from(l.sem.queued_writers) << 8
                        | u64::from(l.sem.writer.raw()) << 16
                        | u64::from(l.gp_pending) << 24
                });
                *reg = v;
            }
        }
        m.goto(t, pc + 1);
        Step::Ran("op")
    }
}

fn op(threads: u8) -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (0..2u8).prop_map(Op::LockPmd),
        1 => (0..2u8).prop_map(Op::UnlockPmd),
        1 => (0..2u8).prop_map(Op::LockPage),
        1 => (0..2u8).prop_map(Op::UnlockPage),
        1 => Just(Op::MmapRead),
        1 => Just(Op::MmapReadUnlock),
        1 => Just(Op::MmapWrite),
        1 => Just(Op::MmapWriteUnlock),
        1 => Just(Op::MmapDowngrade),
        1 => (0..2u8).prop_map(Op::ReadPmd),
        1 => (0..2u8, any::<bool>()).prop_map(|(r, h)| Op::WritePmd(r, h)),
        1 => (0..2u8).prop_map(Op::WriteZeroPmd),
        1 => (0..2u8).prop_map(Op::ReadPte),
        1 => (0..2u8, any::<bool>()).prop_map(|(s, p)| Op::WritePte(s, p)),
        1 => Just(Op::FreeTable),
        1 => (0..3u8).prop_map(Op::PageGet),
        1 => (0..3u8).prop_map(Op::PagePut),
        1 => (0..3u8).prop_map(Op::ReadPage),
        1 => (0..GHOST_CELLS as u8).prop_map(Op::GhostRead),
        1 => (0..2u8).prop_map(Op::GhostInc),
        1 => Just(Op::FlagUser),
        1 => (0..threads).prop_map(Op::ReadThread),
        3 => prop_oneof![Just(None), (0..2u8).prop_map(Some)].prop_map(Op::TlbFill),
        1 => Just(Op::TlbFlush),
        1 => (0..3u8).prop_map(Op::WriteThenWait),
        1 => (0..INVS.len() as u8, 0..3u8).prop_map(|(i, k)| Op::FlagIf(i, k)),
        1 => (0..INVS.len() as u8, 0..INVS.len() as u8).prop_map(|(i, j)| Op::FlagTwo(i, j)),
        1 => any::<bool>().prop_map(Op::SetProt),
        1 => any::<bool>().prop_map(Op::SetVmaFile),
        1 => (0..3u8, any::<bool>()).prop_map(|(p, f)| Op::SetPageFile(p, f)),
        1 => (0..3u8, any::<bool>()).prop_map(|(p, on)| Op::SetPageAnonExclusive(p, on)),
        1 => (0..3u8).prop_map(Op::ReadPageAnonExclusive),
        2 => prop_oneof![
            (0..3u8, any::<bool>()).prop_map(|(p, keep)| Op::PagePin(p, keep)),
            (0..3u8, any::<bool>()).prop_map(|(p, kept)| Op::PageUnpin(p, kept)),
            (0..3u8).prop_map(Op::PageKeepPin),
            (0..3u8).prop_map(Op::ReadPageMaybePinned),
        ],
        1 => prop_oneof![
            any::<bool>().prop_map(Op::WriteProtectSeq),
            Just(Op::ReadWriteProtectSeq),
        ],
        1 => (0..3u8, 0..2u8, any::<bool>()).prop_map(|(p, r, up)| Op::PageMap(p, r, up)),
        1 => (0..3u8, 0..2u8).prop_map(|(p, r)| Op::ReadPageMaps(p, r)),
        1 => Just(Op::ReadVmaFile),
        1 => Just(Op::DontneedDone),
        1 => (0..2u8).prop_map(Op::FindVma),
        1 => (0..2u8).prop_map(Op::VmaDetach),
        1 => Just(Op::VmaGrow),
        1 => (0..2u8).prop_map(Op::VmaDead),
        1 => Just(Op::VmaInsert),
        1 => (0..2u8).prop_map(Op::CacheGet),
        1 => (0..2u8, prop_oneof![Just(None), (0..2u8).prop_map(Some)])
            .prop_map(|(i, p)| Op::CacheSet(i, p)),
        1 => Just(Op::TruncateBump),
        1 => prop_oneof![
            (0..2u8).prop_map(Op::XaLoad),
            (0..2u8).prop_map(Op::XaRetry),
            any::<bool>().prop_map(Op::NrPages),
        ],
        6 => prop_oneof![
            Just(Op::SpinLock),
            Just(Op::SpinUnlock),
            Just(Op::MutexLock),
            Just(Op::MutexUnlock),
            Just(Op::DownRead),
            Just(Op::UpRead),
            Just(Op::DownWrite),
            Just(Op::UpWrite),
            Just(Op::DowngradeWrite),
            Just(Op::RcuLock),
            Just(Op::RcuUnlock),
            Just(Op::SynchronizeRcu),
            (0..4u8).prop_map(Op::ReadLock),
            (0..2u8).prop_map(Op::PageWaitEnqueue),
            (0..2u8).prop_map(Op::PageSleep),
        ],
    ]
}

/// A random scenario: 2 or 3 threads of 1 to 4 ops, and a random set of invariants (the
/// flaggable ones and the state predicates).
fn program_set() -> impl Strategy<Value = (Vec<Vec<Op>>, u32)> {
    (2..=3u8).prop_flat_map(|n| {
        (
            proptest::collection::vec(proptest::collection::vec(op(n), 1..=4), usize::from(n)),
            any::<u32>(),
        )
    })
}

/// Ops that set a value rather than add to one: a program of them that starts over reaches
/// no new value, so its retry loops close cycles and its states stay finite.
fn looping_op(threads: u8) -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..2u8).prop_map(Op::Retry),
        1 => (0..2u8).prop_map(Op::LockPmd),
        1 => (0..2u8).prop_map(Op::UnlockPmd),
        2 => (0..2u8).prop_map(Op::ReadPmd),
        2 => (0..2u8, any::<bool>()).prop_map(|(r, h)| Op::WritePmd(r, h)),
        1 => (0..2u8).prop_map(Op::WriteZeroPmd),
        1 => (0..2u8).prop_map(Op::ReadPte),
        1 => (0..2u8, any::<bool>()).prop_map(|(s, p)| Op::WritePte(s, p)),
        1 => (0..threads).prop_map(Op::ReadThread),
        1 => prop_oneof![Just(None), (0..2u8).prop_map(Some)].prop_map(Op::TlbFill),
        1 => Just(Op::TlbFlush),
        1 => (0..INVS.len() as u8, 0..3u8).prop_map(|(i, k)| Op::FlagIf(i, k)),
        1 => Just(Op::FlagUser),
        1 => any::<bool>().prop_map(Op::SetProt),
        1 => (0..3u8, any::<bool>()).prop_map(|(p, f)| Op::SetPageFile(p, f)),
        1 => prop_oneof![
            Just(Op::SpinLock),
            Just(Op::SpinUnlock),
            Just(Op::MutexLock),
            Just(Op::MutexUnlock),
            (0..4u8).prop_map(Op::ReadLock),
        ],
    ]
}

/// Random programs with retry loops: 2 to 4 threads of 1 to 5 ops.
fn looping_program_set() -> impl Strategy<Value = (Vec<Vec<Op>>, u32)> {
    (2..=4u8).prop_flat_map(|n| {
        (
            proptest::collection::vec(
                proptest::collection::vec(looping_op(n), 1..=5),
                usize::from(n),
            ),
            any::<u32>(),
        )
    })
}

/// A declared invariant the oracle's programs raise ([`Op::FlagUser`]); declared when bit 30
/// of the scenario's bits is set.
static ORACLE_RAISED: Invariant = Invariant::new("INV-ORACLE-RAISED", "No program raises it.");
/// A custom state invariant over ghost cell 1; declared when bit 31 is set.
static ORACLE_STATE: Invariant = Invariant::new("INV-ORACLE-STATE", "Ghost cell 1 stays below 2.");
const RAISED_BIT: u32 = 1 << 30;
/// Leaves the spinlock undeclared: its ops raise INV-MODEL.
const NO_SPIN_BIT: u32 = 1 << 29;
/// Puts the last thread (and region 1) in a second process: its `mmap_*` ops take that mm's
/// own `mmap_lock`.
const TWO_MM_BIT: u32 = 1 << 28;
const STATE_BIT: u32 = 1 << 31;

fn oracle_state(m: &Machine<A>) -> Option<&'static str> {
    (m.ghost_get(1) >= 2).then_some("ghost cell 1 reached 2")
}

fn scenario(programs: &[Vec<Op>], set_bits: u32) -> Scenario<A> {
    let mut set = InvariantSet::default();
    let checkable = [
        InvariantId::MODEL,
        InvariantId::DECODE,
        InvariantId::TABLE_LIFE,
        InvariantId::LOCK_BALANCE,
        InvariantId::DEPOSIT,
        InvariantId::NEVER_NONE,
        InvariantId::TLB_SMALL_HUGE,
        InvariantId::DONTNEED,
        InvariantId::VALIDATE,
        InvariantId::ZERO_FOLIO,
        InvariantId::PIN_EXCLUSIVE,
    ];
    for (i, id) in checkable.iter().enumerate() {
        if set_bits & (1 << i) != 0 {
            set = set.with(*id);
        }
    }
    scenario_with(programs, set, set_bits)
}

fn scenario_with(programs: &[Vec<Op>], set: InvariantSet, set_bits: u32) -> Scenario<A> {
    let mut b = ScenarioBuilder::<A>::new("random", 2)
        .huge(0)
        .unwrap()
        .table(1)
        .unwrap()
        .invariants(set);
    if set_bits & RAISED_BIT != 0 {
        b = b.invariant(&ORACLE_RAISED);
    }
    if set_bits & STATE_BIT != 0 {
        b = b.state_invariant(&ORACLE_STATE, oracle_state);
    }
    if set_bits & NO_SPIN_BIT == 0 {
        b = b.spinlock(SPIN);
    }
    b = b.mutex(MUTEX).rwsem(RWSEM).rcu(RCU);
    let two_mms = set_bits & TWO_MM_BIT != 0;
    if two_mms {
        b = b.region_in(1, 1);
    }
    b = b.setup(|s| {
        s.vma(0, 0, 1, VmFlags::READ | VmFlags::WRITE)?;
        s.vma(u8::from(two_mms), 1, 2, VmFlags::READ | VmFlags::GROWSDOWN)?;
        Ok(())
    });
    for (i, p) in programs.iter().enumerate() {
        let mm = u8::from(two_mms && i + 1 == programs.len());
        // Odd threads keep their register as typed locals (`Typed`), even ones directly.
        b = if i % 2 == 1 {
            b.thread_in(mm, "t", Typed(TypedScripted(Scripted(p.clone()))))
        } else {
            b.thread_in(mm, "t", Scripted(p.clone()))
        };
    }
    b.build().unwrap()
}

/// What one search says, reduced to what every search must agree on.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    violated: InvariantSet,
    custom: std::collections::BTreeSet<&'static str>,
    states: Option<u64>,
}

fn answer(out: &Outcome) -> Answer {
    Answer {
        violated: out.violated,
        custom: out.violated_declared.iter().map(|id| id.id()).collect(),
        states: out.complete.then_some(out.stats.states),
    }
}

/// The reference: breadth-first over whole machines (exact states, no fingerprints, no
/// reduction), checking every step with the public pieces only.
// The machine's one interior-mutable part, the step's footprint, is left out of its Eq and
// Hash, so it is a sound set key.
#[allow(clippy::mutable_key_type)]
fn reference(sc: &Scenario<A>) -> Answer {
    let set = sc.invariants;
    let mut violated = InvariantSet::default();
    let mut custom = std::collections::BTreeSet::new();
    let declared = |id: InvariantId| sc.declared.iter().any(|k| k.invariant.id() == id);
    let mut check = |m: &Machine<A>, raised: &[pgtable::engine::mm::Flagged]| {
        for f in raised {
            if !f.id.is_builtin() {
                if declared(f.id) {
                    custom.insert(f.id.id());
                }
            } else if set.contains(f.id) || ALWAYS.contains(f.id) {
                violated = violated.with(f.id);
            }
        }
        for id in set.ids() {
            if invariant::check(m, InvariantSet::default().with(id)).is_some() {
                violated = violated.with(id);
            }
        }
        for k in &sc.declared {
            if k.check.is_some_and(|check| check(m).is_some()) {
                custom.insert(k.invariant.id);
            }
        }
    };
    check(&sc.initial, &[]);
    let mut seen = HashSet::new();
    seen.insert(sc.initial.clone());
    let mut queue = VecDeque::from([sc.initial.clone()]);
    let mut deadlock = false;
    while let Some(s) = queue.pop_front() {
        let (mut alive, mut ran) = (false, false);
        for (i, th) in sc.threads.iter().enumerate() {
            let t = Tid(i as u8);
            if s.th(t).done {
                continue;
            }
            alive = true;
            let mut next = s.clone();
            next.begin_step(false);
            if let Step::Blocked(_) = th.program.step(&mut next, t) {
                continue;
            }
            ran = true;
            let fx = next.end_step();
            check(&next, &fx.raised);
            next.end_step();
            if seen.insert(next.clone()) {
                queue.push_back(next);
            }
        }
        deadlock |= alive && !ran;
    }
    if deadlock {
        violated = violated.with(InvariantId::DEADLOCK);
    }
    Answer {
        violated,
        custom,
        states: Some(seen.len() as u64),
    }
}

/// Checks one random scenario; `Err` says which searches disagree.
fn agree(programs: &[Vec<Op>], set_bits: u32) -> Result<(), TestCaseError> {
    let sc = scenario(programs, set_bits);
    let truth = reference(&sc);
    // Exhaustive: every search visits every reachable state and finds every broken invariant.
    let mut all = Vec::new();
    for (name, opts) in searches() {
        let out = explore(
            &sc,
            Options {
                stop_at_first: false,
                ..opts
            },
        );
        prop_assert!(out.complete, "{name} did not complete");
        let mut a = answer(&out);
        if opts.preemption_bound.is_some() {
            // A bounded search keys states by (state, last thread, preemptions): its count
            // is not the number of reachable states.
            a.states = all.first().and_then(|(_, a): &(_, Answer)| a.states);
        }
        all.push((name, a));
    }
    for (name, a) in &all {
        prop_assert_eq!(a, &truth, "{} disagrees with the reference", name);
    }
    // First-violation mode: the same verdict everywhere, and the counterexample replays.
    let mut bfs_runs = Vec::new();
    for (name, opts) in searches() {
        let out = explore(&sc, opts);
        if opts.search == Search::BreadthFirst {
            bfs_runs.push((name, out.clone()));
        }
        let none = all[0].1.violated == InvariantSet::default() && all[0].1.custom.is_empty();
        match (&out.verdict, none) {
            (Verdict::Holds, true) => {}
            (Verdict::Violated(cx), false) => {
                prop_assert!(
                    all[0].1.violated.contains(cx.invariant)
                        || all[0].1.custom.contains(cx.invariant.id()),
                    "{} reports {} outside the exhaustive set",
                    name,
                    cx.invariant
                );
                let trace = replay(&sc, &cx.schedule)
                    .map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
                prop_assert_eq!(cx.wait_for.len(), cx.wait_cycle.len());
                if cx.invariant != InvariantId::DEADLOCK {
                    prop_assert_eq!(
                        trace.violation().map(|v| v.0),
                        Some(cx.invariant),
                        "{}: replay and explorer disagree on {:?}",
                        name,
                        cx.schedule
                    );
                    prop_assert_eq!(trace.steps.len(), cx.schedule.len());
                }
            }
            (v, _) => prop_assert!(false, "{} answered {:?} against {:?}", name, v, all[0].1),
        }
    }
    // Breadth-first on several workers is the same search: the same counterexample (not just
    // the same invariant) and the same counts, to the step.
    let (one, many) = (&bfs_runs[0], &bfs_runs[1]);
    prop_assert_eq!(&one.1.verdict, &many.1.verdict, "{} vs {}", one.0, many.0);
    let counts = |o: &Outcome| (o.stats.states, o.stats.transitions, o.stats.max_depth);
    prop_assert_eq!(counts(&one.1), counts(&many.1), "{} vs {}", one.0, many.0);
    Ok(())
}

/// Generated programs per run: 10,000 on the host, fewer under emulation (cross matrix);
/// `PGTABLE_ORACLE_CASES` overrides.
fn cases() -> u32 {
    if let Some(n) = std::env::var("PGTABLE_ORACLE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return n;
    }
    if std::env::var_os("PGTABLE_EMULATED").is_some() {
        // Debug code under qemu, on every target, in one time budget: with 500 this
        // suite took 117 s of s390x's 544 s.
        300
    } else {
        10_000
    }
}

#[test]
fn every_search_agrees_on_random_programs() {
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&program_set(), |(programs, set_bits)| {
            agree(&programs, set_bits)
        })
        .unwrap();
}

// The programs above run straight through, so their state graphs have no cycle; kernel
// code retries (`goto again`, a fault's retry), and a depth-first search meets a state still
// on its stack only then. The same agreement over programs that loop.
#[test]
fn every_search_agrees_on_random_programs_that_loop() {
    let mut runner = TestRunner::new(Config {
        cases: cases() / 5,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&looping_program_set(), |(programs, set_bits)| {
            agree(&programs, set_bits)
        })
        .unwrap();
}

/// Checks one random scenario under `max_states` and `max_memory`, on every search: a bound
/// of exactly what the unbounded run needed completes with the reference's answer, one less
/// stops with that bound, and a bound of `permille` thousandths of the need either completes
/// with the reference's answer or stops, with that bound, having held no more than it allows
/// and found nothing the reference does not find; in first-violation mode such a run never
/// says "holds" on a reachable violation. `Err` says which search and which bound.
fn agree_under_bounds(
    programs: &[Vec<Op>],
    set_bits: u32,
    permille: u64,
) -> Result<(), TestCaseError> {
    let sc = scenario(programs, set_bits);
    let truth = reference(&sc);
    let holds = truth.violated == InvariantSet::default() && truth.custom.is_empty();
    let within = |a: &Answer| {
        a.custom.is_subset(&truth.custom) && a.violated.ids().all(|id| truth.violated.contains(id))
    };
    for (name, opts) in searches() {
        let opts = Options {
            stop_at_first: false,
            ..opts
        };
        // A preemption-bounded search counts (state, last thread, preemptions) keys.
        let exact_states = opts.preemption_bound.is_none();
        let agrees = |out: &Outcome| {
            let mut a = answer(out);
            if !exact_states {
                a.states = truth.states;
            }
            a == truth
        };
        let full = explore(&sc, opts);
        prop_assert!(
            full.complete && agrees(&full),
            "{} unbounded: {:?}",
            name,
            answer(&full)
        );
        let (states, peak) = (full.stats.states, full.stats.peak_bytes);

        let at = explore(
            &sc,
            Options {
                max_states: states,
                ..opts
            },
        );
        prop_assert!(
            at.complete && at.bound.is_none() && agrees(&at),
            "{} with max_states {} = its states: {:?} {:?}",
            name,
            states,
            at.bound,
            answer(&at)
        );
        if states > 1 {
            let below = explore(
                &sc,
                Options {
                    max_states: states - 1,
                    ..opts
                },
            );
            // The verdict is the first violation found before the bound, if any.
            prop_assert_eq!(
                (below.complete, below.bound),
                (false, Some(Bound::States)),
                "{} with max_states {}",
                name,
                states - 1
            );
            prop_assert!(below.verdict != Verdict::Holds, "{}", name);
            prop_assert!(below.stats.states < states, "{}", name);
            prop_assert!(
                within(&answer(&below)),
                "{} below: {:?}",
                name,
                answer(&below)
            );
        }

        // Depth-first workers' peak depends on their timing; one worker's, and breadth-first's
        // on any number, does not.
        if opts.jobs == 1 || opts.search == Search::BreadthFirst {
            let exact = explore(
                &sc,
                Options {
                    max_memory: Some(peak),
                    ..opts
                },
            );
            prop_assert!(
                exact.complete && agrees(&exact) && exact.stats.peak_bytes == peak,
                "{} with max_memory {} = its peak: {:?} {:?} peak {}",
                name,
                peak,
                exact.bound,
                answer(&exact),
                exact.stats.peak_bytes
            );
            let less = explore(
                &sc,
                Options {
                    max_memory: Some(peak - 1),
                    ..opts
                },
            );
            prop_assert_eq!(
                (less.complete, less.bound),
                (false, Some(Bound::Memory)),
                "{} with max_memory {}",
                name,
                peak - 1
            );
            prop_assert!(less.stats.peak_bytes < peak, "{}", name);
            prop_assert!(within(&answer(&less)), "{} less: {:?}", name, answer(&less));
        }

        let bound = peak * permille / 1000;
        for stop_at_first in [false, true] {
            let out = explore(
                &sc,
                Options {
                    max_memory: Some(bound),
                    stop_at_first,
                    ..opts
                },
            );
            let what = format!("{name} with max_memory {bound} of {peak}, first {stop_at_first}");
            // Whatever ended it, it never held more than it was allowed.
            prop_assert!(
                out.stats.peak_bytes <= bound,
                "{}: {}",
                what,
                out.stats.peak_bytes
            );
            prop_assert!(
                out.bound.is_none() || out.bound == Some(Bound::Memory),
                "{}: {:?}",
                what,
                out.bound
            );
            prop_assert!(out.bound.is_none() || !out.complete, "{}", what);
            if out.verdict == Verdict::Incomplete {
                prop_assert_eq!(out.bound, Some(Bound::Memory), "{}", what);
            }
            prop_assert!(within(&answer(&out)), "{}: {:?}", what, answer(&out));
            match &out.verdict {
                Verdict::Holds => prop_assert!(out.complete && holds, "{}: holds", what),
                Verdict::Violated(cx) => {
                    let trace = replay(&sc, &cx.schedule)
                        .map_err(|e| TestCaseError::fail(format!("{what}: {e}")))?;
                    if cx.invariant != InvariantId::DEADLOCK {
                        prop_assert_eq!(trace.violation().map(|v| v.0), Some(cx.invariant));
                    }
                }
                Verdict::Incomplete => {}
            }
            if out.complete && !stop_at_first {
                prop_assert!(agrees(&out), "{}: {:?}", what, answer(&out));
            }
        }
    }
    Ok(())
}

// Bounds are where a search stops early, and stopping early is where a checker can say
// "holds" on what it never reached: the same oracle with every search under `max_states`
// and `max_memory`, at, just below and well below what it needed.
#[test]
fn every_search_agrees_with_the_reference_under_bounds() {
    // Each program runs every search seven times: a tenth of the oracle's programs on the
    // host; under emulation a thirtieth (10 and 2), since each target's suite shares one
    // time budget (at a tenth the soundness suite took 137 s of s390x's 660 s).
    let share = if std::env::var_os("PGTABLE_EMULATED").is_some() {
        30
    } else {
        10
    };
    for (programs, cases) in [
        (program_set().boxed(), cases() / share),
        (looping_program_set().boxed(), cases() / (share * 5)),
    ] {
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(
                &(programs, 0u64..=1000),
                |((programs, set_bits), permille)| {
                    agree_under_bounds(&programs, set_bits, permille)
                },
            )
            .unwrap();
    }
}

// A thread queued on a page's PG_locked sleeps until the next unlock wakes it, whoever locks
// the page after; every search agrees with the reference, and a wait for a page another
// sleeper's holder needs is a deadlock every search finds.
#[test]
fn a_page_waiter_sleeps_until_the_next_unlock_under_every_search() {
    use Op::*;
    let wake = [
        vec![LockPage(0), UnlockPage(0), LockPage(0), UnlockPage(0)],
        vec![PageWaitEnqueue(0), PageSleep(0), ReadPage(0)],
    ];
    agree(&wake, 0).unwrap();
    let cycle = [
        vec![LockPage(0), LockPage(1), UnlockPage(1)],
        vec![LockPage(1), PageWaitEnqueue(0), PageSleep(0), UnlockPage(1)],
    ];
    agree(&cycle, 0).unwrap();
    let found = every_search_finds(&scenario(&cycle, 0));
    assert!(
        found.iter().all(|&id| id == InvariantId::DEADLOCK),
        "{found:?}"
    );
}

// A blocked step's writes are dropped: the depth-first search copies into its pool machines
// only the groups of state (tables, pages, TLBs) some step has written, and a step that wrote
// and then blocked counts; the same op run later in the same pool machine with the lock free
// reads back what the blocked one wrote, were it still there (each kind alone fails when
// blocked steps' writes go unrecorded).
#[test]
fn a_blocked_steps_writes_reach_no_later_machine_under_every_search() {
    use Op::*;
    for kind in 0..3 {
        let programs = [
            vec![WriteThenWait(kind)],
            vec![LockPmd(1), GhostInc(0), UnlockPmd(1)],
            vec![GhostInc(1), WriteThenWait(kind)],
        ];
        agree(&programs, 0).unwrap();
        agree(&programs, STATE_BIT).unwrap();
    }
}

// `write_protect_seq` is per mm and part of the state: a reader in the writer's mm sees each
// phase (0, 1, 2), one in the other mm only 0, and every search agrees with the reference on
// both layouts; a second begin inside the section is the model's error.
#[test]
fn write_protect_seq_is_each_mms_own_under_every_search() {
    use Op::*;
    let programs = [
        vec![WriteProtectSeq(true), WriteProtectSeq(false)],
        vec![ReadWriteProtectSeq, GhostInc(0), ReadWriteProtectSeq],
    ];
    agree(&programs, 0).unwrap();
    agree(&programs, TWO_MM_BIT).unwrap();
    let same = reference(&scenario(&programs, 0)).states;
    let apart = reference(&scenario(&programs, TWO_MM_BIT)).states;
    // Apart, the reader's register never depends on the writer: fewer states.
    assert!(apart < same, "{apart:?} {same:?}");
    let nested = [vec![WriteProtectSeq(true), WriteProtectSeq(true)]];
    agree(&nested, 0).unwrap();
    assert!(every_search_finds(&scenario(&nested, 0)).contains(&InvariantId::MODEL));
}

// The oracle's generator reaches what it must: violations of every flaggable invariant, of
// the state predicates, deadlocks, and holds (else agreement would be vacuous).
#[test]
fn the_oracle_generates_every_kind_of_answer() {
    let mut runner = TestRunner::deterministic();
    let mut seen = InvariantSet::default();
    let mut seen_custom = std::collections::BTreeSet::new();
    let mut holds = 0;
    let mut declared_cycles = 0;
    let mut second_mm_cycles = 0;
    for _ in 0..20_000 {
        let (programs, bits) = program_set().new_tree(&mut runner).unwrap().current();
        let out = explore(
            &scenario(&programs, bits),
            Options {
                stop_at_first: false,
                ..Options::default()
            },
        );
        seen = InvariantSet(seen.0 | out.violated.0);
        for id in &out.violated_declared {
            seen_custom.insert(id.id());
        }
        holds +=
            u32::from(out.violated == InvariantSet::default() && out.violated_declared.is_empty());
        // A deadlock's wait-for cycle, searched for alone: the first counterexample of the
        // whole set is seldom the deadlock, which would make these counts hang on the op mix.
        if out.violated.contains(InvariantId::DEADLOCK) {
            let alone = scenario_with(
                &programs,
                InvariantSet::default().with(InvariantId::DEADLOCK),
                bits & (NO_SPIN_BIT | TWO_MM_BIT),
            );
            let Verdict::Violated(cx) = explore(&alone, Options::default()).verdict else {
                panic!("the deadlock is gone when searched for alone: {programs:?}")
            };
            declared_cycles += u32::from(
                cx.wait_for
                    .iter()
                    .any(|l| matches!(l, pgtable::engine::locks::LockName::Declared { .. })),
            );
            second_mm_cycles += u32::from(
                cx.wait_for
                    .contains(&pgtable::engine::locks::LockName::MmapLock(1)),
            );
        }
    }
    for id in [
        InvariantId::MODEL,
        InvariantId::DECODE,
        InvariantId::TABLE_LIFE,
        InvariantId::LOCK_BALANCE,
        InvariantId::NEVER_NONE,
        InvariantId::TLB_SMALL_HUGE,
        InvariantId::DONTNEED,
        InvariantId::DEADLOCK,
        InvariantId::PIN_EXCLUSIVE,
    ] {
        assert!(seen.contains(id), "no generated program breaks {id}");
    }
    for id in [ORACLE_RAISED.id, ORACLE_STATE.id] {
        assert!(seen_custom.contains(id), "no generated program breaks {id}");
    }
    assert!(holds > 100, "only {holds} generated programs hold");
    assert!(
        declared_cycles >= 3,
        "{declared_cycles} generated deadlocks wait for a declared lock"
    );
    assert!(
        second_mm_cycles >= 3,
        "{second_mm_cycles} generated deadlocks wait for the second process's mmap_lock"
    );
}

// Entries the oracle writes are the backend's own: an empty pte is pte_none.
#[test]
fn the_oracle_writes_real_entries() {
    assert!(A::pte_none(A::pte_empty(Machine::<A>::slot_addr(1, 0))));
    assert!(A::pmd_trans_huge(
        A::mk_huge_pmd(Machine::<A>::page_pfn(0), pgtable::Protection::ReadWrite).unwrap()
    ));
}

// Locks are data: a program whose labels say nothing about locks still gets every lock it
// took and released in its trace, named, from the machine's accessors (the audit's lock
// column reads them, never the label).
#[test]
fn traces_name_the_locks_the_machine_saw_not_the_labels() {
    use pgtable::engine::locks::{LockEvent, LockName, LockOp};
    let sc = ScenarioBuilder::<A>::new("locks", 1)
        .huge(0)
        .unwrap()
        .thread(
            "t",
            TwoLocks {
                first: Lock::MmapWrite,
                second: Lock::Pmd,
            },
        )
        .build()
        .unwrap();
    let trace = replay(&sc, &[0, 0, 0, 0]).unwrap();
    let ev = |lock, op| vec![LockEvent { lock, op }];
    let locks: Vec<Vec<LockEvent>> = trace.steps.iter().map(|s| s.locks.clone()).collect();
    assert_eq!(
        locks,
        [
            ev(LockName::MmapLock(0), LockOp::Acquire),
            ev(LockName::PmdLock(0), LockOp::Acquire),
            ev(LockName::MmapLock(0), LockOp::Release),
            ev(LockName::PmdLock(0), LockOp::Release),
        ]
    );
    assert!(trace.steps.iter().all(|s| s.label == "lock"));
    let text = trace.to_string();
    assert!(text.contains("locks: takes pmd_lock(pmd[0])"), "{text}");
    assert!(text.contains("locks: releases mmap_lock"), "{text}");
}
