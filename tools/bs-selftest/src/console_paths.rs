//! Device path protocol checks (UEFI 2.10 §10.5 Device Path Utilities, §10.6 Device Path To/From Text): the text
//! of the app's own image path and of every PCI handle's path reads back to the same bytes; the specification's
//! text forms survive FromText then ToText unchanged; nodes convert both ways; the utilities build, split and
//! measure paths as specified.
//!
//! Design: every string and path the firmware returns is owned by a [`PoolText`] or [`PoolPath`] that frees it
//! with FreePool on drop (the protocols allocate results with AllocatePool), so nothing leaks when a check fails.
//! The texts compared are the forms edk2 also writes, so the checks pass on OVMF too.

use core::ffi::c_void;
use core::fmt::Write;
use core::ptr;

use uefi_raw::protocol::device_path::{
    DevicePathFromTextProtocol, DevicePathProtocol, DevicePathToTextProtocol,
    DevicePathUtilitiesProtocol, DeviceSubType, DeviceType,
};
use uefi_raw::protocol::loaded_image::LoadedImageProtocol;
use uefi_raw::{Boolean, Guid, Handle, Status};

use super::{ucs2_eq, Show, Ucs2, DEVICE_PATH_GUID};
use crate::memory::free_pool;
use crate::protocols::handle_protocol;
use crate::report::{Detail, Outcome, Report};
use crate::{boot_services, expect_status, image_handle};

/// `EFI_PCI_IO_PROTOCOL_GUID`.
const PCI_IO_GUID: Guid = uefi_raw::guid!("4cf5b200-68b8-4ca5-9eec-b23e3f50029a");
/// `EFI_LOADED_IMAGE_DEVICE_PATH_PROTOCOL_GUID`.
const LOADED_IMAGE_DEVICE_PATH_GUID: Guid = uefi_raw::guid!("bc62157e-3e33-4fec-9920-2d3b36d750df");
/// LocateHandleBuffer `ByProtocol`.
const BY_PROTOCOL: i32 = 2;
/// Longest path the checks walk.
const MAX_PATH: usize = 4096;

/// Texts in the specification's forms, as both vmfw and edk2 write them with `AllowShortcuts`.
const ROUND_TRIP: [&str; 10] = [
    "PciRoot(0x0)/Pci(0x1F,0x2)/Sata(0x0,0xFFFF,0x0)/HD(1,GPT,8C8F8E26-9D6C-4A6B-9D5C-3F5A2E1B0C0D,0x800,0x100000)/\\EFI\\BOOT\\BOOTX64.EFI",
    "PciRoot(0x0)/Pci(0x1F,0x0)/Serial(0x0)/Uart(115200,8,N,1)/VenPcAnsi()",
    "PciRoot(0x0)/Pci(0x3,0x0)/MAC(525400123456,0x1)",
    "PciRoot(0x0)/Pci(0x2,0x0)/NVMe(0x1,00-11-22-33-44-55-66-77)",
    "PcieRoot(0x0)/Pci(0x1D,0x0)/USB(0x1,0x0)",
    "PciRoot(0x0)/Pci(0x4,0x0)/Scsi(0x0,0x1)",
    "VenHw(8C8F8E26-9D6C-4A6B-9D5C-3F5A2E1B0C0D,0102AB)/Ctrl(0x0)",
    "Fv(7CB8BDC9-F8EB-4F34-AAEA-3EE4AF6516A1)/FvFile(462CAA21-7614-4503-836E-8AB6F4662331)",
    "HD(1,MBR,0xBE1AFDFA,0x3F,0xFBFC1)/VenMedia(8C8F8E26-9D6C-4A6B-9D5C-3F5A2E1B0C0D)",
    "CDROM(0x0,0x10,0x20)/Offset(0x0,0x1FF)",
];
/// A multi-instance path: the specification separates instances with `,` (edk2 writes `,/`, which reads back
/// the same, so only vmfw's text is compared).
const MULTI_INSTANCE: &str = "PciRoot(0x0)/Pci(0x1,0x0),PciRoot(0x0)/Pci(0x2,0x0)";

