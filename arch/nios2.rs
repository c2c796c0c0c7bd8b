//! nios2 (Nios II with MMU), as Linux v6.12 encodes it.
//!
//! Follows arch/nios2/include/asm/{pgtable.h, pgtable-bits.h, pgalloc.h, page.h} and
//! arch/nios2/mm/{init.c, pgtable.c}, with the Kconfig defaults (arch/nios2/Kconfig,
//! arch/nios2/platform/Kconfig.platform): `NIOS2_KERNEL_REGION_BASE` 0xc0000000,
//! `NIOS2_IO_REGION_BASE` 0xe0000000, `NIOS2_MEM_BASE` 0, 4 KiB pages. Points worth knowing:
//! - **Two levels**: the pmd is folded (`pgtable-nopmd.h`), so our [`Pmd`] is the pgd slot;
//!   `PGDIR_SHIFT` 22 is our `pmd_shift`. No THP.
//! - The pte is the hardware `tlbacc` layout: **pfn in bits 0–19, unshifted**, flags above.
//! - **`pte_clear` stores `(addr >> PAGE_SHIFT) & 0xf`**: the empty pte depends on the
//!   address, and `pte_none` ignores bits 0–3 (and GLOBAL) to match.
//! - **The empty pgd slot is the kernel address of `invalid_pte_table`**, a zeroed page in
//!   the kernel's .bss; `pmd_none` accepts it or 0. A table pgd slot holds the pte page's
//!   kernel virtual address (`page_address`), not a pfn with flags.
//! - `ARCH_NO_SWAP`, but migration entries use the swap format; its type-0 entries with
//!   offsets below 16 read as `pte_none` (see [`Nios2::LAW_DEVIATIONS`]).
//! - Not selected: `ARCH_HAS_PTE_SPECIAL` (no special bit), NUMA balancing (so
//!   `pte_protnone` is the generic 0), THP.
//!
//! **pfn width.** The pte's pfn field has 20 bits, but a pgd slot stores the pte page's
//! kernel virtual address `PAGE_OFFSET + (pfn << 12)` (`__va` with `PHYS_OFFSET` =
//! `NIOS2_MEM_BASE` = 0), and that direct map is the kernel region 0xc0000000–0xdfffffff
//! (512 MiB, below the I/O region at 0xe0000000). nios2 has no highmem, so every page Linux
//! manages — page-table pages included — lies there: `pfn_bits` is 17. (The VA would merely
//! overflow 32 bits from pfn 2^18.)

use core::fmt;

use bitflags::bitflags;

use crate::arch_id::{Arch, ArchId, Geometry};
use crate::decode::write_flags;
use crate::entry::{PgProt, Pmd, PmdOps, Protection, Pte, PteOps, SwpEntry};
use crate::laws::{Deviation, LawId};

/// The nios2 backend (2 levels, 4 KiB pages, no THP).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Nios2;

bitflags! {
    /// nios2 pte flag bits (`_PAGE_*`, pgtable-bits.h): hardware `tlbacc` bits 20–24,
    /// software bits 25–27, and the swap-only exclusive marker.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Flags: u32 {
        /// `_PAGE_GLOBAL` (G).
        const GLOBAL = 1 << 20;
        /// `_PAGE_EXEC` (X).
        const EXEC = 1 << 21;
        /// `_PAGE_WRITE` (W).
        const WRITE = 1 << 22;
        /// `_PAGE_READ` (R).
        const READ = 1 << 23;
        /// `_PAGE_CACHED` (C).
        const CACHED = 1 << 24;
        /// `_PAGE_PRESENT` (software).
        const PRESENT = 1 << 25;
        /// `_PAGE_ACCESSED` (software).
        const ACCESSED = 1 << 26;
        /// `_PAGE_DIRTY` (software).
        const DIRTY = 1 << 27;
        /// `_PAGE_SWP_EXCLUSIVE`: swap ptes only.
        const SWP_EXCLUSIVE = 1 << 31;
    }
}

