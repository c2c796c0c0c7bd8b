//! Runs a [`Plan`]: each cell explored on its backend type, each backend's laws checked, on a
//! pool of scoped threads; the [`Report`] is assembled in cell order, so it is the same
//! whatever the number of threads.
//!
//! Search: a cell expected to show a historical bug is explored breadth-first, so its
//! counterexample is a shortest one; a cell expected to hold is explored depth-first with
//! partial-order reduction (faster), and if it does break, again breadth-first for the
//! shortest trace to show.

use std::boxed::Box;
use std::string::{String, ToString};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use std::vec::Vec;

use crate::arch::{ArchVisitor, DynBackend, visit_one};
use crate::engine::explore::{Options, Outcome, Search, Verdict, explore};
use crate::engine::invariant::InvariantId;
use crate::engine::trace::replay;
use crate::entry::PmdOps;
use crate::laws::{self, Bounds, LawId, LawReport};
use crate::scenario::{Expectation, Knobs, build};

use super::plan::{CellSpec, is_historical};
use super::{
    BackendInfo, Cell, ExpectKind, ExpectationRecord, LawRecord, Plan, Report, RunOptions, SCHEMA,
    SCHEMA_VERSION, ScenarioInfo, Statement, Status, Summary, TraceRecord, VerdictKind,
    VerdictRecord, Witness, meta,
};

/// Progress of a run, given to the callback after each task.
#[derive(Clone, Copy, Debug)]
pub struct Progress<'a> {
    /// Tasks finished (cells and law checks).
    pub done: usize,
    /// Tasks in all.
    pub total: usize,
    /// The task just finished: `race-002 on x86_64 (v4.5)` or `laws of x86_64`.
    pub what: &'a str,
}

enum Task {
    Laws(&'static dyn DynBackend),
    Cell(CellSpec),
}

enum TaskResult {
    Laws(BackendInfo),
    Cell(Box<(Cell, Option<TraceRecord>)>),
}

fn describe(task: &Task) -> String {
    match task {
        Task::Laws(b) => std::format!("laws of {}", b.id().name()),
        Task::Cell(c) => std::format!(
            "{} on {} ({})",
            c.entry.id,
            c.backend.id().name(),
            c.variant
        ),
    }
}

/// Runs the plan on `jobs` threads (at least one), calling `progress` after each task, and
/// returns the report. The report's cells and traces do not depend on `jobs`.
pub fn run(plan: &Plan, jobs: usize, progress: &(dyn Fn(Progress<'_>) + Sync)) -> Report {
    let start = Instant::now();
    let knobs = plan.knobs();
    let cells = plan.cells();
    // Law checks first: they are the longest tasks, so they start while cells fill the rest.
    let tasks: Vec<Task> = plan
        .backends
        .iter()
        .map(|&b| Task::Laws(b))
        .chain(cells.iter().map(|&c| Task::Cell(c)))
        .collect();
    let jobs = jobs.clamp(1, tasks.len().max(1));
    let results: Mutex<Vec<Option<TaskResult>>> = Mutex::new(tasks.iter().map(|_| None).collect());
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let worker = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(task) = tasks.get(i) else { break };
            let r = run_task(task, knobs, plan);
            let mut slots = results.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(slot) = slots.get_mut(i) {
                *slot = Some(r);
            }
            drop(slots);
            let what = describe(task);
            progress(Progress {
                done: done.fetch_add(1, Ordering::Relaxed) + 1,
                total: tasks.len(),
                what: &what,
            });
        }
    };
    std::thread::scope(|s| {
        let mut spawned = 0;
        for _ in 0..jobs {
            let ok = std::thread::Builder::new()
                .name("pgtable-audit".into())
                .spawn_scoped(s, worker)
                .is_ok();
            spawned += usize::from(ok);
        }
        if spawned == 0 {
            // No thread could be started: run everything here.
            worker();
        }
    });
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());

    let mut backends = Vec::new();
    let mut out_cells = Vec::new();
    let mut traces = Vec::new();
    for (task, result) in tasks.iter().zip(results) {
        match (task, result) {
            (_, Some(TaskResult::Laws(info))) => backends.push(info),
            (_, Some(TaskResult::Cell(result))) => {
                let (cell, trace) = *result;
                out_cells.push(cell);
                traces.extend(trace);
            }
            // A worker died before finishing its task (it cannot: tasks do not panic).
            (Task::Laws(b), None) => backends.push(laws_info(*b, None)),
            (Task::Cell(c), None) => out_cells.push(error_cell(c, "the worker running it stopped")),
        }
    }
    assemble(plan, jobs, backends, out_cells, traces, start)
}

/// Runs the laws over one backend type with bounds.
struct LawsRun {
    bounds: Bounds,
    out: Option<LawReport>,
}

impl ArchVisitor for LawsRun {
    fn visit<A: PmdOps>(&mut self) {
        self.out = Some(laws::check_with::<A>(self.bounds));
    }
}

