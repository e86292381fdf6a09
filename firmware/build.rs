//! Links the firmware with its flash/RAM layout (only for the bare-metal target).
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    println!("cargo:rerun-if-changed=layout.ld");
    if std::env::var("TARGET").as_deref() == Ok("x86_64-unknown-none") {
        println!("cargo:rustc-link-arg-bins=-T{dir}/layout.ld");
        println!("cargo:rustc-link-arg-bins=--no-pie");
        println!("cargo:rustc-link-arg-bins=-static");
        // Keep the relocations in the ELF: `cargo xtask build` lists the image's pointer slots from them so that
        // SetVirtualAddressMap can move the runtime image (docs/runtime.md).
        println!("cargo:rustc-link-arg-bins=--emit-relocs");
    }
    println!("cargo:rerun-if-env-changed=VMFW_LOG");
}
