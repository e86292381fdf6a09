use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::fw_cfg::fake::FakeFwCfg;
use crate::fw_cfg::FwCfgError;

const GUARD: usize = 16;

/// Vec-backed table memory; "physical addresses" are host pointers. Each allocation is followed by guard bytes.
struct VecMemory {
    buffers: Vec<(Vec<u8>, usize, usize, Zone)>, // (backing, offset of allocation, size, zone)
    fail: bool,
}

impl VecMemory {
    fn new() -> Self {
        VecMemory {
            buffers: Vec::new(),
            fail: false,
        }
    }

    /// The bytes `[address, address + len)` if they lie in one allocation.
    fn bytes_at(&self, address: u64, len: usize) -> &[u8] {
        for (buf, off, size, _) in &self.buffers {
            let base = buf.as_ptr() as u64 + *off as u64;
            if address >= base && address + len as u64 <= base + *size as u64 {
                let start = off + (address - base) as usize;
                return &buf[start..start + len];
            }
        }
        panic!("address {address:#x} not allocated");
    }

    fn guards_intact(&self) -> bool {
        self.buffers
            .iter()
            .all(|(buf, off, size, _)| buf[off + size..].iter().all(|&b| b == 0xa5))
    }
}

// SAFETY: each allocation is a distinct, live heap buffer owned by `self.buffers` (its heap storage never moves),
// sized and aligned as requested; the host pointer is the test's "physical address".
unsafe impl TableMemory for VecMemory {
    fn allocate(
        &mut self,
        size: usize,
        align: usize,
        zone: Zone,
    ) -> Result<NonNull<u8>, AllocError> {
        if self.fail {
            return Err(AllocError);
        }
        let mut buf = vec![0xa5u8; size + align + GUARD];
        let off = buf.as_ptr().align_offset(align);
        let ptr = NonNull::new(buf[off..].as_mut_ptr()).ok_or(AllocError)?;
        self.buffers.push((buf, off, size, zone));
        Ok(ptr)
    }
}

fn name_field(rec: &mut [u8; 128], at: usize, name: &str) {
    rec[at..at + name.len()].copy_from_slice(name.as_bytes());
}

fn allocate(file: &str, align: u32, zone: u8) -> [u8; 128] {
    let mut r = [0u8; 128];
    r[0..4].copy_from_slice(&1u32.to_le_bytes());
    name_field(&mut r, 4, file);
    r[60..64].copy_from_slice(&align.to_le_bytes());
    r[64] = zone;
    r
}

fn add_pointer(dest: &str, src: &str, offset: u32, size: u8) -> [u8; 128] {
    let mut r = [0u8; 128];
    r[0..4].copy_from_slice(&2u32.to_le_bytes());
    name_field(&mut r, 4, dest);
    name_field(&mut r, 60, src);
    r[116..120].copy_from_slice(&offset.to_le_bytes());
    r[120] = size;
    r
}

fn add_checksum(file: &str, result: u32, start: u32, length: u32) -> [u8; 128] {
    let mut r = [0u8; 128];
    r[0..4].copy_from_slice(&3u32.to_le_bytes());
    name_field(&mut r, 4, file);
    r[60..64].copy_from_slice(&result.to_le_bytes());
    r[64..68].copy_from_slice(&start.to_le_bytes());
    r[68..72].copy_from_slice(&length.to_le_bytes());
    r
}

fn write_pointer(dest: &str, src: &str, dst_offset: u32, src_offset: u32, size: u8) -> [u8; 128] {
    let mut r = [0u8; 128];
    r[0..4].copy_from_slice(&4u32.to_le_bytes());
    name_field(&mut r, 4, dest);
    name_field(&mut r, 60, src);
    r[116..120].copy_from_slice(&dst_offset.to_le_bytes());
    r[120..124].copy_from_slice(&src_offset.to_le_bytes());
    r[124] = size;
    r
}

const TABLES: &str = "etc/acpi/tables";
const SSDT_AT: usize = 8;
const SSDT_LEN: usize = 40;
const XSDT_AT: usize = 48;
const XSDT_LEN: usize = 44;

fn acpi_header(sig: &[u8; 4], len: usize) -> Vec<u8> {
    let mut h = vec![0u8; len];
    h[0..4].copy_from_slice(sig);
    h[4..8].copy_from_slice(&(len as u32).to_le_bytes());
    h[8] = 1;
    h[10..16].copy_from_slice(b"BOCHS ");
    h[16..24].copy_from_slice(b"BXPC    ");
    h
}

