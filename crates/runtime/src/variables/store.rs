//! Storage mechanics of the variable store: the record log over a caller-provided region, appends, retirement,
//! in-place compaction and serialization. The UEFI rules live in `rules.rs`.
//!
//! Invariants, established by [`VariableStore::format`]/[`VariableStore::open`] and kept by every method:
//! - `log_len` equals the region header's `log_len`, and `REGION_HEADER_SIZE + log_len <= region.len()`;
//! - the log is a gap-free sequence of well-formed records (see `record.rs`) ending exactly at `log_len`;
//! - at most one VALID record exists per (vendor GUID, name) key;
//! - `live_bytes` is the sum of the total lengths of the VALID records.
//!
//! No method allocates: compaction slides records down with `copy_within`, and moving a record to the end of the
//! log uses `rotate_left`, both in place.

use r_efi::efi::Guid;

use super::name::{validate_stored, VariableName};
use super::record::{
    decode_region_header, encode_region_header, FormatError, RecordHeader, KNOWN_FLAGS,
    RECORD_HEADER_SIZE, REGION_HEADER_SIZE, STATE_OBSOLETE, STATE_VALID,
};
use super::{MAX_VARIABLE_SIZE, STORED_ATTRIBUTES};
use crate::error::{DeviceFault, Result, RuntimeError};
use r_efi::efi::{VARIABLE_BOOTSERVICE_ACCESS, VARIABLE_NON_VOLATILE};

const CORRUPT: RuntimeError = RuntimeError::DeviceError(DeviceFault::CorruptStore);

/// A variable store over a fixed byte region `R` (a `&'static mut [u8]` in runtime memory, or a `Vec<u8>` in tests).
pub struct VariableStore<R> {
    region: R,
    log_len: usize,
    live_bytes: usize,
}

/// One record of the log, borrowed from the region.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Record<'s> {
    /// Byte offset of the record header in the region.
    pub offset: usize,
    pub header: RecordHeader,
    /// Name bytes, UCS-2LE with NUL.
    pub name: &'s [u8],
    pub data: &'s [u8],
}

impl Record<'_> {
    pub fn is_valid(&self) -> bool {
        self.header.state == STATE_VALID
    }

    /// Whether this record's key is (`vendor`, `name`).
    pub fn has_key(&self, vendor: &Guid, name: &VariableName<'_>) -> bool {
        self.header.vendor == *vendor && name.eq_stored(self.name)
    }
}

impl<R: AsRef<[u8]> + AsMut<[u8]>> VariableStore<R> {
    /// Initialises `region` as an empty store, overwriting its header.
    ///
    /// Errors: [`FormatError::RegionTooSmall`] below header plus one minimal record,
    /// [`FormatError::RegionTooLarge`] above `u32::MAX` bytes.
    pub fn format(mut region: R) -> core::result::Result<Self, FormatError> {
        let len = region.as_ref().len();
        if len < REGION_HEADER_SIZE + RECORD_HEADER_SIZE + 4 {
            return Err(FormatError::RegionTooSmall);
        }
        if u32::try_from(len).is_err() {
            return Err(FormatError::RegionTooLarge);
        }
        let mut header = [0u8; REGION_HEADER_SIZE];
        encode_region_header(&mut header, 0);
        region.as_mut()[..REGION_HEADER_SIZE].copy_from_slice(&header);
        Ok(VariableStore {
            region,
            log_len: 0,
            live_bytes: 0,
        })
    }

    /// Opens a region that already holds a store (e.g. one loaded from persistent storage), checking every record.
    ///
    /// Errors: any [`FormatError`] describing the first violation found.
    pub fn open(region: R) -> core::result::Result<Self, FormatError> {
        let bytes = region.as_ref();
        if bytes.len() < REGION_HEADER_SIZE + RECORD_HEADER_SIZE + 4 {
            return Err(FormatError::RegionTooSmall);
        }
        if u32::try_from(bytes.len()).is_err() {
            return Err(FormatError::RegionTooLarge);
        }
        let log_len = decode_region_header(bytes)?;
        if log_len > bytes.len() - REGION_HEADER_SIZE {
            return Err(FormatError::LogLenOutOfRange);
        }
        let store = VariableStore {
            region,
            log_len,
            live_bytes: 0,
        };
        let live_bytes = store.check_records()?;
        Ok(VariableStore {
            live_bytes,
            ..store
        })
    }

