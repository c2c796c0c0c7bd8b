//! Architecture identity and geometry: which backend, how wide its words are, how big its pages.
//!
//! [`Arch`] is implemented by one zero-sized type per backend (see [`crate::arch`]); [`ArchId`]
//! names every backend at run time.

use core::fmt;
use core::hash::Hash;

use crate::entry::EntryWord;

/// The shape of an architecture's page tables, as Linux configures it for the backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Geometry {
    /// `PAGE_SHIFT`.
    pub page_shift: u32,
    /// `PMD_SHIFT`: log2 of the address range one pmd covers (one huge page where THP exists).
    pub pmd_shift: u32,
    /// `PTRS_PER_PTE`: Linux ptes per pte table.
    pub ptrs_per_pte: u32,
    /// Page-table levels (`CONFIG_PGTABLE_LEVELS` or the architecture's fixed count).
    pub levels: u32,
    /// Width of the pfn field: a pfn must be below `1 << pfn_bits`.
    pub pfn_bits: u32,
    /// Whether the backend's configuration has transparent huge pages at the pmd level.
    pub has_thp: bool,
    /// Whether the MMU reads entries big-endian from memory.
    pub big_endian: bool,
    /// Width of the swap type field (0: the architecture has no swap pte format).
    pub swap_type_bits: u32,
    /// Width of the swap offset field.
    pub swap_offset_bits: u32,
}

impl Geometry {
    /// Returns the number of base pages one pmd maps (`HPAGE_PMD_NR`).
    pub const fn pages_per_pmd(&self) -> u64 {
        1 << (self.pmd_shift - self.page_shift)
    }
    /// Returns the page size in bytes.
    pub const fn page_size(&self) -> u64 {
        1 << self.page_shift
    }
    /// Returns the bytes one pmd covers.
    pub const fn pmd_size(&self) -> u64 {
        1 << self.pmd_shift
    }
}

/// A page-table architecture backend: identity and geometry. The helper vocabulary lives in
/// [`crate::PteOps`] and [`crate::PmdOps`].
pub trait Arch: Copy + Eq + Ord + Hash + Default + fmt::Debug + Send + Sync + 'static {
    /// The entry word: `u32` or `u64`.
    type Word: EntryWord;
    /// The run-time name of this backend.
    const ID: ArchId;
    /// Page-table geometry.
    const GEOMETRY: Geometry;
}

macro_rules! arch_ids {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// Names every backend at run time.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum ArchId {
            $($(#[$doc])* $variant,)*
        }

        impl ArchId {
            /// Every backend id, whether or not its feature is enabled.
            pub const ALL: &'static [ArchId] = &[$(ArchId::$variant,)*];

            /// Returns the name used on the command line and in reports.
            pub const fn name(self) -> &'static str {
                match self {
                    $(ArchId::$variant => $name,)*
                }
            }
        }
    };
}

arch_ids! {
    /// x86_64 with 4-level paging, as in v6.12.
    X86_64 => "x86_64",
    /// 32-bit ARM, classic 2-level tables (no LPAE, no THP).
    ArmClassic => "arm",
    /// 32-bit ARM with LPAE, as in v6.12.
    ArmLpae => "arm-lpae",
    /// 32-bit ARM with LPAE as in v4.5, before the 2016 `pmd_mknotpresent` fix.
    ArmLpaeV4_5 => "arm-lpae-v4.5",
    /// 32-bit ARM with LPAE as in v4.5, storing what its `pmdp_invalidate` really wrote.
    ArmLpaeV4_5Stored => "arm-lpae-v4.5-stored",
    /// 32-bit ARM with LPAE, v6.12 with kernel-patches/0001 (a PROT_NONE huge pmd is present).
    ArmLpaePatched => "arm-lpae-patched",
    /// arm64 with 4 KiB pages, as in v6.12.
    Arm64 => "arm64",
    /// arm64 as in 6.1.192, Debian 12's 6.1.y (`PMD_PRESENT_INVALID` at bit 59).
    Arm64V6_1 => "arm64-v6.1",
    /// s390 (z/Architecture).
    S390 => "s390",
    /// powerpc book3s64 with the radix MMU.
    PowerpcRadix => "powerpc-radix",
    /// powerpc book3s64 with the hash MMU and 64 KiB pages.
    PowerpcHash => "powerpc-hash",
    /// nios2.
    Nios2 => "nios2",
    /// xtensa (MMU v3, hardware after version 2000).
    Xtensa => "xtensa",
    /// user-mode Linux, 64-bit (3-level).
    Um => "um",
    /// A synthetic backend unlike every real one.
    Scrambled => "scrambled",
}

impl fmt::Display for ArchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}
