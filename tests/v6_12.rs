//! The catalogue under v6.12 generic code (`engine::ops::v6_12`): today's kernel holds where
//! it should, the historical helpers are still caught by today's code, and the two findings
//! about today's kernel are found where, and only where, they apply.

use pgtable::arch::{
    ArchVisitor, Arm64, ArmLpae, ArmLpaePatched, ArmLpaeV4_5, PowerpcHash, PowerpcRadix, S390,
    X86_64, visit_all,
};
use pgtable::engine::explore::{Options, Search, Verdict, explore};
use pgtable::engine::invariant::{Declared, Invariant, InvariantId, InvariantSet};
use pgtable::engine::mm::{Machine, SLOTS, TableState};
use pgtable::engine::ops::v6_12::{
    fault::AnonFault, gup::GupFast, gup_slow::GupSlow, split::SplitHugePmd, zap::MadvDontneed,
};
use pgtable::engine::program::Program;
use pgtable::engine::trace::replay;
use pgtable::engine::{Scenario, ScenarioBuilder, ScenarioError, Tid};
use pgtable::scenario::{Knobs, STATIC_ZERO, V6_12, build};
use pgtable::{ArchId, PmdOps, Protection, Pte, PteOps};

mod common;

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
        if common::fixed_thp::<A>() {
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
    assert_eq!(id, InvariantId::NEVER_NONE);
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
    assert_eq!(cx.invariant, InvariantId::ZAP_FOLIO);
    let trace = replay(&sc, &cx.schedule).unwrap().to_string();
    assert!(
        trace.contains("zap_huge_pmd: pmdp_huge_get_and_clear_full"),
        "{trace}"
    );
    assert!(trace.contains("VIOLATED INV-ZAP-FOLIO"), "{trace}");
    for (arch, v) in every("prot-none-thp-zap") {
        if arch == ArchId::ArmLpae {
            assert_eq!(violated(&v).0, InvariantId::ZAP_FOLIO);
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
        assert_eq!(violated(&v).0, InvariantId::TLB_SMALL_HUGE, "{arch}");
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
        "prot-none-zero-split",
        "huge-zero-split",
        "file-thp-split",
        "fault-empty-pte",
        "dontneed-fault-tlb",
        "pin-migrate",
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
    let sc = build::<S390>("fault-empty-pte", STATIC_ZERO, Knobs::default()).unwrap();
    for opts in [Options::default(), bfs()] {
        let v = explore(&sc, opts).verdict;
        assert_eq!(violated(&v).0, InvariantId::VALIDATE);
    }
}

use common::run_alone;

fn alone<A: PmdOps>(
    prot: Protection,
    setup: impl FnOnce(ScenarioBuilder<A>) -> ScenarioBuilder<A>,
    program: impl Program<A> + 'static,
) -> (Scenario<A>, Machine<A>, Vec<&'static str>) {
    let sc = setup(ScenarioBuilder::<A>::new("alone", 1).protection(prot))
        .thread("alone", program)
        .build()
        .expect("builds");
    let (m, labels) = run_alone(&sc);
    (sc, m, labels)
}

struct SplitCarriesBits(usize);
impl ArchVisitor for SplitCarriesBits {
    fn visit<A: PmdOps>(&mut self) {
        if !common::fixed_thp::<A>() {
            return;
        }
        for prot in [Protection::ReadWrite, Protection::Read] {
            let (sc, m, _) = alone::<A>(prot, |b| b.huge(0).unwrap(), SplitHugePmd::new(0));
            let old = sc.initial.peek_pmd(0);
            assert!(
                A::pmd_dirty(old),
                "{}: do_huge_pmd_anonymous_page dirties",
                A::ID
            );
            assert_eq!(A::pmd_write(old), prot.writable(), "{}", A::ID);
            let t = m.table_of(m.peek_pmd(0)).expect("populated");
            for slot in 0..SLOTS {
                let pte = m.table(t).ptes[slot];
                let at = format!("{} {prot:?} slot {slot}", A::ID);
                assert_eq!(A::pte_pfn(pte), A::pmd_pfn(old) + slot as u64, "{at}");
                assert_eq!(A::pte_write(pte), A::pmd_write(old), "{at}");
                assert_eq!(A::pte_dirty(pte), A::pmd_dirty(old), "{at}");
                assert_eq!(A::pte_young(pte), A::pmd_young(old), "{at}");
            }
        }
        self.0 += 1;
    }
}

// mm/huge_memory.c:2823-2828 and :2909-2918 (v6.12): the split's ptes take write, young
// and dirty from the old pmd, not from the VMA: a THP made read-only by mprotect keeps its
// dirty bit in every subpage, and a writable one stays writable.
#[test]
fn the_v6_12_split_carries_write_young_and_dirty_from_the_old_pmd() {
    let mut v = SplitCarriesBits(0);
    visit_all(&mut v);
    assert!(v.0 >= 8, "every fixed THP backend ran");
}

// mm/memory.c:4810-4813 (v6.12): do_anonymous_page uses pte_sw_mkyoung, the identity outside
// MIPS and LoongArch: the pte is young because mk_pte makes it so, not because the fault
// marks it. x86's vm_page_prot has _PAGE_ACCESSED; s390's PAGE_RW has not, but its
// mk_pte_phys ends in pte_mkyoung (arch/s390/include/asm/pgtable.h).
#[test]
fn the_v6_12_anonymous_fault_is_young_from_mk_pte() {
    fn pte_after_fault<A: PmdOps>() -> Pte<A> {
        let fault = AnonFault {
            huge: false,
            ..AnonFault::new(0, 0)
        };
        let (_, m, _) = alone::<A>(Protection::ReadWrite, |b| b, fault);
        let t = m.table_of(m.peek_pmd(0)).expect("a table");
        m.table(t).ptes[0]
    }
    let x86 = pte_after_fault::<X86_64>();
    assert!(X86_64::pte_young(x86) && X86_64::pte_dirty(x86) && X86_64::pte_write(x86));
    let s390 = pte_after_fault::<S390>();
    assert!(S390::pte_young(s390) && S390::pte_dirty(s390) && S390::pte_write(s390));
    let bare = S390::pfn_pte(0x100, S390::pte_pgprot(Protection::Read)).unwrap();
    assert!(S390::pte_young(bare), "s390's mk_pte is young: {bare:?}");
}

// mm/huge_memory.c:1339-1372 (v6.12): a read fault on an empty pmd maps the huge zero folio
// (never writable, never dirty) and deposits a table; without a THP it maps the special zero
// pte (mm/memory.c:4768). Neither maps a page of the machine.
#[test]
fn a_v6_12_read_fault_maps_the_zero_pages() {
    let (_, m, labels) = alone::<X86_64>(Protection::ReadWrite, |b| b, AnonFault::read(0, 1));
    let pmd = m.peek_pmd(0);
    assert!(
        X86_64::pmd_trans_huge(pmd) && X86_64::pmd_present(pmd),
        "{labels:?}"
    );
    assert_eq!(X86_64::pmd_pfn(pmd), Machine::<X86_64>::huge_zero_pfn());
    assert!(!X86_64::pmd_write(pmd) && !X86_64::pmd_dirty(pmd));
    assert!(m.deposited(0).is_some());
    assert_eq!(m.allocated_pages().count(), 0);
    assert!(labels.iter().any(|l| l.starts_with("set_huge_zero_folio")));

    let small = AnonFault {
        huge: false,
        ..AnonFault::read(0, 1)
    };
    let (_, m, _) = alone::<X86_64>(Protection::ReadWrite, |b| b, small);
    let t = m.table_of(m.peek_pmd(0)).expect("a table");
    let pte = m.table(t).ptes[1];
    assert_eq!(X86_64::pte_pfn(pte), Machine::<X86_64>::zero_pfn());
    assert!(X86_64::pte_special(pte) && !X86_64::pte_write(pte));
    assert_eq!(m.allocated_pages().count(), 0);
}

// mm/huge_memory.c:2675-2714 (v6.12): __split_huge_zero_page_pmd clears and flushes the pmd
// first, then withdraws the deposit, fills it with special zero ptes and populates.
#[test]
fn the_v6_12_zero_page_split_clears_first_then_populates_zero_ptes() {
    let (_, m, labels) = alone::<ArmLpae>(
        Protection::ReadWrite,
        |b| b.huge_zero(0).unwrap(),
        SplitHugePmd::new(0),
    );
    let at = |prefix: &str| {
        labels
            .iter()
            .position(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in {labels:?}"))
    };
    let clear = at("__split_huge_zero_page_pmd: pmdp_huge_clear_flush");
    let flush = at("pmdp_huge_clear_flush: flush_pmd_tlb_range");
    let fill = at("__split_huge_zero_page_pmd: pgtable_trans_huge_withdraw");
    let populate = at("__split_huge_zero_page_pmd: smp_wmb, pmd_populate");
    assert!(
        clear < flush && flush < fill && fill < populate,
        "{labels:?}"
    );
    let t = m.table_of(m.peek_pmd(0)).expect("populated");
    for slot in 0..SLOTS {
        let pte = m.table(t).ptes[slot];
        assert_eq!(ArmLpae::pte_pfn(pte), Machine::<ArmLpae>::zero_pfn());
        assert!(ArmLpae::pte_special(pte) && !ArmLpae::pte_write(pte));
    }
    assert_eq!(m.deposited(0), None);
}

static NEVER_NONE_MID_SPLIT: Invariant = Invariant::new(
    "INV-TEST-NEVER-NONE-MID-SPLIT",
    "The pmd never reads as none while the split (thread 0) holds the pmd lock.",
);

fn none_mid_split<A: PmdOps>(m: &Machine<A>) -> Option<&'static str> {
    (m.pmd_lock_holder(0) == Some(Tid(0)) && A::pmd_none(m.peek_pmd(0)))
        .then_some("the pmd reads as none while the split holds its lock")
}

// INV-002-NEVERNONE is stated as v6.12 keeps it (an anonymous page mapped), not stronger:
// "never none mid-split" fails on the huge zero page, whose split clears the pmd first by
// design, and holds for an anonymous THP, whose pmd v6.12 keeps huge until populate.
#[test]
fn never_none_is_stated_as_v6_12_keeps_it_not_stronger() {
    for (arch, v) in every("huge-zero-split") {
        assert_eq!(v, Verdict::Holds, "huge-zero-split on {arch}");
    }
    // Only the split clears the pmd here (no zap), so a none pmd under its lock is its own.
    let stronger = |zero: bool| {
        let b = ScenarioBuilder::<X86_64>::new("split-gup", 1);
        let b = if zero { b.huge_zero(0) } else { b.huge(0) };
        let sc = b
            .unwrap()
            .thread("split", SplitHugePmd::new(0))
            .thread("gup", GupFast::new(0, 1))
            .state_invariant(&NEVER_NONE_MID_SPLIT, none_mid_split::<X86_64>)
            .build()
            .unwrap();
        (explore(&sc, bfs()).verdict, sc)
    };
    let (v, sc) = stronger(true);
    let Verdict::Violated(cx) = v else {
        panic!("the zero-page split must break the stronger statement");
    };
    assert_eq!(cx.invariant, NEVER_NONE_MID_SPLIT.id());
    let trace = replay(&sc, &cx.schedule).unwrap().to_string();
    assert!(
        trace.contains("__split_huge_zero_page_pmd: pmdp_huge_clear_flush"),
        "{trace}"
    );
    assert_eq!(stronger(false).0, Verdict::Holds);
}

// Mutation: v6.12's anonymous split clearing the pmd the way its zero-page branch does. The
// pmd then reads as none while the THP is still mapped, on every fixed THP backend.
#[test]
fn a_v6_12_split_that_clears_an_anonymous_thp_breaks_never_none() {
    struct Mutated(usize);
    impl ArchVisitor for Mutated {
        fn visit<A: PmdOps>(&mut self) {
            if !common::fixed_thp::<A>() {
                return;
            }
            let knobs = Knobs {
                split_clears_pmd: true,
                ..Knobs::default()
            };
            let sc = build::<A>("race-002", V6_12, knobs).unwrap();
            let v = explore(&sc, bfs()).verdict;
            assert_eq!(violated(&v).0, InvariantId::NEVER_NONE, "{}", A::ID);
            self.0 += 1;
        }
    }
    let mut m = Mutated(0);
    visit_all(&mut m);
    assert!(m.0 >= 8);
}

// mm/memory.c:5681-5710 (v6.12): a write fault on a file THP's read-only pmd goes to
// wp_huge_pmd's file branch (->huge_fault or the split, then the file fault at pte level),
// which the anonymous fault does not have: it must say so (INV-MODEL), never carry on as if
// the fault had succeeded. The anonymous branch is tests/huge_wp.rs.
#[test]
fn a_write_fault_on_a_read_only_file_thp_reports_the_missing_model() {
    let sc = ScenarioBuilder::<X86_64>::new("wp", 1)
        .file_backed()
        .protection(Protection::Read)
        .huge_file(0)
        .unwrap()
        .thread("write", AnonFault::new(0, 0))
        .build()
        .unwrap();
    let Verdict::Violated(cx) = explore(&sc, bfs()).verdict else {
        panic!("not reported")
    };
    assert_eq!(cx.invariant, InvariantId::MODEL);
    assert!(cx.what.contains("wp_huge_pmd of a file THP"), "{}", cx.what);
}

/// The anonymous huge pmd of page 1 with `prot`, and what `pmdp_invalidate` makes of it.
fn huge_and_invalidated<A: PmdOps>(prot: Protection) -> (pgtable::Pmd<A>, pgtable::Pmd<A>) {
    let pfn = A::GEOMETRY.pages_per_pmd();
    let huge = A::mk_huge_pmd_anon(pfn, prot).unwrap();
    (huge, A::pmdp_invalidate(huge).unwrap())
}

fn permitted<A: PmdOps>(prot: Protection, write: bool) -> (bool, bool) {
    let (huge, inv) = huge_and_invalidated::<A>(prot);
    (
        A::pmd_access_permitted(huge, write),
        A::pmd_access_permitted(inv, write),
    )
}

// GUP-fast's pmd_access_permitted (mm/gup.c:3142), each architecture's own: x86_64's
// PRESENT|USER(|RW) (arch/x86/include/asm/pgtable.h:1692), arm64's VALID|USER
// (arch/arm64/include/asm/pgtable.h:176-181), powerpc's non-serializing user-readable pmd
// (arch/powerpc/include/asm/book3s/64/pgtable.h:1078), and the generic pmd_present for s390
// and LPAE (include/linux/pgtable.h:1013). A PROT_NONE THP that the generic answer admits
// (s390's PROT_NONE segment is present) is stopped by pmd_protnone first (mm/gup.c:3286).
#[test]
fn pmd_access_permitted_is_each_architectures_own() {
    use Protection::{None as ProtNone, Read, ReadWrite};
    // (access to a RW THP for write, its invalidated value for read)
    assert_eq!(permitted::<X86_64>(ReadWrite, true), (true, false));
    assert_eq!(permitted::<X86_64>(Read, true), (false, false));
    assert_eq!(permitted::<X86_64>(Read, false), (true, false));
    assert_eq!(permitted::<X86_64>(ProtNone, false), (false, false));
    assert_eq!(permitted::<Arm64>(ReadWrite, true), (true, false));
    assert_eq!(permitted::<Arm64>(ProtNone, false), (false, false));
    assert_eq!(permitted::<PowerpcHash>(ReadWrite, true), (true, false));
    assert_eq!(permitted::<PowerpcRadix>(Read, true), (false, false));
    assert_eq!(permitted::<PowerpcRadix>(ProtNone, false), (false, false));
    // Generic: present is enough, so s390 admits its invalidated and PROT_NONE THPs here.
    assert_eq!(permitted::<S390>(ReadWrite, true), (true, true));
    assert_eq!(permitted::<S390>(ProtNone, false), (true, true));
    let (prot_none, _) = huge_and_invalidated::<S390>(ProtNone);
    assert!(
        S390::pmd_protnone(prot_none),
        "GUP-fast stops it at pmd_protnone"
    );
    // Stock LPAE: generic; its PROT_NONE THP is not present at all (the v6.12 bug).
    assert_eq!(permitted::<ArmLpae>(ReadWrite, true), (true, false));
    assert_eq!(permitted::<ArmLpae>(ProtNone, false), (false, false));
    // Patched LPAE: PROT_NONE is present again, and its own pmd_access_permitted refuses it.
    let (patched, _) = huge_and_invalidated::<ArmLpaePatched>(ProtNone);
    assert!(ArmLpaePatched::pmd_present(patched));
    assert!(!ArmLpaePatched::pmd_access_permitted(patched, false));
    assert_eq!(permitted::<ArmLpaePatched>(ReadWrite, true), (true, false));
}

// include/linux/huge_mm.h:457 (v6.12): is_huge_zero_pmd asks pmd_present. 32-bit ARM LPAE
// stores a PROT_NONE huge pmd with L_PMD_SECT_VALID clear, so mprotect(PROT_NONE) of the huge
// zero page leaves a pmd that is no "huge zero pmd", and __split_huge_pmd_locked runs its
// anonymous branch on the zero folio (mm/huge_memory.c:2857-2861). Everywhere else (and with
// kernel-patches/0001) the PROT_NONE zero pmd is present and takes the zero-page branch.
#[test]
fn a_prot_none_huge_zero_split_takes_the_zero_folio_for_anonymous_on_arm_lpae_only() {
    let sc = build::<ArmLpae>("prot-none-zero-split", V6_12, Knobs::default()).unwrap();
    let Verdict::Violated(cx) = explore(&sc, bfs()).verdict else {
        panic!("arm-lpae must break INV-ZERO-FOLIO");
    };
    assert_eq!(cx.invariant, InvariantId::ZERO_FOLIO);
    let trace = replay(&sc, &cx.schedule).unwrap().to_string();
    assert!(
        trace.contains("split_huge_pmd_locked: pmd_trans_huge(*pmd)"),
        "{trace}"
    );
    assert!(!trace.contains("__split_huge_zero_page_pmd"), "{trace}");
    for (arch, v) in every("prot-none-zero-split") {
        if arch == ArchId::ArmLpae {
            assert_eq!(violated(&v).0, InvariantId::ZERO_FOLIO);
        } else {
            assert_eq!(v, Verdict::Holds, "prot-none-zero-split on {arch}");
        }
    }
    let (_, _, labels) = alone::<X86_64>(
        Protection::None,
        |b| b.huge_zero(0).unwrap(),
        SplitHugePmd::new(0),
    );
    assert!(
        labels
            .iter()
            .any(|l| l.starts_with("__split_huge_pmd_locked: is_huge_zero_pmd")),
        "{labels:?}"
    );
}

struct FileSplit(usize);
impl ArchVisitor for FileSplit {
    fn visit<A: PmdOps>(&mut self) {
        if !common::fixed_thp::<A>() {
            return;
        }
        let (sc, m, labels) = alone::<A>(
            Protection::ReadWrite,
            |b| b.file_backed().huge_file(0).unwrap(),
            SplitHugePmd::new(0),
        );
        let at = |prefix: &str| {
            labels
                .iter()
                .position(|l| l.starts_with(prefix))
                .unwrap_or_else(|| panic!("{}: no {prefix} in {labels:?}", A::ID))
        };
        let branch = at("__split_huge_pmd_locked: !vma_is_anonymous");
        let clear = at("__split_huge_pmd_locked: pmdp_huge_clear_flush");
        let flush = at("pmdp_huge_clear_flush: flush_pmd_tlb_range");
        let zap = at("__split_huge_pmd_locked: zap_deposited_table");
        assert!(branch < clear && clear < flush && flush < zap, "{labels:?}");
        assert!(A::pmd_none(m.peek_pmd(0)), "{}: the pmd stays none", A::ID);
        let (_, page) = m.allocated_pages().next().expect("the page-cache folio");
        assert!(page.file && page.mapcount == 0, "{}: {page:?}", A::ID);
        assert_eq!(
            page.refcount,
            1,
            "{}: the page cache's reference stays",
            A::ID
        );
        let deposits = A::arch_needs_pgtable_deposit();
        assert_eq!(sc.initial.deposited(0).is_some(), deposits, "{}", A::ID);
        assert_eq!(m.deposited(0), None, "{}", A::ID);
        if deposits {
            assert_eq!(m.table(0).state, TableState::Freed, "{}", A::ID);
        }
        self.0 += 1;
    }
}

// mm/huge_memory.c:2738-2764 (v6.12): a file or shmem VMA's split clears and flushes the pmd,
// frees the deposited table where arch_needs_pgtable_deposit (powerpc hash only,
// arch/powerpc/include/asm/book3s/64/pgtable.h:1390; mm/memory.c:4996 deposits it), drops the
// pmd's rmap and reference, and leaves the pmd none: the page cache refaults it.
#[test]
fn the_v6_12_file_split_clears_the_pmd_for_good() {
    let mut v = FileSplit(0);
    visit_all(&mut v);
    assert!(v.0 >= 8);
    for (arch, v) in every("file-thp-split") {
        assert_eq!(v, Verdict::Holds, "file-thp-split on {arch}");
    }
    // A file THP in an anonymous VMA, or anonymous memory in a file VMA, is refused.
    let anon = ScenarioBuilder::<X86_64>::new("x", 1).huge_file(0).err();
    assert_eq!(anon, Some(ScenarioError::AnonymousVma));
    let file = ScenarioBuilder::<X86_64>::new("x", 1).file_backed();
    assert_eq!(file.huge(0).err(), Some(ScenarioError::FileVma));
}

static NEVER_NONE_ANY_PAGE: Invariant = Invariant::new(
    "INV-TEST-NEVER-NONE-ANY-PAGE",
    "While region 0 maps any page, anonymous or not, its pmd never reads as none.",
);

fn none_with_any_page<A: PmdOps>(m: &Machine<A>) -> Option<&'static str> {
    let mapped = m
        .allocated_pages()
        .any(|(_, p)| p.mapcount > 0 && p.region == 0);
    (mapped && A::pmd_none(m.peek_pmd(0))).then_some("the pmd is none while a page is mapped")
}

// INV-002-NEVERNONE counts anonymous pages only, as v6.12 promises: the file branch clears
// the pmd before it drops the folio's rmap, so "any page" would fail there.
#[test]
fn never_none_counts_anonymous_pages_only() {
    let mut sc = build::<X86_64>("file-thp-split", V6_12, Knobs::default()).unwrap();
    sc.declared.push(Declared {
        invariant: &NEVER_NONE_ANY_PAGE,
        check: Some(none_with_any_page::<X86_64>),
    });
    let Verdict::Violated(cx) = explore(&sc, bfs()).verdict else {
        panic!("the file split clears the pmd while the folio is still mapped");
    };
    assert_eq!(cx.invariant, NEVER_NONE_ANY_PAGE.id());
}

// GUP-fast's pte_access_permitted (mm/gup.c:2961), each architecture's own: x86_64's
// PRESENT|USER(|RW) (arch/x86/include/asm/pgtable.h:1711), arm's both L_PTE_PRESENT bits and
// USER (arch/arm/include/asm/pgtable.h:192: a PROT_NONE pte, whose VALID bit
// cpu_v7_set_pte_ext clears, fails), arm64's VALID|USER, powerpc's user-readable pte, and the
// generic pte_present for s390 (include/linux/pgtable.h:1008).
#[test]
fn pte_access_permitted_is_each_architectures_own() {
    fn pte<A: PmdOps>(prot: Protection) -> Pte<A> {
        A::pfn_pte(0x100, A::pte_pgprot(prot)).unwrap()
    }
    fn check<A: PmdOps>(prot: Protection, write: bool) -> bool {
        A::pte_access_permitted(pte::<A>(prot), write)
    }
    use Protection::{None as ProtNone, Read, ReadWrite};
    for (read, write, none) in [
        (
            check::<X86_64>(Read, false),
            check::<X86_64>(Read, true),
            check::<X86_64>(ProtNone, false),
        ),
        (
            check::<Arm64>(Read, false),
            check::<Arm64>(Read, true),
            check::<Arm64>(ProtNone, false),
        ),
        (
            check::<PowerpcRadix>(Read, false),
            check::<PowerpcRadix>(Read, true),
            check::<PowerpcRadix>(ProtNone, false),
        ),
    ] {
        assert_eq!((read, write, none), (true, false, false));
    }
    assert!(check::<X86_64>(ReadWrite, true) && check::<Arm64>(ReadWrite, true));
    // LPAE: a PROT_NONE pte as stored (VALID cleared) is refused; a writable one is not.
    let stored = ArmLpae::pte_mkyoung(pte::<ArmLpae>(ProtNone)).raw() & !1;
    assert!(!ArmLpae::pte_access_permitted(Pte::from_raw(stored), false));
    assert!(check::<ArmLpae>(Read, false) && !check::<ArmLpae>(Read, true));
    // s390: generic, present is enough (its PROT_NONE pte is present; pte_protnone stops
    // GUP-fast first).
    assert!(check::<S390>(ProtNone, false) && S390::pte_protnone(pte::<S390>(ProtNone)));
}

// mm/memory.c:5812-5818 (v6.12): a write fault on a present read-only pte (the special zero
// pte a read fault left) is do_wp_page: every interleaving of a read and a write fault holds.
// A zero pte in a shared mapping (no page: wp_pfn_shared) is not modelled: INV-MODEL, never
// a pte made writable in place. Two read faults only mark the pte young.
#[test]
fn a_write_fault_on_a_read_only_pte_is_do_wp_page_and_a_shared_one_is_reported() {
    let sc = ScenarioBuilder::<X86_64>::new("wp", 1)
        .thread("read", small_read(1))
        .thread("write", small_write(1))
        .build()
        .unwrap();
    assert_eq!(explore(&sc, bfs()).verdict, Verdict::Holds);
    let shared = ScenarioBuilder::<X86_64>::new("wp shared", 1)
        .setup(|s| {
            s.vma(
                0,
                0,
                1,
                pgtable::engine::state::vma::VmFlags::READ
                    | pgtable::engine::state::vma::VmFlags::WRITE
                    | pgtable::engine::state::vma::VmFlags::SHARED,
            )
            .map(|_| ())
        })
        .thread("read", small_read(1))
        .thread("write", small_write(1))
        .build()
        .unwrap();
    let (id, _) = violated(&explore(&shared, bfs()).verdict);
    assert_eq!(id, InvariantId::MODEL);
    let reads = ScenarioBuilder::<X86_64>::new("rr", 1)
        .thread("read0", small_read(1))
        .thread("read1", small_read(1))
        .build()
        .unwrap();
    assert_eq!(explore(&reads, bfs()).verdict, Verdict::Holds);
}

struct EmptyPte(usize);
impl ArchVisitor for EmptyPte {
    fn visit<A: PmdOps>(&mut self) {
        if matches!(A::ID, ArchId::ArmLpaeV4_5 | ArchId::ArmLpaeV4_5Stored) {
            return;
        }
        let fixed = build::<A>("fault-empty-pte", V6_12, Knobs::default()).unwrap();
        assert_eq!(explore(&fixed, bfs()).verdict, Verdict::Holds, "{}", A::ID);
        let sc = build::<A>("fault-empty-pte", STATIC_ZERO, Knobs::default()).unwrap();
        let verdict = explore(&sc, bfs()).verdict;
        let addr = A::GEOMETRY.pmd_size() + A::GEOMETRY.page_size();
        if A::pte_empty(addr).raw_u64() != 0 {
            let Verdict::Violated(cx) = verdict else {
                panic!(
                    "{}: the static zero must fail where the empty pte is not zero",
                    A::ID
                );
            };
            assert_eq!(cx.invariant, InvariantId::VALIDATE, "{}", A::ID);
            let trace = replay(&sc, &cx.schedule).unwrap().to_string();
            assert!(trace.contains("VIOLATED INV-000-VALIDATE"), "{trace}");
            self.0 += 1;
        } else {
            assert_eq!(verdict, Verdict::Holds, "{}", A::ID);
        }
    }
}

// Race 000's architecture parameter (../shared/reference/races.md; mm/memory.c:5058 in v6.12,
// vmf_pte_changed: pte_same with orig_pte when one was read, else pte_none): v6.12 holds on
// every backend; a static all-zero orig_pte fails on exactly the backends whose empty pte is
// not zero at that address — s390, nios2, xtensa, um and scrambled.
#[test]
fn a_static_zero_orig_pte_fails_exactly_where_the_empty_pte_is_not_zero() {
    let mut v = EmptyPte(0);
    visit_all(&mut v);
    assert_eq!(v.0, 5, "s390, nios2, xtensa, um, scrambled");
}

// --- do_wp_page (mm/memory.c:3665, v6.12): reuse or copy on a write to a read-only pte. ---

/// Runs each thread to its end, in order (thread 0 first), and returns the machine and every
/// step's label.
fn run_in_order<A: PmdOps>(sc: &Scenario<A>) -> (Machine<A>, Vec<&'static str>) {
    use pgtable::engine::program::Step;
    let mut m = sc.initial.clone();
    let mut labels = Vec::new();
    for (i, th) in sc.threads.iter().enumerate() {
        let t = Tid(i as u8);
        for _ in 0..64 {
            if m.th(t).done {
                break;
            }
            m.begin_step(false);
            match th.program.step(&mut m, t) {
                Step::Ran(l) => labels.push(l),
                Step::Blocked(w) => panic!("blocked alone on {w:?}"),
            }
            let raised = m.end_step().raised;
            assert!(raised.is_empty(), "{raised:?} after {labels:?}");
        }
        assert!(m.th(t).done, "thread {i} did not finish: {labels:?}");
    }
    (m, labels)
}

const fn small_write(slot: u8) -> AnonFault {
    AnonFault {
        huge: false,
        ..AnonFault::new(0, slot)
    }
}

const fn small_read(slot: u8) -> AnonFault {
    AnonFault {
        huge: false,
        ..AnonFault::read(0, slot)
    }
}

/// The page slot 1 of region 0 maps, and its pte.
fn slot1<A: PmdOps>(m: &Machine<A>) -> (Option<u8>, Pte<A>) {
    let t = m.table_of(m.peek_pmd(0)).expect("a table");
    let pte = m.table(t).ptes[1];
    (m.page_of_pfn(A::pte_pfn(pte)), pte)
}

// A write after a read fault: the zero pte's vm_normal_page is NULL, so wp_page_copy maps a
// zeroed folio, exclusive, writable and dirty; nothing else is allocated or referenced. On
// x86_64 and on s390, whose empty pte is not zero (ptep_clear_flush leaves _PAGE_INVALID).
#[test]
fn a_v6_12_write_after_a_read_fault_copies_the_zero_page() {
    fn check<A: PmdOps>() {
        let sc = ScenarioBuilder::<A>::new("zero cow", 1)
            .thread("read", small_read(1))
            .thread("write", small_write(1))
            .build()
            .expect("builds");
        let (m, labels) = run_in_order(&sc);
        let (page, pte) = slot1(&m);
        let p = page.expect("the write maps a page");
        assert!(A::pte_write(pte) && A::pte_dirty(pte), "{}: {pte:?}", A::ID);
        let pg = m.page(p);
        assert_eq!((pg.mapcount, pg.refcount, pg.anon_exclusive), (1, 1, true));
        assert_eq!(m.allocated_pages().count(), 1);
        for l in [
            "do_wp_page: vm_normal_page is NULL (the zero page), copy",
            "wp_page_copy: folio_prealloc (zeroed)",
            "wp_page_copy: ptep_clear_flush",
        ] {
            assert!(
                labels.contains(&l),
                "{}: {l} missing from {labels:?}",
                A::ID
            );
        }
    }
    check::<X86_64>();
    check::<S390>();
}

/// Region 0 with `p` mapped write-protected at slot 1 (as after fork), `extra` more
/// references (pins) and, with `exclusive`, PageAnonExclusive.
fn wrprotected(extra: usize, exclusive: bool) -> Scenario<X86_64> {
    ScenarioBuilder::<X86_64>::new("wp", 1)
        .setup(move |s| {
            let p = s.page(false)?;
            s.map_pte(0, 1, p, pgtable::engine::setup::PteInit::WRPROTECTED)?;
            for _ in 0..extra {
                s.get_page(p)?;
            }
            s.page_anon_exclusive(p, exclusive)
        })
        .thread("write", small_write(1))
        .build()
        .expect("builds")
}

// wp_can_reuse_anon_folio (:3595): the only reference, under the folio lock, is reused in
// place; PageAnonExclusive is reused without a look at the refcount (a pinned exclusive
// page stays the pinner's); a pinned page that is not exclusive is copied, and the pin keeps
// the old page.
#[test]
fn v6_12_do_wp_page_reuses_the_only_reference_and_copies_a_pinned_page() {
    let (m, labels) = run_in_order(&wrprotected(0, false));
    let (page, pte) = slot1(&m);
    assert_eq!(page, Some(0), "{labels:?}");
    assert!(X86_64::pte_write(pte) && X86_64::pte_dirty(pte));
    assert!(m.page(0).anon_exclusive && m.page(0).lock.holder().is_none());
    assert!(labels.contains(&"wp_can_reuse_anon_folio: folio_trylock"));

    let (m, labels) = run_in_order(&wrprotected(1, true));
    assert_eq!(slot1(&m).0, Some(0), "{labels:?}");
    assert!(labels.contains(&"do_wp_page: PageAnonExclusive, reuse"));

    let (m, labels) = run_in_order(&wrprotected(1, false));
    let (page, pte) = slot1(&m);
    assert_eq!(page, Some(1), "{labels:?}");
    assert!(X86_64::pte_write(pte));
    let (old, new) = (m.page(0), m.page(1));
    assert_eq!(
        (old.mapcount, old.refcount),
        (0, 1),
        "the pin's reference is left"
    );
    assert_eq!(
        (new.mapcount, new.refcount, new.anon_exclusive),
        (1, 1, true)
    );
    assert!(labels.contains(&"wp_page_copy: folio_prealloc, __wp_page_copy_user"));
}

static ONE_COPY: Invariant = Invariant::new(
    "INV-TEST-ONE-COPY",
    "Once the faults return, the page slot 1 maps (if any: a write fault that lost to the read fault's zero pte returns for the access to retry) has one mapping, one reference and PageAnonExclusive, and every other page has neither a mapping nor a reference.",
);

fn one_copy<A: PmdOps>(m: &Machine<A>) -> Option<&'static str> {
    if !(0..3).all(|t| m.th(Tid(t)).done) {
        return None;
    }
    let mapped = m
        .table_of(m.peek_pmd(0))
        .and_then(|t| m.page_of_pfn(A::pte_pfn(m.table(t).ptes[1])));
    for (q, pg) in m.allocated_pages() {
        let want = if Some(q) == mapped { (1, 1) } else { (0, 0) };
        if (pg.mapcount, pg.refcount) != want || (Some(q) == mapped && !pg.anon_exclusive) {
            return Some("a page kept a mapping or a reference it should not");
        }
    }
    None
}

