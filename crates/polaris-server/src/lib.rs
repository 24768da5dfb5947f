mod cluster;
pub mod config;
mod console;
pub mod limits;
pub mod logging;
mod maintain;
pub mod run;
