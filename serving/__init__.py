"""What the provider plugin and the command-line tools share, free of Pulumi: the workspace client
(`serving.workspace`), proof that an endpoint serves (`serving.verification`) and staged traffic
shifting (`serving.traffic_shift`)."""
