//! Picking a free loopback port.

use std::net::{Ipv4Addr, TcpListener};

use crate::TestkitError;

/// Returns a TCP port on 127.0.0.1 that was free a moment ago.
///
/// The port is found by binding port 0 and dropping the listener, so another process could
/// take it before the service binds it; the services' readiness checks catch that case.
pub fn free_port() -> Result<u16, TestkitError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|source| TestkitError::io("bind a free port on 127.0.0.1", source))?;
    let addr = listener
        .local_addr()
        .map_err(|source| TestkitError::io("read the bound port", source))?;
    Ok(addr.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returned_port_can_be_bound() {
        // Another process on the machine may grab a port between the two binds, so one of a
        // few attempts has to succeed.
        let bound = (0..5).any(|_| {
            let port = free_port().unwrap();
            assert_ne!(port, 0);
            TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
        });
        assert!(bound);
    }
}
