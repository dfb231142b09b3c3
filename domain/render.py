"""Render a run for each kind of target: Slack mrkdwn, e-mail (HTML + text), plain text, JSON.

Markdown is parsed once with markdown-it-py (CommonMark, raw HTML disabled, so an agent's
output cannot inject markup into an e-mail) and rendered per target. Long outputs are split or
cut to what each target takes, never rejected.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from domain.contract.delivery import DeliveryRun
from domain.delivery import Format
from domain.limits import fit

SLACK_CHUNK = 3000  # Slack truncates past 40,000 and advises 4,000 characters per message
SLACK_MAX_MESSAGES = 10
EMAIL_MAX_CHARS = 500_000
WEBHOOK_MAX_CHARS = 1_000_000
CUT_NOTE = "\n\n… (truncated: the full output is in the run)"


@cache
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def cut(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to ``limit`` characters (note included), and whether it was cut."""
    return fit(text, limit, CUT_NOTE), len(text) > limit


def run_json(run: DeliveryRun) -> dict[str, Any]:
    """The run as the webhook body and the ``json`` format show it."""
    return run.model_dump(mode="json", exclude={"owner"})


def message_source(run: DeliveryRun, fmt: Format) -> str:
    """The message before per-target rendering: Markdown, plain text or JSON text."""
    if fmt == "json":
        return json.dumps(run_json(run), indent=2, ensure_ascii=False)
    body = run.output if run.output else (run.error or "(no output)")
    if fmt == "markdown":
        return f"**{_md_escape(run.job_name)}**\n\n{body}"
    return f"{run.job_name}\n\n{body}"


def subject(run: DeliveryRun) -> str:
    """An e-mail subject / notification title (one line)."""
    title = " ".join(run.job_name.split())
    return f"{title} ({run.status})"[:200]


# ---------------------------------------------------------------------------------------------
# Slack


@dataclass(frozen=True)
class SlackMessages:
    """The texts to post, in order, and whether ``mrkdwn`` applies."""

    texts: list[str]
    mrkdwn: bool
    truncated: bool


def slack_messages(run: DeliveryRun, fmt: Format) -> SlackMessages:
    """The Slack messages of a run: the first goes to the channel, the rest in its thread."""
    source = message_source(run, fmt)
    if fmt == "markdown":
        text, mrkdwn = to_mrkdwn(source), True
    elif fmt == "json":
        text, mrkdwn = source, True
    else:
        text, mrkdwn = slack_escape(source), False
    chunks = split_text(text, SLACK_CHUNK - 8 if fmt == "json" else SLACK_CHUNK)
    truncated = len(chunks) > SLACK_MAX_MESSAGES
    if truncated:
        chunks = chunks[:SLACK_MAX_MESSAGES]
        chunks[-1] = chunks[-1][: SLACK_CHUNK - len(CUT_NOTE) - 8] + CUT_NOTE
    if fmt == "json":
        chunks = [f"```{slack_escape(chunk)}```" for chunk in chunks]
    return SlackMessages(chunks, mrkdwn, truncated)


