//! Encoded Discover answers shared per revision.
//!
//! A full instance answer depends only on the service asked for and the revision of the
//! service that holds the instances, so its encoded bytes (protobuf for gRPC, JSON for HTTP)
//! can be built once and handed to every reader until the revision moves: a repeated read is a
//! snapshot lookup, a map lookup and a reference count. Each adapter keeps one
//! [`SharedAnswers`] per encoding (and per variant, such as HTTP's healthy-only filter), so the
//! memory held is one encoded answer per service and encoding that someone asked for.
//!
//! Only full successes of `INSTANCE` requests are shared; every other answer (no change,
//! not found, service lists, rules) is built and encoded per request as before.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::RwLock;
use polaris_proto::v1;
use polaris_proto::v1::discover_request::DiscoverRequestType;
use polaris_types::{Code, ServiceKey};

use crate::Discovery;

/// Past this many services the map is cleared (entries of deleted services go with it).
const MAX_ENTRIES: usize = 65_536;

/// One encoded answer per service, tagged with the revision it was built from.
#[derive(Default)]
pub struct SharedAnswers {
    entries: RwLock<HashMap<ServiceKey, (Arc<str>, Bytes)>>,
}

/// An answer and its code (the HTTP adapter turns the code into a status and headers).
pub struct EncodedAnswer {
    pub code: u32,
    pub info: String,
    /// The answer's `service.revision` (what a push subscription continues from).
    pub revision: Option<Arc<str>>,
    pub bytes: Bytes,
}

impl SharedAnswers {
    /// An empty cache.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn get(&self, key: &ServiceKey, revision: &Arc<str>) -> Option<Bytes> {
        let entries = self.entries.read();
        let (built_from, bytes) = entries.get(key)?;
        (Arc::ptr_eq(built_from, revision) || built_from == revision).then(|| bytes.clone())
    }

    fn put(&self, key: ServiceKey, revision: Arc<str>, bytes: Bytes) {
        let mut entries = self.entries.write();
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            entries.clear();
        }
        entries.insert(key, (revision, bytes));
    }

    /// Number of services with a shared answer.
    pub fn len(&self) -> usize {
        self.entries.read().len()
    }

    /// True when nothing is shared yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Discovery {
    /// Answers `request` and encodes the answer with `encode`. A full instance answer is built
    /// and encoded once per revision of its service and then shared through `shared`;
    /// `encode` may also adjust the message first (for example drop unhealthy instances), as
    /// long as it does the same for every request that uses this `shared`.
    pub fn answer_encoded(
        &self,
        request: &v1::DiscoverRequest,
        shared: &SharedAnswers,
        encode: impl FnOnce(v1::DiscoverResponse) -> Bytes,
    ) -> EncodedAnswer {
        let cacheable = self.current_revision(request);
        if let Some((key, revision)) = &cacheable
            && let Some(bytes) = shared.get(key, revision)
        {
            return EncodedAnswer {
                code: Code::ExecuteSuccess.value(),
                info: Code::ExecuteSuccess.info().to_string(),
                revision: Some(revision.clone()),
                bytes,
            };
        }
        let response = self.answer(request);
        let code = response.code.unwrap_or(Code::ExecuteSuccess.value());
        let info = response.info.clone().unwrap_or_default();
        let revision = response
            .service
            .as_ref()
            .and_then(|s| s.revision.as_deref())
            .map(Arc::<str>::from);
        // The revision the answer was built from (it may be newer than the one looked up).
        let built_from = response
            .alias_for
            .as_ref()
            .and_then(|s| s.revision.as_deref())
            .map(Arc::<str>::from);
        let bytes = encode(response);
        if let (Some((key, _)), Some(revision)) = (cacheable, built_from)
            && code == Code::ExecuteSuccess.value()
        {
            shared.put(key, revision, bytes.clone());
        }
        EncodedAnswer {
            code,
            info,
            revision,
            bytes,
        }
    }

    /// For an `INSTANCE` request that will get a full answer: the service asked for and the
    /// current revision of the service holding its instances.
    fn current_revision(&self, request: &v1::DiscoverRequest) -> Option<(ServiceKey, Arc<str>)> {
        if request.r#type != DiscoverRequestType::Instance as i32 {
            return None;
        }
        let asked = request.service.as_ref()?;
        let name = asked.name.clone().unwrap_or_default();
        let namespace = asked
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| polaris_types::DEFAULT_NAMESPACE.into());
        let key = ServiceKey::new(namespace, name);
        let client_revision = asked.revision.as_deref().unwrap_or_default();
        let found = self.naming.discover_instances(&key, client_revision).ok()?;
        if found.unchanged {
            return None;
        }
        Some((key, found.view.revision.clone()))
    }
}
