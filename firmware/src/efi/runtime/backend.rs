//! The firmware's one runtime back end: the crate's native back end over the volatile variable store, the CMOS RTC
//! and the port reset of QEMU's `pc` and `q35`.
//!
//! Both statics are built at compile time, so every pointer in them was written by the linker and moves with the
//! image at SetVirtualAddressMap (`runtime::relocation`). The only pointer stored at run time is the variable
//! region's, which SetVirtualAddressMap converts (`super::svam`).

use ::runtime::ops::{Native, PlatformServices, RuntimeOps};
use ::runtime::variables::RawRegion;
use ::runtime::x86::reset::PortReset;
use ::runtime::x86::rtc::CmosRtc;

use crate::arch::io::X86PortIo;
use crate::platform::chipset::PM_BASE;

/// PM1a control register: PM base + 4 on both PIIX4 (`pc`) and ICH9 (`q35`), as QEMU's FADT says.
const PM1A_CONTROL: u16 = PM_BASE + 4;
/// `\_S5` sleep type in QEMU's DSDT for `pc` and `q35`.
const S5_SLEEP_TYPE: u16 = 0;

/// The native back end.
pub type NativeBackend = Native<RawRegion, CmosRtc<X86PortIo>, PortReset<X86PortIo>>;

/// The native back end; its store is attached by [`super::init`]. The high monotonic count starts at 0 on every
/// boot: QEMU machines have no non-volatile counter for it yet.
pub static NATIVE: NativeBackend = Native::without_store(PlatformServices::new(
    CmosRtc::new(X86PortIo),
    PortReset::new(X86PortIo, PM1A_CONTROL, S5_SLEEP_TYPE),
    0,
));

/// The operations table of [`NATIVE`].
pub static NATIVE_OPS: RuntimeOps = RuntimeOps {
    name: "native (CMOS RTC, volatile variables)",
    backend: &NATIVE,
};
