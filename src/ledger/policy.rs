//! The platform fee policy (SPEC "Payments"): which commission a freelancer pays.
//!
//! - Default: the freelancer's own `commission_bps` (800 unless an operator changed it).
//! - With `VERIFICATION_COMMISSION` on: 1000 bps for VERIFIED freelancers and 5000 bps for
//!   everyone else, whatever their stored rate (users who never submitted documents pay the
//!   unverified rate).
//!
//! The rate is read when an order is funded and fixed on it; later changes of status or
//! policy do not touch funded orders.

/// Commission of verified freelancers while the verification policy is on.
pub const VERIFIED_BPS: i32 = 1_000;
/// Commission of everyone else while the verification policy is on.
pub const UNVERIFIED_BPS: i32 = 5_000;

use crate::profile::model::VerificationStatus;

/// The commission in basis points for a freelancer with `verification_status` and the stored
/// rate `own_bps`, under the policy `by_verification` selects.
pub fn commission_bps(by_verification: bool, verification_status: VerificationStatus, own_bps: i32) -> i32 {
    match (by_verification, verification_status) {
        (false, _) => own_bps,
        (true, VerificationStatus::Verified) => VERIFIED_BPS,
        (true, _) => UNVERIFIED_BPS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_decides_by_verification_only_when_on() {
        for status in VerificationStatus::ALL.iter().copied() {
            assert_eq!(commission_bps(false, status, 800), 800);
        }
        assert_eq!(commission_bps(false, VerificationStatus::Verified, 650), 650);
        assert_eq!(commission_bps(true, VerificationStatus::Verified, 800), 1_000);
        use VerificationStatus::*;
        for status in [None, Pending, Rejected] {
            assert_eq!(commission_bps(true, status, 800), 5_000, "{status}");
        }
    }
}
