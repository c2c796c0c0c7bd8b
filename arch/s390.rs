//! s390 (z/Architecture, 64-bit), as Linux v6.12 encodes it.
//!
//! Follows arch/s390/include/asm/{pgtable.h, pgalloc.h, sparsemem.h}, arch/s390/mm/{pgalloc.c,
//! pgtable.c, mmap.c} and arch/s390/Kconfig. Configuration modelled: the s390 defconfig
//! (`CONFIG_PGTABLE_LEVELS=5`, `CONFIG_TRANSPARENT_HUGEPAGE=y`, `CONFIG_MEM_SOFT_DIRTY=y`,
//! `CONFIG_NUMA_BALANCING=y`) on a machine with EDAT1 (THP) and NX (z14 and later), so
//! `mk_pte_phys` and `set_pmd_at` keep `_PAGE_NOEXEC` / `_SEGMENT_ENTRY_NOEXEC`. Points worth
//! knowing:
//! - **Entries are big-endian** in memory; the raw word here is the CPU-order value.
//! - **The empty pte is `0x400`** (`_PAGE_INVALID`): `pte_none` is `v == 0x400` and a raw zero
//!   is a *present-looking* garbage pte, not an empty one. Fresh pte tables are filled with
//!   `0x400` (`page_table_alloc`); the empty segment (pmd) entry is `0x20`
//!   (`_SEGMENT_ENTRY_INVALID`) and `pmd_present` is simply `v != 0x20`.
//! - The hardware INVALID and PROTECT bits follow the software YOUNG/READ and DIRTY/WRITE
//!   bits: `pte_mkold` sets INVALID (so the next access faults and re-marks it young),
//!   `pte_mkclean`/`pte_wrprotect` set PROTECT, and `pte_mkyoung`/`pte_mkdirty`/`pte_mkwrite`
//!   clear them only when the software state allows it. `pfn_pte` ends with `pte_mkyoung`.
//! - Huge pmds use a different bit layout (segment-table entry format): `pfn_pmd` maps the pte
//!   pgprot to `SEGMENT_*` values (`massage_pgprot_pmd`) and `pmd_mkhuge` ORs
//!   LARGE | YOUNG | PROTECT, whatever the dirty and write bits say.
//! - s390 defines its own `pmdp_invalidate` (`__HAVE_ARCH_PMDP_INVALIDATE`): it stores
//!   `old | _SEGMENT_ENTRY_INVALID` with `pmdp_xchg_direct` (IDTE/CSP). It defines no
//!   `pmd_mkinvalid` at all.
//! - Geometry: 4 KiB pages; a pte table holds 256 entries (2 KiB) and, since v6.6, always
//!   occupies a whole 4 KiB page whose second half is the PGSTE area, so a table's origin is
//!   `table_pfn << 12`. Segment (pmd) entries map 1 MiB. Up to 5 levels
//!   (`CONFIG_PGTABLE_LEVELS=5`); a new mm starts with 3 (`asce_limit = _REGION2_SIZE`) and
//!   `crst_table_upgrade` adds levels on demand.
//! - The pfn field is the whole word above bit 12 (`pte_pfn` is `v >> 12`): 52 bits, wider than
//!   `MAX_PHYSMEM_BITS` (46 by default, 53 at most), which limits memory, not the encoding.

use core::fmt;

use bitflags::bitflags;

use crate::arch_id::{Arch, ArchId, Geometry};
use crate::decode::write_flags;
use crate::entry::{PgProt, Pmd, PmdOps, Protection, Pte, PteOps, SwpEntry};
use crate::error::Error;

/// The s390 backend (4 KiB pages, 1 MiB segment THP, big-endian entries).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct S390;

bitflags! {
    /// s390 pte bits (`_PAGE_*`): software bits 0–7, hardware bits 8–11.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct PteFlags: u64 {
        /// `_PAGE_PRESENT` (software).
        const PRESENT = 0x001;
        /// `_PAGE_SOFT_DIRTY` (software; also the soft-dirty bit of swap ptes).
        const SOFT_DIRTY = 0x002;
        /// `_PAGE_YOUNG` (software).
        const YOUNG = 0x004;
        /// `_PAGE_DIRTY` (software).
        const DIRTY = 0x008;
        /// `_PAGE_READ` (software).
        const READ = 0x010;
        /// `_PAGE_WRITE` (software).
        const WRITE = 0x020;
        /// `_PAGE_SPECIAL` (software).
        const SPECIAL = 0x040;
        /// `_PAGE_UNUSED` (software, pgste usage state).
        const UNUSED = 0x080;
        /// `_PAGE_NOEXEC` (hardware no-execute).
        const NOEXEC = 0x100;
        /// `_PAGE_PROTECT` (hardware read-only).
        const PROTECT = 0x200;
        /// `_PAGE_INVALID` (hardware invalid); alone, the empty pte.
        const INVALID = 0x400;
        /// `_PAGE_LARGE` (hugetlb ptes); `_PAGE_SWP_EXCLUSIVE` in swap ptes.
        const LARGE = 0x800;
    }
}

