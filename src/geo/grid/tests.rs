//! Golden tests for the unit-grid layer: a hand-written layer, every validation error with its
//! path, and generated grids read back.
//!
//! Pure computation on in-memory text: no I/O, no clock.

use super::*;

/// Two cells side by side: A (15-digit code) with a hole, B (14-digit code) a MultiPolygon of
/// two squares, the first sharing A's east edge.
const TWO_CELLS: &str = r#"{
  "type": "FeatureCollection",
  "features": [
    {
      "type": "Feature",
      "properties": {"code": "110101001001001", "name": "东华门 01", "community": "东华门社区",
                     "street": "东华门街道", "unit": "东城区城管委"},
      "geometry": {"type": "Polygon", "coordinates": [
        [[116.390, 39.900], [116.392, 39.900], [116.392, 39.902], [116.390, 39.902], [116.390, 39.900]],
        [[116.3905, 39.9005], [116.3905, 39.9015], [116.3915, 39.9015], [116.3915, 39.9005], [116.3905, 39.9005]]
      ]}
    },
    {
      "type": "Feature",
      "properties": {"code": "11010100100102", "name": "东华门 02", "street": null, "unit": "  "},
      "geometry": {"type": "MultiPolygon", "coordinates": [
        [[[116.392, 39.900], [116.394, 39.900], [116.394, 39.902], [116.392, 39.902], [116.392, 39.900, 45.0]]],
        [[[116.400, 39.900], [116.401, 39.900], [116.401, 39.901], [116.400, 39.901], [116.400, 39.900]]]
      ]}
    }
  ]
}"#;

#[test]
fn hand_written_layer_reads_and_looks_up() {
    let layer = GridLayer::from_geojson(TWO_CELLS).unwrap();
    assert_eq!(layer.len(), 2);
    let a = layer.cell("110101001001001").unwrap();
    assert_eq!(a.division(), "110101");
    assert_eq!(a.name.as_deref(), Some("东华门 01"));
    assert_eq!(a.unit.as_deref(), Some("东城区城管委"));
    assert_eq!(a.polygons.len(), 1);
    assert_eq!(a.polygons[0].holes.len(), 1);
    let b = layer.cell("11010100100102").unwrap();
    assert_eq!(b.community, None);
    assert_eq!(b.street, None, "null reads as None");
    assert_eq!(b.unit, None, "blank reads as None");
    assert_eq!(b.polygons.len(), 2);

    let cases: [(&str, f64, f64, Option<&str>); 8] = [
        ("inside A", 39.9018, 116.3908, Some("110101001001001")),
        (
            "inside A, beside the hole",
            39.9010,
            116.3902,
            Some("110101001001001"),
        ),
        ("in A's hole", 39.9010, 116.3910, None),
        ("inside B", 39.9010, 116.3930, Some("11010100100102")),
        (
            "inside B's second polygon",
            39.9005,
            116.4005,
            Some("11010100100102"),
        ),
        ("between B's polygons", 39.9010, 116.3970, None),
        ("north of everything", 39.9100, 116.3910, None),
        ("not a number", f64::NAN, 116.3910, None),
    ];
    for (what, lat, lon, want) in cases {
        let got = layer.lookup(lat, lon).map(|c| c.code.as_str());
        assert_eq!(got, want, "{what}");
    }
    // A point on the shared edge goes to exactly one of the two.
    let on_edge = layer.lookup(39.901, 116.392).map(|c| c.code.clone());
    assert!(on_edge.is_some());
    assert_eq!(layer.cells().len(), 2);
}

/// A layer of the given features.
fn layer_of(features: &[String]) -> String {
    format!(
        r#"{{"type": "FeatureCollection", "features": [{}]}}"#,
        features.join(",")
    )
}

