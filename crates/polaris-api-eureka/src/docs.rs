//! Rendered documents. Every instance and application is rendered once, when it changes, into
//! JSON and XML fragments; an `applications` document is the concatenation of its fragments and
//! is encoded (and gzipped) at most once per format, on first request.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use polaris_types::Instance;
use serde_json::Value;

use crate::model::{META_SECURE_VIP, META_VIP};
use crate::view::{self, DataCenter};
use crate::wire;

pub const ADDED: &str = "ADDED";
pub const MODIFIED: &str = "MODIFIED";
pub const DELETED: &str = "DELETED";

const XML_DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n";

/// The wire format of an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

/// One instance as Eureka shows it. Its JSON and XML fragments (without the closing
/// `actionType`) are rendered on first use, per format, and kept for the build's lifetime.
#[derive(Debug)]
pub struct InstanceDoc {
    pub eureka_id: String,
    /// The Polaris revision it was rendered from: a different one means MODIFIED.
    pub revision: polaris_types::Revision,
    pub status: &'static str,
    app: Arc<str>,
    instance: Arc<Instance>,
    dc: Arc<DataCenter>,
    open: [OnceLock<String>; 2],
}

fn slot(format: Format) -> usize {
    match format {
        Format::Json => 0,
        Format::Xml => 1,
    }
}

impl InstanceDoc {
    pub fn new(app: Arc<str>, instance: Arc<Instance>, dc: Arc<DataCenter>) -> InstanceDoc {
        InstanceDoc {
            eureka_id: view::eureka_id_of(&instance).to_string(),
            revision: instance.revision,
            status: view::status_of(&instance),
            app,
            instance,
            dc,
            open: Default::default(),
        }
    }

    /// The VIP list (`secure`: the secure one) the instance registered, or its app name.
    pub fn vips(&self, secure: bool) -> &str {
        let meta = &self.instance.metadata;
        match secure {
            false => meta.get(META_VIP).unwrap_or(&*self.app),
            true => meta.get(META_SECURE_VIP).unwrap_or(""),
        }
    }

    fn open(&self, format: Format) -> &str {
        self.open[slot(format)].get_or_init(|| {
            let value = view::instance_value(&self.app, &self.instance, &self.dc);
            match format {
                Format::Json => {
                    let mut json = serde_json::to_string(&value).unwrap_or_else(|_| "{}".into());
                    json.pop();
                    json
                }
                Format::Xml => {
                    let mut xml = String::new();
                    wire::write_xml(&mut xml, "instance", &value);
                    xml.truncate(xml.len() - "</instance>".len());
                    xml
                }
            }
        })
    }

    pub fn write(&self, out: &mut String, format: Format, action: &str) {
        let open = self.open(format);
        out.push_str(open);
        match format {
            Format::Json => {
                out.push_str(if open.len() > 1 { "," } else { "" });
                out.push_str("\"actionType\":\"");
                out.push_str(action);
                out.push_str("\"}");
            }
            Format::Xml => {
                out.push_str("<actionType>");
                out.push_str(action);
                out.push_str("</actionType></instance>");
            }
        }
    }

    /// The instance alone: `{"instance": ...}` in JSON, `<instance>` in XML.
    pub fn document(&self, format: Format) -> Bytes {
        let mut out = String::new();
        match format {
            Format::Json => {
                out.push_str("{\"instance\":");
                self.write(&mut out, format, ADDED);
                out.push('}');
            }
            Format::Xml => {
                out.push_str(XML_DECL);
                self.write(&mut out, format, ADDED);
            }
        }
        Bytes::from(out)
    }
}

/// An application: its upper-case name and the instances Eureka clients may see.
#[derive(Debug)]
pub struct AppDoc {
    pub name: String,
    /// The revision of the Polaris service it was built from.
    pub revision: Arc<str>,
    pub instances: Vec<Arc<InstanceDoc>>,
    fragments: [OnceLock<String>; 2],
}

