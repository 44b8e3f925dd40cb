"""The labelled set of the desensitization evaluation, made from sources
independent of Proviso's code.

- Values: the `faker` package in ten locales (phones, IBANs, SSNs, Chinese
  resident IDs, cards, e-mails, IPs, user names and passwords), and
  libphonenumber's published example number of each region and type (the
  `phonenumbers` package).
- Labels: a value is valid or a look-alike by construction (faker makes
  valid cards, IBANs and IDs; a look-alike is a valid value broken in its
  checksum, length, date or range), checked with `python-stdnum`, Python's
  `ipaddress` and `phonenumbers`: never with Proviso's validators.
  Phones: valid means valid in libphonenumber's metadata for the locale's
  region (a faker phone that is not is left out and counted); a look-alike
  is valid in no region of the ten.
- Decoys that are no entity at all: file names with `@2x`, version
  strings, order numbers, timestamps, dates, ISBNs, UUIDs, hashes,
  coordinates, prices, nine-group "IPv6".
- Carrier text: real English (GPT-4 answers) and Chinese (hotel reviews)
  text; each item goes into a sentence, half of them with a context word
  ("phone:", "电话") and half without; Chinese sentences have no spaces
  around the item.

Every item gets a split from a hash of its number: `tune` (recognisers may
be adjusted while looking at it) or `test` (held out: only reported).

Usage: gen.py --out FILE --per-type N [--seed S] [--en FILE] [--zh FILE]
       [--carrier-chars N]
"""

import argparse
import hashlib
import ipaddress
import json
import random
import string
import uuid

import phonenumbers
from faker import Faker
from stdnum import iban as std_iban
from stdnum import luhn
from stdnum.us import ssn as std_ssn

LOCALES = {
    "en_US": "US", "en_GB": "GB", "de_DE": "DE", "fr_FR": "FR", "es_ES": "ES",
    "it_IT": "IT", "nl_NL": "NL", "zh_CN": "CN", "zh_TW": "TW", "ja_JP": "JP",
}
REGIONS = list(LOCALES.values())
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")

CONTEXT_EN = {
    "phone": ["Call me at", "Phone:", "My mobile is", "Tel."],
    "email": ["Email me at", "E-mail:", "Contact:"],
    "credit_card": ["Card number:", "Charge my card", "My Visa is"],
    "iban": ["IBAN:", "Please transfer to", "Account:"],
    "us_ssn": ["SSN:", "My social security number is", "Social Security No."],
    "cn_resident_id": ["ID number:", "Resident ID:"],
    "ip_address": ["Server IP:", "The host is at", "Connect to"],
    "url_credentials": ["Connection string:", "Use", "The DSN is"],
}
CONTEXT_ZH = {
    "phone": ["电话", "手机号码是", "请致电"],
    "email": ["邮箱", "电子邮件："],
    "credit_card": ["信用卡号", "卡号："],
    "iban": ["账户IBAN：", "汇款至"],
    "us_ssn": ["社会安全号码SSN", "SSN："],
    "cn_resident_id": ["身份证号", "身份证号码："],
    "ip_address": ["服务器IP", "地址："],
    "url_credentials": ["连接串", "数据库地址："],
}
NEUTRAL_EN = ["Noted:", "See", "Reference", "As discussed,"]
NEUTRAL_ZH = ["备注", "见", "参考"]


def ric_check(d17):
    """GB 11643 check character (ISO 7064 MOD 11-2), written here from the
    standard (python-stdnum's `cn.ric` rejects valid numbers whose region
    it does not know)."""
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(a) * b for a, b in zip(d17, w)) % 11]


def ric_valid(v):
    import datetime
    if len(v) != 18 or not v[:17].isdigit():
        return False
    try:
        datetime.date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        return False
    return ric_check(v[:17]) == v[17]


def h(*parts):
    return int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:12], 16)


