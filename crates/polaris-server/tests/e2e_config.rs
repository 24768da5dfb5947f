//! The config center over HTTP against the real binary: groups, files, publish, client pull
//! and long-poll watch, gray releases, rollback, history, export/import, and hostile input
//! (oversized content, bad names, wrong JSON types, path traversal and zip bombs in imports).

mod common;

use std::time::{Duration, Instant};

use common::{Resp, TestServer, assert_code};
use serde_json::{Value, json};

const C: &str = "/config/v1";

fn delete(server: &TestServer, path: &str) -> Resp {
    let response = common::agent()
        .delete(&format!("{}{path}", server.base_url()))
        .call()
        .unwrap_or_else(|e| panic!("DELETE {path}: {e}"));
    common::into_resp(response)
}

/// Posts `archive` as the multipart field `config` of an import.
fn import(server: &TestServer, query: &str, archive: &[u8]) -> Resp {
    let mut body = b"--XBOUNDARY\r\nContent-Disposition: form-data; name=\"config\"; filename=\"config.zip\"\r\nContent-Type: application/zip\r\n\r\n".to_vec();
    body.extend_from_slice(archive);
    body.extend_from_slice(b"\r\n--XBOUNDARY--\r\n");
    let response = common::agent()
        .post(&format!(
            "{}{C}/configfiles/import?{query}",
            server.base_url()
        ))
        .header("Content-Type", "multipart/form-data; boundary=XBOUNDARY")
        .send(&body[..])
        .expect("import");
    common::into_resp(response)
}

fn ok(resp: &Resp) {
    assert_code(resp, 200_000);
}

fn file(group: &str, name: &str, content: &str) -> String {
    json!({ "namespace": "default", "group": group, "name": name, "content": content,
            "format": "yaml" })
    .to_string()
}

fn publish(server: &TestServer, group: &str, name: &str, release: &str) -> Resp {
    let body = json!({ "namespace": "default", "group": group, "fileName": name, "name": release });
    server.post_full(&format!("{C}/configfiles/release"), &body.to_string())
}

fn client_get(server: &TestServer, group: &str, name: &str, tags: &str) -> Resp {
    server.get_full(&format!(
        "/v1/GetConfigFile?namespace=default&group={group}&fileName={name}{tags}"
    ))
}

