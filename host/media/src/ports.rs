//! RTP port allocation: even ports from the configured range (RFC 3550 §11), handed out
//! round-robin so a just-freed port is not reused at once (late packets of the old call
//! would land in the new one). A port is held by a [`PortLease`] and freed when it drops.
//!
//! Binding is synchronous (a plain `bind` syscall); the caller converts the socket for tokio.
//! Ports taken by other processes are skipped. The odd RTCP port is left alone (no RTCP yet).

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

/// An allocated port; dropping it returns the port to the allocator.
#[derive(Debug)]
pub struct PortLease {
    inner: Arc<PortAllocatorInner>,
    index: usize,
}

impl PortLease {
    /// The port number.
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

    /// Bind a UDP socket on `ip` at the next free even port.
    pub fn bind(&self, ip: IpAddr) -> Result<(UdpSocket, PortLease), MediaError> {
        let mut state = self.inner.lock();
        let count = state.in_use.len();
        for _ in 0..count {
            let index = state.next_index;
            state.next_index = (index + 1) % count;
            if state.in_use[index] {
                continue;
            }
            let address = SocketAddr::new(ip, self.inner.first_even + 2 * index as u16);
            match UdpSocket::bind(address) {
                Ok(socket) => {
                    state.in_use[index] = true;
                    return Ok((
                        socket,
                        PortLease {
                            inner: Arc::clone(&self.inner),
                            index,
                        },
                    ));
                }
                Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => continue,
                Err(source) => return Err(MediaError::Bind { address, source }),
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

    /// An even port `base` such that `base`, `base + 2`, … (`count` ports) were all free just now.
    fn free_even_window(count: u16) -> u16 {
        for _ in 0..100 {
            let probe = UdpSocket::bind((LOCALHOST, 0)).unwrap();
            let base = probe.local_addr().unwrap().port() & !1;
            drop(probe);
            if base.checked_add(2 * count).is_none() {
                continue;
            }
            let held: Result<Vec<_>, _> = (0..count)
                .map(|index| UdpSocket::bind((LOCALHOST, base + 2 * index)))
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
        let (first_socket, first) = allocator.bind(LOCALHOST).unwrap();
        let (_second_socket, second) = allocator.bind(LOCALHOST).unwrap();
        let mut ports = [first.port(), second.port()];
        ports.sort_unstable();
        assert_eq!(ports, [base, base + 2]);
        assert!(ports.iter().all(|port| port % 2 == 0));
        assert_eq!(first_socket.local_addr().unwrap().port(), first.port());
        assert!(matches!(
            allocator.bind(LOCALHOST),
            Err(MediaError::NoFreePort { .. })
        ));
        let freed = first.port();
        drop(first_socket);
        drop(first);
        let (_socket, again) = allocator.bind(LOCALHOST).unwrap();
        assert_eq!(again.port(), freed);
    }

    #[test]
    fn ports_taken_by_someone_else_are_skipped() {
        let base = free_even_window(2);
        let _squatter = UdpSocket::bind((LOCALHOST, base)).unwrap();
        let allocator = PortAllocator::new(base..=base + 2).unwrap();
        let (_socket, lease) = allocator.bind(LOCALHOST).unwrap();
        assert_eq!(lease.port(), base + 2);
    }
}
