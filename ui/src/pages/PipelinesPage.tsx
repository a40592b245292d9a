// The pipelines list: search, create, duplicate, delete, import/export, status and last run at a glance.
import { Badge, Box, Button, CloseButton, Dialog, Field, Flex, Heading, HStack, Input, Link, Portal, Spinner, Stack, Table, Text } from "@chakra-ui/react";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api } from "../api/client";
import type { PipelineSummary, Spec } from "../api/types";
import { ErrorBox, formatDate, StateBadge, statusLabel } from "../components";
import { t as translateNow, useT } from "../i18n";
import { hrefFor, navigate } from "../router";
import { DeletedPipelines } from "./DeletedPipelines";

const ID_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_-]*$/;

export function newSpec(id: string, name: string, owner: string): Spec {
  return {
    spec_version: 1,
    id,
    name: name || id,
    description: "",
    owner: owner || "logidata",
    tags: [],
    schedule: null,
    start_date: new Date().toISOString().slice(0, 10),
    catchup: false,
    retries: 1,
    retry_delay: 60,
    params: {},
    status: "draft",
    fuse: "none",
    fuse_chains: false,
    engine: "auto",
    nodes: [],
    edges: [],
  };
}

export function filterPipelines(all: PipelineSummary[], query: string): PipelineSummary[] {
  const q = query.trim().toLowerCase();
  if (!q) return all;
  // The status as shown too: a French user searches "brouillon".
  return all.filter((p) => [p.id, p.name, p.description ?? "", p.status, statusLabel(p.status), ...(p.tags ?? [])].some((s) => s.toLowerCase().includes(q)));
}

