//! Helpers shared by the integration tests.

use std::path::Path;

/// Checks the README block between `<!-- {name}:begin -->` and `<!-- {name}:end -->` against
/// `fresh`; with `PGTABLE_BLESS=1` rewrites it instead.
// Each test binary compiles this module; not every one uses every helper.
#[allow(dead_code)]
pub fn check_readme_block(name: &str, fresh: &str, test: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md is readable");
    let begin = format!("<!-- {name}:begin -->\n");
    let end = format!("<!-- {name}:end -->");
    let start = readme.find(&begin).expect("README has the begin marker") + begin.len();
    let stop = start
        + readme[start..]
            .find(&end)
            .expect("README has the end marker");
    if readme[start..stop] == *fresh {
        return;
    }
    if std::env::var_os("PGTABLE_BLESS").is_some_and(|v| v == "1") {
        let updated = format!("{}{fresh}{}", &readme[..start], &readme[stop..]);
        std::fs::write(&path, updated).expect("README.md is writable");
        eprintln!("README.md: rewrote the {name} block");
        return;
    }
    panic!(
        "README.md's {name} block is stale; run `PGTABLE_BLESS=1 cargo test --test {test}` \
         or paste this between the markers:\n{fresh}"
    );
}

/// Returns a fresh directory `<prefix>-<pid>-<n>-<name>` under cargo's scratch space for
/// integration tests. On the first call it removes the directories of earlier runs whose
/// process has exited; a live process's directories (a concurrent `cargo test` in the same
/// target directory) are left alone.
// Each test binary compiles this module; not every one uses every helper.
#[allow(dead_code)]
pub fn scratch_dir(prefix: &str, name: &str) -> std::path::PathBuf {
    use std::sync::Once;
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    static CLEANED: Once = Once::new();
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
    CLEANED.call_once(|| remove_dead_runs(root, prefix));
    let dir = root.join(format!(
        "{prefix}-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// Removes `<prefix>-<pid>-...` directories in `root` whose process no longer runs.
fn remove_dead_runs(root: &Path, prefix: &str) {
    let me = std::process::id();
    for e in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != me && !process_is_alive(pid) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Whether process `pid` exists. Where that cannot be known (no `/proc`), every process
/// counts as alive, so nothing of another run is ever removed.
fn process_is_alive(pid: u32) -> bool {
    let proc_root = Path::new("/proc");
    !proc_root.join("self").exists() || proc_root.join(pid.to_string()).exists()
}

/// Runs thread 0 of `sc` alone to completion, asserting that no step raises a violation;
/// returns the final machine and the steps' labels.
#[allow(dead_code)]
#[track_caller]
pub fn run_alone<A: pgtable::PmdOps>(
    sc: &pgtable::engine::Scenario<A>,
) -> (pgtable::engine::mm::Machine<A>, Vec<&'static str>) {
    use pgtable::engine::Tid;
    use pgtable::engine::program::Step;
    let mut m = sc.initial.clone();
    let mut labels = Vec::new();
    for _ in 0..64 {
        if m.th(Tid(0)).done {
            return (m, labels);
        }
        m.begin_step(false);
        match sc.threads[0].program.step(&mut m, Tid(0)) {
            Step::Ran(l) => labels.push(l),
            Step::Blocked(w) => panic!("blocked alone on {w:?}"),
        }
        let raised = m.end_step().raised;
        assert!(raised.is_empty(), "{raised:?} after {labels:?}");
    }
    panic!("did not finish");
}

/// The ids of every invariant an exhaustive search found broken, built-in and custom.
#[allow(dead_code)]
pub fn broken(out: &pgtable::engine::explore::Outcome) -> std::collections::BTreeSet<&'static str> {
    use pgtable::engine::invariant::InvariantId;
    out.violated
        .ids()
        .chain(out.violated_declared.iter().copied())
        .map(InvariantId::id)
        .collect()
}

/// Explores every reachable state of `sc` with `search` (partial-order reduction on or off),
/// asserting that the search completed.
#[allow(dead_code)]
#[track_caller]
pub fn exhaust<A: pgtable::PmdOps>(
    sc: &pgtable::engine::Scenario<A>,
    search: pgtable::engine::explore::Search,
    por: bool,
) -> pgtable::engine::explore::Outcome {
    use pgtable::engine::explore::{Options, explore};
    let out = explore(
        sc,
        Options {
            search,
            por,
            stop_at_first: false,
            ..Options::default()
        },
    );
    assert!(out.complete, "{}: the search did not complete", sc.name);
    out
}

/// Returns whether a backend models the 2016 helpers (n/a under later generic code).
#[allow(dead_code)]
pub fn is_historical(id: pgtable::ArchId) -> bool {
    matches!(
        id,
        pgtable::ArchId::ArmLpaeV4_5 | pgtable::ArchId::ArmLpaeV4_5Stored
    )
}

/// Returns whether today's (v6.12) THP code runs on backend `A`: it has THP and is not one
/// of the 2016 helper sets.
#[allow(dead_code)]
pub fn fixed_thp<A: pgtable::PmdOps>() -> bool {
    A::GEOMETRY.has_thp && !is_historical(A::ID)
}

/// Exhausts `sc` depth-first with and without partial-order reduction and breadth-first,
/// asserts that the three find the same broken invariants and DFS and BFS the same state
/// count, and returns what they found.
#[allow(dead_code)]
#[track_caller]
pub fn broken_under_every_search<A: pgtable::PmdOps>(
    sc: &pgtable::engine::Scenario<A>,
) -> std::collections::BTreeSet<&'static str> {
    broken_under_searches(sc, false)
}

/// [`broken_under_every_search`] with every step's footprint audited against what it
/// touched (a step that touches a location it did not declare fails the search), and
/// breadth-first with partial-order reduction as well.
#[allow(dead_code)]
#[track_caller]
pub fn broken_under_every_search_with_footprints<A: pgtable::PmdOps>(
    sc: &pgtable::engine::Scenario<A>,
) -> std::collections::BTreeSet<&'static str> {
    broken_under_searches(sc, true)
}

#[track_caller]
fn broken_under_searches<A: pgtable::PmdOps>(
    sc: &pgtable::engine::Scenario<A>,
    audit_footprints: bool,
) -> std::collections::BTreeSet<&'static str> {
    use pgtable::engine::explore::{Options, Search, explore};
    let run = |search, por| {
        let out = explore(
            sc,
            Options {
                search,
                por,
                stop_at_first: false,
                audit_footprints,
                ..Options::default()
            },
        );
        assert!(out.complete, "{}: the search did not complete", sc.name);
        out
    };
    let dfs = run(Search::DepthFirst, false);
    let por = run(Search::DepthFirst, true);
    let bfs = run(Search::BreadthFirst, false);
    let truth = broken(&dfs);
    if audit_footprints {
        let bfs_por = run(Search::BreadthFirst, true);
        assert_eq!(
            broken(&bfs_por),
            truth,
            "{}: BFS+POR disagrees with DFS",
            sc.name
        );
    }
    assert_eq!(
        broken(&por),
        truth,
        "{}: DFS+POR disagrees with DFS",
        sc.name
    );
    assert_eq!(broken(&bfs), truth, "{}: BFS disagrees with DFS", sc.name);
    assert_eq!(
        dfs.stats.states, bfs.stats.states,
        "{}: state counts",
        sc.name
    );
    truth
}

