//! powerpc book3s64 (POWER), radix and hash MMUs with 64 KiB pages, as Linux v6.12 encodes it.
//!
//! Follows arch/powerpc/include/asm/book3s/64/{pgtable.h, radix.h, radix-64k.h, hash.h,
//! hash-64k.h, pgalloc.h}, arch/powerpc/include/asm/{pgtable.h, pgtable-masks.h},
//! arch/powerpc/mm/{pgtable.c, book3s64/pgtable.c, book3s64/hash_pgtable.c,
//! book3s64/radix_pgtable.c}. Configuration modelled: what Debian and RHEL ship for ppc64le —
//! `CONFIG_PPC_64K_PAGES=y` (the Kconfig default for book3s64), `CONFIG_PGTABLE_LEVELS=4`,
//! THP, `CONFIG_MEM_SOFT_DIRTY=y`, `CONFIG_NUMA_BALANCING=y`, no memory keys in the pgprot.
//! The kernel picks the MMU at boot (`radix_enabled()`): POWER9 and later boot radix, POWER8
//! (or `disable_radix`) boots hash. The two backends share one Linux pte format and one
//! implementation, [`Book3s64`], whose `HASH` parameter plays `radix_enabled()`'s part.
//! Points worth knowing:
//! - **Entries are big-endian** in memory (`__be64`, helpers test `cpu_to_be64(mask)`); the
//!   raw word here is the CPU-order value, so `_PAGE_PRESENT` is bit 63 of the word.
//! - `_PAGE_PTE` (bit 62) tells a leaf from a table pointer; `pfn_pte` always sets it.
//! - `pte_none` differs: radix ignores DIRTY/ACCESSED (an empty pte can still take a
//!   reference/change writeback), hash ignores `_PAGE_HPTEFLAGS` (BUSY | HASHPTE | COMBO).
//! - THP size differs: 2 MiB on radix (`RADIX_PTE_INDEX_SIZE` 5: 32 ptes of 64 KiB), 16 MiB on
//!   hash (`H_PTE_INDEX_SIZE` 8: 256 ptes). Hash marks a THP with `H_PAGE_THP_HUGE` as well.
//! - Both define their own `pmdp_invalidate` (`__HAVE_ARCH_PMDP_INVALIDATE`): it clears
//!   `_PAGE_PRESENT` and sets `_PAGE_INVALID` (software bit 0, bit 61), which `pmd_present`
//!   also accepts, so the pmd stays present and trans_huge mid-split. There is no
//!   `pmd_mkinvalid` on book3s64.
//! - The pfn field is `PTE_RPN_MASK`: bits 16–52 (`_PAGE_PA_MAX` 53), 37 bits of pfn, wider
//!   than `MAX_PHYSMEM_BITS` (51), which limits memory, not the encoding.

use core::fmt;

use bitflags::bitflags;

use crate::arch_id::{Arch, ArchId, Geometry};
use crate::decode::write_flags;
use crate::entry::{PgProt, Pmd, PmdOps, Protection, Pte, PteOps, SwpEntry};
use crate::error::Error;

/// book3s64 with 64 KiB pages: `HASH = false` is the radix MMU, `HASH = true` the hash MMU.
/// The entry format is shared; the helpers that Linux dispatches on `radix_enabled()` follow
/// the parameter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Book3s64<const HASH: bool>;

/// book3s64 with the radix MMU (POWER9 and later), 64 KiB pages, 2 MiB THP.
pub type PowerpcRadix = Book3s64<false>;
/// book3s64 with the hash MMU (POWER8, or `disable_radix`), 64 KiB pages, 16 MiB THP.
pub type PowerpcHash = Book3s64<true>;

