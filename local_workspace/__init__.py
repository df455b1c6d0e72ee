"""The local workspace: a stack deployed with the real `pulumi` CLI into the workspace emulator.

`python -m local_workspace up --stack dev` (what `make up` runs) starts the emulator on loopback with its
state kept in `.local/emulator/` (so a second run finds what the first one deployed), runs the real engine
(tools/engine.sh: local file backend, passphrase secrets, nothing downloaded) on the project, prints the
stack outputs and the live drift report, and stops the emulator.

The engine runs on `.local/project/`: links to this checkout's program (`Pulumi.yaml`, `__main__.py`,
`components/`, ...) beside a copy of `Pulumi.<stack>.yaml` whose `databricks:host` is the emulator's URL.
Why a copy: the stack file names the real workspace, and `pulumi stack init` writes its `encryptionsalt`
into the stack file and re-serialises it (seen: `1200.0` became `1200`); the repository's stack files stay as
they are. Every other value is the stack file's own, so this is the stack a real `pulumi up` deploys.
"""
