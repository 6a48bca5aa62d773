//! Signalling: the wire contract ([`protocol`]) and the per-connection gateway ([`gateway`]),
//! which authenticates the first frame, authorises every later one by role and session, and
//! routes it to the desk or the session.

pub mod gateway;
pub mod protocol;
