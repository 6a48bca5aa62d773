#!/usr/bin/env python3
"""Verify a globallink artefact bundle without globallink.

Usage: python3 verify_bundle.py BUNDLE.zip OFFICE-CA.pem LOG.vkey [TSA-ROOT.pem]

Needs only the Python standard library and the `cryptography` package
(`pip install cryptography`), plus the `openssl` command for an RFC 3161 timestamp. It checks,
in order:

1. the hub's signature in `manifest.jws` (JWS JSON serialization, detached payload): its `x5c`
   chain, each certificate issued by the next, the last one issued by (or equal to) a
   certificate in OFFICE-CA.pem, all valid at the signing time `sigT`, the signing certificate
   allowed to make digital signatures, and the ES256 signature over `manifest.json`;
2. the officer's signature, when there is one: the same checks for the officer's chain at
   `sigT`, the hub's `countersigns` equal to the SHA-256 of the officer's signature bytes, and
   the officer's certificate not revoked at `sigT` by the office CRL the hub attached (signed
   by the office CA); a bundle without one was sealed by the hub alone;
3. the RFC 3161 timestamp over the hub's signature, when there is one and TSA-ROOT.pem is
   given, with `openssl ts -verify`;
3. every file the manifest lists: present, same size, same SHA-256; and no unlisted file. A
   recording may be absent only when the signed manifest's `retention.recordings_until` has
   passed and `retention.json` names it with the manifest's hash and size (destroyed at the
   end of retention);
4. the evidence chain in `events.jsonl`: sequence numbers from 1, each `prev_hash` the SHA-256
   of the previous line, and the count and head the manifest commits to;
5. the transparency log proof in `log.json`: the checkpoint (a C2SP signed note) signed with
   the Ed25519 key in LOG.vkey, and `manifest.json` a leaf of the tree it names by the RFC 9162
   inclusion proof (leaf `SHA-256(0x00 || manifest.json)`, nodes `SHA-256(0x01 || l || r)`).

Prints one line per check and `VERIFIED`, or `FAILED: <reason>` and exits with status 1.
"""

import base64
import datetime
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

GENESIS = "0" * 64


class Failed(Exception):
    pass


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issued_by(child, parent):
    try:
        child.verify_directly_issued_by(parent)
        return True
    except (ValueError, TypeError, InvalidSignature):
        return False


def check_certificates(certs, anchors, at):
    for child, parent in zip(certs, certs[1:]):
        if not issued_by(child, parent):
            raise Failed(f"certificate {child.subject.rfc4514_string()} is not issued by the next one")
    last = certs[-1]
    if not any(last == a or issued_by(last, a) for a in anchors):
        raise Failed("the signing chain does not lead to the given office CA")
    for cert in certs:
        if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
            raise Failed(f"certificate {cert.subject.rfc4514_string()} was not valid at {at}")
    usage = certs[0].extensions.get_extension_for_class(x509.KeyUsage).value
    if not usage.digital_signature:
        raise Failed("the signing certificate may not make digital signatures")
    return certs[0].subject.rfc4514_string()


