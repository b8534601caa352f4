//! Matrix identifiers, checked before any request: room ids, room aliases and user ids.

use rosterkit_core::{ChatId, Error, Handle};

use crate::PROVIDER;

/// The longest Matrix identifier, in bytes (spec: "Common identifier format").
const MAX_LEN: usize = 255;

/// What a [`ChatId`] names on Matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Room<'a> {
    /// A room id: `!opaque:server` (room versions up to 11) or `!opaque` (version 12).
    Id(&'a str),
    /// A room alias, `#name:server`, resolved through the room directory before use.
    Alias(&'a str),
}

impl<'a> Room<'a> {
    /// Classifies and checks `chat`.
    ///
    /// # Errors
    /// `InvalidInput` when `chat` is neither a room id nor an alias.
    pub fn parse(chat: &'a ChatId) -> Result<Self, Error> {
        let s = chat.as_str();
        plain("room id", s)?;
        if let Some(rest) = s.strip_prefix('!') {
            // v12 ids carry no server part; older ones do, and then it must not be empty.
            let ok = !rest.is_empty()
                && rest
                    .split_once(':')
                    .is_none_or(|(opaque, server)| !opaque.is_empty() && !server.is_empty());
            if ok {
                return Ok(Self::Id(s));
            }
        } else if s.starts_with('#') && server_part(s).is_some() {
            return Ok(Self::Alias(s));
        }
        Err(invalid(
            "a Matrix room is `!opaque:server`, `!opaque` (room version 12) or an alias `#name:server`",
        ))
    }
}

/// The Matrix user id `handle` holds: a native handle `@localpart:server`.
///
/// # Errors
/// `InvalidInput` for phone numbers, emails and native ids of another shape.
pub fn user_id(handle: &Handle) -> Result<&str, Error> {
    let Handle::Native(id) = handle else {
        return Err(invalid(
            "Matrix members are user ids (@localpart:server), not phone numbers or emails",
        ));
    };
    let s = id.as_str();
    plain("user id", s)?;
    if s.starts_with('@') && server_part(s).is_some() {
        Ok(s)
    } else {
        Err(invalid(
            "a Matrix user id is `@localpart:server` (for example @alice:example.org)",
        ))
    }
}

/// Reads a handle as Matrix writes it: `@localpart:server` is a user id (no `native:` prefix
/// needed); anything else goes to [`Handle`]'s own parser (and is refused later if it is not
/// a user id).
///
/// ```
/// use rosterkit_core::Handle;
/// let bob = rosterkit_matrix::ids::parse_user("@bob:example.org")?;
/// assert_eq!(rosterkit_matrix::ids::user_id(&bob)?, "@bob:example.org");
/// assert!(rosterkit_matrix::ids::parse_user("@bob").is_err());
/// # Ok::<(), rosterkit_core::Error>(())
/// ```
///
/// # Errors
/// `InvalidInput` for a malformed user id or text that is no handle at all.
pub fn parse_user(text: &str) -> Result<Handle, Error> {
    if !text.starts_with('@') {
        return Ok(text.parse::<Handle>()?);
    }
    let handle =
        Handle::Native(rosterkit_core::NativeId::new(text).map_err(|e| invalid(&e.to_string()))?);
    user_id(&handle)?;
    Ok(handle)
}

/// The server part of `Xlocal:server` when both parts are non-empty.
fn server_part(s: &str) -> Option<&str> {
    let (local, server) = s.get(1..)?.split_once(':')?;
    (!local.is_empty() && !server.is_empty()).then_some(server)
}

/// No whitespace and at most [`MAX_LEN`] bytes (control characters are refused by the core
/// types already).
fn plain(what: &str, s: &str) -> Result<(), Error> {
    if s.len() > MAX_LEN {
        return Err(invalid(&format!(
            "a Matrix {what} is at most {MAX_LEN} bytes"
        )));
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(&format!(
            "a Matrix {what} contains no whitespace or control characters"
        )));
    }
    Ok(())
}

fn invalid(message: &str) -> Error {
    Error::invalid_input(message).with_provider(PROVIDER)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rosterkit_core::{ErrorKind, NativeId};

    fn room(s: &str) -> Result<Room<'static>, Error> {
        let chat: &'static ChatId = Box::leak(Box::new(ChatId::new(s).unwrap()));
        Room::parse(chat)
    }

    #[test]
    fn rooms_of_every_version_and_aliases() {
        assert_eq!(
            room("!abc:example.org").unwrap(),
            Room::Id("!abc:example.org")
        );
        assert_eq!(
            room("!KZJYw15L_DR4sFE2aVDBmbZns9DoVLyqgOjzQTkn8jg").unwrap(),
            Room::Id("!KZJYw15L_DR4sFE2aVDBmbZns9DoVLyqgOjzQTkn8jg")
        );
        assert_eq!(
            room("#ops:example.org").unwrap(),
            Room::Alias("#ops:example.org")
        );
        for bad in [
            "abc", "!", "!abc:", "!:server", "#ops", "#:x", "#ops:", "! a:b", "@u:s",
        ] {
            let err = room(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad}");
            assert_eq!(err.provider(), Some("matrix"));
        }
        assert!(room(&format!("!{}:s", "a".repeat(253))).is_err());
        assert!(room(&format!("!{}:s", "a".repeat(252))).is_ok());
    }

    #[test]
    fn users_are_native_matrix_ids() {
        let native = |s: &str| Handle::Native(NativeId::new(s).unwrap());
        assert_eq!(
            user_id(&native("@bob:example.org")).unwrap(),
            "@bob:example.org"
        );
        for bad in ["bob", "@bob", "@:example.org", "@bob:", "!r:s"] {
            assert_eq!(
                user_id(&native(bad)).unwrap_err().kind(),
                ErrorKind::InvalidInput,
                "{bad}"
            );
        }
        let phone: Handle = "+14155551234".parse().unwrap();
        let err = user_id(&phone).unwrap_err();
        assert!(err.message().contains("@localpart:server"), "{err}");
        assert_eq!(
            parse_user("@bob:example.org").unwrap(),
            native("@bob:example.org")
        );
        assert_eq!(parse_user("native:@bob:s").unwrap(), native("@bob:s"));
        assert_eq!(parse_user("+14155551234").unwrap(), phone);
        for bad in ["@bob", "@bob:", "@b ob:s", "bob"] {
            assert_eq!(
                parse_user(bad).unwrap_err().kind(),
                ErrorKind::InvalidInput,
                "{bad}"
            );
        }
    }
}
