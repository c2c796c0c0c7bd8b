//! The invariant audit: every catalogue scenario × backend × variant explored, each verdict
//! held against its [`Expectation`](crate::scenario::Expectation), and the result as a
//! [`Report`] with three renderings (feature `cli`).
//!
//! - [`Plan`]: which cells to run (backends, scenarios, variants, test-only mutations, the
//!   state bound); [`run()`](run::run) runs them on any number of threads and returns the
//!   [`Report`], identical whatever the number.
//! - [`Report`]: plain data, `serde`-serializable; its JSON form is `report.json`, whose schema
//!   is `docs/report-schema.md` (version [`SCHEMA_VERSION`]).
//! - [`text::summary`] (the terminal), [`markdown::render`] (`report.md`) and
//!   [`html::render`] (`report.html`, one self-contained file with a sequence diagram per
//!   counterexample).
//!
//! # Example
//! ```
//! # #[cfg(feature = "x86_64")] {
//! use pgtable::audit::{Plan, run::run};
//!
//! let plan = Plan::new().arches(&["x86_64"])?;
//! let report = run(&plan, 1, &|_| {});
//! assert!(report.summary.passed);
//! assert!(report.cells.iter().all(|c| c.met));
//! # }
//! # Ok::<(), pgtable::audit::AuditError>(())
//! ```

pub mod html;
pub mod markdown;
pub mod meta;
pub mod plan;
pub mod run;
pub mod text;

use core::fmt;
use std::string::{String, ToString};
use std::vec::Vec;

use serde::{Deserialize, Serialize};

pub use plan::{Mutation, Plan};

/// The `schema` field of every report.
pub const SCHEMA: &str = "pgtable-audit-report";
/// The version of the report schema this crate writes and reads (`docs/report-schema.md`).
pub const SCHEMA_VERSION: u32 = 1;

/// Why an audit could not be planned or a report could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuditError {
    /// A backend name that is not enabled.
    UnknownArch {
        /// The name given.
        name: String,
        /// The enabled names.
        known: Vec<String>,
    },
    /// A scenario id that is not in the catalogue.
    UnknownScenario {
        /// The id given.
        id: String,
        /// The catalogue's ids.
        known: Vec<String>,
    },
    /// A variant that no catalogue scenario has.
    UnknownVariant {
        /// The variant given.
        variant: String,
        /// Every variant of the catalogue.
        known: Vec<String>,
    },
    /// The selection leaves no cell to run.
    NothingSelected,
    /// A report that is not a pgtable audit report, or of a schema version this crate does not
    /// read.
    BadReport(String),
    /// A trace id the report does not have.
    UnknownTrace {
        /// The id given.
        id: String,
        /// The report's trace ids.
        known: Vec<String>,
    },
}

fn write_list(f: &mut fmt::Formatter<'_>, items: &[String]) -> fmt::Result {
    if items.is_empty() {
        return f.write_str("none");
    }
    f.write_str(&items.join(", "))
}

impl fmt::Display for AuditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditError::UnknownArch { name, known } => {
                write!(f, "unknown architecture '{name}'; enabled: ")?;
                write_list(f, known)
            }
            AuditError::UnknownScenario { id, known } => {
                write!(f, "unknown scenario '{id}'; known: ")?;
                write_list(f, known)
            }
            AuditError::UnknownVariant { variant, known } => {
                write!(f, "unknown variant '{variant}'; known: ")?;
                write_list(f, known)
            }
            AuditError::NothingSelected => f.write_str(
                "no scenario has the selected variant; see 'pgtable scenarios' for each one's variants",
            ),
            AuditError::BadReport(why) => write!(f, "not a usable audit report: {why}"),
            AuditError::UnknownTrace { id, known } => {
                write!(f, "the report has no trace '{id}'; it has: ")?;
                write_list(f, known)
            }
        }
    }
}

impl std::error::Error for AuditError {}