fn run_task(task: &Task, knobs: Knobs, plan: &Plan) -> TaskResult {
    let bounds = (plan.max_states, plan.max_memory);
    match task {
        Task::Laws(b) => {
            let report = match plan.law_flag_subsets {
                None => Some(b.laws()),
                Some(max_flag_subsets) => {
                    let mut run = LawsRun {
                        bounds: Bounds { max_flag_subsets },
                        out: None,
                    };
                    visit_one(b.id(), &mut run);
                    run.out
                }
            };
            TaskResult::Laws(laws_info(*b, report))
        }
        Task::Cell(spec) => {
            let start = Instant::now();
            let mut run = CellRun {
                spec: *spec,
                knobs,
                bounds,
                out: None,
            };
            let found = visit_one(spec.backend.id(), &mut run);
            let (mut cell, trace) = match run.out {
                Some(out) if found => out,
                _ => (
                    error_cell(spec, "the backend's feature is not enabled"),
                    None,
                ),
            };
            cell.elapsed_ms = Some(start.elapsed().as_secs_f64() * 1e3);
            TaskResult::Cell(Box::new((cell, trace)))
        }
    }
}

fn laws_info(b: &dyn DynBackend, report: Option<LawReport>) -> BackendInfo {
    let laws: Vec<LawRecord> = match &report {
        Some(r) => r
            .results
            .iter()
            .map(|l| LawRecord {
                law: l.law.id().into(),
                verdict: l.verdict,
                cases: l.cases,
                witness: l.witness.map(|w| Witness {
                    input: w.input,
                    output: w.output,
                    what: w.what.into(),
                }),
                note: l.note.into(),
            })
            .collect(),
        None => Vec::new(),
    };
    BackendInfo {
        name: b.id().name().into(),
        word_bits: b.word_bits(),
        thp: b.geometry().has_thp,
        historical: is_historical(b),
        laws_clean: report.as_ref().is_some_and(LawReport::clean),
        laws,
    }
}

fn ids(ids: &[InvariantId]) -> Vec<String> {
    ids.iter().map(|i| i.id().to_string()).collect()
}

fn expectation_record(e: Expectation) -> ExpectationRecord {
    match e {
        Expectation::Violation(v) => ExpectationRecord {
            kind: ExpectKind::Violation,
            invariants: ids(v),
            reason: None,
        },
        Expectation::Holds => ExpectationRecord {
            kind: ExpectKind::Holds,
            invariants: Vec::new(),
            reason: None,
        },
        Expectation::NotApplicable(why) => ExpectationRecord {
            kind: ExpectKind::NotApplicable,
            invariants: Vec::new(),
            reason: Some(why.into()),
        },
    }
}

/// A cell that did not run, with its expectation filled in.
fn blank_cell(spec: &CellSpec) -> Cell {
    let expectation = (spec.entry.expect)(spec.backend, spec.variant);
    Cell {
        scenario: spec.entry.id.into(),
        backend: spec.backend.id().name().into(),
        variant: spec.variant.into(),
        expectation: expectation_record(expectation),
        verdict: VerdictRecord {
            kind: VerdictKind::NotRun,
            invariant: None,
            what: None,
        },
        status: Status::NotApplicable,
        met: true,
        invariants_checked: ids(spec.entry.invariants),
        search: None,
        states: 0,
        transitions: 0,
        max_depth: 0,
        elapsed_ms: None,
        trace: None,
    }
}

fn error_cell(spec: &CellSpec, what: &str) -> Cell {
    Cell {
        verdict: VerdictRecord {
            kind: VerdictKind::Error,
            invariant: None,
            what: Some(what.into()),
        },
        status: Status::Error,
        met: false,
        ..blank_cell(spec)
    }
}

struct CellRun {
    spec: CellSpec,
    knobs: Knobs,
    /// `max_states`, `max_memory`.
    bounds: (u64, Option<u64>),
    out: Option<(Cell, Option<TraceRecord>)>,
}

impl ArchVisitor for CellRun {
    fn visit<A: PmdOps>(&mut self) {
        self.out = Some(run_cell::<A>(&self.spec, self.knobs, self.bounds));
    }
}

fn search_name(s: Search) -> &'static str {
    match s {
        Search::DepthFirst => "depth-first",
        Search::BreadthFirst => "breadth-first",
    }
}

