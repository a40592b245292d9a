import { ChakraProvider } from "@chakra-ui/react";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { followAirflowAccent } from "./accent";
import { App } from "./App";
import { applyLanguage, preferredLanguage } from "./i18n";
import { adoptTopRoute } from "./router";
import { system } from "./system";
import { applyColorMode, preferredColorMode } from "./theme";

// Inside Airflow's "Pipelines" page, open the pipeline its address names (bookmark, return from login).
adoptTopRoute();

// Before the first paint, so a dark Airflow never flashes a white iframe.
applyColorMode(preferredColorMode());
applyLanguage(preferredLanguage());
void followAirflowAccent();

createRoot(document.getElementById("root") as HTMLElement).render(
  <StrictMode>
    <ChakraProvider value={system}>
      <App />
    </ChakraProvider>
  </StrictMode>,
);
