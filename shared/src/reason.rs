//! Stable reason codes for verdicts, grouped by stage, with their effect on the verdict.
//!
//! Codes are part of the public interface (JSON reports, exit codes, audits): they are never
//! renamed or reused. `docs/FORMAT.md` and the README list them.

use serde::Serialize;

/// How a reason affects the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Shown, verdict unaffected.
    Warning,
    /// The verifier could not decide: verdict at best `INDETERMINATE` (manual check).
    Indeterminate,
    /// The credential is not acceptable: verdict `INVALID`.
    Error,
}

/// The stage a reason belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Reading the image or text.
    Input,
    /// Prefix, transport, envelope.
    Format,
    /// Claims and fields.
    Structure,
    /// Key lookup and trust list.
    Trust,
    /// Signature.
    Crypto,
    /// Validity period and clocks.
    Time,
    /// Status list (revocation, suspension, supersession).
    Status,
    /// Local policy and warnings.
    Policy,
}

macro_rules! codes {
    ($($variant:ident = $s:literal, $stage:ident, $sev:ident, $doc:literal, $zh:literal;)*) => {
        /// A stable reason code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $(#[doc = $doc] $variant,)*
        }
        impl Code {
            /// Every code, in declaration order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];
            /// The stable string, e.g. `SIGNATURE_INVALID`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $s,)* }
            }
            /// The stage.
            pub fn stage(self) -> Stage {
                match self { $(Code::$variant => Stage::$stage,)* }
            }
            /// The effect on the verdict.
            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$sev,)* }
            }
            /// A one-line description, in English.
            pub fn description(self) -> &'static str {
                match self { $(Code::$variant => $doc,)* }
            }
            /// The same description in Chinese (简体中文), shown beside the English one.
            pub fn description_zh(self) -> &'static str {
                match self { $(Code::$variant => $zh,)* }
            }
            /// Looks a code up by its string.
            pub fn parse(s: &str) -> Option<Code> {
                match s { $($s => Some(Code::$variant),)* _ => None }
            }
        }
    };
}

