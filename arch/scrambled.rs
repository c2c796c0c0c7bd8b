//! A synthetic backend deliberately unlike every real architecture.
//!
//! No Linux architecture encodes entries like this. It exists to catch code — in the engine,
//! the CLI, tests — that reads raw bits instead of asking the helpers ([`PteOps`],
//! [`PmdOps`]). It keeps every law with no deviation, so any failure it provokes elsewhere is
//! a bug in the caller. Geometry is x86_64-like (4 levels, 4 KiB pages, 512 ptes, 2 MiB THP,
//! little-endian 64-bit words) so that only the encoding differs.
//!
//! Each oddity and what it is designed to catch:
//! - **The empty pte and the empty pmd are non-zero** ([`PTE_EMPTY`] `0xdead_0000_0000_5a5a`,
//!   [`PMD_EMPTY`] `0x5a5a_0000_0000_dead`) and differ from each other: catches `raw == 0`
//!   tests for none, zero-filled tables assumed empty, and pte helpers used on pmds.
//! - **The empty pte depends on the address** (bits 8–11 hold a salt from the page and pmd
//!   index; `pte_none` ignores them): catches comparing with one cached empty value instead
//!   of asking `pte_none` (nios2 does this with other bits and another address function).
//! - **The all-zero word is a valid present entry**: at pte level a present, young, clean,
//!   writable, executable page of pfn 0; at pmd level a present table pointing at pfn 0.
//!   Catches `raw != 0` as a presence test, and code that believes a zeroed table is empty
//!   (a zeroed pte table here maps pfn 0 everywhere).
//! - **Presence is an inverted bit high in the word** ([`NOT_PRESENT`], bit 62): catches
//!   `raw & 1` presence tests.
//! - **Write and young are inverted** (`RDONLY` bit 3, `OLD` bit 17); dirty is bit 58,
//!   special bit 1, exec-disable bit 13, PROT_NONE bit 19: catches code that grants a
//!   permission by setting a bit it guessed, or reads x86's bit positions.
//! - **The pfn is rotated** left by 13 inside a 36-bit field at bits 20–55: catches
//!   `raw >> PAGE_SHIFT` pfn extraction, `pfn << PAGE_SHIFT | flags` construction, and
//!   huge-page alignment checks done on raw low bits (an aligned huge pfn's zero bits land in
//!   the middle of the field).
//! - **An invalidated huge pmd** sets `NOT_PRESENT` and its own `SPLITTING` marker (bit 5);
//!   `pmd_present` is "not NOT_PRESENT, or SPLITTING with LEAF". It stays present,
//!   `trans_huge` and not none, yet its raw not-present bit is set: catches code reading the
//!   raw bit during a split. [`PMD_EMPTY`] carries SPLITTING without LEAF: catches tests of
//!   the marker alone.
//! - **Swap entries**: not-present plus a swap mark (bit 61), the type stored inverted at
//!   bits 56–60, the offset XORed with a constant at bits 12–55: catches reading swap fields
//!   raw or assuming an all-zero type/offset encodes as zero bits.
//! - `pte_none`/`pmd_none` compare against whole patterns: any stray bit makes a swap-looking
//!   entry, so code must not "clear" an entry by zeroing it.

use core::fmt;

use bitflags::bitflags;

use crate::arch_id::{Arch, ArchId, Geometry};
use crate::decode::write_flags;
use crate::entry::{PgProt, Pmd, PmdOps, Protection, Pte, PteOps, SwpEntry};
use crate::error::Error;

/// The synthetic scrambled backend (4 levels, 4 KiB pages, 2 MiB THP).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scrambled;

bitflags! {
    /// Scrambled pte flag bits.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct PteFlags: u64 {
        /// Special mapping (`pte_special`).
        const SPECIAL = 1 << 1;
        /// Read-only: the inverted write bit (clear = writable).
        const RDONLY = 1 << 3;
        /// Execute disable.
        const NOEXEC = 1 << 13;
        /// Old: the inverted young bit (clear = young).
        const OLD = 1 << 17;
        /// PROT_NONE: present to Linux, inaccessible to the CPU.
        const PROTNONE = 1 << 19;
        /// Dirty.
        const DIRTY = 1 << 58;
        /// Marks a swap entry (non-present entries only).
        const SWP_MARK = 1 << 61;
        /// Not present: the inverted present bit.
        const NOT_PRESENT = 1 << 62;
    }
}

