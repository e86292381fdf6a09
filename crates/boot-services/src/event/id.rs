//! Opaque, validated event handles.
//!
//! An [`EventId`] is what the firmware hands out as `EFI_EVENT`. It encodes a slot index of the event table and
//! the slot's generation, so a handle of a closed event (stale) or a value that never was a handle (forged) fails
//! validation with `EFI_INVALID_PARAMETER` instead of reaching another event's state. It is never dereferenced.

use r_efi::efi;

/// Bits of the raw handle holding `slot index + 1` (so a valid handle is never zero / NULL).
const SLOT_BITS: u32 = 16;
const SLOT_MASK: usize = (1 << SLOT_BITS) - 1;

/// Largest number of simultaneously open events (slot indices `0..MAX_EVENTS`).
pub(crate) const MAX_EVENTS: usize = SLOT_MASK;
/// Generations wrap within the bits left above the slot field.
pub(crate) const GENERATION_MASK: usize = usize::MAX >> SLOT_BITS;

/// An event handle: `(generation << 16) | (slot + 1)` as an opaque pointer-sized value.
///
/// Any `usize` (or `EFI_EVENT` pointer) converts into an `EventId`; whether it names a live event is decided only
/// by the engine's table lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct EventId(usize);

impl EventId {
    pub(crate) fn new(slot: usize, generation: usize) -> EventId {
        EventId(((generation & GENERATION_MASK) << SLOT_BITS) | (slot + 1))
    }

    /// The handle from its raw value (unvalidated).
    pub const fn from_raw(raw: usize) -> EventId {
        EventId(raw)
    }

    /// The raw pointer-sized value of this handle.
    pub const fn raw(self) -> usize {
        self.0
    }

    /// The handle an ABI caller passed as `EFI_EVENT` (unvalidated; only its address bits are used).
    pub fn from_event(event: efi::Event) -> EventId {
        EventId(event.addr())
    }

    /// This handle as the `EFI_EVENT` value given to callers and notification functions. It carries no
    /// provenance: it is a name, not memory.
    pub fn as_event(self) -> efi::Event {
        core::ptr::without_provenance_mut(self.0)
    }

    /// The table slot this handle names, or `None` for the NULL handle.
    pub(crate) fn slot(self) -> Option<usize> {
        (self.0 & SLOT_MASK).checked_sub(1)
    }

    /// The generation bits of this handle.
    pub(crate) fn generation(self) -> usize {
        self.0 >> SLOT_BITS
    }
}