bitflags! {
    /// s390 segment-table (pmd) entry bits (`_SEGMENT_ENTRY_*`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct SegmentFlags: u64 {
        /// `_SEGMENT_ENTRY_READ` (software, large entries).
        const READ = 0x0001;
        /// `_SEGMENT_ENTRY_WRITE` (software, large entries).
        const WRITE = 0x0002;
        /// `_SEGMENT_ENTRY_TYPE_MASK` (zero for a segment entry).
        const TYPE = 0x000c;
        /// `_SEGMENT_ENTRY_INVALID` (hardware); alone, the empty pmd.
        const INVALID = 0x0020;
        /// `_SEGMENT_ENTRY_NOEXEC` (hardware).
        const NOEXEC = 0x0100;
        /// `_SEGMENT_ENTRY_PROTECT` (hardware).
        const PROTECT = 0x0200;
        /// `_SEGMENT_ENTRY_LARGE` (hardware STE format control: a 1 MiB leaf).
        const LARGE = 0x0400;
        /// `_SEGMENT_ENTRY_YOUNG` (software).
        const YOUNG = 0x1000;
        /// `_SEGMENT_ENTRY_DIRTY` (software).
        const DIRTY = 0x2000;
        /// `_SEGMENT_ENTRY_SOFT_DIRTY` (software).
        const SOFT_DIRTY = 0x4000;
    }
}

/// `_PAGE_PRESENT`.
pub const PAGE_PRESENT: u64 = PteFlags::PRESENT.bits();
/// `_PAGE_SOFT_DIRTY`.
pub const PAGE_SOFT_DIRTY: u64 = PteFlags::SOFT_DIRTY.bits();
/// `_PAGE_YOUNG`.
pub const PAGE_YOUNG: u64 = PteFlags::YOUNG.bits();
/// `_PAGE_DIRTY`.
pub const PAGE_DIRTY: u64 = PteFlags::DIRTY.bits();
/// `_PAGE_READ`.
pub const PAGE_READ: u64 = PteFlags::READ.bits();
/// `_PAGE_WRITE`.
pub const PAGE_WRITE: u64 = PteFlags::WRITE.bits();
/// `_PAGE_SPECIAL`.
pub const PAGE_SPECIAL: u64 = PteFlags::SPECIAL.bits();
/// `_PAGE_NOEXEC`.
pub const PAGE_NOEXEC: u64 = PteFlags::NOEXEC.bits();
/// `_PAGE_PROTECT`.
pub const PAGE_PROTECT: u64 = PteFlags::PROTECT.bits();
/// `_PAGE_INVALID`: the empty pte, what `pte_clear` stores.
pub const PAGE_INVALID: u64 = PteFlags::INVALID.bits();
/// `_PAGE_SWP_EXCLUSIVE` (`_PAGE_LARGE`).
pub const PAGE_SWP_EXCLUSIVE: u64 = PteFlags::LARGE.bits();
/// `PAGE_SHIFT`.
pub const PAGE_SHIFT: u32 = 12;
/// `PAGE_MASK`: the pte's page-frame real address.
pub const PAGE_MASK: u64 = !0xfff;

/// `PAGE_NONE` = PRESENT | INVALID | PROTECT.
pub const PAGE_NONE: u64 = PAGE_PRESENT | PAGE_INVALID | PAGE_PROTECT;
/// `PAGE_RO`.
pub const PAGE_RO: u64 = PAGE_PRESENT | PAGE_READ | PAGE_NOEXEC | PAGE_INVALID | PAGE_PROTECT;
/// `PAGE_RX`.
pub const PAGE_RX: u64 = PAGE_PRESENT | PAGE_READ | PAGE_INVALID | PAGE_PROTECT;
/// `PAGE_RW`.
pub const PAGE_RW: u64 =
    PAGE_PRESENT | PAGE_READ | PAGE_WRITE | PAGE_NOEXEC | PAGE_INVALID | PAGE_PROTECT;
