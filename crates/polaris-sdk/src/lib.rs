//! The Polaris Rust SDK: one cheap-to-clone `Client` that registers providers, discovers and
//! caches services (push when the server offers it, revision polling otherwise), routes, balances,
//! breaks and limits calls through `polaris-traffic`, and reads and watches configuration files.
