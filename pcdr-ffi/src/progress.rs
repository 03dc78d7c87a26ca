//! The progress callback: pcdr-core's [`Observer`] events, serialized as JSON and
//! handed to a C function pointer.

use pcdr_core::procedure::{Event, Observer};
use pcdr_core::schema::Versioned;
use std::ffi::{CString, c_char, c_void};
use std::sync::{Mutex, PoisonError};

/// Receives one progress event as a NUL-terminated JSON object, e.g.
/// `{"schema_version":1,"event":"step_started","step":"check_sites","title":"…"}`;
/// `schema_version` is the version of the event's shape, and the `event` key names the
/// kind (`step_started`, `step_finished`, `step_skipped`, `step_failed`, `planned`,
/// `note`, `sessions_ended`, `file_copied`, `log_restored`).
///
/// Called on the thread that called `pcdr_runbook_run`, `pcdr_runbook_resume` or
/// `pcdr_runbook_run_step`, inside that call. `event_json` is valid only until the
/// callback returns: copy it to keep it. The callback must return quickly, must not
/// unwind or longjmp out, and may call no pcdr function other than
/// `pcdr_runbook_cancel` and `pcdr_runbook_set_progress_callback`.
#[allow(non_camel_case_types)]
pub type pcdr_progress_callback =
    Option<unsafe extern "C" fn(event_json: *const c_char, user_data: *mut c_void)>;

#[derive(Clone, Copy)]
struct Callback {
    function: unsafe extern "C" fn(*const c_char, *mut c_void),
    user_data: *mut c_void,
}

// SAFETY: `pcdr_runbook_set_progress_callback` documents that the function and its
// `user_data` are used from whichever thread runs a procedure; the caller guarantees
// that this is sound for the `user_data` they pass. The library never dereferences it.
unsafe impl Send for Callback {}
// SAFETY: as for `Send`: the pair is only copied and passed back to the caller.
unsafe impl Sync for Callback {}

/// The observer a runbook sends its events to; the callback can change at any time.
#[derive(Default)]
pub(crate) struct Progress(Mutex<Option<Callback>>);

impl Progress {
    /// Sends events to `function` with `user_data` from now on (`None`: to nobody).
    pub(crate) fn set(&self, function: pcdr_progress_callback, user_data: *mut c_void) {
        let callback = function.map(|function| Callback {
            function,
            user_data,
        });
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = callback;
    }
}

impl Observer for Progress {
    fn event(&self, event: &Event) {
        // Copied out, so the callback can replace itself without a deadlock.
        let current = *self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(callback) = current else { return };
        let Some(json) = serde_json::to_string(&Versioned::new(event))
            .ok()
            .and_then(|t| CString::new(t).ok())
        else {
            return;
        };
        // SAFETY: the function and user_data were given together by the caller for this
        // purpose; the string lives until the call returns, as documented.
        unsafe { (callback.function)(json.as_ptr(), callback.user_data) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcdr_core::procedure::failover;
    use std::ffi::CStr;

    unsafe extern "C" fn collect(event_json: *const c_char, user_data: *mut c_void) {
        // SAFETY: the test passes a `Vec<String>` as user_data and a valid string.
        let (events, json) = unsafe {
            (
                &mut *user_data.cast::<Vec<String>>(),
                CStr::from_ptr(event_json),
            )
        };
        events.push(json.to_string_lossy().into_owned());
    }

    #[test]
    fn events_reach_the_callback_as_json_until_it_is_removed() {
        let mut events: Vec<String> = Vec::new();
        let progress = Progress::default();
        progress.set(Some(collect), (&raw mut events).cast());
        let event = Event::StepSkipped {
            step: failover::CHECK_SITES,
            reason: "done".into(),
        };
        progress.event(&event);
        progress.set(None, std::ptr::null_mut());
        progress.event(&event);
        assert_eq!(
            events,
            [r#"{"schema_version":1,"event":"step_skipped","step":"check_sites","reason":"done"}"#]
        );
    }
}
