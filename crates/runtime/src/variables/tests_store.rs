//! Tests of the storage mechanics: capacity, compaction, in-place rewrite, serialization, format validation.

use std::collections::BTreeMap;
use std::string::String;
use std::vec;
use std::vec::Vec;

use r_efi::efi::{
    VARIABLE_APPEND_WRITE as APPEND, VARIABLE_BOOTSERVICE_ACCESS as BS, VARIABLE_NON_VOLATILE as NV,
};

use super::record::{FormatError, RECORD_HEADER_SIZE, REGION_HEADER_SIZE};
use super::tests::{enumerate, get, new_store, set, ucs2, VENDOR_A, VENDOR_B};
use super::*;
use crate::error::RuntimeError;

const BOOT: Phase = Phase::BootServices;

/// Bytes of a record with a one-letter name (4 name bytes) and `data` bytes.
fn record(data: usize) -> usize {
    RECORD_HEADER_SIZE + 4 + data
}

#[test]
fn format_rejects_tiny_region() {
    let r = VariableStore::format(vec![0u8; REGION_HEADER_SIZE + RECORD_HEADER_SIZE + 3]);
    assert_eq!(r.err(), Some(FormatError::RegionTooSmall));
}

#[test]
fn store_full_is_out_of_resources_and_compaction_reclaims_deleted() {
    let mut s = new_store(REGION_HEADER_SIZE + 3 * record(100));
    for (name, byte) in [("A", 1u8), ("B", 2), ("C", 3)] {
        set(&mut s, BOOT, &VENDOR_A, name, NV | BS, &[byte; 100]).unwrap();
    }
    assert_eq!(
        set(&mut s, BOOT, &VENDOR_A, "D", NV | BS, &[4; 100]),
        Err(RuntimeError::OutOfResources)
    );
    assert_eq!(get(&s, BOOT, &VENDOR_A, "D"), Err(RuntimeError::NotFound));

    set(&mut s, BOOT, &VENDOR_A, "B", 0, b"").unwrap();
    assert_eq!(s.obsolete_bytes(), record(100));
    set(&mut s, BOOT, &VENDOR_A, "D", NV | BS, &[4; 100]).unwrap();
    assert_eq!(
        s.obsolete_bytes(),
        0,
        "the write compacted the deleted record away"
    );
    assert_eq!(s.live_bytes(), 3 * record(100));
    for (name, byte) in [("A", 1u8), ("C", 3), ("D", 4)] {
        assert_eq!(
            get(&s, BOOT, &VENDOR_A, name),
            Ok((NV | BS, vec![byte; 100]))
        );
    }
    assert_eq!(get(&s, BOOT, &VENDOR_A, "B"), Err(RuntimeError::NotFound));
}

#[test]
fn rewrite_of_the_blocking_variable_happens_in_place() {
    // Room for exactly A(50) and B(50): rewriting A needs A's own space.
    let mut s = new_store(REGION_HEADER_SIZE + 2 * record(50));
    set(&mut s, BOOT, &VENDOR_A, "A", BS, &[1; 50]).unwrap();
    set(&mut s, BOOT, &VENDOR_A, "B", BS, &[2; 50]).unwrap();
    set(&mut s, BOOT, &VENDOR_A, "A", BS, &[3; 50]).unwrap();
    assert_eq!(get(&s, BOOT, &VENDOR_A, "A"), Ok((BS, vec![3; 50])));
    assert_eq!(get(&s, BOOT, &VENDOR_A, "B"), Ok((BS, vec![2; 50])));

    set(&mut s, BOOT, &VENDOR_A, "B", BS, &[4; 30]).unwrap();
    set(&mut s, BOOT, &VENDOR_A, "A", BS, &[5; 10]).unwrap();
    // Now A(10) + B(30) are live; appending 60 to B needs B's own space again.
    set(&mut s, BOOT, &VENDOR_A, "B", BS | APPEND, &[6; 60]).unwrap();
    let mut expected = vec![4; 30];
    expected.extend_from_slice(&[6; 60]);
    assert_eq!(get(&s, BOOT, &VENDOR_A, "B"), Ok((BS, expected)));
    assert_eq!(get(&s, BOOT, &VENDOR_A, "A"), Ok((BS, vec![5; 10])));
    assert_eq!(
        set(&mut s, BOOT, &VENDOR_A, "B", BS | APPEND, &[7; 1]),
        Err(RuntimeError::OutOfResources)
    );
}

