//! The real terraform CLI installs public providers through tfr's network mirror, with
//! no `direct` installation method: after a sync, before any sync (pull-through), with a
//! lock file made directly against upstream (byte identity), and while upstream is down.

use tfr_tests::fake_upstream::{DEFAULT_PLATFORMS, FakeUpstream, RequestKind};
use tfr_tests::mirror::{
    MIRRORED_HOST, config_for, create_mirror, lock_h1_hashes, main_tf, network_mirror_cli_config,
    sync_and_wait,
};
use tfr_tests::provider::GpgKey;
use tfr_tests::terraform::require_terraform_binaries;
use tfr_tests::{Terraform, TestRegistry};

const INIT: &[&str] = &["init", "-input=false", "-no-color"];

struct World {
    reg: TestRegistry,
    upstream: FakeUpstream,
    /// `mirrors:manage`.
    admin: String,
    /// `providers:read`.
    reader: String,
    tf: Terraform,
}

async fn world() -> World {
    let reg = TestRegistry::builder()
        .tls_trusted_by_upstreams()
        .start()
        .await
        .expect("start tfr");
    let ca = reg.ca.as_ref().expect("TLS registry has a CA");
    let upstream = FakeUpstream::start(ca).await;
    let admin = reg.key_with_scopes("mirrors:manage").await;
    let reader = reg.key_with_scopes("providers:read").await;
    let tf = Terraform::new(ca.ca_file());
    World {
        reg,
        upstream,
        admin,
        reader,
        tf,
    }
}

impl World {
    /// `localhost:PORT` (terraform wants a name, not an IP, in a provider source).
    fn upstream_host(&self) -> String {
        self.upstream.host().replace("127.0.0.1", "localhost")
    }

