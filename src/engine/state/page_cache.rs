//! The page cache of the scenario's one file: the xarray entry at each index (a page, a huge
//! page's multi-index entry, or `XA_RETRY_ENTRY`), `mapping->nrpages`, `i_size`, and the
//! `truncate_count` sequence number faults checked before 2.6.23.
//!
//! File index `i` is what pte slot `i` of a file region maps (`vmf->pgoff`). A page leaves
//! the cache by truncation or invalidation (its `mapping` becomes NULL, which the model
//! reads as "no index holds it"). The modelled indices are one huge page's range: a huge
//! page stored at every index is its multi-index entry. Fingerprinted only once a scenario
//! uses it.

use crate::engine::mm::SLOTS;

/// Indices the page cache models: one per pte slot.
pub const CACHE_SLOTS: usize = SLOTS;
// The fingerprint word: i_size, truncate_count, a byte a slot from bit 16, nrpages at 48.
const _: () = assert!(16 + 8 * CACHE_SLOTS <= 48);

/// One xarray slot's entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum XaEntry {
    /// `NULL`: a hole.
    Empty,
    /// A page (a huge page at every index of its range is one multi-index entry).
    Page(u8),
    /// `XA_RETRY_ENTRY`: a lockless reader that loads it starts its lookup again
    /// (`xas_retry`); v6.12's `collapse_file` parks it in holes under `xa_lock`.
    Retry,
}

/// The raw slot value of [`XaEntry::Retry`].
const RETRY: u8 = u8::MAX;

impl XaEntry {
    #[inline]
    const fn raw(self) -> u8 {
        match self {
            XaEntry::Empty => 0,
            XaEntry::Page(p) => p + 1,
            XaEntry::Retry => RETRY,
        }
    }
    #[inline]
    const fn from_raw(raw: u8) -> Self {
        match raw {
            0 => XaEntry::Empty,
            RETRY => XaEntry::Retry,
            p => XaEntry::Page(p - 1),
        }
    }
    /// Packs the entry for a trace (bit 8: the page is huge).
    #[inline]
    pub(crate) const fn pack(self, huge: bool) -> u64 {
        self.raw() as u64 | (huge as u64) << 8
    }
    /// Describes a packed entry: `NULL`, `page 3`, `huge page 3`, `XA_RETRY_ENTRY`.
    #[inline]
    pub fn describe(packed: u64) -> std::string::String {
        match XaEntry::from_raw(packed as u8) {
            XaEntry::Empty => "NULL".into(),
            XaEntry::Retry => "XA_RETRY_ENTRY".into(),
            XaEntry::Page(p) if packed & 1 << 8 != 0 => std::format!("huge page {p}"),
            XaEntry::Page(p) => std::format!("page {p}"),
        }
    }
}

/// The page-cache component.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PageCache {
    /// Per index: the page + 1, 0 for none, `RETRY` for `XA_RETRY_ENTRY`.
    slots: [u8; CACHE_SLOTS],
    /// `mapping->nrpages`: base pages in the cache (a huge page counts once per index).
    nrpages: u8,
    /// The file's size, in pages.
    i_size: u8,
    /// `mapping->truncate_count` (2.6.18): bumped by every `unmap_mapping_range`.
    truncate_count: u8,
    used: bool,
}

impl PageCache {
    /// Returns the page at `index` (`None` for a hole or a retry entry).
    #[inline]
    pub(crate) fn get(&self, index: usize) -> Option<u8> {
        match self.load(index) {
            XaEntry::Page(p) => Some(p),
            _ => None,
        }
    }
    /// Returns the entry at `index` (`Empty` past the modelled indices).
    #[inline]
    pub(crate) fn load(&self, index: usize) -> XaEntry {
        self.slots
            .get(index)
            .map_or(XaEntry::Empty, |&s| XaEntry::from_raw(s))
    }
    /// Stores `entry` at `index`.
    #[inline]
    pub(crate) fn store(&mut self, index: usize, entry: XaEntry) {
        if let Some(s) = self.slots.get_mut(index) {
            *s = entry.raw();
        }
        self.used = true;
    }
    /// Returns `mapping->nrpages`.
    #[inline]
    pub(crate) fn nrpages(&self) -> u8 {
        self.nrpages
    }
    /// `mapping->nrpages += delta`.
    #[inline]
    pub(crate) fn add_nrpages(&mut self, delta: i8) {
        self.nrpages = self.nrpages.wrapping_add_signed(delta);
        self.used = true;
    }
    /// Returns `i_size` in pages.
    #[inline]
    pub(crate) fn i_size(&self) -> u8 {
        self.i_size
    }
    /// Sets `i_size` in pages.
    #[inline]
    pub(crate) fn set_i_size(&mut self, pages: u8) {
        self.i_size = pages;
        self.used = true;
    }
    /// Returns `truncate_count`.
    #[inline]
    pub(crate) fn truncate_count(&self) -> u8 {
        self.truncate_count
    }
    /// `mapping->truncate_count++`.
    #[inline]
    pub(crate) fn bump_truncate_count(&mut self) {
        self.truncate_count = self.truncate_count.wrapping_add(1);
        self.used = true;
    }
    /// Feeds the component to a fingerprint, when a scenario uses it.
    pub(crate) fn fingerprint(&self, h: &mut impl core::hash::Hasher) {
        // Destructured: a field added here fails to compile until the fingerprint has it.
        let PageCache {
            slots,
            nrpages,
            i_size,
            truncate_count,
            used,
        } = *self;
        if used {
            let mut w =
                u64::from(i_size) | u64::from(truncate_count) << 8 | u64::from(nrpages) << 48;
            for (i, &s) in slots.iter().enumerate() {
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
    #[inline]
    fn a_page_is_found_at_its_index_until_removed() {
        let mut c = PageCache::default();
        assert_eq!(c.get(0), None);
        c.store(1, XaEntry::Page(0));
        assert_eq!((c.get(0), c.get(1)), (None, Some(0)));
        c.store(1, XaEntry::Empty);
        assert_eq!(c.get(1), None);
        assert_eq!(c.get(CACHE_SLOTS), None, "past the modelled indices");
        c.bump_truncate_count();
        assert_eq!(c.truncate_count(), 1);
    }

    #[test]
    fn a_retry_entry_is_no_page_and_round_trips() {
        let mut c = PageCache::default();
        c.store(0, XaEntry::Retry);
        assert_eq!((c.load(0), c.get(0)), (XaEntry::Retry, None));
        c.store(1, XaEntry::Page(11));
        assert_eq!(c.load(1), XaEntry::Page(11));
        c.add_nrpages(2);
        c.add_nrpages(-1);
        assert_eq!(c.nrpages(), 1);
        assert_eq!(
            XaEntry::describe(XaEntry::Retry.pack(false)),
            "XA_RETRY_ENTRY"
        );
        assert_eq!(
            XaEntry::describe(XaEntry::Page(3).pack(true)),
            "huge page 3"
        );
        assert_eq!(XaEntry::describe(XaEntry::Empty.pack(false)), "NULL");
    }
}
