//! Stable keys of a row: its fingerprint (what resume matches on) and its shard.
//!
//! Both use 64-bit FNV-1a: tiny, dependency-free and fixed by its definition, so a results file
//! or a shard split made by one build means the same to every other build and platform.

use rosterkit::bulk::{Op, RawOp};

pub(crate) use rosterkit::bulk::resume::{Fingerprint, fnv1a64};

/// A field of a refused row as it is reported and fingerprinted: trimmed, empty when absent.
pub(crate) fn field_text(field: &Option<String>) -> &str {
    field.as_deref().map(str::trim).unwrap_or_default()
}

/// `--shard I/N`: this process runs the rows whose chat hashes to `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shard {
    pub(crate) index: u64,
    pub(crate) count: u64,
}

impl Shard {
    /// Parses `I/N` with `0 <= I < N`.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let (i, n) = text
            .split_once('/')
            .ok_or_else(|| format!("expected I/N (e.g. 0/4), got {text:?}"))?;
        let number = |s: &str| {
            s.trim()
                .parse::<u64>()
                .map_err(|_| format!("expected I/N with whole numbers, got {text:?}"))
        };
        let (index, count) = (number(i)?, number(n)?);
        if count == 0 || index >= count {
            return Err(format!(
                "shard {index}/{count}: I counts from 0 and must be below N (N >= 1)"
            ));
        }
        Ok(Self { index, count })
    }

    /// Whether a row on `chat` belongs to this shard.
    pub(crate) fn holds(&self, chat: &str) -> bool {
        fnv1a64(chat.as_bytes()) % self.count == self.index
    }

    /// The chat a row is sharded by: the parsed chat, or the field as read (trimmed).
    pub(crate) fn chat_of<'a>(op: Result<&'a Op, &'a RawOp>) -> &'a str {
        match op {
            Ok(op) => op.chat().as_str(),
            Err(raw) => field_text(&raw.chat),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_by_chat_and_parse_strictly() {
        let shard = |s| Shard::parse(s);
        assert_eq!(shard("1/4"), Ok(Shard { index: 1, count: 4 }));
        for bad in ["4/4", "1", "a/2", "0/0", "-1/2"] {
            assert!(shard(bad).is_err(), "{bad}");
        }
        let all: Vec<Shard> = (0..4).map(|i| Shard { index: i, count: 4 }).collect();
        for chat in ["ch_1", "ch_2", "120363-group", ""] {
            assert_eq!(all.iter().filter(|s| s.holds(chat)).count(), 1, "{chat}");
        }
    }
}
