//! Host tests, named after the rule each one checks.

mod fake_pci;
mod pci_tests;
mod queue_tests;
mod status_tests;