bitflags! {
    /// book3s64 Linux pte bits (`_PAGE_*`, `_RPAGE_*`, and the hash-64k `H_PAGE_*` aliases),
    /// as CPU-order values of the big-endian word.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Flags: u64 {
        /// `_PAGE_EXEC`.
        const EXEC = 0x1;
        /// `_PAGE_WRITE`.
        const WRITE = 0x2;
        /// `_PAGE_READ`.
        const READ = 0x4;
        /// `_PAGE_PRIVILEGED`: kernel access only.
        const PRIVILEGED = 0x8;
        /// `_PAGE_SAO`: strong access ordering (`_PAGE_TOLERANT` is SAO | NON_IDEMPOTENT).
        const SAO = 0x10;
        /// `_PAGE_NON_IDEMPOTENT`; `_PAGE_SWP_EXCLUSIVE` in swap ptes.
        const NON_IDEMPOTENT = 0x20;
        /// `_RPAGE_RSV1`; `H_PAGE_BUSY` on hash.
        const RSV1 = 0x40;
        /// `_PAGE_DIRTY` (C: changed).
        const DIRTY = 0x80;
        /// `_PAGE_ACCESSED` (R: referenced).
        const ACCESSED = 0x100;
        /// `_PAGE_SOFT_DIRTY` (`_RPAGE_SW3`; also in swap ptes).
        const SOFT_DIRTY = 0x200;
        /// `_PAGE_SPECIAL` (`_RPAGE_SW2`).
        const SPECIAL = 0x400;
        /// `_PAGE_DEVMAP` (`_RPAGE_SW1`).
        const DEVMAP = 0x800;
        /// `_RPAGE_RPN0`; `H_PAGE_COMBO` on hash (below the 64 KiB pfn field).
        const RPN0 = 0x1000;
        /// `_RPAGE_RPN1`; `H_PAGE_4K_PFN` = `H_PAGE_THP_HUGE` on hash.
        const RPN1 = 0x2000;
        /// `_RPAGE_RPN41` (above `_PAGE_PA_MAX`).
        const RPN41 = 1 << 53;
        /// `_RPAGE_RPN42`.
        const RPN42 = 1 << 54;
        /// `_RPAGE_RPN43`; `H_PAGE_HASHPTE` on hash.
        const RPN43 = 1 << 55;
        /// `_RPAGE_PKEY_BIT0..4` (memory protection key).
        const PKEY = 0x1f << 56;
        /// `_RPAGE_SW0` = `_PAGE_INVALID`: present to Linux while PRESENT is clear.
        const INVALID = 1 << 61;
        /// `_PAGE_PTE`: a leaf, not a pointer to the next table.
        const PTE = 1 << 62;
        /// `_PAGE_PRESENT`: the hardware valid bit.
        const PRESENT = 1 << 63;
    }
}

bitflags! {
    /// The non-address bits of a table pointer pmd (`PMD_MASKED_BITS`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct TableFlags: u64 {
        /// Radix NLS: log2 of the next table's entries (`RADIX_PTE_INDEX_SIZE`); 0 on hash.
        const NLS = 0x1f;
        /// `_PAGE_PRESENT`: the valid bit of `PMD_VAL_BITS`.
        const PRESENT = 1 << 63;
    }
}

