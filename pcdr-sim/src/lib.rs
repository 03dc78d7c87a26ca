//! pcdr-sim: an emulated two-site Persistent Chat world.

pub mod backup_file;
pub mod guid;
pub mod shell;
pub mod tds;
pub mod tsql;
pub mod world;
