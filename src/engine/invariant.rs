//! Invariants: state predicates and trace monitors, each with a stable id (`INV-...`) that
//! tests and reports cite. They are checked after every step.

use core::fmt;
use std::vec::Vec;

use crate::entry::PmdOps;

use super::mm::{Flagged, MAX_THREADS, Machine, SLOTS};

macro_rules! invariants {
    ($($variant:ident => $id:literal, $statement:literal;)*) => {
        /// An invariant's stable id: one of the crate's, or one a scenario declares
        /// ([`InvariantId::Custom`]).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum InvariantId {
            $(#[doc = $statement] $variant,)*
            /// An invariant declared outside the crate (see [`CustomInvariant`]).
            Custom(&'static CustomInvariant),
        }

        /// The built-in invariants' bit positions in an [`InvariantSet`].
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        enum BuiltinBit { $($variant,)* }

        impl InvariantId {
            /// Every built-in invariant.
            pub const ALL: &'static [InvariantId] = &[$(InvariantId::$variant,)*];
            /// Returns the stable id.
            pub const fn id(self) -> &'static str {
                match self { $(InvariantId::$variant => $id,)* InvariantId::Custom(c) => c.id }
            }
            /// Returns the invariant as one sentence.
            pub const fn statement(self) -> &'static str {
                match self {
                    $(InvariantId::$variant => $statement,)*
                    InvariantId::Custom(c) => c.statement,
                }
            }
            /// Returns the bit of a built-in invariant in an [`InvariantSet`]; 0 for a custom
            /// one (a scenario checks the custom invariants it declares, whatever the set).
            pub const fn bit(self) -> u32 {
                match self {
                    $(InvariantId::$variant => 1 << (BuiltinBit::$variant as u32),)*
                    InvariantId::Custom(_) => 0,
                }
            }
        }
    };
}

invariants! {
    TableLife => "INV-TABLE-LIFE", "A page-table page is never accessed after it is freed.";
    NeverNone => "INV-002-NEVERNONE", "While a region maps an anonymous page, its pmd never reads as pmd_none (v6.12 keeps a splitting anonymous THP's pmd huge until populate, mm/huge_memory.c:2813; it clears the huge zero page's pmd first, :2686, and a file THP's for good, :2739).";
    DontNeed => "INV-002-DONTNEED", "Once MADV_DONTNEED returns, no address in its range translates (tables or any TLB) to a page mapped there before.";
    Decode => "INV-002-DECODE", "A lockless reader that keeps a present entry's page gets a page mapped at that address.";
    Validate => "INV-000-VALIDATE", "A fault installs its pte exactly when the slot still holds what the fault saw: the entry it read from that table, or, when it read none, an empty one (pte_none), never a constant (s390, nios2, xtensa and um do not use zero for an empty pte).";
    Deposit => "INV-DEPOSIT", "Every huge pmd has its deposited table, and each deposit is withdrawn once.";
    TlbSmallHuge => "INV-TLB-SMALL-HUGE", "No CPU caches a huge and a small translation for one address at once (AMD erratum 383).";
    Deadlock => "INV-NO-DEADLOCK", "Some thread can always run until every thread has finished.";
    LockBalance => "INV-LOCK-BALANCE", "A thread releases only locks it holds.";
    ZapFolio => "INV-ZAP-FOLIO", "zap_huge_pmd finds the folio of every huge pmd it clears: a non-present huge pmd that is no migration entry has none, and v6.12 dereferences the NULL (mm/huge_memory.c:2142).";
    ZeroFolio => "INV-ZERO-FOLIO", "Only the huge-zero-page paths handle the huge zero folio: no split takes it for an anonymous THP, adding HPAGE_PMD_NR - 1 references and an anonymous rmap that the zap of its ptes then drops, one reference too many (mm/huge_memory.c:2857-2861).";
    Model => "INV-MODEL", "The model's own preconditions hold (no arena overflow, no helper error).";
    Footprint => "INV-FOOTPRINT", "Every location a step changes is declared in its footprint (the footprint auditor), so partial-order reduction never trusts a footprint that misses a write.";
}

/// An invariant declared outside the crate: a stable id (`INV-...`) and one sentence. Declare
/// it as a `static` and give the scenario a reference
/// ([`ScenarioBuilder::invariant`](super::ScenarioBuilder::invariant) for one the programs
/// raise with [`Machine::flag`], [`ScenarioBuilder::state_invariant`](super::ScenarioBuilder::state_invariant)
/// for a predicate over every state). Traces, reports and replay cite its id like a built-in
/// one's.
#[derive(Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CustomInvariant {
    /// The stable id, `INV-...`.
    pub id: &'static str,
    /// The invariant as one sentence.
    pub statement: &'static str,
}

impl CustomInvariant {
    /// Returns its [`InvariantId`], for [`Machine::flag`] and for comparing verdicts.
    pub const fn id(&'static self) -> InvariantId {
        InvariantId::Custom(self)
    }
}

/// A state predicate: `Some(phrase)` when the state breaks the invariant.
pub type StateCheck<A> = fn(&Machine<A>) -> Option<&'static str>;

/// A custom invariant a scenario checks: raised by its programs, or a predicate over every
/// state reached.
pub struct Custom<A: PmdOps> {
    /// The invariant.
    pub invariant: &'static CustomInvariant,
    /// The state predicate, if it is one.
    pub check: Option<StateCheck<A>>,
}