/// `_PAGE_EXEC`.
pub const PAGE_EXEC: u64 = Flags::EXEC.bits();
/// `_PAGE_WRITE`.
pub const PAGE_WRITE: u64 = Flags::WRITE.bits();
/// `_PAGE_READ`.
pub const PAGE_READ: u64 = Flags::READ.bits();
/// `_PAGE_RW`.
pub const PAGE_RW: u64 = PAGE_READ | PAGE_WRITE;
/// `_PAGE_RWX`.
pub const PAGE_RWX: u64 = PAGE_READ | PAGE_WRITE | PAGE_EXEC;
/// `_PAGE_TOLERANT`.
pub const PAGE_TOLERANT: u64 = Flags::SAO.bits() | Flags::NON_IDEMPOTENT.bits();
/// `_PAGE_DIRTY`.
pub const PAGE_DIRTY: u64 = Flags::DIRTY.bits();
/// `_PAGE_ACCESSED`.
pub const PAGE_ACCESSED: u64 = Flags::ACCESSED.bits();
/// `_PAGE_SOFT_DIRTY`.
pub const PAGE_SOFT_DIRTY: u64 = Flags::SOFT_DIRTY.bits();
/// `_PAGE_SPECIAL`.
pub const PAGE_SPECIAL: u64 = Flags::SPECIAL.bits();
/// `_PAGE_DEVMAP`.
pub const PAGE_DEVMAP: u64 = Flags::DEVMAP.bits();
/// `_PAGE_INVALID`.
pub const PAGE_INVALID: u64 = Flags::INVALID.bits();
/// `_PAGE_PTE`.
pub const PAGE_PTE: u64 = Flags::PTE.bits();
/// `_PAGE_PRESENT`.
pub const PAGE_PRESENT: u64 = Flags::PRESENT.bits();
/// `H_PAGE_BUSY` (hash-64k).
pub const H_PAGE_BUSY: u64 = Flags::RSV1.bits();
/// `H_PAGE_COMBO` (hash-64k).
pub const H_PAGE_COMBO: u64 = Flags::RPN0.bits();
/// `H_PAGE_THP_HUGE` = `H_PAGE_4K_PFN` (hash-64k).
pub const H_PAGE_THP_HUGE: u64 = Flags::RPN1.bits();
/// `H_PAGE_HASHPTE` (hash-64k): the pte has a hash-table entry.
pub const H_PAGE_HASHPTE: u64 = Flags::RPN43.bits();
/// `_PAGE_HPTEFLAGS` (hash-64k) = `H_PTE_NONE_MASK`.
pub const PAGE_HPTEFLAGS: u64 = H_PAGE_BUSY | H_PAGE_HASHPTE | H_PAGE_COMBO;
/// `RADIX_PTE_NONE_MASK`.
pub const RADIX_PTE_NONE_MASK: u64 = PAGE_DIRTY | PAGE_ACCESSED;
/// `PAGE_SHIFT` (`CONFIG_PPC_64K_PAGES`).
pub const PAGE_SHIFT: u32 = 16;
/// `_PAGE_PA_MAX`.
pub const PAGE_PA_MAX: u32 = 53;
/// `PTE_RPN_MASK`: bits `PAGE_SHIFT`..52.
pub const PTE_RPN_MASK: u64 = ((1 << PAGE_PA_MAX) - 1) & !((1 << PAGE_SHIFT) - 1);
/// `RADIX_PTE_INDEX_SIZE` (radix-64k.h).
pub const RADIX_PTE_INDEX_SIZE: u32 = 5;
/// `H_PTE_INDEX_SIZE` (hash-64k.h).
pub const H_PTE_INDEX_SIZE: u32 = 8;
/// `RADIX_PMD_VAL_BITS`: valid bit plus the next level's index size.
pub const RADIX_PMD_VAL_BITS: u64 = PAGE_PRESENT | RADIX_PTE_INDEX_SIZE as u64;
/// `HASH_PMD_VAL_BITS`.
pub const HASH_PMD_VAL_BITS: u64 = PAGE_PRESENT;
/// `RADIX_PMD_BAD_BITS`.
pub const RADIX_PMD_BAD_BITS: u64 = 0x6000_0000_0000_00e0;
/// `H_PMD_BAD_BITS` = `PTE_TABLE_SIZE - 1` (a hash pte fragment is 4 KiB: 2 KiB of ptes and
/// 2 KiB of hash slot indexes).
pub const H_PMD_BAD_BITS: u64 = (1 << (H_PTE_INDEX_SIZE + 3 + 1)) - 1;
/// `PMD_MASKED_BITS`: what to strip from a table pmd to get the pte table's address.
pub const PMD_MASKED_BITS: u64 = 0xc000_0000_0000_00ff;
/// `PAGE_NONE` = `_PAGE_BASE` = PRESENT | ACCESSED, no permission.
pub const PAGE_NONE: u64 = PAGE_PRESENT | PAGE_ACCESSED;
/// `SWP_TYPE_BITS`.
pub const SWP_TYPE_BITS: u32 = 5;
/// Width of the swap offset: the pfn field.
pub const SWP_OFFSET_BITS: u32 = PAGE_PA_MAX - PAGE_SHIFT;

