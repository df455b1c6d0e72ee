"""The review as Markdown: a pull-request comment bounded in size, and the full review for a file.

GitHub rejects a comment body over 65,536 characters, and the resource tree alone is about 5 KB per
endpoint, so the comment holds what a reviewer decides on (one line per endpoint, the policy verdict, the
changes field by field as far as they fit) and says where the rest is; `full()` holds everything, the tree
included, for the job summary or an artifact (`python -m review STACK --markdown --markdown-full PATH`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from policy.rules import Verdict
from review.diff import ResourceChange, render_diff
from review.live import EndpointReport, render_report
from review.policy_check import mandatory_violations, render_verdicts
from review.summary import ResourceSummary, render_tree

GITHUB_COMMENT_LIMIT = 65_536
"""GitHub's limit on the body of an issue or pull-request comment, in characters."""
COMMENT_BUDGET = 64_000
"""What the comment may take, in UTF-8 bytes (never fewer than characters): below the limit with room for
the marker line the workflow puts before it."""
SUMMARY_BUDGET = 60_000
"""Of the budget, what the one-line-per-endpoint summary may take: 500 endpoints of 110 characters fit."""
SUMMARY_LINE_LIMIT = 300
"""A summary line longer than this is cut (its whole text is in the full review)."""
LOCATION_LIMIT = 300
"""Where the full review is, as the comment says it, at most this long."""
FENCE = "~~~~"  # not a backtick fence: field values may hold backticks


class Reviewed(Protocol):
    """What the Markdown is made from: `review.__main__.Review`."""

    stack: str
    stack_file: str

    summaries: list[ResourceSummary]
    verdicts: list[Verdict]
    diff: tuple[list[ResourceChange], str, str] | None
    summary: list[str]
    live: tuple[list[EndpointReport], str] | None

    @property
    def file_label(self) -> str:
        """The stack file as the review names it: `Pulumi.dev.yaml (deleted)` when it is gone."""
        ...


def size(text: str) -> int:
    """The size the budget counts: UTF-8 bytes, at least the characters GitHub counts."""
    return len(text.encode("utf-8"))


def markdown_line(line: str) -> str:
    """`key: what changes` with the key in bold, the rest escaped so Markdown shows it as written."""
    key, _, rest = line.partition(": ")
    for character in ("\\", "|", "*", "_", "`"):
        rest = rest.replace(character, "\\" + character)
    return f"**{key}**: {rest.replace('<', '&lt;')}"


def folded(title: str, body: str) -> list[str]:
    """A collapsed section of a PR comment holding `body` as preformatted text."""
    return [f"<details><summary>{title}</summary>", "", FENCE + "text", body, FENCE, "", "</details>", ""]


@dataclass(frozen=True)
class Section:
    """A folded section: a first line, then items (one per resource change, rule or endpoint) in order."""

    title: str
    head: str
    items: list[str]
    unit: str
    """What an item is, for the line saying how many were left out: `resource change(s)`, ..."""


def split_items(text: str) -> tuple[str, list[str]]:
    """A rendered report's first line and its items: each starts at a line of the least indentation among
    the lines after the first (a resource change, a rule, an endpoint); deeper and blank lines belong to it."""
    head, *rest = text.split("\n")
    level = min((len(line) - len(line.lstrip(" ")) for line in rest if line.strip()), default=0)
    items: list[list[str]] = []
    for line in rest:
        if line.strip() and len(line) - len(line.lstrip(" ")) == level:
            items.append([line])
        elif items:
            items[-1].append(line)
    return head, ["\n".join(item).rstrip() for item in items]


def sections(review: Reviewed) -> list[Section]:
    """The detail sections in the order the comment shows them."""
    found = []
    if review.live is not None:
        found.append(
            Section("Declared vs live, aspect by aspect", *split_items(render_report(*review.live)), "endpoint(s)")
        )
    if review.diff is not None:
        found.append(Section("Changes field by field", *split_items(render_diff(*review.diff)), "resource change(s)"))
    found.append(Section("Policy verdicts", *split_items(render_verdicts(review.verdicts)), "rule(s)"))
    return found


