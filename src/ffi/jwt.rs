//! Access tokens for C servers: HS256 JWT verification (`pushbus_claims`).

use std::ffi::c_char;
use std::time::{SystemTime, UNIX_EPOCH};

use super::{bytes_arg, free_raw, guard, into_raw, mut_arg, pushbus_status, ref_arg, str_arg};
use crate::jwt::{verify_hs256, Claims};

/// The verified claims of an access token (opaque, immutable, thread-safe).
pub struct pushbus_claims {
    claims: Claims,
}

/// Verifies an HS256 JWT against `secret` at `now_unix_secs` (0: the
/// current time) and writes its claims to `*out`; free them with
/// `pushbus_claims_free`. Only HS256 is accepted (never `none`); the
/// signature is compared in constant time before the payload is read.
/// Errors: `PUSHBUS_NULL_POINTER`, `PUSHBUS_INVALID_UTF8`,
/// `PUSHBUS_INVALID_JWT` (malformed, other algorithm, bad signature, not
/// yet valid), `PUSHBUS_EXPIRED_JWT`, `PUSHBUS_INVALID_CONFIG` (empty secret).
#[no_mangle]
pub extern "C" fn pushbus_jwt_verify(
    token: *const c_char,
    token_len: usize,
    secret: *const u8,
    secret_len: usize,
    now_unix_secs: u64,
    out: *mut *mut pushbus_claims,
) -> pushbus_status {
    guard!({
        // SAFETY: pointers NULL or valid for their lengths, per contract.
        let (token, secret, out) = unsafe {
            (
                str_arg(token, token_len)?,
                bytes_arg(secret, secret_len)?,
                mut_arg(out)?,
            )
        };
        let now = if now_unix_secs == 0 {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        } else {
            now_unix_secs
        };
        *out = into_raw(pushbus_claims {
            claims: verify_hs256(token, secret, now)?,
        });
        Ok(())
    })
}

/// Borrows the `sub` claim (the user) into `*sub`, `*len`: NULL and 0 when
/// the token has none. Valid until the claims are freed. Errors:
/// `PUSHBUS_NULL_POINTER`.
#[no_mangle]
pub extern "C" fn pushbus_claims_sub(
    claims: *const pushbus_claims,
    sub: *mut *const c_char,
    len: *mut usize,
) -> pushbus_status {
    guard!({
        // SAFETY: pointers NULL or valid, per contract.
        let (claims, sub, len) = unsafe { (ref_arg(claims)?, mut_arg(sub)?, mut_arg(len)?) };
        (*sub, *len) = match &claims.claims.sub {
            Some(text) => (text.as_ptr().cast(), text.len()),
            None => (std::ptr::null(), 0),
        };
        Ok(())
    })
}

/// Writes the `exp` claim (seconds since the Unix epoch) to `*exp`, or 0
/// when the token has none. Errors: `PUSHBUS_NULL_POINTER`.
#[no_mangle]
pub extern "C" fn pushbus_claims_exp(
    claims: *const pushbus_claims,
    exp: *mut u64,
) -> pushbus_status {
    guard!({
        // SAFETY: pointers NULL or valid, per contract.
        let (claims, exp) = unsafe { (ref_arg(claims)?, mut_arg(exp)?) };
        *exp = claims.claims.exp.unwrap_or(0);
        Ok(())
    })
}

/// Writes whether the token's `rooms` claim grants `name` to `*out`: an
/// entry `*` grants everything, others grant their exact name or, as
/// patterns (`chat.*`, `chat.>`), the names they match. Errors:
/// `PUSHBUS_NULL_POINTER`, `PUSHBUS_INVALID_UTF8`.
#[no_mangle]
pub extern "C" fn pushbus_claims_allows(
    claims: *const pushbus_claims,
    name: *const c_char,
    name_len: usize,
    out: *mut bool,
) -> pushbus_status {
    guard!({
        // SAFETY: pointers NULL or valid, per contract.
        let (claims, name, out) =
            unsafe { (ref_arg(claims)?, str_arg(name, name_len)?, mut_arg(out)?) };
        *out = claims.claims.allows(name);
        Ok(())
    })
}

/// Frees claims. NULL does nothing.
#[no_mangle]
pub extern "C" fn pushbus_claims_free(claims: *mut pushbus_claims) {
    guard!({
        // SAFETY: NULL or claims from pushbus_jwt_verify, not yet freed.
        unsafe { free_raw(claims) };
        Ok(())
    });
}