/// `radix__pte_none`: nothing but a possible R/C writeback.
pub const fn radix_pte_none(v: u64) -> bool {
    v & !RADIX_PTE_NONE_MASK == 0
}
/// `hash__pte_none`: nothing but hash-table bookkeeping.
pub const fn hash_pte_none(v: u64) -> bool {
    v & !PAGE_HPTEFLAGS == 0
}
/// `pte_hw_valid`: PRESENT and PTE.
pub const fn pte_hw_valid(v: u64) -> bool {
    v & (PAGE_PRESENT | PAGE_PTE) == PAGE_PRESENT | PAGE_PTE
}
/// `pte_present`: hardware valid, or INVALID and PTE (mid-update, `ptep_set_access_flags`).
pub const fn pte_present(v: u64) -> bool {
    pte_hw_valid(v) || v & (PAGE_INVALID | PAGE_PTE) == PAGE_INVALID | PAGE_PTE
}
/// `pte_protnone`: a valid leaf with no permission bit.
pub const fn pte_protnone(v: u64) -> bool {
    v & (PAGE_PRESENT | PAGE_PTE | PAGE_RWX) == PAGE_PRESENT | PAGE_PTE
}
/// Returns the pfn: bits 16–52 of the pte, shifted down by the 64 KiB `PAGE_SHIFT` (`pte_pfn`).
pub const fn pte_pfn(v: u64) -> u64 {
    (v & PTE_RPN_MASK) >> PAGE_SHIFT
}
/// `pfn_pte`: ORs `_PAGE_PTE` (the pfn is unmasked, as in Linux).
pub const fn pfn_pte(pfn: u64, prot: u64) -> u64 {
    (pfn << PAGE_SHIFT) | prot | PAGE_PTE
}
/// `pte_mkwrite_novma`: write implies read, so both.
pub const fn pte_mkwrite(v: u64) -> u64 {
    v | PAGE_RW
}
/// `pte_mkdirty`: DIRTY and SOFT_DIRTY.
pub const fn pte_mkdirty(v: u64) -> u64 {
    v | PAGE_DIRTY | PAGE_SOFT_DIRTY
}
/// `pmd_none`: raw zero.
pub const fn pmd_none(v: u64) -> bool {
    v == 0
}
/// `pmd_present`: PRESENT or INVALID (a pmd being split).
pub const fn pmd_present(v: u64) -> bool {
    v & (PAGE_PRESENT | PAGE_INVALID) != 0
}
/// `pmd_protnone`: `pte_protnone(pmd_pte(pmd))` (v6.12
/// arch/powerpc/include/asm/book3s/64/pgtable.h:1069).
pub const fn pmd_protnone(v: u64) -> bool {
    pte_protnone(v)
}
/// Returns whether the MMU uses the pmd: `_PAGE_PRESENT` (bit 63). PROT_NONE keeps it
/// (`PAGE_NONE` is present and privileged: the MMU denies user access); `pmdp_invalidate`
/// clears it.
pub const fn pmd_hw_valid(v: u64) -> bool {
    v & PAGE_PRESENT != 0
}
/// `pmd_access_permitted` (arch/powerpc/include/asm/book3s/64/pgtable.h:1078 in v6.12):
/// false while `pmd_is_serializing`, else `pte_access_permitted` (:528): present, not
/// PRIVILEGED, READ, and WRITE for a write. Memory keys are not modelled.
pub const fn pmd_access_permitted(v: u64, write: bool) -> bool {
    !pmd_is_serializing(v) && pte_access_permitted(v, write)
}
/// `pte_access_permitted` (arch/powerpc/include/asm/book3s/64/pgtable.h:528 in v6.12):
/// present, not PRIVILEGED, READ, and WRITE for a write. Memory keys are not modelled.
pub const fn pte_access_permitted(v: u64, write: bool) -> bool {
    pte_present(v)
        && v & Flags::PRIVILEGED.bits() == 0
        && v & PAGE_READ != 0
        && (!write || v & PAGE_WRITE != 0)
}
/// `pmd_is_serializing`: INVALID without PRESENT, what `pmdp_invalidate` leaves.
pub const fn pmd_is_serializing(v: u64) -> bool {
    v & (PAGE_PRESENT | PAGE_INVALID) == PAGE_INVALID
}
/// Returns whether a radix pmd is bad: any of INVALID, PTE or bits 5–7 set (`radix__pmd_bad`).
pub const fn radix_pmd_bad(v: u64) -> bool {
    v & RADIX_PMD_BAD_BITS != 0
}
/// Returns whether a hash pmd is bad: any of bits 0–11 set (`hash__pmd_bad`).
pub const fn hash_pmd_bad(v: u64) -> bool {
    v & H_PMD_BAD_BITS != 0
}
/// `pmd_leaf`: `_PAGE_PTE`.
pub const fn pmd_leaf(v: u64) -> bool {
    v & PAGE_PTE != 0
}
/// `pmd_trans_huge` with `radix__pmd_trans_huge`: present, PTE, not DEVMAP.
pub const fn radix_pmd_trans_huge(v: u64) -> bool {
    pmd_present(v) && v & (PAGE_PTE | PAGE_DEVMAP) == PAGE_PTE
}
/// `pmd_trans_huge` with `hash__pmd_trans_huge`: present, PTE and THP_HUGE, not DEVMAP.
pub const fn hash_pmd_trans_huge(v: u64) -> bool {
    pmd_present(v) && v & (PAGE_PTE | H_PAGE_THP_HUGE | PAGE_DEVMAP) == PAGE_PTE | H_PAGE_THP_HUGE
}
/// Returns the radix pmd marked huge: `_PAGE_PTE` set (`radix__pmd_mkhuge`).
pub const fn radix_pmd_mkhuge(v: u64) -> u64 {
    v | PAGE_PTE
}
/// Returns the hash pmd marked huge: `_PAGE_PTE` and `H_PAGE_THP_HUGE` set (`hash__pmd_mkhuge`).
pub const fn hash_pmd_mkhuge(v: u64) -> u64 {
    v | PAGE_PTE | H_PAGE_THP_HUGE
}
/// `pmdp_invalidate`'s `pmd_hugepage_update(.., clr = _PAGE_PRESENT, set = _PAGE_INVALID)`.
pub const fn pmdp_invalidate(v: u64) -> u64 {
    (v & !PAGE_PRESENT) | PAGE_INVALID
}
/// `__swp_entry`: type in bits 0–4, offset in the pfn field.
pub const fn swp_entry(ty: u64, offset: u64) -> u64 {
    ty | ((offset << PAGE_SHIFT) & PTE_RPN_MASK)
}
/// Returns the swap type: bits 0–4 (`__swp_type`).
pub const fn swp_type(v: u64) -> u64 {
    v & ((1 << SWP_TYPE_BITS) - 1)
}
/// Returns the swap offset: the pfn field, bits 16–52, shifted down (`__swp_offset`).
pub const fn swp_offset(v: u64) -> u64 {
    (v & PTE_RPN_MASK) >> PAGE_SHIFT
}

