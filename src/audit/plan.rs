//! What an audit runs: the cells of scenario × backend × variant a selection leaves, the
//! state bound, and the test-only mutations of the fixed code.

use std::string::{String, ToString};
use std::vec::Vec;

use crate::arch::{self, DynBackend};
use crate::engine::explore::Options;
use crate::scenario::{CATALOGUE, Entry, Expectation, Knobs};

use super::{AuditError, Encodings};

/// A deliberate bug in the fixed code, for testing that the audit reports a failure (hidden
/// from `--help`: `pgtable audit --mutate NAME`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mutation {
    /// The split skips the TLB flush after `pmdp_invalidate`.
    SplitSkipsTlbFlush,
    /// `zap_huge_pmd` runs without the pmd lock.
    ZapHugeUnlocked,
    /// The huge fault frees its preallocated table instead of depositing it.
    FaultFreesDeposit,
    /// munmap drops the write lock and takes the read lock instead of `downgrade_write`
    /// (race 003: INV-003-RWSEM).
    MunmapDowngradeByUnlock,
    /// The three-phase munmap's fault path forgets the `VM_DEAD` check (race 003
    /// `vm-dead`: INV-003-INVISIBLE).
    FaultIgnoresVmDead,
    /// The file fault allocates its table under the page lock (race 000-B: INV-000-NOALLOC).
    FaultAllocatesUnderPageLock,
    /// `write()` never faults its buffer in, before the copy or after a short one (race
    /// 001-B: INV-001-PROGRESS).
    WriteSkipsFaultIn,
    /// `filemap_fault` skips its recheck under the page lock (race 001-A:
    /// INV-001-NOORPHAN).
    FaultSkipsMappingRecheck,
    /// v6.12's copy runs with page faults enabled under the folio lock (race 001-B:
    /// INV-001-LOCKORDER, and the deadlocks).
    WriteCopyFaults,
    /// v6.12's `write_end` commits the whole length after a short copy (race 001-B:
    /// INV-001-NOTORN).
    WriteCommitsShortCopy,
    /// v6.12's `do_set_pmd` does not recheck `pmd_none` under the pmd lock (race 000-A:
    /// INV-NONTERMINAL).
    DoSetPmdSkipsRecheck,
    /// v6.12's `collapse_file` skips the `userfaultfd_missing` check (race 004:
    /// INV-004-UFFD).
    CollapseSkipsUffdCheck,
    /// v6.12's `collapse_file` rolls back without clearing its retry entries (race 004:
    /// INV-004-XA).
    CollapseRollbackKeepsRetry,
    /// v6.12's `try_to_migrate_one` shares the page before it clears the pte (`pin-migrate`:
    /// INV-PIN-EXCLUSIVE).
    MigrateSharesBeforeClear,
    /// v6.12's `pin_user_pages_fast` without its `write_protect_seq` sample and recheck
    /// (`fork-pin`: INV-PIN-EXCLUSIVE).
    GupFastSkipsWriteProtectSeq,
    /// v6.12's fork shares a pinned page (`folio_try_dup_anon_rmap_pte` without
    /// `folio_needs_cow_for_dma`; `fork-pin`: INV-PIN-EXCLUSIVE).
    ForkIgnoresPins,
}

impl Mutation {
    /// Every mutation.
    pub const ALL: [Mutation; 16] = [
        Mutation::SplitSkipsTlbFlush,
        Mutation::ZapHugeUnlocked,
        Mutation::FaultFreesDeposit,
        Mutation::MunmapDowngradeByUnlock,
        Mutation::FaultIgnoresVmDead,
        Mutation::FaultAllocatesUnderPageLock,
        Mutation::WriteSkipsFaultIn,
        Mutation::FaultSkipsMappingRecheck,
        Mutation::WriteCopyFaults,
        Mutation::WriteCommitsShortCopy,
        Mutation::DoSetPmdSkipsRecheck,
        Mutation::CollapseSkipsUffdCheck,
        Mutation::CollapseRollbackKeepsRetry,
        Mutation::MigrateSharesBeforeClear,
        Mutation::GupFastSkipsWriteProtectSeq,
        Mutation::ForkIgnoresPins,
    ];

