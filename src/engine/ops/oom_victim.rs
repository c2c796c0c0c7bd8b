//! An OOM victim's exit (race 000-B, the OOM form of the deadlock): `exit_mmap` of a task
//! that mlocked a page-cache page `P` munlocks it first (`munlock_vma_pages_all` →
//! `munlock_vma_pages_range`, which takes the page lock to munlock it: mm/mlock.c, v4.8 to
//! v5.17; the v5.18 mlock rework dropped that lock), then its memory is freed and the OOM
//! killer can pick the next victim.
//!
//! "The victim has not exited" is a declared mutex the scenario names: held from the OOM
//! kill until the exit, and what an allocation stuck in the OOM path waits for (a fault's
//! `reclaim_waits_on`).

use crate::entry::PmdOps;

use super::super::Tid;
use super::super::mm::Machine;
use super::super::program::{Program, Step, Wait};
use super::super::state::locks::MutexId;
use super::finish;

/// The exit of an OOM victim that has page `page` mlocked.
#[derive(Clone, Copy, Debug)]
pub struct OomVictimExit {
    /// The mlocked page-cache page.
    pub page: u8,
    /// Held until the victim has exited.
    pub exiting: MutexId,
}

const KILLED: u8 = 0;
const MUNLOCK: u8 = 1;
const UNLOCK: u8 = 2;
const EXITED: u8 = 3;

impl<A: PmdOps> Program<A> for OomVictimExit {
    fn name(&self) -> &'static str {
        "exit_mmap of an OOM victim (v4.8 to v5.17)"
    }

    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        match m.th(t).pc {
            KILLED => {
                if !m.mutex_lock(self.exiting, t) {
                    return Step::Blocked(Wait::Mutex(self.exiting));
                }
                m.goto(t, MUNLOCK);
                Step::Ran(
                    "out_of_memory: the task is the OOM victim; allocations wait for its exit",
                )
            }
            MUNLOCK => {
                if !m.page_lock(self.page, t) {
                    return Step::Blocked(Wait::PageLock(self.page));
                }
                m.goto(t, UNLOCK);
                Step::Ran("exit_mmap: munlock_vma_pages_all: lock_page(P)")
            }
            UNLOCK => {
                m.page_unlock(self.page, t);
                m.goto(t, EXITED);
                Step::Ran("munlock_vma_page; unlock_page(P)")
            }
            EXITED => {
                m.mutex_unlock(self.exiting, t);
                finish(m, t);
                Step::Ran("exit_mmap: the victim's memory freed; the OOM path can go on")
            }
            _ => {
                finish(m, t);
                Step::Ran("OOM victim: no such step")
            }
        }
    }
}
