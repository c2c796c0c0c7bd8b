//! fork(2) as v6.12 copies a pte (`engine::ops::v6_12::fork`) against pins: a page pinned
//! before fork stays the parent's (fork copies it for the child), and `pin_user_pages_fast`
//! during fork either sees the fork through `write_protect_seq` and lets go, or pins before
//! fork asks `folio_maybe_dma_pinned`. Written as an outside crate writes a scenario.

use pgtable::arch::{ArchVisitor, X86_64, visit_all};
use pgtable::engine::explore::{Options, Verdict, explore};
use pgtable::engine::invariant::InvariantId;
use pgtable::engine::ops::v6_12::{fault::AnonFault, fork::Fork, gup::GupFast, gup_slow::GupSlow};
use pgtable::engine::setup::PteInit;
use pgtable::engine::trace::replay;
use pgtable::engine::{Scenario, ScenarioBuilder, Tid};
use pgtable::{PmdOps, PteOps};

mod common;
use common::{every_search_holds, pin_exclusive_broken, run_thread};

/// Who pins the parent's page at (0, 0).
#[derive(Clone, Copy, Debug)]
enum Pinner {
    /// Pinned before fork starts (`Setup::pin_page`).
    Before,
    /// `pin_user_pages_fast` during fork.
    Fast(GupFast),
    /// Slow GUP's `FOLL_PIN`, under the pte lock.
    Slow,
    /// Nobody.
    None,
}

/// The parent (mm 0) maps an exclusive anonymous page writable at (0, 0); the child's
/// region 1 (mm 1) is empty. A thread forks; `pinner` pins; with `write`, a parent thread
/// writes to the page (and COWs away from a page fork shared).
fn scenario<A: PmdOps>(fork: Fork, pinner: Pinner, write: bool) -> Scenario<A> {
    let b = ScenarioBuilder::<A>::new("fork vs pin", 2)
        .region_in(1, 1)
        .setup(move |s| {
            let p = s.page(false)?;
            s.map_pte(0, 0, p, PteInit::WRITTEN)?;
            s.page_anon_exclusive(p, true)?;
            if matches!(pinner, Pinner::Before) {
                s.pin_page(p)?;
            }
            Ok(())
        })
        .thread("fork", fork);
    let b = match pinner {
        Pinner::Fast(gup) => b.thread("pin", gup),
        Pinner::Slow => b.thread("pin", GupSlow::pin(0, 0)),
        Pinner::Before | Pinner::None => b,
    };
    let b = if write {
        b.thread("write", AnonFault::new(0, 0))
    } else {
        b
    };
    b.build().expect("builds")
}

fn fork() -> Fork {
    Fork::new(0, 1, 0)
}

// Alone, on a page nobody pinned: fork shares it. Both ptes are write-protected and map the
// page, which is mapped twice and no longer PageAnonExclusive; write_protect_seq went odd
// and back (0 → 2); the parent's TLB is flushed.
#[test]
fn fork_shares_an_unpinned_page_write_protected() {
    type A = X86_64;
    let sc = scenario::<A>(fork(), Pinner::None, false);
    let mut m = sc.initial.clone();
    let page = m.page_of_pfn(m.translate(0, 0).unwrap()).unwrap();
    m.tlb_fill(0, 0, Some(0), m.translate(0, 0).unwrap());
    let mut labels = Vec::new();
    let seen = run_thread(&sc, &mut m, 0, "raw_write_seqcount_begin", &mut labels);
    assert!(seen.unwrap().is_some(), "{labels:#?}");
    assert_eq!(m.write_protect_seq(Tid(0)), 1);
    assert_eq!(run_thread(&sc, &mut m, 0, "", &mut labels), Ok(None));
    assert_eq!(m.write_protect_seq(Tid(0)), 2);
    let parent = m.table_of(m.peek_pmd(0)).unwrap();
    let child = m.table_of(m.peek_pmd(1)).expect("the child got a table");
    for (table, what) in [(parent, "parent"), (child, "child")] {
        let pte = m.table(table).ptes[0];
        assert!(A::pte_present(pte) && !A::pte_write(pte), "{what}: {pte:?}");
        assert_eq!(m.page_of_pfn(A::pte_pfn(pte)), Some(page), "{what}");
    }
    assert!(
        !A::pte_young(m.table(child).ptes[0]),
        "the child's copy is old"
    );
    let p = m.page(page);
    assert_eq!((p.mapcount, p.refcount), (2, 2), "{p:?}");
    assert!(!p.anon_exclusive);
    assert_eq!(m.tlb_entry(0, 0, Some(0)), None, "flush_tlb_mm");
    assert!(labels.iter().any(|l| l.contains("ClearPageAnonExclusive")));
    assert_eq!(m.mmap_sem(), pgtable::engine::locks::RwSem::default());
}

