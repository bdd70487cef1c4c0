"""Find every quantity in Chinese report text (DOMAIN.md §3).

`extract_quantities(text)` returns `models.Quantity` objects sorted by start, never overlapping,
with spans that index the ORIGINAL string: the regular expressions run on the text as given
(full-width digits and ％ are matched by their character classes, not by normalising a copy).

Conventions the checker relies on:

* Span. A quantity's span covers the number, its unit and the approximation words that belong to
  it: `约300人`, `近百次`, `95%以上`, `两千余人`. A rank's span is the place alone (`第一`, `第4名`,
  `前三名`, `前列`), like any figure without the noun it counts: its scope (`全市`) and cue (`排名`,
  `位列`) stay outside, and the scope is carried in `Quantity.scope`. Prefixes before a duration
  (`近三年`) are not approximations and stay outside the span.
* Money keeps the unit as written: `45万元` → value 45, unit 万元; `1.5亿元` → 1.5, 亿元;
  `两千万元` → 2000, 万元. Catalog metrics are in 万元, so the figure is compared as written;
  use `to_base` to compare across 元/万元/亿元.
* Other magnitudes fold 万/亿 into the value: `2.1万人` → value 21000, unit 人, approx=True with
  lower 20500 and upper 21500 (half a unit of the last written digit either side), so the checker
  accepts 21034 and rejects 23000. `*万人` is masked with unit 人.
* Approximation words: 余/多/超过/逾/上(百/千/万)/以上/不少于/不低于/至少 → lower = value; 近/将近/接近/不足/不到/
  不超过/不高于/最多/以下/以内 → upper = value; 约/大约/左右 → ±10 %. Ranges (`18—35周岁`,
  `三至五个`) have value and lower = low end, upper = high end, approx False.
* Dates: `8月27日` → value 827 (month×100+day), unit 月日; `8月` / `1-6月份` → unit 月 (a range
  has upper 6); a lone `27日` → 27, unit 日. A full `2023年8月27日` yields a year and a date.
* Ranks: value is the place (`全市第一` → 1, span `第一`), unit "" or 名/位 when written, `scope` set.
  `全市前两名` → value 2, lower 1, upper 2, approx. `全省前列` has no number: `extract_quantities`
  leaves it out (nothing to re-bind or fill), `qualitative_ranks` finds it for the checker, and
  `report_quantities` (what `shuzhi facts` lists) gives both.
* Ordinals: `第三季度`, `第二批` (no rank context), `二期工程`; `第1、2批` makes the 2批 an ordinal.
* Masks (`***人`, `xx%`, `x.x万元`, `20XX年`, `第*名`, `全市第*`) → masked=True, value None.
  Masked names (`***镇`, `**村`, `×市`, `驻x部队`, `XX精神`) are not quantities.
* Text tables: in a line of three or more cells (separated by tabs, ideographic spaces or two+
  spaces) laid out as label, unit cell, figures (`基干民兵　　人　　1260　　1210`), each figure takes
  the unit cell (`万元` stays the unit, `万人` folds into the value); the span is the figure alone.
  `table_cell` gives the row's label and the column header, for the checker.
* Not quantities: enumerators, titles and idioms, named formulas, congress and plan ordinals,
  holidays, place names (the stop list below), anything inside 《》 and inside short quotes
  (“五率”, “八一”, “一园二馆三区”), and a bare 一 before a vague measure word (一个, 一项, 一批:
  articles more often than counts).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from pipeline.facts.numerals import (
    fullwidth_to_ascii,
    parse_arabic_number,
    parse_chinese_number,
    parse_number,
)
from pipeline.models import Quantity

# --------------------------------------------------------------------------- units

# The unit table is data (`units.tsv` beside this module): written unit → (canonical unit, kind), and the
# conversions of canonical units to base units. Longer units are matched first.
_UNIT_TABLE: dict[str, tuple[str, str]] = {}
_BASE_FACTORS: dict[str, tuple[Decimal, str]] = {}
UNITS_FILE = Path(__file__).with_name("units.tsv")


def _load_units(path: Path = UNITS_FILE) -> None:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if len(cells) not in (3, 5) or cells[2] not in ("count", "money", "percent", "duration", "other"):
            raise ValueError(f"{path.name}:{number}: expected written, canonical, kind[, factor, base]")
        written, canonical, kind = cells[:3]
        _UNIT_TABLE[written] = (canonical, kind)
        if len(cells) == 5:
            _BASE_FACTORS[canonical] = (Decimal(cells[3]), cells[4])


_load_units()
# units that follow Arabic digits only: 十分重要 is "very important", 98.5分 is a score
_ARABIC_ONLY_UNITS = frozenset({"分"})

CANONICAL_UNITS: dict[str, str] = {written: canon for written, (canon, _) in _UNIT_TABLE.items()}
"""Written unit → canonical unit. 名 and 人 stay distinct (the catalog uses both); money keeps
元/万元/亿元 as written (see module docstring); ％ → %; 个小时 → 小时; 号 → 日."""
CANONICAL_UNITS.update({"万元": "万元", "亿元": "亿元", "千元": "千元", "万美元": "万美元", "亿美元": "亿美元",
                        "号": "日", "月": "月", "日": "日", "月日": "月日", "季度": "季度", "阶段": "阶段",
                        "届": "届"})

UNIT_KINDS: dict[str, str] = {canon: kind for _, (canon, kind) in _UNIT_TABLE.items()}
UNIT_KINDS.update({"万元": "money", "亿元": "money", "万美元": "money", "亿美元": "money"})

_BASE_FACTORS["千元"] = (Decimal(1_000), "元")
_MULTIPLIERS = {"万": Decimal(10_000), "亿": Decimal(100_000_000)}


def to_base(value: Decimal, unit: str) -> tuple[Decimal, str]:
    """Convert a figure to its base unit so figures in different units compare:
    `(45, "万元")` → `(450000, "元")`, `(1.5, "亿元")` → `(150000000, "元")`, `(2.1, "万人")` →
    `(21000, "人")`, `(3, "公里")` → `(3000, "米")`, `(300, "万美元")` → `(3000000, "美元")`. Units without
    a conversion come back unchanged (`％` becomes `%`)."""
    factor = Decimal(1)
    if unit[:1] in _MULTIPLIERS and len(unit) > 1 and unit[1:] in CANONICAL_UNITS:
        factor, unit = _MULTIPLIERS[unit[0]], unit[1:]
    unit = CANONICAL_UNITS.get(unit, unit)
    if unit in _BASE_FACTORS:
        scale, unit = _BASE_FACTORS[unit]
        factor *= scale
    return (_tidy(value * factor) if factor != 1 else value), unit


# a unit character followed by these characters is the start of another word, not a unit
_UNIT_FOLLOW_BLOCK: dict[str, str] = {
    "期": "间待望盼", "支": "持援撑部队", "所": "有以在属谓", "场": "所景面合地", "处": "理置分长室",
    "家": "庭属乡园长", "台": "湾账阶", "条": "件例令款线", "项": "目", "户": "籍口", "次": "性要序",
    "名": "单义称誉额录", "人": "员民才大士物", "位": "置于", "座": "谈", "起": "来步草点", "套": "路",
    "天": "然地下", "间": "隔断", "本": "领职地质着", "节": "日约点", "类": "型似", "种": "植子类",
    "年": "轻级龄代终初底", "周": "边围密到", "米": "粮", "倍": "加增", "个": "性体别案",
    "批": "示准评复", "组": "织成建长员团合", "块": "儿头钱", "圆": "满梦形桌心周",
}

# a bare 一 before these measure words is an article (有了一个更加清晰的认识) more often than a count
_VAGUE_ONE_UNITS = frozenset("个 项 种 支 批 份 场 套 条 起 部 类 节 本 处 期 间 位 家 台 座 轮 届 年 件 块 组".split())

SCOPES: tuple[str, ...] = (
    "军分区", "省军区", "警备区", "全国", "全军", "全省", "全市", "全州", "全盟", "全县", "全区", "全旗",
    "全縣", "全區", "全國", "軍分區",
    "全旅", "全师", "全团", "全系统", "全地区", "全战区", "全自治区",
)

# --------------------------------------------------------------------------- traps

STOP_PHRASES: tuple[str, ...] = tuple("""
第一书记 第一责任人 第一责任 第一要务 第一时间 第一方阵 第一生产力 第一资源 第一动力 第一标准 第一身份
一把手 一班人 一岗双责 一人多岗 一人多职 一专多能 一岗多责 一兵多能 进一步 统一 一系列 万无一失 一年来 一年以来 一年多来 一线 一致 同一 唯一 一起 一同
一道 逐一 一体化 一定 一次性 一贯 一切 一律 一如既往 一往无前 一以贯之 一盘棋 一张蓝图 一张图 一条龙
一站式 一体 一流 一心一意 一心为民 一手抓 两手抓 两手硬 一手 万众一心 千家万户 千方百计 千辛万苦 三令五申
五湖四海 四面八方 一马当先 一丝不苟 一鼓作气 一脉相承 一针见血 一目了然 一席之地 一步一个脚印 一张网
四个意识 四个自信 两个维护 两个确立 三个亲自 四个全面 五位一体 两个务必 两个大局 两个一百年 三个代表
四个服从 三个一切 四铁 五个坚持 两学一做 三会一课 三严三实 四风 两不愁三保障 一园二馆三区 五率 八一 五四
七一 十四五 十三五 十五五 十二五 二十大 十九大 十八大 二十届 十九届 十八届 三中全会 四中全会 五中全会
六中全会 七中全会 一中全会 二中全会 四川 三亚 三明 六安 九江 十堰 五指山 七台河 万宁 万州 百色 零售 百姓
百花齐放 百年大计 百年未有 千里 万里 三军 三峡 一方 一带一路 双拥 一岗 两会 两委 两新 一事一议 一户一策
一村一品 一人一档 一人一策 一企一策 一校一策 一县一策 五好 三好 一肩挑 首位 万一 一举 一度 一再 一向 一直
一旦 一般 一边 一面 一时 一味 一新 一番 一样 一身 一些 一批批 一次次 一个个 一件件 一项项 第一位的
在第一位 放在第一位 一把尺子 一根弦 一张皮 一张蓝图绘到底 三大攻坚战 九三阅兵 一九三五 一二九
不落一人 一人不落 不漏一人 一人不漏 不少一人 一人不少 一个不少 一个不落 一个不漏 一户不落 不落一户 一户不漏
一户一档 一人一卡 一户一卡
""".split())

# characters that continue a Chinese numeral; the idiom traps below must not bite into one
_NUMERAL_CHARS = "〇零○一二两兩三四五六七八九十百千万萬亿億点點廿卅壹贰叁肆伍陆柒捌玖拾佰仟"
_POSITIONAL_CHARS = "十百千万萬亿億"

# patterns that the stop list cannot spell out
_STOP_PATTERNS: tuple[re.Pattern[str], ...] = (
    # 一块 before a word is "together" (一块研究、一块部署); at a clause end it counts (牌匾一块。)
    re.compile(r"一块(?=[\u4e00-\u9fff])"),
    re.compile(r"[一二三四五六七八九十]+届[一二三四五六七八九十]*中?全会"),
    re.compile(r"[一二三四五六七八九十]+中全会"),
    re.compile(r"[一二三四五六七八九十]+届(?:全国|省|市|县|区)?人大"),
    re.compile(r"[一二三四五六七八九十]+届(?:全国|省|市|县|区)?政协"),
    # 县委十五届第二十二次全体会议, 十五届县委: the term of a body, not a count
    re.compile(r"[一二三四五六七八九十]+届(?=第|[县市区省镇乡]委|党委|委员会|全体)"),
    re.compile(r"十[一二三四五六七八九]五(?:规划|时期|期间)?"),
    # 一村一品, 一人一档, 一户一策; the two slots hold nouns, never numeral characters, so 一百一十六
    # and 一千一百二十 stay numbers
    re.compile(rf"一(?:(?![{_NUMERAL_CHARS}])[\u4e00-\u9fff])一(?:(?![{_NUMERAL_CHARS}])[\u4e00-\u9fff])"),
    re.compile(r"[一二三四五六七八九十两]个[“\"「]"),
    re.compile(r"一点(?![〇零一二三四五六七八九])"),
    re.compile(r"[高初][一二三](?:学生|年级|毕业|学年|新生|班)"),       # 高三学生 (提高二点五 is a figure)                   # 一点 (a little), not 一点五               # 三个“……”: a named formula
    re.compile(r"[一二三四五六七八九十两几]个方面"),                  # 从四个方面: the speech's structure
    re.compile(r"[一二三四五六两]套班子"),                            # 四套班子: the county leadership
    re.compile(r"[一二三四五六七八九十两]年(?:行动|规划|计划|攻坚)"),   # 三年行动: a programme's name
    # 狠抓三项创建, 两项工程: a named set of campaigns, not a count of the year's work
    re.compile(r"[一二三四五六七八九十两]项(?:创建|创评|工程|行动|机制|原则|举措)"),
    # 市委第二十二次全体会议, 第十五次党代会: the session's number is its name
    re.compile(r"第[一二三四五六七八九十百]+次(?:全体|全委|代表大会|党代会|党员代表大会|人民代表大会)"),
)

# a Chinese numeral right after one of these is part of a word (统一, 唯一, 逐一, 初三, 之一, 数十)
_CN_PRECEDE_BLOCK = frozenset("统同唯逐进专单划周初之其万星数几这那此哪某任每礼合归")

# --------------------------------------------------------------------------- regular expressions

_MASK_CHARS = "*＊xX×ｘＸ"
_D = "0-9０-９"
AR = rf"[{_D}]+(?:,[0-9]{{3}})*(?:[.．][{_D}]+)?"
MK = (rf"(?<![A-Za-z])(?=[{_D}]*[{_MASK_CHARS}])[{_D}{_MASK_CHARS}]+(?:,[{_D}{_MASK_CHARS}]{{3}})*"
      rf"(?:[.．][{_D}{_MASK_CHARS}]+)?(?![A-Za-z])")
CN = r"[〇零○一二两兩三四五六七八九十百千万萬亿億廿卅]+(?:[点點][〇零一二三四五六七八九]+)?"
# 大写 numerals (壹佰贰拾万): their own alternative, so a lone 伍/陆 inside a word (队伍, 大陆) never joins
# a following 小写 numeral (入伍五人)
_CAPITAL = "壹贰貳叁參肆伍陆陸柒捌玖"
DX = rf"(?:[{_CAPITAL}拾][{_CAPITAL}拾佰仟万萬亿億零〇]*)"
NUM = rf"(?:{MK}|{AR}|{DX}|{CN})"
SEP = r"(?:—{1,2}|-|–|－|~|～|〜|至|到)"
_PREFIX = r"(?P<pre>将近|接近|大约|超过|不少于|不低于|不超过|不高于|不足|不到|至少|最多|近|约|逾|超|上)?"
_SUFFIX = r"(?P<suf>以上|左右|以下|以内|有余)?"
_WS = r"[ \u00a0\u3000\u2002\u2009]?"
_TRADITIONAL_MULT = str.maketrans({"萬": "万", "億": "亿"})


# Every character a number can start with. Each pattern below opens with a lookahead on these (plus the
# pattern's own leading words), so the regex engine leaves the ~95 % of positions that hold no numeral
# after one class test instead of trying every alternative there: that made extraction several times
# faster on long texts (a check must stay linear and cheap per megabyte).
_NUM_START = "0-9０-９" + _MASK_CHARS + "〇零○一二两兩三四五六七八九十百千万萬亿億廿卅" + "壹贰貳叁參肆伍陆陸柒捌玖拾"
_PREFIX_START = "将接大超不至最近约逾上"
_SCOPE_START = "军省警全軍"


def _fast(first_chars: str, pattern: str) -> re.Pattern[str]:
    return re.compile(rf"(?=[{first_chars}])(?:{pattern})")


# one scan for all of them (each scan of a megabyte costs ~25 ms, whatever the pattern)
_STOP_PATTERN_RE = _fast("一二三四五六七八九十两几第高初", "|".join(f"(?:{p.pattern})" for p in _STOP_PATTERNS))


def _alt(words: list[str] | tuple[str, ...]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_UNIT_RE = _alt(list(_UNIT_TABLE))

_GENERAL_RE = _fast(
    _NUM_START + _PREFIX_START,
    _PREFIX
    + rf"(?P<n1>{NUM})(?:[%％]?{SEP}(?P<n2>{NUM}))?"
    + r"(?P<mid1>余|餘|多)?(?P<mult>[万亿萬億])?(?P<mid2>余|餘|多)?"
    + rf"(?P<ws>{_WS})(?P<unit>{_UNIT_RE})"
    + _SUFFIX
)
_PERCENT_WORDS_RE = _fast(_PREFIX_START + "百", _PREFIX + rf"百分之(?P<n1>{NUM})" + _SUFFIX)
# `三成` = 30 %: tenths. Only a numeral right before 成 at a word edge; 成 followed by these starts a
# word (成员, 成效, 成绩, 成立, 成为, 成果, 成功, 成熟, 成本, 成交, 一成不变), and a numeral glued to a
# word before it (统一成…, 之一成…) is part of that word.
_TENTHS_FOLLOW_BLOCK = "员效绩立为果功熟本交品型长才就色分份套像规批群片年人事不家婚"
_TENTHS_RE = _fast(
    _NUM_START + _PREFIX_START,
    _PREFIX + rf"(?P<n1>{MK}|[0-9０-９](?:[.．][0-9０-９])?|[一二两三四五六七八九十](?:点[一二三四五六七八九])?)"
    + rf"成(?![{_TENTHS_FOLLOW_BLOCK}])" + _SUFFIX)
_SCOPE_RE = _alt(SCOPES)
_RANK_RE = _fast(_SCOPE_START + "第", rf"(?P<scope>{_SCOPE_RE})?第(?P<n1>{NUM})(?P<unit>名|位)?")
_TOP_RE = _fast(_SCOPE_START + "前", rf"(?P<scope>{_SCOPE_RE})?前(?P<n1>{NUM})(?P<unit>名|位)")
_ORDINAL_RE = _fast("第", rf"第(?P<n1>{NUM})(?P<unit>季度|批次|批|次|轮|期|阶段|届)")
# 营区改造二期工程: phase two, an ordinal without 第
_PHASE_RE = _fast("一二三四五六七八九十0-9", r"(?<![第〇零一二两三四五六七八九十百千0-9])(?:(?P<n1>[一二三四五六七八九十]|[0-9]{1,2})"
                       r"(?P<unit>期)(?=工程|项目|建设|改造)|(?P<q>[一二三四1-4])(?P<qu>季度))")
_NUMD = rf"(?:{MK}|[{_D}]{{1,2}}|[一二三四五六七八九十]{{1,3}})"
_DATE_MD_RE = _fast(_NUM_START, rf"(?P<m>{_NUMD})月(?P<d>{_NUMD})[日号]")
_DATE_MRANGE_RE = _fast(_NUM_START, rf"(?P<a>{_NUMD})月?{SEP}(?P<b>{_NUMD})月份?")
_DATE_MONTH_RE = _fast(_NUM_START, rf"(?P<m>{_NUMD})月份?")
# a lone 号 is a document or building number (〔2023〕12号, 3号楼); only 日 stands alone as a day
_DATE_DAY_RE = _fast(_NUM_START, rf"(?P<d>[{_D}]{{1,2}}|{MK})日")
_YEAR_TOKEN = rf"(?:[{_D}{_MASK_CHARS}]{{4}}|[〇零○一二三四五六七八九{_MASK_CHARS}]{{4}})"
_YEAR_RE = _fast(_NUM_START, rf"(?P<y1>{_YEAR_TOKEN})(?:年?{SEP}(?P<y2>{_YEAR_TOKEN}))?年")

_CAPITAL_WORDS = frozenset("贰貳叁參肆伍陆陸柒捌玖拾")
_COUNT_VERB_BEFORE = re.compile(r"(?:下辖|辖|共有|共|涉及|覆盖|包括|联系)$")
_ORDINAL_LIST_RE = re.compile(r"第[0-9０-９〇零一二两三四五六七八九十]{1,3}、$")
_CLAUSE_END = frozenset("，。；、：！？,.;:!?）)\n")
_QUOTE_PAIRS = (("“", "”"), ("「", "」"), ("‘", "’"), ('"', '"'))
_SHORT_QUOTE = 12


# --------------------------------------------------------------------------- helpers

@dataclass(frozen=True)
class _Number:
    value: Decimal | None      # None when masked
    masked: bool
    chinese: bool
    text: str
    step: Decimal              # a unit of the last written digit (for rounding bounds)


def _is_mask(token: str) -> bool:
    return any(c in _MASK_CHARS for c in token)


def _tidy(value: Decimal) -> Decimal:
    """Drop a spurious exponent or trailing zeros so 21000.0 prints as 21000."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


