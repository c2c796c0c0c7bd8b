//! The invariant audit: every catalogue scenario × backend × variant explored, each verdict
//! held against its [`Expectation`](crate::scenario::Expectation), and the result as a
//! [`Report`] with three renderings (feature `cli`).
//!
//! - [`Plan`]: which cells to run (backends, scenarios, variants, test-only mutations, the
//!   state bound); [`run()`](run::run) runs them on any number of threads and returns the
//!   [`Report`], identical whatever the number.
//! - [`Report`]: plain data, `serde`-serializable; its JSON form is `report.json`, whose schema
//!   is `docs/report-schema.md` (version [`SCHEMA_VERSION`]); [`Report::from_json`] reads one
//!   back and [`replay()`] re-runs one of its counterexamples.
//! - [`EncodingTable`]: the backends side by side (what `pgtable arches` prints).
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

pub mod encodings;
mod error;
pub mod format;
pub mod html;
pub mod markdown;
pub mod meta;
pub mod plan;
mod record;
pub mod replay;
mod report;
pub mod run;
pub mod text;

pub use encodings::{ArchRow, EncodingTable, Invalidate};
pub use error::AuditError;
pub use format::group;
pub use plan::{Mutation, Plan};
pub use replay::{ReplayReport, replay};
pub use report::*;

/// The `schema` field of every report.
pub const SCHEMA: &str = "pgtable-audit-report";
/// The version of the report schema this crate writes and reads (`docs/report-schema.md`).
pub const SCHEMA_VERSION: u32 = 1;
