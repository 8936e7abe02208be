//! Scene-level tests: determinism, geometry against the homography, box sanity, event timing,
//! moving pedestrians, variant splits, image backgrounds and a cheap render-speed check.

use std::sync::OnceLock;

use super::*;

/// A random scene shrunk to 640 × 360 at 5 fps so debug builds stay quick.
fn small(seed: u64, split: Split) -> SceneSpec {
    let mut s = SceneSpec::random(seed, 4.0, split);
    s.width = 640;
    s.height = 360;
    s.pose.width = 640;
    s.pose.height = 360;
    s.pose.focal_px /= 2.0;
    s.fps = 5;
    s
}

fn demo() -> &'static Scene {
    static DEMO: OnceLock<Scene> = OnceLock::new();
    DEMO.get_or_init(|| Scene::new(SceneSpec::demo()).unwrap())
}

fn frame(scene: &Scene, i: u64) -> Vec<u8> {
    let mut buf = vec![0u8; scene.frame_len()];
    scene.render(i, &mut buf).unwrap();
    buf
}

#[test]
fn same_seed_same_output_different_seed_different_output() {
    let a = Scene::new(small(11, Split::Train)).unwrap();
    let b = Scene::new(small(11, Split::Train)).unwrap();
    let c = Scene::new(small(12, Split::Train)).unwrap();
    let ja = serde_json::to_string(&a.ground_truth()).unwrap();
    let jb = serde_json::to_string(&b.ground_truth()).unwrap();
    let jc = serde_json::to_string(&c.ground_truth()).unwrap();
    assert!(ja == jb, "same seed gave different ground truth");
    assert!(ja != jc, "different seeds gave the same ground truth");
    for i in [0, 7, a.frame_count() - 1] {
        assert!(frame(&a, i) == frame(&b, i), "frame {i} differs");
    }
    assert!(frame(&a, 0) != frame(&c, 0));
    // The ground truth parses back.
    let back: GroundTruth = serde_json::from_str(&ja).unwrap();
    assert_eq!(back.frames.len() as u64, a.frame_count());
    assert_eq!(back.events.len(), a.events().len());
}

