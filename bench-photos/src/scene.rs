//! The photo model: a permit's QR code on a printed card or a phone screen, on a desk,
//! photographed by a pinhole camera, then the lens, the light and the sensor.
//!
//! Geometry: the code lies in a plane (units: modules; the symbol spans `0..n` on both axes),
//! turned in its plane, tilted about an axis of the plane, and placed so that its centre falls on
//! a chosen pixel with a chosen module size there. Every photo pixel casts 1–9 rays into the scene
//! (sub-pixel samples) and averages what they hit.
//!
//! Photometry, in order: the object's colour (card paper and ink, or the screen's emitted light
//! with its sub-pixel structure), faded (low contrast), lit (exposure, a soft shadow edge,
//! vignetting; the screen emits its own light), glare (a specular highlight added on top), the
//! lens (Gaussian blur), the sensor (signal-dependent Gaussian noise), 8 bits, mirroring (a front
//! camera), and the phone's encoder (JPEG at a quality, or PNG).

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{GrayImage, ImageEncoder, RgbImage};
use rayon::prelude::*;

use crate::BenchError;
use crate::rng::{Rng, cell_hash, mix64};

/// What shows the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Medium {
    /// A printed card (paper, ink): lit by the room.
    Card,
    /// A phone screen (emits light; pixels in red, green and blue stripes).
    Screen,
}

impl Medium {
    /// `card` or `screen`.
    pub fn name(self) -> &'static str {
        match self {
            Medium::Card => "card",
            Medium::Screen => "screen",
        }
    }
}

/// Everything that decides one photo.
#[derive(Debug, Clone)]
pub struct Scene {
    /// Photo width in pixels.
    pub width: u32,
    /// Photo height in pixels.
    pub height: u32,
    /// Card or screen.
    pub medium: Medium,
    /// Light modules on a dark background (a screen in dark mode).
    pub dark_mode: bool,
    /// Size of one module at the code's centre, in photo pixels (before tilt).
    pub module_px: f32,
    /// Where the code's centre falls, in photo pixels.
    pub centre: (f32, f32),
    /// Rotation of the code in its plane, degrees.
    pub rotation_deg: f32,
    /// Tilt of the code's plane away from the camera's, degrees.
    pub tilt_deg: f32,
    /// Direction of the tilt axis in the photo, degrees.
    pub tilt_axis_deg: f32,
    /// Focal length in pixels (a phone's main camera: about 0.8 × the longer side).
    pub focal_px: f32,
    /// Flipped left to right (a front camera's preview).
    pub mirrored: bool,
    /// Standard deviation of the lens blur, pixels.
    pub blur_px: f32,
    /// Standard deviation of the sensor noise at mid grey, in 8-bit levels.
    pub noise: f32,
    /// Light on the scene (1 = well exposed).
    pub exposure: f32,
    /// Depth of a soft shadow across the code (0 = none, 1 = black).
    pub shadow: f32,
    /// Direction of the shadow edge, degrees.
    pub shadow_angle_deg: f32,
    /// Peak of the glare highlight added to every channel (0 = none; 1 = white).
    pub glare: f32,
    /// Radius (standard deviation) of the glare, in modules.
    pub glare_radius: f32,
    /// Centre of the glare, in module coordinates of the code plane.
    pub glare_at: (f32, f32),
    /// Grey levels (0–1) that black and white of the object end up at (fading).
    pub contrast: (f32, f32),
    /// Screen pixels per module, for screens (0: the pixel structure is not drawn).
    pub screen_px_per_module: f32,
    /// Side of the lit part of a sub-pixel, as a fraction of its cell (screens).
    pub pixel_fill: f32,
    /// Samples per pixel along each axis (1–3).
    pub supersample: u32,
    /// JPEG quality, or `None` for PNG.
    pub jpeg_quality: Option<u8>,
    /// Seed of the desk texture and the sensor noise.
    pub seed: u64,
}

/// What a ray hits.
struct Hit {
    rgb: [f32; 3],
    emissive: bool,
}

/// The camera and the code plane.
struct Camera {
    half_w: f32,
    half_h: f32,
    focal: f32,
    centre: [f32; 3],
    ex: [f32; 3],
    ey: [f32; 3],
    normal: [f32; 3],
    half_n: f32,
}

