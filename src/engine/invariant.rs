//! Invariants: state predicates and trace monitors, each with a stable id (`INV-...`) that
//! tests and reports cite. They are checked after every step.

use core::fmt;

use crate::entry::PmdOps;

use super::mm::{Flagged, MAX_THREADS, Machine, SLOTS};

macro_rules! invariants {
    ($($variant:ident => $id:literal, $statement:literal;)*) => {
        /// An invariant's stable id.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum InvariantId {
            $(#[doc = $statement] $variant,)*
        }

        impl InvariantId {
            /// Every invariant.
            pub const ALL: &'static [InvariantId] = &[$(InvariantId::$variant,)*];
            /// Returns the stable id.
            pub const fn id(self) -> &'static str {
                match self { $(InvariantId::$variant => $id,)* }
            }
            /// Returns the invariant as one sentence.
            pub const fn statement(self) -> &'static str {
                match self { $(InvariantId::$variant => $statement,)* }
            }
            /// Returns the bit of this invariant in an [`InvariantSet`].
            pub const fn bit(self) -> u32 {
                1 << (self as u32)
            }
        }
    };
}

invariants! {
    TableLife => "INV-TABLE-LIFE", "A page-table page is never accessed after it is freed.";
    NeverNone => "INV-002-NEVERNONE", "While a region maps any page, its pmd never reads as pmd_none.";
    DontNeed => "INV-002-DONTNEED", "Once MADV_DONTNEED returns, no address in its range translates (tables or any TLB) to a page mapped there before.";
    Decode => "INV-002-DECODE", "A lockless reader that keeps a present entry's page gets a page mapped at that address.";
    Deposit => "INV-DEPOSIT", "Every huge pmd has its deposited table, and each deposit is withdrawn once.";
    TlbSmallHuge => "INV-TLB-SMALL-HUGE", "No CPU caches a huge and a small translation for one address at once (AMD erratum 383).";
    Deadlock => "INV-NO-DEADLOCK", "Some thread can always run until every thread has finished.";
    LockBalance => "INV-LOCK-BALANCE", "A thread releases only locks it holds.";
    ZapFolio => "INV-ZAP-FOLIO", "zap_huge_pmd finds the folio of every huge pmd it clears: a non-present huge pmd that is no migration entry has none, and v6.12 dereferences the NULL (mm/huge_memory.c:2142).";
    Model => "INV-MODEL", "The model's own preconditions hold (no arena overflow, no helper error).";
    Footprint => "INV-FOOTPRINT", "Every location a step changes is declared in its footprint (the footprint auditor), so partial-order reduction never trusts a footprint that misses a write.";
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
    raised
        .iter()
        .find(|f| set.contains(f.id) || ALWAYS.contains(f.id))
        .map(|f| (f.id, f.what))
        .or_else(|| check(m, set))
}

/// Calls `found` for every invariant one step breaks (see [`check_step`]), each once.
pub fn each_violation<A: PmdOps>(
    m: &Machine<A>,
    raised: &[Flagged],
    set: InvariantSet,
    mut found: impl FnMut(InvariantId, &'static str),
) {
    let mut seen = InvariantSet::default();
    for f in raised {
        if (set.contains(f.id) || ALWAYS.contains(f.id)) && !seen.contains(f.id) {
            seen = seen.with(f.id);
            found(f.id, f.what);
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
                .any(|(_, p)| p.mapcount > 0 && p.region == r);
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