/// Explores one cell on backend `A` and holds the verdict against the expectation.
fn run_cell<A: PmdOps>(
    spec: &CellSpec,
    knobs: Knobs,
    (max_states, max_memory): (u64, Option<u64>),
) -> (Cell, Option<TraceRecord>) {
    let expectation = (spec.entry.expect)(spec.backend, spec.variant);
    let mut cell = blank_cell(spec);
    let search = match expectation {
        Expectation::NotApplicable(_) => return (cell, None),
        Expectation::Violation(_) => Search::BreadthFirst,
        Expectation::Holds => Search::DepthFirst,
    };
    let sc = match build::<A>(spec.entry.id, spec.variant, knobs) {
        Ok(sc) => sc,
        Err(e) => return (error_cell(spec, &e.to_string()), None),
    };
    let opts = Options {
        search,
        max_states,
        max_memory,
        ..Options::default()
    };
    let mut out: Outcome = explore(&sc, opts);
    let mut used = search;
    if search == Search::DepthFirst && matches!(out.verdict, Verdict::Violated(_)) {
        // Show the shortest counterexample of the unexpected failure.
        let bfs = explore(
            &sc,
            Options {
                search: Search::BreadthFirst,
                ..opts
            },
        );
        if matches!(bfs.verdict, Verdict::Violated(_)) {
            out = bfs;
            used = Search::BreadthFirst;
        }
    }
    cell.search = Some(search_name(used).into());
    cell.states = out.stats.states;
    cell.transitions = out.stats.transitions;
    cell.max_depth = out.stats.max_depth;
    let (kind, status) = match (&out.verdict, expectation) {
        (Verdict::Holds, Expectation::Violation(_)) => (VerdictKind::Holds, Status::Missed),
        (Verdict::Holds, _) => (VerdictKind::Holds, Status::Holds),
        (Verdict::Incomplete, _) => (VerdictKind::Incomplete, Status::Incomplete),
        (Verdict::Violated(cx), Expectation::Violation(expected)) => (
            VerdictKind::Violated,
            if expected.contains(&cx.invariant) {
                Status::Found
            } else {
                Status::OtherViolation
            },
        ),
        (Verdict::Violated(_), _) => (VerdictKind::Violated, Status::Violated),
    };
    cell.verdict.kind = kind;
    if let Some(b) = out.bound {
        cell.verdict.what = Some(b.to_string());
    }
    cell.status = status;
    cell.met = status.met();
    let Verdict::Violated(cx) = &out.verdict else {
        return (cell, None);
    };
    cell.verdict.invariant = Some(cx.invariant.id().into());
    cell.verdict.what = Some(cx.what.into());
    match replay(&sc, &cx.schedule) {
        Ok(trace) => {
            let record = TraceRecord::from_trace(&trace, spec.variant, knobs, cx);
            cell.trace = Some(record.id.clone());
            (cell, Some(record))
        }
        Err(e) => {
            cell.status = Status::Error;
            cell.met = false;
            cell.verdict.what = Some(std::format!(
                "{} ({}); its counterexample does not replay: {e}",
                cx.what,
                cx.invariant
            ));
            (cell, None)
        }
    }
}

fn assemble(
    plan: &Plan,
    jobs: usize,
    backends: Vec<BackendInfo>,
    cells: Vec<Cell>,
    traces: Vec<TraceRecord>,
    start: Instant,
) -> Report {
    let scenarios: Vec<ScenarioInfo> = plan
        .scenarios
        .iter()
        .map(|e| ScenarioInfo {
            id: e.id.into(),
            title: e.title.into(),
            variants: plan.variants_of(e).iter().map(|v| v.to_string()).collect(),
            invariants: ids(e.invariants),
        })
        .collect();
    // The built-in ones the plan checks, then the ones its scenarios declare themselves.
    let mut checked: Vec<InvariantId> = InvariantId::ALL
        .iter()
        .copied()
        .filter(|i| plan.scenarios.iter().any(|e| e.invariants.contains(i)))
        .collect();
    for e in &plan.scenarios {
        for &i in e.invariants {
            if !i.is_builtin() && !checked.contains(&i) {
                checked.push(i);
            }
        }
    }
    let invariants = checked
        .iter()
        .map(|i| Statement {
            id: i.id().into(),
            statement: i.statement().into(),
        })
        .collect();
    let laws = LawId::ALL
        .iter()
        .map(|l| Statement {
            id: l.id().into(),
            statement: l.statement().into(),
        })
        .collect();
    let count = |s: Status| cells.iter().filter(|c| c.status == s).count();
    let met = cells.iter().filter(|c| c.met).count();
    let law_violations: Vec<String> = backends
        .iter()
        .filter(|b| !b.laws_clean && !b.historical)
        .map(|b| b.name.clone())
        .collect();
    let summary = Summary {
        cells: cells.len(),
        met,
        failed: cells.len() - met,
        found: count(Status::Found),
        held: count(Status::Holds),
        not_applicable: count(Status::NotApplicable),
        passed: met == cells.len() && law_violations.is_empty(),
        law_violations,
        elapsed_ms: Some(start.elapsed().as_secs_f64() * 1e3),
        jobs,
    };
    Report {
        schema: SCHEMA.into(),
        schema_version: SCHEMA_VERSION,
        meta: meta::collect(),
        options: RunOptions {
            arches: plan.backends.iter().map(|b| b.id().name().into()).collect(),
            scenarios: plan.scenarios.iter().map(|e| e.id.into()).collect(),
            variants: plan.variants.iter().map(|v| v.to_string()).collect(),
            max_states: plan.max_states,
            max_memory: plan.max_memory,
            mutations: plan.mutations.iter().map(|m| m.name().into()).collect(),
            law_flag_subsets: plan.law_flag_subsets,
        },
        summary,
        scenarios,
        invariants,
        laws,
        backends,
        encodings: plan.encodings.clone(),
        cells,
        traces,
    }
}
