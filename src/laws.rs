//! The laws every backend must pass, each with a stable id, checked by one function.
//!
//! [`check`] runs every law over one backend and returns a [`LawReport`]. Tests assert on it
//! per backend; `pgtable audit` prints it. Where Linux itself departs from the generic
//! contract (32-bit ARM LPAE's `pmd_present` after `pmdp_invalidate`, say), the backend lists
//! the law in [`PmdOps::LAW_DEVIATIONS`] with a citation, and a failure is reported as a
//! documented [`Verdict::Deviation`]; a listed deviation that no longer fails is a violation
//! too, so the list cannot go stale.

use core::fmt;

use crate::arch_id::ArchId;
use crate::entry::{EntryWord, PmdOps, Protection, Pte, PteOps, SwpEntry};
use crate::error::Error;

macro_rules! laws {
    ($($variant:ident => $id:literal, $statement:literal;)*) => {
        /// A law's stable id.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum LawId {
            $(#[doc = $statement] $variant,)*
        }

        impl LawId {
            /// Every law, in report order.
            pub const ALL: [LawId; [$($id,)*].len()] = [$(LawId::$variant,)*];

            /// Returns the stable id (`LAW-...`).
            pub const fn id(self) -> &'static str {
                match self { $(LawId::$variant => $id,)* }
            }

            /// Returns the law as one sentence.
            pub const fn statement(self) -> &'static str {
                match self { $(LawId::$variant => $statement,)* }
            }
        }
    };
}

laws! {
    EmptyPte => "LAW-EMPTY-PTE", "The value pte_clear stores (at every address) is pte_none and not pte_present.";
    EmptyPmd => "LAW-EMPTY-PMD", "The value pmd_clear stores is pmd_none and not pmd_present.";
    PtePfn => "LAW-PTE-PFN", "pte_pfn(pfn_pte(pfn, prot)) == pfn, and the result is present and not none, for every protection.";
    PteFlags => "LAW-PTE-FLAGS", "mkwrite/wrprotect, mkdirty/mkclean, mkyoung/mkold and mkspecial set exactly the state their test reads, keeping pfn and presence.";
    PteUnknownBits => "LAW-PTE-UNKNOWN-BITS", "No pte flag helper changes a bit outside the backend's named flags and pfn field (every flag subset).";
    Swap => "LAW-SWAP", "Swap entries round-trip through a pte and the pte is neither none nor present (offsets >= 1).";
    PmdTable => "LAW-PMD-TABLE", "pmd_populate gives a pmd that is present, not none, not bad, not a leaf, not trans_huge, and points at the table.";
    HugePmd => "LAW-HUGE-PMD", "A huge pmd is present, not none, trans_huge, a leaf, and keeps its pfn, for every protection.";
    InvalidateNotNone => "LAW-INVALIDATE-NOT-NONE", "After pmdp_invalidate a huge pmd is not pmd_none (zap_pmd_range would skip it).";
    InvalidateTransHuge => "LAW-INVALIDATE-TRANS-HUGE", "After pmdp_invalidate a huge pmd is still pmd_trans_huge (lockless walkers take the pmd lock).";
    InvalidatePresent => "LAW-INVALIDATE-PRESENT", "After pmdp_invalidate a huge pmd is still pmd_present (mm/debug_vm_pgtable.c).";
    InvalidateIdempotent => "LAW-INVALIDATE-IDEMPOTENT", "pmdp_invalidate of an invalidated pmd changes nothing.";
    InvalidatePfn => "LAW-INVALIDATE-PFN", "pmdp_invalidate keeps the pfn.";
    InvalidateLeaf => "LAW-INVALIDATE-LEAF", "After pmd_mkinvalid/pmdp_invalidate a huge pmd is still pmd_leaf (v6.12 mm/debug_vm_pgtable.c:964).";
    HwValid => "LAW-HW-VALID", "The architecture's own valid bit is set in a huge pmd of every accessible protection and clear after pmdp_invalidate (the engine's TLB trusts it, not pmdp_invalidate).";
}

impl fmt::Display for LawId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.id())
    }
}

/// A backend's documented departure from a law, as Linux itself has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deviation {
    /// The law the real architecture does not keep.
    pub law: LawId,
    /// Why, with the kernel source that shows it.
    pub note: &'static str,
}

