//! `pgtable audit`: every scenario × backend × variant, each verdict against its expectation,
//! with a progress bar while it runs, the summary on stdout, and `report.json`, `report.md` and
//! `report.html` in the report directory.

use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::io::{self, IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::error::ErrorKind;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Serialize, Serializer};

use pgtable::arch;
use pgtable::audit::text::{self, TextOptions};
use pgtable::audit::{self as audit_lib, Encodings, Mutation, Plan, html, markdown};
use pgtable::engine::explore::Options;
use pgtable::scenario::CATALOGUE;

use super::{CliError, Outcome, Report};

/// A report file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// `report.json`: the whole report, schema in docs/report-schema.md.
    Json,
    /// `report.md`: matrix, laws, encodings, counterexamples as step lists.
    Md,
    /// `report.html`: one self-contained page with a sequence diagram per counterexample.
    Html,
}

impl Format {
    fn file_name(self) -> &'static str {
        match self {
            Format::Json => "report.json",
            Format::Md => "report.md",
            Format::Html => "report.html",
        }
    }
}

/// One name of a comma-separated list from a fixed set. Clap's own parser calls the empty
/// name of `--arch x86_64,` a missing value; this one says it is a stray comma.
#[derive(Clone)]
struct ListItem(PossibleValuesParser);

impl TypedValueParser for ListItem {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<String, clap::Error> {
        if value.is_empty() {
            let name = arg.map_or_else(|| "the list".to_string(), |a| format!("'{a}'"));
            return Err(clap::Error::raw(
                ErrorKind::InvalidValue,
                format!(
                    "an empty name in {name}: a stray comma? (separate names with single \
                     commas)\n"
                ),
            )
            .with_cmd(cmd));
        }
        self.0.parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        self.0.possible_values()
    }
}

fn arch_names() -> ListItem {
    ListItem(PossibleValuesParser::new(
        arch::BACKENDS.iter().map(|b| b.id().name()),
    ))
}

fn scenario_ids() -> ListItem {
    ListItem(PossibleValuesParser::new(CATALOGUE.iter().map(|e| e.id)))
}

fn variant_names() -> ListItem {
    ListItem(PossibleValuesParser::new(audit_lib::plan::all_variants()))
}

fn mutation_names() -> PossibleValuesParser {
    PossibleValuesParser::new(Mutation::ALL.iter().map(|m| m.name()))
}

/// Arguments of `pgtable audit`.
#[derive(Args, Debug)]
pub struct AuditArgs {
    /// Only these backends (comma-separated or repeated; default: every enabled backend).
    #[arg(long, value_name = "ARCH", value_delimiter = ',', value_parser = arch_names())]
    pub arch: Vec<String>,
    /// Only these scenarios (comma-separated or repeated; default: the whole catalogue).
    #[arg(long, value_name = "ID", value_delimiter = ',', value_parser = scenario_ids())]
    pub scenario: Vec<String>,
    /// Only these variants (comma-separated or repeated; default: every variant).
    #[arg(long, value_name = "VARIANT", value_delimiter = ',', value_parser = variant_names())]
    pub variant: Vec<String>,
    /// Report files to write into the report directory.
    #[arg(
        long,
        value_name = "FORMAT",
        value_delimiter = ',',
        default_value = "json,md,html"
    )]
    pub format: Vec<Format>,
    /// The report directory (created if missing; its report files are overwritten).
    #[arg(long, value_name = "DIR", default_value = "audit-report")]
    pub out: PathBuf,
    /// Cells run in parallel (default: the available parallelism). Results do not depend on it.
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub jobs: Option<u32>,
    /// Stop exploring a cell after this many states (the cell then fails as incomplete).
    #[arg(long, value_name = "N", default_value_t = Options::default().max_states,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_states: u64,
    /// Stop exploring a cell before its stored states pass this much memory (bytes, or with
    /// a K, M or G suffix: KiB, MiB, GiB); the cell then fails as incomplete.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_memory: Option<u64>,
    /// Leave the date and every wall time out of the summary and the report files, so that
    /// runs of the same build write byte-identical output.
    #[arg(long)]
    pub no_timings: bool,
    /// Test only: break the fixed code on purpose, to check that the audit reports it.
    #[arg(long, hide = true, value_name = "MUTATION", value_delimiter = ',', value_parser = mutation_names())]
    pub mutate: Vec<String>,
    /// Test only: bound the laws' flag-subset enumeration (faster, less thorough laws).
    #[arg(long, hide = true, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub law_flag_subsets: Option<u64>,
}

/// The audit's result: the report, and how to print its summary.
pub struct AuditOutput {
    /// The report.
    pub report: audit_lib::Report,
    /// How the summary is printed.
    pub text: TextOptions,
}

impl Serialize for AuditOutput {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.report.serialize(s)
    }
}

impl fmt::Display for AuditOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&text::summary(&self.report, &self.text))
    }
}