#[test]
fn publish_pull_watch_gray_rollback_history() {
    let server = TestServer::start();
    let group = json!({ "namespace": "default", "name": "g1", "comment": "c" }).to_string();
    ok(&server.post_full(&format!("{C}/configfilegroups"), &group));
    assert_code(
        &server.post_full(&format!("{C}/configfilegroups"), &group),
        400_201,
    );
    ok(&server.post_full(&format!("{C}/configfiles"), &file("g1", "app.yaml", "a: 1")));
    ok(&publish(&server, "g1", "app.yaml", "r1"));

    let got = client_get(&server, "g1", "app.yaml", "");
    ok(&got);
    assert_eq!(got.body["configFile"]["content"], "a: 1");
    assert_eq!(
        got.body["configFile"]["version"], "1",
        "64-bit versions are strings"
    );
    assert_eq!(
        got.body["configFile"]["md5"],
        "270f9e65a80226eccd82c99cdd0dd2fb"
    );
    assert_code(&client_get(&server, "g1", "nope.yaml", ""), 400_202);
    let newer =
        server.get_full("/v1/GetConfigFile?namespace=default&group=g1&fileName=app.yaml&version=9");
    assert_code(&newer, 200_001);

    let groups = server.get_full(&format!("{C}/configfilegroups?namespace=default"));
    ok(&groups);
    assert_eq!(groups.body["total"], 1);
    assert_eq!(groups.body["configFileGroups"][0]["fileCount"], "1");
    assert_code(
        &delete(
            &server,
            &format!("{C}/configfilegroups?namespace=default&group=g1"),
        ),
        400_201,
    );

    // A watch at the current version is woken by a concurrent publish.
    let watch = json!({ "watchFiles": [{ "namespace": "default", "group": "g1",
                                          "fileName": "app.yaml", "version": 1 }] });
    let started = Instant::now();
    let base = server.base_url();
    let publisher = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        let agent = common::agent();
        let body = file("g1", "app.yaml", "a: 2");
        agent
            .put(&format!("{base}{C}/configfiles"))
            .header("Content-Type", "application/json")
            .send(body.as_bytes())
            .expect("update");
        let release = json!({ "namespace": "default", "group": "g1", "fileName": "app.yaml",
                              "name": "r2" });
        agent
            .post(&format!("{base}{C}/configfiles/release"))
            .header("Content-Type", "application/json")
            .send(release.to_string().as_bytes())
            .expect("publish");
    });
    let woken = server.post_full("/v1/WatchConfigFile", &watch.to_string());
    publisher.join().unwrap();
    ok(&woken);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "woken by the publish"
    );
    assert_eq!(woken.body["configFile"]["version"], "2");
    assert_eq!(woken.body["configFile"]["name"], "r2");
    assert_code(
        &server.post_full("/v1/WatchConfigFile", r#"{"watchFiles":[]}"#),
        400_806,
    );

    // Gray: only a client whose labels match sees it; no publish while it is active.
    ok(&server.put_full(
        &format!("{C}/configfiles"),
        &file("g1", "app.yaml", "a: gray"),
    ));
    let gray = json!({ "namespace": "default", "group": "g1", "fileName": "app.yaml",
        "name": "beta", "releaseType": "gray",
        "betaLabels": [{ "key": "CLIENT_IP", "value": { "type": "EXACT", "value": "10.0.0.7" } }] });
    ok(&server.post_full(&format!("{C}/configfiles/release"), &gray.to_string()));
    let matching = client_get(&server, "g1", "app.yaml", "&tags=CLIENT_IP%3D10.0.0.7");
    assert_eq!(matching.body["configFile"]["content"], "a: gray");
    let other = client_get(&server, "g1", "app.yaml", "&tags=CLIENT_IP%3D10.0.0.8");
    assert_eq!(other.body["configFile"]["content"], "a: 2");
    assert_eq!(
        client_get(&server, "g1", "app.yaml", "").body["configFile"]["content"],
        "a: 2"
    );
    let no_labels = json!({ "namespace": "default", "group": "g1", "fileName": "app.yaml",
                            "releaseType": "gray" });
    assert_code(
        &server.post_full(&format!("{C}/configfiles/release"), &no_labels.to_string()),
        400_904,
    );
    let pub_info = json!({ "namespace": "default", "group": "g1", "file_name": "app.yaml",
                           "content": "a: 3" });
    assert_code(
        &server.post_full(
            &format!("{C}/configfiles/createandpub"),
            &pub_info.to_string(),
        ),
        409_000,
    );
    let stop = json!([{ "namespace": "default", "group": "g1", "fileName": "app.yaml" }]);
    ok(&server.post_full(
        &format!("{C}/configfiles/releases/stopbeta"),
        &stop.to_string(),
    ));
    let matching = client_get(&server, "g1", "app.yaml", "&tags=CLIENT_IP%3D10.0.0.7");
    assert_eq!(matching.body["configFile"]["content"], "a: 2");
    ok(&server.post_full(
        &format!("{C}/configfiles/createandpub"),
        &pub_info.to_string(),
    ));
    assert_eq!(
        client_get(&server, "g1", "app.yaml", "").body["configFile"]["content"],
        "a: 3"
    );

    // Rollback to r1: its content again. (The official server also gives it a new, higher
    // version; the domain's rollback keeps r1's version, a reported gap.)
    let rollback = json!([{ "namespace": "default", "group": "g1", "fileName": "app.yaml",
                            "name": "r1" }]);
    let rolled = server.put_full(
        &format!("{C}/configfiles/releases/rollback"),
        &rollback.to_string(),
    );
    ok(&rolled);
    assert_eq!(rolled.body["total"], 1);
    let after = client_get(&server, "g1", "app.yaml", "");
    assert_eq!(after.body["configFile"]["content"], "a: 1");
    let missing = json!([{ "namespace": "default", "group": "g1", "fileName": "app.yaml",
                           "name": "nope" }]);
    assert_code(
        &server.put_full(
            &format!("{C}/configfiles/releases/rollback"),
            &missing.to_string(),
        ),
        400_202,
    );

    let history = server.get_full(&format!(
        "{C}/configfiles/releasehistory?namespace=default&group=g1&name=app.yaml"
    ));
    ok(&history);
    let kinds: Vec<&str> = history.body["configFileReleaseHistories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "rollback",
            "normal",
            "cancel-gray",
            "betaing",
            "normal",
            "normal"
        ]
    );
    assert_eq!(history.body["total"], 6);
    let release = server.get_full(&format!(
        "{C}/configfiles/release?namespace=default&group=g1&file_name=app.yaml"
    ));
    assert_eq!(release.body["configFileRelease"]["name"], "r1");
    let versions = server.get_full(&format!(
        "{C}/configfiles/release/versions?namespace=default&group=g1&file_name=app.yaml"
    ));
    assert_eq!(versions.body["total"], 3, "{}", versions.text);
    let listed = server.get_full(&format!(
        "{C}/configfiles/releases?namespace=default&only_active=true"
    ));
    assert_eq!(listed.body["total"], 1);
    let algos = server.get_full(&format!("{C}/configfiles/encryptalgorithm"));
    assert_eq!(algos.body["algorithms"], json!(["AES"]));
    let meta = json!({ "config_file_group": { "namespace": "default", "name": "g1" } });
    let list = server.post_full("/v1/GetConfigFileMetadataList", &meta.to_string());
    ok(&list);
    assert_eq!(list.body["config_file_infos"][0]["name"], "r1");
    let revision = list.body["revision"].as_str().unwrap();
    let same = json!({ "revision": revision, "config_file_group": { "namespace": "default", "name": "g1" } });
    assert_code(
        &server.post_full("/v1/GetConfigFileMetadataList", &same.to_string()),
        200_001,
    );
}

