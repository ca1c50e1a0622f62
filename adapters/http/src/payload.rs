//! Request payloads poem-openapi has no type for.

use poem::{Body, FromRequest, Request, RequestBody, Result};
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaSchema, MetaSchemaRef};

/// A raw `multipart/form-data` body, read part by part by the handler. poem-openapi's own
/// multipart types spool every part without a size cap, and an `ApiRequest` content type
/// must match exactly, which a `boundary=` parameter never does.
pub struct MultipartBody(pub Body);

impl Payload for MultipartBody {
    const CONTENT_TYPE: &'static str = "multipart/form-data";

    fn check_content_type(content_type: &str) -> bool {
        content_type
            .split(';')
            .next()
            .is_some_and(|media| media.trim().eq_ignore_ascii_case(Self::CONTENT_TYPE))
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            format: Some("binary"),
            ..MetaSchema::new("string")
        }))
    }
}

impl ParsePayload for MultipartBody {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> Result<Self> {
        Ok(Self(Body::from_request(request, body).await?))
    }
}

// The macro calls itself unqualified, so it must be in scope by name.
use poem_openapi::impl_apirequest_for_payload;
impl_apirequest_for_payload!(MultipartBody);

/// JSON already serialised (a memoised hot response), documented as `T`.
pub struct RenderedJson<T>(pub bytes::Bytes, std::marker::PhantomData<T>);

impl<T> RenderedJson<T> {
    pub fn new(bytes: bytes::Bytes) -> Self {
        Self(bytes, std::marker::PhantomData)
    }
}

impl<T: poem_openapi::types::Type> Payload for RenderedJson<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut poem_openapi::registry::Registry) {
        T::register(registry);
    }
}

impl<T: Send> poem::IntoResponse for RenderedJson<T> {
    fn into_response(self) -> poem::Response {
        poem::Response::builder()
            .content_type("application/json; charset=utf-8")
            .body(self.0)
    }
}

impl<T: poem_openapi::types::Type> poem_openapi::ApiResponse for RenderedJson<T> {
    fn meta() -> poem_openapi::registry::MetaResponses {
        use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses};
        MetaResponses {
            responses: vec![MetaResponse {
                description: "",
                status: Some(200),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: <Self as Payload>::CONTENT_TYPE,
                    schema: <Self as Payload>::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut poem_openapi::registry::Registry) {
        T::register(registry);
    }
}

/// JSON answered with `Content-Type: application/json` exactly, no parameter: the
/// Provider Network Mirror Protocol requires that media type (Terraform warns about any
/// parameter), where poem-openapi's `Json` adds `; charset=utf-8`.
pub struct ExactJson<T>(pub T);

impl<T: poem_openapi::types::Type> Payload for ExactJson<T> {
    const CONTENT_TYPE: &'static str = "application/json";

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut poem_openapi::registry::Registry) {
        T::register(registry);
    }
}

impl<T: poem_openapi::types::ToJSON> poem::IntoResponse for ExactJson<T> {
    fn into_response(self) -> poem::Response {
        let body = self
            .0
            .to_json()
            .unwrap_or(serde_json::Value::Null)
            .to_string();
        poem::Response::builder()
            .content_type(<Self as Payload>::CONTENT_TYPE)
            .body(body)
    }
}
