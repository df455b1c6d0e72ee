"""Reading the running stack's config inside a Pulumi program: the only module of the package importing `pulumi`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from components.config.endpoint import StackConfig
from components.config.limits import CREDENTIAL_KEYS, PROJECT, PROVIDER_NAMESPACE, STACK_FILE_VARIABLE
from components.config.messages import namespace_messages, parse_stack_config, stack_file_messages
from components.config.monitoring import secret_config_keys


def _own_stack_file(stack: str) -> Path | None:
    """The stack file the program checks: `$DATABRICKS_SERVING_STACK_FILE`, else the project's own."""
    import pulumi

    named = os.environ.get(STACK_FILE_VARIABLE)
    if named is not None:
        return Path(named) if named else None
    root = Path(pulumi.get_root_directory() or os.getcwd())
    if not root.is_dir():  # the SDK's mock settings name no real directory
        root = Path.cwd()
    path = root / f"Pulumi.{stack}.yaml"
    return path if path.is_file() else None


def load_stack_config() -> StackConfig:
    """Read and validate the running stack's config (inside a Pulumi program).

    The values are the engine's (what the Pulumi CLI read from the stack file, secrets decrypted); the
    stack file itself is read too, for what only its text shows (duplicate keys, YAML 1.1 booleans and
    octal numbers), so that `pulumi up` and the offline review give the same message.
    """
    import pulumi
    from pulumi.runtime.config import CONFIG, get_config, get_config_env, is_config_secret

    from components.written_numbers import with_written_number_types, written_config

    stack = pulumi.get_stack()
    keys = sorted({**get_config_env(), **CONFIG.get()})
    values: dict[str, Any] = {}
    for key in StackConfig.model_fields:
        raw = get_config(f"{PROJECT}:{key}")
        if raw is None:
            continue
        if raw == "":
            values[key] = None  # `endpoints:` with nothing under it: "must be a map ..., not empty"
            continue
        try:
            values[key] = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            values[key] = raw  # plain text where a map is expected: the model says so, with its key path
    plaintext = {key: not is_config_secret(key) for key in CREDENTIAL_KEYS if get_config(key)}
    own_file = _own_stack_file(stack)
    # The CLI's JSON writes a whole float as an int (`1200.0` -> 1200); the file says which were floats.
    values = with_written_number_types(values, written_config(own_file, PROJECT))
    # Keys a notification destination names hold its secrets: read by the program, and only ever `secure:`.
    secret_names = secret_config_keys(values)
    config_secrets = {
        name: is_config_secret(f"{PROJECT}:{name}") for name in secret_names if get_config(f"{PROJECT}:{name}")
    }
    read_keys = {f"{PROJECT}:{name}" for name in secret_names}
    file_problems = stack_file_messages(own_file) + namespace_messages(key for key in keys if key not in read_keys)
    # The identity the Permissions resource keeps at CAN_MANAGE: the stack's OAuth client, else the environment's.
    deployer = get_config(f"{PROVIDER_NAMESPACE}:clientId") or os.environ.get("DATABRICKS_CLIENT_ID")
    return parse_stack_config(
        stack,
        values,
        plaintext,
        stack_file_problems=file_problems,
        deployer=deployer,
        config_secrets=config_secrets,
    )