    /// Copies a serialized `image` (from [`VariableStore::serialize_non_volatile`]) to the start of `region` and
    /// opens it.
    ///
    /// Errors: [`FormatError::ImageTooLarge`] if `image` is longer than `region`; otherwise as [`Self::open`].
    pub fn load(mut region: R, image: &[u8]) -> core::result::Result<Self, FormatError> {
        let target = region
            .as_mut()
            .get_mut(..image.len())
            .ok_or(FormatError::ImageTooLarge)?;
        target.copy_from_slice(image);
        Self::open(region)
    }

    /// Gives the region back.
    pub fn into_region(self) -> R {
        self.region
    }

    /// The region itself (for moving it without changing its bytes, see `RawRegion`).
    pub(crate) fn region_mut(&mut self) -> &mut R {
        &mut self.region
    }

    /// Bytes available for records: the region length minus the region header.
    pub fn capacity(&self) -> usize {
        self.region.as_ref().len() - REGION_HEADER_SIZE
    }

    /// Bytes held by VALID records (headers, names and data).
    pub fn live_bytes(&self) -> usize {
        self.live_bytes
    }

    /// Bytes held by OBSOLETE records, which [`Self::compact`] reclaims.
    pub fn obsolete_bytes(&self) -> usize {
        self.log_len - self.live_bytes
    }

    /// Removes every OBSOLETE record by sliding the VALID ones down, in place.
    pub fn compact(&mut self) {
        self.compact_tracking(None);
    }

    /// Bytes [`Self::serialize_non_volatile`] writes: the region header plus every VALID non-volatile record.
    pub fn serialized_len(&self) -> usize {
        REGION_HEADER_SIZE
            + self
                .records()
                .filter(|r| r.is_valid() && r.header.attributes & VARIABLE_NON_VOLATILE != 0)
                .map(|r| r.header.total_len())
                .sum::<usize>()
    }

    /// Writes the persistent image of this store into `out`: the same region format, holding only the VALID
    /// `NON_VOLATILE` records, compacted, in log order. Returns the image length in bytes.
    ///
    /// Errors: [`RuntimeError::BufferTooSmall`] with the needed length (attributes 0) if `out` is shorter.
    pub fn serialize_non_volatile(&self, out: &mut [u8]) -> Result<usize> {
        let needed = self.serialized_len();
        if out.len() < needed {
            return Err(RuntimeError::BufferTooSmall {
                needed,
                attributes: 0,
            });
        }
        let bytes = self.region.as_ref();
        let mut at = REGION_HEADER_SIZE;
        for r in self
            .records()
            .filter(|r| r.is_valid() && r.header.attributes & VARIABLE_NON_VOLATILE != 0)
        {
            let len = r.header.total_len();
            out[at..at + len].copy_from_slice(&bytes[r.offset..r.offset + len]);
            at += len;
        }
        let mut header = [0u8; REGION_HEADER_SIZE];
        encode_region_header(&mut header, (at - REGION_HEADER_SIZE) as u32);
        out[..REGION_HEADER_SIZE].copy_from_slice(&header);
        Ok(at)
    }

