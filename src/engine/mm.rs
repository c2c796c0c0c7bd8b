//! The modelled machine: page-table pages, pages, VMAs' regions, per-CPU TLBs and locks, as
//! plain data (arena indices, fixed capacities, no pointers, no heap), so that cloning a state
//! is a copy and hashing it is cheap.
//!
//! Tables hold real encoded entries of backend `A`; the machine asks `A` for every empty value
//! and tests emptiness only through [`PmdOps`]/[`crate::PteOps`]. Every access a step makes goes
//! through the accessors here, which record the footprint for partial-order reduction, poison
//! freed tables (an access to one is an `INV-TABLE-LIFE` violation) and, when replaying a
//! trace, log each touched entry with its value before and after.

use core::sync::atomic::{AtomicU64, Ordering};
use std::vec::Vec;

use crate::entry::{Pmd, PmdOps, Protection, Pte};

use super::Tid;
use super::invariant::InvariantId;
use super::locks::{LockEvent, LockName, LockOp, Owner, RwSem};
use super::state::locks::{
    DeclaredLock, LockDeclError, LockState, Locks, MAX_LOCKS, MutexId, RcuId, RwsemId, SpinlockId,
};
use super::state::page_cache::{CACHE_SLOTS, PageCache, XaEntry};
use super::state::page_tables::PageTables;
pub use super::state::page_tables::{MAX_PMDS, MAX_TABLES, NO_TABLE, SLOTS, Table, TableState};
use super::state::pages::Pages;
pub use super::state::pages::{MAX_PAGES, Page};
use super::state::process::{MAX_MMS, Processes};
use super::state::tlb::Tlbs;
use super::state::vma::{VmFlags, Vma, VmaId, Vmas};

pub use super::state::ghost::GHOST_CELLS;
use super::state::ghost::Ghost;
use super::state::threads::Threads;
pub use super::state::threads::{MAX_THREADS, ThreadState};

/// Set after a step that breaks an invariant the accessors can see on their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Flagged {
    /// The invariant.
    pub id: InvariantId,
    /// What happened, in one phrase.
    pub what: &'static str,
}

/// A location a step may touch: the unit of the footprints used for partial-order reduction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Loc {
    /// A pmd entry.
    Pmd(u8),
    /// A pmd's split lock and its deposited-table list.
    PmdLock(u8),
    /// A table: its ptes, lock and life state.
    Table(u8),
    /// A page's counters, flags and lock.
    Page(u8),
    /// One CPU's TLB.
    Tlb(u8),
    /// mm 0's `mmap_lock`, the VMA and its protection.
    Mmap,
    /// Ghost state: trace-monitor events (like "MADV_DONTNEED returned") and user ghost cells.
    Ghost,
    /// One thread's program state (its own steps touch it; another thread's step may read it).
    Thread(u8),
    /// A declared lock ([`crate::engine::state::locks`]).
    Lock(u8),
    /// The `mmap_lock` of mm `i` ≥ 1 (mm 0's is part of [`Loc::Mmap`]).
    OtherMm(u8),
    /// The VMA trees ([`crate::engine::state::vma`]), every mm's.
    Vmas,
    /// The page cache ([`crate::engine::state::page_cache`]).
    PageCache,
}

/// The footprint's layout: where each kind of location starts in a [`Footprint`] set, one
/// bit per instance, sized from its component's capacity, so that raising a capacity moves
/// the kinds after it instead of letting two locations share a bit.
mod layout {
    use super::{MAX_LOCKS, MAX_MMS, MAX_PAGES, MAX_PMDS, MAX_TABLES, MAX_THREADS};

    pub(super) const PMD: u32 = 0;
    pub(super) const PMD_LOCK: u32 = PMD + MAX_PMDS as u32;
    pub(super) const TABLE: u32 = PMD_LOCK + MAX_PMDS as u32;
    pub(super) const PAGE: u32 = TABLE + MAX_TABLES as u32;
    pub(super) const TLB: u32 = PAGE + MAX_PAGES as u32;
    /// `OtherMm(i)` for mm `i` ≥ 1 at `OTHER_MM + i - 1` (mm 0's lock is part of `Mmap`).
    pub(super) const OTHER_MM: u32 = TLB + MAX_THREADS as u32;
    pub(super) const MMAP: u32 = OTHER_MM + MAX_MMS as u32 - 1;
    pub(super) const GHOST: u32 = MMAP + 1;
    pub(super) const THREAD: u32 = GHOST + 1;
    pub(super) const LOCK: u32 = THREAD + MAX_THREADS as u32;
    pub(super) const VMAS: u32 = LOCK + MAX_LOCKS as u32;
    pub(super) const PAGE_CACHE: u32 = VMAS + 1;
    /// Bits in use.
    pub(super) const BITS: u32 = PAGE_CACHE + 1;
    const _: () = assert!(BITS <= u64::BITS && MAX_MMS >= 1);

    /// `n` bits from `first`.
    pub(super) const fn run(first: u32, n: usize) -> u64 {
        ((1u64 << n) - 1) << first
    }
}

impl Loc {
    /// Returns the location's bit in a [`Footprint`] set (an index past its kind's
    /// capacity is a model error, and the accessors never pass one).
    pub const fn bit(self) -> u64 {
        let at = match self {
            Loc::Pmd(i) => layout::PMD + i as u32,
            Loc::PmdLock(i) => layout::PMD_LOCK + i as u32,
            Loc::Table(i) => layout::TABLE + i as u32,
            Loc::Page(i) => layout::PAGE + i as u32,
            Loc::Tlb(i) => layout::TLB + i as u32,
            Loc::Mmap | Loc::OtherMm(0) => layout::MMAP,
            Loc::Ghost => layout::GHOST,
            Loc::Thread(i) => layout::THREAD + i as u32,
            Loc::Lock(i) => layout::LOCK + i as u32,
            Loc::OtherMm(i) => layout::OTHER_MM + i as u32 - 1,
            Loc::Vmas => layout::VMAS,
            Loc::PageCache => layout::PAGE_CACHE,
        };
        1 << at
    }
}

/// What one step read and wrote, as bitsets over [`Loc`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Footprint {
    /// Locations read.
    pub reads: u64,
    /// Locations written.
    pub writes: u64,
}

impl Footprint {
    /// Returns whether two steps commute: neither writes what the other touches.
    pub const fn independent(&self, other: &Footprint) -> bool {
        self.writes & (other.reads | other.writes) == 0 && other.writes & self.reads == 0
    }
}

/// One entry a step touched, for traces: where, and the raw value before and after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Touch {
    /// The location.
    pub loc: TouchLoc,
    /// Raw value before.
    pub before: u64,
    /// Raw value after (equal to `before` for a read).
    pub after: u64,
}

/// Where a touched entry lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TouchLoc {
    /// `pmd[region]`.
    Pmd(u8),
    /// `table[t].pte[slot]`.
    Pte(u8, u8),
    /// VMA `id` (before and after packed; a trace shows them as VMAs, not entries).
    Vma(u8),
    /// Page-cache index `i`'s xarray entry (packed by `XaEntry`; a trace shows it as
    /// `xa[i]`).
    PageCache(u8),
}

/// The modelled machine.
///
/// Its fields are private: a step reads and changes the state only through the accessors
/// below, each of which records the location it touches in the step's footprint (reads too,
/// through the read-only views), so partial-order reduction never trusts a footprint that
/// misses an access. Violations an accessor sees ([`Machine::flag`]) belong to the step that
/// raised them and are never part of the state.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Machine<A: PmdOps> {
    pt: PageTables<A>,
    pages: Pages,
    /// Per CPU: per region, the cached huge translation's pfn, then one per slot.
    tlb: Tlbs,
    procs: Processes,
    threads: Threads,
    ghost: Ghost,
    prot: Protection,
    vma_file: bool,
    locks: Locks,
    vmas: Vmas,
    cache: PageCache,
    /// The fingerprint's shares of the components a step seldom writes.
    fp_parts: FpParts,
    /// The built-in state invariants that held, with the locations each read.
    held: HeldInvariants,
    side: Side,
}

/// Equal to any other and hashed as nothing: for the parts of a [`Machine`] that are not state
/// (caches and what a step records beside it), so the derived `PartialEq` and `Hash` of the
/// machine see only its state.
macro_rules! not_state {
    ($ty:ty) => {
        impl PartialEq for $ty {
            fn eq(&self, _: &Self) -> bool {
                true
            }
        }
        impl Eq for $ty {}
        impl core::hash::Hash for $ty {
            fn hash<H: core::hash::Hasher>(&self, _: &mut H) {}
        }
    };
}

/// Which built-in state invariants ([`crate::engine::invariant::check_step_with`]) held on
/// this state, and the locations each predicate read when it was judged: a step that writes
/// none of them leaves the predicate's inputs, hence its verdict, as they were, so the
/// explorer does not judge it again ([`Machine::held_still`]). The read sets are the ones the
/// accessors record for partial-order reduction, so a predicate is skipped on exactly the
/// evidence a step is commuted on. Not part of the state, like [`FpParts`].
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct HeldInvariants {
    /// Bit `i`: built-in predicate `i` held, having read `reads[i]`.
    valid: u8,
    reads: [u64; HELD_SLOTS],
}
/// Built-in state predicates the cache can hold.
pub(crate) const HELD_SLOTS: usize = 4;
const _: () = assert!(HELD_SLOTS <= u8::BITS as usize);
not_state!(HeldInvariants);

/// The fingerprint's shares, cached: the explorer refreshes the ones a step's footprint wrote
/// (or never computed) right after the step, so a step pays for the pmds, threads and groups
/// it wrote and a few additions, whatever the number of regions it left alone. Not part of
/// the state: equal and hashed as nothing, like [`Side`].
///
/// A state's fingerprint is the wrapping sum of its shares, each a hash of one part of the
/// state (a pmd with its lock and deposit, a thread, an arena, the rest) finished with its
/// own tag and a full avalanche: two states collide only when their sums of independent
/// 64-bit values do (the incremental hashing of Bellare and Micciancio, "A New Paradigm for
/// Collision-Free Hashing", 1997), the same 2^-64 odds a pair of states had with one hash
/// over the whole state.
#[derive(Clone, Copy, Debug, Default)]
struct FpParts {
    /// Bit `k`: the shares of kind `k` (`FP_TABLES` to `FP_MISC`) are current.
    valid: u8,
    groups: [u64; FP_GROUPS],
    pmds: [u64; MAX_PMDS],
    threads: [u64; MAX_THREADS],
    misc: u64,
    /// The regions in use when the pmd shares were computed.
    npmds: u8,
}
not_state!(FpParts);

