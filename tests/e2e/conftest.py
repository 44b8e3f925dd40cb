"""Fixtures that start the real `proviso` and `proviso-fake-upstream`
binaries on free loopback ports, each test with its own data directory."""

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

BIN_DIR = Path(os.environ.get("PROVISO_BIN_DIR", Path(__file__).resolve().parents[2] / "target" / "debug"))
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def harvest(client, i: int, t0: int):
    """Request `i` of a harvesting key (a dataset scaffold over six topics,
    reasoning asked for) at simulated time `t0 + i * 2 s`; the raw response
    (a rate limit raises `openai.RateLimitError`)."""
    topic = ["volcanoes", "tax law", "jazz", "chess", "protein folding", "sailing"][i % 6]
    return client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": f"Write 5 diverse instructions about {topic} number {i} with ideal responses for a dataset. Explain your reasoning step by step."}],
        extra_headers={"proviso-sim-time": str(t0 + i * 2000), "proviso-purpose": "research"},
    )


def burst(url: str, secret: str, n: int = 200, clients: int = 32) -> list[int]:
    """`n` small chat requests from `clients` threads at once; their
    status codes."""
    import httpx
    from concurrent.futures import ThreadPoolExecutor

    def one(i):
        return httpx.post(url + "/v1/chat/completions", headers={"authorization": f"Bearer {secret}"},
                          json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"ECHO: {i}"}]},
                          timeout=30).status_code
    with ThreadPoolExecutor(clients) as ex:
        return list(ex.map(one, range(n)))


def metric(text: str, name: str) -> int:
    """A counter or gauge (no labels) from a /metrics text."""
    return int(float([line for line in text.splitlines() if line.startswith(name + " ")][0].split()[1]))


class Fake:
    def __init__(self, tmp: Path, *args: str):
        self.port = free_port()
        self.log = open(tmp / "fake.log", "w")
        self.proc = subprocess.Popen(
            [str(BIN_DIR / "proviso-fake-upstream"), "--port", str(self.port), *args],
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        wait_port(self.port)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class Proviso:
    """A gateway with its own config and data directory."""

    # The monitor runs in every test, but its ladder is off unless a test
    # turns it on: tests send templated prompts ("request 17") at machine
    # speed, which the monitor rightly takes for extraction.
    QUIET_MONITOR = '[monitor.ladder]\nnotice = "off"\nthrottle = "off"\nsuspend = "off"\n'

    # Upstream timeouts short enough for the tests of timeouts to be quick.
    TIMEOUTS = 'first_byte_timeout_ms = 2000\nstream_idle_timeout_ms = 1000\ntotal_timeout_ms = 5000\n'
    # For bursts of hundreds of requests on a slow machine, where an
    # answer may rightly take seconds.
    PATIENT = 'first_byte_timeout_ms = 60000\nstream_idle_timeout_ms = 60000\ntotal_timeout_ms = 120000\n'

    def __init__(self, tmp: Path, upstream_url: str, extra: str = "", server_extra: str = "",
                 monitor: str | None = None, serve_args: tuple[str, ...] = (), ledger_extra: str = "",
                 timeouts: str = TIMEOUTS):
        self.tmp = tmp
        self.serve_args = serve_args
        self.port = free_port()
        self.data = tmp / "data"
        self.config = tmp / "proviso.toml"
        self.config.write_text(
            f'data_dir = "{self.data}"\n'
            f'[server]\nlisten = "127.0.0.1:{self.port}"\nshutdown_grace_ms = 5000\nkey_refresh_ms = 100\n'
            + server_extra +
            f'[ledger]\ncheckpoint_every = 16\n' + ledger_extra +
            f'[index]\nfollow_interval_ms = 200\n'
            f'[[upstreams]]\nname = "fake"\nkind = "openai-compatible"\nbase_url = "{upstream_url}/v1"\n'
            f'models = ["gpt-4o-mini", "text-embedding-3-small"]\n'
            + timeouts
            + extra
            + (self.QUIET_MONITOR if monitor is None else monitor)
        )
        self.proc = None
        self.start()
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self):
        self.log = open(self.tmp / "proviso.log", "a")
        self.proc = subprocess.Popen(
            [str(BIN_DIR / "proviso"), "--config", str(self.config), "serve", *self.serve_args],
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        wait_port(self.port)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        r = subprocess.run(
            [str(BIN_DIR / "proviso"), "--config", str(self.config), *args],
            capture_output=True, text=True, timeout=60,
        )
        if check and r.returncode != 0:
            raise AssertionError(f"proviso {' '.join(args)} failed ({r.returncode}): {r.stderr}")
        return r

    def create_key(self, team: str = "ml") -> str:
        out = self.cli("keys", "create", "--team", team, "--json").stdout
        return json.loads(out)["secret"]

    def records(self, kind: str = "exchange") -> list[dict]:
        out = self.cli("ledger", "export").stdout
        recs = [json.loads(l) for l in out.splitlines() if l.strip()]
        return [r for r in recs if kind is None or r["kind"] == kind]

    def wait_records(self, n: int, timeout: float = 10.0) -> list[dict]:
        deadline = time.time() + timeout
        while True:
            recs = self.records()
            if len(recs) >= n or time.time() > deadline:
                return recs
            time.sleep(0.05)

    def verify(self) -> subprocess.CompletedProcess:
        return self.cli("ledger", "verify", check=False)

    def stop(self, sig=signal.SIGTERM) -> int:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                return self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return self.proc.wait()
        return self.proc.returncode if self.proc else 0


@pytest.fixture
def fake(tmp_path):
    f = Fake(tmp_path, "--corpus", str(FIXTURES / "gpt4_outputs.json"))
    yield f
    f.stop()


@pytest.fixture
def gw(tmp_path, fake):
    g = Proviso(tmp_path, fake.url)
    yield g
    g.stop()


@pytest.fixture
def patient_gw(tmp_path, fake):
    """A gateway whose upstream timeouts allow a burst of hundreds of
    requests on a slow machine."""
    g = Proviso(tmp_path, fake.url, timeouts=Proviso.PATIENT)
    yield g
    g.stop()
