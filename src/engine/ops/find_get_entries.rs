//! A lockless reader of the page cache that keeps what it finds: `find_get_entries`
//! (v6.12 mm/filemap.c) over the modelled indices, the batch lookup truncation, hole punch
//! and `shmem_undo_range` use. Per index, under RCU: `xas_load` (a retry entry starts the
//! load again: modelled as waiting for `xa_lock`, whose holder is the only thread that
//! leaves retry entries behind), `folio_try_get`, `xas_reload` (a changed slot: `folio_put`
//! and load again); the references are dropped with the batch at the end
//! (`folio_batch_release`). A reference held across another thread's refcount check is what
//! makes `collapse_file` fail with `SCAN_PAGE_COUNT`.

use crate::entry::PmdOps;

use super::super::Tid;
use super::super::mm::Machine;
use super::super::program::{Limits, Program, ProgramError, Step, Wait};
use super::super::state::locks::SpinlockId;
use super::super::state::page_cache::{CACHE_SLOTS, XaEntry};
use super::collapse_file::CollapseGhost;
use super::finish;

/// `find_get_entries` over every modelled index.
#[derive(Clone, Copy, Debug)]
pub struct FindGetEntries {
    /// The mapping's `xa_lock`.
    pub xa_lock: SpinlockId,
    /// The race-004 monitor cell: what the reader returned.
    pub ghost: CollapseGhost,
}

const LOAD: u8 = 0;
const GET: u8 = 1;
const RELOAD: u8 = 2;
const RELEASE: u8 = 3;

/// Register 0: the index; register 1: the folio being taken + 1; register 2, a byte per
/// index: the folio kept there + 1.
const INDEX: usize = 0;
const CUR: usize = 1;
const KEPT: usize = 2;

impl<A: PmdOps> Program<A> for FindGetEntries {
    fn name(&self) -> &'static str {
        "find_get_entries (v6.12)"
    }

    fn check(&self, limits: &Limits) -> Result<(), ProgramError> {
        limits.ghost_cell(self.ghost.0)
    }

    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let index = m.th(t).regs[INDEX] as usize;
        let cur = (m.th(t).regs[CUR] as u8).wrapping_sub(1);
        match m.th(t).pc {
            LOAD => {
                if index >= CACHE_SLOTS {
                    m.goto(t, RELEASE);
                    return Step::Ran("the batch is full: rcu_read_unlock");
                }
                match m.xa_load(index) {
                    XaEntry::Retry => Step::Blocked(Wait::Spinlock(self.xa_lock)),
                    XaEntry::Empty => {
                        m.th_mut(t).regs[INDEX] += 1;
                        Step::Ran("xas_find: a hole")
                    }
                    XaEntry::Page(p) => {
                        m.th_mut(t).regs[CUR] = u64::from(p) + 1;
                        m.goto(t, GET);
                        Step::Ran("xas_find: a folio")
                    }
                }
            }
            GET => {
                m.page_get(cur);
                m.goto(t, RELOAD);
                Step::Ran("folio_try_get")
            }
            RELOAD => {
                if m.xa_load(index) != XaEntry::Page(cur) {
                    m.page_put(cur);
                    m.goto(t, LOAD);
                    return Step::Ran("xas_reload: the slot changed: folio_put, load again");
                }
                self.ghost.observe(m, index, cur);
                m.th_mut(t).regs[KEPT] |= (u64::from(cur) + 1) << (8 * index);
                m.th_mut(t).regs[INDEX] += 1;
                m.goto(t, LOAD);
                Step::Ran("xas_reload: unchanged: the folio joins the batch")
            }
            RELEASE => {
                for i in 0..CACHE_SLOTS {
                    if let Some(p) = ((m.th(t).regs[KEPT] >> (8 * i)) as u8).checked_sub(1) {
                        m.page_put(p);
                    }
                }
                finish(m, t);
                Step::Ran("folio_batch_release")
            }
            _ => {
                finish(m, t);
                Step::Ran("find_get_entries: no such step")
            }
        }
    }
}
