//! The virtio block device driver core (virtio 1.2 §5.2), host-testable.
//!
//! - [`config`]: feature bits (§5.2.3), the configuration layout (§5.2.4), [`BlkConfig`] and the [`Media`] a
//!   driver presents (block size, block count, read-only, write cache, topology).
//! - [`request`]: request header and status values (§5.2.6), [`Limits`] from `seg_max`/`size_max` and the queue
//!   size, and how a transfer is cut into requests and segments.
//! - [`device`]: [`BlkDevice`], one device over any [`crate::Transport`], [`crate::queue::QueueMemory`] and
//!   [`crate::clock::Clock`]: initialisation, many-block reads and writes, flush, bounded waits, recovery by
//!   reset, and the quiesce.
//!
//! The data buffers of a transfer are given as a device address and a length: the caller maps them for the
//! device (the firmware through `EFI_PCI_IO_PROTOCOL.Map`), so this crate never touches their bytes.
//!
//! # Quiesce at ExitBootServices
//!
//! [`BlkDevice::quiesce`] (or, without borrowing the driver, [`crate::pci::StatusRegister::reset`]) writes 0 to
//! `device_status` and waits, bounded, for 0 to read back. Nothing else is touched and nothing is allocated; from
//! then on the device accesses neither the queue nor any buffer (§2.1.2), so the DMA layer may release them.

pub mod config;
pub mod device;
pub mod request;

pub use config::{BlkConfig, Media, Topology, DRIVER_FEATURES};
pub use device::{queue_memory_len, BlkDevice, DeviceState, DEFAULT_TIMEOUT_US};
pub use request::{Limits, RequestType, REQUEST_AREA_LEN};
