//! The helper traits: Linux's pte/pmd helper vocabulary, implemented by every backend.
//!
//! Generic mm code in Linux is written once against a small set of helpers (`pte_none`,
//! `pmd_present`, `pmd_trans_huge`, `pmdp_invalidate`, ...) that each architecture implements
//! over its own bit layout. [`PteOps`] and [`PmdOps`] are that vocabulary, with Linux's names.
//! Entries are typed newtypes over the architecture's word ([`Pte`], [`Pmd`]); every bit of
//! the word is kept, including bits no backend names.
//!
//! # Laws
//! Every backend is checked against these (see [`crate::laws`], one law id each):
//! - the empty entry (`pte_clear`'s value, at every address) is none and not present;
//! - `pte_pfn(pfn_pte(pfn, prot)) == pfn`, and likewise for pmds;
//! - swap entries round-trip and are neither none nor present;
//! - a huge pmd after `pmdp_invalidate` is not none, still `trans_huge`, and still
//!   `present` (Linux's debug_vm_pgtable rule; documented deviations are listed per backend);
//! - invalidate is idempotent and keeps the pfn;
//! - the flag helpers do what they say and never touch bits outside the named ones.

use core::cmp::Ordering;
use core::fmt;
use core::hash::{Hash, Hasher};
use core::marker::PhantomData;
use core::ops::{BitAnd, BitOr, BitXor, Not};

use crate::arch_id::Arch;
use crate::error::Error;

/// A page-table word: `u32` or `u64`, whatever the host.
pub trait EntryWord:
    Copy
    + Eq
    + Ord
    + Hash
    + Default
    + fmt::Debug
    + fmt::LowerHex
    + Send
    + Sync
    + 'static
    + BitAnd<Output = Self>
    + BitOr<Output = Self>
    + BitXor<Output = Self>
    + Not<Output = Self>
{
    /// Width in bits.
    const BITS: u32;
    /// The all-zero word (which is *not* the empty entry on every architecture).
    const ZERO: Self;
    /// The word as bytes in memory.
    type Bytes: AsRef<[u8]> + AsMut<[u8]> + Copy + Default + fmt::Debug + Eq;

    /// Returns the word widened to 64 bits.
    fn to_u64(self) -> u64;
    /// Returns the word if `v` fits, `None` if it has bits above [`Self::BITS`].
    fn try_from_u64(v: u64) -> Option<Self>;
    /// Returns the bytes in the given byte order.
    fn to_bytes(self, big_endian: bool) -> Self::Bytes;
    /// Reads a word from bytes in the given byte order.
    fn from_bytes(bytes: Self::Bytes, big_endian: bool) -> Self;
    /// Returns the bytes as this host stores the word in memory.
    fn to_ne_bytes(self) -> Self::Bytes;
}

macro_rules! entry_word {
    ($t:ty, $n:literal) => {
        impl EntryWord for $t {
            const BITS: u32 = <$t>::BITS;
            const ZERO: Self = 0;
            type Bytes = [u8; $n];

            #[inline(always)]
            fn to_u64(self) -> u64 {
                self as u64
            }
            #[inline(always)]
            fn try_from_u64(v: u64) -> Option<Self> {
                <$t>::try_from(v).ok()
            }
            #[inline]
            fn to_bytes(self, big_endian: bool) -> Self::Bytes {
                if big_endian {
                    self.to_be_bytes()
                } else {
                    self.to_le_bytes()
                }
            }
            #[inline]
            fn from_bytes(bytes: Self::Bytes, big_endian: bool) -> Self {
                if big_endian {
                    <$t>::from_be_bytes(bytes)
                } else {
                    <$t>::from_le_bytes(bytes)
                }
            }
            #[inline]
            fn to_ne_bytes(self) -> Self::Bytes {
                <$t>::to_ne_bytes(self)
            }
        }
    };
}
entry_word!(u32, 4);
entry_word!(u64, 8);

