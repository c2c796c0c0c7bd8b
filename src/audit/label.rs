//! What a step's label says: the lock its kernel function takes or releases.

use std::vec::Vec;

/// Returns the lock a step's label says it takes or releases: the label names the kernel
/// function (`mmap_read_lock`, `pmd_lock`, `spin_lock(ptl)`, `pte_offset_map_lock`, ...), matched
/// as a whole identifier (`__split_huge_pmd_locked` takes no lock of its own).
pub fn lock_of(label: &str) -> Option<&'static str> {
    const LOCKS: &[(&str, &str)] = &[
        ("mmap_read_lock", "mmap_lock"),
        ("mmap_read_unlock", "mmap_lock"),
        ("mmap_write_lock", "mmap_lock"),
        ("mmap_write_unlock", "mmap_lock"),
        ("downgrade_write", "mmap_lock"),
        ("__pmd_trans_huge_lock", "pmd_lock"),
        ("pmd_lock", "pmd_lock"),
        ("pte_offset_map_lock", "ptl"),
        ("pte_unmap_unlock", "ptl"),
        ("ptl", "ptl"),
        ("lock_page", "page lock"),
        ("folio_lock", "page lock"),
        ("unlock_page", "page lock"),
        ("folio_unlock", "page lock"),
    ];
    let words: Vec<&str> = label
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    LOCKS
        .iter()
        .find(|(name, _)| words.contains(name))
        .map(|&(_, lock)| lock)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The lock column reads the kernel function names the step programs use.
    #[test]
    fn locks_are_read_off_step_labels() {
        assert_eq!(lock_of("madvise: mmap_read_lock"), Some("mmap_lock"));
        assert_eq!(lock_of("__split_huge_pmd: pmd_lock"), Some("pmd_lock"));
        assert_eq!(
            lock_of("__split_huge_pmd: spin_unlock(pmd_lock)"),
            Some("pmd_lock")
        );
        assert_eq!(
            lock_of("zap_huge_pmd: __pmd_trans_huge_lock"),
            Some("pmd_lock")
        );
        assert_eq!(lock_of("zap_pte_range: spin_lock(ptl)"), Some("ptl"));
        assert_eq!(lock_of("pmdp_invalidate"), None);
        assert_eq!(
            lock_of("__split_huge_pmd_locked: pmd_trans_huge(*pmd)"),
            None
        );
    }
}
