//! The modelled machine: page-table pages, pages, VMAs' regions, per-CPU TLBs and locks, as
//! plain data (arena indices, fixed capacities, no pointers, no heap), so that cloning a state
//! is a copy and hashing it is cheap.
//!
//! Tables hold real encoded entries of backend `A`; the machine asks `A` for every empty value
//! and tests emptiness only through [`PmdOps`]/[`crate::PteOps`]. Every access a step makes goes
//! through the accessors here, which record the footprint for partial-order reduction, poison
//! freed tables (an access to one is an `INV-TABLE-LIFE` violation) and, when replaying a
//! trace, log each touched entry with its value before and after.

use std::vec::Vec;

use crate::entry::{Pmd, PmdOps, Protection, Pte};

use super::Tid;
use super::invariant::InvariantId;
use super::locks::{Owner, RwSem};

/// Most threads in one scenario.
pub const MAX_THREADS: usize = 4;
/// Most pmds (2 MiB regions, or the backend's pmd size) in one scenario.
pub const MAX_PMDS: usize = 8;
/// Most page-table pages alive or freed in one run.
pub const MAX_TABLES: usize = 12;
/// Modelled pte slots per table: the addresses the scenario's threads touch.
pub const SLOTS: usize = 2;
/// Most pages (huge or small) in one run.
pub const MAX_PAGES: usize = 12;

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

/// A page's state: `struct page` / folio fields the races need.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Page {
    /// Whether allocated.
    pub allocated: bool,
    /// A pmd-sized (THP) page.
    pub huge: bool,
    /// References.
    pub refcount: u8,
    /// Mappings (the compound map counts one; each pte map counts one).
    pub mapcount: i8,
    /// `PG_locked` (sleeping).
    pub lock: Owner,
    /// The region it was mapped into (for invariants).
    pub region: u8,
}

/// A thread's program state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ThreadState {
    /// Program counter: which step runs next.
    pub pc: u8,
    /// Finished.
    pub done: bool,
    /// Registers: values read earlier (orig_pte, the table found, an allocated page ...).
    pub regs: [u64; 4],
}

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
    /// A page's counters and lock.
    Page(u8),
    /// One CPU's TLB.
    Tlb(u8),
    /// `mmap_lock` and the VMA set.
    Mmap,
    /// Trace-monitor state (events like "MADV_DONTNEED returned").
    Ghost,
}

impl Loc {
    const fn bit(self) -> u64 {
        match self {
            Loc::Pmd(i) => 1 << i,
            Loc::PmdLock(i) => 1 << (8 + i),
            Loc::Table(i) => 1 << (16 + i),
            Loc::Page(i) => 1 << (28 + i),
            Loc::Tlb(i) => 1 << (40 + i),
            Loc::Mmap => 1 << 48,
            Loc::Ghost => 1 << 49,
        }
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
}

/// A TLB entry slot value: nothing cached.
pub const TLB_EMPTY: u64 = u64::MAX;

/// The modelled machine.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Machine<A: PmdOps> {
    /// Regions in use (one pmd each).
    pub npmds: u8,
    /// The pmds.
    pub pmd: [Pmd<A>; MAX_PMDS],
    /// `pmd_lock` per pmd.
    pub pmd_lock: [Owner; MAX_PMDS],
    /// Deposited table per pmd (`pgtable_trans_huge_deposit`), or `NO_TABLE`.
    pub deposit: [u8; MAX_PMDS],
    /// The table arena.
    pub tables: [Table<A>; MAX_TABLES],
    /// The page arena.
    pub pages: [Page; MAX_PAGES],
    /// Per CPU: per region, the cached huge translation's pfn, then one per slot.
    pub tlb: [[[u64; SLOTS + 1]; MAX_PMDS]; MAX_THREADS],
    /// `mmap_lock`.
    pub mmap: RwSem,
    /// Threads.
    pub threads: [ThreadState; MAX_THREADS],
    /// Regions a thread's MADV_DONTNEED has returned for (bitmask), with the pages mapped
    /// there when it began (bitmask over the page arena).
    pub dontneed_done: u8,
    /// Pages mapped in the region when the zap began.
    pub dontneed_pages: u16,
    /// A violation an accessor saw during the last step.
    pub flagged: Option<Flagged>,
    /// The vma protection.
    pub prot: Protection,
    #[doc(hidden)]
    pub fp: Footprint,
    #[doc(hidden)]
    pub log: Option<LogBox>,
}

