//! The engine: Linux's generic mm paths as step programs over any backend, and a checker that
//! explores their interleavings (feature `engine`).
//!
//! - [`mm::Machine`]: the modelled machine, plain data holding real encoded entries of `A`.
//! - [`program::Program`]: a thread's kernel path as small atomic steps; [`ops`] has the
//!   catalogue's paths (fault, split, zap, MMU walk), each with its historical variants.
//! - [`invariant`]: the invariants, with stable ids.
//! - [`explore::explore`]: the checker; [`trace::replay`]: counterexamples, step by step.
//! - [`ScenarioBuilder`]: how users (and the catalogue in [`crate::scenario`]) describe an
//!   initial machine, threads and invariants.
//!
//! # Example
//! ```
//! use pgtable::arch::ArmLpaeV4_5;
//! use pgtable::engine::explore::{Options, Search, Verdict, explore};
//! use pgtable::engine::invariant::{InvariantId, InvariantSet};
//! use pgtable::engine::ops::{split::SplitHugePmd, zap::MadvDontneed};
//! use pgtable::engine::ScenarioBuilder;
//!
//! let sc = ScenarioBuilder::<ArmLpaeV4_5>::new("split-vs-zap", 1)
//!     .huge(0)?
//!     .thread("split", SplitHugePmd::new(0))
//!     .thread("zap", MadvDontneed::new(0))
//!     .invariants(InvariantSet::default().with(InvariantId::DONTNEED))
//!     .build()?;
//! let out = explore(&sc, Options { search: Search::BreadthFirst, ..Options::default() });
//! assert!(matches!(out.verdict, Verdict::Violated(cx) if cx.invariant == InvariantId::DONTNEED));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod explore;
pub mod invariant;
pub mod locks;
pub mod mm;
pub mod ops;
pub mod program;
pub mod setup;
pub mod state;
pub mod trace;

use core::fmt;
use std::string::{String, ToString};
use std::vec::Vec;

use crate::entry::{PmdOps, Protection};

use self::invariant::{InvariantId, InvariantSet};
use self::mm::{MAX_PMDS, MAX_THREADS, Machine, SLOTS};
use self::program::{Limits, Program, ProgramError, Thread};
use self::state::locks::{DeclaredLock, LockDeclError, MutexId, RcuId, RwsemId, SpinlockId};

/// A thread index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tid(pub u8);

impl Tid {
    /// Returns the thread's bit in a thread mask.
    pub const fn bit(self) -> u8 {
        1 << self.0
    }
}

/// A scenario: an initial machine, threads, and the invariants to check.
#[derive(Debug)]
pub struct Scenario<A: PmdOps> {
    /// The name shown in reports.
    pub name: String,
    /// The initial machine.
    pub initial: Machine<A>,
    /// The threads; thread `i` runs on CPU `i`.
    pub threads: Vec<Thread<A>>,
    /// The built-in invariants checked after every step.
    pub invariants: InvariantSet,
    /// The invariants the scenario declared: always checked.
    pub declared: Vec<invariant::Declared<A>>,
    /// The locks the scenario declared, in declaration order.
    pub locks: Vec<DeclaredLock>,
}

