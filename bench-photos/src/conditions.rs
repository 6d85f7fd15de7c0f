//! The conditions of the photo set, each at three levels of difficulty, and the photos made
//! from them.
//!
//! Every photo starts from an ordinary hand-held shot: a 2016 × 1512 photo (portrait or
//! landscape), the code's symbol about 40 % of the shorter side, turned up to ±10°, tilted up to
//! 8°, off centre, mild lens blur and sensor noise, JPEG at quality 90. A condition then pushes
//! one thing (or, for `combined`, several) to its level. Printed cards carry ECC Q, screens ECC M,
//! as the issuer renders them.

use image::GrayImage;

use permit_issuer::render::{self, Ecc, QrMatrix, RenderOptions};

use crate::BenchError;
use crate::rng::Rng;
use crate::scene::{self, Medium, Scene};

/// One kind of difficulty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Turned in the image plane: 10–25°, 30–60°, any angle.
    Rotation,
    /// Plane tilted away from the camera: 12°, 22°, 32°.
    Perspective,
    /// Out of focus: Gaussian σ of 0.35, 0.55, 0.75 module.
    Blur,
    /// Sensor noise: σ 14, 28, 45 levels (the last also under-exposed).
    Noise,
    /// JPEG quality 30, 12, 5.
    Jpeg,
    /// Uneven light: a shadow edge across the code and a glare highlight on it.
    Light,
    /// Faded: black and white 45, 28, 18 % of the range apart.
    Contrast,
    /// A small code in a 12 Mpx photo: 2.6, 1.8, 1.3 pixels a module.
    Small,
    /// The code fills the frame: quiet zone 4, 2, 1 module(s) wide in the frame.
    Large,
    /// A phone screen photographed close: its sub-pixel grid beats with the sensor's.
    Moire,
    /// Light modules on a dark screen (dark mode), then turned, tilted, noisy, blurred.
    Inverted,
    /// Mirrored (front camera), then turned, tilted, noisy.
    Mirrored,
    /// Several at once: tilt, blur, noise, JPEG, uneven light, fading.
    Combined,
}

impl Condition {
    /// All conditions, in report order.
    pub const ALL: [Condition; 13] = [
        Condition::Rotation,
        Condition::Perspective,
        Condition::Blur,
        Condition::Noise,
        Condition::Jpeg,
        Condition::Light,
        Condition::Contrast,
        Condition::Small,
        Condition::Large,
        Condition::Moire,
        Condition::Inverted,
        Condition::Mirrored,
        Condition::Combined,
    ];

    /// The levels of difficulty.
    pub const LEVELS: [u8; 3] = [1, 2, 3];

