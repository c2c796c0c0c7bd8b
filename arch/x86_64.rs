//! x86_64 with 4-level paging, as Linux v6.12 encodes it.
//!
//! Follows arch/x86/include/asm/{pgtable_types.h, pgtable.h, pgtable_64.h,
//! pgtable_64_types.h, pgtable-invert.h} and arch/x86/mm/pgtable.c. Points worth knowing:
//! - **L1TF inversion**: every non-zero entry without `_PAGE_PRESENT` stores its pfn bits
//!   inverted (`protnone_mask`), so `PAGE_NONE` mappings and invalidated huge pmds carry `~pfn`.
//! - `pte_none` ignores the accessed and dirty bits (the Knights Landing erratum).
//! - `pmd_present` also tests `_PAGE_PSE`, which is what keeps an invalidated THP present.
//! - Swap entries store the offset inverted, type in bits 59–63.
//! - Shadow stacks are modelled off (`X86_FEATURE_USER_SHSTK` not enabled), so `pte_write`
//!   is the RW bit; the saved-dirty shifting of v6.6+ is kept because it changes bits.

use core::fmt;

use bitflags::bitflags;

use crate::arch_id::{Arch, ArchId, Geometry};
use crate::decode::write_flags;
use crate::entry::{PgProt, Pmd, PmdOps, Protection, Pte, PteOps, SwpEntry};
use crate::error::Error;

/// The x86_64 backend (4-level paging, 4 KiB pages, 2 MiB THP).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct X86_64;

bitflags! {
    /// x86_64 pte/pmd flag bits (`_PAGE_*`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Flags: u64 {
        /// `_PAGE_PRESENT`.
        const PRESENT = 1 << 0;
        /// `_PAGE_RW` (`_PAGE_SWP_SOFT_DIRTY` in swap entries).
        const RW = 1 << 1;
        /// `_PAGE_USER` (`_PAGE_SWP_UFFD_WP` in swap entries).
        const USER = 1 << 2;
        /// `_PAGE_PWT` (`_PAGE_SWP_EXCLUSIVE` in swap entries).
        const PWT = 1 << 3;
        /// `_PAGE_PCD`.
        const PCD = 1 << 4;
        /// `_PAGE_ACCESSED`.
        const ACCESSED = 1 << 5;
        /// `_PAGE_DIRTY`.
        const DIRTY = 1 << 6;
        /// `_PAGE_PSE`: a leaf at the pmd/pud level (`_PAGE_PAT` in a 4K pte).
        const PSE = 1 << 7;
        /// `_PAGE_GLOBAL`; `_PAGE_PROTNONE` when PRESENT is clear.
        const GLOBAL = 1 << 8;
        /// `_PAGE_SPECIAL` (software bit 1).
        const SPECIAL = 1 << 9;
        /// `_PAGE_UFFD_WP` (software bit 2).
        const UFFD_WP = 1 << 10;
        /// `_PAGE_SOFT_DIRTY` (software bit 3).
        const SOFT_DIRTY = 1 << 11;
        /// `_PAGE_PAT_LARGE`: PAT for 2M/1G leaves.
        const PAT_LARGE = 1 << 12;
        /// `_PAGE_DEVMAP` (software bit 4).
        const DEVMAP = 1 << 57;
        /// `_PAGE_SAVED_DIRTY` (software bit 5).
        const SAVED_DIRTY = 1 << 58;
        /// Protection key bits 59–62.
        const PKEY = 0xf << 59;
        /// `_PAGE_NX`.
        const NX = 1 << 63;
    }
}

