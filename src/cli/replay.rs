//! `pgtable replay <report.json> <trace-id>`: re-runs a counterexample of an audit report
//! ([`pgtable::audit::replay`]) and prints it step by step; exit 1 when it no longer
//! reproduces (the schedule cannot run, or ends in another violation or none).

use std::fs;
use std::path::PathBuf;

use clap::Args;

use pgtable::audit::{self, AuditError, ReplayReport};

use super::{CliError, Outcome, Report};

/// Arguments of `pgtable replay`.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// The audit's `report.json`.
    pub report: PathBuf,
    /// The trace id, as the report lists it (`scenario/backend/variant`).
    pub trace: String,
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

/// Runs `pgtable replay`.
///
/// # Errors
/// [`CliError::Audit`] for a file that is not a readable report of this schema version, a
/// trace id it does not have, or a backend that is not enabled.
pub fn run(args: &ReplayArgs) -> Result<ReplayReport, CliError> {
    let path = args.report.display();
    let text = fs::read_to_string(&args.report)
        .map_err(|e| AuditError::BadReport(format!("cannot read {path}: {e}")))?;
    let report = audit::Report::from_json(&text).map_err(|e| match e {
        AuditError::BadReport(why) => AuditError::BadReport(format!("{path}: {why}")),
        other => other,
    })?;
    Ok(audit::replay(report.trace(&args.trace)?)?)
}
