//! The UEFI 2.10 section 8.2 rules of GetVariable, GetNextVariableName, SetVariable and QueryVariableInfo, applied
//! on top of the record log of `store.rs`. The choices the spec leaves open are listed in the module doc of
//! [`crate::variables`].

use core::cmp::Ordering;

use r_efi::efi::{
    Guid, HARDWARE_ERROR_VARIABLE_GUID, VARIABLE_APPEND_WRITE, VARIABLE_AUTHENTICATED_WRITE_ACCESS,
    VARIABLE_BOOTSERVICE_ACCESS, VARIABLE_ENHANCED_AUTHENTICATED_ACCESS,
    VARIABLE_HARDWARE_ERROR_RECORD, VARIABLE_NON_VOLATILE, VARIABLE_RUNTIME_ACCESS,
    VARIABLE_TIME_BASED_AUTHENTICATED_WRITE_ACCESS,
};

use super::record::{FLAG_READ_ONLY, RECORD_HEADER_SIZE};
use super::store::Record;
use super::{
    Phase, StorageInfo, VariableInfo, VariableName, VariableStore, MAX_VARIABLE_SIZE,
    STORED_ATTRIBUTES,
};
use crate::error::{InvalidParameter, Result, RuntimeError};

/// Every attribute bit UEFI 2.10 section 8.2 defines.
const KNOWN_ATTRIBUTES: u32 = STORED_ATTRIBUTES
    | VARIABLE_AUTHENTICATED_WRITE_ACCESS
    | VARIABLE_TIME_BASED_AUTHENTICATED_WRITE_ACCESS
    | VARIABLE_APPEND_WRITE
    | VARIABLE_ENHANCED_AUTHENTICATED_ACCESS;

/// Whether a variable with `attributes` can be seen in `phase`.
fn visible(phase: Phase, attributes: u32) -> bool {
    phase == Phase::BootServices || attributes & VARIABLE_RUNTIME_ACCESS != 0
}

/// Rejects undefined bits (`EFI_INVALID_PARAMETER`) and the authenticated-write bits this firmware cannot honour
/// (`EFI_UNSUPPORTED` for the deprecated one, `EFI_SECURITY_VIOLATION` for the time-based and enhanced ones).
fn check_defined_bits(attributes: u32) -> Result<()> {
    let unknown = attributes & !KNOWN_ATTRIBUTES;
    if unknown != 0 {
        return Err(InvalidParameter::UnknownAttributeBits(unknown).into());
    }
    if attributes & VARIABLE_AUTHENTICATED_WRITE_ACCESS != 0 {
        return Err(RuntimeError::Unsupported);
    }
    if attributes
        & (VARIABLE_TIME_BASED_AUTHENTICATED_WRITE_ACCESS | VARIABLE_ENHANCED_AUTHENTICATED_ACCESS)
        != 0
    {
        return Err(RuntimeError::SecurityViolation);
    }
    Ok(())
}

/// Checks the combination of non-zero stored `access` bits for a variable of `vendor`.
fn check_combination(access: u32, vendor: &Guid) -> Result<()> {
    if access & VARIABLE_BOOTSERVICE_ACCESS == 0 {
        return Err(if access & VARIABLE_RUNTIME_ACCESS != 0 {
            InvalidParameter::RuntimeAccessWithoutBootserviceAccess
        } else {
            InvalidParameter::NoAccessAttribute
        }
        .into());
    }
    if access & VARIABLE_HARDWARE_ERROR_RECORD != 0 {
        let needed = VARIABLE_NON_VOLATILE | VARIABLE_BOOTSERVICE_ACCESS | VARIABLE_RUNTIME_ACCESS;
        if access & needed != needed || *vendor != HARDWARE_ERROR_VARIABLE_GUID {
            return Err(InvalidParameter::HardwareErrorRecord.into());
        }
    }
    Ok(())
}

/// Little-endian UCS-2 bytes as code units.
fn units(bytes: &[u8]) -> impl Iterator<Item = u16> + '_ {
    bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
}

/// Enumeration order of two records: vendor GUID bytes, then name code units.
fn cmp_records(a: &Record<'_>, b: &Record<'_>) -> Ordering {
    a.header
        .vendor
        .as_bytes()
        .cmp(b.header.vendor.as_bytes())
        .then_with(|| units(a.name).cmp(units(b.name)))
}

/// Enumeration order of a record against the key (`vendor`, `name`).
fn cmp_key(r: &Record<'_>, vendor: &Guid, name: &VariableName<'_>) -> Ordering {
    r.header
        .vendor
        .as_bytes()
        .cmp(vendor.as_bytes())
        .then_with(|| name.cmp_stored(r.name).reverse())
}

impl<R: AsRef<[u8]> + AsMut<[u8]>> VariableStore<R> {
    /// Largest name-plus-data of one variable: [`MAX_VARIABLE_SIZE`], or less if the region is smaller.
    pub fn maximum_variable_size(&self) -> usize {
        MAX_VARIABLE_SIZE.min(self.capacity() - RECORD_HEADER_SIZE)
    }

