//! 32-bit ARM: classic 2-level tables, LPAE as Linux v6.12 encodes it, and LPAE as it was in
//! v4.5, before the 2016 `pmd_mknotpresent` fix.
//!
//! Follows arch/arm/include/asm/{pgtable.h, pgtable-2level.h, pgtable-2level-hwdef.h,
//! pgtable-3level.h, pgtable-3level-hwdef.h, pgalloc.h} and arch/arm/mm/{mmu.c,
//! proc-v7-2level.S, proc-v7-3level.S} of v6.12; the v4.5 variant follows pgtable-3level.h at
//! commit 05fd934ba585ea8c9f129f15f11327adb1f96fe3.
//!
//! Configuration: an ARMv7 SMP kernel (`multi_v7_defconfig`, Debian's armmp and armmp-lpae).
//! `build_mem_type_table` then forces the write-allocate cache policy and shared mappings, so
//! every user pgprot carries `L_PTE_MT_WRITEALLOC | L_PTE_SHARED` (and, with LPAE, `PXN`).
//! Points worth knowing:
//! - **Classic** ([`ArmClassic`]): the pte modelled is the *Linux* word (`L_PTE_*`), which
//!   `cpu_v7_set_pte_ext` stores 2048 bytes below the hardware word it derives from it. A
//!   `pmd_t` is one 32-bit first-level word, but Linux always writes a pair (`pmdp[0..1]`:
//!   `pmd_clear`, `copy_pmd`, `__pmd_populate`); the model is `pmdp[0]`, and `pmdp[1]` is
//!   always `pmdp[0] + 1024`. No THP and no `pte_special` (`ARCH_HAS_PTE_SPECIAL` and
//!   `HAVE_ARCH_TRANSPARENT_HUGEPAGE` are selected only with `ARM_LPAE`).
//! - **LPAE** ([`ArmLpae`]): one 64-bit word serves Linux and the MMU. `pte_present` tests
//!   either low bit, but `pmd_present` tests only `L_PMD_SECT_VALID` (bit 0), which
//!   `pmd_mkinvalid` clears: **an invalidated THP is not `pmd_present`** (a documented
//!   deviation; 32-bit ARM does not run mm/debug_vm_pgtable.c). `set_pmd_at` rewrites the
//!   word: it clears VALID for PROT_NONE, sets AP2 unless writable and dirty, and ORs nG.
//! - **LPAE v4.5** ([`ArmLpaeV4_5`]): `pmd_mknotpresent` returned 0 and `pmd_present` was
//!   `v != 0`, so the pmd a THP split invalidated read as `pmd_none` and `zap_pmd_range` could
//!   skip it (the February 2016 race). Kept on purpose: it fails the invalidate laws.
//! - **LPAE v4.5, as stored** ([`ArmLpaeV4_5Stored`]): the same helpers, but `pmdp_invalidate`
//!   stores what v4.5's generic `pmdp_invalidate` really wrote: `set_pmd_at(pmd_mknotpresent())`,
//!   and LPAE's `set_pmd_at` ORs AP2 and nG into the zero, so the word was 0x880: not none,
//!   `pmd_trans_huge` and `pmd_present`, but with pfn 0. The pmd_none window the 2016 fix
//!   describes needs the helper's value to reach memory unchanged; as stored, the window is
//!   a present huge pmd of pfn 0 that a lockless reader (GUP-fast) can take (race-002-gup).
//! - **LPAE, patched** ([`ArmLpaePatched`]): v6.12 with this project's proposed fix
//!   (kernel-patches/0001): `pmd_present` also counts `L_PMD_SECT_NONE`, so a PROT_NONE huge
//!   pmd, whose VALID bit `set_pmd_at` clears, is present as generic code expects, and
//!   `zap_huge_pmd` finds its folio (prot-none-thp-zap). An invalidated THP that is not
//!   PROT_NONE is still `!pmd_present`, as in v6.12.
//! - Swap (common pgtable.h): type in bits 2–6, offset from bit 8, computed in a 32-bit
//!   `unsigned long` (`swp_entry_t`), so the offset has 24 bits on both formats.
//! - There is no NUMA balancing on 32-bit ARM, so `pte_protnone` is always false.

use core::fmt;

use crate::arch_id::{Arch, ArchId, Geometry};
use crate::decode::write_flags;
use crate::entry::{PgProt, Pmd, PmdOps, Protection, Pte, PteOps, SwpEntry};
use crate::error::Error;
use crate::laws::{Deviation, LawId};

/// 32-bit ARM with classic 2-level tables (4 KiB pages, no LPAE, no THP).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ArmClassic;

/// 32-bit ARM with LPAE (3 levels, 64-bit entries, 2 MiB THP), as in v6.12.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ArmLpae;

/// 32-bit ARM with LPAE as in v4.5, before "ARM: 8578/1" and "ARM: 8579/1" (June 2016).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ArmLpaeV4_5;

/// 32-bit ARM with LPAE as in v4.5, with the word v4.5's `pmdp_invalidate` really stored
/// (`set_pmd_at` of `pmd_mknotpresent`'s zero: 0x880).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ArmLpaeV4_5Stored;

/// 32-bit ARM with LPAE as in v6.12 with kernel-patches/0001 applied: `pmd_present` counts
/// `L_PMD_SECT_NONE`, so a PROT_NONE huge pmd is present.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ArmLpaePatched;

/// Swap layout shared by both formats (arch/arm/include/asm/pgtable.h).
pub mod swap {
    /// `__SWP_TYPE_SHIFT`.
    pub const SWP_TYPE_SHIFT: u32 = 2;
    /// `__SWP_TYPE_BITS`.
    pub const SWP_TYPE_BITS: u32 = 5;
    /// `__SWP_TYPE_MASK`.
    pub const SWP_TYPE_MASK: u32 = (1 << SWP_TYPE_BITS) - 1;
    /// `__SWP_OFFSET_SHIFT`: above the type and the exclusive marker (bit 7).
    pub const SWP_OFFSET_SHIFT: u32 = SWP_TYPE_BITS + SWP_TYPE_SHIFT + 1;
    /// Width of the offset: what is left of the 32-bit `swp_entry_t`.
    pub const SWP_OFFSET_BITS: u32 = 32 - SWP_OFFSET_SHIFT;

    /// `__swp_entry(type, offset).val`, in the 32-bit `unsigned long` Linux computes it in
    /// (offset bits above the field are dropped, as Linux's shift drops them).
    pub const fn swp_entry(ty: u32, offset: u64) -> u32 {
        let offset = (offset & ((1 << SWP_OFFSET_BITS) - 1)) as u32;
        ((ty & SWP_TYPE_MASK) << SWP_TYPE_SHIFT) | (offset << SWP_OFFSET_SHIFT)
    }
    /// Returns the swap type of a swap entry: bits 2–6 (`__swp_type`).
    pub const fn swp_type(val: u32) -> u32 {
        (val >> SWP_TYPE_SHIFT) & SWP_TYPE_MASK
    }
    /// Returns the swap offset of a swap entry: bits 8–31 (`__swp_offset`).
    pub const fn swp_offset(val: u32) -> u32 {
        val >> SWP_OFFSET_SHIFT
    }
}

/// The classic 2-level format (arch/arm/include/asm/pgtable-2level*.h).
pub mod classic {
    use bitflags::bitflags;

