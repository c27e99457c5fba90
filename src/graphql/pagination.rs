//! Relay connection arguments and their limits.

use crate::error::{AppError, AppResult};

/// Page size when `first` is omitted.
pub const DEFAULT_PAGE_SIZE: usize = 20;

/// Checks `first` against the configured maximum page size, naming the field when it is out
/// of range.
pub fn page_size(first: Option<i32>, max: usize) -> AppResult<usize> {
    match first {
        None => Ok(DEFAULT_PAGE_SIZE.min(max)),
        Some(n) if n >= 1 && (n as usize) <= max => Ok(n as usize),
        Some(_) => Err(AppError::field(
            "first",
            format!("must be between 1 and {max}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes() {
        assert_eq!(page_size(None, 100).unwrap(), 20);
        assert_eq!(page_size(Some(100), 100).unwrap(), 100);
        assert!(page_size(Some(0), 100).is_err());
        assert!(page_size(Some(101), 100).is_err());
        assert!(page_size(Some(-5), 100).is_err());
    }
}
