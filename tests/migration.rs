//! Page migration as v6.12 does it (`move_pages`, `engine::ops::v6_12::migrate`) against
//! v6.12's fault, which sleeps on the folio lock when it meets a migration entry, and
//! against GUP-fast, whose reference makes the move give up and put the pte back. Written as
//! an outside crate writes a scenario: the data-follows-the-folio invariant and its ghost
//! cell are the test's own.

use pgtable::arch::{ArchVisitor, X86_64, visit_all};
use pgtable::engine::explore::{Options, Verdict, explore};
use pgtable::engine::invariant::{Invariant, InvariantId};
use pgtable::engine::mm::Machine;
use pgtable::engine::ops::v6_12::{
    fault::AnonFault,
    gup::GupFast,
    gup_slow::GupSlow,
    migrate::{MovePages, NR_MAX_MIGRATE_SYNC_RETRY},
};
use pgtable::engine::program::{Typed, Wait};
use pgtable::engine::setup::{MigrationKind, PteInit};
use pgtable::engine::trace::replay;
use pgtable::engine::{Scenario, ScenarioBuilder, ScenarioError};
use pgtable::{PmdOps, PteOps};

mod common;
use common::{every_search_holds, pin_exclusive_broken, run_thread};

/// Ghost cell: the page holding the folio's data, index + 1 (kept by `MovePages`).
const DATA: usize = 0;

static DATA_KEPT: Invariant = Invariant::new(
    "INV-USER-MIGRATE-DATA",
    "Whatever page the address maps holds its data: the source folio until the copy, the destination after.",
);

fn data_kept<A: PmdOps>(m: &Machine<A>) -> Option<&'static str> {
    let data = m.ghost_get(DATA).checked_sub(1)?;
    let pfn = m.translate(0, 0)?;
    (m.page_of_pfn(pfn) != Some(data as u8))
        .then_some("the address maps a page that does not hold its data")
}

/// What the page at (0, 0) starts as and what faults there.
#[derive(Clone, Copy, Debug)]
enum Start {
    /// Writable and exclusive; a write fault (a writable migration entry).
    Written,
    /// Write-protected and exclusive; a write fault, which reuses the page (a
    /// readable-exclusive entry).
    WrprotectedExclusive,
    /// Write-protected, not exclusive; a read fault (a readable entry). A write fault would
    /// copy the page, and the data would follow the copy, which the test's ghost does not.
    WrprotectedShared,
}

impl Start {
    const ALL: [Start; 3] = [
        Start::Written,
        Start::WrprotectedExclusive,
        Start::WrprotectedShared,
    ];
    fn init(self) -> PteInit {
        match self {
            Start::Written => PteInit::WRITTEN,
            _ => PteInit::WRPROTECTED,
        }
    }
}

/// The page at (0, 0) as `start` says, a fault there, `move_pages` of it, and, with `gup`, a
/// GUP-fast that keeps its reference.
fn scenario<A: PmdOps>(start: Start, mover: MovePages, gup: bool) -> Scenario<A> {
    let mut b = ScenarioBuilder::<A>::new("fault vs move_pages", 1)
        .setup(move |s| {
            let p = s.page(false)?;
            s.map_pte(0, 0, p, start.init())?;
            s.page_anon_exclusive(p, !matches!(start, Start::WrprotectedShared))
        })
        .state_invariant(&DATA_KEPT, data_kept::<A>)
        .thread(
            "fault",
            AnonFault {
                huge: false,
                write: !matches!(start, Start::WrprotectedShared),
                ..AnonFault::new(0, 0)
            },
        )
        .thread(
            "move_pages",
            Typed(MovePages {
                data_cell: Some(DATA),
                ..mover
            }),
        );
    if gup {
        b = b.thread("gup", GupFast::new(0, 0));
    }
    b.build().expect("builds")
}

fn mover() -> MovePages {
    MovePages::new(0, 0)
}

