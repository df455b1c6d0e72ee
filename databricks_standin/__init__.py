"""A stand-in for `pulumi-resource-databricks` 1.118.0, for the real Pulumi CLI against the local emulator.

Why a stand-in: the Go module proxy these machines reach refuses every module the real provider is built
from (github.com/pulumi/pulumi-databricks/provider, github.com/databricks/terraform-provider-databricks,
github.com/databricks/databricks-sdk-go: "403 Forbidden, This module version is not available"; the exact
calls are in tools/README.md). Without a databricks plugin the real engine cannot run this program at all.

It serves the two resources the program declares, `databricks:index/modelServing:ModelServing` and
`databricks:index/permissions:Permissions`, with the behaviour read from terraform-provider-databricks'
source (`serving/resource_model_serving.go`, `permissions/`; README.md beside this file lists each rule
and where it was read): the same REST calls in the same order, the same waits, the same fields forcing a
replacement, the same computed fields, the deployer's own CAN_MANAGE added on every permissions write and
hidden on read. It is test infrastructure: a deployment to a real workspace uses the real provider.
"""
