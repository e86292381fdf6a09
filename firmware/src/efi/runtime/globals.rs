//! The EFI global variables the firmware publishes (UEFI 2.10 section 3.3, table 3-1), and the firmware's own
//! access to the variable store for other parts of vmfw (the boot manager adds `Boot####`, `BootOrder`,
//! `BootCurrent`).
//!
//! | variable                 | attributes   | value                                                          |
//! |--------------------------|--------------|----------------------------------------------------------------|
//! | `PlatformLangCodes`      | BS RT, r/o   | `"en-US"`: the one language the firmware's text is in          |
//! | `PlatformLang`           | NV BS RT     | `"en-US"`                                                      |
//! | `OsIndicationsSupported` | BS RT, r/o   | 0: no firmware UI, no capsule delivery, no OS recovery          |
//! | `BootOptionSupport`      | BS RT, r/o   | 0: no hot keys, no application or sysprep boot options (yet)    |
//! | `SecureBoot`             | BS RT, r/o   | 0: Secure Boot is not enforced                                 |
//! | `SetupMode`              | BS RT, r/o   | 1: no Platform Key is enrolled (the spec's definition)         |
//! | `Timeout`                | NV BS RT     | 0 seconds, unless already set                                  |
//! | `ConIn`, `ConOut`, `ErrOut` | NV BS RT  | the device path of the console handle (COM1 terminal)          |
//! | `ConInDev`, `ConOutDev`, `ErrOutDev` | BS RT, r/o | the same path: the one console device there is  |
//!
//! "r/o" variables are read-only: SetVariable answers `EFI_WRITE_PROTECTED`. `NV` variables live in the same
//! volatile store as the others for now (persistence is a later step), so a change lasts until reset.

use alloc::vec::Vec;

use ::runtime::variables::VariableName;
use ::runtime::variables::VariableStore;
use ::runtime::RuntimeError;
use r_efi::efi::{
    Guid, Status, GLOBAL_VARIABLE, VARIABLE_BOOTSERVICE_ACCESS as BS, VARIABLE_NON_VOLATILE as NV,
    VARIABLE_RUNTIME_ACCESS as RT,
};

use super::backend::NATIVE;
use crate::efi::protocol::Lock;
use boot_services::protocol::DatabaseLock;
use r_efi::protocols::device_path;

/// The platform's language (RFC 4646).
const LANGUAGE: &[u8] = b"en-US\0";

fn ucs2(name: &str) -> Vec<u16> {
    name.encode_utf16().chain(core::iter::once(0)).collect()
}

fn on_store<T>(
    what: &str,
    name: &str,
    f: impl FnOnce(
        &mut VariableStore<::runtime::variables::RawRegion>,
        &VariableName<'_>,
    ) -> ::runtime::Result<T>,
) -> Result<T, RuntimeError> {
    let units = ucs2(name);
    let name_ref = VariableName::new(&units).map_err(RuntimeError::from)?;
    NATIVE
        .with_store(|store| f(store, &name_ref))
        .inspect_err(|e| {
            log::debug!(target: "efi::runtime", "{what} {name}: {e:?}");
        })
}

/// Creates, replaces or (with empty `data`) deletes the firmware-owned variable (`vendor`, `name`) with `attributes`
/// (`NON_VOLATILE`, `BOOTSERVICE_ACCESS`, `RUNTIME_ACCESS`, `HARDWARE_ERROR_RECORD`); with `read_only`, SetVariable
/// from anyone else is refused with `EFI_WRITE_PROTECTED`. Call before ExitBootServices.
///
/// Errors: the SetVariable status for bad attributes, sizes or a full store (`runtime::RuntimeError::status`).
pub fn set_firmware_variable(
    name: &str,
    vendor: &Guid,
    attributes: u32,
    data: &[u8],
    read_only: bool,
) -> Result<(), Status> {
    on_store("set firmware variable", name, |store, name| {
        store.set_firmware_variable(name, vendor, attributes, data, read_only)
    })
    .map_err(|e| e.status())
}

/// Reads the variable (`vendor`, `name`) as boot-services code sees it: its attributes and data.
///
/// Errors: `EFI_NOT_FOUND`; `EFI_DEVICE_ERROR` when the store is busy.
pub fn read_variable(name: &str, vendor: &Guid) -> Result<(u32, Vec<u8>), Status> {
    let phase = ::runtime::entry::RUNTIME.phase();
    on_store("read variable", name, |store, name| {
        let mut data = Vec::new();
        loop {
            match store.get_variable(phase, name, vendor, &mut data) {
                Ok(info) => {
                    data.truncate(info.data_size);
                    return Ok((info.attributes, data));
                }
                Err(RuntimeError::BufferTooSmall { needed, .. }) => data.resize(needed, 0),
                Err(e) => return Err(e),
            }
        }
    })
    .map_err(|e| e.status())
}

/// Publishes the variables of the module table.
///
/// Errors: as [`set_firmware_variable`].
pub fn publish() -> Result<(), Status> {
    let g = &GLOBAL_VARIABLE;
    set_firmware_variable("PlatformLangCodes", g, BS | RT, LANGUAGE, true)?;
    set_firmware_variable("PlatformLang", g, NV | BS | RT, LANGUAGE, false)?;
    set_firmware_variable(
        "OsIndicationsSupported",
        g,
        BS | RT,
        &0u64.to_le_bytes(),
        true,
    )?;
    set_firmware_variable("BootOptionSupport", g, BS | RT, &0u32.to_le_bytes(), true)?;
    set_firmware_variable("SecureBoot", g, BS | RT, &[0], true)?;
    set_firmware_variable("SetupMode", g, BS | RT, &[1], true)?;
    if read_variable("Timeout", g).is_err() {
        set_firmware_variable("Timeout", g, NV | BS | RT, &0u16.to_le_bytes(), false)?;
    }
    publish_console()
}

/// Publishes the console variables when the console handle in the system table has a device path (none is
/// published otherwise).
fn publish_console() -> Result<(), Status> {
    let st = crate::efi::system_table::system_table();
    // SAFETY: the live system table; the console handle was set by the console's installation.
    let handle = unsafe { (*st).console_out_handle };
    if handle.is_null() {
        return Ok(());
    }
    let interface = DatabaseLock::with(&Lock, |db| {
        db.handle_protocol(handle, &device_path::PROTOCOL_GUID)
    });
    let Some(path) = interface
        .ok()
        .and_then(|i| crate::efi::protocol::device_path_bytes(i as *const u8))
    else {
        return Ok(());
    };
    let g = &GLOBAL_VARIABLE;
    for name in ["ConIn", "ConOut", "ErrOut"] {
        set_firmware_variable(name, g, NV | BS | RT, &path, false)?;
    }
    for name in ["ConInDev", "ConOutDev", "ErrOutDev"] {
        set_firmware_variable(name, g, BS | RT, &path, true)?;
    }
    Ok(())
}