    bitflags! {
        /// Linux pte bits of the classic format (`L_PTE_*`: the Linux shadow word).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct Flags: u32 {
            /// `L_PTE_PRESENT` = `L_PTE_VALID`.
            const PRESENT = 1 << 0;
            /// `L_PTE_YOUNG`.
            const YOUNG = 1 << 1;
            /// `L_PTE_MT_MASK`: the memory type (`L_PTE_MT_WRITEALLOC` = 0x1c).
            const MT = 0xf << 2;
            /// `L_PTE_DIRTY`.
            const DIRTY = 1 << 6;
            /// `L_PTE_RDONLY` (`L_PTE_SWP_EXCLUSIVE` in swap ptes).
            const RDONLY = 1 << 7;
            /// `L_PTE_USER`.
            const USER = 1 << 8;
            /// `L_PTE_XN`.
            const XN = 1 << 9;
            /// `L_PTE_SHARED`.
            const SHARED = 1 << 10;
            /// `L_PTE_NONE`: PROT_NONE (the hardware word is then a fault).
            const NONE = 1 << 11;
        }
    }

    bitflags! {
        /// First-level descriptor bits of a table pmd (`PMD_*`, pgtable-2level-hwdef.h).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct PmdFlags: u32 {
            /// `PMD_TYPE_TABLE`.
            const TYPE_TABLE = 1 << 0;
            /// `PMD_TYPE_SECT`.
            const TYPE_SECT = 1 << 1;
            /// `PMD_PXNTABLE` (ARMv7 with PXN support: `user_pmd_table`).
            const PXNTABLE = 1 << 2;
            /// `PMD_BIT4`.
            const BIT4 = 1 << 4;
            /// `PMD_DOMAIN_MASK`.
            const DOMAIN = 0xf << 5;
        }
    }

    /// `L_PTE_PRESENT`.
    pub const L_PTE_PRESENT: u32 = Flags::PRESENT.bits();
    /// `L_PTE_YOUNG`.
    pub const L_PTE_YOUNG: u32 = Flags::YOUNG.bits();
    /// `L_PTE_DIRTY`.
    pub const L_PTE_DIRTY: u32 = Flags::DIRTY.bits();
    /// `L_PTE_RDONLY`.
    pub const L_PTE_RDONLY: u32 = Flags::RDONLY.bits();
    /// `L_PTE_USER`.
    pub const L_PTE_USER: u32 = Flags::USER.bits();
    /// `L_PTE_XN`.
    pub const L_PTE_XN: u32 = Flags::XN.bits();
    /// `L_PTE_SHARED`.
    pub const L_PTE_SHARED: u32 = Flags::SHARED.bits();
    /// `L_PTE_NONE`.
    pub const L_PTE_NONE: u32 = Flags::NONE.bits();
    /// `L_PTE_MT_WRITEALLOC`.
    pub const L_PTE_MT_WRITEALLOC: u32 = 0x07 << 2;
    /// `PHYS_MASK` (`~0UL`).
    pub const PHYS_MASK: u32 = !0;
    /// The pfn field: `PHYS_MASK & PAGE_MASK`.
    pub const PTE_PFN_MASK: u32 = PHYS_MASK & !0xfff;
    /// `PTE_HWTABLE_OFF`: the hardware ptes sit 2048 bytes into the pte page.
    pub const PTE_HWTABLE_OFF: u32 = 512 * 4;
    /// `PMD_TYPE_SECT`.
    pub const PMD_TYPE_SECT: u32 = PmdFlags::TYPE_SECT.bits();
    /// `DOMAIN_USER`.
    pub const DOMAIN_USER: u32 = 1;
    /// `_PAGE_USER_TABLE` = `PMD_TYPE_TABLE | PMD_BIT4 | PMD_DOMAIN(DOMAIN_USER)`.
    pub const PAGE_USER_TABLE: u32 =
        PmdFlags::TYPE_TABLE.bits() | PmdFlags::BIT4.bits() | (DOMAIN_USER << 5);
    /// `user_pgprot` after `build_mem_type_table` on ARMv7 SMP: write-allocate, shared.
    pub const USER_PGPROT: u32 = L_PTE_MT_WRITEALLOC | L_PTE_SHARED;
    /// `_L_PTE_DEFAULT`.
    pub const L_PTE_DEFAULT: u32 = L_PTE_PRESENT | L_PTE_YOUNG;
    /// `protection_map[VM_NONE]` = `__PAGE_NONE | user_pgprot`.
    pub const PAGE_NONE: u32 = L_PTE_DEFAULT | L_PTE_RDONLY | L_PTE_XN | L_PTE_NONE | USER_PGPROT;

    /// Returns whether the Linux pte is empty: the word is zero (`pte_none`).
    pub const fn pte_none(v: u32) -> bool {
        v == 0
    }
    /// Returns whether the Linux pte is present: `L_PTE_PRESENT` (bit 0) set (`pte_present`).
    pub const fn pte_present(v: u32) -> bool {
        v & L_PTE_PRESENT != 0
    }
    /// `pte_access_permitted` (arch/arm/include/asm/pgtable.h:192 in v6.12): PRESENT and
    /// USER, and RDONLY clear for a write.
    pub const fn pte_access_permitted(v: u32, write: bool) -> bool {
        let need = L_PTE_PRESENT | L_PTE_USER;
        let mask = if write { need | L_PTE_RDONLY } else { need };
        v & mask == need
    }
    /// Returns the pfn: bits 12–31 of the Linux pte (`pte_pfn`).
    pub const fn pte_pfn(v: u32) -> u32 {
        (v & PHYS_MASK) >> 12
    }
    /// `pfn_pte` (bits above 32 are dropped, as `__pfn_to_phys` in a 32-bit `phys_addr_t`).
    pub const fn pfn_pte(pfn: u64, prot: u32) -> u32 {
        ((pfn << 12) as u32) | prot
    }
    /// `pte_write`: RDONLY clear.
    pub const fn pte_write(v: u32) -> bool {
        v & L_PTE_RDONLY == 0
    }
    /// Returns the pte with writes forbidden: `L_PTE_RDONLY` set (`pte_wrprotect`).
    pub const fn pte_wrprotect(v: u32) -> u32 {
        v | L_PTE_RDONLY
    }
    /// Returns the pte with writes allowed: `L_PTE_RDONLY` cleared (`pte_mkwrite_novma`).
    pub const fn pte_mkwrite(v: u32) -> u32 {
        v & !L_PTE_RDONLY
    }
    /// Returns whether the pte is dirty: `L_PTE_DIRTY` set (`pte_dirty`).
    pub const fn pte_dirty(v: u32) -> bool {
        v & L_PTE_DIRTY != 0
    }
    /// Returns the pte with `L_PTE_DIRTY` set (`pte_mkdirty`).
    pub const fn pte_mkdirty(v: u32) -> u32 {
        v | L_PTE_DIRTY
    }
    /// Returns the pte with `L_PTE_DIRTY` cleared (`pte_mkclean`).
    pub const fn pte_mkclean(v: u32) -> u32 {
        v & !L_PTE_DIRTY
    }
    /// Returns whether the pte is young: `L_PTE_YOUNG` set (`pte_young`).
    pub const fn pte_young(v: u32) -> bool {
        v & L_PTE_YOUNG != 0
    }
    /// Returns the pte with `L_PTE_YOUNG` set (`pte_mkyoung`).
    pub const fn pte_mkyoung(v: u32) -> u32 {
        v | L_PTE_YOUNG
    }
    /// Returns the pte with `L_PTE_YOUNG` cleared (`pte_mkold`).
    pub const fn pte_mkold(v: u32) -> u32 {
        v & !L_PTE_YOUNG
    }
    /// Returns whether the first-level pmd word is empty: zero (`pmd_none`).
    pub const fn pmd_none(v: u32) -> bool {
        v == 0
    }
    /// `pmd_present`: any non-zero word.
    pub const fn pmd_present(v: u32) -> bool {
        v != 0
    }
    /// `pmd_leaf`: a section (`PMD_TYPE_SECT`).
    pub const fn pmd_leaf(v: u32) -> bool {
        v & PMD_TYPE_SECT != 0
    }
    /// `pmd_bad` = `pmd_leaf`.
    pub const fn pmd_bad(v: u32) -> bool {
        pmd_leaf(v)
    }
    /// `pmd_pfn` (and `pmd_page`): `__phys_to_pfn(v & PHYS_MASK)`; the +2048 and the table
    /// bits fall below the page.
    pub const fn pmd_pfn(v: u32) -> u32 {
        (v & PHYS_MASK) >> 12
    }
    /// `__pmd_populate(pmdp, phys, prot)`: the `pmdp[0]` word.
    pub const fn pmd_populate(phys: u32, prot: u32) -> u32 {
        phys.wrapping_add(PTE_HWTABLE_OFF) | prot
    }
}

