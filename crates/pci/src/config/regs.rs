//! Configuration-space register offsets and bit definitions.
//!
//! Names follow the PCI Local Bus Specification 3.0 §6.1–§6.2 (type-0 header, command and status registers) and the
//! PCI-to-PCI Bridge Architecture Specification 1.2 §3.2 (type-1 header). Offsets are byte offsets into a function's
//! configuration space; the comment on each gives the register width.

// --- Common header (types 0 and 1), PCI LB 3.0 §6.1 ---------------------------------------------------------------

/// Vendor ID (16 bits, RO). `0xFFFF` means "no function here" (master abort on a read).
pub const VENDOR_ID: u16 = 0x00;
/// Device ID (16 bits, RO).
pub const DEVICE_ID: u16 = 0x02;
/// Command register (16 bits, RW); bits in [`command`].
pub const COMMAND: u16 = 0x04;
/// Status register (16 bits; error bits are RW1C, see [`status::RW1C_MASK`]).
pub const STATUS: u16 = 0x06;
/// Revision ID (8 bits, RO).
pub const REVISION_ID: u16 = 0x08;
/// Class code, programming-interface byte (8 bits, RO).
pub const PROG_IF: u16 = 0x09;
/// Class code, sub-class byte (8 bits, RO).
pub const SUBCLASS: u16 = 0x0A;
/// Class code, base-class byte (8 bits, RO).
pub const CLASS_CODE: u16 = 0x0B;
/// Cache Line Size (8 bits, RW).
pub const CACHE_LINE_SIZE: u16 = 0x0C;
/// Latency Timer (8 bits).
pub const LATENCY_TIMER: u16 = 0x0D;
/// Header Type (8 bits, RO): bits 6:0 layout, bit 7 multi-function; see [`header_type`].
pub const HEADER_TYPE: u16 = 0x0E;
/// Built-in self test (8 bits).
pub const BIST: u16 = 0x0F;
/// Base Address Register 0 (32 bits). BAR *n* is at `BAR0 + 4 * n`.
pub const BAR0: u16 = 0x10;
/// Base Address Register 1 (32 bits).
pub const BAR1: u16 = 0x14;
/// Base Address Register 2 (32 bits, type-0 header only).
pub const BAR2: u16 = 0x18;
/// Base Address Register 3 (32 bits, type-0 header only).
pub const BAR3: u16 = 0x1C;
/// Base Address Register 4 (32 bits, type-0 header only).
pub const BAR4: u16 = 0x20;
/// Base Address Register 5 (32 bits, type-0 header only).
pub const BAR5: u16 = 0x24;
/// CardBus CIS Pointer (32 bits, type-0 header).
pub const CARDBUS_CIS: u16 = 0x28;
/// Subsystem Vendor ID (16 bits, type-0 header).
pub const SUBSYSTEM_VENDOR_ID: u16 = 0x2C;
/// Subsystem ID (16 bits, type-0 header).
pub const SUBSYSTEM_ID: u16 = 0x2E;
/// Expansion ROM Base Address (32 bits, type-0 header); bit 0 is the decode enable, see [`rom`].
pub const EXPANSION_ROM: u16 = 0x30;
/// Capabilities Pointer (8 bits, RO), valid when status bit 4 is set.
pub const CAPABILITIES_POINTER: u16 = 0x34;
/// Interrupt Line (8 bits, RW).
pub const INTERRUPT_LINE: u16 = 0x3C;
/// Interrupt Pin (8 bits, RO).
pub const INTERRUPT_PIN: u16 = 0x3D;
/// Min_Gnt (8 bits, RO, type-0 header).
pub const MIN_GNT: u16 = 0x3E;
/// Max_Lat (8 bits, RO, type-0 header).
pub const MAX_LAT: u16 = 0x3F;

// --- Type-1 header (PCI-to-PCI bridge), Bridge spec 1.2 §3.2 ----------------------------------------------------

