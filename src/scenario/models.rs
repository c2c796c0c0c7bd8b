//! The benchmark models of `bench/peers/` in pgtable's engine: the same models, step for step,
//! that SPIN, stateright, loom and shuttle run there (`bench/peers/README.md`).
//!
//! **M1** (`m1`): the lockless-peek / lock / recheck protocol of race 002 on `pmds` huge pmds,
//! with `threads` threads acting on every pmd in turn:
//!
//! | thread | per pmd, one step each |
//! |---|---|
//! | 0 split (`__split_huge_pmd`) | lock; read (not huge: unlock); write `pmdp_invalidate(pmd)`; write the table pmd; unlock |
//! | 1, 3 zap (`zap_pmd_range`) | lockless read (none: next pmd); lock; read (not huge: unlock); write none; unlock |
//! | 2 fault (`__handle_mm_fault`) | lockless read (not none: next pmd); lock; read (not none: unlock); write the huge pmd; unlock |
//!
//! A lock step blocks while another thread holds the pmd's lock. The property,
//! [`M1_NEVERNONE`]: no lockless read sees `pmd_none` while the split is between its
//! invalidate and its populate. The encoding decides the verdict: `pmdp_invalidate` empties
//! the pmd on `arm-lpae-v4.5` (the bug), and leaves a non-none entry on every fixed backend.
//!
//! **M2** (`m2`): M1 with `mmap_lock` and khugepaged. Threads: 0 split (as M1: reclaim and
//! migration split without `mmap_lock`), 1 zap, 2 collapse, 3 fault. Zap and fault take
//! `mmap_lock` for read before their lockless read of a pmd and drop it after (leaving a pmd
//! early drops it too). The collapse (`collapse_huge_page`) takes it for write (the engine's
//! rwsem: a contended `down_write` first queues, a visible step, and a queued writer holds
//! new readers off), then per pmd: lock; read (not the table pmd: unlock); write none
//! (`pmdp_collapse_flush`); unlock; lock; write the huge pmd (`set_pmd_at`); unlock; and
//! drops `mmap_lock`. [`M2_NEVERNONE`] adds to M1's property a lockless read that sees the
//! collapse's empty pmd: `mmap_lock` is what keeps it from happening.
//!
//! **M3** (`m3`): M2 with page-table lifetime. Threads: 0 split, 1 zap, 2 walker, 3 collapse.
//! Split withdraws the pmd's deposited table as it invalidates (`__split_huge_pmd_locked`)
//! and the collapse deposits the old table again as it sets the huge pmd. Zap frees what it
//! clears: a huge pmd's deposited table at once, in the step that clears it, under the pmd
//! lock (`zap_huge_pmd`'s `zap_deposited_table`: no walker can reach a deposit); a table
//! pmd's table after it unlocks, with a grace period first in the fixed variant (v6.12's
//! `tlb_remove_table`, mm/mmu_gather.c: RCU-freed tables, or `tlb_remove_table_one`'s IPI)
//! and without it in the buggy one. The fixed collapse also waits for the walker after its
//! flush and unlock (`tlb_remove_table_sync_one`, v6.12 mm/khugepaged.c:1184); the buggy one
//! does not, as before v6.1's 2ba99c5e0881 ("mm/khugepaged: fix GUP-fast interaction by
//! sending IPI"): the walker can still hold the table the collapse deposits again, and a zap
//! of the new huge pmd frees that deposit at once (`zap_deposited_table`). M3 finds that race
//! from the model alone (4 threads, 1 pmd: a 22-step trace). The
//! walker is GUP-fast (v6.12 mm/gup.c `gup_fast`): one read-side section (interrupts off, an
//! RCU read-side section since v4.20's flavour consolidation) around a walk of every pmd: a
//! lockless read (a huge pmd: next pmd; a table pmd: read a pte of its table; anything else:
//! the walk ends, as `gup_fast_pmd_range` returns), then the section ends. The property is
//! M2's plus the built-in [`INV-TABLE-LIFE`](crate::engine::invariant::InvariantId::TABLE_LIFE):
//! no read of a freed table.
//!
//! Written only with the public API, as another crate would write them. Their state is the
//! pmds, their locks, `mmap_lock` and each thread's step and pmd (M3: and which tables are
//! freed and the grace period's state): the same state the peers keep, so the reachable-state
//! counts compare (a fault maps the pmd's page again, so a huge pmd has one value).