    /// The archives of a version as tfr's mirror lists them.
    async fn listed(&self, ty: &str, version: &str) -> serde_json::Value {
        let path = format!("/v1/mirror/{MIRRORED_HOST}/acme/{ty}/{version}.json");
        let resp = self
            .reg
            .client
            .get(self.reg.url(&path))
            .bearer_auth(&self.reader)
            .send()
            .await
            .expect("GET version.json");
        let (status, body) = tfr_tests::harness::json_of(resp, &path).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    async fn shutdown(self) {
        self.upstream.shutdown().await;
        self.reg.shutdown().await;
    }
}

fn linux_h1(listed: &serde_json::Value) -> Vec<String> {
    listed["archives"]["linux_amd64"]["hashes"]
        .as_array()
        .expect("linux_amd64 hashes")
        .iter()
        .filter_map(|h| h.as_str())
        .filter(|h| h.starts_with("h1:"))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn init_through_the_mirror_after_a_sync_and_by_pull_through() {
    let bins = require_terraform_binaries();
    let w = world().await;
    let key = GpgKey::generate().expect("gpg key");
    let host = w.upstream_host();
    w.upstream
        .add_provider_signed("acme", "synced", "1.0.0", DEFAULT_PLATFORMS, &key);
    w.upstream
        .add_provider_signed("acme", "lazy", "2.0.0", DEFAULT_PLATFORMS, &key);

    // One configuration syncs acme/synced; another lets any acme/* through on demand.
    let synced = create_mirror(
        &w.reg,
        &w.admin,
        &config_for("a synced", &host, &["acme"], &["synced"]),
    )
    .await;
    create_mirror(
        &w.reg,
        &w.admin,
        &config_for("b pull-through", &host, &["acme"], &[]),
    )
    .await;
    let run = sync_and_wait(&w.reg, &w.admin, &synced).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["packages_fetched"], 2, "{run}");
    assert_eq!(run["versions_fetched"], 1, "{run}");

    // Read protection: the JSON needs a token.
    let anonymous = w
        .reg
        .get_anonymous(&format!(
            "/v1/mirror/{MIRRORED_HOST}/acme/synced/index.json"
        ))
        .await;
    assert_eq!(anonymous.status().as_u16(), 401);

    let cli = network_mirror_cli_config(&w.reg, &w.reader);
    for bin in &bins {
        let version = w.tf.version(bin).await.expect("terraform version");

        // After the sync: served from tfr's storage, upstream not asked for packages.
        w.upstream.reset_counters();
        let work = tempfile::tempdir().expect("workdir");
        std::fs::write(work.path().join("main.tf"), main_tf("acme/synced", "1.0.0"))
            .expect("main.tf");
        let out = w.tf.run(bin, work.path(), INIT, &cli).await.expect("init");
        assert!(
            out.success(),
            "{version}: init after a sync\n{}",
            out.combined()
        );
        assert_eq!(
            w.upstream.requests(RequestKind::Package),
            0,
            "{version}: a synced package came from upstream"
        );
        let lock =
            std::fs::read_to_string(work.path().join(".terraform.lock.hcl")).expect("lock file");
        let listed = linux_h1(&w.listed("synced", "1.0.0").await);
        assert!(
            lock_h1_hashes(&lock).iter().any(|h| listed.contains(h)),
            "{version}: the lock file's h1 {:?} is not what tfr lists {listed:?}\n{lock}",
            lock_h1_hashes(&lock)
        );
    }

    // Before any sync: the first init fetches through tfr, the next ones are served
    // from tfr's storage without calling upstream at all.
    w.upstream.reset_counters();
    for (i, bin) in bins.iter().enumerate() {
        let version = w.tf.version(bin).await.expect("terraform version");
        let before = w.upstream.total_requests();
        let work = tempfile::tempdir().expect("workdir");
        std::fs::write(work.path().join("main.tf"), main_tf("acme/lazy", "2.0.0"))
            .expect("main.tf");
        let out = w.tf.run(bin, work.path(), INIT, &cli).await.expect("init");
        assert!(
            out.success(),
            "{version}: pull-through init\n{}",
            out.combined()
        );
        if i == 0 {
            assert_eq!(
                w.upstream.requests(RequestKind::Package),
                1,
                "{version}: the first init fetches the package once"
            );
        } else {
            assert_eq!(
                w.upstream.total_requests(),
                before,
                "{version}: a pulled-through package was fetched from upstream again"
            );
        }
        let lock =
            std::fs::read_to_string(work.path().join(".terraform.lock.hcl")).expect("lock file");
        let listed = linux_h1(&w.listed("lazy", "2.0.0").await);
        assert!(
            lock_h1_hashes(&lock).iter().any(|h| listed.contains(h)),
            "{version}: lock h1 {:?} vs listed {listed:?}",
            lock_h1_hashes(&lock)
        );
    }

    // Upstream down: what tfr holds keeps being served.
    w.upstream.set_down(true);
    let bin = &bins[0];
    let work = tempfile::tempdir().expect("workdir");
    std::fs::write(work.path().join("main.tf"), main_tf("acme/lazy", "2.0.0")).expect("main.tf");
    let out = w.tf.run(bin, work.path(), INIT, &cli).await.expect("init");
    assert!(out.success(), "init with upstream down\n{}", out.combined());
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lock_file_made_against_upstream_verifies_through_the_mirror() {
    let bins = require_terraform_binaries();
    let w = world().await;
    let key = GpgKey::generate().expect("gpg key");
    let host = w.upstream_host();
    w.upstream
        .add_provider_signed("acme", "same", "1.2.0", DEFAULT_PLATFORMS, &key);
    create_mirror(
        &w.reg,
        &w.admin,
        &config_for("pull-through", &host, &["acme"], &[]),
    )
    .await;
    let mirror_cli = network_mirror_cli_config(&w.reg, &w.reader);

    for bin in &bins {
        let version = w.tf.version(bin).await.expect("terraform version");
        // Directly against upstream: a signed install records every zh: hash.
        let direct_dir = tempfile::tempdir().expect("workdir");
        std::fs::write(
            direct_dir.path().join("main.tf"),
            main_tf(&format!("{host}/acme/same"), "1.2.0"),
        )
        .expect("main.tf");
        let direct =
            w.tf.run(bin, direct_dir.path(), INIT, "")
                .await
                .expect("init");
        assert!(
            direct.success(),
            "{version}: direct init\n{}",
            direct.combined()
        );
        let upstream_lock = std::fs::read_to_string(direct_dir.path().join(".terraform.lock.hcl"))
            .expect("lock file");
        assert!(upstream_lock.contains("zh:"), "{version}: {upstream_lock}");

        // Through the mirror, with upstream's lock entry under the mirrored address: the
        // package must match upstream's signed hashes, so its bytes must be upstream's.
        let work = tempfile::tempdir().expect("workdir");
        std::fs::write(work.path().join("main.tf"), main_tf("acme/same", "1.2.0"))
            .expect("main.tf");
        let lock = upstream_lock.replace(
            &format!("\"{host}/acme/same\""),
            &format!("\"{MIRRORED_HOST}/acme/same\""),
        );
        assert_ne!(lock, upstream_lock, "the lock entry names {host}/acme/same");
        std::fs::write(work.path().join(".terraform.lock.hcl"), &lock).expect("lock");
        let mirrored =
            w.tf.run(bin, work.path(), INIT, &mirror_cli)
                .await
                .expect("init");
        assert!(
            mirrored.success(),
            "{version}: init through the mirror with upstream's lock file\n{}",
            mirrored.combined()
        );
        let after =
            std::fs::read_to_string(work.path().join(".terraform.lock.hcl")).expect("lock file");
        for line in lock.lines().filter(|l| l.contains("zh:")) {
            assert!(
                after.contains(line.trim()),
                "{version}: {line} dropped\n{after}"
            );
        }
    }
    w.shutdown().await;
}
