//! The server as a library, wired by the `polaris-server` binary and driven by its end-to-end
//! tests: `config` reads the official file shape into a typed `ServerConfig`, `logging` routes
//! tracing scopes to size-rotated files, `limits` builds the connection and rate limiters of
//! each listener, and `run` opens the store, loads every domain, binds the listeners (HTTP,
//! both gRPC ports, Eureka, xDS, console), joins a cluster when configured and shuts down
//! gracefully.

mod cluster;
pub mod config;
mod console;
pub mod limits;
pub mod logging;
mod maintain;
pub mod run;
