//! What the kernel says about the server under load: resident memory and CPU time, read from
//! `/proc/<pid>/status` and `/proc/<pid>/stat`. Linux only, like the comparison itself.

use anyhow::{Context, bail};
use serde::Serialize;

/// Resident memory of a process, in KiB.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Memory {
    /// All resident pages (`VmRSS`): anonymous, file-backed and shared.
    pub vm_rss_kib: u64,
    /// Anonymous resident pages (`RssAnon`): the heap and stacks, what connections cost.
    pub rss_anon_kib: u64,
}

pub fn memory(pid: u32) -> anyhow::Result<Memory> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .with_context(|| format!("{name} missing from {path}"))?;
        let kib = line[name.len()..]
            .split_whitespace()
            .next()
            .with_context(|| format!("{name} has no value"))?;
        Ok(kib.parse()?)
    };
    Ok(Memory {
        vm_rss_kib: field("VmRSS:")?,
        rss_anon_kib: field("RssAnon:")?,
    })
}

/// User plus system CPU time the process has used, in seconds.
pub fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // The command name (field 2) may hold spaces and parentheses; fields after its closing
    // parenthesis start at field 3, so utime (14) and stime (15) are the 12th and 13th.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        bail!("{path} has no command field");
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if fields.len() < 13 {
        bail!("{path} is too short");
    }
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    // /proc reports in USER_HZ, which is 100 on every Linux architecture.
    Ok(ticks as f64 / 100.0)
}