/// `PAGE_SHIFT`.
pub const PAGE_SHIFT: u32 = 12;
/// `~PAGE_MASK`: the in-page offset bits.
pub const PAGE_OFFSET_MASK: u32 = (1 << PAGE_SHIFT) - 1;
/// `_PAGE_PRESENT`.
pub const PRESENT: u32 = Flags::PRESENT.bits();
/// `_PAGE_GLOBAL`.
pub const GLOBAL: u32 = Flags::GLOBAL.bits();
/// The pfn field (`pte_pfn` masks 0xfffff; `PFN_PTE_SHIFT` is 0).
pub const PTE_PFN_MASK: u32 = 0xfffff;
/// What `pte_none` ignores: GLOBAL and the four address bits `pte_clear` leaves behind.
pub const PTE_NONE_IGNORED: u32 = GLOBAL | 0xf;
/// `CONFIG_NIOS2_KERNEL_REGION_BASE` (Kconfig default).
pub const KERNEL_REGION_BASE: u32 = 0xc000_0000;
/// `CONFIG_NIOS2_MEM_BASE` (Kconfig default): `PHYS_OFFSET`.
pub const PHYS_OFFSET: u32 = 0;
/// `PAGE_OFFSET` = `NIOS2_MEM_BASE + NIOS2_KERNEL_REGION_BASE` (page.h).
pub const PAGE_OFFSET: u32 = PHYS_OFFSET + KERNEL_REGION_BASE;
/// The pfn of `invalid_pte_table` in this model. The real array is a page-aligned .bss
/// object of vmlinux (arch/nios2/mm/init.c) whose address depends on the build; the model
/// fixes it at 4 MiB above `PAGE_OFFSET`, the page after a model 4 MiB kernel image loaded at
/// `NIOS2_MEM_BASE`. `pmd_populate` of this pfn is refused ([`Error::ReservedPfn`](crate::Error::ReservedPfn)).
pub const INVALID_PTE_TABLE_PFN: u64 = 0x400;
/// The kernel virtual address of `invalid_pte_table`: what `pmd_clear` and `pgd_init` store.
pub const INVALID_PTE_TABLE: u32 = PAGE_OFFSET + ((INVALID_PTE_TABLE_PFN as u32) << PAGE_SHIFT);
/// Width of the pfns this backend accepts: the 512 MiB kernel region (see the module doc).
pub const PFN_BITS: u32 = 17;
/// `PAGE_NONE` = `MKP(0, 0, 0)` = PRESENT | CACHED.
pub const PAGE_NONE: u32 = mkp(false, false, false);
/// Width of the swap type field (bits 26–30).
pub const SWP_TYPE_BITS: u32 = 5;
/// Shift of the swap type field.
pub const SWP_TYPE_SHIFT: u32 = 26;
/// Width of the swap offset field (bits 0–19).
pub const SWP_OFFSET_BITS: u32 = 20;

