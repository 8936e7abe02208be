//! Plane-to-plane projective maps (homographies) and their fit from point pairs by the
//! normalised direct linear transform.
//!
//! Pure arithmetic: no I/O, no clock.
//!
//! Sign convention: a homography maps `(x, y)` to `(X/W, Y/W)` with `[X, Y, W] = m · [x, y, 1]`.
//! A point is *in front* when `W > 0`; [`fit_dlt`] orients its result so that the majority of the
//! fitted points are in front, and [`Homography::inverse`] keeps that orientation (if `m` sends a
//! front point `p` to `q` with `W > 0`, the inverse sends `q` back to `p` with `W' = 1/W > 0`).
//! For a camera this is what separates the ground below the horizon from the mirror image that the
//! same algebra produces above it.

use super::linalg::{mat3_apply, mat3_inverse, mat3_mul, mat3_transpose, symmetric_eigen, Mat3};
use super::GeoError;
use serde::{Deserialize, Serialize};

/// Largest condition number accepted for a fitted homography, measured in the normalised
/// coordinates of the fit (where a healthy fit is in the single or low double digits).
const MAX_CONDITION: f64 = 1e6;

/// One correspondence for [`fit_dlt`]: `(source (x, y), target (x, y))`.
pub type PointPair = ((f64, f64), (f64, f64));

/// A projective map of the plane, `m` row-major (see the module doc for the sign convention).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Homography {
    pub m: [[f64; 3]; 3],
}

impl Homography {
    /// The map that changes nothing.
    pub fn identity() -> Self {
        Self {
            m: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        }
    }

    /// The homogeneous weight `W` of `(x, y)`: positive in front, zero on the line that maps to
    /// infinity (a camera's horizon), negative behind.
    pub fn w(&self, x: f64, y: f64) -> f64 {
        self.m[2][0] * x + self.m[2][1] * y + self.m[2][2]
    }

    /// The image of `(x, y)`; `None` when `W` is zero, negative (behind), or too small to divide
    /// by (relative 1e-12 of its terms), or the result is not finite.
    pub fn apply(&self, (x, y): (f64, f64)) -> Option<(f64, f64)> {
        let [px, py, w] = mat3_apply(&self.m, [x, y, 1.0]);
        let scale = (self.m[2][0] * x).abs() + (self.m[2][1] * y).abs() + self.m[2][2].abs();
        if w.is_nan() || w <= 1e-12 * scale {
            return None;
        }
        let out = (px / w, py / w);
        (out.0.is_finite() && out.1.is_finite()).then_some(out)
    }

    /// The inverse map, with the same front/behind orientation; `None` when `m` is singular.
    pub fn inverse(&self) -> Option<Homography> {
        let inv = mat3_inverse(&self.m)?;
        Some(Homography { m: normalised(inv) })
    }
}

/// `m` scaled by a positive factor so that `|m[2][2]| = 1` (or, when `m[2][2]` is about zero, so
/// that the Frobenius norm is 1). A positive factor keeps the front/behind orientation.
fn normalised(m: Mat3) -> Mat3 {
    let frob = m.iter().flatten().map(|v| v * v).sum::<f64>().sqrt();
    let d = if m[2][2].abs() > 1e-9 * frob {
        m[2][2].abs()
    } else {
        frob
    };
    m.map(|row| row.map(|v| v / d))
}

/// Hartley's conditioning transform: moves the points' centroid to the origin and scales their
/// mean distance from it to √2.
fn conditioning(points: impl Iterator<Item = (f64, f64)> + Clone) -> Option<Mat3> {
    let n = points.clone().count() as f64;
    let (sx, sy) = points
        .clone()
        .fold((0.0, 0.0), |(ax, ay), (x, y)| (ax + x, ay + y));
    let (cx, cy) = (sx / n, sy / n);
    let mean_dist = points.map(|(x, y)| (x - cx).hypot(y - cy)).sum::<f64>() / n;
    if !mean_dist.is_finite() || mean_dist <= 0.0 {
        return None;
    }
    let s = std::f64::consts::SQRT_2 / mean_dist;
    Some([[s, 0.0, -s * cx], [0.0, s, -s * cy], [0.0, 0.0, 1.0]])
}

