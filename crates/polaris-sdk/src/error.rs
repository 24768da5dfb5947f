//! The one error type of the SDK.

use std::time::Duration;

/// Everything that can go wrong in the SDK.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with a Polaris code other than success.
    #[error("server answered {code}: {info}")]
    Server {
        /// The Polaris code (for example 400202 "not found").
        code: u32,
        /// The server's explanation.
        info: String,
    },
    /// The call failed below Polaris: connection refused, stream reset, bad gRPC status.
    #[error("transport: {0}")]
    Transport(String),
    /// The server gave no answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The settings (builder or `polaris.yaml`) are invalid.
    #[error("invalid settings: {0}")]
    Settings(String),
    /// A local file could not be read or written.
    #[error("local file {path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        reason: String,
    },
    /// A payload (persisted file, config content) could not be decoded.
    #[error("decode: {0}")]
    Decode(String),
    /// An encrypted config file could not be decrypted.
    #[error("decrypt: {0}")]
    Crypto(String),
    /// Routing left no instance to call.
    #[error("no instance available for {namespace}/{service}")]
    NoInstance {
        /// Namespace of the service.
        namespace: String,
        /// Name of the service.
        service: String,
    },
    /// The circuit breaker refused the call.
    #[error("circuit open: {0}")]
    CircuitOpen(String),
    /// The rate limiter refused the call.
    #[error("rate limited: {0}")]
    RateLimited(String),
    /// The client was shut down.
    #[error("client is shut down")]
    Closed,
}

/// The SDK's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The Polaris code the server gave, if this error came from one.
    pub fn code(&self) -> Option<u32> {
        match self {
            Error::Server { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// True for errors worth retrying later (transport trouble, timeouts, server-side 5xx).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport(_) | Error::Timeout(_) => true,
            Error::Server { code, .. } => *code >= 500_000,
            _ => false,
        }
    }

    pub(crate) fn io(path: &std::path::Path, e: impl std::fmt::Display) -> Error {
        Error::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    }
}

impl From<tonic::Status> for Error {
    fn from(status: tonic::Status) -> Self {
        Error::Transport(format!("{:?}: {}", status.code(), status.message()))
    }
}

/// Polaris codes the SDK interprets.
pub mod codes {
    /// Success.
    pub const OK: u32 = 200_000;
    /// The revision (or version) sent is current.
    pub const DATA_NO_CHANGE: u32 = 200_001;
    /// The Discover type is not served (official servers: lanes and newer kinds).
    pub const INVALID_DISCOVER_RESOURCE: u32 = 400_004;
    /// The resource does not exist.
    pub const NOT_FOUND_RESOURCE: u32 = 400_202;
    /// The service does not exist.
    pub const NOT_FOUND_SERVICE: u32 = 400_301;
    /// The instance does not exist.
    pub const NOT_FOUND_INSTANCE: u32 = 400_303;
}

/// Turns an in-band `(code, info)` into `Ok` for 200000/200001 and [`Error::Server`] otherwise.
pub(crate) fn check(code: Option<u32>, info: Option<String>) -> Result<u32> {
    let code = code.unwrap_or(0);
    if code == codes::OK || code == codes::DATA_NO_CHANGE {
        Ok(code)
    } else {
        Err(Error::Server {
            code,
            info: info.unwrap_or_default(),
        })
    }
}