impl<A: PmdOps> Clone for Custom<A> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<A: PmdOps> Copy for Custom<A> {}
impl<A: PmdOps> fmt::Debug for Custom<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Custom")
            .field("invariant", &self.invariant.id)
            .field("state_predicate", &self.check.is_some())
            .finish()
    }
}

/// Returns whether a raised `id` counts: in `set`, always checked, or a declared custom one.
fn counts<A: PmdOps>(id: InvariantId, set: InvariantSet, custom: &[Custom<A>]) -> bool {
    match id {
        InvariantId::Custom(c) => custom.iter().any(|k| k.invariant == c),
        _ => set.contains(id) || ALWAYS.contains(id),
    }
}

/// Checks the custom state predicates; returns the first broken one.
fn check_custom<A: PmdOps>(
    m: &Machine<A>,
    custom: &[Custom<A>],
) -> Option<(InvariantId, &'static str)> {
    custom.iter().find_map(|k| {
        let check = k.check?;
        check(m).map(|what| (InvariantId::Custom(k.invariant), what))
    })
}

impl fmt::Display for InvariantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.id())
    }
}

/// A set of invariants to check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct InvariantSet(pub u32);

impl InvariantSet {
    /// Every invariant.
    pub const fn all() -> Self {
        Self(u32::MAX)
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
    InvariantSet(InvariantId::Model.bit() | InvariantId::Footprint.bit());

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

/// [`check_step`] with a scenario's custom invariants: raised ones count when declared, and
/// the state predicates run after the built-in ones.
pub fn check_step_with<A: PmdOps>(
    m: &Machine<A>,
    raised: &[Flagged],
    set: InvariantSet,
    custom: &[Custom<A>],
) -> Option<(InvariantId, &'static str)> {
    raised
        .iter()
        .find(|f| counts(f.id, set, custom))
        .map(|f| (f.id, f.what))
        .or_else(|| check(m, set))
        .or_else(|| check_custom(m, custom))
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

/// [`each_violation`] with a scenario's custom invariants.
pub fn each_violation_with<A: PmdOps>(
    m: &Machine<A>,
    raised: &[Flagged],
    set: InvariantSet,
    custom: &[Custom<A>],
    mut found: impl FnMut(InvariantId, &'static str),
) {
    let mut seen = InvariantSet::default();
    let mut seen_custom: Vec<&'static CustomInvariant> = Vec::new();
    for f in raised {
        if !counts(f.id, set, custom) {
            continue;
        }
        if let InvariantId::Custom(c) = f.id {
            if !seen_custom.contains(&c) {
                seen_custom.push(c);
                found(f.id, f.what);
            }
        } else if !seen.contains(f.id) {
            seen = seen.with(f.id);
            found(f.id, f.what);
        }
    }
    for k in custom {
        if seen_custom.contains(&k.invariant) {
            continue;
        }
        if let Some(what) = k.check.and_then(|check| check(m)) {
            found(InvariantId::Custom(k.invariant), what);
        }
    }
    for id in set.ids() {
        if seen.contains(id) {
            continue;
        }
        if let Some((id, what)) = check(m, InvariantSet::default().with(id)) {
            found(id, what);
        }
    }
}

/// Checks the state predicates in `set`; returns the first broken one with a phrase.
pub fn check<A: PmdOps>(m: &Machine<A>, set: InvariantSet) -> Option<(InvariantId, &'static str)> {
    for r in 0..m.npmds() {
        if set.contains(InvariantId::NeverNone) && A::pmd_none(m.peek_pmd(r)) {
            let mapped = m
                .allocated_pages()
                .any(|(_, p)| p.mapcount > 0 && !p.file && p.region == r);
            if mapped {
                return Some((
                    InvariantId::NeverNone,
                    "the pmd reads as none while the region maps pages",
                ));
            }
        }
        if set.contains(InvariantId::DontNeed) && m.dontneed_done() & (1 << r) != 0 {
            let old = |pfn: u64| {
                m.page_of_pfn(pfn)
                    .is_some_and(|p| m.dontneed_pages() & (1 << p) != 0)
            };
            for slot in 0..SLOTS {
                if m.translate(r, slot).is_some_and(old) {
                    return Some((
                        InvariantId::DontNeed,
                        "MADV_DONTNEED returned but the page tables still map an old page",
                    ));
                }
            }
            for cpu in 0..MAX_THREADS as u8 {
                let cached = core::iter::once(None)
                    .chain((0..SLOTS).map(Some))
                    .filter_map(|slot| m.tlb_entry(cpu, r, slot));
                if cached.into_iter().any(old) {
                    return Some((
                        InvariantId::DontNeed,
                        "MADV_DONTNEED returned but a TLB still maps an old page",
                    ));
                }
            }
        }
        if set.contains(InvariantId::TlbSmallHuge) {
            for cpu in 0..MAX_THREADS as u8 {
                let huge = m.tlb_entry(cpu, r, None).is_some();
                if huge && (0..SLOTS).any(|s| m.tlb_entry(cpu, r, Some(s)).is_some()) {
                    return Some((
                        InvariantId::TlbSmallHuge,
                        "a CPU caches a huge and a small translation for one address",
                    ));
                }
            }
        }
    }
    None
}
