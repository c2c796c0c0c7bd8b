//! The architecture backends, one module each (like Linux's `arch/`), and their registry.
//!
//! Every backend builds and is tested on every host: backends are selected with cargo
//! features (all on by default), never with `target_arch`. `Native` names the host's own
//! architecture where pgtable has it. [`BACKENDS`] lists the enabled backends for run-time
//! use; [`lookup`] finds one by name.
//!
//! # Example
//! ```
//! # #[cfg(feature = "s390")] {
//! let s390 = pgtable::arch::lookup("s390")?;
//! assert_eq!(s390.empty_pte(0), 0x400);
//! # }
//! assert!(pgtable::arch::lookup("vax").is_err());
//! # Ok::<(), pgtable::Error>(())
//! ```

use core::fmt;
use core::marker::PhantomData;

use crate::arch_id::{ArchId, Geometry};
use crate::decode::{self, Decoded, Level};
use crate::entry::{Pmd, PmdOps, Protection, Pte};
use crate::error::{ArchName, Error};
use crate::laws::{self, LawReport};

/// Writes, inside `impl PteOps`, the methods that only forward to the backend's raw-word
/// helper of the same (Linux) name, so a backend lists what it forwards instead of spelling
/// out each wrapper:
///
/// ```text
/// forward_pte! {
///     in lpae;                                  // optional: call lpae::pte_none, ...
///     test: pte_none, pte_present::<Self>;      // fn pte_none(pte) -> bool
///     u64: pte_pfn;                             // fn pte_pfn(pte) -> u64 (widened)
///     map: pte_mkwrite, pte_mkold;              // fn pte_mkold(pte) -> Pte<Self>
///     try_map: pte_mkspecial;                   // the same, in Ok(..)
/// }
/// ```
///
/// Each method calls `helper(pte.raw())` (with the turbofish given, if any) and wraps the
/// result as its kind says. Methods that do anything more stay written out by hand.
/// Writes a pte flag's test, set and clear helpers from its mask, for the architectures whose
/// helpers are exactly that: `pte_young / pte_mkyoung / pte_mkold = Flags::ACCESSED.bits();`.
#[allow(unused_macros)] // unused only when every backend feature is off
macro_rules! pte_flag_helpers {
    ($($test:ident / $set:ident / $clear:ident = $mask:expr;)*) => {$(
        fn $test(pte: Pte<Self>) -> bool {
            pte.raw() & $mask != 0
        }
        fn $set(pte: Pte<Self>) -> Pte<Self> {
            Pte::from_raw(pte.raw() | $mask)
        }
        fn $clear(pte: Pte<Self>) -> Pte<Self> {
            Pte::from_raw(pte.raw() & !$mask)
        }
    )*};
}

#[allow(unused_macros)] // unused only when every backend feature is off
macro_rules! forward_pte {
    (in $m:ident; $($body:tt)*) => {
        forward_entry!(@list Pte $m $($body)*);
    };
    ($($body:tt)*) => {
        forward_entry!(@list Pte self $($body)*);
    };
}

/// `forward_pte!` for `impl PmdOps`: the same kinds, over `Pmd<Self>`.
#[allow(unused_macros)] // unused only when every backend feature is off
macro_rules! forward_pmd {
    (in $m:ident; $($body:tt)*) => {
        forward_entry!(@list Pmd $m $($body)*);
    };
    ($($body:tt)*) => {
        forward_entry!(@list Pmd self $($body)*);
    };
}

/// The body of `forward_pte!` and `forward_pmd!`: `$e` is the entry type, `$m` the module
/// the helpers live in (`self` by default).
#[allow(unused_macros)] // unused only when every backend feature is off
macro_rules! forward_entry {
    (@list $e:ident $m:ident) => {};
    (@list $e:ident $m:ident $kind:ident: $($h:ident $(::<$g:ty>)?),+; $($rest:tt)*) => {
        forward_entry!(@kind $e $m $kind [$($h $(::<$g>)?),+]);
        forward_entry!(@list $e $m $($rest)*);
    };
    (@kind $e:ident $m:ident test [$($h:ident $(::<$g:ty>)?),+]) => {
        $(
            fn $h(entry: $crate::entry::$e<Self>) -> bool {
                $m::$h$(::<$g>)?(entry.raw())
            }
        )+
    };
    (@kind $e:ident $m:ident u64 [$($h:ident $(::<$g:ty>)?),+]) => {
        $(
            fn $h(entry: $crate::entry::$e<Self>) -> u64 {
                u64::from($m::$h$(::<$g>)?(entry.raw()))
            }
        )+
    };
    (@kind $e:ident $m:ident map [$($h:ident $(::<$g:ty>)?),+]) => {
        $(
            fn $h(entry: $crate::entry::$e<Self>) -> $crate::entry::$e<Self> {
                $crate::entry::$e::from_raw($m::$h$(::<$g>)?(entry.raw()))
            }
        )+
    };
    (@kind $e:ident $m:ident try_map [$($h:ident $(::<$g:ty>)?),+]) => {
        $(
            fn $h(
                entry: $crate::entry::$e<Self>,
            ) -> ::core::result::Result<$crate::entry::$e<Self>, $crate::error::Error> {
                ::core::result::Result::Ok($crate::entry::$e::from_raw(
                    $m::$h$(::<$g>)?(entry.raw()),
                ))
            }
        )+
    };
}