/// `PAGE_RWX`.
pub const PAGE_RWX: u64 = PAGE_PRESENT | PAGE_READ | PAGE_WRITE | PAGE_INVALID | PAGE_PROTECT;

/// `_SEGMENT_ENTRY_READ`.
pub const SEGMENT_ENTRY_READ: u64 = SegmentFlags::READ.bits();
/// `_SEGMENT_ENTRY_WRITE`.
pub const SEGMENT_ENTRY_WRITE: u64 = SegmentFlags::WRITE.bits();
/// `_SEGMENT_ENTRY_TYPE_MASK`.
pub const SEGMENT_ENTRY_TYPE_MASK: u64 = SegmentFlags::TYPE.bits();
/// `_SEGMENT_ENTRY_INVALID`.
pub const SEGMENT_ENTRY_INVALID: u64 = SegmentFlags::INVALID.bits();
/// `_SEGMENT_ENTRY_NOEXEC`.
pub const SEGMENT_ENTRY_NOEXEC: u64 = SegmentFlags::NOEXEC.bits();
/// `_SEGMENT_ENTRY_PROTECT`.
pub const SEGMENT_ENTRY_PROTECT: u64 = SegmentFlags::PROTECT.bits();
/// `_SEGMENT_ENTRY_LARGE`.
pub const SEGMENT_ENTRY_LARGE: u64 = SegmentFlags::LARGE.bits();
/// `_SEGMENT_ENTRY_YOUNG`.
pub const SEGMENT_ENTRY_YOUNG: u64 = SegmentFlags::YOUNG.bits();
/// `_SEGMENT_ENTRY_DIRTY`.
pub const SEGMENT_ENTRY_DIRTY: u64 = SegmentFlags::DIRTY.bits();
/// `_SEGMENT_ENTRY`: what `pmd_populate` ORs into a table origin (nothing).
pub const SEGMENT_ENTRY: u64 = 0;
/// `_SEGMENT_ENTRY_EMPTY`: what `pmd_clear` and `crst_table_init` store.
pub const SEGMENT_ENTRY_EMPTY: u64 = SEGMENT_ENTRY_INVALID;
/// `_SEGMENT_ENTRY_BITS`: the bits a table segment entry may have.
pub const SEGMENT_ENTRY_BITS: u64 = 0xffff_ffff_ffff_fe3f;
/// `_SEGMENT_ENTRY_ORIGIN`: the pte-table origin of a table entry (2 KiB aligned).
pub const SEGMENT_ENTRY_ORIGIN: u64 = !0x7ff;
/// `_SEGMENT_ENTRY_ORIGIN_LARGE`: the frame address of a large (1 MiB) entry.
pub const SEGMENT_ENTRY_ORIGIN_LARGE: u64 = !0xfffff;

/// `SEGMENT_NONE`.
pub const SEGMENT_NONE: u64 = SEGMENT_ENTRY_INVALID | SEGMENT_ENTRY_PROTECT;
/// `SEGMENT_RO`.
pub const SEGMENT_RO: u64 = SEGMENT_ENTRY_PROTECT | SEGMENT_ENTRY_READ | SEGMENT_ENTRY_NOEXEC;
/// `SEGMENT_RX`.
pub const SEGMENT_RX: u64 = SEGMENT_ENTRY_PROTECT | SEGMENT_ENTRY_READ;
/// `SEGMENT_RW`.
pub const SEGMENT_RW: u64 = SEGMENT_ENTRY_READ | SEGMENT_ENTRY_WRITE | SEGMENT_ENTRY_NOEXEC;
/// `SEGMENT_RWX`.
pub const SEGMENT_RWX: u64 = SEGMENT_ENTRY_READ | SEGMENT_ENTRY_WRITE;

/// `__SWP_OFFSET_SHIFT`.
pub const SWP_OFFSET_SHIFT: u32 = 12;
/// Width of the swap offset (`__SWP_OFFSET_MASK` is `(1 << 52) - 1`).
pub const SWP_OFFSET_BITS: u32 = 52;
/// `__SWP_TYPE_SHIFT`.
pub const SWP_TYPE_SHIFT: u32 = 2;
/// Width of the swap type (`__SWP_TYPE_MASK` is `(1 << 5) - 1`).
pub const SWP_TYPE_BITS: u32 = 5;