use std::vec::Vec;

use crate::engine::invariant::{Invariant, InvariantId, InvariantSet};
use crate::engine::mm::{MAX_PMDS, Machine};
use crate::engine::program::{Program, Step, Wait};
use crate::engine::state::locks::RcuId;
use crate::engine::{Scenario, ScenarioBuilder, ScenarioError, Tid};
use crate::entry::{Pmd, PmdOps};

/// M1's property.
pub static M1_NEVERNONE: Invariant = Invariant::new(
    "INV-M1-NEVERNONE",
    "No lockless read sees an empty pmd while a split is between pmdp_invalidate and pmd_populate.",
);

/// M2's property: M1's, and the same for a collapse between its flush and its new pmd (what
/// `mmap_lock` protects).
pub static M2_NEVERNONE: Invariant = Invariant::new(
    "INV-M2-NEVERNONE",
    "No lockless read sees an empty pmd while a split is between pmdp_invalidate and pmd_populate, or a collapse between pmdp_collapse_flush and set_pmd_at.",
);

/// The most threads M1 runs (split, zap, fault, zap).
pub const M1_MAX_THREADS: u8 = 4;

/// The most threads M2 runs (split, zap, collapse, fault).
pub const M2_MAX_THREADS: u8 = 4;

/// The most threads M3 runs (split, zap, walker, collapse).
pub const M3_MAX_THREADS: u8 = 4;

/// M3's RCU domain: the walker's interrupts-off section and the zap's grace period.
pub const M3_RCU: RcuId = RcuId::new(0, "rcu (gup_fast irqs off, tlb_remove_table)");

// Split's steps (M1 and M2).
const S_LOCK: u8 = 0;
const S_READ: u8 = 1;
const S_INVALIDATE: u8 = 2;
const S_POPULATE: u8 = 3;
const S_UNLOCK: u8 = 4;
const S_STEPS: u8 = 5;
// Zap's and fault's steps in M1; M2 takes `mmap_lock` for read first (every step one later)
// and drops it last.
const PEEK: u8 = 0;
const LOCK: u8 = 1;
const READ: u8 = 2;
const WRITE: u8 = 3;
const UNLOCK: u8 = 4;
const M1_STEPS: u8 = 5;
const M2_READ_LOCK: u8 = 0;
const M2_READ_UNLOCK: u8 = 6;
const M2_STEPS: u8 = 7;
// Collapse's steps (M2, collapse_huge_page's order: the pmd lock is dropped between the
// flush and the new huge pmd, `mmap_lock` held for write throughout).
const C_WRITE_LOCK: u8 = 0;
const C_LOCK: u8 = 1;
const C_READ: u8 = 2;
const C_FLUSH: u8 = 3;
const C_UNLOCK_FLUSHED: u8 = 4;
const C_RELOCK: u8 = 5;
const C_SET: u8 = 6;
const C_UNLOCK: u8 = 7;
const C_WRITE_UNLOCK: u8 = 8;
const C_STEPS: u8 = 9;
// M3's collapse waits for the walker after its flush (`tlb_remove_table_sync_one`, v6.12
// mm/khugepaged.c:1184): one more step, numbered last, between C_UNLOCK_FLUSHED and C_RELOCK.
const C_SYNC: u8 = 9;
// M3's zap (per pmd): what M2's does, but a huge pmd's clear also frees its deposited table,
// and a table pmd's clear is followed by unlock, grace period (fixed) and free.
const Z_READ_LOCK: u8 = 0;
const Z_PEEK: u8 = 1;
const Z_LOCK: u8 = 2;
const Z_READ: u8 = 3;
const Z_CLEAR_HUGE: u8 = 4;
const Z_CLEAR_TABLE: u8 = 5;
const Z_UNLOCK: u8 = 6;
const Z_UNLOCK_TABLE: u8 = 7;
const Z_SYNC: u8 = 8;
const Z_FREE: u8 = 9;
const Z_READ_UNLOCK: u8 = 10;
const Z_STEPS: u8 = 11;
// M3's walker: not per pmd. Section start at 0, pmd r's read at 1 + 2r and pte read at
// 2 + 2r, section end at 1 + 2N, done at 2 + 2N.
const W_IRQ_OFF: u8 = 0;
/// The walker's first pmd read; pmd `r` is read at `W_FIRST_PMD + 2r`, its pte after.
const W_FIRST_PMD: u8 = 1;