bitflags! {
    /// Scrambled pmd flag bits.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct PmdFlags: u64 {
        /// Read-only: the inverted write bit.
        const RDONLY = 1 << 3;
        /// Invalidated huge pmd (mid-split): keeps it present with LEAF.
        const SPLITTING = 1 << 5;
        /// A huge (leaf) mapping rather than a table pointer.
        const LEAF = 1 << 6;
        /// Execute disable.
        const NOEXEC = 1 << 13;
        /// Old: the inverted young bit.
        const OLD = 1 << 17;
        /// PROT_NONE.
        const PROTNONE = 1 << 19;
        /// Dirty.
        const DIRTY = 1 << 58;
        /// Marks a swap (migration) entry.
        const SWP_MARK = 1 << 61;
        /// Not present: the inverted present bit.
        const NOT_PRESENT = 1 << 62;
    }
}

/// `PAGE_SHIFT`.
pub const PAGE_SHIFT: u32 = 12;
/// Width of the pfn field (and of a pfn).
pub const PFN_BITS: u32 = 36;
/// The low bit of the pfn field.
pub const PFN_SHIFT: u32 = 20;
/// How far the pfn is rotated left inside its field.
pub const PFN_ROTATE: u32 = 13;
/// A 36-bit mask.
pub const PFN_MASK: u64 = (1 << PFN_BITS) - 1;
/// The pfn field, bits 20–55.
pub const PFN_FIELD: u64 = PFN_MASK << PFN_SHIFT;
/// The not-present bit (same position at both levels).
pub const NOT_PRESENT: u64 = PteFlags::NOT_PRESENT.bits();
/// The swap mark (same position at both levels).
pub const SWP_MARK: u64 = PteFlags::SWP_MARK.bits();
/// The empty pte at an address whose salt is 0.
pub const PTE_EMPTY: u64 = 0xdead_0000_0000_5a5a;
/// The bits of the empty pte that carry the address salt; `pte_none` ignores them.
pub const PTE_EMPTY_SALT: u64 = 0xf00;
/// The empty pmd.
pub const PMD_EMPTY: u64 = 0x5a5a_0000_0000_dead;
/// `SPLITTING`.
pub const SPLITTING: u64 = PmdFlags::SPLITTING.bits();
/// `LEAF`.
pub const LEAF: u64 = PmdFlags::LEAF.bits();
/// Width of the swap type field (bits 56–60, stored inverted).
pub const SWP_TYPE_BITS: u32 = 5;
/// Shift of the swap type field.
pub const SWP_TYPE_SHIFT: u32 = 56;
/// Width of the swap offset field (bits 12–55, XORed with [`SWP_OFFSET_XOR`]).
pub const SWP_OFFSET_BITS: u32 = 44;
/// Shift of the swap offset field.
pub const SWP_OFFSET_SHIFT: u32 = 12;
/// What the swap offset is XORed with.
pub const SWP_OFFSET_XOR: u64 = 0xa5a_5a5a_5a5a;