impl AppDoc {
    pub fn new(name: String, revision: Arc<str>, instances: Vec<Arc<InstanceDoc>>) -> AppDoc {
        AppDoc {
            name,
            revision,
            instances,
            fragments: Default::default(),
        }
    }

    pub fn instance(&self, eureka_id: &str) -> Option<&Arc<InstanceDoc>> {
        self.instances.iter().find(|i| i.eureka_id == eureka_id)
    }

    fn fragment(&self, format: Format) -> &str {
        self.fragments[slot(format)].get_or_init(|| {
            let pairs: Actions = self.instances.iter().map(|i| (i.clone(), ADDED)).collect();
            render_app(format, &self.name, &pairs)
        })
    }

    /// The application alone: `{"application": ...}` in JSON, `<application>` in XML.
    pub fn document(&self, format: Format) -> Bytes {
        Bytes::from(match format {
            Format::Json => format!("{{\"application\":{}}}", self.fragment(format)),
            Format::Xml => format!("{XML_DECL}{}", self.fragment(format)),
        })
    }
}

fn render_app(format: Format, name: &str, instances: &[(Arc<InstanceDoc>, &str)]) -> String {
    let mut out = String::new();
    match format {
        Format::Json => {
            out.push_str("{\"name\":");
            out.push_str(&Value::String(name.to_string()).to_string());
            out.push_str(",\"instance\":[");
            for (i, (doc, action)) in instances.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                doc.write(&mut out, format, action);
            }
            out.push_str("]}");
        }
        Format::Xml => {
            wire::write_xml(&mut out, "name", &Value::String(name.to_string()));
            out.insert_str(0, "<application>");
            for (doc, action) in instances {
                doc.write(&mut out, format, action);
            }
            out.push_str("</application>");
        }
    }
    out
}

/// Instances with the action each is reported with.
pub type Actions = Vec<(Arc<InstanceDoc>, &'static str)>;

/// An application inside an `applications` document.
#[derive(Clone, Debug)]
pub enum DocApp {
    /// All of it, as rendered.
    Whole(Arc<AppDoc>),
    /// Some instances, each with its action (delta and VIP answers).
    Part(String, Actions),
}

/// The Netflix reconcile hash: `STATUS_count_` for each status, in status order.
pub fn hashcode<'a>(statuses: impl IntoIterator<Item = &'a str>) -> String {
    let mut counts = BTreeMap::<&str, usize>::new();
    for status in statuses {
        *counts.entry(status).or_default() += 1;
    }
    counts.iter().map(|(s, n)| format!("{s}_{n}_")).collect()
}

/// An `applications` document, encoded lazily and at most once per format and encoding.
#[derive(Debug)]
pub struct AppsDoc {
    pub version: u64,
    pub hashcode: String,
    pub apps: Vec<DocApp>,
    encoded: [OnceLock<Bytes>; 4],
}

impl AppsDoc {
    pub fn new(version: u64, hashcode: String, apps: Vec<DocApp>) -> AppsDoc {
        AppsDoc {
            version,
            hashcode,
            apps,
            encoded: Default::default(),
        }
    }

    /// The body for `format`, gzipped when `gzip` (falling back to plain if compression fails).
    pub fn body(&self, format: Format, gzip: bool) -> (Bytes, bool) {
        let plain = |slot: usize| {
            self.encoded[slot]
                .get_or_init(|| self.render(format))
                .clone()
        };
        let slot = match format {
            Format::Json => 0,
            Format::Xml => 1,
        };
        if !gzip {
            return (plain(slot), false);
        }
        let zipped =
            self.encoded[slot + 2].get_or_init(|| gzip_bytes(&plain(slot)).unwrap_or_default());
        if zipped.is_empty() {
            (plain(slot), false)
        } else {
            (zipped.clone(), true)
        }
    }

