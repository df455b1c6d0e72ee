"""Problems as the stack file's author reads them: one line each, key path, value (unless a credential), rule.

`parse_stack_config` validates a stack's values and raises one `StackConfigError` listing every problem:
the YAML's and the namespaces' (`stack_file_problems`, `describe_namespaces`) first, then the models'.
"""

from __future__ import annotations

import difflib
import json
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ValidationError

from components.config.access import DEPLOYER_CONTEXT
from components.config.endpoint import StackConfig
from components.config.limits import (
    PROJECT,
    PROVIDER_KEYS,
    PROVIDER_NAMESPACE,
    SECRET_NAME_PATTERN,
    SECRET_REFERENCE_PATTERN,
    TOKEN_VALUE_PATTERN,
)
from components.config.monitoring import CONFIG_SECRETS_CONTEXT
from components.config.problems import Problem, problems_of
from components.stack_file import StackFile, UnreadableStackFileError, YamlProblem, read_stack_file


class StackConfigError(Exception):
    """A stack file is invalid. The message lists every problem; no resource has been declared."""

    def __init__(self, stack: str, problems: list[str]):
        self.stack = stack
        self.problems = problems
        header = (
            f"Pulumi.{stack}.yaml has {len(problems)} configuration problem"
            f"{'s' if len(problems) != 1 else ''}; nothing was declared:"
        )
        super().__init__("\n".join([header, *(f"  - {problem}" for problem in problems)]))


_CONFIG_CLASS_NAMES = re.compile(r"\b[A-Z][A-Za-z]+(Config|Gate|Defaults|Concurrency)\b")
_TYPE_ERRORS = {"model_type", "model_attributes_type", "dict_type", "list_type", "string_type", "bool_type"}
# Rules whose (flat) value helps to see the problem; other rules about a whole object show only the key path.
_SHOWS_VALUE = {"routes"}
# Rules about a key's name: its value is beside the point.
_KEY_RULES = {"environment_var_name", "endpoint_key", "tag_key"}
_LONGEST_KEY_SHOWN = 60


def _key_part(part: str | int) -> str:
    if isinstance(part, int):
        return f"[{part}]"
    if len(part) > _LONGEST_KEY_SHOWN:
        part = f"{part[:20]}...({len(part)} characters)"
    return part if part and not re.search(r"[.\s\[\]\"]", part) else json.dumps(part)


def _key_path(loc: Iterable[Any]) -> str:
    path = ""
    for part in loc:
        if part == "[key]":  # pydantic's marker for "the key itself" in a dict
            continue
        text = _key_part(part)
        path += text if text.startswith("[") or not path else "." + text
    return path


def _looks_like_credential(value: Any, name: str | None = None) -> bool:
    """Whether `value` (held under `name`) may be a credential, which no message may show."""
    if isinstance(value, str):
        if TOKEN_VALUE_PATTERN.search(value):
            return True
        return bool(name and SECRET_NAME_PATTERN.search(name)) and not SECRET_REFERENCE_PATTERN.match(value)
    if isinstance(value, Mapping):
        # A block under a credential's name (an external model's `api_key_auth: {key, value}`) holds one.
        if (
            name
            and SECRET_NAME_PATTERN.search(name)
            and any(_looks_like_credential(item, name) for item in value.values())
        ):
            return True
        return any(_looks_like_credential(item, str(key)) for key, item in value.items())
    if isinstance(value, list):
        return any(_looks_like_credential(item, name) for item in value)
    return bool(name and SECRET_NAME_PATTERN.search(name)) and value is not None


