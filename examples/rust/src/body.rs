//! Reading a request body under a size limit, so that a client sent past
//! the limit reliably reads its `413`.
//!
//! A server that answers and closes while the client is still sending
//! leaves unread bytes in its socket, and the kernel then resets the
//! connection, which can destroy the answer before the client reads it.
//! So past the limit the rest of the body is read and discarded, up to
//! [`MAX_DISCARDED_BYTES`] and within a time limit: a body that ends by
//! then leaves the connection usable; a larger or slower one is cut.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use bytes::BytesMut;
use futures_util::StreamExt as _;

use crate::error::ApiError;

/// Bytes past the limit read and thrown away before giving up on a body.
pub const MAX_DISCARDED_BYTES: usize = 4 << 20;

/// The whole body if it holds at most `limit` bytes; else `413`, after
/// discarding up to [`MAX_DISCARDED_BYTES`] more within `patience`.
pub async fn read_limited(body: Body, limit: usize, patience: Duration) -> Result<Bytes, ApiError> {
    let mut chunks = body.into_data_stream();
    let mut kept = BytesMut::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk
            .map_err(|error| ApiError::bad_request(format!("cannot read the body: {error}")))?;
        if kept.len() + chunk.len() > limit {
            let mut discarded = kept.len() + chunk.len() - limit;
            let _ = tokio::time::timeout(patience, async {
                while discarded <= MAX_DISCARDED_BYTES {
                    match chunks.next().await {
                        Some(Ok(chunk)) => discarded += chunk.len(),
                        _ => break,
                    }
                }
            })
            .await;
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is larger than {} KiB", limit / 1024),
            ));
        }
        kept.extend_from_slice(&chunk);
    }
    Ok(kept.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunked(chunks: Vec<&'static [u8]>) -> Body {
        let stream = futures_util::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
        Body::from_stream(stream)
    }

    #[tokio::test]
    async fn bodies_up_to_the_limit_are_read_whole() {
        let body = chunked(vec![b"ab", b"cd"]);
        let read = read_limited(body, 4, Duration::from_secs(1)).await;
        assert_eq!(read, Ok(Bytes::from_static(b"abcd")));
    }

    #[tokio::test]
    async fn a_byte_over_is_413() {
        let body = chunked(vec![b"ab", b"cd", b"e"]);
        let status = read_limited(body, 4, Duration::from_secs(1))
            .await
            .map_err(|e| e.status);
        assert_eq!(status, Err(StatusCode::PAYLOAD_TOO_LARGE));
    }
}
