//! In-memory repositories for use-case tests, and the contract suites every repository
//! adapter runs (the fakes run them too, so fakes and adapters agree).
//!
//! Each contract expects an empty repository.

mod api_key_contract;
mod fake_api_keys;
mod fake_modules;
mod fake_providers;
mod module_contract;
mod provider_contract;

use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use crate::driven::ModuleVersionRecord;

pub use api_key_contract::api_key_repository_contract;
pub use fake_api_keys::InMemoryApiKeyRepository;
pub use fake_modules::InMemoryModuleRepository;
pub use fake_providers::InMemoryProviderRepository;
pub use module_contract::module_repository_contract;
pub use provider_contract::provider_repository_contract;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Lower-cased, non-blank search term (the adapters' rule).
fn search_term(search: &Option<String>) -> Option<String> {
    search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_lowercase)
}

/// Offset/limit over an ordered list, with `has_more`.
fn page<T>(all: Vec<T>, offset: u64, limit: u64) -> (Vec<T>, bool) {
    let offset = usize::try_from(offset).unwrap_or(usize::MAX);
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let rest: Vec<T> = all.into_iter().skip(offset).collect();
    let has_more = rest.len() > limit;
    (rest.into_iter().take(limit).collect(), has_more)
}

/// A module version as the read paths return it: without README text.
fn without_readme(v: &ModuleVersionRecord) -> ModuleVersionRecord {
    ModuleVersionRecord {
        readme: None,
        ..v.clone()
    }
}

/// A fixed instant plus `secs`, at microsecond precision (what every database keeps).
fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600 + secs, 123_456_000).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn in_memory_module_repository_honours_the_contract() {
        module_repository_contract(&InMemoryModuleRepository::new()).await;
    }

    #[tokio::test]
    async fn in_memory_provider_repository_honours_the_contract() {
        provider_repository_contract(&InMemoryProviderRepository::new()).await;
    }

    #[tokio::test]
    async fn in_memory_api_key_repository_honours_the_contract() {
        api_key_repository_contract(&InMemoryApiKeyRepository::new()).await;
    }
}
