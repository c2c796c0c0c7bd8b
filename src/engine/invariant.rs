//! Invariants: state predicates and trace monitors, each with a stable id (`INV-...`) that
//! tests and reports cite. They are checked after every step.

use core::fmt;

use crate::entry::PmdOps;

use super::mm::{Machine, SLOTS, TLB_EMPTY};

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

/// Checks the state predicates in `set`; returns the first broken one with a phrase.
pub fn check<A: PmdOps>(m: &Machine<A>, set: InvariantSet) -> Option<(InvariantId, &'static str)> {
    if let Some(f) = m.flagged {
        if set.contains(f.id) || f.id == InvariantId::Model {
            return Some((f.id, f.what));
        }
    }
    for r in 0..m.npmds {
        let ri = usize::from(r);
        if set.contains(InvariantId::NeverNone) && A::pmd_none(m.pmd[ri]) {
            let mapped = m
                .pages
                .iter()
                .any(|p| p.allocated && p.mapcount > 0 && p.region == r);
            if mapped {
                return Some((
                    InvariantId::NeverNone,
                    "the pmd reads as none while the region maps pages",
                ));
            }
        }
        if set.contains(InvariantId::DontNeed) && m.dontneed_done & (1 << r) != 0 {
            let old = |pfn: u64| {
                m.page_of_pfn(pfn)
                    .is_some_and(|p| m.dontneed_pages & (1 << p) != 0)
            };
            for slot in 0..SLOTS {
                if m.translate(r, slot).is_some_and(old) {
                    return Some((
                        InvariantId::DontNeed,
                        "MADV_DONTNEED returned but the page tables still map an old page",
                    ));
                }
            }
            for cpu in &m.tlb {
                if cpu[ri].iter().any(|&pfn| pfn != TLB_EMPTY && old(pfn)) {
                    return Some((
                        InvariantId::DontNeed,
                        "MADV_DONTNEED returned but a TLB still maps an old page",
                    ));
                }
            }
        }
        if set.contains(InvariantId::TlbSmallHuge) {
            for cpu in &m.tlb {
                let e = &cpu[ri];
                if e[0] != TLB_EMPTY && e[1..].iter().any(|&pfn| pfn != TLB_EMPTY) {
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
