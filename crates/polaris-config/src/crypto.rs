//! Config file encryption, byte-compatible with the official `AES` crypto plugin and the SDKs.
//!
//! - Content: AES-CBC with the IV equal to the first 16 bytes of the key, PKCS#7 padding, and
//!   standard base64 (with padding) of the ciphertext. An empty plaintext stays the empty string.
//! - Data key: 16 random bytes (AES-128) per file, kept as standard base64 in
//!   [`ConfigFile::data_key`] (officially the `internal-datakey` metadata).
//! - Key return to SDKs: when a client sends `public_key` (base64 of a PKCS#1 DER RSA public
//!   key) the raw data key is RSA-encrypted with PKCS#1 v1.5 and returned base64 as tag
//!   `internal-datakey` ([`wrap_data_key`]).
//!
//! Releases carry the ciphertext, so their MD5 is the MD5 of the ciphertext, as officially.

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockCipherDecrypt, BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt};
use aes::cipher::{KeyInit, KeyIvInit};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use polaris_types::{Code, ConfigFile, FileAttrs, PolarisError};
use rsa::pkcs1::der::Decode;
use rsa::rand_core::{OsRng, RngCore};
use rsa::{BigUint, Pkcs1v15Encrypt, RsaPublicKey};

/// The algorithm names this server supports (`GET /configfiles/encryptalgorithm`).
pub const ALGORITHMS: [&str; 1] = ["AES"];
/// The algorithm used when a file asks for encryption without naming one.
pub const DEFAULT_ALGORITHM: &str = "AES";
/// Length of a generated data key, in bytes (AES-128).
pub const DATA_KEY_LEN: usize = 16;
/// Largest client RSA key accepted by [`wrap_data_key`], in bits.
pub const MAX_RSA_BITS: u64 = 4096;
/// Tag (and official metadata key) that carries the data key to clients.
pub const DATA_KEY_TAG: &str = "internal-datakey";
/// Official metadata key marking an encrypted file.
pub const ENCRYPTED_TAG: &str = "internal-encrypted";
/// Official metadata key holding the algorithm name.
pub const ENCRYPT_ALGO_TAG: &str = "internal-encryptalgo";

/// Why a crypto operation failed. Every input error is reported, never a panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("{0} is not valid base64")]
    Base64(&'static str),
    #[error("AES key must be 16, 24 or 32 bytes, got {0}")]
    KeyLength(usize),
    #[error("ciphertext is not a whole number of AES blocks or its padding is wrong")]
    Ciphertext,
    #[error("decrypted content is not UTF-8")]
    NotUtf8,
    #[error("public key is not a base64 PKCS#1 DER RSA public key: {0}")]
    PublicKey(String),
    #[error("RSA public key of {0} bits is over the {MAX_RSA_BITS}-bit limit")]
    PublicKeyTooLarge(u64),
    #[error("RSA encryption failed: {0}")]
    Rsa(String),
    /// The official plugin manager's text for an unknown algorithm.
    #[error("plugin Crypto not found target: {0}")]
    UnknownAlgorithm(String),
}

impl From<CryptoError> for PolarisError {
    fn from(err: CryptoError) -> PolarisError {
        // Decryption failures carry 400811 (spec 1.5 and later); everything else is an
        // encryption failure, 400809.
        let code = match err {
            CryptoError::Ciphertext | CryptoError::NotUtf8 => Code::DecryptConfigFileException,
            _ => Code::EncryptConfigFileException,
        };
        PolarisError::new(code, err.to_string())
    }
}

/// A fresh random AES-128 data key from the operating system's generator.
pub fn new_data_key() -> Vec<u8> {
    let mut key = vec![0u8; DATA_KEY_LEN];
    OsRng.fill_bytes(&mut key);
    key
}

fn cbc_encrypt<C: BlockCipherEncrypt + KeyInit>(
    key: &[u8],
    msg: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let iv = key.get(..16).ok_or(CryptoError::KeyLength(key.len()))?;
    let mode = cbc::Encryptor::<C>::new_from_slices(key, iv)
        .map_err(|_| CryptoError::KeyLength(key.len()))?;
    Ok(mode.encrypt_padded_vec::<Pkcs7>(msg))
}

