// @vitest-environment node
// The French catalog against the source: every text the builder asks to translate has a French entry with
// the same placeholders, and the catalog holds nothing the source no longer asks for.
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { STATE_PALETTE } from "../src/components";
import { FR, FR_STATES, typography } from "../src/i18n/fr";
import { placeholders, readLiteral, scanSource, scanSources } from "./i18n-keys";

const scan = scanSources(fileURLToPath(new URL("../src", import.meta.url)));
const used = new Map<string, string[]>();
for (const { key, file } of scan.keys) used.set(key, [...(used.get(key) ?? []), file]);

describe("the scanner", () => {
  it("reads literals as the source writes them", () => {
    expect(readLiteral(`  "a \\"b\\" c"`, 0)?.value).toBe('a "b" c');
    expect(readLiteral(`'say "{id}"' + x`, 0)?.value).toBe('say "{id}"');
    expect(readLiteral("`plain`", 0)?.value).toBe("plain");
    expect(readLiteral("`with ${x}`", 0)).toBeNull();
    expect(readLiteral("label", 0)).toBeNull();
  });

  it("finds t() and t.plural() keys and reports keys that are not literals", () => {
    const found = scanSource(
      [
        `const a = t("Save draft");`,
        `x.t("not ours"); format(t); const b = t.plural(list.filter((n) => n > 1).length, "{count} problem", "{count} problems", { n });`,
        `const c = t(label);`,
      ].join("\n"),
      "f.ts",
    );
    expect(found.keys.map((k) => k.key)).toEqual(["Save draft", "{count} problem", "{count} problems"]);
    expect(found.dynamic).toHaveLength(1);
  });

  it("sees the builder's texts", () => {
    expect(used.has("Save draft")).toBe(true);
    expect(used.has("{count} problems")).toBe(true);
    expect(used.size).toBeGreaterThan(300);
  });
});

describe("the French catalog", () => {
  it("asks only for literal keys (a computed one could not be checked)", () => {
    expect(scan.dynamic).toEqual([]);
  });

  it("has every text the source uses", () => {
    const missing = [...used.keys()].filter((key) => !(key in FR)).map((key) => `${key}  (${used.get(key)?.join(", ")})`);
    expect(missing).toEqual([]);
  });

  it("keeps each text's placeholders", () => {
    const differ = Object.entries(FR)
      .filter(([english, french]) => placeholders(english).join() !== placeholders(french).join())
      .map(([english, french]) => `${english} → ${french}`);
    expect(differ).toEqual([]);
  });

  it("holds no text the source no longer uses", () => {
    expect(Object.keys(FR).filter((key) => !used.has(key))).toEqual([]);
  });

  it("counts with {count} in both forms of a plural", () => {
    const pairs = scan.keys.filter((k) => k.pluralOf !== undefined);
    expect(pairs.filter((k) => !placeholders(k.key).includes("count")).map((k) => k.key)).toEqual([]);
  });

  it("has no empty entry and uses French spacing before : ; ? ! and inside « »", () => {
    for (const [english, french] of Object.entries(FR)) {
      expect(french.trim(), english).not.toBe("");
      expect(french, english).not.toMatch(/ [:;?!»]|« /);
    }
    expect(typography("Supprimer « x » ? Oui : non ; bien !")).toBe("Supprimer «\u00a0x\u00a0»\u202f? Oui\u00a0: non\u202f; bien\u202f!");
  });

  it("names every Airflow state the builder colours", () => {
    expect(Object.keys(STATE_PALETTE).filter((state) => !(state in FR_STATES))).toEqual([]);
    expect(FR_STATES.none).toBeTruthy();
  });
});