impl<const HASH: bool> Book3s64<HASH> {
    /// `PTE_INDEX_SIZE` as the boot-time MMU sets it.
    const PTE_INDEX_SIZE: u32 = if HASH {
        H_PTE_INDEX_SIZE
    } else {
        RADIX_PTE_INDEX_SIZE
    };
    /// `PMD_VAL_BITS` as the boot-time MMU sets it.
    const PMD_VAL_BITS: u64 = if HASH {
        HASH_PMD_VAL_BITS
    } else {
        RADIX_PMD_VAL_BITS
    };

    /// Returns the pmd marked huge the way the boot-time MMU (hash or radix) does (`__pmd_mkhuge`).
    const fn pmd_mkhuge_bits(v: u64) -> u64 {
        if HASH {
            hash_pmd_mkhuge(v)
        } else {
            radix_pmd_mkhuge(v)
        }
    }
    /// `pfn_pmd` (book3s64/pgtable.c): masked pfn, the pgprot, then `__pmd_mkhuge`.
    const fn pfn_pmd(pfn: u64, prot: u64) -> u64 {
        Self::pmd_mkhuge_bits(((pfn << PAGE_SHIFT) & PTE_RPN_MASK) | prot)
    }
}

impl<const HASH: bool> Arch for Book3s64<HASH> {
    type Word = u64;
    const ID: ArchId = if HASH {
        ArchId::PowerpcHash
    } else {
        ArchId::PowerpcRadix
    };
    const GEOMETRY: Geometry = Geometry {
        page_shift: PAGE_SHIFT,
        pmd_shift: PAGE_SHIFT + Self::PTE_INDEX_SIZE,
        ptrs_per_pte: 1 << Self::PTE_INDEX_SIZE,
        levels: 4,
        pfn_bits: PAGE_PA_MAX - PAGE_SHIFT,
        has_thp: true,
        big_endian: true,
        swap_type_bits: SWP_TYPE_BITS,
        swap_offset_bits: SWP_OFFSET_BITS,
    };
}

/// `vm_get_page_prot` over `protection_map` (arch/powerpc/mm/pgtable.c) for a private
/// mapping, with the writable form a write fault installs (`PAGE_SHARED(_X)`) for
/// `ReadWrite*`.
const fn pgprot(p: Protection) -> u64 {
    match p {
        Protection::None => PAGE_NONE,
        Protection::Read => PAGE_NONE | PAGE_READ,
        Protection::ReadWrite => PAGE_NONE | PAGE_RW,
        Protection::ReadExec => PAGE_NONE | PAGE_READ | PAGE_EXEC,
        Protection::ReadWriteExec => PAGE_NONE | PAGE_RWX,
    }
}

impl<const HASH: bool> PteOps for Book3s64<HASH> {
    fn pte_access_permitted(pte: Pte<Self>, write: bool) -> bool {
        pte_access_permitted(pte.raw(), write)
    }
    const PTE_FLAG_BITS: u64 = Flags::all().bits();
    const PTE_PFN_BITS: u64 = PTE_RPN_MASK;