/// QEMU-like blobs: tables = [pad 8][SSDT 40][XSDT 44 -> SSDT], RSDP rev 2 -> XSDT; checksums and pointers zeroed
/// relative (pointers hold offsets into the tables blob).
fn fake_with_tables(dma: bool) -> FakeFwCfg {
    let mut tables = vec![0u8; SSDT_AT];
    let mut ssdt = acpi_header(b"SSDT", SSDT_LEN);
    ssdt[36..40].copy_from_slice(&[0x10, 0x20, 0x30, 0x40]);
    tables.extend_from_slice(&ssdt);
    let mut xsdt = acpi_header(b"XSDT", XSDT_LEN);
    xsdt[36..44].copy_from_slice(&(SSDT_AT as u64).to_le_bytes());
    tables.extend_from_slice(&xsdt);

    let mut rsdp = vec![0u8; 36];
    rsdp[0..8].copy_from_slice(b"RSD PTR ");
    rsdp[9..15].copy_from_slice(b"BOCHS ");
    rsdp[15] = 2;
    rsdp[20..24].copy_from_slice(&36u32.to_le_bytes());
    rsdp[24..32].copy_from_slice(&(XSDT_AT as u64).to_le_bytes());

    let mut fake = FakeFwCfg::new(dma);
    fake.add_file(RSDP_FILE, &rsdp);
    fake.add_file(TABLES, &tables);
    fake.add_writable_file("etc/test_addr", &[0; 8]);
    fake
}

fn realistic_script() -> Vec<u8> {
    let (s, x) = (SSDT_AT as u32, XSDT_AT as u32);
    [
        allocate(RSDP_FILE, 16, 2),
        allocate(TABLES, 64, 1),
        add_checksum(TABLES, s + 9, s, SSDT_LEN as u32),
        add_pointer(TABLES, TABLES, x + 36, 8),
        add_checksum(TABLES, x + 9, x, XSDT_LEN as u32),
        {
            let mut unknown = [0u8; 128];
            unknown[0] = 0x99;
            unknown
        },
        add_pointer(RSDP_FILE, TABLES, 24, 8),
        add_checksum(RSDP_FILE, 8, 0, 20),
        add_checksum(RSDP_FILE, 32, 0, 36),
        write_pointer("etc/test_addr", TABLES, 0, s, 8),
    ]
    .concat()
}

fn sums_to_zero(bytes: &[u8]) -> bool {
    bytes.iter().fold(0u8, |a, &b| a.wrapping_add(b)) == 0
}

#[test]
fn realistic_script_produces_valid_rsdp_and_linked_tables() {
    let mut fake = fake_with_tables(true);
    fake.add_file(TABLE_LOADER_FILE, &realistic_script());
    let mut fw = FwCfg::new(fake).unwrap();
    let mut mem = VecMemory::new();
    let loaded = load_tables(&mut fw, &mut mem).unwrap();

    assert_eq!(loaded.files.len(), 2);
    assert_eq!(
        (loaded.files[0].name.as_str(), loaded.files[0].zone),
        (RSDP_FILE, Zone::FSeg)
    );
    assert_eq!(
        (loaded.files[1].name.as_str(), loaded.files[1].len),
        (TABLES, 92)
    );
    let rsdp_addr = loaded.rsdp.unwrap();
    assert_eq!(rsdp_addr, loaded.files[0].address);
    assert_eq!(rsdp_addr % 16, 0);
    let tables_addr = loaded.files[1].address;
    assert_eq!(tables_addr % 64, 0);

    let info = validate_rsdp(mem.bytes_at(rsdp_addr, 36)).unwrap();
    assert_eq!(
        (info.revision, info.oem_id_str(), info.length),
        (2, Some("BOCHS"), 36)
    );
    let xsdt_addr = info.xsdt_address.unwrap();
    assert_eq!(xsdt_addr, tables_addr + XSDT_AT as u64);

    let xsdt = mem.bytes_at(xsdt_addr, XSDT_LEN);
    assert_eq!(&xsdt[0..4], b"XSDT");
    assert!(sums_to_zero(xsdt));
    let ssdt_addr = u64::from_le_bytes(xsdt[36..44].try_into().unwrap());
    assert_eq!(ssdt_addr, tables_addr + SSDT_AT as u64);
    let ssdt = mem.bytes_at(ssdt_addr, SSDT_LEN);
    assert_eq!(&ssdt[0..4], b"SSDT");
    assert!(sums_to_zero(ssdt));
    assert!(mem.guards_intact());

    let written = fw.into_inner().file_data("etc/test_addr").unwrap().to_vec();
    assert_eq!(u64::from_le_bytes(written.try_into().unwrap()), ssdt_addr);
}

