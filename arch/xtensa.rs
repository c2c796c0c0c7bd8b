//! xtensa (MMU v3, hardware after version 2000), as Linux v6.12 encodes it.
//!
//! Follows arch/xtensa/include/asm/{pgtable.h, pgalloc.h, page.h, kmem_layout.h} with these
//! configuration choices:
//! - **Hardware version 2000 or later** (`XCHAL_HW_VERSION_MAJOR >= 2000`, as on the dc233c,
//!   csp and kc705 cores): `_PAGE_HW_VALID` = 0 and `_PAGE_NONE` = 0x0f, so a PROT_NONE pte
//!   has attribute 1111 and `pte_present` accepts it explicitly. (T1050 and earlier, e.g. the
//!   default `fsf` variant, use HW_VALID = 1 and `_PAGE_NONE` = 0x04 instead.)
//! - The default kernel memory layout `XTENSA_KSEG_MMU_V2` with `KSEG_PADDR` 0:
//!   `PAGE_OFFSET` = 0xd0000000, `PHYS_OFFSET` = 0, a 128 MiB KSEG; `HIGHMEM` off.
//!
//! Points worth knowing:
//! - **Two levels**: the pmd is folded, so our [`Pmd`] is the pgd slot (`PGDIR_SHIFT` 22).
//! - **The empty pte is 0x1C** (`_PAGE_CA_INVALID | _PAGE_USER`): `pte_clear` stores it and
//!   `pte_alloc_one` fills fresh tables with it (`ptes_clear`); `pte_none` is `v == 0x1C`.
//!   The ring stays USER even when not present (multihit exceptions).
//! - The empty pgd slot is 0 (`__GFP_ZERO`); a table slot holds the pte page's kernel
//!   virtual address, and `pmd_pfn` goes back through `__pa`, which folds the uncached KSEG
//!   alias onto the cached one.
//! - **`pte_wrprotect` and `pte_mkclean` clear `_PAGE_HW_WRITE`, which is part of the
//!   new-hardware `_PAGE_NONE` (0x0f)**: on a PROT_NONE pte they leave the reserved
//!   attribute 1101, which is neither present nor none (see [`Xtensa::LAW_DEVIATIONS`]).
//! - Swap ptes keep the `0x1C` low bits: type at bits 6–10, offset at bits 11–31.
//! - Not selected: `ARCH_HAS_PTE_SPECIAL`, NUMA balancing, THP.
//!
//! **pfn width.** The pte's PPN field has 20 bits, but a pgd slot holds `__va(pfn << 12)`,
//! which round-trips only inside the 128 MiB KSEG: with `HIGHMEM` off, `MAX_LOW_PFN` =
//! 0x8000 and every page Linux manages lies there, so `pfn_bits` is 15.

use core::fmt;

use bitflags::bitflags;

use crate::arch_id::{Arch, ArchId, Geometry};
use crate::decode::write_flags;
use crate::entry::{PgProt, Pmd, PmdOps, Protection, Pte, PteOps, SwpEntry};
use crate::laws::{Deviation, LawId};

/// The xtensa backend (MMU v3, 2 levels, 4 KiB pages, no THP).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Xtensa;

bitflags! {
    /// xtensa pte flag bits (`_PAGE_*`, pgtable.h).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Flags: u32 {
        /// `_PAGE_HW_EXEC`.
        const HW_EXEC = 1 << 0;
        /// `_PAGE_HW_WRITE` (`_PAGE_SWP_EXCLUSIVE` in swap ptes).
        const HW_WRITE = 1 << 1;
        /// `_PAGE_CA_WB`: cache attribute 01, write-back.
        const CA_WB = 1 << 2;
        /// `_PAGE_CA_WT`: cache attribute 10, write-through.
        const CA_WT = 2 << 2;
        /// `_PAGE_CA_INVALID`: cache attribute 11, not present (`_PAGE_CA_MASK`).
        const CA_INVALID = 3 << 2;
        /// `_PAGE_USER`: ring 1.
        const USER = 1 << 4;
        /// `_PAGE_WRITABLE` (software).
        const WRITABLE = 1 << 6;
        /// `_PAGE_DIRTY` (software).
        const DIRTY = 1 << 7;
        /// `_PAGE_ACCESSED` (software).
        const ACCESSED = 1 << 8;
    }
}

