// The offline verifier page: the camera, a photo or scanner text go to the WebAssembly verifier
// (permit-web), whose report (the JSON of `verifier verify --json`, gdrp-verify/1) is shown
// full-screen until dismissed. Every call passes Date.now(): the library never reads the clock.
//
// Kept in localStorage: the verifier state (clock floor, list sequences seen, presentations
// seen), the trust and status lists loaded (public, signed documents) and the list URLs.
// Nothing about a scanned person is stored: a report lives in the DOM until "Dismiss".
import init, { WebVerifier } from "./pkg/permit_web.js";

const $ = (id) => document.getElementById(id);
const KEY_STATE = "gdrp.verifier.state";
const KEY_TRUST = "gdrp.verifier.trust";
const KEY_STATUS = "gdrp.verifier.status";
const KEY_SETTINGS = "gdrp.verifier.settings";
// The camera's frames are scaled so that the longer side is at most this (a 720p frame).
const MAX_FRAME_SIDE = 1280;

// Measurements for tests and tuning: scan_rgba durations, and camera start → first verdict.
// cameraStartedAt: the video plays; clickToVerdictMs includes getUserMedia and the first frame.
const timings = { scan: [], cameraClickedAt: null, cameraStartedAt: null, firstVerdictAt: null, cameraToVerdictMs: null, clickToVerdictMs: null };
window.__gdrpTimings = timings;

let verifier = null;
let stream = null;
let scanTimer = null;

// --- labels -----------------------------------------------------------------------------------

const VERDICTS = {
  VALID: "VALID 有效",
  INVALID: "INVALID 无效",
  INDETERMINATE: "INDETERMINATE 无法判定",
};

// The permit fields the report may carry (which ones depends on the view and the role).
const FIELDS = [
  ["name", "姓名", "Name"],
  ["name_masked", "姓名", "Name"],
  ["sex", "性别", "Sex"],
  ["birth_date", "出生日期", "Date of birth"],
  ["id_number", "公民身份号码", "ID number"],
  ["id_number_masked", "公民身份号码", "ID number"],
  ["id_last4", "身份号码后四位", "ID number, last 4"],
  ["ethnicity", "民族", "Ethnicity"],
  ["hukou_division", "户籍地区划", "Hukou division"],
  ["hukou_place", "户籍地址", "Hukou address"],
  ["residence_city_name", "居住城市", "City of residence"],
  ["residence_city", "居住城市代码", "City code"],
  ["residence_district", "居住区县", "District"],
  ["residence_address", "居住地址", "Address"],
  ["authority_name", "签发机关", "Issuing authority"],
  ["authority", "签发机关代码", "Authority code"],
  ["issued_on", "签发日期", "Issued on"],
  ["valid_until", "有效期至", "Valid until"],
  ["endorsed_until", "签注有效期至", "Endorsed until"],
  ["serial", "居住证编号", "Permit number"],
  ["version", "凭证版本", "Credential version"],
  ["view", "视图", "View"],
  ["role", "核验角色", "Verifier role"],
  ["holder_bound", "绑定手机", "Bound to the holder's phone"],
  ["presented_at", "出示时间", "Presented at"],
  ["status_index", "状态索引", "Status index"],
  ["status_list", "状态列表", "Status list"],
  ["photo_ref", "照片索引", "Photo reference"],
  ["credential_issued_at", "凭证签发时间", "Credential signed at"],
];

function bilingual(zh, en) {
  const frag = document.createDocumentFragment();
  frag.append(`${zh} `);
  const span = document.createElement("span");
  span.className = "en";
  span.textContent = en;
  frag.append(span);
  return frag;
}

function value(v) {
  if (v === true) return "是 yes";
  if (v === false) return "否 no";
  return String(v);
}

function age(seconds) {
  const s = Math.abs(seconds);
  const text = s < 3600 ? `${Math.round(s / 60)} 分钟 min` : s < 172800 ? `${Math.round(s / 3600)} 小时 h` : `${Math.round(s / 86400)} 天 days`;
  return seconds < 0 ? `−${text}` : text;
}

// --- storage (lists and state only) -------------------------------------------------------------

function toB64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function fromB64(text) {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

// localStorage may be full or disabled (private mode): the page still works, it only forgets.
function store(key, value) {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
    return true;
  } catch (e) {
    console.warn(`not saved: ${key}: ${e}`);
    return false;
  }
}

function saveState() {
  if (verifier) store(KEY_STATE, verifier.state_json());
}

function settings() {
  try {
    return JSON.parse(localStorage.getItem(KEY_SETTINGS) || "{}");
  } catch {
    return {};
  }
}

