//! The three JSON documents of the Provider Registry Protocol, parsed and checked. Pure:
//! bytes and the document's URL in, port types or a reason out.

use reqwest::Url;
use serde::Deserialize;
use serde_json::Value;
use tfr_core::Platform;
use tfr_ports::driven::{UpstreamPackage, UpstreamVersion};

/// `providers.v1` of a discovery document, resolved against `doc_url` (the final URL
/// after redirects) and ending with `/`. `Ok(None)`: the host offers no provider registry.
pub(crate) fn providers_base(doc_url: &Url, body: &[u8]) -> Result<Option<Url>, String> {
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| format!("discovery document: {e}"))?;
    let Some(obj) = doc.as_object() else {
        return Err("discovery document is not a JSON object".to_string());
    };
    let Some(value) = obj.get("providers.v1") else {
        return Ok(None);
    };
    let Some(raw) = value.as_str() else {
        return Err("discovery document: providers.v1 is not a string".to_string());
    };
    let mut url = resolve(doc_url, raw, "providers.v1")?;
    url.set_fragment(None);
    url.set_query(None);
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(Some(url))
}

/// `reference` resolved against `base`: http(s) only, no user info.
pub(crate) fn resolve(base: &Url, reference: &str, field: &str) -> Result<Url, String> {
    if reference.trim().is_empty() {
        return Err(format!("{field} is empty"));
    }
    let url = base
        .join(reference)
        .map_err(|e| format!("{field} is not a valid URL reference: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "{field} has the unsupported scheme {:?} (http or https only)",
            url.scheme()
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{field} carries user info, which is not allowed"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{field} has no host"));
    }
    Ok(url)
}

#[derive(Deserialize)]
struct VersionsDoc {
    versions: Vec<VersionDto>,
}

#[derive(Deserialize)]
struct VersionDto {
    version: String,
    #[serde(default)]
    protocols: Vec<String>,
    #[serde(default)]
    platforms: Vec<PlatformDto>,
}

#[derive(Deserialize)]
struct PlatformDto {
    os: String,
    arch: String,
}

/// The versions list. Version strings stay raw; platforms that are not valid
/// `os_arch` pairs are skipped (with a debug log), as Terraform only shows them.
pub(crate) fn versions(body: &[u8]) -> Result<Vec<UpstreamVersion>, String> {
    let doc: VersionsDoc = serde_json::from_slice(body).map_err(|e| format!("versions: {e}"))?;
    Ok(doc
        .versions
        .into_iter()
        .map(|v| {
            let platforms = v
                .platforms
                .iter()
                .filter_map(|p| match Platform::new(&p.os, &p.arch) {
                    Ok(platform) => Some(platform),
                    Err(e) => {
                        tracing::debug!(version = %v.version, error = %e, "skipping an upstream platform");
                        None
                    }
                })
                .collect();
            UpstreamVersion {
                version: v.version,
                protocols: v.protocols,
                platforms,
            }
        })
        .collect())
}

#[derive(Deserialize)]
struct PackageDoc {
    #[serde(default)]
    protocols: Vec<String>,
    os: Option<String>,
    arch: Option<String>,
    filename: String,
    download_url: String,
    shasums_url: String,
    shasums_signature_url: String,
    shasum: String,
    signing_keys: SigningKeys,
}

#[derive(Deserialize)]
struct SigningKeys {
    gpg_public_keys: Vec<GpgKeyDto>,
}

#[derive(Deserialize)]
struct GpgKeyDto {
    ascii_armor: String,
}

