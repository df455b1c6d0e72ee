"""The `servingops` resource provider plugin (gRPC-facing code only); the engine starts it through
`provider/pulumi-resource-servingops`. The work itself is in the Pulumi-free `serving` package."""
