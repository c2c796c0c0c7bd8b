//! `pgtable replay <report.json> <trace-id>`: re-runs a counterexample of an audit report from
//! its scenario (built again from scenario id, backend, variant and knobs) and prints it step
//! by step; exit 1 when it no longer reproduces (the schedule cannot run, or ends in another
//! violation or none).

use std::fmt;
use std::fs;
use std::path::PathBuf;

use clap::Args;
use serde::{Deserialize, Serialize};

use pgtable::PmdOps;
use pgtable::arch::{self, ArchVisitor, visit_one};
use pgtable::audit::text::write_trace;
use pgtable::audit::{AuditError, SCHEMA, SCHEMA_VERSION, TraceRecord};
use pgtable::engine::explore::Counterexample;
use pgtable::engine::invariant::InvariantId;
use pgtable::engine::trace::replay;
use pgtable::scenario::{self, Knobs, build};

use super::{CliError, Outcome, Report};

/// How every "does not reproduce" message starts (as the engine's replay error does).
const NOT_REPRODUCED: &str = "the trace does not reproduce: ";

/// Arguments of `pgtable replay`.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// The audit's `report.json`.
    pub report: PathBuf,
    /// The trace id, as the report lists it (`scenario/backend/variant`).
    pub trace: String,
}

/// The part of a report that replay reads.
#[derive(Deserialize)]
struct ReportHead {
    schema: String,
    schema_version: u32,
    traces: Vec<TraceRecord>,
}

/// The replayed counterexample and whether it reproduces the report's.
#[derive(Serialize, Debug)]
pub struct ReplayReport {
    /// The trace id.
    pub id: String,
    /// Whether the schedule ran and broke the same invariant at the same step.
    pub reproduced: bool,
    /// What happened, in one sentence.
    pub message: String,
    /// Whether some step touched other values than the report shows (an encoding changed).
    pub entries_differ: bool,
    /// The replayed trace, where the schedule could run.
    pub trace: Option<TraceRecord>,
}

impl ReplayReport {
    /// Returns the one-line failure message, when the trace does not reproduce.
    pub fn failure(&self) -> Option<&str> {
        (!self.reproduced).then_some(self.message.as_str())
    }
}

impl fmt::Display for ReplayReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(t) = &self.trace {
            writeln!(
                f,
                "{} on {} ({}), threads {}: {} steps",
                t.scenario,
                t.backend,
                t.variant,
                t.threads.join(", "),
                t.steps.len()
            )?;
            let mut s = String::new();
            write_trace(&mut s, t, usize::MAX);
            f.write_str(&s)?;
        }
        if self.reproduced {
            writeln!(f, "Reproduces: {}", self.message)?;
            if self.entries_differ {
                writeln!(
                    f,
                    "Note: some entries differ from the report's (an encoding changed since)."
                )?;
            }
            Ok(())
        } else {
            writeln!(f, "FAILED: {}", self.message)
        }
    }
}

impl Report for ReplayReport {
    fn outcome(&self) -> Outcome {
        if self.reproduced {
            Outcome::Passed
        } else {
            Outcome::Failed
        }
    }
}

/// Replays a recorded trace on its backend type.
struct Replay<'a> {
    recorded: &'a TraceRecord,
    invariant: InvariantId,
    out: Option<Result<TraceRecord, String>>,
}

impl ArchVisitor for Replay<'_> {
    fn visit<A: PmdOps>(&mut self) {
        let r = self.recorded;
        let knobs: Knobs = r.knobs.into();
        let result = build::<A>(&r.scenario, &r.variant, knobs)
            .map_err(|e| format!("{NOT_REPRODUCED}the scenario no longer builds: {e}"))
            .and_then(|sc| replay(&sc, &r.schedule).map_err(|e| e.to_string()))
            .map(|trace| {
                let cx = Counterexample {
                    invariant: self.invariant,
                    what: "",
                    schedule: r.schedule.clone(),
                    wait_cycle: r.wait_cycle.clone(),
                };
                let mut t = TraceRecord::from_trace(&trace, &r.variant, knobs, &cx);
                t.what = r.what.clone();
                t
            });
        self.out = Some(result);
    }
}

