//! Where the location workloads put things: a world of metropolitan areas with dense centres
//! and sprawling suburbs, a sparse rural background around them, and one city disc for the
//! nearby fan-out. Pure functions of a random generator, so a seed gives the same data on
//! every run.

use rand::Rng;

/// Metres per degree of latitude (and of longitude at the equator) on the mean sphere.
const METRES_PER_DEGREE: f64 = 111_195.0;

/// A metropolitan area: a centre, how far its core and its suburbs spread, and its share
/// of the tasks relative to the other areas.
#[derive(Debug, Clone, Copy)]
pub struct Metro {
    pub name: &'static str,
    pub lat: f64,
    pub lng: f64,
    /// Standard deviation of the dense core, in metres.
    pub core_m: f64,
    /// Relative weight (roughly population in millions).
    pub weight: f64,
}

/// The areas the nearby search is seeded with: large cities on every inhabited continent,
/// both hemispheres and both sides of the prime meridian.
pub const METROS: &[Metro] = &[
    Metro {
        name: "Tokyo",
        lat: 35.6762,
        lng: 139.6503,
        core_m: 14_000.0,
        weight: 37.0,
    },
    Metro {
        name: "Delhi",
        lat: 28.6139,
        lng: 77.2090,
        core_m: 12_000.0,
        weight: 31.0,
    },
    Metro {
        name: "Shanghai",
        lat: 31.2304,
        lng: 121.4737,
        core_m: 12_000.0,
        weight: 27.0,
    },
    Metro {
        name: "São Paulo",
        lat: -23.5505,
        lng: -46.6333,
        core_m: 11_000.0,
        weight: 22.0,
    },
    Metro {
        name: "Mexico City",
        lat: 19.4326,
        lng: -99.1332,
        core_m: 10_000.0,
        weight: 22.0,
    },
    Metro {
        name: "Cairo",
        lat: 30.0444,
        lng: 31.2357,
        core_m: 9_000.0,
        weight: 21.0,
    },
    Metro {
        name: "Mumbai",
        lat: 19.0760,
        lng: 72.8777,
        core_m: 8_000.0,
        weight: 20.0,
    },
    Metro {
        name: "Dhaka",
        lat: 23.8103,
        lng: 90.4125,
        core_m: 7_000.0,
        weight: 21.0,
    },
    Metro {
        name: "Osaka",
        lat: 34.6937,
        lng: 135.5023,
        core_m: 9_000.0,
        weight: 19.0,
    },
    Metro {
        name: "New York",
        lat: 40.7128,
        lng: -74.0060,
        core_m: 12_000.0,
        weight: 19.0,
    },
    Metro {
        name: "Karachi",
        lat: 24.8607,
        lng: 67.0011,
        core_m: 8_000.0,
        weight: 16.0,
    },
    Metro {
        name: "Buenos Aires",
        lat: -34.6037,
        lng: -58.3816,
        core_m: 10_000.0,
        weight: 15.0,
    },
    Metro {
        name: "Istanbul",
        lat: 41.0082,
        lng: 28.9784,
        core_m: 10_000.0,
        weight: 15.0,
    },
    Metro {
        name: "Lagos",
        lat: 6.5244,
        lng: 3.3792,
        core_m: 9_000.0,
        weight: 15.0,
    },
    Metro {
        name: "Manila",
        lat: 14.5995,
        lng: 120.9842,
        core_m: 8_000.0,
        weight: 14.0,
    },
    Metro {
        name: "Rio de Janeiro",
        lat: -22.9068,
        lng: -43.1729,
        core_m: 9_000.0,
        weight: 13.0,
    },
    Metro {
        name: "Los Angeles",
        lat: 34.0522,
        lng: -118.2437,
        core_m: 16_000.0,
        weight: 12.0,
    },
    Metro {
        name: "Moscow",
        lat: 55.7558,
        lng: 37.6173,
        core_m: 10_000.0,
        weight: 12.0,
    },
    Metro {
        name: "Paris",
        lat: 48.8566,
        lng: 2.3522,
        core_m: 7_000.0,
        weight: 11.0,
    },
    Metro {
        name: "Jakarta",
        lat: -6.2088,
        lng: 106.8456,
        core_m: 10_000.0,
        weight: 11.0,
    },
    Metro {
        name: "London",
        lat: 51.5074,
        lng: -0.1278,
        core_m: 9_000.0,
        weight: 9.5,
    },
    Metro {
        name: "Lima",
        lat: -12.0464,
        lng: -77.0428,
        core_m: 8_000.0,
        weight: 11.0,
    },
    Metro {
        name: "Bangkok",
        lat: 13.7563,
        lng: 100.5018,
        core_m: 9_000.0,
        weight: 11.0,
    },
    Metro {
        name: "Chicago",
        lat: 41.8781,
        lng: -87.6298,
        core_m: 12_000.0,
        weight: 8.9,
    },
    Metro {
        name: "Johannesburg",
        lat: -26.2041,
        lng: 28.0473,
        core_m: 10_000.0,
        weight: 6.0,
    },
    Metro {
        name: "Madrid",
        lat: 40.4168,
        lng: -3.7038,
        core_m: 6_000.0,
        weight: 6.7,
    },
    Metro {
        name: "Toronto",
        lat: 43.6532,
        lng: -79.3832,
        core_m: 9_000.0,
        weight: 6.3,
    },
    Metro {
        name: "Nairobi",
        lat: -1.2921,
        lng: 36.8219,
        core_m: 6_000.0,
        weight: 5.0,
    },
    Metro {
        name: "Berlin",
        lat: 52.52,
        lng: 13.405,
        core_m: 7_000.0,
        weight: 4.5,
    },
    Metro {
        name: "Sydney",
        lat: -33.8688,
        lng: 151.2093,
        core_m: 11_000.0,
        weight: 5.3,
    },
    Metro {
        name: "Singapore",
        lat: 1.3521,
        lng: 103.8198,
        core_m: 6_000.0,
        weight: 6.0,
    },
    Metro {
        name: "Stockholm",
        lat: 59.3293,
        lng: 18.0686,
        core_m: 6_000.0,
        weight: 1.7,
    },
];

