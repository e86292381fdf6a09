//! Assembles small synthetic PE32+ images for the tests.
//!
//! Layout of [`Builder::standard`] (file offsets / RVAs):
//! - headers: DOS header (`e_lfanew` = 0x80), "PE\0\0" at 0x80, COFF header at 0x84, optional header at 0x98
//!   (16 data directories, 240 bytes), section table at 0x188 (3 x 40 bytes), `SizeOfHeaders` = 0x200;
//! - `.text`  RVA 0x1000, file 0x200, 0x200 bytes: DIR64 targets at +0x100 and +0x108, an ABSOLUTE entry's
//!   location at +0x120 holding a marker, entry point at +0x10;
//! - `.data`  RVA 0x2000, file 0x400, 0x200 bytes raw, VirtualSize 0x1000 (rest zero-filled): HIGHLOW target at
//!   +0x20;
//! - `.reloc` RVA 0x3000, file 0x600: two blocks (page 0x1000: DIR64 0x100, DIR64 0x108, ABSOLUTE 0x120, pad;
//!   page 0x2000: HIGHLOW 0x20, pad); `SizeOfRawData` is the exact directory size and the file ends there.
//! - `SizeOfImage` 0x4000, `ImageBase` 0x1_4000_0000, subsystem 10.
#![allow(dead_code)]

pub const E_LFANEW: usize = 0x80;
pub const COFF: usize = E_LFANEW + 4;
pub const OPT: usize = COFF + 20;

pub const IMAGE_BASE: u64 = 0x1_4000_0000;
pub const TEXT_RVA: u32 = 0x1000;
pub const DATA_RVA: u32 = 0x2000;
pub const RELOC_RVA: u32 = 0x3000;
pub const DIR64_A: u32 = TEXT_RVA + 0x100;
pub const DIR64_B: u32 = TEXT_RVA + 0x108;
pub const ABSOLUTE_AT: u32 = TEXT_RVA + 0x120;
pub const HIGHLOW_AT: u32 = DATA_RVA + 0x20;
pub const DIR64_A_VALUE: u64 = IMAGE_BASE + 0x2000;
pub const DIR64_B_VALUE: u64 = IMAGE_BASE + 0x1010;
pub const HIGHLOW_VALUE: u32 = 0x4000_2040;
pub const ABSOLUTE_MARKER: u64 = 0x5a5a_1234_dead_beef;

#[derive(Clone)]
pub struct Section {
    pub name: &'static [u8],
    pub virtual_address: u32,
    pub virtual_size: u32,
    pub data: Vec<u8>,
    /// `SizeOfRawData`; the file holds this many bytes (data then zero padding).
    pub size_of_raw_data: u32,
    pub characteristics: u32,
}

#[derive(Clone)]
pub struct Builder {
    pub machine: u16,
    pub characteristics: u16,
    pub magic: u16,
    pub entry: u32,
    pub image_base: u64,
    pub section_alignment: u32,
    pub file_alignment: u32,
    pub size_of_image: u32,
    pub size_of_headers: u32,
    pub subsystem: u16,
    pub dll_characteristics: u16,
    pub number_of_rva_and_sizes: u32,
    /// Base relocation directory (RVA, size); (0, 0) for none.
    pub reloc_dir: (u32, u32),
    pub sections: Vec<Section>,
}

/// Encodes a relocation block for `page` with the given raw 16-bit entries.
pub fn reloc_block(page: u32, entries: &[u16]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&page.to_le_bytes());
    b.extend_from_slice(&(8 + 2 * entries.len() as u32).to_le_bytes());
    for e in entries {
        b.extend_from_slice(&e.to_le_bytes());
    }
    b
}

pub fn entry(kind: u16, offset: u16) -> u16 {
    (kind << 12) | offset
}

impl Builder {
    pub fn standard() -> Self {
        let mut text = vec![0u8; 0x200];
        text[0x10] = 0xc3; // "ret" at the entry point
        text[0x100..0x108].copy_from_slice(&DIR64_A_VALUE.to_le_bytes());
        text[0x108..0x110].copy_from_slice(&DIR64_B_VALUE.to_le_bytes());
        text[0x120..0x128].copy_from_slice(&ABSOLUTE_MARKER.to_le_bytes());
        text[0x1f0..].fill(0xcc);
        let mut data = vec![0x11u8; 0x200];
        data[0x20..0x24].copy_from_slice(&HIGHLOW_VALUE.to_le_bytes());
        let mut builder = Builder {
            machine: 0x8664,
            characteristics: 0x0022, // EXECUTABLE_IMAGE | LARGE_ADDRESS_AWARE
            magic: 0x20b,
            entry: TEXT_RVA + 0x10,
            image_base: IMAGE_BASE,
            section_alignment: 0x1000,
            file_alignment: 0x200,
            size_of_image: 0x4000,
            size_of_headers: 0x200,
            subsystem: 10,
            dll_characteristics: 0x0140,
            number_of_rva_and_sizes: 16,
            reloc_dir: (0, 0),
            sections: vec![
                Section {
                    name: b".text",
                    virtual_address: TEXT_RVA,
                    virtual_size: 0x200,
                    data: text,
                    size_of_raw_data: 0x200,
                    characteristics: 0x6000_0020,
                },
                Section {
                    name: b".data",
                    virtual_address: DATA_RVA,
                    virtual_size: 0x1000,
                    data,
                    size_of_raw_data: 0x200,
                    characteristics: 0xc000_0040,
                },
            ],
        };
        let mut relocs = reloc_block(
            0x1000,
            &[
                entry(10, 0x100),
                entry(10, 0x108),
                entry(0, 0x120),
                entry(0, 0),
            ],
        );
        relocs.extend(reloc_block(0x2000, &[entry(3, 0x20), entry(0, 0)]));
        builder.set_relocs(relocs);
        builder
    }

