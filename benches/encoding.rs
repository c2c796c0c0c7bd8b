//! The encoding helpers against hand-written bit operations on the same values: they should
//! cost the same. Then the pmd helpers of every enabled backend on its own encodings.
//!
//! ```text
//! cargo bench --bench encoding
//! ```
//!
//! Each benchmark runs one operation over the same 1024 raw words (throughput: elements), in
//! three forms for x86_64: `helper` (the `PteOps`/`PmdOps` trait method on the `Pte`/`Pmd`
//! newtype), `raw-fn` (the backend's `pub const fn` on the raw word) and `hand` (the bit
//! operations written out here with literal masks, as a C programmer would).

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main,
};
use pgtable::arch::{ArchVisitor, visit_all};
use pgtable::{PgProt, Pmd, PmdOps, Protection, Pte, PteOps, SwpEntry};

const N: usize = 1024;

/// A small deterministic generator (no dependency, the same values every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 11
    }
}

/// Hand-written x86_64 bit operations, from the kernel headers' definitions, masks as literals.
mod hand {
    const PFN_MASK: u64 = 0x000f_ffff_ffff_f000;
    const PMD_PFN_MASK: u64 = 0x000f_ffff_ffe0_0000;

    #[inline]
    fn protnone_mask(v: u64) -> u64 {
        if v != 0 && v & 1 == 0 { !0 } else { 0 }
    }
    #[inline]
    pub fn pte_none(v: u64) -> bool {
        v & !0x60 == 0
    }
    #[inline]
    fn pmd_pfn_mask(v: u64) -> u64 {
        if v & 0x80 != 0 {
            PMD_PFN_MASK
        } else {
            PFN_MASK
        }
    }
    #[inline]
    pub fn pmd_present(v: u64) -> bool {
        v & !pmd_pfn_mask(v) & 0x181 != 0
    }
    #[inline]
    pub fn pmd_trans_huge(v: u64) -> bool {
        v & (0x80 | 1 << 57) == 0x80
    }
    #[inline]
    pub fn pmd_mkinvalid(v: u64) -> u64 {
        let pfn = ((v ^ protnone_mask(v)) & pmd_pfn_mask(v)) >> 12;
        let flags = v & !pmd_pfn_mask(v) & !0x101;
        (((pfn << 12) ^ protnone_mask(flags)) & PMD_PFN_MASK) | flags
    }
    #[inline]
    pub fn pfn_pte(pfn: u64, prot: u64) -> u64 {
        (((pfn << 12) ^ protnone_mask(prot)) & PFN_MASK) | prot
    }
    #[inline]
    pub fn swp_roundtrip(ty: u64, offset: u64) -> (u64, u64) {
        let v = (!offset << 14 >> 5) | (ty << 59);
        (v >> 59, !v << 5 >> 14)
    }
}

/// A read-write huge pmd's flags: NX, dirty, accessed, user, RW, present, PSE.
const HUGE_RW: u64 = 0x8000_0000_0000_00e7;

/// x86_64 pmds of every kind: empty, table, huge, invalidated huge, protnone huge.
fn x86_pmds() -> Vec<u64> {
    let mut r = Lcg(0x5eed);
    (0..N)
        .map(|i| {
            let pfn = (r.next() & 0xff_ffff) << 9;
            match i % 5 {
                0 => 0,
                1 => (pfn << 12) | 0x67,
                2 => (pfn << 12) | HUGE_RW,
                3 => hand::pmd_mkinvalid((pfn << 12) | HUGE_RW),
                _ => hand::pfn_pte(pfn, 0x1a0),
            }
        })
        .collect()
}

fn x86_ptes() -> Vec<u64> {
    let mut r = Lcg(0xbeef);
    (0..N)
        .map(|i| match i % 4 {
            0 => 0,
            1 => 0x60,
            2 => hand::pfn_pte(r.next() & 0xff_ffff, 0x8000_0000_0000_0027),
            _ => hand::pfn_pte(r.next() & 0xff_ffff, 0x120),
        })
        .collect()
}

