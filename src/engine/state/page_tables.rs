//! Page tables of backend `A`: the scenario's pmds (one 2 MiB region each, or the backend's
//! pmd size) with their split locks and deposited tables, and an arena of pte tables, each
//! with its modelled slots, its pte lock and its life (unused, live, freed).
//!
//! Entries are the backend's real encodings; emptiness is asked of [`PmdOps`] and
//! [`crate::PteOps`], never tested as zero. Allocation takes the first unused table, so the
//! allocated tables are a prefix of the arena, the only part the fingerprint feeds. The
//! machine's accessors ([`crate::engine::mm::Machine::pmd_get`], `pte_get`, `table_alloc`,
//! `pmd_lock` ...) record each pmd (`Loc::Pmd`), pmd lock and deposit (`Loc::PmdLock`) and
//! table (`Loc::Table`) they touch, log touched entries for replay, and raise
//! INV-TABLE-LIFE for an access to a freed table.

use core::hash::Hasher;

use crate::engine::locks::Owner;
use crate::entry::{Pmd, PmdOps, Pte};

/// Most pmds (2 MiB regions, or the backend's pmd size) in one scenario.
pub const MAX_PMDS: usize = 8;
/// Most page-table pages alive or freed in one run.
pub const MAX_TABLES: usize = 12;
/// Modelled pte slots per table: the addresses the scenario's threads touch.
pub const SLOTS: usize = 2;
/// No table.
pub const NO_TABLE: u8 = u8::MAX;
const _: () = assert!(MAX_TABLES < NO_TABLE as usize);

/// A page-table page's life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TableState {
    /// Never allocated.
    #[default]
    Unused,
    /// Allocated: linked from a pmd, deposited, or private to a thread.
    Live,
    /// Freed: poisoned; any access is a violation.
    Freed,
}

/// A pte table: its modelled slots and its split pte lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Table<A: PmdOps> {
    /// Life state.
    pub state: TableState,
    /// The region (pmd index) it was allocated for: slot addresses derive from it.
    pub region: u8,
    /// The modelled ptes.
    pub ptes: [Pte<A>; SLOTS],
    /// `ptl`: the split pte lock in the table's `struct page`.
    pub ptl: Owner,
}

/// The page-tables component.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageTables<A: PmdOps> {
    npmds: u8,
    pmd: [Pmd<A>; MAX_PMDS],
    pmd_lock: [Owner; MAX_PMDS],
    /// Per pmd, the table deposited under it ([`NO_TABLE`]: none).
    deposit: [u8; MAX_PMDS],
    tables: [Table<A>; MAX_TABLES],
}

