//! The one error type of every runtime operation, and its mapping to UEFI status codes.
//!
//! Each variant names exactly what was wrong; [`RuntimeError::status`] gives the status code the `extern "efiapi"`
//! entry point returns (UEFI 2.10 sections 8.2-8.5 list which codes each service may return).

use r_efi::efi::Status;

use crate::time::TimeError;
use crate::variables::NameError;

/// Why an argument was rejected with `EFI_INVALID_PARAMETER`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvalidParameter {
    /// A pointer the service requires was null.
    NullPointer,
    /// A pointer was not aligned for the type it points to.
    MisalignedPointer,
    /// A variable name was malformed.
    Name(NameError),
    /// Attribute bits outside those UEFI 2.10 section 8.2 defines were set; the value is the unknown bits.
    UnknownAttributeBits(u32),
    /// `RUNTIME_ACCESS` was set without `BOOTSERVICE_ACCESS` (UEFI 2.10 section 8.2, SetVariable).
    RuntimeAccessWithoutBootserviceAccess,
    /// Non-zero attributes without `BOOTSERVICE_ACCESS`: such a variable could never be read.
    NoAccessAttribute,
    /// A hardware error record lacked `NON_VOLATILE | BOOTSERVICE_ACCESS | RUNTIME_ACCESS` or used a vendor GUID
    /// other than `EFI_HARDWARE_ERROR_VARIABLE`.
    HardwareErrorRecord,
    /// The variable exists with other attributes (APPEND_WRITE excluded from the comparison).
    AttributesMismatch {
        /// Attributes of the stored variable.
        existing: u32,
        /// Attributes the caller passed.
        requested: u32,
    },
    /// Name plus data would exceed the per-variable limit; both sizes are in bytes.
    VariableTooLarge {
        /// Name (with NUL) plus data bytes the variable would have.
        size: usize,
        /// The limit in force.
        max: usize,
    },
    /// GetNextVariableName was given a name/GUID that is not an existing (visible) variable.
    NotAnExistingVariable,
    /// After ExitBootServices the attributes must include `RUNTIME_ACCESS` (and `NON_VOLATILE` to write).
    NotAccessibleAtRuntime,
    /// An `EFI_TIME` field was out of range.
    Time(TimeError),
    /// A capsule call passed zero capsules.
    NoCapsules,
    /// The data size passed with a pointer is impossible (e.g. larger than the address space allows).
    BadSize,
}

/// What failed when the service answers `EFI_DEVICE_ERROR`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceFault {
    /// The variable region's bytes broke the record format invariants.
    CorruptStore,
    /// The real-time clock could not be read or written.
    Clock,
    /// The hypervisor host failed to answer a variable request.
    Host,
    /// The high monotonic count reached `u32::MAX` and cannot advance.
    MonotonicCountExhausted,
    /// The back end was already serving a call (reentrant or concurrent entry); nothing was changed.
    Busy,
    /// The back end has no variable store attached yet.
    NoStore,
}

/// Error of a runtime operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuntimeError {
    /// `EFI_INVALID_PARAMETER`, with the reason.
    InvalidParameter(InvalidParameter),
    /// `EFI_NOT_FOUND`: no such (visible) variable, or enumeration reached the end.
    NotFound,
    /// `EFI_BUFFER_TOO_SMALL`: the output needs `needed` bytes.
    BufferTooSmall {
        /// Bytes the output requires (data bytes for GetVariable; name bytes with NUL for GetNextVariableName).
        needed: usize,
        /// Attributes of the variable concerned (GetVariable returns them even on this error).
        attributes: u32,
    },
    /// `EFI_OUT_OF_RESOURCES`: the store has no room even after compaction.
    OutOfResources,
    /// `EFI_WRITE_PROTECTED`: the variable is read-only now (e.g. volatile after ExitBootServices).
    WriteProtected,
    /// `EFI_SECURITY_VIOLATION`: an authenticated write that this firmware cannot validate.
    SecurityViolation,
    /// `EFI_UNSUPPORTED`: the service or attribute is not provided by this back end.
    Unsupported,
    /// `EFI_DEVICE_ERROR`, with the fault.
    DeviceError(DeviceFault),
}

impl RuntimeError {
    /// The UEFI status code the ABI entry point returns for this error.
    pub fn status(&self) -> Status {
        match self {
            RuntimeError::InvalidParameter(_) => Status::INVALID_PARAMETER,
            RuntimeError::NotFound => Status::NOT_FOUND,
            RuntimeError::BufferTooSmall { .. } => Status::BUFFER_TOO_SMALL,
            RuntimeError::OutOfResources => Status::OUT_OF_RESOURCES,
            RuntimeError::WriteProtected => Status::WRITE_PROTECTED,
            RuntimeError::SecurityViolation => Status::SECURITY_VIOLATION,
            RuntimeError::Unsupported => Status::UNSUPPORTED,
            RuntimeError::DeviceError(_) => Status::DEVICE_ERROR,
        }
    }
}

impl From<InvalidParameter> for RuntimeError {
    fn from(reason: InvalidParameter) -> Self {
        RuntimeError::InvalidParameter(reason)
    }
}

impl From<NameError> for RuntimeError {
    fn from(reason: NameError) -> Self {
        RuntimeError::InvalidParameter(InvalidParameter::Name(reason))
    }
}

/// Result of every runtime operation.
pub type Result<T> = core::result::Result<T, RuntimeError>;