    /// `pte_clear` is `pte_update(.., clr = ~0, set = 0)`: zero.
    fn pte_empty(_addr: u64) -> Pte<Self> {
        Pte::from_raw(0)
    }
    fn pte_none(pte: Pte<Self>) -> bool {
        if HASH {
            hash_pte_none(pte.raw())
        } else {
            radix_pte_none(pte.raw())
        }
    }
    forward_pte! {
        test: pte_present, pte_protnone;
        u64: pte_pfn;
        map: pte_mkwrite, pte_mkdirty;
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
    fn pte_wrprotect(pte: Pte<Self>) -> Pte<Self> {
        Pte::from_raw(pte.raw() & !PAGE_WRITE)
    }
    fn pte_dirty(pte: Pte<Self>) -> bool {
        pte.raw() & PAGE_DIRTY != 0
    }
    fn pte_mkclean(pte: Pte<Self>) -> Pte<Self> {
        Pte::from_raw(pte.raw() & !PAGE_DIRTY)
    }
    fn pte_young(pte: Pte<Self>) -> bool {
        pte.raw() & PAGE_ACCESSED != 0
    }
    fn pte_mkyoung(pte: Pte<Self>) -> Pte<Self> {
        Pte::from_raw(pte.raw() | PAGE_ACCESSED)
    }
    fn pte_mkold(pte: Pte<Self>) -> Pte<Self> {
        Pte::from_raw(pte.raw() & !PAGE_ACCESSED)
    }
    fn pte_special(pte: Pte<Self>) -> bool {
        pte.raw() & PAGE_SPECIAL != 0
    }
    fn pte_mkspecial(pte: Pte<Self>) -> Result<Pte<Self>, Error> {
        Ok(Pte::from_raw(pte.raw() | PAGE_SPECIAL))
    }
    /// `__swp_entry_to_pte(__swp_entry(..))`: the entry with `_PAGE_PTE` ORed in.
    fn swp_entry_to_pte(entry: SwpEntry) -> Pte<Self> {
        Pte::from_raw(swp_entry(u64::from(entry.ty()), entry.offset()) | PAGE_PTE)
    }
    /// `__pte_to_swp_entry` strips `_PAGE_PTE`; type and offset never include it.
    fn pte_to_swp_entry(pte: Pte<Self>) -> SwpEntry {
        let v = pte.raw() & !PAGE_PTE;
        // The type field is 5 bits wide, so the narrowing cannot lose bits.
        SwpEntry::from_parts_unchecked(swp_type(v) as u32, swp_offset(v))
    }
    fn fmt_pte_flags(raw: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_flags(Flags::from_bits_retain(raw & !PTE_RPN_MASK), f)
    }
}

impl<const HASH: bool> PmdOps for Book3s64<HASH> {
    fn pmd_empty() -> Pmd<Self> {
        Pmd::from_raw(0)
    }
    forward_pmd! {
        test: pmd_none, pmd_present, pmd_leaf, pmd_protnone, pmd_hw_valid;
    }
    fn pmd_access_permitted(pmd: Pmd<Self>, write: bool) -> bool {
        pmd_access_permitted(pmd.raw(), write)
    }
    /// The hash MMU keeps its hash-slot information in the deposited table; radix needs none.
    fn arch_needs_pgtable_deposit() -> bool {
        HASH
    }
    fn pmd_bad(pmd: Pmd<Self>) -> bool {
        if HASH {
            hash_pmd_bad(pmd.raw())
        } else {
            radix_pmd_bad(pmd.raw())
        }
    }
    fn pmd_trans_huge(pmd: Pmd<Self>) -> bool {
        if HASH {
            hash_pmd_trans_huge(pmd.raw())
        } else {
            radix_pmd_trans_huge(pmd.raw())
        }
    }
    /// `__pa(pte table) | PMD_VAL_BITS`. Pte tables are fragments of a 64 KiB page (256 bytes
    /// on radix, 4 KiB on hash); `table_pfn` names the first fragment of page `table_pfn`, so
    /// the origin is `table_pfn << 16`. The valid bit keeps every table pmd non-zero.
    fn pmd_populate_unchecked(table_pfn: u64) -> Pmd<Self> {
        Pmd::from_raw((table_pfn << PAGE_SHIFT) | Self::PMD_VAL_BITS)
    }
    /// `pte_pfn(pmd_pte(pmd))`, for a table pointer too (fragment offsets drop out).
    fn pmd_pfn(pmd: Pmd<Self>) -> u64 {
        pte_pfn(pmd.raw())
    }
    fn fmt_pmd_flags(raw: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if pmd_leaf(raw) {
            write_flags(Flags::from_bits_retain(raw & !PTE_RPN_MASK), f)
        } else {
            write_flags(TableFlags::from_bits_retain(raw & PMD_MASKED_BITS), f)
        }
    }
    /// `pmd_mkhuge(pfn_pmd(pfn, prot))`: `pfn_pmd` already applies `__pmd_mkhuge`;
    /// `set_pmd_at` → `set_ptes` only strips `_PAGE_HPTEFLAGS` (none are set) on hash and ORs
    /// `_PAGE_PTE` (already set).
    fn mk_huge_pmd_unchecked(pfn: u64, prot: Protection) -> Result<Pmd<Self>, Error> {
        Ok(Pmd::from_raw(Self::pfn_pmd(pfn, pgprot(prot))))
    }
    /// book3s64's `pmd_mkhuge` changes nothing (a `CONFIG_DEBUG_VM` check that `pfn_pmd`
    /// already marked the entry huge).
    fn pmd_mkhuge(pmd: Pmd<Self>) -> Result<Pmd<Self>, Error> {
        Ok(pmd)
    }
    /// book3s64 defines no `pmd_mkinvalid` in v6.12 (it has its own `pmdp_invalidate`); this
    /// returns what that `pmdp_invalidate` stores: PRESENT cleared, INVALID set.
    fn pmd_mkinvalid(pmd: Pmd<Self>) -> Result<Pmd<Self>, Error> {
        Ok(Pmd::from_raw(pmdp_invalidate(pmd.raw())))
    }
    /// `__HAVE_ARCH_PMDP_INVALIDATE` (book3s64/pgtable.c): `pmd_hugepage_update` clearing
    /// `_PAGE_PRESENT` and setting `_PAGE_INVALID`, the same on radix and hash.
    fn pmdp_invalidate(pmd: Pmd<Self>) -> Result<Pmd<Self>, Error> {
        Ok(Pmd::from_raw(pmdp_invalidate(pmd.raw())))
    }
}

static_assertions::assert_eq_size!(u64, Pte<PowerpcRadix>, Pmd<PowerpcHash>);

#[cfg(test)]
mod tests {
    use super::*;

