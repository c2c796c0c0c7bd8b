//! The anonymous fault as v6.12 does it (mm/memory.c), under `mmap_lock` read:
//! `__handle_mm_fault` (:5849) → `create_huge_pmd` → `do_huge_pmd_anonymous_page`
//! (mm/huge_memory.c:1324, :1192) for an empty pmd where a THP is allowed, else
//! `handle_pte_fault` (:5765) → `do_anonymous_page` (:4745).
//!
//! Every lockless pmd read of v6.12 is its own step: the `pmd_none` that picks the huge path
//! (:5910), `vmf.orig_pmd = pmdp_get_lockless` (:5920), `handle_pte_fault`'s `pmd_none`, the
//! read inside `pte_offset_map_nolock` (mm/pgtable-generic.c:308), `pte_alloc`'s `pmd_none`
//! and the read inside `pte_offset_map_lock` (:364), which takes the pte lock and rechecks
//! `pmd_same`, retrying if the pmd changed. A non-present pmd that is not a migration entry
//! makes the fault return 0 (the access retries); only a real migration entry would wait
//! (the model has none). `vmf_pte_changed` (:5058) compares with `orig_pte` when one was read
//! from a table, and otherwise asks `pte_none` — never a constant zero.
//!
//! A read fault maps zero pages: the huge zero folio where a THP may go
//! (`set_huge_zero_folio`, mm/huge_memory.c:1339-1372, no folio allocated), else a special
//! zero pte (`do_anonymous_page`, mm/memory.c:4766).
//!
//! A write (or unshare) fault on a huge pmd that is not writable is `wp_huge_pmd` (:5937) →
//! `do_huge_pmd_wp_page` (mm/huge_memory.c:1818): the huge zero page falls back at once;
//! otherwise, under the pmd lock and after `pmd_same`, a `PageAnonExclusive` THP is reused
//! in place (`pmd_mkdirty`, `maybe_pmd_mkwrite`, `pmdp_set_access_flags`; an unshare only
//! returns); else `folio_trylock` (failing: `folio_get`, the pmd lock dropped, `folio_lock`,
//! the pmd lock again, `pmd_same` again, `folio_put`), the exclusive recheck, and with the
//! only reference `SetPageAnonExclusive` and reuse; with more, `unlock_fallback`. The
//! fallback is `__split_huge_pmd` under the fault's `mmap_lock` (the same steps as
//! [`super::split::SplitHugePmd`]), then `VM_FAULT_FALLBACK` sends the fault on to
//! `handle_pte_fault`, whose `do_wp_page` copies the written pte. No uffd-wp in the model
//! (`userfaultfd_huge_pmd_wp` is false), no swap cache; a file THP's `wp_huge_pmd`
//! (`->huge_fault`, then the file fault at pte level) is INV-MODEL.
//!
//! A write fault on a present pte that is not writable is `do_wp_page` (:3665, from :5815)
//! in a private mapping: an anonymous page marked `PageAnonExclusive`, or one
//! `wp_can_reuse_anon_folio` (:3595) finds with the only reference (small folio, refcount 1
//! under the folio lock taken with a trylock), is reused (`wp_page_reuse`, :3245:
//! young, dirty, writable, under the pte lock); anything else (the zero page, a page cache
//! page, a shared or pinned anonymous page) is copied (`wp_page_copy`, :3339): `folio_get`
//! of the old folio, the pte lock dropped, a new folio (zeroed for the zero page),
//! `pte_offset_map_lock` again, `pte_same` against `orig_pte`, then `ptep_clear_flush`,
//! `folio_add_new_anon_rmap(RMAP_EXCLUSIVE)` and `set_pte_at`, `folio_remove_rmap_pte` of
//! the old folio, unlock, and `folio_put` of whichever folio is left over and of the old one.
//! In a shared mapping it is `wp_page_shared` (:3555) as shmem runs it (no
//! `->page_mkwrite`): `folio_get`, `wp_page_reuse` under the pte lock, then `folio_lock`,
//! `fault_dirty_shared_page` (`folio_mark_dirty`, `folio_unlock`) and `folio_put`; a shared
//! pte with no page (`wp_pfn_shared`) is not modelled: INV-MODEL.
//!
//! A pte that is neither none nor present is `do_swap_page` (:4210). A migration entry
//! (`try_to_migrate_one` left it, [`super::migrate`]) is `migration_entry_wait`
//! (mm/migrate.c:426): `pte_offset_map_lock`, the pte read again under the lock, and if it
//! is still a migration entry `migration_entry_wait_on_locked` (mm/filemap.c:1386) queues on
//! the folio's `PG_locked` before it drops the pte lock and sleeps until the next
//! `folio_unlock`; the fault then returns 0 and the access retries. `pte_unmap_same`
//! before it only unmaps where a pte fits a long; where it does not (32-bit ARM LPAE) it
//! also locks and compares, which the wait's own recheck under the lock subsumes. A swap
//! entry to read back in is not modelled: INV-MODEL.
//!
//! A `FAULT_FLAG_UNSHARE` fault (GUP's slow path pinning a shared anonymous page,
//! [`super::gup_slow`]) takes the same `do_wp_page` without write access: a page it can
//! reuse is only made exclusive (:3734-3740, the pte untouched), and `wp_page_copy` maps the
//! copy read-only (:3411-3420).

use crate::entry::{PmdOps, Pte};

use super::super::super::Tid;
use super::super::super::invariant::InvariantId;
use super::super::super::mm::{Machine, NO_TABLE};
use super::super::super::program::{Limits, Program, ProgramError, Step, Wait};
use super::super::finish;
use super::split::{SplitKnobs, SplitLocked, SplitState};
use super::{
    MapLockRegs, Mapped, PteOffsetMapLock, anon_pte, in_huge_zero_folio, is_huge_zero_pmd,
    migration_entry, mk_pte_private, pmd_install_locked, pte_offset_map_at, zero_pte,
};

/// A user write that faults at (region, slot) of an anonymous VMA, v6.12.
#[derive(Clone, Copy, Debug)]
pub struct AnonFault {
    /// The region (pmd index).
    pub region: u8,
    /// The pte slot within it.
    pub slot: u8,
    /// Whether `thp_vma_allowable_order` allows a PMD-sized THP here.
    pub huge: bool,
    /// `FAULT_FLAG_WRITE`: a write (else a read, served by the zero pages).
    pub write: bool,
    /// Variant: when no pte was read at fault entry (the pmd was none), `vmf_pte_changed`
    /// compares the slot with a static all-zero `orig_pte` instead of asking `pte_none` — the
    /// shape Hugh Dickins warned against in the 2016 huge-tmpfs review, wrong where the
    /// empty pte is not zero (s390, nios2, xtensa, um).
    pub orig_pte_static_zero: bool,
    /// Mutation for tests: `do_huge_pmd_wp_page`'s fallback split clears the pmd
    /// (`pmdp_huge_clear_flush`) instead of invalidating it, so a lockless walker can read
    /// it as none mid-split.
    pub fallback_split_clears_pmd: bool,
}

