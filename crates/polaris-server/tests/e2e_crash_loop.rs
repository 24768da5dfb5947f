//! Crash loops: the real binary under registration and config-publish load from concurrent
//! clients is killed with `kill -9` at a random moment, restarted on the same data, and checked,
//! again and again. Every acknowledged write must be there after each restart, and a write that
//! was in flight must be wholly there or wholly absent: an instance with every field it was sent
//! with, a published config file whose release carries exactly the file's content.
//!
//! Twenty cycles on the embedded store, a few on MariaDB and PostgreSQL. The kill moments come
//! from a seed that is printed; `POLARIS_CRASH_SEED=N` replays a run.

mod common;
mod node_support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::agent;
use node_support::{Backend, Node, ScratchDatabase, start};
use polaris_store_sql::{Dialect, SqlOptions};
use serde_json::{Value, json};

const SERVICE: &str = "crash-loop";
const GROUP: &str = "crash-loop";
const REGISTER_CLIENTS: usize = 3;
const PUBLISH_CLIENTS: usize = 2;
/// Files each publishing client keeps republishing with a rising sequence number.
const FILES_PER_CLIENT: usize = 3;

/// splitmix64: the kill moments, reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn millis(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(low + self.next() % (high - low))
    }
}

fn seed() -> u64 {
    std::env::var("POLARIS_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("a clock after 1970")
                .as_nanos() as u64
        })
}

/// What the clients sent and what the server acknowledged, over every cycle.
#[derive(Default)]
struct Ledger {
    /// Instance id -> (host, port, writer tag) for every registration sent, and whether it was
    /// acknowledged.
    registrations: BTreeMap<String, (String, u16, String, bool)>,
    /// File name -> (highest sequence acknowledged, highest sequence sent).
    files: BTreeMap<String, (Option<u64>, u64)>,
}

/// `None` when the server is gone (connection refused or cut): the client stops.
fn send(agent: &ureq::Agent, url: &str, body: &Value) -> Option<Value> {
    let mut response = agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(body.to_string().as_bytes())
        .ok()?;
    let text = response.body_mut().read_to_string().ok()?;
    Some(serde_json::from_str(&text).unwrap_or_else(|_| panic!("a JSON reply: {text}")))
}

fn register_client(base: String, cycle: usize, client: usize, ledger: Arc<Mutex<Ledger>>) {
    let agent = agent();
    for i in 0.. {
        let host = format!("10.{cycle}.{client}.{}", i % 250);
        let port = 1000 + u16::try_from(i / 250).expect("few registrations");
        let tag = format!("c{cycle}-w{client}-i{i}");
        let id = common::instance_id("default", SERVICE, &host, port);
        ledger
            .lock()
            .unwrap()
            .registrations
            .insert(id.clone(), (host.clone(), port, tag.clone(), false));
        let body = json!({"service": SERVICE, "namespace": "default", "host": host,
            "port": port, "metadata": {"tag": tag}, "weight": 100});
        let Some(reply) = send(&agent, &format!("{base}/v1/RegisterInstance"), &body) else {
            return;
        };
        assert_eq!(reply["code"], 200_000, "{reply}");
        ledger
            .lock()
            .unwrap()
            .registrations
            .get_mut(&id)
            .expect("sent")
            .3 = true;
    }
}

fn publish_client(base: String, client: usize, ledger: Arc<Mutex<Ledger>>) {
    let agent = agent();
    for i in 0.. {
        let name = format!("w{client}-f{}.properties", i % FILES_PER_CLIENT);
        let seq = {
            let mut ledger = ledger.lock().unwrap();
            let entry = ledger.files.entry(name.clone()).or_insert((None, 0));
            entry.1 += 1;
            entry.1
        };
        let body = json!({"namespace": "default", "group": GROUP, "file_name": name,
            "content": format!("seq={seq}\nfile={name}\n"), "format": "properties"});
        let url = format!("{base}/config/v1/configfiles/createandpub");
        let Some(reply) = send(&agent, &url, &body) else {
            return;
        };
        assert_eq!(reply["code"], 200_000, "{reply}");
        let mut ledger = ledger.lock().unwrap();
        let entry = ledger.files.get_mut(&name).expect("sent");
        entry.0 = entry.0.max(Some(seq));
    }
}

fn get(agent: &ureq::Agent, url: &str) -> Value {
    let mut response = agent
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let text = response.body_mut().read_to_string().expect("a reply body");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("a JSON reply: {text}"))
}

