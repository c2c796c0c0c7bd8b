//! `report.md`: provenance, the matrix, the per-backend law table, the encoding table (what
//! `pgtable arches` prints) and each counterexample as a numbered step list.

use core::fmt::Write as _;
use std::string::{String, ToString};
use std::vec::Vec;

use super::text::{
    expected_phrase, found_phrase, matrix, pipe_table, plural, statuses, touch_line,
};
use super::{LawVerdict, Report, Status, TraceRecord, group};

/// Returns the law id without its `LAW-` prefix, for narrow table headers.
pub fn short_law(id: &str) -> &str {
    id.strip_prefix("LAW-").unwrap_or(id)
}

/// Returns the provenance as one line per fact.
pub fn provenance(report: &Report) -> Vec<(String, String)> {
    let m = &report.meta;
    let commit = match (&m.git_commit, m.git_dirty) {
        (Some(c), Some(true)) => std::format!("{c} (with uncommitted changes)"),
        (Some(c), _) => c.clone(),
        (None, _) => "unknown".into(),
    };
    let host = std::format!(
        "{} ({} {}, {} CPUs)",
        m.host.hostname.as_deref().unwrap_or("unknown"),
        m.host.os,
        m.host.arch,
        m.host.cpus
    );
    let s = &report.summary;
    let mut facts = std::vec![
        ("Tool".to_string(), std::format!("{} {}", m.tool, m.version)),
        ("Commit".to_string(), commit),
        (
            "Date".to_string(),
            m.date.clone().unwrap_or_else(|| "-".into())
        ),
        ("Host".to_string(), host),
        (
            "Bound".to_string(),
            std::format!("{} states per cell", group(report.options.max_states)),
        ),
        (
            "Result".to_string(),
            std::format!(
                "{}: {}, {} met, {} failed ({} found, {} held, {} not applicable){}",
                if s.passed { "PASSED" } else { "FAILED" },
                plural(s.cells, "cell", "cells"),
                s.met,
                s.failed,
                s.found,
                s.held,
                s.not_applicable,
                s.elapsed_ms.map_or_else(String::new, |ms| std::format!(
                    "; {:.2} s on {}",
                    ms / 1e3,
                    plural(s.jobs, "thread", "threads")
                ))
            ),
        ),
    ];
    if let Some(n) = report.options.law_flag_subsets {
        facts.push((
            "Laws bounded".to_string(),
            std::format!("at most {} flag subsets per law (for testing)", group(n)),
        ));
    }
    if !report.options.mutations.is_empty() {
        facts.push((
            "Mutations".to_string(),
            std::format!(
                "{} (the fixed code was broken on purpose, for testing)",
                report.options.mutations.join(", ")
            ),
        ));
    }
    facts
}

/// Returns a backend's name, marked `(historical)` where the catalogue expects its bug.
pub fn backend_label(b: &super::BackendInfo) -> String {
    if b.historical {
        std::format!("{} (historical)", b.name)
    } else {
        b.name.clone()
    }
}

/// Returns the law table: one row per backend, one column per law.
pub fn law_table(report: &Report) -> (Vec<String>, Vec<Vec<String>>) {
    let mut header = std::vec!["backend".to_string()];
    header.extend(report.laws.iter().map(|l| short_law(&l.id).to_string()));
    let rows = report
        .backends
        .iter()
        .map(|b| {
            let mut row = std::vec![backend_label(b)];
            row.extend(report.laws.iter().map(|law| {
                b.laws
                    .iter()
                    .find(|r| r.law == law.id)
                    .map_or("-".into(), |r| r.verdict.name().into())
            }));
            row
        })
        .collect();
    (header, rows)
}

fn code(s: &str) -> String {
    if s.contains('`') {
        std::format!("`` {s} ``")
    } else {
        std::format!("`{s}`")
    }
}

fn write_trace(out: &mut String, n: usize, t: &TraceRecord, report: &Report) {
    let cell = report
        .cells
        .iter()
        .find(|c| c.trace.as_ref() == Some(&t.id));
    let tag = match cell.map(|c| c.status) {
        Some(Status::Found) => "found, as expected".to_string(),
        Some(s) => std::format!("**{}**", s.word()),
        None => "-".into(),
    };
    let _ = writeln!(
        out,
        "### {n}. {} on {} ({}): {} ({tag})\n",
        t.scenario, t.backend, t.variant, t.invariant
    );
    if let Some(c) = cell {
        let _ = writeln!(
            out,
            "{}; {}.\n",
            capitalise(&expected_phrase(c)),
            found_phrase(c, Some(t))
        );
    }
    let _ = writeln!(
        out,
        "Threads: {}. Trace id {}; re-run it with `pgtable replay report.json {}`.\n",
        t.threads.join(", "),
        code(&t.id),
        t.id
    );
    for s in &t.steps {
        let _ = write!(
            out,
            "{}. **{}**: {}",
            s.index,
            s.thread_name,
            code(&s.label)
        );
        if let Some(lock) = &s.lock {
            let _ = write!(out, " (lock: {})", code(lock));
        }
        out.push('\n');
        for e in &s.touched {
            let _ = writeln!(out, "   - {}", code(&touch_line(e)));
        }
        for v in &s.vmas {
            let _ = writeln!(out, "   - {}", code(&super::text::vma_line(v)));
        }
        for c in &s.cache {
            let _ = writeln!(out, "   - {}", code(&super::text::cache_line(c)));
        }
        if let Some(v) = &s.violated {
            let _ = writeln!(out, "   - **VIOLATED {}**: {}", v.invariant, v.what);
        }
    }
    if !t.wait_cycle.is_empty() {
        let _ = writeln!(
            out,
            "\nAfter the last step every remaining thread is blocked; wait-for cycle: {}.",
            wait_cycle_line(t)
        );
    }
    out.push('\n');
}

