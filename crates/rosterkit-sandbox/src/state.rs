//! Saved state (`SandboxConfig::state_file`, `rosterkit sandbox --state FILE`): every
//! emulator's chats, threads, groups, tenants and settings, loaded at start and written again
//! whenever a request changed them, atomically (a temporary file in the same directory, then a
//! rename), so a developer's seeded world survives restarts.
//!
//! The file is JSON, `{"format":"rosterkit-sandbox-state","version":1,"chert":..,"linq":..,
//! "zapi":..,"acs":..}`. A file that is not JSON, not this format or another version is an
//! error at start: it is never replaced.

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{Notify, watch};

use crate::acs::AcsSaved;
use crate::app::Emulators;
use crate::chert::ChertSaved;
use crate::linq::LinqSaved;
use crate::sync::lock;
use crate::zapi::ZapiSaved;

/// The `format` field of a state file.
const FORMAT: &str = "rosterkit-sandbox-state";
/// The `version` field this build reads and writes.
const VERSION: u64 = 1;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    format: String,
    version: u64,
    chert: ChertSaved,
    linq: LinqSaved,
    zapi: ZapiSaved,
    acs: AcsSaved,
}

fn invalid(path: &Path, why: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "{} is not a usable rosterkit sandbox state file ({why}); it was left untouched: \
             move it away or pass another path",
            path.display()
        ),
    )
}

/// Loads `path` into the emulators. `Ok(false)` when the file does not exist yet.
pub(crate) fn load(path: &Path, emulators: &Emulators) -> io::Result<bool> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
    };
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|e| invalid(path, format!("not JSON: {e}")))?;
    if value.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(invalid(path, format!("no \"format\": \"{FORMAT}\"")));
    }
    let version = value.get("version").and_then(Value::as_u64);
    if version != Some(VERSION) {
        return Err(invalid(
            path,
            format!("version {version:?}, this sandbox reads version {VERSION}"),
        ));
    }
    let file: StateFile = serde_json::from_value(value).map_err(|e| invalid(path, e))?;
    emulators.chert.load(file.chert);
    emulators.linq.load(file.linq);
    emulators.zapi.load(file.zapi);
    emulators.acs.load(file.acs);
    Ok(true)
}

fn snapshot(emulators: &Emulators) -> io::Result<Vec<u8>> {
    let file = StateFile {
        format: FORMAT.to_owned(),
        version: VERSION,
        chert: emulators.chert.save(),
        linq: emulators.linq.save(),
        zapi: emulators.zapi.save(),
        acs: emulators.acs.save(),
    };
    let mut bytes = serde_json::to_vec_pretty(&file).map_err(io::Error::other)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Writes `bytes` to a temporary file beside `path`, syncs it, and renames it over `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "the state path names no file")
    })?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = path.with_file_name(temp_name);
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result.map_err(|e| io::Error::new(e.kind(), format!("writing {}: {e}", path.display())))
}

/// Saves the emulators to one file whenever their state changed.
#[derive(Debug, Clone)]
pub(crate) struct StateSaver {
    inner: Arc<SaverInner>,
}

#[derive(Debug)]
struct SaverInner {
    path: PathBuf,
    emulators: Emulators,
    /// What the file holds now.
    written: Mutex<Vec<u8>>,
    changed: Notify,
}

impl StateSaver {
    /// Loads `path` (if it exists) into the emulators and writes the file back, so it exists
    /// and is known to be writable before the sandbox serves.
    pub(crate) fn open(path: PathBuf, emulators: Emulators) -> io::Result<StateSaver> {
        load(&path, &emulators)?;
        let saver = StateSaver {
            inner: Arc::new(SaverInner {
                path,
                emulators,
                written: Mutex::new(Vec::new()),
                changed: Notify::new(),
            }),
        };
        saver.save_if_changed()?;
        Ok(saver)
    }

    /// Writes the file if the emulators' state differs from what it holds.
    pub(crate) fn save_if_changed(&self) -> io::Result<()> {
        let bytes = snapshot(&self.inner.emulators)?;
        let mut written = lock(&self.inner.written);
        if *written != bytes {
            write_atomically(&self.inner.path, &bytes)?;
            *written = bytes;
        }
        Ok(())
    }

    /// Saves after every change signalled by [`mark_changed`], until `shutdown`.
    pub(crate) async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                () = self.inner.changed.notified() => {
                    let saver = self.clone();
                    let saved = tokio::task::spawn_blocking(move || saver.save_if_changed()).await;
                    match saved {
                        Ok(Ok(())) => {}
                        Ok(Err(error)) => tracing::warn!(%error, "sandbox state not saved"),
                        Err(error) => tracing::warn!(%error, "sandbox state saver failed"),
                    }
                }
                _ = shutdown.changed() => break,
            }
        }
    }
}

/// After every request that may change state (any method but `GET`/`HEAD`), wakes the saver.
pub(crate) async fn mark_changed(
    State(saver): State<StateSaver>,
    request: Request,
    next: Next,
) -> Response {
    let mutating = !matches!(request.method().as_str(), "GET" | "HEAD" | "OPTIONS");
    let response = next.run(request).await;
    if mutating {
        saver.inner.changed.notify_one();
    }
    response
}
