// JSON Schema → form field descriptions. Covers what Pydantic emits for module configs: scalars, enums,
// lists, nested models ($ref), and Optional[...] (anyOf with null). Anything else falls back to JSON text.
import type { JsonSchema } from "../api/types";

export type FieldKind =
  | "string"
  | "number"
  | "integer"
  | "boolean"
  | "enum"
  | "stringArray"
  | "objectArray"
  | "object"
  | "json";

/**
 * `column`: names an input column (a picker of the input's columns); `columns`: a list of them;
 * `new-column`: a name the node creates (free text, the input's names as suggestions);
 * `sql` / `sql-expression`: SQL text over the input columns.
 */
export type Widget = "connection" | "column" | "columns" | "new-column" | "path" | "text" | "sql" | "sql-expression" | null;

export interface FieldSpec {
  key: string;
  kind: FieldKind;
  title: string;
  description: string | null;
  required: boolean;
  nullable: boolean;
  default: unknown;
  hasDefault: boolean;
  /** The schema after resolving $ref and unwrapping Optional[...]. */
  schema: JsonSchema;
  enumValues: unknown[];
  widget: Widget;
  connTypes: string[];
  /** Item widget for lists (`column` items make a `columns` picker). */
  itemWidget: Widget;
  /** `x-logidata-port`: the input whose columns this field (and what it holds) names; null: every input. */
  port: string | null;
  /** `x-logidata-when`: sibling field -> the values for which this field applies (its default when unset). */
  when: Record<string, unknown[]> | null;
  /** `x-logidata-when-remote`: the sibling path field; this field applies to object-storage URIs only. */
  whenRemote: string | null;
}

const isObject = (v: unknown): v is JsonSchema => typeof v === "object" && v !== null && !Array.isArray(v);

/** Follow local `$ref`s (`#/$defs/CsvOptions`), keeping sibling keywords (description, default). */
export function resolve(schema: JsonSchema, root: JsonSchema): JsonSchema {
  let current = schema;
  for (let depth = 0; depth < 20 && typeof current.$ref === "string"; depth += 1) {
    const ref = current.$ref as string;
    if (!ref.startsWith("#/")) break;
    let target: unknown = root;
    for (const part of ref.slice(2).split("/")) target = isObject(target) ? target[part.replace(/~1/g, "/").replace(/~0/g, "~")] : undefined;
    if (!isObject(target)) break;
    const { $ref: _ignored, ...siblings } = current;
    current = { ...target, ...siblings };
  }
  return current;
}

/** Optional[X] is `anyOf: [X, {type: null}]`: returns X and whether null is allowed. */
export function unwrapNullable(schema: JsonSchema, root: JsonSchema): { schema: JsonSchema; nullable: boolean } {
  const resolved = resolve(schema, root);
  const variants = (resolved.anyOf ?? resolved.oneOf) as JsonSchema[] | undefined;
  if (Array.isArray(variants)) {
    const nonNull = variants.filter((v) => !(isObject(v) && v.type === "null"));
    if (nonNull.length === 1 && nonNull.length < variants.length) {
      const { anyOf: _a, oneOf: _o, ...outer } = resolved;
      return { schema: { ...resolve(nonNull[0], root), ...outer }, nullable: true };
    }
  }
  if (Array.isArray(resolved.type) && resolved.type.includes("null")) {
    const types = (resolved.type as string[]).filter((t) => t !== "null");
    return { schema: { ...resolved, type: types.length === 1 ? types[0] : types }, nullable: true };
  }
  return { schema: resolved, nullable: false };
}

function widgetOf(schema: JsonSchema): Widget {
  const w = schema["x-logidata-widget"];
  return typeof w === "string" ? (w as Widget) : null;
}

export function classify(schema: JsonSchema, root: JsonSchema): FieldKind {
  if (Array.isArray(schema.enum)) return "enum";
  if (schema.const !== undefined) return "enum";
  switch (schema.type) {
    case "string":
      return "string";
    case "number":
      return "number";
    case "integer":
      return "integer";
    case "boolean":
      return "boolean";
    case "object":
      return isObject(schema.properties) ? "object" : "json";
    case "array": {
      const items = isObject(schema.items) ? unwrapNullable(schema.items, root).schema : {};
      if (items.type === "string" && !Array.isArray(items.enum)) return "stringArray";
      if (items.type === "object" && isObject(items.properties)) return "objectArray";
      if (unionOf(items, root)) return "objectArray";
      return "json";
    }
    default:
      return "json";
  }
}

