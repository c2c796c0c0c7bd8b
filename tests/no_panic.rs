//! No public helper panics on any input: every backend's helpers, decoders and constructors
//! over arbitrary raw words, pfns, addresses and swap fields.

use pgtable::arch::{ArchVisitor, BACKENDS, visit_all};
use pgtable::decode::{Level, decode_pmd, decode_pte};
use pgtable::{EntryWord, Pmd, PmdOps, Protection, Pte, SwpEntry};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

struct Arbitrary;

impl ArchVisitor for Arbitrary {
    fn visit<A: PmdOps>(&mut self) {
        let mut runner = TestRunner::new(Config::with_cases(512));
        runner
            .run(
                &(any::<u64>(), any::<u64>(), any::<u32>(), 0..5usize),
                |(raw, x, ty, p)| {
                    // A word too wide for the architecture is an error, not a truncation.
                    let bits = <A::Word as EntryWord>::BITS;
                    let fits = bits == 64 || raw >> bits == 0;
                    prop_assert_eq!(Pte::<A>::try_from_u64(raw).is_ok(), fits);
                    let raw = if fits {
                        raw
                    } else {
                        raw & ((1u64 << bits) - 1)
                    };
                    let pte = Pte::<A>::try_from_u64(raw).unwrap();
                    let pmd = Pmd::<A>::try_from_u64(raw).unwrap();
                    let _ = (
                        A::pte_none(pte),
                        A::pte_present(pte),
                        A::pte_protnone(pte),
                        A::pte_pfn(pte),
                    );
                    let _ = (
                        A::pte_write(pte),
                        A::pte_dirty(pte),
                        A::pte_young(pte),
                        A::pte_special(pte),
                    );
                    let _ = (
                        A::pte_mkwrite(pte),
                        A::pte_wrprotect(pte),
                        A::pte_mkdirty(pte),
                        A::pte_mkclean(pte),
                    );
                    let _ = (
                        A::pte_mkyoung(pte),
                        A::pte_mkold(pte),
                        A::pte_mkspecial(pte),
                        A::pte_to_swp_entry(pte),
                    );
                    let _ = (
                        A::pmd_none(pmd),
                        A::pmd_present(pmd),
                        A::pmd_bad(pmd),
                        A::pmd_leaf(pmd),
                    );
                    let _ = (
                        A::pmd_trans_huge(pmd),
                        A::pmd_pfn(pmd),
                        A::pmd_mkhuge(pmd),
                        A::pmd_mkinvalid(pmd),
                    );
                    let _ = (A::pmdp_invalidate(pmd), A::pte_empty(x), A::pte_fresh(x));
                    let _ = (
                        decode_pte::<A>(pte, Some(x)).to_string(),
                        decode_pmd::<A>(pmd).to_string(),
                    );
                    let _ = format!("{pte:?} {pmd:?}");
                    let prot = Protection::ALL[p];
                    let _ = (
                        A::pfn_pte(x, A::pte_pgprot(prot)),
                        A::mk_huge_pmd(x, prot),
                        A::pmd_populate(x),
                    );
                    if let Ok(e) = SwpEntry::new::<A>(ty, x) {
                        let _ = A::swp_entry_to_pte(e);
                    }
                    Ok(())
                },
            )
            .unwrap();
    }
}

#[test]
fn no_helper_panics_on_any_word() {
    visit_all(&mut Arbitrary);
}

#[test]
fn the_run_time_decoder_refuses_words_wider_than_the_architecture() {
    for b in BACKENDS {
        for level in [Level::Pte, Level::Pmd] {
            let wide = b.decode(level, u64::MAX, None);
            assert_eq!(wide.is_ok(), b.word_bits() == 64, "{}", b.id());
            assert!(b.decode(level, 0, Some(0x1000)).is_ok());
        }
    }
}
