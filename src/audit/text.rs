//! The terminal summary: the matrix (backends as rows, scenarios as columns, each cell the
//! verdict against its expectation with the states explored), the laws in one line, the
//! counterexamples found, and each failure with the first steps of its trace.
//!
//! The matrix and step lines are shared with the Markdown report.

use core::fmt::Write as _;
use std::string::{String, ToString};
use std::vec::Vec;

pub use super::format::pipe_table;
use super::{
    Cell, ExpectKind, LawVerdict, Report, Status, StepRecord, TouchRecord, TraceRecord, group,
};

/// How to print the summary.
#[derive(Clone, Debug)]
pub struct TextOptions {
    /// Print the wall time (off for output that must not vary between runs).
    pub timings: bool,
    /// Trace steps printed per failure before eliding (the violating step is always shown).
    pub max_steps: usize,
    /// The report files written, to name at the end (`audit-report/report.json`, ...).
    pub written: Vec<String>,
}

impl Default for TextOptions {
    fn default() -> Self {
        Self {
            timings: true,
            max_steps: 10,
            written: Vec::new(),
        }
    }
}

/// One column of the matrix: a scenario and variant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// Scenario id.
    pub scenario: String,
    /// Variant.
    pub variant: String,
    /// Header: the scenario id, plus the variant where the scenario ran more than one.
    pub header: String,
}

/// Returns the matrix columns, in catalogue then variant order.
pub fn columns(report: &Report) -> Vec<Column> {
    let mut cols = Vec::new();
    for s in &report.scenarios {
        for v in &s.variants {
            cols.push(Column {
                scenario: s.id.clone(),
                variant: v.clone(),
                header: if s.variants.len() > 1 {
                    std::format!("{} {v}", s.id)
                } else {
                    s.id.clone()
                },
            });
        }
    }
    cols
}

/// Returns the cell of `backend` in `column`.
pub fn find_cell<'a>(report: &'a Report, backend: &str, column: &Column) -> Option<&'a Cell> {
    report.cells.iter().find(|c| {
        c.backend == backend && c.scenario == column.scenario && c.variant == column.variant
    })
}

/// Returns a matrix cell's text: the status word and, where the cell ran, its states.
pub fn cell_text(c: &Cell) -> String {
    match c.status {
        Status::NotApplicable | Status::Error => c.status.word().into(),
        s => std::format!("{} {}", s.word(), group(c.states)),
    }
}

/// Returns the matrix as a header and rows of cell texts (one row per backend).
pub fn matrix(report: &Report) -> (Vec<String>, Vec<Vec<String>>) {
    let cols = columns(report);
    let mut header = std::vec!["backend".to_string()];
    header.extend(cols.iter().map(|c| c.header.clone()));
    let rows = report
        .backends
        .iter()
        .map(|b| {
            let mut row = std::vec![b.name.clone()];
            row.extend(
                cols.iter()
                    .map(|col| find_cell(report, &b.name, col).map_or("-".into(), cell_text)),
            );
            row
        })
        .collect();
    (header, rows)
}

/// Returns the statuses that appear in the report, in legend order.
pub fn statuses(report: &Report) -> Vec<Status> {
    Status::ALL
        .into_iter()
        .filter(|s| report.cells.iter().any(|c| c.status == *s))
        .collect()
}

/// Returns what a cell was expected to show, as a phrase.
pub fn expected_phrase(c: &Cell) -> String {
    match c.expectation.kind {
        ExpectKind::Violation => std::format!(
            "expected the historical bug ({})",
            c.expectation.invariants.join(" or ")
        ),
        ExpectKind::Holds => "expected every invariant to hold".into(),
        ExpectKind::NotApplicable => std::format!(
            "not applicable: {}",
            c.expectation.reason.as_deref().unwrap_or("-")
        ),
    }
}

/// Returns what the explorer found in a cell, as a phrase.
pub fn found_phrase(c: &Cell, trace: Option<&TraceRecord>) -> String {
    match c.status {
        Status::Missed => std::format!("every reachable state held ({} states)", group(c.states)),
        Status::Incomplete => std::format!(
            "the bound was reached after {} states, before a verdict",
            group(c.states)
        ),
        Status::Error => std::format!("error: {}", c.verdict.what.as_deref().unwrap_or("-")),
        Status::NotApplicable => "not run".into(),
        Status::Holds => std::format!("held over {} states", group(c.states)),
        Status::Found | Status::OtherViolation | Status::Violated => {
            let steps = trace.map_or(0, |t| t.steps.len());
            std::format!(
                "{} violated after {steps} steps: {}",
                c.verdict.invariant.as_deref().unwrap_or("?"),
                c.verdict.what.as_deref().unwrap_or("?")
            )
        }
    }
}