fn cbc_decrypt<C: BlockCipherDecrypt + KeyInit>(
    key: &[u8],
    ciphertext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let iv = key.get(..16).ok_or(CryptoError::KeyLength(key.len()))?;
    let mode = cbc::Decryptor::<C>::new_from_slices(key, iv)
        .map_err(|_| CryptoError::KeyLength(key.len()))?;
    mode.decrypt_padded_vec::<Pkcs7>(ciphertext)
        .map_err(|_| CryptoError::Ciphertext)
}

/// Encrypts `content` with `key` (16, 24 or 32 bytes: AES-128/192/256, as Go's `aes.NewCipher`
/// picks by key length), IV = the key's first 16 bytes, PKCS#7, standard base64. An empty
/// content gives the empty string.
///
/// Returns a `Result` because the key length is an input: a key that is not 16, 24 or 32
/// bytes is [`CryptoError::KeyLength`]. Keys from [`new_data_key`] never fail.
pub fn encrypt(content: &str, key: &[u8]) -> Result<String, CryptoError> {
    let ciphertext = match key.len() {
        16 => cbc_encrypt::<aes::Aes128>(key, content.as_bytes())?,
        24 => cbc_encrypt::<aes::Aes192>(key, content.as_bytes())?,
        32 => cbc_encrypt::<aes::Aes256>(key, content.as_bytes())?,
        n => return Err(CryptoError::KeyLength(n)),
    };
    if content.is_empty() {
        return Ok(String::new());
    }
    Ok(STANDARD.encode(ciphertext))
}

/// Decrypts what [`encrypt`] produced (or the official server stored). The empty string
/// decrypts to the empty string; bad base64, a wrong key length, a truncated ciphertext, wrong
/// padding or non-UTF-8 plaintext are errors.
pub fn decrypt(ciphertext_b64: &str, key: &[u8]) -> Result<String, CryptoError> {
    if !matches!(key.len(), 16 | 24 | 32) {
        return Err(CryptoError::KeyLength(key.len()));
    }
    if ciphertext_b64.is_empty() {
        return Ok(String::new());
    }
    let ciphertext = STANDARD
        .decode(ciphertext_b64)
        .map_err(|_| CryptoError::Base64("ciphertext"))?;
    let plain = match key.len() {
        16 => cbc_decrypt::<aes::Aes128>(key, &ciphertext)?,
        24 => cbc_decrypt::<aes::Aes192>(key, &ciphertext)?,
        _ => cbc_decrypt::<aes::Aes256>(key, &ciphertext)?,
    };
    String::from_utf8(plain).map_err(|_| CryptoError::NotUtf8)
}

/// Decodes a stored data key (standard base64, as in `internal-datakey`).
pub fn decode_data_key(data_key_b64: &str) -> Result<Vec<u8>, CryptoError> {
    let key = STANDARD
        .decode(data_key_b64)
        .map_err(|_| CryptoError::Base64("data key"))?;
    if !matches!(key.len(), 16 | 24 | 32) {
        return Err(CryptoError::KeyLength(key.len()));
    }
    Ok(key)
}

/// The plaintext of a stored content given the stored base64 data key (what the console GET,
/// release GET and history show).
pub fn decrypt_with_data_key(
    ciphertext_b64: &str,
    data_key_b64: &str,
) -> Result<String, CryptoError> {
    decrypt(ciphertext_b64, &decode_data_key(data_key_b64)?)
}

