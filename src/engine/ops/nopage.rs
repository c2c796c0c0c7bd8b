//! The file fault of v2.6.22 (race 001-A): mm/memory.c `do_no_page` calling mm/filemap.c
//! `filemap_nopage`, as they stood from v2.6.16 (the `smp_rmb` after reading
//! `truncate_count`) until d00806b18315 replaced them in v2.6.23. Follows v2.6.18-rc3 (the
//! linux-2.6 tree of 2006-07-31 that Nick Piggin's "mm: fault vs invalidate/truncate race fix"
//! patched; the same shape through v2.6.22): `do_no_page` at v2.6.18-rc3 mm/memory.c:2039,
//! the `truncate_count` read and `smp_rmb` at mm/memory.c:2051-2054, the recheck under the
//! pte lock at mm/memory.c:2096-2103; `filemap_nopage` (mm/filemap.c) checks `i_size` before
//! its `find_get_page`. The page
//! is found with `find_get_page` (a reference, no lock), and the only protection against a
//! concurrent truncation is `mapping->truncate_count`, read before the lookup and compared
//! under the pte lock before the pte is installed: `unmap_mapping_range` bumps it, but an
//! invalidation of a page nobody maps yet never unmaps anything, so the fault installs a page
//! already gone from the page cache. d00806b18315 (2.6.23) replaced this with
//! `filemap_fault`'s locked lookup and recheck ([`super::file_fault::FileReadFault`] with
//! `from_cache`).
//!
//! The file region's table exists (the scenario sets it up): `do_no_page` ran with the pte
//! mapped, after `handle_pte_fault`.

use crate::entry::PmdOps;

use super::super::Tid;
use super::super::mm::Machine;
use super::super::program::{Limits, Program, ProgramError, Step, Wait};
use super::finish;
use super::v6_12::{mk_pte_private, pte_offset_map};

/// A read fault at (region, slot) of a file VMA; file index `slot`.
#[derive(Clone, Copy, Debug)]
pub struct DoNoPage {
    /// The region (pmd index).
    pub region: u8,
    /// The pte slot, which is also the file index.
    pub slot: u8,
    /// Test-only: no `truncate_count` recheck under the pte lock (what the sequence count
    /// protects against, shown).
    pub skip_sequence_check: bool,
}

const LOCK_MMAP: u8 = 0;
const SEQUENCE: u8 = 1;
const FIND: u8 = 2;
const MAP: u8 = 3;
const PTL: u8 = 4;
const CHECK: u8 = 5;
const UNLOCK_PTL: u8 = 6;
const UNLOCK: u8 = 7;
/// Registers: `sequence`; the page found + 1; the table.
const SEQ: usize = 0;
const PAGE: usize = 1;
const TABLE: usize = 2;

impl<A: PmdOps> Program<A> for DoNoPage {
    fn name(&self) -> &'static str {
        "do_no_page / filemap_nopage (2.6.22)"
    }

    fn check(&self, limits: &Limits) -> Result<(), ProgramError> {
        limits.region_slot(self.region, self.slot)
    }

    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let r = self.region;
        let slot = usize::from(self.slot);
        let page = (m.th(t).regs[PAGE] as u8).wrapping_sub(1);
        let table = m.th(t).regs[TABLE] as u8;
        match m.th(t).pc {
            LOCK_MMAP => {
                if !m.mmap_read(t) {
                    return Step::Blocked(Wait::MmapRead);
                }
                m.goto(t, SEQUENCE);
                Step::Ran("do_page_fault: down_read(mmap_sem)")
            }
            SEQUENCE => {
                let seq = m.truncate_count();
                m.th_mut(t).regs[SEQ] = u64::from(seq);
                m.goto(t, FIND);
                Step::Ran("do_no_page: sequence = mapping->truncate_count; smp_rmb")
            }
            FIND => {
                if slot >= usize::from(m.i_size()) {
                    m.goto(t, UNLOCK);
                    return Step::Ran("filemap_nopage: pgoff >= i_size: NOPAGE_SIGBUS");
                }
                let Some(p) = m.cache_get(slot) else {
                    m.goto(t, UNLOCK);
                    return Step::Ran(
                        "filemap_nopage: not cached; the read-in is not modelled: NOPAGE_REFAULT",
                    );
                };
                m.page_get(p);
                m.th_mut(t).regs[PAGE] = u64::from(p) + 1;
                m.goto(t, MAP);
                Step::Ran("filemap_nopage: find_get_page: a page, a reference, not locked")
            }
            MAP => {
                let pmd = m.pmd_get(r);
                let Some(tab) = pte_offset_map(m, pmd) else {
                    m.page_put(page);
                    m.goto(t, UNLOCK);
                    return Step::Ran("do_no_page: no table: page_cache_release, return");
                };
                m.th_mut(t).regs[TABLE] = u64::from(tab);
                m.goto(t, PTL);
                Step::Ran("do_no_page: pte_offset_map_lock")
            }
            PTL => {
                if !m.ptl_lock(table, t) {
                    return Step::Blocked(Wait::Ptl(table));
                }
                m.goto(t, CHECK);
                Step::Ran("pte_offset_map_lock: spin_lock(ptl)")
            }
            CHECK => {
                let seq = m.th(t).regs[SEQ];
                if !self.skip_sequence_check && u64::from(m.truncate_count()) != seq {
                    m.ptl_unlock(table, t);
                    m.page_put(page);
                    m.goto(t, SEQUENCE);
                    return Step::Ran(
                        "do_no_page: truncate_count changed: pte_unmap_unlock, page_cache_release, retry",
                    );
                }
                m.goto(t, UNLOCK_PTL);
                if !A::pte_none(m.pte_get(table, slot)) {
                    m.page_put(page);
                    return Step::Ran("do_no_page: pte_same fails: page_cache_release");
                }
                let prot = m.prot();
                let pte = mk_pte_private(m, Machine::<A>::page_pfn(page), prot);
                m.pte_set(table, slot, pte);
                m.page_map(page, r, 1);
                Step::Ran("do_no_page: truncate_count unchanged: set_pte_at, page_add_file_rmap")
            }
            UNLOCK_PTL => {
                m.ptl_unlock(table, t);
                m.goto(t, UNLOCK);
                Step::Ran("do_no_page: pte_unmap_unlock")
            }
            _ => {
                m.mmap_read_unlock(t);
                finish(m, t);
                Step::Ran("do_page_fault: up_read(mmap_sem)")
            }
        }
    }
}
