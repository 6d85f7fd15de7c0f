//! The human-readable rendering of a [`Report`]: Chinese labels with English beside them.

use permit_shared::reason::{Severity, Stage};
use unicode_width::UnicodeWidthStr as _;

use super::{ClockSource, Reason, Report, Verdict};

/// Display columns of a permit row's label (`姓名 Name`, …) before its value: the widest label
/// (`公民身份号码 ID number`, 22 columns) and two spaces.
const LABEL_COLUMNS: usize = 24;
/// Display columns of a reason code before its message.
const CODE_COLUMNS: usize = 27;

/// `text` followed by spaces up to `columns` display columns (CJK characters count two), and at
/// least one space.
fn padded(text: &str, columns: usize) -> String {
    let fill = columns.saturating_sub(text.width()).max(1);
    format!("{text}{}", " ".repeat(fill))
}

/// A reason's lines: the code, the English message, and below it the Chinese one.
fn reason_lines(s: &mut String, r: &Reason) {
    s.push_str(&format!(
        "  {}{}\n",
        padded(r.code.as_str(), CODE_COLUMNS),
        r.message
    ));
    s.push_str(&format!(
        "  {}{}\n",
        " ".repeat(CODE_COLUMNS),
        r.code.description_zh()
    ));
}

impl Report {
    /// Human-readable text: Chinese labels with English beside them, values aligned by display
    /// width; each reason's English message with the code's Chinese message below it.
    pub fn to_human(&self, reveal_id: bool) -> String {
        let mut s = String::new();
        let banner = match self.verdict {
            Verdict::Valid => "VALID 有效",
            Verdict::Invalid => "INVALID 无效",
            Verdict::Indeterminate if self.input_error => "NOT READ 未能识读 — scan again",
            Verdict::Indeterminate => "INDETERMINATE 无法判定 — check manually",
        };
        s.push_str(&format!("{banner}    ({})\n", self.input));
        if let Some(p) = self.permit() {
            let v = p.view(reveal_id);
            let row = |s: &mut String, zh: &str, en: &str, val: &str| {
                s.push_str(&format!(
                    "  {}{val}\n",
                    padded(&format!("{zh} {en}"), LABEL_COLUMNS)
                ));
            };
            row(&mut s, "姓名", "Name", &v.name);
            let id = v
                .id_number
                .clone()
                .unwrap_or_else(|| v.id_number_masked.clone());
            row(&mut s, "公民身份号码", "ID number", &id);
            let sex = if v.sex == "male" {
                "男 male"
            } else {
                "女 female"
            };
            row(&mut s, "性别", "Sex", sex);
            row(&mut s, "出生", "Born", &v.birth_date);
            if let Some(e) = &v.ethnicity {
                row(&mut s, "民族", "Ethnicity", e);
            }
            row(
                &mut s,
                "居住地",
                "City",
                v.residence_city_name
                    .as_deref()
                    .unwrap_or(&v.residence_city),
            );
            row(&mut s, "居住地址", "Address", &v.residence_address);
            if let Some(h) = &v.hukou_place {
                row(&mut s, "户籍所在地", "Hukou", h);
            }
            row(&mut s, "有效期限", "Valid until", &v.valid_until);
            row(&mut s, "签注至", "Endorsed until", &v.endorsed_until);
            row(&mut s, "签发日期", "Issued on", &v.issued_on);
            row(
                &mut s,
                "签发机关",
                "Authority",
                v.authority_name.as_deref().unwrap_or(&v.authority),
            );
            row(
                &mut s,
                "证件编号",
                "Serial",
                &format!("{} (version {})", v.serial, v.version),
            );
        }
        let (problems, warnings): (Vec<&Reason>, Vec<&Reason>) = self
            .reasons
            .iter()
            .partition(|r| r.code.severity() != Severity::Warning);
        if !problems.is_empty() {
            s.push_str("reasons:\n");
            for r in problems {
                reason_lines(&mut s, r);
            }
        }
        if !warnings.is_empty() {
            s.push_str("warnings:\n");
            for r in warnings {
                reason_lines(&mut s, r);
            }
        }
        if self.codes.len() > 1 {
            s.push_str(&format!("codes in image: {}\n", self.codes.len()));
            for c in &self.codes {
                let what = c.format.unwrap_or(c.kind);
                let codes: Vec<&str> = c
                    .outcome
                    .reasons
                    .iter()
                    .filter(|r| r.code.stage() != Stage::Policy)
                    .map(|r| r.code.as_str())
                    .collect();
                s.push_str(&format!(
                    "  #{} {:<13} {} {}\n",
                    c.index,
                    c.outcome.verdict.as_str(),
                    what,
                    codes.join(" ")
                ));
            }
        }
        let p = &self.provenance;
        let mut trust = format!(
            "trust: trust list #{} ({}{})",
            p.trust_list.sequence,
            p.trust_list.publisher,
            if p.trust_list.test { ", TEST-ONLY" } else { "" }
        );
        if let Some(k) = &p.key_id {
            trust.push_str(&format!("; key {k}"));
            if let Some(i) = &p.issuer {
                trust.push_str(&format!(" ({i})"));
            }
        }
        s.push_str(&trust);
        s.push('\n');
        match &p.status_list {
            Some(sl) => s.push_str(&format!(
                "status: list #{} issued {}, next update {}\n",
                sl.sequence, sl.issued_at, sl.next_update
            )),
            None => s.push_str("status: no status list consulted\n"),
        }
        s.push_str(&format!(
            "clock: {} ({})\n",
            p.clock.at,
            match p.clock.source {
                ClockSource::System => "device clock",
                ClockSource::Given => "given with --at",
            }
        ));
        s
    }
}