/// One audit: what ran, on what, and every result.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// [`SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// Tool, commit, date and host.
    pub meta: meta::Meta,
    /// The selection the audit ran.
    pub options: RunOptions,
    /// Counts and the overall result.
    pub summary: Summary,
    /// The catalogue entries that ran.
    pub scenarios: Vec<ScenarioInfo>,
    /// Every invariant a cell checked, with its statement.
    pub invariants: Vec<Statement>,
    /// Every law, with its statement.
    pub laws: Vec<Statement>,
    /// The backends that ran, with their law results.
    pub backends: Vec<BackendInfo>,
    /// The encoding table (`pgtable arches`), when the caller supplied it.
    pub encodings: Option<Encodings>,
    /// One result per (scenario, backend, variant), sorted by backend (registry order), then
    /// scenario (catalogue order), then variant.
    pub cells: Vec<Cell>,
    /// The counterexamples cells found, in cell order.
    pub traces: Vec<TraceRecord>,
}

impl Report {
    /// Removes everything that varies from one run to the next (the date and every wall
    /// time), so that two runs of the same build and selection write byte-identical reports.
    pub fn drop_timings(&mut self) {
        self.meta.date = None;
        self.summary.elapsed_ms = None;
        for cell in &mut self.cells {
            cell.elapsed_ms = None;
        }
    }
}

/// The selection an audit ran.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunOptions {
    /// Backend names.
    pub arches: Vec<String>,
    /// Scenario ids.
    pub scenarios: Vec<String>,
    /// Variants asked for (empty: every variant).
    pub variants: Vec<String>,
    /// The explorer's state bound per cell.
    pub max_states: u64,
    /// Test-only mutations of the fixed code (empty in a real audit).
    pub mutations: Vec<String>,
    /// Test-only bound on the laws' flag-subset enumeration (null in a real audit).
    #[serde(default)]
    pub law_flag_subsets: Option<u64>,
}

/// Counts and the overall result.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Cells run or judged not applicable.
    pub cells: usize,
    /// Cells whose expectation was met.
    pub met: usize,
    /// Cells whose expectation failed.
    pub failed: usize,
    /// Historical bugs found as expected.
    pub found: usize,
    /// Fixed cells that held as expected.
    pub held: usize,
    /// Cells that do not apply.
    pub not_applicable: usize,
    /// Fixed backends with an undocumented law violation (a historical backend breaking the
    /// laws its bug breaks is expected, and not listed).
    pub law_violations: Vec<String>,
    /// Whether every expectation held and every backend keeps its laws: exit status 0.
    pub passed: bool,
    /// Wall time of the whole audit, in milliseconds (none in a report made without
    /// timings, see [`Report::drop_timings`]).
    pub elapsed_ms: Option<f64>,
    /// Worker threads used.
    pub jobs: usize,
}

/// A catalogue entry as the report lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioInfo {
    /// Stable id (`race-002`).
    pub id: String,
    /// One-line title.
    pub title: String,
    /// The variants that ran.
    pub variants: Vec<String>,
    /// The invariant ids it checks.
    pub invariants: Vec<String>,
}

/// An id and its one-sentence statement (an invariant or a law).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    /// The stable id (`INV-...`, `LAW-...`).
    pub id: String,
    /// The sentence.
    pub statement: String,
}

/// A backend and its law results.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendInfo {
    /// The backend's name.
    pub name: String,
    /// Width of its entry word.
    pub word_bits: u32,
    /// Whether it has transparent huge pages at the pmd level.
    pub thp: bool,
    /// Whether some catalogue scenario expects a historical bug on it: its law violations are
    /// that bug, expected, and do not fail the audit.
    pub historical: bool,
    /// Whether every law holds, does not apply, or fails only as the backend documents.
    pub laws_clean: bool,
    /// One result per law, in law order.
    pub laws: Vec<LawRecord>,
}

