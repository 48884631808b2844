//! What the kernel accounts to a process: CPU time and resident memory, read from `/proc`.
//!
//! CPU per call is always the server process's own `utime + stime` (all its threads, those
//! that exited included) over a window, divided by the calls completed in it; never wall time.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, Result};

/// Clock ticks per second of `/proc/<pid>/stat` (`getconf CLK_TCK`, 100 on Linux).
fn clock_ticks() -> u64 {
    static TCK: OnceLock<u64> = OnceLock::new();
    *TCK.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .filter(|t| *t > 0)
            .unwrap_or(100)
    })
}

/// CPU time (user + system) the process `pid` has used so far, all threads included.
pub fn cpu_time(pid: u32) -> Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("cannot read /proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces and parentheses: fields are counted after the
    // last ')'. There, index 0 is field 3 (state), so utime (14) and stime (15) are 11 and 12.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("malformed /proc/<pid>/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| -> Result<u64> {
        fields
            .get(i)
            .context("short /proc/<pid>/stat")?
            .parse::<u64>()
            .context("malformed /proc/<pid>/stat")
    };
    let ticks = field(11)? + field(12)?;
    let tck = clock_ticks();
    Ok(Duration::from_nanos(
        ticks.saturating_mul(1_000_000_000) / tck,
    ))
}

/// Resident set size of `pid` in bytes (`VmRSS` of `/proc/<pid>/status`).
pub fn rss_bytes(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS in /proc/<pid>/status")?;
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .context("malformed VmRSS")?;
    Ok(kib * 1024)
}

/// On-CPU nanoseconds of each live thread of `pid` (`/proc/<pid>/task/*/schedstat`, first field).
fn thread_times(pid: u32) -> Option<BTreeMap<u32, u64>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let entry = entry.ok()?;
        let Some(tid) = entry
            .file_name()
            .to_str()
            .and_then(|t| t.parse::<u32>().ok())
        else {
            continue;
        };
        // A thread that exits between the listing and the read is simply absent.
        let Ok(text) = std::fs::read_to_string(entry.path().join("schedstat")) else {
            continue;
        };
        let ns = text.split_whitespace().next()?.parse::<u64>().ok()?;
        out.insert(tid, ns);
    }
    Some(out)
}

/// A CPU-time reading of one process, to take the difference of later.
///
/// The difference is taken per thread from the scheduler's nanosecond accounting when every
/// thread seen at the start is still alive at the end; otherwise (a thread exited, and its time
/// went with it) from `utime + stime`, which keeps exited threads' time at clock-tick (10 ms)
/// resolution.
#[derive(Debug, Clone)]
pub struct CpuMark {
    pid: u32,
    ticks: Duration,
    threads: Option<BTreeMap<u32, u64>>,
}

impl CpuMark {
    /// The process's CPU time now.
    pub fn now(pid: u32) -> Result<Self> {
        Ok(Self {
            pid,
            threads: thread_times(pid),
            ticks: cpu_time(pid)?,
        })
    }

    /// CPU time used since this mark.
    pub fn elapsed(&self) -> Result<Duration> {
        let ticks = cpu_time(self.pid)?.saturating_sub(self.ticks);
        let (Some(before), Some(after)) = (&self.threads, thread_times(self.pid)) else {
            return Ok(ticks);
        };
        if before.keys().any(|tid| !after.contains_key(tid)) {
            return Ok(ticks);
        }
        let ns: u64 = after
            .iter()
            .map(|(tid, ns)| ns.saturating_sub(before.get(tid).copied().unwrap_or(0)))
            .sum();
        Ok(Duration::from_nanos(ns))
    }
}

/// The machine: logical cores and the CPU model named in `/proc/cpuinfo`.
pub fn machine() -> (usize, String) {
    let cores = std::thread::available_parallelism()
        .map(std::num::NonZeroUsize::get)
        .unwrap_or(1);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    (cores, model)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process() {
        let pid = std::process::id();
        let mark = CpuMark::now(pid).unwrap();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        assert!(x != 1);
        // Nanosecond accounting sees well under a clock tick of work.
        assert!(mark.elapsed().unwrap() > Duration::ZERO);
        assert!(rss_bytes(pid).unwrap() > 1024 * 1024);
        assert!(machine().0 >= 1);
    }
}
