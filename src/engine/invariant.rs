//! Invariants: state predicates and trace monitors, each with a stable id (`INV-...`) that
//! tests and reports cite. They are checked after every step.
//!
//! An invariant is a value, an [`Invariant`]: its id and one sentence. The crate's own are
//! `static`s in [`builtin`], a user crate declares its own the same way, and a scenario
//! pairs either with a state predicate ([`Declared`]); the built-in state predicates are
//! [`Declared`] values too ([`builtin_checks`]).

use core::cmp::Ordering;
use core::fmt;
use core::hash::{Hash, Hasher};
use std::vec::Vec;

use crate::entry::PmdOps;

use super::mm::{Flagged, HELD_SLOTS, MAX_THREADS, Machine, SLOTS};

/// The rank of an invariant declared outside the crate: after every built-in one.
const DECLARED: u32 = u32::MAX;

/// An invariant: a stable id (`INV-...`) and the property as one sentence. Declare one as a
/// `static` with [`Invariant::new`] and give the scenario a reference
/// ([`ScenarioBuilder::invariant`](super::ScenarioBuilder::invariant) for one the programs
/// raise with [`Machine::flag`], [`ScenarioBuilder::state_invariant`](super::ScenarioBuilder::state_invariant)
/// for a predicate over every state). Traces, reports and replay cite its id; the crate's
/// own invariants ([`builtin`]) are values of this same type.
#[derive(Debug)]
pub struct Invariant {
    /// The stable id, `INV-...`.
    pub id: &'static str,
    /// The property as one sentence.
    pub statement: &'static str,
    /// A built-in's position (its bit in an [`InvariantSet`]); [`DECLARED`] otherwise.
    rank: u32,
}

impl Invariant {
    /// An invariant with stable id `id` (`INV-` and a name) and the property as one
    /// sentence. The id is checked when a scenario declares it.
    pub const fn new(id: &'static str, statement: &'static str) -> Self {
        Self {
            id,
            statement,
            rank: DECLARED,
        }
    }
    const fn builtin(rank: u32, id: &'static str, statement: &'static str) -> Self {
        Self {
            id,
            statement,
            rank,
        }
    }
    /// Returns its [`InvariantId`], for [`Machine::flag`] and for comparing verdicts.
    pub const fn id(&'static self) -> InvariantId {
        InvariantId(self)
    }
}

/// A reference to an [`Invariant`]: what a step raises, a verdict cites and a report
/// prints. Two ids are equal when their `INV-...` ids are (a scenario never declares one
/// twice). Built-in ones order first, in declaration order, then declared ones by id.
#[derive(Clone, Copy)]
pub struct InvariantId(&'static Invariant);

impl PartialEq for InvariantId {
    fn eq(&self, other: &Self) -> bool {
        core::ptr::eq(self.0, other.0) || (self.0.rank == other.0.rank && self.0.id == other.0.id)
    }
}
impl Eq for InvariantId {}
impl Hash for InvariantId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.id.hash(state);
    }
}
impl Ord for InvariantId {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.0.rank, self.0.id).cmp(&(other.0.rank, other.0.id))
    }
}
impl PartialOrd for InvariantId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl fmt::Debug for InvariantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.id)
    }
}

macro_rules! invariants {
    ($($rank:literal $konst:ident => $id:literal, $statement:literal;)*) => {
        /// The crate's own invariants, as [`Invariant`] values like any user crate's.
        pub mod builtin {
            use super::Invariant;
            $(#[doc = $statement]
            pub static $konst: Invariant = Invariant::builtin($rank, $id, $statement);)*
        }

        impl InvariantId {
            $(#[doc = $statement]
            pub const $konst: InvariantId = InvariantId(&builtin::$konst);)*
            /// Every built-in invariant, in rank order.
            pub const ALL: &'static [InvariantId] = &[$(InvariantId::$konst,)*];
        }
    };
}

