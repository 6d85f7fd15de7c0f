//! The human-readable rendering of a [`Report`]: Chinese labels with English beside them.

use permit_shared::reason::{Severity, Stage};
use unicode_width::UnicodeWidthStr as _;

use super::{ClockSource, PermitView, Reason, Report, Verdict};

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

/// The permit's rows: only the fields the view holds (the role's fields the credential
/// carries); the full name and ID number when present, else their masked forms.
fn permit_rows(s: &mut String, v: &PermitView) {
    let mut row = |zh: &str, en: &str, val: Option<&str>| {
        if let Some(val) = val {
            s.push_str(&format!(
                "  {}{val}\n",
                padded(&format!("{zh} {en}"), LABEL_COLUMNS)
            ));
        }
    };
    row(
        "姓名",
        "Name",
        v.name.as_deref().or(v.name_masked.as_deref()),
    );
    let id_last4 = v.id_last4.as_ref().map(|l| format!("…{l} (last 4)"));
    row(
        "公民身份号码",
        "ID number",
        v.id_number
            .as_deref()
            .or(v.id_number_masked.as_deref())
            .or(id_last4.as_deref()),
    );
    row(
        "性别",
        "Sex",
        v.sex.map(|x| {
            if x == "male" {
                "男 male"
            } else {
                "女 female"
            }
        }),
    );
    row("出生", "Born", v.birth_date.as_deref());
    row("民族", "Ethnicity", v.ethnicity.as_deref());
    row(
        "居住地",
        "City",
        v.residence_city_name
            .as_deref()
            .or(v.residence_city.as_deref()),
    );
    row("居住地址", "Address", v.residence_address.as_deref());
    row("户籍所在地", "Hukou", v.hukou_place.as_deref());
    row("有效期限", "Valid until", v.valid_until.as_deref());
    row("签注至", "Endorsed until", v.endorsed_until.as_deref());
    row("签发日期", "Issued on", v.issued_on.as_deref());
    row(
        "签发机关",
        "Authority",
        v.authority_name.as_deref().or(v.authority.as_deref()),
    );
    let serial = v
        .serial
        .as_ref()
        .map(|x| format!("{x} (version {})", v.version.unwrap_or_default()));
    row("证件编号", "Serial", serial.as_deref());
    let shown = if v.view == "basic" {
        "basic view 基本信息"
    } else {
        "full credential 完整信息"
    };
    let live = v
        .presented_at
        .as_ref()
        .map_or(String::new(), |t| format!(", live code drawn {t}"));
    // Printed cards verified by the police (the case before views existed) need no such row.
    if v.holder_bound || v.role != "police" {
        row(
            "出示",
            "Shown",
            Some(&format!("{shown}, role {}{live}", v.role)),
        );
    }
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
            permit_rows(&mut s, &p.view(reveal_id));
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