/// Rotates a 36-bit value left by `r` (0 < r < 36).
const fn rotl36(x: u64, r: u32) -> u64 {
    ((x << r) | (x >> (PFN_BITS - r))) & PFN_MASK
}
/// The pfn field for `pfn` (below 2^36): rotated, then placed at bit 20.
pub const fn pfn_field(pfn: u64) -> u64 {
    rotl36(pfn & PFN_MASK, PFN_ROTATE) << PFN_SHIFT
}
/// The pfn stored in `v`'s field.
pub const fn field_pfn(v: u64) -> u64 {
    rotl36((v >> PFN_SHIFT) & PFN_MASK, PFN_BITS - PFN_ROTATE)
}
/// The salt `pte_empty` mixes into bits 8–11: page index and pmd index, XORed.
pub const fn empty_salt(addr: u64) -> u64 {
    ((addr >> PAGE_SHIFT) ^ (addr >> 21)) & 0xf
}
/// The empty pte at `addr`.
pub const fn pte_empty(addr: u64) -> u64 {
    PTE_EMPTY ^ (empty_salt(addr) << 8)
}
/// `pte_none`: the empty pattern, salt bits aside.
pub const fn pte_none(v: u64) -> bool {
    (v ^ PTE_EMPTY) & !PTE_EMPTY_SALT == 0
}
/// `pte_present`: the not-present bit is clear.
pub const fn pte_present(v: u64) -> bool {
    v & NOT_PRESENT == 0
}
/// Returns whether the pte is PROT_NONE: present with `PROTNONE` (bit 19) set (`pte_protnone`).
pub const fn pte_protnone(v: u64) -> bool {
    pte_present(v) && v & PteFlags::PROTNONE.bits() != 0
}
/// Returns a pte mapping `pfn`: the rotated pfn field at bits 20–55, ORed with `prot` (`pfn_pte`).
pub const fn pfn_pte(pfn: u64, prot: u64) -> u64 {
    pfn_field(pfn) | prot
}
/// `__swp_entry` as a pte.
pub const fn swp_entry(ty: u64, offset: u64) -> u64 {
    NOT_PRESENT
        | SWP_MARK
        | ((!ty & 0x1f) << SWP_TYPE_SHIFT)
        | (((offset ^ SWP_OFFSET_XOR) & ((1 << SWP_OFFSET_BITS) - 1)) << SWP_OFFSET_SHIFT)
}
/// Returns the swap type: bits 56–60, stored inverted (`__swp_type`).
pub const fn swp_type(v: u64) -> u64 {
    !(v >> SWP_TYPE_SHIFT) & 0x1f
}
/// Returns the swap offset: bits 12–55, XORed with `SWP_OFFSET_XOR` (`__swp_offset`).
pub const fn swp_offset(v: u64) -> u64 {
    ((v >> SWP_OFFSET_SHIFT) & ((1 << SWP_OFFSET_BITS) - 1)) ^ SWP_OFFSET_XOR
}
/// `pmd_none`: exactly the empty pattern.
pub const fn pmd_none(v: u64) -> bool {
    v == PMD_EMPTY
}
/// `pmd_present`: not NOT_PRESENT, or an invalidated huge pmd (SPLITTING with LEAF).
pub const fn pmd_present(v: u64) -> bool {
    v & NOT_PRESENT == 0 || v & (SPLITTING | LEAF) == SPLITTING | LEAF
}
/// Returns whether the pmd is a leaf: `LEAF` (bit 6) set (`pmd_leaf`).
pub const fn pmd_leaf(v: u64) -> bool {
    v & LEAF != 0
}
/// `pmd_trans_huge`: a present leaf (invalidated ones included).
pub const fn pmd_trans_huge(v: u64) -> bool {
    pmd_leaf(v) && pmd_present(v)
}
/// `pmd_bad`: a table pmd is the bare pfn field; anything else is bad.
pub const fn pmd_bad(v: u64) -> bool {
    v & !PFN_FIELD != 0
}
/// `pmd_protnone`: a present huge pmd with `PROTNONE` (bit 19).
pub const fn pmd_protnone(v: u64) -> bool {
    pmd_trans_huge(v) && v & PmdFlags::PROTNONE.bits() != 0
}
/// Returns whether the (synthetic) MMU uses the pmd: `NOT_PRESENT` clear. PROT_NONE keeps it
/// valid (access is denied by the PROTNONE bit, as powerpc denies it by privilege).
pub const fn pmd_hw_valid(v: u64) -> bool {
    v & NOT_PRESENT == 0
}
/// `pmd_mkinvalid`: NOT_PRESENT plus the SPLITTING marker.
pub const fn pmd_mkinvalid(v: u64) -> u64 {
    v | NOT_PRESENT | SPLITTING
}

impl Arch for Scrambled {
    type Word = u64;
    const ID: ArchId = ArchId::Scrambled;
    const GEOMETRY: Geometry = Geometry {
        page_shift: PAGE_SHIFT,
        pmd_shift: 21,
        ptrs_per_pte: 512,
        levels: 4,
        pfn_bits: PFN_BITS,
        has_thp: true,
        big_endian: false,
        swap_type_bits: SWP_TYPE_BITS,
        swap_offset_bits: SWP_OFFSET_BITS,
    };
}