fn dot(a: [f32; 3], b: [f32; 3]) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// `v` turned by `angle` radians about the unit axis `a` (Rodrigues).
fn rotate_about(v: [f32; 3], a: [f32; 3], angle: f32) -> [f32; 3] {
    let (s, c) = angle.sin_cos();
    let cross = [
        a[1] * v[2] - a[2] * v[1],
        a[2] * v[0] - a[0] * v[2],
        a[0] * v[1] - a[1] * v[0],
    ];
    let d = dot(a, v) * (1.0 - c);
    [
        v[0] * c + cross[0] * s + a[0] * d,
        v[1] * c + cross[1] * s + a[1] * d,
        v[2] * c + cross[2] * s + a[2] * d,
    ]
}

impl Camera {
    fn new(scene: &Scene, symbol_modules: usize) -> Self {
        let focal = scene.focal_px;
        let distance = focal / scene.module_px.max(0.05);
        let (half_w, half_h) = (scene.width as f32 / 2.0, scene.height as f32 / 2.0);
        let centre = [
            (scene.centre.0 - half_w) * distance / focal,
            (scene.centre.1 - half_h) * distance / focal,
            distance,
        ];
        let rot = scene.rotation_deg.to_radians();
        let z = [0.0, 0.0, 1.0];
        let axis_angle = scene.tilt_axis_deg.to_radians();
        let axis = [axis_angle.cos(), axis_angle.sin(), 0.0];
        let tilt = scene.tilt_deg.to_radians();
        let place = |v: [f32; 3]| rotate_about(rotate_about(v, z, rot), axis, tilt);
        Self {
            half_w,
            half_h,
            focal,
            centre,
            ex: place([1.0, 0.0, 0.0]),
            ey: place([0.0, 1.0, 0.0]),
            normal: place([0.0, 0.0, 1.0]),
            half_n: symbol_modules as f32 / 2.0,
        }
    }

    /// Plane coordinates (modules) seen at photo position `(x, y)`.
    fn plane_at(&self, x: f32, y: f32) -> Option<(f32, f32)> {
        let d = [
            (x - self.half_w) / self.focal,
            (y - self.half_h) / self.focal,
            1.0,
        ];
        let denominator = dot(d, self.normal);
        if denominator.abs() < 1e-6 {
            return None;
        }
        let t = dot(self.centre, self.normal) / denominator;
        if t <= 0.0 {
            return None;
        }
        let p = [
            t * d[0] - self.centre[0],
            t * d[1] - self.centre[1],
            t * d[2] - self.centre[2],
        ];
        Some((dot(p, self.ex) + self.half_n, dot(p, self.ey) + self.half_n))
    }

    /// Photo position of plane point `(u, v)`.
    fn photo_at(&self, u: f32, v: f32) -> (f32, f32) {
        let (a, b) = (u - self.half_n, v - self.half_n);
        let p = [
            self.centre[0] + a * self.ex[0] + b * self.ey[0],
            self.centre[1] + a * self.ex[1] + b * self.ey[1],
            self.centre[2] + a * self.ex[2] + b * self.ey[2],
        ];
        let z = p[2].max(1e-3);
        (
            self.half_w + self.focal * p[0] / z,
            self.half_h + self.focal * p[1] / z,
        )
    }
}

/// The code plane's content: the rendered symbol (one pixel a module, 4-module quiet zone) on
/// its card or screen.
struct Plane<'a> {
    symbol: &'a GrayImage,
    n: f32,
    medium: Medium,
    dark_mode: bool,
    screen_px_per_module: f32,
    pixel_fill: f32,
    seed: u64,
}

const INK: [f32; 3] = [0.09, 0.09, 0.11];
const PAPER: [f32; 3] = [0.93, 0.92, 0.87];
const BEZEL: [f32; 3] = [0.05, 0.05, 0.06];

