//! pcdr-sim: an emulated two-site Persistent Chat world.

pub mod backup_file;
pub mod engine;
pub mod guid;
pub mod serve;
pub mod shell;
pub mod tds;
pub mod tsql;
pub mod world;