@lru_cache(maxsize=8192)
def _read_number(token: str) -> _Number | None:
    """A numeral token read once: reports repeat the same short tokens (`3`, `两`, `100`) many times."""
    return _parse_token(token)


def _parse_token(token: str) -> _Number | None:
    if not token:
        return None
    if _is_mask(token):
        return _Number(None, True, False, token, Decimal(1))
    if token[0] in "0123456789０１２３４５６７８９":
        value = parse_arabic_number(token)
        if value is None:
            return None
        ascii_token = fullwidth_to_ascii(token)
        decimals = len(ascii_token.partition(".")[2])
        return _Number(value, False, False, token, Decimal(1).scaleb(-decimals))
    value = parse_chinese_number(token)
    if value is None:
        return None
    decimals = len(token.replace("點", "点").partition("点")[2])
    return _Number(value, False, True, token, Decimal(1).scaleb(-decimals))


def _split_cn_multiplier(token: str) -> tuple[str, str]:
    """`两千万` → (`两千`, `万`); `一万二千` stays whole. `万` alone → (`万`, ``)."""
    if len(token) > 1 and token[-1] in "万亿萬億" and not _is_mask(token):
        head = token[:-1]
        if head and head[-1] not in "万亿萬億":
            return head, token[-1].translate(_TRADITIONAL_MULT)
    return token, ""


