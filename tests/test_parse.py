from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from pipeline.cli import run
from pipeline.models import Report
from pipeline.reading.parse import classify_heading, cn_numeral, parse_file, parse_text, to_simplified
from pipeline.reading.report_meta import is_speaker_line

SEED = Path(__file__).resolve().parent.parent / "corpus" / "reports" / "000_82892d5cb8a93b68.txt"

OPENING = "2023年以来，我认真履行党管武装职责，全县武装工作取得新成效。现将履职情况报告如下："
BODY1 = "作为县人武部党委第一书记，我全年主持研究武装工作4次。"
BODY2 = "一是推进民兵整组，编组基干民兵860人。二是完成征兵任务，输送合格青年126人。"
BODY3 = "县财政安排人武部基础设施建设资金80万元，国防教育活动12场次。"
PLANS = "一年来，虽然取得了一定成绩，但与上级要求相比还有差距。下步，我将一是进一步压实责任。二是进一步抓好训练。"
CLOSING = "我的述职完毕，不妥之处，请各位领导批评指正。"
H1 = "立足岗位，不断提升党管武装工作能力素质"
H2 = "坚持制度，努力推动党管武装工作措施落地"
H3 = "夯实基础，积极助推县人武部机关全面建设"


def headings(report: Report) -> list[str]:
    return [s.heading for s in report.sections if s.heading]


def keys(report: Report) -> list[str]:
    return [s.key for s in report.sections]


def standard(sep1: str = "\n", sep2: str = "\n", sep3: str = "\n", marker=("一、", "二、", "三、")) -> str:
    return "\n".join([
        "青岚县2023年度党管武装工作述职报告",
        OPENING,
        f"{marker[0]}{H1}{sep1}{BODY1}",
        f"{marker[1]}{H2}{sep2}{BODY2}",
        f"{marker[2]}{H3}{sep3}{BODY3}",
        PLANS,
        CLOSING,
    ])


EXPECTED_KEYS = ["opening", "duty", "systems", "foundation", "plans", "closing"]
EXPECTED_HEADINGS = [f"一、{H1}", f"二、{H2}", f"三、{H3}"]


# --------------------------------------------------------------------------- the seed


def test_seed_report_structure() -> None:
    report = parse_file(SEED)
    assert keys(report) == EXPECTED_KEYS
    assert headings(report) == [
        "一、立足岗位，不断提升党管武装工作能力素质",
        "二、坚持制度，努力推动党管武装工作措施落地",
        "三、夯实基础，积极助推县人武部机关全面建设",
    ]
    assert report.title is None and report.year == 2022 and report.region == "**县"
    assert report.doc_id == hashlib.sha256(SEED.read_bytes()).hexdigest()[:16]
    by_key = {s.key: s for s in report.sections}
    assert [len(by_key[k].subpoints) for k in ("duty", "systems", "foundation", "plans")] == [0, 3, 3, 4]
    assert by_key["systems"].subpoints[1].startswith("圆满完成新兵征集任务。")
    assert by_key["plans"].text.startswith("一年来，虽然取得了一定成绩")
    assert by_key["plans"].subpoints[0].startswith("进一步保障好年度大项任务。")
    assert by_key["closing"].text == "我的述职完毕，不妥之处，请各位领导批评指正。"
    assert by_key["opening"].text.endswith("现将履职情况报告如下：")
    assert all(s.level == 1 for s in report.sections)
    # Nothing lost: every body character of the seed lands in exactly one section.
    body = "".join(p for s in report.sections for p in (s.heading, *s.paragraphs))
    assert len(body) == len(SEED.read_text(encoding="utf-8").replace("\n", ""))


# --------------------------------------------------------------------------- top-level variants


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("own line", standard()),
        ("run in, nothing between", standard("", "", "")),
        ("run in, one space", standard(" ", " ", " ")),
        ("run in, several spaces", standard("   ", "    ", "  ")),
        ("heading ends with 。", standard("。", "。", "。")),
        ("heading ends with ：", standard("：\n", "：", "：\n")),
    ],
)
def test_top_level_heading_variants(name: str, text: str) -> None:
    report = parse_text(text)
    assert headings(report) == EXPECTED_HEADINGS, name
    assert keys(report) == EXPECTED_KEYS, name
    assert report.section("duty").text == BODY1
    assert report.section("systems").subpoints[0].startswith("推进民兵整组")


def test_short_run_in_heading_with_one_space() -> None:
    text = "\n".join([OPENING, "一、压实责任，带头抓武装 全年研究武装工作3次。", "二、强化保障，夯实基础 县财政安排经费30万元。",
                      CLOSING])
    report = parse_text(text)
    assert headings(report) == ["一、压实责任，带头抓武装", "二、强化保障，夯实基础"]
    assert report.section("foundation").text == "县财政安排经费30万元。"


def test_space_after_dun_mark_is_kept_as_written() -> None:
    report = parse_text(standard(marker=("一、 ", "二、\u3000", "三、  ")))
    assert [h.replace(" ", "") for h in headings(report)] == EXPECTED_HEADINGS
    assert keys(report) == EXPECTED_KEYS


def test_chapters_with_dash() -> None:
    text = "\n".join([OPENING, "第一章 履职尽责——始终把党管武装扛在肩上", BODY1,
                      "第二章 制度落实——推动工作有章可循", BODY2, "第三章　基础建设——夯实武装工作根基", BODY3,
                      "第四章 下步打算——推动武装工作再上新台阶", "下一步，我将进一步强化理论武装。", CLOSING])
    report = parse_text(text)
    assert headings(report) == ["第一章 履职尽责——始终把党管武装扛在肩上", "第二章 制度落实——推动工作有章可循",
                                "第三章 基础建设——夯实武装工作根基", "第四章 下步打算——推动武装工作再上新台阶"]
    assert keys(report) == EXPECTED_KEYS


