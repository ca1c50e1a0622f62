//! Finding and running the real `terraform` CLI with every request kept on loopback.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::Context;

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
}

impl Terraform {
    /// `ca_file` is the PEM that terraform will trust (`SSL_CERT_FILE`), e.g. [`crate::TestCa::ca_file`].
    pub fn new(ca_file: impl Into<PathBuf>) -> Self {
        Self {
            ca_file: ca_file.into(),
            timeout: Duration::from_secs(180),
        }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
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
        let env_dir = tempfile::Builder::new().prefix("tfr-tf-env-").tempdir()?;
        let home = env_dir.path().join("home");
        std::fs::create_dir_all(home.join(".terraform.d"))?;
        let cert_dir = env_dir.path().join("empty-cert-dir");
        std::fs::create_dir_all(&cert_dir)?;
        let config = env_dir.path().join("terraformrc");
        std::fs::write(
            &config,
            format!("disable_checkpoint = true\n{cli_config_hcl}\n"),
        )?;

        let mut cmd = tokio::process::Command::new(bin);
        cmd.args(args)
            .current_dir(workdir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("TF_CLI_CONFIG_FILE", &config)
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
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let child = cmd
            .spawn()
            .with_context(|| format!("spawning {}", bin.display()))?;
        let out = tokio::time::timeout(self.timeout, child.wait_with_output())
            .await
            .with_context(|| {
                format!(
                    "{} {:?} did not finish within {:?}",
                    bin.display(),
                    args,
                    self.timeout
                )
            })??;
        Ok(TerraformOutput {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
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