_LOWER_WORDS = frozenset({"超过", "逾", "超", "上", "不少于", "不低于", "至少", "以上", "有余"})
_UPPER_WORDS = frozenset({"近", "将近", "接近", "不足", "不到", "不超过", "不高于", "最多", "以下", "以内"})
_ABOUT_WORDS = frozenset({"约", "大约", "左右"})


def _approx_bounds(value: Decimal, pre: str, suf: str, mid: str) -> tuple[bool, Decimal | None, Decimal | None]:
    if not (pre or suf or mid):
        return False, None, None
    words = {w for w in (pre, suf, mid) if w}
    lower_words, upper_words, about_words = _LOWER_WORDS, _UPPER_WORDS, _ABOUT_WORDS
    lower = upper = None
    if mid or words & lower_words:
        lower = value
    if words & upper_words:
        upper = value
    if words & about_words:
        lower = lower if lower is not None else _tidy(value * Decimal("0.9"))
        upper = upper if upper is not None else _tidy(value * Decimal("1.1"))
    return True, lower, upper


def _quoted_spans(text: str) -> list[tuple[int, int]]:
    """Spans of 《titles》 (any length) and short quotes, inside which numbers are names."""
    spans: list[tuple[int, int]] = []
    for m in re.finditer(r"《[^《》\n]{0,80}》", text):
        spans.append((m.start(), m.end()))
    for left, right in _QUOTE_PAIRS:
        # a name or formula has no clause punctuation; this also keeps a mispaired ASCII quote from
        # swallowing the figures between two quotations
        pattern = (re.escape(left) + rf"[^{re.escape(left)}{re.escape(right)}\n，。；,;]{{1,{_SHORT_QUOTE}}}"
                   + re.escape(right))
        for m in re.finditer(pattern, text):
            if not quoted_data(m.group(0)):
                spans.append((m.start(), m.end()))
    return spans


