//! `pgtable scenarios`: the catalogue, with the backends each scenario applies to and what the
//! audit expects of each.

use std::fmt;

use clap::Args;
use serde::Serialize;

use pgtable::arch;
use pgtable::scenario::{CATALOGUE, Expectation};

use super::{CliError, Report};

/// Arguments of `pgtable scenarios` (none besides the global `--json`).
#[derive(Args, Debug)]
pub struct ScenariosArgs {}

/// A backend on which a scenario does not apply, and why.
#[derive(Serialize, Debug)]
pub struct NotApplicable {
    /// The backend's name.
    pub backend: &'static str,
    /// Why.
    pub reason: &'static str,
}

/// A backend on which the historical bug must be found.
#[derive(Serialize, Debug)]
pub struct Historical {
    /// The backend's name.
    pub backend: &'static str,
    /// The invariants of which one must break.
    pub invariants: Vec<&'static str>,
}

/// What the audit expects of one variant on every enabled backend.
#[derive(Serialize, Debug)]
pub struct VariantRow {
    /// The variant.
    pub variant: &'static str,
    /// Backends where the historical bug must be found.
    pub historical: Vec<Historical>,
    /// Backends where every invariant must hold.
    pub fixed: Vec<&'static str>,
    /// Backends where it does not apply.
    pub not_applicable: Vec<NotApplicable>,
}

/// One catalogue entry.
#[derive(Serialize, Debug)]
pub struct ScenarioRow {
    /// Stable id.
    pub id: &'static str,
    /// One-line title.
    pub title: &'static str,
    /// The invariants it checks.
    pub invariants: Vec<&'static str>,
    /// Per variant, the backends it applies to.
    pub variants: Vec<VariantRow>,
}

/// The catalogue.
#[derive(Serialize, Debug)]
pub struct ScenariosReport {
    /// Every entry, in catalogue order.
    pub scenarios: Vec<ScenarioRow>,
}

/// Runs `pgtable scenarios`.
///
/// # Errors
/// None today; the signature is every subcommand's.
pub fn run(_args: &ScenariosArgs) -> Result<ScenariosReport, CliError> {
    let scenarios = CATALOGUE
        .iter()
        .map(|e| ScenarioRow {
            id: e.id,
            title: e.title,
            invariants: e.invariants.iter().map(|i| i.id()).collect(),
            variants: e
                .variants
                .iter()
                .map(|&variant| {
                    let mut row = VariantRow {
                        variant,
                        historical: Vec::new(),
                        fixed: Vec::new(),
                        not_applicable: Vec::new(),
                    };
                    for b in arch::BACKENDS {
                        let backend = b.id().name();
                        match (e.expect)(*b, variant) {
                            Expectation::Violation(ids) => row.historical.push(Historical {
                                backend,
                                invariants: ids.iter().map(|i| i.id()).collect(),
                            }),
                            Expectation::Holds => row.fixed.push(backend),
                            Expectation::NotApplicable(reason) => {
                                row.not_applicable.push(NotApplicable { backend, reason });
                            }
                        }
                    }
                    row
                })
                .collect(),
        })
        .collect();
    Ok(ScenariosReport { scenarios })
}

fn list(f: &mut fmt::Formatter<'_>, label: &str, items: &[String]) -> fmt::Result {
    if items.is_empty() {
        return Ok(());
    }
    writeln!(f, "    {label:<18} {}", items.join(", "))
}

impl fmt::Display for ScenariosReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.scenarios.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            writeln!(f, "{}  {}", s.id, s.title)?;
            writeln!(f, "  invariants: {}", s.invariants.join(", "))?;
            for v in &s.variants {
                writeln!(f, "  variant {}:", v.variant)?;
                let historical: Vec<String> = v
                    .historical
                    .iter()
                    .map(|h| format!("{} ({})", h.backend, h.invariants.join(" or ")))
                    .collect();
                list(f, "finds the bug on:", &historical)?;
                let fixed: Vec<String> = v.fixed.iter().map(|b| b.to_string()).collect();
                list(f, "must hold on:", &fixed)?;
                let na: Vec<String> = v
                    .not_applicable
                    .iter()
                    .map(|n| format!("{} ({})", n.backend, n.reason))
                    .collect();
                list(f, "does not apply:", &na)?;
            }
        }
        Ok(())
    }
}

impl Report for ScenariosReport {}

#[cfg(test)]
mod tests {
    use super::*;

    // Every enabled backend lands in exactly one list of every variant.
    #[test]
    fn each_backend_is_listed_once_per_variant() {
        let report = run(&ScenariosArgs {}).unwrap();
        assert_eq!(report.scenarios.len(), CATALOGUE.len());
        for s in &report.scenarios {
            for v in &s.variants {
                let n = v.historical.len() + v.fixed.len() + v.not_applicable.len();
                assert_eq!(n, arch::BACKENDS.len(), "{} {}", s.id, v.variant);
            }
        }
        let text = report.to_string();
        assert!(text.starts_with(CATALOGUE[0].id), "{text}");
    }
}