/// The split thread's id: its step counter says whether a pmd is mid-split.
const SPLIT: Tid = Tid(0);

/// Which model a thread belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Model {
    M1,
    M2,
    M3,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Split,
    Zap,
    Fault,
    Collapse,
    Walker,
}

/// One thread of M1 or M2.
struct ModelThread<A: PmdOps> {
    role: Role,
    model: Model,
    /// M2 and M3: zap and fault take `mmap_lock` for read around each pmd; the property
    /// covers the collapse thread.
    m2: bool,
    /// The collapse thread, where the model has one at this thread count.
    collapse: Option<Tid>,
    /// M2: whether zap and fault take `mmap_lock` (false only in the test that shows the
    /// property sees a collapse).
    readers_lock: bool,
    /// M3: whether the zap waits for a grace period before it frees a table (the fix).
    sync: bool,
    /// M3: whether the collapse waits for the walker after its flush (the v6.1 fix; false
    /// apart from `sync` only in the test that finds that race alone).
    collapse_sync: bool,
    /// Per pmd: the huge pmd, what `pmdp_invalidate` makes of it, the table pmd.
    huge: Vec<Pmd<A>>,
    invalid: Vec<Pmd<A>>,
    table: Vec<Pmd<A>>,
    /// Per pmd: the table its table pmd points to (M3 frees it).
    tables: Vec<u8>,
}

impl<A: PmdOps> ModelThread<A> {
    fn pmds(&self) -> u8 {
        self.huge.len() as u8
    }

    /// Steps per pmd: the thread's program counter is `pmd * steps + step`.
    fn steps(&self) -> u8 {
        match (self.role, self.m2) {
            (Role::Split, _) => S_STEPS,
            (Role::Collapse, _) => self.collapse_steps(),
            (Role::Zap, _) if self.model == Model::M3 => Z_STEPS,
            (_, false) => M1_STEPS,
            (_, true) => M2_STEPS,
        }
    }

    /// The collapse's steps per pmd: M3's has its grace period.
    fn collapse_steps(&self) -> u8 {
        if self.model == Model::M3 {
            C_STEPS + 1
        } else {
            C_STEPS
        }
    }

    /// Moves to `step` of pmd `r`, or past the last pmd: done, at one program counter
    /// however the last pmd ended (the peers keep a finished thread as one state too).
    fn go(&self, m: &mut Machine<A>, t: Tid, r: u8, step: u8) {
        let steps = self.steps();
        if r >= self.pmds() {
            m.goto(t, self.pmds() * steps);
            m.th_mut(t).done = true;
        } else {
            m.goto(t, r * steps + step);
        }
    }

    /// A lockless read of pmd `r`: flags the model's property when it sees none mid-split
    /// (or, in M2, mid-collapse).
    fn peek(&self, m: &mut Machine<A>, r: u8) -> Pmd<A> {
        let v = m.pmd_get(r);
        if !A::pmd_none(v) {
            return v;
        }
        let split = m.th(SPLIT);
        let mid_split = !split.done && split.pc == r * S_STEPS + S_POPULATE;
        let mid_collapse = self.collapse.is_some_and(|c| {
            let c = m.th(c);
            let steps = self.collapse_steps();
            !c.done
                && c.pc / steps == r
                && matches!(c.pc % steps, C_UNLOCK_FLUSHED | C_SYNC | C_RELOCK | C_SET)
        });
        if mid_split || mid_collapse {
            let (inv, what) = if self.m2 {
                (
                    &M2_NEVERNONE,
                    if mid_split {
                        "a lockless read saw pmd_none in the middle of a split"
                    } else {
                        "a lockless read saw pmd_none in the middle of a collapse"
                    },
                )
            } else {
                (
                    &M1_NEVERNONE,
                    "a lockless read saw pmd_none in the middle of a split",
                )
            };
            m.flag(inv.id(), what);
        }
        v
    }

