//! Driver-side virtio 1.2 core for vmfw's firmware drivers (virtio-blk first): device status and initialisation,
//! the PCI transports and split virtqueues, all host-testable.
//!
//! # Modules and spec sections (virtio 1.2)
//!
//! - [`status`]: device status bits (§2.1), [`status::initialize`] (the §3.1.1 sequence) and [`status::reset`].
//! - [`features`]: feature bits and [`features::negotiate`] (§2.2, §6).
//! - [`transport`]: the [`Transport`] trait every transport implements (§4).
//! - [`pci`]: [`pci::ModernTransport`] (§4.1.4, capabilities §4.1.4.1–§4.1.4.6) and [`pci::LegacyTransport`]
//!   (§4.1.4.8) over the narrow [`pci::PciAccess`] trait.
//! - [`queue`]: the split virtqueue (§2.7) in caller-provided [`queue::QueueMemory`].
//! - [`blk`]: the block device driver core (§5.2): configuration, requests, [`blk::BlkDevice`].
//! - [`clock`]: the [`clock::Clock`] bounded waits use.
//! - [`mock`] (tests, or feature `mock`): a fake device that consumes a real queue.
//! - [`Error`]: the one error type.
//!
//! # Invariants
//!
//! - **Free list.** A queue's free descriptors form one list chained through `next` (a driver-private copy is the
//!   source of truth; the shared table is written, never read back). Every descriptor is either free or in
//!   exactly one in-flight chain.
//! - **In-flight heads.** Only heads the driver published and the device has not returned are accepted from the
//!   used ring; anything else is [`Error::UsedIdNotInFlight`], and a reported length above the chain's writable
//!   bytes is [`Error::UsedLenTooLarge`].
//! - **Ordering.** Publication: descriptors and ring entry, release fence, `avail.idx` (§2.7.13). Reclamation:
//!   `used.idx`, acquire fence, used entry (§2.7.14).
//! - **Failure.** Initialisation that fails after the reset leaves `FAILED` set and reports the precise cause.
//!
//! # Quiesce at ExitBootServices
//!
//! A driver's quiesce is [`status::reset`] (or [`pci::StatusRegister::reset`]) alone: write 0 to `device_status` and wait (bounded) for it to read
//! back 0. It allocates nothing and touches no other register; afterwards the device no longer accesses any queue
//! or buffer, so their memory can be handed to the OS.
#![no_std]
#![deny(missing_docs)]

extern crate alloc;

pub mod blk;
pub mod clock;
mod error;
pub mod features;
pub mod pci;
pub mod queue;
pub mod status;
pub mod transport;

#[cfg(any(test, doc, feature = "mock"))]
pub mod mock;

#[cfg(test)]
mod tests;

pub use error::Error;
pub use status::DeviceStatus;
pub use transport::{QueueAddresses, Transport, TransportKind};
