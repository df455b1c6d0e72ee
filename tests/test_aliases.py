"""Model aliases: `version: "@champion"` in the stack file, resolved to its number when the program runs.

The program asks the plugin (resolveModelVersion); here Pulumi's mock engine answers for it, as the offline
review does (no workspace: unresolved) or as a workspace would (`@champion -> 4`)."""

from __future__ import annotations

import pytest

from components.aliases import AliasError
from components.config import StackConfigError
from review.engine import run_program, unwrap
from review.summary import render_tree, summarize_run
from tests.support import AnsweringMocks, by_alias, stack_config

MODEL_SERVING = "databricks:index/modelServing:ModelServing"
KEY = "endpoints.risk-classifier"


def entities(run, name: str = "risk-classifier-endpoint") -> dict[str, str]:
    inputs = unwrap(run.named(name).inputs)
    return {entity["name"]: entity["entityVersion"] for entity in inputs["config"]["servedEntities"]}


# --- the config model ----------------------------------------------------------------------------------


def test_an_alias_is_a_version_and_names_its_served_entity_after_the_alias(prod_document):
    config = stack_config(by_alias(prod_document))
    model = config.endpoints["risk-classifier"].served_models[1]
    assert (model.version, model.served_name) == ("@champion", "risk_classifier-champion")
    assert config.endpoints["risk-classifier"].routes == {"risk_classifier-3": 90, "risk_classifier-champion": 10}


@pytest.mark.parametrize("alias", ["@latest", "@v3", "@", "@two words", "@a/b"])
def test_a_malformed_or_reserved_alias_is_refused_with_its_key_path(prod_document, alias):
    with pytest.raises(StackConfigError) as error:
        stack_config(by_alias(prod_document, alias))
    assert f"{KEY}.served_models[1].version = {alias!r}: an alias is `@` and its name" in str(error.value)


# --- the program, offline and against a workspace ------------------------------------------------------


def test_offline_the_alias_stays_unresolved_and_the_review_says_so(prod_document):
    run = run_program("prod", document=by_alias(prod_document))
    assert entities(run) == {"risk_classifier-3": "3", "risk_classifier-champion": "@champion"}
    assert unwrap(run.outputs["risk-classifier"])["aliases"] == {
        "risk_classifier-champion": "@champion (unresolved: no credentials)"
    }
    tree = render_tree("prod", summarize_run(run.resources))
    assert "served_entities.risk_classifier-champion.alias: @champion (unresolved: no credentials)" in tree


def test_with_a_workspace_the_resolved_number_is_what_everything_declares_and_records(prod_document):
    mocks = AnsweringMocks({("main.risk.risk_classifier", "@champion"): "4"})
    run = run_program("prod", document=by_alias(prod_document), mocks=mocks)
    assert mocks.asked == [("main.risk.risk_classifier", "@champion")]
    assert entities(run) == {"risk_classifier-3": "3", "risk_classifier-champion": "4"}
    readiness = unwrap(run.named("risk-classifier-readiness").inputs)
    assert {e["name"]: e["entity_version"] for e in readiness["served_entities"]} == {
        "risk_classifier-3": "3",
        "risk_classifier-champion": "4",
    }
    rollout = unwrap(run.named("risk-classifier-rollout").inputs)
    assert [e["entity_version"] for e in rollout["served_entities"]] == ["3", "4"]
    exported = unwrap(run.outputs["risk-classifier"])
    assert exported["served_versions"] == {"risk_classifier-3": "3", "risk_classifier-champion": "4"}
    assert exported["aliases"] == {"risk_classifier-champion": "@champion -> 4"}
    tree = render_tree("prod", summarize_run(run.resources))
    assert "served_entities.risk_classifier-champion.alias: @champion -> 4" in tree


def test_an_alias_that_moves_is_a_version_change_of_the_same_served_entity(prod_document):
    before = run_program(
        "prod",
        document=by_alias(prod_document),
        mocks=AnsweringMocks({("main.risk.risk_classifier", "@champion"): "4"}),
    )
    after = run_program(
        "prod",
        document=by_alias(prod_document),
        mocks=AnsweringMocks({("main.risk.risk_classifier", "@champion"): "5"}),
    )
    assert entities(before)["risk_classifier-champion"] == "4"
    assert entities(after) == {"risk_classifier-3": "3", "risk_classifier-champion": "5"}


def test_an_alias_the_workspace_does_not_have_fails_the_program_with_its_key_path(prod_document):
    with pytest.raises(AliasError) as error:
        run_program("prod", document=by_alias(prod_document, "@gone"), mocks=AnsweringMocks({}))
    assert str(error.value).startswith(
        f"{KEY}.served_models[1].version = '@gone': model main.risk.risk_classifier has no alias @gone"
    )


def test_an_update_refuses_an_alias_it_could_not_resolve(prod_document):
    with pytest.raises(AliasError) as error:
        run_program("prod", document=by_alias(prod_document), preview=False)
    assert "cannot be resolved without workspace credentials" in str(error.value)


def test_an_endpoint_without_aliases_asks_the_plugin_nothing(stack_documents):
    mocks = AnsweringMocks({})
    run_program("prod", document=stack_documents["prod"], mocks=mocks)
    assert mocks.asked == []


def test_every_endpoint_depends_on_the_stacks_one_preflight_which_carries_the_key_paths(stack_runs):
    run = stack_runs["prod"]
    [preflight] = run.of_type("servingops:index:Preflight")
    assert preflight.name == "preflight" and preflight.parent.endswith("pulumi:pulumi:Stack::databricks-serving-prod")
    for key in ("risk-classifier", "fraud-scorer"):
        assert preflight.urn in run.named(f"{key}-endpoint").dependencies
    checks = unwrap(preflight.inputs)["endpoints"]
    assert set(checks) == {"risk-classifier", "fraud-scorer"}
    inputs = checks["risk-classifier"]
    assert inputs["endpoint_name"] == "prod-risk-classifier"
    assert [e["key_path"] for e in inputs["served_entities"]] == [
        f"{KEY}.served_models[0].version",
        f"{KEY}.served_models[1].version",
    ]
    assert inputs["inference_table"] == {
        "catalog": "main",
        "schema": "serving_logs",
        "key_path": f"{KEY}.inference_table",
    }
    assert checks["fraud-scorer"]["secret_references"] == [
        {
            "value": "{{secrets/fraud-scoring/feature-store-token}}",
            "key_path": "endpoints.fraud-scorer.served_models[0].environment_vars.FEATURE_STORE_TOKEN",
        }
    ]
    assert preflight.provider == run.named("risk-classifier-readiness").provider
