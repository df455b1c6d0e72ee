"""External models and provisioned throughput in the emulator: what the serving API accepts, and the
answers an external model gives (canned: the emulator never calls a provider).

Rules as databricks-sdk 0.156 `ServedEntityInput` and `ExternalModel` document them: an external model
comes alone, without entity_name, entity_version, workload_size, workload_type or scale_to_zero_enabled;
its provider is one of `ExternalModelProvider` and its config block is `<provider>_config`; every external
model of an endpoint has the same task; an endpoint never changes between external and other entities.
"""

from __future__ import annotations

from typing import Any

from emulator.errors import bad_request, invalid_parameter

PROVIDERS = (
    "ai21labs",
    "amazon-bedrock",
    "anthropic",
    "cohere",
    "custom",
    "databricks-model-serving",
    "google-cloud-vertex-ai",
    "openai",
    "palm",
)
"""databricks-sdk `ExternalModelProvider`."""
TASKS = ("llm/v1/chat", "llm/v1/completions", "llm/v1/embeddings")
# What a custom entity says about compute; none of it goes beside an external model.
COMPUTE_FIELDS = ("entity_name", "entity_version", "workload_size", "workload_type", "scale_to_zero_enabled")


def config_field(provider: str) -> str:
    return provider.replace("-", "_") + "_config"


def check_external_model(name: str, external: dict[str, Any], given: dict[str, Any]) -> None:
    """An external model entity as the API refuses it: missing fields, compute beside it, unknown provider,
    no or another provider's config block. `given`: the entity's other fields as sent."""
    compute = [field for field in COMPUTE_FIELDS if given.get(field) is not None]
    if compute:
        raise invalid_parameter(
            f"Served entity '{name}': external_model cannot be specified with {', '.join(compute)}."
        )
    for field in ("name", "provider", "task"):
        if not external.get(field):
            raise invalid_parameter(f"Served entity '{name}': external_model.{field} is required.")
    provider = external["provider"]
    if provider not in PROVIDERS:
        raise invalid_parameter(
            f"Served entity '{name}': external_model.provider '{provider}' is not supported; use one of "
            f"{list(PROVIDERS)}."
        )
    configs = [key for key in external if key.endswith("_config")]
    if configs != [config_field(provider)]:
        raise invalid_parameter(
            f"Served entity '{name}': provider '{provider}' takes exactly one config, {config_field(provider)}; "
            f"given {configs or 'none'}."
        )


def check_endpoint_kinds(external: list[bool], tasks: list[str]) -> None:
    """An endpoint's entities are all external models or none; external models share one task."""
    if any(external) and not all(external):
        raise invalid_parameter("An endpoint cannot serve external models together with other served entities.")
    if len(set(tasks)) > 1:
        raise invalid_parameter(
            f"All external models of an endpoint must have the same task; found {sorted(set(tasks))}."
        )


def check_kind_kept(was_external: bool, is_external: bool) -> None:
    """SDK: an endpoint created with external models cannot be updated to one without, nor the reverse."""
    if was_external != is_external:
        raise invalid_parameter(
            "An endpoint with external models cannot be updated to serve other entities, and an endpoint "
            "without external models cannot be updated to serve them."
        )


def check_throughput(name: str, low: int | None, high: int | None, units: int | None) -> None:
    """Provisioned throughput: a band (both bounds, 0 <= min <= max, max > 0) or model units (> 0)."""
    band = low is not None or high is not None
    if band and units is not None:
        raise invalid_parameter(
            f"Served entity '{name}': set either min/max_provisioned_throughput or provisioned_model_units."
        )
    if band and (low is None or high is None or low < 0 or high <= 0 or low > high):
        raise invalid_parameter(
            f"Served entity '{name}': provisioned throughput needs 0 <= min_provisioned_throughput <= "
            "max_provisioned_throughput, max > 0."
        )
    if units is not None and units <= 0:
        raise invalid_parameter(f"Served entity '{name}': provisioned_model_units must be positive.")


def answer(task: str, model: str, body: dict[str, Any]) -> dict[str, Any]:
    """A canned answer in the task's response shape (OpenAI-compatible, as Databricks returns it), after the
    request shape is checked as the serving API does (400 for a body the task does not take)."""
    if task == "llm/v1/chat":
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise bad_request("A chat request needs a non-empty `messages` list.")
        return {
            "id": "chatcmpl-emulator",
            "object": "chat.completion",
            "model": model,
            # No finish_reason: the sdk's V1ResponseChoiceElement reads it as `finishReason`, the API as
            # OpenAI spells it; left out, the answer parses the same both ways.
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "pong"}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
    if task == "llm/v1/completions":
        if not isinstance(body.get("prompt"), (str, list)):
            raise bad_request("A completions request needs a `prompt`.")
        return {
            "id": "cmpl-emulator",
            "object": "text_completion",
            "model": model,
            "choices": [{"index": 0, "text": "pong"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
    if not isinstance(body.get("input"), (str, list)):
        raise bad_request("An embeddings request needs an `input`.")
    return {
        "object": "list",
        "model": model,
        "data": [{"object": "embedding", "index": 0, "embedding": [0.0, 0.0, 0.0, 0.0]}],
        "usage": {"prompt_tokens": 1, "total_tokens": 1},
    }
