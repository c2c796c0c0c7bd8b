//! `pgtable arches`: the enabled backends side by side ([`pgtable::audit::EncodingTable`]).

use clap::Args;

use pgtable::audit::EncodingTable;

use super::{CliError, Report};

/// Arguments of `pgtable arches` (none yet besides the global `--json`).
#[derive(Args, Debug)]
pub struct ArchesArgs {}

/// Runs `pgtable arches`.
///
/// # Errors
/// None today; the signature is every subcommand's.
pub fn run(_args: &ArchesArgs) -> Result<EncodingTable, CliError> {
    Ok(EncodingTable::enabled())
}

impl Report for EncodingTable {}