/// `_PAGE_PRESENT`.
pub const PRESENT: u64 = Flags::PRESENT.bits();
/// `_PAGE_PROTNONE`: the global bit, meaningful when PRESENT is clear.
pub const PROTNONE: u64 = Flags::GLOBAL.bits();
/// `_PAGE_PSE`.
pub const PSE: u64 = Flags::PSE.bits();
/// `_PAGE_KNL_ERRATUM_MASK`: accessed and dirty, ignored by `pte_none`.
pub const KNL_ERRATUM_MASK: u64 = Flags::DIRTY.bits() | Flags::ACCESSED.bits();
/// `__PHYSICAL_MASK_SHIFT`.
pub const PHYSICAL_MASK_SHIFT: u32 = 52;
/// `PTE_PFN_MASK`: bits 12–51.
pub const PTE_PFN_MASK: u64 = ((1 << PHYSICAL_MASK_SHIFT) - 1) & !0xfff;
/// `PHYSICAL_PMD_PAGE_MASK`: bits 21–51.
pub const PMD_PFN_MASK: u64 = ((1 << PHYSICAL_MASK_SHIFT) - 1) & !((1 << 21) - 1);
/// `_PAGE_DIRTY_BITS`.
pub const DIRTY_BITS: u64 = Flags::DIRTY.bits() | Flags::SAVED_DIRTY.bits();
/// `_PAGE_TABLE`: what `pmd_populate` ORs into a user table pmd.
pub const PAGE_TABLE: u64 = 0x67;
/// `_KERNPG_TABLE` without the encryption bit.
pub const KERNPG_TABLE: u64 = 0x63;
/// `PAGE_NONE` = accessed | protnone.
pub const PAGE_NONE: u64 = 0x120;
/// `SWP_TYPE_BITS`.
pub const SWP_TYPE_BITS: u32 = 5;
/// `SWP_OFFSET_FIRST_BIT`.
pub const SWP_OFFSET_FIRST_BIT: u32 = 9;
/// `SWP_OFFSET_SHIFT`.
pub const SWP_OFFSET_SHIFT: u32 = SWP_OFFSET_FIRST_BIT + SWP_TYPE_BITS;

