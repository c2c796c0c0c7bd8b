//! A filesystem's writeback of two dirty page-cache pages A then B, as the comment above
//! v6.12's `__do_fault` draws it (mm/memory.c:4871-4884, from 63f3655f9501; ext4's
//! `mpage_prepare_extent_to_map` batches pages this way): lock A, set A's writeback, unlock
//! A, lock B, set B's writeback, unlock B, then submit the I/O that ends both writebacks.
//!
//! A's writeback is a declared mutex the scenario names: held from `SetPageWriteback(A)`
//! until the I/O completes, and what memcg reclaim's `wait_on_page_writeback(A)` waits for.

use crate::entry::PmdOps;

use super::super::Tid;
use super::super::mm::Machine;
use super::super::program::{Limits, Program, ProgramError, Step, Wait};
use super::super::state::locks::MutexId;
use super::finish;

/// Writeback of page-cache pages `first` then `second`.
#[derive(Clone, Copy, Debug)]
pub struct WritebackPair {
    /// Page A.
    pub first: u8,
    /// Page B.
    pub second: u8,
    /// A's `PG_writeback`, as a declared mutex.
    pub first_writeback: MutexId,
}

const LOCK_A: u8 = 0;
const WRITEBACK_A: u8 = 1;
const UNLOCK_A: u8 = 2;
const LOCK_B: u8 = 3;
const UNLOCK_B: u8 = 4;

impl<A: PmdOps> Program<A> for WritebackPair {
    fn name(&self) -> &'static str {
        "writeback of two dirty pages (mpage_prepare_extent_to_map, ext4_io_submit)"
    }

    fn check(&self, _: &Limits) -> Result<(), ProgramError> {
        Ok(())
    }

    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        match m.th(t).pc {
            LOCK_A => {
                if !m.page_lock(self.first, t) {
                    return Step::Blocked(Wait::PageLock(self.first));
                }
                m.goto(t, WRITEBACK_A);
                Step::Ran("lock_page(A)")
            }
            WRITEBACK_A => {
                if !m.mutex_lock(self.first_writeback, t) {
                    return Step::Blocked(Wait::Mutex(self.first_writeback));
                }
                m.goto(t, UNLOCK_A);
                Step::Ran("SetPageWriteback(A)")
            }
            UNLOCK_A => {
                m.page_unlock(self.first, t);
                m.goto(t, LOCK_B);
                Step::Ran("unlock_page(A)")
            }
            LOCK_B => {
                if !m.page_lock(self.second, t) {
                    return Step::Blocked(Wait::PageLock(self.second));
                }
                m.goto(t, UNLOCK_B);
                Step::Ran("lock_page(B), SetPageWriteback(B)")
            }
            UNLOCK_B => {
                m.page_unlock(self.second, t);
                m.goto(t, UNLOCK_B + 1);
                Step::Ran("unlock_page(B)")
            }
            _ => {
                m.mutex_unlock(self.first_writeback, t);
                finish(m, t);
                Step::Ran("submit the I/O; end_page_writeback(A), end_page_writeback(B)")
            }
        }
    }
}
