mod cluster;
pub mod config;
mod console;
pub mod logging;
mod maintain;
pub mod run;