/// Share of points in the rural background rather than in a metropolitan area.
pub const RURAL_SHARE: f64 = 0.05;
/// Rural points lie uniformly within this distance of a metropolitan centre.
pub const RURAL_RADIUS_M: f64 = 300_000.0;
/// Of the metropolitan points, this share is suburban: spread three times as wide as the core.
pub const SUBURBAN_SHARE: f64 = 0.35;
/// Suburbs spread this many times wider than the core.
const SUBURBAN_SPREAD: f64 = 3.0;

/// Where a sampled point came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The core or suburbs of `METROS[i]`.
    Metro(usize),
    /// The background around `METROS[i]`.
    Rural(usize),
}

/// The point `north_m` metres north and `east_m` metres east of (`lat`, `lng`) on a local flat
/// approximation (good to a fraction of a percent at city scale), kept inside WGS84 ranges.
pub fn offset(lat: f64, lng: f64, north_m: f64, east_m: f64) -> (f64, f64) {
    let lat2 = (lat + north_m / METRES_PER_DEGREE).clamp(-89.999, 89.999);
    let scale = lat.to_radians().cos().max(0.01);
    let lng2 = (lng + east_m / (METRES_PER_DEGREE * scale) + 540.0).rem_euclid(360.0) - 180.0;
    (lat2, lng2)
}

/// A pair of independent standard normal values (Box–Muller).
fn normal_pair(rng: &mut impl Rng) -> (f64, f64) {
    // 1 - u is in (0, 1], so the logarithm is finite.
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random::<f64>();
    let r = (-2.0 * u.ln()).sqrt();
    let angle = std::f64::consts::TAU * v;
    (r * angle.cos(), r * angle.sin())
}

/// A point uniformly distributed in the disc of `radius_m` around (`lat`, `lng`).
pub fn uniform_in_disc(rng: &mut impl Rng, (lat, lng): (f64, f64), radius_m: f64) -> (f64, f64) {
    let r = radius_m * rng.random::<f64>().sqrt();
    let angle = std::f64::consts::TAU * rng.random::<f64>();
    offset(lat, lng, r * angle.cos(), r * angle.sin())
}

