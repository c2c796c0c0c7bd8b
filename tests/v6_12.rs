//! The catalogue under v6.12 generic code (`engine::ops::v6_12`): today's kernel holds where
//! it should, the historical helpers are still caught by today's code, and the two findings
//! about today's kernel are found where, and only where, they apply.

use pgtable::arch::{ArchVisitor, ArmLpae, ArmLpaeV4_5, X86_64, visit_all};
use pgtable::engine::explore::{Options, Search, Verdict, explore};
use pgtable::engine::invariant::InvariantId;
use pgtable::engine::trace::replay;
use pgtable::scenario::{Knobs, V6_12, build};
use pgtable::{ArchId, PmdOps};

fn bfs() -> Options {
    Options {
        search: Search::BreadthFirst,
        ..Options::default()
    }
}

fn verdict<A: PmdOps>(id: &str) -> Verdict {
    let sc = build::<A>(id, V6_12, Knobs::default()).expect("builds");
    explore(&sc, bfs()).verdict
}

#[track_caller]
fn violated(v: &Verdict) -> (InvariantId, usize) {
    match v {
        Verdict::Violated(cx) => (cx.invariant, cx.schedule.len()),
        other => panic!("expected a violation, got {other:?}"),
    }
}

struct Every {
    id: &'static str,
    results: Vec<(ArchId, Verdict)>,
}

impl ArchVisitor for Every {
    fn visit<A: PmdOps>(&mut self) {
        if A::GEOMETRY.has_thp && !matches!(A::ID, ArchId::ArmLpaeV4_5 | ArchId::ArmLpaeV4_5Stored)
        {
            self.results.push((A::ID, verdict::<A>(self.id)));
        }
    }
}

fn every(id: &'static str) -> Vec<(ArchId, Verdict)> {
    let mut e = Every {
        id,
        results: Vec::new(),
    };
    visit_all(&mut e);
    assert!(e.results.len() >= 8, "every fixed THP backend ran");
    e.results
}

// Today's split, zap, fault and GUP-fast keep race 002's invariants on every fixed backend.
#[test]
fn race_002_holds_under_v6_12_code_on_every_fixed_thp_backend() {
    for id in ["race-002", "race-002-gup"] {
        for (arch, v) in every(id) {
            assert_eq!(v, Verdict::Holds, "{id} on {arch}");
        }
    }
}

// The 2016 helpers (pmd_mknotpresent returning 0) are caught by v6.12's code too: the
// invalidate comes first there, so the pmd reads as none right after it.
#[test]
fn the_historical_arm_lpae_helpers_break_never_none_under_v6_12_code() {
    let (id, steps) = violated(&verdict::<ArmLpaeV4_5>("race-002"));
    assert_eq!(id, InvariantId::NeverNone);
    assert!(steps <= 5, "{steps} steps");
}

// arch/arm/include/asm/pgtable-3level.h (v6.12): set_pmd_at clears L_PMD_SECT_VALID for a
// PROT_NONE huge pmd; mm/huge_memory.c:2142 then warns and dereferences a NULL folio.
#[test]
fn a_prot_none_thp_zap_dereferences_no_folio_on_arm_lpae_only() {
    let sc = build::<ArmLpae>("prot-none-thp-zap", V6_12, Knobs::default()).unwrap();
    let out = explore(&sc, bfs());
    let Verdict::Violated(cx) = &out.verdict else {
        panic!("arm-lpae must break INV-ZAP-FOLIO, got {:?}", out.verdict);
    };
    assert_eq!(cx.invariant, InvariantId::ZapFolio);
    let trace = replay(&sc, &cx.schedule).unwrap().to_string();
    assert!(
        trace.contains("zap_huge_pmd: pmdp_huge_get_and_clear_full"),
        "{trace}"
    );
    assert!(trace.contains("VIOLATED INV-ZAP-FOLIO"), "{trace}");
    for (arch, v) in every("prot-none-thp-zap") {
        if arch == ArchId::ArmLpae {
            assert_eq!(violated(&v).0, InvariantId::ZapFolio);
        } else {
            assert_eq!(v, Verdict::Holds, "prot-none-thp-zap on {arch}");
        }
    }
}

// v6.12's MADV_DONTNEED flushes once, at tlb_finish_mmu: a fault in between can let a CPU
// cache a small translation beside its stale huge one. The same on every architecture.
#[test]
fn dontneed_fault_tlb_is_found_on_every_fixed_thp_backend_after_the_deferred_flush() {
    for (arch, v) in every("dontneed-fault-tlb") {
        assert_eq!(violated(&v).0, InvariantId::TlbSmallHuge, "{arch}");
    }
    let sc = build::<X86_64>("dontneed-fault-tlb", V6_12, Knobs::default()).unwrap();
    let Verdict::Violated(cx) = explore(&sc, bfs()).verdict else {
        panic!("x86_64 must break INV-TLB-SMALL-HUGE");
    };
    let trace = replay(&sc, &cx.schedule).unwrap();
    let labels: Vec<&str> = trace.steps.iter().map(|s| s.label).collect();
    let cleared = labels
        .iter()
        .position(|l| l.starts_with("zap_huge_pmd: pmdp_huge_get_and_clear_full"))
        .expect("the zap clears the huge pmd");
    let populated = labels
        .iter()
        .position(|l| l.starts_with("pmd_install: pmd_none"))
        .expect("the fault installs a table");
    assert!(cleared < populated, "{trace}");
    assert!(
        !labels.iter().any(|l| l.starts_with("tlb_finish_mmu")),
        "the violation comes before the gather's flush: {trace}"
    );
}

// The depth-first and breadth-first searches agree on every v6.12 cell.
#[test]
fn depth_first_and_breadth_first_agree_under_v6_12_code() {
    for id in [
        "race-002",
        "race-002-gup",
        "prot-none-thp-zap",
        "dontneed-fault-tlb",
    ] {
        let sc = build::<ArmLpae>(id, V6_12, Knobs::default()).unwrap();
        let dfs = explore(&sc, Options::default()).verdict;
        let bfs = explore(&sc, bfs()).verdict;
        let kind = |v: &Verdict| match v {
            Verdict::Violated(cx) => Some(cx.invariant),
            _ => None,
        };
        assert_eq!(kind(&dfs), kind(&bfs), "{id}");
    }
}
