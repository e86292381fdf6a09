//! Host tests of the console state machines.

mod decoder;
mod notify;
mod screen;
