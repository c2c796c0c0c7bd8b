//! GUP-fast as v6.12 does it (mm/gup.c), with interrupts off: `gup_fast_pmd_range` (:3269)
//! reads the pmd once (`pmdp_get_lockless`), gives up on `!pmd_present`, routes a
//! `pmd_leaf` past `pmd_protnone` (:3286) to `gup_fast_pmd_leaf` (:3134:
//! `pmd_access_permitted`, grab the folio, recheck the pmd's raw value) and anything else to
//! `gup_fast_pte_range` (:2935), which maps the table through its *copy* of the pmd
//! (`pte_offset_map(&pmd)`), reads the pte, checks `pte_protnone`, `pte_access_permitted` and
//! `pte_special`, grabs the folio and rechecks both the pmd and the pte. Whatever it keeps is
//! handed to the caller as the page mapped at the address (INV-002-DECODE, judged when the
//! last recheck passes).
//!
//! `pmd_access_permitted` and `pte_access_permitted` are each architecture's own
//! ([`PmdOps::pmd_access_permitted`], [`crate::PteOps::pte_access_permitted`]): x86_64's
//! PRESENT|USER, arm's and arm64's valid and user bits, powerpc's user-readable entry (and
//! not a serializing pmd), and the generic `pmd_present`/`pte_present` for s390 and, for
//! pmds, 32-bit ARM LPAE (kernel-patches/0001 gives LPAE its own, which asks the valid bit).
//! GUP-fast here is a read (no `FOLL_WRITE`): `FOLL_GET` (`get_user_pages_fast`), or with
//! [`GupFast::pin`] `FOLL_PIN` (`pin_user_pages_fast`), the B1-B5 side of the protocol of
//! include/linux/rmap.h:553-571: read the entry (B1), pin (B3: `try_grab_folio_fast` raises
//! what `folio_maybe_dma_pinned` reads), recheck the entry (B4), and for an entry that is
//! not writable back off from an anonymous page that is not `PageAnonExclusive` (B5:
//! `gup_must_unshare`, mm/internal.h:1373, its own step after the recheck). A pin that
//! passes is handed to the caller ([`Machine::page_keep_pin`], judged by
//! INV-PIN-EXCLUSIVE). Around the walk, a pin samples `current->mm->write_protect_seq`
//! (`gup_fast`, :3401: an odd count, a fork write-protecting the mm, gives up at once) and,
//! after B5, `read_seqcount_retry` (:3427): a fork that ran meanwhile makes it drop the pin
//! (`gup_fast_unpin_user_pages`) instead of handing it over: fork's
//! `folio_try_dup_anon_rmap_pte` asked `folio_maybe_dma_pinned` before the pin may have
//! been taken and then shares the page, and B4 sees no change while the pte is still
//! writable. `gup_fast_folio_allowed` (:2833) lets every folio the model has
//! through: it refuses only `FOLL_LONGTERM` write pins of file folios and secretmem.
//! The memory barriers of that protocol are no step: the machine is sequentially consistent.
//!
//! Interrupts-off against a TLB-flush IPI and RCU-deferred table freeing matter only where a
//! scenario frees a table GUP-fast can reach. None does: v6.12's zap frees only the deposited
//! table of a huge pmd (never linked from a pmd), and no v6.12 program frees a linked table
//! (that is `free_pgtables` at munmap, race 003's territory).

use crate::entry::PmdOps;

use super::super::super::Tid;
use super::super::super::invariant::InvariantId;
use super::super::super::mm::Machine;
use super::super::super::program::{
    Limits, Locals, ProgramError, Step, TypedProgram, Word, program_through_typed,
};
use super::super::finish;
use super::{gup_must_unshare, in_huge_zero_folio, pte_offset_map};