    /// Zap's and fault's steps after the lockless read (M1's numbering).
    fn reader_step(&self, m: &mut Machine<A>, t: Tid, r: u8, step: u8) -> Step {
        // M2's steps are M1's one later; a reader leaving a pmd drops mmap_lock first.
        let off = u8::from(self.m2);
        let leave = |this: &Self, m: &mut Machine<A>| {
            if this.m2 {
                this.go(m, t, r, M2_READ_UNLOCK);
            } else {
                this.go(m, t, r + 1, PEEK);
            }
        };
        match (self.role, step) {
            (Role::Zap, PEEK) => {
                let v = self.peek(m, r);
                if A::pmd_none(v) {
                    leave(self, m);
                } else {
                    self.go(m, t, r, LOCK + off);
                }
                Step::Ran("lockless read")
            }
            (_, PEEK) => {
                let v = self.peek(m, r);
                if A::pmd_none(v) {
                    self.go(m, t, r, LOCK + off);
                } else {
                    leave(self, m);
                }
                Step::Ran("lockless read")
            }
            (_, LOCK) => {
                if m.pmd_lock(r, t) {
                    self.go(m, t, r, READ + off);
                    Step::Ran("pmd_lock")
                } else {
                    Step::Blocked(Wait::PmdLock(r))
                }
            }
            (Role::Zap, READ) => {
                let huge = m.pmd_get(r) == self.huge[usize::from(r)];
                self.go(m, t, r, if huge { WRITE } else { UNLOCK } + off);
                Step::Ran("read pmd")
            }
            (_, READ) => {
                let none = A::pmd_none(m.pmd_get(r));
                self.go(m, t, r, if none { WRITE } else { UNLOCK } + off);
                Step::Ran("read pmd")
            }
            (Role::Zap, WRITE) => {
                m.pmd_set(r, A::pmd_empty());
                self.go(m, t, r, UNLOCK + off);
                Step::Ran("pmd_clear")
            }
            (_, WRITE) => {
                m.pmd_set(r, self.huge[usize::from(r)]);
                self.go(m, t, r, UNLOCK + off);
                Step::Ran("set_pmd_at")
            }
            _ => {
                m.pmd_unlock(r, t);
                leave(self, m);
                Step::Ran("pmd_unlock")
            }
        }
    }

    fn split_step(&self, m: &mut Machine<A>, t: Tid, r: u8, step: u8) -> Step {
        match step {
            S_LOCK => {
                if m.pmd_lock(r, t) {
                    self.go(m, t, r, S_READ);
                    Step::Ran("pmd_lock")
                } else {
                    Step::Blocked(Wait::PmdLock(r))
                }
            }
            S_READ => {
                let huge = m.pmd_get(r) == self.huge[usize::from(r)];
                self.go(m, t, r, if huge { S_INVALIDATE } else { S_UNLOCK });
                Step::Ran("read pmd")
            }
            S_INVALIDATE => {
                if self.model == Model::M3 {
                    // __split_huge_pmd_locked withdraws the table it will populate.
                    m.withdraw(r);
                }
                m.pmd_set(r, self.invalid[usize::from(r)]);
                self.go(m, t, r, S_POPULATE);
                Step::Ran("pmdp_invalidate")
            }
            S_POPULATE => {
                m.pmd_set(r, self.table[usize::from(r)]);
                self.go(m, t, r, S_UNLOCK);
                Step::Ran("pmd_populate")
            }
            _ => {
                m.pmd_unlock(r, t);
                self.go(m, t, r + 1, S_LOCK);
                Step::Ran("pmd_unlock")
            }
        }
    }