/// One law on one backend.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LawRecord {
    /// The law id (`LAW-...`).
    pub law: String,
    /// `holds`, `VIOLATED`, `deviation` or `n/a`.
    pub verdict: String,
    /// Cases checked.
    pub cases: u64,
    /// The first failing case.
    pub witness: Option<Witness>,
    /// The backend's note for a documented deviation, or why the law does not apply.
    pub note: String,
}

/// A law's first failing case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Witness {
    /// The input (a pfn, an address, a raw entry or a swap offset).
    #[serde(with = "hex")]
    pub input: u64,
    /// The raw entry the helper produced.
    #[serde(with = "hex")]
    pub output: u64,
    /// What failed.
    pub what: String,
}

/// The encoding table, as `pgtable arches` prints it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Encodings {
    /// The text form: a markdown pipe table and its footnotes.
    pub table: String,
    /// The JSON form: `pgtable arches --json`'s `backends` array.
    pub backends: serde_json::Value,
}

/// What a cell was expected to show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectationRecord {
    /// `violation` (a historical bug to find), `holds` or `not-applicable`.
    pub kind: ExpectKind,
    /// For `violation`: the invariants of which one must break.
    pub invariants: Vec<String>,
    /// For `not-applicable`: why.
    pub reason: Option<String>,
}

/// The kinds of expectation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExpectKind {
    /// The historical bug must be found.
    Violation,
    /// Every reachable state must keep every invariant.
    Holds,
    /// The scenario does not apply.
    NotApplicable,
}

/// What the explorer said.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictRecord {
    /// The kind of verdict.
    pub kind: VerdictKind,
    /// The invariant broken, for `violated`.
    pub invariant: Option<String>,
    /// What broke, for `violated`; the message, for `error`.
    pub what: Option<String>,
}

/// The kinds of verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerdictKind {
    /// Every reachable state kept every invariant.
    Holds,
    /// A reachable state broke an invariant.
    Violated,
    /// The state bound was reached first.
    Incomplete,
    /// The cell does not apply and did not run.
    NotRun,
    /// The scenario could not be built or its trace not replayed.
    Error,
}

/// A verdict held against its expectation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Expected violation found (met).
    Found,
    /// Expected to hold and held (met).
    Holds,
    /// Does not apply (met).
    NotApplicable,
    /// A historical bug was not found: the explorer says it holds (failed).
    Missed,
    /// A historical cell broke an invariant other than the expected ones (failed).
    OtherViolation,
    /// A fixed cell broke an invariant (failed).
    Violated,
    /// The state bound was reached before a verdict (failed).
    Incomplete,
    /// The cell could not run (failed).
    Error,
}

impl Status {
    /// Returns whether the expectation was met.
    pub const fn met(self) -> bool {
        matches!(self, Status::Found | Status::Holds | Status::NotApplicable)
    }
    /// Returns the word the matrix shows: lower case when met, upper case when failed.
    pub const fn word(self) -> &'static str {
        match self {
            Status::Found => "found",
            Status::Holds => "holds",
            Status::NotApplicable => "n/a",
            Status::Missed => "MISSED",
            Status::OtherViolation => "OTHER",
            Status::Violated => "VIOLATED",
            Status::Incomplete => "INCOMPLETE",
            Status::Error => "ERROR",
        }
    }
    /// Returns the status as one sentence, for legends.
    pub const fn meaning(self) -> &'static str {
        match self {
            Status::Found => "the historical bug was found: an expected invariant broke",
            Status::Holds => "every reachable state keeps every invariant",
            Status::NotApplicable => "the scenario does not apply to the backend",
            Status::Missed => "the historical bug was not found: every state held",
            Status::OtherViolation => {
                "the historical variant broke an invariant other than the expected ones"
            }
            Status::Violated => "the fixed code broke an invariant",
            Status::Incomplete => "the state bound (--max-states) was reached before a verdict",
            Status::Error => "the scenario could not be built or its trace replayed",
        }
    }
    /// Every status, in legend order.
    pub const ALL: [Status; 8] = [
        Status::Found,
        Status::Holds,
        Status::NotApplicable,
        Status::Missed,
        Status::OtherViolation,
        Status::Violated,
        Status::Incomplete,
        Status::Error,
    ];
}

