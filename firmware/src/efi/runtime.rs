//! Runtime services (UEFI 2.10 chapter 8) that exist so far: time from the CMOS RTC, ResetSystem,
//! GetNextHighMonotonicCount, SetVirtualAddressMap and ConvertPointer. Variables and capsules come with the
//! Linux-boot work; until then they answer `EFI_UNSUPPORTED`, which UEFI 2.10 section 8.1 allows at runtime when
//! the `EFI_RT_PROPERTIES_TABLE` says so.
//!
//! All of this code and data lives in the firmware image, which the memory map reports as
//! `EfiRuntimeServicesCode`, so it survives ExitBootServices.

use core::ffi::c_void;
use core::sync::atomic::{AtomicBool, Ordering};

use hw::PortIo;
use r_efi::efi::{self, Status};

use crate::arch::io::X86PortIo;

const CMOS_INDEX: u16 = 0x70;
const CMOS_DATA: u16 = 0x71;

fn cmos_read(register: u8) -> u8 {
    let mut io = X86PortIo;
    io.write8(CMOS_INDEX, register);
    io.read8(CMOS_DATA)
}

fn cmos_write(register: u8, value: u8) {
    let mut io = X86PortIo;
    io.write8(CMOS_INDEX, register);
    io.write8(CMOS_DATA, value);
}

fn from_bcd(value: u8, binary: bool) -> u8 {
    if binary {
        value
    } else {
        (value >> 4) * 10 + (value & 0xf)
    }
}

fn to_bcd(value: u8, binary: bool) -> u8 {
    if binary {
        value
    } else {
        ((value / 10) << 4) | (value % 10)
    }
}

/// Waits until the RTC is not mid-update (status A bit 7), bounded.
fn wait_rtc_stable() {
    for _ in 0..100_000 {
        if cmos_read(0x0a) & 0x80 == 0 {
            return;
        }
    }
}

pub extern "efiapi" fn get_time(
    time: *mut efi::Time,
    capabilities: *mut efi::TimeCapabilities,
) -> Status {
    if time.is_null() {
        return Status::INVALID_PARAMETER;
    }
    wait_rtc_stable();
    let status_b = cmos_read(0x0b);
    let binary = status_b & 0x04 != 0;
    let hour_raw = cmos_read(0x04);
    let mut hour = from_bcd(hour_raw & 0x7f, binary);
    if status_b & 0x02 == 0 {
        // 12-hour mode: bit 7 is PM.
        hour = (hour % 12) + if hour_raw & 0x80 != 0 { 12 } else { 0 };
    }
    let century = from_bcd(cmos_read(0x32), binary);
    let year = u16::from(if century >= 19 { century } else { 20 }) * 100
        + u16::from(from_bcd(cmos_read(0x09), binary));
    let value = efi::Time {
        year,
        month: from_bcd(cmos_read(0x08), binary),
        day: from_bcd(cmos_read(0x07), binary),
        hour,
        minute: from_bcd(cmos_read(0x02), binary),
        second: from_bcd(cmos_read(0x00), binary),
        pad1: 0,
        nanosecond: 0,
        timezone: efi::UNSPECIFIED_TIMEZONE,
        daylight: 0,
        pad2: 0,
    };
    // SAFETY: non-null OUT EFI_TIME.
    unsafe { time.write_unaligned(value) };
    if !capabilities.is_null() {
        let caps = efi::TimeCapabilities {
            resolution: 1,
            accuracy: 50_000_000,
            sets_to_zero: efi::Boolean::FALSE,
        };
        // SAFETY: non-null OUT EFI_TIME_CAPABILITIES.
        unsafe { capabilities.write_unaligned(caps) };
    }
    Status::SUCCESS
}

pub extern "efiapi" fn set_time(time: *mut efi::Time) -> Status {
    if time.is_null() {
        return Status::INVALID_PARAMETER;
    }
    // SAFETY: non-null IN EFI_TIME.
    let t = unsafe { time.read_unaligned() };
    if !(1900..=2999).contains(&t.year)
        || !(1..=12).contains(&t.month)
        || !(1..=31).contains(&t.day)
        || t.hour > 23
        || t.minute > 59
        || t.second > 59
    {
        return Status::INVALID_PARAMETER;
    }
    wait_rtc_stable();
    let binary = cmos_read(0x0b) & 0x04 != 0;
    let status_b = cmos_read(0x0b);
    cmos_write(0x0b, status_b | 0x80 | 0x02); // halt updates, 24-hour mode
    cmos_write(0x00, to_bcd(t.second, binary));
    cmos_write(0x02, to_bcd(t.minute, binary));
    cmos_write(0x04, to_bcd(t.hour, binary));
    cmos_write(0x07, to_bcd(t.day, binary));
    cmos_write(0x08, to_bcd(t.month, binary));
    cmos_write(0x09, to_bcd((t.year % 100) as u8, binary));
    cmos_write(0x32, to_bcd((t.year / 100) as u8, binary));
    cmos_write(0x0b, (status_b | 0x02) & !0x80);
    Status::SUCCESS
}

