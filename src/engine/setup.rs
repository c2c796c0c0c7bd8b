//! Any initial state: [`Setup`] is what [`ScenarioBuilder::setup`](super::ScenarioBuilder::setup)
//! hands a closure, to allocate pages, install empty or partly filled pte tables, map a page
//! in several regions (and several processes), write-protected, dirty or old ptes, swap
//! entries, extra page references (pins, the page cache) and pre-filled TLBs, all through the
//! backend's own encodings and the machine's accessors. Nothing is edited after `build()`.

use crate::entry::{PmdOps, Protection, Pte, SwpEntry};

use super::ScenarioError;
use super::mm::{MAX_THREADS, Machine, SLOTS};
use super::state::page_cache::CACHE_SLOTS;
use super::state::process::MAX_MMS;
use super::state::vma::{MAX_VMAS, VmFlags, VmaId};

/// A migration entry's swap type (include/linux/swap.h:99-102, v6.12), for a kernel built
/// with `CONFIG_MIGRATION`, `CONFIG_MEMORY_FAILURE` and `CONFIG_DEVICE_PRIVATE` (Debian's
/// amd64 and arm64 configurations): `MAX_SWAPFILES` is 32 - 4 - 3 - 1 - 1 = 23, then
/// `SWP_HWPOISON`, then the three migration types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MigrationKind {
    /// `SWP_MIGRATION_READ`.
    Read,
    /// `SWP_MIGRATION_READ_EXCLUSIVE` (an anonymous page exclusive to one process).
    ReadExclusive,
    /// `SWP_MIGRATION_WRITE`.
    Write,
}

impl MigrationKind {
    /// `MAX_SWAPFILES` under that configuration.
    pub const MAX_SWAPFILES: u32 = (1 << 5) - 4 - 3 - 1 - 1;

    /// The entry's swap type.
    pub const fn swap_type(self) -> u32 {
        // SWP_MIGRATION_READ is MAX_SWAPFILES + SWP_HWPOISON_NUM.
        Self::MAX_SWAPFILES
            + 1
            + match self {
                MigrationKind::Read => 0,
                MigrationKind::ReadExclusive => 1,
                MigrationKind::Write => 2,
            }
    }

    /// The kind a swap type names, if it is a migration type (`is_migration_entry`).
    pub const fn of_swap_type(ty: u32) -> Option<Self> {
        match ty.checked_sub(Self::MAX_SWAPFILES + 1) {
            Some(0) => Some(MigrationKind::Read),
            Some(1) => Some(MigrationKind::ReadExclusive),
            Some(2) => Some(MigrationKind::Write),
            _ => None,
        }
    }
}

/// How a present pte maps its page: `pfn_pte(page, vm_page_prot)`, then `pte_wrprotect`,
/// `pte_mkdirty` and `pte_mkold` as asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PteInit {
    /// Writable (`pte_write`); a write-protected pte (after `fork`, or a read fault) is not.
    pub writable: bool,
    /// `pte_dirty`.
    pub dirty: bool,
    /// `pte_young`.
    pub young: bool,
}

impl PteInit {
    /// A writable, dirty, young pte: what a write fault leaves.
    pub const WRITTEN: PteInit = PteInit {
        writable: true,
        dirty: true,
        young: true,
    };
    /// A write-protected, clean, young pte: what `fork` leaves in both processes for a
    /// private anonymous page (`copy_present_pte` wrprotects both).
    pub const WRPROTECTED: PteInit = PteInit {
        writable: false,
        dirty: false,
        young: true,
    };
}

/// The initial machine, open to the scenario through typed calls.
pub struct Setup<'a, A: PmdOps> {
    m: &'a mut Machine<A>,
}

impl<'a, A: PmdOps> Setup<'a, A> {
    pub(crate) fn new(m: &'a mut Machine<A>) -> Self {
        Self { m }
    }

    /// Returns the machine as it stands (read-only).
    pub fn machine(&self) -> &Machine<A> {
        self.m
    }

    fn region(&self, r: u8) -> Result<(), ScenarioError> {
        if r >= self.m.npmds() {
            return Err(ScenarioError::NoSuchRegion(r));
        }
        Ok(())
    }

    fn slot(slot: usize) -> Result<(), ScenarioError> {
        if slot >= SLOTS {
            return Err(ScenarioError::NoSuchSlot(slot));
        }
        Ok(())
    }