// The fault and the move, in every order, on every backend: the fault either runs before
// the entry, backs off after reading the transient empty pte, or sleeps on the folio lock
// until the move is done; the address maps the destination in the end.
#[test]
fn a_fault_against_move_pages_keeps_the_data_on_every_backend() {
    struct Every(Vec<(pgtable::ArchId, u64)>);
    impl ArchVisitor for Every {
        fn visit<A: PmdOps>(&mut self) {
            for start in Start::ALL {
                let states = every_search_holds(&scenario::<A>(start, mover(), false));
                self.0.push((A::ID, states));
            }
        }
    }
    let mut every = Every(Vec::new());
    visit_all(&mut every);
    assert!(every.0.len() >= 42, "{:?}", every.0);
    assert!(every.0.iter().all(|&(_, n)| n > 50), "{:?}", every.0);
}

// A move that leaves the pte empty while it copies (no migration entry) lets the fault map
// a fresh page: every search finds it, and the trace says how.
#[test]
fn a_move_without_a_migration_entry_loses_the_data() {
    let sc = scenario::<X86_64>(
        Start::Written,
        MovePages {
            leave_pte_none: true,
            ..mover()
        },
        false,
    );
    for opts in common::every_search(2) {
        let Verdict::Violated(cx) = explore(&sc, opts).verdict else {
            panic!("{opts:?}: not found")
        };
        assert_eq!(cx.invariant, DATA_KEPT.id(), "{opts:?}");
        let text = replay(&sc, &cx.schedule).unwrap().to_string();
        assert!(text.contains("INV-USER-MIGRATE-DATA"), "{text}");
        assert!(text.contains("no migration entry set"), "{text}");
        assert!(text.contains("do_anonymous_page"), "{text}");
    }
}

// The migration entry makes the fault sleep on PG_locked; the move's folio_unlock(src)
// wakes it, and the address then maps the destination, writable, with one reference and
// one mapping; the source's last reference is gone.
#[test]
fn a_fault_on_the_migration_entry_sleeps_until_folio_unlock() {
    type A = X86_64;
    let sc = scenario::<A>(Start::Written, mover(), false);
    let mut m = sc.initial.clone();
    let mut labels = Vec::new();
    run_thread(&sc, &mut m, 1, "make_writable_migration_entry", &mut labels).unwrap();
    run_thread(&sc, &mut m, 1, "page_vma_mapped_walk_done", &mut labels).unwrap();
    let wait = run_thread(&sc, &mut m, 0, "", &mut labels).unwrap_err();
    assert_eq!(wait, Wait::PageLock(0), "{labels:#?}");
    assert!(
        labels.iter().any(|l| l.contains("queued on PG_locked")),
        "{labels:#?}"
    );
    run_thread(&sc, &mut m, 1, "folio_unlock(dst)", &mut labels).unwrap();
    // dst is unlocked but src is not: the fault still sleeps.
    assert_eq!(
        run_thread(&sc, &mut m, 0, "", &mut labels),
        Err(Wait::PageLock(0))
    );
    run_thread(&sc, &mut m, 1, "folio_unlock(src)", &mut labels).unwrap();
    assert_eq!(run_thread(&sc, &mut m, 0, "", &mut labels), Ok(None));
    assert!(
        labels.iter().any(|l| l.contains("woken by folio_unlock")),
        "{labels:#?}"
    );
    assert_eq!(run_thread(&sc, &mut m, 1, "", &mut labels), Ok(None));
    let table = m.table_of(m.peek_pmd(0)).unwrap();
    let pte = m.table(table).ptes[0];
    assert_eq!(m.page_of_pfn(A::pte_pfn(pte)), Some(1), "{labels:#?}");
    assert!(A::pte_write(pte) && !A::pte_young(pte), "{pte:?}");
    assert_eq!((m.page(1).refcount, m.page(1).mapcount), (1, 1));
    assert!(m.page(1).anon_exclusive);
    assert_eq!((m.page(0).refcount, m.page(0).mapcount), (0, 0));
    assert_eq!(m.ghost_get(DATA), 2);
}

