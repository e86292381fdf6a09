//! Variable services checks (UEFI 2.10 §8.2), run before ExitBootServices through the raw runtime-services table:
//! SetVariable/GetVariable, BUFFER_TOO_SMALL sizes, replacing, APPEND_WRITE, deleting, GetNextVariableName,
//! QueryVariableInfo, the attribute rules, size limits, and the read-only global variables (§3.3). The time,
//! monotonic-count and RT-properties checks of the group are in `variables_time.rs`, SetVirtualAddressMap and the
//! calls in virtual mode (after ExitBootServices) in `variables_virtual.rs`.
//!
//! Design: every variable the checks create lives under the app's own vendor GUID [`VENDOR`], is volatile
//! (`BOOTSERVICE_ACCESS | RUNTIME_ACCESS`) and is deleted by the check that made it, so a run leaves the store as it
//! found it. Names and buffers are fixed arrays on the stack: the app has no heap.

use core::fmt::Write;
use core::ptr;

use uefi_raw::table::runtime::{RuntimeServices, VariableAttributes as Attr, VariableVendor};
use uefi_raw::{guid, Guid, Status};

use crate::memory::{alloc_pool, free_pool};
use crate::report::{Outcome, Report};
use crate::{expect_status, system_table};

/// The app's vendor GUID for its test variables.
pub const VENDOR: Guid = guid!("5e6a1d8c-0f0b-4c55-9a4e-766d66775f74");
const GLOBAL: Guid = VariableVendor::GLOBAL_VARIABLE.0;
const BS_RT: Attr = Attr::BOOTSERVICE_ACCESS.union(Attr::RUNTIME_ACCESS);
/// Longest name the checks use or enumerate, in UCS-2 units with the NUL.
const NAME_UNITS: usize = 128;

/// The runtime-services table.
pub fn runtime() -> &'static RuntimeServices {
    // SAFETY: the firmware's runtime-services table lives as long as the machine.
    unsafe { &*system_table().runtime_services }
}

/// A NUL-terminated UCS-2 name in a fixed buffer.
pub struct Name([u16; NAME_UNITS]);

impl Name {
    /// `text` (ASCII, shorter than [`NAME_UNITS`]) with its NUL.
    pub fn new(text: &str) -> Name {
        let mut units = [0u16; NAME_UNITS];
        for (slot, byte) in units.iter_mut().zip(text.bytes().take(NAME_UNITS - 1)) {
            *slot = u16::from(byte);
        }
        Name(units)
    }

    /// The name's first unit.
    pub fn as_ptr(&self) -> *const u16 {
        self.0.as_ptr()
    }

    /// Whether the NUL-terminated `units` spell this name.
    pub fn is(&self, units: &[u16]) -> bool {
        let len = |u: &[u16]| u.iter().position(|&c| c == 0).unwrap_or(u.len());
        self.0[..len(&self.0)] == units[..len(units)]
    }
}

/// SetVariable through the table.
pub fn set(name: &Name, vendor: &Guid, attributes: Attr, data: &[u8]) -> Status {
    // SAFETY: a NUL-terminated name, a GUID and `data.len()` readable bytes.
    unsafe {
        (runtime().set_variable)(name.as_ptr(), vendor, attributes, data.len(), data.as_ptr())
    }
}

/// GetVariable into `buffer`: the status, the attributes and the size the firmware reported.
pub fn get(name: &Name, vendor: &Guid, buffer: &mut [u8]) -> (Status, Attr, usize) {
    let mut attributes = Attr::empty();
    let mut size = buffer.len();
    let data = if buffer.is_empty() {
        ptr::null_mut()
    } else {
        buffer.as_mut_ptr()
    };
    // SAFETY: valid name, GUID and out-pointers; `data` is null or holds `size` writable bytes.
    let status = unsafe {
        (runtime().get_variable)(name.as_ptr(), vendor, &mut attributes, &mut size, data)
    };
    (status, attributes, size)
}

/// GetVariable that must succeed with `attributes` and `data`.
fn expect_value(name: &Name, vendor: &Guid, attributes: Attr, data: &[u8]) -> Outcome {
    let mut buffer = [0u8; 64];
    let (status, got, size) = get(name, vendor, &mut buffer);
    expect_status("GetVariable", status, Status::SUCCESS)?;
    ensure!(
        got == attributes,
        "attributes {got:?}, expected {attributes:?}"
    );
    ensure!(
        buffer.get(..size) == Some(data),
        "data {:?}, expected {data:?}",
        &buffer[..size.min(buffer.len())]
    );
    Ok(())
}

