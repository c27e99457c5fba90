//! Geographic cells: geohash prefixes that an index and pub/sub channels are keyed by.
//!
//! A circle (centre, radius) is covered by the cells of one geohash precision that meet its
//! bounding box on the sphere. The box is exact for great-circle distance: its latitude span
//! is the radius in degrees, its longitude span the widest the circle gets (which reaches all
//! longitudes when the circle contains a pole), and it is split at the antimeridian. The
//! covering is a superset of the circle; callers then keep what the exact distance (the `geo`
//! crate's haversine) puts within the radius.
//!
//! [`fuzz`] gives the public point shown in place of a private one: the same for every read.

use geo::{Distance, Haversine, Point};
use geohash::Coord;
use uuid::Uuid;

/// The mean Earth radius the `geo` crate's haversine uses, in metres.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;
/// Precision of the geohash stored for a point (about 4 cm × 2 cm).
pub const POINT_PRECISION: usize = 10;
/// The precisions a new task is announced at; a subscriber listens at one of them.
pub const CHANNEL_PRECISIONS: std::ops::RangeInclusive<usize> = 2..=5;

/// Great-circle distance in metres between two (lat, lng) points.
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    Haversine.distance(Point::new(a.1, a.0), Point::new(b.1, b.0))
}

/// A point about 150–250 m from (`lat`, `lng`), fixed for `seed` (a task's id, say): close
/// enough to judge the distance, far enough not to point at a door.
pub fn fuzz(seed: Uuid, lat: f64, lng: f64) -> (f64, f64) {
    let bytes = seed.as_bytes();
    let angle = f64::from(u16::from_le_bytes([bytes[10], bytes[11]])) / f64::from(u16::MAX) * std::f64::consts::TAU;
    let distance = 150.0 + f64::from(bytes[12]) / 255.0 * 100.0;
    let dlat = distance * angle.cos() / 111_320.0;
    let dlng = distance * angle.sin() / (111_320.0 * lat.to_radians().cos().max(0.01));
    ((lat + dlat).clamp(-90.0, 90.0), ((lng + dlng + 540.0) % 360.0) - 180.0)
}

/// The geohash of a point at `precision` characters. `None` only for coordinates outside
/// WGS84 ranges (which validation rejects first).
pub fn cell_of(lat: f64, lng: f64, precision: usize) -> Option<String> {
    // The north pole itself belongs to the top row (the geohash crate wraps 90° to the
    // bottom row), and 180° is the same meridian as -180°.
    let lat = if lat >= 90.0 { 90.0 - 1e-12 } else { lat };
    let lng = if lng >= 180.0 { -180.0 } else { lng };
    geohash::encode(Coord { x: lng, y: lat }, precision).ok()
}

/// The cells of one precision that cover a circle.
#[derive(Debug, Clone, PartialEq)]
pub struct Covering {
    pub precision: usize,
    pub cells: Vec<String>,
}

/// Cell height and width in degrees at `precision`.
fn cell_size(precision: usize) -> (f64, f64) {
    let bits = 5 * precision as i32;
    let lat_bits = bits / 2;
    let lng_bits = bits - lat_bits;
    (180.0 / 2f64.powi(lat_bits), 360.0 / 2f64.powi(lng_bits))
}

/// The circle's bounding box: a latitude range and one or two longitude ranges.
fn bounding_box(lat: f64, lng: f64, radius_m: f64) -> ((f64, f64), Vec<(f64, f64)>) {
    let angular = radius_m / EARTH_RADIUS_M;
    let dlat = angular.to_degrees();
    let (south, north) = (lat - dlat, lat + dlat);
    if north >= 90.0 || south <= -90.0 || angular >= std::f64::consts::FRAC_PI_2 {
        return ((south.max(-90.0), north.min(90.0)), vec![(-180.0, 180.0)]);
    }
    let ratio = angular.sin() / lat.to_radians().cos();
    if ratio >= 1.0 {
        return ((south, north), vec![(-180.0, 180.0)]);
    }
    let dlng = ratio.asin().to_degrees();
    let (west, east) = (lng - dlng, lng + dlng);
    let ranges = if west < -180.0 {
        vec![(west + 360.0, 180.0), (-180.0, east)]
    } else if east >= 180.0 {
        vec![(west, 180.0), (-180.0, east - 360.0)]
    } else {
        vec![(west, east)]
    };
    ((south, north), ranges)
}

/// Grid indices `[first, last]` of the cells of size `size` that meet `[lo, hi]` on an axis
/// starting at `origin` with `count` cells.
fn span(lo: f64, hi: f64, origin: f64, size: f64, count: i64) -> (i64, i64) {
    let first = (((lo - origin) / size).floor() as i64).clamp(0, count - 1);
    let last = (((hi - origin) / size).floor() as i64).clamp(0, count - 1);
    (first, last)
}

