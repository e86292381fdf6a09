//! Tests of the raw-pointer layer and the `extern "efiapi"` entry points.

use core::ffi::c_void;
use core::ptr;
use std::boxed::Box;
use std::vec;
use std::vec::Vec;

use r_efi::efi::{
    Guid, MemoryDescriptor, RuntimeServices, Status, TableHeader, Time, RUNTIME_SERVICES_SIGNATURE,
    VARIABLE_BOOTSERVICE_ACCESS as BS, VARIABLE_RUNTIME_ACCESS as RT,
};

use super::*;
use crate::ops::{Dispatcher, RuntimeOps, UNAVAILABLE_OPS};
use crate::variables::{Phase, VariableStore, RECOMMENDED_STORE_SIZE};

const VENDOR: Guid = Guid::from_fields(0xaabbccdd, 1, 2, 3, 4, &[5, 6, 7, 8, 9, 10]);

fn ucs2(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(core::iter::once(0)).collect()
}

struct NoClock;
impl crate::ops::Clock for NoClock {
    fn get_time(&mut self) -> crate::Result<(Time, r_efi::efi::TimeCapabilities)> {
        Err(RuntimeError::DeviceError(crate::DeviceFault::Clock))
    }
    fn set_time(&mut self, _: &Time) -> crate::Result<()> {
        Err(RuntimeError::DeviceError(crate::DeviceFault::Clock))
    }
}
struct NoReset;
impl crate::ops::Reset for NoReset {
    fn reset(&self, _: r_efi::efi::ResetType) {}
}

/// A native back end whose store holds "Lang" = "en" (BS|RT).
fn native_ops() -> &'static RuntimeOps {
    let mut store = VariableStore::format(vec![0u8; RECOMMENDED_STORE_SIZE]).unwrap();
    let name = ucs2("Lang");
    store
        .set_variable(
            Phase::BootServices,
            &VariableName::new(&name).unwrap(),
            &VENDOR,
            BS | RT,
            b"en",
        )
        .unwrap();
    let platform = crate::ops::PlatformServices::new(NoClock, NoReset, 0);
    let backend = Box::leak(Box::new(crate::ops::Native::new(store, platform)));
    Box::leak(Box::new(RuntimeOps {
        name: "native",
        backend,
    }))
}

#[test]
fn get_variable_writes_size_and_attributes() {
    let d = Dispatcher::new(native_ops());
    let name = ucs2("Lang");
    let (mut attributes, mut size, mut buf) = (0u32, 8usize, [0u8; 8]);
    // SAFETY: every pointer refers to a live local of the right size.
    let status = unsafe {
        get_variable(
            &d,
            name.as_ptr(),
            &VENDOR,
            &mut attributes,
            &mut size,
            buf.as_mut_ptr() as *mut c_void,
        )
    };
    assert_eq!(status, Status::SUCCESS);
    assert_eq!((attributes, size, &buf[..2]), (BS | RT, 2, &b"en"[..]));
}

#[test]
fn get_variable_too_small_writes_needed_size() {
    let d = Dispatcher::new(native_ops());
    let name = ucs2("Lang");
    let (mut attributes, mut size) = (0u32, 0usize);
    // SAFETY: size 0 with a null data pointer is allowed; the other pointers are live locals.
    let status = unsafe {
        get_variable(
            &d,
            name.as_ptr(),
            &VENDOR,
            &mut attributes,
            &mut size,
            ptr::null_mut(),
        )
    };
    assert_eq!(status, Status::BUFFER_TOO_SMALL);
    assert_eq!((size, attributes), (2, BS | RT));
}

#[test]
fn null_required_pointers_are_invalid_parameter() {
    let d = Dispatcher::new(native_ops());
    let name = ucs2("Lang");
    let mut size = 4usize;
    // SAFETY: the pointers are null or live locals; the functions must reject the nulls before use.
    unsafe {
        let s = get_variable(
            &d,
            ptr::null(),
            &VENDOR,
            ptr::null_mut(),
            &mut size,
            ptr::null_mut(),
        );
        assert_eq!(s, Status::INVALID_PARAMETER);
        let s = get_variable(
            &d,
            name.as_ptr(),
            &VENDOR,
            ptr::null_mut(),
            &mut size,
            ptr::null_mut(),
        );
        assert_eq!(s, Status::INVALID_PARAMETER, "null data with non-zero size");
        assert_eq!(
            set_variable(&d, name.as_ptr(), ptr::null(), BS, 0, ptr::null()),
            Status::INVALID_PARAMETER
        );
        assert_eq!(
            set_variable(&d, name.as_ptr(), &VENDOR, BS, 3, ptr::null()),
            Status::INVALID_PARAMETER
        );
        let mut x = 0u64;
        assert_eq!(
            query_variable_info(&d, BS, &mut x, ptr::null_mut(), &mut x),
            Status::INVALID_PARAMETER
        );
        assert_eq!(
            get_time(&d, ptr::null_mut(), ptr::null_mut()),
            Status::INVALID_PARAMETER
        );
        assert_eq!(
            get_next_high_monotonic_count(&d, ptr::null_mut()),
            Status::INVALID_PARAMETER
        );
        assert_eq!(
            update_capsule(&d, ptr::null(), 0, 0),
            Status::INVALID_PARAMETER
        );
    }
}