/// Deletes a test variable (result ignored: used for clean-up).
fn remove(name: &Name) {
    let _ = set(name, &VENDOR, BS_RT, &[]);
}

fn create_and_read() -> Outcome {
    let a = Name::new("VmfwSelftestA");
    expect_status(
        "SetVariable",
        set(&a, &VENDOR, BS_RT, b"alpha"),
        Status::SUCCESS,
    )?;
    let result = expect_value(&a, &VENDOR, BS_RT, b"alpha");
    remove(&a);
    result
}

fn buffer_too_small() -> Outcome {
    let a = Name::new("VmfwSelftestSize");
    expect_status(
        "SetVariable",
        set(&a, &VENDOR, BS_RT, b"0123456789"),
        Status::SUCCESS,
    )?;
    let result = (|| {
        let (status, _, size) = get(&a, &VENDOR, &mut []);
        expect_status(
            "GetVariable(size 0, no buffer)",
            status,
            Status::BUFFER_TOO_SMALL,
        )?;
        ensure!(
            size == 10,
            "size 0 reported {size} needed bytes, expected 10"
        );
        let mut short = [0xaau8; 9];
        let (status, _, size) = get(&a, &VENDOR, &mut short);
        expect_status(
            "GetVariable(9 of 10 bytes)",
            status,
            Status::BUFFER_TOO_SMALL,
        )?;
        ensure!(size == 10, "a 9-byte buffer reported {size} needed bytes");
        let mut exact = [0u8; 10];
        let (status, _, size) = get(&a, &VENDOR, &mut exact);
        expect_status("GetVariable(10 bytes)", status, Status::SUCCESS)?;
        ensure!(
            size == 10 && &exact == b"0123456789",
            "exact buffer: {size} bytes {exact:?}"
        );
        let mut attributes = Attr::empty();
        let mut size = 10usize;
        // SAFETY: valid name, GUID and out-pointers; Data is deliberately null with a non-zero size.
        let status = unsafe {
            (runtime().get_variable)(
                a.as_ptr(),
                &VENDOR,
                &mut attributes,
                &mut size,
                ptr::null_mut(),
            )
        };
        expect_status(
            "GetVariable(size 10, null Data)",
            status,
            Status::INVALID_PARAMETER,
        )
    })();
    remove(&a);
    result
}

fn missing_is_not_found() -> Outcome {
    let (status, _, _) = get(&Name::new("VmfwSelftestNever"), &VENDOR, &mut [0u8; 8]);
    expect_status("GetVariable(missing)", status, Status::NOT_FOUND)?;
    let (status, _, _) = get(&Name::new("PlatformLangCodes"), &VENDOR, &mut [0u8; 8]);
    expect_status(
        "GetVariable(global name, other GUID)",
        status,
        Status::NOT_FOUND,
    )
}

fn replace_and_append() -> Outcome {
    let a = Name::new("VmfwSelftestAppend");
    expect_status(
        "SetVariable",
        set(&a, &VENDOR, BS_RT, b"first"),
        Status::SUCCESS,
    )?;
    let result = (|| {
        expect_status(
            "SetVariable(replace)",
            set(&a, &VENDOR, BS_RT, b"AB"),
            Status::SUCCESS,
        )?;
        expect_value(&a, &VENDOR, BS_RT, b"AB")?;
        let append = BS_RT | Attr::APPEND_WRITE;
        expect_status(
            "SetVariable(append)",
            set(&a, &VENDOR, append, b"CD"),
            Status::SUCCESS,
        )?;
        expect_value(&a, &VENDOR, BS_RT, b"ABCD")?;
        expect_status(
            "SetVariable(append nothing)",
            set(&a, &VENDOR, append, &[]),
            Status::SUCCESS,
        )?;
        expect_value(&a, &VENDOR, BS_RT, b"ABCD")
    })();
    remove(&a);
    result
}