/// The cached arena groups, each with the footprint bits ([`Loc::bit`]) that invalidate it.
const FP_TABLES: usize = 0;
const FP_PAGES: usize = 1;
const FP_TLBS: usize = 2;
const FP_VMAS_AND_CACHE: usize = 3;
const FP_GROUPS: usize = 4;
const FP_GROUP_WRITES: [u64; FP_GROUPS] = {
    let mut w = [0; FP_GROUPS];
    w[FP_TABLES] = layout::run(layout::TABLE, MAX_TABLES);
    w[FP_PAGES] = layout::run(layout::PAGE, MAX_PAGES);
    w[FP_TLBS] = layout::run(layout::TLB, MAX_THREADS);
    w[FP_VMAS_AND_CACHE] = layout::run(layout::VMAS, 1) | layout::run(layout::PAGE_CACHE, 1);
    w
};
/// [`FpParts::valid`]'s bits for the per-pmd shares, the per-thread shares and the rest.
const FP_PMDS: usize = FP_GROUPS;
const FP_THREADS: usize = FP_GROUPS + 1;
const FP_MISC: usize = FP_GROUPS + 2;
const FP_ALL: u8 = (1 << (FP_MISC + 1)) - 1;
/// What the misc share covers: mm 0 (its `mmap_lock`, protection and file flag), the other
/// mms, ghost state and the declared locks.
const FP_MISC_WRITES: u64 = layout::run(layout::MMAP, 1)
    | layout::run(layout::OTHER_MM, MAX_MMS - 1)
    | layout::run(layout::GHOST, 1)
    | layout::run(layout::LOCK, MAX_LOCKS);
/// Each share's tag: the pmds', then the threads', the groups' and the misc one.
const FP_TAG_PMD: u64 = 1;
const FP_TAG_THREAD: u64 = FP_TAG_PMD + MAX_PMDS as u64;
const FP_TAG_GROUP: u64 = FP_TAG_THREAD + MAX_THREADS as u64;
const FP_TAG_MISC: u64 = FP_TAG_GROUP + FP_GROUPS as u64;

/// One share of the fingerprint: the hash of its part, bound to its tag and avalanched
/// (murmur3's 64-bit finalizer), so that shares are independent values and the same part
/// in two places (two idle threads) adds two different shares.
#[inline]
fn fp_share(tag: u64, h: FingerprintHasher) -> u64 {
    use core::hash::Hasher;
    let mut x = h.finish() ^ tag.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ x >> 33
}

/// What a step leaves beside the state: its footprint, the violations it raised and, when
/// replaying, the entries it touched. Equal and hashed as nothing, so it is never part of a
/// state's identity.
#[derive(Debug, Default)]
struct Side {
    /// Locations read: recorded through `&self` accessors, so interior-mutable; an atomic
    /// (relaxed load and store, never read-modify-write: one thread steps a machine) keeps
    /// `Machine` `Sync` for the parallel breadth-first search, at the cost of a plain move.
    reads: AtomicU64,
    writes: u64,
    raised: Vec<Flagged>,
    log: Option<Vec<Touch>>,
    locks: Option<Vec<LockEvent>>,
}
/// A copy starts between steps, with nothing recorded: the explorer and replay copy a machine
/// only between steps (and `begin_step` clears it anyway), so copying the lists would be
/// wasted work on every transition.
impl Clone for Side {
    fn clone(&self) -> Self {
        Self::default()
    }
}
not_state!(Side);

/// What one step did besides changing the state: what it touched and what it broke.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StepEffects {
    /// The locations it read and wrote.
    pub footprint: Footprint,
    /// The violations its accessors raised, in order, each invariant once.
    pub raised: Vec<Flagged>,
    /// The entries it touched (only while replaying).
    pub touched: Vec<Touch>,
    /// The lock operations it did, in order (only while replaying).
    pub locks: Vec<LockEvent>,
}

/// No page.
pub const NO_PAGE: u64 = u64::MAX;

impl<A: PmdOps> Machine<A> {
    /// A machine with `npmds` empty regions (at most [`MAX_PMDS`]), no tables, no pages, free
    /// locks.
    pub fn new(npmds: u8) -> Self {
        Self {
            pt: PageTables::new(npmds),
            pages: Pages::default(),
            tlb: Tlbs::default(),
            procs: Processes::default(),
            threads: Threads::default(),
            ghost: Ghost::default(),
            prot: Protection::ReadWrite,
            vma_file: false,
            locks: Locks::default(),
            vmas: Vmas::default(),
            cache: PageCache::default(),
            fp_parts: FpParts::default(),
            held: HeldInvariants::default(),
            side: Side::default(),
        }
    }

    /// Returns the virtual address of `slot` in `region` (slot `i` is page `i` of the region,
    /// so nios2's address-dependent empty value differs per slot).
    pub fn slot_addr(region: u8, slot: usize) -> u64 {
        let g = A::GEOMETRY;
        (u64::from(region) + 1) * g.pmd_size() + slot as u64 * g.page_size()
    }

    /// Returns the pfn of page `p`: aligned for a huge page.
    pub fn page_pfn(p: u8) -> u64 {
        (u64::from(p) + 1) * A::GEOMETRY.pages_per_pmd()
    }

    /// Returns the first pfn of the huge zero folio (`huge_zero_pfn`): past the page arena,
    /// so it is no page of the machine (no refcount, no rmap, never in a MADV_DONTNEED's
    /// set of pages mapped before), as the kernel's huge zero folio is never rmap-counted.
    pub fn huge_zero_pfn() -> u64 {
        (MAX_PAGES as u64 + 1) * A::GEOMETRY.pages_per_pmd()
    }

    /// Returns the pfn of the small zero page (`my_zero_pfn`): below the tables' pfns and
    /// clear of pfn 0, no page of the machine either.
    pub fn zero_pfn() -> u64 {
        0x8
    }

    /// Returns the pfn of table `t`'s page, below every data page and clear of pfn 0.
    pub fn table_pfn(t: u8) -> u64 {
        0x10 + u64::from(t)
    }

    fn read(&self, loc: Loc) {
        let reads = self.side.reads.load(Ordering::Relaxed);
        self.side.reads.store(reads | loc.bit(), Ordering::Relaxed);
    }
    fn write(&mut self, loc: Loc) {
        self.side.writes |= loc.bit();
    }
    fn touch(&mut self, loc: TouchLoc, before: u64, after: u64) {
        if let Some(log) = &mut self.side.log {
            log.push(Touch { loc, before, after });
        }
    }

    /// Makes this machine a copy of `src` in place, between steps: every field is plain data,
    /// assigned where it lies, without the temporary and the moves a `clone` into a new
    /// place costs (a copy per transition is most of the checker's memory traffic). The
    /// table arena, the pages and the TLBs are copied only where `written` (a union of
    /// [`Footprint::writes`]; `u64::MAX` copies all) has one of their locations. Sound when
    /// `written` holds every location a step of the search has written so far, whether the
    /// step ran or blocked, and `self` was cloned or copied within the same search: a group
    /// no step wrote is, in every machine of the search, as the initial state has it. The
    /// fingerprint's group shares already trust those footprints; this way a search pays
    /// nothing per transition for the components its scenario never writes (M1 writes none
    /// of the three: 824 of the 1,288 bytes a copy moved).
    #[inline]
    pub(crate) fn copy_from_written(&mut self, src: &Self, written: u64) {
        // Destructured, so a new field is a compile error here until it is copied.
        let Self {
            pt,
            pages,
            tlb,
            procs,
            threads,
            ghost,
            prot,
            vma_file,
            locks,
            vmas,
            cache,
            fp_parts,
            held,
            side: _,
        } = src;
        if written & FP_GROUP_WRITES[FP_TABLES] != 0 {
            self.pt = *pt;
        } else {
            self.pt.copy_pmds_from(pt);
        }
        if written & FP_GROUP_WRITES[FP_PAGES] != 0 {
            self.pages = *pages;
        }
        if written & FP_GROUP_WRITES[FP_TLBS] != 0 {
            self.tlb = *tlb;
        }
        self.procs = *procs;
        self.threads = *threads;
        self.ghost = *ghost;
        self.prot = *prot;
        self.vma_file = *vma_file;
        self.locks = *locks;
        self.vmas = *vmas;
        self.cache = *cache;
        self.fp_parts = *fp_parts;
        self.held = *held;
    }

    /// The locations the current step has written so far (a blocked step's too, whose
    /// changes the explorer drops but a buffer it reuses still holds).
    #[inline]
    pub(crate) fn step_writes(&self) -> u64 {
        self.side.writes
    }

    /// Starts a step: clears the footprint and the raised violations; `log` keeps a list of
    /// the entries the step touches (for traces). The explorer and replay call it before
    /// every step; a harness that runs a program by hand does the same.
    pub fn begin_step(&mut self, log: bool) {
        *self.side.reads.get_mut() = 0;
        self.side.writes = 0;
        self.side.raised.clear();
        self.side.log = log.then(Vec::new);
        self.side.locks = log.then(Vec::new);
    }

    /// Ends a step: takes what it touched and raised, leaving the side state empty.
    pub fn end_step(&mut self) -> StepEffects {
        StepEffects {
            footprint: Footprint {
                reads: core::mem::take(self.side.reads.get_mut()),
                writes: core::mem::take(&mut self.side.writes),
            },
            raised: core::mem::take(&mut self.side.raised),
            touched: self.side.log.take().unwrap_or_default(),
            locks: self.side.locks.take().unwrap_or_default(),
        }
    }

    /// Logs a lock operation of the current step (only while replaying: the search pays
    /// nothing for it).
    fn lock_event(&mut self, lock: LockName, op: LockOp) {
        if let Some(log) = &mut self.side.locks {
            log.push(LockEvent { lock, op });
        }
    }

    /// Logs an acquire that succeeded and passes `took` through.
    fn acquired(&mut self, lock: LockName, op: LockOp, took: bool) -> bool {
        if took {
            self.lock_event(lock, op);
        }
        took
    }

    /// Logs a release (or downgrade) and flags INV-LOCK-BALANCE when the thread did not
    /// hold the lock.
    fn released(&mut self, lock: LockName, op: LockOp, held: bool, what: &'static str) {
        self.lock_event(lock, op);
        if !held {
            self.flag(InvariantId::LOCK_BALANCE, what);
        }
    }

    /// Raises a violation of `id` in the current step. Every invariant raised is kept (once,
    /// with its first phrase), so one the scenario does not check never hides one it does.
    pub fn flag(&mut self, id: InvariantId, what: &'static str) {
        if !self.side.raised.iter().any(|f| f.id == id) {
            self.side.raised.push(Flagged { id, what });
        }
    }

