//! Access control at the HTTP edge: the enforcement layer, the endpoint permission table, and
//! the `/core/v1` user, group and strategy API.

pub mod guard;
mod json;
mod routes;
pub mod table;

pub use routes::routes;