# A short quote that lists figures with their units (`“大镇10万元、小镇8万元”`) quotes data, not a name:
# `“五率”`, `“八一”`, `“一园二馆三区”` have no Arabic figure, an honour (`“参训率95%先进单位”`) one at most.
QUOTED_DATA_RE = re.compile(r"[0-9０-９](?:[.．][0-9０-９]+)?[万亿]?(?:元|%|％|人|名|个|次)")


def quoted_data(quote: str) -> bool:
    """Does a quotation state data (two or more Arabic figures with units) rather than name something?"""
    return len(QUOTED_DATA_RE.findall(quote)) >= 2


def quoted_name_spans(text: str) -> list[tuple[int, int]]:
    """Spans of 《titles》 and short quotes that are names (the checker leaves figures inside them alone)."""
    return _quoted_spans(text)


# All stop phrases in one pass: a lookahead at every position that holds a phrase's first character, the
# alternatives longest first (one `str.find` scan per phrase cost a third of a second per megabyte).
_STOP_RE = re.compile(
    "(?=[" + "".join(sorted({re.escape(p[0]) for p in STOP_PHRASES})) + "])"
    + "(?=(" + "|".join(re.escape(p) for p in sorted(set(STOP_PHRASES), key=len, reverse=True)) + "))")
_ALL_NUMERAL_STOPS = frozenset(p for p in STOP_PHRASES if all(ch in _NUMERAL_CHARS for ch in p))


