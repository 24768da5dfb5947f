//! The config port's group listings, `Discover` stream and encrypted files, over loopback.

use std::time::Duration;

use polaris_proto::v1;
use polaris_proto::v1::config_discover_request::ConfigDiscoverRequestType as RequestType;
use polaris_proto::v1::config_discover_response::ConfigDiscoverResponseType as ResponseType;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::tests::{GROUP, NS, code, file, fixture, info, release, tag};

#[tokio::test]
async fn metadata_list_carries_a_revision() {
    let mut f = fixture().await;
    assert_eq!(code(&f.list("", None).await), 400000);
    let empty = f.list(GROUP, None).await;
    assert_eq!(code(&empty), 200000);
    assert!(empty.revision.is_none() && empty.config_file_infos.is_empty());

    f.create_and_publish("a.yaml", "a").await;
    f.create_and_publish("b.yaml", "b").await;
    let listed = f.list(GROUP, None).await;
    assert_eq!(code(&listed), 200000);
    assert_eq!(
        (listed.namespace.as_str(), listed.group.as_str()),
        (NS, GROUP)
    );
    let names: Vec<_> = listed
        .config_file_infos
        .iter()
        .map(|i| i.file_name.clone().unwrap_or_default())
        .collect();
    assert_eq!(names, ["a.yaml", "b.yaml"]);
    assert!(
        listed
            .config_file_infos
            .iter()
            .all(|i| i.release_time.is_some())
    );
    let revision = listed.revision.clone().expect("a revision");

    let unchanged = f.list(GROUP, Some(revision.clone())).await;
    assert_eq!(code(&unchanged), 200001);
    assert!(unchanged.config_file_infos.is_empty());

    assert_eq!(
        code(
            f.client
                .publish_config_file(release("a.yaml"))
                .await
                .unwrap()
                .get_ref()
        ),
        200000
    );
    let changed = f.list(GROUP, Some(revision.clone())).await;
    assert_eq!(code(&changed), 200000);
    assert_ne!(changed.revision, Some(revision));
}

fn discover(
    kind: RequestType,
    file: v1::ClientConfigFileInfo,
    revision: &str,
) -> v1::ConfigDiscoverRequest {
    v1::ConfigDiscoverRequest {
        r#type: kind as i32,
        config_file: Some(file),
        revision: revision.into(),
    }
}

