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

/// The revision of one record (an instance): a random 64-bit number, written as 16 lower-case
/// hex digits wherever it leaves the process (wire and store).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Revision(pub u64);

impl Revision {
    /// A fresh random revision.
    pub fn new() -> Revision {
        Revision(uuid::Uuid::new_v4().as_u64_pair().0)
    }

    /// The revision a stored text stands for: 16 hex digits read back exactly; any other
    /// text (an older build's 32-digit revision) maps to a stable number derived from it.
    pub fn parse(text: &str) -> Revision {
        if text.len() == 16
            && let Ok(n) = u64::from_str_radix(text, 16)
        {
            return Revision(n);
        }
        let digest = Sha1::digest(text.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        Revision(u64::from_be_bytes(first))
    }
}

impl std::fmt::Display for Revision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
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
    fn revisions_round_trip_through_their_text() {
        let r = Revision::new();
        assert_eq!(r.to_string().len(), 16);
        assert_eq!(Revision::parse(&r.to_string()), r);
        assert_eq!(Revision(0xab).to_string(), "00000000000000ab");
        let legacy = "0123456789abcdef0123456789abcdef";
        assert_eq!(Revision::parse(legacy), Revision::parse(legacy));
        assert_ne!(Revision::parse(legacy), Revision::parse("other"));
    }

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