/// The wait-for cycle in words: `a waits for L held by b -> b ...`, or the thread names
/// alone for a report that predates lock names.
pub(crate) fn wait_cycle_line(t: &TraceRecord) -> String {
    let name = |i: u8| {
        t.threads
            .get(usize::from(i))
            .map_or_else(|| std::format!("T{i}"), Clone::clone)
    };
    let n = t.wait_cycle.len();
    if t.wait_locks.len() != n {
        let names: Vec<String> = t.wait_cycle.iter().map(|&i| name(i)).collect();
        return names.join(" -> ");
    }
    let parts: Vec<String> = (0..n)
        .map(|k| {
            std::format!(
                "{} waits for {} held by {}",
                name(t.wait_cycle[k]),
                t.wait_locks[k],
                name(t.wait_cycle[(k + 1) % n])
            )
        })
        .collect();
    parts.join("; ")
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Renders `report.md`.
pub fn render(report: &Report) -> String {
    let mut out = String::from("# pgtable audit report\n\n");
    for (k, v) in provenance(report) {
        let _ = writeln!(out, "- {k}: {v}");
    }

    out.push_str("\n## Matrix\n\n");
    out.push_str(
        "Backends as rows, scenarios as columns; each cell is the verdict against the \
         expectation, with the states explored.\n\n",
    );
    let (header, rows) = matrix(report);
    let _ = pipe_table(&mut out, &header, &rows);
    out.push('\n');
    for s in statuses(report) {
        let _ = writeln!(out, "- {}: {}", code(s.word()), s.meaning());
    }
    out.push_str("\nScenarios:\n\n");
    for s in &report.scenarios {
        let _ = writeln!(
            out,
            "- {} ({}): {}; checks {}",
            code(&s.id),
            s.variants.join(", "),
            s.title,
            s.invariants.join(", ")
        );
    }
    out.push_str("\nInvariants:\n\n");
    for i in &report.invariants {
        let _ = writeln!(out, "- {}: {}", code(&i.id), i.statement);
    }

    out.push_str("\n## Laws\n\n");
    out.push_str(
        "Each backend against every law (`LAW-` prefix dropped): `holds`, `deviation` \
         (fails exactly where the backend documents that Linux does), `n/a`, or `VIOLATED` \
         (expected only of a historical backend, whose bug it is).\n\n",
    );
    let (header, rows) = law_table(report);
    let _ = pipe_table(&mut out, &header, &rows);
    let notes: Vec<String> = report
        .backends
        .iter()
        .flat_map(|b| {
            b.laws
                .iter()
                .filter(|l| l.verdict.failed_a_case())
                .map(move |l| {
                    let why = if l.verdict == LawVerdict::Violated && b.historical {
                        ", expected: the historical bug"
                    } else {
                        ""
                    };
                    let mut note = std::format!("- {} {} ({}{why})", b.name, l.law, l.verdict);
                    if !l.note.is_empty() {
                        let _ = write!(note, ": {}", l.note);
                    }
                    if let Some(w) = &l.witness {
                        let _ = write!(
                            note,
                            "; first failing case: input {:#x}, output {:#x}: {}",
                            w.input, w.output, w.what
                        );
                    }
                    note
                })
        })
        .collect();
    if !notes.is_empty() {
        out.push('\n');
        for n in notes {
            let _ = writeln!(out, "{n}");
        }
    }
    out.push_str("\nThe laws:\n\n");
    for l in &report.laws {
        let _ = writeln!(out, "- {}: {}", code(&l.id), l.statement);
    }

    if let Some(e) = &report.encodings {
        out.push_str("\n## Encodings\n\n");
        out.push_str(
            "What `pgtable arches` prints: each backend's entry word, the values `pte_clear` \
             and `pmd_clear` store, its THP size, and how Linux's helpers read a present huge \
             pmd after `pmdp_invalidate`.\n\n",
        );
        out.push_str(&e.table);
    }

    let failed: Vec<_> = report.cells.iter().filter(|c| !c.met).collect();
    if !failed.is_empty() {
        out.push_str("\n## Failed cells\n\n");
        let _ = writeln!(
            out,
            "{} of {} cells failed their expectation:\n",
            failed.len(),
            report.cells.len()
        );
        for c in failed {
            let trace = c
                .trace
                .as_deref()
                .and_then(|id| report.traces.iter().find(|t| t.id == id));
            let _ = writeln!(
                out,
                "- `{}`: {}; {}.",
                c.key(),
                expected_phrase(c),
                found_phrase(c, trace)
            );
        }
    }

    out.push_str("\n## Counterexamples\n\n");
    if report.traces.is_empty() {
        out.push_str("None: no cell broke an invariant.");
        if report.summary.failed > 0 {
            out.push_str(" The failed cells are listed under Failed cells above.");
        }
        out.push('\n');
    }
    for (i, t) in report.traces.iter().enumerate() {
        write_trace(&mut out, i + 1, t, report);
    }
    out
}
