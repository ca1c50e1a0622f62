//! Reads without a credential: the protocol reads and listings with and without anonymous
//! read, and a namespace marked public.

use reqwest::Method;
use serde_json::{Value, json};
use tfr_tests::TestRegistry;
use tfr_tests::access::{Body, Call, Operation, Reply, Requirement, fetch_spec, operations};
use tfr_tests::archives;
use tfr_tests::provider::generate_signing_key;
use tfr_tests::world::{Caller, expect, protocol_values, publish_module_ok, publish_provider_ok};

/// The protocol reads (and listings), as a plain registry serves them: without anonymous
/// read they need a credential holding the read scope; with it they are open to anyone,
/// and nothing else is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_reads_with_and_without_anonymous_read() {
    for anonymous_read in [false, true] {
        let reg = TestRegistry::builder()
            .configure(move |s| s.auth.anonymous_read = anonymous_read)
            .start()
            .await
            .expect("start tfr");
        let admin = reg.key_with_scopes("admin:*").await;
        publish_module_ok(&reg, "reads/net/aws", "1.0.0", &admin).await;
        publish_provider_ok(&reg, &generate_signing_key(), "reads", "1.0.0", &admin).await;
        let unrelated = reg.key_with_scopes("mirrors:read").await;
        let modules_read = reg.key_with_scopes("modules:read").await;
        let providers_read = reg.key_with_scopes("providers:read").await;

        let spec = fetch_spec(&reg).await;
        let values = protocol_values("reads");
        let mut failures = Vec::new();
        let mut reads = 0;
        for op in operations(&spec) {
            let req = op.requirement().expect("x-tfr-scope");
            let path = op.fill(&values);
            fn call_with<'a>(op: &Operation, path: &str, bearer: Option<&'a str>) -> Call<'a> {
                Call::new(op.method.clone(), path).bearer(bearer).body(
                    if op.body_types.is_empty() {
                        Body::None
                    } else {
                        Body::Json(json!({}))
                    },
                )
            }
            let call = |bearer| call_with(&op, &path, bearer);
            let mut expect = |who: &str, reply: &Reply, ok: bool, want: &str| {
                if !ok {
                    failures.push(format!(
                        "anonymous_read={anonymous_read}: {} as {who}: expected {want}, got {} {}",
                        op.label(),
                        reply.status,
                        reply.text.chars().take(200).collect::<String>()
                    ));
                }
            };
            // Mirrored providers are not set up here: past the access layer, the mirror
            // answers 404 (no configuration serves the provider), which is no refusal.
            let mirror = matches!(req, Requirement::AnyOrganization(_));
            let answered = |reply: &Reply| {
                if mirror {
                    reply.status == 404
                } else {
                    (200..400).contains(&reply.status)
                }
            };
            match &req {
                Requirement::NamespaceRead(scope)
                | Requirement::Listing(scope)
                | Requirement::AnyOrganization(scope) => {
                    reads += 1;
                    let holder = if scope == "providers:read" {
                        &providers_read
                    } else {
                        &modules_read
                    };
                    let anon = call(None).send(&reg).await;
                    let with_scope = call(Some(holder)).send(&reg).await;
                    let other = call(Some(&unrelated)).send(&reg).await;
                    expect(
                        "a key with the scope",
                        &with_scope,
                        answered(&with_scope),
                        "success",
                    );
                    if anonymous_read {
                        expect("no credential", &anon, answered(&anon), "success");
                        expect("an unrelated key", &other, answered(&other), "success");
                    } else {
                        expect("no credential", &anon, anon.status == 401, "401");
                        let want = if matches!(req, Requirement::Listing(_)) {
                            (200..300).contains(&other.status)
                        } else {
                            other.status == 403
                        };
                        expect("an unrelated key", &other, want, "403 (200 for listings)");
                    }
                }
                // Anonymous read opens reads, nothing else.
                Requirement::Public => {}
                _ => {
                    let anon = call(None).send(&reg).await;
                    expect("no credential", &anon, anon.status == 401, "401");
                }
            }
        }
        assert_eq!(
            reads, 12,
            "protocol reads, listings and mirror documents in the document"
        );
        assert!(failures.is_empty(), "{}", failures.join("\n"));

        // A listing without anonymous read shows only what the caller may read.
        let listing = Call::new(Method::GET, "/v1/modules")
            .bearer(Some(&unrelated))
            .send(&reg)
            .await;
        assert_eq!(listing.status, 200, "{}", listing.text);
        let shown = listing.text.contains("\"reads\"");
        assert_eq!(
            shown, anonymous_read,
            "a key without modules:read sees the private namespace only with anonymous read: {}",
            listing.text
        );
        reg.shutdown().await;
    }
}

