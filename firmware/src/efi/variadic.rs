//! `InstallMultipleProtocolInterfaces` and `UninstallMultipleProtocolInterfaces`, which the spec makes variadic
//! (UEFI 2.10 section 7.3), on stable Rust.
//!
//! An assembly trampoline receives the MS x64 call, spills the four register arguments (RCX, RDX, R8, R9) into
//! their home space so that all arguments lie in one array on the caller's stack, and calls the Rust
//! implementation with a pointer to that array. The implementation reads `[handle, guid1, iface1, guid2,
//! iface2, ..., NULL]`, at most [`MAX_PAIRS`] pairs.

use alloc::vec::Vec;
use core::arch::global_asm;
use core::ffi::c_void;

use r_efi::efi::{Guid, Handle, Status};

use super::protocol::services;

/// More pairs than any real caller passes; a list without its NULL terminator stops here.
const MAX_PAIRS: usize = 64;

global_asm!(
    ".section .text.variadic, \"ax\"",
    ".global install_multiple_protocol_interfaces_trampoline",
    "install_multiple_protocol_interfaces_trampoline:",
    "    mov [rsp + 8], rcx",
    "    mov [rsp + 16], rdx",
    "    mov [rsp + 24], r8",
    "    mov [rsp + 32], r9",
    "    lea rcx, [rsp + 8]",
    "    sub rsp, 40",
    "    call {install}",
    "    add rsp, 40",
    "    ret",
    ".global uninstall_multiple_protocol_interfaces_trampoline",
    "uninstall_multiple_protocol_interfaces_trampoline:",
    "    mov [rsp + 8], rcx",
    "    mov [rsp + 16], rdx",
    "    mov [rsp + 24], r8",
    "    mov [rsp + 32], r9",
    "    lea rcx, [rsp + 8]",
    "    sub rsp, 40",
    "    call {uninstall}",
    "    add rsp, 40",
    "    ret",
    install = sym install_multiple,
    uninstall = sym uninstall_multiple,
);

extern "efiapi" {
    /// The BootServices entry for InstallMultipleProtocolInterfaces (variadic; see the module doc).
    pub fn install_multiple_protocol_interfaces_trampoline(
        handle: *mut Handle,
        a: *mut c_void,
        b: *mut c_void,
    ) -> Status;
    /// The BootServices entry for UninstallMultipleProtocolInterfaces (variadic; see the module doc).
    pub fn uninstall_multiple_protocol_interfaces_trampoline(
        handle: Handle,
        a: *mut c_void,
        b: *mut c_void,
    ) -> Status;
}

/// Reads the (GUID, interface) pairs that follow the first argument, up to the NULL GUID pointer.
///
/// # Safety
/// `args` points at the spilled argument array of a variadic call that ends with a NULL pointer where a GUID
/// pointer is expected, as the spec requires of callers.
unsafe fn pairs(args: *const usize) -> Result<Vec<(Guid, *mut c_void)>, Status> {
    let mut out = Vec::new();
    for i in 0..MAX_PAIRS {
        // SAFETY: per this function's contract, argument slots up to the terminator are readable.
        let guid = unsafe { args.add(1 + 2 * i).read() } as *const Guid;
        if guid.is_null() {
            return Ok(out);
        }
        // SAFETY: as above; a non-null GUID pointer is followed by its interface.
        let interface = unsafe { args.add(2 + 2 * i).read() } as *mut c_void;
        // SAFETY: a non-null GUID pointer from the caller points at an EFI_GUID.
        out.push((unsafe { guid.read_unaligned() }, interface));
    }
    log::error!(target: "efi::protocol", "multiple-interface call without a NULL terminator in {MAX_PAIRS} pairs");
    Err(Status::INVALID_PARAMETER)
}

extern "efiapi" fn install_multiple(args: *const usize) -> Status {
    // SAFETY: called only by the trampoline with the spilled argument array.
    let handle = unsafe { args.read() } as *mut Handle;
    if handle.is_null() {
        return Status::INVALID_PARAMETER;
    }
    // SAFETY: as above.
    let list = match unsafe { pairs(args) } {
        Ok(list) => list,
        Err(e) => return e,
    };
    // SAFETY: `handle` is a non-null IN/OUT EFI_HANDLE.
    let existing = unsafe { handle.read_unaligned() };
    match services()
        .install_multiple_protocol_interfaces((!existing.is_null()).then_some(existing), &list)
    {
        Ok(h) => {
            // SAFETY: as above.
            unsafe { handle.write_unaligned(h) };
            Status::SUCCESS
        }
        Err(e) => e,
    }
}

extern "efiapi" fn uninstall_multiple(args: *const usize) -> Status {
    // SAFETY: called only by the trampoline with the spilled argument array.
    let handle = unsafe { args.read() } as Handle;
    // SAFETY: as above.
    match unsafe { pairs(args) } {
        Ok(list) => super::status(services().uninstall_multiple_protocol_interfaces(handle, &list)),
        Err(e) => e,
    }
}