    /// Runs the footprint auditor on a finished step: an undeclared write (against `before`,
    /// the state the step started from) is raised first, as INV-FOOTPRINT.
    pub(crate) fn audit_step(&self, before: &Self, fx: &mut StepEffects) {
        if self.undeclared_write(before, &fx.footprint).is_some()
            || self.fingerprint() != self.fingerprint_uncached()
        {
            fx.raised.insert(
                0,
                Flagged {
                    id: InvariantId::FOOTPRINT,
                    what: "the step changed a location its footprint does not declare",
                },
            );
        }
    }

    /// Returns the number of regions (pmds) in use; fixed for a scenario's life.
    pub fn npmds(&self) -> u8 {
        self.pt.npmds()
    }

    /// Reads `pmd[r]` (`pmdp_get`).
    pub fn pmd_get(&mut self, r: u8) -> Pmd<A> {
        let v = self.peek_pmd(r);
        self.touch(TouchLoc::Pmd(r), v.raw_u64(), v.raw_u64());
        v
    }
    /// Reads `pmd[r]` without adding it to a replayed trace (invariants, tests); the read is
    /// still recorded in the footprint.
    pub fn peek_pmd(&self, r: u8) -> Pmd<A> {
        self.read(Loc::Pmd(r));
        self.pt.pmd(r)
    }
    /// Writes `pmd[r]`.
    pub fn pmd_set(&mut self, r: u8, v: Pmd<A>) {
        self.write(Loc::Pmd(r));
        let old = self.pt.set_pmd(r, v);
        self.touch(TouchLoc::Pmd(r), old.raw_u64(), v.raw_u64());
    }
    /// Returns the table a table pmd points to, by its pfn; `None` if no table has it.
    pub fn table_of(&self, pmd: Pmd<A>) -> Option<u8> {
        let pfn = A::pmd_pfn(pmd);
        (0..MAX_TABLES as u8).find(|&t| Self::table_pfn(t) == pfn)
    }
    /// Returns table `t`: its life state, region, ptes and lock (a recorded read).
    pub fn table(&self, t: u8) -> &Table<A> {
        self.read(Loc::Table(t));
        self.pt.table(t)
    }
    fn table_access(&mut self, t: u8, what: &'static str) -> bool {
        if self.pt.table(t).state != TableState::Live {
            self.flag(InvariantId::TABLE_LIFE, what);
            return false;
        }
        true
    }
    /// Reads a pte; an access to a freed table is flagged.
    pub fn pte_get(&mut self, t: u8, slot: usize) -> Pte<A> {
        self.read(Loc::Table(t));
        self.table_access(t, "read a pte of a freed page table");
        let v = self.pt.table(t).ptes[slot];
        self.touch(TouchLoc::Pte(t, slot as u8), v.raw_u64(), v.raw_u64());
        v
    }
    /// Writes a pte; a write to a freed table is flagged.
    pub fn pte_set(&mut self, t: u8, slot: usize, v: Pte<A>) {
        self.write(Loc::Table(t));
        self.table_access(t, "wrote a pte into a freed page table");
        let old = core::mem::replace(&mut self.pt.table_mut(t).ptes[slot], v);
        self.touch(TouchLoc::Pte(t, slot as u8), old.raw_u64(), v.raw_u64());
    }
    /// `pte_alloc_one`: a fresh table for region `r`, filled as the architecture's allocator
    /// leaves it; `None` when the arena is full.
    pub fn table_alloc(&mut self, r: u8) -> Option<u8> {
        let mut found = None;
        for t in 0..MAX_TABLES as u8 {
            self.read(Loc::Table(t));
            if self.pt.table(t).state == TableState::Unused {
                found = Some(t);
                break;
            }
        }
        let t = found?;
        self.write(Loc::Table(t));
        let table = self.pt.table_mut(t);
        table.state = TableState::Live;
        table.region = r;
        for (slot, pte) in table.ptes.iter_mut().enumerate() {
            *pte = A::pte_fresh(Self::slot_addr(r, slot));
        }
        Some(t)
    }
    /// `pte_free`: poisons the table.
    pub fn table_free(&mut self, t: u8) {
        self.write(Loc::Table(t));
        self.table_access(t, "freed a page table twice");
        self.pt.table_mut(t).state = TableState::Freed;
    }
    /// Returns the table deposited under `pmd[r]`, if any (a recorded read).
    pub fn deposited(&self, r: u8) -> Option<u8> {
        self.read(Loc::PmdLock(r));
        self.pt.deposited(r)
    }
    /// `pgtable_trans_huge_deposit` (caller holds the pmd lock).
    pub fn deposit(&mut self, r: u8, t: u8) {
        self.write(Loc::PmdLock(r));
        self.pt.deposit(r, t);
    }
    /// `pgtable_trans_huge_withdraw` (caller holds the pmd lock); `None` if nothing deposited.
    pub fn withdraw(&mut self, r: u8) -> Option<u8> {
        self.write(Loc::PmdLock(r));
        self.pt.withdraw(r)
    }
    /// Returns who holds `pmd[r]`'s lock (a recorded read).
    pub fn pmd_lock_holder(&self, r: u8) -> Option<Tid> {
        self.read(Loc::PmdLock(r));
        self.pt.pmd_lock(r).holder()
    }
    /// `spin_lock(pmd_lock)`; `false` (no change) when held by another thread.
    pub fn pmd_lock(&mut self, r: u8, t: Tid) -> bool {
        self.write(Loc::PmdLock(r));
        let took = self.pt.pmd_lock_mut(r).try_lock(t);
        self.acquired(LockName::PmdLock(r), LockOp::Acquire, took)
    }
    /// `spin_unlock(pmd_lock)`.
    pub fn pmd_unlock(&mut self, r: u8, t: Tid) {
        self.write(Loc::PmdLock(r));
        let held = self.pt.pmd_lock_mut(r).unlock(t);
        self.released(
            LockName::PmdLock(r),
            LockOp::Release,
            held,
            "released a pmd lock it did not hold",
        );
    }
    /// `spin_lock(ptl)` of table `tab`.
    pub fn ptl_lock(&mut self, tab: u8, t: Tid) -> bool {
        self.write(Loc::Table(tab));
        self.table_access(tab, "took the pte lock of a freed page table");
        let took = self.pt.table_mut(tab).ptl.try_lock(t);
        self.acquired(LockName::Ptl(tab), LockOp::Acquire, took)
    }
    /// `spin_unlock(ptl)`.
    pub fn ptl_unlock(&mut self, tab: u8, t: Tid) {
        self.write(Loc::Table(tab));
        let held = self.pt.table_mut(tab).ptl.unlock(t);
        self.released(
            LockName::Ptl(tab),
            LockOp::Release,
            held,
            "released a pte lock it did not hold",
        );
    }
    /// The footprint location of `mm`'s `mmap_lock`.
    fn mm_loc(mm: u8) -> Loc {
        if mm == 0 { Loc::Mmap } else { Loc::OtherMm(mm) }
    }
    /// Returns thread `t`'s mm (`current->mm`; fixed for the scenario, not a recorded read).
    pub fn mm_of_thread(&self, t: Tid) -> u8 {
        self.procs.of_thread(t)
    }
    /// Returns region `r`'s mm (fixed for the scenario, not a recorded read).
    pub fn mm_of_region(&self, r: u8) -> u8 {
        self.procs.of_region(r)
    }
    /// Returns the number of mms (processes) in the scenario.
    pub fn mms(&self) -> u8 {
        self.procs.count()
    }
    /// Puts thread `t` in `mm` (the builder's `thread_in`).
    pub(crate) fn set_thread_mm(&mut self, t: Tid, mm: u8) {
        self.procs.set_thread(t, mm);
    }
    /// Puts region `r` in `mm` (the builder's `region_in`).
    pub(crate) fn set_region_mm(&mut self, r: u8, mm: u8) {
        self.procs.set_region(r, mm);
    }
    /// Returns mm 0's `mmap_lock` (a recorded read); [`mmap_sem_of`](Self::mmap_sem_of) for
    /// another mm.
    pub fn mmap_sem(&self) -> RwSem {
        self.mmap_sem_of(0)
    }
    /// Returns `mm`'s `mmap_lock` (a recorded read).
    pub fn mmap_sem_of(&self, mm: u8) -> RwSem {
        self.read(Self::mm_loc(mm));
        *self.procs.mmap(mm)
    }
    /// Records a write of `t`'s mm's lock and returns the mm.
    fn own_mm(&mut self, t: Tid) -> u8 {
        let mm = self.procs.of_thread(t);
        self.write(Self::mm_loc(mm));
        mm
    }
    /// `raw_read_seqcount(&current->mm->write_protect_seq)` for thread `t` (a recorded read
    /// of its mm): odd while a fork write-protects the mm's ptes.
    pub fn write_protect_seq(&self, t: Tid) -> u32 {
        let mm = self.procs.of_thread(t);
        self.read(Self::mm_loc(mm));
        self.procs.write_protect_seq(mm)
    }
    /// `raw_write_seqcount_begin(&current->mm->write_protect_seq)` (`copy_page_range`): the
    /// count turns odd. A begin while it is odd already is INV-MODEL (the kernel has one
    /// writer, under `mmap_lock` write).
    pub fn write_protect_seq_begin(&mut self, t: Tid) {
        let mm = self.own_mm(t);
        if self.procs.write_protect_seq(mm) & 1 != 0 {
            self.flag(
                InvariantId::MODEL,
                "write_seqcount_begin inside a write section",
            );
        }
        self.procs.bump_write_protect_seq(mm);
    }
    /// `raw_write_seqcount_end(&current->mm->write_protect_seq)`: the count turns even. An
    /// end with no begin is INV-MODEL.
    pub fn write_protect_seq_end(&mut self, t: Tid) {
        let mm = self.own_mm(t);
        if self.procs.write_protect_seq(mm) & 1 == 0 {
            self.flag(
                InvariantId::MODEL,
                "write_seqcount_end outside a write section",
            );
        }
        self.procs.bump_write_protect_seq(mm);
    }
    /// `mmap_read_lock` of `t`'s own mm; `false` (no change) while a writer holds or waits.
    pub fn mmap_read(&mut self, t: Tid) -> bool {
        let mm = self.own_mm(t);
        let took = self.procs.mmap_mut(mm).try_read(t);
        self.acquired(LockName::MmapLock(mm), LockOp::AcquireRead, took)
    }
    /// Releases `t`'s read hold on its mm's `mmap_lock`, flagging `LockBalance` if it held
    /// none (`mmap_read_unlock`).
    pub fn mmap_read_unlock(&mut self, t: Tid) {
        let mm = self.own_mm(t);
        let held = self.procs.mmap_mut(mm).up_read(t);
        self.released(
            LockName::MmapLock(mm),
            LockOp::Release,
            held,
            "mmap_read_unlock without the lock",
        );
    }
    /// `mmap_write_lock` of `t`'s own mm: `Some(true)` acquired; `Some(false)` queued (the
    /// step changed the state: run it again to acquire); `None` already queued and still
    /// blocked (no change: return [`Step::Blocked`](super::program::Step::Blocked) with
    /// [`Wait::MmapWrite`](super::program::Wait::MmapWrite)).
    pub fn mmap_write(&mut self, t: Tid) -> Option<bool> {
        let mm = self.own_mm(t);
        let got = self.procs.mmap_mut(mm).try_write(t);
        self.acquired(LockName::MmapLock(mm), LockOp::Acquire, got == Some(true));
        got
    }
    /// Releases `t`'s write hold on its mm's `mmap_lock`, flagging `LockBalance` if it held
    /// none (`mmap_write_unlock`).
    pub fn mmap_write_unlock(&mut self, t: Tid) {
        let mm = self.own_mm(t);
        let held = self.procs.mmap_mut(mm).up_write(t);
        self.released(
            LockName::MmapLock(mm),
            LockOp::Release,
            held,
            "mmap_write_unlock without the lock",
        );
    }
    /// `mmap_write_downgrade` of `t`'s mm: writer to reader in one step.
    pub fn mmap_downgrade(&mut self, t: Tid) {
        let mm = self.own_mm(t);
        let held = self.procs.mmap_mut(mm).downgrade(t);
        self.released(
            LockName::MmapLock(mm),
            LockOp::Downgrade,
            held,
            "mmap_write_downgrade without the write lock",
        );
    }
    /// `find_vma(mm, addr)`: the attached VMA of `mm` with the lowest start among those
    /// ending above region `r` (a recorded read of the VMA trees); it may start above `r`.
    pub fn find_vma(&self, mm: u8, r: u8) -> Option<VmaId> {
        self.read(Loc::Vmas);
        self.vmas.find(mm, r)
    }
    /// Whether the VMA `find_vma` finds for region `r`'s address in `r`'s mm is `VM_SHARED`:
    /// the fault handlers' `vma->vm_flags & VM_SHARED` (a recorded read).
    pub fn vma_shared(&self, r: u8) -> bool {
        self.find_vma(self.mm_of_region(r), r)
            .is_some_and(|id| self.vma(id).flags.contains(VmFlags::SHARED))
    }
    /// `vma_lookup(mm, addr)`: the attached VMA of `mm` covering region `r`.
    pub fn vma_lookup(&self, mm: u8, r: u8) -> Option<VmaId> {
        self.find_vma(mm, r)
            .filter(|&id| self.vmas.get(id).is_some_and(|v| v.covers(r)))
    }
    /// The attached VMA of `mm` ending at or below region `r` with the highest end
    /// (`vma_prev`; a recorded read).
    pub fn vma_prev(&self, mm: u8, r: u8) -> Option<VmaId> {
        self.read(Loc::Vmas);
        self.vmas.prev(mm, r)
    }
    /// Returns VMA `id` (a recorded read); a default (empty, detached) VMA for an id never
    /// inserted.
    pub fn vma(&self, id: VmaId) -> Vma {
        self.read(Loc::Vmas);
        self.vmas.get(id).copied().unwrap_or_default()
    }
    /// Returns every VMA used so far, attached or detached (a recorded read).
    pub fn vmas(&self) -> impl Iterator<Item = (VmaId, &Vma)> + '_ {
        self.read(Loc::Vmas);
        self.vmas.used()
    }
    /// Returns whether an attached VMA of `mm` overlaps regions `[start, end)` (a recorded
    /// read).
    pub fn vma_overlaps(&self, mm: u8, start: u8, end: u8) -> bool {
        self.read(Loc::Vmas);
        self.vmas.overlaps(mm, start, end, None)
    }
    /// Inserts a VMA of `mm` over regions `[start, end)` with `flags` (`vma_link`, the
    /// caller holds `mmap_lock` for write); `None` when the VMA slots are used up (the
    /// caller flags INV-MODEL). An overlap with an attached VMA is INV-MODEL: the caller
    /// must unmap the range first, as `mmap_region` does.
    pub fn vma_insert(&mut self, mm: u8, start: u8, end: u8, flags: VmFlags) -> Option<VmaId> {
        self.write(Loc::Vmas);
        if start >= end || end > self.pt.npmds() {
            self.flag(
                InvariantId::MODEL,
                "vma_insert: an empty or out-of-range VMA",
            );
            return None;
        }
        if self.vmas.overlaps(mm, start, end, None) {
            self.flag(InvariantId::MODEL, "vma_insert over an attached VMA");
        }
        let vma = Vma {
            mm,
            start,
            end,
            flags,
            attached: true,
        };
        let id = self.vmas.add(vma)?;
        self.touch(TouchLoc::Vma(id.0), Vma::default().pack(), vma.pack());
        Some(id)
    }
    fn vma_update(&mut self, id: VmaId, what: &'static str, f: impl FnOnce(&mut Vma)) {
        self.write(Loc::Vmas);
        let Some(v) = self.vmas.get_mut(id) else {
            self.flag(InvariantId::MODEL, what);
            return;
        };
        let before = v.pack();
        f(v);
        let after = v.pack();
        self.touch(TouchLoc::Vma(id.0), before, after);
    }
    /// Removes VMA `id` from its mm's tree (munmap's detach: `vma_iter_clear_gfp`, or
    /// `detach_vmas_to_be_unmapped` before v6.1); it keeps its range and flags.
    pub fn vma_detach(&mut self, id: VmaId) {
        self.vma_update(id, "vma_detach of a VMA never inserted", |v| {
            v.attached = false;
        });
    }
    /// Sets VMA `id`'s flags (`vm_flags_set`/`vm_flags_clear`).
    pub fn vma_set_flags(&mut self, id: VmaId, flags: VmFlags) {
        self.vma_update(id, "vm_flags of a VMA never inserted", |v| v.flags = flags);
    }
    /// Moves VMA `id`'s start to region `start` (`expand_downwards`).
    pub fn vma_set_start(&mut self, id: VmaId, start: u8) {
        self.vma_update(id, "vm_start of a VMA never inserted", |v| v.start = start);
    }
    /// `filemap_get_folio(mapping, index)`: the page the file's page cache holds at `index`
    /// (a recorded read).
    pub fn cache_get(&self, index: usize) -> Option<u8> {
        self.read(Loc::PageCache);
        self.cache.get(index)
    }
    /// Puts `page` in the page cache at `index`, or (`None`) removes what is there
    /// (`filemap_remove_folio`: the page's `mapping` becomes NULL).
    pub fn cache_set(&mut self, index: usize, page: Option<u8>) {
        self.xa_store(index, page.map_or(XaEntry::Empty, XaEntry::Page));
    }
    /// `xas_load`: the entry at `index`, retry entries included (a recorded read).
    pub fn xa_load(&self, index: usize) -> XaEntry {
        self.read(Loc::PageCache);
        self.cache.load(index)
    }
    /// `xas_store`: puts `entry` at `index` (shown in traces as `xa[index]`).
    pub fn xa_store(&mut self, index: usize, entry: XaEntry) {
        self.write(Loc::PageCache);
        let huge = |e: XaEntry| match e {
            XaEntry::Page(p) => usize::from(p) < MAX_PAGES && self.pages.get(p).huge,
            _ => false,
        };
        let before = self.cache.load(index);
        let (b, a) = (before.pack(huge(before)), entry.pack(huge(entry)));
        self.cache.store(index, entry);
        if index < CACHE_SLOTS && b != a {
            self.touch(TouchLoc::PageCache(index as u8), b, a);
        }
    }
    /// Returns `mapping->nrpages` (a recorded read).
    pub fn nrpages(&self) -> u8 {
        self.read(Loc::PageCache);
        self.cache.nrpages()
    }
    /// `mapping->nrpages += delta` (`shmem_charge`, `shmem_add_to_page_cache`,
    /// `page_cache_delete`).
    pub fn add_nrpages(&mut self, delta: i8) {
        self.write(Loc::PageCache);
        self.cache.add_nrpages(delta);
    }
    /// Returns the file's `i_size`, in pages (a recorded read).
    pub fn i_size(&self) -> u8 {
        self.read(Loc::PageCache);
        self.cache.i_size()
    }
    /// Sets the file's `i_size`, in pages (`i_size_write`).
    pub fn set_i_size(&mut self, pages: u8) {
        self.write(Loc::PageCache);
        self.cache.set_i_size(pages);
    }
    /// Returns `mapping->truncate_count` (a recorded read).
    pub fn truncate_count(&self) -> u8 {
        self.read(Loc::PageCache);
        self.cache.truncate_count()
    }
    /// `mapping->truncate_count++` (`unmap_mapping_range`, before 2.6.23).
    pub fn bump_truncate_count(&mut self) {
        self.write(Loc::PageCache);
        self.cache.bump_truncate_count();
    }
    /// Returns the VMA's protection (a recorded read of the VMA).
    pub fn prot(&self) -> Protection {
        self.read(Loc::Mmap);
        self.prot
    }
    /// Sets the VMA's protection (`mprotect`; the caller holds `mmap_lock` for write).
    pub fn set_prot(&mut self, prot: Protection) {
        self.write(Loc::Mmap);
        self.prot = prot;
    }
    /// Returns whether the VMA is anonymous (`vma_is_anonymous`; a recorded read): `false`
    /// for a file or shmem mapping.
    pub fn vma_is_anonymous(&self) -> bool {
        self.read(Loc::Mmap);
        !self.vma_file
    }
    /// Makes the VMA a file (shmem) mapping, or anonymous again.
    pub fn set_vma_file(&mut self, file: bool) {
        self.write(Loc::Mmap);
        self.vma_file = file;
    }
    /// Marks page `p` a page-cache page (`file`) or an anonymous one.
    pub fn page_set_file(&mut self, p: u8, file: bool) {
        self.write(Loc::Page(p));
        self.pages.get_mut(p).file = file;
    }
    /// Returns page `p`'s state (a recorded read).
    pub fn page(&self, p: u8) -> &Page {
        self.read(Loc::Page(p));
        self.pages.get(p)
    }
    /// Returns the allocated pages with their index, each a recorded read.
    pub fn allocated_pages(&self) -> impl Iterator<Item = (u8, &Page)> + '_ {
        (0..MAX_PAGES as u8)
            .map(|p| (p, self.page(p)))
            .take_while(|(_, page)| page.allocated)
    }
    /// Allocates a page (huge or small); `None` when the arena is full.
    pub fn page_alloc(&mut self, huge: bool) -> Option<u8> {
        let p = (0..MAX_PAGES as u8).find(|&p| !self.page(p).allocated)?;
        self.write(Loc::Page(p));
        self.pages.init(p, huge);
        Some(p)
    }
    /// Changes a page's mapcount (mapping or unmapping it in region `r`).
    pub fn page_map(&mut self, p: u8, r: u8, delta: i8) {
        self.write(Loc::Page(p));
        if let Err(what) = self.pages.map(p, r, delta) {
            self.flag(InvariantId::MODEL, what);
        }
    }
    /// Sets or clears `PageAnonExclusive` of page `p`.
    pub fn page_set_anon_exclusive(&mut self, p: u8, on: bool) {
        self.write(Loc::Page(p));
        self.pages.get_mut(p).anon_exclusive = on;
    }
    /// Takes a page reference (`try_grab_folio`).
    pub fn page_get(&mut self, p: u8) {
        self.write(Loc::Page(p));
        self.pages.get_ref(p, false);
    }
    /// `try_grab_folio(FOLL_PIN)`: a reference that `folio_maybe_dma_pinned` sees.
    pub fn page_pin(&mut self, p: u8) {
        self.write(Loc::Page(p));
        self.pages.get_ref(p, true);
    }
    /// `gup_put_folio(FOLL_PIN)` / `unpin_user_page`: drops a pin (and, if GUP had handed it
    /// over, its [`Page::pins_kept`] share), flagging INV-MODEL for a page not pinned.
    pub fn page_unpin(&mut self, p: u8, kept: bool) {
        self.write(Loc::Page(p));
        if let Err(what) = self.pages.unpin(p, kept) {
            self.flag(InvariantId::MODEL, what);
        }
    }
    /// GUP hands a pin it holds to its caller (ghost: [`Page::pins_kept`]).
    pub fn page_keep_pin(&mut self, p: u8) {
        self.write(Loc::Page(p));
        if let Err(what) = self.pages.keep_pin(p) {
            self.flag(InvariantId::MODEL, what);
        }
    }
    /// `folio_maybe_dma_pinned` (include/linux/mm.h:1935), a recorded read.
    pub fn page_maybe_dma_pinned(&self, p: u8) -> bool {
        self.page(p).pincount > 0
    }
    /// Frees a page reference.
    pub fn page_put(&mut self, p: u8) {
        self.write(Loc::Page(p));
        self.pages.put(p);
    }
    /// Returns whether thread `t` holds any page lock (recorded reads of every allocated
    /// page): what a lock-order monitor asks before a fault or a blocking allocation.
    pub fn holds_page_lock(&self, t: Tid) -> bool {
        self.allocated_pages().any(|(_, p)| p.lock.held_by(t))
    }
    /// `trylock_page` / `lock_page`: `false` (no change) when another thread holds it.
    pub fn page_lock(&mut self, p: u8, t: Tid) -> bool {
        self.write(Loc::Page(p));
        let took = self.pages.get_mut(p).lock.try_lock(t);
        self.acquired(LockName::PageLock(p), LockOp::Acquire, took)
    }
    /// Unlocks page `p`, flagging `LockBalance` if `t` did not hold its lock (`unlock_page`).
    pub fn page_unlock(&mut self, p: u8, t: Tid) {
        self.write(Loc::Page(p));
        let held = self.pages.get_mut(p).lock.unlock(t);
        // folio_unlock -> folio_wake_bit: every queued waiter is woken.
        self.pages.wake_all(p);
        self.released(
            LockName::PageLock(p),
            LockOp::Release,
            held,
            "unlocked a page it had not locked",
        );
    }
    /// Queues thread `t` on page `p`'s `PG_locked` without taking it, as
    /// `migration_entry_wait_on_locked` does (mm/filemap.c:1386, `folio_trylock_flag` with
    /// no exclusive flag): `false` when the page is unlocked (nothing to wait for), else
    /// `true`, and `t` waits until the next [`Machine::page_unlock`] of `p` wakes it
    /// ([`Machine::page_waiting`]), whoever locks the page after.
    pub fn page_wait_enqueue(&mut self, p: u8, t: Tid) -> bool {
        self.write(Loc::Page(p));
        if self.pages.get(p).lock.holder().is_none() {
            return false;
        }
        self.pages.enqueue(p, t);
        true
    }
    /// Returns the threads queued on page `p`'s `PG_locked` (bit `t`; a recorded read).
    pub fn page_waiters(&self, p: u8) -> u8 {
        self.read(Loc::Page(p));
        self.pages.waiters(p)
    }
    /// Returns whether thread `t` still waits on page `p`: queued by
    /// [`Machine::page_wait_enqueue`] and not woken by an unlock since (a recorded read).
    pub fn page_waiting(&self, p: u8, t: Tid) -> bool {
        self.page_waiters(p) & 1 << t.0 != 0
    }
    /// Returns the page whose pfn range holds `pfn` (a recorded read of that page).
    pub fn page_of_pfn(&self, pfn: u64) -> Option<u8> {
        let per = A::GEOMETRY.pages_per_pmd();
        let p = pfn / per;
        (p >= 1 && p <= MAX_PAGES as u64 && self.page((p - 1) as u8).allocated)
            .then(|| (p - 1) as u8)
    }
    /// Returns what CPU `cpu` caches for (region, slot), slot `None` being the huge entry:
    /// the pfn, or `None` (a recorded read of that CPU's TLB).
    pub fn tlb_entry(&self, cpu: u8, r: u8, slot: Option<usize>) -> Option<u64> {
        self.read(Loc::Tlb(cpu));
        self.tlb.entry(cpu, r, slot)
    }
    /// A CPU's MMU caching a translation for (region, slot): slot `None` is the huge entry.
    pub fn tlb_fill(&mut self, cpu: u8, r: u8, slot: Option<usize>, pfn: u64) {
        self.write(Loc::Tlb(cpu));
        if let Err(what) = self.tlb.fill(cpu, r, slot, pfn) {
            self.flag(InvariantId::MODEL, what);
        }
    }
    /// Flushes region `r` from every CPU's TLB (`flush_tlb_range` / `flush_pmd_tlb_range`).
    pub fn tlb_flush_region(&mut self, r: u8) {
        for cpu in 0..MAX_THREADS as u8 {
            self.write(Loc::Tlb(cpu));
            self.tlb.flush(cpu, r);
        }
    }
    /// Declares `lock` ([`ScenarioBuilder`](super::ScenarioBuilder)'s `spinlock`, `mutex`,
    /// `rwsem` and `rcu` call it).
    pub(crate) fn declare_lock(&mut self, lock: DeclaredLock) -> Result<(), LockDeclError> {
        self.locks.declare(lock)
    }
    /// Returns a declared lock's state (a recorded read); `None` when the scenario did not
    /// declare it with that kind.
    pub fn lock_state(&self, lock: DeclaredLock) -> Option<LockState> {
        let s = self.declared(lock)?;
        self.read(Loc::Lock(lock.index()));
        Some(*s)
    }
    fn declared(&self, lock: DeclaredLock) -> Option<&LockState> {
        self.locks
            .is_declared(lock)
            .then(|| self.locks.state(lock.index()))
    }
    /// The state of a lock a step is about to change, recorded as written; `None` (and
    /// INV-MODEL raised) when the scenario did not declare it.
    fn declared_mut(&mut self, lock: DeclaredLock) -> Option<&mut LockState> {
        if !self.locks.is_declared(lock) {
            self.flag(
                InvariantId::MODEL,
                "a step used a lock the scenario did not declare",
            );
            return None;
        }
        self.write(Loc::Lock(lock.index()));
        Some(self.locks.state_mut(lock.index()))
    }
    /// Takes an exclusive declared lock (spinlock or mutex): `false` (no change) when
    /// another thread holds it.
    fn exclusive_lock(&mut self, lock: DeclaredLock, t: Tid) -> bool {
        let Some(s) = self.declared_mut(lock) else {
            return true;
        };
        let took = s.sem.writer.try_lock(t);
        self.acquired(lock.lock_name(), LockOp::Acquire, took)
    }
    fn exclusive_unlock(&mut self, lock: DeclaredLock, t: Tid, what: &'static str) {
        let Some(s) = self.declared_mut(lock) else {
            return;
        };
        let held = s.sem.writer.unlock(t);
        self.released(lock.lock_name(), LockOp::Release, held, what);
    }
    /// `spin_lock`: `false` (no change) when another thread holds it; block with
    /// [`Wait::Spinlock`](super::program::Wait::Spinlock).
    pub fn spin_lock(&mut self, lock: SpinlockId, t: Tid) -> bool {
        self.exclusive_lock(lock.lock(), t)
    }
    /// `spin_unlock`, flagging INV-LOCK-BALANCE if `t` did not hold it.
    pub fn spin_unlock(&mut self, lock: SpinlockId, t: Tid) {
        self.exclusive_unlock(lock.lock(), t, "released a spinlock it did not hold");
    }
    /// `mutex_lock`: `false` (no change) when another thread holds it; block with
    /// [`Wait::Mutex`](super::program::Wait::Mutex).
    pub fn mutex_lock(&mut self, lock: MutexId, t: Tid) -> bool {
        self.exclusive_lock(lock.lock(), t)
    }
    /// `mutex_unlock`, flagging INV-LOCK-BALANCE if `t` did not hold it.
    pub fn mutex_unlock(&mut self, lock: MutexId, t: Tid) {
        self.exclusive_unlock(lock.lock(), t, "unlocked a mutex it did not hold");
    }
    /// `down_read`: `false` (no change) while a writer holds or waits (writer preference);
    /// block with [`Wait::RwsemRead`](super::program::Wait::RwsemRead).
    pub fn down_read(&mut self, lock: RwsemId, t: Tid) -> bool {
        let Some(s) = self.declared_mut(lock.lock()) else {
            return true;
        };
        let took = s.sem.try_read(t);
        self.acquired(lock.lock_name(), LockOp::AcquireRead, took)
    }
    /// `up_read`, flagging INV-LOCK-BALANCE if `t` held no read hold.
    pub fn up_read(&mut self, lock: RwsemId, t: Tid) {
        let Some(s) = self.declared_mut(lock.lock()) else {
            return;
        };
        let held = s.sem.up_read(t);
        self.released(
            lock.lock_name(),
            LockOp::Release,
            held,
            "up_read without the lock",
        );
    }
    /// `down_write`, as [`mmap_write`](Self::mmap_write): `Some(true)` acquired,
    /// `Some(false)` queued (run the step again), `None` still blocked (no change: block with
    /// [`Wait::RwsemWrite`](super::program::Wait::RwsemWrite)).
    pub fn down_write(&mut self, lock: RwsemId, t: Tid) -> Option<bool> {
        let Some(s) = self.declared_mut(lock.lock()) else {
            return Some(true);
        };
        let got = s.sem.try_write(t);
        self.acquired(lock.lock_name(), LockOp::Acquire, got == Some(true));
        got
    }
    /// `up_write`, flagging INV-LOCK-BALANCE if `t` was not the writer.
    pub fn up_write(&mut self, lock: RwsemId, t: Tid) {
        let Some(s) = self.declared_mut(lock.lock()) else {
            return;
        };
        let held = s.sem.up_write(t);
        self.released(
            lock.lock_name(),
            LockOp::Release,
            held,
            "up_write without the lock",
        );
    }
    /// `downgrade_write`: writer to reader in one step, no writer in between.
    pub fn downgrade_write(&mut self, lock: RwsemId, t: Tid) {
        let Some(s) = self.declared_mut(lock.lock()) else {
            return;
        };
        let held = s.sem.downgrade(t);
        self.released(
            lock.lock_name(),
            LockOp::Downgrade,
            held,
            "downgrade_write without the write lock",
        );
    }
    /// `rcu_read_lock`: enters a read-side section (never blocks). A nested section is not
    /// modelled: INV-MODEL.
    pub fn rcu_read_lock(&mut self, lock: RcuId, t: Tid) {
        let Some(s) = self.declared_mut(lock.lock()) else {
            return;
        };
        let nested = s.sem.readers & t.bit() != 0;
        s.sem.readers |= t.bit();
        self.lock_event(lock.lock_name(), LockOp::AcquireRead);
        if nested {
            self.flag(
                InvariantId::MODEL,
                "nested rcu_read_lock: the model keeps one section per thread",
            );
        }
    }
    /// `rcu_read_unlock`: leaves the section; no grace period waits for `t` any longer.
    /// Flags INV-LOCK-BALANCE outside a section.
    pub fn rcu_read_unlock(&mut self, lock: RcuId, t: Tid) {
        let Some(s) = self.declared_mut(lock.lock()) else {
            return;
        };
        let held = s.rcu_leave(t);
        self.released(
            lock.lock_name(),
            LockOp::Release,
            held,
            "rcu_read_unlock outside a read-side section",
        );
    }
    /// `synchronize_rcu`: waits for every read-side section that began before it.
    /// `Some(true)` the grace period ended (at once without readers); `Some(false)` it began,
    /// noting the readers inside (run the step again); `None` some of them are still inside
    /// (no change: block with [`Wait::GracePeriod`](super::program::Wait::GracePeriod)).
    /// Called inside one's own section it waits for itself: a deadlock, as in the kernel.
    pub fn synchronize_rcu(&mut self, lock: RcuId, t: Tid) -> Option<bool> {
        let Some(s) = self.declared_mut(lock.lock()) else {
            return Some(true);
        };
        let got = s.rcu_synchronize(t);
        if got == Some(true) {
            self.lock_event(lock.lock_name(), LockOp::Synchronize);
        }
        got
    }
    /// Marks the monitors' state as touched (a step that only announces an event).
    pub fn ghost(&mut self) {
        self.write(Loc::Ghost);
    }
    /// Returns user ghost cell `i` (< [`GHOST_CELLS`]; a recorded read).
    pub fn ghost_get(&self, i: usize) -> u64 {
        self.read(Loc::Ghost);
        self.ghost.cell(i)
    }
    /// Sets user ghost cell `i` (< [`GHOST_CELLS`]).
    pub fn ghost_set(&mut self, i: usize, v: u64) {
        self.write(Loc::Ghost);
        self.ghost.set_cell(i, v);
    }
    /// Returns the regions a MADV_DONTNEED has returned for, as a bitmask (a ghost read).
    pub fn dontneed_done(&self) -> u8 {
        self.read(Loc::Ghost);
        self.ghost.dontneed_done()
    }
    /// Returns the pages mapped in a MADV_DONTNEED's range when it began (bitmask over the
    /// page arena; a ghost read).
    pub fn dontneed_pages(&self) -> u16 {
        self.read(Loc::Ghost);
        self.ghost.dontneed_pages()
    }
    /// Records that MADV_DONTNEED returned for region `r` (`r` < [`MAX_PMDS`]).
    pub fn dontneed_mark_done(&mut self, r: u8) {
        self.write(Loc::Ghost);
        self.ghost.mark_dontneed_done(r);
    }
    /// Adds pages (bitmask over the page arena) to those MADV_DONTNEED must unmap.
    pub fn dontneed_add_pages(&mut self, pages: u16) {
        self.write(Loc::Ghost);
        self.ghost.add_dontneed_pages(pages);
    }
    /// Returns a thread's state (a recorded read of it).
    pub fn th(&self, t: Tid) -> &ThreadState {
        self.read(Loc::Thread(t.0));
        self.threads.get(t)
    }
    /// Returns a thread's state, mutably (a recorded write of it).
    pub fn th_mut(&mut self, t: Tid) -> &mut ThreadState {
        self.write(Loc::Thread(t.0));
        self.threads.get_mut(t)
    }
    /// Moves thread `t` to step `pc`.
    pub fn goto(&mut self, t: Tid, pc: u8) {
        self.th_mut(t).pc = pc;
    }
    /// Returns whether thread `t` has finished (for the explorer: not a recorded read).
    pub(crate) fn done(&self, t: u8) -> bool {
        self.threads.get(Tid(t)).done
    }
    /// Returns the holders of what a blocked thread waits for, as a thread mask (for the
    /// explorer's wait-for graph: not a recorded read).
    pub(crate) fn wait_holders(&self, w: super::program::Wait, t: Tid) -> u8 {
        use super::program::Wait;
        let bit = |o: Owner| o.holder().map_or(0, |h| h.bit());
        match w {
            Wait::PmdLock(r) => bit(*self.pt.pmd_lock(r)),
            Wait::Ptl(tab) => bit(self.pt.table(tab).ptl),
            Wait::MmapRead => self.procs.mmap(self.procs.of_thread(t)).read_blockers(t),
            Wait::MmapWrite => self.procs.mmap(self.procs.of_thread(t)).write_blockers(t),
            Wait::PageLock(p) => bit(self.pages.get(p).lock),
            Wait::Spinlock(l) => self.declared(l.lock()).map_or(0, |s| bit(s.sem.writer)),
            Wait::Mutex(l) => self.declared(l.lock()).map_or(0, |s| bit(s.sem.writer)),
            Wait::RwsemRead(l) => self
                .declared(l.lock())
                .map_or(0, |s| s.sem.read_blockers(t)),
            Wait::RwsemWrite(l) => self
                .declared(l.lock())
                .map_or(0, |s| s.sem.write_blockers(t)),
            Wait::GracePeriod(l) => self
                .declared(l.lock())
                .map_or(0, |s| s.gp_wait[usize::from(t.0)]),
        }
    }

    /// Translates (region, slot) through the page tables as the MMU would: the pfn a present,
    /// hardware-valid huge pmd or pte gives, if any (recorded reads of what it walks).
    pub fn translate(&self, r: u8, slot: usize) -> Option<u64> {
        let pmd = self.peek_pmd(r);
        if A::pmd_none(pmd) {
            return None;
        }
        if A::pmd_trans_huge(pmd) {
            return huge_hw_valid(pmd).then(|| A::pmd_pfn(pmd) + slot as u64);
        }
        if !A::pmd_present(pmd) || A::pmd_bad(pmd) {
            return None;
        }
        let t = self.table_of(pmd)?;
        let table = self.table(t);
        if table.state != TableState::Live {
            return None;
        }
        let pte = table.ptes[slot];
        (A::pte_present(pte) && !A::pte_protnone(pte)).then(|| A::pte_pfn(pte))
    }

    /// Returns a location the step changed without declaring it in `fp.writes` (the footprint
    /// auditor): `before` is the state the step started from.
    pub fn undeclared_write(&self, before: &Self, fp: &Footprint) -> Option<Loc> {
        let declared = |loc: Loc| fp.writes & loc.bit() != 0;
        let changed = |loc: Loc, differs: bool| (differs && !declared(loc)).then_some(loc);
        let mut found = None;
        for r in 0..MAX_PMDS as u8 {
            found = found
                .or_else(|| changed(Loc::Pmd(r), self.pt.pmd_changed(&before.pt, r)))
                .or_else(|| changed(Loc::PmdLock(r), self.pt.pmd_lock_changed(&before.pt, r)));
        }
        for t in 0..MAX_TABLES as u8 {
            found = found.or_else(|| changed(Loc::Table(t), self.pt.table_changed(&before.pt, t)));
        }
        for p in 0..MAX_PAGES as u8 {
            found = found.or_else(|| changed(Loc::Page(p), self.pages.changed(&before.pages, p)));
        }
        for c in 0..MAX_THREADS {
            found = found
                .or_else(|| changed(Loc::Tlb(c as u8), self.tlb.changed(&before.tlb, c as u8)))
                .or_else(|| {
                    changed(
                        Loc::Thread(c as u8),
                        self.threads.changed(&before.threads, c as u8),
                    )
                });
        }
        found
            .or_else(|| {
                changed(
                    Loc::Mmap,
                    self.procs.mm_changed(&before.procs, 0)
                        || self.prot != before.prot
                        || self.vma_file != before.vma_file,
                )
            })
            .or_else(|| {
                (1..MAX_MMS as u8).find_map(|mm| {
                    changed(Loc::OtherMm(mm), self.procs.mm_changed(&before.procs, mm))
                })
            })
            .or_else(|| changed(Loc::Ghost, self.ghost != before.ghost))
            .or_else(|| {
                let i = self.locks.first_changed(&before.locks)?;
                changed(Loc::Lock(i), true)
            })
            .or_else(|| changed(Loc::Vmas, self.vmas != before.vmas))
            .or_else(|| changed(Loc::PageCache, self.cache != before.cache))
            .or_else(|| {
                (self.pt.npmds() != before.pt.npmds() || !self.procs.same_layout(&before.procs))
                    .then_some(Loc::Mmap)
            })
    }
}