/// `get_user_pages_fast` (read) of one page at (region, slot), v6.12, or with `pin` its
/// `pin_user_pages_fast`.
#[derive(Clone, Copy, Debug)]
pub struct GupFast {
    /// The region (pmd index).
    pub region: u8,
    /// The pte slot within it.
    pub slot: u8,
    /// `FOLL_PIN` instead of `FOLL_GET`.
    pub pin: bool,
    /// With `pin`: once the pin is handed over, the caller's DMA completes and it calls
    /// `unpin_user_page` (mm/gup.c), the pin's end that INV-PIN-EXCLUSIVE stops judging at.
    pub unpin: bool,
    /// Test mutation: a pin without the `write_protect_seq` sample and recheck (as if
    /// `gup_fast` left `FOLL_PIN` out of both tests).
    pub skip_write_protect_seq: bool,
}

impl GupFast {
    /// `get_user_pages_fast` (`FOLL_GET`, read) of the page at (region, slot).
    pub const fn new(region: u8, slot: u8) -> Self {
        Self {
            region,
            slot,
            pin: false,
            unpin: false,
            skip_write_protect_seq: false,
        }
    }
    /// `pin_user_pages_fast` (`FOLL_PIN`, read) of the page at (region, slot).
    pub const fn pin(region: u8, slot: u8) -> Self {
        Self {
            pin: true,
            ..Self::new(region, slot)
        }
    }
    /// `pin_user_pages_fast`, then `unpin_user_page` of what it pinned.
    pub const fn pin_then_unpin(region: u8, slot: u8) -> Self {
        Self {
            unpin: true,
            ..Self::pin(region, slot)
        }
    }
}

/// What GUP-fast keeps between its steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct GupFastLocals {
    /// The pmd it read (`pmdp_get_lockless`), raw.
    pub pmd: u64,
    /// The pte it read (`ptep_get_lockless`), raw.
    pub pte: u64,
    /// The pfn it grabs.
    pub pfn: u64,
    /// The table `pte_offset_map(&pmd)` found; `None` for a leaf pmd.
    pub table: Option<u8>,
    /// The `write_protect_seq` a pin sampled before its walk (0 for `FOLL_GET`).
    pub seq: u32,
}

impl Locals for GupFastLocals {
    fn to_regs(self) -> [u64; 4] {
        // The table's word is at most 256: the seqcount rides in the high half.
        [
            self.pmd,
            self.pte,
            self.pfn,
            self.table.to_word() | u64::from(self.seq) << 32,
        ]
    }
    fn from_regs(regs: [u64; 4]) -> Self {
        Self {
            pmd: regs[0],
            pte: regs[1],
            pfn: regs[2],
            table: Word::from_word(regs[3] & u64::from(u32::MAX)),
            seq: (regs[3] >> 32) as u32,
        }
    }
}

const READ_PMD: u8 = 0;
const READ_PTE: u8 = 1;
const GRAB: u8 = 2;
const RECHECK_PMD: u8 = 3;
const RECHECK_PTE: u8 = 4;
const KEEP: u8 = 5;
const UNSHARE: u8 = 6;
const UNPIN: u8 = 7;
/// A pin's `read_seqcount_retry` after the walk.
const SEQ_RETRY: u8 = 8;
/// A pin's pmd read, after its `write_protect_seq` sample at [`READ_PMD`]'s place.
const WALK: u8 = 9;

// Run as is (a `Program`), through its typed locals.
program_through_typed!(GupFast);

impl<A: PmdOps> TypedProgram<A> for GupFast {
    type Locals = GupFastLocals;

