//! What every subcommand shares: its result type, its errors, exit codes, output and the
//! parsing of hex values.
//!
//! A subcommand is one function `run(&Args) -> Result<R, CliError>` where `R` is a typed
//! [`Report`]: `main` prints it as text (its `Display`) or as JSON (its `Serialize`) and turns
//! its [`Outcome`] into the exit status. Adding a subcommand is: a module here, a variant in
//! `main.rs`'s `Command`, and one match arm.

pub mod arches;
pub mod audit;
pub mod decode;
pub mod replay;
pub mod scenarios;

use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;

use clap::error::ErrorKind;
use serde::Serialize;

/// Exit status: the job ran and everything held.
pub const EXIT_OK: u8 = 0;
/// Exit status: the job ran and found a failed expectation.
pub const EXIT_FAILED: u8 = 1;
/// Exit status: the job could not run (bad usage or input, or output could not be written).
pub const EXIT_USAGE: u8 = 2;

/// Whether a job that ran found what it expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Everything held (exit 0).
    Passed,
    /// The job ran and an expectation failed (exit 1).
    Failed,
}

/// The typed result of a subcommand: printable as text and as JSON.
pub trait Report: Serialize + fmt::Display {
    /// Whether the job found what it expected; reports that only show something pass.
    fn outcome(&self) -> Outcome {
        Outcome::Passed
    }
}

/// Why a subcommand could not do its job. Every variant exits with [`EXIT_USAGE`].
#[derive(Debug)]
pub enum CliError {
    /// The command line did not parse.
    Usage(clap::Error),
    /// An input value that clap accepted but pgtable rejects (unknown arch, value too wide).
    Input(pgtable::Error),
    /// The output could not be written.
    Output(io::Error),
    /// An audit selection that leaves nothing to run, or a report that cannot be used.
    Audit(pgtable::audit::AuditError),
}

impl From<pgtable::audit::AuditError> for CliError {
    fn from(e: pgtable::audit::AuditError) -> Self {
        CliError::Audit(e)
    }
}

impl From<pgtable::Error> for CliError {
    fn from(e: pgtable::Error) -> Self {
        CliError::Input(e)
    }
}

impl From<clap::Error> for CliError {
    fn from(e: clap::Error) -> Self {
        CliError::Usage(e)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(e) => f.write_str(&one_line_clap_error(e)),
            CliError::Input(e) => write!(f, "{e}"),
            CliError::Output(e) => write!(f, "cannot write the output: {e}"),
            CliError::Audit(e) => write!(f, "{e}"),
        }
    }
}

/// Renders a clap error on one line: its message, then its context (`[possible values: ...]`,
/// tips), without the usage block, which `--help` gives.
fn one_line_clap_error(e: &clap::Error) -> String {
    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        // clap would print the whole help; say what is missing instead.
        return "no subcommand given (see 'pgtable --help')".to_string();
    }
    let text = e.render().to_string();
    let mut msg = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("Usage:") || line.starts_with("For more information") {
            break;
        }
        if line.is_empty() {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(if line.starts_with('[') { " " } else { "; " });
        }
        msg.push_str(line.strip_prefix("error: ").unwrap_or(line));
    }
    msg.push_str(" (see 'pgtable --help')");
    msg
}

/// Prints `report` to stdout as text or pretty JSON and returns its outcome.
///
/// # Errors
/// [`CliError::Output`] when stdout cannot be written, except for a closed pipe
/// (`pgtable arches | head -1`), which ends the output quietly.
pub fn emit<R: Report>(report: &R, json: bool) -> Result<Outcome, CliError> {
    let text = if json {
        let mut s = serde_json::to_string_pretty(report)
            .map_err(|e| CliError::Output(io::Error::other(e)))?;
        s.push('\n');
        s
    } else {
        report.to_string()
    };
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(report.outcome()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(report.outcome()),
        Err(e) => Err(CliError::Output(e)),
    }
}

/// Turns a subcommand's result into the exit status, printing any error on one line.
pub fn finish(result: Result<Outcome, CliError>) -> ExitCode {
    match result {
        Ok(Outcome::Passed) => ExitCode::from(EXIT_OK),
        Ok(Outcome::Failed) => ExitCode::from(EXIT_FAILED),
        Err(e) => {
            // Nothing more can be done if stderr itself is gone.
            let _ = writeln!(io::stderr().lock(), "pgtable: error: {e}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// Parses a hex number: an optional `0x`/`0X` prefix, digits, `_` separators anywhere after the
/// prefix. Used as a clap value parser, so its message lands in clap's "invalid value" error.
///
/// # Errors
/// A message saying what was wrong: empty, a non-hex character, or wider than 64 bits.
pub fn parse_hex(s: &str) -> Result<u64, String> {
    let digits = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    let mut value: u64 = 0;
    let mut any = false;
    for c in digits.chars() {
        if c == '_' {
            continue;
        }
        let d = c
            .to_digit(16)
            .ok_or_else(|| format!("'{c}' is not a hex digit"))?;
        any = true;
        value = value
            .checked_mul(16)
            .and_then(|v| v.checked_add(u64::from(d)))
            .ok_or_else(|| "wider than 64 bits".to_string())?;
    }
    if !any {
        return Err("no hex digits".to_string());
    }
    Ok(value)
}

pub use pgtable::audit::format::hex::serialize as hex;
pub use pgtable::audit::format::yes_no;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_accepts_prefix_underscores_and_either_case() {
        assert_eq!(
            parse_hex("0x8000_0000_0000_0067"),
            Ok(0x8000_0000_0000_0067)
        );
        assert_eq!(parse_hex("8000000000000067"), Ok(0x8000_0000_0000_0067));
        assert_eq!(parse_hex("0XdeadBEEF"), Ok(0xdead_beef));
        assert_eq!(parse_hex("0"), Ok(0));
        assert_eq!(parse_hex("0x0000_0000_0000_0000_0001"), Ok(1));
        assert_eq!(parse_hex("0xffff_ffff_ffff_ffff"), Ok(u64::MAX));
    }

    #[test]
    fn hex_rejects_what_is_not_a_64_bit_hex_number() {
        assert_eq!(
            parse_hex("0x1_0000_0000_0000_0000").unwrap_err(),
            "wider than 64 bits"
        );
        assert_eq!(parse_hex("0xzz").unwrap_err(), "'z' is not a hex digit");
        assert_eq!(parse_hex("+1").unwrap_err(), "'+' is not a hex digit");
        assert_eq!(parse_hex("-1").unwrap_err(), "'-' is not a hex digit");
        assert_eq!(parse_hex("").unwrap_err(), "no hex digits");
        assert_eq!(parse_hex("0x").unwrap_err(), "no hex digits");
        assert_eq!(parse_hex("0x__").unwrap_err(), "no hex digits");
    }
}
