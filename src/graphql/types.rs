//! Small GraphQL types shared by several domains.

use async_graphql::{InputObject, MaybeUndefined, SimpleObject, ID};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// A WGS84 position in decimal degrees. Fields that return one say whether it is exact or
/// rounded for privacy.
#[derive(Debug, Clone, Copy, SimpleObject)]
pub struct GeoPoint {
    /// Latitude in degrees, -90 (south) to 90 (north).
    pub lat: f64,
    /// Longitude in degrees, -180 (west) to 180 (east).
    pub lng: f64,
}

/// A WGS84 position in decimal degrees, as input. Values out of range answer
/// `VALIDATION_ERROR`.
#[derive(Debug, Clone, Copy, InputObject)]
pub struct GeoPointInput {
    /// Latitude in degrees, -90 (south) to 90 (north).
    pub lat: f64,
    /// Longitude in degrees, -180 (west) to 180 (east).
    pub lng: f64,
}

/// Parses a public `ID` into a UUID, naming `field` when it is not one.
pub fn parse_id(id: &ID, field: &str) -> AppResult<Uuid> {
    Uuid::parse_str(id.as_str()).map_err(|_| AppError::field(field, "is not a valid ID"))
}

/// `undefined` → leave as is; `null` → clear; a value → set.
pub fn patch<T>(value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

/// A calendar date, `YYYY-MM-DD` (no time, no zone).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Date(pub chrono::NaiveDate);

/// A calendar date as a `YYYY-MM-DD` string (ISO 8601), with no time and no time zone,
/// e.g. `2025-03-31`.
#[async_graphql::Scalar(name = "Date")]
impl async_graphql::ScalarType for Date {
    fn parse(value: async_graphql::Value) -> async_graphql::InputValueResult<Self> {
        match &value {
            async_graphql::Value::String(s) => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(Date)
                .map_err(|_| async_graphql::InputValueError::custom("must be a date as YYYY-MM-DD")),
            _ => Err(async_graphql::InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> async_graphql::Value {
        async_graphql::Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}
