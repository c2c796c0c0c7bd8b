//! The machine's state components: each owns its part of the state, its recording accessors'
//! storage and its share of the fingerprint and of the footprint auditor.
//!
//! [`locks`] (declared locks), [`process`] (mms and their `mmap_lock`) and [`vma`] (each mm's
//! VMA tree) are the first; the page tables, pages, the VMA's protection and kind, TLBs and
//! ghost state still live in [`super::mm::Machine`].

pub mod locks;
pub mod page_cache;
pub mod process;
pub mod vma;