    fn collapse_step(&self, m: &mut Machine<A>, t: Tid, r: u8, step: u8) -> Step {
        let lock = |m: &mut Machine<A>, next: u8| {
            if m.pmd_lock(r, t) {
                self.go(m, t, r, next);
                Step::Ran("pmd_lock")
            } else {
                Step::Blocked(Wait::PmdLock(r))
            }
        };
        match step {
            C_WRITE_LOCK => match m.mmap_write(t) {
                Some(true) => {
                    self.go(m, t, r, C_LOCK);
                    Step::Ran("mmap_write_lock")
                }
                Some(false) => Step::Ran("mmap_write_lock (queued)"),
                None => Step::Blocked(Wait::MmapWrite),
            },
            C_LOCK => lock(m, C_READ),
            C_READ => {
                let table = m.pmd_get(r) == self.table[usize::from(r)];
                self.go(m, t, r, if table { C_FLUSH } else { C_UNLOCK });
                Step::Ran("read pmd")
            }
            C_FLUSH => {
                m.pmd_set(r, A::pmd_empty());
                self.go(m, t, r, C_UNLOCK_FLUSHED);
                Step::Ran("pmdp_collapse_flush")
            }
            C_UNLOCK_FLUSHED => {
                m.pmd_unlock(r, t);
                let sync = self.model == Model::M3 && self.collapse_sync;
                self.go(m, t, r, if sync { C_SYNC } else { C_RELOCK });
                Step::Ran("pmd_unlock")
            }
            C_SYNC => match m.synchronize_rcu(M3_RCU, t) {
                Some(true) => {
                    self.go(m, t, r, C_RELOCK);
                    Step::Ran("tlb_remove_table_sync_one: the walker is out")
                }
                Some(false) => Step::Ran("tlb_remove_table_sync_one: waits for the walker"),
                None => Step::Blocked(Wait::GracePeriod(M3_RCU)),
            },
            C_RELOCK => lock(m, C_SET),
            C_SET => {
                if self.model == Model::M3 {
                    // collapse_huge_page deposits the old table under the new huge pmd.
                    m.deposit(r, self.tables[usize::from(r)]);
                }
                m.pmd_set(r, self.huge[usize::from(r)]);
                self.go(m, t, r, C_UNLOCK);
                Step::Ran("set_pmd_at")
            }
            C_UNLOCK => {
                m.pmd_unlock(r, t);
                self.go(m, t, r, C_WRITE_UNLOCK);
                Step::Ran("pmd_unlock")
            }
            _ => {
                m.mmap_write_unlock(t);
                self.go(m, t, r + 1, C_WRITE_LOCK);
                Step::Ran("mmap_write_unlock")
            }
        }
    }

    /// M3's zap of pmd `r` (see the module's table): clears a huge pmd and frees its deposit
    /// under the pmd lock, or clears a table pmd and frees its table after the unlock (after
    /// a grace period in the fixed variant).
    fn zap3_step(&self, m: &mut Machine<A>, t: Tid, r: u8, step: u8) -> Step {
        let i = usize::from(r);
        match step {
            Z_READ_LOCK => {
                if m.mmap_read(t) {
                    self.go(m, t, r, Z_PEEK);
                    Step::Ran("mmap_read_lock")
                } else {
                    Step::Blocked(Wait::MmapRead)
                }
            }
            Z_PEEK => {
                let v = self.peek(m, r);
                self.go(
                    m,
                    t,
                    r,
                    if A::pmd_none(v) {
                        Z_READ_UNLOCK
                    } else {
                        Z_LOCK
                    },
                );
                Step::Ran("lockless read")
            }
            Z_LOCK => {
                if m.pmd_lock(r, t) {
                    self.go(m, t, r, Z_READ);
                    Step::Ran("pmd_lock")
                } else {
                    Step::Blocked(Wait::PmdLock(r))
                }
            }
            Z_READ => {
                let v = m.pmd_get(r);
                let next = if v == self.huge[i] {
                    Z_CLEAR_HUGE
                } else if v == self.table[i] {
                    Z_CLEAR_TABLE
                } else {
                    Z_UNLOCK
                };
                self.go(m, t, r, next);
                Step::Ran("read pmd")
            }
            Z_CLEAR_HUGE => {
                m.pmd_set(r, A::pmd_empty());
                if let Some(deposit) = m.withdraw(r) {
                    m.table_free(deposit);
                }
                self.go(m, t, r, Z_UNLOCK);
                Step::Ran("pmdp_huge_get_and_clear, zap_deposited_table")
            }
            Z_CLEAR_TABLE => {
                m.pmd_set(r, A::pmd_empty());
                self.go(m, t, r, Z_UNLOCK_TABLE);
                Step::Ran("pmd_clear")
            }
            Z_UNLOCK => {
                m.pmd_unlock(r, t);
                self.go(m, t, r, Z_READ_UNLOCK);
                Step::Ran("pmd_unlock")
            }
            Z_UNLOCK_TABLE => {
                m.pmd_unlock(r, t);
                self.go(m, t, r, if self.sync { Z_SYNC } else { Z_FREE });
                Step::Ran("pmd_unlock")
            }
            Z_SYNC => match m.synchronize_rcu(M3_RCU, t) {
                Some(true) => {
                    self.go(m, t, r, Z_FREE);
                    Step::Ran("tlb_remove_table: the grace period ended")
                }
                Some(false) => Step::Ran("tlb_remove_table: a grace period waits for the walker"),
                None => Step::Blocked(Wait::GracePeriod(M3_RCU)),
            },
            Z_FREE => {
                m.table_free(self.tables[i]);
                self.go(m, t, r, Z_READ_UNLOCK);
                Step::Ran("pte_free")
            }
            _ => {
                m.mmap_read_unlock(t);
                self.go(m, t, r + 1, Z_READ_LOCK);
                Step::Ran("mmap_read_unlock")
            }
        }
    }

