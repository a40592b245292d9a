"""Sandboxed templates of config strings: what renders, what is refused (and by which rule), and that a
real Airflow run and a preview both go through the sandbox.

The escapes table holds what Airflow's own Jinja would render for a pipeline editor: connection secrets,
variables, the task instance, Airflow's configuration, and walks into Python internals.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_logidata.security.errors import PolicyError
from airflow_provider_logidata.security.template_check import check_strings, check_template
from airflow_provider_logidata.security.template_rules import ALLOWED_NAMES, MAX_OUTPUT_CHARS
from airflow_provider_logidata.security.templates import (
    TemplateRenderError,
    render,
    render_config,
    safe_context,
    sample_context,
)

NOW = dt.datetime(2024, 5, 6, 15, 30, tzinfo=dt.timezone.utc)


@pytest.fixture
def context() -> dict[str, Any]:
    return sample_context(
        params={"region": "eu", "x": True, "n": 3, "k": "__class__", "nested": {"a": [1, 2]}},
        dag_id="orders",
        task_id="derive",
        now=NOW,
    )


ALLOWED = [
    ("{{ ds }}", "2024-05-06"),
    ("{{ ds_nodash }}", "20240506"),
    ("/out/orders_{{ ds_nodash }}.csv", "/out/orders_20240506.csv"),
    ("{{ ts }}", "2024-05-06T00:00:00+00:00"),
    ("{{ ts_nodash }}", "20240506T000000"),
    ("{{ macros.ds_add(ds, -1) }}", "2024-05-05"),
    ("{{ macros.ds_add(ds, 0) }}", "2024-05-06"),
    ("{{ macros.ds_format(ds, '%Y-%m-%d', '%d/%m/%Y') }}", "06/05/2024"),
    ("{{ params.region | upper }}", "EU"),
    ("{{ params['region'] }}", "eu"),
    ("{{ params.nested.a[1] }}", "2"),
    ("{{ params.get('missing', 'fallback') }}", "fallback"),
    ("{{ params.missing | default('d') }}", "d"),
    ("{{ logical_date.strftime('%Y') }}", "2024"),
    ("{{ logical_date.isoformat() }}", "2024-05-06T00:00:00+00:00"),
    ("{{ (logical_date + macros.timedelta(days=1)).strftime('%d') }}", "07"),
    ("{{ logical_date.replace(day=1).date() }}", "2024-05-01"),
    ("{{ data_interval_end - data_interval_start }}", "1 day, 0:00:00"),
    ("{{ macros.datetime(2024, 1, 2).strftime('%j') }}", "002"),
    ("{% if params.x %}a{% else %}b{% endif %}", "a"),
    ("{% if params.n > 5 %}big{% elif params.n > 1 %}mid{% else %}small{% endif %}", "mid"),
    ("{{ 'yes' if params.region in ['eu', 'us'] else 'no' }}", "yes"),
    ("{{ params.region is defined and params.other is not defined }}", "True"),
    ("{{ run_id }}/{{ dag_id }}/{{ task_id }}", "preview/orders/derive"),
    ("{{ ds | replace('-', '/') }}", "2024/05/06"),
    ("{{ 'a,b'.split(',') | join('|') }}", "a|b"),
    ("{{ params.n * 2 + 1 }}-{{ 7 // 2 }}-{{ 7 % 4 }}-{{ 2 ** 10 }}", "7-3-3-1024"),
    ("{{ 'ab' * 3 }}", "ababab"),
    ("{{ '  x ' | trim ~ '!' }}", "x!"),
    ("x{# a comment #}y", "xy"),
    ("{% raw %}{{ conn.x.password }}{% endraw %}", "{{ conn.x.password }}"),
    ("price * 1.2 {# no braces in SQL #}", "price * 1.2 "),
    ("line\n{{ ds }}\n", "line\n2024-05-06\n"),  # the trailing newline of SQL kept
    (
        "{{ [3, 4]|first }}{{ 'xy'|last }}{{ '41'|int + 1 }}{{ 2.5|round }}{{ -2|abs }}{{ 'abc'|length }}",
        "3y422.023",
    ),
    ("{% if 1 %}" * 20 + "deep" + "{% endif %}" * 20, "deep"),
]


@pytest.mark.parametrize(("text", "expected"), ALLOWED)
def test_allowed_templates_render(text: str, expected: str, context: dict[str, Any]) -> None:
    check_template(text)
    assert render(text, context) == expected


# (template, rule): each would reach beyond the allow-list through Airflow's Jinja.
ESCAPES = [
    ("{{ conn.x.password }}", "template-name"),
    ("{{ conn.logidata_secret.get_uri() }}", "template-name"),
    ("{{ var.value.secret }}", "template-name"),
    ("{{ var.json.settings }}", "template-name"),
    ("{{ ti.xcom_pull(task_ids='x') }}", "template-name"),
    ("{{ task_instance }}", "template-name"),
    ("{{ dag_run.conf }}", "template-name"),
    ("{{ conf.get('core', 'fernet_key') }}", "template-name"),
    ("{{ dag.fileloc }}", "template-name"),
    ("{{ task.owner }}", "template-name"),
    ("{{ inlets }}{{ outlets }}", "template-name"),
    ("{{ triggering_asset_events }}", "template-name"),
    ("{{ self }}", "template-name"),
    ("{{ lipsum.__globals__ }}", "template-name"),
    ("{{ cycler.__init__.__globals__.os }}", "template-name"),
    ("{{ namespace }}", "template-name"),
    ("{{ range(10) }}", "template-name"),
    ("{{ macros.os }}", "template-attribute"),
    ("{{ macros.json.dumps(params) }}", "template-attribute"),
    ("{{ params.__class__.__mro__ }}", "template-attribute"),
    ("{{ ''.__class__ }}", "template-attribute"),
    ("{{ (1).__class__ }}", "template-attribute"),
    ("{{ logical_date.__class__ }}", "template-attribute"),
    ("{{ macros.ds_add.__globals__ }}", "template-attribute"),
    ("{{ params['__class__'] }}", "template-attribute"),
    ("{{ params|attr('__class__') }}", "template-filter"),
    ("{{ params|map('upper')|list }}", "template-filter"),
    ("{{ params.values()|selectattr('x') }}", "template-filter"),
    ("{{ '%s'|format(ds) }}", "template-filter"),
    ("{{ ds|center(1000000000) }}", "template-filter"),
    ("{{ params is callable }}", "template-test"),
    ("{{ params.items() }}", "template-call"),
    ("{{ ds.format(ds) }}", "template-call"),
    ("{{ ds.zfill(1000000000) }}", "template-call"),
    ("{{ macros['ds_add'](ds, 1) }}", "template-call"),
    ("{{ macros.ds_add(*params) }}", "template-construct"),
    ("{% for i in range(10**9) %}x{% endfor %}", "template-construct"),
    ("{% include 'x' %}", "template-construct"),
    ("{% import 'os' as o %}", "template-construct"),
    ("{% from 'x' import y %}", "template-construct"),
    ("{% extends 'base' %}", "template-construct"),
    ("{% set x = 1 %}", "template-construct"),
    ("{% set x %}a{% endset %}", "template-construct"),
    ("{% macro m() %}x{% endmacro %}", "template-construct"),
    ("{% call m() %}x{% endcall %}", "template-construct"),
    ("{% filter upper %}x{% endfilter %}", "template-construct"),
    ("{% with a = 1 %}{{ a }}{% endwith %}", "template-construct"),
    ("{% block b %}x{% endblock %}", "template-construct"),
    ("{% autoescape false %}x{% endautoescape %}", "template-construct"),
    ("{{ ds", "template-syntax"),
    ("{% do x %}", "template-syntax"),
    ("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", "template-syntax"),
    ("{% if 1 %}" * 120 + "{% endif %}" * 120, "template-syntax"),  # Python could not compile it
    ("{{ ds" + "|upper" * 100 + " }}", "template-syntax"),
]


@pytest.mark.parametrize(("text", "rule"), ESCAPES)
def test_escapes_are_refused_with_their_rule(text: str, rule: str, context: dict[str, Any]) -> None:
    with pytest.raises(PolicyError) as refused:
        check_template(text)
    assert refused.value.rule == rule
    assert f"rule {rule}" in str(refused.value)
    # Refused again when rendering: a run never relies on validation having happened.
    with pytest.raises(PolicyError) as again:
        render(text, {**context, "conn": object(), "var": object(), "ti": object(), "conf": object()})
    assert again.value.rule == rule


def test_escape_table_is_large() -> None:
    assert len(ESCAPES) >= 25


def test_refusals_say_what_is_allowed() -> None:
    with pytest.raises(PolicyError, match="is not available") as refused:
        check_template("{{ conn.my_db.password }}")
    for name in ALLOWED_NAMES:
        assert name in str(refused.value)
    with pytest.raises(PolicyError, match=r"line 2: .*\{% raw %\}"):
        check_template("a\n{{ ds }\n")
    with pytest.raises(PolicyError, match=r"allowed filters: .*upper"):
        check_template("{{ ds|attr('x') }}")


# Refused only at render time: the value decides (a dynamic key) or the size would be too large.
RENDER_REFUSALS = [
    ("{{ params[params.k] }}", "template-attribute"),
    ("{{ params[('_' ~ '_class__')] }}", "template-attribute"),
    ("{{ 'a' * 100000000 }}", "template-size"),
    ("{{ [1] * 100000000 }}", "template-size"),
    ("{{ 'a' * 600000 }}{{ 'b' * 600000 }}", "template-size"),
    ("{{ 10 ** 100000000 }}", "template-size"),
    ("{{ '%0999999999d' % 1 }}", "template-construct"),
    ("{{ 'aaaaaaaaaa'" + "|replace('a', 'aaaaaaaaaa')" * 8 + " }}", "template-size"),
    ("{{ ('a' * 900000)|join('b' * 900000) }}", "template-size"),
]


@pytest.mark.parametrize(("text", "rule"), RENDER_REFUSALS)
def test_render_refuses_what_only_values_reveal(text: str, rule: str, context: dict[str, Any]) -> None:
    check_template(text)
    with pytest.raises(PolicyError) as refused:
        render(text, context)
    assert refused.value.rule == rule


def test_output_is_capped(context: dict[str, Any]) -> None:
    text = "x" * MAX_OUTPUT_CHARS + "{{ ds }}"
    with pytest.raises(PolicyError, match="longer than 1,000,000 characters") as refused:
        render(text, context)
    assert refused.value.rule == "template-size"


def test_render_errors_are_clear(context: dict[str, Any]) -> None:
    with pytest.raises(TemplateRenderError, match="has no attribute 'missing'"):
        render("{{ params.missing }}", context)
    with pytest.raises(TemplateRenderError, match="division by zero"):
        render("{{ 1 / 0 }}", context)
    # A run without a logical date (Airflow 3 manual runs) has no ds: said so, not an empty string.
    no_date = {key: value for key, value in context.items() if key not in ("ds", "logical_date")}
    with pytest.raises(TemplateRenderError, match=r"uses ds, which this run does not have.*logical date"):
        render("{{ ds }}", no_date)


def test_text_without_template_is_untouched(context: dict[str, Any]) -> None:
    for text in ("", "plain", "a {b} c", "regex \\d{2,4}", "{'a': 1}", "{ {", "trailing\n"):
        check_template(text)
        assert render(text, context) is text
    assert check_strings({"a": "{b}", "c": ["{", "}}"]}) == []


def test_context_is_only_the_allow_list(context: dict[str, Any]) -> None:
    leaky = {**context, "conn": "SECRET", "var": "SECRET", "conf": "SECRET", "ti": "SECRET"}
    assert render("{{ ds }}", leaky) == "2024-05-06"
    # A name that is allowed by the checker but absent from the values stays absent (not Airflow's).
    assert "SECRET" not in render("{{ params }}", leaky)


def test_check_strings_gives_paths() -> None:
    config = {
        "columns": [
            {"name": "ok", "expression": "'{{ ds }}'"},
            {"name": "leak", "expression": "'{{ conn.db.password }}'"},
        ],
        "path": "/out/{{ var.value.x }}.csv",
        "options": {"sep": "{% for x in y %}{% endfor %}", "n": 3},
    }
    found = {path: error.rule for path, error in check_strings(config)}
    assert found == {
        "columns[1].expression": "template-name",
        "path": "template-name",
        "options.sep": "template-construct",
    }
    assert check_strings("{{ ti }}")[0][0] == ""


def test_render_config_renders_nested_strings_only(context: dict[str, Any]) -> None:
    config = {
        "path": "/out/{{ ds_nodash }}.csv",
        "{{ key }}": ["{{ params.region }}", 3, None, True, {"deep": "{{ macros.ds_add(ds, 1) }}"}],
    }
    assert render_config(config, context) == {
        "path": "/out/20240506.csv",
        "{{ key }}": ["eu", 3, None, True, {"deep": "2024-05-07"}],
    }
    with pytest.raises(
        PolicyError, match=r"^columns\[0\]\.expression: template refused \(rule template-name\)"
    ):
        render_config({"columns": [{"expression": "{{ conn.x.password }}"}]}, context)
    with pytest.raises(TemplateRenderError, match=r"^path: the template failed to render"):
        render_config({"path": "{{ params.nope }}"}, context)


def test_safe_context_from_an_airflow_context() -> None:
    import pendulum
    from airflow.sdk.definitions.param import ParamsDict

    logical = pendulum.datetime(2024, 5, 6, 1, 2, 3, tz="Europe/Paris")

    class Task:
        task_id = "derive"
        dag_id = "orders"

    airflow_context: dict[str, Any] = {
        "ds": "2024-05-06",
        "ds_nodash": "20240506",
        "ts": logical.isoformat(),
        "ts_nodash": "20240506T010203",
        "logical_date": logical,
        "data_interval_start": logical,
        "data_interval_end": logical.add(days=1),
        "params": ParamsDict({"region": "eu", "list": [1, {"a": None}]}),
        "run_id": "manual__x",
        "dag": Task(),
        "task": Task(),
        "ti": Task(),
        "conn": object(),
        "var": {"value": object()},
        "conf": object(),
        "dag_run": object(),
        "macros": object(),
    }
    safe = safe_context(airflow_context)
    assert set(safe) == set(ALLOWED_NAMES)
    assert safe["params"] == {"region": "eu", "list": [1, {"a": None}]}
    assert type(safe["params"]) is dict
    assert type(safe["logical_date"]) is dt.datetime  # pendulum's wider surface stays out
    assert safe["logical_date"] == logical
    assert (safe["dag_id"], safe["task_id"], safe["run_id"]) == ("orders", "derive", "manual__x")
    assert safe["macros"] is not airflow_context["macros"]
    assert render("{{ logical_date.strftime('%H:%M %z') }}", safe) == "01:02 +0200"
    # A run without a logical date: its date names are absent, the others still there.
    bare = safe_context({"run_id": "r", "params": {}})
    assert set(bare) == {"run_id", "params", "macros"}


def test_sample_context_is_today_at_midnight_utc() -> None:
    sample = sample_context(params={"a": 1}, dag_id="p", task_id="n")
    today = dt.datetime.now(dt.timezone.utc).date()
    assert sample["logical_date"] == dt.datetime.combine(today, dt.time(), tzinfo=dt.timezone.utc)
    assert sample["ds"] == today.isoformat()
    assert (sample["run_id"], sample["dag_id"], sample["task_id"], sample["params"]) == (
        "preview",
        "p",
        "n",
        {"a": 1},
    )


def test_check_is_cheap_for_plain_text() -> None:
    import time

    texts = [f"/data/orders_{i}.csv" for i in range(20_000)]
    started = time.perf_counter()
    for text in texts:
        check_template(text)
    assert time.perf_counter() - started < 0.5  # ~0.1 us each; a parse would be ~40 us


# --- operators ----------------------------------------------------------------------------------------


def test_operator_renders_config_in_the_sandbox() -> None:
    from airflow.sdk import DAG

    from airflow_provider_logidata.engine.errors import LogiDataTaskError
    from airflow_provider_logidata.operators.transforms import DeriveColumnOperator

    with DAG("tpl_unit", schedule=None):
        op = DeriveColumnOperator(
            task_id="derive",
            config={"columns": [{"name": "leak", "expression": "'{{ conn.db.password }}'"}]},
        )
    airflow_like = {"conn": {"db": {"password": "s3cret"}}, "ds_nodash": "20240506"}
    with pytest.raises(LogiDataTaskError) as failed:
        op.render_template_fields(airflow_like)  # type: ignore[arg-type]
    message = str(failed.value)
    assert message.startswith("derive_column node 'derive': config field columns[0].expression: ")
    assert "rule template-name" in message and "s3cret" not in message
    assert "conn" in op.config["columns"][0]["expression"]  # left unrendered

    # A mapped task's unmapped copy is rendered through _do_render_template_fields directly.
    with DAG("tpl_unit_mapped", schedule=None):
        ok = DeriveColumnOperator(
            task_id="derive", config={"columns": [{"name": "day", "expression": "'{{ ds_nodash }}'"}]}
        )
    ok._do_render_template_fields(ok, ok.template_fields, airflow_like, None, set())  # type: ignore[arg-type]
    assert ok.config["columns"][0]["expression"] == "'20240506'"


def test_other_template_fields_of_a_subclass_keep_airflow_rendering() -> None:
    from airflow.sdk import DAG

    from airflow_provider_logidata.operators.transforms import DeriveColumnOperator

    class Noted(DeriveColumnOperator):
        """A DAG author's subclass with a field of its own (DAG code is trusted, config is not)."""

        template_fields = (*DeriveColumnOperator.template_fields, "note")

        def __init__(self, *, note: str, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.note = note

    with DAG("tpl_unit_subclass", schedule=None):
        op = Noted(
            task_id="derive",
            note="{{ ds_nodash }}-{{ extra }}",
            config={"columns": [{"name": "day", "expression": "'{{ ds_nodash }}'"}]},
        )
    op.render_template_fields({"ds_nodash": "20240506", "extra": "author"})  # type: ignore[arg-type]
    assert op.note == "20240506-author"
    assert op.config["columns"][0]["expression"] == "'20240506'"


# --- previews -----------------------------------------------------------------------------------------


def _preview_pipeline(path: str, expression: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "spec_version": 1,
        "id": "tpl_preview",
        "params": params or {},
        "nodes": [
            {"id": "read", "module": "source.file", "config": {"path": path}},
            {
                "id": "derive",
                "module": "derive_column",
                "config": {"columns": [{"name": "tag", "expression": expression}]},
            },
        ],
        "edges": [{"source": "read", "target": "derive"}],
    }


def test_preview_renders_templates_like_a_run(tmp_path: Path) -> None:
    from airflow_provider_logidata.preview.execute import run_plan
    from airflow_provider_logidata.preview.plan import plan_preview

    today = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d")
    (tmp_path / f"in_{today}.csv").write_text("id\n1\n2\n")
    data = _preview_pipeline(
        str(tmp_path / "in_{{ ds_nodash }}.csv"),
        "'{{ params.region | upper }}-{{ run_id }}'",
        {"region": "eu"},
    )
    plan = plan_preview(data, "derive")
    assert plan.node("read").config["path"] == str(tmp_path / f"in_{today}.csv")
    assert plan.target.config["columns"][0]["expression"] == "'EU-preview'"
    answer = run_plan(plan)
    assert answer["rows"] == [[1, "EU-preview"], [2, "EU-preview"]]
    # The key hashes the rendered configs: another param value is another preview.
    other = copy.deepcopy(data)
    other["params"] = {"region": "us"}
    assert plan_preview(other, "derive").key != plan.key
    assert plan_preview(data, "derive").key == plan.key


@pytest.mark.parametrize(
    ("expression", "found"),
    [
        ("'{{ conn.logidata_secret.password }}'", "rule template-name"),
        ("'{{ params.__class__ }}'", "rule template-attribute"),
        ("'{{ params.missing }}'", "failed to render"),
    ],
)
def test_preview_refuses_templates_with_422_naming_node_and_field(
    tmp_path: Path, expression: str, found: str
) -> None:
    from airflow_provider_logidata.preview.plan import InvalidUpstream, plan_preview

    (tmp_path / "in.csv").write_text("id\n1\n")
    data = _preview_pipeline(str(tmp_path / "in.csv"), expression)
    with pytest.raises(InvalidUpstream) as refused:
        plan_preview(data, "derive")
    assert refused.value.status == 422
    assert "derive" in refused.value.detail and found in refused.value.detail
    issue = refused.value.errors[0]
    assert issue["node_id"] == "derive"
    assert issue["path"].startswith("nodes[1].config")
    assert "columns[0].expression" in issue["path"] + issue["message"]


# --- real Airflow runs --------------------------------------------------------------------------------


SECRET_DAG = """
import datetime as dt

from airflow.sdk import DAG, BaseOperator

from airflow_provider_logidata.operators.transforms import DeriveColumnOperator
from airflow_provider_logidata.operators.destinations import FileDestinationOperator
from airflow_provider_logidata.operators.sources import FileSourceOperator

LEAK = "'{{{{ conn.logidata_secret.password }}}}'"


class Control(BaseOperator):
    \"\"\"Airflow's own rendering of the same template: proves the secret is reachable there.\"\"\"

    template_fields = ("text",)

    def __init__(self, *, text, **kwargs):
        super().__init__(**kwargs)
        self.text = text

    def execute(self, context):
        return self.text.startswith("'s3cret-")


with DAG({dag_id!r}, schedule=None, start_date=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)) as dag:
    read = FileSourceOperator(task_id="read", config={{"path": {source!r}}})
    derive = DeriveColumnOperator(
        task_id="derive", config={{"columns": [{{"name": "leak", "expression": "1"}}]}}, inputs=[read]
    )
    # Set after construction, as a stored file edited behind the validator's back would carry it: the
    # run's own rendering is what must refuse.
    derive.config = {{"columns": [{{"name": "leak", "expression": LEAK}}]}}
    FileDestinationOperator(task_id="write", config={{"path": {out!r}}}, inputs=[derive])
    Control(task_id="control", text=LEAK)
"""


@pytest.mark.integration
def test_run_refuses_a_secret_template_and_leaks_nothing(
    dags_folder: Path,
    airflow_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    import importlib.util

    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    secret = f"s3cret-{uuid.uuid4().hex}"
    monkeypatch.setenv(
        "AIRFLOW_CONN_LOGIDATA_SECRET", json.dumps({"conn_type": "generic", "login": "u", "password": secret})
    )
    assert check_strings({"columns": [{"expression": "'{{ conn.logidata_secret.password }}'"}]})
    source = tmp_path / "in.csv"
    source.write_text("id\n1\n2\n")
    out = tmp_path / "out.csv"
    dag_id = f"tpl_secret_{uuid.uuid4().hex[:8]}"
    # dag.test() finds the DAG in a bundle: it lives in the dags folder for the test's duration.
    dag_file = dags_folder / f"{dag_id}.py"
    dag_file.write_text(SECRET_DAG.format(dag_id=dag_id, source=str(source), out=str(out)))
    try:
        spec = importlib.util.spec_from_file_location(dag_id, dag_file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        dag_run = module.dag.test(logical_date=dt.datetime(2024, 5, 6, tzinfo=dt.timezone.utc))
    finally:
        dag_file.unlink()

    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert states == {"read": "success", "derive": "failed", "write": "upstream_failed", "control": "success"}
    logs = capfd.readouterr()
    text = logs.out + logs.err + caplog.text
    assert "rule template-name" in text and "'conn' is not available" in text
    assert secret not in text
    assert not out.exists()
    with create_session() as session:
        xcoms = session.query(XComModel).filter(XComModel.dag_id == dag_id).all()
        rendered = session.query(RenderedTaskInstanceFields).filter_by(dag_id=dag_id).all()
    # Airflow's own Jinja did reach the secret (the control task saw it): the refusal is LogiData's.
    assert [x.value for x in xcoms if x.task_id == "control"] in ([True], ["true"])
    assert all(x.task_id != "derive" for x in xcoms)
    assert secret not in json.dumps([x.value for x in xcoms], default=str)
    assert secret not in json.dumps(
        [r.rendered_fields for r in rendered if r.task_id != "control"], default=str
    )
    for root in (tmp_path, airflow_home / "staging"):
        for path in root.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path


@pytest.mark.integration
def test_run_renders_allowed_templates(run_pipeline: Any, tmp_path: Path) -> None:
    import csv

    source = tmp_path / "in.csv"
    source.write_text("id\n1\n2\n")
    spec = {
        "id": f"tpl_ok_{uuid.uuid4().hex[:8]}",
        "params": {"region": "eu"},
        "nodes": [
            {"id": "read", "module": "source.file", "config": {"path": str(source)}},
            {
                "id": "derive",
                "module": "derive_column",
                "config": {
                    "columns": [
                        {"name": "region", "expression": "'{{ params.region | upper }}'"},
                        {"name": "day", "expression": "'{{ macros.ds_add(ds, -1) }}'"},
                    ]
                },
            },
            {
                "id": "write",
                "module": "destination.file",
                "config": {"path": str(tmp_path / "out_{{ ds_nodash }}.csv"), "format": "csv"},
            },
        ],
        "edges": [{"source": "read", "target": "derive"}, {"source": "derive", "target": "write"}],
    }
    dag_run, _ = run_pipeline(spec, logical_date=dt.datetime(2024, 5, 6, tzinfo=dt.timezone.utc))
    assert str(dag_run.state) == "success", {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    with (tmp_path / "out_20240506.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows == [
        {"id": "1", "region": "EU", "day": "2024-05-05"},
        {"id": "2", "region": "EU", "day": "2024-05-05"},
    ]
