"""The streaming fence splitter: prose out at once, scanned blocks held whole, nothing lost or reordered."""

from __future__ import annotations

import random

import pytest

from bluecodeagent.server.fences import Block, FenceSplitter

ANSWER = (
    "Here is a helper:\n\n"
    "```python\nimport os\n\n\ndef ping(host):\n    os.system('ping ' + host)\n```\n"
    "And in the shell:\n"
    "```bash\nping -c 1 example.org\n```\n"
    "Inline ``` is not a fence. Done.\n"
    "~~~\nprint('tilde')\n~~~\n"
)


def _run(splitter: FenceSplitter, parts: list[str]) -> list[str | Block]:
    out: list[str | Block] = []
    for p in parts:
        out += splitter.feed(p)
    return out + splitter.close()


def _text(pieces: list[str | Block]) -> str:
    return "".join(p.text if isinstance(p, Block) else p for p in pieces)


def test_whole_answer() -> None:
    pieces = _run(FenceSplitter(), [ANSWER])
    blocks = [p for p in pieces if isinstance(p, Block)]
    assert [b.language for b in blocks] == ["python", ""]  # the bash block streams through as prose
    assert blocks[0].code == "import os\n\n\ndef ping(host):\n    os.system('ping ' + host)\n"
    assert blocks[0].closed and blocks[0].text.startswith("```python\n") and blocks[0].text.endswith("```\n")
    assert blocks[1].code == "print('tilde')\n"
    assert _text(pieces) == ANSWER


@pytest.mark.parametrize("seed", range(25))
def test_any_chunking_gives_the_same_pieces(seed: int) -> None:
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(ANSWER)), rng.randint(1, 60)))
    parts = [ANSWER[a:b] for a, b in zip([0, *cuts], [*cuts, len(ANSWER)], strict=True)]
    pieces = _run(FenceSplitter(), parts)
    assert _text(pieces) == ANSWER
    assert [p for p in pieces if isinstance(p, Block)] == [
        p for p in _run(FenceSplitter(), [ANSWER]) if isinstance(p, Block)
    ]


def test_prose_is_released_before_the_line_ends_and_code_is_held() -> None:
    s = FenceSplitter()
    assert s.feed("To ping a ho") == ["To ping a ho"]
    assert s.feed("st:\n``") == ["st:\n"]  # a line starting with backticks may become a fence: held
    assert s.feed("`py\nimport os\nos.sys") == []
    assert s.feed("tem(x)\n") == []
    out = s.feed("```\nafter")
    assert isinstance(out[0], Block) and out[0].code == "import os\nos.system(x)\n" and out[1:] == ["after"]


def test_unterminated_block_comes_out_unclosed_at_the_end() -> None:
    s = FenceSplitter()
    assert s.feed("```python\nimport os\nos.system(x)") == []
    (block,) = s.close()
    assert isinstance(block, Block) and not block.closed and block.code == "import os\nos.system(x)"


def test_closing_fence_must_match() -> None:
    text = "````python\nx = '```'\n```\ny = 1\n````\nend\n"
    pieces = _run(FenceSplitter(), [text])
    assert isinstance(pieces[0], Block) and pieces[0].code == "x = '```'\n```\ny = 1\n" and pieces[1] == "end\n"
