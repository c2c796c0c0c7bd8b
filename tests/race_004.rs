//! Race 004 (khugepaged's `collapse_file` vs userfaultfd MODE_MISSING, 2023) on every backend
//! it applies to: v6.2 commits a hole a registration expected and shows a folio it then
//! rolls back; v6.12 holds; every search agrees; the mutations of v6.12 are caught by the
//! invariant they break; the traces show the page-cache slots a step stored to.

mod common;

use std::collections::BTreeSet;

use common::is_historical;

use pgtable::PmdOps;
use pgtable::arch::{ArchVisitor, visit_all};
use pgtable::engine::explore::{Options, Search, Verdict, explore};
use pgtable::engine::trace::replay;
use pgtable::scenario::race_004::{self, EEXIST, NOTRANSIENT, UFFD, XA};
use pgtable::scenario::{Expectation, Knobs, V6_12, build, entry};

const IDS: [&str; 2] = ["race-004-uffd", "race-004-rollback"];

fn expected(id: &str, variant: &str) -> BTreeSet<&'static str> {
    match (id, variant) {
        ("race-004-uffd", race_004::V6_2) => [UFFD.id].into(),
        ("race-004-rollback", race_004::V6_2) => [NOTRANSIENT.id, EEXIST.id].into(),
        _ => BTreeSet::new(),
    }
}

struct EveryBackend {
    ran: usize,
}

impl ArchVisitor for EveryBackend {
    fn visit<A: PmdOps>(&mut self) {
        let b = pgtable::arch::lookup(A::ID.name()).unwrap();
        for id in IDS {
            for &v in race_004::VARIANTS {
                let exp = (entry(id).unwrap().expect)(b, v);
                if !A::GEOMETRY.has_thp || is_historical(A::ID) {
                    let Expectation::NotApplicable(why) = exp else {
                        panic!("{} {id} {v}: expected n/a, got {exp:?}", A::ID);
                    };
                    if !A::GEOMETRY.has_thp {
                        assert!(why.contains("no transparent huge pages"), "{why}");
                    }
                    continue;
                }
                let sc = build::<A>(id, v, Knobs::default()).unwrap();
                let truth = common::broken_under_every_search(&sc);
                assert_eq!(truth, expected(id, v), "{} {id} {v}", A::ID);
                match exp {
                    Expectation::Holds => assert!(truth.is_empty()),
                    Expectation::Violation(ids) => {
                        assert!(ids.iter().all(|i| truth.contains(i.id())), "{ids:?}");
                    }
                    Expectation::NotApplicable(why) => panic!("{} {id} {v}: n/a: {why}", A::ID),
                }
                self.ran += 1;
            }
        }
    }
}

#[test]
fn v6_2_breaks_exactly_its_invariants_and_v6_12_holds_on_every_thp_backend() {
    let mut v = EveryBackend { ran: 0 };
    visit_all(&mut v);
    assert!(v.ran >= 4, "no THP backend ran race 004");
}

#[test]
fn the_historical_traces_replay_and_show_the_hole_filled_then_emptied() {
    type A = pgtable::arch::X86_64;
    let bfs = Options {
        search: Search::BreadthFirst,
        ..Options::default()
    };
    // The suppressed event: the hole gets the new folio after the registration.
    let sc = build::<A>("race-004-uffd", race_004::V6_2, Knobs::default()).unwrap();
    let Verdict::Violated(cx) = explore(&sc, bfs).verdict else {
        panic!("v6.2 holds");
    };
    assert_eq!(cx.invariant.id(), UFFD.id);
    let t = replay(&sc, &cx.schedule).unwrap();
    let registered = t
        .steps
        .iter()
        .position(|s| {
            s.vmas
                .iter()
                .any(|v| v.after.to_string().contains("UFFD_MISSING"))
        })
        .expect("the registration is in the trace");
    let filled = t
        .steps
        .iter()
        .position(|s| {
            s.cache.iter().any(|c| {
                c.index == 0 && c.before_text() == "NULL" && c.after_text().starts_with("huge page")
            })
        })
        .expect("the hole's fill is in the trace");
    assert!(
        registered < filled,
        "registered at {registered}, filled at {filled}"
    );
    assert!(t.to_string().contains("xa[0]"), "{t}");

    // The rollback: the hole shows the folio, then NULL again.
    let sc = build::<A>("race-004-rollback", race_004::V6_2, Knobs::default()).unwrap();
    let Verdict::Violated(cx) = explore(&sc, bfs).verdict else {
        panic!("v6.2 holds");
    };
    let t = replay(&sc, &cx.schedule).unwrap();
    let stores: Vec<(String, String)> = t
        .steps
        .iter()
        .flat_map(|s| s.cache.iter().filter(|c| c.index == 0))
        .map(|c| (c.before_text(), c.after_text()))
        .collect();
    assert_eq!(
        stores.first().map(|s| s.0.as_str()),
        Some("NULL"),
        "{stores:?}"
    );
    assert_eq!(
        stores.last().map(|s| s.1.as_str()),
        Some("NULL"),
        "{stores:?}"
    );
    assert!(stores.len() >= 2, "{stores:?}");
}

