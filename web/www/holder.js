// The holder page: a device key made by WebCrypto (Ed25519, private key not extractable, kept
// in IndexedDB), the wallet the issuer wrote for that key (gdrp-wallet/1), and every 30 s a new
// live presentation code of the chosen view, signed by the key (docs/FORMAT.md §10.3). The
// WebAssembly gives the bytes to sign and the QR text; the signature is made by the browser's
// key store, so the private key never reaches JavaScript or WebAssembly memory.
import init, { presentation_tbs, presentation_text, qr_matrix } from "./pkg/permit_web.js";

const $ = (id) => document.getElementById(id);
// The format's refresh period: verifiers accept a code for about a minute (--presentation-window).
const REFRESH_MS = 30000;
const QUIET_ZONE = 4;
const MODULE_PX = 6;

let deviceKey = null;
let wallet = null;
let timer = null;

// --- IndexedDB: one object store with the key pair and the wallet -----------------------------

function db() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open("gdrp-holder", 1);
    req.onupgradeneeded = () => req.result.createObjectStore("items");
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function dbGet(key) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const req = d.transaction("items").objectStore("items").get(key);
    req.onsuccess = () => resolve(req.result ?? null);
    req.onerror = () => reject(req.error);
  });
}

async function dbPut(key, value) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const tx = d.transaction("items", "readwrite");
    tx.objectStore("items").put(value, key);
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
  });
}

function message(id, text, isError) {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle("error", Boolean(isError));
}

// --- the key -------------------------------------------------------------------------------------

// The public key as the issuer reads it (`issuer issue --holder-key`): exactly kty, crv, x.
async function publicJwk() {
  const jwk = await crypto.subtle.exportKey("jwk", deviceKey.publicKey);
  return { kty: "OKP", crv: "Ed25519", x: jwk.x };
}

async function showKey() {
  if (!deviceKey) {
    $("public-jwk").textContent = "";
    $("key-download").hidden = true;
    $("key-generate").hidden = false;
    return;
  }
  const jwk = await publicJwk();
  const text = `${JSON.stringify(jwk, null, 2)}\n`;
  $("public-jwk").textContent = text;
  $("public-jwk").dataset.x = jwk.x;
  const link = $("key-download");
  if (link.href) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(new Blob([text], { type: "application/jwk+json" }));
  link.hidden = false;
  // One key per device: a new key would orphan the wallet bound to this one.
  $("key-generate").hidden = true;
}

async function generateKey() {
  try {
    // extractable false: the private key can sign but never be read out of the browser.
    deviceKey = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
  } catch (e) {
    message("key-msg", `此浏览器不支持 Ed25519 密钥 · This browser cannot make Ed25519 keys: ${e.message || e}`, true);
    return;
  }
  await dbPut("device", deviceKey);
  message("key-msg", "密钥已生成 · Key generated");
  await showKey();
}

// --- the wallet ----------------------------------------------------------------------------------

async function importWallet(file) {
  let w;
  try {
    if (file.size > 16384) throw new Error("file over 16 KiB");
    w = JSON.parse(await file.text());
    if (w.format !== "gdrp-wallet/1") throw new Error(`format is not gdrp-wallet/1`);
    for (const k of ["serial", "holder_key", "full", "basic"]) {
      if (typeof w[k] !== "string") throw new Error(`${k} missing`);
    }
  } catch (e) {
    message("wallet-msg", `不是电子证照文件 · Not a wallet file: ${e.message || e}`, true);
    return;
  }
  if (!deviceKey || (await publicJwk()).x !== w.holder_key) {
    message("wallet-msg", "此文件绑定的是另一台设备的密钥 · This wallet binds another device's key", true);
    return;
  }
  const wanted = { format: w.format, serial: w.serial, version: w.version, holder_key: w.holder_key, full: w.full, basic: w.basic };
  await dbPut("wallet", wanted);
  wallet = wanted;
  message("wallet-msg", "已导入 · Imported");
  showWallet();
  draw();
}

function showWallet() {
  const dl = $("wallet-info");
  dl.replaceChildren();
  if (!wallet) return;
  for (const [zh, en, v] of [
    ["居住证编号", "Permit number", wallet.serial],
    ["凭证版本", "Version", String(wallet.version)],
  ]) {
    const dt = document.createElement("dt");
    dt.textContent = `${zh} ${en}`;
    const dd = document.createElement("dd");
    dd.textContent = v;
    dl.append(dt, dd);
  }
}

// --- the live code -------------------------------------------------------------------------------

function view() {
  return document.querySelector("input[name=view]:checked").value;
}

async function draw() {
  clearTimeout(timer);
  if (!wallet || !deviceKey) return;
  const at = Math.floor(Date.now() / 1000);
  const credential = view() === "full" ? wallet.full : wallet.basic;
  try {
    const started = performance.now();
    const tbs = presentation_tbs(credential, at);
    const sig = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, deviceKey.privateKey, tbs));
    const text = presentation_text(credential, at, sig);
    paint(qr_matrix(text));
    // Sign, encode and draw, for the benchmark in tests/e2e/web_page.rs.
    (window.__gdrpTimings ??= { render: [] }).render.push(performance.now() - started);
    const canvas = $("live-code");
    canvas.dataset.presentedAt = String(at);
    canvas.dataset.view = view();
    message("live-msg", `${new Date(at * 1000).toLocaleTimeString()} 生成，每 30 秒更新 · drawn, renewed every 30 s`);
  } catch (e) {
    message("live-msg", String(e.message || e), true);
  }
  // Aligned to the clock so that the code changes on the half-minute.
  timer = setTimeout(draw, REFRESH_MS - (Date.now() % REFRESH_MS));
}

// Draws the matrix (width, then its modules) with a 4-module light quiet zone.
function paint(m) {
  const width = m[0];
  const side = (width + 2 * QUIET_ZONE) * MODULE_PX;
  const canvas = $("live-code");
  canvas.width = side;
  canvas.height = side;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, side, side);
  ctx.fillStyle = "#000";
  for (let y = 0; y < width; y++) {
    for (let x = 0; x < width; x++) {
      if (m[1 + y * width + x]) {
        ctx.fillRect((x + QUIET_ZONE) * MODULE_PX, (y + QUIET_ZONE) * MODULE_PX, MODULE_PX, MODULE_PX);
      }
    }
  }
}

async function boot() {
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("./sw.js").catch((e) => console.warn(`service worker: ${e}`));
  }
  await init();
  deviceKey = await dbGet("device");
  wallet = await dbGet("wallet");
  await showKey();
  showWallet();
  $("key-generate").disabled = false;
  $("boot").textContent = "就绪 · Ready";
  $("boot").dataset.state = "ready";
  draw();
}

$("key-generate").addEventListener("click", generateKey);
$("wallet-file").addEventListener("change", (e) => {
  const file = e.target.files[0];
  if (file) importWallet(file);
  e.target.value = "";
});
for (const r of document.querySelectorAll("input[name=view]")) r.addEventListener("change", draw);

boot().catch((e) => {
  console.error(e);
  $("boot").textContent = `无法启动 · Cannot start: ${e.message || e}`;
  $("boot").dataset.state = "error";
});