/// `PAGE_SHIFT`.
pub const PAGE_SHIFT: u32 = 12;
/// `~PAGE_MASK`.
pub const PAGE_OFFSET_MASK: u32 = (1 << PAGE_SHIFT) - 1;
/// `_PAGE_ATTRIB_MASK`.
pub const ATTRIB_MASK: u32 = 0xf;
/// `_PAGE_CA_MASK`.
pub const CA_MASK: u32 = Flags::CA_INVALID.bits();
/// `_PAGE_CA_INVALID`.
pub const CA_INVALID: u32 = Flags::CA_INVALID.bits();
/// `_PAGE_HW_VALID` on hardware version 2000 and later.
pub const HW_VALID: u32 = 0;
/// `_PAGE_NONE` on hardware version 2000 and later.
pub const PAGE_NONE_ATTR: u32 = 0x0f;
/// `_PAGE_PRESENT` (a pgprot part): HW_VALID | CA_WB | ACCESSED.
pub const PAGE_PRESENT: u32 = HW_VALID | Flags::CA_WB.bits() | Flags::ACCESSED.bits();
/// The empty pte, `_PAGE_CA_INVALID | _PAGE_USER`.
pub const PTE_EMPTY: u32 = CA_INVALID | Flags::USER.bits();
/// `PAGE_NONE` = `_PAGE_NONE | _PAGE_USER`.
pub const PAGE_NONE: u32 = PAGE_NONE_ATTR | Flags::USER.bits();
/// `PAGE_READONLY` (= `PAGE_COPY`).
pub const PAGE_READONLY: u32 = PAGE_PRESENT | Flags::USER.bits();
/// `PAGE_READONLY_EXEC` (= `PAGE_COPY_EXEC`).
pub const PAGE_READONLY_EXEC: u32 = PAGE_READONLY | Flags::HW_EXEC.bits();
/// `PAGE_SHARED`.
pub const PAGE_SHARED: u32 = PAGE_READONLY | Flags::WRITABLE.bits();
/// `PAGE_SHARED_EXEC`.
pub const PAGE_SHARED_EXEC: u32 = PAGE_SHARED | Flags::HW_EXEC.bits();
/// The pfn field, PPN bits 12–31.
pub const PTE_PFN_MASK: u32 = !PAGE_OFFSET_MASK;
/// `XCHAL_KSEG_CACHED_VADDR` (`XTENSA_KSEG_MMU_V2`): `PAGE_OFFSET`.
pub const PAGE_OFFSET: u32 = 0xd000_0000;
/// `XCHAL_KSEG_PADDR` (`KSEG_PADDR` default): `PHYS_OFFSET`.
pub const PHYS_OFFSET: u32 = 0;
/// `XCHAL_KSEG_SIZE` (`XTENSA_KSEG_MMU_V2`).
pub const KSEG_SIZE: u32 = 0x0800_0000;
/// Width of the pfns this backend accepts: the 128 MiB KSEG (see the module doc).
pub const PFN_BITS: u32 = 15;
/// Width of the swap type field (bits 6–10).
pub const SWP_TYPE_BITS: u32 = 5;
/// Shift of the swap type field.
pub const SWP_TYPE_SHIFT: u32 = 6;
/// Shift of the swap offset field (bits 11–31).
pub const SWP_OFFSET_SHIFT: u32 = 11;

