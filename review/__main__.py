"""Offline review of a stack: `python -m review <stack>` (or `make review STACK=<stack> ARGS="..."`).

Runs the real program under Pulumi's mock engine with the stack's own `Pulumi.<stack>.yaml` (no Pulumi
CLI, backend, credentials or network) and prints:
- the resources it declares, as a tree, with the fields a reviewer cares about; secrets as `[secret]`;
- the verdict of the policy pack's rules (`policy/rules.py`, the same as `--policy-pack policy`);
- with `--against <revision>`, what changes from that revision's own program and stack file, field by
  field; with `--against-stack <other>`, what differs from another stack;
- with `--live`, declared against what the workspace serves (read-only, review/live.py).
Each starts with one line per endpoint in domain terms (review/changes.py). `--json` prints all of it as one
JSON document instead, `--markdown` as a pull-request comment. `python -m review import ...` adopts existing
endpoints into a stack (review/adopt.py).

Exit status: 0 reviewed (advisory violations allowed), 1 a mandatory policy violation, 2 an invalid stack
file, policy config or revision, a usage error, or (`--live`) a workspace that cannot be read, 3 the review
itself failed (a bug: the traceback is printed), 4 (`--live`) the workspace differs from the declaration.
Exit status 1 never means anything but a policy violation, so CI can tell them apart; it wins over 4.
130: interrupted (Ctrl-C). A reader that stops early (`| head`) does not change the status.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.config import StackConfigError
from components.stack_file import StackFile, UnreadableStackFileError, read_stack_file, shown_path
from policy.rules import PolicyConfigError, Verdict
from review import markdown
from review.changes import change_lines, declared_lines
from review.diff import ResourceChange, diff_json, diff_summaries, render_diff
from review.engine import PROJECT_DIR, ProgramRun, run_program, stack_file, stacks
from review.live import (
    EndpointReport,
    LiveReadError,
    declared_views,
    live_client,
    live_report,
    render_report,
    report_json,
)
from review.policy_check import check_run, load_policy_config, mandatory_violations, render_verdicts, verdicts_json
from review.revision import PendingRevision, RevisionError, RevisionStackFileError
from review.summary import ResourceSummary, parent_names, render_tree, summarize_run

EXIT_OK = 0
EXIT_MANDATORY_VIOLATION = 1
EXIT_INVALID = 2
EXIT_REVIEW_FAILED = 3
EXIT_DRIFT = 4
EXIT_INTERRUPTED = 130
"""Ctrl-C, as a shell reports a command that SIGINT ended (128 + 2): never 1, which is a policy verdict."""
STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
"""What the Pulumi CLI accepts as a stack's own name (no organization or project part)."""


