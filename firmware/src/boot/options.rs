//! The boot options of this boot: `Boot####` variables refreshed for the devices present, `BootOrder` after QEMU's
//! bootorder file, `BootNext` consumed, `Timeout` set (UEFI 2.10 sections 3.1 and 3.3; `BootOptionSupport` is
//! published read-only by the runtime).
//! The decisions are `boot_manager`'s (host-tested); this file reads and writes the variables and logs.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use boot_manager::device_path::expand::resolved;
use boot_manager::device_path::{Node, Text};
use boot_manager::load_option::LoadOption;
use boot_manager::refresh::{device_option, kernel_option, refresh};
use boot_manager::sequence::sequence;
use boot_manager::variables::{self as names, NV_BS_RT};
use boot_manager::{qemu_order, variables::Wait};
use qemu::bootorder::BootOrderFile;

use super::devices::Devices;
use super::kernel::Kernel;
use super::variables;

/// What the boot manager does on this boot.
pub struct Plan {
    /// The decodable `Boot####` options, by number.
    pub options: BTreeMap<u16, LoadOption>,
    /// The option numbers to try, in order.
    pub sequence: Vec<u16>,
    /// The wait `Timeout` asks for before the first attempt.
    pub wait: Wait,
}

fn read_options() -> BTreeMap<u16, LoadOption> {
    let names = match variables::global_names() {
        Ok(names) => names,
        Err(status) => {
            variables::warn_failed("variable names", "not listed", status);
            return BTreeMap::new();
        }
    };
    let mut options = BTreeMap::new();
    for name in names {
        let Some(number) = names::parse_boot_option_name(&name) else {
            continue;
        };
        match variables::get(&name) {
            Ok(Some((_, bytes))) => match LoadOption::decode(&bytes) {
                Ok(option) => {
                    options.insert(number, option);
                }
                Err(e) => {
                    log::warn!(target: "boot", "{name} is not a valid EFI_LOAD_OPTION ({e}); ignored")
                }
            },
            Ok(None) => {}
            Err(status) => variables::warn_failed(&name, "not read", status),
        }
    }
    options
}

fn read_u16(name: &str) -> Option<u16> {
    match variables::get(name) {
        Ok(Some((_, bytes))) => {
            let value = names::decode_u16(&bytes);
            if value.is_none() {
                log::warn!(target: "boot", "{name} holds {} bytes, not a UINT16; ignored", bytes.len());
            }
            value
        }
        _ => None,
    }
}

fn write(name: &str, attributes: u32, data: &[u8]) {
    if let Err(status) = variables::set(name, attributes, data) {
        variables::warn_failed(name, "not written", status);
    }
}

/// Refreshes the options for `devices` (and `-kernel`), orders them by `bootorder`, writes the variables and
/// returns the plan. `menu_wait_ms` is QEMU's `etc/boot-menu-wait`, when given.
pub fn prepare(
    kernel: Option<&Kernel>,
    devices: &Devices,
    bootorder: Option<&BootOrderFile>,
    menu_wait_ms: Option<u16>,
) -> Plan {
    let mut options = read_options();
    let order_read = match variables::get(names::BOOT_ORDER) {
        Ok(Some((_, bytes))) => names::decode_u16_list(&bytes).unwrap_or_else(|| {
            log::warn!(target: "boot", "BootOrder has an odd length; rebuilt");
            Vec::new()
        }),
        _ => Vec::new(),
    };
    let mut wanted = Vec::new();
    if let Some(kernel) = kernel {
        wanted.push(kernel_option(&kernel.command_line));
    }
    for path in devices.file_systems.iter().chain(&devices.bare_disks) {
        wanted.push(device_option(path));
    }
    let changes = refresh(&options, &order_read, &wanted);
    for number in &changes.deletes {
        let name = names::boot_option_name(*number);
        log::info!(target: "boot", "{name}: its device is gone; deleted");
        if let Err(status) = variables::delete(&name) {
            variables::warn_failed(&name, "not deleted", status);
        }
        options.remove(number);
    }
    for (number, option) in &changes.writes {
        write(
            &names::boot_option_name(*number),
            NV_BS_RT,
            &option.encode(),
        );
        options.insert(*number, option.clone());
    }
    let mut order = changes.order;
    let mut only = None;
    if let Some(file) = bootorder {
        let paths: BTreeMap<u16, Vec<Node>> = options
            .iter()
            .filter_map(|(&n, o)| Some((n, resolved(&o.path().ok()?, &devices.file_systems))))
            .collect();
        let qemu = qemu_order::apply(&order, &paths, file);
        order = qemu.order;
        if file.strict {
            log::info!(target: "boot", "QEMU -boot strict=on: only the bootindex devices are booted");
            only = Some(qemu.listed);
        }
    }
    if order != order_read {
        write(names::BOOT_ORDER, NV_BS_RT, &names::encode_u16_list(&order));
    }
    let boot_next = read_u16(names::BOOT_NEXT);
    if boot_next.is_some() {
        // Section 3.1.1: BootNext is deleted before its option is tried, so it is tried once.
        if let Err(status) = variables::delete(names::BOOT_NEXT) {
            variables::warn_failed(names::BOOT_NEXT, "not deleted", status);
        }
    }
    // BootOptionSupport is published read-only by the runtime (`efi::runtime::globals`) as 0, which is what this
    // boot manager supports: no Key#### hot keys, no menu to launch application-category options from.
    if let Some(ms) = menu_wait_ms {
        let seconds = names::timeout_from_menu_wait(ms);
        write(names::TIMEOUT, NV_BS_RT, &seconds.to_le_bytes());
    }
    let timeout = read_u16(names::TIMEOUT);
    if timeout.is_none() {
        write(names::TIMEOUT, NV_BS_RT, &0u16.to_le_bytes());
    }
    let sequence = sequence(&order, &options, boot_next, only.as_deref());
    for number in &order {
        if let Some(option) = options.get(number) {
            let path = option.path().unwrap_or_default();
            log::info!(
                target: "boot",
                "{}{} \"{}\" {}",
                names::boot_option_name(*number),
                if option.is_active() { "*" } else { " " },
                option.description,
                Text(&path)
            );
        }
    }
    Plan {
        options,
        sequence,
        wait: names::wait_for(timeout),
    }
}
