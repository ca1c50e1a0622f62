//! The foundation's `terraform init` scenario, shared by the tests that run it on
//! different databases and blob stores: publish module versions and a signed provider,
//! then init with every terraform binary (refused without a credential, installed with
//! one, lock file hashes right, a second init with the lock file).

use serde_json::Value;

use crate::provider::{GpgKey, ProviderDist};
use crate::terraform::require_terraform_binaries;
use crate::{Terraform, TestRegistry};

pub const MODULE: &str = "acme/net/aws";
pub const MODULE_VERSIONS: &[&str] = &["1.0.0", "1.1.0", "1.2.0-beta1", "2.0.0"];
pub const PLATFORMS: &[(&str, &str)] = &[("linux", "amd64"), ("darwin", "arm64")];

/// Publishes the scenario's module versions and provider `acme/fake` 1.0.0 to `reg` (a
/// TLS registry); returns the provider dist.
pub async fn publish_scenario(reg: &TestRegistry) -> ProviderDist {
    for v in MODULE_VERSIONS {
        reg.publish_sample_module(MODULE, v).await;
    }
    let key = GpgKey::generate().expect("gpg key");
    let dist = ProviderDist::build(&key, "fake", "1.0.0", PLATFORMS);
    let published = reg
        .publish_provider_ok("acme/fake", "1.0.0", &dist.upload())
        .await;
    assert!(
        published.get("warnings").is_none(),
        "an RSA key suits every terraform: {published}"
    );
    dist
}

/// Runs `terraform init` of the scenario against `reg` (published with
/// [`publish_scenario`]) with every terraform binary; `label` names the setup in failures.
pub async fn init_scenario(reg: &TestRegistry, dist: &ProviderDist, label: &str) {
    // Fail (never skip) when terraform is missing.
    let bins = require_terraform_binaries();
    assert!(reg.base_url.starts_with("https://"), "{}", reg.base_url);
    // Anonymous read is off (the default): terraform needs a credential.
    let read_token = reg.key_with_scopes("modules:read,providers:read").await;
    let ca = reg.ca.as_ref().expect("TLS registry has a CA");
    let tf = Terraform::new(ca.ca_file());
    for bin in &bins {
        let version = tf.version(bin).await.expect("terraform version");
        let work = tempfile::tempdir().expect("workdir");
        std::fs::write(
            work.path().join("main.tf"),
            format!(
                r#"module "m" {{
  source  = "{mh}/{MODULE}"
  version = "~> 1.0"
}}

terraform {{
  required_providers {{
    fake = {{
      source  = "{ph}/acme/fake"
      version = "1.0.0"
    }}
  }}
}}
"#,
                mh = reg.module_host(),
                ph = reg.provider_host(),
            ),
        )
        .expect("write main.tf");

        let ctx = format!("{version} ({}) on {label}", bin.display());

        // Read protection: without a credential, init is refused.
        let anonymous = tempfile::tempdir().expect("workdir");
        std::fs::copy(
            work.path().join("main.tf"),
            anonymous.path().join("main.tf"),
        )
        .expect("copy main.tf");
        let refused = tf
            .run(
                bin,
                anonymous.path(),
                &["init", "-input=false", "-no-color"],
                "",
            )
            .await
            .expect("run terraform init without credentials");
        assert!(
            !refused.success() && refused.combined().contains("401"),
            "{ctx}: init without credentials must fail with 401:\n{}",
            refused.combined()
        );

        let out = tf
            .run(
                bin,
                work.path(),
                &["init", "-input=false", "-no-color"],
                &reg.credentials_hcl(&read_token),
            )
            .await
            .expect("run terraform init");
        assert!(
            out.success(),
            "terraform init failed, {ctx}:\n{}",
            out.combined()
        );

        // The module: newest 1.x, not the prerelease, not 2.0.0.
        let modules: Value = serde_json::from_str(
            &std::fs::read_to_string(work.path().join(".terraform/modules/modules.json"))
                .expect("modules.json"),
        )
        .expect("modules.json is JSON");
        let m = modules["Modules"]
            .as_array()
            .expect("Modules array")
            .iter()
            .find(|m| m["Key"] == "m")
            .unwrap_or_else(|| panic!("module m not recorded, {ctx}: {modules}"));
        assert_eq!(m["Version"], "1.1.0", "{ctx}: {modules}");
        let main_tf = std::fs::read_to_string(work.path().join(".terraform/modules/m/main.tf"))
            .expect("module unpacked");
        assert!(
            main_tf.contains(&format!("{MODULE} 1.1.0")),
            "{ctx}: unpacked the wrong archive: {main_tf}"
        );

        // The provider: verified with the test's key.
        let expected = format!("(self-signed, key ID {})", dist.key_id);
        assert!(
            out.stdout.contains(&expected),
            "{ctx}: expected {expected:?} in:\n{}",
            out.combined()
        );
        assert!(
            out.stdout.contains(&format!(
                "Installed {}/acme/fake v1.0.0",
                reg.provider_host()
            )),
            "{ctx}:\n{}",
            out.combined()
        );

        // The lock file has this platform's h1: and a zh: per SHA256SUMS line.
        let lock = std::fs::read_to_string(work.path().join(".terraform.lock.hcl"))
            .expect(".terraform.lock.hcl");
        assert!(lock.contains("\"h1:"), "{ctx}: no h1: hash in\n{lock}");
        for (os, arch) in PLATFORMS {
            let zh = format!("\"zh:{}\"", crate::provider::sha256_hex(dist.zip(os, arch)));
            assert!(lock.contains(&zh), "{ctx}: {zh} missing from\n{lock}");
        }

        // A second init with the lock file in place still succeeds.
        let again = tf
            .run(
                bin,
                work.path(),
                &["init", "-input=false", "-no-color"],
                &reg.credentials_hcl(&read_token),
            )
            .await
            .expect("run terraform init again");
        assert!(again.success(), "second init, {ctx}:\n{}", again.combined());
    }
}