const humanize = (key: string): string => key.split("_").filter(Boolean).map((w) => w[0].toUpperCase() + w.slice(1)).join(" ") || key;

function refersToModel(raw: JsonSchema, root: JsonSchema): boolean {
  if (typeof raw.$ref === "string") return true;
  const variants = (raw.anyOf ?? raw.oneOf) as JsonSchema[] | undefined;
  return Array.isArray(variants) && variants.some((v) => isObject(v) && typeof v.$ref === "string" && resolve(v, root).type === "object");
}

export function describeField(key: string, raw: JsonSchema, root: JsonSchema, required: boolean): FieldSpec {
  const { schema, nullable } = unwrapNullable(raw, root);
  const kind = classify(schema, root);
  const items = isObject(schema.items) ? unwrapNullable(schema.items, root).schema : null;
  const itemWidget = items ? widgetOf(items) : null;
  let widget = widgetOf(schema) ?? widgetOf(raw);
  if (!widget && kind === "stringArray" && itemWidget === "column") widget = "columns";
  // The contract says `x-logidata-conn-types` (a list); module packs may also write one `x-logidata-conn-type`.
  const connTypes = schema["x-logidata-conn-types"] ?? raw["x-logidata-conn-types"] ?? schema["x-logidata-conn-type"] ?? raw["x-logidata-conn-type"];
  const port = schema["x-logidata-port"] ?? raw["x-logidata-port"];
  return {
    key,
    kind,
    // A $ref'd model's own title is its class name ("CsvOptions"): the property name reads better there.
    title: typeof raw.title === "string" ? raw.title : typeof schema.title === "string" && !refersToModel(raw, root) ? schema.title : humanize(key),
    description: typeof schema.description === "string" ? schema.description : null,
    required,
    nullable,
    default: "default" in raw ? raw.default : schema.default,
    hasDefault: "default" in raw || "default" in schema,
    schema,
    enumValues: Array.isArray(schema.enum) ? schema.enum : schema.const !== undefined ? [schema.const] : [],
    widget,
    connTypes: (Array.isArray(connTypes) ? connTypes : [connTypes]).filter((t): t is string => typeof t === "string"),
    itemWidget,
    port: typeof port === "string" ? port : null,
    when: whenOf(schema["x-logidata-when"] ?? raw["x-logidata-when"]),
    whenRemote: typeof (schema["x-logidata-when-remote"] ?? raw["x-logidata-when-remote"]) === "string" ? ((schema["x-logidata-when-remote"] ?? raw["x-logidata-when-remote"]) as string) : null,
  };
}

function whenOf(raw: unknown): Record<string, unknown[]> | null {
  if (!isObject(raw)) return null;
  const found = Object.entries(raw).filter(([, v]) => Array.isArray(v)) as [string, unknown[]][];
  return found.length ? Object.fromEntries(found) : null;
}

/** A URI with a scheme (s3://, gs://, ...): object storage rather than a local path. */
export const isRemotePath = (path: unknown): boolean => typeof path === "string" && /^[a-z][a-z0-9+.-]*:\/\//i.test(path.trim());

/** Whether a field applies to the object as it is: its conditions on sibling fields (their defaults when
 * unset) hold. A field holding a value of its own is always shown, so nothing set is ever hidden. */
export function applies(field: FieldSpec, value: Record<string, unknown>, siblings: FieldSpec[]): boolean {
  const own = value[field.key];
  if (own !== undefined && own !== null && own !== "" && !(field.hasDefault && own === field.default)) return true;
  if (field.whenRemote && !isRemotePath(value[field.whenRemote])) return false;
  for (const [key, allowed] of Object.entries(field.when ?? {})) {
    const sibling = siblings.find((f) => f.key === key);
    const current = value[key] !== undefined ? value[key] : sibling?.default;
    if (!allowed.includes(current)) return false;
  }
  return true;
}

/** The fields of an object schema, in declaration order. */
export function objectFields(schema: JsonSchema, root: JsonSchema): FieldSpec[] {
  const resolved = resolve(schema, root);
  const props = isObject(resolved.properties) ? resolved.properties : {};
  const required = new Set(Array.isArray(resolved.required) ? (resolved.required as string[]) : []);
  return Object.entries(props)
    .filter(([, v]) => isObject(v))
    .map(([key, v]) => describeField(key, v as JsonSchema, root, required.has(key)));
}

