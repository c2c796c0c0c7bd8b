//! Per-CPU TLBs: for each CPU (one per thread), each region's cached huge translation and one
//! per modelled pte slot, as the pfn the MMU would use.
//!
//! A TLB holds what a walk cached until a flush of its region; what it caches is judged by
//! INV-TLB-SMALL-HUGE (a huge and a small translation for one address at once) and by
//! MADV_DONTNEED's monitor. The fingerprint feeds only the cached entries, each with its
//! place: most TLBs are empty in most scenarios. The machine's accessors
//! ([`crate::engine::mm::Machine::tlb_entry`], `tlb_fill`, `tlb_flush_region`) record the
//! CPU's footprint location (`Loc::Tlb`).

use core::hash::Hasher;

use crate::engine::mm::{MAX_PMDS, MAX_THREADS, SLOTS};

/// A TLB entry slot's value when nothing is cached.
const EMPTY: u32 = u32::MAX;

/// One CPU's TLB: per region, the huge entry, then one entry per slot. A pfn is held in 32
/// bits (every pfn the machine hands out is below 2^20), which halves the largest array the
/// explorer copies on every transition; a wider one is refused ([`Tlbs::fill`]).
type CpuTlb = [[u32; SLOTS + 1]; MAX_PMDS];

/// The TLBs component.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tlbs {
    cpus: [CpuTlb; MAX_THREADS],
}

impl Default for Tlbs {
    #[inline]
    fn default() -> Self {
        Self {
            cpus: [[[EMPTY; SLOTS + 1]; MAX_PMDS]; MAX_THREADS],
        }
    }
}

impl Tlbs {
    /// Returns what `cpu` caches for (region, slot), slot `None` being the huge entry.
    #[inline]
    pub(crate) fn entry(&self, cpu: u8, r: u8, slot: Option<usize>) -> Option<u64> {
        let e = self.cpus[usize::from(cpu)][usize::from(r)][slot.map_or(0, |s| s + 1)];
        (e != EMPTY).then_some(u64::from(e))
    }
    /// `cpu` caches `pfn` for (region, slot); a pfn of 32 bits or more is refused, with
    /// nothing cached.
    #[inline]
    pub(crate) fn fill(
        &mut self,
        cpu: u8,
        r: u8,
        slot: Option<usize>,
        pfn: u64,
    ) -> Result<(), &'static str> {
        let pfn = u32::try_from(pfn)
            .ok()
            .filter(|&p| p != EMPTY)
            .ok_or("tlb_fill: a pfn wider than a TLB entry holds (32 bits)")?;
        self.cpus[usize::from(cpu)][usize::from(r)][slot.map_or(0, |s| s + 1)] = pfn;
        Ok(())
    }
    /// Drops region `r` from `cpu`'s TLB.
    #[inline]
    pub(crate) fn flush(&mut self, cpu: u8, r: u8) {
        self.cpus[usize::from(cpu)][usize::from(r)] = [EMPTY; SLOTS + 1];
    }
    /// Returns whether `cpu`'s TLB differs from `before`'s (the footprint auditor).
    #[inline]
    pub(crate) fn changed(&self, before: &Self, cpu: u8) -> bool {
        self.cpus[usize::from(cpu)] != before.cpus[usize::from(cpu)]
    }
    /// Feeds the cached entries of the first `npmds` regions, each with its place.
    #[inline]
    pub(crate) fn fingerprint(&self, npmds: u8, h: &mut impl Hasher) {
        let n = usize::from(npmds);
        for (c, cpu) in self.cpus.iter().enumerate() {
            for (r, region) in cpu[..n].iter().enumerate() {
                for (i, &e) in region.iter().enumerate() {
                    if e != EMPTY {
                        h.write_u64((c << 16 | r << 8 | i) as u64);
                        h.write_u64(u64::from(e));
                    }
                }
            }
        }
    }
}