impl Plane<'_> {
    /// Whether module `(u, v)` of the symbol image (quiet zone included) is dark.
    fn symbol_dark(&self, u: f32, v: f32) -> bool {
        let (x, y) = ((u + 4.0).floor(), (v + 4.0).floor());
        if x < 0.0 || y < 0.0 {
            return false;
        }
        let (x, y) = (x as u32, y as u32);
        x < self.symbol.width()
            && y < self.symbol.height()
            && self.symbol.get_pixel(x, y).0[0] < 128
    }

    /// Grey "text" under the code: lines of character blocks of varying length.
    fn text_at(&self, u: f32, v: f32, top: f32, bottom: f32) -> bool {
        if v < top || v >= bottom || u < 0.0 {
            return false;
        }
        let line = ((v - top) / 3.5).floor();
        if (v - top) - line * 3.5 > 1.6 {
            return false;
        }
        let length = self.n * (0.35 + 0.65 * cell_hash(self.seed, line as i64, 7));
        u < length && (u / 1.7).fract() < 0.78
    }

    /// The extent of the card or the screen (bezel included) in plane coordinates:
    /// `(u_min, u_max, v_min, v_max)`; [`Plane::hit`] finds nothing outside it.
    fn bounds(&self) -> (f32, f32, f32, f32) {
        let n = self.n;
        match self.medium {
            Medium::Card => (-8.0, n + 8.0, -13.0, n + 30.0),
            Medium::Screen => (-11.0, n + 11.0, -32.0, n + 48.0),
        }
    }

    fn hit(&self, u: f32, v: f32) -> Option<Hit> {
        let n = self.n;
        match self.medium {
            Medium::Card => {
                let (u0, u1, v0, v1) = self.bounds();
                if !(u0..u1).contains(&u) || !(v0..v1).contains(&v) {
                    return None;
                }
                let rgb = if v < -9.0 {
                    [0.72, 0.18, 0.16]
                } else if (-4.0..n + 4.0).contains(&u) && (-4.0..n + 4.0).contains(&v) {
                    if self.symbol_dark(u, v) { INK } else { PAPER }
                } else if self.text_at(u, v, n + 6.5, n + 28.0) {
                    [0.3, 0.3, 0.32]
                } else {
                    PAPER
                };
                Some(Hit {
                    rgb,
                    emissive: false,
                })
            }
            Medium::Screen => {
                let (u0, u1, v0, v1) = self.bounds();
                if !(u0..u1).contains(&u) || !(v0..v1).contains(&v) {
                    return None;
                }
                if !(-7.0..n + 7.0).contains(&u) || !(-27.0..n + 42.0).contains(&v) {
                    return Some(Hit {
                        rgb: BEZEL,
                        emissive: false,
                    });
                }
                let (background, foreground) = if self.dark_mode {
                    ([0.08, 0.08, 0.1], [0.9, 0.9, 0.9])
                } else {
                    ([0.97, 0.97, 0.97], [0.0, 0.0, 0.0])
                };
                let rgb = if v < -20.0 {
                    [0.12, 0.42, 0.85]
                } else if (-4.0..n + 4.0).contains(&u) && (-4.0..n + 4.0).contains(&v) {
                    if self.symbol_dark(u, v) {
                        foreground
                    } else {
                        background
                    }
                } else if self.text_at(u, v, n + 7.0, n + 40.0) {
                    [0.45, 0.45, 0.48]
                } else {
                    background
                };
                Some(Hit {
                    rgb: self.subpixels(u, v, rgb),
                    emissive: true,
                })
            }
        }
    }

    /// The screen's red, green and blue stripes: each channel lit only on its third of a pixel,
    /// brighter there so that a pixel's average is the colour.
    fn subpixels(&self, u: f32, v: f32, rgb: [f32; 3]) -> [f32; 3] {
        if self.screen_px_per_module <= 0.0 {
            return rgb;
        }
        let sx = (u + 64.0) * self.screen_px_per_module;
        let sy = (v + 64.0) * self.screen_px_per_module;
        let stripe = (sx.fract() * 3.0).min(2.999);
        let channel = stripe as usize;
        let fill = self.pixel_fill.clamp(0.2, 1.0);
        let lit = stripe.fract() < fill && sy.fract() < fill;
        let mut out = [0.0; 3];
        if lit {
            out[channel] = rgb[channel] * 3.0 / (fill * fill);
        }
        out
    }
}

