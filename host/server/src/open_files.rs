//! The open-file limit: every call holds an RTP and an RTCP socket (and a TCP or
//! TLS connection may come with it), so a host configured for 1,000 calls needs
//! more descriptors than the usual soft limit of 1,024. At start the soft limit is
//! raised to the hard limit, and a hard limit too small for `limits.max_calls` is
//! logged as a warning naming the number needed.

use nix::sys::resource::{Resource, getrlimit, setrlimit};
use tracing::{info, warn};

/// Descriptors one call may hold: RTP + RTCP sockets and a connection.
const PER_CALL: u64 = 3;
/// Listeners, the plugin watcher, log files, the admin API, cached files.
const BASE: u64 = 256;

/// Descriptors a host allowing `max_calls` concurrent calls may need.
pub fn needed(max_calls: u32) -> u64 {
    BASE + PER_CALL * u64::from(max_calls)
}

/// Raises the soft open-file limit to the hard limit; warns when even that is too
/// small for `max_calls`. Errors reading or setting the limit are logged, not fatal.
pub fn raise(max_calls: u32) {
    let (soft, hard) = match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok(limits) => limits,
        Err(error) => {
            warn!(%error, "cannot read the open-file limit");
            return;
        }
    };
    let mut current = soft;
    if soft < hard {
        match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => {
                info!(from = soft, to = hard, "open-file limit raised");
                current = hard;
            }
            Err(error) => warn!(%error, soft, hard, "cannot raise the open-file limit"),
        }
    }
    let wanted = needed(max_calls);
    if current < wanted {
        warn!(
            limit = current,
            needed = wanted,
            max_calls,
            "the open-file limit is too small for limits.max_calls: calls beyond it will fail \
             to get media sockets (raise `ulimit -n` or LimitNOFILE)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thousand_calls_need_more_than_the_usual_soft_limit() {
        assert!(needed(1000) > 1024);
        assert_eq!(needed(0), BASE);
    }

    #[test]
    fn raising_leaves_the_soft_limit_at_the_hard_limit() {
        raise(10);
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
        assert_eq!(soft, hard);
    }
}