// The pte is empty between try_to_migrate_one's ptep_clear_flush and its set_pte_at: a fault
// that reads it then takes the do_anonymous_page path, and vmf_pte_changed under the pte lock
// (the migration entry is there by then) sends it back with its new folio released.
#[test]
fn a_fault_that_reads_the_transient_empty_pte_backs_off() {
    let sc = scenario::<X86_64>(Start::Written, mover(), false);
    let mut m = sc.initial.clone();
    let mut labels = Vec::new();
    run_thread(&sc, &mut m, 1, "ptep_clear_flush", &mut labels).unwrap();
    run_thread(&sc, &mut m, 0, "pte_none, do_anonymous_page", &mut labels).unwrap();
    // The fault allocates, then waits for the pte lock the migration holds.
    assert_eq!(
        run_thread(&sc, &mut m, 0, "", &mut labels),
        Err(Wait::Ptl(0))
    );
    run_thread(&sc, &mut m, 1, "page_vma_mapped_walk_done", &mut labels).unwrap();
    run_thread(&sc, &mut m, 0, "vmf_pte_changed, goto release", &mut labels).unwrap();
    assert_eq!(run_thread(&sc, &mut m, 0, "", &mut labels), Ok(None));
    assert_eq!(run_thread(&sc, &mut m, 1, "", &mut labels), Ok(None));
    // The fault's folio (allocated after the move's) went back; the destination is mapped.
    assert_eq!(m.page(2).refcount, 0, "{labels:#?}");
    let pfn = m.translate(0, 0).unwrap();
    assert_eq!(m.page_of_pfn(pfn), Some(1), "{labels:#?}");
}

// A write-protected pte of a page that is not exclusive leaves a readable entry and comes
// back read-only and not exclusive.
#[test]
fn a_read_only_shared_pte_moves_as_a_readable_entry() {
    type A = X86_64;
    let sc = scenario::<A>(Start::WrprotectedShared, mover(), false);
    let mut m = sc.initial.clone();
    let mut labels = Vec::new();
    run_thread(&sc, &mut m, 1, "make_readable_migration_entry", &mut labels).unwrap();
    let table = m.table_of(m.peek_pmd(0)).unwrap();
    let swp = A::pte_to_swp_entry(m.table(table).ptes[0]);
    assert_eq!(
        (MigrationKind::of_swap_type(swp.ty()), swp.offset()),
        (Some(MigrationKind::Read), Machine::<A>::page_pfn(0))
    );
    assert_eq!(run_thread(&sc, &mut m, 1, "", &mut labels), Ok(None));
    let pte = m.table(table).ptes[0];
    assert_eq!(m.page_of_pfn(A::pte_pfn(pte)), Some(1));
    assert!(
        !A::pte_write(pte) && !m.page(1).anon_exclusive,
        "{labels:#?}"
    );
}

// GUP-fast's reference makes every move pass fail; the move is undone and the pte maps
// the source again, as it was.
#[test]
fn a_pinned_folio_stays_and_its_pte_comes_back() {
    type A = X86_64;
    let sc = scenario::<A>(Start::Written, mover(), true);
    let mut m = sc.initial.clone();
    let mut labels = Vec::new();
    assert_eq!(run_thread(&sc, &mut m, 2, "", &mut labels), Ok(None));
    assert_eq!(run_thread(&sc, &mut m, 1, "", &mut labels), Ok(None));
    let passes = labels
        .iter()
        .filter(|l| l.contains("-EAGAIN, next pass"))
        .count();
    assert_eq!(
        passes,
        usize::from(NR_MAX_MIGRATE_SYNC_RETRY) - 1,
        "{labels:#?}"
    );
    assert!(
        labels
            .iter()
            .any(|l| l.contains("remove_migration_ptes(src, src)")),
        "{labels:#?}"
    );
    let table = m.table_of(m.peek_pmd(0)).unwrap();
    let pte = m.table(table).ptes[0];
    assert_eq!(m.page_of_pfn(A::pte_pfn(pte)), Some(0));
    assert!(A::pte_write(pte) && m.page(0).anon_exclusive);
    // The mapping's and GUP's references; the destination went back.
    assert_eq!((m.page(0).refcount, m.page(0).mapcount), (2, 1));
    assert_eq!(m.page(1).refcount, 0);
    assert_eq!(m.ghost_get(DATA), 1);
    // And in every order, against the fault too.
    every_search_holds(&sc);
}