def _stop_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for m in _STOP_RE.finditer(text):
        phrase = m.group(1)
        start, end = m.start(), m.start() + len(phrase)
        # 三万一千人: a phrase made of numerals (万一, 八一) followed by a place unit is a number
        if not (phrase in _ALL_NUMERAL_STOPS and end < len(text) and text[end] in _POSITIONAL_CHARS):
            spans.append((start, end))
    spans.extend((m.start(), m.end()) for m in _STOP_PATTERN_RE.finditer(text))
    spans.extend((m.start(), m.end()) for m in _BYLINE_RE.finditer(text))
    return spans


# `2020年07月30日 17:57`: a news item's byline (date and clock time), pasted with the text; not a figure
_BYLINE_RE = re.compile(r"(?=[12１２])(?<![0-9０-９])[12１２][0-9０-９]{3}年[0-9０-９]{1,2}月[0-9０-９]{1,2}日"
                        r"[ \u3000\u00a0]*[0-9０-９]{1,2}[:：][0-9０-９]{2}")


class _Coverage:
    """Which characters of the text some spans cover; keeps overlap tests linear in the span length
    (a list of spans made extraction quadratic on long documents)."""

    def __init__(self, length: int, spans: list[tuple[int, int]] | None = None):
        self._mask = bytearray(length)
        for start, end in spans or ():
            self.mark(start, end)

    def mark(self, start: int, end: int) -> None:
        self._mask[start:end] = b"\x01" * (end - start)

    def hits(self, start: int, end: int) -> bool:
        return start < end and self._mask.find(1, start, end) >= 0

    def covers(self, start: int, end: int) -> bool:
        return self._mask.find(0, start, end) < 0


def _bad_left_edge(text: str, pos: int, chinese: bool) -> bool:
    """True when the number at `pos` continues a word or number on its left."""
    if pos == 0:
        return False
    left = text[pos - 1]
    if left.isascii() and left.isupper() and not chinese and _ACRONYM_BEFORE.search(text, max(0, pos - 8), pos):
        return False           # GDP19.92亿元: a figure glued to the acronym that names it
    if left in "第" or left.isascii() and (left.isalnum() or left == "."):
        return True
    if left in "０１２３４５６７８９．" or left in _MASK_CHARS:
        return True
    return chinese and (left in _CN_PRECEDE_BLOCK or left in "〇零○一二两兩三四五六七八九十百千万萬亿億廿卅")


_ACRONYM_BEFORE = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2,6}$")


def _bad_right_edge(text: str, end: int, unit: str) -> bool:
    """True when the unit's last character starts another word (3期间, 一次性, 5人大)."""
    if end >= len(text):
        return False
    nxt = text[end]
    blocked = _UNIT_FOLLOW_BLOCK.get(unit[-1], "") if unit else ""
    return nxt in blocked or nxt == unit[-1] and len(unit) == 1   # 一个个, 一批批


# --------------------------------------------------------------------------- candidate builders

@dataclass(frozen=True)
class _Candidate:
    priority: int
    quantity: Quantity


def _general(text: str) -> Iterator[Quantity]:
    for m in _GENERAL_RE.finditer(text):
        q = _general_match(text, m)
        if q is not None:
            yield q


def _general_match(text: str, m: re.Match[str]) -> Quantity | None:
    n1_tok, n2_tok = m.group("n1"), m.group("n2")
    pre, suf = m.group("pre") or "", m.group("suf") or ""
    mid = m.group("mid1") or m.group("mid2") or ""
    mult = (m.group("mult") or "").translate(_TRADITIONAL_MULT)
    written_unit = m.group("unit")
    canon_unit, kind = _UNIT_TABLE[written_unit]
    n1_start = m.start("n1")

    start, end = m.start(), m.end()
    if pre == "上" and n1_tok not in ("百", "千", "万", "萬"):
        # 上 is an approximation only in 上百/上千/上万 (上万人次); elsewhere it is a word's end (线上)
        pre, start = "", n1_start
    first = _read_number(n1_tok)
    if first is None:
        return None
    if _bad_left_edge(text, start, first.chinese and not pre):
        return None
    if m.group("ws") and (first.chinese or first.masked and len(n1_tok) < 2):
        return None            # `** 名` is a masked count; `x 人`, `三 人` are not figures
    if first.chinese and len(n1_tok) == 1 and n1_tok in _CAPITAL_WORDS:
        return None            # 队伍, 大陆, 拾: a lone 大写 character is part of a word
    if first.chinese and written_unit in _ARABIC_ONLY_UNITS:
        return None
    if written_unit == "个" and text.startswith(("多月", "半月"), m.end()) and not n2_tok:
        # 两个多月: more than two months
        end = m.end() + 2
        value = first.value
        return Quantity(start, end, text[start:end], value, "个月", "duration", first.masked,
                        True, value, None)
    if _bad_right_edge(text, m.end("unit"), written_unit) and not suf:
        return None

    # Chinese numerals carry their own 万/亿 (两千万元): split it off so money keeps 万元
    if first.chinese and not mult:
        head, cn_mult = _split_cn_multiplier(n1_tok)
        if cn_mult:
            reparsed = parse_chinese_number(head)
            if reparsed is not None:
                first = _Number(reparsed, False, True, head, Decimal(1))
                mult = cn_mult
    second = _read_number(n2_tok) if n2_tok else None
    if n2_tok and second is None:
        return None

    if first.chinese and not first.masked:
        # bare 百/千/万 are words (百姓, 千方百计, 万众) unless an approximation marks them (近百次, 万余人)
        if n1_tok in ("百", "千", "万", "萬") and not (pre or mid):
            return None
        if n1_tok == "一" and written_unit in _VAGUE_ONE_UNITS and not (pre or mid or suf or mult):
            # 一个 before a noun is an article; 一个 closing a clause (新建民兵之家一个。) is a count
            if written_unit == "年" or m.end() < len(text) and text[m.end()] not in _CLAUSE_END:
                return None   # 新的一年，过去一年，: a period of speech, not a figure
    if first.masked and written_unit in ("村", "年") and not mult:
        # **村 is a masked village name (下辖×村 counts villages); a masked 年 is the year pass's (20XX年)
        if written_unit == "村" and not _COUNT_VERB_BEFORE.search(text, max(0, start - 4), start) \
                or written_unit == "年" and len(n1_tok) == 4:
            return None
    if written_unit == "类" and first.chinese and m.end() < len(text) and "\u4e00" <= text[m.end()] <= "\u9fff":
        return None            # 特殊三类力量, 两类人员: a classification, not a count
    if kind == "duration" and written_unit == "年" and not first.masked and not first.chinese:
        if first.value is not None and len(n1_tok) == 4 and Decimal(1900) <= first.value <= 2099:
            return None   # a year, left to the year pass

    if kind == "duration" and pre in ("近", "将近", "接近"):
        # 近三年 means "the last three years", not "almost three years"
        start, pre = n1_start, ""

    if _ORDINAL_LIST_RE.search(text, max(0, start - 6), start):
        kind = "ordinal"      # 第1、2批: the second item of an ordinal list
    unit = canon_unit
    masked = first.masked or (second is not None and second.masked)
    approx = False
    lower = upper = None
    value: Decimal | None = None
    if kind == "money" and mult:
        unit = mult + canon_unit           # 45万元, 300万美元
        kind = "money"
        factor = Decimal(1)
    elif mult:
        factor = Decimal(10_000) if mult == "万" else Decimal(100_000_000)
    else:
        factor = Decimal(1)
    if not masked:
        assert first.value is not None
        value = _tidy(first.value * factor)
        if second is not None:
            assert second.value is not None
            lower, upper = value, _tidy(second.value * factor)
            if upper < lower:
                return None
        else:
            approx, lower, upper = _approx_bounds(value, pre, suf, mid)
            if factor != 1 and kind != "money" and not approx:
                # 2.1万人 is rounded: the truth lies within half a written digit either side
                half = first.step * factor / 2
                approx, lower, upper = True, _tidy(value - half), _tidy(value + half)
    else:
        approx = bool(pre or suf or mid)
    return Quantity(start, end, text[start:end], value, unit, kind, masked, approx, lower, upper)


