"""Reading a stack file (`Pulumi.<stack>.yaml`) as the Pulumi CLI reads it, and saying where YAML is ambiguous.

The CLI decodes stack files with go-yaml v3 (`sdk/go/common/encoding/marshal.go` in pulumi/pulumi), PyYAML
follows YAML 1.1: the two disagree on `on`/`yes`/`off`/`no` (YAML 1.1 booleans, go-yaml v3 text), `1:30`
(YAML 1.1 base 60), `0o17` and `1.0e3` (go-yaml numbers, PyYAML text) and dates (PyYAML `date` objects,
go-yaml keeps the text when decoding into an untyped value). Both read `010` as the octal number 8 (go-yaml
v3 `resolve.go`: "Octals from the 1.1 spec, spelled as 0777, are still decoded by default in v3"), and
go-yaml refuses duplicate keys where PyYAML keeps the later one silently.

`read_stack_file` builds the values the CLI would (so the offline review and `pulumi up` validate the same
values) and reports, with its key path, every place where the file's meaning depends on the reader or
surprises a reader: duplicate keys, octal-looking and base-60 numbers, numbers only YAML 1.2 reads as
numbers, YAML 1.1 boolean words, explicit tags and keys that are not text. What a problem means for the
config (a boolean word where a boolean is expected is fine) is decided by `components.config`.
"""

from __future__ import annotations

import codecs
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

KeyPath = tuple[str | int, ...]

_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_NULL = "tag:yaml.org,2002:null"
_STR = "tag:yaml.org,2002:str"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"

_PLAIN_DECIMAL = re.compile(r"^[-+]?(0|[1-9][0-9_]*)$")
_OCTAL_1_1 = re.compile(r"^[-+]?0[0-9_]+$")
_OCTAL_1_2 = re.compile(r"^[-+]?0o[0-7_]+$")
# How the Pulumi CLI itself writes a float with an exponent when it saves a stack file (`pulumi stack init`,
# `pulumi config set`: go-yaml v3 formats with strconv 'g'): 0.000001 becomes 1e-06. Seen under the real CLI;
# a form the CLI writes is never a problem of the file.
_GO_EXPONENT_FLOAT = re.compile(r"^-?[0-9](\.[0-9]+)?e[-+][0-9]{2,}$")
_BASE_60 = re.compile(r"^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$")
# go-yaml v3's `yamlStyleFloat`: numbers PyYAML (YAML 1.1, which needs a dot and a signed exponent) reads as text.
_GO_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_BOOL_WORDS_1_1 = frozenset({"yes", "no", "on", "off"})
MAX_VALUES = 100_000
"""A stack file holds a few hundred values; more (after aliases are expanded) is a mistake or an attack."""


class UnreadableStackFileError(Exception):
    """The file cannot be read as a stack file at all (missing, not UTF-8, not YAML, not a map)."""


@dataclass(frozen=True)
class YamlProblem:
    """A place where the stack file means something other than what it seems to say."""

    path: KeyPath
    """Where, from the document's root: `("config", "databricks-serving:endpoints", "risk", ...)`."""
    kind: str
    """`duplicate_key`, `octal`, `base_60`, `yaml_1_2_number`, `bool_word`, `tag` or `key_type`."""
    text: str
    """The scalar as written in the file."""
    rule: str
    """What is wrong and what to write instead; `{value}` stands for the text as it may be shown."""
    line: int
    """1-based line in the file."""


