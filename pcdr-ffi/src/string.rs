//! Strings the library hands to C (JSON documents, each with its `schema_version`) and
//! `pcdr_string_free`. Each one is remembered until freed, so freeing a string twice, or
//! one the library did not hand out, does nothing instead of corrupting memory.

use crate::failure::Failure;
use crate::panic;
use crate::result::pcdr_result;
use pcdr_core::schema::{Document, Versioned};
use std::collections::BTreeSet;
use std::ffi::{CString, c_char};
use std::sync::{Mutex, MutexGuard, PoisonError};

static LIVE: Mutex<BTreeSet<usize>> = Mutex::new(BTreeSet::new());

fn live() -> MutexGuard<'static, BTreeSet<usize>> {
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `document` as JSON text with its `schema_version` first.
pub(crate) fn json_text(document: &impl Document) -> Result<String, Failure> {
    serde_json::to_string(&Versioned::new(document))
        .map_err(|e| Failure::new(pcdr_result::Other, format!("cannot write JSON: {e}")))
}

/// `document` as a JSON string with its `schema_version` first, owned by the caller
/// (freed with `pcdr_string_free`).
pub(crate) fn json(document: &impl Document) -> Result<*mut c_char, Failure> {
    let text = json_text(document)?;
    // JSON escapes control characters, so the text holds no NUL.
    let owned = CString::new(text)
        .map_err(|e| Failure::new(pcdr_result::Other, format!("JSON with a NUL: {e}")))?;
    let ptr = owned.into_raw();
    live().insert(ptr.addr());
    Ok(ptr)
}

/// Frees a string this library returned (a JSON document). NULL is fine; so is a
/// pointer already freed or not from this library: both are ignored.
///
/// # Safety
///
/// After this call `s` must not be used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcdr_string_free(s: *mut c_char) {
    panic::or_fallback((), || {
        if live().remove(&s.addr()) {
            // SAFETY: `s` came from `CString::into_raw` in `json` and was live, and is
            // now out of the table, so it is freed exactly once.
            drop(unsafe { CString::from_raw(s) });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcdr_core::procedure::StepOutcome;
    use std::ffi::CStr;

    #[test]
    fn a_json_string_is_freed_once_and_a_second_free_is_ignored() {
        let s = json(&StepOutcome::Skipped {
            reason: "done".into(),
        })
        .unwrap();
        // SAFETY: `json` returned a live NUL-terminated string.
        assert_eq!(
            unsafe { CStr::from_ptr(s) },
            cr#"{"schema_version":1,"outcome":"skipped","reason":"done"}"#
        );
        // SAFETY: s is live; the second call must ignore it.
        unsafe {
            pcdr_string_free(s);
            pcdr_string_free(s);
            pcdr_string_free(std::ptr::null_mut());
        }
        assert!(!live().contains(&s.addr()));
    }
}
