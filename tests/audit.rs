//! `pgtable audit`, `replay` and `scenarios`, run as a user runs them: the summary, the three
//! report files, exit status, a failed expectation (a mutated fixed variant) shown in every
//! format, replay of a counterexample, and the README's copy of the summary.
//!
//! The audits here run on x86_64 (or the first backend some scenario must hold on) plus one
//! historical backend when enabled, with the laws' flag enumeration bounded, so they take
//! well under a second each. When the README block is stale the failure prints the fresh one;
//! `PGTABLE_BLESS=1 cargo test --test audit` rewrites it.
#![cfg(feature = "cli")]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

use pgtable::arch::{self, DynBackend};
use pgtable::audit::{SCHEMA, SCHEMA_VERSION};
use pgtable::laws::LawId;
use pgtable::scenario::{CATALOGUE, Expectation};

/// Keeps the law checks short: the laws themselves are tested in full by tests/laws.rs.
const FAST_LAWS: &str = "--law-flag-subsets=4096";
/// The mutation of the fixed split these tests use.
const MUTATION: &str = "--mutate=split-skips-tlb-flush";

/// A fresh directory for one test; see [`common::scratch_dir`].
fn scratch(name: &str) -> PathBuf {
    common::scratch_dir("audit-run", name)
}

/// Runs `pgtable args...` in `dir`.
fn pgtable_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pgtable"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the pgtable binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 output")
}

/// Runs a command, expects `code`, no panic; returns stdout and stderr.
#[track_caller]
fn expect_code(dir: &Path, args: &[&str], code: i32) -> (String, String) {
    let out = pgtable_in(dir, args);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(code),
        "pgtable {args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    (stdout, stderr)
}

/// Expects a one-line usage error (exit 2, nothing on stdout); returns the message.
#[track_caller]
fn usage_error(args: &[&str]) -> String {
    let dir = scratch("usage");
    let (stdout, stderr) = expect_code(&dir, args, 2);
    assert!(
        stdout.is_empty(),
        "pgtable {args:?} wrote to stdout: {stdout}"
    );
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr}");
    assert!(stderr.starts_with("pgtable: error: "), "{stderr}");
    stderr
}

fn read_json(path: &Path) -> Value {
    let s = std::fs::read_to_string(path).expect("report.json is readable");
    serde_json::from_str(&s).expect("report.json is JSON")
}

fn expectation(b: &dyn DynBackend, variant: &str, entry: usize) -> Expectation {
    (CATALOGUE[entry].expect)(b, variant)
}

/// Returns the first backend on which some scenario variant must hold, preferring x86_64.
fn fixed_backend() -> &'static str {
    let holds = |b: &&&dyn DynBackend| {
        CATALOGUE.iter().enumerate().any(|(i, e)| {
            e.variants
                .iter()
                .any(|v| expectation(**b, v, i) == Expectation::Holds)
        })
    };
    arch::BACKENDS
        .iter()
        .filter(holds)
        .find(|b| b.id().name() == "x86_64")
        .or_else(|| arch::BACKENDS.iter().find(holds))
        .map(|b| b.id().name())
        .expect("some enabled backend must hold some scenario")
}

/// Returns the first backend on which some historical bug must be found, if one is enabled.
fn historical_backend() -> Option<&'static str> {
    arch::BACKENDS
        .iter()
        .find(|b| {
            CATALOGUE.iter().enumerate().any(|(i, e)| {
                e.variants
                    .iter()
                    .any(|v| matches!(expectation(**b, v, i), Expectation::Violation(_)))
            })
        })
        .map(|b| b.id().name())
}

/// The `--arch` selection of these tests: one fixed backend and one historical when enabled.
fn selection() -> String {
    let mut names = vec![fixed_backend()];
    names.extend(historical_backend());
    format!("--arch={}", names.join(","))
}

fn columns() -> usize {
    CATALOGUE.iter().map(|e| e.variants.len()).sum()
}

