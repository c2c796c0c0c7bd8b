//! The encoding table: every backend's entry word, empty entries and what `pmdp_invalidate`
//! does to a huge pmd, side by side (what `pgtable arches` prints and the report embeds).

use core::fmt;
use std::string::{String, ToString};
use std::vec::Vec;

use serde::{Deserialize, Serialize};

use super::Encodings;
use super::format::{format_size, hex, pipe_table, yes_no};
use crate::arch::DynBackend;

/// One backend's row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchRow {
    /// The backend's name, as `decode` takes it.
    pub name: String,
    /// Width of the entry word.
    pub word_bits: u32,
    /// `pte_clear`'s value at address 0.
    #[serde(with = "hex")]
    pub empty_pte: u64,
    /// Whether `pte_clear`'s value changes with the address (nios2).
    pub empty_pte_depends_on_addr: bool,
    /// `pmd_clear`'s value.
    #[serde(with = "hex")]
    pub empty_pmd: u64,
    /// Whether the backend has transparent huge pages at the pmd level.
    pub thp: bool,
    /// Bytes one huge pmd maps, where `thp`.
    pub huge_size: Option<u64>,
    /// What `pmdp_invalidate` does to a present read-write huge pmd, where `thp`.
    pub invalidate: Option<Invalidate>,
}

/// A present huge pmd before and after `pmdp_invalidate`, and how the helpers read the result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invalidate {
    /// The huge pmd.
    #[serde(with = "hex")]
    pub before: u64,
    /// What `pmdp_invalidate` stored.
    #[serde(with = "hex")]
    pub after: u64,
    /// `pmd_present(after)`.
    pub present: bool,
    /// `pmd_none(after)`.
    pub none: bool,
    /// `pmd_trans_huge(after)`.
    pub trans_huge: bool,
}

/// Backends side by side, in the order given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncodingTable {
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

impl ArchRow {
    /// Reads one backend's row off its helpers.
    pub fn of(b: &dyn DynBackend) -> Self {
        let g = b.geometry();
        let empty_pte = b.empty_pte(0);
        ArchRow {
            name: b.id().name().into(),
            word_bits: b.word_bits(),
            empty_pte,
            empty_pte_depends_on_addr: sample_addrs(g.page_shift, b.word_bits())
                .any(|a| b.empty_pte(a) != empty_pte),
            empty_pmd: b.empty_pmd(),
            thp: g.has_thp,
            huge_size: g.has_thp.then(|| g.pmd_size()),
            invalidate: b.invalidate_effect().map(|e| Invalidate {
                before: e.before,
                after: e.after,
                present: e.present,
                none: e.none,
                trans_huge: e.trans_huge,
            }),
        }
    }
}

impl EncodingTable {
    /// The table of the given backends.
    pub fn of(backends: &[&dyn DynBackend]) -> Self {
        Self {
            backends: backends.iter().map(|b| ArchRow::of(*b)).collect(),
        }
    }

    /// The table of every enabled backend, in registry order.
    pub fn enabled() -> Self {
        Self::of(crate::arch::BACKENDS)
    }

    /// The form a report embeds: the text table and the rows.
    pub fn into_encodings(self) -> Encodings {
        Encodings {
            table: self.to_string(),
            backends: self.backends,
        }
    }
}

impl Encodings {
    /// The encoding table of the given backends, as a report embeds it.
    pub fn of(backends: &[&dyn DynBackend]) -> Self {
        EncodingTable::of(backends).into_encodings()
    }
}

const ADDR_MARK: &str = "¹";

impl fmt::Display for EncodingTable {
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
                std::vec![
                    r.name.clone(),
                    r.word_bits.to_string(),
                    std::format!("{:#x}{mark}", r.empty_pte),
                    std::format!("{:#x}", r.empty_pmd),
                    match r.huge_size {
                        Some(size) if r.thp => std::format!("yes, {}", format_size(size)),
                        _ => "no".to_string(),
                    },
                    match &r.invalidate {
                        Some(i) => std::format!(
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
        pipe_table(f, &header, &rows)?;
        if self.backends.iter().any(|r| r.empty_pte_depends_on_addr) {
            writeln!(
                f,
                "\n{ADDR_MARK} At address 0: this backend's empty pte (what `pte_clear` stores) depends on the address."
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, depends: bool, thp: bool) -> ArchRow {
        ArchRow {
            name: name.into(),
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
        let table = EncodingTable {
            backends: std::vec![row("a", true, false), row("b", false, true)],
        };
        let text = table.to_string();
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
        let table = EncodingTable {
            backends: std::vec![row("b", false, true)],
        };
        assert_eq!(table.to_string().lines().count(), 3);
    }

    #[test]
    fn every_enabled_backend_gets_a_row_in_registry_order() {
        let table = EncodingTable::enabled();
        let names: Vec<&str> = table.backends.iter().map(|r| r.name.as_str()).collect();
        let registry: Vec<&str> = crate::arch::BACKENDS
            .iter()
            .map(|b| b.id().name())
            .collect();
        assert_eq!(names, registry);
    }

    #[test]
    fn rows_round_trip_through_json_with_hex_words() {
        let table = EncodingTable {
            backends: std::vec![row("a", true, true)],
        };
        let json = serde_json::to_string(&table).unwrap();
        assert!(json.contains(r#""empty_pte":"0x1c""#), "{json}");
        assert_eq!(serde_json::from_str::<EncodingTable>(&json).unwrap(), table);
    }
}
