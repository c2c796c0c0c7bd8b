//! Scenarios written as an outside crate writes them, through the public API only, with locks
//! of their own: an rwsem with `downgrade_write` (munmap's detach under the write lock, as
//! v4.20 merged it, against the proposal that detached under the read lock), an RCU domain
//! (a lockless walker against a table freed after, or without, a grace period), and the
//! deadlocks such locks make, each cycle naming its locks. Every search agrees on every one.

use pgtable::arch::X86_64;
use pgtable::engine::explore::{Counterexample, Options, Verdict, explore};
use pgtable::engine::invariant::{Invariant, InvariantId};
use pgtable::engine::locks::LockName;
use pgtable::engine::mm::Machine;
use pgtable::engine::program::{Locals, Program, Step, Typed, TypedProgram, Wait};
use pgtable::engine::state::locks::{MAX_LOCKS, MutexId, RcuId, RwsemId, SpinlockId};
use pgtable::engine::trace::{ReplayError, replay};
use pgtable::engine::{Scenario, ScenarioBuilder, ScenarioError, Tid};
use pgtable::{PmdOps, Pte, PteOps};

type A = X86_64;

const MM_SEM: RwsemId = RwsemId::new(0, "mm->mmap_sem");
const TABLE_RCU: RcuId = RcuId::new(1, "rcu (table free)");
const PAGE_TABLE_LOCK: SpinlockId = SpinlockId::new(2, "mm->page_table_lock");
const UFFD_MUTEX: MutexId = MutexId::new(3, "ctx->mutex");

/// Ghost cell: 1 while the VMA is linked in the mm (the scenario starts with it linked).
const VMA_LINKED: usize = 0;
/// Ghost cell: 1 once munmap has returned.
const UNMAPPED: usize = 1;

mod common;

static NO_ORPHAN: Invariant = Invariant::new(
    "INV-USER-NO-ORPHAN",
    "Once munmap has returned, nothing is mapped in the range it unmapped.",
);

/// Every search finds a violation of `id`, and the counterexample replays to it (a deadlock:
/// to a state where no thread runs). Returns the shortest-first (breadth-first) one.
#[track_caller]
fn every_search_finds(sc: &Scenario<A>, id: InvariantId) -> Counterexample {
    let mut last = None;
    for opts in common::every_search(1) {
        let Verdict::Violated(cx) = explore(sc, opts).verdict else {
            panic!("{opts:?}: {} not found", id.id())
        };
        assert_eq!(cx.invariant, id, "{opts:?}");
        let trace = replay(sc, &cx.schedule).expect("replays");
        if id != InvariantId::DEADLOCK {
            assert_eq!(trace.violation().map(|v| v.0), Some(id), "{trace}");
        }
        last = Some(cx);
    }
    last.unwrap()
}

#[track_caller]
fn every_search_holds(sc: &Scenario<A>) {
    for opts in common::every_search(1) {
        let out = explore(sc, opts);
        assert_eq!(out.verdict, Verdict::Holds, "{opts:?}");
        assert!(out.complete);
    }
}

// --- An rwsem with downgrade_write: munmap against a page fault. ---

/// `munmap` as v4.20 merged it (`__do_munmap` with `downgrade`): detach the VMA under the
/// write lock, downgrade, zap under the read lock. `detach_under_read` is the shape that was
/// proposed first: the whole of munmap under the read lock.
struct Munmap {
    detach_under_read: bool,
}

const LOCK: u8 = 0;
const DETACH: u8 = 1;
const DOWNGRADE: u8 = 2;
const ZAP: u8 = 3;
const UNLOCK: u8 = 4;

impl Program<A> for Munmap {
    fn name(&self) -> &'static str {
        "__do_munmap (v4.20)"
    }
    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        match m.th(t).pc {
            LOCK if self.detach_under_read => {
                if !m.down_read(MM_SEM, t) {
                    return Step::Blocked(Wait::RwsemRead(MM_SEM));
                }
                m.goto(t, DETACH);
                Step::Ran("down_read(mmap_sem)")
            }
            LOCK => match m.down_write(MM_SEM, t) {
                Some(true) => {
                    m.goto(t, DETACH);
                    Step::Ran("down_write(mmap_sem)")
                }
                Some(false) => Step::Ran("down_write(mmap_sem): queued"),
                None => Step::Blocked(Wait::RwsemWrite(MM_SEM)),
            },
            DETACH => {
                m.ghost_set(VMA_LINKED, 0);
                m.goto(
                    t,
                    if self.detach_under_read {
                        ZAP
                    } else {
                        DOWNGRADE
                    },
                );
                Step::Ran("detach_vmas_to_be_unmapped")
            }
            DOWNGRADE => {
                m.downgrade_write(MM_SEM, t);
                m.goto(t, ZAP);
                Step::Ran("downgrade_write(mmap_sem)")
            }
            ZAP => {
                m.pmd_set(0, A::pmd_empty());
                m.goto(t, UNLOCK);
                Step::Ran("unmap_region: zap the pmd")
            }
            _ => {
                m.up_read(MM_SEM, t);
                m.ghost_set(UNMAPPED, 1);
                m.th_mut(t).done = true;
                Step::Ran("up_read(mmap_sem); munmap returns")
            }
        }
    }
}

/// A page fault: `find_vma` under the read lock, then a huge pmd installed if it found one.
struct Fault;

const FIND_VMA: u8 = 1;
const INSTALL: u8 = 2;

impl Program<A> for Fault {
    fn name(&self) -> &'static str {
        "do_page_fault"
    }
    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        match m.th(t).pc {
            LOCK => {
                if !m.down_read(MM_SEM, t) {
                    return Step::Blocked(Wait::RwsemRead(MM_SEM));
                }
                m.goto(t, FIND_VMA);
                Step::Ran("down_read(mmap_sem)")
            }
            FIND_VMA => {
                let found = m.ghost_get(VMA_LINKED) == 1;
                m.goto(t, if found { INSTALL } else { UNLOCK });
                Step::Ran(if found {
                    "find_vma: found"
                } else {
                    "find_vma: none (SIGSEGV)"
                })
            }
            INSTALL => {
                let pmd = A::mk_huge_pmd(Machine::<A>::page_pfn(0), m.prot()).unwrap();
                m.pmd_set(0, pmd);
                m.goto(t, UNLOCK);
                Step::Ran("set_pmd_at: a huge pmd")
            }
            _ => {
                m.up_read(MM_SEM, t);
                m.th_mut(t).done = true;
                Step::Ran("up_read(mmap_sem)")
            }
        }
    }
}

