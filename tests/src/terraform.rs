//! Finding and running the real `terraform` CLI with every request kept on loopback.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

/// Default install location used by `.ci/run`.
pub fn cached_terraform_1_0_3() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/tfr/bin/terraform-1.0.3"))
}

/// Every terraform binary the tests should run against.
///
/// `TFR_TEST_TERRAFORM_BINS` (colon-separated) wins when set and non-empty; otherwise
/// `$HOME/.cache/tfr/bin/terraform-1.0.3` and `/usr/local/bin/terraform`, for those that exist.
/// Binaries that do not exist are left out. Use [`require_terraform_binaries`] in tests.
pub fn terraform_binaries() -> Vec<PathBuf> {
    let from_env: Vec<PathBuf> = std::env::var("TFR_TEST_TERRAFORM_BINS")
        .unwrap_or_default()
        .split(':')
        .filter(|s| !s.trim().is_empty())
        .map(PathBuf::from)
        .collect();
    let candidates = if from_env.is_empty() {
        cached_terraform_1_0_3()
            .into_iter()
            .chain([PathBuf::from("/usr/local/bin/terraform")])
            .collect()
    } else {
        from_env
    };
    let mut out: Vec<PathBuf> = Vec::new();
    for c in candidates {
        if c.is_file() && !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// Like [`terraform_binaries`], but panics (failing the test) when there are none: a missing
/// terraform must never make the terraform tests pass silently.
pub fn require_terraform_binaries() -> Vec<PathBuf> {
    let bins = terraform_binaries();
    assert!(
        !bins.is_empty(),
        "no terraform binary found (TFR_TEST_TERRAFORM_BINS={:?}, nor ~/.cache/tfr/bin/terraform-1.0.3, nor \
         /usr/local/bin/terraform): run `bash .ci/run` once to install terraform 1.0.3, then use `bash .ci/test`",
        std::env::var("TFR_TEST_TERRAFORM_BINS").ok()
    );
    bins
}

/// What a terraform run produced.
#[derive(Debug)]
pub struct TerraformOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl TerraformOutput {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// stdout and stderr together, for assertion messages.
    pub fn combined(&self) -> String {
        format!(
            "status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs terraform with an isolated environment: its own HOME, CLI config, trust store
/// (exactly the test CA), no checkpoint calls, and a dead proxy for anything not on loopback.
pub struct Terraform {
    ca_file: PathBuf,
    timeout: Duration,
    home: Option<PathBuf>,
    config_in_home: bool,
    path: Option<OsString>,
    env: Vec<(OsString, Option<OsString>)>,
}

impl Terraform {
    /// `ca_file` is the PEM that terraform will trust (`SSL_CERT_FILE`), e.g. [`crate::TestCa::ca_file`].
    pub fn new(ca_file: impl Into<PathBuf>) -> Self {
        Self {
            ca_file: ca_file.into(),
            timeout: Duration::from_secs(180),
            home: None,
            config_in_home: false,
            path: None,
            env: Vec::new(),
        }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Every run uses `home` as `HOME` (created, with `.terraform.d` inside), so what one
    /// run leaves there (`terraform login`'s `credentials.tfrc.json`) is seen by the next.
    /// By default each run gets a fresh, empty home.
    pub fn with_home(mut self, home: impl Into<PathBuf>) -> Self {
        self.home = Some(home.into());
        self
    }

    /// Writes the CLI configuration to `$HOME/.terraformrc` and leaves `TF_CLI_CONFIG_FILE`
    /// unset. Terraform 1.0.x ignores `~/.terraform.d/credentials.tfrc.json` whenever
    /// `TF_CLI_CONFIG_FILE` is set, so tests of `terraform login` need this.
    pub fn cli_config_in_home(mut self) -> Self {
        self.config_in_home = true;
        self
    }

    /// `PATH` for terraform (default: the test's own). An empty directory keeps
    /// `terraform login` from finding a browser, so it prints the URL instead.
    pub fn with_path(mut self, path: impl Into<OsString>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Sets (or, after the defaults, overrides) one environment variable.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), Some(value.into())));
        self
    }

    /// Removes one of the default environment variables (e.g. `TF_INPUT` for
    /// `terraform login`, which needs input).
    pub fn env_remove(mut self, key: impl Into<OsString>) -> Self {
        self.env.push((key.into(), None));
        self
    }

    /// Runs `bin args...` in `workdir`. `cli_config_hcl` is written to the file named by
    /// `TF_CLI_CONFIG_FILE`, after a `disable_checkpoint = true` line.
    pub async fn run(
        &self,
        bin: &Path,
        workdir: &Path,
        args: &[&str],
        cli_config_hcl: &str,
    ) -> anyhow::Result<TerraformOutput> {
        self.spawn(bin, workdir, args, cli_config_hcl, None)?
            .finish()
            .await
    }

    /// Starts `bin args...` like [`Self::run`] without waiting: its output can be read while
    /// it runs ([`RunningTerraform::wait_for_stdout`]). `stdin`, when given, is written to
    /// terraform's standard input, which is then closed (otherwise stdin is `/dev/null`).
    pub fn spawn(
        &self,
        bin: &Path,
        workdir: &Path,
        args: &[&str],
        cli_config_hcl: &str,
        stdin: Option<&[u8]>,
    ) -> anyhow::Result<RunningTerraform> {
        let env_dir = tempfile::Builder::new().prefix("tfr-tf-env-").tempdir()?;
        let home = match &self.home {
            Some(home) => home.clone(),
            None => env_dir.path().join("home"),
        };
        std::fs::create_dir_all(home.join(".terraform.d"))?;
        let cert_dir = env_dir.path().join("empty-cert-dir");
        std::fs::create_dir_all(&cert_dir)?;
        let config = if self.config_in_home {
            home.join(".terraformrc")
        } else {
            env_dir.path().join("terraformrc")
        };
        std::fs::write(
            &config,
            format!("disable_checkpoint = true\n{cli_config_hcl}\n"),
        )?;

        let mut cmd = tokio::process::Command::new(bin);
        cmd.args(args)
            .current_dir(workdir)
            .env_clear()
            .env(
                "PATH",
                self.path
                    .clone()
                    .or_else(|| std::env::var_os("PATH"))
                    .unwrap_or_default(),
            )
            .env("HOME", &home)
            .env("SSL_CERT_FILE", &self.ca_file)
            .env("SSL_CERT_DIR", &cert_dir)
            .env("CHECKPOINT_DISABLE", "1")
            .env("HTTP_PROXY", "http://127.0.0.1:9")
            .env("HTTPS_PROXY", "http://127.0.0.1:9")
            .env("http_proxy", "http://127.0.0.1:9")
            .env("https_proxy", "http://127.0.0.1:9")
            .env("NO_PROXY", "")
            .env("no_proxy", "")
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env("TMPDIR", env_dir.path())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if !self.config_in_home {
            cmd.env("TF_CLI_CONFIG_FILE", &config);
        }
        for (key, value) in &self.env {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("spawning {}", bin.display()))?;
        if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
            let bytes = bytes.to_vec();
            tokio::spawn(async move {
                // Closed when dropped: terraform reads its answers, then end of input.
                let _ = pipe.write_all(&bytes).await;
                let _ = pipe.shutdown().await;
            });
        }
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            drain(child.stdout.take().expect("piped stdout"), stdout.clone()),
            drain(child.stderr.take().expect("piped stderr"), stderr.clone()),
        ];
        Ok(RunningTerraform {
            child,
            stdout,
            stderr,
            readers,
            what: format!("{} {:?}", bin.display(), args),
            timeout: self.timeout,
            _env_dir: env_dir,
        })
    }

    /// `terraform version`'s first line, e.g. `Terraform v1.0.3`.
    pub async fn version(&self, bin: &Path) -> anyhow::Result<String> {
        let dir = tempfile::tempdir()?;
        let out = self.run(bin, dir.path(), &["version"], "").await?;
        anyhow::ensure!(
            out.success(),
            "terraform version failed: {}",
            out.combined()
        );
        Ok(out.stdout.lines().next().unwrap_or_default().to_string())
    }
}

/// A terraform started by [`Terraform::spawn`]; killed when dropped.
pub struct RunningTerraform {
    child: tokio::process::Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
    what: String,
    timeout: Duration,
    _env_dir: tempfile::TempDir,
}

impl RunningTerraform {
    /// What terraform wrote to stdout so far.
    pub fn stdout_so_far(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned()
    }

    /// What terraform wrote to stderr so far.
    pub fn stderr_so_far(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Waits until `find` finds something in stdout (called with everything written so
    /// far, each time more arrives). Fails when terraform exits first or `timeout` passes.
    pub async fn wait_for_stdout<T>(
        &mut self,
        timeout: Duration,
        mut find: impl FnMut(&str) -> Option<T>,
    ) -> anyhow::Result<T> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(found) = find(&self.stdout_so_far()) {
                return Ok(found);
            }
            if let Some(status) = self.child.try_wait()? {
                // Let the readers take the last of the output before the final look.
                for reader in std::mem::take(&mut self.readers) {
                    let _ = tokio::time::timeout(Duration::from_secs(5), reader).await;
                }
                if let Some(found) = find(&self.stdout_so_far()) {
                    return Ok(found);
                }
                anyhow::bail!(
                    "{} exited ({status}) before printing what was waited for:\n--- stdout ---\n{}\n--- stderr ---\n{}",
                    self.what,
                    self.stdout_so_far(),
                    self.stderr_so_far()
                );
            }
            if Instant::now() > deadline {
                anyhow::bail!(
                    "{} did not print what was waited for within {timeout:?}:\n--- stdout ---\n{}\n--- stderr ---\n{}",
                    self.what,
                    self.stdout_so_far(),
                    self.stderr_so_far()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for terraform to exit (within the runner's timeout) and returns its output.
    pub async fn finish(mut self) -> anyhow::Result<TerraformOutput> {
        let status = tokio::time::timeout(self.timeout, self.child.wait())
            .await
            .with_context(|| {
                format!(
                    "{} did not finish within {:?}:\n--- stdout ---\n{}\n--- stderr ---\n{}",
                    self.what,
                    self.timeout,
                    self.stdout_so_far(),
                    self.stderr_so_far()
                )
            })??;
        for reader in std::mem::take(&mut self.readers) {
            reader.await.context("reading terraform's output")?;
        }
        Ok(TerraformOutput {
            status,
            stdout: self.stdout_so_far(),
            stderr: self.stderr_so_far(),
        })
    }
}

/// Appends everything `stream` yields to `into`, until end of file.
fn drain(
    mut stream: impl AsyncRead + Unpin + Send + 'static,
    into: Arc<Mutex<Vec<u8>>>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => into.lock().unwrap().extend_from_slice(&buf[..n]),
            }
        }
    })
}