    /// Returns the name the command line takes.
    pub const fn name(self) -> &'static str {
        match self {
            Mutation::SplitSkipsTlbFlush => "split-skips-tlb-flush",
            Mutation::ZapHugeUnlocked => "zap-huge-unlocked",
            Mutation::FaultFreesDeposit => "fault-frees-deposit",
            Mutation::MunmapDowngradeByUnlock => "munmap-downgrade-by-unlock",
            Mutation::FaultIgnoresVmDead => "fault-ignores-vm-dead",
            Mutation::FaultAllocatesUnderPageLock => "fault-allocates-under-page-lock",
            Mutation::WriteSkipsFaultIn => "write-skips-fault-in",
            Mutation::FaultSkipsMappingRecheck => "fault-skips-mapping-recheck",
            Mutation::WriteCopyFaults => "write-copy-faults",
            Mutation::WriteCommitsShortCopy => "write-commits-short-copy",
            Mutation::DoSetPmdSkipsRecheck => "do-set-pmd-skips-recheck",
            Mutation::CollapseSkipsUffdCheck => "collapse-skips-uffd-check",
            Mutation::CollapseRollbackKeepsRetry => "collapse-rollback-keeps-retry",
            Mutation::MigrateSharesBeforeClear => "migrate-shares-before-clear",
            Mutation::GupFastSkipsWriteProtectSeq => "gup-fast-skips-write-protect-seq",
            Mutation::ForkIgnoresPins => "fork-ignores-pins",
        }
    }

    /// Returns the mutation called `name`.
    pub fn from_name(name: &str) -> Option<Mutation> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Returns `knobs` with this mutation switched on.
    pub const fn apply(self, knobs: Knobs) -> Knobs {
        match self {
            Mutation::SplitSkipsTlbFlush => Knobs {
                split_skips_tlb_flush: true,
                ..knobs
            },
            Mutation::ZapHugeUnlocked => Knobs {
                zap_huge_unlocked: true,
                ..knobs
            },
            Mutation::FaultFreesDeposit => Knobs {
                fault_frees_deposit: true,
                ..knobs
            },
            Mutation::MunmapDowngradeByUnlock => Knobs {
                munmap_downgrade_by_unlock: true,
                ..knobs
            },
            Mutation::FaultIgnoresVmDead => Knobs {
                fault_ignores_vm_dead: true,
                ..knobs
            },
            Mutation::FaultAllocatesUnderPageLock => Knobs {
                fault_allocates_under_page_lock: true,
                ..knobs
            },
            Mutation::WriteSkipsFaultIn => Knobs {
                write_skips_fault_in: true,
                ..knobs
            },
            Mutation::FaultSkipsMappingRecheck => Knobs {
                fault_skips_mapping_recheck: true,
                ..knobs
            },
            Mutation::WriteCopyFaults => Knobs {
                write_copy_faults: true,
                ..knobs
            },
            Mutation::WriteCommitsShortCopy => Knobs {
                write_commits_short_copy: true,
                ..knobs
            },
            Mutation::DoSetPmdSkipsRecheck => Knobs {
                do_set_pmd_skips_recheck: true,
                ..knobs
            },
            Mutation::CollapseSkipsUffdCheck => Knobs {
                collapse_skips_uffd_check: true,
                ..knobs
            },
            Mutation::CollapseRollbackKeepsRetry => Knobs {
                collapse_rollback_keeps_retry: true,
                ..knobs
            },
            Mutation::MigrateSharesBeforeClear => Knobs {
                migrate_shares_before_clear: true,
                ..knobs
            },
            Mutation::GupFastSkipsWriteProtectSeq => Knobs {
                gup_fast_skips_write_protect_seq: true,
                ..knobs
            },
            Mutation::ForkIgnoresPins => Knobs {
                fork_ignores_pins: true,
                ..knobs
            },
        }
    }
}

/// One cell to run.
#[derive(Clone, Copy)]
pub struct CellSpec {
    /// The backend.
    pub backend: &'static dyn DynBackend,
    /// The catalogue entry.
    pub entry: &'static Entry,
    /// The variant.
    pub variant: &'static str,
}

