// A file and folder picker for path fields, limited to what the security policy lets pipeline editors
// read: the allowed local folders and S3 prefixes (through their connection), as `GET /locations` lists
// them. Every folder opened is checked again by the server, so a path typed by hand and a path picked here
// meet the same rules.
import { Badge, Box, Button, CloseButton, Dialog, HStack, Portal, Spinner, Stack, Table, Text } from "@chakra-ui/react";
import { useCallback, useEffect, useState } from "react";
import { request } from "../api/client";
import type { components } from "../api/schema";
import { ErrorBox, formatDate } from "../components";
import { useT } from "../i18n";

type Location = components["schemas"]["Location"];
type Listing = components["schemas"]["LocationListing"];

const enc = encodeURIComponent;
const withPipeline = (pipelineId?: string) => (pipelineId ? `pipeline_id=${enc(pipelineId)}` : "");

export const locationsApi = {
  roots: (pipelineId?: string) => request<{ locations: Location[] }>("GET", `/locations${pipelineId ? `?${withPipeline(pipelineId)}` : ""}`).then((r) => r.locations),
  browse: (uri: string, connId?: string | null, pipelineId?: string) =>
    request<Listing>("GET", `/locations/browse?uri=${enc(uri)}${connId ? `&conn_id=${enc(connId)}` : ""}${pipelineId ? `&${withPipeline(pipelineId)}` : ""}`),
};

/** The folder holding `path` (a local path or a URI), or null for a bare root. */
export function folderOf(path: string): string | null {
  const trimmed = path.trim().replace(/\/+$/, "");
  const cut = trimmed.lastIndexOf("/");
  if (cut <= 0) return null;
  const folder = trimmed.slice(0, cut);
  return /^[a-z0-9]+:\/\/[^/]*$/i.test(folder) ? null : folder; // `s3://bucket` alone is not a folder to open
}

function sizeText(size: number | null | undefined): string {
  if (size === null || size === undefined) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = size;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}

interface Props {
  /** The field's value: the browser opens at its folder when it can. */
  value: string;
  /** The field's connection (`conn_id`), for a plain `s3://bucket/...` value. */
  connId?: string | null;
  pipelineId?: string;
  onPick: (uri: string, connId: string | null) => void;
  onClose: () => void;
}