/// `pte_none`: exactly `_PAGE_INVALID`.
pub const fn pte_none(v: u64) -> bool {
    v == PAGE_INVALID
}
/// `pte_present`: the software PRESENT bit.
pub const fn pte_present(v: u64) -> bool {
    v & PAGE_PRESENT != 0
}
/// `pte_swap`: PROTECT set, PRESENT clear (pattern `.11..ttttt.0`).
pub const fn pte_swap(v: u64) -> bool {
    v & (PAGE_PROTECT | PAGE_PRESENT) == PAGE_PROTECT
}
/// `pte_protnone` (`CONFIG_NUMA_BALANCING`): present without READ.
pub const fn pte_protnone(v: u64) -> bool {
    pte_present(v) && v & PAGE_READ == 0
}
/// `pte_pfn`: everything above bit 12.
pub const fn pte_pfn(v: u64) -> u64 {
    v >> PAGE_SHIFT
}
/// `pte_mkyoung`: sets YOUNG; clears INVALID if READ is set.
pub const fn pte_mkyoung(v: u64) -> u64 {
    let v = v | PAGE_YOUNG;
    if v & PAGE_READ != 0 {
        v & !PAGE_INVALID
    } else {
        v
    }
}
/// `pte_mkold`: clears YOUNG, sets INVALID.
pub const fn pte_mkold(v: u64) -> u64 {
    (v & !PAGE_YOUNG) | PAGE_INVALID
}
/// `pte_mkdirty`: sets DIRTY and SOFT_DIRTY; clears PROTECT if WRITE is set.
pub const fn pte_mkdirty(v: u64) -> u64 {
    let v = v | PAGE_DIRTY | PAGE_SOFT_DIRTY;
    if v & PAGE_WRITE != 0 {
        v & !PAGE_PROTECT
    } else {
        v
    }
}
/// `pte_mkclean`: clears DIRTY, sets PROTECT.
pub const fn pte_mkclean(v: u64) -> u64 {
    (v & !PAGE_DIRTY) | PAGE_PROTECT
}
/// `pte_mkwrite_novma`: sets WRITE; clears PROTECT if DIRTY is set.
pub const fn pte_mkwrite(v: u64) -> u64 {
    let v = v | PAGE_WRITE;
    if v & PAGE_DIRTY != 0 {
        v & !PAGE_PROTECT
    } else {
        v
    }
}
/// `pte_wrprotect`: clears WRITE, sets PROTECT.
pub const fn pte_wrprotect(v: u64) -> u64 {
    (v & !PAGE_WRITE) | PAGE_PROTECT
}
/// `mk_pte_phys`: OR, then `pte_mkyoung` (NOEXEC kept: the machine has NX).
pub const fn mk_pte_phys(physpage: u64, prot: u64) -> u64 {
    pte_mkyoung(physpage | prot)
}
/// `pfn_pte`: `mk_pte_phys(pfn << PAGE_SHIFT, prot)`.
pub const fn pfn_pte(pfn: u64, prot: u64) -> u64 {
    mk_pte_phys(pfn << PAGE_SHIFT, prot)
}
/// `pmd_none`: exactly `_SEGMENT_ENTRY_EMPTY`.
pub const fn pmd_none(v: u64) -> bool {
    v == SEGMENT_ENTRY_EMPTY
}
/// `pmd_present`: anything but `_SEGMENT_ENTRY_EMPTY`.
pub const fn pmd_present(v: u64) -> bool {
    v != SEGMENT_ENTRY_EMPTY
}
/// `pmd_mkdirty` (v6.12 arch/s390/include/asm/pgtable.h:1567): DIRTY and SOFT_DIRTY set;
/// a writable entry also loses PROTECT.
pub const fn pmd_mkdirty(v: u64) -> u64 {
    let v = v | SEGMENT_ENTRY_DIRTY | SegmentFlags::SOFT_DIRTY.bits();
    if v & SEGMENT_ENTRY_WRITE != 0 {
        v & !SEGMENT_ENTRY_PROTECT
    } else {
        v
    }
}
/// `pmd_mkwrite_novma` (v6.12 arch/s390/include/asm/pgtable.h:1553): WRITE set; a dirty entry
/// also loses PROTECT.
pub const fn pmd_mkwrite(v: u64) -> u64 {
    let v = v | SEGMENT_ENTRY_WRITE;
    if v & SEGMENT_ENTRY_DIRTY != 0 {
        v & !SEGMENT_ENTRY_PROTECT
    } else {
        v
    }
}
/// `pmd_write` (v6.12 arch/s390/include/asm/pgtable.h:813): `_SEGMENT_ENTRY_WRITE`.
pub const fn pmd_write(v: u64) -> bool {
    v & SEGMENT_ENTRY_WRITE != 0
}
/// `pmd_dirty` (v6.12 arch/s390/include/asm/pgtable.h:825): `_SEGMENT_ENTRY_DIRTY`.
pub const fn pmd_dirty(v: u64) -> bool {
    v & SEGMENT_ENTRY_DIRTY != 0
}
/// `pmd_young` (v6.12 arch/s390/include/asm/pgtable.h:831): `_SEGMENT_ENTRY_YOUNG`.
pub const fn pmd_young(v: u64) -> bool {
    v & SEGMENT_ENTRY_YOUNG != 0
}
/// `pmd_protnone` (v6.12 arch/s390/include/asm/pgtable.h:872): a leaf without
/// `_SEGMENT_ENTRY_READ`.
pub const fn pmd_protnone(v: u64) -> bool {
    pmd_leaf(v) && v & SEGMENT_ENTRY_READ == 0
}
/// Returns whether the MMU uses the segment entry: `_SEGMENT_ENTRY_INVALID` (bit 5, 0x20)
/// clear. PROT_NONE (`SEGMENT_NONE`) and invalidated huge pmds have it set.
pub const fn pmd_hw_valid(v: u64) -> bool {
    v & SEGMENT_ENTRY_INVALID == 0
}
/// `pmd_leaf`: LARGE.
pub const fn pmd_leaf(v: u64) -> bool {
    v & SEGMENT_ENTRY_LARGE != 0
}
/// `pmd_trans_huge`: LARGE.
pub const fn pmd_trans_huge(v: u64) -> bool {
    v & SEGMENT_ENTRY_LARGE != 0
}
/// `pmd_bad`: a type other than segment, a leaf, or bits outside `_SEGMENT_ENTRY_BITS`.
pub const fn pmd_bad(v: u64) -> bool {
    v & SEGMENT_ENTRY_TYPE_MASK != 0 || pmd_leaf(v) || v & !SEGMENT_ENTRY_BITS != 0
}
/// `pmd_deref` (as a physical address): the large origin for a leaf, the table origin else.
pub const fn pmd_deref(v: u64) -> u64 {
    if pmd_leaf(v) {
        v & SEGMENT_ENTRY_ORIGIN_LARGE
    } else {
        v & SEGMENT_ENTRY_ORIGIN
    }
}
/// Returns the pfn of the large origin (leaf) or the pte table origin (`pmd_pfn`).
pub const fn pmd_pfn(v: u64) -> u64 {
    pmd_deref(v) >> PAGE_SHIFT
}
/// `massage_pgprot_pmd`: `PAGE_NONE/RO/RX/RW` to `SEGMENT_*`; anything else is `SEGMENT_RWX`.
pub const fn massage_pgprot_pmd(prot: u64) -> u64 {
    match prot {
        PAGE_NONE => SEGMENT_NONE,
        PAGE_RO => SEGMENT_RO,
        PAGE_RX => SEGMENT_RX,
        PAGE_RW => SEGMENT_RW,
        _ => SEGMENT_RWX,
    }
}
/// `pfn_pmd` (`mk_pmd_phys`): the frame address plus the massaged protection.
pub const fn pfn_pmd(pfn: u64, prot: u64) -> u64 {
    (pfn << PAGE_SHIFT).wrapping_add(massage_pgprot_pmd(prot))
}
/// `pmd_mkhuge`: sets LARGE, YOUNG and PROTECT (unconditionally in v6.12).
pub const fn pmd_mkhuge(v: u64) -> u64 {
    v | SEGMENT_ENTRY_LARGE | SEGMENT_ENTRY_YOUNG | SEGMENT_ENTRY_PROTECT
}
/// The value s390's `pmdp_invalidate` exchanges in: `old | _SEGMENT_ENTRY_INVALID`.
pub const fn pmdp_invalidate(v: u64) -> u64 {
    v | SEGMENT_ENTRY_INVALID
}
/// `mk_swap_pte`: INVALID | PROTECT, offset at bit 12, type at bits 2–6.
pub const fn mk_swap_pte(ty: u64, offset: u64) -> u64 {
    PAGE_INVALID
        | PAGE_PROTECT
        | ((offset & ((1 << SWP_OFFSET_BITS) - 1)) << SWP_OFFSET_SHIFT)
        | ((ty & ((1 << SWP_TYPE_BITS) - 1)) << SWP_TYPE_SHIFT)
}
/// `__swp_type` (the pte value is the swap entry value).
pub const fn swp_type(v: u64) -> u64 {
    (v >> SWP_TYPE_SHIFT) & ((1 << SWP_TYPE_BITS) - 1)
}
/// Returns the 52-bit swap offset, from bit 12 (`__swp_offset`).
pub const fn swp_offset(v: u64) -> u64 {
    (v >> SWP_OFFSET_SHIFT) & ((1 << SWP_OFFSET_BITS) - 1)
}

