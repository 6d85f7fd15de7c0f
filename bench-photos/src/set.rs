//! The photo set: which photos, their seeds, writing them with a manifest, and reading the
//! manifest back (so that a set already on disk is not made again).

use std::path::Path;

use rayon::prelude::*;
use serde_json::{Value, json};

use crate::BenchError;
use crate::conditions::{self, Condition};
use crate::rng::derive;

/// Changes whenever the generator would draw different photos from the same seed; a manifest
/// of another version is not reused.
pub const GENERATOR_VERSION: u64 = 2;

/// The manifest's file name in the set's directory.
pub const MANIFEST: &str = "manifest.json";

/// One photo to make: photo `index` of `condition` at `level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhotoSpec {
    /// The condition.
    pub condition: Condition,
    /// Level of difficulty, 1–3.
    pub level: u8,
    /// Number of the photo within its condition and level.
    pub index: usize,
}

impl PhotoSpec {
    /// The photo's own seed, derived from the set's seed and its place in the set.
    pub fn seed(&self, set_seed: u64) -> u64 {
        let condition = Condition::ALL
            .iter()
            .position(|c| *c == self.condition)
            .unwrap_or(0);
        derive(
            set_seed,
            &[condition as u64, u64::from(self.level), self.index as u64],
        )
    }

    /// The file name without extension, e.g. `blur-2-05`.
    pub fn stem(&self) -> String {
        format!("{}-{}-{:02}", self.condition.name(), self.level, self.index)
    }
}

/// Every photo of `per_level` photos for each condition and level, in report order.
pub fn specs(conditions: &[Condition], levels: &[u8], per_level: usize) -> Vec<PhotoSpec> {
    let mut out = Vec::new();
    for &condition in conditions {
        for &level in levels {
            for index in 0..per_level {
                out.push(PhotoSpec {
                    condition,
                    level,
                    index,
                });
            }
        }
    }
    out
}

/// A photo written to the set, as listed in its manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// File name in the set's directory.
    pub file: String,
    /// Condition name.
    pub condition: String,
    /// Level, 1–3.
    pub level: u8,
    /// Number within condition and level.
    pub index: usize,
    /// The QR text that was issued (a success is reading exactly this).
    pub text: String,
    /// `card` or `screen`.
    pub medium: String,
    /// Error correction level of the code (`M` or `Q`).
    pub ecc: String,
    /// QR version.
    pub version: u8,
    /// Photo size in pixels.
    pub width: u32,
    /// Photo size in pixels.
    pub height: u32,
    /// Size of the file in bytes.
    pub bytes: usize,
}

impl Entry {
    fn to_json(&self) -> Value {
        json!({
            "file": self.file,
            "condition": self.condition,
            "level": self.level,
            "index": self.index,
            "text": self.text,
            "medium": self.medium,
            "ecc": self.ecc,
            "version": self.version,
            "width": self.width,
            "height": self.height,
            "bytes": self.bytes,
        })
    }

    fn from_json(value: &Value) -> Option<Entry> {
        let text = |key: &str| value.get(key)?.as_str().map(str::to_owned);
        let number = |key: &str| value.get(key)?.as_u64();
        Some(Entry {
            file: text("file")?,
            condition: text("condition")?,
            level: u8::try_from(number("level")?).ok()?,
            index: usize::try_from(number("index")?).ok()?,
            text: text("text")?,
            medium: text("medium")?,
            ecc: text("ecc")?,
            version: u8::try_from(number("version")?).ok()?,
            width: u32::try_from(number("width")?).ok()?,
            height: u32::try_from(number("height")?).ok()?,
            bytes: usize::try_from(number("bytes")?).ok()?,
        })
    }
}

/// What a set was made from; a set on disk is reused only when all of it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetParams {
    /// The seed.
    pub seed: u64,
    /// The photos.
    pub specs: Vec<PhotoSpec>,
}

impl SetParams {
    fn key(&self) -> Value {
        json!({
            "generator_version": GENERATOR_VERSION,
            "seed": self.seed,
            "photos": self.specs.iter().map(PhotoSpec::stem).collect::<Vec<_>>(),
        })
    }
}

/// Makes the photos of `params` showing `texts` (photo `index` shows `texts[index % len]`) in
/// parallel, writes them and the manifest into `dir`, and lists them in `params` order.
///
/// # Errors
///
/// When `texts` is empty, a photo cannot be made, or a file cannot be written.
pub fn generate(
    dir: &Path,
    params: &SetParams,
    texts: &[String],
) -> Result<Vec<Entry>, BenchError> {
    if texts.is_empty() {
        return Err(BenchError("no permit texts to photograph".to_owned()));
    }
    std::fs::create_dir_all(dir)?;
    let entries = params
        .specs
        .par_iter()
        .map(|spec| -> Result<Entry, BenchError> {
            let text = &texts[spec.index % texts.len()];
            let photo = conditions::make_photo(
                text,
                spec.condition,
                spec.level,
                spec.index,
                spec.seed(params.seed),
            )?;
            let file = format!("{}.{}", spec.stem(), photo.extension);
            std::fs::write(dir.join(&file), &photo.bytes)?;
            Ok(Entry {
                file,
                condition: spec.condition.name().to_owned(),
                level: spec.level,
                index: spec.index,
                text: text.clone(),
                medium: photo.scene.medium.name().to_owned(),
                ecc: photo.ecc.to_string(),
                version: photo.version,
                width: photo.scene.width,
                height: photo.scene.height,
                bytes: photo.bytes.len(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let manifest = json!({
        "params": params.key(),
        "photos": entries.iter().map(Entry::to_json).collect::<Vec<_>>(),
    });
    std::fs::write(dir.join(MANIFEST), serde_json::to_vec_pretty(&manifest)?)?;
    Ok(entries)
}

/// The photos of a set already in `dir` made from `params`, or `None` when there is none, it
/// was made from other parameters, or a file is missing or of another size.
pub fn existing(dir: &Path, params: &SetParams) -> Option<Vec<Entry>> {
    let bytes = std::fs::read(dir.join(MANIFEST)).ok()?;
    let manifest: Value = serde_json::from_slice(&bytes).ok()?;
    if manifest.get("params")? != &params.key() {
        return None;
    }
    let entries = manifest
        .get("photos")?
        .as_array()?
        .iter()
        .map(Entry::from_json)
        .collect::<Option<Vec<_>>>()?;
    let complete = entries.len() == params.specs.len()
        && entries
            .iter()
            .all(|e| std::fs::metadata(dir.join(&e.file)).is_ok_and(|m| m.len() == e.bytes as u64));
    complete.then_some(entries)
}
