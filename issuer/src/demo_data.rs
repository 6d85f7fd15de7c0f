//! Synthetic applicants for demos and scale tests: a port of the reference generator
//! (`shared/applicants/generate.py`) that produces the same records, byte for byte, for the same
//! `--seed`, `--count`, `--bad` and format (it reimplements Python's Mersenne Twister and its
//! `randrange`/`choice`), so that the product needs nothing outside itself at run time.
//!
//! Every record is fake and marked `"test": true`. ID numbers carry valid GB 11643 check digits
//! but sequence codes ≥ 900, so they are recognisably synthetic. With `bad > 0`, up to `bad`
//! rows are spoiled with one known defect each, and [`Label`]s name them.
//!
//! ```
//! use permit_issuer::demo_data::{self, Format, Options};
//!
//! let mut out = Vec::new();
//! let labels = demo_data::write(&Options { count: 3, bad: 1, ..Options::default() }, &mut out)?;
//! assert_eq!(String::from_utf8_lossy(&out).lines().count(), 3);
//! assert_eq!(labels.len(), 1);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::collections::{BTreeMap, HashSet};
use std::io::{self, Write};

use chrono::{Days, NaiveDate};
use serde::Serialize;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// One JSON object per line (as `json.dumps(..., ensure_ascii=False)` writes it).
    #[default]
    Jsonl,
    /// CSV with a header (`basis` joined with `|`), CRLF line ends as Python's `csv` module.
    Csv,
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Rows.
    pub count: usize,
    /// Seed (the same seed gives the same rows).
    pub seed: u64,
    /// Rows to spoil (at most; a row drawn twice is spoiled once).
    pub bad: usize,
    /// Format.
    pub format: Format,
    /// Also place applicants in Shenzhen and Foshan (where the online service is not offered).
    pub all_cities: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            count: 200,
            seed: 14,
            bad: 0,
            format: Format::Jsonl,
            all_cities: false,
        }
    }
}

/// A spoiled row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Label {
    /// 1-based line in the output (CSV: counting the header).
    pub line: u64,
    /// The row's `ref`.
    #[serde(rename = "ref")]
    pub reference: String,
    /// The defect, e.g. `id_checksum`.
    pub defect: &'static str,
}

// ---------------------------------------------------------------------------------------------
// Python's random.Random (MT19937, init_by_array seeding, getrandbits-based randbelow).

struct PyRandom {
    mt: [u32; 624],
    index: usize,
}

impl PyRandom {
    fn new(seed: u64) -> PyRandom {
        let mut key = Vec::new();
        let mut n = seed;
        while n > 0 {
            key.push((n & 0xffff_ffff) as u32);
            n >>= 32;
        }
        if key.is_empty() {
            key.push(0);
        }
        let mut r = PyRandom {
            mt: [0; 624],
            index: 624,
        };
        r.init_genrand(19_650_218);
        let mut i = 1usize;
        let mut j = 0usize;
        for _ in 0..624.max(key.len()) {
            let prev = r.mt[i - 1] ^ (r.mt[i - 1] >> 30);
            r.mt[i] = (r.mt[i] ^ prev.wrapping_mul(1_664_525))
                .wrapping_add(key[j])
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= 624 {
                r.mt[0] = r.mt[623];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..623 {
            let prev = r.mt[i - 1] ^ (r.mt[i - 1] >> 30);
            r.mt[i] = (r.mt[i] ^ prev.wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= 624 {
                r.mt[0] = r.mt[623];
                i = 1;
            }
        }
        r.mt[0] = 0x8000_0000;
        r
    }

    fn init_genrand(&mut self, s: u32) {
        self.mt[0] = s;
        for i in 1..624 {
            let prev = self.mt[i - 1] ^ (self.mt[i - 1] >> 30);
            self.mt[i] = 1_812_433_253u32.wrapping_mul(prev).wrapping_add(i as u32);
        }
        self.index = 624;
    }

    fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            for k in 0..624 {
                let y = (self.mt[k] & 0x8000_0000) | (self.mt[(k + 1) % 624] & 0x7fff_ffff);
                let mut v = self.mt[(k + 397) % 624] ^ (y >> 1);
                if y & 1 != 0 {
                    v ^= 0x9908_b0df;
                }
                self.mt[k] = v;
            }
            self.index = 0;
        }
        let mut y = self.mt[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        y
    }

    /// `getrandbits(k)` for 1 ≤ k ≤ 32.
    fn bits(&mut self, k: u32) -> u32 {
        self.next_u32() >> (32 - k)
    }

    /// `_randbelow(n)`, n ≥ 1 (n < 2^32 here).
    fn below(&mut self, n: usize) -> usize {
        let k = usize::BITS - n.leading_zeros();
        loop {
            let r = self.bits(k) as usize;
            if r < n {
                return r;
            }
        }
    }

    /// `randrange(a, b)`.
    fn range(&mut self, a: i64, b: i64) -> i64 {
        a + self.below(usize::try_from(b - a).unwrap_or(1)) as i64
    }

    fn choice<'a, T>(&mut self, seq: &'a [T]) -> &'a T {
        &seq[self.below(seq.len())]
    }
}