impl Arch for S390 {
    type Word = u64;
    const ID: ArchId = ArchId::S390;
    const GEOMETRY: Geometry = Geometry {
        page_shift: PAGE_SHIFT,
        pmd_shift: 20,
        ptrs_per_pte: 256,
        levels: 5,
        pfn_bits: 64 - PAGE_SHIFT,
        has_thp: true,
        big_endian: true,
        swap_type_bits: SWP_TYPE_BITS,
        swap_offset_bits: SWP_OFFSET_BITS,
    };
}

/// `protection_map` (arch/s390/mm/mmap.c) for a private mapping, with the writable form a
/// write fault installs (`PAGE_RW`/`PAGE_RWX`, the shared entries) for `ReadWrite*`.
const fn pgprot(p: Protection) -> u64 {
    match p {
        Protection::None => PAGE_NONE,
        Protection::Read => PAGE_RO,
        Protection::ReadWrite => PAGE_RW,
        Protection::ReadExec => PAGE_RX,
        Protection::ReadWriteExec => PAGE_RWX,
    }
}

impl PteOps for S390 {
    const PTE_FLAG_BITS: u64 = PteFlags::all().bits();
    const PTE_PFN_BITS: u64 = PAGE_MASK;

    fn pte_empty(_addr: u64) -> Pte<Self> {
        Pte::from_raw(PAGE_INVALID)
    }
    forward_pte! {
        test: pte_none, pte_present, pte_protnone;
        u64: pte_pfn;
        map: pte_mkwrite, pte_wrprotect, pte_mkdirty, pte_mkclean, pte_mkyoung, pte_mkold;
    }
    fn pfn_pte_unchecked(pfn: u64, prot: PgProt<Self>) -> Pte<Self> {
        Pte::from_raw(pfn_pte(pfn, prot.raw()))
    }
    fn pte_pgprot(prot: Protection) -> PgProt<Self> {
        PgProt::from_raw(pgprot(prot))
    }
    fn pte_write(pte: Pte<Self>) -> bool {
        pte.raw() & PAGE_WRITE != 0
    }
    fn pte_dirty(pte: Pte<Self>) -> bool {
        pte.raw() & PAGE_DIRTY != 0
    }
    fn pte_young(pte: Pte<Self>) -> bool {
        pte.raw() & PAGE_YOUNG != 0
    }
    fn pte_special(pte: Pte<Self>) -> bool {
        pte.raw() & PAGE_SPECIAL != 0
    }
    fn pte_mkspecial(pte: Pte<Self>) -> Result<Pte<Self>, Error> {
        Ok(Pte::from_raw(pte.raw() | PAGE_SPECIAL))
    }
    fn swp_entry_to_pte(entry: SwpEntry) -> Pte<Self> {
        Pte::from_raw(mk_swap_pte(u64::from(entry.ty()), entry.offset()))
    }
    fn pte_to_swp_entry(pte: Pte<Self>) -> SwpEntry {
        // The type field is 5 bits wide, so the narrowing cannot lose bits.
        SwpEntry::from_parts_unchecked(swp_type(pte.raw()) as u32, swp_offset(pte.raw()))
    }
    fn fmt_pte_flags(raw: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_flags(PteFlags::from_bits_retain(raw & !PAGE_MASK), f)
    }
}

