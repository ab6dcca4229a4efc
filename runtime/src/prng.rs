//! `math.random`'s generator: a combined Tausworthe generator (L'Ecuyer's
//! maximally equidistributed LFSR construction) of four 64-bit components with a
//! period of about 2^223, giving 52 random bits per double. Seeding and stepping
//! reproduce luajit 2.1's sequence exactly, so scripts that print random numbers
//! after `math.randomseed(n)` agree with luajit.

/// The generator state: four LFSR components.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prng {
    state: [u64; 4],
}

/// Per component: the degree k of its characteristic polynomial, then its shift
/// parameters q and s.
const PARAMS: [(u32, u32, u32); 4] = [(63, 31, 18), (58, 19, 28), (55, 24, 7), (47, 21, 8)];

impl Default for Prng {
    fn default() -> Prng {
        Prng::new()
    }
}

impl Prng {
    /// The state luajit starts with, the same as after `seed(0.0)`.
    pub fn new() -> Prng {
        let mut p = Prng { state: [0; 4] };
        p.seed(0.0);
        p
    }

    /// `math.randomseed(x)`: derives all four components from `x`, then discards a
    /// few outputs to mix them.
    pub fn seed(&mut self, x: f64) {
        let mut d = x;
        for (slot, &(k, _, _)) in self.state.iter_mut().zip(PARAMS.iter()) {
            // x86 arithmetic passes a NaN through with its sign and payload (quieted);
            // spelled out so the state does not depend on how NaNs propagate here.
            d = if d.is_nan() {
                f64::from_bits(d.to_bits() | (1 << 51))
            } else {
                d * std::f64::consts::PI + std::f64::consts::E
            };
            let mut bits = d.to_bits();
            // A component is degenerate unless one of its top k bits is set.
            let min = 1u64 << (64 - k);
            if bits < min {
                bits += min;
            }
            *slot = bits;
        }
        for _ in 0..10 {
            self.step();
        }
    }

    /// Advances every component one step and returns the XOR of their outputs.
    fn step(&mut self) -> u64 {
        let mut r = 0;
        for (z, &(k, q, s)) in self.state.iter_mut().zip(PARAMS.iter()) {
            let b = ((*z << q) ^ *z) >> (k - s);
            *z = ((*z & (u64::MAX << (64 - k))) << s) ^ b;
            r ^= *z;
        }
        r
    }

    /// The next number, uniform in [0, 1) with 52 random bits.
    pub fn next_f64(&mut self) -> f64 {
        let bits = (self.step() & ((1u64 << 52) - 1)) | 0x3ff0_0000_0000_0000;
        f64::from_bits(bits) - 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::Prng;

    #[test]
    fn matches_luajit_sequences() {
        // Printed by luajit with "%.17g".
        let mut p = Prng::new();
        assert_eq!(p.next_f64(), 0.794206292431241);
        assert_eq!(p.next_f64(), 0.698852465637164);
        assert_eq!(p.next_f64(), 0.5901037417281034);
        p.seed(42.0);
        assert_eq!(p.next_f64(), 0.9560792879182105);
        assert_eq!(p.next_f64(), 0.008955721785925519);
        assert_eq!(p.next_f64(), 0.5386005395148414);
        let cases = [
            (0.0, 0.794206292431241),
            (-1.5, 0.35025644543950785),
            (1e300, 0.36124793752899786),
            // 0/0 on x86 is the NaN with the sign bit set.
            (f64::from_bits(0xfff8_0000_0000_0000), 0.9940182128372446),
            // -(0/0): the NaN without it.
            (f64::from_bits(0x7ff8_0000_0000_0000), 0.9924925569828447),
            (f64::INFINITY, 0.9854121360766812),
            (-0.0, 0.794206292431241),
        ];
        for (seed, want) in cases {
            p.seed(seed);
            assert_eq!(p.next_f64(), want, "seed {seed}");
        }
    }

    #[test]
    fn deterministic_after_seed() {
        let mut a = Prng::new();
        let mut b = Prng::new();
        a.seed(12345.678);
        b.seed(12345.678);
        for _ in 0..1000 {
            assert_eq!(a.next_f64().to_bits(), b.next_f64().to_bits());
        }
        b.seed(12345.679);
        let same = (0..100).filter(|_| a.next_f64() == b.next_f64()).count();
        assert_eq!(same, 0);
        assert_eq!(Prng::new(), {
            let mut c = Prng::new();
            c.seed(0.0);
            c
        });
    }

    #[test]
    fn range_and_distribution() {
        let mut p = Prng::new();
        let n = 200_000;
        let mut buckets = [0u32; 16];
        let mut sum = 0.0;
        let mut low_bits = [0u32; 2];
        let mut prev = p.next_f64();
        let mut lag = 0.0;
        for _ in 0..n {
            let x = p.next_f64();
            assert!((0.0..1.0).contains(&x), "{x}");
            buckets[(x * 16.0) as usize] += 1;
            sum += x;
            lag += (x - 0.5) * (prev - 0.5);
            prev = x;
            // The lowest of the 52 bits must be random too.
            low_bits[((x * 4503599627370496.0) as u64 & 1) as usize] += 1;
        }
        let mean = sum / n as f64;
        assert!((mean - 0.5).abs() < 0.005, "mean {mean}");
        // Chi-square with 15 degrees of freedom: 37.7 is the 0.1% tail.
        let expect = n as f64 / 16.0;
        let chi: f64 = buckets
            .iter()
            .map(|&c| (c as f64 - expect).powi(2) / expect)
            .sum();
        assert!(chi < 37.7, "chi-square {chi} {buckets:?}");
        // Serial correlation of neighbours (variance of a product is 1/144).
        let corr = lag / n as f64 * 12.0;
        assert!(corr.abs() < 0.01, "lag-1 correlation {corr}");
        let ones = low_bits[1] as f64 / n as f64;
        assert!((ones - 0.5).abs() < 0.01, "low bit {ones}");
    }
}