    /// M3's walker, GUP-fast: one read-side section around a lockless walk of every pmd.
    fn walker_step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let pc = m.th(t).pc;
        let n = self.pmds();
        let end = W_FIRST_PMD + 2 * n;
        if pc == W_IRQ_OFF {
            m.rcu_read_lock(M3_RCU, t);
            m.goto(t, W_FIRST_PMD);
            return Step::Ran("local_irq_save");
        }
        if pc >= end {
            m.rcu_read_unlock(M3_RCU, t);
            m.goto(t, end + 1);
            m.th_mut(t).done = true;
            return Step::Ran("local_irq_restore");
        }
        let r = (pc - W_FIRST_PMD) / 2;
        let i = usize::from(r);
        if (pc - W_FIRST_PMD) % 2 == 0 {
            let v = m.pmd_get(r);
            let next = if v == self.table[i] {
                pc + 1
            } else if v == self.huge[i] {
                pc + 2
            } else {
                end
            };
            m.goto(t, next);
            Step::Ran("pmdp_get_lockless")
        } else {
            m.pte_get(self.tables[i], 0);
            m.goto(t, pc + 1);
            Step::Ran("ptep_get_lockless")
        }
    }
}

impl<A: PmdOps> Program<A> for ModelThread<A> {
    fn name(&self) -> &'static str {
        match (self.role, self.m2) {
            (Role::Walker, _) => "M3 walker (gup_fast, v6.12 order)",
            (Role::Zap, _) if self.model == Model::M3 => {
                "M3 zap (zap_pmd_range under mmap_read_lock, then pte_free)"
            }
            (Role::Split, _) => "split (__split_huge_pmd, v4.5 order)",
            (Role::Zap, false) => "M1 zap (zap_pmd_range)",
            (Role::Fault, false) => "M1 fault (__handle_mm_fault)",
            (Role::Zap, true) => "M2 zap (zap_pmd_range under mmap_read_lock)",
            (Role::Fault, true) => "M2 fault (__handle_mm_fault under mmap_read_lock)",
            (Role::Collapse, _) => "collapse (collapse_huge_page under mmap_write_lock)",
        }
    }

    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        if self.role == Role::Walker {
            return self.walker_step(m, t);
        }
        let pc = m.th(t).pc;
        let steps = self.steps();
        let (r, step) = (pc / steps, pc % steps);
        match self.role {
            Role::Split => self.split_step(m, t, r, step),
            Role::Collapse => self.collapse_step(m, t, r, step),
            Role::Zap if self.model == Model::M3 => self.zap3_step(m, t, r, step),
            _ if !self.m2 => self.reader_step(m, t, r, step),
            _ => match step {
                M2_READ_LOCK if !self.readers_lock => {
                    self.go(m, t, r, M2_READ_LOCK + 1);
                    Step::Ran("no mmap_read_lock")
                }
                M2_READ_UNLOCK if !self.readers_lock => {
                    self.go(m, t, r + 1, M2_READ_LOCK);
                    Step::Ran("no mmap_read_unlock")
                }
                M2_READ_LOCK => {
                    if m.mmap_read(t) {
                        self.go(m, t, r, M2_READ_LOCK + 1);
                        Step::Ran("mmap_read_lock")
                    } else {
                        Step::Blocked(Wait::MmapRead)
                    }
                }
                M2_READ_UNLOCK => {
                    m.mmap_read_unlock(t);
                    self.go(m, t, r + 1, M2_READ_LOCK);
                    Step::Ran("mmap_read_unlock")
                }
                _ => self.reader_step(m, t, r, step - 1),
            },
        }
    }
}

