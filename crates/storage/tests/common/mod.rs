//! Test image builders: a minimal FAT formatter, GPT and MBR writers, and a small PRNG.
#![allow(dead_code)]

use storage::block::MemDisk;

/// Which FAT to format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Fat12,
    Fat16,
    Fat32,
}

/// Formats a blank 512-byte-sector FAT volume of `total` sectors (`spc` sectors per cluster, `root_entries`
/// fixed root entries for FAT12/16). FAT size is computed by iteration from the Microsoft cluster-count rules.
pub fn format(kind: Kind, total: u32, spc: u8, root_entries: u16) -> Vec<u8> {
    let bps = 512u32;
    let fat32 = kind == Kind::Fat32;
    let reserved: u32 = if fat32 { 32 } else { 1 };
    let root_entries = if fat32 { 0 } else { root_entries };
    let root_secs = (root_entries as u32 * 32).div_ceil(bps);
    let mut fat_sz = 1u32;
    loop {
        let data = total - reserved - 2 * fat_sz - root_secs;
        let clusters = data / spc as u32;
        let bytes = match kind {
            Kind::Fat12 => ((clusters + 2) * 3).div_ceil(2),
            Kind::Fat16 => (clusters + 2) * 2,
            Kind::Fat32 => (clusters + 2) * 4,
        };
        let need = bytes.div_ceil(bps);
        if need <= fat_sz {
            break;
        }
        fat_sz = need;
    }
    let mut img = vec![0u8; total as usize * bps as usize];
    let b = &mut img[..512];
    b[0..3].copy_from_slice(&[0xEB, 0x58, 0x90]);
    b[3..11].copy_from_slice(b"MSWIN4.1");
    b[11..13].copy_from_slice(&(bps as u16).to_le_bytes());
    b[13] = spc;
    b[14..16].copy_from_slice(&(reserved as u16).to_le_bytes());
    b[16] = 2;
    b[17..19].copy_from_slice(&root_entries.to_le_bytes());
    if total < 0x10000 && !fat32 {
        b[19..21].copy_from_slice(&(total as u16).to_le_bytes());
    } else {
        b[32..36].copy_from_slice(&total.to_le_bytes());
    }
    b[21] = 0xF8;
    let sig_off = if fat32 {
        b[36..40].copy_from_slice(&fat_sz.to_le_bytes());
        b[44..48].copy_from_slice(&2u32.to_le_bytes()); // root cluster
        b[48..50].copy_from_slice(&1u16.to_le_bytes()); // FSInfo
        b[50..52].copy_from_slice(&6u16.to_le_bytes()); // backup boot sector
        66
    } else {
        b[22..24].copy_from_slice(&(fat_sz as u16).to_le_bytes());
        38
    };
    b[sig_off] = 0x29;
    b[sig_off + 1..sig_off + 5].copy_from_slice(&0x1234_5678u32.to_le_bytes());
    b[sig_off + 5..sig_off + 16].copy_from_slice(b"NO NAME    ");
    b[sig_off + 16..sig_off + 24].copy_from_slice(match kind {
        Kind::Fat12 => b"FAT12   ",
        Kind::Fat16 => b"FAT16   ",
        Kind::Fat32 => b"FAT32   ",
    });
    b[510] = 0x55;
    b[511] = 0xAA;
    if fat32 {
        let fsi = &mut img[512..1024];
        fsi[0..4].copy_from_slice(&0x4161_5252u32.to_le_bytes());
        fsi[484..488].copy_from_slice(&0x6141_7272u32.to_le_bytes());
        fsi[488..496].copy_from_slice(&[0xFF; 8]);
        fsi[508..512].copy_from_slice(&0xAA55_0000u32.to_le_bytes());
        let boot: Vec<u8> = img[..1024].to_vec();
        img[6 * 512..8 * 512].copy_from_slice(&boot);
    }
    for f in 0..2 {
        let at = ((reserved + f * fat_sz) * bps) as usize;
        let head: &[u8] = match kind {
            Kind::Fat12 => &[0xF8, 0xFF, 0xFF],
            Kind::Fat16 => &[0xF8, 0xFF, 0xFF, 0xFF],
            // entries 0, 1 and the root directory cluster 2 (end of chain)
            Kind::Fat32 => &[
                0xF8, 0xFF, 0xFF, 0x0F, 0xFF, 0xFF, 0xFF, 0x0F, 0xFF, 0xFF, 0xFF, 0x0F,
            ],
        };
        img[at..at + head.len()].copy_from_slice(head);
    }
    img
}

/// The three standard test volumes.
pub fn small(kind: Kind) -> Vec<u8> {
    match kind {
        Kind::Fat12 => format(Kind::Fat12, 4096, 1, 64),
        Kind::Fat16 => format(Kind::Fat16, 16384, 1, 512),
        Kind::Fat32 => format(Kind::Fat32, 70000, 1, 0),
    }
}