/// The flags for a protection, the same at both levels (pmds add LEAF). Read-write-exec is
/// all zero, so `pfn_pte(0, ReadWriteExec)` is the all-zero word.
const fn pgprot(p: Protection) -> u64 {
    const RO: u64 = PteFlags::RDONLY.bits();
    const NX: u64 = PteFlags::NOEXEC.bits();
    match p {
        Protection::None => PteFlags::PROTNONE.bits() | RO | NX,
        Protection::Read => RO | NX,
        Protection::ReadWrite => NX,
        Protection::ReadExec => RO,
        Protection::ReadWriteExec => 0,
    }
}

impl PteOps for Scrambled {
    const PTE_FLAG_BITS: u64 = PteFlags::all().bits();
    const PTE_PFN_BITS: u64 = PFN_FIELD;

    fn pte_empty(addr: u64) -> Pte<Self> {
        Pte::from_raw(pte_empty(addr))
    }
    forward_pte! {
        test: pte_none, pte_present, pte_protnone;
    }
    fn pte_pfn(pte: Pte<Self>) -> u64 {
        field_pfn(pte.raw())
    }
    fn pfn_pte_unchecked(pfn: u64, prot: PgProt<Self>) -> Pte<Self> {
        Pte::from_raw(pfn_pte(pfn, prot.raw()))
    }
    fn pte_pgprot(prot: Protection) -> PgProt<Self> {
        PgProt::from_raw(pgprot(prot))
    }
    fn pte_write(pte: Pte<Self>) -> bool {
        pte.raw() & PteFlags::RDONLY.bits() == 0
    }
    fn pte_mkwrite(pte: Pte<Self>) -> Pte<Self> {
        Pte::from_raw(pte.raw() & !PteFlags::RDONLY.bits())
    }
    fn pte_wrprotect(pte: Pte<Self>) -> Pte<Self> {
        Pte::from_raw(pte.raw() | PteFlags::RDONLY.bits())
    }
    fn pte_dirty(pte: Pte<Self>) -> bool {
        pte.raw() & PteFlags::DIRTY.bits() != 0
    }
    fn pte_mkdirty(pte: Pte<Self>) -> Pte<Self> {
        Pte::from_raw(pte.raw() | PteFlags::DIRTY.bits())
    }
    fn pte_mkclean(pte: Pte<Self>) -> Pte<Self> {
        Pte::from_raw(pte.raw() & !PteFlags::DIRTY.bits())
    }
    fn pte_young(pte: Pte<Self>) -> bool {
        pte.raw() & PteFlags::OLD.bits() == 0
    }
    fn pte_mkyoung(pte: Pte<Self>) -> Pte<Self> {
        Pte::from_raw(pte.raw() & !PteFlags::OLD.bits())
    }
    fn pte_mkold(pte: Pte<Self>) -> Pte<Self> {
        Pte::from_raw(pte.raw() | PteFlags::OLD.bits())
    }
    fn pte_special(pte: Pte<Self>) -> bool {
        pte.raw() & PteFlags::SPECIAL.bits() != 0
    }
    fn pte_mkspecial(pte: Pte<Self>) -> Result<Pte<Self>, Error> {
        Ok(Pte::from_raw(pte.raw() | PteFlags::SPECIAL.bits()))
    }
    fn swp_entry_to_pte(entry: SwpEntry) -> Pte<Self> {
        Pte::from_raw(swp_entry(u64::from(entry.ty()), entry.offset()))
    }
    fn pte_to_swp_entry(pte: Pte<Self>) -> SwpEntry {
        // At most 0x1f: the cast keeps every bit.
        SwpEntry::from_parts_unchecked(swp_type(pte.raw()) as u32, swp_offset(pte.raw()))
    }
    fn fmt_pte_flags(raw: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_flags(PteFlags::from_bits_retain(raw & !PFN_FIELD), f)
    }
}