macro_rules! entry_newtype {
    ($(#[$doc:meta])* $name:ident, $level:literal) => {
        $(#[$doc])*
        #[repr(transparent)]
        pub struct $name<A: Arch> {
            raw: A::Word,
            arch: PhantomData<A>,
        }

        impl<A: Arch> $name<A> {
            /// Wraps a raw word exactly as the MMU (or Linux) stores it.
            #[inline(always)]
            pub const fn from_raw(raw: A::Word) -> Self {
                Self { raw, arch: PhantomData }
            }
            /// Returns the raw word.
            #[inline(always)]
            pub const fn raw(self) -> A::Word {
                self.raw
            }
            /// Returns the raw word widened to 64 bits.
            #[inline(always)]
            pub fn raw_u64(self) -> u64 {
                self.raw.to_u64()
            }
            /// Wraps a 64-bit value, failing if it is wider than this architecture's word.
            pub fn try_from_u64(raw: u64) -> Result<Self, Error> {
                A::Word::try_from_u64(raw).map(Self::from_raw).ok_or(Error::ValueTooWide {
                    arch: A::ID,
                    value: raw,
                    word_bits: A::Word::BITS,
                })
            }
            /// Returns the bytes as this architecture's MMU reads them from memory
            /// (big-endian on s390 and powerpc book3s64), whatever the host's byte order.
            #[inline]
            pub fn to_mmu_bytes(self) -> <A::Word as EntryWord>::Bytes {
                self.raw.to_bytes(A::GEOMETRY.big_endian)
            }
            /// Reads an entry from memory laid out as this architecture's MMU reads it.
            #[inline]
            pub fn from_mmu_bytes(bytes: <A::Word as EntryWord>::Bytes) -> Self {
                Self::from_raw(A::Word::from_bytes(bytes, A::GEOMETRY.big_endian))
            }
        }

        impl<A: Arch> Clone for $name<A> {
            #[inline(always)]
            fn clone(&self) -> Self {
                *self
            }
        }
        impl<A: Arch> Copy for $name<A> {}
        impl<A: Arch> PartialEq for $name<A> {
            #[inline(always)]
            fn eq(&self, other: &Self) -> bool {
                self.raw == other.raw
            }
        }
        impl<A: Arch> Eq for $name<A> {}
        impl<A: Arch> PartialOrd for $name<A> {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }
        impl<A: Arch> Ord for $name<A> {
            fn cmp(&self, other: &Self) -> Ordering {
                self.raw.cmp(&other.raw)
            }
        }
        impl<A: Arch> Hash for $name<A> {
            #[inline(always)]
            fn hash<H: Hasher>(&self, state: &mut H) {
                self.raw.hash(state)
            }
        }
        impl<A: Arch> fmt::LowerHex for $name<A> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::LowerHex::fmt(&self.raw, f)
            }
        }
    };
}

entry_newtype!(
    /// A page-table entry of architecture `A`: the architecture's word, every bit kept.
    ///
    /// # Example
    /// With the `s390` feature:
    /// ```
    /// # #[cfg(feature = "s390")] {
    /// use pgtable::arch::S390;
    /// use pgtable::{Pte, PteOps};
    /// // s390's empty pte is 0x400 (_PAGE_INVALID), not zero.
    /// let empty = S390::pte_empty(0);
    /// assert_eq!(empty.raw(), 0x400);
    /// assert!(empty.none());
    /// assert!(!Pte::<S390>::from_raw(0).none());
    /// # }
    /// ```
    Pte,
    "pte"
);
entry_newtype!(
    /// A page-middle-directory entry of architecture `A`: a table pointer, a huge (leaf)
    /// mapping, an invalidated huge mapping mid-split, or empty.
    Pmd,
    "pmd"
);

/// A protection a mapping asks for: the generic side of `vm_get_page_prot`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protection {
    /// `PROT_NONE`: present to Linux, inaccessible to the CPU (NUMA hinting uses it too).
    None,
    /// Read only.
    Read,
    /// Read and write (a private writable mapping after the write fault).
    ReadWrite,
    /// Read and execute.
    ReadExec,
    /// Read, write and execute.
    ReadWriteExec,
}

impl Protection {
    /// Every protection, for exhaustive tests.
    pub const ALL: [Protection; 5] = [
        Protection::None,
        Protection::Read,
        Protection::ReadWrite,
        Protection::ReadExec,
        Protection::ReadWriteExec,
    ];