@dataclass
class StackFile:
    """A stack file's document, with the values the Pulumi CLI would read, and its ambiguities."""

    path: Path
    document: dict[str, Any]
    problems: list[YamlProblem] = field(default_factory=list)


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader; scalars are resolved by `_Walker` below, as go-yaml v3 resolves them."""


def _go_number(text: str) -> int | float | None:
    """What go-yaml v3 makes of a plain scalar that starts like a number (`resolve.go`), else None."""
    plain = text.replace("_", "")
    sign = -1 if plain.startswith("-") else 1
    body = plain[1:] if plain[:1] in "+-" else plain
    if re.fullmatch(r"0[0-7]+", body):
        return sign * int(body, 8)  # Go's ParseInt(s, 0, 64): a leading zero is octal
    if re.fullmatch(r"0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|0|[1-9][0-9]*", body):
        return sign * int(body, 0)
    if _GO_FLOAT.match(plain):
        return float(plain)
    return None


def _short(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!")


class _Walker:
    """Builds the document from PyYAML's node tree, recording each ambiguity with its key path."""

    def __init__(self) -> None:
        self.problems: list[YamlProblem] = []
        self.values = 0

    def _problem(self, path: KeyPath, node: Node, kind: str, rule: str) -> None:
        text = node.value if isinstance(node, ScalarNode) else ""
        self.problems.append(YamlProblem(path, kind, text, rule, node.start_mark.line + 1))

    def value(self, node: Node, path: KeyPath) -> Any:
        self.values += 1
        if self.values > MAX_VALUES:
            # Aliases can make a small file expand to billions of values ("billion laughs").
            raise UnreadableStackFileError(f"holds more than {MAX_VALUES} values once its aliases are expanded")
        if not isinstance(node, ScalarNode) and node.tag not in (_MAP, _SEQ):
            self._unsupported_tag(node, path)
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self.value(item, (*path, index)) for index, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        return self._scalar(node, path)

    def _unsupported_tag(self, node: Node, path: KeyPath) -> None:
        message = f"the YAML tag `{_short(node.tag)}` is not supported in a stack file; write plain values"
        self._problem(path, node, "tag", message)

    def _scalar(self, node: ScalarNode, path: KeyPath) -> Any:
        text = node.value
        if node.tag not in (_STR, _INT, _FLOAT, _BOOL, _NULL, _TIMESTAMP):
            self._unsupported_tag(node, path)
            return text
        if node.style is not None:
            return text  # quoted: text for every reader
        # `!!str 010`: text for every reader
        if node.tag == _STR and _FLATTENER.resolve(ScalarNode, text, (True, False)) != _STR:  # type: ignore[no-untyped-call]  # PyYAML is untyped
            return text
        if node.tag == _NULL:
            return None
        if node.tag == _TIMESTAMP:
            return text  # go-yaml keeps a date's text when it decodes into an untyped value
        if node.tag == _BOOL:
            return self._boolean(node, path)
        if node.tag == _INT:
            return self._integer(node, path)
        if node.tag == _FLOAT:
            return self._float(node, path)
        return self._plain_text(node, path)

    def _boolean(self, node: ScalarNode, path: KeyPath) -> bool | str:
        text: str = node.value
        if text.lower() in _BOOL_WORDS_1_1:
            self._problem(
                path,
                node,
                "bool_word",
                "is a boolean in YAML 1.1 but text for the Pulumi CLI; write true or false, or quote it "
                '("{value}") if it is text',
            )
            return text  # what the CLI reads
        return text.lower() == "true"

    def _integer(self, node: ScalarNode, path: KeyPath) -> Any:
        text = node.value
        if _BASE_60.match(text):
            self._problem(
                path,
                node,
                "base_60",
                'is a base-60 number in YAML 1.1 but text for the Pulumi CLI; quote it ("{value}")',
            )
            return text
        number = _go_number(text)
        if _OCTAL_1_1.match(text) and number is not None:
            self._problem(
                path,
                node,
                "octal",
                f"YAML reads {{value}} as the octal number {number}; write {number}, or quote it "
                '("{value}") if it is text',
            )
        return number if number is not None else yaml.SafeLoader.construct_yaml_int(_Loader(""), node)

    def _float(self, node: ScalarNode, path: KeyPath) -> Any:
        if _BASE_60.match(node.value):
            self._problem(
                path, node, "base_60", "is a base-60 number in YAML 1.1 but text for the Pulumi CLI; quote it"
            )
            return node.value
        return yaml.SafeLoader.construct_yaml_float(_Loader(""), node)

    def _plain_text(self, node: ScalarNode, path: KeyPath) -> Any:
        """Plain text for PyYAML: go-yaml v3 may still read a number (`0o17`, `1e3`, `1.0e3`)."""
        text = node.value
        number = _go_number(text) if text[:1] in "+-.0123456789" else None
        if number is not None and _GO_EXPONENT_FLOAT.match(text):
            return number
        if number is not None:
            self._problem(
                path,
                node,
                "yaml_1_2_number",
                f"the Pulumi CLI reads {{value}} as the number {number}, other YAML readers as text; write "
                f'{number}, or quote it ("{{value}}") if it is text',
            )
            return number
        return text

    def _key(self, node: Node, path: KeyPath) -> str | None:
        if not isinstance(node, ScalarNode):
            self._problem(path, node, "key_type", "a key must be text, not a list or a map")
            return None
        key = self._scalar(node, (*path, node.value))
        if key is None:
            self._problem(
                (*path, node.value), node, "key_type", "a key is empty (null); write the key's name, quoted if need be"
            )
            return None
        if isinstance(key, bool):
            return "true" if key else "false"
        return str(key)  # the CLI turns number keys into text

    def _mapping(self, node: MappingNode, path: KeyPath) -> dict[str, Any]:
        _Loader.flatten_mapping(_FLATTENER, node)  # `<<: *anchor` merges, as both readers do
        result: dict[str, Any] = {}
        lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node, path)
            if key is None:
                continue
            line = key_node.start_mark.line + 1
            if key in lines:
                self.problems.append(
                    YamlProblem(
                        (*path, key),
                        "duplicate_key",
                        key,
                        f"is written twice (lines {lines[key]} and {line}); YAML readers silently keep the later "
                        "one or refuse the file: keep one",
                        line,
                    )
                )
            lines[key] = line
            result[key] = self.value(value_node, (*path, key))
        return result