/// A string the firmware allocated; freed on drop.
pub struct PoolText(*mut u16);

impl PoolText {
    /// The NUL-terminated string.
    pub fn as_ptr(&self) -> *const u16 {
        self.0
    }

    /// FreePool on the string now; its status.
    fn free(self) -> Status {
        let text = self.0;
        core::mem::forget(self);
        free_pool(text.cast())
    }
}

impl Drop for PoolText {
    fn drop(&mut self) {
        let _ = free_pool(self.0.cast());
    }
}

/// A device path the firmware allocated; freed on drop.
pub struct PoolPath(*mut DevicePathProtocol);

impl PoolPath {
    fn new(what: &str, path: *mut DevicePathProtocol) -> Result<PoolPath, Detail> {
        ensure!(!path.is_null(), "{what} returned NULL");
        Ok(PoolPath(path))
    }

    fn bytes(&self) -> Result<&[u8], Detail> {
        path_bytes(self.0)
    }
}

impl Drop for PoolPath {
    fn drop(&mut self) {
        let _ = free_pool(self.0.cast());
    }
}

/// The bytes of the path at `path`, end node included (walked by node headers, at most [`MAX_PATH`]).
fn path_bytes<'a>(path: *const DevicePathProtocol) -> Result<&'a [u8], Detail> {
    let start = path.cast::<u8>();
    let mut len = 0;
    loop {
        // SAFETY: device paths are walked by their 4-byte node headers up to the end node, bounded.
        let header = unsafe { core::slice::from_raw_parts(start.add(len), 4) };
        let node = usize::from(u16::from_le_bytes([header[2], header[3]]));
        ensure!(
            node >= 4 && len + node <= MAX_PATH,
            "malformed path at byte {len}"
        );
        len += node;
        if header[0] == 0x7f && header[1] == 0xff {
            break;
        }
    }
    // SAFETY: the walk covered these bytes.
    Ok(unsafe { core::slice::from_raw_parts(start, len) })
}

fn locate<T>(guid: &Guid, name: &str) -> Result<*mut T, Detail> {
    let mut interface: *mut c_void = ptr::null_mut();
    // SAFETY: a valid out-pointer; no registration key.
    let status = unsafe { (boot_services().locate_protocol)(guid, ptr::null(), &mut interface) };
    ensure!(
        status == Status::SUCCESS && !interface.is_null(),
        "LocateProtocol({name}) returned {status:?}"
    );
    Ok(interface.cast())
}

fn to_text_protocol() -> Result<*mut DevicePathToTextProtocol, Detail> {
    locate(&DevicePathToTextProtocol::GUID, "DevicePathToText")
}

/// ConvertDevicePathToText(`path`, `display_only`, `allow_shortcuts`).
pub fn to_text(
    path: *const DevicePathProtocol,
    display_only: bool,
    allow_shortcuts: bool,
) -> Result<PoolText, Detail> {
    let p = to_text_protocol()?;
    // SAFETY: the firmware's protocol with a valid path.
    let text = unsafe {
        ((*p).convert_device_path_to_text)(path, display_only.into(), allow_shortcuts.into())
    };
    ensure!(!text.is_null(), "ConvertDevicePathToText returned NULL");
    Ok(PoolText(text))
}

/// ConvertTextToDevicePath(`text`).
fn from_text(text: &str) -> Result<PoolPath, Detail> {
    let p = locate::<DevicePathFromTextProtocol>(
        &DevicePathFromTextProtocol::GUID,
        "DevicePathFromText",
    )?;
    let s = Ucs2::<256>::new(text);
    // SAFETY: the firmware's protocol with a NUL-terminated string.
    PoolPath::new("ConvertTextToDevicePath", unsafe {
        ((*p).convert_text_to_device_path)(s.as_ptr())
    })
}

