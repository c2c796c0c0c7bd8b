//! The page cache of the scenario's one file: which page each index holds, `i_size`, and the
//! `truncate_count` sequence number faults checked before 2.6.23.
//!
//! File index `i` is what pte slot `i` of a file region maps (`vmf->pgoff`). A page leaves
//! the cache by truncation or invalidation (its `mapping` becomes NULL, which the model
//! reads as "no index holds it"). Fingerprinted only once a scenario uses it.

use crate::engine::mm::SLOTS;

/// Indices the page cache models: one per pte slot.
pub const CACHE_SLOTS: usize = SLOTS;

/// The page-cache component.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PageCache {
    /// Per index: the page + 1, 0 for none.
    slots: [u8; CACHE_SLOTS],
    /// The file's size, in pages.
    i_size: u8,
    /// `mapping->truncate_count` (2.6.18): bumped by every `unmap_mapping_range`.
    truncate_count: u8,
    used: bool,
}

impl PageCache {
    /// Returns the page at `index`.
    pub(crate) fn get(&self, index: usize) -> Option<u8> {
        self.slots.get(index)?.checked_sub(1)
    }
    /// Puts `page` at `index` (`None`: removes what is there).
    pub(crate) fn set(&mut self, index: usize, page: Option<u8>) {
        if let Some(s) = self.slots.get_mut(index) {
            *s = page.map_or(0, |p| p + 1);
        }
        self.used = true;
    }
    /// Returns `i_size` in pages.
    pub(crate) fn i_size(&self) -> u8 {
        self.i_size
    }
    /// Sets `i_size` in pages.
    pub(crate) fn set_i_size(&mut self, pages: u8) {
        self.i_size = pages;
        self.used = true;
    }
    /// Returns `truncate_count`.
    pub(crate) fn truncate_count(&self) -> u8 {
        self.truncate_count
    }
    /// `mapping->truncate_count++`.
    pub(crate) fn bump_truncate_count(&mut self) {
        self.truncate_count = self.truncate_count.wrapping_add(1);
        self.used = true;
    }
    /// Feeds the component to a fingerprint, when a scenario uses it.
    pub(crate) fn fingerprint(&self, h: &mut impl core::hash::Hasher) {
        if self.used {
            let mut w = u64::from(self.i_size) | u64::from(self.truncate_count) << 8;
            for (i, &s) in self.slots.iter().enumerate() {
                w |= u64::from(s) << (16 + 8 * i);
            }
            h.write_u64(w);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_found_at_its_index_until_removed() {
        let mut c = PageCache::default();
        assert_eq!(c.get(0), None);
        c.set(1, Some(0));
        assert_eq!((c.get(0), c.get(1)), (None, Some(0)));
        c.set(1, None);
        assert_eq!(c.get(1), None);
        assert_eq!(c.get(CACHE_SLOTS), None, "past the modelled indices");
        c.bump_truncate_count();
        assert_eq!(c.truncate_count(), 1);
    }
}