impl PmdOps for S390 {
    fn pmd_empty() -> Pmd<Self> {
        Pmd::from_raw(SEGMENT_ENTRY_EMPTY)
    }
    forward_pmd! {
        test: pmd_none, pmd_present, pmd_bad, pmd_leaf, pmd_trans_huge, pmd_protnone,
            pmd_hw_valid, pmd_write, pmd_dirty, pmd_young;
        u64: pmd_pfn;
        map: pmd_mkdirty, pmd_mkwrite;
        try_map: pmd_mkhuge;
    }
    /// `_SEGMENT_ENTRY | __pa(pte table)`: the table's origin is `table_pfn << 12` (in v6.12
    /// every pte table starts a 4 KiB page of its own). `_SEGMENT_ENTRY` is 0 and the origin
    /// has no bit 5, so no table pmd — not even pfn 0's, raw `0` — equals the empty `0x20`.
    fn pmd_populate_unchecked(table_pfn: u64) -> Pmd<Self> {
        Pmd::from_raw(SEGMENT_ENTRY | (table_pfn << PAGE_SHIFT))
    }
    fn fmt_pmd_flags(raw: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_flags(SegmentFlags::from_bits_retain(raw & !pmd_deref(raw)), f)
    }
    /// `pmd_mkhuge(pfn_pmd(pfn, prot))`; `set_pmd_at` changes nothing on an NX machine.
    fn mk_huge_pmd_unchecked(pfn: u64, prot: Protection) -> Result<Pmd<Self>, Error> {
        Ok(Pmd::from_raw(pmd_mkhuge(pfn_pmd(pfn, pgprot(prot)))))
    }
    /// s390 defines no `pmd_mkinvalid` in v6.12 (it has its own `pmdp_invalidate`, and
    /// nothing else calls the helper); this returns what that `pmdp_invalidate` stores,
    /// `old | _SEGMENT_ENTRY_INVALID`.
    fn pmd_mkinvalid(pmd: Pmd<Self>) -> Result<Pmd<Self>, Error> {
        Ok(Pmd::from_raw(pmdp_invalidate(pmd.raw())))
    }
    /// `__HAVE_ARCH_PMDP_INVALIDATE`: `pmdp_xchg_direct` of `old | _SEGMENT_ENTRY_INVALID`.
    fn pmdp_invalidate(pmd: Pmd<Self>) -> Result<Pmd<Self>, Error> {
        Ok(Pmd::from_raw(pmdp_invalidate(pmd.raw())))
    }
}