/// `pte_none`: exactly the empty value.
pub const fn pte_none(v: u32) -> bool {
    v == PTE_EMPTY
}
/// `pte_present` (hardware 2000+): a valid cache attribute, or the PROT_NONE attribute.
pub const fn pte_present(v: u32) -> bool {
    v & CA_MASK != CA_INVALID || v & ATTRIB_MASK == PAGE_NONE_ATTR
}
/// Returns the pfn: the pte shifted down by `PAGE_SHIFT` (`pte_pfn`).
pub const fn pte_pfn(v: u32) -> u32 {
    v >> PAGE_SHIFT
}
/// Returns a pte mapping `pfn`: `pfn` at bit 12, ORed with `prot` (`pfn_pte`).
pub const fn pfn_pte(pfn: u32, prot: u32) -> u32 {
    (pfn << PAGE_SHIFT) | prot
}
/// `pte_wrprotect`: clears the software and the hardware write bits.
pub const fn pte_wrprotect(v: u32) -> u32 {
    v & !(Flags::WRITABLE.bits() | Flags::HW_WRITE.bits())
}
/// `pte_mkclean`: clears dirty and the hardware write bit.
pub const fn pte_mkclean(v: u32) -> u32 {
    v & !(Flags::DIRTY.bits() | Flags::HW_WRITE.bits())
}
/// `__swp_entry` as a pte.
pub const fn swp_entry(ty: u32, offset: u32) -> u32 {
    ((ty & 0x1f) << SWP_TYPE_SHIFT) | (offset << SWP_OFFSET_SHIFT) | PTE_EMPTY
}
/// Returns the swap type: bits 6–10 (`__swp_type`).
pub const fn swp_type(v: u32) -> u32 {
    (v >> SWP_TYPE_SHIFT) & 0x1f
}
/// Returns the swap offset: bits 11–31 (`__swp_offset`).
pub const fn swp_offset(v: u32) -> u32 {
    v >> SWP_OFFSET_SHIFT
}
/// Returns whether the pmd is empty: the word is zero (`pmd_none`).
pub const fn pmd_none(v: u32) -> bool {
    v == 0
}
/// `pmd_present`: a page address.
pub const fn pmd_present(v: u32) -> bool {
    v & !PAGE_OFFSET_MASK != 0
}
/// `pmd_bad`: in-page bits set.
pub const fn pmd_bad(v: u32) -> bool {
    v & PAGE_OFFSET_MASK != 0
}
/// `pmd_populate`: `page_to_virt(page)` = `__va(pfn << PAGE_SHIFT)`.
pub const fn pmd_populate(table_pfn: u32) -> u32 {
    (table_pfn << PAGE_SHIFT)
        .wrapping_sub(PHYS_OFFSET)
        .wrapping_add(PAGE_OFFSET)
}
/// `___pa` (page.h, without `XIP_KERNEL`): the uncached KSEG alias folds onto the cached one.
pub const fn pa(va: u32) -> u32 {
    let mut off = va.wrapping_sub(PAGE_OFFSET);
    if off >= KSEG_SIZE {
        off -= KSEG_SIZE;
    }
    off.wrapping_add(PHYS_OFFSET)
}
/// `pmd_pfn`: `__pa(v) >> PAGE_SHIFT`.
pub const fn pmd_pfn(v: u32) -> u32 {
    pa(v) >> PAGE_SHIFT
}

/// Narrows a checked pfn (below 2^[`PFN_BITS`]) to the word.
const fn pfn_u32(pfn: u64) -> u32 {
    (pfn & ((1 << PFN_BITS) - 1)) as u32
}

impl Arch for Xtensa {
    type Word = u32;
    const ID: ArchId = ArchId::Xtensa;
    const GEOMETRY: Geometry = Geometry {
        page_shift: PAGE_SHIFT,
        pmd_shift: 22,
        ptrs_per_pte: 1024,
        levels: 2,
        pfn_bits: PFN_BITS,
        has_thp: false,
        big_endian: false,
        swap_type_bits: SWP_TYPE_BITS,
        swap_offset_bits: 32 - SWP_OFFSET_SHIFT,
    };
}

/// `protection_map` (arch/xtensa/mm/init.c) for a private mapping; `ReadWrite` is the
/// writable form a write fault makes (`PAGE_SHARED(_EXEC)` bits).
const fn pgprot(p: Protection) -> u32 {
    match p {
        Protection::None => PAGE_NONE,
        Protection::Read => PAGE_READONLY,
        Protection::ReadWrite => PAGE_SHARED,
        Protection::ReadExec => PAGE_READONLY_EXEC,
        Protection::ReadWriteExec => PAGE_SHARED_EXEC,
    }
}

impl PteOps for Xtensa {
    const PTE_FLAG_BITS: u64 = Flags::all().bits() as u64;
    const PTE_PFN_BITS: u64 = PTE_PFN_MASK as u64;