    // Kernel vectors: values read off the v6.12 headers.

    // 64K pages: radix maps 2 MiB per pmd with 32 ptes, hash 16 MiB with 256 ptes.
    #[test]
    fn geometry_follows_the_index_sizes() {
        let (r, h) = (PowerpcRadix::GEOMETRY, PowerpcHash::GEOMETRY);
        assert_eq!(
            (r.pmd_shift, r.ptrs_per_pte, r.pages_per_pmd()),
            (21, 32, 32)
        );
        assert_eq!(
            (h.pmd_shift, h.ptrs_per_pte, h.pages_per_pmd()),
            (24, 256, 256)
        );
        assert_eq!(PTE_RPN_MASK, 0x001f_ffff_ffff_0000);
        assert_eq!(PowerpcRadix::ID.name(), "powerpc-radix");
        assert_eq!(PowerpcHash::ID.name(), "powerpc-hash");
    }

    // PAGE_NONE is PRESENT | ACCESSED; pfn_pte adds _PAGE_PTE; the result is protnone.
    #[test]
    fn page_none_pte_is_present_and_protnone() {
        let prot = PowerpcRadix::pte_pgprot(Protection::None);
        assert_eq!(prot.raw(), 0x8000_0000_0000_0100);
        let pte = PowerpcRadix::pfn_pte(0x1234, prot).unwrap();
        assert_eq!(pte.raw(), 0xc000_0000_1234_0100);
        assert!(pte.present() && PowerpcRadix::pte_protnone(pte));
        let rw = PowerpcHash::pfn_pte(0x1234, PowerpcHash::pte_pgprot(Protection::ReadWrite));
        assert_eq!(rw.unwrap().raw(), 0xc000_0000_1234_0106);
    }

    // radix pte_none ignores DIRTY|ACCESSED; hash pte_none ignores BUSY|HASHPTE|COMBO.
    #[test]
    fn radix_and_hash_disagree_on_pte_none() {
        let rc_writeback = 0x180; // DIRTY | ACCESSED
        assert!(Pte::<PowerpcRadix>::from_raw(rc_writeback).none());
        assert!(!Pte::<PowerpcHash>::from_raw(rc_writeback).none());
        let hpte_left = 0x0080_0000_0000_1040; // HASHPTE | COMBO | BUSY
        assert!(Pte::<PowerpcHash>::from_raw(hpte_left).none());
        assert!(!Pte::<PowerpcRadix>::from_raw(hpte_left).none());
    }

    // pte_present: PRESENT|PTE, or INVALID|PTE (a pte mid-update); PRESENT alone is a table.
    #[test]
    fn present_is_hw_valid_or_invalid_leaf() {
        assert!(pte_present(0xc000_0000_0000_0000));
        assert!(pte_present(0x6000_0000_0000_0000));
        assert!(!pte_present(0x8000_0000_0000_0000));
        assert!(!pte_present(0x2000_0000_0000_0000));
    }

