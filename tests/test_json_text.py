"""pipeline.output.json_text.dumps_indented against json.dumps(ensure_ascii=False, indent=2)."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from pathlib import Path

import pytest

from pipeline.output.json_text import dumps_indented

GOLDEN = Path(__file__).resolve().parent / "golden"


def _reference(obj) -> str:  # noqa: ANN001
    return json.dumps(obj, ensure_ascii=False, indent=2)


def _random_value(rng: random.Random, depth: int = 0):  # noqa: ANN202
    leaves = [None, True, False, 0, -7, 2**70, 1.5, -0.0, 1e-7, 3.0e21, "", "民兵", "a\"b\\c\n\t\u2028\x01", "😀", "县&<>"]
    if depth > 3 or rng.random() < 0.4:
        return rng.choice(leaves)
    if rng.random() < 0.5:
        return {rng.choice(["k", "键", "a b", "", "\n"]) + str(i): _random_value(rng, depth + 1) for i in range(rng.randint(0, 4))}
    items = [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return tuple(items) if rng.random() < 0.3 else items


def test_random_structures_are_written_as_json_writes_them() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        value = _random_value(rng)
        assert dumps_indented(value) == _reference(value)


def test_a_draft_json_is_written_as_json_writes_it() -> None:
    from pipeline.drafting.draft import draft_report
    from pipeline.facts.metrics import load_metrics

    data = draft_report(load_metrics(GOLDEN / "qinglan-2024.yaml")).to_json()
    assert dumps_indented(data) == _reference(data)


@pytest.mark.parametrize("value", [{1: "x"}, {"n": float("nan")}, [float("inf")], {"d": Decimal("1.5")}, {"s": {1, 2}},
                                   {True: 1}, [b"x"]])
def test_anything_else_is_json_dumps_own_answer(value) -> None:  # noqa: ANN001
    try:
        expected = _reference(value)
    except TypeError as exc:
        with pytest.raises(TypeError, match=str(exc)[:20]):
            dumps_indented(value)
        return
    assert dumps_indented(value) == expected
