//! `mlock()` of a file mapping, whose population faults every page in (race 001-B's
//! `mmap_lock` cycle):
//!
//! - [`MlockShape::V2_6_18`]: `sys_mlock` → `do_mlock` → `mlock_fixup` → `make_pages_present`
//!   → `get_user_pages`, all with `mmap_sem` held for write (mm/mlock.c, 2.6.18): the fault
//!   on the page locks it (`filemap_fault`'s `lock_page`, once d00806b18315 made the fault
//!   path lock pages) with the write lock held.
//! - [`MlockShape::V6_12`]: `do_mlock` sets `VM_LOCKED` under `mmap_write_lock` and drops it;
//!   `__mm_populate` faults the pages in under `mmap_read_lock` (mm/gup.c).
//!
//! The fault is reduced to what the cycle needs: the page lock taken and released.

use crate::entry::PmdOps;

use super::super::Tid;
use super::super::mm::Machine;
use super::super::program::{Program, Step, Wait};
use super::finish;

/// Which kernel's `mlock`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MlockShape {
    /// Population under the write lock (2.6.18).
    V2_6_18,
    /// Population under the read lock (v6.12).
    V6_12,
}

/// `mlock()` of a range whose page-cache page is `page`.
#[derive(Clone, Copy, Debug)]
pub struct MlockPopulate {
    /// The page the population faults in.
    pub page: u8,
    /// Which kernel's.
    pub shape: MlockShape,
}

const WRITE_LOCK: u8 = 0;
const FLAG: u8 = 1;
const READ_LOCK: u8 = 2;
const FAULT: u8 = 3;
const UNLOCK_PAGE: u8 = 4;
const UNLOCK: u8 = 5;

impl<A: PmdOps> Program<A> for MlockPopulate {
    fn name(&self) -> &'static str {
        match self.shape {
            MlockShape::V2_6_18 => "mlock (2.6.18: make_pages_present under mmap_sem write)",
            MlockShape::V6_12 => "mlock (v6.12: __mm_populate under mmap_lock read)",
        }
    }

    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let old = self.shape == MlockShape::V2_6_18;
        match m.th(t).pc {
            WRITE_LOCK => match m.mmap_write(t) {
                Some(true) => {
                    m.goto(t, FLAG);
                    Step::Ran("do_mlock: mmap_write_lock")
                }
                Some(false) => Step::Ran("do_mlock: mmap_write_lock: queued"),
                None => Step::Blocked(Wait::MmapWrite),
            },
            FLAG => {
                if old {
                    m.goto(t, FAULT);
                    return Step::Ran(
                        "mlock_fixup: VM_LOCKED; make_pages_present: get_user_pages, write lock held",
                    );
                }
                m.mmap_write_unlock(t);
                m.goto(t, READ_LOCK);
                Step::Ran("mlock_fixup: VM_LOCKED; mmap_write_unlock")
            }
            READ_LOCK => {
                if !m.mmap_read(t) {
                    return Step::Blocked(Wait::MmapRead);
                }
                m.goto(t, FAULT);
                Step::Ran("__mm_populate: mmap_read_lock; populate_vma_page_range")
            }
            FAULT => {
                if !m.page_lock(self.page, t) {
                    return Step::Blocked(Wait::PageLock(self.page));
                }
                m.goto(t, UNLOCK_PAGE);
                Step::Ran("get_user_pages: handle_mm_fault: filemap_fault: lock_page")
            }
            UNLOCK_PAGE => {
                m.page_unlock(self.page, t);
                m.goto(t, UNLOCK);
                Step::Ran("the page mapped; unlock_page")
            }
            UNLOCK => {
                if old {
                    m.mmap_write_unlock(t);
                } else {
                    m.mmap_read_unlock(t);
                }
                finish(m, t);
                Step::Ran(if old {
                    "up_write(mmap_sem)"
                } else {
                    "mmap_read_unlock"
                })
            }
            _ => {
                finish(m, t);
                Step::Ran("mlock: no such step")
            }
        }
    }
}
