//! The ExitBootServices quiesce of a started controller (registered by Start, withdrawn by Stop).
//!
//! It runs in phase 5 of ExitBootServices (`docs/boot-services.md`), at `TPL_NOTIFY`, with the memory map locked.
//! It resets the device by writing 0 to `device_status` and reading it back until it is 0 (bounded), through the
//! PCI I/O protocol and the register location copied out at Start ([`virtio::pci::StatusRegister::reset`]), then
//! clears Bus Master Enable in the function's Command register, so the OS finds the function as it would after
//! a PCI reset: quiet, and unable to reach memory until its own driver enables it. It touches no other register, no memory of the queue or the buffers, and neither the driver core (its `RefCell`
//! is never borrowed here) nor the registry; it allocates nothing and logs with `core::fmt` only. Unmapping and
//! freeing the queue memory is the DMA layer's final phase, which runs after every handler. The order among the
//! exit handlers is unspecified and nothing here depends on it.

use core::ffi::c_void;

use r_efi::efi::Event;
use r_efi::protocols::pci_io;

use super::controller::{cut_bus_master, Controller};
use super::LOG;

/// Status reads before the reset is given up (QEMU acknowledges on the first one).
const QUIESCE_POLLS: u32 = 100_000;

/// The exit-boot-services notify function; `context` is the controller.
pub extern "efiapi" fn on_exit(_event: Event, context: *mut c_void) {
    // SAFETY: `context` is the controller box registered with this handler; Stop withdraws the handler before it
    // frees the box, so it is live. Only `Copy` fields and the name are read; `device` is not touched.
    let controller = unsafe { &*(context as *const Controller) };
    let mut pci = controller.pci;
    match controller.status_register.reset(&mut pci, QUIESCE_POLLS) {
        Ok(()) => {
            log::info!(target: LOG, "{}: quiesced at ExitBootServices (device status 0)", controller.name);
            if let Err(status) = pci.attributes(
                pci_io::ATTRIBUTE_OPERATION_DISABLE,
                pci_io::ATTRIBUTE_BUS_MASTER,
            ) {
                log::error!(target: LOG, "{}: clearing bus master at exit failed: {status:?}", controller.name);
            }
        }
        Err(error) => {
            log::error!(target: LOG, "{}: exit quiesce failed: {error:?}", controller.name);
            cut_bus_master(&pci, &controller.name);
        }
    }
}