impl<A: PmdOps> Machine<A> {
    /// Returns the state's 64-bit fingerprint for the visited set: the sum of its shares
    /// (`FpParts`: one per pmd in use, per thread, per arena and one for the rest), the cached
    /// ones where they are current.
    ///
    /// Hand-packed instead of derived: it feeds only the regions in use and the allocated
    /// prefix of the table and page arenas (allocation always takes the first unused slot,
    /// so the rest is default), a few words each, which is several times cheaper than
    /// hashing every field of the fixed-capacity arrays.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint_with(true)
    }

    /// The fingerprint computed from scratch, no cached share trusted (the footprint audit
    /// compares the two).
    pub(crate) fn fingerprint_uncached(&self) -> u64 {
        self.fingerprint_with(false)
    }

    /// Recomputes the cached shares `writes` (a step's footprint) touched, and any not
    /// computed yet. Every change of a part is a recorded write of a location its share
    /// covers (the footprint audit checks both that and the result), so the others are
    /// still current.
    #[inline]
    pub(crate) fn refresh_fingerprint(&mut self, writes: u64) {
        let n = self.pt.npmds();
        let stale = !self.fp_parts.valid;
        for (g, group) in FP_GROUP_WRITES.iter().enumerate() {
            if writes & group != 0 || stale & (1 << g) != 0 {
                self.fp_parts.groups[g] = self.group_share(g);
            }
        }
        let in_use = (1u64 << n) - 1;
        let mut pmds = (writes >> layout::PMD | writes >> layout::PMD_LOCK) & in_use;
        if stale & (1 << FP_PMDS) != 0 || self.fp_parts.npmds != n {
            pmds = in_use;
            self.fp_parts.npmds = n;
        }
        while pmds != 0 {
            let r = pmds.trailing_zeros() as u8;
            self.fp_parts.pmds[usize::from(r)] = self.pmd_share(r);
            pmds &= pmds - 1;
        }
        let mut threads = writes >> layout::THREAD & ((1 << MAX_THREADS) - 1);
        if stale & (1 << FP_THREADS) != 0 {
            threads = (1 << MAX_THREADS) - 1;
        }
        while threads != 0 {
            let t = threads.trailing_zeros() as u8;
            self.fp_parts.threads[usize::from(t)] = self.thread_share(t);
            threads &= threads - 1;
        }
        if writes & FP_MISC_WRITES != 0 || stale & (1 << FP_MISC) != 0 {
            self.fp_parts.misc = self.misc_share();
        }
        self.fp_parts.valid = FP_ALL;
    }

    /// Returns whether built-in predicate `i` held on the state this one was stepped from
    /// and the step (which wrote `writes`) left every location it read alone: then it holds
    /// here too, unjudged. Between a step and its [`Machine::held_after`] calls only.
    pub(crate) fn held_still(&self, i: usize, writes: u64) -> bool {
        self.held.valid & (1 << i) != 0 && self.held.reads[i] & writes == 0
    }
    /// Judges built-in predicate `i` with `check`, recording the locations it reads: the
    /// reads recorded so far must be none (the step's footprint was taken). Caches a verdict
    /// of "holds" for [`Machine::held_still`], forgets any earlier one otherwise.
    pub(crate) fn held_after<R>(
        &mut self,
        i: usize,
        check: impl FnOnce(&Self) -> Option<R>,
    ) -> Option<R> {
        *self.side.reads.get_mut() = 0;
        let broke = check(self);
        let reads = core::mem::take(self.side.reads.get_mut());
        if broke.is_none() {
            self.held.valid |= 1 << i;
            self.held.reads[i] = reads;
        } else {
            self.held.valid &= !(1 << i);
        }
        broke
    }
    /// Forgets every cached verdict from `i` on (predicates a check did not reach).
    pub(crate) fn held_forget_from(&mut self, i: usize) {
        self.held.valid &= (1u8 << i).wrapping_sub(1);
    }

    /// Group `g`'s share of the fingerprint.
    fn group_share(&self, g: usize) -> u64 {
        let mut h = FingerprintHasher::default();
        match g {
            FP_TABLES => self.pt.fingerprint_tables(&mut h),
            FP_PAGES => self.pages.fingerprint(&mut h),
            FP_TLBS => self.tlb.fingerprint(self.pt.npmds(), &mut h),
            _ => {
                // FP_VMAS_AND_CACHE
                self.vmas.fingerprint(&mut h);
                self.cache.fingerprint(&mut h);
            }
        }
        fp_share(FP_TAG_GROUP + g as u64, h)
    }

    /// Region `r`'s share: its pmd, lock and deposit.
    #[inline]
    fn pmd_share(&self, r: u8) -> u64 {
        let mut h = FingerprintHasher::default();
        self.pt.fingerprint_pmd(r, &mut h);
        fp_share(FP_TAG_PMD + u64::from(r), h)
    }

    /// Thread `t`'s share.
    #[inline]
    fn thread_share(&self, t: u8) -> u64 {
        let mut h = FingerprintHasher::default();
        self.threads.fingerprint_thread(t, &mut h);
        fp_share(FP_TAG_THREAD + u64::from(t), h)
    }

    /// The share of everything no other share covers.
    fn misc_share(&self) -> u64 {
        use core::hash::Hasher;
        // Destructured, so that a field added to `Machine` fails to compile here until the
        // fingerprint covers it (or says why it is not state).
        let Machine {
            // In shares of their own: each pmd in use with its lock and deposit, each
            // thread, and the groups (tables, pages, TLBs, VMAs and page cache).
            pt: _,
            threads: _,
            pages: _,
            tlb: _,
            vmas: _,
            cache: _,
            procs,
            ghost,
            prot,
            vma_file,
            locks,
            // Not state: the cached shares and the step's side records.
            fp_parts: _,
            held: _,
            side: _,
        } = self;
        let mut h = FingerprintHasher::default();
        h.write_u64(
            procs.mmap(0).pack()
                | u64::from(ghost.dontneed_done()) << 32
                | u64::from(ghost.dontneed_pages()) << 40,
        );
        ghost.fingerprint_cells(&mut h);
        h.write_u64(*prot as u64 | u64::from(*vma_file) << 8);
        for l in locks.in_use() {
            h.write_u64(l.pack());
        }
        for mm in 1..procs.count() {
            h.write_u64(procs.mmap(mm).pack());
        }
        if procs.any_write_protect_seq() {
            for seq in procs.write_protect_seqs() {
                h.write_u64(u64::from(seq) | 1 << 32);
            }
        }
        fp_share(FP_TAG_MISC, h)
    }

    /// The sum of the shares: the cached ones that are current when `cached`, the others
    /// computed now.
    fn fingerprint_with(&self, cached: bool) -> u64 {
        let p = &self.fp_parts;
        let current = |k: usize| cached && p.valid & (1 << k) != 0;
        let n = self.pt.npmds();
        let mut sum = 0u64;
        for g in 0..FP_GROUPS {
            let share = if current(g) {
                p.groups[g]
            } else {
                self.group_share(g)
            };
            sum = sum.wrapping_add(share);
        }
        if current(FP_PMDS) && p.npmds == n {
            sum = p.pmds[..usize::from(n)]
                .iter()
                .fold(sum, |s, &x| s.wrapping_add(x));
        } else {
            sum = (0..n).fold(sum, |s, r| s.wrapping_add(self.pmd_share(r)));
        }
        if current(FP_THREADS) {
            sum = p.threads.iter().fold(sum, |s, &x| s.wrapping_add(x));
        } else {
            sum = (0..MAX_THREADS as u8).fold(sum, |s, t| s.wrapping_add(self.thread_share(t)));
        }
        let misc = if current(FP_MISC) {
            p.misc
        } else {
            self.misc_share()
        };
        sum.wrapping_add(misc)
    }
}

