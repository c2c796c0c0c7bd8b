//! One decoded view of any entry, for `Debug`, reports and the CLI.
//!
//! The view is derived from the backend's own helpers ([`crate::PteOps`], [`PmdOps`]), never from a
//! second reading of the bits, so it shows exactly what Linux's generic code would conclude.
//! It is for display: the engine's semantics use the helpers directly.

use core::fmt;

use crate::arch_id::ArchId;
use crate::entry::{Pmd, PmdOps, Pte, SwpEntry};

/// The level an entry sits at: the meaning of a bit depends on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// A pte: last level, maps one base page.
    Pte,
    /// A pmd: points to a pte table or maps a huge page.
    Pmd,
}

impl Level {
    /// Returns `"pte"` or `"pmd"`.
    pub const fn name(self) -> &'static str {
        match self {
            Level::Pte => "pte",
            Level::Pmd => "pmd",
        }
    }
}

/// What an entry is, as Linux's generic code classifies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntryKind {
    /// `pte_none` / `pmd_none`.
    None,
    /// A pmd pointing at a pte table.
    Table,
    /// A present pte (PROT_NONE included; see [`Decoded::protnone`]).
    Page,
    /// A huge pmd the MMU uses, or a PROT_NONE one (see [`Decoded::protnone`]).
    Huge,
    /// A huge pmd the MMU would not use and that is not PROT_NONE: what `pmdp_invalidate`
    /// leaves mid-split, still `trans_huge`.
    HugeInvalid,
    /// A swap or migration entry (`!none && !present`).
    Swap,
    /// None of the above: `pmd_bad`, or a non-present pmd on an architecture without THP
    /// migration.
    Bad,
}

impl EntryKind {
    /// Returns the kind's name as reports print it.
    pub const fn name(self) -> &'static str {
        match self {
            EntryKind::None => "none",
            EntryKind::Table => "table",
            EntryKind::Page => "page",
            EntryKind::Huge => "huge",
            EntryKind::HugeInvalid => "huge-invalid",
            EntryKind::Swap => "swap",
            EntryKind::Bad => "bad",
        }
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The flag bits of an entry, printed in bitflags' text form (`PRESENT | RW | 0x1000`).
#[derive(Clone, Copy)]
pub struct FlagsText {
    raw: u64,
    write: fn(u64, &mut fmt::Formatter<'_>) -> fmt::Result,
}

impl FlagsText {
    /// Returns the raw entry the flags are read from.
    pub const fn raw(&self) -> u64 {
        self.raw
    }
}

impl fmt::Display for FlagsText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.write)(self.raw, f)
    }
}

impl fmt::Debug for FlagsText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// An entry as generic Linux code sees it: kind, pfn, swap entry and flags, plus the raw word.
#[derive(Clone, Copy, Debug)]
pub struct Decoded {
    /// The backend.
    pub arch: ArchId,
    /// pte or pmd.
    pub level: Level,
    /// The raw word, widened.
    pub raw: u64,
    /// The classification.
    pub kind: EntryKind,
    /// The pfn mapped or pointed to, where the kind has one.
    pub pfn: Option<u64>,
    /// The swap entry, for [`EntryKind::Swap`].
    pub swap: Option<SwpEntry>,
    /// `pte_none` / `pmd_none`.
    pub none: bool,
    /// `pte_present` / `pmd_present`.
    pub present: bool,
    /// `pmd_trans_huge` (always false for a pte).
    pub trans_huge: bool,
    /// A PROT_NONE mapping: `pte_protnone` for a pte; for a huge pmd
    /// [`PmdOps::pmd_prot_none`] (`pmd_protnone`, or `L_PMD_SECT_NONE` on 32-bit ARM LPAE).
    pub protnone: bool,
    /// The flag bits.
    pub flags: FlagsText,
}