static_assertions::assert_eq_size!(u64, Pte<S390>, Pmd<S390>);

#[cfg(test)]
mod tests {
    use super::*;

    // Kernel vectors: values read off the v6.12 headers.

    // pte_clear stores _PAGE_INVALID (0x400); pte_none is `v == 0x400`, so raw 0 is not none.
    #[test]
    fn empty_pte_is_0x400_and_zero_is_not_none() {
        let e = S390::pte_empty(0x1234_5000);
        assert_eq!(e.raw(), 0x400);
        assert!(e.none() && !e.present() && !e.is_swap());
        assert!(!Pte::<S390>::from_raw(0).none());
    }

    // pmd_clear stores _SEGMENT_ENTRY_EMPTY (0x20); pmd_present is `v != 0x20`.
    #[test]
    fn empty_pmd_is_0x20_and_everything_else_is_present() {
        let e = S390::pmd_empty();
        assert_eq!(e.raw(), 0x20);
        assert!(e.none() && !e.present());
        assert!(Pmd::<S390>::from_raw(0).present() && !Pmd::<S390>::from_raw(0).none());
    }

    // PAGE_NONE is PRESENT | INVALID | PROTECT; pfn_pte's pte_mkyoung adds YOUNG but keeps
    // INVALID (no READ), and the entry is protnone.
    #[test]
    fn page_none_is_0x601_and_stays_invalid() {
        assert_eq!(S390::pte_pgprot(Protection::None).raw(), 0x601);
        let pte = S390::pfn_pte(0x1234, S390::pte_pgprot(Protection::None)).unwrap();
        assert_eq!(pte.raw(), 0x0123_4605);
        assert!(pte.present() && S390::pte_protnone(pte));
    }

    // PAGE_RW is 0x731; pfn_pte makes it young, which clears INVALID because READ is set;
    // PROTECT stays until the pte is both writable and dirty.
    #[test]
    fn readable_young_pte_drops_invalid_and_write_dirty_drops_protect() {
        assert_eq!(PAGE_RW, 0x731);
        let pte = S390::pfn_pte(0x1234, S390::pte_pgprot(Protection::ReadWrite)).unwrap();
        assert_eq!(pte.raw(), 0x0123_4335);
        let dirty = S390::pte_mkdirty(pte);
        assert_eq!(dirty.raw(), 0x0123_413f); // DIRTY | SOFT_DIRTY set, PROTECT cleared
        assert_eq!(S390::pte_mkclean(dirty).raw(), 0x0123_4337);
        assert_eq!(S390::pte_wrprotect(dirty).raw(), 0x0123_431f);
        // Write after dirty on a write-protected pte: pte_mkwrite clears PROTECT too.
        let ro_dirty = S390::pte_wrprotect(dirty);
        assert_eq!(S390::pte_mkwrite(ro_dirty).raw(), 0x0123_413f);
    }

