//! The Eureka read model of each namespace, rebuilt from the naming snapshot only when the
//! snapshot changed (no timer): a request compares the snapshot it would read with the one the
//! current build came from, and rebuilds only the applications whose service revision moved.
//! The delta is the diff between consecutive builds, kept for a window (60 s by default, as
//! officially), so a change is in `/apps` and `/apps/delta` on the very next request.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use parking_lot::{Mutex, RwLock};
use polaris_naming::{Naming, Snapshot};
use tokio::time::Instant;

use crate::docs::{
    ADDED, Actions, AppDoc, AppsDoc, DELETED, DocApp, InstanceDoc, MODIFIED, hashcode,
};
use crate::view::DataCenter;

/// At most this many VIP answers are cached per build.
const MAX_CACHED_VIPS: usize = 1024;

/// A recent change, as the delta reports it.
#[derive(Clone, Debug)]
struct Lease {
    at: Instant,
    app: String,
    instance: Arc<InstanceDoc>,
    action: &'static str,
}

/// One build of a namespace's applications.
pub struct Apps {
    snapshot: Option<Arc<Snapshot>>,
    /// In name order.
    pub apps: Vec<Arc<AppDoc>>,
    by_name: HashMap<String, usize>,
    pub full: Arc<AppsDoc>,
    pub delta: Arc<AppsDoc>,
    leases: Arc<VecDeque<Lease>>,
    vips: Mutex<HashMap<(bool, String), Arc<AppsDoc>>>,
}

impl Apps {
    fn empty() -> Apps {
        Apps::assemble(None, Vec::new(), 0, Arc::new(VecDeque::new()))
    }

    fn assemble(
        snapshot: Option<Arc<Snapshot>>,
        apps: Vec<Arc<AppDoc>>,
        version: u64,
        leases: Arc<VecDeque<Lease>>,
    ) -> Apps {
        let hash = hashcode(
            apps.iter()
                .flat_map(|a| a.instances.iter().map(|i| i.status)),
        );
        let full = Arc::new(AppsDoc::new(
            version,
            hash.clone(),
            apps.iter().cloned().map(DocApp::Whole).collect(),
        ));
        let delta = Arc::new(AppsDoc::new(version, hash, delta_apps(&leases)));
        let by_name = apps
            .iter()
            .enumerate()
            .map(|(i, a)| (a.name.clone(), i))
            .collect();
        Apps {
            snapshot,
            apps,
            by_name,
            full,
            delta,
            leases,
            vips: Mutex::default(),
        }
    }

    /// The application named `app` (any case).
    pub fn app(&self, app: &str) -> Option<&Arc<AppDoc>> {
        self.by_name
            .get(&app.to_uppercase())
            .map(|i| &self.apps[*i])
    }

    /// An instance by its Eureka id, in any application.
    pub fn instance(&self, eureka_id: &str) -> Option<&Arc<InstanceDoc>> {
        self.apps.iter().find_map(|a| a.instance(eureka_id))
    }

    /// The applications with an instance whose (secure) VIP list names `vip`, any case.
    pub fn by_vip(&self, secure: bool, vip: &str) -> Arc<AppsDoc> {
        let key = (secure, vip.to_lowercase());
        if let Some(doc) = self.vips.lock().get(&key) {
            return doc.clone();
        }
        let mut statuses = Vec::new();
        let apps: Vec<DocApp> = self
            .apps
            .iter()
            .filter_map(|app| {
                let matching: Vec<_> = app
                    .instances
                    .iter()
                    .filter(|i| {
                        i.vips(secure)
                            .split(',')
                            .any(|v| v.trim().eq_ignore_ascii_case(&key.1))
                    })
                    .map(|i| (i.clone(), ADDED))
                    .collect();
                statuses.extend(matching.iter().map(|(i, _)| i.status));
                (!matching.is_empty()).then(|| DocApp::Part(app.name.clone(), matching))
            })
            .collect();
        let doc = Arc::new(AppsDoc::new(self.full.version, hashcode(statuses), apps));
        let mut vips = self.vips.lock();
        if vips.len() >= MAX_CACHED_VIPS {
            vips.clear();
        }
        vips.insert(key, doc.clone());
        doc
    }
}

/// Latest lease per instance; changes first, deletions after, as officially.
fn delta_apps(leases: &VecDeque<Lease>) -> Vec<DocApp> {
    let mut latest: HashMap<(&str, &str), &Lease> = HashMap::new();
    for lease in leases {
        latest.insert((&lease.app, &lease.instance.eureka_id), lease);
    }
    let mut chosen: Vec<&Lease> = latest.into_values().collect();
    chosen.sort_by(|a, b| {
        (a.action == DELETED, &a.app, &a.instance.eureka_id).cmp(&(
            b.action == DELETED,
            &b.app,
            &b.instance.eureka_id,
        ))
    });
    let mut apps: Vec<(String, Actions)> = Vec::new();
    for lease in chosen {
        match apps.iter_mut().find(|(name, _)| *name == lease.app) {
            Some((_, items)) => items.push((lease.instance.clone(), lease.action)),
            None => apps.push((
                lease.app.clone(),
                vec![(lease.instance.clone(), lease.action)],
            )),
        }
    }
    apps.into_iter()
        .map(|(name, items)| DocApp::Part(name, items))
        .collect()
}