/// A thread with nothing to do.
struct Idle;

impl<A: PmdOps> Program<A> for Idle {
    fn name(&self) -> &'static str {
        "idle"
    }
    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        m.th_mut(t).done = true;
        Step::Ran("done")
    }
}

/// Builds M1 with `threads` threads (the first of split, zap, fault, zap) on `pmds` huge pmds.
///
/// # Errors
/// Thread or pmd counts outside the model ([`ScenarioError::TooManyThreads`],
/// [`ScenarioError::NoThreads`], [`ScenarioError::TooManyRegions`]), or a backend without
/// THP.
pub fn m1<A: PmdOps>(threads: u8, pmds: u8) -> Result<Scenario<A>, ScenarioError> {
    build(Model::M1, threads, pmds, true, (true, true))
}

/// Builds M2 with `threads` threads (the first of split, zap, collapse, fault) on `pmds` huge
/// pmds: M1 with `mmap_lock` (zap and fault take it for read around each pmd, the collapse
/// for write) and khugepaged's collapse of a split pmd back to a huge one.
///
/// # Errors
/// As [`m1`].
pub fn m2<A: PmdOps>(threads: u8, pmds: u8) -> Result<Scenario<A>, ScenarioError> {
    build(Model::M2, threads, pmds, true, (true, true))
}

/// Builds M3 with `threads` threads (the first of split, zap, walker, collapse) on `pmds`
/// huge pmds: M2 with page-table lifetime (zap frees what it clears; with `sync` it waits for
/// a grace period before it frees a table a walker may still read) and a GUP-fast walker.
///
/// # Errors
/// As [`m1`].
pub fn m3<A: PmdOps>(threads: u8, pmds: u8, sync: bool) -> Result<Scenario<A>, ScenarioError> {
    build(Model::M3, threads, pmds, true, (sync, sync))
}