# `flatten_mapping` is an instance method of the constructor; it needs no state of a real document.
_FLATTENER = _Loader("")


def shown_path(path: Path) -> str:
    """How a message names the file read: relative to the working directory when inside it, else in full
    (`Pulumi.prod.yaml` in the project, `/tmp/proposed.yaml` given with `--stack-file`)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def _text(raw: bytes, path: Path) -> str:
    for bom, encoding in ((codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if raw.startswith(bom):
            return raw.decode(encoding)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise UnreadableStackFileError(
            f"{shown_path(path)} is not UTF-8 text (byte 0x{raw[error.start]:02x} on line {line}); save it as UTF-8"
        ) from None


def parse_stack_text(text: str, path: Path) -> StackFile:
    """The stack file `text` (named `path`), read as the Pulumi CLI reads it."""
    name = shown_path(path)
    stream = io.StringIO(text)
    stream.name = name  # PyYAML's marks name the stream: the file, not `<unicode string>`
    try:
        root = yaml.compose(stream, Loader=_Loader)
    except yaml.YAMLError as error:
        raise UnreadableStackFileError(f"{name} is not valid YAML:\n{error}") from None
    walker = _Walker()
    try:
        document = walker.value(root, ()) if root is not None else {}
    except yaml.YAMLError as error:  # a bad `<<` merge
        raise UnreadableStackFileError(f"{name} is not valid YAML:\n{error}") from None
    except UnreadableStackFileError as error:
        raise UnreadableStackFileError(f"{name} {error}") from None
    except RecursionError:
        raise UnreadableStackFileError(f"{name} nests too deeply (an alias inside itself?)") from None
    if not isinstance(document, dict):
        raise UnreadableStackFileError(f"{name} must be a YAML map with a `config:` key")
    return StackFile(path, document, walker.problems)


def read_stack_file(path: Path) -> StackFile:
    """Read `path` as the Pulumi CLI reads a stack file; UnreadableStackFileError if it cannot be read at all."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise UnreadableStackFileError(f"cannot read the stack file {shown_path(path)}: {error.strerror}") from None
    return parse_stack_text(_text(raw, path), path)
