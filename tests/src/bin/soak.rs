//! `soak [--quick] [--ops N] [--seed S] [--out PATH] [--verbose]`: the reliability soak of issue #10 (run by
//! `cargo xtask soak`). Prints the summary, writes it as JSON to `PATH` (default
//! `target/soak/summary.json`) and exits non-zero when the run fails its bar.
#![forbid(unsafe_code)]
// A command-line tool: printing is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::{path::PathBuf, process::ExitCode};

use rosterkit_tests::soak::{self, SoakConfig};

const USAGE: &str = "usage: soak [--quick] [--ops N] [--seed S] [--out PATH] [--verbose]";

fn parse(args: &[String]) -> Result<(SoakConfig, PathBuf), String> {
    let mut config = SoakConfig::full();
    let mut ops = None;
    let mut seed = None;
    let mut out = None;
    let mut verbose = false;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--quick" => config = SoakConfig::quick(),
            "--ops" => {
                let v = value("--ops")?;
                ops = Some(v.parse::<usize>().map_err(|e| format!("--ops {v}: {e}"))?);
            }
            "--seed" => {
                let v = value("--seed")?;
                seed = Some(v.parse::<u64>().map_err(|e| format!("--seed {v}: {e}"))?);
            }
            "--out" => out = Some(PathBuf::from(value("--out")?)),
            "--verbose" => verbose = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if let Some(ops) = ops {
        config = config.with_operations(ops);
    }
    if let Some(seed) = seed {
        config = config.with_seed(seed);
    }
    config = config.with_verbose(verbose);
    let out = out.unwrap_or_else(|| {
        std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| PathBuf::from("target"), PathBuf::from)
            .join("soak")
            .join("summary.json")
    });
    Ok((config, out))
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (config, out) = match parse(&args) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let report = match soak::run(&config).await {
        Ok(report) => report,
        Err(message) => {
            eprintln!("soak: {message}");
            return ExitCode::FAILURE;
        }
    };
    print!("{}", report.render());
    let written = serde_json::to_vec_pretty(&report)
        .map_err(|e| e.to_string())
        .and_then(|json| {
            if let Some(dir) = out.parent() {
                std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
            }
            std::fs::write(&out, json).map_err(|e| e.to_string())
        });
    match written {
        Ok(()) => println!("  summary: {}", out.display()),
        Err(e) => {
            eprintln!("soak: cannot write {}: {e}", out.display());
            return ExitCode::FAILURE;
        }
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