#[test]
fn export_then_import_round_trips() {
    let server = TestServer::start();
    ok(&server.post_full(&format!("{C}/configfiles"), &file("g2", "a.yaml", "a: 1")));
    let mut tagged: Value = serde_json::from_str(&file("g2", "dir/b.json", "{}")).unwrap();
    tagged["tags"] = json!([{ "key": "k", "value": "v" }]);
    tagged["format"] = json!("json");
    ok(&server.post_full(&format!("{C}/configfiles"), &tagged.to_string()));
    let mut response = common::agent()
        .post(&format!("{}{C}/configfiles/export", server.base_url()))
        .header("Content-Type", "application/json")
        .send(
            json!({ "namespace": "default", "groups": ["g2"] })
                .to_string()
                .as_bytes(),
        )
        .expect("export");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "application/zip");
    let archive = response.body_mut().read_to_vec().expect("zip bytes");
    assert!(archive.starts_with(b"PK\x03\x04"));

    for name in ["a.yaml", "dir/b.json"] {
        ok(&delete(
            &server,
            &format!("{C}/configfiles?namespace=default&group=g2&name={name}"),
        ));
    }
    let first = import(
        &server,
        "namespace=default&conflict_handling=skip",
        &archive,
    );
    ok(&first);
    assert_eq!(
        first.body["createConfigFiles"].as_array().unwrap().len(),
        2,
        "{}",
        first.text
    );
    let b = server.get_full(&format!(
        "{C}/configfiles?namespace=default&group=g2&name=dir/b.json"
    ));
    ok(&b);
    assert_eq!(b.body["configFile"]["content"], "{}");
    assert_eq!(b.body["configFile"]["format"], "json");
    assert_eq!(
        b.body["configFile"]["tags"],
        json!([{ "key": "k", "value": "v" }])
    );
    let skipped = import(
        &server,
        "namespace=default&conflict_handling=skip",
        &archive,
    );
    assert_eq!(skipped.body["skipConfigFiles"].as_array().unwrap().len(), 2);
    let over = import(
        &server,
        "namespace=default&conflict_handling=overwrite",
        &archive,
    );
    assert_eq!(
        over.body["overwriteConfigFiles"].as_array().unwrap().len(),
        2
    );
    let none = json!({ "namespace": "default", "groups": ["empty"] }).to_string();
    assert_code(
        &server.post_full(&format!("{C}/configfiles/export"), &none),
        400_807,
    );
}

