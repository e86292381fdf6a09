//! Tests of the operations table, the dispatcher and both back ends, with in-process fakes.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::boxed::Box;
use std::sync::Arc;
use std::vec;
use std::vec::Vec;

use r_efi::efi::{
    CapsuleHeader, Guid, ResetType, Status, Time, TimeCapabilities, RESET_SHUTDOWN,
    UNSPECIFIED_TIMEZONE, VARIABLE_BOOTSERVICE_ACCESS as BS, VARIABLE_NON_VOLATILE as NV,
    VARIABLE_RUNTIME_ACCESS as RT,
};

use super::*;
use crate::error::{DeviceFault, InvalidParameter};
use crate::time::TimeError;
use crate::variables::{
    StorageInfo, VariableInfo, VariableName, VariableStore, RECOMMENDED_STORE_SIZE,
};

const VENDOR: Guid = Guid::from_fields(1, 2, 3, 4, 5, &[6, 7, 8, 9, 10, 11]);

fn ucs2(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(core::iter::once(0)).collect()
}

fn time(year: u16, month: u8) -> Time {
    Time {
        year,
        month,
        day: 1,
        timezone: UNSPECIFIED_TIMEZONE,
        ..Time::default()
    }
}

struct FakeClock {
    now: Time,
}

impl Clock for FakeClock {
    fn get_time(&mut self) -> crate::Result<(Time, TimeCapabilities)> {
        Ok((
            self.now,
            TimeCapabilities {
                resolution: 1,
                accuracy: 50_000_000,
                sets_to_zero: false.into(),
            },
        ))
    }
    fn set_time(&mut self, time: &Time) -> crate::Result<()> {
        self.now = *time;
        Ok(())
    }
}

#[derive(Default)]
struct FakeReset {
    last: Arc<AtomicU32>,
}

impl Reset for FakeReset {
    fn reset(&self, reset_type: ResetType) {
        self.last.store(reset_type + 1, Ordering::SeqCst);
    }
}

/// A host owning its own store; counts the requests it serves.
struct FakeHost {
    store: VariableStore<Vec<u8>>,
    calls: Arc<AtomicUsize>,
}

impl VariableHost for FakeHost {
    fn get_variable(
        &mut self,
        p: Phase,
        n: &VariableName<'_>,
        v: &Guid,
        d: &mut [u8],
    ) -> crate::Result<VariableInfo> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.store.get_variable(p, n, v, d)
    }
    fn get_next_variable_name(
        &mut self,
        p: Phase,
        n: &mut [u16],
        v: &mut Guid,
    ) -> crate::Result<usize> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.store.get_next_variable_name(p, n, v)
    }
    fn set_variable(
        &mut self,
        p: Phase,
        n: &VariableName<'_>,
        v: &Guid,
        a: u32,
        d: &[u8],
    ) -> crate::Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.store.set_variable(p, n, v, a, d)
    }
    fn query_variable_info(&mut self, p: Phase, a: u32) -> crate::Result<StorageInfo> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.store.query_variable_info(p, a)
    }
}

type TestNative = Native<Vec<u8>, FakeClock, FakeReset>;
type TestHypervisor = Hypervisor<FakeHost, FakeClock, FakeReset>;

/// A store holding "Who" = `who` (NV|BS|RT) and "BootOnly" (BS).
fn store_saying(who: &[u8], size: usize) -> VariableStore<Vec<u8>> {
    let mut s = VariableStore::format(vec![0u8; size]).unwrap();
    let who_name = ucs2("Who");
    let boot_name = ucs2("BootOnly");
    let boot = Phase::BootServices;
    s.set_variable(
        boot,
        &VariableName::new(&who_name).unwrap(),
        &VENDOR,
        NV | BS | RT,
        who,
    )
    .unwrap();
    s.set_variable(
        boot,
        &VariableName::new(&boot_name).unwrap(),
        &VENDOR,
        BS,
        b"b",
    )
    .unwrap();
    s
}

fn platform(year: u16, high_count: u32) -> PlatformServices<FakeClock, FakeReset> {
    PlatformServices::new(
        FakeClock { now: time(year, 1) },
        FakeReset::default(),
        high_count,
    )
}

fn native() -> &'static TestNative {
    Box::leak(Box::new(Native::new(
        store_saying(b"native", RECOMMENDED_STORE_SIZE),
        platform(2001, 0),
    )))
}

fn hypervisor(calls: Arc<AtomicUsize>) -> &'static TestHypervisor {
    let host = FakeHost {
        store: store_saying(b"host", 4096),
        calls,
    };
    Box::leak(Box::new(Hypervisor::new(host, platform(2002, 1000))))
}

fn table(name: &'static str, backend: &'static dyn RuntimeBackend) -> &'static RuntimeOps {
    Box::leak(Box::new(RuntimeOps { name, backend }))
}

/// Reads "Who" through the dispatcher: which back end answered.
fn who(d: &Dispatcher) -> crate::Result<Vec<u8>> {
    let name = ucs2("Who");
    let mut buf = [0u8; 16];
    let info = d.get_variable(&VariableName::new(&name).unwrap(), &VENDOR, &mut buf)?;
    Ok(buf[..info.data_size].to_vec())
}

