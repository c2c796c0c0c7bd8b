//! A report is usable without the CLI: another tool builds, reads back and replays one through
//! the library (`audit::Report::from_json`, `audit::replay`, `audit::EncodingTable`).
#![cfg(all(feature = "cli", feature = "arm"))]

use pgtable::arch;
use pgtable::audit::{self, AuditError, EncodingTable, Encodings, Plan, Report};

/// A small audit with counterexamples: race 002 on the historical 32-bit ARM LPAE backend.
fn report_with_traces() -> Report {
    let backends = ["arm-lpae-v4.5"];
    let plan = Plan::new()
        .arches(&backends)
        .unwrap()
        .scenarios(&["race-002"])
        .unwrap();
    let enc = Encodings::of(&plan.backends);
    let mut report = audit::run::run(&plan.encodings(enc), 1, &|_| {});
    report.drop_timings();
    assert!(
        !report.traces.is_empty(),
        "race 002 is found on arm-lpae-v4.5"
    );
    report
}

#[test]
fn a_report_reads_back_from_its_json_unchanged() {
    let report = report_with_traces();
    let json = serde_json::to_string_pretty(&report).unwrap();
    let back = Report::from_json(&json).unwrap();
    assert_eq!(serde_json::to_string_pretty(&back).unwrap(), json);
    let enc = back.encodings.expect("the plan carried the encoding table");
    assert_eq!(enc.backends.len(), 1);
    assert_eq!(enc.backends[0].name, "arm-lpae-v4.5");
    assert!(enc.table.starts_with("| arch "), "{}", enc.table);
}

#[test]
fn every_trace_of_a_report_replays_through_the_library() {
    let report = report_with_traces();
    for t in &report.traces {
        let replayed = audit::replay(report.trace(&t.id).unwrap()).unwrap();
        assert!(replayed.reproduced, "{}: {}", t.id, replayed.message);
        assert!(!replayed.entries_differ, "{}", t.id);
        assert_eq!(replayed.trace.as_ref().unwrap().steps, t.steps);
    }
}

#[test]
fn a_trace_cut_short_does_not_reproduce_and_says_why() {
    let report = report_with_traces();
    let mut t = report.traces[0].clone();
    let keep = t.violating_step().unwrap();
    t.schedule.truncate(keep);
    let replayed = audit::replay(&t).unwrap();
    assert!(!replayed.reproduced);
    assert!(
        replayed
            .failure()
            .unwrap()
            .starts_with("the trace does not reproduce: "),
        "{}",
        replayed.message
    );
}

#[test]
fn an_unknown_trace_or_backend_is_a_typed_error() {
    let report = report_with_traces();
    match report.trace("race-002/nowhere/v0") {
        Err(AuditError::UnknownTrace { id, known }) => {
            assert_eq!(id, "race-002/nowhere/v0");
            assert_eq!(known.len(), report.traces.len());
        }
        other => panic!("{other:?}"),
    }
    let mut t = report.traces[0].clone();
    t.backend = "vax".into();
    match audit::replay(&t) {
        Err(AuditError::UnknownArch { name, known }) => {
            assert_eq!(name, "vax");
            assert_eq!(known.len(), arch::BACKENDS.len());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_encoding_table_of_the_library_is_what_arches_prints() {
    let table = EncodingTable::enabled();
    assert_eq!(table.backends.len(), arch::BACKENDS.len());
    let text = table.to_string();
    for b in arch::BACKENDS {
        let name = b.id().name();
        assert!(
            text.lines().any(|l| l.starts_with(&format!("| {name} "))),
            "{name}: {text}"
        );
    }
}