#[test]
fn write_pointer_without_dma_fails_cleanly() {
    let mut fw = FwCfg::new(fake_with_tables(false)).unwrap();
    let mut mem = VecMemory::new();
    let err = execute(&realistic_script(), &mut fw, &mut mem).unwrap_err();
    assert_eq!(
        err,
        TableLoaderError::Command {
            index: 9,
            error: CommandError::FwCfg(FwCfgError::WriteNeedsDma)
        }
    );
    // Everything before the failing command ran: the RSDP (loaded through port I/O) already validates.
    let rsdp = mem.buffers.iter().find(|b| b.3 == Zone::FSeg).unwrap();
    assert!(validate_rsdp(&rsdp.0[rsdp.1..rsdp.1 + rsdp.2]).is_ok());
}

/// Runs `commands` after allocating both blobs; returns the error of the first failing command.
fn run_after_allocation(commands: &[[u8; 128]]) -> (TableLoaderError, VecMemory) {
    let mut fw = FwCfg::new(fake_with_tables(true)).unwrap();
    let mut mem = VecMemory::new();
    let mut script = [allocate(RSDP_FILE, 16, 2), allocate(TABLES, 64, 1)].concat();
    for c in commands {
        script.extend_from_slice(c);
    }
    let err = execute(&script, &mut fw, &mut mem).unwrap_err();
    assert!(
        mem.guards_intact(),
        "a malformed command wrote out of bounds"
    );
    (err, mem)
}

