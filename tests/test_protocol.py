"""protocol.py and its twin for the pages, web/static/shared/protocol.js, name the same words.

Also: no page writes a close code as a bare number or a message type as a bare string, so a
code or a type changes in exactly two places, and the first test below says when they differ.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import pytest

from rollcall import protocol

STATIC = Path(protocol.__file__).parent / "web" / "static"
PROTOCOL_JS = STATIC / "shared" / "protocol.js"
TWINS: list[type[Enum]] = [
    protocol.Close,
    protocol.HostMessage,
    protocol.ServerMessage,
    protocol.ClientMessage,
    protocol.Role,
]

# --- reading protocol.js

FROZEN = re.compile(r"export const (\w+) = Object\.freeze\(\{(.*?)\}\);", re.DOTALL)
MEMBER = re.compile(r'(\w+): (\d+|"[^"\\]*"),?')
CONSTANT = re.compile(r"export const (\w+) = (\d+(?:\.\d+)?);")


def _without_comments(source: str) -> str:
    source = re.sub(r"/\*.*?\*/", "", source, flags=re.DOTALL)
    return re.sub(r"//[^\n]*", "", source)


def frozen_objects(source: str) -> dict[str, dict[str, int | str]]:
    """Each `export const NAME = Object.freeze({ KEY: value, ... });` as {NAME: {KEY: value}}.

    A line in a block that is not `KEY: number` or `KEY: "string"` fails, so nothing is skipped.
    """
    objects: dict[str, dict[str, int | str]] = {}
    for block in FROZEN.finditer(_without_comments(source)):
        members: dict[str, int | str] = {}
        for line in filter(None, (line.strip() for line in block.group(2).splitlines())):
            matched = MEMBER.fullmatch(line)
            assert matched, f"{block.group(1)}: cannot read {line!r}"
            name, value = matched.groups()
            assert name not in members, f"{block.group(1)}.{name} is defined twice"
            members[name] = json.loads(value)
        objects[block.group(1)] = members
    return objects


def test_protocol_js_defines_each_enum_of_protocol_py_and_nothing_else() -> None:
    objects = frozen_objects(PROTOCOL_JS.read_text(encoding="utf-8"))
    assert sorted(objects) == sorted(enum.__name__ for enum in TWINS)


@pytest.mark.parametrize("enum", TWINS, ids=lambda enum: enum.__name__)
def test_protocol_js_names_the_same_members_with_the_same_values(enum: type[Enum]) -> None:
    objects = frozen_objects(PROTOCOL_JS.read_text(encoding="utf-8"))
    assert objects[enum.__name__] == {member.name: member.value for member in enum}


def test_protocol_js_has_the_same_hello_timeout() -> None:
    constants = dict(CONSTANT.findall(PROTOCOL_JS.read_text(encoding="utf-8")))
    assert float(constants["HELLO_TIMEOUT_S"]) == protocol.HELLO_TIMEOUT_S


# --- finding bare codes and types in the pages

# RFC 6455's codes and the private range 4000-4999, whether protocol.py names them yet or not.
CODE = r"(?:10(?:0\d|1[0-5])|4\d{3})"
CLOSE_CODE_USES = [
    re.compile(rf"[=!]==?\s*{CODE}\b"),  # closeCode === 4403
    re.compile(rf"\b{CODE}\s*[=!]==?"),  # 4403 === closeCode
    re.compile(rf"\bcase\s+{CODE}\s*:"),  # case 4403:
    re.compile(rf"\.(?:close|has|includes|indexOf)\(\s*{CODE}\b"),  # ws.close(1000), set.has(4401)
    re.compile(rf"\b\w*[cC]odes?\s*[:=]\s*{CODE}\b"),  # closeCode = 4401, code: 4410
    re.compile(rf"\[\s*(?:\d+\s*,\s*)*{CODE}\s*(?:,\s*\d+\s*)*,?\s*\]"),  # [4401, 4403]
]
HOST_TYPES = {member.value for member in protocol.HostMessage}
WORD_TYPES = {member.value for member in (*protocol.ServerMessage, *protocol.ClientMessage)}
ROLES = {member.value for member in protocol.Role}
# Where a string is a message type or a role: `type: S`, `message.type === S`, `S === x.type`,
# `role: S`. A `case S:` counts when its switch is on a `type`.
TYPE_USES = [
    re.compile(r"\btype\s*:\s*(STR\d+)"),
    re.compile(r"\btype\s*[=!]==?\s*(STR\d+)"),
    re.compile(r"(STR\d+)\s*[=!]==?\s*[\w.?]*\btype\b"),
]
ROLE_USES = [
    re.compile(r"\brole\s*:\s*(STR\d+)"),
    re.compile(r"\brole\s*[=!]==?\s*(STR\d+)"),
]
CASE = re.compile(r"\bcase\s+(STR\d+)\s*:")
SWITCH = re.compile(r"\bswitch\s*\(([^)]*)\)")
# A `/` starts a regular expression (not a division) after one of these, or at the start.
REGEX_MAY_FOLLOW = set("(,=:[!&|?{};+-*%<>~^") | {""}


@dataclass
class Scanned:
    """A script with its comments blanked, each regular expression replaced by REGEX, each
    string literal (and template literal without ${}) by STR<n>, its text in `strings[n]`."""

    code: str
    strings: list[str] = field(default_factory=list)


class _Scanner:
    def __init__(self, source: str) -> None:
        self.source = source
        self.at = 0
        self.out: list[str] = []
        self.strings: list[str] = []
        self.last = ""  # the last character of code written, spaces aside

    def emit(self, text: str) -> None:
        self.out.append(text)
        if text.strip():
            self.last = text.strip()[-1]

    def code(self, *, until_brace: bool = False) -> None:
        depth = 0
        while self.at < len(self.source):
            char = self.source[self.at]
            if self.source.startswith("//", self.at):
                newline = self.source.find("\n", self.at)
                self.at = len(self.source) if newline < 0 else newline
            elif self.source.startswith("/*", self.at):
                self.at = self.source.index("*/", self.at + 2) + 2
                self.out.append(" ")
            elif char in "\"'":
                self.string(char)
            elif char == "`":
                self.template()
            elif char == "/" and (
                self.last in REGEX_MAY_FOLLOW or "".join(self.out).endswith("return ")
            ):
                self.regex()
            else:
                if until_brace and char == "{":
                    depth += 1
                elif until_brace and char == "}":
                    if depth == 0:
                        self.at += 1
                        return
                    depth -= 1
                self.emit(char)
                self.at += 1

    def string(self, quote: str) -> None:
        end = self.at + 1
        while self.source[end] != quote:
            end += 2 if self.source[end] == "\\" else 1
        self.literal(self.source[self.at + 1 : end])
        self.at = end + 1

    def template(self) -> None:
        self.at += 1
        start, plain = self.at, True
        while self.source[self.at] != "`":
            if self.source[self.at] == "\\":
                self.at += 2
            elif self.source.startswith("${", self.at):
                plain = False
                self.at += 2
                self.emit(" (")
                self.code(until_brace=True)
                self.emit(") ")
            else:
                self.at += 1
        if plain:
            self.literal(self.source[start : self.at])
        self.at += 1

    def regex(self) -> None:
        end, in_class = self.at + 1, False
        while in_class or self.source[end] != "/":
            if self.source[end] == "\\":
                end += 1
            elif self.source[end] in "[]":
                in_class = self.source[end] == "["
            end += 1
        self.at = end + 1
        self.emit("REGEX")

    def literal(self, text: str) -> None:
        self.emit(f"STR{len(self.strings)}")
        self.strings.append(text)


def scan(source: str) -> Scanned:
    scanner = _Scanner(source)
    scanner.code()
    return Scanned("".join(scanner.out), scanner.strings)


def bare_words(source: str) -> list[str]:
    """Each close code or message type `source` writes bare instead of naming it."""
    scanned = scan(source)

    def literals(pattern: re.Pattern[str]) -> list[str]:
        return [scanned.strings[int(use.group(1)[3:])] for use in pattern.finditer(scanned.code)]

    found = [use.group(0) for pattern in CLOSE_CODE_USES for use in pattern.finditer(scanned.code)]
    found += [text for text in scanned.strings if text in HOST_TYPES]
    found += [text for pattern in TYPE_USES for text in literals(pattern) if text in WORD_TYPES]
    found += [text for pattern in ROLE_USES for text in literals(pattern) if text in ROLES]
    for case in CASE.finditer(scanned.code):
        switch = list(SWITCH.finditer(scanned.code, 0, case.start()))[-1:]
        text = scanned.strings[int(case.group(1)[3:])]
        if switch and switch[0].group(1).strip().endswith("type") and text in WORD_TYPES:
            found.append(text)
    return found


def page_scripts() -> list[Path]:
    return sorted(path for path in STATIC.rglob("*.js") if path != PROTOCOL_JS)


def test_the_pages_have_scripts_to_check() -> None:
    assert len(page_scripts()) > 10


@pytest.mark.parametrize("path", page_scripts(), ids=lambda path: str(path.relative_to(STATIC)))
def test_a_page_names_close_codes_and_message_types_from_protocol_js(path: Path) -> None:
    assert bare_words(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "line",
    [
        "if (closeCode === 4403) return showKicked();",
        "if (4410 == event.code) stop();",
        "ws.close(1000);",
        "const FINAL_CLOSES = [4401, 4403, 4404];",
        "const RESTART = [1001, 1012];",
        "new Set([4409]).has(code);",
        "switch (closeCode) { case 4401: break; }",
        "finalCodes: [4401, 4410],",
        "const code = 4429;",
        'case "participant.kicked":',
        'const KINDS = ["participant.joined"];',
        'live.send({ type: "heartbeat" });',
        'if (message.type === "welcome") return;',
        'switch (message.type) { case "kicked": break; }',
        'const hello = { type: "hello", role: "host" };',
        # A regular expression with `//` in it does not hide the rest of its line as a comment.
        'joinUrl.replace(/^https?:\\/\\//, ""); if (code === 4403) stop();',
        "const text = `You're ${closeCode === 4403 ? `out` : `in`}`;",
    ],
)
def test_the_scan_finds_a_bare_code_or_type(line: str) -> None:
    assert bare_words(line) != []


@pytest.mark.parametrize(
    "line",
    [
        "this.beatTimer = setInterval(() => this.beat(), seconds * 1000);",
        "const RESTART_RETRY_MS = 1000;",
        "const delay = error.retryAfterS ? error.retryAfterS * 1000 : 0;",
        "if (silentMs > this.heartbeatS * 2000 + 2000) lost();",
        "setTimeout(hide, 4000);",
        "// 4401: this token was revoked; ws.close(1000) and [4401, 4403] in a comment",
        "/* closeCode === 4403 */ stop();",
        'const text = "closeCode === 4403";',
        "if (closeCode === Close.KICKED) return;",
        'Object.assign(entry, { status: "kicked", presence: "kicked" });',
        'const PRESENCE_TEXT = { away: "Away", left: "Left" };',
        'switch (entry.status) { case "kicked": break; }',
        'el("p", {}, "There is no event ", code);',
        "const ratio = width / 1000; const other = height / 4400;",
        'el("button", { type: "button", text: "Join" });',
        'const note = `Keep this page open${event ? ` during ${event.title}` : ""}.`;',
        "const PATTERN = /^[0-9a-f]{8}-[/]{4}$/; const limit = 1000;",
    ],
)
def test_the_scan_leaves_named_codes_milliseconds_and_other_words_alone(line: str) -> None:
    assert bare_words(line) == []