/// The three searches a scenario's verdict must agree under, with the footprint auditor:
/// DFS, DFS with sleep sets, and BFS on `bfs_jobs` cores.
#[allow(dead_code)]
pub fn every_search(bfs_jobs: usize) -> [pgtable::engine::explore::Options; 3] {
    use pgtable::engine::explore::{Options, Search};
    let dfs = Options {
        search: Search::DepthFirst,
        por: false,
        audit_footprints: true,
        ..Options::default()
    };
    [
        dfs,
        Options { por: true, ..dfs },
        Options {
            search: Search::BreadthFirst,
            jobs: bfs_jobs,
            ..dfs
        },
    ]
}

/// Runs thread `t` of `sc` on `m` until a step's label contains `until` (returned), it
/// blocks (`Err(wait)`), or it finishes (`Ok(None)`); every label goes to `labels`, and a
/// step that raises a violation fails the test.
#[allow(dead_code)]
pub fn run_thread<A: pgtable::PmdOps>(
    sc: &pgtable::engine::Scenario<A>,
    m: &mut pgtable::engine::mm::Machine<A>,
    t: u8,
    until: &str,
    labels: &mut Vec<&'static str>,
) -> Result<Option<&'static str>, pgtable::engine::program::Wait> {
    use pgtable::engine::{Tid, program::Step};
    while !m.th(Tid(t)).done {
        m.begin_step(false);
        let step = sc.threads[usize::from(t)].program.step(m, Tid(t));
        let raised = m.end_step().raised;
        match step {
            Step::Ran(l) => {
                labels.push(l);
                assert!(raised.is_empty(), "{raised:?} after {labels:#?}");
                if !until.is_empty() && l.contains(until) {
                    return Ok(Some(l));
                }
            }
            Step::Blocked(w) => return Err(w),
        }
        assert!(labels.len() < 200, "{labels:#?}");
    }
    Ok(None)
}