fn no_orphan(m: &Machine<A>) -> Option<&'static str> {
    (m.ghost_get(UNMAPPED) == 1 && !A::pmd_none(m.peek_pmd(0)))
        .then_some("a fault mapped the range after munmap unmapped it")
}

fn munmap_scenario(detach_under_read: bool) -> Scenario<A> {
    ScenarioBuilder::<A>::new("munmap vs fault", 1)
        .rwsem(MM_SEM)
        .ghost(VMA_LINKED, 1)
        .state_invariant(&NO_ORPHAN, no_orphan)
        .thread("munmap", Munmap { detach_under_read })
        .thread("fault", Fault)
        .build()
        .unwrap()
}

#[test]
fn munmap_detaching_under_the_read_lock_is_found_and_downgrade_write_holds() {
    let cx = every_search_finds(&munmap_scenario(true), NO_ORPHAN.id());
    let sc = munmap_scenario(true);
    let text = replay(&sc, &cx.schedule).unwrap().to_string();
    assert!(text.contains("INV-USER-NO-ORPHAN"), "{text}");
    assert!(
        text.contains("takes for read mm->mmap_sem (rwsem)"),
        "the trace names the user's rwsem:\n{text}"
    );
    every_search_holds(&munmap_scenario(false));
    // The fixed run's trace shows the downgrade by name.
    let trace = replay(&munmap_scenario(false), &[0, 0, 0])
        .unwrap()
        .to_string();
    assert!(
        trace.contains("downgrades to read mm->mmap_sem (rwsem)"),
        "{trace}"
    );
}

// --- An RCU domain and a spinlock: a lockless walker against a table being freed. ---

/// A lockless walker (the shape of GUP-fast under `rcu_read_lock`): reads `pmd[0]`, then a
/// pte of the table it points to.
struct Walker;

const RCU_LOCK: u8 = 0;
const READ_PMD: u8 = 1;
const READ_PTE: u8 = 2;
const RCU_UNLOCK: u8 = 3;

impl Program<A> for Walker {
    fn name(&self) -> &'static str {
        "lockless walk"
    }
    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        match m.th(t).pc {
            RCU_LOCK => {
                m.rcu_read_lock(TABLE_RCU, t);
                m.goto(t, READ_PMD);
                Step::Ran("rcu_read_lock")
            }
            READ_PMD => {
                let pmd = m.pmd_get(0);
                let table = (!A::pmd_none(pmd)).then(|| m.table_of(pmd)).flatten();
                m.th_mut(t).regs[0] = table.map_or(u64::MAX, u64::from);
                m.goto(
                    t,
                    if table.is_some() {
                        READ_PTE
                    } else {
                        RCU_UNLOCK
                    },
                );
                Step::Ran("pmdp_get_lockless")
            }
            READ_PTE => {
                let table = m.th(t).regs[0] as u8;
                let pte: Pte<A> = m.pte_get(table, 0);
                m.th_mut(t).regs[1] = u64::from(A::pte_present(pte));
                m.goto(t, RCU_UNLOCK);
                Step::Ran("ptep_get_lockless")
            }
            _ => {
                m.rcu_read_unlock(TABLE_RCU, t);
                m.th_mut(t).done = true;
                Step::Ran("rcu_read_unlock")
            }
        }
    }
}

/// Frees region 0's table: clears the pmd under the page-table lock, then (with
/// `grace_period`) waits for the walkers that may still see it, then frees it.
struct FreeTable {
    grace_period: bool,
}

const CLEAR: u8 = 1;
const UNLOCK_PTL: u8 = 2;
const SYNC: u8 = 3;
const FREE: u8 = 4;

impl Program<A> for FreeTable {
    fn name(&self) -> &'static str {
        "free_pte_range"
    }
    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        match m.th(t).pc {
            LOCK => {
                if !m.spin_lock(PAGE_TABLE_LOCK, t) {
                    return Step::Blocked(Wait::Spinlock(PAGE_TABLE_LOCK));
                }
                m.goto(t, CLEAR);
                Step::Ran("spin_lock(page_table_lock)")
            }
            CLEAR => {
                let pmd = m.pmd_get(0);
                let table = m.table_of(pmd).expect("region 0 maps a table");
                m.pmd_set(0, A::pmd_empty());
                m.th_mut(t).regs[0] = u64::from(table);
                m.goto(t, UNLOCK_PTL);
                Step::Ran("pmd_clear")
            }
            UNLOCK_PTL => {
                m.spin_unlock(PAGE_TABLE_LOCK, t);
                m.goto(t, if self.grace_period { SYNC } else { FREE });
                Step::Ran("spin_unlock(page_table_lock)")
            }
            SYNC => match m.synchronize_rcu(TABLE_RCU, t) {
                Some(true) => {
                    m.goto(t, FREE);
                    Step::Ran("synchronize_rcu: the grace period ended")
                }
                Some(false) => Step::Ran("synchronize_rcu: waits for the readers inside"),
                None => Step::Blocked(Wait::GracePeriod(TABLE_RCU)),
            },
            _ => {
                let table = m.th(t).regs[0] as u8;
                m.table_free(table);
                m.th_mut(t).done = true;
                Step::Ran("pte_free")
            }
        }
    }
}

fn rcu_scenario(grace_period: bool, walkers: usize) -> Scenario<A> {
    let mut b = ScenarioBuilder::<A>::new("table free vs lockless walk", 1)
        .table(0)
        .unwrap()
        .rcu(TABLE_RCU)
        .spinlock(PAGE_TABLE_LOCK)
        .invariants(
            pgtable::engine::invariant::InvariantSet::default().with(InvariantId::TABLE_LIFE),
        )
        .thread("free", FreeTable { grace_period });
    for _ in 0..walkers {
        b = b.thread("walk", Walker);
    }
    b.build().unwrap()
}