/// A finished audit: its directory, exit code and output.
struct Run {
    dir: PathBuf,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        read_json(&self.dir.join("audit-report/report.json"))
    }
    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join("audit-report").join(name)).expect(name)
    }
}

fn audit(name: &str, extra: &[&str]) -> Run {
    let dir = scratch(name);
    let sel = selection();
    let mut args = vec!["audit", sel.as_str(), FAST_LAWS];
    args.extend_from_slice(extra);
    let out = pgtable_in(&dir, &args);
    Run {
        dir,
        code: out.status.code(),
        stdout: text(&out.stdout),
        stderr: text(&out.stderr),
    }
}

/// The clean audit of the selection, run once for the tests that read it.
fn clean() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| audit("clean", &[]))
}

/// The audit with the fixed split mutated, run once for the tests that read it.
fn mutated() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| audit("mutated", &[MUTATION]))
}

// --- a clean audit ---

#[test]
fn a_clean_audit_exits_zero_and_writes_three_reports() {
    let run = clean();
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    // No progress bar or anything else when stdout is not a terminal.
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    assert!(run.stdout.contains("Audit PASSED."), "{}", run.stdout);
    assert!(
        run.stdout.ends_with(
            "Report: audit-report/report.json, audit-report/report.md, audit-report/report.html\n"
        ),
        "{}",
        run.stdout
    );
    for f in ["report.json", "report.md", "report.html"] {
        assert!(run.dir.join("audit-report").join(f).is_file(), "{f}");
    }
}

#[test]
fn the_summary_matrix_has_a_row_per_backend_and_a_column_per_scenario() {
    let run = clean();
    let table: Vec<&str> = run
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .collect();
    let v = run.json();
    let backends = v["backends"].as_array().unwrap();
    assert_eq!(table.len(), 2 + backends.len(), "{}", run.stdout);
    let header: Vec<&str> = table[0].split('|').map(str::trim).collect();
    assert_eq!(header.len(), 3 + columns(), "{}", table[0]);
    for e in CATALOGUE {
        assert!(table[0].contains(e.id), "{}", table[0]);
    }
    for (row, b) in table[2..].iter().zip(backends) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert_eq!(cells[1], b["name"]);
        for c in &cells[2..cells.len() - 1] {
            assert!(
                c.starts_with("found ") || c.starts_with("holds ") || *c == "n/a",
                "{row}"
            );
        }
    }
    let width = table[0].chars().count();
    assert!(table.iter().all(|l| l.chars().count() == width), "ragged");
}

