//! The ABI edge: turns the raw pointers of the runtime-services calls (UEFI 2.10 chapter 8) into safe arguments,
//! calls a [`Dispatcher`], and writes the results back.
//!
//! Each function checks every pointer the spec marks as required (null -> `EFI_INVALID_PARAMETER`) and its
//! alignment, bounds every buffer by the size the caller gave, and scans a variable name for its NUL over at most
//! [`MAX_NAME_UNITS`] code units. Output pointers are written only on the outcomes where the spec defines them
//! (success, and `EFI_BUFFER_TOO_SMALL` for the size and GetVariable's attributes).

use core::ffi::c_void;
use core::slice;

use r_efi::efi::{
    Boolean, CapsuleHeader, Guid, PhysicalAddress, ResetType, Status, Time, TimeCapabilities,
};

use crate::error::{InvalidParameter, Result, RuntimeError};
use crate::ops::Dispatcher;
use crate::variables::{VariableName, MAX_VARIABLE_SIZE};

#[cfg(test)]
mod tests;

/// Longest name scanned for its NUL, in UCS-2 code units: no stored name can be longer.
pub const MAX_NAME_UNITS: usize = MAX_VARIABLE_SIZE / 2;

/// Null and alignment check of a pointer the spec requires.
fn required<T>(p: *const T) -> Result<()> {
    if p.is_null() {
        return Err(InvalidParameter::NullPointer.into());
    }
    if !p.is_aligned() {
        return Err(InvalidParameter::MisalignedPointer.into());
    }
    Ok(())
}

/// Null, alignment and size check of a buffer of `len` elements of `T` (`len == 0` allows null).
fn buffer<T>(p: *const T, len: usize) -> Result<()> {
    if len == 0 {
        return Ok(());
    }
    required(p)?;
    if len
        .checked_mul(core::mem::size_of::<T>())
        .is_none_or(|bytes| bytes > isize::MAX as usize)
    {
        return Err(InvalidParameter::BadSize.into());
    }
    Ok(())
}

/// # Safety
/// `p` is null, or valid for reads of `len` elements of `T` for `'a` (checked non-null and aligned by [`buffer`]).
unsafe fn slice_in<'a, T>(p: *const T, len: usize) -> Result<&'a [T]> {
    buffer(p, len)?;
    if len == 0 {
        return Ok(&[]);
    }
    // SAFETY: non-null, aligned and size-checked above; the caller guarantees `len` readable elements.
    Ok(unsafe { slice::from_raw_parts(p, len) })
}

/// # Safety
/// `p` is null, or valid for reads and writes of `len` elements of `T` for `'a`, with no other reference to them.
unsafe fn slice_out<'a, T>(p: *mut T, len: usize) -> Result<&'a mut [T]> {
    buffer(p, len)?;
    if len == 0 {
        return Ok(&mut []);
    }
    // SAFETY: non-null, aligned and size-checked above; the caller guarantees exclusive access to `len` elements.
    Ok(unsafe { slice::from_raw_parts_mut(p, len) })
}

/// # Safety
/// `name` is null or points at readable UCS-2 units up to a NUL or [`MAX_NAME_UNITS`], whichever comes first.
unsafe fn name_at<'a>(name: *const u16) -> Result<VariableName<'a>> {
    required(name)?;
    let mut len = 0;
    // SAFETY: the caller guarantees units are readable up to the NUL; the scan stops there or at the bound.
    while len < MAX_NAME_UNITS && unsafe { name.add(len).read() } != 0 {
        len += 1;
    }
    if len == MAX_NAME_UNITS {
        return Err(crate::variables::NameError::MissingNul.into());
    }
    // SAFETY: the `len + 1` units up to and including the NUL were just read.
    Ok(VariableName::new(unsafe {
        slice::from_raw_parts(name, len + 1)
    })?)
}

/// # Safety
/// `p` is null or valid for a read of `T`.
unsafe fn read<T: Copy>(p: *const T) -> Result<T> {
    required(p)?;
    // SAFETY: non-null and aligned (checked); readable by the caller's guarantee.
    Ok(unsafe { p.read() })
}

/// Writes `value` through `p` if it is non-null (optional outputs).
///
/// # Safety
/// `p` is null or valid for a write of `T`.
unsafe fn write_optional<T>(p: *mut T, value: T) {
    if !p.is_null() && p.is_aligned() {
        // SAFETY: non-null and aligned (checked); writable by the caller's guarantee.
        unsafe { p.write(value) }
    }
}

fn status(result: Result<()>) -> Status {
    match result {
        Ok(()) => Status::SUCCESS,
        Err(e) => {
            log::trace!(target: "runtime::ffi", "runtime call failed: {e:?}");
            e.status()
        }
    }
}