/// Runs `pgtable replay`.
///
/// # Errors
/// [`CliError::Audit`] for a file that is not a readable report of this schema version, or a
/// trace id it does not have; [`CliError::Input`] for a backend that is not enabled.
pub fn run(args: &ReplayArgs) -> Result<ReplayReport, CliError> {
    let path = args.report.display();
    let text = fs::read_to_string(&args.report)
        .map_err(|e| AuditError::BadReport(format!("cannot read {path}: {e}")))?;
    let head: ReportHead =
        serde_json::from_str(&text).map_err(|e| AuditError::BadReport(format!("{path}: {e}")))?;
    if head.schema != SCHEMA {
        return Err(AuditError::BadReport(format!(
            "{path}: schema '{}', expected '{SCHEMA}'",
            head.schema
        ))
        .into());
    }
    if head.schema_version != SCHEMA_VERSION {
        return Err(AuditError::BadReport(format!(
            "{path}: schema version {}, this pgtable reads version {SCHEMA_VERSION}",
            head.schema_version
        ))
        .into());
    }
    let Some(recorded) = head.traces.iter().find(|t| t.id == args.trace) else {
        return Err(AuditError::UnknownTrace {
            id: args.trace.clone(),
            known: head.traces.iter().map(|t| t.id.clone()).collect(),
        }
        .into());
    };
    let backend = arch::lookup(&recorded.backend)?;
    let fail = |message: String, trace: Option<TraceRecord>| ReplayReport {
        id: recorded.id.clone(),
        reproduced: false,
        message,
        entries_differ: false,
        trace,
    };
    if scenario::entry(&recorded.scenario).is_none() {
        return Ok(fail(
            format!(
                "{NOT_REPRODUCED}the catalogue has no scenario '{}' any more",
                recorded.scenario
            ),
            None,
        ));
    }
    let Some(&invariant) = InvariantId::ALL
        .iter()
        .find(|i| i.id() == recorded.invariant)
    else {
        return Ok(fail(
            format!(
                "{NOT_REPRODUCED}no invariant is called '{}' any more",
                recorded.invariant
            ),
            None,
        ));
    };
    let mut run = Replay {
        recorded,
        invariant,
        out: None,
    };
    visit_one(backend.id(), &mut run);
    let fresh = match run.out {
        Some(Ok(t)) => t,
        Some(Err(e)) => return Ok(fail(e, None)),
        None => {
            return Ok(fail(
                format!("{NOT_REPRODUCED}the backend's feature is not enabled"),
                None,
            ));
        }
    };
    let at = |t: &TraceRecord| {
        t.steps
            .iter()
            .find_map(|s| s.violated.as_ref().map(|v| (s.index, v.invariant.clone())))
    };
    let recorded_at = at(recorded);
    let fresh_at = at(&fresh);
    let entries_differ = fresh.steps != recorded.steps;
    let report = |reproduced: bool, message: String, fresh: TraceRecord| ReplayReport {
        id: recorded.id.clone(),
        reproduced,
        message,
        entries_differ: reproduced && entries_differ,
        trace: Some(fresh),
    };
    Ok(match (recorded_at, fresh_at) {
        (Some(r), Some(f)) if r == f => report(
            true,
            format!("{} breaks at step {}, as the report says.", f.1, f.0),
            fresh,
        ),
        (Some(r), Some(f)) => fail(
            format!(
                "{NOT_REPRODUCED}{} breaks at step {}; the report has {} at step {}",
                f.1, f.0, r.1, r.0
            ),
            Some(fresh),
        ),
        (Some(r), None) => fail(
            format!(
                "{NOT_REPRODUCED}all {} steps ran and no invariant broke; the report has {} at step {}",
                fresh.steps.len(),
                r.1,
                r.0
            ),
            Some(fresh),
        ),
        // A deadlock is a state where no thread can run, not a step: the schedule must run
        // to its end with no invariant broken on the way.
        (None, None) if invariant == InvariantId::Deadlock => report(
            true,
            format!(
                "the schedule runs its {} steps to the state the report calls a deadlock ({}).",
                fresh.steps.len(),
                invariant.id()
            ),
            fresh,
        ),
        (None, Some(f)) => fail(
            format!(
                "{NOT_REPRODUCED}{} breaks at step {}; the report has none",
                f.1, f.0
            ),
            Some(fresh),
        ),
        (None, None) => fail(
            format!("{NOT_REPRODUCED}the report's trace has no violating step"),
            Some(fresh),
        ),
    })
}
