//! QEMU integration tests: boot the real firmware image under TCG and check what it reports.
//!
//! Each test is a plain function returning `Err(reason)` on failure. The runner prints one line per test and
//! closes with `N passed, N failed`. Time-outs are generous and only there to fail a hang.

pub mod bad_disks;
mod blk;
mod bringup;
mod console;
mod fs;
mod inventory;
pub mod linux;

use std::path::{Path, PathBuf};
use std::time::Instant;

/// What every test gets: the firmware image and a scratch directory.
pub struct Ctx {
    /// `target/vmfw.fd`.
    pub image: PathBuf,
    /// A per-run scratch directory under `target/itest`.
    pub scratch: PathBuf,
}

pub type TestFn = fn(&Ctx) -> Result<(), String>;

fn tests() -> Vec<(&'static str, TestFn)> {
    let mut tests = bringup::TESTS.to_vec();
    tests.extend_from_slice(crate::uefi_app::TESTS);
    tests.extend_from_slice(blk::TESTS);
    tests.extend_from_slice(linux::TESTS);
    tests.extend_from_slice(console::TESTS);
    tests.extend_from_slice(crate::audit::TESTS);
    tests.extend_from_slice(fs::TESTS);
    tests.extend_from_slice(crate::bench::TESTS);
    tests
}

/// The devices `cargo xtask demo` attaches: the virtio-blk disk whose EFI system partition holds Debian's kernel
/// as a unified kernel image (`\EFI\BOOT\BOOTX64.EFI`), which the boot manager boots to the initramfs.
pub fn demo_devices() -> Result<Vec<String>, String> {
    linux::boot_args(linux::BootPath::Uki)
}

/// Runs every integration test whose name contains `filter`.
pub fn run_all(image: &Path, filter: Option<&str>) -> Result<(), String> {
    let scratch = crate::target_dir().join("itest");
    std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    let ctx = Ctx {
        image: image.to_path_buf(),
        scratch,
    };
    let (mut passed, mut failed) = (0, 0);
    for (name, test) in tests() {
        if filter.is_some_and(|f| !name.contains(f)) {
            continue;
        }
        let started = Instant::now();
        match test(&ctx) {
            Ok(()) => {
                passed += 1;
                println!(
                    "test {name} ... ok ({:.1} s)",
                    started.elapsed().as_secs_f64()
                );
            }
            Err(reason) => {
                failed += 1;
                println!(
                    "test {name} ... FAILED ({:.1} s)\n{reason}\n",
                    started.elapsed().as_secs_f64()
                );
            }
        }
    }
    println!("qemu: {passed} passed, {failed} failed");
    if failed == 0 {
        Ok(())
    } else {
        Err(format!("{failed} integration test(s) failed"))
    }
}
