//! The boot manager's global variables (UEFI 2.10 section 3.3, table 3-1; all under `EFI_GLOBAL_VARIABLE`):
//! names, attributes and value encodings.
//!
//! | variable | attributes | value |
//! |---|---|---|
//! | `Boot####` | NV, BS, RT | an `EFI_LOAD_OPTION` ([`crate::load_option`]) |
//! | `BootOrder` | NV, BS, RT | `UINT16[]`, option numbers, first tried first |
//! | `BootNext` | NV, BS, RT | `UINT16`, tried once before `BootOrder`, deleted by the boot manager |
//! | `BootCurrent` | BS, RT | `UINT16`, the option being booted |
//! | `Timeout` | NV, BS, RT | `UINT16` seconds before the default boot; `0xFFFF` waits for the user |
//! | `BootOptionSupport` | BS, RT | `UINT32`, `EFI_BOOT_OPTION_SUPPORT_*` bits |

use alloc::string::String;
use alloc::vec::Vec;

/// `EFI_VARIABLE_NON_VOLATILE | EFI_VARIABLE_BOOTSERVICE_ACCESS | EFI_VARIABLE_RUNTIME_ACCESS`.
pub const NV_BS_RT: u32 = r_efi::efi::VARIABLE_NON_VOLATILE
    | r_efi::efi::VARIABLE_BOOTSERVICE_ACCESS
    | r_efi::efi::VARIABLE_RUNTIME_ACCESS;
/// `EFI_VARIABLE_BOOTSERVICE_ACCESS | EFI_VARIABLE_RUNTIME_ACCESS` (volatile).
pub const BS_RT: u32 =
    r_efi::efi::VARIABLE_BOOTSERVICE_ACCESS | r_efi::efi::VARIABLE_RUNTIME_ACCESS;

/// `BootOrder`.
pub const BOOT_ORDER: &str = "BootOrder";
/// `BootNext`.
pub const BOOT_NEXT: &str = "BootNext";
/// `BootCurrent`.
pub const BOOT_CURRENT: &str = "BootCurrent";
/// `Timeout`.
pub const TIMEOUT: &str = "Timeout";
/// `BootOptionSupport`.
pub const BOOT_OPTION_SUPPORT: &str = "BootOptionSupport";
/// `Timeout` value that means "wait for the user" (section 3.3).
pub const TIMEOUT_WAIT_FOREVER: u16 = 0xFFFF;

/// `EFI_BOOT_OPTION_SUPPORT_KEY`: `Key####` hot keys are supported.
pub const SUPPORT_KEY: u32 = 0x0000_0001;
/// `EFI_BOOT_OPTION_SUPPORT_APP`: application-category boot options are supported.
pub const SUPPORT_APP: u32 = 0x0000_0002;
/// `EFI_BOOT_OPTION_SUPPORT_SYSPREP`: `SysPrep####` options are supported.
pub const SUPPORT_SYSPREP: u32 = 0x0000_0010;
/// `EFI_BOOT_OPTION_SUPPORT_COUNT`: the number of key presses a `Key####` may hold.
pub const SUPPORT_COUNT: u32 = 0x0000_0300;

/// `Boot####` for `number` (four uppercase hexadecimal digits, section 3.1.1).
pub fn boot_option_name(number: u16) -> String {
    alloc::format!("Boot{number:04X}")
}

/// The number of a `Boot####` name: exactly `Boot` and four hexadecimal digits, uppercase as the spec writes
/// them (variable names are case-sensitive, so `Boot000a` is another variable and not an option).
pub fn parse_boot_option_name(name: &str) -> Option<u16> {
    let digits = name.strip_prefix("Boot")?;
    if digits.len() != 4
        || !digits
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
    {
        return None;
    }
    u16::from_str_radix(digits, 16).ok()
}

/// `BootOrder`'s bytes for `order`.
pub fn encode_u16_list(order: &[u16]) -> Vec<u8> {
    order.iter().flat_map(|n| n.to_le_bytes()).collect()
}

/// The numbers in a `BootOrder` value; `None` when its length is odd (not a `UINT16` array).
pub fn decode_u16_list(bytes: &[u8]) -> Option<Vec<u16>> {
    if bytes.len() % 2 != 0 {
        return None;
    }
    Some(
        bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect(),
    )
}

/// A `UINT16` variable's value (`BootNext`, `BootCurrent`, `Timeout`); `None` unless exactly 2 bytes.
pub fn decode_u16(bytes: &[u8]) -> Option<u16> {
    match bytes {
        [a, b] => Some(u16::from_le_bytes([*a, *b])),
        _ => None,
    }
}

/// What the boot manager does before the default boot, given the `Timeout` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Boot at once (`Timeout` 0).
    None,
    /// Wait this many seconds, or until a key is pressed.
    Seconds(u16),
    /// Wait until a key is pressed (`0xFFFF`).
    ForKey,
}

/// The wait `Timeout` asks for; an absent or malformed variable means no wait.
pub fn wait_for(timeout: Option<u16>) -> Wait {
    match timeout {
        None | Some(0) => Wait::None,
        Some(TIMEOUT_WAIT_FOREVER) => Wait::ForKey,
        Some(seconds) => Wait::Seconds(seconds),
    }
}

/// The `Timeout` in seconds for QEMU's `-boot menu=on,splash-time=MS` (fw_cfg `etc/boot-menu-wait`, a `u16`
/// of milliseconds): rounded up to whole seconds, at least 1.
pub fn timeout_from_menu_wait(milliseconds: u16) -> u16 {
    milliseconds.div_ceil(1000).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn option_names() {
        assert_eq!(boot_option_name(0), "Boot0000");
        assert_eq!(boot_option_name(0xbeef), "BootBEEF");
        assert_eq!(parse_boot_option_name("BootBEEF"), Some(0xbeef));
        assert_eq!(parse_boot_option_name("Boot0001"), Some(1));
        for bad in [
            "Boot000a",
            "Boot01",
            "Boot00001",
            "BootOrder",
            "Driver0001",
            "Boot00G1",
            "boot0001",
        ] {
            assert_eq!(parse_boot_option_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn u16_lists_and_values() {
        assert_eq!(encode_u16_list(&[1, 0x0203]), vec![1, 0, 3, 2]);
        assert_eq!(decode_u16_list(&[1, 0, 3, 2]), Some(vec![1, 0x0203]));
        assert_eq!(decode_u16_list(&[1, 0, 3]), None);
        assert_eq!(decode_u16_list(&[]), Some(vec![]));
        assert_eq!(decode_u16(&[5, 0]), Some(5));
        assert_eq!(decode_u16(&[5]), None);
        assert_eq!(decode_u16(&[5, 0, 0]), None);
    }

    #[test]
    fn timeout_meanings() {
        assert_eq!(wait_for(None), Wait::None);
        assert_eq!(wait_for(Some(0)), Wait::None);
        assert_eq!(wait_for(Some(3)), Wait::Seconds(3));
        assert_eq!(wait_for(Some(0xffff)), Wait::ForKey);
        assert_eq!(timeout_from_menu_wait(0), 1);
        assert_eq!(timeout_from_menu_wait(1000), 1);
        assert_eq!(timeout_from_menu_wait(1001), 2);
        assert_eq!(timeout_from_menu_wait(0xffff), 66);
    }

    #[test]
    fn attribute_sets() {
        assert_eq!(NV_BS_RT, 7);
        assert_eq!(BS_RT, 6);
    }
}