impl AnonFault {
    /// A write fault at (region, slot) that may take the huge path.
    pub const fn new(region: u8, slot: u8) -> Self {
        Self {
            region,
            slot,
            huge: true,
            write: true,
            orig_pte_static_zero: false,
            fallback_split_clears_pmd: false,
        }
    }
    /// A read fault at (region, slot) that may take the huge path.
    pub const fn read(region: u8, slot: u8) -> Self {
        Self {
            write: false,
            ..Self::new(region, slot)
        }
    }
}

/// The `vmf->flags` a caller passes when it runs the fault inside its own program
/// ([`AnonFault::enter`]); `FAULT_FLAG_WRITE` is [`AnonFault::write`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FaultFlags {
    /// `FAULT_FLAG_UNSHARE` (mm/gup.c:1191, what `faultin_page` passes for a pin that
    /// `gup_must_unshare` refused): `do_wp_page` makes the page exclusive without granting
    /// write access.
    pub unshare: bool,
}

/// Running the fault as part of another program: `handle_mm_fault` called by a caller that
/// took `mmap_lock` for read and found the VMA itself (GUP's `faultin_page`, a populate
/// loop, a page-fault handler of its own).
///
/// The caller's step at its own call site runs [`AnonFault::enter`]; its
/// [`Program::step`] hands every program counter below [`AnonFault::RETURN`] to the fault's
/// [`Program::step`]; the fault ends at `RETURN` with `mmap_lock` still held for read and
/// leaves the rest to the caller, whose own steps are `RETURN` and above. The fault uses all
/// of the thread's registers: a caller keeps nothing in them across the call.
impl AnonFault {
    /// `__handle_mm_fault`'s first step (mm/memory.c:5849), where [`AnonFault::enter`] puts
    /// the thread.
    pub const ENTRY: u8 = PMD_NONE_THP;
    /// The fault has returned (`mmap_lock` still held for read): the caller's first step.
    pub const RETURN: u8 = RETURN;

    /// Calls the fault from the caller's current step: zeroes the thread's registers, sets
    /// `vmf->flags` and jumps to [`AnonFault::ENTRY`]. The thread must hold `mmap_lock` for
    /// read.
    pub fn enter<A: PmdOps>(m: &mut Machine<A>, t: Tid, flags: FaultFlags) {
        let mut regs = [0; 4];
        if flags.unshare {
            regs[FLAGS] = UNSHARE;
        }
        m.th_mut(t).regs = regs;
        m.goto(t, PMD_NONE_THP);
    }
}

/// `vmf.orig_pmd`, then the pmd value `pte_offset_map_lock` mapped.
const PMDVAL: usize = 0;
/// `vmf->orig_pte`.
const ORIG_PTE: usize = 1;
/// Objects, a byte each: the table in use, the page allocated, a spare table,
/// `do_wp_page`'s old page, the folio a migration wait sleeps on.
const OBJS: usize = 2;
/// `vmf->flags`: `FAULT_FLAG_ORIG_PTE_VALID`, `FAULT_FLAG_UNSHARE`.
const FLAGS: usize = 3;
const ORIG_PTE_VALID: u64 = 1;
/// `FAULT_FLAG_UNSHARE` (set by GUP's `faultin_page` for a pin of a shared anonymous page,
/// mm/gup.c:1191): `do_wp_page` makes the page exclusive, by reuse or by a copy it maps
/// read-only, without granting write access.
const UNSHARE: u64 = 2;

const LOCK_MMAP: u8 = 0;
/// `__handle_mm_fault`'s first step, where a caller that took `mmap_lock` and found the VMA
/// itself ([`super::super::user_fault`]) enters.
const PMD_NONE_THP: u8 = 1;
const HUGE_ALLOC: u8 = 2;
const HUGE_LOCK: u8 = 3;
const HUGE_SET: u8 = 4;
const HUGE_UNLOCK: u8 = 5;
const HUGE_BACKOFF: u8 = 6;
const ORIG_PMD: u8 = 7;
const ACCESSED_LOCK: u8 = 8;
const ACCESSED: u8 = 9;
const ACCESSED_UNLOCK: u8 = 10;
const PTE_FAULT: u8 = 11;
const PTE_MAP_NOLOCK: u8 = 12;
const READ_ORIG_PTE: u8 = 13;
const EXISTING_LOCK: u8 = 14;
const EXISTING_UPDATE: u8 = 15;
const EXISTING_UNLOCK: u8 = 16;
const PTE_ALLOC_CHECK: u8 = 17;
const PTE_ALLOC: u8 = 18;
const INSTALL_LOCK: u8 = 19;
const INSTALL: u8 = 20;
const INSTALL_UNLOCK: u8 = 21;
const FOLIO_ALLOC: u8 = 22;
const MAP_LOCK: u8 = 23;
const MAP_PTL: u8 = 24;
const MAP_RECHECK: u8 = 25;
const MAP_RETRY_UNLOCK: u8 = 26;
pub(crate) const SET_PTE: u8 = 27;
const PTE_UNLOCK: u8 = 28;
// do_wp_page (under the pte lock from EXISTING_LOCK).
const WP_PAGE: u8 = 29;
const WP_TRYLOCK: u8 = 30;
const WP_RECHECK: u8 = 31;
const WP_REUSE: u8 = 32;
// wp_page_copy.
const WP_COPY_GET: u8 = 33;
const WP_COPY_ALLOC: u8 = 34;
const WP_COPY_MAP: u8 = 35;
const WP_COPY_PTL: u8 = 36;
const WP_COPY_RECHECK: u8 = 37;
const WP_COPY_RETRY_UNLOCK: u8 = 38;
const WP_COPY_SAME: u8 = 39;
const WP_COPY_CLEAR: u8 = 40;
const WP_COPY_SET: u8 = 41;
const WP_COPY_UNLOCK: u8 = 42;
const WP_COPY_PUT: u8 = 43;
// wp_page_shared.
const WP_SHARED_GET: u8 = 44;
const WP_SHARED_REUSE: u8 = 45;
const WP_SHARED_UNLOCK: u8 = 46;
const WP_SHARED_LOCK: u8 = 47;
const WP_SHARED_DIRTY: u8 = 48;
const WP_SHARED_PUT: u8 = 49;
const RELEASE: u8 = 50;
// do_swap_page on a migration entry: migration_entry_wait (mm/migrate.c:426).
const MIG_MAP: u8 = 51;
const MIG_PTL: u8 = 52;
const MIG_RECHECK: u8 = 53;
const MIG_RETRY: u8 = 54;
const MIG_LOCKED: u8 = 55;
const MIG_SLEEP: u8 = 56;
// wp_huge_pmd -> do_huge_pmd_wp_page (mm/huge_memory.c:1818).
const HWP_LOCK: u8 = 57;
const HWP_SAME: u8 = 58;
const HWP_TRYLOCK: u8 = 59;
const HWP_DROP_PTL: u8 = 60;
const HWP_FOLIO_LOCK: u8 = 61;
const HWP_RELOCK: u8 = 62;
const HWP_RESAME: u8 = 63;
const HWP_BAIL_UNLOCK: u8 = 64;
const HWP_BAIL_FOLIO_UNLOCK: u8 = 65;
const HWP_BAIL_PUT: u8 = 66;
const HWP_EXCLUSIVE: u8 = 67;
const HWP_REUSE_FOLIO_UNLOCK: u8 = 68;
const HWP_FALLBACK_FOLIO_UNLOCK: u8 = 69;
const HWP_FALLBACK_UNLOCK: u8 = 70;
const HWP_REUSE: u8 = 71;
const HWP_UNLOCK: u8 = 72;
/// The last step: `mmap_read_unlock`, return. Steps above it are free for a caller.
const RETURN: u8 = 90;

