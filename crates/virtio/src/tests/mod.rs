//! Host tests, named after the rule each one checks.

mod blk_config_tests;
mod blk_rig;
mod blk_tests;
mod fake_pci;
mod pci_tests;
mod probe_tests;
mod queue_tests;
mod status_tests;
