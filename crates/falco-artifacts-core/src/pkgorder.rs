//! The version-fragment comparison dpkg uses, which our version ordering follows.

use std::cmp::Ordering;

/// dpkg's weight of one character: `~` before everything (even the end), then the end and
/// digits, then letters, then everything else.
fn weight(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

/// Compares two version fragments exactly as dpkg's `verrevcmp` does: alternating runs of
/// non-digits (by [`weight`]) and digits (numerically).
pub(crate) fn dpkg_fragment_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let (wa, wb) = (weight(a.get(i).copied()), weight(b.get(j).copied()));
            if wa != wb {
                return wa.cmp(&wb);
            }
            i += 1;
            j += 1;
        }
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while i < a.len() && a[i].is_ascii_digit() && j < b.len() && b[j].is_ascii_digit() {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if i < a.len() && a[i].is_ascii_digit() {
            return Ordering::Greater;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_dpkg_rules() {
        assert_eq!(dpkg_fragment_cmp("rc10", "rc9"), Ordering::Greater);
        assert_eq!(dpkg_fragment_cmp("1.0~rc1", "1.0"), Ordering::Less);
        assert_eq!(dpkg_fragment_cmp("alpha", "beta"), Ordering::Less);
        assert_eq!(dpkg_fragment_cmp("1.0", "1.0"), Ordering::Equal);
        assert_eq!(dpkg_fragment_cmp("1.0a", "1.0+"), Ordering::Less);
        assert_eq!(dpkg_fragment_cmp("007", "7"), Ordering::Equal);
    }
}
