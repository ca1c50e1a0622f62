//! Two `tfr serve` processes on one PostgreSQL database, both running the mirror
//! scheduler: a due configuration is synced by one of them, once.

#[allow(dead_code)]
#[path = "../../tests/src/ca.rs"]
mod ca;
#[allow(dead_code)]
#[path = "../../tests/src/fake_upstream/mod.rs"]
mod fake_upstream;
#[allow(dead_code)]
#[path = "../../tests/src/postgres.rs"]
mod postgres;
#[allow(dead_code)]
#[path = "../../tests/src/provider.rs"]
mod provider;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

/// A `tfr serve` child process, killed when dropped.
struct Replica {
    child: Child,
    base: String,
    log: std::path::PathBuf,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The environment both replicas share: one database, the fake upstream's CA, the
/// scheduler every 10 s (the shortest allowed).
fn tfr(database_url: &str, data_dir: &Path, ca_file: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tfr"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TFR_DATABASE_URL", database_url)
        .env("TFR_DATA_DIR", data_dir)
        .env("TFR_MIRROR_EXTRA_CA_FILES", ca_file)
        .env("TFR_MIRROR_SCHEDULER_INTERVAL_SECS", "10")
        .env("TFR_BCRYPT_COST", "10")
        .env("TFR_LOG_FORMAT", "json")
        .env("RUST_LOG", "info");
    cmd
}

async fn start_replica(database_url: &str, dir: &Path, ca_file: &Path) -> Replica {
    std::fs::create_dir_all(dir).expect("data dir");
    let port = free_port();
    let log = dir.join("tfr.log");
    let child = tfr(database_url, dir, ca_file)
        .arg("serve")
        .env("TFR_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(std::fs::File::create(&log).expect("log file"))
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn tfr serve");
    let replica = Replica {
        child,
        base: format!("http://127.0.0.1:{port}"),
        log,
    };
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if client
            .get(format!("{}/ready", replica.base))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return replica;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "tfr serve did not get ready:\n{}",
        std::fs::read_to_string(&replica.log).unwrap_or_default()
    );
}

async fn runs(client: &reqwest::Client, replica: &Replica, token: &str, id: &str) -> Vec<Value> {
    let body: Value = client
        .get(format!(
            "{}/api/v1/admin/mirrors/{id}/history",
            replica.base
        ))
        .bearer_auth(token)
        .send()
        .await
        .expect("history")
        .json()
        .await
        .expect("history JSON");
    body["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgres_sync_a_due_configuration_once() {
    let (database_url, _db) = postgres::fresh_postgres_db().expect("a fresh PostgreSQL database");
    let ca = ca::TestCa::new().expect("test CA");
    let upstream = fake_upstream::FakeUpstream::start(&ca).await;
    for version in ["1.0.0", "1.1.0", "1.2.0"] {
        upstream.add_provider("acme", "shared", version, fake_upstream::DEFAULT_PLATFORMS);
    }
    // A slow upstream keeps the run going while the other replica's scheduler ticks.
    upstream.set_latency(Duration::from_millis(400));

    let work = tempfile::tempdir().expect("workdir");
    let migrate = tfr(&database_url, &work.path().join("a"), &ca.ca_file())
        .arg("migrate")
        .output()
        .expect("tfr migrate");
    assert!(migrate.status.success(), "{migrate:?}");
    let a = start_replica(&database_url, &work.path().join("a"), &ca.ca_file()).await;
    let b = start_replica(&database_url, &work.path().join("b"), &ca.ca_file()).await;
    let key = tfr(&database_url, &work.path().join("a"), &ca.ca_file())
        .args([
            "keys",
            "create",
            "--name",
            "replicas",
            "--scopes",
            "mirrors:manage",
        ])
        .output()
        .expect("tfr keys create");
    assert!(key.status.success(), "{key:?}");
    let token = String::from_utf8_lossy(&key.stdout).trim().to_string();

    let client = reqwest::Client::new();
    let created: Value = client
        .post(format!("{}/api/v1/admin/mirrors", a.base))
        .bearer_auth(&token)
        .json(&json!({
            "name": "shared",
            "upstream": upstream.host(),
            "namespaces": ["acme"],
            "provider_types": ["shared"],
            "sync_interval_secs": 3600,
        }))
        .send()
        .await
        .expect("create mirror")
        .json()
        .await
        .expect("mirror JSON");
    let id = created["id"].as_str().expect("id").to_string();

    // Both schedulers look every 10 s; wait for the run to finish.
    let mut finished = None;
    for _ in 0..900 {
        if let Some(run) = runs(&client, &b, &token, &id)
            .await
            .into_iter()
            .find(|r| r["status"] != "running")
        {
            finished = Some(run);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let run = finished.expect("a scheduled run finished within 90 s");
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["trigger"], "scheduled", "{run}");
    assert_eq!(run["packages_fetched"], 6, "{run}");
    let pids = [a.child.id(), b.child.id()];
    let holder = run["holder"].as_str().unwrap_or("");
    assert!(
        pids.iter().any(|pid| holder.contains(&format!("-{pid}-"))),
        "run by {holder}, not by process {pids:?}"
    );

    // Another full tick on each replica: the configuration is not synced again.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let all = runs(&client, &a, &token, &id).await;
    assert_eq!(all.len(), 1, "synced more than once: {all:?}");
    for replica in [&a, &b] {
        let log = std::fs::read_to_string(&replica.log).unwrap_or_default();
        assert!(
            log.contains("mirror sync scheduler started"),
            "{}: the scheduler did not run:\n{log}",
            replica.base
        );
    }
    upstream.shutdown().await;
}
