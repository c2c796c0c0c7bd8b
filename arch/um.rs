//! User-mode Linux on a 64-bit host, as Linux v6.12 encodes it.
//!
//! Follows arch/um/include/asm/{pgtable.h, pgtable-3level.h, page.h, pgalloc.h} and
//! arch/um/kernel/mem.c, configured as x86_64 UML is: `CONFIG_64BIT`, hence
//! `CONFIG_3_LEVEL_PGTABLES` (arch/x86/um/Kconfig: "default 64BIT"), `PMD_SHIFT` 21, 512
//! entries per table, `unsigned long` entries. Later kernels reworked the NEWPAGE/NEWPROT
//! scheme; this is v6.12's. Points worth knowing:
//! - **The empty pte and the empty pmd are `_PAGE_NEWPAGE` (0x2)**: `pte_clear` stores
//!   "physical address 0 | NEWPAGE", `pmd_clear` stores NEWPAGE; `pte_none`/`pmd_none`
//!   ignore that bit, so zero (fresh `__GFP_ZERO` tables) is none too.
//! - NEWPAGE/NEWPROT are "host mapping needs syncing" markers. **`set_pte` ORs NEWPAGE into
//!   every pte it stores, and NEWPROT too when the pte is present**; `mk_pte` already adds
//!   both for a present pte. This backend's constructors return **what ends up in the page
//!   table**: [`Um::pfn_pte`](crate::PteOps::pfn_pte) and
//!   [`Um::swp_entry_to_pte`](crate::PteOps::swp_entry_to_pte) include what `set_pte` adds
//!   (`__pte_to_swp_entry` strips NEWPAGE again with `pte_mkuptodate`), while the empty
//!   values are exactly what `pte_clear`/`pmd_clear` store (they bypass `set_pte`).
//! - `pte_present` is PRESENT | PROTNONE; `pte_write` is RW **and not PROTNONE**, so a
//!   PROT_NONE pte never reads writable (see [`Um::LAW_DEVIATIONS`]); `pte_mkwrite` and
//!   `pte_wrprotect` add NEWPROT when they change RW.
//! - A table pmd is `_PAGE_TABLE + (pfn << PAGE_SHIFT)` (physical, unlike nios2/xtensa).
//! - Not selected: `ARCH_HAS_PTE_SPECIAL`, NUMA balancing (`pte_protnone` is the generic 0
//!   even though um has a `_PAGE_PROTNONE` bit), THP.
//!
//! **pfn width.** `pfn << PAGE_SHIFT` must fit the 64-bit word: `pfn_bits` is 52 (UML's
//! "physical" memory is a host file mapping; no narrower hardware limit applies).

use core::fmt;

use bitflags::bitflags;

use crate::arch_id::{Arch, ArchId, Geometry};
use crate::decode::write_flags;
use crate::entry::{PgProt, Pmd, PmdOps, Protection, Pte, PteOps, SwpEntry};
use crate::laws::{Deviation, LawId};

/// The user-mode Linux backend (64-bit host, 3 levels, 4 KiB pages, no THP).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Um;

bitflags! {
    /// um pte/pmd flag bits (`_PAGE_*`, pgtable.h).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Flags: u64 {
        /// `_PAGE_PRESENT`.
        const PRESENT = 0x001;
        /// `_PAGE_NEWPAGE`: the host mapping must be (re)created.
        const NEWPAGE = 0x002;
        /// `_PAGE_NEWPROT`: the host protection must be updated.
        const NEWPROT = 0x004;
        /// `_PAGE_PROTNONE`: a PROT_NONE mapping (PRESENT clear, still `pte_present`).
        const PROTNONE = 0x010;
        /// `_PAGE_RW`.
        const RW = 0x020;
        /// `_PAGE_USER`.
        const USER = 0x040;
        /// `_PAGE_ACCESSED`.
        const ACCESSED = 0x080;
        /// `_PAGE_DIRTY`.
        const DIRTY = 0x100;
        /// `_PAGE_SWP_EXCLUSIVE`: swap ptes only.
        const SWP_EXCLUSIVE = 0x400;
    }
}

