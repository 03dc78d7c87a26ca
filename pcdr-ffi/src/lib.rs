//! pcdr-ffi: the C ABI of pcdr, so C, C# and any language with a C FFI run the same
//! procedures (failover, failback, prepare_failback, switchover) as the `pcdr` command,
//! through `include/pcdr.h`.
//!
//! The binding is thin: each exported function checks its arguments, calls
//! [`pcdr_core::embed::Embedded`] on one process-wide async runtime, and converts the
//! answer to JSON or the error to a [`result::pcdr_result`] code. The conventions
//! (result codes, out-parameters, ownership, threads) are in the crate's README.
//!
//! - [`runbook`]: the `pcdr_runbook` handle and its functions.
//! - [`procedures`]: `pcdr_procedures`, the procedures and their steps.
//! - [`options`]: the `pcdr_options` struct a runbook is created with.
//! - [`progress`]: the progress callback.
//! - [`result`]: the result codes; [`error`]: the calling thread's last error.
//! - [`string`]: strings the library hands out and `pcdr_string_free`.

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod error;
mod failure;
mod ffi;
mod handle;
pub mod options;
mod panic;
pub mod procedures;
pub mod progress;
pub mod result;
pub mod runbook;
mod runtime;
pub mod string;

use std::ffi::c_char;

/// The library's version (`"0.1.0"`): a static NUL-terminated string, never freed.
#[unsafe(no_mangle)]
pub extern "C" fn pcdr_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