#[test]
fn a_table_freed_without_a_grace_period_is_found_and_synchronize_rcu_holds() {
    for walkers in [1, 2] {
        let sc = rcu_scenario(false, walkers);
        let cx = every_search_finds(&sc, InvariantId::TABLE_LIFE);
        let text = replay(&sc, &cx.schedule).unwrap().to_string();
        assert!(
            text.contains("enters a read-side section of rcu (table free) (rcu)")
                && text.contains("takes mm->page_table_lock (spinlock)"),
            "the trace names the user's locks:\n{text}"
        );
        every_search_holds(&rcu_scenario(true, walkers));
    }
    // The grace period is a real wait: with a walker inside, the free waits it out by name.
    let sc = rcu_scenario(true, 1);
    let trace = replay(&sc, &[1, 1, 0, 0, 0, 0, 1, 1, 0, 0]).unwrap();
    let text = trace.to_string();
    assert!(
        text.contains("waited out a grace period of rcu (table free) (rcu)"),
        "{text}"
    );
    assert_eq!(
        replay(&sc, &[1, 1, 0, 0, 0, 0, 0]).unwrap_err(),
        ReplayError::Diverged {
            index: 6,
            thread: 0
        },
        "blocked in its grace period"
    );
}

// --- Deadlocks on declared locks: the cycle names each lock. ---

/// Takes `first`, then `second` (each a mutex or the rwsem for write or read), then releases
/// both.
#[derive(Clone, Copy)]
enum Take {
    Mutex,
    SemRead,
    SemWrite,
}

struct TwoLocks(Take, Take);

fn take(m: &mut Machine<A>, how: Take, t: Tid) -> Result<bool, Wait> {
    match how {
        Take::Mutex => m
            .mutex_lock(UFFD_MUTEX, t)
            .then_some(true)
            .ok_or(Wait::Mutex(UFFD_MUTEX)),
        Take::SemRead => m
            .down_read(MM_SEM, t)
            .then_some(true)
            .ok_or(Wait::RwsemRead(MM_SEM)),
        Take::SemWrite => m.down_write(MM_SEM, t).ok_or(Wait::RwsemWrite(MM_SEM)),
    }
}

fn give(m: &mut Machine<A>, how: Take, t: Tid) {
    match how {
        Take::Mutex => m.mutex_unlock(UFFD_MUTEX, t),
        Take::SemRead => m.up_read(MM_SEM, t),
        Take::SemWrite => m.up_write(MM_SEM, t),
    }
}

impl Program<A> for TwoLocks {
    fn name(&self) -> &'static str {
        "two locks"
    }
    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let pc = m.th(t).pc;
        let how = if pc == 0 { self.0 } else { self.1 };
        match pc {
            0 | 1 => match take(m, how, t) {
                Ok(true) => {
                    m.goto(t, pc + 1);
                    Step::Ran("lock")
                }
                Ok(false) => Step::Ran("down_write: queued"),
                Err(w) => Step::Blocked(w),
            },
            _ => {
                give(m, self.1, t);
                give(m, self.0, t);
                m.th_mut(t).done = true;
                Step::Ran("unlock both")
            }
        }
    }
}

fn abba(a: TwoLocks, b: TwoLocks) -> Scenario<A> {
    ScenarioBuilder::<A>::new("abba", 1)
        .rwsem(MM_SEM)
        .mutex(UFFD_MUTEX)
        .thread("a", a)
        .thread("b", b)
        .build()
        .unwrap()
}

#[test]
fn an_abba_deadlock_names_both_locks_and_one_order_holds() {
    let sc = abba(
        TwoLocks(Take::Mutex, Take::SemWrite),
        TwoLocks(Take::SemRead, Take::Mutex),
    );
    let cx = every_search_finds(&sc, InvariantId::DEADLOCK);
    assert_eq!(cx.wait_cycle.len(), 2, "{cx:?}");
    assert_eq!(cx.wait_for.len(), 2);
    assert!(cx.wait_for.contains(&UFFD_MUTEX.lock_name()), "{cx:?}");
    assert!(cx.wait_for.contains(&MM_SEM.lock_name()), "{cx:?}");
    let a = cx.wait_cycle.iter().position(|&t| t == 0).unwrap();
    assert_eq!(
        cx.wait_for[a],
        MM_SEM.lock_name(),
        "a waits for the rwsem b holds"
    );
    assert_eq!(
        cx.wait_for[a].to_string(),
        "mm->mmap_sem (rwsem)",
        "a lock's name in the cycle"
    );
    every_search_holds(&abba(
        TwoLocks(Take::Mutex, Take::SemWrite),
        TwoLocks(Take::Mutex, Take::SemRead),
    ));
    // Two readers never deadlock on the rwsem alone, whatever the order.
    every_search_holds(&abba(
        TwoLocks(Take::SemRead, Take::Mutex),
        TwoLocks(Take::SemRead, Take::Mutex),
    ));
}

/// `synchronize_rcu` inside its own read-side section waits for itself.
struct SyncInsideReader;
impl Program<A> for SyncInsideReader {
    fn name(&self) -> &'static str {
        "synchronize_rcu under rcu_read_lock"
    }
    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        match m.th(t).pc {
            0 => {
                m.rcu_read_lock(TABLE_RCU, t);
                m.goto(t, 1);
                Step::Ran("rcu_read_lock")
            }
            1 => match m.synchronize_rcu(TABLE_RCU, t) {
                Some(true) => {
                    m.goto(t, 2);
                    Step::Ran("synchronize_rcu")
                }
                Some(false) => Step::Ran("synchronize_rcu: begins"),
                None => Step::Blocked(Wait::GracePeriod(TABLE_RCU)),
            },
            _ => {
                m.rcu_read_unlock(TABLE_RCU, t);
                m.th_mut(t).done = true;
                Step::Ran("rcu_read_unlock")
            }
        }
    }
}

#[test]
fn synchronize_rcu_inside_a_read_section_deadlocks_on_itself() {
    let sc = ScenarioBuilder::<A>::new("self grace period", 1)
        .rcu(TABLE_RCU)
        .thread("t", SyncInsideReader)
        .build()
        .unwrap();
    let cx = every_search_finds(&sc, InvariantId::DEADLOCK);
    assert_eq!(cx.wait_cycle, [0]);
    assert_eq!(cx.wait_for, [TABLE_RCU.lock_name()]);
}

