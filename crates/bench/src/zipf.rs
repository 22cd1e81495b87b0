//! Zipf-distributed key draws (YCSB's "zipfian" request distribution, θ = 0.99): a few keys
//! are used often and most rarely, as API keys are in practice (a busy CI system, a long tail
//! of scripts). The generator is Gray et al.'s ("Quickly generating billion-record synthetic
//! databases", SIGMOD 1994), as YCSB implements it: O(n) set-up, O(1) per draw.

use crate::load::Rng;

/// YCSB's default skew.
pub const THETA: f64 = 0.99;

#[derive(Debug, Clone)]
pub struct Zipf {
    n: u64,
    theta: f64,
    alpha: f64,
    zetan: f64,
    eta: f64,
}

fn zeta(n: u64, theta: f64) -> f64 {
    (1..=n).map(|i| 1.0 / (i as f64).powf(theta)).sum()
}

impl Zipf {
    /// Ranks `0..n`, rank 0 the most frequent.
    pub fn new(n: u64, theta: f64) -> Zipf {
        let n = n.max(2);
        let zetan = zeta(n, theta);
        let zeta2 = zeta(2, theta);
        Zipf {
            n,
            theta,
            alpha: 1.0 / (1.0 - theta),
            zetan,
            eta: (1.0 - (2.0 / n as f64).powf(1.0 - theta)) / (1.0 - zeta2 / zetan),
        }
    }

    /// A rank in `0..n`.
    pub fn draw(&self, rng: &mut Rng) -> u64 {
        // 53 random bits: uniform in [0, 1).
        let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let uz = u * self.zetan;
        if uz < 1.0 {
            return 0;
        }
        if uz < 1.0 + 0.5f64.powf(self.theta) {
            return 1;
        }
        let r = (self.n as f64 * (self.eta * u - self.eta + 1.0).powf(self.alpha)) as u64;
        r.min(self.n - 1)
    }

    /// The share of draws that fall on the `k` most frequent ranks.
    #[cfg(test)]
    pub fn head_share(&self, k: u64) -> f64 {
        zeta(k.min(self.n), self.theta) / self.zetan
    }
}

/// Spreads ranks over `0..n` (YCSB's "scrambled" zipfian), so the hot keys are not the
/// first-seeded ones: a multiplicative hash, a bijection on `0..n` for odd `n` only, hence
/// the modulo (a few ranks share a key, which changes nothing measurable).
pub fn scramble(rank: u64, n: u64) -> u64 {
    rank.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29) % n.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_follow_the_distribution() {
        let z = Zipf::new(1_000_000, THETA);
        let mut rng = Rng::new(7);
        let draws = 400_000;
        let mut head = 0;
        for _ in 0..draws {
            let r = z.draw(&mut rng);
            assert!(r < 1_000_000);
            if r < 1000 {
                head += 1;
            }
        }
        let seen = head as f64 / draws as f64;
        let want = z.head_share(1000);
        assert!((seen - want).abs() < 0.02, "{seen} vs {want}");
    }
}