/// The index of a metropolitan area drawn by weight.
fn pick_metro(rng: &mut impl Rng) -> usize {
    let total: f64 = METROS.iter().map(|m| m.weight).sum();
    let mut left = rng.random::<f64>() * total;
    for (i, metro) in METROS.iter().enumerate() {
        if left < metro.weight {
            return i;
        }
        left -= metro.weight;
    }
    METROS.len() - 1
}

/// A task location: with probability `RURAL_SHARE` rural, otherwise in a metropolitan area
/// (by weight), Gaussian around its centre with the core's spread, or three times that for
/// the suburban share.
pub fn sample(rng: &mut impl Rng) -> ((f64, f64), Origin) {
    let i = pick_metro(rng);
    let metro = METROS[i];
    if rng.random::<f64>() < RURAL_SHARE {
        return (
            uniform_in_disc(rng, (metro.lat, metro.lng), RURAL_RADIUS_M),
            Origin::Rural(i),
        );
    }
    let spread = if rng.random::<f64>() < SUBURBAN_SHARE {
        metro.core_m * SUBURBAN_SPREAD
    } else {
        metro.core_m
    };
    let (north, east) = normal_pair(rng);
    (
        offset(metro.lat, metro.lng, north * spread, east * spread),
        Origin::Metro(i),
    )
}

/// Share of rural points among the nearby-search centres (the rest are drawn like tasks in
/// the metropolitan areas, so searches land where the tasks are).
pub const SEARCH_RURAL_SHARE: f64 = 0.1;

/// A nearby-search centre: rural with probability `SEARCH_RURAL_SHARE`, else metropolitan.
pub fn search_point(rng: &mut impl Rng) -> ((f64, f64), Origin) {
    let rural = rng.random::<f64>() < SEARCH_RURAL_SHARE;
    loop {
        let (point, origin) = sample(rng);
        if matches!(origin, Origin::Rural(_)) == rural {
            return (point, origin);
        }
    }
}

/// The city the nearby fan-out is played in: Lyon, which no test uses (tests that post tasks
/// with Redis may share the Redis server, and channels are keyed by place).
pub const FANOUT_CITY: (f64, f64) = (45.7640, 4.8357);
/// Radius of the fan-out city's disc (30 km across).
pub const FANOUT_CITY_RADIUS_M: f64 = 15_000.0;