def phone_valid_anywhere(s):
    for r in REGIONS:
        try:
            if phonenumbers.is_valid_number(phonenumbers.parse(s, r)):
                return True
        except phonenumbers.NumberParseException:
            pass
    return False


def phone_valid_in(s, region):
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(s, region))
    except phonenumbers.NumberParseException:
        return False


class Gen:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.fakers = {}
        for i, loc in enumerate(LOCALES):
            f = Faker(loc)
            f.seed_instance(seed + i)
            self.fakers[loc] = f
        self.skipped = {}

    def loc(self):
        return self.rng.choice(list(LOCALES))

    # -- phones -------------------------------------------------------------
    def phone_variants(self, num, region):
        """Notations of one valid number as people write them."""
        nat = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.NATIONAL)
        intl = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
        out = [("national", nat), ("international", intl), ("e164", e164),
               ("international_00", "00" + intl[1:]),
               ("international_dots", intl.replace(" ", ".")),
               ("national_dashes", nat.replace(" ", "-")),
               ("international_ext", intl + self.rng.choice([" ext. ", " x", " ext "]) + str(self.rng.randint(10, 9999)))]
        digits = "".join(c for c in nat if c.isdigit())
        if len(digits) >= 9:
            out.append(("national_nospace", digits))
        return out

    def phone(self):
        """(valid, notation, text, locale) from faker or an example number."""
        loc = self.loc()
        region = LOCALES[loc]
        if self.rng.random() < 0.5:
            s = self.fakers[loc].phone_number()
            if phone_valid_in(s, region):
                return True, f"faker_{loc}", s, loc
            self.skipped["phone_faker_invalid"] = self.skipped.get("phone_faker_invalid", 0) + 1
        kind = self.rng.choice([phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE])
        ex = phonenumbers.example_number_for_type(region, kind)
        if ex is None:
            ex = phonenumbers.example_number(region)
        # Vary the subscriber digits, keeping only valid results.
        for _ in range(20):
            n = str(ex.national_number)
            tail = "".join(self.rng.choice(string.digits) for _ in range(min(4, len(n) - 3)))
            cand = phonenumbers.parse("+" + str(ex.country_code) + n[: len(n) - len(tail)] + tail, None)
            if phonenumbers.is_valid_number(cand):
                break
        else:
            cand = ex
        notation, text = self.rng.choice(self.phone_variants(cand, region))
        if not phone_valid_in(text.split(" ext")[0].split(" x")[0], region):
            self.skipped["phone_variant_unparsed"] = self.skipped.get("phone_variant_unparsed", 0) + 1
            return self.phone()
        return True, f"{notation}_{region}", text, loc

    def phone_lookalike(self):
        for _ in range(50):
            ok, notation, text, loc = self.phone()
            digits = [i for i, c in enumerate(text) if c.isdigit()]
            if len(digits) < 6:
                continue
            core = text.split(" ext")[0].split(" x")[0]
            i = self.rng.choice([d for d in digits if d < len(core)][2:])
            if self.rng.random() < 0.5:
                broken = core[:i] + core[i + 1:]
                how = "one digit short"
            else:
                broken = core[:i] + self.rng.choice(string.digits) + core[i:]
                how = "one digit long"
            if not phone_valid_anywhere(broken):
                return False, f"{how}_{notation}", broken, loc
        return None

    # -- e-mail ---------------------------------------------------------------
    def email(self):
        loc = self.loc()
        f = self.fakers[loc]
        r = self.rng.random()
        if r < 0.6:
            return True, f"faker_{loc}", f.email(), loc
        if r < 0.8:
            # Unicode local part (RFC 6531): the person's name as written.
            name = f.first_name().lower().replace(" ", "")
            return True, "unicode_local", f"{name}@{f.free_email_domain()}", loc
        # Internationalised domain names, real ones.
        host = self.rng.choice(["münchen.de", "bücher.example.de", "例え.jp", "中国互联网络信息中心.中国",
                                "пример.рф", "dömäin.at", "äpfel.ch"])
        user = f.user_name()
        return True, "idn_domain", f"{user}@{host}", loc

    def email_lookalike(self):
        f = self.fakers[self.loc()]
        word = f.word().lower()
        ext = self.rng.choice(["png", "jpg", "webp", "svg", "gif", "jpeg"])
        choice = self.rng.random()
        if choice < 0.5:
            return False, "file_name_2x", f"{word}@{self.rng.choice(['2x', '3x', '1.5x'])}.{ext}", "en_US"
        if choice < 0.75:
            return False, "handle_no_domain", f"{f.user_name()}@{f.word().lower()}", "en_US"
        return False, "npm_scope", f"@{word}/{f.word().lower()}@{self.rng.randint(1, 9)}.{self.rng.randint(0, 20)}.0", "en_US"

    # -- cards ----------------------------------------------------------------
    def card(self):
        f = self.fakers["en_US"]
        n = f.credit_card_number(card_type=self.rng.choice(["visa16", "mastercard", "amex", "discover", "jcb16"]))
        assert luhn.is_valid(n)
        return True, *self.card_notation(n), "en_US"

    def card_notation(self, n):
        groups = [n[i:i + 4] for i in range(0, len(n), 4)] if len(n) != 15 else [n[:4], n[4:10], n[10:]]
        sep = self.rng.choice([" ", "-", ".", "", "\n"])
        name = {" ": "spaces", "-": "dashes", ".": "dots", "": "plain", "\n": "line_break"}[sep]
        return name, sep.join(groups)

    def card_lookalike(self):
        ok, notation, text, loc = self.card()
        digits = "".join(c for c in text if c.isdigit())
        while True:
            last = self.rng.choice(string.digits)
            broken = digits[:-1] + last
            if not luhn.is_valid(broken):
                break
        name, t = self.card_notation(broken)
        return False, f"luhn_broken_{name}", t, loc

    # -- IBAN -----------------------------------------------------------------
    def iban(self):
        loc = self.loc()
        f = self.fakers[loc]
        v = f.iban()
        if not std_iban.is_valid(v):
            # faker's IBAN for some countries has the wrong length.
            self.skipped[f"iban_faker_invalid_{v[:2]}"] = self.skipped.get(f"iban_faker_invalid_{v[:2]}", 0) + 1
            return None
        form = self.rng.choice(["grouped", "plain", "lower_grouped", "lower_plain"])
        text = " ".join(v[i:i + 4] for i in range(0, len(v), 4)) if "grouped" in form else v
        if form.startswith("lower"):
            text = text.lower()
        return True, f"{form}_{v[:2]}", text, loc

    def iban_lookalike(self):
        made = self.iban()
        if made is None:
            return None
        ok, notation, text, loc = made
        compact = text.replace(" ", "").upper()
        if self.rng.random() < 0.5:
            for _ in range(20):
                d = self.rng.choice(string.digits)
                broken = compact[:-1] + d
                if broken != compact and not std_iban.is_valid(broken):
                    break
            how = "checksum"
        else:
            broken = compact[:-1]
            how = "length"
        if std_iban.is_valid(broken):
            return None
        grouped = " ".join(broken[i:i + 4] for i in range(0, len(broken), 4))
        return False, f"{how}_{notation}", grouped if "grouped" in notation else broken, loc

    # -- SSN ------------------------------------------------------------------
    def ssn(self):
        v = self.fakers["en_US"].ssn()
        assert std_ssn.is_valid(v), v
        form = self.rng.choice(["dashes", "spaces", "plain"])
        text = {"dashes": v, "spaces": v.replace("-", " "), "plain": v.replace("-", "")}[form]
        # A bare nine-digit number is an SSN only with a context word.
        return True, form, text, "en_US", (True if form != "dashes" else None)

    def ssn_lookalike(self):
        v = self.fakers["en_US"].ssn()
        a, g, s = v.split("-")
        how = self.rng.choice(["area_000", "area_666", "area_9xx", "group_00", "serial_0000", "bare_no_context"])
        if how == "area_000":
            a = "000"
        elif how == "area_666":
            a = "666"
        elif how == "area_9xx":
            a = "9" + "".join(self.rng.choice(string.digits) for _ in range(2))
        elif how == "group_00":
            g = "00"
        elif how == "serial_0000":
            s = "0000"
        text = f"{a}-{g}-{s}" if how != "bare_no_context" else f"{a}{g}{s}"
        if how != "bare_no_context":
            assert not std_ssn.is_valid(text), text
        return False, how, text, "en_US", (False if how == "bare_no_context" else None)

    # -- Chinese resident ID -------------------------------------------------------
    def cn_id(self):
        v = self.fakers["zh_CN"].ssn()
        assert ric_valid(v), v
        form = self.rng.choice(["plain", "fullwidth", "spaces", "legacy15"])
        if form == "fullwidth":
            text = v.translate(FULLWIDTH).replace("X", "Ｘ")
        elif form == "spaces":
            text = f"{v[:6]} {v[6:14]} {v[14:]}"
        elif form == "legacy15":
            # Before 1999: no century digits, no check character.
            if not v[6:8] == "19":
                return self.cn_id()
            text = v[:6] + v[8:17]
        else:
            text = v
        return True, form, text, "zh_CN"

    def cn_id_lookalike(self):
        v = self.fakers["zh_CN"].ssn()
        how = self.rng.choice(["checksum", "date"])
        if how == "checksum":
            for c in "0123456789X":
                broken = v[:17] + c
                if not ric_valid(broken):
                    break
        else:
            broken = v[:10] + "0230" + v[14:]  # 30 February
            broken = broken[:17] + ric_check(broken[:17])
            if ric_valid(broken):
                return None
        return False, how, broken, "zh_CN"

    # -- IP -------------------------------------------------------------------
    def ip(self):
        f = self.fakers[self.loc()]
        r = self.rng.random()
        if r < 0.4:
            return True, "ipv4", f.ipv4(), "en_US"
        v6 = ipaddress.IPv6Address(f.ipv6())
        if r < 0.55:
            # Many zeros so the compressed form has a `::`.
            groups = v6.exploded.split(":")
            k = self.rng.randint(1, 5)
            start = self.rng.randint(0, 8 - k)
            for i in range(start, start + k):
                groups[i] = "0000"
            v6 = ipaddress.IPv6Address(":".join(groups))
            return True, "ipv6_compressed", v6.compressed, "en_US"
        if r < 0.7:
            return True, "ipv6_full", v6.exploded, "en_US"
        if r < 0.8:
            return True, "ipv6_upper", v6.compressed.upper(), "en_US"
        if r < 0.9:
            return True, "ipv6_v4_mapped", f"::ffff:{f.ipv4()}", "en_US"
        return True, "ipv6_loopback_or_link_local", self.rng.choice(["::1", f"fe80::{self.rng.randint(1, 0xffff):x}"]), "en_US"

    def ip_lookalike(self):
        f = self.fakers[self.loc()]
        how = self.rng.choice(["ipv4_octet_256", "ipv6_nine_groups", "ipv6_two_double_colons", "ipv4_five_parts"])
        if how == "ipv4_octet_256":
            parts = f.ipv4().split(".")
            parts[self.rng.randint(0, 3)] = str(self.rng.randint(256, 999))
            text = ".".join(parts)
        elif how == "ipv6_nine_groups":
            text = ":".join(f"{self.rng.randint(0, 0xffff):x}" for _ in range(9))
        elif how == "ipv6_two_double_colons":
            text = f"2001:db8::{self.rng.randint(1, 0xfff):x}::{self.rng.randint(1, 0xfff):x}"
        else:
            text = f.ipv4() + "." + str(self.rng.randint(0, 255))
        try:
            ipaddress.ip_address(text)
            return None
        except ValueError:
            return False, how, text, "en_US"

    # -- URL credentials -------------------------------------------------------
    def url_creds(self):
        f = self.fakers[self.loc()]
        scheme = self.rng.choice(["https", "http", "ftp", "postgres", "postgresql", "mysql", "redis", "mongodb+srv",
                                  "amqp", "sftp", "smtp", "jdbc:postgresql"])
        user = f.user_name()
        pw = f.password(length=self.rng.randint(8, 16), special_chars=False)
        host = f.domain_name()
        port = self.rng.choice(["", f":{self.rng.randint(1000, 9999)}"])
        path = self.rng.choice(["", "/", f"/{f.word()}"])
        return True, scheme.replace("+", "_").replace(":", "_"), f"{scheme}://{user}:{pw}@{host}{port}{path}", "en_US"

    def url_creds_lookalike(self):
        f = self.fakers[self.loc()]
        how = self.rng.choice(["no_credentials", "user_only", "at_in_path"])
        host = f.domain_name()
        if how == "no_credentials":
            text = f"https://{host}/{f.word()}"
        elif how == "user_only":
            text = f"ssh://git@{host}/{f.word()}.git"
        else:
            text = f"https://{host}/users/@{f.user_name()}"
        return False, how, text, "en_US"

    # -- decoys ---------------------------------------------------------------
    def decoy(self):
        r = self.rng
        how = r.choice(["version", "order_number", "timestamp_ms", "date_time", "isbn", "uuid", "sha1", "coordinates",
                        "price", "build_number", "tracking"])
        if how == "version":
            text = f"v{r.randint(1, 20)}.{r.randint(0, 40)}.{r.randint(0, 200)}"
        elif how == "order_number":
            text = f"order #{r.randint(10**9, 10**10 - 1)}"
        elif how == "timestamp_ms":
            text = str(r.randint(1_500_000_000_000, 1_800_000_000_000))
        elif how == "date_time":
            text = f"2024-{r.randint(1, 12):02d}-{r.randint(1, 28):02d} {r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}"
        elif how == "isbn":
            text = r.choice(["ISBN 978-0-306-40615-7", "ISBN 978-3-16-148410-0", "ISBN 0-306-40615-2"])
        elif how == "uuid":
            text = str(uuid.UUID(int=r.getrandbits(128)))
        elif how == "sha1":
            text = "%040x" % r.getrandbits(160)
        elif how == "coordinates":
            text = f"{r.uniform(-80, 80):.6f}, {r.uniform(-170, 170):.6f}"
        elif how == "price":
            text = f"${r.randint(1, 999)},{r.randint(100, 999)},{r.randint(100, 999)}.{r.randint(0, 99):02d}"
        elif how == "build_number":
            text = f"build {r.randint(2019, 2026)}.{r.randint(1, 12)}.{r.randint(1, 28)}.{r.randint(1000, 99999)}"
        else:
            text = f"tracking 1Z{r.randint(10**15, 10**16 - 1)}"
        return False, how, text, "en_US"


