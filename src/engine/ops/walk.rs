//! A CPU's MMU walking the tables with no lock at all: the hardware walker (speculative or on
//! access) that fills the TLB. It reads the pmd and, for a table, the pte, exactly as the
//! hardware would: a huge pmd counts only while hardware-valid (not invalidated), a pte only
//! while present and accessible.
//!
//! Kernel: none; this is the hardware. What Linux relies on from it is written at
//! mm/huge_memory.c:2716 (`__split_huge_pmd_locked`, v6.12) and the comment at
//! mm/huge_memory.c:2807 (AMD erratum 383: no huge and small translation cached at once).

use crate::entry::PmdOps;

use super::super::Tid;
use super::super::mm::{Machine, huge_hw_valid};
use super::super::program::{Limits, Program, ProgramError, Step};
use super::finish;

/// A CPU touching (region, slot) `walks` times, each a walk that may fill its TLB.
#[derive(Clone, Copy, Debug)]
pub struct MmuWalk {
    /// The region (pmd index).
    pub region: u8,
    /// The slots it touches, one per walk, in order.
    pub slots: [u8; 2],
    /// How many walks (1 or 2).
    pub walks: u8,
}

impl<A: PmdOps> Program<A> for MmuWalk {
    fn name(&self) -> &'static str {
        "MMU walk"
    }

    fn check(&self, limits: &Limits) -> Result<(), ProgramError> {
        limits.region(self.region)?;
        self.slots.iter().try_for_each(|&s| limits.slot(s))
    }

    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let r = self.region;
        let pc = m.th(t).pc;
        let slot = usize::from(self.slots[usize::from(pc).min(1)]);
        let cpu = t.0;
        let pmd = m.pmd_get(r);
        let label = if A::pmd_none(pmd) {
            "MMU walk: pmd none, fault"
        } else if A::pmd_trans_huge(pmd) {
            if huge_hw_valid(pmd) {
                m.tlb_fill(cpu, r, None, A::pmd_pfn(pmd));
                "MMU walk: huge pmd, fill a huge TLB entry"
            } else {
                "MMU walk: invalidated huge pmd, fault"
            }
        } else if A::pmd_present(pmd) && !A::pmd_bad(pmd) {
            match m.table_of(pmd) {
                Some(table) => {
                    let pte = m.pte_get(table, slot);
                    if A::pte_present(pte) && !A::pte_protnone(pte) {
                        m.tlb_fill(cpu, r, Some(slot), A::pte_pfn(pte));
                        "MMU walk: pte present, fill a small TLB entry"
                    } else {
                        "MMU walk: pte not present, fault"
                    }
                }
                None => "MMU walk: table pmd to no table, fault",
            }
        } else {
            "MMU walk: pmd not present, fault"
        };
        if pc + 1 >= self.walks {
            finish(m, t);
        } else {
            m.goto(t, pc + 1);
        }
        Step::Ran(label)
    }
}
