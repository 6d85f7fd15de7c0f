//! Command-line definitions of `issuer`.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

use permit_issuer::keyfile::Role;
use permit_issuer::lifecycle::{CardKind, Reporter};
use permit_issuer::settings::Channel;

/// The ledger used without `--ledger`.
pub const DEFAULT_LEDGER: &str = "issuer-ledger.sqlite3";
/// Pixels a QR module without `--module-px`.
pub const DEFAULT_MODULE_PX: u32 = 8;

/// Issue and manage Guangdong electronic residence permits (粤居码) as signed QR codes.
#[derive(Debug, Parser)]
#[command(name = "issuer", version, max_term_width = 100)]
pub struct Cli {
    /// The ledger: a SQLite file (created on first use), or a PostgreSQL database shared by
    /// several offices, `postgres://USER:PASSWORD@HOST:PORT/DB` (`?host=/socket/dir` for a
    /// local socket). Give a URL with a password through ISSUER_LEDGER rather than the command
    /// line, where other users of the machine can read it; errors never show the password.
    #[arg(
        long,
        global = true,
        value_name = "DB",
        env = "ISSUER_LEDGER",
        hide_env_values = true,
        default_value = DEFAULT_LEDGER
    )]
    pub ledger: PathBuf,
    /// Print results as JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Settings file (JSON); see the README for the keys and their defaults.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Use this time instead of the system clock (RFC 3339; for drills and tests, recorded in
    /// the ledger like any other time).
    #[arg(long, global = true, value_name = "RFC3339")]
    pub now: Option<String>,
    /// Who is acting, recorded with every ledger row (default: $USER).
    #[arg(long, global = true, value_name = "NAME")]
    pub actor: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Key pairs and trust lists.
    Keys {
        /// What to do with keys.
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Build and sign a trust list from key entries.
    Trust {
        /// What to do with trust lists.
        #[command(subcommand)]
        command: TrustCommand,
    },
    /// Issue a permit directly for an applicant (validation, eligibility, ledger, QR).
    Issue(IssueArgs),
    /// Record an application and run the qualification check (资格校验).
    Apply(ApplyArgs),
    /// Review a submitted application; approval issues the permit.
    Review(ReviewArgs),
    /// Endorse a permit (签注) in the month before its anniversary, or late.
    Endorse(EndorseArgs),
    /// Change a permit's registration (居住登记项目变更): hukou, photo, address in the same city.
    Change(ChangeArgs),
    /// Cancel a permit (注销); terminal.
    Cancel(CancelArgs),
    /// Physical cards: record a first card, replacement or exchange, and print the card.
    Card(CardArgs),
    /// Status lists.
    Status {
        /// What to do with status lists.
        #[command(subcommand)]
        command: StatusCommand,
    },
    /// Show a permit: state, details, validity, cards and history.
    Show {
        /// Permit serial (12 digits).
        serial: String,
    },
    /// Write a permit's current credential as a QR code again.
    Qr(QrOutArgs),
    /// Issue permits for a file of applicants (JSONL or CSV): parallel, resumable, idempotent.
    Batch(BatchArgs),
    /// Write synthetic test applicants (JSONL or CSV) for demos and scale tests.
    DemoData(DemoDataArgs),
    /// The ledger itself: check it for damage, bring its schema up to date.
    Ledger {
        /// What to do with the ledger.
        #[command(subcommand)]
        command: LedgerCommand,
    },
}

/// `issuer ledger …`
#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Check every row: applications against their content hash, permits and credentials
    /// against their digests, credentials against their signatures and permits, the event
    /// history against its hash chain (exit 0 clean, 2 damaged).
    Verify(LedgerVerifyArgs),
    /// Apply the schema migrations the ledger lacks (the first use of a ledger does the same)
    /// and print its schema version; a schema newer than this issuer knows is refused.
    Migrate,
}

/// `issuer ledger verify`
#[derive(Debug, Args)]
pub struct LedgerVerifyArgs {
    /// The trust list whose keys the credentials' signatures are checked with.
    #[command(flatten)]
    pub trust: TrustArgs,
}

/// Where a request comes in.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ChannelArg {
    /// Online self-service (subject to the city coverage table).
    Online,
    /// Police station counter (every service, every city).
    Counter,
}