KINDS = ["phone", "email", "credit_card", "iban", "us_ssn", "cn_resident_id", "ip_address", "url_credentials"]


def items(g, per_type):
    """(kind, valid, notation, text, locale, needs_context) for every item."""
    makers = {
        "phone": (g.phone, g.phone_lookalike),
        "email": (g.email, g.email_lookalike),
        "credit_card": (g.card, g.card_lookalike),
        "iban": (g.iban, g.iban_lookalike),
        "us_ssn": (g.ssn, g.ssn_lookalike),
        "cn_resident_id": (g.cn_id, g.cn_id_lookalike),
        "ip_address": (g.ip, g.ip_lookalike),
        "url_credentials": (g.url_creds, g.url_creds_lookalike),
    }
    out = []
    for kind in KINDS:
        valid_maker, fake_maker = makers[kind]
        for i in range(per_type):
            maker = valid_maker if i % 3 != 2 else fake_maker
            item = None
            while item is None:
                item = maker()
            ctx = item[4] if len(item) == 5 else None
            out.append((kind, item[0], item[1], item[2], item[3], ctx))
    for i in range(per_type):
        v, n, t, loc = g.decoy()
        out.append(("decoy", False, n, t, loc, None))
    return out


def embed(g, kind, text, carrier, lang, context):
    """A sentence of the carrier with the item in it, and the item's byte span."""
    words = CONTEXT_ZH if lang == "zh" else CONTEXT_EN
    neutral = NEUTRAL_ZH if lang == "zh" else NEUTRAL_EN
    if kind in words and context is not False and (context or g.rng.random() < 0.5):
        lead = g.rng.choice(words[kind])
        with_context = True
    else:
        lead = g.rng.choice(neutral)
        with_context = False
    if lang == "zh":
        before = f"{carrier[0]}{lead}"
        after = f"。{carrier[1]}"
    else:
        before = f"{carrier[0]} {lead} "
        after = f". {carrier[1]}"
    doc = before + text + after
    start = len(before.encode())
    return doc, start, start + len(text.encode()), with_context


