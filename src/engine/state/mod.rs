//! The machine's state components: each owns its part of the state, its recording accessors'
//! storage and its share of the fingerprint and of the footprint auditor.
//!
//! [`locks`] (declared locks), [`process`] (mms, their `mmap_lock` and `write_protect_seq`),
//! [`vma`] (each mm's VMA tree), [`page_cache`] (the file's pages by index), [`page_tables`]
//! (pmds, their locks and deposits, the pte-table arena), [`pages`] (the page arena and its
//! lock waiters), [`tlb`] (per-CPU TLBs), [`threads`] (each thread's program counter and
//! registers) and [`ghost`] (monitors' state: MADV_DONTNEED's and a scenario's cells); the
//! VMA's protection and kind still live in [`super::mm::Machine`].

pub mod ghost;
pub mod locks;
pub mod page_cache;
pub mod page_tables;
pub mod pages;
pub mod process;
pub mod threads;
pub mod tlb;
pub mod vma;
