//! Encrypted config files: the client's RSA key pair and the AES-128-CBC content cipher.
//!
//! The client sends `public_key` (base64 of a PKCS#1 DER RSA public key); the server returns
//! the file's data key RSA-PKCS#1-v1.5-encrypted (base64) in tag `internal-datakey`, and the
//! content as base64 AES-CBC ciphertext with IV = key and PKCS#7 padding.

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockCipherDecrypt, BlockModeDecrypt, KeyInit, KeyIvInit};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::{Pkcs1v15Encrypt, RsaPrivateKey, RsaPublicKey};

use crate::error::{Error, Result};

/// The tag carrying the data key.
pub(crate) const DATA_KEY_TAG: &str = "internal-datakey";

/// The client's RSA key pair, generated once per client.
pub(crate) struct KeyPair {
    private: RsaPrivateKey,
    public_b64: String,
}

impl KeyPair {
    /// A fresh 1024-bit pair (the official SDKs' size; the key only wraps 16 bytes).
    pub(crate) fn generate() -> Result<KeyPair> {
        let mut rng = rsa::rand_core::OsRng;
        let private = RsaPrivateKey::new(&mut rng, 1024)
            .map_err(|e| Error::Crypto(format!("RSA key generation: {e}")))?;
        let der = RsaPublicKey::from(&private)
            .to_pkcs1_der()
            .map_err(|e| Error::Crypto(format!("RSA public key encoding: {e}")))?;
        Ok(KeyPair {
            private,
            public_b64: STANDARD.encode(der.as_bytes()),
        })
    }

    /// What to send as `public_key`.
    pub(crate) fn public_key(&self) -> &str {
        &self.public_b64
    }

    /// The raw data key from the tag value: RSA-unwrapped, or plain base64 when the server
    /// could not wrap it.
    pub(crate) fn data_key(&self, tag_value: &str) -> Result<Vec<u8>> {
        let bytes = STANDARD
            .decode(tag_value.trim())
            .map_err(|e| Error::Crypto(format!("data key is not base64: {e}")))?;
        if matches!(bytes.len(), 16 | 24 | 32) {
            return Ok(bytes);
        }
        self.private
            .decrypt(Pkcs1v15Encrypt, &bytes)
            .map_err(|e| Error::Crypto(format!("data key unwrap: {e}")))
    }
}

fn cbc_decrypt<C: BlockCipherDecrypt + KeyInit>(key: &[u8], data: &[u8]) -> Result<Vec<u8>> {
    let mode = cbc::Decryptor::<C>::new_from_slices(key, &key[..16])
        .map_err(|e| Error::Crypto(format!("bad key: {e}")))?;
    mode.decrypt_padded_vec::<Pkcs7>(data)
        .map_err(|_| Error::Crypto("bad padding (wrong key?)".into()))
}

/// Decrypts base64 AES-CBC content (IV = first 16 key bytes, PKCS#7). Empty stays empty.
pub(crate) fn decrypt(content_b64: &str, key: &[u8]) -> Result<String> {
    if content_b64.is_empty() {
        return Ok(String::new());
    }
    let data = STANDARD
        .decode(content_b64.trim())
        .map_err(|e| Error::Crypto(format!("content is not base64: {e}")))?;
    let plain = match key.len() {
        16 => cbc_decrypt::<aes::Aes128>(key, &data)?,
        24 => cbc_decrypt::<aes::Aes192>(key, &data)?,
        32 => cbc_decrypt::<aes::Aes256>(key, &data)?,
        n => return Err(Error::Crypto(format!("data key of {n} bytes"))),
    };
    String::from_utf8(plain).map_err(|_| Error::Crypto("content is not UTF-8".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::BlockModeEncrypt;

    fn encrypt(plain: &str, key: &[u8; 16]) -> String {
        let mode = cbc::Encryptor::<aes::Aes128>::new_from_slices(key, key).unwrap();
        STANDARD.encode(mode.encrypt_padded_vec::<Pkcs7>(plain.as_bytes()))
    }

    #[test]
    fn aes_round_trip_and_rsa_unwrap() {
        let key = *b"0123456789abcdef";
        let ct = encrypt("hello: world\n", &key);
        assert_eq!(decrypt(&ct, &key).unwrap(), "hello: world\n");
        assert_eq!(decrypt("", &key).unwrap(), "");
        assert!(decrypt(&ct, b"fedcba9876543210").is_err());

        let pair = KeyPair::generate().unwrap();
        let public = RsaPublicKey::from(&pair.private);
        let wrapped = public
            .encrypt(&mut rsa::rand_core::OsRng, Pkcs1v15Encrypt, &key)
            .unwrap();
        assert_eq!(pair.data_key(&STANDARD.encode(wrapped)).unwrap(), key);
        assert_eq!(pair.data_key(&STANDARD.encode(key)).unwrap(), key);
        assert!(!pair.public_key().is_empty());
    }
}
