//! Tests of the firmware's own variables: `set_firmware_variable` and the read-only flag.

use std::vec;
use std::vec::Vec;

use r_efi::efi::{
    VARIABLE_APPEND_WRITE as APPEND, VARIABLE_BOOTSERVICE_ACCESS as BS,
    VARIABLE_NON_VOLATILE as NV, VARIABLE_RUNTIME_ACCESS as RT,
};

use super::record::{FormatError, FLAG_READ_ONLY, REGION_HEADER_SIZE};
use super::tests::{enumerate, get, new_store, set, ucs2, VENDOR_A};
use super::*;
use crate::error::{InvalidParameter, RuntimeError};

const BOOT: Phase = Phase::BootServices;
const RUNTIME: Phase = Phase::Runtime;

fn firmware(
    s: &mut VariableStore<Vec<u8>>,
    name: &str,
    attributes: u32,
    data: &[u8],
    read_only: bool,
) -> crate::Result<()> {
    let units = ucs2(name);
    s.set_firmware_variable(
        &VariableName::new(&units).unwrap(),
        &VENDOR_A,
        attributes,
        data,
        read_only,
    )
}

#[test]
fn read_only_variables_refuse_every_set_variable_in_both_phases() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    firmware(&mut s, "SecureBoot", BS | RT, &[0], true).unwrap();
    for phase in [BOOT, RUNTIME] {
        for (attributes, data) in [
            (BS | RT, &[1u8][..]),        // replace
            (BS | RT | APPEND, &[1][..]), // append
            (BS | RT, &[][..]),           // delete by size 0
            (0, &[1][..]),                // delete by attributes 0
        ] {
            assert_eq!(
                set(&mut s, phase, &VENDOR_A, "SecureBoot", attributes, data),
                Err(RuntimeError::WriteProtected),
                "{phase:?} attributes {attributes:#x}"
            );
        }
        assert_eq!(
            get(&s, phase, &VENDOR_A, "SecureBoot"),
            Ok((BS | RT, vec![0]))
        );
    }
}

#[test]
fn attribute_errors_come_before_the_read_only_refusal() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    firmware(&mut s, "SetupMode", BS | RT, &[1], true).unwrap();
    assert_eq!(
        set(&mut s, BOOT, &VENDOR_A, "SetupMode", RT, &[0]),
        Err(InvalidParameter::RuntimeAccessWithoutBootserviceAccess.into())
    );
}

#[test]
fn firmware_may_replace_and_delete_its_read_only_variables() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    firmware(&mut s, "BootOptionSupport", BS | RT, &[0; 4], true).unwrap();
    firmware(&mut s, "BootOptionSupport", BS | RT, &[3, 0, 0, 0], true).unwrap();
    assert_eq!(
        get(&s, BOOT, &VENDOR_A, "BootOptionSupport"),
        Ok((BS | RT, vec![3, 0, 0, 0]))
    );
    firmware(&mut s, "BootOptionSupport", BS | RT, &[], true).unwrap();
    assert_eq!(
        get(&s, BOOT, &VENDOR_A, "BootOptionSupport"),
        Err(RuntimeError::NotFound)
    );
    assert_eq!(
        firmware(&mut s, "BootOptionSupport", BS | RT, &[], true),
        Err(RuntimeError::NotFound)
    );
}

#[test]
fn writable_firmware_variables_behave_as_any_other() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    firmware(&mut s, "PlatformLang", NV | BS | RT, b"en-US\0", false).unwrap();
    set(
        &mut s,
        BOOT,
        &VENDOR_A,
        "PlatformLang",
        NV | BS | RT,
        b"fr-FR\0",
    )
    .unwrap();
    assert_eq!(
        get(&s, BOOT, &VENDOR_A, "PlatformLang"),
        Ok((NV | BS | RT, b"fr-FR\0".to_vec()))
    );
    // The replacement written through SetVariable is not read-only either.
    set(&mut s, BOOT, &VENDOR_A, "PlatformLang", 0, &[]).unwrap();
    assert!(enumerate(&s, BOOT).is_empty());
}

#[test]
fn firmware_writes_follow_the_attribute_rules() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    assert_eq!(
        firmware(&mut s, "X", BS | APPEND, b"a", true),
        Err(InvalidParameter::UnknownAttributeBits(APPEND).into())
    );
    assert_eq!(
        firmware(&mut s, "X", 0, b"a", true),
        Err(InvalidParameter::NoAccessAttribute.into())
    );
    assert_eq!(
        firmware(&mut s, "X", BS, &vec![0; MAX_VARIABLE_SIZE], true),
        Err(InvalidParameter::VariableTooLarge {
            size: 4 + MAX_VARIABLE_SIZE,
            max: MAX_VARIABLE_SIZE
        }
        .into())
    );
}

#[test]
fn a_boot_only_read_only_variable_is_invisible_at_runtime() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    firmware(&mut s, "Hidden", BS, b"x", true).unwrap();
    assert_eq!(
        set(&mut s, RUNTIME, &VENDOR_A, "Hidden", 0, &[]),
        Err(RuntimeError::NotFound)
    );
    assert_eq!(
        set(&mut s, RUNTIME, &VENDOR_A, "Hidden", NV | BS | RT, b"y"),
        Err(RuntimeError::WriteProtected)
    );
}

#[test]
fn the_read_only_flag_survives_serialization_and_unknown_flags_are_corrupt() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    firmware(&mut s, "Fixed", NV | BS, b"v", true).unwrap();
    let mut image = vec![0u8; s.serialized_len()];
    s.serialize_non_volatile(&mut image).unwrap();
    let mut reopened = VariableStore::load(vec![0u8; RECOMMENDED_STORE_SIZE], &image).unwrap();
    assert_eq!(
        set(&mut reopened, BOOT, &VENDOR_A, "Fixed", NV | BS, b"w"),
        Err(RuntimeError::WriteProtected)
    );
    let flags_at = REGION_HEADER_SIZE + 1;
    assert_eq!(image[flags_at], FLAG_READ_ONLY);
    image[flags_at] = 0x80;
    assert_eq!(
        VariableStore::load(vec![0u8; RECOMMENDED_STORE_SIZE], &image).err(),
        Some(FormatError::BadFlags(REGION_HEADER_SIZE))
    );
}