/// `protnone_mask`: all ones for a non-zero entry without PRESENT (L1TF inversion).
pub const fn protnone_mask(v: u64) -> u64 {
    if v != 0 && v & PRESENT == 0 { !0 } else { 0 }
}
/// Returns whether the pte is empty: no bits set besides the KNL erratum bits (`pte_none`).
pub const fn pte_none(v: u64) -> bool {
    v & !KNL_ERRATUM_MASK == 0
}
/// Returns whether the pte is present to Linux: PRESENT or PROTNONE set (`pte_present`).
pub const fn pte_present(v: u64) -> bool {
    v & !PTE_PFN_MASK & (PRESENT | PROTNONE) != 0
}
/// Returns whether the pte is PROT_NONE: PROTNONE set with PRESENT clear (`pte_protnone`).
pub const fn pte_protnone(v: u64) -> bool {
    v & (PRESENT | PROTNONE) == PROTNONE
}
/// Returns whether the MMU uses the pmd: `_PAGE_PRESENT` (bit 0). A PROT_NONE or
/// invalidated huge pmd has it clear.
pub const fn pmd_hw_valid(v: u64) -> bool {
    v & PRESENT != 0
}
/// `pmd_access_permitted` → `__pte_access_permitted` (arch/x86/include/asm/pgtable.h:1692,
/// :1717 in v6.12): PRESENT and USER, and RW for a write. Protection keys are not modelled
/// (every pkey 0, which PKRU allows).
pub const fn pmd_access_permitted(v: u64, write: bool) -> bool {
    let need = PRESENT | Flags::USER.bits() | if write { Flags::RW.bits() } else { 0 };
    v & need == need
}
/// `pmd_protnone` (arch/x86/include/asm/pgtable.h:1057): PROTNONE set, PRESENT clear.
pub const fn pmd_protnone(v: u64) -> bool {
    pmd_flags(v) & (PROTNONE | PRESENT) == PROTNONE
}
/// Returns the pfn, un-inverting it when the pte is non-zero and not PRESENT (`pte_pfn`).
pub const fn pte_pfn(v: u64) -> u64 {
    ((v ^ protnone_mask(v)) & PTE_PFN_MASK) >> 12
}
/// `pfn_pte`: the pfn is inverted when the protection is non-present.
pub const fn pfn_pte(pfn: u64, prot: u64) -> u64 {
    (((pfn << 12) ^ protnone_mask(prot)) & PTE_PFN_MASK) | prot
}
/// `mksaveddirty_shift`: Dirty moves to SavedDirty when Write is clear.
pub const fn mksaveddirty_shift(v: u64) -> u64 {
    let cond = (!v >> 1) & 1;
    let v = v | (((v >> 6) & cond) << 58);
    v & !(cond << 6)
}
/// `clear_saveddirty_shift`: SavedDirty moves back to Dirty when Write is set.
pub const fn clear_saveddirty_shift(v: u64) -> u64 {
    let cond = (v >> 1) & 1;
    let v = v | (((v >> 58) & cond) << 6);
    v & !(cond << 58)
}
/// `pmd_pfn_mask`: the huge mask when PSE is set.
pub const fn pmd_pfn_mask(v: u64) -> u64 {
    if v & PSE != 0 {
        PMD_PFN_MASK
    } else {
        PTE_PFN_MASK
    }
}
/// Returns the pmd's flag bits: everything outside its pfn mask, huge or not (`pmd_flags`).
pub const fn pmd_flags(v: u64) -> u64 {
    v & !pmd_pfn_mask(v)
}
/// `pmd_none` (the erratum mask applies here too).
pub const fn pmd_none(v: u64) -> bool {
    v & !KNL_ERRATUM_MASK == 0
}
/// `pmd_present`: PRESENT, PROTNONE or PSE — split_huge_page clears PRESENT and keeps PSE.
pub const fn pmd_present(v: u64) -> bool {
    pmd_flags(v) & (PRESENT | PROTNONE | PSE) != 0
}
/// Returns whether the pmd's flags, USER and ACCESSED aside, are not PRESENT|RW|DIRTY (`pmd_bad`).
pub const fn pmd_bad(v: u64) -> bool {
    pmd_flags(v) & !(Flags::USER.bits() | Flags::ACCESSED.bits())
        != KERNPG_TABLE & !Flags::ACCESSED.bits()
}
/// Returns whether the pmd is a leaf: PSE set (`pmd_leaf`).
pub const fn pmd_leaf(v: u64) -> bool {
    pmd_flags(v) & PSE != 0
}
/// Returns whether the pmd maps a THP: PSE set and DEVMAP clear (`pmd_trans_huge`).
pub const fn pmd_trans_huge(v: u64) -> bool {
    v & (PSE | Flags::DEVMAP.bits()) == PSE
}
/// Returns the pmd's pfn under its (huge or table) mask, un-inverted if not PRESENT (`pmd_pfn`).
pub const fn pmd_pfn(v: u64) -> u64 {
    ((v ^ protnone_mask(v)) & pmd_pfn_mask(v)) >> 12
}
/// Returns a huge pmd for `pfn` with `prot`, the pfn inverted if `prot` is non-present (`pfn_pmd`).
pub const fn pfn_pmd(pfn: u64, prot: u64) -> u64 {
    (((pfn << 12) ^ protnone_mask(prot)) & PMD_PFN_MASK) | prot
}
/// `pmd_mkinvalid`: rebuild with PRESENT and PROTNONE clear, so the pfn is re-inverted.
pub const fn pmd_mkinvalid(v: u64) -> u64 {
    pfn_pmd(pmd_pfn(v), pmd_flags(v) & !(PRESENT | PROTNONE))
}
/// `__swp_entry` (as a pte): inverted offset at bit 9, type at bits 59–63.
pub const fn swp_entry(ty: u64, offset: u64) -> u64 {
    (!offset << SWP_OFFSET_SHIFT >> SWP_TYPE_BITS) | (ty << (64 - SWP_TYPE_BITS))
}
/// Returns the swap type of a swap pte: bits 59–63 (`__swp_type`).
pub const fn swp_type(v: u64) -> u64 {
    v >> (64 - SWP_TYPE_BITS)
}
/// Returns the swap offset of a swap pte: bits 9–58, un-inverted (`__swp_offset`).
pub const fn swp_offset(v: u64) -> u64 {
    !v << SWP_TYPE_BITS >> SWP_OFFSET_SHIFT
}