// A page pinned before fork: folio_try_dup_anon_rmap_pte is -EBUSY, copy_present_page
// has no preallocated page the first time (-EAGAIN: both pte locks dropped, folio_prealloc,
// walk again), then the child gets its own exclusive, writable copy; the parent's pte and
// its pinned page are as they were.
#[test]
fn fork_copies_a_pinned_page_for_the_child() {
    type A = X86_64;
    let sc = scenario::<A>(fork(), Pinner::Before, false);
    let mut m = sc.initial.clone();
    let parent = m.table_of(m.peek_pmd(0)).unwrap();
    let before = m.table(parent).ptes[0];
    let page = m.page_of_pfn(A::pte_pfn(before)).unwrap();
    let mut labels = Vec::new();
    assert_eq!(run_thread(&sc, &mut m, 0, "", &mut labels), Ok(None));
    let busy = labels.iter().filter(|l| l.contains("-EBUSY")).count();
    assert_eq!(
        busy, 2,
        "once without, once with the preallocated page: {labels:#?}"
    );
    assert!(labels.iter().any(|l| l.contains("-EAGAIN")), "{labels:#?}");
    assert_eq!(
        m.table(parent).ptes[0],
        before,
        "the parent's pte is untouched"
    );
    let p = *m.page(page);
    assert!(
        p.anon_exclusive && p.pincount == 1 && p.mapcount == 1,
        "{p:?}"
    );
    let child = m.table_of(m.peek_pmd(1)).unwrap();
    let copy_pte = m.table(child).ptes[0];
    let copy = m.page_of_pfn(A::pte_pfn(copy_pte)).unwrap();
    assert_ne!(copy, page);
    assert!(
        A::pte_write(copy_pte) && A::pte_dirty(copy_pte),
        "{copy_pte:?}"
    );
    let c = m.page(copy);
    assert!(
        c.anon_exclusive && c.mapcount == 1 && c.refcount == 1,
        "{c:?}"
    );
}

// Every order of fork against a pin, on every backend and under every search, with a write
// fault in the parent: a page pinned for a caller stays PageAnonExclusive
// (INV-PIN-EXCLUSIVE) and every other built-in invariant holds.
#[test]
fn fork_against_pins_keeps_pinned_pages_exclusive_on_every_backend() {
    struct Every(Vec<(pgtable::ArchId, u64)>);
    impl ArchVisitor for Every {
        fn visit<A: PmdOps>(&mut self) {
            if common::is_historical(A::ID) {
                return;
            }
            for pinner in [
                Pinner::Before,
                Pinner::Fast(GupFast::pin(0, 0)),
                Pinner::Fast(GupFast::pin_then_unpin(0, 0)),
                Pinner::Slow,
            ] {
                let sc = scenario::<A>(fork(), pinner, true);
                self.0.push((A::ID, every_search_holds(&sc)));
            }
        }
    }
    let mut every = Every(Vec::new());
    visit_all(&mut every);
    assert!(every.0.len() >= 48, "{:?}", every.0);
    assert!(every.0.iter().all(|&(_, n)| n > 50), "{:?}", every.0);
}

// GUP-fast without the write_protect_seq sample and recheck: fork asks
// folio_maybe_dma_pinned (no) and shares the page, GUP-fast reads the writable pte, pins and
// finds the pte still unchanged (fork has not write-protected it yet) and writable, so it never asks
// for PageAnonExclusive: a pinned page is shared with the child. Every search finds it on
// every backend; the x86_64 trace shows the order.
#[test]
fn gup_fast_without_write_protect_seq_pins_a_page_fork_shares() {
    let racy = GupFast {
        skip_write_protect_seq: true,
        ..GupFast::pin(0, 0)
    };
    struct Every(usize, GupFast);
    impl ArchVisitor for Every {
        fn visit<A: PmdOps>(&mut self) {
            if common::is_historical(A::ID) {
                return;
            }
            pin_exclusive_broken(&scenario::<A>(fork(), Pinner::Fast(self.1), false));
            self.0 += 1;
        }
    }
    let mut every = Every(0, racy);
    visit_all(&mut every);
    assert!(every.0 >= 12, "{}", every.0);
    let sc = scenario::<X86_64>(fork(), Pinner::Fast(racy), false);
    let Verdict::Violated(cx) = explore(&sc, Options::default()).verdict else {
        panic!("not found")
    };
    let text = format!("{}", replay(&sc, &cx.schedule).expect("replays"));
    let share = text.find("ClearPageAnonExclusive").expect("fork shares");
    let recheck = text
        .find("the pte is unchanged")
        .expect("GUP-fast rechecks");
    let wrprotect = text.find("wrprotect_ptes").expect("fork write-protects");
    let keep = text
        .find("the entry is writable")
        .expect("GUP-fast keeps it");
    assert!(
        share < recheck && recheck < wrprotect && share < keep,
        "{text}"
    );
    assert!(text.contains("INV-PIN-EXCLUSIVE"), "{text}");
}

