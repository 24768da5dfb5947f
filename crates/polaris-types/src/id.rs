//! Identifiers the server derives or generates.

use sha1::{Digest, Sha1};

/// The id the official server gives an instance registered without one:
/// lower-case hex SHA-1 of `ns##svc##host##port`, or `ns##svc##vpc##host##port` with a VPC id.
pub fn instance_id(namespace: &str, service: &str, vpc_id: &str, host: &str, port: u32) -> String {
    let mut hasher = Sha1::new();
    let key = if vpc_id.is_empty() {
        format!("{namespace}##{service}##{host}##{port}")
    } else {
        format!("{namespace}##{service}##{vpc_id}##{host}##{port}")
    };
    hasher.update(key.as_bytes());
    hex::encode(hasher.finalize())
}

/// A fresh opaque revision string (32 hex digits).
pub fn new_revision() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A fresh 32-hex-digit id, as the official server uses for services.
pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A fresh resource token (namespace or service token).
pub fn new_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_id_is_sha1_of_joined_key() {
        // Expected values computed independently with `printf ... | sha1sum`.
        assert_eq!(
            instance_id("default", "svc", "", "127.0.0.1", 8080),
            "332538790947124367b808159ebb80d69110bb2e"
        );
        assert_eq!(
            instance_id("default", "svc", "vpc1", "127.0.0.1", 8080),
            "e75b4bfc5c1e76a3828981a56297498933f11843"
        );
    }
}
