//! The Device Path Utilities operations.

use crate::node::{END_OF_INSTANCE, END_PATH};
use crate::text_to_path;
use crate::utilities::*;
use crate::Error;

fn path(text: &str) -> alloc::vec::Vec<u8> {
    text_to_path(text).unwrap()
}

#[test]
fn size_and_duplicate_ignore_trailing_bytes() {
    let mut p = path("PciRoot(0)/Pci(1,0)");
    assert_eq!(crate::path_size(&p), Ok(22));
    p.extend_from_slice(&[0xaa; 5]);
    assert_eq!(duplicate(&p).unwrap(), path("PciRoot(0)/Pci(1,0)"));
    assert_eq!(duplicate(&[1, 1]), Err(Error::Truncated { offset: 0 }));
}

#[test]
fn append_paths_and_nodes() {
    let a = path("PciRoot(0)");
    let b = path("Pci(1,0)/Pci(0,0)");
    assert_eq!(
        append_path(Some(&a), Some(&b)).unwrap(),
        path("PciRoot(0)/Pci(1,0)/Pci(0,0)")
    );
    assert_eq!(append_path(None, Some(&b)).unwrap(), b);
    assert_eq!(append_path(Some(&a), None).unwrap(), a);
    assert_eq!(append_path(None, None).unwrap(), END_PATH);
    let node = crate::text_to_node("Pci(2,0)").unwrap();
    assert_eq!(
        append_node(Some(&a), Some(&node)).unwrap(),
        path("PciRoot(0)/Pci(2,0)")
    );
    assert_eq!(append_node(None, Some(&node)).unwrap(), path("Pci(2,0)"));
    assert_eq!(append_node(Some(&a), None).unwrap(), a);
    assert_eq!(append_node(None, None).unwrap(), END_PATH);
    assert!(append_node(Some(&a), Some(&[1, 1, 2, 0])).is_err());
}

#[test]
fn instances() {
    let a = path("PciRoot(0)/Pci(1,0)");
    let b = path("PciRoot(0)/Pci(2,0)");
    let multi = append_instance(Some(&a), &b).unwrap();
    assert_eq!(multi, path("PciRoot(0)/Pci(1,0),PciRoot(0)/Pci(2,0)"));
    assert_eq!(append_instance(None, &b).unwrap(), b);
    assert!(is_multi_instance(&multi));
    assert!(!is_multi_instance(&a));
    assert!(!is_multi_instance(&[1, 1]));

    let (first, next) = next_instance(&multi).unwrap();
    assert_eq!(first, a);
    let next = next.unwrap();
    assert_eq!(next, a.len() - 4 + END_OF_INSTANCE.len());
    let (second, last) = next_instance(&multi[next..]).unwrap();
    assert_eq!(second, b);
    assert_eq!(last, None);
    // An empty instance.
    let (empty, next) = next_instance(&path(",Pci(1,0)")).unwrap();
    assert_eq!(empty, END_PATH);
    assert_eq!(next, Some(4));
}

#[test]
fn create_node_sizes() {
    assert_eq!(create_node(1, 1, 6).unwrap(), [1, 1, 6, 0, 0, 0]);
    assert_eq!(create_node(0x7f, 0xff, 4).unwrap(), END_PATH);
    assert_eq!(create_node(1, 1, 3), None);
}