    fn name(&self) -> &'static str {
        if self.pin {
            "pin_user_pages_fast (v6.12)"
        } else {
            "get_user_pages_fast (v6.12)"
        }
    }

    fn check(&self, limits: &Limits) -> Result<(), ProgramError> {
        limits.region_slot(self.region, self.slot)
    }

    fn step(&self, m: &mut Machine<A>, t: Tid, l: &mut GupFastLocals) -> Step {
        let r = self.region;
        let slot = usize::from(self.slot);
        match m.th(t).pc {
            READ_PMD if self.samples_seq() => {
                let seq = m.write_protect_seq(t);
                if seq & 1 != 0 {
                    finish(m, t);
                    return Step::Ran(
                        "gup_fast: raw_read_seqcount(write_protect_seq) odd: a fork write-protects, fall back",
                    );
                }
                l.seq = seq;
                m.goto(t, WALK);
                Step::Ran("gup_fast: FOLL_PIN, raw_read_seqcount(&current->mm->write_protect_seq)")
            }
            READ_PMD | WALK => {
                let pmd = m.pmd_get(r);
                l.pmd = pmd.raw_u64();
                if !A::pmd_present(pmd) {
                    finish(m, t);
                    return Step::Ran("gup_fast_pmd_range: !pmd_present, fall back to slow GUP");
                }
                if A::pmd_leaf(pmd) {
                    if A::pmd_protnone(pmd) {
                        finish(m, t);
                        return Step::Ran(
                            "gup_fast_pmd_range: pmd_protnone, fall back to slow GUP",
                        );
                    }
                    if !A::pmd_access_permitted(pmd, false) {
                        finish(m, t);
                        return Step::Ran(
                            "gup_fast_pmd_leaf: !pmd_access_permitted, fall back to slow GUP",
                        );
                    }
                    l.pfn = A::pmd_pfn(pmd) + slot as u64;
                    m.goto(t, GRAB);
                    return Step::Ran("gup_fast_pmd_range: pmd_leaf, gup_fast_pmd_leaf");
                }
                match pte_offset_map(m, pmd) {
                    Some(table) => {
                        l.table = Some(table);
                        m.goto(t, READ_PTE);
                        Step::Ran("gup_fast_pte_range: pte_offset_map(&pmd)")
                    }
                    None => {
                        finish(m, t);
                        Step::Ran("gup_fast_pte_range: pte_offset_map NULL, fall back")
                    }
                }
            }
            READ_PTE => {
                let Some(table) = l.table else {
                    return lost_table(m, t);
                };
                let pte = m.pte_get(table, slot);
                // :2958-2973: pte_protnone, !pte_access_permitted (which a non-present pte
                // fails everywhere), pte_special: fall back to slow GUP.
                if !A::pte_present(pte)
                    || A::pte_protnone(pte)
                    || !A::pte_access_permitted(pte, false)
                    || A::pte_special(pte)
                {
                    finish(m, t);
                    return Step::Ran(
                        "gup_fast_pte_range: ptep_get_lockless: protnone, not permitted or special, fall back",
                    );
                }
                l.pte = pte.raw_u64();
                l.pfn = A::pte_pfn(pte);
                m.goto(t, GRAB);
                Step::Ran("gup_fast_pte_range: ptep_get_lockless, pte present")
            }
            GRAB => {
                if let Some(page) = m.page_of_pfn(l.pfn) {
                    if self.pin {
                        m.page_pin(page);
                    } else {
                        m.page_get(page);
                    }
                }
                m.goto(t, RECHECK_PMD);
                Step::Ran(if self.pin {
                    "try_grab_folio_fast: FOLL_PIN, pin the folio"
                } else {
                    "try_grab_folio_fast: take a reference on the folio"
                })
            }
            RECHECK_PMD => {
                let now = m.pmd_get(r);
                if l.pmd != now.raw_u64() {
                    return self.drop_ref(
                        m,
                        t,
                        l,
                        "gup_fast: pmd_val(orig) != pmd_val(*pmdp), put",
                    );
                }
                let next = if l.table.is_some() {
                    RECHECK_PTE
                } else {
                    self.commit(m, l, r);
                    if self.pin { UNSHARE } else { KEEP }
                };
                m.goto(t, next);
                Step::Ran("gup_fast: the pmd is unchanged")
            }
            RECHECK_PTE => {
                let Some(table) = l.table else {
                    return lost_table(m, t);
                };
                let now = m.pte_get(table, slot);
                if l.pte != now.raw_u64() {
                    return self.drop_ref(m, t, l, "gup_fast_pte_range: pte_val changed, put");
                }
                self.commit(m, l, r);
                m.goto(t, if self.pin { UNSHARE } else { KEEP });
                Step::Ran("gup_fast_pte_range: the pte is unchanged")
            }
            UNSHARE => {
                let writable = if l.table.is_none() {
                    crate::entry::Pmd::<A>::try_from_u64(l.pmd).is_ok_and(|pmd| A::pmd_write(pmd))
                } else {
                    crate::Pte::<A>::try_from_u64(l.pte).is_ok_and(|pte| A::pte_write(pte))
                };
                if !writable && gup_must_unshare(m, l.pfn) {
                    return self.drop_ref(
                        m,
                        t,
                        l,
                        "gup_fast: !pte_write, gup_must_unshare: !PageAnonExclusive, gup_put_folio",
                    );
                }
                if self.samples_seq() {
                    m.goto(t, SEQ_RETRY);
                } else {
                    self.keep_pin(m, t, l);
                }
                Step::Ran(if writable {
                    "gup_fast: gup_fast_folio_allowed; the entry is writable"
                } else {
                    "gup_fast: gup_fast_folio_allowed; gup_must_unshare: no"
                })
            }
            SEQ_RETRY => {
                if m.write_protect_seq(t) != l.seq {
                    return self.drop_ref(
                        m,
                        t,
                        l,
                        "gup_fast: read_seqcount_retry(write_protect_seq): a fork ran, gup_fast_unpin_user_pages",
                    );
                }
                self.keep_pin(m, t, l);
                Step::Ran("gup_fast: read_seqcount_retry: no fork meanwhile, keep the pin")
            }
            UNPIN => {
                if let Some(p) = m.page_of_pfn(l.pfn) {
                    m.page_unpin(p, true);
                }
                finish(m, t);
                Step::Ran("unpin_user_page: the caller is done with the page")
            }
            _ => {
                if self.pin && self.unpin {
                    m.goto(t, UNPIN);
                } else {
                    finish(m, t);
                }
                Step::Ran("gup_fast: keep the page, folio_set_referenced")
            }
        }
    }
}