/// `do_huge_pmd_wp_page`'s fallback, `__split_huge_pmd(vma, pmd, address, false, NULL)`
/// (mm/huge_memory.c:1902) under the fault's `mmap_lock`; then `VM_FAULT_FALLBACK` sends
/// `__handle_mm_fault` on to `handle_pte_fault` (mm/memory.c:5945).
const FALLBACK_SPLIT: SplitLocked = SplitLocked {
    base: 73,
    done: PTE_FAULT,
};
const _: () = assert!(FALLBACK_SPLIT.base > HWP_UNLOCK && FALLBACK_SPLIT.last() < RETURN);

/// The fallback split keeps `old_pmd` in `ORIG_PTE` (unused until `handle_pte_fault`, which
/// sets it) and its table and page among the fault's objects; all cleared when it returns.
struct FallbackSplit;

impl SplitState for FallbackSplit {
    fn save_orig<A: PmdOps>(m: &mut Machine<A>, t: Tid, pmd: u64) {
        m.th_mut(t).regs[ORIG_PTE] = pmd;
    }
    fn orig<A: PmdOps>(m: &Machine<A>, t: Tid) -> u64 {
        m.th(t).regs[ORIG_PTE]
    }
    fn save_filled<A: PmdOps>(m: &mut Machine<A>, t: Tid, table: u8, page: Option<u8>) {
        set_obj(m, t, SPLIT_TABLE, Some(table));
        set_obj(m, t, SPLIT_PAGE, page);
    }
    fn filled<A: PmdOps>(m: &Machine<A>, t: Tid) -> (u8, Option<u8>) {
        (
            obj(m, t, SPLIT_TABLE).unwrap_or(NO_TABLE),
            obj(m, t, SPLIT_PAGE),
        )
    }
}

/// `migration_entry_wait`'s `pte_offset_map_lock` (mm/migrate.c:434): NULL returns.
const MIG_MAP_LOCK: PteOffsetMapLock = PteOffsetMapLock {
    map: MIG_MAP,
    ptl: MIG_PTL,
    recheck: MIG_RECHECK,
    retry: MIG_RETRY,
    locked: MIG_LOCKED,
    none: RETURN,
};

const ANON_MAP_LOCK: PteOffsetMapLock = PteOffsetMapLock {
    map: MAP_LOCK,
    ptl: MAP_PTL,
    recheck: MAP_RECHECK,
    retry: MAP_RETRY_UNLOCK,
    locked: SET_PTE,
    none: RELEASE,
};

/// `wp_page_copy`'s `pte_offset_map_lock` after the allocation.
const WP_COPY_MAP_LOCK: PteOffsetMapLock = PteOffsetMapLock {
    map: WP_COPY_MAP,
    ptl: WP_COPY_PTL,
    recheck: WP_COPY_RECHECK,
    retry: WP_COPY_RETRY_UNLOCK,
    locked: WP_COPY_SAME,
    none: WP_COPY_PUT,
};

/// The fault keeps `pte_offset_map_lock`'s pmd value in `PMDVAL` and its table among its
/// objects.
struct FaultRegs;

impl MapLockRegs for FaultRegs {
    fn save<A: PmdOps>(m: &mut Machine<A>, t: Tid, pmdval: u64, table: u8) {
        m.th_mut(t).regs[PMDVAL] = pmdval;
        set_obj(m, t, TABLE, Some(table));
    }
    fn pmdval<A: PmdOps>(m: &Machine<A>, t: Tid) -> u64 {
        m.th(t).regs[PMDVAL]
    }
    fn table<A: PmdOps>(m: &Machine<A>, t: Tid) -> Option<u8> {
        obj(m, t, TABLE)
    }
}

/// The page a migration entry names (`is_swap_pte`, `is_migration_entry`,
/// `pfn_swap_entry_folio`); `None` for any other pte. An entry for a pfn the model has no
/// page for is INV-MODEL.
fn migration_page<A: PmdOps>(m: &mut Machine<A>, pte: Pte<A>) -> Option<u8> {
    let (_, pfn) = migration_entry(pte)?;
    let page = m.page_of_pfn(pfn);
    if page.is_none() {
        m.flag(InvariantId::MODEL, "a migration entry for no modelled page");
    }
    page
}

/// Returns object `which` of the fault (`TABLE`, `PAGE`, `SPARE`); a byte holds index + 1,
/// 0 for none.
fn obj<A: PmdOps>(m: &Machine<A>, t: Tid, which: u32) -> Option<u8> {
    let byte = (m.th(t).regs[OBJS] >> (8 * which)) as u8;
    byte.checked_sub(1)
}

/// Returns object `which`, which the program's order guarantees is set.
fn need<A: PmdOps>(m: &mut Machine<A>, t: Tid, which: u32) -> u8 {
    obj(m, t, which).unwrap_or_else(|| {
        m.flag(
            InvariantId::MODEL,
            "the fault lost track of its table or page",
        );
        0
    })
}

fn set_obj<A: PmdOps>(m: &mut Machine<A>, t: Tid, which: u32, v: Option<u8>) {
    let r = &mut m.th_mut(t).regs[OBJS];
    let byte = v.map_or(0, |v| u64::from(v) + 1);
    *r = (*r & !(0xff << (8 * which))) | byte << (8 * which);
}

/// Returns whether the running fault is `FAULT_FLAG_UNSHARE`.
fn unshare<A: PmdOps>(m: &Machine<A>, t: Tid) -> bool {
    m.th(t).regs[FLAGS] & UNSHARE != 0
}

const TABLE: u32 = 0;
const PAGE: u32 = 1;
const SPARE: u32 = 2;
/// `do_wp_page`'s `vmf->page`: the page the write-protected pte maps.
const OLD: u32 = 3;
/// The folio `migration_entry_wait` sleeps on (the migration entry's pfn).
const WAITED: u32 = 4;
/// The fallback split's table and page ([`FallbackSplit`]).
const SPLIT_TABLE: u32 = 5;
const SPLIT_PAGE: u32 = 6;