// ---------------------------------------------------------------------------------------------
// The tables of generate.py, in its order.

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: &[u8; 11] = b"10X98765432";

fn check_char(body17: &str) -> char {
    let sum: u32 = body17
        .bytes()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    char::from(CHECK[(sum % 11) as usize])
}

type District = (&'static str, &'static str, &'static [&'static str]);

const CITIES: &[(&str, &str, &[District])] = &[
    (
        "440100",
        "广州市",
        &[
            ("440106", "天河区", &["石牌街道", "五山街道", "猎德街道"]),
            ("440111", "白云区", &["三元里街道", "京溪街道"]),
            ("440113", "番禺区", &["市桥街道", "大石街道"]),
        ],
    ),
    (
        "440300",
        "深圳市",
        &[
            ("440305", "南山区", &["粤海街道", "南头街道"]),
            ("440306", "宝安区", &["西乡街道", "新安街道"]),
            ("440307", "龙岗区", &["坂田街道", "布吉街道"]),
        ],
    ),
    (
        "440600",
        "佛山市",
        &[
            ("440605", "南海区", &["桂城街道"]),
            ("440606", "顺德区", &["大良街道"]),
        ],
    ),
    (
        "441900",
        "东莞市",
        &[("441900", "", &["长安镇", "虎门镇", "东城街道"])],
    ),
    (
        "442000",
        "中山市",
        &[("442000", "", &["石岐街道", "小榄镇"])],
    ),
    ("440400", "珠海市", &[("440402", "香洲区", &["拱北街道"])]),
    ("441300", "惠州市", &[("441302", "惠城区", &["江北街道"])]),
];

const ORIGINS: &[(&str, &str)] = &[
    ("430524", "湖南省邵阳市隆回县桃洪镇"),
    ("450881", "广西壮族自治区贵港市桂平市木乐镇"),
    ("511321", "四川省南充市南部县南隆街道"),
    ("360730", "江西省赣州市宁都县梅江镇"),
    ("421182", "湖北省黄冈市武穴市刊江街道"),
    ("411327", "河南省南阳市社旗县赊店镇"),
    ("445281", "广东省揭阳市普宁市流沙东街道"),
    ("440511", "广东省汕头市金平区石炮台街道"),
];

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "梁", "欧阳", "司徒",
];
const GIVEN_M: &[&str] = &[
    "伟", "强", "磊", "军", "杰", "涛", "浩然", "子轩", "宇航", "俊杰", "志明", "家豪",
];
const GIVEN_F: &[&str] = &[
    "芳", "娜", "敏", "静", "婷", "欣怡", "梓涵", "雨萱", "诗涵", "思琪", "丽华", "晓燕",
];
const ROADS: &[&str] = &[
    "科苑路",
    "天河北路",
    "建设大道",
    "人民南路",
    "新华街",
    "工业大道",
    "学府路",
    "兴业路",
];
const BASES: &[&[&str]] = &[
    &["employment"],
    &["housing"],
    &["study"],
    &["employment", "housing"],
];
const ETHNIC: &[&str] = &[
    "01", "01", "01", "01", "01", "01", "01", "01", "01", "01", "01", "01", "01", "01", "01", "01",
    "01", "01", "01", "01", "01", "01", "01", "01", "08", "15", "06", "12",
];
const VILLAGES: &[&str] = &["新民村", "长乐村", "和平社区"];
/// The seed's online e-permit service is not offered in Shenzhen and Foshan.
const SELF_SERVICE_EXCLUDED: &[&str] = &["440300", "440600"];