// A read and two write faults on one slot: whichever way they interleave (a do_anonymous_page
// install, a zero pte copied by one write while the other's pte_same recheck fails after it
// allocated, ...), no page is left with a mapping or a reference it should not have. Every
// interleaving, every search.
#[test]
fn two_v6_12_write_faults_on_a_zero_pte_leave_one_copy() {
    let sc = ScenarioBuilder::<X86_64>::new("two cows", 1)
        .thread("read", small_read(1))
        .thread("write", small_write(1))
        .thread("write", small_write(1))
        .state_invariant(&ONE_COPY, one_copy::<X86_64>)
        .build()
        .expect("builds");
    for search in [Search::DepthFirst, Search::BreadthFirst] {
        for por in [false, true] {
            let out = explore(
                &sc,
                Options {
                    search,
                    por,
                    audit_footprints: true,
                    ..Options::default()
                },
            );
            if let Verdict::Violated(cx) = &out.verdict {
                panic!(
                    "{search:?} por={por}:\n{}",
                    replay(&sc, &cx.schedule).unwrap()
                );
            }
            assert_eq!(out.verdict, Verdict::Holds, "{search:?} por={por}");
        }
    }
}

/// Steps thread `t` until a step's label is `until` (inclusive), or to its end with `None`.
fn step_until<A: PmdOps>(
    sc: &Scenario<A>,
    m: &mut Machine<A>,
    t: Tid,
    until: Option<&str>,
    labels: &mut Vec<&'static str>,
) {
    use pgtable::engine::program::Step;
    for _ in 0..64 {
        if m.th(t).done {
            assert!(until.is_none(), "{until:?} never ran: {labels:?}");
            return;
        }
        m.begin_step(false);
        let Step::Ran(l) = sc.threads[usize::from(t.0)].program.step(m, t) else {
            panic!("blocked: {labels:?}");
        };
        labels.push(l);
        let raised = m.end_step().raised;
        assert!(raised.is_empty(), "{raised:?} after {labels:?}");
        if Some(l) == until {
            return;
        }
    }
    panic!("did not finish");
}

