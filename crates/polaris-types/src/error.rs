//! The one error type domain services return: a Polaris code plus a human-readable detail.

use crate::Code;

/// A failed operation, classified by its Polaris [`Code`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct PolarisError {
    pub code: Code,
    /// What exactly was wrong, for the `info` field (the code's own text when empty).
    pub detail: String,
}

impl PolarisError {
    pub fn new(code: Code, detail: impl Into<String>) -> Self {
        PolarisError {
            code,
            detail: detail.into(),
        }
    }

    /// The message to send: the official text, followed by the detail when there is one; empty
    /// for a code the official table has no text for ([`Code::has_info`]).
    pub fn info(&self) -> String {
        if !self.code.has_info() {
            String::new()
        } else if self.detail.is_empty() {
            self.code.info().to_string()
        } else {
            format!("{}: {}", self.code.info(), self.detail)
        }
    }
}

impl From<Code> for PolarisError {
    fn from(code: Code) -> Self {
        PolarisError {
            code,
            detail: String::new(),
        }
    }
}

pub type Result<T, E = PolarisError> = std::result::Result<T, E>;
