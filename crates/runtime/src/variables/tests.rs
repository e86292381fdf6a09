//! Tests of the UEFI 2.10 section 8.2 rules, one per rule.

use std::vec;
use std::vec::Vec;

use r_efi::efi::{
    Guid, HARDWARE_ERROR_VARIABLE_GUID, VARIABLE_APPEND_WRITE as APPEND,
    VARIABLE_AUTHENTICATED_WRITE_ACCESS as AUTH, VARIABLE_BOOTSERVICE_ACCESS as BS,
    VARIABLE_ENHANCED_AUTHENTICATED_ACCESS as ENHANCED, VARIABLE_HARDWARE_ERROR_RECORD as HR,
    VARIABLE_NON_VOLATILE as NV, VARIABLE_RUNTIME_ACCESS as RT,
    VARIABLE_TIME_BASED_AUTHENTICATED_WRITE_ACCESS as TIME_AUTH,
};

use super::record::{RECORD_HEADER_SIZE, REGION_HEADER_SIZE};
use super::*;
use crate::error::{InvalidParameter, RuntimeError};

pub(super) const VENDOR_A: Guid = Guid::from_fields(
    0x8be4df61,
    0x93ca,
    0x11d2,
    0xaa,
    0x0d,
    &[0, 0xe0, 0x98, 3, 0x2b, 0x8c],
);
pub(super) const VENDOR_B: Guid = Guid::from_fields(
    0x9be4df61,
    0x93ca,
    0x11d2,
    0xaa,
    0x0d,
    &[0, 0xe0, 0x98, 3, 0x2b, 0x8c],
);
const BOOT: Phase = Phase::BootServices;
const RUNTIME: Phase = Phase::Runtime;

pub(super) fn ucs2(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(core::iter::once(0)).collect()
}

pub(super) fn new_store(size: usize) -> VariableStore<Vec<u8>> {
    VariableStore::format(vec![0u8; size]).unwrap()
}

pub(super) fn set(
    s: &mut VariableStore<Vec<u8>>,
    phase: Phase,
    vendor: &Guid,
    name: &str,
    attributes: u32,
    data: &[u8],
) -> crate::Result<()> {
    let units = ucs2(name);
    s.set_variable(
        phase,
        &VariableName::new(&units).unwrap(),
        vendor,
        attributes,
        data,
    )
}

pub(super) fn get(
    s: &VariableStore<Vec<u8>>,
    phase: Phase,
    vendor: &Guid,
    name: &str,
) -> crate::Result<(u32, Vec<u8>)> {
    let units = ucs2(name);
    let mut buf = vec![0u8; MAX_VARIABLE_SIZE];
    let info = s.get_variable(phase, &VariableName::new(&units).unwrap(), vendor, &mut buf)?;
    buf.truncate(info.data_size);
    Ok((info.attributes, buf))
}

/// Enumerates with GetNextVariableName, returning (vendor, name) pairs until NOT_FOUND.
pub(super) fn enumerate(s: &VariableStore<Vec<u8>>, phase: Phase) -> Vec<(Guid, Vec<u16>)> {
    let mut name = vec![0u16; 512];
    let mut vendor = Guid::from_bytes(&[0; 16]);
    let mut out = Vec::new();
    loop {
        match s.get_next_variable_name(phase, &mut name, &mut vendor) {
            Ok(bytes) => out.push((vendor, name[..bytes / 2].to_vec())),
            Err(RuntimeError::NotFound) => return out,
            Err(e) => panic!("enumeration failed: {e:?}"),
        }
    }
}

#[test]
fn get_variable_returns_data_and_attributes() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    set(&mut s, BOOT, &VENDOR_A, "Boot0001", NV | BS | RT, b"hello").unwrap();
    assert_eq!(
        get(&s, BOOT, &VENDOR_A, "Boot0001"),
        Ok((NV | BS | RT, b"hello".to_vec()))
    );
}

#[test]
fn get_variable_too_small_reports_size() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    set(&mut s, BOOT, &VENDOR_A, "Lang", BS | RT, b"en-US").unwrap();
    let name = ucs2("Lang");
    let mut buf = [0u8; 4];
    let r = s.get_variable(
        BOOT,
        &VariableName::new(&name).unwrap(),
        &VENDOR_A,
        &mut buf,
    );
    assert_eq!(
        r,
        Err(RuntimeError::BufferTooSmall {
            needed: 5,
            attributes: BS | RT
        })
    );
    assert_eq!(buf, [0; 4], "nothing copied on BUFFER_TOO_SMALL");
}

