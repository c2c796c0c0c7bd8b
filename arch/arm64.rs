//! arm64 with 4 KiB pages and 4 levels, as Linux v6.12 encodes it, and as 6.1.192 did.
//!
//! Follows arch/arm64/include/asm/{pgtable.h, pgtable-prot.h, pgtable-hwdef.h, pgalloc.h}
//! and arch/arm64/mm/mmap.c (`protection_map`) of v6.12; the v6.1 variant follows the same
//! files in **6.1.192** (the 6.1.y release Debian 12 ships and `ci/kernel-test` boots), from
//! before Ryan Roberts' 2024 `PTE_PRESENT_INVALID` rework (v6.10).
//!
//! Configuration: `CONFIG_ARM64_4K_PAGES`, `CONFIG_PGTABLE_LEVELS=4`, 48-bit physical
//! addresses (`CONFIG_ARM64_PA_BITS_48`, no LPA2), `CONFIG_NUMA_BALANCING` (for
//! `pte_protnone`), `CONFIG_HAVE_ARCH_USERFAULTFD_WP` (v6.12: `PTE_UFFD_WP` at bit 58), no
//! Enhanced PAN (`PROT_EXEC` alone maps `PAGE_READONLY_EXEC`). Points worth knowing:
//! - **v6.12** ([`Arm64`]): a pte or pmd with VALID clear and nG set is *present-invalid*
//!   (`PTE_PRESENT_INVALID` = nG): PROT_NONE ptes use it (`PAGE_NONE`, with `!USER && UXN`
//!   telling it apart for `pte_protnone`), and `pmd_mkinvalid` makes one, so an invalidated
//!   THP stays `pmd_present` and `pmd_trans_huge` (which forces VALID back in before its
//!   table test).
//! - **v6.1** ([`Arm64V6_1`]): PROT_NONE was its own software bit, `PTE_PROT_NONE` (58), and
//!   `pmd_mkinvalid` set `PMD_PRESENT_INVALID` (59), which `pmd_present` also accepts. The
//!   swap type sat at bits 3–7 with the offset at 8–57 and the address field was bits 12–47.
//!   `pte_mkwrite` clears RDONLY only for a sw-dirty pte, as in v6.12: "arm64, mm: avoid
//!   always making PTE dirty in pte_mkwrite()" (v6.6) was backported to 6.1.y
//!   (6.1.192 arch/arm64/include/asm/pgtable.h:183); 6.1.0 itself cleared it always.
//! - Dirty is `PTE_DIRTY || (PTE_WRITE && !PTE_RDONLY)`: `PTE_WRITE` is the hardware DBM bit,
//!   `pte_mkclean` sets RDONLY and `pte_wrprotect` moves hardware-dirty into `PTE_DIRTY`.
//! - `set_pmd_at` rewrites nothing; `pmdp_invalidate` is the generic one.
//!
//! The two versions share every helper: each is a `const fn` generic over [`Variant`], whose
//! constants say where the versions differ.

use core::fmt;

use bitflags::bitflags;

use crate::arch_id::{Arch, ArchId, Geometry};
use crate::decode::write_flags;
use crate::entry::{PgProt, Pmd, PmdOps, Protection, Pte, PteOps, SwpEntry};
use crate::error::Error;

/// arm64 as in v6.12 (4 KiB pages, 4 levels, 48-bit PA, 2 MiB THP).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Arm64;

/// arm64 as in 6.1.192 (`PTE_PROT_NONE` at bit 58, `PMD_PRESENT_INVALID` at bit 59).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Arm64V6_1;