/// The LPAE format (arch/arm/include/asm/pgtable-3level*.h), shared by v6.12 and v4.5.
pub mod lpae {
    use bitflags::bitflags;

    bitflags! {
        /// LPAE pte and section bits (`L_PTE_*`, `L_PMD_SECT_*`, `PMD_SECT_*`, `PTE_EXT_*`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct Flags: u64 {
            /// `L_PTE_VALID` / `L_PMD_SECT_VALID`.
            const VALID = 1 << 0;
            /// `PTE_TABLE_BIT` / `PMD_TABLE_BIT`: with VALID, `L_PTE_PRESENT` (a page) or a
            /// table pmd; clear in a section.
            const TABLE = 1 << 1;
            /// AttrIndx (`L_PTE_MT_MASK`; `L_PTE_MT_WRITEALLOC` = 0x1c).
            const ATTRINDX = 7 << 2;
            /// `L_PTE_USER` / `PMD_SECT_USER` (AP[1]).
            const USER = 1 << 6;
            /// `PTE_AP2` / `PMD_SECT_AP2` (hardware read-only; `L_PTE_SWP_EXCLUSIVE` in swap
            /// ptes).
            const AP2 = 1 << 7;
            /// `L_PTE_SHARED` / `PMD_SECT_S` (inner shareable).
            const SHARED = 3 << 8;
            /// `L_PTE_YOUNG` / `PMD_SECT_AF`.
            const YOUNG = 1 << 10;
            /// `PTE_EXT_NG` / `PMD_SECT_nG`.
            const NG = 1 << 11;
            /// `PTE_EXT_PXN` / `PMD_SECT_PXN`.
            const PXN = 1 << 53;
            /// `L_PTE_XN` / `PMD_SECT_XN`.
            const XN = 1 << 54;
            /// `L_PTE_DIRTY` / `L_PMD_SECT_DIRTY`.
            const DIRTY = 1 << 55;
            /// `L_PTE_SPECIAL`.
            const SPECIAL = 1 << 56;
            /// `L_PTE_NONE` / `L_PMD_SECT_NONE`: PROT_NONE.
            const NONE = 1 << 57;
            /// `L_PTE_RDONLY` / `L_PMD_SECT_RDONLY`.
            const RDONLY = 1 << 58;
        }
    }

    /// `L_PTE_VALID` = `L_PMD_SECT_VALID`.
    pub const L_PTE_VALID: u64 = Flags::VALID.bits();
    /// `L_PTE_PRESENT`: both low bits.
    pub const L_PTE_PRESENT: u64 = Flags::VALID.bits() | Flags::TABLE.bits();
    /// `PMD_TABLE_BIT`.
    pub const PMD_TABLE_BIT: u64 = Flags::TABLE.bits();
    /// `PMD_TYPE_MASK`.
    pub const PMD_TYPE_MASK: u64 = 3;
    /// `PMD_TYPE_TABLE`.
    pub const PMD_TYPE_TABLE: u64 = 3;
    /// `PMD_TYPE_SECT`.
    pub const PMD_TYPE_SECT: u64 = 1;
    /// `L_PTE_USER`.
    pub const L_PTE_USER: u64 = Flags::USER.bits();
    /// `PMD_SECT_AP2`.
    pub const PMD_SECT_AP2: u64 = Flags::AP2.bits();
    /// `L_PTE_SHARED`.
    pub const L_PTE_SHARED: u64 = Flags::SHARED.bits();
    /// `L_PTE_YOUNG`.
    pub const L_PTE_YOUNG: u64 = Flags::YOUNG.bits();
    /// `PMD_SECT_nG`.
    pub const PMD_SECT_NG: u64 = Flags::NG.bits();
    /// `PTE_EXT_PXN`.
    pub const PTE_EXT_PXN: u64 = Flags::PXN.bits();
    /// `L_PTE_XN`.
    pub const L_PTE_XN: u64 = Flags::XN.bits();
    /// `L_PTE_DIRTY`.
    pub const L_PTE_DIRTY: u64 = Flags::DIRTY.bits();
    /// `L_PTE_SPECIAL`.
    pub const L_PTE_SPECIAL: u64 = Flags::SPECIAL.bits();
    /// `L_PTE_NONE`.
    pub const L_PTE_NONE: u64 = Flags::NONE.bits();
    /// `L_PTE_RDONLY`.
    pub const L_PTE_RDONLY: u64 = Flags::RDONLY.bits();
    /// `L_PTE_MT_WRITEALLOC`.
    pub const L_PTE_MT_WRITEALLOC: u64 = 7 << 2;
    /// `PHYS_MASK_SHIFT`.
    pub const PHYS_MASK_SHIFT: u32 = 40;
    /// `PHYS_MASK`.
    pub const PHYS_MASK: u64 = (1 << PHYS_MASK_SHIFT) - 1;
    /// The pte pfn field: `PHYS_MASK & PAGE_MASK` (bits 12–39).
    pub const PTE_PFN_MASK: u64 = PHYS_MASK & !0xfff;
    /// `PMD_MASK` (sign-extended from `int`, as the header's arithmetic is).
    pub const PMD_MASK: u64 = !((1 << 21) - 1);
    /// `_PAGE_USER_TABLE` with LPAE (`PMD_BIT4` and `PMD_DOMAIN` are 0): `PMD_TYPE_TABLE`.
    pub const PAGE_USER_TABLE: u64 = PMD_TYPE_TABLE;
    /// `user_pgprot` after `build_mem_type_table` on ARMv7 SMP with LPAE.
    pub const USER_PGPROT: u64 = L_PTE_MT_WRITEALLOC | L_PTE_SHARED | PTE_EXT_PXN;
    /// `_L_PTE_DEFAULT`.
    pub const L_PTE_DEFAULT: u64 = L_PTE_PRESENT | L_PTE_YOUNG;
    /// `protection_map[VM_NONE]` = `__PAGE_NONE | user_pgprot`.
    pub const PAGE_NONE: u64 = L_PTE_DEFAULT | L_PTE_RDONLY | L_PTE_XN | L_PTE_NONE | USER_PGPROT;

    /// Returns whether the pte is empty: the word is zero (`pte_none`).
    pub const fn pte_none(v: u64) -> bool {
        v == 0
    }
    /// `pte_present`: either low bit (`L_PTE_PRESENT`), so a PROT_NONE pte whose VALID
    /// `cpu_v7_set_pte_ext` cleared stays present.
    pub const fn pte_present(v: u64) -> bool {
        v & L_PTE_PRESENT != 0
    }
    /// `pte_access_permitted` (arch/arm/include/asm/pgtable.h:192 in v6.12): both
    /// `L_PTE_PRESENT` bits (a PROT_NONE pte, whose VALID `cpu_v7_set_pte_ext` cleared,
    /// fails) and USER, and RDONLY clear for a write.
    pub const fn pte_access_permitted(v: u64, write: bool) -> bool {
        let need = L_PTE_PRESENT | L_PTE_USER;
        let mask = if write { need | L_PTE_RDONLY } else { need };
        v & mask == need
    }
    /// Returns whether the MMU sees the pte as valid: `L_PTE_VALID` (bit 0) set (`pte_valid`).
    pub const fn pte_valid(v: u64) -> bool {
        v & L_PTE_VALID != 0
    }
    /// Returns the pfn: bits 12–39 of the pte (`pte_pfn`).
    pub const fn pte_pfn(v: u64) -> u64 {
        (v & PHYS_MASK) >> 12
    }
    /// Returns the pte mapping `pfn`: `pfn` at bit 12, ORed with `prot` (`pfn_pte`).
    pub const fn pfn_pte(pfn: u64, prot: u64) -> u64 {
        (pfn << 12) | prot
    }
    /// `pte_write` / `pmd_write`: RDONLY clear.
    pub const fn pte_write(v: u64) -> bool {
        v & L_PTE_RDONLY == 0
    }
    /// Returns the pte with writes forbidden: `L_PTE_RDONLY` set (`pte_wrprotect`).
    pub const fn pte_wrprotect(v: u64) -> u64 {
        v | L_PTE_RDONLY
    }
    /// Returns the pte with writes allowed: `L_PTE_RDONLY` cleared (`pte_mkwrite_novma`).
    pub const fn pte_mkwrite(v: u64) -> u64 {
        v & !L_PTE_RDONLY
    }
    /// `pte_dirty` / `pmd_dirty`.
    pub const fn pte_dirty(v: u64) -> bool {
        v & L_PTE_DIRTY != 0
    }
    /// Returns the pte with `L_PTE_DIRTY` set (`pte_mkdirty`).
    pub const fn pte_mkdirty(v: u64) -> u64 {
        v | L_PTE_DIRTY
    }
    /// Returns the pte with `L_PTE_DIRTY` cleared (`pte_mkclean`).
    pub const fn pte_mkclean(v: u64) -> u64 {
        v & !L_PTE_DIRTY
    }
    /// Returns whether the pte is young: `L_PTE_YOUNG` set (`pte_young`).
    pub const fn pte_young(v: u64) -> bool {
        v & L_PTE_YOUNG != 0
    }
    /// Returns the pte with `L_PTE_YOUNG` set (`pte_mkyoung`).
    pub const fn pte_mkyoung(v: u64) -> u64 {
        v | L_PTE_YOUNG
    }
    /// Returns the pte with `L_PTE_YOUNG` cleared (`pte_mkold`).
    pub const fn pte_mkold(v: u64) -> u64 {
        v & !L_PTE_YOUNG
    }
    /// Returns whether the pte is special: `L_PTE_SPECIAL` set (`pte_special`).
    pub const fn pte_special(v: u64) -> bool {
        v & L_PTE_SPECIAL != 0
    }
    /// Returns the pte with `L_PTE_SPECIAL` set (`pte_mkspecial`).
    pub const fn pte_mkspecial(v: u64) -> u64 {
        v | L_PTE_SPECIAL
    }
    /// `pmd_none` (common pgtable.h).
    pub const fn pmd_none(v: u64) -> bool {
        v == 0
    }
    /// Returns whether the pmd points to a pte table: type bits 0–1 both set (`pmd_table`).
    pub const fn pmd_table(v: u64) -> bool {
        v & PMD_TYPE_MASK == PMD_TYPE_TABLE
    }
    /// Returns whether the pmd is a section: type bits 0–1 are 0b01 (`pmd_sect`).
    pub const fn pmd_sect(v: u64) -> bool {
        v & PMD_TYPE_MASK == PMD_TYPE_SECT
    }
    /// `pmd_leaf` = `pmd_sect` (`pmd_large` before v6.9): false once VALID is clear.
    pub const fn pmd_leaf(v: u64) -> bool {
        pmd_sect(v)
    }
    /// `pmd_bad`: `PMD_TABLE_BIT` clear.
    pub const fn pmd_bad(v: u64) -> bool {
        v & PMD_TABLE_BIT == 0
    }
    /// `pmd_trans_huge`: non-zero and not a table (the same in v4.5 and v6.12).
    pub const fn pmd_trans_huge(v: u64) -> bool {
        v != 0 && !pmd_table(v)
    }
    /// Returns whether the MMU uses the pmd: `L_PMD_SECT_VALID` (bit 0). `set_pmd_at` clears
    /// it for PROT_NONE, `pmd_mkinvalid` for a split.
    pub const fn pmd_hw_valid(v: u64) -> bool {
        v & L_PTE_VALID != 0
    }
    /// `pmd_present` as in v6.12 (since "ARM: 8578/1"): the VALID bit only.
    pub const fn pmd_present(v: u64) -> bool {
        v & L_PTE_VALID != 0
    }
    /// `pmd_mkinvalid` as in v6.12 (since "ARM: 8579/1"): clear VALID, keep the rest.
    pub const fn pmd_mkinvalid(v: u64) -> u64 {
        v & !L_PTE_VALID
    }
    /// v6.12's generic `pmdp_invalidate` (mm/pgtable-generic.c:198): `pmdp_establish` of
    /// `pmd_mkinvalid(*pmdp)`, and the generic `pmdp_establish` is `set_pmd_at`, so LPAE's
    /// rewrite applies to the invalid word too (it changes nothing there: VALID is already
    /// clear, AP2 follows the same write and dirty bits, nG is already set).
    pub const fn pmdp_invalidate(v: u64) -> u64 {
        set_pmd_at(pmd_mkinvalid(v))
    }
    /// `pmd_mkhuge`: clear `PMD_TABLE_BIT`.
    pub const fn pmd_mkhuge(v: u64) -> u64 {
        v & !PMD_TABLE_BIT
    }
    /// `pmd_pfn` of a section: `((v & PMD_MASK) & PHYS_MASK) >> PAGE_SHIFT`.
    pub const fn pmd_pfn(v: u64) -> u64 {
        (v & PMD_MASK & PHYS_MASK) >> 12
    }
    /// `pmd_page` of a table pmd, as a pfn: `__phys_to_pfn(v & PHYS_MASK)`.
    pub const fn pmd_page_pfn(v: u64) -> u64 {
        (v & PHYS_MASK) >> 12
    }
    /// Returns the section pmd mapping `pfn`: `pfn` at bit 12, ORed with `prot` (`pfn_pmd`).
    pub const fn pfn_pmd(pfn: u64, prot: u64) -> u64 {
        (pfn << 12) | prot
    }
    /// The word `set_pmd_at` stores for `v`: VALID cleared for PROT_NONE ("create a faulting
    /// entry"), AP2 set unless writable and dirty, nG ORed in. Identical in v4.5 and v6.12.
    pub const fn set_pmd_at(v: u64) -> u64 {
        let v = if v & L_PTE_NONE != 0 {
            v & !L_PTE_VALID
        } else {
            v
        };
        let v = if pte_write(v) && pte_dirty(v) {
            v & !PMD_SECT_AP2
        } else {
            v | PMD_SECT_AP2
        };
        v | PMD_SECT_NG
    }
}

