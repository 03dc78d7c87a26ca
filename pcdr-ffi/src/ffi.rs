//! Pointer helpers: the one place where raw pointers from C become Rust references,
//! strings and out-parameters. A NULL or invalid UTF-8 becomes a [`Failure`] naming
//! the parameter, never undefined behaviour.

use crate::failure::Failure;
use crate::result::pcdr_result;
use std::ffi::{CStr, c_char};
use std::ptr::{self, NonNull};

/// The string `ptr` points to; NULL and invalid UTF-8 fail, naming `parameter`.
///
/// # Safety
///
/// `ptr` must be NULL or point to a NUL-terminated string that lives and stays
/// unchanged for `'a`.
pub(crate) unsafe fn try_str<'a>(ptr: *const c_char, parameter: &str) -> Result<&'a str, Failure> {
    // SAFETY: forwarded from this function's contract.
    unsafe { try_optional_str(ptr, parameter) }?.ok_or_else(|| Failure::null(parameter))
}

/// Like [`try_str`], for a parameter where NULL means "none".
///
/// # Safety
///
/// As for [`try_str`].
pub(crate) unsafe fn try_optional_str<'a>(
    ptr: *const c_char,
    parameter: &str,
) -> Result<Option<&'a str>, Failure> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: not NULL, and the caller promises a NUL-terminated string living for 'a.
    let text = unsafe { CStr::from_ptr(ptr) };
    text.to_str().map(Some).map_err(|e| {
        Failure::new(
            pcdr_result::InvalidUtf8,
            format!("{parameter} is not valid UTF-8 ({e})"),
        )
    })
}

/// An out-parameter checked for NULL, written at most once, on success.
pub(crate) struct Out<T>(NonNull<T>);

impl<T> Out<T> {
    /// Writes the value (without reading or dropping what was there).
    pub(crate) fn set(self, value: T) {
        // SAFETY: `try_out`'s caller promised the pointer is valid for writes.
        unsafe { self.0.as_ptr().write(value) }
    }
}

/// Checks an out-parameter for NULL, naming `parameter`.
///
/// # Safety
///
/// `ptr` must be NULL or valid for writing a `T` until the [`Out`] is set or dropped.
pub(crate) unsafe fn try_out<T>(ptr: *mut T, parameter: &str) -> Result<Out<T>, Failure> {
    NonNull::new(ptr)
        .map(Out)
        .ok_or_else(|| Failure::null(parameter))
}

/// Copies `text` and a NUL into the caller's buffer, and its size (NUL included) into
/// `*needed`, also when the buffer is too small (then `buf` is left untouched).
///
/// # Safety
///
/// `buf` must be NULL or valid for writing `len` bytes; `needed` must be NULL or valid
/// for writing a `usize`.
pub(crate) unsafe fn copy_to_buffer(
    text: &str,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> Result<(), Failure> {
    // SAFETY: forwarded from this function's contract.
    let needed = unsafe { try_out(needed, "needed") }?;
    if buf.is_null() && len != 0 {
        return Err(Failure::null("buf"));
    }
    let size = text.len() + 1;
    needed.set(size);
    if size > len {
        return Err(Failure::new(
            pcdr_result::BufferTooSmall,
            format!("the buffer holds {len} bytes; {size} are needed"),
        ));
    }
    // SAFETY: `buf` is not NULL and valid for `len >= size` bytes (the contract); the
    // text cannot overlap a buffer the caller owns.
    unsafe {
        ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len());
        buf.add(text.len()).write(0);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code<T>(result: Result<T, Failure>) -> pcdr_result {
        result.err().map_or(pcdr_result::Ok, |f| f.code())
    }

    #[test]
    fn a_null_string_is_a_null_parameter_naming_it() {
        // SAFETY: NULL is allowed.
        let failure = unsafe { try_str(ptr::null(), "path") }.unwrap_err();
        assert_eq!(failure.code(), pcdr_result::NullParameter);
        assert!(failure.message().starts_with("path is NULL"));
        // SAFETY: NULL is allowed.
        assert_eq!(
            unsafe { try_optional_str(ptr::null(), "journal") }.unwrap(),
            None
        );
    }

    #[test]
    fn invalid_utf8_is_refused() {
        // SAFETY: a NUL-terminated literal.
        let result = unsafe { try_str(c"caf\xe9".as_ptr(), "toml") };
        assert_eq!(code(result), pcdr_result::InvalidUtf8);
    }

    #[test]
    fn a_valid_string_is_borrowed() {
        // SAFETY: a NUL-terminated literal.
        assert_eq!(
            unsafe { try_str(c"failover".as_ptr(), "p") }.unwrap(),
            "failover"
        );
    }

    #[test]
    fn an_out_parameter_is_written_only_when_set() {
        let mut slot = 7;
        // SAFETY: slot is a valid i32.
        let _unset = unsafe { try_out(&mut slot, "out") }.unwrap();
        assert_eq!(slot, 7);
        // SAFETY: slot is a valid i32.
        unsafe { try_out(&mut slot, "out") }.unwrap().set(9);
        assert_eq!(slot, 9);
        // SAFETY: NULL is allowed.
        assert_eq!(
            code(unsafe { try_out::<i32>(ptr::null_mut(), "out") }),
            pcdr_result::NullParameter
        );
    }

    #[test]
    fn a_too_small_buffer_reports_the_size_needed_and_stays_untouched() {
        let mut buf = [b'x' as c_char; 4];
        let mut needed = 0;
        // SAFETY: buf holds 4 bytes; needed is a valid usize.
        let result = unsafe { copy_to_buffer("hello", buf.as_mut_ptr(), buf.len(), &mut needed) };
        assert_eq!(code(result), pcdr_result::BufferTooSmall);
        assert_eq!(needed, 6);
        assert!(buf.iter().all(|&c| c == b'x' as c_char));
    }

    #[test]
    fn a_size_query_with_no_buffer_reports_the_size() {
        let mut needed = 0;
        // SAFETY: len 0 with a NULL buffer; needed is a valid usize.
        let result = unsafe { copy_to_buffer("abc", ptr::null_mut(), 0, &mut needed) };
        assert_eq!(code(result), pcdr_result::BufferTooSmall);
        assert_eq!(needed, 4);
    }

    #[test]
    fn a_null_buffer_with_a_length_is_a_null_parameter() {
        let mut needed = 0;
        // SAFETY: a NULL buffer is allowed; needed is a valid usize.
        let result = unsafe { copy_to_buffer("abc", ptr::null_mut(), 16, &mut needed) };
        assert_eq!(code(result), pcdr_result::NullParameter);
        assert_eq!(needed, 0, "nothing is written on that failure");
    }

    #[test]
    fn a_buffer_that_fits_gets_the_text_and_a_nul() {
        let mut buf = [b'x' as c_char; 4];
        let mut needed = 0;
        // SAFETY: buf holds 4 bytes; needed is a valid usize.
        unsafe { copy_to_buffer("abc", buf.as_mut_ptr(), buf.len(), &mut needed) }.unwrap();
        // SAFETY: copy_to_buffer wrote a NUL-terminated string.
        assert_eq!(unsafe { CStr::from_ptr(buf.as_ptr()) }, c"abc");
    }
}