class ReviewError(Exception):
    """The review cannot be made: an invalid stack file, policy config or revision (exit status 2)."""

    def __init__(self, kind: str, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.kind = kind
        """`invalid_stack_file`, `invalid_policy_config` or `invalid_revision`."""
        self.message = message
        self.problems = problems or []
        """For an invalid stack file: each problem the config model found."""


def _parser(project_dir: Path) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m review",
        description="Review what a stack would declare, offline: resource tree, policy verdicts, changes.",
        epilog="exit status: 0 reviewed (advisory violations allowed), 1 a mandatory policy violation, "
        "2 an invalid stack file, policy config or revision, a usage error or an unreadable workspace, "
        "3 the review itself failed, 4 drift (--live: the workspace differs from the declaration), "
        "130 interrupted",
    )
    known = stacks(project_dir)
    parser.add_argument(
        "stack",
        help=f"the stack whose Pulumi.<stack>.yaml is reviewed ({', '.join(known)}); another stack with "
        "--stack-file, or with --against when its stack file is deleted",
    )
    against = parser.add_mutually_exclusive_group()
    against.add_argument(
        "--against",
        metavar="REVISION",
        help="show what changes from this git revision's program and stack file (e.g. HEAD~1, origin/main)",
    )
    against.add_argument("--against-stack", metavar="STACK", choices=known, help="show what differs from another stack")
    against.add_argument(
        "--live",
        action="store_true",
        help="compare with the live workspace (read-only; DATABRICKS_* credentials or a profile); exit 4 on drift",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON document for machines")
    output.add_argument("--markdown", action="store_true", help="print a pull-request comment (Markdown)")
    parser.add_argument(
        "--markdown-full",
        type=Path,
        metavar="PATH",
        help="with --markdown: also write the full review (every change, the resource tree) to PATH",
    )
    parser.add_argument(
        "--full-location",
        metavar="TEXT",
        help="with --markdown: where the comment says the full review is (default: the --markdown-full PATH)",
    )
    parser.add_argument(
        "--stack-file",
        type=Path,
        metavar="PATH",
        help="review this file as the stack's config instead of Pulumi.<stack>.yaml (e.g. a proposed change)",
    )
    parser.add_argument(
        "--policy-config",
        type=Path,
        metavar="PATH",
        help="policy config JSON, as for `pulumi preview --policy-pack-config` (levels, required_tags, ...)",
    )
    return parser


def _stack_file(path: Path) -> StackFile:
    """The stack file as the Pulumi CLI reads it; one that cannot be read at all is an invalid stack file."""
    try:
        return read_stack_file(path)
    except UnreadableStackFileError as error:
        raise ReviewError("invalid_stack_file", str(error)) from None


def _run(stack: str, project_dir: Path, source: StackFile | None = None) -> ProgramRun:
    source = source or _stack_file(stack_file(stack, project_dir))
    try:
        return run_program(stack, project_dir=project_dir, source=source)
    except StackConfigError as error:
        # The config model names the stack's own file; the review names the file it actually read.
        problems = list(error.problems)
        header = (
            f"{shown_path(source.path)} has {len(problems)} configuration problem"
            f"{'s' if len(problems) != 1 else ''}; nothing was declared:"
        )
        message = "\n".join([header, *(f"  - {problem}" for problem in problems)])
        raise ReviewError("invalid_stack_file", message, problems) from None


def _check_stack(parser: argparse.ArgumentParser, args: argparse.Namespace, project_dir: Path) -> None:
    """A stack without a stack file in the project is reviewed from --stack-file, or as deleted (--against)."""
    known = stacks(project_dir)
    if not STACK_NAME.match(args.stack):
        parser.error(f"argument stack: {args.stack!r} is not a stack name (letters, digits, `_`, `.`, `-`)")
    if args.stack in known or args.stack_file or args.against:
        return
    parser.error(
        f"argument stack: invalid choice: {args.stack!r} (choose from {', '.join(map(repr, known))}); "
        f"a stack without Pulumi.{args.stack}.yaml is reviewed with --stack-file PATH"
    )


@dataclass
class Review:
    """Everything one review found, ready to print as text or JSON."""

    stack: str
    stack_file: str
    summaries: list[ResourceSummary]
    verdicts: list[Verdict]
    diff: tuple[list[ResourceChange], str, str] | None = None
    """(changes, base label, candidate label) when a comparison was asked for."""
    summary: list[str] = field(default_factory=list)
    """One line per endpoint, in domain terms: what the change does, or (no comparison) what it declares."""
    live: tuple[list[EndpointReport], str] | None = None
    """(per endpoint declared vs live, workspace host) with `--live`."""
    deleted: bool = False
    """`--against`: the working tree has no stack file, so the change destroys every endpoint of the stack."""

    @property
    def exit_code(self) -> int:
        if mandatory_violations(self.verdicts):
            return EXIT_MANDATORY_VIOLATION
        if self.live is not None and any(report.drift for report in self.live[0]):
            return EXIT_DRIFT
        return EXIT_OK

    def _heading(self) -> str:
        if self.live is not None:
            return f"Stack {self.stack}: declared ({self.stack_file}) vs live ({self.live[1]})"
        if self.diff is None:
            return f"Stack {self.stack} ({self.stack_file}) declares"
        if self.deleted:
            return (
                f"Stack {self.stack}: {self.stack_file} is deleted, so every endpoint of the stack would be "
                f"destroyed (changes from {self.diff[1]})"
            )
        return f"Stack {self.stack}: changes from {self.diff[1]} to {self.diff[2]}"

    @property
    def file_label(self) -> str:
        return f"{self.stack_file} (deleted)" if self.deleted else self.stack_file

    def text(self) -> str:
        head = "\n".join([f"{self._heading()}:", *(f"  {line}" for line in self.summary)])
        sections = [
            head,
            f"# {self.file_label}\n{render_tree(self.stack, self.summaries)}",
            render_verdicts(self.verdicts),
        ]
        if self.diff is not None:
            sections.append(render_diff(*self.diff))
        if self.live is not None:
            sections.insert(1, render_report(*self.live))
        return "\n\n".join(sections)

    def markdown(self, full_location: str = "the output of `--markdown-full PATH`") -> str:
        """A pull-request comment, bounded below GitHub's limit whatever the stack's size (review/markdown.py)."""
        return markdown.comment(self, self._heading(), full_location)

    def json(self) -> dict[str, Any]:
        parents = parent_names(self.summaries)
        return {
            "stack": self.stack,
            "stack_file": self.stack_file,
            "stack_file_deleted": self.deleted,
            "resources": [
                {
                    "type": summary.type,
                    "name": summary.name,
                    "parent": parents.get(summary.parent),
                    "urn": summary.urn,
                    "fields": summary.fields,
                }
                for summary in self.summaries
            ],
            "policy": verdicts_json(self.verdicts),
            "summary": self.summary,
            "diff": diff_json(*self.diff) if self.diff is not None else None,
            "live": report_json(*self.live) if self.live is not None else None,
            "exit_code": self.exit_code,
        }


def review(args: argparse.Namespace, project_dir: Path) -> Review:
    """Run the stack (and what it is compared against) and judge it; ReviewError when it cannot be."""
    path = args.stack_file or stack_file(args.stack, project_dir)
    # A pull request that deletes the stack file: the candidate declares nothing, the base everything.
    deleted = bool(args.against) and not args.stack_file and not path.exists()
    pending: PendingRevision | None = None
    if args.against:
        # The base runs in its own process while this one runs the candidate: side by side, not one after
        # the other (most of either run is importing the program's modules).
        try:
            pending = PendingRevision(args.against, args.stack, project_dir)
        except RevisionError as error:
            raise ReviewError("invalid_revision", str(error)) from None
    run, verdicts = _judged_candidate(args, project_dir, path, deleted, pending)
    summaries = summarize_run(run.resources)
    result = Review(args.stack, str(args.stack_file or path.name), summaries, verdicts, deleted=deleted)
    if pending is not None:
        _compare_with_revision(result, pending, args, path, deleted)
    elif args.against_stack:
        other = summarize_run(_run(args.against_stack, project_dir).resources)
        result.diff = (diff_summaries(other, summaries), f"stack {args.against_stack}", f"stack {args.stack}")
        result.summary = change_lines(other, summaries)
    elif args.live:
        _add_live_report(result, path, run)
    else:
        result.summary = declared_lines(summaries)
    return result


def _judged_candidate(
    args: argparse.Namespace, project_dir: Path, path: Path, deleted: bool, pending: PendingRevision | None
) -> tuple[ProgramRun, list[Verdict]]:
    """The candidate's run (nothing declared when its stack file is deleted) and the policy's verdicts on it;
    the base revision's process is stopped when the candidate cannot be reviewed."""
    try:
        pack_config = load_policy_config(args.policy_config) if args.policy_config else None
        run = ProgramRun(args.stack) if deleted else _run(args.stack, project_dir, _stack_file(path))
        return run, check_run(run, pack_config)
    except PolicyConfigError as error:
        if pending is not None:
            pending.cancel()
        raise ReviewError("invalid_policy_config", f"policy config: {error}") from None
    except BaseException:
        if pending is not None:
            pending.cancel()
        raise


def _compare_with_revision(
    result: Review, pending: PendingRevision, args: argparse.Namespace, path: Path, deleted: bool
) -> None:
    """The diff and change summary against the base revision's run (`--against`)."""
    candidate = str(args.stack_file) if args.stack_file else "the working tree"
    if deleted:
        candidate += f", which has no {path.name}"
    try:
        base = pending.result()
    except RevisionError as error:
        kind = "invalid_stack_file" if isinstance(error, RevisionStackFileError) else "invalid_revision"
        raise ReviewError(kind, str(error)) from None
    if deleted and base.missing:
        raise ReviewError(
            "invalid_stack_file",
            f"stack {args.stack} has no {path.name}, neither in the working "
            f"tree nor at {args.against}; with --stack-file PATH another file is reviewed",
        )
    # A revision given as a commit id is shown once; a name (`origin/main`) with the commit it resolved to.
    named = base.commit[:12] if base.commit.startswith(args.against) else f"{args.against} ({base.commit[:12]})"
    label = named + (f", which has no {base.missing}" if base.missing else "")
    base_summaries = summarize_run(base.resources)
    result.diff = (diff_summaries(base_summaries, result.summaries), label, candidate)
    result.summary = change_lines(base_summaries, result.summaries)


def _add_live_report(result: Review, path: Path, run: ProgramRun) -> None:
    """The declared endpoints against what the workspace of the stack's `databricks:host` serves (`--live`)."""
    host = str(_stack_file(path).document.get("config", {}).get("databricks:host") or "") or None
    try:
        client = live_client(host)
        reports = live_report(declared_views(result.summaries, run.resources), client)
    except LiveReadError as error:
        raise ReviewError("live_read_failed", f"live report: {error}") from None
    result.live = (reports, client.host)
    result.summary = [report.line() for report in reports]


def _emit(text: str) -> None:
    """Print to stdout; a reader that stops early (`| head`) changes neither the output's meaning nor the status."""
    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python would print a traceback when it flushes stdout again at exit: point stdout at nothing.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def main(argv: list[str] | None = None, *, project_dir: Path = PROJECT_DIR) -> int:
    """The command line; returns the exit status.

    `project_dir` is the checkout whose stack files (and git history) are reviewed; its program runs with
    the `components` this process imported, so it is only ever this project (tests pass a git copy of it).
    """
    try:
        return _main(sys.argv[1:] if argv is None else argv, project_dir)
    except KeyboardInterrupt:
        print("interrupted: no review was made", file=sys.stderr)
        return EXIT_INTERRUPTED


def _main(argv: list[str], project_dir: Path) -> int:
    if argv[:1] == ["import"]:
        from review.adopt import main as adopt

        return adopt(argv[1:], project_dir=project_dir)
    parser = _parser(project_dir)
    args = parser.parse_args(argv)
    _check_stack(parser, args, project_dir)
    try:
        result = review(args, project_dir)
    except ReviewError as failure:
        if args.json:
            error = {"kind": failure.kind, "message": failure.message, "problems": failure.problems}
            _emit(json.dumps({"stack": args.stack, "error": error, "exit_code": EXIT_INVALID}, indent=2))
        elif args.markdown:
            # The PR comment says why there is no review, rather than being empty.
            _emit(markdown.failure(args.stack, failure.kind, failure.message))
            if args.markdown_full:
                args.markdown_full.write_text(markdown.failure(args.stack, failure.kind, failure.message) + "\n")
            print(failure.message, file=sys.stderr)
        else:
            print(failure.message, file=sys.stderr)
        return EXIT_INVALID
    except Exception:  # noqa: BLE001 - a bug of the review or the program, never a policy verdict (exit 1)
        traceback.print_exc()
        print("the review itself failed (exit status 3); this is a bug, not a verdict on the stack", file=sys.stderr)
        return EXIT_REVIEW_FAILED
    if args.json:
        _emit(json.dumps(result.json(), indent=2, default=str))
    elif args.markdown:
        if args.markdown_full:
            args.markdown_full.write_text(markdown.full(result, result._heading()) + "\n", encoding="utf-8")
        where = f"`{args.markdown_full}`" if args.markdown_full else "the output of `--markdown-full PATH`"
        _emit(result.markdown(args.full_location or where))
    else:
        _emit(result.text())
    return result.exit_code


if __name__ == "__main__":
    code = main()
    # The Pulumi runtime leaves event loops open in the mock engine's worker threads; garbage-collected
    # at interpreter exit they sometimes print "Exception ignored ... Invalid file descriptor". Nothing
    # is left to clean up here, so leave without that collection.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
