//! What the load client and the server under test use: CPU time (to tell
//! which of the two was the limit) and the server's resident memory (W4).

use crate::Result;

/// CPU seconds this process has used (user + system).
pub fn own_cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct we pass; all-zero is a valid
    // rusage to start from.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// CPU seconds the processes `pids` have used (user + system), from
/// `/proc/PID/stat`; processes that are gone count 0.
pub fn cpu_seconds(pids: &[u32]) -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    pids.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .map(|stat| {
            // Fields after the command name, which is in parentheses and
            // may hold spaces: utime and stime are the 14th and 15th fields.
            let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let field = |i: usize| {
                fields
                    .get(i)
                    .and_then(|f| f.parse::<f64>().ok())
                    .unwrap_or(0.0)
            };
            (field(11) + field(12)) / ticks
        })
        .sum()
}

/// Resident memory of the processes `pids`, in bytes (`VmRSS`).
pub fn resident_bytes(pids: &[u32]) -> Result<u64> {
    let mut total = 0;
    for pid in pids {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let line = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .ok_or("no VmRSS")?;
        let kib: u64 = line.trim().trim_end_matches("kB").trim().parse()?;
        total += kib * 1024;
    }
    Ok(total)
}

/// CPU used over an interval, as fractions of one core.
pub struct Meter {
    pids: Vec<u32>,
    start: std::time::Instant,
    own: f64,
    server: f64,
}

impl Meter {
    /// Starts measuring this process and the server's `pids`.
    pub fn start(pids: &[u32]) -> Meter {
        Meter {
            pids: pids.to_vec(),
            start: std::time::Instant::now(),
            own: own_cpu_seconds(),
            server: cpu_seconds(pids),
        }
    }

    /// `(client, server)`: the share of one core each used since `start`
    /// (the server's is `None` when no pid was given).
    pub fn shares(&self) -> (f64, Option<f64>) {
        let elapsed = self.start.elapsed().as_secs_f64();
        let client = (own_cpu_seconds() - self.own) / elapsed;
        let server =
            (!self.pids.is_empty()).then(|| (cpu_seconds(&self.pids) - self.server) / elapsed);
        (client, server)
    }
}
