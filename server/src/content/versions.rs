//! The version of the public content that what is kept for visitors is checked against:
//! the stored public pages (`http::page_cache`) and the home page's panels
//! ([`super::panels`]). Two parts: this instance's own count, raised by its changes (they
//! show at once), and the shared count in the database (`counters.content_version`), which
//! every instance raises with its changes and reads again at most once a
//! [`VERSION_CHECK`] (another instance's changes show within about a second).

use std::{
    sync::atomic::{AtomicI64, AtomicU64, Ordering},
    time::{Duration, Instant},
};

/// How often an instance reads the shared content version.
pub const VERSION_CHECK: Duration = Duration::from_secs(1);

/// The content versions something was made at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Versions {
    local: u64,
    shared: i64,
}

/// This instance's view of the content version.
pub struct ContentVersions {
    local: AtomicU64,
    /// The database's content version as last read, and when (ms since `epoch`).
    shared: AtomicI64,
    checked_ms: AtomicI64,
    epoch: Instant,
}

impl Default for ContentVersions {
    fn default() -> Self {
        Self {
            local: AtomicU64::new(0),
            shared: AtomicI64::new(i64::MIN),
            checked_ms: AtomicI64::new(i64::MIN / 2),
            epoch: Instant::now(),
        }
    }
}

impl ContentVersions {
    /// The versions now (read before making something, so a change while it is made is
    /// not hidden by what is kept after it).
    pub fn current(&self) -> Versions {
        Versions {
            local: self.local.load(Ordering::Acquire),
            shared: self.shared.load(Ordering::Acquire),
        }
    }

    /// This instance changed the content.
    pub fn bump_local(&self) {
        self.local.fetch_add(1, Ordering::AcqRel);
    }

    /// Whether the shared version is due to be read again; claims the read (one request
    /// of many does it).
    pub fn check_due(&self) -> bool {
        let now = self.epoch.elapsed().as_millis() as i64;
        let last = self.checked_ms.load(Ordering::Relaxed);
        now - last >= VERSION_CHECK.as_millis() as i64
            && self
                .checked_ms
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
    }

    /// The shared version, just read.
    pub fn set_shared(&self, v: i64) {
        self.shared.store(v, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn either_part_makes_a_new_version_and_reads_are_claimed_once_a_second() {
        let v = ContentVersions::default();
        let first = v.current();
        assert_eq!(v.current(), first);
        v.bump_local();
        let second = v.current();
        assert_ne!(second, first);
        v.set_shared(7);
        assert_ne!(v.current(), second);
        assert!(v.check_due(), "the first read is due at once");
        assert!(!v.check_due(), "and not again within a second");
    }
}
