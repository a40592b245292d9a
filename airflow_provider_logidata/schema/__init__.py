"""Design-time schemas: every node's output columns known without running, checked per field."""