/// Grid points `spacing_m` apart over the square around the disc (`centre`, `radius_m`),
/// keeping those whose grid square meets the disc: every point of the disc is within
/// `spacing_m / √2` of one of them.
pub fn grid_over_disc(centre: (f64, f64), radius_m: f64, spacing_m: f64) -> Vec<(f64, f64)> {
    let steps = (radius_m / spacing_m).ceil() as i64;
    let mut points = Vec::new();
    for row in -steps..=steps {
        for col in -steps..=steps {
            let (north, east) = (row as f64 * spacing_m, col as f64 * spacing_m);
            // The nearest point of this grid square to the centre.
            let near_north = (north.abs() - spacing_m / 2.0).max(0.0);
            let near_east = (east.abs() - spacing_m / 2.0).max(0.0);
            if near_north.hypot(near_east) <= radius_m {
                points.push(offset(centre.0, centre.1, north, east));
            }
        }
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;
    use gigmarket::geocell::distance_m;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn offsets_are_metres_and_wrap_the_antimeridian() {
        let (lat, lng) = offset(45.0, 5.0, 1_000.0, 0.0);
        assert!((distance_m((45.0, 5.0), (lat, lng)) - 1_000.0).abs() < 5.0);
        let (lat, lng) = offset(45.0, 5.0, 0.0, 3_000.0);
        assert!((distance_m((45.0, 5.0), (lat, lng)) - 3_000.0).abs() < 15.0);
        let (_, lng) = offset(0.0, 179.99, 0.0, 5_000.0);
        assert!((-180.0..-179.9).contains(&lng), "{lng}");
    }

    #[test]
    fn the_distribution_is_clustered_with_a_sparse_background() {
        let mut rng = StdRng::seed_from_u64(7);
        let n = 100_000;
        let mut rural = 0;
        let mut per_metro = vec![0usize; METROS.len()];
        let mut within_core = 0;
        let mut within_three_cores = 0;
        let mut metro_points = 0;
        for _ in 0..n {
            let ((lat, lng), origin) = sample(&mut rng);
            assert!((-90.0..=90.0).contains(&lat) && (-180.0..180.0).contains(&lng));
            match origin {
                Origin::Rural(i) => {
                    rural += 1;
                    let m = METROS[i];
                    assert!(distance_m((m.lat, m.lng), (lat, lng)) <= RURAL_RADIUS_M * 1.01);
                }
                Origin::Metro(i) => {
                    metro_points += 1;
                    per_metro[i] += 1;
                    let m = METROS[i];
                    let d = distance_m((m.lat, m.lng), (lat, lng));
                    within_core += usize::from(d <= m.core_m);
                    within_three_cores += usize::from(d <= 3.0 * m.core_m);
                }
            }
        }
        let rural_share = rural as f64 / n as f64;
        assert!((rural_share - RURAL_SHARE).abs() < 0.005, "{rural_share}");
        // Every area gets points, in proportion to its weight.
        let total: f64 = METROS.iter().map(|m| m.weight).sum();
        for (metro, count) in METROS.iter().zip(&per_metro) {
            let expected = metro.weight / total * metro_points as f64;
            assert!(
                (*count as f64 - expected).abs() < 0.1 * expected + 50.0,
                "{}: {count} vs {expected:.0}",
                metro.name
            );
        }
        // A 2-D Gaussian puts 1 - e^(-1/2) ≈ 39 % within one sigma: 65 % core, 35 % suburbs
        // (sigma × 3: 5.4 % within the core's sigma) gives ≈ 27 %; within 3 core sigmas
        // ≈ 0.65 × 98.9 % + 0.35 × 39 % ≈ 78 %.
        let core = within_core as f64 / metro_points as f64;
        let three = within_three_cores as f64 / metro_points as f64;
        assert!((core - 0.274).abs() < 0.02, "{core}");
        assert!((three - 0.780).abs() < 0.02, "{three}");
    }

    #[test]
    fn samples_are_reproducible_from_a_seed() {
        let draw = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..100).map(|_| sample(&mut rng).0).collect::<Vec<_>>()
        };
        assert_eq!(draw(3), draw(3));
        assert_ne!(draw(3), draw(4));
    }

    #[test]
    fn discs_are_uniform_and_bounded() {
        let mut rng = StdRng::seed_from_u64(11);
        let points: Vec<_> = (0..20_000)
            .map(|_| uniform_in_disc(&mut rng, FANOUT_CITY, FANOUT_CITY_RADIUS_M))
            .collect();
        let inner = points
            .iter()
            .filter(|p| distance_m(FANOUT_CITY, **p) <= FANOUT_CITY_RADIUS_M / 2.0)
            .count();
        // A quarter of a disc's area lies within half its radius.
        assert!((inner as f64 / points.len() as f64 - 0.25).abs() < 0.015);
        assert!(points
            .iter()
            .all(|p| distance_m(FANOUT_CITY, *p) <= FANOUT_CITY_RADIUS_M * 1.005));
    }

    #[test]
    fn the_grid_reaches_every_point_of_the_disc() {
        let spacing = 6_000.0;
        let grid = grid_over_disc(FANOUT_CITY, FANOUT_CITY_RADIUS_M, spacing);
        assert!((20..=60).contains(&grid.len()), "{}", grid.len());
        let mut rng = StdRng::seed_from_u64(5);
        for _ in 0..5_000 {
            let p = uniform_in_disc(&mut rng, FANOUT_CITY, FANOUT_CITY_RADIUS_M);
            let nearest = grid.iter().map(|g| distance_m(p, *g)).fold(f64::INFINITY, f64::min);
            assert!(nearest <= spacing / 2f64.sqrt() * 1.01, "{nearest}");
        }
    }
}
