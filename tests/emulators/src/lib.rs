//! Starts, pauses, stops and restarts the storage emulators the tests run against:
//! moto (S3), azurite (Azure Blob) and gcp-storage-emulator (GCS). Each emulator is a real
//! child process on 127.0.0.1 with its own port and data directory; dropping the handle
//! kills it.
//!
//! `bash .ci/install` installs them: the Python ones into a venv (`$TFR_EMULATORS_VENV`,
//! default `~/.cache/tfr/emulators-venv`, from `tests/emulators/requirements.txt`) and
//! azurite into `tests/emulators/node_modules` (`npm ci`). A missing emulator is an error
//! naming the install command, never a silently skipped test.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

/// Azurite's documented development account.
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
/// Azurite's documented development account key (public, well known).
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// moto accepts any credentials; tests use these.
pub const MOTO_ACCESS_KEY: &str = "tfr-test-access-key";
pub const MOTO_SECRET_KEY: &str = "tfr-test-secret-key";
pub const MOTO_REGION: &str = "us-east-1";

const READY_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmulatorKind {
    /// S3 on moto's server mode (in memory: a restart forgets everything).
    Moto,
    /// Azure Blob on azurite (data on disk: survives [`Emulator::restart`]).
    Azurite,
    /// GCS on gcp-storage-emulator (in memory).
    Gcs,
}

impl EmulatorKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Moto => "moto",
            Self::Azurite => "azurite",
            Self::Gcs => "gcp-storage-emulator",
        }
    }
}

/// A running emulator. Killed on drop.
pub struct Emulator {
    kind: EmulatorKind,
    port: u16,
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    child: Option<Child>,
}

impl Emulator {
    pub async fn moto() -> anyhow::Result<Self> {
        Self::start(EmulatorKind::Moto).await
    }

    pub async fn azurite() -> anyhow::Result<Self> {
        Self::start(EmulatorKind::Azurite).await
    }

    pub async fn gcs() -> anyhow::Result<Self> {
        Self::start(EmulatorKind::Gcs).await
    }

    /// Starts `kind` on a free loopback port and waits until it answers.
    pub async fn start(kind: EmulatorKind) -> anyhow::Result<Self> {
        Self::start_with_env(kind, &[]).await
    }