def _percent_words(text: str) -> Iterator[Quantity]:
    for m in _PERCENT_WORDS_RE.finditer(text):
        number = _read_number(m.group("n1"))
        if number is None:
            continue
        value = number.value
        approx, lower, upper = (False, None, None)
        if value is not None:
            approx, lower, upper = _approx_bounds(value, m.group("pre") or "", m.group("suf") or "", "")
        yield Quantity(m.start(), m.end(), m.group(0), value, "%", "percent", number.masked,
                       approx, lower, upper)


def _tenths(text: str) -> Iterator[Quantity]:
    """`超过三成`, `近五成`, `八成以上`: a percent of N×10. A bare `三成` is itself rounded to tenths
    (the writer had 26–34 % in mind), so it carries ±5 points as its bounds."""
    for m in _TENTHS_RE.finditer(text):
        start = m.start("n1")
        if start > 0 and (text[start - 1] in _CN_PRECEDE_BLOCK or text[start - 1] in "0123456789０-９"):
            continue
        number = _read_number(m.group("n1"))
        if number is None or (number.value is not None and not 0 < number.value <= 10):
            continue
        value = None if number.value is None else _tidy(number.value * 10)
        pre, suf = m.group("pre") or "", m.group("suf") or ""
        approx, lower, upper = value is not None, None, None
        if value is not None:
            _, lower, upper = _approx_bounds(value, pre, suf, "")
            if not (pre or suf) or pre in ("约", "大约") or suf == "左右":
                lower, upper = value - 5, value + 5
        yield Quantity(m.start(), m.end(), m.group(0), value, "%", "percent", number.masked,
                       approx, lower, upper)


_AMOUNT_DIGIT = "零〇一二两三四五六七八九壹贰貳叁參肆伍陆陸柒捌玖0-9"
_AMOUNT_RE = _fast(_NUM_START, rf"(?P<n>{DX}|{CN}|{AR})[元圆](?:(?P<j>[{_AMOUNT_DIGIT}])角)?(?:(?P<f>[{_AMOUNT_DIGIT}])分)?"
                        r"(?P<z>[整正])?")


def _amounts(text: str) -> Iterator[Quantity]:
    """`壹拾壹元整`, `玖仟陆佰陆拾伍圆壹角捌分`: an amount written out to the 角 and 分, in 元."""
    for m in _AMOUNT_RE.finditer(text):
        if not (m.group("j") or m.group("f") or m.group("z")):
            continue
        if _bad_left_edge(text, m.start(), not m.group("n")[0].isdigit()):
            continue
        value = parse_number(m.group(0))
        if value is None:
            continue
        yield Quantity(m.start(), m.end(), m.group(0), _tidy(value), "元", "money", False)


_RANK_CUES = ("排名", "排位", "排", "位列", "位居", "名列", "列", "居", "获得", "荣获", "获")


def _ranks(text: str) -> Iterator[Quantity]:
    for m in _RANK_RE.finditer(text):
        number = _read_number(m.group("n1"))
        if number is None:
            continue
        scope = m.group("scope")
        unit = m.group("unit") or ""
        first_pos = m.start("n1") - 1   # position of 第
        cue = any(text.endswith(c, 0, (m.start("scope") if scope else first_pos)) for c in _RANK_CUES)
        if not (scope or unit or cue):
            continue
        if not unit and m.end() < len(text):
            nxt = text[m.end()]
            if "\u4e00" <= nxt <= "\u9fff" and nxt not in "的":
                continue   # 第一书记, 全省第一方阵, 第三季度 (the ordinal pass takes that)
        if unit == "位" and text.startswith("的", m.end()):
            continue       # 摆在第一位的
        yield Quantity(first_pos, m.end(), text[first_pos:m.end()], number.value, unit, "rank",
                       number.masked, False, None, None, scope or _scope_before(text, first_pos))


_SCOPE_ANY_RE = re.compile(_SCOPE_RE)
_CLAUSE_SPLIT_RE = re.compile(r"[，。；：、,;:!?！？\s“”\n]")