    /// GetVariable: copies the data of (`vendor`, `name`) into `data`.
    ///
    /// Errors: [`RuntimeError::NotFound`] if no such variable is visible in `phase`;
    /// [`RuntimeError::BufferTooSmall`] with the data size and the attributes if `data` is shorter.
    pub fn get_variable(
        &self,
        phase: Phase,
        name: &VariableName<'_>,
        vendor: &Guid,
        data: &mut [u8],
    ) -> Result<VariableInfo> {
        let record = self
            .find(vendor, name)
            .filter(|r| visible(phase, r.header.attributes));
        let record = record.ok_or(RuntimeError::NotFound)?;
        let attributes = record.header.attributes;
        let out = data
            .get_mut(..record.data.len())
            .ok_or(RuntimeError::BufferTooSmall {
                needed: record.data.len(),
                attributes,
            })?;
        out.copy_from_slice(record.data);
        Ok(VariableInfo {
            attributes,
            data_size: record.data.len(),
        })
    }

    /// GetNextVariableName: `name` holds the previous name (empty string to start) and `vendor` its GUID; on success
    /// both are replaced by the next variable's and the name's byte size (NUL included) is returned.
    ///
    /// Errors: [`InvalidParameter::Name`] if `name` has no NUL within it; [`InvalidParameter::NotAnExistingVariable`]
    /// if the previous name/GUID is not a visible variable; [`RuntimeError::BufferTooSmall`] with the needed bytes
    /// (NUL included) if `name` is too short for the next name; [`RuntimeError::NotFound`] after the last variable.
    pub fn get_next_variable_name(
        &self,
        phase: Phase,
        name: &mut [u16],
        vendor: &mut Guid,
    ) -> Result<usize> {
        let next_offset = {
            let candidates = self
                .records()
                .filter(|r| r.is_valid() && visible(phase, r.header.attributes));
            let next = match name.first() {
                None => return Err(crate::variables::NameError::MissingNul.into()),
                Some(0) => candidates.min_by(cmp_records),
                Some(_) => {
                    let previous = VariableName::new(name)?;
                    let exists = self
                        .find(vendor, &previous)
                        .is_some_and(|r| visible(phase, r.header.attributes));
                    if !exists {
                        return Err(InvalidParameter::NotAnExistingVariable.into());
                    }
                    candidates
                        .filter(|r| cmp_key(r, vendor, &previous) == Ordering::Greater)
                        .min_by(cmp_records)
                }
            };
            next.ok_or(RuntimeError::NotFound)?.offset
        };
        let record = self.record_at(next_offset).ok_or(RuntimeError::NotFound)?;
        let needed = record.name.len();
        let out = name
            .get_mut(..needed / 2)
            .ok_or(RuntimeError::BufferTooSmall {
                needed,
                attributes: record.header.attributes,
            })?;
        for (slot, unit) in out.iter_mut().zip(units(record.name)) {
            *slot = unit;
        }
        *vendor = record.header.vendor;
        Ok(needed)
    }

    /// SetVariable: creates, replaces, appends to (`APPEND_WRITE`) or deletes (size 0 without `APPEND_WRITE`, or no
    /// access attributes) the variable (`vendor`, `name`).
    ///
    /// Errors: [`RuntimeError::InvalidParameter`] for undefined bits, bad combinations, changed attributes, a
    /// too-large variable or a runtime write without runtime attributes; [`RuntimeError::Unsupported`] /
    /// [`RuntimeError::SecurityViolation`] for authenticated writes; [`RuntimeError::NotFound`] when deleting a
    /// missing variable; [`RuntimeError::WriteProtected`] for firmware-owned read-only variables (see
    /// [`Self::set_firmware_variable`]) and for variables read-only in `phase`;
    /// [`RuntimeError::OutOfResources`] when the region cannot hold the result even after compaction.
    pub fn set_variable(
        &mut self,
        phase: Phase,
        name: &VariableName<'_>,
        vendor: &Guid,
        attributes: u32,
        data: &[u8],
    ) -> Result<()> {
        check_defined_bits(attributes)?;
        let access = attributes & !VARIABLE_APPEND_WRITE;
        let append = attributes & VARIABLE_APPEND_WRITE != 0;
        if access != 0 {
            check_combination(access, vendor)?;
        }
        let delete = access == 0 || (data.is_empty() && !append);
        let found = self.find(vendor, name);
        let read_only = found.is_some_and(|r| {
            r.header.flags & FLAG_READ_ONLY != 0 && visible(phase, r.header.attributes)
        });
        let existing = found.map(|r| (r.offset, r.header.attributes, r.data.len()));
        if read_only {
            log::debug!(target: "runtime::variables", "SetVariable of a read-only variable refused");
            return Err(RuntimeError::WriteProtected);
        }

        if phase == Phase::Runtime {
            match existing {
                Some((_, attrs, _)) if !visible(phase, attrs) => {
                    return Err(if delete {
                        RuntimeError::NotFound
                    } else {
                        RuntimeError::WriteProtected
                    });
                }
                Some((_, attrs, _)) if attrs & VARIABLE_NON_VOLATILE == 0 => {
                    return Err(RuntimeError::WriteProtected)
                }
                _ => {}
            }
            let needed = VARIABLE_NON_VOLATILE | VARIABLE_RUNTIME_ACCESS;
            if !delete && access & needed != needed {
                return Err(InvalidParameter::NotAccessibleAtRuntime.into());
            }
        }

        let Some((offset, existing_attributes, existing_len)) = existing else {
            if delete {
                return Err(RuntimeError::NotFound);
            }
            if data.is_empty() {
                return Ok(()); // APPEND_WRITE of nothing to nothing: no change
            }
            self.check_size(name, data.len())?;
            log::trace!(target: "runtime::variables", "create attrs {access:#x}, {} bytes", data.len());
            return self.write(None, vendor, name, (access, 0), data, false);
        };

        if access != 0 && access != existing_attributes {
            return Err(InvalidParameter::AttributesMismatch {
                existing: existing_attributes,
                requested: access,
            }
            .into());
        }
        if delete {
            log::trace!(target: "runtime::variables", "delete");
            return self.retire(offset);
        }
        if append && data.is_empty() {
            return Ok(());
        }
        let new_len = if append {
            existing_len + data.len()
        } else {
            data.len()
        };
        self.check_size(name, new_len)?;
        self.write(Some(offset), vendor, name, (access, 0), data, append)
    }