async function fetchBytes(url, noStore) {
  const response = await fetch(url, noStore ? { cache: "no-store" } : {});
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

// --- the lists ----------------------------------------------------------------------------------

function listsMessage(text, isError) {
  const el = $("lists-msg");
  el.textContent = text;
  el.classList.toggle("error", Boolean(isError));
}

function renderLists() {
  if (!verifier) return;
  let info;
  try {
    info = JSON.parse(verifier.lists(Date.now()));
  } catch (e) {
    listsMessage(String(e.message || e), true);
    return;
  }
  const trust = info.provenance.trust_list;
  const status = info.provenance.status_list;
  const rows = [
    ["信任列表", "Trust list", `#${trust.sequence} · ${trust.publisher}`],
    ["签发于", "Issued", `${trust.issued_at} (${age(trust.age_seconds)})`],
    ["有效至", "Expires", trust.expires_at],
    [
      "状态列表",
      "Status list",
      status ? `#${status.sequence} · ${info.status_loaded || status.uri}` : "未加载：不核对注销 · not loaded: cancellations not checked",
    ],
  ];
  if (status) {
    rows.push(["签发于", "Issued", `${status.issued_at} (${age(status.age_seconds)})`]);
    rows.push(["下次更新", "Next update", status.next_update]);
  }
  if (info.provenance.clock.floor) rows.push(["时钟下限", "Clock floor", info.provenance.clock.floor]);
  const dl = $("lists");
  dl.replaceChildren();
  for (const [zh, en, text] of rows) {
    const dt = document.createElement("dt");
    dt.append(bilingual(zh, en));
    const dd = document.createElement("dd");
    dd.textContent = text;
    dl.append(dt, dd);
  }
  dl.dataset.trustSequence = trust.sequence;
  dl.dataset.statusSequence = status ? status.sequence : "";
  $("test-banner").hidden = !trust.test;
  const ul = $("list-warnings");
  ul.replaceChildren();
  for (const w of info.warnings) {
    const li = document.createElement("li");
    li.dataset.code = w.code;
    li.textContent = `${w.code}: ${w.message_zh} ${w.message}`;
    ul.append(li);
  }
}

async function loadTrust(bytes, source) {
  verifier.load_trust(bytes, Date.now());
  saveState();
  store(KEY_TRUST, toB64(bytes));
  renderLists();
  listsMessage(`信任列表已加载 Trust list loaded: ${source}`);
}

async function loadStatus(bytes, name) {
  verifier.load_status(name, bytes, Date.now());
  saveState();
  if (!store(KEY_STATUS, JSON.stringify({ name, b64: toB64(bytes) }))) {
    listsMessage("状态列表过大，重新打开页面后需再次加载 · The status list is too large to keep: load it again after a reload", true);
  }
  renderLists();
  listsMessage(`状态列表已加载 Status list loaded: ${name}`);
}

async function guarded(what) {
  try {
    await what();
  } catch (e) {
    listsMessage(String(e.message || e), true);
  }
}

async function fetchLists() {
  const s = settings();
  if (s.trustUrl) await guarded(async () => loadTrust(await fetchBytes(s.trustUrl, true), s.trustUrl));
  if (s.statusUrl) await guarded(async () => loadStatus(await fetchBytes(s.statusUrl, true), s.statusUrl));
}

// --- the verdict --------------------------------------------------------------------------------

function showVerdict(report) {
  const el = $("verdict");
  $("verdict-title").textContent = VERDICTS[report.verdict] || report.verdict;
  const fields = $("verdict-fields");
  fields.replaceChildren();
  const permit = report.permit || {};
  const shown = new Set();
  for (const [key, zh, en] of FIELDS) {
    const v = permit[key];
    if (v === undefined || v === null || v === "") continue;
    // name and name_masked are alternatives; show the first present.
    if (shown.has(zh) && (key === "name_masked" || key === "id_number_masked")) continue;
    shown.add(zh);
    const dt = document.createElement("dt");
    dt.append(bilingual(zh, en));
    const dd = document.createElement("dd");
    dd.dataset.field = key;
    dd.textContent = value(v);
    fields.append(dt, dd);
  }
  const reasons = $("verdict-reasons");
  reasons.replaceChildren();
  for (const r of report.reasons || []) {
    const li = document.createElement("li");
    li.dataset.code = r.code;
    li.dataset.severity = r.severity;
    const code = document.createElement("code");
    code.textContent = r.code;
    const zh = document.createElement("span");
    zh.className = "zh";
    zh.textContent = r.message_zh;
    const en = document.createElement("span");
    en.className = "msg-en";
    en.textContent = r.message;
    li.append(code, zh, en);
    reasons.append(li);
  }
  $("verdict-test").hidden = !permit.test;
  el.dataset.codes = (report.reasons || []).map((r) => r.code).join(" ");
  el.dataset.verdict = report.verdict;
  el.hidden = false;
  // The verdict word first: focusing the button must not scroll it out of sight.
  el.scrollTop = 0;
  $("dismiss").focus({ preventScroll: true });
}

// Clears everything about the person: the DOM of the verdict, the text box, the chosen file.
function dismiss() {
  const el = $("verdict");
  el.hidden = true;
  delete el.dataset.verdict;
  delete el.dataset.codes;
  $("verdict-title").textContent = "";
  $("verdict-fields").replaceChildren();
  $("verdict-reasons").replaceChildren();
  $("verdict-test").hidden = true;
  $("text").value = "";
  $("photo").value = "";
  // The code may still be in front of the camera: a short pause before scanning again.
  if (stream) {
    clearTimeout(scanTimer);
    scanTimer = setTimeout(scanFrame, 1000);
  }
}

function verdictShown() {
  return !$("verdict").hidden;
}

// --- inputs -------------------------------------------------------------------------------------

function run(call) {
  let json;
  try {
    json = call();
  } catch (e) {
    // A trap (a bug in the WebAssembly, not a refused input) leaves the module unusable.
    if (e instanceof WebAssembly.RuntimeError) {
      stopCamera();
      bootMessage(`内部错误，请重新加载页面 · Internal error, reload the page: ${e.message}`, "error");
      for (const id of ["camera-start", "photo", "text-verify"]) $(id).disabled = true;
    }
    throw e;
  }
  saveState();
  return JSON.parse(json);
}

function verifyText() {
  const text = $("text").value.trim();
  if (!text) return;
  showVerdict(run(() => verifier.verify_text(text, Date.now())));
}

async function checkPhoto(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  showVerdict(run(() => verifier.check_image(file.name, bytes, Date.now())));
}

function cameraMessage(text, isError) {
  const el = $("camera-msg");
  el.textContent = text;
  el.classList.toggle("error", Boolean(isError));
}

async function startCamera() {
  timings.cameraClickedAt = performance.now();
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    cameraMessage("此浏览器无法使用摄像头（需要 HTTPS）；请用照片或扫码枪文本 · No camera access here (HTTPS is needed): use a photo or scanner text", true);
    return;
  }
  cameraMessage("正在开启摄像头… Starting the camera…");
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { facingMode: "environment", width: { ideal: 1280 }, height: { ideal: 720 } },
    });
  } catch (e) {
    stream = null;
    const denied = e.name === "NotAllowedError" || e.name === "SecurityError";
    cameraMessage(
      denied
        ? "未获得摄像头权限：请在浏览器设置中允许，或用照片 · Camera permission denied: allow it in the browser settings, or use a photo"
        : `没有可用的摄像头 · No camera available (${e.name}): use a photo or scanner text`,
      true,
    );
    return;
  }
  const video = $("video");
  video.srcObject = stream;
  video.hidden = false;
  await video.play();
  timings.cameraStartedAt = performance.now();
  timings.firstVerdictAt = null;
  timings.cameraToVerdictMs = null;
  $("camera-start").hidden = true;
  $("camera-stop").hidden = false;
  cameraMessage("对准二维码 · Point the camera at the code");
  scanFrame();
}