#[test]
fn get_variable_missing_is_not_found() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    set(&mut s, BOOT, &VENDOR_A, "Lang", BS, b"x").unwrap();
    assert_eq!(
        get(&s, BOOT, &VENDOR_B, "Lang"),
        Err(RuntimeError::NotFound)
    );
    assert_eq!(get(&s, BOOT, &VENDOR_A, "Lan"), Err(RuntimeError::NotFound));
}

#[test]
fn replace_overwrites_data() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    set(&mut s, BOOT, &VENDOR_A, "V", BS, b"first").unwrap();
    set(&mut s, BOOT, &VENDOR_A, "V", BS, b"2nd").unwrap();
    assert_eq!(get(&s, BOOT, &VENDOR_A, "V"), Ok((BS, b"2nd".to_vec())));
    assert_eq!(enumerate(&s, BOOT).len(), 1);
}

#[test]
fn delete_by_zero_size() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    set(&mut s, BOOT, &VENDOR_A, "V", NV | BS, b"data").unwrap();
    set(&mut s, BOOT, &VENDOR_A, "V", NV | BS, b"").unwrap();
    assert_eq!(get(&s, BOOT, &VENDOR_A, "V"), Err(RuntimeError::NotFound));
    assert_eq!(s.live_bytes(), 0);
}

#[test]
fn delete_by_zero_attributes() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    set(&mut s, BOOT, &VENDOR_A, "V", NV | BS, b"data").unwrap();
    set(&mut s, BOOT, &VENDOR_A, "V", 0, b"ignored").unwrap();
    assert_eq!(get(&s, BOOT, &VENDOR_A, "V"), Err(RuntimeError::NotFound));
}

#[test]
fn delete_missing_is_not_found() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    assert_eq!(
        set(&mut s, BOOT, &VENDOR_A, "V", 0, b""),
        Err(RuntimeError::NotFound)
    );
    assert_eq!(
        set(&mut s, BOOT, &VENDOR_A, "V", BS, b""),
        Err(RuntimeError::NotFound)
    );
}

#[test]
fn delete_with_other_attributes_is_invalid_parameter() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    set(&mut s, BOOT, &VENDOR_A, "V", NV | BS, b"data").unwrap();
    let r = set(&mut s, BOOT, &VENDOR_A, "V", BS, b"");
    assert_eq!(
        r,
        Err(InvalidParameter::AttributesMismatch {
            existing: NV | BS,
            requested: BS
        }
        .into())
    );
    assert!(get(&s, BOOT, &VENDOR_A, "V").is_ok());
}

#[test]
fn append_write_appends() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    set(&mut s, BOOT, &VENDOR_A, "db", NV | BS | RT, b"abc").unwrap();
    set(&mut s, BOOT, &VENDOR_A, "db", NV | BS | RT | APPEND, b"def").unwrap();
    assert_eq!(
        get(&s, BOOT, &VENDOR_A, "db"),
        Ok((NV | BS | RT, b"abcdef".to_vec()))
    );
}

#[test]
fn append_write_creates_missing_variable() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    set(&mut s, BOOT, &VENDOR_A, "db", BS | APPEND, b"abc").unwrap();
    assert_eq!(get(&s, BOOT, &VENDOR_A, "db"), Ok((BS, b"abc".to_vec())));
}

#[test]
fn append_write_of_nothing_changes_nothing() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    set(&mut s, BOOT, &VENDOR_A, "db", BS, b"abc").unwrap();
    set(&mut s, BOOT, &VENDOR_A, "db", BS | APPEND, b"").unwrap();
    assert_eq!(get(&s, BOOT, &VENDOR_A, "db"), Ok((BS, b"abc".to_vec())));
    set(&mut s, BOOT, &VENDOR_A, "none", BS | APPEND, b"").unwrap();
    assert_eq!(
        get(&s, BOOT, &VENDOR_A, "none"),
        Err(RuntimeError::NotFound)
    );
}

#[test]
fn runtime_access_requires_bootservice_access() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    let r = set(&mut s, BOOT, &VENDOR_A, "V", NV | RT, b"x");
    assert_eq!(
        r,
        Err(InvalidParameter::RuntimeAccessWithoutBootserviceAccess.into())
    );
    assert_eq!(get(&s, BOOT, &VENDOR_A, "V"), Err(RuntimeError::NotFound));
}

