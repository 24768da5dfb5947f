//! The proto-JSON forms of the naming messages. Input accepts both the proto field names and
//! their JSON names and ignores unknown fields; output uses the JSON names the official server
//! emits, with `null` for unset values.

pub mod json;
pub mod naming;