// wp_page_copy drops the pte lock to allocate: a second COW of the same zero pte that runs
// in that window wins, and the first one's pte_same recheck fails; it puts its new folio back.
#[test]
fn the_loser_of_two_v6_12_cows_puts_its_copy_back() {
    let sc = ScenarioBuilder::<X86_64>::new("two cows", 1)
        .thread("read", small_read(1))
        .thread("write", small_write(1))
        .thread("write", small_write(1))
        .build()
        .expect("builds");
    let mut m = sc.initial.clone();
    let mut labels = Vec::new();
    step_until(&sc, &mut m, Tid(0), None, &mut labels);
    let alloc = Some("wp_page_copy: folio_prealloc (zeroed)");
    step_until(&sc, &mut m, Tid(1), alloc, &mut labels);
    step_until(&sc, &mut m, Tid(2), None, &mut labels);
    step_until(&sc, &mut m, Tid(1), None, &mut labels);
    assert!(
        labels.contains(&"wp_page_copy: !pte_same, update_mmu_tlb"),
        "{labels:?}"
    );
    assert_eq!(one_copy(&m), None);
    let (mapped, _) = slot1(&m);
    assert_eq!(mapped, Some(1), "the second write's copy is mapped");
    assert_eq!((m.page(0).mapcount, m.page(0).refcount), (0, 0));
}