def test_whole_report_on_one_line() -> None:
    text = standard(" ", " ", " ").replace("\n", "")
    report = parse_text(text)
    assert report.title == "青岚县2023年度党管武装工作述职报告"
    assert headings(report) == EXPECTED_HEADINGS
    assert keys(report) == EXPECTED_KEYS
    assert report.section("closing").text == CLOSING
    assert report.section("plans").text.startswith("一年来，虽然")


def test_run_in_heading_with_nothing_between_and_no_opener_list_hit() -> None:
    text = "\n".join([OPENING, "一、加强领导，认真履行职责全年主持召开常委会研究武装工作4次，解决问题10个。",
                      "二、健全制度，狠抓工作落实一是健全议军会制度，每半年召开一次。二是落实训练制度。",
                      "三、夯实基础，强化保障能力县财政安排人武部经费46万元，建成展馆一座。", CLOSING])
    report = parse_text(text)
    assert headings(report) == ["一、加强领导，认真履行职责", "二、健全制度，狠抓工作落实", "三、夯实基础，强化保障能力"]
    assert report.section("systems").subpoints == ("健全议军会制度，每半年召开一次。", "落实训练制度。")
    assert report.section("foundation").text.startswith("县财政安排")


def test_long_heading_of_several_clauses_on_its_own_line() -> None:
    long = "一、坚持以党的创新理论为指导，切实增强抓党管武装工作的政治自觉、思想自觉和行动自觉"
    text = "\n".join([OPENING, long, BODY1, f"二、{H2}", BODY2, CLOSING])
    assert headings(parse_text(text)) == [long, f"二、{H2}"]


def test_chapters_over_numbered_headings() -> None:
    text = "\n".join([OPENING, "第一部分 履职情况", "一、带头学习强军思想", "全年参加专题学习4次。",
                      "二、带头研究武装工作", "主持召开常委会3次。", "第二部分 存在问题和下步打算",
                      "一、进一步压实责任。二、进一步抓好训练。", CLOSING])
    report = parse_text(text)
    assert [(s.level, s.heading) for s in report.sections if s.heading] == [
        (1, "第一部分 履职情况"), (2, "一、带头学习强军思想"), (2, "二、带头研究武装工作"), (1, "第二部分 存在问题和下步打算")]
    assert keys(report) == ["opening", "duty", "duty", "duty", "plans", "closing"]


# --------------------------------------------------------------------------- second level


def test_shi_subpoints_inline() -> None:
    report = parse_text(standard())
    assert report.section("systems").subpoints == ("推进民兵整组，编组基干民兵860人。", "完成征兵任务，输送合格青年126人。")


def test_shi_subpoints_one_per_line() -> None:
    text = "\n".join([OPENING, f"一、{H2}", "一是抓好民兵建设。编组基干民兵860人。", "二是抓好征兵工作。",
                      "三是抓好双拥工作。", CLOSING])
    report = parse_text(text)
    assert report.section("systems").subpoints == ("抓好民兵建设。编组基干民兵860人。", "抓好征兵工作。", "抓好双拥工作。")


def test_shi_subpoints_nested_inside_another() -> None:
    text = "\n".join([OPENING, f"一、{H2}", "一是抓好民兵建设：一是完成整组；二是开展训练；三是落实值班。",
                      "二是抓好征兵工作。输送青年12人。", "三是抓好双拥工作。", CLOSING])
    report = parse_text(text)
    assert report.section("systems").subpoints == (
        "抓好民兵建设：一是完成整组；二是开展训练；三是落实值班。", "抓好征兵工作。输送青年12人。", "抓好双拥工作。")
    assert headings(report) == [f"一、{H2}"]


@pytest.mark.parametrize("paren", [("（", "）"), ("(", ")")])
def test_paren_subpoints_full_and_half_width(paren) -> None:
    o, c = paren
    text = "\n".join([OPENING, f"一、{H2}", f"{o}一{c}民兵工作。编组基干民兵860人。",
                      f"{o}二{c}征兵工作。输送青年126人。", CLOSING])
    report = parse_text(text)
    assert headings(report) == [f"一、{H2}"]
    assert report.section("systems").subpoints == ("民兵工作。编组基干民兵860人。", "征兵工作。输送青年126人。")


@pytest.mark.parametrize("paren", [("（", "）"), ("(", ")")])
def test_paren_headings_on_their_own_line_open_level_2_sections(paren) -> None:
    o, c = paren
    text = "\n".join([OPENING, f"一、{H1}", f"{o}一{c}带头学习强军思想", "全年参加专题学习4次。",
                      f"{o}二{c}带头研究武装工作", "主持召开常委会3次。", "二、下步工作打算",
                      f"{o}一{c}进一步压实领导责任", f"{o}二{c}进一步提升民兵建设质量", CLOSING])
    report = parse_text(text)
    assert [(s.key, s.level, s.heading) for s in report.sections if s.heading] == [
        ("duty", 1, f"一、{H1}"), ("duty", 2, f"{o}一{c}带头学习强军思想"), ("duty", 2, f"{o}二{c}带头研究武装工作"),
        ("plans", 1, "二、下步工作打算"),
    ]
    assert report.section("plans").subpoints == ("进一步压实领导责任", "进一步提升民兵建设质量")


def test_half_width_paren_as_top_level() -> None:
    text = "\n".join(["溪鸣镇武装工作述职报告", OPENING, "(一)加强学习，提高履职能力", BODY1,
                      "(二)规范管理，抓好民兵整组", BODY2, "(三)存在问题及下步打算", "下步，我将进一步创新方法。", CLOSING])
    report = parse_text(text)
    assert headings(report) == ["(一)加强学习，提高履职能力", "(二)规范管理，抓好民兵整组", "(三)存在问题及下步打算"]
    assert keys(report) == ["opening", "duty", "systems", "plans", "closing"]
    assert report.region == "溪鸣镇"


