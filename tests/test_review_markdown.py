"""The review as a pull-request comment stays under GitHub's comment limit; the full review goes to a file."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from review import markdown
from review.live import EndpointReport, render_report
from review.markdown import COMMENT_BUDGET, GITHUB_COMMENT_LIMIT, markdown_line
from tests.support import ENDPOINTS_KEY, review


def stack_of(endpoints: int) -> dict[str, Any]:
    """A valid prod stack document with `endpoints` endpoints, each a 90/10 split between two versions."""
    spec = {
        "served_models": [
            {"model": "main.risk.risk_classifier", "version": 3, "workload_size": "Small"},
            {"model": "main.risk.risk_classifier", "version": 4, "workload_size": "Small"},
        ],
        "traffic": {"risk_classifier-3": 90, "risk_classifier-4": 10},
        "access": {"query_service_principal": "8a4d6c2e-1f3b-4e5a-b7c9-0d1e2f3a4b5c"},
        "tags": {"team": "risk", "owner": "risk-team"},
    }
    return {
        "config": {
            "databricks:host": "https://workspace.example.com",
            "databricks-serving:defaults": {"name_prefix": "prod-", "tags": {"environment": "prod"}},
            ENDPOINTS_KEY: {f"endpoint-{n:03d}": copy.deepcopy(spec) for n in range(endpoints)},
        }
    }


def large_review(tmp_path: Path, endpoints: int) -> tuple[int, str, str, list[str]]:
    """`--markdown --markdown-full` of a stack of `endpoints` new endpoints against prod: status, comment, full
    review, and the summary lines of `--json`."""
    candidate = tmp_path / "large.yaml"
    candidate.write_text(yaml.safe_dump(stack_of(endpoints)))
    full = tmp_path / "review-full.md"
    args = ("prod", "--stack-file", str(candidate), "--against-stack", "prod")
    status, comment, _ = review(*args, "--markdown", "--markdown-full", str(full))
    _, as_json, _ = review(*args, "--json")
    return status, comment, full.read_text(), json.loads(as_json)["summary"]


@pytest.fixture(scope="module")
def review_of_32(tmp_path_factory):
    return large_review(tmp_path_factory.mktemp("stack32"), 32)


@pytest.fixture(scope="module")
def review_of_500(tmp_path_factory):
    return large_review(tmp_path_factory.mktemp("stack500"), 500)


@pytest.mark.parametrize("reviewed", ["review_of_32", "review_of_500"])
def test_the_comment_of_a_large_stack_is_under_githubs_limit(reviewed, request):
    _, comment, full, _ = request.getfixturevalue(reviewed)
    assert len(comment) < GITHUB_COMMENT_LIMIT
    assert len(comment.encode("utf-8")) <= COMMENT_BUDGET
    assert len(full) > GITHUB_COMMENT_LIMIT  # the full review would not have fitted


@pytest.mark.parametrize("reviewed", ["review_of_32", "review_of_500"])
def test_the_comment_names_every_endpoints_one_line_summary(reviewed, request):
    _, comment, _, summary = request.getfixturevalue(reviewed)
    bullets = [line for line in comment.splitlines() if line.startswith("- ")]
    assert bullets == [f"- {markdown_line(line)}" for line in summary]
    assert len([line for line in summary if line.startswith("endpoint-")]) == int(reviewed.split("_")[-1])


def test_the_comment_keeps_the_first_changes_in_order_and_says_how_many_were_left_out(review_of_500):
    _, comment, full, _ = review_of_500
    kept = changes_section(comment)
    everything = changes_section(full)
    left_out = re.search(
        r"^… (\d+) resource change\(s\) of (\d+) left out here: see `.*review-full\.md`$", comment, flags=re.MULTILINE
    )
    assert left_out is not None
    items = [line for line in everything if re.match(r"  [+~-] ", line)]
    shown = [line for line in kept if re.match(r"  [+~-] ", line)]
    assert shown == items[: len(shown)]
    assert int(left_out[2]) == len(items) and len(shown) + int(left_out[1]) == len(items)


def test_the_comment_says_where_the_full_review_is(review_of_32):
    _, comment, _, _ = review_of_32
    closing = r"The full review, with every change and the resource tree of \S+/large\.yaml: `\S+/review-full\.md`\."
    assert re.fullmatch(closing, comment.splitlines()[-1])
    assert "<details><summary>Resources of" not in comment


def test_the_full_review_holds_every_change_and_the_resource_tree(review_of_32):
    _, _, full, _ = review_of_32
    assert re.search(r"^<details><summary>Resources of \S+/large\.yaml</summary>$", full, flags=re.MULTILINE)
    assert "left out" not in full
    for n in range(32):
        # In the resource tree (under its component), and in the changes.
        assert f"\n    databricks:index/modelServing:ModelServing  endpoint-{n:03d}-endpoint\n" in full
        assert f"\n  + databricks:index/modelServing:ModelServing  endpoint-{n:03d}-endpoint\n" in full


def test_a_small_review_comment_holds_every_change(tmp_path, prod_document):
    prod_document["config"][ENDPOINTS_KEY]["risk-classifier"]["traffic"] = {
        "risk_classifier-3": 50,
        "risk_classifier-4": 50,
    }
    proposed = tmp_path / "proposed.yaml"
    proposed.write_text(yaml.safe_dump(prod_document))
    status, comment, _ = review("prod", "--stack-file", str(proposed), "--against-stack", "prod", "--markdown")
    assert status == 0
    assert "        traffic.risk_classifier-4: 10 -> 50" in comment
    assert "left out" not in comment


def test_a_mandatory_violation_is_counted_in_the_comment(tmp_path, prod_document):
    prod_document["config"][ENDPOINTS_KEY]["fraud-scorer"]["served_models"][0]["scale_to_zero"] = True
    proposed = tmp_path / "proposed.yaml"
    proposed.write_text(yaml.safe_dump(prod_document))
    status, comment, _ = review("prod", "--stack-file", str(proposed), "--markdown")
    assert status == 1
    assert "**1 mandatory policy violation(s)**" in comment.splitlines()


def changes_section(markdown: str) -> list[str]:
    """The lines of the folded "Changes field by field" section."""
    section = markdown.split("<details><summary>Changes field by field</summary>", 1)[1]
    return section.split("~~~~text\n", 1)[1].split("\n~~~~", 1)[0].splitlines()


@dataclass
class Reviewed:
    """The parts of a review the Markdown is made from, without running a program."""

    summary: list[str]
    live: tuple[list[EndpointReport], str] | None = None
    stack: str = "prod"
    stack_file: str = "Pulumi.prod.yaml"
    file_label: str = "Pulumi.prod.yaml"
    summaries: list = field(default_factory=list)
    verdicts: list = field(default_factory=list)
    diff: None = None


def test_a_comment_of_more_endpoints_than_lines_fit_says_how_many_more_and_stays_bounded():
    summary = [f"endpoint-{n:05d}: " + "traffic 90/10 -> 50/50; " * 20 for n in range(5000)]
    comment = markdown.comment(Reviewed(summary), "Stack prod: changes", "`full-prod.md`")
    assert len(comment.encode("utf-8")) <= COMMENT_BUDGET
    bullets = [line for line in comment.splitlines() if line.startswith("- ")]
    assert bullets[-1] == f"- … and {5000 - len(bullets) + 1} more endpoint(s): see `full-prod.md`"
    assert bullets[0].startswith("- **endpoint-00000**: traffic") and bullets[0].endswith("…")
    assert len(bullets[0]) <= markdown.SUMMARY_LINE_LIMIT + 20


def test_the_live_report_is_cut_endpoint_by_endpoint_and_a_section_without_room_says_so():
    reports = [EndpointReport(f"endpoint-{n:03d}", f"prod-endpoint-{n:03d}", exists=False) for n in range(3000)]
    review = Reviewed([report.line() for report in reports], live=(reports, "https://workspace.example.com"))
    comment = markdown.comment(review, "Stack prod: declared vs live", "`full-prod.md`")
    assert len(comment.encode("utf-8")) <= COMMENT_BUDGET
    lines = comment.splitlines()
    shown = [line for line in lines if re.fullmatch(r"endpoint-\d{3}  \(prod-endpoint-\d{3}\)", line)]
    assert shown == [f"endpoint-{n:03d}  (prod-endpoint-{n:03d})" for n in range(len(shown))]
    assert f"… {3000 - len(shown)} endpoint(s) of 3000 left out here: see `full-prod.md`" in lines
    assert "Policy verdicts: left out here (see `full-prod.md`)" in lines
    _, items = markdown.split_items(render_report(reports[:2], "https://workspace.example.com"))
    assert items == [
        "endpoint-000  (prod-endpoint-000)\n    not in the workspace",
        "endpoint-001  (prod-endpoint-001)\n    not in the workspace",
    ]