/// A feature with this code and geometry.
fn feature(code: &str, geometry: &str) -> String {
    format!(r#"{{"type": "Feature", "properties": {{"code": {code}}}, "geometry": {geometry}}}"#)
}

fn polygon(rings: &str) -> String {
    format!(r#"{{"type": "Polygon", "coordinates": {rings}}}"#)
}

const SQUARE: &str =
    "[[[116.39, 39.90], [116.40, 39.90], [116.40, 39.91], [116.39, 39.91], [116.39, 39.90]]]";

#[test]
fn each_invalid_layer_names_its_path() {
    let good = || polygon(SQUARE);
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "not JSON",
            "{".into(),
            vec!["(root): not valid JSON: "],
        ),
        (
            "an array",
            "[]".into(),
            vec!["(root): not a FeatureCollection: expected an object, found an array"],
        ),
        (
            "a Feature",
            feature(r#""11010100100101""#, &good()),
            vec![
                r#"type: not a FeatureCollection (type is "Feature")"#,
                "features: missing",
            ],
        ),
        (
            "short code",
            layer_of(&[feature(r#""1101""#, &good())]),
            vec![r#"features[0].properties.code: "1101" is not 14 or 15 digits"#],
        ),
        (
            "code with a letter",
            layer_of(&[feature(r#""11010100100101A""#, &good())]),
            vec![r#"features[0].properties.code: "11010100100101A" is not 14 or 15 digits"#],
        ),
        (
            "numeric code",
            layer_of(&[feature("11010100100101", &good())]),
            vec!["features[0].properties.code: expected a string of 14 or 15 digits, found a number"],
        ),
        (
            "no properties",
            layer_of(&[format!(r#"{{"type": "Feature", "geometry": {}}}"#, good())]),
            vec!["features[0].properties: missing (a cell needs at least a code)"],
        ),
        (
            "name not a string",
            layer_of(&[format!(
                r#"{{"type": "Feature", "properties": {{"code": "11010100100101", "name": 7}}, "geometry": {}}}"#,
                good()
            )]),
            vec!["features[0].properties.name: expected a string, found a number"],
        ),
        (
            "ring of 3 positions",
            layer_of(&[feature(
                r#""11010100100101""#,
                &polygon("[[[116.39, 39.90], [116.40, 39.90], [116.39, 39.90]]]"),
            )]),
            vec!["features[0].geometry: ring 0 has 3 positions, needs ≥ 4 (closed)"],
        ),
        (
            "ring not closed",
            layer_of(&[feature(
                r#""11010100100101""#,
                &polygon("[[[116.39, 39.90], [116.40, 39.90], [116.40, 39.91], [116.39, 39.91]]]"),
            )]),
            vec!["features[0].geometry: ring 0 is not closed (first and last positions differ)"],
        ),
        (
            "bow tie",
            layer_of(&[feature(
                r#""11010100100101""#,
                &polygon("[[[116.39, 39.90], [116.40, 39.91], [116.40, 39.90], [116.39, 39.91], [116.39, 39.90]]]"),
            )]),
            vec!["features[0].geometry: ring 0 crosses itself at edges 0 and 2"],
        ),
        (
            "a crossing further round a longer ring",
            layer_of(&[feature(
                r#""11010100100101""#,
                // A seven-sided ring whose edge 5 cuts back across edge 1.
                &polygon("[[[0, 0], [4, 0], [5, 2], [5, 4], [3, 5], [6, 1], [0, 5], [0, 0]]]"),
            )]),
            vec!["features[0].geometry: ring 0 crosses itself at edges 1 and 5"],
        ),
        (
            "figure eight touching at a vertex",
            layer_of(&[feature(
                r#""11010100100101""#,
                &polygon("[[[0, 0], [2, 0], [1, 1], [2, 2], [0, 2], [1, 1], [0, 0]]]"),
            )]),
            vec!["features[0].geometry: ring 0 crosses itself at edges 1 and 4"],
        ),
        (
            "spike doubling back",
            layer_of(&[feature(
                r#""11010100100101""#,
                &polygon("[[[0, 0], [2, 0], [2, 2], [2, 1], [0, 0]]]"),
            )]),
            vec!["features[0].geometry: ring 0 crosses itself at edges 1 and 2"],
        ),
        (
            "hole crossing itself in a MultiPolygon",
            layer_of(&[feature(
                r#""11010100100101""#,
                &format!(
                    r#"{{"type": "MultiPolygon", "coordinates": [{SQUARE}, [[[0, 0], [9, 0], [9, 9], [0, 9], [0, 0]], [[1, 1], [3, 3], [3, 1], [1, 3], [1, 1]]]]}}"#
                ),
            )]),
            vec!["features[0].geometry: polygon 1 ring 1 crosses itself at edges 0 and 2"],
        ),
        (
            "longitude out of range",
            layer_of(&[feature(
                r#""11010100100101""#,
                &polygon("[[[116.39, 39.90], [200.0, 39.90], [200.0, 39.91], [116.39, 39.91], [116.39, 39.90]]]"),
            )]),
            vec!["features[0].geometry: ring 0 position 1 [200, 39.9] is outside the WGS84 range (lon −180..180, lat −90..90) (and 1 more)"],
        ),
        (
            "position not a pair",
            layer_of(&[feature(
                r#""11010100100101""#,
                &polygon(r#"[[[116.39, 39.90], [116.40], [116.40, 39.91], [116.39, 39.91], [116.39, 39.90]]]"#),
            )]),
            vec!["features[0].geometry: ring 0 position 1 is not a [lon, lat] pair of numbers"],
        ),
        (
            "a point",
            layer_of(&[feature(r#""11010100100101""#, r#"{"type": "Point", "coordinates": [116.39, 39.9]}"#)]),
            vec![r#"features[0].geometry.type: "Point" is not Polygon or MultiPolygon"#],
        ),
        (
            "no geometry",
            layer_of(&[r#"{"type": "Feature", "properties": {"code": "11010100100101"}, "geometry": null}"#.into()]),
            vec!["features[0].geometry: missing (a cell needs a Polygon or MultiPolygon)"],
        ),
        (
            "duplicate code",
            layer_of(&[
                feature(r#""11010100100101""#, &good()),
                feature(r#""11010100100102""#, &good()),
                feature(r#""11010100100101""#, &good()),
            ]),
            vec![r#"features[2].properties.code: duplicate code "11010100100101" (first at features[0])"#],
        ),
        (
            "several problems at once, in order",
            layer_of(&[
                feature(r#""1101""#, &good()),
                feature(r#""11010100100101""#, &polygon("[[[0, 0], [1, 0], [0, 0]]]")),
                "42".into(),
            ]),
            vec![
                r#"features[0].properties.code: "1101" is not 14 or 15 digits"#,
                "features[1].geometry: ring 0 has 3 positions, needs ≥ 4 (closed)",
                "features[2]: expected a Feature object, found a number",
            ],
        ),
    ];
    for (what, text, want) in cases {
        let errors = GridLayer::from_geojson(&text).expect_err(what);
        let shown = errors.to_string();
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(lines.len(), want.len(), "{what}: {shown}");
        for (line, want) in lines.iter().zip(&want) {
            assert!(
                line.starts_with(want),
                "{what}: got {line:?}, want {want:?}"
            );
        }
    }
}

fn spec_1km(division: &str) -> (GridSpec, LocalTangentPlane) {
    let plane = LocalTangentPlane::new(39.90, 116.38);
    let (_, max_lon) = plane.to_wgs84(1000.0, 0.0);
    let (max_lat, _) = plane.to_wgs84(0.0, 1000.0);
    let spec = GridSpec {
        min_lat: 39.90,
        min_lon: 116.38,
        max_lat,
        max_lon,
        cell_m: 100.0,
        division: division.into(),
    };
    (spec, plane)
}

#[test]
fn generated_grid_reads_back_with_the_documented_codes() {
    let (spec, plane) = spec_1km("110101");
    let text = generate(&spec).unwrap();
    let layer = GridLayer::from_geojson(&text).unwrap();
    assert_eq!(layer.len(), 100);
    for cell in layer.cells() {
        assert_eq!(cell.code.len(), 14);
        assert!(cell.code.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(cell.division(), "110101");
        assert_eq!(&cell.code[6..9], "001", "one street");
        let grid: usize = cell.code[12..].parse().unwrap();
        assert!((1..=81).contains(&grid));
        assert_eq!(
            cell.name.as_deref(),
            Some(format!("网格 {}-{}", &cell.code[..12], &cell.code[12..]).as_str())
        );
        assert_eq!(
            cell.community.as_deref(),
            Some(format!("社区 {}", &cell.code[9..12]).as_str())
        );
        assert_eq!(cell.street.as_deref(), Some("街道 001"));
        assert_eq!(cell.unit, None);
    }
    // 10 × 10 cells: a full 9 × 9 community and three partial ones.
    let per_community = |c: &str| layer.cells().iter().filter(|x| &x.code[9..12] == c).count();
    assert_eq!(
        [
            per_community("001"),
            per_community("002"),
            per_community("005"),
            per_community("006")
        ],
        [81, 9, 9, 1]
    );
    // Cell centres hit the expected codes: (row from the south, column from the west).
    let cases = [
        ((0, 0), "11010100100101"),
        ((0, 8), "11010100100109"),
        ((1, 0), "11010100100110"),
        ((3, 4), "11010100100132"),
        ((8, 8), "11010100100181"),
        ((0, 9), "11010100100201"),
        ((9, 2), "11010100100503"),
        ((9, 9), "11010100100601"),
    ];
    for ((row, col), want) in cases {
        let (lat, lon) = plane.to_wgs84((col as f64 + 0.5) * 100.0, (row as f64 + 0.5) * 100.0);
        assert_eq!(
            layer.lookup(lat, lon).map(|c| c.code.as_str()),
            Some(want),
            "({row}, {col})"
        );
        // Near a corner, still inside.
        let (lat, lon) = plane.to_wgs84(col as f64 * 100.0 + 1.0, row as f64 * 100.0 + 99.0);
        assert_eq!(
            layer.lookup(lat, lon).map(|c| c.code.as_str()),
            Some(want),
            "({row}, {col}) corner"
        );
    }
    // Outside the grid.
    let (lat, lon) = plane.to_wgs84(-5.0, 500.0);
    assert!(layer.lookup(lat, lon).is_none());
    // Every cell is a 100 m square in the plane.
    for cell in layer.cells() {
        let ring: Vec<_> = cell.polygons[0]
            .exterior
            .iter()
            .map(|p| plane.point_to_enu(*p))
            .collect();
        for w in ring.windows(2) {
            let side = (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1);
            assert!((side - 100.0).abs() < 1e-6, "{side}");
        }
    }
}

#[test]
fn generated_streets_are_numbered_row_major() {
    // 5 km × 2 km at 100 m: 50 × 20 cells, streets of 36 × 36 cells: 2 streets.
    let plane = LocalTangentPlane::new(31.20, 121.40);
    let (_, max_lon) = plane.to_wgs84(5000.0, 0.0);
    let (max_lat, _) = plane.to_wgs84(0.0, 2000.0);
    let spec = GridSpec {
        min_lat: 31.20,
        min_lon: 121.40,
        max_lat,
        max_lon,
        cell_m: 100.0,
        division: "310101".into(),
    };
    let layer = GridLayer::from_geojson(&generate(&spec).unwrap()).unwrap();
    assert_eq!(layer.len(), 1000);
    // Column 40 is in the second street, its community column (40 / 9) % 4 = 0, row 12 is in
    // community row 1: community 1 × 4 + 0 + 1 = 005; cell (12 % 9) × 9 + 40 % 9 + 1 = 32.
    let (lat, lon) = plane.to_wgs84(40.5 * 100.0, 12.5 * 100.0);
    assert_eq!(layer.lookup(lat, lon).unwrap().code, "31010100200532");
    let codes: Vec<_> = layer.cells().iter().map(|c| c.code.clone()).collect();
    let mut sorted = codes.clone();
    sorted.sort();
    assert_eq!(codes, sorted, "features in code order");
}

#[test]
fn generate_refusals() {
    let (good, _) = spec_1km("110101");
    let with = |f: &dyn Fn(&mut GridSpec)| {
        let mut s = good.clone();
        f(&mut s);
        s
    };
    let cases: Vec<(&str, GridSpec, &str)> = vec![
        (
            "short division",
            with(&|s| s.division = "1101".into()),
            r#"division "1101" is not 6 digits"#,
        ),
        (
            "letters in division",
            with(&|s| s.division = "11010a".into()),
            r#"division "11010a" is not 6 digits"#,
        ),
        (
            "inverted",
            with(&|s| std::mem::swap(&mut s.min_lat, &mut s.max_lat)),
            "inverted bounding box",
        ),
        (
            "empty",
            with(&|s| s.max_lon = s.min_lon),
            "empty bounding box",
        ),
        (
            "zero cell",
            with(&|s| s.cell_m = 0.0),
            "cell_m 0 is below 1 m",
        ),
        (
            "NaN",
            with(&|s| s.max_lat = f64::NAN),
            "a bound or the cell size is not a finite number",
        ),
        (
            "too many cells",
            with(&|s| s.cell_m = 3.0),
            "the box would make 111556 cells (334 × 334), more than 100000",
        ),
        (
            "too large",
            with(&|s| {
                s.max_lat = 40.5;
                s.cell_m = 1000.0;
            }),
            "bounding box is 1.0 km × 66.6 km, over 50 km on a side",
        ),
    ];
    for (what, spec, want) in cases {
        let err = generate(&spec).expect_err(what);
        let msg = err.to_string();
        let want = format!("invalid grid specification: {want}");
        assert!(msg.starts_with(&want), "{what}: got {msg:?}, want {want:?}");
    }
}
