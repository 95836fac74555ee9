//! Integers as ASCII digits, appended to a byte buffer without `core::fmt`.
//!
//! A message's frames hold its key twice (epoch in hex, sequence number in
//! decimal), its sequence number and its time. Rendering them through
//! `core::fmt`, and copying the frames from one buffer into another, made
//! encoding a short message's frames cost 5,900 instructions; without them
//! it costs 2,880 (callgrind on the C chat server's publish path).

/// Every two-digit number, `00` to `99`, one after the other.
const DIGIT_PAIRS: &[u8; 200] = &{
    let mut pairs = [0u8; 200];
    let mut n = 0;
    while n < 100 {
        pairs[2 * n] = b'0' + (n / 10) as u8;
        pairs[2 * n + 1] = b'0' + (n % 10) as u8;
        n += 1;
    }
    pairs
};

/// Appends `n` in decimal, two digits a division: a message's time has 13
/// digits, and its frames and key hold four or five numbers.
pub(crate) fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    while n >= 100 {
        let pair = 2 * (n % 100) as usize;
        n /= 100;
        start -= 2;
        digits[start..start + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = 2 * n as usize;
        start -= 2;
        digits[start..start + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    } else {
        start -= 1;
        digits[start] = b'0' + n as u8;
    }
    out.extend_from_slice(&digits[start..]);
}

/// How many digits [`push_decimal`] writes for `n`.
pub(crate) fn decimal_len(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |log| log as usize + 1)
}

/// How many digits [`push_hex`] writes for `n`.
pub(crate) fn hex_len(n: u64) -> usize {
    n.checked_ilog2().map_or(1, |log| log as usize / 4 + 1)
}

/// The digits of lowercase hexadecimal, by value.
pub(crate) const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Appends `n` in lowercase hexadecimal, without leading zeros.
pub(crate) fn push_hex(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 16];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = HEX_DIGITS[(n & 0xF) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn both(n: u64) -> (String, String) {
        let (mut decimal, mut hex) = (b"x".to_vec(), Vec::new());
        push_decimal(&mut decimal, n);
        push_hex(&mut hex, n);
        (
            String::from_utf8(decimal).unwrap(),
            String::from_utf8(hex).unwrap(),
        )
    }

    /// The lengths of what `push_decimal` and `push_hex` write.
    fn lengths(n: u64) -> (usize, usize) {
        let (decimal, hex) = both(n);
        (decimal.len() - 1, hex.len())
    }

    #[test]
    fn edges_render_as_core_fmt_does() {
        let mut edges = vec![u64::MAX, u64::MAX - 1];
        edges.extend(0..1_000); // every pair of digits, with and without a lone first digit
        edges.extend((1..20).flat_map(|e| [10u64.pow(e) - 1, 10u64.pow(e)]));
        edges.extend((1..16).flat_map(|e| [(1u64 << (4 * e)) - 1, 1u64 << (4 * e)]));
        for n in edges {
            assert_eq!(both(n), (format!("x{n}"), format!("{n:x}")), "{n}");
            assert_eq!((decimal_len(n), hex_len(n)), lengths(n), "{n}");
        }
    }

    proptest! {
        #[test]
        fn any_number_renders_as_core_fmt_does(n in any::<u64>()) {
            prop_assert_eq!(both(n), (format!("x{n}"), format!("{n:x}")));
            prop_assert_eq!((decimal_len(n), hex_len(n)), lengths(n));
        }
    }
}
