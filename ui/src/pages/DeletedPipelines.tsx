// Deleted pipelines, under the pipeline list: a delete only moves a pipeline to the store's trash, and its
// last version can be brought back here. Collapsed by default: a list people rarely need stays out of the way.
import { Box, Button, HStack, Spinner, Table, Text } from "@chakra-ui/react";
import { useCallback, useEffect, useState } from "react";
import { api } from "../api/client";
import type { DeletedPipeline } from "../api/types";
import { ErrorBox, formatDate } from "../components";
import { useT } from "../i18n";

interface Props {
  canEdit: boolean;
  onRestored: (id: string) => void;
  /** Change it to read the trash again (after a delete on the list page). */
  reloadKey?: unknown;
}

export function DeletedPipelines({ canEdit, onRestored, reloadKey }: Props) {
  const t = useT();
  const [deleted, setDeleted] = useState<DeletedPipeline[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [open, setOpen] = useState(false);
  const [restoring, setRestoring] = useState<string | null>(null);

  const load = useCallback(() => {
    api.trash().then(
      (list) => {
        setDeleted(list);
        setError(null);
      },
      (e: unknown) => setError(e),
    );
  }, []);
  useEffect(load, [load, reloadKey]);

  const restore = async (p: DeletedPipeline) => {
    setRestoring(p.id);
    setError(null);
    try {
      // No etag: nothing is stored under the id any more (a 409 if someone recreated it meanwhile).
      await api.restore(p.id, p.last_version, null);
      setDeleted((list) => list?.filter((d) => d.id !== p.id) ?? null);
      onRestored(p.id);
    } catch (e) {
      setError(e);
    } finally {
      setRestoring(null);
    }
  };

  const count = deleted?.length ?? 0;
  return (
    <Box data-testid="deleted-pipelines" borderTopWidth="1px" pt="2">
      <Button size="sm" variant="ghost" onClick={() => setOpen((o) => !o)} aria-expanded={open} data-testid="deleted-pipelines-toggle">
        <Text as="span" aria-hidden>
          {open ? "▾" : "▸"}
        </Text>
        {deleted === null ? t("Deleted pipelines") : t("Deleted pipelines ({count})", { count })}
        {deleted === null && !error && <Spinner size="xs" />}
      </Button>
      <ErrorBox error={error} />
      {open && deleted !== null && (
        <Box mt="2">
          {count === 0 ? (
            <Text fontSize="sm" color="fg.muted" px="3">
              {t("No deleted pipelines.")}
            </Text>
          ) : (
            <Table.Root size="sm">
              <Table.Header>
                <Table.Row>
                  <Table.ColumnHeader>{t("Pipeline")}</Table.ColumnHeader>
                  <Table.ColumnHeader>{t("Last version")}</Table.ColumnHeader>
                  <Table.ColumnHeader>{t("Deleted")}</Table.ColumnHeader>
                  <Table.ColumnHeader>{t("Last saved by")}</Table.ColumnHeader>
                  <Table.ColumnHeader textAlign="end">{t("Actions")}</Table.ColumnHeader>
                </Table.Row>
              </Table.Header>
              <Table.Body>
                {deleted.map((p) => (
                  <Table.Row key={p.id} data-testid={`deleted-${p.id}`}>
                    <Table.Cell>
                      <Text fontWeight="semibold">{p.name || p.id}</Text>
                      <Text fontSize="xs" color="fg.muted">
                        {p.id}
                      </Text>
                    </Table.Cell>
                    <Table.Cell>{`v${p.last_version}`}</Table.Cell>
                    <Table.Cell fontSize="xs">{formatDate(p.deleted_at)}</Table.Cell>
                    <Table.Cell fontSize="xs">{p.author ?? "—"}</Table.Cell>
                    <Table.Cell textAlign="end">
                      <HStack justify="end">
                        {canEdit && (
                          <Button
                            size="xs"
                            variant="outline"
                            loading={restoring === p.id}
                            disabled={restoring !== null}
                            onClick={() => void restore(p)}
                            title={t("Bring the pipeline back as it was last saved")}
                            data-testid={`restore-deleted-${p.id}`}
                          >
                            {t("Restore")}
                          </Button>
                        )}
                      </HStack>
                    </Table.Cell>
                  </Table.Row>
                ))}
              </Table.Body>
            </Table.Root>
          )}
        </Box>
      )}
    </Box>
  );
}