/// `MKP(x, w, r)` (pgtable.h): PRESENT | CACHED plus the requested hardware permissions.
pub const fn mkp(x: bool, w: bool, r: bool) -> u32 {
    let mut v = PRESENT | Flags::CACHED.bits();
    if x {
        v |= Flags::EXEC.bits();
    }
    if r {
        v |= Flags::READ.bits();
    }
    if w {
        v |= Flags::WRITE.bits();
    }
    v
}
/// `pte_clear`'s value at `addr`: the low four bits of the virtual page number.
pub const fn pte_empty(addr: u64) -> u32 {
    // At most 0xf: the cast keeps every bit.
    ((addr >> PAGE_SHIFT) & 0xf) as u32
}
/// `pte_none`: nothing but GLOBAL and bits 0–3.
pub const fn pte_none(v: u32) -> bool {
    v & !PTE_NONE_IGNORED == 0
}
/// Returns whether the pte is present: `_PAGE_PRESENT` set (`pte_present`).
pub const fn pte_present(v: u32) -> bool {
    v & PRESENT != 0
}
/// Returns the pfn: bits 0–19 of the pte, unshifted (`pte_pfn`).
pub const fn pte_pfn(v: u32) -> u32 {
    v & PTE_PFN_MASK
}
/// `pfn_pte`: the pfn ORed in unshifted.
pub const fn pfn_pte(pfn: u32, prot: u32) -> u32 {
    pfn | prot
}
/// `__swp_entry` as a pte: type at bits 26–30, offset at bits 0–19.
pub const fn swp_entry(ty: u32, offset: u32) -> u32 {
    ((ty & 0x1f) << SWP_TYPE_SHIFT) | (offset & 0xfffff)
}
/// Returns the swap type: bits 26–30 (`__swp_type`).
pub const fn swp_type(v: u32) -> u32 {
    (v >> SWP_TYPE_SHIFT) & 0x1f
}
/// Returns the swap offset: bits 0–19 (`__swp_offset`).
pub const fn swp_offset(v: u32) -> u32 {
    v & 0xfffff
}
/// `pmd_none`: the `invalid_pte_table` address, or 0.
pub const fn pmd_none(v: u32) -> bool {
    v == INVALID_PTE_TABLE || v == 0
}
/// `pmd_present`: neither of `pmd_none`'s values.
pub const fn pmd_present(v: u32) -> bool {
    !pmd_none(v)
}
/// `pmd_bad`: an in-page offset where a page address belongs.
pub const fn pmd_bad(v: u32) -> bool {
    v & PAGE_OFFSET_MASK != 0
}
/// `pmd_populate`: `page_address` of the pte page, i.e. `__va(pfn << PAGE_SHIFT)`.
pub const fn pmd_populate(table_pfn: u32) -> u32 {
    (table_pfn << PAGE_SHIFT)
        .wrapping_add(PAGE_OFFSET)
        .wrapping_sub(PHYS_OFFSET)
}
/// `pmd_pfn`: `virt_to_phys(v) >> PAGE_SHIFT` with `__pa(x) = x - PAGE_OFFSET + PHYS_OFFSET`.
pub const fn pmd_pfn(v: u32) -> u32 {
    v.wrapping_sub(PAGE_OFFSET).wrapping_add(PHYS_OFFSET) >> PAGE_SHIFT
}

/// Narrows a checked pfn (below 2^[`PFN_BITS`]) to the word.
const fn pfn_u32(pfn: u64) -> u32 {
    (pfn & ((1 << PFN_BITS) - 1)) as u32
}

impl Arch for Nios2 {
    type Word = u32;
    const ID: ArchId = ArchId::Nios2;
    const GEOMETRY: Geometry = Geometry {
        page_shift: PAGE_SHIFT,
        pmd_shift: 22,
        ptrs_per_pte: 1024,
        levels: 2,
        pfn_bits: PFN_BITS,
        has_thp: false,
        big_endian: false,
        swap_type_bits: SWP_TYPE_BITS,
        swap_offset_bits: SWP_OFFSET_BITS,
    };
}

/// `protection_map` (arch/nios2/mm/init.c) for a private mapping; `ReadWrite` is the writable
/// form a write fault makes (`pte_mkwrite` of `PAGE_COPY`, i.e. `MKP(0, 1, 1)`).
const fn pgprot(p: Protection) -> u32 {
    match p {
        Protection::None => PAGE_NONE,
        Protection::Read => mkp(false, false, true),
        Protection::ReadWrite => mkp(false, true, true),
        Protection::ReadExec => mkp(true, false, true),
        Protection::ReadWriteExec => mkp(true, true, true),
    }
}

impl PteOps for Nios2 {
    const PTE_FLAG_BITS: u64 = Flags::all().bits() as u64;
    const PTE_PFN_BITS: u64 = PTE_PFN_MASK as u64;

