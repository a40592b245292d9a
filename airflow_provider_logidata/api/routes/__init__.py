"""Routes of the builder API, one module per resource."""
