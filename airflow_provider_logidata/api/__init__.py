"""The pipeline builder's backend: a FastAPI app mounted by the LogiData plugin at ``/logidata``.

Nothing is imported here on purpose: the plugin module is imported by every Airflow component
(scheduler, DAG processor, task runners), and only the api-server ever builds this app.
"""
