//! The options tried on this boot, in order (UEFI 2.10 section 3.1.1, "Boot Manager Programming").
//!
//! `BootNext`, when it names an existing option, is tried first and once (the caller deletes the variable before
//! the attempt, so a failing option is not retried on the next boot); it is tried even if inactive, as the spec
//! makes `BootNext` a one-time override. Then every `BootOrder` entry, once, that exists and is bootable: active
//! and of the boot category ([`crate::load_option::LoadOption::is_bootable`]); hidden options are booted too.
//! In QEMU's strict mode (`-boot strict=on`) only the options listed by the bootorder file are tried.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::load_option::LoadOption;

/// The option numbers to try, in order.
///
/// - `order`: `BootOrder`;
/// - `options`: the decodable `Boot####` variables;
/// - `boot_next`: `BootNext`, if set;
/// - `only`: in strict mode, the options that may be tried (`None`: no restriction).
pub fn sequence(
    order: &[u16],
    options: &BTreeMap<u16, LoadOption>,
    boot_next: Option<u16>,
    only: Option<&[u16]>,
) -> Vec<u16> {
    let mut out = Vec::new();
    if let Some(next) = boot_next.filter(|n| options.contains_key(n)) {
        out.push(next);
    }
    for &number in order {
        let bootable = options.get(&number).is_some_and(LoadOption::is_bootable);
        let allowed = only.is_none_or(|only| only.contains(&number));
        if bootable && allowed && !out.contains(&number) {
            out.push(number);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device_path::Node;
    use crate::load_option::{ACTIVE, CATEGORY_APP, HIDDEN};
    use alloc::vec;

    fn option(attributes: u32) -> LoadOption {
        let mut o = LoadOption::new("x", &[Node::file_path("\\x.efi")], vec![]);
        o.attributes = attributes;
        o
    }

    fn options() -> BTreeMap<u16, LoadOption> {
        BTreeMap::from([
            (0, option(ACTIVE)),
            (1, option(0)),
            (2, option(ACTIVE | HIDDEN)),
            (3, option(ACTIVE | CATEGORY_APP)),
            (4, option(ACTIVE)),
        ])
    }

    #[test]
    fn active_boot_category_options_in_order_once() {
        assert_eq!(
            sequence(&[4, 1, 3, 2, 9, 0, 4], &options(), None, None),
            vec![4, 2, 0]
        );
    }

    #[test]
    fn boot_next_goes_first_even_when_inactive_and_only_once() {
        assert_eq!(
            sequence(&[0, 1, 4], &options(), Some(1), None),
            vec![1, 0, 4]
        );
        assert_eq!(sequence(&[0, 4], &options(), Some(4), None), vec![4, 0]);
        // A BootNext naming no option is ignored.
        assert_eq!(sequence(&[0], &options(), Some(0x99), None), vec![0]);
    }

    #[test]
    fn strict_mode_restricts_to_the_listed_options() {
        assert_eq!(
            sequence(&[0, 2, 4], &options(), None, Some(&[4, 2])),
            vec![2, 4]
        );
        assert_eq!(
            sequence(&[0, 2, 4], &options(), None, Some(&[])),
            Vec::<u16>::new()
        );
    }
}
