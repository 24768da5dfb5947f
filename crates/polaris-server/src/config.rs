//! Server configuration in the shape of the official `polaris-server.yaml`.
//!
//! Loading happens in two stages:
//!
//! 1. **File stage** ([`file`], private): `${VAR}` / `$VAR` references are
//!    expanded from the given environment (Go `os.ExpandEnv` semantics:
//!    unset variables become empty strings), then the YAML is deserialized
//!    with `serde-saphyr` into file-shaped structs whose fields mirror the
//!    official keys. Keys the official file knows but polaris-rs does not use
//!    yet (`auth`, `config`, `maintain`, `plugin`, `bootstrap.startInOrder`,
//!    ...) are accepted silently; any other key is ignored with a warning
//!    naming its full path, e.g. `unknown key apiservers[0].option.foo
//!    ignored`.
//! 2. **Typed stage** ([`ServerConfig`]): defaults are filled in and values
//!    validated.
//!
//! Errors ([`ConfigError`]) name the file, the line and column, and the key
//! path of a type error: `polaris-server.yaml:12:5:
//! apiservers[0].option.listenPort: invalid u16`. Line numbers refer to the
//! text after environment expansion, which only differs from the file when a
//! variable's value contains a newline.

mod auth;
mod checkers;
mod duration;
mod expand;
mod file;
mod limits;
mod typed;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use serde_saphyr::MessageFormatter as _;

pub use checkers::RedisCheckerConfig;
pub use limits::{LimitsConfig, ListenerLimits};
pub use typed::{
    ApiGroupConfig, ApiServerConfig, BatchConfig, CacheConfig, DEFAULT_HTTP_PORT,
    EMBEDDED_STORE_NAMES, HealthCheckConfig, ListenerConfig, LoggerScope, NamespaceConfig,
    NamingConfig, ServerConfig, StoreConfig, default_port,
};

/// Name shown in errors when no file was given.
const EMBEDDED_NAME: &str = "<embedded defaults>";

/// A loaded configuration and the warnings produced while loading it.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The typed configuration.
    pub config: ServerConfig,
    /// Human-readable warnings (unknown keys, unknown plugins, duplicates),
    /// in file order. Loading succeeded regardless.
    pub warnings: Vec<String>,
}

