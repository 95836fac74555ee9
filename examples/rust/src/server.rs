//! The HTTP/1.1 server: hyper on 127.0.0.1, with the limits a public
//! endpoint needs, and a graceful stop.
//!
//! Written on hyper-util rather than `axum::serve`, which exposes none of
//! hyper's limits:
//! - a request head (request line and headers) is at most
//!   [`MAX_HEAD_BYTES`] and must arrive within [`HEAD_TIMEOUT`], else `431`
//!   or a close;
//! - a write that makes no progress for `WRITE_TIMEOUT_SECONDS` fails: a
//!   client that stops reading fills its socket's buffer, and its
//!   connection is then dropped with the stream or WebSocket it carried
//!   (subscription and presence go with them). Reads never time out, as a
//!   stream's client sends nothing for as long as it listens.

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_io_timeout::TimeoutStream;

/// Largest request head, in bytes (hyper's read buffer; nginx's default
/// allows 32 KiB of headers too).
pub const MAX_HEAD_BYTES: usize = 32 * 1024;
/// Most headers in one request.
const MAX_HEADERS: usize = 100;
/// Time a client has to send a whole request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// Binds 127.0.0.1:`port` (0: any free port).
pub async fn bind(port: u16) -> io::Result<TcpListener> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await
}

/// Serves `router` on `listener` until `stop` resolves, then lets open
/// connections finish their requests before returning.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    write_timeout: Duration,
    stop: impl Future<Output = ()>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS)
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT);
    let service = TowerToHyperService::new(router);
    let graceful = GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of fds or memory: let connections close first.
                    tracing::warn!("accept failed: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        // Frames are whole events, to be written as soon as they come.
        let _ = stream.set_nodelay(true);
        let mut stream = TimeoutStream::new(stream);
        stream.set_write_timeout(Some(write_timeout));
        let io = TokioIo::new(Box::pin(stream));
        let connection = builder
            .serve_connection_with_upgrades(io, service.clone())
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!("connection ended: {error}");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// The address `listener` is bound to.
pub fn address(listener: &TcpListener) -> io::Result<SocketAddr> {
    listener.local_addr()
}
