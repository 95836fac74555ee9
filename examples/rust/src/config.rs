//! The server's settings: the `--port` flag and the environment that every
//! example chat server reads the same way (examples/README.md).
//!
//! Every value is checked at startup: a bad one stops the server with a
//! message naming the variable, rather than running with a surprise.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

/// The command line: only `--port`, with `PORT` as its fallback.
#[derive(Debug, clap::Parser)]
#[command(
    name = "pushbus-chat",
    about = "The pushbus chat demo: every push transport on axum and tokio, on 127.0.0.1.",
    after_help = "Environment: PORT, ALLOWED_ORIGINS, JWT_SECRET, HEARTBEAT_SECONDS, \
                  STREAM_BUDGET_BYTES, REPLAY_MESSAGES, WEB_ROOT, WRITE_TIMEOUT_SECONDS \
                  (see examples/rust/README.md)."
)]
pub struct Args {
    /// Port to listen on, on 127.0.0.1 (0: any free port).
    #[arg(long, env = "PORT", default_value_t = 8080)]
    pub port: u16,
}

/// Everything the server is configured with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Listening port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Origins allowed by CORS and the WebSocket `Origin` check, besides
    /// the server's own origin.
    pub allowed_origins: HashSet<String>,
    /// The HS256 secret; `None` turns authentication off.
    pub jwt_secret: Option<Vec<u8>>,
    /// Idle time after which a stream sends a heartbeat, and the WebSocket
    /// ping interval.
    pub heartbeat: Duration,
    /// Bytes after which an XHR or iframe stream ends (the page reopens it).
    pub stream_budget: usize,
    /// Messages each room keeps for replay; `None`: pushbus's default.
    pub replay_messages: Option<usize>,
    /// The page's directory.
    pub web_root: PathBuf,
    /// A write that makes no progress for this long cuts the connection.
    pub write_timeout: Duration,
}

/// A setting that cannot be used, with the variable's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// `examples/web` of the repository this binary was built from.
fn default_web_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../web"))
}

impl Settings {
    /// Reads the settings from `port` (the flag or `PORT`) and the
    /// variables `var` returns (the process environment in `main`).
    pub fn from_env(
        port: u16,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        // An empty variable means "unset", as in the other example servers.
        let var = |name: &str| var(name).filter(|value| !value.trim().is_empty());
        let allowed_origins = var("ALLOWED_ORIGINS")
            .map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|origin| !origin.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Ok(Settings {
            port,
            allowed_origins,
            jwt_secret: var("JWT_SECRET").map(String::into_bytes),
            heartbeat: seconds("HEARTBEAT_SECONDS", var("HEARTBEAT_SECONDS"), 15.0)?,
            stream_budget: count("STREAM_BUDGET_BYTES", var("STREAM_BUDGET_BYTES"))?
                .unwrap_or(128 * 1024),
            replay_messages: count("REPLAY_MESSAGES", var("REPLAY_MESSAGES"))?,
            web_root: var("WEB_ROOT").map_or_else(default_web_root, PathBuf::from),
            write_timeout: seconds("WRITE_TIMEOUT_SECONDS", var("WRITE_TIMEOUT_SECONDS"), 10.0)?,
        })
    }

    /// The pushbus configuration these settings ask for.
    pub fn bus_config(&self) -> pushbus::Config {
        let mut config = pushbus::Config::default();
        if let Some(messages) = self.replay_messages {
            config.ring_max_messages = messages;
        }
        config
    }
}

/// A positive number of seconds (fractions allowed, for tests).
fn seconds(name: &str, value: Option<String>, default: f64) -> Result<Duration, ConfigError> {
    let Some(value) = value else {
        return Ok(Duration::from_secs_f64(default));
    };
    match value.trim().parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds > 0.0 && seconds <= 86_400.0 => {
            Ok(Duration::from_secs_f64(seconds))
        }
        _ => Err(ConfigError(format!(
            "{name} must be a number of seconds above 0 and at most 86400, not {value:?}"
        ))),
    }
}

/// A positive whole number, if set.
fn count(name: &str, value: Option<String>) -> Result<Option<usize>, ConfigError> {
    let Some(value) = value else {
        return Ok(None);
    };
    match value.trim().parse::<usize>() {
        Ok(count) if count > 0 => Ok(Some(count)),
        _ => Err(ConfigError(format!(
            "{name} must be a whole number above 0, not {value:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from_env(8080, |name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn defaults_match_the_shared_environment() {
        let settings = settings(&[]).unwrap();
        assert_eq!(settings.heartbeat, Duration::from_secs(15));
        assert_eq!(settings.stream_budget, 131_072);
        assert_eq!(settings.replay_messages, None);
        assert_eq!(settings.jwt_secret, None);
        assert!(settings.allowed_origins.is_empty());
        assert!(settings.web_root.join("index.html").is_file());
        assert_eq!(
            settings.bus_config().ring_max_messages,
            pushbus::Config::default().ring_max_messages
        );
    }

    #[test]
    fn values_are_read_and_empty_ones_are_unset() {
        let settings = settings(&[
            ("ALLOWED_ORIGINS", " http://a.test , ,http://b.test"),
            ("JWT_SECRET", ""),
            ("HEARTBEAT_SECONDS", "0.5"),
            ("STREAM_BUDGET_BYTES", "4096"),
            ("REPLAY_MESSAGES", "7"),
        ])
        .unwrap();
        let origins: HashSet<String> = ["http://a.test", "http://b.test"].map(str::to_owned).into();
        assert_eq!(settings.allowed_origins, origins);
        assert_eq!(settings.jwt_secret, None);
        assert_eq!(settings.heartbeat, Duration::from_millis(500));
        assert_eq!(settings.stream_budget, 4096);
        assert_eq!(settings.bus_config().ring_max_messages, 7);
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value) in [
            ("HEARTBEAT_SECONDS", "0"),
            ("HEARTBEAT_SECONDS", "soon"),
            ("HEARTBEAT_SECONDS", "NaN"),
            ("STREAM_BUDGET_BYTES", "-1"),
            ("REPLAY_MESSAGES", "0"),
            ("WRITE_TIMEOUT_SECONDS", "inf"),
        ] {
            let error = settings(&[(name, value)]).unwrap_err();
            assert!(error.0.starts_with(name), "{error}");
        }
    }
}
