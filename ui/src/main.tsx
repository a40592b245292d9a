import { ChakraProvider, defaultSystem } from "@chakra-ui/react";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { adoptTopRoute } from "./router";
import { applyColorMode, preferredColorMode } from "./theme";

// Inside Airflow's "Pipelines" page, open the pipeline its address names (bookmark, return from login).
adoptTopRoute();

// Before the first paint, so a dark Airflow never flashes a white iframe.
applyColorMode(preferredColorMode());

createRoot(document.getElementById("root") as HTMLElement).render(
  <StrictMode>
    <ChakraProvider value={defaultSystem}>
      <App />
    </ChakraProvider>
  </StrictMode>,
);