/// Calls every operation once; panics if any answers in a way neither real back end would.
fn call_every_operation(d: &Dispatcher) {
    let answer = who(d).unwrap();
    assert!(
        answer == b"native" || answer == b"host",
        "unexpected answer {answer:?}"
    );
    let year = d.get_time().unwrap().0.year;
    assert!(year >= 2001, "clock of a real back end, got {year}");
    d.set_time(&time(2001, 2)).unwrap();
    assert_eq!(d.get_wakeup_time().err(), Some(RuntimeError::Unsupported));
    assert_eq!(
        d.set_wakeup_time(false, None),
        Err(RuntimeError::Unsupported)
    );
    let mut name = vec![0u16; 32];
    let mut vendor = Guid::from_bytes(&[0; 16]);
    assert!(d.get_next_variable_name(&mut name, &mut vendor).is_ok());
    let tmp = ucs2("Tmp");
    d.set_variable(&VariableName::new(&tmp).unwrap(), &VENDOR, BS, b"t")
        .unwrap();
    assert!(
        d.query_variable_info(BS)
            .unwrap()
            .maximum_variable_storage_size
            > 0
    );
    d.reset_system(RESET_SHUTDOWN, Status::SUCCESS, &[]);
    assert!(d.get_next_high_monotonic_count().is_ok());
    let header = CapsuleHeader {
        capsule_guid: VENDOR,
        header_size: 28,
        flags: 0,
        capsule_image_size: 28,
    };
    assert_eq!(
        d.update_capsule(&[&header], 0),
        Err(RuntimeError::Unsupported)
    );
    assert_eq!(
        d.query_capsule_capabilities(&[&header]).err(),
        Some(RuntimeError::Unsupported)
    );
}

#[test]
fn switching_backends_never_leaves_a_null_op() {
    let calls = Arc::new(AtomicUsize::new(0));
    let native_ops = table("native", native());
    let host_ops = table("hypervisor", hypervisor(calls.clone()));
    let d = Dispatcher::new(native_ops);

    // Alternate deterministically: every call is answered by the table current at that call.
    for round in 0..20 {
        let expected: &[u8] = if round % 2 == 0 { b"native" } else { b"host" };
        assert_eq!(who(&d), Ok(expected.to_vec()), "round {round}");
        call_every_operation(&d);
        d.switch_backend(if round % 2 == 0 { host_ops } else { native_ops });
    }
    assert!(
        calls.load(Ordering::SeqCst) >= 40,
        "the hypervisor table really served calls"
    );

    // Concurrently: a switcher thread flips tables while this thread calls every operation.
    let d: &'static Dispatcher = Box::leak(Box::new(Dispatcher::new(native_ops)));
    let stop = Arc::new(AtomicBool::new(false));
    let switcher = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut switches = 0usize;
            while !stop.load(Ordering::SeqCst) {
                d.switch_backend(if switches % 2 == 0 {
                    host_ops
                } else {
                    native_ops
                });
                switches += 1;
                std::thread::yield_now();
            }
            switches
        })
    };
    for _ in 0..300 {
        // A call may meet the other call's lock (Busy) only if two calls overlap on one back end; this thread is
        // the only caller, so every call must succeed.
        call_every_operation(d);
    }
    stop.store(true, Ordering::SeqCst);
    assert!(switcher.join().unwrap() > 0);
}

#[test]
fn dispatcher_starts_on_a_complete_unsupported_table() {
    let d = Dispatcher::new(&UNAVAILABLE_OPS);
    assert_eq!(who(&d), Err(RuntimeError::Unsupported));
    assert_eq!(d.get_time().err(), Some(RuntimeError::Unsupported));
    assert_eq!(
        d.get_next_high_monotonic_count(),
        Err(RuntimeError::Unsupported)
    );
}

#[test]
fn switch_returns_the_previous_table() {
    let native_ops = table("native", native());
    let d = Dispatcher::new(&UNAVAILABLE_OPS);
    assert!(core::ptr::eq(
        d.switch_backend(native_ops),
        &UNAVAILABLE_OPS
    ));
    assert!(core::ptr::eq(d.current(), native_ops));
    assert_eq!(who(&d), Ok(b"native".to_vec()));
}

#[test]
fn exit_boot_services_applies_to_a_backend_switched_in_later() {
    let d = Dispatcher::new(table("native", native()));
    d.exit_boot_services();
    d.switch_backend(table("hypervisor", hypervisor(Arc::default())));
    assert_eq!(d.phase(), Phase::Runtime);
    let name = ucs2("BootOnly");
    let r = d.get_variable(&VariableName::new(&name).unwrap(), &VENDOR, &mut [0u8; 8]);
    assert_eq!(r, Err(RuntimeError::NotFound));
    assert_eq!(who(&d), Ok(b"host".to_vec()));
}