/** Client-side hints before the server validates: required fields left empty. */
export function missingRequired(schema: JsonSchema, value: Record<string, unknown>): string[] {
  return objectFields(schema, schema)
    .filter((f) => f.required && (value[f.key] === undefined || value[f.key] === null || value[f.key] === ""))
    .map((f) => f.key);
}

/** Set or remove a key without mutating: removing lets the server apply the model's default. */
export function setKey(value: Record<string, unknown>, key: string, next: unknown): Record<string, unknown> {
  const copy = { ...value };
  if (next === undefined) delete copy[key];
  else copy[key] = next;
  return copy;
}

/** One alternative of a tagged union of objects (a quality check: `not_null`, `range`, ...). */
export interface UnionVariant {
  tag: string | number | boolean;
  schema: JsonSchema;
}

export interface UnionSpec {
  /** The property whose constant value tells the variants apart (`type`). */
  property: string;
  variants: UnionVariant[];
}

const constOf = (schema: unknown): UnionVariant["tag"] | undefined => {
  if (!isObject(schema)) return undefined;
  const value = schema.const ?? (Array.isArray(schema.enum) && schema.enum.length === 1 ? schema.enum[0] : undefined);
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean" ? value : undefined;
};

/**
 * A `oneOf`/`anyOf` of object models told apart by one constant property (Pydantic's discriminated
 * unions), or null. The property is the schema's `discriminator`, else one every variant fixes.
 */
export function unionOf(schema: JsonSchema, root: JsonSchema): UnionSpec | null {
  const resolved = resolve(schema, root);
  const branches = resolved.oneOf ?? resolved.anyOf;
  if (!Array.isArray(branches) || branches.length < 2) return null;
  const models = branches.map((b) => (isObject(b) ? resolve(b, root) : null));
  if (models.some((m) => !m || m.type !== "object" || !isObject(m.properties))) return null;
  const objects = models as (JsonSchema & { properties: JsonSchema })[];
  const named = isObject(resolved.discriminator) ? resolved.discriminator.propertyName : undefined;
  const candidates = typeof named === "string" ? [named] : Object.keys(objects[0].properties);
  for (const property of candidates) {
    const tags = objects.map((m) => constOf(resolve((m.properties[property] ?? {}) as JsonSchema, root)));
    if (tags.every((t) => t !== undefined) && new Set(tags).size === tags.length) {
      return { property, variants: objects.map((m, i) => ({ tag: tags[i] as UnionVariant["tag"], schema: m })) };
    }
  }
  return null;
}

/** The variant a value is (by its tag), or null. */
export function variantOf(union: UnionSpec, value: unknown): UnionVariant | null {
  const tag = isObject(value) ? value[union.property] : undefined;
  return union.variants.find((v) => v.tag === tag) ?? null;
}

/**
 * The titles leading to a config field, for messages that name it: `checks[1].column` of a quality check
 * → `["Checks #2", "Column"]`. `config` picks the variant of a union item; a tag in the path (Pydantic
 * writes `checks[0].not_null.column`) is skipped. Null when the schema has no such field.
 */
export function fieldTitles(schema: JsonSchema, field: string, config?: unknown): string[] | null {
  const parts = field.replace(/\[(\d+)\]/g, ".$1").split(".").filter(Boolean);
  const titles: string[] = [];
  let current: JsonSchema = schema;
  let value: unknown = config;
  for (let i = 0; i < parts.length; i += 1) {
    const part = parts[i];
    const union = unionOf(current, schema);
    if (union) {
      const tagged = union.variants.find((v) => String(v.tag) === part);
      if (tagged) {
        current = tagged.schema;
        continue;
      }
      const variant = variantOf(union, value) ?? union.variants.find((v) => isObject(v.schema.properties) && part in v.schema.properties);
      if (!variant) return null;
      current = variant.schema;
    }
    if (/^\d+$/.test(part)) {
      const list = unwrapNullable(current, schema).schema;
      if (!isObject(list.items)) return null;
      const n = `#${Number(part) + 1}`;
      if (titles.length) titles[titles.length - 1] += ` ${n}`;
      else titles.push(n);
      current = list.items;
      value = Array.isArray(value) ? value[Number(part)] : undefined;
      continue;
    }
    const found = objectFields(unwrapNullable(current, schema).schema, schema).find((f) => f.key === part);
    if (!found) return null;
    titles.push(found.title);
    current = found.schema;
    value = isObject(value) ? value[part] : undefined;
  }
  return titles.length ? titles : null;
}