    fn pte_empty(addr: u64) -> Pte<Self> {
        Pte::from_raw(pte_empty(addr))
    }
    fn pte_fresh(_addr: u64) -> Pte<Self> {
        // Generic pte_alloc_one: a zeroed page (GFP_PGTABLE_USER has __GFP_ZERO).
        Pte::from_raw(0)
    }
    forward_pte! {
        test: pte_none, pte_present;
        u64: pte_pfn;
    }
    fn pfn_pte_unchecked(pfn: u64, prot: PgProt<Self>) -> Pte<Self> {
        Pte::from_raw(pfn_pte(pfn_u32(pfn), prot.raw()))
    }
    fn pte_pgprot(prot: Protection) -> PgProt<Self> {
        PgProt::from_raw(pgprot(prot))
    }
    pte_flag_helpers! {
        pte_write / pte_mkwrite / pte_wrprotect = Flags::WRITE.bits();
        pte_dirty / pte_mkdirty / pte_mkclean = Flags::DIRTY.bits();
        pte_young / pte_mkyoung / pte_mkold = Flags::ACCESSED.bits();
    }
    fn swp_entry_to_pte(entry: SwpEntry) -> Pte<Self> {
        // SwpEntry::new checked both widths; the masks in swp_entry keep exactly them.
        Pte::from_raw(swp_entry(entry.ty(), (entry.offset() & 0xfffff) as u32))
    }
    fn pte_to_swp_entry(pte: Pte<Self>) -> SwpEntry {
        SwpEntry::from_parts_unchecked(swp_type(pte.raw()), u64::from(swp_offset(pte.raw())))
    }
    fn fmt_pte_flags(raw: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The pte word is 32 bits: the mask keeps every bit that can be set.
        let flags = (raw & 0xffff_ffff & !u64::from(PTE_PFN_MASK)) as u32;
        write_flags(Flags::from_bits_retain(flags), f)
    }
}