fn utilities() -> Result<&'static DevicePathUtilitiesProtocol, Detail> {
    let p = locate::<DevicePathUtilitiesProtocol>(
        &DevicePathUtilitiesProtocol::GUID,
        "DevicePathUtilities",
    )?;
    // SAFETY: the firmware's protocol, valid while boot services run.
    Ok(unsafe { &*p })
}

/// Runs the device path checks.
pub fn run(report: &mut Report, out: &mut dyn Write) {
    report.record(
        out,
        "device paths: image and PCI paths read back from their text",
        check_handle_paths(),
    );
    report.record(
        out,
        "device paths: FromText then ToText keeps the specification's forms",
        check_round_trip(),
    );
    report.record(
        out,
        "device paths: node conversion both ways",
        check_nodes(),
    );
    report.record(
        out,
        "device paths: utilities append, split, measure and create",
        check_utilities(),
    );
}

/// The text of `path` (both with and without shortcuts) reads back to the same bytes; returns the shortcut text.
fn reads_back(what: &str, path: *const DevicePathProtocol) -> Result<PoolText, Detail> {
    let bytes = path_bytes(path)?;
    for shortcuts in [false, true] {
        let text = to_text(path, false, shortcuts)?;
        let back = from_text_units(&text)?;
        ensure!(
            back.bytes()? == bytes,
            "{what}: {} does not read back to the same bytes",
            Show(text.as_ptr())
        );
    }
    to_text(path, false, true)
}

/// ConvertTextToDevicePath on a string the firmware returned.
fn from_text_units(text: &PoolText) -> Result<PoolPath, Detail> {
    let p = locate::<DevicePathFromTextProtocol>(
        &DevicePathFromTextProtocol::GUID,
        "DevicePathFromText",
    )?;
    // SAFETY: the firmware's protocol with a NUL-terminated string it produced.
    PoolPath::new("ConvertTextToDevicePath", unsafe {
        ((*p).convert_text_to_device_path)(text.as_ptr())
    })
}

fn check_handle_paths() -> Outcome {
    // The image's own path, where the firmware gives one (a file loaded from a device; vmfw's -kernel has none).
    let image = handle_protocol(image_handle(), &LoadedImageProtocol::GUID)
        .map_err(|s| Detail::new(format_args!("HandleProtocol(LoadedImage) returned {s:?}")))?;
    // SAFETY: the firmware's Loaded Image protocol for this app.
    let file_path = unsafe { (*image.cast::<LoadedImageProtocol>()).file_path };
    if !file_path.is_null() {
        reads_back("LoadedImage.FilePath", file_path)?;
    }
    if let Ok(path) = handle_protocol(image_handle(), &LOADED_IMAGE_DEVICE_PATH_GUID) {
        reads_back("LoadedImageDevicePath", path.cast())?;
    }
    let (mut count, mut buffer) = (0usize, ptr::null_mut::<Handle>());
    // SAFETY: valid out-pointers; ByProtocol takes no key.
    let status = unsafe {
        (boot_services().locate_handle_buffer)(
            BY_PROTOCOL,
            &PCI_IO_GUID,
            ptr::null(),
            &mut count,
            &mut buffer,
        )
    };
    expect_status("LocateHandleBuffer(PCI I/O)", status, Status::SUCCESS)?;
    let result = (|| {
        // SAFETY: the firmware returned `count` handles in `buffer`.
        let handles = unsafe { core::slice::from_raw_parts(buffer, count) };
        let mut seen = 0;
        for &handle in handles {
            let Ok(path) = handle_protocol(handle, &DEVICE_PATH_GUID) else {
                continue;
            };
            let text = reads_back("PCI device path", path.cast())?;
            let shown = Detail::new(format_args!("{}", Show(text.as_ptr())));
            ensure!(
                shown.as_str().starts_with("PciRoot(0x0)/Pci(0x"),
                "PCI device path text {}",
                shown.as_str()
            );
            seen += 1;
        }
        ensure!(seen > 0, "no PCI handle has a device path");
        Ok(())
    })();
    let _ = free_pool(buffer.cast());
    result
}