/// `PAGE_SHIFT`.
pub const PAGE_SHIFT: u32 = 12;
/// `~PAGE_MASK`.
pub const PAGE_OFFSET_MASK: u64 = (1 << PAGE_SHIFT) - 1;
/// `_PAGE_PRESENT`.
pub const PRESENT: u64 = Flags::PRESENT.bits();
/// `_PAGE_NEWPAGE`.
pub const NEWPAGE: u64 = Flags::NEWPAGE.bits();
/// `_PAGE_NEWPROT`.
pub const NEWPROT: u64 = Flags::NEWPROT.bits();
/// `_PAGE_PROTNONE`.
pub const PROTNONE: u64 = Flags::PROTNONE.bits();
/// `_PAGE_RW`.
pub const RW: u64 = Flags::RW.bits();
/// `_PAGE_TABLE`: PRESENT | RW | USER | ACCESSED | DIRTY.
pub const PAGE_TABLE: u64 = 0x1e1;
/// `_KERNPG_TABLE`: PRESENT | RW | ACCESSED | DIRTY.
pub const KERNPG_TABLE: u64 = 0x1a1;
/// `PAGE_NONE` = PROTNONE | ACCESSED.
pub const PAGE_NONE: u64 = 0x090;
/// `PAGE_READONLY` (= `PAGE_COPY`) = PRESENT | USER | ACCESSED.
pub const PAGE_READONLY: u64 = 0x0c1;
/// `PAGE_SHARED` = PRESENT | RW | USER | ACCESSED.
pub const PAGE_SHARED: u64 = 0x0e1;
/// The pfn field: `phys_to_pfn` is `v >> PAGE_SHIFT`.
pub const PTE_PFN_MASK: u64 = !PAGE_OFFSET_MASK;
/// Width of the pfns this backend accepts.
pub const PFN_BITS: u32 = 64 - PAGE_SHIFT;
/// Width of the swap type field (bits 5–9).
pub const SWP_TYPE_BITS: u32 = 5;
/// Shift of the swap type field.
pub const SWP_TYPE_SHIFT: u32 = 5;
/// Shift of the swap offset field (bits 11–63).
pub const SWP_OFFSET_SHIFT: u32 = 11;

/// `pte_none` (`pte_is_zero`): nothing but NEWPAGE.
pub const fn pte_none(v: u64) -> bool {
    v & !NEWPAGE == 0
}
/// `pte_present`: PRESENT or PROTNONE.
pub const fn pte_present(v: u64) -> bool {
    v & (PRESENT | PROTNONE) != 0
}
/// `pte_pfn` (`phys_to_pfn`).
pub const fn pte_pfn(v: u64) -> u64 {
    v >> PAGE_SHIFT
}
/// `set_pte`'s additions: NEWPAGE always, NEWPROT when present.
pub const fn set_pte_value(v: u64) -> u64 {
    let v = v | NEWPAGE;
    if pte_present(v) { v | NEWPROT } else { v }
}
/// `pte_mkuptodate`: clears NEWPAGE, and NEWPROT when present.
pub const fn pte_mkuptodate(v: u64) -> u64 {
    let v = v & !NEWPAGE;
    if pte_present(v) { v & !NEWPROT } else { v }
}
/// `pfn_pte` (`pfn_to_phys(pfn) | prot`), as `set_pte` stores it.
pub const fn pfn_pte(pfn: u64, prot: u64) -> u64 {
    set_pte_value((pfn << PAGE_SHIFT) | prot)
}
/// `pte_write`: RW and not PROTNONE.
pub const fn pte_write(v: u64) -> bool {
    v & RW != 0 && v & PROTNONE == 0
}
/// `pte_mkwrite_novma`: sets RW, and NEWPROT if RW was clear.
pub const fn pte_mkwrite(v: u64) -> u64 {
    if v & RW != 0 { v } else { v | RW | NEWPROT }
}
/// `pte_wrprotect`: clears RW, and sets NEWPROT if RW was set.
pub const fn pte_wrprotect(v: u64) -> u64 {
    if v & RW != 0 { (v & !RW) | NEWPROT } else { v }
}
/// `__swp_entry` as `set_pte` stores it: type at bits 5–9, offset from bit 11, plus NEWPAGE.
pub const fn swp_entry(ty: u64, offset: u64) -> u64 {
    set_pte_value(((ty & 0x1f) << SWP_TYPE_SHIFT) | (offset << SWP_OFFSET_SHIFT))
}
/// `__swp_type` of `__pte_to_swp_entry`.
pub const fn swp_type(v: u64) -> u64 {
    (pte_mkuptodate(v) >> SWP_TYPE_SHIFT) & 0x1f
}
/// `__swp_offset` of `__pte_to_swp_entry`.
pub const fn swp_offset(v: u64) -> u64 {
    pte_mkuptodate(v) >> SWP_OFFSET_SHIFT
}
/// `pmd_none`: nothing but NEWPAGE.
pub const fn pmd_none(v: u64) -> bool {
    v & !NEWPAGE == 0
}
/// Returns whether the pmd is present: `_PAGE_PRESENT` (bit 0) set (`pmd_present`).
pub const fn pmd_present(v: u64) -> bool {
    v & PRESENT != 0
}
/// `pmd_bad`: the in-page bits, USER aside, must be `_KERNPG_TABLE`.
pub const fn pmd_bad(v: u64) -> bool {
    v & (PAGE_OFFSET_MASK & !Flags::USER.bits()) != KERNPG_TABLE
}
/// `pmd_populate`: `_PAGE_TABLE + (pfn << PAGE_SHIFT)`.
pub const fn pmd_populate(table_pfn: u64) -> u64 {
    PAGE_TABLE.wrapping_add(table_pfn << PAGE_SHIFT)
}
/// Returns the pfn the pmd points to: the word shifted down by `PAGE_SHIFT` (`pmd_pfn`).
pub const fn pmd_pfn(v: u64) -> u64 {
    v >> PAGE_SHIFT
}