    fn pte_empty(_addr: u64) -> Pte<Self> {
        Pte::from_raw(PTE_EMPTY)
    }
    forward_pte! {
        test: pte_none, pte_present;
        u64: pte_pfn;
        map: pte_wrprotect, pte_mkclean;
    }
    fn pfn_pte_unchecked(pfn: u64, prot: PgProt<Self>) -> Pte<Self> {
        Pte::from_raw(pfn_pte(pfn_u32(pfn), prot.raw()))
    }
    fn pte_pgprot(prot: Protection) -> PgProt<Self> {
        PgProt::from_raw(pgprot(prot))
    }
    fn pte_write(pte: Pte<Self>) -> bool {
        pte.raw() & Flags::WRITABLE.bits() != 0
    }
    fn pte_mkwrite(pte: Pte<Self>) -> Pte<Self> {
        Pte::from_raw(pte.raw() | Flags::WRITABLE.bits())
    }
    fn pte_dirty(pte: Pte<Self>) -> bool {
        pte.raw() & Flags::DIRTY.bits() != 0
    }
    fn pte_mkdirty(pte: Pte<Self>) -> Pte<Self> {
        Pte::from_raw(pte.raw() | Flags::DIRTY.bits())
    }
    pte_flag_helpers! {
        pte_young / pte_mkyoung / pte_mkold = Flags::ACCESSED.bits();
    }
    fn swp_entry_to_pte(entry: SwpEntry) -> Pte<Self> {
        // SwpEntry::new checked the offset against its 21 bits.
        let offset = (entry.offset() & ((1 << (32 - SWP_OFFSET_SHIFT)) - 1)) as u32;
        Pte::from_raw(swp_entry(entry.ty(), offset))
    }
    fn pte_to_swp_entry(pte: Pte<Self>) -> SwpEntry {
        SwpEntry::from_parts_unchecked(swp_type(pte.raw()), u64::from(swp_offset(pte.raw())))
    }
    fn fmt_pte_flags(raw: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flags = (raw & u64::from(PAGE_OFFSET_MASK)) as u32;
        write_flags(Flags::from_bits_retain(flags), f)
    }
}

impl PmdOps for Xtensa {
    const LAW_DEVIATIONS: &'static [Deviation] = &[Deviation {
        law: LawId::PteFlags,
        note: "arch/xtensa/include/asm/pgtable.h (XCHAL_HW_VERSION_MAJOR >= 2000): _PAGE_NONE \
               is 0x0f and includes _PAGE_HW_WRITE, which pte_wrprotect and pte_mkclean clear; \
               a PROT_NONE pte (attribute 1111) becomes attribute 1101 (reserved), neither \
               pte_present nor pte_none, so it reads as a swap pte. Reachable through \
               page_mkclean_one (mm/rmap.c) on a dirty MAP_SHARED page later mprotected \
               PROT_NONE, and fork's pte_mkclean for VM_SHARED ptes (mm/memory.c)",
    }];

    fn pmd_empty() -> Pmd<Self> {
        Pmd::from_raw(0)
    }
    forward_pmd! {
        test: pmd_none, pmd_present, pmd_bad;
        u64: pmd_pfn;
    }
    fn pmd_populate_unchecked(table_pfn: u64) -> Pmd<Self> {
        Pmd::from_raw(pmd_populate(pfn_u32(table_pfn)))
    }
    fn fmt_pmd_flags(raw: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A pgd slot is a kernel address: only its in-page bits are "flags" (pmd_bad's).
        let low = (raw & u64::from(PAGE_OFFSET_MASK)) as u32;
        write_flags(Flags::from_bits_retain(low), f)
    }
}

static_assertions::assert_eq_size!(u32, Pte<Xtensa>, Pmd<Xtensa>);
static_assertions::const_assert!((1u64 << PFN_BITS) << PAGE_SHIFT <= KSEG_SIZE as u64);

#[cfg(test)]
mod tests {
    use super::*;

    // Kernel vector: pte_clear stores _PAGE_CA_INVALID | _PAGE_USER = 0x1C at every address.
    #[test]
    fn empty_pte_is_0x1c_everywhere() {
        for addr in [0, 0x1000, 0xf000, 0x7fff_f000] {
            let e = Xtensa::pte_empty(addr);
            assert_eq!(e.raw(), 0x1c);
            assert!(e.none() && !e.present());
        }
        // Zero is not the empty pte: it is a present, bypass-cached page at pfn 0.
        let zero = Pte::<Xtensa>::from_raw(0);
        assert!(!zero.none() && zero.present());
    }

    // Kernel vectors: the pgprots for hardware 2000+ (_PAGE_NONE 0x0f, HW_VALID 0).
    #[test]
    fn protections_match_the_header() {
        assert_eq!(Xtensa::pte_pgprot(Protection::None).raw(), 0x1f);
        assert_eq!(Xtensa::pte_pgprot(Protection::Read).raw(), 0x114);
        assert_eq!(Xtensa::pte_pgprot(Protection::ReadWrite).raw(), 0x154);
        assert_eq!(Xtensa::pte_pgprot(Protection::ReadExec).raw(), 0x115);
        assert_eq!(Xtensa::pte_pgprot(Protection::ReadWriteExec).raw(), 0x155);
    }

