//! The little dense linear algebra the geo module needs: 3×3 products and inverses, and the
//! eigen-decomposition of small symmetric matrices (cyclic Jacobi).
//!
//! Pure arithmetic: no I/O, no clock.

/// A 3×3 matrix, row-major.
pub(crate) type Mat3 = [[f64; 3]; 3];

/// `a · b`.
pub(crate) fn mat3_mul(a: &Mat3, b: &Mat3) -> Mat3 {
    let mut out = [[0.0; 3]; 3];
    for (i, row) in out.iter_mut().enumerate() {
        for (j, cell) in row.iter_mut().enumerate() {
            *cell = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    out
}

/// `aᵀ`.
pub(crate) fn mat3_transpose(a: &Mat3) -> Mat3 {
    let mut out = [[0.0; 3]; 3];
    for (i, row) in out.iter_mut().enumerate() {
        for (j, cell) in row.iter_mut().enumerate() {
            *cell = a[j][i];
        }
    }
    out
}

/// `a · v`.
pub(crate) fn mat3_apply(a: &Mat3, v: [f64; 3]) -> [f64; 3] {
    [
        a[0][0] * v[0] + a[0][1] * v[1] + a[0][2] * v[2],
        a[1][0] * v[0] + a[1][1] * v[1] + a[1][2] * v[2],
        a[2][0] * v[0] + a[2][1] * v[1] + a[2][2] * v[2],
    ]
}

/// Determinant of `a`.
pub(crate) fn mat3_det(a: &Mat3) -> f64 {
    a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1])
        - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0])
        + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0])
}

/// The inverse of `a` through its adjugate; `None` when the determinant is zero or not finite, or
/// tiny next to the size of the entries (relative 1e-14 of the largest entry cubed).
pub(crate) fn mat3_inverse(a: &Mat3) -> Option<Mat3> {
    let det = mat3_det(a);
    let scale = a.iter().flatten().fold(0.0_f64, |acc, v| acc.max(v.abs()));
    if !det.is_finite() || scale == 0.0 || det.abs() <= 1e-14 * scale.powi(3) {
        return None;
    }
    let cof =
        |r0: usize, r1: usize, c0: usize, c1: usize| a[r0][c0] * a[r1][c1] - a[r0][c1] * a[r1][c0];
    // Adjugate = transpose of the cofactor matrix.
    let adj = [
        [cof(1, 2, 1, 2), -cof(0, 2, 1, 2), cof(0, 1, 1, 2)],
        [-cof(1, 2, 0, 2), cof(0, 2, 0, 2), -cof(0, 1, 0, 2)],
        [cof(1, 2, 0, 1), -cof(0, 2, 0, 1), cof(0, 1, 0, 1)],
    ];
    let mut out = [[0.0; 3]; 3];
    for (i, row) in out.iter_mut().enumerate() {
        for (j, cell) in row.iter_mut().enumerate() {
            *cell = adj[i][j] / det;
        }
    }
    Some(out)
}

/// Eigen-decomposition of the symmetric matrix `a` by cyclic Jacobi rotations.
///
/// Returns the eigenvalues in ascending order and, for each, its unit eigenvector (so
/// `vectors[k]` belongs to `values[k]`). Only the upper triangle's symmetry is assumed, not
/// checked.
// Index loops read closest to the textbook rotation formulas here.
#[allow(clippy::needless_range_loop)]
pub(crate) fn symmetric_eigen<const N: usize>(a: &[[f64; N]; N]) -> ([f64; N], [[f64; N]; N]) {
    let mut a = *a;
    // v accumulates the rotations; its columns are the eigenvectors.
    let mut v = [[0.0; N]; N];
    for (i, row) in v.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    let norm2: f64 = a.iter().flatten().map(|x| x * x).sum();
    for _sweep in 0..100 {
        let mut off2 = 0.0;
        for p in 0..N {
            for q in (p + 1)..N {
                off2 += a[p][q] * a[p][q];
            }
        }
        if off2 <= 1e-32 * norm2 || off2 == 0.0 {
            break;
        }
        for p in 0..N {
            for q in (p + 1)..N {
                let apq = a[p][q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q][q] - a[p][p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for row in a.iter_mut() {
                    let (akp, akq) = (row[p], row[q]);
                    row[p] = c * akp - s * akq;
                    row[q] = s * akp + c * akq;
                }
                for k in 0..N {
                    let (apk, aqk) = (a[p][k], a[q][k]);
                    a[p][k] = c * apk - s * aqk;
                    a[q][k] = s * apk + c * aqk;
                }
                for row in v.iter_mut() {
                    let (vkp, vkq) = (row[p], row[q]);
                    row[p] = c * vkp - s * vkq;
                    row[q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: [usize; N] = std::array::from_fn(|i| i);
    order.sort_by(|&i, &j| a[i][i].total_cmp(&a[j][j]));
    let values = std::array::from_fn(|k| a[order[k]][order[k]]);
    let vectors = std::array::from_fn(|k| std::array::from_fn(|i| v[i][order[k]]));
    (values, vectors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_round_trips() {
        let a = [[2.0, 1.0, 0.5], [0.0, 3.0, -1.0], [1.0, 0.25, 4.0]];
        let inv = mat3_inverse(&a).unwrap();
        let id = mat3_mul(&a, &inv);
        for (i, row) in id.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((v - want).abs() < 1e-14, "{id:?}");
            }
        }
        assert!(mat3_inverse(&[[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 1.0, 1.0]]).is_none());
    }

    #[test]
    fn jacobi_recovers_a_known_spectrum() {
        // Q · diag(d) · Qᵀ with Q a rotation built from two Givens rotations.
        let d = [5.0, -1.0, 0.001, 2.0];
        let (c1, s1) = (0.6_f64, 0.8_f64);
        let (c2, s2) = (0.28_f64, 0.96_f64);
        let mut q = [[0.0; 4]; 4];
        q[0] = [c1, -s1, 0.0, 0.0];
        q[1] = [s1, c1, 0.0, 0.0];
        q[2] = [0.0, 0.0, c2, -s2];
        q[3] = [0.0, 0.0, s2, c2];
        // Mix the two blocks as well.
        let mix = |m: [[f64; 4]; 4]| {
            let h = std::f64::consts::FRAC_1_SQRT_2;
            let r = [
                [h, 0.0, h, 0.0],
                [0.0, 1.0, 0.0, 0.0],
                [-h, 0.0, h, 0.0],
                [0.0, 0.0, 0.0, 1.0],
            ];
            let mut out = [[0.0; 4]; 4];
            for i in 0..4 {
                for j in 0..4 {
                    out[i][j] = (0..4).map(|k| r[i][k] * m[k][j]).sum();
                }
            }
            out
        };
        let q = mix(q);
        let mut a = [[0.0; 4]; 4];
        for i in 0..4 {
            for j in 0..4 {
                a[i][j] = (0..4).map(|k| q[i][k] * d[k] * q[j][k]).sum();
            }
        }
        let (values, vectors) = symmetric_eigen(&a);
        let mut want = d;
        want.sort_by(f64::total_cmp);
        for k in 0..4 {
            assert!((values[k] - want[k]).abs() < 1e-12, "{values:?}");
            // A v = λ v
            for i in 0..4 {
                let av: f64 = (0..4).map(|j| a[i][j] * vectors[k][j]).sum();
                assert!((av - values[k] * vectors[k][i]).abs() < 1e-12);
            }
        }
    }
}
