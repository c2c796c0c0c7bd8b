//! Race 002 (THP split vs MADV_DONTNEED) over every THP backend: the historical ARM LPAE
//! encoding is caught with a short trace, every other backend holds exhaustively, and
//! mutations of the fixed code are caught by the invariant they break.

use pgtable::arch::{ArchVisitor, visit_all};
use pgtable::engine::explore::{Options, Search, Verdict, explore};
use pgtable::engine::invariant::InvariantId;
use pgtable::engine::trace::replay;
use pgtable::scenario::{Knobs, build};
use pgtable::{ArchId, PmdOps};

struct Run {
    knobs: Knobs,
    opts: Options,
    results: Vec<(ArchId, Verdict, u64, String)>,
}

impl ArchVisitor for Run {
    fn visit<A: PmdOps>(&mut self) {
        if !A::GEOMETRY.has_thp {
            return;
        }
        let sc = build::<A>("race-002", "v4.5", self.knobs).expect("race-002 builds");
        let out = explore(&sc, self.opts);
        let trace = match &out.verdict {
            Verdict::Violated(cx) => replay(&sc, &cx.schedule).expect("replays").to_string(),
            _ => String::new(),
        };
        println!(
            "{:<14} {:?} states={} transitions={} {:?}",
            A::ID,
            short(&out.verdict),
            out.stats.states,
            out.stats.transitions,
            out.stats.elapsed
        );
        self.results
            .push((A::ID, out.verdict, out.stats.states, trace));
    }
}

fn short(v: &Verdict) -> String {
    match v {
        Verdict::Violated(cx) => format!("violated {} ({} steps)", cx.invariant, cx.schedule.len()),
        other => format!("{other:?}"),
    }
}

fn run(knobs: Knobs, search: Search) -> Vec<(ArchId, Verdict, u64, String)> {
    let mut r = Run {
        knobs,
        opts: Options {
            search,
            ..Options::default()
        },
        results: Vec::new(),
    };
    visit_all(&mut r);
    r.results
}

#[test]
fn historical_arm_lpae_empties_the_pmd_and_every_other_backend_holds() {
    let results = run(Knobs::default(), Search::DepthFirst);
    assert_eq!(
        cfg!(feature = "arm"),
        results.iter().any(|r| r.0 == ArchId::ArmLpaeV4_5)
    );
    for (arch, verdict, states, trace) in results {
        if arch == ArchId::ArmLpaeV4_5 {
            let Verdict::Violated(cx) = verdict else {
                panic!("v4.5: expected a violation")
            };
            assert!(
                [InvariantId::NEVER_NONE, InvariantId::DONTNEED].contains(&cx.invariant),
                "{trace}"
            );
        } else {
            assert_eq!(verdict, Verdict::Holds, "{arch}: {trace}");
            assert!(states > 10, "{arch} explored only {states} states");
        }
    }
}

#[test]
fn shortest_counterexample_on_v4_5_is_about_a_dozen_steps() {
    for (arch, verdict, _, trace) in run(Knobs::default(), Search::BreadthFirst) {
        if arch == ArchId::ArmLpaeV4_5 {
            let Verdict::Violated(cx) = verdict else {
                panic!("v4.5: expected a violation")
            };
            println!("{trace}");
            assert!(
                cx.schedule.len() <= 14,
                "{} steps:\n{trace}",
                cx.schedule.len()
            );
            assert!(trace.contains("pmdp_invalidate"), "{trace}");
        }
    }
}

// The user-visible consequence on v4.5: MADV_DONTNEED skips the emptied pmd and returns
// while the split republishes every subpage.
#[test]
fn on_v4_5_madv_dontneed_returns_with_the_pages_still_mapped() {
    #[cfg(feature = "arm")]
    {
        use pgtable::engine::invariant::InvariantSet;
        let mut sc =
            build::<pgtable::arch::ArmLpaeV4_5>("race-002", "v4.5", Knobs::default()).unwrap();
        sc.invariants = InvariantSet::default().with(InvariantId::DONTNEED);
        let out = explore(
            &sc,
            Options {
                search: Search::BreadthFirst,
                ..Options::default()
            },
        );
        let Verdict::Violated(cx) = out.verdict else {
            panic!("not found")
        };
        let trace = replay(&sc, &cx.schedule).unwrap().to_string();
        println!("{trace}");
        assert_eq!(cx.invariant, InvariantId::DONTNEED);
        assert!(cx.schedule.len() <= 16, "{trace}");
        assert!(
            trace.contains("zap_pmd_range: pmd_none, skip the range"),
            "{trace}"
        );
        assert!(trace.contains("pmd_populate"), "{trace}");
        // The README quotes this trace's numbered steps: they must stay true.
        readme_quotes_steps_of("## The engine", &trace);
    }
}

/// Returns `s` with every run of whitespace made one space.
#[cfg(feature = "arm")]
fn squeeze(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Checks that every numbered trace step the README quotes in the section under `heading`
/// is a step of `trace` (whitespace aside).
#[cfg(feature = "arm")]
/// Whether `quoted` is `line`, where the README may elide the head of a flag list as
/// `[...]` or `[... NONE | RDONLY]` (keeping its tail).
fn quotes(line: &str, quoted: &str) -> bool {
    let Some((head, rest)) = quoted.split_once("[...") else {
        return line == quoted;
    };
    let Some((kept, tail)) = rest.split_once(']') else {
        return false;
    };
    line.len() >= head.len() + tail.len()
        && line.starts_with(head)
        && line.ends_with(tail)
        && line[head.len()..line.len() - tail.len()].ends_with(&format!("{kept}]"))
}

fn readme_quotes_steps_of(heading: &str, trace: &str) {
    let readme = include_str!("../README.md");
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with(heading.trim_start_matches("## ")))
        .unwrap_or_else(|| panic!("README has no section {heading}"));
    let quoted: Vec<String> = section
        .lines()
        .map(str::trim)
        .filter(|l| {
            let step = l.len() > 4 && l.as_bytes()[0].is_ascii_digit() && l.contains(". ");
            (step && (l.contains("split") || l.contains("zap")))
                // The entries a step touched and the violation line, as decoded today.
                || l.starts_with("pmd[")
                || l.starts_with("table")
                || l.starts_with("VIOLATED")
        })
        .map(squeeze)
        .collect();
    assert!(quoted.len() >= 4, "{heading}: {quoted:?}");
    for line in quoted {
        assert!(
            trace.lines().any(|t| quotes(&squeeze(t), &line)),
            "README ({heading}) quotes a step the trace lacks: {line}\n{trace}"
        );
    }
}

