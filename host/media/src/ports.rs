//! RTP port allocation: even ports from the configured range (RFC 3550 §11), handed out
//! round-robin so a just-freed port is not reused at once (late packets of the old call
//! would land in the new one). A port is held by a [`PortLease`] and freed when it drops.
//!
//! Each lease is a pair: the even RTP port and the odd RTCP port above it (RFC 3550 §11).
//! Binding is synchronous (plain `bind` syscalls); the caller converts the sockets for tokio.
//! A pair where either port is taken by another process is skipped.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};

use crate::error::MediaError;

#[derive(Debug)]
struct PortState {
    next_index: usize,
    in_use: Vec<bool>,
}

#[derive(Debug)]
struct PortAllocatorInner {
    first_even: u16,
    start: u16,
    end: u16,
    state: Mutex<PortState>,
}

impl PortAllocatorInner {
    fn lock(&self) -> std::sync::MutexGuard<'_, PortState> {
        // Only plain flag updates happen under the lock; a poisoned one is still consistent.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Hands out even RTP ports from a range. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PortAllocator {
    inner: Arc<PortAllocatorInner>,
}

/// An allocated port pair; dropping it returns the pair to the allocator.
#[derive(Debug)]
pub struct PortLease {
    inner: Arc<PortAllocatorInner>,
    index: usize,
}

impl PortLease {
    /// The RTP port number (even; RTCP uses the next one).
    pub fn port(&self) -> u16 {
        self.inner.first_even + 2 * self.index as u16
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        self.inner.lock().in_use[self.index] = false;
    }
}

impl PortAllocator {
    /// An allocator for the even ports in `range`.
    pub fn new(range: std::ops::RangeInclusive<u16>) -> Result<Self, MediaError> {
        let (start, end) = (*range.start(), *range.end());
        let first_even = start
            .checked_add(start % 2)
            .filter(|first| *first <= end && *first != 0);
        let Some(first_even) = first_even else {
            return Err(MediaError::InvalidPortRange { start, end });
        };
        let count = usize::from((end - first_even) / 2) + 1;
        let state = Mutex::new(PortState {
            next_index: 0,
            in_use: vec![false; count],
        });
        Ok(Self {
            inner: Arc::new(PortAllocatorInner {
                first_even,
                start,
                end,
                state,
            }),
        })
    }

    /// Bind UDP sockets on `ip` at the next free even port (RTP) and the odd one above it
    /// (RTCP): `(rtp, rtcp, lease)`.
    pub fn bind(&self, ip: IpAddr) -> Result<(UdpSocket, UdpSocket, PortLease), MediaError> {
        let mut state = self.inner.lock();
        let count = state.in_use.len();
        for _ in 0..count {
            let index = state.next_index;
            state.next_index = (index + 1) % count;
            if state.in_use[index] {
                continue;
            }
            let port = self.inner.first_even + 2 * index as u16;
            let Some(rtcp_port) = port.checked_add(1) else {
                continue;
            };
            let bind = |port| {
                let address = SocketAddr::new(ip, port);
                UdpSocket::bind(address).map_err(|source| (address, source))
            };
            match bind(port).and_then(|rtp| Ok((rtp, bind(rtcp_port)?))) {
                Ok((rtp, rtcp)) => {
                    state.in_use[index] = true;
                    let lease = PortLease {
                        inner: Arc::clone(&self.inner),
                        index,
                    };
                    return Ok((rtp, rtcp, lease));
                }
                Err((_, error)) if error.kind() == std::io::ErrorKind::AddrInUse => continue,
                Err((address, source)) => return Err(MediaError::Bind { address, source }),
            }
        }
        Err(MediaError::NoFreePort {
            start: self.inner.start,
            end: self.inner.end,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCALHOST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    /// An even port `base` such that `base`, `base + 1`, … (`count` pairs) were all free just now.
    fn free_even_window(count: u16) -> u16 {
        for _ in 0..100 {
            let probe = UdpSocket::bind((LOCALHOST, 0)).unwrap();
            let base = probe.local_addr().unwrap().port() & !1;
            drop(probe);
            if base.checked_add(2 * count).is_none() {
                continue;
            }
            let held: Result<Vec<_>, _> = (0..2 * count)
                .map(|index| UdpSocket::bind((LOCALHOST, base + index)))
                .collect();
            if held.is_ok() {
                return base;
            }
        }
        panic!("no free window of {count} even ports on 127.0.0.1");
    }

    #[test]
    fn ranges_without_even_ports_are_rejected() {
        assert!(matches!(
            PortAllocator::new(5..=5),
            Err(MediaError::InvalidPortRange { start: 5, end: 5 })
        ));
        assert!(matches!(
            PortAllocator::new(0..=0),
            Err(MediaError::InvalidPortRange { .. })
        ));
        assert!(matches!(
            PortAllocator::new(65_535..=65_535),
            Err(MediaError::InvalidPortRange { .. })
        ));
        assert!(PortAllocator::new(5..=6).is_ok());
    }

    #[test]
    fn hands_out_even_ports_round_robin_and_reuses_freed_ones() {
        let base = free_even_window(2);
        let allocator = PortAllocator::new(base..=base + 3).unwrap();
        let (first_socket, first_rtcp, first) = allocator.bind(LOCALHOST).unwrap();
        let (_second_socket, _second_rtcp, second) = allocator.bind(LOCALHOST).unwrap();
        let mut ports = [first.port(), second.port()];
        ports.sort_unstable();
        assert_eq!(ports, [base, base + 2]);
        assert!(ports.iter().all(|port| port % 2 == 0));
        assert_eq!(first_socket.local_addr().unwrap().port(), first.port());
        assert_eq!(first_rtcp.local_addr().unwrap().port(), first.port() + 1);
        assert!(matches!(
            allocator.bind(LOCALHOST),
            Err(MediaError::NoFreePort { .. })
        ));
        let freed = first.port();
        drop((first_socket, first_rtcp));
        drop(first);
        let (_socket, _rtcp, again) = allocator.bind(LOCALHOST).unwrap();
        assert_eq!(again.port(), freed);
    }

    #[test]
    fn ports_taken_by_someone_else_are_skipped() {
        let base = free_even_window(3);
        let _squatter = UdpSocket::bind((LOCALHOST, base)).unwrap();
        // Only the odd port of the second pair is taken: the whole pair is skipped.
        let _rtcp_squatter = UdpSocket::bind((LOCALHOST, base + 3)).unwrap();
        let allocator = PortAllocator::new(base..=base + 5).unwrap();
        let (_socket, _rtcp, lease) = allocator.bind(LOCALHOST).unwrap();
        assert_eq!(lease.port(), base + 4);
    }
}