fn delete() -> Outcome {
    let a = Name::new("VmfwSelftestDelete");
    expect_status(
        "SetVariable",
        set(&a, &VENDOR, BS_RT, b"x"),
        Status::SUCCESS,
    )?;
    expect_status(
        "SetVariable(size 0)",
        set(&a, &VENDOR, BS_RT, &[]),
        Status::SUCCESS,
    )?;
    let (status, _, _) = get(&a, &VENDOR, &mut [0u8; 8]);
    expect_status("GetVariable(deleted)", status, Status::NOT_FOUND)?;
    expect_status(
        "SetVariable",
        set(&a, &VENDOR, BS_RT, b"y"),
        Status::SUCCESS,
    )?;
    expect_status(
        "SetVariable(attributes 0)",
        set(&a, &VENDOR, Attr::empty(), b"y"),
        Status::SUCCESS,
    )?;
    let (status, _, _) = get(&a, &VENDOR, &mut [0u8; 8]);
    expect_status(
        "GetVariable(deleted by attributes 0)",
        status,
        Status::NOT_FOUND,
    )?;
    let again = set(&a, &VENDOR, BS_RT, &[]);
    expect_status(
        "SetVariable(delete a missing variable)",
        again,
        Status::NOT_FOUND,
    )
}

/// GetNextVariableName into `name` (in/out) with `size` bytes offered; the status and the size reported.
fn next(name: &mut [u16; NAME_UNITS], vendor: &mut Guid, size: usize) -> (Status, usize) {
    let mut size = size;
    // SAFETY: `name` holds NAME_UNITS units (at least `size` bytes), `vendor` is a valid GUID.
    let status =
        unsafe { (runtime().get_next_variable_name)(&mut size, name.as_mut_ptr(), vendor) };
    (status, size)
}

fn enumerate() -> Outcome {
    let (a, b) = (
        Name::new("VmfwSelftestEnumA"),
        Name::new("VmfwSelftestEnumB"),
    );
    expect_status(
        "SetVariable",
        set(&a, &VENDOR, BS_RT, b"1"),
        Status::SUCCESS,
    )?;
    expect_status(
        "SetVariable",
        set(&b, &VENDOR, BS_RT, b"2"),
        Status::SUCCESS,
    )?;
    let result = (|| {
        let mut name = [0u16; NAME_UNITS];
        let mut vendor = Guid::ZERO;
        let (status, needed) = next(&mut name, &mut vendor, 2);
        expect_status(
            "GetNextVariableName(2 bytes)",
            status,
            Status::BUFFER_TOO_SMALL,
        )?;
        ensure!(
            needed > 2 && needed % 2 == 0,
            "BUFFER_TOO_SMALL reported size {needed}"
        );
        let (mut seen_a, mut seen_b, mut count) = (false, false, 0);
        loop {
            let (status, size) = next(&mut name, &mut vendor, NAME_UNITS * 2);
            if status == Status::NOT_FOUND {
                break;
            }
            expect_status("GetNextVariableName", status, Status::SUCCESS)?;
            let units = size / 2;
            ensure!(
                units >= 2 && name[units - 1] == 0 && !name[..units - 1].contains(&0),
                "size {size} does not match the NUL-terminated name"
            );
            if count == 0 {
                ensure!(
                    size == needed,
                    "first name is {size} bytes, BUFFER_TOO_SMALL said {needed}"
                );
            }
            seen_a |= vendor == VENDOR && a.is(&name);
            seen_b |= vendor == VENDOR && b.is(&name);
            count += 1;
            ensure!(count < 4096, "enumeration does not end");
        }
        ensure!(
            seen_a && seen_b,
            "enumeration missed a test variable (A {seen_a}, B {seen_b})"
        );
        let mut bogus = Name::new("VmfwSelftestNever").0;
        let mut vendor = VENDOR;
        let (status, _) = next(&mut bogus, &mut vendor, NAME_UNITS * 2);
        expect_status(
            "GetNextVariableName(not a variable)",
            status,
            Status::INVALID_PARAMETER,
        )
    })();
    remove(&a);
    remove(&b);
    result
}

/// QueryVariableInfo: status and (maximum storage, remaining storage, maximum variable size).
pub fn query(attributes: Attr) -> (Status, u64, u64, u64) {
    let (mut max, mut remaining, mut largest) = (0u64, 0u64, 0u64);
    // SAFETY: three valid out-pointers.
    let status = unsafe {
        (runtime().query_variable_info)(attributes, &mut max, &mut remaining, &mut largest)
    };
    (status, max, remaining, largest)
}