// The README's kernel section quotes the model's prot-none-thp-zap counterexample on
// arm-lpae beside the kernel's Oops: it must stay the checker's.
#[test]
fn the_readme_quotes_the_prot_none_thp_zap_trace() {
    #[cfg(feature = "arm")]
    {
        let sc = build::<pgtable::arch::ArmLpae>("prot-none-thp-zap", "v6.12", Knobs::default())
            .unwrap();
        let out = explore(
            &sc,
            Options {
                search: Search::BreadthFirst,
                ..Options::default()
            },
        );
        let Verdict::Violated(cx) = out.verdict else {
            panic!("not found")
        };
        assert_eq!(cx.invariant, InvariantId::ZAP_FOLIO);
        let trace = replay(&sc, &cx.schedule).unwrap().to_string();
        readme_quotes_steps_of("## Real kernels under QEMU", &trace);
    }
}

fn mutation(knobs: Knobs, expect: &[InvariantId]) {
    let mut seen = 0;
    for (arch, verdict, _, trace) in run(knobs, Search::DepthFirst) {
        if arch == ArchId::ArmLpaeV4_5 {
            continue;
        }
        seen += 1;
        match verdict {
            Verdict::Violated(cx) => assert!(
                expect.contains(&cx.invariant),
                "{arch}: {}\n{trace}",
                cx.invariant
            ),
            other => panic!("{arch}: mutation not caught: {other:?}"),
        }
    }
    assert!(seen > 0);
}

#[test]
fn split_without_tlb_flush_breaks_the_small_huge_tlb_rule() {
    mutation(
        Knobs {
            split_skips_tlb_flush: true,
            ..Knobs::default()
        },
        &[InvariantId::TLB_SMALL_HUGE],
    );
}

#[test]
fn zap_huge_pmd_without_the_pmd_lock_is_caught() {
    mutation(
        Knobs {
            zap_huge_unlocked: true,
            ..Knobs::default()
        },
        &[
            InvariantId::NEVER_NONE,
            InvariantId::DONTNEED,
            InvariantId::DEPOSIT,
        ],
    );
}

#[test]
fn freeing_the_deposited_table_breaks_table_life() {
    mutation(
        Knobs {
            fault_frees_deposit: true,
            ..Knobs::default()
        },
        &[InvariantId::TABLE_LIFE],
    );
}

// v4.5 as stored: the split leaves 0x880 (AP2 | nG) in the pmd, a present huge pmd of pfn 0,
// and GUP-fast hands its caller pfn 0's page. Every fixed backend keeps the pfn or reads the
// pmd as not present, and holds.
#[test]
fn gup_fast_takes_pfn_0_from_v4_5_as_stored_and_nothing_wrong_elsewhere() {
    struct Gup(Vec<(ArchId, Verdict, String)>);
    impl ArchVisitor for Gup {
        fn visit<A: PmdOps>(&mut self) {
            if !A::GEOMETRY.has_thp {
                return;
            }
            let sc = build::<A>("race-002-gup", "v4.5", Knobs::default()).unwrap();
            let out = explore(
                &sc,
                Options {
                    search: Search::BreadthFirst,
                    ..Options::default()
                },
            );
            let trace = match &out.verdict {
                Verdict::Violated(cx) => replay(&sc, &cx.schedule).unwrap().to_string(),
                _ => String::new(),
            };
            self.0.push((A::ID, out.verdict, trace));
        }
    }
    let mut g = Gup(Vec::new());
    visit_all(&mut g);
    assert_eq!(
        cfg!(feature = "arm"),
        g.0.iter().any(|r| r.0 == ArchId::ArmLpaeV4_5Stored)
    );
    for (arch, verdict, trace) in g.0 {
        match arch {
            ArchId::ArmLpaeV4_5Stored => {
                let Verdict::Violated(cx) = verdict else {
                    panic!("stored: not found")
                };
                assert_eq!(cx.invariant, InvariantId::DECODE, "{trace}");
                assert!(cx.schedule.len() <= 10, "{trace}");
                assert!(trace.contains("0x880"), "{trace}");
                // v4.5's gup_pmd_range has no pmd_present test: the word goes straight to
                // gup_huge_pmd (a pmd_present test would not stop it: 0x880 is non-zero).
                assert!(
                    trace.contains("gup_huge_pmd: the pfn of a huge pmd"),
                    "{trace}"
                );
                assert!(
                    !trace.contains("gup_fast_"),
                    "v6.12 names in v4.5 code: {trace}"
                );
            }
            ArchId::ArmLpaeV4_5 => {
                let Verdict::Violated(cx) = verdict else {
                    panic!("v4.5: not found")
                };
                assert_eq!(cx.invariant, InvariantId::NEVER_NONE, "{trace}");
            }
            _ => assert_eq!(verdict, Verdict::Holds, "{arch}: {trace}"),
        }
    }
}
