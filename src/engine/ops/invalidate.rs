//! `invalidate_inode_pages2_range` of one file index (race 001-A), the same order in 2.6.18
//! and v6.12 (mm/truncate.c): lock the page; while it is mapped, `unmap_mapping_range` over
//! it (which, before 2.6.23, bumps `mapping->truncate_count`; v6.12's `unmap_mapping_folio`
//! does the same unmap under the folio lock); remove it from the page cache
//! (`invalidate_complete_folio2`: its `mapping` becomes NULL, the cache's reference goes);
//! unlock it. The unmap walks the one file region whose slot `index` maps the page.

use crate::entry::PmdOps;

use super::super::Tid;
use super::super::mm::Machine;
use super::super::program::{Limits, Program, ProgramError, Step, Wait};
use super::finish;
use super::v6_12::pte_offset_map;

/// Invalidation of file index `index`, mapped (if at all) at (`region`, `index`).
#[derive(Clone, Copy, Debug)]
pub struct InvalidatePage {
    /// The file region.
    pub region: u8,
    /// The file index (and pte slot).
    pub index: u8,
}

const FIND: u8 = 0;
const LOCK: u8 = 1;
const MAPPED: u8 = 2;
const UNMAP_PTL: u8 = 3;
const UNMAP: u8 = 4;
const UNMAP_UNLOCK: u8 = 5;
const REMOVE: u8 = 6;
const UNLOCK: u8 = 7;
/// Registers: the page + 1; the table.
const PAGE: usize = 0;
const TABLE: usize = 1;

impl<A: PmdOps> Program<A> for InvalidatePage {
    fn name(&self) -> &'static str {
        "invalidate_inode_pages2_range"
    }

    fn check(&self, limits: &Limits) -> Result<(), ProgramError> {
        limits.region_slot(self.region, self.index)
    }

    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let index = usize::from(self.index);
        let page = (m.th(t).regs[PAGE] as u8).wrapping_sub(1);
        let table = m.th(t).regs[TABLE] as u8;
        match m.th(t).pc {
            FIND => {
                let Some(p) = m.cache_get(index) else {
                    finish(m, t);
                    return Step::Ran("find_get_entries: nothing cached at the index");
                };
                m.th_mut(t).regs[PAGE] = u64::from(p) + 1;
                m.goto(t, LOCK);
                Step::Ran("find_get_entries: the page")
            }
            LOCK => {
                if !m.page_lock(page, t) {
                    return Step::Blocked(Wait::PageLock(page));
                }
                m.goto(t, MAPPED);
                Step::Ran("lock_page")
            }
            MAPPED => {
                if m.page(page).mapcount <= 0 {
                    m.goto(t, REMOVE);
                    return Step::Ran("page_mapped: no");
                }
                m.bump_truncate_count();
                let pmd = m.pmd_get(self.region);
                match pte_offset_map(m, pmd) {
                    Some(tab) => {
                        m.th_mut(t).regs[TABLE] = u64::from(tab);
                        m.goto(t, UNMAP_PTL);
                    }
                    None => m.goto(t, REMOVE),
                }
                Step::Ran(
                    "page_mapped: unmap_mapping_range: mapping->truncate_count++, walk to the pte",
                )
            }
            UNMAP_PTL => {
                if !m.ptl_lock(table, t) {
                    return Step::Blocked(Wait::Ptl(table));
                }
                m.goto(t, UNMAP);
                Step::Ran("zap_pte_range: spin_lock(ptl)")
            }
            UNMAP => {
                let pte = m.pte_get(table, index);
                if A::pte_present(pte) && m.page_of_pfn(A::pte_pfn(pte)) == Some(page) {
                    m.pte_set(
                        table,
                        index,
                        A::pte_empty(Machine::<A>::slot_addr(self.region, index)),
                    );
                    m.page_map(page, self.region, -1);
                }
                m.goto(t, UNMAP_UNLOCK);
                Step::Ran("zap_pte_range: ptep_get_and_clear, page_remove_rmap")
            }
            UNMAP_UNLOCK => {
                m.ptl_unlock(table, t);
                m.goto(t, MAPPED);
                Step::Ran("zap_pte_range: pte_unmap_unlock; mapped still?")
            }
            REMOVE => {
                m.cache_set(index, None);
                m.add_nrpages(-1);
                m.page_put(page);
                m.goto(t, UNLOCK);
                Step::Ran("invalidate_complete_page2: remove from the page cache, mapping = NULL")
            }
            UNLOCK => {
                m.page_unlock(page, t);
                finish(m, t);
                Step::Ran("unlock_page")
            }
            _ => {
                finish(m, t);
                Step::Ran("invalidate: no such step")
            }
        }
    }
}