impl<A: PmdOps> Program<A> for AnonFault {
    fn name(&self) -> &'static str {
        "handle_mm_fault (anonymous, v6.12)"
    }

    fn check(&self, limits: &Limits) -> Result<(), ProgramError> {
        limits.region_slot(self.region, self.slot)
    }

    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let r = self.region;
        let slot = usize::from(self.slot);
        match m.th(t).pc {
            LOCK_MMAP => {
                if !m.mmap_read(t) {
                    return Step::Blocked(Wait::MmapRead);
                }
                m.goto(t, PMD_NONE_THP);
                Step::Ran("lock_mm_and_find_vma: mmap_read_lock")
            }
            PMD_NONE_THP => {
                let pmd = m.pmd_get(r);
                if A::pmd_none(pmd) && self.huge && A::GEOMETRY.has_thp {
                    m.goto(t, HUGE_ALLOC);
                    return Step::Ran("__handle_mm_fault: pmd_none, create_huge_pmd");
                }
                m.goto(t, ORIG_PMD);
                Step::Ran("__handle_mm_fault: no huge fault here")
            }
            HUGE_ALLOC if !self.write => {
                let Some(table) = m.table_alloc(r) else {
                    m.flag(InvariantId::MODEL, "table arena full");
                    m.goto(t, RETURN);
                    return Step::Ran("do_huge_pmd_anonymous_page: allocation failed");
                };
                set_obj(m, t, SPARE, Some(table));
                m.goto(t, HUGE_LOCK);
                Step::Ran("do_huge_pmd_anonymous_page: read: pte_alloc_one, mm_get_huge_zero_folio")
            }
            HUGE_ALLOC => {
                let (Some(page), Some(table)) = (m.page_alloc(true), m.table_alloc(r)) else {
                    m.flag(InvariantId::MODEL, "page or table arena full");
                    m.goto(t, RETURN);
                    return Step::Ran("do_huge_pmd_anonymous_page: allocation failed");
                };
                set_obj(m, t, PAGE, Some(page));
                set_obj(m, t, SPARE, Some(table));
                m.goto(t, HUGE_LOCK);
                Step::Ran("do_huge_pmd_anonymous_page: vma_alloc_folio, pte_alloc_one")
            }
            HUGE_LOCK => {
                if !m.pmd_lock(r, t) {
                    return Step::Blocked(Wait::PmdLock(r));
                }
                m.goto(t, HUGE_SET);
                Step::Ran("__do_huge_pmd_anonymous_page: pmd_lock")
            }
            HUGE_SET if !self.write => {
                let cur = m.pmd_get(r);
                if !A::pmd_none(cur) {
                    m.goto(t, HUGE_BACKOFF);
                    return Step::Ran("do_huge_pmd_anonymous_page: read: !pmd_none");
                }
                let table = need(m, t, SPARE);
                let zero = A::mk_huge_pmd(Machine::<A>::huge_zero_pfn(), m.prot().read_only());
                match zero {
                    Ok(pmd) => {
                        m.deposit(r, table);
                        m.pmd_set(r, A::set_pmd_at(pmd));
                    }
                    Err(_) => m.flag(InvariantId::MODEL, "mk_pmd refused the huge zero folio"),
                }
                m.goto(t, HUGE_UNLOCK);
                Step::Ran(
                    "set_huge_zero_folio: pmd_mkhuge(mk_pmd(zero_folio)), pgtable_trans_huge_deposit, set_pmd_at",
                )
            }
            HUGE_SET => {
                let cur = m.pmd_get(r);
                if !A::pmd_none(cur) {
                    m.goto(t, HUGE_BACKOFF);
                    return Step::Ran("__do_huge_pmd_anonymous_page: !pmd_none, unlock_release");
                }
                let page = need(m, t, PAGE);
                let table = need(m, t, SPARE);
                match A::mk_huge_pmd_anon(Machine::<A>::page_pfn(page), m.prot()) {
                    Ok(huge) => {
                        m.page_map(page, r, 1);
                        m.deposit(r, table);
                        m.pmd_set(r, huge);
                    }
                    Err(_) => m.flag(InvariantId::MODEL, "mk_huge_pmd refused a modelled page"),
                }
                m.goto(t, HUGE_UNLOCK);
                Step::Ran(
                    "__do_huge_pmd_anonymous_page: folio_add_new_anon_rmap, pgtable_trans_huge_deposit, set_pmd_at",
                )
            }
            HUGE_UNLOCK => {
                m.pmd_unlock(r, t);
                m.goto(t, RETURN);
                Step::Ran("__do_huge_pmd_anonymous_page: spin_unlock")
            }
            HUGE_BACKOFF => {
                m.pmd_unlock(r, t);
                let table = need(m, t, SPARE);
                m.table_free(table);
                if let Some(page) = obj(m, t, PAGE) {
                    m.page_put(page);
                }
                m.goto(t, RETURN);
                Step::Ran("__do_huge_pmd_anonymous_page: spin_unlock, pte_free, folio_put")
            }
            ORIG_PMD => {
                let pmd = m.pmd_get(r);
                m.th_mut(t).regs[PMDVAL] = pmd.raw_u64();
                if A::pmd_none(pmd) {
                    m.goto(t, PTE_FAULT);
                    return Step::Ran("__handle_mm_fault: orig_pmd = pmdp_get_lockless, pmd_none");
                }
                if !A::pmd_present(pmd) {
                    m.goto(t, RETURN);
                    return Step::Ran(
                        "__handle_mm_fault: !pmd_present and no migration entry, return 0",
                    );
                }
                if A::pmd_trans_huge(pmd) {
                    if (self.write || unshare(m, t)) && !A::pmd_write(pmd) {
                        if !m.vma_is_anonymous() {
                            m.flag(
                                InvariantId::MODEL,
                                "wp_huge_pmd of a file THP is not modelled",
                            );
                            m.goto(t, RETURN);
                            return Step::Ran(
                                "__handle_mm_fault: write to !pmd_write, wp_huge_pmd of a file VMA",
                            );
                        }
                        // No uffd-wp in the model: userfaultfd_huge_pmd_wp is false.
                        if is_huge_zero_pmd(pmd) {
                            m.goto(t, FALLBACK_SPLIT.base);
                            return Step::Ran(
                                "__handle_mm_fault: write to !pmd_write, wp_huge_pmd: \
                                 do_huge_pmd_wp_page: is_huge_zero_pmd, fallback",
                            );
                        }
                        m.goto(t, HWP_LOCK);
                        return Step::Ran(
                            "__handle_mm_fault: write to !pmd_write, wp_huge_pmd: do_huge_pmd_wp_page",
                        );
                    }
                    m.goto(t, ACCESSED_LOCK);
                    return Step::Ran("__handle_mm_fault: pmd_trans_huge, huge_pmd_set_accessed");
                }
                m.goto(t, PTE_FAULT);
                Step::Ran("__handle_mm_fault: a table, handle_pte_fault")
            }
            ACCESSED_LOCK => {
                if !m.pmd_lock(r, t) {
                    return Step::Blocked(Wait::PmdLock(r));
                }
                m.goto(t, ACCESSED);
                Step::Ran("huge_pmd_set_accessed: pmd_lock")
            }
            ACCESSED => {
                // touch_pmd's pmd_mkyoung: the model's huge pmds are built young, so a
                // pmd_same success writes the value back unchanged.
                let cur = m.pmd_get(r);
                let orig = m.th(t).regs[PMDVAL];
                m.goto(t, ACCESSED_UNLOCK);
                if orig == cur.raw_u64() {
                    Step::Ran("huge_pmd_set_accessed: pmd_same, touch_pmd")
                } else {
                    Step::Ran("huge_pmd_set_accessed: !pmd_same, nothing to do")
                }
            }
            ACCESSED_UNLOCK => {
                m.pmd_unlock(r, t);
                m.goto(t, RETURN);
                Step::Ran("huge_pmd_set_accessed: spin_unlock")
            }
            PTE_FAULT => {
                let pmd = m.pmd_get(r);
                if A::pmd_none(pmd) {
                    m.th_mut(t).regs[FLAGS] &= !ORIG_PTE_VALID;
                    m.goto(t, PTE_ALLOC_CHECK);
                    return Step::Ran(
                        "handle_pte_fault: pmd_none, vmf->pte = NULL, do_anonymous_page",
                    );
                }
                m.goto(t, PTE_MAP_NOLOCK);
                Step::Ran("handle_pte_fault: !pmd_none")
            }
            PTE_MAP_NOLOCK => match pte_offset_map_at(m, r) {
                Mapped::Table(_, table) => {
                    set_obj(m, t, TABLE, Some(table));
                    m.goto(t, READ_ORIG_PTE);
                    Step::Ran("pte_offset_map_nolock: a table")
                }
                Mapped::Null => {
                    m.goto(t, RETURN);
                    Step::Ran("pte_offset_map_nolock: NULL, return 0 (the access retries)")
                }
                Mapped::ClearedBad => {
                    m.goto(t, RETURN);
                    Step::Ran(
                        "pte_offset_map_nolock: pmd_bad, pmd_clear_bad, NULL, return 0 (the access retries)",
                    )
                }
            },
            READ_ORIG_PTE => {
                let table = need(m, t, TABLE);
                let pte = m.pte_get(table, slot);
                m.th_mut(t).regs[ORIG_PTE] = pte.raw_u64();
                m.th_mut(t).regs[FLAGS] |= ORIG_PTE_VALID;
                if A::pte_none(pte) {
                    m.goto(t, PTE_ALLOC_CHECK);
                    return Step::Ran(
                        "handle_pte_fault: orig_pte = ptep_get_lockless, pte_none, do_anonymous_page",
                    );
                }
                if A::pte_present(pte) {
                    m.goto(t, EXISTING_LOCK);
                    return Step::Ran("handle_pte_fault: orig_pte present, spin_lock(ptl) next");
                }
                // do_swap_page (:4210): pte_unmap_same, then the entry in orig_pte.
                if migration_page(m, pte).is_some() {
                    m.goto(t, MIG_MAP);
                    return Step::Ran(
                        "handle_pte_fault: !pte_present, do_swap_page: is_migration_entry, migration_entry_wait",
                    );
                }
                m.flag(
                    InvariantId::MODEL,
                    "do_swap_page: only a migration entry is modelled, not a swap-in",
                );
                m.goto(t, RETURN);
                Step::Ran("handle_pte_fault: !pte_present, do_swap_page: a swap entry")
            }
            MIG_MAP..=MIG_RETRY => MIG_MAP_LOCK.step::<A, FaultRegs>(m, t, r),
            MIG_LOCKED => {
                let table = need(m, t, TABLE);
                let pte = m.pte_get(table, slot);
                let Some(page) = migration_page(m, pte) else {
                    m.ptl_unlock(table, t);
                    m.goto(t, RETURN);
                    return Step::Ran(
                        "migration_entry_wait: ptep_get: no migration entry now, spin_unlock(ptl), return 0",
                    );
                };
                // migration_entry_wait_on_locked (mm/filemap.c:1386): queued on PG_locked
                // (folio_trylock_flag finds it unlocked: no wait) before the pte lock goes.
                let queued = m.page_wait_enqueue(page, t);
                m.ptl_unlock(table, t);
                if !queued {
                    m.goto(t, RETURN);
                    return Step::Ran(
                        "migration_entry_wait_on_locked: the folio is unlocked, spin_unlock(ptl), return 0",
                    );
                }
                set_obj(m, t, WAITED, Some(page));
                m.goto(t, MIG_SLEEP);
                Step::Ran(
                    "migration_entry_wait_on_locked: folio_set_waiters, queued on PG_locked, spin_unlock(ptl)",
                )
            }
            MIG_SLEEP => {
                let page = need(m, t, WAITED);
                if m.page_waiting(page, t) {
                    return Step::Blocked(Wait::PageLock(page));
                }
                set_obj(m, t, WAITED, None);
                m.goto(t, RETURN);
                Step::Ran(
                    "migration_entry_wait_on_locked: woken by folio_unlock, finish_wait; do_swap_page returns 0 (the access retries)",
                )
            }
            EXISTING_LOCK => {
                let table = need(m, t, TABLE);
                if !m.ptl_lock(table, t) {
                    return Step::Blocked(Wait::Ptl(table));
                }
                m.goto(t, EXISTING_UPDATE);
                Step::Ran("handle_pte_fault: spin_lock(vmf->ptl)")
            }
            EXISTING_UPDATE => {
                let table = need(m, t, TABLE);
                let cur = m.pte_get(table, slot);
                let orig = m.th(t).regs[ORIG_PTE];
                m.goto(t, EXISTING_UNLOCK);
                if orig == cur.raw_u64() {
                    if (self.write || unshare(m, t)) && !A::pte_write(cur) {
                        // :5815, still under the pte lock.
                        m.goto(t, WP_PAGE);
                        return Step::Ran(if self.write {
                            "handle_pte_fault: write to !pte_write, do_wp_page"
                        } else {
                            "handle_pte_fault: FAULT_FLAG_UNSHARE, !pte_write, do_wp_page"
                        });
                    }
                    let entry = A::pte_mkyoung(if self.write { A::pte_mkdirty(cur) } else { cur });
                    if entry != cur {
                        m.pte_set(table, slot, entry);
                    }
                    return Step::Ran("handle_pte_fault: pte_same, ptep_set_access_flags");
                }
                Step::Ran("handle_pte_fault: !pte_same, update_mmu_tlb")
            }
            EXISTING_UNLOCK => {
                let table = need(m, t, TABLE);
                m.ptl_unlock(table, t);
                m.goto(t, RETURN);
                Step::Ran("handle_pte_fault: pte_unmap_unlock")
            }
            PTE_ALLOC_CHECK => {
                let pmd = m.pmd_get(r);
                if A::pmd_none(pmd) {
                    m.goto(t, PTE_ALLOC);
                    return Step::Ran("do_anonymous_page: pte_alloc: pmd_none, __pte_alloc");
                }
                m.goto(t, FOLIO_ALLOC);
                Step::Ran("do_anonymous_page: pte_alloc: a table is there")
            }
            PTE_ALLOC => {
                let Some(table) = m.table_alloc(r) else {
                    m.flag(InvariantId::MODEL, "table arena full");
                    m.goto(t, RETURN);
                    return Step::Ran("__pte_alloc: allocation failed");
                };
                set_obj(m, t, SPARE, Some(table));
                m.goto(t, INSTALL_LOCK);
                Step::Ran("__pte_alloc: pte_alloc_one")
            }
            INSTALL_LOCK => {
                if !m.pmd_lock(r, t) {
                    return Step::Blocked(Wait::PmdLock(r));
                }
                m.goto(t, INSTALL);
                Step::Ran("pmd_install: pmd_lock")
            }
            INSTALL => {
                let table = need(m, t, SPARE);
                m.goto(t, INSTALL_UNLOCK);
                if pmd_install_locked(m, r, table) {
                    set_obj(m, t, SPARE, None);
                    return Step::Ran("pmd_install: pmd_none, smp_wmb, pmd_populate");
                }
                Step::Ran("pmd_install: someone else populated the pmd")
            }
            INSTALL_UNLOCK => {
                m.pmd_unlock(r, t);
                let spare = obj(m, t, SPARE);
                m.goto(t, FOLIO_ALLOC);
                if let Some(spare) = spare {
                    set_obj(m, t, SPARE, None);
                    m.table_free(spare);
                    return Step::Ran("pmd_install: spin_unlock; __pte_alloc: pte_free the spare");
                }
                Step::Ran("pmd_install: spin_unlock")
            }
            FOLIO_ALLOC if !self.write => {
                m.goto(t, MAP_LOCK);
                Step::Ran(
                    "do_anonymous_page: read, use the zero page: pte_mkspecial(pfn_pte(my_zero_pfn))",
                )
            }
            FOLIO_ALLOC => {
                let Some(page) = m.page_alloc(false) else {
                    m.flag(InvariantId::MODEL, "page arena full");
                    m.goto(t, RETURN);
                    return Step::Ran("do_anonymous_page: allocation failed");
                };
                set_obj(m, t, PAGE, Some(page));
                m.goto(t, MAP_LOCK);
                Step::Ran("do_anonymous_page: alloc_anon_folio, mk_pte")
            }
            MAP_LOCK..=MAP_RETRY_UNLOCK => ANON_MAP_LOCK.step::<A, FaultRegs>(m, t, r),
            SET_PTE => {
                let table = need(m, t, TABLE);
                let page = if self.write {
                    Some(need(m, t, PAGE))
                } else {
                    None
                };
                let cur = m.pte_get(table, slot);
                let read_one = m.th(t).regs[FLAGS] & ORIG_PTE_VALID != 0;
                // What the slot really did: still what the fault read, or still empty.
                let really_changed = if read_one {
                    m.th(t).regs[ORIG_PTE] != cur.raw_u64()
                } else {
                    !A::pte_none(cur)
                };
                let changed = if !read_one && self.orig_pte_static_zero {
                    cur.raw_u64() != 0
                } else {
                    really_changed
                };
                if changed != really_changed {
                    m.flag(
                        InvariantId::VALIDATE,
                        if changed {
                            "vmf_pte_changed gave up on a slot that still holds the empty pte"
                        } else {
                            "vmf_pte_changed let the fault install over a slot that changed"
                        },
                    );
                }
                m.goto(t, PTE_UNLOCK);
                if changed {
                    if let Some(page) = page {
                        m.page_put(page);
                    }
                    return Step::Ran("do_anonymous_page: vmf_pte_changed, goto release");
                }
                let Some(page) = page else {
                    let pte = zero_pte(m);
                    m.pte_set(table, slot, pte);
                    return Step::Ran("do_anonymous_page: setpte: set_pte_at(the zero pte)");
                };
                let prot = m.prot();
                let pte = anon_pte(m, Machine::<A>::page_pfn(page), prot);
                m.pte_set(table, slot, pte);
                m.page_map(page, r, 1);
                m.page_set_anon_exclusive(page, true);
                Step::Ran("do_anonymous_page: folio_add_new_anon_rmap, set_ptes")
            }
            PTE_UNLOCK => {
                let table = need(m, t, TABLE);
                m.ptl_unlock(table, t);
                m.goto(t, RETURN);
                Step::Ran("do_anonymous_page: pte_unmap_unlock")
            }
            WP_PAGE..=WP_SHARED_PUT => self.wp_step(m, t),
            HWP_LOCK..=HWP_UNLOCK => huge_wp_step(m, t, r),
            pc if FALLBACK_SPLIT.contains(pc) => {
                let knobs = SplitKnobs {
                    clear_instead_of_invalidate: self.fallback_split_clears_pmd,
                    ..SplitKnobs::default()
                };
                let ran = FALLBACK_SPLIT.step::<A, FallbackSplit>(m, t, r, knobs);
                if m.th(t).pc == FALLBACK_SPLIT.done {
                    // VM_FAULT_FALLBACK: on to handle_pte_fault with the split's state gone.
                    set_obj(m, t, SPLIT_TABLE, None);
                    set_obj(m, t, SPLIT_PAGE, None);
                    m.th_mut(t).regs[ORIG_PTE] = 0;
                }
                ran
            }
            RELEASE => {
                let Some(page) = obj(m, t, PAGE) else {
                    m.goto(t, RETURN);
                    return Step::Ran("do_anonymous_page: unlock");
                };
                m.page_put(page);
                m.goto(t, RETURN);
                Step::Ran("do_anonymous_page: release: folio_put")
            }
            _ => {
                m.mmap_read_unlock(t);
                finish(m, t);
                Step::Ran("handle_mm_fault: mmap_read_unlock")
            }
        }
    }
}

