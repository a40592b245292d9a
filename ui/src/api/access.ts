// What the user may do with one pipeline: Airflow's DAG permissions on its dag_id (= pipeline id), as
// `GET /me?pipeline_id=` answers them. Auth managers with per-DAG grants (FAB, Keycloak, ...) may allow
// editing or triggering some DAGs only, so the general answer of `GET /me` cannot decide the editor's mode.
import { useEffect, useState } from "react";
import { t } from "../i18n";
import { api } from "./client";

export interface Access {
  canEdit: boolean;
  canRun: boolean;
}

/**
 * The user's access to `pipelineId` (null while asking). When the API does not answer, the general
 * access is used: every save and run is still checked by the API.
 */
export function usePipelineAccess(pipelineId: string, general: Access): Access | null {
  const [access, setAccess] = useState<Access | null>(null);
  const { canEdit, canRun } = general;
  useEffect(() => {
    let live = true;
    setAccess(null);
    api.me(pipelineId).then(
      (me) => live && setAccess({ canEdit: me.can_edit, canRun: me.can_run }),
      () => live && setAccess({ canEdit, canRun }),
    );
    return () => {
      live = false;
    };
  }, [pipelineId, canEdit, canRun]);
  return access;
}

/** Why "Run now" is disabled, the first reason that applies (the missing permission first), else what it does. */
export function runTitle(state: { pipelineId: string; access: Access; status: string; dirty: boolean; dagFound: boolean | null }): string {
  const { pipelineId, access, status, dirty, dagFound } = state;
  if (!access.canRun) return t("Your Airflow role may not trigger runs of DAG '{dag}': running it needs DAG run create permission on it", { dag: pipelineId });
  if (status !== "active") {
    return access.canEdit ? t("Save as active first: drafts have no DAG") : t("A draft has no DAG: someone who may edit this pipeline must save it as active");
  }
  if (dirty) return t("Save your changes first");
  if (dagFound !== true) return t("Waiting for Airflow to parse the DAG");
  return t("Trigger a DAG run now");
}

/** The read-only banner: what the user may still do and which permission editing needs. */
export function readOnlyText(pipelineId: string, access: Access): string {
  return access.canRun
    ? t("Read-only: your Airflow role may view and run this pipeline but not change it (that needs DAG edit permission on DAG '{dag}').", { dag: pipelineId })
    : t("Read-only: your Airflow role may view this pipeline but not change or run it (that needs DAG edit and DAG run create permission on DAG '{dag}').", { dag: pipelineId });
}