#[tokio::test]
async fn discover_answers_every_request_in_order() {
    let mut f = fixture().await;
    f.create_and_publish("d.yaml", "hello").await;
    let (tx, rx) = mpsc::channel(16);
    let mut stream = f
        .client
        .discover(ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(5), stream.message())
            .await
            .expect("a reply in time")
            .unwrap()
            .expect("the stream is open")
    };
    let group = v1::ClientConfigFileInfo {
        namespace: Some(NS.into()),
        group: Some(GROUP.into()),
        ..Default::default()
    };
    for request in [
        discover(RequestType::ConfigFile, info("d.yaml", 0), ""),
        discover(RequestType::ConfigFileNames, group.clone(), ""),
        discover(RequestType::ConfigFileGroups, group.clone(), ""),
        discover(RequestType::Unknown, group.clone(), ""),
        discover(RequestType::ConfigFile, info("missing", 0), ""),
    ] {
        tx.send(request).await.unwrap();
    }
    let file = next().await;
    assert_eq!(
        (file.code, file.r#type),
        (200000, ResponseType::ConfigFile as i32)
    );
    let got = file.config_file.expect("the file");
    assert_eq!(got.content.as_deref(), Some("hello"));
    assert_eq!(file.revision, got.version.unwrap().to_string());

    let names = next().await;
    assert_eq!(
        (names.code, names.r#type),
        (200000, ResponseType::ConfigFileNames as i32)
    );
    assert_eq!(names.config_file_names.len(), 1);
    assert!(!names.revision.is_empty());

    let groups = next().await;
    assert_eq!(
        (groups.code, groups.r#type),
        (200000, ResponseType::ConfigFileGroups as i32)
    );
    let listed: Vec<_> = groups
        .config_file_groups
        .iter()
        .map(|g| g.name.clone())
        .collect();
    assert_eq!(listed, [Some(GROUP.to_string())]);

    let unknown = next().await;
    assert_eq!(
        (unknown.code, unknown.r#type),
        (400004, ResponseType::Unknown as i32)
    );
    assert_eq!(next().await.code, 400202);

    // With the revisions just received, nothing changed.
    tx.send(discover(
        RequestType::ConfigFileNames,
        group.clone(),
        &names.revision,
    ))
    .await
    .unwrap();
    tx.send(discover(
        RequestType::ConfigFileGroups,
        group.clone(),
        &groups.revision,
    ))
    .await
    .unwrap();
    assert_eq!(next().await.code, 200001);
    assert_eq!(next().await.code, 200001);
    drop(tx);
    let end = tokio::time::timeout(Duration::from_secs(5), stream.message()).await;
    assert!(
        matches!(end, Ok(Ok(None))),
        "the stream ends with the requests"
    );
}

/// A 1024-bit RSA public key, base64 of PKCS#1 DER, as the SDKs send it.
const CLIENT_PUBLIC_KEY: &str = "MIGJAoGBAJJBanqIDh7+h7HGl9jS2JTq11k8LemR1r7tAUmWHBiJBiy50wG329Z8S5/oBYp6pYOLx+UFfs6881HPX9tB2ZCeahRAT61EH5tDoFf6a4Aib6DGREXhwEYIIGsG+tLG3UmgxkNT+PElIVe4vDJbq2iMjW8h2NSGaI1r1nlop9wBAgMBAAE=";

fn tag_value<'a>(file: &'a v1::ClientConfigFileInfo, key: &str) -> Option<&'a str> {
    file.tags
        .iter()
        .find(|t| t.key.as_deref() == Some(key))
        .and_then(|t| t.value.as_deref())
}

#[tokio::test]
async fn encrypted_files_carry_ciphertext_and_the_data_key() {
    let mut f = fixture().await;
    let secret = v1::ConfigFile {
        encrypted: Some(true),
        encrypt_algo: Some("AES".into()),
        tags: vec![tag("team", "pay")],
        ..file("secret.yaml", "password: s3cret")
    };
    let created = f.client.create_config_file(secret).await.unwrap();
    assert_eq!(code(created.get_ref()), 200000, "{created:?}");
    let published = f.client.publish_config_file(release("secret.yaml")).await;
    assert_eq!(code(published.unwrap().get_ref()), 200000);

    let got = f.get(info("secret.yaml", 0)).await.config_file.unwrap();
    assert_eq!(got.encrypted, Some(true));
    let ciphertext = got.content.clone().unwrap();
    assert_ne!(ciphertext, "password: s3cret");
    assert_eq!(tag_value(&got, "team"), Some("pay"));
    assert_eq!(tag_value(&got, "internal-encrypted"), Some("true"));
    assert_eq!(tag_value(&got, "internal-encryptalgo"), Some("AES"));
    let data_key = tag_value(&got, "internal-datakey").expect("the data key");
    let plain = polaris_config::crypto::decrypt_with_data_key(&ciphertext, data_key).unwrap();
    assert_eq!(plain, "password: s3cret");

    // A public key that does not parse gets the stored key, as officially.
    let broken = v1::ClientConfigFileInfo {
        public_key: Some("not a key".into()),
        ..info("secret.yaml", 0)
    };
    let fallback = f.get(broken).await.config_file.unwrap();
    assert_eq!(tag_value(&fallback, "internal-datakey"), Some(data_key));
    // A real one gets the key RSA-wrapped: one 1024-bit block, base64.
    let wrapped = v1::ClientConfigFileInfo {
        public_key: Some(CLIENT_PUBLIC_KEY.into()),
        encrypted: Some(true),
        ..info("secret.yaml", 0)
    };
    let wrapped = f.get(wrapped).await.config_file.unwrap();
    let sealed = tag_value(&wrapped, "internal-datakey").expect("a wrapped key");
    assert_ne!(sealed, data_key);
    assert_eq!(sealed.len(), 172, "base64 of 128 bytes");
    assert_eq!(wrapped.content.as_deref(), Some(ciphertext.as_str()));
}