#[test]
fn the_rollback_breaks_eexist_where_the_copy_saw_the_folio() {
    type A = pgtable::arch::S390;
    // Depth-first without stopping: INV-004-EEXIST needs the copy between the fill and the
    // rollback, and is found.
    let sc = build::<A>("race-004-rollback", race_004::V6_2, Knobs::default()).unwrap();
    let out = common::exhaust(&sc, Search::DepthFirst, true);
    assert!(common::broken(&out).contains(EEXIST.id));
}

#[test]
fn each_mutation_of_v6_12_breaks_the_invariant_it_removes() {
    fn check<A: PmdOps>() {
        let skip = Knobs {
            collapse_skips_uffd_check: true,
            ..Knobs::default()
        };
        let sc = build::<A>("race-004-uffd", V6_12, skip).unwrap();
        assert_eq!(
            common::broken_under_every_search(&sc),
            [UFFD.id].into(),
            "{}",
            A::ID
        );
        let keep = Knobs {
            collapse_rollback_keeps_retry: true,
            ..Knobs::default()
        };
        for id in IDS {
            let sc = build::<A>(id, V6_12, keep).unwrap();
            assert!(
                common::broken_under_every_search(&sc).contains(XA.id),
                "{} {id}",
                A::ID
            );
        }
    }
    check::<pgtable::arch::X86_64>();
    check::<pgtable::arch::Arm64>();
}

#[test]
fn an_unknown_variant_is_a_typed_error() {
    let e = build::<pgtable::arch::X86_64>("race-004-uffd", "v5.0", Knobs::default());
    assert!(e.is_err());
}

/// The report (JSON, Markdown, the HTML sequence diagram) shows the page-cache stores of a
/// race-004 trace, and the trace replays from the report.
#[cfg(feature = "cli")]
#[test]
fn reports_draw_the_page_cache_slots_a_step_stored_to() {
    use pgtable::audit::{self, Encodings, Plan};
    let plan = Plan::new()
        .arches(&["x86_64"])
        .unwrap()
        .scenarios(&["race-004-rollback"])
        .unwrap();
    let enc = Encodings::of(&plan.backends);
    let mut report = audit::run::run(&plan.encodings(enc), 1, &|_| {});
    report.drop_timings();
    let t = &report.traces[0];
    let stores: Vec<_> = t.steps.iter().flat_map(|s| s.cache.iter()).collect();
    assert!(
        stores
            .iter()
            .any(|c| c.place == "xa[0]" && c.before == "NULL" && c.after.starts_with("huge page")),
        "{stores:?}"
    );
    let json = serde_json::to_string(&report).unwrap();
    assert!(json.contains("\"cache\""), "the JSON has the stores");
    let md = audit::markdown::render(&report);
    assert!(
        md.contains("`xa[0]  NULL  ->  huge page"),
        "the Markdown lists them"
    );
    let html = audit::html::render(&report);
    assert!(html.contains("xa[0]"), "the sequence diagram draws them");
    let replayed = audit::replay(report.trace(&t.id).unwrap()).unwrap();
    assert!(replayed.reproduced, "{}", replayed.message);
    assert_eq!(replayed.trace.as_ref().unwrap().steps, t.steps);
}

#[test]
fn a_monitor_cell_past_the_machine_is_a_typed_error() {
    use pgtable::engine::ScenarioBuilder;
    use pgtable::engine::ops::collapse_file::CollapseGhost;
    use pgtable::engine::ops::find_get_entries::FindGetEntries;
    let e = ScenarioBuilder::<pgtable::arch::X86_64>::new("bad-ghost", 1)
        .spinlock(race_004::XA_LOCK)
        .thread(
            "lookup",
            FindGetEntries {
                xa_lock: race_004::XA_LOCK,
                ghost: CollapseGhost(99),
            },
        )
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("ghost cell 99"), "{e}");
}