/// The state fingerprint's hash: rustc-hash's `FxHasher` step on a `u64` on every host.
/// `FxHasher` itself is `usize`-wide, so on a 32-bit host (the armv7 and i686 cells of the
/// cross matrix) every fingerprint had 32 bits: distinct states collided, the visited set
/// took one for the other, and a search could skip a reachable violation. The same
/// multiply-add and final rotation as `FxHasher` on a 64-bit host, so fingerprints (and state
/// counts) are what they were there, and now the same everywhere.
#[derive(Clone, Copy, Default)]
struct FingerprintHasher(u64);

impl FingerprintHasher {
    /// rustc-hash 2's 64-bit multiplier.
    const K: u64 = 0xf135_7aea_2e62_a9c5;
}

impl core::hash::Hasher for FingerprintHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` feeds a fingerprint; bytes are folded eight at a time.
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = self.0.wrapping_add(i).wrapping_mul(Self::K);
    }
    fn finish(&self) -> u64 {
        self.0.rotate_left(26)
    }
}

/// Returns whether the MMU would use a huge pmd: the backend's own valid bit
/// ([`PmdOps::pmd_hw_valid`]), independent of `pmdp_invalidate`, whose value is under test.
pub fn huge_hw_valid<A: PmdOps>(pmd: Pmd<A>) -> bool {
    A::pmd_hw_valid(pmd)
}

impl<A: PmdOps> core::fmt::Debug for Machine<A> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Machine")
            .field("pmd", &self.pt.pmds())
            .field("threads", self.threads.all())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::X86_64;
    use crate::engine::ScenarioBuilder;
    use crate::engine::explore::{Options, Verdict, explore};
    use crate::engine::invariant::InvariantSet;
    use crate::engine::program::{Program, Step};

    // The fingerprint is 64 bits on every host (rustc-hash's FxHasher is usize-wide: 32 bits
    // on armv7 and i686, where distinct states collided), and on a 64-bit host the same
    // values as FxHasher, so state counts there did not move.
    #[test]
    fn fingerprints_have_64_bits_on_every_host() {
        use core::hash::Hasher;
        let fp = |words: &[u64]| {
            let mut h = FingerprintHasher::default();
            words.iter().for_each(|&w| h.write_u64(w));
            h.finish()
        };
        assert!((0..64).any(|v| fp(&[v]) > u64::from(u32::MAX)));
        let distinct: std::collections::HashSet<u64> = (0..1u64 << 16)
            .map(|v| fp(&[v & 0xff, v >> 8, 1 << 40]))
            .collect();
        assert_eq!(distinct.len(), 1 << 16);
        #[cfg(target_pointer_width = "64")]
        for words in [&[0u64][..], &[1, 2, 3], &[u64::MAX, 1 << 63, 0x8000_0000]] {
            let mut fx = rustc_hash::FxHasher::default();
            words.iter().for_each(|&w| fx.write_u64(w));
            assert_eq!(fp(words), fx.finish(), "{words:?}");
        }
    }

    /// A step that writes a pmd behind the accessors' back (only code inside this module
    /// can): the footprint auditor must catch it.
    struct Sneaky;
    impl Program<X86_64> for Sneaky {
        fn name(&self) -> &'static str {
            "sneaky"
        }
        fn step(&self, m: &mut Machine<X86_64>, t: Tid) -> Step {
            m.pt.set_pmd(0, <X86_64 as PmdOps>::pmd_empty());
            m.th_mut(t).done = true;
            Step::Ran("write pmd[0] unrecorded")
        }
    }

    #[test]
    fn the_footprint_auditor_catches_an_undeclared_write() {
        // Only the auditor: the emptied pmd would break INV-002-NEVERNONE as well.
        let sc = ScenarioBuilder::<X86_64>::new("sneaky", 1)
            .huge(0)
            .unwrap()
            .thread("sneaky", Sneaky)
            .invariants(InvariantSet::none())
            .build()
            .unwrap();
        let audited = Options {
            audit_footprints: true,
            ..Options::default()
        };
        let Verdict::Violated(cx) = explore(&sc, audited).verdict else {
            panic!("the auditor missed the write");
        };
        assert_eq!(cx.invariant, InvariantId::FOOTPRINT);
        let trace = crate::engine::trace::replay(&sc, &cx.schedule).unwrap();
        assert_eq!(trace.violation().map(|v| v.0), Some(InvariantId::FOOTPRINT));
        let unaudited = Options {
            audit_footprints: false,
            ..audited
        };
        assert_eq!(explore(&sc, unaudited).verdict, Verdict::Holds);
        let before = sc.initial.clone();
        let mut after = before.clone();
        after.pt.set_pmd(0, <X86_64 as PmdOps>::pmd_empty());
        let declared = Footprint {
            reads: 0,
            writes: Loc::Pmd(0).bit(),
        };
        assert_eq!(after.undeclared_write(&before, &declared), None);
        assert_eq!(
            after.undeclared_write(&before, &Footprint::default()),
            Some(Loc::Pmd(0))
        );
    }

    /// A huge pmd, as the builder maps one.
    fn huge_pmd() -> Pmd<X86_64> {
        ScenarioBuilder::<X86_64>::new("huge", 1)
            .huge(0)
            .unwrap()
            .thread("sneaky", Sneaky)
            .build()
            .unwrap()
            .initial
            .pt
            .pmd(0)
    }

    #[test]
    fn the_fingerprint_tells_a_part_from_the_same_part_elsewhere() {
        let huge = huge_pmd();
        let at = |r: u8| {
            let mut m = Machine::<X86_64>::new(2);
            m.pt.set_pmd(r, huge);
            m
        };
        assert_ne!(at(0).fingerprint(), at(1).fingerprint());
        let ran = |t: u8| {
            let mut m = Machine::<X86_64>::new(2);
            m.threads.get_mut(Tid(t)).pc = 1;
            m
        };
        assert_ne!(ran(0).fingerprint(), ran(1).fingerprint());
        // Both changes at once: the shares must not cancel out.
        let mut both = at(0);
        both.threads.get_mut(Tid(1)).pc = 1;
        assert_ne!(both.fingerprint(), at(0).fingerprint());
        assert_ne!(both.fingerprint(), ran(1).fingerprint());
    }

    #[test]
    fn a_refresh_recomputes_the_shares_written_and_trusts_the_rest() {
        let mut m = Machine::<X86_64>::new(4);
        m.refresh_fingerprint(0);
        let empty = m.fingerprint();
        assert_eq!(empty, m.fingerprint_uncached());
        let huge = huge_pmd();
        m.pt.set_pmd(3, huge);
        m.threads.get_mut(Tid(2)).pc = 4;
        // Unrecorded: the cached shares stand, so the fingerprint is the old one.
        m.refresh_fingerprint(0);
        assert_eq!(m.fingerprint(), empty);
        m.refresh_fingerprint(Loc::Pmd(3).bit());
        assert_ne!(m.fingerprint(), empty);
        assert_ne!(m.fingerprint(), m.fingerprint_uncached());
        m.refresh_fingerprint(Loc::Thread(2).bit());
        assert_eq!(m.fingerprint(), m.fingerprint_uncached());
        // A pmd's lock is part of its share.
        let mut locked = m.clone();
        assert!(locked.pt.pmd_lock_mut(3).try_lock(Tid(0)));
        locked.refresh_fingerprint(Loc::PmdLock(3).bit());
        assert_eq!(locked.fingerprint(), locked.fingerprint_uncached());
        assert_ne!(locked.fingerprint(), m.fingerprint());
    }

    #[test]
    fn a_tlb_entry_holds_a_32_bit_pfn_and_refuses_a_wider_one() {
        let mut m = Machine::<X86_64>::new(1);
        let pfn = Machine::<X86_64>::huge_zero_pfn();
        m.begin_step(false);
        m.tlb_fill(1, 0, Some(1), pfn);
        assert!(m.end_step().raised.is_empty());
        assert_eq!(m.tlb_entry(1, 0, Some(1)), Some(pfn));
        assert_eq!(m.tlb_entry(1, 0, None), None);
        for wide in [u64::from(u32::MAX), 1 << 40] {
            m.begin_step(false);
            m.tlb_fill(0, 0, None, wide);
            let raised = m.end_step().raised;
            assert_eq!(raised.len(), 1);
            assert_eq!(raised[0].id, InvariantId::MODEL);
            assert_eq!(m.tlb_entry(0, 0, None), None, "nothing cached");
        }
    }

    /// The explorer's cache of built-in verdicts: kept while a step writes nothing the
    /// predicate read, dropped when it does, and checked against a fresh verdict under the
    /// footprint auditor.
    #[test]
    fn a_cached_verdict_is_kept_only_while_its_reads_are_untouched() {
        use crate::engine::invariant::check_step_cached;
        let sc = ScenarioBuilder::<X86_64>::new("held", 1)
            .huge(0)
            .unwrap()
            .thread("sneaky", Sneaky)
            .build()
            .unwrap();
        let set = InvariantSet::none().with(InvariantId::NEVER_NONE);
        let mut m = sc.initial.clone();
        assert_eq!(check_step_cached(&mut m, &[], set, &[], 0, false), None);
        // NEVER_NONE read pmd[0] only (the pages matter once it is none): a step must write
        // it to have the predicate judged again.
        assert!(m.held_still(0, Loc::Mmap.bit()));
        assert!(m.held_still(0, Loc::Tlb(0).bit() | Loc::Page(0).bit()));
        assert!(!m.held_still(0, Loc::Pmd(0).bit() | Loc::Mmap.bit()));
        // A write behind the accessors' back (no step can) empties the pmd: the cache,
        // consulted with the step's declared writes, still says "holds"...
        m.pt.set_pmd(0, <X86_64 as PmdOps>::pmd_empty());
        let mut stale = m.clone();
        assert_eq!(check_step_cached(&mut stale, &[], set, &[], 0, false), None);
        // ...which the auditor's fresh verdict exposes,
        let mut audited = m.clone();
        let broke = check_step_cached(&mut audited, &[], set, &[], 0, true);
        assert_eq!(broke.map(|b| b.0), Some(InvariantId::FOOTPRINT));
        // and a declared write of the pmd re-judges it.
        let broke = check_step_cached(&mut m, &[], set, &[], Loc::Pmd(0).bit(), false);
        assert_eq!(broke.map(|b| b.0), Some(InvariantId::NEVER_NONE));
        assert!(!m.held_still(0, 0), "a broken verdict is not cached");
        // A raised violation ends the check before any predicate: nothing stays cached.
        let mut raised = sc.initial.clone();
        check_step_cached(&mut raised, &[], set, &[], 0, false);
        let flag = Flagged {
            id: InvariantId::MODEL,
            what: "test",
        };
        let broke = check_step_cached(&mut raised, &[flag], set, &[], 0, false);
        assert_eq!(broke.map(|b| b.0), Some(InvariantId::MODEL));
        assert!(!raised.held_still(0, 0));
    }

    /// Every location a footprint can name has a bit of its own, and each cached
    /// fingerprint group is invalidated by exactly its component's locations.
    #[test]
    fn every_location_has_its_own_footprint_bit() {
        let n = |c: usize| 0..c as u8;
        let mut all: Vec<Loc> = Vec::new();
        all.extend(n(MAX_PMDS).map(Loc::Pmd));
        all.extend(n(MAX_PMDS).map(Loc::PmdLock));
        all.extend(n(MAX_TABLES).map(Loc::Table));
        all.extend(n(MAX_PAGES).map(Loc::Page));
        all.extend(n(MAX_THREADS).map(Loc::Tlb));
        all.extend((1..MAX_MMS as u8).map(Loc::OtherMm));
        all.extend([Loc::Mmap, Loc::Ghost, Loc::Vmas, Loc::PageCache]);
        all.extend(n(MAX_THREADS).map(Loc::Thread));
        all.extend(n(MAX_LOCKS).map(Loc::Lock));
        let mut union = 0u64;
        for loc in &all {
            assert_eq!(loc.bit().count_ones(), 1, "{loc:?}");
            assert_eq!(union & loc.bit(), 0, "{loc:?} shares a bit");
            union |= loc.bit();
        }
        assert_eq!(union.count_ones(), layout::BITS);
        assert_eq!(
            Loc::OtherMm(0).bit(),
            Loc::Mmap.bit(),
            "mm 0's lock is Mmap"
        );
        let group = |locs: &mut dyn Iterator<Item = Loc>| locs.fold(0, |w, l| w | l.bit());
        assert_eq!(
            FP_GROUP_WRITES[FP_TABLES],
            group(&mut n(MAX_TABLES).map(Loc::Table))
        );
        assert_eq!(
            FP_GROUP_WRITES[FP_PAGES],
            group(&mut n(MAX_PAGES).map(Loc::Page))
        );
        assert_eq!(
            FP_GROUP_WRITES[FP_TLBS],
            group(&mut n(MAX_THREADS).map(Loc::Tlb))
        );
        assert_eq!(
            FP_GROUP_WRITES[FP_VMAS_AND_CACHE],
            Loc::Vmas.bit() | Loc::PageCache.bit()
        );
        assert_eq!(
            FP_MISC_WRITES,
            Loc::Mmap.bit()
                | Loc::Ghost.bit()
                | group(&mut (1..MAX_MMS as u8).map(Loc::OtherMm))
                | group(&mut n(MAX_LOCKS).map(Loc::Lock))
        );
    }
}