impl Arch for Um {
    type Word = u64;
    const ID: ArchId = ArchId::Um;
    const GEOMETRY: Geometry = Geometry {
        page_shift: PAGE_SHIFT,
        pmd_shift: 21,
        ptrs_per_pte: 512,
        levels: 3,
        pfn_bits: PFN_BITS,
        has_thp: false,
        big_endian: false,
        swap_type_bits: SWP_TYPE_BITS,
        swap_offset_bits: 64 - SWP_OFFSET_SHIFT,
    };
}

/// `protection_map` (arch/um/kernel/mem.c) for a private mapping; `ReadWrite` is the
/// writable form a write fault makes (`PAGE_SHARED` bits). um has no exec bit.
const fn pgprot(p: Protection) -> u64 {
    match p {
        Protection::None => PAGE_NONE,
        Protection::Read | Protection::ReadExec => PAGE_READONLY,
        Protection::ReadWrite | Protection::ReadWriteExec => PAGE_SHARED,
    }
}

impl PteOps for Um {
    const PTE_FLAG_BITS: u64 = Flags::all().bits();
    const PTE_PFN_BITS: u64 = PTE_PFN_MASK;

    fn pte_empty(_addr: u64) -> Pte<Self> {
        Pte::from_raw(NEWPAGE)
    }
    fn pte_fresh(_addr: u64) -> Pte<Self> {
        // Generic pte_alloc_one: a zeroed page, which pte_none also accepts.
        Pte::from_raw(0)
    }
    forward_pte! {
        test: pte_none, pte_present, pte_write;
        u64: pte_pfn;
        map: pte_mkwrite, pte_wrprotect;
    }
    fn pfn_pte_unchecked(pfn: u64, prot: PgProt<Self>) -> Pte<Self> {
        Pte::from_raw(pfn_pte(pfn, prot.raw()))
    }
    fn pte_pgprot(prot: Protection) -> PgProt<Self> {
        PgProt::from_raw(pgprot(prot))
    }
    pte_flag_helpers! {
        pte_dirty / pte_mkdirty / pte_mkclean = Flags::DIRTY.bits();
        pte_young / pte_mkyoung / pte_mkold = Flags::ACCESSED.bits();
    }
    fn swp_entry_to_pte(entry: SwpEntry) -> Pte<Self> {
        Pte::from_raw(swp_entry(u64::from(entry.ty()), entry.offset()))
    }
    fn pte_to_swp_entry(pte: Pte<Self>) -> SwpEntry {
        // At most 0x1f: the cast keeps every bit.
        SwpEntry::from_parts_unchecked(swp_type(pte.raw()) as u32, swp_offset(pte.raw()))
    }
    fn fmt_pte_flags(raw: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_flags(Flags::from_bits_retain(raw & PAGE_OFFSET_MASK), f)
    }
}

impl PmdOps for Um {
    const LAW_DEVIATIONS: &'static [Deviation] = &[Deviation {
        law: LawId::PteFlags,
        note: "arch/um/include/asm/pgtable.h: pte_write() is _PAGE_RW && !_PAGE_PROTNONE, so \
               a PROT_NONE pte never reads writable, even after pte_mkwrite sets RW; every \
               other protection keeps the law",
    }];

    fn pmd_empty() -> Pmd<Self> {
        Pmd::from_raw(NEWPAGE)
    }
    forward_pmd! {
        test: pmd_none, pmd_present, pmd_bad;
        u64: pmd_pfn;
    }
    fn pmd_populate_unchecked(table_pfn: u64) -> Pmd<Self> {
        Pmd::from_raw(pmd_populate(table_pfn))
    }
    fn fmt_pmd_flags(raw: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_flags(Flags::from_bits_retain(raw & PAGE_OFFSET_MASK), f)
    }
}

static_assertions::assert_eq_size!(u64, Pte<Um>, Pmd<Um>);

#[cfg(test)]
mod tests {
    use super::*;

