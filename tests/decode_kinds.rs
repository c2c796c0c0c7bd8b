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

// do_huge_pmd_anonymous_page stores maybe_pmd_mkwrite(pmd_mkdirty(mk_huge_pmd(..))) through
// set_pmd_at (v6.12 mm/huge_memory.c:1248): dirty, and written where VM_WRITE allows, so the
// hardware may write it at once — 32-bit ARM LPAE's set_pmd_at clears AP2 only for a
// writable and dirty pmd (arch/arm/include/asm/pgtable-3level.h:240), s390's pmd_mkdirty and
// pmd_mkwrite_novma clear _SEGMENT_ENTRY_PROTECT (arch/s390/include/asm/pgtable.h:1553,1567).
#[test]
fn the_anonymous_huge_fault_stores_a_dirty_writable_pmd() {
    // `pte_bits`: the backend's pmd dirty and write bits are its pte's (all but s390).
    fn check<A: PmdOps>(pte_bits: bool) -> (u64, u64) {
        let pfn = A::GEOMETRY.pages_per_pmd();
        let plain = A::mk_huge_pmd(pfn, Protection::ReadWrite).unwrap();
        let anon = A::mk_huge_pmd_anon(pfn, Protection::ReadWrite).unwrap();
        let ro = A::mk_huge_pmd_anon(pfn, Protection::Read).unwrap();
        if pte_bits {
            let as_pte = pgtable::Pte::<A>::from_raw(anon.raw());
            assert!(A::pte_dirty(as_pte) && A::pte_write(as_pte), "{}", A::ID);
            // A read-only mapping is dirtied but not made writable.
            assert!(
                !A::pte_write(pgtable::Pte::<A>::from_raw(ro.raw())),
                "{}",
                A::ID
            );
        }
        assert!(
            A::pmd_trans_huge(anon) && A::pmd_hw_valid(anon),
            "{}",
            A::ID
        );
        assert_eq!(A::pmd_pfn(anon), pfn);
        (plain.raw_u64(), anon.raw_u64())
    }
    check::<X86_64>(true);
    check::<Arm64>(true);
    check::<Arm64V6_1>(true);
    check::<PowerpcRadix>(true);
    check::<PowerpcHash>(true);
    let (plain, anon) = check::<ArmLpae>(true);
    const AP2: u64 = 1 << 7;
    assert!(plain & AP2 != 0 && anon & AP2 == 0, "{plain:#x} {anon:#x}");
    let (plain, anon) = check::<S390>(false);
    const PROTECT: u64 = 0x200;
    const WRITE: u64 = 0x2;
    const DIRTY: u64 = 0x2000;
    assert!(
        plain & PROTECT != 0 && anon & PROTECT == 0,
        "{plain:#x} {anon:#x}"
    );
    assert_eq!(anon & (WRITE | DIRTY), WRITE | DIRTY, "{anon:#x}");
    let ro = S390::mk_huge_pmd_anon(512, Protection::Read).unwrap().raw();
    assert!(
        ro & PROTECT != 0 && ro & WRITE == 0 && ro & DIRTY != 0,
        "{ro:#x}"
    );
}