fn query_variable_info() -> Outcome {
    for attributes in [BS_RT, BS_RT | Attr::NON_VOLATILE, Attr::BOOTSERVICE_ACCESS] {
        let (status, max, remaining, largest) = query(attributes);
        expect_status("QueryVariableInfo", status, Status::SUCCESS)?;
        ensure!(
            remaining <= max && largest > 0 && largest <= max,
            "{attributes:?}: maximum {max}, remaining {remaining}, largest variable {largest}"
        );
    }
    let (status, ..) = query(Attr::empty());
    expect_status(
        "QueryVariableInfo(no attributes)",
        status,
        Status::INVALID_PARAMETER,
    )?;
    let (status, ..) = query(Attr::RUNTIME_ACCESS);
    expect_status(
        "QueryVariableInfo(RT without BS)",
        status,
        Status::INVALID_PARAMETER,
    )?;
    let a = Name::new("VmfwSelftestSpace");
    let (_, _, before, _) = query(BS_RT);
    expect_status(
        "SetVariable(1000 bytes)",
        set(&a, &VENDOR, BS_RT, &[7u8; 1000]),
        Status::SUCCESS,
    )?;
    let (_, _, after, _) = query(BS_RT);
    remove(&a);
    ensure!(
        after + 1000 <= before,
        "remaining storage went from {before} to {after} for a 1000-byte variable"
    );
    Ok(())
}

fn attribute_rules() -> Outcome {
    let a = Name::new("VmfwSelftestRules");
    let rt_only = set(&a, &VENDOR, Attr::RUNTIME_ACCESS, b"x");
    expect_status(
        "SetVariable(RT without BS)",
        rt_only,
        Status::INVALID_PARAMETER,
    )?;
    let unknown = set(&a, &VENDOR, BS_RT | Attr::from_bits_retain(0x100), b"x");
    expect_status(
        "SetVariable(undefined attribute bit)",
        unknown,
        Status::INVALID_PARAMETER,
    )?;
    expect_status(
        "SetVariable",
        set(&a, &VENDOR, BS_RT, b"x"),
        Status::SUCCESS,
    )?;
    let result = (|| {
        let changed = set(&a, &VENDOR, Attr::BOOTSERVICE_ACCESS, b"y");
        expect_status(
            "SetVariable(other attributes)",
            changed,
            Status::INVALID_PARAMETER,
        )?;
        expect_value(&a, &VENDOR, BS_RT, b"x")
    })();
    remove(&a);
    result
}

fn authenticated_writes_are_refused() -> Outcome {
    let a = Name::new("VmfwSelftestAuth");
    // An EFI_VARIABLE_AUTHENTICATION_2 header that cannot verify: a zero timestamp and a certificate of no bytes.
    let time_based = set(
        &a,
        &VENDOR,
        BS_RT | Attr::TIME_BASED_AUTHENTICATED_WRITE_ACCESS,
        &[0; 40],
    );
    ensure!(
        time_based.is_error(),
        "an unverifiable time-based authenticated write returned {time_based:?}"
    );
    let (status, ..) = get(&a, &VENDOR, &mut [0u8; 64]);
    expect_status(
        "GetVariable(after refused write)",
        status,
        Status::NOT_FOUND,
    )
}

fn size_limit() -> Outcome {
    let (status, _, _, largest) = query(BS_RT);
    expect_status("QueryVariableInfo", status, Status::SUCCESS)?;
    let a = Name::new("VmfwSelftestBig");
    let len = largest as usize + 1;
    let buffer = alloc_pool(len)?;
    // SAFETY: a fresh pool buffer of `len` bytes, freed below.
    let data = unsafe { core::slice::from_raw_parts_mut(buffer, len) };
    data.fill(0x5a);
    let status = set(&a, &VENDOR, BS_RT, data);
    let _ = free_pool(buffer);
    if status == Status::SUCCESS {
        remove(&a);
    }
    ensure!(
        status == Status::INVALID_PARAMETER || status == Status::OUT_OF_RESOURCES,
        "SetVariable of {len} data bytes (largest variable {largest}) returned {status:?}"
    );
    Ok(())
}