function stopCamera() {
  clearTimeout(scanTimer);
  if (stream) for (const track of stream.getTracks()) track.stop();
  stream = null;
  $("video").srcObject = null;
  $("video").hidden = true;
  $("camera-start").hidden = false;
  $("camera-stop").hidden = true;
  cameraMessage("");
}

// One camera frame: draw it on the canvas, scan its pixels, show a verdict when a code was
// found. The next frame waits at least as long as this one took, so that scanning takes at most
// about half of the main thread and the page stays responsive.
function scanFrame() {
  if (!stream) return;
  const video = $("video");
  if (verdictShown() || video.readyState < 2 || !video.videoWidth) {
    scanTimer = setTimeout(scanFrame, 100);
    return;
  }
  const scale = Math.min(1, MAX_FRAME_SIDE / Math.max(video.videoWidth, video.videoHeight));
  const w = Math.round(video.videoWidth * scale);
  const h = Math.round(video.videoHeight * scale);
  const canvas = $("frame");
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(video, 0, 0, w, h);
  const pixels = ctx.getImageData(0, 0, w, h).data;
  const t0 = performance.now();
  let report;
  try {
    report = run(() => verifier.scan_rgba(w, h, new Uint8Array(pixels.buffer), Date.now()));
  } catch (e) {
    cameraMessage(String(e.message || e), true);
    scanTimer = setTimeout(scanFrame, 1000);
    return;
  }
  const took = performance.now() - t0;
  timings.scan.push({ ms: took, width: w, height: h, found: !noCode(report) });
  if (timings.scan.length > 1000) timings.scan.shift();
  if (noCode(report)) {
    scanTimer = setTimeout(scanFrame, Math.max(30, took));
    return;
  }
  if (timings.firstVerdictAt === null) {
    timings.firstVerdictAt = performance.now();
    timings.cameraToVerdictMs = timings.firstVerdictAt - timings.cameraStartedAt;
    timings.clickToVerdictMs = timings.firstVerdictAt - timings.cameraClickedAt;
  }
  showVerdict(report);
  scanTimer = setTimeout(scanFrame, 100);
}