/// A download document for `platform`, its three URLs resolved against `doc_url`.
pub(crate) fn package(
    doc_url: &Url,
    platform: &Platform,
    body: &[u8],
) -> Result<UpstreamPackage, String> {
    let doc: PackageDoc =
        serde_json::from_slice(body).map_err(|e| format!("download document: {e}"))?;
    if doc.os.as_deref().is_some_and(|os| os != platform.os())
        || doc
            .arch
            .as_deref()
            .is_some_and(|arch| arch != platform.arch())
    {
        return Err(format!(
            "download document is for {}_{}, not {platform}",
            doc.os.unwrap_or_default(),
            doc.arch.unwrap_or_default()
        ));
    }
    let filename = doc.filename.trim();
    if filename.is_empty() || filename.contains(['/', '\\']) || filename == "." || filename == ".."
    {
        return Err(format!(
            "download document has an unusable filename {filename:?}"
        ));
    }
    let shasum = doc.shasum.trim().to_ascii_lowercase();
    if shasum.len() != 64 || !shasum.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("download document: shasum is not 64 hex characters".to_string());
    }
    Ok(UpstreamPackage {
        protocols: doc.protocols,
        filename: filename.to_string(),
        download_url: resolve(doc_url, &doc.download_url, "download_url")?.into(),
        shasums_url: resolve(doc_url, &doc.shasums_url, "shasums_url")?.into(),
        shasums_signature_url: resolve(
            doc_url,
            &doc.shasums_signature_url,
            "shasums_signature_url",
        )?
        .into(),
        shasum,
        signing_keys: doc
            .signing_keys
            .gpg_public_keys
            .into_iter()
            .map(|k| k.ascii_armor)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn providers_base_resolves_and_ends_with_a_slash() {
        let disco = url("https://reg.example.com:8443/.well-known/terraform.json");
        let base = providers_base(&disco, br#"{"providers.v1":"/v1/providers/"}"#).unwrap();
        assert_eq!(
            base.unwrap().as_str(),
            "https://reg.example.com:8443/v1/providers/"
        );
        let base = providers_base(&disco, br#"{"providers.v1":"https://cdn.example.com/p"}"#);
        assert_eq!(
            base.unwrap().unwrap().as_str(),
            "https://cdn.example.com/p/"
        );
        assert_eq!(
            providers_base(&disco, br#"{"modules.v1":"/m/"}"#).unwrap(),
            None
        );
        assert!(providers_base(&disco, br#"{"providers.v1":"ftp://x.example/"}"#).is_err());
        assert!(providers_base(&disco, br#"{"providers.v1":"https://u:p@x.example/"}"#).is_err());
        assert!(providers_base(&disco, br#"{"providers.v1":7}"#).is_err());
        assert!(providers_base(&disco, b"[]").is_err());
        assert!(providers_base(&disco, b"<html>").is_err());
    }

    #[test]
    fn versions_keep_raw_strings_and_skip_bad_platforms() {
        let body = br#"{"versions":[
            {"version":"v2.0.0","protocols":["5.0"],"platforms":[{"os":"linux","arch":"amd64"},{"os":"Linux","arch":"x"}]},
            {"version":"2.1.0"}
        ],"warnings":["hi"]}"#;
        let vs = versions(body).unwrap();
        assert_eq!(vs.len(), 2);
        assert_eq!(vs[0].version, "v2.0.0");
        assert_eq!(vs[0].protocols, vec!["5.0"]);
        assert_eq!(
            vs[0].platforms,
            vec![Platform::new("linux", "amd64").unwrap()]
        );
        assert!(vs[1].platforms.is_empty() && vs[1].protocols.is_empty());
        assert!(versions(br#"{"versions":{}}"#).is_err());
        assert!(versions(br#"{"modules":[]}"#).is_err());
    }

    fn package_doc(shasum: &str, download_url: &str) -> String {
        serde_json::json!({
            "protocols": ["5.0"], "os": "linux", "arch": "amd64",
            "filename": "terraform-provider-x_1.0.0_linux_amd64.zip",
            "download_url": download_url,
            "shasums_url": "/files/SHA256SUMS",
            "shasums_signature_url": "https://files.example.com/SHA256SUMS.sig",
            "shasum": shasum,
            "signing_keys": {"gpg_public_keys": [{"key_id": "ABC", "ascii_armor": "KEY"}]}
        })
        .to_string()
    }

    #[test]
    fn package_resolves_urls_and_lowercases_the_shasum() {
        let doc_url = url("https://reg.example.com/v1/providers/a/x/1.0.0/download/linux/amd64");
        let linux = Platform::new("linux", "amd64").unwrap();
        let sum = "AB".repeat(32);
        let pkg = package(
            &doc_url,
            &linux,
            package_doc(&sum, "../../files/x.zip").as_bytes(),
        )
        .unwrap();
        assert_eq!(
            pkg.download_url,
            "https://reg.example.com/v1/providers/a/x/1.0.0/files/x.zip"
        );
        assert_eq!(pkg.shasums_url, "https://reg.example.com/files/SHA256SUMS");
        assert_eq!(
            pkg.shasums_signature_url,
            "https://files.example.com/SHA256SUMS.sig"
        );
        assert_eq!(pkg.shasum, "ab".repeat(32));
        assert_eq!(pkg.signing_keys, vec!["KEY"]);
        assert_eq!(pkg.protocols, vec!["5.0"]);
    }

    #[test]
    fn package_refuses_bad_documents() {
        let doc_url = url("https://reg.example.com/v1/providers/a/x/1.0.0/download/linux/amd64");
        let linux = Platform::new("linux", "amd64").unwrap();
        let darwin = Platform::new("darwin", "arm64").unwrap();
        let good = "ab".repeat(32);
        for (platform, body) in [
            (&linux, package_doc("abc", "x.zip")),
            (&linux, package_doc(&"zz".repeat(32), "x.zip")),
            (&linux, package_doc(&good, "file:///etc/passwd")),
            (&linux, package_doc(&good, "")),
            (&darwin, package_doc(&good, "x.zip")),
            (&linux, r#"{"filename":"x.zip"}"#.to_string()),
            (&linux, "not json".to_string()),
        ] {
            assert!(
                package(&doc_url, platform, body.as_bytes()).is_err(),
                "{body}"
            );
        }
        let mut no_keys: Value = serde_json::from_str(&package_doc(&good, "x.zip")).unwrap();
        no_keys["signing_keys"] = serde_json::json!({});
        let no_keys = no_keys.to_string();
        assert!(package(&doc_url, &linux, no_keys.as_bytes()).is_err());
    }
}
