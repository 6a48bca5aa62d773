//! Personal data in logs and records. [`Pii`] masks what it wraps in `Debug` and `Display`;
//! [`mask_document_number`] keeps only enough of an identity number for a human to recognise it;
//! [`mask_ip`] drops the host part of an address.

use std::fmt;
use std::net::IpAddr;

/// A value that must never reach a log in clear.
#[derive(Clone, PartialEq, Eq)]
pub struct Pii<T>(pub T);

impl<T> fmt::Debug for Pii<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pii(***)")
    }
}

impl<T> fmt::Display for Pii<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Keep the first four and last four characters of a document number (fewer for short numbers)
/// and replace the rest with `*`: `11010519491231002X` → `1101**********002X`.
pub fn mask_document_number(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    let keep = match chars.len() {
        0..=4 => 0,
        5..=8 => 1,
        9..=12 => 2,
        _ => 4,
    };
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < keep || i >= chars.len() - keep {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

/// An address with its host part removed: `/24` for IPv4, `/48` for IPv6.
pub fn mask_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.x")
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::x", s[0], s[1], s[2])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_only_the_edges() {
        assert_eq!(
            mask_document_number("11010519491231002X"),
            "1101**********002X"
        );
        assert_eq!(mask_document_number("L898902C3"), "L8*****C3");
        assert_eq!(mask_document_number("1234"), "****");
        assert_eq!(mask_ip("203.0.113.77".parse().unwrap()), "203.0.113.x");
        assert!(!mask_ip("2001:db8:1:2::7".parse().unwrap()).contains('7'));
        assert_eq!(format!("{:?} {}", Pii("secret"), Pii(42)), "Pii(***) ***");
    }
}
