//! The fixed device set of an audit run and its inputs: the ESP disk holding the app as
//! `\EFI\BOOT\BOOTX64.EFI` on virtio-blk, virtio-net and e1000 on UDP datagram netdevs the runner feeds,
//! virtio-scsi with a disk (behind a PCIe root port on q35, a PCI-PCI bridge on pc, so functions beyond bus 0 are
//! audited too), virtio-rng, NVMe with a disk and qemu-xhci.

use std::net::UdpSocket;
use std::path::Path;
use std::process::Command;

use crate::disk::{self, Entry};
use crate::qemu::Machine;

/// MAC address of the virtio-net NIC.
pub const VIRTIO_NET_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0xa0, 0x00, 0x01];
/// MAC address of the e1000 NIC.
pub const E1000_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0xa0, 0x00, 0x02];

/// One NIC's datagram link: QEMU listens on `qemu_port` and sends the guest's frames to the runner's socket.
pub struct Link {
    /// The NIC's name in the table ("virtio-net", "e1000").
    pub name: &'static str,
    /// Its MAC address.
    pub mac: [u8; 6],
    /// Where QEMU receives frames for the guest (127.0.0.1).
    pub qemu_port: u16,
    /// The runner's socket: QEMU's remote end; the runner sends from it.
    pub socket: UdpSocket,
}

/// A free UDP port on 127.0.0.1 (bound and released; QEMU binds it right after).
fn free_port() -> Result<u16, String> {
    let s = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("UDP bind: {e}"))?;
    Ok(s.local_addr().map_err(|e| e.to_string())?.port())
}

impl Link {
    fn new(name: &'static str, mac: [u8; 6]) -> Result<Link, String> {
        let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("UDP bind: {e}"))?;
        Ok(Link {
            name,
            mac,
            qemu_port: free_port()?,
            socket,
        })
    }

    fn runner_port(&self) -> u16 {
        self.socket.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// The `-netdev` value: `dgram` on QEMU ≥ 7.2, the older `socket,udp=` form otherwise.
    pub fn netdev(&self, id: &str, has_dgram: bool) -> String {
        if has_dgram {
            format!(
                "dgram,id={id},local.type=inet,local.host=127.0.0.1,local.port={},\
                 remote.type=inet,remote.host=127.0.0.1,remote.port={}",
                self.qemu_port,
                self.runner_port()
            )
        } else {
            format!(
                "socket,id={id},udp=127.0.0.1:{},localaddr=127.0.0.1:{}",
                self.runner_port(),
                self.qemu_port
            )
        }
    }
}

/// Whether this QEMU has the `dgram` netdev (QEMU 7.2 and later).
pub fn qemu_has_dgram() -> bool {
    Command::new("qemu-system-x86_64")
        .args(["-netdev", "help"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == "dgram")
        })
        .unwrap_or(false)
}

fn mac_string(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Sparse raw disk of `mib` MiB.
fn blank_disk(path: &Path, mib: u64) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    file.set_len(mib << 20)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The QEMU arguments of the fixed device set, with its disks made under `dir` (the ESP holding `app`), and
/// the two NIC links.
pub fn device_set(
    machine: Machine,
    dir: &Path,
    app: &Path,
) -> Result<(Vec<String>, Vec<Link>), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let esp = dir.join("esp.img");
    disk::esp_disk(
        &esp,
        "handoff-audit",
        &[Entry::file("EFI/BOOT/BOOTX64.EFI", app)],
    )?;
    let scsi = dir.join("scsi.img");
    let nvme = dir.join("nvme.img");
    blank_disk(&scsi, 16)?;
    blank_disk(&nvme, 16)?;
    let links = vec![
        Link::new("virtio-net", VIRTIO_NET_MAC)?,
        Link::new("e1000", E1000_MAC)?,
    ];
    let dgram = qemu_has_dgram();
    let (bridge, scsi_dev) = match machine {
        Machine::Q35 => (
            "pcie-root-port,id=br1,chassis=1,slot=1",
            "virtio-scsi-pci,id=scsi0,bus=br1",
        ),
        Machine::Pc => (
            "pci-bridge,id=br1,chassis_nr=1",
            "virtio-scsi-pci,id=scsi0,bus=br1,addr=0x1",
        ),
    };
    let args = vec![
        "-drive".into(),
        format!("if=none,id=esp,format=raw,file={}", esp.display()),
        "-device".into(),
        "virtio-blk-pci,drive=esp,bootindex=1".into(),
        "-netdev".into(),
        links[0].netdev("n0", dgram),
        "-device".into(),
        format!("virtio-net-pci,netdev=n0,mac={}", mac_string(links[0].mac)),
        "-netdev".into(),
        links[1].netdev("n1", dgram),
        "-device".into(),
        format!("e1000,netdev=n1,mac={}", mac_string(links[1].mac)),
        "-device".into(),
        bridge.into(),
        "-device".into(),
        scsi_dev.into(),
        "-drive".into(),
        format!("if=none,id=scsidisk,format=raw,file={}", scsi.display()),
        "-device".into(),
        "scsi-hd,bus=scsi0.0,drive=scsidisk".into(),
        "-device".into(),
        "virtio-rng-pci".into(),
        "-drive".into(),
        format!("if=none,id=nvmedisk,format=raw,file={}", nvme.display()),
        "-device".into(),
        "nvme,drive=nvmedisk,serial=vmfw-audit".into(),
        "-device".into(),
        "qemu-xhci".into(),
    ];
    Ok((args, links))
}

/// Ethernet frames for one NIC: broadcast and unicast to `mac`, minimum-size and full-size, with the local
/// experimental EtherType 0x88B5 and a payload naming the frame.
pub fn frames(mac: [u8; 6]) -> Vec<Vec<u8>> {
    const SOURCE: [u8; 6] = [0x52, 0x54, 0x00, 0xff, 0x00, 0x01];
    let mut out = Vec::new();
    for i in 0..16u32 {
        let destination = if i % 2 == 0 { [0xff; 6] } else { mac };
        let size = if i % 4 < 2 { 60 } else { 1514 };
        let mut f = Vec::with_capacity(size);
        f.extend_from_slice(&destination);
        f.extend_from_slice(&SOURCE);
        f.extend_from_slice(&[0x88, 0xb5]);
        f.extend_from_slice(format!("vmfw handoff-audit canary traffic {i}").as_bytes());
        f.resize(size, 0xa5);
        out.push(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_ethernet_sized_and_addressed() {
        let f = frames(E1000_MAC);
        assert_eq!(f.len(), 16);
        assert_eq!(&f[0][..6], &[0xff; 6]);
        assert_eq!(&f[1][..6], &E1000_MAC);
        assert_eq!(f[0].len(), 60);
        assert_eq!(f[2].len(), 1514);
        assert_eq!(&f[3][12..14], &[0x88, 0xb5]);
    }

    #[test]
    fn netdev_forms() {
        let link = Link::new("virtio-net", VIRTIO_NET_MAC).unwrap();
        let runner = link.runner_port();
        let dgram = link.netdev("n0", true);
        assert!(dgram.starts_with("dgram,id=n0,local.type=inet,local.host=127.0.0.1,"));
        assert!(dgram.ends_with(&format!("remote.port={runner}")));
        assert_eq!(
            link.netdev("n0", false),
            format!(
                "socket,id=n0,udp=127.0.0.1:{runner},localaddr=127.0.0.1:{}",
                link.qemu_port
            )
        );
        assert_eq!(mac_string(E1000_MAC), "52:54:00:a0:00:02");
    }
}
