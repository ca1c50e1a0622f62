//! Memoised JSON for the hot versions endpoints. The catalogs hand back the same `Arc`
//! while their cache entry lives; the rendering is kept beside a weak reference to it,
//! so a new entry (after a publish or the TTL) is rendered once and then reused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;

/// Entries kept before renderings of dropped values are swept.
const SWEEP_AT: usize = 4096;

pub struct RenderMemo<V> {
    entries: Mutex<HashMap<usize, (Weak<V>, Bytes)>>,
}

impl<V> Default for RenderMemo<V> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<V> RenderMemo<V> {
    pub fn get_or_render(&self, value: &Arc<V>, render: impl FnOnce(&V) -> Bytes) -> Bytes {
        let key = Arc::as_ptr(value) as usize;
        {
            let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((weak, bytes)) = entries.get(&key)
                && weak.upgrade().is_some_and(|live| Arc::ptr_eq(&live, value))
            {
                return bytes.clone();
            }
        }
        let bytes = render(value);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= SWEEP_AT {
            entries.retain(|_, (weak, _)| weak.strong_count() > 0);
        }
        entries.insert(key, (Arc::downgrade(value), bytes.clone()));
        bytes
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn renders_once_per_value_and_again_for_a_new_value() {
        let memo = RenderMemo::default();
        let calls = Cell::new(0);
        let render = |v: &String| {
            calls.set(calls.get() + 1);
            Bytes::from(v.clone())
        };
        let first = Arc::new("a".to_string());
        assert_eq!(memo.get_or_render(&first, render), "a");
        assert_eq!(memo.get_or_render(&first, render), "a");
        assert_eq!(calls.get(), 1, "the same Arc is rendered once");
        let second = Arc::new("b".to_string());
        assert_eq!(memo.get_or_render(&second, render), "b");
        assert_eq!(calls.get(), 2, "a new value is rendered");
    }

    #[test]
    fn a_reused_address_is_not_mistaken_for_the_old_value() {
        let memo = RenderMemo::default();
        let old = Arc::new("old".to_string());
        memo.get_or_render(&old, |v| Bytes::from(v.clone()));
        drop(old);
        // Whatever address the new value gets, the dead weak reference never matches it.
        let new = Arc::new("new".to_string());
        assert_eq!(memo.get_or_render(&new, |v| Bytes::from(v.clone())), "new");
    }
}

/// The memos of the two hot versions endpoints.
#[derive(Default)]
pub struct HotRenders {
    pub modules: RenderMemo<tfr_ports::service::CachedModule>,
    pub providers: RenderMemo<tfr_ports::service::CachedProvider>,
}

/// Serialises a poem-openapi object as its JSON document.
pub fn to_json_bytes<T: poem_openapi::types::ToJSON>(value: &T) -> Bytes {
    Bytes::from(value.to_json_string())
}
