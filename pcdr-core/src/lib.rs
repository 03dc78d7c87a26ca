//! pcdr-core.
