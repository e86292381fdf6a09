//! Host tests against in-process fakes.

extern crate std;

mod check;
mod config_tests;
mod enumerate_tests;
mod fake;
mod resources_tests;
mod topology_tests;
