//! Start and end codes of on-site orders: the client sees a code, the freelancer enters it.
//! Six digits, stored as an HMAC (keyed by a secret derived from the server's), valid for
//! fifteen minutes, single use, and spent after five wrong attempts.

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::model::OrderCodePurpose;

pub const TTL_MINUTES: i64 = 15;
pub const MAX_ATTEMPTS: i32 = 5;

type HmacSha256 = Hmac<Sha256>;

/// The key codes are hashed with: derived from the server secret, never the secret itself.
pub fn key(server_secret: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"gigmarket order codes v1\0");
    hasher.update(server_secret);
    hasher.finalize().into()
}

fn mac(key: &[u8; 32], order_id: Uuid, purpose: OrderCodePurpose) -> HmacSha256 {
    // A 32-byte key is always accepted by HMAC.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key size"));
    mac.update(order_id.as_bytes());
    mac.update(purpose.as_str().as_bytes());
    mac
}

/// A fresh code and its hash.
pub fn generate(key: &[u8; 32], order_id: Uuid, purpose: OrderCodePurpose) -> (String, Vec<u8>) {
    let code = format!("{:06}", rand::rng().random_range(0..1_000_000u32));
    let hash = hash(key, order_id, purpose, &code);
    (code, hash)
}

pub fn hash(key: &[u8; 32], order_id: Uuid, purpose: OrderCodePurpose, code: &str) -> Vec<u8> {
    let mut mac = mac(key, order_id, purpose);
    mac.update(code.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Whether `code` matches `stored`, compared in constant time.
pub fn matches(key: &[u8; 32], order_id: Uuid, purpose: OrderCodePurpose, code: &str, stored: &[u8]) -> bool {
    let mut mac = mac(key, order_id, purpose);
    mac.update(code.trim().as_bytes());
    mac.verify_slice(stored).is_ok()
}

pub fn expiry(now: DateTime<Utc>) -> DateTime<Utc> {
    now + Duration::minutes(TTL_MINUTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_verify_only_for_their_order_and_purpose() {
        let key = key(b"server secret");
        let order = Uuid::now_v7();
        let (code, stored) = generate(&key, order, OrderCodePurpose::Start);
        assert_eq!(code.len(), 6);
        assert!(code.chars().all(|c| c.is_ascii_digit()));
        assert!(matches(&key, order, OrderCodePurpose::Start, &code, &stored));
        assert!(matches(
            &key,
            order,
            OrderCodePurpose::Start,
            &format!(" {code} "),
            &stored
        ));
        assert!(!matches(&key, order, OrderCodePurpose::End, &code, &stored));
        assert!(!matches(&key, Uuid::now_v7(), OrderCodePurpose::Start, &code, &stored));
        assert!(!matches(
            &super::key(b"other"),
            order,
            OrderCodePurpose::Start,
            &code,
            &stored
        ));
        assert_ne!(stored, code.as_bytes());
    }
}