    /// Returns whether the mapping may be written.
    pub const fn writable(self) -> bool {
        matches!(self, Protection::ReadWrite | Protection::ReadWriteExec)
    }

    /// Returns the protection without write: the `vm_page_prot` that `vm_get_page_prot`
    /// gives a private mapping (`PAGE_COPY`), whose write access comes from `pte_mkwrite`
    /// at fault time.
    pub const fn read_only(self) -> Protection {
        match self {
            Protection::ReadWrite => Protection::Read,
            Protection::ReadWriteExec => Protection::ReadExec,
            p => p,
        }
    }
}

/// An architecture's protection bits (`pgprot_t`), ready to combine with a pfn.
pub struct PgProt<A: Arch> {
    raw: A::Word,
    arch: PhantomData<A>,
}

impl<A: Arch> PgProt<A> {
    /// Wraps raw protection bits.
    #[inline(always)]
    pub const fn from_raw(raw: A::Word) -> Self {
        Self {
            raw,
            arch: PhantomData,
        }
    }
    /// Returns the raw protection bits.
    #[inline(always)]
    pub const fn raw(self) -> A::Word {
        self.raw
    }
}
impl<A: Arch> Clone for PgProt<A> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<A: Arch> Copy for PgProt<A> {}
impl<A: Arch> PartialEq for PgProt<A> {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}
impl<A: Arch> Eq for PgProt<A> {}
impl<A: Arch> fmt::Debug for PgProt<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PgProt<{}>({:#x})", A::ID.name(), self.raw)
    }
}

/// A swap (or migration) entry: Linux's arch-independent `swp_entry_t` split into its parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SwpEntry {
    ty: u32,
    offset: u64,
}

impl SwpEntry {
    /// Builds a swap entry after checking both fields fit architecture `A`'s layout.
    pub fn new<A: Arch>(ty: u32, offset: u64) -> Result<Self, Error> {
        let g = A::GEOMETRY;
        if g.swap_type_bits == 0 {
            return Err(Error::Unsupported {
                arch: A::ID,
                what: "swap entries",
            });
        }
        if u64::from(ty) >> g.swap_type_bits != 0 {
            return Err(Error::SwapTypeOutOfRange {
                arch: A::ID,
                ty,
                type_bits: g.swap_type_bits,
            });
        }
        if g.swap_offset_bits < 64 && offset >> g.swap_offset_bits != 0 {
            return Err(Error::SwapOffsetOutOfRange {
                arch: A::ID,
                offset,
                offset_bits: g.swap_offset_bits,
            });
        }
        Ok(Self { ty, offset })
    }
    /// Builds an entry without range checks; backends use this when decoding a word.
    pub const fn from_parts_unchecked(ty: u32, offset: u64) -> Self {
        Self { ty, offset }
    }
    /// Returns the swap type (the swap device; migration entries use high types).
    pub const fn ty(self) -> u32 {
        self.ty
    }
    /// Returns the offset within the swap device (or the pfn, for migration entries).
    pub const fn offset(self) -> u64 {
        self.offset
    }
}

/// The pte half of Linux's helper vocabulary, as architecture `Self` implements it.
///
/// Each method has the name of the Linux helper it follows and behaves as that
/// architecture's header defines it, differences between architectures included.
pub trait PteOps: Arch {
    /// Every bit a pte flag helper may set or clear (the named flags), widened to 64 bits.
    const PTE_FLAG_BITS: u64;
    /// The bits the pfn field occupies in a pte.
    const PTE_PFN_BITS: u64;