/// `issuer apply`
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Applicant record (JSON).
    #[arg(long, value_name = "FILE")]
    pub applicant: PathBuf,
    /// The holder's device public key (Ed25519 JWK, e.g. `H.pub.jwk.json` from `holder keys
    /// generate`, or PEM): the credentials bind it and are shown only as live presentations
    /// signed by that device; overrides the applicant record's `holder_key`.
    #[arg(long, value_name = "FILE")]
    pub holder_key: Option<PathBuf>,
    /// Channel.
    #[arg(long, value_enum, default_value = "online")]
    pub channel: ChannelArg,
}

/// `issuer review`
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("decision").required(true).args(["approve", "reject"])))]
pub struct ReviewArgs {
    /// Application number (from `apply`).
    pub application: String,
    /// Approve (issues the permit).
    #[arg(long)]
    pub approve: bool,
    /// Reject.
    #[arg(long)]
    pub reject: bool,
    /// Reason for the decision.
    #[arg(long)]
    pub reason: String,
    /// The reviewing officer.
    #[arg(long)]
    pub reviewer: String,
    /// Signing key and output of the issued permit's credential.
    #[command(flatten)]
    pub output: SignedCodeArgs,
}

/// `issuer endorse`
#[derive(Debug, Args)]
pub struct EndorseArgs {
    /// Permit serial.
    pub serial: String,
    /// Channel.
    #[arg(long, value_enum, default_value = "online")]
    pub channel: ChannelArg,
    /// Signing key and output of the new credential.
    #[command(flatten)]
    pub output: SignedCodeArgs,
}

/// Options of the commands that sign a credential and may write its code (`review`, `endorse`,
/// `change`).
#[derive(Debug, Args)]
pub struct SignedCodeArgs {
    /// Write the credential's QR here (`.png`, `.svg`, `.txt`, `-`).
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Replace an existing output file.
    #[arg(long)]
    pub force: bool,
    /// QR options.
    #[command(flatten)]
    pub qr: QrArgs,
    /// Key options.
    #[command(flatten)]
    pub keys: KeyArgs,
}

/// `issuer change`
#[derive(Debug, Args)]
pub struct ChangeArgs {
    /// Permit serial.
    pub serial: String,
    /// New household-registration division code.
    #[arg(long)]
    pub hukou_division: Option<String>,
    /// New household-registration address.
    #[arg(long)]
    pub hukou_address: Option<String>,
    /// New photo reference (32 hex digits, e.g. a hash prefix of the photo in the records).
    #[arg(long)]
    pub photo: Option<String>,
    /// New residence district (same city).
    #[arg(long)]
    pub residence_district: Option<String>,
    /// New full residence address (same city, starting with 广东省, the city and district).
    #[arg(long)]
    pub residence_address: Option<String>,
    /// Bind the permit to a new device key (a lost or replaced phone; JWK or PEM file): the new
    /// credential and its views bind it, the old ones are superseded.
    #[arg(long, value_name = "FILE")]
    pub holder_key: Option<PathBuf>,
    /// Channel.
    #[arg(long, value_enum, default_value = "online")]
    pub channel: ChannelArg,
    /// Signing key and output of the new credential.
    #[command(flatten)]
    pub output: SignedCodeArgs,
}

/// Who reported a cancellation.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReporterArg {
    /// The holder.
    Holder,
    /// The police.
    Police,
    /// A relative.
    Relative,
    /// Employer, landlord or school.
    Institution,
}

/// `issuer cancel`
#[derive(Debug, Args)]
pub struct CancelArgs {
    /// Permit serial.
    pub serial: String,
    /// Reason.
    #[arg(long)]
    pub reason: String,
    /// Who reported it.
    #[arg(long, value_enum)]
    pub reporter: ReporterArg,
    /// Channel (coverage applies to holder requests online).
    #[arg(long, value_enum, default_value = "online")]
    pub channel: ChannelArg,
}

/// Card kinds.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CardKindArg {
    /// First card (free).
    First,
    /// 补领: replacement of a lost card.
    Replacement,
    /// 换领: exchange.
    Exchange,
}

