//! `pushbus-chat [--port N]`: starts the chat server on 127.0.0.1, prints
//! `listening on http://127.0.0.1:PORT` when it accepts connections, and
//! stops gracefully on SIGTERM or SIGINT.

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser as _;
use pushbus_chat::app::AppState;
use pushbus_chat::config::{Args, Settings};
use pushbus_chat::hub::Hub;
use pushbus_chat::{poller_task, routes, server};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::Notify;

/// How long open connections get to finish after a stop signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let settings = match Settings::from_env(args.port, |name| std::env::var(name).ok()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("pushbus-chat: {error}");
            return ExitCode::from(2);
        }
    };
    match serve(settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("pushbus-chat: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    let listener = server::bind(settings.port).await?;
    let address = server::address(&listener)?;
    let write_timeout = settings.write_timeout;
    let app = AppState::new(settings)?;
    let drain = tokio::spawn(poller_task::run(app.hub.clone()));
    // Installed before the server says it listens: a stop signal that
    // comes at once is still a graceful stop.
    let signals = (
        signal(SignalKind::terminate())?,
        signal(SignalKind::interrupt())?,
    );
    let stopping = Arc::new(Notify::new());
    let served = server::serve(
        listener,
        routes::router(app.clone()),
        write_timeout,
        stop_signal(signals, app.hub.clone(), stopping.clone()),
    );
    println!("listening on http://{address}");
    std::io::stdout().flush()?;
    let grace_over = async {
        stopping.notified().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        () = served => {}
        () = grace_over => tracing::warn!("connections still open after the grace period: stopping anyway"),
    }
    drain.abort();
    Ok(())
}

/// Resolves on SIGTERM or SIGINT, after ending every stream (so that the
/// graceful shutdown has no endless response to wait for).
async fn stop_signal(
    (mut terminate, mut interrupt): (Signal, Signal),
    hub: Arc<Hub>,
    stopping: Arc<Notify>,
) {
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    tracing::info!("stopping");
    hub.shutdown();
    stopping.notify_one();
}