/// LPAE with the proposed fix (kernel-patches/0001).
pub mod lpae_patched {
    use super::lpae::{L_PTE_NONE, L_PTE_RDONLY, L_PTE_USER, L_PTE_VALID};
    /// Returns whether the pmd is present: `L_PMD_SECT_VALID` or `L_PMD_SECT_NONE` set
    /// (`pmd_present` with the patch; bit 57 is the same bit as `L_PTE_NONE`).
    pub const fn pmd_present(v: u64) -> bool {
        v & (L_PTE_VALID | L_PTE_NONE) != 0
    }
    /// `pmd_access_permitted` with the patch: `L_PMD_SECT_VALID` and `PMD_SECT_USER`, and
    /// `L_PMD_SECT_RDONLY` clear for a write (the patch's definition; stock v6.12 uses the
    /// generic `pmd_present && (!write || pmd_write)`, which would now admit PROT_NONE).
    pub const fn pmd_access_permitted(v: u64, write: bool) -> bool {
        let need = L_PTE_VALID | L_PTE_USER;
        let mask = if write { need | L_PTE_RDONLY } else { need };
        v & mask == need
    }
}

/// What LPAE was in v4.5 (pgtable-3level.h at 05fd934ba585, pgtable.h of that era).
pub mod lpae_v4_5 {
    /// `pmd_present` before "ARM: 8578/1": any non-zero word (common pgtable.h).
    pub const fn pmd_present(v: u64) -> bool {
        v != 0
    }
    /// `pmd_mknotpresent` before "ARM: 8579/1": "represent a notpresent pmd by zero".
    pub const fn pmd_mknotpresent(v: u64) -> u64 {
        let _ = v;
        0
    }
    /// What v4.5's generic `pmdp_invalidate` stored: `set_pmd_at(pmd_mknotpresent(*pmdp))`
    /// (mm/pgtable-generic.c before v4.16), i.e. AP2 | nG = 0x880.
    pub const fn pmdp_invalidate_stored(v: u64) -> u64 {
        super::lpae::set_pmd_at(pmd_mknotpresent(v))
    }
}