/// What changed between two builds of one application.
fn diff(at: Instant, name: &str, old: Option<&AppDoc>, new: Option<&AppDoc>, out: &mut Vec<Lease>) {
    let lease = |instance: &Arc<InstanceDoc>, action| Lease {
        at,
        app: name.to_string(),
        instance: instance.clone(),
        action,
    };
    let empty = Vec::new();
    let old_instances = old.map_or(&empty, |a| &a.instances);
    let new_instances = new.map_or(&empty, |a| &a.instances);
    for instance in new_instances {
        match old.and_then(|a| a.instance(&instance.eureka_id)) {
            None => out.push(lease(instance, ADDED)),
            Some(before) if before.revision != instance.revision => {
                out.push(lease(instance, MODIFIED))
            }
            Some(_) => {}
        }
    }
    for instance in old_instances {
        if new.and_then(|a| a.instance(&instance.eureka_id)).is_none() {
            out.push(lease(instance, DELETED));
        }
    }
}

struct NamespaceView {
    current: ArcSwap<Apps>,
    rebuild: Mutex<()>,
}

/// The read models of every namespace Eureka clients ask about.
pub struct Registry {
    naming: Arc<Naming>,
    dc: Arc<DataCenter>,
    delta_window: Duration,
    namespaces: RwLock<HashMap<String, Arc<NamespaceView>>>,
}

impl Registry {
    pub fn new(naming: Arc<Naming>, dc: DataCenter, delta_window: Duration) -> Registry {
        Registry {
            naming,
            dc: Arc::new(dc),
            delta_window,
            namespaces: RwLock::default(),
        }
    }

    /// The current build for `namespace`, rebuilt first if the registry changed since, or if
    /// a delta entry expired.
    pub fn apps(&self, namespace: &str) -> Arc<Apps> {
        let snapshot = self.naming.snapshot();
        let Some(view) = self.view(namespace, &snapshot) else {
            return Arc::new(Apps::empty());
        };
        let current = view.current.load_full();
        if self.is_current(&current, &snapshot) {
            return current;
        }
        let _rebuilding = view.rebuild.lock();
        let current = view.current.load_full();
        let snapshot = self.naming.snapshot();
        if self.is_current(&current, &snapshot) {
            return current;
        }
        let next = Arc::new(self.build(namespace, &current, snapshot));
        view.current.store(next.clone());
        next
    }

    fn is_current(&self, apps: &Apps, snapshot: &Arc<Snapshot>) -> bool {
        let same = apps
            .snapshot
            .as_ref()
            .is_some_and(|s| Arc::ptr_eq(s, snapshot));
        same && apps
            .leases
            .front()
            .is_none_or(|l| l.at.elapsed() < self.delta_window)
    }

    fn view(&self, namespace: &str, snapshot: &Snapshot) -> Option<Arc<NamespaceView>> {
        if let Some(view) = self.namespaces.read().get(namespace) {
            return Some(view.clone());
        }
        // Only namespaces that exist get a view, so a header cannot make the map grow.
        snapshot.namespaces.get(namespace)?;
        let mut views = self.namespaces.write();
        let view = views.entry(namespace.to_string()).or_insert_with(|| {
            Arc::new(NamespaceView {
                current: ArcSwap::from_pointee(Apps::empty()),
                rebuild: Mutex::new(()),
            })
        });
        Some(view.clone())
    }

    fn build(&self, namespace: &str, old: &Apps, snapshot: Arc<Snapshot>) -> Apps {
        let now = Instant::now();
        let mut changes = Vec::new();
        let mut apps = Vec::new();
        let mut seen = Vec::new();
        for service in snapshot.namespace_services(namespace) {
            if service.service.is_alias() {
                continue;
            }
            let name = service.service.name.to_uppercase();
            let before = old.app(&name).filter(|a| a.name == name);
            seen.push(name.clone());
            if let Some(before) = before.filter(|a| a.revision == service.revision) {
                apps.push(before.clone());
                continue;
            }
            let app_name: Arc<str> = name.as_str().into();
            let instances: Vec<_> = service
                .instances
                .values()
                .filter(|i| i.healthy)
                .map(|i| {
                    Arc::new(InstanceDoc::new(
                        app_name.clone(),
                        i.clone(),
                        self.dc.clone(),
                    ))
                })
                .collect();
            let app = (!instances.is_empty()).then(|| {
                Arc::new(AppDoc::new(
                    name.clone(),
                    service.revision.clone(),
                    instances,
                ))
            });
            diff(
                now,
                &name,
                before.map(|a| &**a),
                app.as_deref(),
                &mut changes,
            );
            apps.extend(app);
        }
        for gone in old.apps.iter().filter(|a| !seen.contains(&a.name)) {
            diff(now, &gone.name, Some(gone), None, &mut changes);
        }
        let first_build = old.snapshot.is_none();
        let mut leases = VecDeque::clone(&old.leases);
        let before = leases.len();
        while leases
            .front()
            .is_some_and(|l| l.at.elapsed() >= self.delta_window)
        {
            leases.pop_front();
        }
        let expired = leases.len() != before;
        let changed = !changes.is_empty();
        if !first_build {
            leases.extend(changes);
        }
        let version = old.full.version + u64::from(changed || first_build);
        if !changed && !expired && !first_build {
            // Only other namespaces (or fields Eureka does not show) changed: keep the documents.
            return Apps {
                snapshot: Some(snapshot),
                apps,
                by_name: old.by_name.clone(),
                full: old.full.clone(),
                delta: old.delta.clone(),
                leases: old.leases.clone(),
                vips: Mutex::new(old.vips.lock().clone()),
            };
        }
        Apps::assemble(Some(snapshot), apps, version, Arc::new(leases))
    }
}