export function downloadJson(filename: string, data: unknown): void {
  const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2) + "\n"], { type: "application/json" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

interface Props {
  canEdit: boolean;
  username: string;
}

type DialogState = { kind: "create" } | { kind: "duplicate"; source: PipelineSummary } | { kind: "delete"; target: PipelineSummary } | null;

export function PipelinesPage({ canEdit, username }: Props) {
  const t = useT();
  const [pipelines, setPipelines] = useState<PipelineSummary[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [query, setQuery] = useState("");
  const [dialog, setDialog] = useState<DialogState>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  // Read the trash again whenever the list is: a delete moved a pipeline there.
  const [trashKey, setTrashKey] = useState(0);

  const reload = useCallback(() => {
    api.pipelines().then(
      (list) => {
        setPipelines(list);
        setError(null);
        setTrashKey((k) => k + 1);
      },
      (e: unknown) => setError(e),
    );
  }, []);
  useEffect(reload, [reload]);

  const shown = useMemo(() => filterPipelines(pipelines ?? [], query), [pipelines, query]);

  const importFile = async (file: File) => {
    try {
      const spec = JSON.parse(await file.text()) as unknown;
      const stored = await api.importSpec(spec);
      navigate({ page: "pipeline", id: String(stored.pipeline.id) });
    } catch (e) {
      setError(e instanceof SyntaxError ? new Error(t("{file} is not valid JSON: {error}", { file: file.name, error: e.message })) : e);
    }
  };

  return (
    <Stack p="4" gap="4" h="full" overflow="auto">
      <Flex align="center" gap="3" wrap="wrap">
        <Heading size="lg">{t("Pipelines")}</Heading>
        <Input
          maxW="320px"
          size="sm"
          placeholder={t("Search by name, id, tag or status")}
          aria-label={t("Search pipelines")}
          value={query}
          onChange={(e) => setQuery(e.target.value)}
        />
        <Box flex="1" />
        {canEdit && (
          <HStack>
            <Button size="sm" variant="outline" onClick={() => fileInput.current?.click()}>
              {t("Import JSON")}
            </Button>
            <input
              ref={fileInput}
              type="file"
              accept="application/json,.json"
              hidden
              data-testid="import-file"
              onChange={(e) => {
                const file = e.target.files?.[0];
                e.target.value = "";
                if (file) void importFile(file);
              }}
            />
            <Button size="sm" colorPalette="brand" onClick={() => setDialog({ kind: "create" })}>
              {t("New pipeline")}
            </Button>
          </HStack>
        )}
      </Flex>
      <ErrorBox error={error} />
      {pipelines === null && !error ? (
        <Spinner />
      ) : (
        <Table.Root size="sm" interactive data-testid="pipelines-table">
          <Table.Header>
            <Table.Row>
              <Table.ColumnHeader>{t("Pipeline")}</Table.ColumnHeader>
              <Table.ColumnHeader>{t("Status")}</Table.ColumnHeader>
              <Table.ColumnHeader>{t("Nodes")}</Table.ColumnHeader>
              <Table.ColumnHeader>{t("Last run")}</Table.ColumnHeader>
              <Table.ColumnHeader>{t("Saved")}</Table.ColumnHeader>
              <Table.ColumnHeader textAlign="end">{t("Actions")}</Table.ColumnHeader>
            </Table.Row>
          </Table.Header>
          <Table.Body>
            {shown.map((p) => (
              <Table.Row key={p.id} data-pipeline={p.id}>
                <Table.Cell>
                  <Link href={hrefFor({ page: "pipeline", id: p.id })} fontWeight="semibold">
                    {p.name || p.id}
                  </Link>
                  <Text fontSize="xs" color="fg.muted">
                    {p.id}
                    {p.tags?.length ? ` · ${p.tags.join(", ")}` : ""}
                  </Text>
                </Table.Cell>
                <Table.Cell>
                  <HStack gap="1">
                    <Badge colorPalette={p.status === "active" ? "blue" : "gray"}>{statusLabel(p.status, t)}</Badge>
                    {!p.valid && (
                      <Badge colorPalette="red" title={p.error ?? t("invalid")}>
                        {t("invalid")}
                      </Badge>
                    )}
                  </HStack>
                </Table.Cell>
                <Table.Cell>{p.node_count}</Table.Cell>
                <Table.Cell>
                  {p.last_run ? (
                    <HStack gap="2">
                      <StateBadge state={p.last_run.state} />
                      <Text fontSize="xs">{formatDate(p.last_run.start_date)}</Text>
                    </HStack>
                  ) : (
                    <Text fontSize="xs" color="fg.muted">
                      {t("never")}
                    </Text>
                  )}
                </Table.Cell>
                <Table.Cell fontSize="xs">{formatDate(p.saved_at)}</Table.Cell>
                <Table.Cell textAlign="end">
                  <HStack justify="end" gap="1">
                    <Button size="xs" variant="ghost" onClick={() => api.exportSpec(p.id).then((s) => downloadJson(`${p.id}.json`, s), setError)}>
                      {t("Export")}
                    </Button>
                    {canEdit && (
                      <>
                        <Button size="xs" variant="ghost" onClick={() => setDialog({ kind: "duplicate", source: p })}>
                          {t("Duplicate")}
                        </Button>
                        <Button size="xs" variant="ghost" colorPalette="red" onClick={() => setDialog({ kind: "delete", target: p })}>
                          {t("Delete")}
                        </Button>
                      </>
                    )}
                  </HStack>
                </Table.Cell>
              </Table.Row>
            ))}
            {!shown.length && (
              <Table.Row>
                <Table.Cell colSpan={6}>
                  <Text color="fg.muted" py="4" textAlign="center">
                    {pipelines?.length ? t("No pipeline matches the search.") : canEdit ? t("No pipelines yet: create one or import a JSON file.") : t("No pipelines yet.")}
                  </Text>
                </Table.Cell>
              </Table.Row>
            )}
          </Table.Body>
        </Table.Root>
      )}
      <DeletedPipelines canEdit={canEdit} reloadKey={trashKey} onRestored={(id) => navigate({ page: "pipeline", id })} />
      <PipelineDialog
        state={dialog}
        username={username}
        onClose={() => setDialog(null)}
        onDone={(id) => {
          setDialog(null);
          if (id) navigate({ page: "pipeline", id });
          else reload();
        }}
      />
    </Stack>
  );
}

function PipelineDialog({ state, username, onClose, onDone }: { state: DialogState; username: string; onClose: () => void; onDone: (openId: string | null) => void }) {
  const t = useT();
  const [id, setId] = useState("");
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    setError(null);
    setBusy(false);
    if (state?.kind === "duplicate") {
      setId(`${state.source.id}_copy`);
      setName(translateNow("{name} (copy)", { name: state.source.name || state.source.id }));
    } else {
      setId("");
      setName("");
    }
  }, [state]);

  if (!state) return null;
  const idProblem = state.kind !== "delete" && id && !ID_PATTERN.test(id) ? t("Letters, digits, _ and - only; it becomes the Airflow dag_id.") : null;

  const submit = async () => {
    setBusy(true);
    setError(null);
    try {
      if (state.kind === "create") {
        await api.create(newSpec(id, name, username));
        onDone(id);
      } else if (state.kind === "duplicate") {
        await api.duplicate(state.source.id, id, name || undefined);
        onDone(id);
      } else {
        await api.remove(state.target.id, state.target.etag);
        onDone(null);
      }
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };

  const title =
    state.kind === "create" ? t("New pipeline") : state.kind === "duplicate" ? t("Duplicate {id}", { id: state.source.id }) : t("Delete {id}?", { id: state.target.id });
  return (
    <Dialog.Root open onOpenChange={(e) => !e.open && onClose()} placement="center">
      <Portal>
        <Dialog.Backdrop />
        <Dialog.Positioner>
          <Dialog.Content>
            <Dialog.Header>
              <Dialog.Title>{title}</Dialog.Title>
            </Dialog.Header>
            <Dialog.Body>
              <form
                id="pipeline-dialog-form"
                onSubmit={(e) => {
                  e.preventDefault();
                  void submit();
                }}
              >
                <Stack gap="3">
                  {state.kind === "delete" ? (
                    <Text>
                      {t("The pipeline and its DAG go away; the stored file moves to the trash and can be restored from there.")}
                    </Text>
                  ) : (
                    <>
                      <Field.Root required invalid={Boolean(idProblem)}>
                        <Field.Label>
                          {t("Id")} <Field.RequiredIndicator />
                        </Field.Label>
                        <Input name="id" value={id} autoFocus onChange={(e) => setId(e.target.value)} placeholder="orders_daily" />
                        <Field.HelperText>{t("Becomes the Airflow dag_id; cannot change later.")}</Field.HelperText>
                        {idProblem && <Field.ErrorText>{idProblem}</Field.ErrorText>}
                      </Field.Root>
                      <Field.Root>
                        <Field.Label>{t("Name")}</Field.Label>
                        <Input name="name" value={name} onChange={(e) => setName(e.target.value)} />
                      </Field.Root>
                    </>
                  )}
                  <ErrorBox error={error} />
                </Stack>
              </form>
            </Dialog.Body>
            <Dialog.Footer>
              <Button variant="outline" onClick={onClose}>
                {t("Cancel")}
              </Button>
              <Button
                type="submit"
                form="pipeline-dialog-form"
                loading={busy}
                colorPalette={state.kind === "delete" ? "red" : "blue"}
                disabled={state.kind !== "delete" && (!id || Boolean(idProblem))}
              >
                {state.kind === "create" ? t("Create") : state.kind === "duplicate" ? t("Duplicate") : t("Delete")}
              </Button>
            </Dialog.Footer>
            <Dialog.CloseTrigger asChild>
              <CloseButton size="sm" />
            </Dialog.CloseTrigger>
          </Dialog.Content>
        </Dialog.Positioner>
      </Portal>
    </Dialog.Root>
  );
}
