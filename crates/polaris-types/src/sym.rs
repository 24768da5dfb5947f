//! Interned strings for the values that repeat across many instances: namespace and service
//! names, protocols, versions, locations, metadata keys and values. A [`Sym`] is a shared
//! `Arc<str>`; equal strings made through [`Sym::new`] share one allocation, so 100,000
//! instances of `version: 1.4.2` hold one copy of `1.4.2`.
//!
//! The interner holds every live string once. It forgets the strings no instance holds any
//! more when it has doubled in size since its last sweep, so unique values (a timestamp in a
//! metadata value, say) cost at most twice what their holders keep, never a leak.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::{Arc, LazyLock, Mutex};

/// An immutable, shared string; compares, orders and hashes as its text.
#[derive(Clone)]
pub struct Sym(Arc<str>);

/// Strings interned, and the size at which the next sweep runs.
struct Interner {
    strings: HashSet<Arc<str>>,
    sweep_at: usize,
}

const FIRST_SWEEP: usize = 4096;

static INTERNER: LazyLock<Mutex<Interner>> = LazyLock::new(|| {
    Mutex::new(Interner {
        strings: HashSet::new(),
        sweep_at: FIRST_SWEEP,
    })
});

static EMPTY: LazyLock<Sym> = LazyLock::new(|| Sym(Arc::from("")));

impl Sym {
    /// The shared copy of `text`.
    pub fn new(text: &str) -> Sym {
        if text.is_empty() {
            return EMPTY.clone();
        }
        // A poisoned lock only means another thread panicked while holding it; the set
        // itself is still a valid set of strings.
        let mut interner = INTERNER.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = interner.strings.get(text) {
            return Sym(found.clone());
        }
        if interner.strings.len() >= interner.sweep_at {
            interner.strings.retain(|s| Arc::strong_count(s) > 1);
            interner.sweep_at = (interner.strings.len() * 2).max(FIRST_SWEEP);
        }
        let shared: Arc<str> = Arc::from(text);
        interner.strings.insert(shared.clone());
        Sym(shared)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Sym {
    fn default() -> Sym {
        EMPTY.clone()
    }
}

impl Deref for Sym {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Sym {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Sym {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq for Sym {
    fn eq(&self, other: &Sym) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || *self.0 == *other.0
    }
}

impl Eq for Sym {}

impl PartialOrd for Sym {
    fn partial_cmp(&self, other: &Sym) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Sym {
    fn cmp(&self, other: &Sym) -> std::cmp::Ordering {
        self.0.cmp(&other.0)
    }
}

impl Hash for Sym {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state)
    }
}

impl PartialEq<str> for Sym {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Sym {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for Sym {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<Sym> for str {
    fn eq(&self, other: &Sym) -> bool {
        self == &*other.0
    }
}

impl PartialEq<Sym> for &str {
    fn eq(&self, other: &Sym) -> bool {
        *self == &*other.0
    }
}

impl PartialEq<Sym> for String {
    fn eq(&self, other: &Sym) -> bool {
        **self == *other.0
    }
}

impl fmt::Debug for Sym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Sym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl From<&str> for Sym {
    fn from(text: &str) -> Sym {
        Sym::new(text)
    }
}

impl From<String> for Sym {
    fn from(text: String) -> Sym {
        Sym::new(&text)
    }
}

impl From<&String> for Sym {
    fn from(text: &String) -> Sym {
        Sym::new(text)
    }
}

impl From<Sym> for String {
    fn from(sym: Sym) -> String {
        sym.0.to_string()
    }
}

impl From<&Sym> for String {
    fn from(sym: &Sym) -> String {
        sym.0.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_share_one_allocation() {
        let a = Sym::new("interned-version-1.4.2");
        let b = Sym::from(String::from("interned-version-1.4.2"));
        assert!(Arc::ptr_eq(&a.0, &b.0));
        assert_eq!(a, "interned-version-1.4.2");
        assert_eq!(Sym::default(), "");
        assert!(Sym::new("a") < Sym::new("b"));
    }

    #[test]
    fn strings_no_one_holds_are_swept() {
        for n in 0..3 * FIRST_SWEEP {
            drop(Sym::new(&format!("unique-{n}")));
        }
        let held = Sym::new("held-across-sweeps");
        for n in 0..3 * FIRST_SWEEP {
            drop(Sym::new(&format!("unique-again-{n}")));
        }
        let interner = INTERNER.lock().unwrap();
        assert!(
            interner.strings.len() <= 2 * FIRST_SWEEP + 64,
            "{} strings kept",
            interner.strings.len()
        );
        assert!(interner.strings.contains("held-across-sweeps"));
        drop(interner);
        assert!(Arc::ptr_eq(&held.0, &Sym::new("held-across-sweeps").0));
    }
}