impl PmdOps for Nios2 {
    const LAW_DEVIATIONS: &'static [Deviation] = &[Deviation {
        law: LawId::Swap,
        note: "arch/nios2/include/asm/pgtable.h: a type-0 swap pte is just the offset (bits \
               0-19), and pte_none ignores bits 0-3, so offsets 1-15 read as none; the \
               header's claim that a non-zero offset keeps !pte_none is not enough. Not \
               reachable: nios2 selects ARCH_NO_SWAP, and migration/hwpoison/marker entries \
               use the top types (29-31)",
    }];

    fn pmd_empty() -> Pmd<Self> {
        Pmd::from_raw(INVALID_PTE_TABLE)
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

static_assertions::assert_eq_size!(u32, Pte<Nios2>, Pmd<Nios2>);
static_assertions::const_assert!(INVALID_PTE_TABLE_PFN < 1 << PFN_BITS);
static_assertions::const_assert_eq!(INVALID_PTE_TABLE, 0xc040_0000);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    // Kernel vector: pte_clear stores (addr >> PAGE_SHIFT) & 0xf.
    #[test]
    fn empty_pte_is_the_low_nibble_of_the_page_number() {
        let vals: [(u64, u32); 5] = [
            (0x0, 0),
            (0x1000, 1),
            (0xf000, 0xf),
            (0x10000, 0),
            (0x7fff_e123, 0xe),
        ];
        for (addr, want) in vals {
            let e = Nios2::pte_empty(addr);
            assert_eq!(e.raw(), want, "addr {addr:#x}");
            assert!(e.none() && !e.present());
        }
    }

    // Kernel vector: pte_none masks GLOBAL | 0xf, nothing else.
    #[test]
    fn none_ignores_global_and_the_low_nibble_only() {
        assert!(Pte::<Nios2>::from_raw(0x0010_000f).none());
        assert!(!Pte::<Nios2>::from_raw(0x10).none());
        assert!(!Pte::<Nios2>::from_raw(PRESENT).none());
    }

    // Kernel vectors: protection_map's MKP values (pgtable.h, mm/init.c).
    #[test]
    fn protections_are_mkp_values() {
        assert_eq!(Nios2::pte_pgprot(Protection::None).raw(), 0x0300_0000);
        assert_eq!(Nios2::pte_pgprot(Protection::Read).raw(), 0x0380_0000);
        assert_eq!(Nios2::pte_pgprot(Protection::ReadWrite).raw(), 0x03c0_0000);
        assert_eq!(Nios2::pte_pgprot(Protection::ReadExec).raw(), 0x03a0_0000);
        assert_eq!(
            Nios2::pte_pgprot(Protection::ReadWriteExec).raw(),
            0x03e0_0000
        );
        // PAGE_NONE is present (the software bit), not none.
        let pte = Nios2::pfn_pte(0x1234, Nios2::pte_pgprot(Protection::None)).unwrap();
        assert_eq!(pte.raw(), 0x0300_1234);
        assert!(pte.present() && !pte.none() && !Nios2::pte_protnone(pte));
    }

    // Kernel vector: the pfn is unshifted in bits 0-19.
    #[test]
    fn pfn_sits_unshifted_in_the_low_bits() {
        let pte = Nios2::pfn_pte(0x1_abcd, PgProt::from_raw(mkp(false, true, true))).unwrap();
        assert_eq!(pte.raw(), 0x03c1_abcd);
        assert_eq!(pte.pfn(), 0x1_abcd);
        assert!(matches!(
            Nios2::pfn_pte(1 << PFN_BITS, PgProt::from_raw(PAGE_NONE)),
            Err(Error::PfnTooWide { pfn_bits: 17, .. })
        ));
    }

    // Kernel vectors: pmd_clear stores &invalid_pte_table; pmd_none accepts it and 0.
    #[test]
    fn empty_pmd_is_the_invalid_pte_table_address() {
        let e = Nios2::pmd_empty();
        assert_eq!(e.raw(), 0xc040_0000);
        assert!(e.none() && !e.present());
        assert!(Pmd::<Nios2>::from_raw(0).none());
        assert!(!Pmd::<Nios2>::from_raw(0).present());
    }

    // Kernel vector: pmd_populate stores page_address(pte page) = PAGE_OFFSET + (pfn << 12).
    #[test]
    fn table_pmd_is_the_kernel_address_of_the_pte_page() {
        let pmd = Nios2::pmd_populate(0x1234).unwrap();
        assert_eq!(pmd.raw(), 0xc123_4000);
        assert_eq!(pmd.pfn(), 0x1234);
        assert!(pmd.present() && !pmd.none() && !Nios2::pmd_bad(pmd));
        assert!(Nios2::pmd_bad(Pmd::from_raw(0xc123_4001)));
        let top = Nios2::pmd_populate((1 << PFN_BITS) - 1).unwrap();
        assert_eq!(top.raw(), 0xdfff_f000);
    }

    // The table pfn where invalid_pte_table lives would read as pmd_none.
    #[test]
    fn populating_the_invalid_pte_table_pfn_is_refused() {
        assert_eq!(
            Nios2::pmd_populate(INVALID_PTE_TABLE_PFN),
            Err(Error::ReservedPfn {
                arch: ArchId::Nios2,
                pfn: INVALID_PTE_TABLE_PFN
            })
        );
    }

    // Kernel vectors: __swp_entry puts the type at bit 26 and the offset at bit 0.
    #[test]
    fn swap_type_at_26_offset_at_0() {
        let pte = Nios2::swp_entry_to_pte(SwpEntry::new::<Nios2>(31, 0x12345).unwrap());
        assert_eq!(pte.raw(), 0x7c01_2345);
        assert!(pte.is_swap());
        assert_eq!(
            Nios2::pte_to_swp_entry(pte),
            SwpEntry::from_parts_unchecked(31, 0x12345)
        );
    }

    // The documented deviation: type 0 with an offset below 16 is pte_none.
    #[test]
    fn type_zero_swap_entry_with_small_offset_reads_as_none() {
        let pte = Nios2::swp_entry_to_pte(SwpEntry::new::<Nios2>(0, 0xf).unwrap());
        assert_eq!(pte.raw(), 0xf);
        assert!(pte.none());
        let pte = Nios2::swp_entry_to_pte(SwpEntry::new::<Nios2>(0, 0x10).unwrap());
        assert!(pte.is_swap());
    }

    // No ARCH_HAS_PTE_SPECIAL, no THP.
    #[test]
    fn no_special_bit_and_no_thp() {
        let pte = Nios2::pfn_pte(1, PgProt::from_raw(PAGE_NONE)).unwrap();
        assert!(Nios2::pte_mkspecial(pte).is_err());
        assert_eq!(
            Nios2::mk_huge_pmd(0, Protection::ReadWrite),
            Err(Error::NoTransparentHugepage {
                arch: ArchId::Nios2
            })
        );
    }
}
