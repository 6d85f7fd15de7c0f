#!/usr/bin/env python3
"""The reference a user would otherwise script: a plain Python batch pipeline doing the same work
per applicant as `issuer batch`, one process, one thread.

For each of the first N applicants of a JSONL file (as written by `generate.py`):

1. parse the JSON line, derive the permit fields (the residence address below the district,
   dates, a random 12-digit serial and status index);
2. CBOR-encode the claims (`cbor2`, canonical), build the COSE_Sign1 Sig_structure, sign it with
   Ed25519 (PyNaCl), encode the COSE_Sign1 (tag 18) and write it as `GDRP1:` + decimal digits
   (docs/FORMAT.md §2-4);
3. render the QR code as PNG with segno (ECC M, 8 px per module, 4-module quiet zone), one file
   per permit, `<serial>.png`;
4. record the application, the permit and the credential in SQLite (`sqlite3`, WAL), one
   transaction per 512 rows, and append a manifest line per permit.

It does less than the Rust job: no eligibility check, no self-check (signature verification and
image decoding), no intent / crash-safety protocol, no events history. Its rate is therefore an
upper bound for such a script.

    python3 -m pip install pynacl segno cbor2
    python3 scripts/bench_batch_reference.py --input applicants.jsonl --rows 10000 --out DIR
"""

import argparse
import hashlib
import json
import os
import random
import sqlite3
import sys
import time

try:
    import cbor2
    import nacl.signing
    import segno
except ImportError as e:  # pragma: no cover
    sys.exit(f"{e}; install with: python3 -m pip install pynacl segno cbor2")

PREFIX = "GDRP1:"
DIGITS = [0, 3, 5, 8, 10, 13, 15, 17]
CHUNK = 512


def decimal(b: bytes) -> str:
    out = []
    for i in range(0, len(b), 7):
        g = b[i : i + 7]
        out.append(str(int.from_bytes(g, "big")).zfill(DIGITS[len(g)]))
    return "".join(out)


def ymd(s: str) -> int:
    return int(s.replace("-", ""))


def claims_of(a: dict, serial: int, index: int, iat: int, today: str) -> dict:
    y, m, d = (int(x) for x in today.split("-"))
    permit = {
        1: serial,
        2: 1,
        3: a["name"],
        4: a["id_number"],
    }
    if a.get("ethnicity"):
        permit[5] = int(a["ethnicity"])
    if a.get("hukou_division"):
        permit[6] = int(a["hukou_division"])
    permit[7] = int(a["residence_district"])
    # The address below the district (the Rust issuer strips the province, city and district).
    addr = a["residence_address"]
    for cut in ("广东省",):
        if addr.startswith(cut):
            addr = addr[len(cut) :]
    permit[8] = addr
    permit[9] = int(a["residence_district"])
    permit[10] = y * 10000 + m * 100 + d
    permit[11] = (y + 1) * 10000 + m * 100 + d
    permit[12] = index
    if a.get("test"):
        permit[14] = True
    exp = iat + 3 * 365 * 86400
    return {4: exp, 6: iat, -65537: permit}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", required=True)
    ap.add_argument("--rows", type=int, default=10000)
    ap.add_argument("--out", required=True, help="output directory (created; must not exist)")
    ap.add_argument("--json", action="store_true", help="print the result as one JSON line")
    args = ap.parse_args()

    os.makedirs(args.out)
    key = nacl.signing.SigningKey.generate()
    kid = hashlib.sha256(bytes(key.verify_key)).digest()[:8]
    protected = cbor2.dumps({1: -8, 4: kid}, canonical=True)
    db = sqlite3.connect(os.path.join(args.out, "ledger.sqlite3"), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.executescript(
        """
        CREATE TABLE applications (id TEXT PRIMARY KEY, reference TEXT UNIQUE, id_number TEXT NOT NULL,
          applicant_json TEXT NOT NULL, state TEXT NOT NULL, permit_serial BIGINT);
        CREATE TABLE permits (serial BIGINT PRIMARY KEY, application_id TEXT NOT NULL, id_number TEXT NOT NULL,
          details_json TEXT NOT NULL);
        CREATE UNIQUE INDEX permits_one_per_person ON permits(id_number);
        CREATE TABLE credentials (serial BIGINT NOT NULL, version INTEGER NOT NULL,
          status_index BIGINT NOT NULL UNIQUE, text TEXT NOT NULL, PRIMARY KEY (serial, version));
        """
    )
    manifest = open(os.path.join(args.out, "manifest.jsonl"), "a", encoding="utf-8")
    today = time.strftime("%Y-%m-%d")
    iat = int(time.time())
    rng = random.SystemRandom()

    started = time.perf_counter()
    n = 0
    batch = []
    versions = {}
    with open(args.input, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if n >= args.rows:
                break
            a = json.loads(line)
            serial = rng.randrange(1, 10**12)
            index = rng.randrange(0, 2**32)
            claims = cbor2.dumps(claims_of(a, serial, index, iat, today), canonical=True)
            sig_structure = cbor2.dumps(["Signature1", protected, b"", claims])
            signature = key.sign(sig_structure).signature
            cose = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, claims, signature]))
            text = PREFIX + decimal(cose)
            name = f"{serial:012}.png"
            # Two segments as the Rust encoder chooses them (alphanumeric prefix, numeric digits),
            # so the symbol has the same version; ECC M, 8 px modules, 4-module border.
            qr = segno.make(
                [(PREFIX, None), (text[len(PREFIX) :], None)],
                error="m",
                micro=False,
                boost_error=False,
            )
            qr.save(os.path.join(args.out, name), scale=8, border=4)
            versions[qr.version] = versions.get(qr.version, 0) + 1
            app_id = f"A{rng.randrange(0, 10**11):011}"
            batch.append((a, app_id, serial, index, text, name, line_no))
            n += 1
            if len(batch) >= CHUNK:
                commit(db, manifest, batch)
                batch = []
    if batch:
        commit(db, manifest, batch)
    secs = time.perf_counter() - started
    manifest.close()
    db.close()
    result = {
        "rows": n,
        "seconds": round(secs, 3),
        "permits_per_second": round(n / secs, 1) if secs > 0 else None,
        "qr_versions": versions,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"python reference: {n} permits in {secs:.2f} s, {n / secs:.1f} permits/s, "
            f"QR versions {versions}"
        )
    return 0


def commit(db, manifest, batch) -> None:
    db.execute("BEGIN IMMEDIATE")
    for a, app_id, serial, index, text, name, line_no in batch:
        aj = json.dumps(a, ensure_ascii=False, sort_keys=True)
        db.execute(
            "INSERT INTO applications VALUES (?, ?, ?, ?, 'approved', ?)",
            (app_id, a.get("ref"), a["id_number"], aj, serial),
        )
        db.execute(
            "INSERT INTO permits VALUES (?, ?, ?, ?)", (serial, app_id, a["id_number"], aj)
        )
        db.execute("INSERT INTO credentials VALUES (?, 1, ?, ?)", (serial, index, text))
    db.execute("COMMIT")
    manifest.write(
        "".join(
            json.dumps({"line": ln, "ref": a.get("ref"), "serial": f"{s:012}", "file": nm}) + "\n"
            for a, _, s, _, _, nm, ln in batch
        )
    )
    manifest.flush()
    os.fsync(manifest.fileno())


if __name__ == "__main__":
    sys.exit(main())
