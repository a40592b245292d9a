// A small JSON-Schema-driven form: one renderer per field kind, recursion for nested models and lists of
// models. Values the user never touched stay absent so the module's own defaults apply on the server.
import { Badge, Box, Button, Checkbox, CloseButton, Field, HStack, Input, NativeSelect, Stack, Text, Textarea, Wrap } from "@chakra-ui/react";
import { useEffect, useId, useState, type ReactNode } from "react";
import { ApiError } from "../api/client";
import type { Connection, JsonSchema } from "../api/types";
import { errorsAt } from "../graph/errors";
import { type FieldSpec, objectFields, setKey } from "./schema";

/**
 * What the connection pickers offer: the connections, null while they load, or why there is no list (the
 * pickers then take a typed id). Listing connections needs Airflow's connection read permission, which a
 * pipeline editor (Airflow's User role) usually lacks.
 */
export type ConnectionChoices = Connection[] | null | { unavailable: string };

/** The choices after `GET /connections` failed: a 403 is a missing permission, anything else a failure. */
export function connectionsUnavailable(error: unknown): { unavailable: string } {
  if (error instanceof ApiError && error.status === 403) {
    return { unavailable: "Your Airflow role may not list connections: type the connection id." };
  }
  const why = error instanceof ApiError ? error.detail : String(error);
  return { unavailable: `Connections could not be loaded (${why}): type the connection id.` };
}

export interface FormContext {
  connections: ConnectionChoices;
  /** Columns arriving from upstream, when known. */
  columns: string[] | null;
  readOnly: boolean;
}

export interface SchemaFormProps {
  schema: JsonSchema;
  value: Record<string, unknown>;
  onChange: (next: Record<string, unknown>) => void;
  /** Messages per dotted config path (see graph/errors.fieldErrors). */
  errors?: Record<string, string[]>;
  context?: Partial<FormContext>;
}

export function SchemaForm({ schema, value, onChange, errors = {}, context = {} }: SchemaFormProps) {
  const ctx: FormContext = { connections: null, columns: null, readOnly: false, ...context };
  return (
    <Stack gap="3" data-testid="schema-form">
      <ObjectFields root={schema} schema={schema} value={value ?? {}} onChange={onChange} path="" errors={errors} ctx={ctx} />
    </Stack>
  );
}

interface ObjectFieldsProps {
  root: JsonSchema;
  schema: JsonSchema;
  value: Record<string, unknown>;
  onChange: (next: Record<string, unknown>) => void;
  path: string;
  errors: Record<string, string[]>;
  ctx: FormContext;
}

function ObjectFields({ root, schema, value, onChange, path, errors, ctx }: ObjectFieldsProps) {
  const fields = objectFields(schema, root);
  return (
    <>
      {fields.map((field) => (
        <FieldRow
          key={field.key}
          root={root}
          field={field}
          value={value[field.key]}
          onChange={(next) => onChange(setKey(value, field.key, next))}
          path={path ? `${path}.${field.key}` : field.key}
          errors={errors}
          ctx={ctx}
        />
      ))}
    </>
  );
}

interface FieldRowProps {
  root: JsonSchema;
  field: FieldSpec;
  value: unknown;
  onChange: (next: unknown) => void;
  path: string;
  errors: Record<string, string[]>;
  ctx: FormContext;
}

function FieldRow(props: FieldRowProps) {
  const { field, path, errors } = props;
  const nested = field.kind === "object" || field.kind === "objectArray";
  const messages = errorsAt(errors, path, !nested);
  const body = renderControl(props);
  return (
    <Field.Root
      required={field.required}
      invalid={messages.length > 0}
      disabled={props.ctx.readOnly}
      data-field={path}
      gap="1"
    >
      <Field.Label fontSize="sm">
        {field.title}
        <Field.RequiredIndicator />
      </Field.Label>
      {body}
      {field.description && (
        <Field.HelperText fontSize="xs" color="fg.muted">
          {field.description}
        </Field.HelperText>
      )}
      {messages.map((m, i) => (
        <Field.ErrorText key={i} fontSize="xs" data-testid="field-error">
          {m}
        </Field.ErrorText>
      ))}
    </Field.Root>
  );
}

