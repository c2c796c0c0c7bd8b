//! What a no_std user of pgtable writes: generic code over [`PmdOps`] that asks the helpers,
//! never `raw == 0`, built with `default-features = false, features = ["x86_64"]`.
#![no_std]

use pgtable::arch::X86_64;
use pgtable::{PmdOps, Protection};

/// Returns whether a present huge pmd survives the first store of a THP split as Linux's
/// generic code needs it to: still present, still huge, not none.
pub fn split_keeps_the_huge_pmd<A: PmdOps>(pfn: u64) -> Result<bool, pgtable::Error> {
    let mid_split = A::pmdp_invalidate(A::mk_huge_pmd(pfn, Protection::ReadWrite)?)?;
    Ok(mid_split.present() && mid_split.trans_huge() && !mid_split.none())
}

/// The check on x86_64, the one backend this crate enables.
pub fn x86_64_keeps_the_huge_pmd() -> bool {
    matches!(split_keeps_the_huge_pmd::<X86_64>(0x200), Ok(true))
}
