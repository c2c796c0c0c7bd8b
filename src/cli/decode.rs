//! `pgtable decode <arch> [pte|pmd] <hex> [--level pte|pmd]`: what one raw entry is, as
//! Linux's helpers read it. The level matters: the same bits mean different things in a pte
//! and in a pmd (x86_64's bit 7 is PAT in a pte and PSE in a pmd).

use std::fmt;

use clap::{Args, ValueEnum};
use serde::Serialize;

use pgtable::arch;
use pgtable::audit::EntryRecord;
use pgtable::decode::Level;

use super::{CliError, Report, hex, parse_hex, yes_no};

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
    /// The level then the raw entry (`pmd 0x...`), or the raw entry alone with `--level`.
    /// Hex takes an optional `0x` prefix and `_` separators.
    #[arg(num_args = 1..=2, required = true, value_names = ["LEVEL", "VALUE"])]
    pub entry: Vec<String>,
    /// Which level the entry sits at (default pte), where the level is not given before it.
    #[arg(long, value_enum)]
    pub level: Option<LevelArg>,
    /// Virtual address the entry maps, in hex: the output then shows the empty entry at that
    /// address (what `pte_clear`/`pmd_clear` store) and whether the value is it. Only the
    /// empty pte depends on the address, and only on some backends (nios2).
    #[arg(long, value_parser = parse_hex)]
    pub addr: Option<u64>,
}

impl DecodeArgs {
    /// Returns the level and the raw value, from `<level> <hex>` or `<hex> --level <level>`.
    fn level_and_value(&self) -> Result<(LevelArg, u64), CliError> {
        let usage = |msg: String| {
            CliError::Usage(clap::Error::raw(clap::error::ErrorKind::InvalidValue, msg))
        };
        let (level, value) = match self.entry.as_slice() {
            [level, value] => {
                let positional = LevelArg::from_str(level, true).map_err(|_| {
                    usage(format!(
                        "invalid level '{level}' [possible values: pte, pmd]\n"
                    ))
                })?;
                if let Some(flag) = self.level.filter(|l| *l != positional) {
                    return Err(usage(format!(
                        "the level is given twice and differs: '{level}' and --level {}\n",
                        level_name(flag)
                    )));
                }
                (positional, value)
            }
            [value] if LevelArg::from_str(value, true).is_ok() => {
                return Err(usage(format!(
                    "the entry value is missing after '{value}': expected <level> <hex>, \
                     e.g. '{value} 0x8000000000000067'\n"
                )));
            }
            [value] => (self.level.unwrap_or(LevelArg::Pte), value),
            _ => {
                return Err(usage(
                    "expected <level> <hex> or <hex> --level <level>\n".into(),
                ));
            }
        };
        let raw = parse_hex(value).map_err(|e| usage(format!("invalid value '{value}': {e}\n")))?;
        Ok((level, raw))
    }
}

/// The level's name as typed on the command line.
fn level_name(level: LevelArg) -> &'static str {
    match level {
        LevelArg::Pte => "pte",
        LevelArg::Pmd => "pmd",
    }
}

/// One decoded entry: the library's shared [`EntryRecord`], with where it was read.
#[derive(Serialize, Debug)]
pub struct DecodeReport {
    /// The backend's name.
    pub arch: &'static str,
    /// `pte` or `pmd`.
    pub level: &'static str,
    /// The address given with `--addr`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addr: Option<Addr>,
    /// The entry.
    #[serde(flatten)]
    pub entry: EntryRecord,
}

/// The address given with `--addr` and what depends on it.
#[derive(Serialize, Debug, Clone, Copy)]
pub struct Addr {
    /// The address.
    #[serde(serialize_with = "hex")]
    pub addr: u64,
    /// The empty entry at this address and level: what `pte_clear` (or `pmd_clear`) stores.
    #[serde(serialize_with = "hex")]
    pub empty: u64,
    /// Whether the raw value is exactly that empty entry.
    pub is_empty: bool,
}

/// Runs `pgtable decode`.
///
/// # Errors
/// [`CliError::Input`] for an unknown backend name or a value wider than its entry word.
pub fn run(args: &DecodeArgs) -> Result<DecodeReport, CliError> {
    let backend = arch::lookup(&args.arch)?;
    let (level, value) = args.level_and_value()?;
    let d = backend.decode(level.into(), value, args.addr)?;
    Ok(DecodeReport {
        arch: d.arch.name(),
        level: d.level.name(),
        addr: args.addr.map(|addr| {
            let empty = match level {
                LevelArg::Pte => backend.empty_pte(addr),
                LevelArg::Pmd => backend.empty_pmd(),
            };
            Addr {
                addr,
                empty,
                is_empty: empty == value,
            }
        }),
        entry: EntryRecord::from(&d),
    })
}

impl fmt::Display for DecodeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "arch:       {}", self.arch)?;
        writeln!(f, "level:      {}", self.level)?;
        if let Some(a) = self.addr {
            writeln!(f, "addr:       {:#x}", a.addr)?;
            writeln!(
                f,
                "empty here: {:#x} ({}_clear's value at this address; this value {})",
                a.empty,
                self.level,
                if a.is_empty { "is it" } else { "is not it" }
            )?;
        }
        let e = &self.entry;
        writeln!(f, "raw:        {:#x}", e.raw)?;
        writeln!(f, "kind:       {}", e.kind)?;
        match e.pfn {
            Some(pfn) => writeln!(f, "pfn:        {pfn:#x}")?,
            None => writeln!(f, "pfn:        -")?,
        }
        match e.swap {
            Some(s) => writeln!(f, "swap:       type={} offset={:#x}", s.ty, s.offset)?,
            None => writeln!(f, "swap:       -")?,
        }
        writeln!(f, "none:       {}", yes_no(e.none))?;
        writeln!(f, "present:    {}", yes_no(e.present))?;
        writeln!(f, "trans_huge: {}", yes_no(e.trans_huge))?;
        writeln!(f, "protnone:   {}", yes_no(e.protnone))?;
        writeln!(f, "flags:      {}", e.flags.as_deref().unwrap_or("-"))
    }
}

impl Report for DecodeReport {}
