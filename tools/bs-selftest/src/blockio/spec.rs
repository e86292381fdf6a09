//! What the `blockio` checks expect, from the load options, and the disk pattern they compare against.
//!
//! The integration runner (`xtask/src/itest/blk.rs`) creates the disk files and passes one load-options word
//! (QEMU `-append`): `blockio=DD.F:SECTORS:MODE:TAG[,DD.F:SECTORS:MODE:TAG...]`, where `DD.F` is the disk's PCI
//! device and function on bus 0 (hex), `SECTORS` its size in 512-byte sectors (decimal), `MODE` `ro` or `rw`,
//! and `TAG` the byte (hex) its pattern is made with. Every 512-byte sector `L` of a disk holds 64 little-endian
//! 64-bit words, word `i` being [`pattern_word`]`(TAG, L, i)`; what the checks write uses [`WRITE_TAG`].
//!
//! No heap: at most [`MAX_DISKS`] disks, parsed from a fixed-size byte string.

/// Most disks one run describes.
pub const MAX_DISKS: usize = 4;
/// The tag of the blocks the write check writes.
pub const WRITE_TAG: u8 = 0xee;
/// First block the write check writes.
pub const WRITE_LBA: u64 = 16;
/// Blocks the write check writes.
pub const WRITE_BLOCKS: u64 = 8;
/// The load-options key.
pub const KEY: &str = "blockio=";

/// Word `index` (0..64) of sector `lba` of a disk tagged `tag`: `tag << 56 | lba << 8 | index`.
pub fn pattern_word(tag: u8, lba: u64, index: u64) -> u64 {
    (u64::from(tag) << 56) | ((lba & 0xffff_ffff_ffff) << 8) | (index & 0xff)
}

/// Where `bytes` (a whole number of 512-byte sectors starting at sector `first`) differs from the pattern of
/// `tag`: `(sector, word index, word found)` of the first difference.
pub fn first_mismatch(tag: u8, first: u64, bytes: &[u8]) -> Option<(u64, u64, u64)> {
    bytes.chunks_exact(8).enumerate().find_map(|(n, word)| {
        let n = n as u64;
        let (lba, index) = (first + n / 64, n % 64);
        let found = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
        (found != pattern_word(tag, lba, index)).then_some((lba, index, found))
    })
}

/// Fills `bytes` (whole sectors from sector `first`) with the pattern of `tag`.
pub fn fill(tag: u8, first: u64, bytes: &mut [u8]) {
    for (n, word) in bytes.chunks_exact_mut(8).enumerate() {
        let n = n as u64;
        word.copy_from_slice(&pattern_word(tag, first + n / 64, n % 64).to_le_bytes());
    }
}

/// One described disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskSpec {
    /// PCI device number on bus 0.
    pub device: u8,
    /// PCI function number.
    pub function: u8,
    /// Size in 512-byte sectors.
    pub sectors: u64,
    /// The drive is read-only.
    pub read_only: bool,
    /// Pattern tag.
    pub tag: u8,
}

/// The described disks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Disks {
    disks: [Option<DiskSpec>; MAX_DISKS],
}

impl Disks {
    /// The disks, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = &DiskSpec> {
        self.disks.iter().flatten()
    }

    /// Number of disks.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether no disk is described.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Finds the `blockio=` word in the load options `text` (words separated by spaces) and parses it. `Ok(None)`
/// when there is no such word.
///
/// Errors: a sentence naming what is malformed.
pub fn parse(text: &str) -> Result<Option<Disks>, &'static str> {
    let Some(word) = text.split(' ').find_map(|w| w.strip_prefix(KEY)) else {
        return Ok(None);
    };
    let mut disks = Disks::default();
    for (slot, item) in word.split(',').enumerate() {
        let entry = disks
            .disks
            .get_mut(slot)
            .ok_or("more disks than the app supports")?;
        let mut fields = item.split(':');
        let mut next = || fields.next().ok_or("a disk needs DD.F:SECTORS:MODE:TAG");
        let (device, function) = next()?.split_once('.').ok_or("location is not DD.F")?;
        let device = u8::from_str_radix(device, 16).map_err(|_| "bad device number")?;
        let function = u8::from_str_radix(function, 16).map_err(|_| "bad function number")?;
        let sectors = next()?.parse::<u64>().map_err(|_| "bad sector count")?;
        let read_only = match next()? {
            "ro" => true,
            "rw" => false,
            _ => return Err("mode is neither ro nor rw"),
        };
        let tag = u8::from_str_radix(next()?, 16).map_err(|_| "bad tag")?;
        if device >= 32 || function >= 8 || sectors == 0 {
            return Err("location or size out of range");
        }
        *entry = Some(DiskSpec {
            device,
            function,
            sectors,
            read_only,
            tag,
        });
    }
    Ok(Some(disks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_blockio_word_among_others() {
        let disks = parse("handoff-violation blockio=08.0:32768:rw:1,1f.7:100:ro:a2 x")
            .unwrap()
            .unwrap();
        let all: std::vec::Vec<DiskSpec> = disks.iter().copied().collect();
        assert_eq!(
            all,
            [
                DiskSpec {
                    device: 8,
                    function: 0,
                    sectors: 32768,
                    read_only: false,
                    tag: 1
                },
                DiskSpec {
                    device: 0x1f,
                    function: 7,
                    sectors: 100,
                    read_only: true,
                    tag: 0xa2
                },
            ]
        );
        assert_eq!(parse("nothing here"), Ok(None));
    }

    #[test]
    fn rejects_malformed_words() {
        for bad in [
            "blockio=08.0:10:rw",
            "blockio=080:10:rw:1",
            "blockio=08.0:ten:rw:1",
            "blockio=08.0:10:wo:1",
            "blockio=20.0:10:rw:1",
            "blockio=08.0:0:rw:1",
            "blockio=1.0:1:ro:1,2.0:1:ro:1,3.0:1:ro:1,4.0:1:ro:1,5.0:1:ro:1",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pattern_round_trip_and_mismatch() {
        let mut sectors = [0u8; 1024];
        fill(7, 41, &mut sectors);
        assert_eq!(first_mismatch(7, 41, &sectors), None);
        assert_eq!(
            first_mismatch(7, 40, &sectors),
            Some((40, 0, pattern_word(7, 41, 0)))
        );
        sectors[512 + 8 * 3] ^= 1;
        assert_eq!(
            first_mismatch(7, 41, &sectors),
            Some((42, 3, pattern_word(7, 42, 3) ^ 1))
        );
        assert_eq!(pattern_word(0xee, 16, 5), 0xee00_0000_0000_1005);
    }
}
