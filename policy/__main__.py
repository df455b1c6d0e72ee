"""The policy pack's entry point: `pulumi preview --policy-pack policy`. Wiring only.

The rules are in `policy/rules.py` (shared with the offline review, `python -m review`), their adaptation to
pulumi_policy in `policy/pack.py`. Never import this module: `PolicyPack` starts a gRPC server and blocks.
"""

import sys
from pathlib import Path

# The CLI runs the pack as `python -m pulumi.policy <engine> .` from this directory, so only `policy/` itself
# is on sys.path. The rules are the package `policy` (shared with the review) and read their limits from
# `components.config`: the project root goes first.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack

from policy.pack import PACK_NAME, policies

PolicyPack(
    name=PACK_NAME,
    policies=policies(),
    # Each policy sets its own level (see policy/rules.py); this only covers a policy that would not.
    enforcement_level=EnforcementLevel.ADVISORY,
)