#[test]
fn attributes_without_bootservice_access_are_invalid() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    assert_eq!(
        set(&mut s, BOOT, &VENDOR_A, "V", NV, b"x"),
        Err(InvalidParameter::NoAccessAttribute.into())
    );
}

#[test]
fn unknown_attribute_bits_are_invalid() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    let r = set(&mut s, BOOT, &VENDOR_A, "V", BS | 0x100, b"x");
    assert_eq!(r, Err(InvalidParameter::UnknownAttributeBits(0x100).into()));
}

#[test]
fn deprecated_authenticated_write_is_unsupported() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    assert_eq!(
        set(&mut s, BOOT, &VENDOR_A, "V", NV | BS | AUTH, b"x"),
        Err(RuntimeError::Unsupported)
    );
}

#[test]
fn time_based_authenticated_write_is_security_violation() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    for extra in [TIME_AUTH, ENHANCED] {
        let r = set(&mut s, BOOT, &VENDOR_A, "db", NV | BS | RT | extra, b"x");
        assert_eq!(r, Err(RuntimeError::SecurityViolation));
    }
    assert_eq!(get(&s, BOOT, &VENDOR_A, "db"), Err(RuntimeError::NotFound));
}

#[test]
fn hardware_error_record_needs_its_guid_and_nv_bs_rt() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    let hw = HARDWARE_ERROR_VARIABLE_GUID;
    let bad = Err(InvalidParameter::HardwareErrorRecord.into());
    assert_eq!(
        set(
            &mut s,
            BOOT,
            &VENDOR_A,
            "HwErrRec0001",
            NV | BS | RT | HR,
            b"x"
        ),
        bad
    );
    assert_eq!(
        set(&mut s, BOOT, &hw, "HwErrRec0001", BS | RT | HR, b"x"),
        bad
    );
    set(&mut s, BOOT, &hw, "HwErrRec0001", NV | BS | RT | HR, b"x").unwrap();
    assert_eq!(
        get(&s, RUNTIME, &hw, "HwErrRec0001"),
        Ok((NV | BS | RT | HR, b"x".to_vec()))
    );
}

#[test]
fn changing_attributes_is_invalid_parameter() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    set(&mut s, BOOT, &VENDOR_A, "V", NV | BS | RT, b"old").unwrap();
    let r = set(&mut s, BOOT, &VENDOR_A, "V", NV | BS, b"new");
    assert_eq!(
        r,
        Err(InvalidParameter::AttributesMismatch {
            existing: NV | BS | RT,
            requested: NV | BS
        }
        .into())
    );
    assert_eq!(
        get(&s, BOOT, &VENDOR_A, "V"),
        Ok((NV | BS | RT, b"old".to_vec()))
    );
}

#[test]
fn after_exit_only_runtime_variables_visible() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    set(&mut s, BOOT, &VENDOR_A, "BootOnly", NV | BS, b"b").unwrap();
    set(&mut s, BOOT, &VENDOR_A, "Both", NV | BS | RT, b"r").unwrap();
    assert_eq!(
        get(&s, RUNTIME, &VENDOR_A, "BootOnly"),
        Err(RuntimeError::NotFound)
    );
    assert_eq!(
        get(&s, RUNTIME, &VENDOR_A, "Both"),
        Ok((NV | BS | RT, b"r".to_vec()))
    );
    assert_eq!(enumerate(&s, RUNTIME), vec![(VENDOR_A, ucs2("Both"))]);
    assert_eq!(enumerate(&s, BOOT).len(), 2);
    let info = s.query_variable_info(RUNTIME, NV | BS);
    assert_eq!(info, Err(InvalidParameter::NotAccessibleAtRuntime.into()));
}

#[test]
fn after_exit_boot_only_name_cannot_be_written_or_deleted() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    set(&mut s, BOOT, &VENDOR_A, "BootOnly", NV | BS, b"b").unwrap();
    assert_eq!(
        set(&mut s, RUNTIME, &VENDOR_A, "BootOnly", 0, b""),
        Err(RuntimeError::NotFound)
    );
    assert_eq!(
        set(&mut s, RUNTIME, &VENDOR_A, "BootOnly", NV | BS | RT, b"x"),
        Err(RuntimeError::WriteProtected)
    );
    assert_eq!(
        get(&s, BOOT, &VENDOR_A, "BootOnly"),
        Ok((NV | BS, b"b".to_vec()))
    );
}

