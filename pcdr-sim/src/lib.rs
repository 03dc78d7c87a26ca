//! pcdr-sim: an emulated two-site Persistent Chat world.

pub mod shell;
pub mod tds;
pub mod tsql;