/// (pfn, prot) pairs with the five private-mapping protections.
fn x86_pfn_prots() -> Vec<(u64, u64)> {
    use pgtable::arch::X86_64;
    let mut r = Lcg(0xf00d);
    (0..N)
        .map(|i| {
            let p = Protection::ALL[i % Protection::ALL.len()];
            (r.next() & 0xff_ffff, X86_64::pte_pgprot(p).raw())
        })
        .collect()
}

fn group_of<'a>(c: &'a mut Criterion, op: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(format!("x86_64/{op}"));
    g.throughput(Throughput::Elements(N as u64));
    g
}

// Generic (so inlined per form, no indirect call) folds over the values.
fn count(f: impl Fn(u64) -> bool, v: &[u64]) -> usize {
    v.iter().filter(|&&x| f(x)).count()
}
fn fold(f: impl Fn(u64) -> u64, v: &[u64]) -> u64 {
    v.iter().fold(0, |a, &x| a ^ f(x))
}
fn fold2(f: impl Fn(u64, u64) -> u64, v: &[(u64, u64)]) -> u64 {
    v.iter().fold(0, |a, &(p, q)| a ^ f(p, q))
}

fn helpers_vs_hand(c: &mut Criterion) {
    use pgtable::arch::X86_64;
    use pgtable::arch::x86_64 as raw;

    let ptes = x86_ptes();
    let pmds = x86_pmds();
    let pairs = x86_pfn_prots();

    let mut g = group_of(c, "pte_none");
    g.bench_function("helper", |b| {
        b.iter(|| count(|v| X86_64::pte_none(Pte::from_raw(v)), black_box(&ptes)))
    });
    g.bench_function("raw-fn", |b| {
        b.iter(|| count(raw::pte_none, black_box(&ptes)))
    });
    g.bench_function("hand", |b| {
        b.iter(|| count(hand::pte_none, black_box(&ptes)))
    });
    g.finish();

    let mut g = group_of(c, "pmd_present");
    g.bench_function("helper", |b| {
        b.iter(|| count(|v| X86_64::pmd_present(Pmd::from_raw(v)), black_box(&pmds)))
    });
    g.bench_function("raw-fn", |b| {
        b.iter(|| count(raw::pmd_present, black_box(&pmds)))
    });
    g.bench_function("hand", |b| {
        b.iter(|| count(hand::pmd_present, black_box(&pmds)))
    });
    g.finish();

    let mut g = group_of(c, "pmd_trans_huge");
    g.bench_function("helper", |b| {
        b.iter(|| {
            count(
                |v| X86_64::pmd_trans_huge(Pmd::from_raw(v)),
                black_box(&pmds),
            )
        })
    });
    g.bench_function("raw-fn", |b| {
        b.iter(|| count(raw::pmd_trans_huge, black_box(&pmds)))
    });
    g.bench_function("hand", |b| {
        b.iter(|| count(hand::pmd_trans_huge, black_box(&pmds)))
    });
    g.finish();

    let mut g = group_of(c, "pmdp_invalidate");
    g.bench_function("helper", |b| {
        b.iter(|| {
            fold(
                |v| X86_64::pmdp_invalidate(Pmd::from_raw(v)).map_or(0, Pmd::raw),
                black_box(&pmds),
            )
        })
    });
    g.bench_function("raw-fn", |b| {
        b.iter(|| fold(raw::pmd_mkinvalid, black_box(&pmds)))
    });
    g.bench_function("hand", |b| {
        b.iter(|| fold(hand::pmd_mkinvalid, black_box(&pmds)))
    });
    g.finish();

    let mut g = group_of(c, "pfn_pte");
    g.bench_function("helper", |b| {
        b.iter(|| {
            fold2(
                |p, q| X86_64::pfn_pte_unchecked(p, PgProt::from_raw(q)).raw(),
                black_box(&pairs),
            )
        })
    });
    g.bench_function("helper-checked", |b| {
        b.iter(|| {
            fold2(
                |p, q| X86_64::pfn_pte(p, PgProt::from_raw(q)).map_or(0, Pte::raw),
                black_box(&pairs),
            )
        })
    });
    g.bench_function("raw-fn", |b| {
        b.iter(|| fold2(raw::pfn_pte, black_box(&pairs)))
    });
    g.bench_function("hand", |b| {
        b.iter(|| fold2(hand::pfn_pte, black_box(&pairs)))
    });
    g.finish();

    let swaps: Vec<(u64, u64)> = pairs.iter().map(|&(p, q)| (q & 31, p)).collect();
    let mut g = group_of(c, "swp_roundtrip");
    g.bench_function("helper", |b| {
        b.iter(|| {
            fold2(
                |t, o| {
                    let e = SwpEntry::from_parts_unchecked(t as u32, o);
                    let back = X86_64::pte_to_swp_entry(X86_64::swp_entry_to_pte(e));
                    u64::from(back.ty()) ^ back.offset()
                },
                black_box(&swaps),
            )
        })
    });
    g.bench_function("raw-fn", |b| {
        b.iter(|| {
            fold2(
                |t, o| {
                    let v = raw::swp_entry(t, o);
                    raw::swp_type(v) ^ raw::swp_offset(v)
                },
                black_box(&swaps),
            )
        })
    });
    g.bench_function("hand", |b| {
        b.iter(|| {
            fold2(
                |t, o| {
                    let (t, o) = hand::swp_roundtrip(t, o);
                    t ^ o
                },
                black_box(&swaps),
            )
        })
    });
    g.finish();
}

