//! Browser sign-in through SSO, end to end: tfr started through its public API, a real
//! OpenID provider (npm oidc-provider, tests/oidc/server.mjs), and a browser played by a
//! cookie-keeping client that follows every redirect by hand (tfr -> provider -> tfr).
//!
//! Generic OIDC: the provider list, the login redirect and its pending-login cookie, the
//! callback's session cookies, who am I (email, roles from group mappings, the default role,
//! bootstrap admins), CSRF on cookie-authenticated mutations, refresh and logout revoking the
//! old session, forged callbacks (state, pending-login cookie, a code of another login, an
//! identity provider error) opening no session, and an `auth.login` audit row per attempt.
//!
//! Azure AD: the same provider shaped as a tenant (`/<tenant>/v2.0`): users keyed by `oid`,
//! groups (or app roles) driving the mappings, another tenant's token refused.
//!
//! Needs node and tests/oidc/node_modules (`bash .ci/install`).

use serde_json::Value;
use tfr_tests::TestRegistry;
use tfr_tests::browser::{Browser, Hop, describe_hops};
use tfr_tests::oidc::{OidcTestOptions, OidcTestProvider, TestUser};
use tfr_tests::sso_flow::{
    CALLBACK_PATH, CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, SSO_COOKIE, azure_settings,
    group_mapping, me, oidc_settings, scopes_in, sign_in, start_login, with_tfr_callback,
};

const TENANT: &str = "3b0f5a6e-1c2d-4e5f-8a9b-0c1d2e3f4a5b";
const OTHER_TENANT: &str = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a";

fn alice() -> TestUser {
    TestUser::new("alice-sub")
        .email("Alice@Example.com", true)
        .username("alice")
        .name("Alice Example")
        .groups(["platform", "developers"])
}

fn bob() -> TestUser {
    TestUser::new("bob-sub")
        .email("bob@example.com", true)
        .username("bob")
        .groups(["developers"])
}

/// tfr on plain HTTP (SQLite, or PostgreSQL when `postgres`) with the generic OIDC provider
/// and `platform` -> default:publisher; `more` changes the settings further.
async fn registry_with_oidc(
    idp: &OidcTestProvider,
    postgres: bool,
    more: impl FnOnce(&mut tfr::Settings) + Send + 'static,
) -> TestRegistry {
    let oidc = oidc_settings(idp);
    TestRegistry::builder()
        .postgres_if(postgres)
        .configure(move |s| {
            s.auth.oidc = Some(oidc);
            s.auth.group_mappings = vec![group_mapping("platform", "default", "publisher")];
            more(s);
        })
        .start()
        .await
        .expect("start tfr with OIDC")
}