impl<A: PmdOps> PageTables<A> {
    /// `npmds` empty pmds (at most [`MAX_PMDS`]) and no tables.
    pub(crate) fn new(npmds: u8) -> Self {
        let table = Table {
            state: TableState::Unused,
            region: 0,
            ptes: [A::pte_empty(0); SLOTS],
            ptl: Owner::FREE,
        };
        Self {
            npmds: npmds.min(MAX_PMDS as u8),
            pmd: [A::pmd_empty(); MAX_PMDS],
            pmd_lock: [Owner::FREE; MAX_PMDS],
            deposit: [NO_TABLE; MAX_PMDS],
            tables: [table; MAX_TABLES],
        }
    }
    /// Returns the number of pmds in use.
    pub(crate) fn npmds(&self) -> u8 {
        self.npmds
    }
    /// Returns the pmds in use.
    pub(crate) fn pmds(&self) -> &[Pmd<A>] {
        &self.pmd[..usize::from(self.npmds)]
    }
    /// Returns `pmd[r]`.
    pub(crate) fn pmd(&self, r: u8) -> Pmd<A> {
        self.pmd[usize::from(r)]
    }
    /// Stores `v` in `pmd[r]` and returns what it held.
    pub(crate) fn set_pmd(&mut self, r: u8, v: Pmd<A>) -> Pmd<A> {
        core::mem::replace(&mut self.pmd[usize::from(r)], v)
    }
    /// Returns `pmd[r]`'s split lock.
    pub(crate) fn pmd_lock(&self, r: u8) -> &Owner {
        &self.pmd_lock[usize::from(r)]
    }
    /// Returns `pmd[r]`'s split lock, mutably.
    pub(crate) fn pmd_lock_mut(&mut self, r: u8) -> &mut Owner {
        &mut self.pmd_lock[usize::from(r)]
    }
    /// Returns the table deposited under `pmd[r]`.
    pub(crate) fn deposited(&self, r: u8) -> Option<u8> {
        let t = self.deposit[usize::from(r)];
        (t != NO_TABLE).then_some(t)
    }
    /// Deposits table `t` under `pmd[r]`.
    pub(crate) fn deposit(&mut self, r: u8, t: u8) {
        self.deposit[usize::from(r)] = t;
    }
    /// Withdraws the table deposited under `pmd[r]`.
    pub(crate) fn withdraw(&mut self, r: u8) -> Option<u8> {
        let t = core::mem::replace(&mut self.deposit[usize::from(r)], NO_TABLE);
        (t != NO_TABLE).then_some(t)
    }
    /// Returns table `t`.
    pub(crate) fn table(&self, t: u8) -> &Table<A> {
        &self.tables[usize::from(t)]
    }
    /// Returns table `t`, mutably.
    pub(crate) fn table_mut(&mut self, t: u8) -> &mut Table<A> {
        &mut self.tables[usize::from(t)]
    }
    /// Returns whether pmd `r` differs from `before`'s (the footprint auditor).
    pub(crate) fn pmd_changed(&self, before: &Self, r: u8) -> bool {
        self.pmd[usize::from(r)] != before.pmd[usize::from(r)]
    }
    /// Returns whether pmd `r`'s lock or deposit differs from `before`'s.
    pub(crate) fn pmd_lock_changed(&self, before: &Self, r: u8) -> bool {
        let r = usize::from(r);
        self.pmd_lock[r] != before.pmd_lock[r] || self.deposit[r] != before.deposit[r]
    }
    /// Returns whether table `t` differs from `before`'s.
    pub(crate) fn table_changed(&self, before: &Self, t: u8) -> bool {
        self.tables[usize::from(t)] != before.tables[usize::from(t)]
    }
    /// Makes this the copy of `src` but for the table arena, which is left as it is: what
    /// [`Machine::copy_from_written`](crate::engine::mm::Machine) does for a search none of
    /// whose steps has written a table yet.
    #[inline]
    pub(crate) fn copy_pmds_from(&mut self, src: &Self) {
        // Destructured, so a new field is a compile error here until it is copied.
        let Self {
            npmds,
            pmd,
            pmd_lock,
            deposit,
            tables: _,
        } = src;
        self.npmds = *npmds;
        self.pmd = *pmd;
        self.pmd_lock = *pmd_lock;
        self.deposit = *deposit;
    }
    /// Feeds pmd `r` with its lock and deposit: two words (the machine hashes each pmd in use
    /// as a share of its own, so a step pays only for the pmds it wrote).
    #[inline]
    pub(crate) fn fingerprint_pmd(&self, r: u8, h: &mut impl Hasher) {
        let r = usize::from(r);
        h.write_u64(self.pmd[r].raw_u64());
        h.write_u64(u64::from(self.pmd_lock[r].raw()) | u64::from(self.deposit[r]) << 8);
    }
    /// Feeds the allocated prefix of the table arena.
    pub(crate) fn fingerprint_tables(&self, h: &mut impl Hasher) {
        for t in self
            .tables
            .iter()
            .take_while(|t| t.state != TableState::Unused)
        {
            // Destructured, so that a field added to `Table` fails to compile here until the
            // fingerprint covers it.
            let Table {
                state,
                region,
                ptes,
                ptl,
            } = t;
            let tag = match state {
                TableState::Unused => 0u64,
                TableState::Live => 1,
                TableState::Freed => 2,
            };
            h.write_u64(tag | u64::from(*region) << 8 | u64::from(ptl.raw()) << 16);
            for pte in ptes {
                h.write_u64(pte.raw_u64());
            }
        }
    }
}