    /// Allocates a page (huge or small) with no mapping and no reference yet: each
    /// [`map_pte`](Self::map_pte) adds one of each, [`get_page`](Self::get_page) a reference.
    ///
    /// # Errors
    /// [`ScenarioError::ArenaFull`].
    pub fn page(&mut self, huge: bool) -> Result<u8, ScenarioError> {
        let p = self.m.page_alloc(huge).ok_or(ScenarioError::ArenaFull)?;
        self.m.page_put(p);
        Ok(p)
    }

    /// Takes one more reference on page `p`: a page-cache slot, a reference some kernel path
    /// holds (a pin is [`pin_page`](Self::pin_page)).
    ///
    /// # Errors
    /// [`ScenarioError::NoSuchPage`] for a page not allocated.
    pub fn get_page(&mut self, p: u8) -> Result<(), ScenarioError> {
        self.allocated(p)?;
        self.m.page_get(p);
        Ok(())
    }

    /// Pins page `p` for a caller that holds it from the start (a driver's DMA buffer, an
    /// earlier `pin_user_pages`): a reference that `folio_maybe_dma_pinned` sees, judged by
    /// INV-PIN-EXCLUSIVE. Set `PageAnonExclusive` or make the page a file page first.
    ///
    /// # Errors
    /// [`ScenarioError::NoSuchPage`]; [`ScenarioError::PinOfSharedPage`] for an anonymous
    /// page that is not exclusive.
    pub fn pin_page(&mut self, p: u8) -> Result<(), ScenarioError> {
        self.allocated(p)?;
        let page = *self.m.page(p);
        if !page.file && !page.anon_exclusive {
            return Err(ScenarioError::PinOfSharedPage(p));
        }
        self.m.page_pin(p);
        self.m.page_keep_pin(p);
        Ok(())
    }

    /// Sets `PageAnonExclusive` on page `p` (an anonymous page only one mapping maps: what the
    /// anonymous fault and a COW leave; `fork` clears it unless the page is pinned).
    ///
    /// # Errors
    /// [`ScenarioError::NoSuchPage`].
    pub fn page_anon_exclusive(&mut self, p: u8, on: bool) -> Result<(), ScenarioError> {
        self.allocated(p)?;
        self.m.page_set_anon_exclusive(p, on);
        Ok(())
    }

    /// Marks page `p` a page-cache page (`file`) or an anonymous one.
    ///
    /// # Errors
    /// [`ScenarioError::NoSuchPage`].
    pub fn page_file(&mut self, p: u8, file: bool) -> Result<(), ScenarioError> {
        self.allocated(p)?;
        self.m.page_set_file(p, file);
        Ok(())
    }

    fn allocated(&self, p: u8) -> Result<(), ScenarioError> {
        let ok = self.m.allocated_pages().any(|(q, _)| q == p);
        ok.then_some(()).ok_or(ScenarioError::NoSuchPage(p))
    }

    /// Installs an empty pte table under region `r`'s empty pmd (`pmd_populate`), its slots
    /// as the architecture's allocator leaves them; returns the table.
    ///
    /// # Errors
    /// The region is missing or in use, the arena is full, or the backend refuses the pmd.
    pub fn table(&mut self, r: u8) -> Result<u8, ScenarioError> {
        self.region(r)?;
        if !A::pmd_none(self.m.peek_pmd(r)) {
            return Err(ScenarioError::RegionInUse(r));
        }
        let t = self.m.table_alloc(r).ok_or(ScenarioError::ArenaFull)?;
        let pmd = A::pmd_populate(Machine::<A>::table_pfn(t)).map_err(ScenarioError::Encoding)?;
        self.m.pmd_set(r, pmd);
        Ok(t)
    }

    /// Returns region `r`'s pte table, installing an empty one first if its pmd is none.
    fn table_of(&mut self, r: u8) -> Result<u8, ScenarioError> {
        self.region(r)?;
        let pmd = self.m.peek_pmd(r);
        if A::pmd_none(pmd) {
            return self.table(r);
        }
        if A::pmd_trans_huge(pmd) {
            return Err(ScenarioError::RegionInUse(r));
        }
        self.m.table_of(pmd).ok_or(ScenarioError::RegionInUse(r))
    }