impl Arch for ArmClassic {
    type Word = u32;
    const ID: ArchId = ArchId::ArmClassic;
    const GEOMETRY: Geometry = Geometry {
        page_shift: 12,
        pmd_shift: 21,
        ptrs_per_pte: 512,
        levels: 2,
        pfn_bits: 32 - 12,
        has_thp: false,
        big_endian: false,
        swap_type_bits: swap::SWP_TYPE_BITS,
        swap_offset_bits: swap::SWP_OFFSET_BITS,
    };
}

/// Private-mapping pgprots (`protection_map`, arch/arm/mm/mmu.c): `__PAGE_NONE`,
/// `__PAGE_READONLY(_EXEC)` and the writable form a write fault makes (`__PAGE_SHARED(_EXEC)`
/// bits), each with `user_pgprot`. `rdonly`, `xn`, `user`, `none` are the format's bits.
const fn arm_pgprot(
    p: Protection,
    default: u64,
    user: u64,
    rdonly: u64,
    xn: u64,
    none: u64,
) -> u64 {
    match p {
        Protection::None => default | rdonly | xn | none,
        Protection::Read => default | user | rdonly | xn,
        Protection::ReadWrite => default | user | xn,
        Protection::ReadExec => default | user | rdonly,
        Protection::ReadWriteExec => default | user,
    }
}

const fn classic_pgprot(p: Protection) -> u32 {
    use classic::*;
    arm_pgprot(
        p,
        (L_PTE_DEFAULT | USER_PGPROT) as u64,
        L_PTE_USER as u64,
        L_PTE_RDONLY as u64,
        L_PTE_XN as u64,
        L_PTE_NONE as u64,
    ) as u32
}

const fn lpae_pgprot(p: Protection) -> u64 {
    use lpae::*;
    arm_pgprot(
        p,
        L_PTE_DEFAULT | USER_PGPROT,
        L_PTE_USER,
        L_PTE_RDONLY,
        L_PTE_XN,
        L_PTE_NONE,
    )
}

impl PteOps for ArmClassic {
    const PTE_FLAG_BITS: u64 = classic::Flags::all().bits() as u64;
    const PTE_PFN_BITS: u64 = classic::PTE_PFN_MASK as u64;

    fn pte_access_permitted(pte: Pte<Self>, write: bool) -> bool {
        classic::pte_access_permitted(pte.raw(), write)
    }

    fn pte_empty(_addr: u64) -> Pte<Self> {
        Pte::from_raw(0)
    }
    forward_pte! {
        in classic;
        test: pte_none, pte_present, pte_write, pte_dirty, pte_young;
        u64: pte_pfn;
        map: pte_mkwrite, pte_wrprotect, pte_mkdirty, pte_mkclean, pte_mkyoung, pte_mkold;
    }
    fn pfn_pte_unchecked(pfn: u64, prot: PgProt<Self>) -> Pte<Self> {
        Pte::from_raw(classic::pfn_pte(pfn, prot.raw()))
    }
    fn pte_pgprot(prot: Protection) -> PgProt<Self> {
        PgProt::from_raw(classic_pgprot(prot))
    }
    fn swp_entry_to_pte(entry: SwpEntry) -> Pte<Self> {
        Pte::from_raw(swap::swp_entry(entry.ty(), entry.offset()))
    }
    fn pte_to_swp_entry(pte: Pte<Self>) -> SwpEntry {
        let val = pte.raw();
        SwpEntry::from_parts_unchecked(swap::swp_type(val), u64::from(swap::swp_offset(val)))
    }
    fn fmt_pte_flags(raw: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The mask keeps the low 12 bits only, so the narrowing loses nothing.
        let flags = (raw & !u64::from(classic::PTE_PFN_MASK) & 0xfff) as u32;
        write_flags(classic::Flags::from_bits_retain(flags), f)
    }
}

impl PmdOps for ArmClassic {
    fn pmd_empty() -> Pmd<Self> {
        Pmd::from_raw(0)
    }
    forward_pmd! {
        in classic;
        test: pmd_none, pmd_present, pmd_bad, pmd_leaf;
        u64: pmd_pfn;
    }
    /// `pmd_populate`: `pmdp[0]` = the pte page + `PTE_HWTABLE_OFF` (its first hardware
    /// table) | `_PAGE_USER_TABLE`. On ARMv7 CPUs with PXN (`ID_MMFR0.VMSA >= 4`) Linux also
    /// ORs in `PMD_PXNTABLE` (`user_pmd_table`); the baseline value is modelled.
    fn pmd_populate_unchecked(table_pfn: u64) -> Pmd<Self> {
        let phys = (table_pfn << 12) as u32;
        Pmd::from_raw(classic::pmd_populate(phys, classic::PAGE_USER_TABLE))
    }
    fn fmt_pmd_flags(raw: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flags = (raw & 0x3ff) as u32;
        write_flags(classic::PmdFlags::from_bits_retain(flags), f)
    }
}

