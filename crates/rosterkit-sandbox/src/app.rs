//! Assembles the sandbox's router: the control plane plus one mount per provider.
//!
//! Adding a provider `foo` (its module `src/foo/` exposing `pub(crate) fn router(&FooEmulator)
//! -> ProviderRouter`): add a field to [`Emulators`] and create it in [`Emulators::new`], add
//! one `mount` line in [`build`], its credentials to [`SandboxInfo`] in
//! [`Emulators::info`], and an accessor on `Sandbox`.

use axum::Router;

use crate::acs::{self, AcsEmulator};
use crate::chert::{self, ChertEmulator};
use crate::control::{self, ControlCtx};
use crate::framework::{Framework, mount};
use crate::linq::{self, LinqEmulator};
use crate::sandbox::SandboxInfo;
use crate::zapi::{self, ZapiEmulator};

/// Every provider emulator's state handle.
#[derive(Debug, Clone)]
pub(crate) struct Emulators {
    pub(crate) chert: ChertEmulator,
    pub(crate) linq: LinqEmulator,
    pub(crate) zapi: ZapiEmulator,
    pub(crate) acs: AcsEmulator,
}

impl Emulators {
    pub(crate) fn new(framework: &Framework) -> Self {
        Emulators {
            chert: ChertEmulator::new(framework.clock.clone()),
            linq: LinqEmulator::new(framework.clock.clone()),
            zapi: ZapiEmulator::new(),
            acs: AcsEmulator::new(framework.clock.clone()),
        }
    }

    /// Base URLs and credentials of every emulator, for a sandbox at `base_url`.
    pub(crate) fn info(&self, base_url: &str) -> SandboxInfo {
        SandboxInfo {
            base_url: base_url.to_owned(),
            chert: self.chert.credentials(base_url),
            linq: self.linq.credentials(base_url),
            zapi: self.zapi.credentials(base_url),
            acs: self.acs.credentials(base_url),
        }
    }
}

/// Azure's SDKs accept only an origin as the resource endpoint (`https://host:port/`), so the
/// ACS routes are also served at the root: `/identities...` and `/chat/...` are routed as
/// `/acs/identities...` and `/acs/chat/...`. The request target as received (what the access
/// key signed) is kept in [`RawTarget`](crate::framework::RawTarget).
pub(crate) fn alias_root_routes<B>(request: &mut http::Request<B>) {
    let path = request.uri().path();
    if !(path == "/identities" || path.starts_with("/identities/") || path.starts_with("/chat/")) {
        return;
    }
    let target = request
        .uri()
        .path_and_query()
        .map_or(path, http::uri::PathAndQuery::as_str);
    if let Ok(uri) = format!("{}{target}", crate::provider::Provider::Acs.mount_path()).parse() {
        *request.uri_mut() = uri;
    }
}

/// The whole application: `/_sandbox/...` and every provider's mount.
pub(crate) fn build(framework: &Framework, emulators: &Emulators, base_url: &str) -> Router {
    let mut app = control::router(ControlCtx {
        framework: framework.clone(),
        emulators: emulators.clone(),
        base_url: base_url.to_owned(),
    });
    // One line per provider.
    app = mount(app, framework, chert::router(&emulators.chert));
    app = mount(app, framework, linq::router(&emulators.linq));
    app = mount(app, framework, zapi::router(&emulators.zapi));
    app = mount(app, framework, acs::router(&emulators.acs, base_url));
    app.layer(axum::middleware::from_fn(control::guard))
}