    /// Its name in file names and reports.
    pub fn name(self) -> &'static str {
        match self {
            Condition::Rotation => "rotation",
            Condition::Perspective => "perspective",
            Condition::Blur => "blur",
            Condition::Noise => "noise",
            Condition::Jpeg => "jpeg",
            Condition::Light => "light",
            Condition::Contrast => "contrast",
            Condition::Small => "small",
            Condition::Large => "large",
            Condition::Moire => "moire",
            Condition::Inverted => "inverted",
            Condition::Mirrored => "mirrored",
            Condition::Combined => "combined",
        }
    }

    /// The condition called `name`.
    pub fn from_name(name: &str) -> Option<Condition> {
        Condition::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// A photo made for the set.
#[derive(Debug, Clone)]
pub struct Photo {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// `jpg` or `png`.
    pub extension: &'static str,
    /// The scene it shows.
    pub scene: Scene,
    /// Error correction level of the code.
    pub ecc: Ecc,
    /// QR version of the code.
    pub version: u8,
}

/// Level index 0, 1, 2 for levels 1, 2, 3 (levels outside are clamped).
fn pick<T: Copy>(level: u8, values: [T; 3]) -> T {
    values[usize::from(level.clamp(1, 3) - 1)]
}

/// The baseline hand-held shot for photo number `index` of a symbol of `n` modules.
fn baseline(medium: Medium, index: usize, n: f32, rng: &mut Rng) -> Scene {
    let (width, height) = if index % 3 == 1 {
        (2016, 1512)
    } else {
        (1512, 2016)
    };
    let shorter = width.min(height) as f32;
    Scene {
        width,
        height,
        medium,
        dark_mode: false,
        module_px: 0.0,
        centre: (
            width as f32 * rng.range(0.4, 0.6),
            height as f32 * rng.range(0.4, 0.6),
        ),
        rotation_deg: rng.range(-10.0, 10.0),
        tilt_deg: rng.range(0.0, 8.0),
        tilt_axis_deg: rng.range(0.0, 180.0),
        focal_px: 0.8 * width.max(height) as f32,
        mirrored: false,
        blur_px: rng.range(0.5, 0.9),
        noise: rng.range(2.0, 4.0),
        exposure: rng.range(0.85, 1.0),
        shadow: rng.range(0.0, 0.15),
        shadow_angle_deg: rng.range(0.0, 360.0),
        glare: 0.0,
        glare_radius: 8.0,
        glare_at: (0.0, 0.0),
        contrast: (0.0, 1.0),
        screen_px_per_module: if medium == Medium::Screen {
            rng.range(5.0, 8.0)
        } else {
            0.0
        },
        pixel_fill: 0.85,
        supersample: 2,
        jpeg_quality: Some(90),
        seed: rng.next_u64(),
    }
    .with_symbol_side(rng.range(0.36, 0.46) * shorter, n)
}

impl Scene {
    /// The module size set so that the symbol (`n` modules) spans `side_px` pixels.
    fn with_symbol_side(mut self, side_px: f32, n: f32) -> Self {
        self.module_px = side_px / n.max(1.0);
        self
    }
}

/// What photo `index` of `condition` shows the code on: moiré and dark-mode photos are of
/// screens, the others alternate between printed cards and screens.
pub fn medium_for(condition: Condition, index: usize) -> Medium {
    if matches!(condition, Condition::Moire | Condition::Inverted) || index % 2 == 1 {
        Medium::Screen
    } else {
        Medium::Card
    }
}

/// The error correction level the issuer renders on `medium`: Q on printed cards, M on screens.
pub fn ecc_for(medium: Medium) -> Ecc {
    match medium {
        Medium::Card => Ecc::Q,
        Medium::Screen => Ecc::M,
    }
}

/// The scene of photo `index` of `condition` at `level`, for a symbol of `n` modules.
pub fn scene_for(condition: Condition, level: u8, index: usize, n: usize, seed: u64) -> Scene {
    let mut rng = Rng::new(seed);
    let n = n as f32;
    let mut s = baseline(medium_for(condition, index), index, n, &mut rng);
    let shorter = s.width.min(s.height) as f32;
    let module = s.module_px;
    match condition {
        Condition::Rotation => {
            s.rotation_deg = match level {
                1 => rng.sign() * rng.range(10.0, 25.0),
                2 => rng.sign() * rng.range(30.0, 60.0) + 90.0 * rng.below(4) as f32,
                _ => rng.range(0.0, 360.0),
            };
            if level == 3 {
                s.tilt_deg = rng.range(8.0, 14.0);
            }
        }
        Condition::Perspective => {
            s.tilt_deg = pick(level, [12.0, 22.0, 32.0]) + rng.range(-1.0, 1.0);
            s.rotation_deg = rng.range(-20.0, 20.0);
            // Wide angle up close, as when the phone is held near the card.
            s.focal_px *= pick(level, [1.0, 0.9, 0.8]);
        }
        Condition::Blur => {
            s.blur_px = pick(level, [0.35, 0.55, 0.75]) * module;
        }
        Condition::Noise => {
            s.noise = pick(level, [14.0, 28.0, 45.0]);
            if level == 3 {
                s.exposure = 0.6;
            }
        }
        Condition::Jpeg => {
            s.jpeg_quality = Some(pick(level, [30, 12, 5]));
        }
        Condition::Light => {
            s.shadow = pick(level, [0.5, 0.7, 0.85]);
            s.glare = pick(level, [0.45, 0.75, 1.0]);
            s.glare_radius = pick(level, [5.0, 7.0, 8.0]);
            s.glare_at = (rng.range(10.0, 55.0), rng.range(10.0, 55.0));
        }
        Condition::Contrast => {
            let (dark, light) = pick(level, [(0.3, 0.75), (0.38, 0.66), (0.44, 0.62)]);
            s.contrast = (dark, light);
            s.exposure = rng.range(0.8, 0.95);
        }
        Condition::Small => {
            s.width = if s.width > s.height { 4032 } else { 3024 };
            s.height = if s.width == 4032 { 3024 } else { 4032 };
            s.focal_px = 0.8 * 4032.0;
            s.centre = (
                s.width as f32 * rng.range(0.25, 0.75),
                s.height as f32 * rng.range(0.25, 0.75),
            );
            s.module_px = pick(level, [2.6, 1.8, 1.3]);
            s.blur_px = rng.range(0.5, 0.7);
        }
        Condition::Large => {
            let quiet = pick(level, [4.0, 2.0, 1.0]);
            // The symbol plus `quiet` modules each side spans 98 % of the shorter side.
            s.module_px = 0.98 * shorter / (n + 2.0 * quiet);
            s.centre = (s.width as f32 / 2.0, s.height as f32 / 2.0);
            s.rotation_deg = rng.range(-1.0, 1.0);
            s.tilt_deg = rng.range(0.0, 3.0);
            s.blur_px = rng.range(1.0, 2.5);
        }
        Condition::Moire => {
            s.screen_px_per_module = pick(level, [4.0, 3.0, 2.0]) + rng.range(0.0, 0.5);
            s.pixel_fill = pick(level, [0.8, 0.65, 0.5]);
            s.module_px = module * pick(level, [1.0, 0.85, 0.7]);
            s.supersample = 3;
            s.blur_px = 0.5;
        }
        Condition::Inverted => {
            s.dark_mode = true;
            if level >= 2 {
                s.rotation_deg = rng.range(0.0, 360.0);
                s.noise = 15.0;
            }
            if level == 3 {
                s.tilt_deg = 25.0;
                s.blur_px = 0.4 * module;
                s.jpeg_quality = Some(40);
            }
        }
        Condition::Mirrored => {
            s.mirrored = true;
            if level >= 2 {
                s.rotation_deg = rng.range(0.0, 360.0);
                s.tilt_deg = 15.0;
            }
            if level == 3 {
                s.tilt_deg = 25.0;
                s.noise = 20.0;
                s.blur_px = 0.3 * module;
                s.jpeg_quality = Some(40);
            }
        }
        Condition::Combined => {
            s.rotation_deg = rng.range(0.0, 360.0);
            s.tilt_deg = pick(level, [15.0, 22.0, 28.0]);
            s.blur_px = pick(level, [0.2, 0.3, 0.4]) * module;
            s.noise = pick(level, [10.0, 18.0, 25.0]);
            s.jpeg_quality = Some(pick(level, [60, 40, 30]));
            s.shadow = pick(level, [0.3, 0.5, 0.6]);
            s.glare = pick(level, [0.0, 0.4, 0.6]);
            s.glare_at = (rng.range(10.0, 55.0), rng.range(10.0, 55.0));
            if level == 3 {
                s.contrast = (0.2, 0.8);
            }
        }
    }
    s
}

/// The code of `text` at `ecc`, rendered at one pixel a module with the standard 4-module quiet
/// zone (`permit_issuer::render`).
pub fn symbol(text: &str, ecc: Ecc) -> Result<(GrayImage, u8), BenchError> {
    let matrix = QrMatrix::encode(text, ecc).map_err(|e| BenchError(e.to_string()))?;
    let image = render::to_luma_image(
        &matrix,
        &RenderOptions {
            module_px: 1,
            quiet_zone: 4,
        },
    )
    .map_err(|e| BenchError(e.to_string()))?;
    Ok((image, matrix.version()))
}

/// Photo number `index` of `condition` at `level` showing `text`; `seed` decides every random
/// choice (same arguments, same bytes).
///
/// # Errors
///
/// When the text does not fit a QR code or the photo cannot be encoded.
pub fn make_photo(
    text: &str,
    condition: Condition,
    level: u8,
    index: usize,
    seed: u64,
) -> Result<Photo, BenchError> {
    let ecc = ecc_for(medium_for(condition, index));
    let (symbol, version) = symbol(text, ecc)?;
    let n = symbol.width().saturating_sub(8) as usize;
    let scene = scene_for(condition, level, index, n, seed);
    let image = scene::render(&scene, &symbol)?;
    let bytes = scene::encode(&image, scene.jpeg_quality)?;
    Ok(Photo {
        bytes,
        extension: if scene.jpeg_quality.is_some() {
            "jpg"
        } else {
            "png"
        },
        scene,
        ecc,
        version,
    })
}