/// The outcome of one law on one backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "cli", derive(serde::Serialize, serde::Deserialize))]
pub enum Verdict {
    /// Every case passed.
    #[cfg_attr(feature = "cli", serde(rename = "holds"))]
    Holds,
    /// A case failed and the backend does not document it, or a documented deviation
    /// did not show.
    #[cfg_attr(feature = "cli", serde(rename = "VIOLATED"))]
    Violated,
    /// A case failed exactly where the backend documents that Linux does so.
    #[cfg_attr(feature = "cli", serde(rename = "deviation"))]
    Deviation,
    /// The law does not apply (no THP, no swap format).
    #[cfg_attr(feature = "cli", serde(rename = "n/a"))]
    NotApplicable,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Verdict {
    /// Returns whether a case failed, documented or not ([`Violated`](Self::Violated) or
    /// [`Deviation`](Self::Deviation)): the verdicts a report explains in a note.
    pub const fn failed_a_case(self) -> bool {
        matches!(self, Verdict::Violated | Verdict::Deviation)
    }

    /// Returns the verdict as reports print it.
    pub const fn name(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::Violated => "VIOLATED",
            Verdict::Deviation => "deviation",
            Verdict::NotApplicable => "n/a",
        }
    }
}

/// The first failing case of a law: what went in and what came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Witness {
    /// The input: a pfn, an address, a raw entry or a swap offset, as `what` says.
    pub input: u64,
    /// The raw entry the helper produced.
    pub output: u64,
    /// What failed.
    pub what: &'static str,
}

/// One law's result on one backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LawResult {
    /// The law.
    pub law: LawId,
    /// The outcome.
    pub verdict: Verdict,
    /// How many cases were checked.
    pub cases: u64,
    /// The first failing case, if any.
    pub witness: Option<Witness>,
    /// The backend's note for a documented deviation, or why the law does not apply.
    pub note: &'static str,
}

/// Every law's result on one backend.
#[derive(Clone, Copy, Debug)]
pub struct LawReport {
    /// The backend.
    pub arch: ArchId,
    /// One result per law, in [`LawId::ALL`] order.
    pub results: [LawResult; LawId::ALL.len()],
}

impl LawReport {
    /// Returns the result for `law`.
    pub fn get(&self, law: LawId) -> &LawResult {
        &self.results[law as usize]
    }
    /// Returns the laws the backend violates (undocumented failures).
    pub fn violations(&self) -> impl Iterator<Item = &LawResult> {
        self.results
            .iter()
            .filter(|r| r.verdict == Verdict::Violated)
    }
    /// Returns whether every law holds, is not applicable, or fails only as documented.
    pub fn clean(&self) -> bool {
        self.violations().next().is_none()
    }
}

/// How many values of each kind a law tries beyond the exhaustive parts.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// The largest flag-subset enumeration (2^n cases) the unknown-bits law runs exhaustively;
    /// above it, subsets are taken with a fixed stride.
    pub max_flag_subsets: u64,
}

impl Default for Bounds {
    fn default() -> Self {
        Self {
            max_flag_subsets: 1 << 20,
        }
    }
}

/// Collects cases for one law.
struct Tally {
    cases: u64,
    witness: Option<Witness>,
}

impl Tally {
    fn new() -> Self {
        Self {
            cases: 0,
            witness: None,
        }
    }
    #[inline]
    fn check(&mut self, ok: bool, input: u64, output: u64, what: &'static str) {
        self.cases += 1;
        if !ok && self.witness.is_none() {
            self.witness = Some(Witness {
                input,
                output,
                what,
            });
        }
    }
    fn finish<A: PmdOps>(self, law: LawId) -> LawResult {
        let documented = A::LAW_DEVIATIONS.iter().find(|d| d.law == law);
        let (verdict, note) = match (self.witness, documented) {
            (None, None) => (Verdict::Holds, ""),
            (Some(_), Some(d)) => (Verdict::Deviation, d.note),
            (Some(_), None) => (Verdict::Violated, ""),
            (None, Some(_)) => (Verdict::Violated, "a documented deviation no longer shows"),
        };
        LawResult {
            law,
            verdict,
            cases: self.cases,
            witness: self.witness,
            note,
        }
    }
}

fn not_applicable(law: LawId, why: &'static str) -> LawResult {
    LawResult {
        law,
        verdict: Verdict::NotApplicable,
        cases: 0,
        witness: None,
        note: why,
    }
}

/// Returns a spread of pfns within `bits`: the edges, alternating patterns and small values.
pub fn sample_pfns(bits: u32, align: u64) -> impl Iterator<Item = u64> {
    let max = if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let raw = [
        0,
        1,
        2,
        3,
        0x1234,
        0x5555_5555_5555_5555,
        0xaaaa_aaaa_aaaa_aaaa,
        max >> 1,
        1u64 << (bits.saturating_sub(1)).min(63),
        max - 1,
        max,
    ];
    raw.into_iter().map(move |p| (p & max) / align * align)
}