/// Parses a client public key: base64 of PKCS#1 `RSAPublicKey` DER (what the SDKs send); an
/// X.509 `SubjectPublicKeyInfo` wrapping an RSA key is accepted too. Keys over
/// [`MAX_RSA_BITS`] are refused before any arithmetic.
fn parse_public_key(client_public_key_b64: &str) -> Result<RsaPublicKey, CryptoError> {
    let der = STANDARD
        .decode(client_public_key_b64.trim())
        .map_err(|_| CryptoError::Base64("public key"))?;
    let pkcs1_der: &[u8] = match rsa::pkcs8::SubjectPublicKeyInfoRef::from_der(&der) {
        Ok(spki) if spki.algorithm.oid == rsa::pkcs1::ALGORITHM_OID => spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| CryptoError::PublicKey("malformed key bit string".into()))?,
        Ok(spki) => {
            return Err(CryptoError::PublicKey(format!(
                "not an RSA key (algorithm {})",
                spki.algorithm.oid
            )));
        }
        Err(_) => &der,
    };
    let parsed = rsa::pkcs1::RsaPublicKey::from_der(pkcs1_der)
        .map_err(|e| CryptoError::PublicKey(e.to_string()))?;
    let n = BigUint::from_bytes_be(parsed.modulus.as_bytes());
    let e = BigUint::from_bytes_be(parsed.public_exponent.as_bytes());
    let bits = n.bits() as u64;
    if bits > MAX_RSA_BITS {
        return Err(CryptoError::PublicKeyTooLarge(bits));
    }
    RsaPublicKey::new(n, e).map_err(|e| CryptoError::PublicKey(e.to_string()))
}

/// Wraps a data key for a client: RSA PKCS#1 v1.5 encryption of the **raw** key bytes under
/// the client's public key (base64 of PKCS#1 DER), segmented at key size − 11 bytes as the
/// official `common/rsa` does (one block for a 16-byte key), returned as standard base64.
///
/// Errors for bad base64, a key that does not parse, a key over 4096 bits, or a key too small
/// for PKCS#1 v1.5. (Officially a key that fails to parse is logged and the unwrapped base64
/// data key is returned instead; that choice belongs to the caller.)
pub fn wrap_data_key(
    data_key_b64: &str,
    client_public_key_b64: &str,
) -> Result<String, CryptoError> {
    let data_key = decode_data_key(data_key_b64)?;
    let public_key = parse_public_key(client_public_key_b64)?;
    let block = rsa::traits::PublicKeyParts::size(&public_key);
    let chunk = block
        .checked_sub(11)
        .filter(|c| *c > 0)
        .ok_or_else(|| CryptoError::PublicKey(format!("{} bits is too small", block * 8)))?;
    let mut out = Vec::with_capacity(data_key.len().div_ceil(chunk) * block);
    for part in data_key.chunks(chunk) {
        let sealed = public_key
            .encrypt(&mut OsRng, Pkcs1v15Encrypt, part)
            .map_err(|e| CryptoError::Rsa(e.to_string()))?;
        out.extend_from_slice(&sealed);
    }
    Ok(STANDARD.encode(out))
}

