//! Shapes, status codes and headers of the protocol and publishing endpoints (protocols.md
//! sections 1-3), checked over HTTP against a running tfr.

use std::collections::BTreeSet;

use reqwest::Url;
use serde_json::{Value, json};
use tfr_tests::TestRegistry;
use tfr_tests::archives;
use tfr_tests::harness::{assert_error, first_error, json_of};
use tfr_tests::provider::{ProviderDist, generate_signing_key, sha256_hex};

const PLATFORMS: &[(&str, &str)] = &[("linux", "amd64"), ("darwin", "arm64")];

async fn reg() -> TestRegistry {
    TestRegistry::start().await.expect("start tfr")
}

fn is_json(resp: &reqwest::Response) -> bool {
    resp.headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim() == "application/json")
        .unwrap_or(false)
}

async fn assert_json_404(reg: &TestRegistry, path: &str) {
    let resp = reg.get(path).await;
    assert!(
        is_json(&resp),
        "{path}: 404 must be JSON: {:?}",
        resp.headers()
    );
    let (s, body) = json_of(resp, path).await;
    assert_eq!(s, 404, "{path}: {body}");
    assert!(!first_error(&body).is_empty(), "{path}: empty error");
}

fn version_set(body: &Value) -> BTreeSet<String> {
    body["modules"][0]["versions"]
        .as_array()
        .unwrap_or_else(|| panic!("no modules[0].versions in {body}"))
        .iter()
        .map(|v| v["version"].as_str().expect("version string").to_string())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// `X-Terraform-Get` of a module download, resolved against the download URL.
async fn module_link(reg: &TestRegistry, path: &str) -> Url {
    let resp = reg.get(path).await;
    assert_eq!(resp.status().as_u16(), 204, "{path}");
    let raw = resp
        .headers()
        .get("x-terraform-get")
        .unwrap_or_else(|| panic!("{path}: no X-Terraform-Get"))
        .to_str()
        .expect("ascii header")
        .to_string();
    Url::parse(&reg.url(path))
        .expect("url")
        .join(&raw)
        .expect("resolve link")
}

/// GET without any Authorization header, with a client that has no key.
async fn anonymous_get(reg: &TestRegistry, url: &Url) -> reqwest::Response {
    reg.client
        .get(url.clone())
        .send()
        .await
        .expect("anonymous GET")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_health_and_ready() {
    let reg = reg().await;
    let resp = reg.get("/.well-known/terraform.json").await;
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        is_json(&resp),
        "discovery content type: {:?}",
        resp.headers()
    );
    let (_, body) = json_of(resp, "discovery").await;
    let modules = body["modules.v1"].as_str().expect("modules.v1");
    let providers = body["providers.v1"].as_str().expect("providers.v1");
    assert!(modules.ends_with("/v1/modules/"), "{body}");
    assert!(providers.ends_with("/v1/providers/"), "{body}");
    assert!(
        body.get("tfe.v2").is_none(),
        "must not advertise tfe.v2: {body}"
    );

    assert_eq!(reg.get("/health").await.status().as_u16(), 200);
    assert_eq!(reg.get("/ready").await.status().as_u16(), 200);
    reg.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn module_versions_and_download() {
    let reg = reg().await;
    let mut archives_by_version = Vec::new();
    for v in ["1.0.0", "1.1.0", "1.2.0-beta1", "2.0.0"] {
        let body = archives::module_tar_gz(&format!("net {v}"));
        let resp = reg
            .publish_module("acme/net/aws", v, body.clone(), archives::GZIP)
            .await;
        let (s, created) = json_of(resp, v).await;
        assert_eq!(s, 201, "{created}");
        assert!(
            created.to_string().contains(v),
            "201 body names the version: {created}"
        );
        archives_by_version.push((v, body));
    }
    // A .zip upload is accepted too.
    let zip = archives::module_zip("net zip");
    let resp = reg
        .publish_module("acme/net/aws", "2.1.0", zip.clone(), archives::ZIP)
        .await;
    assert_eq!(resp.status().as_u16(), 201, "{:?}", resp.text().await);

    let resp = reg.get("/v1/modules/acme/net/aws/versions").await;
    assert!(is_json(&resp));
    let (s, body) = json_of(resp, "versions").await;
    assert_eq!(s, 200);
    assert_eq!(body["modules"].as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(
        version_set(&body),
        set(&["1.0.0", "1.1.0", "1.2.0-beta1", "2.0.0", "2.1.0"])
    );

    // Download: 204 + X-Terraform-Get; the link works with no credentials and serves the bytes.
    for (v, bytes) in &archives_by_version {
        let link = module_link(&reg, &format!("/v1/modules/acme/net/aws/{v}/download")).await;
        assert!(link.path().starts_with("/v1/files/"), "{link}");
        let resp = anonymous_get(&reg, &link).await;
        assert_eq!(resp.status().as_u16(), 200, "{link}");
        assert_eq!(
            resp.bytes().await.expect("body").as_ref(),
            bytes.as_slice(),
            "{v}"
        );
        let head = reg.client.head(link.clone()).send().await.expect("HEAD");
        assert!(
            head.status().as_u16() < 500,
            "HEAD {link}: {}",
            head.status()
        );
    }
    let link = module_link(&reg, "/v1/modules/acme/net/aws/2.1.0/download").await;
    let got = anonymous_get(&reg, &link)
        .await
        .bytes()
        .await
        .expect("zip body");
    assert_eq!(got.as_ref(), zip.as_slice());
    reg.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn module_versions_are_stored_in_canonical_form() {
    let reg = reg().await;
    reg.publish_sample_module("acme/net/aws", "v1.2").await;
    let (_, body) = reg.get_json("/v1/modules/acme/net/aws/versions").await;
    assert_eq!(version_set(&body), set(&["1.2.0"]), "{body}");
    let link = module_link(&reg, "/v1/modules/acme/net/aws/1.2.0/download").await;
    assert_eq!(anonymous_get(&reg, &link).await.status().as_u16(), 200);
    // The same version in another spelling is a re-publish.
    let resp = reg
        .publish_module(
            "acme/net/aws",
            "1.2.0",
            archives::module_tar_gz("x"),
            archives::GZIP,
        )
        .await;
    assert_error(
        resp,
        409,
        &["exist", "already", "immutable", "1.2.0"],
        "re-publish 1.2.0",
    )
    .await;
    reg.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_links_reject_tampering() {
    let reg = reg().await;
    reg.publish_sample_module("acme/net/aws", "1.0.0").await;
    reg.publish_sample_module("acme/net/aws", "1.1.0").await;
    let link = module_link(&reg, "/v1/modules/acme/net/aws/1.1.0/download").await;
    assert_eq!(anonymous_get(&reg, &link).await.status().as_u16(), 200);
    let pairs: Vec<(String, String)> = link.query_pairs().into_owned().collect();
    assert!(!pairs.is_empty(), "download link is not signed: {link}");

    let mut tampered: Vec<(String, Url)> = Vec::new();
    // Each query value altered: numbers (expiry) set in the past, anything else flipped.
    for (i, (k, v)) in pairs.iter().enumerate() {
        let new_v = if !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()) {
            "1000000000".to_string()
        } else {
            let mut chars: Vec<char> = v.chars().collect();
            match chars.last_mut() {
                Some(c) => *c = if *c == 'A' { 'B' } else { 'A' },
                None => chars.push('A'),
            }
            chars.into_iter().collect()
        };
        let mut u = link.clone();
        {
            let mut q = u.query_pairs_mut();
            q.clear();
            for (j, (k2, v2)) in pairs.iter().enumerate() {
                q.append_pair(k2, if i == j { &new_v } else { v2 });
            }
        }
        tampered.push((format!("{k} altered"), u));
    }
    // Query dropped.
    let mut bare = link.clone();
    bare.set_query(None);
    tampered.push(("no query".into(), bare));
    // Another file's path with this file's signature.
    let mut other = link.clone();
    other.set_path(&link.path().replace("1.1.0", "1.0.0"));
    assert_ne!(
        other.path(),
        link.path(),
        "link path should contain the version: {link}"
    );
    tampered.push(("path of another version".into(), other));

    for (what, url) in tampered {
        let resp = anonymous_get(&reg, &url).await;
        assert_eq!(resp.status().as_u16(), 403, "{what}: {url}");
    }
    reg.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_things_are_json_404s() {
    let reg = reg().await;
    reg.publish_sample_module("acme/net/aws", "1.0.0").await;
    let key = generate_signing_key();
    let dist = ProviderDist::build(&key, "fake", "1.0.0", &[("linux", "amd64")]);
    let published = reg
        .publish_provider_ok("acme/fake", "1.0.0", &dist.upload())
        .await;
    // The test key is Ed25519: accepted, with a warning that Terraform 1.0.x cannot read it.
    let warnings = published["warnings"]
        .as_array()
        .expect("warnings for an EdDSA key");
    assert!(
        warnings[0].as_str().is_some_and(|w| w.contains("RSA")),
        "{published}"
    );

    for path in [
        "/v1/modules/acme/nope/aws/versions",
        "/v1/modules/nobody/net/aws/versions",
        "/v1/modules/acme/net/azurerm/versions",
        "/v1/modules/acme/net/aws/9.9.9/download",
        "/v1/modules/acme/nope/aws",
        "/v1/providers/acme/nope/versions",
        "/v1/providers/nobody/fake/versions",
        "/v1/providers/acme/fake/9.9.9/download/linux/amd64",
        "/v1/providers/acme/fake/1.0.0/download/windows/amd64",
        "/v1/providers/acme/fake/1.0.0/download/linux/arm64",
    ] {
        assert_json_404(&reg, path).await;
    }
    reg.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn module_lookup_is_case_insensitive() {
    let reg = reg().await;
    reg.publish_sample_module("Acme/Net/aws", "1.0.0").await;
    for path in [
        "/v1/modules/acme/net/aws/versions",
        "/v1/modules/ACME/NET/aws/versions",
        "/v1/modules/Acme/Net/aws/versions",
    ] {
        let (s, body) = reg.get_json(path).await;
        assert_eq!(s, 200, "{path}: {body}");
        assert_eq!(version_set(&body), set(&["1.0.0"]), "{path}");
    }
    let link = module_link(&reg, "/v1/modules/aCmE/nEt/aws/1.0.0/download").await;
    assert_eq!(anonymous_get(&reg, &link).await.status().as_u16(), 200);
    // Another spelling of the same module is the same module: 409, not a second module.
    let resp = reg
        .publish_module(
            "ACME/NET/aws",
            "1.0.0",
            archives::module_tar_gz("x"),
            archives::GZIP,
        )
        .await;
    assert_eq!(resp.status().as_u16(), 409);
    reg.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_search_latest_and_pagination() {
    let reg = reg().await;
    for v in ["1.0.0", "2.0.0", "2.1.0-rc1"] {
        reg.publish_sample_module("acme/net/aws", v).await;
    }
    reg.publish_sample_module("acme/dns/aws", "0.1.0").await;
    reg.publish_sample_module("other/net/google", "3.0.0").await;

    // Page 1 of 2.
    let (s, page1) = reg.get_json("/v1/modules?limit=2").await;
    assert_eq!(s, 200, "{page1}");
    assert_eq!(page1["meta"]["limit"], 2, "{page1}");
    assert_eq!(page1["meta"]["current_offset"], 0, "{page1}");
    assert_eq!(page1["meta"]["next_offset"], 2, "{page1}");
    let next_url = page1["meta"]["next_url"].as_str().expect("next_url");
    assert!(next_url.contains("offset=2"), "{next_url}");
    assert_eq!(
        page1["modules"].as_array().map(Vec::len),
        Some(2),
        "{page1}"
    );
    // Page 2 via next_url.
    let (s, page2) = reg.get_json(next_url).await;
    assert_eq!(s, 200, "{page2}");
    assert_eq!(
        page2["modules"].as_array().map(Vec::len),
        Some(1),
        "{page2}"
    );
    assert!(page2["meta"].get("next_offset").is_none(), "{page2}");
    assert_eq!(page2["meta"]["prev_offset"], 0, "{page2}");
    let ids: BTreeSet<String> = page1["modules"]
        .as_array()
        .into_iter()
        .chain(page2["modules"].as_array())
        .flatten()
        .map(|m| format!("{}/{}/{}", m["namespace"], m["name"], m["provider"]).replace('"', ""))
        .collect();
    assert_eq!(
        ids,
        set(&["acme/net/aws", "acme/dns/aws", "other/net/google"])
    );

    // By namespace.
    let (_, acme) = reg.get_json("/v1/modules/acme").await;
    let names: BTreeSet<String> = acme["modules"]
        .as_array()
        .expect("modules")
        .iter()
        .map(|m| m["name"].as_str().expect("name").to_string())
        .collect();
    assert_eq!(names, set(&["net", "dns"]), "{acme}");

    // Search.
    let (s, found) = reg.get_json("/v1/modules/search?q=net").await;
    assert_eq!(s, 200, "{found}");
    let found: BTreeSet<String> = found["modules"]
        .as_array()
        .expect("modules")
        .iter()
        .map(|m| format!("{}/{}", m["namespace"], m["name"]).replace('"', ""))
        .collect();
    assert_eq!(found, set(&["acme/net", "other/net"]));

    // Latest: newest non-prerelease, with the documented fields.
    let (s, latest) = reg.get_json("/v1/modules/acme/net/aws").await;
    assert_eq!(s, 200, "{latest}");
    assert_eq!(latest["version"], "2.0.0", "{latest}");
    assert_eq!(latest["namespace"], "acme");
    assert_eq!(latest["name"], "net");
    assert_eq!(latest["provider"], "aws");
    assert!(
        latest["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("acme/net/aws/")),
        "{latest}"
    );
    assert!(latest.get("published_at").is_some(), "{latest}");
    // One version.
    let (s, one) = reg.get_json("/v1/modules/acme/net/aws/1.0.0").await;
    assert_eq!((s, &one["version"]), (200, &json!("1.0.0")), "{one}");

    // Download of the latest: 302 to the versioned download.
    let resp = reg.get("/v1/modules/acme/net/aws/download").await;
    assert_eq!(resp.status().as_u16(), 302);
    let location = resp
        .headers()
        .get("location")
        .expect("Location")
        .to_str()
        .expect("ascii");
    assert!(
        location.ends_with("/v1/modules/acme/net/aws/2.0.0/download"),
        "{location}"
    );
    reg.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_versions_and_download_shapes() {
    let reg = reg().await;
    let key = generate_signing_key();
    let dist = ProviderDist::build(&key, "fake", "1.0.0", PLATFORMS);
    let created = reg
        .publish_provider_ok("acme/fake", "1.0.0", &dist.upload())
        .await;
    assert!(created.to_string().contains("1.0.0"), "{created}");

    let resp = reg.get("/v1/providers/acme/fake/versions").await;
    assert!(is_json(&resp));
    let (s, body) = json_of(resp, "provider versions").await;
    assert_eq!(s, 200, "{body}");
    let versions = body["versions"].as_array().expect("versions");
    assert_eq!(versions.len(), 1, "{body}");
    assert_eq!(versions[0]["version"], "1.0.0");
    assert_eq!(versions[0]["protocols"], json!(["5.0"]));
    let platforms: BTreeSet<String> = versions[0]["platforms"]
        .as_array()
        .expect("platforms")
        .iter()
        .map(|p| {
            format!(
                "{}_{}",
                p["os"].as_str().expect("os"),
                p["arch"].as_str().expect("arch")
            )
        })
        .collect();
    assert_eq!(platforms, set(&["linux_amd64", "darwin_arm64"]));

    for (os, arch) in PLATFORMS {
        let path = format!("/v1/providers/acme/fake/1.0.0/download/{os}/{arch}");
        let resp = reg.get(&path).await;
        assert!(is_json(&resp));
        let (s, d) = json_of(resp, &path).await;
        assert_eq!(s, 200, "{d}");
        let filename = format!("terraform-provider-fake_1.0.0_{os}_{arch}.zip");
        assert_eq!(d["os"], *os);
        assert_eq!(d["arch"], *arch);
        assert_eq!(d["filename"], filename.as_str());
        assert_eq!(d["protocols"], json!(["5.0"]));
        assert_eq!(d["shasum"], sha256_hex(dist.zip(os, arch)).as_str());
        let keys = d["signing_keys"]["gpg_public_keys"]
            .as_array()
            .expect("gpg_public_keys");
        assert_eq!(keys.len(), 1, "{d}");
        assert_eq!(keys[0]["trust_signature"], "", "{d}");
        assert_eq!(
            keys[0]["key_id"].as_str().map(str::to_uppercase),
            Some(dist.key_id.clone())
        );
        assert!(
            keys[0]["ascii_armor"]
                .as_str()
                .is_some_and(|a| a.contains("BEGIN PGP PUBLIC KEY BLOCK")),
            "{d}"
        );

        // The three links work with no credentials and serve exactly the published bytes.
        let base = Url::parse(&reg.url(&path)).expect("url");
        for (field, expected) in [
            ("download_url", dist.zip(os, arch).to_vec()),
            ("shasums_url", dist.shasums.clone()),
            ("shasums_signature_url", dist.signature.clone()),
        ] {
            let url = base
                .join(
                    d[field]
                        .as_str()
                        .unwrap_or_else(|| panic!("{field} in {d}")),
                )
                .expect("resolve");
            let resp = anonymous_get(&reg, &url).await;
            assert_eq!(resp.status().as_u16(), 200, "{field}: {url}");
            assert_eq!(
                resp.bytes().await.expect("body").to_vec(),
                expected,
                "{field}"
            );
        }
        // SHA256SUMS has a line for this filename in sha256sum text format.
        let line = format!("{}  {}", sha256_hex(dist.zip(os, arch)), filename);
        assert!(
            String::from_utf8_lossy(&dist.shasums)
                .lines()
                .any(|l| l == line)
        );
    }
    reg.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn republishing_is_409_and_changes_nothing() {
    let reg = reg().await;
    let original = archives::module_tar_gz("original");
    let resp = reg
        .publish_module("acme/net/aws", "1.0.0", original.clone(), archives::GZIP)
        .await;
    assert_eq!(resp.status().as_u16(), 201);
    let key = generate_signing_key();
    let dist = ProviderDist::build(&key, "fake", "1.0.0", PLATFORMS);
    reg.publish_provider_ok("acme/fake", "1.0.0", &dist.upload())
        .await;
    let blobs = reg.blob_files();

    let resp = reg
        .publish_module(
            "acme/net/aws",
            "1.0.0",
            archives::module_tar_gz("changed"),
            archives::GZIP,
        )
        .await;
    assert_error(
        resp,
        409,
        &["exist", "already", "immutable", "1.0.0"],
        "module re-publish",
    )
    .await;
    let other_key = generate_signing_key();
    let changed = ProviderDist::build(&other_key, "fake", "1.0.0", &[("linux", "amd64")]);
    let resp = reg
        .publish_provider("acme/fake", "1.0.0", &changed.upload())
        .await;
    assert_error(
        resp,
        409,
        &["exist", "already", "immutable", "1.0.0"],
        "provider re-publish",
    )
    .await;

    assert_eq!(reg.blob_files_settled(&blobs).await, blobs);
    let link = module_link(&reg, "/v1/modules/acme/net/aws/1.0.0/download").await;
    let got = anonymous_get(&reg, &link)
        .await
        .bytes()
        .await
        .expect("body");
    assert_eq!(got.as_ref(), original.as_slice());
    let (_, d) = reg
        .get_json("/v1/providers/acme/fake/1.0.0/download/darwin/arm64")
        .await;
    assert_eq!(
        d["shasum"],
        sha256_hex(dist.zip("darwin", "arm64")).as_str()
    );
    reg.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_removes_versions_and_their_blobs() {
    let reg = reg().await;
    reg.publish_sample_module("acme/net/aws", "1.0.0").await;
    let key = generate_signing_key();
    let d1 = ProviderDist::build(&key, "fake", "1.0.0", PLATFORMS);
    reg.publish_provider_ok("acme/fake", "1.0.0", &d1.upload())
        .await;
    let baseline = reg.blob_files();
    assert!(
        !baseline.is_empty(),
        "publishing stored no blobs under {:?}",
        reg.blobs_dir()
    );

    reg.publish_sample_module("acme/net/aws", "1.1.0").await;
    let d2 = ProviderDist::build(&key, "fake", "1.1.0", PLATFORMS);
    reg.publish_provider_ok("acme/fake", "1.1.0", &d2.upload())
        .await;
    assert!(reg.blob_files().len() > baseline.len());
    let old_link = module_link(&reg, "/v1/modules/acme/net/aws/1.1.0/download").await;

    // Without a key: 401 and nothing removed.
    let resp = reg
        .client
        .delete(reg.url("/api/v1/modules/acme/net/aws/1.1.0"))
        .send()
        .await
        .expect("DELETE");
    assert_eq!(resp.status().as_u16(), 401);

    let resp = reg.delete("/api/v1/modules/acme/net/aws/1.1.0").await;
    assert!(
        matches!(resp.status().as_u16(), 200 | 204),
        "{}",
        resp.status()
    );
    let resp = reg.delete("/api/v1/providers/acme/fake/1.1.0").await;
    assert!(
        matches!(resp.status().as_u16(), 200 | 204),
        "{}",
        resp.status()
    );

    let (_, body) = reg.get_json("/v1/modules/acme/net/aws/versions").await;
    assert_eq!(version_set(&body), set(&["1.0.0"]));
    let (_, body) = reg.get_json("/v1/providers/acme/fake/versions").await;
    let listed: Vec<&str> = body["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| v["version"].as_str().expect("version"))
        .collect();
    assert_eq!(listed, vec!["1.0.0"]);
    assert_json_404(&reg, "/v1/modules/acme/net/aws/1.1.0/download").await;
    assert_json_404(&reg, "/v1/providers/acme/fake/1.1.0/download/linux/amd64").await;
    // Blobs: exactly what was there before 1.1.0 was published.
    assert_eq!(reg.blob_files_settled(&baseline).await, baseline);
    // A link handed out before the delete no longer serves the archive.
    let status = anonymous_get(&reg, &old_link).await.status().as_u16();
    assert!(
        matches!(status, 403 | 404 | 410),
        "deleted archive still served: {status}"
    );

    // Deleting again: 404.
    let resp = reg.delete("/api/v1/modules/acme/net/aws/1.1.0").await;
    assert_eq!(resp.status().as_u16(), 404);
    reg.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_links_are_403() {
    let reg = TestRegistry::builder()
        .configure(|s| s.download_url_ttl_secs = 1)
        .start()
        .await
        .expect("start tfr");
    reg.publish_sample_module("acme/net/aws", "1.0.0").await;
    let link = module_link(&reg, "/v1/modules/acme/net/aws/1.0.0/download").await;
    assert_eq!(anonymous_get(&reg, &link).await.status().as_u16(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(
        anonymous_get(&reg, &link).await.status().as_u16(),
        403,
        "expired link still served: {link}"
    );
    // A fresh link works again.
    let fresh = module_link(&reg, "/v1/modules/acme/net/aws/1.0.0/download").await;
    assert_eq!(anonymous_get(&reg, &fresh).await.status().as_u16(), 200);
    reg.shutdown().await;
}
