// A small JSON-Schema-driven form: one renderer per field kind, recursion for nested models and lists of
// models. Values the user never touched stay absent so the module's own defaults apply on the server.
import { Badge, Box, Button, Checkbox, CloseButton, Field, HStack, Input, NativeSelect, Stack, Text, Textarea, Wrap } from "@chakra-ui/react";
import { useEffect, useId, useState, type ReactNode } from "react";
import { ApiError } from "../api/client";
import type { Connection, JsonSchema } from "../api/types";
import { errorsAt, untagErrors } from "../graph/errors";
import { t as translateNow, useT } from "../i18n";
import { type ColumnChoice, type InputColumns, offeredColumns } from "../graph/inputColumns";
import { ColumnPicker } from "./ColumnPicker";
import { LocationBrowser } from "./LocationBrowser";
import { FieldMessages, type FormMessage, isError, listMessages } from "./FieldMessages";
import { applies, type FieldSpec, objectFields, setKey, type UnionSpec, unionOf, variantOf } from "./schema";

/**
 * What the connection pickers offer: the connections, null while they load, or why there is no list (the
 * pickers then take a typed id). Listing connections needs Airflow's connection read permission, which a
 * pipeline editor (Airflow's User role) usually lacks.
 */
export type ConnectionChoices = Connection[] | null | { unavailable: string };

/** The choices after `GET /connections` failed: a 403 is a missing permission, anything else a failure. */
export function connectionsUnavailable(error: unknown, t = translateNow): { unavailable: string } {
  if (error instanceof ApiError && error.status === 403) {
    return { unavailable: t("Your Airflow role may not list connections: type the connection id.") };
  }
  const why = error instanceof ApiError ? error.detail : String(error);
  return { unavailable: t("Connections could not be loaded ({why}): type the connection id.", { why }) };
}

export type { FormMessage } from "./FieldMessages";

export interface FormContext {
  connections: ConnectionChoices;
  /**
   * Columns arriving from upstream, per input port with their types (graph/inputColumns), or a plain list
   * of names; null when unknown (column fields are then plain text).
   */
  columns: InputColumns | readonly string[] | null;
  readOnly: boolean;
  /** The pipeline being edited (its DAG's permissions decide which data locations may be browsed). */
  pipelineId?: string;
}

export interface SchemaFormProps {
  schema: JsonSchema;
  value: Record<string, unknown>;
  onChange: (next: Record<string, unknown>) => void;
  /** Messages per dotted config path (see graph/errors.fieldIssues). */
  errors?: Record<string, FormMessage[]>;
  context?: Partial<FormContext>;
}

export function SchemaForm({ schema, value, onChange, errors = {}, context = {} }: SchemaFormProps) {
  const ctx: FormContext = { connections: null, columns: null, readOnly: false, ...context };
  return (
    <Stack gap="3" data-testid="schema-form">
      <ObjectFields root={schema} schema={schema} value={value ?? {}} onChange={onChange} path="" port={null} errors={errors} ctx={ctx} />
    </Stack>
  );
}

interface ObjectFieldsProps {
  root: JsonSchema;
  schema: JsonSchema;
  value: Record<string, unknown>;
  onChange: (next: Record<string, unknown>) => void;
  path: string;
  /** The input port the enclosing field names columns of (`x-logidata-port`), inherited by nested fields. */
  port: string | null;
  errors: Record<string, FormMessage[]>;
  ctx: FormContext;
  /** A key drawn elsewhere (a union's tag, drawn as the variant select). */
  skip?: string;
}

function ObjectFields({ root, schema, value, onChange, path, port, errors, ctx, skip }: ObjectFieldsProps) {
  const every = objectFields(schema, root);
  // Fields that do not apply to the config as it is (CSV options of a Parquet file, a storage connection
  // for a local path) are not shown; one holding a value always is.
  const fields = every.filter((f) => f.key !== skip && applies(f, value, every));
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
          port={field.port ?? port}
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
  port: string | null;
  errors: Record<string, FormMessage[]>;
  ctx: FormContext;
}

