//! `write(fd, buf)` of one page of a file whose source buffer is an mmap of the same file
//! (race 001-B): the copy from `buf` may fault, and the fault locks a page-cache page.
//!
//! - `2006`: the write path of the time (`generic_file_buffered_write`: `prepare_write` with
//!   the destination page locked, then `copy_from_user`, whose fault runs with that lock
//!   held) under a fault path that locks the page (`filemap_fault`, d00806b18315): a buffer
//!   on the destination page deadlocks on itself, two writers on each other's pages ABBA.
//! - `v6.12` `generic_perform_write` (mm/filemap.c:4035; the shape 08291429cfa6 introduced):
//!   `fault_in_iov_iter_readable` with no lock held (:4064), `write_begin` locks the page,
//!   `copy_folio_from_iter_atomic` copies with page faults disabled and comes back short
//!   instead of faulting (:4086), `write_end` commits what was copied and unlocks, and a
//!   short copy retries from the fault-in (:4098).
//!
//! The fault is [`FileReadFault`] run inside this program's steps.

use crate::entry::PmdOps;

use super::super::Tid;
use super::super::invariant::Invariant;
use super::super::mm::Machine;
use super::super::program::{Limits, Program, ProgramError, Step, Wait};
use super::file_fault::{FILE_FAULT_STEPS, FileReadFault, TableAlloc, fault_failed};
use super::finish;

/// Which write path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WriteShape {
    /// `copy_from_user` with the destination page locked (2006).
    CopyUnderPageLock,
    /// Fault in first, then an atomic copy under the lock (v6.12).
    AtomicCopy,
}

/// A one-page `write()` into page-cache page `dst` from a buffer at (`src_region`,
/// `src_slot`) of a file mapping, whose page is `src_page`.
#[derive(Clone, Copy, Debug)]
pub struct PerformWrite {
    /// The page written.
    pub dst: u8,
    /// The buffer's region.
    pub src_region: u8,
    /// The buffer's pte slot.
    pub src_slot: u8,
    /// The page-cache page the buffer maps.
    pub src_page: u8,
    /// Which write path.
    pub shape: WriteShape,
    /// Test-only mutation of [`WriteShape::AtomicCopy`]: no `fault_in_iov_iter_readable`,
    /// before the first copy or after a short one.
    pub skip_fault_in: bool,
    /// Most retries before INV-001-PROGRESS's monitor calls it a livelock.
    pub max_retries: u8,
    /// Flagged when a fault starts with a page lock held.
    pub fault_under_page_lock: Option<&'static Invariant>,
    /// Flagged when the retry loop goes past `max_retries` without progress.
    pub no_progress: Option<&'static Invariant>,
    /// The buffer's fault looks its page up in the page cache (and fails past `i_size`)
    /// instead of being handed `src_page`.
    pub buffer_from_cache: bool,
    /// Flagged when a write commits bytes it did not copy (a short copy's zero-filled tail).
    pub torn: Option<&'static Invariant>,
    /// Test-only mutation of [`WriteShape::AtomicCopy`]: `write_end` commits the whole
    /// length after a short copy.
    pub commit_short_copy: bool,
    /// Test-only mutation of [`WriteShape::AtomicCopy`]: the copy runs with page faults
    /// enabled (`copy_from_user` for `copy_folio_from_iter_atomic`), under the folio lock.
    pub copy_faults: bool,
}

impl PerformWrite {
    /// A write of `dst` from (`src_region`, `src_slot`), mapping `src_page`, in `shape`.
    pub const fn new(
        dst: u8,
        src_region: u8,
        src_slot: u8,
        src_page: u8,
        shape: WriteShape,
    ) -> Self {
        Self {
            dst,
            src_region,
            src_slot,
            src_page,
            shape,
            skip_fault_in: false,
            max_retries: 2,
            fault_under_page_lock: None,
            no_progress: None,
            buffer_from_cache: false,
            torn: None,
            commit_short_copy: false,
            copy_faults: false,
        }
    }
    fn fault(&self, then: u8) -> FileReadFault {
        FileReadFault {
            fault_under_page_lock: self.fault_under_page_lock,
            base: FAULT,
            then: Some(then),
            from_cache: self.buffer_from_cache,
            ..FileReadFault::new(
                self.src_region,
                self.src_slot,
                self.src_page,
                TableAlloc::Prealloc,
            )
        }
    }
}

const PREFAULT: u8 = 0;
const WRITE_BEGIN: u8 = 1;
const COPY: u8 = 2;
const WRITE_END: u8 = 3;
const RETURN: u8 = 4;
/// Where the fault's steps start.
const FAULT: u8 = 8;
/// Registers (the fault's own is register 0): whether the copy copied; retries so far;
/// where the running fault returns to.
const COPIED: usize = 1;
const RETRIES: usize = 2;
const FAULT_RETURN: usize = 3;

