//! Formatting shared by the renderers and the CLI: counts, sizes, yes/no, aligned pipe
//! tables, and serde for raw words as `0x` hex strings.

use core::fmt;
use std::string::String;
use std::vec::Vec;

/// Serde for a raw word as a `0x` hex string (JSON numbers lose bits above 2^53 in many
/// readers).
pub mod hex {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::string::String;

    /// Writes the word as a `0x` hex string.
    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&std::format!("{v:#x}"))
    }

    /// Reads a `0x` hex string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).map_err(serde::de::Error::custom)
    }

    /// Parses a `0x` hex string.
    pub fn parse(s: &str) -> Result<u64, String> {
        let digits = s
            .strip_prefix("0x")
            .ok_or_else(|| std::format!("'{s}' is not a 0x hex number"))?;
        u64::from_str_radix(digits, 16).map_err(|e| std::format!("'{s}': {e}"))
    }
}

/// Serde for an optional raw word as a `0x` hex string or null.
pub mod hex_opt {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::string::String;

    /// Writes the word as a `0x` hex string, or null.
    pub fn serialize<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => super::hex::serialize(v, s),
            None => s.serialize_none(),
        }
    }

    /// Reads a `0x` hex string or null.
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

/// Formats a size in bytes with a binary unit: `4 KiB`, `2 MiB`, `16 MiB`, `1 GiB`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes;
    let mut unit = 0;
    while unit + 1 < UNITS.len() && v >= 1024 && v % 1024 == 0 {
        v /= 1024;
        unit += 1;
    }
    std::format!("{v} {}", UNITS[unit])
}

/// Returns `yes` or `no`.
pub const fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// Writes a markdown pipe table with every column padded to its widest cell, so it reads as
/// an aligned table in a terminal and renders as a table in markdown.
pub fn pipe_table<W: fmt::Write + ?Sized, H: AsRef<str>>(
    out: &mut W,
    header: &[H],
    rows: &[Vec<String>],
) -> fmt::Result {
    let mut widths: Vec<usize> = header.iter().map(|h| h.as_ref().chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |out: &mut W, cells: &mut dyn Iterator<Item = &str>| -> fmt::Result {
        out.write_char('|')?;
        for (cell, w) in cells.zip(&widths) {
            write!(out, " {cell:<w$} |")?;
        }
        out.write_char('\n')
    };
    line(out, &mut header.iter().map(AsRef::as_ref))?;
    out.write_char('|')?;
    for w in &widths {
        write!(out, "{}|", "-".repeat(w + 2))?;
    }
    out.write_char('\n')?;
    for row in rows {
        line(out, &mut row.iter().map(String::as_str))?;
    }
    Ok(())
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

    #[test]
    fn sizes_use_the_largest_exact_binary_unit() {
        assert_eq!(format_size(4096), "4 KiB");
        assert_eq!(format_size(2 << 20), "2 MiB");
        assert_eq!(format_size(1 << 30), "1 GiB");
        assert_eq!(format_size(1536), "1536 B");
    }

    #[test]
    fn pipe_tables_pad_every_column_to_its_widest_cell() {
        let mut out = String::new();
        let rows = std::vec![std::vec!["abc".into(), "d".into()]];
        pipe_table(&mut out, &["x", "long"], &rows).unwrap();
        assert_eq!(out, "| x   | long |\n|-----|------|\n| abc | d    |\n");
    }
}