function FieldRow(props: FieldRowProps) {
  const { field, path, errors } = props;
  const nested = field.kind === "object" || field.kind === "objectArray";
  const messages =
    field.kind === "stringArray" ? listMessages(errors, path, Array.isArray(props.value) ? props.value.length : 0) : errorsAt(errors, path, !nested);
  const invalid = messages.some(isError);
  const body = renderControl(props);
  return (
    <Field.Root
      required={field.required}
      invalid={invalid}
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
      <FieldMessages messages={messages} />
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

function StringControl({ field, value, onChange, path, port, ctx }: FieldRowProps) {
  if (field.widget === "connection") return <ConnectionControl field={field} value={value} onChange={onChange} path={path} ctx={ctx} />;
  const text = typeof value === "string" ? value : value === undefined || value === null ? "" : String(value);
  const multiline =
    field.widget === "text" ||
    field.widget === "sql" ||
    field.widget === "sql-expression" ||
    (typeof field.schema.maxLength === "number" ? field.schema.maxLength > 500 : false) ||
    /sql|query|condition|expression/i.test(field.key);
  const commonProps = {
    name: `config.${path}`,
    value: text,
    placeholder: placeholderOf(field),
    readOnly: ctx.readOnly,
    size: "sm" as const,
    onChange: (e: { target: { value: string } }) => onChange(e.target.value === "" ? undefined : e.target.value),
  };
  if (multiline) return <Textarea {...commonProps} rows={3} fontFamily="mono" />;
  if (field.widget === "column") {
    const columns = offeredColumns(ctx.columns, port);
    // Unknown input columns: a plain text field, as before the server could tell them.
    if (!columns) return <Input {...commonProps} autoComplete="off" />;
    return <ColumnPicker name={commonProps.name} value={text} columns={columns} readOnly={ctx.readOnly} placeholder={commonProps.placeholder} onChange={(v) => onChange(v === "" ? undefined : v)} />;
  }
  if (field.widget === "new-column") return <NewColumnInput {...commonProps} columns={offeredColumns(ctx.columns, port)} />;
  if (field.widget === "path") return <PathInput {...commonProps} pipelineId={ctx.pipelineId} onPick={(uri) => onChange(uri)} />;
  return <Input {...commonProps} />;
}

/** A path typed by hand, or picked among the data locations the security policy allows (LocationBrowser). */
function PathInput(props: { name: string; value: string; placeholder?: string; readOnly: boolean; size: "sm"; pipelineId?: string; onPick: (uri: string) => void; onChange: (e: { target: { value: string } }) => void }) {
  const t = useT();
  const { pipelineId, onPick, ...rest } = props;
  const [browsing, setBrowsing] = useState(false);
  return (
    <HStack gap="1">
      <Input {...rest} autoComplete="off" fontFamily="mono" />
      {!props.readOnly && (
        <Button size="sm" variant="outline" flexShrink={0} onClick={() => setBrowsing(true)} data-testid="path-browse">
          {t("Browse…")}
        </Button>
      )}
      {browsing && (
        <LocationBrowser
          value={props.value}
          pipelineId={pipelineId}
          onPick={(uri, connId) => onPick(withConnection(uri, connId))}
          onClose={() => setBrowsing(false)}
        />
      )}
    </HStack>
  );
}

/** `s3://bucket/key` listed through connection `c` is written `s3://c@bucket/key`: one field says it all. */
export function withConnection(uri: string, connId: string | null): string {
  if (!connId) return uri;
  const match = /^(s3a?|s3n):\/\/([^/@]+)(\/.*)?$/i.exec(uri);
  return match ? `${match[1]}://${connId}@${match[2]}${match[3] ?? ""}` : uri;
}

/** A name the node creates: free text, the input's columns as suggestions (to replace one). */
function NewColumnInput(props: { name: string; value: string; placeholder?: string; readOnly: boolean; size: "sm"; columns: ColumnChoice[] | null; onChange: (e: { target: { value: string } }) => void }) {
  const listId = useId();
  const { columns, ...rest } = props;
  return (
    <>
      <Input {...rest} list={columns?.length ? listId : undefined} autoComplete="off" />
      {columns?.length ? (
        <datalist id={listId} data-testid="new-column-suggestions">
          {columns.map((c) => (
            <option key={c.name} value={c.name}>
              {c.type ?? ""}
            </option>
          ))}
        </datalist>
      ) : null}
    </>
  );
}

function ConnectionControl({ field, value, onChange, path, ctx }: Pick<FieldRowProps, "field" | "value" | "onChange" | "path" | "ctx">) {
  const t = useT();
  const current = typeof value === "string" ? value : "";
  const choices = ctx.connections;
  const kinds = field.connTypes.join("/");
  if (choices !== null && !Array.isArray(choices)) {
    // No list to pick from: the id is typed (the server still checks that the connection exists).
    return (
      <Stack gap="1">
        <Input
          name={`config.${path}`}
          size="sm"
          value={current}
          placeholder={kinds ? t("{kinds} connection id", { kinds }) : t("connection id")}
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
  const none = kinds ? t("no {kinds} connection defined in Airflow", { kinds }) : t("no connection defined in Airflow");
  return (
    <NativeSelect.Root size="sm" disabled={ctx.readOnly}>
      <NativeSelect.Field
        name={`config.${path}`}
        value={current}
        onChange={(e) => onChange(e.target.value === "" ? undefined : e.target.value)}
      >
        <option value="">{ctx.connections === null ? t("loading connections…") : options.length ? t("— choose a connection —") : none}</option>
        {current && !ids.includes(current) && <option value={current}>{t("{connection} (not found)", { connection: current })}</option>}
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
  const t = useT();
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
        {checked ? t("yes") : t("no")}
      </Checkbox.Label>
    </Checkbox.Root>
  );
}

function EnumControl({ field, value, onChange, path, ctx }: FieldRowProps) {
  const t = useT();
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
        {(index < 0 || field.nullable || !field.required) && <option value="">{field.nullable ? t("(none)") : t("— choose —")}</option>}
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

function StringListControl({ field, value, onChange, path, port, errors, ctx }: FieldRowProps) {
  const t = useT();
  const items = Array.isArray(value) ? value.map((v) => (typeof v === "string" ? v : String(v))) : [];
  const isColumns = field.widget === "columns" || field.itemWidget === "column";
  const columns = isColumns ? offeredColumns(ctx.columns, port) : null;
  const suggestions = columns ? columns.filter((c) => !items.includes(c.name)) : [];
  const update = (next: string[]) => onChange(next.length ? next : field.nullable ? undefined : []);
  return (
    <Stack gap="1" data-testid={`list-${path}`}>
      {items.map((item, i) => {
        const itemMessages = errorsAt(errors, `${path}.${i}`, true);
        const setItem = (text: string) => update(items.map((x, j) => (j === i ? text : x)));
        return (
          <Stack key={i} gap="0.5" data-field={`${path}.${i}`}>
            <HStack gap="1" align="start">
              {columns ? (
                <ColumnPicker name={`config.${path}.${i}`} value={item} columns={columns} readOnly={ctx.readOnly} invalid={itemMessages.some(isError)} onChange={setItem} />
              ) : (
                <Input size="sm" name={`config.${path}.${i}`} value={item} readOnly={ctx.readOnly} autoComplete="off" aria-invalid={itemMessages.some(isError) || undefined} onChange={(e) => setItem(e.target.value)} />
              )}
              {!ctx.readOnly && <CloseButton size="xs" aria-label={t("remove {field} {n}", { field: field.title, n: i + 1 })} onClick={() => update(items.filter((_, j) => j !== i))} />}
            </HStack>
            <FieldMessages messages={itemMessages} />
          </Stack>
        );
      })}
      {!ctx.readOnly && (
        <Wrap gap="1">
          <Button size="xs" variant="outline" onClick={() => update([...items, ""])} aria-label={t("add {field}", { field: field.title })}>
            {isColumns ? t("+ Add column") : t("+ Add")}
          </Button>
          {suggestions.map((c) => (
            <Badge key={c.name} as="button" cursor="pointer" variant="surface" title={c.type ?? undefined} data-column={c.name} onClick={() => update([...items, c.name])}>
              + {c.name}
              {c.type && (
                <Text as="span" color="fg.muted" fontFamily="mono" fontSize="2xs">
                  {c.type}
                </Text>
              )}
            </Badge>
          ))}
        </Wrap>
      )}
      {!items.length && field.hasDefault && field.default === null && (
        <Text fontSize="xs" color="fg.muted">
          {t("empty: the module's default applies")}
        </Text>
      )}
    </Stack>
  );
}

function ObjectListControl({ root, field, value, onChange, path, port, errors, ctx }: FieldRowProps) {
  const t = useT();
  const items = Array.isArray(value) ? (value as Record<string, unknown>[]) : [];
  const itemSchema = (field.schema.items ?? {}) as JsonSchema;
  const union = unionOf(itemSchema, root);
  const update = (next: Record<string, unknown>[]) => onChange(next.length ? next : field.nullable || !field.required ? undefined : []);
  return (
    <Stack gap="2">
      {items.map((item, i) => {
        const current = item && typeof item === "object" ? item : {};
        const setItem = (next: Record<string, unknown>) => update(items.map((x, j) => (j === i ? next : x)));
        const itemPath = `${path}.${i}`;
        return (
          <Box key={i} borderWidth="1px" borderRadius="md" p="2" position="relative" data-testid={`item-${itemPath}`}>
            {!ctx.readOnly && (
              <CloseButton size="2xs" position="absolute" top="1" right="1" aria-label={t("remove {field} {n}", { field: field.title, n: i + 1 })} onClick={() => update(items.filter((_, j) => j !== i))} />
            )}
            <Stack gap="2">
              {union ? (
                <UnionFields root={root} union={union} value={current} onChange={setItem} path={itemPath} port={port} errors={errors} ctx={ctx} />
              ) : (
                <>
                  <FieldMessages messages={errors[itemPath] ?? []} />
                  <ObjectFields root={root} schema={itemSchema} value={current} onChange={setItem} path={itemPath} port={port} errors={errors} ctx={ctx} />
                </>
              )}
            </Stack>
          </Box>
        );
      })}
      {!ctx.readOnly && (
        <Button size="xs" variant="outline" alignSelf="start" onClick={() => update([...items, union ? { [union.property]: union.variants[0].tag } : {}])}>
          {t("+ Add {item}", { item: field.title.toLowerCase() })}
        </Button>
      )}
    </Stack>
  );
}

/** One item of a list of tagged models (a quality check): the tag as a select, then that variant's fields. */
function UnionFields({ root, union, value, onChange, path, port, errors, ctx }: Omit<ObjectFieldsProps, "schema" | "skip"> & { union: UnionSpec }) {
  const t = useT();
  const variant = variantOf(union, value);
  const tagPath = `${path}.${union.property}`;
  const tagField = objectFields(variant?.schema ?? union.variants[0].schema, root).find((f) => f.key === union.property);
  const scoped = variant ? untagErrors(errors, path, String(variant.tag)) : errors;
  const choose = (index: number) => {
    const next = union.variants[index];
    const keep = Object.fromEntries(Object.entries(value).filter(([k]) => k !== union.property && k in ((next.schema.properties as JsonSchema) ?? {})));
    onChange({ [union.property]: next.tag, ...keep });
  };
  return (
    <>
      <Field.Root required invalid={(scoped[tagPath] ?? []).some(isError)} disabled={ctx.readOnly} data-field={tagPath} gap="1">
        <Field.Label fontSize="sm">{tagField?.title ?? union.property}</Field.Label>
        <NativeSelect.Root size="sm" disabled={ctx.readOnly}>
          <NativeSelect.Field name={`config.${tagPath}`} value={variant ? String(union.variants.indexOf(variant)) : ""} onChange={(e) => e.target.value !== "" && choose(Number(e.target.value))}>
            {!variant && <option value="">{t("— choose —")}</option>}
            {union.variants.map((v, i) => (
              <option key={i} value={String(i)}>
                {String(v.tag)}
              </option>
            ))}
          </NativeSelect.Field>
          <NativeSelect.Indicator />
        </NativeSelect.Root>
        {variant && tagField?.description && (
          <Field.HelperText fontSize="xs" color="fg.muted">
            {tagField.description}
          </Field.HelperText>
        )}
        <FieldMessages messages={[...(scoped[path] ?? []), ...(scoped[tagPath] ?? [])]} />
      </Field.Root>
      {variant && <ObjectFields root={root} schema={variant.schema} value={value} onChange={onChange} path={path} port={port} errors={scoped} ctx={ctx} skip={union.property} />}
    </>
  );
}

function NestedObjectControl({ root, field, value, onChange, path, port, errors, ctx }: FieldRowProps) {
  const current = value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  return (
    <Stack gap="2" borderLeftWidth="2px" pl="3" w="full">
      <ObjectFields
        root={root}
        schema={field.schema}
        value={current}
        onChange={(next) => onChange(Object.keys(next).length ? next : undefined)}
        path={path}
        port={port}
        errors={errors}
        ctx={ctx}
      />
    </Stack>
  );
}

function JsonControl({ value, onChange, path, ctx }: FieldRowProps) {
  const t = useT();
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
      placeholder={t("JSON value or text")}
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