    /// The firmware's own write, for the variables it publishes (UEFI 2.10 section 3.3, e.g. `PlatformLangCodes`,
    /// `SecureBoot`): creates or replaces (`vendor`, `name`) with `attributes` and `data`, or deletes it when `data`
    /// is empty, whatever its current attributes or read-only state. With `read_only`, later SetVariable calls on it
    /// fail with `EFI_WRITE_PROTECTED`. Applies the boot-services rules otherwise: call it before ExitBootServices.
    ///
    /// Errors: as [`Self::set_variable`] for the attributes (`APPEND_WRITE` and authenticated bits are refused) and
    /// sizes; [`RuntimeError::NotFound`] when deleting a missing variable; [`RuntimeError::OutOfResources`].
    pub fn set_firmware_variable(
        &mut self,
        name: &VariableName<'_>,
        vendor: &Guid,
        attributes: u32,
        data: &[u8],
        read_only: bool,
    ) -> Result<()> {
        check_defined_bits(attributes)?;
        if attributes & VARIABLE_APPEND_WRITE != 0 {
            return Err(InvalidParameter::UnknownAttributeBits(VARIABLE_APPEND_WRITE).into());
        }
        check_combination(attributes, vendor)?;
        let old = self.find(vendor, name).map(|r| r.offset);
        if data.is_empty() {
            return self.retire(old.ok_or(RuntimeError::NotFound)?);
        }
        self.check_size(name, data.len())?;
        let flags = if read_only { FLAG_READ_ONLY } else { 0 };
        self.write(old, vendor, name, (attributes, flags), data, false)
    }

    /// QueryVariableInfo for variables with `attributes` (`APPEND_WRITE` ignored).
    ///
    /// Errors: [`InvalidParameter`] for undefined bits, no access bits, bad combinations, or (in
    /// [`Phase::Runtime`]) no `RUNTIME_ACCESS`; [`RuntimeError::Unsupported`] for authenticated-write bits.
    pub fn query_variable_info(&self, phase: Phase, attributes: u32) -> Result<StorageInfo> {
        let unknown = attributes & !KNOWN_ATTRIBUTES;
        if unknown != 0 {
            return Err(InvalidParameter::UnknownAttributeBits(unknown).into());
        }
        let authenticated = VARIABLE_AUTHENTICATED_WRITE_ACCESS
            | VARIABLE_TIME_BASED_AUTHENTICATED_WRITE_ACCESS
            | VARIABLE_ENHANCED_AUTHENTICATED_ACCESS;
        if attributes & authenticated != 0 {
            return Err(RuntimeError::Unsupported);
        }
        let access = attributes & !VARIABLE_APPEND_WRITE;
        if access == 0 {
            return Err(InvalidParameter::NoAccessAttribute.into());
        }
        let hardware_error_guid = HARDWARE_ERROR_VARIABLE_GUID;
        check_combination(access, &hardware_error_guid)?;
        if !visible(phase, access) {
            return Err(InvalidParameter::NotAccessibleAtRuntime.into());
        }
        Ok(StorageInfo {
            maximum_variable_storage_size: self.capacity() as u64,
            remaining_variable_storage_size: (self.capacity() - self.live_bytes()) as u64,
            maximum_variable_size: self.maximum_variable_size() as u64,
        })
    }

    fn check_size(&self, name: &VariableName<'_>, data_len: usize) -> Result<()> {
        let size = name.byte_len() + data_len;
        let max = self.maximum_variable_size();
        if size > max {
            return Err(InvalidParameter::VariableTooLarge { size, max }.into());
        }
        Ok(())
    }
}
