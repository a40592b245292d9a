// The messages under a form field: an issue's plain message, its JSON path only as a tooltip; red for an
// error, amber for a warning.
import { Text } from "@chakra-ui/react";
import type { FieldMessage } from "../graph/errors";

/** A message under a field: plain text, or an issue's message with its JSON path and severity. */
export type FormMessage = string | FieldMessage;

const asMessage = (m: FormMessage): FieldMessage => (typeof m === "string" ? { message: m } : m);

/** Messages a list of strings shows itself: its own and those of items it has no row for. */
export function listMessages(errors: Record<string, FormMessage[]>, path: string, items: number): FormMessage[] {
  const prefix = `${path}.`;
  const orphans = Object.entries(errors).filter(([k]) => k.startsWith(prefix) && !(/^\d+$/.test(k.slice(prefix.length)) && Number(k.slice(prefix.length)) < items));
  return [...(errors[path] ?? []), ...orphans.flatMap(([, v]) => v)];
}

export const isError = (m: FormMessage): boolean => asMessage(m).severity !== "warning";

/**
 * An issue's plain message under its field (the JSON path only in the tooltip), red for an error, amber
 * for a warning. Plain text, not Field.ErrorText: list items and union tags show theirs inside a parent
 * field that is not itself invalid.
 */
export function FieldMessages({ messages }: { messages: FormMessage[] }) {
  return (
    <>
      {messages.map(asMessage).map((m, i) => {
        const warning = m.severity === "warning";
        return (
          <Text
            key={i}
            fontSize="xs"
            color={warning ? "fg.warning" : "fg.error"}
            data-testid={warning ? "field-warning" : "field-error"}
            data-path={m.path}
            title={m.path}
            role={warning ? undefined : "alert"}
          >
            {m.message}
          </Text>
        );
      })}
    </>
  );
}