// Each row: variant = code, stage, severity, English description, Chinese description.
codes! {
    ImageUnreadable = "IMAGE_UNREADABLE", Input, Indeterminate, "The file is not a readable image.", "文件不是可读的图像。";
    ImageTooLarge = "IMAGE_TOO_LARGE", Input, Indeterminate, "The image exceeds a size limit (file, dimensions or pixels).", "图像超出大小限制（文件、尺寸或像素）。";
    NoCodeFound = "NO_CODE_FOUND", Input, Indeterminate, "No QR code was found in the image.", "图像中未找到二维码。";
    TooManyCodes = "TOO_MANY_CODES", Input, Indeterminate, "The image holds more QR codes than the limit.", "图像中的二维码数量超出限制。";
    ScanTimedOut = "SCAN_TIMED_OUT", Input, Indeterminate, "Decoding the image took longer than its time budget; scan again.", "图像解码超出时限；请重新扫描。";
    CodeTextTooLong = "CODE_TEXT_TOO_LONG", Input, Indeterminate, "A QR code in the image holds more text than any permit can.", "图像中的二维码内容超出任何居住证的长度。";
    DecoderPanicked = "DECODER_PANICKED", Input, Indeterminate, "The QR decoder failed internally on this image (contained); scan again.", "二维码解码器处理此图像时内部出错（已隔离）；请重新扫描。";
    MultipleCodes = "MULTIPLE_CODES", Input, Indeterminate, "The image holds more than one permit code; check which belongs to the holder.", "图像中有多个居住证码；请确认哪一个属于持证人。";
    OtherCodesPresent = "OTHER_CODES_PRESENT", Input, Warning, "The image also holds QR codes that are not permits.", "图像中还有非居住证的二维码。";
    InputNormalised = "INPUT_NORMALISED", Input, Warning, "Scanner artefacts were removed from the text before decoding.", "解码前已去除扫描器添加的多余字符。";
    NoText = "NO_TEXT", Input, Indeterminate, "The scanner gave no text; scan again.", "扫描器未读到任何内容；请重新扫描。";
    Truncated = "TRUNCATED", Input, Indeterminate, "The text stops before the code is complete (a cut-off scan); scan again.", "内容在码结束之前中断（扫描不完整）；请重新扫描。";
    SvgNotSupported = "SVG_NOT_SUPPORTED", Input, Indeterminate, "SVG is not supported, use the PNG of the same code.", "不支持 SVG 格式，请使用同一码的 PNG 图像。";
    InputTooLarge = "INPUT_TOO_LARGE", Input, Error, "The text or credential exceeds its size limit.", "文本或凭证超出大小限制。";
    NotAPermit = "NOT_A_PERMIT", Format, Error, "The code is not a residence-permit code.", "此码不是居住证码。";
    UnsupportedFormat = "UNSUPPORTED_FORMAT", Format, Error, "The code is a credential of another system.", "此码是其他系统的凭证。";
    UnsupportedVersion = "UNSUPPORTED_VERSION", Format, Error, "The permit format version is not supported by this verifier.", "本核验程序不支持此居住证格式版本。";
    Malformed = "MALFORMED", Format, Error, "The code is damaged or not in the one canonical encoding.", "此码已损坏或不是唯一规范编码。";
    KeyUnknown = "KEY_UNKNOWN", Trust, Indeterminate, "No key in this trust list has the credential's key id: the list may be outdated; update it and verify again.", "信任列表中没有此凭证的密钥编号；请更新信任列表后再核验。";
    KeyNotAuthorised = "KEY_NOT_AUTHORISED", Trust, Error, "The signing key is not allowed to sign permits.", "签名密钥无权签发居住证。";
    KeyNotValidAtIssuance = "KEY_NOT_VALID_AT_ISSUANCE", Trust, Error, "The credential was issued outside its key's signing window.", "凭证签发时间不在其密钥的签发期内。";
    KeyCompromised = "KEY_COMPROMISED", Trust, Error, "The signing key was reported compromised: nothing it signed is trusted, whatever its signing time.", "凭证在其密钥被报告泄露之后签发。";
    KeyExpired = "KEY_EXPIRED", Trust, Error, "The key's verification period is over.", "密钥的核验期已结束。";
    TrustListExpired = "TRUST_LIST_EXPIRED", Trust, Indeterminate, "The trust list is past its expiry; get a current one.", "信任列表已过期；请获取最新的信任列表。";
    TrustListRollback = "TRUST_LIST_ROLLBACK", Trust, Indeterminate, "The trust list is older than one already seen.", "信任列表比已使用过的版本旧。";
    TrustListConflict = "TRUST_LIST_CONFLICT", Trust, Indeterminate, "ALARM: a different trust list with the same sequence as one already seen (the root signed two lists as one publication).", "警报：出现与已使用版本序号相同但内容不同的信任列表（根密钥对同一序号签发了两份列表）。";
    SignatureInvalid = "SIGNATURE_INVALID", Crypto, Error, "The signature does not verify under the trusted key it names: the code was altered or forged.", "签名核验失败：此码被篡改或伪造。";
    NotYetValid = "NOT_YET_VALID", Time, Error, "The credential is not valid yet.", "凭证尚未生效。";
    Expired = "EXPIRED", Time, Error, "The permit's validity has ended.", "居住证已过有效期限。";
    IssuedInFuture = "ISSUED_IN_FUTURE", Time, Error, "The credential claims to be issued after the verification time.", "凭证的签发时间晚于核验时间。";
    ClockBehind = "CLOCK_BEHIND", Time, Indeterminate, "The device clock is earlier than a time this verifier has already trusted.", "设备时钟早于本核验程序已确认过的时间。";
    Suspended = "SUSPENDED", Status, Error, "The permit is suspended (使用功能中止).", "居住证使用功能中止。";
    EndorsementOverdue = "ENDORSEMENT_OVERDUE", Status, Error, "The yearly endorsement (签注) is overdue.", "未按期办理年度签注。";
    Revoked = "REVOKED", Status, Error, "The permit was cancelled (注销).", "居住证已注销。";
    Superseded = "SUPERSEDED", Status, Error, "A newer credential replaced this one; ask the holder to refresh the code.", "此凭证已被更新的凭证取代；请持证人刷新居住码。";
    StatusUnknown = "STATUS_UNKNOWN", Status, Warning, "No status list was consulted: cancellations are not checked.", "未查询状态列表：未核对注销情况。";
    StatusStale = "STATUS_STALE", Status, Indeterminate, "The status list is past its next update (plus grace); cancellations may be missing.", "状态列表已过下次更新时间（含宽限期）；可能缺少注销记录。";
    StatusRollback = "STATUS_ROLLBACK", Status, Indeterminate, "The status list is older than one already seen.", "状态列表比已使用过的版本旧。";
    StatusListInvalid = "STATUS_LIST_INVALID", Status, Indeterminate, "The status list could not be verified or read.", "状态列表无法核验或读取。";
    StatusListMismatch = "STATUS_LIST_MISMATCH", Status, Indeterminate, "The status list given is not the one this credential names (another list or another issuer); it was not consulted.", "所给状态列表不是此凭证指定的列表（其他列表或其他签发机关）；未予采用。";
    StatusListConflict = "STATUS_LIST_CONFLICT", Status, Indeterminate, "ALARM: a different status list with the same sequence as one already seen; it was not used.", "警报：出现与已使用版本序号相同但内容不同的状态列表；未予采用。";
    StatusIndexOutOfRange = "STATUS_INDEX_OUT_OF_RANGE", Status, Indeterminate, "The status list has no entry for this credential.", "状态列表中没有此凭证的条目。";
    PresentationRequired = "PRESENTATION_REQUIRED", Crypto, Error, "The credential is bound to the holder's phone and was scanned without its live presentation (a screenshot or copy of the bare code).", "此凭证绑定持证人手机，扫描的不是实时出示码（可能是截图或复制的静态码）。";
    HolderSignatureInvalid = "HOLDER_SIGNATURE_INVALID", Crypto, Error, "The holder's signature on the live code does not verify under the device key the credential binds.", "实时出示码上的持证人签名无法用凭证绑定的设备密钥核验。";
    PresentationExpired = "PRESENTATION_EXPIRED", Time, Error, "The live code was drawn outside the accepted window (too old, or dated in the future beyond the clock tolerance): ask the holder to show a fresh code.", "实时出示码不在有效时间窗口内（已过时或时间超前）；请持证人出示新码。";
    PresentationReplayed = "PRESENTATION_REPLAYED", Policy, Warning, "This exact live code was already scanned within its window: a rescan, or a copy shown by someone else.", "此实时出示码在有效窗口内已被扫描过：可能是重新扫描，也可能是他人出示的副本。";
    ViewNotAccepted = "VIEW_NOT_ACCEPTED", Policy, Error, "This view of the permit is not one the verifier's role accepts.", "此居住证视图不是本核验角色接受的视图。";
    TestCredential = "TEST_CREDENTIAL", Policy, Warning, "Signed with a TEST-ONLY key or marked as test data: not a real permit.", "由仅供测试的密钥签发或标记为测试数据：不是真实的居住证。";
}