// --- GUP's slow path (mm/gup.c:1427, v6.12): follow_page_mask, faultin_page, retry. ---

/// Steps thread 0 of `sc` alone to its end; returns the machine and the labels.
fn slow_gup_alone<A: PmdOps>(sc: &Scenario<A>) -> (Machine<A>, Vec<&'static str>) {
    let mut m = sc.initial.clone();
    let mut labels = Vec::new();
    step_until(sc, &mut m, Tid(0), None, &mut labels);
    (m, labels)
}

// On an empty pmd the walk finds no table, faults (the huge zero page for a read where a THP
// may go, a zero pte for a small read, a new anonymous page for a write), walks again and
// grabs what the fault mapped, all under one mmap_lock. On x86_64 and on s390, whose empty
// pte and pmd are not zero.
#[test]
fn v6_12_slow_gup_faults_in_and_walks_again() {
    fn check<A: PmdOps>() {
        let one = |gup: GupSlow| {
            let sc = ScenarioBuilder::<A>::new("gup", 1)
                .invariants(InvariantSet::all())
                .thread("gup", gup)
                .build()
                .expect("builds");
            slow_gup_alone(&sc)
        };
        let (m, labels) = one(GupSlow::read(0, 1));
        for l in [
            "follow_pmd_mask: pmdp_get_lockless: none or !pmd_present, no_page_table",
            "faultin_page: handle_mm_fault",
            "faultin_page: handle_mm_fault returned, retry",
            "follow_huge_pmd: try_grab_folio",
            "__get_user_pages_locked: mmap_read_unlock, one page",
        ] {
            assert!(labels.contains(&l), "{}: {l} missing: {labels:?}", A::ID);
        }
        assert_eq!(
            m.allocated_pages().count(),
            0,
            "{}: the huge zero page",
            A::ID
        );

        let small = |write| GupSlow {
            huge: false,
            ..if write {
                GupSlow::write(0, 1)
            } else {
                GupSlow::read(0, 1)
            }
        };
        let (_, labels) = one(small(false));
        assert!(
            labels.contains(&"follow_page_pte: is_zero_pfn, try_grab_folio"),
            "{}: {labels:?}",
            A::ID
        );
        let (m, labels) = one(small(true));
        assert!(
            labels.contains(&"follow_page_pte: vm_normal_page, try_grab_folio"),
            "{}: {labels:?}",
            A::ID
        );
        let (page, pte) = slot1(&m);
        let pg = m.page(page.expect("the write fault maps a page"));
        assert!(A::pte_write(pte), "{}", A::ID);
        assert_eq!(
            (pg.mapcount, pg.refcount),
            (1, 2),
            "{}: GUP's reference",
            A::ID
        );
    }
    check::<X86_64>();
    check::<S390>();
}

