//! `pcdr_procedures`: the procedures this library runs and their steps, as a JSON
//! document copied into the caller's buffer. Everything in it is read from pcdr-core's
//! step tables ([`Procedure::all`], [`Procedure::steps`]), so a procedure or a step
//! added there is listed with no change here.

use crate::error::call;
use crate::ffi::copy_to_buffer;
use crate::result::pcdr_result;
use crate::string;
use pcdr_core::procedure::{Procedure, StepId};
use pcdr_core::schema::Document;
use serde::Serialize;
use std::ffi::c_char;

/// The document `pcdr_procedures` writes: every procedure, in the order help texts list
/// them.
#[derive(Debug, Serialize)]
struct ProcedureList {
    procedures: Vec<ProcedureEntry>,
}

impl Document for ProcedureList {
    const SCHEMA_VERSION: u32 = 1;
}

/// One procedure: its name (as `pcdr_runbook_run` takes it), what it does, its steps.
#[derive(Debug, Serialize)]
struct ProcedureEntry {
    name: &'static str,
    summary: &'static str,
    steps: Vec<StepEntry>,
}

/// One step: its id (as `pcdr_runbook_run_step` takes it) and what it does.
#[derive(Debug, Serialize)]
struct StepEntry {
    id: &'static str,
    title: &'static str,
}

impl ProcedureList {
    /// Every procedure of pcdr-core's tables, with its steps in the order they run.
    fn from_tables() -> Self {
        let procedures = Procedure::all()
            .map(|procedure| ProcedureEntry {
                name: procedure.as_str(),
                summary: procedure.summary(),
                steps: procedure
                    .steps()
                    .iter()
                    .copied()
                    .map(StepEntry::from)
                    .collect(),
            })
            .collect();
        Self { procedures }
    }
}

impl From<StepId> for StepEntry {
    fn from(step: StepId) -> Self {
        Self {
            id: step.as_str(),
            title: step.title(),
        }
    }
}

/// Copies the procedures this library runs, with their steps, into `buf` as a
/// NUL-terminated UTF-8 JSON document:
///
/// ```text
/// {"schema_version":1,"procedures":[
///   {"name":"failover","summary":"…","steps":[{"id":"check_sites","title":"…"},…]},…]}
/// ```
///
/// (on one line). Procedures come in the order help texts list them, steps in the order
/// they run; `name` and `id` are what `pcdr_runbook_plan`, `pcdr_runbook_run` and
/// `pcdr_runbook_run_step` take. Check `schema_version` before reading the rest.
///
/// Buffer rules and results as for `pcdr_error_message`: `PCDR_RESULT_OK` when it fit;
/// `PCDR_RESULT_BUFFER_TOO_SMALL` when `len` is less than the size needed, with `buf`
/// untouched; `PCDR_RESULT_NULL_PARAMETER` when `needed` is NULL, or `buf` is NULL while
/// `len` is not 0. In the first two cases `*needed` is set to the size needed, NUL
/// included, so a first call with `buf = NULL, len = 0` sizes the buffer. Unlike the
/// error accessors, this function records its outcome as the calling thread's last
/// error, like every other function.
///
/// # Safety
///
/// `buf` must be NULL or valid for writing `len` bytes; `needed` must be NULL or valid
/// for writing a `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcdr_procedures(
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> pcdr_result {
    call(|| {
        let text = string::json_text(&ProcedureList::from_tables())?;
        // SAFETY: the caller's contract on `buf`, `len` and `needed` is copy_to_buffer's.
        unsafe { copy_to_buffer(&text, buf, len, needed) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::pcdr_error_message;
    use serde_json::Value;
    use std::ptr;

    /// The document, sized with a first call and copied with a second.
    fn procedures_json() -> String {
        let mut needed = 0;
        // SAFETY: a size query: NULL buffer, length 0; needed is a valid usize.
        let sized = unsafe { pcdr_procedures(ptr::null_mut(), 0, &mut needed) };
        assert_eq!(sized, pcdr_result::BufferTooSmall);
        let mut buf = vec![0 as c_char; needed];
        let mut copied = 0;
        // SAFETY: buf holds `needed` bytes; copied is a valid usize.
        let code = unsafe { pcdr_procedures(buf.as_mut_ptr(), buf.len(), &mut copied) };
        assert_eq!((code, copied), (pcdr_result::Ok, needed));
        assert_eq!(buf.pop(), Some(0), "the document ends with its NUL");
        String::from_utf8(buf.into_iter().map(|c| c as u8).collect()).unwrap()
    }

    fn strings(values: &Value, key: &str) -> Vec<String> {
        let items = values.as_array().expect("an array");
        items
            .iter()
            .map(|v| v[key].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn the_document_lists_every_procedure_and_its_steps_from_the_tables() {
        let document: Value = serde_json::from_str(&procedures_json()).unwrap();
        assert_eq!(document["schema_version"], 1);
        let listed = &document["procedures"];
        let names: Vec<&str> = Procedure::all().map(Procedure::as_str).collect();
        assert_eq!(strings(listed, "name"), names);
        for (entry, procedure) in listed.as_array().unwrap().iter().zip(Procedure::all()) {
            assert_eq!(entry["summary"], procedure.summary());
            let ids: Vec<&str> = procedure.steps().iter().map(|s| s.as_str()).collect();
            assert_eq!(strings(&entry["steps"], "id"), ids, "{procedure}");
            let titles: Vec<&str> = procedure.steps().iter().map(|s| s.title()).collect();
            assert_eq!(strings(&entry["steps"], "title"), titles, "{procedure}");
        }
    }

    #[test]
    fn the_schema_version_comes_first_then_the_failover_its_first_step_first() {
        let json = procedures_json();
        let prefix = r#"{"schema_version":1,"procedures":[{"name":"failover","summary":"#;
        assert!(json.starts_with(prefix), "{json}");
        assert!(
            json.contains(r#""steps":[{"id":"check_sites","title":"#),
            "{json}"
        );
    }

    #[test]
    fn a_too_small_buffer_is_untouched_and_recorded_as_the_last_error() {
        let size = procedures_json().len() + 1;
        let mut buf = [b'x' as c_char; 8];
        let mut needed = 0;
        // SAFETY: buf holds 8 bytes; needed is a valid usize.
        let code = unsafe { pcdr_procedures(buf.as_mut_ptr(), buf.len(), &mut needed) };
        assert_eq!((code, needed), (pcdr_result::BufferTooSmall, size));
        assert!(buf.iter().all(|&c| c == b'x' as c_char));
        let mut text_size = 0;
        // SAFETY: a size query; text_size is a valid usize.
        let last = unsafe { pcdr_error_message(ptr::null_mut(), 0, &mut text_size) };
        assert_eq!(last, pcdr_result::BufferTooSmall);
        assert!(text_size > 1, "the last error has a text");
    }

    #[test]
    fn a_null_needed_or_a_null_buffer_with_a_length_is_a_null_parameter() {
        let mut needed = 7;
        // SAFETY: NULL pointers are allowed and must be refused.
        let (no_needed, no_buf) = unsafe {
            (
                pcdr_procedures(ptr::null_mut(), 0, ptr::null_mut()),
                pcdr_procedures(ptr::null_mut(), 64, &mut needed),
            )
        };
        assert_eq!(no_needed, pcdr_result::NullParameter);
        assert_eq!(no_buf, pcdr_result::NullParameter);
        assert_eq!(needed, 7, "nothing is written on that failure");
    }
}