const DEFECTS: &[&str] = &[
    "id_checksum",
    "sex_parity",
    "birth_date_mismatch",
    "missing_name",
    "name_control_chars",
    "name_too_long",
    "unknown_city",
    "registered_in_future",
    "no_basis",
    "impossible_date",
    "unknown_field",
];

/// The CSV columns, in generate.py's order: the applicant columns without `data_verified`,
/// which generate.py does not write.
const CSV_COLUMNS: &[&str] = permit_shared::applicant::COLUMNS.split_at(14).0;

// ---------------------------------------------------------------------------------------------
// Records: ordered fields, as a Python dict keeps them.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Val {
    Str(String),
    List(Vec<String>),
    Bool(bool),
}

#[derive(Debug, Clone, Default)]
struct Record(Vec<(&'static str, Val)>);

impl Record {
    fn get(&self, k: &str) -> Option<&Val> {
        self.0.iter().find(|(n, _)| *n == k).map(|(_, v)| v)
    }
    fn str(&self, k: &str) -> &str {
        match self.get(k) {
            Some(Val::Str(s)) => s,
            _ => "",
        }
    }
    /// `dict.update(k=v)`: in place, or appended.
    fn set(&mut self, k: &'static str, v: Val) {
        match self.0.iter_mut().find(|(n, _)| *n == k) {
            Some(slot) => slot.1 = v,
            None => self.0.push((k, v)),
        }
    }
    fn pop(&mut self, k: &str) {
        self.0.retain(|(n, _)| *n != k);
    }
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

fn applicant(
    rng: &mut PyRandom,
    i: usize,
    cities: &[&'static (&'static str, &'static str, &'static [District])],
    used_ids: &mut HashSet<String>,
) -> Record {
    let sex = *rng.choice(&["male", "female"]);
    let surname = *rng.choice(SURNAMES);
    let given = *rng.choice(if sex == "male" { GIVEN_M } else { GIVEN_F });
    let name = format!("{surname}{given}");
    let mut birth = date(1960, 1, 1) + Days::new(rng.range(0, 365 * 45) as u64);
    let (origin, origin_prefix) = *rng.choice(ORIGINS);
    let mut city = rng.choice(cities).0;
    if origin.starts_with("44") && origin[..4] == city[..4] {
        city = if city != "440100" { "440100" } else { "440400" };
    }
    let Some((_, city_name, districts)) = CITIES.iter().find(|c| c.0 == city) else {
        return Record::default();
    };
    let (district, district_name, streets) = *rng.choice(districts);
    let mut seq = rng.range(900, 1000);
    if (seq % 2 == 1) != (sex == "male") {
        seq = if seq < 999 { seq + 1 } else { seq - 1 };
    }
    let mut body = format!("{origin}{}{seq:03}", birth.format("%Y%m%d"));
    while used_ids.contains(&body) {
        birth = birth + Days::new(1);
        body = format!("{origin}{}{seq:03}", birth.format("%Y%m%d"));
    }
    used_ids.insert(body.clone());
    let registered = date(2025, 11, 1) - Days::new(rng.range(190, 2000) as u64);
    let street = *rng.choice(streets);
    let road = *rng.choice(ROADS);
    let (n1, n2, n3, n4) = (
        rng.range(1, 300),
        rng.range(1, 30),
        rng.range(1, 33),
        rng.range(1, 9),
    );
    let address =
        format!("广东省{city_name}{district_name}{street}{road}{n1}号{n2}栋{n3}{n4:02}房");
    let ethnicity = (*rng.choice(ETHNIC)).to_owned();
    let village = *rng.choice(VILLAGES);
    let (h1, h2) = (rng.range(1, 12), rng.range(1, 80));
    let basis = rng.choice(BASES).iter().map(|s| (*s).to_owned()).collect();
    let id_number = format!("{body}{}", check_char(&body));
    Record(vec![
        ("ref", Val::Str(format!("APP-{i:07}"))),
        ("name", Val::Str(name)),
        ("sex", Val::Str(sex.to_owned())),
        ("ethnicity", Val::Str(ethnicity)),
        ("birth_date", Val::Str(birth.to_string())),
        ("id_number", Val::Str(id_number)),
        ("hukou_division", Val::Str(origin.to_owned())),
        (
            "hukou_address",
            Val::Str(format!("{origin_prefix}{village}{h1}组{h2}号")),
        ),
        ("residence_city", Val::Str(city.to_owned())),
        ("residence_district", Val::Str(district.to_owned())),
        ("residence_address", Val::Str(address)),
        ("residence_registered_on", Val::Str(registered.to_string())),
        ("basis", Val::List(basis)),
        ("test", Val::Bool(true)),
    ])
}

fn spoil(r: &mut Record, defect: &str) {
    match defect {
        "id_checksum" => {
            let id = r.str("id_number").to_owned();
            let last = if id.ends_with('0') { '1' } else { '0' };
            let mut s = id[..id.len().saturating_sub(1)].to_owned();
            s.push(last);
            r.set("id_number", Val::Str(s));
        }
        "sex_parity" => {
            let other = if r.str("sex") == "male" {
                "female"
            } else {
                "male"
            };
            r.set("sex", Val::Str(other.into()));
        }
        "birth_date_mismatch" => r.set("birth_date", Val::Str("1999-02-28".into())),
        "missing_name" => r.pop("name"),
        "name_control_chars" => {
            let n = format!("{}\u{202e}\u{0}", r.str("name"));
            r.set("name", Val::Str(n));
        }
        "name_too_long" => r.set("name", Val::Str("王".repeat(200))),
        "unknown_city" => r.set("residence_city", Val::Str("110100".into())),
        "registered_in_future" => r.set("residence_registered_on", Val::Str("2099-01-01".into())),
        "no_basis" => r.set("basis", Val::List(Vec::new())),
        "impossible_date" => r.set("residence_registered_on", Val::Str("2024-02-30".into())),
        "unknown_field" => r.set("is_admin", Val::Bool(true)),
        _ => {}
    }
}

/// JSON as Python's `json.dumps(r, ensure_ascii=False)`: `", "` and `": "` separators.
fn to_json(r: &Record, out: &mut Vec<u8>) {
    out.push(b'{');
    for (i, (k, v)) in r.0.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        json_str(k, out);
        out.extend_from_slice(b": ");
        match v {
            Val::Str(s) => json_str(s, out),
            Val::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Val::List(l) => {
                out.push(b'[');
                for (j, s) in l.iter().enumerate() {
                    if j > 0 {
                        out.extend_from_slice(b", ");
                    }
                    json_str(s, out);
                }
                out.push(b']');
            }
        }
    }
    out.push(b'}');
}

fn json_str(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
            }
            c => {
                let mut b = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// A CSV cell as Python's `csv` module quotes it (QUOTE_MINIMAL, excel dialect).
fn csv_cell(s: &str, out: &mut Vec<u8>) {
    if s.contains([',', '"', '\r', '\n']) {
        out.push(b'"');
        out.extend_from_slice(s.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

fn to_csv(r: &Record, out: &mut Vec<u8>) {
    for (i, col) in CSV_COLUMNS.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match (*col, r.get(col)) {
            ("basis", Some(Val::List(l))) => csv_cell(&l.join("|"), out),
            ("test", Some(Val::Bool(b))) => {
                out.extend_from_slice(if *b { b"true" } else { b"false" })
            }
            (_, Some(Val::Str(s))) => csv_cell(s, out),
            _ => {}
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Generates the rows and writes them to `out`; returns the labels of the spoiled rows, in
/// line order.
///
/// # Errors
///
/// Only write errors of `out`.
pub fn write(opts: &Options, out: &mut dyn Write) -> io::Result<Vec<Label>> {
    let mut rng = PyRandom::new(opts.seed);
    let cities: Vec<_> = CITIES
        .iter()
        .filter(|c| opts.all_cities || !SELF_SERVICE_EXCLUDED.contains(&c.0))
        .collect();
    let mut used_ids = HashSet::new();
    // Spoiling draws rows at random after all rows exist, so the rows are generated first.
    // They are small (≈ 500 bytes each; 100 000 rows ≈ 50 MB).
    let mut rows: Vec<Record> = (0..opts.count)
        .map(|i| applicant(&mut rng, i, &cities, &mut used_ids))
        .collect();
    drop(used_ids);
    let mut spoiled: BTreeMap<usize, &'static str> = BTreeMap::new();
    for k in 0..opts.bad.min(rows.len()) {
        let i = rng.below(rows.len());
        if spoiled.contains_key(&i) {
            continue;
        }
        let defect = DEFECTS[k % DEFECTS.len()];
        spoil(&mut rows[i], defect);
        spoiled.insert(i, defect);
    }
    let offset = if opts.format == Format::Csv { 2 } else { 1 };
    let labels = spoiled
        .iter()
        .map(|(i, d)| Label {
            line: *i as u64 + offset,
            reference: rows[*i].str("ref").to_owned(),
            defect: d,
        })
        .collect();
    let mut buf = Vec::with_capacity(64 * 1024);
    if opts.format == Format::Csv {
        buf.extend_from_slice(CSV_COLUMNS.join(",").as_bytes());
        buf.extend_from_slice(b"\r\n");
    }
    for r in &rows {
        match opts.format {
            Format::Jsonl => {
                to_json(r, &mut buf);
                buf.push(b'\n');
            }
            Format::Csv => to_csv(r, &mut buf),
        }
        if buf.len() > 60 * 1024 {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    out.write_all(&buf)?;
    Ok(labels)
}

/// Writes labels as JSON lines (`{"line": …, "ref": …, "defect": …}`, as generate.py does).
///
/// # Errors
///
/// Write errors of `out`.
pub fn write_labels(labels: &[Label], out: &mut dyn Write) -> io::Result<()> {
    for l in labels {
        writeln!(
            out,
            "{{\"line\": {}, \"ref\": \"{}\", \"defect\": \"{}\"}}",
            l.line, l.reference, l.defect
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mersenne_twister_matches_python() {
        // python3 -c "import random; r=random.Random(14); print([r.getrandbits(32) for _ in range(3)])"
        let mut r = PyRandom::new(14);
        let v: Vec<u32> = (0..3).map(|_| r.next_u32()).collect();
        assert_eq!(v, [458_825_077, 2_645_178_341, 3_017_581_834]);
        let mut r = PyRandom::new(0);
        assert_eq!([r.next_u32(), r.next_u32()], [3_626_764_237, 1_654_615_998]);
        // A seed of two 32-bit words, then randrange(0, 16425) three times.
        let mut r = PyRandom::new((1 << 40) + 7);
        assert_eq!([r.next_u32(), r.next_u32()], [2_635_837_658, 3_209_733_218]);
        let v: Vec<i64> = (0..3).map(|_| r.range(0, 16425)).collect();
        assert_eq!(v, [15595, 8219, 4153]);
    }

    #[test]
    fn deterministic_and_labelled() {
        let o = Options {
            count: 300,
            bad: 20,
            ..Options::default()
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let la = write(&o, &mut a).unwrap();
        let lb = write(&o, &mut b).unwrap();
        assert_eq!(a, b);
        assert_eq!(la, lb);
        assert!(!la.is_empty() && la.len() <= 20);
        let text = String::from_utf8(a).unwrap();
        for l in &la {
            let row = text.lines().nth(l.line as usize - 1).unwrap();
            assert!(row.contains(&format!("\"{}\"", l.reference)));
        }
    }
}