/// GetVariable (8.2) with the ABI's pointers.
///
/// # Safety
/// The pointers are as UEFI 2.10 specifies: `name` a NUL-terminated string, `vendor` a GUID, `attributes` null or
/// writable, `data_size` readable and writable, `data` writable for `*data_size` bytes.
pub unsafe fn get_variable(
    d: &Dispatcher,
    name: *const u16,
    vendor: *const Guid,
    attributes: *mut u32,
    data_size: *mut usize,
    data: *mut c_void,
) -> Status {
    // SAFETY: each helper checks null/alignment; validity beyond that is this function's safety contract.
    status(unsafe {
        (|| {
            let name = name_at(name)?;
            let vendor = read(vendor)?;
            let size = read(data_size)?;
            let buf = slice_out(data as *mut u8, size)?;
            match d.get_variable(&name, &vendor, buf) {
                Ok(info) => {
                    write_optional(attributes, info.attributes);
                    data_size.write(info.data_size);
                    Ok(())
                }
                Err(RuntimeError::BufferTooSmall {
                    needed,
                    attributes: a,
                }) => {
                    write_optional(attributes, a);
                    data_size.write(needed);
                    Err(RuntimeError::BufferTooSmall {
                        needed,
                        attributes: a,
                    })
                }
                Err(e) => Err(e),
            }
        })()
    })
}

/// GetNextVariableName (8.2) with the ABI's pointers; `*name_size` is in bytes.
///
/// # Safety
/// `name_size` readable and writable; `name` readable and writable for `*name_size` bytes; `vendor` readable and
/// writable.
pub unsafe fn get_next_variable_name(
    d: &Dispatcher,
    name_size: *mut usize,
    name: *mut u16,
    vendor: *mut Guid,
) -> Status {
    // SAFETY: each helper checks null/alignment; validity beyond that is this function's safety contract.
    status(unsafe {
        (|| {
            let size = read(name_size)?;
            let mut guid = read(vendor)?;
            required(name)?;
            let units = slice_out(name, size / 2)?;
            match d.get_next_variable_name(units, &mut guid) {
                Ok(written) => {
                    name_size.write(written);
                    vendor.write(guid);
                    Ok(())
                }
                Err(RuntimeError::BufferTooSmall { needed, attributes }) => {
                    name_size.write(needed);
                    Err(RuntimeError::BufferTooSmall { needed, attributes })
                }
                Err(e) => Err(e),
            }
        })()
    })
}

/// SetVariable (8.2) with the ABI's pointers.
///
/// # Safety
/// `name` a NUL-terminated string, `vendor` a GUID, `data` readable for `data_size` bytes.
pub unsafe fn set_variable(
    d: &Dispatcher,
    name: *const u16,
    vendor: *const Guid,
    attributes: u32,
    data_size: usize,
    data: *const c_void,
) -> Status {
    // SAFETY: each helper checks null/alignment; validity beyond that is this function's safety contract.
    status(unsafe {
        (|| {
            let name = name_at(name)?;
            let vendor = read(vendor)?;
            let data = slice_in(data as *const u8, data_size)?;
            d.set_variable(&name, &vendor, attributes, data)
        })()
    })
}

/// QueryVariableInfo (8.2) with the ABI's pointers.
///
/// # Safety
/// The three output pointers are writable `u64`s.
pub unsafe fn query_variable_info(
    d: &Dispatcher,
    attributes: u32,
    maximum_variable_storage_size: *mut u64,
    remaining_variable_storage_size: *mut u64,
    maximum_variable_size: *mut u64,
) -> Status {
    // SAFETY: the outputs are checked by `required`; writability is this function's safety contract.
    status(unsafe {
        (|| {
            required(maximum_variable_storage_size)?;
            required(remaining_variable_storage_size)?;
            required(maximum_variable_size)?;
            let info = d.query_variable_info(attributes)?;
            maximum_variable_storage_size.write(info.maximum_variable_storage_size);
            remaining_variable_storage_size.write(info.remaining_variable_storage_size);
            maximum_variable_size.write(info.maximum_variable_size);
            Ok(())
        })()
    })
}

/// GetTime (8.3) with the ABI's pointers; `capabilities` is optional.
///
/// # Safety
/// `time` writable; `capabilities` null or writable.
pub unsafe fn get_time(
    d: &Dispatcher,
    time: *mut Time,
    capabilities: *mut TimeCapabilities,
) -> Status {
    // SAFETY: `time` is checked by `required`; writability is this function's safety contract.
    status(unsafe {
        (|| {
            required(time)?;
            let (now, caps) = d.get_time()?;
            time.write(now);
            write_optional(capabilities, caps);
            Ok(())
        })()
    })
}

/// SetTime (8.3) with the ABI's pointer.
///
/// # Safety
/// `time` readable.
pub unsafe fn set_time(d: &Dispatcher, time: *const Time) -> Status {
    // SAFETY: `read` checks null/alignment; readability is this function's safety contract.
    status(unsafe { read(time) }.and_then(|t| d.set_time(&t)))
}