def carriers(path, lang, chars):
    if path.endswith(".csv"):
        import csv
        data = [{"text": r.get("review", "")} for r in csv.DictReader(open(path, encoding="utf-8"))]
    else:
        data = json.load(open(path))
    texts = []
    for d in data:
        t = d["output"] if isinstance(d, dict) and "output" in d else d.get("text", "") if isinstance(d, dict) else d
        t = " ".join(t.split())
        if len(t) > 60:
            texts.append(t)
    out = []
    for t in texts:
        if lang == "zh":
            cut = len(t) // 2
        else:
            cut = t.find(". ", len(t) // 3) + 1 or len(t) // 2
        out.append((t[:cut][-chars:], t[cut:][:chars].strip()))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--per-type", type=int, default=300)
    ap.add_argument("--seed", type=int, default=20261205)
    ap.add_argument("--en", default="tests/fixtures/gpt4_outputs.json",
                    help="carrier files, comma-separated (JSON with `output`, or CSV with `review`)")
    ap.add_argument("--zh", default="tests/fixtures/chinese_reviews.json")
    ap.add_argument("--carrier-chars", type=int, default=300,
                    help="characters of carrier text on each side of an item")
    a = ap.parse_args()
    g = Gen(a.seed)
    en = [c for path in a.en.split(",") for c in carriers(path, "en", a.carrier_chars)]
    zh = [c for path in a.zh.split(",") for c in carriers(path, "zh", a.carrier_chars)]
    n = 0
    with open(a.out, "w") as out:
        for i, (kind, valid, notation, text, loc, ctx) in enumerate(items(g, a.per_type)):
            lang = "zh" if h(a.seed, "lang", i) % 2 else "en"
            pool = zh if lang == "zh" else en
            carrier = pool[h(a.seed, "carrier", i) % len(pool)]
            doc, s, e, with_context = embed(g, kind, text, carrier, lang, ctx)
            if kind == "url_credentials" and valid:
                # What must be masked is the user and password, not the URL.
                creds = text.split("://", 1)[1].rsplit("@", 1)[0]
                s += len(text[: text.index(creds)].encode())
                e = s + len(creds.encode())
            split = "test" if h(a.seed, "split", i) % 2 else "tune"
            out.write(json.dumps({
                "text": doc, "kind": kind, "valid": valid, "notation": notation, "locale": loc,
                "lang": lang, "context": with_context, "start": s, "end": e, "split": split,
            }, ensure_ascii=False) + "\n")
            n += 1
    print(json.dumps({"items": n, "skipped": g.skipped}))


if __name__ == "__main__":
    main()