#[cfg(feature = "arm")]
pub mod arm;
#[cfg(feature = "arm64")]
pub mod arm64;
#[cfg(feature = "nios2")]
pub mod nios2;
#[cfg(feature = "powerpc")]
pub mod powerpc;
#[cfg(feature = "s390")]
pub mod s390;
#[cfg(feature = "scrambled")]
pub mod scrambled;
#[cfg(feature = "um")]
pub mod um;
#[cfg(feature = "x86_64")]
pub mod x86_64;
#[cfg(feature = "xtensa")]
pub mod xtensa;

#[cfg(feature = "arm")]
pub use arm::{ArmClassic, ArmLpae, ArmLpaePatched, ArmLpaeV4_5, ArmLpaeV4_5Stored};
#[cfg(feature = "arm64")]
pub use arm64::{Arm64, Arm64V6_1};
#[cfg(feature = "nios2")]
pub use nios2::Nios2;
#[cfg(feature = "powerpc")]
pub use powerpc::{PowerpcHash, PowerpcRadix};
#[cfg(feature = "s390")]
pub use s390::S390;
#[cfg(feature = "scrambled")]
pub use scrambled::Scrambled;
#[cfg(feature = "um")]
pub use um::Um;
#[cfg(feature = "x86_64")]
pub use x86_64::X86_64;
#[cfg(feature = "xtensa")]
pub use xtensa::Xtensa;

cfg_if::cfg_if! {
    if #[cfg(all(target_arch = "x86_64", feature = "x86_64"))] {
        /// The host's architecture.
        pub type Native = X86_64;
    } else if #[cfg(all(target_arch = "aarch64", feature = "arm64"))] {
        /// The host's architecture.
        pub type Native = Arm64;
    } else if #[cfg(all(target_arch = "s390x", feature = "s390"))] {
        /// The host's architecture.
        pub type Native = S390;
    } else if #[cfg(all(target_arch = "powerpc64", feature = "powerpc"))] {
        /// The host's architecture (book3s64; POWER9 and later boot radix).
        pub type Native = PowerpcRadix;
    } else if #[cfg(all(target_arch = "arm", feature = "arm"))] {
        /// The host's architecture (LPAE, as distributions configure ARMv7 with THP).
        pub type Native = ArmLpae;
    } else if #[cfg(all(target_arch = "xtensa", feature = "xtensa"))] {
        /// The host's architecture.
        pub type Native = Xtensa;
    }
}

/// Whether `Native` exists on this host.
pub const HAS_NATIVE: bool = cfg!(any(
    all(target_arch = "x86_64", feature = "x86_64"),
    all(target_arch = "aarch64", feature = "arm64"),
    all(target_arch = "s390x", feature = "s390"),
    all(target_arch = "powerpc64", feature = "powerpc"),
    all(target_arch = "arm", feature = "arm"),
    all(target_arch = "xtensa", feature = "xtensa"),
));

/// What invalidation does to a present huge pmd, in the helpers' own terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InvalidateEffect {
    /// A huge pmd mapping pfn `pages_per_pmd` (read-write).
    pub before: u64,
    /// What `pmdp_invalidate` stored.
    pub after: u64,
    /// `pmd_present` of the stored value.
    pub present: bool,
    /// `pmd_none` of the stored value.
    pub none: bool,
    /// `pmd_trans_huge` of the stored value.
    pub trans_huge: bool,
}

/// A backend behind a run-time interface: raw 64-bit words in, checked against the
/// architecture's word width.
pub trait DynBackend: Sync {
    /// The backend's id.
    fn id(&self) -> ArchId;
    /// Its geometry.
    fn geometry(&self) -> Geometry;
    /// Width of its entry word.
    fn word_bits(&self) -> u32;
    /// The empty pte at `addr` (what `pte_clear` stores), widened.
    fn empty_pte(&self, addr: u64) -> u64;
    /// The empty pmd (what `pmd_clear` stores), widened.
    fn empty_pmd(&self) -> u64;
    /// Decodes a raw entry at `level`; `addr` is the virtual address where it matters.
    fn decode(&self, level: Level, raw: u64, addr: Option<u64>) -> Result<Decoded, Error>;
    /// What `pmdp_invalidate` does to a present huge pmd; `None` without THP.
    fn invalidate_effect(&self) -> Option<InvalidateEffect>;
    /// Runs every law.
    fn laws(&self) -> LawReport;
}

#[allow(dead_code)] // never built when every backend feature is off
struct Backend<A>(PhantomData<A>);