// A swap entry that is no migration entry is a swap-in, which the model does not have: it
// says so instead of returning as if the fault had done something.
#[test]
fn a_swap_in_is_reported_as_not_modelled() {
    let sc = ScenarioBuilder::<X86_64>::new("swap-in", 1)
        .setup(|s| s.swap_pte(0, 0, 1, 0x42))
        .thread("fault", AnonFault::new(0, 0))
        .build()
        .unwrap();
    let Verdict::Violated(cx) = explore(&sc, Options::default()).verdict else {
        panic!("not reported")
    };
    assert_eq!(cx.invariant, InvariantId::MODEL);
    assert!(cx.what.contains("swap-in"), "{}", cx.what);
}

// A large folio (here one a pte maps) is not something the model migrates: it says so.
#[test]
fn moving_a_large_folio_is_reported_as_not_modelled() {
    let sc = ScenarioBuilder::<X86_64>::new("large folio", 1)
        .setup(|s| {
            let p = s.page(true)?;
            s.map_pte(0, 0, p, PteInit::WRITTEN)
        })
        .thread("move_pages", Typed(mover()))
        .build()
        .unwrap();
    let Verdict::Violated(cx) = explore(&sc, Options::default()).verdict else {
        panic!("not reported")
    };
    assert_eq!(cx.invariant, InvariantId::MODEL);
    assert!(cx.what.contains("large folio"), "{}", cx.what);
}

/// Who pins the page at (0, 0) in [`pin_scenario`].
#[derive(Clone, Copy, Debug)]
enum Pinner {
    /// A driver pinned it before the scenario starts (`Setup::pin_page`).
    Before,
    /// `pin_user_pages_fast` runs beside the move.
    Fast,
    /// `pin_user_pages_fast`, then `unpin_user_page`, beside the move.
    FastThenUnpin,
    /// `pin_user_pages_unlocked` (slow GUP) runs beside the move.
    Slow,
}

/// The exclusive anonymous page at (0, 0), writable or write-protected, pinned as `pinner`
/// says while `move_pages` moves it. Every built-in invariant is checked
/// (INV-PIN-EXCLUSIVE among them).
fn pin_scenario<A: PmdOps>(writable: bool, pinner: Pinner, mover: MovePages) -> Scenario<A> {
    let init = if writable {
        PteInit::WRITTEN
    } else {
        PteInit::WRPROTECTED
    };
    let b = ScenarioBuilder::<A>::new("pin vs move_pages", 1)
        .setup(move |s| {
            let p = s.page(false)?;
            s.map_pte(0, 0, p, init)?;
            s.page_anon_exclusive(p, true)?;
            if matches!(pinner, Pinner::Before) {
                s.pin_page(p)?;
            }
            Ok(())
        })
        .thread("move_pages", Typed(mover));
    match pinner {
        Pinner::Before => b,
        Pinner::Fast => b.thread("pin", GupFast::pin(0, 0)),
        Pinner::FastThenUnpin => b.thread("pin", GupFast::pin_then_unpin(0, 0)),
        Pinner::Slow => b.thread("pin", GupSlow::pin(0, 0)),
    }
    .build()
    .expect("builds")
}

