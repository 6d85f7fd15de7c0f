#!/usr/bin/env python3
"""Independent verifier for GDRP1 residence-permit codes, written from docs/FORMAT.md alone with
stock libraries: pycose (COSE_Sign1, EdDSA) and cbor2. It checks the signature and prints the
claims; it does not implement the trust list, status list or the canonical-encoding checks.

  pip install pycose 'cbor2<6'     # pycose 1.1 expects cbor2 5.x (6.x decodes arrays as tuples)
  python3 scripts/verify_pycose.py --jwk keys/TEST-ONLY-demo-issuer.pub.jwk.json 'GDRP1:0123…'

Exit status 0 when the signature verifies under the key, 1 otherwise.
"""
import argparse, base64, datetime, hashlib, json, re, sys

import cbor2
from pycose.headers import KID
from pycose.keys import OKPKey
from pycose.keys.curves import Ed25519
from pycose.messages import Sign1Message

DIGITS = [0, 3, 5, 8, 10, 13, 15, 17]  # decimal digits for a group of k bytes


def decimal_decode(digits: str) -> bytes:
    # ASCII digits only: str.isdigit() would also accept other scripts' digits, which int()
    # reads as the same values, and the mapping would no longer be one-to-one.
    if not re.fullmatch(r"[0-9]+", digits):
        raise ValueError("not ASCII decimal digits")
    full, tail = divmod(len(digits), 17)
    if tail not in DIGITS[:7]:
        raise ValueError("impossible digit count")
    out = bytearray()
    for i in range(0, len(digits), 17):
        group = digits[i:i + 17]
        k = DIGITS.index(len(group))
        value = int(group)
        if value >= 256 ** k:
            raise ValueError("digit group out of range")
        out += value.to_bytes(k, "big")
    return bytes(out)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jwk", required=True, help="issuer public key as a JWK (RFC 8037)")
    ap.add_argument("text", help="the QR text, GDRP1:…")
    a = ap.parse_args()
    text = a.text.strip()
    if not text.startswith("GDRP1:"):
        print("not a GDRP1 permit code", file=sys.stderr)
        return 1
    cose = decimal_decode(text[len("GDRP1:"):])
    jwk = json.load(open(a.jwk))
    x = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
    kid = hashlib.sha256(x).digest()[:8]
    msg = Sign1Message.decode(cose)
    if msg.phdr.get(KID) != kid:
        print("key id in the credential is not this key's id", file=sys.stderr)
        return 1
    msg.key = OKPKey(crv=Ed25519, x=x)
    if not msg.verify_signature():
        print("SIGNATURE INVALID")
        return 1
    claims = cbor2.loads(msg.payload)
    permit = claims[-65537]
    utc = datetime.timezone.utc
    print("SIGNATURE VALID")
    print(json.dumps({
        "iat": datetime.datetime.fromtimestamp(claims[6], utc).isoformat(),
        "exp": datetime.datetime.fromtimestamp(claims[4], utc).isoformat(),
        "serial": f"{permit[1]:012d}",
        "version": permit[2],
        "name": permit[3],
        "id_number": permit[4][:3] + "*" * 11 + permit[4][14:],
        "residence_district": permit[7],
        "residence_address_detail": permit[8],
        "issued_on": permit[10],
        "endorsed_until": permit[11],
        "status_index": permit[12],
        "test": permit.get(14, False),
        "status_list": permit[15].hex() if 15 in permit else None,
    }, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