    fn set_pte(&mut self, r: u8, slot: usize, pte: Pte<A>) -> Result<(), ScenarioError> {
        Self::slot(slot)?;
        let t = self.table_of(r)?;
        if !A::pte_none(self.m.table(t).ptes[slot]) {
            return Err(ScenarioError::SlotInUse { region: r, slot });
        }
        self.m.pte_set(t, slot, pte);
        Ok(())
    }

    /// Maps page `p` at (region `r`, `slot`) with the VMA's protection, as `init` says; the
    /// page gains a mapping and a reference. Map one page in several regions (of one or
    /// several processes) for a shared page.
    ///
    /// # Errors
    /// The region, slot or page does not exist, the slot already maps something, the region
    /// maps a huge pmd, or the backend cannot encode the pte.
    pub fn map_pte(
        &mut self,
        r: u8,
        slot: usize,
        p: u8,
        init: PteInit,
    ) -> Result<(), ScenarioError> {
        self.allocated(p)?;
        let prot = if init.writable {
            self.m.prot()
        } else {
            self.m.prot().read_only()
        };
        let mut pte = A::pfn_pte(Machine::<A>::page_pfn(p), A::pte_pgprot(prot))
            .map_err(ScenarioError::Encoding)?;
        pte = if init.writable {
            A::pte_mkwrite(pte)
        } else {
            A::pte_wrprotect(pte)
        };
        if init.dirty {
            pte = A::pte_mkdirty(pte);
        }
        pte = if init.young {
            A::pte_mkyoung(pte)
        } else {
            A::pte_mkold(pte)
        };
        self.set_pte(r, slot, pte)?;
        self.m.page_map(p, r, 1);
        self.m.page_get(p);
        Ok(())
    }

    /// Maps huge page `p` with region `r`'s pmd in an anonymous VMA, as `init` says, and
    /// deposits a table for its later split: the page gains a mapping and a reference. A
    /// write-protected pmd is what `fork` leaves in both processes (`copy_huge_pmd`:
    /// `pmdp_set_wrprotect`, `pmd_wrprotect`); the next write fault is `wp_huge_pmd`.
    ///
    /// # Errors
    /// The region or page does not exist, the region maps something, the VMA is file-backed,
    /// the page is small or `init` asks for an old pmd (the model's huge pmds are young:
    /// [`ScenarioError::Unsupported`]), or the backend has no THP.
    pub fn map_pmd(&mut self, r: u8, p: u8, init: PteInit) -> Result<(), ScenarioError> {
        self.region(r)?;
        self.allocated(p)?;
        if !self.m.vma_is_anonymous() {
            return Err(ScenarioError::FileVma);
        }
        if !self.m.page(p).huge {
            return Err(ScenarioError::Unsupported(
                "a small page mapped by a huge pmd",
            ));
        }
        if !init.young {
            return Err(ScenarioError::Unsupported("an old huge pmd"));
        }
        if !A::pmd_none(self.m.peek_pmd(r)) {
            return Err(ScenarioError::RegionInUse(r));
        }
        let prot = if init.writable {
            self.m.prot()
        } else {
            self.m.prot().read_only()
        };
        let mut pmd =
            A::mk_huge_pmd(Machine::<A>::page_pfn(p), prot).map_err(ScenarioError::Encoding)?;
        if init.dirty {
            pmd = A::pmd_mkdirty(pmd);
        }
        if init.writable {
            pmd = A::pmd_mkwrite(pmd);
        }
        let table = self.m.table_alloc(r).ok_or(ScenarioError::ArenaFull)?;
        self.m.pmd_set(r, A::set_pmd_at(pmd));
        self.m.deposit(r, table);
        self.m.page_map(p, r, 1);
        self.m.page_get(p);
        Ok(())
    }

    /// Stores a swap entry of type `ty` and offset `offset` at (region `r`, `slot`).
    ///
    /// # Errors
    /// The region or slot does not exist or is in use, or the entry does not fit the
    /// backend's swap layout.
    pub fn swap_pte(
        &mut self,
        r: u8,
        slot: usize,
        ty: u32,
        offset: u64,
    ) -> Result<(), ScenarioError> {
        let entry = SwpEntry::new::<A>(ty, offset).map_err(ScenarioError::Encoding)?;
        self.set_pte(r, slot, A::swp_entry_to_pte(entry))
    }

