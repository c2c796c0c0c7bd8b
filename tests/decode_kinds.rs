//! How a huge pmd decodes, backend by backend, against the v6.12 headers: a PROT_NONE huge
//! pmd is `huge` with `protnone` (not `huge-invalid`, which is for a pmd mid-split), and the
//! engine's hardware-valid test reads the architecture's own valid bit.
#![cfg(all(
    feature = "x86_64",
    feature = "arm",
    feature = "arm64",
    feature = "s390",
    feature = "powerpc"
))]

use pgtable::arch::{
    Arm64, Arm64V6_1, ArmLpae, ArmLpaePatched, PowerpcHash, PowerpcRadix, S390, X86_64,
};
use pgtable::decode::decode_pmd;
use pgtable::{EntryKind, Pmd, PmdOps, Protection};

/// Decodes the PROT_NONE huge pmd, a read-write one and its invalidated form of backend `A`.
fn kinds<A: PmdOps>() -> [(EntryKind, bool, bool); 3] {
    let pfn = A::GEOMETRY.pages_per_pmd();
    let none = A::mk_huge_pmd(pfn, Protection::None).unwrap();
    let rw = A::mk_huge_pmd(pfn, Protection::ReadWrite).unwrap();
    let inv = A::pmdp_invalidate(rw).unwrap();
    [none, rw, inv].map(|p: Pmd<A>| {
        let d = decode_pmd(p);
        assert_eq!(d.pfn, Some(pfn), "{d}");
        (d.kind, d.protnone, A::pmd_hw_valid(p))
    })
}

const PROT_NONE_HUGE_HW_INVALID: [(EntryKind, bool, bool); 3] = [
    (EntryKind::Huge, true, false),
    (EntryKind::Huge, false, true),
    (EntryKind::HugeInvalid, false, false),
];

// x86_64: pmd_protnone is PROTNONE without PRESENT (arch/x86/include/asm/pgtable.h:1057);
// the MMU reads PRESENT (bit 0), clear for PROT_NONE and after pmdp_invalidate.
#[test]
fn x86_64_prot_none_huge_pmd_is_huge_and_protnone() {
    assert_eq!(kinds::<X86_64>(), PROT_NONE_HUGE_HW_INVALID);
}

// arm64: pmd_protnone is pte_protnone(pmd_pte(pmd)) (v6.12 arch/arm64/include/asm/pgtable.h:549;
// the same in 6.1.192); PMD_SECT_VALID (bit 0) is clear for PAGE_NONE and after pmd_mkinvalid.
#[test]
fn arm64_prot_none_huge_pmd_is_huge_and_protnone() {
    assert_eq!(kinds::<Arm64>(), PROT_NONE_HUGE_HW_INVALID);
    assert_eq!(kinds::<Arm64V6_1>(), PROT_NONE_HUGE_HW_INVALID);
}

// 32-bit ARM LPAE has no pmd_protnone (no NUMA balancing): L_PMD_SECT_NONE (bit 57,
// arch/arm/include/asm/pgtable-3level.h:84) marks PROT_NONE, and set_pmd_at (line 237) clears
// L_PMD_SECT_VALID for it, so the MMU does not use it either.
#[test]
fn arm_lpae_prot_none_huge_pmd_is_huge_and_protnone() {
    assert_eq!(kinds::<ArmLpae>(), PROT_NONE_HUGE_HW_INVALID);
    assert_eq!(kinds::<ArmLpaePatched>(), PROT_NONE_HUGE_HW_INVALID);
}

// s390: pmd_protnone is a leaf without _SEGMENT_ENTRY_READ (arch/s390/include/asm/pgtable.h:872);
// SEGMENT_NONE and pmdp_invalidate both set _SEGMENT_ENTRY_INVALID.
#[test]
fn s390_prot_none_huge_pmd_is_huge_and_protnone() {
    assert_eq!(kinds::<S390>(), PROT_NONE_HUGE_HW_INVALID);
}

// powerpc book3s64: PAGE_NONE keeps _PAGE_PRESENT with _PAGE_PRIVILEGED (the MMU denies user
// access), pmd_protnone is pte_protnone(pmd_pte(pmd))
// (arch/powerpc/include/asm/book3s/64/pgtable.h:1069); pmdp_invalidate clears _PAGE_PRESENT.
#[test]
fn powerpc_prot_none_huge_pmd_is_huge_protnone_and_hardware_valid() {
    let expected = [
        (EntryKind::Huge, true, true),
        (EntryKind::Huge, false, true),
        (EntryKind::HugeInvalid, false, false),
    ];
    assert_eq!(kinds::<PowerpcRadix>(), expected);
    assert_eq!(kinds::<PowerpcHash>(), expected);
}

// powerpc hash: hash__pmd_trans_huge needs _PAGE_PTE and H_PAGE_THP_HUGE
// (arch/powerpc/include/asm/book3s/64/hash-64k.h:260): a leaf without H_PAGE_THP_HUGE (what a
// radix huge pmd looks like) is no THP to generic code, and pmd_bad (hash.h:141) calls it bad.
#[test]
fn powerpc_hash_leaf_without_thp_huge_is_bad() {
    let radix_huge = PowerpcRadix::mk_huge_pmd(32 * 16, Protection::ReadWrite).unwrap();
    let on_hash = Pmd::<PowerpcHash>::from_raw(radix_huge.raw());
    assert!(PowerpcHash::pmd_leaf(on_hash) && !PowerpcHash::pmd_trans_huge(on_hash));
    assert_eq!(decode_pmd(on_hash).kind, EntryKind::Bad);
    // The same word is a THP on radix.
    assert_eq!(decode_pmd(radix_huge).kind, EntryKind::Huge);
}