// A FOLL_WRITE walk over a write-protected pte gets NULL from can_follow_write_pte, takes a
// write fault (do_wp_page copies the shared page), walks again and grabs the copy; a pin's
// old page keeps only the pin.
#[test]
fn v6_12_slow_gup_write_breaks_cow_before_it_grabs() {
    let sc = ScenarioBuilder::<X86_64>::new("gup cow", 1)
        .invariants(InvariantSet::all())
        .setup(|s| {
            let p = s.page(false)?;
            s.map_pte(0, 1, p, pgtable::engine::setup::PteInit::WRPROTECTED)?;
            s.get_page(p)
        })
        .thread("gup", GupSlow::write(0, 1))
        .build()
        .expect("builds");
    let (m, labels) = slow_gup_alone(&sc);
    for l in [
        "follow_page_pte: FOLL_WRITE, !can_follow_write_pte: NULL",
        "faultin_page: handle_mm_fault(FAULT_FLAG_WRITE)",
        "wp_page_copy: folio_prealloc, __wp_page_copy_user",
        "follow_page_pte: vm_normal_page, try_grab_folio",
    ] {
        assert!(labels.contains(&l), "{l} missing: {labels:?}");
    }
    let (page, _) = slot1(&m);
    assert_eq!(page, Some(1), "{labels:?}");
    assert_eq!((m.page(0).mapcount, m.page(0).refcount), (0, 1));
    assert_eq!((m.page(1).mapcount, m.page(1).refcount), (1, 2));
}