/// Why a configuration could not be loaded.
#[derive(Debug)]
pub enum ConfigError {
    /// The file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid YAML, or a value has the wrong type.
    Parse {
        /// The file, as given.
        file: String,
        /// 1-based line, when known.
        line: Option<u64>,
        /// 1-based column, when known.
        column: Option<u64>,
        /// Key path such as `apiservers[0].option.listenPort` (type errors).
        key_path: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// The file parsed, but a value is out of range or inconsistent.
    Invalid {
        /// The file, as given.
        file: String,
        /// Key path of the offending value.
        key_path: String,
        /// What is wrong.
        message: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Io { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            ConfigError::Parse {
                file,
                line,
                column,
                key_path,
                message,
            } => {
                write!(f, "{file}")?;
                if let Some(line) = line {
                    write!(f, ":{line}")?;
                    if let Some(column) = column {
                        write!(f, ":{column}")?;
                    }
                }
                if let Some(key_path) = key_path {
                    write!(f, ": {key_path}")?;
                }
                write!(f, ": {message}")
            }
            ConfigError::Invalid {
                file,
                key_path,
                message,
            } => write!(f, "{file}: {key_path}: {message}"),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Loads the configuration from `path`, or returns the built-in defaults when
/// `path` is `None`. `env` supplies the variables for `${VAR}` / `$VAR`
/// expansion (usually `std::env::vars().collect()`).
///
/// # Errors
///
/// [`ConfigError::Io`] when the file cannot be read, [`ConfigError::Parse`]
/// for malformed YAML or a value of the wrong type, [`ConfigError::Invalid`]
/// for a value out of range.
pub fn load(path: Option<&Path>, env: &HashMap<String, String>) -> Result<Loaded, ConfigError> {
    match path {
        None => load_str("", EMBEDDED_NAME, env),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            load_str(&text, &path.display().to_string(), env)
        }
    }
}

/// Loads the configuration from YAML `text`; `file_name` is used in errors.
///
/// # Errors
///
/// As [`load`], except that there is no file to read.
pub fn load_str(
    text: &str,
    file_name: &str,
    env: &HashMap<String, String>,
) -> Result<Loaded, ConfigError> {
    let text = expand::expand_env(text, env);
    let mut warnings = Vec::new();
    let file_cfg: file::FileConfig = if text.trim().is_empty() {
        file::FileConfig::default()
    } else {
        parse_typed(&text, file_name, &mut warnings)?
    };
    let raw: file::RawDoc = if text.trim().is_empty() {
        file::RawDoc::default()
    } else {
        // The typed pass succeeded, so this can only fail on values JSON
        // cannot hold (e.g. a mapping used as a key): keep going without the
        // raw options rather than refuse the file.
        serde_saphyr::from_str(&text).unwrap_or_else(|e| {
            warnings.push(format!(
                "raw plugin options not kept: {}",
                parse_error(file_name, None, &e)
            ));
            file::RawDoc::default()
        })
    };
    let config =
        typed::build(file_cfg, raw, &mut warnings).map_err(|inv| ConfigError::Invalid {
            file: file_name.to_owned(),
            key_path: inv.key_path,
            message: inv.message,
        })?;
    Ok(Loaded { config, warnings })
}

/// First pass: typed deserialization that records ignored keys and the key
/// path of a failure.
fn parse_typed(
    text: &str,
    file_name: &str,
    warnings: &mut Vec<String>,
) -> Result<file::FileConfig, ConfigError> {
    let mut key_path: Option<String> = None;
    let result = serde_saphyr::with_deserializer_from_str(text, |de| {
        let mut on_ignored = |p: serde_ignored::Path<'_>| {
            warnings.push(format!("unknown key {} ignored", ignored_path(&p)));
        };
        let de = serde_ignored::Deserializer::new(de, &mut on_ignored);
        serde_path_to_error::deserialize::<_, file::FileConfig>(de).map_err(|e| {
            key_path = Some(error_path(e.path()));
            e.into_inner()
        })
    });
    result.map_err(|e| parse_error(file_name, key_path, &e))
}

fn parse_error(
    file_name: &str,
    key_path: Option<String>,
    err: &serde_saphyr::Error,
) -> ConfigError {
    let err = err.without_snippet();
    let location = err.location();
    // Syntax errors come from the YAML scanner; the key path reached so far
    // is not meaningful for them.
    let syntax = matches!(err, serde_saphyr::Error::ExternalMessage { .. });
    let message: String = serde_saphyr::DefaultMessageFormatter
        .format_message(err)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    ConfigError::Parse {
        file: file_name.to_owned(),
        line: location.map(|l| l.line()).filter(|&l| l > 0),
        column: location.map(|l| l.column()).filter(|&c| c > 0),
        key_path: if syntax {
            None
        } else {
            key_path.filter(|p| !p.is_empty() && p != ".")
        },
        message,
    }
}

/// Formats a `serde_path_to_error` path as `a.b[0].c`.
fn error_path(path: &serde_path_to_error::Path) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            serde_path_to_error::Segment::Seq { index } => {
                let _ = write!(out, "[{index}]");
            }
            serde_path_to_error::Segment::Map { key }
            | serde_path_to_error::Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            serde_path_to_error::Segment::Unknown => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push('?');
            }
        }
    }
    out
}

/// Formats a `serde_ignored` path as `a.b[0].c`.
fn ignored_path(path: &serde_ignored::Path<'_>) -> String {
    fn walk(path: &serde_ignored::Path<'_>, out: &mut String) {
        match path {
            serde_ignored::Path::Root => {}
            serde_ignored::Path::Seq { parent, index } => {
                walk(parent, out);
                let _ = write!(out, "[{index}]");
            }
            serde_ignored::Path::Map { parent, key } => {
                walk(parent, out);
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            serde_ignored::Path::Some { parent }
            | serde_ignored::Path::NewtypeStruct { parent }
            | serde_ignored::Path::NewtypeVariant { parent } => walk(parent, out),
        }
    }
    let mut out = String::new();
    walk(path, &mut out);
    out
}