/// Every instance of the service: id -> (host, port, tag).
fn listed(node: &Node) -> BTreeMap<String, (String, u16, String)> {
    let agent = agent();
    let mut out = BTreeMap::new();
    loop {
        let url = format!(
            "{}/naming/v1/instances?service={SERVICE}&namespace=default&offset={}&limit=100",
            node.base,
            out.len()
        );
        let body = get(&agent, &url);
        if body["code"] == 400_301 && out.is_empty() {
            return out; // the service does not exist yet
        }
        assert_eq!(body["code"], 200_000, "{body}");
        let page = body["instances"].as_array().expect("instances").clone();
        for i in &page {
            let port = u16::try_from(i["port"].as_u64().expect("port")).expect("a port");
            let tag = i["metadata"]["tag"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let host = i["host"].as_str().expect("host").to_string();
            out.insert(i["id"].as_str().expect("id").to_string(), (host, port, tag));
        }
        if page.is_empty() || out.len() as u64 >= body["amount"].as_u64().expect("amount") {
            return out;
        }
    }
}

/// The content of a file (`configfiles`) and of its release, `None` where absent.
fn file_and_release(node: &Node, name: &str) -> (Option<String>, Option<String>) {
    let agent = agent();
    let query = format!("namespace=default&group={GROUP}&name={name}");
    let content = |body: &Value, field: &str| -> Option<String> {
        let code = body["code"].as_u64();
        if body[field].is_null() {
            // Not found: 400202 and its config-file variants, or (for a file that has no active
            // release) success without a release, as officially.
            assert!(
                code.is_some_and(|c| c == 200_000 || c / 1000 == 400),
                "{field} of {name}: {body}"
            );
            return None;
        }
        assert_eq!(code, Some(200_000), "{field} of {name}: {body}");
        let text = body[field]["content"].as_str();
        Some(
            text.unwrap_or_else(|| panic!("{field} of {name} without content: {body}"))
                .to_string(),
        )
    };
    let file = get(
        &agent,
        &format!("{}/config/v1/configfiles?{query}", node.base),
    );
    let release = get(
        &agent,
        &format!("{}/config/v1/configfiles/release?{query}", node.base),
    );
    (
        content(&file, "configFile"),
        content(&release, "configFileRelease"),
    )
}

fn sequence_of(content: &str) -> u64 {
    content
        .strip_prefix("seq=")
        .and_then(|rest| rest.split('\n').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not content a client wrote: {content:?}"))
}

fn check(node: &Node, ledger: &Ledger, cycle: usize) {
    let present = listed(node);
    for (id, (host, port, tag, acked)) in &ledger.registrations {
        match present.get(id) {
            Some(found) => assert_eq!(
                found,
                &(host.clone(), *port, tag.clone()),
                "cycle {cycle}: instance {id} is there but not as it was sent"
            ),
            None => assert!(!acked, "cycle {cycle}: acknowledged instance {id} is lost"),
        }
    }
    for id in present.keys() {
        assert!(
            ledger.registrations.contains_key(id),
            "cycle {cycle}: instance {id} was never sent"
        );
    }
    for (name, (acked, sent)) in &ledger.files {
        let (file, release) = file_and_release(node, name);
        if let Some(release) = &release {
            assert_eq!(
                file.as_ref(),
                Some(release),
                "cycle {cycle}: {name} is released without its file content (half a publish)"
            );
            let seq = sequence_of(release);
            assert!(
                acked.is_none_or(|a| seq >= a) && seq <= *sent,
                "cycle {cycle}: {name} is released at seq {seq}; acknowledged {acked:?}, sent {sent}"
            );
        } else {
            assert!(
                acked.is_none(),
                "cycle {cycle}: acknowledged release of {name} is lost"
            );
            assert!(
                file.is_none(),
                "cycle {cycle}: {name} exists without its release"
            );
        }
    }
}

fn crash_loop(backend: &Backend, cycles: usize, rng: &mut Rng) {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut node = start(dir.path(), backend, 0);
    for cycle in 0..cycles {
        let mut clients = Vec::new();
        for client in 0..REGISTER_CLIENTS {
            let (base, ledger) = (node.base.clone(), ledger.clone());
            clients.push(std::thread::spawn(move || {
                register_client(base, cycle, client, ledger)
            }));
        }
        for client in 0..PUBLISH_CLIENTS {
            let (base, ledger) = (node.base.clone(), ledger.clone());
            clients.push(std::thread::spawn(move || {
                publish_client(base, client, ledger)
            }));
        }
        std::thread::sleep(rng.millis(150, 1200));
        // kill -9 while the clients are mid-request; each stops at its first refused request.
        drop(node);
        for client in clients {
            client.join().expect("a client thread");
        }
        node = start(dir.path(), backend, cycle + 1);
        check(&node, &ledger.lock().unwrap(), cycle);
    }
    let ledger = ledger.lock().unwrap();
    let acked = ledger.registrations.values().filter(|r| r.3).count();
    let published = ledger.files.values().filter(|f| f.0.is_some()).count();
    let sent: u64 = ledger.files.values().map(|f| f.1).sum();
    eprintln!(
        "{cycles} cycles: {} registrations sent, {acked} acknowledged; {sent} publishes sent, \
         {published} files with an acknowledged release",
        ledger.registrations.len()
    );
    assert!(acked > 0 && published > 0, "the load never got an answer");
}

#[test]
fn embedded_store_keeps_every_acknowledged_write_across_20_kill_9() {
    let seed = seed();
    eprintln!("crash loop seed {seed} (replay with POLARIS_CRASH_SEED={seed})");
    let mut rng = Rng(seed);
    let data = tempfile::tempdir().expect("tempdir");
    crash_loop(&Backend::Embedded(data.path().join("data")), 20, &mut rng);
}

fn sql_crash_loop(dialect: Dialect, addr: &str) {
    let seed = seed();
    eprintln!("crash loop seed {seed} (replay with POLARIS_CRASH_SEED={seed})");
    let mut rng = Rng(seed);
    let name = format!("polaris_crash_{:?}_{}", dialect, std::process::id()).to_lowercase();
    let db = ScratchDatabase(SqlOptions::new(dialect, addr, name));
    crash_loop(&Backend::Sql(db.0.clone()), 5, &mut rng);
}

#[test]
fn mariadb_store_keeps_every_acknowledged_write_across_kill_9() {
    sql_crash_loop(Dialect::MySql, "127.0.0.1:3306");
}

#[test]
fn postgres_store_keeps_every_acknowledged_write_across_kill_9() {
    sql_crash_loop(Dialect::Postgres, "127.0.0.1:5432");
}
