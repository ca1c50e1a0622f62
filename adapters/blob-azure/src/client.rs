//! Building the SDK's clients: our own HTTP client (the SDK's default turns connection
//! pooling off and has no timeouts), a retry policy short enough that an unreachable
//! store fails in seconds rather than a minute, and credentials kept out of the SDK's
//! request logs.

use std::sync::Arc;
use std::time::Duration;

use azure_core::error::ErrorKind;
use azure_core::headers::{AUTHORIZATION, HeaderValue};
use azure_core::{
    ClientOptions, Context, ExponentialRetryOptions, HttpClient, Policy, PolicyResult, Request,
    RetryOptions, TransportOptions,
};
use azure_storage::{CloudLocation, StorageCredentials};
use azure_storage_blobs::prelude::{BlobServiceClient, ClientBuilder, ContainerClient};

use crate::config::{Auth, Resolved};
use crate::identity::ManagedIdentity;

/// Connecting longer than this means the store is not reachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A socket silent this long (a hung store) fails the request instead of holding it.
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Azure drops idle connections; reuse only fresh ones.
const POOL_IDLE: Duration = Duration::from_secs(30);

pub(crate) struct Clients {
    pub service: BlobServiceClient,
    pub container: ContainerClient,
    /// Which managed identity source is in use (for logs), `None` with an account key.
    pub identity: Option<&'static str>,
}

pub(crate) fn http_client() -> Result<Arc<dyn HttpClient>, String> {
    let client = reqwest012::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .pool_idle_timeout(POOL_IDLE)
        .build()
        .map_err(|e| format!("building the HTTP client: {e}"))?;
    Ok(Arc::new(client))
}

fn retry() -> RetryOptions {
    // Waits about 0.4 s, 0.8 s, 1.6 s: rides out a blip, gives up quickly on a dead store.
    RetryOptions::exponential(
        ExponentialRetryOptions::default()
            .initial_delay(Duration::from_millis(200))
            .max_retries(3u32)
            .max_delay(Duration::from_secs(4))
            .max_total_elapsed(Duration::from_secs(30)),
    )
}

pub(crate) fn build(config: &Resolved) -> Result<Clients, String> {
    let http = http_client()?;
    let (credentials, identity) = match &config.auth {
        Auth::Key(key) => (
            StorageCredentials::access_key(config.account.clone(), key.clone()),
            None,
        ),
        Auth::ManagedIdentity => {
            let identity = ManagedIdentity::from_env(http.clone())?;
            let name = identity.describe();
            (
                StorageCredentials::token_credential(Arc::new(identity)),
                Some(name),
            )
        }
    };
    let location = CloudLocation::Custom {
        account: config.account.clone(),
        uri: config.endpoint.as_str().trim_end_matches('/').to_string(),
    };
    let transport = TransportOptions::new_custom_policy(Arc::new(SendWithAuthorization(http)));
    let mut options = ClientOptions::new(transport).retry(retry());
    options
        .per_retry_policies_mut()
        .push(Arc::new(StashAuthorization));
    let service = ClientBuilder::with_location(location, credentials)
        .client_options(options)
        .blob_service_client();
    let container = service.container_client(config.container.clone());
    Ok(Clients {
        service,
        container,
        identity,
    })
}

/// The `Authorization` value of the attempt in flight, carried in the request context
/// instead of the request while the SDK logs it.
struct StashedAuthorization(String);

/// azure_core's `Debug` for headers hides every value except `Authorization`, and it logs
/// whole requests (at `debug` just before sending, at `trace` after each attempt): the
/// per-request signature, or with a managed identity the bearer token, would reach the
/// logs. This policy runs after the SDK's signing policy: it moves the header's value
/// into the context and leaves `[scrubbed]` in the request; [`SendWithAuthorization`],
/// the transport, puts it back on the copy it sends. A retry signs anew.
#[derive(Debug)]
struct StashAuthorization;

#[async_trait::async_trait]
impl Policy for StashAuthorization {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        let Some((transport, rest)) = next.split_first() else {
            return Err(azure_core::Error::message(
                ErrorKind::Other,
                "no transport after the authorization stash",
            ));
        };
        let Some(value) = request
            .headers()
            .get_optional_string(&AUTHORIZATION)
            .filter(|v| v != SCRUBBED)
        else {
            return transport.send(ctx, request, rest).await;
        };
        request.insert_header(AUTHORIZATION, HeaderValue::from_static(SCRUBBED));
        let mut ctx = ctx.clone();
        ctx.insert(StashedAuthorization(value));
        transport.send(&ctx, request, rest).await
    }
}

const SCRUBBED: &str = "[scrubbed]";

/// The transport: sends a copy of the request with the stashed `Authorization` restored.
#[derive(Debug)]
struct SendWithAuthorization(Arc<dyn HttpClient>);

#[async_trait::async_trait]
impl Policy for SendWithAuthorization {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        _next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        match ctx.get::<StashedAuthorization>() {
            Some(StashedAuthorization(value)) => {
                let mut signed = request.clone();
                signed.insert_header(AUTHORIZATION, value.clone());
                self.0.execute_request(&signed).await
            }
            None => self.0.execute_request(request).await,
        }
    }
}
