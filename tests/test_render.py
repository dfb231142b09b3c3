"""Rendering for targets (docs/api.md, "Jobs"): Markdown → Slack mrkdwn, message splitting,
cutting."""

from __future__ import annotations

import pytest

from domain.contract.delivery import DeliveryRun
from domain.render import (
    CUT_NOTE,
    SLACK_CHUNK,
    SLACK_MAX_MESSAGES,
    cut,
    email_parts,
    slack_messages,
    split_text,
    to_mrkdwn,
)


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        ("**bold** and __bold__", "*bold* and *bold*"),
        ("*italics* and _italics_", "_italics_ and _italics_"),
        ("***both***", "_*both*_"),
        ("*emphasis with **bold** inside*", "_emphasis with *bold* inside_"),
        ("~~gone~~", "~gone~"),
        ("snake_case_name stays", "snake_case_name stays"),
        ("line one\nline two", "line one\nline two"),
        ("hard  \nbreak", "hard\nbreak"),
    ],
)
def test_inline_emphasis(markdown: str, mrkdwn: str) -> None:
    assert to_mrkdwn(markdown) == mrkdwn


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        ("[the docs](https://example.com/docs)", "<https://example.com/docs|the docs>"),
        ("see <https://example.com>", "see <https://example.com|https://example.com>"),
        ("<ops@example.com>", "<mailto:ops@example.com|ops@example.com>"),
        ("**[bold link](https://x.io)**", "*<https://x.io|bold link>*"),
        ("[a & b](https://x.io)", "<https://x.io|a &amp; b>"),
        # Slack splits a link at its first "|" and ends it at ">": both are encoded in the URL.
        ("[pipe](https://x.io/a|b>c)", "<https://x.io/a%7Cb%3Ec|pipe>"),
        # "&" is a control character inside a link too; Slack reads "&amp;" back as "&".
        ("[q](https://x.io/?a=1&b=2)", "<https://x.io/?a=1&amp;b=2|q>"),
        ("![a chart](https://x.io/c.png)", "<https://x.io/c.png|a chart>"),
    ],
)
def test_links(markdown: str, mrkdwn: str) -> None:
    assert to_mrkdwn(markdown) == mrkdwn


def test_headings_are_bold_lines() -> None:
    assert to_mrkdwn("# Report\n\nBody") == "*Report*\n\nBody"
    assert to_mrkdwn("## Up _today_") == "*Up _today_*"
    # Already bold: a bold word inside must not close the heading's own "*".
    assert to_mrkdwn("## Prices **up**") == "*Prices up*"


def test_inline_code_and_code_blocks_are_kept_and_escaped() -> None:
    assert to_mrkdwn("run `make **all**` now") == "run `make **all**` now"
    assert to_mrkdwn("`a < b && c`") == "`a &lt; b &amp;&amp; c`"
    fenced = "```python\nif a < b:\n    **x** = 1\n```"
    assert to_mrkdwn(fenced) == "```\nif a &lt; b:\n    **x** = 1\n```"
    indented = "Before\n\n    code & more\n\nAfter"
    assert to_mrkdwn(indented) == "Before\n\n```\ncode &amp; more\n```\n\nAfter"


def test_lists() -> None:
    assert to_mrkdwn("- one\n- two\n  - nested\n- three") == ("• one\n• two\n    • nested\n• three")
    assert to_mrkdwn("1. first\n2. second") == "1. first\n2. second"
    assert to_mrkdwn("3. three\n4. four") == "3. three\n4. four"
    assert to_mrkdwn("Items:\n\n* **a**\n* b\n\nDone") == "Items:\n\n• *a*\n• b\n\nDone"


def test_quotes_quote_every_line() -> None:
    assert to_mrkdwn("> said\n> twice\n\nafter") == "> said\n> twice\n\nafter"
    assert to_mrkdwn("> - a\n> - b") == "> • a\n> • b"


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        ("a & b < c > d", "a &amp; b &lt; c &gt; d"),
        # Entities are decoded by the Markdown parser, then escaped once for Slack.
        ("&lt;tag&gt; &amp; &copy;", "&lt;tag&gt; &amp; ©"),
        # Raw HTML is text, never markup, and no Slack control sequence gets through.
        ("<b>bold?</b>", "&lt;b&gt;bold?&lt;/b&gt;"),
        ("<!channel> <@U123>", "&lt;!channel&gt; &lt;@U123&gt;"),
        ("<div>\nblock\n</div>", "&lt;div&gt;\nblock\n&lt;/div&gt;"),
    ],
)
def test_slack_control_characters_are_escaped(markdown: str, mrkdwn: str) -> None:
    assert to_mrkdwn(markdown) == mrkdwn


