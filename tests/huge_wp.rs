//! A write fault on a write-protected anonymous THP as v6.12 handles it: `wp_huge_pmd` →
//! `do_huge_pmd_wp_page` (mm/huge_memory.c:1818) reuses the THP in place when it is
//! `PageAnonExclusive` or holds the only reference, and otherwise falls back to
//! `__split_huge_pmd` and the pte-level `do_wp_page` (mm/memory.c:5937-5945). Written as an
//! outside crate writes scenarios: the initial THP comes from `Setup::map_pmd`, and the
//! thread that holds the folio lock is the test's own program.

use pgtable::arch::{ArchVisitor, X86_64, visit_all};
use pgtable::engine::explore::{Verdict, explore};
use pgtable::engine::invariant::{InvariantId, InvariantSet};
use pgtable::engine::mm::{Machine, SLOTS};
use pgtable::engine::ops::v6_12::{
    fault::{AnonFault, FaultFlags},
    gup::GupFast,
    zap::MadvDontneed,
};
use pgtable::engine::program::{Program, Step, Wait};
use pgtable::engine::setup::PteInit;
use pgtable::engine::{Scenario, ScenarioBuilder, ScenarioError, Tid};
use pgtable::{ArchId, PmdOps, PteOps};

mod common;
use common::run_thread;

/// How the THP at region 0 starts: write-protected, and
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Thp {
    /// `PageAnonExclusive` (a fork that could not share it, a reuse before).
    Exclusive,
    /// not exclusive, with the only reference (the other process unmapped it after fork).
    OnlyReference,
    /// not exclusive, with a second reference (a pin, the other process's mapping).
    Shared,
}

impl Thp {
    const ALL: [Thp; 3] = [Thp::Exclusive, Thp::OnlyReference, Thp::Shared];
}

/// Page 0, a huge page, mapped write-protected by region 0's pmd as `thp` says.
fn builder<A: PmdOps>(thp: Thp) -> ScenarioBuilder<A> {
    ScenarioBuilder::<A>::new("write to a write-protected THP", 1).setup(move |s| {
        let p = s.page(true)?;
        s.map_pmd(0, p, PteInit::WRPROTECTED)?;
        s.page_anon_exclusive(p, thp == Thp::Exclusive)?;
        if thp == Thp::Shared {
            s.get_page(p)?;
        }
        Ok(())
    })
}

fn writer() -> AnonFault {
    AnonFault::new(0, 0)
}

/// The test's own thread: `folio_lock` of page 0, then `folio_unlock` (reclaim, migration,
/// khugepaged all lock a folio this way).
struct FolioLocker;

impl<A: PmdOps> Program<A> for FolioLocker {
    fn name(&self) -> &'static str {
        "folio_lock, folio_unlock (test)"
    }
    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        if m.th(t).pc == 0 {
            if !m.page_lock(0, t) {
                return Step::Blocked(Wait::PageLock(0));
            }
            m.goto(t, 1);
            return Step::Ran("test: folio_lock");
        }
        m.page_unlock(0, t);
        m.th_mut(t).done = true;
        Step::Ran("test: folio_unlock")
    }
}

fn alone<A: PmdOps>(thp: Thp) -> (Machine<A>, Vec<&'static str>) {
    let sc = builder::<A>(thp).thread("write", writer()).build().unwrap();
    let mut m = sc.initial.clone();
    let mut labels = Vec::new();
    run_thread(&sc, &mut m, 0, "", &mut labels).unwrap();
    (m, labels)
}

#[track_caller]
fn position(labels: &[&str], part: &str) -> usize {
    labels
        .iter()
        .position(|l| l.contains(part))
        .unwrap_or_else(|| panic!("no {part:?} in {labels:#?}"))
}

struct Alone(usize);