/// Written as an outside crate would: the `race-004-uffd` threads over v6.12 from public
/// pieces, with probe invariants that "break" exactly when an outcome is reachable, so the
/// fixed variant is shown to commit, to give up on a registered range, and to give up on a
/// filled hole: its "holds" is not vacuous.
mod outcomes {
    use pgtable::engine::explore::{Options, explore};
    use pgtable::engine::invariant::Invariant;
    use pgtable::engine::mm::Machine;
    use pgtable::engine::ops::collapse_file::{
        CollapseFile, CollapseShape, uffd_missing_registered,
    };
    use pgtable::engine::ops::shmem_fault::ShmemFault;
    use pgtable::engine::ops::userfaultfd::{UffdCopy, UffdRegister};
    use pgtable::engine::state::page_cache::XaEntry;
    use pgtable::engine::state::vma::VmFlags;
    use pgtable::engine::{ScenarioBuilder, Tid};
    use pgtable::scenario::race_004::{GHOST, I_MMAP, XA_LOCK};

    type A = pgtable::arch::Arm64;

    static COMMITTED: Invariant = Invariant::new(
        "INV-PROBE-COMMITTED",
        "The collapse never commits (a probe: broken when a commit is reachable).",
    );
    static REFUSED: Invariant = Invariant::new(
        "INV-PROBE-REFUSED",
        "The collapse never ends with the hole still a hole in a registered range.",
    );
    static FILLED: Invariant = Invariant::new(
        "INV-PROBE-FILLED",
        "The collapse never ends with a small folio in the hole.",
    );

    fn collapse_done(m: &Machine<A>) -> bool {
        m.th(Tid(0)).done
    }

    fn committed(m: &Machine<A>) -> Option<&'static str> {
        let huge = |e| matches!(e, XaEntry::Page(p) if m.page(p).huge);
        (collapse_done(m) && huge(m.xa_load(0)) && huge(m.xa_load(1))).then_some("committed")
    }

    fn refused(m: &Machine<A>) -> Option<&'static str> {
        (collapse_done(m) && m.xa_load(0) == XaEntry::Empty && uffd_missing_registered(m))
            .then_some("refused")
    }

    fn filled(m: &Machine<A>) -> Option<&'static str> {
        let small = matches!(m.xa_load(0), XaEntry::Page(p) if !m.page(p).huge);
        (collapse_done(m) && small).then_some("filled")
    }

    #[test]
    fn v6_12_commits_refuses_a_registered_range_and_gives_up_on_a_filled_hole() {
        let sc = ScenarioBuilder::<A>::new("outside-race-004", 1)
            .file_backed()
            .spinlock(XA_LOCK)
            .rwsem(I_MMAP)
            .setup(|s| {
                s.vma(0, 0, 1, VmFlags::READ | VmFlags::SHARED)?;
                s.table(0)?;
                let p = s.page(false)?;
                s.cache_page(1, p)
            })
            .thread(
                "collapse",
                CollapseFile::new(CollapseShape::V6_12, XA_LOCK, I_MMAP, GHOST),
            )
            .thread("register", UffdRegister { region: 0 })
            .thread(
                "fault",
                ShmemFault {
                    region: 0,
                    index: 0,
                    xa_lock: XA_LOCK,
                    ghost: GHOST,
                },
            )
            .thread(
                "copy",
                UffdCopy {
                    region: 0,
                    index: 0,
                    xa_lock: XA_LOCK,
                    ghost: GHOST,
                },
            )
            .state_invariant(&COMMITTED, committed)
            .state_invariant(&REFUSED, refused)
            .state_invariant(&FILLED, filled)
            .build()
            .unwrap();
        let out = explore(
            &sc,
            Options {
                stop_at_first: false,
                ..Options::default()
            },
        );
        assert!(out.complete);
        let seen: std::collections::BTreeSet<_> =
            out.violated_declared.iter().map(|i| i.id()).collect();
        assert_eq!(
            seen,
            [COMMITTED.id, REFUSED.id, FILLED.id].into(),
            "every outcome is reachable"
        );
    }
}