def slack_escape(text: str) -> str:
    """Escape the three characters Slack reserves."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def split_text(text: str, size: int) -> list[str]:
    """Split at line (else word, else hard) boundaries into chunks of at most ``size``."""
    chunks: list[str] = []
    rest = text
    while len(rest) > size:
        window = rest[:size]
        at = window.rfind("\n")
        if at < size // 2:
            at = window.rfind(" ")
        if at < size // 2:
            at = size
            # Not inside an entity of slack_escape ("&amp;" is the longest, 5 characters).
            amp = window.rfind("&", size - 4)
            if amp > 0 and ";" not in window[amp:]:
                at = amp
        chunks.append(rest[:at].rstrip())
        # Drop the break itself, not the next line's indentation (nested lists, code).
        rest = rest[at:].lstrip(" ").lstrip("\n")
    chunks.append(rest)
    return [chunk for chunk in chunks if chunk.strip()] or [""]


def to_mrkdwn(source: str) -> str:
    """Markdown → Slack mrkdwn (bold, italics, strike, code, links, lists, quotes, headings)."""
    return _Mrkdwn().render(_markdown().parse(source)).strip()


class _Mrkdwn:
    def __init__(self) -> None:
        self.out: list[str] = []
        self.lists: list[list[int | None]] = []  # per open list: [next number or None]
        self.quote = 0
        self.heading = False  # a heading is bold already: "**" inside it would close it
        self.columns = 0  # cells in the table row being written

    def render(self, tokens: list[Token]) -> str:
        for token in tokens:
            self.block(token)
        return "".join(self.out)

    def _prefix(self) -> str:
        return "> " * self.quote

    def block(self, token: Token) -> None:
        kind = token.type
        if kind == "inline":
            self.out.append(self.inline(token.children or []))
        elif kind == "paragraph_close":
            self.out.append("\n" if self.lists else "\n\n")
        elif kind == "paragraph_open" and not self.lists:
            self.out.append(self._prefix())
        elif kind == "heading_open":
            self.out.append(self._prefix() + "*")
            self.heading = True
        elif kind == "heading_close":
            self.out.append("*\n\n")
            self.heading = False
        elif kind in ("bullet_list_open", "ordered_list_open"):
            start = int(token.attrs.get("start", 1) or 1) if kind == "ordered_list_open" else None
            self.lists.append([start])
        elif kind in ("bullet_list_close", "ordered_list_close"):
            self.lists.pop()
            if not self.lists:
                self.out.append("\n")
        elif kind == "list_item_open":
            state = self.lists[-1]
            indent = "    " * (len(self.lists) - 1)
            if state[0] is None:
                marker = "•"
            else:
                marker = f"{state[0]}."
                state[0] += 1
            self.out.append(f"{self._prefix()}{indent}{marker} ")
        elif kind == "blockquote_open":
            self.quote += 1
        elif kind == "blockquote_close":
            self.quote -= 1
        elif kind in ("fence", "code_block"):
            self.out.append(f"```\n{slack_escape(token.content)}```\n\n")
        elif kind == "hr":
            self.out.append("──────────\n\n")
        elif kind == "tr_close":
            self.out.append("|\n")
        elif kind == "thead_close":  # the |---| rule that makes the rows read as a table
            self.out.append("| --- " * self.columns + "|\n")
        elif kind == "tr_open":
            self.columns = 0
        elif kind in ("th_open", "td_open"):
            self.columns += 1
            self.out.append("| ")
        elif kind in ("th_close", "td_close"):
            self.out.append(" ")
        elif kind == "table_close":
            self.out.append("\n")

    def inline(self, children: list[Token]) -> str:
        parts: list[str] = []
        href: list[str] = []
        for child in children:
            kind = child.type
            if kind == "text":
                parts.append(slack_escape(child.content))
            elif kind in ("strong_open", "strong_close"):
                if not self.heading:
                    parts.append("*")
            elif kind in ("em_open", "em_close"):
                parts.append("_")
            elif kind in ("s_open", "s_close"):
                parts.append("~")
            elif kind == "code_inline":
                parts.append(f"`{slack_escape(child.content)}`")
            elif kind in ("softbreak", "hardbreak"):
                parts.append("\n" + self._prefix())  # each line of a quote is quoted
            elif kind == "link_open":
                href.append(str(child.attrs.get("href", "")))
                parts.append(f"<{_slack_url(href[-1])}|")
            elif kind == "link_close":
                href.pop()
                parts.append(">")
            elif kind == "image":
                src = _slack_url(str(child.attrs.get("src", "")))
                parts.append(f"<{src}|{slack_escape(child.content or src)}>")
        return "".join(parts)


def _slack_url(url: str) -> str:
    # "&" stays a control character inside <url|text>: Slack reads "&amp;" back as "&".
    return url.replace("&", "&amp;").replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")


def _md_escape(text: str) -> str:
    return "".join("\\" + c if c in "\\`*_[]<>#" else c for c in text)


# ---------------------------------------------------------------------------------------------
# E-mail and notification services


@dataclass(frozen=True)
class EmailParts:
    """Subject, plain-text part and HTML part of an e-mail."""

    subject: str
    text: str
    html: str
    truncated: bool


def email_parts(run: DeliveryRun, fmt: Format) -> EmailParts:
    """The e-mail of a run: Markdown rendered to HTML, the source kept as the text part."""
    source, truncated = cut(message_source(run, fmt), EMAIL_MAX_CHARS)
    if fmt == "markdown":
        body = _markdown().render(source)
    else:
        body = f"<pre>{html.escape(source)}</pre>"
    page = (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>{html.escape(subject(run))}</title></head>"
        f'<body style="font-family: sans-serif">{body}</body></html>'
    )
    return EmailParts(subject(run), source, page, truncated)