function renderControl(props: FieldRowProps): ReactNode {
  switch (props.field.kind) {
    case "string":
      return <StringControl {...props} />;
    case "number":
    case "integer":
      return <NumberControl {...props} />;
    case "boolean":
      return <BooleanControl {...props} />;
    case "enum":
      return <EnumControl {...props} />;
    case "stringArray":
      return <StringListControl {...props} />;
    case "objectArray":
      return <ObjectListControl {...props} />;
    case "object":
      return <NestedObjectControl {...props} />;
    case "json":
      return <JsonControl {...props} />;
  }
}

const placeholderOf = (field: FieldSpec): string | undefined =>
  field.hasDefault && field.default !== null && field.default !== undefined && typeof field.default !== "object" ? String(field.default) : undefined;

function StringControl({ field, value, onChange, path, ctx }: FieldRowProps) {
  if (field.widget === "connection") return <ConnectionControl field={field} value={value} onChange={onChange} path={path} ctx={ctx} />;
  const text = typeof value === "string" ? value : value === undefined || value === null ? "" : String(value);
  const multiline = field.widget === "text" || (typeof field.schema.maxLength === "number" ? field.schema.maxLength > 500 : false) || /sql|query|condition|expression/i.test(field.key);
  const commonProps = {
    name: `config.${path}`,
    value: text,
    placeholder: placeholderOf(field),
    readOnly: ctx.readOnly,
    size: "sm" as const,
    onChange: (e: { target: { value: string } }) => onChange(e.target.value === "" ? undefined : e.target.value),
  };
  if (multiline) return <Textarea {...commonProps} rows={3} fontFamily="mono" />;
  if (field.widget === "column") return <ColumnInput {...commonProps} columns={ctx.columns} />;
  return <Input {...commonProps} />;
}

function ColumnInput(props: { name: string; value: string; placeholder?: string; readOnly: boolean; size: "sm"; columns: string[] | null; onChange: (e: { target: { value: string } }) => void }) {
  const listId = useId();
  const { columns, ...rest } = props;
  return (
    <>
      <Input {...rest} list={columns?.length ? listId : undefined} autoComplete="off" />
      {columns?.length ? (
        <datalist id={listId}>
          {columns.map((c) => (
            <option key={c} value={c} />
          ))}
        </datalist>
      ) : null}
    </>
  );
}

function ConnectionControl({ field, value, onChange, path, ctx }: Pick<FieldRowProps, "field" | "value" | "onChange" | "path" | "ctx">) {
  const current = typeof value === "string" ? value : "";
  const choices = ctx.connections;
  if (choices !== null && !Array.isArray(choices)) {
    // No list to pick from: the id is typed (the server still checks that the connection exists).
    const kinds = field.connTypes.join("/");
    return (
      <Stack gap="1">
        <Input
          name={`config.${path}`}
          size="sm"
          value={current}
          placeholder={kinds ? `${kinds} connection id` : "connection id"}
          readOnly={ctx.readOnly}
          autoComplete="off"
          onChange={(e) => onChange(e.target.value === "" ? undefined : e.target.value)}
        />
        <Text fontSize="xs" color="fg.muted" data-testid="connection-note">
          {choices.unavailable}
        </Text>
      </Stack>
    );
  }
  const all = choices ?? [];
  const options = field.connTypes.length ? all.filter((c) => field.connTypes.includes(c.conn_type)) : all;
  const ids = options.map((c) => c.conn_id);
  return (
    <NativeSelect.Root size="sm" disabled={ctx.readOnly}>
      <NativeSelect.Field
        name={`config.${path}`}
        value={current}
        onChange={(e) => onChange(e.target.value === "" ? undefined : e.target.value)}
      >
        <option value="">{ctx.connections === null ? "loading connections…" : options.length ? "— choose a connection —" : `no ${field.connTypes.join("/") || ""} connection defined in Airflow`}</option>
        {current && !ids.includes(current) && <option value={current}>{current} (not found)</option>}
        {options.map((c) => (
          <option key={c.conn_id} value={c.conn_id}>
            {c.conn_id} ({c.conn_type}){c.description ? ` — ${c.description}` : ""}
          </option>
        ))}
      </NativeSelect.Field>
      <NativeSelect.Indicator />
    </NativeSelect.Root>
  );
}