impl ArchVisitor for Alone {
    fn visit<A: PmdOps>(&mut self) {
        if !common::fixed_thp::<A>() {
            return;
        }
        let pfn = Machine::<A>::page_pfn(0);
        for thp in [Thp::Exclusive, Thp::OnlyReference] {
            let (m, labels) = alone::<A>(thp);
            // Reused in place: the same THP, now writable and dirty, and exclusive.
            let pmd = m.peek_pmd(0);
            assert!(A::pmd_trans_huge(pmd), "{} {thp:?} {labels:#?}", A::ID);
            assert!(A::pmd_write(pmd) && A::pmd_dirty(pmd), "{}", A::ID);
            assert_eq!(A::pmd_pfn(pmd), pfn, "{}", A::ID);
            assert!(m.page(0).anon_exclusive);
            assert_eq!((m.page(0).refcount, m.page(0).mapcount), (1, 1));
            assert!(!labels.iter().any(|l| l.contains("split")), "{labels:#?}");
            let reuse = position(&labels, "do_huge_pmd_wp_page: reuse");
            if thp == Thp::OnlyReference {
                assert!(position(&labels, "folio_trylock") < reuse);
                assert!(position(&labels, "folio_ref_count == 1") < reuse);
            }
        }
        // A second reference: unlock_fallback, the split, then the pte-level COW of the
        // written pte; the other pte still maps the THP's second page, read-only.
        let (m, labels) = alone::<A>(Thp::Shared);
        let fallback = position(&labels, "folio_ref_count > 1, unlock_fallback");
        let split = position(&labels, "__split_huge_pmd_locked: pmdp_invalidate");
        let populate = position(&labels, "smp_wmb, pmd_populate");
        let pte_fault = position(&labels, "handle_pte_fault");
        let copy = position(&labels, "wp_page_copy: folio_add_new_anon_rmap");
        assert!(
            fallback < split && split < populate && populate < pte_fault && pte_fault < copy,
            "{labels:#?}"
        );
        let table = m.table_of(m.peek_pmd(0)).expect("split to a table");
        let ptes = m.table(table).ptes;
        let copied = m.page_of_pfn(A::pte_pfn(ptes[0])).unwrap();
        assert_ne!(copied, 0, "{}", A::ID);
        assert!(A::pte_write(ptes[0]) && m.page(copied).anon_exclusive);
        assert_eq!(A::pte_pfn(ptes[1]), pfn + 1, "{}", A::ID);
        assert!(!A::pte_write(ptes[1]));
        // The THP: the pin and its one remaining pte (the split's folio_ref_add gave each
        // pte a reference; the COW dropped the written one's).
        assert_eq!(
            (m.page(0).refcount, m.page(0).mapcount),
            (2, 1),
            "{}",
            A::ID
        );
        assert_eq!(m.deposited(0), None);
        self.0 += 1;
    }
}

// Every THP backend, alone: reuse for an exclusive THP and for the only reference, the
// split and the pte-level copy for a shared one.
#[test]
fn do_huge_pmd_wp_page_reuses_or_falls_back_to_the_split_on_every_thp_backend() {
    let mut a = Alone(0);
    visit_all(&mut a);
    assert!(a.0 >= 8, "{}", a.0);
}

// The huge zero page goes straight to the fallback: __split_huge_zero_page_pmd, then the
// written pte is copied from the zero page and the other stays a special zero pte.
#[test]
fn a_write_to_the_huge_zero_page_splits_it_and_copies_one_pte() {
    type A = X86_64;
    let sc = ScenarioBuilder::<A>::new("write to the huge zero page", 1)
        .huge_zero(0)
        .unwrap()
        .thread("write", writer())
        .build()
        .unwrap();
    let mut m = sc.initial.clone();
    let mut labels = Vec::new();
    run_thread(&sc, &mut m, 0, "", &mut labels).unwrap();
    let zero = position(&labels, "is_huge_zero_pmd, fallback");
    let clear = position(&labels, "__split_huge_zero_page_pmd: pmdp_huge_clear_flush");
    let copy = position(&labels, "wp_page_copy: folio_add_new_anon_rmap");
    assert!(zero < clear && clear < copy, "{labels:#?}");
    assert!(
        !labels
            .iter()
            .any(|l| l.contains("do_huge_pmd_wp_page: spin_lock"))
    );
    let table = m.table_of(m.peek_pmd(0)).unwrap();
    let ptes = m.table(table).ptes;
    assert!(A::pte_write(ptes[0]));
    assert_eq!(m.page_of_pfn(A::pte_pfn(ptes[0])), Some(0));
    assert_eq!(A::pte_pfn(ptes[1]), Machine::<A>::zero_pfn());
    assert!(A::pte_special(ptes[1]));
}

// folio_trylock fails while another thread holds the folio lock: the fault takes a
// reference, drops the pmd lock, sleeps in folio_lock, retakes the pmd lock and rechecks
// pmd_same before it decides; the reference goes back.
#[test]
fn a_locked_folio_makes_the_fault_drop_the_pmd_lock_and_recheck() {
    type A = X86_64;
    let sc = builder::<A>(Thp::OnlyReference)
        .thread("write", writer())
        .thread("lock", FolioLocker)
        .build()
        .unwrap();
    let mut m = sc.initial.clone();
    let mut labels = Vec::new();
    run_thread(&sc, &mut m, 1, "folio_lock", &mut labels).unwrap();
    assert_eq!(
        run_thread(&sc, &mut m, 0, "", &mut labels),
        Err(Wait::PageLock(0))
    );
    assert_eq!(m.page(0).refcount, 2, "{labels:#?}");
    assert_eq!(
        m.pmd_lock_holder(0),
        None,
        "the pmd lock is dropped to sleep"
    );
    run_thread(&sc, &mut m, 1, "", &mut labels).unwrap();
    run_thread(&sc, &mut m, 0, "", &mut labels).unwrap();
    let failed = position(&labels, "folio_trylock failed, folio_get");
    let again = position(&labels, "pmd_same again, folio_put");
    let reuse = position(&labels, "do_huge_pmd_wp_page: reuse");
    assert!(failed < again && again < reuse, "{labels:#?}");
    assert_eq!((m.page(0).refcount, m.page(0).mapcount), (1, 1));
    assert!(A::pmd_write(m.peek_pmd(0)));
}

