#!/usr/bin/python3
"""Peer oracle for MailTests.BodiesMatchPythonEmailPackage: decodes SpamAssassin messages whose every leaf part
is an inline text/plain part with Python's email package (MIME walk, quoted-printable/base64, charsets) and
writes, per message, the SHA-256 of its body text with every run of white space collapsed to one space.
Charsets as Lathe maps them: us-ascii/iso-8859-1 labels (and unknown ones) as windows-1252 (WHATWG), bytes
windows-1252 leaves undefined as the same code point; UTF-8 errors as U+FFFD.
Regenerate: /usr/bin/python3 tests/Lathe.Tests/Data/make_mail_fixture.py"""
import codecs, email, hashlib, os, re, sys

root = os.path.dirname(os.path.abspath(__file__))
nm = os.environ.get("LATHE_NODE_MODULES") or os.path.join(root, "..", "..", "..", ".peers", "node_modules")
data = os.path.join(nm, "@stdlib", "datasets", "spam-assassin", "data")

def cp1252(b):
    return "".join(bytes([x]).decode("cp1252", errors="ignore") or chr(x) for x in b)

def decode(payload, charset):
    cs = (charset or "us-ascii").lower()
    if cs in ("utf-8", "utf8"):
        return payload.decode("utf-8", errors="replace")
    if cs in ("us-ascii", "ascii", "iso-8859-1", "latin1", "windows-1252", "cp1252", ""):
        return cp1252(payload)
    try:
        codecs.lookup(cs)
    except LookupError:
        return cp1252(payload)
    return payload.decode(cs, errors="replace")

rows = []
for group in ("easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2"):
    files = sorted(f for f in os.listdir(os.path.join(data, group)) if f.endswith(".txt"))
    for name in files[::4]:
        raw = open(os.path.join(data, group, name), "rb").read()
        if b"\0" in raw[:8192]:
            continue
        msg = email.message_from_bytes(raw)
        leaves = [p for p in msg.walk() if not p.is_multipart()]
        if not leaves or any(p.get_content_type() != "text/plain" or p.get_content_disposition() == "attachment" for p in leaves):
            continue
        if any(p.get_content_type() == "message/rfc822" for p in msg.walk()):
            continue
        if msg.is_multipart() and not msg.get_boundary():
            continue
        # Illegal quoted-printable ("=" before a non-hex char): RFC 2045 §6.7 note 1 says keep both chars, which
        # Lathe does; binascii.a2b_qp drops the "=" of "==". The readers disagree by design, so leave these out.
        if any((p.get("content-transfer-encoding") or "").strip().lower() == "quoted-printable"
               and re.search(rb"=(?![0-9A-Fa-f]{2}|\r?\n|$)", p.get_payload(decode=False).encode("latin-1", errors="replace"), re.M) for p in leaves):
            continue
        body = "\n\n".join(decode(p.get_payload(decode=True) or b"", p.get_content_charset()) for p in leaves)
        norm = " ".join(body.split())
        rows.append(f"{group}/{name}\t{hashlib.sha256(norm.encode('utf-8', errors='surrogatepass')).hexdigest()}")
with open(os.path.join(root, "mail_fixture.txt"), "w") as f:
    f.write(f"# group/file<TAB>sha256 of the white-space-collapsed body, by make_mail_fixture.py (Python {sys.version.split()[0]} email)\n")
    f.write("\n".join(rows) + "\n")
print(len(rows), "messages")
