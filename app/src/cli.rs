//! The `tfr` command line (clap derive) and what each command does.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{ConfigError, LogFormat, Settings};
use crate::publish::{self, ModuleCoordinates, Target};
use crate::{dev_tls, keys, server, telemetry};

/// Exit code for a configuration error (the message names the key).
pub const EXIT_CONFIG: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "tfr",
    version,
    about = "A private Terraform registry: modules and GPG-signed providers"
)]
pub struct Cli {
    /// A TOML configuration file (keys as in `tfr config check`); TFR_* variables override it.
    #[arg(long, global = true, env = "TFR_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the registry (migrates the database first).
    Serve {
        /// Serve HTTPS with a local development CA and certificate made in <data_dir>/dev-tls.
        #[arg(long)]
        dev_tls: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Manage API keys in the configured database.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Print the OpenAPI document (JSON).
    Openapi,
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Upload a module or a provider to a running registry.
    #[command(subcommand)]
    Publish(PublishCommand),
    /// Blob storage maintenance.
    #[command(subcommand)]
    Storage(StorageCommand),
}

#[derive(Debug, Subcommand)]
pub enum StorageCommand {
    /// Copy every blob from the configured store to another (checksum verified,
    /// resumable, nothing deleted from the source); then switch the configuration.
    Migrate {
        /// A TOML file with the target's storage_* keys, e.g. storage_backend = "s3",
        /// storage_s3_bucket = "tfr-blobs" (same keys as the main configuration).
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
        /// Objects copied at once.
        #[arg(long, default_value_t = crate::storage_migrate::DEFAULT_CONCURRENCY)]
        concurrency: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a system key (global scopes; for bootstrap and automation run by whoever
    /// administers the server); prints the raw key (and nothing else) on stdout, once.
    /// Users create their own keys in the web UI or with the API.
    Create {
        #[arg(long)]
        name: String,
        /// Comma-separated: modules:read|write, providers:read|write, mirrors:read|manage,
        /// users:read|write, organizations:read|write, audit:read, admin:*
        #[arg(long)]
        scopes: String,
        #[arg(long, value_name = "DAYS")]
        expires_in_days: Option<u32>,
    },
    /// List keys (never secrets).
    List,
    /// Revoke a key by id or prefix.
    Revoke {
        #[arg(value_name = "ID|PREFIX")]
        key: String,
    },
    /// Give a key a new secret (same id, owner and scopes); prints the new key once.
    Rotate {
        #[arg(value_name = "ID|PREFIX")]
        key: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Load and validate the configuration; print it (secrets redacted) as JSON.
    Check,
}

#[derive(Debug, Args)]
pub struct Remote {
    /// The registry's base URL, e.g. https://localhost:8443
    #[arg(long, env = "TFR_URL")]
    pub url: String,
    /// An API key with the write scope.
    #[arg(long, env = "TFR_TOKEN", hide_env_values = true)]
    pub token: String,
    /// A PEM CA certificate to trust besides the system roots (e.g. <data_dir>/dev-tls/ca.pem).
    #[arg(long, env = "TFR_CA_CERT", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum PublishCommand {
    /// Publish a module from a directory (packed without .git, .terraform, state) or a .tar.gz/.zip.
    Module {
        #[arg(value_name = "DIR|ARCHIVE")]
        source: PathBuf,
        #[arg(long)]
        namespace: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        system: String,
        #[arg(long)]
        version: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Publish a provider from a goreleaser dist folder (zips, SHA256SUMS, .sig, manifest).
    Provider {
        #[arg(value_name = "DIST_DIR")]
        dist_dir: PathBuf,
        #[arg(long)]
        namespace: String,
        #[arg(long = "type", value_name = "TYPE")]
        provider_type: String,
        #[arg(long)]
        version: String,
        /// ASCII-armored public key; default: gpg-public-key.asc or the only *.asc in DIST_DIR.
        #[arg(long, value_name = "FILE")]
        gpg_public_key: Option<PathBuf>,
        #[command(flatten)]
        remote: Remote,
    },
}

/// Runs the parsed command line and returns the process exit code.
pub async fn run(cli: Cli) -> ExitCode {
    let config = cli.config.as_deref();
    let outcome = match cli.command {
        Command::Serve { dev_tls } => with_settings(config, true, |s| serve(s, dev_tls)).await,
        Command::Migrate => {
            with_settings(config, true, |s| async move {
                crate::wiring::database(&s).await.map(drop)
            })
            .await
        }
        Command::Keys(command) => with_settings(config, false, |s| keys_command(s, command)).await,
        Command::Openapi => {
            emit(&tfr_http::openapi_json());
            Ok(())
        }
        Command::Config(ConfigCommand::Check) => return config_check(config),
        Command::Storage(StorageCommand::Migrate { to, concurrency }) => {
            with_settings(config, false, |s| async move {
                crate::storage_migrate::run(&s, &to, concurrency).await
            })
            .await
        }
        Command::Publish(command) => {
            telemetry::init(LogFormat::Text, false, "warn");
            publish_command(command).await
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Config(err)) => config_failure(&err),
        Err(Failure::Other(err)) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

enum Failure {
    Config(ConfigError),
    Other(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(err: anyhow::Error) -> Self {
        Failure::Other(err)
    }
}

fn config_failure(err: &ConfigError) -> ExitCode {
    eprintln!("configuration error: {err}");
    ExitCode::from(EXIT_CONFIG)
}

/// Loads settings (exit 2 naming the key on error), sets up logging, runs `f`. The server
/// logs to stdout at `info`; admin commands log to stderr at `warn`, keeping stdout for
/// their output.
async fn with_settings<F, Fut>(
    config: Option<&Path>,
    server_like: bool,
    f: F,
) -> Result<(), Failure>
where
    F: FnOnce(Settings) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let settings = Settings::load(config).map_err(Failure::Config)?;
    if server_like {
        telemetry::init(settings.log_format, true, "info");
    } else {
        telemetry::init(LogFormat::Text, false, "warn");
    }
    // A check against the configuration (e.g. the blob store's startup call) names its
    // key like a load error does, and exits the same way.
    f(settings)
        .await
        .map_err(|err| match err.downcast::<ConfigError>() {
            Ok(config) => Failure::Config(config),
            Err(other) => Failure::Other(other),
        })
}

fn config_check(config: Option<&Path>) -> ExitCode {
    let settings = match Settings::load(config) {
        Ok(settings) => settings,
        Err(err) => return config_failure(&err),
    };
    if let (Some(cert), Some(key)) = (&settings.tls_cert_file, &settings.tls_key_file)
        && let Err(err) = server::load_tls(cert, key)
    {
        eprintln!("configuration error: {err:#}");
        return ExitCode::from(EXIT_CONFIG);
    }
    emit(&settings.to_redacted_json());
    if settings.url_signing_key.is_none() {
        eprintln!(
            "note: no url_signing_key set; one is generated into {} on first start (replicas must share one key)",
            settings
                .data_dir
                .join(crate::config::URL_SIGNING_KEY_FILE)
                .display()
        );
    }
    eprintln!("configuration OK");
    ExitCode::SUCCESS
}

async fn serve(mut settings: Settings, dev_tls: bool) -> anyhow::Result<()> {
    let mut made = None;
    if dev_tls {
        if settings.tls_enabled() {
            tracing::warn!("--dev-tls replaces the configured TLS certificate for this run");
        }
        let tls = dev_tls::ensure(&settings.dev_tls_dir(), settings.public_url.as_deref())?;
        settings.tls_cert_file = Some(tls.cert.clone());
        settings.tls_key_file = Some(tls.key.clone());
        made = Some(tls);
    }
    let running = server::start(settings).await?;
    if let Some(tls) = &made {
        eprintln!("\n{}", dev_tls::trust_hint(tls, &running.base_url()));
    }
    eprintln!("tfr is listening on {}", running.base_url());
    running.run_until(shutdown_signal()).await
}

/// Ctrl-C, or SIGTERM on Unix (what container runtimes send).
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutdown requested");
}

async fn keys_command(settings: Settings, command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Create {
            name,
            scopes,
            expires_in_days,
        } => {
            let expires_at =
                expires_in_days.map(|d| chrono::Utc::now() + chrono::Duration::days(i64::from(d)));
            let key = keys::create_api_key_expiring(&settings, &name, &scopes, expires_at).await?;
            emit(&key);
            eprintln!("API key {name:?} created; it is shown only this once.");
        }
        KeysCommand::List => {
            let records = keys::list_api_keys(&settings).await?;
            emit(keys::format_table(&records).trim_end());
        }
        KeysCommand::Rotate { key } => {
            let secret = keys::rotate_api_key(&settings, &key).await?;
            emit(&secret);
            eprintln!(
                "API key {key} rotated; the old secret no longer works. The new one is shown only this once."
            );
        }
        KeysCommand::Revoke { key } => {
            let record = keys::revoke_api_key(&settings, &key).await?;
            eprintln!(
                "revoked API key {} ({}, prefix {})",
                record.id, record.name, record.prefix
            );
        }
    }
    Ok(())
}

async fn publish_command(command: PublishCommand) -> Result<(), Failure> {
    let answer = match command {
        PublishCommand::Module {
            source,
            namespace,
            name,
            system,
            version,
            remote,
        } => {
            let coordinates = ModuleCoordinates {
                namespace: &namespace,
                name: &name,
                system: &system,
                version: &version,
            };
            publish::publish_module(&target(remote), &source, &coordinates).await?
        }
        PublishCommand::Provider {
            dist_dir,
            namespace,
            provider_type,
            version,
            gpg_public_key,
            remote,
        } => {
            publish::publish_provider(
                &target(remote),
                &dist_dir,
                &namespace,
                &provider_type,
                &version,
                gpg_public_key.as_deref(),
            )
            .await?
        }
    };
    if answer.is_success() {
        emit(&answer.pretty_body());
        return Ok(());
    }
    let mut message = format!("the registry answered {}", answer.status);
    for error in answer.errors() {
        message.push_str(&format!("\n  - {error}"));
    }
    Err(Failure::Other(anyhow::anyhow!(message)))
}

/// Prints `text` and a newline on stdout. A closed pipe (`tfr openapi | head`) is not an
/// error worth a panic.
fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}").and_then(|()| out.flush());
}

fn target(remote: Remote) -> Target {
    Target {
        url: remote.url,
        token: remote.token,
        ca_cert: remote.ca_cert,
    }
}