// --- Misuse is reported, never silently accepted. ---

#[test]
fn bad_lock_declarations_are_typed_errors() {
    let build = |b: ScenarioBuilder<A>| match b.thread("f", Fault).build() {
        Ok(_) => panic!("accepted"),
        Err(e) => e,
    };
    let e = build(ScenarioBuilder::new("x", 1).rwsem(RwsemId::new(MAX_LOCKS as u8, "too far")));
    assert!(
        matches!(
            e,
            ScenarioError::BadLock {
                name: "too far",
                ..
            }
        ),
        "{e}"
    );
    let e = build(
        ScenarioBuilder::new("x", 1)
            .rwsem(MM_SEM)
            .mutex(MutexId::new(0, "same index")),
    );
    assert!(e.to_string().contains("index"), "{e}");
    let e = build(
        ScenarioBuilder::new("x", 1)
            .rwsem(MM_SEM)
            .mutex(MutexId::new(1, "mm->mmap_sem")),
    );
    assert!(e.to_string().contains("name"), "{e}");
    let e = build(ScenarioBuilder::new("x", 1).ghost(99, 1));
    assert_eq!(e, ScenarioError::NoSuchGhostCell(99));
}

/// Releases the rwsem it never took, then uses a lock nobody declared.
struct Misuse(bool);
impl Program<A> for Misuse {
    fn name(&self) -> &'static str {
        "misuse"
    }
    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        if self.0 {
            m.up_write(MM_SEM, t);
        } else {
            m.spin_lock(PAGE_TABLE_LOCK, t);
        }
        m.th_mut(t).done = true;
        Step::Ran("misuse")
    }
}

#[test]
fn an_unbalanced_release_and_an_undeclared_lock_are_violations() {
    let sc = |unbalanced: bool| {
        ScenarioBuilder::<A>::new("misuse", 1)
            .rwsem(MM_SEM)
            .invariants(
                pgtable::engine::invariant::InvariantSet::default().with(InvariantId::LOCK_BALANCE),
            )
            .thread("m", Misuse(unbalanced))
            .build()
            .unwrap()
    };
    every_search_finds(&sc(true), InvariantId::LOCK_BALANCE);
    let cx = every_search_finds(&sc(false), InvariantId::MODEL);
    assert_eq!(cx.what, "a step used a lock the scenario did not declare");
    // A wait on a declared lock names it; the machine's own locks keep their names.
    let m = &sc(true).initial;
    assert_eq!(
        Wait::GracePeriod(TABLE_RCU).lock(m, Tid(0)),
        LockName::Declared {
            index: 1,
            kind: pgtable::engine::state::locks::LockKind::Rcu,
            name: "rcu (table free)"
        }
    );
    assert_eq!(Wait::MmapWrite.lock(m, Tid(0)), LockName::MmapLock(0));
}

// --- Two processes and a COW fault: the fork + GUP pin + write leak (CVE-2020-29374). ---
//
// After fork the parent (mm 0, region 0) and the child (mm 1, region 1) map one anonymous
// page write-protected. The child pins it for read (vmsplice's get_user_pages) and unmaps its
// mapping; then the parent writes. v5.7's do_wp_page reused the page when it was mapped once
// (`reuse_swap_page`: page_mapcount == 1), so the parent wrote into the page the child still
// reads through its pin. v5.8 (09854ba94c6a, "mm: do_wp_page() simplification") reuses only
// when page_count == 1: a pinned page is copied.

use pgtable::engine::setup::PteInit;

/// Ghost cell: the page the child pinned, plus one (0: none).
const PINNED: usize = 2;

static COW_PIN: Invariant = Invariant::new(
    "INV-USER-COW-PIN",
    "The parent never maps writable a page the child holds pinned.",
);
static COW_PRIVATE: Invariant = Invariant::new(
    "INV-USER-COW-PRIVATE",
    "Once the parent's write fault has returned, no other mapping shares its page.",
);

/// How `do_wp_page` decides to reuse a write-protected anonymous page.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reuse {
    /// v5.7: `reuse_swap_page`, by mapcount.
    MapcountV5_7,
    /// v5.8: `page_count(page) != 1` copies.
    RefcountV5_8,
    /// Mutation: always reuse (no COW at all).
    Always,
}

/// The parent's write fault at (region 0, slot 0): `handle_pte_fault` → `do_wp_page`, then
/// `wp_page_reuse` or `wp_page_copy` (which drops the pte lock to allocate, retakes it and
/// rechecks `pte_same`).
struct WriteFault(Reuse);

const W_MMAP: u8 = 0;
const W_PTL: u8 = 1;
const W_READ: u8 = 2;
const W_REUSE: u8 = 3;
const W_DROP: u8 = 4;
const W_ALLOC: u8 = 5;
const W_RELOCK: u8 = 6;
const W_SET: u8 = 7;
const W_UNLOCK: u8 = 8;
const W_RETURN: u8 = 9;

/// The fault's typed locals (in the thread's registers, fingerprinted with it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct CowLocals {
    /// `vmf->orig_pte`, raw.
    orig: u64,
    /// The page the pte maps (`vmf->page`).
    old: Option<u8>,
    /// The copy `wp_page_copy` allocated.
    new: Option<u8>,
}

impl Locals for CowLocals {
    fn to_regs(self) -> [u64; 4] {
        (self.orig, self.old, self.new).to_regs()
    }
    fn from_regs(regs: [u64; 4]) -> Self {
        let (orig, old, new) = Locals::from_regs(regs);
        Self { orig, old, new }
    }
}

fn table0(m: &Machine<A>) -> u8 {
    m.table_of(m.peek_pmd(0)).expect("region 0 maps a table")
}

impl TypedProgram<A> for WriteFault {
    type Locals = CowLocals;

