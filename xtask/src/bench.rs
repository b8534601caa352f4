//! `cargo xtask bench [--quick]`: what rosterkit costs next to a hand-written reqwest client.
//!
//! Builds `rosterkit-bench` (and `rosterkit-cli`, for the bulk section) in release mode, runs
//! them, counts dependency footprints with `cargo tree`, writes `target/bench/summary.json` and
//! returns a table. `BENCHMARKS.md` explains every figure.

use std::{
    collections::BTreeSet,
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use serde_json::{Map, Value, json};

/// Bulk runs: (operations, summary key).
const BULK_RUNS: [(usize, &str); 2] =
    [(10_000, "bulk_rss_10k_mib"), (100_000, "bulk_rss_100k_mib")];

/// A target the issue sets: the summary key, the comparison and the bound.
struct Target {
    key: &'static str,
    at_most: bool,
    bound: f64,
}

const TARGETS: &[Target] = &[
    Target {
        key: "overhead_cpu_ratio",
        at_most: true,
        bound: 1.05,
    },
    Target {
        key: "throughput_ratio_c64",
        at_most: false,
        bound: 0.95,
    },
    Target {
        key: "sign_ratio_256",
        at_most: true,
        bound: 1.10,
    },
    Target {
        key: "bulk_rss_100k_over_10k",
        at_most: true,
        bound: 1.25,
    },
    Target {
        key: "bulk_rss_100k_mib",
        at_most: true,
        bound: 64.0,
    },
    Target {
        key: "extra_crates_one_provider",
        at_most: true,
        // Issue #18: the design card's crates (hmac + sha2) outrank the old target of 10.
        bound: 20.0,
    },
];

/// Runs the benchmark; `quick` is CI's short mode (no clean builds, fewer rounds).
pub(crate) fn run(root: &Path, quick: bool) -> Result<String, String> {
    let started = Instant::now();
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let out_dir = target_dir.join("bench");
    fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let load_before = loadavg();

    // Build: the bench program, and the CLI when it exists and builds.
    let members = crate::tidy::manifests(root)?;
    let has_cli = members.iter().any(|m| m.name == "rosterkit-cli");
    // Both in one cargo invocation: built separately, they resolve different feature sets for
    // shared dependencies (reqwest, rustls) and each build would throw the other's away.
    let both = [
        "build",
        "--release",
        "-p",
        "rosterkit-bench",
        "-p",
        "rosterkit-cli",
    ];
    let cli_problem = if !has_cli {
        Some(
            "rosterkit-cli is not a workspace member yet (`rosterkit bulk` does not exist)"
                .to_owned(),
        )
    } else {
        crate::announce("==> bench: cargo build --release -p rosterkit-bench -p rosterkit-cli");
        cargo(root, &both)
            .err()
            .map(|e| format!("rosterkit-cli does not build: {e}"))
    };
    if cli_problem.is_some() {
        crate::announce("==> bench: cargo build --release -p rosterkit-bench");
        cargo(root, &["build", "--release", "-p", "rosterkit-bench"])?;
    }
    let bin = target_dir.join("release");

    // 1, 2 and the sandbox's capacity.
    crate::announce("==> bench: overhead and sandbox capacity");
    let run_json = out_dir.join("run.json");
    let mut args = vec!["run", "--out"];
    let run_path = run_json.to_string_lossy().into_owned();
    args.push(&run_path);
    if quick {
        args.push("--quick");
    }
    exec(&bin.join("rosterkit-bench"), &args)?;
    let measured: Value = read_json(&run_json)?;
    crate::announce("==> bench: signing");
    let sign_json = out_dir.join("sign.json");
    let sign_path = sign_json.to_string_lossy().into_owned();
    let mut args = vec!["sign", "--out", &sign_path];
    if quick {
        args.push("--quick");
    }
    exec(&bin.join("rosterkit-bench"), &args)?;
    let signing: Value = read_json(&sign_json)?;

    // 3. Bulk memory.
    let mut bulk = Map::new();
    let mut bulk_note = cli_problem.clone();
    if cli_problem.is_none() {
        for (ops, key) in BULK_RUNS {
            crate::announce(&format!("==> bench: rosterkit bulk, {ops} removals"));
            let path = out_dir.join(format!("bulk-{ops}.json"));
            let path_text = path.to_string_lossy().into_owned();
            let cli = bin.join("rosterkit").to_string_lossy().into_owned();
            let ops_text = ops.to_string();
            match exec(
                &bin.join("rosterkit-bench"),
                &[
                    "bulk", "--cli", &cli, "--ops", &ops_text, "--out", &path_text,
                ],
            )
            .and_then(|()| read_json(&path))
            {
                Ok(v) => {
                    bulk.insert(key.to_owned(), v);
                }
                Err(e) => {
                    bulk_note = Some(format!("rosterkit bulk failed: {e}"));
                    break;
                }
            }
        }
    }

    // 4. Footprint.
    crate::announce("==> bench: dependency footprint");
    let footprint = footprint(root, &out_dir, quick)?;

    // 5. Summary.
    let rss = |key: &str| {
        bulk_note
            .is_none()
            .then(|| bulk.get(key).and_then(|v| v.get("peak_rss_mib")).cloned())
            .flatten()
            .unwrap_or(Value::Null)
    };
    let (rss_10k, rss_100k) = (rss("bulk_rss_10k_mib"), rss("bulk_rss_100k_mib"));
    let rss_ratio = rss_10k
        .as_f64()
        .zip(rss_100k.as_f64())
        .map(|(a, b)| json!(round(b / a, 3)))
        .unwrap_or(Value::Null);
    let overhead = &measured["overhead"];
    let mut summary = json!({
        "overhead_cpu_ratio": overhead["cpu_ratio"],
        "overhead_cpu_ratio_c1": overhead["c1"]["cpu_ratio"],
        "overhead_cpu_ratio_c64": overhead["c64"]["cpu_ratio"],
        "throughput_ratio_c1": overhead["c1"]["throughput_ratio"],
        "throughput_ratio_c64": overhead["c64"]["throughput_ratio"],
        "overhead_cpu_ratio_vs_no_timeout_c1": overhead["c1"]["cpu_ratio_vs_no_timeout"],
        "overhead_cpu_ratio_vs_no_timeout_c64": overhead["c64"]["cpu_ratio_vs_no_timeout"],
        "throughput_ratio_vs_no_timeout_c64": overhead["c64"]["throughput_ratio_vs_no_timeout"],
        "sign_ratio_256": signing["sign_ratio_256"],
        "sign_ratio_4k": signing["sign_ratio_4k"],
        "bulk_rss_10k_mib": rss_10k,
        "bulk_rss_100k_mib": rss_100k,
        "bulk_rss_100k_over_10k": rss_ratio,
        "bulk_note": bulk_note.clone().map_or(Value::Null, Value::String),
        "extra_crates_one_provider": footprint["extra_crates_one_provider"],
        "extra_crates_vs_hand_written": footprint["extra_crates_vs_hand_written"],
        "mode": if quick { "quick" } else { "full" },
        "command": if quick { "cargo xtask bench --quick" } else { "cargo xtask bench" },
        "machine": {
            "nproc": std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
            "cpu_model": cpu_model(),
            "loadavg_before": load_before,
            "loadavg_after": loadavg(),
        },
        "details": {
            "overhead": measured["overhead"],
            "sandbox": measured["sandbox"],
            "signing": signing["signing"],
            "bulk": Value::Object(bulk),
            "footprint": footprint,
        },
    });
    let mut targets = Map::new();
    for t in TARGETS {
        let value = summary[t.key].as_f64();
        let holds = value.map(|v| {
            if t.at_most {
                v <= t.bound
            } else {
                v >= t.bound
            }
        });
        targets.insert(
            t.key.to_owned(),
            json!({
                "value": value,
                "target": format!("{} {}", if t.at_most { "<=" } else { ">=" }, t.bound),
                "holds": holds,
            }),
        );
    }
    summary["targets"] = Value::Object(targets);
    summary["elapsed_s"] = json!(round(started.elapsed().as_secs_f64(), 1));
    let summary_path = out_dir.join("summary.json");
    let text = serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?;
    fs::write(&summary_path, text + "\n")
        .map_err(|e| format!("{}: {e}", summary_path.display()))?;
    Ok(table(&summary, &summary_path))
}

/// The human table.
fn table(s: &Value, path: &Path) -> String {
    let d = &s["details"];
    let f = |v: &Value| match v {
        Value::Null => "n/a".to_owned(),
        Value::Number(n) => n.to_string(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let mut out = String::new();
    let m = &s["machine"];
    let _ = writeln!(
        out,
        "\nrosterkit bench ({}) on {} x {} (load {} before, {} after)\n",
        f(&s["mode"]),
        f(&m["nproc"]),
        m["cpu_model"].as_str().unwrap_or("?"),
        f(&m["loadavg_before"]),
        f(&m["loadavg_after"]),
    );
    let _ = writeln!(
        out,
        "1. Overhead: Chert remove, SDK vs hand-written reqwest with the same 30 s timeout\n   (medians over neighbouring samples, {} rounds; last column: CPU ratio vs no timeout)",
        f(&d["overhead"]["rounds"])
    );
    let _ = writeln!(
        out,
        "   {:<6} {:>14} {:>14} {:>8} {:>12} {:>12} {:>8} {:>10}",
        "conc.",
        "SDK us CPU/op",
        "base us CPU/op",
        "ratio",
        "SDK ops/s",
        "base ops/s",
        "ratio",
        "CPU vs 0"
    );
    for c in ["c1", "c64"] {
        let o = &d["overhead"][c];
        let _ = writeln!(
            out,
            "   {:<6} {:>14} {:>14} {:>8} {:>12} {:>12} {:>8} {:>10}",
            c,
            f(&o["sdk"]["client_cpu_us_per_op"]),
            f(&o["baseline"]["client_cpu_us_per_op"]),
            f(&o["cpu_ratio"]),
            f(&o["sdk"]["ops_per_s"]),
            f(&o["baseline"]["ops_per_s"]),
            f(&o["throughput_ratio"]),
            f(&o["cpu_ratio_vs_no_timeout"]),
        );
    }
    let sb = &d["sandbox"];
    let _ = writeln!(
        out,
        "   sandbox capacity (trivial client, c64): {} ops/s at {} us sandbox CPU/op; SDK demand at c64: {} ops/s",
        f(&sb["capacity_ops_per_s_c64"]),
        f(&sb["sandbox_cpu_us_per_op"]),
        f(&sb["sdk_demand_ops_per_s_c64"]),
    );
    let _ = writeln!(
        out,
        "\n2. Signing (Chert v1), rosterkit-sign vs hmac + hex by hand"
    );
    for sig in d["signing"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "   {:>5} B body: {:>8} ns vs {:>8} ns, ratio {}; prepared Signer (as ChertClient signs) {} ns, ratio {}",
            f(&sig["body_bytes"]),
            f(&sig["rosterkit_ns"]),
            f(&sig["by_hand_ns"]),
            f(&sig["ratio"]),
            f(&sig["prepared_signer_ns"]),
            f(&sig["prepared_signer_ratio"]),
        );
    }
    let _ = writeln!(out, "\n3. Bulk memory (rosterkit bulk, peak RSS)");
    match s["bulk_note"].as_str() {
        Some(note) => {
            let _ = writeln!(out, "   n/a: {note}");
        }
        None => {
            let _ = writeln!(
                out,
                "   10,000 ops: {} MiB; 100,000 ops: {} MiB; ratio {}",
                f(&s["bulk_rss_10k_mib"]),
                f(&s["bulk_rss_100k_mib"]),
                f(&s["bulk_rss_100k_over_10k"]),
            );
        }
    }
    let fp = &d["footprint"];
    let _ = writeln!(
        out,
        "\n4. Footprint (cargo tree -e normal, unique package names)"
    );
    let _ = writeln!(
        out,
        "   rosterkit-chert + tokio app: {} crates; bare reqwest + serde_json + tokio app: {} crates; extra: {}",
        f(&fp["one_provider_crates"]),
        f(&fp["bare_crates"]),
        f(&fp["extra_crates_one_provider"]),
    );
    let _ = writeln!(
        out,
        "   vs the hand-written client's own deps (+ hmac, sha2, hex: {} crates): extra {}",
        f(&fp["hand_written_crates"]),
        f(&fp["extra_crates_vs_hand_written"]),
    );
    if !fp["one_provider_build_s"].is_null() {
        let _ = writeln!(
            out,
            "   clean release build: {} s vs {} s",
            f(&fp["one_provider_build_s"]),
            f(&fp["bare_build_s"]),
        );
    }
    let _ = writeln!(out, "\nTargets");
    for (key, t) in s["targets"].as_object().into_iter().flatten() {
        let verdict = match t["holds"].as_bool() {
            Some(true) => "holds",
            Some(false) => "MISSED",
            None => "not measured",
        };
        let _ = writeln!(
            out,
            "   {key:<28} {:>10} {:<10} {verdict}",
            f(&t["value"]),
            t["target"].as_str().unwrap_or("")
        );
    }
    let _ = writeln!(
        out,
        "\nwrote {} in {} s",
        path.display(),
        f(&s["elapsed_s"])
    );
    out
}

/// Section 4: a one-provider app (`rosterkit-chert` + tokio) against a bare reqwest +
/// serde_json + tokio app, both throwaway manifests under `target/bench/footprint/` with the
/// workspace's versions and features and a copy of its lock file.
fn footprint(root: &Path, out_dir: &Path, quick: bool) -> Result<Value, String> {
    let manifest: toml::Value = toml::from_str(
        &fs::read_to_string(root.join("Cargo.toml")).map_err(|e| format!("Cargo.toml: {e}"))?,
    )
    .map_err(|e| format!("Cargo.toml: {e}"))?;
    let deps = &manifest["workspace"]["dependencies"];
    let spec = |name: &str, extra_features: &[&str]| -> String {
        let d = &deps[name];
        let version = d
            .get("version")
            .and_then(toml::Value::as_str)
            .or(d.as_str())
            .unwrap_or("*");
        let default = d
            .get("default-features")
            .and_then(toml::Value::as_bool)
            .unwrap_or(true);
        let mut features: Vec<String> = d
            .get("features")
            .and_then(toml::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_str().map(str::to_owned))
            .collect();
        features.extend(extra_features.iter().map(|f| (*f).to_owned()));
        format!(
            "{name} = {{ version = \"{version}\", default-features = {default}, features = {features:?} }}"
        )
    };
    let tokio = spec("tokio", &["rt-multi-thread", "macros"]);
    let chert_path = root.join("crates/rosterkit-chert");
    let apps = [
        (
            "one-provider",
            format!(
                "rosterkit-chert = {{ path = {:?} }}\n{tokio}\n",
                chert_path.to_string_lossy()
            ),
            "fn main() {\n    let _ = rosterkit_chert::ChertClient::builder();\n    let _ = tokio::runtime::Runtime::new();\n}\n",
        ),
        (
            "bare",
            format!(
                "{}\n{}\n{tokio}\n",
                spec("reqwest", &[]),
                spec("serde_json", &[])
            ),
            "fn main() {\n    let _ = reqwest::Client::new();\n    let _ = serde_json::json!({});\n    let _ = tokio::runtime::Runtime::new();\n}\n",
        ),
        (
            "hand-written",
            format!(
                "{}\n{}\n{tokio}\n{}\n{}\n{}\n",
                spec("reqwest", &[]),
                spec("serde_json", &[]),
                spec("hmac", &[]),
                spec("sha2", &[]),
                spec("hex", &[])
            ),
            "fn main() {\n    let _ = reqwest::Client::new();\n    let _ = serde_json::json!({});\n    let _ = tokio::runtime::Runtime::new();\n    let _ = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(b\"k\");\n    let _ = hex::encode(b\"k\");\n}\n",
        ),
    ];
    let mut counts = Vec::new();
    let mut builds = Vec::new();
    for (name, dependencies, main) in &apps {
        let dir = out_dir.join("footprint").join(name);
        fs::create_dir_all(dir.join("src")).map_err(|e| format!("{}: {e}", dir.display()))?;
        let text = format!(
            "[package]\nname = \"bench-{name}-app\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
             # Its own workspace: a throwaway app, not a member of rosterkit's.\n[workspace]\n\n[dependencies]\n{dependencies}"
        );
        fs::write(dir.join("Cargo.toml"), text).map_err(|e| e.to_string())?;
        fs::write(dir.join("src/main.rs"), main).map_err(|e| e.to_string())?;
        fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).map_err(|e| e.to_string())?;
        let manifest_path = dir.join("Cargo.toml").to_string_lossy().into_owned();
        let output = crate::cargo()
            .args([
                "tree",
                "--quiet",
                "-e",
                "normal",
                "--prefix",
                "none",
                "--format",
                "{p}",
                "--manifest-path",
                &manifest_path,
            ])
            .output()
            .map_err(|e| format!("cargo tree: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "cargo tree for the {name} app: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let own = format!("bench-{name}-app");
        let names: BTreeSet<String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
            .filter(|n| *n != own)
            .collect();
        counts.push(names);
        if !quick && *name != "hand-written" {
            let target = dir.join("target");
            let _ = fs::remove_dir_all(&target);
            crate::announce(&format!("==> bench: clean release build of the {name} app"));
            let t0 = Instant::now();
            let status = crate::cargo()
                .args([
                    "build",
                    "--release",
                    "--quiet",
                    "--manifest-path",
                    &manifest_path,
                ])
                .env("CARGO_TARGET_DIR", &target)
                .status()
                .map_err(|e| format!("cargo build: {e}"))?;
            if !status.success() {
                return Err(format!("clean build of the {name} app failed ({status})"));
            }
            builds.push(round(t0.elapsed().as_secs_f64(), 1));
            let _ = fs::remove_dir_all(&target);
        }
    }
    let (Some(one), Some(bare), Some(hand)) = (counts.first(), counts.get(1), counts.get(2)) else {
        return Err("footprint: an app was not counted".to_owned());
    };
    let count = |set: &BTreeSet<String>| i64::try_from(set.len()).unwrap_or(i64::MAX);
    Ok(json!({
        "one_provider_crates": one.len(),
        "bare_crates": bare.len(),
        "hand_written_crates": hand.len(),
        "extra_crates_one_provider": count(one) - count(bare),
        "extra_crates_vs_hand_written": count(one) - count(hand),
        "only_in_one_provider": one.difference(bare).collect::<Vec<_>>(),
        "only_in_bare": bare.difference(one).collect::<Vec<_>>(),
        "only_in_one_provider_vs_hand_written": one.difference(hand).collect::<Vec<_>>(),
        "one_provider_build_s": builds.first(),
        "bare_build_s": builds.get(1),
        "loadavg_after_builds": (!quick).then(loadavg),
    }))
}

fn cargo(root: &Path, args: &[&str]) -> Result<(), String> {
    let status = crate::cargo()
        .args(args)
        .current_dir(root)
        .status()
        .map_err(|e| format!("cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo {} failed ({status})", args.join(" ")))
    }
}

/// `cargo`, without the variables `cargo run` set for this xtask process (`CARGO_MANIFEST_DIR`,
/// `CARGO_PKG_*`, ...): some build scripts (ring's) rerun when `CARGO_MANIFEST_DIR` changes, so
/// inheriting it would rebuild ring, rustls, reqwest and everything above them on every
/// `cargo xtask bench` and again on the next plain `cargo build`.
fn exec(program: &Path, args: &[&str]) -> Result<(), String> {
    let status = Command::new(program)
        .args(args)
        .status()
        .map_err(|e| format!("{}: {e}", program.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} {} failed ({status})",
            program.display(),
            args.join(" ")
        ))
    }
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The 1, 5 and 15-minute load averages.
fn loadavg() -> Value {
    let text = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let parts: Vec<Value> = text
        .split_whitespace()
        .take(3)
        .filter_map(|p| p.parse::<f64>().ok())
        .map(Value::from)
        .collect();
    Value::Array(parts)
}

fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or_else(|| "unknown".to_owned(), |(_, v)| v.trim().to_owned())
}

fn round(x: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (x * scale).round() / scale
}
