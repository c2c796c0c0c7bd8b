//! Replay: re-runs a report's counterexample from its scenario (built again from scenario id,
//! backend, variant and knobs) and says whether it still breaks the same invariant at the
//! same step. What `pgtable replay` prints; usable by any tool that reads a report.

use core::fmt;
use std::string::{String, ToString};

use serde::Serialize;

use super::text::write_trace;
use super::{AuditError, TraceRecord};
use crate::PmdOps;
use crate::arch::{self, ArchVisitor, visit_one};
use crate::engine::explore::Counterexample;
use crate::engine::invariant::InvariantId;
use crate::engine::trace;
use crate::scenario::{self, build};

/// How every "does not reproduce" message starts (as the engine's replay error does).
const NOT_REPRODUCED: &str = "the trace does not reproduce: ";

/// The replayed counterexample and whether it reproduces the report's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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

/// Replays a recorded trace on its backend type.
struct Replay<'a> {
    recorded: &'a TraceRecord,
    invariant: InvariantId,
    out: Option<Result<TraceRecord, String>>,
}

impl ArchVisitor for Replay<'_> {
    fn visit<A: PmdOps>(&mut self) {
        let r = self.recorded;
        let result = build::<A>(&r.scenario, &r.variant, r.knobs)
            .map_err(|e| std::format!("{NOT_REPRODUCED}the scenario no longer builds: {e}"))
            .and_then(|sc| trace::replay(&sc, &r.schedule).map_err(|e| e.to_string()))
            .map(|trace| {
                let cx = Counterexample {
                    invariant: self.invariant,
                    what: "",
                    schedule: r.schedule.clone(),
                    wait_cycle: r.wait_cycle.clone(),
                    wait_for: std::vec::Vec::new(),
                };
                let mut t = TraceRecord::from_trace(&trace, &r.variant, r.knobs, &cx);
                t.what = r.what.clone();
                t.wait_locks = r.wait_locks.clone();
                t
            });
        self.out = Some(result);
    }
}

/// Re-runs `recorded` (a trace of a report: [`Report::trace`](super::Report::trace)) and
/// compares where it breaks with where the report says it broke.
///
/// A trace that no longer reproduces (the scenario or invariant is gone, the schedule cannot
/// run, it breaks elsewhere or not at all) is a report with `reproduced: false` and the reason,
/// not an error.
///
/// # Errors
/// [`AuditError::UnknownArch`] when the trace's backend is not enabled in this build.
pub fn replay(recorded: &TraceRecord) -> Result<ReplayReport, AuditError> {
    let backend = arch::lookup(&recorded.backend).map_err(|_| AuditError::UnknownArch {
        name: recorded.backend.clone(),
        known: arch::BACKENDS
            .iter()
            .map(|b| b.id().name().into())
            .collect(),
    })?;
    let fail = |message: String, trace: Option<TraceRecord>| ReplayReport {
        id: recorded.id.clone(),
        reproduced: false,
        message,
        entries_differ: false,
        trace,
    };
    let Some(entry) = scenario::entry(&recorded.scenario) else {
        return Ok(fail(
            std::format!(
                "{NOT_REPRODUCED}the catalogue has no scenario '{}' any more",
                recorded.scenario
            ),
            None,
        ));
    };
    // A built-in invariant, or one the catalogue entry declares itself.
    let Some(&invariant) = InvariantId::ALL
        .iter()
        .chain(entry.invariants)
        .find(|i| i.id() == recorded.invariant)
    else {
        return Ok(fail(
            std::format!(
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
                std::format!("{NOT_REPRODUCED}the backend's feature is not enabled"),
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
            std::format!("{} breaks at step {}, as the report says.", f.1, f.0),
            fresh,
        ),
        (Some(r), Some(f)) => fail(
            std::format!(
                "{NOT_REPRODUCED}{} breaks at step {}; the report has {} at step {}",
                f.1,
                f.0,
                r.1,
                r.0
            ),
            Some(fresh),
        ),
        (Some(r), None) => fail(
            std::format!(
                "{NOT_REPRODUCED}all {} steps ran and no invariant broke; the report has {} at step {}",
                fresh.steps.len(),
                r.1,
                r.0
            ),
            Some(fresh),
        ),
        // A deadlock is a state where no thread can run, not a step: the schedule must run
        // to its end with no invariant broken on the way.
        (None, None) if invariant == InvariantId::DEADLOCK => report(
            true,
            std::format!(
                "the schedule runs its {} steps to the state the report calls a deadlock ({}).",
                fresh.steps.len(),
                invariant.id()
            ),
            fresh,
        ),
        (None, Some(f)) => fail(
            std::format!(
                "{NOT_REPRODUCED}{} breaks at step {}; the report has none",
                f.1,
                f.0
            ),
            Some(fresh),
        ),
        (None, None) => fail(
            std::format!("{NOT_REPRODUCED}the report's trace has no violating step"),
            Some(fresh),
        ),
    })
}
