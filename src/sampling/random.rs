//! Random numbers keyed by identity: every draw of a path depends only on the seed, the path
//! index and the name of what is drawn, never on what else the scenario holds or in which order.
//!
//! That is what keeps common random numbers common: adding a stream, an event, a deal term or
//! an uncertain input, or reordering a file, moves no other draw; an input whose distribution
//! changes keeps its uniform, so it keeps its rank on every path.

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use sha2::{Digest, Sha256};

/// What a random number is keyed by: a stable name (`streams.openai.growth.start`,
/// `revenue_share.openai-to-microsoft.cap`) and its 64-bit hash.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Identity {
    pub name: String,
    pub hash: u64,
}

impl Identity {
    /// The hash is the first 8 bytes of the name's SHA-256: stable across versions, platforms
    /// and Rust releases, which the standard library's hashers do not promise.
    pub fn new(name: impl Into<String>) -> Identity {
        let name = name.into();
        let digest = Sha256::digest(name.as_bytes());
        let hash = u64::from_le_bytes(digest[..8].try_into().expect("a SHA-256 digest has 32 bytes"));
        Identity { name, hash }
    }
}

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function: a bijection of u64 with full avalanche.
#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The key of one identity's stream of draws under one seed.
#[inline]
fn stream_key(seed: u64, identity: u64) -> u64 {
    mix(mix(seed.wrapping_add(GOLDEN_GAMMA)) ^ identity)
}

/// The 64 random bits of `identity` on `path`: element `path` of a SplitMix64 sequence whose
/// start is keyed by the seed and the identity.
#[inline]
fn bits(seed: u64, identity: u64, path: u64) -> u64 {
    mix(stream_key(seed, identity).wrapping_add(path.wrapping_add(1).wrapping_mul(GOLDEN_GAMMA)))
}

/// A uniform draw in the open interval (0, 1), on a grid of 2^-53, for `identity` on `path`.
/// Never 0 or 1, so every quantile function it feeds stays finite.
#[inline]
pub fn unit(seed: u64, identity: u64, path: u64) -> f64 {
    ((bits(seed, identity, path) >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
}

/// A generator for draws whose number varies by path (a stream's shocks and jumps), keyed the
/// same way: its sequence depends only on the seed, the identity and the path.
pub fn generator(seed: u64, identity: u64, path: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(bits(seed, identity, path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    #[test]
    fn draws_depend_on_seed_identity_and_path_only() {
        let growth = Identity::new("streams.openai.growth.start").hash;
        let cap = Identity::new("revenue_share.openai-to-microsoft.cap").hash;
        assert_eq!(unit(7, growth, 3), unit(7, growth, 3));
        assert_ne!(unit(7, growth, 3), unit(7, growth, 4));
        assert_ne!(unit(7, growth, 3), unit(8, growth, 3));
        assert_ne!(unit(7, growth, 3), unit(7, cap, 3));
        assert_eq!(generator(7, cap, 9).random::<u64>(), generator(7, cap, 9).random::<u64>());
    }

    #[test]
    fn identity_hashes_are_stable_across_versions() {
        // A change here moves every draw of every scenario: it must be deliberate.
        assert_eq!(Identity::new("streams.openai.growth.start").hash, 0xa2a2_73bb_64c0_b91b);
        assert_eq!(unit(20260427, Identity::new("valuation.multiple.end").hash, 0), 0.6786500817867351);
    }

    #[test]
    fn uniforms_are_uniform_and_independent_across_identities() {
        let (a, b) = (Identity::new("a").hash, Identity::new("b").hash);
        let n = 200_000u64;
        let (mut sum, mut below_tenth, mut product) = (0.0, 0u64, 0.0);
        for path in 0..n {
            let (x, y) = (unit(1, a, path), unit(1, b, path));
            assert!(x > 0.0 && x < 1.0);
            sum += x;
            below_tenth += u64::from(x < 0.1);
            product += (x - 0.5) * (y - 0.5);
        }
        let n = n as f64;
        // Mean 1/2 with sd 1/sqrt(12 n); P(< 0.1) = 0.1 with sd sqrt(0.09 / n); the covariance of
        // two independent uniforms is 0 with sd (1/12) / sqrt(n): 4 standard errors each.
        assert!((sum / n - 0.5).abs() < 4.0 / (12.0 * n).sqrt());
        assert!((below_tenth as f64 / n - 0.1).abs() < 4.0 * (0.09 / n).sqrt());
        assert!((product / n).abs() < 4.0 / 12.0 / n.sqrt());
    }
}