/// Region 0 mapped by a THP; a split, a MADV_DONTNEED and `gup`.
fn thp_vs_gup<A: PmdOps>(gup: GupSlow) -> Scenario<A> {
    ScenarioBuilder::<A>::new("thp vs slow gup", 1)
        .invariants(InvariantSet::all())
        .huge(0)
        .unwrap()
        .thread("split", SplitHugePmd::new(0))
        .thread("zap", MadvDontneed::new(0))
        .thread("gup", gup)
        .build()
        .expect("builds")
}

fn every_search_with_footprints<A: PmdOps>(sc: &Scenario<A>) -> Vec<Verdict> {
    let mut verdicts = Vec::new();
    for search in [Search::DepthFirst, Search::BreadthFirst] {
        for por in [false, true] {
            let out = explore(
                sc,
                Options {
                    search,
                    por,
                    audit_footprints: true,
                    ..Options::default()
                },
            );
            verdicts.push(out.verdict);
        }
    }
    // Exhausted, every search agrees on what breaks and DFS and BFS on the state count;
    // the first violations above are among what breaks.
    let broken = common::broken_under_every_search_with_footprints(sc);
    for v in &verdicts {
        match v {
            Verdict::Holds => assert!(broken.is_empty(), "{}: {broken:?}", sc.name),
            Verdict::Violated(cx) => assert!(broken.contains(cx.invariant.id()), "{}", sc.name),
            Verdict::Incomplete => panic!("{}: incomplete", sc.name),
        }
    }
    verdicts
}

// A split, a zap and a slow GUP (read or write) of one THP, every interleaving, every
// search, footprints audited: whatever the walk grabs is mapped there when it grabs it, on
// every fixed THP backend.
#[test]
fn v6_12_slow_gup_grabs_only_mapped_pages_against_split_and_zap() {
    struct Every(usize);
    impl ArchVisitor for Every {
        fn visit<A: PmdOps>(&mut self) {
            if !common::fixed_thp::<A>() {
                return;
            }
            for gup in [GupSlow::read(0, 1), GupSlow::write(0, 1)] {
                let sc = thp_vs_gup::<A>(gup);
                for v in every_search_with_footprints(&sc) {
                    if let Verdict::Violated(cx) = &v {
                        panic!("{} {gup:?}:\n{}", A::ID, replay(&sc, &cx.schedule).unwrap());
                    }
                    assert_eq!(v, Verdict::Holds, "{} {gup:?}", A::ID);
                }
            }
            self.0 += 1;
        }
    }
    let mut e = Every(0);
    visit_all(&mut e);
    assert!(e.0 >= 8);
}

// Mutation: follow_pmd_mask keeps its lockless read once it holds the pmd lock (no
// `pmdval = *pmd`, mm/gup.c:984). A zap that clears the huge pmd and drops the THP between
// the read and the lock leaves the walk grabbing a page no longer mapped: INV-002-DECODE,
// under every search.
#[test]
fn a_slow_gup_without_the_recheck_under_the_pmd_lock_grabs_a_zapped_thp() {
    let gup = GupSlow {
        no_recheck_under_lock: true,
        ..GupSlow::read(0, 1)
    };
    let sc = thp_vs_gup::<X86_64>(gup);
    for v in every_search_with_footprints(&sc) {
        assert_eq!(violated(&v).0, InvariantId::DECODE, "{v:?}");
    }
    let Verdict::Violated(cx) = explore(&sc, bfs()).verdict else {
        unreachable!()
    };
    let trace = replay(&sc, &cx.schedule).unwrap().to_string();
    let read = trace.find("follow_pmd_mask: pmdp_get_lockless: pmd_leaf");
    let lock = trace.find("follow_pmd_mask: pmd_lock");
    assert!(read.is_some() && lock > read, "{trace}");
    assert!(trace.contains("INV-002-DECODE"), "{trace}");
}

// --- do_cow_fault and do_shared_fault (mm/memory.c:5342, :5384, v6.12). ---

