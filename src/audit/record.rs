//! Conversions from engine and decoder types to report records.

use std::string::{String, ToString};
use std::vec::Vec;

use super::{
    CacheRecord, EntryRecord, StepRecord, SwapRecord, TouchRecord, TraceRecord, ViolationRecord,
    VmaRecord, cell_key,
};

impl From<&crate::Decoded> for EntryRecord {
    fn from(d: &crate::Decoded) -> Self {
        Self {
            raw: d.raw,
            decoded: d.to_string(),
            kind: d.kind.name().into(),
            pfn: d.pfn,
            swap: d.swap.map(|s| SwapRecord {
                ty: s.ty(),
                offset: s.offset(),
            }),
            none: d.none,
            present: d.present,
            trans_huge: d.trans_huge,
            protnone: d.protnone,
            flags: (d.kind != crate::decode::EntryKind::Swap).then(|| d.flags.to_string()),
        }
    }
}

/// The audit's lock column for a step: the kinds of lock it took, released or downgraded
/// (`pmd_lock`, `ptl`, `mmap_lock`, `page lock`), each once, as the machine recorded them.
fn lock_column(locks: &[crate::engine::locks::LockEvent]) -> Option<String> {
    let mut kinds: Vec<&str> = Vec::new();
    for e in locks {
        if !kinds.contains(&e.lock.class()) {
            kinds.push(e.lock.class());
        }
    }
    (!kinds.is_empty()).then(|| kinds.join(", "))
}

impl TraceRecord {
    /// Builds the record of a replayed trace.
    pub fn from_trace(
        trace: &crate::engine::trace::Trace,
        variant: &str,
        knobs: crate::scenario::Knobs,
        cx: &crate::engine::explore::Counterexample,
    ) -> Self {
        let backend = trace.arch.name();
        let steps = trace
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| StepRecord {
                index: i + 1,
                thread: s.thread,
                thread_name: s.thread_name.into(),
                label: s.label.into(),
                lock: lock_column(&s.locks),
                locks: s.locks.iter().map(ToString::to_string).collect(),
                touched: s
                    .touched
                    .iter()
                    .map(|t| TouchRecord {
                        place: t.place(),
                        level: t.before.level.name().into(),
                        written: t.written(),
                        before: (&t.before).into(),
                        after: (&t.after).into(),
                    })
                    .collect(),
                vmas: s
                    .vmas
                    .iter()
                    .map(|v| VmaRecord {
                        place: v.place(),
                        before: v.before.to_string(),
                        after: v.after.to_string(),
                    })
                    .collect(),
                cache: s
                    .cache
                    .iter()
                    .map(|c| CacheRecord {
                        place: c.place(),
                        before: c.before_text(),
                        after: c.after_text(),
                    })
                    .collect(),
                violated: s.violated.map(|(id, what)| ViolationRecord {
                    invariant: id.id().into(),
                    what: what.into(),
                }),
            })
            .collect();
        Self {
            id: cell_key(&trace.scenario, backend, variant),
            scenario: trace.scenario.clone(),
            backend: backend.into(),
            variant: variant.into(),
            knobs,
            invariant: cx.invariant.id().into(),
            what: cx.what.into(),
            schedule: cx.schedule.clone(),
            wait_cycle: cx.wait_cycle.clone(),
            wait_locks: cx.wait_for.iter().map(ToString::to_string).collect(),
            threads: trace.threads.iter().map(|&t| t.into()).collect(),
            steps,
        }
    }
}