/// What is wrong with a scenario description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScenarioError {
    /// More regions than the machine has pmds.
    TooManyRegions {
        /// Asked for.
        asked: usize,
        /// The most.
        max: usize,
    },
    /// More threads than CPUs.
    TooManyThreads {
        /// The most.
        max: usize,
    },
    /// No threads.
    NoThreads,
    /// A region index beyond the scenario's regions.
    NoSuchRegion(u8),
    /// The region already holds a mapping.
    RegionInUse(u8),
    /// The backend cannot build the entry the scenario asks for.
    Encoding(crate::Error),
    /// The machine's arenas are full.
    ArenaFull,
    /// A page-cache THP asked of an anonymous VMA.
    AnonymousVma,
    /// Anonymous memory (a THP or the huge zero page) asked of a file-backed VMA.
    FileVma,
    /// A thread's program does not fit the scenario (a region or slot outside it).
    BadThread {
        /// The thread's index.
        thread: u8,
        /// The thread's name.
        name: &'static str,
        /// What is wrong.
        error: ProgramError,
    },
    /// A ghost cell beyond the machine's.
    NoSuchGhostCell(usize),
    /// An mm (process) beyond the machine's.
    NoSuchMm(u8),
    /// A pte slot beyond the modelled ones.
    NoSuchSlot(usize),
    /// A page index that is not an allocated page.
    NoSuchPage(u8),
    /// A pin asked of an anonymous page that is not `PageAnonExclusive`: GUP pins only
    /// exclusive anonymous pages (it unshares a shared one first).
    PinOfSharedPage(u8),
    /// The pte slot already holds an entry.
    SlotInUse {
        /// The region.
        region: u8,
        /// The slot.
        slot: usize,
    },
    /// Nothing is mapped where a TLB entry was asked for.
    NothingMapped {
        /// The region.
        region: u8,
        /// The slot.
        slot: usize,
    },
    /// A declared lock's index is out of range or taken, or its name is taken.
    BadLock {
        /// The lock's name.
        name: &'static str,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A VMA that is empty, reaches past the scenario's regions, overlaps another of its mm,
    /// or spans regions of another mm; or no VMA slot is left.
    BadVma {
        /// Its first region.
        start: u8,
        /// One past its last region.
        end: u8,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The initial state asks for something the machine does not model (a small page
    /// behind a huge pmd, an old huge pmd).
    Unsupported(&'static str),
    /// A declared invariant's id is malformed or already taken (by a built-in invariant or
    /// another declared one).
    BadInvariant {
        /// The id.
        id: &'static str,
        /// What is wrong with it.
        why: &'static str,
    },
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScenarioError::TooManyRegions { asked, max } => {
                write!(
                    f,
                    "the scenario asks for {asked} regions; the machine models at most {max}"
                )
            }
            ScenarioError::TooManyThreads { max } => {
                write!(f, "a scenario has at most {max} threads")
            }
            ScenarioError::NoThreads => f.write_str("a scenario needs at least one thread"),
            ScenarioError::NoSuchRegion(r) => {
                write!(f, "region {r} is not one of the scenario's regions")
            }
            ScenarioError::RegionInUse(r) => write!(f, "region {r} already maps something"),
            ScenarioError::Encoding(e) => {
                write!(f, "the backend cannot encode the initial state: {e}")
            }
            ScenarioError::ArenaFull => f.write_str("the machine's table or page arena is full"),
            ScenarioError::AnonymousVma => f.write_str(
                "a page-cache THP needs a file-backed VMA (ScenarioBuilder::file_backed first)",
            ),
            ScenarioError::FileVma => {
                f.write_str("anonymous THPs and the huge zero page need an anonymous VMA")
            }
            ScenarioError::BadThread {
                thread,
                name,
                error,
            } => write!(f, "thread {thread} ({name}): {error}"),
            ScenarioError::BadInvariant { id, why } => write!(f, "invariant '{id}': {why}"),
            ScenarioError::BadLock { name, why } => write!(f, "lock '{name}': {why}"),
            ScenarioError::BadVma { start, end, why } => {
                write!(f, "VMA over regions {start}..{end}: {why}")
            }
            ScenarioError::NoSuchSlot(s) => {
                write!(f, "pte slot {s} is not one of the {SLOTS} modelled slots")
            }
            ScenarioError::NoSuchPage(p) => write!(f, "page {p} is not an allocated page"),
            ScenarioError::PinOfSharedPage(p) => write!(
                f,
                "page {p} is anonymous and not PageAnonExclusive: GUP pins only exclusive anonymous pages (set page_anon_exclusive first)"
            ),
            ScenarioError::Unsupported(what) => {
                write!(f, "the machine does not model {what}")
            }
            ScenarioError::SlotInUse { region, slot } => {
                write!(
                    f,
                    "region {region}'s pte slot {slot} already holds an entry"
                )
            }
            ScenarioError::NothingMapped { region, slot } => write!(
                f,
                "nothing is mapped at region {region}, slot {slot}: no translation to cache"
            ),
            ScenarioError::NoSuchMm(mm) => write!(
                f,
                "mm {mm} is not one of the machine's {} processes",
                state::process::MAX_MMS
            ),
            ScenarioError::NoSuchGhostCell(c) => write!(
                f,
                "ghost cell {c} is not one of the machine's {} cells",
                mm::GHOST_CELLS
            ),
        }
    }
}

impl std::error::Error for ScenarioError {}

/// Builds a [`Scenario`]: regions and their initial mappings, threads, invariants.
pub struct ScenarioBuilder<A: PmdOps> {
    name: String,
    machine: Machine<A>,
    threads: Vec<Thread<A>>,
    invariants: InvariantSet,
    declared: Vec<invariant::Declared<A>>,
    locks: Vec<DeclaredLock>,
    error: Option<ScenarioError>,
}

impl<A: PmdOps> ScenarioBuilder<A> {
    /// Starts a scenario with `regions` empty pmds (each one pmd-sized region of one VMA).
    pub fn new(name: &str, regions: usize) -> Self {
        let error = (regions == 0 || regions > MAX_PMDS).then_some(ScenarioError::TooManyRegions {
            asked: regions,
            max: MAX_PMDS,
        });
        Self {
            name: name.to_string(),
            machine: Machine::new(regions.clamp(1, MAX_PMDS) as u8),
            threads: Vec::new(),
            invariants: InvariantSet::all(),
            declared: Vec::new(),
            locks: Vec::new(),
            error,
        }
    }

    fn region(&self, r: u8) -> Result<usize, ScenarioError> {
        if r >= self.machine.npmds() {
            return Err(ScenarioError::NoSuchRegion(r));
        }
        if !A::pmd_none(self.machine.peek_pmd(r)) {
            return Err(ScenarioError::RegionInUse(r));
        }
        Ok(usize::from(r))
    }

    /// [`region`](Self::region), in a VMA of the kind a mapping needs: anonymous for THPs
    /// and the huge zero page, file-backed for page-cache THPs.
    fn region_of(&self, r: u8, anonymous: bool) -> Result<usize, ScenarioError> {
        let i = self.region(r)?;
        match (anonymous, self.machine.vma_is_anonymous()) {
            (true, false) => Err(ScenarioError::FileVma),
            (false, true) => Err(ScenarioError::AnonymousVma),
            _ => Ok(i),
        }
    }

    /// Sets the VMA protection (default read-write).
    pub fn protection(mut self, prot: Protection) -> Self {
        self.machine.set_prot(prot);
        self
    }

    /// Maps region `r` with a THP: a huge pmd, its page, and the deposited table.
    ///
    /// # Errors
    /// The backend has no THP, the region is missing or in use, or the VMA is file-backed.
    pub fn huge(mut self, r: u8) -> Result<Self, ScenarioError> {
        self.region_of(r, true)?;
        let m = &mut self.machine;
        let page = m.page_alloc(true).ok_or(ScenarioError::ArenaFull)?;
        let table = m.table_alloc(r).ok_or(ScenarioError::ArenaFull)?;
        let pmd = A::mk_huge_pmd_anon(Machine::<A>::page_pfn(page), m.prot())
            .map_err(ScenarioError::Encoding)?;
        m.pmd_set(r, pmd);
        m.deposit(r, table);
        m.page_map(page, r, 1);
        m.end_step();
        Ok(self)
    }

    /// Makes the scenario's VMA a shared file (shmem) mapping: `vma_is_anonymous` is false,
    /// and [`huge_file`](Self::huge_file) maps page-cache THPs into it.
    pub fn file_backed(mut self) -> Self {
        self.machine.set_vma_file(true);
        self
    }

    /// Maps region `r` with a page-cache THP, as a write fault's `do_set_pmd`
    /// (mm/memory.c:4935 in v6.12) leaves it: `set_pmd_at(maybe_pmd_mkwrite(pmd_mkdirty(
    /// mk_huge_pmd(page, vm_page_prot))))`, `folio_add_file_rmap_pmd`, and a deposited table
    /// only where [`PmdOps::arch_needs_pgtable_deposit`]. The VMA must be
    /// [`file_backed`](Self::file_backed).
    ///
    /// # Errors
    /// The backend has no THP, the region is missing or in use, or the VMA is anonymous.
    pub fn huge_file(mut self, r: u8) -> Result<Self, ScenarioError> {
        self.region_of(r, false)?;
        let m = &mut self.machine;
        let page = m.page_alloc(true).ok_or(ScenarioError::ArenaFull)?;
        m.page_set_file(page, true);
        // One reference is the page cache's, one the mapping's.
        m.page_get(page);
        let pmd = A::mk_huge_pmd_anon(Machine::<A>::page_pfn(page), m.prot())
            .map_err(ScenarioError::Encoding)?;
        if A::arch_needs_pgtable_deposit() {
            let table = m.table_alloc(r).ok_or(ScenarioError::ArenaFull)?;
            m.deposit(r, table);
        }
        m.pmd_set(r, pmd);
        m.page_map(page, r, 1);
        m.end_step();
        Ok(self)
    }

    /// Maps region `r` with the huge zero page, as a read fault of an anonymous VMA leaves
    /// it (`set_huge_zero_folio`, mm/huge_memory.c:1310 in v6.12): `set_pmd_at` of
    /// `pmd_mkhuge(mk_pmd(huge_zero_folio, vm_page_prot))` — never dirty, never writable —
    /// and the deposited table. No page of the machine is mapped.
    ///
    /// # Errors
    /// The backend has no THP, the region is missing or in use, or the VMA is file-backed.
    pub fn huge_zero(mut self, r: u8) -> Result<Self, ScenarioError> {
        self.region_of(r, true)?;
        let m = &mut self.machine;
        let table = m.table_alloc(r).ok_or(ScenarioError::ArenaFull)?;
        let pmd = A::mk_huge_pmd(Machine::<A>::huge_zero_pfn(), m.prot().read_only())
            .map_err(ScenarioError::Encoding)?;
        m.pmd_set(r, A::set_pmd_at(pmd));
        m.deposit(r, table);
        m.end_step();
        Ok(self)
    }

    /// Maps region `r` with a pte table whose every modelled slot maps a small page.
    ///
    /// # Errors
    /// The region is missing or in use, or an entry cannot be encoded.
    pub fn table(mut self, r: u8) -> Result<Self, ScenarioError> {
        self.region(r)?;
        let m = &mut self.machine;
        let table = m.table_alloc(r).ok_or(ScenarioError::ArenaFull)?;
        let pmd =
            A::pmd_populate(Machine::<A>::table_pfn(table)).map_err(ScenarioError::Encoding)?;
        m.pmd_set(r, pmd);
        for slot in 0..SLOTS {
            let page = m.page_alloc(false).ok_or(ScenarioError::ArenaFull)?;
            let pte = A::pfn_pte(Machine::<A>::page_pfn(page), A::pte_pgprot(m.prot()))
                .map_err(ScenarioError::Encoding)?;
            m.pte_set(table, slot, pte);
            m.page_map(page, r, 1);
        }
        m.end_step();
        Ok(self)
    }

    /// Adds a thread of mm 0 (it runs on the next CPU).
    pub fn thread(self, name: &'static str, program: impl Program<A> + 'static) -> Self {
        self.thread_in(0, name, program)
    }

    /// Adds a thread of process `mm` (below [`MAX_MMS`](state::process::MAX_MMS)): its
    /// `mmap_*` operations take that mm's `mmap_lock`. It runs on the next CPU.
    pub fn thread_in(
        mut self,
        mm: u8,
        name: &'static str,
        program: impl Program<A> + 'static,
    ) -> Self {
        if self.threads.len() == MAX_THREADS {
            self.error
                .get_or_insert(ScenarioError::TooManyThreads { max: MAX_THREADS });
        } else if usize::from(mm) >= state::process::MAX_MMS {
            self.error.get_or_insert(ScenarioError::NoSuchMm(mm));
        } else {
            let t = Tid(self.threads.len() as u8);
            self.machine.set_thread_mm(t, mm);
            self.threads.push(Thread::new(name, program));
        }
        self
    }

    /// Puts region `r` in process `mm`'s address space (every region is mm 0's until
    /// then). The VMA's protection and kind are shared by every mm, as right after `fork`.
    pub fn region_in(mut self, r: u8, mm: u8) -> Self {
        if r >= self.machine.npmds() {
            self.error.get_or_insert(ScenarioError::NoSuchRegion(r));
        } else if usize::from(mm) >= state::process::MAX_MMS {
            self.error.get_or_insert(ScenarioError::NoSuchMm(mm));
        } else {
            self.machine.set_region_mm(r, mm);
        }
        self
    }

    /// Sets the built-in invariants to check. A new builder checks every one
    /// ([`InvariantSet::all`]), so that a scenario cannot pass by forgetting to ask for
    /// lock balance or table lifetime; narrow the set (down to [`InvariantSet::none`]) only
    /// where a built-in one does not describe the kernel being modelled. The scenario's own
    /// invariants ([`invariant`](Self::invariant)) and [`invariant::ALWAYS`] are checked
    /// whatever the set.
    pub fn invariants(mut self, set: InvariantSet) -> Self {
        self.invariants = set;
        self
    }

    /// Describes any part of the initial state the other methods do not: `f` gets a
    /// [`setup::Setup`] to allocate pages, install empty or partly filled tables, map one page
    /// in several regions, write-protected or dirty ptes, swap entries, extra references and
    /// pre-filled TLBs. Its first error is [`build`](Self::build)'s.
    pub fn setup(
        mut self,
        f: impl FnOnce(&mut setup::Setup<'_, A>) -> Result<(), ScenarioError>,
    ) -> Self {
        if self.error.is_none() {
            let r = f(&mut setup::Setup::new(&mut self.machine));
            self.machine.end_step();
            if let Err(e) = r {
                self.error = Some(e);
            }
        }
        self
    }

    /// Sets user ghost cell `cell` (below [`GHOST_CELLS`](mm::GHOST_CELLS)) of the initial
    /// state: monitor state a scenario starts with ("the VMA is linked").
    /// [`build`](Self::build) fails with [`ScenarioError::NoSuchGhostCell`] beyond them.
    pub fn ghost(mut self, cell: usize, value: u64) -> Self {
        if cell < mm::GHOST_CELLS {
            self.machine.ghost_set(cell, value);
        } else {
            self.error
                .get_or_insert(ScenarioError::NoSuchGhostCell(cell));
        }
        self
    }

    /// Declares a spinlock: its programs take it with [`Machine::spin_lock`].
    /// [`build`](Self::build) fails with [`ScenarioError::BadLock`] when its index is
    /// [`MAX_LOCKS`](state::locks::MAX_LOCKS) or more, or its index or name is taken.
    pub fn spinlock(self, lock: SpinlockId) -> Self {
        self.declare_lock(lock.lock())
    }
    /// Declares a mutex ([`Machine::mutex_lock`]); errors as for [`spinlock`](Self::spinlock).
    pub fn mutex(self, lock: MutexId) -> Self {
        self.declare_lock(lock.lock())
    }
    /// Declares a reader/writer semaphore ([`Machine::down_read`], [`Machine::down_write`],
    /// [`Machine::downgrade_write`]); errors as for [`spinlock`](Self::spinlock).
    pub fn rwsem(self, lock: RwsemId) -> Self {
        self.declare_lock(lock.lock())
    }
    /// Declares an RCU domain ([`Machine::rcu_read_lock`], [`Machine::synchronize_rcu`]);
    /// errors as for [`spinlock`](Self::spinlock).
    pub fn rcu(self, lock: RcuId) -> Self {
        self.declare_lock(lock.lock())
    }

    fn declare_lock(mut self, lock: DeclaredLock) -> Self {
        let why = if self.locks.iter().any(|l| l.name() == lock.name()) {
            Some("a declared lock has this name")
        } else {
            match self.machine.declare_lock(lock) {
                Ok(()) => None,
                Err(LockDeclError::Index) => Some("its index is beyond the machine's locks"),
                Err(LockDeclError::Taken) => Some("another declared lock has its index"),
            }
        };
        match why {
            Some(why) => {
                self.error.get_or_insert(ScenarioError::BadLock {
                    name: lock.name(),
                    why,
                });
            }
            None => self.locks.push(lock),
        }
        self
    }

    /// Declares an invariant that the scenario's programs raise with
    /// [`Machine::flag`]`(INV.id(), "what broke")`: checked on every step, cited by its id.
    /// An id must start with `INV-` and be new (not a built-in's, not declared twice);
    /// otherwise [`build`](Self::build) fails with [`ScenarioError::BadInvariant`].
    pub fn invariant(self, inv: &'static invariant::Invariant) -> Self {
        self.declare(inv, None)
    }

    /// Declares a state invariant: `check` runs on every state reached and returns
    /// `Some(phrase)` when the state breaks it. It reads the machine through the same
    /// recording views as the programs. Id rules as for [`invariant`](Self::invariant).
    pub fn state_invariant(
        self,
        inv: &'static invariant::Invariant,
        check: invariant::StateCheck<A>,
    ) -> Self {
        self.declare(inv, Some(check))
    }

    fn declare(
        mut self,
        inv: &'static invariant::Invariant,
        check: Option<invariant::StateCheck<A>>,
    ) -> Self {
        let why = if !inv.id.starts_with("INV-") || inv.id.len() <= 4 {
            Some("an invariant id is INV- followed by a name")
        } else if InvariantId::ALL.iter().any(|b| b.id() == inv.id) {
            Some("a built-in invariant has this id")
        } else if self.declared.iter().any(|k| k.invariant.id == inv.id) {
            Some("declared twice")
        } else {
            None
        };
        match why {
            Some(why) => {
                self.error
                    .get_or_insert(ScenarioError::BadInvariant { id: inv.id, why });
            }
            None => self.declared.push(invariant::Declared {
                invariant: inv,
                check,
            }),
        }
        self
    }

    /// Finishes the scenario.
    ///
    /// # Errors
    /// The first problem met while building.
    pub fn build(self) -> Result<Scenario<A>, ScenarioError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.threads.is_empty() {
            return Err(ScenarioError::NoThreads);
        }
        let limits = Limits {
            regions: self.machine.npmds(),
            slots: SLOTS as u8,
            threads: self.threads.len() as u8,
        };
        for (i, th) in self.threads.iter().enumerate() {
            th.program
                .check(&limits)
                .map_err(|error| ScenarioError::BadThread {
                    thread: i as u8,
                    name: th.name,
                    error,
                })?;
        }
        let mut machine = self.machine;
        machine.end_step();
        Ok(Scenario {
            name: self.name,
            initial: machine,
            threads: self.threads,
            invariants: self.invariants,
            declared: self.declared,
            locks: self.locks,
        })
    }
}