/// Every enabled backend's pmd helpers on its own encodings: classify (none, present,
/// trans_huge) and, with THP, `pmdp_invalidate`.
struct PerBackend<'a>(&'a mut Criterion);

impl ArchVisitor for PerBackend<'_> {
    fn visit<A: PmdOps>(&mut self) {
        let g = A::GEOMETRY;
        let mut r = Lcg(0xabcd);
        let width = g.pfn_bits.min(20);
        let mut pmds: Vec<Pmd<A>> = Vec::with_capacity(N);
        let mut huge: Vec<Pmd<A>> = Vec::new();
        for i in 0..N {
            let pfn = r.next() & ((1 << width) - 1);
            let hpfn = pfn - pfn % g.pages_per_pmd();
            let thp = A::mk_huge_pmd(hpfn, Protection::ALL[i % 5]).ok();
            let p = match (i % 4, thp) {
                (0, _) => Some(A::pmd_empty()),
                (2, Some(h)) => Some(h),
                (3, Some(h)) => A::pmdp_invalidate(h).ok(),
                _ => A::pmd_populate(pfn | 1).ok(),
            };
            pmds.extend(p);
            huge.extend(thp);
        }
        let mut grp = self.0.benchmark_group("backend");
        grp.throughput(Throughput::Elements(pmds.len() as u64));
        grp.bench_function(BenchmarkId::new(A::ID.name(), "pmd-classify"), |b| {
            b.iter(|| {
                black_box(&pmds)
                    .iter()
                    .map(|&p| {
                        u32::from(A::pmd_none(p))
                            + u32::from(A::pmd_present(p))
                            + u32::from(A::pmd_trans_huge(p))
                    })
                    .sum::<u32>()
            })
        });
        if !huge.is_empty() {
            grp.throughput(Throughput::Elements(huge.len() as u64));
            grp.bench_function(BenchmarkId::new(A::ID.name(), "pmdp_invalidate"), |b| {
                b.iter(|| {
                    black_box(&huge).iter().fold(0u64, |a, &h| {
                        a ^ A::pmdp_invalidate(h).map_or(0, |p| p.raw_u64())
                    })
                })
            });
        }
        grp.finish();
    }
}

fn per_backend(c: &mut Criterion) {
    visit_all(&mut PerBackend(c));
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(600))
}

criterion_group! {
    name = benches;
    config = config();
    targets = helpers_vs_hand, per_backend
}
criterion_main!(benches);