#[test]
fn encrypted_files_are_plain_on_the_console_and_sealed_for_clients() {
    let server = TestServer::start();
    let mut secret: Value = serde_json::from_str(&file("g3", "db.yaml", "pw: s3cret")).unwrap();
    secret["encrypted"] = json!(true);
    secret["encryptAlgo"] = json!("AES");
    ok(&server.post_full(&format!("{C}/configfiles"), &secret.to_string()));
    ok(&publish(&server, "g3", "db.yaml", "r1"));
    let console = server.get_full(&format!(
        "{C}/configfiles?namespace=default&group=g3&name=db.yaml"
    ));
    assert_eq!(console.body["configFile"]["content"], "pw: s3cret");
    assert_eq!(console.body["configFile"]["encrypted"], true);
    let client = client_get(&server, "g3", "db.yaml", "");
    ok(&client);
    let sealed = &client.body["configFile"];
    assert_ne!(sealed["content"], "pw: s3cret");
    assert_eq!(sealed["encrypted"], true);
    let tags = sealed["tags"].as_array().unwrap();
    assert!(
        tags.iter().any(|t| t["key"] == "internal-datakey"),
        "{}",
        client.text
    );
}

/// Files, groups and releases as listed (the hostile test's "nothing changed" witness).
#[test]
fn templates_are_created_listed_and_refused_when_taken_or_misnamed() {
    let server = TestServer::start();
    let body =
        json!({ "name": "spring-boot", "content": "server.port=8080", "format": "properties" });
    ok(&server.post_full("/config/v1/configfiletemplates", &body.to_string()));
    let (_, listed) = server.get("/config/v1/configfiletemplates");
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["configFileTemplates"][0]["name"], "spring-boot");
    assert_eq!(
        listed["configFileTemplates"][0]["content"],
        "server.port=8080"
    );
    assert_code(
        &server.post_full("/config/v1/configfiletemplates", &body.to_string()),
        400_201,
    );
    let misnamed = json!({ "name": "bad name", "content": "x" });
    assert_code(
        &server.post_full("/config/v1/configfiletemplates", &misnamed.to_string()),
        400_808,
    );
}

fn state(server: &TestServer) -> Value {
    let files = server.get_full(&format!("{C}/configfiles/search?namespace=default"));
    let groups = server.get_full(&format!("{C}/configfilegroups"));
    let releases = server.get_full(&format!("{C}/configfiles/releases"));
    json!([files.body, groups.body, releases.body])
}