/// A step that needs the table GUP-fast mapped but has none: the model lost it.
fn lost_table<A: PmdOps>(m: &mut Machine<A>, t: Tid) -> Step {
    m.flag(InvariantId::MODEL, "GUP-fast lost the table it mapped");
    finish(m, t);
    Step::Ran("gup_fast: no table")
}

impl GupFast {
    /// Whether this GUP-fast samples and rechecks `write_protect_seq` (`FOLL_PIN`).
    const fn samples_seq(&self) -> bool {
        self.pin && !self.skip_write_protect_seq
    }

    /// Hands the pin over to the caller (INV-PIN-EXCLUSIVE judges it from here).
    fn keep_pin<A: PmdOps>(&self, m: &mut Machine<A>, t: Tid, l: &GupFastLocals) {
        if let Some(p) = m.page_of_pfn(l.pfn) {
            m.page_keep_pin(p);
        }
        m.goto(t, KEEP);
    }

    /// The last recheck passed: GUP-fast keeps the page. INV-002-DECODE is judged here, at
    /// that linearization point: the page must be mapped at the address now. (A zap that
    /// unmaps it after this step is no error: GUP-fast holds its reference.) A pin is handed
    /// over later, after `gup_must_unshare`.
    fn commit<A: PmdOps>(&self, m: &mut Machine<A>, l: &GupFastLocals, r: u8) {
        let page = m.page_of_pfn(l.pfn);
        // The huge zero folio is no page of the machine: a pfn in it was read from a huge
        // zero pmd that the recheck found unchanged.
        let mapped_here = in_huge_zero_folio::<A>(l.pfn)
            || page.is_some_and(|p| m.page(p).mapcount > 0 && m.page(p).maps_in(r) > 0);
        if !mapped_here {
            m.flag(
                InvariantId::DECODE,
                "GUP-fast returned a pfn that is no page mapped at that address",
            );
        }
    }

    fn drop_ref<A: PmdOps>(
        &self,
        m: &mut Machine<A>,
        t: Tid,
        l: &GupFastLocals,
        label: &'static str,
    ) -> Step {
        if let Some(page) = m.page_of_pfn(l.pfn) {
            if self.pin {
                m.page_unpin(page, false);
            } else {
                m.page_put(page);
            }
        }
        finish(m, t);
        Step::Ran(label)
    }
}
