"""External models and provisioned throughput in the emulator: accepted and refused as the serving API does
(databricks-sdk `ServedEntityInput` rules), READY at once for external models, canned answers in each task's
shape, and every response parsing with the sdk's dataclasses."""

from __future__ import annotations

from databricks.sdk.service import serving

from tests.emulator.support import entity, routes

OPENAI = {"openai_api_key": "{{secrets/llm/openai}}"}


def external(model: str = "gpt-4o", task: str = "llm/v1/chat", name: str | None = None, **extra) -> dict:
    body = {"external_model": {"name": model, "provider": "openai", "task": task, "openai_config": OPENAI, **extra}}
    if name is not None:
        body["name"] = name
    return body


def _error(response) -> tuple[int, str]:
    return response.status_code, response.json()["error_code"]


def test_an_external_model_is_ready_at_once_named_after_its_model(api):
    response = api.create("chat", [external("gpt-4o.mini:2024")])
    assert response.status_code == 200, response.text
    body = api.endpoint("chat")
    assert body["state"] == {"ready": "READY", "config_update": "NOT_UPDATING"}
    (served,) = body["config"]["served_entities"]
    assert served["name"] == "gpt-4o-mini-2024"
    assert served["external_model"]["openai_config"] == OPENAI
    assert "entity_name" not in served and "workload_type" not in served
    assert serving.ServingEndpointDetailed.from_dict(body).as_dict() == body


def test_a_chat_probe_gets_a_chat_completion_from_the_served_entity(api):
    api.create_ready("chat", [external()])
    response = api.invoke("chat", {"messages": [{"role": "user", "content": "ping"}], "max_tokens": 1}, served="gpt-4o")
    assert response.status_code == 200
    assert response.headers["served-model-name"] == "gpt-4o"
    answer = response.json()
    assert answer["choices"][0]["message"] == {"role": "assistant", "content": "pong"}
    assert serving.QueryEndpointResponse.from_dict(answer).as_dict() == answer


def test_an_embeddings_model_answers_with_embeddings(api):
    api.create_ready("embed", [external("text-embedding-3-small", task="llm/v1/embeddings")])
    answer = api.invoke("embed", {"input": "ping"}).json()
    assert answer["data"][0]["embedding"] == [0.0, 0.0, 0.0, 0.0]
    assert serving.QueryEndpointResponse.from_dict(answer).as_dict() == answer


def test_a_request_the_task_does_not_take_is_400(api):
    api.create_ready("chat", [external()])
    response = api.invoke("chat", {"dataframe_records": [{"x": 1}]})
    assert _error(response) == (400, "BAD_REQUEST")


def test_an_external_model_with_compute_is_refused(api):
    response = api.create("chat", [external() | {"workload_size": "Small"}])
    assert _error(response) == (400, "INVALID_PARAMETER_VALUE")
    assert "cannot be specified with workload_size" in response.json()["message"]


def test_an_unknown_provider_or_a_missing_config_block_is_refused(api):
    unknown = external()
    unknown["external_model"]["provider"] = "mistral"
    assert _error(api.create("a", [unknown])) == (400, "INVALID_PARAMETER_VALUE")
    bare = external()
    del bare["external_model"]["openai_config"]
    response = api.create("b", [bare])
    assert _error(response) == (400, "INVALID_PARAMETER_VALUE")
    assert "exactly one config, openai_config" in response.json()["message"]


def test_external_and_registered_models_are_not_mixed(api):
    response = api.create("mix", [external(), entity("1")], routes(**{"gpt-4o": 50, "risk_model-1": 50}))
    assert _error(response) == (400, "INVALID_PARAMETER_VALUE")


def test_external_models_of_one_endpoint_share_a_task(api):
    entities = [external(), external("text-embedding-3-small", task="llm/v1/embeddings")]
    response = api.create("two", entities, routes(**{"gpt-4o": 50, "text-embedding-3-small": 50}))
    assert _error(response) == (400, "INVALID_PARAMETER_VALUE")
    assert "same task" in response.json()["message"]


def test_an_external_endpoint_is_not_updated_to_registered_models(api):
    api.create_ready("chat", [external()])
    response = api.update_config("chat", [entity("1")])
    assert _error(response) == (400, "INVALID_PARAMETER_VALUE")


def test_a_provisioned_throughput_entity_provisions_and_shows_its_band(api):
    body = {k: v for k, v in entity("1").items() if k != "workload_size"}
    body |= {
        "min_provisioned_throughput": 0,
        "max_provisioned_throughput": 950,
        "instance_profile_arn": "arn:aws:iam::123456789012:instance-profile/s",
    }
    response = api.create("pt", [body])
    assert response.status_code == 200, response.text
    assert api.endpoint("pt")["state"]["config_update"] == "IN_PROGRESS"
    ready = api.wait_settled("pt")
    (served,) = ready["config"]["served_entities"]
    assert (served["min_provisioned_throughput"], served["max_provisioned_throughput"]) == (0, 950)
    assert served["instance_profile_arn"] == "arn:aws:iam::123456789012:instance-profile/s"
    assert serving.ServingEndpointDetailed.from_dict(ready).as_dict() == ready


def test_provisioned_throughput_with_a_workload_size_or_a_reversed_band_is_refused(api):
    sized = entity("1") | {"min_provisioned_throughput": 0, "max_provisioned_throughput": 950}
    assert _error(api.create("a", [sized])) == (400, "INVALID_PARAMETER_VALUE")
    reversed_band = {k: v for k, v in entity("1").items() if k != "workload_size"}
    reversed_band |= {"min_provisioned_throughput": 950, "max_provisioned_throughput": 0}
    assert _error(api.create("b", [reversed_band])) == (400, "INVALID_PARAMETER_VALUE")


def test_a_completions_model_answers_with_text_choices(api):
    api.create_ready("complete", [external("gpt-3.5-turbo-instruct", task="llm/v1/completions")])
    answer = api.invoke("complete", {"prompt": "ping", "max_tokens": 1}).json()
    assert answer["choices"] == [{"index": 0, "text": "pong"}]
    assert serving.QueryEndpointResponse.from_dict(answer).as_dict() == answer