/// Region 0 of a file mapping (shared with `shared`, else private) with page 0 cached at
/// index 1, `pins` extra references on it, and `threads` (one or two) faulting at slot 1.
fn file_write<A: PmdOps>(
    shared: bool,
    pins: usize,
    threads: &[(&'static str, bool)],
) -> Scenario<A> {
    use pgtable::engine::ops::file_fault::{FileReadFault, TableAlloc};
    use pgtable::engine::state::vma::VmFlags;
    let mut b = ScenarioBuilder::<A>::new("file write fault", 1)
        .invariants(InvariantSet::all())
        .file_backed()
        .setup(move |s| {
            let p = s.page(false)?;
            s.cache_page(1, p)?;
            for _ in 0..pins {
                s.get_page(p)?;
            }
            if shared {
                s.vma(0, 0, 1, VmFlags::READ | VmFlags::WRITE | VmFlags::SHARED)?;
            }
            Ok(())
        })
        .state_invariant(&FILE_REFS, file_refs::<A>);
    for &(name, write) in threads {
        b = b.thread(
            name,
            FileReadFault {
                from_cache: true,
                write,
                ..FileReadFault::new(0, 1, 0, TableAlloc::Prealloc)
            },
        );
    }
    b.build().expect("builds")
}

static FILE_REFS: Invariant = Invariant::new(
    "INV-TEST-FILE-REFS",
    "Once every fault has returned, slot 1 maps a page, every page's references are its mappings plus the page cache's, no page is locked, and an anonymous page mapped is PageAnonExclusive.",
);

fn file_refs<A: PmdOps>(m: &Machine<A>) -> Option<&'static str> {
    if !(0..2).all(|t| m.th(Tid(t)).done) {
        return None;
    }
    if m.translate(0, 1).is_none() {
        return Some("slot 1 maps nothing");
    }
    for (q, pg) in m.allocated_pages() {
        let cached = u8::from(m.cache_get(1) == Some(q));
        if i32::from(pg.refcount) != i32::from(pg.mapcount) + i32::from(cached) {
            return Some("a page's references are not its mappings and the cache's");
        }
        if pg.lock.holder().is_some() {
            return Some("a page is left locked");
        }
        if !pg.file && pg.mapcount > 0 && !pg.anon_exclusive {
            return Some("a mapped copy is not PageAnonExclusive");
        }
    }
    None
}

// Alone: a private write fault maps an exclusive, writable, dirty copy and leaves the cache
// page as it found it; a shared one maps the cache page itself, writable and dirty. On
// x86_64 and s390 (whose empty pte is not zero).
#[test]
fn v6_12_file_write_faults_copy_in_private_and_share_in_shared_mappings() {
    fn check<A: PmdOps>() {
        let (m, labels) = run_in_order(&file_write::<A>(false, 0, &[("cow", true)]));
        let (page, pte) = slot1(&m);
        assert_eq!(page, Some(1), "{}: the copy: {labels:?}", A::ID);
        assert!(A::pte_write(pte) && A::pte_dirty(pte), "{}", A::ID);
        let (cache, copy) = (m.page(0), m.page(1));
        assert_eq!((cache.mapcount, cache.refcount), (0, 1), "{}", A::ID);
        assert_eq!(
            (copy.mapcount, copy.refcount, copy.anon_exclusive, copy.file),
            (1, 1, true, false),
            "{}",
            A::ID
        );
        for l in [
            "do_cow_fault: vmf_anon_prepare, folio_prealloc",
            "do_cow_fault: unlock_page, put_page(vmf->page)",
        ] {
            assert!(labels.contains(&l), "{}: {l} missing: {labels:?}", A::ID);
        }

        let (m, labels) = run_in_order(&file_write::<A>(true, 0, &[("shared", true)]));
        let (page, pte) = slot1(&m);
        assert_eq!(page, Some(0), "{}: the cache page: {labels:?}", A::ID);
        assert!(A::pte_write(pte) && A::pte_dirty(pte), "{}", A::ID);
        assert_eq!(
            (m.page(0).mapcount, m.page(0).refcount),
            (1, 2),
            "{}",
            A::ID
        );
        assert_eq!(m.allocated_pages().count(), 1);
        assert!(
            labels.contains(&"fault_dirty_shared_page: folio_mark_dirty, folio_unlock"),
            "{}: {labels:?}",
            A::ID
        );
    }
    check::<X86_64>();
    check::<S390>();
}

// A write and a read fault on one slot, private and shared, every interleaving, every
// search, footprints audited: whichever maps the slot first, the other backs off
// (vmf_pte_changed) and puts back what it took (do_cow_fault its copy and the cache page's
// reference). An extra reference the faults know nothing of breaks the same predicate.
#[test]
fn v6_12_file_write_and_read_faults_balance_their_references() {
    for shared in [false, true] {
        let sc = file_write::<X86_64>(shared, 0, &[("write", true), ("read", false)]);
        for v in every_search_with_footprints(&sc) {
            if let Verdict::Violated(cx) = &v {
                panic!("shared={shared}:\n{}", replay(&sc, &cx.schedule).unwrap());
            }
            assert_eq!(v, Verdict::Holds, "shared={shared}");
        }
        let pinned = file_write::<X86_64>(shared, 1, &[("write", true), ("read", false)]);
        assert_eq!(
            violated(&explore(&pinned, bfs()).verdict).0,
            FILE_REFS.id(),
            "shared={shared}"
        );
    }
}

// --- wp_page_shared (mm/memory.c:3555, v6.12): a write to a read-only shared pte. ---

/// A shared file mapping whose cache page 0 (index 1) is mapped read-only at slot 1, and
/// `writes` write faults (the v6.12 fault's do_wp_page) on it.
fn shared_wrprotected(writes: usize) -> Scenario<X86_64> {
    use pgtable::engine::state::vma::VmFlags;
    let mut b = ScenarioBuilder::<X86_64>::new("wp shared", 1)
        .invariants(InvariantSet::all())
        .file_backed()
        .setup(|s| {
            let p = s.page(false)?;
            s.cache_page(1, p)?;
            s.map_pte(0, 1, p, pgtable::engine::setup::PteInit::WRPROTECTED)?;
            s.vma(0, 0, 1, VmFlags::READ | VmFlags::WRITE | VmFlags::SHARED)?;
            Ok(())
        })
        .state_invariant(&SHARED_REUSED, shared_reused);
    for _ in 0..writes {
        b = b.thread("write", small_write(1));
    }
    b.build().expect("builds")
}

static SHARED_REUSED: Invariant = Invariant::new(
    "INV-TEST-SHARED-REUSED",
    "Once the write faults return, slot 1 still maps the cache page, writable and dirty, with one mapping, the mapping's and the cache's references and no lock; nothing else is allocated.",
);

fn shared_reused(m: &Machine<X86_64>) -> Option<&'static str> {
    if !(0..2).all(|t| m.th(Tid(t)).done) {
        return None;
    }
    let (page, pte) = slot1(m);
    let pg = m.page(0);
    let ok = page == Some(0)
        && X86_64::pte_write(pte)
        && X86_64::pte_dirty(pte)
        && (pg.mapcount, pg.refcount) == (1, 2)
        && pg.lock.holder().is_none()
        && m.allocated_pages().count() == 1;
    (!ok).then_some("the shared page was not reused in place, or a reference or lock leaked")
}

// wp_page_shared without ->page_mkwrite (shmem): the cache page is made writable in place
// (wp_page_reuse), then locked, marked dirty, unlocked and its extra reference put. Alone,
// and two writes racing on one pte under every search with the footprint audit (the second
// finds the pte already writable, or reuses it again).
#[test]
fn v6_12_wp_page_shared_reuses_the_cache_page_in_place() {
    let (m, labels) = run_in_order(&shared_wrprotected(1));
    for l in [
        "do_wp_page: VM_SHARED, wp_page_shared",
        "wp_page_shared: folio_lock",
        "fault_dirty_shared_page: folio_mark_dirty, folio_unlock",
        "wp_page_shared: folio_put",
    ] {
        assert!(labels.contains(&l), "{l} missing: {labels:?}");
    }
    let (page, pte) = slot1(&m);
    assert_eq!(page, Some(0));
    assert!(X86_64::pte_write(pte) && X86_64::pte_dirty(pte));
    assert_eq!((m.page(0).mapcount, m.page(0).refcount), (1, 2));

    let sc = shared_wrprotected(2);
    for v in every_search_with_footprints(&sc) {
        if let Verdict::Violated(cx) = &v {
            panic!("{}", replay(&sc, &cx.schedule).unwrap());
        }
        assert_eq!(v, Verdict::Holds);
    }
}

// --- FOLL_PIN and FAULT_FLAG_UNSHARE (mm/gup.c:904, mm/memory.c:3734, v6.12). ---

/// Two regions of one mm sharing one anonymous page write-protected, as fork leaves it
/// (slot 1 of each, not PageAnonExclusive), then `gup` on region 0 and a write fault there.
fn forked_then_pinned(gup: GupSlow) -> Scenario<X86_64> {
    use pgtable::engine::setup::PteInit;
    ScenarioBuilder::<X86_64>::new("pin after fork", 2)
        .invariants(InvariantSet::all())
        .setup(|s| {
            let p = s.page(false)?;
            s.map_pte(0, 1, p, PteInit::WRPROTECTED)?;
            s.map_pte(1, 1, p, PteInit::WRPROTECTED)?;
            s.page_anon_exclusive(p, false)
        })
        .thread("gup", gup)
        .thread("write", small_write(1))
        .state_invariant(&PIN_COHERENT, pin_coherent)
        .build()
        .expect("builds")
}

static PIN_COHERENT: Invariant = Invariant::new(
    "INV-TEST-PIN-COHERENT",
    "Once GUP and the write fault return, an anonymous page holding a reference beyond its mappings (GUP's) is the PageAnonExclusive page region 0 maps at slot 1: the pin and the process see one page (CVE-2020-29374's property).",
);

fn pin_coherent(m: &Machine<X86_64>) -> Option<&'static str> {
    if !(0..2).all(|t| m.th(Tid(t)).done) {
        return None;
    }
    let mapped = m.translate(0, 1).and_then(|pfn| m.page_of_pfn(pfn));
    for (q, pg) in m.allocated_pages() {
        let pinned = i32::from(pg.refcount) > i32::from(pg.mapcount);
        if pinned && (Some(q) != mapped || !pg.anon_exclusive) {
            return Some("GUP's page is not the exclusive page the process maps");
        }
    }
    None
}

// A read pin of a page fork shared: follow_page_pte returns -EMLINK (gup_must_unshare),
// the FAULT_FLAG_UNSHARE fault copies the page and maps the copy read-only and exclusive,
// the walk pins the copy; the other mapping keeps the old page.
#[test]
fn a_v6_12_read_pin_of_a_shared_anonymous_page_unshares_it_first() {
    let sc = forked_then_pinned(GupSlow {
        huge: false,
        ..GupSlow::pin(0, 1)
    });
    let mut m = sc.initial.clone();
    let mut labels = Vec::new();
    step_until(&sc, &mut m, Tid(0), None, &mut labels);
    for l in [
        "follow_page_pte: !pte_write, gup_must_unshare: -EMLINK",
        "faultin_page: -EMLINK: handle_mm_fault(FAULT_FLAG_UNSHARE)",
        "handle_pte_fault: FAULT_FLAG_UNSHARE, !pte_write, do_wp_page",
        "wp_page_copy: folio_prealloc, __wp_page_copy_user",
        "follow_page_pte: vm_normal_page, try_grab_folio",
    ] {
        assert!(labels.contains(&l), "{l} missing: {labels:?}");
    }
    let (page, pte) = slot1(&m);
    assert_eq!(page, Some(1), "{labels:?}");
    assert!(!X86_64::pte_write(pte), "an unshare grants no write access");
    let (old, copy) = (m.page(0), m.page(1));
    assert_eq!((old.mapcount, old.refcount), (1, 1));
    assert_eq!(
        (copy.mapcount, copy.refcount, copy.anon_exclusive),
        (1, 2, true)
    );
}

