//! The C ABI: a thin boundary over the Rust API, with no logic of its own.
//!
//! Conventions, which the generated header repeats:
//! - Every function returns a `pushbus_status` (0 = OK) and writes its
//!   results through out-pointers, only on success.
//! - Strings are pointer + length (no NUL needed); a NULL pointer with
//!   length 0 is the empty string. Strings must be UTF-8.
//! - Long-lived objects (config, bus, publisher, poller, batch, poll result,
//!   message, WebSocket decoder, claims) are opaque pointers created by
//!   `*_new` and released by `*_free`; `*_free(NULL)` does nothing. Subscriptions are `uint64_t`
//!   ids checked against the poller's table: an unknown or closed id is
//!   `PUSHBUS_UNKNOWN_SUBSCRIPTION`, so closing twice is harmless.
//! - Every entry point runs inside `catch_unwind`: no panic crosses into C
//!   (it becomes `PUSHBUS_PANIC`). There is no thread-local error state.
//! - Everything is thread-safe except where a function says otherwise (a
//!   batch, a WebSocket decoder: one thread at a time).

// The exports are called from C, where Rust's `unsafe` qualifier means
// nothing: each one states its pointer contract in its documentation (which
// reaches the header), and every dereference sits in an `unsafe` block with
// its SAFETY comment. C type names follow C conventions.
#![allow(clippy::not_unsafe_ptr_arg_deref, non_camel_case_types)]

use std::ffi::c_char;

mod batch;
mod buf;
mod bus;
mod config;
mod framing;
mod jwt;
mod poller;
mod publisher;
mod status;
mod ws;

pub use batch::*;
pub use buf::*;
pub use bus::*;
pub use config::*;
pub use framing::*;
pub use jwt::*;
pub use poller::*;
pub use publisher::*;
pub use status::*;
pub use ws::*;

/// Runs an FFI body that returns `Result<(), pushbus_status>`, turning a
/// panic into `PUSHBUS_PANIC`.
macro_rules! guard {
    ($body:block) => {{
        let run = || -> ::std::result::Result<(), $crate::ffi::pushbus_status> { $body };
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(run)) {
            Ok(Ok(())) => $crate::ffi::pushbus_status::PUSHBUS_OK,
            Ok(Err(status)) => status,
            Err(_) => $crate::ffi::pushbus_status::PUSHBUS_PANIC,
        }
    }};
}
pub(crate) use guard;

type FfiResult<T> = Result<T, pushbus_status>;

/// Borrows `len` bytes at `ptr`; NULL is accepted only with `len == 0`.
///
/// # Safety
/// Unless NULL, `ptr` must point to `len` readable bytes that stay valid and
/// unchanged for `'a`.
pub(crate) unsafe fn bytes_arg<'a>(ptr: *const u8, len: usize) -> FfiResult<&'a [u8]> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(pushbus_status::PUSHBUS_NULL_POINTER)
        };
    }
    if len > isize::MAX as usize {
        return Err(pushbus_status::PUSHBUS_INVALID_ARGUMENT);
    }
    // SAFETY: non-NULL and, by the caller's contract, `len` readable bytes
    // valid for 'a; `len` fits in isize.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Borrows a UTF-8 string given as pointer + length.
///
/// # Safety
/// As `bytes_arg`.
pub(crate) unsafe fn str_arg<'a>(ptr: *const c_char, len: usize) -> FfiResult<&'a str> {
    // SAFETY: forwarded contract.
    let bytes = unsafe { bytes_arg(ptr.cast(), len) }?;
    crate::utf8::utf8(bytes).ok_or(pushbus_status::PUSHBUS_INVALID_UTF8)
}

/// Like `str_arg`, but NULL means "absent".
///
/// # Safety
/// As `bytes_arg`.
pub(crate) unsafe fn opt_str_arg<'a>(ptr: *const c_char, len: usize) -> FfiResult<Option<&'a str>> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded contract.
    unsafe { str_arg(ptr, len) }.map(Some)
}

/// Borrows an object the library handed out.
///
/// # Safety
/// Unless NULL, `ptr` must point to a live `T` for `'a`.
pub(crate) unsafe fn ref_arg<'a, T>(ptr: *const T) -> FfiResult<&'a T> {
    // SAFETY: by the caller's contract, non-NULL means a live T.
    unsafe { ptr.as_ref() }.ok_or(pushbus_status::PUSHBUS_NULL_POINTER)
}

/// Borrows an object the library handed out, mutably.
///
/// # Safety
/// Unless NULL, `ptr` must point to a live `T` not used elsewhere for `'a`.
pub(crate) unsafe fn mut_arg<'a, T>(ptr: *mut T) -> FfiResult<&'a mut T> {
    // SAFETY: by the caller's contract, non-NULL means a live, unaliased T.
    unsafe { ptr.as_mut() }.ok_or(pushbus_status::PUSHBUS_NULL_POINTER)
}

/// Hands a new object to C.
pub(crate) fn into_raw<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Takes back and drops an object handed to C; NULL does nothing.
///
/// # Safety
/// Unless NULL, `ptr` must come from `into_raw` for the same `T` and not
/// have been freed.
pub(crate) unsafe fn free_raw<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: by the caller's contract, `ptr` came from Box::into_raw.
        drop(unsafe { Box::from_raw(ptr) });
    }
}

/// The major version; the header's `PUSHBUS_VERSION_MAJOR`.
pub const PUSHBUS_VERSION_MAJOR: u32 = 0;
/// The minor version; the header's `PUSHBUS_VERSION_MINOR`.
pub const PUSHBUS_VERSION_MINOR: u32 = 1;
/// The patch version; the header's `PUSHBUS_VERSION_PATCH`.
pub const PUSHBUS_VERSION_PATCH: u32 = 0;
/// `MAJOR * 10000 + MINOR * 100 + PATCH`, for `#if` comparisons.
pub const PUSHBUS_VERSION_NUMBER: u32 = 100;

/// The library's version as a static NUL-terminated string ("0.1.0"); never
/// NULL. Compare it with `PUSHBUS_VERSION_*` to detect a header/library mismatch.
#[no_mangle]
pub extern "C" fn pushbus_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_macros_match_cargo_toml() {
        let part = |name: &str| -> u32 { name.parse().unwrap() };
        assert_eq!(PUSHBUS_VERSION_MAJOR, part(env!("CARGO_PKG_VERSION_MAJOR")));
        assert_eq!(PUSHBUS_VERSION_MINOR, part(env!("CARGO_PKG_VERSION_MINOR")));
        assert_eq!(PUSHBUS_VERSION_PATCH, part(env!("CARGO_PKG_VERSION_PATCH")));
        assert_eq!(
            PUSHBUS_VERSION_NUMBER,
            PUSHBUS_VERSION_MAJOR * 10000 + PUSHBUS_VERSION_MINOR * 100 + PUSHBUS_VERSION_PATCH
        );
        // SAFETY: pushbus_version returns a static NUL-terminated string.
        let text = unsafe { std::ffi::CStr::from_ptr(pushbus_version()) };
        assert_eq!(text.to_str(), Ok(env!("CARGO_PKG_VERSION")));
    }
}