#[test]
fn bottom_centre_of_ground_boxes_maps_to_ground_position() {
    let scene = demo();
    let cam = scene.camera();
    let (w, h) = (scene.spec().width as f32, scene.spec().height as f32);
    let mut checked = 0;
    for t in [95.0, 100.0, 120.0, 150.0] {
        let ft = scene.frame_truth((t * 25.0) as u64).unwrap();
        for o in &ft.objects {
            let Some(g) = o.ground else { continue };
            let [x1, y1, x2, y2] = o.bbox;
            let dist = g.east_m.hypot(g.north_m);
            if o.visible_fraction < 0.999
                || x1 <= 0.0
                || y1 <= 0.0
                || x2 >= w
                || y2 >= h
                || dist > 30.0
            {
                continue;
            }
            let p = cam
                .pixel_to_ground(f64::from(x1 + x2) / 2.0, f64::from(y2))
                .unwrap();
            let err = (p[0] - g.east_m).hypot(p[1] - g.north_m);
            assert!(
                err <= 0.2,
                "{:?} track {}: {err:.3} m off at {dist:.1} m",
                o.class,
                o.track_id
            );
            let (lat, lon) = cam.to_wgs84(g.east_m, g.north_m);
            assert!((lat - g.lat).abs() < 1e-12 && (lon - g.lon).abs() < 1e-12);
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} objects checked");
    // Ground events: the box anchor lies within the footprint's reach of its centre.
    for e in scene.events() {
        if let (Some(g), Some(c)) = (e.ground, e.footprint_centre) {
            assert!(
                (g.east_m - c.east_m).hypot(g.north_m - c.north_m) < 2.0,
                "{e:?}"
            );
        }
    }
}

#[test]
fn boxes_lie_inside_the_image_and_fractions_are_sane() {
    for (seed, split) in [(3, Split::Train), (4, Split::HeldOut), (5, Split::Train)] {
        let scene = Scene::new(small(seed, split)).unwrap();
        let (w, h) = (scene.spec().width as f32, scene.spec().height as f32);
        let gt = scene.ground_truth();
        assert_eq!(gt.frames.len() as u64, scene.frame_count());
        for f in &gt.frames {
            for o in &f.objects {
                let [x1, y1, x2, y2] = o.bbox;
                assert!(
                    0.0 <= x1 && x1 < x2 && x2 <= w && 0.0 <= y1 && y1 < y2 && y2 <= h,
                    "{o:?}"
                );
                assert!((0.0..=1.0).contains(&o.visible_fraction), "{o:?}");
                match o.class {
                    ObjectClass::ShopSign => assert!(o.ground.is_none()),
                    ObjectClass::IllegalSignage => {}
                    _ => assert!(o.ground.is_some(), "{o:?}"),
                }
            }
        }
    }
}

#[test]
fn events_are_present_exactly_between_appear_and_leave() {
    let mut spec = small(21, Split::Train);
    spec.events = vec![
        ScriptedEvent {
            category: Category::StreetVending,
            variant: None,
            appear_s: 1.0,
            leave_s: 2.6,
            position: Placement::Auto,
        },
        ScriptedEvent {
            category: Category::IllegalSignage,
            variant: Some(0),
            appear_s: 0.4,
            leave_s: 3.0,
            position: Placement::Auto,
        },
        ScriptedEvent {
            category: Category::SidewalkStacking,
            variant: Some(4),
            appear_s: 2.0,
            leave_s: 99.0,
            position: Placement::Auto,
        },
    ];
    let scene = Scene::new(spec.clone()).unwrap();
    let gt = scene.ground_truth();
    assert_eq!(gt.events.len(), 3);
    for (k, ev) in spec.events.iter().enumerate() {
        let id = k as u32 + 1;
        for f in &gt.frames {
            let present = f.objects.iter().any(|o| o.track_id == id);
            let t = f.index as f64 / f64::from(spec.fps);
            assert_eq!(
                present,
                ev.appear_s <= t && t < ev.leave_s,
                "event {id} at {t}"
            );
            if let Some(o) = f.objects.iter().find(|o| o.track_id == id) {
                assert_eq!(o.class, ev.category.class());
            }
        }
    }
    assert_eq!(gt.events[1].mount, truth::MountKind::Wall);
    assert!(gt.events[1].ground.is_none() && gt.events[1].wall.is_some());
    assert!(gt.events[2].ground.is_some());
}

#[test]
fn pedestrians_move() {
    let mut spec = small(8, Split::Train);
    spec.pedestrians_per_minute = 60.0;
    let scene = Scene::new(spec).unwrap();
    let gt = scene.ground_truth();
    let mut moved = false;
    for f in &gt.frames[..gt.frames.len() - 5] {
        for o in f
            .objects
            .iter()
            .filter(|o| o.class == ObjectClass::Pedestrian)
        {
            let later = gt.frames[f.index as usize + 5]
                .objects
                .iter()
                .find(|p| p.track_id == o.track_id);
            if let (Some(a), Some(b)) = (o.ground, later.and_then(|p| p.ground)) {
                let d = (a.east_m - b.east_m).hypot(a.north_m - b.north_m);
                assert!(d < 2.5, "walked {d} m in one second");
                moved |= d > 0.5;
            }
        }
    }
    assert!(moved, "no pedestrian moved");
}

#[test]
fn splits_use_even_or_odd_variants() {
    for (split, parity) in [(Split::Train, 0), (Split::HeldOut, 1)] {
        let spec = small(31, split);
        let BackgroundSpec::Procedural { variant } = spec.background else {
            panic!("procedural background expected");
        };
        assert_eq!(variant % 2, parity);
        let scene = Scene::new(spec).unwrap();
        for e in scene.events() {
            assert_eq!(e.variant % 2, parity, "{e:?}");
        }
        for f in scene.ground_truth().frames {
            for o in f.objects {
                assert_eq!(o.variant % 2, parity, "{o:?}");
            }
        }
    }
}

#[test]
fn colour_share_recolours_the_scripted_objects_and_nothing_else() {
    let plain = Scene::new(small(11, Split::Train)).unwrap();
    let mut spec = small(11, Split::Train);
    spec.colour_share = 1.0;
    let recoloured = Scene::new(spec.clone()).unwrap();
    // The same boxes, positions and timeline.
    let (a, b) = (plain.ground_truth(), recoloured.ground_truth());
    assert_eq!(a.frames, b.frames);
    assert_eq!(
        serde_json::to_string(&a.events).unwrap(),
        serde_json::to_string(&b.events).unwrap()
    );
    let events = plain.events().len() as u32;
    let w = plain.spec().width as usize;
    let mut changed = 0usize;
    for i in (0..plain.frame_count()).step_by(5) {
        let (fa, fb) = (frame(&plain, i), frame(&recoloured, i));
        let boxes: Vec<[f32; 4]> = plain
            .frame_truth(i)
            .unwrap()
            .objects
            .iter()
            .filter(|o| o.track_id <= events)
            .map(|o| o.bbox)
            .collect();
        for (p, (x, y)) in fa.chunks(3).zip(fb.chunks(3)).enumerate() {
            if x == y {
                continue;
            }
            changed += 1;
            let (px, py) = ((p % w) as f32 + 0.5, (p / w) as f32 + 0.5);
            assert!(
                boxes.iter().any(|bb| px >= bb[0] - 1.0
                    && px <= bb[2] + 1.0
                    && py >= bb[1] - 1.0
                    && py <= bb[3] + 1.0),
                "frame {i}: pixel ({px}, {py}) changed outside every scripted object"
            );
        }
    }
    assert!(changed > 0, "colour_share 1 changed no pixel");
    spec.colour_share = 1.5;
    assert!(matches!(Scene::new(spec), Err(SynthError::InvalidSpec(_))));
}

#[test]
fn image_background_and_errors() {
    let (w, h) = (320u32, 180u32);
    let mut spec = small(5, Split::Train);
    spec.width = w;
    spec.height = h;
    spec.pose.width = w;
    spec.pose.height = h;
    spec.pose.focal_px /= 2.0;
    spec.background = BackgroundSpec::Image {
        width: w,
        height: h,
        rgb: vec![90; (w * h * 3) as usize],
    };
    spec.events = vec![ScriptedEvent {
        category: Category::SidewalkStacking,
        variant: None,
        appear_s: 0.0,
        leave_s: 10.0,
        position: Placement::Auto,
    }];
    let scene = Scene::new(spec.clone()).unwrap();
    let ft = scene.frame_truth(0).unwrap();
    assert!(ft.objects.iter().any(|o| o.track_id == 1));
    assert!(scene.background().iter().all(|&v| v == 90));
    let mut buf = vec![0u8; scene.frame_len()];
    assert!(matches!(
        scene.render(scene.frame_count(), &mut buf),
        Err(SynthError::FrameOutOfRange { .. })
    ));
    assert!(matches!(
        scene.render(0, &mut buf[1..]),
        Err(SynthError::BufferSize { .. })
    ));
    spec.width = 100;
    assert!(matches!(Scene::new(spec), Err(SynthError::InvalidSpec(_))));
}

#[test]
fn renders_five_demo_frames() {
    let scene = demo();
    assert_eq!(scene.frame_count(), 4500);
    let mut buf = vec![0u8; scene.frame_len()];
    let start = std::time::Instant::now();
    for i in 2500..2505 {
        scene.render(i, &mut buf).unwrap();
    }
    let ms = start.elapsed().as_secs_f64() * 1000.0 / 5.0;
    eprintln!("render: {ms:.1} ms per 1280x720 frame (this build profile)");
    assert!(buf.iter().any(|&v| v != buf[0]));
}

#[test]
fn building_materials_of_every_family_are_sand_bags_bricks_or_pipes_per_object() {
    use objects::{Builder, Kind, Material, Prim};
    let builder = Builder {
        fonts: text::fonts().unwrap(),
        colour_share: 0.0,
    };
    // Only the pallet of bricks has textured faces (its courses of bricks).
    let textured = |prims: &[Prim]| {
        prims
            .iter()
            .any(|p| matches!(p, Prim::Face { tex: Some(_), .. }))
    };
    for split in [Split::Train, Split::HeldOut] {
        let families = VariantSet::for_split(split)
            .ids()
            .into_iter()
            .filter(|&v| Kind::of(Category::SidewalkStacking, v) == Kind::Materials);
        for variant in families {
            let mut seen = Vec::new();
            for i in 0..40 {
                let mut instance = rng::Rng::stream(i, 0x5EED);
                let material = Material::of(&instance);
                let model = builder.event(Kind::Materials, variant, &mut instance);
                assert_eq!(
                    textured(&model.prims),
                    material == Material::Bricks,
                    "{split:?} variant {variant}, instance {i}: {material:?}"
                );
                if !seen.contains(&material) {
                    seen.push(material);
                }
            }
            assert_eq!(
                seen.len(),
                3,
                "{split:?} variant {variant} shows only {seen:?}"
            );
        }
    }
}
