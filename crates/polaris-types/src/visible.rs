//! What a caller may see: the filter every list query applies before it pages, so that pages
//! and totals count only visible resources. `polaris-auth` builds it from the caller's
//! strategies; the default sees everything (checks off, admin and main accounts).

use std::fmt;
use std::sync::Arc;

/// A resource a list item belongs to.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Resource<'a> {
    Namespace(&'a str),
    Service { namespace: &'a str, name: &'a str },
    ConfigGroup { namespace: &'a str, name: &'a str },
}

type Predicate = dyn Fn(Resource<'_>) -> bool + Send + Sync;

/// The caller's visible-resource filter.
#[derive(Clone, Default)]
pub struct Visible(Option<Arc<Predicate>>);

impl Visible {
    /// Sees everything.
    pub fn everything() -> Self {
        Visible(None)
    }

    /// Sees what `predicate` allows.
    pub fn only(predicate: impl Fn(Resource<'_>) -> bool + Send + Sync + 'static) -> Self {
        Visible(Some(Arc::new(predicate)))
    }

    /// Whether nothing is filtered out.
    pub fn is_everything(&self) -> bool {
        self.0.is_none()
    }

    pub fn sees(&self, resource: Resource<'_>) -> bool {
        self.0.as_ref().is_none_or(|p| p(resource))
    }

    pub fn namespace(&self, namespace: &str) -> bool {
        self.sees(Resource::Namespace(namespace))
    }

    pub fn service(&self, namespace: &str, name: &str) -> bool {
        self.sees(Resource::Service { namespace, name })
    }

    pub fn config_group(&self, namespace: &str, name: &str) -> bool {
        self.sees(Resource::ConfigGroup { namespace, name })
    }
}

impl fmt::Debug for Visible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_everything() {
            "Visible(everything)"
        } else {
            "Visible(filtered)"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_sees_everything_and_a_predicate_decides_otherwise() {
        assert!(Visible::default().service("ns", "svc"));
        let only_a = Visible::only(|r| match r {
            Resource::Namespace(ns) => ns == "a",
            Resource::Service { namespace, .. } | Resource::ConfigGroup { namespace, .. } => {
                namespace == "a"
            }
        });
        assert!(only_a.namespace("a") && only_a.config_group("a", "g"));
        assert!(!only_a.service("b", "svc") && !only_a.is_everything());
    }
}