/// Fits the homography that sends each pair's first point to its second.
///
/// Normalised DLT (Hartley & Zisserman, *Multiple View Geometry*, alg. 4.2): both point sets are
/// conditioned (centroid to the origin, mean distance √2), the 2n × 9 system `A h = 0` is solved in
/// the least-squares sense as the eigenvector of `AᵀA` with the smallest eigenvalue, and the result
/// is brought back to the original coordinates. Exactly 4 pairs give an exact fit; more give the
/// algebraic least-squares fit. The result is oriented so that most source points are in front
/// (`W > 0`) and scaled so that `m[2][2] = 1` when it is positive (−1 when the source origin lies
/// behind; Frobenius norm 1 when `m[2][2]` is about zero).
///
/// Refuses fewer than 4 pairs, non-finite coordinates, point sets that do not determine one
/// homography (all coincident, collinear) and (nearly) singular results.
pub fn fit_dlt(pairs: &[PointPair]) -> Result<Homography, GeoError> {
    if pairs.len() < 4 {
        return Err(GeoError::TooFewPairs { got: pairs.len() });
    }
    if let Some(index) = pairs
        .iter()
        .position(|((x, y), (u, v))| ![x, y, u, v].iter().all(|c| c.is_finite()))
    {
        return Err(GeoError::NonFinite { index });
    }
    let t_src = conditioning(pairs.iter().map(|p| p.0))
        .ok_or_else(|| GeoError::Degenerate("all source points coincide".into()))?;
    let t_dst = conditioning(pairs.iter().map(|p| p.1))
        .ok_or_else(|| GeoError::Degenerate("all target points coincide".into()))?;

    let mut ata = [[0.0; 9]; 9];
    for &(src, dst) in pairs {
        let [x, y, _] = mat3_apply(&t_src, [src.0, src.1, 1.0]);
        let [u, v, _] = mat3_apply(&t_dst, [dst.0, dst.1, 1.0]);
        let rows = [
            [-x, -y, -1.0, 0.0, 0.0, 0.0, u * x, u * y, u],
            [0.0, 0.0, 0.0, -x, -y, -1.0, v * x, v * y, v],
        ];
        for row in &rows {
            for i in 0..9 {
                for j in 0..9 {
                    ata[i][j] += row[i] * row[j];
                }
            }
        }
    }
    let (values, vectors) = symmetric_eigen(&ata);
    // A one-dimensional null space is what makes the homography unique; a second (nearly) zero
    // eigenvalue means the points leave a family of solutions open.
    if values[1].is_nan() || values[1] <= 1e-10 * values[8] {
        return Err(GeoError::Degenerate(
            "the points leave more than one solution (collinear or repeated points)".into(),
        ));
    }
    let h = vectors[0];
    let h_norm: Mat3 = [[h[0], h[1], h[2]], [h[3], h[4], h[5]], [h[6], h[7], h[8]]];

    // Condition number of the conditioned homography from the eigenvalues of HᵀH.
    let (sv2, _) = symmetric_eigen(&mat3_mul(&mat3_transpose(&h_norm), &h_norm));
    let condition = if sv2[0] > 0.0 {
        (sv2[2] / sv2[0]).sqrt()
    } else {
        f64::INFINITY
    };
    if condition.is_nan() || condition > MAX_CONDITION {
        return Err(GeoError::IllConditioned { condition });
    }

    let t_dst_inv = mat3_inverse(&t_dst).expect("a conditioning transform has a non-zero scale");
    let mut m = mat3_mul(&t_dst_inv, &mat3_mul(&h_norm, &t_src));
    let front = pairs
        .iter()
        .map(|((x, y), _)| m[2][0] * x + m[2][1] * y + m[2][2])
        .fold(0_i64, |acc, w| {
            acc + i64::from(w > 0.0) - i64::from(w < 0.0)
        });
    if front < 0 {
        m = m.map(|row| row.map(|v| -v));
    }
    Ok(Homography { m: normalised(m) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_h() -> Homography {
        Homography {
            m: [[1.2, 0.1, 30.0], [-0.05, 0.9, -12.0], [0.0004, 0.0011, 1.0]],
        }
    }

    fn pairs_for(h: &Homography, src: &[(f64, f64)]) -> Vec<((f64, f64), (f64, f64))> {
        src.iter().map(|&p| (p, h.apply(p).unwrap())).collect()
    }

    fn assert_same(a: &Homography, b: &Homography, tol: f64) {
        for i in 0..3 {
            for j in 0..3 {
                assert!(
                    (a.m[i][j] - b.m[i][j]).abs() <= tol * (1.0 + b.m[i][j].abs()),
                    "{a:?} vs {b:?}"
                );
            }
        }
    }

    #[test]
    fn recovers_an_exact_homography_from_4_and_from_9_pairs() {
        let h = sample_h();
        let four = [(0.0, 0.0), (640.0, 0.0), (640.0, 480.0), (0.0, 480.0)];
        assert_same(&fit_dlt(&pairs_for(&h, &four)).unwrap(), &h, 1e-9);
        let nine: Vec<_> = (0..9)
            .map(|k| ((k % 3) as f64 * 300.0 + 7.0, (k / 3) as f64 * 200.0 - 3.0))
            .collect();
        assert_same(&fit_dlt(&pairs_for(&h, &nine)).unwrap(), &h, 1e-9);
    }

    #[test]
    fn inverse_undoes_apply_and_keeps_front_points_in_front() {
        let h = sample_h();
        let inv = h.inverse().unwrap();
        for p in [(0.0, 0.0), (100.0, 400.0), (-50.0, 20.0)] {
            let q = h.apply(p).unwrap();
            let back = inv.apply(q).unwrap();
            assert!((back.0 - p.0).abs() < 1e-9 && (back.1 - p.1).abs() < 1e-9);
        }
        let singular = Homography {
            m: [[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 0.0, 1.0]],
        };
        assert!(singular.inverse().is_none());
    }

    #[test]
    fn apply_refuses_the_line_at_infinity_and_points_behind() {
        let h = Homography {
            m: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0, -100.0]],
        };
        assert!(h.apply((5.0, 100.0)).is_none(), "on the horizon");
        assert!(h.apply((5.0, 50.0)).is_none(), "behind");
        assert_eq!(h.apply((5.0, 200.0)), Some((0.05, 2.0)));
    }

    #[test]
    fn orientation_puts_the_fitted_points_in_front() {
        // A map whose W is negative at the source origin but positive at the points.
        let h = Homography {
            m: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.01, -1.0]],
        };
        let src = [
            (0.0, 200.0),
            (50.0, 300.0),
            (-40.0, 250.0),
            (10.0, 400.0),
            (30.0, 220.0),
        ];
        let fit = fit_dlt(&pairs_for(&h, &src)).unwrap();
        assert!((fit.m[2][2] + 1.0).abs() < 1e-12, "{fit:?}");
        for p in src {
            assert!(fit.w(p.0, p.1) > 0.0);
        }
        assert_same(&fit, &h, 1e-9);
    }

    #[test]
    fn refusals() {
        let h = sample_h();
        let three = pairs_for(&h, &[(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)]);
        assert_eq!(fit_dlt(&three), Err(GeoError::TooFewPairs { got: 3 }));

        let mut nan = pairs_for(&h, &[(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)]);
        nan[2].1 .0 = f64::NAN;
        assert_eq!(fit_dlt(&nan), Err(GeoError::NonFinite { index: 2 }));

        let collinear = pairs_for(
            &h,
            &[
                (0.0, 0.0),
                (10.0, 10.0),
                (20.0, 20.0),
                (35.0, 35.0),
                (50.0, 50.0),
            ],
        );
        assert!(matches!(fit_dlt(&collinear), Err(GeoError::Degenerate(_))));

        let same = vec![((1.0, 1.0), (2.0, 2.0)); 4];
        assert!(matches!(fit_dlt(&same), Err(GeoError::Degenerate(_))));

        // Targets on one line: any fit is a singular map.
        let squashed: Vec<_> = [
            (0.0, 0.0),
            (100.0, 0.0),
            (100.0, 100.0),
            (0.0, 100.0),
            (50.0, 30.0),
        ]
        .iter()
        .map(|&(x, y)| ((x, y), (x + y, 2.0 * (x + y))))
        .collect();
        let err = fit_dlt(&squashed).unwrap_err();
        assert!(
            matches!(
                err,
                GeoError::IllConditioned { .. } | GeoError::Degenerate(_)
            ),
            "{err:?}"
        );
    }
}
