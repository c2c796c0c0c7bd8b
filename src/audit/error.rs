//! Why an audit could not be planned or a report could not be used.

use core::fmt;
use std::string::String;
use std::vec::Vec;

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