invariants! {
    0 TABLE_LIFE => "INV-TABLE-LIFE", "A page-table page is never accessed after it is freed.";
    1 NEVER_NONE => "INV-002-NEVERNONE", "While a region maps an anonymous page, its pmd never reads as pmd_none (v6.12 keeps a splitting anonymous THP's pmd huge until populate, mm/huge_memory.c:2813; it clears the huge zero page's pmd first, :2686, and a file THP's for good, :2739).";
    2 DONTNEED => "INV-002-DONTNEED", "Once MADV_DONTNEED returns, no address in its range translates (tables or any TLB) to a page mapped there before.";
    3 DECODE => "INV-002-DECODE", "A lockless reader that keeps a present entry's page gets a page mapped at that address.";
    4 VALIDATE => "INV-000-VALIDATE", "A fault installs its pte exactly when the slot still holds what the fault saw: the entry it read from that table, or, when it read none, an empty one (pte_none), never a constant (s390, nios2, xtensa and um do not use zero for an empty pte).";
    5 DEPOSIT => "INV-DEPOSIT", "Every huge pmd has its deposited table, and each deposit is withdrawn once.";
    6 TLB_SMALL_HUGE => "INV-TLB-SMALL-HUGE", "No CPU caches a huge and a small translation for one address at once (AMD erratum 383).";
    7 DEADLOCK => "INV-NO-DEADLOCK", "Some thread can always run until every thread has finished.";
    8 LOCK_BALANCE => "INV-LOCK-BALANCE", "A thread releases only locks it holds.";
    9 ZAP_FOLIO => "INV-ZAP-FOLIO", "zap_huge_pmd finds the folio of every huge pmd it clears: a non-present huge pmd that is no migration entry has none, and v6.12 dereferences the NULL (mm/huge_memory.c:2142).";
    10 ZERO_FOLIO => "INV-ZERO-FOLIO", "Only the huge-zero-page paths handle the huge zero folio: no split takes it for an anonymous THP, adding HPAGE_PMD_NR - 1 references and an anonymous rmap that the zap of its ptes then drops, one reference too many (mm/huge_memory.c:2857-2861).";
    11 MODEL => "INV-MODEL", "The model's own preconditions hold (no arena overflow, no helper error).";
    12 FOOTPRINT => "INV-FOOTPRINT", "Every location a step changes is declared in its footprint (the footprint auditor), so partial-order reduction never trusts a footprint that misses a write.";
    13 PIN_EXCLUSIVE => "INV-PIN-EXCLUSIVE", "An anonymous page GUP has handed a FOLL_PIN to its caller for is PageAnonExclusive while the pin is held: GUP pins only exclusive anonymous pages and nothing clears the flag of a pinned one (include/linux/rmap.h:536-576, mm/internal.h:1373), so a write fault never replaces the page under the pin.";
}

impl InvariantId {
    /// Returns the stable id.
    pub const fn id(self) -> &'static str {
        self.0.id
    }
    /// Returns the invariant as one sentence.
    pub const fn statement(self) -> &'static str {
        self.0.statement
    }
    /// Returns the invariant itself.
    pub const fn invariant(self) -> &'static Invariant {
        self.0
    }
    /// Returns whether it is one of the crate's own ([`builtin`]).
    pub const fn is_builtin(self) -> bool {
        self.0.rank != DECLARED
    }
    /// Returns the bit of a built-in invariant in an [`InvariantSet`]; 0 for a declared
    /// one (a scenario checks the invariants it declares, whatever the set).
    pub const fn bit(self) -> u32 {
        if self.0.rank < u32::BITS {
            1 << self.0.rank
        } else {
            0
        }
    }
}

/// A state predicate: `Some(phrase)` when the state breaks the invariant.
pub type StateCheck<A> = fn(&Machine<A>) -> Option<&'static str>;

/// An invariant as a scenario checks it: raised by its programs ([`Machine::flag`]), or a
/// predicate over every state reached. A scenario's own invariants and the crate's built-in
/// state invariants ([`builtin_checks`]) are both values of this type.
pub struct Declared<A: PmdOps> {
    /// The invariant.
    pub invariant: &'static Invariant,
    /// The state predicate, if it is one.
    pub check: Option<StateCheck<A>>,
}