// Pin and write fault in every order, every search, footprints audited: with FOLL_PIN the
// pinned page is the one the process maps at the end (the write finds it exclusive and
// reuses it). A FOLL_GET walk does not unshare: a write after it copies away from the page
// GUP holds (what a pin must never allow).
#[test]
fn a_v6_12_pin_stays_coherent_with_later_writes_and_a_plain_get_does_not() {
    let pin = GupSlow {
        huge: false,
        ..GupSlow::pin(0, 1)
    };
    let sc = forked_then_pinned(pin);
    for v in every_search_with_footprints(&sc) {
        if let Verdict::Violated(cx) = &v {
            panic!("{}", replay(&sc, &cx.schedule).unwrap());
        }
        assert_eq!(v, Verdict::Holds);
    }
    let get = forked_then_pinned(GupSlow { pin: false, ..pin });
    for v in every_search_with_footprints(&get) {
        assert_eq!(violated(&v).0, PIN_COHERENT.id(), "{v:?}");
    }
}

// GUP-fast of a page mapped in two regions (as fork leaves it) keeps a page mapped at the
// address: no INV-002-DECODE. (Its judgement once asked only the page's recorded region,
// the last one mapped, and reported this as a violation.)
#[test]
fn gup_fast_of_a_page_mapped_in_two_regions_is_no_decode_violation() {
    use pgtable::engine::setup::PteInit;
    let sc = ScenarioBuilder::<X86_64>::new("gup-fast two regions", 2)
        .invariants(InvariantSet::all())
        .setup(|s| {
            let p = s.page(false)?;
            s.map_pte(0, 1, p, PteInit::WRPROTECTED)?;
            s.map_pte(1, 1, p, PteInit::WRPROTECTED)
        })
        .thread("gup", GupFast::new(0, 1))
        .build()
        .unwrap();
    let (m, labels) = run_in_order(&sc);
    assert!(
        labels.contains(&"gup_fast_pte_range: the pte is unchanged"),
        "{labels:?}"
    );
    assert_eq!(m.page(0).refcount, 3, "two mappings and GUP's reference");
    assert_eq!(explore(&sc, bfs()).verdict, Verdict::Holds);
}

/// Clears pmd 0 without unmapping anything: a page-table free that forgot the zap.
struct ClearPmd0;
impl<A: PmdOps> Program<A> for ClearPmd0 {
    fn name(&self) -> &'static str {
        "pmd_clear without a zap"
    }
    fn step(&self, m: &mut Machine<A>, t: Tid) -> pgtable::engine::program::Step {
        m.pmd_set(0, A::pmd_empty());
        m.th_mut(t).done = true;
        pgtable::engine::program::Step::Ran("pmd_clear, no zap")
    }
}

// INV-002-NEVERNONE counts every region a page is mapped in: a pmd cleared under a page that
// region 0 and region 1 both map breaks it, as it does when only region 0 maps the page.
// (Pages once recorded one region, the last mapped: the two-region case read as "holds".)
#[test]
fn never_none_sees_a_page_mapped_in_two_regions() {
    use pgtable::engine::setup::PteInit;
    for twice in [false, true] {
        let sc = ScenarioBuilder::<X86_64>::new("clear under a shared page", 2)
            .invariants(InvariantSet::all())
            .setup(move |s| {
                let p = s.page(false)?;
                s.map_pte(0, 1, p, PteInit::WRPROTECTED)?;
                if twice {
                    s.map_pte(1, 1, p, PteInit::WRPROTECTED)?;
                }
                Ok(())
            })
            .thread("clear", ClearPmd0)
            .build()
            .unwrap();
        assert_eq!(sc.initial.page(0).maps_in(0), 1);
        assert_eq!(sc.initial.page(0).maps_in(1), u8::from(twice));
        let v = explore(&sc, bfs()).verdict;
        assert_eq!(violated(&v).0, InvariantId::NEVER_NONE, "twice={twice}");
    }
}

// --- __pte_offset_map clears a bad pmd for every caller (mm/pgtable-generic.c:297). ---

/// Writes `raw` into region 0's pmd: a corrupted entry, as a stray write leaves it.
struct Corrupt(u64);

impl<A: PmdOps> Program<A> for Corrupt {
    fn name(&self) -> &'static str {
        "a stray write"
    }
    fn step(&self, m: &mut Machine<A>, t: Tid) -> pgtable::engine::program::Step {
        m.pmd_set(0, pgtable::Pmd::<A>::try_from_u64(self.0).unwrap());
        m.th_mut(t).done = true;
        pgtable::engine::program::Step::Ran("pmd = a bad value")
    }
}

// A table pmd with only _PAGE_PRESENT (x86_64's pmd_bad wants _KERNPG_TABLE) is neither none
// nor huge: the fault's pte_offset_map_nolock and the slow GUP's pte_offset_map_lock clear
// it with pmd_clear_bad and return NULL (the fault returns 0, GUP faults in). Neither leaves
// the bad value there.
#[test]
fn v6_12_fault_and_slow_gup_clear_a_bad_pmd() {
    let raw = (Machine::<X86_64>::table_pfn(0) << 12) | 1;
    assert!(X86_64::pmd_bad(pgtable::Pmd::try_from_u64(raw).unwrap()));
    let fault = AnonFault {
        huge: false,
        ..AnonFault::new(0, 1)
    };
    let gup = GupSlow {
        huge: false,
        ..GupSlow::read(0, 1)
    };
    bad_pmd_cleared_by(fault, raw, "pte_offset_map_nolock: pmd_bad, pmd_clear_bad");
    bad_pmd_cleared_by(
        gup,
        raw,
        "pte_offset_map_lock: __pte_offset_map: pmd_bad, pmd_clear_bad",
    );
}

#[track_caller]
fn bad_pmd_cleared_by(path: impl Program<X86_64> + 'static, raw: u64, label: &str) {
    use pgtable::engine::program::Step;
    let sc = ScenarioBuilder::<X86_64>::new("bad pmd", 1)
        .thread("corrupt", Corrupt(raw))
        .thread("path", path)
        .build()
        .unwrap();
    // The stray write, then the path alone to its end.
    let mut m = sc.initial.clone();
    let mut labels = Vec::new();
    for t in [0, 1] {
        while !m.th(Tid(t)).done {
            m.begin_step(false);
            match sc.threads[usize::from(t)].program.step(&mut m, Tid(t)) {
                Step::Ran(l) => labels.push(l),
                Step::Blocked(w) => panic!("blocked on {w:?} after {labels:?}"),
            }
            m.end_step();
            assert!(labels.len() < 100, "{labels:?}");
        }
    }
    assert!(labels.iter().any(|l| l.contains(label)), "{labels:#?}");
    assert_ne!(m.peek_pmd(0).raw_u64(), raw, "{labels:#?}");
}

// Every backend stores v6.12's three migration types and the page's pfn in a pte, as
// `try_to_migrate_one` leaves it, and reads them back (`pte_to_swp_entry`).
#[test]
fn every_backend_holds_a_migration_entry_the_setup_writes() {
    use pgtable::engine::setup::MigrationKind;
    struct Every(usize);
    impl ArchVisitor for Every {
        fn visit<A: PmdOps>(&mut self) {
            for kind in [
                MigrationKind::Read,
                MigrationKind::ReadExclusive,
                MigrationKind::Write,
            ] {
                let sc = ScenarioBuilder::<A>::new("migration entry", 1)
                    .setup(|s| {
                        let p = s.page(false)?;
                        s.migration_pte(0, 1, p, kind)
                    })
                    .thread("fault", AnonFault::new(0, 1))
                    .build()
                    .unwrap_or_else(|e| panic!("{}: {e}", A::ID));
                let m = &sc.initial;
                let table = m.table_of(m.peek_pmd(0)).unwrap();
                let pte = m.table(table).ptes[1];
                assert!(!A::pte_present(pte) && !A::pte_none(pte), "{}", A::ID);
                let swp = A::pte_to_swp_entry(pte);
                assert_eq!(
                    (MigrationKind::of_swap_type(swp.ty()), swp.offset()),
                    (Some(kind), Machine::<A>::page_pfn(0)),
                    "{}",
                    A::ID
                );
            }
            self.0 += 1;
        }
    }
    let mut every = Every(0);
    visit_all(&mut every);
    assert!(every.0 >= 14, "{}", every.0);
}
