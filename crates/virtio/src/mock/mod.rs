//! Test support: a fake device that drives a real [`crate::queue::SplitQueue`] (enabled in this crate's tests and,
//! for other crates' tests, by the `mock` feature).
//!
//! - [`SharedMemory`]: queue memory shared between the driver's queue and the device, logging every driver write
//!   and fence in order, so tests can check publication ordering.
//! - [`MockDevice`]: implements [`crate::Transport`] (status history, reset delay, feature acceptance, queue
//!   registers, notifications, configuration bytes) and consumes queues like a device: `process` walks new
//!   available chains and writes used elements; `push_used` injects arbitrary used elements.
//! - [`MockBlk`]: a virtio-blk device (§5.2) over a [`MockDevice`]: it serves requests on notification against an
//!   in-memory disk, checks their shape against the spec and its own limits, and records them.
//!
//! Typical test: `let mem = SharedMemory::new(0x10000, len); let mut queue = SplitQueue::new(mem.clone(), ..)?;
//! initialize(&mut dev, features, |t, _| activate(t, 0, &queue))?; queue.add_chain(..)?; dev.process(0, &mem, |chain|
//! ..)?; queue.poll_used()?`.

mod blk;
mod device;
mod memory;

pub use blk::{encode_config, BlkBackend, BlkRequest, BlkViolation, MockBlk};
pub use device::{Descriptor, DeviceError, MockDevice, MockQueue};
pub use memory::{MemoryEvent, SharedMemory};