/// `do_huge_pmd_wp_page` (mm/huge_memory.c:1818) from its `spin_lock(vmf->ptl)`, with
/// `vmf->orig_pmd` in `PMDVAL` and the folio in `OLD`: reuse the THP where it is (or has
/// become) `PageAnonExclusive` or holds the only reference, else fall back to the split.
fn huge_wp_step<A: PmdOps>(m: &mut Machine<A>, t: Tid, r: u8) -> Step {
    let orig_raw = m.th(t).regs[PMDVAL];
    match m.th(t).pc {
        HWP_LOCK => {
            if !m.pmd_lock(r, t) {
                return Step::Blocked(Wait::PmdLock(r));
            }
            m.goto(t, HWP_SAME);
            Step::Ran("do_huge_pmd_wp_page: spin_lock(vmf->ptl)")
        }
        HWP_SAME | HWP_RESAME => {
            let again = m.th(t).pc == HWP_RESAME;
            if m.pmd_get(r).raw_u64() != orig_raw {
                m.goto(t, if again { HWP_BAIL_UNLOCK } else { HWP_UNLOCK });
                return Step::Ran("do_huge_pmd_wp_page: !pmd_same");
            }
            if again {
                // folio_put of the reference taken before the lock was dropped.
                let p = need(m, t, OLD);
                m.page_put(p);
                m.goto(t, HWP_EXCLUSIVE);
                return Step::Ran("do_huge_pmd_wp_page: pmd_same again, folio_put");
            }
            let orig = crate::Pmd::<A>::try_from_u64(orig_raw).unwrap_or(A::pmd_empty());
            let Some(p) = m.page_of_pfn(A::pmd_pfn(orig)) else {
                m.flag(InvariantId::MODEL, "a huge pmd maps no modelled page");
                m.goto(t, HWP_UNLOCK);
                return Step::Ran("do_huge_pmd_wp_page: pmd_page is no modelled page");
            };
            set_obj(m, t, OLD, Some(p));
            if m.page(p).anon_exclusive {
                m.goto(t, HWP_REUSE);
                return Step::Ran("do_huge_pmd_wp_page: pmd_same, PageAnonExclusive, reuse");
            }
            m.goto(t, HWP_TRYLOCK);
            Step::Ran("do_huge_pmd_wp_page: pmd_same, !PageAnonExclusive")
        }
        HWP_TRYLOCK => {
            let p = need(m, t, OLD);
            if m.page_lock(p, t) {
                m.goto(t, HWP_EXCLUSIVE);
                return Step::Ran("do_huge_pmd_wp_page: folio_trylock");
            }
            m.page_get(p);
            m.goto(t, HWP_DROP_PTL);
            Step::Ran("do_huge_pmd_wp_page: folio_trylock failed, folio_get")
        }
        HWP_DROP_PTL => {
            m.pmd_unlock(r, t);
            m.goto(t, HWP_FOLIO_LOCK);
            Step::Ran("do_huge_pmd_wp_page: spin_unlock(vmf->ptl)")
        }
        HWP_FOLIO_LOCK => {
            let p = need(m, t, OLD);
            if !m.page_lock(p, t) {
                return Step::Blocked(Wait::PageLock(p));
            }
            m.goto(t, HWP_RELOCK);
            Step::Ran("do_huge_pmd_wp_page: folio_lock")
        }
        HWP_RELOCK => {
            if !m.pmd_lock(r, t) {
                return Step::Blocked(Wait::PmdLock(r));
            }
            m.goto(t, HWP_RESAME);
            Step::Ran("do_huge_pmd_wp_page: spin_lock(vmf->ptl) again")
        }
        HWP_BAIL_UNLOCK => {
            m.pmd_unlock(r, t);
            m.goto(t, HWP_BAIL_FOLIO_UNLOCK);
            Step::Ran("do_huge_pmd_wp_page: spin_unlock(vmf->ptl)")
        }
        HWP_BAIL_FOLIO_UNLOCK => {
            let p = need(m, t, OLD);
            m.page_unlock(p, t);
            m.goto(t, HWP_BAIL_PUT);
            Step::Ran("do_huge_pmd_wp_page: folio_unlock")
        }
        HWP_BAIL_PUT => {
            let p = need(m, t, OLD);
            m.page_put(p);
            set_obj(m, t, OLD, None);
            m.goto(t, RETURN);
            Step::Ran("do_huge_pmd_wp_page: folio_put, return 0")
        }
        HWP_EXCLUSIVE => {
            // Under the pmd lock and the folio lock; no swap cache in the model.
            let p = need(m, t, OLD);
            let page = *m.page(p);
            if page.anon_exclusive {
                m.goto(t, HWP_REUSE_FOLIO_UNLOCK);
                return Step::Ran("do_huge_pmd_wp_page: PageAnonExclusive on the recheck");
            }
            if page.refcount > 1 {
                m.goto(t, HWP_FALLBACK_FOLIO_UNLOCK);
                return Step::Ran("do_huge_pmd_wp_page: folio_ref_count > 1, unlock_fallback");
            }
            m.page_set_anon_exclusive(p, true);
            m.goto(t, HWP_REUSE_FOLIO_UNLOCK);
            Step::Ran(
                "do_huge_pmd_wp_page: folio_ref_count == 1, folio_move_anon_rmap, SetPageAnonExclusive",
            )
        }
        HWP_REUSE_FOLIO_UNLOCK | HWP_FALLBACK_FOLIO_UNLOCK => {
            let p = need(m, t, OLD);
            m.page_unlock(p, t);
            let reuse = m.th(t).pc == HWP_REUSE_FOLIO_UNLOCK;
            m.goto(
                t,
                if reuse {
                    HWP_REUSE
                } else {
                    HWP_FALLBACK_UNLOCK
                },
            );
            Step::Ran("do_huge_pmd_wp_page: folio_unlock")
        }
        HWP_FALLBACK_UNLOCK => {
            m.pmd_unlock(r, t);
            set_obj(m, t, OLD, None);
            m.goto(t, FALLBACK_SPLIT.base);
            Step::Ran("do_huge_pmd_wp_page: spin_unlock(vmf->ptl), fallback: __split_huge_pmd")
        }
        HWP_REUSE => {
            set_obj(m, t, OLD, None);
            m.goto(t, HWP_UNLOCK);
            if unshare(m, t) {
                return Step::Ran("do_huge_pmd_wp_page: reuse: FAULT_FLAG_UNSHARE, return 0");
            }
            // pmd_mkyoung (the model's huge pmds are young), pmd_mkdirty, maybe_pmd_mkwrite,
            // pmdp_set_access_flags.
            let orig = crate::Pmd::<A>::try_from_u64(orig_raw).unwrap_or(A::pmd_empty());
            let mut entry = A::pmd_mkdirty(orig);
            if m.prot().writable() {
                entry = A::pmd_mkwrite(entry);
            }
            m.pmd_set(r, entry);
            Step::Ran(
                "do_huge_pmd_wp_page: reuse: pmd_mkdirty, maybe_pmd_mkwrite, pmdp_set_access_flags",
            )
        }
        _ => {
            m.pmd_unlock(r, t);
            m.goto(t, RETURN);
            Step::Ran("do_huge_pmd_wp_page: spin_unlock(vmf->ptl), return 0")
        }
    }
}