    fn name(&self) -> &'static str {
        match self.0 {
            Reuse::MapcountV5_7 => "do_wp_page (v5.7)",
            Reuse::RefcountV5_8 => "do_wp_page (v5.8)",
            Reuse::Always => "do_wp_page (mutated: always reuse)",
        }
    }
    fn step(&self, m: &mut Machine<A>, t: Tid, l: &mut CowLocals) -> Step {
        let tab = table0(m);
        match m.th(t).pc {
            W_MMAP => {
                if !m.mmap_read(t) {
                    return Step::Blocked(Wait::MmapRead);
                }
                m.goto(t, W_PTL);
                Step::Ran("do_user_addr_fault: mmap_read_lock")
            }
            W_PTL => {
                if !m.ptl_lock(tab, t) {
                    return Step::Blocked(Wait::Ptl(tab));
                }
                m.goto(t, W_READ);
                Step::Ran("handle_pte_fault: spin_lock(ptl)")
            }
            W_READ => {
                let pte = m.pte_get(tab, 0);
                let page = m
                    .page_of_pfn(A::pte_pfn(pte))
                    .expect("the parent maps a page");
                let p = m.page(page);
                let reuse = match self.0 {
                    Reuse::MapcountV5_7 => p.mapcount == 1,
                    Reuse::RefcountV5_8 => p.refcount == 1,
                    Reuse::Always => true,
                };
                l.orig = pte.raw_u64();
                l.old = Some(page);
                m.goto(t, if reuse { W_REUSE } else { W_DROP });
                Step::Ran("do_wp_page: reuse or copy?")
            }
            W_REUSE => {
                let pte = m.pte_get(tab, 0);
                m.pte_set(tab, 0, A::pte_mkdirty(A::pte_mkwrite(pte)));
                m.goto(t, W_UNLOCK);
                Step::Ran("wp_page_reuse: pte_mkwrite(pte_mkdirty)")
            }
            W_DROP => {
                m.ptl_unlock(tab, t);
                m.goto(t, W_ALLOC);
                Step::Ran("wp_page_copy: pte_unmap_unlock")
            }
            W_ALLOC => {
                let new = m.page_alloc(false).expect("page arena");
                l.new = Some(new);
                m.goto(t, W_RELOCK);
                Step::Ran("wp_page_copy: alloc_page_vma + cow_user_page")
            }
            W_RELOCK => {
                if !m.ptl_lock(tab, t) {
                    return Step::Blocked(Wait::Ptl(tab));
                }
                m.goto(t, W_SET);
                Step::Ran("wp_page_copy: pte_offset_map_lock")
            }
            W_SET => {
                let (Some(old), Some(new)) = (l.old, l.new) else {
                    unreachable!("W_READ and W_ALLOC set both")
                };
                let orig = l.orig;
                let pte = m.pte_get(tab, 0);
                if pte.raw_u64() == orig {
                    let prot = A::pte_pgprot(m.prot());
                    let entry = A::pte_mkdirty(A::pte_mkwrite(
                        A::pfn_pte(Machine::<A>::page_pfn(new), prot).unwrap(),
                    ));
                    m.pte_set(tab, 0, entry);
                    m.tlb_flush_region(0);
                    m.page_map(new, 0, 1);
                    m.page_map(old, 0, -1);
                    m.page_put(old);
                } else {
                    m.page_put(new);
                }
                m.goto(t, W_UNLOCK);
                Step::Ran("wp_page_copy: pte_same, ptep_clear_flush_notify, set_pte_at_notify")
            }
            W_UNLOCK => {
                m.ptl_unlock(tab, t);
                m.goto(t, W_RETURN);
                Step::Ran("pte_unmap_unlock")
            }
            _ => {
                m.mmap_read_unlock(t);
                m.th_mut(t).done = true;
                Step::Ran("mmap_read_unlock: the write returns")
            }
        }
    }
}

/// The child: pins its mapping of the page for read (`get_user_pages`, FOLL_GET, under its
/// own `mmap_lock`), then munmaps it (its own `mmap_lock` for write). The pin stays.
struct PinThenUnmap;

const C_READ_LOCK: u8 = 0;
const C_PIN: u8 = 1;
const C_READ_UNLOCK: u8 = 2;
const C_WRITE_LOCK: u8 = 3;
const C_ZAP: u8 = 4;
const C_WRITE_UNLOCK: u8 = 5;

impl Program<A> for PinThenUnmap {
    fn name(&self) -> &'static str {
        "vmsplice (get_user_pages) then munmap"
    }
    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let tab = m.table_of(m.peek_pmd(1)).expect("region 1 maps a table");
        match m.th(t).pc {
            C_READ_LOCK => {
                if !m.mmap_read(t) {
                    return Step::Blocked(Wait::MmapRead);
                }
                m.goto(t, C_PIN);
                Step::Ran("get_user_pages: mmap_read_lock")
            }
            C_PIN => {
                let pte = m.pte_get(tab, 0);
                let page = m
                    .page_of_pfn(A::pte_pfn(pte))
                    .expect("the child maps a page");
                m.page_get(page);
                m.ghost_set(PINNED, u64::from(page) + 1);
                m.goto(t, C_READ_UNLOCK);
                Step::Ran("follow_page_pte: get_page (read, no COW break)")
            }
            C_READ_UNLOCK => {
                m.mmap_read_unlock(t);
                m.goto(t, C_WRITE_LOCK);
                Step::Ran("get_user_pages: mmap_read_unlock")
            }
            C_WRITE_LOCK => match m.mmap_write(t) {
                Some(true) => {
                    m.goto(t, C_ZAP);
                    Step::Ran("munmap: mmap_write_lock")
                }
                Some(false) => Step::Ran("munmap: mmap_write_lock queued"),
                None => Step::Blocked(Wait::MmapWrite),
            },
            C_ZAP => {
                let pte = m.pte_get(tab, 0);
                let page = m.page_of_pfn(A::pte_pfn(pte)).expect("still mapped");
                m.pte_set(tab, 0, A::pte_empty(Machine::<A>::slot_addr(1, 0)));
                m.tlb_flush_region(1);
                m.page_map(page, 1, -1);
                m.page_put(page);
                m.goto(t, C_WRITE_UNLOCK);
                Step::Ran("zap_pte_range: ptep_get_and_clear, page_remove_rmap, put_page")
            }
            _ => {
                m.mmap_write_unlock(t);
                m.th_mut(t).done = true;
                Step::Ran("munmap: mmap_write_unlock")
            }
        }
    }
}