/// Asserts that every search (DFS, DFS with sleep sets, BFS on 2 cores, with the footprint
/// auditor) exhausts `sc` with "holds" and stores the same states; returns that count.
#[allow(dead_code)]
#[track_caller]
pub fn every_search_holds<A: pgtable::PmdOps>(sc: &pgtable::engine::Scenario<A>) -> u64 {
    use pgtable::engine::explore::{Verdict, explore};
    let mut states = None;
    for opts in every_search(2) {
        let out = explore(sc, opts);
        assert_eq!(out.verdict, Verdict::Holds, "{} {opts:?}", A::ID);
        assert!(out.complete);
        // Sleep sets prune transitions, never states: every search stores the same ones.
        assert_eq!(*states.get_or_insert(out.stats.states), out.stats.states);
    }
    states.unwrap()
}

/// Asserts that every search reports INV-PIN-EXCLUSIVE first.
#[allow(dead_code)]
#[track_caller]
pub fn pin_exclusive_broken<A: pgtable::PmdOps>(sc: &pgtable::engine::Scenario<A>) {
    use pgtable::engine::explore::{Verdict, explore};
    use pgtable::engine::invariant::InvariantId;
    for opts in every_search(2) {
        let Verdict::Violated(cx) = explore(sc, opts).verdict else {
            panic!("{}: {opts:?} found nothing", A::ID)
        };
        assert_eq!(
            cx.invariant,
            InvariantId::PIN_EXCLUSIVE,
            "{} {opts:?}",
            A::ID
        );
    }
}

/// Counts user ghost cell 0 up by one a step, `to` steps in all: a line of `to + 1` states,
/// as deep as it is long.
#[allow(dead_code)]
pub struct Counter {
    pub to: u64,
}

impl<A: pgtable::PmdOps> pgtable::engine::program::Program<A> for Counter {
    fn name(&self) -> &'static str {
        "counter"
    }
    fn step(
        &self,
        m: &mut pgtable::engine::mm::Machine<A>,
        t: pgtable::engine::Tid,
    ) -> pgtable::engine::program::Step {
        let c = m.ghost_get(0) + 1;
        m.ghost_set(0, c);
        if c == self.to {
            m.th_mut(t).done = true;
        }
        pgtable::engine::program::Step::Ran("count")
    }
}