/// Checks one pfn/protection case of [`LawId::PtePfn`]; public for property tests.
pub fn pte_pfn_case<A: PteOps>(pfn: u64, prot: Protection) -> Result<(), Witness> {
    let pte = A::pfn_pte(pfn, A::pte_pgprot(prot)).map_err(|_| Witness {
        input: pfn,
        output: 0,
        what: "pfn_pte refused a pfn within the width",
    })?;
    let ok = A::pte_pfn(pte) == pfn && A::pte_present(pte) && !A::pte_none(pte);
    if ok {
        Ok(())
    } else {
        Err(Witness {
            input: pfn,
            output: pte.raw_u64(),
            what: "pfn_pte/pte_pfn",
        })
    }
}

/// Checks one swap case of [`LawId::Swap`]; public for property tests.
pub fn swap_case<A: PteOps>(ty: u32, offset: u64) -> Result<(), Witness> {
    let entry = SwpEntry::new::<A>(ty, offset).map_err(|_| Witness {
        input: offset,
        output: 0,
        what: "swap entry refused within the field widths",
    })?;
    let pte = A::swp_entry_to_pte(entry);
    let what = if A::pte_to_swp_entry(pte) != entry {
        "swap entry does not round-trip"
    } else if A::pte_none(pte) {
        "swap pte reads as pte_none"
    } else if A::pte_present(pte) {
        "swap pte reads as pte_present"
    } else {
        return Ok(());
    };
    Err(Witness {
        input: offset | (u64::from(ty) << 58),
        output: pte.raw_u64(),
        what,
    })
}

/// Checks one huge pmd and its invalidation; returns the first failed law, if any. Public
/// for property tests.
pub fn huge_pmd_case<A: PmdOps>(pfn: u64, prot: Protection) -> Result<(), (LawId, Witness)> {
    match huge_laws()
        .into_iter()
        .zip(huge_pmd_failures::<A>(pfn, prot))
        .find_map(|(law, failure)| failure.map(|w| (law, w)))
    {
        Some(failed) => Err(failed),
        None => Ok(()),
    }
}