    /// Stores the migration entry `try_to_migrate_one` leaves for page `p` at (region `r`,
    /// `slot`): `make_*_migration_entry(page_to_pfn(page))`, the pfn as the offset, no
    /// young or dirty bit. The page's counts are left as they are (the caller says what
    /// the migration holds: its mapping is already gone, its references are not).
    ///
    /// # Errors
    /// [`ScenarioError::NoSuchPage`], a region or slot that does not exist or is in use, or
    /// an entry that does not fit the backend's swap layout.
    pub fn migration_pte(
        &mut self,
        r: u8,
        slot: usize,
        p: u8,
        kind: MigrationKind,
    ) -> Result<(), ScenarioError> {
        self.allocated(p)?;
        self.swap_pte(r, slot, kind.swap_type(), Machine::<A>::page_pfn(p))
    }

    /// CPU `cpu` caches what (region `r`, `slot`) translates to now (`slot` `None`: the huge
    /// entry), as if its thread had touched it before the scenario starts.
    ///
    /// # Errors
    /// The CPU, region or slot does not exist, or nothing is mapped there.
    pub fn tlb(&mut self, cpu: u8, r: u8, slot: Option<usize>) -> Result<(), ScenarioError> {
        if usize::from(cpu) >= MAX_THREADS {
            return Err(ScenarioError::TooManyThreads { max: MAX_THREADS });
        }
        self.region(r)?;
        let s = slot.unwrap_or(0);
        Self::slot(s)?;
        let pfn = self
            .m
            .translate(r, s)
            .ok_or(ScenarioError::NothingMapped { region: r, slot: s })?;
        // The huge entry caches the pmd's first pfn: slot 0's translation.
        self.m.tlb_fill(cpu, r, slot, pfn);
        Ok(())
    }

    /// Inserts a VMA of `mm` over regions `[start, end)` with `flags` into its mm's tree
    /// (`find_vma`, `vma_lookup` and munmap see it); returns its id. Ids count up from 0 in
    /// the order VMAs are made, here and by the programs' [`Machine::vma_insert`].
    ///
    /// # Errors
    /// [`ScenarioError::NoSuchMm`], or [`ScenarioError::BadVma`]: an empty range, one past
    /// the scenario's regions, an overlap with another VMA of the mm, a region of another
    /// mm, no VMA slot left.
    pub fn vma(
        &mut self,
        mm: u8,
        start: u8,
        end: u8,
        flags: VmFlags,
    ) -> Result<VmaId, ScenarioError> {
        if usize::from(mm) >= MAX_MMS {
            return Err(ScenarioError::NoSuchMm(mm));
        }
        let bad = |why| Err(ScenarioError::BadVma { start, end, why });
        if start >= end {
            return bad("the range is empty");
        }
        if end > self.m.npmds() {
            return bad("it reaches past the scenario's regions");
        }
        if (start..end).any(|r| self.m.mm_of_region(r) != mm) {
            return bad("a region in it belongs to another mm (ScenarioBuilder::region_in)");
        }
        if self.m.vma_overlaps(mm, start, end) {
            return bad("it overlaps another VMA of its mm");
        }
        if self.m.vmas().count() >= MAX_VMAS {
            return bad("every VMA slot is used (MAX_VMAS)");
        }
        self.m
            .vma_insert(mm, start, end, flags)
            .map_or(bad("the machine refused it"), Ok)
    }

    /// Puts page `p` in the file's page cache at `index` (a page-cache page, with the cache's
    /// reference) and grows `i_size` to cover it.
    ///
    /// # Errors
    /// [`ScenarioError::NoSuchPage`], or [`ScenarioError::NoSuchSlot`] for an index past the
    /// modelled ones.
    pub fn cache_page(&mut self, index: usize, p: u8) -> Result<(), ScenarioError> {
        self.allocated(p)?;
        if index >= CACHE_SLOTS {
            return Err(ScenarioError::NoSuchSlot(index));
        }
        self.m.page_set_file(p, true);
        self.m.page_get(p);
        if self.m.cache_get(index).is_none() {
            self.m.add_nrpages(1);
        }
        self.m.cache_set(index, Some(p));
        let size = self.m.i_size().max(index as u8 + 1);
        self.m.set_i_size(size);
        Ok(())
    }

    /// Sets the VMA's protection (what later ptes and faults use).
    pub fn protection(&mut self, prot: Protection) {
        self.m.set_prot(prot);
    }
}
