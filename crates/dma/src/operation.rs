//! `EFI_PCI_IO_PROTOCOL_OPERATION` (UEFI 2.10 section 14.4, `EFI_PCI_IO_PROTOCOL.Map()`).
//!
//! Directions are the device's: a bus-master *read* reads host memory, a bus-master *write* writes it.

use crate::error::DmaError;

/// A `Map()` operation, numbered as `EFI_PCI_IO_PROTOCOL_OPERATION` (UEFI 2.10 section 14.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Operation {
    /// `EfiPciIoOperationBusMasterRead` (0): the device reads host memory; it reaches only the first 4 GiB.
    BusMasterRead = 0,
    /// `EfiPciIoOperationBusMasterWrite` (1): the device writes host memory; it reaches only the first 4 GiB.
    BusMasterWrite = 1,
    /// `EfiPciIoOperationBusMasterCommonBuffer` (2): both sides access memory from `AllocateBuffer()`
    /// concurrently; the device reaches only the first 4 GiB.
    BusMasterCommonBuffer = 2,
    /// `EfiPciIoOperationBusMasterRead64` (3): as [`Operation::BusMasterRead`], device reaches all 64 bits.
    BusMasterRead64 = 3,
    /// `EfiPciIoOperationBusMasterWrite64` (4): as [`Operation::BusMasterWrite`], device reaches all 64 bits.
    BusMasterWrite64 = 4,
    /// `EfiPciIoOperationBusMasterCommonBuffer64` (5): as [`Operation::BusMasterCommonBuffer`], device reaches
    /// all 64 bits.
    BusMasterCommonBuffer64 = 5,
}

impl Operation {
    /// Every operation, in numeric order.
    pub const ALL: [Operation; 6] = [
        Operation::BusMasterRead,
        Operation::BusMasterWrite,
        Operation::BusMasterCommonBuffer,
        Operation::BusMasterRead64,
        Operation::BusMasterWrite64,
        Operation::BusMasterCommonBuffer64,
    ];

    /// Decode the raw `EFI_PCI_IO_PROTOCOL_OPERATION` value.
    ///
    /// # Errors
    /// [`DmaError::UnknownOperation`] for values 6 and above (`EfiPciIoOperationMaximum` and beyond).
    pub fn from_raw(raw: u32) -> Result<Self, DmaError> {
        Self::ALL
            .get(raw as usize)
            .copied()
            .ok_or(DmaError::UnknownOperation(raw))
    }

    /// The raw `EFI_PCI_IO_PROTOCOL_OPERATION` value.
    pub fn as_raw(self) -> u32 {
        self as u32
    }

    /// True for the `...64` variants: the device can address memory above 4 GiB.
    pub fn is_64bit(self) -> bool {
        matches!(
            self,
            Operation::BusMasterRead64
                | Operation::BusMasterWrite64
                | Operation::BusMasterCommonBuffer64
        )
    }

    /// True for the common-buffer operations (never bounced).
    pub fn is_common_buffer(self) -> bool {
        matches!(
            self,
            Operation::BusMasterCommonBuffer | Operation::BusMasterCommonBuffer64
        )
    }

    /// True when the device reads host memory (a bounce copies host → bounce at map time).
    pub fn is_read(self) -> bool {
        matches!(self, Operation::BusMasterRead | Operation::BusMasterRead64)
    }

    /// True when the device writes host memory (a bounce copies bounce → host at unmap or at exit).
    pub fn is_write(self) -> bool {
        matches!(
            self,
            Operation::BusMasterWrite | Operation::BusMasterWrite64
        )
    }
}