impl<A: PmdOps> DynBackend for Backend<A> {
    fn id(&self) -> ArchId {
        A::ID
    }
    fn geometry(&self) -> Geometry {
        A::GEOMETRY
    }
    fn word_bits(&self) -> u32 {
        <A::Word as crate::EntryWord>::BITS
    }
    fn empty_pte(&self, addr: u64) -> u64 {
        A::pte_empty(addr).raw_u64()
    }
    fn empty_pmd(&self) -> u64 {
        A::pmd_empty().raw_u64()
    }
    fn decode(&self, level: Level, raw: u64, addr: Option<u64>) -> Result<Decoded, Error> {
        Ok(match level {
            Level::Pte => decode::decode_pte::<A>(Pte::try_from_u64(raw)?, addr),
            Level::Pmd => decode::decode_pmd::<A>(Pmd::try_from_u64(raw)?),
        })
    }
    fn invalidate_effect(&self) -> Option<InvalidateEffect> {
        let huge = A::mk_huge_pmd(A::GEOMETRY.pages_per_pmd(), Protection::ReadWrite).ok()?;
        let after = A::pmdp_invalidate(huge).ok()?;
        Some(InvalidateEffect {
            before: huge.raw_u64(),
            after: after.raw_u64(),
            present: A::pmd_present(after),
            none: A::pmd_none(after),
            trans_huge: A::pmd_trans_huge(after),
        })
    }
    fn laws(&self) -> LawReport {
        laws::check::<A>()
    }
}

macro_rules! registry {
    ($($feature:literal => $ty:ident,)*) => {
        /// Every enabled backend, in report order.
        pub static BACKENDS: &[&dyn DynBackend] = &[
            $(#[cfg(feature = $feature)] &Backend::<$ty>(PhantomData),)*
        ];
    };
}

registry! {
    "x86_64" => X86_64,
    "arm" => ArmClassic,
    "arm" => ArmLpae,
    "arm" => ArmLpaeV4_5,
    "arm" => ArmLpaeV4_5Stored,
    "arm" => ArmLpaePatched,
    "arm64" => Arm64,
    "arm64" => Arm64V6_1,
    "s390" => S390,
    "powerpc" => PowerpcRadix,
    "powerpc" => PowerpcHash,
    "nios2" => Nios2,
    "xtensa" => Xtensa,
    "um" => Um,
    "scrambled" => Scrambled,
}

/// A generic function to call once per backend type (see [`visit_all`]): how tests, the
/// audit and the engine go from the run-time registry to monomorphised code.
pub trait ArchVisitor {
    /// Called with each backend type.
    fn visit<A: PmdOps>(&mut self);
}

/// Calls `v.visit::<A>()` for every enabled backend, in report order.
pub fn visit_all<V: ArchVisitor>(v: &mut V) {
    let _ = &v; // unused when every backend feature is off
    #[cfg(feature = "x86_64")]
    v.visit::<X86_64>();
    #[cfg(feature = "arm")]
    {
        v.visit::<ArmClassic>();
        v.visit::<ArmLpae>();
        v.visit::<ArmLpaeV4_5>();
        v.visit::<ArmLpaeV4_5Stored>();
        v.visit::<ArmLpaePatched>();
    }
    #[cfg(feature = "arm64")]
    {
        v.visit::<Arm64>();
        v.visit::<Arm64V6_1>();
    }
    #[cfg(feature = "s390")]
    v.visit::<S390>();
    #[cfg(feature = "powerpc")]
    {
        v.visit::<PowerpcRadix>();
        v.visit::<PowerpcHash>();
    }
    #[cfg(feature = "nios2")]
    v.visit::<Nios2>();
    #[cfg(feature = "xtensa")]
    v.visit::<Xtensa>();
    #[cfg(feature = "um")]
    v.visit::<Um>();
    #[cfg(feature = "scrambled")]
    v.visit::<Scrambled>();
}

/// Calls `v.visit::<A>()` for the backend `id`; returns `false` if its feature is off.
pub fn visit_one<V: ArchVisitor>(id: ArchId, v: &mut V) -> bool {
    struct One<'a, V> {
        id: ArchId,
        inner: &'a mut V,
        hit: bool,
    }
    impl<V: ArchVisitor> ArchVisitor for One<'_, V> {
        fn visit<A: PmdOps>(&mut self) {
            if A::ID == self.id {
                self.hit = true;
                self.inner.visit::<A>();
            }
        }
    }
    let mut one = One {
        id,
        inner: v,
        hit: false,
    };
    visit_all(&mut one);
    one.hit
}

/// Returns the enabled backend called `name` (see [`ArchId::name`]).
///
/// # Errors
/// [`Error::UnknownArch`], whose message lists the known names.
pub fn lookup(name: &str) -> Result<&'static dyn DynBackend, Error> {
    BACKENDS
        .iter()
        .copied()
        .find(|b| b.id().name() == name)
        .ok_or(Error::UnknownArch {
            name: ArchName::new(name),
        })
}

/// Returns the enabled backend with this id.
pub fn get(id: ArchId) -> Option<&'static dyn DynBackend> {
    BACKENDS.iter().copied().find(|b| b.id() == id)
}

/// Writes the enabled backends' names, comma-separated.
pub fn write_names(f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for (i, b) in BACKENDS.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        f.write_str(b.id().name())?;
    }
    Ok(())
}
