"""Rule-based Chinese sentence boundaries for report text.

A sentence ends at 。！？； (and their half-width forms !?;) or at a line end. A terminator inside
“…” ‘…’ 《…》 （…） (...) 「…」 does not end a sentence: quoted honours and document titles often
hold their own 。. Closing quotes and brackets right after a terminator stay with the sentence
(`他说：“好。”` is one sentence). One pass over the characters, no regex backtracking, so it is
fast enough to run on every chunk at ingest.
"""

from __future__ import annotations

TERMINATORS = frozenset("。！？；!?;")
# A run like `！？` or `……。` ends once; ellipsis alone does not end a sentence.
_OPEN_TO_CLOSE = {"“": "”", "‘": "’", "《": "》", "（": "）", "(": ")", "「": "」", "『": "』", "〈": "〉"}
_CLOSERS = frozenset(_OPEN_TO_CLOSE.values()) | {'"', "'"}
_QUOTE_CLOSERS = frozenset("”’」』")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans `(start, end)` in `text`, end exclusive, whitespace-only spans skipped.

    Leading and trailing whitespace of each sentence is trimmed from its span.
    """
    spans: list[tuple[int, int]] = []
    n = len(text)
    start = 0
    stack: list[str] = []
    i = 0
    while i < n:
        ch = text[i]
        if ch == "\n":
            _emit(text, start, i, spans)
            stack.clear()          # brackets never span lines: a stray opener is forgotten
            start = i + 1
            i += 1
            continue
        if ch in _OPEN_TO_CLOSE:
            stack.append(_OPEN_TO_CLOSE[ch])
        elif stack and ch == stack[-1]:
            stack.pop()
        elif ch in _CLOSERS and stack and ch in stack:
            # A mismatched closer (`《…“…》`): unwind to the matching opener.
            while stack and stack.pop() != ch:
                pass
        elif ch in TERMINATORS and stack:
            # `“…完毕。”` — a quotation that ends with its own terminator ends the sentence too.
            end = i + 1
            while end < n and text[end] in TERMINATORS:
                end += 1
            pending = list(stack)
            while end < n and pending and text[end] == pending[-1] and text[end] in _QUOTE_CLOSERS:
                pending.pop()
                end += 1
            if not pending:
                stack.clear()
                _emit(text, start, end, spans)
                start = end
                i = end
                continue
            i = end
            continue
        elif ch in TERMINATORS:
            end = i + 1
            while end < n and text[end] in TERMINATORS:
                end += 1
            while end < n and text[end] in _CLOSERS and text[end] != "\n":
                end += 1
            _emit(text, start, end, spans)
            start = end
            i = end
            continue
        i += 1
    _emit(text, start, n, spans)
    return spans


def _emit(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


def sentences(text: str) -> list[str]:
    """The sentence strings of `text` (convenience over `split_sentences`)."""
    return [text[s:e] for s, e in split_sentences(text)]