#[test]
fn hostile_input_is_refused_and_changes_nothing() {
    let server = TestServer::start();
    ok(&server.post_full(&format!("{C}/configfiles"), &file("g", "seed.yaml", "s: 1")));
    ok(&publish(&server, "g", "seed.yaml", "r1"));
    let before = state(&server);

    let huge = "x".repeat(20_001);
    assert_code(
        &server.put_full(&format!("{C}/configfiles"), &file("g", "seed.yaml", &huge)),
        400_803,
    );
    assert_code(
        &server.post_full(&format!("{C}/configfiles"), &file("g", "big.yaml", &huge)),
        400_803,
    );
    let pub_huge =
        json!({ "namespace": "default", "group": "g", "file_name": "seed.yaml", "content": huge });
    assert_code(
        &server.post_full(
            &format!("{C}/configfiles/createandpub"),
            &pub_huge.to_string(),
        ),
        400_803,
    );
    let bad_group = json!({ "namespace": "default", "name": "bad group!" }).to_string();
    assert_code(
        &server.post_full(&format!("{C}/configfilegroups"), &bad_group),
        400_801,
    );
    assert_code(
        &server.post_full(&format!("{C}/configfiles"), &file("bad group", "a", "")),
        400_801,
    );
    for name in ["a b", "../x", "/abs", "a//b", "中文"] {
        assert_code(
            &server.post_full(&format!("{C}/configfiles"), &file("g", name, "")),
            400_802,
        );
    }
    for body in [
        r#"{"namespace":"default","group":"g","name":5}"#,
        r#"{"name":["x"]}"#,
        "[1,2]",
        "{",
        "",
    ] {
        assert_code(
            &server.post_full(&format!("{C}/configfiles"), body),
            400_001,
        );
    }
    assert_code(
        &server.post_full(&format!("{C}/configfilegroups"), r#"{"metadata":"x"}"#),
        400_001,
    );
    assert_code(
        &server.put_full(&format!("{C}/configfiles/releases/rollback"), r#"{"a":1}"#),
        400_001,
    );
    assert_code(
        &server.post_full("/v1/WatchConfigFile", r#"{"watchFiles":"x"}"#),
        400_001,
    );
    assert_code(
        &server.get_full(&format!("{C}/configfiles/search?limit=x")),
        400_000,
    );

    let traversal = zip(&[
        ("../evil.yaml", stored(b"pwned")),
        ("g/ok.yaml", stored(b"fine")),
    ]);
    assert_code(&import(&server, "namespace=default", &traversal), 400_802);
    let absolute = zip(&[("/etc/passwd.yaml", stored(b"pwned"))]);
    assert_code(&import(&server, "namespace=default", &absolute), 400_802);
    let bomb = zip(&[("g/bomb.txt", deflate_bomb(21 * 1024 * 1024))]);
    assert!(
        bomb.len() < 1024 * 1024,
        "the bomb is small: {}",
        bomb.len()
    );
    let refused = import(&server, "namespace=default", &bomb);
    assert!((400..500).contains(&refused.status), "{}", refused.text);
    let names: Vec<String> = (0..1001).map(|i| format!("g/f{i}")).collect();
    let many: Vec<(&str, Entry)> = names.iter().map(|n| (n.as_str(), stored(b""))).collect();
    assert_code(&import(&server, "namespace=default", &zip(&many)), 400_000);
    assert_code(
        &import(&server, "namespace=default", b"not a zip at all"),
        400_001,
    );

    assert!(server.is_up());
    assert_eq!(state(&server), before, "hostile input changed nothing");
    let got = client_get(&server, "g", "seed.yaml", "");
    assert_eq!(got.body["configFile"]["content"], "s: 1");
}

/// A zip entry: method, data as stored, CRC-32 and size of the inflated data.
struct Entry {
    method: u16,
    data: Vec<u8>,
    crc: u32,
    size: u32,
}

fn crc32(chunks: impl Iterator<Item = u8>) -> u32 {
    let mut crc = !0u32;
    for byte in chunks {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn stored(data: &[u8]) -> Entry {
    Entry {
        method: 0,
        data: data.to_vec(),
        crc: crc32(data.iter().copied()),
        size: data.len() as u32,
    }
}

/// A deflate stream (fixed Huffman) of about `size` bytes of `a`: one literal, then copies of
/// 258 bytes at distance 1, 13 bits each.
fn deflate_bomb(size: usize) -> Entry {
    let copies = (size - 1) / 258;
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u64, 0u32);
    let mut put = |value: u64, n: u32, out: &mut Vec<u8>| {
        acc |= value << bits;
        bits += n;
        while bits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            bits -= 8;
        }
    };
    let code = |c: u64, n: u32| (0..n).fold(0u64, |r, i| r | (((c >> (n - 1 - i)) & 1) << i));
    put(1, 1, &mut out); // BFINAL
    put(1, 2, &mut out); // fixed Huffman
    put(code(0x30 + 97, 8), 8, &mut out); // literal 'a'
    for _ in 0..copies {
        put(code(0b1100_0101, 8), 8, &mut out); // length 258 (code 285)
        put(0, 5, &mut out); // distance 1
    }
    put(0, 7, &mut out); // end of block
    put(0, 7, &mut out); // flush
    let total = 1 + copies * 258;
    Entry {
        method: 8,
        data: out,
        crc: crc32(std::iter::repeat_n(b'a', total)),
        size: total as u32,
    }
}

fn zip(entries: &[(&str, Entry)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, entry) in entries {
        let offset = out.len() as u32;
        let fields = |out: &mut Vec<u8>| {
            out.extend_from_slice(&20u16.to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(&entry.method.to_le_bytes());
            out.extend_from_slice(&[0, 0, 0x21, 0]);
            out.extend_from_slice(&entry.crc.to_le_bytes());
            out.extend_from_slice(&(entry.data.len() as u32).to_le_bytes());
            out.extend_from_slice(&entry.size.to_le_bytes());
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
        };
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        fields(&mut out);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&entry.data);
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes());
        fields(&mut central);
        central.extend_from_slice(&[0; 10]); // comment, disk, internal and external attributes
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let (cd_offset, cd_size) = (out.len() as u32, central.len() as u32);
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}