/// The parent's pte at (region 0, slot 0): its page and whether it is writable.
fn parent_mapping(m: &Machine<A>) -> Option<(u8, bool)> {
    let pte = m.table(table0(m)).ptes[0];
    let page = m.page_of_pfn(A::pte_pfn(pte))?;
    Some((page, A::pte_write(pte)))
}

fn cow_pin(m: &Machine<A>) -> Option<&'static str> {
    let pinned = m.ghost_get(PINNED).checked_sub(1)?;
    let (page, writable) = parent_mapping(m)?;
    (writable && u64::from(page) == pinned)
        .then_some("the parent's pte maps the child's pinned page writable")
}

fn cow_private(m: &Machine<A>) -> Option<&'static str> {
    if !m.th(Tid(0)).done {
        return None;
    }
    let (page, _) = parent_mapping(m)?;
    (m.page(page).mapcount != 1).then_some("the parent's written page is mapped elsewhere too")
}

fn fork_scenario(reuse: Reuse, child: bool) -> Scenario<A> {
    let mut b = ScenarioBuilder::<A>::new("fork, pin, write", 2)
        .region_in(1, 1)
        .setup(|s| {
            let page = s.page(false)?;
            s.map_pte(0, 0, page, PteInit::WRPROTECTED)?;
            s.map_pte(1, 0, page, PteInit::WRPROTECTED)
        })
        .state_invariant(&COW_PIN, cow_pin)
        .state_invariant(&COW_PRIVATE, cow_private)
        .thread_in(0, "parent", Typed(WriteFault(reuse)));
    if child {
        b = b.thread_in(1, "child", PinThenUnmap);
    }
    b.build().unwrap()
}

#[test]
fn the_fork_pin_leak_is_found_on_v5_7_and_v5_8_copies() {
    let sc = fork_scenario(Reuse::MapcountV5_7, true);
    let cx = every_search_finds(&sc, COW_PIN.id());
    let text = replay(&sc, &cx.schedule).unwrap().to_string();
    assert!(text.contains("INV-USER-COW-PIN"), "{text}");
    assert!(
        text.contains("takes mmap_lock(mm1)") && text.contains("takes for read mmap_lock"),
        "each process takes its own mmap_lock:\n{text}"
    );
    every_search_holds(&fork_scenario(Reuse::RefcountV5_8, true));
    // Without the child's pin and munmap, both shapes copy the shared page...
    every_search_holds(&fork_scenario(Reuse::MapcountV5_7, false));
    // ...and a do_wp_page that never copies breaks COW itself.
    every_search_finds(&fork_scenario(Reuse::Always, false), COW_PRIVATE.id());
}

// The two processes' mmap_locks are two locks: the child holds its own for write while the
// parent takes its own for read.
#[test]
fn each_process_has_its_own_mmap_lock() {
    let sc = fork_scenario(Reuse::RefcountV5_8, true);
    // child: read lock, pin, read unlock, write lock; then parent: read lock.
    let trace = replay(&sc, &[1, 1, 1, 1, 0]).unwrap();
    let text = trace.to_string();
    assert!(text.contains("takes mmap_lock(mm1)"), "{text}");
    assert_eq!(sc.initial.mms(), 2);
    assert_eq!(sc.initial.mm_of_thread(Tid(1)), 1);
    assert_eq!(sc.initial.mm_of_region(1), 1);
    let e = ScenarioBuilder::<A>::new("x", 1)
        .thread_in(2, "t", Fault)
        .build()
        .unwrap_err();
    assert_eq!(e, ScenarioError::NoSuchMm(2));
}

// The setup's entries are the backend's own, and its mistakes are typed errors.
#[test]
fn setup_builds_shared_write_protected_ptes_and_refuses_bad_input() {
    let sc = fork_scenario(Reuse::RefcountV5_8, false);
    let page = sc.initial.page(0);
    assert_eq!((page.mapcount, page.refcount), (2, 2));
    let (p, writable) = parent_mapping(&sc.initial).unwrap();
    assert_eq!((p, writable), (0, false));
    let err = |f: fn(&mut pgtable::engine::setup::Setup<'_, A>) -> Result<(), ScenarioError>| {
        ScenarioBuilder::<A>::new("x", 1)
            .setup(f)
            .thread("f", Fault)
            .build()
            .unwrap_err()
    };
    assert_eq!(
        err(|s| s.map_pte(0, 0, 7, PteInit::WRITTEN)),
        ScenarioError::NoSuchPage(7)
    );
    assert_eq!(
        err(|s| {
            let p = s.page(false)?;
            s.map_pte(0, 9, p, PteInit::WRITTEN)
        }),
        ScenarioError::NoSuchSlot(9)
    );
    assert_eq!(
        err(|s| {
            let p = s.page(false)?;
            s.map_pte(0, 0, p, PteInit::WRITTEN)?;
            s.map_pte(0, 0, p, PteInit::WRITTEN)
        }),
        ScenarioError::SlotInUse { region: 0, slot: 0 }
    );
    assert_eq!(
        err(|s| s.tlb(0, 0, Some(1))),
        ScenarioError::NothingMapped { region: 0, slot: 1 }
    );
    assert!(matches!(
        err(|s| s.swap_pte(0, 0, u32::MAX, 1)),
        ScenarioError::Encoding(_)
    ));
    // A swap entry, a dirty writable pte and a CPU that cached it: all there at the start.
    let sc = ScenarioBuilder::<A>::new("x", 1)
        .setup(|s| {
            let p = s.page(false)?;
            s.map_pte(0, 0, p, PteInit::WRITTEN)?;
            s.swap_pte(0, 1, 1, 0x42)?;
            s.get_page(p)?;
            s.tlb(1, 0, Some(0))
        })
        .thread("f", Fault)
        .build()
        .unwrap();
    let m = &sc.initial;
    let ptes = m.table(table0(m)).ptes;
    assert!(A::pte_write(ptes[0]) && A::pte_dirty(ptes[0]) && A::pte_young(ptes[0]));
    assert!(!A::pte_present(ptes[1]) && !A::pte_none(ptes[1]));
    let swp = A::pte_to_swp_entry(ptes[1]);
    assert_eq!((swp.ty(), swp.offset()), (1, 0x42));
    assert_eq!(m.tlb_entry(1, 0, Some(0)), Some(Machine::<A>::page_pfn(0)));
    assert_eq!(
        m.page(0).refcount,
        2,
        "the mapping's reference and the extra one"
    );

    // A migration entry: v6.12's SWP_MIGRATION_WRITE (26 under Debian's configuration) with
    // the page's pfn as its offset.
    use pgtable::engine::setup::MigrationKind;
    assert_eq!(
        err(|s| s.migration_pte(0, 0, 3, MigrationKind::Read)),
        ScenarioError::NoSuchPage(3)
    );
    let sc = ScenarioBuilder::<A>::new("x", 1)
        .setup(|s| {
            let p = s.page(false)?;
            s.migration_pte(0, 1, p, MigrationKind::Write)
        })
        .thread("f", Fault)
        .build()
        .unwrap();
    let m = &sc.initial;
    let pte = m.table(table0(m)).ptes[1];
    assert!(!A::pte_present(pte) && !A::pte_none(pte));
    let swp = A::pte_to_swp_entry(pte);
    assert_eq!(swp.ty(), 26);
    assert_eq!(swp.offset(), Machine::<A>::page_pfn(0));
    assert_eq!(
        MigrationKind::of_swap_type(swp.ty()),
        Some(MigrationKind::Write)
    );
    for kind in [
        MigrationKind::Read,
        MigrationKind::ReadExclusive,
        MigrationKind::Write,
    ] {
        assert_eq!(MigrationKind::of_swap_type(kind.swap_type()), Some(kind));
    }
    assert_eq!(MigrationKind::of_swap_type(1), None);
}

