//! Scenarios written as an outside crate writes them, through the public API only, with locks
//! of their own: an rwsem with `downgrade_write` (munmap's detach under the write lock, as
//! v4.20 merged it, against the proposal that detached under the read lock), an RCU domain
//! (a lockless walker against a table freed after, or without, a grace period), and the
//! deadlocks such locks make, each cycle naming its locks. Every search agrees on every one.

use pgtable::arch::X86_64;
use pgtable::engine::explore::{Counterexample, Options, Search, Verdict, explore};
use pgtable::engine::invariant::{CustomInvariant, InvariantId};
use pgtable::engine::locks::LockName;
use pgtable::engine::mm::Machine;
use pgtable::engine::program::{Program, Step, Wait};
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

static NO_ORPHAN: CustomInvariant = CustomInvariant {
    id: "INV-USER-NO-ORPHAN",
    statement: "Once munmap has returned, nothing is mapped in the range it unmapped.",
};

fn searches() -> [Options; 3] {
    let dfs = Options {
        search: Search::DepthFirst,
        por: false,
        audit_footprints: true,
        ..Options::default()
    };
    [
        dfs,
        Options { por: true, ..dfs },
        Options {
            search: Search::BreadthFirst,
            ..dfs
        },
    ]
}

/// Every search finds a violation of `id`, and the counterexample replays to it (a deadlock:
/// to a state where no thread runs). Returns the shortest-first (breadth-first) one.
#[track_caller]
fn every_search_finds(sc: &Scenario<A>, id: InvariantId) -> Counterexample {
    let mut last = None;
    for opts in searches() {
        let Verdict::Violated(cx) = explore(sc, opts).verdict else {
            panic!("{opts:?}: {} not found", id.id())
        };
        assert_eq!(cx.invariant, id, "{opts:?}");
        let trace = replay(sc, &cx.schedule).expect("replays");
        if id != InvariantId::Deadlock {
            assert_eq!(trace.violation().map(|v| v.0), Some(id), "{trace}");
        }
        last = Some(cx);
    }
    last.unwrap()
}

#[track_caller]
fn every_search_holds(sc: &Scenario<A>) {
    for opts in searches() {
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
            pgtable::engine::invariant::InvariantSet::default().with(InvariantId::TableLife),
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
        let cx = every_search_finds(&sc, InvariantId::TableLife);
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
    let cx = every_search_finds(&sc, InvariantId::Deadlock);
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
    let cx = every_search_finds(&sc, InvariantId::Deadlock);
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
                pgtable::engine::invariant::InvariantSet::default().with(InvariantId::LockBalance),
            )
            .thread("m", Misuse(unbalanced))
            .build()
            .unwrap()
    };
    every_search_finds(&sc(true), InvariantId::LockBalance);
    let cx = every_search_finds(&sc(false), InvariantId::Model);
    assert_eq!(cx.what, "a step used a lock the scenario did not declare");
    // A wait on a declared lock names it; the machine's own locks keep their names.
    assert_eq!(
        Wait::GracePeriod(TABLE_RCU).lock(),
        LockName::Declared {
            index: 1,
            kind: pgtable::engine::state::locks::LockKind::Rcu,
            name: "rcu (table free)"
        }
    );
    assert_eq!(Wait::MmapWrite.lock(), LockName::MmapLock);
}