/// GetWakeupTime (8.3) with the ABI's pointers.
///
/// # Safety
/// All three pointers writable.
pub unsafe fn get_wakeup_time(
    d: &Dispatcher,
    enabled: *mut Boolean,
    pending: *mut Boolean,
    time: *mut Time,
) -> Status {
    // SAFETY: the outputs are checked by `required`; writability is this function's safety contract.
    status(unsafe {
        (|| {
            required(enabled)?;
            required(pending)?;
            required(time)?;
            let wakeup = d.get_wakeup_time()?;
            enabled.write(wakeup.enabled.into());
            pending.write(wakeup.pending.into());
            time.write(wakeup.time);
            Ok(())
        })()
    })
}

/// SetWakeupTime (8.3) with the ABI's pointer; `time` may be null when disabling.
///
/// # Safety
/// `time` null or readable.
pub unsafe fn set_wakeup_time(d: &Dispatcher, enable: Boolean, time: *const Time) -> Status {
    // SAFETY: `read` checks null/alignment; readability is this function's safety contract.
    let time = if time.is_null() {
        Ok(None)
    } else {
        unsafe { read(time) }.map(Some)
    };
    status(time.and_then(|t| d.set_wakeup_time(enable.into(), t.as_ref())))
}

/// GetNextHighMonotonicCount (8.5.2) with the ABI's pointer.
///
/// # Safety
/// `high_count` writable.
pub unsafe fn get_next_high_monotonic_count(d: &Dispatcher, high_count: *mut u32) -> Status {
    // SAFETY: checked by `required`; writability is this function's safety contract.
    status(
        required(high_count)
            .and_then(|()| d.get_next_high_monotonic_count())
            .map(|n| unsafe { high_count.write(n) }),
    )
}

/// ResetSystem (8.5.1) with the ABI's pointer; returns only if the back end could not reset.
///
/// # Safety
/// `reset_data` null or readable for `data_size` bytes.
pub unsafe fn reset_system(
    d: &Dispatcher,
    reset_type: ResetType,
    reset_status: Status,
    data_size: usize,
    reset_data: *const c_void,
) {
    // SAFETY: `slice_in` checks null/alignment/size; readability is this function's safety contract.
    let data = unsafe { slice_in(reset_data as *const u8, data_size) }.unwrap_or(&[]);
    d.reset_system(reset_type, reset_status, data);
}

/// # Safety
/// `headers` null or readable for `count` pointers, each null or pointing at a readable capsule header.
unsafe fn capsule_list<'a>(
    headers: *const *mut CapsuleHeader,
    count: usize,
) -> Result<&'a [&'a CapsuleHeader]> {
    if count == 0 {
        return Err(InvalidParameter::NoCapsules.into());
    }
    // SAFETY: the caller guarantees `count` readable pointers.
    let pointers = unsafe { slice_in(headers, count)? };
    for &p in pointers {
        required(p as *const CapsuleHeader)?;
    }
    // SAFETY: every pointer is non-null and aligned (checked), and `&CapsuleHeader` has the layout of
    // `*mut CapsuleHeader`; the headers are readable by the caller's guarantee.
    Ok(unsafe { slice::from_raw_parts(headers as *const &CapsuleHeader, count) })
}

/// UpdateCapsule (8.5.3) with the ABI's pointers.
///
/// # Safety
/// `headers` readable for `count` pointers to readable headers.
pub unsafe fn update_capsule(
    d: &Dispatcher,
    headers: *const *mut CapsuleHeader,
    count: usize,
    scatter_gather_list: PhysicalAddress,
) -> Status {
    // SAFETY: forwarded contract.
    status(
        unsafe { capsule_list(headers, count) }
            .and_then(|list| d.update_capsule(list, scatter_gather_list)),
    )
}

/// QueryCapsuleCapabilities (8.5.3) with the ABI's pointers.
///
/// # Safety
/// `headers` as for [`update_capsule`]; `maximum_capsule_size` and `reset_type` writable.
pub unsafe fn query_capsule_capabilities(
    d: &Dispatcher,
    headers: *const *mut CapsuleHeader,
    count: usize,
    maximum_capsule_size: *mut u64,
    reset_type: *mut ResetType,
) -> Status {
    // SAFETY: pointers checked by the helpers; validity beyond that is this function's safety contract.
    status(unsafe {
        (|| {
            let list = capsule_list(headers, count)?;
            required(maximum_capsule_size)?;
            required(reset_type)?;
            let caps = d.query_capsule_capabilities(list)?;
            maximum_capsule_size.write(caps.maximum_capsule_size);
            reset_type.write(caps.reset_type);
            Ok(())
        })()
    })
}