impl Arch for X86_64 {
    type Word = u64;
    const ID: ArchId = ArchId::X86_64;
    const GEOMETRY: Geometry = Geometry {
        page_shift: 12,
        pmd_shift: 21,
        ptrs_per_pte: 512,
        levels: 4,
        pfn_bits: PHYSICAL_MASK_SHIFT - 12,
        has_thp: true,
        big_endian: false,
        swap_type_bits: SWP_TYPE_BITS,
        swap_offset_bits: 64 - SWP_OFFSET_SHIFT,
    };
}

/// Flags of a private user mapping: `PAGE_NONE`, `PAGE_READONLY(_EXEC)`, and the writable
/// form a write fault makes (`PAGE_SHARED(_EXEC)` bits).
const fn pgprot(p: Protection) -> u64 {
    const PP: u64 = PRESENT;
    const RW: u64 = Flags::RW.bits();
    const USR: u64 = Flags::USER.bits();
    const A: u64 = Flags::ACCESSED.bits();
    const NX: u64 = Flags::NX.bits();
    match p {
        Protection::None => PAGE_NONE,
        Protection::Read => PP | USR | A | NX,
        Protection::ReadWrite => PP | RW | USR | A | NX,
        Protection::ReadExec => PP | USR | A,
        Protection::ReadWriteExec => PP | RW | USR | A,
    }
}

impl PteOps for X86_64 {
    const PTE_FLAG_BITS: u64 = Flags::all().bits();
    const PTE_PFN_BITS: u64 = PTE_PFN_MASK;

    /// `pte_access_permitted` (arch/x86/include/asm/pgtable.h:1711): the pmd's test.
    fn pte_access_permitted(pte: Pte<Self>, write: bool) -> bool {
        pmd_access_permitted(pte.raw(), write)
    }

    fn pte_empty(_addr: u64) -> Pte<Self> {
        Pte::from_raw(0)
    }
    forward_pte! {
        test: pte_none, pte_present, pte_protnone;
        u64: pte_pfn;
    }
    fn pfn_pte_unchecked(pfn: u64, prot: PgProt<Self>) -> Pte<Self> {
        Pte::from_raw(pfn_pte(pfn, prot.raw()))
    }
    fn pte_pgprot(prot: Protection) -> PgProt<Self> {
        PgProt::from_raw(pgprot(prot))
    }
    fn pte_write(pte: Pte<Self>) -> bool {
        pte.raw() & Flags::RW.bits() != 0
    }
    fn pte_mkwrite(pte: Pte<Self>) -> Pte<Self> {
        // pte_mkwrite(pte, vma) for a non-shadow-stack vma.
        Pte::from_raw(clear_saveddirty_shift(pte.raw() | Flags::RW.bits()))
    }
    fn pte_wrprotect(pte: Pte<Self>) -> Pte<Self> {
        Pte::from_raw(mksaveddirty_shift(pte.raw() & !Flags::RW.bits()))
    }
    fn pte_dirty(pte: Pte<Self>) -> bool {
        pte.raw() & DIRTY_BITS != 0
    }
    fn pte_mkdirty(pte: Pte<Self>) -> Pte<Self> {
        let v = pte.raw() | Flags::DIRTY.bits() | Flags::SOFT_DIRTY.bits();
        Pte::from_raw(mksaveddirty_shift(v))
    }
    fn pte_mkclean(pte: Pte<Self>) -> Pte<Self> {
        Pte::from_raw(pte.raw() & !DIRTY_BITS)
    }
    pte_flag_helpers! {
        pte_young / pte_mkyoung / pte_mkold = Flags::ACCESSED.bits();
    }
    fn pte_special(pte: Pte<Self>) -> bool {
        pte.raw() & Flags::SPECIAL.bits() != 0
    }
    fn pte_mkspecial(pte: Pte<Self>) -> Result<Pte<Self>, Error> {
        Ok(Pte::from_raw(pte.raw() | Flags::SPECIAL.bits()))
    }
    fn swp_entry_to_pte(entry: SwpEntry) -> Pte<Self> {
        Pte::from_raw(swp_entry(u64::from(entry.ty()), entry.offset()))
    }
    fn pte_to_swp_entry(pte: Pte<Self>) -> SwpEntry {
        SwpEntry::from_parts_unchecked(swp_type(pte.raw()) as u32, swp_offset(pte.raw()))
    }
    fn fmt_pte_flags(raw: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_flags(Flags::from_bits_retain(raw & !PTE_PFN_MASK), f)
    }
}