/// The desk under the code: brown with a smooth grain.
fn desk(x: f32, y: f32, seed: u64) -> [f32; 3] {
    let cell = 96.0;
    let (gx, gy) = (x / cell, y / (cell * 0.35));
    let (ix, iy) = (gx.floor(), gy.floor());
    let (fx, fy) = (gx - ix, gy - iy);
    let (ix, iy) = (ix as i64, iy as i64);
    let h = |dx: i64, dy: i64| cell_hash(seed, ix + dx, iy + dy);
    let top = h(0, 0) * (1.0 - fx) + h(1, 0) * fx;
    let bottom = h(0, 1) * (1.0 - fx) + h(1, 1) * fx;
    let grain = 0.8 + 0.25 * (top * (1.0 - fy) + bottom * fy);
    [0.55 * grain, 0.42 * grain, 0.3 * grain]
}

/// Renders the scene around `symbol` (the code rendered at one pixel a module with a 4-module
/// quiet zone, as `permit_issuer::render::to_luma_image` gives it).
pub fn render(scene: &Scene, symbol: &GrayImage) -> Result<RgbImage, BenchError> {
    let n = symbol.width().saturating_sub(8) as usize;
    if n == 0 || scene.width == 0 || scene.height == 0 {
        return Err(BenchError("empty symbol or photo".to_owned()));
    }
    let camera = Camera::new(scene, n);
    let plane = Plane {
        symbol,
        n: n as f32,
        medium: scene.medium,
        dark_mode: scene.dark_mode,
        screen_px_per_module: scene.screen_px_per_module,
        pixel_fill: scene.pixel_fill,
        seed: scene.seed,
    };
    let (w, h) = (scene.width as usize, scene.height as usize);
    let ss = scene.supersample.clamp(1, 3);
    let offsets: Vec<f32> = (0..ss).map(|k| (k as f32 + 0.5) / ss as f32).collect();
    // Pixels well away from the card or screen see only the smooth desk: one sample is enough.
    let (u0, u1, v0, v1) = plane.bounds();
    let margin = 4.0 / scene.module_px.max(0.05);
    let near_object = |x: f32, y: f32| {
        camera.plane_at(x, y).is_some_and(|(u, v)| {
            u > u0 - margin && u < u1 + margin && v > v0 - margin && v < v1 + margin
        })
    };
    let (lo, hi) = scene.contrast;
    let symbol_px = scene.module_px * n as f32;
    let (shadow_sin, shadow_cos) = scene.shadow_angle_deg.to_radians().sin_cos();
    let half_diagonal = ((w * w + h * h) as f32).sqrt() / 2.0;
    let glare_centre = camera.photo_at(scene.glare_at.0, scene.glare_at.1);
    let glare_sigma = (scene.glare_radius * scene.module_px).max(1.0);

    let mut planes = vec![0.0_f32; w * h * 3];
    planes
        .par_chunks_mut(w * 3)
        .enumerate()
        .for_each(|(y, row)| {
            for x in 0..w {
                let (px, py) = (x as f32, y as f32);
                // Room light at this pixel: exposure, a soft shadow edge through the code, and
                // vignetting.
                let s = ((px - scene.centre.0) * shadow_cos + (py - scene.centre.1) * shadow_sin)
                    / symbol_px.max(1.0);
                let shade = 1.0 - scene.shadow / (1.0 + (-8.0 * s).exp());
                let r = ((px - w as f32 / 2.0).powi(2) + (py - h as f32 / 2.0).powi(2)).sqrt()
                    / half_diagonal;
                let room = scene.exposure * shade * (1.0 - 0.3 * r * r);
                let mut sum = [0.0_f32; 3];
                let samples: &[f32] = if near_object(px + 0.5, py + 0.5) {
                    &offsets
                } else {
                    &[0.5]
                };
                let weight = 1.0 / (samples.len() * samples.len()) as f32;
                for oy in samples {
                    for ox in samples {
                        let (sx, sy) = (px + ox, py + oy);
                        let hit = camera.plane_at(sx, sy).and_then(|(u, v)| plane.hit(u, v));
                        let (rgb, light) = match hit {
                            Some(hit) => {
                                let faded = hit.rgb.map(|c| lo + (hi - lo) * c);
                                let light = if hit.emissive { 0.9 + 0.1 * room } else { room };
                                (faded, light)
                            }
                            None => (desk(sx, sy, scene.seed), room),
                        };
                        for c in 0..3 {
                            sum[c] += rgb[c] * light * weight;
                        }
                    }
                }
                let g = ((px - glare_centre.0).powi(2) + (py - glare_centre.1).powi(2))
                    / (2.0 * glare_sigma * glare_sigma);
                let glare = scene.glare * (1.6 * (-g).exp()).min(1.0);
                for c in 0..3 {
                    row[x * 3 + c] = sum[c] + glare;
                }
            }
        });
    blur(&mut planes, w, h, scene.blur_px);

    let mut out = vec![0_u8; w * h * 3];
    out.par_chunks_mut(w * 3)
        .zip(planes.par_chunks(w * 3))
        .enumerate()
        .for_each(|(y, (row, values))| {
            let mut rng = Rng::new(mix64(scene.seed ^ 0xA5A5) ^ y as u64);
            for (i, pair) in row.chunks_mut(2).enumerate() {
                let (n1, n2) = rng.normal_pair();
                for (k, (out, noise)) in pair.iter_mut().zip([n1, n2]).enumerate() {
                    let v = values[i * 2 + k].clamp(0.0, 1.0);
                    // Shot noise grows with the signal; read noise does not.
                    let sigma = scene.noise * (0.4 + 0.6 * (v / 0.5).sqrt().min(1.4));
                    *out = (v * 255.0 + noise * sigma).round().clamp(0.0, 255.0) as u8;
                }
            }
        });
    let image = RgbImage::from_raw(scene.width, scene.height, out)
        .ok_or_else(|| BenchError("photo buffer of the wrong size".to_owned()))?;
    Ok(if scene.mirrored {
        image::imageops::flip_horizontal(&image)
    } else {
        image
    })
}