/// The selection an audit runs. [`Plan::new`] selects everything.
#[derive(Clone)]
pub struct Plan {
    /// Backends, in registry order.
    pub backends: Vec<&'static dyn DynBackend>,
    /// Scenarios, in catalogue order.
    pub scenarios: Vec<&'static Entry>,
    /// Variants to run (empty: every variant of each scenario).
    pub variants: Vec<&'static str>,
    /// Mutations of the fixed code (tests only).
    pub mutations: Vec<Mutation>,
    /// The explorer's state bound per cell.
    pub max_states: u64,
    /// The explorer's memory bound per cell, in bytes (`None`: none).
    pub max_memory: Option<u64>,
    /// The encoding table to carry into the report (the CLI passes `pgtable arches`).
    pub encodings: Option<Encodings>,
    /// Bound the laws' flag-subset enumeration to this many subsets (tests only; `None`: the
    /// laws' own default, as `DynBackend::laws` runs them).
    pub law_flag_subsets: Option<u64>,
}

impl Default for Plan {
    fn default() -> Self {
        Self::new()
    }
}

/// Every variant of the catalogue, deduplicated, in first-seen order.
pub fn all_variants() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for e in CATALOGUE {
        for &v in e.variants {
            if !out.contains(&v) {
                out.push(v);
            }
        }
    }
    out
}

/// Returns whether some catalogue scenario, in some variant, expects a historical bug on `b`.
pub fn is_historical(b: &dyn DynBackend) -> bool {
    CATALOGUE.iter().any(|e| {
        e.variants
            .iter()
            .any(|v| matches!((e.expect)(b, v), Expectation::Violation(_)))
    })
}

fn names<T>(items: impl IntoIterator<Item = T>, name: impl Fn(T) -> &'static str) -> Vec<String> {
    items.into_iter().map(|i| name(i).to_string()).collect()
}

impl Plan {
    /// Selects every enabled backend, every catalogue scenario and variant, no mutation, and
    /// the explorer's default state bound.
    pub fn new() -> Self {
        Self {
            backends: arch::BACKENDS.to_vec(),
            scenarios: CATALOGUE.iter().collect(),
            variants: Vec::new(),
            mutations: Vec::new(),
            max_states: Options::default().max_states,
            max_memory: None,
            encodings: None,
            law_flag_subsets: None,
        }
    }

    /// Keeps only the backends named (all when `names` is empty), in registry order.
    ///
    /// # Errors
    /// [`AuditError::UnknownArch`] for a name that is not an enabled backend.
    pub fn arches<S: AsRef<str>>(mut self, selected: &[S]) -> Result<Self, AuditError> {
        if let Some(bad) = selected
            .iter()
            .find(|n| !arch::BACKENDS.iter().any(|b| b.id().name() == n.as_ref()))
        {
            return Err(AuditError::UnknownArch {
                name: bad.as_ref().into(),
                known: names(arch::BACKENDS.iter(), |b| b.id().name()),
            });
        }
        if !selected.is_empty() {
            self.backends = arch::BACKENDS
                .iter()
                .copied()
                .filter(|b| selected.iter().any(|n| n.as_ref() == b.id().name()))
                .collect();
        }
        Ok(self)
    }

    /// Keeps only the scenarios named (all when `ids` is empty), in catalogue order.
    ///
    /// # Errors
    /// [`AuditError::UnknownScenario`] for an id not in the catalogue.
    pub fn scenarios<S: AsRef<str>>(mut self, ids: &[S]) -> Result<Self, AuditError> {
        if let Some(bad) = ids
            .iter()
            .find(|i| !CATALOGUE.iter().any(|e| e.id == i.as_ref()))
        {
            return Err(AuditError::UnknownScenario {
                id: bad.as_ref().into(),
                known: names(CATALOGUE.iter(), |e| e.id),
            });
        }
        if !ids.is_empty() {
            self.scenarios = CATALOGUE
                .iter()
                .filter(|e| ids.iter().any(|i| i.as_ref() == e.id))
                .collect();
        }
        Ok(self)
    }

    /// Keeps only these variants (all when `variants` is empty).
    ///
    /// # Errors
    /// [`AuditError::UnknownVariant`] for a variant no catalogue scenario has.
    pub fn variants<S: AsRef<str>>(mut self, variants: &[S]) -> Result<Self, AuditError> {
        let known = all_variants();
        let mut chosen = Vec::new();
        for v in variants {
            let Some(&k) = known.iter().find(|k| **k == v.as_ref()) else {
                return Err(AuditError::UnknownVariant {
                    variant: v.as_ref().into(),
                    known: names(known.iter(), |k| k),
                });
            };
            if !chosen.contains(&k) {
                chosen.push(k);
            }
        }
        self.variants = chosen;
        Ok(self)
    }