impl<A: PmdOps> Program<A> for PerformWrite {
    fn name(&self) -> &'static str {
        match self.shape {
            WriteShape::CopyUnderPageLock => "write(): copy_from_user under the page lock (2006)",
            WriteShape::AtomicCopy => "write(): generic_perform_write (v6.12)",
        }
    }

    fn check(&self, limits: &Limits) -> Result<(), ProgramError> {
        limits.region_slot(self.src_region, self.src_slot)
    }

    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let pc = m.th(t).pc;
        if (FAULT..FAULT + FILE_FAULT_STEPS).contains(&pc) {
            let then = m.th(t).regs[FAULT_RETURN] as u8;
            return self.fault(then).step(m, t);
        }
        let mapped = |m: &Machine<A>| m.translate(self.src_region, usize::from(self.src_slot));
        match pc {
            PREFAULT if self.shape == WriteShape::CopyUnderPageLock => {
                m.goto(t, WRITE_BEGIN);
                Step::Ran("generic_file_buffered_write: no prefault of the buffer")
            }
            PREFAULT if m.th(t).regs[FAULT_RETURN] == u64::from(PREFAULT) && fault_failed(m, t) => {
                m.goto(t, RETURN);
                Step::Ran("fault_in_iov_iter_readable: nothing could be faulted in: -EFAULT")
            }
            PREFAULT => {
                if mapped(m).is_some() || self.skip_fault_in {
                    m.goto(t, WRITE_BEGIN);
                    return Step::Ran("fault_in_iov_iter_readable: the buffer is mapped");
                }
                m.th_mut(t).regs[FAULT_RETURN] = u64::from(PREFAULT);
                m.goto(t, FAULT);
                Step::Ran("fault_in_iov_iter_readable: no lock held, the buffer faults")
            }
            WRITE_BEGIN => {
                if !m.page_lock(self.dst, t) {
                    return Step::Blocked(Wait::PageLock(self.dst));
                }
                m.goto(t, COPY);
                Step::Ran(match self.shape {
                    WriteShape::CopyUnderPageLock => "prepare_write: __grab_cache_page, lock_page",
                    WriteShape::AtomicCopy => "a_ops->write_begin: the folio locked",
                })
            }
            COPY => {
                if mapped(m).is_some() {
                    m.th_mut(t).regs[COPIED] = 1;
                    m.goto(t, WRITE_END);
                    return Step::Ran(match self.shape {
                        WriteShape::CopyUnderPageLock => "copy_from_user: copied",
                        WriteShape::AtomicCopy => "copy_folio_from_iter_atomic: copied",
                    });
                }
                if m.th(t).regs[FAULT_RETURN] == u64::from(COPY) && fault_failed(m, t) {
                    // copy_from_user zero-fills what it could not copy.
                    m.th_mut(t).regs[COPIED] = 2;
                    m.goto(t, WRITE_END);
                    return Step::Ran(
                        "copy_from_user: the fault failed: a short copy, the rest zero-filled",
                    );
                }
                if self.shape == WriteShape::AtomicCopy && !self.copy_faults {
                    m.th_mut(t).regs[COPIED] = 0;
                    m.goto(t, WRITE_END);
                    return Step::Ran(
                        "copy_folio_from_iter_atomic: the buffer is not mapped, pagefaults disabled: short copy",
                    );
                }
                m.th_mut(t).regs[FAULT_RETURN] = u64::from(COPY);
                m.goto(t, FAULT);
                Step::Ran(
                    "copy_from_user: the buffer is not mapped: page fault, the page still locked",
                )
            }
            WRITE_END => {
                m.page_unlock(self.dst, t);
                let copied = m.th(t).regs[COPIED];
                if copied == 1 {
                    m.goto(t, RETURN);
                    return Step::Ran("write_end: commit, unlock the page");
                }
                if copied == 2 || self.commit_short_copy {
                    if let Some(inv) = self.torn {
                        m.flag(
                            inv.id(),
                            "a short copy committed whole: readers see zeros the write never copied",
                        );
                    }
                    m.goto(t, RETURN);
                    return Step::Ran(
                        "commit_write(offset + bytes): the whole length committed, zeros included",
                    );
                }
                let retries = m.th(t).regs[RETRIES] + 1;
                m.th_mut(t).regs[RETRIES] = retries;
                if retries > u64::from(self.max_retries) {
                    if let Some(inv) = self.no_progress {
                        m.flag(
                            inv.id(),
                            "the write retried past its bound without copying a byte",
                        );
                    }
                    m.goto(t, RETURN);
                    return Step::Ran("write_end: 0 copied, again: give up");
                }
                m.goto(t, PREFAULT);
                Step::Ran("write_end: 0 copied, unlock the page; retry from the fault-in")
            }
            _ => {
                finish(m, t);
                Step::Ran("write() returns")
            }
        }
    }
}
