//! QEMU platform interfaces (being written).
#![no_std]
extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod fw_cfg;
