//! Typed errors: every bad input has a variant whose message says what was wrong.

use core::fmt;

use crate::arch_id::ArchId;

/// An unknown backend name, kept inline so the core needs no allocator.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArchName {
    bytes: [u8; Self::CAP],
    len: u8,
    truncated: bool,
}

impl ArchName {
    const CAP: usize = 48;

    /// Keeps up to 48 bytes of `name` (cut at a character boundary; the message says so).
    pub fn new(name: &str) -> Self {
        let mut end = name.len().min(Self::CAP);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        let mut bytes = [0; Self::CAP];
        bytes[..end].copy_from_slice(&name.as_bytes()[..end]);
        Self {
            bytes,
            len: end as u8,
            truncated: end < name.len(),
        }
    }
    /// Returns the kept part of the name.
    pub fn as_str(&self) -> &str {
        // The bytes were copied from a &str and cut at a char boundary.
        core::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }
}

impl fmt::Debug for ArchName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for ArchName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())?;
        if self.truncated {
            f.write_str("...")
        } else {
            Ok(())
        }
    }
}

/// Everything that can go wrong in the encoding core.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// A pfn does not fit the architecture's physical address width.
    PfnTooWide {
        /// The backend.
        arch: ArchId,
        /// The pfn asked for.
        pfn: u64,
        /// The width of the pfn field.
        pfn_bits: u32,
    },
    /// A huge pmd's pfn is not aligned to the huge page size.
    MisalignedHugePfn {
        /// The backend.
        arch: ArchId,
        /// The pfn asked for.
        pfn: u64,
        /// Base pages per huge page.
        pages_per_huge: u64,
    },
    /// An address is not aligned as the operation needs.
    MisalignedAddress {
        /// The backend.
        arch: ArchId,
        /// The address.
        addr: u64,
        /// The required alignment in bytes.
        align: u64,
    },
    /// A swap type does not fit the architecture's swap pte.
    SwapTypeOutOfRange {
        /// The backend.
        arch: ArchId,
        /// The type asked for.
        ty: u32,
        /// The width of the type field.
        type_bits: u32,
    },
    /// A swap offset does not fit the architecture's swap pte.
    SwapOffsetOutOfRange {
        /// The backend.
        arch: ArchId,
        /// The offset asked for.
        offset: u64,
        /// The width of the offset field.
        offset_bits: u32,
    },
    /// A raw value is wider than the architecture's entry word.
    ValueTooWide {
        /// The backend.
        arch: ArchId,
        /// The value given.
        value: u64,
        /// The entry word's width.
        word_bits: u32,
    },
    /// The backend's configuration has no transparent huge pages.
    NoTransparentHugepage {
        /// The backend.
        arch: ArchId,
    },
    /// The architecture does not have this helper.
    Unsupported {
        /// The backend.
        arch: ArchId,
        /// What is missing.
        what: &'static str,
    },
    /// A table pfn collides with the architecture's empty-table marker (nios2's
    /// `invalid_pte_table`): a pmd pointing there would read as none.
    ReservedPfn {
        /// The backend.
        arch: ArchId,
        /// The pfn asked for.
        pfn: u64,
    },
    /// No backend has this name (or its cargo feature is off).
    UnknownArch {
        /// The name given.
        name: ArchName,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::PfnTooWide {
                arch,
                pfn,
                pfn_bits,
            } => write!(
                f,
                "pfn {pfn:#x} is wider than {arch} allows: a pfn must be below 2^{pfn_bits} ({:#x})",
                1u128 << pfn_bits
            ),
            Error::MisalignedHugePfn {
                arch,
                pfn,
                pages_per_huge,
            } => write!(
                f,
                "huge pfn {pfn:#x} is not aligned on {arch}: a huge pmd maps {pages_per_huge} pages, so its pfn must be a multiple of {pages_per_huge:#x}"
            ),
            Error::MisalignedAddress { arch, addr, align } => {
                write!(
                    f,
                    "address {addr:#x} is not aligned to {align:#x} bytes as {arch} needs here"
                )
            }
            Error::SwapTypeOutOfRange {
                arch,
                ty,
                type_bits,
            } => write!(
                f,
                "swap type {ty} does not fit {arch}'s {type_bits}-bit swap type field (max {})",
                (1u64 << type_bits) - 1
            ),
            Error::SwapOffsetOutOfRange {
                arch,
                offset,
                offset_bits,
            } => write!(
                f,
                "swap offset {offset:#x} does not fit {arch}'s {offset_bits}-bit swap offset field"
            ),
            Error::ValueTooWide {
                arch,
                value,
                word_bits,
            } => {
                write!(
                    f,
                    "value {value:#x} does not fit {arch}'s {word_bits}-bit entry word"
                )
            }
            Error::NoTransparentHugepage { arch } => {
                write!(
                    f,
                    "{arch} has no transparent huge pages, so it has no huge pmd"
                )
            }
            Error::Unsupported { arch, what } => write!(f, "{arch} does not have {what}"),
            Error::ReservedPfn { arch, pfn } => write!(
                f,
                "pfn {pfn:#x} is where {arch} keeps its empty-table marker: a table there would read as none"
            ),
            Error::UnknownArch { name } => {
                write!(f, "unknown architecture '{name}'; known: ")?;
                crate::arch::write_names(f)
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}