    // Kernel vector: a PROT_NONE pte has CA_INVALID but attribute 1111, so it is present.
    #[test]
    fn page_none_is_present_through_the_attribute_nibble() {
        let pte = Xtensa::pfn_pte(0x1234, Xtensa::pte_pgprot(Protection::None)).unwrap();
        assert_eq!(pte.raw(), 0x0123_401f);
        assert!(pte.present() && !pte.none());
        assert_eq!(pte.pfn(), 0x1234);
        // The same attribute bits with 0xC (CA_INVALID, not 1111) are not present.
        assert!(!Pte::<Xtensa>::from_raw(0x0123_401c).present());
    }

    // Kernel vectors: wrprotect and mkclean also drop the hardware write bit.
    #[test]
    fn wrprotect_and_mkclean_clear_hw_write() {
        let pte = Pte::<Xtensa>::from_raw(0x0123_41d6);
        assert_eq!(Xtensa::pte_wrprotect(pte).raw(), 0x0123_4194);
        assert_eq!(Xtensa::pte_mkclean(pte).raw(), 0x0123_4154);
    }

    // The documented deviation: wrprotect/mkclean turn a PROT_NONE pte non-present.
    #[test]
    fn wrprotect_or_mkclean_of_prot_none_leaves_a_swap_looking_pte() {
        let none = Xtensa::pfn_pte(0x1234, Xtensa::pte_pgprot(Protection::None)).unwrap();
        let dirty = Xtensa::pte_mkdirty(none);
        for out in [Xtensa::pte_wrprotect(dirty), Xtensa::pte_mkclean(dirty)] {
            assert_eq!(out.raw() & ATTRIB_MASK, 0xd);
            assert!(!out.present() && !out.none() && out.is_swap());
        }
        // Every other protection keeps its presence through every flag helper.
        for prot in [
            Protection::Read,
            Protection::ReadWrite,
            Protection::ReadExec,
            Protection::ReadWriteExec,
        ] {
            let pte = Xtensa::pfn_pte(0x1234, Xtensa::pte_pgprot(prot)).unwrap();
            let ops: [fn(Pte<Xtensa>) -> Pte<Xtensa>; 6] = [
                Xtensa::pte_mkwrite,
                Xtensa::pte_wrprotect,
                Xtensa::pte_mkdirty,
                Xtensa::pte_mkclean,
                Xtensa::pte_mkyoung,
                Xtensa::pte_mkold,
            ];
            for op in ops {
                let out = op(Xtensa::pte_mkdirty(Xtensa::pte_mkwrite(pte)));
                assert!(out.present() && out.pfn() == 0x1234, "{prot:?}");
            }
        }
    }

    // Kernel vectors: __swp_entry = type << 6 | offset << 11 | 0x1C.
    #[test]
    fn swap_entries_keep_the_invalid_low_bits() {
        let pte = Xtensa::swp_entry_to_pte(SwpEntry::new::<Xtensa>(3, 0x10).unwrap());
        assert_eq!(pte.raw(), 0x8000 | 0xc0 | 0x1c);
        assert!(pte.is_swap());
        assert_eq!(
            Xtensa::pte_to_swp_entry(pte),
            SwpEntry::from_parts_unchecked(3, 0x10)
        );
        let top = Xtensa::swp_entry_to_pte(SwpEntry::new::<Xtensa>(31, 0x1f_ffff).unwrap());
        assert_eq!(top.raw(), 0xffff_ffdc);
        assert!(top.is_swap());
    }

    // Kernel vectors: pmd_clear stores 0; pmd_populate stores __va of the pte page.
    #[test]
    fn table_pmd_is_the_kseg_address_of_the_pte_page() {
        assert_eq!(Xtensa::pmd_empty().raw(), 0);
        assert!(Xtensa::pmd_empty().none() && !Xtensa::pmd_empty().present());
        let pmd = Xtensa::pmd_populate(0x1234).unwrap();
        assert_eq!(pmd.raw(), 0xd123_4000);
        assert_eq!(pmd.pfn(), 0x1234);
        assert!(pmd.present() && !Xtensa::pmd_bad(pmd));
        // __pa folds the uncached alias (0xd8000000) onto the cached KSEG.
        assert_eq!(Pmd::<Xtensa>::from_raw(0xd923_4000).pfn(), 0x1234);
        assert!(Xtensa::pmd_populate(1 << PFN_BITS).is_err());
    }
}