/// Declares a flags type: the bits both versions name, plus the version's own.
macro_rules! arm64_flags {
    (
        $(#[$doc:meta])*
        $name:ident { $($(#[$fattr:ident $($fargs:tt)*])* const $flag:ident = $value:expr;)* }
    ) => {
        bitflags! {
            $(#[$doc])*
            #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
            pub struct $name: u64 {
                /// `PTE_VALID` / `PMD_SECT_VALID`.
                const VALID = 1 << 0;
                /// `PTE_TABLE_BIT` / `PMD_TABLE_BIT`: set in a page and a table, clear in a
                /// block (section).
                const TABLE = 1 << 1;
                /// `PTE_ATTRINDX_MASK` (`MT_NORMAL` = 0). In swap ptes bit 2 is
                /// `PTE_SWP_EXCLUSIVE`.
                const ATTRINDX = 7 << 2;
                /// `PTE_USER` (AP[1]).
                const USER = 1 << 6;
                /// `PTE_RDONLY` (AP[2]).
                const RDONLY = 1 << 7;
                /// `PTE_SHARED` (inner shareable).
                const SHARED = 3 << 8;
                /// `PTE_AF`.
                const AF = 1 << 10;
                /// `PTE_NG`.
                const NG = 1 << 11;
                /// `PTE_GP` (BTI guarded).
                const GP = 1 << 50;
                /// `PTE_DBM` = `PTE_WRITE`.
                const WRITE = 1 << 51;
                /// `PTE_CONT`.
                const CONT = 1 << 52;
                /// `PTE_PXN`.
                const PXN = 1 << 53;
                /// `PTE_UXN`.
                const UXN = 1 << 54;
                /// `PTE_DIRTY` (software).
                const DIRTY = 1 << 55;
                /// `PTE_SPECIAL`.
                const SPECIAL = 1 << 56;
                /// `PTE_DEVMAP`.
                const DEVMAP = 1 << 57;
                $($(#[$fattr $($fargs)*])* const $flag = $value;)*
            }
        }
    };
}

arm64_flags! {
    /// arm64 pte/pmd bits in v6.12.
    Flags {
        /// `PTE_UFFD_WP`.
        const UFFD_WP = 1 << 58;
        /// `PTE_PO_IDX_MASK`: the permission-overlay index (POE).
        const PO_IDX = 7 << 60;
    }
}

arm64_flags! {
    /// arm64 pte/pmd bits in v6.1.
    FlagsV6_1 {
        /// `PTE_PROT_NONE` (only when VALID is clear).
        const PROT_NONE = 1 << 58;
        /// `PMD_PRESENT_INVALID` (only when VALID is clear; `PMD_TABLE_PXN` in a table pmd).
        const PMD_PRESENT_INVALID = 1 << 59;
    }
}

/// `PTE_VALID`.
pub const PTE_VALID: u64 = Flags::VALID.bits();
/// `PTE_TABLE_BIT` = `PMD_TABLE_BIT`.
pub const PTE_TABLE_BIT: u64 = Flags::TABLE.bits();
/// `PTE_TYPE_PAGE` = `PMD_TYPE_TABLE` = `PMD_TYPE_MASK`.
pub const PTE_TYPE_PAGE: u64 = PTE_VALID | PTE_TABLE_BIT;
/// `PMD_TYPE_SECT`.
pub const PMD_TYPE_SECT: u64 = PTE_VALID;
/// `PTE_USER`.
pub const PTE_USER: u64 = Flags::USER.bits();
/// `PTE_RDONLY`.
pub const PTE_RDONLY: u64 = Flags::RDONLY.bits();
/// `PTE_SHARED`.
pub const PTE_SHARED: u64 = Flags::SHARED.bits();
/// `PTE_AF`.
pub const PTE_AF: u64 = Flags::AF.bits();
/// `PTE_NG`.
pub const PTE_NG: u64 = Flags::NG.bits();
/// `PTE_WRITE` (= `PTE_DBM`).
pub const PTE_WRITE: u64 = Flags::WRITE.bits();
/// `PTE_PXN`.
pub const PTE_PXN: u64 = Flags::PXN.bits();
/// `PTE_UXN`.
pub const PTE_UXN: u64 = Flags::UXN.bits();
/// `PTE_DIRTY`.
pub const PTE_DIRTY: u64 = Flags::DIRTY.bits();
/// `PTE_SPECIAL`.
pub const PTE_SPECIAL: u64 = Flags::SPECIAL.bits();
/// `PMD_TABLE_PXN`: what `pmd_populate` ORs into a user table pmd.
pub const PMD_TABLE_PXN: u64 = 1 << 59;
/// `PHYS_MASK_SHIFT` (`CONFIG_ARM64_PA_BITS` = 48).
pub const PHYS_MASK_SHIFT: u32 = 48;
/// `PMD_MASK` (2 MiB).
pub const PMD_MASK: u64 = !((1 << 21) - 1);
/// `_PAGE_DEFAULT` = `_PROT_DEFAULT | PTE_ATTRINDX(MT_NORMAL)`.
pub const PAGE_DEFAULT: u64 = PTE_TYPE_PAGE | PTE_AF | PTE_SHARED;
/// `PAGE_READONLY`.
pub const PAGE_READONLY: u64 = PAGE_DEFAULT | PTE_USER | PTE_RDONLY | PTE_NG | PTE_PXN | PTE_UXN;
/// `PAGE_READONLY_EXEC`.
pub const PAGE_READONLY_EXEC: u64 = PAGE_DEFAULT | PTE_USER | PTE_RDONLY | PTE_NG | PTE_PXN;
/// `PAGE_SHARED`: writable and clean (RDONLY | WRITE).
pub const PAGE_SHARED: u64 = PAGE_READONLY | PTE_WRITE;
/// `PAGE_SHARED_EXEC`.
pub const PAGE_SHARED_EXEC: u64 = PAGE_READONLY_EXEC | PTE_WRITE;

/// Where arm64 v6.12 and v6.1 differ; implemented by [`Arm64`] and [`Arm64V6_1`].
pub trait Variant {
    /// The bit that, with VALID clear, makes a pte present (PROT_NONE): `PTE_PRESENT_INVALID`
    /// (= nG) in v6.12, `PTE_PROT_NONE` (58) in v6.1.
    const PTE_PRESENT_INVALID: u64;
    /// The bit `pmd_mkinvalid` sets and `pmd_present` accepts: nG in v6.12,
    /// `PMD_PRESENT_INVALID` (59) in v6.1.
    const PMD_PRESENT_INVALID: u64;
    /// Whether `pte_protnone` also asks for `!PTE_USER && PTE_UXN` (v6.12, where pmds share
    /// the present-invalid encoding).
    const PROTNONE_CHECKS_USER: bool;
    /// `PTE_ADDR_LOW`: bits 12–49 in v6.12, 12–47 in v6.1.
    const PTE_ADDR_MASK: u64;
    /// `__SWP_TYPE_SHIFT`.
    const SWP_TYPE_SHIFT: u32;
    /// `__SWP_OFFSET_SHIFT`.
    const SWP_OFFSET_SHIFT: u32;
    /// Every named bit of the version.
    const FLAG_BITS: u64;
    /// Formats flag bits with the version's names.
    fn fmt_flags(raw: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result;
}

impl Variant for Arm64 {
    const PTE_PRESENT_INVALID: u64 = PTE_NG;
    const PMD_PRESENT_INVALID: u64 = PTE_NG;
    const PROTNONE_CHECKS_USER: bool = true;
    const PTE_ADDR_MASK: u64 = ((1 << (50 - 12)) - 1) << 12;
    const SWP_TYPE_SHIFT: u32 = 6;
    const SWP_OFFSET_SHIFT: u32 = 12;
    const FLAG_BITS: u64 = Flags::all().bits();
    fn fmt_flags(raw: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_flags(Flags::from_bits_retain(raw), f)
    }
}

impl Variant for Arm64V6_1 {
    const PTE_PRESENT_INVALID: u64 = FlagsV6_1::PROT_NONE.bits();
    const PMD_PRESENT_INVALID: u64 = FlagsV6_1::PMD_PRESENT_INVALID.bits();
    const PROTNONE_CHECKS_USER: bool = false;
    const PTE_ADDR_MASK: u64 = ((1 << (48 - 12)) - 1) << 12;
    const SWP_TYPE_SHIFT: u32 = 3;
    const SWP_OFFSET_SHIFT: u32 = 8;
    const FLAG_BITS: u64 = FlagsV6_1::all().bits();
    fn fmt_flags(raw: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_flags(FlagsV6_1::from_bits_retain(raw), f)
    }
}

/// `__SWP_TYPE_BITS` (both versions).
pub const SWP_TYPE_BITS: u32 = 5;
/// `__SWP_OFFSET_BITS` (both versions).
pub const SWP_OFFSET_BITS: u32 = 50;

/// `PAGE_NONE`: `_PAGE_DEFAULT` without VALID, plus the present-invalid marker, RDONLY, nG,
/// PXN and UXN.
pub const fn page_none<V: Variant>() -> u64 {
    (PAGE_DEFAULT & !PTE_VALID) | V::PTE_PRESENT_INVALID | PTE_RDONLY | PTE_NG | PTE_PXN | PTE_UXN
}
/// Returns whether the pte is empty: the word is zero (`pte_none`).
pub const fn pte_none(v: u64) -> bool {
    v == 0
}
/// Returns whether the MMU sees the pte as valid: `PTE_VALID` (bit 0) set (`pte_valid`).
pub const fn pte_valid(v: u64) -> bool {
    v & PTE_VALID != 0
}
/// `pte_present_invalid` (v6.12); in v6.1 the same test of `PTE_PROT_NONE`.
pub const fn pte_present_invalid<V: Variant>(v: u64) -> bool {
    v & (PTE_VALID | V::PTE_PRESENT_INVALID) == V::PTE_PRESENT_INVALID
}
/// `pte_present`: valid or present-invalid (v6.1: `v & (PTE_VALID | PTE_PROT_NONE)`, the
/// same set).
pub const fn pte_present<V: Variant>(v: u64) -> bool {
    pte_valid(v) || pte_present_invalid::<V>(v)
}
/// `pte_protnone`: present-invalid, and in v6.12 neither user-readable nor user-executable.
pub const fn pte_protnone<V: Variant>(v: u64) -> bool {
    pte_present_invalid::<V>(v) && (!V::PROTNONE_CHECKS_USER || v & (PTE_USER | PTE_UXN) == PTE_UXN)
}
/// `pmd_protnone`: `pte_protnone(pmd_pte(pmd))` (v6.12 arch/arm64/include/asm/pgtable.h:549).
pub const fn pmd_protnone<V: Variant>(v: u64) -> bool {
    pte_protnone::<V>(v)
}
/// Returns whether the MMU uses the pmd: `PMD_SECT_VALID` (bit 0). PROT_NONE and invalidated
/// huge pmds have it clear (they are present to Linux through nG or bit 58/59 instead).
pub const fn pmd_hw_valid(v: u64) -> bool {
    v & PTE_VALID != 0
}
/// `pmd_access_permitted` → `pte_access_permitted_no_overlay` (arch/arm64/include/asm/
/// pgtable.h:176-181 in v6.12): VALID and USER, and `pte_write` for a write. PROT_NONE and
/// execute-only mappings fail; permission overlays (POE) are not modelled.
pub const fn pmd_access_permitted(v: u64, write: bool) -> bool {
    v & (PTE_VALID | PTE_USER) == PTE_VALID | PTE_USER && (!write || pte_write(v))
}
/// `pte_pfn`: `__pte_to_phys(v) >> PAGE_SHIFT`.
pub const fn pte_pfn<V: Variant>(v: u64) -> u64 {
    (v & V::PTE_ADDR_MASK) >> 12
}
/// `pfn_pte` (`__phys_to_pte_val` is the identity without 52-bit PA).
pub const fn pfn_pte(pfn: u64, prot: u64) -> u64 {
    (pfn << 12) | prot
}
/// `pte_write`: `PTE_WRITE` (DBM).
pub const fn pte_write(v: u64) -> bool {
    v & PTE_WRITE != 0
}
/// `pte_hw_dirty`: writable and RDONLY clear.
pub const fn pte_hw_dirty(v: u64) -> bool {
    pte_write(v) && v & PTE_RDONLY == 0
}
/// Returns whether the pte is software-dirty: `PTE_DIRTY` (bit 55) set (`pte_sw_dirty`).
pub const fn pte_sw_dirty(v: u64) -> bool {
    v & PTE_DIRTY != 0
}
/// Returns whether the pte is dirty: software-dirty or hardware-dirty (`pte_dirty`).
pub const fn pte_dirty(v: u64) -> bool {
    pte_sw_dirty(v) || pte_hw_dirty(v)
}
/// `pte_mkwrite_novma` (v6.12) / `pte_mkwrite` (6.1.192): set WRITE; clear RDONLY only for
/// a sw-dirty pte, so a clean pte becomes writable-clean, not hardware-dirty.
pub const fn pte_mkwrite(v: u64) -> u64 {
    let v = v | PTE_WRITE;
    if pte_sw_dirty(v) { v & !PTE_RDONLY } else { v }
}
/// `pte_mkclean`: clear `PTE_DIRTY`, set RDONLY.
pub const fn pte_mkclean(v: u64) -> u64 {
    (v & !PTE_DIRTY) | PTE_RDONLY
}
/// `pte_mkdirty`: set `PTE_DIRTY`; a writable pte also loses RDONLY.
pub const fn pte_mkdirty(v: u64) -> u64 {
    let v = v | PTE_DIRTY;
    if pte_write(v) { v & !PTE_RDONLY } else { v }
}
/// `pte_wrprotect`: hardware-dirty becomes `PTE_DIRTY`, then WRITE clear and RDONLY set.
pub const fn pte_wrprotect(v: u64) -> u64 {
    let v = if pte_hw_dirty(v) { v | PTE_DIRTY } else { v };
    (v & !PTE_WRITE) | PTE_RDONLY
}
/// Returns whether the pte is young: `PTE_AF` set (`pte_young`).
pub const fn pte_young(v: u64) -> bool {
    v & PTE_AF != 0
}
/// Returns the pte with `PTE_AF` set (`pte_mkyoung`).
pub const fn pte_mkyoung(v: u64) -> u64 {
    v | PTE_AF
}
/// Returns the pte with `PTE_AF` cleared (`pte_mkold`).
pub const fn pte_mkold(v: u64) -> u64 {
    v & !PTE_AF
}
/// Returns whether the pte is special: `PTE_SPECIAL` (bit 56) set (`pte_special`).
pub const fn pte_special(v: u64) -> bool {
    v & PTE_SPECIAL != 0
}
/// Returns the pte with `PTE_SPECIAL` set (`pte_mkspecial`).
pub const fn pte_mkspecial(v: u64) -> u64 {
    v | PTE_SPECIAL
}
/// Returns whether the pmd is empty: the word is zero (`pmd_none`).
pub const fn pmd_none(v: u64) -> bool {
    v == 0
}
/// Returns whether the pmd points to a pte table: VALID and TABLE both set (`pmd_table`).
pub const fn pmd_table(v: u64) -> bool {
    v & PTE_TYPE_PAGE == PTE_TYPE_PAGE
}
/// Returns whether the pmd is a block (section): VALID set, TABLE clear (`pmd_sect`).
pub const fn pmd_sect(v: u64) -> bool {
    v & PTE_TYPE_PAGE == PMD_TYPE_SECT
}
/// `pmd_present`: `pte_present(pmd_pte(pmd))`, and in v6.1 also `PMD_PRESENT_INVALID`
/// (in v6.12 the second test adds nothing: nG is the present-invalid bit).
pub const fn pmd_present<V: Variant>(v: u64) -> bool {
    pte_present::<V>(v) || v & V::PMD_PRESENT_INVALID != 0
}
/// `pmd_bad`: not a table.
pub const fn pmd_bad(v: u64) -> bool {
    !pmd_table(v)
}
/// `pmd_leaf`: present and not a table.
pub const fn pmd_leaf<V: Variant>(v: u64) -> bool {
    pmd_present::<V>(v) && !pmd_table(v)
}
/// `pmd_trans_huge`: non-zero, present, and not a table once VALID is forced back in (v6.1
/// tested `!(v & PMD_TABLE_BIT)`, the same thing).
pub const fn pmd_trans_huge<V: Variant>(v: u64) -> bool {
    v != 0 && pmd_present::<V>(v) && !pmd_table(v | PTE_VALID)
}
/// `pmd_mkinvalid`: set the present-invalid bit, clear VALID.
pub const fn pmd_mkinvalid<V: Variant>(v: u64) -> u64 {
    (v | V::PMD_PRESENT_INVALID) & !PTE_VALID
}
/// `pmd_mkhuge`: clear `PMD_TABLE_BIT`.
pub const fn pmd_mkhuge(v: u64) -> u64 {
    v & !PTE_TABLE_BIT
}
/// `pmd_pfn` of a block: `(__pmd_to_phys(pmd) & PMD_MASK) >> PAGE_SHIFT`.
pub const fn pmd_pfn<V: Variant>(v: u64) -> u64 {
    (v & V::PTE_ADDR_MASK & PMD_MASK) >> 12
}
/// `pmd_page` of a table pmd, as a pfn.
pub const fn pmd_page_pfn<V: Variant>(v: u64) -> u64 {
    (v & V::PTE_ADDR_MASK) >> 12
}
/// `pmd_populate`: the pte page | `PMD_TYPE_TABLE | PMD_TABLE_PXN`.
pub const fn pmd_populate(phys: u64) -> u64 {
    phys | PTE_TYPE_PAGE | PMD_TABLE_PXN
}
/// `__swp_entry(type, offset)` as a pte (bits beyond the fields dropped, as Linux's shifts
/// drop them).
pub const fn swp_entry<V: Variant>(ty: u64, offset: u64) -> u64 {
    let ty = ty & ((1 << SWP_TYPE_BITS) - 1);
    let offset = offset & ((1 << SWP_OFFSET_BITS) - 1);
    (ty << V::SWP_TYPE_SHIFT) | (offset << V::SWP_OFFSET_SHIFT)
}
/// Returns the swap type: bits 6–10 in v6.12, 3–7 in v6.1 (`__swp_type`).
pub const fn swp_type<V: Variant>(v: u64) -> u64 {
    (v >> V::SWP_TYPE_SHIFT) & ((1 << SWP_TYPE_BITS) - 1)
}
/// Returns the 50-bit swap offset: from bit 12 in v6.12, from bit 8 in v6.1 (`__swp_offset`).
pub const fn swp_offset<V: Variant>(v: u64) -> u64 {
    (v >> V::SWP_OFFSET_SHIFT) & ((1 << SWP_OFFSET_BITS) - 1)
}

/// `protection_map` for a private mapping (arch/arm64/mm/mmap.c): `PAGE_NONE`,
/// `PAGE_READONLY(_EXEC)`, and for the writable ones the form a write fault makes before
/// dirtying, `pte_mkwrite_novma(PAGE_READONLY)` = `PAGE_SHARED(_EXEC)`: WRITE and RDONLY
/// both set (clean).
const fn pgprot<V: Variant>(p: Protection) -> u64 {
    match p {
        Protection::None => page_none::<V>(),
        Protection::Read => PAGE_READONLY,
        Protection::ReadWrite => PAGE_SHARED,
        Protection::ReadExec => PAGE_READONLY_EXEC,
        Protection::ReadWriteExec => PAGE_SHARED_EXEC,
    }
}

/// Implements the helper traits for one arm64 version from the shared generic helpers.
macro_rules! arm64_backend {
    ($ty:ident, id: $id:expr $(,)?) => {
        impl Arch for $ty {
            type Word = u64;
            const ID: ArchId = $id;
            const GEOMETRY: Geometry = Geometry {
                page_shift: 12,
                pmd_shift: 21,
                ptrs_per_pte: 512,
                levels: 4,
                pfn_bits: PHYS_MASK_SHIFT - 12,
                has_thp: true,
                big_endian: false,
                swap_type_bits: SWP_TYPE_BITS,
                swap_offset_bits: SWP_OFFSET_BITS,
            };
        }

        impl PteOps for $ty {
            const PTE_FLAG_BITS: u64 = <$ty as Variant>::FLAG_BITS;
            const PTE_PFN_BITS: u64 = <$ty as Variant>::PTE_ADDR_MASK;

            /// `pte_access_permitted` (arch/arm64/include/asm/pgtable.h:178): the pmd's test.
            fn pte_access_permitted(pte: Pte<Self>, write: bool) -> bool {
                pmd_access_permitted(pte.raw(), write)
            }

            fn pte_empty(_addr: u64) -> Pte<Self> {
                Pte::from_raw(0)
            }
            forward_pte! {
                test: pte_none, pte_present::<Self>, pte_protnone::<Self>, pte_write, pte_dirty,
                    pte_young, pte_special;
                u64: pte_pfn::<Self>;
                map: pte_mkwrite, pte_wrprotect, pte_mkdirty, pte_mkclean, pte_mkyoung,
                    pte_mkold;
                try_map: pte_mkspecial;
            }
            fn pfn_pte_unchecked(pfn: u64, prot: PgProt<Self>) -> Pte<Self> {
                Pte::from_raw(pfn_pte(pfn, prot.raw()))
            }
            fn pte_pgprot(prot: Protection) -> PgProt<Self> {
                PgProt::from_raw(pgprot::<Self>(prot))
            }
            fn swp_entry_to_pte(entry: SwpEntry) -> Pte<Self> {
                Pte::from_raw(swp_entry::<Self>(u64::from(entry.ty()), entry.offset()))
            }
            fn pte_to_swp_entry(pte: Pte<Self>) -> SwpEntry {
                // The type field is 5 bits wide, so it always fits a u32.
                let ty = swp_type::<Self>(pte.raw()) as u32;
                SwpEntry::from_parts_unchecked(ty, swp_offset::<Self>(pte.raw()))
            }
            fn fmt_pte_flags(raw: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                <Self as Variant>::fmt_flags(raw & !<Self as Variant>::PTE_ADDR_MASK, f)
            }
        }

        impl PmdOps for $ty {
            fn pmd_empty() -> Pmd<Self> {
                Pmd::from_raw(0)
            }
            forward_pmd! {
                test: pmd_none, pmd_present::<Self>, pmd_bad, pmd_leaf::<Self>,
                    pmd_trans_huge::<Self>, pmd_protnone::<Self>, pmd_hw_valid;
                try_map: pmd_mkhuge, pmd_mkinvalid::<Self>;
            }
            fn pmd_access_permitted(pmd: Pmd<Self>, write: bool) -> bool {
                pmd_access_permitted(pmd.raw(), write)
            }
            fn pmd_populate_unchecked(table_pfn: u64) -> Pmd<Self> {
                Pmd::from_raw(pmd_populate(table_pfn << 12))
            }
            fn pmd_pfn(pmd: Pmd<Self>) -> u64 {
                let v = pmd.raw();
                if pmd_table(v) {
                    pmd_page_pfn::<Self>(v)
                } else {
                    pmd_pfn::<Self>(v)
                }
            }
            fn fmt_pmd_flags(raw: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let addr = if pmd_table(raw) {
                    <Self as Variant>::PTE_ADDR_MASK
                } else {
                    <Self as Variant>::PTE_ADDR_MASK & PMD_MASK
                };
                <Self as Variant>::fmt_flags(raw & !addr, f)
            }
            /// `mk_huge_pmd`: `pfn_pmd` with the vma's pgprot, then `pmd_mkhuge`; arm64's
            /// `set_pmd_at` stores the word unchanged.
            fn mk_huge_pmd_unchecked(pfn: u64, prot: Protection) -> Result<Pmd<Self>, Error> {
                Ok(Pmd::from_raw(pmd_mkhuge(pfn_pte(
                    pfn,
                    pgprot::<Self>(prot),
                ))))
            }
        }

        static_assertions::assert_eq_size!(u64, Pte<$ty>, Pmd<$ty>);
    };
}

arm64_backend!(Arm64, id: ArchId::Arm64);
arm64_backend!(Arm64V6_1, id: ArchId::Arm64V6_1);

#[cfg(test)]
mod tests {
    use super::*;

    // v6.12 PAGE_NONE: VALID clear, nG (= PTE_PRESENT_INVALID) | RDONLY | PXN | UXN.
    #[test]
    fn page_none_is_present_invalid_via_ng() {
        assert_eq!(
            Arm64::pte_pgprot(Protection::None).raw(),
            0x0060_0000_0000_0f82
        );
        let pte = Arm64::pfn_pte(0x1234, Arm64::pte_pgprot(Protection::None)).unwrap();
        assert!(pte.present() && Arm64::pte_protnone(pte) && !pte_valid(pte.raw()));
        assert_eq!(pte.pfn(), 0x1234);
        // An invalidated user page is present-invalid but not PROT_NONE (USER set).
        let inv = pmd_mkinvalid::<Arm64>(PAGE_READONLY);
        assert!(pte_present::<Arm64>(inv) && !pte_protnone::<Arm64>(inv));
    }

    // v6.1 PAGE_NONE: PTE_PROT_NONE (bit 58) instead.
    #[test]
    fn v6_1_page_none_uses_bit_58() {
        assert_eq!(
            Arm64V6_1::pte_pgprot(Protection::None).raw(),
            0x0460_0000_0000_0f82
        );
        let pte = Arm64V6_1::pfn_pte(0x1234, Arm64V6_1::pte_pgprot(Protection::None)).unwrap();
        assert!(pte.present() && Arm64V6_1::pte_protnone(pte));
        // Without bit 58, a VALID-clear nG word is not present in v6.1.
        assert!(!Pte::<Arm64V6_1>::from_raw(0x0060_0000_0000_0f82).present());
    }

    // pgtable-prot.h: PAGE_READONLY and the clean writable form PAGE_SHARED.
    #[test]
    fn private_pgprots() {
        assert_eq!(
            Arm64::pte_pgprot(Protection::Read).raw(),
            0x0060_0000_0000_0fc3
        );
        assert_eq!(
            Arm64::pte_pgprot(Protection::ReadExec).raw(),
            0x0020_0000_0000_0fc3
        );
        assert_eq!(
            Arm64::pte_pgprot(Protection::ReadWrite).raw(),
            0x0068_0000_0000_0fc3
        );
        assert_eq!(pte_mkwrite(PAGE_READONLY), PAGE_SHARED);
    }

    // v6.12 pmd_mkinvalid: VALID clear, nG set; still present and trans_huge.
    #[test]
    fn invalidated_thp_keeps_ng_and_stays_present() {
        let huge = Arm64::mk_huge_pmd(0x200, Protection::ReadWrite).unwrap();
        assert_eq!(huge.raw(), 0x0068_0000_0020_0fc1);
        let inv = Arm64::pmdp_invalidate(huge).unwrap();
        assert_eq!(inv.raw(), 0x0068_0000_0020_0fc0);
        assert!(inv.present() && inv.trans_huge() && !inv.none() && Arm64::pmd_leaf(inv));
        assert_eq!(inv.pfn(), 0x200);
        // pmd_trans_huge forces VALID back in: a table-bit-clear word is huge, not a table.
        assert!(!pmd_table(inv.raw() | PTE_VALID));
    }

    // v6.1 pmd_mkinvalid: sets PMD_PRESENT_INVALID (bit 59), clears VALID.
    #[test]
    fn v6_1_invalidated_thp_sets_bit_59() {
        let huge = Arm64V6_1::mk_huge_pmd(0x200, Protection::ReadWrite).unwrap();
        let inv = Arm64V6_1::pmdp_invalidate(huge).unwrap();
        assert_eq!(inv.raw(), 0x0868_0000_0020_0fc0);
        assert!(inv.present() && inv.trans_huge() && !inv.none());
        assert_eq!(inv.pfn(), 0x200);
    }

    // pte_mkwrite(_novma) and the DBM/RDONLY interplay.
    #[test]
    fn dirty_tracking_follows_dbm_and_rdonly() {
        let clean = PAGE_READONLY | (0x1234 << 12);
        // A clean pte stays RDONLY (writable-clean), in v6.12 and in 6.1.192 (backported:
        // 6.1.192 arch/arm64/include/asm/pgtable.h:183-189); 6.1.0 made it hardware-dirty.
        let w = pte_mkwrite(clean);
        assert!(pte_write(w) && !pte_dirty(w) && w & PTE_RDONLY != 0);
        let w1 = Arm64V6_1::pte_mkwrite(Pte::from_raw(clean)).raw();
        assert_eq!(w1, w);
        // A sw-dirty pte loses RDONLY: hardware-writable.
        let sd = pte_mkwrite(clean | PTE_DIRTY);
        assert!(pte_write(sd) && sd & PTE_RDONLY == 0);
        // pte_mkdirty of a writable pte clears RDONLY; pte_mkclean sets it back.
        let d = pte_mkdirty(w);
        assert!(pte_hw_dirty(d) && pte_sw_dirty(d));
        let c = pte_mkclean(d);
        assert!(!pte_dirty(c) && c & PTE_RDONLY != 0 && pte_write(c));
        // pte_wrprotect moves hardware-dirty into PTE_DIRTY.
        let hw = w & !PTE_RDONLY;
        assert!(pte_hw_dirty(hw) && !pte_sw_dirty(hw));
        let ro = pte_wrprotect(hw);
        assert!(!pte_write(ro) && pte_sw_dirty(ro) && ro & PTE_RDONLY != 0);
    }

    // Swap: v6.12 type at 6-10, offset at 12; v6.1 type at 3-7, offset at 8.
    #[test]
    fn swap_layouts() {
        let e = SwpEntry::new::<Arm64>(3, 0x10).unwrap();
        let pte = Arm64::swp_entry_to_pte(e);
        assert_eq!(pte.raw(), 0x100c0);
        assert!(pte.is_swap());
        assert_eq!(Arm64::pte_to_swp_entry(pte), e);
        let pte = Arm64V6_1::swp_entry_to_pte(e);
        assert_eq!(pte.raw(), 0x1018);
        assert!(pte.is_swap());
        assert_eq!(Arm64V6_1::pte_to_swp_entry(pte), e);
        // The largest v6.12 entry leaves nG (bit 11) and bits 62-63 clear.
        let max = Arm64::swp_entry_to_pte(SwpEntry::new::<Arm64>(31, (1 << 50) - 1).unwrap());
        assert_eq!(max.raw(), 0x3fff_ffff_ffff_f7c0);
        assert!(max.is_swap());
    }

    // Table pmd: phys | PMD_TYPE_TABLE | PMD_TABLE_PXN.
    #[test]
    fn table_pmd_has_pxn_table() {
        let pmd = Arm64::pmd_populate(0x12345).unwrap();
        assert_eq!(pmd.raw(), 0x0800_0000_1234_5003);
        assert_eq!(pmd.pfn(), 0x12345);
        assert!(pmd.present() && !Arm64::pmd_bad(pmd) && !pmd.trans_huge());
        let old = Arm64V6_1::pmd_populate(0x12345).unwrap();
        assert!(old.present() && !old.trans_huge() && !Arm64V6_1::pmd_leaf(old));
    }

    // PTE_ADDR_LOW: bits 12-49 in v6.12, 12-47 in v6.1.
    #[test]
    fn pfn_field_width_differs() {
        let raw = 0x0001_ffff_ffff_ffc3;
        assert_eq!(Pte::<Arm64>::from_raw(raw).pfn(), 0x1f_ffff_ffff);
        assert_eq!(Pte::<Arm64V6_1>::from_raw(raw).pfn(), 0xf_ffff_ffff);
        assert!(Arm64::pfn_pte(1 << 36, PgProt::from_raw(PAGE_READONLY)).is_err());
    }
}
