//! The sandbox as a child process (`rosterkit-bench serve`), driven over its stdin/stdout.

use std::{
    io::{BufRead, BufReader, Write},
    process::{Child, ChildStdin, ChildStdout, Command, Stdio},
    time::Duration,
};

use rosterkit_sandbox::SandboxInfo;

use crate::cpu::pid_cpu;

/// A running `rosterkit-bench serve` child. Dropping it stops the child.
#[derive(Debug)]
pub struct SandboxChild {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    info: SandboxInfo,
}

impl SandboxChild {
    /// Starts this very executable as `serve` on a free loopback port and reads its address.
    ///
    /// # Errors
    /// When the child cannot be started or does not print its sandbox info.
    pub fn spawn() -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let mut child = Command::new(exe)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start the sandbox child: {e}"))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            return Err("the sandbox child has no pipes".to_owned());
        };
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .map_err(|e| format!("sandbox child: {e}"))?;
        let info: SandboxInfo = serde_json::from_str(&line)
            .map_err(|e| format!("sandbox child printed {line:?}: {e}"))?;
        Ok(Self {
            child,
            stdin,
            stdout,
            info,
        })
    }

    /// Where the emulators are, and the Chert credentials.
    #[must_use]
    pub fn info(&self) -> &SandboxInfo {
        &self.info
    }

    /// The child's process id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time the sandbox process has used so far.
    #[must_use]
    pub fn cpu(&self) -> Option<Duration> {
        pid_cpu(self.child.id())
    }

    /// Creates (or replaces) the groups `<prefix>0..<prefix><count-1>`, each with `members`
    /// members (see [`crate::serve::member`]).
    ///
    /// # Errors
    /// When the child does not answer `ok`.
    pub fn seed(&mut self, prefix: &str, count: usize, members: usize) -> Result<(), String> {
        writeln!(self.stdin, "seed {prefix} {count} {members}")
            .and_then(|()| self.stdin.flush())
            .map_err(|e| format!("sandbox child: {e}"))?;
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .map_err(|e| format!("sandbox child: {e}"))?;
        if line.trim() == "ok" {
            Ok(())
        } else {
            Err(format!("sandbox child answered {line:?}"))
        }
    }
}

impl Drop for SandboxChild {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
