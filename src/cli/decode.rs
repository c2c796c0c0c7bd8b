//! `pgtable decode <arch> <pte|pmd> <hex>`: what one raw entry is, as Linux's helpers read it.

use std::fmt;

use clap::{Args, ValueEnum};
use serde::Serialize;

use pgtable::arch;
use pgtable::decode::{EntryKind, Level};

use super::{CliError, Report, hex, parse_hex};

/// The level of the entry, as typed on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LevelArg {
    /// A pte (last level).
    Pte,
    /// A pmd (table pointer or huge page).
    Pmd,
}

impl From<LevelArg> for Level {
    fn from(l: LevelArg) -> Self {
        match l {
            LevelArg::Pte => Level::Pte,
            LevelArg::Pmd => Level::Pmd,
        }
    }
}

/// Arguments of `pgtable decode`.
#[derive(Args, Debug)]
pub struct DecodeArgs {
    /// Backend name, as `pgtable arches` lists them (x86_64, s390, ...).
    pub arch: String,
    /// Which level the entry sits at.
    pub level: LevelArg,
    /// The raw entry in hex (`0x` prefix optional, `_` separators allowed).
    #[arg(value_parser = parse_hex)]
    pub value: u64,
    /// Virtual address the entry maps, in hex (only matters where the empty pte depends on
    /// it, as on nios2).
    #[arg(long, value_parser = parse_hex)]
    pub addr: Option<u64>,
}

/// A swap entry's fields.
#[derive(Serialize, Debug, Clone, Copy)]
pub struct Swap {
    /// `__swp_type`.
    #[serde(rename = "type")]
    pub ty: u32,
    /// `__swp_offset`.
    pub offset: u64,
}

/// One decoded entry.
#[derive(Serialize, Debug)]
pub struct DecodeReport {
    /// The backend's name.
    pub arch: &'static str,
    /// `pte` or `pmd`.
    pub level: &'static str,
    /// The address given with `--addr`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addr: Option<Addr>,
    /// The raw entry.
    #[serde(serialize_with = "hex")]
    pub raw: u64,
    /// The classification (`none`, `table`, `page`, `huge`, `huge-invalid`, `swap`, `bad`).
    pub kind: &'static str,
    /// The pfn mapped or pointed to, where the kind has one.
    pub pfn: Option<u64>,
    /// The swap entry, for kind `swap`.
    pub swap: Option<Swap>,
    /// `pte_none` / `pmd_none`.
    pub none: bool,
    /// `pte_present` / `pmd_present`.
    pub present: bool,
    /// `pmd_trans_huge` (false for a pte).
    pub trans_huge: bool,
    /// `pte_protnone` (false for a pmd).
    pub protnone: bool,
    /// The flag bits by name (bitflags' text form; unnamed bits in hex); absent for a swap
    /// entry, whose bits are swap fields, not flags.
    pub flags: Option<String>,
}

/// An address, serialized as hex.
#[derive(Serialize, Debug, Clone, Copy)]
pub struct Addr(#[serde(serialize_with = "hex")] pub u64);

/// Runs `pgtable decode`.
///
/// # Errors
/// [`CliError::Input`] for an unknown backend name or a value wider than its entry word.
pub fn run(args: &DecodeArgs) -> Result<DecodeReport, CliError> {
    let backend = arch::lookup(&args.arch)?;
    let d = backend.decode(args.level.into(), args.value, args.addr)?;
    Ok(DecodeReport {
        arch: d.arch.name(),
        level: d.level.name(),
        addr: args.addr.map(Addr),
        raw: d.raw,
        kind: d.kind.name(),
        pfn: d.pfn,
        swap: d.swap.map(|s| Swap {
            ty: s.ty(),
            offset: s.offset(),
        }),
        none: d.none,
        present: d.present,
        trans_huge: d.trans_huge,
        protnone: d.protnone,
        flags: (d.kind != EntryKind::Swap).then(|| d.flags.to_string()),
    })
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

impl fmt::Display for DecodeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "arch:       {}", self.arch)?;
        writeln!(f, "level:      {}", self.level)?;
        if let Some(Addr(addr)) = self.addr {
            writeln!(f, "addr:       {addr:#x}")?;
        }
        writeln!(f, "raw:        {:#x}", self.raw)?;
        writeln!(f, "kind:       {}", self.kind)?;
        match self.pfn {
            Some(pfn) => writeln!(f, "pfn:        {pfn:#x}")?,
            None => writeln!(f, "pfn:        -")?,
        }
        match self.swap {
            Some(s) => writeln!(f, "swap:       type={} offset={:#x}", s.ty, s.offset)?,
            None => writeln!(f, "swap:       -")?,
        }
        writeln!(f, "none:       {}", yes_no(self.none))?;
        writeln!(f, "present:    {}", yes_no(self.present))?;
        writeln!(f, "trans_huge: {}", yes_no(self.trans_huge))?;
        writeln!(f, "protnone:   {}", yes_no(self.protnone))?;
        writeln!(f, "flags:      {}", self.flags.as_deref().unwrap_or("-"))
    }
}

impl Report for DecodeReport {}