def test_rules_and_tables_stay_readable() -> None:
    assert to_mrkdwn("above\n\n---\n\nbelow") == "above\n\n──────────\n\nbelow"
    table = "| a | b |\n|---|---|\n| 1 | 2 |"
    assert to_mrkdwn(table) == "| a | b |\n| --- | --- |\n| 1 | 2 |"


def test_empty_markdown_is_empty() -> None:
    assert to_mrkdwn("") == "" and to_mrkdwn("\n\n") == ""


# ---------------------------------------------------------------------------------------------
# split_text


def test_split_keeps_text_that_fits() -> None:
    assert split_text("", 10) == [""]
    assert split_text("exactly 10", 10) == ["exactly 10"]


def test_split_prefers_lines_then_words_then_a_hard_cut() -> None:
    # A newline in the second half of the window wins over a later space.
    assert split_text("first line\nsecond line", 16) == ["first line", "second line"]
    # A newline in the first half does not: the last space is used instead.
    assert split_text("ab\ncdef ghij klmn", 13) == ["ab\ncdef ghij", "klmn"]
    # No break in the second half: cut at the size.
    assert split_text("abcdefghij" * 3, 10) == ["abcdefghij"] * 3
    assert split_text("ab " + "c" * 12, 10) == ["ab ccccccc", "ccccc"]


def test_split_boundaries_and_sizes() -> None:
    size = 10
    assert split_text("a" * size + "b", size) == ["a" * size, "b"]
    assert split_text("a" * (size - 1) + "\nb", size) == ["a" * (size - 1), "b"]
    text = " ".join(f"w{n}" for n in range(200))
    chunks = split_text(text, 37)
    assert all(0 < len(chunk) <= 37 for chunk in chunks)
    assert " ".join(chunks) == text


def test_split_drops_the_break_but_keeps_indentation() -> None:
    assert split_text("• first\n    • nested", 12) == ["• first", "    • nested"]
    assert split_text("words   \n\n\nnext", 8) == ["words", "next"]
    assert split_text("a" * 10 + "\n   ", 10) == ["a" * 10]


def test_split_never_cuts_an_entity() -> None:
    # 8 characters then "&amp;": a hard cut at 10 would leave "&a" and "mp;".
    chunks = split_text("x" * 8 + "&amp;" * 3, 10)
    assert chunks == ["x" * 8, "&amp;&amp;", "&amp;"]
    assert split_text("xxxxx&lt;y", 8) == ["xxxxx", "&lt;y"]


# ---------------------------------------------------------------------------------------------
# cut


def test_cut_boundaries() -> None:
    limit = len(CUT_NOTE) + 10
    assert cut("x" * limit, limit) == ("x" * limit, False)
    text, truncated = cut("x" * (limit + 1), limit)
    assert truncated and text == "x" * 10 + CUT_NOTE and len(text) == limit
    assert cut("", 0) == ("", False)
    # A limit shorter than the note itself still holds.
    text, truncated = cut("x" * 100, 5)
    assert truncated and text == CUT_NOTE[:5]


# ---------------------------------------------------------------------------------------------
# per target


def run(output: str, name: str) -> DeliveryRun:
    return DeliveryRun(
        run_id="r1", job_id="j1", job_name=name, owner="alice", status="completed", output=output
    )


def test_slack_messages_of_markdown_runs() -> None:
    messages = slack_messages(run("Prices are **up** & <b>fine</b>", "Daily #1 <ops>"), "markdown")
    assert messages.mrkdwn and not messages.truncated
    # The job name, in bold, is text, not Markdown: no heading, and its "<" is escaped.
    assert messages.texts == [
        "*Daily #1 &lt;ops&gt;*\n\nPrices are *up* &amp; &lt;b&gt;fine&lt;/b&gt;"
    ]


def test_slack_messages_are_capped_and_say_so() -> None:
    line = "a line of the report\n"
    messages = slack_messages(run(line * 10_000, name="Long"), "text")
    assert not messages.mrkdwn and messages.truncated
    assert len(messages.texts) == SLACK_MAX_MESSAGES
    assert all(len(text) <= SLACK_CHUNK for text in messages.texts)
    assert messages.texts[-1].endswith(CUT_NOTE)


def test_email_parts_render_markdown_as_html_without_raw_html() -> None:
    parts = email_parts(run("# Today\n\n**up** <script>x</script>", name="Digest"), "markdown")
    assert parts.subject == "Digest (completed)" and not parts.truncated
    assert parts.text == "**Digest**\n\n# Today\n\n**up** <script>x</script>"
    assert "<h1>Today</h1>" in parts.html and "<strong>up</strong>" in parts.html
    assert "<script>" not in parts.html and "&lt;script&gt;" in parts.html
    plain = email_parts(run("a < b", name="Digest"), "text")
    assert "<pre>Digest\n\na &lt; b</pre>" in plain.html
