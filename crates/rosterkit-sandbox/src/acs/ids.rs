//! The emulator's own reading and writing of `CommunicationIdentifierModel`s (independent of
//! the adapter), and RFC 3339 timestamps.

use serde_json::{Map, Value, json};

/// The kind a raw id's prefix names, with the kind's object (`None` for an unknown prefix).
fn object_for(raw_id: &str) -> Option<(&'static str, Value)> {
    if let Some(number) = raw_id.strip_prefix("4:") {
        return Some(("phoneNumber", json!({ "value": number })));
    }
    for (prefix, cloud) in [
        ("8:acs:", "public"),
        ("8:dod-acs:", "dod"),
        ("8:gcch-acs:", "gcch"),
    ] {
        if let Some(rest) = raw_id.strip_prefix(prefix) {
            let parts: Vec<&str> = rest.split('_').collect();
            if let [resource, tenant, user] = parts.as_slice() {
                return Some((
                    "teamsExtensionUser",
                    json!({ "userId": user, "tenantId": tenant, "resourceId": resource, "cloud": cloud }),
                ));
            }
            return Some(("communicationUser", json!({ "id": raw_id })));
        }
    }
    if raw_id.starts_with("8:spool:") {
        return Some(("communicationUser", json!({ "id": raw_id })));
    }
    if let Some(user) = raw_id.strip_prefix("8:teamsvisitor:") {
        return Some((
            "microsoftTeamsUser",
            json!({ "userId": user, "isAnonymous": true, "cloud": "public" }),
        ));
    }
    for (prefix, cloud) in [
        ("8:orgid:", "public"),
        ("8:dod:", "dod"),
        ("8:gcch:", "gcch"),
    ] {
        if let Some(user) = raw_id.strip_prefix(prefix) {
            return Some((
                "microsoftTeamsUser",
                json!({ "userId": user, "isAnonymous": false, "cloud": cloud }),
            ));
        }
    }
    for (prefix, cloud) in [
        ("28:orgid:", "public"),
        ("28:dod:", "dod"),
        ("28:gcch:", "gcch"),
        ("28:dod-global:", "dod"),
        ("28:gcch-global:", "gcch"),
    ] {
        if let Some(app) = raw_id.strip_prefix(prefix) {
            return Some(("microsoftTeamsApp", json!({ "appId": app, "cloud": cloud })));
        }
    }
    None
}

/// Whether the raw id has a kind the emulator knows.
pub(super) fn is_known_kind(raw_id: &str) -> bool {
    object_for(raw_id).is_some()
}

/// The reply form of an identifier: always `kind` and `rawId`, plus the kind's object.
pub(super) fn identifier_json(raw_id: &str) -> Value {
    let mut out = Map::new();
    match object_for(raw_id) {
        Some((kind, object)) => {
            out.insert("kind".to_owned(), Value::from(kind));
            out.insert("rawId".to_owned(), Value::from(raw_id));
            out.insert(kind.to_owned(), object);
        }
        None => {
            out.insert("kind".to_owned(), Value::from("unknown"));
            out.insert("rawId".to_owned(), Value::from(raw_id));
        }
    }
    Value::Object(out)
}

fn str_field<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object.get(key)?.as_str().filter(|s| !s.is_empty())
}

/// The raw id a request identifier names: its `rawId`, else one built from its kind's object.
pub(super) fn raw_id_of(identifier: &Value) -> Option<String> {
    if !identifier.is_object() {
        return None;
    }
    if let Some(raw) = str_field(identifier, "rawId") {
        return Some(raw.to_owned());
    }
    if let Some(user) = identifier.get("communicationUser") {
        return str_field(user, "id").map(str::to_owned);
    }
    if let Some(phone) = identifier.get("phoneNumber") {
        return str_field(phone, "value").map(|v| format!("4:{v}"));
    }
    let cloud = |o: &Value| str_field(o, "cloud").unwrap_or("public").to_owned();
    if let Some(user) = identifier.get("microsoftTeamsUser") {
        let id = str_field(user, "userId")?;
        let anonymous = user.get("isAnonymous").and_then(Value::as_bool) == Some(true);
        let prefix = match (anonymous, cloud(user).as_str()) {
            (true, _) => "8:teamsvisitor:",
            (false, "dod") => "8:dod:",
            (false, "gcch") => "8:gcch:",
            _ => "8:orgid:",
        };
        return Some(format!("{prefix}{id}"));
    }
    if let Some(app) = identifier.get("microsoftTeamsApp") {
        let id = str_field(app, "appId")?;
        let prefix = match cloud(app).as_str() {
            "dod" => "28:dod:",
            "gcch" => "28:gcch:",
            _ => "28:orgid:",
        };
        return Some(format!("{prefix}{id}"));
    }
    if let Some(ext) = identifier.get("teamsExtensionUser") {
        let (user, tenant, resource) = (
            str_field(ext, "userId")?,
            str_field(ext, "tenantId")?,
            str_field(ext, "resourceId")?,
        );
        let prefix = match cloud(ext).as_str() {
            "dod" => "8:dod-acs:",
            "gcch" => "8:gcch-acs:",
            _ => "8:acs:",
        };
        return Some(format!("{prefix}{resource}_{tenant}_{user}"));
    }
    None
}

/// A random version-4 UUID, lowercase.
pub(super) fn new_uuid() -> String {
    let bits = (fastrand::u128(..) & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Unix seconds as ACS writes `expiresOn`: `2023-10-10T21:39:39.0000000+00:00`.
pub(super) fn rfc3339(unix: u64) -> String {
    let days = i64::try_from(unix / 86_400).unwrap_or(i64::MAX / 2);
    let secs = unix % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.0000000+00:00",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_identifiers_carry_kind_raw_id_and_object() {
        assert_eq!(
            identifier_json("8:acs:a_b"),
            json!({"kind":"communicationUser","rawId":"8:acs:a_b","communicationUser":{"id":"8:acs:a_b"}})
        );
        assert_eq!(
            identifier_json("4:+14155551234"),
            json!({"kind":"phoneNumber","rawId":"4:+14155551234","phoneNumber":{"value":"+14155551234"}})
        );
        assert_eq!(
            identifier_json("8:gcch:u")["microsoftTeamsUser"]["cloud"],
            "gcch"
        );
        assert_eq!(identifier_json("8:acs:r_t_u")["kind"], "teamsExtensionUser");
        assert_eq!(
            identifier_json("99:x"),
            json!({"kind":"unknown","rawId":"99:x"})
        );
    }

    #[test]
    fn request_identifiers() {
        assert_eq!(
            raw_id_of(&json!({"rawId":"8:acs:x","communicationUser":{"id":"8:acs:x"}})).as_deref(),
            Some("8:acs:x")
        );
        assert_eq!(
            raw_id_of(&json!({"communicationUser":{"id":"8:acs:x"}})).as_deref(),
            Some("8:acs:x")
        );
        assert_eq!(
            raw_id_of(&json!({"phoneNumber":{"value":"+14155551234"}})).as_deref(),
            Some("4:+14155551234")
        );
        assert_eq!(
            raw_id_of(&json!({"microsoftTeamsUser":{"userId":"u","cloud":"dod"}})).as_deref(),
            Some("8:dod:u")
        );
        assert_eq!(raw_id_of(&json!({})), None);
        assert_eq!(raw_id_of(&json!("8:acs:x")), None);
    }

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20.0000000+00:00");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.0000000+00:00");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00.0000000+00:00");
    }
}
