//! Request handling: what each path serves, and how the knobs bend it.

use std::sync::Mutex;
use std::task::Poll;

use bytes::Bytes;
use futures::Stream;
use poem::http::{StatusCode, header};
use poem::{Body, Request, Response};

use super::{Package, PackageBody, RequestKind, State, key};

fn classify(path: &str) -> (RequestKind, Vec<String>) {
    if path == "/.well-known/terraform.json" {
        return (RequestKind::Discovery, Vec::new());
    }
    let Some(rest) = path.strip_prefix("/v1/providers/") else {
        return (RequestKind::Other, Vec::new());
    };
    let parts: Vec<String> = rest.split('/').map(str::to_string).collect();
    let kind = match parts
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [_, _, "versions"] => RequestKind::Versions,
        [_, _, _, "download", _, _] => RequestKind::DownloadJson,
        [_, _, _, "files", name] if name.ends_with(".zip") => RequestKind::Package,
        [_, _, _, "files", name] if name.ends_with("_SHA256SUMS") => RequestKind::Shasums,
        [_, _, _, "files", name] if name.ends_with("_SHA256SUMS.sig") => RequestKind::Signature,
        _ => RequestKind::Other,
    };
    (kind, parts)
}

fn status(code: u16) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(code).expect("status"))
        .body(format!("fake upstream: {code}"))
}

fn json(value: serde_json::Value, invalid: bool) -> Response {
    let body = if invalid {
        "this is { not JSON".to_string()
    } else {
        value.to_string()
    };
    Response::builder()
        .content_type("application/json")
        .body(body)
}

pub(super) async fn handle(state: &Mutex<State>, req: Request) -> Response {
    let (kind, parts) = classify(req.uri().path());
    let latency = {
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        *s.counts.entry(kind).or_default() += 1;
        s.latency
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    if s.down {
        return status(503);
    }
    if let Some(i) = s.failures.iter().position(|f| f.kind == kind) {
        let failure = s.failures.remove(i);
        let mut resp = status(failure.status);
        if let Some(after) = failure.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, after.parse().expect("header value"));
        }
        return resp;
    }
    let p: Vec<&str> = parts.iter().map(String::as_str).collect();
    match (kind, p.as_slice()) {
        (RequestKind::Discovery, _) => {
            json(serde_json::json!({"providers.v1": "/v1/providers/"}), false)
        }
        (RequestKind::Versions, [ns, ty, _]) => {
            let (ns, ty) = (ns.to_lowercase(), ty.to_lowercase());
            let versions: Vec<_> = s
                .releases
                .range(key(&ns, &ty, "")..)
                .take_while(|((n, t, _), _)| *n == ns && *t == ty)
                .map(|(_, r)| {
                    let platforms: Vec<_> = r
                        .packages
                        .keys()
                        .map(|(os, arch)| serde_json::json!({"os": os, "arch": arch}))
                        .collect();
                    serde_json::json!({"version": r.public.version, "protocols": ["5.0"], "platforms": platforms})
                })
                .collect();
            if versions.is_empty() {
                return status(404);
            }
            json(serde_json::json!({"versions": versions}), s.invalid_json)
        }
        (RequestKind::DownloadJson, [ns, ty, version, _, os, arch]) => {
            let Some(release) = s.releases.get(&key(ns, ty, version)) else {
                return status(404);
            };
            let Some(package) = release.packages.get(&(os.to_string(), arch.to_string())) else {
                return status(404);
            };
            let sums = format!("terraform-provider-{ty}_{version}_SHA256SUMS");
            let doc = serde_json::json!({
                "protocols": ["5.0"], "os": os, "arch": arch,
                "filename": package.info.filename,
                "download_url": format!("../../files/{}", package.info.filename),
                "shasums_url": format!("../../files/{sums}"),
                "shasums_signature_url": format!("/v1/providers/{ns}/{ty}/{version}/files/{sums}.sig"),
                "shasum": package.info.sha256,
                "signing_keys": {"gpg_public_keys": [{
                    "key_id": release.public.key_id,
                    "ascii_armor": release.public.armored_public_key,
                    "trust_signature": "", "source": "fake upstream", "source_url": "https://example.com"
                }]}
            });
            json(doc, s.invalid_json)
        }
        (
            RequestKind::Shasums | RequestKind::Signature | RequestKind::Package,
            [ns, ty, version, _, name],
        ) => {
            let Some(release) = s.releases.get(&key(ns, ty, version)) else {
                return status(404);
            };
            let sums = format!("terraform-provider-{ty}_{version}_SHA256SUMS");
            match kind {
                RequestKind::Shasums if *name == sums => Response::builder()
                    .content_type("text/plain")
                    .body(release.public.shasums.clone()),
                RequestKind::Signature if *name == format!("{sums}.sig") => Response::builder()
                    .content_type("application/octet-stream")
                    .body(release.served_signature.clone()),
                RequestKind::Package => {
                    match release.packages.values().find(|p| p.info.filename == *name) {
                        Some(package) => serve_package(package, s.chunked),
                        None => status(404),
                    }
                }
                _ => status(404),
            }
        }
        _ => status(404),
    }
}

/// A package body in chunks, corrupted and/or cut short as configured.
fn serve_package(package: &Package, chunked: bool) -> Response {
    let chunks: Box<dyn Iterator<Item = Bytes> + Send> = match &package.body {
        PackageBody::Bytes(b) => {
            let b = b.clone();
            let n = b.len().div_ceil(16 * 1024).max(1);
            Box::new(
                (0..n).map(move |i| b.slice(i * 16 * 1024..((i + 1) * 16 * 1024).min(b.len()))),
            )
        }
        PackageBody::Generated(z) => Box::new(z.chunks()),
    };
    let corrupt_at = package.corrupt.then_some(package.info.size / 2);
    let stream = tamper(chunks, corrupt_at, package.truncate_after);
    let mut resp = Response::builder()
        .content_type("application/zip")
        .body(Body::from_bytes_stream(stream));
    if !chunked {
        resp.headers_mut()
            .insert(header::CONTENT_LENGTH, package.info.size.into());
    }
    resp
}

fn tamper(
    mut chunks: Box<dyn Iterator<Item = Bytes> + Send>,
    corrupt_at: Option<u64>,
    truncate_after: Option<u64>,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    let mut offset = 0u64;
    // None: streaming; Some(false): cut, the error is next; Some(true): ended.
    let mut cut: Option<bool> = None;
    futures::stream::poll_fn(move |_| {
        match cut {
            // The error after the cut chunk makes the server abort the connection.
            Some(false) => {
                cut = Some(true);
                return Poll::Ready(Some(Err(std::io::Error::other(
                    "fake upstream cut the body",
                ))));
            }
            Some(true) => return Poll::Ready(None),
            None => {}
        }
        let Some(mut chunk) = chunks.next() else {
            return Poll::Ready(None);
        };
        let start = offset;
        offset += chunk.len() as u64;
        if let Some(at) = corrupt_at.filter(|at| (start..offset).contains(at)) {
            let mut bytes = chunk.to_vec();
            bytes[(at - start) as usize] ^= 0xff;
            chunk = Bytes::from(bytes);
        }
        if let Some(limit) = truncate_after.filter(|limit| offset > *limit) {
            chunk.truncate((limit - start) as usize);
            cut = Some(false);
        }
        Poll::Ready(Some(Ok(chunk)))
    })
}