fn build<A: PmdOps>(
    model: Model,
    threads: u8,
    pmds: u8,
    readers_lock: bool,
    (sync, collapse_sync): (bool, bool),
) -> Result<Scenario<A>, ScenarioError> {
    let (name, max, roles, names): (_, _, [Role; 4], [&str; 4]) = match model {
        Model::M1 => (
            "M1",
            M1_MAX_THREADS,
            [Role::Split, Role::Zap, Role::Fault, Role::Zap],
            ["split", "zap", "fault", "zap2"],
        ),
        Model::M2 => (
            "M2",
            M2_MAX_THREADS,
            [Role::Split, Role::Zap, Role::Collapse, Role::Fault],
            ["split", "zap", "collapse", "fault"],
        ),
        Model::M3 => (
            "M3",
            M3_MAX_THREADS,
            [Role::Split, Role::Zap, Role::Walker, Role::Collapse],
            ["split", "zap", "walker", "collapse"],
        ),
    };
    if threads > max {
        return Err(ScenarioError::TooManyThreads {
            max: usize::from(max),
        });
    }
    if usize::from(pmds) > MAX_PMDS {
        return Err(ScenarioError::TooManyRegions {
            asked: usize::from(pmds),
            max: MAX_PMDS,
        });
    }
    let mut b = ScenarioBuilder::<A>::new(name, usize::from(pmds));
    for r in 0..pmds {
        b = b.huge(r)?;
    }
    // Every pmd's three values, read from the initial state (a scenario needs a thread).
    let sc = b.thread("read values", Idle).build()?;
    let init = &sc.initial;
    let mut huge = Vec::new();
    let mut invalid = Vec::new();
    let mut table = Vec::new();
    let mut tables = Vec::new();
    for r in 0..pmds {
        let h = init.peek_pmd(r);
        let t = init.deposited(r).ok_or(ScenarioError::ArenaFull)?;
        huge.push(h);
        invalid.push(A::pmdp_invalidate(h).map_err(ScenarioError::Encoding)?);
        table.push(A::pmd_populate(Machine::<A>::table_pfn(t)).map_err(ScenarioError::Encoding)?);
        tables.push(t);
    }
    let mut b = ScenarioBuilder::<A>::new(name, usize::from(pmds));
    for r in 0..pmds {
        b = b.huge(r)?;
    }
    let collapse = roles
        .iter()
        .take(usize::from(threads))
        .position(|&r| r == Role::Collapse)
        .map(|i| Tid(i as u8));
    for (&role, &name) in roles.iter().zip(&names).take(usize::from(threads)) {
        b = b.thread(
            name,
            ModelThread {
                role,
                model,
                m2: model != Model::M1,
                collapse,
                readers_lock,
                sync,
                collapse_sync,
                huge: huge.clone(),
                invalid: invalid.clone(),
                table: table.clone(),
                tables: tables.clone(),
            },
        );
    }
    let (set, property) = match model {
        Model::M1 => (InvariantSet::default(), &M1_NEVERNONE),
        Model::M2 => (InvariantSet::default(), &M2_NEVERNONE),
        Model::M3 => (
            InvariantSet::default().with(InvariantId::TABLE_LIFE),
            &M2_NEVERNONE,
        ),
    };
    let b = b.invariants(set).invariant(property);
    if model == Model::M3 { b.rcu(M3_RCU) } else { b }.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::X86_64;
    use crate::engine::explore::{Options, Search, Verdict, explore};
    use std::string::ToString;

    /// The collapse half of INV-M2-NEVERNONE can fire: without `mmap_lock` around zap's
    /// lockless read, zap sees the collapse's flushed pmd (on a fixed encoding, where the
    /// split half cannot).
    #[test]
    fn m2_readers_without_mmap_lock_see_the_collapse() {
        let sc = build::<X86_64>(Model::M2, 3, 1, false, (true, true)).unwrap();
        let out = explore(
            &sc,
            Options {
                search: Search::BreadthFirst,
                ..Options::default()
            },
        );
        let Verdict::Violated(cx) = out.verdict else {
            panic!("expected a violation, got {:?}", out.verdict);
        };
        assert_eq!(cx.invariant.id(), "INV-M2-NEVERNONE");
        assert!(cx.what.contains("collapse"), "{}", cx.what);
        // With the lock it holds.
        let sc = m2::<X86_64>(3, 1).unwrap();
        assert!(matches!(
            explore(&sc, Options::default()).verdict,
            Verdict::Holds
        ));
    }

    /// v6.1's 2ba99c5e0881 alone: with the zap's grace period but without the collapse's
    /// `tlb_remove_table_sync_one`, the walker reads the table the collapse deposited again
    /// and a zap freed; with it M3 holds.
    #[test]
    fn m3_finds_the_collapse_without_tlb_remove_table_sync_one() {
        let sc = build::<X86_64>(Model::M3, 4, 1, true, (true, false)).unwrap();
        let out = explore(
            &sc,
            Options {
                search: Search::BreadthFirst,
                ..Options::default()
            },
        );
        let Verdict::Violated(cx) = out.verdict else {
            panic!("expected a violation, got {:?}", out.verdict);
        };
        assert_eq!(cx.invariant.id(), "INV-TABLE-LIFE");
        let text = crate::engine::trace::replay(&sc, &cx.schedule)
            .unwrap()
            .to_string();
        for step in [
            "pmdp_collapse_flush",
            "zap_deposited_table",
            "ptep_get_lockless",
        ] {
            assert!(text.contains(step), "{step} missing from\n{text}");
        }
        assert!(!text.contains("tlb_remove_table_sync_one"), "{text}");
        // The collapse alone needs the walker and the zap: 3 threads without it hold.
        let sc = build::<X86_64>(Model::M3, 3, 2, true, (true, false)).unwrap();
        assert!(matches!(
            explore(&sc, Options::default()).verdict,
            Verdict::Holds
        ));
        let sc = m3::<X86_64>(4, 2, true).unwrap();
        assert!(matches!(
            explore(&sc, Options::default()).verdict,
            Verdict::Holds
        ));
    }
}
