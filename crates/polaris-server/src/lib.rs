pub mod config;
mod console;
pub mod limits;
pub mod logging;
pub mod run;