@pytest.mark.parametrize("dot", ["、", ".", "．"])
def test_arabic_subpoints(dot: str) -> None:
    text = "\n".join([OPENING, f"一、{H2}", f"1{dot}落实议军会制度。全年召开2次。", f"2{dot}落实征兵责任制。输送新兵76人。",
                      f"3{dot}落实训练制度。合格率100％。", CLOSING])
    report = parse_text(text)
    assert headings(report) == [f"一、{H2}"]
    assert report.section("systems").subpoints == ("落实议军会制度。全年召开2次。", "落实征兵责任制。输送新兵76人。",
                                                   "落实训练制度。合格率100％。")


def test_unmarked_run_in_labels() -> None:
    text = "\n".join([OPENING, "一、落实制度，完成各项任务", "民兵工作：完成整组，编组基干民兵30人。",
                      "征兵工作：输送合格青年6人。", "工会工作：开展拥军慰问活动2次。", CLOSING])
    report = parse_text(text)
    assert headings(report) == ["一、落实制度，完成各项任务"]
    assert report.section("systems").subpoints == (
        "民兵工作：完成整组，编组基干民兵30人。", "征兵工作：输送合格青年6人。", "工会工作：开展拥军慰问活动2次。")


def test_document_starting_mid_list() -> None:
    text = "\n".join(["四是加强民兵应急力量建设。组建应急连一个。五是做好退役军人服务。安置31名。",
                      f"三、{H3}", BODY3, PLANS, CLOSING])
    report = parse_text(text)
    assert keys(report) == ["other", "foundation", "plans", "closing"]
    assert report.sections[0].subpoints == ("加强民兵应急力量建设。组建应急连一个。", "做好退役军人服务。安置31名。")
    assert headings(report) == [f"三、{H3}"]


# --------------------------------------------------------------------------- noise


def test_table_of_contents_glued_to_first_heading() -> None:
    toc = f"一、{H1}……1二、{H2}……2三、{H3}……3一、{H1}"
    text = "\n".join(["青岚县党管武装工作述职报告", "目录", toc, BODY1, f"二、{H2}", BODY2, f"三、{H3}", BODY3,
                      PLANS, CLOSING])
    report = parse_text(text)
    assert headings(report) == EXPECTED_HEADINGS
    assert keys(report) == ["duty", "systems", "foundation", "plans", "closing"]
    assert "……" not in "".join(s.text for s in report.sections)


def test_table_of_contents_without_leader_dots() -> None:
    toc = f"一、{H1}2二、{H2}3三、{H3} 5一、{H1}"
    text = "\n".join(["青岚县党管武装工作述职报告", toc, BODY1, f"二、{H2}", BODY2, f"三、{H3}", BODY3, PLANS, CLOSING])
    report = parse_text(text)
    assert headings(report) == EXPECTED_HEADINGS
    assert report.section("duty").text == BODY1


def test_page_break_digits() -> None:
    text = "\n".join([OPENING, f"一、{H1}", BODY1, "- 1 -", f"二、{H2}", BODY2, "2", f"3三、{H3}", BODY3,
                      "第4页", PLANS, "— 5 —", CLOSING])
    report = parse_text(text)
    assert headings(report) == EXPECTED_HEADINGS
    assert keys(report) == ["opening", "duty", "systems", "foundation", "plans", "closing"]
    assert report.section("systems").text == BODY2


def test_traditional_characters_are_classified_and_kept() -> None:
    text = "\n".join(["墨川區2023年度黨管武裝工作述職報告", "2023年以來，我認真履行職責。現將情況報告如下：",
                      "一、立足崗位，不斷提升黨管武裝履職能力", "堅持學習。",
                      "二、堅持制度，努力推動各項措施落地見效", "一是推進民兵整組。二是圓滿完成徵兵任務。",
                      "三、夯實基礎，積極助推人武部全面建設", "區財政安排經費。",
                      "一年來，雖然取得了一定成績，但與上級要求相比還有差距。", "我的述職完畢，請各位領導批評指正。"])
    report = parse_text(text)
    assert keys(report) == EXPECTED_KEYS
    assert headings(report)[1] == "二、堅持制度，努力推動各項措施落地見效"
    assert report.region == "墨川區" and report.year == 2023


def test_stray_whitespace() -> None:
    text = standard().replace(OPENING, "\u3000\u3000" + OPENING + "\u00a0").replace(f"二、{H2}", f"\u00a0\u00a0二、{H2}\u3000")
    report = parse_text(text)
    assert headings(report) == EXPECTED_HEADINGS
    assert report.section("opening").text == OPENING


def test_windows_line_ends() -> None:
    report = parse_text(standard().replace("\n", "\r\n"))
    assert headings(report) == EXPECTED_HEADINGS
    assert keys(report) == EXPECTED_KEYS
    assert "\r" not in report.text


def test_inline_list_in_a_body_paragraph_is_not_cut_into_sections() -> None:
    text = "\n".join([OPENING, f"一、{H1}", "重点抓好两个方面：一、学习理论。二、研究工作。", f"二、{H2}", BODY2, CLOSING])
    report = parse_text(text)
    assert headings(report) == [f"一、{H1}", f"二、{H2}"]
    assert report.section("duty").text == "重点抓好两个方面：一、学习理论。二、研究工作。"


def test_body_sentences_are_not_headings() -> None:
    text = "\n".join([OPENING, f"一、{H2}", "一是推进民兵整组。", "一年来，全县基干民兵分批参加集中轮训。",
                      "一、二季度共组织训练3次。", CLOSING])
    report = parse_text(text)
    assert headings(report) == [f"一、{H2}"]


def test_body_paragraphs_that_only_look_like_plans_or_toc_stay_in_their_section() -> None:
    text = "\n".join([OPENING, f"一、{H2}", BODY2, "同时，协调解决民兵训练场地问题3个，下步将继续推进。",
                      "一年来，全县基干民兵分批参加集中轮训。", "开展宣讲、走访、慰问……3次以上。", f"二、{H3}", BODY3,
                      PLANS, CLOSING])
    report = parse_text(text)
    assert keys(report) == EXPECTED_KEYS[:1] + ["systems", "foundation", "plans", "closing"]
    assert report.section("systems").paragraphs[1:] == (
        "同时，协调解决民兵训练场地问题3个，下步将继续推进。", "一年来，全县基干民兵分批参加集中轮训。", "开展宣讲、走访、慰问……3次以上。")


