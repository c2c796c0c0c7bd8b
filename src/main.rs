//! `pgtable`: the command-line face of the crate.
//!
//! One subcommand per job, each a function in `cli::<name>` returning a typed
//! [`cli::Report`], printed as text or (`--json`) as JSON. Exit status: 0 when the job ran and
//! everything held, 1 when it ran and found a failed expectation, 2 when it could not run
//! (bad usage or input); errors are one line on stderr.
//!
//! To add a subcommand: write `cli/<name>.rs` with `<Name>Args` and
//! `run(&<Name>Args) -> Result<impl Report, CliError>`, declare it in `cli/mod.rs`, and add a
//! variant to [`Command`] and an arm to [`dispatch`].
#![forbid(unsafe_code)]

mod cli;

use std::io::Write as _;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{Parser, Subcommand};

use cli::arches::ArchesArgs;
use cli::audit::AuditArgs;
use cli::decode::DecodeArgs;
use cli::replay::ReplayArgs;
use cli::scenarios::ScenariosArgs;
use cli::{CliError, Outcome, emit};

/// Linux page-table entry encodings for seven architectures, and a model checker for the
/// generic mm races that run over them.
#[derive(Parser, Debug)]
#[command(name = "pgtable", version, about, long_about = None)]
struct Cli {
    /// Print the result as JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

/// The jobs `pgtable` does.
#[derive(Subcommand, Debug)]
enum Command {
    /// List the enabled backends: word width, empty entries, THP, and what pmdp_invalidate
    /// does to a present huge pmd.
    Arches(ArchesArgs),
    /// Decode one raw pte or pmd as Linux's helpers read it.
    Decode(DecodeArgs),
    /// Run every scenario on every backend and variant, check each verdict against its
    /// expectation, and write the report (exit 1 when an expectation fails).
    Audit(AuditArgs),
    /// Re-run a counterexample of an audit report step by step (exit 1 when it no longer
    /// reproduces).
    Replay(ReplayArgs),
    /// List the scenario catalogue with the backends each scenario applies to.
    Scenarios(ScenariosArgs),
}

/// Runs the subcommand and prints its report.
fn dispatch(cli: &Cli) -> Result<Outcome, CliError> {
    match &cli.command {
        Command::Arches(args) => emit(&cli::arches::run(args)?, cli.json),
        Command::Decode(args) => emit(&cli::decode::run(args)?, cli.json),
        Command::Audit(args) => emit(&cli::audit::run(args, cli.json)?, cli.json),
        Command::Replay(args) => {
            let report = cli::replay::run(args)?;
            let outcome = emit(&report, cli.json)?;
            if let Some(why) = report.failure() {
                // Also on stderr, for scripts that keep only the status and the errors.
                let _ = writeln!(std::io::stderr().lock(), "pgtable: {why}");
            }
            Ok(outcome)
        }
        Command::Scenarios(args) => emit(&cli::scenarios::run(args)?, cli.json),
    }
}

/// The command line, with `pgtable help --help` (or `-h`) read as `pgtable --help`: clap's
/// `help` subcommand takes subcommand names, not flags.
fn args() -> Vec<std::ffi::OsString> {
    let mut args: Vec<_> = std::env::args_os().collect();
    if args.len() > 2 && args[1] == "help" && args[2..].iter().all(|a| a == "--help" || a == "-h") {
        args.truncate(1);
        args.push("--help".into());
    }
    args
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse_from(args()) {
        Ok(cli) => cli,
        // --help and --version are not errors: clap prints them to stdout.
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            return match e.print() {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => ExitCode::from(cli::EXIT_USAGE),
            };
        }
        Err(e) => return cli::finish(Err(CliError::Usage(e))),
    };
    cli::finish(dispatch(&cli))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
