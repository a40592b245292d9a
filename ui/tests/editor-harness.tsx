// The editor of pipeline `orders` as a user with edit and run rights opens it, ready once it shows "Save draft".
import { ChakraProvider, defaultSystem } from "@chakra-ui/react";
import { render, screen } from "@testing-library/react";
import EditorPage from "../src/pages/EditorPage";

export async function openEditor(): Promise<void> {
  render(
    <ChakraProvider value={defaultSystem}>
      <EditorPage pipelineId="orders" canEdit canRun />
    </ChakraProvider>,
  );
  await screen.findByRole("button", { name: "Save draft" });
}