// With the seqcount, the same order ends with GUP-fast letting go: the recheck after the
// walk sees the fork. And a fork that starts first makes GUP-fast give up at its sample.
#[test]
fn gup_fast_lets_go_when_a_fork_ran_during_its_walk() {
    type A = X86_64;
    let sc = scenario::<A>(fork(), Pinner::Fast(GupFast::pin(0, 0)), false);
    let mut m = sc.initial.clone();
    let mut labels = Vec::new();
    // GUP-fast samples the even count and reads the writable pte.
    let read = run_thread(&sc, &mut m, 1, "ptep_get_lockless", &mut labels);
    assert!(read.unwrap().is_some(), "{labels:#?}");
    // Fork begins and shares the page.
    let shared = run_thread(&sc, &mut m, 0, "ClearPageAnonExclusive", &mut labels);
    assert!(shared.unwrap().is_some(), "{labels:#?}");
    // GUP-fast pins, rechecks and lets go at read_seqcount_retry.
    assert_eq!(run_thread(&sc, &mut m, 1, "", &mut labels), Ok(None));
    assert!(
        labels.last().unwrap().contains("read_seqcount_retry"),
        "{labels:#?}"
    );
    let page = m.page_of_pfn(m.translate(0, 0).unwrap()).unwrap();
    assert_eq!(m.page(page).pincount, 0);
    // A GUP-fast that starts inside the fork's write section gives up at once.
    let late = run_thread(&sc, &mut sc.initial.clone(), 1, "", &mut Vec::new());
    assert_eq!(late, Ok(None));
    let mut m = sc.initial.clone();
    let mut labels = Vec::new();
    let begun = run_thread(&sc, &mut m, 0, "raw_write_seqcount_begin", &mut labels);
    assert!(begun.unwrap().is_some());
    assert_eq!(run_thread(&sc, &mut m, 1, "", &mut labels), Ok(None));
    assert!(labels.last().unwrap().contains("odd"), "{labels:#?}");
}

// Fork without folio_needs_cow_for_dma shares a page pinned before it: every search finds
// it on every backend.
#[test]
fn fork_that_ignores_pins_shares_a_pinned_page() {
    struct Every(usize);
    impl ArchVisitor for Every {
        fn visit<A: PmdOps>(&mut self) {
            if common::is_historical(A::ID) {
                return;
            }
            let racy = Fork {
                ignore_pins: true,
                ..fork()
            };
            pin_exclusive_broken(&scenario::<A>(racy, Pinner::Before, false));
            self.0 += 1;
        }
    }
    let mut every = Every(0);
    visit_all(&mut every);
    assert!(every.0 >= 12, "{}", every.0);
}

// Fork's own misuse is the model's error, not a silent copy: a child region in the same mm.
#[test]
fn fork_into_its_own_mm_is_a_model_error() {
    let sc = ScenarioBuilder::<X86_64>::new("fork into itself", 2)
        .thread("fork", fork())
        .build()
        .unwrap();
    let Verdict::Violated(cx) = explore(&sc, Options::default()).verdict else {
        panic!("not flagged")
    };
    assert_eq!(cx.invariant, InvariantId::MODEL);
}

// The catalogue's `fork-pin` cell (the audit's): fork, pin and write fault hold on every
// fixed backend under every search, and both mutations are found.
#[test]
fn the_fork_pin_cell_holds_and_its_mutations_are_found() {
    use pgtable::scenario::{Knobs, V6_12, build};
    struct Every(usize);
    impl ArchVisitor for Every {
        fn visit<A: PmdOps>(&mut self) {
            if common::is_historical(A::ID) {
                return;
            }
            let sc = build::<A>("fork-pin", V6_12, Knobs::default()).unwrap();
            assert!(every_search_holds(&sc) > 1_000);
            for mutated in [
                Knobs {
                    gup_fast_skips_write_protect_seq: true,
                    ..Knobs::default()
                },
                Knobs {
                    fork_ignores_pins: true,
                    ..Knobs::default()
                },
            ] {
                pin_exclusive_broken(&build::<A>("fork-pin", V6_12, mutated).unwrap());
            }
            self.0 += 1;
        }
    }
    let mut every = Every(0);
    visit_all(&mut every);
    assert!(every.0 >= 12, "{}", every.0);
}