// The (A1)-(A4) / (B1)-(B5) protocol of include/linux/rmap.h, v6.12 on both sides: whatever
// the order, a page GUP pins stays PageAnonExclusive (INV-PIN-EXCLUSIVE), on every backend,
// for a writable pte (GUP-fast's recheck sees the cleared pte) and a write-protected one.
#[test]
fn a_pin_against_move_pages_keeps_the_page_exclusive_on_every_backend() {
    struct Every(Vec<(pgtable::ArchId, u64)>);
    impl ArchVisitor for Every {
        fn visit<A: PmdOps>(&mut self) {
            for writable in [true, false] {
                for pinner in [
                    Pinner::Before,
                    Pinner::Fast,
                    Pinner::FastThenUnpin,
                    Pinner::Slow,
                ] {
                    let sc = pin_scenario::<A>(writable, pinner, mover());
                    self.0.push((A::ID, every_search_holds(&sc)));
                }
            }
        }
    }
    let mut every = Every(Vec::new());
    visit_all(&mut every);
    assert!(every.0.len() >= 112, "{:?}", every.0);
    assert!(every.0.iter().all(|&(_, n)| n > 20), "{:?}", every.0);
}

// A pin taken before the move: `folio_try_share_anon_rmap_pte` refuses (-EBUSY) with the
// pte cleared, `try_to_migrate_one` puts it back as it was, and the move is undone without
// a single `__migrate_folio` pass; the pin stays on the exclusive page.
#[test]
fn a_pinned_page_makes_try_to_migrate_one_back_off() {
    type A = X86_64;
    for pinner in [Pinner::Before, Pinner::Fast] {
        let sc = pin_scenario::<A>(true, pinner, mover());
        let mut m = sc.initial.clone();
        let table = m.table_of(m.peek_pmd(0)).unwrap();
        let before = m.table(table).ptes[0];
        let mut labels = Vec::new();
        if matches!(pinner, Pinner::Fast) {
            assert_eq!(run_thread(&sc, &mut m, 1, "", &mut labels), Ok(None));
        }
        assert_eq!(run_thread(&sc, &mut m, 0, "", &mut labels), Ok(None));
        assert!(
            labels
                .iter()
                .any(|l| l.contains("folio_maybe_dma_pinned, -EBUSY")),
            "{pinner:?}: {labels:#?}"
        );
        assert!(
            !labels.iter().any(|l| l.contains("__migrate_folio")),
            "{pinner:?}: {labels:#?}"
        );
        assert_eq!(m.table(table).ptes[0], before, "{pinner:?}");
        let page = *m.page(0);
        assert!(page.anon_exclusive, "{pinner:?}");
        // The mapping's reference and the pin's; the destination went back.
        assert_eq!(
            (page.refcount, page.mapcount, page.pincount, page.pins_kept),
            (2, 1, 1, 1),
            "{pinner:?}"
        );
        assert_eq!(m.page(1).refcount, 0, "{pinner:?}");
    }
}

// Once the caller unpins, nothing holds the page back: the move that follows shares it,
// copies it and maps the destination, exclusive again.
#[test]
fn an_unpinned_page_moves() {
    type A = X86_64;
    let sc = pin_scenario::<A>(true, Pinner::FastThenUnpin, mover());
    let mut m = sc.initial.clone();
    let mut labels = Vec::new();
    assert_eq!(run_thread(&sc, &mut m, 1, "", &mut labels), Ok(None));
    assert!(
        labels.iter().any(|l| l.contains("unpin_user_page")),
        "{labels:#?}"
    );
    assert_eq!((m.page(0).pincount, m.page(0).pins_kept), (0, 0));
    assert_eq!(run_thread(&sc, &mut m, 0, "", &mut labels), Ok(None));
    let table = m.table_of(m.peek_pmd(0)).unwrap();
    let pte = m.table(table).ptes[0];
    assert_eq!(m.page_of_pfn(A::pte_pfn(pte)), Some(1), "{labels:#?}");
    assert!(m.page(1).anon_exclusive && A::pte_write(pte));
    assert_eq!(m.page(0).refcount, 0, "{labels:#?}");
}