/// A namespace marked public is readable without a credential even with anonymous read
/// off; its neighbours are not, and listings include it for everyone signed in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_namespace_is_readable_anonymously() {
    let reg = TestRegistry::start().await.expect("start tfr");
    let admin = reg.key_with_scopes("admin:*").await;
    let signing = generate_signing_key();
    for ns in ["opened", "closed"] {
        publish_module_ok(&reg, &format!("{ns}/net/aws"), "1.0.0", &admin).await;
        publish_provider_ok(&reg, &signing, ns, "1.0.0", &admin).await;
    }
    // Making it public needs organizations:write in its organization.
    let publisher = reg.key_with_scopes("modules:write").await;
    let patch = |key: Option<&str>| {
        let key = key.map(str::to_string);
        let reg = &reg;
        async move {
            Call::new(Method::PATCH, "/api/v1/admin/namespaces/opened")
                .bearer(key.as_deref())
                .json(json!({"public": true}))
                .send(reg)
                .await
        }
    };
    assert_eq!(patch(None).await.status, 401);
    assert_eq!(patch(Some(&publisher)).await.status, 403);
    let done = patch(Some(&admin)).await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.json()["public"], json!(true), "{}", done.text);

    let spec = fetch_spec(&reg).await;
    let mut failures = Vec::new();
    let mut reads = 0;
    for op in operations(&spec) {
        if !matches!(op.requirement(), Ok(Requirement::NamespaceRead(_))) {
            continue;
        }
        reads += 1;
        for (ns, open) in [("opened", true), ("closed", false)] {
            let values = protocol_values(ns);
            let path = op.fill(&values);
            let reply = Call::new(op.method.clone(), &path).send(&reg).await;
            let ok = if open {
                (200..400).contains(&reply.status)
            } else {
                reply.status == 401
            };
            if !ok {
                failures.push(format!(
                    "{path} anonymously: expected {}, got {} {}",
                    if open { "success" } else { "401" },
                    reply.status,
                    reply.text
                ));
            }
        }
    }
    assert_eq!(reads, 8, "protocol reads in the document");
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Public is about reading: writes still need the scope.
    let reader = reg.key_with_scopes("modules:read").await;
    for (bearer, status) in [(None, 401), (Some(reader.as_str()), 403)] {
        let who = Caller::new(&reg, bearer);
        let publish = who
            .call(Method::POST, "/api/v1/modules/opened/net/aws/2.0.0")
            .body(Body::Raw(archives::GZIP, archives::module_tar_gz("nope")));
        expect(&reg, publish, status, "publishing into a public namespace").await;
        let version = "/api/v1/modules/opened/net/aws/1.0.0";
        let why = "deleting from a public namespace";
        who.expect(Method::DELETE, version, Value::Null, status, why)
            .await;
        let namespace = "/api/v1/admin/namespaces/opened";
        let why = "closing a public namespace";
        who.expect(
            Method::PATCH,
            namespace,
            json!({"public": false}),
            status,
            why,
        )
        .await;
    }

    // Listings still need a credential; signed in without modules:read, one sees the public
    // namespace only.
    let anon = Call::new(Method::GET, "/v1/modules").send(&reg).await;
    assert_eq!(anon.status, 401, "{}", anon.text);
    let unrelated = reg.key_with_scopes("mirrors:read").await;
    let listing = Call::new(Method::GET, "/v1/modules")
        .bearer(Some(&unrelated))
        .send(&reg)
        .await;
    assert_eq!(listing.status, 200, "{}", listing.text);
    assert!(listing.text.contains("\"opened\""), "{}", listing.text);
    assert!(!listing.text.contains("\"closed\""), "{}", listing.text);
    reg.shutdown().await;
}