    /// Returns what `pte_clear(mm, addr, ptep)` stores at `addr`: the empty pte. Zero on most
    /// architectures; 0x400 on s390, 0x1c on xtensa, and address-dependent on nios2.
    fn pte_empty(addr: u64) -> Pte<Self>;
    /// Returns what a newly allocated pte table holds at `addr`: the empty value where the
    /// architecture's `pte_alloc_one` fills the table (s390, xtensa), else what a zeroed page
    /// reads as. Defaults to [`PteOps::pte_empty`].
    fn pte_fresh(addr: u64) -> Pte<Self> {
        Self::pte_empty(addr)
    }
    /// `pte_none`: the slot maps nothing and holds no swap entry.
    fn pte_none(pte: Pte<Self>) -> bool;
    /// `pte_present`: the entry maps a page (PROT_NONE and NUMA-hinting entries included).
    fn pte_present(pte: Pte<Self>) -> bool;
    /// `pte_protnone`: present to Linux but inaccessible to the CPU. The default is
    /// include/linux/pgtable.h's stub for architectures without NUMA balancing: `false`.
    fn pte_protnone(pte: Pte<Self>) -> bool {
        let _ = pte;
        false
    }
    /// `pte_pfn`: the page frame number a present entry maps.
    fn pte_pfn(pte: Pte<Self>) -> u64;
    /// `pfn_pte` without the width check: the caller has checked `pfn` (see [`PteOps::pfn_pte`]).
    fn pfn_pte_unchecked(pfn: u64, prot: PgProt<Self>) -> Pte<Self>;
    /// `vm_get_page_prot` for a private mapping: the pgprot for `prot` (`PAGE_NONE`,
    /// `PAGE_READONLY`, `PAGE_COPY`, ...).
    fn pte_pgprot(prot: Protection) -> PgProt<Self>;

    /// Returns whether the pte allows writes (`pte_write`).
    fn pte_write(pte: Pte<Self>) -> bool;
    /// Returns the pte with writes allowed (`pte_mkwrite`, `pte_mkwrite_novma` since v6.6).
    fn pte_mkwrite(pte: Pte<Self>) -> Pte<Self>;
    /// Returns the pte with writes forbidden (`pte_wrprotect`).
    fn pte_wrprotect(pte: Pte<Self>) -> Pte<Self>;
    /// Returns whether the page was written through this pte (`pte_dirty`).
    fn pte_dirty(pte: Pte<Self>) -> bool;
    /// Returns the pte marked written-to (`pte_mkdirty`).
    fn pte_mkdirty(pte: Pte<Self>) -> Pte<Self>;
    /// Returns the pte with its dirty mark cleared (`pte_mkclean`).
    fn pte_mkclean(pte: Pte<Self>) -> Pte<Self>;
    /// Returns whether the page was accessed through this pte since last cleared (`pte_young`).
    fn pte_young(pte: Pte<Self>) -> bool;
    /// `pte_access_permitted(pte, write)`: whether GUP-fast may take the page of a pte
    /// (mm/gup.c:2961 in v6.12). The default is include/linux/pgtable.h:1008's
    /// `pte_present(pte) && (!write || pte_write(pte))`; x86_64, arm, arm64 and powerpc
    /// define their own from the hardware's user/valid bits.
    fn pte_access_permitted(pte: Pte<Self>, write: bool) -> bool {
        Self::pte_present(pte) && (!write || Self::pte_write(pte))
    }
    /// Returns the pte marked accessed (`pte_mkyoung`).
    fn pte_mkyoung(pte: Pte<Self>) -> Pte<Self>;
    /// Returns the pte with its accessed mark cleared (`pte_mkold`).
    fn pte_mkold(pte: Pte<Self>) -> Pte<Self>;
    /// Returns whether the pte maps a special page with no `struct page` behind it that the
    /// kernel counts (`pte_special`). The default is Linux's generic answer where the architecture has no
    /// special bit (`ARCH_HAS_PTE_SPECIAL` unset): `false`.
    fn pte_special(pte: Pte<Self>) -> bool {
        let _ = pte;
        false
    }
    /// Returns the pte marked special (`pte_mkspecial`). The default, for architectures without a special bit, is
    /// [`Error::Unsupported`].
    fn pte_mkspecial(pte: Pte<Self>) -> Result<Pte<Self>, Error> {
        let _ = pte;
        Err(Error::Unsupported {
            arch: Self::ID,
            what: "a special pte bit (ARCH_HAS_PTE_SPECIAL is not selected)",
        })
    }

    /// `__swp_entry_to_pte(__swp_entry(type, offset))`.
    fn swp_entry_to_pte(entry: SwpEntry) -> Pte<Self>;
    /// `__swp_type` / `__swp_offset` of `__pte_to_swp_entry(pte)`; meaningful only for a
    /// swap pte (`!pte_none && !pte_present`).
    fn pte_to_swp_entry(pte: Pte<Self>) -> SwpEntry;

