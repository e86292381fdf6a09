//! StartImage and Exit (UEFI 2.10 section 7.4): the control transfer into an image and back.
//!
//! `Exit()` really returns to the caller of `StartImage()`: StartImage saves the callee-saved registers (MS x64:
//! RBX RBP RDI RSI R12-R15, XMM6-XMM15) and the stack pointer in a per-start context before calling the entry
//! point; Exit restores them and returns from that StartImage with the exit status.

use core::arch::global_asm;

use boot_manager::status::Name;
use boot_services::handle::handle_key;
use pe_loader::Subsystem;
use r_efi::efi::{self, Handle, Status};

use super::super::system_table::system_table;
use super::{unload, IMAGES};

/// Saved state of one running StartImage: 8 general registers, RSP, then XMM6-XMM15 (16-byte aligned).
#[repr(C, align(16))]
pub(super) struct JumpContext([u64; 10 + 20]);

global_asm!(
    ".section .text.image, \"ax\"",
    // efiapi start_image_call(entry: rcx, image: rdx, system_table: r8, context: r9) -> Status
    ".global vmfw_start_image_call",
    "vmfw_start_image_call:",
    "    mov [r9 + 0], rbx",
    "    mov [r9 + 8], rbp",
    "    mov [r9 + 16], rdi",
    "    mov [r9 + 24], rsi",
    "    mov [r9 + 32], r12",
    "    mov [r9 + 40], r13",
    "    mov [r9 + 48], r14",
    "    mov [r9 + 56], r15",
    "    mov [r9 + 64], rsp",
    "    movdqa [r9 + 80], xmm6",
    "    movdqa [r9 + 96], xmm7",
    "    movdqa [r9 + 112], xmm8",
    "    movdqa [r9 + 128], xmm9",
    "    movdqa [r9 + 144], xmm10",
    "    movdqa [r9 + 160], xmm11",
    "    movdqa [r9 + 176], xmm12",
    "    movdqa [r9 + 192], xmm13",
    "    movdqa [r9 + 208], xmm14",
    "    movdqa [r9 + 224], xmm15",
    "    mov rax, rcx",
    "    mov rcx, rdx",
    "    mov rdx, r8",
    "    sub rsp, 40",
    "    call rax",
    "    add rsp, 40",
    "    ret",
    // efiapi exit_image_jump(context: rcx, status: rdx) -> !: returns from vmfw_start_image_call with `status`.
    ".global vmfw_exit_image_jump",
    "vmfw_exit_image_jump:",
    "    mov rax, rdx",
    "    mov rbx, [rcx + 0]",
    "    mov rbp, [rcx + 8]",
    "    mov rdi, [rcx + 16]",
    "    mov rsi, [rcx + 24]",
    "    mov r12, [rcx + 32]",
    "    mov r13, [rcx + 40]",
    "    mov r14, [rcx + 48]",
    "    mov r15, [rcx + 56]",
    "    movdqa xmm6, [rcx + 80]",
    "    movdqa xmm7, [rcx + 96]",
    "    movdqa xmm8, [rcx + 112]",
    "    movdqa xmm9, [rcx + 128]",
    "    movdqa xmm10, [rcx + 144]",
    "    movdqa xmm11, [rcx + 160]",
    "    movdqa xmm12, [rcx + 176]",
    "    movdqa xmm13, [rcx + 192]",
    "    movdqa xmm14, [rcx + 208]",
    "    movdqa xmm15, [rcx + 224]",
    "    mov rsp, [rcx + 64]",
    "    ret",
);

extern "efiapi" {
    fn vmfw_start_image_call(
        entry: u64,
        image: Handle,
        system_table: *mut efi::SystemTable,
        context: *mut JumpContext,
    ) -> Status;
    fn vmfw_exit_image_jump(context: *mut JumpContext, status: Status) -> !;
}

pub extern "efiapi" fn start_image(
    handle: Handle,
    exit_data_size: *mut usize,
    exit_data: *mut *mut efi::Char16,
) -> Status {
    let mut context = alloc::boxed::Box::new(JumpContext([0; 30]));
    let context_ptr: *mut JumpContext = &mut *context;
    let entry = IMAGES.with(|i| match i.by_handle.get_mut(&handle_key(handle)) {
        Some(image) if !image.started && image.pages.is_some() => {
            image.started = true;
            image.context = Some(context_ptr);
            i.running.push(handle);
            Ok(image.entry_point)
        }
        Some(_) => Err(Status::INVALID_PARAMETER),
        None => Err(Status::INVALID_PARAMETER),
    });
    let entry = match entry {
        Ok(entry) => entry,
        Err(e) => return e,
    };
    // SAFETY: `entry` is the relocated entry point of an image this firmware loaded into its own pages; the
    // context lives until this call returns (also through Exit, which returns here).
    let status = unsafe { vmfw_start_image_call(entry, handle, system_table(), context_ptr) };
    let (data, is_application) = IMAGES.with(|i| {
        i.running.retain(|&h| h != handle);
        let image = i.by_handle.get_mut(&handle_key(handle));
        image
            .map(|image| {
                image.context = None;
                (
                    core::mem::replace(&mut image.exit_data, (0, core::ptr::null_mut())),
                    image.subsystem == Some(Subsystem::EfiApplication),
                )
            })
            .unwrap_or(((0, core::ptr::null_mut()), false))
    });
    if !exit_data_size.is_null() && !exit_data.is_null() {
        // SAFETY: non-null OUT pointers (StartImage contract).
        unsafe {
            exit_data_size.write_unaligned(data.0);
            exit_data.write_unaligned(data.1);
        }
    }
    log::info!(target: "efi::image", "image {handle:p} returned {}", Name(status));
    // Applications, and drivers that fail, are unloaded when they return (UEFI 2.10 section 7.4, StartImage).
    if is_application || status.is_error() {
        let _ = unload(handle, false);
    }
    status
}

pub extern "efiapi" fn exit(
    handle: Handle,
    status: Status,
    data_size: usize,
    data: *mut efi::Char16,
) -> Status {
    let action = IMAGES.with(|i| {
        let running = i.running.last().copied();
        match i.by_handle.get_mut(&handle_key(handle)) {
            None => Err(Status::INVALID_PARAMETER),
            Some(image) if !image.started => Ok(None),
            Some(image) if running == Some(handle) => {
                image.exit_data = (data_size, data);
                Ok(image.context)
            }
            Some(_) => Err(Status::INVALID_PARAMETER),
        }
    });
    match action {
        Err(e) => e,
        Ok(None) => super::super::status(unload(handle, false)),
        // SAFETY: the context was filled by the StartImage call currently running this image, whose stack
        // frame is still live below us.
        Ok(Some(context)) => unsafe { vmfw_exit_image_jump(context, status) },
    }
}
