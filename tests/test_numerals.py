"""Table-driven tests for `pipeline.facts.numerals`."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pipeline.facts.numerals import (
    fullwidth_to_ascii,
    parse_arabic_number,
    parse_chinese_number,
    parse_number,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("一", 1), ("两", 2), ("十", 10), ("十五", 15), ("二十", 20), ("二十三", 23), ("一百", 100),
        ("一百零五", 105), ("三百零五", 305), ("一百一十", 110), ("九百九十九", 999), ("一千二百三十四", 1234),
        ("两千", 2000), ("两千五", 2500), ("三千零六", 3006), ("百", 100), ("千", 1000), ("万", 10000),
        ("十万", 100000), ("一万二千", 12000), ("一万二", 12000), ("三万五千六百", 35600),
        ("一千二百万", 12_000_000), ("三亿五千万", 350_000_000), ("一亿", 100_000_000),
        ("二〇二三", 2023), ("兩千", 2000), ("一萬二千", 12000), ("三億", 300_000_000), ("一九九八", 1998), ("二〇", 20), ("零", 0), ("〇", 0), ("叁佰", 300), ("九十八点五", "98.5"), ("二点零五", "2.05"),
        # an inner 一十 (the ten's place written with its 一)
        ("二百一十七", 217), ("一千零一十", 1010), ("四千一百一十二", 4112), ("一万零一十", 10010),
        ("五万一千一百一十", 51110), ("一十九", 19), ("三百一十", 310),
    ],
)
def test_parse_chinese_number(text, value):
    assert parse_chinese_number(text) == Decimal(value)


@pytest.mark.parametrize(
    "text",
    ["", "八一", "五四", "一二", "十四五", "二十大", "十十", "百百", "两两", "一是", "abc", "1", "点五", "三点",
     "三点两"],
)
def test_parse_chinese_number_rejects_names_and_garbage(text):
    assert parse_chinese_number(text) is None


@pytest.mark.parametrize(
    ("text", "value"),
    [("215", "215"), ("１２", "12"), ("98.5", "98.5"), ("２．５", "2.5"), ("1,250", "1250"), ("0", "0")],
)
def test_parse_arabic_number(text, value):
    assert parse_arabic_number(text) == Decimal(value)


@pytest.mark.parametrize("text", ["", ",", "abc", "."])
def test_parse_arabic_number_rejects(text):
    assert parse_arabic_number(text) is None


def test_fullwidth_keeps_length():
    text = "共１２３人，占９８．５％"
    assert len(fullwidth_to_ascii(text)) == len(text)
    assert fullwidth_to_ascii("１２３．５") == "123.5"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("壹佰贰拾", 120), ("壹拾万零叁仟肆佰伍拾叁", 103453), ("貳仟", 2000), ("廿二", 22), ("卅", 30),
        ("一百十六", 116), ("一百十一", 111), ("两千六", 2600), ("三万五", 35000), ("一百二十万三", 1_203_000),
        ("一万零百一十一", 10111), ("十万零一千", 101_000), ("一亿五千万零六千三百五十五", 150_006_355),
        ("一千一百一十一万一千一百一十一亿", 1_111_1111_0000_0000), ("壹壹", 11), ("一七二零点一", "1720.1"),
    ],
)
def test_parse_chinese_number_spoken_and_capital_forms(text, value):
    assert parse_chinese_number(text) == Decimal(value)


@pytest.mark.parametrize(
    ("text", "value"),
    [("10.1万", 101_000), ("100万三千", 1_003_000), ("1百01", 101), ("1万600", 10600), ("一百点123", "100.123"),
     ("壹拾壹元整", 11), ("玖仟陆佰陆拾伍圆壹角捌分", "9665.18"), ("１２", 12), ("1,250", 1250)],
)
def test_parse_number_mixed_forms(text, value):
    assert parse_number(text) == Decimal(value)


@pytest.mark.parametrize("text", ["", "元整", "零点", "点零", "10.1万零100", "10..1万", "十一十二", "一一"])
def test_parse_number_rejects(text):
    assert parse_number(text) is None