/// Primary Bus Number (8 bits, RW): the bus the bridge's primary interface sits on.
pub const PRIMARY_BUS: u16 = 0x18;
/// Secondary Bus Number (8 bits, RW): the bus directly behind the bridge.
pub const SECONDARY_BUS: u16 = 0x19;
/// Subordinate Bus Number (8 bits, RW): the highest bus number behind the bridge.
pub const SUBORDINATE_BUS: u16 = 0x1A;
/// Secondary Latency Timer (8 bits).
pub const SECONDARY_LATENCY_TIMER: u16 = 0x1B;
/// I/O Base (8 bits): bits 7:4 = address bits 15:12; bits 3:0 RO capability (0 = 16-bit, 1 = 32-bit).
pub const IO_BASE: u16 = 0x1C;
/// I/O Limit (8 bits): bits 7:4 = limit address bits 15:12 (low 12 bits of the limit are implicitly 0xFFF).
pub const IO_LIMIT: u16 = 0x1D;
/// Secondary Status (16 bits; error bits RW1C, same mask as [`status::RW1C_MASK`]).
pub const SECONDARY_STATUS: u16 = 0x1E;
/// Memory Base (16 bits): bits 15:4 = address bits 31:20 (non-prefetchable, 32-bit only).
pub const MEMORY_BASE: u16 = 0x20;
/// Memory Limit (16 bits): bits 15:4 = limit address bits 31:20 (low 20 bits implicitly 0xF_FFFF).
pub const MEMORY_LIMIT: u16 = 0x22;
/// Prefetchable Memory Base (16 bits): bits 15:4 = address bits 31:20; bits 3:0 RO (0 = 32-bit, 1 = 64-bit).
pub const PREF_MEMORY_BASE: u16 = 0x24;
/// Prefetchable Memory Limit (16 bits): bits 15:4 = limit address bits 31:20.
pub const PREF_MEMORY_LIMIT: u16 = 0x26;
/// Prefetchable Base Upper 32 Bits (32 bits): address bits 63:32 when the window is 64-bit.
pub const PREF_BASE_UPPER32: u16 = 0x28;
/// Prefetchable Limit Upper 32 Bits (32 bits): limit bits 63:32 when the window is 64-bit.
pub const PREF_LIMIT_UPPER32: u16 = 0x2C;
/// I/O Base Upper 16 Bits (16 bits): address bits 31:16 when the I/O window is 32-bit.
pub const IO_BASE_UPPER16: u16 = 0x30;
/// I/O Limit Upper 16 Bits (16 bits).
pub const IO_LIMIT_UPPER16: u16 = 0x32;
/// Expansion ROM Base Address of a type-1 header (32 bits).
pub const BRIDGE_EXPANSION_ROM: u16 = 0x38;
/// Bridge Control (16 bits); bit 10 (Discard Timer Status) is RW1C.
pub const BRIDGE_CONTROL: u16 = 0x3E;

/// Command register bits (PCI LB 3.0 §6.2.2).
pub mod command {
    /// Bit 0: respond to I/O space accesses (and, for a bridge, forward its I/O window).
    pub const IO_SPACE: u16 = 1 << 0;
    /// Bit 1: respond to memory space accesses (and, for a bridge, forward its memory windows).
    pub const MEMORY_SPACE: u16 = 1 << 1;
    /// Bit 2: allow the function to master (DMA). vmfw's PCI code never sets it.
    pub const BUS_MASTER: u16 = 1 << 2;
    /// Bit 10: disable INTx assertion.
    pub const INTERRUPT_DISABLE: u16 = 1 << 10;
}

/// Status register bits (PCI LB 3.0 §6.2.3).
pub mod status {
    /// Bit 4: the function has a capabilities list at [`super::CAPABILITIES_POINTER`].
    pub const CAPABILITIES_LIST: u16 = 1 << 4;
    /// Write-1-to-clear bits: 8 (master data parity error), 11 (signaled target abort), 12 (received target abort),
    /// 13 (received master abort), 14 (signaled/received system error), 15 (detected parity error). The same bit
    /// positions are RW1C in the type-1 Secondary Status register.
    pub const RW1C_MASK: u16 = 0xF900;
}

/// Bridge Control bits (Bridge spec 1.2 §3.2.5.18).
pub mod bridge_control {
    /// Bit 10: Discard Timer Status, RW1C.
    pub const DISCARD_TIMER_STATUS: u16 = 1 << 10;
}

/// Header Type register fields (PCI LB 3.0 §6.2.1).
pub mod header_type {
    /// Bit 7: the device implements functions 1–7 (multi-function device).
    pub const MULTI_FUNCTION: u8 = 0x80;
    /// Bits 6:0: the header layout.
    pub const LAYOUT_MASK: u8 = 0x7F;
    /// Layout 0: general device.
    pub const ENDPOINT: u8 = 0x00;
    /// Layout 1: PCI-to-PCI bridge (also PCIe root ports and switch ports).
    pub const PCI_BRIDGE: u8 = 0x01;
    /// Layout 2: CardBus bridge.
    pub const CARDBUS_BRIDGE: u8 = 0x02;
}

/// Base Address Register fields (PCI LB 3.0 §6.2.5.1).
pub mod bar {
    /// Bit 0: 1 = I/O space BAR, 0 = memory space BAR.
    pub const IO_SPACE: u32 = 1 << 0;
    /// Memory BAR bits 2:1: the locatable type.
    pub const MEM_TYPE_MASK: u32 = 0b110;
    /// Memory type 00: anywhere in 32-bit space.
    pub const MEM_TYPE_32: u32 = 0b000;
    /// Memory type 01: below 1 MiB (legacy, PCI 2.x); treated as 32-bit.
    pub const MEM_TYPE_1M: u32 = 0b010;
    /// Memory type 10: anywhere in 64-bit space; the next BAR holds the upper 32 bits.
    pub const MEM_TYPE_64: u32 = 0b100;
    /// Memory BAR bit 3: prefetchable.
    pub const PREFETCHABLE: u32 = 1 << 3;
    /// Address bits of an I/O BAR.
    pub const IO_ADDRESS_MASK: u32 = !0x3;
    /// Address bits of a memory BAR.
    pub const MEM_ADDRESS_MASK: u32 = !0xF;
    /// Number of BARs in a type-0 header.
    pub const COUNT_TYPE0: u8 = 6;
    /// Number of BARs in a type-1 header.
    pub const COUNT_TYPE1: u8 = 2;
}

/// Expansion ROM BAR fields (PCI LB 3.0 §6.2.5.2).
pub mod rom {
    /// Bit 0: address decode enable.
    pub const ENABLE: u32 = 1 << 0;
}