#[test]
fn after_exit_volatile_runtime_variables_are_write_protected() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    set(&mut s, BOOT, &VENDOR_A, "Volatile", BS | RT, b"v").unwrap();
    assert_eq!(
        set(&mut s, RUNTIME, &VENDOR_A, "Volatile", BS | RT, b"w"),
        Err(RuntimeError::WriteProtected)
    );
    assert_eq!(
        set(&mut s, RUNTIME, &VENDOR_A, "Volatile", 0, b""),
        Err(RuntimeError::WriteProtected)
    );
    assert_eq!(
        get(&s, RUNTIME, &VENDOR_A, "Volatile"),
        Ok((BS | RT, b"v".to_vec()))
    );
}

#[test]
fn after_exit_new_variables_need_nv_and_rt() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    let bad = Err(InvalidParameter::NotAccessibleAtRuntime.into());
    assert_eq!(set(&mut s, RUNTIME, &VENDOR_A, "New", NV | BS, b"x"), bad);
    assert_eq!(set(&mut s, RUNTIME, &VENDOR_A, "New", BS | RT, b"x"), bad);
    set(&mut s, RUNTIME, &VENDOR_A, "New", NV | BS | RT, b"x").unwrap();
    set(
        &mut s,
        RUNTIME,
        &VENDOR_A,
        "New",
        NV | BS | RT | APPEND,
        b"y",
    )
    .unwrap();
    assert_eq!(
        get(&s, RUNTIME, &VENDOR_A, "New"),
        Ok((NV | BS | RT, b"xy".to_vec()))
    );
    set(&mut s, RUNTIME, &VENDOR_A, "New", 0, b"").unwrap();
    assert_eq!(get(&s, BOOT, &VENDOR_A, "New"), Err(RuntimeError::NotFound));
}

#[test]
fn get_next_variable_name_iterates_all_then_not_found() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    // Inserted out of order; enumeration is by (GUID bytes, name units).
    set(&mut s, BOOT, &VENDOR_B, "A", BS, b"1").unwrap();
    set(&mut s, BOOT, &VENDOR_A, "Zeta", BS, b"2").unwrap();
    set(&mut s, BOOT, &VENDOR_A, "Alpha", BS, b"3").unwrap();
    set(&mut s, BOOT, &VENDOR_A, "Al", BS, b"4").unwrap();
    let expected = vec![
        (VENDOR_A, ucs2("Al")),
        (VENDOR_A, ucs2("Alpha")),
        (VENDOR_A, ucs2("Zeta")),
        (VENDOR_B, ucs2("A")),
    ];
    assert_eq!(enumerate(&s, BOOT), expected);
    // Asking past the last one keeps answering NOT_FOUND.
    let mut name = ucs2("A");
    let mut vendor = VENDOR_B;
    assert_eq!(
        s.get_next_variable_name(BOOT, &mut name, &mut vendor),
        Err(RuntimeError::NotFound)
    );
}

#[test]
fn get_next_variable_name_on_empty_store_is_not_found() {
    let s = new_store(RECOMMENDED_STORE_SIZE);
    assert_eq!(enumerate(&s, BOOT), vec![]);
}

#[test]
fn get_next_variable_name_order_stable_across_rewrites() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    for n in ["C", "A", "B"] {
        set(&mut s, BOOT, &VENDOR_A, n, NV | BS, b"x").unwrap();
    }
    let before = enumerate(&s, BOOT);
    set(&mut s, BOOT, &VENDOR_A, "A", NV | BS, b"rewritten").unwrap();
    s.compact();
    assert_eq!(enumerate(&s, BOOT), before);
}

#[test]
fn get_next_variable_name_too_small_reports_size_with_nul() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    set(&mut s, BOOT, &VENDOR_A, "Boot0001", BS, b"x").unwrap();
    let mut name = [0u16; 8]; // "Boot0001" needs 9 units with the NUL
    let mut vendor = VENDOR_B;
    let r = s.get_next_variable_name(BOOT, &mut name, &mut vendor);
    assert_eq!(
        r,
        Err(RuntimeError::BufferTooSmall {
            needed: 18,
            attributes: BS
        })
    );
    assert_eq!(vendor, VENDOR_B, "vendor untouched on BUFFER_TOO_SMALL");
    let mut name = [0u16; 9];
    assert_eq!(
        s.get_next_variable_name(BOOT, &mut name, &mut vendor),
        Ok(18)
    );
    assert_eq!(name.to_vec(), ucs2("Boot0001"));
    assert_eq!(vendor, VENDOR_A);
}

