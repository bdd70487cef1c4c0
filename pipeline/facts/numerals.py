"""Chinese and Arabic numeral parsing for the quantity extractor.

`parse_chinese_number` reads positional Chinese numerals in their everyday forms (一千二百三十四, 两千,
十五, 三百零五, 一万二千, 三亿五千万), the spoken shortcuts (两千六 = 2600, 三万五 = 35000, 一百十六 = 116,
一万零百一十一 = 10111), 大写 numerals (壹佰贰拾 = 120, 壹拾万零叁仟), 廿/卅/卌 (廿二 = 22), digit-by-digit
forms used for years (二〇二三) and decimals (九十八点五). It returns None for strings that are not a
well-formed number, which is what keeps `八一`, `五四`, `一二` out of the extractor: those are names,
not numerals.

`parse_number` also takes the mixed forms of tables and captions (`10.1万`, `100万三千`, `1百01`) and a
大写 amount of money (`壹拾壹元整`, `玖仟陆佰陆拾伍圆壹角捌分` in 元).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

DIGITS: dict[str, int] = {
    "〇": 0, "零": 0, "○": 0, "Ｏ": 0,
    "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
    "壹": 1, "贰": 2, "叁": 3, "肆": 4, "伍": 5, "陆": 6, "柒": 7, "捌": 8, "玖": 9,
}
SMALL_UNITS: dict[str, int] = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
BIG_UNITS: dict[str, int] = {"万": 10_000, "亿": 100_000_000}
# 廿 = 二十, 卅 = 三十, 卌 = 四十: one character standing for a digit and its ten
TENS_WORDS: dict[str, int] = {"廿": 2, "卅": 3, "卌": 4}
# 大写 digits (the financial forms); a string of them read digit by digit is a number, never a name
CAPITAL_DIGITS = frozenset("壹贰叁肆伍陆柒捌玖")

# traditional and variant forms, mapped one character to one so offsets never move
TRADITIONAL = str.maketrans({"兩": "两", "萬": "万", "億": "亿", "貳": "贰", "參": "叁", "陸": "陆", "幺": "一",
                             "點": "点"})

CHINESE_NUMERAL_CHARS = ("".join(DIGITS) + "".join(SMALL_UNITS) + "".join(BIG_UNITS) + "".join(TENS_WORDS)
                         + "兩萬億貳參陸")

_FULLWIDTH = str.maketrans("０１２３４５６７８９．，", "0123456789.,")
_ARABIC_RUN = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def fullwidth_to_ascii(text: str) -> str:
    """Map full-width digits and the full-width point to ASCII, keeping the length unchanged."""
    return text.translate(_FULLWIDTH)


def parse_arabic_number(text: str) -> Decimal | None:
    """`1,234` / `１２` / `98.5` → Decimal; None when not a number."""
    cleaned = fullwidth_to_ascii(text).replace(",", "")
    if not cleaned or not any(c.isdigit() for c in cleaned):
        return None
    try:
        return Decimal(cleaned)
    except InvalidOperation:
        return None


def _tokens(text: str, allow_arabic: bool) -> list[str | Decimal] | None:
    """Characters as tokens; an Arabic run (`10.1`, `230`) is one Decimal token when allowed."""
    out: list[str | Decimal] = []
    pos = 0
    while pos < len(text):
        ch = text[pos]
        if ch.isascii() and ch.isdigit():
            if not allow_arabic:
                return None
            m = _ARABIC_RUN.match(text, pos)
            assert m is not None
            out.append(Decimal(m.group(0)))
            pos = m.end()
            continue
        if ch in TENS_WORDS:
            out += [next(k for k, v in DIGITS.items() if v == TENS_WORDS[ch]), "十"]
        elif ch in DIGITS or ch in SMALL_UNITS or ch in BIG_UNITS:
            out.append(ch)
        else:
            return None
        pos += 1
    return out


def _positional(tokens: list[str | Decimal]) -> Decimal | None:
    """Value of a positional numeral: sections below 万 joined by 万 and 亿 (亿 may follow a 万 part:
    一千一百一十一万…亿). None when the tokens break the grammar (十十, 一二 in a row, 十四五)."""
    total = Decimal(0)         # everything already multiplied by 亿
    wan = Decimal(0)           # the part multiplied by 万 since the last 亿
    section = Decimal(0)       # below 万
    pending: Decimal | None = None
    pending_arabic = False
    last_small = 10_000        # units inside a section must decrease
    last_big = 0               # the last 万/亿 seen (for 三万五 = 35000)
    zero_seen = False
    started = False
    closed = False
    for tok in tokens:
        if closed:
            return None
        if isinstance(tok, Decimal):
            if pending is not None:
                return None
            pending, pending_arabic = tok, True
            started = True
            continue
        if tok in DIGITS:
            value = DIGITS[tok]
            if pending is not None:
                return None               # two digits in a row (一二) is not positional
            if value == 0:
                zero_seen = True
                continue
            pending, pending_arabic = Decimal(value), False
            started = True
        elif tok in SMALL_UNITS:
            unit = SMALL_UNITS[tok]
            if unit >= last_small:
                return None               # 十百, 百百: units must decrease
            if pending is None:
                # a bare 十 stands for 一十 (十五, 一百十六, 零十); a bare 百/千 only at the start or after 零
                if not (unit == 10 or not started or zero_seen):
                    return None
                pending = Decimal(1)
            elif pending_arabic and pending != pending.to_integral_value():
                return None
            section += pending * unit
            pending = None
            last_small, zero_seen, started = unit, False, True
        else:                             # 万 or 亿
            big = BIG_UNITS[tok]
            part = section + (pending or 0)
            if part == 0 and not started:
                part = Decimal(1)         # 万 alone (近万人) means 一万
            elif part == 0:
                return None               # 万亿 with nothing before it, 十万万
            if pending_arabic and pending is not None and pending != pending.to_integral_value():
                closed = True             # 10.1万 ends the number: 10.1万零100 is not one
            if big == 10_000:
                if wan:
                    return None           # two 万 in one 亿 section
                wan = part * big
            else:
                total = (total + wan + part) * big
                wan = Decimal(0)
            section, pending = Decimal(0), None
            last_small, last_big, zero_seen, started = 10_000, big, False, True
    if pending is not None:
        if pending_arabic or zero_seen:
            section += pending            # 一万零一, 1万600, 四千230: the number as written
        elif last_small < 10_000 and last_small > 10:
            section += pending * (last_small // 10)     # 两千五 = 2500, 一百二 = 120
        elif last_small == 10_000 and last_big and section == 0:
            section += pending * (last_big // 10)       # 三万五 = 35000, 一百二十万三 = 1203000
        else:
            section += pending
    return total + wan + section


def _digit_by_digit(tokens: list[str | Decimal], *, allow_short: bool) -> Decimal | None:
    if not tokens or any(not isinstance(t, str) or t not in DIGITS for t in tokens):
        return None
    chars = [t for t in tokens if isinstance(t, str)]
    if len(chars) == 1:
        return Decimal(DIGITS[chars[0]])
    if "两" in chars:
        return None
    # 八一, 五四: two-character names, unless a 〇, a 大写 digit or a decimal point makes it a number
    if len(chars) >= 3 or allow_short or any(DIGITS[c] == 0 for c in chars) or CAPITAL_DIGITS & set(chars):
        return Decimal("".join(str(DIGITS[c]) for c in chars))
    return None


def _fraction(frac: str) -> str | None:
    """The digits after 点, read one by one (五 → 5, 123 → 123)."""
    out = []
    for ch in frac:
        if ch.isascii() and ch.isdigit():
            out.append(ch)
        elif ch in DIGITS and ch != "两":
            out.append(str(DIGITS[ch]))
        else:
            return None
    return "".join(out) or None


def _parse(text: str, allow_arabic: bool) -> Decimal | None:
    text = text.strip().translate(TRADITIONAL)
    if "点" in text:
        # 九十八点五 → 98.5: the digits after 点 are read one by one
        whole, _, frac = text.partition("点")
        digits = _fraction(frac)
        if not whole or digits is None:
            return None
        head_tokens = _tokens(whole, allow_arabic)
        if head_tokens is None:
            return None
        head = _digit_by_digit(head_tokens, allow_short=True)
        if head is None:
            head = _positional(head_tokens)
        if head is None or head != head.to_integral_value():
            return None
        return Decimal(f"{int(head)}.{digits}")
    tokens = _tokens(text, allow_arabic)
    if not tokens:
        return None
    if all(isinstance(t, str) and t in DIGITS for t in tokens):
        return _digit_by_digit(tokens, allow_short=False)
    if all(isinstance(t, Decimal) for t in tokens):
        return tokens[0] if len(tokens) == 1 else None   # type: ignore[return-value]
    return _positional(tokens)


def parse_chinese_number(s: str) -> Decimal | None:
    """Parse a Chinese numeral; None when `s` is not a well-formed number.

    Accepts positional forms (一千二百三十四, 两千, 十五, 三百零五, 一万二千, 三亿五千万, 一百十六), the
    spoken shortcuts (两千六, 三万五), 大写 (壹佰贰拾), 廿/卅/卌, decimals (九十八点五) and the
    digit-by-digit form of years (二〇二三, 一九九八). A digit-by-digit string must have a 〇, a 大写
    digit or at least three characters, so two-character names like 八一, 五四 are rejected.
    """
    return _parse(s, allow_arabic=False)


_AMOUNT_RE = re.compile(r"^(?P<yuan>.*?)[元圆](?:(?P<jiao>.)角)?(?:(?P<fen>.)分)?[整正]?$")


def parse_number(s: str) -> Decimal | None:
    """Any numeral a report or a table may hold: Arabic (`1,234`, `１２`), Chinese (see
    `parse_chinese_number`), mixed (`10.1万`, `100万三千`, `1百01`, `一百点123`) and a written amount of
    money in 元 (`壹拾壹元整` = 11, `玖仟陆佰陆拾伍圆壹角捌分` = 9665.18). None when not a number."""
    text = fullwidth_to_ascii(s.strip()).replace(",", "")
    if not text:
        return None
    amount = _AMOUNT_RE.match(text)
    if amount:
        yuan = _parse(amount.group("yuan"), allow_arabic=True)
        if yuan is None:
            return None
        for group, scale in (("jiao", Decimal("0.1")), ("fen", Decimal("0.01"))):
            if amount.group(group):
                digit = DIGITS.get(amount.group(group))
                if digit is None:
                    return None
                yuan += digit * scale
        return yuan
    return _parse(text, allow_arabic=True)
