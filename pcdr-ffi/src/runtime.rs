//! The one process-wide tokio runtime every call runs on, created on first use.

use crate::failure::Failure;
use crate::result::pcdr_result;
use std::sync::OnceLock;
use tokio::runtime::{Builder, Runtime};

static RUNTIME: OnceLock<std::io::Result<Runtime>> = OnceLock::new();

/// Runs `future` to completion on the calling thread.
pub(crate) fn block_on<F: Future>(future: F) -> Result<F::Output, Failure> {
    let runtime = RUNTIME.get_or_init(|| {
        Builder::new_multi_thread()
            .enable_all()
            .thread_name("pcdr-worker")
            .build()
    });
    match runtime {
        Ok(runtime) => Ok(runtime.block_on(future)),
        Err(e) => Err(Failure::new(
            pcdr_result::Other,
            format!("cannot start the async runtime: {e}"),
        )),
    }
}