def check_signature(protected, signature_b64, manifest_bytes, leaf):
    raw = b64url(signature_b64)
    if len(raw) != 64:
        raise Failed("the signature is not 64 bytes")
    signature = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    payload = base64.urlsafe_b64encode(manifest_bytes).rstrip(b"=").decode()
    signing_input = f"{protected}.{payload}".encode()
    try:
        leaf.public_key().verify(signature, signing_input, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise Failed("the signature does not match manifest.json") from None
    return raw


def signatures(jws_text):
    """(protected header dict, entry) for each signature, officer first; and the format."""
    if not jws_text.startswith("{"):
        # A bundle sealed before officer signatures: one compact hub signature.
        parts = jws_text.split(".")
        if len(parts) != 3 or parts[1] != "":
            raise Failed("manifest.jws is not a detached JWS")
        return [(json.loads(b64url(parts[0])), {"protected": parts[0], "signature": parts[2]})]
    entries = json.loads(jws_text)["signatures"]
    if not 1 <= len(entries) <= 2:
        raise Failed(f"manifest.jws has {len(entries)} signatures")
    return [(json.loads(b64url(e["protected"])), e) for e in entries]


def chain_of(header):
    if header.get("alg") != "ES256":
        raise Failed(f"unexpected algorithm {header.get('alg')!r}")
    return [x509.load_der_x509_certificate(base64.b64decode(c)) for c in header["x5c"]]


def check_not_revoked(crl_der, cert, anchors, at):
    crl = x509.load_der_x509_crl(crl_der)
    if not any(crl.is_signature_valid(a.public_key()) for a in anchors):
        raise Failed("the attached CRL is not signed by the office CA")
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    if entry is not None and entry.revocation_date_utc <= at:
        raise Failed(f"the officer's certificate was revoked at {entry.revocation_date_utc}")


def check_timestamp(token_b64, signature_raw, tsa_root):
    with tempfile.TemporaryDirectory() as tmp:
        token = os.path.join(tmp, "token.der")
        with open(token, "wb") as f:
            f.write(base64.b64decode(token_b64))
        digest = hashlib.sha256(signature_raw).hexdigest()
        out = subprocess.run(
            ["openssl", "ts", "-verify", "-digest", digest, "-in", token, "-token_in",
             "-CAfile", tsa_root],
            capture_output=True, text=True)
        if out.returncode != 0:
            raise Failed(f"the timestamp does not verify: {out.stderr.strip() or out.stdout.strip()}")


def check_chain(jsonl, session):
    head, count = GENESIS, 0
    for number, line in enumerate(jsonl.split("\n")[:-1], start=1):
        event = json.loads(line)
        if event.get("seq") != number:
            raise Failed(f"events.jsonl line {number}: sequence number {event.get('seq')}")
        if event.get("session") != session:
            raise Failed(f"events.jsonl line {number}: belongs to another session")
        if event.get("prev_hash") != head:
            raise Failed(f"events.jsonl line {number}: prev_hash does not link to line {number - 1}")
        head, count = hashlib.sha256(line.encode()).hexdigest(), number
    return head, count


def verify_inclusion(leaf_data, index, size, proof_hex, root):
    """RFC 9162 section 2.1.3.2, step by step."""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    r = hashlib.sha256(b"\x00" + leaf_data).digest()
    for p_hex in proof_hex:
        p = bytes.fromhex(p_hex)
        if len(p) != 32 or sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def open_checkpoint(note, vkey):
    """The (origin, size, root) of a C2SP checkpoint note signed by vkey, or Failed."""
    name, key_id_hex, key_b64 = vkey.strip().split("+", 2)
    key = base64.b64decode(key_b64, validate=True)
    if len(key) != 33 or key[0] != 0x01:
        raise Failed("LOG.vkey is not an Ed25519 verifier key")
    if hashlib.sha256(name.encode() + b"\n" + key).digest()[:4] != bytes.fromhex(key_id_hex):
        raise Failed("LOG.vkey: key id does not match name and key")
    public = Ed25519PublicKey.from_public_bytes(key[1:])
    split = note.rfind("\n\n")
    if split < 0:
        raise Failed("log.json: checkpoint is not a signed note")
    body, signatures = note[: split + 1], note[split + 2 :]
    signed = False
    for line in signatures.split("\n")[:-1]:
        sig_name, _, sig_b64 = line.removeprefix("\u2014 ").partition(" ")
        raw = base64.b64decode(sig_b64, validate=True)
        if sig_name == name and raw[:4] == bytes.fromhex(key_id_hex):
            try:
                public.verify(raw[4:], body.encode())
            except InvalidSignature:
                raise Failed("log.json: checkpoint signature does not verify")
            signed = True
    if not signed:
        raise Failed(f"log.json: checkpoint not signed by the key of {name}")
    origin, size, root = body.split("\n")[:3]
    if origin != name:
        raise Failed(f"log.json: checkpoint of {origin!r}, the key is for {name!r}")
    return origin, int(size), base64.b64decode(root, validate=True)


def parse_time(text):
    """An RFC 3339 UTC time as the hub writes it (up to nanoseconds; Python keeps micro)."""
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def retention_note(bundle, names, manifest):
    """The bundle's `retention.json`, checked against the signed manifest, or None.

    The hub adds it when it destroys the recordings at the end of retention: it must be about
    this artefact, repeat the manifest's `retention.recordings_until`, and date the destruction
    at or after it; and that deadline must have passed."""
    if "retention.json" not in names:
        return None
    retention = manifest.get("retention")
    if retention is None:
        raise Failed("retention.json in a bundle whose manifest has no retention")
    until = parse_time(retention["recordings_until"])
    if datetime.datetime.now(datetime.timezone.utc) < until:
        raise Failed(f"retention.json, but the retention runs until {until}")
    note = json.loads(bundle.read("retention.json"))
    if (note.get("format") != "globallink-retention/1"
            or note.get("artefact_id") != manifest["artefact_id"]
            or parse_time(note["recordings_until"]) != until
            or parse_time(note["destroyed_at"]) < until):
        raise Failed("retention.json does not match the manifest's retention")
    return note


def destroyed_recordings(note, names, manifest):
    """{path: when} of the listed recordings the bundle lacks because their retention ended:
    each must be named in the note with the manifest's hash and size. Anything else missing is
    left to fail."""
    missing = {f["path"] for f in manifest["files"]} - names
    if not missing or note is None:
        return {}
    listed = {f["path"]: f for f in manifest["files"]}
    out = {}
    for path in missing:
        named = [d for d in note["destroyed"] if d["path"] == path]
        if not path.startswith("recordings/") or named != [listed[path]]:
            raise Failed(f"file {path}: missing, and retention.json does not account for it")
        out[path] = note["destroyed_at"]
    return out


def verify(bundle_path, ca_path, vkey_path, tsa_root=None):
    with open(ca_path, "rb") as f:
        anchors = x509.load_pem_x509_certificates(f.read())
    with zipfile.ZipFile(bundle_path) as bundle:
        names = set(bundle.namelist())
        manifest_bytes = bundle.read("manifest.json")
        manifest = json.loads(manifest_bytes)
        signed = signatures(bundle.read("manifest.jws").decode())
        hub_header, hub = signed[-1]
        at_text = hub_header.get("sigT", manifest["sealed_at"])
        at = datetime.datetime.fromisoformat(at_text.replace("Z", "+00:00"))

        certs = chain_of(hub_header)
        signer = check_certificates(certs, anchors, at)
        hub_raw = check_signature(hub["protected"], hub["signature"], manifest_bytes, certs[0])
        print(f"ok   signature: ES256 over manifest.json by {signer} at {at_text}, chain to the office CA")

        if len(signed) == 2:
            officer_header, officer = signed[0]
            officer_certs = chain_of(officer_header)
            officer_name = check_certificates(officer_certs, anchors, at)
            officer_raw = check_signature(
                officer["protected"], officer["signature"], manifest_bytes, officer_certs[0])
            counter = base64.urlsafe_b64encode(hashlib.sha256(officer_raw).digest()).rstrip(b"=").decode()
            if hub_header.get("countersigns") != counter:
                raise Failed("the hub signature does not countersign the officer's signature")
            crl = (hub.get("header") or {}).get("crl")
            if crl is None:
                raise Failed("no CRL attached: the officer's certificate cannot be checked")
            check_not_revoked(base64.b64decode(crl), officer_certs[0], anchors, at)
            print(f"ok   officer: ES256 over manifest.json by {officer_name}, not revoked, countersigned")
        elif "countersigns" in hub_header:
            raise Failed("the hub countersigns an officer signature that is missing")
        else:
            print("ok   officer: none, sealed by the hub alone")

        token = (hub.get("header") or {}).get("tst")
        if token is None:
            print("ok   timestamp: none")
        elif tsa_root is None:
            print("skip timestamp: present, give TSA-ROOT.pem to check it")
        else:
            check_timestamp(token, hub_raw, tsa_root)
            print("ok   timestamp: RFC 3161 token over the hub signature verifies")

        listed = {f["path"] for f in manifest["files"]}
        note = retention_note(bundle, names, manifest)
        destroyed = destroyed_recordings(note, names, manifest)
        for f in manifest["files"]:
            if f["path"] in destroyed:
                continue
            if f["path"] not in names:
                raise Failed(f"file {f['path']}: missing")
            data = bundle.read(f["path"])
            if len(data) != f["size"] or hashlib.sha256(data).hexdigest() != f["sha256"]:
                raise Failed(f"file {f['path']}: size or sha256 mismatch")
        extra = names - listed - {"manifest.json", "manifest.jws", "log.json"}
        if note is not None:
            extra -= {"retention.json"}
        if extra:
            raise Failed(f"unlisted files: {sorted(extra)}")
        print(f"ok   files: {len(listed) - len(destroyed)} files match the manifest")
        for path in sorted(destroyed):
            print(f"ok   retention: {path} destroyed at end of retention "
                  f"({destroyed[path]}); its sha256 stays in the manifest")

        head, count = check_chain(bundle.read("events.jsonl").decode(), manifest["session"]["id"])
        if (count, head) != (manifest["chain"]["events"], manifest["chain"]["head"]):
            raise Failed("events.jsonl does not end at the head the manifest commits to")
        print(f"ok   chain: {count} events, head {head[:16]}…")

        log = json.loads(bundle.read("log.json"))
        with open(vkey_path) as f:
            origin, size, root = open_checkpoint(log["checkpoint"], f.read())
        if size != log["tree_size"]:
            raise Failed("log.json: the checkpoint is for another tree size than the proof")
        if not verify_inclusion(manifest_bytes, log["leaf_index"], size, log["inclusion_proof"], root):
            raise Failed("log.json: manifest.json is not in the log (inclusion proof fails)")
        print(f"ok   log: leaf {log['leaf_index']} of {size} in {origin}, checkpoint signed")


def main():
    if len(sys.argv) not in (4, 5):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    try:
        verify(*sys.argv[1:])
    except (Failed, KeyError, ValueError, zipfile.BadZipFile, json.JSONDecodeError) as e:
        print(f"FAILED: {e}")
        return 1
    print("VERIFIED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