    fn render(&self, format: Format) -> Bytes {
        let capacity = self
            .apps
            .iter()
            .map(|a| match a {
                DocApp::Whole(doc) => doc.fragment(format).len(),
                DocApp::Part(_, items) => items.len() * 1024,
            })
            .sum::<usize>()
            + 256;
        let mut out = String::with_capacity(capacity);
        let version = self.version.to_string();
        match format {
            Format::Json => {
                out.push_str("{\"applications\":{\"versions__delta\":\"");
                out.push_str(&version);
                out.push_str("\",\"apps__hashcode\":\"");
                out.push_str(&self.hashcode);
                out.push_str("\",\"application\":[");
            }
            Format::Xml => {
                out.push_str(XML_DECL);
                out.push_str("<applications><versions__delta>");
                out.push_str(&version);
                out.push_str("</versions__delta><apps__hashcode>");
                out.push_str(&self.hashcode);
                out.push_str("</apps__hashcode>");
            }
        }
        for (i, app) in self.apps.iter().enumerate() {
            if i > 0 && format == Format::Json {
                out.push(',');
            }
            match app {
                DocApp::Whole(doc) => out.push_str(doc.fragment(format)),
                DocApp::Part(name, items) => out.push_str(&render_app(format, name, items)),
            }
        }
        out.push_str(match format {
            Format::Json => "]}}",
            Format::Xml => "</applications>",
        });
        Bytes::from(out)
    }
}

fn gzip_bytes(plain: &[u8]) -> std::io::Result<Bytes> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(plain.len() / 8), Compression::default());
    encoder.write_all(plain)?;
    encoder.finish().map(Bytes::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn instance(id: &str) -> Instance {
        Instance {
            id: id.into(),
            host: "10.0.0.1".into(),
            port: 80,
            healthy: true,
            revision: polaris_types::Revision(1),
            ..Default::default()
        }
    }

    fn sample() -> AppsDoc {
        let dc = Arc::new(DataCenter::default());
        let docs = ["a", "b"].map(|id| {
            Arc::new(InstanceDoc::new(
                "SVC".into(),
                Arc::new(instance(id)),
                dc.clone(),
            ))
        });
        let app = Arc::new(AppDoc::new("SVC".into(), "rev".into(), docs.to_vec()));
        AppsDoc::new(3, hashcode(["UP", "UP"]), vec![DocApp::Whole(app)])
    }

    #[test]
    fn json_document_has_the_netflix_shape() {
        let (body, zipped) = sample().body(Format::Json, false);
        assert!(!zipped);
        let value: Value = serde_json::from_slice(&body).unwrap();
        let apps = &value["applications"];
        assert_eq!(apps["versions__delta"], "3");
        assert_eq!(apps["apps__hashcode"], "UP_2_");
        let instances = apps["application"][0]["instance"].as_array().unwrap();
        assert_eq!(instances.len(), 2);
        assert_eq!(instances[1]["instanceId"], "b");
        assert_eq!(instances[1]["actionType"], "ADDED");
    }

    #[test]
    fn xml_document_reads_back_and_gzip_inflates_to_the_same_bytes() {
        let doc = sample();
        let (xml, _) = doc.body(Format::Xml, false);
        let value = wire::parse_xml(&xml).unwrap();
        let app = &value["applications"]["application"];
        assert_eq!(app["name"], "SVC");
        assert_eq!(app["instance"][0]["port"]["@enabled"], "true");
        assert_eq!(app["instance"][0]["actionType"], "ADDED");
        let (zipped, is_zipped) = doc.body(Format::Xml, true);
        assert!(is_zipped);
        let mut inflated = Vec::new();
        flate2::read::GzDecoder::new(&zipped[..])
            .read_to_end(&mut inflated)
            .unwrap();
        assert_eq!(inflated, xml);
    }

    #[test]
    fn hashcode_counts_statuses_in_order() {
        assert_eq!(
            hashcode(["UP", "DOWN", "UP", "OUT_OF_SERVICE"]),
            "DOWN_1_OUT_OF_SERVICE_1_UP_2_"
        );
        assert_eq!(hashcode([]), "");
    }
}