/// The JSON object both command-line tools print on stdout (with `--json`) for an error that
/// stops a command, as opposed to a verdict on one input:
/// `{"error": {"code", "message", "hint"}, "exit_code"}`. Callers may add fields under `error`.
pub fn command_error_json(
    code: &str,
    message: &str,
    hint: Option<&str>,
    exit_code: u8,
) -> serde_json::Value {
    serde_json::json!({
        "error": { "code": code, "message": message, "hint": hint },
        "exit_code": exit_code,
    })
}

/// [`command_error_json`] with code `USAGE` for a command line the parser refused, from the
/// parser's rendered message (its first line, without the `error: ` prefix).
pub fn usage_error_json(rendered: &str, hint: &str, exit_code: u8) -> serde_json::Value {
    let first = rendered.lines().next().unwrap_or_default();
    command_error_json(
        "USAGE",
        first.trim_start_matches("error: "),
        Some(hint),
        exit_code,
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn usage_error_json_keeps_the_first_line_without_its_prefix() {
        let v = super::usage_error_json(
            "error: unexpected argument '--x' found\n\nUsage: verifier verify <INPUT>...\n",
            "see --help",
            2,
        );
        assert_eq!(v["error"]["code"], "USAGE");
        assert_eq!(v["error"]["message"], "unexpected argument '--x' found");
        assert_eq!(v["error"]["hint"], "see --help");
        assert_eq!(v["exit_code"], 2);
    }

    use super::*;

    #[test]
    fn every_code_has_a_chinese_description() {
        for c in Code::ALL {
            let zh = c.description_zh();
            assert!(
                zh.chars().any(|ch| ('\u{4e00}'..='\u{9fff}').contains(&ch)),
                "{}: {zh}",
                c.as_str()
            );
            assert!(zh.ends_with('。'), "{}: {zh}", c.as_str());
        }
    }

    #[test]
    fn an_unknown_key_is_indeterminate() {
        assert_eq!(Code::KeyUnknown.severity(), Severity::Indeterminate);
    }

    #[test]
    fn strings_are_unique_and_parse_back() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "{} twice", c.as_str());
            assert_eq!(Code::parse(c.as_str()), Some(*c));
            assert!(
                c.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b == b'_')
            );
        }
    }
}
