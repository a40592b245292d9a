import { Box, Center, Spinner } from "@chakra-ui/react";
import { lazy, Suspense, useEffect, useState } from "react";
import { api, ApiError, onUnauthorized } from "./api/client";
import type { Me } from "./api/types";
import { ErrorBox, SessionExpired } from "./components";
import { applyLanguage, useLanguage, useT } from "./i18n";
import { PipelinesPage } from "./pages/PipelinesPage";
import { mirrorRoute, useRoute } from "./router";
import { applyColorMode, useColorMode } from "./theme";

// The canvas (React Flow and the forms) is only fetched when a pipeline is opened.
const EditorPage = lazy(() => import("./pages/EditorPage"));

export function App() {
  const route = useRoute();
  const mode = useColorMode();
  const language = useLanguage();
  const t = useT();
  const [me, setMe] = useState<Me | null>(null);
  const [meError, setMeError] = useState<unknown>(null);
  const [expired, setExpired] = useState(false);

  useEffect(() => applyColorMode(mode), [mode]);
  useEffect(() => applyLanguage(language), [language]);
  // The tab's title when the builder has a tab of its own (index.html's is the English one).
  useEffect(() => {
    document.title = t("LogiData pipelines");
  }, [t]);
  const routeKey = route.page === "pipeline" ? route.id : "";
  const routeNode = route.page === "pipeline" ? (route.node ?? null) : null;
  useEffect(
    () => mirrorRoute(route.page === "pipeline" ? { page: "pipeline", id: routeKey, node: routeNode } : { page: "list" }),
    [route.page, routeKey, routeNode],
  );
  useEffect(() => onUnauthorized(() => setExpired(true)), []);
  useEffect(() => {
    api.me().then(setMe, (e: unknown) => {
      if (!(e instanceof ApiError && e.status === 401)) setMeError(e);
    });
  }, []);

  if (expired) return <SessionExpired />;
  if (meError) return <Box p="4"><ErrorBox error={meError} title={t("The LogiData API did not answer")} /></Box>;
  if (!me) {
    return (
      <Center h="100vh">
        <Spinner />
      </Center>
    );
  }
  return (
    <Box h="100vh" bg="bg" color="fg" data-color-mode={mode}>
      {route.page === "pipeline" ? (
        <Suspense fallback={<Center h="100vh"><Spinner /></Center>}>
          <EditorPage key={route.id} pipelineId={route.id} node={route.node ?? null} canEdit={me.can_edit} canRun={me.can_run} llm={me.llm} username={me.username} />
        </Suspense>
      ) : (
        <PipelinesPage canEdit={me.can_edit} username={me.username} />
      )}
    </Box>
  );
}