#[test]
fn get_next_variable_name_unknown_previous_is_invalid_parameter() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    set(&mut s, BOOT, &VENDOR_A, "Known", BS, b"x").unwrap();
    let mut name = ucs2("Known");
    let mut vendor = VENDOR_B; // right name, wrong GUID
    let r = s.get_next_variable_name(BOOT, &mut name, &mut vendor);
    assert_eq!(r, Err(InvalidParameter::NotAnExistingVariable.into()));
}

#[test]
fn get_next_variable_name_unterminated_buffer_is_invalid_parameter() {
    let s = new_store(RECOMMENDED_STORE_SIZE);
    let mut vendor = VENDOR_A;
    let mut name = [b'A' as u16, b'B' as u16];
    let r = s.get_next_variable_name(BOOT, &mut name, &mut vendor);
    assert_eq!(r, Err(NameError::MissingNul.into()));
    let r = s.get_next_variable_name(BOOT, &mut [], &mut vendor);
    assert_eq!(r, Err(NameError::MissingNul.into()));
}

#[test]
fn variable_too_large_is_invalid_parameter() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    let name_bytes = ucs2("Big").len() * 2;
    let fits = vec![7u8; MAX_VARIABLE_SIZE - name_bytes];
    set(&mut s, BOOT, &VENDOR_A, "Big", BS, &fits).unwrap();
    let too_big = vec![7u8; MAX_VARIABLE_SIZE - name_bytes + 1];
    let r = set(&mut s, BOOT, &VENDOR_A, "Big2", BS, &too_big);
    assert_eq!(
        r,
        Err(InvalidParameter::VariableTooLarge {
            size: MAX_VARIABLE_SIZE + 3,
            max: MAX_VARIABLE_SIZE
        }
        .into())
    );
    let r = set(&mut s, BOOT, &VENDOR_A, "Big", BS | APPEND, b"x");
    assert_eq!(
        r,
        Err(InvalidParameter::VariableTooLarge {
            size: MAX_VARIABLE_SIZE + 1,
            max: MAX_VARIABLE_SIZE
        }
        .into())
    );
}

#[test]
fn query_variable_info_reports_sizes() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    let capacity = (RECOMMENDED_STORE_SIZE - REGION_HEADER_SIZE) as u64;
    let info = s.query_variable_info(BOOT, NV | BS | RT).unwrap();
    assert_eq!(
        info,
        StorageInfo {
            maximum_variable_storage_size: capacity,
            remaining_variable_storage_size: capacity,
            maximum_variable_size: MAX_VARIABLE_SIZE as u64,
        }
    );
    set(&mut s, BOOT, &VENDOR_A, "V", NV | BS, &[1; 100]).unwrap();
    let used = (RECORD_HEADER_SIZE + 4 + 100) as u64;
    let info = s.query_variable_info(BOOT, BS).unwrap();
    assert_eq!(info.remaining_variable_storage_size, capacity - used);
    // Deleted records are reclaimable, so they count as remaining.
    set(&mut s, BOOT, &VENDOR_A, "V", 0, b"").unwrap();
    assert_eq!(
        s.query_variable_info(BOOT, BS)
            .unwrap()
            .remaining_variable_storage_size,
        capacity
    );
}

#[test]
fn query_variable_info_rejects_bad_attributes() {
    let s = new_store(RECOMMENDED_STORE_SIZE);
    assert_eq!(
        s.query_variable_info(BOOT, 0),
        Err(InvalidParameter::NoAccessAttribute.into())
    );
    assert_eq!(
        s.query_variable_info(BOOT, RT),
        Err(InvalidParameter::RuntimeAccessWithoutBootserviceAccess.into())
    );
    assert_eq!(
        s.query_variable_info(BOOT, BS | 0x200),
        Err(InvalidParameter::UnknownAttributeBits(0x200).into())
    );
    assert_eq!(
        s.query_variable_info(BOOT, NV | BS | TIME_AUTH),
        Err(RuntimeError::Unsupported)
    );
    assert!(s.query_variable_info(BOOT, NV | BS | RT | HR).is_ok());
}
