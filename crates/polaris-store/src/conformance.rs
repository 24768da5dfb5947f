//! The conformance suite every [`NamingStore`](crate::NamingStore) backend runs.