// Only an exclusive anonymous page can be pinned from the start: GUP unshares a shared one
// first, so a scenario that asks for a pin of a shared page is malformed.
#[test]
fn pinning_a_shared_anonymous_page_is_a_scenario_error() {
    let err = ScenarioBuilder::<X86_64>::new("pin of a shared page", 1)
        .setup(|s| {
            let p = s.page(false)?;
            s.map_pte(0, 0, p, PteInit::WRPROTECTED)?;
            s.pin_page(p)
        })
        .thread("move_pages", Typed(mover()))
        .build()
        .unwrap_err();
    assert_eq!(err, ScenarioError::PinOfSharedPage(0));
    assert!(err.to_string().contains("PageAnonExclusive"), "{err}");
}

// Without the pin check (A2), the move shares a pinned page: every search on every backend
// finds the pinned page that is no longer PageAnonExclusive.
#[test]
fn a_move_that_ignores_pins_breaks_pin_exclusive_on_every_backend() {
    struct Every(usize);
    impl ArchVisitor for Every {
        fn visit<A: PmdOps>(&mut self) {
            for writable in [true, false] {
                let mover = MovePages {
                    ignore_pins: true,
                    ..mover()
                };
                pin_exclusive_broken(&pin_scenario::<A>(writable, Pinner::Before, mover));
                self.0 += 1;
            }
        }
    }
    let mut every = Every(0);
    visit_all(&mut every);
    assert!(every.0 >= 28, "{}", every.0);
}

// Sharing before the pte is cleared, against rmap.h's order: GUP-fast reads a writable pte,
// pins, finds the pte unchanged and, the pte being writable, never asks for
// PageAnonExclusive (B5), so it keeps a pin on a page the move has just shared. A
// write-protected pte is safe even so: B5 sees the shared page and backs off.
#[test]
fn sharing_before_the_pte_is_cleared_lets_gup_fast_pin_a_shared_page() {
    struct Every(usize);
    impl ArchVisitor for Every {
        fn visit<A: PmdOps>(&mut self) {
            let mover = MovePages {
                share_before_clear: true,
                ..mover()
            };
            pin_exclusive_broken(&pin_scenario::<A>(true, Pinner::Fast, mover));
            every_search_holds(&pin_scenario::<A>(false, Pinner::Fast, mover));
            self.0 += 1;
        }
    }
    let mut every = Every(0);
    visit_all(&mut every);
    assert!(every.0 >= 14, "{}", every.0);
    // The x86_64 trace, in order: the early share, then GUP-fast's whole pin.
    let sc = pin_scenario::<X86_64>(
        true,
        Pinner::Fast,
        MovePages {
            share_before_clear: true,
            ..mover()
        },
    );
    let Verdict::Violated(cx) = explore(&sc, Options::default()).verdict else {
        panic!("not found")
    };
    let trace = replay(&sc, &cx.schedule).expect("replays");
    let text = format!("{trace}");
    let share = text
        .find("before ptep_clear_flush")
        .expect("the early share");
    let keep = text
        .find("the entry is writable")
        .expect("GUP-fast keeps its pin");
    assert!(share < keep, "{text}");
    assert!(text.contains("INV-PIN-EXCLUSIVE"), "{text}");
}

// The catalogue's `pin-migrate` cell (the audit's): move, pin and write fault hold on every
// fixed backend under every search, and `--mutate migrate-shares-before-clear` is found.
#[test]
fn the_pin_migrate_cell_holds_and_its_mutation_is_found() {
    use pgtable::scenario::{Knobs, V6_12, build};
    struct Every(usize);
    impl ArchVisitor for Every {
        fn visit<A: PmdOps>(&mut self) {
            if common::is_historical(A::ID) {
                return;
            }
            let sc = build::<A>("pin-migrate", V6_12, Knobs::default()).unwrap();
            assert!(every_search_holds(&sc) > 1_000);
            let mutated = Knobs {
                migrate_shares_before_clear: true,
                ..Knobs::default()
            };
            pin_exclusive_broken(&build::<A>("pin-migrate", V6_12, mutated).unwrap());
            self.0 += 1;
        }
    }
    let mut every = Every(0);
    visit_all(&mut every);
    assert!(every.0 >= 12, "{}", every.0);
}
