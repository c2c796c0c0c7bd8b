//! The generic `Pte`/`Pmd` surface a downstream crate uses without knowing Linux's headers:
//! `Pmd::bad`, `Pmd::leaf`, `Pmd::is_swap` agree with the trait helpers on every backend, and
//! `Debug for Pte<A>` needs only `PteOps`.

use pgtable::{Pmd, PmdOps, Protection, Pte, PteOps};

/// Compiles only if `Pte<A>: Debug` holds with `A: PteOps` alone.
fn debug_with_pte_ops_only<A: PteOps>(pte: Pte<A>) -> String {
    format!("{pte:?}")
}

/// Checks the `Pmd` methods against the trait helpers on a huge pmd, its invalidated form,
/// a table pmd and the empty pmd of backend `A`.
fn pmd_methods_agree_with_the_helpers<A: PmdOps>() {
    let mut pmds: Vec<Pmd<A>> = vec![A::pmd_empty()];
    if let Ok(huge) = A::mk_huge_pmd(0x200, Protection::ReadWrite) {
        pmds.push(huge);
        pmds.extend(A::pmdp_invalidate(huge));
    }
    for pmd in pmds {
        assert_eq!(pmd.bad(), A::pmd_bad(pmd), "{pmd:?}");
        assert_eq!(pmd.leaf(), A::pmd_leaf(pmd), "{pmd:?}");
        assert_eq!(
            pmd.is_swap(),
            !A::pmd_none(pmd) && !A::pmd_present(pmd),
            "{pmd:?}"
        );
    }
    // The empty pmd is none: not a leaf, not a swap entry. (pmd_bad is asked only after
    // pmd_none, as in pmd_none_or_clear_bad: x86_64's reads the empty pmd as bad.)
    let empty = A::pmd_empty();
    assert!(empty.none() && !empty.leaf() && !empty.is_swap());
}

#[cfg(feature = "x86_64")]
#[test]
fn x86_64_pmd_methods_read_huge_and_empty_pmds() {
    use pgtable::arch::X86_64;
    pmd_methods_agree_with_the_helpers::<X86_64>();
    let huge = X86_64::mk_huge_pmd(0x200, Protection::ReadWrite).unwrap();
    // A leaf, not a table pointer: pmd_bad says so too (callers test pmd_trans_huge first).
    assert!(huge.leaf() && huge.bad() && !huge.is_swap());
}

#[cfg(feature = "arm")]
#[test]
fn arm_lpae_invalidated_thp_is_a_swap_pmd_and_v4_5_one_is_empty() {
    use pgtable::arch::{ArmLpae, ArmLpaeV4_5};
    pmd_methods_agree_with_the_helpers::<ArmLpae>();
    pmd_methods_agree_with_the_helpers::<ArmLpaeV4_5>();
    // After the 2016 fix the invalidated THP is neither none nor present: is_swap_pmd.
    let huge = ArmLpae::mk_huge_pmd(0x200, Protection::ReadWrite).unwrap();
    assert!(ArmLpae::pmdp_invalidate(huge).unwrap().is_swap());
    // Before it (race 002) pmd_mknotpresent cleared the whole descriptor: the pmd reads none.
    let old = ArmLpaeV4_5::mk_huge_pmd(0x200, Protection::ReadWrite).unwrap();
    let gone = ArmLpaeV4_5::pmdp_invalidate(old).unwrap();
    assert!(gone.none() && !gone.is_swap());
}

#[cfg(feature = "x86_64")]
#[test]
fn pte_debug_shows_arch_raw_word_and_reading_with_pte_ops_only() {
    use pgtable::arch::X86_64;
    let empty = X86_64::pte_empty(0);
    assert_eq!(debug_with_pte_ops_only(empty), "Pte<x86_64>(0x0 none)");
    // _PAGE_PRESENT | RW | USER | ACCESSED | DIRTY | NX, pfn 0x1234.
    let page = Pte::<X86_64>::from_raw(0x8000_0000_0123_4067);
    let text = debug_with_pte_ops_only(page);
    assert!(
        text.starts_with("Pte<x86_64>(0x8000000001234067 page pfn=0x1234 ["),
        "{text}"
    );
    assert!(text.contains("PRESENT"), "{text}");
}