@pytest.mark.parametrize(
    ("paragraph", "is_plans"),
    [
        ("一年来，虽然取得了一定成绩，但与上级要求相比还有差距。", True),
        ("总的看，全县武装工作有了新的进步，但与上级要求相比还有差距。", True),
        ("一年来的工作虽有进步，但我们也清醒地看到：训练基地建设滞后。2024年，我将抓好三项工作。", True),
        ("在肯定成绩的同时，我也清醒地看到，武装工作离上级要求还有差距。", True),
        ("下一步，我将进一步压实责任。", True),
        ("2024年，我将着力抓好三个方面工作。", True),
        ("2023年，我县投入资金80万元建设民兵训练基地。", False),
        ("一年来，全县基干民兵分批参加集中轮训。", False),
        ("同时，协调解决训练场地问题3个，下步将继续推进。", False),
        ("虽然任务重、时间紧，但全体民兵圆满完成了防汛任务。", False),
    ],
)
def test_plans_block_start_after_the_last_section(paragraph: str, is_plans: bool) -> None:
    text = "\n".join([OPENING, f"一、{H1}", BODY1, f"二、{H3}", BODY3, paragraph, CLOSING])
    report = parse_text(text)
    expected = ["opening", "duty", "foundation", "plans", "closing"] if is_plans else [
        "opening", "duty", "foundation", "closing"]
    assert keys(report) == expected


def test_outlook_closing_a_middle_section_is_not_the_plans_block() -> None:
    text = "\n".join([OPENING, f"一、{H1}", BODY1, "下一步，我将继续带头学习，不断提高履职能力。", f"二、{H2}", BODY2,
                      PLANS, CLOSING])
    report = parse_text(text)
    assert keys(report) == ["opening", "duty", "systems", "plans", "closing"]
    assert report.section("duty").paragraphs[-1] == "下一步，我将继续带头学习，不断提高履职能力。"


def test_closing_like_sentence_mid_report_does_not_swallow_later_sections() -> None:
    text = "\n".join([OPENING, f"一、{H1}", "以上述职工作要点由县委办公室汇总。", f"二、{H2}", BODY2, CLOSING])
    report = parse_text(text)
    assert headings(report) == [f"一、{H1}", f"二、{H2}"]
    assert report.sections[-1].text == CLOSING


# --------------------------------------------------------------------------- plans and closing


def test_numbered_plans_section() -> None:
    text = standard().replace(PLANS, "四、存在的不足和下步打算\n" + PLANS)
    report = parse_text(text)
    assert keys(report) == EXPECTED_KEYS
    assert report.section("plans").heading == "四、存在的不足和下步打算"
    assert report.section("plans").subpoints == ("进一步压实责任。", "进一步抓好训练。")


def test_numbered_plans_section_with_restarted_count() -> None:
    text = standard().replace(PLANS, "四、下步工作打算\n一、进一步压实领导责任。\n二、进一步抓好民兵训练。\n"
                                     "三、进一步加强国防教育。\n四、进一步做好双拥工作。")
    report = parse_text(text)
    assert headings(report) == EXPECTED_HEADINGS + ["四、下步工作打算"]
    assert report.section("plans").subpoints == ("进一步压实领导责任。", "进一步抓好民兵训练。", "进一步加强国防教育。",
                                                 "进一步做好双拥工作。")


def test_restarted_count_inside_a_section_then_the_outer_count_resumes() -> None:
    text = "\n".join([OPENING, f"一、{H1}", BODY1, f"二、{H2}", "一、民兵工作。编组基干民兵860人。",
                      "二、征兵工作。输送青年126人。", f"三、{H3}", BODY3, CLOSING])
    report = parse_text(text)
    assert headings(report) == EXPECTED_HEADINGS
    assert report.section("systems").subpoints == ("民兵工作。编组基干民兵860人。", "征兵工作。输送青年126人。")


def test_level_2_headings_take_their_parent_key() -> None:
    text = "\n".join([OPENING, f"一、{H1}", BODY1, "二、下步工作打算", "（一）进一步压实领导责任", "配齐配强专武干部。",
                      "（二）进一步夯实基础建设", "加大经费投入。", CLOSING])
    report = parse_text(text)
    assert [(s.key, s.level) for s in report.sections if s.heading] == [
        ("duty", 1), ("plans", 1), ("plans", 2), ("plans", 2)]


def test_colon_inside_a_heading_without_full_stop() -> None:
    text = "\n".join([OPENING, "一、履职情况：立足岗位抓武装", BODY1, "二、落实制度：推动任务落地。全年召开议军会2次。", CLOSING])
    report = parse_text(text)
    assert headings(report) == ["一、履职情况：立足岗位抓武装", "二、落实制度"]
    assert report.section("systems").text == "推动任务落地。全年召开议军会2次。"


def test_unnumbered_plans_with_restarted_numbering() -> None:
    text = standard().replace(PLANS, "一年来，虽然做了一些工作，但还有差距。下一步，我将重点抓好：\n"
                                     "一、进一步加强政治引领。\n二、进一步健全工作机制。")
    report = parse_text(text)
    assert headings(report) == EXPECTED_HEADINGS
    assert keys(report) == EXPECTED_KEYS
    assert report.section("plans").subpoints == ("进一步加强政治引领。", "进一步健全工作机制。")


def test_plans_glued_to_last_section_and_closing_glued_to_plans() -> None:
    text = standard().replace(f"{BODY3}\n{PLANS}\n{CLOSING}", BODY3 + PLANS + CLOSING)
    report = parse_text(text)
    assert keys(report) == EXPECTED_KEYS
    assert report.section("foundation").text == BODY3
    assert report.section("closing").text == CLOSING


