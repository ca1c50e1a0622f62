//! One API area per file.

mod admin;
mod discovery;
mod keys;
mod mirror;
mod modules;
mod pagination;
mod providers;
mod publish_modules;
mod publish_providers;
mod sign_in;
mod terraform_login;

use poem_openapi::Tags;

#[derive(Tags)]
pub enum ApiTags {
    /// Service discovery and health probes.
    Discovery,
    /// The Module Registry Protocol and the module listing API.
    Modules,
    /// The Provider Registry Protocol and the provider listing API.
    Providers,
    /// The Provider Network Mirror Protocol (mirrored providers, with pull-through).
    Mirror,
    /// Publishing and deleting versions (API key required).
    Publishing,
    /// Browser sign-in through SSO, sessions, and `terraform login`.
    SignIn,
    /// The caller's own API keys.
    Keys,
    /// Administration: users, organizations, members, role templates, namespaces,
    /// organization API keys, the audit log and provider mirrors.
    Admin,
}

pub type Apis = (
    discovery::DiscoveryApi,
    modules::ModulesApi,
    providers::ProvidersApi,
    mirror::MirrorApi,
    publish_modules::PublishModulesApi,
    publish_providers::PublishProvidersApi,
    sign_in::SignInApi,
    terraform_login::TerraformLoginApi,
    keys::KeysApi,
    admin::AdminApis,
);

pub fn apis() -> Apis {
    (
        discovery::DiscoveryApi,
        modules::ModulesApi,
        providers::ProvidersApi,
        mirror::MirrorApi,
        publish_modules::PublishModulesApi,
        publish_providers::PublishProvidersApi,
        sign_in::SignInApi,
        terraform_login::TerraformLoginApi,
        keys::KeysApi,
        admin::apis(),
    )
}
