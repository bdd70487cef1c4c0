"""Chinese and Arabic numeral parsing for the quantity extractor.

`parse_chinese_number` reads positional Chinese numerals (一千二百三十四, 两千, 十五, 三百零五,
一万二千, 3.5万 is not handled here) and digit-by-digit forms used for years (二〇二三). It returns
None for strings that are not a well-formed number, which is what keeps `八一`, `五四`, `一二`
out of the extractor: those are names, not numerals.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

DIGITS: dict[str, int] = {
    "〇": 0, "零": 0, "○": 0, "Ｏ": 0,
    "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
    "壹": 1, "贰": 2, "叁": 3, "肆": 4, "伍": 5, "陆": 6, "柒": 7, "捌": 8, "玖": 9,
}
SMALL_UNITS: dict[str, int] = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
BIG_UNITS: dict[str, int] = {"万": 10_000, "亿": 100_000_000}

# traditional forms, mapped one character to one so offsets never move
TRADITIONAL = str.maketrans({"兩": "两", "萬": "万", "億": "亿"})

CHINESE_NUMERAL_CHARS = "".join(DIGITS) + "".join(SMALL_UNITS) + "".join(BIG_UNITS) + "兩萬億"

_FULLWIDTH = str.maketrans("０１２３４５６７８９．，", "0123456789.,")


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


def _parse_section(text: str) -> int | None:
    """A number below 10000 in positional form: 一千二百三十四, 三百零五, 十五, 两千."""
    if not text:
        return 0
    total = 0
    digit: int | None = None
    last_unit = 10_000
    zero_seen = False
    for ch in text:
        if ch in DIGITS:
            if digit is not None:        # two digits in a row (一二) is not positional
                return None
            digit = DIGITS[ch]
            if digit == 0:
                zero_seen = True
                digit = None
        elif ch in SMALL_UNITS:
            unit = SMALL_UNITS[ch]
            if unit >= last_unit:        # 十百, 百百: units must decrease
                return None
            if digit is None:
                # a bare 十 means 一十 only at the start (十五); 百/千 need a digit (百 alone is 100)
                if total == 0 and not zero_seen:
                    digit = 1
                elif unit == 10 and zero_seen:
                    digit = 1            # 一百零十 is unusual but 一百一十 is meant
                else:
                    return None
            total += digit * unit
            digit = None
            last_unit = unit
            zero_seen = False
        else:
            return None
    if digit is not None:
        # 两千五 means 2500: a trailing digit after a unit takes the next lower unit when no 零
        if last_unit < 10_000 and last_unit > 10 and not zero_seen:
            total += digit * (last_unit // 10)
        else:
            total += digit
    return total


def parse_chinese_number(s: str) -> Decimal | None:
    """Parse a Chinese numeral; None when `s` is not a well-formed number.

    Accepts positional forms (一千二百三十四, 两千, 十五, 三百零五, 一万二千, 三亿五千万, 九十八点五) and the
    digit-by-digit form of years (二〇二三, 一九九八). A digit-by-digit string must have a 〇 or be
    at least three characters long, so two-character names like 八一, 五四 are rejected.
    """
    text = s.strip().translate(TRADITIONAL).replace("點", "点")
    if "点" in text:
        # 九十八点五 → 98.5: the digits after 点 are read one by one
        whole, _, frac = text.partition("点")
        head = parse_chinese_number(whole) if whole else None
        if head is None or not frac or any(ch not in DIGITS or ch == "两" for ch in frac):
            return None
        return Decimal(f"{int(head)}.{''.join(str(DIGITS[ch]) for ch in frac)}")
    if not text or any(ch not in CHINESE_NUMERAL_CHARS for ch in text):
        return None
    if all(ch in DIGITS for ch in text):
        if len(text) == 1:
            return Decimal(DIGITS[text])
        if "两" in text:
            return None
        if len(text) >= 3 or any(DIGITS[ch] == 0 for ch in text):
            return Decimal("".join(str(DIGITS[ch]) for ch in text))
        return None
    total = 0
    rest = text
    for big_char, big in (("亿", BIG_UNITS["亿"]), ("万", BIG_UNITS["万"])):
        if big_char in rest:
            head, _, rest = rest.partition(big_char)
            if big_char in rest:
                return None
            if head == "":
                # 万 alone (近万人) means 一万
                head_value: int | None = 1
            else:
                head_value = _parse_section(head) if "万" not in head else None
                if head_value is None and "万" in head:
                    # 三亿五千万: the part before 亿 has no 万, the part after may
                    return None
            if head_value is None:
                return None
            total += head_value * big
            # 一万二 → 12000: a lone trailing digit after a big unit is the next lower place
            if len(rest) == 1 and rest in DIGITS and DIGITS[rest] != 0:
                return Decimal(total + DIGITS[rest] * big // 10)
    tail = rest.lstrip("〇零") if total else rest
    value = _parse_section(tail)
    if value is None:
        return None
    return Decimal(total + value)
