//! Choosing a virtio PCI function's interface, and reaching its `device_status` register on its own.
//!
//! [`PciTransport::probe`] applies the rule of virtio 1.2 §4.1.2 and §4.1.4.8 from the driver's side: a function
//! that carries the vendor-specific capabilities of the modern interface (common and notify structures, §4.1.4) is
//! driven through them; otherwise a *transitional* function (device id 0x1000–0x103f, §4.1.2.1) whose BAR 0 is an
//! I/O BAR is driven through the legacy header (§4.1.4.8); anything else is refused with the capability error.
//! A transitional function that offers both interfaces gets the modern one.
//!
//! [`StatusRegister`] is the location of `device_status` (modern: common configuration + 0x14; legacy: BAR 0 +
//! 0x12). A driver copies it out of its transport when it starts a device, so its ExitBootServices quiesce can
//! reset the device with one register write (and bounded reads of the same register) without borrowing the
//! transport or anything else of the driver's state.

use super::caps::parse_capabilities;
use super::{LegacyTransport, ModernTransport, PciAccess};
use crate::status::{wait_for_reset, DeviceStatus};
use crate::transport::{QueueAddresses, Transport, TransportKind};
use crate::Error;

/// Configuration-space offset of the Device ID.
const DEVICE_ID: u16 = 0x02;
/// Configuration-space offset of BAR 0.
const BAR0: u16 = 0x10;
/// Bit 0 of a BAR register: the BAR is in I/O space.
const BAR_IO_SPACE: u32 = 1;
/// Device ids of transitional virtio functions (§4.1.2.1, e.g. 0x1001 for a block device).
pub const TRANSITIONAL_DEVICE_IDS: core::ops::RangeInclusive<u16> = 0x1000..=0x103f;

/// The location of a PCI transport's `device_status` register: one byte at `offset` of BAR `bar`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusRegister {
    /// BAR index, 0–5.
    pub bar: u8,
    /// Byte offset of `device_status` within the BAR.
    pub offset: u64,
}

impl StatusRegister {
    /// Resets the device through `access`: writes 0 to `device_status`, then reads it until it is 0, at most
    /// `max_polls` times (§2.1.2, §4.1.4.3.2). Touches no other register and allocates nothing: this is a quiesce
    /// usable at ExitBootServices.
    ///
    /// Errors: [`Error::ResetTimeout`].
    pub fn reset<A: PciAccess + ?Sized>(
        &self,
        access: &mut A,
        max_polls: u32,
    ) -> Result<(), Error> {
        access.bar_write8(self.bar, self.offset, 0);
        wait_for_reset(|| access.bar_read8(self.bar, self.offset), max_polls)
    }
}

/// A virtio PCI function driven through the interface [`PciTransport::probe`] chose.
pub enum PciTransport<A: PciAccess> {
    /// The virtio 1.x interface.
    Modern(ModernTransport<A>),
    /// The legacy interface of a transitional function.
    Legacy(LegacyTransport<A>),
}

impl<A: PciAccess> PciTransport<A> {
    /// Chooses the interface (rule in the module notes). `bar_sizes[i]` is BAR i's size in bytes (0 when not
    /// implemented). Reads only configuration space; the caller enables decoding of the chosen interface's BARs
    /// (memory for modern, I/O for legacy; see [`PciTransport::kind`]) before using the transport.
    ///
    /// Errors: the capability error of [`parse_capabilities`] when the function is not transitional or its BAR 0
    /// is not an I/O BAR; [`Error::LegacyBarTooSmall`] / [`Error::CapabilityListMalformed`] from
    /// [`LegacyTransport::new`].
    pub fn probe(mut access: A, bar_sizes: [u64; 6]) -> Result<Self, Error> {
        let modern = parse_capabilities(&mut access, &bar_sizes);
        let device_id = access.config_read16(DEVICE_ID);
        let bar0_io = access.config_read32(BAR0) & BAR_IO_SPACE != 0;
        match modern {
            Ok(_) => ModernTransport::new(access, bar_sizes).map(Self::Modern),
            Err(error) if TRANSITIONAL_DEVICE_IDS.contains(&device_id) && bar0_io => {
                log::debug!(
                    "device {device_id:#06x}: no modern interface ({error:?}), using legacy"
                );
                LegacyTransport::new(access, bar_sizes[0]).map(Self::Legacy)
            }
            Err(error) => Err(error),
        }
    }

    /// Where this transport's `device_status` register is.
    pub fn status_register(&self) -> StatusRegister {
        match self {
            Self::Modern(t) => t.status_register(),
            Self::Legacy(t) => t.status_register(),
        }
    }
}

/// Forwards one `Transport` method to the chosen interface.
macro_rules! forward {
    ($self:ident, $t:ident => $call:expr) => {
        match $self {
            PciTransport::Modern($t) => $call,
            PciTransport::Legacy($t) => $call,
        }
    };
}

impl<A: PciAccess> Transport for PciTransport<A> {
    fn kind(&self) -> TransportKind {
        forward!(self, t => t.kind())
    }
    fn read_device_features(&mut self) -> u64 {
        forward!(self, t => t.read_device_features())
    }
    fn write_driver_features(&mut self, features: u64) {
        forward!(self, t => t.write_driver_features(features))
    }
    fn status(&mut self) -> DeviceStatus {
        forward!(self, t => t.status())
    }
    fn set_status(&mut self, status: DeviceStatus) {
        forward!(self, t => t.set_status(status))
    }
    fn max_queue_size(&mut self, queue: u16) -> u16 {
        forward!(self, t => t.max_queue_size(queue))
    }
    fn set_queue(&mut self, queue: u16, size: u16, addresses: QueueAddresses) -> Result<(), Error> {
        forward!(self, t => t.set_queue(queue, size, addresses))
    }
    fn enable_queue(&mut self, queue: u16) -> Result<(), Error> {
        forward!(self, t => t.enable_queue(queue))
    }
    fn notify(&mut self, queue: u16) -> Result<(), Error> {
        forward!(self, t => t.notify(queue))
    }
    fn config_read8(&mut self, offset: u32) -> Result<u8, Error> {
        forward!(self, t => t.config_read8(offset))
    }
    fn config_read16(&mut self, offset: u32) -> Result<u16, Error> {
        forward!(self, t => t.config_read16(offset))
    }
    fn config_read32(&mut self, offset: u32) -> Result<u32, Error> {
        forward!(self, t => t.config_read32(offset))
    }
    fn config_generation(&mut self) -> u32 {
        forward!(self, t => t.config_generation())
    }
}
