//! [`RawRegion`]: the variable region as the firmware holds it, an address and a length in runtime memory.
//!
//! A `&'static mut [u8]` would do as long as the region stays where it is, but SetVirtualAddressMap (UEFI 2.10
//! section 8.4) moves it: the firmware passes its address through ConvertPointer and from then on the store must
//! use the virtual address. [`RawRegion::convert`] is that one change.

use crate::error::{Result, RuntimeError};

/// A region of `len` bytes at `base`, owned by one [`super::VariableStore`].
///
/// Invariant: `[base, base + len)` is readable and writable in the address space of every later call, and nothing
/// else accesses it (the constructor's and [`RawRegion::convert`]'s contracts).
pub struct RawRegion {
    base: *mut u8,
    len: usize,
}

// SAFETY: the region is exclusively owned (type invariant), so moving the handle to another thread moves that
// ownership; there is no shared state.
unsafe impl Send for RawRegion {}

impl RawRegion {
    /// Takes ownership of `[base, base + len)`.
    ///
    /// # Safety
    /// The range is valid for reads and writes for as long as the region is used, is accessed through this handle
    /// only, and `len <= isize::MAX`.
    pub unsafe fn new(base: *mut u8, len: usize) -> RawRegion {
        RawRegion { base, len }
    }

    /// The region's current base address.
    pub fn address(&self) -> usize {
        self.base as usize
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the region has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Replaces the base address by `convert(base)` (ConvertPointer during SetVirtualAddressMap).
    ///
    /// Errors: [`RuntimeError::NotFound`] when `convert` returns `None`; the address is then unchanged.
    ///
    /// # Safety
    /// A `Some` result must be the address at which the same bytes are mapped in every later call; the region must
    /// not be accessed between this call and the switch to that address space.
    pub unsafe fn convert(&mut self, convert: impl FnOnce(usize) -> Option<usize>) -> Result<()> {
        let new = convert(self.base as usize).ok_or(RuntimeError::NotFound)?;
        self.base = new as *mut u8;
        Ok(())
    }
}

impl super::VariableStore<RawRegion> {
    /// [`RawRegion::convert`] on the store's region: SetVirtualAddressMap's one change to a store.
    ///
    /// Errors: [`RuntimeError::NotFound`] when `convert` returns `None`; nothing changes then.
    ///
    /// # Safety
    /// As [`RawRegion::convert`].
    pub unsafe fn convert_region(
        &mut self,
        convert: impl FnOnce(usize) -> Option<usize>,
    ) -> Result<()> {
        // SAFETY: forwarded contract.
        unsafe { self.region_mut().convert(convert) }
    }
}

impl AsRef<[u8]> for RawRegion {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: valid, exclusively owned bytes (type invariant); the borrow of `self` bounds the slice's life.
        unsafe { core::slice::from_raw_parts(self.base, self.len) }
    }
}

impl AsMut<[u8]> for RawRegion {
    fn as_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_ref`; the exclusive borrow of `self` makes this the only reference.
        unsafe { core::slice::from_raw_parts_mut(self.base, self.len) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variables::tests::{ucs2, VENDOR_A as VENDOR};
    use crate::variables::{Phase, VariableName, VariableStore, RECOMMENDED_STORE_SIZE};
    use r_efi::efi::VARIABLE_BOOTSERVICE_ACCESS as BS;
    use std::boxed::Box;
    use std::vec;

    const BOOT: Phase = Phase::BootServices;

    #[test]
    fn a_store_keeps_working_after_its_region_moves() {
        let first: &'static mut [u8] =
            Box::leak(vec![0u8; RECOMMENDED_STORE_SIZE].into_boxed_slice());
        let second: &'static mut [u8] =
            Box::leak(vec![0u8; RECOMMENDED_STORE_SIZE].into_boxed_slice());
        let second_address = second.as_mut_ptr() as usize;
        let (name_a, name_b) = (ucs2("A"), ucs2("B"));
        let (a, b) = (
            VariableName::new(&name_a).unwrap(),
            VariableName::new(&name_b).unwrap(),
        );
        // SAFETY: a leaked buffer of that length, used only through the region.
        let region = unsafe { RawRegion::new(first.as_mut_ptr(), first.len()) };
        let mut store = VariableStore::format(region).unwrap();
        store
            .set_variable(BOOT, &a, &VENDOR, BS, b"before")
            .unwrap();
        let mut region = store.into_region();
        // The test's "virtual mapping": the same bytes seen at another address.
        second.copy_from_slice(first);
        first.fill(0);
        // SAFETY: `second` holds the same bytes and is used only through the region from here on.
        unsafe {
            assert_eq!(region.convert(|_| None), Err(RuntimeError::NotFound));
            region.convert(|_| Some(second_address)).unwrap();
        }
        assert_eq!(region.address(), second_address);
        let mut store = VariableStore::open(region).unwrap();
        store.set_variable(BOOT, &b, &VENDOR, BS, b"after").unwrap();
        let mut data = [0u8; 8];
        let info = store.get_variable(BOOT, &a, &VENDOR, &mut data).unwrap();
        assert_eq!(&data[..info.data_size], b"before");
        let info = store.get_variable(BOOT, &b, &VENDOR, &mut data).unwrap();
        assert_eq!(&data[..info.data_size], b"after");
        assert!(
            first.iter().all(|&b| b == 0),
            "the old address is never written"
        );
    }
}