#[track_caller]
fn every_search_agrees<A: PmdOps>(sc: &Scenario<A>) -> (Verdict, u64) {
    let mut seen: Option<(Verdict, u64)> = None;
    for opts in common::every_search(2) {
        let out = explore(sc, opts);
        assert!(out.complete, "{} {opts:?}", A::ID);
        let got = (out.verdict.clone(), out.stats.states);
        match &seen {
            None => seen = Some(got),
            Some(first) => {
                assert_eq!(
                    matches!(first.0, Verdict::Holds),
                    matches!(got.0, Verdict::Holds),
                    "{} {opts:?}: {:?}",
                    A::ID,
                    got.0
                );
                if matches!(got.0, Verdict::Holds) {
                    assert_eq!(first.1, got.1, "{} {opts:?}", A::ID);
                }
            }
        }
    }
    seen.unwrap()
}

struct Races(Vec<(ArchId, u64)>);

impl ArchVisitor for Races {
    fn visit<A: PmdOps>(&mut self) {
        if !common::fixed_thp::<A>() {
            return;
        }
        for thp in Thp::ALL {
            for other in 0..4 {
                let b = builder::<A>(thp)
                    .invariants(InvariantSet::all())
                    .thread("write", writer());
                let b = match other {
                    0 => b.thread("dontneed", MadvDontneed::new(0)),
                    1 => b.thread("gup", GupFast::new(0, 1)),
                    2 => b.thread("pin", GupFast::pin(0, 1)),
                    _ => b.thread("lock", FolioLocker),
                };
                let sc = b.build().unwrap();
                let (v, states) = every_search_agrees(&sc);
                assert_eq!(v, Verdict::Holds, "{} {thp:?} against {other}", A::ID);
                self.0.push((A::ID, states));
            }
        }
    }
}

// The huge write fault against MADV_DONTNEED, GUP-fast (a reference, and a pin) and a folio
// locker, every start, every fixed THP backend, every search: race 002's invariants hold
// (the pmd never reads as none mid-split, no table is used after its free, no stale TLB
// entry is writable), a pinned THP stays exclusive, and every search stores the same states.
#[test]
fn the_huge_write_fault_keeps_race_002s_invariants_under_every_search() {
    let mut r = Races(Vec::new());
    visit_all(&mut r);
    assert!(r.0.len() >= 8 * 12, "{}", r.0.len());
    assert!(r.0.iter().all(|&(_, n)| n > 10), "{:?}", r.0);
}

struct ClearingSplit(usize);

impl ArchVisitor for ClearingSplit {
    fn visit<A: PmdOps>(&mut self) {
        if !common::fixed_thp::<A>() {
            return;
        }
        let clearing = AnonFault {
            fallback_split_clears_pmd: true,
            ..writer()
        };
        let sc = builder::<A>(Thp::Shared)
            .invariants(InvariantSet::all())
            .thread("write", clearing)
            .thread("gup", GupFast::new(0, 1))
            .build()
            .unwrap();
        for opts in common::every_search(2) {
            let out = explore(&sc, opts);
            let Verdict::Violated(cx) = out.verdict else {
                panic!("{} {opts:?}: {:?}", A::ID, out.verdict);
            };
            assert_eq!(cx.invariant, InvariantId::NEVER_NONE, "{} {opts:?}", A::ID);
        }
        self.0 += 1;
    }
}

// The mutation the race test above must catch: a fallback split that clears the pmd
// instead of invalidating it lets GUP-fast read it as none mid-split, under every search.
#[test]
fn a_fallback_split_that_clears_the_pmd_breaks_never_none() {
    let mut c = ClearingSplit(0);
    visit_all(&mut c);
    assert!(c.0 >= 8, "{}", c.0);
}

struct LeafPin(usize);