#[test]
fn store_survives_serialize_roundtrip() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    set(
        &mut s,
        BOOT,
        &VENDOR_A,
        "BootOrder",
        NV | BS | RT_ACCESS,
        &[1, 0, 2, 0],
    )
    .unwrap();
    set(&mut s, BOOT, &VENDOR_B, "Setting", NV | BS, b"value").unwrap();
    set(
        &mut s,
        BOOT,
        &VENDOR_A,
        "Gone",
        NV | BS,
        b"deleted before saving",
    )
    .unwrap();
    set(&mut s, BOOT, &VENDOR_A, "Gone", 0, b"").unwrap();

    let mut image = vec![0u8; s.serialized_len()];
    assert_eq!(s.serialize_non_volatile(&mut image), Ok(image.len()));
    let restored = VariableStore::load(vec![0u8; RECOMMENDED_STORE_SIZE], &image).unwrap();

    assert_eq!(enumerate(&restored, BOOT), enumerate(&s, BOOT));
    assert_eq!(
        get(&restored, BOOT, &VENDOR_A, "BootOrder"),
        Ok((NV | BS | RT_ACCESS, vec![1, 0, 2, 0]))
    );
    assert_eq!(
        get(&restored, BOOT, &VENDOR_B, "Setting"),
        Ok((NV | BS, b"value".to_vec()))
    );
    assert_eq!(restored.obsolete_bytes(), 0);
    assert_eq!(restored.live_bytes(), s.live_bytes());
}

const RT_ACCESS: u32 = r_efi::efi::VARIABLE_RUNTIME_ACCESS;

#[test]
fn serialize_drops_volatile_variables() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    set(&mut s, BOOT, &VENDOR_A, "Kept", NV | BS, b"nv").unwrap();
    set(&mut s, BOOT, &VENDOR_A, "Volatile", BS | RT_ACCESS, b"ram").unwrap();
    let mut image = vec![0u8; 4096];
    let len = s.serialize_non_volatile(&mut image).unwrap();
    let restored = VariableStore::load(vec![0u8; 4096], &image[..len]).unwrap();
    assert_eq!(enumerate(&restored, BOOT), vec![(VENDOR_A, ucs2("Kept"))]);
}

#[test]
fn serialize_into_short_buffer_reports_needed() {
    let mut s = new_store(RECOMMENDED_STORE_SIZE);
    set(&mut s, BOOT, &VENDOR_A, "V", NV | BS, &[0; 10]).unwrap();
    let needed = REGION_HEADER_SIZE + record(10);
    assert_eq!(s.serialized_len(), needed);
    let mut short = vec![0u8; needed - 1];
    assert_eq!(
        s.serialize_non_volatile(&mut short),
        Err(RuntimeError::BufferTooSmall {
            needed,
            attributes: 0
        })
    );
}

#[test]
fn load_rejects_image_larger_than_region() {
    let image = vec![0u8; 200];
    assert_eq!(
        VariableStore::load(vec![0u8; 100], &image).err(),
        Some(FormatError::ImageTooLarge)
    );
}

/// A region holding A("x") then B("y"), both BS, one-letter names; returns the region and B's offset.
fn two_record_region() -> (Vec<u8>, usize) {
    let mut s = new_store(1024);
    set(&mut s, BOOT, &VENDOR_A, "A", BS, b"x").unwrap();
    set(&mut s, BOOT, &VENDOR_A, "B", BS, b"y").unwrap();
    (s.into_region(), REGION_HEADER_SIZE + record(1))
}

