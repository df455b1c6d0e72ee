"""Guardrails for serving endpoints, shared by the policy pack and the offline review.

- `policy.rules`: the rules, plain functions over a neutral resource shape (no Pulumi import);
- `policy.pack`: adapts pulumi_policy's arguments to that shape and builds the pack's policies;
- `policy/__main__.py`: the pack's entry point for `pulumi preview --policy-pack policy` (wiring only).
"""