static_assertions::assert_eq_size!(u32, Pte<ArmClassic>, Pmd<ArmClassic>);

/// Why a PROT_NONE THP on LPAE is neither `pmd_present` nor `pmd_leaf`.
const PROT_NONE_HUGE_NOTE: &str = "arch/arm/include/asm/pgtable-3level.h: set_pmd_at clears \
     L_PMD_SECT_VALID when L_PMD_SECT_NONE is set ('create a faulting entry if PROT_NONE \
     protected'), so a PROT_NONE huge pmd fails pmd_leaf (pmd_sect) and, since 2016, \
     pmd_present (a VALID test); generic code then sees is_swap_pmd";

/// LPAE v6.12's documented departures from the laws.
const LPAE_DEVIATIONS: &[Deviation] = &[
    Deviation {
        law: LawId::HugePmd,
        note: PROT_NONE_HUGE_NOTE,
    },
    Deviation {
        law: LawId::InvalidatePresent,
        note: "arch/arm/include/asm/pgtable-3level.h: pmd_mkinvalid clears L_PMD_SECT_VALID \
               and pmd_present tests only that bit (ARM: 8578/1, 8579/1, 2016), so an \
               invalidated THP is !pmd_present while pmd_trans_huge stays true; 32-bit ARM \
               does not select ARCH_HAS_DEBUG_VM_PGTABLE, so mm/debug_vm_pgtable.c never \
               checks it",
    },
    Deviation {
        law: LawId::InvalidateLeaf,
        note: "arch/arm/include/asm/pgtable-3level.h:121,218 (v6.12): pmd_leaf is pmd_sect, \
               which needs L_PMD_SECT_VALID, and pmd_mkinvalid clears that bit, so an \
               invalidated THP is not pmd_leaf; mm/debug_vm_pgtable.c:964 would warn, but \
               32-bit ARM does not select ARCH_HAS_DEBUG_VM_PGTABLE",
    },
];

/// The patched backend's departures: a PROT_NONE huge pmd is present now but still no
/// section (`pmd_leaf`), and an invalidated THP that is not PROT_NONE is still not present.
const LPAE_PATCHED_DEVIATIONS: &[Deviation] = &[
    Deviation {
        law: LawId::HugePmd,
        note: "arch/arm/include/asm/pgtable-3level.h with kernel-patches/0001: set_pmd_at \
               clears L_PMD_SECT_VALID when L_PMD_SECT_NONE is set, so a PROT_NONE huge pmd \
               is pmd_present (the patch) but not pmd_leaf (pmd_sect)",
    },
    LPAE_DEVIATIONS[1],
    LPAE_DEVIATIONS[2],
];

/// LPAE v4.5's documented departures. The four invalidate laws it breaks are not listed:
/// that breakage is the point of the backend and is reported as violations.
const LPAE_V4_5_DEVIATIONS: &[Deviation] = &[Deviation {
    law: LawId::HugePmd,
    note: "arch/arm/include/asm/pgtable-3level.h (v4.5, 05fd934ba585): set_pmd_at clears \
           L_PMD_SECT_VALID when L_PMD_SECT_NONE is set, so a PROT_NONE huge pmd fails \
           pmd_large/pmd_leaf (pmd_sect); pmd_present (v != 0) still holds",
}];

/// The LPAE backends: everything but `pmd_present` and `pmd_mkinvalid` is shared.
macro_rules! lpae_backend {
    (
        $ty:ident,
        id: $id:expr,
        pmd_present: $present:path,
        pmd_mkinvalid: $mkinvalid:path,
        pmdp_invalidate: $invalidate:path,
        pmd_access_permitted: $access:expr,
        deviations: $deviations:expr $(,)?
    ) => {
        impl Arch for $ty {
            type Word = u64;
            const ID: ArchId = $id;
            const GEOMETRY: Geometry = Geometry {
                page_shift: 12,
                pmd_shift: 21,
                ptrs_per_pte: 512,
                levels: 3,
                pfn_bits: lpae::PHYS_MASK_SHIFT - 12,
                has_thp: true,
                big_endian: false,
                swap_type_bits: swap::SWP_TYPE_BITS,
                swap_offset_bits: swap::SWP_OFFSET_BITS,
            };
        }

        impl PteOps for $ty {
            const PTE_FLAG_BITS: u64 = lpae::Flags::all().bits();
            const PTE_PFN_BITS: u64 = lpae::PTE_PFN_MASK;

            fn pte_access_permitted(pte: Pte<Self>, write: bool) -> bool {
                lpae::pte_access_permitted(pte.raw(), write)
            }

            fn pte_empty(_addr: u64) -> Pte<Self> {
                Pte::from_raw(0)
            }
            forward_pte! {
                in lpae;
                test: pte_none, pte_present, pte_write, pte_dirty, pte_young, pte_special;
                u64: pte_pfn;
                map: pte_mkwrite, pte_wrprotect, pte_mkdirty, pte_mkclean, pte_mkyoung, pte_mkold;
                try_map: pte_mkspecial;
            }
            fn pfn_pte_unchecked(pfn: u64, prot: PgProt<Self>) -> Pte<Self> {
                Pte::from_raw(lpae::pfn_pte(pfn, prot.raw()))
            }
            fn pte_pgprot(prot: Protection) -> PgProt<Self> {
                PgProt::from_raw(lpae_pgprot(prot))
            }
            fn swp_entry_to_pte(entry: SwpEntry) -> Pte<Self> {
                // `__swp_entry_to_pte`: the 32-bit entry value, zero-extended.
                Pte::from_raw(u64::from(swap::swp_entry(entry.ty(), entry.offset())))
            }
            fn pte_to_swp_entry(pte: Pte<Self>) -> SwpEntry {
                // `__pte_to_swp_entry` keeps the low 32 bits (`unsigned long`).
                let val = (pte.raw() & u64::from(u32::MAX)) as u32;
                SwpEntry::from_parts_unchecked(
                    swap::swp_type(val),
                    u64::from(swap::swp_offset(val)),
                )
            }
            fn fmt_pte_flags(raw: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_flags(lpae::Flags::from_bits_retain(raw & !lpae::PTE_PFN_MASK), f)
            }
        }

        impl PmdOps for $ty {
            const LAW_DEVIATIONS: &'static [Deviation] = $deviations;

            fn pmd_empty() -> Pmd<Self> {
                Pmd::from_raw(0)
            }
            forward_pmd! {
                in lpae;
                test: pmd_none, pmd_bad, pmd_leaf, pmd_trans_huge, pmd_hw_valid;
                try_map: pmd_mkhuge;
            }
            /// 32-bit ARM has no NUMA balancing, hence no `pmd_protnone`: a PROT_NONE huge
            /// pmd is told by `L_PMD_SECT_NONE` (bit 57) instead.
            fn pmd_prot_none(pmd: Pmd<Self>) -> bool {
                lpae::pmd_trans_huge(pmd.raw()) && pmd.raw() & lpae::L_PTE_NONE != 0
            }
            fn pmd_present(pmd: Pmd<Self>) -> bool {
                $present(pmd.raw())
            }
            fn pmd_access_permitted(pmd: Pmd<Self>, write: bool) -> bool {
                match $access {
                    Some(permitted) => permitted(pmd.raw(), write),
                    None => Self::pmd_present(pmd) && (!write || Self::pmd_write(pmd)),
                }
            }
            /// `pmd_populate`: the pte page | `_PAGE_USER_TABLE` (no hardware-table offset).
            fn pmd_populate_unchecked(table_pfn: u64) -> Pmd<Self> {
                Pmd::from_raw((table_pfn << 12) | lpae::PAGE_USER_TABLE)
            }
            fn pmd_pfn(pmd: Pmd<Self>) -> u64 {
                let v = pmd.raw();
                if lpae::pmd_table(v) {
                    lpae::pmd_page_pfn(v)
                } else {
                    lpae::pmd_pfn(v)
                }
            }
            fn fmt_pmd_flags(raw: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let addr = if lpae::pmd_table(raw) {
                    lpae::PTE_PFN_MASK
                } else {
                    lpae::PMD_MASK & lpae::PHYS_MASK
                };
                write_flags(lpae::Flags::from_bits_retain(raw & !addr), f)
            }
            /// `mk_huge_pmd` (`pfn_pmd` with the vma's pgprot, then `pmd_mkhuge`), then what
            /// `set_pmd_at` rewrites: VALID cleared for PROT_NONE, AP2 unless writable and
            /// dirty, nG.
            fn mk_huge_pmd_unchecked(pfn: u64, prot: Protection) -> Result<Pmd<Self>, Error> {
                let v = lpae::pmd_mkhuge(lpae::pfn_pmd(pfn, lpae_pgprot(prot)));
                Ok(Pmd::from_raw(lpae::set_pmd_at(v)))
            }
            fn pmd_mkinvalid(pmd: Pmd<Self>) -> Result<Pmd<Self>, Error> {
                Ok(Pmd::from_raw($mkinvalid(pmd.raw())))
            }
            fn set_pmd_at(pmd: Pmd<Self>) -> Pmd<Self> {
                Pmd::from_raw(lpae::set_pmd_at(pmd.raw()))
            }
            fn pmdp_invalidate(pmd: Pmd<Self>) -> Result<Pmd<Self>, Error> {
                Ok(Pmd::from_raw($invalidate(pmd.raw())))
            }
        }

        static_assertions::assert_eq_size!(u64, Pte<$ty>, Pmd<$ty>);
    };
}

