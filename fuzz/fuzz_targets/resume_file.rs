//! Resume-file parsing (issue #16): arbitrary bytes as a `--resume` results file, through
//! `rosterkit::bulk::resume::Priors::read` and `match_rows`.
//!
//! Input: byte 0 holds flags (bit 0: ensure mode; bits 1–2: extra lines the input has beyond
//! its rows; bit 3: rows in reverse order, as if moved); the rest is the file. The input's rows
//! are the fingerprints the file names (after `"fingerprint":"`), at most 256, plus one that
//! no result names.
//! Must hold: no panic; every skipped line is a row of the input; a row is skipped at most once
//! and each result claimed at most once (skips ≤ rows, moved ≤ skips); a refusal names a line
//! of the file; every fingerprint read round-trips through `Display`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rosterkit::bulk::resume::{Fingerprint, Priors, ResumeError};

const KEY: &[u8] = b"\"fingerprint\":\"";

/// The fingerprints the file names, in order.
fn named(file: &[u8]) -> Vec<Fingerprint> {
    let mut found = Vec::new();
    let mut rest = file;
    while found.len() < 256 {
        let Some(at) = rest.windows(KEY.len()).position(|w| w == KEY) else {
            break;
        };
        rest = &rest[at + KEY.len()..];
        let parsed = rest
            .get(..16)
            .and_then(|f| std::str::from_utf8(f).ok())
            .and_then(|f| f.parse::<Fingerprint>().ok());
        if let Some(fp) = parsed {
            assert_eq!(
                fp.to_string().parse::<Fingerprint>().ok(),
                Some(fp),
                "round trip"
            );
            found.push(fp);
        }
    }
    found
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, file)) = data.split_first() else {
        return;
    };
    let ensure = flags & 1 != 0;
    let lines_in_file = file.split(|b| *b == b'\n').count() as u64;
    let priors = match Priors::read(file, ensure) {
        Ok(priors) => priors,
        Err(ResumeError::NoFingerprint { at } | ResumeError::BadFingerprint { at }) => {
            assert!(
                (1..=lines_in_file).contains(&at),
                "line {at} of {lines_in_file}"
            );
            return;
        }
        Err(e) => panic!("reading a slice: {e}"),
    };
    let mut rows: Vec<(u64, Fingerprint)> = named(file)
        .into_iter()
        .chain(["ffffffffffffffff".parse().ok()].into_iter().flatten())
        .enumerate()
        .map(|(i, fp)| (i as u64 + 1, fp))
        .collect();
    if flags & 8 != 0 {
        let fps: Vec<Fingerprint> = rows.iter().rev().map(|(_, fp)| *fp).collect();
        for (row, fp) in rows.iter_mut().zip(fps) {
            row.1 = fp;
        }
    }
    let last_line = rows.len() as u64 + u64::from((flags >> 1) & 3);
    match priors.match_rows(rows.clone(), last_line) {
        Ok(matched) => {
            assert!(matched.skips.len() <= rows.len());
            assert!(matched.moved <= matched.skips.len() as u64);
            for line in matched.skips.keys() {
                assert!(rows.iter().any(|(l, _)| l == line), "skipped line {line}");
            }
            let _ = matched.note(std::path::Path::new("results.jsonl"));
        }
        Err(ResumeError::BeyondInput { at, line, .. }) => {
            assert!(
                (1..=lines_in_file).contains(&at),
                "line {at} of {lines_in_file}"
            );
            assert!(line == 0 || line > last_line);
        }
        Err(ResumeError::NoMatch { total, first }) => {
            assert!(total > 0 && (1..=lines_in_file).contains(&first));
        }
        Err(e) => panic!("matching: {e}"),
    }
});