impl PmdOps for Scrambled {
    fn pmd_empty() -> Pmd<Self> {
        Pmd::from_raw(PMD_EMPTY)
    }
    forward_pmd! {
        test: pmd_none, pmd_present, pmd_bad, pmd_leaf, pmd_trans_huge, pmd_protnone,
            pmd_hw_valid;
        try_map: pmd_mkinvalid;
    }
    fn pmd_populate_unchecked(table_pfn: u64) -> Pmd<Self> {
        Pmd::from_raw(pfn_field(table_pfn))
    }
    fn pmd_pfn(pmd: Pmd<Self>) -> u64 {
        field_pfn(pmd.raw())
    }
    fn fmt_pmd_flags(raw: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_flags(PmdFlags::from_bits_retain(raw & !PFN_FIELD), f)
    }
    fn mk_huge_pmd_unchecked(pfn: u64, prot: Protection) -> Result<Pmd<Self>, Error> {
        // pfn_pmd with the protection's flags, then pmd_mkhuge; set_pmd_at changes nothing.
        Ok(Pmd::from_raw(pfn_field(pfn) | pgprot(prot) | LEAF))
    }
    fn pmd_mkhuge(pmd: Pmd<Self>) -> Result<Pmd<Self>, Error> {
        Ok(Pmd::from_raw(pmd.raw() | LEAF))
    }
}