    /// Sets the mutations of the fixed code.
    pub fn mutations(mut self, mutations: &[Mutation]) -> Self {
        let mut m = mutations.to_vec();
        m.sort();
        m.dedup();
        self.mutations = m;
        self
    }

    /// Sets the explorer's state bound per cell.
    pub fn max_states(mut self, max_states: u64) -> Self {
        self.max_states = max_states;
        self
    }

    /// Sets the explorer's memory bound per cell, in bytes.
    pub fn max_memory(mut self, bytes: Option<u64>) -> Self {
        self.max_memory = bytes;
        self
    }

    /// Bounds the laws' flag-subset enumeration (tests only: a faster, less thorough check).
    pub fn law_flag_subsets(mut self, subsets: Option<u64>) -> Self {
        self.law_flag_subsets = subsets;
        self
    }

    /// Carries the encoding table into the report.
    pub fn encodings(mut self, encodings: Encodings) -> Self {
        self.encodings = Some(encodings);
        self
    }

    /// Returns the scenario knobs: the defaults with the mutations applied.
    pub fn knobs(&self) -> Knobs {
        self.mutations
            .iter()
            .fold(Knobs::default(), |k, m| m.apply(k))
    }

    /// Returns the variants of `entry` this plan runs.
    pub fn variants_of(&self, entry: &Entry) -> Vec<&'static str> {
        entry
            .variants
            .iter()
            .copied()
            .filter(|v| self.variants.is_empty() || self.variants.contains(v))
            .collect()
    }

    /// Returns the cells, sorted by backend (registry order), scenario (catalogue order),
    /// then variant.
    pub fn cells(&self) -> Vec<CellSpec> {
        let mut cells = Vec::new();
        for &backend in &self.backends {
            for &entry in &self.scenarios {
                for variant in self.variants_of(entry) {
                    cells.push(CellSpec {
                        backend,
                        entry,
                        variant,
                    });
                }
            }
        }
        cells
    }

    /// Checks that the selection leaves at least one cell.
    ///
    /// # Errors
    /// [`AuditError::NothingSelected`].
    pub fn check(&self) -> Result<(), AuditError> {
        if self.cells().is_empty() {
            return Err(AuditError::NothingSelected);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_plan_runs_every_backend_scenario_and_variant() {
        let plan = Plan::new();
        let per_backend: usize = CATALOGUE.iter().map(|e| e.variants.len()).sum();
        assert_eq!(plan.cells().len(), arch::BACKENDS.len() * per_backend);
        assert_eq!(plan.knobs(), Knobs::default());
    }

    // Unknown names are refused with the valid ones listed.
    #[test]
    fn unknown_names_list_the_known_ones() {
        let e = Plan::new().arches(&["vax"]).err().unwrap();
        let msg = e.to_string();
        assert!(
            msg.starts_with("unknown architecture 'vax'; enabled: "),
            "{msg}"
        );
        for b in arch::BACKENDS {
            assert!(msg.contains(b.id().name()), "{msg}");
        }
        let msg = Plan::new()
            .scenarios(&["race-999"])
            .err()
            .unwrap()
            .to_string();
        assert!(
            msg.contains("race-999") && msg.contains(CATALOGUE[0].id),
            "{msg}"
        );
        let msg = Plan::new().variants(&["v0.1"]).err().unwrap().to_string();
        assert!(
            msg.contains("v0.1") && msg.contains(CATALOGUE[0].variants[0]),
            "{msg}"
        );
    }

    // The selection keeps registry and catalogue order whatever the order asked.
    #[test]
    fn selections_keep_registry_order() {
        let all: Vec<&str> = arch::BACKENDS.iter().map(|b| b.id().name()).collect();
        let mut reversed = all.clone();
        reversed.reverse();
        let plan = Plan::new().arches(&reversed).unwrap();
        let got: Vec<&str> = plan.backends.iter().map(|b| b.id().name()).collect();
        assert_eq!(got, all);
    }

    #[test]
    fn mutations_switch_on_their_knob() {
        let plan = Plan::new().mutations(&[Mutation::SplitSkipsTlbFlush]);
        assert!(plan.knobs().split_skips_tlb_flush);
        assert!(!plan.knobs().zap_huge_unlocked);
        for m in Mutation::ALL {
            assert_eq!(Mutation::from_name(m.name()), Some(m));
            assert_ne!(m.apply(Knobs::default()), Knobs::default());
        }
    }
}