#[test]
fn report_json_follows_the_documented_schema() {
    let run = clean();
    let v = run.json();
    assert_eq!(v["schema"], SCHEMA);
    assert_eq!(v["schema_version"], SCHEMA_VERSION);
    assert_eq!(v["meta"]["tool"], "pgtable");
    assert_eq!(v["meta"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["meta"]["date"].as_str().unwrap().len(), 20);
    assert!(v["meta"]["host"]["os"].is_string());
    assert!(v["meta"].get("git_commit").is_some());
    assert_eq!(v["summary"]["passed"], true);
    assert_eq!(v["summary"]["law_violations"], Value::Array(Vec::new()));

    let backends = v["backends"].as_array().unwrap();
    for b in backends {
        assert_eq!(b["laws"].as_array().unwrap().len(), LawId::ALL.len());
        // Only a historical backend may break a law: the one its bug breaks.
        assert!(b["laws_clean"] == true || b["historical"] == true, "{b}");
        for l in b["laws"].as_array().unwrap() {
            for key in ["law", "verdict", "cases", "witness", "note"] {
                assert!(l.get(key).is_some(), "no {key} in {l}");
            }
        }
    }
    let cells = v["cells"].as_array().unwrap();
    assert_eq!(cells.len(), backends.len() * columns());
    let traces = v["traces"].as_array().unwrap();
    for c in cells {
        for key in [
            "scenario",
            "backend",
            "variant",
            "expectation",
            "verdict",
            "status",
            "met",
            "invariants_checked",
            "search",
            "states",
            "transitions",
            "elapsed_ms",
            "trace",
        ] {
            assert!(c.get(key).is_some(), "no {key} in {c}");
        }
        assert_eq!(c["met"], true, "{c}");
        let b = arch::lookup(c["backend"].as_str().unwrap()).unwrap();
        let entry = CATALOGUE
            .iter()
            .position(|e| e.id == c["scenario"])
            .unwrap();
        match expectation(b, c["variant"].as_str().unwrap(), entry) {
            Expectation::Violation(ids) => {
                assert_eq!(c["expectation"]["kind"], "violation");
                assert_eq!(c["status"], "found");
                assert_eq!(c["search"], "breadth-first");
                let inv = c["verdict"]["invariant"].as_str().unwrap();
                assert!(ids.iter().any(|i| i.id() == inv), "{c}");
                let id = c["trace"].as_str().unwrap();
                let t = traces.iter().find(|t| t["id"] == id).expect("its trace");
                let steps = t["steps"].as_array().unwrap();
                assert_eq!(steps.len(), t["schedule"].as_array().unwrap().len());
                let last = steps.last().unwrap();
                if inv == "INV-NO-DEADLOCK" {
                    // A deadlock is a state: no step violates, the cycle names its locks.
                    assert!(last["violated"].is_null(), "{t}");
                    let cycle = t["wait_cycle"].as_array().unwrap();
                    assert!(!cycle.is_empty(), "{t}");
                    assert_eq!(t["wait_locks"].as_array().unwrap().len(), cycle.len());
                } else {
                    assert_eq!(last["violated"]["invariant"], inv);
                }
                // Every touched entry raw and decoded.
                for s in steps {
                    for e in s["touched"].as_array().unwrap() {
                        let raw = e["before"]["raw"].as_str().unwrap();
                        assert!(raw.starts_with("0x"), "{e}");
                        assert!(
                            e["before"]["decoded"].as_str().unwrap().starts_with(raw),
                            "{e}"
                        );
                    }
                }
            }
            Expectation::Holds => {
                assert_eq!(c["status"], "holds");
                assert!(c["states"].as_u64().unwrap() > 1);
                assert!(c["trace"].is_null());
            }
            Expectation::NotApplicable(_) => {
                assert_eq!(c["status"], "not-applicable");
                assert_eq!(c["verdict"]["kind"], "not-run");
            }
        }
    }
}

#[test]
fn report_md_has_the_matrix_laws_encodings_and_step_lists() {
    let run = clean();
    let md = run.file("report.md");
    for h in ["## Matrix", "## Laws", "## Encodings", "## Counterexamples"] {
        assert!(md.contains(h), "no {h}");
    }
    // The encoding table is `pgtable arches`'s, for the audited backends.
    let (arches, _) = expect_code(&run.dir, &["arches"], 0);
    let v = run.json();
    for b in v["backends"].as_array().unwrap() {
        let name = b["name"].as_str().unwrap();
        // Cells, not padding: the report's table holds only the audited backends.
        let cells = |l: &str| {
            l.split('|')
                .map(|c| c.trim().to_string())
                .collect::<Vec<_>>()
        };
        let row = arches
            .lines()
            .find(|l| l.starts_with(&format!("| {name} ")))
            .map(cells)
            .expect("arches row");
        assert!(
            md.lines().any(|l| cells(l) == row),
            "no encoding row for {name}"
        );
        assert!(
            md.contains(&format!("| {name} ")),
            "no matrix row for {name}"
        );
    }
    for (i, t) in v["traces"].as_array().unwrap().iter().enumerate() {
        assert!(md.contains(&format!("### {}. ", i + 1)), "{md}");
        assert!(md.contains(t["id"].as_str().unwrap()));
    }
}

#[test]
fn report_html_is_one_self_contained_page() {
    let run = clean();
    let html = run.file("report.html");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<title>pgtable audit report: PASSED</title>"));
    for external in ["<link", "src=", "@import", "url(", "https://"] {
        assert!(!html.contains(external), "{external} in report.html");
    }
    let v = run.json();
    let cells = html.matches(r#"<td class="cell "#).count();
    assert_eq!(cells, v["backends"].as_array().unwrap().len() * columns());
    assert_eq!(
        html.matches(r#"<svg class="sequence""#).count(),
        v["traces"].as_array().unwrap().len()
    );
}

// --- a failed expectation ---

#[test]
fn a_mutated_fixed_variant_fails_in_all_three_formats() {
    let run = mutated();
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("Audit FAILED."), "{}", run.stdout);
    let v = run.json();
    assert_eq!(v["summary"]["passed"], false);
    assert_eq!(v["options"]["mutations"][0], "split-skips-tlb-flush");
    let failed: Vec<&Value> = v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["met"] == false)
        .collect();
    assert!(!failed.is_empty());
    let md = run.file("report.md");
    let html = run.file("report.html");
    assert!(html.contains("<title>pgtable audit report: FAILED</title>"));
    for c in failed {
        assert_eq!(c["status"], "violated", "{c}");
        assert_eq!(c["backend"], fixed_backend());
        let inv = c["verdict"]["invariant"].as_str().unwrap();
        let id = c["trace"]
            .as_str()
            .expect("an unexpected failure has its trace");
        let t = v["traces"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
            .unwrap();
        let steps = t["steps"].as_array().unwrap();
        // Terminal: the failure and its first trace steps, the violating one included.
        let head = format!(
            "FAILED {} on {} ({})",
            c["scenario"].as_str().unwrap(),
            c["backend"].as_str().unwrap(),
            c["variant"].as_str().unwrap()
        );
        assert!(run.stdout.contains(&head), "{}", run.stdout);
        let first = steps[0]["label"].as_str().unwrap();
        assert!(run.stdout.contains(first), "{}", run.stdout);
        assert!(
            run.stdout.contains(&format!("VIOLATED {inv}")),
            "{}",
            run.stdout
        );
        // Markdown: the matrix cell, the counterexample and its violating step.
        assert!(md.contains(&format!("| {} ", c["backend"].as_str().unwrap())));
        assert!(md.contains("VIOLATED "), "{md}");
        assert!(md.contains(&format!("**VIOLATED {inv}**")), "{md}");
        assert!(md.contains(&format!("{}. **", steps.len())), "{md}");
        // HTML: a failed cell and a diagram with the violating step highlighted.
        assert!(
            html.contains(r#"class="cell failed-cell failed""#),
            "{html}"
        );
        assert!(html.contains(r#"class="violating-row""#));
        assert!(html.contains(&format!("VIOLATED {inv}")));
    }
}

#[test]
fn a_state_bound_reached_is_a_failed_expectation() {
    let dir = scratch("bound");
    let arch = format!("--arch={}", fixed_backend());
    let (stdout, _) = expect_code(
        &dir,
        &[
            "audit",
            &arch,
            FAST_LAWS,
            "--max-states=10",
            "--format=json",
        ],
        1,
    );
    assert!(stdout.contains("INCOMPLETE 10"), "{stdout}");
    let v = read_json(&dir.join("audit-report/report.json"));
    assert!(
        v["cells"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["status"] == "incomplete" && c["verdict"]["kind"] == "incomplete")
    );
    assert!(!dir.join("audit-report/report.md").exists());
}

#[test]
fn a_memory_bound_reached_is_a_failed_expectation_that_names_it() {
    let dir = scratch("memory-bound");
    let arch = format!("--arch={}", fixed_backend());
    let (stdout, _) = expect_code(
        &dir,
        &[
            "audit",
            &arch,
            FAST_LAWS,
            "--scenario=race-002",
            "--max-memory=8K",
            "--format=json",
        ],
        1,
    );
    assert!(stdout.contains("INCOMPLETE"), "{stdout}");
    let v = read_json(&dir.join("audit-report/report.json"));
    assert_eq!(v["options"]["max_memory"], 8192);
    assert!(v["cells"].as_array().unwrap().iter().any(|c| {
        c["status"] == "incomplete"
            && c["verdict"]["what"]
                .as_str()
                .is_some_and(|w| w.contains("memory bound"))
    }));
}

#[test]
fn results_do_not_depend_on_the_number_of_jobs() {
    let strip = |mut v: Value| {
        for c in v["cells"].as_array_mut().unwrap() {
            c["elapsed_ms"] = Value::Null;
        }
        (
            v["cells"].clone(),
            v["traces"].clone(),
            v["backends"].clone(),
        )
    };
    let mut results = Vec::new();
    for jobs in ["--jobs=1", "--jobs=3"] {
        let dir = scratch("jobs");
        let sel = selection();
        pgtable_in(
            &dir,
            &["audit", &sel, FAST_LAWS, MUTATION, jobs, "--format=json"],
        );
        results.push(strip(read_json(&dir.join("audit-report/report.json"))));
    }
    assert_eq!(results[0], results[1]);
}

#[test]
fn json_on_stdout_is_the_report() {
    let dir = scratch("json");
    let arch = format!("--arch={}", fixed_backend());
    let (stdout, _) = expect_code(
        &dir,
        &[
            "audit",
            &arch,
            FAST_LAWS,
            "--json",
            "--out=r",
            "--format=json",
        ],
        0,
    );
    let printed: Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    let written = read_json(&dir.join("r/report.json"));
    assert_eq!(printed, written);
}

// --- replay ---

#[test]
fn replay_reproduces_a_counterexample_step_by_step() {
    let run = mutated();
    let v = run.json();
    let t = &v["traces"][0];
    let id = t["id"].as_str().unwrap();
    let (stdout, stderr) = expect_code(&run.dir, &["replay", "audit-report/report.json", id], 0);
    assert!(stderr.is_empty(), "{stderr}");
    for s in t["steps"].as_array().unwrap() {
        assert!(stdout.contains(s["label"].as_str().unwrap()), "{stdout}");
    }
    let inv = t["invariant"].as_str().unwrap();
    assert!(
        stdout.contains(&format!("Reproduces: {inv} breaks at step")),
        "{stdout}"
    );
    let (json, _) = expect_code(
        &run.dir,
        &["replay", "--json", "audit-report/report.json", id],
        0,
    );
    let r: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(r["reproduced"], true);
    assert_eq!(r["trace"]["steps"], t["steps"]);
}

#[test]
fn replay_fails_clearly_when_the_trace_no_longer_reproduces() {
    let run = mutated();
    let v = run.json();
    let id = v["traces"][0]["id"].as_str().unwrap().to_string();
    let tampered = |name: &str, change: &dyn Fn(&mut Value)| {
        let mut w = v.clone();
        change(&mut w["traces"][0]);
        let path = run.dir.join(name);
        std::fs::write(&path, serde_json::to_string(&w).unwrap()).unwrap();
        expect_code(&run.dir, &["replay", name, &id], 1)
    };
    // The schedule stops one step short: nothing breaks.
    let (stdout, stderr) = tampered("short.json", &|t| {
        t["schedule"].as_array_mut().unwrap().pop();
    });
    assert!(
        stdout.contains("FAILED: the trace does not reproduce: all"),
        "{stdout}"
    );
    assert!(
        stderr.contains("the trace does not reproduce: all"),
        "{stderr}"
    );
    // The report claims another invariant.
    let (_, stderr) = tampered("other.json", &|t| {
        let steps = t["steps"].as_array_mut().unwrap();
        if let Some(last) = steps.last_mut() {
            last["violated"]["invariant"] = "INV-DEPOSIT".into();
        }
        t["invariant"] = "INV-DEPOSIT".into();
    });
    assert!(stderr.contains("the report has INV-DEPOSIT"), "{stderr}");
    // A thread that cannot run at some step.
    let (_, stderr) = tampered("diverged.json", &|t| {
        t["schedule"].as_array_mut().unwrap().insert(0, 9.into());
    });
    assert!(stderr.contains("cannot run"), "{stderr}");
}

#[test]
fn replay_refuses_what_is_not_a_trace_of_a_report() {
    let run = mutated();
    let msg = usage_error(&[
        "replay",
        run.dir.join("audit-report/report.json").to_str().unwrap(),
        "race-999/vax/v0",
    ]);
    let v = run.json();
    assert!(msg.contains("no trace 'race-999/vax/v0'"), "{msg}");
    assert!(
        msg.contains(v["traces"][0]["id"].as_str().unwrap()),
        "{msg}"
    );
    let md = run.dir.join("audit-report/report.md");
    let msg = usage_error(&["replay", md.to_str().unwrap(), "x"]);
    assert!(msg.contains("not a usable audit report"), "{msg}");
    let msg = usage_error(&["replay", "/nonexistent/report.json", "x"]);
    assert!(msg.contains("cannot read"), "{msg}");
    let mut w = v.clone();
    w["schema_version"] = (SCHEMA_VERSION + 1).into();
    let path = run.dir.join("future.json");
    std::fs::write(&path, w.to_string()).unwrap();
    let msg = usage_error(&["replay", path.to_str().unwrap(), "x"]);
    assert!(msg.contains("schema version"), "{msg}");
}

// --- bad usage ---

#[test]
fn unknown_values_are_refused_with_the_valid_ones_listed() {
    let msg = usage_error(&["audit", "--arch", "vax"]);
    assert!(msg.contains("'vax'"), "{msg}");
    for b in arch::BACKENDS {
        assert!(msg.contains(b.id().name()), "{msg}");
    }
    let msg = usage_error(&["audit", "--scenario", "race-999"]);
    for e in CATALOGUE {
        assert!(msg.contains(e.id), "{msg}");
    }
    let msg = usage_error(&["audit", "--variant", "v0.1"]);
    assert!(msg.contains(CATALOGUE[0].variants[0]), "{msg}");
    let msg = usage_error(&["audit", "--format", "pdf"]);
    assert!(
        msg.contains("json") && msg.contains("md") && msg.contains("html"),
        "{msg}"
    );
    let msg = usage_error(&["audit", "--jobs", "0"]);
    assert!(msg.contains("--jobs"), "{msg}");
    let msg = usage_error(&["audit", "--max-states", "0"]);
    assert!(msg.contains("--max-states"), "{msg}");
    let msg = usage_error(&["audit", "--max-memory", "12X"]);
    assert!(
        msg.contains("--max-memory") && msg.contains("K, M or G"),
        "{msg}"
    );
    let msg = usage_error(&["audit", "--mutate", "nothing"]);
    assert!(msg.contains("split-skips-tlb-flush"), "{msg}");
    let msg = usage_error(&["replay", "report.json"]);
    assert!(msg.contains("<TRACE>"), "{msg}");
}

#[test]
fn audit_help_lists_its_options_but_not_the_test_only_ones() {
    let dir = scratch("help");
    let (help, _) = expect_code(&dir, &["audit", "--help"], 0);
    for opt in [
        "--arch",
        "--scenario",
        "--variant",
        "--format",
        "--out",
        "--jobs",
        "--max-states",
        "--no-timings",
    ] {
        assert!(help.contains(opt), "{opt}: {help}");
    }
    assert!(!help.contains("--mutate") && !help.contains("--law-flag-subsets"));
    let (top, _) = expect_code(&dir, &["--help"], 0);
    for cmd in ["audit", "replay", "scenarios", "arches", "decode"] {
        assert!(top.contains(cmd), "{cmd}: {top}");
    }
}

// --- scenarios ---

#[test]
fn scenarios_lists_the_catalogue_with_the_backends_each_applies_to() {
    let dir = scratch("scenarios");
    let (out, _) = expect_code(&dir, &["scenarios"], 0);
    for e in CATALOGUE {
        assert!(out.contains(&format!("{}  {}", e.id, e.title)), "{out}");
        for v in e.variants {
            assert!(out.contains(&format!("variant {v}:")), "{out}");
        }
    }
    if let Some(h) = historical_backend() {
        assert!(out.contains(&format!("finds the bug on:  {h}")), "{out}");
    }
    let (json, _) = expect_code(&dir, &["scenarios", "--json"], 0);
    let v: Value = serde_json::from_str(&json).unwrap();
    let rows = v["scenarios"].as_array().unwrap();
    assert_eq!(rows.len(), CATALOGUE.len());
    for (row, e) in rows.iter().zip(CATALOGUE) {
        assert_eq!(row["id"], e.id);
        for var in row["variants"].as_array().unwrap() {
            let n = var["historical"].as_array().unwrap().len()
                + var["fixed"].as_array().unwrap().len()
                + var["not_applicable"].as_array().unwrap().len();
            assert_eq!(n, arch::BACKENDS.len());
        }
    }
}

// --- the README shows the live summary ---

// The README shows the default build's full audit: with fewer backends the live summary
// differs by design. State counts are deterministic; --no-timings drops the only line that
// is not.
#[test]
#[cfg_attr(
    not(feature = "all-arches"),
    ignore = "the README shows the default backends (all-arches)"
)]
fn readme_audit_block_is_the_live_output() {
    if std::env::var_os("PGTABLE_EMULATED").is_some_and(|v| v == "1") {
        eprintln!("skipped under emulation: the full audit is checked on the host");
        return;
    }
    let dir = scratch("readme");
    let out = pgtable_in(&dir, &["audit", "--no-timings", FAST_LAWS]);
    let stdout = text(&out.stdout);
    let fresh = format!("```text\n$ pgtable audit --no-timings\n{stdout}```\n");
    common::check_readme_block("audit", &fresh, "audit");
    assert_eq!(out.status.code(), Some(0), "{stdout}");
}

// --- the report directory and --no-timings ---

// With --no-timings two runs write the same bytes into all three files (no date, no wall
// time); without it the report carries them.
#[test]
fn no_timings_reports_are_byte_identical_across_runs() {
    let sel = selection();
    let args = [
        "audit",
        sel.as_str(),
        FAST_LAWS,
        "--no-timings",
        "--out",
        "r",
    ];
    let (first, second) = (scratch("no-timings-1"), scratch("no-timings-2"));
    let (out1, _) = expect_code(&first, &args, 0);
    let (out2, _) = expect_code(&second, &args, 0);
    assert_eq!(out1, out2, "the summaries differ");
    assert!(!out1.contains("Time:"), "{out1}");
    for file in ["report.json", "report.md", "report.html"] {
        let a = std::fs::read(first.join("r").join(file)).expect("first report");
        let b = std::fs::read(second.join("r").join(file)).expect("second report");
        assert!(a == b, "{file} differs between two --no-timings runs");
    }
    let v: Value =
        serde_json::from_slice(&std::fs::read(first.join("r/report.json")).unwrap()).unwrap();
    assert!(v["meta"]["date"].is_null(), "{}", v["meta"]);
    assert!(v["summary"]["elapsed_ms"].is_null());
    assert!(
        v["cells"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["elapsed_ms"].is_null())
    );
    // Without the flag, the date and the wall times are there.
    let timed = scratch("timed");
    expect_code(&timed, &["audit", sel.as_str(), FAST_LAWS, "--out", "r"], 0);
    let v: Value =
        serde_json::from_slice(&std::fs::read(timed.join("r/report.json")).unwrap()).unwrap();
    assert!(v["meta"]["date"].is_string());
    assert!(v["summary"]["elapsed_ms"].is_number());
}

// Report files of an earlier run that this run did not rewrite are named on stderr.
#[test]
fn report_files_left_from_an_earlier_run_are_warned_about() {
    let dir = scratch("stale");
    let sel = selection();
    expect_code(&dir, &["audit", sel.as_str(), FAST_LAWS, "--out", "r"], 0);
    let (_, stderr) = expect_code(
        &dir,
        &[
            "audit",
            sel.as_str(),
            FAST_LAWS,
            "--out",
            "r",
            "--format",
            "md",
        ],
        0,
    );
    for stale in ["report.json", "report.html"] {
        assert!(
            stderr.contains(&format!(
                "pgtable: warning: {} is left from an earlier run",
                Path::new("r").join(stale).display()
            )),
            "{stale}: {stderr}"
        );
    }
    assert!(!stderr.contains("report.md is left"), "{stderr}");
    assert!(stderr.contains("this run wrote only report.md"), "{stderr}");
    // A fresh directory: no warning.
    let (_, stderr) = expect_code(
        &dir,
        &[
            "audit",
            sel.as_str(),
            FAST_LAWS,
            "--out",
            "fresh",
            "--format",
            "md",
        ],
        0,
    );
    assert!(stderr.is_empty(), "{stderr}");
}

// --out naming a file, and a stray comma in a list, are usage errors that say so.
#[test]
fn out_naming_a_file_and_a_stray_comma_are_one_line_usage_errors() {
    let dir = scratch("usage-more");
    std::fs::write(dir.join("a-file"), "").unwrap();
    let (stdout, stderr) = expect_code(&dir, &["audit", "--out", "a-file"], 2);
    assert!(stdout.is_empty(), "{stdout}");
    assert_eq!(
        stderr,
        "pgtable: error: cannot write the output: --out a-file: not a directory (give a \
         directory; it is created if missing)\n"
    );
    let arch = format!("--arch={},", fixed_backend());
    let (_, stderr) = expect_code(&dir, &["audit", arch.as_str()], 2);
    assert_eq!(
        stderr,
        "pgtable: error: an empty name in '--arch <ARCH>': a stray comma? (separate names with \
         single commas) (see 'pgtable --help')\n"
    );
    let (_, stderr) = expect_code(&dir, &["audit", "--scenario=race-002,,race-002"], 2);
    assert!(
        stderr.contains("an empty name in '--scenario <ID>'"),
        "{stderr}"
    );
}

// A failed audit lists every failed cell with its reason in Markdown and HTML, even when no
// cell has a counterexample (here: every cell stops at the state bound).
#[test]
fn a_failed_report_lists_every_failed_cell_with_its_reason() {
    let dir = scratch("failed-cells");
    let arch = format!("--arch={}", fixed_backend());
    expect_code(
        &dir,
        // 5: below every cell's count, the smallest being race-001-self's 7.
        &["audit", &arch, FAST_LAWS, "--max-states=5", "--no-timings"],
        1,
    );
    let v = read_json(&dir.join("audit-report/report.json"));
    let md = std::fs::read_to_string(dir.join("audit-report/report.md")).unwrap();
    let html = std::fs::read_to_string(dir.join("audit-report/report.html")).unwrap();
    assert!(md.contains("\n## Failed cells\n"), "{md}");
    assert!(html.contains(r#"<section id="failures"><h2>Failed cells</h2>"#));
    let failed: Vec<&Value> = v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["met"] == false)
        .collect();
    assert!(!failed.is_empty());
    for c in failed {
        let key = format!(
            "{}/{}/{}",
            c["scenario"].as_str().unwrap(),
            c["backend"].as_str().unwrap(),
            c["variant"].as_str().unwrap()
        );
        let md_line = md
            .lines()
            .find(|l| l.starts_with(&format!("- `{key}`: ")))
            .unwrap_or_else(|| panic!("{key} not listed: {md}"));
        assert!(
            md_line.contains("expected every invariant to hold")
                || md_line.contains("expected the historical bug (INV-"),
            "{md_line}"
        );
        assert!(md_line.contains("5 states"), "the reason: {md_line}");
        assert!(
            html.contains(&format!("<li><code>{key}</code>: expected")),
            "{key}"
        );
    }
    assert!(
        md.contains("None: no cell broke an invariant. The failed cells are listed under Failed cells above."),
        "{md}"
    );
}