def test_short_thanks_is_a_closing() -> None:
    report = parse_text(standard().replace(CLOSING, "谢谢大家！"))
    assert keys(report) == EXPECTED_KEYS
    assert report.section("closing").text == "谢谢大家！"


def test_signature_lines_stay_in_closing() -> None:
    report = parse_text(standard() + "\n述职人：张某某\n2023年12月20日")
    assert report.sections[-1].key == "closing"
    assert report.sections[-1].paragraphs == (CLOSING, "述职人：张某某", "2023年12月20日")


# --------------------------------------------------------------------------- meta


@pytest.mark.parametrize(
    ("title", "opening", "year", "region"),
    [
        ("青岚县2023年度党管武装工作述职报告", "一年来，我……", 2023, "青岚县"),
        ("中共墨川区委书记党管武装述职报告", "2022年以来，在市委领导下……", 2022, "墨川区"),
        ("党管武装工作述职报告", "二〇二四年度，在云岫县委的领导下……", 2024, "云岫县"),
        ("**县20XX年度党管武装工作述职报告", "20XX年以来……", None, "**县"),
        ("党管武装工作述职报告", "今年以来，按照县委和县人武部的部署，全县……", None, None),
        ("党管武装工作述职报告", "2023年，在军分区党委的领导下……", 2023, None),
        # full-width digits (typed in a Chinese IME) in the title and in the opening
        ("雁汀县２０２１年度党管武装工作述职报告", "一年来，我……", 2021, "雁汀县"),
        ("党管武装工作述职报告", "２０２５年以来，在县委领导下……", 2025, None),
        # the title has no year; a later sentence of the opening opens with it
        ("沅汀县委书记党管武装工作述职报告", "一年来，我坚持把武装工作抓在手上。2021年，全县征兵任务圆满完成。",
         2021, "沅汀县"),
        ("党管武装工作述职报告", "过去一年，我认真履职尽责；2024年，全县民兵整组顺利完成。", 2024, None),
        # a year inside a sentence (not opening it) is no report year
        ("党管武装工作述职报告", "一年来，我始终坚持与2019年相比的高标准。", None, None),
        # township and street reports: 镇/乡 and the two-character 街道 in the title
        ("雾溪镇2023年度党管武装工作述职报告", "一年来，我……", 2023, "雾溪镇"),
        ("滨港街道党工委书记2024年度抓党管武装工作述职报告", "一年来，我……", 2024, "滨港街道"),
        ("2024年度党管武装工作渠道述职报告", "一年来，我……", 2024, None),
    ],
)
def test_title_year_region(title: str, opening: str, year, region) -> None:
    report = parse_text("\n".join([title, opening + "现报告如下：", f"一、{H1}", BODY1, CLOSING]))
    assert (report.title, report.year, report.region) == (title, year, region)


@pytest.mark.parametrize(
    ("heading", "key"),
    [
        ("一、立足岗位，不断提升党管武装工作能力素质", "duty"),
        ("二、坚持制度，努力推动党管武装工作措施落地", "systems"),
        ("三、夯实基础，积极助推县人武部机关全面建设", "foundation"),
        ("一、堅持制度，努力推動措施落地", "systems"),
        ("三、夯實基礎，積極助推人武部全面建設", "foundation"),
        ("履行第一书记职责，把牢武装工作方向", "duty"),
        ("（二）征兵工作", "systems"),
        ("（二）国防教育", "foundation"),
        ("四、存在的不足和下步打算", "plans"),
        ("第四章 下步打算——推动武装工作再上新台阶", "plans"),
        ("存在问题及下步打算", "plans"),
        ("我的述职完毕", "closing"),
        ("附：有关数据", "other"),
        ("", "other"),
    ],
)
def test_classify_heading(heading: str, key: str) -> None:
    assert classify_heading(heading) == key


@pytest.mark.parametrize(("text", "value"), [("一", 1), ("十", 10), ("十二", 12), ("二十", 20), ("二十三", 23),
                                             ("三三", None), ("", None), ("百", None)])
def test_cn_numeral(text: str, value) -> None:
    assert cn_numeral(text) == value


def test_to_simplified_keeps_length() -> None:
    text = "堅持制度，夯實基礎"
    assert to_simplified(text) == "坚持制度，夯实基础" and len(to_simplified(text)) == len(text)


def test_parse_file_reads_docx_with_word_numbering(tmp_path: Path) -> None:
    from test_readers import _p, make_docx  # tests/ is on sys.path under pytest

    body = (_p("青岚县党管武装工作述职报告") + _p(OPENING) + _p(H1, num=(1, 0)) + _p(BODY1) + _p(H2, num=(1, 0))
            + _p(BODY2) + _p(H3, num=(1, 0)) + _p(BODY3) + _p(PLANS) + _p(CLOSING))
    report = parse_file(make_docx(tmp_path / "r.docx", body))
    assert headings(report) == EXPECTED_HEADINGS
    assert keys(report) == EXPECTED_KEYS


# --------------------------------------------------------------------------- CLI


