//! `VecMap`: an ordered map in a sorted vector, for the handful of accounts and working
//! orders an engine holds.
//!
//! The engine looks an account up on every bar and a strategy's orders on every fill; with
//! one to a few entries a search of a short sorted vector is a couple of comparisons,
//! where a `BTreeMap` walks a node. Iteration is in key order, as a `BTreeMap`'s.

/// See the module docs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct VecMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap {
            entries: Vec::new(),
        }
    }
}

impl<K: Ord, V> VecMap<K, V> {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    #[inline]
    fn find(&self, key: &K) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| k.cmp(key))
    }

    #[inline]
    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.find(key).ok().map(|i| &self.entries[i].1)
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.find(key).ok().map(|i| &mut self.entries[i].1)
    }

    #[inline]
    pub(crate) fn contains_key(&self, key: &K) -> bool {
        self.find(key).is_ok()
    }

    /// Inserts or replaces; the value replaced, if any.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        self.find(key).ok().map(|i| self.entries.remove(i).1)
    }

    /// The value of `key`, inserted by `make` if absent.
    pub(crate) fn entry_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let i = match self.find(&key) {
            Ok(i) => i,
            Err(i) => {
                self.entries.insert(i, (key, make()));
                i
            }
        };
        &mut self.entries[i].1
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &K> {
        self.entries.iter().map(|(k, _)| k)
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, v)| v)
    }

    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.entries.iter_mut().map(|(_, v)| v)
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for VecMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        let mut map = VecMap::new();
        for (k, v) in pairs {
            map.insert(k, v);
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::rng::SplitMix64;

    /// The same answers and the same order as a `BTreeMap` through random operations.
    #[test]
    fn behaves_as_a_btree_map() {
        let mut rng = SplitMix64::new(5);
        let (mut map, mut reference) = (VecMap::new(), BTreeMap::new());
        for step in 0..20_000u64 {
            let key = rng.below(40);
            match rng.below(4) {
                0 => assert_eq!(map.insert(key, step), reference.insert(key, step)),
                1 => assert_eq!(map.remove(&key), reference.remove(&key)),
                2 => {
                    *map.entry_or_insert_with(key, || step) += 1;
                    *reference.entry(key).or_insert_with(|| step) += 1;
                }
                _ => {
                    assert_eq!(map.get(&key), reference.get(&key));
                    assert_eq!(map.contains_key(&key), reference.contains_key(&key));
                    if let (Some(a), Some(b)) = (map.get_mut(&key), reference.get_mut(&key)) {
                        *a += 7;
                        *b += 7;
                    }
                }
            }
        }
        let pairs: Vec<(u64, u64)> = map.iter().map(|(k, v)| (*k, *v)).collect();
        let want: Vec<(u64, u64)> = reference.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(pairs, want);
        assert!(map.keys().copied().eq(reference.keys().copied()));
        assert!(map.values().copied().eq(reference.values().copied()));
        for v in map.values_mut() {
            *v = 0;
        }
        assert!(map.values().all(|v| *v == 0));
        let rebuilt: VecMap<u64, u64> = reference.clone().into_iter().collect();
        assert!(
            rebuilt
                .iter()
                .map(|(k, v)| (*k, *v))
                .eq(reference.into_iter())
        );
    }
}
