pub mod config;
pub mod logging;
pub mod run;