// A camera frame that gave no code says nothing about the person: the next frame is tried.
// Besides NO_CODE_FOUND, that is a frame whose decoding ran out of its time budget or failed
// inside the decoder (both say "scan again"), when no code at all came out of it.
const NEXT_FRAME = new Set(["NO_CODE_FOUND", "SCAN_TIMED_OUT", "DECODER_PANICKED"]);

function noCode(report) {
  const reasons = report.reasons || [];
  return (report.codes || []).length === 0 && reasons.length > 0 && reasons.every((r) => NEXT_FRAME.has(r.code));
}

// --- start --------------------------------------------------------------------------------------

function bootMessage(text, state) {
  const el = $("boot");
  el.textContent = text;
  el.dataset.state = state;
}

async function boot() {
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("./sw.js").catch((e) => console.warn(`service worker: ${e}`));
    navigator.serviceWorker.ready.then(() => {
      document.body.dataset.offlineReady = "true";
    });
  }
  await init();
  const root = await fetchBytes("lists/root.pub.jwk.json");
  const state = localStorage.getItem(KEY_STATE) || "";
  const savedTrust = localStorage.getItem(KEY_TRUST);
  let trust = savedTrust ? fromB64(savedTrust) : await fetchBytes("lists/trust-list.json");
  try {
    verifier = new WebVerifier(root, trust, state, Date.now());
  } catch (e) {
    if (!savedTrust) throw e;
    // The saved list no longer verifies (expired, damaged): start from the bundled one.
    console.warn(`saved trust list refused: ${e.message}`);
    trust = await fetchBytes("lists/trust-list.json");
    verifier = new WebVerifier(root, trust, state, Date.now());
    store(KEY_TRUST, null);
  }
  saveState();
  const savedStatus = localStorage.getItem(KEY_STATUS);
  if (savedStatus) {
    await guarded(async () => {
      const { name, b64 } = JSON.parse(savedStatus);
      verifier.load_status(name, fromB64(b64), Date.now());
      saveState();
    });
  }
  // The role is a setting of this device (not about anyone checked).
  const savedRole = settings().role || "police";
  $("role").value = savedRole;
  await guarded(async () => verifier.set_role($("role").value));
  renderLists();
  for (const id of ["camera-start", "photo", "text-verify"]) $(id).disabled = false;
  bootMessage("就绪 · Ready", "ready");
  const s = settings();
  $("trust-url").value = s.trustUrl || "";
  $("status-url").value = s.statusUrl || "";
  if (navigator.onLine) fetchLists();
  // Ages and staleness change with time.
  setInterval(renderLists, 60000);
}

$("camera-start").addEventListener("click", startCamera);
$("camera-stop").addEventListener("click", stopCamera);
$("text-verify").addEventListener("click", verifyText);
$("photo").addEventListener("change", (e) => {
  const file = e.target.files[0];
  if (file) checkPhoto(file).catch((err) => cameraMessage(String(err.message || err), true));
});
$("dismiss").addEventListener("click", dismiss);
$("trust-file").addEventListener("change", (e) => {
  const file = e.target.files[0];
  if (file) guarded(async () => loadTrust(new Uint8Array(await file.arrayBuffer()), file.name));
  e.target.value = "";
});
$("status-file").addEventListener("change", (e) => {
  const file = e.target.files[0];
  if (file) guarded(async () => loadStatus(new Uint8Array(await file.arrayBuffer()), file.name));
  e.target.value = "";
});
$("role").addEventListener("change", () => {
  guarded(async () => verifier.set_role($("role").value));
  store(KEY_SETTINGS, JSON.stringify({ ...settings(), role: $("role").value }));
});
$("fetch-lists").addEventListener("click", () => {
  store(KEY_SETTINGS, JSON.stringify({ ...settings(), trustUrl: $("trust-url").value.trim(), statusUrl: $("status-url").value.trim() }));
  fetchLists();
});
$("clear-status").addEventListener("click", () => {
  verifier.clear_status();
  store(KEY_STATUS, null);
  renderLists();
  listsMessage("状态列表已清除 · Status list cleared");
});
$("reset-state").addEventListener("click", () => {
  // The state is what detects rollbacks and a clock set back: resetting it is deliberate.
  if (!confirm("重置后将不再能发现旧列表回滚 · Resetting forgets the rollback and clock protection. Continue?")) return;
  store(KEY_STATE, null);
  location.reload();
});

boot().catch((e) => {
  console.error(e);
  bootMessage(`无法启动 · Cannot start: ${e.message || e}`, "error");
});
