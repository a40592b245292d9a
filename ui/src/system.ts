// The builder's Chakra system: Chakra's defaults plus Airflow's `brand` palette, so primary actions wear
// the accent colour Airflow shows (accent.ts sets the shades' CSS variables; until then, Airflow's default).
import { createSystem, defaultConfig, defineConfig } from "@chakra-ui/react";
import { AIRFLOW_BRAND, accentVariable, BRAND_SHADES } from "./accent";

const brandTokens = Object.fromEntries(BRAND_SHADES.map((shade) => [shade, { value: `var(${accentVariable(shade)}, ${AIRFLOW_BRAND[shade]})` }]));

// As Airflow defines its palettes (solid 600, fg 800/200, ...), so a brand button looks like Airflow's.
const brandSemantic = {
  solid: { value: "{colors.brand.600}" },
  contrast: { value: { _light: "white", _dark: "white" } },
  fg: { value: { _light: "{colors.brand.800}", _dark: "{colors.brand.200}" } },
  muted: { value: { _light: "{colors.brand.200}", _dark: "{colors.brand.800}" } },
  subtle: { value: { _light: "{colors.brand.100}", _dark: "{colors.brand.900}" } },
  emphasized: { value: { _light: "{colors.brand.300}", _dark: "{colors.brand.700}" } },
  focusRing: { value: { _light: "{colors.brand.800}", _dark: "{colors.brand.200}" } },
};

export const system = createSystem(
  defaultConfig,
  defineConfig({ theme: { tokens: { colors: { brand: brandTokens } }, semanticTokens: { colors: { brand: brandSemantic } } } }),
);
