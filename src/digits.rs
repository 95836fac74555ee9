//! Integers as ASCII digits, appended to a byte buffer without `core::fmt`.
//!
//! A message's frames hold its key twice (epoch in hex, sequence number in
//! decimal), its sequence number and its time. Rendering them through
//! `core::fmt`, and copying the frames from one buffer into another, made
//! encoding a short message's frames cost 5,900 instructions; without them
//! it costs 2,880 (callgrind on the C chat server's publish path).

/// Appends `n` in decimal, eight digits at a time without a division
/// inside a group: a message's time has 13 digits, and its frames and key
/// hold four or five numbers (two digits a division and a copy of the
/// length, they were 300 of the 9,500 instructions a POST cost the C
/// server: callgrind).
pub(crate) fn push_decimal(out: &mut Vec<u8>, n: u64) {
    const GROUP: u64 = 100_000_000;
    let len = decimal_len(n);
    // Each group is below 10^8, so it fits in a u32.
    if len <= 8 {
        return push_group(out, eight_digits(n as u32), 8 - len);
    }
    let rest = n / GROUP;
    if len <= 16 {
        push_group(out, eight_digits(rest as u32), 16 - len);
    } else {
        push_group(out, eight_digits((rest / GROUP) as u32), 24 - len);
        push_group(out, eight_digits((rest % GROUP) as u32), 0);
    }
    push_group(out, eight_digits((n % GROUP) as u32), 0);
}

/// Appends eight ASCII digits, the first in the lowest byte, without the
/// first `skip` (below 8). It copies all eight and truncates: a copy of a
/// fixed size is a store, where a copy of a length is a call to `memcpy`.
fn push_group(out: &mut Vec<u8>, digits: u64, skip: usize) {
    let len = out.len();
    out.extend_from_slice(&(digits >> (8 * skip)).to_le_bytes());
    out.truncate(len + 8 - skip);
}

/// The eight decimal digits of `n` (below 10^8) in ASCII, leading zeros
/// included, the first in the lowest byte. Computed in lanes of one word:
/// two of four digits, then four of two, then eight of one, each split by
/// a multiply and a shift that divide exactly in their range (by 100 below
/// 10,000; by 10 below 100).
fn eight_digits(n: u32) -> u64 {
    let n = u64::from(n);
    let fours = (n / 10_000) | ((n % 10_000) << 32);
    let hundreds = ((fours * 10_486) >> 20) & 0x0000_007F_0000_007F;
    let twos = hundreds | ((fours - hundreds * 100) << 16);
    let tens = ((twos * 103) >> 10) & 0x000F_000F_000F_000F;
    let ones = tens | ((twos - tens * 10) << 8);
    ones + 0x3030_3030_3030_3030
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

/// Appends `n` in lowercase hexadecimal, without leading zeros, eight
/// digits at a time with no table: a key's epoch has twelve, and a digit a
/// step was 114 instructions a key.
pub(crate) fn push_hex(out: &mut Vec<u8>, n: u64) {
    let len = hex_len(n);
    if len <= 8 {
        return push_group(out, eight_hex_digits(n as u32), 8 - len);
    }
    push_group(out, eight_hex_digits((n >> 32) as u32), 16 - len);
    push_group(out, eight_hex_digits(n as u32), 0);
}

/// The eight hexadecimal digits of `n` in ASCII, leading zeros included,
/// the first in the lowest byte.
fn eight_hex_digits(n: u32) -> u64 {
    const BYTES: u64 = 0x0101_0101_0101_0101;
    // Spread the nibbles, one to a byte, the most significant highest.
    let n = u64::from(n);
    let n = (n | (n << 16)) & 0x0000_FFFF_0000_FFFF;
    let n = (n | (n << 8)) & 0x00FF_00FF_00FF_00FF;
    let nibbles = (n | (n << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    // A nibble of 10 or more carries into bit 4 once 6 is added.
    let letters = ((nibbles + 6 * BYTES) >> 4) & BYTES;
    (nibbles + u64::from(b'0') * BYTES + letters * u64::from(b'a' - b'0' - 10)).swap_bytes()
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

    /// Every value of each four-digit lane, in both lanes.
    #[test]
    fn eight_digits_are_exact_in_every_lane() {
        for a in 0..10_000u32 {
            for n in [a * 10_000 + (9_999 - a), a * 10_001 % 100_000_000] {
                let digits = eight_digits(n).to_le_bytes();
                assert_eq!(digits, *format!("{n:08}").as_bytes(), "{n}");
            }
        }
    }

    proptest! {
        #[test]
        fn any_number_renders_as_core_fmt_does(n in any::<u64>()) {
            prop_assert_eq!(both(n), (format!("x{n}"), format!("{n:x}")));
            prop_assert_eq!((decimal_len(n), hex_len(n)), lengths(n));
        }

        /// Numbers of every length, not only the twenty-digit ones most
        /// `u64`s are.
        #[test]
        fn numbers_of_any_length_render_as_core_fmt_does(n in any::<u64>(), bits in 0..64u32) {
            let n = n >> bits;
            prop_assert_eq!(both(n), (format!("x{n}"), format!("{n:x}")));
        }
    }
}
