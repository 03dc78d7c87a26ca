//! The panic boundary: every exported function runs its body here, so a Rust panic
//! becomes [`pcdr_result::Panic`] (or a harmless default), never an unwind into C.

use crate::failure::Failure;
use crate::result::pcdr_result;
use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs `body`; a panic becomes a [`pcdr_result::Panic`] failure carrying its message.
///
/// Unwind safety: what a panic may leave half-changed sits behind mutexes that tolerate
/// poisoning (in pcdr-core and in this crate's handle and string tables).
pub(crate) fn boundary<T>(body: impl FnOnce() -> Result<T, Failure>) -> Result<T, Failure> {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| Err(panicked(&*payload)))
}

/// Runs `body` of a function that has no result code; a panic returns `fallback`.
pub(crate) fn or_fallback<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

fn panicked(payload: &(dyn Any + Send)) -> Failure {
    let text = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message");
    Failure::new(
        pcdr_result::Panic,
        format!("internal error (a Rust panic, caught): {text}; please report it"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_the_panic_code_with_its_message() {
        let failure = boundary(|| -> Result<(), Failure> { panic!("boom {}", 42) }).unwrap_err();
        assert_eq!(failure.code(), pcdr_result::Panic);
        assert!(
            failure.message().contains("boom 42"),
            "{}",
            failure.message()
        );
    }

    #[test]
    fn a_body_that_returns_passes_through() {
        assert_eq!(boundary(|| Ok::<_, Failure>(7)).unwrap(), 7);
        assert_eq!(or_fallback(0, || 5), 5);
    }

    #[test]
    fn a_panic_without_a_result_code_returns_the_fallback() {
        assert_eq!(or_fallback(-1, || panic!("boom")), -1);
    }
}