    /// [`Self::start`] with extra environment variables for the emulator process (e.g.
    /// moto's `INITIAL_NO_AUTH_ACTION_COUNT`, which makes it check credentials).
    pub async fn start_with_env(kind: EmulatorKind, env: &[(&str, &str)]) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("tfr-{}-", kind.name()))
            .tempdir()
            .context("creating the emulator's data directory")?;
        let mut emulator = Self {
            kind,
            port: 0,
            dir,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            child: None,
        };
        let mut last_err = None;
        // A port picked free can be taken before the emulator binds it: try a few.
        for _ in 0..3 {
            emulator.port = free_port()?;
            match emulator.launch().await {
                Ok(()) => return Ok(emulator),
                Err(e) => {
                    emulator.kill().await;
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| anyhow::anyhow!("{} did not start", kind.name())))
    }

    pub fn kind(&self) -> EmulatorKind {
        self.kind
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT` (for azurite the account path is not included; see
    /// [`Self::azurite_blob_endpoint`]).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Azurite's blob endpoint for the development account:
    /// `http://127.0.0.1:PORT/devstoreaccount1`.
    pub fn azurite_blob_endpoint(&self) -> String {
        format!("{}/{AZURITE_ACCOUNT}", self.endpoint())
    }

    /// An Azure connection string for azurite's development account.
    pub fn azurite_connection_string(&self) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};BlobEndpoint={};",
            self.azurite_blob_endpoint()
        )
    }

    /// Creates a bucket (moto, gcp-storage-emulator) or container (azurite) named `name`.
    pub async fn create_bucket(&self, name: &str) -> anyhow::Result<()> {
        let client = reqwest::Client::builder().no_proxy().build()?;
        match self.kind {
            // moto checks no credentials by default: a plain PUT creates the bucket.
            EmulatorKind::Moto => {
                let resp = client
                    .put(format!("{}/{name}", self.endpoint()))
                    .send()
                    .await?;
                if !resp.status().is_success() {
                    bail!("moto: creating bucket {name}: {}", resp.status());
                }
            }
            EmulatorKind::Gcs => {
                let resp = client
                    .post(format!("{}/storage/v1/b?project=tfr-test", self.endpoint()))
                    .json(&serde_json::json!({ "name": name }))
                    .send()
                    .await?;
                if !resp.status().is_success() {
                    bail!("gcs emulator: creating bucket {name}: {}", resp.status());
                }
            }
            // azurite checks the shared key: use the SDK.
            EmulatorKind::Azurite => {
                let credentials = azure_storage::StorageCredentials::access_key(
                    AZURITE_ACCOUNT,
                    AZURITE_KEY.to_string(),
                );
                let location = azure_storage::CloudLocation::Custom {
                    account: AZURITE_ACCOUNT.to_string(),
                    uri: self.azurite_blob_endpoint(),
                };
                azure_storage_blobs::prelude::ClientBuilder::with_location(location, credentials)
                    .container_client(name)
                    .create()
                    .await
                    .map_err(|e| anyhow::anyhow!("azurite: creating container {name}: {e}"))?;
            }
        }
        Ok(())
    }

    /// The OS process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// Freezes the emulator (SIGSTOP): connections stay open and nothing answers, as
    /// with a store that hangs mid-request.
    pub fn pause(&self) -> anyhow::Result<()> {
        self.signal("STOP")
    }

    /// Thaws a paused emulator (SIGCONT).
    pub fn resume(&self) -> anyhow::Result<()> {
        self.signal("CONT")
    }

    /// Kills the emulator; its data directory stays (azurite's blobs survive).
    pub async fn stop(&mut self) {
        self.kill().await;
    }

    /// Starts the emulator again on the same port and data directory.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.kill().await;
        let deadline = Instant::now() + Duration::from_secs(10);
        // The old process's socket may linger for a moment.
        loop {
            match self.launch().await {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => {
                    self.kill().await;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }

    /// Where the emulator keeps its data (azurite's blobs live under it).
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The emulator's combined stdout/stderr so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("emulator.log")
    }

    fn signal(&self, sig: &str) -> anyhow::Result<()> {
        let pid = self
            .pid()
            .with_context(|| format!("{} is not running", self.kind.name()))?;
        let status = std::process::Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(pid.to_string())
            .status()
            .context("running kill")?;
        if !status.success() {
            bail!("kill -{sig} {pid} failed");
        }
        Ok(())
    }

    /// SIGTERM first (azurite saves its metadata on the way out; a SIGKILL loses what
    /// it has not autosaved yet), SIGKILL after 5 s.
    async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = self.resume_pid(&child);
            if let Some(pid) = child.id() {
                let _ = std::process::Command::new("kill")
                    .arg("-TERM")
                    .arg(pid.to_string())
                    .status();
                if tokio::time::timeout(Duration::from_secs(5), child.wait())
                    .await
                    .is_ok()
                {
                    return;
                }
            }
            let _ = child.kill().await;
            let _ = child.wait().await;
        }
    }

    fn resume_pid(&self, child: &Child) -> Option<()> {
        // A paused process cannot die of SIGKILL's cleanup until it runs again.
        let pid = child.id()?;
        std::process::Command::new("kill")
            .arg("-CONT")
            .arg(pid.to_string())
            .status()
            .ok()
            .map(|_| ())
    }

    async fn launch(&mut self) -> anyhow::Result<()> {
        let (program, args, ready_path) = self.command()?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .context("opening the emulator log")?;
        let mut cmd = Command::new(&program);
        cmd.args(&args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            // Keep every request on loopback (no telemetry, no proxies used by accident).
            .env("HTTP_PROXY", "http://127.0.0.1:9")
            .env("HTTPS_PROXY", "http://127.0.0.1:9")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {} ({})", self.kind.name(), program.display()))?;
        self.child = Some(child);
        self.wait_ready(&ready_path).await
    }

    async fn wait_ready(&mut self, path: &str) -> anyhow::Result<()> {
        let url = format!("{}{path}", self.endpoint());
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()?;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!(
                    "{} exited with {status} before it answered; its log:\n{}",
                    self.kind.name(),
                    self.log()
                );
            }
            if client.get(&url).send().await.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{} did not answer {url} within {READY_TIMEOUT:?}; its log:\n{}",
                    self.kind.name(),
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Program, arguments and the path whose answer means "ready".
    fn command(&self) -> anyhow::Result<(PathBuf, Vec<String>, String)> {
        let port = self.port.to_string();
        Ok(match self.kind {
            EmulatorKind::Moto => (
                venv_bin("moto_server")?,
                vec!["-H".into(), "127.0.0.1".into(), "-p".into(), port],
                "/moto-api/".into(),
            ),
            EmulatorKind::Gcs => (
                venv_bin("gcp-storage-emulator")?,
                vec![
                    "start".into(),
                    "--host".into(),
                    "127.0.0.1".into(),
                    "--port".into(),
                    port,
                    "--in-memory".into(),
                    "--quiet".into(),
                ],
                "/".into(),
            ),
            EmulatorKind::Azurite => {
                let data = self.dir.path().join("azurite");
                std::fs::create_dir_all(&data)?;
                (
                    azurite_bin()?,
                    vec![
                        "--blobHost".into(),
                        "127.0.0.1".into(),
                        "--blobPort".into(),
                        port,
                        "--location".into(),
                        data.display().to_string(),
                        "--silent".into(),
                        "--skipApiVersionCheck".into(),
                        "--disableProductStyleUrl".into(),
                        "--disableTelemetry".into(),
                    ],
                    format!("/{AZURITE_ACCOUNT}"),
                )
            }
        })
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            if let Some(pid) = child.id() {
                let _ = std::process::Command::new("kill")
                    .arg("-CONT")
                    .arg(pid.to_string())
                    .status();
            }
            let _ = child.start_kill();
        }
    }
}

fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The venv holding moto and gcp-storage-emulator.
pub fn venv_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TFR_EMULATORS_VENV") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
    home.join(".cache/tfr/emulators-venv")
}

fn venv_bin(name: &str) -> anyhow::Result<PathBuf> {
    let path = venv_dir().join("bin").join(name);
    require(&path, name)?;
    Ok(path)
}

fn azurite_bin() -> anyhow::Result<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("node_modules/.bin/azurite-blob");
    require(&path, "azurite-blob")?;
    Ok(path)
}

fn require(path: &Path, name: &str) -> anyhow::Result<()> {
    if path.exists() {
        Ok(())
    } else {
        bail!(
            "{name} is not installed at {}; run `bash .ci/install` (it installs the storage emulators)",
            path.display()
        )
    }
}
