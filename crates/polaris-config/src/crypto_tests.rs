//! Encrypted config files through the config center (in-memory store).

use std::sync::Arc;

use polaris_store::memory::MemoryStore;
use polaris_types::{Code, ConfigFileKey, FileAttrs};

use crate::crypto::{self, CryptoError};
use crate::writes::content_md5;
use crate::{ConfigCenter, FileSpec, PublishSpec};

const PLAIN: &str = "db:\n  password: s3cret\nregion: 上海\n";

async fn center() -> (Arc<MemoryStore>, ConfigCenter) {
    let store = Arc::new(MemoryStore::new());
    let center = ConfigCenter::open(store.clone()).await.expect("open");
    (store, center)
}

fn key() -> ConfigFileKey {
    ConfigFileKey::new("default", "secure", "db.yaml")
}

fn encrypted(content: &str) -> FileSpec {
    FileSpec {
        key: key(),
        content: content.into(),
        attrs: FileAttrs {
            format: "yaml".into(),
            encrypted: true,
            ..Default::default()
        },
    }
}

fn publish() -> PublishSpec {
    PublishSpec {
        key: key(),
        ..Default::default()
    }
}

#[tokio::test]
async fn an_encrypted_release_carries_ciphertext_and_its_md5() {
    let (store, config) = center().await;
    let file = config.create_file(encrypted(PLAIN)).await.expect("create");
    assert!(file.attrs.encrypted);
    assert_eq!(file.attrs.encrypt_algo, "AES");
    assert_ne!(file.content, PLAIN, "stored as ciphertext");
    assert_eq!(
        crypto::decode_data_key(&file.attrs.data_key).map(|k| k.len()),
        Ok(16)
    );

    let release = config.publish(publish()).await.expect("publish");
    assert_ne!(release.content, PLAIN);
    assert_eq!(release.content, file.content);
    assert_eq!(
        release.md5,
        content_md5(&release.content),
        "MD5 of ciphertext"
    );
    assert_ne!(release.md5, content_md5(PLAIN));
    assert!(release.attrs.encrypted);
    assert_eq!(release.attrs.data_key, file.attrs.data_key);
    assert_eq!(
        crypto::decrypt_with_data_key(&release.content, &release.attrs.data_key).as_deref(),
        Ok(PLAIN)
    );
    // What a client gets is the same ciphertext, and its wrapped key is the data key.
    let got = config
        .client_release(&key(), 0, &[])
        .expect("released")
        .expect("newer");
    assert_eq!(got.content, release.content);

    // Durable: a reopened center still decrypts.
    let reopened = ConfigCenter::open(Arc::new(MemoryStore::open(store.data())))
        .await
        .expect("reopen");
    let again = reopened
        .client_release(&key(), 0, &[])
        .expect("released")
        .expect("newer");
    assert_eq!(
        crypto::decrypt_with_data_key(&again.content, &again.attrs.data_key).as_deref(),
        Ok(PLAIN)
    );
}

#[tokio::test]
async fn updates_keep_the_key_and_turning_off_strips_it() {
    let (_store, config) = center().await;
    let first = config.create_file(encrypted("a: 1")).await.expect("create");
    let second = config.update_file(encrypted("a: 2")).await.expect("update");
    assert_eq!(
        second.attrs.data_key, first.attrs.data_key,
        "same algorithm: key reused"
    );
    assert_eq!(
        crypto::decrypt_with_data_key(&second.content, &second.attrs.data_key).as_deref(),
        Ok("a: 2")
    );
    let plain = config
        .update_file(FileSpec {
            attrs: FileAttrs {
                encrypted: false,
                ..encrypted("").attrs
            },
            ..encrypted("a: 3")
        })
        .await
        .expect("update");
    assert_eq!(
        (
            plain.content.as_str(),
            plain.attrs.encrypted,
            plain.attrs.encrypt_algo.as_str(),
            plain.attrs.data_key.as_str()
        ),
        ("a: 3", false, "", "")
    );
    let third = config.update_file(encrypted("a: 4")).await.expect("update");
    assert_ne!(
        third.attrs.data_key, first.attrs.data_key,
        "re-encrypting draws a new key"
    );
}

#[tokio::test]
async fn cas_compares_against_the_ciphertext_md5() {
    let (_store, config) = center().await;
    let file = config.create_file(encrypted("v: 1")).await.expect("create");
    let wrong = config
        .upsert_and_publish(encrypted("v: 2"), Some(&content_md5("v: 1")), publish())
        .await
        .expect_err("plaintext md5 is not the stored md5");
    assert_eq!(wrong.code, Code::DataConflict);
    let release = config
        .upsert_and_publish(
            encrypted("v: 2"),
            Some(&content_md5(&file.content)),
            publish(),
        )
        .await
        .expect("ciphertext md5 matches");
    assert_eq!(release.attrs.data_key, file.attrs.data_key);
    assert_eq!(
        crypto::decrypt_with_data_key(&release.content, &release.attrs.data_key).as_deref(),
        Ok("v: 2")
    );
}

#[tokio::test]
async fn an_unknown_algorithm_is_refused_before_anything_is_written() {
    let (_store, config) = center().await;
    let err = config
        .create_file(FileSpec {
            attrs: FileAttrs {
                encrypt_algo: "SM4".into(),
                ..encrypted("").attrs
            },
            ..encrypted("x")
        })
        .await
        .expect_err("unknown algorithm");
    assert_eq!(
        err.detail,
        CryptoError::UnknownAlgorithm("SM4".into()).to_string()
    );
    assert!(config.snapshot().files.get(&key()).is_none());
}