/// `issuer card`
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("what").required(true).args(["kind", "reprint"])))]
pub struct CardArgs {
    /// Permit serial.
    pub serial: String,
    /// Kind of a new card (recorded, with its fee).
    #[arg(long, value_enum)]
    pub kind: Option<CardKindArg>,
    /// Print a card issued before again (the permit's current card, or `--number`): no new
    /// card, no fee; recorded in the permit's history.
    #[arg(long, requires = "out")]
    pub reprint: bool,
    /// With `--reprint`: the number of the card to print again (default: the current card;
    /// a card replaced or exchanged since is refused).
    #[arg(long, value_name = "N", requires = "reprint")]
    pub number: Option<u32>,
    /// Channel.
    #[arg(long, value_enum, default_value = "counter")]
    pub channel: ChannelArg,
    /// Write the printable card here (`.png` or `.svg`).
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Font for a PNG card: TrueType/OpenType file or .ttc collection with Latin and Chinese
    /// glyphs (default: $ISSUER_CARD_FONT, else the embedded WenQuanYi Micro Hei).
    #[arg(long, value_name = "FILE")]
    pub font: Option<PathBuf>,
    /// Replace an existing output file.
    #[arg(long)]
    pub force: bool,
    /// Trust options (for the self-check of the card's QR).
    #[command(flatten)]
    pub trust: TrustArgs,
}

/// `issuer status …`
#[derive(Debug, Subcommand)]
pub enum StatusCommand {
    /// Sign and write the next status list.
    Publish(PublishArgs),
}

/// `issuer status publish`
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Where to write the signed list.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Replace an existing output file.
    #[arg(long)]
    pub force: bool,
    /// Use at least this sequence number: after restoring an older copy of the ledger, give
    /// one above the highest sequence ever published (the restored ledger cannot know it).
    #[arg(long, value_name = "N")]
    pub min_sequence: Option<u64>,
    /// Key options.
    #[command(flatten)]
    pub keys: KeyArgs,
}

/// `issuer qr`
#[derive(Debug, Args)]
pub struct QrOutArgs {
    /// Permit serial.
    pub serial: String,
    /// Output: `.png`, `.svg`, `.txt`, or `-`.
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// Replace an existing output file.
    #[arg(long)]
    pub force: bool,
    /// QR options.
    #[command(flatten)]
    pub qr: QrArgs,
    /// Trust options (for the self-check; `qr` signs nothing).
    #[command(flatten)]
    pub trust: TrustArgs,
}

/// `issuer keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a new Ed25519 key pair.
    Generate(GenerateArgs),
    /// Import an Ed25519 private key made elsewhere (e.g. `openssl genpkey -algorithm ed25519`)
    /// and write the same files as `keys generate`.
    Import(ImportArgs),
    /// Print a key's id, role and SHA-256 fingerprint (never secret bytes).
    Show(ShowArgs),
}

/// `issuer keys import`
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The private key (PKCS#8 PEM, v1 or v2; mode 0600).
    #[arg(long = "in", value_name = "KEY.pem")]
    pub input: PathBuf,
    /// Key options shared with `keys generate`.
    #[command(flatten)]
    pub new: NewKeyArgs,
}

/// `issuer keys show`
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A private key (`*.key.pem`), public key (`*.pub.pem`), JWK (`*.pub.jwk.json`) or trust
    /// entry (`*.trust-entry.json`).
    #[arg(value_name = "KEY")]
    pub key: PathBuf,
}

/// Role of a generated key.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    /// Signs permits and status lists.
    Issuer,
    /// Signs trust lists.
    Root,
}

/// `issuer keys generate`
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Key options shared with `keys import`.
    #[command(flatten)]
    pub new: NewKeyArgs,
    /// Generate the key inside a PKCS#11 token instead of a key file: an RFC 7512 URI naming
    /// the token and the new key's label, e.g. `pkcs11:token=office;object=issuer-2026`. The
    /// private key is made sensitive and not extractable; only the public files are written.
    /// PIN from `?pin-source=file:/PATH` or $GDRP_PKCS11_PIN (never an argument).
    #[arg(long, value_name = "URI")]
    pub pkcs11: Option<String>,
    /// PKCS#11 module options.
    #[command(flatten)]
    pub module: Pkcs11Args,
}

/// Which PKCS#11 module serves `pkcs11:` keys.
#[derive(Debug, Args, Clone)]
pub struct Pkcs11Args {
    /// PKCS#11 module (shared library) for `pkcs11:` keys. Default: the URI's `module-path`,
    /// else $GDRP_PKCS11_MODULE, else /usr/lib/softhsm/libsofthsm2.so (Debian's SoftHSM2).
    #[arg(long, value_name = "FILE")]
    pub pkcs11_module: Option<PathBuf>,
}