/// Separable Gaussian blur of interleaved RGB planes.
fn blur(values: &mut [f32], w: usize, h: usize, sigma: f32) {
    if sigma < 0.2 {
        return;
    }
    let radius = (3.0 * sigma).ceil() as isize;
    let kernel: Vec<f32> = (-radius..=radius)
        .map(|k| (-((k * k) as f32) / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f32 = kernel.iter().sum();
    let kernel: Vec<f32> = kernel.iter().map(|k| k / total).collect();
    let clamp = |i: isize, len: usize| i.clamp(0, len as isize - 1) as usize;
    // Rows.
    values.par_chunks_mut(w * 3).for_each(|row| {
        let source = row.to_vec();
        for x in 0..w {
            let mut acc = [0.0_f32; 3];
            for (k, weight) in kernel.iter().enumerate() {
                let sx = clamp(x as isize + k as isize - radius, w);
                for c in 0..3 {
                    acc[c] += source[sx * 3 + c] * weight;
                }
            }
            row[x * 3..x * 3 + 3].copy_from_slice(&acc);
        }
    });
    // Columns, a band of columns at a time.
    let source = values.to_vec();
    values
        .par_chunks_mut(w * 3)
        .enumerate()
        .for_each(|(y, row)| {
            for (k, weight) in kernel.iter().enumerate() {
                let sy = clamp(y as isize + k as isize - radius, h);
                let from = &source[sy * w * 3..(sy + 1) * w * 3];
                if k == 0 {
                    for (o, s) in row.iter_mut().zip(from) {
                        *o = s * weight;
                    }
                } else {
                    for (o, s) in row.iter_mut().zip(from) {
                        *o += s * weight;
                    }
                }
            }
        });
}

/// The photo as the phone stores it: JPEG at `quality`, or PNG.
pub fn encode(image: &RgbImage, jpeg_quality: Option<u8>) -> Result<Vec<u8>, BenchError> {
    let mut out = Cursor::new(Vec::new());
    match jpeg_quality {
        Some(quality) => JpegEncoder::new_with_quality(&mut out, quality.clamp(1, 100))
            .write_image(
                image.as_raw(),
                image.width(),
                image.height(),
                image::ExtendedColorType::Rgb8,
            )
            .map_err(|e| BenchError(e.to_string()))?,
        None => image
            .write_to(&mut out, image::ImageFormat::Png)
            .map_err(|e| BenchError(e.to_string()))?,
    }
    Ok(out.into_inner())
}