static_assertions::assert_eq_size!(u64, Pte<Scrambled>, Pmd<Scrambled>);
// The patterns are what the doc says: not present, no swap mark, distinct.
static_assertions::const_assert!(!pte_present(PTE_EMPTY) && PTE_EMPTY & SWP_MARK == 0);
static_assertions::const_assert!(!pmd_present(PMD_EMPTY) && PMD_EMPTY & SWP_MARK == 0);
static_assertions::const_assert!(PTE_EMPTY != PMD_EMPTY);
static_assertions::const_assert_eq!(PFN_FIELD, 0x00ff_ffff_fff0_0000);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::laws::{self, Verdict};

    // Oddity: the empty entries are non-zero, none and not present; zero is not none.
    #[test]
    fn empty_is_non_zero_and_none() {
        let e = Scrambled::pte_empty(0);
        assert_eq!(e.raw(), 0xdead_0000_0000_5a5a);
        assert!(e.none() && !e.present());
        let p = Scrambled::pmd_empty();
        assert_eq!(p.raw(), 0x5a5a_0000_0000_dead);
        assert!(p.none() && !p.present() && !p.trans_huge());
        assert!(!Pte::<Scrambled>::from_raw(0).none());
        assert!(!Pmd::<Scrambled>::from_raw(0).none());
        // The pte pattern is not none at pmd level, and vice versa.
        assert!(!Pmd::<Scrambled>::from_raw(PTE_EMPTY).none());
        assert!(!Pte::<Scrambled>::from_raw(PMD_EMPTY).none());
    }

    // Oddity: the empty pte depends on the address; all its forms are none.
    #[test]
    fn empty_pte_carries_an_address_salt() {
        assert_eq!(Scrambled::pte_empty(0x1000).raw(), 0xdead_0000_0000_5b5a);
        assert_eq!(Scrambled::pte_empty(0x20_0000).raw(), 0xdead_0000_0000_5b5a);
        assert_eq!(Scrambled::pte_empty(0x20_1000).raw(), 0xdead_0000_0000_5a5a);
        for addr in (0..64u64).map(|i| i * 0x1000 + (i << 21)) {
            assert!(Scrambled::pte_empty(addr).none());
        }
        // A bit outside the salt makes it not none (and, without a present bit, swap-like).
        assert!(!Pte::<Scrambled>::from_raw(PTE_EMPTY ^ 1).none());
    }

    // Oddity: the all-zero word is a present page of pfn 0 (RWX, young, clean), and a table.
    #[test]
    fn zero_is_a_present_page_and_a_table() {
        let z = Pte::<Scrambled>::from_raw(0);
        assert!(z.present() && !z.none() && z.pfn() == 0);
        assert!(Scrambled::pte_write(z) && Scrambled::pte_young(z));
        assert!(!Scrambled::pte_dirty(z) && !Scrambled::pte_special(z));
        assert!(!Scrambled::pte_protnone(z));
        assert_eq!(
            Scrambled::pfn_pte(0, Scrambled::pte_pgprot(Protection::ReadWriteExec)),
            Ok(z)
        );
        let t = Pmd::<Scrambled>::from_raw(0);
        assert!(t.present() && !t.none() && !t.trans_huge() && t.pfn() == 0);
        assert!(!Scrambled::pmd_bad(t) && !Scrambled::pmd_leaf(t));
        assert_eq!(Scrambled::pmd_populate(0), Ok(t));
    }

    // Oddity: the pfn is rotated inside bits 20-55, not shifted by PAGE_SHIFT.
    #[test]
    fn pfn_is_rotated_not_shifted() {
        let pte = Scrambled::pfn_pte(1, Scrambled::pte_pgprot(Protection::ReadWriteExec)).unwrap();
        assert_eq!(pte.raw(), 1 << (20 + 13));
        let top = Scrambled::pfn_pte(1 << 35, PgProt::from_raw(0)).unwrap();
        assert_eq!(top.raw(), 1 << (20 + 12));
        assert_eq!(top.pfn(), 1 << 35);
        // A 2 MiB-aligned huge pfn's zero low bits sit in the middle of the field.
        let huge = Scrambled::mk_huge_pmd(0x200, Protection::ReadWriteExec).unwrap();
        assert_eq!(huge.raw(), (0x200 << (20 + 13)) | LEAF);
        assert_ne!(huge.raw() >> PAGE_SHIFT, 0x200);
        assert!(Scrambled::pfn_pte(1 << 36, PgProt::from_raw(0)).is_err());
    }

    // Oddity: present, write and young are inverted bits.
    #[test]
    fn presence_write_and_young_are_inverted() {
        let pte = Pte::<Scrambled>::from_raw(0x1234 << 20);
        assert!(pte.present());
        let ro = Scrambled::pte_wrprotect(pte);
        assert_eq!(ro.raw() ^ pte.raw(), PteFlags::RDONLY.bits());
        assert!(!Scrambled::pte_write(ro));
        let old = Scrambled::pte_mkold(pte);
        assert_eq!(old.raw() ^ pte.raw(), PteFlags::OLD.bits());
        assert!(!Scrambled::pte_young(old));
        assert!(!Pte::<Scrambled>::from_raw(NOT_PRESENT | SWP_MARK).present());
        // The low bit means nothing here.
        assert!(Pte::<Scrambled>::from_raw(1 << 20).present());
    }

    // Oddity: PROT_NONE is present and protnone via its own bit.
    #[test]
    fn prot_none_is_present_and_protnone() {
        let pte = Scrambled::pfn_pte(7, Scrambled::pte_pgprot(Protection::None)).unwrap();
        assert!(pte.present() && Scrambled::pte_protnone(pte) && pte.pfn() == 7);
    }

    // Oddity: an invalidated THP has NOT_PRESENT set yet stays present via SPLITTING + LEAF.
    #[test]
    fn invalidated_huge_pmd_keeps_present_through_its_marker() {
        let huge = Scrambled::mk_huge_pmd(0x400, Protection::ReadWrite).unwrap();
        let inv = Scrambled::pmdp_invalidate(huge).unwrap();
        assert_eq!(inv.raw() ^ huge.raw(), NOT_PRESENT | SPLITTING);
        assert!(inv.present() && inv.trans_huge() && !inv.none());
        assert_eq!(inv.pfn(), 0x400);
        assert_eq!(Scrambled::pmdp_invalidate(inv), Ok(inv));
        // The marker alone (as in the empty pmd) is not enough.
        assert!(!Pmd::<Scrambled>::from_raw(NOT_PRESENT | SPLITTING).present());
    }

    // Oddity: swap type stored inverted, offset XORed; the entry is neither none nor present.
    #[test]
    fn swap_fields_are_scrambled() {
        let pte = Scrambled::swp_entry_to_pte(SwpEntry::new::<Scrambled>(0, 1).unwrap());
        assert_eq!(
            pte.raw(),
            NOT_PRESENT | SWP_MARK | (0x1f << 56) | ((1 ^ SWP_OFFSET_XOR) << 12)
        );
        assert!(pte.is_swap());
        assert_eq!(
            Scrambled::pte_to_swp_entry(pte),
            SwpEntry::from_parts_unchecked(0, 1)
        );
        // As a pmd (THP migration) it is neither none, present nor trans_huge.
        let pmd = Pmd::<Scrambled>::from_raw(pte.raw());
        assert!(!pmd.none() && !pmd.present() && !pmd.trans_huge());
    }

    // It keeps every law, with no deviation.
    #[test]
    fn every_law_holds() {
        assert!(Scrambled::LAW_DEVIATIONS.is_empty());
        let report = laws::check::<Scrambled>();
        for r in &report.results {
            assert_eq!(r.verdict, Verdict::Holds, "{} {:?}", r.law, r.witness);
        }
    }
}