lpae_backend!(
    ArmLpae,
    id: ArchId::ArmLpae,
    pmd_present: lpae::pmd_present,
    pmd_mkinvalid: lpae::pmd_mkinvalid,
    pmdp_invalidate: lpae::pmdp_invalidate,
    pmd_access_permitted: None::<fn(u64, bool) -> bool>,
    deviations: LPAE_DEVIATIONS,
);

lpae_backend!(
    ArmLpaePatched,
    id: ArchId::ArmLpaePatched,
    pmd_present: lpae_patched::pmd_present,
    pmd_mkinvalid: lpae::pmd_mkinvalid,
    pmdp_invalidate: lpae::pmdp_invalidate,
    pmd_access_permitted: Some(lpae_patched::pmd_access_permitted as fn(u64, bool) -> bool),
    deviations: LPAE_PATCHED_DEVIATIONS,
);

// In v4.5 the generic `pmdp_invalidate` was `set_pmd_at(pmd_mknotpresent(*pmdp))`. This backend
// stores the helper's value, 0, as the 2016 fix ("ARM: 8579/1") describes the race;
// `ArmLpaeV4_5Stored` stores what `set_pmd_at` made of it (0x880).
lpae_backend!(
    ArmLpaeV4_5,
    id: ArchId::ArmLpaeV4_5,
    pmd_present: lpae_v4_5::pmd_present,
    pmd_mkinvalid: lpae_v4_5::pmd_mknotpresent,
    pmdp_invalidate: lpae_v4_5::pmd_mknotpresent,
    pmd_access_permitted: None::<fn(u64, bool) -> bool>,
    deviations: LPAE_V4_5_DEVIATIONS,
);

lpae_backend!(
    ArmLpaeV4_5Stored,
    id: ArchId::ArmLpaeV4_5Stored,
    pmd_present: lpae_v4_5::pmd_present,
    pmd_mkinvalid: lpae_v4_5::pmd_mknotpresent,
    pmdp_invalidate: lpae_v4_5::pmdp_invalidate_stored,
    pmd_access_permitted: None::<fn(u64, bool) -> bool>,
    deviations: LPAE_V4_5_DEVIATIONS,
);

#[cfg(test)]
mod tests {
    use super::*;

    // v4.5 as stored: set_pmd_at ORs AP2 | nG into pmd_mknotpresent's zero. The word is not
    // none, reads as a present huge pmd, and maps pfn 0 instead of the THP.
    #[test]
    fn v4_5_stored_invalidate_is_a_present_huge_pmd_of_pfn_0() {
        let huge = ArmLpaeV4_5Stored::mk_huge_pmd(0x200, Protection::ReadWrite).unwrap();
        assert_eq!(ArmLpaeV4_5Stored::pmd_mkinvalid(huge).unwrap().raw(), 0);
        let inv = ArmLpaeV4_5Stored::pmdp_invalidate(huge).unwrap();
        assert_eq!(inv.raw(), 0x880);
        assert!(!inv.none() && inv.present() && inv.trans_huge());
        assert_eq!(inv.pfn(), 0);
        assert_eq!(
            ArmLpaeV4_5Stored::pmdp_invalidate(inv),
            Ok(inv),
            "idempotent"
        );
    }

    // Classic: PAGE_NONE = __PAGE_NONE | L_PTE_MT_WRITEALLOC | L_PTE_SHARED (mmu.c).
    #[test]
    fn classic_page_none_is_0xe9f_present_and_read_only() {
        assert_eq!(ArmClassic::pte_pgprot(Protection::None).raw(), 0xe9f);
        assert_eq!(ArmClassic::pte_pgprot(Protection::ReadWrite).raw(), 0x71f);
        let pte = ArmClassic::pfn_pte(0x12345, ArmClassic::pte_pgprot(Protection::None)).unwrap();
        assert_eq!(pte.raw(), 0x1234_5e9f);
        assert!(pte.present() && !ArmClassic::pte_write(pte) && !ArmClassic::pte_protnone(pte));
        assert_eq!(pte.pfn(), 0x12345);
    }

    // Classic: pmdp[0] = phys(pte page) + 2048 | _PAGE_USER_TABLE (0x31), pgalloc.h.
    #[test]
    fn classic_table_pmd_points_at_the_hardware_half_of_the_pte_page() {
        let pmd = ArmClassic::pmd_populate(0x12345).unwrap();
        assert_eq!(pmd.raw(), 0x1234_5831);
        assert_eq!(pmd.pfn(), 0x12345);
        assert!(pmd.present() && !ArmClassic::pmd_bad(pmd) && !ArmClassic::pmd_leaf(pmd));
        let largest = ArmClassic::pmd_populate(0xf_ffff).unwrap();
        assert_eq!(largest.raw(), 0xffff_f831);
        assert!(ArmClassic::pmd_populate(0x10_0000).is_err());
    }

