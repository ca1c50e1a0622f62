//! `tfr publish`: uploading a module or a goreleaser provider dist folder to a running
//! registry over its publishing API, streamed, with a progress bar on stderr.

pub mod dist;
pub mod pack;

use std::path::{Path, PathBuf};

use anyhow::Context;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::multipart::{Form, Part};
use reqwest::{Body, StatusCode};
use tokio_util::io::ReaderStream;

pub use dist::{DistFiles, find_dist_files};
pub use pack::{PackSummary, is_excluded, pack_module_dir};

/// Where to publish and as whom. The token is never printed.
pub struct Target {
    pub url: String,
    pub token: String,
    /// An extra CA to trust (the `--dev-tls` CA, say) besides the system roots.
    pub ca_cert: Option<PathBuf>,
}

/// The server's answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: String,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// The body pretty-printed when it is JSON.
    pub fn pretty_body(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| self.body.clone())
    }

    /// The `errors` of a JSON error body, else the raw body.
    pub fn errors(&self) -> Vec<String> {
        let parsed = serde_json::from_str::<serde_json::Value>(&self.body).ok();
        match parsed
            .as_ref()
            .and_then(|v| v.get("errors"))
            .and_then(|e| e.as_array())
        {
            Some(items) => items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                .collect(),
            None if self.body.trim().is_empty() => vec![],
            None => vec![self.body.trim().to_string()],
        }
    }
}

impl Target {
    fn client(&self) -> anyhow::Result<reqwest::Client> {
        let mut builder =
            reqwest::Client::builder().user_agent(concat!("tfr/", env!("CARGO_PKG_VERSION")));
        let mut extra = Vec::new();
        let ssl_cert_file = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from);
        for path in self.ca_cert.iter().chain(ssl_cert_file.iter()) {
            let pem = std::fs::read(path)
                .with_context(|| format!("reading the CA certificate {}", path.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| format!("{} is not a PEM certificate bundle", path.display()))?;
            extra.extend(certs);
        }
        if !extra.is_empty() {
            builder = builder.tls_certs_merge(extra);
        }
        builder.build().context("building the HTTP client")
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.url.trim_end_matches('/'))
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Answer> {
        let response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("uploading to {}", self.url))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .context("reading the server's answer")?;
        Ok(Answer { status, body })
    }
}

fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// A file as a streamed request body that advances `bar`.
async fn file_body(path: &Path, bar: &ProgressBar) -> anyhow::Result<(Body, u64)> {
    let file = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    let len = file.metadata().await?.len();
    let bar = bar.clone();
    let stream = ReaderStream::with_capacity(file, 64 * 1024).inspect(move |chunk| {
        if let Ok(chunk) = chunk {
            bar.inc(chunk.len() as u64);
        }
    });
    Ok((Body::wrap_stream(stream), len))
}

/// The Content-Type for a module archive, from its file name.
pub fn module_content_type(path: &Path) -> Option<&'static str> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        Some("application/gzip")
    } else if name.ends_with(".zip") {
        Some("application/zip")
    } else {
        None
    }
}

pub struct ModuleCoordinates<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub system: &'a str,
    pub version: &'a str,
}

/// Publishes a module from a directory (packed to a temporary `.tar.gz`) or an archive.
pub async fn publish_module(
    target: &Target,
    source: &Path,
    m: &ModuleCoordinates<'_>,
) -> anyhow::Result<Answer> {
    let packed;
    let (archive, content_type) = if source.is_dir() {
        let temp = tempfile::Builder::new()
            .prefix("tfr-module-")
            .suffix(".tar.gz")
            .tempfile()
            .context("creating a temporary file")?;
        let summary = pack_module_dir(source, temp.as_file())
            .with_context(|| format!("packing {}", source.display()))?;
        eprintln!(
            "packed {} files from {} ({} left out: .git, .terraform, state files)",
            summary.files.len(),
            source.display(),
            summary.skipped.len()
        );
        packed = temp;
        (packed.path().to_path_buf(), "application/gzip")
    } else if source.is_file() {
        let content_type = module_content_type(source).with_context(|| {
            format!(
                "{}: a module archive must be a .tar.gz, .tgz or .zip",
                source.display()
            )
        })?;
        (source.to_path_buf(), content_type)
    } else {
        anyhow::bail!("{} is neither a directory nor a file", source.display());
    };

    let bar = progress_bar(0);
    let (body, len) = file_body(&archive, &bar).await?;
    bar.set_length(len);
    bar.set_message(format!(
        "{}/{}/{} {}",
        m.namespace, m.name, m.system, m.version
    ));
    let url = target.endpoint(&format!(
        "/api/v1/modules/{}/{}/{}/{}",
        m.namespace, m.name, m.system, m.version
    ));
    let request = target
        .client()?
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .header(reqwest::header::CONTENT_LENGTH, len)
        .body(body);
    let answer = target.send(request).await;
    bar.finish_and_clear();
    answer
}

/// Publishes a provider version from a goreleaser dist folder.
pub async fn publish_provider(
    target: &Target,
    dist_dir: &Path,
    namespace: &str,
    provider_type: &str,
    version: &str,
    gpg_public_key: Option<&Path>,
) -> anyhow::Result<Answer> {
    let files = find_dist_files(dist_dir, provider_type, version, gpg_public_key)?;
    let version = version.strip_prefix('v').unwrap_or(version);
    eprintln!(
        "publishing {} platform packages, {}, {}, key {}{}",
        files.packages.len(),
        file_name(&files.shasums),
        file_name(&files.signature),
        file_name(&files.gpg_public_key),
        files
            .manifest
            .as_ref()
            .map(|m| format!(", {}", file_name(m)))
            .unwrap_or_default()
    );

    let bar = progress_bar(0);
    let mut total = 0;
    let mut form = Form::new();
    for package in &files.packages {
        let (body, len) = file_body(package, &bar).await?;
        total += len;
        let part = Part::stream_with_length(body, len)
            .file_name(file_name(package))
            .mime_str("application/zip")?;
        form = form.part("package", part);
    }
    let small = |path: &Path, mime: &'static str| -> anyhow::Result<Part> {
        let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Ok(Part::bytes(data)
            .file_name(file_name(path))
            .mime_str(mime)?)
    };
    form = form
        .part("shasums", small(&files.shasums, "text/plain")?)
        .part(
            "signature",
            small(&files.signature, "application/octet-stream")?,
        )
        .part(
            "gpg_public_key",
            small(&files.gpg_public_key, "text/plain")?,
        );
    if let Some(manifest) = &files.manifest {
        form = form.part("manifest", small(manifest, "application/json")?);
    }
    bar.set_length(total);
    bar.set_message(format!("{namespace}/{provider_type} {version}"));
    let url = target.endpoint(&format!(
        "/api/v1/providers/{namespace}/{provider_type}/{version}"
    ));
    let answer = target
        .send(target.client()?.post(url).multipart(form))
        .await;
    bar.finish_and_clear();
    answer
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
