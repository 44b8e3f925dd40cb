"""Signed checkpoints published by `proviso serve`, read by code that is not
Proviso's (Python's `cryptography` for Ed25519, the RFC 6962 tree hashed
here), and `ledger verify --checkpoint` finding a cut tail, a restored
older copy and a rewritten history that the chain alone cannot show."""

import base64
import hashlib
import json
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from conftest import BIN_DIR, Proviso


def keygen(tmp: Path, name: str) -> tuple[Path, str]:
    path = tmp / "checkpoint.key"
    r = subprocess.run([str(BIN_DIR / "proviso"), "ledger", "keygen", "--name", name, "-o", str(path)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    return path, r.stdout.strip()


def open_note(note: str, vkey: str) -> str:
    """C2SP signed-note verification, written from the spec."""
    name, key_hash, b64 = vkey.split("+", 2)  # base64 may hold "+"
    raw = base64.b64decode(b64)
    assert raw[0] == 1, "Ed25519"
    pub = raw[1:]
    key_id = hashlib.sha256(name.encode() + b"\n" + b"\x01" + pub).digest()[:4]
    assert key_id.hex() == key_hash
    text, sigs = note[: note.rindex("\n\n") + 1], note[note.rindex("\n\n") + 2:]
    for line in sigs.splitlines():
        dash, who, sig = line.split(" ")
        assert dash == "\u2014"
        sig = base64.b64decode(sig)
        if who == name and sig[:4] == key_id:
            Ed25519PublicKey.from_public_bytes(pub).verify(sig[4:], text.encode())
            return text
    raise AssertionError("no signature by the key")


def mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 Merkle tree hash, by its recursive definition."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def wait_checkpoint(d: Path, size: int) -> str:
    deadline = time.time() + 15
    while time.time() < deadline:
        p = d / f"checkpoint.{size}"
        if p.exists():
            return p.read_text()
        time.sleep(0.05)
    raise AssertionError(f"no checkpoint of size {size} in {sorted(x.name for x in d.glob('*'))}")


def chat(gw: Proviso, key: str, text: str):
    import openai
    c = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key, max_retries=0)
    c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}])


def test_published_checkpoints_catch_truncation_and_rewritten_history(tmp_path, fake):
    keyfile, vkey = keygen(tmp_path, "proviso.test/ledger")
    pub = tmp_path / "witness"
    gw = Proviso(tmp_path, fake.url, ledger_extra=(
        f'checkpoint_key_file = "{keyfile}"\npublish_dir = "{pub}"\npublish_interval_ms = 100\n'))
    try:
        key = gw.create_key()
        for i in range(5):
            chat(gw, key, f"first {i}")
        note6 = wait_checkpoint(pub, 6)
        # An older copy of the database, taken the way a backup is.
        older = tmp_path / "older.db"
        with sqlite3.connect(gw.data / "ledger.db") as src, sqlite3.connect(older) as dst:
            src.backup(dst)
        for i in range(5):
            chat(gw, key, f"second {i}")
        note11 = wait_checkpoint(pub, 11)
    finally:
        gw.stop()

    # Read by code that is not Proviso's: the signature, and the root.
    text = open_note(note11, vkey)
    origin, size, root = text.splitlines()[:3]
    assert (origin, size) == ("proviso.test/ledger", "11")
    recs = gw.records(kind=None)
    leaves = [bytes.fromhex(r["hash"]) for r in recs]
    assert len(leaves) == 11
    assert base64.b64decode(root) == mth(leaves)
    assert base64.b64decode(open_note(note6, vkey).splitlines()[2]) == mth(leaves[:6])

    cp11, cp6 = tmp_path / "cp11", tmp_path / "cp6"
    cp11.write_text(note11)
    cp6.write_text(note6)
    ok = gw.cli("ledger", "verify", "--checkpoint", str(cp6), "--checkpoint", str(cp11), "--key", vkey)
    assert ok.stdout.count("OK   checkpoint") == 2, ok.stdout

    # The older copy restored: its chain is intact, the checkpoint is not.
    db = gw.data / "ledger.db"
    for p in [db, Path(f"{db}-wal"), Path(f"{db}-shm")]:
        p.unlink(missing_ok=True)
    shutil.copy(older, db)
    assert gw.verify().returncode == 0, "the chain alone cannot show it"
    bad = gw.cli("ledger", "verify", "--checkpoint", str(cp11), "--key", vkey, check=False)
    assert bad.returncode == 1, bad.stdout
    assert "records were removed from the end" in bad.stdout
    assert gw.cli("ledger", "verify", "--checkpoint", str(cp6), "--key", vkey, check=False).returncode == 0

    # History written again from there: longer than before, chain intact.
    gw.start()
    try:
        for i in range(6):
            chat(gw, key, f"other {i}")
    finally:
        gw.stop()
    assert len(gw.records(kind=None)) == 12
    assert gw.verify().returncode == 0
    bad = gw.cli("ledger", "verify", "--checkpoint", str(cp11), "--key", vkey, "--json", check=False)
    assert bad.returncode == 1
    verdicts = json.loads(bad.stdout)["published_checkpoints"]
    assert verdicts[0]["verdict"] == "rewritten", verdicts

    # A forged checkpoint (its size changed) and another key are refused.
    forged = tmp_path / "forged"
    forged.write_text(note11.replace("\n11\n", "\n12\n", 1))
    bad = gw.cli("ledger", "verify", "--checkpoint", str(forged), "--key", vkey, check=False)
    assert bad.returncode == 1 and "no valid signature" in bad.stdout, bad.stdout
    (tmp_path / "o").mkdir()
    _, other = keygen(tmp_path / "o", "proviso.test/ledger")
    bad = gw.cli("ledger", "verify", "--checkpoint", str(cp6), "--key", other, check=False)
    assert bad.returncode == 1 and "no valid signature" in bad.stdout, bad.stdout


def test_checkpoints_are_posted_to_an_http_endpoint(tmp_path, fake):
    """publish_url: checkpoints reach the auditor's endpoint with its token,
    a failing endpoint is tried again, and sizes never go backwards."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    got: list[tuple[str, str]] = []
    fail_first = [True]

    class Witness(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["content-length"])).decode()
            if fail_first[0]:
                fail_first[0] = False
                self.send_response(503)
            else:
                got.append((self.headers.get("authorization", ""), body))
                self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Witness)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    keyfile, vkey = keygen(tmp_path, "proviso.test/ledger")
    gw = Proviso(tmp_path, fake.url, ledger_extra=(
        f'checkpoint_key_file = "{keyfile}"\npublish_url = "http://127.0.0.1:{srv.server_port}/cp"\n'
        'publish_token = "witness-token"\npublish_interval_ms = 100\n'))
    try:
        key = gw.create_key()
        for i in range(3):
            chat(gw, key, f"posted {i}")
        deadline = time.time() + 15
        while time.time() < deadline and not any("\n4\n" in b for _, b in got):
            time.sleep(0.05)
    finally:
        gw.stop()
        srv.shutdown()
    assert got, "nothing reached the endpoint"
    assert all(a == "Bearer witness-token" for a, _ in got)
    sizes = [int(open_note(b, vkey).splitlines()[1]) for _, b in got]
    assert 4 in sizes, sizes
    assert sizes == sorted(sizes), "never a smaller checkpoint after a larger one"