def test_cli_parse_json(capsys) -> None:
    assert run(["parse", str(SEED), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"title", "year", "region", "sections"}
    assert [s["key"] for s in data["sections"]] == EXPECTED_KEYS
    assert data["sections"][1]["heading"] == "一、立足岗位，不断提升党管武装工作能力素质"
    assert data["sections"][2]["subpoints"][0].startswith("推进民兵改革训练")
    # The old shape plus where each section is in the file and its level-2 children.
    assert set(data["sections"][0]) == {"key", "heading", "level", "subpoints", "text", "start", "end", "line",
                                        "children"}
    text = SEED.read_text("utf-8")
    duty = data["sections"][1]
    assert text[duty["start"]:duty["end"]].startswith(duty["heading"])
    assert text.split("\n")[duty["line"] - 1].startswith(duty["heading"])


def test_cli_parse_outline(capsys) -> None:
    assert run(["parse", str(SEED)]) == 0
    out = capsys.readouterr().out
    assert "[duty/履职] 一、立足岗位，不断提升党管武装工作能力素质" in out
    assert "[plans/下步打算] （无标题）" in out
    assert "· 推进民兵改革训练" in out
    assert out.startswith("标题：（无）\n年度：2022")


def test_cli_parse_missing_file(capsys, tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    assert run(["parse", str(missing)]) == 2      # a path that does not exist is a usage error
    err = capsys.readouterr().err
    assert "找不到" in err and str(missing) in err


# --------------------------------------------------------------------------- region boundary (report_meta)


def _with_opening(opening: str, title: str = "党管武装工作述职报告", rest: str = "") -> Report:
    return parse_text("\n".join([title, opening + "现将履职情况报告如下：", f"一、{H1}", BODY1 + rest, CLOSING]))


@pytest.mark.parametrize(
    ("opening", "region"),
    [
        # Verbs and function words before the name are not part of it.
        ("2023年，我带领澄浦县委一班人扎实推进武装工作。", "澄浦县"),
        ("2023年，我同砚溪县委班子成员一道抓武装。", "砚溪县"),
        ("2023年，我团结带领鹤汀区委一班人抓武装。", "鹤汀区"),
        ("2023年，我作为青石岭县委书记，坚持抓武装。", "青石岭县"),
        ("2023年，在中共岚川县委的领导下，武装工作稳步推进。", "岚川县"),
        ("一年来，青岚县2023年武装工作取得新进展。", "青岚县"),
        # No name at all: generic words before 县 are never a region.
        ("2023年，我认真履行县人武部党委第一书记职责。", None),
        ("2023年，我团结带领县委一班人抓武装。", None),
        ("2023年，全县上下共同努力，县委高度重视武装工作。", None),
        ("2023年，我县各级党组织和本县人武部密切配合。", None),
    ],
)
def test_region_is_a_place_name_never_a_verb_phrase(opening: str, region) -> None:
    assert _with_opening(opening).region == region


def test_region_name_recurring_in_the_text_drops_a_one_off_lead_word() -> None:
    # `依靠` is in no word list: the name is the form that recurs (`澄浦县` four times).
    rest = "澄浦县人武部、澄浦县财政局和澄浦县征兵办共同推进。"
    report = _with_opening("2023年，我紧紧依靠澄浦县委一班人抓武装。", rest=rest)
    assert report.region == "澄浦县"


def test_region_from_the_title_comes_first() -> None:
    assert _with_opening("2023年，我同砚溪县委一道抓武装。", title="澄浦县2023年度党管武装工作述职报告").region == "澄浦县"


def test_region_masked_in_the_body_and_verbs_before_a_generic_county_organ() -> None:
    # The seed's shape: nothing in the opening, `积极助推县人武部` in a heading (a verb, no name),
    # the masked name only in the body.
    text = "\n".join([
        "2022年以来，我认真履行人武部党委第一书记职责。现将履职情况报告如下：",
        "一、夯实基础，积极助推县人武部机关全面建设", "出台了《**县征兵工作20条》。",
        "二、坚持制度，努力推动措施落地", "全力推动**县武装工作再上新台阶。", CLOSING])
    assert parse_text(text).region == "**县"
    assert parse_text(text.replace("**县", "县")).region is None


def test_seed_region_is_masked() -> None:
    assert parse_file(SEED).region == "**县"


# --------------------------------------------------------------------------- byline


@pytest.mark.parametrize(
    ("byline", "region"),
    [
        ("岚川县委书记 林某某", "岚川县"),
        ("岚川县委书记　林某某", "岚川县"),                         # full-width space
        ("砚溪县委书记、县人武部党委第一书记 张某某", "砚溪县"),
        ("鹤汀区委书记  柳岑溪", "鹤汀区"),
        ("霁桥镇党委书记 李某", "霁桥镇"),
    ],
)
def test_byline_under_the_title_is_metadata_not_the_opening(byline: str, region: str) -> None:
    report = parse_text("\n".join(["党管武装工作述职报告", byline, OPENING, f"一、{H1}", BODY1, CLOSING]))
    assert report.title == "党管武装工作述职报告"
    assert report.section("opening").paragraphs == (OPENING,)
    assert all(byline.split()[0][:4] not in p for s in report.sections for p in s.paragraphs)
    assert report.region == region


def test_byline_without_a_title_is_not_taken_for_the_title() -> None:
    report = parse_text("\n".join(["澄浦县委书记 周某某", OPENING, f"一、{H1}", BODY1, CLOSING]))
    assert report.title is None
    assert report.section("opening").paragraphs == (OPENING,)
    assert report.region == "澄浦县"


@pytest.mark.parametrize(
    "line",
    [
        "县委高度重视武装工作",                   # a sentence fragment: no name after an office
        "岚川县委书记",                           # office alone
        "我作为县委书记，主持研究武装工作。",     # sentence punctuation
    ],
)
def test_lines_that_are_no_byline_stay_in_the_opening(line: str) -> None:
    report = parse_text("\n".join(["党管武装工作述职报告", line, OPENING, f"一、{H1}", BODY1, CLOSING]))
    assert report.section("opening").paragraphs == (line, OPENING)


# --------------------------------------------------------------------------- sub-points never open plans

HETING_LIKE = [
    "鹤汀区委书记2023年度党管武装工作述职报告",
    "2023年，我坚持以强军思想为指导，全区武装工作实现新的突破。现将履职情况报告如下：",
    "一、坚持把方向、谋大局，切实履行第一书记职责",
    "（一）思想引领不放松。全年专题学习党管武装理论三次。",
    "（二）统筹决策不缺位。全年召开区委常委会专题研究武装工作四次。",
    "二、坚持建制度、抓落实，推动武装工作提质增效",
    "（一）制度运行更加规范。严格落实军地领导双向兼职制度。",
    "（二）民兵建设更加精准。完成新兴领域民兵整组。",
    "一年来，针对民兵训练场地不足的问题，区委先后三次召开专题会议研究。",
    "（三）协调服务不打折。全年协调解决实际问题12个。",
    "总的看，全区武装工作有了新的进步，但与上级要求相比还有差距。下一步，我将继续努力。",
    CLOSING,
]


def test_sub_point_continuing_the_last_section_is_not_in_the_plans() -> None:
    report = parse_text("\n".join(HETING_LIKE))
    assert keys(report) == ["opening", "duty", "systems", "plans", "closing"]
    systems = report.section("systems")
    assert systems.paragraphs[-1].startswith("（三）协调服务不打折")
    assert systems.subpoints[-1].startswith("协调服务不打折")
    assert report.section("plans").paragraphs == (HETING_LIKE[-2],)


@pytest.mark.parametrize(
    "line",
    [
        "（三）协调服务不打折。虽然训练场地仍有不足，但全年协调解决实际问题12个。",
        "三是协调服务不打折。一年来，虽有困难，但协调解决问题12个，差距正在缩小。",
        "3、下一步工作中继续协调解决实际问题。",
    ],
)
def test_sub_point_line_in_the_last_section_never_opens_the_plans(line: str) -> None:
    lines = HETING_LIKE[:8] + [line] + HETING_LIKE[10:]
    report = parse_text("\n".join(lines))
    assert keys(report) == ["opening", "duty", "systems", "plans", "closing"]
    assert report.section("systems").paragraphs[-1] == line


def test_plans_items_continuing_the_count_stay_in_the_plans() -> None:
    # The plans block lists its own items: they are not the section's sub-points coming back.
    lines = HETING_LIKE[:8] + ["总的看，工作还有差距。下一步，我将抓好以下工作：", "（一）进一步压实责任。",
                               "（二）进一步抓好训练。", "（三）进一步加强国防教育。", CLOSING]
    report = parse_text("\n".join(lines))
    assert keys(report) == ["opening", "duty", "systems", "plans", "closing"]
    assert len(report.section("plans").paragraphs) == 4


# --------------------------------------------------------------------------- the corpus

REPORTS = SEED.parent
CORPUS_REGIONS = {"lanchuan": "岚川县", "chengpu": "澄浦县", "heting": "鹤汀区", "yanxi": "砚溪县"}
CORPUS_FILES = sorted(p for p in REPORTS.iterdir() if p.suffix in (".txt", ".md", ".docx", ".doc"))


def _corpus_expectation(path: Path) -> tuple[int, str]:
    if path == SEED:
        return 2022, "**县"
    pinyin, year = path.stem.split("-")
    return int(year), CORPUS_REGIONS[pinyin]


@pytest.mark.parametrize("path", CORPUS_FILES, ids=[p.name for p in CORPUS_FILES])
def test_corpus_report_year_region_and_sections(path: Path) -> None:
    year, region = _corpus_expectation(path)
    report = parse_file(path)
    assert (report.year, report.region) == (year, region)
    # Level 1; run-in `（一）坚持学在前头。…` sections with bodies that run on are level-2 children.
    assert [s.key for s in report.sections if s.level == 1] == EXPECTED_KEYS
    children = [c for i in range(len(report.sections)) for c in report.children(i)]
    assert children == [i for i, s in enumerate(report.sections) if s.level == 2]
    # No byline, heading or closing formula leaks into the opening.
    opening = report.section("opening")
    assert len(opening.paragraphs) == 1 and not is_speaker_line(opening.paragraphs[0])
    # A sub-point of a numbered section never starts the plans block.
    assert not re.match(r"^(?:[（(][一二三四五六七八九十]+[）)]|\d+[、.．]|[二三四五六七八九十]是)",
                        report.section("plans").paragraphs[0])


def test_corpus_covers_every_region() -> None:
    assert {p.stem.split("-")[0] for p in CORPUS_FILES if p != SEED} == set(CORPUS_REGIONS)


# --------------------------------------------------------------------------- issue 11: levels and layouts

TITLE = "青岚县2023年度党管武装工作述职报告"
RUNS_ON = "全年专题学习4次，撰写体会文章1篇。"


def _levels(report: Report) -> list[tuple[int, str, str]]:
    return [(s.level, s.key, s.heading) for s in report.sections if s.heading]


@pytest.mark.parametrize("opening", [
    ["各位领导：", OPENING[:-1] + "，请予审议。"],
    ["各位领导、同志们：", "下面我就一年来抓武装工作情况作述职，请各位领导和同志们提出意见。", BODY1],
    [BODY1, "根据会议安排，现将本人履职情况汇报如下，请予评议。"],
])
def test_an_opening_formula_that_asks_for_review_never_starts_the_closing(opening: list[str]) -> None:
    report = parse_text("\n".join([TITLE, *opening, f"一、{H1}", BODY1, f"二、{H2}", BODY2, f"三、{H3}", BODY3,
                                   PLANS, "以上述职，请各位领导提出意见。"]))
    assert headings(report) == [f"一、{H1}", f"二、{H2}", f"三、{H3}"]
    assert [s.key for s in report.sections] == ["opening", "duty", "systems", "foundation", "plans", "closing"]
    assert report.section("closing").text == "以上述职，请各位领导提出意见。"


def test_runin_paren_sections_that_run_on_are_level_two_under_their_section() -> None:
    text = "\n".join([
        TITLE, OPENING,
        f"一、{H1}",
        f"（一）坚持理论武装，筑牢思想根基。{RUNS_ON}", "组织乡镇党委书记国防知识轮训210人次。",
        "（二）坚持高位推动。主持召开常委会研究武装工作3次。", "将武装工作纳入党建述职评议。",
        f"二、{H2}",
        "（一）民兵整组扎实规范。编组基干民兵1260人。", "组织集中轮训3批。",
        f"三、{H3}", BODY3, PLANS, CLOSING,
    ])
    report = parse_text(text)
    assert _levels(report) == [
        (1, "duty", f"一、{H1}"), (2, "duty", "（一）坚持理论武装，筑牢思想根基"), (2, "duty", "（二）坚持高位推动"),
        (1, "systems", f"二、{H2}"), (2, "systems", "（一）民兵整组扎实规范"), (1, "foundation", f"三、{H3}"),
    ]
    duty = next(i for i, s in enumerate(report.sections) if s.heading == f"一、{H1}")
    assert [report.sections[i].heading for i in report.children(duty)] == [
        "（一）坚持理论武装，筑牢思想根基", "（二）坚持高位推动"]
    first = report.sections[duty + 1]
    assert first.paragraphs == (RUNS_ON, "组织乡镇党委书记国防知识轮训210人次。")
    data = report.to_json()
    assert data["sections"][duty]["children"] == [duty + 1, duty + 2]
    assert data["sections"][duty + 1]["children"] == []


def test_one_sentence_paren_items_stay_sub_points() -> None:
    text = "\n".join([TITLE, OPENING, f"一、{H1}", "（一）带头学习。全年专题学习4次。", "（二）带头研究。研究武装工作5次。",
                      f"二、{H2}", BODY2, f"三、{H3}", BODY3, CLOSING])
    report = parse_text(text)
    assert headings(report) == [f"一、{H1}", f"二、{H2}", f"三、{H3}"]
    assert report.section("duty").subpoints == ("带头学习。全年专题学习4次。", "带头研究。研究武装工作5次。")


def test_inline_shi_leads_inside_a_paren_item_stay_inside_it() -> None:
    text = "\n".join([TITLE, OPENING, f"一、{H1}",
                      "(一)学习常态化。全年学习4次。一是学原文。集中研读2次。二是谈体会。交流发言。",
                      "(二)研究制度化。研究武装工作3次。", "(三)督导经常化。督导检查2次。", f"二、{H2}", BODY2, CLOSING])
    duty = parse_text(text).section("duty")
    assert [p[:6] for p in duty.subpoints] == ["学习常态化。", "研究制度化。", "督导经常化。"]
    # …and a flattened paragraph of `一是…。二是…。` leads gives one sub-point per lead.
    flat = parse_text("\n".join([TITLE, OPENING, f"一、{H1}", "主要做了三件事：" + BODY2 + "三是强化教育，开展活动12场次。",
                                 CLOSING]))
    assert [p[:4] for p in flat.section("duty").subpoints] == ["推进民兵", "完成征兵", "强化教育"]


@pytest.mark.parametrize("marker", ["1.", "1、", "1．"])
def test_arabic_heading_lines_are_top_level_headings_without_chinese_numbers(marker: str) -> None:
    m = lambda n: marker.replace("1", str(n))  # noqa: E731
    text = "\n".join([TITLE, OPENING, m(1) + H1, BODY1, m(2) + H2, BODY2, m(3) + H3, BODY3, m(4) + "下步工作打算",
                      "下一步，我将继续压实责任。", CLOSING])
    report = parse_text(text)
    assert _levels(report) == [(1, "duty", m(1) + H1), (1, "systems", m(2) + H2), (1, "foundation", m(3) + H3),
                               (1, "plans", m(4) + "下步工作打算")]


def test_arabic_heading_lines_under_chinese_numbers_are_level_two() -> None:
    text = "\n".join([TITLE, OPENING, "一、履职尽责情况", "1、带头学习强军思想", BODY1, "2、带头研究武装工作", BODY1,
                      "二、制度落实情况", BODY2, CLOSING])
    assert _levels(parse_text(text)) == [(1, "duty", "一、履职尽责情况"), (2, "duty", "1、带头学习强军思想"),
                                         (2, "duty", "2、带头研究武装工作"), (1, "systems", "二、制度落实情况")]
    # Run-in `1、…。…` items under `一、` stay sub-points (eval/parse_set/12_arabic_subpoints).
    runin = "\n".join([TITLE, OPENING, f"一、{H1}", "1、坚持学习制度。全年学习4次。", "2、坚持带头宣讲。宣讲3场次。", CLOSING])
    assert headings(parse_text(runin)) == [f"一、{H1}"]


def test_unnumbered_heading_lines_open_sections() -> None:
    text = "\n".join([TITLE, OPENING, "上半年工作回顾", BODY1, "征兵和双拥工作", BODY2, "存在问题及下步打算",
                      "民兵训练场地不足。下一步，我将一是争取建设训练场地；二是配强专武干部。", "以上报告，请批评指正。"])
    report = parse_text(text)
    assert _levels(report) == [(1, "other", "上半年工作回顾"), (1, "systems", "征兵和双拥工作"),
                               (1, "plans", "存在问题及下步打算")]
    assert report.sections[-1].key == "closing"
    # One short line alone is no structure: a report with a single such line keeps it as text.
    single = parse_text("\n".join([TITLE, OPENING, "上半年工作回顾", BODY1, BODY2, CLOSING]))
    assert headings(single) == []


def test_a_flattened_paragraph_of_paren_sections_is_cut_at_each_continuing_marker() -> None:
    long_body = "全年主持县委理论学习中心组专题学习4次，重点学习强军思想和国防动员、民兵建设的重要论述，" \
                "组织乡镇党委书记、部门主要负责同志同步学习，树牢抓武装是本职的理念。同时推动责任层层传导。"
    flat = f"（一）带头学习。{long_body}（二）带头研究。{long_body}（三）带头解决难题。{long_body}"
    report = parse_text("\n".join([TITLE, OPENING, f"一、{H1}", flat, f"二、{H2}", BODY2, CLOSING]))
    assert headings(report) == [f"一、{H1}", "（一）带头学习", "（二）带头研究", "（三）带头解决难题",
                                               f"二、{H2}"]
    # A marker inside a sentence, or one that does not continue the count, stays where it is.
    kept = parse_text("\n".join([TITLE, OPENING, f"一、{H1}", "（一）带头学习。分为（二）个阶段。（三）不接续。", CLOSING]))
    assert headings(kept) == [f"一、{H1}"]