/// One (scenario, backend, variant) result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// Scenario id.
    pub scenario: String,
    /// Backend name.
    pub backend: String,
    /// Variant.
    pub variant: String,
    /// What was expected.
    pub expectation: ExpectationRecord,
    /// What the explorer said.
    pub verdict: VerdictRecord,
    /// The verdict against the expectation.
    pub status: Status,
    /// Whether the expectation was met.
    pub met: bool,
    /// The invariant ids checked after every step.
    pub invariants_checked: Vec<String>,
    /// `depth-first` or `breadth-first`: the search whose counts these are (none when not run).
    pub search: Option<String>,
    /// Distinct states visited.
    pub states: u64,
    /// Steps executed.
    pub transitions: u64,
    /// Longest schedule explored.
    pub max_depth: u32,
    /// Wall time of the exploration, in milliseconds (none in a report made without timings).
    pub elapsed_ms: Option<f64>,
    /// The counterexample's id in [`Report::traces`], when the explorer found one.
    pub trace: Option<String>,
}

impl Cell {
    /// Returns the cell's key: `scenario/backend/variant` (also its trace's id).
    pub fn key(&self) -> String {
        cell_key(&self.scenario, &self.backend, &self.variant)
    }
}

/// Returns the key of a cell (and the id of its trace): `scenario/backend/variant`.
pub fn cell_key(scenario: &str, backend: &str, variant: &str) -> String {
    std::format!("{scenario}/{backend}/{variant}")
}

/// The scenario knobs a trace was found with (mirrors [`crate::scenario::Knobs`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct KnobsRecord {
    /// Split without the TLB flush after `pmdp_invalidate`.
    pub split_skips_tlb_flush: bool,
    /// `zap_huge_pmd` without the pmd lock.
    pub zap_huge_unlocked: bool,
    /// The huge fault frees its preallocated table instead of depositing it.
    pub fault_frees_deposit: bool,
    /// Extra huge-mapped regions the zap also covers.
    pub extra_regions: u8,
    /// Threads kept (none: the scenario's own).
    pub threads: Option<u8>,
}

impl From<crate::scenario::Knobs> for KnobsRecord {
    fn from(k: crate::scenario::Knobs) -> Self {
        Self {
            split_skips_tlb_flush: k.split_skips_tlb_flush,
            zap_huge_unlocked: k.zap_huge_unlocked,
            fault_frees_deposit: k.fault_frees_deposit,
            extra_regions: k.extra_regions,
            threads: k.threads,
        }
    }
}

impl From<KnobsRecord> for crate::scenario::Knobs {
    #[allow(
        clippy::needless_update,
        reason = "knobs added to the engine later keep their defaults"
    )]
    fn from(k: KnobsRecord) -> Self {
        Self {
            split_skips_tlb_flush: k.split_skips_tlb_flush,
            zap_huge_unlocked: k.zap_huge_unlocked,
            fault_frees_deposit: k.fault_frees_deposit,
            extra_regions: k.extra_regions,
            threads: k.threads,
            ..Self::default()
        }
    }
}

/// A counterexample, replayed: every step with the entries it touched, raw and decoded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceRecord {
    /// `scenario/backend/variant`.
    pub id: String,
    /// Scenario id.
    pub scenario: String,
    /// Backend name.
    pub backend: String,
    /// Variant.
    pub variant: String,
    /// The knobs the scenario was built with.
    pub knobs: KnobsRecord,
    /// The invariant broken.
    pub invariant: String,
    /// What broke.
    pub what: String,
    /// Thread index per step, from the initial state: what `pgtable replay` re-runs.
    pub schedule: Vec<u8>,
    /// For a deadlock: the threads of the wait-for cycle.
    pub wait_cycle: Vec<u8>,
    /// Thread names, by index: the lanes of the sequence diagram.
    pub threads: Vec<String>,
    /// The steps.
    pub steps: Vec<StepRecord>,
}

