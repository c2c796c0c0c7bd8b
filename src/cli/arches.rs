//! `pgtable arches`: the enabled backends side by side.

use std::fmt;

use clap::Args;
use serde::Serialize;

use pgtable::arch::{self, DynBackend};

use super::{CliError, Report, format_size, hex, write_pipe_table};

/// Arguments of `pgtable arches` (none yet besides the global `--json`).
#[derive(Args, Debug)]
pub struct ArchesArgs {}

/// One backend's row.
#[derive(Serialize, Debug)]
pub struct ArchRow {
    /// The backend's name, as `decode` takes it.
    pub name: &'static str,
    /// Width of the entry word.
    pub word_bits: u32,
    /// `pte_clear`'s value at address 0.
    #[serde(serialize_with = "hex")]
    pub empty_pte: u64,
    /// Whether `pte_clear`'s value changes with the address (nios2).
    pub empty_pte_depends_on_addr: bool,
    /// `pmd_clear`'s value.
    #[serde(serialize_with = "hex")]
    pub empty_pmd: u64,
    /// Whether the backend has transparent huge pages at the pmd level.
    pub thp: bool,
    /// Bytes one huge pmd maps, where `thp`.
    pub huge_size: Option<u64>,
    /// What `pmdp_invalidate` does to a present read-write huge pmd, where `thp`.
    pub invalidate: Option<Invalidate>,
}

/// A present huge pmd before and after `pmdp_invalidate`, and how the helpers read the result.
#[derive(Serialize, Debug)]
pub struct Invalidate {
    /// The huge pmd.
    #[serde(serialize_with = "hex")]
    pub before: u64,
    /// What `pmdp_invalidate` stored.
    #[serde(serialize_with = "hex")]
    pub after: u64,
    /// `pmd_present(after)`.
    pub present: bool,
    /// `pmd_none(after)`.
    pub none: bool,
    /// `pmd_trans_huge(after)`.
    pub trans_huge: bool,
}

/// Every enabled backend, in registry order.
#[derive(Serialize, Debug)]
pub struct ArchesReport {
    /// The rows.
    pub backends: Vec<ArchRow>,
}

/// Addresses at which the empty pte is sampled to tell whether it depends on the address:
/// each address bit from the page index up to bit 47 (31 on a 32-bit word), a few mixed
/// page addresses, and the last page.
fn sample_addrs(page_shift: u32, word_bits: u32) -> impl Iterator<Item = u64> {
    let top = word_bits.min(48);
    let page_mask = !((1u64 << page_shift) - 1);
    let last_page = (u64::MAX >> (64 - top)) & page_mask;
    (page_shift..top).map(|b| 1u64 << b).chain([
        0x1234_5678 & page_mask,
        0x8765_4321 & page_mask,
        last_page,
    ])
}

fn row(b: &dyn DynBackend) -> ArchRow {
    let g = b.geometry();
    let empty_pte = b.empty_pte(0);
    let inv = b.invalidate_effect();
    ArchRow {
        name: b.id().name(),
        word_bits: b.word_bits(),
        empty_pte,
        empty_pte_depends_on_addr: sample_addrs(g.page_shift, b.word_bits())
            .any(|a| b.empty_pte(a) != empty_pte),
        empty_pmd: b.empty_pmd(),
        thp: g.has_thp,
        huge_size: g.has_thp.then(|| g.pmd_size()),
        invalidate: inv.map(|e| Invalidate {
            before: e.before,
            after: e.after,
            present: e.present,
            none: e.none,
            trans_huge: e.trans_huge,
        }),
    }
}

/// Runs `pgtable arches`.
///
/// # Errors
/// None today; the signature is every subcommand's.
pub fn run(_args: &ArchesArgs) -> Result<ArchesReport, CliError> {
    Ok(ArchesReport {
        backends: arch::BACKENDS.iter().map(|b| row(*b)).collect(),
    })
}

const ADDR_MARK: &str = "¹";

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

impl fmt::Display for ArchesReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header = [
            "arch",
            "word bits",
            "empty pte",
            "empty pmd",
            "THP",
            "huge pmd after pmdp_invalidate",
        ];
        let rows: Vec<Vec<String>> = self
            .backends
            .iter()
            .map(|r| {
                let mark = if r.empty_pte_depends_on_addr {
                    ADDR_MARK
                } else {
                    ""
                };
                vec![
                    r.name.to_string(),
                    r.word_bits.to_string(),
                    format!("{:#x}{mark}", r.empty_pte),
                    format!("{:#x}", r.empty_pmd),
                    match r.huge_size {
                        Some(size) if r.thp => format!("yes, {}", format_size(size)),
                        _ => "no".to_string(),
                    },
                    match &r.invalidate {
                        Some(i) => format!(
                            "present={} none={} trans_huge={}",
                            yes_no(i.present),
                            yes_no(i.none),
                            yes_no(i.trans_huge)
                        ),
                        None => "-".to_string(),
                    },
                ]
            })
            .collect();
        write_pipe_table(f, &header, &rows)?;
        if self.backends.iter().any(|r| r.empty_pte_depends_on_addr) {
            writeln!(
                f,
                "\n{ADDR_MARK} At address 0: this backend's empty pte (what `pte_clear` stores) depends on the address."
            )?;
        }
        Ok(())
    }
}

impl Report for ArchesReport {}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &'static str, depends: bool, thp: bool) -> ArchRow {
        ArchRow {
            name,
            word_bits: 32,
            empty_pte: 0x1c,
            empty_pte_depends_on_addr: depends,
            empty_pmd: 0x400,
            thp,
            huge_size: thp.then_some(1 << 20),
            invalidate: thp.then_some(Invalidate {
                before: 0x1,
                after: 0x2,
                present: false,
                none: true,
                trans_huge: false,
            }),
        }
    }

    #[test]
    fn an_address_dependent_empty_pte_is_marked_and_footnoted() {
        let report = ArchesReport {
            backends: vec![row("a", true, false), row("b", false, true)],
        };
        let text = report.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[2],
            "| a    | 32        | 0x1c¹     | 0x400     | no         | -                                 |"
        );
        assert_eq!(
            lines[3],
            "| b    | 32        | 0x1c      | 0x400     | yes, 1 MiB | present=no none=yes trans_huge=no |"
        );
        assert_eq!(lines[4], "");
        assert!(lines[5].starts_with("¹ At address 0"), "{text}");
        assert_eq!(lines.len(), 6);
    }

    #[test]
    fn no_footnote_without_an_address_dependent_backend() {
        let report = ArchesReport {
            backends: vec![row("b", false, true)],
        };
        assert_eq!(report.to_string().lines().count(), 3);
    }

    #[test]
    fn every_enabled_backend_gets_a_row() {
        let report = run(&ArchesArgs {}).unwrap();
        assert_eq!(report.backends.len(), arch::BACKENDS.len());
    }
}
