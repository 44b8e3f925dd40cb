"""Desensitization end to end: the upstream sees placeholders, the client
gets its values back (also when a placeholder is split across streamed
chunks), the ledger keeps only the masked text and, when configured, a
sealed mapping that the key holder can open."""

import json

import httpx
import openai
import pytest

from conftest import Proviso

KEY_HEX = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
POLICY = f"""
[redact]
mapping_key = "{KEY_HEX}"
[redact.actions]
us_ssn = "redact"

[policy]
[[policy.rules]]
name = "mask-support"
effect = "desensitize"
teams = ["support"]
reason = "tickets carry customer contacts"
[[policy.rules]]
name = "allow-all"
effect = "allow"
"""

SECRET_TEXT = "Customer ann.lee@example.com, phone +86 138 0013 8000, card 4111 1111 1111 1111, SSN 536-22-1234."


@pytest.fixture
def dgw(tmp_path, fake):
    g = Proviso(tmp_path, fake.url, extra=POLICY)
    yield g
    g.stop()


def support(gw):
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=gw.create_key("support"), max_retries=0)


def last_seen(fake):
    return httpx.get(fake.url + "/_fake/requests").json()[-1]["body"]


def test_round_trip_plain(dgw, fake):
    c = support(dgw)
    r = c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "ECHO: " + SECRET_TEXT}])
    sent = last_seen(fake)["messages"][0]["content"]
    assert "ann.lee@example.com" not in sent and "4111" not in sent and "536-22-1234" not in sent
    assert "<EMAIL_1>" in sent and "<PHONE_1>" in sent and "<CREDIT_CARD_1>" in sent and "<US_SSN>" in sent
    # pseudonyms come back; a redacted value is gone for good
    assert r.choices[0].message.content == SECRET_TEXT.replace("536-22-1234", "<US_SSN>")
    [rec] = dgw.records()
    assert "ann.lee@example.com" not in json.dumps(rec), "no value in clear in the ledger"
    assert "<EMAIL_1>" in rec["request"] and "<EMAIL_1>" in rec["output"]
    d = json.loads(rec["detail"])
    assert d["desensitized"]["replaced"] == 4 and d["policy"]["desensitize"] == []
    revealed = json.loads(dgw.cli("redact", "reveal", rec["id"]).stdout)
    assert revealed["<EMAIL_1>"] == "ann.lee@example.com"
    assert revealed["<CREDIT_CARD_1>"] == "4111 1111 1111 1111"


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 11])
def test_round_trip_streamed_with_placeholders_split(dgw, chunk):
    c = support(dgw)
    chunks = list(c.chat.completions.create(
        model="gpt-4o-mini", stream=True, messages=[{"role": "user", "content": "ECHO: " + SECRET_TEXT}],
        extra_body={"fake_fault": f"chunk_bytes:{chunk}"}))
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == SECRET_TEXT.replace("536-22-1234", "<US_SSN>")
    rec = dgw.records()[-1]
    assert rec["outcome"] == "ok" and "<EMAIL_1>" in rec["output"] and "ann.lee" not in rec["output"]


def test_other_teams_are_not_desensitized(dgw, fake):
    c = openai.OpenAI(base_url=dgw.url + "/v1", api_key=dgw.create_key("ml"), max_retries=0)
    c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "ECHO: " + SECRET_TEXT}])
    assert "ann.lee@example.com" in last_seen(fake)["messages"][0]["content"]


def test_placeholders_consistent_across_turns(dgw, fake):
    c = support(dgw)
    turn1 = [{"role": "user", "content": "ECHO: write to bob@corp.example and ann@corp.example"}]
    a1 = c.chat.completions.create(model="gpt-4o-mini", messages=turn1).choices[0].message.content
    assert a1 == "write to bob@corp.example and ann@corp.example"
    sent1 = last_seen(fake)["messages"][0]["content"]
    turn2 = turn1 + [{"role": "assistant", "content": a1},
                     {"role": "user", "content": "ECHO: copy ann@corp.example and carol@corp.example"}]
    a2 = c.chat.completions.create(model="gpt-4o-mini", messages=turn2).choices[0].message.content
    assert a2 == "copy ann@corp.example and carol@corp.example"
    sent2 = [m["content"] for m in last_seen(fake)["messages"]]
    assert sent2[0] == sent1 == "ECHO: write to <EMAIL_1> and <EMAIL_2>"
    assert sent2[1] == "write to <EMAIL_1> and <EMAIL_2>"
    assert sent2[2] == "ECHO: copy <EMAIL_2> and <EMAIL_3>", "the same value keeps its placeholder"


def test_overlapping_entities_resolved(dgw, fake):
    c = support(dgw)
    # An ID number contains digits that also look like a phone number.
    c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "ECHO: 身份证11010519491231002X"}])
    assert last_seen(fake)["messages"][0]["content"] == "ECHO: 身份证<CN_RESIDENT_ID_1>"