/// The cells at `precision` meeting the circle's bounding box, or `None` when there would be
/// more than `max_cells`.
fn cover_at(lat: f64, lng: f64, radius_m: f64, precision: usize, max_cells: usize) -> Option<Vec<String>> {
    let ((south, north), ranges) = bounding_box(lat, lng, radius_m);
    let (height, width) = cell_size(precision);
    let rows = (180.0 / height) as i64;
    let cols = (360.0 / width) as i64;
    let (row0, row1) = span(south, north, -90.0, height, rows);
    let mut column_spans: Vec<(i64, i64)> = ranges
        .iter()
        .map(|&(west, east)| span(west, east, -180.0, width, cols))
        .collect();
    column_spans.sort_unstable();
    column_spans.dedup();
    let per_row: i64 = column_spans.iter().map(|(a, b)| b - a + 1).sum();
    let total = (row1 - row0 + 1).saturating_mul(per_row);
    if total > max_cells as i64 {
        return None;
    }
    let mut cells = Vec::with_capacity(total as usize);
    for row in row0..=row1 {
        let y = -90.0 + (row as f64 + 0.5) * height;
        for &(c0, c1) in &column_spans {
            for col in c0..=c1 {
                let x = -180.0 + (col as f64 + 0.5) * width;
                cells.push(cell_of(y, x, precision)?);
            }
        }
    }
    cells.sort_unstable();
    cells.dedup();
    Some(cells)
}

/// The finest covering of the circle with precision in `precisions` (finest first tried)
/// and at most `max_cells` cells; the coarsest precision when none is that small.
pub fn covering(
    lat: f64,
    lng: f64,
    radius_m: f64,
    precisions: std::ops::RangeInclusive<usize>,
    max_cells: usize,
) -> Covering {
    let coarsest = *precisions.start();
    for precision in precisions.rev() {
        if let Some(cells) = cover_at(lat, lng, radius_m, precision, max_cells) {
            return Covering { precision, cells };
        }
    }
    Covering {
        precision: coarsest,
        cells: cover_at(lat, lng, radius_m, coarsest, usize::MAX).unwrap_or_default(),
    }
}

/// The half-open text range `[prefix, prefix~)` holding every geohash that starts with
/// `prefix` (`~` sorts after every geohash character in byte order).
pub fn prefix_range(prefix: &str) -> (String, String) {
    (prefix.to_owned(), format!("{prefix}~"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzzing_moves_about_200_metres_and_is_stable() {
        for _ in 0..50 {
            let seed = Uuid::new_v4();
            let point = fuzz(seed, 52.52, 13.405);
            let d = distance_m((52.52, 13.405), point);
            assert!((140.0..=260.0).contains(&d), "{d}");
            assert_eq!(fuzz(seed, 52.52, 13.405), point);
        }
    }

    fn random_points(seed: u64, n: usize, centre: (f64, f64), spread_m: f64) -> Vec<(f64, f64)> {
        let mut state = seed;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        (0..n)
            .map(|_| {
                let dlat = (next() * 2.0 - 1.0) * spread_m / 111_195.0;
                let lat = (centre.0 + dlat).clamp(-90.0, 90.0);
                let scale = lat.to_radians().cos().max(1e-6);
                let dlng = (next() * 2.0 - 1.0) * spread_m / (111_195.0 * scale);
                let lng = ((centre.1 + dlng + 540.0).rem_euclid(360.0)) - 180.0;
                (lat, lng)
            })
            .collect()
    }

    /// Every point within the radius falls in a covering cell, at every latitude that matters.
    #[test]
    fn coverings_contain_every_point_within_the_radius() {
        let centres = [
            (0.0, 0.0),
            (52.52, 13.405),
            (-33.87, 151.21),
            (64.0, 179.99),
            (-16.5, -179.98),
            (89.99, 45.0),
            (-89.97, -120.0),
            (78.2, 15.6),
        ];
        for (i, &centre) in centres.iter().enumerate() {
            for radius in [300.0, 1_000.0, 5_000.0, 20_000.0, 50_000.0] {
                let cover = covering(centre.0, centre.1, radius, 2..=7, 64);
                assert!(cover.cells.len() <= 64 || cover.precision == 2, "{centre:?} {radius}");
                for point in random_points(i as u64 * 31 + radius as u64, 2_000, centre, radius * 1.3) {
                    if distance_m(centre, point) <= radius {
                        let cell = cell_of(point.0, point.1, cover.precision).unwrap();
                        assert!(
                            cover.cells.contains(&cell),
                            "{point:?} at {} m from {centre:?} is outside the covering of {radius} m",
                            distance_m(centre, point)
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn small_circles_use_fine_cells_and_the_pole_wraps_every_longitude() {
        let city = covering(52.52, 13.405, 5_000.0, 2..=5, 64);
        assert_eq!(city.precision, 5);
        assert!(city.cells.len() <= 16, "{city:?}");
        let pole = covering(89.999, 0.0, 5_000.0, 2..=5, 64);
        assert_eq!(pole.precision, 2, "{pole:?}");
        assert_eq!(pole.cells.len(), 32);
        let across = covering(0.0, 179.99, 5_000.0, 2..=5, 64);
        assert!(across
            .cells
            .iter()
            .any(|c| cell_of(0.0, -179.99, 5).as_ref() == Some(c)));
        assert!(across.cells.iter().any(|c| cell_of(0.0, 179.99, 5).as_ref() == Some(c)));
    }

    #[test]
    fn prefix_ranges_hold_exactly_their_cells() {
        let (lo, hi) = prefix_range("u33db");
        assert!(lo.as_str() <= "u33db2k0" && "u33db2k0" < hi.as_str());
        assert!("u33dbzzzzz" < hi.as_str());
        assert!("u33dc" >= hi.as_str());
    }

    #[test]
    fn distances_are_haversine_metres() {
        let d = distance_m((52.52, 13.405), (48.8566, 2.3522));
        assert!((d - 877_500.0).abs() < 2_000.0, "{d}");
        assert!(distance_m((0.0, 179.999), (0.0, -179.999)) < 250.0);
    }
}
