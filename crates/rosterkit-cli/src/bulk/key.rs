//! Stable keys of a row: its fingerprint (what resume matches on) and its shard.
//!
//! Both use 64-bit FNV-1a: tiny, dependency-free and fixed by its definition, so a results file
//! or a shard split made by one build means the same to every other build and platform.

use std::{fmt, str::FromStr};

use rosterkit::bulk::{Op, RawOp};

/// 64-bit FNV-1a of `bytes`.
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(PRIME)
    })
}

/// The fingerprint of a row: FNV-1a-64 of `op`, `provider`, `chat` and `handle` joined by
/// U+001F (a byte no field can hold), as 16 lowercase hex digits. Valid rows use the parsed
/// (normalised) fields, refused rows the fields as read, trimmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Fingerprint(pub(crate) u64);

impl Fingerprint {
    fn of_fields(fields: [&str; 4]) -> Self {
        Self(fnv1a64(fields.join("\u{1f}").as_bytes()))
    }

    /// The fingerprint of a row, valid or refused.
    pub(crate) fn of(op: Result<&Op, &RawOp>) -> Self {
        match op {
            Ok(op) => Self::of_fields([
                op.kind().as_str(),
                op.provider().as_str(),
                op.chat().as_str(),
                op.handle().map(|h| h.as_str()).unwrap_or_default(),
            ]),
            Err(raw) => {
                let text = field_text;
                Self::of_fields([
                    text(&raw.op),
                    text(&raw.provider),
                    text(&raw.chat),
                    text(&raw.handle),
                ])
            }
        }
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl FromStr for Fingerprint {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        if s.len() != 16 {
            return Err(());
        }
        u64::from_str_radix(s, 16).map(Self).map_err(|_| ())
    }
}

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
    use rosterkit::{ChatId, Handle, ProviderKind};

    #[test]
    fn fnv1a_matches_the_published_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn fingerprints_are_stable_and_field_sensitive() {
        let chat = ChatId::new("ch_1").unwrap();
        let handle: Handle = "+14155551234".parse().unwrap();
        let op = Op::remove(ProviderKind::Chert, chat.clone(), handle.clone());
        let fp = Fingerprint::of(Ok(&op));
        assert_eq!(fp.to_string(), Fingerprint::of(Ok(&op)).to_string());
        // The same fields as read, spelled loosely, are the same row once parsed.
        let raw = RawOp::new(
            Some(" Remove ".into()),
            Some("CHERT".into()),
            Some("ch_1".into()),
            Some("+14155551234".into()),
        );
        assert_eq!(Fingerprint::of(Ok(&raw.parse().unwrap())), fp);
        let add = Op::add(ProviderKind::Chert, chat, handle);
        assert_ne!(Fingerprint::of(Ok(&add)), fp);
        assert_eq!(fp.to_string().parse::<Fingerprint>(), Ok(fp));
        assert!("xyz".parse::<Fingerprint>().is_err());
    }

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
