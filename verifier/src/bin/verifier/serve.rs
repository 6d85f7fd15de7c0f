//! `verifier serve`: the JSON verification API over HTTP (axum on tokio), and static files.
//!
//! `POST /api/v1/verify` takes one scan: scanner text (`text/plain`, or curl's default
//! `application/x-www-form-urlencoded`, or no type / `application/octet-stream`: read like
//! `verify -` reads stdin, an image recognised by content) or an image (`image/*`). It answers
//! HTTP 200 with exactly the report `verifier verify - --json` prints for the same bytes, for
//! every verdict. 4xx only when the request cannot be read: 413 (body over the image file
//! limit), 415 (another media type), 400 (more than one line of text: one scan per request), each
//! with the JSON error object of the command line (`{"error": {"code", "message", "hint"}}`).
//!
//! Caps: the body size (the image file limit), requests handled at once (`--max-concurrent`,
//! more wait), images scanned at once (one per core; text is verified on the async workers), and
//! 30 s per request (408).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tokio::sync::Semaphore;
use tower_http::services::ServeDir;
use tower_http::timeout::TimeoutLayer;

use permit_verifier::report::Report;
use permit_verifier::scan::ScanLimits;

use crate::cli::ServeArgs;
use crate::load::Opened;
use crate::station::{self, Line};
use crate::{Failure, fail, io_fail};

/// What every request shares.
struct App {
    opened: Opened,
    limits: ScanLimits,
    /// Image scans at once (CPU-bound, off the async workers).
    scans: Semaphore,
    /// The first report that found the device clock behind (for the state at shutdown).
    clock_behind: Mutex<Option<Report>>,
}

/// How a body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Media {
    /// `image/*`.
    Image,
    /// Text or an image, by content (as `verify -` reads stdin).
    Sniffed,
}

/// `verifier serve`.
pub(crate) fn run(a: &ServeArgs) -> Result<u8, Failure> {
    let opened = crate::load::open(&a.session)?;
    if let Some(dir) = &a.web
        && !dir.is_dir()
    {
        return Err(fail(format!("--web {}: not a directory", dir.display())));
    }
    let limits = ScanLimits {
        time_budget: Duration::from_millis(a.time_budget_ms),
        ..ScanLimits::default()
    };
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let app = Arc::new(App {
        opened,
        limits,
        scans: Semaphore::new(cores),
        clock_behind: Mutex::new(None),
    });
    let body_cap = usize::try_from(app.limits.max_file_bytes).unwrap_or(usize::MAX);
    let mut router = Router::new()
        .route("/api/v1/verify", post(verify))
        .layer(DefaultBodyLimit::max(body_cap))
        .with_state(Arc::clone(&app));
    if let Some(dir) = &a.web {
        router = router.fallback_service(ServeDir::new(dir));
    }
    let router = router
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            a.max_concurrent.max(1),
        ));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| io_fail("starting the server runtime", &e))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(a.listen)
            .await
            .map_err(|e| io_fail(format_args!("--listen {}", a.listen), &e))?;
        let addr = listener.local_addr().map_err(|e| io_fail("--listen", &e))?;
        eprintln!("listening on http://{addr}  (POST /api/v1/verify)");
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown())
            .await
            .map_err(|e| io_fail("serving", &e))
    })?;
    drop(runtime);
    match Arc::try_unwrap(app) {
        Ok(app) => {
            let behind = app.clock_behind.into_inner().ok().flatten();
            app.opened.finish(behind.as_slice());
        }
        Err(_) => eprintln!("warning: requests still running at shutdown; state not saved"),
    }
    Ok(0)
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
    eprintln!("shutting down");
}

/// `POST /api/v1/verify`.
async fn verify(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                "INPUT_TOO_LARGE",
                format!(
                    "request body over the limit of {} bytes",
                    app.limits.max_file_bytes
                ),
            );
        }
        Err(e) => return refuse(e.status(), "BAD_REQUEST", e.body_text()),
    };
    let media = match media(&headers) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    if media == Media::Image || station::is_image(&body[..body.len().min(16)]) {
        let Ok(_slot) = app.scans.acquire().await else {
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "SHUTTING_DOWN",
                "the server is stopping".into(),
            );
        };
        let worker = Arc::clone(&app);
        let done = tokio::task::spawn_blocking(move || {
            let ctx = station::context_now(&worker.opened.session.context());
            station::report_image("-", &body, &ctx, &worker.limits)
        })
        .await;
        return match done {
            Ok(r) => answer(&app, &r),
            Err(e) => refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                format!("the scan stopped: {e}"),
            ),
        };
    }
    let Some(line) = one_line(&body, app.limits.max_text_bytes) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "more than one line of text: send one scan per request".into(),
        );
    };
    let ctx = station::context_now(&app.opened.session.context());
    let r = station::report_line("-", &line, &ctx, &app.limits);
    answer(&app, &r)
}

/// The one non-blank line of a text body (an empty text when there is none), as `verify -`
/// reads it; `None` when there are several.
fn one_line(body: &[u8], cap: usize) -> Option<Line> {
    let mut reader = std::io::Cursor::new(body);
    let mut found = None;
    // Reading from memory cannot fail.
    while let Ok(Some(l)) = station::next_line(&mut reader, cap) {
        if matches!(&l, Line::Text(t) if t.trim().is_empty()) {
            continue;
        }
        if found.is_some() {
            return None;
        }
        found = Some(l);
    }
    Some(found.unwrap_or(Line::Text(String::new())))
}

/// The media type of the request, or the 415/400 answer.
fn media(headers: &HeaderMap) -> Result<Media, Box<Response>> {
    let Some(v) = headers.get(header::CONTENT_TYPE) else {
        return Ok(Media::Sniffed);
    };
    let Ok(v) = v.to_str() else {
        return Err(Box::new(refuse(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "Content-Type is not ASCII".into(),
        )));
    };
    let essence = v
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        t if t.starts_with("image/") => Ok(Media::Image),
        "text/plain" | "application/x-www-form-urlencoded" | "application/octet-stream" | "" => {
            Ok(Media::Sniffed)
        }
        other => Err(Box::new(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            format!("Content-Type `{other}`: send text/plain (the scanned text) or image/*"),
        ))),
    }
}

/// HTTP 200 with the report, exactly as `verify - --json` prints it.
fn answer(app: &App, r: &Report) -> Response {
    if r.reasons
        .iter()
        .any(|x| x.code == permit_shared::reason::Code::ClockBehind)
        && let Ok(mut b) = app.clock_behind.lock()
        && b.is_none()
    {
        *b = Some(r.clone());
    }
    let mut text = serde_json::to_string_pretty(&r.to_json(false)).unwrap_or_default();
    text.push('\n');
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        text,
    )
        .into_response()
}

/// A request that cannot be read: the status and the JSON error object.
fn refuse(status: StatusCode, code: &str, message: String) -> Response {
    let hint = "POST one scan to /api/v1/verify as text/plain (the scanned text) or image/*";
    let v = permit_shared::reason::command_error_json(code, &message, Some(hint), 2);
    let mut text = v.to_string();
    text.push('\n');
    (status, [(header::CONTENT_TYPE, "application/json")], text).into_response()
}
