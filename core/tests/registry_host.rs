//! Registry hostnames: the `:hostname` of a network mirror path and a mirror's upstream.

use std::collections::HashSet;

use proptest::prelude::*;
use tfr_core::registry_host::{OPENTOFU_REGISTRY, TERRAFORM_REGISTRY};
use tfr_core::{BlobKey, HostError, RegistryHost};

fn host(s: &str) -> RegistryHost {
    RegistryHost::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

#[test]
fn parse_common_hosts() {
    for s in [
        "registry.terraform.io",
        "registry.opentofu.org",
        "example.com",
        "localhost",
        "a",
        "tf-registry.internal.example.com",
        "xn--bcher-kva.example",
        "123.example.com",
        "10.0.0.1",
        "a-b.c-d.e",
    ] {
        let h = host(s);
        assert_eq!(h.as_str(), s);
        assert_eq!(h.to_string(), s);
        assert_eq!(h.key(), s, "no port, nothing to replace");
    }
}

#[test]
fn well_known_registries() {
    assert_eq!(RegistryHost::terraform_registry(), host(TERRAFORM_REGISTRY));
    assert_eq!(
        RegistryHost::terraform_registry().as_str(),
        "registry.terraform.io"
    );
    assert_eq!(host(OPENTOFU_REGISTRY).as_str(), "registry.opentofu.org");
}

#[test]
fn hostnames_are_lower_cased() {
    for s in [
        "Registry.Terraform.IO",
        "REGISTRY.TERRAFORM.IO",
        "registry.terraform.io",
        "rEgIsTrY.tErRaFoRm.Io",
    ] {
        assert_eq!(host(s), RegistryHost::terraform_registry(), "{s:?}");
        assert_eq!(host(s).as_str(), "registry.terraform.io");
    }
    assert_eq!(host("Example.COM:8443").as_str(), "example.com:8443");
    // Equal, hashed and ordered on the lower-cased form.
    let set: HashSet<RegistryHost> = ["A.example", "a.EXAMPLE", "a.example"]
        .into_iter()
        .map(host)
        .collect();
    assert_eq!(set.len(), 1);
    assert!(host("A.example") < host("b.example"));
}

#[test]
fn surrounding_whitespace_is_trimmed() {
    assert_eq!(host("  example.com\t").as_str(), "example.com");
    assert_eq!(host(" example.com:8443\n").as_str(), "example.com:8443");
}

#[test]
fn ports() {
    for (s, key) in [
        ("example.com:8443", "example.com_8443"),
        ("example.com:1", "example.com_1"),
        ("example.com:443", "example.com_443"),
        ("example.com:65535", "example.com_65535"),
        ("localhost:5000", "localhost_5000"),
    ] {
        let h = host(s);
        assert_eq!(h.as_str(), s);
        assert_eq!(h.key(), key);
        assert!(!h.key().contains(':'));
    }
    // A port makes a different host.
    assert_ne!(host("example.com:8443"), host("example.com"));
    assert_ne!(host("example.com:8443").key(), host("example.com").key());
}

#[test]
fn bad_ports_are_refused() {
    for bad in [
        "example.com:0",
        "example.com:00",
        "example.com:65536",
        "example.com:99999",
        "example.com:4294967297",
        "example.com:",
        "example.com:-1",
        "example.com:+80",
        "example.com:8o",
        "example.com:port",
        "example.com:80a",
        "example.com:8 0",
        "example.com: 80",
        "example.com :80",
        "example.com:0x50",
        "example.com:80:80",
        "example.com:\u{665}",
    ] {
        assert_eq!(
            RegistryHost::parse(bad).unwrap_err(),
            HostError(bad.to_string()),
            "{bad:?}"
        );
    }
}

#[test]
fn non_hostnames_are_refused() {
    let long_label = format!("{}.com", "a".repeat(64));
    for bad in [
        // Empty.
        "",
        " ",
        ":8443",
        // Schemes and URLs.
        "https://registry.terraform.io",
        "http://example.com:80",
        "https:registry.terraform.io",
        "registry.terraform.io/",
        "registry.terraform.io/v1/providers",
        "example.com:8443/path",
        "example.com?x=1",
        "example.com#frag",
        "//example.com",
        // User info.
        "user@example.com",
        "user:pass@example.com",
        "user:pass@example.com:8443",
        // Characters DNS names do not have.
        "my_host.example.com",
        "_service.example.com",
        "exa mple.com",
        "example.com\0",
        "b\u{fc}cher.example",
        "example.com\\",
        "*.example.com",
        "example!.com",
        // Empty labels.
        ".example.com",
        "example..com",
        "example.com.",
        ".",
        "..",
        // Hyphens at the edges of a label.
        "-example.com",
        "example-.com",
        "a.-b.com",
        "a.b-.com",
        "-",
        // IPv6 literals.
        "[::1]",
        "[::1]:8443",
        "::1",
        // Labels of more than 63 characters.
        long_label.as_str(),
    ] {
        let e = RegistryHost::parse(bad).unwrap_err();
        assert_eq!(e, HostError(bad.to_string()), "{bad:?}");
        assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
    }
}

/// A name of `n` characters: 63-character labels joined by dots (`n` not a multiple of 64).
fn dns_name(n: usize) -> String {
    let mut out = String::new();
    while out.len() < n {
        if !out.is_empty() {
            out.push('.');
        }
        let take = (n - out.len()).min(63);
        out.push_str(&"a".repeat(take));
    }
    assert_eq!(out.len(), n);
    out
}

#[test]
fn length_limits() {
    let label = "a".repeat(63);
    assert_eq!(host(&format!("{label}.com")).as_str().len(), 67);
    // DNS names are at most 253 characters.
    let longest = dns_name(253);
    assert!(!longest.ends_with('.'));
    assert_eq!(host(&longest).as_str(), longest);
    assert!(RegistryHost::parse(&dns_name(254)).is_err());
    assert!(RegistryHost::parse(&dns_name(300)).is_err());
    // With a port, the whole host stays a valid blob-key segment (255 bytes).
    let with_port = format!("{}:1", dns_name(253));
    assert_eq!(host(&with_port).key().len(), 255);
    assert!(RegistryHost::parse(&format!("{}:80", dns_name(253))).is_err());
    assert!(RegistryHost::parse(&format!("{}:65535", dns_name(249))).is_ok());
    assert!(RegistryHost::parse(&format!("{}:65535", dns_name(250))).is_err());
}

#[test]
fn keys_are_blob_key_segments() {
    for s in [
        "registry.terraform.io",
        "example.com:8443",
        "Example.COM:1",
        format!("{}:1", dns_name(253)).as_str(),
        format!("{}:65535", dns_name(249)).as_str(),
    ] {
        let key = host(s).key();
        assert!(!key.contains(':'), "{key}");
        assert_eq!(BlobKey::parse(&key).unwrap().as_str(), key);
    }
}

const LABEL: &str = "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?";

proptest! {
    #[test]
    fn generated_hosts_parse(labels in prop::collection::vec(LABEL, 1..5), port in prop::option::of(1u16..), upper in any::<bool>()) {
        let name = labels.join(".");
        let text = match port {
            Some(p) => format!("{name}:{p}"),
            None => name.clone(),
        };
        let input = if upper { text.to_ascii_uppercase() } else { text.clone() };
        let h = RegistryHost::parse(&input).unwrap();
        prop_assert_eq!(h.as_str(), text.as_str());
        prop_assert_eq!(h.to_string(), text.clone());
        prop_assert_eq!(RegistryHost::parse(h.as_str()).unwrap(), h.clone());
        prop_assert_eq!(h.key(), text.replace(':', "_"));
        prop_assert!(BlobKey::parse(&h.key()).is_ok());
    }

    #[test]
    fn parse_never_panics_and_keeps_a_safe_form(s in "\\PC{0,40}") {
        match RegistryHost::parse(&s) {
            Ok(h) => {
                prop_assert!(h.as_str().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-' || b == b':'));
                prop_assert!(h.as_str().matches(':').count() <= 1);
                prop_assert!(BlobKey::parse(&h.key()).is_ok());
                prop_assert_eq!(RegistryHost::parse(h.as_str()), Ok(h));
            }
            Err(e) => prop_assert_eq!(e, HostError(s.clone())),
        }
    }

    #[test]
    fn parse_on_host_like_strings(s in "[a-zA-Z0-9.:_@/-]{0,24}") {
        if let Ok(h) = RegistryHost::parse(&s) {
            prop_assert_eq!(h.as_str(), s.to_ascii_lowercase());
            prop_assert!(h.as_str().split(':').next().unwrap().split('.').all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-')));
            prop_assert!(!s.contains(['/', '@', '_']));
        }
    }
}
