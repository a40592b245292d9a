// Names the preview and suggestion code uses for the API's shapes (docs/preview-api.md), derived from the
// generated `schema.d.ts` like `api/types.ts`, so a contract change shows up as a type error.
import type { components } from "../api/schema";

type Schemas = components["schemas"];

/** A JSON-safe cell as the API encodes it (dates ISO strings, decimals strings, binary a placeholder). */
export type Cell = unknown;

export type PreviewColumn = Schemas["PreviewColumn"];
export type Histogram = Schemas["Histogram"];
export type TopValue = Schemas["TopValue"];
export type ColumnProfile = Schemas["ColumnProfile"];
export type PreviewInput = Schemas["PreviewInput"];
export type Preview = Schemas["Preview"];
export type RowStatus = NonNullable<Preview["row_status"]>[number];
export type PreviewRequest = Schemas["PreviewBody"];
export type Sampling = PreviewRequest["sampling"];

export type SuggestedNode = Schemas["ProposedNode"];
export type SuggestionEffect = Schemas["Effect"];
export type Suggestion = Schemas["Suggestion"];
export type Suggestions = Schemas["SuggestionList"];
export type Described = Schemas["DescribeResult"];

/** One changed cell of `Effect.examples` (the API types it as a loose object). */
export interface EffectExample {
  column: string;
  before: Cell;
  after: Cell;
}
