from __future__ import annotations

import pytest

from pipeline.reading.sentences import sentences, split_sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("一是推进改革。二是完成任务！三是做好保障？", ["一是推进改革。", "二是完成任务！", "三是做好保障？"]),
        ("编组民兵；开展训练。", ["编组民兵；", "开展训练。"]),
        # Terminators inside quotes, titles and brackets do not end a sentence.
        ("被评为“先进单位。标兵单位”。下一句。", ["被评为“先进单位。标兵单位”。", "下一句。"]),
        ("出台了《措施。细则》等文件。完。", ["出台了《措施。细则》等文件。", "完。"]),
        ("乡镇（街道。社区）共十个。完。", ["乡镇（街道。社区）共十个。", "完。"]),
        ("半角(括号。内)不断。完。", ["半角(括号。内)不断。", "完。"]),
        # A closing quote right after the terminator stays with its sentence.
        ("他说：“我的述职完毕。”请批评指正。", ["他说：“我的述职完毕。”", "请批评指正。"]),
        ("“我们一定完成任务！”大家表态。", ["“我们一定完成任务！”", "大家表态。"]),
        # Line ends close a sentence even without punctuation; a stray opener is forgotten at the line end.
        ("一、立足岗位\n作为第一书记，我始终坚持。", ["一、立足岗位", "作为第一书记，我始终坚持。"]),
        ("标题“未闭合\n下一行。完。", ["标题“未闭合", "下一行。", "完。"]),
        ("连续标点！？后面。", ["连续标点！？", "后面。"]),
        ("没有结尾标点", ["没有结尾标点"]),
        ("", []),
        ("  \n\n  ", []),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_spans_are_offsets_into_the_text_and_trimmed() -> None:
    text = "  第一句。  第二句。\n 第三句 "
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == ["第一句。", "第二句。", "第三句"]
    assert spans[0] == (2, 6)
    for start, end in spans:
        assert not text[start].isspace() and not text[end - 1].isspace()


def test_seed_sentences_cover_every_non_space_character(corpus_dir) -> None:
    text = (corpus_dir / "reports" / "000_82892d5cb8a93b68.txt").read_text(encoding="utf-8")
    spans = split_sentences(text)
    covered = [0] * len(text)
    for s, e in spans:
        for k in range(s, e):
            covered[k] += 1
    assert max(covered) == 1
    assert all(covered[k] == 1 for k, c in enumerate(text) if not c.isspace())
    assert any(text[s:e] == "我的述职完毕，不妥之处，请各位领导批评指正。" for s, e in spans)
    # 《**县征兵工作20条措施》 and “五率” never split a sentence.
    for s, e in spans:
        piece = text[s:e]
        assert piece.count("《") == piece.count("》")
        assert piece.count("“") == piece.count("”")