    /// Formats the flag bits of a pte (everything but the pfn field) in bitflags' text form.
    fn fmt_pte_flags(raw: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result;

    /// `pfn_pte`: a pte mapping `pfn` with `prot`.
    ///
    /// # Errors
    /// [`Error::PfnTooWide`] when `pfn` does not fit the architecture's physical address width.
    fn pfn_pte(pfn: u64, prot: PgProt<Self>) -> Result<Pte<Self>, Error> {
        check_pfn::<Self>(pfn)?;
        Ok(Self::pfn_pte_unchecked(pfn, prot))
    }
}

/// The pmd half of Linux's helper vocabulary, including the transparent-huge-page helpers.
///
/// Architectures without THP keep Linux's `!CONFIG_TRANSPARENT_HUGEPAGE` behaviour:
/// `pmd_trans_huge` is false and the huge constructors return
/// [`Error::NoTransparentHugepage`].
pub trait PmdOps: PteOps {
    /// Laws the real architecture does not keep, with the kernel source that shows it.
    const LAW_DEVIATIONS: &'static [crate::laws::Deviation] = &[];

    /// Returns what `pmd_clear` stores: the empty pmd (0x20 on s390, the address of
    /// `invalid_pte_table` on nios2, 0x2 on um, zero elsewhere).
    fn pmd_empty() -> Pmd<Self>;
    /// Returns whether the pmd is empty, as Linux decides it (`pmd_none`; not `raw == 0`).
    fn pmd_none(pmd: Pmd<Self>) -> bool;
    /// Returns whether the pmd points at a pte table or maps a huge page, to Linux
    /// (`pmd_present`; a huge pmd invalidated for a split still is, on fixed kernels).
    fn pmd_present(pmd: Pmd<Self>) -> bool;
    /// `pmd_bad`: neither none nor a valid table pointer (a huge pmd can be "bad": generic
    /// code tests `pmd_trans_huge` first).
    fn pmd_bad(pmd: Pmd<Self>) -> bool;
    /// `pmd_leaf`: a block/section mapping rather than a table pointer. The default is
    /// include/linux/pgtable.h's `false`, for architectures that define none.
    fn pmd_leaf(pmd: Pmd<Self>) -> bool {
        let _ = pmd;
        false
    }
    /// Returns whether the pmd maps a transparent huge page (`pmd_trans_huge`). The default is the `!CONFIG_TRANSPARENT_HUGEPAGE` answer: `false`.
    fn pmd_trans_huge(pmd: Pmd<Self>) -> bool {
        let _ = pmd;
        false
    }
    /// `pmd_protnone`: a huge pmd made inaccessible for NUMA hinting or PROT_NONE (x86_64,
    /// arm64, s390, powerpc define it under `CONFIG_NUMA_BALANCING`). The default is
    /// include/linux/pgtable.h's stub: `false`.
    fn pmd_protnone(pmd: Pmd<Self>) -> bool {
        let _ = pmd;
        false
    }
    /// Returns whether a huge pmd maps PROT_NONE, for decoding: [`PmdOps::pmd_protnone`]
    /// where Linux defines one; 32-bit ARM LPAE, which has no NUMA balancing and so no
    /// `pmd_protnone`, answers from `L_PMD_SECT_NONE`.
    fn pmd_prot_none(pmd: Pmd<Self>) -> bool {
        Self::pmd_protnone(pmd)
    }
    /// Returns whether the MMU would use the pmd as a huge mapping: the architecture's own
    /// valid bit (`_PAGE_PRESENT` on x86_64 and powerpc, bit 0 on arm and arm64,
    /// `!_SEGMENT_ENTRY_INVALID` on s390), read from the bits, never from the helpers whose
    /// answers the checker tests. A PROT_NONE huge pmd is hardware-valid only where the
    /// architecture keeps the entry valid and denies user access otherwise (powerpc's
    /// `_PAGE_PRIVILEGED`). Backends without THP have no huge pmd: the default is `false`
    /// (LAW-HW-VALID checks that every THP backend overrides it).
    fn pmd_hw_valid(pmd: Pmd<Self>) -> bool {
        let _ = pmd;
        false
    }
    /// `pmd_access_permitted(pmd, write)`: whether GUP-fast may take the page of a huge pmd
    /// (mm/gup.c:3142 in v6.12). The default is include/linux/pgtable.h:1013's
    /// `pmd_present(pmd) && (!write || pmd_write(pmd))` (s390, 32-bit ARM LPAE); x86_64,
    /// arm64 and powerpc define their own, from the hardware's user/valid bits.
    fn pmd_access_permitted(pmd: Pmd<Self>, write: bool) -> bool {
        Self::pmd_present(pmd) && (!write || Self::pmd_write(pmd))
    }
    /// `arch_needs_pgtable_deposit`: whether a file THP's pmd keeps a deposited pte table too
    /// (anonymous THPs always do). The default is the generic `false` (include/linux/pgtable.h:944); powerpc's hash MMU
    /// needs one (arch/powerpc/include/asm/book3s/64/pgtable.h:1390 in v6.12).
    fn arch_needs_pgtable_deposit() -> bool {
        false
    }
    /// `pmd_mkdirty`. The default is `pte_pmd(pte_mkdirty(pmd_pte(pmd)))`, which is what
    /// arm64 and powerpc define and what x86_64 and 32-bit ARM LPAE compute (their pmd dirty
    /// and write bits are the pte's); s390 overrides it.
    fn pmd_mkdirty(pmd: Pmd<Self>) -> Pmd<Self> {
        Pmd::from_raw(Self::pte_mkdirty(Pte::from_raw(pmd.raw())).raw())
    }
    /// `pmd_mkwrite_novma`; the default is the pte helper's, as for [`PmdOps::pmd_mkdirty`].
    fn pmd_mkwrite(pmd: Pmd<Self>) -> Pmd<Self> {
        Pmd::from_raw(Self::pte_mkwrite(Pte::from_raw(pmd.raw())).raw())
    }
    /// `pmd_write`: the split's `write` (mm/huge_memory.c:2827 in v6.12). The default is
    /// `pte_write(pmd_pte(pmd))`, as for [`PmdOps::pmd_mkdirty`]; s390 overrides it.
    fn pmd_write(pmd: Pmd<Self>) -> bool {
        Self::pte_write(Pte::from_raw(pmd.raw()))
    }
    /// `pmd_dirty`: the split's `dirty` (mm/huge_memory.c:2823). Default as for
    /// [`PmdOps::pmd_write`].
    fn pmd_dirty(pmd: Pmd<Self>) -> bool {
        Self::pte_dirty(Pte::from_raw(pmd.raw()))
    }
    /// `pmd_young`: the split's `young` (mm/huge_memory.c:2828). Default as for
    /// [`PmdOps::pmd_write`].
    fn pmd_young(pmd: Pmd<Self>) -> bool {
        Self::pte_young(Pte::from_raw(pmd.raw()))
    }
    /// The word the architecture's `set_pmd_at` stores for `pmd`: the value itself except
    /// where `set_pmd_at` rewrites it (32-bit ARM LPAE: VALID cleared for PROT_NONE, AP2 from
    /// write and dirty, nG).
    fn set_pmd_at(pmd: Pmd<Self>) -> Pmd<Self> {
        pmd
    }
    /// `pmd_populate` without the width check: a table pmd pointing at the pte page `table_pfn`.
    fn pmd_populate_unchecked(table_pfn: u64) -> Pmd<Self>;
    /// `pmd_pfn` (`pmd_page` for a table): the pfn a huge pmd maps or a table pmd points to.
    fn pmd_pfn(pmd: Pmd<Self>) -> u64;
    /// Formats the flag bits of a pmd (everything but the address field).
    fn fmt_pmd_flags(raw: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result;

    /// `pfn_pmd` with the huge-page pgprot for `prot`, then `pmd_mkhuge`: what
    /// `mk_huge_pmd` / `do_set_pmd` install. `pfn` is checked by [`PmdOps::mk_huge_pmd`].
    fn mk_huge_pmd_unchecked(pfn: u64, prot: Protection) -> Result<Pmd<Self>, Error> {
        let _ = (pfn, prot);
        Err(Error::NoTransparentHugepage { arch: Self::ID })
    }
    /// Returns the pmd marked as mapping a huge page itself (`pmd_mkhuge`).
    fn pmd_mkhuge(pmd: Pmd<Self>) -> Result<Pmd<Self>, Error> {
        let _ = pmd;
        Err(Error::NoTransparentHugepage { arch: Self::ID })
    }
    /// `pmd_mkinvalid` (called `pmd_mknotpresent` before v5.8): invalidates a present huge pmd.
    #[doc(alias = "pmd_mknotpresent")]
    fn pmd_mkinvalid(pmd: Pmd<Self>) -> Result<Pmd<Self>, Error> {
        let _ = pmd;
        Err(Error::NoTransparentHugepage { arch: Self::ID })
    }
    /// The value `pmdp_invalidate` stores: `pmd_mkinvalid` for the generic helper, the
    /// architecture's own for s390 and powerpc (`__HAVE_ARCH_PMDP_INVALIDATE`).
    fn pmdp_invalidate(pmd: Pmd<Self>) -> Result<Pmd<Self>, Error> {
        Self::pmd_mkinvalid(pmd)
    }
    /// `pmd_populate`: a table pmd pointing at the pte page `table_pfn`.
    ///
    /// # Errors
    /// [`Error::PfnTooWide`] when the table's pfn does not fit the table-pointer field, and
    /// [`Error::ReservedPfn`] where that pfn is the architecture's empty-table marker.
    fn pmd_populate(table_pfn: u64) -> Result<Pmd<Self>, Error> {
        check_pfn::<Self>(table_pfn)?;
        let pmd = Self::pmd_populate_unchecked(table_pfn);
        if Self::pmd_none(pmd) {
            return Err(Error::ReservedPfn {
                arch: Self::ID,
                pfn: table_pfn,
            });
        }
        Ok(pmd)
    }
    /// The huge pmd an anonymous THP fault installs, as v6.12's `do_huge_pmd_anonymous_page`
    /// stores it (mm/huge_memory.c:1248, the same shape in v4.5):
    /// `set_pmd_at(maybe_pmd_mkwrite(pmd_mkdirty(mk_huge_pmd(page, vm_page_prot))))`, written
    /// only where the protection allows writes (`VM_WRITE`). A THP later given another
    /// protection by `mprotect` keeps its dirty bit, so the same value stands for it.
    ///
    /// # Errors
    /// As [`PmdOps::mk_huge_pmd`].
    fn mk_huge_pmd_anon(pfn: u64, prot: Protection) -> Result<Pmd<Self>, Error> {
        let pmd = Self::pmd_mkdirty(Self::mk_huge_pmd(pfn, prot)?);
        let pmd = if prot.writable() {
            Self::pmd_mkwrite(pmd)
        } else {
            pmd
        };
        Ok(Self::set_pmd_at(pmd))
    }
    /// `mk_huge_pmd`: a present huge pmd mapping the huge page starting at `pfn`.
    ///
    /// # Errors
    /// [`Error::NoTransparentHugepage`] without THP, [`Error::PfnTooWide`] beyond the
    /// physical width, [`Error::MisalignedHugePfn`] when `pfn` is not a multiple of the pages
    /// per pmd.
    fn mk_huge_pmd(pfn: u64, prot: Protection) -> Result<Pmd<Self>, Error> {
        let g = Self::GEOMETRY;
        if !g.has_thp {
            return Err(Error::NoTransparentHugepage { arch: Self::ID });
        }
        check_pfn::<Self>(pfn)?;
        let pages = g.pages_per_pmd();
        if pfn % pages != 0 {
            return Err(Error::MisalignedHugePfn {
                arch: Self::ID,
                pfn,
                pages_per_huge: pages,
            });
        }
        Self::mk_huge_pmd_unchecked(pfn, prot)
    }
}

/// Returns `Err(PfnTooWide)` unless `pfn` fits architecture `A`'s physical address width.
pub fn check_pfn<A: Arch>(pfn: u64) -> Result<(), Error> {
    let bits = A::GEOMETRY.pfn_bits;
    if bits < 64 && pfn >> bits != 0 {
        return Err(Error::PfnTooWide {
            arch: A::ID,
            pfn,
            pfn_bits: bits,
        });
    }
    Ok(())
}

impl<A: PteOps> Pte<A> {
    /// Returns whether the pte is empty, as Linux's `pte_none` decides (not `raw == 0`).
    #[inline(always)]
    pub fn none(self) -> bool {
        A::pte_none(self)
    }
    /// Returns whether the pte maps a page, to Linux (`pte_present`; a PROT_NONE pte is
    /// present though the MMU cannot use it).
    #[inline(always)]
    pub fn present(self) -> bool {
        A::pte_present(self)
    }
    /// Returns the page frame number the pte maps (`pte_pfn`; meaningful when present).
    #[inline(always)]
    pub fn pfn(self) -> u64 {
        A::pte_pfn(self)
    }
    /// Returns whether the pte holds a swap or migration entry (`is_swap_pte`: neither none
    /// nor present).
    #[inline(always)]
    pub fn is_swap(self) -> bool {
        !A::pte_none(self) && !A::pte_present(self)
    }
}

impl<A: PmdOps> Pmd<A> {
    /// Returns whether the pmd is empty, as Linux's `pmd_none` decides (not `raw == 0`).
    #[inline(always)]
    pub fn none(self) -> bool {
        A::pmd_none(self)
    }
    /// Returns whether the pmd points at a pte table or maps a huge page, to Linux
    /// (`pmd_present`; an invalidated huge pmd mid-split is still present).
    #[inline(always)]
    pub fn present(self) -> bool {
        A::pmd_present(self)
    }
    /// Returns whether a pmd that is not none is malformed: not a valid table pointer
    /// (`pmd_bad`). Ask it after [`none`](Self::none), as Linux's `pmd_none_or_clear_bad`
    /// does, and after `pmd_trans_huge`: on x86_64 the empty pmd and a huge pmd read as bad.
    #[inline(always)]
    pub fn bad(self) -> bool {
        A::pmd_bad(self)
    }
    /// Returns whether the pmd maps memory itself instead of pointing at a pte table
    /// (`pmd_leaf`).
    #[inline(always)]
    pub fn leaf(self) -> bool {
        A::pmd_leaf(self)
    }
    /// Returns whether the pmd maps a transparent huge page (`pmd_trans_huge`).
    #[inline(always)]
    pub fn trans_huge(self) -> bool {
        A::pmd_trans_huge(self)
    }
    /// Returns the page frame number the pmd maps or points at (`pmd_pfn`).
    #[inline(always)]
    pub fn pfn(self) -> u64 {
        A::pmd_pfn(self)
    }
    /// Returns whether the pmd holds a swap or migration entry, or anything else that is
    /// neither none nor present (`is_swap_pmd`; 32-bit ARM LPAE's invalidated THP is one).
    #[inline(always)]
    pub fn is_swap(self) -> bool {
        !A::pmd_none(self) && !A::pmd_present(self)
    }
}

/// Shows the architecture, the raw word and how the pte helpers read it (only the pte
/// helpers: `Pte<A>` needs no `PmdOps`).
impl<A: PteOps> fmt::Debug for Pte<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// The backend's flag names for a raw word, as `Display`.
        struct Flags<A: PteOps>(u64, PhantomData<A>);
        impl<A: PteOps> fmt::Display for Flags<A> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                A::fmt_pte_flags(self.0, f)
            }
        }
        let raw = self.raw_u64();
        write!(f, "Pte<{}>({raw:#x} ", A::ID.name())?;
        if A::pte_none(*self) {
            f.write_str("none")?;
        } else if A::pte_present(*self) {
            write!(f, "page pfn={:#x}", A::pte_pfn(*self))?;
            if A::pte_protnone(*self) {
                f.write_str(" protnone")?;
            }
            write!(f, " [{}]", Flags::<A>(raw, PhantomData))?;
        } else {
            let swp = A::pte_to_swp_entry(*self);
            write!(f, "swap type={} offset={:#x}", swp.ty(), swp.offset())?;
        }
        f.write_str(")")
    }
}
impl<A: PmdOps> fmt::Debug for Pmd<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Pmd<{}>({})",
            A::ID.name(),
            crate::decode::decode_pmd::<A>(*self)
        )
    }
}