impl<A: PmdOps> Clone for Declared<A> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<A: PmdOps> Copy for Declared<A> {}
impl<A: PmdOps> fmt::Debug for Declared<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Declared")
            .field("invariant", &self.invariant.id)
            .field("state_predicate", &self.check.is_some())
            .finish()
    }
}

impl<A: PmdOps> Declared<A> {
    /// Returns the invariant's id.
    pub const fn id(&self) -> InvariantId {
        InvariantId(self.invariant)
    }
}

/// The built-in state invariants, as predicates like a scenario's own: INV-002-NEVERNONE,
/// INV-002-DONTNEED, INV-TLB-SMALL-HUGE and INV-PIN-EXCLUSIVE (the other built-in ones are
/// raised by the steps that break them). An [`InvariantSet`] chooses which of them a
/// scenario checks.
pub const fn builtin_checks<A: PmdOps>() -> [Declared<A>; 4] {
    [
        Declared {
            invariant: &builtin::NEVER_NONE,
            check: Some(never_none::<A>),
        },
        Declared {
            invariant: &builtin::DONTNEED,
            check: Some(dontneed::<A>),
        },
        Declared {
            invariant: &builtin::TLB_SMALL_HUGE,
            check: Some(tlb_small_huge::<A>),
        },
        Declared {
            invariant: &builtin::PIN_EXCLUSIVE,
            check: Some(pin_exclusive::<A>),
        },
    ]
}

/// Returns whether a raised `id` counts: in `set`, always checked, or declared.
fn counts<A: PmdOps>(id: InvariantId, set: InvariantSet, declared: &[Declared<A>]) -> bool {
    if id.is_builtin() {
        set.contains(id) || ALWAYS.contains(id)
    } else {
        declared.iter().any(|k| k.id() == id)
    }
}

/// Runs the state predicates of `declared`; returns the first broken one.
fn check_declared<A: PmdOps>(
    m: &Machine<A>,
    declared: &[Declared<A>],
) -> Option<(InvariantId, &'static str)> {
    declared.iter().find_map(|k| {
        let check = k.check?;
        check(m).map(|what| (k.id(), what))
    })
}

impl fmt::Display for InvariantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.id())
    }
}

/// A set of built-in invariants to check. Its `Default` is the empty set (a start for
/// [`with`](Self::with)); a [`ScenarioBuilder`](super::ScenarioBuilder) starts from
/// [`all`](Self::all).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct InvariantSet(pub u32);

impl InvariantSet {
    /// Every invariant.
    pub const fn all() -> Self {
        Self(u32::MAX)
    }
    /// No built-in invariant beyond [`ALWAYS`], which every search checks anyway: for a
    /// scenario that checks only the invariants it declares. A deadlock
    /// ([`InvariantId::DEADLOCK`]) is the search's own verdict and is reported whatever the set.
    pub const fn none() -> Self {
        Self(0)
    }
    /// Returns the set with `id` added.
    pub const fn with(self, id: InvariantId) -> Self {
        Self(self.0 | id.bit())
    }
    /// Returns whether `id` is in the set.
    pub const fn contains(self, id: InvariantId) -> bool {
        self.0 & id.bit() != 0
    }
    /// Returns the ids in the set.
    pub fn ids(self) -> impl Iterator<Item = InvariantId> {
        InvariantId::ALL
            .iter()
            .copied()
            .filter(move |i| self.contains(*i))
    }
}

/// Invariants checked whatever the scenario asks: a broken model or footprint makes every
/// other answer meaningless.
pub const ALWAYS: InvariantSet =
    InvariantSet(InvariantId::MODEL.bit() | InvariantId::FOOTPRINT.bit());

/// Checks one step: the violations its accessors raised (in order; those in `set` or
/// [`ALWAYS`]), then the state predicates in `set` on the state it reached. Every search and
/// replay call this on every step they run, so a violation belongs to the step, never to a
/// state that a later path may reach without raising it.
pub fn check_step<A: PmdOps>(
    m: &Machine<A>,
    raised: &[Flagged],
    set: InvariantSet,
) -> Option<(InvariantId, &'static str)> {
    check_step_with(m, raised, set, &[])
}

