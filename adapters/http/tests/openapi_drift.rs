//! The committed `openapi/openapi.json` must match what the code serves: clients are
//! generated from it. Regenerate with `TFR_UPDATE_OPENAPI=1 cargo test -p tfr-http --test openapi_drift`
//! (or `tfr openapi > openapi/openapi.json`).

use std::path::PathBuf;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../openapi/openapi.json")
}

#[test]
fn committed_spec_matches_the_code() {
    let generated = tfr_http::openapi_json();
    let path = committed_path();
    if std::env::var_os("TFR_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, format!("{generated}\n")).expect("write openapi.json");
    }
    let committed = std::fs::read_to_string(&path).expect("openapi/openapi.json is committed");
    assert_eq!(
        committed.trim_end(),
        generated.trim_end(),
        "openapi/openapi.json is stale: run `TFR_UPDATE_OPENAPI=1 cargo test -p tfr-http --test openapi_drift`"
    );
}

#[test]
fn spec_documents_the_protocol_and_publishing_routes() {
    let spec: serde_json::Value =
        serde_json::from_str(&tfr_http::openapi_json()).expect("valid JSON");
    let paths = spec["paths"].as_object().expect("paths");
    for route in [
        "/.well-known/terraform.json",
        "/v1/modules/{namespace}/{name}/{system}/versions",
        "/v1/modules/{namespace}/{name}/{system}/{version}/download",
        "/v1/providers/{namespace}/{type}/versions",
        "/v1/providers/{namespace}/{type}/{version}/download/{os}/{arch}",
        "/api/v1/modules/{namespace}/{name}/{system}/{version}",
        "/api/v1/providers/{namespace}/{type}/{version}",
        "/api/v1/providers",
        "/v1/mirror/{hostname}/{namespace}/{type}/{file}",
        "/api/v1/admin/mirrors",
        "/api/v1/admin/mirrors/{id}/history",
    ] {
        assert!(paths.contains_key(route), "spec lacks {route}");
    }
    // The mirror's documents are exactly application/json; its archives are public.
    let mirror = &spec["paths"]["/v1/mirror/{hostname}/{namespace}/{type}/{file}"]["get"];
    assert!(
        mirror["responses"]["200"]["content"]["application/json"].is_object(),
        "{mirror}"
    );
    assert_eq!(
        mirror["x-tfr-scope-refined"]["/v1/mirror/{hostname}/{namespace}/{type}/{file}.zip"],
        "public"
    );
    assert!(
        spec["components"]["securitySchemes"]
            .as_object()
            .is_some_and(|s| !s.is_empty())
    );
}