impl Report for AuditOutput {
    fn outcome(&self) -> Outcome {
        if self.report.summary.passed {
            Outcome::Passed
        } else {
            Outcome::Failed
        }
    }
}

fn progress_bar(total: usize) -> ProgressBar {
    let bar = ProgressBar::new(total as u64);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} auditing [{bar:30}] {pos}/{len} {elapsed} {wide_msg}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn write_file(path: &Path, contents: &str) -> Result<(), CliError> {
    fs::write(path, contents)
        .map_err(|e| CliError::Output(io::Error::new(e.kind(), format!("{}: {e}", path.display()))))
}

/// Warns on stderr about report files in `dir` that this run did not write: they are left
/// from an earlier run and do not describe this one.
fn warn_about_stale_files(dir: &Path, written: &[Format]) {
    for f in [Format::Json, Format::Md, Format::Html] {
        let path = dir.join(f.file_name());
        if !written.contains(&f) && path.exists() {
            // A warning that cannot be written changes nothing.
            let _ = writeln!(
                io::stderr().lock(),
                "pgtable: warning: {} is left from an earlier run and does not describe this one \
                 (this run wrote only {})",
                path.display(),
                written
                    .iter()
                    .map(|f| f.file_name())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
}

/// Runs `pgtable audit` and writes the report files.
///
/// # Errors
/// [`CliError::Audit`] for a selection that leaves nothing to run; [`CliError::Output`] when a
/// report file cannot be written.
pub fn run(args: &AuditArgs, json_stdout: bool) -> Result<AuditOutput, CliError> {
    let mutations: Vec<Mutation> = args
        .mutate
        .iter()
        .filter_map(|m| Mutation::from_name(m))
        .collect();
    let plan = Plan::new()
        .arches(&args.arch)?
        .scenarios(&args.scenario)?
        .variants(&args.variant)?
        .mutations(&mutations)
        .law_flag_subsets(args.law_flag_subsets)
        .max_states(args.max_states)
        .max_memory(args.max_memory);
    plan.check()?;
    if !args.format.is_empty() && args.out.exists() && !args.out.is_dir() {
        return Err(CliError::Output(io::Error::other(format!(
            "--out {}: not a directory (give a directory; it is created if missing)",
            args.out.display()
        ))));
    }
    let plan = {
        let enc = Encodings::of(&plan.backends);
        plan.encodings(enc)
    };
    let jobs = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |j| j as usize,
    );

    // The bar only where someone watches: stdout and stderr both terminals.
    let show = !json_stdout && io::stdout().is_terminal() && io::stderr().is_terminal();
    let total = plan.backends.len() + plan.cells().len();
    let bar = show.then(|| progress_bar(total));
    let mut report = audit_lib::run::run(&plan, jobs, &|p| {
        if let Some(bar) = &bar {
            bar.set_position(p.done as u64);
            bar.set_message(p.what.to_string());
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if args.no_timings {
        report.drop_timings();
    }

    let formats = &args.format;
    let mut written = Vec::new();
    if !formats.is_empty() {
        fs::create_dir_all(&args.out).map_err(|e| {
            CliError::Output(io::Error::new(
                e.kind(),
                format!("{}: {e}", args.out.display()),
            ))
        })?;
    }
    for f in [Format::Json, Format::Md, Format::Html] {
        if !formats.contains(&f) {
            continue;
        }
        let contents = match f {
            Format::Json => {
                let mut s = serde_json::to_string_pretty(&report)
                    .map_err(|e| CliError::Output(io::Error::other(e)))?;
                s.push('\n');
                s
            }
            Format::Md => markdown::render(&report),
            Format::Html => html::render(&report),
        };
        let path = args.out.join(f.file_name());
        write_file(&path, &contents)?;
        written.push(path.display().to_string());
    }
    if !formats.is_empty() {
        warn_about_stale_files(&args.out, formats);
    }
    Ok(AuditOutput {
        report,
        text: TextOptions {
            timings: !args.no_timings,
            written,
            ..TextOptions::default()
        },
    })
}

/// Parses a memory size: bytes, or a number with a `K`, `M` or `G` suffix (binary units).
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, shift) = match t.char_indices().last() {
        Some((i, 'K' | 'k')) => (&t[..i], 10),
        Some((i, 'M' | 'm')) => (&t[..i], 20),
        Some((i, 'G' | 'g')) => (&t[..i], 30),
        _ => (t, 0),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a size: give bytes, or a number with K, M or G"))?;
    n.checked_mul(1 << shift)
        .filter(|&b| b > 0)
        .ok_or_else(|| format!("'{s}': a size from 1 byte to 2^64 - 1 bytes"))
}

#[cfg(test)]
mod size_tests {
    use super::parse_size;

    #[test]
    fn sizes_take_binary_suffixes_and_refuse_the_rest() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("2m"), Ok(2 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert!(parse_size("").is_err());
        assert!(parse_size("0").is_err());
        assert!(parse_size("12X").is_err());
        assert!(parse_size("99999999999G").is_err());
    }
}
