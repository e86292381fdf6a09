//! The boot manager's access to UEFI variables under `EFI_GLOBAL_VARIABLE`, through the system table's runtime
//! services (GetVariable, GetNextVariableName, SetVariable; UEFI 2.10 section 8.2), as any UEFI code would reach
//! them: the boot manager does not depend on how the store is built.
//!
//! Each function returns the service's status on failure; the callers log it and go on (a boot without a working
//! variable store still boots, it just leaves nothing behind).

use alloc::string::String;
use alloc::vec::Vec;
use core::ffi::c_void;

use boot_manager::status::Name;
use core::sync::atomic::{AtomicBool, Ordering};
use r_efi::efi::{self, Guid, Status};

use crate::efi::system_table::system_table;

/// Largest variable value read (bytes): load options are far smaller.
const MAX_VALUE: usize = 64 << 10;
/// Most names GetNextVariableName is asked for (a bound against a store that never says NOT_FOUND).
const MAX_NAMES: usize = 8192;

/// Whether the "no variable services" warning was given.
static UNAVAILABLE_REPORTED: AtomicBool = AtomicBool::new(false);

/// Logs a failed variable operation on `name` (`what`: "not written", ...). A store that does not exist
/// (`EFI_UNSUPPORTED`, `EFI_NOT_READY`) is reported once, not once per variable.
pub fn warn_failed(name: &str, what: &str, status: Status) {
    if matches!(status, Status::UNSUPPORTED | Status::NOT_READY) {
        if !UNAVAILABLE_REPORTED.swap(true, Ordering::Relaxed) {
            log::warn!(target: "boot", "variable services unavailable ({}): boot options live for this boot only", Name(status));
        }
    } else {
        log::warn!(target: "boot", "{name} {what}: {}", Name(status));
    }
}

fn runtime() -> Result<*mut efi::RuntimeServices, Status> {
    let st = system_table();
    if st.is_null() {
        return Err(Status::NOT_READY);
    }
    // SAFETY: the live system table built at bring-up.
    let rt = unsafe { (*st).runtime_services };
    if rt.is_null() {
        Err(Status::NOT_READY)
    } else {
        Ok(rt)
    }
}

fn ucs2(name: &str) -> Vec<u16> {
    name.encode_utf16().chain(core::iter::once(0)).collect()
}

/// The value and attributes of global variable `name`; `Ok(None)` when it does not exist.
pub fn get(name: &str) -> Result<Option<(u32, Vec<u8>)>, Status> {
    let rt = runtime()?;
    let mut name = ucs2(name);
    let mut guid = efi::GLOBAL_VARIABLE;
    let mut attributes = 0u32;
    let mut data = alloc::vec![0u8; 512];
    for _ in 0..2 {
        let mut size = data.len();
        // SAFETY: runtime services entry point; every pointer refers to live buffers of the sizes given.
        let status = unsafe {
            ((*rt).get_variable)(
                name.as_mut_ptr(),
                &mut guid,
                &mut attributes,
                &mut size,
                data.as_mut_ptr() as *mut c_void,
            )
        };
        match status {
            Status::SUCCESS => {
                data.truncate(size);
                return Ok(Some((attributes, data)));
            }
            Status::NOT_FOUND => return Ok(None),
            Status::BUFFER_TOO_SMALL if size <= MAX_VALUE => data.resize(size, 0),
            other => return Err(other),
        }
    }
    Err(Status::BUFFER_TOO_SMALL)
}

/// Writes global variable `name` with `attributes` and `data`.
pub fn set(name: &str, attributes: u32, data: &[u8]) -> Result<(), Status> {
    let rt = runtime()?;
    let mut name = ucs2(name);
    let mut guid = efi::GLOBAL_VARIABLE;
    // SAFETY: runtime services entry point; `data` is only read by SetVariable.
    let status = unsafe {
        ((*rt).set_variable)(
            name.as_mut_ptr(),
            &mut guid,
            attributes,
            data.len(),
            data.as_ptr() as *mut c_void,
        )
    };
    if status.is_error() {
        Err(status)
    } else {
        Ok(())
    }
}

/// Deletes global variable `name` (a variable that does not exist is already deleted).
pub fn delete(name: &str) -> Result<(), Status> {
    let rt = runtime()?;
    let mut name = ucs2(name);
    let mut guid = efi::GLOBAL_VARIABLE;
    // SAFETY: runtime services entry point; a zero size deletes (section 8.2, SetVariable).
    let status =
        unsafe { ((*rt).set_variable)(name.as_mut_ptr(), &mut guid, 0, 0, core::ptr::null_mut()) };
    match status {
        Status::SUCCESS | Status::NOT_FOUND => Ok(()),
        other => Err(other),
    }
}

/// The names of every global variable, in the store's order.
pub fn global_names() -> Result<Vec<String>, Status> {
    let rt = runtime()?;
    let mut names = Vec::new();
    let mut name: Vec<u16> = alloc::vec![0; 64];
    let mut guid = Guid::from_bytes(&[0; 16]);
    for _ in 0..MAX_NAMES {
        let mut size = name.len() * 2;
        // SAFETY: runtime services entry point; `name` holds `size` bytes and the previous name (NUL-terminated).
        let status =
            unsafe { ((*rt).get_next_variable_name)(&mut size, name.as_mut_ptr(), &mut guid) };
        match status {
            Status::SUCCESS => {
                if guid == efi::GLOBAL_VARIABLE {
                    let end = name.iter().position(|&u| u == 0).unwrap_or(name.len());
                    names.push(String::from_utf16_lossy(&name[..end]));
                }
            }
            Status::NOT_FOUND => return Ok(names),
            Status::BUFFER_TOO_SMALL if size <= MAX_VALUE && size / 2 > name.len() => {
                name.resize(size / 2, 0)
            }
            other => return Err(other),
        }
    }
    Err(Status::ABORTED)
}