/// [`check_step`] with a scenario's declared invariants: raised ones count when declared,
/// and their state predicates run after the built-in ones.
pub fn check_step_with<A: PmdOps>(
    m: &Machine<A>,
    raised: &[Flagged],
    set: InvariantSet,
    declared: &[Declared<A>],
) -> Option<(InvariantId, &'static str)> {
    raised
        .iter()
        .find(|f| counts(f.id, set, declared))
        .map(|f| (f.id, f.what))
        .or_else(|| check(m, set))
        .or_else(|| check_declared(m, declared))
}

/// [`check_step_with`] as the explorer runs it on the state a step of `writes` reached: a
/// built-in predicate that held on the state stepped from and read nothing the step wrote
/// is not judged again ([`Machine::held_still`]). With `audit` (the footprint auditor's
/// option) every predicate is judged all the same, and one that breaks where the cache said
/// it held is INV-FOOTPRINT: a predicate read a location the accessors did not record.
pub(crate) fn check_step_cached<A: PmdOps>(
    m: &mut Machine<A>,
    raised: &[Flagged],
    set: InvariantSet,
    declared: &[Declared<A>],
    writes: u64,
    audit: bool,
) -> Option<(InvariantId, &'static str)> {
    if let Some(f) = raised.iter().find(|f| counts(f.id, set, declared)) {
        m.held_forget_from(0);
        return Some((f.id, f.what));
    }
    // One cache slot per built-in predicate: a new one must widen the cache to compile.
    let builtins: [Declared<A>; HELD_SLOTS] = builtin_checks::<A>();
    for (i, k) in builtins.into_iter().enumerate() {
        let id = k.id();
        // A predicate outside the set keeps no cached verdict: the set is the scenario's,
        // the same on every state, so a stale bit is never consulted.
        let Some(check) = k.check.filter(|_| set.contains(id)) else {
            continue;
        };
        if m.held_still(i, writes) {
            if audit && m.held_after(i, check).is_some() {
                m.held_forget_from(0);
                return Some((
                    InvariantId::FOOTPRINT,
                    "a state invariant broke although the step wrote nothing it had read",
                ));
            }
            continue;
        }
        if let Some(what) = m.held_after(i, check) {
            m.held_forget_from(i + 1);
            return Some((id, what));
        }
    }
    check_declared(m, declared)
}