pub extern "efiapi" fn get_wakeup_time(
    _enabled: *mut efi::Boolean,
    _pending: *mut efi::Boolean,
    _time: *mut efi::Time,
) -> Status {
    Status::UNSUPPORTED
}

pub extern "efiapi" fn set_wakeup_time(_enable: efi::Boolean, _time: *mut efi::Time) -> Status {
    Status::UNSUPPORTED
}

static VIRTUAL_MODE: AtomicBool = AtomicBool::new(false);

pub extern "efiapi" fn set_virtual_address_map(
    map_size: usize,
    descriptor_size: usize,
    version: u32,
    map: *mut efi::MemoryDescriptor,
) -> Status {
    if VIRTUAL_MODE.swap(true, Ordering::SeqCst) {
        return Status::UNSUPPORTED;
    }
    if map.is_null()
        || descriptor_size < core::mem::size_of::<efi::MemoryDescriptor>()
        || version != 1
        || !map_size.is_multiple_of(descriptor_size)
    {
        VIRTUAL_MODE.store(false, Ordering::SeqCst);
        return Status::INVALID_PARAMETER;
    }
    // The firmware is linked at fixed addresses and the OSes vmfw targets keep the 1:1 mapping of runtime
    // regions while calling runtime services (Linux maps EFI regions both 1:1 and at their virtual address), so
    // no pointer inside the firmware needs converting.
    Status::SUCCESS
}

pub extern "efiapi" fn convert_pointer(
    _debug_disposition: usize,
    address: *mut *mut c_void,
) -> Status {
    if address.is_null() {
        return Status::INVALID_PARAMETER;
    }
    Status::SUCCESS
}

pub extern "efiapi" fn get_variable(
    _name: *mut efi::Char16,
    _guid: *mut efi::Guid,
    _attributes: *mut u32,
    _size: *mut usize,
    _data: *mut c_void,
) -> Status {
    Status::UNSUPPORTED
}

pub extern "efiapi" fn get_next_variable_name(
    _size: *mut usize,
    _name: *mut efi::Char16,
    _guid: *mut efi::Guid,
) -> Status {
    Status::UNSUPPORTED
}

pub extern "efiapi" fn set_variable(
    _name: *mut efi::Char16,
    _guid: *mut efi::Guid,
    _attributes: u32,
    _size: usize,
    _data: *mut c_void,
) -> Status {
    Status::UNSUPPORTED
}

pub extern "efiapi" fn get_next_high_mono_count(high: *mut u32) -> Status {
    if high.is_null() {
        return Status::INVALID_PARAMETER;
    }
    // No non-volatile counter on QEMU machines: the high half stays 0 (see `misc::get_next_monotonic_count`).
    // SAFETY: non-null OUT UINT32.
    unsafe { high.write_unaligned(0) };
    Status::SUCCESS
}

pub extern "efiapi" fn reset_system(
    kind: efi::ResetType,
    _status: Status,
    _size: usize,
    _data: *mut c_void,
) {
    if kind == efi::RESET_SHUTDOWN {
        // ACPI S5: SLP_TYP 0 (QEMU's _S5 on q35 and pc) | SLP_EN in PM1a_CNT at PM base + 4.
        X86PortIo.write16(crate::platform::chipset::PM_BASE + 4, 1 << 13);
    }
    crate::platform::exit::reset()
}

pub extern "efiapi" fn update_capsule(
    _headers: *mut *mut efi::CapsuleHeader,
    _count: usize,
    _scatter: efi::PhysicalAddress,
) -> Status {
    Status::UNSUPPORTED
}

pub extern "efiapi" fn query_capsule_capabilities(
    _headers: *mut *mut efi::CapsuleHeader,
    _count: usize,
    _max: *mut u64,
    _reset: *mut efi::ResetType,
) -> Status {
    Status::UNSUPPORTED
}

pub extern "efiapi" fn query_variable_info(
    _attributes: u32,
    _max: *mut u64,
    _remaining: *mut u64,
    _max_size: *mut u64,
) -> Status {
    Status::UNSUPPORTED
}
