//! Name and size rules of the official server, shared by every adapter.

/// Longest namespace name the official store accepts.
pub const MAX_NAMESPACE_LEN: usize = 64;
/// Longest service name the official store accepts.
pub const MAX_SERVICE_LEN: usize = 128;
/// Longest instance host.
pub const MAX_HOST_LEN: usize = 128;
/// Most metadata pairs on one instance or service.
pub const MAX_METADATA_PAIRS: usize = 64;
/// Longest metadata key.
pub const MAX_METADATA_KEY_LEN: usize = 128;
/// Longest metadata value.
pub const MAX_METADATA_VALUE_LEN: usize = 4096;
/// Longest free-text field (comment, owners, business, ...).
pub const MAX_TEXT_LEN: usize = 1024;
/// Largest page a list query returns, and the largest write batch.
pub const MAX_BATCH: usize = 100;

/// True when `name` matches `^[0-9A-Za-z-./:_]+$` and is at most `max_len` bytes long.
pub fn is_valid_name(name: &str, max_len: usize) -> bool {
    !name.is_empty()
        && name.len() <= max_len
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'/' | b':' | b'_'))
}

/// True when the metadata respects the pair count and key/value length limits.
pub fn is_valid_metadata<'a>(
    pairs: impl ExactSizeIterator<Item = (&'a String, &'a String)>,
) -> bool {
    if pairs.len() > MAX_METADATA_PAIRS {
        return false;
    }
    let mut pairs = pairs;
    pairs.all(|(k, v)| {
        !k.is_empty() && k.len() <= MAX_METADATA_KEY_LEN && v.len() <= MAX_METADATA_VALUE_LEN
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_official_pattern() {
        assert!(is_valid_name("a-b.c/d:e_f09", 64));
        assert!(!is_valid_name("", 64));
        assert!(!is_valid_name("has space", 64));
        assert!(!is_valid_name("中文", 64));
        assert!(!is_valid_name(&"a".repeat(65), 64));
        assert!(is_valid_name(&"a".repeat(64), 64));
    }
}