    // __swp_entry puts the type in bits 0-4 and the offset at PAGE_SHIFT; the pte adds
    // _PAGE_PTE, so it is not none, and neither PRESENT nor INVALID, so not present.
    #[test]
    fn swap_pte_is_entry_or_page_pte() {
        let e = SwpEntry::new::<PowerpcRadix>(3, 0x10).unwrap();
        let pte = PowerpcRadix::swp_entry_to_pte(e);
        assert_eq!(pte.raw(), 0x4000_0000_0010_0003);
        assert!(pte.is_swap() && Pte::<PowerpcHash>::from_raw(pte.raw()).is_swap());
        assert_eq!(PowerpcRadix::pte_to_swp_entry(pte), e);
        assert!(SwpEntry::new::<PowerpcRadix>(1, 1 << 37).is_err());
    }

    // pmd_populate: __pa(table) | PMD_VAL_BITS (radix adds the next level's index size 5).
    #[test]
    fn table_pmds_carry_pmd_val_bits() {
        let r = PowerpcRadix::pmd_populate(0x1234).unwrap();
        assert_eq!(r.raw(), 0x8000_0000_1234_0005);
        let h = PowerpcHash::pmd_populate(0x1234).unwrap();
        assert_eq!(h.raw(), 0x8000_0000_1234_0000);
        for raw in [r.raw(), h.raw()] {
            assert!(!pmd_leaf(raw) && pmd_present(raw) && !pmd_none(raw));
        }
        assert!(!PowerpcRadix::pmd_bad(r) && !PowerpcHash::pmd_bad(h));
        assert_eq!((r.pfn(), h.pfn()), (0x1234, 0x1234));
    }

    // pfn_pmd applies __pmd_mkhuge: radix ORs _PAGE_PTE, hash _PAGE_PTE | H_PAGE_THP_HUGE,
    // and hash pmd_trans_huge needs both.
    #[test]
    fn huge_pmds_differ_by_thp_huge() {
        let r = PowerpcRadix::mk_huge_pmd(0x20, Protection::ReadWrite).unwrap();
        assert_eq!(r.raw(), 0xc000_0000_0020_0106);
        let h = PowerpcHash::mk_huge_pmd(0x100, Protection::ReadWrite).unwrap();
        assert_eq!(h.raw(), 0xc000_0000_0100_2106);
        assert!(r.trans_huge() && h.trans_huge());
        assert!(!Pmd::<PowerpcHash>::from_raw(r.raw()).trans_huge());
        assert!(PowerpcHash::mk_huge_pmd(0x20, Protection::Read).is_err()); // not 16 MiB aligned
    }

    // Their own pmdp_invalidate: PRESENT cleared, INVALID set; still present (INVALID),
    // still trans_huge, serializing for lockless walkers.
    #[test]
    fn invalidated_huge_pmd_swaps_present_for_invalid() {
        let r = PowerpcRadix::mk_huge_pmd(0x20, Protection::ReadWrite).unwrap();
        let ri = PowerpcRadix::pmdp_invalidate(r).unwrap();
        assert_eq!(ri.raw(), 0x6000_0000_0020_0106);
        let h = PowerpcHash::mk_huge_pmd(0x100, Protection::ReadWrite).unwrap();
        let hi = PowerpcHash::pmdp_invalidate(h).unwrap();
        assert_eq!(hi.raw(), 0x6000_0000_0100_2106);
        assert!(ri.present() && ri.trans_huge() && !ri.none() && ri.pfn() == 0x20);
        assert!(hi.present() && hi.trans_huge() && !hi.none() && hi.pfn() == 0x100);
        assert!(pmd_is_serializing(ri.raw()) && pmd_is_serializing(hi.raw()));
        assert_eq!(PowerpcRadix::pmd_mkinvalid(r), Ok(ri));
    }

    // The MMU reads __be64: _PAGE_PRESENT (bit 63) is the first byte in memory on any host.
    #[test]
    fn mmu_bytes_are_big_endian() {
        let pte = PowerpcRadix::pfn_pte(0x1, PgProt::from_raw(PAGE_NONE)).unwrap();
        assert_eq!(pte.raw(), 0xc000_0000_0001_0100);
        let bytes = pte.to_mmu_bytes();
        assert_eq!(bytes, [0xc0, 0, 0, 0, 0, 0x01, 0x01, 0x00]);
        assert_eq!(Pte::<PowerpcRadix>::from_mmu_bytes(bytes), pte);
        let table = PowerpcHash::pmd_populate(0x1234).unwrap().to_mmu_bytes();
        assert_eq!(table, [0x80, 0, 0, 0, 0x12, 0x34, 0, 0]);
    }
}