/// One step of a trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    /// 1-based step number.
    pub index: usize,
    /// Thread index.
    pub thread: u8,
    /// Thread name.
    pub thread_name: String,
    /// The kernel function and what it did.
    pub label: String,
    /// The lock the step takes or releases, read off its label (`mmap_lock`, `pmd_lock`,
    /// `ptl`), if any.
    pub lock: Option<String>,
    /// The entries the step touched.
    pub touched: Vec<TouchRecord>,
    /// The invariant this step broke, on the violating step.
    pub violated: Option<ViolationRecord>,
}

/// An invariant broken at a step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViolationRecord {
    /// The invariant id.
    pub invariant: String,
    /// What broke.
    pub what: String,
}

/// One entry a step touched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TouchRecord {
    /// `pmd[r]` or `table<t>.pte[s]`.
    pub place: String,
    /// `pmd` or `pte`.
    pub level: String,
    /// Whether the step wrote it (else it only read it).
    pub written: bool,
    /// Before the step.
    pub before: EntryRecord,
    /// After the step.
    pub after: EntryRecord,
}

/// An entry, raw and decoded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryRecord {
    /// The raw word.
    #[serde(with = "hex")]
    pub raw: u64,
    /// The one-line decoded form (`0x... huge pfn=0x200 [PRESENT | RW | ...]`).
    pub decoded: String,
    /// The kind (`none`, `table`, `page`, `huge`, `huge-invalid`, `swap`, `bad`).
    pub kind: String,
    /// The pfn, where the kind has one.
    #[serde(with = "hex_opt")]
    pub pfn: Option<u64>,
    /// `pte_none` / `pmd_none`.
    pub none: bool,
    /// `pte_present` / `pmd_present`.
    pub present: bool,
    /// `pmd_trans_huge`.
    pub trans_huge: bool,
}

impl From<&crate::Decoded> for EntryRecord {
    fn from(d: &crate::Decoded) -> Self {
        Self {
            raw: d.raw,
            decoded: d.to_string(),
            kind: d.kind.name().into(),
            pfn: d.pfn,
            none: d.none,
            present: d.present,
            trans_huge: d.trans_huge,
        }
    }
}

impl TraceRecord {
    /// Builds the record of a replayed trace.
    pub fn from_trace(
        trace: &crate::engine::trace::Trace,
        variant: &str,
        knobs: crate::scenario::Knobs,
        cx: &crate::engine::explore::Counterexample,
    ) -> Self {
        let backend = trace.arch.name();
        let steps = trace
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| StepRecord {
                index: i + 1,
                thread: s.thread,
                thread_name: s.thread_name.into(),
                label: s.label.into(),
                lock: lock_of(s.label).map(Into::into),
                touched: s
                    .touched
                    .iter()
                    .map(|t| TouchRecord {
                        place: t.place(),
                        level: t.before.level.name().into(),
                        written: t.written(),
                        before: (&t.before).into(),
                        after: (&t.after).into(),
                    })
                    .collect(),
                violated: s.violated.map(|(id, what)| ViolationRecord {
                    invariant: id.id().into(),
                    what: what.into(),
                }),
            })
            .collect();
        Self {
            id: cell_key(&trace.scenario, backend, variant),
            scenario: trace.scenario.clone(),
            backend: backend.into(),
            variant: variant.into(),
            knobs: knobs.into(),
            invariant: cx.invariant.id().into(),
            what: cx.what.into(),
            schedule: cx.schedule.clone(),
            wait_cycle: cx.wait_cycle.clone(),
            threads: trace.threads.iter().map(|&t| t.into()).collect(),
            steps,
        }
    }

    /// Returns the 0-based index of the step that broke the invariant: the flagged step, or
    /// for a deadlock (a state, not a step) the last one.
    pub fn violating_step(&self) -> Option<usize> {
        self.steps
            .iter()
            .position(|s| s.violated.is_some())
            .or_else(|| self.steps.len().checked_sub(1))
    }
}