// --- The kernel's own fault called from a user's program. ---
//
// `madvise(MADV_POPULATE_WRITE)` of one page as a user models it: v6.12's
// `faultin_page_range` → `__get_user_pages` calls `handle_mm_fault` and then looks again
// (`follow_page_mask` under the pte lock) before it counts the page populated; the fault's
// steps are the crate's [`AnonFault`], entered with `AnonFault::enter` and left at
// `AnonFault::RETURN`. A concurrent MADV_DONTNEED (also under `mmap_lock` read) may zap the
// page between the fault's return and the look: the look catches it and faults again. The
// buggy shape counts the page populated as soon as the fault returns.

use pgtable::engine::ops::v6_12::fault::{AnonFault, FaultFlags};
use pgtable::engine::ops::v6_12::zap::MadvDontneed;
use pgtable::engine::ops::v6_12::{MapLockSaved, PteOffsetMapLock};
use pgtable::engine::program::{Limits, ProgramError};

/// Ghost cell: 1 while populate holds the page it counted populated.
const CLAIMED: usize = 3;

static POPULATED: Invariant = Invariant::new(
    "INV-USER-POPULATED",
    "When populate counts a page populated, the address maps it present and writable.",
);

struct PopulateWrite {
    slot: u8,
    /// Buggy: no second look after the fault returns.
    trust_the_fault: bool,
}

const P_LOCK: u8 = 0;
const P_MAP: u8 = AnonFault::RETURN + 1;
const P_PTL: u8 = AnonFault::RETURN + 2;
const P_RECHECK: u8 = AnonFault::RETURN + 3;
const P_RETRY: u8 = AnonFault::RETURN + 4;
const P_READ: u8 = AnonFault::RETURN + 5;
const P_DONE_UNLOCK: u8 = AnonFault::RETURN + 6;
const P_FAULT_UNLOCK: u8 = AnonFault::RETURN + 7;
const P_CLAIM: u8 = AnonFault::RETURN + 8;
const P_OUT: u8 = AnonFault::RETURN + 9;
const P_FAULT: u8 = AnonFault::RETURN + 10;

/// `follow_page_pte`'s `pte_offset_map_lock`: NULL (no table yet, or a huge pmd) faults
/// again.
const LOOK: PteOffsetMapLock = PteOffsetMapLock {
    map: P_MAP,
    ptl: P_PTL,
    recheck: P_RECHECK,
    retry: P_RETRY,
    locked: P_READ,
    none: P_FAULT,
};

impl PopulateWrite {
    fn fault(&self) -> AnonFault {
        AnonFault {
            huge: false,
            ..AnonFault::new(0, self.slot)
        }
    }
}

impl TypedProgram<A> for PopulateWrite {
    /// What the look's `pte_offset_map_lock` read; the fault's registers while it runs.
    type Locals = MapLockSaved;
    fn name(&self) -> &'static str {
        "madvise(MADV_POPULATE_WRITE) (user model over v6.12 handle_mm_fault)"
    }
    fn check(&self, limits: &Limits) -> Result<(), ProgramError> {
        limits.region_slot(0, self.slot)
    }
    fn step(&self, m: &mut Machine<A>, t: Tid, look: &mut MapLockSaved) -> Step {
        let slot = usize::from(self.slot);
        match m.th(t).pc {
            P_LOCK => {
                if !m.mmap_read(t) {
                    return Step::Blocked(Wait::MmapRead);
                }
                AnonFault::enter(m, t, FaultFlags::default());
                Step::Ran("madvise_populate: mmap_read_lock; faultin_page: handle_mm_fault")
            }
            pc if pc < AnonFault::RETURN => self.fault().step(m, t),
            AnonFault::RETURN if self.trust_the_fault => {
                m.goto(t, P_CLAIM);
                Step::Ran("handle_mm_fault returned: counted populated")
            }
            AnonFault::RETURN => {
                m.goto(t, P_MAP);
                Step::Ran("handle_mm_fault returned: follow_page_mask again")
            }
            P_MAP..=P_RETRY => LOOK.step_with(m, t, 0, look),
            P_READ => {
                let pte = m.pte_get(look.table.expect("the look found a table"), slot);
                if A::pte_present(pte) && A::pte_write(pte) {
                    m.ghost_set(CLAIMED, 1);
                    m.goto(t, P_DONE_UNLOCK);
                    return Step::Ran("follow_page_pte: present and writable: counted populated");
                }
                m.goto(t, P_FAULT_UNLOCK);
                Step::Ran("follow_page_pte: not there (zapped), fault again")
            }
            P_DONE_UNLOCK => {
                m.ptl_unlock(look.table.expect("the look found a table"), t);
                m.ghost_set(CLAIMED, 0);
                m.goto(t, P_OUT);
                Step::Ran("follow_page_pte: pte_unmap_unlock")
            }
            P_FAULT_UNLOCK => {
                m.ptl_unlock(look.table.expect("the look found a table"), t);
                AnonFault::enter(m, t, FaultFlags::default());
                Step::Ran("follow_page_pte: pte_unmap_unlock; faultin_page: handle_mm_fault")
            }
            P_FAULT => {
                AnonFault::enter(m, t, FaultFlags::default());
                Step::Ran("follow_page_mask: no page table, faultin_page again")
            }
            P_CLAIM => {
                m.ghost_set(CLAIMED, 1);
                m.goto(t, P_OUT);
                Step::Ran("populate: the page counted")
            }
            _ => {
                m.ghost_set(CLAIMED, 0);
                m.mmap_read_unlock(t);
                m.th_mut(t).done = true;
                Step::Ran("madvise_populate: mmap_read_unlock")
            }
        }
    }
}