impl fmt::Display for Decoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x} {}", self.raw, self.kind)?;
        if let Some(pfn) = self.pfn {
            write!(f, " pfn={pfn:#x}")?;
        }
        if let Some(swp) = self.swap {
            write!(f, " type={} offset={:#x}", swp.ty(), swp.offset())?;
        }
        if self.protnone {
            f.write_str(" protnone")?;
        }
        if matches!(
            self.kind,
            EntryKind::Page | EntryKind::Huge | EntryKind::HugeInvalid | EntryKind::Table
        ) {
            write!(f, " [{}]", self.flags)?;
        }
        Ok(())
    }
}

/// Decodes a pte. `addr` matters only where the empty value depends on it (nios2); the
/// classification itself never does.
pub fn decode_pte<A: PmdOps>(pte: Pte<A>, addr: Option<u64>) -> Decoded {
    let _ = addr;
    let none = A::pte_none(pte);
    let present = A::pte_present(pte);
    let (kind, pfn, swap) = if none {
        (EntryKind::None, None, None)
    } else if present {
        (EntryKind::Page, Some(A::pte_pfn(pte)), None)
    } else {
        (EntryKind::Swap, None, Some(A::pte_to_swp_entry(pte)))
    };
    Decoded {
        arch: A::ID,
        level: Level::Pte,
        raw: pte.raw_u64(),
        kind,
        pfn,
        swap,
        none,
        present,
        trans_huge: false,
        protnone: present && A::pte_protnone(pte),
        flags: FlagsText {
            raw: pte.raw_u64(),
            write: A::fmt_pte_flags,
        },
    }
}

/// Decodes a pmd the way v6.12's `zap_pmd_range` classifies it (mm/memory.c:1717): none,
/// then huge (`pmd_trans_huge`): a PROT_NONE huge pmd is `huge` with `protnone` set, one
/// the MMU would not use otherwise is `huge-invalid` (mid-split); then swap/migration, then
/// bad (`pmd_bad`: a leaf that is not `pmd_trans_huge`, such as a powerpc hash leaf without
/// `H_PAGE_THP_HUGE`, lands here), else a table.
pub fn decode_pmd<A: PmdOps>(pmd: Pmd<A>) -> Decoded {
    let none = A::pmd_none(pmd);
    let present = A::pmd_present(pmd);
    let trans_huge = A::pmd_trans_huge(pmd);
    let protnone = !none && trans_huge && A::pmd_prot_none(pmd);
    let (kind, pfn, swap) = if none {
        (EntryKind::None, None, None)
    } else if trans_huge {
        let kind = if protnone || A::pmd_hw_valid(pmd) {
            EntryKind::Huge
        } else {
            EntryKind::HugeInvalid
        };
        (kind, Some(A::pmd_pfn(pmd)), None)
    } else if !present && A::GEOMETRY.has_thp && A::GEOMETRY.swap_type_bits != 0 {
        let entry = A::pte_to_swp_entry(Pte::from_raw(pmd.raw()));
        (EntryKind::Swap, None, Some(entry))
    } else if A::pmd_bad(pmd) || !present {
        (EntryKind::Bad, None, None)
    } else {
        (EntryKind::Table, Some(A::pmd_pfn(pmd)), None)
    };
    Decoded {
        arch: A::ID,
        level: Level::Pmd,
        raw: pmd.raw_u64(),
        kind,
        pfn,
        swap,
        none,
        present,
        trans_huge,
        protnone,
        flags: FlagsText {
            raw: pmd.raw_u64(),
            write: A::fmt_pmd_flags,
        },
    }
}

/// Writes bitflags' text form of `bits` (`A | B | 0x100`), or `empty` for no bits.
pub fn write_flags<F: bitflags::Flags>(flags: F, f: &mut fmt::Formatter<'_>) -> fmt::Result
where
    F::Bits: bitflags::parser::WriteHex,
{
    if flags.is_empty() {
        return f.write_str("empty");
    }
    bitflags::parser::to_writer(&flags, f)
}
