"""One policy for every untrusted pipeline field (paths, templates, SQL, callables, connections).

A pipeline editor (Airflow's User role) may edit and trigger DAGs but not deploy code, read secrets or
Airflow's configuration. Every field of a pipeline is therefore checked here, by the same code, when a
pipeline is validated (store, CLI, builder), when the DAG factory builds it, when the builder previews it
and when a worker runs it. Light at import time: the DAG processor imports the validators on every parse.
"""