def _scope_before(text: str, pos: int) -> str | None:
    """`全市考核排名第一`: the scope stands before the cue, outside the span, in the same clause."""
    clause = _CLAUSE_SPLIT_RE.split(text[max(0, pos - 12):pos])[-1]
    found = _SCOPE_ANY_RE.findall(clause)
    return found[-1] if found else None


def _top_ranks(text: str) -> Iterator[Quantity]:
    """`进入全省前10名`: a rank no worse than N (value N, upper N, approx)."""
    for m in _TOP_RE.finditer(text):
        number = _read_number(m.group("n1"))
        if number is None:
            continue
        upper = number.value
        start = m.start("n1") - 1      # position of 前
        yield Quantity(start, m.end(), text[start:m.end()], number.value, m.group("unit"), "rank",
                       number.masked, True, Decimal(1) if upper is not None else None, upper,
                       m.group("scope") or _scope_before(text, start))


# `保持全省前列`, `位居全市前列`: a rank with no number. Not a quantity of `extract_quantities` (no value to
# read), but a claim the checker holds against the rank metric: 前列 is taken as within the first
# FRONT_RANK_MAX places of its scope.
FRONT_RANK_MAX = 3
_FRONT_RE = re.compile(rf"(?P<scope>{_SCOPE_RE})(?:的)?(?P<front>前列)")


def qualitative_ranks(text: str) -> list[Quantity]:
    """`全省前列`-style rank claims: kind rank, value None, bounds 1…FRONT_RANK_MAX, span `前列`, the
    scope set."""
    return [Quantity(m.start("front"), m.end(), m.group("front"), None, "", "rank", False, True, Decimal(1),
                     Decimal(FRONT_RANK_MAX), m.group("scope")) for m in _FRONT_RE.finditer(text)]


def report_quantities(text: str) -> list[Quantity]:
    """What a reader of the report would list as its figures: `extract_quantities` plus the
    qualitative rank claims (`全省前列`) it cannot give a value, sorted by start."""
    found = extract_quantities(text)
    taken = [(q.start, q.end) for q in found]
    extra = [q for q in qualitative_ranks(text) if not any(a < q.end and q.start < b for a, b in taken)]
    return sorted(found + extra, key=lambda q: q.start)


def _ordinals(text: str) -> Iterator[Quantity]:
    for m in [*_ORDINAL_RE.finditer(text), *_PHASE_RE.finditer(text)]:
        groups = m.groupdict()
        number = _read_number(groups["n1"] or groups.get("q") or "")
        if number is None:
            continue
        unit = groups["unit"] or groups.get("qu") or ""
        if _bad_right_edge(text, m.end(), unit):
            continue
        yield Quantity(m.start(), m.end(), m.group(0), number.value, unit, "ordinal", number.masked)


def _small(token: str, limit: int) -> tuple[Decimal | None, bool] | None:
    number = _read_number(token)
    if number is None:
        return None
    if number.masked:
        return None, True
    assert number.value is not None
    if number.value != number.value.to_integral_value() or not 1 <= number.value <= limit:
        return None
    return number.value, False


def _dates(text: str) -> Iterator[Quantity]:
    taken = _Coverage(len(text))
    for m in _DATE_MD_RE.finditer(text):
        month, day = _small(m.group("m"), 12), _small(m.group("d"), 31)
        if month is None or day is None or _bad_left_edge(text, m.start(), m.group("m")[0] in CN):
            continue
        masked = month[1] or day[1]
        value = None if masked else Decimal(int(month[0]) * 100 + int(day[0]))  # type: ignore[arg-type]
        taken.mark(m.start(), m.end())
        yield Quantity(m.start(), m.end(), m.group(0), value, "月日", "date", masked)
    for m in _DATE_MRANGE_RE.finditer(text):
        a, b = _small(m.group("a"), 12), _small(m.group("b"), 12)
        if a is None or b is None or taken.hits(m.start(), m.end()):
            continue
        if _bad_left_edge(text, m.start(), m.group("a")[0] in CN):
            continue
        masked = a[1] or b[1]
        low, high = (None, None) if masked else (a[0], b[0])
        taken.mark(m.start(), m.end())
        yield Quantity(m.start(), m.end(), m.group(0), low, "月", "date", masked, False, low, high)
    for m in _DATE_MONTH_RE.finditer(text):
        month = _small(m.group("m"), 12)
        if month is None or taken.hits(m.start(), m.end()):
            continue
        chinese = m.group("m")[0] in CN
        if _bad_left_edge(text, m.start(), chinese) or text.startswith(("份额",), m.end()):
            continue
        if month[1] and len(m.group("m")) > 2:
            continue
        taken.mark(m.start(), m.end())
        yield Quantity(m.start(), m.end(), m.group(0), month[0], "月", "date", month[1])
    for m in _DATE_DAY_RE.finditer(text):
        day = _small(m.group("d"), 31)
        if day is None or taken.hits(m.start(), m.end()) or _bad_left_edge(text, m.start(), False):
            continue
        if m.start() > 0 and text[m.start() - 1] in "月年":
            continue
        if day[1] and len(m.group("d")) > 2:
            continue
        yield Quantity(m.start(), m.end(), m.group(0), day[0], "日", "date", day[1])


def _year_value(token: str) -> tuple[Decimal | None, bool] | None:
    if _is_mask(token):
        # 20XX, 二〇XX, XXXX: a masked year starts like a year or is all mask
        return (None, True) if token[0] in "12１２一二" + _MASK_CHARS else None
    if token[0] in CN:
        value = parse_chinese_number(token)
    else:
        value = parse_arabic_number(token)
    if value is None or not Decimal(1900) <= value <= Decimal(2099):
        return None
    return value, False


def _years(text: str) -> Iterator[Quantity]:
    for m in _YEAR_RE.finditer(text):
        if m.start() > 0 and (text[m.start() - 1] in "0123456789０１２３４５６７８９." + _MASK_CHARS
                              or text[m.start() - 1].isascii() and text[m.start() - 1].isalpha()):
            continue
        first = _year_value(m.group("y1"))
        if first is None:
            continue
        second = _year_value(m.group("y2")) if m.group("y2") else None
        if m.group("y2") and second is None:
            continue
        masked = first[1] or (second is not None and second[1])
        upper = second[0] if second is not None and not masked else None
        lower = first[0] if upper is not None else None
        yield Quantity(m.start(), m.end(), m.group(0), None if masked else first[0], "年", "year",
                       masked, False, lower, upper)