    // pte_mkold sets _PAGE_INVALID; pte_mkyoung clears it only when READ is set.
    #[test]
    fn mkold_sets_invalid_and_mkyoung_needs_read() {
        let pte = Pte::<S390>::from_raw(0x5000 | PAGE_RO);
        let young = S390::pte_mkyoung(pte);
        assert_eq!(young.raw(), 0x5315);
        let old = S390::pte_mkold(young);
        assert_eq!(old.raw(), 0x5711);
        let none = Pte::<S390>::from_raw(0x5000 | PAGE_NONE);
        assert_eq!(S390::pte_mkyoung(none).raw(), 0x5605);
    }

    // mk_swap_pte: INVALID | PROTECT | offset << 12 | type << 2; not none, not present.
    #[test]
    fn swap_pte_is_0x600_plus_fields() {
        let e = SwpEntry::new::<S390>(3, 0x10).unwrap();
        let pte = S390::swp_entry_to_pte(e);
        assert_eq!(pte.raw(), 0x1_060c);
        assert!(pte_swap(pte.raw()) && pte.is_swap());
        assert_eq!(S390::pte_to_swp_entry(pte), e);
        assert!(SwpEntry::new::<S390>(32, 1).is_err());
    }

    // pmd_populate stores _SEGMENT_ENTRY (0) | origin: a table at pfn 0 is raw 0, which is
    // present and not none (only 0x20 is).
    #[test]
    fn table_pmd_is_the_bare_origin() {
        let t = S390::pmd_populate(0x1234).unwrap();
        assert_eq!(t.raw(), 0x0123_4000);
        assert_eq!(t.pfn(), 0x1234);
        assert!(!S390::pmd_bad(t) && !t.trans_huge() && t.present());
        let zero = S390::pmd_populate(0).unwrap();
        assert_eq!(zero.raw(), 0);
        assert!(!zero.none() && zero.present() && !S390::pmd_bad(zero));
    }

    // pfn_pmd maps PAGE_RW to SEGMENT_RW (READ|WRITE|NOEXEC); pmd_mkhuge adds
    // LARGE|YOUNG|PROTECT; PAGE_NONE maps to SEGMENT_NONE, which keeps INVALID.
    #[test]
    fn huge_pmd_uses_segment_bits() {
        let huge = S390::mk_huge_pmd(0x100, Protection::ReadWrite).unwrap();
        assert_eq!(huge.raw(), 0x10_1703);
        assert!(huge.trans_huge() && huge.present() && S390::pmd_bad(huge));
        assert_eq!(huge.pfn(), 0x100);
        let none = S390::mk_huge_pmd(0x100, Protection::None).unwrap();
        assert_eq!(none.raw(), 0x10_1620);
        assert!(S390::mk_huge_pmd(0x80, Protection::Read).is_err()); // not 1 MiB aligned
    }

    // s390's own pmdp_invalidate stores old | 0x20; the pmd stays present and trans_huge.
    #[test]
    fn invalidated_huge_pmd_is_old_or_0x20_and_still_present() {
        let huge = S390::mk_huge_pmd(0x100, Protection::ReadWrite).unwrap();
        let inv = S390::pmdp_invalidate(huge).unwrap();
        assert_eq!(inv.raw(), huge.raw() | 0x20);
        assert_eq!(inv.raw(), 0x10_1723);
        assert!(inv.present() && inv.trans_huge() && !inv.none());
        assert_eq!(inv.pfn(), 0x100);
        assert_eq!(S390::pmd_mkinvalid(huge), Ok(inv));
        assert_eq!(S390::pmdp_invalidate(inv), Ok(inv));
    }

    // Entries are big-endian in memory whatever the host: 0x400 is 00 .. 00 04 00.
    #[test]
    fn mmu_bytes_are_big_endian() {
        assert_eq!(
            S390::pte_empty(0).to_mmu_bytes(),
            [0, 0, 0, 0, 0, 0, 0x04, 0x00]
        );
        let pte = Pte::<S390>::from_raw(0x0123_4567_89ab_c335);
        let bytes = pte.to_mmu_bytes();
        assert_eq!(bytes, [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xc3, 0x35]);
        assert_eq!(Pte::<S390>::from_mmu_bytes(bytes), pte);
    }
}