def _shown(value: Any, loc: tuple[Any, ...] = ()) -> str:
    names = [part for part in loc if isinstance(part, str) and part != "[key]"]
    if _looks_like_credential(value, names[-1] if names else None):
        return "[hidden]"
    text = json.dumps(value, default=str, sort_keys=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    return "a map" if isinstance(value, Mapping) else type(value).__name__


def _is_structure(value: Any) -> bool:
    return isinstance(value, dict) or (isinstance(value, list) and any(isinstance(i, dict) for i in value))


def _annotation_at(loc: tuple[Any, ...], annotation: Any = None) -> Any:
    """The type the config model expects at `loc` (for a dict's key: `str`), or None if the path leaves it."""
    annotation = StackConfig if annotation is None else annotation
    for part in loc:
        while typing.get_origin(annotation) is Annotated:
            annotation = typing.get_args(annotation)[0]
        options = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(options) == 1:
            annotation = options[0]
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            fields = {field.alias or name: field for name, field in annotation.model_fields.items()}
            if part not in fields:
                return None
            annotation = fields[part].annotation
        elif origin is dict:
            annotation = args[0] if part == "[key]" else args[1]
        elif origin is list and isinstance(part, int):
            annotation = args[0]
        else:
            return None
    return annotation


def _known_keys(loc: tuple[Any, ...]) -> list[str]:
    annotation = _annotation_at(loc)
    options = [arg for arg in typing.get_args(annotation) if arg is not type(None)] or [annotation]
    for option in options:
        if isinstance(option, type) and issubclass(option, BaseModel):
            return [field.alias or name for name, field in option.model_fields.items()]
    return []


def _did_you_mean(word: str, known: Iterable[str], qualify: Callable[[str], str] = str) -> str:
    matches = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f"did you mean `{qualify(matches[0])}`?" if matches else ""


@dataclass(frozen=True)
class Message:
    """One line of a `StackConfigError`, with the key path it is about (None: about no one key)."""

    key_path: str | None
    text: str


def _message(problem: Problem) -> str:
    """pydantic's message, in the stack file's terms (maps, lists, text), with no class name of ours."""
    code, value = problem.code, problem.value
    if code in ("model_type", "model_attributes_type", "dict_type"):
        return f"must be a map of keys to values, not {_kind(value)}"
    if code == "list_type":
        return f"must be a list, not {_kind(value)}"
    if code in ("string_type", "bool_type", "bool_parsing"):
        wanted = "text" if code == "string_type" else "true or false"
        message = f"must be {wanted}, not {_kind(value)}"
        if code == "string_type" and isinstance(value, (bool, int, float)):
            written = json.dumps(value)
            message += f'; YAML read it as {_kind(value)}: quote it ("{written}") if it is text'
        return message
    if code in ("int_type", "int_parsing", "int_from_float"):
        return (
            f"must be a whole number, not {_kind(value)}"
            if code != "int_from_float"
            else ("must be a whole number, not a fraction")
        )
    if code in ("float_type", "float_parsing"):
        return f"must be a number, not {_kind(value)}"
    if code == "too_short":
        context = problem.context or {}
        return f"must have at least {context.get('min_length', 1)} entry, it has {context.get('actual_length', 0)}"
    return _CONFIG_CLASS_NAMES.sub("a map", problem.message)


def describe_problem(problem: Problem) -> Message:
    """The line for one problem: key path, the bad value, and the rule broken."""
    loc, value = problem.loc, problem.value
    path = _key_path(loc)
    if problem.code == "missing":
        return Message(path, f"{path}: is required")
    if problem.code == "extra_forbidden":
        hint = _did_you_mean(str(loc[-1]), _known_keys(loc[:-1]))
        return Message(
            path,
            f"{path}: unknown key; "
            + (
                f"{hint} (see the config reference in README.md)"
                if hint
                else "check its spelling against the config reference in README.md"
            ),
        )
    if problem.code in _KEY_RULES or (
        _is_structure(value) and problem.code not in _TYPE_ERRORS and problem.code not in _SHOWS_VALUE
    ):
        # A rule about a name, or a whole object or list of objects: the key path says where.
        return Message(path, f"{path}: {_message(problem)}")
    return Message(path, f"{path} = {_shown(value, loc)}: {_message(problem)}")


def describe_errors(error: ValidationError) -> list[str]:
    """One line per problem of `error` (each line once): key path, the bad value, and the rule broken."""
    return list(dict.fromkeys(describe_problem(problem).text for problem in problems_of(error)))


def _config_loc(path: tuple[Any, ...], project: str) -> tuple[Any, ...]:
    """A stack file path (`config`, `<project>:endpoints`, ...) as a config key path (`endpoints`, ...)."""
    if path[:1] != ("config",) or len(path) < 2:
        return path
    key = str(path[1])
    if key.startswith(f"{project}:"):
        return (key[len(project) + 1 :], *path[2:])
    return path[1:]  # a bare key is the project's (as the CLI reads it); another namespace keeps its key


def _expects_bool(loc: tuple[Any, ...]) -> bool:
    annotation = _annotation_at(loc)
    return annotation is bool or bool in typing.get_args(annotation)


def yaml_messages(problems: Iterable[YamlProblem], project: str = PROJECT) -> list[Message]:
    """One line per place where the stack file's YAML means something else than it seems to say."""
    lines = []
    for problem in problems:
        loc = _config_loc(problem.path, project)
        if problem.kind == "bool_word" and _expects_bool(loc):
            continue  # `scale_to_zero: yes` is true for every reader
        path = _key_path(loc) or "the file"
        if problem.kind == "duplicate_key":
            lines.append(Message(path, f"{path}: {problem.rule}"))
            continue
        if problem.kind in ("key_type", "tag"):
            lines.append(Message(path, f"{path}: {problem.rule} (line {problem.line})"))
            continue
        names = [part for part in loc if isinstance(part, str)]
        shown = "[hidden]" if _looks_like_credential(problem.text, names[-1] if names else None) else problem.text
        lines.append(Message(path, f"{path} = {shown}: {problem.rule.format(value=shown)} (line {problem.line})"))
    return lines


def describe_yaml_problems(problems: Iterable[YamlProblem], project: str = PROJECT) -> list[str]:
    """The lines of `yaml_messages`, as text."""
    return [message.text for message in yaml_messages(problems, project)]


def namespace_messages(keys: Iterable[str], project: str = PROJECT) -> list[Message]:
    """Config keys that nothing reads: misspelt keys of this project or of the Databricks provider."""
    problems = []
    fields = list(StackConfig.model_fields)
    for key in keys:
        namespace, _, name = key.partition(":")
        if namespace == project:
            if name not in fields:
                hint = _did_you_mean(name, fields, lambda match: f"{project}:{match}")
                known = hint or "the keys are " + ", ".join(fields)
                problems.append(Message(key, f"{key}: unknown key, nothing reads it; {known}"))
        elif namespace == PROVIDER_NAMESPACE:
            if name not in PROVIDER_KEYS:
                hint = _did_you_mean(name, PROVIDER_KEYS, lambda match: f"{PROVIDER_NAMESPACE}:{match}")
                problems.append(
                    Message(
                        key,
                        f"{key}: not a setting of the Databricks provider"
                        + (f"; {hint}" if hint else "; see the provider settings in README.md"),
                    )
                )
        elif difflib.get_close_matches(namespace, [project, PROVIDER_NAMESPACE], n=1, cutoff=0.8):
            (match,) = difflib.get_close_matches(namespace, [project, PROVIDER_NAMESPACE], n=1, cutoff=0.8)
            problems.append(
                Message(
                    key, f"{key}: unknown namespace `{namespace}`, nothing reads it; did you mean `{match}:{name}`?"
                )
            )
    return problems


def describe_namespaces(keys: Iterable[str], project: str = PROJECT) -> list[str]:
    """The lines of `namespace_messages`, as text."""
    return [message.text for message in namespace_messages(keys, project)]


def parse_stack_config(
    stack: str,
    values: Mapping[str, Any],
    plaintext_keys: Mapping[str, bool] | None = None,
    *,
    stack_file_problems: Iterable[Message | str] = (),
    deployer: str | None = None,
    config_secrets: Mapping[str, bool] | None = None,
) -> StackConfig:
    """Validate a stack's values; raise one `StackConfigError` listing every problem.

    `values` holds this project's keys without namespace (`defaults`, `endpoints`); `plaintext_keys`
    maps each credential key present in the stack (`databricks:token`, ...) to whether it is stored
    in plain text; `stack_file_problems` are problems already found in the stack file itself (its YAML,
    its namespaces: `stack_file_messages`, `namespace_messages`), reported first; `deployer` the application
    id of the service principal that deploys (`databricks:clientId`), which no grant may name;
    `config_secrets` maps each config key of this project a notification destination names (without
    namespace) that the stack sets to whether it is a secret (None: not checked).
    """
    messages = [problem if isinstance(problem, Message) else Message(None, problem) for problem in stack_file_problems]
    messages.extend(
        Message(
            key,
            f"{key}: is stored in plain text in Pulumi.{stack}.yaml; store it encrypted with "
            f"`pulumi config set --secret {key} <value>` or use the DATABRICKS_* environment variables",
        )
        for key, plain in (plaintext_keys or {}).items()
        if plain
    )
    # Where the file's YAML was refused, that message says it all: the value it gave is beside the point.
    refused = {message.key_path for message in messages if message.key_path is not None}
    config: StackConfig | None = None
    try:
        context: dict[str, Any] = {}
        if deployer and deployer.strip():
            context[DEPLOYER_CONTEXT] = deployer.strip().lower()
        if config_secrets is not None:
            context[CONFIG_SECRETS_CONTEXT] = dict(config_secrets)
        config = StackConfig.model_validate(dict(values), context=context or None)
    except ValidationError as error:
        described = (describe_problem(problem) for problem in problems_of(error))
        messages.extend(message for message in described if message.key_path not in refused)
    if messages:
        raise StackConfigError(stack, list(dict.fromkeys(message.text for message in messages)))
    assert config is not None
    return config


def stack_file_messages(stack_file: StackFile | Path | None, project: str = PROJECT) -> list[Message]:
    """What the YAML of a stack file says that its values do not: every ambiguity, or why it is unreadable."""
    if stack_file is None:
        return []
    try:
        read = stack_file if isinstance(stack_file, StackFile) else read_stack_file(stack_file)
    except UnreadableStackFileError as error:
        return [Message(None, str(error))]
    return yaml_messages(read.problems, project)


def stack_file_problems(stack_file: StackFile | Path | None, project: str = PROJECT) -> list[str]:
    """The lines of `stack_file_messages`, as text."""
    return [message.text for message in stack_file_messages(stack_file, project)]