/// The replay log (not part of the state: equal and hashed as nothing).
#[derive(Clone, Debug, Default)]
pub struct LogBox(pub Vec<Touch>);
impl PartialEq for LogBox {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for LogBox {}
impl core::hash::Hash for LogBox {
    fn hash<H: core::hash::Hasher>(&self, _: &mut H) {}
}

/// No table.
pub const NO_TABLE: u8 = u8::MAX;
/// No page.
pub const NO_PAGE: u64 = u64::MAX;

impl<A: PmdOps> Machine<A> {
    /// A machine with `npmds` empty regions, no tables, no pages, free locks.
    pub fn new(npmds: u8) -> Self {
        let empty_pmd = A::pmd_empty();
        let table = Table {
            state: TableState::Unused,
            region: 0,
            ptes: [A::pte_empty(0); SLOTS],
            ptl: Owner::FREE,
        };
        Self {
            npmds,
            pmd: [empty_pmd; MAX_PMDS],
            pmd_lock: [Owner::FREE; MAX_PMDS],
            deposit: [NO_TABLE; MAX_PMDS],
            tables: [table; MAX_TABLES],
            pages: [Page::default(); MAX_PAGES],
            tlb: [[[TLB_EMPTY; SLOTS + 1]; MAX_PMDS]; MAX_THREADS],
            mmap: RwSem::default(),
            threads: [ThreadState::default(); MAX_THREADS],
            dontneed_done: 0,
            dontneed_pages: 0,
            flagged: None,
            prot: Protection::ReadWrite,
            fp: Footprint::default(),
            log: None,
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

    /// Returns the pfn of table `t`'s page, below every data page and clear of pfn 0.
    pub fn table_pfn(t: u8) -> u64 {
        0x10 + u64::from(t)
    }

    fn read(&mut self, loc: Loc) {
        self.fp.reads |= loc.bit();
    }
    fn write(&mut self, loc: Loc) {
        self.fp.writes |= loc.bit();
    }
    fn touch(&mut self, loc: TouchLoc, before: u64, after: u64) {
        if let Some(log) = &mut self.log {
            log.0.push(Touch { loc, before, after });
        }
    }
    /// Records a violation seen by an accessor (the first one wins).
    pub fn flag(&mut self, id: InvariantId, what: &'static str) {
        if self.flagged.is_none() {
            self.flagged = Some(Flagged { id, what });
        }
    }

    /// Reads `pmd[r]` (`pmdp_get`).
    pub fn pmd_get(&mut self, r: u8) -> Pmd<A> {
        self.read(Loc::Pmd(r));
        let v = self.pmd[usize::from(r)];
        self.touch(TouchLoc::Pmd(r), v.raw_u64(), v.raw_u64());
        v
    }
    /// Writes `pmd[r]`.
    pub fn pmd_set(&mut self, r: u8, v: Pmd<A>) {
        self.write(Loc::Pmd(r));
        let old = self.pmd[usize::from(r)];
        self.pmd[usize::from(r)] = v;
        self.touch(TouchLoc::Pmd(r), old.raw_u64(), v.raw_u64());
    }
    /// Returns the table a table pmd points to, by its pfn; `None` if no table has it.
    pub fn table_of(&self, pmd: Pmd<A>) -> Option<u8> {
        let pfn = A::pmd_pfn(pmd);
        (0..MAX_TABLES as u8).find(|&t| Self::table_pfn(t) == pfn)
    }
    fn table_access(&mut self, t: u8, what: &'static str) -> bool {
        if self.tables[usize::from(t)].state != TableState::Live {
            self.flag(InvariantId::TableLife, what);
            return false;
        }
        true
    }
    /// Reads a pte; an access to a freed table is flagged.
    pub fn pte_get(&mut self, t: u8, slot: usize) -> Pte<A> {
        self.read(Loc::Table(t));
        self.table_access(t, "read a pte of a freed page table");
        let v = self.tables[usize::from(t)].ptes[slot];
        self.touch(TouchLoc::Pte(t, slot as u8), v.raw_u64(), v.raw_u64());
        v
    }
    /// Writes a pte; a write to a freed table is flagged.
    pub fn pte_set(&mut self, t: u8, slot: usize, v: Pte<A>) {
        self.write(Loc::Table(t));
        self.table_access(t, "wrote a pte into a freed page table");
        let old = self.tables[usize::from(t)].ptes[slot];
        self.tables[usize::from(t)].ptes[slot] = v;
        self.touch(TouchLoc::Pte(t, slot as u8), old.raw_u64(), v.raw_u64());
    }
    /// `pte_alloc_one`: a fresh table for region `r`, filled as the architecture's allocator
    /// leaves it; `None` when the arena is full.
    pub fn table_alloc(&mut self, r: u8) -> Option<u8> {
        let t = (0..MAX_TABLES as u8)
            .find(|&t| self.tables[usize::from(t)].state == TableState::Unused)?;
        self.write(Loc::Table(t));
        let table = &mut self.tables[usize::from(t)];
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
        self.tables[usize::from(t)].state = TableState::Freed;
    }
    /// `pgtable_trans_huge_deposit` (caller holds the pmd lock).
    pub fn deposit(&mut self, r: u8, t: u8) {
        self.write(Loc::PmdLock(r));
        self.deposit[usize::from(r)] = t;
    }
    /// `pgtable_trans_huge_withdraw` (caller holds the pmd lock); `None` if nothing deposited.
    pub fn withdraw(&mut self, r: u8) -> Option<u8> {
        self.write(Loc::PmdLock(r));
        let t = core::mem::replace(&mut self.deposit[usize::from(r)], NO_TABLE);
        (t != NO_TABLE).then_some(t)
    }
    /// `spin_lock(pmd_lock)`; `false` (no change) when held by another thread.
    pub fn pmd_lock(&mut self, r: u8, t: Tid) -> bool {
        self.write(Loc::PmdLock(r));
        self.pmd_lock[usize::from(r)].try_lock(t)
    }
    /// `spin_unlock(pmd_lock)`.
    pub fn pmd_unlock(&mut self, r: u8, t: Tid) {
        self.write(Loc::PmdLock(r));
        if !self.pmd_lock[usize::from(r)].unlock(t) {
            self.flag(
                InvariantId::LockBalance,
                "released a pmd lock it did not hold",
            );
        }
    }
    /// `spin_lock(ptl)` of table `tab`.
    pub fn ptl_lock(&mut self, tab: u8, t: Tid) -> bool {
        self.write(Loc::Table(tab));
        self.table_access(tab, "took the pte lock of a freed page table");
        self.tables[usize::from(tab)].ptl.try_lock(t)
    }
    /// `spin_unlock(ptl)`.
    pub fn ptl_unlock(&mut self, tab: u8, t: Tid) {
        self.write(Loc::Table(tab));
        if !self.tables[usize::from(tab)].ptl.unlock(t) {
            self.flag(
                InvariantId::LockBalance,
                "released a pte lock it did not hold",
            );
        }
    }
    /// `mmap_read_lock`.
    pub fn mmap_read(&mut self, t: Tid) -> bool {
        self.write(Loc::Mmap);
        self.mmap.try_read(t)
    }
    /// `mmap_read_unlock`.
    pub fn mmap_read_unlock(&mut self, t: Tid) {
        self.write(Loc::Mmap);
        if !self.mmap.up_read(t) {
            self.flag(
                InvariantId::LockBalance,
                "mmap_read_unlock without the lock",
            );
        }
    }
    /// Allocates a page (huge or small); `None` when the arena is full.
    pub fn page_alloc(&mut self, huge: bool) -> Option<u8> {
        let p = (0..MAX_PAGES as u8).find(|&p| !self.pages[usize::from(p)].allocated)?;
        self.write(Loc::Page(p));
        self.pages[usize::from(p)] = Page {
            allocated: true,
            huge,
            refcount: 1,
            ..Page::default()
        };
        Some(p)
    }
    /// Changes a page's mapcount (mapping or unmapping it in region `r`).
    pub fn page_map(&mut self, p: u8, r: u8, delta: i8) {
        self.write(Loc::Page(p));
        let page = &mut self.pages[usize::from(p)];
        page.mapcount += delta;
        page.region = r;
    }
    /// Takes a page reference (`try_grab_folio`).
    pub fn page_get(&mut self, p: u8) {
        self.write(Loc::Page(p));
        let page = &mut self.pages[usize::from(p)];
        page.refcount = page.refcount.saturating_add(1);
    }
    /// Frees a page reference.
    pub fn page_put(&mut self, p: u8) {
        self.write(Loc::Page(p));
        let page = &mut self.pages[usize::from(p)];
        page.refcount = page.refcount.saturating_sub(1);
    }
    /// Returns the page whose pfn range holds `pfn`.
    pub fn page_of_pfn(&self, pfn: u64) -> Option<u8> {
        let per = A::GEOMETRY.pages_per_pmd();
        let p = pfn / per;
        (p >= 1 && p <= MAX_PAGES as u64 && self.pages[(p - 1) as usize].allocated)
            .then(|| (p - 1) as u8)
    }
    /// A CPU's MMU caching a translation for (region, slot): slot `None` is the huge entry.
    pub fn tlb_fill(&mut self, cpu: u8, r: u8, slot: Option<usize>, pfn: u64) {
        self.write(Loc::Tlb(cpu));
        self.tlb[usize::from(cpu)][usize::from(r)][slot.map_or(0, |s| s + 1)] = pfn;
    }
    /// Flushes region `r` from every CPU's TLB (`flush_tlb_range` / `flush_pmd_tlb_range`).
    pub fn tlb_flush_region(&mut self, r: u8) {
        for cpu in 0..MAX_THREADS as u8 {
            self.write(Loc::Tlb(cpu));
            self.tlb[usize::from(cpu)][usize::from(r)] = [TLB_EMPTY; SLOTS + 1];
        }
    }
    /// Marks the monitors' state as touched.
    pub fn ghost(&mut self) {
        self.write(Loc::Ghost);
    }
    /// Returns a thread's state.
    pub fn th(&self, t: Tid) -> &ThreadState {
        &self.threads[usize::from(t.0)]
    }
    /// Returns a thread's state, mutably.
    pub fn th_mut(&mut self, t: Tid) -> &mut ThreadState {
        &mut self.threads[usize::from(t.0)]
    }
    /// Moves thread `t` to step `pc`.
    pub fn goto(&mut self, t: Tid, pc: u8) {
        self.th_mut(t).pc = pc;
    }

    /// Translates (region, slot) through the page tables as the MMU would: the pfn a present,
    /// hardware-valid huge pmd or pte gives, if any.
    pub fn translate(&self, r: u8, slot: usize) -> Option<u64> {
        let pmd = self.pmd[usize::from(r)];
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
        let table = &self.tables[usize::from(t)];
        if table.state != TableState::Live {
            return None;
        }
        let pte = table.ptes[slot];
        (A::pte_present(pte) && !A::pte_protnone(pte)).then(|| A::pte_pfn(pte))
    }
}

impl<A: PmdOps> Machine<A> {
    /// Returns the state's 64-bit fingerprint for the visited set.
    ///
    /// Hand-packed instead of derived: it feeds only the regions in use and the allocated
    /// prefix of the table and page arenas (allocation always takes the first unused slot,
    /// so the rest is default), a few words each, which is several times cheaper than
    /// hashing every field of the fixed-capacity arrays.
    pub fn fingerprint(&self) -> u64 {
        use core::hash::Hasher;
        let mut h = rustc_hash::FxHasher::default();
        let n = usize::from(self.npmds);
        for r in 0..n {
            h.write_u64(self.pmd[r].raw_u64());
            h.write_u64(u64::from(self.pmd_lock[r].raw()) | u64::from(self.deposit[r]) << 8);
        }
        for t in self
            .tables
            .iter()
            .take_while(|t| t.state != TableState::Unused)
        {
            let tag = match t.state {
                TableState::Unused => 0u64,
                TableState::Live => 1,
                TableState::Freed => 2,
            };
            h.write_u64(tag | u64::from(t.region) << 8 | u64::from(t.ptl.raw()) << 16);
            for pte in &t.ptes {
                h.write_u64(pte.raw_u64());
            }
        }
        for p in self.pages.iter().take_while(|p| p.allocated) {
            h.write_u64(
                u64::from(p.huge)
                    | u64::from(p.refcount) << 8
                    | u64::from(p.mapcount as u8) << 16
                    | u64::from(p.lock.raw()) << 24
                    | u64::from(p.region) << 32,
            );
        }
        for cpu in &self.tlb {
            for region in &cpu[..n] {
                for &e in region {
                    h.write_u64(e);
                }
            }
        }
        h.write_u64(
            u64::from(self.mmap.readers)
                | u64::from(self.mmap.writer.raw()) << 8
                | u64::from(self.mmap.queued_writers) << 16
                | u64::from(self.dontneed_done) << 32
                | u64::from(self.dontneed_pages) << 40,
        );
        for th in &self.threads {
            h.write_u64(u64::from(th.pc) | u64::from(th.done) << 8);
            for &r in &th.regs {
                h.write_u64(r);
            }
        }
        h.finish()
    }
}

/// Returns whether the MMU would use a huge pmd: present and not already invalidated
/// (an invalidated entry is the fixed point of `pmdp_invalidate`).
pub fn huge_hw_valid<A: PmdOps>(pmd: Pmd<A>) -> bool {
    A::pmdp_invalidate(pmd).is_ok_and(|inv| inv != pmd)
}

impl<A: PmdOps> core::fmt::Debug for Machine<A> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Machine")
            .field("pmd", &&self.pmd[..usize::from(self.npmds)])
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}
