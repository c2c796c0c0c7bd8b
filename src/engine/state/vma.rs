//! The VMA tree of each mm: VMAs with a start and an end (in regions, one pmd each), `VM_*`
//! flags and whether they are in the tree, the state `find_vma`, `vma_lookup`, munmap's
//! detach, `mmap(MAP_FIXED)` and stack growth read and change.
//!
//! A VMA keeps its slot for the scenario's life, detached or not: a munmap that detached it
//! still walks it (`free_pgtables` over the detached list), as the kernel frees a VMA only
//! after its last user. The component is fingerprinted over the slots a scenario used, so a
//! scenario with no VMA pays one branch. Ranges are in regions: a VMA covers whole pmds, which
//! is what page-table freeing (`free_pgd_range`'s floor and ceiling) works in.

use bitflags::bitflags;

/// Most VMAs (declared and inserted, all mms together) in one scenario.
pub const MAX_VMAS: usize = 4;

bitflags! {
    /// A VMA's `vm_flags`, the ones the modelled paths read.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct VmFlags: u8 {
        /// `VM_READ`.
        const READ = 1;
        /// `VM_WRITE`.
        const WRITE = 1 << 1;
        /// `VM_SHARED`.
        const SHARED = 1 << 2;
        /// `VM_GROWSDOWN`: a stack, which a fault just below it extends (`expand_downwards`).
        const GROWSDOWN = 1 << 3;
        /// `VM_DEAD`: being unmapped; a fault or GUP must fail on it (the 2018 three-phase
        /// munmap proposal; today's kernel sets it only on an OOM victim's VMAs).
        const DEAD = 1 << 4;
        /// `VM_UFFD_MISSING`: registered with userfaultfd for missing pages.
        const UFFD_MISSING = 1 << 5;
    }
}

/// A VMA's index in the component.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VmaId(pub u8);

/// One VMA.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Vma {
    /// The mm whose tree it is (or was) in.
    pub mm: u8,
    /// First region (`vm_start`).
    pub start: u8,
    /// One past the last region (`vm_end`).
    pub end: u8,
    /// `vm_flags`.
    pub flags: VmFlags,
    /// In its mm's tree (else detached: munmap isolated it, or it was never inserted).
    pub attached: bool,
}

impl Vma {
    /// Returns whether it covers region `r`.
    #[inline]
    pub const fn covers(&self, r: u8) -> bool {
        self.start <= r && r < self.end
    }
    /// Unpacks what [`pack`](Self::pack) made (a trace's before and after).
    #[inline]
    pub(crate) fn unpack(w: u64) -> Self {
        Self {
            mm: w as u8,
            start: (w >> 8) as u8,
            end: (w >> 16) as u8,
            flags: VmFlags::from_bits_retain((w >> 24) as u8),
            attached: (w >> 32) & 1 != 0,
        }
    }
    pub(crate) fn pack(&self) -> u64 {
        // Destructured: a field added here fails to compile until the fingerprint has it.
        let Vma {
            mm,
            start,
            end,
            flags,
            attached,
        } = *self;
        u64::from(mm)
            | u64::from(start) << 8
            | u64::from(end) << 16
            | u64::from(flags.bits()) << 24
            | u64::from(attached) << 32
    }
}

impl core::fmt::Display for Vma {
    /// `[start, end) FLAGS`, `mm1` when not the first mm, `detached` when out of the tree.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "[{}, {})", self.start, self.end)?;
        if self.mm != 0 {
            write!(f, " mm{}", self.mm)?;
        }
        if !self.flags.is_empty() {
            f.write_str(" ")?;
            bitflags::parser::to_writer(&self.flags, &mut *f)?;
        }
        if !self.attached {
            f.write_str(" detached")?;
        }
        Ok(())
    }
}

/// The VMA component.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Vmas {
    v: [Vma; MAX_VMAS],
    used: u8,
}

