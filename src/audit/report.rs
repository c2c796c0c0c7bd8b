//! The report schema (`docs/report-schema.md`): plain data, serde-serializable, read back by
//! [`Report::from_json`]. Conversions from engine types live in `record.rs`.

use std::string::{String, ToString};
use std::vec::Vec;

use serde::{Deserialize, Serialize};

use super::encodings::ArchRow;
use super::format::{hex, hex_opt};
use super::{AuditError, SCHEMA, SCHEMA_VERSION, meta};
pub use crate::laws::Verdict as LawVerdict;
use crate::scenario::Knobs;

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
    /// Reads a report from its JSON form (`report.json`), checking its schema and version.
    ///
    /// # Errors
    /// [`AuditError::BadReport`] for text that is not JSON of this schema, or of another
    /// schema version.
    pub fn from_json(text: &str) -> Result<Self, AuditError> {
        /// The fields that say what a document is, read before the rest.
        #[derive(Deserialize)]
        struct Head {
            schema: Option<String>,
            schema_version: Option<u32>,
        }
        let head: Head = serde_json::from_str(text)
            .map_err(|e| AuditError::BadReport(std::format!("not JSON: {e}")))?;
        match head.schema.as_deref() {
            Some(SCHEMA) => {}
            Some(other) => {
                return Err(AuditError::BadReport(std::format!(
                    "schema '{other}', expected '{SCHEMA}'"
                )));
            }
            None => {
                return Err(AuditError::BadReport(std::format!(
                    "no 'schema' field: not a {SCHEMA}"
                )));
            }
        }
        if head.schema_version != Some(SCHEMA_VERSION) {
            let found = head
                .schema_version
                .map_or_else(|| "none".into(), |v| v.to_string());
            return Err(AuditError::BadReport(std::format!(
                "schema version {found}, this pgtable reads version {SCHEMA_VERSION}"
            )));
        }
        serde_json::from_str(text).map_err(|e| AuditError::BadReport(e.to_string()))
    }

    /// Returns the counterexample with id `id` (`scenario/backend/variant`).
    ///
    /// # Errors
    /// [`AuditError::UnknownTrace`] listing the ids the report has.
    pub fn trace(&self, id: &str) -> Result<&TraceRecord, AuditError> {
        self.traces
            .iter()
            .find(|t| t.id == id)
            .ok_or_else(|| AuditError::UnknownTrace {
                id: id.into(),
                known: self.traces.iter().map(|t| t.id.clone()).collect(),
            })
    }

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
    /// The explorer's memory bound per cell, in bytes (null: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_memory: Option<u64>,
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
    pub verdict: LawVerdict,
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
    /// The rows: `pgtable arches --json`'s `backends` array.
    pub backends: Vec<ArchRow>,
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
            Status::Incomplete => {
                "a bound (--max-states or --max-memory) was reached before a verdict"
            }
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
    pub knobs: Knobs,
    /// The invariant broken.
    pub invariant: String,
    /// What broke.
    pub what: String,
    /// Thread index per step, from the initial state: what `pgtable replay` re-runs.
    pub schedule: Vec<u8>,
    /// For a deadlock: the threads of the wait-for cycle.
    pub wait_cycle: Vec<u8>,
    /// For a deadlock: per thread of the cycle, the lock it waits for, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wait_locks: Vec<String>,
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
    /// The kinds of lock the step took, released or downgraded (`mmap_lock`, `pmd_lock`,
    /// `ptl`, `page lock`), joined with `, `, as the machine's lock accessors recorded them.
    pub lock: Option<String>,
    /// Each lock operation, named (`takes pmd_lock(pmd[0])`, `releases mmap_lock`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locks: Vec<String>,
    /// The entries the step touched.
    pub touched: Vec<TouchRecord>,
    /// The VMAs the step changed (inserted, detached, grown, flagged).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vmas: Vec<VmaRecord>,
    /// The page-cache slots the step stored to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cache: Vec<CacheRecord>,
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