function NumberControl({ field, value, onChange, path, ctx }: FieldRowProps) {
  const text = value === undefined || value === null ? "" : String(value);
  return (
    <Input
      name={`config.${path}`}
      size="sm"
      inputMode={field.kind === "integer" ? "numeric" : "decimal"}
      value={text}
      placeholder={placeholderOf(field)}
      readOnly={ctx.readOnly}
      onChange={(e) => {
        const raw = e.target.value.trim();
        if (raw === "") return onChange(undefined);
        const ok = field.kind === "integer" ? /^-?\d+$/.test(raw) : /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw);
        // Half-typed or invalid text is kept as-is so the user sees it; the server names the problem.
        onChange(ok && !raw.endsWith(".") ? Number(raw) : e.target.value);
      }}
    />
  );
}

function BooleanControl({ field, value, onChange, path, ctx }: FieldRowProps) {
  const checked = typeof value === "boolean" ? value : field.default === true;
  return (
    <Checkbox.Root
      size="sm"
      checked={checked}
      disabled={ctx.readOnly}
      onCheckedChange={(e) => onChange(e.checked === true)}
    >
      <Checkbox.HiddenInput name={`config.${path}`} />
      <Checkbox.Control />
      <Checkbox.Label fontSize="sm" fontWeight="normal">
        {checked ? "yes" : "no"}
      </Checkbox.Label>
    </Checkbox.Root>
  );
}

function EnumControl({ field, value, onChange, path, ctx }: FieldRowProps) {
  const values = field.enumValues;
  const shown = value === undefined ? (field.hasDefault ? field.default : undefined) : value;
  const index = values.findIndex((v) => v === shown);
  return (
    <NativeSelect.Root size="sm" disabled={ctx.readOnly}>
      <NativeSelect.Field
        name={`config.${path}`}
        value={index >= 0 ? String(index) : ""}
        onChange={(e) => onChange(e.target.value === "" ? (field.nullable ? null : undefined) : values[Number(e.target.value)])}
      >
        {(index < 0 || field.nullable || !field.required) && <option value="">{field.nullable ? "(none)" : "— choose —"}</option>}
        {values.map((v, i) => (
          <option key={i} value={String(i)}>
            {String(v)}
          </option>
        ))}
      </NativeSelect.Field>
      <NativeSelect.Indicator />
    </NativeSelect.Root>
  );
}