    // Classic: a section word (PMD_TYPE_SECT) is pmd_bad and pmd_leaf; no THP.
    #[test]
    fn classic_section_is_bad_and_there_is_no_thp() {
        let sect = Pmd::<ArmClassic>::from_raw(0x4000_0c0e);
        assert!(ArmClassic::pmd_bad(sect) && ArmClassic::pmd_leaf(sect) && !sect.trans_huge());
        assert_eq!(
            ArmClassic::mk_huge_pmd(0x200, Protection::ReadWrite),
            Err(Error::NoTransparentHugepage {
                arch: ArchId::ArmClassic
            })
        );
    }

    // Classic: no ARCH_HAS_PTE_SPECIAL.
    #[test]
    fn classic_has_no_special_bit() {
        let pte = Pte::<ArmClassic>::from_raw(0x1234_571f);
        assert!(matches!(
            ArmClassic::pte_mkspecial(pte),
            Err(Error::Unsupported { .. })
        ));
        assert!(!ArmClassic::pte_special(pte));
    }

    // Swap (common pgtable.h): type << 2 | offset << 8, bit 7 is the exclusive marker.
    #[test]
    fn swap_entry_is_type_at_bit_2_and_offset_at_bit_8() {
        let e = SwpEntry::new::<ArmClassic>(3, 0x10).unwrap();
        let pte = ArmClassic::swp_entry_to_pte(e);
        assert_eq!(pte.raw(), 0x100c);
        assert!(pte.is_swap());
        assert_eq!(ArmClassic::pte_to_swp_entry(pte), e);
        let lpae = ArmLpae::swp_entry_to_pte(SwpEntry::new::<ArmLpae>(31, 0xff_ffff).unwrap());
        assert_eq!(lpae.raw(), 0xffff_ff7c);
        assert!(lpae.is_swap());
        assert!(SwpEntry::new::<ArmLpae>(0, 1 << 24).is_err());
    }

    // LPAE: PAGE_NONE = __PAGE_NONE | WRITEALLOC | SHARED | PXN; pte_present tests bits 0-1.
    #[test]
    fn lpae_page_none_and_pfn_of_a_raw_pte() {
        assert_eq!(
            ArmLpae::pte_pgprot(Protection::None).raw(),
            0x0660_0000_0000_071f
        );
        assert_eq!(
            ArmLpae::pte_pgprot(Protection::Read).raw(),
            0x0460_0000_0000_075f
        );
        // cpu_v7_set_pte_ext clears VALID for L_PTE_NONE: still present via bit 1.
        let stored = Pte::<ArmLpae>::from_raw(0x0660_00ff_ffff_f71e);
        assert!(stored.present() && !lpae::pte_valid(stored.raw()));
        assert_eq!(stored.pfn(), 0xfff_ffff);
        assert!(ArmLpae::pfn_pte(1 << 28, ArmLpae::pte_pgprot(Protection::Read)).is_err());
    }

    // LPAE v6.12: pmd_mkinvalid clears bit 0 only: ..701 -> ..700, trans_huge but !present.
    // pmdp_invalidate stores it through set_pmd_at (mm/pgtable-generic.c:198, the generic
    // pmdp_establish), which adds AP2 (not writable-and-dirty) and nG: ..f80.
    #[test]
    fn lpae_invalidated_section_is_trans_huge_but_not_present() {
        let sect = Pmd::<ArmLpae>::from_raw(0x4020_0701);
        assert!(sect.present() && sect.trans_huge() && ArmLpae::pmd_leaf(sect));
        assert_eq!(ArmLpae::pmd_mkinvalid(sect).unwrap().raw(), 0x4020_0700);
        let inv = ArmLpae::pmdp_invalidate(sect).unwrap();
        assert_eq!(inv.raw(), 0x4020_0f80);
        assert!(!inv.none() && inv.trans_huge() && !inv.present());
        assert_eq!(inv.pfn(), 0x40200);
        assert_eq!(ArmLpae::pmdp_invalidate(inv), Ok(inv));
    }

    // LPAE: mk_huge_pmd then set_pmd_at: AP2 (clean) and nG are ORed in, bit 1 cleared.
    #[test]
    fn lpae_huge_pmd_carries_what_set_pmd_at_adds() {
        let huge = ArmLpae::mk_huge_pmd(0x200, Protection::ReadWrite).unwrap();
        assert_eq!(huge.raw(), 0x0060_0000_0020_0fdd);
        assert!(huge.present() && huge.trans_huge() && ArmLpae::pmd_leaf(huge));
        // Writable and dirty: AP2 stays clear.
        assert_eq!(
            lpae::set_pmd_at(0x00e0_0000_0020_075d),
            0x00e0_0000_0020_0f5d
        );
    }

    // LPAE: set_pmd_at clears VALID for a PROT_NONE huge pmd: not present, not a leaf.
    #[test]
    fn lpae_prot_none_huge_pmd_is_a_faulting_entry() {
        let huge = ArmLpae::mk_huge_pmd(0x200, Protection::None).unwrap();
        assert_eq!(huge.raw(), 0x0660_0000_0020_0f9c);
        assert!(!huge.present() && huge.trans_huge() && !ArmLpae::pmd_leaf(huge));
        let old = Pmd::<ArmLpaeV4_5>::from_raw(huge.raw());
        assert!(old.present() && old.trans_huge() && !ArmLpaeV4_5::pmd_leaf(old));
    }

    // LPAE: a table pmd is phys | PMD_TYPE_TABLE; pmd_page reads it whole.
    #[test]
    fn lpae_table_pmd_is_phys_or_3() {
        let pmd = ArmLpae::pmd_populate(0x12345).unwrap();
        assert_eq!(pmd.raw(), 0x1234_5003);
        assert_eq!(pmd.pfn(), 0x12345);
        assert!(pmd.present() && !ArmLpae::pmd_bad(pmd) && !pmd.trans_huge());
    }

    // v4.5: pmd_mknotpresent returned 0, which is pmd_none and not trans_huge.
    #[test]
    fn v4_5_invalidated_section_is_zero_and_none() {
        let sect = Pmd::<ArmLpaeV4_5>::from_raw(0x4020_0701);
        assert!(sect.present() && sect.trans_huge());
        let inv = ArmLpaeV4_5::pmdp_invalidate(sect).unwrap();
        assert_eq!(inv.raw(), 0);
        assert!(inv.none() && !inv.trans_huge() && !inv.present());
        assert_eq!(inv.pfn(), 0);
        // Before 8578/1, pmd_present was "non-zero": a VALID-clear word was present.
        assert!(Pmd::<ArmLpaeV4_5>::from_raw(0x4020_0700).present());
        // What v4.5's set_pmd_at would have ORed into the zero: AP2 | nG.
        assert_eq!(
            lpae::set_pmd_at(lpae_v4_5::pmd_mknotpresent(0x4020_0701)),
            0x880
        );
    }

    // v4.5 shares every other LPAE helper.
    #[test]
    fn v4_5_shares_the_lpae_encoding() {
        let a = ArmLpae::mk_huge_pmd(0x400, Protection::ReadExec).unwrap();
        let b = ArmLpaeV4_5::mk_huge_pmd(0x400, Protection::ReadExec).unwrap();
        assert_eq!(a.raw(), b.raw());
        assert_eq!(ArmLpaeV4_5::GEOMETRY, ArmLpae::GEOMETRY);
    }
}