    /// Replaces (or adds) the `.reloc` section with `relocs` and points directory 5 at it.
    pub fn set_relocs(&mut self, relocs: Vec<u8>) {
        self.sections.retain(|s| s.name != b".reloc");
        let len = relocs.len() as u32;
        self.sections.push(Section {
            name: b".reloc",
            virtual_address: RELOC_RVA,
            virtual_size: len,
            // Exact, not rounded to FileAlignment: the file then ends at the last byte the loader needs, so every
            // proper prefix of it is truncated.
            size_of_raw_data: len,
            data: relocs,
            characteristics: 0x4200_0040,
        });
        self.reloc_dir = (RELOC_RVA, len);
    }

    /// Drops the `.reloc` section and the directory.
    pub fn without_relocs(mut self) -> Self {
        self.sections.retain(|s| s.name != b".reloc");
        self.reloc_dir = (0, 0);
        self
    }

    pub fn section_table_offset(&self) -> usize {
        OPT + 112 + 8 * self.number_of_rva_and_sizes as usize
    }

    /// File offset of section `index`'s raw data (sections are laid out in order after `SizeOfHeaders`).
    pub fn raw_offset(&self, index: usize) -> usize {
        let mut at = self.size_of_headers.max(0x200) as usize;
        for s in &self.sections[..index] {
            at += s.size_of_raw_data as usize;
        }
        at
    }

    pub fn build(&self) -> Vec<u8> {
        let total = self.raw_offset(self.sections.len());
        let mut f = vec![0u8; total];
        f[0..2].copy_from_slice(b"MZ");
        put32(&mut f, 0x3c, E_LFANEW as u32);
        f[E_LFANEW..E_LFANEW + 4].copy_from_slice(b"PE\0\0");
        put16(&mut f, COFF, self.machine);
        put16(&mut f, COFF + 2, self.sections.len() as u16);
        put16(
            &mut f,
            COFF + 16,
            (112 + 8 * self.number_of_rva_and_sizes) as u16,
        );
        put16(&mut f, COFF + 18, self.characteristics);
        put16(&mut f, OPT, self.magic);
        put32(&mut f, OPT + 16, self.entry);
        put32(&mut f, OPT + 20, TEXT_RVA); // BaseOfCode
        put64(&mut f, OPT + 24, self.image_base);
        put32(&mut f, OPT + 32, self.section_alignment);
        put32(&mut f, OPT + 36, self.file_alignment);
        put32(&mut f, OPT + 56, self.size_of_image);
        put32(&mut f, OPT + 60, self.size_of_headers);
        put16(&mut f, OPT + 68, self.subsystem);
        put16(&mut f, OPT + 70, self.dll_characteristics);
        put32(&mut f, OPT + 108, self.number_of_rva_and_sizes);
        if self.number_of_rva_and_sizes > 5 {
            put32(&mut f, OPT + 112 + 5 * 8, self.reloc_dir.0);
            put32(&mut f, OPT + 112 + 5 * 8 + 4, self.reloc_dir.1);
        }
        let table = self.section_table_offset();
        for (i, s) in self.sections.iter().enumerate() {
            let e = table + 40 * i;
            f[e..e + s.name.len()].copy_from_slice(s.name);
            put32(&mut f, e + 8, s.virtual_size);
            put32(&mut f, e + 12, s.virtual_address);
            put32(&mut f, e + 16, s.size_of_raw_data);
            let raw = self.raw_offset(i);
            put32(
                &mut f,
                e + 20,
                if s.size_of_raw_data == 0 {
                    0
                } else {
                    raw as u32
                },
            );
            put32(&mut f, e + 36, s.characteristics);
            let n = s.data.len().min(s.size_of_raw_data as usize);
            f[raw..raw + n].copy_from_slice(&s.data[..n]);
        }
        f
    }
}

pub fn put16(f: &mut [u8], at: usize, v: u16) {
    f[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

pub fn put32(f: &mut [u8], at: usize, v: u32) {
    f[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

pub fn put64(f: &mut [u8], at: usize, v: u64) {
    f[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

pub fn get32(f: &[u8], at: u32) -> u32 {
    u32::from_le_bytes(f[at as usize..at as usize + 4].try_into().unwrap())
}

pub fn get64(f: &[u8], at: u32) -> u64 {
    u64::from_le_bytes(f[at as usize..at as usize + 8].try_into().unwrap())
}
