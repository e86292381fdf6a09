//! Cross-checks against dosfstools and mtools when they are installed (skipped otherwise): images written by this
//! crate must pass `fsck.fat -n`, and images made by `mkfs.fat` + `mcopy` must read back.
mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use storage::fat::FatFs;

const FSCK: &str = "/usr/sbin/fsck.fat";
const MKFS: &str = "/usr/sbin/mkfs.fat";

fn tool(path: &str) -> bool {
    let ok = Path::new(path).exists();
    if !ok {
        eprintln!("skipping: {path} not installed");
    }
    ok
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("vmfw-storage-{}-{name}.img", std::process::id()))
}

fn fsck_clean(img: &[u8], name: &str) {
    let p = temp(name);
    std::fs::write(&p, img).unwrap();
    let out = Command::new(FSCK).arg("-n").arg(&p).output().unwrap();
    std::fs::remove_file(&p).ok();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "fsck.fat on {name}: {text}");
}

#[test]
fn images_written_here_pass_fsck() {
    if !tool(FSCK) {
        return;
    }
    for kind in [Kind::Fat12, Kind::Fat16, Kind::Fat32] {
        let mut fs = FatFs::mount(disk(small(kind))).unwrap();
        fs.create_dir("\\EFI").unwrap();
        fs.create_dir("\\EFI\\BOOT").unwrap();
        let mut f = fs.create_file("\\EFI\\BOOT\\BOOTX64.EFI").unwrap();
        fs.write_at(&mut f, 0, &[0x4D; 9000]).unwrap();
        fs.create_dir("\\EFI\\a directory with a long name")
            .unwrap();
        for i in 0..40 {
            let mut g = fs
                .create_file(&format!(
                    "\\EFI\\a directory with a long name\\file {i} of many.txt"
                ))
                .unwrap();
            fs.write_at(&mut g, (i * 100) as u64, b"data").unwrap();
        }
        for i in (0..40).step_by(3) {
            fs.delete(&format!(
                "\\EFI\\a directory with a long name\\file {i} of many.txt"
            ))
            .unwrap();
        }
        let mut t = fs.create_file("\\trunc.bin").unwrap();
        fs.write_at(&mut t, 0, &[7; 5000]).unwrap();
        fs.set_len(&mut t, 1000).unwrap();
        fsck_clean(&fs.into_inner().into_vec(), &format!("{kind:?}"));
    }
}

#[test]
fn images_made_by_mkfs_and_mtools_read_back() {
    if !tool(MKFS) || !tool("/usr/bin/mcopy") || !tool("/usr/bin/mmd") {
        return;
    }
    for (bits, kib) in [("12", "2048"), ("16", "16384"), ("32", "40960")] {
        let p = temp(&format!("mkfs{bits}"));
        std::fs::remove_file(&p).ok();
        let st = Command::new(MKFS)
            .args(["-C", "-F", bits, "-S", "512", "-s", "1"])
            .arg(&p)
            .arg(kib)
            .output()
            .unwrap();
        assert!(st.status.success(), "{st:?}");
        let src = temp(&format!("src{bits}"));
        let payload: Vec<u8> = (0..20000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&src, &payload).unwrap();
        let img_arg = p.to_str().unwrap();
        for dir in ["::/EFI", "::/EFI/BOOT", "::/EFI/Long Directory Name"] {
            assert!(Command::new("mmd")
                .args(["-i", img_arg, dir])
                .status()
                .unwrap()
                .success());
        }
        for dst in [
            "::/EFI/BOOT/BOOTX64.EFI",
            "::/EFI/Long Directory Name/kernel image with long name.bin",
        ] {
            let st = Command::new("mcopy")
                .args(["-i", img_arg])
                .arg(&src)
                .arg(dst)
                .status()
                .unwrap();
            assert!(st.success());
        }
        let img = std::fs::read(&p).unwrap();
        std::fs::remove_file(&p).ok();
        std::fs::remove_file(&src).ok();
        let mut fs = FatFs::mount(disk(img)).unwrap();
        assert_eq!(
            fs.read_to_vec("\\efi\\boot\\bootx64.efi").unwrap(),
            payload,
            "FAT{bits}"
        );
        assert_eq!(
            fs.read_to_vec("/EFI/long directory name/KERNEL IMAGE WITH LONG NAME.BIN")
                .unwrap(),
            payload
        );
        let dir = fs.open("\\EFI\\Long Directory Name").unwrap();
        let names: Vec<String> = fs
            .read_dir(&dir)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert!(
            names.contains(&"kernel image with long name.bin".to_string()),
            "{names:?}"
        );
        // Our writes on their image stay fsck-clean.
        let mut f = fs.create_file("\\EFI\\written by vmfw.txt").unwrap();
        fs.write_at(&mut f, 0, b"hello").unwrap();
        fs.delete("\\EFI\\BOOT\\BOOTX64.EFI").unwrap();
        if Path::new(FSCK).exists() {
            fsck_clean(&fs.into_inner().into_vec(), &format!("mkfs{bits}-after"));
        }
    }
}