#[test]
fn open_accepts_a_live_region() {
    let (region, _) = two_record_region();
    let s = VariableStore::open(region).unwrap();
    assert_eq!(get(&s, BOOT, &VENDOR_A, "B"), Ok((BS, b"y".to_vec())));
    assert_eq!(s.live_bytes(), 2 * record(1));
}

#[test]
fn open_names_the_corruption() {
    type Patch = fn(&mut [u8], usize);
    let first = REGION_HEADER_SIZE;
    type Expected = fn(usize) -> FormatError;
    let cases: [(Patch, Expected); 7] = [
        (|r, _| r[0] = b'X', |_| FormatError::BadMagic),
        (
            |r, _| r[12..16].copy_from_slice(&2000u32.to_le_bytes()),
            |_| FormatError::LogLenOutOfRange,
        ),
        (|r, _| r[12] -= 1, |b| FormatError::TruncatedRecord(b)),
        (
            |r, _| r[REGION_HEADER_SIZE] = 0x55,
            |_| FormatError::BadState(REGION_HEADER_SIZE),
        ),
        (
            |r, _| r[REGION_HEADER_SIZE + RECORD_HEADER_SIZE + 2] = b'x',
            |_| FormatError::BadName(REGION_HEADER_SIZE),
        ),
        (
            |r, _| r[REGION_HEADER_SIZE + 4] = NV as u8,
            |_| FormatError::BadAttributes(REGION_HEADER_SIZE),
        ),
        (
            |r, b| r[b + RECORD_HEADER_SIZE] = b'A',
            |b| FormatError::DuplicateVariable(b),
        ),
    ];
    for (patch, expected) in cases {
        let (mut region, second) = two_record_region();
        patch(&mut region, second);
        assert_eq!(
            VariableStore::open(region).err(),
            Some(expected(second)),
            "first record at {first}"
        );
    }
}

/// Tiny deterministic generator (64-bit LCG) for the model test.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % bound
    }
}

#[test]
fn random_operations_match_a_model_and_keep_the_format_valid() {
    const SIZE: usize = 1024;
    let names = ["A", "B", "C", "D", "E", "F"];
    let mut rng = Lcg(0x5eed);
    let mut s = new_store(SIZE);
    let mut model: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let capacity = SIZE - REGION_HEADER_SIZE;
    for step in 0..3000 {
        let name = names[rng.next(names.len())];
        let len = rng.next(160);
        let data: Vec<u8> = (0..len).map(|i| (step + i) as u8).collect();
        let op = rng.next(4);
        let mut next = model.clone();
        let delete = |next: &mut BTreeMap<String, Vec<u8>>| match next.remove(name) {
            Some(_) => Ok(()),
            None => Err(RuntimeError::NotFound),
        };
        let expected = match op {
            0 => delete(&mut next),
            1 if data.is_empty() => Ok(()),
            1 => {
                next.entry(name.into())
                    .or_default()
                    .extend_from_slice(&data);
                Ok(())
            }
            _ if data.is_empty() => delete(&mut next),
            _ => {
                next.insert(name.into(), data.clone());
                Ok(())
            }
        };
        let live: usize = next.values().map(|d| record(d.len())).sum();
        let expected = if expected.is_ok() && live > capacity {
            Err(RuntimeError::OutOfResources)
        } else {
            expected
        };
        let attributes = if op == 1 {
            NV | BS | APPEND
        } else if op == 0 {
            0
        } else {
            NV | BS
        };
        let result = set(&mut s, BOOT, &VENDOR_A, name, attributes, &data);
        assert_eq!(
            result, expected,
            "step {step}: op {op} on {name} with {len} bytes"
        );
        if result.is_ok() {
            model = next;
        }
        if step % 97 == 0 {
            s = VariableStore::open(s.into_region()).expect("format stays valid");
        }
        assert_eq!(
            s.live_bytes(),
            model.values().map(|d| record(d.len())).sum::<usize>(),
            "step {step}"
        );
    }
    for (name, data) in &model {
        assert_eq!(get(&s, BOOT, &VENDOR_A, name), Ok((NV | BS, data.clone())));
    }
    assert_eq!(enumerate(&s, BOOT).len(), model.len());
}
