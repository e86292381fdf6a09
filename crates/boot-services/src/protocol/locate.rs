//! LocateHandle(), LocateHandleBuffer(), LocateProtocol() and LocateDevicePath() (UEFI 2.10 section 7.3).

use alloc::vec::Vec;

use r_efi::efi::{Guid, Handle};

use super::device_path::match_prefix;
use super::{DevicePathReader, Interface, ProtocolDatabase, Registration, DEVICE_PATH_GUID};
use crate::handle::key_handle;
use crate::{Result, Status};

/// The `SearchType` of LocateHandle() with its `Protocol` / `SearchKey` argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocateSearch {
    /// `AllHandles`: every handle in the database.
    AllHandles,
    /// `ByRegisterNotify`: the next handle new to this registration (one handle per call).
    ByRegisterNotify(Registration),
    /// `ByProtocol`: every handle carrying the GUID.
    ByProtocol(Guid),
}

impl ProtocolDatabase {
    /// LocateHandle(): the matching handles in creation order. The ABI shell compares the result's size with the
    /// caller's buffer and returns `BUFFER_TOO_SMALL` with the needed size itself.
    /// Errors: `NOT_FOUND` when nothing matches (including an unknown registration key).
    pub fn locate_handle(&mut self, search: LocateSearch) -> Result<Vec<Handle>> {
        let found: Vec<Handle> = match search {
            LocateSearch::AllHandles => self.handles.keys().map(|k| key_handle(*k)).collect(),
            LocateSearch::ByProtocol(guid) => self
                .instances_of(&guid)
                .into_iter()
                .map(|(h, _)| h)
                .collect(),
            LocateSearch::ByRegisterNotify(reg) => {
                self.next_fresh(reg).map(key_handle).into_iter().collect()
            }
        };
        if found.is_empty() {
            return Err(Status::NOT_FOUND);
        }
        Ok(found)
    }

    /// LocateHandleBuffer(): same search as [`ProtocolDatabase::locate_handle`]; the shell allocates the pool
    /// buffer for the returned handles. Errors: `NOT_FOUND`.
    pub fn locate_handle_buffer(&mut self, search: LocateSearch) -> Result<Vec<Handle>> {
        self.locate_handle(search)
    }

    /// LocateProtocol(): without a registration, the interface of `guid` on the first handle carrying it; with
    /// one, the interface on the next handle new to that registration that carries `guid`.
    /// Errors: `NOT_FOUND` when there is none (or the key is unknown).
    pub fn locate_protocol(
        &mut self,
        guid: &Guid,
        registration: Option<Registration>,
    ) -> Result<Interface> {
        match registration {
            None => self
                .instances_of(guid)
                .first()
                .map(|(_, i)| *i)
                .ok_or(Status::NOT_FOUND),
            Some(reg) => {
                while let Some(key) = self.next_fresh(reg) {
                    if let Ok(i) = self.get_interface(key_handle(key), guid) {
                        return Ok(i);
                    }
                }
                Err(Status::NOT_FOUND)
            }
        }
    }

    /// LocateDevicePath(): among handles carrying both `guid` and a Device Path Protocol, the one whose device
    /// path (read through `reader`, first instance) is the longest whole-node prefix of `path`. Returns the handle
    /// and the byte offset in `path` where the remaining device path starts (the shell advances the caller's
    /// pointer by it). Equal-length matches resolve to the oldest handle.
    /// Errors: `INVALID_PARAMETER` when `path` is malformed; `NOT_FOUND` when no handle matches.
    pub fn locate_device_path(
        &self,
        guid: &Guid,
        path: &[u8],
        reader: &dyn DevicePathReader,
    ) -> Result<(Handle, usize)> {
        super::device_path::first_instance(path).map_err(|_| Status::INVALID_PARAMETER)?;
        let mut best: Option<(Handle, usize)> = None;
        for (key, entry) in &self.handles {
            if entry.find(guid).is_none() {
                continue;
            }
            let Some(dp) = entry.find(&DEVICE_PATH_GUID) else {
                continue;
            };
            let Some(bytes) = reader.device_path_bytes(key_handle(dp.interface)) else {
                continue;
            };
            if let Ok(Some(len)) = match_prefix(&bytes, path) {
                if best.is_none_or(|(_, b)| len > b) {
                    best = Some((key_handle(*key), len));
                }
            }
        }
        best.ok_or(Status::NOT_FOUND)
    }
}
