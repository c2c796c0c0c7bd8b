//! Truncation of the scenario's file to `new_size` pages, mapped (if at all) in one file
//! region whose pte slot `i` maps file index `i` (race 001-A):
//!
//! - [`TruncateShape::V2_6_22`]: `vmtruncate` (mm/memory.c, 2.6.22): `i_size_write`,
//!   `unmap_mapping_range` (which bumps `mapping->truncate_count` before it zaps, the
//!   sequence `do_no_page` rechecks), `truncate_inode_pages` (each page locked, removed from
//!   the cache, unlocked).
//! - [`TruncateShape::V6_12`]: `truncate_setsize` → `truncate_pagecache` (mm/truncate.c):
//!   `i_size_write`, `unmap_mapping_range`, `truncate_inode_pages` (each folio locked; one
//!   still mapped is unmapped under its lock, `truncate_cleanup_folio`; removed; unlocked),
//!   and `unmap_mapping_range` again, for ptes a racing fault installed meanwhile.
//!
//! Each zap of a pte takes and drops the table's pte lock in the same step (a critical
//! section with nothing else inside). The truncation sets a ghost cell to 1 when it returns,
//! so a scenario can state INV-001-TRUNC.

use crate::entry::PmdOps;

use super::super::Tid;
use super::super::mm::Machine;
use super::super::program::{Limits, Program, ProgramError, Step, Wait};
use super::super::state::page_cache::CACHE_SLOTS;
use super::finish;
use super::v6_12::pte_offset_map;

/// Which kernel's truncation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TruncateShape {
    /// 2.6.22's `vmtruncate`.
    V2_6_22,
    /// v6.12's `truncate_pagecache`.
    V6_12,
}

/// `truncate(file, new_size pages)`.
#[derive(Clone, Copy, Debug)]
pub struct Truncate {
    /// The file region.
    pub region: u8,
    /// The new size, in pages.
    pub new_size: u8,
    /// Which kernel's.
    pub shape: TruncateShape,
    /// The ghost cell set to 1 when the truncation returns.
    pub returned: usize,
}

const SIZE: u8 = 0;
const UNMAP: u8 = 1;
const LOCK: u8 = 2;
const REMOVE: u8 = 3;
const UNMAP_AGAIN: u8 = 4;
const RETURN: u8 = 5;

/// Registers: the index `truncate_inode_pages` is at; the page it locked + 1.
const INDEX: usize = 0;
const PAGE: usize = 1;

impl Truncate {
    /// `unmap_mapping_range` over the truncated indices (or `only` one): every present pte
    /// cleared under its table's pte lock; `false` (nothing changed) when a pte lock is held
    /// by another thread.
    fn zap<A: PmdOps>(&self, m: &mut Machine<A>, t: Tid, only: Option<usize>) -> bool {
        let pmd = m.pmd_get(self.region);
        let Some(tab) = pte_offset_map(m, pmd) else {
            return true;
        };
        let mapped = |m: &Machine<A>, i: usize| {
            only.is_none_or(|o| o == i) && A::pte_present(m.table(tab).ptes[i])
        };
        let range = usize::from(self.new_size)..CACHE_SLOTS;
        if !range.clone().any(|i| mapped(m, i)) {
            return true;
        }
        if !m.ptl_lock(tab, t) {
            return false;
        }
        for i in range {
            if !mapped(m, i) {
                continue;
            }
            let pte = m.pte_get(tab, i);
            m.pte_set(
                tab,
                i,
                A::pte_empty(Machine::<A>::slot_addr(self.region, i)),
            );
            if let Some(p) = m.page_of_pfn(A::pte_pfn(pte)) {
                m.page_map(p, self.region, -1);
            }
        }
        m.ptl_unlock(tab, t);
        true
    }

    fn table<A: PmdOps>(&self, m: &Machine<A>) -> Option<u8> {
        pte_offset_map(m, m.peek_pmd(self.region))
    }
}

impl<A: PmdOps> Program<A> for Truncate {
    fn name(&self) -> &'static str {
        match self.shape {
            TruncateShape::V2_6_22 => "vmtruncate (2.6.22)",
            TruncateShape::V6_12 => "truncate_pagecache (v6.12)",
        }
    }

    fn check(&self, limits: &Limits) -> Result<(), ProgramError> {
        limits.region(self.region)?;
        limits.ghost_cell(self.returned)
    }

    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let index = m.th(t).regs[INDEX] as usize;
        let page = (m.th(t).regs[PAGE] as u8).wrapping_sub(1);
        let blocked = |m: &Machine<A>| Step::Blocked(Wait::Ptl(self.table(m).unwrap_or(0)));
        match m.th(t).pc {
            SIZE => {
                m.set_i_size(self.new_size);
                m.th_mut(t).regs[INDEX] = u64::from(self.new_size);
                m.goto(t, UNMAP);
                Step::Ran("i_size_write(new size)")
            }
            UNMAP => {
                if !self.zap(m, t, None) {
                    return blocked(m);
                }
                // One step with the zap: the bump's order against it is not observable.
                if self.shape == TruncateShape::V2_6_22 {
                    m.bump_truncate_count();
                }
                m.goto(t, LOCK);
                Step::Ran(match self.shape {
                    TruncateShape::V2_6_22 => {
                        "unmap_mapping_range: mapping->truncate_count++; zap the ptes past the new size"
                    }
                    TruncateShape::V6_12 => "unmap_mapping_range: zap the ptes past the new size",
                })
            }
            LOCK => {
                if index >= CACHE_SLOTS {
                    let next = match self.shape {
                        TruncateShape::V2_6_22 => RETURN,
                        TruncateShape::V6_12 => UNMAP_AGAIN,
                    };
                    m.goto(t, next);
                    return Step::Ran("truncate_inode_pages: done");
                }
                let Some(p) = m.cache_get(index) else {
                    m.th_mut(t).regs[INDEX] += 1;
                    return Step::Ran("truncate_inode_pages: nothing cached at the index");
                };
                if !m.page_lock(p, t) {
                    return Step::Blocked(Wait::PageLock(p));
                }
                m.th_mut(t).regs[PAGE] = u64::from(p) + 1;
                m.goto(t, REMOVE);
                Step::Ran("truncate_inode_pages: lock_page")
            }
            REMOVE => {
                if self.shape == TruncateShape::V6_12
                    && m.page(page).mapcount > 0
                    && !self.zap(m, t, Some(index))
                {
                    return blocked(m);
                }
                m.cache_set(index, None);
                m.add_nrpages(-1);
                m.page_put(page);
                m.page_unlock(page, t);
                m.th_mut(t).regs[INDEX] += 1;
                m.goto(t, LOCK);
                Step::Ran(match self.shape {
                    TruncateShape::V2_6_22 => {
                        "truncate_complete_page: remove_from_page_cache; unlock_page"
                    }
                    TruncateShape::V6_12 => {
                        "truncate_cleanup_folio (unmap_mapping_folio if mapped); filemap_remove_folio; folio_unlock"
                    }
                })
            }
            UNMAP_AGAIN => {
                if !self.zap(m, t, None) {
                    return blocked(m);
                }
                m.goto(t, RETURN);
                Step::Ran("unmap_mapping_range again: ptes a racing fault installed")
            }
            RETURN => {
                m.ghost_set(self.returned, 1);
                finish(m, t);
                Step::Ran("truncate returns")
            }
            _ => {
                finish(m, t);
                Step::Ran("truncate: no such step")
            }
        }
    }
}