# --------------------------------------------------------------------------- text tables

# A table typed as text: cells separated by a tab, an ideographic space or two+ spaces. Only lines with
# three or more such cells count, so prose with one stray double space is never read as a table.
_CELL_SEP_RE = re.compile(r"\t+|\u3000+| {2,}")
_TABLE_NUMBER_RE = re.compile(rf"(?:{MK}|{AR})")
_PREVIOUS_HEADERS = ("上年度", "上年", "去年", "上一年", "同期")


@dataclass(frozen=True)
class TableCell:
    """Where a figure sits in a text-table row: the row's label (first cell), the unit cell and the
    header of its column (empty when the table has no header line)."""

    label: str
    unit: str
    header: str
    row_start: int


def _cells(line: str, offset: int) -> list[tuple[int, int, str]]:
    cells: list[tuple[int, int, str]] = []
    pos = 0
    for m in _CELL_SEP_RE.finditer(line):
        if m.start() > pos and line[pos:m.start()].strip():
            cells.append((offset + pos, offset + m.start(), line[pos:m.start()].strip()))
        pos = m.end()
    if line[pos:].strip():
        cells.append((offset + pos, offset + len(line), line[pos:].strip()))
    return cells


def _lines(text: str) -> Iterator[tuple[int, str]]:
    offset = 0
    for line in text.split("\n"):
        yield offset, line
        offset += len(line) + 1


def _table_unit(cell: str) -> tuple[str, str, Decimal] | None:
    """A cell that is only a unit (`人`, `%`, `万元`): (canonical unit, kind, factor)."""
    if cell in _UNIT_TABLE:
        unit, kind = _UNIT_TABLE[cell]
        return unit, kind, Decimal(1)
    if cell[:1] in "万亿" and cell[1:] in _UNIT_TABLE:
        unit, kind = _UNIT_TABLE[cell[1:]]
        if kind == "money":
            return cell[0] + "元", kind, Decimal(1)
        return unit, kind, Decimal(10_000) if cell[0] == "万" else Decimal(100_000_000)
    return None


def _table_row(cells: list[tuple[int, int, str]]) -> tuple[int, tuple[str, str, Decimal]] | None:
    """(index of the unit cell, unit) when `cells` is a row: label first, then a unit cell, then figures."""
    if len(cells) < 3 or _TABLE_NUMBER_RE.fullmatch(cells[0][2]):
        return None
    for i in range(1, len(cells) - 1):
        unit = _table_unit(cells[i][2])
        if unit is not None:
            if all(_TABLE_NUMBER_RE.fullmatch(c[2]) or c[2] in ("—", "-", "/") for c in cells[i + 1:]):
                return i, unit
            return None
    return None


def _table_rows(text: str) -> Iterator[Quantity]:
    if "\u3000" not in text and "\t" not in text and "  " not in text:
        return
    for offset, line in _lines(text):
        cells = _cells(line, offset)
        row = _table_row(cells)
        if row is None:
            continue
        i, (unit, kind, factor) = row
        for start, end, cell in cells[i + 1:]:
            if not _TABLE_NUMBER_RE.fullmatch(cell):
                continue
            number = _read_number(cell)
            if number is None:
                continue
            value = None if number.masked or number.value is None else _tidy(number.value * factor)
            yield Quantity(start, end, text[start:end], value, unit, kind, number.masked)


def table_cell(text: str, q: Quantity) -> TableCell | None:
    """The table row and column of `q` when it is a figure of a text-table row, else None.

    The header is the cell in the same column of the nearest line above (within the same block of
    three-cell lines) that is not itself a row of figures.
    """
    line_start = text.rfind("\n", 0, q.start) + 1
    line_end = text.find("\n", q.start)
    line_end = len(text) if line_end < 0 else line_end
    line = text[line_start:line_end]
    if "\t" not in line and "\u3000" not in line and "  " not in line:
        return None            # prose: no cell separators, no table (checked per figure, so kept cheap)
    cells = _cells(line, line_start)
    row = _table_row(cells)
    if row is None:
        return None
    col = next((k for k, c in enumerate(cells) if c[0] <= q.start < c[1]), None)
    if col is None or col <= row[0]:
        return None
    header = ""
    end = line_start - 1
    while end > 0:
        start = text.rfind("\n", 0, end) + 1
        above = _cells(text[start:end], start)
        if len(above) < 3:
            break
        if _table_row(above) is None:
            if len(above) == len(cells):
                header = above[col][2]
            break
        end = start - 1
    return TableCell(cells[0][2], cells[row[0]][2], header, line_start)


def previous_year_header(header: str, year: int | None = None) -> bool:
    """A column headed 上年/去年/上年度 (or the year before the report's) holds last year's figures."""
    if any(word in header for word in _PREVIOUS_HEADERS):
        return True
    if year is not None:
        m = re.search(r"(\d{4})", fullwidth_to_ascii(header))
        return bool(m) and int(m.group(1)) == year - 1
    return False


# --------------------------------------------------------------------------- public API

_PASSES = (
    (0, _table_rows),
    (0, _amounts),
    (0, _percent_words),
    (0, _tenths),
    (1, _years),
    (2, _ranks),
    (2, _top_ranks),
    (3, _ordinals),
    (4, _dates),
    (5, _general),
)


def extract_quantities(text: str) -> list[Quantity]:
    """Every quantity in `text`, sorted by start, spans into `text` itself, never overlapping.

    See the module docstring for the value, unit, bound and span conventions.
    """
    if not text:
        return []
    blocked = _Coverage(len(text), _quoted_spans(text))
    stops = _Coverage(len(text), _stop_spans(text))
    candidates: list[_Candidate] = []
    for priority, finder in _PASSES:
        for q in finder(text):
            if blocked.covers(q.start, q.end) or stops.hits(q.start, q.end):
                continue
            candidates.append(_Candidate(priority, q))
    candidates.sort(key=lambda c: (c.priority, c.quantity.start, -(c.quantity.end - c.quantity.start)))
    accepted: list[Quantity] = []
    taken = _Coverage(len(text))
    for cand in candidates:
        q = cand.quantity
        if taken.hits(q.start, q.end):
            continue
        accepted.append(q)
        taken.mark(q.start, q.end)
    accepted.sort(key=lambda q: q.start)
    return accepted