/// One VMA a step changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmaRecord {
    /// `vma<id>`.
    pub place: String,
    /// Before the step: `[start, end) FLAGS`, `detached` when out of the tree (an inserted
    /// VMA's before is `[0, 0) detached`).
    pub before: String,
    /// After the step, in the same form.
    pub after: String,
}

/// One page-cache slot a step stored to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheRecord {
    /// `xa[i]`: the file index.
    pub place: String,
    /// Before the step: `NULL`, `page 3`, `huge page 3` (a multi-index entry covers every
    /// index) or `XA_RETRY_ENTRY`.
    pub before: String,
    /// After the step, in the same form.
    pub after: String,
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

/// An entry, raw and decoded: the one record of an entry that the reports, the CLI's
/// `decode` and any other tool share.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryRecord {
    /// The raw word.
    #[serde(with = "hex")]
    pub raw: u64,
    /// The one-line decoded form (`0x... huge pfn=0x200 [PRESENT | RW | ...]`).
    pub decoded: String,
    /// The kind (`none`, `table`, `page`, `huge`, `huge-invalid`, `swap`, `bad`).
    pub kind: String,
    /// The pfn mapped or pointed to, where the kind has one (hex, like every raw value).
    #[serde(with = "hex_opt")]
    pub pfn: Option<u64>,
    /// The swap entry, for kind `swap`.
    #[serde(default)]
    pub swap: Option<SwapRecord>,
    /// `pte_none` / `pmd_none`.
    pub none: bool,
    /// `pte_present` / `pmd_present`.
    pub present: bool,
    /// Whether the pmd maps a transparent huge page (`pmd_trans_huge`; false for a pte).
    pub trans_huge: bool,
    /// A PROT_NONE mapping: `pte_protnone`; for a huge pmd `pmd_protnone` (on 32-bit ARM
    /// LPAE, `L_PMD_SECT_NONE`).
    #[serde(default)]
    pub protnone: bool,
    /// The flag bits by name (bitflags' text form; unnamed bits in hex); absent for a swap
    /// entry, whose bits are swap fields, not flags.
    #[serde(default)]
    pub flags: Option<String>,
}

/// A swap entry's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwapRecord {
    /// The swap type (`__swp_type`).
    #[serde(rename = "type")]
    pub ty: u32,
    /// The swap offset (`__swp_offset`).
    pub offset: u64,
}

impl TraceRecord {
    /// Returns the 0-based index of the step that broke the invariant: the flagged step, or
    /// for a deadlock (a state, not a step) the last one.
    pub fn violating_step(&self) -> Option<usize> {
        self.steps
            .iter()
            .position(|s| s.violated.is_some())
            .or_else(|| self.steps.len().checked_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn law_verdicts_are_written_as_reports_print_them() {
        for (v, word) in [
            (LawVerdict::Holds, "holds"),
            (LawVerdict::Violated, "VIOLATED"),
            (LawVerdict::Deviation, "deviation"),
            (LawVerdict::NotApplicable, "n/a"),
        ] {
            let json = serde_json::to_string(&v).unwrap();
            assert_eq!(json, std::format!("\"{word}\""));
            assert_eq!(serde_json::from_str::<LawVerdict>(&json).unwrap(), v);
        }
    }

    #[test]
    fn a_document_of_another_schema_or_version_is_refused_by_name() {
        let bad = |text: &str| match Report::from_json(text) {
            Err(AuditError::BadReport(why)) => why,
            other => panic!("{other:?}"),
        };
        assert!(bad("[1, 2").starts_with("not JSON: "));
        assert_eq!(bad("{}"), "no 'schema' field: not a pgtable-audit-report");
        assert_eq!(
            bad(r#"{"schema": "x"}"#),
            "schema 'x', expected 'pgtable-audit-report'"
        );
        assert_eq!(
            bad(r#"{"schema": "pgtable-audit-report", "schema_version": 99}"#),
            "schema version 99, this pgtable reads version 1"
        );
        assert!(
            bad(r#"{"schema": "pgtable-audit-report", "schema_version": 1}"#)
                .contains("missing field")
        );
    }
}