/// `name -> id` of the system role templates.
async fn template_ids(reg: &TestRegistry) -> std::collections::HashMap<String, String> {
    let (status, body) = reg.get_json("/api/v1/admin/role-templates").await;
    assert_eq!(status, 200, "{body}");
    body.as_array()
        .expect("an array of templates")
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap_or_default().to_string(),
                t["id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The `auth.login` audit rows, newest first (read with a system key holding audit:read).
async fn login_audit_rows(reg: &TestRegistry) -> Vec<Value> {
    let key = tfr::create_api_key(&reg.settings, "auditor", "audit:read")
        .await
        .expect("create the auditor key");
    let resp = reg
        .client
        .get(reg.url("/api/v1/admin/audit-logs?action=auth.login&limit=500"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("GET audit-logs");
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.expect("audit log page is JSON");
    assert_eq!(status, 200, "{body}");
    body["items"].as_array().expect("items").clone()
}

/// A request with exactly these cookies (none of the browser's), as an attacker holding
/// an old cookie value would send it.
async fn me_with_session(reg: &TestRegistry, session: &str) -> u16 {
    reg.client
        .get(reg.url("/api/v1/auth/me"))
        .header("Cookie", format!("{SESSION_COOKIE}={session}"))
        .send()
        .await
        .expect("GET /auth/me")
        .status()
        .as_u16()
}

fn assert_session_cookies(callback: &Hop) {
    let session = callback
        .set_cookie(SESSION_COOKIE)
        .unwrap_or_else(|| panic!("no {SESSION_COOKIE} cookie: {:?}", callback.set_cookies));
    assert!(!session.value.is_empty());
    assert!(
        session.http_only,
        "the session cookie is HttpOnly: {session:?}"
    );
    assert!(session.secure, "the session cookie is Secure: {session:?}");
    assert_eq!(session.same_site.as_deref(), Some("Lax"), "{session:?}");
    assert_eq!(session.path.as_deref(), Some("/"), "{session:?}");
    assert!(session.max_age.is_some_and(|a| a > 0), "{session:?}");
    let csrf = callback
        .set_cookie(CSRF_COOKIE)
        .unwrap_or_else(|| panic!("no {CSRF_COOKIE} cookie: {:?}", callback.set_cookies));
    assert!(!csrf.value.is_empty());
    assert!(
        !csrf.http_only,
        "the page's script must read the CSRF cookie: {csrf:?}"
    );
    assert!(csrf.secure, "{csrf:?}");
    assert_eq!(csrf.same_site.as_deref(), Some("Lax"), "{csrf:?}");
    assert_eq!(csrf.path.as_deref(), Some("/"), "{csrf:?}");
    // The pending login is spent.
    let pending = callback.set_cookie(SSO_COOKIE).unwrap_or_else(|| {
        panic!(
            "the pending login is not cleared: {:?}",
            callback.set_cookies
        )
    });
    assert_eq!(pending.max_age, Some(0), "{pending:?}");
    assert_eq!(pending.path.as_deref(), Some(CALLBACK_PATH), "{pending:?}");
}

/// A refused callback: 401 with the `{"errors": [...]}` body, no session cookie set, and
/// still no session in the browser.
async fn assert_refused(browser: &Browser, reg: &TestRegistry, hop: &Hop, what: &str) -> String {
    assert_eq!(hop.status, 401, "{what}: {} {}", hop.describe(), hop.body);
    assert!(
        hop.set_cookie(SESSION_COOKIE).is_none() && hop.set_cookie(CSRF_COOKIE).is_none(),
        "{what}: a refused callback set cookies: {:?}",
        hop.set_cookies
    );
    assert!(hop.location.is_none(), "{what}: {}", hop.describe());
    assert_eq!(browser.cookie(SESSION_COOKIE), None, "{what}");
    let (status, body) = me(browser, &reg.base_url).await.expect("GET /auth/me");
    assert_eq!(
        status, 401,
        "{what}: /auth/me after a refused login: {body}"
    );
    hop.json()["errors"][0]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: no errors[0] in {}", hop.body))
        .to_string()
}

#[tokio::test]
async fn oidc_sign_in_session_csrf_refresh_logout_and_roles_on_sqlite() {
    oidc_sign_in_session_csrf_refresh_logout_and_roles(false).await;
}

#[tokio::test]
async fn oidc_sign_in_session_csrf_refresh_logout_and_roles_on_postgres() {
    oidc_sign_in_session_csrf_refresh_logout_and_roles(true).await;
}

async fn oidc_sign_in_session_csrf_refresh_logout_and_roles(postgres: bool) {
    let idp = OidcTestProvider::start(with_tfr_callback(OidcTestOptions::default()).user(alice()))
        .await
        .expect("start the OIDC provider");
    let reg = registry_with_oidc(&idp, postgres, |_| {}).await;
    assert_eq!(reg.is_postgres(), postgres);
    let templates = template_ids(&reg).await;

    // The provider list (public) and terraform's login.v1 (advertised once SSO is on).
    let (status, providers) = json(reg.get_anonymous("/api/v1/auth/providers").await).await;
    assert_eq!(status, 200, "{providers}");
    assert_eq!(
        providers,
        serde_json::json!([{
            "id": "oidc",
            "display_name": "Test IdP",
            "kind": "oidc",
            "login_url": "/api/v1/auth/login?provider=oidc",
        }])
    );
    let (_, discovery) = json(reg.get_anonymous("/.well-known/terraform.json").await).await;
    assert_eq!(
        discovery["login.v1"]["client"], "terraform-cli",
        "{discovery}"
    );

    // Login -> provider -> callback.
    let browser = Browser::new().expect("browser");
    let (status, _) = me(&browser, &reg.base_url).await.expect("GET /auth/me");
    assert_eq!(status, 401, "nobody is signed in yet");
    let pending = start_login(
        &browser,
        &reg.base_url,
        "?provider=oidc&return_to=%2Fmodules%3Fq%3Dnet",
    )
    .await
    .expect("login through the provider");
    let login = pending.login_hop();
    assert_eq!(login.status, 302, "{}", login.describe());
    let to_idp = login.location.clone().expect("a redirect to the provider");
    assert!(
        to_idp
            .as_str()
            .starts_with(&format!("{}/auth?", idp.issuer())),
        "{to_idp}"
    );
    let query: std::collections::HashMap<String, String> =
        to_idp.query_pairs().into_owned().collect();
    assert_eq!(query["client_id"], idp.client_id());
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(
        query["redirect_uri"],
        format!("{}{CALLBACK_PATH}", reg.base_url)
    );
    assert!(
        query.contains_key("state") && query.contains_key("nonce"),
        "{to_idp}"
    );
    let sso = login
        .set_cookie(SSO_COOKIE)
        .expect("the pending login cookie");
    assert!(sso.http_only && sso.secure, "{sso:?}");
    assert_eq!(sso.same_site.as_deref(), Some("Lax"), "{sso:?}");
    assert_eq!(sso.path.as_deref(), Some(CALLBACK_PATH), "{sso:?}");
    assert_eq!(pending.param("state"), query.get("state").cloned());

    let callback = browser.get(&pending.callback_url).await.expect("callback");
    assert_eq!(
        callback.status,
        302,
        "{}\n{}\n{}",
        describe_hops(&pending.hops),
        callback.describe(),
        callback.body
    );
    assert_eq!(callback.location_header(), Some("/modules?q=net"));
    assert_session_cookies(&callback);
    assert_eq!(
        browser.cookie(SSO_COOKIE),
        None,
        "the pending login is spent"
    );

    // Who am I: the mapped role (platform -> default:publisher).
    let (status, alice_me) = me(&browser, &reg.base_url).await.expect("/auth/me");
    assert_eq!(status, 200, "{alice_me}");
    assert_eq!(alice_me["method"], "session", "{alice_me}");
    assert_eq!(alice_me["name"], "alice", "{alice_me}");
    assert_eq!(alice_me["email"], "alice@example.com", "{alice_me}");
    assert_eq!(
        alice_me["global_scopes"],
        serde_json::json!([]),
        "{alice_me}"
    );
    assert!(alice_me["session_expires_at"].is_string(), "{alice_me}");
    let orgs = alice_me["organizations"].as_array().expect("organizations");
    assert_eq!(orgs.len(), 1, "{alice_me}");
    assert_eq!(orgs[0]["organization"], "default");
    assert_eq!(
        orgs[0]["role_template_id"].as_str(),
        templates.get("publisher").map(String::as_str),
        "{alice_me}"
    );
    let scopes = scopes_in(&alice_me, "default").expect("default organization");
    assert!(scopes.contains(&"modules:write".to_string()), "{scopes:?}");
    let alice_id = alice_me["user_id"].as_str().expect("user_id").to_string();

    // CSRF: a cookie-authenticated mutation needs X-CSRF-Token = the tfr_csrf cookie.
    let refresh_url = reg.url("/api/v1/auth/refresh");
    let no_header = browser.post(&refresh_url, &[]).await.expect("refresh");
    assert_eq!(no_header.status, 403, "{}", no_header.body);
    assert!(
        no_header.body.contains("X-CSRF-Token"),
        "{}",
        no_header.body
    );
    let wrong = browser
        .post(&refresh_url, &[(CSRF_HEADER, "not-the-token")])
        .await
        .expect("refresh");
    assert_eq!(wrong.status, 403, "{}", wrong.body);
    let first_session = browser.cookie(SESSION_COOKIE).expect("session");
    let csrf = browser.cookie(CSRF_COOKIE).expect("csrf cookie");
    let refreshed = browser
        .post(&refresh_url, &[(CSRF_HEADER, &csrf)])
        .await
        .expect("refresh");
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let body = refreshed.json();
    let second_session = browser.cookie(SESSION_COOKIE).expect("a new session");
    let new_csrf = browser.cookie(CSRF_COOKIE).expect("a new CSRF token");
    assert_ne!(second_session, first_session);
    assert_eq!(
        body["csrf_token"].as_str(),
        Some(new_csrf.as_str()),
        "{body}"
    );
    assert_eq!(
        me_with_session(&reg, &first_session).await,
        401,
        "refresh revokes the session it replaces"
    );
    assert_eq!(me_with_session(&reg, &second_session).await, 200);
    // A bearer-presented session needs no CSRF token (no ambient credential).
    let bearer = reg
        .client
        .post(&refresh_url)
        .bearer_auth(&second_session)
        .send()
        .await
        .expect("refresh with a bearer session");
    assert_eq!(bearer.status().as_u16(), 200);
    let bearer_body: Value = bearer.json().await.expect("JSON");
    assert!(bearer_body["csrf_token"].is_string(), "{bearer_body}");
    assert_eq!(
        me_with_session(&reg, &second_session).await,
        401,
        "refreshed again through the bearer form"
    );

    // The browser's session is now revoked: sign in again (the provider remembers alice).
    let callback = sign_in(&browser, &reg.base_url, "")
        .await
        .expect("second sign-in");
    assert_eq!(callback.status, 302, "{}", callback.body);
    assert_eq!(callback.location_header(), Some("/"), "default return_to");
    let session = browser.cookie(SESSION_COOKIE).expect("session");
    let csrf = browser.cookie(CSRF_COOKIE).expect("csrf");
    let (status, again) = me(&browser, &reg.base_url).await.expect("/auth/me");
    assert_eq!(status, 200);
    assert_eq!(
        again["user_id"].as_str(),
        Some(alice_id.as_str()),
        "same user"
    );

    // Logout: CSRF-protected; revokes the session and clears the cookies.
    let logout_url = reg.url("/api/v1/auth/logout");
    let refused = browser.post(&logout_url, &[]).await.expect("logout");
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(
        me_with_session(&reg, &session).await,
        200,
        "still signed in"
    );
    let out = browser
        .post(&logout_url, &[(CSRF_HEADER, &csrf)])
        .await
        .expect("logout");
    assert_eq!(out.status, 204, "{}", out.body);
    for name in [SESSION_COOKIE, CSRF_COOKIE] {
        let cleared = out
            .set_cookie(name)
            .unwrap_or_else(|| panic!("logout does not clear {name}: {:?}", out.set_cookies));
        assert_eq!(cleared.max_age, Some(0), "{cleared:?}");
    }
    assert_eq!(browser.cookie(SESSION_COOKIE), None);
    assert_eq!(
        me_with_session(&reg, &session).await,
        401,
        "the logged-out cookie value no longer works"
    );
    let (status, _) = me(&browser, &reg.base_url).await.expect("/auth/me");
    assert_eq!(status, 401);

    // Another user, without the mapped group: the default role (viewer in default).
    idp.set_user(&bob()).await.expect("set bob");
    let bobs = Browser::new().expect("browser");
    let callback = sign_in(&bobs, &reg.base_url, "")
        .await
        .expect("bob signs in");
    assert_eq!(callback.status, 302, "{}", callback.body);
    let (status, bob_me) = me(&bobs, &reg.base_url).await.expect("/auth/me");
    assert_eq!(status, 200, "{bob_me}");
    assert_eq!(bob_me["name"], "bob");
    assert_eq!(bob_me["email"], "bob@example.com");
    assert_ne!(bob_me["user_id"].as_str(), Some(alice_id.as_str()));
    assert_eq!(
        bob_me["organizations"][0]["role_template_id"].as_str(),
        templates.get("viewer").map(String::as_str),
        "{bob_me}"
    );
    let scopes = scopes_in(&bob_me, "default").expect("default organization");
    assert!(scopes.contains(&"modules:read".to_string()), "{scopes:?}");
    assert!(!scopes.contains(&"modules:write".to_string()), "{scopes:?}");
    // What a viewer's session may do: read, not publish.
    let publish = bobs
        .send(
            reqwest::Method::POST,
            &reg.url("/api/v1/modules/default/net/aws/1.0.0"),
            &[(
                CSRF_HEADER,
                &bobs.cookie(CSRF_COOKIE).expect("bob's csrf cookie"),
            )],
            Some(("application/gzip", vec![0x1f, 0x8b])),
        )
        .await
        .expect("publish as bob");
    assert_eq!(
        publish.status, 403,
        "a viewer cannot publish: {}",
        publish.body
    );
    assert!(publish.body.contains("modules:write"), "{}", publish.body);

    // Every login left an auth.login row: alice twice, bob once, all successes.
    let rows = login_audit_rows(&reg).await;
    let successes: Vec<&Value> = rows.iter().filter(|r| r["outcome"] == "success").collect();
    assert_eq!(successes.len(), 3, "{rows:#?}");
    assert_eq!(
        successes
            .iter()
            .filter(|r| r["principal"] == format!("user:{alice_id}"))
            .count(),
        2,
        "{rows:#?}"
    );
    for row in &successes {
        assert_eq!(row["status"], 302, "{row}");
        assert_eq!(row["resource"], "session", "{row}");
        assert!(
            row["principal_name"] == "alice" || row["principal_name"] == "bob",
            "{row}"
        );
    }
    assert!(
        rows.iter().all(|r| r["outcome"] == "success"),
        "no failed login yet: {rows:#?}"
    );
    reg.shutdown().await;
}

#[tokio::test]
async fn forged_callbacks_open_no_session_and_are_audited() {
    let idp = OidcTestProvider::start(with_tfr_callback(OidcTestOptions::default()).user(alice()))
        .await
        .expect("start the OIDC provider");
    let reg = registry_with_oidc(&idp, false, |_| {}).await;
    let browser = Browser::new().expect("browser");

    // A tampered state: refused before the code is even exchanged.
    let a = start_login(&browser, &reg.base_url, "")
        .await
        .expect("login A");
    let state_a = a.param("state").expect("state");
    let hop = browser
        .get(&a.with_param("state", &format!("{state_a}x")))
        .await
        .expect("callback");
    let msg = assert_refused(&browser, &reg, &hop, "tampered state").await;
    assert!(msg.contains("state"), "{msg}");

    // Without the pending-login cookie, or with it tampered: refused.
    let sealed_a = browser.cookie(SSO_COOKIE).expect("login A's cookie");
    browser.remove_cookie(SSO_COOKIE);
    let hop = browser.get(&a.callback_url).await.expect("callback");
    assert_refused(&browser, &reg, &hop, "no pending-login cookie").await;
    let mut forged = sealed_a.clone().into_bytes();
    let mid = forged.len() / 2;
    forged[mid] = if forged[mid] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).expect("ASCII cookie");
    browser.store(
        &reqwest::Url::parse(&a.callback_url).expect("URL"),
        &format!("{SSO_COOKIE}={forged}; Path={CALLBACK_PATH}; Secure; HttpOnly"),
    );
    let hop = browser.get(&a.callback_url).await.expect("callback");
    let msg = assert_refused(&browser, &reg, &hop, "tampered pending-login cookie").await;
    assert!(
        msg.contains("tampered") || msg.contains("no login"),
        "{msg}"
    );

    // Two logins in one browser: B's start replaces the pending-login cookie.
    browser.replace_cookie_value(SSO_COOKIE, &sealed_a);
    let b = start_login(&browser, &reg.base_url, "")
        .await
        .expect("login B");
    let sealed_b = browser.cookie(SSO_COOKIE).expect("login B's cookie");
    assert_ne!(sealed_a, sealed_b);
    let state_b = b.param("state").expect("state");
    // A's callback, carried with B's cookie: the state is not B's.
    let hop = browser.get(&a.callback_url).await.expect("callback");
    let msg = assert_refused(&browser, &reg, &hop, "A's callback with B's cookie").await;
    assert!(msg.contains("state"), "{msg}");
    // A's code presented as B's (B's state and cookie): the code was issued for A's PKCE
    // challenge and A's nonce, so the provider or the ID token check refuses it.
    let hop = browser
        .get(&a.with_param("state", &state_b))
        .await
        .expect("callback");
    let msg = assert_refused(&browser, &reg, &hop, "A's code with B's state and cookie").await;
    assert!(msg.contains("authorization code"), "{msg}");

    // The identity provider said no.
    let hop = browser
        .get(&reg.url(&format!(
            "{CALLBACK_PATH}?error=access_denied&error_description=the+user+said+no&state={state_b}"
        )))
        .await
        .expect("callback");
    let msg = assert_refused(&browser, &reg, &hop, "error=access_denied").await;
    assert!(msg.contains("access_denied"), "{msg}");

    // Login B itself is untouched by all that: its genuine callback signs alice in.
    let hop = browser.get(&b.callback_url).await.expect("callback");
    assert_eq!(hop.status, 302, "{} {}", hop.describe(), hop.body);
    assert_session_cookies(&hop);
    let (status, me_b) = me(&browser, &reg.base_url).await.expect("/auth/me");
    assert_eq!(status, 200, "{me_b}");
    // ...once: replaying the callback with its cookie (another browser) is refused: the
    // provider's code is single-use.
    let replay = Browser::new().expect("browser");
    replay.store(
        &reqwest::Url::parse(&b.callback_url).expect("URL"),
        &format!("{SSO_COOKIE}={sealed_b}; Path={CALLBACK_PATH}; Secure; HttpOnly"),
    );
    let hop = replay
        .get(&b.callback_url)
        .await
        .expect("replayed callback");
    let msg = assert_refused(&replay, &reg, &hop, "replayed callback").await;
    assert!(msg.contains("authorization code"), "{msg}");

    // Each attempt left an auth.login row: 7 refusals (401) and 1 success.
    let rows = login_audit_rows(&reg).await;
    let denied: Vec<&Value> = rows.iter().filter(|r| r["outcome"] == "denied").collect();
    assert_eq!(denied.len(), 7, "{rows:#?}");
    for row in &denied {
        assert_eq!(row["status"], 401, "{row}");
        assert!(row["principal"].is_null(), "{row}");
        assert!(
            row["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "a refusal says why: {row}"
        );
    }
    assert!(
        denied.iter().any(|r| r["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("access_denied")),
        "{rows:#?}"
    );
    let successes: Vec<&Value> = rows.iter().filter(|r| r["outcome"] == "success").collect();
    assert_eq!(successes.len(), 1, "{rows:#?}");
    assert_eq!(successes[0]["principal_name"], "alice");
    assert_eq!(rows.len(), 8, "{rows:#?}");
    reg.shutdown().await;
}

#[tokio::test]
async fn bootstrap_admins_need_a_verified_email() {
    let impostor = TestUser::new("impostor-sub")
        .email("Root@Example.com", false)
        .username("impostor");
    let idp = OidcTestProvider::start(with_tfr_callback(OidcTestOptions::default()).user(impostor))
        .await
        .expect("start the OIDC provider");
    let reg = registry_with_oidc(&idp, false, |s| {
        s.auth.bootstrap_admins = vec!["root@example.com".into()];
        if let Some(oidc) = s.auth.oidc.as_mut() {
            // Let the unverified address in, to show it does not make an admin.
            oidc.require_verified_email = false;
        }
    })
    .await;

    let browser = Browser::new().expect("browser");
    let callback = sign_in(&browser, &reg.base_url, "").await.expect("sign in");
    assert_eq!(callback.status, 302, "{}", callback.body);
    let (status, body) = me(&browser, &reg.base_url).await.expect("/auth/me");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["email"], "root@example.com");
    assert_eq!(
        body["global_scopes"],
        serde_json::json!([]),
        "an unverified email is not a bootstrap admin: {body}"
    );

    idp.set_user(
        &TestUser::new("root-sub")
            .email("Root@Example.com", true)
            .username("root"),
    )
    .await
    .expect("set root");
    let browser = Browser::new().expect("browser");
    let callback = sign_in(&browser, &reg.base_url, "").await.expect("sign in");
    assert_eq!(callback.status, 302, "{}", callback.body);
    let (status, body) = me(&browser, &reg.base_url).await.expect("/auth/me");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "root");
    let global: Vec<&str> = body["global_scopes"]
        .as_array()
        .expect("global_scopes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(global.contains(&"admin:*"), "a bootstrap admin: {body}");
    assert!(global.contains(&"audit:read"), "{body}");
    // Admin for real: the admin API answers the session.
    let users = browser
        .get(&reg.url("/api/v1/admin/users"))
        .await
        .expect("GET admin/users");
    assert_eq!(users.status, 200, "{}", users.body);
    assert!(users.body.contains("impostor"), "{}", users.body);
    reg.shutdown().await;
}

#[tokio::test]
async fn azure_ad_users_are_keyed_by_oid_and_mapped_by_groups_or_roles() {
    const OID: &str = "7c1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6";
    const PLATFORM_GROUP: &str = "0f9e8d7c-6b5a-4938-a716-253443526170";
    let idp = OidcTestProvider::start(with_tfr_callback(OidcTestOptions::azure_tenant(TENANT)))
        .await
        .expect("start the Azure-shaped provider");
    assert_eq!(
        idp.issuer(),
        format!("{}/{TENANT}/v2.0", idp.base_url()),
        "the tenant's issuer"
    );
    let azure = azure_settings(&idp, TENANT, "groups");
    let reg = TestRegistry::builder()
        .configure(move |s| {
            s.auth.azure = Some(azure);
            s.auth.group_mappings = vec![group_mapping(PLATFORM_GROUP, "default", "publisher")];
        })
        .start()
        .await
        .expect("start tfr with Azure AD");
    let templates = template_ids(&reg).await;

    let (status, providers) = json(reg.get_anonymous("/api/v1/auth/providers").await).await;
    assert_eq!(status, 200);
    assert_eq!(providers[0]["id"], "azure", "{providers}");
    assert_eq!(providers[0]["kind"], "azure_ad", "{providers}");
    assert_eq!(providers[0]["display_name"], "Contoso", "{providers}");

    // First login: in the mapped group (object id) -> publisher.
    idp.set_user(
        &TestUser::new("pairwise-sub-1")
            .azure(OID, TENANT)
            .username("dana@contoso.example")
            .name("Dana")
            .groups([PLATFORM_GROUP, "11111111-2222-4333-8444-555555555555"]),
    )
    .await
    .expect("set dana");
    let first = Browser::new().expect("browser");
    let callback = sign_in(&first, &reg.base_url, "?provider=azure")
        .await
        .expect("sign in");
    assert_eq!(callback.status, 302, "{}", callback.body);
    assert_session_cookies(&callback);
    let (status, dana) = me(&first, &reg.base_url).await.expect("/auth/me");
    assert_eq!(status, 200, "{dana}");
    assert_eq!(dana["name"], "dana", "the upn's local part: {dana}");
    assert_eq!(dana["email"], "dana@contoso.example", "{dana}");
    assert_eq!(
        dana["organizations"][0]["role_template_id"].as_str(),
        templates.get("publisher").map(String::as_str),
        "{dana}"
    );
    let user_id = dana["user_id"].as_str().expect("user_id").to_string();

    // Same oid, another `sub` (Azure's sub is per application), no longer in the group:
    // the same user, now with the default role.
    idp.set_user(
        &TestUser::new("pairwise-sub-2")
            .azure(OID, TENANT)
            .username("dana@contoso.example")
            .groups(["11111111-2222-4333-8444-555555555555"]),
    )
    .await
    .expect("set dana again");
    let second = Browser::new().expect("browser");
    let callback = sign_in(&second, &reg.base_url, "").await.expect("sign in");
    assert_eq!(callback.status, 302, "{}", callback.body);
    let (status, again) = me(&second, &reg.base_url).await.expect("/auth/me");
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        again["user_id"].as_str(),
        Some(user_id.as_str()),
        "keyed by oid: {again}"
    );
    assert_eq!(
        again["organizations"][0]["role_template_id"].as_str(),
        templates.get("viewer").map(String::as_str),
        "the mapping follows the groups of each login: {again}"
    );

    // A token from another tenant is refused.
    idp.set_user(
        &TestUser::new("guest-sub")
            .azure("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", OTHER_TENANT)
            .username("guest@fabrikam.example")
            .groups([PLATFORM_GROUP]),
    )
    .await
    .expect("set guest");
    let guest = Browser::new().expect("browser");
    let hop = sign_in(&guest, &reg.base_url, "").await.expect("sign in");
    let msg = assert_refused(&guest, &reg, &hop, "another tenant").await;
    assert!(msg.contains("tenant"), "{msg}");
    reg.shutdown().await;

    // App roles instead of groups (azure groups_claim = roles), same provider.
    let azure = azure_settings(&idp, TENANT, "roles");
    let reg = TestRegistry::builder()
        .configure(move |s| {
            s.auth.azure = Some(azure);
            s.auth.group_mappings =
                vec![group_mapping("Registry.Publisher", "default", "publisher")];
        })
        .start()
        .await
        .expect("start tfr with Azure AD app roles");
    idp.set_user(
        &TestUser::new("pairwise-sub-3")
            .azure(OID, TENANT)
            .username("dana@contoso.example")
            // The group alone no longer counts: roles do.
            .groups(["Registry.Reader"])
            .claim("roles", serde_json::json!(["Registry.Publisher"])),
    )
    .await
    .expect("set dana with roles");
    let browser = Browser::new().expect("browser");
    let callback = sign_in(&browser, &reg.base_url, "").await.expect("sign in");
    assert_eq!(callback.status, 302, "{}", callback.body);
    let (status, with_role) = me(&browser, &reg.base_url).await.expect("/auth/me");
    assert_eq!(status, 200, "{with_role}");
    assert_eq!(
        with_role["organizations"][0]["role_template_id"].as_str(),
        templates.get("publisher").map(String::as_str),
        "{with_role}"
    );
    idp.set_user(
        &TestUser::new("pairwise-sub-4")
            .azure(OID, TENANT)
            .username("dana@contoso.example")
            .groups(["Registry.Publisher"]),
    )
    .await
    .expect("set dana without roles");
    let browser = Browser::new().expect("browser");
    let callback = sign_in(&browser, &reg.base_url, "").await.expect("sign in");
    assert_eq!(callback.status, 302, "{}", callback.body);
    let (_, without) = me(&browser, &reg.base_url).await.expect("/auth/me");
    assert_eq!(
        without["organizations"][0]["role_template_id"].as_str(),
        templates.get("viewer").map(String::as_str),
        "a group named like the role does not count when roles are configured: {without}"
    );
    reg.shutdown().await;
}

async fn json(resp: reqwest::Response) -> (u16, Value) {
    tfr_tests::harness::json_of(resp, "response").await
}
