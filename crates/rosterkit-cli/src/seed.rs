//! `rosterkit sandbox --seed FILE`: chats to create when the sandbox starts, as JSON in the
//! shape of the control plane's seeding routes:
//!
//! ```json
//! {"chert": {"chats": [{"id": "ch_demo", "members": ["+14155550100", "+14155550101", "+14155550102"]}]},
//!  "linq": {"chats": [{"me": "+14155550000", "members": ["+14155550100", "+14155550101"]}]},
//!  "zapi": {"groups": [{"subject": "Team", "members": ["5511999990001", "5511999990002"]}],
//!           "communities": []},
//!  "acs": {"threads": [{"participants": ["8:acs:alice"]}]}}
//! ```
//!
//! Each seed takes the fields of its control-plane body. A field the sandbox does not know (a
//! typo such as `membrs`) is an error naming it, not an empty chat.

use std::{collections::BTreeSet, path::Path};

use rosterkit_sandbox::{
    Sandbox,
    acs::AcsThreadSeed,
    chert::ChertChatSeed,
    linq::LinqChatSeed,
    zapi::{ZapiCommunitySeed, ZapiGroupSeed},
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct SeedFile {
    chert: Chats,
    linq: Chats,
    zapi: ZapiSeeds,
    acs: Threads,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Chats {
    chats: Vec<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ZapiSeeds {
    groups: Vec<Value>,
    communities: Vec<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Threads {
    threads: Vec<Value>,
}

/// Reads `value` as a `T`, refusing fields `T` does not have: what `T` reads back out must
/// hold every non-null field given.
fn strict<T: DeserializeOwned + Serialize>(value: Value, at: &str) -> Result<T, String> {
    let given: BTreeSet<String> = match &value {
        Value::Object(map) => map
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, _)| k.clone())
            .collect(),
        _ => return Err(format!("{at}: expected a JSON object")),
    };
    let seed: T = serde_json::from_value(value).map_err(|e| format!("{at}: {e}"))?;
    let known: BTreeSet<String> = match serde_json::to_value(&seed) {
        Ok(Value::Object(map)) => map.into_iter().map(|(k, _)| k).collect(),
        _ => BTreeSet::new(),
    };
    match given.difference(&known).next() {
        Some(unknown) => Err(format!(
            "{at}: unknown field {unknown:?} (fields: {})",
            known
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        None => Ok(seed),
    }
}

/// One line per seeded chat: `chert chat ch_...`.
pub(crate) fn apply(sandbox: &Sandbox, path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the seed file {}: {e}", path.display()))?;
    let file: SeedFile = serde_json::from_str(&text)
        .map_err(|e| format!("the seed file {}: {e}", path.display()))?;
    let at = |kind: &str, i: usize| format!("the seed file {}: {kind}[{i}]", path.display());
    // Everything is checked before anything is created.
    let chert: Vec<ChertChatSeed> =
        collect(file.chert.chats, |v, i| strict(v, &at("chert.chats", i)))?;
    let linq: Vec<LinqChatSeed> = collect(file.linq.chats, |v, i| strict(v, &at("linq.chats", i)))?;
    let groups: Vec<ZapiGroupSeed> =
        collect(file.zapi.groups, |v, i| strict(v, &at("zapi.groups", i)))?;
    let communities: Vec<ZapiCommunitySeed> = collect(file.zapi.communities, |v, i| {
        strict(v, &at("zapi.communities", i))
    })?;
    let threads: Vec<AcsThreadSeed> =
        collect(file.acs.threads, |v, i| strict(v, &at("acs.threads", i)))?;
    let mut seeded = Vec::new();
    for seed in chert {
        seeded.push(format!("chert chat {}", sandbox.chert().create_chat(seed)));
    }
    for seed in linq {
        seeded.push(format!("linq chat {}", sandbox.linq().create_chat(seed)));
    }
    for seed in groups {
        seeded.push(format!(
            "zapi group {}",
            sandbox.zapi().create_group_with(seed)
        ));
    }
    for seed in communities {
        seeded.push(format!(
            "zapi community {}",
            sandbox.zapi().create_community_with(seed)
        ));
    }
    for seed in threads {
        seeded.push(format!("acs thread {}", sandbox.acs().seed_thread(seed)));
    }
    Ok(seeded)
}

fn collect<T>(
    values: Vec<Value>,
    each: impl Fn(Value, usize) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| each(v, i))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_in_seeds_are_named() {
        let e = strict::<ChertChatSeed>(
            serde_json::json!({"membrs": ["+14155550100"]}),
            "chert.chats[0]",
        )
        .unwrap_err();
        assert!(
            e.contains("unknown field \"membrs\"") && e.contains("members"),
            "{e}"
        );
        let seed = strict::<ChertChatSeed>(
            serde_json::json!({"id": "ch_demo", "members": ["+14155550100"], "nothing": null}),
            "chert.chats[0]",
        )
        .unwrap();
        assert_eq!(seed.id.as_deref(), Some("ch_demo"));
        assert!(serde_json::from_str::<SeedFile>(r#"{"chert":{"chat":[]}}"#).is_err());
        assert!(serde_json::from_str::<SeedFile>(r#"{"telegram":{}}"#).is_err());
    }
}