/// Returns a touched entry as one line: place, then raw and decoded before and after.
pub fn touch_line(t: &TouchRecord) -> String {
    if t.written {
        std::format!("{}  {}  ->  {}", t.place, t.before.decoded, t.after.decoded)
    } else {
        std::format!("{}  {}  (read)", t.place, t.before.decoded)
    }
}

/// Returns a changed VMA as one line: `vma1  [1, 2) ...  ->  [0, 2) ...`.
pub(crate) fn vma_line(v: &super::VmaRecord) -> String {
    std::format!("{}  {}  ->  {}", v.place, v.before, v.after)
}

/// `xa[i]  before  ->  after`: one page-cache store of a step.
pub(crate) fn cache_line(c: &super::CacheRecord) -> String {
    std::format!("{}  {}  ->  {}", c.place, c.before, c.after)
}

/// Returns the indices of the steps to show: the first `max`, and the violating step.
pub fn shown_steps(trace: &TraceRecord, max: usize) -> Vec<usize> {
    let mut shown: Vec<usize> = (0..trace.steps.len().min(max)).collect();
    if let Some(v) = trace.violating_step() {
        if !shown.contains(&v) {
            shown.push(v);
        }
    }
    shown
}

fn write_step(out: &mut String, s: &StepRecord, name_width: usize) {
    let _ = writeln!(
        out,
        "    {:>3}. {:<name_width$}  {}",
        s.index, s.thread_name, s.label
    );
    for t in s.touched.iter().filter(|t| t.written) {
        let _ = writeln!(out, "         {:name_width$}  {}", "", touch_line(t));
    }
    for v in &s.vmas {
        let _ = writeln!(out, "         {:name_width$}  {}", "", vma_line(v));
    }
    for c in &s.cache {
        let _ = writeln!(out, "         {:name_width$}  {}", "", cache_line(c));
    }
    if !s.locks.is_empty() {
        let _ = writeln!(
            out,
            "         {:name_width$}  locks: {}",
            "",
            s.locks.join(", ")
        );
    }
    if let Some(v) = &s.violated {
        let _ = writeln!(
            out,
            "         {:name_width$}  VIOLATED {}: {}",
            "", v.invariant, v.what
        );
    }
}

/// Writes a trace's steps (the first `max`, then the violating one), indented.
pub fn write_trace(out: &mut String, trace: &TraceRecord, max: usize) {
    let name_width = trace.threads.iter().map(|t| t.len()).max().unwrap_or(0);
    let mut last = None;
    for i in shown_steps(trace, max) {
        if last.is_some_and(|l: usize| i > l + 1) {
            let _ = writeln!(out, "         ... {} steps ...", i - last.unwrap_or(0) - 1);
        }
        if let Some(s) = trace.steps.get(i) {
            write_step(out, s, name_width);
        }
        last = Some(i);
    }
    if !trace.wait_cycle.is_empty() {
        let _ = writeln!(
            out,
            "         every remaining thread is blocked; wait-for cycle: {}",
            super::markdown::wait_cycle_line(trace)
        );
    }
}

/// Returns `n` with the noun in the right number: `1 cell`, `2 cells`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    std::format!("{n} {}", if n == 1 { one } else { many })
}