def _verdict(review: Reviewed) -> str:
    mandatory = mandatory_violations(review.verdicts)
    return f"**{mandatory} mandatory policy violation(s)**" if mandatory else "policy: no mandatory violation"


def _summary_lines(summary: Sequence[str], full_location: str, room: int) -> list[str]:
    """Every endpoint's line (each cut at SUMMARY_LINE_LIMIT) while they fit `room` bytes; then one line saying
    how many more there are, which always fits too."""
    lines, used = [], 0
    for index, line in enumerate(summary):
        if len(line) > SUMMARY_LINE_LIMIT:
            line = line[: SUMMARY_LINE_LIMIT - 1] + "…"
        bullet = f"- {markdown_line(line)}"
        rest = f"- … and {len(summary) - index} more endpoint(s): see {full_location}"
        last = index == len(summary) - 1
        if used + size(bullet) + 1 + (0 if last else size(rest) + 1) > room:
            lines.append(rest)
            break
        lines.append(bullet)
        used += size(bullet) + 1
    return lines


def comment(review: Reviewed, heading: str, full_location: str, budget: int = COMMENT_BUDGET) -> str:
    """The PR comment: the heading, one line per endpoint, the policy verdict, then the details folded, each
    section's items in the order of the full review while they fit `budget`, with a line saying how many were
    left out and where they are. Whatever the stack's size, never more than `budget` UTF-8 bytes."""
    full_location = full_location[:LOCATION_LIMIT]
    heading = f"### {heading[:LOCATION_LIMIT]}"
    closing = (
        f"The full review, with every change and the resource tree of {review.file_label[:LOCATION_LIMIT]}: "
        f"{full_location}."
    )
    parts = sections(review)
    skipped = [f"{section.title}: left out here (see {full_location})" for section in parts]
    # What frames the comment, and a line for each section that might not fit, is reserved up front; the
    # endpoints' lines come first among the rest.
    fixed = sum(size(line) + 1 for line in (heading, "", "", _verdict(review), "", closing, *skipped))
    summary = _summary_lines(review.summary, full_location, min(SUMMARY_BUDGET, budget - fixed))
    lines = [heading, "", *summary, "", _verdict(review), ""]
    used = size("\n".join(lines)) + size(closing) + 1 + sum(size(line) + 1 for line in skipped)
    for section, skip in zip(parts, skipped, strict=True):
        used -= size(skip) + 1
        frame = size("\n".join(folded(section.title, section.head))) + 1
        note = f"… {len(section.items)} {section.unit} of {len(section.items)} left out here: see {full_location}"
        room = budget - used - frame - size(note) - 1
        if room < 0:
            lines.append(skip)
            used += size(skip) + 1
            continue
        kept = []
        for item in section.items:
            if size(item) + 1 > room:
                break
            kept.append(item)
            room -= size(item) + 1
        left = len(section.items) - len(kept)
        body = [section.head, *kept]
        if left:
            body.append(f"… {left} {section.unit} of {len(section.items)} left out here: see {full_location}")
        block = folded(section.title, "\n".join(body))
        lines += block
        used += size("\n".join(block)) + 1
    lines.append(closing)
    return "\n".join(lines)


def full(review: Reviewed, heading: str) -> str:
    """Everything the review found, the resource tree included: for the job summary or an artifact."""
    lines = [f"### {heading}", "", *(f"- {markdown_line(line)}" for line in review.summary), "", _verdict(review), ""]
    for section in sections(review):
        lines += folded(section.title, "\n".join([section.head, *section.items]))
    lines += folded(f"Resources of {review.file_label}", render_tree(review.stack, review.summaries))
    return "\n".join(lines)


def failure(stack: str, kind: str, message: str) -> str:
    """The comment when there is no review: why (an invalid stack file, revision, ...)."""
    return "\n".join([f"### Stack {stack}: cannot be reviewed", "", *folded(kind, message[: COMMENT_BUDGET // 2])])