impl ArchVisitor for LeafPin {
    fn visit<A: PmdOps>(&mut self) {
        if !common::fixed_thp::<A>() {
            return;
        }
        for thp in Thp::ALL {
            let sc = builder::<A>(thp)
                .thread("pin", GupFast::pin(0, 1))
                .build()
                .unwrap();
            let mut m = sc.initial.clone();
            let refs = m.page(0).refcount;
            let mut labels = Vec::new();
            run_thread(&sc, &mut m, 0, "", &mut labels).unwrap();
            position(&labels, "gup_fast_pmd_leaf");
            let page = *m.page(0);
            if thp == Thp::Exclusive {
                position(&labels, "gup_must_unshare: no");
                assert_eq!((page.pincount, page.pins_kept), (1, 1), "{}", A::ID);
                assert_eq!(page.refcount, refs + 1, "{}", A::ID);
            } else {
                position(&labels, "gup_must_unshare: !PageAnonExclusive");
                assert_eq!((page.pincount, page.pins_kept), (0, 0), "{}", A::ID);
                assert_eq!(page.refcount, refs, "{} {thp:?}", A::ID);
            }
        }
        self.0 += 1;
    }
}

// pin_user_pages_fast of a write-protected THP (gup_fast_pmd_leaf, mm/gup.c:3171): the pin
// is kept only on an exclusive THP; on one that is not, gup_must_unshare sends GUP-fast
// back to the slow path with its pin dropped.
#[test]
fn gup_fast_pins_a_write_protected_thp_only_when_it_is_exclusive() {
    let mut p = LeafPin(0);
    visit_all(&mut p);
    assert!(p.0 >= 8, "{}", p.0);
}

// Unshare (GUP's slow path pinning a shared THP) takes the same path without granting
// write access: an exclusive THP stays read-only.
#[test]
fn an_unshare_fault_on_an_exclusive_thp_leaves_the_pmd_read_only() {
    type A = X86_64;
    struct Unshare;
    impl Program<A> for Unshare {
        fn name(&self) -> &'static str {
            "handle_mm_fault(FAULT_FLAG_UNSHARE) (test)"
        }
        fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
            let read = AnonFault::read(0, 0);
            match m.th(t).pc {
                0 => {
                    if !m.mmap_read(t) {
                        return Step::Blocked(Wait::MmapRead);
                    }
                    AnonFault::enter(m, t, FaultFlags { unshare: true });
                    Step::Ran("test: mmap_read_lock, handle_mm_fault(FAULT_FLAG_UNSHARE)")
                }
                pc if pc < AnonFault::RETURN => read.step(m, t),
                _ => {
                    m.mmap_read_unlock(t);
                    m.th_mut(t).done = true;
                    Step::Ran("test: mmap_read_unlock")
                }
            }
        }
    }
    let sc = builder::<A>(Thp::Exclusive)
        .thread("unshare", Unshare)
        .build()
        .unwrap();
    let mut m = sc.initial.clone();
    let mut labels = Vec::new();
    run_thread(&sc, &mut m, 0, "", &mut labels).unwrap();
    position(&labels, "reuse: FAULT_FLAG_UNSHARE, return 0");
    let pmd = m.peek_pmd(0);
    assert!(A::pmd_trans_huge(pmd) && !A::pmd_write(pmd), "{labels:#?}");
}

// The initial state is checked: a huge pmd maps a huge page, young, in an anonymous VMA.
#[test]
fn map_pmd_refuses_what_the_machine_does_not_model() {
    let small = ScenarioBuilder::<X86_64>::new("small", 1)
        .setup(|s| {
            let p = s.page(false)?;
            s.map_pmd(0, p, PteInit::WRPROTECTED)
        })
        .thread("write", writer())
        .build();
    assert!(
        matches!(small, Err(ScenarioError::Unsupported(_))),
        "{small:?}"
    );
    let old = ScenarioBuilder::<X86_64>::new("old", 1)
        .setup(|s| {
            let p = s.page(true)?;
            s.map_pmd(
                0,
                p,
                PteInit {
                    young: false,
                    ..PteInit::WRITTEN
                },
            )
        })
        .thread("write", writer())
        .build();
    let Err(e) = old else {
        panic!("an old pmd built")
    };
    assert!(e.to_string().contains("old huge pmd"), "{e}");
    let twice = ScenarioBuilder::<X86_64>::new("twice", 1)
        .huge(0)
        .unwrap()
        .setup(|s| {
            let p = s.page(true)?;
            s.map_pmd(0, p, PteInit::WRITTEN)
        })
        .thread("write", writer())
        .build();
    assert!(
        matches!(twice, Err(ScenarioError::RegionInUse(0))),
        "{twice:?}"
    );
    assert_eq!(SLOTS, 2, "the tests above name slots 0 and 1");
}
