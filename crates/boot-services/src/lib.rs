//! The UEFI boot-services engine: memory map, events and TPL, protocol database, driver model and the
//! ExitBootServices handoff (UEFI 2.10 chapter 7).
//!
//! This crate is `no_std` + `alloc` and knows nothing about the machine: the firmware's `extern "efiapi"` shell
//! validates raw arguments and calls the safe functions here, which return [`Result`]. Host tests drive every rule.
#![no_std]
#![deny(missing_docs)]
extern crate alloc;

pub use r_efi::efi::Status;

/// Result type of every engine function; the error is the UEFI status the ABI shell returns.
pub type Result<T> = core::result::Result<T, Status>;

pub mod driver_model;
pub mod event;
pub mod exit;
pub mod handle;
pub mod memory;
pub mod protocol;
pub mod timer;
pub mod tpl;
