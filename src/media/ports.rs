//! The pool of UDP ports media peers bind to (the configured `ice_udp_ports` range). A lease
//! returns its port when dropped.

use crate::config::PortRange;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

#[derive(Debug)]
pub struct PortPool {
    free: Mutex<BTreeSet<u16>>,
    /// Next port to try, so a just-released port (whose socket may linger) is reused last.
    cursor: Mutex<u16>,
    range: PortRange,
}

#[derive(Debug)]
pub struct PortLease {
    port: u16,
    pool: Arc<PortPool>,
}

impl PortLease {
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        self.pool
            .free
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(self.port);
    }
}

impl PortPool {
    pub fn new(range: PortRange) -> Arc<Self> {
        Arc::new(Self {
            free: Mutex::new((range.first..=range.last).collect()),
            cursor: Mutex::new(range.first),
            range,
        })
    }

    /// Lease a port that is free in the pool and bindable right now, round-robin.
    pub fn lease(self: &Arc<Self>) -> Option<PortLease> {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        let mut cursor = self.cursor.lock().unwrap_or_else(|p| p.into_inner());
        let ordered: Vec<u16> = free
            .range(*cursor..)
            .chain(free.range(..*cursor))
            .copied()
            .collect();
        for port in ordered {
            // Skip ports another process holds.
            if std::net::UdpSocket::bind(("0.0.0.0", port)).is_err() {
                continue;
            }
            free.remove(&port);
            *cursor = if port >= self.range.last {
                self.range.first
            } else {
                port + 1
            };
            return Some(PortLease {
                port,
                pool: Arc::clone(self),
            });
        }
        None
    }

    pub fn available(&self) -> usize {
        self.free.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_are_unique_and_return_on_drop() {
        let pool = PortPool::new(PortRange {
            first: 47100,
            last: 47102,
        });
        let a = pool.lease().unwrap();
        let b = pool.lease().unwrap();
        assert_ne!(a.port(), b.port());
        assert_eq!(pool.available(), 1);
        drop(a);
        assert_eq!(pool.available(), 2);
    }

    #[test]
    fn exhaustion_gives_none() {
        let pool = PortPool::new(PortRange {
            first: 47110,
            last: 47110,
        });
        let _a = pool.lease().unwrap();
        assert!(pool.lease().is_none());
    }
}
