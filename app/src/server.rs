//! Running the server: bind, optional TLS, graceful shutdown.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use poem::Server;
use poem::listener::{Acceptor, AcceptorExt, RustlsCertificate, RustlsConfig};
use poem::web::{LocalAddr, RemoteAddr};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::Settings;

/// How long in-flight requests get to finish after shutdown is requested.
const GRACEFUL_SHUTDOWN: Duration = Duration::from_secs(20);

/// A server started by [`start`]; stop it with [`RunningServer::shutdown`].
pub struct RunningServer {
    local_addr: SocketAddr,
    tls: bool,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
    /// The download-count flusher: stopped (with a last flush) after the server.
    downloads: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
    /// Hourly cleanup of expired session revocations and login codes.
    housekeeping: Option<JoinHandle<()>>,
    /// The scheduled mirror sync (absent when turned off).
    mirror_scheduler: Option<JoinHandle<()>>,
}

impl RunningServer {
    /// The bound address (the real port when the configuration asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `https://127.0.0.1:PORT` (or `http://`); an unspecified bind address (`0.0.0.0`,
    /// `[::]`) is shown as loopback.
    pub fn base_url(&self) -> String {
        let mut addr = self.local_addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        format!("{}://{addr}", if self.tls { "https" } else { "http" })
    }

    /// Whether the server speaks TLS itself.
    pub fn tls(&self) -> bool {
        self.tls
    }

    /// Stops accepting, lets in-flight requests finish (up to 20 s), and waits.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task)
            .await
            .context("the server task panicked")??;
        if let Some((stop, task)) = self.downloads.take() {
            let _ = stop.send(());
            if let Err(err) = task.await {
                tracing::warn!(error = %err, "the download-count flusher failed");
            }
        }
        if let Some(task) = self.housekeeping.take() {
            task.abort();
        }
        // A run cut short leaves its lease to expire and is recorded as abandoned by the
        // next holder.
        if let Some(task) = self.mirror_scheduler.take() {
            task.abort();
        }
        tracing::info!("server stopped");
        Ok(())
    }

    /// Serves until `signal` completes, then shuts down gracefully. Returns early with
    /// the error if the server stops by itself.
    pub async fn run_until(
        mut self,
        signal: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        tokio::select! {
            () = signal => self.shutdown().await,
            finished = &mut self.task => {
                self.stop.take();
                finished.context("the server task panicked")?.context("the server stopped")?;
                anyhow::bail!("the server stopped unexpectedly")
            }
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.housekeeping.take() {
            task.abort();
        }
        if let Some(task) = self.mirror_scheduler.take() {
            task.abort();
        }
    }
}

/// Accepts TCP connections with `TCP_NODELAY` set (small JSON answers go out at once).
struct NoDelayAcceptor {
    listener: TcpListener,
    local_addr: LocalAddr,
}

impl Acceptor for NoDelayAcceptor {
    type Io = TcpStream;

    fn local_addr(&self) -> Vec<LocalAddr> {
        vec![self.local_addr.clone()]
    }

    async fn accept(
        &mut self,
    ) -> io::Result<(TcpStream, LocalAddr, RemoteAddr, poem::http::uri::Scheme)> {
        let (stream, remote) = self.listener.accept().await?;
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(error = %err, "could not set TCP_NODELAY");
        }
        Ok((
            stream,
            self.local_addr.clone(),
            RemoteAddr(remote.into()),
            poem::http::uri::Scheme::HTTP,
        ))
    }
}

/// Reads and checks a PEM certificate chain and private key, so a bad pair fails at
/// start with the file named rather than at the first handshake.
pub fn load_tls(cert_file: &Path, key_file: &Path) -> anyhow::Result<RustlsConfig> {
    let cert_pem = std::fs::read(cert_file)
        .with_context(|| format!("TFR_TLS_CERT_FILE: reading {}", cert_file.display()))?;
    let key_pem = std::fs::read(key_file)
        .with_context(|| format!("TFR_TLS_KEY_FILE: reading {}", key_file.display()))?;
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            anyhow::anyhow!(
                "TFR_TLS_CERT_FILE: {} is not a PEM certificate chain: {e}",
                cert_file.display()
            )
        })?;
    anyhow::ensure!(
        !certs.is_empty(),
        "TFR_TLS_CERT_FILE: {} holds no certificate",
        cert_file.display()
    );
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        anyhow::anyhow!(
            "TFR_TLS_KEY_FILE: {} is not a PEM private key: {e}",
            key_file.display()
        )
    })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| anyhow::anyhow!("TFR_TLS_CERT_FILE / TFR_TLS_KEY_FILE: the certificate and key do not form a usable pair: {e}"))?;
    Ok(RustlsConfig::new().fallback(RustlsCertificate::new().cert(cert_pem).key(key_pem)))
}