/// Applies a write's encryption choice to its content and attributes: the stored content is
/// the ciphertext when `attrs.encrypted`, with the algorithm and data key filled in. An
/// encrypted write keeps the current file's data key when it stays encrypted with the same
/// algorithm (as officially), else draws a new one; an unencrypted write drops the key and the
/// algorithm. A caller's data key is never used.
pub(crate) fn seal(
    content: String,
    mut attrs: FileAttrs,
    current: Option<&ConfigFile>,
) -> Result<(String, FileAttrs), CryptoError> {
    if !attrs.encrypted {
        attrs.encrypt_algo.clear();
        attrs.data_key.clear();
        return Ok((content, attrs));
    }
    if attrs.encrypt_algo.is_empty() {
        attrs.encrypt_algo = DEFAULT_ALGORITHM.to_string();
    }
    if !ALGORITHMS.contains(&attrs.encrypt_algo.as_str()) {
        return Err(CryptoError::UnknownAlgorithm(attrs.encrypt_algo));
    }
    let reused = current
        .map(|f| &f.attrs)
        .filter(|a| a.encrypted && a.encrypt_algo == attrs.encrypt_algo)
        .and_then(|a| decode_data_key(&a.data_key).ok());
    let key = reused.unwrap_or_else(new_data_key);
    attrs.data_key = STANDARD.encode(&key);
    Ok((encrypt(&content, &key)?, attrs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs1::der::Encode;

    /// ASCII "0123456789abcdef".
    const KAT_KEY: &[u8; 16] = b"0123456789abcdef";

    // `openssl genrsa -traditional -out fx.pem 1024`, then
    // `openssl rsa -in fx.pem -traditional -outform DER | base64 -w0` (private, PKCS#1),
    // `openssl rsa -in fx.pem -RSAPublicKey_out -outform DER | base64 -w0` (public, PKCS#1),
    // `openssl rsa -in fx.pem -pubout -outform DER | base64 -w0` (public, SPKI). Test only.
    const PRIVATE_PKCS1: &str = "MIICWwIBAAKBgQDR/VE5hEhi7oSWO51DJ8iQJ8QuK2TG7utnhzSZRDM7XEdasc05D7SRbFyaL46eLMZAoKF2JY6wM+eMzudD5AT13AAxlAab0dNRwZe2CKgVS8ljktGAk1FN9UOnB4cW4TpcgD1uhFY8FH/+dyXY8Y34vLktDMX9EXwCR8tb6E8k0wIDAQABAoGAEXtVV8R7gkD5KMitvvmA6P9mhbF3IlihoGzRJDFZUofMKPDEdQuprLGow+1Rojl4B8lXp85YorKvhDl1Z2GESAzysepEiTHR4LG5NsNoHM4MMT2CYw585E9r/rIG390FFyvqVz0ebLTuCGnAVNl1VD3shLUi2F6nNbQ6kThnFQECQQDzIjTNcaDGtdta7y9dwZqZN645opmfLVAh9BaHne6tS8l5xbeW/IVrVFau5RiydiwnnSLeeXMLr9k4Vfv0HcIpAkEA3RoZcjJ43k1kNuWwHdCytqbDKDciOHWwrEIjvHV0mEw4I6zeXbHWyPK5b0GRPd1ZkVH4FevPxUESAG5cz8SmmwJAHkXEDVB4lEVQaqIdY68XcLxeFQ8J0afyskeSBpDDhxBIpcDYexQ2CIcXw+8ChDXyiXwnO0wj5vCeO0V5eYu7AQJAEqPBo2v33p3dpfclKs5OUrGqYDiNrP7W/x6wTpIEW1aJoRBQystUVSqJUYTQjsubYnHrnUV9BZ8fumOTdXyZowJAC92bX0lNOuRRT9AXdHfyCGGOke6Mlgj2TKjSbEP8GuqEvcQrId65jT17+JZWR1Mut/10o4HIfvavhXsKbMsH/Q==";
    const PUBLIC_PKCS1: &str = "MIGJAoGBANH9UTmESGLuhJY7nUMnyJAnxC4rZMbu62eHNJlEMztcR1qxzTkPtJFsXJovjp4sxkCgoXYljrAz54zO50PkBPXcADGUBpvR01HBl7YIqBVLyWOS0YCTUU31Q6cHhxbhOlyAPW6EVjwUf/53Jdjxjfi8uS0Mxf0RfAJHy1voTyTTAgMBAAE=";
    const PUBLIC_SPKI: &str = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDR/VE5hEhi7oSWO51DJ8iQJ8QuK2TG7utnhzSZRDM7XEdasc05D7SRbFyaL46eLMZAoKF2JY6wM+eMzudD5AT13AAxlAab0dNRwZe2CKgVS8ljktGAk1FN9UOnB4cW4TpcgD1uhFY8FH/+dyXY8Y34vLktDMX9EXwCR8tb6E8k0wIDAQAB";

    fn unwrap_with_fixture(wrapped_b64: &str) -> Vec<u8> {
        let der = STANDARD.decode(PRIVATE_PKCS1).expect("fixture base64");
        let private = rsa::RsaPrivateKey::from_pkcs1_der(&der).expect("fixture key");
        let wrapped = STANDARD.decode(wrapped_b64).expect("wrapped base64");
        assert_eq!(wrapped.len(), 128, "one 1024-bit block");
        private
            .decrypt(Pkcs1v15Encrypt, &wrapped)
            .expect("PKCS#1 v1.5 decrypt")
    }

    #[test]
    fn known_answers_match_openssl() {
        // Reference, on this machine (OpenSSL 3; Python `cryptography` 48 agrees):
        //   K=30313233343536373839616263646566   # "0123456789abcdef"
        //   printf 'name: polaris\nregion: 上海\n' | openssl enc -aes-128-cbc -K $K -iv $K -base64 -A
        //   printf '0123456789abcdef' | openssl enc -aes-128-cbc -K $K -iv $K -base64 -A
        // (openssl enc pads with PKCS#7 by default; -iv $K is the official IV = key.)
        let cases = [
            (
                "name: polaris\nregion: 上海\n",
                "50crihradDQEM3XM0Y6VL93v5mokCNRZ7hWLod8ZDvE=",
            ),
            // A whole block gains a whole block of padding.
            (
                "0123456789abcdef",
                "C5sV2ktEoPUVHc/EwB811b8xuRnjiS3cO1khLWp7EeY=",
            ),
        ];
        for (plain, cipher) in cases {
            assert_eq!(encrypt(plain, KAT_KEY).as_deref(), Ok(cipher));
            assert_eq!(decrypt(cipher, KAT_KEY).as_deref(), Ok(plain));
        }
    }

    #[test]
    fn round_trips_with_fresh_keys() {
        let key = new_data_key();
        assert_eq!(key.len(), DATA_KEY_LEN);
        assert_ne!(key, new_data_key(), "keys are random");
        for plain in ["", "a", "x: 1\ny: [1, 2]\n", &"配置".repeat(5000)] {
            let cipher = encrypt(plain, &key).expect("16-byte key");
            assert_eq!(decrypt(&cipher, &key).as_deref(), Ok(plain));
        }
        assert_eq!(encrypt("", &key).as_deref(), Ok(""), "empty stays empty");
        for len in [24, 32] {
            let key = vec![7u8; len];
            let cipher = encrypt("wider keys", &key).expect("AES-192/256");
            assert_eq!(decrypt(&cipher, &key).as_deref(), Ok("wider keys"));
        }
        let b64 = STANDARD.encode(&key);
        let cipher = encrypt("via base64", &key).expect("key");
        assert_eq!(
            decrypt_with_data_key(&cipher, &b64).as_deref(),
            Ok("via base64")
        );
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let good = encrypt("some config content", KAT_KEY).expect("key");
        let raw = STANDARD.decode(&good).expect("base64");
        let truncated = STANDARD.encode(&raw[..raw.len() - 1]);
        let one_block_short = STANDARD.encode(&raw[..16]);
        let mut flipped = raw.clone();
        if let Some(last) = flipped.last_mut() {
            *last ^= 0xff;
        }
        assert_eq!(decrypt(&truncated, KAT_KEY), Err(CryptoError::Ciphertext));
        assert!(decrypt(&one_block_short, KAT_KEY).is_err());
        assert!(decrypt(&STANDARD.encode(flipped), KAT_KEY).is_err());
        assert!(decrypt(&STANDARD.encode([0u8; 16]), KAT_KEY).is_err());
        assert_eq!(
            decrypt("not base64!!", KAT_KEY),
            Err(CryptoError::Base64("ciphertext"))
        );
        assert_eq!(decrypt(&good, b"short"), Err(CryptoError::KeyLength(5)));
        assert_eq!(encrypt("x", &[0u8; 17]), Err(CryptoError::KeyLength(17)));
        assert_eq!(encrypt("x", &[]), Err(CryptoError::KeyLength(0)));
        assert_eq!(
            decrypt_with_data_key(&good, "%%%"),
            Err(CryptoError::Base64("data key"))
        );
        // Plaintext that is not UTF-8 (a Latin-1 byte) decrypts to an error.
        let mode = cbc::Encryptor::<aes::Aes128>::new_from_slices(KAT_KEY, KAT_KEY).expect("key");
        let sealed = mode.encrypt_padded_vec::<Pkcs7>(&[0xe9]);
        assert_eq!(
            decrypt(&STANDARD.encode(sealed), KAT_KEY),
            Err(CryptoError::NotUtf8)
        );
    }

    #[test]
    fn data_key_wraps_for_the_client_public_key() {
        let key = new_data_key();
        let b64 = STANDARD.encode(&key);
        let wrapped = wrap_data_key(&b64, PUBLIC_PKCS1).expect("PKCS#1 key");
        assert_eq!(unwrap_with_fixture(&wrapped), key);
        // Randomised padding: two wraps differ, both unwrap.
        let again = wrap_data_key(&b64, PUBLIC_PKCS1).expect("PKCS#1 key");
        assert_ne!(again, wrapped);
        assert_eq!(unwrap_with_fixture(&again), key);
        // An X.509 SubjectPublicKeyInfo of the same key works too.
        let spki = wrap_data_key(&b64, PUBLIC_SPKI).expect("SPKI key");
        assert_eq!(unwrap_with_fixture(&spki), key);
    }

    #[test]
    fn bad_public_keys_are_refused_clearly() {
        let b64 = STANDARD.encode(new_data_key());
        assert_eq!(
            wrap_data_key(&b64, "***"),
            Err(CryptoError::Base64("public key"))
        );
        assert!(matches!(
            wrap_data_key(&b64, &STANDARD.encode(b"not DER at all")),
            Err(CryptoError::PublicKey(_))
        ));
        let truncated = &PUBLIC_PKCS1[..PUBLIC_PKCS1.len() - 8];
        assert!(matches!(
            wrap_data_key(&b64, truncated),
            Err(CryptoError::Base64(_) | CryptoError::PublicKey(_))
        ));
        assert_eq!(
            wrap_data_key("%%", PUBLIC_PKCS1),
            Err(CryptoError::Base64("data key"))
        );
        // A well-formed PKCS#1 key with a 4104-bit modulus (arbitrary odd bytes).
        let mut modulus = vec![0xc5u8; 513];
        if let Some(last) = modulus.last_mut() {
            *last = 0x01;
        }
        let big = rsa::pkcs1::RsaPublicKey {
            modulus: rsa::pkcs1::UintRef::new(&modulus).expect("uint"),
            public_exponent: rsa::pkcs1::UintRef::new(&[1, 0, 1]).expect("uint"),
        }
        .to_der()
        .expect("DER");
        let err = wrap_data_key(&b64, &STANDARD.encode(big)).expect_err("too large");
        assert_eq!(err, CryptoError::PublicKeyTooLarge(4104));
        assert!(err.to_string().contains("4096"), "{err}");
    }

    #[test]
    fn seal_reuses_the_key_only_for_the_same_algorithm() {
        let encrypted = |algo: &str| FileAttrs {
            encrypted: true,
            encrypt_algo: algo.into(),
            // A caller's key is never used.
            data_key: STANDARD.encode([7u8; 16]),
            ..Default::default()
        };
        let (content, plain) = seal("x".into(), FileAttrs::default(), None).expect("plain");
        assert_eq!(
            (content.as_str(), plain.encrypted, plain.data_key.as_str()),
            ("x", false, "")
        );
        let (content, first) = seal("x: 1".into(), encrypted(""), None).expect("sealed");
        assert_eq!(first.encrypt_algo, "AES");
        assert_ne!(first.data_key, encrypted("").data_key);
        assert_eq!(
            decrypt_with_data_key(&content, &first.data_key).as_deref(),
            Ok("x: 1")
        );
        let current = ConfigFile {
            content,
            attrs: first.clone(),
            ..Default::default()
        };
        let (_, second) = seal("x: 2".into(), encrypted("AES"), Some(&current)).expect("sealed");
        assert_eq!(second.data_key, first.data_key, "same algorithm: same key");
        assert!(matches!(
            seal("x".into(), encrypted("SM4"), None),
            Err(CryptoError::UnknownAlgorithm(a)) if a == "SM4"
        ));
    }
}
