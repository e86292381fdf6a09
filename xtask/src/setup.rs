//! Setting up a fresh Debian machine: the rustup targets and Debian packages the build and tests need.
//!
//! As root, missing pieces are installed (`rustup target add`, `apt-get install`); otherwise the command stops
//! with the exact command to run.

use std::process::Command;

/// Rust targets the build needs (also listed in rust-toolchain.toml).
pub const TARGETS: [&str; 2] = ["x86_64-unknown-none", "x86_64-unknown-uefi"];

/// A program the project runs, and the Debian package that provides it.
pub struct Tool {
    /// Program looked up on PATH, or an absolute file.
    pub program: &'static str,
    /// Debian package to install when it is missing.
    pub package: &'static str,
}

/// What building and running the firmware needs.
pub const RUN_TOOLS: &[Tool] = &[Tool {
    program: "qemu-system-x86_64",
    package: "qemu-system-x86",
}];

/// What the tests need besides [`RUN_TOOLS`]: OVMF for side-by-side runs, mtools/dosfstools for disk images.
pub const TEST_TOOLS: &[Tool] = &[
    Tool {
        program: "/usr/share/OVMF/OVMF_CODE_4M.fd",
        package: "ovmf",
    },
    Tool {
        program: "mcopy",
        package: "mtools",
    },
    Tool {
        program: "mkfs.fat",
        package: "dosfstools",
    },
    Tool {
        program: "objcopy",
        package: "binutils",
    },
];

fn present(program: &str) -> bool {
    if program.starts_with('/') {
        return std::path::Path::new(program).exists();
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
        || ["/usr/sbin", "/sbin"]
            .iter()
            .any(|dir| std::path::Path::new(dir).join(program).is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn run(program: &str, args: &[&str]) -> Result<(), String> {
    eprintln!("$ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed ({status})", args.join(" ")))
    }
}

/// Adds missing rustup targets.
pub fn ensure_targets() -> Result<(), String> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    let installed = match installed {
        Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
        // Without rustup (a distribution toolchain) the build itself reports a missing target.
        Err(_) => return Ok(()),
    };
    let missing: Vec<&str> = TARGETS
        .iter()
        .copied()
        .filter(|t| !installed.lines().any(|l| l.trim() == *t))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut args = vec!["target", "add"];
    args.extend(&missing);
    run("rustup", &args)
}

/// Installs the Debian packages behind missing tools (as root), or explains what to run.
pub fn ensure_tools(tools: &[&Tool]) -> Result<(), String> {
    let mut packages: Vec<&str> = tools
        .iter()
        .filter(|t| !present(t.program))
        .map(|t| t.package)
        .collect();
    packages.dedup();
    if packages.is_empty() {
        return Ok(());
    }
    let command = format!(
        "apt-get update && apt-get install -y {}",
        packages.join(" ")
    );
    if !is_root() {
        return Err(format!(
            "missing Debian packages; run as root:\n    sudo sh -c '{command}'"
        ));
    }
    run("apt-get", &["update", "-q"])?;
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend(&packages);
    run("apt-get", &args)
}

/// Everything `run` needs.
pub fn for_run() -> Result<(), String> {
    ensure_targets()?;
    ensure_tools(&RUN_TOOLS.iter().collect::<Vec<_>>())
}

/// Everything `demo` and `test` need.
pub fn for_tests() -> Result<(), String> {
    ensure_targets()?;
    ensure_tools(&RUN_TOOLS.iter().chain(TEST_TOOLS).collect::<Vec<_>>())
}
