//! Access control at the HTTP edge: the enforcement layer, the endpoint permission table, and
//! the `/core/v1` user, group and strategy API.

mod groups;
pub mod guard;
mod json;
mod routes;
mod strategies;
pub mod table;
mod tokens;
mod users;

pub use routes::routes;