/// Where and how the files of a new key are written (`keys generate`, `keys import`).
#[derive(Debug, Args)]
pub struct NewKeyArgs {
    /// Directory to write the key files into (created if missing; existing files are never
    /// overwritten).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// What the key will sign.
    #[arg(long, value_enum, default_value = "issuer")]
    pub role: RoleArg,
    /// File name stem (default: the role).
    #[arg(long)]
    pub name: Option<String>,
    /// Holder of the key, as named in the trust list.
    #[arg(
        long,
        default_value = "广东省公安厅 Guangdong Provincial Public Security Department"
    )]
    pub issuer_name: String,
    /// Mark the key TEST-ONLY.
    #[arg(long)]
    pub test: bool,
    /// Length of the signing window in days, from now.
    #[arg(long, default_value_t = 730)]
    pub signing_days: u32,
}

/// `issuer trust …`
#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Sign a trust list with the root key.
    Build(TrustBuildArgs),
}

/// `issuer trust build`
#[derive(Debug, Args)]
pub struct TrustBuildArgs {
    /// The root private key (PKCS#8 PEM, mode 0600).
    #[arg(long, value_name = "FILE")]
    pub root: PathBuf,
    /// A key entry (`*.trust-entry.json` from `keys generate`); repeat for several keys.
    #[arg(long = "entry", value_name = "FILE", required = true)]
    pub entries: Vec<PathBuf>,
    /// Sequence number: each new list needs a higher one than every list published before
    /// (verifiers that have seen a list refuse one with a lower number as a rollback). The
    /// ledger records every list built: a sequence already used with other content, or below
    /// the highest recorded, is refused; the same content again writes the recorded list.
    #[arg(long)]
    pub sequence: u64,
    /// Validity of the list in days, from now.
    #[arg(long, default_value_t = 30)]
    pub valid_days: u32,
    /// Publisher named in the list.
    #[arg(
        long,
        default_value = "广东省公安厅 Guangdong Provincial Public Security Department"
    )]
    pub publisher: String,
    /// Mark the whole list TEST-ONLY.
    #[arg(long)]
    pub test: bool,
    /// Where to write the list.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Replace an existing output file.
    #[arg(long)]
    pub force: bool,
}

/// ECC level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EccArg {
    /// ~7 % recovery.
    #[value(name = "L")]
    L,
    /// ~15 % recovery (screens).
    #[value(name = "M")]
    M,
    /// ~25 % recovery (print).
    #[value(name = "Q")]
    Q,
    /// ~30 % recovery.
    #[value(name = "H")]
    H,
}

impl From<EccArg> for permit_issuer::render::Ecc {
    fn from(e: EccArg) -> Self {
        match e {
            EccArg::L => Self::L,
            EccArg::M => Self::M,
            EccArg::Q => Self::Q,
            EccArg::H => Self::H,
        }
    }
}

/// Options shared by every command that writes a QR code.
#[derive(Debug, Args, Clone)]
pub struct QrArgs {
    /// Error-correction level.
    #[arg(long, value_enum, ignore_case = true, default_value = "M")]
    pub ecc: EccArg,
    /// Size of one module in pixels (PNG) or user units (SVG).
    #[arg(long, default_value_t = DEFAULT_MODULE_PX)]
    pub module_px: u32,
}

/// Options choosing the signing key and the trust list used for the self-check.
#[derive(Debug, Args, Clone)]
pub struct KeyArgs {
    /// Issuer private key (PKCS#8 PEM, mode 0600), or a key in a PKCS#11 token as an RFC 7512
    /// URI (`pkcs11:token=office;object=issuer-2026`; PIN from `?pin-source=file:/PATH` or
    /// $GDRP_PKCS11_PIN). Default: the embedded TEST-ONLY demo key.
    #[arg(long, value_name = "FILE|URI")]
    pub key: Option<PathBuf>,
    /// PKCS#11 module options.
    #[command(flatten)]
    pub module: Pkcs11Args,
    /// Trust options.
    #[command(flatten)]
    pub trust: TrustArgs,
}

/// Options choosing the trust list a written code is checked against (the self-check).
#[derive(Debug, Args, Clone)]
pub struct TrustArgs {
    /// Signed trust list containing the signing key (for the self-check). Default: the demo
    /// list.
    #[arg(long, value_name = "FILE")]
    pub trust: Option<PathBuf>,
    /// Root public key pinned for the trust list (PEM or JWK). Default: the demo root.
    #[arg(long, value_name = "FILE")]
    pub root: Option<PathBuf>,
}