/// Returns the lock a step's label says it takes or releases: the label names the kernel
/// function (`mmap_read_lock`, `pmd_lock`, `spin_lock(ptl)`, `pte_offset_map_lock`, ...), matched
/// as a whole identifier (`__split_huge_pmd_locked` takes no lock of its own).
pub fn lock_of(label: &str) -> Option<&'static str> {
    const LOCKS: &[(&str, &str)] = &[
        ("mmap_read_lock", "mmap_lock"),
        ("mmap_read_unlock", "mmap_lock"),
        ("mmap_write_lock", "mmap_lock"),
        ("mmap_write_unlock", "mmap_lock"),
        ("downgrade_write", "mmap_lock"),
        ("__pmd_trans_huge_lock", "pmd_lock"),
        ("pmd_lock", "pmd_lock"),
        ("pte_offset_map_lock", "ptl"),
        ("pte_unmap_unlock", "ptl"),
        ("ptl", "ptl"),
        ("lock_page", "page lock"),
        ("folio_lock", "page lock"),
        ("unlock_page", "page lock"),
        ("folio_unlock", "page lock"),
    ];
    let words: Vec<&str> = label
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    LOCKS
        .iter()
        .find(|(name, _)| words.contains(name))
        .map(|&(_, lock)| lock)
}

/// Serde for a raw word as a `0x` hex string (JSON numbers lose bits above 2^53 in many
/// readers).
mod hex {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::string::String;

    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&std::format!("{v:#x}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).map_err(serde::de::Error::custom)
    }

    pub fn parse(s: &str) -> Result<u64, String> {
        let digits = s
            .strip_prefix("0x")
            .ok_or_else(|| std::format!("'{s}' is not a 0x hex number"))?;
        u64::from_str_radix(digits, 16).map_err(|e| std::format!("'{s}': {e}"))
    }
}

/// Serde for an optional raw word as a `0x` hex string or null.
mod hex_opt {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::string::String;

    pub fn serialize<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => super::hex::serialize(v, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(s) => super::hex::parse(&s)
                .map(Some)
                .map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}

/// Formats a count with thousands separators: `1,234,567`.
pub fn group(n: u64) -> String {
    let digits = std::format!("{n}");
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(3337), "3,337");
        assert_eq!(group(5_000_000), "5,000,000");
    }

    // The lock column reads the kernel function names the step programs use.
    #[test]
    fn locks_are_read_off_step_labels() {
        assert_eq!(lock_of("madvise: mmap_read_lock"), Some("mmap_lock"));
        assert_eq!(lock_of("__split_huge_pmd: pmd_lock"), Some("pmd_lock"));
        assert_eq!(
            lock_of("__split_huge_pmd: spin_unlock(pmd_lock)"),
            Some("pmd_lock")
        );
        assert_eq!(
            lock_of("zap_huge_pmd: __pmd_trans_huge_lock"),
            Some("pmd_lock")
        );
        assert_eq!(lock_of("zap_pte_range: spin_lock(ptl)"), Some("ptl"));
        assert_eq!(lock_of("pmdp_invalidate"), None);
        assert_eq!(
            lock_of("__split_huge_pmd_locked: pmd_trans_huge(*pmd)"),
            None
        );
    }

    #[test]
    fn only_met_statuses_are_lower_case() {
        for s in Status::ALL {
            let word = s.word();
            assert_eq!(s.met(), word == word.to_lowercase(), "{word}");
        }
    }

    #[test]
    fn hex_words_round_trip_through_json() {
        let w = Witness {
            input: u64::MAX,
            output: 0x8000_0000_0000_0067,
            what: "x".into(),
        };
        let json = serde_json::to_string(&w).unwrap();
        assert!(json.contains("\"0xffffffffffffffff\""), "{json}");
        assert_eq!(serde_json::from_str::<Witness>(&json).unwrap(), w);
    }
}
