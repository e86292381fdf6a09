//! The boot manager (UEFI 2.10 chapter 3): from a connected machine to a running OS loader.
//!
//! On every boot, after `drivers::connect_all`:
//! 1. QEMU's `-kernel`, when given, becomes a LoadFile device ([`kernel`]); its `-initrd` is offered (LoadFile2,
//!    `efi::initrd`) only while the `-kernel` option is tried;
//! 2. the bootable devices are found: every Simple File System, every disk without one ([`devices`]);
//! 3. `Boot####` options are created or refreshed for them (the `-kernel` option first), `BootOrder` is put in
//!    QEMU's `bootorder` order (the `bootindex=` devices first), `BootNext` is consumed ([`options`]);
//! 4. the wait `Timeout` asks for ([`wait`]);
//! 5. each option is tried in turn ([`attempt`]): `BootCurrent`, the ready-to-boot event groups, LoadImage of
//!    the option's path (a device-only path gets the removable-media default `\EFI\BOOT\BOOTX64.EFI`),
//!    StartImage under the 5-minute watchdog. A failing or returning option moves on to the next;
//! 6. when nothing booted, every option tried is listed with the reason it failed, and the machine resets after
//!    [`NOTHING_TO_BOOT_RESET_SECONDS`].
//!
//! The decisions (load option codec, refresh rules, QEMU bootorder matching, the sequence) are in the host-tested
//! `boot_manager` crate; the design is described in `docs/boot-manager.md`.

mod attempt;
mod devices;
mod environment;
mod kernel;
mod options;
mod variables;
mod wait;

use alloc::string::String;
use alloc::vec::Vec;

use boot_manager::refresh::is_kernel_path;
use boot_manager::variables::boot_option_name;
use qemu::bootorder::{parse_bootorder, BootOrderFile, BOOTORDER_FILE};
use qemu::fw_cfg::FwCfg;
use r_efi::efi::Handle;

use crate::arch::io::X86PortIo;
pub use environment::start_boot_services;

/// fw_cfg file that makes handoff violations fatal (for test runs).
const STRICT_HANDOFF_KNOB: &str = "opt/org.vmfw/strict-handoff";
/// fw_cfg file of `-boot menu=on,splash-time=MS`: the menu wait in milliseconds (`u16`).
const MENU_WAIT_FILE: &str = "etc/boot-menu-wait";
/// Seconds before the reset when nothing could be booted.
pub const NOTHING_TO_BOOT_RESET_SECONDS: u64 = 10;

fn bootorder(fw_cfg: &mut FwCfg<X86PortIo>) -> Option<BootOrderFile> {
    fw_cfg.find(BOOTORDER_FILE)?;
    match fw_cfg.read_file(BOOTORDER_FILE) {
        Ok(bytes) => {
            let file = parse_bootorder(&bytes);
            for entry in &file.entries {
                log::info!(target: "boot", "QEMU bootorder: {entry}");
            }
            Some(file)
        }
        Err(e) => {
            log::warn!(target: "boot", "QEMU {BOOTORDER_FILE} unreadable: {e}");
            None
        }
    }
}

fn menu_wait(fw_cfg: &mut FwCfg<X86PortIo>) -> Option<u16> {
    fw_cfg.find(MENU_WAIT_FILE)?;
    let bytes = fw_cfg.read_file(MENU_WAIT_FILE).ok()?;
    Some(u16::from_le_bytes([*bytes.first()?, *bytes.get(1)?]))
}

/// Tries each boot option in turn; never returns.
pub fn boot(core: Handle, mut fw_cfg: Option<&mut FwCfg<X86PortIo>>) -> ! {
    if fw_cfg
        .as_deref()
        .is_some_and(|f| f.find(STRICT_HANDOFF_KNOB).is_some())
    {
        log::warn!(target: "boot", "{STRICT_HANDOFF_KNOB}: handoff violations will stop the machine");
        crate::efi::exit::STRICT_HANDOFF.store(true, core::sync::atomic::Ordering::Relaxed);
    }
    let kernel = fw_cfg.as_mut().and_then(|f| kernel::install(f));
    let qemu_order = fw_cfg.as_mut().and_then(|f| bootorder(f));
    let menu_wait = fw_cfg.as_mut().and_then(|f| menu_wait(f));
    let devices = devices::scan();
    let plan = options::prepare(kernel.as_ref(), &devices, qemu_order.as_ref(), menu_wait);
    wait::before_boot(plan.wait, &plan.sequence, &plan.options);
    let mut tried: Vec<(u16, String)> = Vec::new();
    for &number in &plan.sequence {
        let Some(option) = plan.options.get(&number) else {
            continue;
        };
        let is_kernel = option.path().is_ok_and(|p| is_kernel_path(&p));
        let initrd = is_kernel
            .then(|| kernel::offer_initrd(fw_cfg.as_deref_mut()))
            .flatten();
        let why = attempt::attempt(core, number, option, &devices.file_systems);
        if let Some(handle) = initrd {
            kernel::withdraw_initrd(handle);
        }
        tried.push((number, why));
    }
    nothing_booted(&plan, &tried)
}

/// Says what was tried and why each failed, then resets after a timeout.
fn nothing_booted(plan: &options::Plan, tried: &[(u16, String)]) -> ! {
    if tried.is_empty() {
        log::error!(target: "boot", "nothing to boot: no -kernel, no file system or disk, no active Boot#### option");
    } else {
        log::error!(target: "boot", "no boot option succeeded; tried, in order:");
        for (number, why) in tried {
            let description = plan
                .options
                .get(number)
                .map_or("", |o| o.description.as_str());
            log::error!(target: "boot", "  {} \"{description}\": {why}", boot_option_name(*number));
        }
    }
    log::error!(target: "boot", "resetting in {NOTHING_TO_BOOT_RESET_SECONDS} s");
    crate::platform::timer::stall(NOTHING_TO_BOOT_RESET_SECONDS * 1_000_000);
    crate::platform::exit::reset()
}
