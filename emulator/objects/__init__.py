"""The read-only workspace objects a preflight looks up, one module per API family: Unity Catalog
(`unity_catalog`, `grants`), the workspace Model Registry (`model_registry`), SCIM principals (`scim`) and secret
scopes (`secret_scopes`). `emulator.workspace_objects` seeds them from the settings and routes the admin
API's changes to them."""