impl AnonFault {
    /// `do_wp_page` and what it calls (see the module's comment), from the step after
    /// `handle_pte_fault` found a write-protected pte under the pte lock.
    fn wp_step<A: PmdOps>(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let r = self.region;
        let slot = usize::from(self.slot);
        let empty = A::pte_empty(Machine::<A>::slot_addr(r, slot));
        let orig = Pte::<A>::try_from_u64(m.th(t).regs[ORIG_PTE]).unwrap_or(empty);
        match m.th(t).pc {
            WP_PAGE => {
                let shared = m.vma_shared(r);
                // vm_normal_page: NULL for the zero pages' special ptes.
                let pfn = A::pte_pfn(orig);
                let page = (pfn != Machine::<A>::zero_pfn() && !in_huge_zero_folio::<A>(pfn))
                    .then(|| m.page_of_pfn(pfn))
                    .flatten();
                set_obj(m, t, OLD, page);
                if shared {
                    if page.is_none() {
                        m.flag(InvariantId::MODEL, "wp_pfn_shared is not modelled");
                        m.goto(t, EXISTING_UNLOCK);
                        return Step::Ran("do_wp_page: VM_SHARED, no page: wp_pfn_shared");
                    }
                    m.goto(t, WP_SHARED_GET);
                    return Step::Ran("do_wp_page: VM_SHARED, wp_page_shared");
                }
                let Some(p) = page else {
                    m.goto(t, WP_COPY_GET);
                    return Step::Ran("do_wp_page: vm_normal_page is NULL (the zero page), copy");
                };
                let pg = *m.page(p);
                if pg.file {
                    m.goto(t, WP_COPY_GET);
                    return Step::Ran("do_wp_page: a page cache folio in a private mapping, copy");
                }
                if pg.anon_exclusive {
                    m.goto(t, WP_REUSE);
                    return Step::Ran("do_wp_page: PageAnonExclusive, reuse");
                }
                // wp_can_reuse_anon_folio (:3595): the lockless checks before the lock.
                if pg.huge || pg.refcount > 1 {
                    m.goto(t, WP_COPY_GET);
                    return Step::Ran(
                        "do_wp_page: wp_can_reuse_anon_folio: large, or folio_ref_count > 1, copy",
                    );
                }
                m.goto(t, WP_TRYLOCK);
                Step::Ran("do_wp_page: wp_can_reuse_anon_folio: folio_ref_count <= 1")
            }
            WP_TRYLOCK => {
                let p = need(m, t, OLD);
                if m.page_lock(p, t) {
                    m.goto(t, WP_RECHECK);
                    return Step::Ran("wp_can_reuse_anon_folio: folio_trylock");
                }
                m.goto(t, WP_COPY_GET);
                Step::Ran("wp_can_reuse_anon_folio: folio_trylock failed, copy")
            }
            WP_RECHECK => {
                let p = need(m, t, OLD);
                let only = m.page(p).refcount == 1;
                if only {
                    m.page_set_anon_exclusive(p, true);
                }
                m.page_unlock(p, t);
                if only {
                    m.goto(t, WP_REUSE);
                    return Step::Ran(
                        "wp_can_reuse_anon_folio: folio_ref_count == 1, folio_move_anon_rmap, \
                         folio_unlock; SetPageAnonExclusive",
                    );
                }
                m.goto(t, WP_COPY_GET);
                Step::Ran("wp_can_reuse_anon_folio: folio_ref_count != 1, folio_unlock, copy")
            }
            WP_REUSE if unshare(m, t) => {
                m.goto(t, EXISTING_UNLOCK);
                Step::Ran("do_wp_page: FAULT_FLAG_UNSHARE: the page is exclusive, return 0")
            }
            WP_REUSE => {
                let table = need(m, t, TABLE);
                let mut entry = A::pte_mkdirty(A::pte_mkyoung(orig));
                if m.prot().writable() {
                    entry = A::pte_mkwrite(entry);
                }
                m.pte_set(table, slot, entry);
                m.goto(t, EXISTING_UNLOCK);
                Step::Ran(
                    "wp_page_reuse: pte_mkyoung, maybe_mkwrite(pte_mkdirty), ptep_set_access_flags",
                )
            }
            WP_SHARED_GET => {
                let p = need(m, t, OLD);
                m.page_get(p);
                m.goto(t, WP_SHARED_REUSE);
                Step::Ran("wp_page_shared: folio_get; no ->page_mkwrite (shmem)")
            }
            WP_SHARED_REUSE => {
                let table = need(m, t, TABLE);
                let mut entry = A::pte_mkdirty(A::pte_mkyoung(orig));
                if m.prot().writable() {
                    entry = A::pte_mkwrite(entry);
                }
                m.pte_set(table, slot, entry);
                m.goto(t, WP_SHARED_UNLOCK);
                Step::Ran(
                    "wp_page_shared: wp_page_reuse: pte_mkyoung, maybe_mkwrite(pte_mkdirty), \
                     ptep_set_access_flags",
                )
            }
            WP_SHARED_UNLOCK => {
                let table = need(m, t, TABLE);
                m.ptl_unlock(table, t);
                m.goto(t, WP_SHARED_LOCK);
                Step::Ran("wp_page_reuse: pte_unmap_unlock")
            }
            WP_SHARED_LOCK => {
                let p = need(m, t, OLD);
                if !m.page_lock(p, t) {
                    return Step::Blocked(Wait::PageLock(p));
                }
                m.goto(t, WP_SHARED_DIRTY);
                Step::Ran("wp_page_shared: folio_lock")
            }
            WP_SHARED_DIRTY => {
                let p = need(m, t, OLD);
                m.page_unlock(p, t);
                m.goto(t, WP_SHARED_PUT);
                Step::Ran("fault_dirty_shared_page: folio_mark_dirty, folio_unlock")
            }
            WP_SHARED_PUT => {
                let p = need(m, t, OLD);
                m.page_put(p);
                m.goto(t, RETURN);
                Step::Ran("wp_page_shared: folio_put")
            }
            WP_COPY_GET => {
                if let Some(p) = obj(m, t, OLD) {
                    m.page_get(p);
                }
                let table = need(m, t, TABLE);
                m.ptl_unlock(table, t);
                m.goto(t, WP_COPY_ALLOC);
                Step::Ran("do_wp_page: folio_get, pte_unmap_unlock, wp_page_copy")
            }
            WP_COPY_ALLOC => {
                let Some(page) = m.page_alloc(false) else {
                    m.flag(InvariantId::MODEL, "page arena full");
                    m.goto(t, WP_COPY_PUT);
                    return Step::Ran("wp_page_copy: allocation failed");
                };
                set_obj(m, t, PAGE, Some(page));
                m.goto(t, WP_COPY_MAP);
                Step::Ran(if obj(m, t, OLD).is_some() {
                    "wp_page_copy: folio_prealloc, __wp_page_copy_user"
                } else {
                    "wp_page_copy: folio_prealloc (zeroed)"
                })
            }
            WP_COPY_MAP..=WP_COPY_RETRY_UNLOCK => WP_COPY_MAP_LOCK.step::<A, FaultRegs>(m, t, r),
            WP_COPY_SAME => {
                let table = need(m, t, TABLE);
                if m.pte_get(table, slot) == orig {
                    m.goto(t, WP_COPY_CLEAR);
                    return Step::Ran("wp_page_copy: pte_same(ptep_get, orig_pte)");
                }
                m.goto(t, WP_COPY_UNLOCK);
                Step::Ran("wp_page_copy: !pte_same, update_mmu_tlb")
            }
            WP_COPY_CLEAR => {
                let table = need(m, t, TABLE);
                m.pte_set(table, slot, empty);
                m.tlb_flush_region(r);
                m.goto(t, WP_COPY_SET);
                Step::Ran("wp_page_copy: ptep_clear_flush")
            }
            WP_COPY_SET => {
                let table = need(m, t, TABLE);
                let page = need(m, t, PAGE);
                let prot = m.prot();
                let pfn = Machine::<A>::page_pfn(page);
                // :3411-3420: an unshare maps the copy without write access.
                let pte = if unshare(m, t) {
                    mk_pte_private(m, pfn, prot)
                } else {
                    anon_pte(m, pfn, prot)
                };
                m.page_map(page, r, 1);
                m.page_set_anon_exclusive(page, true);
                m.pte_set(table, slot, pte);
                if let Some(old) = obj(m, t, OLD) {
                    m.page_map(old, r, -1);
                }
                // new_folio = old_folio: the put below drops the old pte's reference.
                let old = obj(m, t, OLD);
                set_obj(m, t, PAGE, old);
                m.goto(t, WP_COPY_UNLOCK);
                Step::Ran(
                    "wp_page_copy: folio_add_new_anon_rmap(RMAP_EXCLUSIVE), set_pte_at, \
                     folio_remove_rmap_pte(old)",
                )
            }
            WP_COPY_UNLOCK => {
                let table = need(m, t, TABLE);
                m.ptl_unlock(table, t);
                m.goto(t, WP_COPY_PUT);
                Step::Ran("wp_page_copy: pte_unmap_unlock")
            }
            _ => {
                if let Some(p) = obj(m, t, PAGE) {
                    m.page_put(p);
                    set_obj(m, t, PAGE, None);
                }
                if let Some(p) = obj(m, t, OLD) {
                    m.page_put(p);
                }
                m.goto(t, RETURN);
                Step::Ran("wp_page_copy: folio_put(new_folio), folio_put(old_folio)")
            }
        }
    }
}