#[test]
fn misaligned_name_is_invalid_parameter() {
    let d = Dispatcher::new(native_ops());
    let bytes = [0u8; 8];
    let odd = bytes
        .as_ptr()
        .wrapping_add(if bytes.as_ptr() as usize % 2 == 0 {
            1
        } else {
            0
        }) as *const u16;
    // SAFETY: the misaligned pointer is rejected before any read.
    let s = unsafe { set_variable(&d, odd, &VENDOR, BS, 0, ptr::null()) };
    assert_eq!(s, Status::INVALID_PARAMETER);
}

#[test]
fn set_then_enumerate_through_raw_pointers() {
    let d = Dispatcher::new(native_ops());
    let name = ucs2("Zz");
    // SAFETY: live locals of the sizes passed.
    let s = unsafe {
        set_variable(
            &d,
            name.as_ptr(),
            &VENDOR,
            BS,
            1,
            b"z".as_ptr() as *const c_void,
        )
    };
    assert_eq!(s, Status::SUCCESS);

    let mut buf = [0u16; 64];
    let mut vendor = Guid::from_bytes(&[0; 16]);
    let mut size = 2usize; // room for the empty starting name only
                           // SAFETY: `buf` holds at least `size` bytes; `vendor` and `size` are live locals.
    let s = unsafe { get_next_variable_name(&d, &mut size, buf.as_mut_ptr(), &mut vendor) };
    assert_eq!(
        (s, size),
        (Status::BUFFER_TOO_SMALL, 10),
        "\"Lang\" needs 10 bytes with its NUL"
    );
    let mut seen = Vec::new();
    loop {
        let mut size = 128usize;
        // SAFETY: `buf` holds 128 bytes.
        let s = unsafe { get_next_variable_name(&d, &mut size, buf.as_mut_ptr(), &mut vendor) };
        if s == Status::NOT_FOUND {
            break;
        }
        assert_eq!(s, Status::SUCCESS);
        seen.push(buf[..size / 2].to_vec());
    }
    assert_eq!(seen, vec![ucs2("Lang"), ucs2("Zz")]);
}

unsafe extern "efiapi" fn core_svam(
    _: usize,
    _: usize,
    _: u32,
    _: *mut MemoryDescriptor,
) -> Status {
    Status::ABORTED
}

unsafe extern "efiapi" fn core_convert(_: usize, _: *mut *mut c_void) -> Status {
    Status::ABORTED
}

#[test]
fn the_table_routes_through_the_global_dispatcher_and_keeps_the_core_entries() {
    let header = TableHeader {
        signature: RUNTIME_SERVICES_SIGNATURE,
        revision: 0,
        header_size: core::mem::size_of::<RuntimeServices>() as u32,
        crc32: 0,
        reserved: 0,
    };
    let table = crate::entry::table(header, core_svam, core_convert);
    // SAFETY: calling the entries the table was built with; they take no pointer.
    unsafe {
        assert_eq!(
            (table.set_virtual_address_map)(0, 0, 0, ptr::null_mut()),
            Status::ABORTED
        );
        assert_eq!((table.convert_pointer)(0, ptr::null_mut()), Status::ABORTED);
    }
    let name = ucs2("Lang");
    let mut vendor = VENDOR;
    let (mut size, mut buf) = (8usize, [0u8; 8]);
    let call = |size: &mut usize, buf: &mut [u8; 8], vendor: &mut Guid| {
        // SAFETY: live locals; the entry point is called as firmware callers would call it.
        unsafe {
            (table.get_variable)(
                name.as_ptr() as *mut u16,
                vendor,
                ptr::null_mut(),
                size,
                buf.as_mut_ptr() as *mut c_void,
            )
        }
    };
    assert!(core::ptr::eq(
        crate::entry::RUNTIME.current(),
        &UNAVAILABLE_OPS
    ));
    assert_eq!(call(&mut size, &mut buf, &mut vendor), Status::UNSUPPORTED);
    crate::entry::RUNTIME.switch_backend(native_ops());
    assert_eq!(call(&mut size, &mut buf, &mut vendor), Status::SUCCESS);
    assert_eq!(&buf[..size], b"en");
}