/// Calls `found` for every invariant one step breaks (see [`check_step`]), each once.
pub fn each_violation<A: PmdOps>(
    m: &Machine<A>,
    raised: &[Flagged],
    set: InvariantSet,
    found: impl FnMut(InvariantId, &'static str),
) {
    each_violation_with(m, raised, set, &[], found);
}

/// [`each_violation`] with a scenario's declared invariants.
pub fn each_violation_with<A: PmdOps>(
    m: &Machine<A>,
    raised: &[Flagged],
    set: InvariantSet,
    declared: &[Declared<A>],
    mut found: impl FnMut(InvariantId, &'static str),
) {
    let mut seen: Vec<InvariantId> = Vec::new();
    for f in raised {
        if counts(f.id, set, declared) && !seen.contains(&f.id) {
            seen.push(f.id);
            found(f.id, f.what);
        }
    }
    for k in declared {
        if seen.contains(&k.id()) {
            continue;
        }
        if let Some(what) = k.check.and_then(|check| check(m)) {
            found(k.id(), what);
        }
    }
    for k in builtin_checks::<A>() {
        if !set.contains(k.id()) || seen.contains(&k.id()) {
            continue;
        }
        if let Some(what) = k.check.and_then(|check| check(m)) {
            found(k.id(), what);
        }
    }
}

/// Checks the built-in state predicates in `set` ([`builtin_checks`], in its order); returns
/// the first broken one with a phrase. Called on every step, so it calls the predicates
/// directly rather than through the table's function pointers.
pub fn check<A: PmdOps>(m: &Machine<A>, set: InvariantSet) -> Option<(InvariantId, &'static str)> {
    let run = |id: InvariantId, check: StateCheck<A>| {
        if set.contains(id) {
            check(m).map(|what| (id, what))
        } else {
            None
        }
    };
    run(InvariantId::NEVER_NONE, never_none::<A>)
        .or_else(|| run(InvariantId::DONTNEED, dontneed::<A>))
        .or_else(|| run(InvariantId::TLB_SMALL_HUGE, tlb_small_huge::<A>))
        .or_else(|| run(InvariantId::PIN_EXCLUSIVE, pin_exclusive::<A>))
}

/// INV-002-NEVERNONE over every region.
fn never_none<A: PmdOps>(m: &Machine<A>) -> Option<&'static str> {
    (0..m.npmds())
        .any(|r| {
            A::pmd_none(m.peek_pmd(r))
                && m.allocated_pages()
                    .any(|(_, p)| p.mapcount > 0 && !p.file && p.maps_in(r) > 0)
        })
        .then_some("the pmd reads as none while the region maps pages")
}

/// INV-002-DONTNEED over every region MADV_DONTNEED has returned for.
fn dontneed<A: PmdOps>(m: &Machine<A>) -> Option<&'static str> {
    let old = |pfn: u64| {
        m.page_of_pfn(pfn)
            .is_some_and(|p| m.dontneed_pages() & (1 << p) != 0)
    };
    for r in (0..m.npmds()).filter(|r| m.dontneed_done() & (1 << r) != 0) {
        if (0..SLOTS).any(|slot| m.translate(r, slot).is_some_and(old)) {
            return Some("MADV_DONTNEED returned but the page tables still map an old page");
        }
        for cpu in 0..MAX_THREADS as u8 {
            let mut cached = core::iter::once(None)
                .chain((0..SLOTS).map(Some))
                .filter_map(|slot| m.tlb_entry(cpu, r, slot));
            if cached.any(old) {
                return Some("MADV_DONTNEED returned but a TLB still maps an old page");
            }
        }
    }
    None
}

/// INV-TLB-SMALL-HUGE over every region and CPU.
fn tlb_small_huge<A: PmdOps>(m: &Machine<A>) -> Option<&'static str> {
    (0..m.npmds())
        .any(|r| {
            (0..MAX_THREADS as u8).any(|cpu| {
                m.tlb_entry(cpu, r, None).is_some()
                    && (0..SLOTS).any(|s| m.tlb_entry(cpu, r, Some(s)).is_some())
            })
        })
        .then_some("a CPU caches a huge and a small translation for one address")
}

/// INV-PIN-EXCLUSIVE over every page.
fn pin_exclusive<A: PmdOps>(m: &Machine<A>) -> Option<&'static str> {
    m.allocated_pages()
        .any(|(_, p)| p.pins_kept > 0 && !p.file && !p.anon_exclusive)
        .then_some("an anonymous page pinned for its caller is not PageAnonExclusive")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::X86_64;

    /// [`check`] calls the predicates directly: it must run exactly [`builtin_checks`].
    #[test]
    fn check_runs_the_builtin_checks_table() {
        let ids: Vec<InvariantId> = builtin_checks::<X86_64>().iter().map(|k| k.id()).collect();
        assert_eq!(
            ids,
            [
                InvariantId::NEVER_NONE,
                InvariantId::DONTNEED,
                InvariantId::TLB_SMALL_HUGE,
                InvariantId::PIN_EXCLUSIVE
            ]
        );
        assert!(builtin_checks::<X86_64>().iter().all(|k| k.check.is_some()));
    }

    #[test]
    fn ids_order_builtins_first_and_compare_by_id() {
        static MINE: Invariant = Invariant::new("INV-MINE", "Mine.");
        static SAME: Invariant = Invariant::new("INV-MINE", "Mine, declared twice.");
        assert!(InvariantId::TABLE_LIFE < InvariantId::FOOTPRINT);
        assert!(InvariantId::FOOTPRINT < MINE.id());
        assert_eq!(MINE.id(), SAME.id());
        assert!(!MINE.id().is_builtin() && InvariantId::MODEL.is_builtin());
        assert_eq!(MINE.id().bit(), 0);
        assert_eq!(InvariantId::ALL.len(), 14);
    }
}