    // Kernel vectors: pte_clear and pmd_clear store NEWPAGE; none ignores it, so 0 is none.
    #[test]
    fn empty_entries_are_newpage() {
        let e = Um::pte_empty(0x1234_5000);
        assert_eq!(e.raw(), 0x2);
        assert!(e.none() && !e.present());
        assert!(Pte::<Um>::from_raw(0).none());
        assert_eq!(Um::pmd_empty().raw(), 0x2);
        assert!(Um::pmd_empty().none() && !Um::pmd_empty().present());
        assert!(Pmd::<Um>::from_raw(0).none());
    }

    // Kernel vectors: protection_map values (PAGE_NONE 0x90, PAGE_READONLY 0xc1, PAGE_SHARED 0xe1).
    #[test]
    fn protections_match_the_header() {
        assert_eq!(Um::pte_pgprot(Protection::None).raw(), 0x90);
        assert_eq!(Um::pte_pgprot(Protection::Read).raw(), 0xc1);
        assert_eq!(Um::pte_pgprot(Protection::ReadExec).raw(), 0xc1);
        assert_eq!(Um::pte_pgprot(Protection::ReadWrite).raw(), 0xe1);
        assert_eq!(Um::pte_pgprot(Protection::ReadWriteExec).raw(), 0xe1);
    }

    // Kernel vector: a stored present pte carries set_pte's NEWPAGE | NEWPROT.
    #[test]
    fn stored_present_pte_has_newpage_and_newprot() {
        let pte = Um::pfn_pte(0x1234, Um::pte_pgprot(Protection::ReadWrite)).unwrap();
        assert_eq!(pte.raw(), 0x123_4000 | 0xe1 | 0x6);
        assert_eq!(pte.pfn(), 0x1234);
        let none = Um::pfn_pte(0x1234, Um::pte_pgprot(Protection::None)).unwrap();
        assert_eq!(none.raw(), 0x123_4000 | 0x90 | 0x6);
        assert!(none.present() && !none.none());
    }

    // Kernel vectors: mkwrite/wrprotect add NEWPROT only when RW changes.
    #[test]
    fn write_changes_request_a_protection_sync() {
        let ro = Pte::<Um>::from_raw(0x123_4000 | 0xc1);
        assert_eq!(Um::pte_mkwrite(ro).raw(), 0x123_4000 | 0xe5);
        let rw = Pte::<Um>::from_raw(0x123_4000 | 0xe1);
        assert_eq!(Um::pte_mkwrite(rw), rw);
        assert_eq!(Um::pte_wrprotect(rw).raw(), 0x123_4000 | 0xc5);
        assert_eq!(Um::pte_wrprotect(ro), ro);
    }

    // The documented deviation: a PROT_NONE pte is never pte_write.
    #[test]
    fn protnone_pte_never_reads_writable() {
        let none = Um::pfn_pte(1, Um::pte_pgprot(Protection::None)).unwrap();
        let w = Um::pte_mkwrite(none);
        assert_ne!(w.raw() & RW, 0);
        assert!(!Um::pte_write(w));
        // Every other protection keeps LAW-PTE-FLAGS's write half.
        for prot in [
            Protection::Read,
            Protection::ReadWrite,
            Protection::ReadExec,
            Protection::ReadWriteExec,
        ] {
            let pte = Um::pfn_pte(1, Um::pte_pgprot(prot)).unwrap();
            assert!(Um::pte_write(Um::pte_mkwrite(pte)));
            assert!(!Um::pte_write(Um::pte_wrprotect(pte)));
        }
    }

    // Kernel vectors: __swp_entry = type << 5 | offset << 11, stored with NEWPAGE.
    #[test]
    fn swap_entries_carry_newpage_and_round_trip() {
        let pte = Um::swp_entry_to_pte(SwpEntry::new::<Um>(3, 0x10).unwrap());
        assert_eq!(pte.raw(), 0x8000 | 0x60 | 0x2);
        assert!(pte.is_swap());
        assert_eq!(
            Um::pte_to_swp_entry(pte),
            SwpEntry::from_parts_unchecked(3, 0x10)
        );
        // Without NEWPAGE (as __swp_entry_to_pte alone builds it) it decodes the same.
        assert_eq!(
            Um::pte_to_swp_entry(Pte::from_raw(0x8060)),
            SwpEntry::from_parts_unchecked(3, 0x10)
        );
    }

    // Kernel vectors: pmd_populate = _PAGE_TABLE + phys; pmd_bad ignores USER only.
    #[test]
    fn table_pmd_is_page_table_plus_phys() {
        let pmd = Um::pmd_populate(0x1234).unwrap();
        assert_eq!(pmd.raw(), 0x123_41e1);
        assert_eq!(pmd.pfn(), 0x1234);
        assert!(pmd.present() && !pmd.none() && !Um::pmd_bad(pmd));
        assert!(!Um::pmd_bad(Pmd::from_raw(0x123_41a1)));
        assert!(Um::pmd_bad(Pmd::from_raw(0x123_41e3)));
    }
}