/// Reads a global variable that must exist with `BOOTSERVICE_ACCESS | RUNTIME_ACCESS` (plus `extra`) and `len`
/// bytes (0: any), and checks SetVariable refuses to change it.
fn read_only_global(
    name: &str,
    extra: Attr,
    len: usize,
    buffer: &mut [u8],
) -> Result<usize, crate::report::Detail> {
    let n = Name::new(name);
    let (status, attributes, size) = get(&n, &GLOBAL, buffer);
    expect_status(name, status, Status::SUCCESS)?;
    ensure!(
        attributes == BS_RT | extra,
        "{name} has attributes {attributes:?}"
    );
    ensure!(
        len == 0 || size == len,
        "{name} has {size} bytes, expected {len}"
    );
    let written = set(&n, &GLOBAL, attributes, &buffer[..size]);
    expect_status(name, written, Status::WRITE_PROTECTED)?;
    let deleted = set(&n, &GLOBAL, attributes, &[]);
    expect_status(name, deleted, Status::WRITE_PROTECTED)?;
    Ok(size)
}

fn global_variables() -> Outcome {
    let mut codes = [0u8; 256];
    let size = read_only_global("PlatformLangCodes", Attr::empty(), 0, &mut codes)?;
    ensure!(
        size > 1 && codes[size - 1] == 0,
        "PlatformLangCodes is not a NUL-terminated string"
    );
    let mut lang = [0u8; 64];
    let (status, attributes, lang_size) = get(&Name::new("PlatformLang"), &GLOBAL, &mut lang);
    expect_status("PlatformLang", status, Status::SUCCESS)?;
    ensure!(
        attributes == BS_RT | Attr::NON_VOLATILE,
        "PlatformLang has attributes {attributes:?}"
    );
    let lang = &lang[..lang_size.saturating_sub(1)];
    ensure!(
        codes[..size - 1]
            .split(|&b| b == b';')
            .any(|code| code == lang),
        "PlatformLang is not one of PlatformLangCodes"
    );
    read_only_global("OsIndicationsSupported", Attr::empty(), 8, &mut [0u8; 8])?;
    read_only_global("BootOptionSupport", Attr::empty(), 4, &mut [0u8; 4])?;
    Ok(())
}

fn secure_boot_state() -> Outcome {
    let mut secure_boot = [0u8; 1];
    read_only_global("SecureBoot", Attr::empty(), 1, &mut secure_boot)?;
    let mut setup_mode = [0u8; 1];
    read_only_global("SetupMode", Attr::empty(), 1, &mut setup_mode)?;
    let (pk, _, _) = get(&Name::new("PK"), &GLOBAL, &mut []);
    let no_pk = pk == Status::NOT_FOUND;
    ensure!(
        setup_mode[0] == u8::from(no_pk),
        "SetupMode is {} while the PK is {}",
        setup_mode[0],
        if no_pk { "absent" } else { "enrolled" }
    );
    ensure!(
        !no_pk || secure_boot[0] == 0,
        "SecureBoot is {} without a PK",
        secure_boot[0]
    );
    Ok(())
}

/// Runs the variable checks, then the time checks of `variables_time`.
pub fn run(report: &mut Report, out: &mut dyn Write) {
    type Check = (&'static str, fn() -> Outcome);
    const CHECKS: [Check; 12] = [
        (
            "variables: SetVariable creates, GetVariable reads data and attributes",
            create_and_read,
        ),
        (
            "variables: BUFFER_TOO_SMALL reports the data size",
            buffer_too_small,
        ),
        (
            "variables: a missing variable is NOT_FOUND",
            missing_is_not_found,
        ),
        ("variables: replace and APPEND_WRITE", replace_and_append),
        ("variables: delete by size 0 and by attributes 0", delete),
        (
            "variables: GetNextVariableName enumerates, sizes, ends",
            enumerate,
        ),
        ("variables: QueryVariableInfo", query_variable_info),
        ("variables: attribute rules", attribute_rules),
        (
            "variables: unverifiable authenticated write refused",
            authenticated_writes_are_refused,
        ),
        (
            "variables: a variable above the size limit is refused",
            size_limit,
        ),
        ("variables: read-only global variables", global_variables),
        ("variables: SecureBoot and SetupMode", secure_boot_state),
    ];
    for (name, check) in CHECKS {
        report.record(out, name, check());
    }
    crate::variables_time::run(report, out);
    crate::variables_virtual::prepare(report, out);
}