    /// Iterates over every record (VALID and OBSOLETE) in log order.
    pub(crate) fn records(&self) -> Records<'_, R> {
        Records {
            store: self,
            next: REGION_HEADER_SIZE,
        }
    }

    /// The VALID record with key (`vendor`, `name`), if any.
    pub(crate) fn find(&self, vendor: &Guid, name: &VariableName<'_>) -> Option<Record<'_>> {
        self.records()
            .find(|r| r.is_valid() && r.has_key(vendor, name))
    }

    /// Marks the record at `offset` OBSOLETE.
    pub(crate) fn retire(&mut self, offset: usize) -> Result<()> {
        let header = self.record_at(offset).ok_or(CORRUPT)?.header;
        if header.state != STATE_VALID {
            return Err(CORRUPT);
        }
        self.region.as_mut()[offset] = STATE_OBSOLETE;
        self.live_bytes -= header.total_len();
        Ok(())
    }

    /// Stores a new VALID record for (`vendor`, `name`) with `stored` = (attributes, flags), retiring the VALID
    /// record at `old` if given. With `append` the new data is the old record's data followed by `data`.
    ///
    /// Compacts when the free tail is too short; if still too short, moves the old record to the end of the log and
    /// rewrites it in place. Errors: [`RuntimeError::OutOfResources`] when the live records would not fit.
    pub(crate) fn write(
        &mut self,
        old: Option<usize>,
        vendor: &Guid,
        name: &VariableName<'_>,
        stored: (u32, u8),
        data: &[u8],
        append: bool,
    ) -> Result<()> {
        let (attributes, flags) = stored;
        let old_header = match old {
            Some(offset) => Some(self.record_at(offset).ok_or(CORRUPT)?.header),
            None => None,
        };
        let kept = if append {
            old_header.map_or(0, |h| h.data_len)
        } else {
            0
        };
        let new = RecordHeader {
            state: STATE_VALID,
            flags,
            name_len: name.byte_len(),
            attributes,
            data_len: kept + data.len(),
            vendor: *vendor,
        };
        let need = new.total_len();
        let old_total = old_header.map_or(0, |h| h.total_len());
        if self.live_bytes - old_total + need > self.capacity() {
            return Err(RuntimeError::OutOfResources);
        }
        let mut old = old;
        if self.free_tail() < need {
            log::debug!(target: "runtime::variables", "compacting: {} obsolete bytes", self.obsolete_bytes());
            old = self.compact_tracking(old);
        }
        if self.free_tail() < need {
            // Only the old record itself is in the way: move it last and rewrite it where it lies.
            let offset = old.ok_or(RuntimeError::OutOfResources)?;
            let offset = self.move_to_end(offset, old_total);
            self.log_len -= old_total;
            self.live_bytes -= old_total;
            self.put(offset, &new, name, None, data);
        } else {
            let offset = REGION_HEADER_SIZE + self.log_len;
            let keep_from = match (append, old) {
                (true, Some(o)) => Some(o + RECORD_HEADER_SIZE + new.name_len),
                _ => None,
            };
            self.put(offset, &new, name, keep_from.map(|from| (from, kept)), data);
            if let Some(o) = old {
                self.retire(o)?;
            }
        }
        self.log_len += need;
        self.live_bytes += need;
        self.sync_header();
        Ok(())
    }

    /// Writes record `header`, `name`, then (optionally) `kept` bytes copied from region offset `from`, then `data`,
    /// at region offset `at`. When `keep` is `None` with an append in place, the kept bytes are already there.
    fn put(
        &mut self,
        at: usize,
        header: &RecordHeader,
        name: &VariableName<'_>,
        keep: Option<(usize, usize)>,
        data: &[u8],
    ) {
        let mut encoded = [0u8; RECORD_HEADER_SIZE];
        header.encode(&mut encoded);
        let region = self.region.as_mut();
        region[at..at + RECORD_HEADER_SIZE].copy_from_slice(&encoded);
        let mut cursor = at + RECORD_HEADER_SIZE;
        for unit in name.units() {
            region[cursor..cursor + 2].copy_from_slice(&unit.to_le_bytes());
            cursor += 2;
        }
        let kept = header.data_len - data.len();
        if let Some((from, len)) = keep {
            region.copy_within(from..from + len, cursor);
        }
        cursor += kept;
        region[cursor..cursor + data.len()].copy_from_slice(data);
    }

    fn free_tail(&self) -> usize {
        self.capacity() - self.log_len
    }

    fn sync_header(&mut self) {
        let mut header = [0u8; REGION_HEADER_SIZE];
        encode_region_header(&mut header, self.log_len as u32);
        self.region.as_mut()[..REGION_HEADER_SIZE].copy_from_slice(&header);
    }

    /// Rotates the record at `offset` (of `len` bytes) to the end of the log; returns its new offset.
    fn move_to_end(&mut self, offset: usize, len: usize) -> usize {
        let end = REGION_HEADER_SIZE + self.log_len;
        self.region.as_mut()[offset..end].rotate_left(len);
        end - len
    }

    /// Compacts the log; returns where the record at `track` moved to.
    fn compact_tracking(&mut self, track: Option<usize>) -> Option<usize> {
        let end = REGION_HEADER_SIZE + self.log_len;
        let (mut read, mut write) = (REGION_HEADER_SIZE, REGION_HEADER_SIZE);
        let mut moved = None;
        while read < end {
            let Some(record) = self.record_at(read) else {
                break;
            };
            let (valid, len) = (record.is_valid(), record.header.total_len());
            if valid {
                if Some(read) == track {
                    moved = Some(write);
                }
                self.region.as_mut().copy_within(read..read + len, write);
                write += len;
            }
            read += len;
        }
        self.log_len = write - REGION_HEADER_SIZE;
        self.live_bytes = self.log_len;
        self.sync_header();
        moved
    }

    /// The record whose header starts at region offset `offset`; `None` if it does not fit in the log.
    pub(crate) fn record_at(&self, offset: usize) -> Option<Record<'_>> {
        let bytes = self.region.as_ref();
        let end = REGION_HEADER_SIZE + self.log_len;
        let header = RecordHeader::decode(bytes.get(offset..end)?)?;
        let name_start = offset + RECORD_HEADER_SIZE;
        let data_start = name_start + header.name_len;
        let data_end = data_start + header.data_len;
        if data_end > end {
            return None;
        }
        Some(Record {
            offset,
            header,
            name: bytes.get(name_start..data_start)?,
            data: bytes.get(data_start..data_end)?,
        })
    }

    /// Validates every record (see the module invariants); returns the live byte count.
    fn check_records(&self) -> core::result::Result<usize, FormatError> {
        let end = REGION_HEADER_SIZE + self.log_len;
        let mut at = REGION_HEADER_SIZE;
        let mut live = 0;
        while at < end {
            let record = self.record_at(at).ok_or(FormatError::TruncatedRecord(at))?;
            let h = record.header;
            if h.state != STATE_VALID && h.state != STATE_OBSOLETE {
                return Err(FormatError::BadState(at));
            }
            validate_stored(record.name).map_err(|_| FormatError::BadName(at))?;
            if h.attributes & !STORED_ATTRIBUTES != 0
                || h.attributes & VARIABLE_BOOTSERVICE_ACCESS == 0
            {
                return Err(FormatError::BadAttributes(at));
            }
            if h.flags & !KNOWN_FLAGS != 0 {
                return Err(FormatError::BadFlags(at));
            }
            if h.name_len + h.data_len > MAX_VARIABLE_SIZE {
                return Err(FormatError::RecordTooLarge(at));
            }
            if record.is_valid() {
                let duplicate = self
                    .records()
                    .take_while(|r| r.offset < at)
                    .any(|r| r.is_valid() && r.header.vendor == h.vendor && r.name == record.name);
                if duplicate {
                    return Err(FormatError::DuplicateVariable(at));
                }
                live += h.total_len();
            }
            at += h.total_len();
        }
        Ok(live)
    }
}

/// Iterator over the records of a store, in log order; stops early (rather than panicking) at a malformed record.
pub(crate) struct Records<'s, R> {
    store: &'s VariableStore<R>,
    next: usize,
}

impl<'s, R: AsRef<[u8]> + AsMut<[u8]>> Iterator for Records<'s, R> {
    type Item = Record<'s>;

    fn next(&mut self) -> Option<Record<'s>> {
        let record = self.store.record_at(self.next)?;
        self.next += record.header.total_len();
        Some(record)
    }
}
