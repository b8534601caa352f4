//! CPU time of this process (nanosecond clock) and of another process (`/proc/<pid>/stat`).

use std::time::Duration;

/// CPU time (user + system, every thread, exited ones included) this process has used so far,
/// from `clock_gettime(CLOCK_PROCESS_CPUTIME_ID)`: nanosecond resolution, unlike the 10 ms ticks
/// of `/proc/self/stat`.
#[must_use]
pub fn process_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// CPU time (user + system) another process has used so far, from `/proc/<pid>/stat` (clock-tick
/// resolution, 10 ms), or `None` when it cannot be read.
#[must_use]
pub fn pid_cpu(pid: u32) -> Option<Duration> {
    pid_user_system(pid).map(|(user, system)| user + system)
}

/// User and system CPU time another process has used so far, from `/proc/<pid>/stat`.
#[must_use]
pub fn pid_user_system(pid: u32) -> Option<(Duration, Duration)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: the fields start after the last `)`.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = rest.split_whitespace();
    // After the name: state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
    // cmajflt utime(14) stime(15).
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // USER_HZ: 100 on every architecture this runs on (`getconf CLK_TCK`). Not read from the
    // auxiliary vector, which valgrind's tools cannot give.
    let hz = 100;
    let time = |ticks: u64| {
        Duration::from_secs(ticks / hz) + Duration::from_nanos((ticks % hz) * 1_000_000_000 / hz)
    };
    Some((time(utime), time(stime)))
}

/// Peak resident set size (`VmHWM`) of a running process in KiB, or `None` when it cannot be
/// read (the process is gone).
#[must_use]
pub fn pid_peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_cpu_advances_with_work() {
        let before = process_cpu();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        assert!(process_cpu() > before, "{x}");
    }

    #[test]
    fn own_stat_and_status_read() {
        let pid = std::process::id();
        assert!(pid_cpu(pid).is_some());
        assert!(pid_peak_rss_kib(pid).is_some_and(|kib| kib > 0));
        assert!(pid_cpu(u32::MAX).is_none());
    }
}
