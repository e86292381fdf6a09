//! vmfw's UEFI runtime services (UEFI 2.10 chapter 8): a heap-free variable store and one swappable table of
//! runtime operations.
//!
//! # Variable store ([`variables`], UEFI 2.10 section 8.2)
//!
//! Variables live in a log of records inside one fixed byte region the firmware allocates from runtime-services
//! data memory, so the store keeps working after ExitBootServices without a heap. Format (little-endian, unpadded):
//!
//! ```text
//! region  = header(16) record*
//! header  = "VMFWVARS"(8) version:u16(=1) reserved:u16(=0) log_len:u32
//! record  = state:u8 reserved:u8 name_len:u16 attributes:u32 data_len:u32 vendor:GUID(16) name data
//!           state 0xAA = VALID (current value), 0x00 = OBSOLETE (superseded or deleted)
//! ```
//!
//! Invariants: records fill `log_len` exactly; one VALID record per (vendor GUID, name); names are UCS-2LE with one
//! NUL, at the end; name plus data is at most 32 KiB. Writes append and retire the old record; compaction (in place,
//! when the tail is full) reclaims OBSOLETE records. The persistent image is the same format with only the
//! non-volatile variables. Details and the spec choices are in [`variables`].
//!
//! # Operations table ([`ops`])
//!
//! Every runtime service is reached through one [`ops::RuntimeOps`]: a `&'static dyn` [`ops::RuntimeBackend`] whose
//! trait has no default methods, so a table cannot exist with a missing operation. A [`ops::Dispatcher`] holds
//! exactly one pointer to the current table; [`ops::Dispatcher::switch_backend`] swaps that pointer in one atomic
//! store, never field by field, and it can never be null. Back ends: [`ops::Native`] (variables in a
//! [`variables::VariableStore`]; clock and reset through the firmware's [`ops::Clock`] (CMOS RTC) and [`ops::Reset`]
//! (port 0xCF9, ACPI S5)) and [`ops::Hypervisor`] (variables owned by a [`ops::VariableHost`], clock and reset as
//! native).
//!
//! The firmware's `extern "efiapi"` entry points ([`entry`]) validate raw pointers ([`ffi`]) and then load the
//! current table once per call from the global [`entry::RUNTIME`] dispatcher, so a whole call is served by one back
//! end even if a switch happens concurrently.
//!
//! # SetVirtualAddressMap
//!
//! The tables and back ends are statics in the firmware image, built at compile time; every pointer in them was
//! written by the linker, and the firmware moves all such pointer slots with the image ([`relocation`]). That
//! includes the dispatcher's current-table pointer: it only ever holds addresses of static tables. The one pointer a
//! back end stores at run time, its variable region's, is converted through ConvertPointer
//! ([`variables::VariableStore::convert_region`] on a [`variables::RawRegion`]). [`virtual_map`] checks the map the
//! OS passes and does ConvertPointer's lookup. `docs/runtime.md` has the whole design.
//!
//! # Platform pieces ([`x86`])
//!
//! The CMOS RTC ([`x86::rtc::CmosRtc`]) and the reset/ACPI-sleep registers ([`x86::reset::PortReset`]) of QEMU's PC
//! machines implement [`ops::Clock`] and [`ops::Reset`] over `hw::PortIo`, so they are tested against fakes.
#![no_std]
#![deny(missing_docs)]

#[cfg(test)]
extern crate std;

extern crate alloc;

pub mod entry;
pub mod error;
pub mod ffi;
mod lock;
pub mod ops;
pub mod relocation;
pub mod time;
pub mod variables;
pub mod virtual_map;
pub mod x86;

pub use error::{DeviceFault, InvalidParameter, Result, RuntimeError};
pub use lock::{TryLock, TryLockGuard};
