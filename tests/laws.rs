//! The laws of `pgtable::laws`, run over every enabled backend, plus property tests over pfns.

use pgtable::arch::{ArchVisitor, visit_all};
use pgtable::laws::{self, LawId, Verdict};
use pgtable::{ArchId, PmdOps, Protection};
use proptest::prelude::*;

/// The default bounds, or 2^14 flag subsets per law under emulation (PGTABLE_EMULATED).
fn bounds() -> laws::Bounds {
    match std::env::var_os("PGTABLE_EMULATED") {
        Some(_) => laws::Bounds {
            max_flag_subsets: 1 << 14,
        },
        None => laws::Bounds::default(),
    }
}

/// Runs every law over every backend.
fn reports() -> Vec<laws::LawReport> {
    struct V(Vec<laws::LawReport>);
    impl ArchVisitor for V {
        fn visit<A: PmdOps>(&mut self) {
            self.0.push(laws::check_with::<A>(bounds()));
        }
    }
    let mut v = V(Vec::new());
    visit_all(&mut v);
    v.0
}

#[test]
fn every_backend_keeps_every_law_or_documents_why_not() {
    for report in reports() {
        for r in &report.results {
            println!(
                "{:<14} {:<28} {:<10} cases={} {}",
                report.arch,
                r.law,
                r.verdict.name(),
                r.cases,
                r.note
            );
        }
        let bad: Vec<_> = report
            .violations()
            .map(|r| format!("{} ({:?})", r.law, r.witness))
            .collect();
        if matches!(report.arch, ArchId::ArmLpaeV4_5 | ArchId::ArmLpaeV4_5Stored) {
            continue; // historical: checked exactly below
        }
        assert!(bad.is_empty(), "{}: {}", report.arch, bad.join(", "));
    }
}

#[test]
fn only_the_historical_arm_backend_empties_an_invalidated_huge_pmd() {
    for report in reports() {
        let r = report.get(LawId::InvalidateNotNone);
        if report.arch == ArchId::ArmLpaeV4_5 {
            assert_eq!(
                r.verdict,
                Verdict::Violated,
                "v4.5 pmd_mknotpresent returned 0"
            );
            let failed: Vec<LawId> = report.violations().map(|r| r.law).collect();
            // The zero it stores is also not trans_huge, not present, has no pfn and is no
            // leaf.
            assert_eq!(
                failed,
                [
                    LawId::InvalidateNotNone,
                    LawId::InvalidateTransHuge,
                    LawId::InvalidatePresent,
                    LawId::InvalidatePfn,
                    LawId::InvalidateLeaf
                ]
            );
        } else {
            assert_ne!(r.verdict, Verdict::Violated, "{}", report.arch);
        }
    }
}

#[test]
#[cfg_attr(
    not(feature = "all-arches"),
    ignore = "some laws apply only to some backends"
)]
fn every_law_is_checked_somewhere() {
    let reports = reports();
    for law in LawId::ALL {
        let cases: u64 = reports.iter().map(|r| r.get(law).cases).sum();
        assert!(cases > 0, "{law} ran no case on any backend");
    }
}

// v4.5 as stored: set_pmd_at made pmd_mknotpresent's zero 0x880, which is not none, is
// trans_huge and present, but maps pfn 0 and is no section (pmd_leaf).
#[test]
fn v4_5_as_stored_keeps_the_pmd_but_loses_the_pfn() {
    let reports = reports();
    let stored: Vec<_> = reports
        .iter()
        .filter(|r| r.arch == ArchId::ArmLpaeV4_5Stored)
        .collect();
    assert_eq!(stored.len(), usize::from(cfg!(feature = "arm")));
    for report in stored {
        let failed: Vec<LawId> = report.violations().map(|r| r.law).collect();
        assert_eq!(failed, [LawId::InvalidatePfn, LawId::InvalidateLeaf]);
    }
}

/// Property tests over the whole pfn range of each backend.
struct Props;
impl ArchVisitor for Props {
    fn visit<A: PmdOps>(&mut self) {
        let g = A::GEOMETRY;
        let max = if g.pfn_bits >= 64 {
            u64::MAX
        } else {
            (1 << g.pfn_bits) - 1
        };
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(256));
        runner
            .run(&(0..=max, 0..5usize), |(pfn, p)| {
                let prot = Protection::ALL[p];
                prop_assert_eq!(laws::pte_pfn_case::<A>(pfn, prot), Ok(()), "{}", A::ID);
                if g.has_thp && A::LAW_DEVIATIONS.is_empty() && A::ID != ArchId::ArmLpaeV4_5 {
                    let huge = pfn / g.pages_per_pmd() * g.pages_per_pmd();
                    prop_assert_eq!(laws::huge_pmd_case::<A>(huge, prot), Ok(()), "{}", A::ID);
                }
                Ok(())
            })
            .unwrap();
        if g.swap_type_bits != 0 {
            let omax = (1u64 << g.swap_offset_bits.min(32)) - 1;
            let tmax = (1u32 << g.swap_type_bits) - 1;
            runner
                .run(&(1..=tmax, 16..=omax), |(ty, off)| {
                    prop_assert_eq!(laws::swap_case::<A>(ty, off), Ok(()), "{}", A::ID);
                    Ok(())
                })
                .unwrap();
        }
    }
}

#[test]
fn pfns_and_swap_entries_round_trip_over_their_whole_range() {
    visit_all(&mut Props);
}

/// A fresh pte table (what `pte_alloc_one` leaves) reads as none at every address.
struct Fresh;
impl ArchVisitor for Fresh {
    fn visit<A: PmdOps>(&mut self) {
        for i in 0..32u64 {
            let addr = i << A::GEOMETRY.page_shift;
            assert!(
                A::pte_fresh(addr).none(),
                "{}: fresh pte at {addr:#x}",
                A::ID
            );
        }
    }
}

#[test]
fn a_fresh_pte_table_is_empty_at_every_address() {
    visit_all(&mut Fresh);
}
