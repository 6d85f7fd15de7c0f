//! A failed command: a stable code from the issuer's table, a message naming what and where, an
//! optional hint, and the exit code the table gives; printed on stderr, and with `--json` also
//! as one JSON object on stdout (README, "Errors that stop a command").

use std::io::Write as _;

use serde::Serialize;

use permit_issuer::batch::BatchError;
use permit_issuer::error_code::ErrorCode;
use permit_issuer::issue::SignerError;
use permit_issuer::issue::output::OutputError;
use permit_issuer::keyfile::KeyFileError;
use permit_issuer::ledger::LedgerError;
use permit_issuer::lifecycle::LifecycleError;

/// A failed command.
pub struct Failure {
    /// Stable: scripts match on it, never on the message.
    pub code: ErrorCode,
    pub message: String,
    pub hint: Option<String>,
    pub exit: u8,
    /// The fields at fault, when the failure is about a record's fields (each with its own code).
    pub problems: Vec<Problem>,
    /// Command-specific facts about the failure (`issuer batch`: what this run had committed).
    pub details: Option<Box<serde_json::Value>>,
}

/// One field at fault.
#[derive(Serialize)]
pub struct Problem {
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

impl From<&permit_shared::applicant::FieldError> for Problem {
    fn from(e: &permit_shared::applicant::FieldError) -> Problem {
        Problem {
            field: e.field.clone(),
            code: e.code,
            message: e.message.clone(),
        }
    }
}

pub type Result<T> = std::result::Result<T, Failure>;

impl Failure {
    /// A failure with the exit code of its code.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
            hint: None,
            exit: code.exit_code(),
            problems: Vec::new(),
            details: None,
        }
    }

    /// A flag, argument or option value the command cannot use (`USAGE`, exit 2).
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure::new(ErrorCode::Usage, message)
    }

    /// A file (or stream) that could not be opened, read or written (`IO_ERROR`, exit 2).
    pub fn io(what: impl std::fmt::Display, e: &std::io::Error) -> Failure {
        Failure::new(ErrorCode::IoError, format!("{what}: {e}"))
    }

    pub fn hint(mut self, h: impl Into<String>) -> Failure {
        self.hint = Some(h.into());
        self
    }

    /// Prints the failure: `error: MESSAGE [CODE]` and `hint: …` on stderr, and with `json` the
    /// error object on stdout.
    pub fn report(self, json: bool) {
        eprintln!("error: {} [{}]", self.message, self.code);
        if let Some(h) = &self.hint {
            eprintln!("hint: {h}");
        }
        if json {
            let mut v = permit_shared::reason::command_error_json(
                self.code.as_str(),
                &self.message,
                self.hint.as_deref(),
                self.exit,
            );
            if !self.problems.is_empty() {
                v["error"]["problems"] = serde_json::json!(self.problems);
            }
            if let Some(d) = self.details {
                v["error"]["details"] = *d;
            }
            // Best effort: the error is on stderr and in the exit code already.
            let _ = writeln!(std::io::stdout().lock(), "{v:#}");
        }
    }
}

impl From<KeyFileError> for Failure {
    fn from(e: KeyFileError) -> Failure {
        let (code, hint) = match &e {
            KeyFileError::Io { .. } => (ErrorCode::KeyFileIo, None),
            KeyFileError::TooOpen { .. } => (ErrorCode::KeyFileTooOpen, None),
            KeyFileError::NotOwned { .. } => (ErrorCode::KeyFileNotOwned, None),
            KeyFileError::Exists { .. } => (
                ErrorCode::KeyFileExists,
                Some("choose another --out directory or --name; key files are never overwritten"),
            ),
            KeyFileError::TooLarge { .. } => (ErrorCode::KeyFileTooLarge, None),
            KeyFileError::Key { .. } => (ErrorCode::KeyInvalid, None),
            KeyFileError::Random(_) => (ErrorCode::NoRandomness, None),
        };
        Failure {
            hint: hint.map(str::to_owned),
            ..Failure::new(code, e.to_string())
        }
    }
}

/// The code of a ledger failure.
pub fn ledger_code(e: &LedgerError) -> ErrorCode {
    match e {
        LedgerError::Db { .. } => ErrorCode::LedgerError,
        LedgerError::Conflict(_) => ErrorCode::LedgerConflict,
        LedgerError::Damaged(_) => ErrorCode::LedgerDamaged,
    }
}

impl From<LedgerError> for Failure {
    fn from(e: LedgerError) -> Failure {
        Failure::new(ledger_code(&e), e.to_string())
    }
}

impl From<LifecycleError> for Failure {
    fn from(e: LifecycleError) -> Failure {
        let e = match e {
            LifecycleError::Ledger(l) => return l.into(),
            // The code goes beside the message (`report` prints it), not into it twice.
            LifecycleError::Refused { code, message } => return Failure::new(code, message),
            e => e,
        };
        let hint = match &e {
            LifecycleError::Invalid(_) => Some("correct the applicant record and submit it again"),
            LifecycleError::IllegalTransition { .. } => {
                Some("`issuer show SERIAL` prints the permit's state and history")
            }
            _ => None,
        };
        let problems = match &e {
            LifecycleError::Invalid(v) => v.iter().map(Problem::from).collect(),
            _ => Vec::new(),
        };
        Failure {
            hint: hint.map(str::to_owned),
            problems,
            ..Failure::new(e.code(), e.to_string())
        }
    }
}

impl From<SignerError> for Failure {
    fn from(e: SignerError) -> Failure {
        let f = Failure::usage(e.to_string());
        match e {
            SignerError::NotInTrustList { .. } => {
                f.hint("add the key's trust-list entry with `issuer trust build`, or pass --trust")
            }
            SignerError::KeyUse { .. } => f,
        }
    }
}

impl From<OutputError> for Failure {
    fn from(e: OutputError) -> Failure {
        match e {
            OutputError::Render(e) => Failure::usage(e.to_string()),
            OutputError::SelfCheck(e) => Failure::new(ErrorCode::SelfCheckFailed, e.to_string())
                .hint("nothing was written; report this as a bug"),
        }
    }
}

impl From<BatchError> for Failure {
    fn from(e: BatchError) -> Failure {
        let resume =
            "fix the cause and run the same command again: the job resumes where it stopped";
        let (code, hint) = match &e {
            BatchError::Io { .. } => (ErrorCode::IoError, resume),
            BatchError::Input { .. } => {
                (ErrorCode::InputFormat, "check the file's format (--format)")
            }
            BatchError::JobMismatch { .. } => (
                ErrorCode::JobMismatch,
                "use a new --out directory for another input",
            ),
            BatchError::Locked { .. } => (
                ErrorCode::OutputLocked,
                "wait for it to finish, or use another --out directory",
            ),
            BatchError::Ledger(l) => (ledger_code(l), resume),
            BatchError::Lifecycle { source, .. } => (source.code(), resume),
            BatchError::SelfCheck { .. } => (
                ErrorCode::SelfCheckFailed,
                "nothing of the failing chunk was committed; report this as a bug",
            ),
            BatchError::Render { .. } => (ErrorCode::RenderFailed, resume),
        };
        // A job-level error stops the job: exit 2 whatever the code's own kind.
        Failure {
            exit: 2,
            ..Failure::new(code, e.to_string()).hint(hint)
        }
    }
}
