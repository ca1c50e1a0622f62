//! Shared by the adapter's test files: the fake upstream registry, a fake upstream with a
//! release, and settings that trust its CA and retry quickly.

// Each test file uses a different part.
#![allow(dead_code)]

// The fake registry and its helpers live in the black-box crate (tests/src); tfr-tests
// depends on the app, which depends on this crate, so they are compiled in here.
#[path = "../../../../tests/src/ca.rs"]
pub mod ca;
#[path = "../../../../tests/src/fake_upstream/mod.rs"]
pub mod fake_upstream;
#[path = "../../../../tests/src/provider.rs"]
pub mod provider;

use std::time::Duration;

use tfr_core::{Platform, ProviderAddress, ProviderVersion, RegistryHost};
use tfr_upstream_http::{HttpUpstreamRegistry, UpstreamSettings};

use ca::TestCa;
use fake_upstream::{DEFAULT_PLATFORMS, FakeRelease, FakeUpstream};

pub struct World {
    pub ca: TestCa,
    pub fake: FakeUpstream,
    pub release: FakeRelease,
}

impl World {
    /// A fake upstream serving `acme/fake` 1.0.0 for linux_amd64 and darwin_arm64.
    pub async fn start() -> World {
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter("tfr_upstream_http=debug")
            .try_init();
        let ca = TestCa::new().expect("test CA");
        let fake = FakeUpstream::start(&ca).await;
        let release = fake.add_provider("acme", "fake", "1.0.0", DEFAULT_PLATFORMS);
        World { ca, fake, release }
    }

    /// Trusts the fake's CA; 3 attempts, backoff capped at 200 ms.
    pub fn settings(&self) -> UpstreamSettings {
        UpstreamSettings {
            max_attempts: 3,
            max_backoff: Duration::from_millis(200),
            extra_ca_files: vec![self.ca.ca_file()],
            ..UpstreamSettings::default()
        }
    }

    pub fn registry(&self) -> HttpUpstreamRegistry {
        HttpUpstreamRegistry::new(self.settings()).expect("registry")
    }

    pub fn host(&self) -> RegistryHost {
        RegistryHost::parse(&self.fake.host()).expect("host")
    }

    pub fn file_url(&self, name: &str) -> String {
        self.fake.file_url("acme", "fake", "1.0.0", name)
    }

    pub fn zip_url(&self, os: &str, arch: &str) -> String {
        self.file_url(&self.release.package(os, arch).filename)
    }
}

pub fn address(ns: &str, ty: &str) -> ProviderAddress {
    ProviderAddress::parse(ns, ty).expect("address")
}

pub fn version(v: &str) -> ProviderVersion {
    ProviderVersion::parse(v).expect("version")
}

pub fn platform(os: &str, arch: &str) -> Platform {
    Platform::new(os, arch).expect("platform")
}
