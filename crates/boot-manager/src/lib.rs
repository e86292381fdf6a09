//! The logic of vmfw's UEFI boot manager (UEFI 2.10 chapter 3, "Boot Manager"), host-tested; the firmware's
//! `boot` module only reads and writes variables, finds devices and calls LoadImage/StartImage.
//!
//! Modules:
//! - [`device_path`]: parsing, building and printing device paths (section 10.3), the file name a path names on a
//!   file system (for LoadImage, section 7.4), and the expansion of short-form and device-only boot option paths
//!   (sections 3.1.2 and 3.5.1);
//! - [`load_option`]: the `EFI_LOAD_OPTION` codec of `Boot####` variables and its attributes (section 3.1.3);
//! - [`variables`]: names, attributes and encodings of `BootOrder`, `BootNext`, `BootCurrent`, `Timeout` and
//!   `BootOptionSupport` (section 3.3);
//! - [`refresh`]: boot options for the devices present, created, refreshed and deleted like edk2's platform boot
//!   managers do, and the `-kernel` option;
//! - [`qemu_order`]: `BootOrder` after QEMU's `bootorder` fw_cfg file (the `bootindex=` properties);
//! - [`sequence`]: the options tried on this boot, in order (`BootNext`, then `BootOrder`);
//! - [`status`]: `EFI_*` names of status codes for logs and reports.
//!
//! Every decoder takes untrusted bytes (variables written by operating systems, QEMU's files) and returns a typed
//! error or skips what it cannot use; nothing panics on input.
#![no_std]
#![deny(missing_docs)]

extern crate alloc;

pub mod device_path;
pub mod load_option;
pub mod qemu_order;
pub mod refresh;
pub mod sequence;
pub mod status;
pub mod variables;