/// Every law of [`huge_laws`] one huge pmd fails, in that order: `HugePmd` alone when the
/// huge pmd itself is wrong (nothing to invalidate then), otherwise each invalidate law
/// checked on its own, so one case can fail several.
fn huge_pmd_failures<A: PmdOps>(pfn: u64, prot: Protection) -> [Option<Witness>; 8] {
    let mut failures = [None; 8];
    let witness = |output, what| {
        Some(Witness {
            input: pfn,
            output,
            what,
        })
    };
    let Ok(huge) = A::mk_huge_pmd(pfn, prot) else {
        failures[0] = witness(0, "mk_huge_pmd refused");
        return failures;
    };
    let raw = huge.raw_u64();
    if A::pmd_none(huge) || !A::pmd_trans_huge(huge) || !A::pmd_leaf(huge) || !A::pmd_present(huge)
    {
        failures[0] = witness(raw, "huge pmd misclassified");
        return failures;
    }
    if A::pmd_pfn(huge) != pfn {
        failures[0] = witness(raw, "pmd_pfn of a huge pmd");
        return failures;
    }
    if prot != Protection::None && !A::pmd_hw_valid(huge) {
        failures[7] = witness(
            raw,
            "huge pmd of an accessible protection is not hardware-valid",
        );
    }
    let Ok(inv) = A::pmdp_invalidate(huge) else {
        failures[1] = witness(raw, "pmdp_invalidate refused");
        return failures;
    };
    let out = inv.raw_u64();
    let checks: [(bool, &'static str); 7] = [
        (!A::pmd_none(inv), "invalidated pmd reads as pmd_none"),
        (
            A::pmd_trans_huge(inv),
            "invalidated pmd is not pmd_trans_huge",
        ),
        (A::pmd_present(inv), "invalidated pmd is not pmd_present"),
        (
            A::pmdp_invalidate(inv) == Ok(inv),
            "second pmdp_invalidate changed the pmd",
        ),
        (A::pmd_pfn(inv) == pfn, "invalidated pmd lost its pfn"),
        (A::pmd_leaf(inv), "invalidated pmd is not pmd_leaf"),
        (
            !A::pmd_hw_valid(inv),
            "invalidated pmd is still hardware-valid",
        ),
    ];
    for (slot, (ok, what)) in failures[1..].iter_mut().zip(checks) {
        if !ok && slot.is_none() {
            *slot = witness(out, what);
        }
    }
    failures
}

/// Runs every law over backend `A` with the default bounds.
pub fn check<A: PmdOps>() -> LawReport {
    check_with::<A>(Bounds::default())
}

/// Runs every law over backend `A`.
pub fn check_with<A: PmdOps>(bounds: Bounds) -> LawReport {
    let g = A::GEOMETRY;
    let mut results = LawId::ALL.map(|law| not_applicable(law, ""));
    let mut put = |r: LawResult| results[r.law as usize] = r;

    // LAW-EMPTY-PTE: every address, for nios2's address-dependent empty value.
    let mut t = Tally::new();
    for i in 0..64u64 {
        for addr in [
            i << g.page_shift,
            !0u64 << 40 | i << g.page_shift,
            (i << g.pmd_shift) | 0xfff,
        ] {
            let e = A::pte_empty(addr);
            t.check(
                A::pte_none(e) && !A::pte_present(e),
                addr,
                e.raw_u64(),
                "empty pte",
            );
        }
    }
    put(t.finish::<A>(LawId::EmptyPte));

    let mut t = Tally::new();
    let e = A::pmd_empty();
    t.check(
        A::pmd_none(e) && !A::pmd_present(e),
        0,
        e.raw_u64(),
        "empty pmd",
    );
    put(t.finish::<A>(LawId::EmptyPmd));

    let mut t = Tally::new();
    for prot in Protection::ALL {
        for pfn in sample_pfns(g.pfn_bits, 1) {
            let r = pte_pfn_case::<A>(pfn, prot);
            let (out, what) = r.map_or_else(|w| (w.output, w.what), |()| (0, ""));
            t.check(r.is_ok(), pfn, out, what);
        }
    }
    put(t.finish::<A>(LawId::PtePfn));

    put(check_pte_flags::<A>());
    put(check_unknown_bits::<A>(bounds));

    if g.swap_type_bits == 0 {
        put(not_applicable(LawId::Swap, "no swap pte format"));
    } else {
        let mut t = Tally::new();
        for ty in 0..(1u32 << g.swap_type_bits.min(8)) {
            // A swap device's header counts pages in a u32 (`swap_header.info.last_page`), so
            // type 0 never sees offsets past 32 bits; high types (migration) use the full field.
            let bits = if ty == 0 {
                g.swap_offset_bits.min(32)
            } else {
                g.swap_offset_bits
            };
            for offset in sample_pfns(bits, 1).chain(4..32) {
                if offset == 0 {
                    continue;
                }
                let r = swap_case::<A>(ty, offset);
                let (inp, out, what) =
                    r.map_or_else(|w| (w.input, w.output, w.what), |()| (0, 0, ""));
                t.check(r.is_ok(), inp, out, what);
            }
        }
        put(t.finish::<A>(LawId::Swap));
    }

    let mut t = Tally::new();
    for pfn in sample_pfns(g.pfn_bits, 1) {
        match A::pmd_populate(pfn) {
            Ok(pmd) => {
                let ok = !A::pmd_none(pmd)
                    && A::pmd_present(pmd)
                    && !A::pmd_bad(pmd)
                    && !A::pmd_leaf(pmd)
                    && !A::pmd_trans_huge(pmd)
                    && A::pmd_pfn(pmd) == pfn;
                t.check(ok, pfn, pmd.raw_u64(), "table pmd");
            }
            Err(Error::ReservedPfn { .. }) => {}
            Err(_) => t.check(false, pfn, 0, "pmd_populate refused a pfn within the width"),
        }
    }
    put(t.finish::<A>(LawId::PmdTable));

    if g.has_thp {
        let laws = huge_laws();
        let mut tallies = laws.map(|_| Tally::new());
        for prot in Protection::ALL {
            for pfn in sample_pfns(g.pfn_bits, g.pages_per_pmd()) {
                let failures = huge_pmd_failures::<A>(pfn, prot);
                for (tally, failure) in tallies.iter_mut().zip(failures) {
                    match failure {
                        Some(w) => tally.check(false, w.input, w.output, w.what),
                        None => tally.check(true, pfn, 0, ""),
                    }
                }
            }
        }
        for (law, tally) in laws.into_iter().zip(tallies) {
            put(tally.finish::<A>(law));
        }
    } else {
        for law in huge_laws() {
            put(not_applicable(law, "no transparent huge pages"));
        }
    }

    LawReport {
        arch: A::ID,
        results,
    }
}

fn huge_laws() -> [LawId; 8] {
    [
        LawId::HugePmd,
        LawId::InvalidateNotNone,
        LawId::InvalidateTransHuge,
        LawId::InvalidatePresent,
        LawId::InvalidateIdempotent,
        LawId::InvalidatePfn,
        LawId::InvalidateLeaf,
        LawId::HwValid,
    ]
}

fn check_pte_flags<A: PmdOps>() -> LawResult {
    let g = A::GEOMETRY;
    let mut cases = 0u64;
    let mut witness = None;
    for prot in Protection::ALL {
        for pfn in sample_pfns(g.pfn_bits, 1) {
            let Ok(base) = A::pfn_pte(pfn, A::pte_pgprot(prot)) else {
                continue;
            };
            for set in 0u8..16 {
                let (w, d, y, s) = (set & 1 != 0, set & 2 != 0, set & 4 != 0, set & 8 != 0);
                let mut pte = if w {
                    A::pte_mkwrite(base)
                } else {
                    A::pte_wrprotect(base)
                };
                pte = if d {
                    A::pte_mkdirty(pte)
                } else {
                    A::pte_mkclean(pte)
                };
                pte = if y {
                    A::pte_mkyoung(pte)
                } else {
                    A::pte_mkold(pte)
                };
                if s {
                    match A::pte_mkspecial(pte) {
                        Ok(p) => pte = p,
                        Err(_) => continue,
                    }
                }
                cases += 1;
                let what = if A::pte_write(pte) != w {
                    "pte_write"
                } else if A::pte_dirty(pte) != d {
                    "pte_dirty"
                } else if A::pte_young(pte) != y {
                    "pte_young"
                } else if s && !A::pte_special(pte) {
                    "pte_special"
                } else if A::pte_pfn(pte) != pfn {
                    "pfn changed by a flag helper"
                } else if A::pte_present(pte) != A::pte_present(base) {
                    "presence changed by a flag helper"
                } else {
                    continue;
                };
                if witness.is_none() {
                    witness = Some(Witness {
                        input: base.raw_u64(),
                        output: pte.raw_u64(),
                        what,
                    });
                }
            }
        }
    }
    Tally { cases, witness }.finish::<A>(LawId::PteFlags)
}

fn check_unknown_bits<A: PmdOps>(bounds: Bounds) -> LawResult {
    let flags = A::PTE_FLAG_BITS;
    let known = A::PTE_FLAG_BITS | A::PTE_PFN_BITS;
    let bits = <A::Word as EntryWord>::BITS;
    let word_mask = if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let unknown = !known & word_mask;
    let n = flags.count_ones();
    let total = 1u64 << n;
    let stride = (total / bounds.max_flag_subsets.max(1)).max(1);
    let mut t = Tally::new();
    if unknown == 0 {
        return LawResult {
            law: LawId::PteUnknownBits,
            verdict: Verdict::NotApplicable,
            cases: 0,
            witness: None,
            note: "every bit of the word is a named flag or the pfn field",
        };
    }
    let pfn_part = A::PTE_PFN_BITS & 0x5a5a_5a5a_5a5a_5a5a;
    let mut i = 0;
    while i < total {
        let subset = deposit(i, flags);
        for extra in [unknown, unknown & 0x3333_3333_3333_3333] {
            let raw = subset | pfn_part | extra;
            let Ok(pte) = Pte::<A>::try_from_u64(raw) else {
                continue;
            };
            let ops: [(Pte<A>, &'static str); 6] = [
                (A::pte_mkwrite(pte), "pte_mkwrite"),
                (A::pte_wrprotect(pte), "pte_wrprotect"),
                (A::pte_mkdirty(pte), "pte_mkdirty"),
                (A::pte_mkclean(pte), "pte_mkclean"),
                (A::pte_mkyoung(pte), "pte_mkyoung"),
                (A::pte_mkold(pte), "pte_mkold"),
            ];
            for (out, what) in ops {
                t.check(
                    (out.raw_u64() ^ raw) & unknown == 0,
                    raw,
                    out.raw_u64(),
                    what,
                );
            }
            if let Ok(out) = A::pte_mkspecial(pte) {
                t.check(
                    (out.raw_u64() ^ raw) & unknown == 0,
                    raw,
                    out.raw_u64(),
                    "pte_mkspecial",
                );
            }
        }
        i += stride;
    }
    t.finish::<A>(LawId::PteUnknownBits)
}

/// Spreads the low bits of `x` over the set bits of `mask` (a software PDEP).
const fn deposit(mut x: u64, mut mask: u64) -> u64 {
    let mut out = 0;
    while mask != 0 {
        let low = mask & mask.wrapping_neg();
        if x & 1 != 0 {
            out |= low;
        }
        x >>= 1;
        mask &= mask - 1;
    }
    out
}
