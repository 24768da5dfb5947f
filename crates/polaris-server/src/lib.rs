mod cluster;
pub mod config;
mod console;
pub mod logging;
pub mod run;
