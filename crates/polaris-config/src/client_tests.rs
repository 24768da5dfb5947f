//! Tests of the config client read model.

use super::*;
use polaris_types::FileAttrs;

#[test]
fn mapped_ipv4_peers_are_ipv4() {
    let mapped: IpAddr = "::ffff:10.0.0.7".parse().unwrap();
    assert_eq!(client_ip(mapped), "10.0.0.7");
    let v6: IpAddr = "fe80::1".parse().unwrap();
    assert_eq!(client_ip(v6), "fe80::1");
}

#[test]
fn labels_default_to_the_peer_and_repeated_keys_keep_the_last() {
    assert_eq!(
        client_labels(Vec::new(), "1.2.3.4"),
        vec![(CLIENT_IP_LABEL.to_string(), "1.2.3.4".to_string())]
    );
    let tags = vec![
        ("a".to_string(), "1".to_string()),
        ("b".to_string(), "2".to_string()),
        ("a".to_string(), "3".to_string()),
    ];
    assert_eq!(
        client_labels(tags, "ignored"),
        vec![
            ("a".to_string(), "3".to_string()),
            ("b".to_string(), "2".to_string())
        ]
    );
}

#[test]
fn names_are_not_trimmed_and_must_be_complete() {
    assert_eq!(client_key(" ns", "g", "f").unwrap().namespace, " ns");
    assert_eq!(
        client_key("ns", "", "f").unwrap_err().code,
        Code::BadRequest
    );
}

#[test]
fn gray_publish_needs_compiling_labels() {
    let mut request = PublishRequest {
        key: ConfigFileKey::new("ns", "g", "f"),
        release_type: "gray".into(),
        comment: "c".into(),
        ..Default::default()
    };
    assert!(publish_spec(request.clone()).is_err());
    request.beta_labels = vec![BetaLabel {
        key: "k".into(),
        match_type: 1,
        value: "(".into(),
    }];
    assert!(publish_spec(request.clone()).is_err());
    request.beta_labels[0].value = "v.*".into();
    let spec = publish_spec(request).unwrap();
    assert_eq!(spec.comment, "c");
    assert_eq!(spec.gray_labels.unwrap()[0].match_type, "REGEX");
}

#[test]
fn internal_tags_are_replaced_by_the_release_encryption() {
    let release = ConfigRelease {
        attrs: FileAttrs {
            tags: vec![
                ("user".into(), "1".into()),
                (ENCRYPTED_TAG.into(), "false".into()),
                (DATA_KEY_TAG.into(), "stale".into()),
            ],
            encrypted: true,
            encrypt_algo: "AES".into(),
            data_key: "a2V5".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(
        client_tags(&release, None),
        vec![
            ("user".to_string(), "1".to_string()),
            (ENCRYPTED_TAG.to_string(), "true".to_string()),
            (ENCRYPT_ALGO_TAG.to_string(), "AES".to_string()),
            (DATA_KEY_TAG.to_string(), "a2V5".to_string()),
        ]
    );
}
