//! # pgtable
//!
//! Linux's page-table entry encodings, bit for bit, on seven architectures, behind one set of
//! helper traits named as Linux names them — and (with the `engine` feature) a model checker
//! that runs Linux's generic fault / THP-split / collapse / zap paths over any of those
//! encodings and explores their interleavings.
//!
//! - [`PteOps`] and [`PmdOps`]: the helper vocabulary (`pte_none`, `pmd_trans_huge`,
//!   `pmdp_invalidate`, swap entries, ...). Generic code asks these, never `raw == 0`:
//!   s390's empty pte is `0x400`, xtensa's `0x1c`, nios2's depends on the address.
//! - [`arch`]: one backend per architecture (and per historical variant), a registry to look
//!   them up by name, and `arch::Native` for the host.
//! - [`decode`]: what an entry is, for humans; [`laws`]: the contract every backend is checked
//!   against, with Linux's own deviations documented.
//!
//! The encoding core is `#![no_std]` and needs no allocator: build with
//! `default-features = false` and the backends you need (`features = ["s390", "x86_64"]`).
//!
//! # Cargo features
//!
//! All on by default. On docs.rs every item that needs a feature is marked with it.
//!
//! | feature | what it adds |
//! |---|---|
//! | `x86_64`, `arm`, `arm64`, `s390`, `powerpc`, `nios2`, `xtensa`, `um`, `scrambled` | that backend in [`arch`] and in the registry (`arm` brings the classic, LPAE and both v4.5 LPAE backends; `arm64` and `powerpc` two each) |
//! | `all-arches` | every backend |
//! | `std` | `std::error::Error` for [`Error`] |
//! | `engine` | the model checker (`engine`) and the race catalogue (`scenario`); needs `std` |
//! | `cli` | the audit report model and renderers (`audit`) and the `pgtable` binary |
//!
//! # Example
//! ```
//! # #[cfg(feature = "x86_64")] {
//! use pgtable::arch::X86_64;
//! use pgtable::{PmdOps, Protection};
//!
//! // A 2 MiB THP, then the value a split stores first (pmdp_invalidate).
//! let huge = X86_64::mk_huge_pmd(0x200, Protection::ReadWrite)?;
//! let mid_split = X86_64::pmdp_invalidate(huge)?;
//! assert!(!mid_split.none() && mid_split.trans_huge() && mid_split.present());
//! # }
//! # Ok::<(), pgtable::Error>(())
//! ```
//!
//! With the `arm` feature: 32-bit ARM LPAE before the 2016 fix emptied the pmd, and
//! `zap_pmd_range` skipped it.
//! ```
//! # #[cfg(feature = "arm")] {
//! use pgtable::arch::ArmLpaeV4_5;
//! use pgtable::{PmdOps, Protection};
//!
//! let huge = ArmLpaeV4_5::mk_huge_pmd(0x200, Protection::ReadWrite)?;
//! assert!(ArmLpaeV4_5::pmdp_invalidate(huge)?.none());
//! # }
//! # Ok::<(), pgtable::Error>(())
//! ```
#![no_std]
// docs.rs (nightly) marks each feature-gated item with the feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]
// Denied, not forbidden: the explorer's cache prefetch is the one allowed exception
// (`engine::explore::visited::prefetch`, which says why it is sound).
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "std")]
extern crate std;

pub mod arch_id;
pub mod decode;
pub mod entry;
pub mod error;
pub mod laws;

#[path = "../arch/mod.rs"]
pub mod arch;

#[cfg(feature = "engine")]
pub mod engine;
#[cfg(feature = "engine")]
pub mod scenario;

#[cfg(feature = "cli")]
pub mod audit;

pub use arch_id::{Arch, ArchId, Geometry};
pub use decode::{Decoded, EntryKind, Level};
pub use entry::{EntryWord, PgProt, Pmd, PmdOps, Protection, Pte, PteOps, SwpEntry};
pub use error::Error;

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