#[test]
fn set_time_validates_before_touching_the_clock() {
    let n = native();
    assert_eq!(
        n.set_time(&time(2024, 13)),
        Err(InvalidParameter::Time(TimeError::Month).into())
    );
    assert_eq!(n.get_time().unwrap().0.year, 2001);
    n.set_time(&time(2024, 12)).unwrap();
    let now = n.get_time().unwrap().0;
    assert_eq!((now.year, now.month), (2024, 12));
}

#[test]
fn get_time_rejects_an_out_of_range_clock() {
    let p = PlatformServices::new(FakeClock { now: time(2024, 0) }, FakeReset::default(), 0);
    assert_eq!(
        p.get_time().err(),
        Some(RuntimeError::DeviceError(DeviceFault::Clock))
    );
}

#[test]
fn monotonic_count_increments_and_never_wraps() {
    let p = platform(2000, u32::MAX - 2);
    assert_eq!(p.get_next_high_monotonic_count(), Ok(u32::MAX - 1));
    assert_eq!(p.get_next_high_monotonic_count(), Ok(u32::MAX));
    let exhausted = Err(RuntimeError::DeviceError(
        DeviceFault::MonotonicCountExhausted,
    ));
    assert_eq!(p.get_next_high_monotonic_count(), exhausted);
    assert_eq!(p.get_next_high_monotonic_count(), exhausted);
}

#[test]
fn reset_system_reaches_the_platform() {
    let reset = FakeReset::default();
    let last = reset.last.clone();
    let p = PlatformServices::new(FakeClock { now: time(2000, 1) }, reset, 0);
    p.reset_system(RESET_SHUTDOWN, Status::SUCCESS, b"why");
    assert_eq!(last.load(Ordering::SeqCst), RESET_SHUTDOWN + 1);
}

#[test]
fn capsules_need_at_least_one_and_are_unsupported() {
    let p = platform(2000, 0);
    assert_eq!(
        p.update_capsule(&[], 0),
        Err(InvalidParameter::NoCapsules.into())
    );
    assert_eq!(
        p.query_capsule_capabilities(&[]).err(),
        Some(InvalidParameter::NoCapsules.into())
    );
}

#[test]
fn wakeup_needs_a_time_to_enable_and_is_unsupported() {
    let p = platform(2000, 0);
    assert_eq!(
        p.set_wakeup_time(true, None),
        Err(InvalidParameter::NullPointer.into())
    );
    assert_eq!(
        p.set_wakeup_time(true, Some(&time(2000, 1))),
        Err(RuntimeError::Unsupported)
    );
}

#[test]
fn a_call_meeting_a_held_store_is_busy_and_changes_nothing() {
    let n = native();
    let name = ucs2("Who");
    let inner = n.with_store(|_| {
        Ok(n.set_variable(
            Phase::BootServices,
            &VariableName::new(&name).unwrap(),
            &VENDOR,
            NV | BS | RT,
            b"x",
        ))
    });
    assert_eq!(inner, Ok(Err(RuntimeError::DeviceError(DeviceFault::Busy))));
    let store = VariableStore::format(vec![0u8; RECOMMENDED_STORE_SIZE]).unwrap();
    let attach = n.with_store(|_| Ok(n.attach_store(store)));
    assert_eq!(
        attach,
        Ok(Err(RuntimeError::DeviceError(DeviceFault::Busy)))
    );
    let d = Dispatcher::new(table("native", n));
    assert_eq!(who(&d), Ok(b"native".to_vec()));
}

#[test]
fn a_store_attached_later_serves_variables_and_none_is_an_error() {
    let n: &'static TestNative = Box::leak(Box::new(Native::without_store(platform(2024, 0))));
    let d = Dispatcher::new(table("native", n));
    assert_eq!(
        who(&d),
        Err(RuntimeError::DeviceError(DeviceFault::NoStore))
    );
    assert_eq!(
        d.query_variable_info(BS),
        Err(RuntimeError::DeviceError(DeviceFault::NoStore))
    );
    assert!(
        d.get_time().is_ok(),
        "the platform services work without a store"
    );
    n.attach_store(store_saying(b"late", RECOMMENDED_STORE_SIZE))
        .unwrap();
    assert_eq!(who(&d), Ok(b"late".to_vec()));
    let attributes = n.with_store(|s| s.query_variable_info(Phase::BootServices, BS));
    assert!(attributes.is_ok());
}

#[test]
fn hypervisor_forwards_every_variable_call_to_the_host() {
    let calls = Arc::new(AtomicUsize::new(0));
    let d = Dispatcher::new(table("hypervisor", hypervisor(calls.clone())));
    let name = ucs2("New");
    d.set_variable(&VariableName::new(&name).unwrap(), &VENDOR, NV | BS, b"n")
        .unwrap();
    assert_eq!(who(&d), Ok(b"host".to_vec()));
    d.query_variable_info(BS).unwrap();
    d.get_next_variable_name(&mut [0u16; 16], &mut Guid::from_bytes(&[0; 16]))
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    assert_eq!(d.get_next_high_monotonic_count(), Ok(1001));
}