fn check_round_trip() -> Outcome {
    for text in ROUND_TRIP {
        let path = from_text(text)?;
        let back = to_text(path.0, false, true)?;
        ensure!(
            ucs2_eq(back.as_ptr(), text),
            "{text} came back as {}",
            Show(back.as_ptr())
        );
    }
    let path = from_text(MULTI_INSTANCE)?;
    let back = to_text(path.0, false, true)?;
    ensure!(
        !super::is_vmfw() || ucs2_eq(back.as_ptr(), MULTI_INSTANCE),
        "{MULTI_INSTANCE} came back as {}",
        Show(back.as_ptr())
    );
    // Results come from AllocatePool: FreePool takes them.
    expect_status("FreePool(ToText result)", back.free(), Status::SUCCESS)?;
    // The bytes of one path, to the byte.
    let path = from_text("PciRoot(0x0)/Pci(0x1F,0x2)")?;
    let want = [
        2, 1, 12, 0, 0xd0, 0x41, 0x03, 0x0a, 0, 0, 0, 0, 1, 1, 6, 0, 2, 0x1f, 0x7f, 0xff, 4, 0,
    ];
    ensure!(
        path.bytes()? == want,
        "PciRoot(0x0)/Pci(0x1F,0x2) is {:02x?}",
        path.bytes()?
    );
    Ok(())
}

fn check_nodes() -> Outcome {
    let from = locate::<DevicePathFromTextProtocol>(
        &DevicePathFromTextProtocol::GUID,
        "DevicePathFromText",
    )?;
    let to = to_text_protocol()?;
    for (text, bytes) in [
        ("Pci(0x2,0x1)", &[1u8, 1, 6, 0, 1, 2][..]),
        ("Ctrl(0x3)", &[1, 5, 8, 0, 3, 0, 0, 0][..]),
        (
            "Uart(115200,8,N,1)",
            &[3, 14, 19, 0, 0, 0, 0, 0, 0, 0xc2, 1, 0, 0, 0, 0, 0, 8, 1, 1][..],
        ),
    ] {
        let s = Ucs2::<64>::new(text);
        // SAFETY: the firmware's protocol with a NUL-terminated string.
        let node = PoolPath::new("ConvertTextToDeviceNode", unsafe {
            ((*from).convert_text_to_device_node)(s.as_ptr())
        })?;
        // SAFETY: the node is at least `bytes.len()` long if its header says so; checked first.
        let got = unsafe { core::slice::from_raw_parts(node.0.cast::<u8>(), 4) };
        ensure!(
            usize::from(got[2]) == bytes.len(),
            "{text}: node length {}",
            got[2]
        );
        // SAFETY: length checked above.
        let got = unsafe { core::slice::from_raw_parts(node.0.cast::<u8>(), bytes.len()) };
        ensure!(got == bytes, "{text}: node bytes {got:02x?}");
        // SAFETY: the firmware's protocol with the node it made.
        let back =
            unsafe { ((*to).convert_device_node_to_text)(node.0, Boolean::FALSE, Boolean::TRUE) };
        ensure!(
            !back.is_null(),
            "ConvertDeviceNodeToText({text}) returned NULL"
        );
        let back = PoolText(back);
        ensure!(
            ucs2_eq(back.as_ptr(), text),
            "{text} node came back as {}",
            Show(back.as_ptr())
        );
    }
    Ok(())
}