fn populated(m: &Machine<A>) -> Option<&'static str> {
    if m.ghost_get(CLAIMED) == 0 {
        return None;
    }
    let pmd = m.peek_pmd(0);
    let pte = m
        .table_of(pmd)
        .filter(|_| !A::pmd_none(pmd) && !A::pmd_leaf(pmd))
        .map(|t| m.table(t).ptes[1]);
    let ok = pte.is_some_and(|p| A::pte_present(p) && A::pte_write(p));
    (!ok).then_some("populate counted a page that is not mapped writable")
}

fn populate_scenario(trust_the_fault: bool, dontneed: bool) -> Scenario<A> {
    let b = ScenarioBuilder::<A>::new("populate vs dontneed", 1)
        .ghost(CLAIMED, 0)
        .state_invariant(&POPULATED, populated)
        .thread(
            "populate",
            Typed(PopulateWrite {
                slot: 1,
                trust_the_fault,
            }),
        );
    if dontneed {
        b.thread("dontneed", MadvDontneed::new(0))
    } else {
        b
    }
    .build()
    .unwrap()
}

#[test]
fn a_user_program_calls_the_v6_12_fault_and_a_populate_without_a_second_look_is_found() {
    let sc = populate_scenario(true, true);
    let cx = every_search_finds(&sc, POPULATED.id());
    let text = replay(&sc, &cx.schedule).unwrap().to_string();
    for want in [
        "INV-USER-POPULATED",
        "do_anonymous_page",
        "handle_mm_fault returned: counted populated",
        "zap_pte_range",
    ] {
        assert!(text.contains(want), "{want}:\n{text}");
    }
    every_search_holds(&populate_scenario(false, true));
    // Alone, the fixed populate faults once and finds its page on the first look.
    let alone = populate_scenario(false, false);
    // The longest schedule of thread 0 alone that replays is its whole run.
    let trace = (1..64)
        .rev()
        .find_map(|n| replay(&alone, &vec![0; n]).ok())
        .expect("populate runs alone")
        .to_string();
    assert!(
        trace.contains("madvise_populate: mmap_read_unlock"),
        "{trace}"
    );
    assert!(
        trace.contains("present and writable: counted populated"),
        "{trace}"
    );
    assert!(!trace.contains("fault again"), "{trace}");
}

// --- Typed locals: a tuple of words round-trips; a lossy encoding is reported. ---

#[test]
fn typed_locals_round_trip_and_a_lossy_word_is_a_model_violation() {
    let l: (u64, Option<u8>, bool, u8) = (u64::MAX, Some(0), true, 7);
    assert_eq!(l.to_regs(), [u64::MAX, 1, 1, 7]);
    assert_eq!(<(u64, Option<u8>, bool, u8)>::from_regs(l.to_regs()), l);
    // A thread starts at all-zero registers: None, false, 0.
    assert_eq!(<(Option<u8>, bool)>::from_regs([0; 4]), (None, false));

    /// Keeps only the low 32 bits: two values share a register, so two states would merge.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    struct Lossy(u64);
    impl pgtable::engine::program::Word for Lossy {
        fn to_word(self) -> u64 {
            self.0
        }
        fn from_word(word: u64) -> Self {
            Lossy(word & 0xffff_ffff)
        }
    }
    struct Keeps(u64);
    impl TypedProgram<A> for Keeps {
        type Locals = (Lossy,);
        fn name(&self) -> &'static str {
            "keeps a value"
        }
        fn step(&self, m: &mut Machine<A>, t: Tid, l: &mut (Lossy,)) -> Step {
            l.0 = Lossy(self.0);
            m.th_mut(t).done = true;
            Step::Ran("keep")
        }
    }
    let run = |v| {
        let sc = ScenarioBuilder::<A>::new("lossy", 1)
            .thread("keep", Typed(Keeps(v)))
            .build()
            .unwrap();
        explore(&sc, Options::default()).verdict
    };
    assert_eq!(run(1 << 31), Verdict::Holds);
    let Verdict::Violated(cx) = run(1 << 40) else {
        panic!("a lossy local was not reported")
    };
    assert_eq!(cx.invariant, InvariantId::MODEL);

    // A typed program that writes a register and its locals in one step is reported too
    // (the write-back would undo the register write).
    struct Behind;
    impl TypedProgram<A> for Behind {
        type Locals = (u64,);
        fn name(&self) -> &'static str {
            "writes a register"
        }
        fn step(&self, m: &mut Machine<A>, t: Tid, l: &mut (u64,)) -> Step {
            l.0 = 1;
            m.th_mut(t).regs[1] = 5;
            m.th_mut(t).done = true;
            Step::Ran("regs[1] = 5")
        }
    }
    let sc = ScenarioBuilder::<A>::new("behind", 1)
        .thread("behind", Typed(Behind))
        .build()
        .unwrap();
    let Verdict::Violated(cx) = explore(&sc, Options::default()).verdict else {
        panic!("a register written behind the locals was not reported")
    };
    assert_eq!(cx.invariant, InvariantId::MODEL);
    let trace = replay(&sc, &cx.schedule).unwrap().to_string();
    assert!(trace.contains("its locals and its registers"), "{trace}");
}