def test_completions_and_multipart_content(dgw, fake):
    c = support(dgw)
    r = c.completions.create(model="gpt-4o-mini", prompt="ECHO: key sk-proj-abcDEF1234567890ghijKLMN ok")
    assert r.choices[0].text == "key sk-proj-abcDEF1234567890ghijKLMN ok"
    assert last_seen(fake)["prompt"] == "ECHO: key <SECRET_1> ok"
    c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": [
        {"type": "text", "text": "ECHO: server 10.1.2.3"}]}])
    assert last_seen(fake)["messages"][0]["content"][0]["text"] == "ECHO: server <IP_ADDRESS_1>"


def test_redact_cli(dgw):
    import subprocess
    from conftest import BIN_DIR
    r = subprocess.run([str(BIN_DIR / "proviso"), "--config", str(dgw.config), "redact", "--entities", "email,phone"],
                       input="mail a.b@example.org, tel 13800138000, card 4111111111111111\n", capture_output=True, text=True)
    assert r.returncode == 0
    assert r.stdout == "mail <EMAIL_1>, tel <PHONE_1>, card 4111111111111111\n", "only the data goes to stdout"
    assert "email" in r.stderr and "2 findings" in r.stderr
    assert "a.b@example.org" not in r.stderr and "13800138000" not in r.stderr, "never a value in clear"
    bad = subprocess.run([str(BIN_DIR / "proviso"), "--config", str(dgw.config), "redact", "--entities", "emails"],
                         input="x", capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown entity type" in bad.stderr


def test_redact_cli_streams_files_of_any_size_in_bounded_memory(dgw, tmp_path):
    """A file is masked in blocks: the output is the data's, line for line,
    one pseudonym per value across the whole file, line numbers right at its
    end; and an eight times larger file takes no more memory (the peak
    resident size of the process alone)."""
    import subprocess
    from conftest import BIN_DIR
    line = "客户留言：请回电 13800138000，或写信 ann.lee@example.com。Meeting notes, nothing personal here.\n"

    def run(mb):
        n = mb * 1_000_000 // len(line.encode())
        src = tmp_path / f"in{mb}.txt"
        with open(src, "w", encoding="utf-8") as f:
            f.write(line * n)
            f.write("last line: SSN 536-22-1234\n")
        out, err, findings = (tmp_path / f"{x}{mb}" for x in ("out", "err", "findings"))
        peak = tmp_path / f"peak{mb}"
        with open(out, "wb") as o, open(err, "wb") as e:
            # GNU time measures the command alone (a child's peak as Python
            # sees it includes the Python image it was forked from).
            r = subprocess.run(["/usr/bin/time", "-o", str(peak), "-f", "%M", str(BIN_DIR / "proviso"),
                                "--config", str(dgw.config), "redact", str(src), "--findings-json", str(findings)],
                               stdout=o, stderr=e)
        assert r.returncode == 0, err.read_text()
        with open(out, encoding="utf-8") as o:
            first = o.readline()
            assert first == "客户留言：请回电 <PHONE_1>，或写信 <EMAIL_1>。Meeting notes, nothing personal here.\n"
            lines, last = 1, first
            for last in o:
                lines += 1
        assert lines == n + 1
        assert last == "last line: SSN <US_SSN>\n", "this config removes SSNs for good"
        with open(findings) as fj:
            rows = [json.loads(x) for x in fj]
        assert len(rows) == 2 * n + 1
        assert rows[-1]["type"] == "us_ssn" and rows[-1]["line"] == n + 1
        assert src.read_bytes()[rows[-1]["start"]:rows[-1]["end"]] == b"536-22-1234"
        return int(peak.read_text().split()[-1])  # kilobytes

    small, large = run(1), run(8)
    assert large < small + 4 * 1024, f"peak RSS {small} KB for 1 MB, {large} KB for 8 MB"


def test_redact_cli_names_the_file_and_line_of_bad_input(dgw, tmp_path):
    import subprocess
    from conftest import BIN_DIR
    src = tmp_path / "notes.txt"
    src.write_bytes(b"fine\nalso fine\nbroken \xff byte\n")
    r = subprocess.run([str(BIN_DIR / "proviso"), "--config", str(dgw.config), "redact", str(src)],
                       capture_output=True)
    assert r.returncode == 1
    assert f"{src}: line 3: not UTF-8 text".encode() in r.stderr
    missing = subprocess.run([str(BIN_DIR / "proviso"), "--config", str(dgw.config), "redact", str(tmp_path / "nope.txt")],
                             capture_output=True, text=True)
    assert missing.returncode == 2 and "nope.txt" in missing.stderr
