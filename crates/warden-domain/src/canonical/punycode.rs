//! RFC 3492 punycode encoding (the encoder only: the index never needs to decode).

const BASE: u32 = 36;
const TMIN: u32 = 1;
const TMAX: u32 = 26;
const SKEW: u32 = 38;
const DAMP: u32 = 700;
const INITIAL_BIAS: u32 = 72;
const INITIAL_N: u32 = 128;

fn adapt(delta: u32, num_points: u32, first_time: bool) -> u32 {
    let mut delta = if first_time { delta / DAMP } else { delta / 2 };
    delta += delta / num_points;
    let mut k = 0;
    while delta > ((BASE - TMIN) * TMAX) / 2 {
        delta /= BASE - TMIN;
        k += BASE;
    }
    k + (BASE - TMIN + 1) * delta / (delta + SKEW)
}

fn digit(d: u32) -> char {
    // `d` is always < 36 here; the fallback is unreachable but keeps this total.
    let byte = match u8::try_from(d) {
        Ok(d @ 0..=25) => b'a' + d,
        Ok(d @ 26..=35) => b'0' + (d - 26),
        _ => b'?',
    };
    char::from(byte)
}

/// Appends the punycode encoding of `input` (without the `xn--` prefix) to `out`.
/// Returns `None` on arithmetic overflow, which only absurdly long labels can cause.
pub(crate) fn encode(input: &[char], out: &mut String) -> Option<()> {
    let total = u32::try_from(input.len()).ok()?;
    let mut basic = 0u32;
    for &c in input.iter().filter(|c| c.is_ascii()) {
        out.push(c);
        basic += 1;
    }
    if basic > 0 {
        out.push('-');
    }
    let mut n = INITIAL_N;
    let mut delta = 0u32;
    let mut bias = INITIAL_BIAS;
    let mut handled = basic;
    while handled < total {
        let m = input
            .iter()
            .map(|&c| u32::from(c))
            .filter(|&c| c >= n)
            .min()?;
        delta = delta.checked_add((m - n).checked_mul(handled + 1)?)?;
        n = m;
        for &c in input {
            let c = u32::from(c);
            if c < n {
                delta = delta.checked_add(1)?;
            }
            if c == n {
                let mut q = delta;
                let mut k = BASE;
                loop {
                    let t = if k <= bias {
                        TMIN
                    } else if k >= bias + TMAX {
                        TMAX
                    } else {
                        k - bias
                    };
                    if q < t {
                        break;
                    }
                    out.push(digit(t + (q - t) % (BASE - t)));
                    q = (q - t) / (BASE - t);
                    k += BASE;
                }
                out.push(digit(q));
                bias = adapt(delta, handled + 1, handled == basic);
                delta = 0;
                handled += 1;
            }
        }
        delta = delta.checked_add(1)?;
        n = n.checked_add(1)?;
    }
    Some(())
}