impl Vmas {
    /// Returns the VMAs used so far (attached or not), by id.
    #[inline]
    pub(crate) fn used(&self) -> impl Iterator<Item = (VmaId, &Vma)> + '_ {
        self.v[..usize::from(self.used)]
            .iter()
            .enumerate()
            .map(|(i, v)| (VmaId(i as u8), v))
    }
    /// Returns VMA `id`.
    #[inline]
    pub(crate) fn get(&self, id: VmaId) -> Option<&Vma> {
        self.v[..usize::from(self.used)].get(usize::from(id.0))
    }
    #[inline]
    pub(crate) fn get_mut(&mut self, id: VmaId) -> Option<&mut Vma> {
        self.v[..usize::from(self.used)].get_mut(usize::from(id.0))
    }
    /// Adds a VMA (attached as given); `None` when every slot is used.
    #[inline]
    pub(crate) fn add(&mut self, vma: Vma) -> Option<VmaId> {
        let i = usize::from(self.used);
        if i >= MAX_VMAS {
            return None;
        }
        self.v[i] = vma;
        self.used += 1;
        Some(VmaId(i as u8))
    }
    /// `find_vma`: the attached VMA of `mm` with the lowest start among those ending above
    /// region `r`.
    #[inline]
    pub(crate) fn find(&self, mm: u8, r: u8) -> Option<VmaId> {
        self.used()
            .filter(|(_, v)| v.attached && v.mm == mm && v.end > r)
            .min_by_key(|(_, v)| v.start)
            .map(|(id, _)| id)
    }
    /// The attached VMA of `mm` just below region `r` (`vma_prev`/`find_vma_prev`).
    #[inline]
    pub(crate) fn prev(&self, mm: u8, r: u8) -> Option<VmaId> {
        self.used()
            .filter(|(_, v)| v.attached && v.mm == mm && v.end <= r)
            .max_by_key(|(_, v)| v.end)
            .map(|(id, _)| id)
    }
    /// Returns whether an attached VMA of `mm` other than `except` overlaps `[start, end)`.
    #[inline]
    pub(crate) fn overlaps(&self, mm: u8, start: u8, end: u8, except: Option<VmaId>) -> bool {
        self.used().any(|(id, v)| {
            Some(id) != except && v.attached && v.mm == mm && v.start < end && start < v.end
        })
    }
    /// Feeds the used slots to a fingerprint.
    #[inline]
    pub(crate) fn fingerprint(&self, h: &mut impl core::hash::Hasher) {
        for (_, v) in self.used() {
            h.write_u64(v.pack());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline]
    fn vma(start: u8, end: u8) -> Vma {
        Vma {
            mm: 0,
            start,
            end,
            flags: VmFlags::READ | VmFlags::WRITE,
            attached: true,
        }
    }

    #[test]
    fn find_vma_returns_the_lowest_vma_ending_above_the_address() {
        let mut t = Vmas::default();
        let high = t.add(vma(2, 3)).unwrap();
        let low = t.add(vma(0, 1)).unwrap();
        assert_eq!(t.find(0, 0), Some(low));
        assert_eq!(t.find(0, 1), Some(high), "a hole: the VMA above");
        assert_eq!(t.find(0, 3), None);
        assert_eq!(t.find(1, 0), None, "another mm's tree");
        t.get_mut(low).unwrap().attached = false;
        assert_eq!(t.find(0, 0), Some(high), "a detached VMA is not found");
        assert_eq!(t.prev(0, 2), None);
        assert!(t.overlaps(0, 2, 3, None));
        assert!(!t.overlaps(0, 2, 3, Some(high)));
    }

    #[test]
    #[inline]
    fn slots_run_out_and_are_never_reused() {
        let mut t = Vmas::default();
        for i in 0..MAX_VMAS as u8 {
            assert_eq!(t.add(vma(i, i + 1)), Some(VmaId(i)));
        }
        assert_eq!(t.add(vma(0, 1)), None);
    }
}
