//! The machine's state components: each owns its part of the state, its recording accessors'
//! storage and its share of the fingerprint and of the footprint auditor.
//!
//! [`locks`] (declared locks) is the first; the page tables, pages, VMAs, TLBs and ghost state
//! still live in [`super::mm::Machine`] itself.

pub mod locks;
