//! The x86 PC platform pieces behind [`crate::ops::Clock`] and [`crate::ops::Reset`], over [`hw::PortIo`] so they
//! run on the host against fakes: the CMOS RTC ([`rtc`]) and the reset and ACPI sleep registers ([`reset`]).

pub mod reset;
pub mod rtc;