fn command_error(commands: &[[u8; 128]]) -> CommandError {
    match run_after_allocation(commands).0 {
        TableLoaderError::Command { index, error } => {
            assert_eq!(
                index,
                2 + commands.len() - 1,
                "the last command should fail"
            );
            error
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn unknown_and_unallocated_files_are_reported() {
    assert_eq!(
        command_error(&[allocate("etc/nope", 16, 1)]),
        CommandError::FileNotFound {
            file: "etc/nope".into()
        }
    );
    assert_eq!(
        command_error(&[add_pointer(TABLES, "etc/test_addr", 0, 8)]),
        CommandError::FileNotAllocated {
            file: "etc/test_addr".into()
        }
    );
    assert_eq!(
        command_error(&[add_checksum("etc/other", 0, 0, 1)]),
        CommandError::FileNotFound {
            file: "etc/other".into()
        }
    );
    assert_eq!(
        command_error(&[allocate(TABLES, 64, 1)]),
        CommandError::AlreadyAllocated {
            file: TABLES.into()
        }
    );
    assert_eq!(
        command_error(&[write_pointer("etc/nope", TABLES, 0, 0, 8)]),
        CommandError::FileNotFound {
            file: "etc/nope".into()
        }
    );
}

#[test]
fn bad_allocations_are_reported() {
    let mut fake = fake_with_tables(true);
    fake.add_file("etc/extra", &[1, 2, 3]);
    let mut fw = FwCfg::new(fake).unwrap();
    let mut mem = VecMemory::new();
    let one = |rec: [u8; 128], fw: &mut FwCfg<FakeFwCfg>, mem: &mut VecMemory| match execute(
        &rec, fw, mem,
    ) {
        Err(TableLoaderError::Command { index: 0, error }) => error,
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(
        one(allocate("etc/extra", 3, 1), &mut fw, &mut mem),
        CommandError::AlignmentNotPowerOfTwo { align: 3 }
    );
    assert_eq!(
        one(allocate("etc/extra", 0, 1), &mut fw, &mut mem),
        CommandError::AlignmentNotPowerOfTwo { align: 0 }
    );
    assert_eq!(
        one(allocate("etc/extra", 8, 7), &mut fw, &mut mem),
        CommandError::UnknownZone { zone: 7 }
    );
    mem.fail = true;
    assert_eq!(
        one(allocate("etc/extra", 8, 1), &mut fw, &mut mem),
        CommandError::AllocationFailed {
            file: "etc/extra".into(),
            size: 3,
            align: 8,
            zone: Zone::High
        }
    );
}

#[test]
fn pointer_errors_are_reported_without_writing() {
    assert_eq!(
        command_error(&[add_pointer(TABLES, TABLES, 90, 8)]),
        CommandError::PointerOutOfRange {
            file: TABLES.into(),
            offset: 90,
            size: 8,
            file_len: 92
        }
    );
    assert_eq!(
        command_error(&[add_pointer(TABLES, TABLES, u32::MAX, 2)]),
        CommandError::PointerOutOfRange {
            file: TABLES.into(),
            offset: u32::MAX,
            size: 2,
            file_len: 92
        }
    );
    assert_eq!(
        command_error(&[add_pointer(TABLES, TABLES, 0, 3)]),
        CommandError::BadPointerSize { size: 3 }
    );
    assert_eq!(
        command_error(&[add_pointer(TABLES, TABLES, 0, 0)]),
        CommandError::BadPointerSize { size: 0 }
    );
    // "RSD PTR " read as an offset into the tables blob is far outside it.
    assert_eq!(
        command_error(&[add_pointer(RSDP_FILE, TABLES, 0, 8)]),
        CommandError::TargetOutOfRange {
            file: TABLES.into(),
            target: u64::from_le_bytes(*b"RSD PTR "),
            file_len: 92
        }
    );
    // A 1-byte pointer cannot hold a host address.
    match command_error(&[add_pointer(RSDP_FILE, TABLES, 15, 1)]) {
        CommandError::PointerOverflow { value, size: 1 } => assert!(value > 0xff),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        command_error(&[write_pointer("etc/test_addr", TABLES, 4, 0, 8)]),
        CommandError::PointerOutOfRange {
            file: "etc/test_addr".into(),
            offset: 4,
            size: 8,
            file_len: 8
        }
    );
    assert_eq!(
        command_error(&[write_pointer("etc/test_addr", TABLES, 0, 92, 8)]),
        CommandError::TargetOutOfRange {
            file: TABLES.into(),
            target: 92,
            file_len: 92
        }
    );
}

#[test]
fn checksum_errors_are_reported() {
    let expect = |result_offset, start, length| CommandError::ChecksumOutOfRange {
        file: TABLES.into(),
        result_offset,
        start,
        length,
        file_len: 92,
    };
    assert_eq!(
        command_error(&[add_checksum(TABLES, 9, 80, 20)]),
        expect(9, 80, 20)
    );
    assert_eq!(
        command_error(&[add_checksum(TABLES, 92, 0, 10)]),
        expect(92, 0, 10)
    );
    assert_eq!(
        command_error(&[add_checksum(TABLES, 0, u32::MAX, u32::MAX)]),
        expect(0, u32::MAX, u32::MAX)
    );
}

#[test]
fn malformed_records_and_scripts_are_reported() {
    let mut unterminated = allocate(TABLES, 64, 1);
    unterminated[4..60].fill(b'a');
    assert_eq!(
        command_error(&[unterminated]),
        CommandError::NameNotTerminated
    );

    let mut fw = FwCfg::new(fake_with_tables(true)).unwrap();
    let mut mem = VecMemory::new();
    assert_eq!(
        execute(&[0u8; 130], &mut fw, &mut mem),
        Err(TableLoaderError::ScriptLength { len: 130 })
    );
    assert_eq!(
        load_tables(&mut fw, &mut mem),
        Err(TableLoaderError::ScriptMissing)
    );
    // An empty script is valid and loads nothing.
    assert_eq!(execute(&[], &mut fw, &mut mem), Ok(LoadedTables::default()));
}

#[test]
fn rsdp_validation() {
    let mut v1 = [0u8; 20];
    v1[..8].copy_from_slice(b"RSD PTR ");
    v1[9..15].copy_from_slice(b"OEMID ");
    v1[16..20].copy_from_slice(&0x1234_5678u32.to_le_bytes());
    v1[8] = 0u8.wrapping_sub(v1.iter().fold(0u8, |a, &b| a.wrapping_add(b)));
    let info = validate_rsdp(&v1).unwrap();
    assert_eq!(
        (info.revision, info.rsdt_address, info.xsdt_address),
        (0, 0x1234_5678, None)
    );
    assert_eq!(info.oem_id_str(), Some("OEMID"));

    let mut bad = v1;
    bad[12] ^= 1;
    assert_eq!(validate_rsdp(&bad), Err(RsdpError::BadChecksum));
    bad = v1;
    bad[0] = b'X';
    assert_eq!(validate_rsdp(&bad), Err(RsdpError::BadSignature));
    assert_eq!(
        validate_rsdp(&v1[..19]),
        Err(RsdpError::TooShort {
            needed: 20,
            len: 19
        })
    );

    // Revision 2: extended fields and checksum.
    let mut v2 = [0u8; 36];
    v2[..20].copy_from_slice(&v1);
    v2[15] = 2;
    v2[20..24].copy_from_slice(&36u32.to_le_bytes());
    v2[24..32].copy_from_slice(&0x1_0000_0000u64.to_le_bytes());
    v2[8] = 0;
    v2[8] = 0u8.wrapping_sub(v2[..20].iter().fold(0u8, |a, &b| a.wrapping_add(b)));
    assert_eq!(validate_rsdp(&v2), Err(RsdpError::BadExtendedChecksum));
    v2[32] = 0u8.wrapping_sub(v2.iter().fold(0u8, |a, &b| a.wrapping_add(b)));
    assert_eq!(
        validate_rsdp(&v2).unwrap().xsdt_address,
        Some(0x1_0000_0000)
    );
    assert_eq!(
        validate_rsdp(&v2[..30]),
        Err(RsdpError::TooShort {
            needed: 36,
            len: 30
        })
    );
    let mut short_len = v2;
    short_len[20] = 20; // outside the 20-byte checksum
    assert_eq!(
        validate_rsdp(&short_len),
        Err(RsdpError::BadLength { length: 20 })
    );
}