/// Wires everything from `settings`, binds `settings.listen` (port 0 picks a free port)
/// and serves until [`RunningServer::shutdown`].
pub async fn start(settings: Settings) -> anyhow::Result<RunningServer> {
    let tls = match (&settings.tls_cert_file, &settings.tls_key_file) {
        (Some(cert), Some(key)) => Some(load_tls(cert, key)?),
        _ => None,
    };
    // Bound first: with port 0 the public URL (SSO redirect URIs) needs the real port.
    let listener = TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("TFR_LISTEN: cannot listen on {}", settings.listen))?;
    let local_addr = listener.local_addr().context("reading the bound address")?;
    let public_url = settings.public_url.clone().unwrap_or_else(|| {
        let scheme = if tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{local_addr}")
    });
    let wired = crate::wiring::build(&settings, &public_url).await?;
    let downloads = spawn_download_flusher(wired.state.module_catalog.clone());
    let mirror_scheduler = wired
        .housekeeping
        .mirror_scheduler_interval
        .map(|every| spawn_mirror_scheduler(wired.housekeeping.mirror_sync.clone(), every));
    let housekeeping = spawn_housekeeping(wired.housekeeping);
    let app = tfr_http::build_with(wired.state, wired.http_security);
    let acceptor = NoDelayAcceptor {
        listener,
        local_addr: LocalAddr(local_addr.into()),
    };
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let signal = async move {
        let _ = stop_rx.await;
    };
    let is_tls = tls.is_some();
    let task = match tls {
        Some(config) => {
            let acceptor = acceptor.rustls(futures::stream::iter([config]));
            tokio::spawn(
                Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
                    app,
                    signal,
                    Some(GRACEFUL_SHUTDOWN),
                ),
            )
        }
        None => tokio::spawn(
            Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
                app,
                signal,
                Some(GRACEFUL_SHUTDOWN),
            ),
        ),
    };
    tracing::info!(addr = %local_addr, tls = is_tls, "tfr listening");
    Ok(RunningServer {
        local_addr,
        tls: is_tls,
        stop: Some(stop_tx),
        task,
        downloads: Some(downloads),
        housekeeping: Some(housekeeping),
        mirror_scheduler,
    })
}

/// The longest wait before the scheduler's first look: not at once, so that a starting
/// replica (or a fleet restarting together) serves first.
const MIRROR_SCHEDULER_FIRST_DELAY: Duration = Duration::from_secs(20);

/// Every `every` (the first time after at most [`MIRROR_SCHEDULER_FIRST_DELAY`]), runs the
/// mirror configurations that are due. Errors are logged and the next tick retries; a
/// panic escaping a run is caught here too, so the scheduler never dies silently.
fn spawn_mirror_scheduler(
    sync: Arc<tfr_ports::service::MirrorSync>,
    every: Duration,
) -> JoinHandle<()> {
    use futures::FutureExt;
    tracing::info!(
        interval_secs = every.as_secs(),
        holder = sync.holder(),
        "mirror sync scheduler started"
    );
    tokio::spawn(async move {
        let first = tokio::time::Instant::now() + every.min(MIRROR_SCHEDULER_FIRST_DELAY);
        let mut tick = tokio::time::interval_at(first, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match std::panic::AssertUnwindSafe(sync.run_due())
                .catch_unwind()
                .await
            {
                Ok(Ok(runs)) if !runs.is_empty() => {
                    tracing::info!(runs = runs.len(), "scheduled mirror sync done")
                }
                Ok(Ok(_)) => {}
                Ok(Err(err)) => {
                    tracing::warn!(error = %err, "scheduled mirror sync failed; retrying at the next tick")
                }
                Err(panic) => {
                    let what = tfr_ports::panic_message(panic.as_ref());
                    tracing::error!(panic = %what, "scheduled mirror sync panicked; retrying at the next tick")
                }
            }
        }
    })
}

/// How often expired session denylist entries and login codes are deleted.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(3600);

/// Deletes expired denylist entries and `terraform login` codes, hourly. Failures are
/// logged; the next round retries.
fn spawn_housekeeping(work: crate::wiring::Housekeeping) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(HOUSEKEEPING_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match work.sessions.purge_expired().await {
                Ok(n) if n > 0 => tracing::info!(removed = n, "purged expired session revocations"),
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(error = %err, "could not purge expired session revocations")
                }
            }
            match work.terraform_login.purge_expired().await {
                Ok(n) if n > 0 => {
                    tracing::info!(removed = n, "purged expired terraform login codes")
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(error = %err, "could not purge expired terraform login codes")
                }
            }
        }
    })
}

/// How often counted module downloads are written to the database.
const DOWNLOAD_FLUSH_INTERVAL: Duration = Duration::from_secs(10);

/// Writes download counts every [`DOWNLOAD_FLUSH_INTERVAL`], and once more when stopped.
fn spawn_download_flusher(
    catalog: std::sync::Arc<tfr_ports::service::ModuleCatalog>,
) -> (oneshot::Sender<()>, JoinHandle<()>) {
    let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(DOWNLOAD_FLUSH_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => catalog.flush_downloads().await,
                _ = &mut stop_rx => break,
            }
        }
        catalog.flush_downloads().await;
    });
    (stop_tx, task)
}
