//! The results table: success rate and median time per condition and decoder, per level, and
//! overall; as Markdown and as JSON.

use serde_json::{Value, json};

/// One decoder's result on one photo.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Photo file name.
    pub file: String,
    /// Condition name.
    pub condition: String,
    /// Level, 1–3.
    pub level: u8,
    /// Decoder name.
    pub decoder: String,
    /// Read the issued text exactly.
    pub ok: bool,
    /// Milliseconds (see `decoders` for what each includes).
    pub ms: f64,
    /// Strategy or error.
    pub detail: String,
}

/// Successes, photos and median time of a group of records.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    /// Photos read exactly.
    pub ok: usize,
    /// Photos.
    pub n: usize,
    /// Median time over all the photos (read or not), milliseconds.
    pub median_ms: f64,
}

impl Cell {
    /// Success rate in percent (0 for no photos).
    pub fn percent(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            100.0 * self.ok as f64 / self.n as f64
        }
    }

    fn markdown(&self) -> String {
        format!(
            "{}/{} ({:.0} %) · {:.0} ms",
            self.ok,
            self.n,
            self.percent(),
            self.median_ms
        )
    }

    fn json(&self) -> Value {
        json!({"ok": self.ok, "n": self.n, "percent": self.percent(), "median_ms": self.median_ms})
    }
}

/// The median of `values` (the mean of the middle two for an even count; 0 for none).
pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

/// The records of `decoder` that `keep` selects, summed up.
pub fn cell(records: &[Record], decoder: &str, keep: impl Fn(&Record) -> bool) -> Cell {
    let chosen: Vec<&Record> = records
        .iter()
        .filter(|r| r.decoder == decoder && keep(r))
        .collect();
    let mut times: Vec<f64> = chosen.iter().map(|r| r.ms).collect();
    Cell {
        ok: chosen.iter().filter(|r| r.ok).count(),
        n: chosen.len(),
        median_ms: median(&mut times),
    }
}

/// Names in first-seen order.
fn distinct<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// The tables as Markdown: condition × decoder (with an overall row), level × decoder, and
/// condition × decoder split by level.
pub fn markdown(records: &[Record], decoders: &[&str]) -> String {
    let conditions = distinct(records.iter().map(|r| r.condition.as_str()));
    let mut levels: Vec<u8> = records.iter().map(|r| r.level).collect();
    levels.sort_unstable();
    levels.dedup();
    let header = |first: &str| {
        let mut s = format!("| {first} |");
        for d in decoders {
            s.push_str(&format!(" {d} |"));
        }
        s.push_str("\n|---|");
        for _ in decoders {
            s.push_str("---|");
        }
        s.push('\n');
        s
    };
    let mut out = String::from("Success n/N (%) · median ms per photo:\n\n");
    out.push_str(&header("condition"));
    for condition in &conditions {
        out.push_str(&format!("| {condition} |"));
        for d in decoders {
            let c = cell(records, d, |r| r.condition == *condition);
            out.push_str(&format!(" {} |", c.markdown()));
        }
        out.push('\n');
    }
    out.push_str("| **overall** |");
    for d in decoders {
        out.push_str(&format!(" **{}** |", cell(records, d, |_| true).markdown()));
    }
    out.push_str("\n\nBy level of difficulty:\n\n");
    out.push_str(&header("level"));
    for level in &levels {
        out.push_str(&format!("| {level} |"));
        for d in decoders {
            let c = cell(records, d, |r| r.level == *level);
            out.push_str(&format!(" {} |", c.markdown()));
        }
        out.push('\n');
    }
    out.push_str("\nPhotos read per condition at level 1 · 2 · 3:\n\n");
    out.push_str(&header("condition"));
    for condition in &conditions {
        out.push_str(&format!("| {condition} |"));
        for d in decoders {
            let parts: Vec<String> = levels
                .iter()
                .map(|level| {
                    let c = cell(records, d, |r| {
                        r.condition == *condition && r.level == *level
                    });
                    format!("{}/{}", c.ok, c.n)
                })
                .collect();
            out.push_str(&format!(" {} |", parts.join(" · ")));
        }
        out.push('\n');
    }
    out
}

/// The same tables as JSON, with every record.
pub fn json(records: &[Record], decoders: &[&str]) -> Value {
    let conditions = distinct(records.iter().map(|r| r.condition.as_str()));
    let mut levels: Vec<u8> = records.iter().map(|r| r.level).collect();
    levels.sort_unstable();
    levels.dedup();
    let per_decoder = |keep: &dyn Fn(&Record) -> bool| -> Value {
        decoders
            .iter()
            .map(|d| ((*d).to_owned(), cell(records, d, keep).json()))
            .collect::<serde_json::Map<String, Value>>()
            .into()
    };
    let by_condition: serde_json::Map<String, Value> = conditions
        .iter()
        .map(|c| {
            let levels: serde_json::Map<String, Value> = levels
                .iter()
                .map(|l| {
                    (
                        l.to_string(),
                        per_decoder(&|r: &Record| r.condition == *c && r.level == *l),
                    )
                })
                .collect();
            (
                (*c).to_owned(),
                json!({"all": per_decoder(&|r: &Record| r.condition == *c), "levels": levels}),
            )
        })
        .collect();
    let by_level: serde_json::Map<String, Value> = levels
        .iter()
        .map(|l| (l.to_string(), per_decoder(&|r: &Record| r.level == *l)))
        .collect();
    json!({
        "overall": per_decoder(&|_| true),
        "by_condition": by_condition,
        "by_level": by_level,
        "records": records.iter().map(|r| json!({
            "file": r.file,
            "condition": r.condition,
            "level": r.level,
            "decoder": r.decoder,
            "ok": r.ok,
            "ms": r.ms,
            "detail": r.detail,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(condition: &str, level: u8, decoder: &str, ok: bool, ms: f64) -> Record {
        Record {
            file: format!("{condition}-{level}"),
            condition: condition.to_owned(),
            level,
            decoder: decoder.to_owned(),
            ok,
            ms,
            detail: String::new(),
        }
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut []), 0.0);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn tables_count_per_condition_level_and_overall() {
        let records = [
            record("blur", 1, "ours", true, 10.0),
            record("blur", 2, "ours", false, 30.0),
            record("noise", 1, "ours", true, 20.0),
            record("blur", 1, "zbar", false, 5.0),
        ];
        let all = cell(&records, "ours", |_| true);
        assert_eq!((all.ok, all.n, all.median_ms), (2, 3, 20.0));
        let text = markdown(&records, &["ours", "zbar"]);
        assert!(
            text.contains("| blur | 1/2 (50 %) · 20 ms | 0/1 (0 %) · 5 ms |"),
            "{text}"
        );
        assert!(
            text.contains("| **overall** | **2/3 (67 %) · 20 ms** |"),
            "{text}"
        );
        assert!(text.contains("| blur | 1/1 · 0/1 | 0/1 · 0/0 |"), "{text}");
        let value = json(&records, &["ours", "zbar"]);
        assert_eq!(value["overall"]["ours"]["ok"], 2);
        assert_eq!(value["by_condition"]["blur"]["levels"]["2"]["ours"]["n"], 1);
    }
}