/// Returns the terminal summary of a report.
pub fn summary(report: &Report, opts: &TextOptions) -> String {
    let mut out = String::new();
    let variants: usize = report.scenarios.iter().map(|s| s.variants.len()).sum();
    let _ = writeln!(
        out,
        "pgtable audit: {} on {} ({}), at most {} states each{}",
        plural(report.scenarios.len(), "scenario", "scenarios"),
        plural(report.backends.len(), "backend", "backends"),
        if variants == report.scenarios.len() {
            plural(report.cells.len(), "cell", "cells")
        } else {
            std::format!(
                "{}, {}",
                plural(variants, "variant", "variants"),
                plural(report.cells.len(), "cell", "cells")
            )
        },
        group(report.options.max_states),
        if report.options.mutations.is_empty() {
            String::new()
        } else {
            std::format!(
                " (MUTATED for testing: {})",
                report.options.mutations.join(", ")
            )
        }
    );
    out.push('\n');
    let (header, rows) = matrix(report);
    let _ = pipe_table(&mut out, &header, &rows);
    out.push('\n');
    for s in statuses(report) {
        let _ = writeln!(out, "{:<10} {}", s.word(), s.meaning());
    }
    out.push_str("Each number: the states explored.\n");
    for s in &report.scenarios {
        let _ = writeln!(out, "{} ({}): {}", s.id, s.variants.join(", "), s.title);
    }
    out.push('\n');
    write_laws_line(&mut out, report);

    let found: Vec<&TraceRecord> = report.traces.iter().collect();
    if !found.is_empty() {
        let _ = writeln!(
            out,
            "\nCounterexamples (replay one with `pgtable replay <report.json> <id>`):"
        );
        let width = found.iter().map(|t| t.id.len()).max().unwrap_or(0);
        for t in &found {
            let cell = report
                .cells
                .iter()
                .find(|c| c.trace.as_ref() == Some(&t.id));
            let tag = match cell.map(|c| c.status) {
                Some(Status::Found) => "found, as expected",
                _ => "UNEXPECTED",
            };
            let _ = writeln!(
                out,
                "  {:<width$}  {} after {} ({tag})",
                t.id,
                t.invariant,
                plural(t.steps.len(), "step", "steps")
            );
        }
    }

    let failed: Vec<&Cell> = report.cells.iter().filter(|c| !c.met).collect();
    if !failed.is_empty() {
        let _ = writeln!(out, "\nFailures:");
        for c in &failed {
            let trace = c
                .trace
                .as_ref()
                .and_then(|id| report.traces.iter().find(|t| &t.id == id));
            let _ = writeln!(
                out,
                "\nFAILED {} on {} ({}): {}; {}",
                c.scenario,
                c.backend,
                c.variant,
                expected_phrase(c),
                found_phrase(c, trace)
            );
            if let Some(t) = trace {
                let _ = writeln!(
                    out,
                    "  trace {} ({}):",
                    t.id,
                    plural(t.steps.len(), "step", "steps")
                );
                write_trace(&mut out, t, opts.max_steps);
            }
        }
    }

    let s = &report.summary;
    let laws = if s.law_violations.is_empty() {
        String::new()
    } else {
        std::format!("; laws violated on {}", s.law_violations.join(", "))
    };
    let _ = writeln!(
        out,
        "\n{}: {} met, {} failed{laws}. Audit {}.",
        plural(s.cells, "cell", "cells"),
        s.met,
        s.failed,
        if s.passed { "PASSED" } else { "FAILED" }
    );
    if let Some(ms) = s.elapsed_ms.filter(|_| opts.timings) {
        let _ = writeln!(
            out,
            "Time: {:.2} s on {}.",
            ms / 1e3,
            plural(s.jobs, "thread", "threads")
        );
    }
    if !opts.written.is_empty() {
        let _ = writeln!(out, "Report: {}", opts.written.join(", "));
    }
    out
}

/// Returns the laws a backend violates.
pub fn violated_laws(b: &super::BackendInfo) -> Vec<&str> {
    b.laws
        .iter()
        .filter(|l| l.verdict == LawVerdict::Violated)
        .map(|l| l.law.as_str())
        .collect()
}

/// Writes the law verdict: every fixed backend clean (or deviating only as Linux does), the
/// laws historical backends break, and any unexpected violation.
pub fn write_laws_line(out: &mut String, report: &Report) {
    let unexpected: Vec<&super::BackendInfo> = report
        .backends
        .iter()
        .filter(|b| !b.laws_clean && !b.historical)
        .collect();
    if unexpected.is_empty() {
        let _ = write!(
            out,
            "Laws: every {}backend keeps every law ({} laws each)",
            if report.backends.iter().any(|b| b.historical) {
                "fixed "
            } else {
                ""
            },
            report.laws.len()
        );
        let deviating: Vec<&str> = report
            .backends
            .iter()
            .filter(|b| b.laws.iter().any(|l| l.verdict == LawVerdict::Deviation))
            .map(|b| b.name.as_str())
            .collect();
        if deviating.is_empty() {
            out.push_str(".\n");
        } else {
            let _ = writeln!(
                out,
                ", or departs only where Linux does:\n  {}.",
                deviating.join(", ")
            );
        }
    } else {
        let _ = writeln!(out, "Laws: VIOLATED on fixed backends:");
        for b in &unexpected {
            let _ = writeln!(out, "  {}: {}", b.name, violated_laws(b).join(", "));
        }
    }
    let historical: Vec<&super::BackendInfo> = report
        .backends
        .iter()
        .filter(|b| !b.laws_clean && b.historical)
        .collect();
    if !historical.is_empty() {
        let _ = writeln!(out, "Historical backends break the laws their bug breaks:");
        for b in &historical {
            let _ = writeln!(out, "  {}: {}", b.name, violated_laws(b).join(", "));
        }
    }
}