fn check_utilities() -> Outcome {
    let u = utilities()?;
    let a = from_text("PciRoot(0x0)/Pci(0x1,0x0)")?;
    let b = from_text("Pci(0x0,0x0)/Ctrl(0x0)")?;
    // SAFETY (this block and the calls below): the firmware's utilities on paths it made, or NULL where the
    // specification allows it; every result is owned by a PoolPath.
    unsafe {
        ensure!(
            (u.get_device_path_size)(a.0) == 22,
            "GetDevicePathSize = {}",
            (u.get_device_path_size)(a.0)
        );
        ensure!(
            (u.get_device_path_size)(ptr::null()) == 0,
            "GetDevicePathSize(NULL) is not 0"
        );
        let dup = PoolPath::new("DuplicateDevicePath", (u.duplicate_device_path)(a.0))?;
        ensure!(
            dup.0 != a.0 && dup.bytes()? == a.bytes()?,
            "DuplicateDevicePath is not a copy"
        );

        let ab = PoolPath::new("AppendDevicePath", (u.append_device_path)(a.0, b.0))?;
        let want = from_text("PciRoot(0x0)/Pci(0x1,0x0)/Pci(0x0,0x0)/Ctrl(0x0)")?;
        ensure!(
            ab.bytes()? == want.bytes()?,
            "AppendDevicePath gave {:02x?}",
            ab.bytes()?
        );
        let empty = PoolPath::new(
            "AppendDevicePath(NULL, NULL)",
            (u.append_device_path)(ptr::null(), ptr::null()),
        )?;
        ensure!(
            empty.bytes()? == [0x7f, 0xff, 4, 0],
            "AppendDevicePath(NULL, NULL) is not an end node"
        );

        let node = PoolPath::new(
            "CreateDeviceNode",
            (u.create_device_node)(DeviceType(1), DeviceSubType(1), 6),
        )?;
        let raw = core::slice::from_raw_parts_mut(node.0.cast::<u8>(), 6);
        ensure!(
            raw == [1, 1, 6, 0, 0, 0],
            "CreateDeviceNode(1, 1, 6) gave {raw:02x?}"
        );
        raw[5] = 3;
        let an = PoolPath::new("AppendDeviceNode", (u.append_device_node)(a.0, node.0))?;
        let want = from_text("PciRoot(0x0)/Pci(0x1,0x0)/Pci(0x3,0x0)")?;
        ensure!(
            an.bytes()? == want.bytes()?,
            "AppendDeviceNode gave {:02x?}",
            an.bytes()?
        );
        ensure!(
            (u.create_device_node)(DeviceType(1), DeviceSubType(1), 3).is_null(),
            "CreateDeviceNode with NodeLength 3 did not return NULL"
        );

        let multi = PoolPath::new(
            "AppendDevicePathInstance",
            (u.append_device_path_instance)(a.0, b.0),
        )?;
        let want = from_text("PciRoot(0x0)/Pci(0x1,0x0),Pci(0x0,0x0)/Ctrl(0x0)")?;
        ensure!(
            multi.bytes()? == want.bytes()?,
            "AppendDevicePathInstance gave {:02x?}",
            multi.bytes()?
        );
        ensure!(
            bool::from((u.is_device_path_multi_instance)(multi.0)),
            "multi-instance path not seen as one"
        );
        ensure!(
            !bool::from((u.is_device_path_multi_instance)(a.0)),
            "single-instance path seen as multi"
        );

        let mut cursor: *const DevicePathProtocol = multi.0;
        let mut size = 0usize;
        for (i, want) in [&a, &b].into_iter().enumerate() {
            let instance = PoolPath::new(
                "GetNextDevicePathInstance",
                (u.get_next_device_path_instance)(&mut cursor, &mut size),
            )?;
            ensure!(
                instance.bytes()? == want.bytes()?,
                "instance {i} is {:02x?}",
                instance.bytes()?
            );
            ensure!(
                size == want.bytes()?.len(),
                "instance {i}: size {size}, expected {}",
                want.bytes()?.len()
            );
            ensure!(
                cursor.is_null() == (i == 1),
                "instance {i}: next pointer {cursor:p}"
            );
        }
    }
    Ok(())
}
