//! `pushbus_buf`: bytes the library allocates and the caller frees.

use super::guard;

/// Bytes owned by the caller once a call has filled it: release them with
/// `pushbus_buf_free`. An empty buffer may have a NULL `ptr`.
#[repr(C)]
#[derive(Debug)]
pub struct pushbus_buf {
    /// The bytes (not NUL-terminated).
    pub ptr: *mut u8,
    /// Their number.
    pub len: usize,
}

impl pushbus_buf {
    pub(crate) fn from_vec(bytes: Vec<u8>) -> pushbus_buf {
        let boxed: Box<[u8]> = bytes.into_boxed_slice();
        let len = boxed.len();
        pushbus_buf {
            ptr: Box::into_raw(boxed).cast(),
            len,
        }
    }
}

/// Frees the bytes of a buffer the library filled and sets it to empty
/// (`ptr` NULL, `len` 0), so freeing it twice is harmless. NULL does nothing.
#[no_mangle]
pub extern "C" fn pushbus_buf_free(buf: *mut pushbus_buf) {
    guard!({
        // SAFETY: the caller passes NULL or a buffer this library filled.
        let Some(buf) = (unsafe { buf.as_mut() }) else {
            return Ok(());
        };
        if !buf.ptr.is_null() {
            let slice = std::ptr::slice_from_raw_parts_mut(buf.ptr, buf.len);
            // SAFETY: `ptr`/`len` came from Box<[u8]>::into_raw in `from_vec`
            // and were not freed (freeing resets them to NULL/0).
            drop(unsafe { Box::from_raw(slice) });
        }
        buf.ptr = std::ptr::null_mut();
        buf.len = 0;
        Ok(())
    });
}
