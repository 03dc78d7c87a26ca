//! The exact commands pcdr sends: T-SQL ([`sql`]) and Management Shell ([`shell`]).
//!
//! Adapters execute these and the plan prints them; nothing else builds command text.

pub mod shell;
pub mod sql;
