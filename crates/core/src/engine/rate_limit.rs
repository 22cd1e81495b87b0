//! The per-client-IP limit on credential endpoints.

use super::*;

/// The per-IP limiter's key: the address itself for IPv4, the /64 network for IPv6. One IPv6
/// subscriber or host usually holds a whole /64 and can pick any address in it, so keying by
/// address would give them 2^64 buckets.
pub fn ip_limit_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        v4 => v4,
    }
}

pub(super) fn prune_ip_limiter(limiter: &DefaultKeyedRateLimiter<IpAddr>) -> usize {
    limiter.retain_recent();
    limiter.shrink_to_fit();
    limiter.len()
}

impl Engine {
    /// The per-client-IP limit on credential endpoints. IPv6 clients are limited per /64 (see
    /// [`ip_limit_key`]).
    pub fn check_ip_rate(&self, ip: Option<IpAddr>) -> CoreResult<()> {
        let Some(ip) = ip else { return Ok(()) };
        match self.ip_limiter.check_key(&ip_limit_key(ip)) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(governor::clock::Clock::now(
                    &governor::clock::DefaultClock::default(),
                ));
                Err(CoreError::RateLimited {
                    retry_after: wait.max(Duration::from_secs(1)),
                })
            }
        }
    }

    /// Forgets the per-IP limiter entries whose bucket has refilled (what the background task
    /// does every minute); returns how many entries remain.
    pub fn prune_ip_limits(&self) -> usize {
        prune_ip_limiter(&self.ip_limiter)
    }
}