/// `issuer issue`
#[derive(Debug, Args)]
pub struct IssueArgs {
    /// Applicant record (JSON).
    #[arg(long, value_name = "FILE")]
    pub applicant: PathBuf,
    /// The holder's device public key (Ed25519 JWK, e.g. `H.pub.jwk.json` from `holder keys
    /// generate`, or PEM): the credentials bind it and are shown only as live presentations
    /// signed by that device; overrides the applicant record's `holder_key`.
    #[arg(long, value_name = "FILE")]
    pub holder_key: Option<PathBuf>,
    /// Output: `.png`, `.svg`, `.txt`, or `-` for the text on stdout.
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// Replace an existing output file.
    #[arg(long)]
    pub force: bool,
    /// Channel (an issuing office's direct issuance is a counter service).
    #[arg(long, value_enum, default_value = "counter")]
    pub channel: ChannelArg,
    /// QR options.
    #[command(flatten)]
    pub qr: QrArgs,
    /// Key options.
    #[command(flatten)]
    pub keys: KeyArgs,
}

/// Input format.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// One JSON object per line.
    Jsonl,
    /// CSV with a header line (`basis` separated by `|`).
    Csv,
}

/// `issuer batch`
#[derive(Debug, Args)]
pub struct BatchArgs {
    /// Applicants, one per line (JSONL) or per record (CSV). Must be a file: a job is resumed
    /// by running the same command again.
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// Output directory: one `<serial>.png` per permit, `manifest.jsonl`, `errors.jsonl`,
    /// `job.json`. Created if missing; running again resumes the job it holds.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Input format (default: by the file extension, `.jsonl`/`.json`/`.ndjson` or `.csv`).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Channel the applications came in by (online: subject to the city coverage table).
    #[arg(long, value_enum, default_value = "online")]
    pub channel: ChannelArg,
    /// Also write `<serial>.svg`.
    #[arg(long)]
    pub svg: bool,
    /// Also write `<serial>.txt` (the QR text).
    #[arg(long)]
    pub text: bool,
    /// Rows per chunk: the unit of rendering, of the file sync and of the ledger transaction
    /// (one commits a chunk and plans the one three ahead).
    #[arg(long, default_value_t = permit_issuer::batch::DEFAULT_CHUNK_ROWS as u32, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub chunk_rows: u32,
    /// Decode every N-th image again in the self-check, besides the first of every chunk (0:
    /// only those). Every signed text is verified regardless.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub image_check_every: u64,
    /// Worker threads for signing and rendering (default: one per core, plus one).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
    /// QR options.
    #[command(flatten)]
    pub qr: QrArgs,
    /// Key options.
    #[command(flatten)]
    pub keys: KeyArgs,
}

/// `issuer demo-data`
#[derive(Debug, Args)]
pub struct DemoDataArgs {
    /// Number of applicants.
    #[arg(long, default_value_t = 200)]
    pub count: usize,
    /// Seed: the same seed gives the same rows (the same as generate.py with that seed).
    #[arg(long, default_value_t = 14)]
    pub seed: u64,
    /// Spoil up to K rows, each with one known defect.
    #[arg(long, default_value_t = 0, value_name = "K")]
    pub bad: usize,
    /// Output format (default: from the `--out` file name, as `batch` reads it; JSONL on stdout).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Write one JSON line per spoiled row here: line, ref, defect.
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// Also place applicants in Shenzhen and Foshan, where the online service is not offered.
    #[arg(long)]
    pub all_cities: bool,
    /// Output file (`-`: stdout).
    #[arg(long, value_name = "FILE", default_value = "-")]
    pub out: PathBuf,
    /// Replace existing output files.
    #[arg(long)]
    pub force: bool,
}

impl From<ChannelArg> for Channel {
    fn from(c: ChannelArg) -> Channel {
        match c {
            ChannelArg::Online => Channel::Online,
            ChannelArg::Counter => Channel::Counter,
        }
    }
}

impl From<CardKindArg> for CardKind {
    fn from(k: CardKindArg) -> CardKind {
        match k {
            CardKindArg::First => CardKind::First,
            CardKindArg::Replacement => CardKind::Replacement,
            CardKindArg::Exchange => CardKind::Exchange,
        }
    }
}

impl From<ReporterArg> for Reporter {
    fn from(r: ReporterArg) -> Reporter {
        match r {
            ReporterArg::Holder => Reporter::Holder,
            ReporterArg::Police => Reporter::Police,
            ReporterArg::Relative => Reporter::Relative,
            ReporterArg::Institution => Reporter::Institution,
        }
    }
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Issuer => Role::Issuer,
            RoleArg::Root => Role::Root,
        }
    }
}
