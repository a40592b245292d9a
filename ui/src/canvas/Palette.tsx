// Module palette: grouped by category, searchable; drag an entry onto the canvas (or click it) to add a node.
import { Box, HStack, IconButton, Input, Stack, Text } from "@chakra-ui/react";
import { useMemo, useState } from "react";
import type { Module } from "../api/types";
import { type Translate, useT } from "../i18n";

export const DRAG_MIME = "application/x-logidata-module";
const CATEGORY_ORDER = ["source", "transform", "destination"];
const CATEGORY_TITLE: Record<string, (t: Translate) => string> = { source: (t) => t("Sources"), transform: (t) => t("Transforms"), destination: (t) => t("Destinations") };
const CATEGORY_LABEL: Record<string, (t: Translate) => string> = { source: (t) => t("source"), transform: (t) => t("transform"), destination: (t) => t("destination") };

/** A module's category as shown (`source`, ...); one a module pack invents shows as it is. */
export const categoryLabel = (category: string, t: Translate): string => CATEGORY_LABEL[category]?.(t) ?? category;

export function groupModules(modules: Module[], query: string): [string, Module[]][] {
  const q = query.trim().toLowerCase();
  const match = (m: Module) => !q || [m.name, m.label, m.description, m.category].some((s) => (s ?? "").toLowerCase().includes(q));
  const groups = new Map<string, Module[]>();
  for (const m of modules.filter(match)) groups.set(m.category, [...(groups.get(m.category) ?? []), m]);
  const rank = (c: string) => (CATEGORY_ORDER.includes(c) ? CATEGORY_ORDER.indexOf(c) : CATEGORY_ORDER.length);
  return [...groups.entries()]
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
    .map(([c, ms]) => [c, [...ms].sort((a, b) => (a.label || a.name).localeCompare(b.label || b.name))]);
}

/** `onHide`: fold the palette (a button beside the search field). */
export function Palette({ modules, onAdd, onHide }: { modules: Module[]; onAdd: (module: Module) => void; onHide?: () => void }) {
  const t = useT();
  const [query, setQuery] = useState("");
  const groups = useMemo(() => groupModules(modules, query), [modules, query]);
  return (
    <Stack w="230px" flexShrink={0} borderRightWidth="1px" p="2" gap="2" overflowY="auto" data-testid="palette" bg="bg.subtle">
      <HStack gap="1" flexShrink={0}>
        <Input size="sm" placeholder={t("Search modules")} aria-label={t("Search modules")} value={query} onChange={(e) => setQuery(e.target.value)} />
        {onHide && (
          <IconButton size="xs" variant="ghost" aria-label={t("Hide the modules")} title={t("Hide the modules")} onClick={onHide} data-testid="palette-hide">
            ‹
          </IconButton>
        )}
      </HStack>
      {groups.map(([category, items]) => (
        <Stack key={category} gap="1">
          <Text fontSize="xs" fontWeight="bold" textTransform="uppercase" color="fg.muted" mt="1">
            {CATEGORY_TITLE[category]?.(t) ?? category}
          </Text>
          {items.map((m) => (
            <Box
              key={m.name}
              data-module={m.name}
              draggable
              onDragStart={(e) => {
                e.dataTransfer.setData(DRAG_MIME, m.name);
                e.dataTransfer.setData("text/plain", m.name);
                e.dataTransfer.effectAllowed = "move";
              }}
              onDoubleClick={() => onAdd(m)}
              onKeyDown={(e) => {
                if (e.key === "Enter") onAdd(m);
              }}
              tabIndex={0}
              role="button"
              aria-label={t("Add {module}", { module: m.label || m.name })}
              title={`${m.description}\n${t("Drag onto the canvas (or double-click / Enter) to add.")}`}
              cursor="grab"
              px="2"
              py="1"
              borderWidth="1px"
              borderRadius="sm"
              bg="bg.panel"
              _hover={{ borderColor: "blue.solid" }}
              fontSize="sm"
            >
              <Text fontWeight="medium" truncate>
                {m.label || m.name}
              </Text>
              <Text fontSize="2xs" color="fg.muted" truncate>
                {m.name}
              </Text>
            </Box>
          ))}
        </Stack>
      ))}
      {!groups.length && (
        <Text fontSize="sm" color="fg.muted">
          {t("No module matches “{query}”.", { query })}
        </Text>
      )}
    </Stack>
  );
}
