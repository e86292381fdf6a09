//! vmfw: a UEFI firmware for QEMU virtual machines (x86_64 q35 and pc).
//!
//! The flow of one boot is in docs/bring-up.md. This binary is the thin platform layer: it binds the library
//! crates' hardware traits to the real machine and wires the boot together.
#![no_std]
#![no_main]

extern crate alloc;

mod arch;
#[macro_use]
mod console;
mod heap;
mod logger;
mod platform;

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    console::force_unlock();
    println!("\n!!!! vmfw: panic: {info}");
    platform::exit::fail(platform::exit::ExitCode::Panic)
}

/// Called by `entry64` on the boot stack, in long mode with the first 4 GiB identity-mapped, interrupts off.
#[no_mangle]
extern "C" fn rust_main() -> ! {
    console::init();
    arch::idt::init();
    heap::init_bootstrap();
    logger::init();
    log::info!(target: "vmfw", "vmfw {} starting", env!("CARGO_PKG_VERSION"));
    platform::exit::halt_forever()
}
