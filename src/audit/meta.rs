//! Where a report comes from: the tool and its version, the git commit when known, the date
//! and the host.

use std::path::Path;
use std::process::Command;
use std::string::{String, ToString};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The report's provenance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// The tool's name: the crate name, `pgtable`.
    pub tool: String,
    /// The crate version.
    pub version: String,
    /// The commit of the source tree the tool was built from, when it is a git checkout.
    pub git_commit: Option<String>,
    /// Whether that checkout had uncommitted changes, when known.
    pub git_dirty: Option<bool>,
    /// When the audit ran: UTC, `YYYY-MM-DDTHH:MM:SSZ` (none in a report made without
    /// timings).
    pub date: Option<String>,
    /// The machine.
    pub host: Host,
}

/// The machine an audit ran on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    /// Host name, when readable.
    pub hostname: Option<String>,
    /// `std::env::consts::OS`.
    pub os: String,
    /// `std::env::consts::ARCH` (the build target's architecture).
    pub arch: String,
    /// Available parallelism.
    pub cpus: usize,
}

/// Collects the provenance of a report made now.
pub fn collect() -> Meta {
    let (git_commit, git_dirty) = git(Path::new(env!("CARGO_MANIFEST_DIR")));
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Meta {
        tool: env!("CARGO_PKG_NAME").into(),
        version: env!("CARGO_PKG_VERSION").into(),
        git_commit,
        git_dirty,
        date: Some(utc_date(secs)),
        host: Host {
            hostname: hostname(),
            os: std::env::consts::OS.into(),
            arch: std::env::consts::ARCH.into(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        },
    }
}

/// Returns the commit and dirtiness of the git checkout at `dir`, if it is the top of one
/// (a crate unpacked inside some other repository is not that repository's commit).
fn git(dir: &Path) -> (Option<String>, Option<bool>) {
    let run = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_string())
    };
    let Some(top) = run(&["rev-parse", "--show-toplevel"]) else {
        return (None, None);
    };
    let same = match (Path::new(&top).canonicalize(), dir.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !same {
        return (None, None);
    }
    let commit = run(&["rev-parse", "HEAD"]);
    let dirty = commit
        .as_ref()
        .and_then(|_| run(&["status", "--porcelain", "--untracked-files=no"]))
        .map(|s| !s.is_empty());
    (commit, dirty)
}

fn hostname() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .filter(|s| !s.is_empty())
}

/// Formats seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian).
pub fn utc_date(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Days to civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    std::format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // Known instants: the epoch, a leap day, the end of a century year.
    #[test]
    fn dates_are_utc_iso_8601() {
        assert_eq!(utc_date(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_date(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_date(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(utc_date(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn provenance_names_the_tool_and_host() {
        let m = collect();
        assert_eq!(m.tool, "pgtable");
        assert_eq!(m.version, env!("CARGO_PKG_VERSION"));
        assert!(m.host.cpus >= 1);
        assert_eq!(m.date.map(|d| d.len()), Some(20));
        if let Some(c) = &m.git_commit {
            assert!(
                c.len() >= 40 && c.chars().all(|c| c.is_ascii_hexdigit()),
                "{c}"
            );
        }
    }
}
