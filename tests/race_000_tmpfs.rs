//! Race 000-A (huge tmpfs: a page table exposed, then replaced by a huge pmd) on every THP
//! backend: the 2016 shape frees a table a walker holds (INV-TABLE-LIFE) and overwrites a
//! table pmd under `mmap_lock` read (INV-NONTERMINAL); v6.12 holds; `do_set_pmd`'s
//! `pmd_none` recheck is what keeps UFFDIO_COPY's table, and not what keeps a table in a
//! collapse, where folio locks already order the faults.

mod common;

use std::collections::BTreeSet;

use common::is_historical;

use pgtable::PmdOps;
use pgtable::arch::{ArchVisitor, visit_all};
use pgtable::engine::explore::{Options, Search, Verdict, explore};
use pgtable::engine::invariant::InvariantId;
use pgtable::engine::trace::replay;
use pgtable::scenario::race_000::{self, NONTERMINAL};
use pgtable::scenario::{Expectation, Knobs, V6_12, build, entry};

struct EveryBackend {
    ran: usize,
}

impl ArchVisitor for EveryBackend {
    fn visit<A: PmdOps>(&mut self) {
        let b = pgtable::arch::lookup(A::ID.name()).unwrap();
        let cells = race_000::TMPFS_VARIANTS
            .iter()
            .map(|&v| ("race-000-tmpfs", v))
            .chain([("race-000-tmpfs-uffd", V6_12)]);
        for (id, v) in cells {
            let exp = (entry(id).unwrap().expect)(b, v);
            if !A::GEOMETRY.has_thp || is_historical(A::ID) {
                assert!(matches!(exp, Expectation::NotApplicable(_)), "{exp:?}");
                continue;
            }
            // Watched: INV-NONTERMINAL declared on every variant.
            let sc = if id == "race-000-tmpfs" {
                race_000::build_tmpfs::<A>(v, Knobs::default(), true).unwrap()
            } else {
                build::<A>(id, v, Knobs::default()).unwrap()
            };
            let truth = common::broken_under_every_search(&sc);
            let expected: BTreeSet<&str> = if v == race_000::HUGE_TMPFS_2016 {
                [InvariantId::TABLE_LIFE.id(), NONTERMINAL.id].into()
            } else {
                BTreeSet::new()
            };
            assert_eq!(truth, expected, "{} {id} {v}", A::ID);
            // The catalogue's cell (2016 unwatched) finds the use-after-free.
            let sc = build::<A>(id, v, Knobs::default()).unwrap();
            match (exp, explore(&sc, Options::default()).verdict) {
                (Expectation::Holds, Verdict::Holds) => {}
                (Expectation::Violation(ids), Verdict::Violated(cx)) => {
                    assert!(ids.contains(&cx.invariant), "{:?}", cx.invariant);
                    replay(&sc, &cx.schedule).unwrap();
                }
                (e, v) => panic!("{} {id}: expected {e:?}, got {v:?}", A::ID),
            }
            self.ran += 1;
        }
    }
}

#[test]
fn the_2016_shape_frees_a_reachable_table_and_v6_12_holds_on_every_thp_backend() {
    let mut v = EveryBackend { ran: 0 };
    visit_all(&mut v);
    assert!(v.ran >= 9, "{}", v.ran);
}

#[test]
fn the_2016_trace_frees_the_table_the_walker_then_locks() {
    type A = pgtable::arch::X86_64;
    let sc = build::<A>(
        "race-000-tmpfs",
        race_000::HUGE_TMPFS_2016,
        Knobs::default(),
    )
    .unwrap();
    let bfs = Options {
        search: Search::BreadthFirst,
        ..Options::default()
    };
    let Verdict::Violated(cx) = explore(&sc, bfs).verdict else {
        panic!("the 2016 shape holds");
    };
    assert_eq!(cx.invariant, InvariantId::TABLE_LIFE);
    let t = replay(&sc, &cx.schedule).unwrap();
    let replaced = t
        .steps
        .iter()
        .position(|s| s.label.contains("pte_free"))
        .expect("the table is freed in the trace");
    let last = t.steps.last().unwrap();
    assert!(replaced < t.steps.len() - 1);
    assert_eq!(last.thread_name, "walker", "{t}");
}

#[test]
fn do_set_pmd_without_its_recheck_replaces_uffdio_copys_table() {
    fn check<A: PmdOps>() {
        let k = Knobs {
            do_set_pmd_skips_recheck: true,
            ..Knobs::default()
        };
        let sc = build::<A>("race-000-tmpfs-uffd", V6_12, k).unwrap();
        assert_eq!(
            common::broken_under_every_search(&sc),
            [NONTERMINAL.id].into(),
            "{}",
            A::ID
        );
    }
    check::<pgtable::arch::X86_64>();
    check::<pgtable::arch::PowerpcHash>();
}

/// A finding about v6.12's design, pinned: with only faults and a collapse, the recheck is
/// not what protects the table (the collapse needs the lock of every small folio, and the
/// fault that installs a table holds its folio's lock meanwhile), so the mutation holds.
#[test]
fn in_a_collapse_the_folio_locks_order_the_faults_without_the_recheck() {
    type A = pgtable::arch::Arm64;
    for skip in [false, true] {
        let k = Knobs {
            do_set_pmd_skips_recheck: skip,
            ..Knobs::default()
        };
        let sc = race_000::build_tmpfs_collapse::<A>(k).unwrap();
        assert!(
            common::broken_under_every_search(&sc).is_empty(),
            "skip={skip}"
        );
    }
}

/// A one-line mutation of v6.12 that `race-000-tmpfs`'s invariants catch, written as an
/// outside crate would: `deposit_prealloc_pte` without clearing `vmf->prealloc_pte`, so the
/// fault's end frees the table it deposited under the huge pmd (powerpc's hash MMU is the
/// architecture that deposits); a MADV_DONTNEED then withdraws and frees it again
/// (INV-TABLE-LIFE). The same threads with v6.12 as it is hold.
#[test]
fn a_deposit_freed_by_the_fault_is_freed_again_by_the_zap() {
    use pgtable::engine::ScenarioBuilder;
    use pgtable::engine::ops::huge_tmpfs_fault::{HugeTmpfsFault, TmpfsShape};
    use pgtable::engine::ops::v6_12::zap::MadvDontneed;
    use pgtable::engine::state::vma::VmFlags;
    type A = pgtable::arch::PowerpcHash;
    for keep in [false, true] {
        let fault = |slot| HugeTmpfsFault {
            keep_deposited_prealloc: keep,
            ..HugeTmpfsFault::new(0, slot, TmpfsShape::V6_12)
        };
        let sc = ScenarioBuilder::<A>::new("tmpfs-zap", 1)
            .file_backed()
            .setup(|s| {
                s.vma(0, 0, 1, VmFlags::READ | VmFlags::SHARED)?;
                let h = s.page(true)?;
                s.cache_page(0, h)?;
                s.cache_page(1, h)
            })
            .thread("fault0", fault(0))
            .thread("fault1", fault(1))
            .thread("zap", MadvDontneed::new(0))
            .invariants(
                pgtable::engine::invariant::InvariantSet::default()
                    .with(InvariantId::TABLE_LIFE)
                    .with(InvariantId::DEPOSIT)
                    .with(InvariantId::LOCK_BALANCE),
            )
            .build()
            .unwrap();
        let found = common::broken_under_every_search(&sc);
        if keep {
            assert!(found.contains(InvariantId::TABLE_LIFE.id()), "{found:?}");
        } else {
            assert!(found.is_empty(), "{found:?}");
        }
    }
}