impl PmdOps for X86_64 {
    fn pmd_empty() -> Pmd<Self> {
        Pmd::from_raw(0)
    }
    forward_pmd! {
        test: pmd_none, pmd_present, pmd_bad, pmd_leaf, pmd_trans_huge, pmd_protnone,
            pmd_hw_valid;
        u64: pmd_pfn;
        try_map: pmd_mkinvalid;
    }
    fn pmd_access_permitted(pmd: Pmd<Self>, write: bool) -> bool {
        pmd_access_permitted(pmd.raw(), write)
    }
    fn pmd_populate_unchecked(table_pfn: u64) -> Pmd<Self> {
        Pmd::from_raw((table_pfn << 12) | PAGE_TABLE)
    }
    fn fmt_pmd_flags(raw: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_flags(Flags::from_bits_retain(pmd_flags(raw)), f)
    }
    fn mk_huge_pmd_unchecked(pfn: u64, prot: Protection) -> Result<Pmd<Self>, Error> {
        Ok(Pmd::from_raw(pfn_pmd(pfn, pgprot(prot)) | PSE))
    }
    fn pmd_mkhuge(pmd: Pmd<Self>) -> Result<Pmd<Self>, Error> {
        Ok(Pmd::from_raw(pmd.raw() | PSE))
    }
}

static_assertions::assert_eq_size!(u64, Pte<X86_64>, Pmd<X86_64>);

#[cfg(test)]
mod tests {
    use super::*;

    // Kernel vectors: values read off the v6.12 headers.
    #[test]
    fn page_none_is_0x120_and_protnone() {
        assert_eq!(X86_64::pte_pgprot(Protection::None).raw(), 0x120);
        let pte = X86_64::pfn_pte(0x1234, X86_64::pte_pgprot(Protection::None)).unwrap();
        assert!(pte.present() && X86_64::pte_protnone(pte));
    }

    #[test]
    fn non_present_entry_stores_pfn_inverted() {
        let pte = X86_64::pfn_pte(0x1234, PgProt::from_raw(PAGE_NONE)).unwrap();
        assert_eq!(pte.raw() & PTE_PFN_MASK, !(0x1234u64 << 12) & PTE_PFN_MASK);
        assert_eq!(pte.pfn(), 0x1234);
    }

    #[test]
    fn none_ignores_accessed_and_dirty() {
        assert!(Pte::<X86_64>::from_raw(0x60).none());
        assert!(!Pte::<X86_64>::from_raw(0x1).none());
    }

    #[test]
    fn invalidated_thp_keeps_pse_and_inverts_pfn() {
        let huge = X86_64::mk_huge_pmd(0x400, Protection::ReadWrite).unwrap();
        assert_eq!(huge.raw(), 0x8000_0000_0040_00a7);
        let inv = X86_64::pmdp_invalidate(huge).unwrap();
        assert_eq!(inv.raw() & (PRESENT | PROTNONE | PSE), PSE);
        assert_eq!(inv.raw() & PMD_PFN_MASK, !(0x400u64 << 12) & PMD_PFN_MASK);
        assert!(inv.present() && inv.trans_huge() && !inv.none());
    }

    #[test]
    fn swap_offset_is_stored_inverted() {
        let e = SwpEntry::new::<X86_64>(3, 0x10).unwrap();
        let pte = X86_64::swp_entry_to_pte(e);
        assert_eq!(pte.raw() >> 59, 3);
        assert_eq!(
            (pte.raw() >> 9) & ((1 << 50) - 1),
            !0x10u64 & ((1 << 50) - 1)
        );
        assert!(pte.is_swap());
    }
}