pub fn disk(img: Vec<u8>) -> MemDisk {
    MemDisk::from_vec(512, img).unwrap()
}

/// xorshift64* PRNG.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A GPT partition to write: (type GUID bytes, unique GUID bytes, first LBA, last LBA, name).
pub struct Part {
    pub type_guid: [u8; 16],
    pub unique: [u8; 16],
    pub first: u64,
    pub last: u64,
    pub name: &'static str,
}

pub const ESP: [u8; 16] = [
    0x28, 0x73, 0x2A, 0xC1, 0x1F, 0xF8, 0xD2, 0x11, 0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E, 0xC9, 0x3B,
];
pub const LINUX_FS: [u8; 16] = [
    0xAF, 0x3D, 0xC6, 0x0F, 0x83, 0x84, 0x72, 0x47, 0x8E, 0x79, 0x3D, 0x69, 0xD8, 0x47, 0x7D, 0xE4,
];

pub fn mbr_record(img: &mut [u8], slot: usize, boot: u8, os_type: u8, start: u32, size: u32) {
    let r = &mut img[446 + 16 * slot..462 + 16 * slot];
    r[0] = boot;
    r[4] = os_type;
    r[8..12].copy_from_slice(&start.to_le_bytes());
    r[12..16].copy_from_slice(&size.to_le_bytes());
}

/// A `blocks`-block disk (512-byte blocks) with protective MBR, 128-entry primary and backup GPTs.
pub fn gpt_disk(blocks: u64, parts: &[Part]) -> Vec<u8> {
    let mut img = vec![0u8; blocks as usize * 512];
    mbr_record(
        &mut img,
        0,
        0,
        0xEE,
        1,
        (blocks - 1).min(u32::MAX as u64) as u32,
    );
    img[510] = 0x55;
    img[511] = 0xAA;
    let mut array = vec![0u8; 128 * 128];
    for (i, p) in parts.iter().enumerate() {
        let e = &mut array[i * 128..(i + 1) * 128];
        e[0..16].copy_from_slice(&p.type_guid);
        e[16..32].copy_from_slice(&p.unique);
        e[32..40].copy_from_slice(&p.first.to_le_bytes());
        e[40..48].copy_from_slice(&p.last.to_le_bytes());
        e[48..56].copy_from_slice(&1u64.to_le_bytes());
        for (k, u) in p.name.encode_utf16().enumerate() {
            e[56 + 2 * k..58 + 2 * k].copy_from_slice(&u.to_le_bytes());
        }
    }
    let last = blocks - 1;
    let array_blocks = 32u64;
    img[2 * 512..(2 + array_blocks as usize) * 512].copy_from_slice(&array);
    let backup_array = last - array_blocks;
    img[backup_array as usize * 512..last as usize * 512].copy_from_slice(&array);
    let crc = crc32fast::hash(&array);
    write_gpt_header(
        &mut img,
        1,
        last,
        2 + array_blocks,
        backup_array - 1,
        2,
        crc,
    );
    write_gpt_header(
        &mut img,
        last,
        1,
        2 + array_blocks,
        backup_array - 1,
        backup_array,
        crc,
    );
    img
}

/// Writes a GPT header at `lba` with a correct header CRC.
pub fn write_gpt_header(
    img: &mut [u8],
    lba: u64,
    alt: u64,
    first: u64,
    last: u64,
    entries: u64,
    crc: u32,
) {
    let h = &mut img[lba as usize * 512..lba as usize * 512 + 512];
    h.fill(0);
    h[0..8].copy_from_slice(b"EFI PART");
    h[8..12].copy_from_slice(&0x0001_0000u32.to_le_bytes());
    h[12..16].copy_from_slice(&92u32.to_le_bytes());
    h[24..32].copy_from_slice(&lba.to_le_bytes());
    h[32..40].copy_from_slice(&alt.to_le_bytes());
    h[40..48].copy_from_slice(&first.to_le_bytes());
    h[48..56].copy_from_slice(&last.to_le_bytes());
    h[56..72].copy_from_slice(&[0x11; 16]);
    h[72..80].copy_from_slice(&entries.to_le_bytes());
    h[80..84].copy_from_slice(&128u32.to_le_bytes());
    h[84..88].copy_from_slice(&128u32.to_le_bytes());
    h[88..92].copy_from_slice(&crc.to_le_bytes());
    let hcrc = crc32fast::hash(&h[..92]);
    h[16..20].copy_from_slice(&hcrc.to_le_bytes());
}

/// Recomputes the header CRC of the GPT header at `lba` (after a test edits a field).
pub fn fix_header_crc(img: &mut [u8], lba: u64) {
    let h = &mut img[lba as usize * 512..lba as usize * 512 + 512];
    h[16..20].fill(0);
    let c = crc32fast::hash(&h[..92]);
    h[16..20].copy_from_slice(&c.to_le_bytes());
}