export function LocationBrowser({ value, connId = null, pipelineId, onPick, onClose }: Props) {
  const t = useT();
  const [roots, setRoots] = useState<Location[] | null>(null);
  const [listing, setListing] = useState<Listing | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const open = useCallback(
    (uri: string, conn: string | null) => {
      setBusy(true);
      setError(null);
      setSelected(null);
      locationsApi.browse(uri, conn, pipelineId).then(
        (l) => {
          setListing(l);
          setBusy(false);
        },
        (e: unknown) => {
          setError(e);
          setBusy(false);
        },
      );
    },
    [pipelineId],
  );

  useEffect(() => {
    let live = true;
    locationsApi.roots(pipelineId).then(
      (rs) => live && setRoots(rs),
      (e: unknown) => live && setError(e),
    );
    // Start where the field points, when that folder may be browsed; otherwise at the list of roots.
    const folder = value ? folderOf(value) : null;
    if (folder) {
      locationsApi.browse(folder, connId, pipelineId).then(
        (l) => live && setListing(l),
        () => undefined,
      );
    }
    return () => {
      live = false;
    };
  }, [value, connId, pipelineId]);

  const pick = (uri: string) => {
    onPick(uri, listing?.conn_id ?? null);
    onClose();
  };

  return (
    <Dialog.Root open onOpenChange={(e) => !e.open && onClose()} size="lg" placement="center" scrollBehavior="inside">
      <Portal>
        <Dialog.Backdrop />
        <Dialog.Positioner>
          <Dialog.Content data-testid="location-browser">
            <Dialog.Header>
              <Dialog.Title>{t("Choose a file or folder")}</Dialog.Title>
            </Dialog.Header>
            <Dialog.Body>
              <Stack gap="2" fontSize="sm">
                <Text color="fg.muted" fontSize="xs">
                  {t("Only the folders and object-storage prefixes an Airflow admin allowed for pipelines are listed.")}
                </Text>
                <HStack gap="1" wrap="wrap">
                  {(roots ?? []).map((root) => (
                    <Button
                      key={`${root.conn_id ?? ""}|${root.uri}`}
                      size="2xs"
                      variant={listing?.uri === root.uri ? "subtle" : "outline"}
                      disabled={!root.browsable}
                      title={root.browsable ? root.uri : t("Any bucket is allowed here: type the path")}
                      onClick={() => open(root.uri, root.conn_id ?? null)}
                      data-testid="location-root"
                      data-uri={root.uri}
                    >
                      {root.kind === "s3" ? "☁ " : "📁 "}
                      {root.label}
                    </Button>
                  ))}
                  {!roots && !error && <Spinner size="xs" />}
                </HStack>
                {error ? <ErrorBox error={error} title={t("Cannot list this location")} /> : null}
                {listing && (
                  <Stack gap="1">
                    <HStack gap="2">
                      <Button size="2xs" variant="ghost" disabled={!listing.parent || busy} onClick={() => listing.parent && open(listing.parent, listing.conn_id ?? null)} data-testid="location-up">
                        {t("↑ Up")}
                      </Button>
                      <Text fontFamily="mono" fontSize="xs" truncate flex="1" title={listing.uri} data-testid="location-current">
                        {listing.uri}
                      </Text>
                      {busy && <Spinner size="xs" />}
                      <Button size="2xs" variant="outline" onClick={() => pick(listing.uri)} data-testid="location-use-folder">
                        {t("Use this folder")}
                      </Button>
                    </HStack>
                    <Box maxH="50vh" overflowY="auto" borderWidth="1px" borderRadius="sm">
                      <Table.Root size="sm" interactive>
                        <Table.Body>
                          {listing.entries.map((entry) => (
                            <Table.Row
                              key={entry.uri}
                              cursor="pointer"
                              bg={selected === entry.uri ? "bg.emphasized" : undefined}
                              onClick={() => (entry.kind === "directory" ? open(entry.uri, listing.conn_id ?? null) : setSelected(entry.uri))}
                              onDoubleClick={() => entry.kind === "file" && pick(entry.uri)}
                              data-testid="location-entry"
                              data-kind={entry.kind}
                              data-name={entry.name}
                            >
                              <Table.Cell>
                                {entry.kind === "directory" ? "📁 " : "📄 "}
                                {entry.name}
                              </Table.Cell>
                              <Table.Cell textAlign="end" color="fg.muted">
                                {sizeText(entry.size)}
                              </Table.Cell>
                              <Table.Cell color="fg.muted">{entry.modified ? formatDate(entry.modified) : ""}</Table.Cell>
                            </Table.Row>
                          ))}
                          {!listing.entries.length && (
                            <Table.Row>
                              <Table.Cell colSpan={3} color="fg.muted">
                                {t("This folder is empty.")}
                              </Table.Cell>
                            </Table.Row>
                          )}
                        </Table.Body>
                      </Table.Root>
                    </Box>
                    {listing.truncated && (
                      <Badge colorPalette="orange" alignSelf="start">
                        {t("Only the first {limit} entries are listed: type the rest of the path, or use a glob such as *.csv.", { limit: listing.limit })}
                      </Badge>
                    )}
                  </Stack>
                )}
              </Stack>
            </Dialog.Body>
            <Dialog.Footer>
              <Button size="sm" variant="ghost" onClick={onClose}>
                {t("Cancel")}
              </Button>
              <Button size="sm" colorPalette="brand" disabled={!selected} onClick={() => selected && pick(selected)} data-testid="location-pick">
                {t("Use this file")}
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
