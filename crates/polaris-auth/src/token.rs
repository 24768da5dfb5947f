//! Tokens in the official format, so that tokens issued by the official server (and its
//! documented default admin token) keep working: `base64(iv ‖ AES-CFB(key = salt, iv,
//! "<8 random chars>::uid/<user id>"))`, or `::groupid/<group id>` for a group. A token is valid
//! only while it equals the one stored on its user or group, so refreshing one revokes the old.

use aes::cipher::KeyIvInit;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const BLOCK: usize = 16;

/// Whose token it is, as written inside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenOwner {
    User(String),
    Group(String),
}

/// Why a token could not be read.
#[derive(Debug, PartialEq, Eq)]
pub struct InvalidToken;

/// A fresh token for `owner`, encrypted with `salt` (16, 24 or 32 bytes; checked at start).
pub fn issue(salt: &[u8], owner: &TokenOwner) -> String {
    let subject = match owner {
        TokenOwner::User(id) => format!("uid/{id}"),
        TokenOwner::Group(id) => format!("groupid/{id}"),
    };
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let mut bytes = Vec::with_capacity(BLOCK + 10 + subject.len());
    let iv: [u8; BLOCK] = *uuid::Uuid::new_v4().as_bytes();
    bytes.extend_from_slice(&iv);
    bytes.extend_from_slice(format!("{}::{subject}", &nonce[..8]).as_bytes());
    apply(salt, &iv, &mut bytes[BLOCK..], Direction::Encrypt);
    STANDARD.encode(bytes)
}

/// Reads the owner written inside `token`. Anything that does not decrypt to the official
/// layout is invalid; whether the token is still the current one is the caller's business.
pub fn read(salt: &[u8], token: &str) -> Result<TokenOwner, InvalidToken> {
    // A token is a few dozen bytes; refuse to decode anything absurdly long.
    if token.is_empty() || token.len() > 1024 {
        return Err(InvalidToken);
    }
    let mut bytes = STANDARD.decode(token).map_err(|_| InvalidToken)?;
    if bytes.len() <= BLOCK {
        return Err(InvalidToken);
    }
    let (iv, body) = bytes.split_at_mut(BLOCK);
    let iv: [u8; BLOCK] = (&*iv).try_into().map_err(|_| InvalidToken)?;
    apply(salt, &iv, body, Direction::Decrypt);
    let text = std::str::from_utf8(body).map_err(|_| InvalidToken)?;
    let (_, subject) = text.split_once("::").ok_or(InvalidToken)?;
    let (kind, id) = subject.split_once('/').ok_or(InvalidToken)?;
    if id.is_empty() || id.contains('/') {
        return Err(InvalidToken);
    }
    match kind {
        "uid" => Ok(TokenOwner::User(id.to_string())),
        "groupid" => Ok(TokenOwner::Group(id.to_string())),
        _ => Err(InvalidToken),
    }
}

/// Tokens read before and their owners: a token decrypts to the same owner every time, so a
/// request with a known token skips the base64 and AES work. Whether the owner and token are
/// still current is checked by the caller on every request, as for a fresh read.
#[derive(Default)]
pub(crate) struct ReadTokens {
    owners: parking_lot::RwLock<std::collections::HashMap<String, TokenOwner>>,
}

/// Distinct tokens remembered before the map starts over (tokens are caller-chosen).
const MAX_READ_TOKENS: usize = 4_096;

impl ReadTokens {
    /// [`read`] through the map; only tokens that read successfully are remembered.
    pub(crate) fn read(&self, salt: &[u8], token: &str) -> Result<TokenOwner, InvalidToken> {
        if let Some(owner) = self.owners.read().get(token) {
            return Ok(owner.clone());
        }
        let owner = read(salt, token)?;
        let mut owners = self.owners.write();
        if owners.len() >= MAX_READ_TOKENS {
            owners.clear();
        }
        owners.insert(token.to_string(), owner.clone());
        Ok(owner)
    }
}

/// Whether `salt` can key AES (the official server refuses to start otherwise).
pub fn valid_salt(salt: &[u8]) -> bool {
    matches!(salt.len(), 16 | 24 | 32)
}

enum Direction {
    Encrypt,
    Decrypt,
}

fn apply(salt: &[u8], iv: &[u8; BLOCK], data: &mut [u8], direction: Direction) {
    macro_rules! run {
        ($aes:ty) => {{
            match direction {
                Direction::Encrypt => cfb_mode::Encryptor::<$aes>::new_from_slices(salt, iv)
                    .map(|c| c.encrypt(data))
                    .ok(),
                Direction::Decrypt => cfb_mode::Decryptor::<$aes>::new_from_slices(salt, iv)
                    .map(|c| c.decrypt(data))
                    .ok(),
            }
        }};
    }
    let done = match salt.len() {
        16 => run!(aes::Aes128),
        24 => run!(aes::Aes192),
        _ => run!(aes::Aes256),
    };
    debug_assert!(done.is_some(), "salt length is checked at start");
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALT: &[u8] = b"polarismesh@2021";

    #[test]
    fn the_documented_default_admin_token_names_the_default_admin() {
        let token =
            "nu/0WRA4EqSR1FagrjRj0fZwPXuGlMpX+zCuWu4uMqy8xr1vRjisSbA25aAC3mtU8MeeRsKhQiDAynUR09I=";
        assert_eq!(
            read(SALT, token),
            Ok(TokenOwner::User(
                "65e4789a6d5b49669adf1e9e8387549c".to_string()
            ))
        );
    }

    #[test]
    fn remembered_tokens_read_as_fresh_ones_and_bad_ones_are_not_kept() {
        let tokens = ReadTokens::default();
        let owner = TokenOwner::User("u-1".to_string());
        let token = issue(SALT, &owner);
        assert_eq!(tokens.read(SALT, &token), Ok(owner.clone()));
        assert_eq!(tokens.read(SALT, &token), Ok(owner));
        assert_eq!(tokens.read(SALT, "not a token"), Err(InvalidToken));
        assert_eq!(tokens.owners.read().len(), 1);
    }

    #[test]
    fn issued_tokens_read_back_and_differ_each_time() {
        let owner = TokenOwner::Group("g-1".to_string());
        let a = issue(SALT, &owner);
        let b = issue(SALT, &owner);
        assert_ne!(a, b);
        assert_eq!(read(SALT, &a), Ok(owner.clone()));
        assert_eq!(read(SALT, &b), Ok(owner));
    }

    #[test]
    fn garbage_and_other_salts_are_invalid() {
        let token = issue(SALT, &TokenOwner::User("u".to_string()));
        assert_eq!(read(b"another-salt-16b", &token), Err(InvalidToken));
        for junk in [
            "",
            "not base64!",
            "AAAA",
            &"A".repeat(5000),
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert_eq!(read(SALT, junk), Err(InvalidToken), "{junk}");
        }
    }
}