function StringListControl({ field, value, onChange, path, ctx }: FieldRowProps) {
  const items = Array.isArray(value) ? value.map((v) => (typeof v === "string" ? v : String(v))) : [];
  const isColumns = field.widget === "columns" || field.itemWidget === "column";
  const suggestions = isColumns && ctx.columns ? ctx.columns.filter((c) => !items.includes(c)) : [];
  const update = (next: string[]) => onChange(next.length ? next : field.nullable ? undefined : []);
  const listId = useId();
  return (
    <Stack gap="1" data-testid={`list-${path}`}>
      {items.map((item, i) => (
        <HStack key={i} gap="1">
          <Input
            size="sm"
            name={`config.${path}.${i}`}
            value={item}
            readOnly={ctx.readOnly}
            list={isColumns && ctx.columns?.length ? listId : undefined}
            autoComplete="off"
            onChange={(e) => update(items.map((x, j) => (j === i ? e.target.value : x)))}
          />
          {!ctx.readOnly && <CloseButton size="xs" aria-label={`remove ${field.title} ${i + 1}`} onClick={() => update(items.filter((_, j) => j !== i))} />}
        </HStack>
      ))}
      {isColumns && ctx.columns?.length ? (
        <datalist id={listId}>
          {ctx.columns.map((c) => (
            <option key={c} value={c} />
          ))}
        </datalist>
      ) : null}
      {!ctx.readOnly && (
        <Wrap gap="1">
          <Button size="xs" variant="outline" onClick={() => update([...items, ""])} aria-label={`add ${field.title}`}>
            + Add{isColumns ? " column" : ""}
          </Button>
          {suggestions.map((c) => (
            <Badge key={c} as="button" cursor="pointer" variant="surface" onClick={() => update([...items, c])}>
              + {c}
            </Badge>
          ))}
        </Wrap>
      )}
      {!items.length && field.hasDefault && field.default === null && (
        <Text fontSize="xs" color="fg.muted">
          empty: the module's default applies
        </Text>
      )}
    </Stack>
  );
}

function ObjectListControl({ root, field, value, onChange, path, errors, ctx }: FieldRowProps) {
  const items = Array.isArray(value) ? (value as Record<string, unknown>[]) : [];
  const itemSchema = (field.schema.items ?? {}) as JsonSchema;
  const update = (next: Record<string, unknown>[]) => onChange(next.length ? next : field.nullable || !field.required ? undefined : []);
  return (
    <Stack gap="2">
      {items.map((item, i) => (
        <Box key={i} borderWidth="1px" borderRadius="md" p="2" position="relative" data-testid={`item-${path}.${i}`}>
          {!ctx.readOnly && (
            <CloseButton size="2xs" position="absolute" top="1" right="1" aria-label={`remove ${field.title} ${i + 1}`} onClick={() => update(items.filter((_, j) => j !== i))} />
          )}
          <Stack gap="2">
            <ObjectFields
              root={root}
              schema={itemSchema}
              value={item && typeof item === "object" ? item : {}}
              onChange={(next) => update(items.map((x, j) => (j === i ? next : x)))}
              path={`${path}.${i}`}
              errors={errors}
              ctx={ctx}
            />
          </Stack>
        </Box>
      ))}
      {!ctx.readOnly && (
        <Button size="xs" variant="outline" alignSelf="start" onClick={() => update([...items, {}])}>
          + Add {field.title.toLowerCase()}
        </Button>
      )}
    </Stack>
  );
}

function NestedObjectControl({ root, field, value, onChange, path, errors, ctx }: FieldRowProps) {
  const current = value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  return (
    <Stack gap="2" borderLeftWidth="2px" pl="3" w="full">
      <ObjectFields
        root={root}
        schema={field.schema}
        value={current}
        onChange={(next) => onChange(Object.keys(next).length ? next : undefined)}
        path={path}
        errors={errors}
        ctx={ctx}
      />
    </Stack>
  );
}

function JsonControl({ value, onChange, path, ctx }: FieldRowProps) {
  // Fields the renderer has no widget for (unions, free-form maps) are edited as JSON; plain text that
  // is not JSON is kept as a string, which is what "any" fields usually want.
  const [text, setText] = useState(() => (value === undefined ? "" : JSON.stringify(value, null, 2)));
  useEffect(() => {
    setText(value === undefined ? "" : JSON.stringify(value, null, 2));
  }, [value]);
  return (
    <Textarea
      name={`config.${path}`}
      size="sm"
      fontFamily="mono"
      rows={2}
      value={text}
      readOnly={ctx.readOnly}
      placeholder="JSON value or text"
      onChange={(e) => setText(e.target.value)}
      onBlur={() => {
        if (text.trim() === "") return onChange(undefined);
        try {
          onChange(JSON.parse(text));
        } catch {
          onChange(text);
        }
      }}
    />
  );
}
