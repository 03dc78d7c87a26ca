//! The one process-wide tokio runtime, and the two ways a call waits on it: plainly
//! (planning, reading) or watching for Ctrl-C (running a procedure). Both release the GIL
//! while they wait, so other Python threads and the progress callback can run.

use pyo3::panic::PanicException;
use pyo3::prelude::*;
use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::runtime::{Builder, Runtime};

/// How long a running procedure is left alone between two checks for Ctrl-C.
const SIGNAL_SLICE: Duration = Duration::from_millis(100);

/// The runtime every call runs on, started on first use.
fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        Builder::new_multi_thread()
            .enable_all()
            .thread_name("pcdr")
            .build()
            .expect("pcdr cannot start its tokio runtime (no threads left?)")
    })
}

/// Runs `future` to its end with the GIL released.
pub fn block_on<F>(py: Python<'_>, future: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    py.detach(|| runtime().block_on(future))
}

/// Runs `future` on the runtime and waits for it in short slices with the GIL released,
/// checking for signals between slices. On `KeyboardInterrupt` (or any exception a signal
/// handler raises) it calls `cancel`, waits until the future has stopped, so the journal
/// is left consistent and resumable, and returns that exception.
pub fn run_cancellable<F>(py: Python<'_>, future: F, cancel: impl FnOnce()) -> PyResult<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let mut task = runtime().spawn(future);
    loop {
        let slice = py.detach(|| {
            runtime().block_on(async { tokio::time::timeout(SIGNAL_SLICE, &mut task).await })
        });
        match slice {
            Ok(joined) => return joined.map_err(|e| PanicException::new_err(e.to_string())),
            Err(_still_running) => {
                if let Err(interrupt) = py.check_signals() {
                    cancel();
                    drop(py.detach(|| runtime().block_on(task)));
                    return Err(interrupt);
                }
            }
        }
    }
}
