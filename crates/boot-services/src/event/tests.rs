//! Host tests of the event engine, timers and ExitBootServices phases, one or more per rule.

mod events;
mod exit;
mod harness;
mod timers;
mod tpl;
