"""TLS to PostgreSQL (issue 22): the ledger and key store reached over TLS
with libpq's `sslmode`/`sslrootcert` in the URL, against a PostgreSQL this
test starts itself with `ssl = on` and only `hostssl` entries, its
certificate from a CA the test makes (Python's `cryptography`, not the
OpenSSL build the gateway links)."""

import datetime
import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import BIN_DIR
from test_replicas import OwnPostgres, ask, psql, replica, wait_until


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(cn: str):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn)).issuer_name(_name(cn))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_leaf(ca_key, ca_cert, names: list[str]):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    sans = [x509.DNSName(n) for n in names]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0])).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class TlsPostgres(OwnPostgres):
    """A PostgreSQL that speaks TLS only, its certificate for `localhost`
    (not for 127.0.0.1) from the CA in `self.ca`."""

    def __init__(self, certs: Path):
        ca_key, ca = make_ca("proviso test CA")
        key, cert = make_leaf(ca_key, ca, ["localhost"])
        self.ca = certs / "ca.pem"
        self.ca.write_bytes(pem(ca))
        other_key, other = make_ca("some other CA")
        self.other_ca = certs / "other-ca.pem"
        self.other_ca.write_bytes(pem(other))

        def setup(pg: OwnPostgres):
            (pg.data / "server.crt").write_bytes(pem(cert))
            (pg.data / "server.key").write_bytes(key_pem(key))
            pg.give(pg.data / "server.crt", 0o644)
            pg.give(pg.data / "server.key", 0o600)
            (pg.data / "pg_hba.conf").write_text(
                "local all all trust\n"
                "hostssl all all 127.0.0.1/32 trust\n"
                "hostssl all all ::1/128 trust\n"
            )

        super().__init__(options="-c ssl=on", setup=setup)

    def tls_url(self, host: str, query: str) -> str:
        return f"postgres://postgres@{host}:{self.port}/postgres?{query}"


@pytest.fixture
def tls_pg(tmp_path):
    import shutil
    if not shutil.which("pg_ctl") or not shutil.which("initdb"):
        pytest.fail("initdb and pg_ctl are needed (Debian's postgresql package)")
    certs = tmp_path / "certs"
    certs.mkdir()
    pg = TlsPostgres(certs)
    yield pg
    pg.destroy()


def test_the_ledger_over_verified_tls(tmp_path, fake, tls_pg):
    url = tls_pg.tls_url("localhost", f"sslmode=verify-full&sslrootcert={tls_pg.ca}")
    # The key store too (keys=None: in PostgreSQL, over the same URL).
    gw = replica(tmp_path, 0, fake.url, url, None)
    try:
        key = gw.create_key()
        received = [ask(gw.url, key, f"over tls {i}")[0] for i in range(5)]
        admin = tls_pg.tls_url("127.0.0.1", "sslmode=require")
        wait_until(lambda: psql(admin, "SELECT count(*) FROM ledger_pending") == "0", "drained")
        # Every session of the gateway is encrypted.
        sessions = psql(admin, "SELECT count(*), bool_and(s.ssl) FROM pg_stat_activity a "
                               "JOIN pg_stat_ssl s USING (pid) WHERE a.application_name LIKE 'proviso:%'")
        n, all_tls = sessions.split("|")
        assert int(n) >= 2 and all_tls == "t", sessions
        assert psql(admin, "SELECT count(*) FROM access_keys") == "1", "the key is in PostgreSQL"
        assert set(received) <= {r["id"] for r in gw.records()}
        v = gw.verify()
        assert v.returncode == 0, v.stdout + v.stderr
    finally:
        gw.stop()


def _verify(tmp: Path, url: str, name: str):
    cfg = tmp / f"{name}.toml"
    cfg.write_text(f'data_dir = "{tmp / name}"\n[ledger]\nurl = "{url}"\n')
    import subprocess
    return subprocess.run([str(BIN_DIR / "proviso"), "--config", str(cfg), "ledger", "verify"],
                          capture_output=True, text=True, timeout=60)


def test_each_sslmode_checks_what_libpq_checks(tmp_path, tls_pg):
    ca, other = tls_pg.ca, tls_pg.other_ca
    cases = [
        # (name, host, query, connects, what the refusal says)
        ("full", "localhost", f"sslmode=verify-full&sslrootcert={ca}", True, ""),
        ("full-wrong-host", "127.0.0.1", f"sslmode=verify-full&sslrootcert={ca}", False, "mismatch"),
        ("ca-any-host", "127.0.0.1", f"sslmode=verify-ca&sslrootcert={ca}", True, ""),
        ("ca-other-ca", "localhost", f"sslmode=verify-ca&sslrootcert={other}", False, "certificate verify failed"),
        # require checks the chain only when given a root, as libpq.
        ("require", "127.0.0.1", "sslmode=require", True, ""),
        ("require-other-ca", "127.0.0.1", f"sslmode=require&sslrootcert={other}", False, "certificate verify failed"),
        # The system's roots do not hold the test's CA.
        ("system", "localhost", "sslrootcert=system", False, "certificate"),
        ("default-prefer", "127.0.0.1", "", True, ""),
        ("disable", "127.0.0.1", "sslmode=disable", False, "no encryption"),
        ("bad-mode", "127.0.0.1", "sslmode=verify", False, "verify-full"),
        # The system's roots vouch for any public name: not without the host check.
        ("ca-no-root", "localhost", "sslmode=verify-ca", False, "needs sslrootcert"),
        ("system-ca", "localhost", "sslmode=verify-ca&sslrootcert=system", False, "verify-full"),
        ("missing-root", "127.0.0.1", "sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem", False,
         "/nonexistent/ca.pem"),
    ]
    # libpq's keyword form, a path with a space quoted.
    spaced = tmp_path / "my certs"
    spaced.mkdir()
    (spaced / "ca.pem").write_bytes(ca.read_bytes())
    kw = (f"host=localhost port={tls_pg.port} user=postgres dbname=postgres "
          f"sslmode=verify-full sslrootcert='{spaced / 'ca.pem'}'")
    r = _verify(tmp_path, kw, "keywords")
    assert r.returncode == 0 and "intact" in r.stdout, r.stdout + r.stderr
    for name, host, query, connects, says in cases:
        r = _verify(tmp_path, tls_pg.tls_url(host, query), name)
        out = r.stdout + r.stderr
        if connects:
            assert r.returncode == 0 and "intact" in out, (name, out)
        else:
            assert r.returncode != 0, (name, out)
            assert says in out, (name, out)
            assert "panicked" not in out, (name, out)
