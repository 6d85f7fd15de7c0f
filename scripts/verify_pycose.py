#!/usr/bin/env python3
"""Independent verifier for GDRP1 residence-permit codes, written from docs/FORMAT.md alone with
stock libraries: pycose (COSE_Sign1, EdDSA) and cbor2. It checks the signature and prints the
claims; it does not implement the trust list, status list or the canonical-encoding checks.

A live presentation (FORMAT.md §10: a COSE_Sign1 by the holder's device key whose protected
header carries the credential under label 13, `kcwt`) is checked in two steps: the credential
inside under the issuer key, then the presentation under the device key the credential binds
(its `cnf` claim, 8). The presentation time is printed, not judged: the window is the verifier's
setting.

  pip install pycose 'cbor2<6'     # pycose 1.1 expects cbor2 5.x (6.x decodes arrays as tuples)
  python3 scripts/verify_pycose.py --jwk keys/TEST-ONLY-demo-issuer.pub.jwk.json 'GDRP1:0123…'

Exit status 0 when the signature (and, for a presentation, the holder signature) verifies, 1
otherwise.
"""
import argparse, base64, datetime, hashlib, json, re, sys

import cbor2
from pycose.headers import KID
from pycose.keys import OKPKey
from pycose.keys.curves import Ed25519
from pycose.messages import Sign1Message

KCWT = 13  # COSE header label of the credential inside a presentation (RFC 9528)
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
    outer = Sign1Message.decode(cose)
    presentation = None
    if KCWT in outer.phdr:
        presentation, cose = outer, outer.phdr[KCWT]
    claims = verify_credential(cose, x)
    if claims is None:
        return 1
    if presentation is not None:
        cnf = claims.get(8)
        if cnf is None:
            print("HOLDER SIGNATURE INVALID: the credential binds no device key")
            return 1
        device = cnf[1]  # COSE_Key {1: 1 (OKP), -1: 6 (Ed25519), -2: x}
        if device.get(1) != 1 or device.get(-1) != 6:
            print("HOLDER SIGNATURE INVALID: cnf is not an Ed25519 OKP key")
            return 1
        presentation.key = OKPKey(crv=Ed25519, x=device[-2])
        if not presentation.verify_signature():
            print("HOLDER SIGNATURE INVALID")
            return 1
        presented_at = cbor2.loads(presentation.payload)[6]
        print("HOLDER SIGNATURE VALID")
        print(json.dumps({"presented_at": iso(presented_at)}))
    print_claims(claims)
    return 0


def iso(t: int) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat()


def verify_credential(cose: bytes, x: bytes):
    """The credential's claims when its signature verifies under the issuer key x, else None."""
    kid = hashlib.sha256(x).digest()[:8]
    msg = Sign1Message.decode(cose)
    if msg.phdr.get(KID) != kid:
        print("key id in the credential is not this key's id", file=sys.stderr)
        return None
    msg.key = OKPKey(crv=Ed25519, x=x)
    if not msg.verify_signature():
        print("SIGNATURE INVALID")
        return None
    print("SIGNATURE VALID")
    return cbor2.loads(msg.payload)


def print_claims(claims) -> None:
    out = {"iat": iso(claims[6]), "exp": iso(claims[4])}
    if -65537 in claims:
        permit = claims[-65537]
        out.update({
            "view": "full",
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
        })
    else:
        view = claims[-65538]
        out.update({
            "view": "basic",
            "name_masked": view[3],
            "id_last4": view[4],
            "residence_city": view[7],
            "endorsed_until": view[11],
            "status_index": view[12],
            "test": view.get(14, False),
            "status_list": view[15].hex() if 15 in view else None,
        })
    print(json.dumps(out, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    sys.exit(main())
